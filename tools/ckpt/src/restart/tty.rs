// SPDX-License-Identifier: GPL-2.0

//! Job control: each restarter joins the image's session and process
//! group, and takes back its controlling terminal and foreground group.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::errno;
use crate::sys;

use super::plan::Plan;

/// Puts the restarter of process `idx` into the image's session and process group,
/// where the tree allows (the root's session may lie outside the image: then it
/// stays in the caller's).
pub(super) fn join_groups(plan: &Plan, idx: usize) -> Result<(), String> {
    let me = &plan.procs[idx];
    let inside = |pid: i32| plan.procs.iter().any(|p| p.pid == pid);
    if me.sid == me.pid {
        sys::setsid().map_err(|e| {
            format!(
                "cannot make {} a session leader: {}",
                me.pid,
                errno::describe(&e)
            )
        })?;
    } else if me.pgid == me.pid {
        sys::setpgid(0).map_err(|e| {
            format!(
                "cannot give {} its own process group: {}",
                me.pid,
                errno::describe(&e)
            )
        })?;
    } else if sys::getpgrp() == me.pgid {
        // Already in it (a process made by a session's helper starts in the
        // helper's group, the session's).
    } else if !inside(me.pgid) && idx != 0 && me.pgid != plan.root().pgid {
        // Its group's leader is gone (it made the group, then exited and was
        // reaped): a helper with the group's id makes the group again, this
        // process joins it, and the helper goes.
        group_without_leader(me.pgid).map_err(|e| {
            format!(
                "cannot make process group {} again for {}: {}",
                me.pgid,
                me.pid,
                errno::describe(&e)
            )
        })?;
    } else if inside(me.pgid) {
        sys::setpgid(me.pgid).map_err(|e| {
            format!(
                "cannot put {} into process group {}: {}",
                me.pid,
                me.pgid,
                errno::describe(&e)
            )
        })?;
    }
    // The controlling terminal: a session leader takes it again (before it creates
    // the rest of its session, which inherits it); the leader of its foreground
    // process group makes its group the foreground again. A terminal that is gone
    // (another boot) is only a warning.
    if let Some((path, fg, leader)) = &me.ctty {
        let path = Path::new(OsStr::from_bytes(path));
        let r = if *leader && me.sid == me.pid {
            sys::take_ctty(path)
        } else {
            Ok(())
        };
        let r = r.and_then(|_| {
            if *fg == me.pid && me.pgid == me.pid {
                sys::set_foreground(path, me.pid)
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            eprintln!(
                "ckpt: warning: process {} comes back without its controlling terminal {}: {}",
                me.pid,
                path.display(),
                errno::describe(&e)
            );
        }
    }
    Ok(())
}

/// Makes process group `pgid` in the caller's session, with no process of that id
/// left in it, and puts the caller into it.
fn group_without_leader(pgid: i32) -> std::io::Result<()> {
    let helper = match sys::clone3_signal(0, Some(pgid), libc::SIGCHLD)? {
        sys::Fork::Child => {
            let _ = sys::setpgid(0);
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        sys::Fork::Parent(pid) => pid,
    };
    let mut r = Err(std::io::Error::from_raw_os_error(libc::ETIMEDOUT));
    for _ in 0..1000 {
        // SAFETY: no memory is involved.
        if unsafe { libc::getpgid(helper) } == helper {
            r = sys::setpgid(helper);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: `helper` is this process's child, killed and reaped here.
    unsafe {
        libc::kill(helper, libc::SIGKILL);
        libc::waitpid(helper, std::ptr::null_mut(), 0);
    }
    r
}
