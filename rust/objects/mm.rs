// SPDX-License-Identifier: GPL-2.0

//! The address space: layout fields, mappings, and the pages that hold data.

use super::files::{self, path_str, Opened};
use super::shm;
use super::{
    MAP_ANONYMOUS, MAP_DROPPABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_LOCKED,
    MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_WRITE,
};
use crate::checkpoint::{eopnotsupp, Bufs, Reason};
use crate::image::{self, backing, filekind, kind, AnyRecord, MmRec, RecordHeader, Vma};
use crate::restart::{page_records, refuse, short_read, Bad, Plan, Reader, Stop};
use crate::session::Session;
use crate::shim::{self, adv, cur, vmai, FileRef, HeldPages, MmRef, VmaInfo};
use crate::stream::{ImageWriter, ObjMap};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::prelude::*;

/// One mapping, classified.
struct Mapping {
    vi: VmaInfo,
    backing: u8,
    file: u32,
    /// The memory object of shared anonymous memory (its pages are found through it).
    shm: Option<FileRef>,
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
    DROPPABLE
        | WIPEONFORK
        | DONTFORK
        | DONTDUMP
        | MAYREAD
        | MAYWRITE
        | MAYEXEC
        | HUGEPAGE
        | NOHUGEPAGE
        | SEQUENTIAL
        | RANDOM
        | NORESERVE
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
    let lost: [(u32, &str); 5] = [
        (vmai::SEALED, "is sealed (mseal)"),
        (vmai::PKEY, "has a protection key"),
        (vmai::SHADOW_STACK, "is a shadow stack"),
        (vmai::LOCKONFAULT, "is locked on fault (MLOCK_ONFAULT)"),
        // Guard markers read as holes to every exported way of reading pages; a
        // restart would give back plain memory where the program has traps.
        (
            vmai::MAYBE_GUARD,
            "may hold guard regions (MADV_GUARD_INSTALL, which a module cannot read back)",
        ),
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
    // A process-wide setting a restart does not give back (each mapping's own
    // MADV_MERGEABLE it does): refused rather than lost.
    if m.merge_any() {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "the process asked KSM to merge all its memory (PR_SET_MEMORY_MERGE): not supported"
            ),
        ));
    }
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

impl MmDump {
    /// The address space.
    pub(crate) fn mm(&self) -> &MmRef {
        &self.mm
    }
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
                shm: file.filter(|_| b == backing::ANON_SHARED).cloned(),
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

/// Copy-on-write sharing in a tree: which pages of a process are the very pages of
/// an earlier process's at the same address (as fork left them in a parent and its
/// children, or in two children, and neither wrote since). Those are written once,
/// with the earlier process's, and named by an [`image::PageRefs`] record for the
/// later one, whose own page records leave them out.
pub(crate) struct Sharing {
    /// Per address space (in tree order): the addresses given as references to an
    /// earlier one's pages.
    refs: KVec<KVec<u64>>,
}

impl Sharing {
    /// For `n` address spaces.
    pub(crate) fn new(n: usize) -> Result<Self> {
        let mut refs = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            refs.push(KVec::new(), GFP_KERNEL)?;
        }
        Ok(Self { refs })
    }
}

/// Whether the page at an address of mapping `x` of a process can be the very page of
/// another process's mapping `y` there: both private anonymous memory of the same
/// extent (as fork copies a mapping).
fn inheritable(x: &Mapping, y: &Mapping) -> bool {
    matches!(x.backing, backing::ANON | backing::HEAP | backing::STACK)
        && x.backing == y.backing
        && (x.vi.start, x.vi.end) == (y.vi.start, y.vi.end)
        && y.vi.semflags & image::vmflag::SHARED == 0
}

/// A later process whose mappings `ranges` (ascending) match some of the writer's.
struct Heir {
    index: usize,
    ranges: KVec<(u64, u64)>,
}

/// Writes the pages that hold data of address space `k` of `mms`, in address order,
/// with references for the later address spaces that map the same pages (a page
/// mapped by one process only is not looked up elsewhere). Shared memory whose
/// pages an earlier address space of the image wrote (`shm`: object id, first page,
/// pages) is not written again; nor are pages an earlier address space's records hold.
///
/// With `changes` (an incremental checkpoint of a single process): the pages the
/// scan found unchanged since the parent image are written as [`image::ParentPages`]
/// runs after the address space's own page records, the others as usual.
pub(crate) fn write_pages(
    mms: &[MmDump],
    k: usize,
    sharing: &mut Sharing,
    w: &mut ImageWriter<'_>,
    shm: &mut KVec<(u32, u64, u64)>,
    changes: Option<&super::track::Changes>,
) -> Result {
    let me = &mms[k];
    let mut heirs = KVec::new();
    for (d, other) in mms.iter().enumerate().skip(k + 1) {
        let mut ranges = KVec::new();
        let (mut a, mut b) = (0, 0);
        while a < me.maps.len() && b < other.maps.len() {
            let (x, y) = (&me.maps[a], &other.maps[b]);
            if x.vi.start == y.vi.start {
                if inheritable(x, y) {
                    ranges.push((x.vi.start, x.vi.end), GFP_KERNEL)?;
                }
                a += 1;
                b += 1;
            } else if x.vi.start < y.vi.start {
                a += 1;
            } else {
                b += 1;
            }
        }
        if !ranges.is_empty() {
            heirs.push(Heir { index: d, ranges }, GFP_KERNEL)?;
        }
    }
    let mut skip = core::mem::take(&mut sharing.refs[k]);
    skip.sort_unstable();
    let mut si = 0;
    let mut batch = PageBatch::new(me.id)?;
    let mut runs: KVec<(u64, u64)> = KVec::new();
    for mp in me.maps.iter() {
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
        let incr = changes.filter(|c| {
            mp.backing != backing::ANON_SHARED
                && mp.vi.semflags & image::vmflag::SHARED == 0
                && c.usable(mp.vi.vm_flags)
        });
        if let Some(c) = incr {
            c.for_each(mp.vi.start, mp.vi.end, |s, e, from_parent| {
                if from_parent {
                    push_run(&mut runs, s, e)
                } else {
                    batch.pin_range(me, s, e, anon_only, w, mms, &heirs, sharing)
                }
            })?;
            continue;
        }
        // Shared memory: only where its object holds data (the object's holes are
        // read as zeros, and looking at them page by page would fill them).
        let data = mp.shm.as_ref().map(|f| f.reopen(0, false)).transpose()?;
        let mut addr = mp.vi.start;
        while addr < mp.vi.end {
            let mut end = mp.vi.end;
            if let Some(f) = &data {
                match shm_data(f, &mp.vi, addr)? {
                    Some(r) => (addr, end) = r,
                    None => break,
                }
            }
            let before = batch.pages.len();
            let t = crate::timing::sub_start();
            addr = me
                .mm
                .pin_pages(addr, end, anon_only, &mut batch.pages, &mut batch.addrs)?;
            crate::timing::sub_end(crate::timing::Sub::Pin, t);
            if si < skip.len() {
                batch.pages.drop_from(before, &mut batch.addrs, |a| {
                    while si < skip.len() && skip[si] < a {
                        si += 1;
                    }
                    si < skip.len() && skip[si] == a
                });
            }
            if batch.full() {
                batch.flush(w, mms, &heirs, sharing)?;
            }
        }
    }
    batch.flush(w, mms, &heirs, sharing)?;
    write_runs(w, me.id, &runs)
}

/// Appends `[s, e)` to `runs`, merged with the last run if adjacent.
fn push_run(runs: &mut KVec<(u64, u64)>, s: u64, e: u64) -> Result {
    if let Some(last) = runs.last_mut() {
        if last.1 == s {
            last.1 = e;
            return Ok(());
        }
    }
    Ok(runs.push((s, e), GFP_KERNEL)?)
}

/// Writes `runs` as [`image::ParentPages`] records of address space `mm`.
fn write_runs(w: &mut ImageWriter<'_>, mm: u32, runs: &[(u64, u64)]) -> Result {
    let per = image::MAX_RUNS_PER_RECORD as usize;
    let mut bytes = KVec::with_capacity(runs.len().min(per) * image::RUN_LEN, GFP_KERNEL)?;
    for chunk in runs.chunks(per) {
        bytes.clear();
        for &(s, e) in chunk {
            // Runs longer than u32 pages (16 TiB) are split.
            let mut s = s;
            while s < e {
                let n = ((e - s) >> 12).min(u32::MAX as u64);
                bytes.extend_from_slice(&s.to_le_bytes(), GFP_KERNEL)?;
                bytes.extend_from_slice(&(n as u32).to_le_bytes(), GFP_KERNEL)?;
                s += n << 12;
            }
        }
        w.record(&image::ParentPages { mm, runs: &bytes })?;
    }
    Ok(())
}

/// The next addresses `[start, end)` at or after `addr` of shared memory mapping `vi`
/// where its memory object `f` (opened for ckpt: [`FileRef::data_from`] moves its
/// position) may hold data; `None` if there are none.
fn shm_data(f: &FileRef, vi: &VmaInfo, addr: u64) -> Result<Option<(u64, u64)>> {
    let ps = image::PAGE_SIZE as u64;
    // File offset of the mapping's start.
    let base = vi.pgoff << 12;
    let Some((data, hole)) = f.data_from(base + (addr - vi.start))? else {
        return Ok(None);
    };
    let start = (vi.start + (data - base)) & !(ps - 1);
    if start >= vi.end {
        return Ok(None);
    }
    let hole = hole.max(data + 1).next_multiple_of(ps);
    let end = (vi.start + (hole - base)).min(vi.end);
    Ok(Some((start.max(addr), end)))
}

/// Pages collected for one [`image::Pages`] record: held, not copied, until written.
struct PageBatch {
    mm: u32,
    pages: HeldPages,
    addrs: KVec<u64>,
    addr_bytes: KVec<u8>,
    want: KVec<u8>,
}

const BATCH: usize = image::MAX_PAGES_PER_RECORD as usize;

impl PageBatch {
    fn new(mm: u32) -> Result<Self> {
        Ok(Self {
            mm,
            pages: HeldPages::with_capacity(BATCH)?,
            addrs: KVec::with_capacity(BATCH, GFP_KERNEL)?,
            addr_bytes: KVec::with_capacity(BATCH * 8, GFP_KERNEL)?,
            want: KVec::with_capacity(BATCH, GFP_KERNEL)?,
        })
    }

    fn full(&self) -> bool {
        self.pages.len() == BATCH
    }

    /// Takes the data pages of `[start, end)` of `me`, writing full batches.
    #[allow(clippy::too_many_arguments)]
    fn pin_range(
        &mut self,
        me: &MmDump,
        start: u64,
        end: u64,
        anon_only: bool,
        w: &mut ImageWriter<'_>,
        mms: &[MmDump],
        heirs: &[Heir],
        sharing: &mut Sharing,
    ) -> Result {
        let mut addr = start;
        while addr < end {
            addr = me
                .mm
                .pin_pages(addr, end, anon_only, &mut self.pages, &mut self.addrs)?;
            if self.full() {
                self.flush(w, mms, heirs, sharing)?;
            }
        }
        Ok(())
    }

    /// Writes the [`image::PageRefs`] of the heirs that map pages of the batch, then
    /// the batch.
    fn flush(
        &mut self,
        w: &mut ImageWriter<'_>,
        mms: &[MmDump],
        heirs: &[Heir],
        sharing: &mut Sharing,
    ) -> Result {
        if self.pages.len() == 0 {
            return Ok(());
        }
        for h in heirs {
            self.want.clear();
            let mut r = 0;
            let mut any = false;
            for &a in self.addrs.iter() {
                while r < h.ranges.len() && h.ranges[r].1 <= a {
                    r += 1;
                }
                let inside = r < h.ranges.len() && h.ranges[r].0 <= a;
                any |= inside;
                self.want.push(u8::from(inside), GFP_KERNEL)?;
            }
            if !any {
                continue;
            }
            let heir = &mms[h.index];
            heir.mm
                .same_pages(&self.addrs, &self.pages, &mut self.want)?;
            self.addr_bytes.clear();
            for (a, &same) in self.addrs.iter().zip(self.want.iter()) {
                if same != 0 {
                    self.addr_bytes
                        .extend_from_slice(&a.to_le_bytes(), GFP_KERNEL)?;
                    sharing.refs[h.index].push(*a, GFP_KERNEL)?;
                }
            }
            if !self.addr_bytes.is_empty() {
                w.record(&image::PageRefs {
                    mm: heir.id,
                    src: self.mm,
                    addrs: &self.addr_bytes,
                })?;
            }
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
            &mut self.pages,
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
    for (i, &a) in addrs.iter().enumerate() {
        let off = (a - start) as usize;
        held.copy_page(i, &mut buf[off..off + image::PAGE_SIZE]);
    }
    Ok(buf)
}

/// The mapping of the plan that holds address `a` (the plan's mappings are ascending
/// and disjoint: the order checker saw to it).
fn vma_at<'a, 'p>(p: &'p Plan<'a>, a: u64) -> Option<&'p image::Vma<'a>> {
    let i = p.vmas.partition_point(|v| v.start <= a);
    let v = p.vmas.get(i.checked_sub(1)?)?;
    (a < v.end).then_some(v)
}

/// Whether address `a` lies in one of the `kept` ranges (ascending).
fn within(kept: &[(u64, u64)], a: u64) -> bool {
    let i = kept.partition_point(|r| r.0 <= a);
    i > 0 && a < kept[i - 1].1
}

/// What restoring the pages keeps track of for copy-on-write sharing: the mappings of
/// the restarter taken over with their pages ([`take_over`]), the pages in them that
/// were given their contents, and the references waiting for their source's pages.
pub(crate) struct Shared<'k> {
    kept: &'k [(u64, u64)],
    restored: KVec<u64>,
    pending: Option<(u32, KVec<u64>)>,
    /// Whether page records are still filled in batches on two CPUs ([`Batch`]):
    /// until a batch's first record could not be.
    batching: bool,
}

impl<'k> Shared<'k> {
    /// For the mappings `kept` that [`restore_mappings`] took over.
    pub(crate) fn new(kept: &'k [(u64, u64)]) -> Self {
        Self {
            kept,
            restored: KVec::new(),
            pending: None,
            batching: true,
        }
    }

    /// Notes the references of `r` if they are this process's.
    fn refs(&mut self, p: &Plan<'_>, r: &image::PageRefs<'_>, why: &mut Reason) -> Result {
        if r.mm != p.mm.id {
            return Ok(());
        }
        if !matches!(&self.pending, Some((src, _)) if *src == r.src) {
            self.pending = Some((r.src, KVec::new()));
        }
        let Some((_, list)) = &mut self.pending else {
            return Err(EINVAL);
        };
        for i in 0..r.count() {
            let a = r.addr(i);
            let ok = vma_at(p, a).is_some_and(|v| {
                matches!(
                    v.backing,
                    backing::ANON | backing::HEAP | backing::STACK | backing::FILE_PRIVATE
                )
            });
            if !ok {
                return Err(why.set(
                    EINVAL,
                    format_args!("page reference {a:#x} outside a private mapping"),
                ));
            }
            list.push(a, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Gives the page at `a` (of mapping `v`) its contents `data`: in a mapping taken
    /// over, the page already there if it holds them (shared with the process this one
    /// was forked from), else a copy.
    fn put(&mut self, v: &image::Vma<'_>, a: u64, data: &[u8]) -> Result {
        let force = v.prot & PROT_WRITE == 0;
        if within(self.kept, a) {
            cur::keep_or_fill(a, data, force)?;
            self.restored.push(a, GFP_KERNEL)?;
            Ok(())
        } else {
            cur::fill_pages(a, data, force)
        }
    }

    /// Applies the references waiting for `pg`, another address space's page record.
    fn source(&mut self, p: &Plan<'_>, pg: &image::Pages<'_>, why: &mut Reason) -> Result {
        let Some((src, addrs)) = self.pending.take() else {
            return Ok(());
        };
        if src != pg.mm {
            return Err(why.set(
                EINVAL,
                format_args!("page references not followed by their source's pages"),
            ));
        }
        let mut i = 0;
        for &a in addrs.iter() {
            while i < pg.count() && pg.addr(i) < a {
                i += 1;
            }
            if i == pg.count() || pg.addr(i) != a || pg.data.is_empty() {
                return Err(why.set(
                    EINVAL,
                    format_args!("page reference {a:#x} not in its source's record"),
                ));
            }
            let v = vma_at(p, a).ok_or(EINVAL)?;
            self.put(v, a, pg.page(i))
                .map_err(|e| why.set(e, format_args!("cannot fill the page at {a:#x}")))?;
        }
        Ok(())
    }

    /// Drops, from the mappings taken over, every page that was not given contents:
    /// what the restarter had there is not the image's.
    fn finish(mut self) -> Result {
        self.restored.sort_unstable();
        for &(s, e) in self.kept {
            let mut at = s;
            let from = self.restored.partition_point(|&a| a < s);
            for &a in self.restored[from..].iter().take_while(|&&a| a < e) {
                if a > at {
                    cur::zap(at, a)?;
                }
                at = a + image::PAGE_SIZE as u64;
            }
            if at < e {
                cur::zap(at, e)?;
            }
        }
        Ok(())
    }
}

/// The restarter's private anonymous mappings that are exactly a run of the image's
/// (adjacent, same protection and flags, anonymous memory): taken over with their
/// pages (the restarter made them and filled them before it forked the processes
/// below it, which then share their pages copy-on-write as the image's did).
/// Ascending.
fn take_over(p: &Plan<'_>) -> Result<KVec<(u64, u64)>> {
    let have = cur::anon_ranges()?;
    let mut kept = KVec::new();
    let mut j = 0;
    for &(s, e, prot, flags) in have.iter() {
        while j < p.vmas.len() && p.vmas[j].start < s {
            j += 1;
        }
        let mut at = s;
        let mut k = j;
        while at < e
            && k < p.vmas.len()
            && p.vmas[k].start == at
            && matches!(
                p.vmas[k].backing,
                backing::ANON | backing::HEAP | backing::STACK
            )
            && p.vmas[k].prot == prot
            && p.vmas[k].flags == flags
        {
            at = p.vmas[k].end;
            k += 1;
        }
        if at == e && k > j {
            kept.push((s, e), GFP_KERNEL)?;
        }
    }
    Ok(kept)
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
        let v = vma_at(p, a)
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
#[allow(clippy::too_many_arguments)]
fn pages_in_place(
    rd: &mut Reader,
    p: &Plan<'_>,
    opened: &Opened,
    h: &RecordHeader,
    buf: &mut KVVec<u8>,
    held: &mut HeldPages,
    shared: &mut Shared<'_>,
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
            shared.source(p, pg, why)?;
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
    // Scattered pages (runs of a page or two, as in a process of many small
    // mappings): one read of the whole record beats a read per run.
    if scattered(&pg) {
        buf.resize(h.len as usize, 0, GFP_KERNEL)?;
        let at = image::Pages::prefix_len(n);
        rd.exact(&mut buf[at..])
            .map_err(|e| page_records(why, Bad::io(e)))?;
        h.verify(buf).map_err(|e| bad(why, e))?;
        let r = AnyRecord::decode(h, buf).map_err(|e| bad(why, e))?;
        if let AnyRecord::Pages(pg) = &r {
            own_pages(p, opened, pg, shared, why)?;
        }
        return rd
            .account
            .feed(h, &r)
            .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())));
    }
    if shared.batching && Batch::run(rd, p, opened, shared, h, buf, why)? {
        return Ok(());
    }
    let mut check = RecordHeader::hasher(h.kind, h.version, h.len);
    check.update(buf);
    // The data, run by run, into place: copied straight from the image's page cache
    // and hashed in the same pass where it can be (one copy, each word read once),
    // else read through the file and hashed right after, on this CPU, while it is
    // still in the cache.
    let r = page_runs(p, &pg, why, |v, a, _, n, force| {
        use crate::timing::{sub_end, sub_start, Sub};
        if let Some(file) = ro_shared(opened, v) {
            // Read-only shared memory cannot be written through the mapping: through
            // its object.
            let mut data = KVVec::from_elem(0u8, n * image::PAGE_SIZE, GFP_KERNEL)?;
            rd.exact(&mut data)?;
            hash_held(held, &mut check);
            check.update(&data);
            return file.write_at(&data, shm_offset(v, a));
        }
        if within(shared.kept, a) {
            // A mapping taken over: its pages may be shared with the parent's, and
            // are kept if they hold the data.
            let mut data = KVVec::from_elem(0u8, n * image::PAGE_SIZE, GFP_KERNEL)?;
            rd.exact(&mut data)?;
            hash_held(held, &mut check);
            check.update(&data);
            for (i, page) in data.chunks(image::PAGE_SIZE).enumerate() {
                shared.put(v, a + (i * image::PAGE_SIZE) as u64, page)?;
            }
            return Ok(());
        }
        let before = held.len();
        let t = sub_start();
        cur::hold_pages(a, n, force, held)?;
        sub_end(Sub::Fault, t);
        if before > 0 {
            // Pages held earlier come first in the record.
            let t = sub_start();
            held.hash_range(0, before, &mut check);
            sub_end(Sub::Hash, t);
        }
        // Straight from the image's page cache where it can be read in place: one
        // copy and the hash in the same pass. The rest through the file.
        let t = sub_start();
        let mut k = before;
        while k < held.len() && held.fill_hash_cached(k, &rd.file, &mut rd.pos, &mut check) {
            k += 1;
        }
        if k < held.len() {
            let got = rd.file.read_pages_from(held, k, &mut rd.pos)?;
            sub_end(Sub::Fill, t);
            if got != (held.len() - k) * image::PAGE_SIZE {
                held.clear();
                return Err(short_read());
            }
            let t = sub_start();
            held.hash_range(k, held.len(), &mut check);
            sub_end(Sub::Hash, t);
        } else {
            sub_end(Sub::Fill, t);
        }
        held.clear();
        Ok(())
    });
    if let Err(e) = r {
        held.clear();
        return Err(if e == short_read() {
            bad(why, image::ImageError::Truncated)
        } else {
            e
        });
    }
    verify(check, h, why)?;
    rd.account
        .feed(h, &AnyRecord::Pages(pg))
        .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))
}

/// Whether the pages of `pg` are scattered (runs of a page or two on average, as
/// in a process of many small mappings): then one read of the whole record beats a
/// read per run.
fn scattered(pg: &image::Pages<'_>) -> bool {
    let n = pg.count();
    let runs = 1
        + (1..n)
            .filter(|&i| pg.addr(i) != pg.addr(i - 1) + image::PAGE_SIZE as u64)
            .count();
    runs * 4 > n
}

/// A page record of a [`Batch`]: its header, its addresses, and where its data
/// starts and ends in the image.
struct Ahead {
    h: RecordHeader,
    prefix: KVVec<u8>,
    data: i64,
    end: i64,
    /// Its first and last page.
    first: u64,
    last: u64,
}

impl Ahead {
    /// The fewest pages worth another CPU's work item.
    const MIN_PAGES: usize = 64;

    /// The record at `at`, if it can be in a batch.
    fn peek(
        rd: &Reader,
        p: &Plan<'_>,
        opened: &Opened,
        shared: &Shared<'_>,
        at: i64,
    ) -> Option<Self> {
        let mut pos = at;
        let mut read = |buf: &mut [u8]| -> Option<()> {
            (rd.file.read_at(buf, &mut pos).ok()? == buf.len()).then_some(())
        };
        let mut hb = [0u8; image::REC_HDR_LEN];
        read(&mut hb)?;
        let (h, known) = RecordHeader::parse(&hb).ok()?;
        if !known || h.kind != kind::PAGES {
            return None;
        }
        let mut prefix = KVVec::new();
        prefix.resize(8, 0, GFP_KERNEL).ok()?;
        read(&mut prefix)?;
        let n = image::Pages::count_from_head(&prefix).ok()?;
        prefix
            .resize(image::Pages::prefix_len(n), 0, GFP_KERNEL)
            .ok()?;
        read(&mut prefix[8..])?;
        Self::of(h, prefix, pos, p, opened, shared)
    }

    /// The record `h` whose addresses are `prefix` and whose data starts at `data`,
    /// if it can be in a batch: of the caller's own pages, in runs, in private
    /// anonymous mappings (heap, stack, anonymous; not one taken over).
    fn of(
        h: RecordHeader,
        prefix: KVVec<u8>,
        data: i64,
        p: &Plan<'_>,
        opened: &Opened,
        shared: &Shared<'_>,
    ) -> Option<Self> {
        if prefix.len() < 8
            || u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) != p.mm.id
        {
            return None;
        }
        let n = image::Pages::count_from_head(&prefix).ok()?;
        let len = image::Pages::prefix_len(n);
        if n < Self::MIN_PAGES || len != prefix.len() || len > h.len as usize {
            return None;
        }
        let pg = image::Pages::decode_prefix(&prefix, h.len).ok()?;
        if scattered(&pg) {
            return None;
        }
        // Only anonymous memory: its faults read no file, so the work item (which
        // no signal stops, and which the caller waits for uninterruptibly) never
        // waits for a file system (a FUSE server, a hard NFS mount).
        let mut plain = true;
        let mut why = Reason::new();
        page_runs(p, &pg, &mut why, |v, a, _, _, _| {
            plain &= matches!(v.backing, backing::ANON | backing::HEAP | backing::STACK)
                && ro_shared(opened, v).is_none()
                && !within(shared.kept, a);
            Ok(())
        })
        .ok()?;
        let (first, last) = (pg.addr(0), pg.addr(n - 1));
        plain.then(|| Self {
            h,
            data,
            end: data + (h.len as usize - len) as i64,
            first,
            last,
            prefix,
        })
    }

    /// Fills the record's pages in `mm` (the caller's, from another CPU) from
    /// `file`'s page cache, hashing them as they are copied: true if every page was
    /// and the record's check holds.
    fn fill(&self, mm: &kernel::mm::MmWithUser, file: &FileRef, p: &Plan<'_>) -> bool {
        let Ok(pg) = image::Pages::decode_prefix(&self.prefix, self.h.len) else {
            return false;
        };
        let Ok(mut held) = HeldPages::with_capacity(pg.count()) else {
            return false;
        };
        let mut check = RecordHeader::hasher(self.h.kind, self.h.version, self.h.len);
        check.update(&self.prefix);
        let mut pos = self.data;
        let mut why = Reason::new();
        let r = page_runs(p, &pg, &mut why, |_, a, _, n, force| {
            cur::hold_pages_of(mm, a, n, force, &mut held)?;
            let mut k = 0;
            while k < n && held.fill_hash_cached(k, file, &mut pos, &mut check) {
                k += 1;
            }
            held.clear();
            if k < n {
                return Err(EAGAIN);
            }
            Ok(())
        });
        r.is_ok()
            && pos == self.end
            && RecordHeader::seal(self.h.kind, self.h.version, self.h.len, &check).check
                == self.h.check
    }

    /// The record was filled: on past it, fed to the order checker.
    fn done(&self, rd: &mut Reader, why: &mut Reason) -> Result {
        let pg = image::Pages::decode_prefix(&self.prefix, self.h.len)
            .map_err(|e| page_records(why, Bad::Image(e)))?;
        rd.pos = self.end;
        rd.account
            .feed(&self.h, &AnyRecord::Pages(pg))
            .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))
    }
}

/// Page records filled on two CPUs ([`crate::sys::cpus::both`]): the record whose
/// header was just read and those that follow it, read ahead (headers and
/// addresses only) from an image in a regular file, while they can be (see
/// [`Ahead::of`]), in ascending order of pages, up to [`Batch::MAX`]. Both CPUs
/// take the next record not taken yet, until none is left, so that one whose work
/// item runs late (a busy machine) only leaves more records to the other; each
/// record is filled straight from the image's page cache, hashed as it is copied,
/// as [`pages_in_place`] fills it. In order then, the records filled with their
/// check holding are taken as read, up to the first that was not (not cached, a
/// fault, a bad check): that one is read again as if there had been no batch, by
/// [`pages_in_place`], whose reading alone decides and reports what is wrong with
/// it. If a batch's first record could not be filled, no more batches are made.
struct Batch;

impl Batch {
    /// Most records in one batch (2 MiB each, at most).
    const MAX: usize = 16;

    /// Fills the page record `h`, whose addresses are in `buf` and whose data starts
    /// at `rd.pos`, and those after it, in a batch: true if it was taken as read
    /// (and maybe more records after it), false if it is left to the caller.
    fn run(
        rd: &mut Reader,
        p: &Plan<'_>,
        opened: &Opened,
        shared: &mut Shared<'_>,
        h: &RecordHeader,
        buf: &[u8],
        why: &mut Reason,
    ) -> Result<bool> {
        let me = kernel::current!();
        let Some(mm) = me.mm() else {
            return Ok(false);
        };
        if !rd.file.is_regular()
            || crate::compat::param::<u32>(crate::module_parameters::cpus.value()) < 2
        {
            shared.batching = false;
            return Ok(false);
        }
        let mut prefix = KVVec::new();
        prefix.extend_from_slice(buf, GFP_KERNEL)?;
        let Some(first) = Ahead::of(*h, prefix, rd.pos, p, opened, shared) else {
            return Ok(false);
        };
        let mut recs = KVec::with_capacity(Self::MAX, GFP_KERNEL)?;
        let (mut end, mut last) = (first.end, first.last);
        recs.push(first, GFP_KERNEL)?;
        while recs.len() < Self::MAX {
            match Ahead::peek(rd, p, opened, shared, end) {
                Some(a) if a.first > last => {
                    (end, last) = (a.end, a.last);
                    recs.push(a, GFP_KERNEL)?;
                }
                _ => break,
            }
        }
        if recs.len() < 2 {
            return Ok(false);
        }
        let next = AtomicUsize::new(0);
        let mut filled = KVec::with_capacity(recs.len(), GFP_KERNEL)?;
        for _ in 0..recs.len() {
            filled.push(AtomicBool::new(false), GFP_KERNEL)?;
        }
        let file = rd.file.clone();
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(r) = recs.get(i) else {
                break;
            };
            if r.fill(mm, &file, p) {
                filled[i].store(true, Ordering::Release);
            }
        };
        let t = crate::timing::sub_start();
        crate::sys::cpus::both(work, work);
        crate::timing::sub_end(crate::timing::Sub::Fill, t);
        let ok = filled
            .iter()
            .take_while(|f| f.load(Ordering::Acquire))
            .count();
        if ok == 0 {
            shared.batching = false;
            return Ok(false);
        }
        for r in &recs[..ok] {
            r.done(rd, why)?;
        }
        Ok(true)
    }
}

/// The executable link (`/proc/PID/exe`): the image's program, opened as exec opens
/// it (regular, executable for the caller, not on a `noexec` mount, no writer; its
/// writes are then denied). A set-ID program only for a caller who may masquerade
/// ([`crate::access::may_name_setid_exe`], asked of the restarter's credentials;
/// the program is opened with the image's). By the leader in phase 2: a failure
/// leaves the caller as it was but for its link, and it exits.
pub(crate) fn restore_exe(
    p: &Plan<'_>,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result {
    if p.mm.exe.is_empty() {
        return Ok(());
    }
    let path = files::path_z(p.mm.exe)?;
    let setid = crate::access::may_name_setid_exe();
    let _as = creds.apply()?;
    shim::cur_attrs::set_exe(&path, setid).map_err(|e| {
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
/// leader, past the point of no return; the pages follow: [`restore_pages`]). Returns
/// the mappings taken over from the caller ([`take_over`]).
#[inline(never)]
pub(crate) fn restore_mappings(
    p: &Plan<'_>,
    sess: &Session,
    opened: &mut Opened,
    why: &mut Reason,
) -> Result<KVec<(u64, u64)>> {
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
    let kept = take_over(p)?;
    cur::unmap_all(specials, &kept)?;
    cur::set_rseq(0, 0, 0)?;
    // Mappings with madvise() properties first, each given them at once: mapped next
    // to a neighbour that has them already, a mapping without them is not merged
    // into it (nor it into the neighbour). The shared mappings of write-sealed
    // memfds come last, once sealed ([`restore_sealed_mappings`]).
    let fresh = |v: &&Vma<'_>| !shm::write_sealed(p, v) && !within(&kept, v.start);
    for v in p.vmas.iter().filter(fresh) {
        if advice(v) != 0 {
            keep_ro_shared(opened, v, map_vma(p, sess, opened, v, why)?)?;
        }
    }
    for v in p.vmas.iter().filter(fresh) {
        crate::fault::step_why(crate::fault::Op::Restart, "a mapping", why)?;
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
    Ok(kept)
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
        (vmflag::WIPEONFORK, adv::WIPEONFORK),
        (vmflag::SEQUENTIAL, adv::SEQUENTIAL),
        (vmflag::RANDOM, adv::RANDOM),
        (vmflag::MERGEABLE, adv::MERGEABLE),
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
    // Not accounted against the commit limit, as mmap(MAP_NORESERVE) made it.
    if v.flags & image::vmflag::NORESERVE != 0 {
        flags |= MAP_NORESERVE;
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

/// Applies `pg`, a page record of this process read whole and checked.
fn own_pages(
    p: &Plan<'_>,
    opened: &Opened,
    pg: &image::Pages<'_>,
    shared: &mut Shared<'_>,
    why: &mut Reason,
) -> Result {
    page_runs(p, pg, why, |v, a, i, n, force| {
        let ps = image::PAGE_SIZE;
        let data = &pg.data[i * ps..(i + n) * ps];
        if let Some(file) = ro_shared(opened, v) {
            return file.write_at(data, shm_offset(v, a));
        }
        if !within(shared.kept, a) {
            return cur::fill_pages(a, data, force);
        }
        for (j, page) in data.chunks(ps).enumerate() {
            shared.put(v, a + (j * ps) as u64, page)?;
        }
        Ok(())
    })
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
    kept: &[(u64, u64)],
    why: &mut Reason,
) -> Result {
    let mut shared = Shared::new(kept);
    // The pages.  Phase 1 read the header of the first page record (`Stop::Unread`)
    // or, for another first record, all of it, which is applied from `buf`; each
    // page record is read straight into place: its addresses first, checked, then
    // its data into the pages they name, and its check is verified over those
    // pages (each run hashed as soon as it is filled).  A bad
    // record stops the restart there, as a bad record found before it was applied
    // would: past the point of no return, the process is killed.
    let mut held = HeldPages::with_capacity(image::MAX_PAGES_PER_RECORD as usize)?;
    let (mut h, mut stop) = first;
    let mut buffered = true;
    if stop == Stop::Unread {
        pages_in_place(rd, p, opened, &h, buf, &mut held, &mut shared, why)?;
        (stop, buffered) = (Stop::Pages, false);
    }
    loop {
        crate::fault::step_why(crate::fault::Op::Restart, "a page record", why)?;
        if buffered {
            let r = AnyRecord::decode(&h, buf).map_err(|_| EINVAL)?;
            match &r {
                AnyRecord::Pages(pg) if pg.mm == p.mm.id => {
                    own_pages(p, opened, pg, &mut shared, why)?
                }
                AnyRecord::Pages(pg) => {
                    shared.source(p, pg, why)?;
                    shm::fill_memfd(opened, pg, why)?;
                }
                AnyRecord::PageRefs(r) => shared.refs(p, r, why)?,
                _ => {}
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
            pages_in_place(rd, p, opened, &h, buf, &mut held, &mut shared, why)?;
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
            Ok(AnyRecord::Pages(_) | AnyRecord::PageRefs(_)) => Stop::Pages,
            Ok(AnyRecord::End(_)) => Stop::End,
            _ => return Err(why.set(EINVAL, format_args!("unexpected record among the pages"))),
        };
    }
    shared.finish()
}

/// Hashes the pages `held` holds into `check` (in order, before data that follows
/// them in the record) and drops them. Each page is read in place word by word,
/// never viewed as a slice: another process of the restart may share it and write
/// it meanwhile (the check then fails, as it would have over a copy).
fn hash_held(held: &mut HeldPages, check: &mut image::Hasher) {
    let t = crate::timing::sub_start();
    held.hash_all(check);
    crate::timing::sub_end(crate::timing::Sub::Hash, t);
    held.clear();
}

/// Verifies record `h`'s check, `check` over its whole payload.
fn verify(check: image::Hasher, h: &RecordHeader, why: &mut Reason) -> Result {
    if RecordHeader::seal(h.kind, h.version, h.len, &check).check != h.check {
        return Err(page_records(
            why,
            Bad::Image(image::ImageError::BadCheck { kind: h.kind }),
        ));
    }
    Ok(())
}
