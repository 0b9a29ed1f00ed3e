// SPDX-License-Identifier: GPL-2.0

//! The address space: layout fields, mappings, and the pages that hold data.

use super::files::{self, path_str, Opened};
use super::shm;
use super::{
    MAP_ANONYMOUS, MAP_DROPPABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_LOCKED,
    MAP_PRIVATE, MAP_SHARED, PROT_WRITE,
};
use crate::checkpoint::{eopnotsupp, Bufs, Reason};
use crate::image::{self, backing, filekind, kind, AnyRecord, MmRec, RecordHeader, Vma};
use crate::restart::{page_records, refuse, short_read, Bad, Plan, Reader, Stop};
use crate::session::Session;
use crate::shim::{self, adv, cur, vmai, FileRef, HeldPages, MmRef, VmaInfo};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// One mapping, classified.
struct Mapping {
    vi: VmaInfo,
    backing: u8,
    file: u32,
}

impl Mapping {
    /// Whether its contents go into the image, and if so whether only anonymous
    /// (privately modified) pages do.
    fn content(&self) -> Option<bool> {
        if self.vi.semflags & image::vmflag::DROPPABLE != 0 {
            // Pages the kernel may drop at any time: left out, as if dropped.
            return None;
        }
        match self.backing {
            backing::ANON | backing::HEAP | backing::STACK | backing::ANON_SHARED => Some(false),
            backing::FILE_PRIVATE if self.vi.flags & vmai::ANON_VMA != 0 => Some(true),
            _ => None,
        }
    }
}

/// The [`image::vmflag`] bits a droppable mapping may have: those `mmap(MAP_DROPPABLE)`
/// and `madvise()` can give it.
const DROPPABLE_OK: u32 = {
    use image::vmflag::*;
    DROPPABLE | DONTFORK | DONTDUMP | MAYREAD | MAYWRITE | MAYEXEC | HUGEPAGE | NOHUGEPAGE
};

/// Decides what backs a mapping; refuses what cannot be saved.
fn classify(
    vi: &VmaInfo,
    file: Option<&FileRef>,
    layout: &[u64; 11],
    why: &mut Reason,
) -> Result<u8> {
    let (start_brk, brk, start_stack) = (layout[4], layout[5], layout[6]);
    let range = (vi.start, vi.end);
    if vi.flags & vmai::SPECIAL != 0 {
        return match vi.name() {
            b"[vdso]" => Ok(backing::VDSO),
            b"[vvar]" | b"[vvar_vclock]" => Ok(backing::VVAR),
            n => Err(why.set(
                eopnotsupp(),
                format_args!(
                    "special mapping {} at {:#x}",
                    core::str::from_utf8(n).unwrap_or("?"),
                    range.0
                ),
            )),
        };
    }
    if vi.flags & vmai::PFNMAP != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("mapping {:#x}-{:#x} maps device memory", range.0, range.1),
        ));
    }
    if vi.flags & vmai::HUGETLB != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("mapping {:#x}-{:#x} is hugetlbfs", range.0, range.1),
        ));
    }
    // A droppable mapping (MAP_DROPPABLE, which implies VM_WIPEONFORK): private
    // anonymous memory the kernel may zero at any time (the vDSO getrandom states
    // of glibc). Its pages are left out and it comes back empty, as if dropped; a
    // locked one could not be mapped again (mmap refuses MAP_LOCKED with it).
    let droppable = vi.flags & vmai::DROPPABLE != 0;
    if droppable && (file.is_some() || vi.semflags & !DROPPABLE_OK != 0) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "mapping {:#x}-{:#x} is droppable (MAP_DROPPABLE) and shared, locked or a stack: \
                 not supported",
                range.0, range.1
            ),
        ));
    }
    // Protections a restart could not give back: refused rather than silently lost.
    let wipeonfork = if droppable { 0 } else { vmai::WIPEONFORK };
    let lost: [(u32, &str); 5] = [
        (wipeonfork, "is MADV_WIPEONFORK (fork must not copy it)"),
        (vmai::SEALED, "is sealed (mseal)"),
        (vmai::PKEY, "has a protection key"),
        (vmai::SHADOW_STACK, "is a shadow stack"),
        (vmai::LOCKONFAULT, "is locked on fault (MLOCK_ONFAULT)"),
    ];
    if let Some((_, what)) = lost.iter().find(|(bit, _)| vi.flags & bit != 0) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "mapping {:#x}-{:#x} {what}: not supported",
                range.0, range.1
            ),
        ));
    }
    if file.is_some() {
        return Ok(if vi.flags & vmai::SHMEM != 0 {
            backing::ANON_SHARED
        } else if vi.semflags & image::vmflag::SHARED != 0 {
            backing::FILE_SHARED
        } else {
            backing::FILE_PRIVATE
        });
    }
    if droppable {
        return Ok(backing::ANON);
    }
    // The same tests /proc/PID/maps uses to name [heap] and [stack].
    if vi.start <= brk && vi.end >= start_brk && brk > start_brk {
        return Ok(backing::HEAP);
    }
    if vi.start <= start_stack && vi.end >= start_stack {
        return Ok(backing::STACK);
    }
    Ok(backing::ANON)
}

/// Walks the mappings of `m`, calling `f` on each with its file.
pub(super) fn for_each_vma(
    m: &MmRef,
    mut f: impl FnMut(&VmaInfo, Option<&FileRef>) -> Result,
) -> Result {
    let mut addr = 0u64;
    while let Some((vi, file)) = m.vma_from(addr)? {
        f(&vi, file.as_ref())?;
        addr = vi.end;
        if shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(())
}

/// Refuses an address space with mappings the image cannot describe.
pub(crate) fn precheck(m: &MmRef, why: &mut Reason) -> Result {
    let mut mi = mm_info_buf()?;
    let mut exe = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    m.info(&mut mi, &mut exe)?;
    let layout = mi.layout;
    for_each_vma(m, |vi, file| {
        let b = classify(vi, file, &layout, why)?;
        match (file, b) {
            (Some(f), backing::FILE_PRIVATE | backing::FILE_SHARED) => {
                files::precheck_mapped(f, vi.start, why)?
            }
            (Some(f), backing::ANON_SHARED) => shm::precheck_shared_anon(f, vi.start, why)?,
            _ => {}
        }
        Ok(())
    })
}

fn mm_info_buf() -> Result<KBox<shim::MmInfo>> {
    Ok(KBox::new(
        shim::MmInfo {
            layout: [0; 11],
            auxv: [0; 64],
            auxv_len: 0,
            map_count: 0,
        },
        GFP_KERNEL,
    )?)
}

/// An address space whose records are written; its pages come last in the image.
pub(crate) struct MmDump {
    /// Object id of the mm.
    pub(crate) id: u32,
    mm: MmRef,
    maps: KVec<Mapping>,
}

/// Writes the address space: files it maps, the mm record and its mappings.
pub(crate) fn write_mm(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    mm: MmRef,
    bufs: &mut Bufs,
    why: &mut Reason,
) -> Result<MmDump> {
    let m = &mm;
    let mut mi = mm_info_buf()?;
    let exe_len = m.info(&mut mi, &mut bufs.path2)?;
    let layout = mi.layout;

    // Pass 1: classify mappings and define the files they map.
    let mut maps: KVec<Mapping> = KVec::new();
    for_each_vma(m, |vi, file| {
        let b = classify(vi, file, &layout, why)?;
        let fid = match (file, b) {
            (Some(f), backing::FILE_PRIVATE | backing::FILE_SHARED) => {
                files::define_mapped(w, objs, f, &mut bufs.path)?
            }
            (Some(f), backing::ANON_SHARED) => shm::define_shmem(w, objs, f, &mut bufs.path)?,
            _ => 0,
        };
        maps.push(
            Mapping {
                vi: *vi,
                backing: b,
                file: fid,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    })?;

    // Pass 2: the mm, its mappings, then the pages in address order.
    let id = objs.fresh();
    let auxv_len = (mi.auxv_len as usize).min(image::MAX_AUXV_WORDS);
    let mut auxv = KVec::with_capacity(auxv_len * 8, GFP_KERNEL)?;
    for v in &mi.auxv[..auxv_len] {
        auxv.extend_from_slice(&v.to_le_bytes(), GFP_KERNEL)?;
    }
    w.record(&MmRec {
        id,
        nr_vmas: maps.len() as u32,
        layout,
        auxv: &auxv,
        exe: &bufs.path2[..exe_len],
    })?;
    for mp in maps.iter() {
        w.record(&Vma {
            start: mp.vi.start,
            end: mp.vi.end,
            pgoff: mp.vi.pgoff,
            prot: mp.vi.prot,
            flags: mp.vi.semflags,
            backing: mp.backing,
            file: mp.file,
            name: if mp.vi.flags & vmai::SPECIAL != 0 {
                mp.vi.name()
            } else {
                match mp.backing {
                    backing::HEAP => b"[heap]",
                    backing::STACK => b"[stack]",
                    _ => b"",
                }
            },
        })?;
    }
    Ok(MmDump { id, mm, maps })
}

impl MmDump {
    /// Writes the pages that hold data, in address order. Shared memory whose pages an
    /// earlier address space of the image wrote (`shm`: object id, first page, pages)
    /// is not written again.
    pub(crate) fn write_pages(
        &self,
        w: &mut ImageWriter<'_>,
        shm: &mut KVec<(u32, u64, u64)>,
    ) -> Result {
        let mut batch = PageBatch::new(self.id)?;
        for mp in self.maps.iter() {
            let Some(anon_only) = mp.content() else {
                continue;
            };
            if mp.backing == backing::ANON_SHARED && mp.file != 0 {
                let (first, n) = (mp.vi.pgoff, (mp.vi.end - mp.vi.start) >> 12);
                if shm
                    .iter()
                    .any(|&(id, f, m)| id == mp.file && f <= first && first + n <= f + m)
                {
                    continue;
                }
                shm.push((mp.file, first, n), GFP_KERNEL)?;
            }
            let mut addr = mp.vi.start;
            while addr < mp.vi.end {
                addr = self.mm.pin_pages(
                    addr,
                    mp.vi.end,
                    anon_only,
                    &mut batch.pages,
                    &mut batch.addrs,
                )?;
                if batch.full() {
                    batch.flush(w)?;
                }
            }
        }
        batch.flush(w)
    }
}

/// Pages collected for one [`image::Pages`] record: held, not copied, until written.
struct PageBatch {
    mm: u32,
    pages: HeldPages,
    addrs: KVec<u64>,
    addr_bytes: KVec<u8>,
}

const BATCH: usize = image::MAX_PAGES_PER_RECORD as usize;

impl PageBatch {
    fn new(mm: u32) -> Result<Self> {
        Ok(Self {
            mm,
            pages: HeldPages::with_capacity(BATCH)?,
            addrs: KVec::with_capacity(BATCH, GFP_KERNEL)?,
            addr_bytes: KVec::with_capacity(BATCH * 8, GFP_KERNEL)?,
        })
    }

    fn full(&self) -> bool {
        self.pages.len() == BATCH
    }

    fn flush(&mut self, w: &mut ImageWriter<'_>) -> Result {
        if self.pages.len() == 0 {
            return Ok(());
        }
        self.addr_bytes.clear();
        for a in self.addrs.iter() {
            self.addr_bytes
                .extend_from_slice(&a.to_le_bytes(), GFP_KERNEL)?;
        }
        let mm = self.mm.to_le_bytes();
        let count = (self.pages.len() as u32).to_le_bytes();
        let res = w.record_with_pages(
            kind::PAGES,
            1,
            &[&mm, &count, &self.addr_bytes],
            &self.pages,
        );
        self.pages.clear();
        self.addrs.clear();
        res
    }
}

// ---------------------------------------------------------------------------
// Restart.

/// The plan's mappings: all there, each with a file of the right kind.
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    if p.mm.nr_vmas as usize != p.vmas.len() {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("mm {} lacks vmas", p.mm.id),
        ));
    }
    for v in p.vmas.iter() {
        let kind = if v.file == 0 {
            None
        } else {
            Some(p.file(v.file).map(|f| f.kind))
        };
        let ok = match (v.backing, kind) {
            (_, None) => v.backing != backing::FILE_PRIVATE && v.backing != backing::FILE_SHARED,
            (backing::ANON_SHARED, Some(k)) => {
                k == Some(filekind::SHMEM) || k == Some(filekind::SYSVSHM)
            }
            (backing::FILE_PRIVATE | backing::FILE_SHARED, Some(k)) => matches!(
                k,
                Some(filekind::REG | filekind::CHR | filekind::MEMFD | filekind::GHOST)
            ),
            _ => false,
        };
        if !ok {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("vma {:#x}: bad file reference", v.start),
            ));
        }
        // Read-only shared memory is filled through its object, which a 1.0 image
        // does not name; a SysV attachment made read-only by mprotect() through a
        // writable attachment first ([`sysv_filled_writable`]), but not one attached
        // with SHM_RDONLY.
        if v.backing == backing::ANON_SHARED
            && v.prot & PROT_WRITE == 0
            && kind.is_none_or(|k| k != Some(filekind::SHMEM))
            && !(kind == Some(Some(filekind::SYSVSHM)) && v.flags & image::vmflag::MAYWRITE != 0)
        {
            return Err(refuse(
                why,
                eopnotsupp(),
                format_args!(
                    "read-only shared anonymous mapping at {:#x} (old image or SysV SHM_RDONLY)",
                    v.start
                ),
            ));
        }
    }
    Ok(())
}

/// Copies the pages of `[start, end)` of `m` (at most [`image::MAX_VDSO_LEN`] bytes).
pub(super) fn read_range(m: &MmRef, start: u64, end: u64) -> Result<KVec<u8>> {
    let len = (end - start) as usize;
    if len > image::MAX_VDSO_LEN {
        return Err(E2BIG);
    }
    let npages = len / image::PAGE_SIZE;
    let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let mut held = HeldPages::with_capacity(npages)?;
    let mut addrs = KVec::with_capacity(npages, GFP_KERNEL)?;
    let mut addr = start;
    while addr < end && held.len() < npages {
        addr = m.pin_pages(addr, end, false, &mut held, &mut addrs)?;
    }
    // Pages left out were zero-filled: the buffer already says so.
    let mut i = 0;
    held.for_each_bytes(|b| {
        let off = (addrs[i] - start) as usize;
        buf[off..off + image::PAGE_SIZE].copy_from_slice(b);
        i += 1;
    });
    Ok(buf)
}

/// Calls `f(vma, addr, first, n, force)` for each run of `n` pages of `pg` from page
/// `first` at consecutive addresses inside one mapping `vma` of the plan that may hold
/// pages (`force`: the mapping is read-only).
fn page_runs(
    p: &Plan<'_>,
    pg: &image::Pages<'_>,
    why: &mut Reason,
    mut f: impl FnMut(&image::Vma<'_>, u64, usize, usize, bool) -> Result,
) -> Result {
    if pg.mm != p.mm.id {
        return Err(why.set(EINVAL, format_args!("pages of an unknown mm")));
    }
    let mut i = 0;
    while i < pg.count() {
        let a = pg.addr(i);
        let v = p
            .vmas
            .iter()
            .find(|v| v.start <= a && a < v.end)
            .ok_or_else(|| why.set(EINVAL, format_args!("page {a:#x} outside every mapping")))?;
        if matches!(
            v.backing,
            backing::VDSO | backing::VVAR | backing::FILE_SHARED
        ) || v.flags & image::vmflag::DROPPABLE != 0
        {
            return Err(why.set(
                EINVAL,
                format_args!("page {a:#x} in a mapping without contents"),
            ));
        }
        let mut n = 1;
        while i + n < pg.count()
            && pg.addr(i + n) == a + (n * image::PAGE_SIZE) as u64
            && pg.addr(i + n) < v.end
        {
            n += 1;
        }
        f(v, a, i, n, v.prot & PROT_WRITE == 0)
            .map_err(|e| why.set(e, format_args!("cannot fill pages at {a:#x}")))?;
        i += n;
    }
    Ok(())
}

/// The memory object behind a read-only shared anonymous mapping (whose pages cannot
/// be written through the mapping).
fn ro_shared<'a>(opened: &'a Opened, v: &image::Vma<'_>) -> Option<&'a FileRef> {
    if v.backing != backing::ANON_SHARED || v.prot & PROT_WRITE != 0 {
        return None;
    }
    opened.shm.iter().find(|s| s.0 == v.start).map(|s| &s.1)
}

/// Offset in its memory object of address `a` of shared mapping `v`.
fn shm_offset(v: &image::Vma<'_>, a: u64) -> i64 {
    (a - v.start + (v.pgoff << 12)) as i64
}

/// Applies the page record `h`, whose header was just read, straight from the image:
/// reads its addresses (into `buf`) and checks them, then reads its data into the
/// caller's pages they name, verifies the record's check over those pages and feeds
/// the record to the order checker.
fn pages_in_place(
    rd: &mut Reader,
    p: &Plan<'_>,
    opened: &Opened,
    h: &RecordHeader,
    buf: &mut KVVec<u8>,
    held: &mut HeldPages,
    why: &mut Reason,
) -> Result {
    let bad = |why: &mut Reason, e: image::ImageError| page_records(why, Bad::Image(e));
    // The prefix: mm and count, then the addresses.
    buf.resize(8, 0, GFP_KERNEL)?;
    rd.exact(buf).map_err(|e| page_records(why, Bad::io(e)))?;
    if u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) != p.mm.id {
        // Another process's pages, or a memfd's contents: read whole, checked.
        buf.resize(h.len as usize, 0, GFP_KERNEL)?;
        rd.exact(&mut buf[8..])
            .map_err(|e| page_records(why, Bad::io(e)))?;
        h.verify(buf).map_err(|e| bad(why, e))?;
        let r = AnyRecord::decode(h, buf).map_err(|e| bad(why, e))?;
        if let AnyRecord::Pages(pg) = &r {
            shm::fill_memfd(opened, pg, why)?;
        }
        return rd
            .account
            .feed(h, &r)
            .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())));
    }
    let n = image::Pages::count_from_head(buf).map_err(|e| bad(why, e))?;
    buf.resize(image::Pages::prefix_len(n), 0, GFP_KERNEL)?;
    rd.exact(&mut buf[8..])
        .map_err(|e| page_records(why, Bad::io(e)))?;
    let pg = image::Pages::decode_prefix(buf, h.len).map_err(|e| bad(why, e))?;
    let mut check = RecordHeader::hasher(h.kind, h.version, h.len);
    check.update(buf);
    // The data, run by run, into place.
    page_runs(p, &pg, why, |v, a, _, n, force| {
        if let Some(file) = ro_shared(opened, v) {
            // Read-only shared memory cannot be written through the mapping: through
            // its object.
            let mut data = KVVec::from_elem(0u8, n * image::PAGE_SIZE, GFP_KERNEL)?;
            rd.exact(&mut data)?;
            check.update(&data);
            return file.write_at(&data, shm_offset(v, a));
        }
        held.clear();
        cur::hold_pages(a, n, force, held)?;
        let got = rd.file.read_pages(held, &mut rd.pos)?;
        if got != n * image::PAGE_SIZE {
            return Err(short_read());
        }
        held.for_each_bytes(|b| check.update(b));
        held.clear();
        Ok(())
    })
    .map_err(|e| {
        held.clear();
        if e == short_read() {
            bad(why, image::ImageError::Truncated)
        } else {
            e
        }
    })?;
    if RecordHeader::seal(h.kind, h.version, h.len, &check).check != h.check {
        return Err(bad(why, image::ImageError::BadCheck { kind: h.kind }));
    }
    rd.account
        .feed(h, &AnyRecord::Pages(pg))
        .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))
}

/// The executable link (`/proc/PID/exe`): the image's program, opened as exec opens
/// it (regular, executable for the caller, not on a `noexec` mount, no writer; its
/// writes are then denied). A set-ID program only for a caller who may masquerade
/// ([`crate::access::may_name_setid_exe`]). By the leader in phase 2: a failure
/// leaves the caller as it was but for its link, and it exits.
pub(crate) fn restore_exe(p: &Plan<'_>, why: &mut Reason) -> Result {
    if p.mm.exe.is_empty() {
        return Ok(());
    }
    let path = files::path_z(p.mm.exe)?;
    shim::cur_attrs::set_exe(&path, crate::access::may_name_setid_exe()).map_err(|e| {
        let hint = if e == EPERM {
            " (a set-ID program: that takes CAP_CHECKPOINT_RESTORE)"
        } else {
            ""
        };
        refuse(
            why,
            e,
            format_args!("cannot make {} the program again{hint}", path_str(p.mm.exe)),
        )
    })
}

/// Replaces the caller's address space by the image's mappings and layout (by the
/// leader, past the point of no return; the pages follow: [`restore_pages`]).
#[inline(never)]
pub(crate) fn restore_mappings(
    p: &Plan<'_>,
    sess: &Session,
    opened: &mut Opened,
    why: &mut Reason,
) -> Result {
    // The address space; the restarter's rseq area goes with it. Its SysV
    // attachments stay until the image's are made (a segment marked for removal
    // would go with its last attachment).
    let sysv = cur::sysv_ranges()?;
    // A process that had unmapped its vDSO and vvar comes back without them (the
    // restarter's were left where they are: see `ckpt restart`'s vDSO moves).
    let specials = !p
        .vmas
        .iter()
        .any(|v| matches!(v.backing, backing::VDSO | backing::VVAR));
    cur::unmap_all(specials)?;
    cur::set_rseq(0, 0, 0)?;
    // Mappings with madvise() properties first, each given them at once: mapped next
    // to a neighbour that has them already, a mapping without them is not merged
    // into it (nor it into the neighbour). The shared mappings of write-sealed
    // memfds come last, once sealed ([`restore_sealed_mappings`]).
    for v in p.vmas.iter().filter(|v| !shm::write_sealed(p, v)) {
        if advice(v) != 0 {
            keep_ro_shared(opened, v, map_vma(p, sess, opened, v, why)?)?;
        }
    }
    for v in p.vmas.iter().filter(|v| !shm::write_sealed(p, v)) {
        if advice(v) == 0 {
            keep_ro_shared(opened, v, map_vma(p, sess, opened, v, why)?)?;
        }
    }
    for &(s, e) in sysv.iter() {
        cur::munmap(s, e)?;
    }
    let mut auxv = [0u64; image::MAX_AUXV_WORDS];
    let n = p.mm.auxv_len();
    for (i, w) in auxv[..n].iter_mut().enumerate() {
        *w = p.mm.auxv_word(i);
    }
    cur::set_layout(&p.mm.layout, &auxv[..n])?;
    Ok(())
}

/// Keeps the memory object of read-only shared anonymous mapping `v` (which
/// [`map_vma`] returned): its pages are written through it.
fn keep_ro_shared(opened: &mut Opened, v: &Vma<'_>, shm: Option<FileRef>) -> Result {
    if let Some(f) = shm {
        if v.prot & PROT_WRITE == 0 {
            opened.shm.push((v.start, f), GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// Maps the shared mappings of write-sealed memfds, once [`shm::seal_memfds`] sealed
/// them: `mmap` then refuses them writable and clears their `VM_MAYWRITE`, as it did
/// for the original. And maps the read-only SysV attachments again read-only, once
/// their pages are in ([`sysv_filled_writable`]).
pub(crate) fn restore_sealed_mappings(
    p: &Plan<'_>,
    sess: &Session,
    opened: &Opened,
    why: &mut Reason,
) -> Result {
    for v in p.vmas.iter().filter(|v| shm::write_sealed(p, v)) {
        map_vma(p, sess, opened, v, why)?;
    }
    for v in p.vmas.iter().filter(|v| sysv_filled_writable(p, v)) {
        // Over the writable one: the segment keeps an attachment throughout (one
        // marked for removal would go with its last).
        cur::mmap(
            opened.get(v.file),
            v.start,
            v.end - v.start,
            v.prot,
            MAP_SHARED | MAP_FIXED,
            v.pgoff << 12,
        )
        .map_err(|e| why.set(e, format_args!("cannot map {:#x}-{:#x}", v.start, v.end)))?;
        if advice(v) != 0 {
            cur::vma_advise(v.start, v.end, advice(v)).map_err(|e| {
                why.set(e, format_args!("cannot advise {:#x}-{:#x}", v.start, v.end))
            })?;
        }
    }
    Ok(())
}

/// Whether `v` is a SysV attachment that was made read-only with `mprotect()` (the
/// segment was attached writable): it is mapped writable first, so that its pages
/// can be written through it, and read-only once they are.
fn sysv_filled_writable(p: &Plan<'_>, v: &Vma<'_>) -> bool {
    v.backing == backing::ANON_SHARED
        && v.prot & PROT_WRITE == 0
        && v.flags & image::vmflag::MAYWRITE != 0
        && p.file(v.file).is_some_and(|f| f.kind == filekind::SYSVSHM)
}

/// The madvise() properties of `v` ([`shim::adv`] bits) to give it; none for the
/// special mappings the kernel makes (and marks) itself.
fn advice(v: &Vma<'_>) -> u32 {
    use image::vmflag;
    if matches!(v.backing, backing::VDSO | backing::VVAR | backing::VSYSCALL) {
        return 0;
    }
    [
        (vmflag::DONTFORK, adv::DONTFORK),
        (vmflag::DONTDUMP, adv::DONTDUMP),
        (vmflag::HUGEPAGE, adv::HUGEPAGE),
        (vmflag::NOHUGEPAGE, adv::NOHUGEPAGE),
    ]
    .iter()
    .filter(|(f, _)| v.flags & f != 0)
    .fold(0, |a, (_, b)| a | b)
}

/// Maps `v` where the image had it, and gives it its madvise() properties.
fn map_vma(
    p: &Plan<'_>,
    sess: &Session,
    opened: &Opened,
    v: &Vma<'_>,
    why: &mut Reason,
) -> Result<Option<FileRef>> {
    let len = v.end - v.start;
    let mut shm = None;
    let (file, share, off) = match v.backing {
        backing::VDSO | backing::VVAR | backing::VSYSCALL => return Ok(None),
        backing::FILE_PRIVATE | backing::FILE_SHARED => (
            opened.get(v.file),
            if v.backing == backing::FILE_SHARED {
                MAP_SHARED
            } else {
                MAP_PRIVATE
            },
            v.pgoff << 12,
        ),
        backing::ANON_SHARED if p.file(v.file).is_some_and(|f| f.kind == filekind::SYSVSHM) => {
            (opened.get(v.file), MAP_SHARED, v.pgoff << 12)
        }
        backing::ANON_SHARED if v.file != 0 => {
            // One memory object for every process that maps it.
            shm = Some(shm::shared_anon(p, sess, v.file, why)?);
            (shm.as_ref(), MAP_SHARED, v.pgoff << 12)
        }
        backing::ANON_SHARED => (None, MAP_SHARED | MAP_ANONYMOUS, 0),
        // Empty, as the kernel could have left it by dropping its pages.
        backing::ANON if v.flags & image::vmflag::DROPPABLE != 0 => {
            (None, MAP_DROPPABLE | MAP_ANONYMOUS, 0)
        }
        _ => (None, MAP_PRIVATE | MAP_ANONYMOUS, 0),
    };
    let mut flags = share | MAP_FIXED_NOREPLACE;
    if v.flags & image::vmflag::GROWSDOWN != 0 {
        flags |= MAP_GROWSDOWN;
    }
    if v.flags & image::vmflag::LOCKED != 0 {
        flags |= MAP_LOCKED;
    }
    let prot = if sysv_filled_writable(p, v) {
        v.prot | PROT_WRITE
    } else {
        v.prot
    };
    cur::mmap(file, v.start, len, prot, flags, off)
        .map_err(|e| why.set(e, format_args!("cannot map {:#x}-{:#x}", v.start, v.end)))?;
    if advice(v) != 0 {
        cur::vma_advise(v.start, v.end, advice(v))
            .map_err(|e| why.set(e, format_args!("cannot advise {:#x}-{:#x}", v.start, v.end)))?;
    }
    Ok(shm)
}

/// Fills the new address space (and the memfds this process made) from the page
/// records, the first of which (`first`) phase 1 read into `buf`, up to the [`End`]
/// record.
///
/// [`End`]: image::End
#[inline(never)]
pub(crate) fn restore_pages(
    p: &Plan<'_>,
    opened: &Opened,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first: (RecordHeader, Stop),
    why: &mut Reason,
) -> Result {
    // The pages.  The first page record was read and checked in phase 1 and is
    // copied into place from `buf`; each later one is read straight into place:
    // its addresses first, checked, then its data into the pages they name, and
    // its check is verified over those pages before anything else is read.  A
    // bad record stops the restart there, as a bad record found before it was
    // applied would: past the point of no return, the process is killed.
    let mut held = HeldPages::with_capacity(image::MAX_PAGES_PER_RECORD as usize)?;
    let (mut h, mut stop) = first;
    let mut buffered = true;
    loop {
        if buffered {
            let r = AnyRecord::decode(&h, buf).map_err(|_| EINVAL)?;
            if let AnyRecord::Pages(pg) = &r {
                if pg.mm == p.mm.id {
                    page_runs(p, pg, why, |v, a, i, n, force| {
                        let ps = image::PAGE_SIZE;
                        let data = &pg.data[i * ps..(i + n) * ps];
                        match ro_shared(opened, v) {
                            Some(file) => file.write_at(data, shm_offset(v, a)),
                            None => cur::fill_pages(a, data, force),
                        }
                    })?;
                } else {
                    shm::fill_memfd(opened, pg, why)?;
                }
            }
            rd.account
                .feed(&h, &r)
                .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
        }
        if stop == Stop::End {
            break;
        }
        let (next, known) = rd.header().map_err(|b| page_records(why, b))?;
        h = next;
        buffered = !(known && h.kind == image::kind::PAGES);
        if !buffered {
            pages_in_place(rd, p, opened, &h, buf, &mut held, why)?;
            continue;
        }
        rd.payload(&h, buf).map_err(|b| page_records(why, b))?;
        if !known {
            rd.account
                .skip(&h)
                .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
            buffered = false;
            continue;
        }
        stop = match AnyRecord::decode(&h, buf) {
            Ok(AnyRecord::Pages(_)) => Stop::Pages,
            Ok(AnyRecord::End(_)) => Stop::End,
            _ => return Err(why.set(EINVAL, format_args!("unexpected record among the pages"))),
        };
    }
    Ok(())
}
