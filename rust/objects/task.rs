// SPDX-License-Identifier: GPL-2.0

//! A task's identity: ids, flags, comm, personality, tid pointers, robust list (the
//! CPU state read with it is [`super::cpu`]'s), and on restart whether the caller
//! is the task the image expects.

use super::cpu::{self, XstateBuf};
use crate::checkpoint::Reason;
use crate::image::{self, Task};
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
}

impl ThreadState {
    /// Reads `t`'s identity and CPU state; `t` must be held at its safe point.
    pub(crate) fn read(t: &TaskRef) -> Result<Self> {
        let (regs, in_syscall) = t.regs()?;
        Ok(Self {
            info: t.info(),
            regs,
            in_syscall,
            xstate: XstateBuf::read(t)?,
            rseq: t.rseq(),
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
        cpu::write(w, &self.regs, &self.xstate, self.rseq)
    }
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
