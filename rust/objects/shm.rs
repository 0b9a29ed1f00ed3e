// SPDX-License-Identifier: GPL-2.0

//! Shared memory objects: shared anonymous memory (shmem), memfds (contents and
//! seals) and SysV shared memory segments. Saved as file records that mappings and
//! fds refer to; restored once per session (shmem), by the process that made them
//! (memfd contents and seals), or taken from the caller (SysV segments, which
//! `ckpt restart` attaches).

use super::files::{path_str, path_z, Opened};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, filekind, FileRec};
use crate::restart::{refuse, Plan};
use crate::session::Session;
use crate::shim::{self, cur, FileRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// Pages per memfd page record.
const BATCH: usize = image::MAX_PAGES_PER_RECORD as usize;

// ---------------------------------------------------------------------------
// Checkpoint.

/// Refuses a shared anonymous mapping the image cannot describe faithfully.
pub(crate) fn precheck_shared_anon(f: &FileRef, addr: u64, why: &mut Reason) -> Result {
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (fi, n) = f.info(&mut path)?;
    if path[..n].starts_with(b"/SYSV") && (n < 13 || fi.ino > i32::MAX as u64) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "mapping at {addr:#x}: SysV shared memory {} is not understood",
                path_str(&path[..n])
            ),
        ));
    }
    Ok(())
}

/// Writes (once) the shared anonymous memory object behind a mapping; returns its id.
pub(crate) fn define_shmem(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    f: &FileRef,
    path: &mut KVec<u8>,
) -> Result<u32> {
    let (fi, n) = f.info(path)?;
    if path[..n].starts_with(b"/SYSV") {
        // A SysV segment: one object for all its attachments (each has a file of
        // its own, all on the segment's inode).
        if let Some(id) = objs.get(fi.inode_key) {
            return Ok(id);
        }
        let id = objs.define(fi.inode_key)?;
        w.record(&FileRec {
            id,
            kind: filekind::SYSVSHM,
            flags: fi.flags,
            mode: fi.mode,
            pos: 0,
            size: fi.size,
            mtime_ns: 0,
            rdev: fi.ino as u32,
            pipe: 0,
            path: &path[..n],
        })?;
        return Ok(id);
    }
    if let Some(id) = objs.get(f.key()) {
        return Ok(id);
    }
    let id = objs.define(f.key())?;
    w.record(&FileRec {
        id,
        kind: filekind::SHMEM,
        flags: fi.flags,
        mode: fi.mode,
        pos: 0,
        size: fi.size,
        mtime_ns: 0,
        rdev: 0,
        pipe: 0,
        path: b"",
    })?;
    Ok(id)
}

/// Writes the contents of memfd `id` (`file`, `size` bytes): its pages that are not
/// all zeros, each named by its offset in the file.
pub(crate) fn write_memfd_pages(
    w: &mut ImageWriter<'_>,
    id: u32,
    file: &FileRef,
    size: u64,
) -> Result {
    let mut chunk = KVVec::from_elem(0u8, BATCH * image::PAGE_SIZE, GFP_KERNEL)?;
    let mut data = KVVec::with_capacity(BATCH * image::PAGE_SIZE, GFP_KERNEL)?;
    let mut addrs = KVec::with_capacity(BATCH * 8, GFP_KERNEL)?;
    // Holes are zeros: skipped without reading them (through a file of ckpt's own,
    // whose position the search may move).
    let holes = file.reopen(0, false)?;
    let mut off = 0u64;
    while off < size {
        match holes.data_from(off)? {
            Some((data, _)) => off = off.max(data & !(image::PAGE_SIZE as u64 - 1)),
            None => break,
        }
        let mut pos = off as i64;
        let got = file.read_at(&mut chunk, &mut pos)?;
        if got == 0 {
            break;
        }
        data.clear();
        addrs.clear();
        for (i, page) in chunk[..got].chunks(image::PAGE_SIZE).enumerate() {
            if page.iter().all(|&b| b == 0) {
                continue;
            }
            data.extend_from_slice(page, GFP_KERNEL)?;
            // A short last page is padded with zeros.
            for _ in page.len()..image::PAGE_SIZE {
                data.push(0, GFP_KERNEL)?;
            }
            addrs.extend_from_slice(
                &(off + (i * image::PAGE_SIZE) as u64).to_le_bytes(),
                GFP_KERNEL,
            )?;
        }
        if !addrs.is_empty() {
            w.record(&image::Pages {
                mm: id,
                addrs: &addrs,
                data: &data,
            })?;
        }
        off += got as u64;
        if shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// Creates memfd `f` with its size, mode, flags and offset (contents and seals come
/// after the pages: [`fill_memfd`], [`seal_memfds`]).
pub(crate) fn open_memfd(f: &image::FileRec<'_>, why: &mut Reason) -> Result<FileRef> {
    // "/memfd:NAME (deleted)" -> NAME
    let name = f.path.strip_prefix(b"/memfd:").unwrap_or(f.path);
    let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
    let name = path_z(name)?;
    let name = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
    let file = shim::memfd_new(name, f.size, f.mode)
        .map_err(|e| refuse(why, e, format_args!("cannot create {}", path_str(f.path))))?;
    file.set_flags(f.flags);
    file.seek(f.pos)
        .map_err(|e| refuse(why, e, format_args!("cannot seek {}", path_str(f.path))))?;
    Ok(file)
}

/// The caller's attachment of SysV segment `f`: the restarter attached the segment
/// (`ckpt restart` does), its mapping is mapped again where the image had it.
pub(crate) fn attached_sysv(f: &image::FileRec<'_>, why: &mut Reason) -> Result<FileRef> {
    cur::sysv_file(u64::from(f.rdev)).ok_or_else(|| {
        refuse(
            why,
            EINVAL,
            format_args!(
                "SysV shared memory segment {} ({}) is not attached by the caller",
                f.rdev,
                path_str(f.path)
            ),
        )
    })
}

/// The shared memory object of the session behind shared anonymous file `id` (one
/// for every process that maps it).
pub(crate) fn shared_anon(
    p: &Plan<'_>,
    sess: &Session,
    id: u32,
    why: &mut Reason,
) -> Result<FileRef> {
    let size = p.file(id).ok_or(EINVAL)?.size;
    sess.shmem(id, size).map_err(|e| {
        why.set(
            e,
            format_args!("cannot create shared memory of {size} bytes"),
        )
    })
}

/// Writes the contents of memfd `pg.mm` if this process made it (else nothing: another
/// process's pages, checked and skipped).
pub(crate) fn fill_memfd(opened: &Opened, pg: &image::Pages<'_>, why: &mut Reason) -> Result {
    // A deleted file (or a memfd in flight not open for writing) through a
    // writable file of its own, or a memfd.
    let (size, file) = if let Some((_, size, w, _)) = opened.ghosts.iter().find(|g| g.0 == pg.mm) {
        (*size, w)
    } else if let Some(&(_, size, _)) = opened.memfds.iter().find(|m| m.0 == pg.mm) {
        (size, opened.get(pg.mm).ok_or(EINVAL)?)
    } else {
        return Ok(());
    };
    for i in 0..pg.count() {
        let off = pg.addr(i);
        if off >= size {
            return Err(why.set(EINVAL, format_args!("memfd page {off:#x} past its end")));
        }
        let n = (size - off).min(image::PAGE_SIZE as u64) as usize;
        file.write_at(&pg.page(i)[..n], off as i64)
            .map_err(|e| why.set(e, format_args!("cannot fill a memfd")))?;
    }
    Ok(())
}

/// Seals the memfds this process made, once their contents are in, with the kernel's
/// rules (`F_SEAL_WRITE` fails while a shared writable mapping exists), before the
/// shared mappings of the write-sealed ones are made ([`write_sealed`]).
pub(crate) fn seal_memfds(opened: &Opened, why: &mut Reason) -> Result {
    for &(id, _, seals) in opened.memfds.iter() {
        opened
            .get(id)
            .ok_or(EINVAL)?
            .seal(seals)
            .map_err(|e| why.set(e, format_args!("cannot seal memfd {id}")))?;
    }
    Ok(())
}

/// `F_SEAL_SEAL`, `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_WRITE`,
/// `F_SEAL_FUTURE_WRITE`, `F_SEAL_EXEC`: the seals the kernel defines.
const ALL_SEALS: u32 = 0x3f;
/// `F_SEAL_WRITE | F_SEAL_FUTURE_WRITE`.
const WRITE_SEALS: u32 = 0x08 | 0x10;

/// Whether `v` is a shared mapping of a write-sealed memfd: mapped once the seals are
/// on, so that `mmap` applies them (no writable mapping, no `mprotect` to writable).
pub(crate) fn write_sealed(p: &Plan<'_>, v: &image::Vma<'_>) -> bool {
    v.backing == image::backing::FILE_SHARED
        && p.file(v.file)
            .is_some_and(|f| f.kind == filekind::MEMFD && f.rdev & WRITE_SEALS != 0)
}

/// `F_SEAL_EXEC`.
const SEAL_EXEC: u32 = 0x20;
/// `MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED`: `vm.memfd_noexec` 2.
const NOEXEC_ENFORCED: i32 = 2;

/// Memfd seals (in `rdev`) as the kernel knows them, and none that a shared writable
/// mapping of the image would break: such a memfd never existed. And what
/// `memfd_create(2)` would refuse the caller now: under `vm.memfd_noexec` 2, a memfd
/// that is not made non-executable for good (`MFD_NOEXEC_SEAL`: no execute bit,
/// `F_SEAL_EXEC`).
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    let noexec = shim::memfd_noexec_scope() >= NOEXEC_ENFORCED;
    for f in p.files.iter().filter(|f| f.kind == filekind::MEMFD) {
        if noexec && (f.mode & 0o111 != 0 || f.rdev & SEAL_EXEC == 0) {
            return Err(refuse(
                why,
                EACCES,
                format_args!(
                    "memfd {} may be executable, which vm.memfd_noexec = 2 forbids \
                     (memfd_create(2) would need MFD_NOEXEC_SEAL)",
                    f.id
                ),
            ));
        }
        if f.rdev & !ALL_SEALS != 0 {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("memfd {}: unknown seals {:#x}", f.id, f.rdev & !ALL_SEALS),
            ));
        }
        let writable = |v: &image::Vma<'_>| {
            v.file == f.id
                && v.backing == image::backing::FILE_SHARED
                && v.prot & super::PROT_WRITE != 0
        };
        if f.rdev & WRITE_SEALS != 0 && p.vmas.iter().any(writable) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "memfd {} is write-sealed but mapped shared and writable",
                    f.id
                ),
            ));
        }
    }
    Ok(())
}
