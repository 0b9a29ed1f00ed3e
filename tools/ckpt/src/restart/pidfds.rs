// SPDX-License-Identifier: GPL-2.0

//! The image's pidfds: no kernel function a module may call makes a pidfd, so
//! each restarter opens those its process holds (`pidfd_open(pid, flags)`) to
//! the tasks the restart gives back their pids, and the ioctl is told which
//! file of the image each one stands for (`struct ckpt_restart_file`); the
//! module checks that each names the task of the image this restart restores
//! with that pid, and installs it (a pidfd shared by processes is installed
//! from the first one's, as every shared file).
//!
//! A restarter opens them after it forked its children and started its
//! threads, just before its ioctl: the target may be a process on another
//! branch of the tree, not made yet; every restarter forks its children before
//! it opens pidfds, so every target comes. It is waited for, up to
//! [`WAIT_MS`]. The vDSO has moved by then: only system calls are used.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::errno;
use crate::uapi::CkptRestartFile;

use super::plan::{Plan, ProcPlan};

/// How long a restarter waits for the target of a pidfd to exist.
const WAIT_MS: u32 = 10_000;
/// Between two tries.
const POLL_MS: u32 = 5;

/// Sleeps `ms` milliseconds (`nanosleep`: no vDSO).
fn sleep_ms(ms: u32) {
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: (ms as libc::c_long) * 1_000_000,
    };
    // SAFETY: `ts` is a valid timespec; no remainder wanted.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

/// Opens the pidfds process `me` holds; returns them (to hold until the
/// ioctl) and what the ioctl is told.
pub(super) fn open(
    plan: &Plan,
    me: &ProcPlan,
) -> Result<(Vec<OwnedFd>, Vec<CkptRestartFile>), String> {
    let mut held = Vec::new();
    let mut args = Vec::new();
    for p in plan.pidfds.iter().filter(|p| p.tables.contains(&me.files)) {
        let mut waited = 0;
        let fd = loop {
            // SAFETY: pidfd_open takes a pid and flags; no memory is involved.
            // It is close-on-exec (pidfd_open's way); the fd's own flags are the
            // module's to set.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, p.pid, p.flags) } as i32;
            if fd >= 0 {
                // SAFETY: `fd` was just returned by the kernel and nobody else owns it.
                break unsafe { OwnedFd::from_raw_fd(fd) };
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) || waited >= WAIT_MS {
                return Err(format!(
                    "process {}: cannot open a pidfd of {} {} (file {} of the image): {}",
                    me.pid,
                    if p.flags & crate::image::PIDFD_THREAD != 0 {
                        "thread"
                    } else {
                        "process"
                    },
                    p.pid,
                    p.id,
                    errno::describe(&e)
                ));
            }
            sleep_ms(POLL_MS);
            waited += POLL_MS;
        };
        args.push(CkptRestartFile {
            id: p.id,
            fd: fd.as_raw_fd(),
        });
        held.push(fd);
    }
    Ok((held, args))
}
