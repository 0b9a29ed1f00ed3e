// SPDX-License-Identifier: GPL-2.0

//! Terminals: the controlling terminal of a process (saved as a [`Ctty`] record), a
//! pseudo-terminal end and the bytes waiting to be read at it ([`image::Pty`],
//! [`image::PtyInput`]) and, on restart, the kernel's half of giving a process its
//! terminal back: with
//! `CKPT_RESTART_INHERIT_STDIO`, the image's terminal becomes the caller's stdio.
//! Re-acquiring the controlling terminal and the foreground group is the tool's
//! (`tools/ckpt`, `sys.rs`).

use super::files::fmt_what::What;
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, Ctty};
use crate::restart::{refuse, Plan};
use crate::shim::{FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
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

/// Refuses a pseudo-terminal end with bytes waiting to be read that its line
/// discipline has already worked on (canonical mode, echo, signals, flow control or
/// character mapping): given back, they would be worked on again. A terminal file
/// at `path` whose node was deleted is accepted only as a pseudo-terminal slave
/// whose master was closed (hung up: it reads nothing and fails everything else,
/// which a restart makes again).
pub(crate) fn pty_settled(f: &FileRef, path: &[u8], what: What, why: &mut Reason) -> Result {
    let pty = f.pty();
    if path.ends_with(b" (deleted)") && !pty.is_some_and(|pi| pi.hung_up != 0) {
        return Err(why.set(
            eopnotsupp(),
            format_args!("{what}: terminal {} is gone", super::files::path_str(path)),
        ));
    }
    match pty {
        Some(pi) if pi.unread != 0 && pi.input_mode == 0 => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: pseudo-terminal {} has unread input ({}) that cannot be given back exactly (its line discipline is not n_tty, or the master is in packet mode, or the end hands its input to an external editor)",
                pi.index,
                if pi.master != 0 { "master" } else { "slave" }
            ),
        )),
        _ => Ok(()),
    }
}

/// Writes the [`image::Pty`] record of the pseudo-terminal end `f` (file `id`, which
/// [`pty_settled`] accepted) and, for the first file of that end in the image, the
/// bytes waiting to be read at it ([`image::PtyInput`]; the end keeps them).
pub(crate) fn write_pty(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    f: &FileRef,
    id: u32,
    what: What,
    why: &mut Reason,
) -> Result {
    let Some(pi) = f.pty() else {
        return Ok(());
    };
    w.record(&image::Pty {
        file: id,
        index: pi.index,
        master: pi.master as u8,
        locked: if pi.hung_up != 0 {
            image::PTY_HUNG_UP
        } else {
            pi.locked as u8
        },
        uid: pi.uid,
        gid: pi.gid,
        mode: pi.mode,
        flags: pi.flags,
        line: pi.line,
        cc: pi.cc,
        speed: pi.speed,
        winsize: pi.winsize,
    })?;
    let master = pi.master != 0;
    if objs.ptys.iter().any(|&(i, m)| i == pi.index && m == master) {
        return Ok(());
    }
    // A slave's bytes can come back only through its master: with the master
    // outside, they are not even read out (that would disturb a terminal the tree
    // does not own); complete lines waiting there are refused.
    let reachable = master || objs.pty_masters.contains(&pi.index);
    if !reachable && pi.unread != 0 {
        return Err(slave_input_refused(pi.index, why));
    }
    if pi.input_mode != 0 && reachable {
        let mut buf = KVVec::from_elem(0u8, image::MAX_PTY_INPUT, GFP_KERNEL)?;
        let mut ends = KVVec::from_elem(0u32, image::MAX_PTY_LINES, GFP_KERNEL)?;
        let (n, nends) = f.pty_take_input(&mut buf, &mut ends).map_err(|e| {
            if e == EBUSY {
                why.set(
                    e,
                    format_args!(
                        "{what}: pseudo-terminal {} kept receiving input while being saved (from a process outside the checkpoint)",
                        pi.index
                    ),
                )
            } else if e == eopnotsupp() {
                why.set(
                    e,
                    format_args!(
                        "{what}: pseudo-terminal {} has unread lines that could not be given back exactly (a quoted end-of-line or flow-control character in a line, or lines at an end whose other end is closed)",
                        pi.index
                    ),
                )
            } else {
                e
            }
        })?;
        if n > 0 || nends > 0 {
            let mut wire = KVec::with_capacity(nends * 4, GFP_KERNEL)?;
            for e in ends[..nends].iter() {
                wire.extend_from_slice(&e.to_le_bytes(), GFP_KERNEL)?;
            }
            w.record(&image::PtyInput {
                file: id,
                mode: pi.input_mode as u8,
                ends: &wire,
                data: &buf[..n],
            })?;
        }
    }
    objs.ptys.push((pi.index, master), GFP_KERNEL)?;
    Ok(())
}

/// The numbers of the pseudo-terminal pairs whose master one of `procs` has open.
pub(crate) fn masters_in(procs: &[&TaskRef]) -> Result<KVec<u32>> {
    let mut v = KVec::new();
    for t in procs {
        let mut fd = 0u32;
        while let Some(f) = t.next_file(&mut fd) {
            if let Some(pi) = f.pty().filter(|pi| pi.master != 0) {
                if !v.contains(&pi.index) {
                    v.push(pi.index, GFP_KERNEL)?;
                }
            }
            fd += 1;
        }
    }
    Ok(v)
}

/// Refuses bytes (complete lines, in canonical mode) waiting at a pseudo-terminal
/// slave whose master is none of `files` (all the files of the processes to
/// checkpoint), as [`write_pty`] does for an image: `ckpt check` names it in
/// advance.
pub(crate) fn inputs_reachable<'a, I>(files: I, why: &mut Reason) -> Result
where
    I: Iterator<Item = &'a FileRef> + Clone,
{
    for f in files.clone() {
        let Some(pi) = f.pty() else { continue };
        if pi.master != 0 || pi.unread == 0 || pi.input_mode == 0 {
            continue;
        }
        let mut others = files.clone();
        if !others.any(|g| {
            g.pty()
                .is_some_and(|q| q.master != 0 && q.index == pi.index)
        }) {
            return Err(slave_input_refused(pi.index, why));
        }
    }
    Ok(())
}

fn slave_input_refused(index: u32, why: &mut Reason) -> Error {
    why.set(
        eopnotsupp(),
        format_args!(
            "pseudo-terminal {index} has unread input at its slave, and its master is held by a process outside the checkpoint: the bytes could not be given back"
        ),
    )
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
    give_inputs(p, index, &file, why)?;
    file.set_flags(f.flags);
    Ok(file)
}

/// Gives the ends of pair `index`, whose new master is `master`, the bytes that were
/// waiting to be read at them ([`image::PtyInput`]): the restart opens each master
/// once, for all its tasks.
fn give_inputs(p: &Plan<'_>, index: u32, master: &FileRef, why: &mut Reason) -> Result {
    for t in p.pty_inputs.iter() {
        let Some(end) = p.ptys.iter().find(|e| e.file == t.file && e.index == index) else {
            continue;
        };
        let mut ends = KVec::with_capacity(t.ends.len() / 4, GFP_KERNEL)?;
        for e in t.line_ends() {
            ends.push(e, GFP_KERNEL)?;
        }
        master
            .pty_give_input(end.master == 0, t.mode, t.data, &ends)
            .map_err(|e| {
                refuse(
                    why,
                    e,
                    format_args!(
                        "cannot give pseudo-terminal {index} the {} bytes that were waiting at its {}",
                        t.data.len(),
                        if end.master != 0 { "master" } else { "slave" }
                    ),
                )
            })?;
    }
    Ok(())
}

/// The pseudo-terminal slave whose master was closed that `ckpt restart` made again
/// for the image's hung-up slave `f` (a slave of a new pair whose master it closed),
/// passed as the "pipe" of the file's id.
pub(crate) fn open_hung_up(
    f: &image::FileRec<'_>,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<FileRef> {
    let Some(q) = pipes.iter().find(|q| q.id == f.id) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "no hung-up pseudo-terminal slave was passed for file {}",
                f.id
            ),
        ));
    };
    let file = FileRef::fd(q.rfd)
        .map_err(|e| refuse(why, e, format_args!("pty fd {} is not open", q.rfd)))?;
    if !file.pty().is_some_and(|t| t.master == 0 && t.hung_up != 0) {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "fd {} is not a pseudo-terminal slave whose master was closed",
                q.rfd
            ),
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
