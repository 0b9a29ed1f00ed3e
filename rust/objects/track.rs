// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking for incremental checkpoints.
//!
//! A checkpoint with [`uapi::CKPT_CHECKPOINT_TRACK`] clears the kernel's soft-dirty
//! bits of its target while the target is still held (after the image is written,
//! so that the image holds exactly what the cleared pages hold), gives the image a
//! random track id, and remembers `(address space, track id, image account)`. A
//! checkpoint with [`uapi::CKPT_CHECKPOINT_PARENT`] names that id: it is accepted
//! only if it is the last tracking checkpoint of that very address space (held
//! with `mmgrab`, so the address cannot be reused). Its pages are scanned
//! (`PAGEMAP_SCAN`): a page that is present (or swapped), not soft-dirty, not the
//! zero page and not a page-cache page has not been written since the parent was
//! taken and is given as a reference to the parent image; everything else is
//! dumped as in a full checkpoint.
//!
//! Exact by the kernel's soft-dirty rules: every write fault, copy-on-write
//! (fork) and THP collapse sets the bit; a new mapping (`munmap` + `mmap` at the
//! same place), and one a new mapping was merged into, is soft-dirty as a whole
//! (`VM_SOFTDIRTY`); a page zapped by `MADV_DONTNEED` (or unmapped and mapped
//! again) is absent or the zero page: never referenced, so it is a hole after the
//! chain is resolved. What the bit does not see is treated as written: mappings KSM
//! may merge (`VM_MERGEABLE`: a merge drops the bit), address spaces with
//! long-term pinned pages (written behind the page tables), shared mappings
//! (written through other address spaces), and pages that moved: `mremap` marks
//! the entries it moves one by one, but moves whole page tables (2 MiB-aligned
//! extents) with their bits as they were. So the tracking checkpoint remembers
//! each mapping's lineage (`anon_vma`, file, and `vm_pgoff` relative to its
//! address, which a move keeps) and a page is taken from the parent only where
//! the mapping at its address now is, by lineage, the parent's mapping there.

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, StreamAccount};
use crate::shim::MmRef;
use crate::uapi::{self, CkptIncr};
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::mm::Mm;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::uaccess::{UserPtr, UserSlice};

mod ffi {
    use core::ffi::c_void;

    /// `struct ckpt_region` (`struct page_region`).
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub(crate) struct Region {
        pub(crate) start: u64,
        pub(crate) end: u64,
        pub(crate) categories: u64,
    }

    /// `struct ckpt_vma_id`: a mapping and where its pages come from.
    #[repr(C)]
    #[derive(Clone, Copy, Default, PartialEq, Eq)]
    pub(crate) struct VmaId {
        pub(crate) start: u64,
        pub(crate) end: u64,
        /// `vm_pgoff - (vm_start >> PAGE_SHIFT)`: changed by a move (`mremap`).
        pub(crate) rel: u64,
        /// The `anon_vma` (the lineage of its anonymous pages), only compared.
        pub(crate) anon: u64,
        /// The file, only compared.
        pub(crate) file: u64,
    }

    extern "C" {
        pub(super) fn ckpt_track_layout(mm: *mut c_void, out: *mut VmaId, max: u32) -> isize;
        pub(super) fn ckpt_track_supported() -> bool;
        pub(super) fn ckpt_track_files(
            mm: *mut c_void,
            pagemap_fd: i32,
            clear_refs_fd: i32,
            pm: *mut *mut c_void,
            cr: *mut *mut c_void,
        ) -> i32;
        pub(super) fn ckpt_track_scan(
            pm: *mut c_void,
            start: u64,
            end: u64,
            scratch: u64,
            len: u64,
            out: *mut Region,
            max: u32,
            walk_end: *mut u64,
        ) -> isize;
        pub(super) fn ckpt_track_clear(cr: *mut c_void, scratch: u64) -> i32;
    }
}

use ffi::{Region, VmaId};

/// The mappings of the held address space `mm`, ascending.
fn layout(mm: *mut c_void) -> Result<KVVec<VmaId>> {
    // SAFETY: `mm` is held by the caller.
    let mut cap = unsafe { crate::sys::mm::map_count(mm.cast()) } as usize + 16;
    loop {
        let mut v = KVVec::from_elem(VmaId::default(), cap, GFP_KERNEL)?;
        // SAFETY: `mm` is held; `v` has room for `cap` entries.
        let n = unsafe { ffi::ckpt_track_layout(mm, v.as_mut_ptr(), cap as u32) };
        if n == -(kernel::bindings::E2BIG as isize) && cap < (1 << 24) {
            cap *= 2;
            continue;
        }
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        v.truncate(n as usize);
        return Ok(v);
    }
}

/// The anonymous lineages (`anon_vma`) that two mappings of `l` share over the same
/// page offsets (as `mremap(MREMAP_DONTUNMAP)` leaves them): their pages cannot be
/// told apart by lineage and offset. Appended to `out`.
fn ambiguous(l: &[VmaId], out: &mut KVVec<u64>) -> Result {
    let mut v: KVVec<(u64, u64, u64)> = KVVec::with_capacity(l.len(), GFP_KERNEL)?;
    for m in l.iter().filter(|m| m.anon != 0) {
        let first = m.rel.wrapping_add(m.start >> 12);
        v.push(
            (m.anon, first, first.wrapping_add((m.end - m.start) >> 12)),
            GFP_KERNEL,
        )?;
    }
    v.sort_unstable();
    for w in v.windows(2) {
        if w[0].0 == w[1].0 && w[1].1 < w[0].2 {
            out.push(w[0].0, GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// The address ranges (ascending, disjoint) where the address space `now` has the
/// same mapping, by lineage, file and offset, as `then` had: only there can a page
/// whose soft-dirty bit is clear be the page the parent image holds at its address.
/// Elsewhere the pages came from another place (a mapping moved by `mremap`, whose
/// whole page tables the kernel may move with their bits clear) or are new.
fn trusted(then: &[VmaId], now: &[VmaId]) -> Result<KVVec<(u64, u64)>> {
    let mut amb = KVVec::new();
    ambiguous(then, &mut amb)?;
    ambiguous(now, &mut amb)?;
    amb.sort_unstable();
    let mut out: KVVec<(u64, u64)> = KVVec::new();
    let (mut i, mut j) = (0, 0);
    while i < then.len() && j < now.len() {
        let (p, c) = (&then[i], &now[j]);
        let (s, e) = (p.start.max(c.start), p.end.min(c.end));
        if s < e
            && (p.rel, p.anon, p.file) == (c.rel, c.anon, c.file)
            && amb.binary_search(&c.anon).is_err()
        {
            match out.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => out.push((s, e), GFP_KERNEL)?,
            }
        }
        if p.end <= c.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    Ok(out)
}

// SAFETY: All-integer `repr(C)` struct without padding: any bit pattern is valid.
unsafe impl kernel::transmute::FromBytes for CkptIncr {}
// SAFETY: As above; every byte is initialised.
unsafe impl kernel::transmute::AsBytes for CkptIncr {}

// `PAGE_IS_*` of PAGEMAP_SCAN.
const PAGE_IS_FILE: u64 = 1 << 2;
const PAGE_IS_PFNZERO: u64 = 1 << 5;
const PAGE_IS_SOFT_DIRTY: u64 = 1 << 7;
const PAGE_IS_GUARD: u64 = 1 << 8;

/// Whether the kernel has soft-dirty bits (`CONFIG_MEM_SOFT_DIRTY`).
pub(crate) fn supported() -> bool {
    // SAFETY: No preconditions.
    unsafe { ffi::ckpt_track_supported() }
}

/// A file reference taken by `ckpt_track_files`.
///
/// # Invariants
///
/// `self.0` is a `struct file` on which this object holds a reference.
struct TrackFile(NonNull<c_void>);

impl Drop for TrackFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference.
        unsafe { kernel::bindings::fput(self.0.as_ptr().cast()) };
    }
}

/// The last tracking checkpoint of an address space.
struct Entry {
    /// The `mm_struct` (an `mmgrab` reference: its address is not reused).
    mm: ARef<Mm>,
    id: u64,
    account: StreamAccount,
    /// Its mappings when the track id was given.
    layout: KVVec<VmaId>,
}

/// The remembered tracking checkpoints, oldest first.
pub(crate) struct Tracks(KVec<Entry>);

/// Most address spaces remembered; the oldest is forgotten (its next incremental
/// checkpoint is refused) when a new one comes.
const MAX_TRACKED: usize = 64;

impl Tracks {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Self(KVec::new())
    }

    fn find(&self, mm: usize) -> Option<&Entry> {
        self.0.iter().find(|e| e.mm.as_raw() as usize == mm)
    }

    fn set(&mut self, mm: usize, id: u64, account: StreamAccount, layout: KVVec<VmaId>) -> Result {
        if let Some(e) = self.0.iter_mut().find(|e| e.mm.as_raw() as usize == mm) {
            e.id = id;
            e.account = account;
            e.layout = layout;
            return Ok(());
        }
        if self.0.len() >= MAX_TRACKED {
            self.0.remove(0)?;
        }
        // SAFETY: `mm` is a live `mm_struct` (the caller holds an `mmget` on it).
        let mm: ARef<Mm> = unsafe { Mm::from_raw(mm as *const kernel::bindings::mm_struct) }.into();
        self.0.push(
            Entry {
                mm,
                id,
                account,
                layout,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Forgets everything (module unload).
    pub(crate) fn forget(&mut self) {
        // A new, empty vector: `clear` would keep the old one's buffer, which a
        // static never frees (kmemleak found it after rmmod).
        self.0 = KVec::new();
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before the device is registered.
    pub(crate) unsafe(uninit) static TRACKS: Mutex<Tracks> = Tracks::new();
}

/// What the caller asked of an incremental or tracking checkpoint.
pub(crate) struct Request {
    /// The caller's [`CkptIncr`].
    pub(crate) args: CkptIncr,
    /// The parent's path (with [`uapi::CKPT_CHECKPOINT_PARENT`]).
    path: KVec<u8>,
    parent: bool,
    track: bool,
}

impl Request {
    /// Reads the [`CkptIncr`] at `addr` for a checkpoint with `flags`.
    pub(crate) fn read(addr: u64, flags: u64) -> Result<Option<Self>> {
        let parent = flags & uapi::CKPT_CHECKPOINT_PARENT != 0;
        let track = flags & uapi::CKPT_CHECKPOINT_TRACK != 0;
        if !parent && !track {
            return if addr == 0 { Ok(None) } else { Err(EINVAL) };
        }
        if addr == 0 {
            return Err(EINVAL);
        }
        let size = core::mem::size_of::<CkptIncr>();
        let args: CkptIncr = UserSlice::new(UserPtr::from_addr(addr as usize), size)
            .reader()
            .read()?;
        if args.pad != 0
            || args.reserved != 0
            || args.scratch_len < uapi::CKPT_INCR_SCRATCH_MIN
            || (parent && (args.parent == 0 || args.path_len == 0))
            || args.path_len as usize > image::MAX_PATH_LEN
        {
            return Err(EINVAL);
        }
        let mut path = KVec::new();
        if parent {
            path = UserSlice::new(
                UserPtr::from_addr(args.path as usize),
                args.path_len as usize,
            )
            .reader()
            .read_all(&mut path, GFP_KERNEL)
            .map(|_| path)?;
        }
        Ok(Some(Self {
            args,
            path,
            parent,
            track,
        }))
    }

    /// Writes [`CkptIncr::track_id`] back to the caller.
    pub(crate) fn write_back(&self, addr: u64) -> Result {
        let size = core::mem::size_of::<CkptIncr>();
        UserSlice::new(UserPtr::from_addr(addr as usize), size)
            .writer()
            .write(&self.args)
    }
}

/// An incremental or tracking checkpoint of one held address space.
pub(crate) struct Session {
    pm: TrackFile,
    cr: Option<TrackFile>,
    mm: usize,
    scratch: u64,
    scratch_len: u64,
    /// With a parent: its track id and account, and its path.
    pub(crate) parent: Option<(u64, StreamAccount)>,
    /// With tracking: the new track id.
    pub(crate) track: Option<u64>,
}

impl Session {
    /// Checks `req` against the held target's address space `m`.
    pub(crate) fn start(req: &Request, m: &MmRef, why: &mut Reason) -> Result<Self> {
        let mm = m.as_raw();
        let (mut pm, mut cr) = (core::ptr::null_mut(), core::ptr::null_mut());
        let crfd = if req.track {
            req.args.clear_refs_fd
        } else {
            -1
        };
        // SAFETY: `mm` is held (`mmget`) for the call; the out pointers are valid.
        let r = unsafe { ffi::ckpt_track_files(mm, req.args.pagemap_fd, crfd, &mut pm, &mut cr) };
        if r == -(kernel::bindings::EOPNOTSUPP as i32) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "incremental checkpoints need soft-dirty bits (CONFIG_MEM_SOFT_DIRTY), \
                     which this kernel lacks"
                ),
            ));
        }
        if r < 0 {
            return Err(why.set(
                Error::from_errno(r),
                format_args!(
                    "the pagemap and clear_refs files given are not the target's /proc files"
                ),
            ));
        }
        // By `ckpt_track_files`: a non-null pointer carries a reference.
        let pm = TrackFile(NonNull::new(pm).ok_or(EINVAL)?);
        let cr = NonNull::new(cr).map(TrackFile);
        let parent = if req.parent {
            let t = TRACKS.lock();
            match t.find(mm as usize) {
                Some(e) if e.id == req.args.parent => Some((e.id, e.account)),
                Some(_) => {
                    return Err(why.set(
                        EINVAL,
                        format_args!(
                            "the parent image is not the last tracking checkpoint of the \
                             process (a later one was taken): take a full checkpoint"
                        ),
                    ))
                }
                None => {
                    return Err(why.set(
                        EINVAL,
                        format_args!(
                            "the process has no dirty tracking from the parent image (not \
                             taken with tracking, another process, or the module was reloaded)"
                        ),
                    ))
                }
            }
        } else {
            None
        };
        let track = if req.track {
            // SAFETY: No preconditions.
            Some(unsafe { kernel::bindings::get_random_u64() }.max(1))
        } else {
            None
        };
        Ok(Self {
            pm,
            cr,
            mm: mm as usize,
            scratch: req.args.scratch,
            scratch_len: req.args.scratch_len,
            parent,
            track,
        })
    }

    /// The parent record of the image, if it has a parent.
    pub(crate) fn parent_record<'a>(&self, req: &'a Request) -> Option<image::Parent<'a>> {
        self.parent.map(|(track, account)| image::Parent {
            track,
            account,
            path: &req.path,
        })
    }

    /// What changed since the parent: the scan of the whole address space, or `None`
    /// without a parent.
    pub(crate) fn changes(&self, m: &MmRef) -> Result<Option<Changes>> {
        if self.parent.is_none() {
            return Ok(None);
        }
        // SAFETY: The mm is held.
        let pins = unsafe { crate::sys::mm::has_pins(m.as_raw().cast()) };
        let mut regions = KVVec::new();
        let chunk = 4096usize;
        let mut buf = KVec::from_elem(Region::default(), chunk, GFP_KERNEL)?;
        let mut start = 0u64;
        let end = image::USER_ADDR_END;
        while start < end {
            let mut walk_end = 0u64;
            // SAFETY: `pm` is held; `buf` has room for `chunk` regions.
            let n = unsafe {
                ffi::ckpt_track_scan(
                    self.pm.0.as_ptr(),
                    start,
                    end,
                    self.scratch,
                    self.scratch_len,
                    buf.as_mut_ptr(),
                    chunk as u32,
                    &mut walk_end,
                )
            };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            regions.extend_from_slice(&buf[..n as usize], GFP_KERNEL)?;
            if walk_end <= start {
                return Err(EIO);
            }
            start = walk_end;
        }
        let now = layout(m.as_raw())?;
        let trusted = match TRACKS.lock().find(self.mm) {
            Some(e) if Some(e.id) == self.parent.map(|p| p.0) => trusted(&e.layout, &now)?,
            // Forgotten since the start (another tracking checkpoint): trust nothing.
            _ => KVVec::new(),
        };
        Ok(Some(Changes {
            regions,
            trusted,
            pins,
        }))
    }

    /// After the image is written (the target still held): starts tracking anew,
    /// remembering the image's `account` under the new track id.
    pub(crate) fn finish(&self, account: StreamAccount, why: &mut Reason) -> Result {
        let (Some(id), Some(cr)) = (self.track, self.cr.as_ref()) else {
            return Ok(());
        };
        // SAFETY: `cr` is held; the scratch buffer is the caller's user memory.
        let r = unsafe { ffi::ckpt_track_clear(cr.0.as_ptr(), self.scratch) };
        if r < 0 {
            return Err(why.set(
                Error::from_errno(r),
                format_args!("clearing the soft-dirty bits failed"),
            ));
        }
        let l = layout(self.mm as *mut c_void)?;
        TRACKS.lock().set(self.mm, id, account, l)
    }
}

/// The pages of an address space as the scan found them.
pub(crate) struct Changes {
    /// Present or swapped pages, ascending, with their `PAGE_IS_*` categories.
    regions: KVVec<Region>,
    /// Where the mappings are those of the parent (see [`trusted`]): ascending.
    trusted: KVVec<(u64, u64)>,
    /// Pages may be written behind the page tables: nothing is taken from the parent.
    pins: bool,
}

impl Changes {
    /// Whether the pages of a mapping with `vm_flags` can be taken from the parent
    /// where the scan says so.
    pub(crate) fn usable(&self, vm_flags: u64) -> bool {
        !self.pins && vm_flags & kernel::bindings::VM_MERGEABLE as u64 == 0
    }

    /// Calls `f(start, end, from_parent)` for the pieces of `[start, end)` that hold
    /// pages, in order: `from_parent` when they are unchanged since the parent.
    pub(crate) fn for_each(
        &self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, u64, bool) -> Result,
    ) -> Result {
        let i = self.regions.partition_point(|r| r.end <= start);
        for r in self.regions[i..].iter() {
            if r.start >= end {
                break;
            }
            let (s, e) = (r.start.max(start), r.end.min(end));
            let changed = PAGE_IS_SOFT_DIRTY | PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_GUARD;
            if r.categories & changed != 0 {
                f(s, e, false)?;
                continue;
            }
            // Unchanged by the bit: from the parent only where the mapping is the
            // parent's own.
            let mut a = s;
            let mut k = self.trusted.partition_point(|t| t.1 <= a);
            while a < e {
                match self.trusted.get(k) {
                    Some(&(ts, te)) if ts <= a => {
                        let b = te.min(e);
                        f(a, b, true)?;
                        a = b;
                        k += 1;
                    }
                    Some(&(ts, _)) if ts < e => {
                        f(a, ts, false)?;
                        a = ts;
                    }
                    _ => {
                        f(a, e, false)?;
                        a = e;
                    }
                }
            }
        }
        Ok(())
    }
}
