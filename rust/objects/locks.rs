// SPDX-License-Identifier: GPL-2.0

//! File locks: `flock` locks and OFD locks (owned by an open file description) and
//! POSIX record locks (owned by an fd table) that the checkpointed processes hold.
//!
//! Checkpoint: after each fd table, for each file of it, the locks of the file's
//! inode that belong to the image are read under the inode's lock-context spinlock
//! and written as [`FileLock`] records: the flock and OFD locks the description itself
//! owns (once per description, however many tables share it), and the POSIX locks
//! the table owns (once per inode). Locks held by anyone else on the same files are
//! not ours and are left alone. Refused: locks on files whose filesystem manages
//! its own locks (NFS...).
//!
//! Leases (`F_SETLEASE`) are owned by the open file description too: each leased
//! description's lease is written once, as a [`FileLease`] record with its type and
//! the descriptor its break signal names (the one `F_SETLEASE` was called on).
//! Refused: a lease being broken (a break or its timeout pending: the holder's
//! reply or the timeout cannot be carried over), delegations and pNFS layouts, a
//! lease of a filesystem that sets leases itself, and (in [`super::files::leaks`])
//! a leased description that a process outside the tree shares.
//!
//! A restored lease is taken in the holder's own name, through `vfs_setlease`
//! (the image's credentials must own the file or have `CAP_LEASE`), with the
//! module's copy of `fcntl`'s lease operations (those are static in the kernel):
//! its break sends the `SIGIO` (or `F_SETSIG`) signal to the file's owner as
//! `fcntl`'s does. While a lease the module set lasts, the module stays loaded
//! (`rmmod` refuses; see [`exit`]).
//! Before the point of no return each lease is tested: a file open for writing
//! (read lease) or open at all (write lease) by another description refuses the
//! restart.
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
use crate::image::{lockkind, FileLease, FileLock};
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

const LKF_FS_LOCKS: u32 = 2;

/// `ckpt_file_lease`'s reasons a lease cannot come back.
const LEASE_BREAKING: u32 = 1;
const LEASE_DELEG: u32 = 2;
const LEASE_FOREIGN: u32 = 4;

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
        pub(super) fn ckpt_file_lease(
            f: *mut c_void,
            ltype: *mut u32,
            fd: *mut i32,
            bad: *mut u32,
        ) -> i32;
        pub(super) fn ckpt_lease_test(f: *mut c_void, ltype: u32) -> i32;
        pub(super) fn ckpt_lease_set(f: *mut c_void, ltype: u32, fd: u32) -> i32;
        pub(super) fn ckpt_locks_exit();
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

/// At module exit: waits for the scan that watches the leases the module set (the
/// module holds a reference to itself while one lasts, so none is left now).
pub(crate) fn exit() {
    // SAFETY: Called once, at module exit.
    unsafe { ffi::ckpt_locks_exit() }
}

fn files_key(t: &TaskRef) -> usize {
    // SAFETY: The task reference is live.
    unsafe { ffi::ckpt_task_files_key(t.as_raw()) }
}

fn inode_key(f: &FileRef) -> usize {
    // SAFETY: The file reference is live.
    unsafe { ffi::ckpt_file_inode_key(f.as_raw()) }
}

/// The lease `f` holds: its type, the fd its break signal names (-1: none) and
/// the `LEASE_*` reasons it cannot come back.
pub(crate) struct Lease {
    ltype: u32,
    fd: i32,
    bad: u32,
}

/// The lease `f` owns, if any.
pub(crate) fn lease_of(f: &FileRef) -> Option<Lease> {
    let mut l = Lease {
        ltype: 0,
        fd: -1,
        bad: 0,
    };
    // SAFETY: `f` is a live file; the outputs are valid pointers.
    let r = unsafe { ffi::ckpt_file_lease(f.as_raw(), &mut l.ltype, &mut l.fd, &mut l.bad) };
    (r > 0).then_some(l)
}

/// Refuses a lease that cannot come back.
fn lease_refusable(l: &Lease, fd: u32, why: &mut Reason) -> Result {
    let what = if l.ltype == 1 { "write" } else { "read" };
    if l.bad & LEASE_DELEG != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "fd {fd} holds a delegation or layout (not an F_SETLEASE lease); not supported"
            ),
        ));
    }
    if l.bad & LEASE_FOREIGN != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "fd {fd} holds a lease set by another lease manager or on a filesystem that sets leases itself; not supported"
            ),
        ));
    }
    if l.bad & LEASE_BREAKING != 0 {
        return Err(why.set(
            EBUSY,
            format_args!(
                "fd {fd}: its {what} lease is being broken (a conflicting open waits for the holder, or the break's timeout is set); checkpoint once the holder released or downgraded it and the break is over"
            ),
        ));
    }
    if l.ltype > 1 {
        return Err(why.set(
            EINVAL,
            format_args!("fd {fd}: its lease has an unknown type {}", l.ltype),
        ));
    }
    Ok(())
}

/// Refuses locks that cannot come back: locks a filesystem manages itself.
fn refusable(flags: u32, fd: u32, why: &mut Reason) -> Result {
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
        if let Some(l) = lease_of(&f) {
            lease_refusable(&l, fd, why)?;
        }
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
        // The description's lease once in the image (marked by key | 2), with the
        // first table that has it, named by the fd `F_SETLEASE` was called on if
        // that table has it there, else by this one.
        if let Some(l) = lease_of(&f) {
            if objs.get(f.key() | 2).is_none() {
                lease_refusable(&l, this, why)?;
                let mut at = u32::try_from(l.fd).unwrap_or(u32::MAX);
                let same = at != u32::MAX
                    && t.next_file(&mut at)
                        .is_some_and(|g| g.key() == f.key() && at == l.fd as u32);
                w.record(&FileLease {
                    files,
                    file,
                    fd: if same { l.fd as u32 } else { this },
                    ltype: l.ltype,
                })?;
                objs.define(f.key() | 2)?;
            }
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

/// Phase 2, under the image's credentials, by the process that installs the table:
/// each lease of the image can be taken (the image's credentials own the file or
/// have `CAP_LEASE`; nobody else has the file open in a way the lease excludes).
pub(crate) fn check_leases(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    for l in p.leases.iter() {
        let what = if l.ltype == 1 { "write" } else { "read" };
        let Some(f) = opened.get(l.file) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("a file lease refers to file {}, which is not open", l.file),
            ));
        };
        if !p.fds.iter().any(|d| d.fd == l.fd && d.file == l.file) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the lease of file {} names fd {}, which does not refer to it",
                    l.file, l.fd
                ),
            ));
        }
        // SAFETY: `f` is a live file.
        let r = unsafe { ffi::ckpt_lease_test(f.as_raw(), l.ltype) };
        if r == 0 {
            continue;
        }
        let e = Error::from_errno(r);
        return Err(if e == EAGAIN {
            refuse(
                why,
                EBUSY,
                format_args!(
                    "file {} of the image (fd {}): its {what} lease cannot be taken: another process has the file open {} or holds a lease on it",
                    l.file,
                    l.fd,
                    if l.ltype == 1 { "at all" } else { "for writing" }
                ),
            )
        } else if e == EACCES {
            refuse(
                why,
                EACCES,
                format_args!(
                    "file {} of the image (fd {}): its {what} lease needs the file's owner or CAP_LEASE, which the restart does not have",
                    l.file, l.fd
                ),
            )
        } else {
            refuse(
                why,
                e,
                format_args!(
                    "file {} of the image (fd {}): its {what} lease cannot be taken on this file",
                    l.file, l.fd
                ),
            )
        });
    }
    Ok(())
}

/// Phase 3, under the image's credentials, once the descriptors are installed and
/// before the `SIGIO` owners are set (taking a lease makes the caller the file's
/// owner if it has none): takes the table's leases again.
pub(crate) fn restore_leases(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    for l in p.leases.iter() {
        let f = opened.get(l.file).ok_or(EINVAL)?;
        // SAFETY: `f` is a live file, installed at `l.fd` (checked in phase 2).
        let r = unsafe { ffi::ckpt_lease_set(f.as_raw(), l.ltype, l.fd) };
        if r < 0 {
            return Err(why.set(
                Error::from_errno(r),
                format_args!(
                    "cannot take the {} lease of file {} (fd {}) again",
                    if l.ltype == 1 { "write" } else { "read" },
                    l.file,
                    l.fd
                ),
            ));
        }
        // A lease makes the caller the file's owner if it had none; the image's
        // owner (none if it has no record) comes next.
        if !p.fowns.iter().any(|o| o.file == l.file) {
            f.set_owner(1, 0, 0).map_err(|e| {
                why.set(e, format_args!("cannot clear the owner of file {}", l.file))
            })?;
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
