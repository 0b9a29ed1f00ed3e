// SPDX-License-Identifier: GPL-2.0

//! File locks: `flock` locks and OFD locks (owned by an open file description) and
//! POSIX record locks (owned by an fd table) that the checkpointed processes hold.
//!
//! Checkpoint: after each fd table, for each file of it, the locks of the file's
//! inode that belong to the image are read under the inode's lock-context spinlock
//! and written as [`FileLock`] records: the flock and OFD locks the description itself
//! owns (once per description, however many tables share it), and the POSIX locks
//! the table owns (once per inode). Locks held by anyone else on the same files are
//! not ours and are left alone. Refused: leases and delegations, and locks on files
//! whose filesystem manages its own locks (NFS...).
//!
//! Restart: the process that installs a table takes the table's locks again with the
//! kernel's own lock calls (`vfs_lock_file`, `locks_lock_inode_wait`), after its
//! descriptors are in place (a POSIX lock is owned by the fd table; the restarter's
//! own descriptors, closed by the install, would have dropped it). Before the point
//! of no return every lock is tested: one that another process holds conflicting
//! refuses the restart, naming the holder.
//!
//! A restored POSIX lock names as its holder (`F_GETLK`'s `l_pid`) the process that
//! installs the table: exact unless another process sharing the table (`CLONE_FILES`)
//! took it. A flock lock whose description only a mapping still holds (its fds closed)
//! is not seen.
//!
//! Waiters are not saved: a process blocked in `F_SETLKW`, `F_OFD_SETLKW` or `flock`
//! at checkpoint time is interrupted by the checkpoint's stop like by a signal, and
//! its system call is restarted when it runs again, so it waits again (the lock it
//! waited for belongs to whoever held it, in the image or not).

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{lockkind, FileLock};
use crate::objects::files::Opened;
use crate::restart::{refuse, Plan};
use crate::shim::{FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// `struct ckpt_lock`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct LockRaw {
    kind: u32,
    ltype: u32,
    start: i64,
    end: i64,
    pid: i32,
    pad: u32,
}

const LKF_LEASE: u32 = 1;
const LKF_FS_LOCKS: u32 = 2;

mod ffi {
    use super::LockRaw;
    use core::ffi::c_void;

    extern "C" {
        pub(super) fn ckpt_task_files_key(t: *mut c_void) -> usize;
        pub(super) fn ckpt_file_inode_key(f: *mut c_void) -> usize;
        pub(super) fn ckpt_file_locks(
            f: *mut c_void,
            files_key: usize,
            posix: bool,
            out: *mut LockRaw,
            max: u32,
            n: *mut u32,
            flags: *mut u32,
        ) -> i32;
        pub(super) fn ckpt_cur_lock_file(
            f: *mut c_void,
            kind: u32,
            ltype: u32,
            start: i64,
            end: i64,
            test: bool,
            holder: *mut i32,
        ) -> i32;
    }
}

/// The locks of `f`'s inode that belong to the image: `f`'s own flock and OFD locks,
/// and with `posix` the POSIX locks of the table `files_key`; and the `LKF_*` flags.
fn file_locks(f: &FileRef, files_key: usize, posix: bool) -> Result<(KVec<LockRaw>, u32)> {
    let mut room = 4usize;
    loop {
        let mut v = KVec::from_elem(LockRaw::default(), room, GFP_KERNEL)?;
        let (mut n, mut flags) = (0u32, 0u32);
        // SAFETY: `f` is a live file; `v` has room for `room` entries.
        let r = unsafe {
            ffi::ckpt_file_locks(
                f.as_raw(),
                files_key,
                posix,
                v.as_mut_ptr(),
                room as u32,
                &mut n,
                &mut flags,
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        if n as usize <= room {
            v.truncate(n as usize);
            return Ok((v, flags));
        }
        room = n as usize + 4;
    }
}

fn files_key(t: &TaskRef) -> usize {
    // SAFETY: The task reference is live.
    unsafe { ffi::ckpt_task_files_key(t.as_raw()) }
}

fn inode_key(f: &FileRef) -> usize {
    // SAFETY: The file reference is live.
    unsafe { ffi::ckpt_file_inode_key(f.as_raw()) }
}

/// Refuses locks that cannot come back: leases, locks a filesystem manages itself.
fn refusable(flags: u32, fd: u32, why: &mut Reason) -> Result {
    if flags & LKF_LEASE != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("fd {fd} holds a lease (F_SETLEASE); not supported"),
        ));
    }
    if flags & LKF_FS_LOCKS != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "fd {fd} holds a lock on a filesystem that manages its own locks; not supported"
            ),
        ));
    }
    Ok(())
}

/// The locks of `t`'s files that the image could not describe.
pub(crate) fn precheck(t: &TaskRef, why: &mut Reason) -> Result {
    let table = files_key(t);
    let mut fd = 0u32;
    while let Some(f) = t.next_file(&mut fd) {
        let (_, flags) = file_locks(&f, table, true)?;
        refusable(flags, fd, why)?;
        fd += 1;
    }
    Ok(())
}

/// Writes the locks of the fd table `files` (of `t`) just written: the flock and OFD
/// locks of its descriptions not yet seen in the image, the POSIX locks it owns.
pub(crate) fn write(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    files: u32,
    t: &TaskRef,
    why: &mut Reason,
) -> Result {
    let table = files_key(t);
    let mut inodes: KVec<usize> = KVec::new();
    let mut fd = 0u32;
    while let Some(f) = t.next_file(&mut fd) {
        let this = fd;
        fd += 1;
        let Some(file) = objs.get(f.key()) else {
            continue;
        };
        let ino = inode_key(&f);
        let posix = !inodes.contains(&ino);
        // A description's own locks once in the image: marked by an odd key
        // (object keys are aligned pointers).
        let own_seen = objs.get(f.key() | 1).is_some();
        let (locks, flags) = file_locks(&f, table, posix)?;
        refusable(flags, this, why)?;
        if posix {
            inodes.push(ino, GFP_KERNEL)?;
        }
        let mut own = false;
        for l in locks.iter() {
            if l.kind != lockkind::POSIX {
                own = true;
                if own_seen {
                    continue;
                }
            }
            w.record(&FileLock {
                files,
                file,
                kind: l.kind,
                ltype: l.ltype,
                start: l.start,
                end: l.end,
                pid: l.pid.max(0),
            })?;
        }
        if own && !own_seen {
            objs.define(f.key() | 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

fn lock(f: &FileRef, l: &FileLock, test: bool) -> core::result::Result<(), (Error, i32)> {
    let mut holder = 0i32;
    // SAFETY: `f` is a live file.
    let r = unsafe {
        ffi::ckpt_cur_lock_file(
            f.as_raw(),
            l.kind,
            l.ltype,
            l.start,
            l.end,
            test,
            &mut holder,
        )
    };
    if r < 0 {
        Err((Error::from_errno(r), holder))
    } else {
        Ok(())
    }
}

fn name(kind: u32) -> &'static str {
    match kind {
        lockkind::POSIX => "POSIX lock",
        lockkind::FLOCK => "flock lock",
        _ => "OFD lock",
    }
}

/// Phase 2, by the process that installs the table: each lock of the image can be
/// taken (nobody else holds a conflicting one).
pub(crate) fn check(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    for l in p.locks.iter() {
        let Some(f) = opened.get(l.file) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("a file lock refers to file {}, which is not open", l.file),
            ));
        };
        match lock(f, l, true) {
            Ok(()) => {}
            Err((e, holder)) if e == EAGAIN && holder > 0 => {
                return Err(refuse(
                    why,
                    EBUSY,
                    format_args!(
                        "file {} of the image: its {} (bytes {}..{}) is held by pid {holder}",
                        l.file,
                        name(l.kind),
                        l.start,
                        l.end
                    ),
                ))
            }
            Err((e, _)) if e == EAGAIN => {
                return Err(refuse(
                    why,
                    EBUSY,
                    format_args!(
                        "file {} of the image: its {} (bytes {}..{}) is held by another process",
                        l.file,
                        name(l.kind),
                        l.start,
                        l.end
                    ),
                ))
            }
            Err((e, _)) => {
                return Err(refuse(
                    why,
                    e,
                    format_args!("cannot test the {} of file {}", name(l.kind), l.file),
                ))
            }
        }
    }
    Ok(())
}

/// Phase 3, after the descriptors are installed: takes the table's locks.
pub(crate) fn restore(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    for l in p.locks.iter() {
        let f = opened.get(l.file).ok_or(EINVAL)?;
        lock(f, l, false).map_err(|(e, _)| {
            why.set(
                e,
                format_args!("cannot take the {} of file {} again", name(l.kind), l.file),
            )
        })?;
    }
    Ok(())
}
