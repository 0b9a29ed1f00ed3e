// SPDX-License-Identifier: GPL-2.0

//! Files of the caller, through the kernel crate's [`LocalFile`] and [`File`].

use kernel::{
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
