// SPDX-License-Identifier: GPL-2.0

//! Files: the caller's fds through the kernel crate's [`LocalFile`] and [`File`], and
//! opening, reading, writing and changing files through the exported VFS functions
//! (`filp_open`, `dentry_open`, `kernel_read`, `kernel_write`, `notify_change`, ...).

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    fs::file::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
    task::Task,
};

/// The file of the caller's descriptor `fd`, with a reference (`EBADF` if none).
///
/// Only for the ioctls of `/dev/ckpt`: they never touch a file position, so no
/// `fdget_pos()` is active on this thread and the file may be shared with others.
pub(crate) fn fget(fd: i32) -> Result<ARef<File>> {
    let f = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
    // SAFETY: Called from an ioctl of `/dev/ckpt` (see above): no `fdget_pos` call is
    // active on the current thread.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(f) })
}

/// As [`fget`], but also an `O_PATH` file (`fget_raw`): what the restarter passes
/// for a deleted directory or symbolic link, or for its root, may be one. The
/// kernel crate has no `LocalFile::fget_raw` yet; this is the wrapper it would have.
pub(crate) fn fget_raw(fd: i32) -> Result<ARef<File>> {
    // SAFETY: No preconditions; a non-null result carries a reference for us.
    let f = NonNull::new(unsafe { bindings::fget_raw(fd as u32) }).ok_or(EBADF)?;
    // SAFETY: `File` is a transparent wrapper of `struct file`; we own the reference
    // `fget_raw` took, which the `ARef` drops (`fput`). No `fdget_pos` is active on
    // this thread (an ioctl of `/dev/ckpt`, as for [`fget`]).
    Ok(unsafe { ARef::from_raw(f.cast::<File>()) })
}

/// `FMODE_*` bits of `f_mode` (`include/linux/fs.h`: macros with `__force` casts,
/// which bindgen does not translate).
mod fmode {
    pub(super) const READ: u32 = 1 << 0;
    pub(super) const WRITE: u32 = 1 << 1;
    pub(super) const LSEEK: u32 = 1 << 2;
    pub(super) const CAN_WRITE: u32 = 1 << 18;
    pub(super) const STREAM: u32 = 1 << 21;
}

/// Flags an open by the module never passes on: it never creates or truncates a file.
const NO_CREATE: u32 = bindings::O_CREAT | bindings::O_EXCL | bindings::O_TRUNC;

/// Takes over the reference of a `struct file *` that a kernel function returned, or
/// its `ERR_PTR` error.
///
/// # Safety
///
/// `p` is an `ERR_PTR` or a live `struct file` on which the caller owns a reference,
/// which the result owns from then on.
unsafe fn owned(p: *mut bindings::file) -> Result<ARef<File>> {
    let p = kernel::error::from_err_ptr(p)?;
    let p = NonNull::new(p.cast::<File>()).ok_or(ENOENT)?;
    // SAFETY: `File` is a transparent wrapper of `struct file`; the reference passes to
    // the `ARef` (the function's contract).
    Ok(unsafe { ARef::from_raw(p) })
}

/// I/O for the module is not restarted: a `-ERESTART*` is `EINTR`.
fn no_restart(r: isize) -> isize {
    const RESTART: [u32; 3] = [
        bindings::ERESTARTSYS,
        bindings::ERESTARTNOINTR,
        bindings::ERESTARTNOHAND,
    ];
    if RESTART.iter().any(|&e| r == -(e as isize)) {
        -(bindings::EINTR as isize)
    } else {
        r
    }
}

fn from_ssize(r: isize) -> Result<usize> {
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r as usize)
    }
}

/// `f_mode` of `f` (set when it is opened, stable since; `FMODE_*` bits).
fn mode(f: &File) -> u32 {
    // SAFETY: `f` is a live file; its `f_mode` is read as the kernel reads it.
    unsafe { (*f.as_ptr()).f_mode }
}

/// `file_inode(f)`.
fn inode(f: &File) -> *mut bindings::inode {
    // SAFETY: `f` is a live file; `f_inode` is set when it is opened and never changes.
    unsafe { (*f.as_ptr()).f_inode }
}

/// `&f->f_path`.
fn path(f: &File) -> *const bindings::path {
    // SAFETY: `f` is a live file; `f_path` is set when it is opened and never changes.
    unsafe { &raw const (*f.as_ptr()).__bindgen_anon_1.f_path }
}

/// `file_mnt_idmap(f)`: the idmap of the mount `f` was opened through.
fn idmap(f: &File) -> *mut bindings::mnt_idmap {
    // SAFETY: `f`'s path holds a reference on its mount; `mnt_idmap` is read once, as
    // `READ_ONCE()` in `mnt_idmap()` (it pairs with a release store when the mount is
    // made idmapped).
    unsafe { core::ptr::read_volatile(&raw const (*(*path(f)).mnt).mnt_idmap) }
}

/// The mode bits of `f`'s inode (`i_mode`).
pub(crate) fn inode_mode(f: &File) -> u32 {
    // SAFETY: The inode is live as long as `f`; `i_mode` is read once.
    u32::from(unsafe { core::ptr::read_volatile(&raw const (*inode(f)).i_mode) })
}

/// The open file at the lowest fd `>= *fd` of `t`'s table (`fget_task_next()`), which
/// `*fd` is updated to.
pub(crate) fn task_next(t: &kernel::task::Task, fd: &mut u32) -> Option<ARef<File>> {
    // SAFETY: `t` is a live task; `fd` is a valid in/out pointer; a non-null result
    // carries a reference for us.
    let f = unsafe { bindings::fget_task_next(t.as_ptr(), fd) };
    // SAFETY: As just said (never an `ERR_PTR`).
    unsafe { owned(f) }.ok()
}

/// Closes every fd of the caller (`close_fd()` on each open one).
pub(crate) fn close_all() {
    let mut fd = 0;
    while let Some(f) = task_next(kernel::current!(), &mut fd) {
        drop(f);
        // SAFETY: No preconditions; an fd closed meanwhile is an error we ignore.
        unsafe { bindings::close_fd(fd) };
        fd += 1;
    }
}

/// Opens `path` (NUL-terminated) with the caller's rights and `flags`, never creating
/// or truncating. `O_NOCTTY` stays: a terminal reopened never becomes a controlling
/// terminal.
pub(crate) fn open(path: &[u8], flags: u32) -> Result<ARef<File>> {
    if path.last() != Some(&0) {
        return Err(EINVAL);
    }
    let flags = (flags & !NO_CREATE) | bindings::O_LARGEFILE;
    // SAFETY: `path` is NUL-terminated; the result is a new file or an `ERR_PTR`.
    unsafe { owned(bindings::filp_open(path.as_ptr().cast(), flags as i32, 0)) }
}

/// `may_open()`'s rules beyond the permission bits, and `inode_permission()`: whether
/// the caller may open `f`'s inode with `flags` (the check an open by path makes,
/// which the path of a deleted file cannot; also what a checkpoint asks of a file a
/// restart will open by its path).
pub(crate) fn may_reopen(f: &File, flags: u32) -> Result {
    let acc = flags & bindings::O_ACCMODE;
    let mut mask = 0;
    if acc != bindings::O_WRONLY {
        mask |= bindings::MAY_READ;
    }
    if acc != bindings::O_RDONLY {
        mask |= bindings::MAY_WRITE;
    }
    let ino = inode(f);
    let fmt = inode_mode(f) & bindings::S_IFMT;
    // SAFETY: The inode is live as long as `f`; `i_flags` is read once.
    let iflags = unsafe { core::ptr::read_volatile(&raw const (*ino).i_flags) };
    let writes = mask & bindings::MAY_WRITE != 0;
    if fmt == bindings::S_IFDIR && writes {
        return Err(EISDIR);
    }
    if fmt == bindings::S_IFLNK {
        return Err(Error::from_errno(-(bindings::ELOOP as i32)));
    }
    if iflags & bindings::S_APPEND != 0 && writes && flags & bindings::O_APPEND == 0 {
        return Err(EPERM);
    }
    // SAFETY: The idmap and the inode are live as long as `f`.
    if flags & bindings::O_NOATIME != 0
        && !unsafe { bindings::inode_owner_or_capable(idmap(f), ino) }
    {
        return Err(EPERM);
    }
    // SAFETY: As above; `inode_permission` takes any mask.
    to_result(unsafe { bindings::inode_permission(idmap(f), ino, mask as i32) })
}

/// A new open file description of `f`'s file with `flags` and the caller's
/// credentials (`dentry_open()`); with `check`, only if the caller may open it so
/// ([`may_reopen`]).
pub(crate) fn reopen(f: &File, flags: u32, check: bool) -> Result<ARef<File>> {
    let flags = flags & !(NO_CREATE | bindings::O_NOCTTY | bindings::O_TMPFILE);
    if check && flags & bindings::O_PATH == 0 {
        may_reopen(f, flags)?;
    }
    // SAFETY: `f`'s path is live as long as `f`; current's credentials are live while
    // it runs this; the result is a new file or an `ERR_PTR`.
    unsafe {
        let cred = (*Task::current_raw()).cred;
        owned(bindings::dentry_open(
            path(f),
            (flags | bindings::O_LARGEFILE) as i32,
            cred,
        ))
    }
}

/// `notify_change()` on `f`'s inode as `fchmod(2)` and `fchown(2)` make it: with
/// write access to the mount (`mnt_want_write_file()`: its write count and freeze
/// protection) and under the inode lock, `fill` completing `ia` under that lock.
///
/// The path-based LSM hooks those syscalls ask first (`security_path_chown/chmod`:
/// AppArmor, TOMOYO) are not exported in 7.2, so a module cannot run them:
/// `notify_change()` still runs `security_inode_setattr` (SELinux, Smack, and the inode
/// hooks of every LSM), and the restart only gives files it made the owner and mode the
/// image records.
fn setattr(
    f: &File,
    ia: &mut bindings::iattr,
    fill: impl FnOnce(&mut bindings::iattr, u32),
) -> Result {
    let ino = inode(f);
    // SAFETY: `f` is a live file.
    to_result(unsafe { bindings::mnt_want_write_file(f.as_ptr()) })?;
    // SAFETY: The inode is live as long as `f`; `inode_lock()` is this `down_write()`.
    unsafe { bindings::down_write(&raw mut (*ino).i_rwsem) };
    fill(ia, inode_mode(f));
    // SAFETY: The inode lock is held and the mount's write access taken, as
    // `notify_change()` wants; `f`'s dentry is live; no delegation is broken.
    let r =
        unsafe { bindings::notify_change(idmap(f), (*path(f)).dentry, ia, core::ptr::null_mut()) };
    // SAFETY: The lock and the write access taken above.
    unsafe {
        bindings::up_write(&raw mut (*ino).i_rwsem);
        bindings::mnt_drop_write_file(f.as_ptr());
    }
    to_result(r)
}

/// An `iattr` with nothing to change yet.
fn iattr(valid: u32) -> bindings::iattr {
    bindings::iattr {
        ia_valid: valid,
        ..Default::default()
    }
}

/// Sets the mode bits (`07777`) of `f`'s inode, as `fchmod(2)`'s `chmod_common()`.
pub(crate) fn chmod(f: &File, mode: u32) -> Result {
    let mut ia = iattr(bindings::ATTR_MODE | bindings::ATTR_CTIME);
    setattr(f, &mut ia, |ia, cur| {
        ia.ia_mode = ((mode & bindings::S_IALLUGO) | (cur & !bindings::S_IALLUGO)) as u16
    })
}

/// Gives `f`'s inode the owner `uid`/`gid` (as the caller's user namespace names them).
pub(crate) fn chown(f: &File, uid: u32, gid: u32) -> Result {
    // SAFETY: The caller's own user namespace is live; `make_kuid`/`make_kgid` take any id.
    let (ku, kg) = unsafe {
        let ns = bindings::current_user_ns();
        (bindings::make_kuid(ns, uid), bindings::make_kgid(ns, gid))
    };
    // INVALID_UID and INVALID_GID are -1.
    if ku.val == u32::MAX || kg.val == u32::MAX {
        return Err(EINVAL);
    }
    let mut ia = iattr(bindings::ATTR_UID | bindings::ATTR_GID);
    ia.__bindgen_anon_1.ia_vfsuid = bindings::vfsuid_t { val: ku.val };
    ia.__bindgen_anon_2.ia_vfsgid = bindings::vfsgid_t { val: kg.val };
    setattr(f, &mut ia, |_, _| ())
}

/// Sets `f`'s size (`vfs_truncate()`).
pub(crate) fn truncate(f: &File, size: u64) -> Result {
    let size = i64::try_from(size).map_err(|_| EFBIG)?;
    // SAFETY: `f`'s path is live as long as `f`.
    to_result(unsafe { bindings::vfs_truncate(path(f), size) })
}

/// Sets `f`'s position (`vfs_llseek(SEEK_SET)`); on a file without one, only 0.
pub(crate) fn seek(f: &File, pos: i64) -> Result {
    if mode(f) & fmode::LSEEK == 0 {
        return if pos != 0 { Err(ESPIPE) } else { Ok(()) };
    }
    // SAFETY: `f` is a live file; `vfs_llseek` checks the rest.
    let r = unsafe { bindings::vfs_llseek(f.as_ptr(), pos, bindings::SEEK_SET as i32) };
    if r < 0 {
        return Err(Error::from_errno(r as i32));
    }
    if r != pos {
        return Err(EIO);
    }
    Ok(())
}

/// Reads into `buf` at `*pos` until it is full or the file ends (`kernel_read()`);
/// returns the length. An error after some bytes were read ends the read early.
pub(crate) fn read_at(f: &File, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let mut p = *pos;
        // SAFETY: `f` is a live file; the rest of `buf` is writable for its length.
        let n = no_restart(unsafe {
            bindings::kernel_read(
                f.as_ptr(),
                buf.as_mut_ptr().add(done).cast(),
                buf.len() - done,
                &mut p,
            )
        });
        if n < 0 {
            return if done > 0 { Ok(done) } else { from_ssize(n) };
        }
        if n == 0 {
            break;
        }
        *pos = p;
        done += n as usize;
        if crate::shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(done)
}

/// Writes all of `buf` at `pos` (`kernel_write()`; not at the file position).
pub(crate) fn write_at(f: &File, buf: &[u8], pos: i64) -> Result {
    let mut done = 0;
    while done < buf.len() {
        let mut p = pos + done as i64;
        // SAFETY: `f` is a live file; the rest of `buf` is readable for its length.
        let n = no_restart(unsafe {
            bindings::kernel_write(
                f.as_ptr(),
                buf.as_ptr().add(done).cast(),
                buf.len() - done,
                &mut p,
            )
        });
        match from_ssize(n)? {
            0 => return Err(EIO),
            n => done += n,
        }
    }
    Ok(())
}

/// The caller's `fd`, which must be open for writing through `kernel_write()`
/// (`EBADF` if it is not open for writing, `EINVAL` if it has neither `write` nor
/// `write_iter`).
pub(crate) fn fget_writable(fd: i32) -> Result<ARef<File>> {
    let f = fget(fd)?;
    if mode(&f) & fmode::WRITE == 0 {
        return Err(EBADF);
    }
    if mode(&f) & fmode::CAN_WRITE == 0 {
        return Err(EINVAL);
    }
    Ok(f)
}

/// Writes all of `buf` at `f`'s position, as `write(2)` on the caller's fd would, and
/// moves the position (not on a stream). A half-written image is never restarted:
/// the caller sees `EINTR`.
pub(crate) fn write_all(f: &File, buf: &[u8]) -> Result {
    let fp = f.as_ptr();
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: `f` is a live file. Only the image's writer uses its position (the
        // file of an ioctl of `/dev/ckpt`, which does not `fdget_pos()` it).
        let mut pos = unsafe { (*fp).f_pos };
        // SAFETY: `f` is a live file; the rest of `buf` is readable for its length.
        let n = no_restart(unsafe {
            bindings::kernel_write(
                fp,
                buf.as_ptr().add(done).cast(),
                buf.len() - done,
                &mut pos,
            )
        });
        match from_ssize(n)? {
            0 => return Err(EIO),
            n => done += n,
        }
        if mode(f) & fmode::STREAM == 0 {
            // SAFETY: As above.
            unsafe { (*fp).f_pos = pos };
        }
        if crate::shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(())
}

/// Sets the `O_APPEND`/`O_NONBLOCK`/`O_DIRECT`/`O_NOATIME` part of `f_flags`, as
/// `fcntl(F_SETFL)` does.
pub(crate) fn set_flags(f: &File, flags: u32) {
    const SETTABLE: u32 = bindings::O_APPEND
        | bindings::O_NONBLOCK
        | bindings::O_NDELAY
        | bindings::O_DIRECT
        | bindings::O_NOATIME;
    let fp = f.as_ptr();
    // SAFETY: `f` is a live file; `f_flags` changes under `f_lock`.
    unsafe {
        bindings::spin_lock(&raw mut (*fp).f_lock);
        (*fp).f_flags = ((*fp).f_flags & !SETTABLE) | (flags & SETTABLE);
        bindings::spin_unlock(&raw mut (*fp).f_lock);
    }
}

/// Sets the modification time of `f`'s inode (`vfs_utimes()`), leaving the access time.
pub(crate) fn set_mtime(f: &File, mtime_ns: i64) -> Result {
    // SAFETY: No preconditions.
    let mtime = unsafe { bindings::ns_to_timespec64(mtime_ns) };
    let omit = bindings::timespec64 {
        tv_sec: 0,
        tv_nsec: bindings::UTIME_OMIT as isize,
    };
    let mut t = [omit, mtime];
    // SAFETY: `f`'s path is live as long as `f`; `t` holds the two times.
    to_result(unsafe { bindings::vfs_utimes(path(f), t.as_mut_ptr()) })
}

/// Whether `f` is open for reading.
pub(crate) fn readable(f: &File) -> bool {
    mode(f) & fmode::READ != 0
}

/// What `inotify_add_watch()` asks of the inode `f` names: read permission for the
/// caller (`inotify_find_inode`: `path_permission(MAY_READ)`, `inode_permission`
/// through the mount's idmap). Also the inode's number and device as an inotify
/// file's fdinfo shows them.
pub(crate) fn watch_facts(f: &File) -> (u64, u32, Result) {
    let ino = inode(f);
    // SAFETY: The inode and its super block are live as long as `f`; `i_ino` and `s_dev`
    // are set when they are made.
    let (nr, dev) = unsafe { ((*ino).i_ino, (*(*ino).i_sb).s_dev) };
    // SAFETY: As above; `inode_permission` takes any mask.
    let r = unsafe { bindings::inode_permission(idmap(f), ino, bindings::MAY_READ as i32) };
    (nr, dev, to_result(r))
}

/// Makes `nr` (in the caller's pid namespace; 0: none) of `kind` (0 thread, 1 process,
/// 2 process group) the `SIGIO` owner of `f`, as the caller (whose credentials decide
/// whom `SIGIO` may reach), and `signum` its `F_SETSIG` signal.
pub(crate) fn set_owner(f: &File, kind: u32, nr: i32, signum: u32) -> Result {
    let ty = match kind {
        0 => bindings::pid_type_PIDTYPE_PID,
        2 => bindings::pid_type_PIDTYPE_PGID,
        _ => bindings::pid_type_PIDTYPE_TGID,
    };
    // valid_signal().
    if signum > bindings::_NSIG {
        return Err(EINVAL);
    }
    // SAFETY: `f` is a live file.
    to_result(unsafe { bindings::file_f_owner_allocate(f.as_ptr()) })?;
    {
        let _rcu = kernel::sync::rcu::read_lock();
        let mut pid = core::ptr::null_mut();
        if nr != 0 {
            // SAFETY: Under the RCU read lock, as `find_vpid` wants.
            pid = unsafe { bindings::find_vpid(nr) };
            if pid.is_null() {
                return Err(ESRCH);
            }
        }
        // SAFETY: `f` is live; `pid` is null or live under the RCU read lock
        // (`__f_setown` takes its own reference).
        unsafe { bindings::__f_setown(f.as_ptr(), pid, ty, 1) };
    }
    // SAFETY: `f_owner` was allocated above and lives as long as `f`; `signum` is
    // written as `fcntl(F_SETSIG)` writes it.
    unsafe {
        let o = core::ptr::read_volatile(&raw const (*f.as_ptr()).f_owner);
        (*o).signum = signum as i32;
    }
    Ok(())
}

/// Sets `O_ASYNC` on `f`, installed at `fd`, as `fcntl(F_SETFL)` does: through the
/// file's `->fasync` (which sets `FASYNC` and registers `fd` for `SIGIO`).
pub(crate) fn set_async(f: &File, fd: u32) -> Result {
    let fp = f.as_ptr();
    // SAFETY: `f` is a live file; `f_op` never changes.
    let (flags, fasync) = unsafe { ((*fp).f_flags, (*(*fp).f_op).fasync) };
    if flags & bindings::FASYNC != 0 {
        return Ok(());
    }
    let Some(fasync) = fasync else {
        // SAFETY: `f_flags` changes under `f_lock`.
        unsafe {
            bindings::spin_lock(&raw mut (*fp).f_lock);
            (*fp).f_flags |= bindings::FASYNC;
            bindings::spin_unlock(&raw mut (*fp).f_lock);
        }
        return Ok(());
    };
    // SAFETY: The file's own `->fasync`, called as `fcntl(F_SETFL)` calls it.
    let r = unsafe { fasync(fd as i32, fp, 1) };
    to_result(r.min(0))
}
