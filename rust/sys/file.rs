// SPDX-License-Identifier: GPL-2.0

//! Files of the caller, through the kernel crate's [`LocalFile`] and [`File`].

use core::ptr::NonNull;
use kernel::{
    bindings,
    fs::file::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
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
