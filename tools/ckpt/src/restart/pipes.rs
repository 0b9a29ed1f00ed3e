// SPDX-License-Identifier: GPL-2.0

//! The image's pipes: the root restarter creates a fresh pipe for each
//! (with the image's capacity), every process it creates inherits them, and
//! the ioctl is told which pipe of the image each one stands for (the
//! module puts the buffered bytes back).

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use crate::dev;
use crate::errno;
use crate::sys;
use crate::uapi::CkptRestartPipe;

use super::plan::{PipePlan, PtyPlan};

/// The fd that stands for each file of the image that is in flight in a
/// socket's queue, by file id: for a pipe file, the end of the pipes made
/// (`args`) it opens, if the file is the first of that end in the image (the
/// module takes that fd for it, and opens later ones again), with the file's
/// flags (`O_NONBLOCK`); for an event-loop file or a regular file, the file
/// made or opened for it (`files`, see `Events::open_inflight`). A file in
/// flight without one is refused when its socket is made.
pub(super) fn inflight_fds(
    plan: &super::plan::Plan,
    args: &[CkptRestartPipe],
    files: &[crate::uapi::CkptRestartFile],
) -> std::collections::HashMap<u32, std::os::fd::RawFd> {
    let mut out = std::collections::HashMap::new();
    for s in &plan.sockets {
        for &id in s.queue_fds.iter().flatten() {
            if let Some(f) = files.iter().find(|f| f.id == id) {
                out.insert(id, f.fd);
            }
        }
    }
    let wanted: Vec<u32> = plan
        .sockets
        .iter()
        .flat_map(|s| s.queue_fds.iter().flatten().copied())
        .collect();
    for &(id, pipe, flags) in plan.pipe_files.iter().filter(|f| wanted.contains(&f.0)) {
        let write = flags & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32;
        let first = plan
            .pipe_files
            .iter()
            .filter(|f| {
                f.1 == pipe && (f.2 & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32) == write
            })
            .map(|f| f.0)
            .min();
        let Some(q) = args.iter().find(|q| q.id == pipe) else {
            continue;
        };
        if first != Some(id) {
            continue;
        }
        let fd = if write { q.wfd } else { q.rfd };
        // SAFETY: F_SETFL on an fd this process holds open.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                (flags & libc::O_NONBLOCK as u32) as libc::c_int,
            )
        };
        out.insert(id, fd);
    }
    out
}

/// The pipes the root restarter created for the image's pipes.
#[derive(Default)]
pub(super) struct Pipes {
    /// What the ioctl is told: each pipe's image id and fds.
    pub(super) args: Vec<CkptRestartPipe>,
    /// The pipes, held open (and inherited by every process created after).
    held: Vec<(io::PipeReader, io::PipeWriter)>,
    /// The masters of the pseudo-terminal pairs and the deleted fifos made again.
    held_files: Vec<std::fs::File>,
}

impl Pipes {
    /// Creates a pipe for each pipe of the image, `plan`, each with its
    /// capacity.
    pub(super) fn create(&mut self, plan: &[PipePlan]) -> Result<(), String> {
        for p in plan {
            let (r, w) =
                io::pipe().map_err(|e| format!("cannot create a pipe: {}", errno::describe(&e)))?;
            size_pipe(&w, p)?;
            self.args.push(CkptRestartPipe {
                id: p.id,
                rfd: r.as_raw_fd(),
                wfd: w.as_raw_fd(),
                pad: 0,
            });
            self.held.push((r, w));
        }
        Ok(())
    }
}

/// How `ckpt restart` makes the pair of pty record `p` (its slave `locked`).
fn pty_setup(p: &crate::image::Pty, locked: bool) -> sys::PtySetup<'_> {
    sys::PtySetup {
        index: p.index,
        locked,
        flags: p.flags,
        line: p.line,
        cc: &p.cc,
        speed: p.speed,
        winsize: p.winsize,
        owner: (p.uid, p.gid, p.mode),
    }
}

impl Pipes {
    /// Makes every pseudo-terminal pair whose master the image has again, with its
    /// number, termios, window size and slave owner (before a session
    /// leader takes its slave as controlling terminal); each master is passed as
    /// the "pipe" of the master's file id.
    pub(super) fn make_ptys(&mut self, plan: &[PtyPlan]) -> Result<(), String> {
        // Hung-up slaves first: closing their master frees the number, which a pair
        // of the image made next may have.
        let hung = |t: &&PtyPlan| t.pty.locked == crate::image::PTY_HUNG_UP;
        for (i, t) in plan.iter().enumerate().filter(|(_, t)| hung(t)) {
            if plan[..i]
                .iter()
                .any(|u| hung(&u) && u.pty.index == t.pty.index)
            {
                continue;
            }
            self.make_hung_up(plan, t)?;
        }
        for t in plan.iter().filter(|t| !hung(t)) {
            let p = &t.pty;
            let m = sys::make_pty(&pty_setup(p, p.locked != 0)).map_err(|e| {
                format!(
                    "cannot make pseudo-terminal {} again: {}",
                    p.index,
                    errno::describe(&e)
                )
            })?;
            self.pass_pty(t.file, m);
        }
        Ok(())
    }

    /// Makes the hung-up slaves of the image with the number of `t`: a pair with that
    /// number, the slave opened once for each of those files, then the master
    /// closed (the kernel hangs the slave's files up); each is passed as the "pipe"
    /// of its file id.
    fn make_hung_up(&mut self, plan: &[PtyPlan], t: &PtyPlan) -> Result<(), String> {
        let p = &t.pty;
        let fail = |e: std::io::Error| {
            format!(
                "cannot make the hung-up pseudo-terminal slave {} again: {}",
                p.index,
                errno::describe(&e)
            )
        };
        let master = sys::make_pty(&pty_setup(p, false)).map_err(fail)?;
        for u in plan
            .iter()
            .filter(|u| u.pty.locked == crate::image::PTY_HUNG_UP && u.pty.index == p.index)
        {
            let slave = sys::pty_peer(&master).map_err(fail)?;
            self.pass_pty(u.file, slave);
        }
        drop(master);
        Ok(())
    }

    /// Passes `f`, a pseudo-terminal end made for file `id`, as that file's "pipe".
    fn pass_pty(&mut self, id: u32, f: std::fs::File) {
        self.args.push(CkptRestartPipe {
            id,
            rfd: f.as_raw_fd(),
            wfd: -1,
            pad: 0,
        });
        self.held_files.push(f);
    }

    /// Makes every deleted fifo again: a new fifo in its directory, opened and
    /// unlinked at once, passed as the fifo's pipe.
    pub(super) fn make_deleted_fifos(
        &mut self,
        plan: &[(u32, Vec<u8>, u32)],
    ) -> Result<(), String> {
        for (id, path, mode) in plan {
            let f = sys::deleted_fifo(path, *mode, *id).map_err(|e| {
                format!(
                    "cannot make deleted fifo {} again: {}",
                    crate::names::path(path),
                    errno::describe(&e)
                )
            })?;
            self.args.push(CkptRestartPipe {
                id: *id,
                rfd: f.as_raw_fd(),
                wfd: f.as_raw_fd(),
                pad: 0,
            });
            self.held_files.push(f);
        }
        Ok(())
    }
}

/// Gives a fresh pipe the capacity of the image's (`F_SETPIPE_SZ`); a
/// failure matters only if the buffered bytes would not fit.
fn size_pipe(w: &io::PipeWriter, p: &PipePlan) -> Result<(), String> {
    let cap = p.capacity as usize;
    let now = sys::pipe_size(w.as_fd()).unwrap_or(65536);
    if cap == now {
        return Ok(());
    }
    match dev::set_pipe_size(w.as_fd(), cap) {
        Err(e) if p.buffered > now => Err(format!(
            "cannot make a pipe hold the {} bytes pipe {} had buffered ({} bytes wanted): {}",
            p.buffered,
            p.id,
            cap,
            errno::describe(&e)
        )),
        _ => Ok(()),
    }
}
