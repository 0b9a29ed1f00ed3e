// SPDX-License-Identifier: GPL-2.0

//! Writing an image stream: framing, accounting, buffering and object ids.
//!
//! The format itself is defined in [`crate::image`]; this file only puts records on a
//! [`Sink`] in order, keeps the [`StreamAccount`] that the closing [`End`] record carries,
//! and hands out object ids (Linux-CR's "objhash").

use crate::image::{self, Enc, End, ImageError, Record, RecordHeader, StreamAccount};
use crate::shim::{FileRef, HeldPages};
use kernel::sync::{Arc, Completion, Mutex};
use kernel::{new_mutex, prelude::*, rbtree::RBTree, workqueue};

/// Where image bytes go.
pub(crate) trait Sink {
    /// Writes all of `buf` or fails.
    fn put(&mut self, buf: &[u8]) -> Result;
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

/// The copy of a page record's pages into a buffer, and its check, made by a work
/// item on another CPU while the writer writes the record before it.
#[pin_data]
struct CopyJob {
    #[pin]
    done: Completion,
    /// The buffer, and the record's check with bit 32 set once the copy is made
    /// (0: no memory for the buffer).
    #[pin]
    out: Mutex<(KVVec<u8>, u64)>,
}

/// A page record handed to a [`CopyJob`], written by [`ImageWriter::complete`].
struct PendingRecord {
    job: Arc<CopyJob>,
    kind: u16,
    version: u16,
    len: u32,
    /// The payload before the pages.
    parts: KVec<u8>,
    /// Bytes of page data.
    n: usize,
}

/// Writes records to a [`Sink`], buffering small writes.
pub(crate) struct ImageWriter<'a> {
    sink: &'a mut dyn Sink,
    account: StreamAccount,
    scratch: KVVec<u8>,
    out: KVVec<u8>,
    /// A buffer for the copy of the pages of a record, reused.
    pages: KVVec<u8>,
    /// The page record being copied elsewhere, written before anything that follows.
    pending: Option<PendingRecord>,
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
        };
        w.put(&image::MAGIC)?;
        Ok(w)
    }

    fn put(&mut self, buf: &[u8]) -> Result {
        if self.out.len() + buf.len() > OUT_BUF {
            self.flush()?;
        }
        if buf.len() >= OUT_BUF {
            return self.sink.put(buf);
        }
        self.out.extend_from_slice(buf, GFP_KERNEL)?;
        Ok(())
    }

    fn flush(&mut self) -> Result {
        if !self.out.is_empty() {
            self.sink.put(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes one record.
    pub(crate) fn record<'r, R: Record<'r>>(&mut self, r: &R) -> Result {
        self.complete()?;
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
    /// Each page is copied once, and the copy is what is hashed and written: a page
    /// that something else writes meanwhile (memory shared with a process that runs,
    /// `process_vm_writev`, I/O in flight) cannot make the record's check wrong.
    ///
    /// The copy is made by a work item (on another CPU) while this thread writes the
    /// record before; the record itself is written by the next call that writes
    /// anything ([`ImageWriter::complete`]). `pages` is taken (and emptied).
    pub(crate) fn record_with_pages(
        &mut self,
        kind: u16,
        version: u16,
        parts: &[&[u8]],
        pages: &mut HeldPages,
    ) -> Result {
        let plen = parts.iter().map(|p| p.len()).sum::<usize>();
        let n = pages.len() * image::PAGE_SIZE;
        let len = plen + n;
        if len > image::MAX_RECORD_LEN as usize {
            return Err(EINVAL);
        }
        let mut h = RecordHeader::hasher(kind, version, len as u32);
        let mut kept = KVec::with_capacity(plen, GFP_KERNEL)?;
        for p in parts {
            h.update(p);
            kept.extend_from_slice(p, GFP_KERNEL)?;
        }
        let buf = core::mem::take(&mut self.pages);
        let job = Arc::pin_init(
            pin_init!(CopyJob {
                done <- Completion::new(),
                out <- new_mutex!((buf, 0), "CopyJob::out"),
            }),
            GFP_KERNEL,
        )?;
        let mine = core::mem::replace(pages, HeldPages::with_capacity(pages.capacity())?);
        let theirs = job.clone();
        let len32 = len as u32;
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
            let mut pages = mine;
            let t = crate::timing::sub_start();
            {
                let mut out = theirs.out.lock();
                let (buf, check) = &mut *out;
                if buf.len() < n && buf.resize(n, 0, GFP_KERNEL).is_err() {
                    *check = 0;
                } else {
                    let mut at = 0;
                    pages.for_each_bytes(|b| {
                        // Hashed from the copy while it is still in the cache.
                        let copy = &mut buf[at..at + image::PAGE_SIZE];
                        copy.copy_from_slice(b);
                        h.update(copy);
                        at += image::PAGE_SIZE;
                    });
                    let sealed = RecordHeader::seal(kind, version, len32, &h);
                    *check = u64::from(sealed.check) | 1 << 32;
                }
            }
            pages.clear();
            crate::timing::sub_end(crate::timing::Sub::Copy, t);
            theirs.done.complete_all();
        })?;
        // The record before is written while the copy is made.
        self.complete()?;
        self.pending = Some(PendingRecord {
            job,
            kind,
            version,
            len: len32,
            parts: kept,
            n,
        });
        Ok(())
    }

    /// Writes the page record whose copy is being made, once it is.
    fn complete(&mut self) -> Result {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let t = crate::timing::sub_start();
        p.job.done.wait_for_completion();
        crate::timing::sub_end(crate::timing::Sub::Idle, t);
        let (buf, check) = {
            let mut out = p.job.out.lock();
            (core::mem::take(&mut out.0), out.1)
        };
        if check >> 32 == 0 {
            return Err(ENOMEM);
        }
        let hdr = RecordHeader {
            kind: p.kind,
            version: p.version,
            len: p.len,
            check: check as u32,
        };
        self.emit(&hdr, &[&p.parts])?;
        self.flush()?;
        let t = crate::timing::sub_start();
        let r = self.sink.put(&buf[..p.n]);
        crate::timing::sub_end(crate::timing::Sub::Write, t);
        self.pages = buf;
        r
    }

    fn emit(&mut self, hdr: &RecordHeader, parts: &[&[u8]]) -> Result {
        self.put(&hdr.to_bytes())?;
        for p in parts {
            self.put(p)?;
        }
        self.account.add(hdr);
        Ok(())
    }

    /// Writes the [`End`] record and flushes; returns the stream's size.
    pub(crate) fn finish(mut self) -> Result<u64> {
        self.complete()?;
        let end = End {
            account: self.account,
        };
        self.record(&end)?;
        self.flush()?;
        Ok(self.account.bytes)
    }
}

impl Drop for ImageWriter<'_> {
    fn drop(&mut self) {
        // A copy in flight holds the target's pages: never left behind.
        if let Some(p) = self.pending.take() {
            p.job.done.wait_for_completion();
        }
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
    /// The epoll files defined with the fd table being written (id, file, fd),
    /// whose interest lists follow that table.
    pub(crate) epolls: KVec<(u32, FileRef, u32)>,
}

impl ObjMap {
    /// An empty map; ids start at 1.
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            next: 1,
            memfds: KVec::new(),
            epolls: KVec::new(),
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
