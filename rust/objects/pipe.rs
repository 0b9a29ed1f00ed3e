// SPDX-License-Identifier: GPL-2.0

//! Pipes and fifos: the pipe object with its buffered bytes (peeked at checkpoint,
//! put back at restart). The restarter (`ckpt restart`) creates anonymous pipes and
//! passes them in; fifos are opened by path.

use super::files::{fmt_what::What, path_str, path_z, Opened};
use super::{O_ACCMODE, O_NONBLOCK, O_RDWR, O_WRONLY};
use crate::checkpoint::Reason;
use crate::image::{self, filekind, PipeRec};
use crate::restart::{refuse, Plan};
use crate::session::Session;
use crate::shim::{FileInfo, FileRef};
use crate::stream::{ImageWriter, ObjMap};
use crate::uapi::CkptRestartPipe;
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Checkpoint.

/// Writes (once) the pipe behind file `f` (whose info is `fi`) with the bytes
/// buffered in it; returns its id.
pub(crate) fn define(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    f: &FileRef,
    fi: &FileInfo,
    what: What,
    why: &mut Reason,
) -> Result<u32> {
    Ok(match objs.get(fi.pipe_key) {
        Some(id) => id,
        None => {
            let mut data = KVVec::from_elem(0u8, fi.pipe_len as usize, GFP_KERNEL)?;
            // The target is quiescent, but another process may share the pipe.
            let got = f.pipe_peek(&mut data).map_err(|e| {
                why.set(
                    e,
                    format_args!("{what}: pipe contents changed while saving"),
                )
            })?;
            let id = objs.define(fi.pipe_key)?;
            w.record(&PipeRec {
                id,
                capacity: fi.pipe_capacity,
                data: &data[..got],
            })?;
            id
        }
    })
}

// ---------------------------------------------------------------------------
// Restart.

/// Every file of the plan that refers to a pipe must find it in the image.
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    for f in p.files.iter() {
        if f.pipe != 0 && !p.pipes.iter().any(|q| q.id == f.pipe) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("file {} refers to no pipe", f.id),
            ));
        }
    }
    Ok(())
}

/// Whether pipe file `f` is the first open file description of its pipe end among
/// `all` (the image's files): the lowest id opened read-only (the read end) or
/// write-only (the write end). That one is the end the restarter created; every
/// other description of the pipe (a second `open` of `/proc/PID/fd/N`, a read-write
/// one) was a file of its own, with its own flags and offset, and is opened again.
pub(crate) fn first_of_its_end(f: &image::FileRec<'_>, all: &[image::FileRec<'_>]) -> bool {
    let acc = f.flags & O_ACCMODE;
    acc != O_RDWR
        && !all.iter().any(|g| {
            g.kind == filekind::PIPE
                && g.pipe == f.pipe
                && g.flags & O_ACCMODE == acc
                && g.id < f.id
        })
}

/// Takes the end of an anonymous pipe that the restarter created for pipe file `f`,
/// or (`reopen`: not the first description of its end, see [`first_of_its_end`])
/// opens a new description of that pipe through `/proc/self/fd`, as the program
/// once did.
pub(crate) fn open(
    f: &image::FileRec<'_>,
    pipes: &[CkptRestartPipe],
    reopen: bool,
    why: &mut Reason,
) -> Result<FileRef> {
    let Some(q) = pipes.iter().find(|q| q.id == f.pipe) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("no pipe was passed for pipe {} of the image", f.pipe),
        ));
    };
    let fd = if f.flags & O_ACCMODE == O_WRONLY {
        q.wfd
    } else {
        q.rfd
    };
    let file = if reopen {
        let path = kernel::str::CString::try_from_fmt(format_args!("/proc/self/fd/{fd}"))?;
        // Never blocks: the restarter holds both ends open.
        FileRef::open(path.to_bytes_with_nul(), (f.flags & O_ACCMODE) | O_NONBLOCK).map_err(
            |e| {
                refuse(
                    why,
                    e,
                    format_args!("cannot open pipe {} again through /proc/self/fd", f.pipe),
                )
            },
        )?
    } else {
        FileRef::fd(fd).map_err(|e| refuse(why, e, format_args!("pipe fd {fd} is not open")))?
    };
    file.set_flags(f.flags);
    Ok(file)
}

/// Opens deleted fifo file `f` ("/DIR/NAME (deleted)") again: through the fifo the
/// restarter made for its pipe, opened read-write and unlinked at once, passed as the
/// pipe's `rfd`.
pub(crate) fn open_deleted_fifo(
    f: &image::FileRec<'_>,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<FileRef> {
    let Some(q) = pipes.iter().find(|q| q.id == f.pipe) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("no fifo was passed for deleted fifo {}", path_str(f.path)),
        ));
    };
    let given =
        FileRef::fd(q.rfd).map_err(|e| refuse(why, e, format_args!("fd {} is not open", q.rfd)))?;
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (fi, _) = given.info(&mut pb)?;
    if fi.kind != crate::shim::fk::FIFO || fi.unlinked == 0 {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("fd {} is not a deleted fifo", q.rfd),
        ));
    }
    // The given file is a reader: a write-only open does not fail.
    let file = given
        .reopen(f.flags | O_NONBLOCK, false)
        .map_err(|e| refuse(why, e, format_args!("cannot reopen {}", path_str(f.path))))?;
    file.set_flags(f.flags);
    Ok(file)
}

/// Puts the buffered bytes of the plan's pipes back (once per pipe in the session).
pub(crate) fn refill(
    p: &Plan<'_>,
    sess: &Session,
    out: &Opened,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result {
    // Buffered pipe bytes go back: into the restarter's fresh pipe for an anonymous
    // pipe, through a temporary writer for a fifo -- unless the fifo still holds them
    // (another process kept it open).
    for q in p.pipes.iter() {
        if q.data.is_empty() || !sess.first_fill(q.id)? {
            continue;
        }
        if let Some(f) = p
            .files
            .iter()
            .find(|f| f.pipe == q.id && f.kind == filekind::FIFO)
        {
            let opened_fifo = out.get(f.id).ok_or(EINVAL)?;
            let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
            let (fi, _) = opened_fifo.info(&mut pb)?;
            if fi.pipe_len != 0 {
                continue;
            }
            if q.data.len() > fi.pipe_capacity as usize {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!("fifo {} is too small", path_str(f.path)),
                ));
            }
            let w = if f.path.ends_with(b" (deleted)") {
                opened_fifo.reopen(O_RDWR | O_NONBLOCK, false)
            } else {
                FileRef::open(&path_z(f.path)?, O_RDWR | O_NONBLOCK)
            }
            .map_err(|e| {
                refuse(
                    why,
                    e,
                    format_args!("cannot refill fifo {}", path_str(f.path)),
                )
            })?;
            w.write_all(q.data).map_err(|e| {
                refuse(
                    why,
                    e,
                    format_args!("cannot refill fifo {}", path_str(f.path)),
                )
            })?;
            continue;
        }
        let Some(given) = pipes.iter().find(|g| g.id == q.id) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("no pipe was passed for pipe {}", q.id),
            ));
        };
        let w = FileRef::fd(given.wfd)
            .map_err(|e| refuse(why, e, format_args!("pipe fd {} is not open", given.wfd)))?;
        let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let (fi, _) = w.info(&mut pb)?;
        if fi.pipe_key == 0 || (fi.pipe_capacity as usize) < q.data.len() + fi.pipe_len as usize {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "pipe fd {} is not an empty pipe with room for {} bytes",
                    given.wfd,
                    q.data.len()
                ),
            ));
        }
        w.write_all(q.data)
            .map_err(|e| refuse(why, e, format_args!("cannot refill pipe {}", q.id)))?;
    }
    Ok(())
}
