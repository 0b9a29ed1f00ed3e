// SPDX-License-Identifier: GPL-2.0

//! Terminals: the controlling terminal of a process (saved as a [`Ctty`] record) and,
//! on restart, the kernel's half of giving a process its terminal back: with
//! `CKPT_RESTART_INHERIT_STDIO`, the image's terminal becomes the caller's stdio.
//! Re-acquiring the controlling terminal and the foreground group is the tool's
//! (`tools/ckpt`, `sys.rs`).

use crate::checkpoint::Reason;
use crate::image::{self, Ctty};
use crate::restart::{refuse, Plan};
use crate::shim::{FileRef, TaskRef};
use crate::stream::ImageWriter;
use crate::uapi::{CkptRestartArgs, CkptRestartPipe};
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Checkpoint.

/// Writes the controlling terminal of `t`'s process, if it has one.
pub(crate) fn write_ctty(w: &mut ImageWriter<'_>, t: &TaskRef) -> Result {
    let mut name = [0u8; 64];
    let Some((n, fg_pgid, leader)) = t.ctty(&mut name)? else {
        return Ok(());
    };
    let mut path = [0u8; 69];
    path[..5].copy_from_slice(b"/dev/");
    path[5..5 + n].copy_from_slice(&name[..n]);
    w.record(&Ctty {
        fg_pgid,
        leader: leader as u32,
        path: &path[..5 + n],
    })
}

// ---------------------------------------------------------------------------
// Restart.

/// The master of the pseudo-terminal pair `ckpt restart` made again for the image's
/// master `f`, passed as the "pipe" of the file's id.
pub(crate) fn open_pty_master(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<FileRef> {
    let index = p.pty_master(f.id).map_or(0, |t| t.index);
    let Some(q) = pipes.iter().find(|q| q.id == f.id) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("no master was passed for pseudo-terminal {index} of the image"),
        ));
    };
    let file = FileRef::fd(q.rfd)
        .map_err(|e| refuse(why, e, format_args!("pty fd {} is not open", q.rfd)))?;
    if !file
        .pty()
        .is_some_and(|t| t.master == 1 && t.index == index)
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("fd {} is not the master of pseudo-terminal {index}", q.rfd),
        ));
    }
    file.set_flags(f.flags);
    Ok(file)
}

/// The caller's stdio fd that stands for the image's terminal file `f`.
pub(crate) fn open_inherited(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    args: &CkptRestartArgs,
    why: &mut Reason,
) -> Result<FileRef> {
    // The image's terminal becomes the caller's stdio (by the fd using it).
    let n = p
        .fds
        .iter()
        .find(|d| d.file == f.id && d.fd < 3)
        .map_or(1, |d| d.fd as usize);
    let fd = args.stdio[n];
    FileRef::fd(fd).map_err(|e| refuse(why, e, format_args!("stdio fd {fd} is not open")))
}
