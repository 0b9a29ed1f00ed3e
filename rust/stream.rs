// SPDX-License-Identifier: GPL-2.0

//! Writing an image stream: framing, accounting, buffering and object ids.
//!
//! The format itself is defined in [`crate::image`]; this file only puts records on a
//! [`Sink`] in order, keeps the [`StreamAccount`] that the closing [`End`] record carries,
//! and hands out object ids (Linux-CR's "objhash").

use crate::image::{self, Enc, End, Hasher, ImageError, Record, RecordHeader, StreamAccount};
use crate::shim::{FileRef, HeldPages};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{prelude::*, rbtree::RBTree};

/// Where image bytes go.
pub(crate) trait Sink {
    /// Writes all of `buf` or fails.
    fn put(&mut self, buf: &[u8]) -> Result;

    /// Whether the bytes go to memory anyway (then they are never spooled: see
    /// [`ImageWriter::spool`]).
    fn in_memory(&self) -> bool {
        false
    }
}

impl Sink for FileRef {
    fn put(&mut self, buf: &[u8]) -> Result {
        self.write_all(buf)
    }
}

/// Maps an image encoding error to an errno (a bug in the writer, or a value that
/// the format cannot hold).
pub(crate) fn encode_errno(e: ImageError) -> Error {
    pr_err!("image encoding failed: {}\n", e.describe());
    EINVAL
}

const OUT_BUF: usize = 256 * 1024;
const SCRATCH: usize = 64 * 1024;

/// The fewest pages of a page record whose copy is offered to another CPU.
const OFFLOAD_PAGES: usize = 64;

/// Pages copied in one go by one CPU when two share the copy of spooled records.
const COPY_RUN: usize = 32;

/// Copies the `pages` (`n` bytes) to the end of `dst`, which has room for them,
/// hashing each word as it is copied into `h`: what is hashed is the copy.
fn copy_hash(pages: &HeldPages, dst: &mut KVVec<u8>, n: usize, h: &mut Hasher) {
    let t = crate::timing::sub_start();
    let spare = dst.spare_capacity_mut();
    for i in 0..pages.len() {
        let copy = &mut spare[i * image::PAGE_SIZE..(i + 1) * image::PAGE_SIZE];
        pages.copy_hash_page(i, copy, h);
    }
    // SAFETY: The copies above initialized the first `n` bytes of the spare
    // capacity (`pages.len()` whole pages), which the caller made at least `n`.
    unsafe { dst.inc_len(n) };
    crate::timing::sub_end(crate::timing::Sub::Copy, t);
}

/// Image bytes kept in memory instead of written, while the processes are held,
/// so that they run again before the (slower) writes: the writes of a process
/// that is left running happen after it was released ([`ImageWriter::spool`]).
pub(crate) struct Spool {
    /// The bytes, in order (moved in, not copied, where they already are in a
    /// buffer of their own).
    chunks: KVec<KVVec<u8>>,
    /// Their total.
    bytes: usize,
    /// The most bytes kept (0: none); beyond, the chunks are written and the
    /// rest goes straight to the sink.
    budget: usize,
    /// Buffers for page records, allocated before the processes were held, so
    /// that their allocation is not part of the time they are held.
    free: KVec<KVVec<u8>>,
}

impl Spool {
    /// A spool of at most `budget` bytes (0: none), with buffers for about
    /// `estimate` bytes of pages (one per [`image::MAX_PAGES_PER_RECORD`] pages).
    pub(crate) fn new(budget: usize, estimate: u64) -> Self {
        let mut free = KVec::new();
        if budget > 0 {
            let rec = image::MAX_PAGES_PER_RECORD as usize * image::PAGE_SIZE;
            let want = (estimate.min(budget as u64) as usize).div_ceil(rec);
            for _ in 0..want {
                // Fewer buffers than wanted only cost their allocation later.
                let Ok(b) = KVVec::with_capacity(rec, GFP_KERNEL_ACCOUNT | __GFP_NOWARN) else {
                    break;
                };
                if free.push(b, GFP_KERNEL).is_err() {
                    break;
                }
            }
        }
        Self {
            chunks: KVec::new(),
            bytes: 0,
            budget,
            free,
        }
    }
}

/// Writes records to a [`Sink`], buffering small writes.
pub(crate) struct ImageWriter<'a> {
    sink: &'a mut dyn Sink,
    account: StreamAccount,
    scratch: KVVec<u8>,
    out: KVVec<u8>,
    /// The copy of the pages of the record being written, or of [`ImageWriter::pending`]'s.
    pages: KVVec<u8>,
    /// A page record copied (and sealed) but not written yet: its header and
    /// leading parts; its pages are in `pages`. It is written as the next record's
    /// pages are copied, on two CPUs where there are two (see
    /// [`ImageWriter::record_with_pages`]), and before anything else is written.
    pending: Option<(RecordHeader, KVVec<u8>)>,
    /// The buffer the next page record is copied into while `pages` is written.
    next: KVVec<u8>,
    /// Spooled page records whose pages are still to be copied into their chunk
    /// (its index in the spool, the pages, their bytes): all at once, on two CPUs,
    /// by [`ImageWriter::settle`], before the processes run again.
    deferred: KVec<(usize, HeldPages, usize)>,
    /// How many of `deferred` are copied already.
    copied: usize,
    /// Set by [`ImageWriter::spool`].
    spool: Option<Spool>,
    /// Page records kept in the spool whose checks are not computed yet, and the
    /// checks of the records since the first of them ([`Sealing`]).
    sealing: Sealing,
}

/// The checks of spooled page records, computed once the processes run again
/// ([`Spooled::write`]) rather than while they are held: a page record kept in
/// the spool is a copy, which nothing else writes, so its check is the same
/// computed later. From the first such record on, the stream account's chain
/// (which takes each record's check in order) waits for them too.
#[derive(Default)]
struct Sealing {
    /// Whether page records may be sealed later (not for an incremental image,
    /// whose account is wanted at once).
    allowed: bool,
    /// The records whose check is to be computed: the hasher of their header
    /// fields and leading parts, the spool chunk that starts with their header
    /// (and parts), the one that holds their pages, and their place in `tail`.
    pending: KVec<(Hasher, usize, usize, usize)>,
    /// From the first pending record on, each record's kind and check (`None`:
    /// a pending record's, until it is computed).
    tail: KVec<(u16, Option<u32>)>,
}

impl Sealing {
    /// Computes the pending checks into `chunks` (the spool's) and adds the tail
    /// to `account`'s chain.
    fn resolve(&mut self, chunks: &mut [KVVec<u8>], account: &mut StreamAccount) {
        for (h, hdr, pages, at) in self.pending.drain_all() {
            let mut h = h;
            h.update(&chunks[pages]);
            let c = &mut chunks[hdr];
            let mut b = [0u8; image::REC_HDR_LEN];
            b.copy_from_slice(&c[..image::REC_HDR_LEN]);
            let (kind, version, len) = (
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
                u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            );
            let sealed = RecordHeader::seal(kind, version, len, &h);
            c[..image::REC_HDR_LEN].copy_from_slice(&sealed.to_bytes());
            self.tail[at].1 = Some(sealed.check);
        }
        for (kind, check) in self.tail.drain_all() {
            // Every check is known now: those of the pending records were set above.
            account.chain_one(kind, check.unwrap_or_default());
        }
    }
}

/// The end of an image whose bytes were spooled ([`ImageWriter::finish`]):
/// what is left to write.
pub(crate) struct Spooled<'a> {
    sink: &'a mut dyn Sink,
    chunks: KVec<KVVec<u8>>,
    /// Checks still to compute, and the account so far: the [`End`] record
    /// follows the chunks once they are known.
    unsealed: Option<(Sealing, StreamAccount)>,
}

/// The wire form of the [`End`] record of a stream whose account is `account`.
fn end_record(account: StreamAccount) -> Result<([u8; image::REC_HDR_LEN], [u8; 64], usize)> {
    let mut buf = [0u8; 64];
    let mut e = Enc::new(&mut buf);
    End { account }.encode(&mut e).map_err(encode_errno)?;
    let n = e.len();
    let hdr = RecordHeader::for_payload(End::KIND, End::VERSION, &buf[..n]);
    Ok((hdr.to_bytes(), buf, n))
}

impl Spooled<'_> {
    /// Writes the spooled bytes to the sink, freeing each chunk once written;
    /// first computes the checks left for now, and then writes the end record.
    pub(crate) fn write(mut self) -> Result {
        let end = match self.unsealed.take() {
            Some((mut s, mut account)) => {
                s.resolve(&mut self.chunks, &mut account);
                Some(end_record(account)?)
            }
            None => None,
        };
        for c in self.chunks.drain_all() {
            self.sink.put(&c)?;
        }
        if let Some((hdr, buf, n)) = end {
            self.sink.put(&hdr)?;
            self.sink.put(&buf[..n])?;
        }
        Ok(())
    }
}

impl<'a> ImageWriter<'a> {
    /// Starts a stream on `sink` (writes the magic).
    pub(crate) fn new(sink: &'a mut dyn Sink) -> Result<Self> {
        let mut w = Self {
            sink,
            account: StreamAccount::new(),
            scratch: KVVec::from_elem(0u8, SCRATCH, GFP_KERNEL)?,
            out: KVVec::with_capacity(OUT_BUF, GFP_KERNEL)?,
            pages: KVVec::new(),
            pending: None,
            next: KVVec::new(),
            deferred: KVec::new(),
            copied: 0,
            spool: None,
            sealing: Sealing::default(),
        };
        w.put(&image::MAGIC)?;
        Ok(w)
    }

    /// From now on, keeps up to `spool`'s budget of bytes in memory (charged to
    /// the caller's memory cgroup) instead of writing them, page records in its
    /// buffers while they last; [`ImageWriter::finish`] hands them over. Beyond the
    /// budget, what was kept is written and so is the rest, as it comes.
    pub(crate) fn spool(&mut self, spool: Spool) -> Result {
        self.drain()?;
        self.spool = (spool.budget > 0).then_some(spool);
        self.sealing.allowed = self.spool.is_some();
        Ok(())
    }

    /// Page records are sealed as they are written, not later (see [`Sealing`]):
    /// for an image whose account is wanted as soon as it is written.
    pub(crate) fn seal_at_once(&mut self) -> Result {
        self.drain()?;
        self.sealing.allowed = false;
        Ok(())
    }

    /// Whether `len` more bytes fit in the spool; if not, writes out what it holds
    /// and ends it.
    fn spool_room(&mut self, len: usize) -> Result<bool> {
        let Some(sp) = self.spool.as_mut() else {
            return Ok(false);
        };
        if sp.bytes + len <= sp.budget {
            sp.bytes += len;
            return Ok(true);
        }
        self.settle()?;
        let Some(sp) = self.spool.as_mut() else {
            return Ok(false);
        };
        let mut chunks = core::mem::take(&mut sp.chunks);
        // (The unused buffers go with it.)
        self.spool = None;
        self.sealing.resolve(&mut chunks, &mut self.account);
        self.sealing.allowed = false;
        for c in chunks.iter() {
            self.sink.put(c)?;
        }
        Ok(false)
    }

    /// Writes `chunk` (spooled, moved, if there is room).
    fn put_owned(&mut self, chunk: KVVec<u8>) -> Result {
        if self.spool_room(chunk.len())? {
            if let Some(sp) = self.spool.as_mut() {
                sp.chunks.push(chunk, GFP_KERNEL_ACCOUNT)?;
            }
            return Ok(());
        }
        self.sink.put(&chunk)
    }

    /// Writes `buf` (spooled, copied, if there is room).
    fn put_copy(&mut self, buf: &[u8]) -> Result {
        if self.spool.is_some() {
            let mut c = KVVec::with_capacity(buf.len(), GFP_KERNEL_ACCOUNT)?;
            c.extend_from_slice(buf, GFP_KERNEL_ACCOUNT)?;
            return self.put_owned(c);
        }
        self.sink.put(buf)
    }

    fn put(&mut self, buf: &[u8]) -> Result {
        if self.out.len() + buf.len() > OUT_BUF {
            self.flush()?;
        }
        if buf.len() >= OUT_BUF {
            return self.put_copy(buf);
        }
        self.out.extend_from_slice(buf, GFP_KERNEL)?;
        Ok(())
    }

    fn flush(&mut self) -> Result {
        if self.out.is_empty() {
            return Ok(());
        }
        // Spooled as a copy of its length: most flushes are of a few records'
        // bytes (before each page record), and the spool counts lengths.
        let out = core::mem::take(&mut self.out);
        let r = self.put_copy(&out);
        self.out = out;
        self.out.clear();
        r
    }

    /// Writes one record.
    pub(crate) fn record<'r, R: Record<'r>>(&mut self, r: &R) -> Result {
        crate::fault::step(crate::fault::Op::Checkpoint, "a record")?;
        self.drain()?;
        let n = loop {
            let mut e = Enc::new(&mut self.scratch);
            match r.encode(&mut e) {
                Ok(()) => break e.len(),
                Err(ImageError::Overflow)
                    if self.scratch.len() < image::MAX_RECORD_LEN as usize =>
                {
                    let bigger = (self.scratch.len() * 2).min(image::MAX_RECORD_LEN as usize);
                    self.scratch.resize(bigger, 0, GFP_KERNEL)?;
                }
                Err(e) => return Err(encode_errno(e)),
            }
        };
        let hdr = RecordHeader::for_payload(R::KIND, R::VERSION, &self.scratch[..n]);
        let scratch = core::mem::take(&mut self.scratch);
        let res = self.emit(&hdr, &[&scratch[..n]]);
        self.scratch = scratch;
        res
    }

    /// Writes one record whose payload is `parts` followed by the contents of `pages`.
    /// Each page is copied once, each word hashed as it is copied, and the copy is
    /// what is written: a page
    /// that something else writes meanwhile (memory shared with a process that runs,
    /// `process_vm_writev`, I/O in flight) cannot make the record's check wrong.
    pub(crate) fn record_with_pages(
        &mut self,
        kind: u16,
        version: u16,
        parts: &[&[u8]],
        pages: &mut HeldPages,
    ) -> Result {
        crate::fault::step(crate::fault::Op::Checkpoint, "a page record")?;
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + pages.len() * image::PAGE_SIZE;
        if len > image::MAX_RECORD_LEN as usize {
            return Err(EINVAL);
        }
        let mut h = RecordHeader::hasher(kind, version, len as u32);
        for p in parts {
            h.update(p);
        }
        let n = pages.len() * image::PAGE_SIZE;
        let room = self.out.len() + image::REC_HDR_LEN + len;
        if self.sealing.allowed
            && len - n + image::REC_HDR_LEN < OUT_BUF
            && self
                .spool
                .as_ref()
                .is_some_and(|sp| sp.bytes + room <= sp.budget)
        {
            return self.spool_unsealed(kind, version, len, h, parts, pages);
        }
        if self.spool.is_some() {
            // Spooled past the budget's check above (nothing is pending while
            // there is a spool): copied here, kept as it is.
            let mut copy = match self.spool.as_mut().and_then(|s| s.free.pop()) {
                Some(b) if b.capacity() >= n => b,
                _ => KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?,
            };
            copy.clear();
            copy_hash(pages, &mut copy, n, &mut h);
            let hdr = RecordHeader::seal(kind, version, len as u32, &h);
            self.emit(&hdr, parts)?;
            self.flush()?;
            let t = crate::timing::sub_start();
            let r = self.put_owned(copy);
            crate::timing::sub_end(crate::timing::Sub::Write, t);
            return r;
        }
        // This record's pages are copied (and hashed) while the previous page
        // record, copied before, is written: the copy is offered to another CPU.
        // Small records are not worth a work item.
        let mut fill = core::mem::take(&mut self.next);
        fill.clear();
        fill.reserve(n, GFP_KERNEL_ACCOUNT)?;
        let mut lead = KVVec::new();
        for p in parts {
            lead.extend_from_slice(p, GFP_KERNEL)?;
        }
        let written = if self.pending.is_some() && pages.len() >= OFFLOAD_PAGES {
            crate::sys::cpus::both(|| copy_hash(pages, &mut fill, n, &mut h), || self.drain())
        } else {
            let r = self.drain();
            if r.is_ok() {
                copy_hash(pages, &mut fill, n, &mut h);
            }
            r
        };
        written?;
        let hdr = RecordHeader::seal(kind, version, len as u32, &h);
        self.next = core::mem::replace(&mut self.pages, fill);
        self.pending = Some((hdr, lead));
        Ok(())
    }

    /// Writes the [`ImageWriter::pending`] page record, if any.
    fn drain(&mut self) -> Result {
        let Some((hdr, lead)) = self.pending.take() else {
            return Ok(());
        };
        self.emit(&hdr, &[&lead])?;
        self.flush()?;
        let t = crate::timing::sub_start();
        let r = self.sink.put(&self.pages);
        crate::timing::sub_end(crate::timing::Sub::Write, t);
        r
    }

    /// [`ImageWriter::record_with_pages`] into the spool (which has room for it),
    /// its check left for later ([`Sealing`]): the pages are only copied while the
    /// processes are held. `h` has hashed the header fields and `parts`.
    fn spool_unsealed(
        &mut self,
        kind: u16,
        version: u16,
        len: usize,
        h: Hasher,
        parts: &[&[u8]],
        pages: &mut HeldPages,
    ) -> Result {
        let n = pages.len() * image::PAGE_SIZE;
        let mut copy = match self.spool.as_mut().and_then(|s| s.free.pop()) {
            Some(b) if b.capacity() >= n => b,
            _ => KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?,
        };
        copy.clear();
        self.sealing.pending.reserve(1, GFP_KERNEL)?;
        self.sealing.tail.reserve(1, GFP_KERNEL)?;
        self.deferred.reserve(1, GFP_KERNEL)?;
        let held = pages.take()?;
        // The header (check 0 for now) and parts in a chunk of their own.
        self.flush()?;
        let hdr = RecordHeader {
            kind,
            version,
            len: len as u32,
            check: 0,
        };
        self.put(&hdr.to_bytes())?;
        for p in parts {
            self.put(p)?;
        }
        self.flush()?;
        // The pages' chunk, empty until [`ImageWriter::settle`] copies them into it
        // (the caller made sure the spool has room for them).
        let Some(sp) = self.spool.as_mut() else {
            return Err(EINVAL);
        };
        sp.chunks.push(copy, GFP_KERNEL_ACCOUNT)?;
        sp.bytes += n;
        let at = sp.chunks.len();
        self.deferred.push((at - 1, held, n), GFP_KERNEL)?;
        let t = self.sealing.tail.len();
        self.sealing
            .pending
            .push((h, at - 2, at - 1, t), GFP_KERNEL)?;
        self.sealing.tail.push((kind, None), GFP_KERNEL)?;
        self.account.count(&hdr);
        Ok(())
    }

    /// Copies the pages of the [`ImageWriter::deferred`] records not copied yet into
    /// their spool chunks, shared between this CPU and another
    /// ([`crate::sys::cpus::both`]) in runs of [`COPY_RUN`] pages, each CPU taking
    /// the next run not taken yet. Only a plain copy: the checks are computed from
    /// the chunks later ([`Sealing`]). (Copying them while the next pages are
    /// pinned, instead of all at the end, made a 16 MiB process's hold longer.)
    fn copy_deferred(&mut self) -> Result {
        let from = self.copied;
        let Some(sp) = self.spool.as_mut() else {
            return Ok(());
        };
        if from >= self.deferred.len() {
            return Ok(());
        }
        /// Where each record's pages go: the start of its chunk's spare capacity.
        struct Dst(KVec<*mut u8>);
        // SAFETY: The pointers are only written through in disjoint runs, each by
        // the one thread that took the run (see `copy`).
        unsafe impl Sync for Dst {}
        let runs_per = image::MAX_PAGES_PER_RECORD as usize / COPY_RUN;
        let mut dst = Dst(KVec::new());
        for (at, pages, n) in &self.deferred[from..] {
            let ok = match sp.chunks.get_mut(*at) {
                Some(c)
                    if c.capacity() - c.len() >= *n
                        && *n == pages.len() * image::PAGE_SIZE
                        && pages.len() <= runs_per * COPY_RUN =>
                {
                    dst.0
                        .push(c.spare_capacity_mut().as_mut_ptr().cast(), GFP_KERNEL)
                }
                _ => Err(kernel::alloc::AllocError),
            };
            if ok.is_err() {
                // Not to be: copied here, one after the other (no memory for the
                // list, or a record the runs do not cover, which the writer never
                // makes).
                return self.copy_deferred_here();
            }
        }
        let t = crate::timing::sub_start();
        let todo = &self.deferred[from..];
        let dst = &dst;
        let next = AtomicUsize::new(0);
        let copy = || loop {
            let u = next.fetch_add(1, Ordering::Relaxed);
            let (rec, run) = (u / runs_per, u % runs_per);
            let Some((_, pages, _)) = todo.get(rec) else {
                break;
            };
            let first = run * COPY_RUN;
            let last = (first + COPY_RUN).min(pages.len());
            if first >= last {
                continue;
            }
            // SAFETY: `dst.0[rec]` is the start of the spare capacity of record
            // `rec`'s chunk, with room for its pages (checked above); pages
            // `first..last` are a run of them that only this thread took, so the
            // bytes are written by this thread alone while `both` runs, and the
            // chunk is not otherwise used meanwhile.
            let d = unsafe {
                core::slice::from_raw_parts_mut(
                    dst.0[rec]
                        .add(first * image::PAGE_SIZE)
                        .cast::<core::mem::MaybeUninit<u8>>(),
                    (last - first) * image::PAGE_SIZE,
                )
            };
            for (k, page) in d.chunks_exact_mut(image::PAGE_SIZE).enumerate() {
                pages.copy_page_uninit(first + k, page);
            }
        };
        crate::sys::cpus::both(copy, copy);
        self.mark_copied(from);
        crate::timing::sub_end(crate::timing::Sub::Copy, t);
        Ok(())
    }

    /// The deferred records from `from` on have their pages copied: their chunks'
    /// lengths say so.
    fn mark_copied(&mut self, from: usize) {
        if let Some(sp) = self.spool.as_mut() {
            for (at, _, n) in &self.deferred[from..] {
                if let Some(c) = sp.chunks.get_mut(*at) {
                    // SAFETY: The copy filled the first `n` bytes of the chunk's
                    // spare capacity, which had room for them.
                    unsafe { c.inc_len(*n) };
                }
            }
        }
        self.copied = self.deferred.len();
    }

    /// [`ImageWriter::copy_deferred`]'s copy on this CPU alone. A chunk without room
    /// for its record's pages (which the writer never makes) fails the image rather
    /// than leave it short.
    fn copy_deferred_here(&mut self) -> Result {
        let from = self.copied;
        if let Some(sp) = self.spool.as_mut() {
            for (at, pages, n) in &self.deferred[from..] {
                let c = sp.chunks.get_mut(*at).ok_or(EINVAL)?;
                let spare = c.spare_capacity_mut();
                if spare.len() < *n || *n != pages.len() * image::PAGE_SIZE {
                    return Err(EINVAL);
                }
                for (k, d) in spare[..*n].chunks_exact_mut(image::PAGE_SIZE).enumerate() {
                    pages.copy_page_uninit(k, d);
                }
                // SAFETY: The loop above initialized the first `n` bytes of the
                // spare capacity (all `n / PAGE_SIZE` pages).
                unsafe { c.inc_len(*n) };
            }
        }
        self.copied = self.deferred.len();
        Ok(())
    }

    /// Copies what is left of the [`ImageWriter::deferred`] records (on two CPUs)
    /// and drops their pages, before the processes run again.
    fn settle(&mut self) -> Result {
        let r = self.copy_deferred();
        // The pages are dropped (their pins too).
        self.deferred.clear();
        self.copied = 0;
        r
    }

    fn emit(&mut self, hdr: &RecordHeader, parts: &[&[u8]]) -> Result {
        self.put(&hdr.to_bytes())?;
        for p in parts {
            self.put(p)?;
        }
        if self.sealing.tail.is_empty() {
            self.account.add(hdr);
        } else {
            self.sealing
                .tail
                .push((hdr.kind, Some(hdr.check)), GFP_KERNEL)?;
            self.account.count(hdr);
        }
        Ok(())
    }

    /// The account of the records written so far (what the end record will hold).
    pub(crate) fn account(&mut self) -> Result<StreamAccount> {
        self.drain()?;
        Ok(self.account)
    }

    /// Writes the [`End`] record and flushes, but for what is spooled (see
    /// [`ImageWriter::spool`]); returns the stream's size and what is left to write.
    pub(crate) fn finish(mut self) -> Result<(u64, Spooled<'a>)> {
        self.drain()?;
        self.settle()?;
        // What is buffered goes to the spool first (or, past its budget, out with
        // it, the checks computed then).
        self.flush()?;
        if !self.sealing.tail.is_empty() {
            let chunks = self.spool.take().map(|s| s.chunks).unwrap_or_default();
            let (_, _, n) = end_record(self.account)?;
            let bytes = self.account.bytes + (image::REC_HDR_LEN + n) as u64;
            let sealing = core::mem::take(&mut self.sealing);
            return Ok((
                bytes,
                Spooled {
                    sink: self.sink,
                    chunks,
                    unsealed: Some((sealing, self.account)),
                },
            ));
        }
        let end = End {
            account: self.account,
        };
        self.record(&end)?;
        self.flush()?;
        let chunks = self.spool.take().map(|s| s.chunks).unwrap_or_default();
        Ok((
            self.account.bytes,
            Spooled {
                sink: self.sink,
                chunks,
                unsealed: None,
            },
        ))
    }
}

/// Object ids of shared kernel objects, keyed by their address: the first encounter
/// defines the object (and its record), later ones only refer to its id.
pub(crate) struct ObjMap {
    map: RBTree<u64, u32>,
    next: u32,
    /// The memfds and deleted files defined (id, file, size), whose contents follow the
    /// pages.
    pub(crate) memfds: KVec<(u32, FileRef, u64)>,
    /// The epoll files defined with the fd table being written (id, file, where:
    /// an fd, or in flight in a socket of the table), whose interest lists follow
    /// that table.
    pub(crate) epolls: KVec<(u32, FileRef, crate::objects::files::fmt_what::What)>,
    /// The pseudo-terminal ends written (pair number, master), see
    /// [`crate::objects::tty::write_pty`].
    pub(crate) ptys: KVec<(u32, bool)>,
    /// The numbers of the pseudo-terminal pairs whose master a process of the image
    /// has open ([`crate::objects::tty::masters_in`]).
    pub(crate) pty_masters: KVec<u32>,
    /// The checkpointed root process's pid (0: unknown).
    pub(crate) root: i32,
    /// The pids of the processes of the image (a file under `/proc/N` of one of
    /// them is reopened at restart).
    pub(crate) procs: KVec<i32>,
}

impl ObjMap {
    /// An empty map; ids start at 1.
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            next: 1,
            memfds: KVec::new(),
            epolls: KVec::new(),
            ptys: KVec::new(),
            pty_masters: KVec::new(),
            root: 0,
            procs: KVec::new(),
        }
    }

    /// The id of the object at `key`, if it was defined.
    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        self.map.get(&key).copied()
    }

    /// Defines the object at `key` and returns its new id.
    pub(crate) fn define(&mut self, key: u64) -> Result<u32> {
        let id = self.fresh();
        self.map.try_create_and_insert(key, id, GFP_KERNEL)?;
        Ok(id)
    }

    /// Makes `key` another name of object `id`.
    pub(crate) fn alias(&mut self, key: u64, id: u32) -> Result {
        self.map.try_create_and_insert(key, id, GFP_KERNEL)?;
        Ok(())
    }

    /// A new id for an object nobody else refers to.
    pub(crate) fn fresh(&mut self) -> u32 {
        let id = self.next;
        self.next += 1;
        id
    }
}
