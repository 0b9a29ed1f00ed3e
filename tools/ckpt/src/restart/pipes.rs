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

use super::plan::PipePlan;

/// The pipes the root restarter created for the image's pipes.
#[derive(Default)]
pub(super) struct Pipes {
    /// What the ioctl is told: each pipe's image id and fds.
    pub(super) args: Vec<CkptRestartPipe>,
    /// The pipes, held open (and inherited by every process created after).
    held: Vec<(io::PipeReader, io::PipeWriter)>,
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
