// SPDX-License-Identifier: GPL-2.0

//! Task attributes a restarter gives itself before `CKPT_IOC_RESTART`.
//!
//! The restarting task *is* the restored one, so what a process can set on
//! itself with a system call is set here, by that system call: the nice value,
//! scheduling policy and priority (per thread), `oom_score_adj`, THP disable,
//! child subreaper and membarrier registrations (per process). The kernel's
//! own permission checks then decide, with the caller's rights, so a restart
//! never gets more than its caller has (a real-time policy takes
//! `CAP_SYS_NICE` or `RLIMIT_RTPRIO`, a lower nice value or `oom_score_adj`
//! what `setpriority(2)` and `/proc/PID/oom_score_adj` want), and a refusal
//! comes before the point of no return, with the reason. Nothing the module
//! does afterwards changes these (the overlay keeps the `mm` and the signal
//! state they live in). What `commit_creds()` resets when the credentials
//! change (the dumpable mode, the parent-death signal), the executable and the
//! job-control state are the module's, after the credentials.
//!
//! Attributes are set after the restarter forked the processes below it
//! (which would inherit them), each thread's after it was created.

use std::fs::OpenOptions;
use std::io::{self, Write};

use crate::errno;
use crate::image::{policy, TaskAttrs, SCHED_RESET_ON_FORK, THP_DISABLED, THP_EXCEPT_ADVISED};

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER1`).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

const SCHED_FLAG_RESET_ON_FORK: u64 = 1;
const PR_SET_CHILD_SUBREAPER: libc::c_int = 36;
const PR_SET_THP_DISABLE: libc::c_int = 41;
const PR_THP_DISABLE_EXCEPT_ADVISED: libc::c_ulong = 1 << 1;

fn check(r: libc::c_long) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Gives thread `tid` (0: the caller) the scheduling policy, priority, nice
/// value and reset-on-fork flag of `a`.
pub fn set_sched(tid: i32, a: &TaskAttrs) -> Result<(), String> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: a.policy,
        flags: if a.sched_flags & SCHED_RESET_ON_FORK != 0 {
            SCHED_FLAG_RESET_ON_FORK
        } else {
            0
        },
        nice: a.nice,
        priority: a.rt_priority,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid struct sched_attr of the size it says.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, tid, &attr, 0) }).map_err(|e| {
        let what = if matches!(a.policy, policy::FIFO | policy::RR) {
            format!("{} priority {}", policy::name(a.policy), a.rt_priority)
        } else {
            format!("{} nice {}", policy::name(a.policy), a.nice)
        };
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => {
                if matches!(a.policy, policy::FIFO | policy::RR) {
                    " (that takes CAP_SYS_NICE or RLIMIT_RTPRIO)"
                } else {
                    " (that takes CAP_SYS_NICE or RLIMIT_NICE)"
                }
            }
            _ => "",
        };
        format!(
            "cannot give thread {} the image's scheduling {what}: {}{hint}",
            if tid == 0 {
                "leader".to_string()
            } else {
                tid.to_string()
            },
            errno::describe(&e)
        )
    })
}

/// Gives the calling process the per-process attributes of `a` and the
/// caller (its leader) its scheduling.
pub fn set_process(a: &TaskAttrs) -> Result<(), String> {
    set_sched(0, a)?;
    let adj = a.oom_score_adj.to_string();
    OpenOptions::new()
        .write(true)
        .open("/proc/self/oom_score_adj")
        .and_then(|mut f| f.write_all(adj.as_bytes()))
        .map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EACCES) {
                " (a lower value takes CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            format!(
                "cannot set oom_score_adj {adj}: {}{hint}",
                errno::describe(&e)
            )
        })?;
    let (off, flags) = if a.thp_disable & THP_DISABLED != 0 {
        let f = if a.thp_disable & THP_EXCEPT_ADVISED != 0 {
            PR_THP_DISABLE_EXCEPT_ADVISED
        } else {
            0
        };
        (1, f)
    } else {
        (0, 0)
    };
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(PR_SET_THP_DISABLE, off as libc::c_ulong, flags, 0, 0) }.into())
        .map_err(|e| format!("cannot set THP disable: {}", errno::describe(&e)))?;
    // SAFETY: as above.
    check(
        unsafe {
            libc::prctl(
                PR_SET_CHILD_SUBREAPER,
                a.subreaper as libc::c_ulong,
                0,
                0,
                0,
            )
        }
        .into(),
    )
    .map_err(|e| {
        format!(
            "cannot set the child subreaper flag: {}",
            errno::describe(&e)
        )
    })?;
    for bit in 0..16 {
        let cmd = a.membarrier & (1 << bit);
        if cmd == 0 {
            continue;
        }
        // SAFETY: membarrier with a registration command and no pointers.
        check(unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }).map_err(|e| {
            format!(
                "cannot register for membarrier (command {cmd:#x}): {}",
                errno::describe(&e)
            )
        })?;
    }
    Ok(())
}
