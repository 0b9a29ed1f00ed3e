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
    } else if inside(me.pgid) && sys::getpgrp() != me.pgid {
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
