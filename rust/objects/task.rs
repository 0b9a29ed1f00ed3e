// SPDX-License-Identifier: GPL-2.0

//! A task's identity: ids, flags, comm, personality, tid pointers, robust list (the
//! CPU state read with it is [`super::cpu`]'s), its scheduling, `prctl` and
//! job-control attributes, and on restart whether the caller is the task the image
//! expects.
//!
//! The attributes ([`TaskAttrs`]) are restored where that is exact and simplest.
//! The restarting task *is* the restored one, so what a process sets on itself with
//! a system call and nothing later in the restart changes (scheduling policy, nice
//! value and priority, `oom_score_adj`, THP disable, child subreaper, membarrier
//! registrations) `ckpt restart` sets with that system call before the ioctl: the
//! kernel's own permission checks then apply, with the caller's rights. What
//! `commit_creds()` resets when the credentials change (the dumpable mode, the
//! parent-death signal) is set here after the credentials ([`super::creds`]); a
//! stopped process is stopped again at the end ([`super::signal`]).

use super::cpu::{self, XstateBuf};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, Task, TaskAttrs};
use crate::restart::Plan;
use crate::shim::{self, cur, ti, TaskRef};
use crate::stream::ImageWriter;
use kernel::prelude::*;

/// Object ids of what the tasks of one process share.
#[derive(Default)]
pub(crate) struct ProcessIds {
    pub(crate) creds: u32,
    pub(crate) sighand: u32,
    pub(crate) signal: u32,
    pub(crate) fs: u32,
    pub(crate) mm: u32,
    pub(crate) files: u32,
}

/// What is read of a thread while it is pinned at its safe point.
pub(crate) struct ThreadState {
    info: shim::TaskInfo,
    regs: [u64; shim::NREGS],
    in_syscall: bool,
    xstate: XstateBuf,
    rseq: (u64, u32, u32),
    attrs: TaskAttrs,
}

impl ThreadState {
    /// Reads `t`'s identity and CPU state; `t` must be held at its safe point.
    pub(crate) fn read(t: &TaskRef, why: &mut Reason) -> Result<Self> {
        let (mut regs, in_syscall) = t.regs()?;
        let rseq = t.rseq();
        if rseq.0 != 0 && !in_syscall {
            cpu::rseq_abort(t, &mut regs, why)?;
        }
        Ok(Self {
            info: t.info(),
            regs,
            in_syscall,
            xstate: XstateBuf::read(t)?,
            rseq,
            attrs: attrs_of(t)?,
        })
    }

    /// The FPU state read.
    pub(crate) fn xstate(&self) -> &XstateBuf {
        &self.xstate
    }

    /// Writes the task record and the CPU state.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>, ids: &ProcessIds) -> Result {
        let i = &self.info;
        let mut flags = 0;
        if i.flags & ti::LEADER != 0 {
            flags |= image::TASK_LEADER;
        }
        if self.in_syscall {
            flags |= image::TASK_IN_SYSCALL;
        }
        w.record(&task_record(i, flags, ids))?;
        cpu::write(w, &self.regs, &self.xstate, self.rseq)?;
        w.record(&self.attrs)
    }
}

/// `t`'s scheduling, prctl and job-control attributes.
fn attrs_of(t: &TaskRef) -> Result<TaskAttrs> {
    let a = t.attrs()?;
    Ok(TaskAttrs {
        policy: a.policy,
        sched_flags: if a.reset_on_fork != 0 {
            image::SCHED_RESET_ON_FORK
        } else {
            0
        },
        nice: a.nice,
        rt_priority: a.rt_priority,
        pdeath_signal: a.pdeath_signal,
        oom_score_adj: a.oom_score_adj,
        dumpable: a.dumpable,
        thp_disable: a.thp_disable,
        subreaper: a.subreaper,
        membarrier: a.membarrier,
        stop_signal: a.stop_signal,
    })
}

/// Refuses attributes a task record cannot carry: scheduling policies other than
/// `SCHED_OTHER`, `SCHED_BATCH`, `SCHED_IDLE`, `SCHED_FIFO` and `SCHED_RR`
/// (`SCHED_DEADLINE` reservations, `sched_ext`).
pub(crate) fn precheck(threads: &[TaskRef], why: &mut Reason) -> Result {
    use image::policy;
    for t in threads {
        let a = t.attrs()?;
        if !matches!(
            a.policy,
            policy::OTHER | policy::FIFO | policy::RR | policy::BATCH | policy::IDLE
        ) {
            let name = match a.policy {
                6 => "SCHED_DEADLINE",
                7 => "SCHED_EXT",
                _ => "an unknown policy",
            };
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "thread {} runs under {name} ({}): not supported",
                    t.info().pid,
                    a.policy
                ),
            ));
        }
    }
    Ok(())
}

/// The task record of a task whose ids are `i`, belonging to the objects `ids`.
fn task_record<'a>(i: &'a shim::TaskInfo, flags: u32, ids: &ProcessIds) -> Task<'a> {
    Task {
        pid: i.pid,
        tgid: i.tgid,
        ppid: i.ppid,
        pgid: i.pgid,
        sid: i.sid,
        flags,
        exit_signal: i.exit_signal,
        exit_code: i.exit_code,
        personality: i.personality,
        mm: ids.mm,
        files: ids.files,
        fs: ids.fs,
        sighand: ids.sighand,
        signal: ids.signal,
        creds: ids.creds,
        set_child_tid: i.set_child_tid,
        clear_child_tid: i.clear_child_tid,
        robust_list: i.robust_list,
        robust_list_len: i.robust_list_len,
        comm: i.comm(),
    }
}

/// Writes the task record of a zombie: what its parent may still collect (no
/// objects, no user addresses).
pub(crate) fn write_zombie(w: &mut ImageWriter<'_>, i: &shim::TaskInfo) -> Result {
    w.record(&Task {
        set_child_tid: 0,
        clear_child_tid: 0,
        robust_list: 0,
        robust_list_len: 0,
        ..task_record(
            i,
            image::TASK_LEADER | image::TASK_ZOMBIE,
            &ProcessIds::default(),
        )
    })
}

// ---------------------------------------------------------------------------
// Restart.

/// The caller must be the task the image expects: a thread or the leader of a
/// process with the image's number of threads.
pub(crate) fn check_caller(p: &Plan<'_>, why: &mut Reason) -> Result {
    let (n, leader, shared) = cur::threads()?;
    if leader && shared {
        return Err(why.set(
            EBUSY,
            format_args!("the caller's address space is shared with another process"),
        ));
    }
    // Threads come one by one; the leader comes last, when all of them exist.
    if leader != p.leader() || (leader && n != p.nthreads) {
        return Err(why.set(
            EINVAL,
            format_args!(
                "task {} of the image is {} of a process of {} threads; the caller is {} of {} (`ckpt restart` creates them)",
                p.task.pid,
                if p.leader() { "the leader" } else { "a thread" },
                p.nthreads,
                if leader { "the leader" } else { "a thread" },
                n
            ),
        ));
    }
    Ok(())
}

/// Restores the task's identity: comm, personality, umask, tid pointers, robust list.
pub(crate) fn restore(p: &Plan<'_>) {
    let t = &p.task;
    cur::set_misc(
        t.comm,
        t.personality,
        p.fs.umask,
        (t.set_child_tid, t.clear_child_tid),
        t.robust_list,
    );
}
