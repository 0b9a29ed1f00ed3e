// SPDX-License-Identifier: GPL-2.0

//! Task records: [`Task`] (identity, flags, comm, tid pointers, references) and
//! [`TaskAttrs`] (scheduling, `prctl` and job-control state).

use super::super::*;

/// [`Task::flags`]: the task is its thread group's leader.
pub const TASK_LEADER: u32 = 1 << 0;
/// [`Task::flags`]: the task is a zombie (exited, not yet reaped).
pub const TASK_ZOMBIE: u32 = 1 << 1;
/// [`Task::flags`]: the task was in a syscall that must be restarted.
pub const TASK_IN_SYSCALL: u32 = 1 << 2;

/// One task (a thread; the leader's record also stands for its process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task<'a> {
    /// Thread id.
    pub pid: i32,
    /// Thread-group id.
    pub tgid: i32,
    /// Parent's tgid (0 if the parent is outside the image's pid namespace).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// `TASK_*`.
    pub flags: u32,
    /// Signal sent to the parent at exit.
    pub exit_signal: i32,
    /// Exit code (zombies).
    pub exit_code: i32,
    /// `personality(2)` value.
    pub personality: u32,
    /// Object ids of what the task uses (0: none).
    pub mm: u32,
    /// Fd table object.
    pub files: u32,
    /// cwd/root/umask object.
    pub fs: u32,
    /// Signal-handler table object.
    pub sighand: u32,
    /// Process-wide signal state object.
    pub signal: u32,
    /// Credentials object.
    pub creds: u32,
    /// `set_child_tid`.
    pub set_child_tid: u64,
    /// `clear_child_tid`.
    pub clear_child_tid: u64,
    /// Robust futex list head.
    pub robust_list: u64,
    /// Its length.
    pub robust_list_len: u64,
    /// `comm`.
    pub comm: &'a [u8],
}

fixed_record! {
    impl<'a> for Task<'a>, kind::TASK,
    {
        pid: i32,
        tgid: i32,
        ppid: i32,
        pgid: i32,
        sid: i32,
        flags: u32,
        exit_signal: i32,
        exit_code: i32,
        personality: u32,
        mm: u32,
        files: u32,
        fs: u32,
        sighand: u32,
        signal: u32,
        creds: u32,
        set_child_tid: u64,
        clear_child_tid: u64,
        robust_list: u64,
        robust_list_len: u64,
        comm: str,
    },
    |t| {
        check(t.pid > 0 && t.tgid > 0, "task: bad pid")?;
        check(
            t.flags & !(TASK_LEADER | TASK_ZOMBIE | TASK_IN_SYSCALL) == 0,
            "task: unknown flags",
        )?;
        check(t.comm.len() < 16, "task: comm too long")?;
        // -1: a thread (no signal to anybody when it exits).
        check(
            (-1..=NSIG as i32).contains(&t.exit_signal),
            "task: bad exit signal",
        )?;
    }
}

/// Scheduling policies ([`TaskAttrs::policy`]), as `sched_setattr(2)` numbers them.
pub mod policy {
    /// `SCHED_OTHER`.
    pub const OTHER: u32 = 0;
    /// `SCHED_FIFO`.
    pub const FIFO: u32 = 1;
    /// `SCHED_RR`.
    pub const RR: u32 = 2;
    /// `SCHED_BATCH`.
    pub const BATCH: u32 = 3;
    /// `SCHED_IDLE`.
    pub const IDLE: u32 = 5;

    /// The name of a policy, for diagnostics.
    pub fn name(p: u32) -> &'static str {
        match p {
            OTHER => "SCHED_OTHER",
            FIFO => "SCHED_FIFO",
            RR => "SCHED_RR",
            BATCH => "SCHED_BATCH",
            IDLE => "SCHED_IDLE",
            _ => "unknown",
        }
    }
}

/// [`TaskAttrs::sched_flags`]: `SCHED_FLAG_RESET_ON_FORK`.
pub const SCHED_RESET_ON_FORK: u32 = 1;
/// [`TaskAttrs::thp_disable`]: THP disabled (`PR_SET_THP_DISABLE`).
pub const THP_DISABLED: u32 = 1;
/// [`TaskAttrs::thp_disable`]: ... except where advised (`PR_THP_DISABLE_EXCEPT_ADVISED`).
pub const THP_EXCEPT_ADVISED: u32 = 2;
/// [`TaskAttrs::membarrier`]: the `MEMBARRIER_CMD_REGISTER_*` commands a process
/// registered (as `MEMBARRIER_CMD_GET_REGISTRATIONS` reports them).
pub const MEMBARRIER_REGISTRATIONS: u32 = (1 << 2) | (1 << 4) | (1 << 6) | (1 << 8);

/// Attributes of the task it follows that a process sets with `setpriority`,
/// `sched_setattr` and `prctl`, and its job-control state. The first five fields
/// are the thread's own; the others are its process's (the same in every thread's
/// record; a restarter uses the leader's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskAttrs {
    /// Scheduling policy ([`policy`]; `SCHED_DEADLINE` is refused at checkpoint).
    pub policy: u32,
    /// [`SCHED_RESET_ON_FORK`].
    pub sched_flags: u32,
    /// Nice value, -20 to 19.
    pub nice: i32,
    /// Real-time priority: 1 to 99 for `SCHED_FIFO`/`SCHED_RR`, else 0.
    pub rt_priority: u32,
    /// Parent-death signal (`PR_SET_PDEATHSIG`), 0 if none.
    pub pdeath_signal: u32,
    /// `oom_score_adj`, -1000 to 1000.
    pub oom_score_adj: i32,
    /// Dumpable mode (`PR_GET_DUMPABLE`): 0 off, 1 owner, 2 root.
    pub dumpable: u32,
    /// [`THP_DISABLED`], [`THP_EXCEPT_ADVISED`].
    pub thp_disable: u32,
    /// 1 if the process is a child subreaper (`PR_SET_CHILD_SUBREAPER`).
    pub subreaper: u32,
    /// Membarrier registrations ([`MEMBARRIER_REGISTRATIONS`]).
    pub membarrier: u32,
    /// The signal that stopped the process (group stop), 0 if it was not stopped.
    pub stop_signal: u32,
}

fixed_record! {
    impl<'a> for TaskAttrs, kind::TASK_ATTRS,
    {
        policy: u32,
        sched_flags: u32,
        nice: i32,
        rt_priority: u32,
        pdeath_signal: u32,
        oom_score_adj: i32,
        dumpable: u32,
        thp_disable: u32,
        subreaper: u32,
        membarrier: u32,
        stop_signal: u32,
    },
    |a| {
        let rt = matches!(a.policy, policy::FIFO | policy::RR);
        check(
            rt || matches!(a.policy, policy::OTHER | policy::BATCH | policy::IDLE),
            "task-attrs: bad scheduling policy",
        )?;
        check(
            a.sched_flags & !SCHED_RESET_ON_FORK == 0,
            "task-attrs: bad scheduling flags",
        )?;
        check((-20..=19).contains(&a.nice), "task-attrs: bad nice value")?;
        check(
            if rt {
                (1..=99).contains(&a.rt_priority)
            } else {
                a.rt_priority == 0
            },
            "task-attrs: bad real-time priority",
        )?;
        check(
            a.pdeath_signal as usize <= NSIG,
            "task-attrs: bad parent-death signal",
        )?;
        check(
            (-1000..=1000).contains(&a.oom_score_adj),
            "task-attrs: bad oom_score_adj",
        )?;
        check(a.dumpable <= 2, "task-attrs: bad dumpable mode")?;
        check(
            matches!(a.thp_disable, 0 | THP_DISABLED)
                || a.thp_disable == THP_DISABLED | THP_EXCEPT_ADVISED,
            "task-attrs: bad THP mode",
        )?;
        check(a.subreaper <= 1, "task-attrs: bad subreaper flag")?;
        check(
            a.membarrier & !MEMBARRIER_REGISTRATIONS == 0,
            "task-attrs: bad membarrier registrations",
        )?;
        check(
            matches!(a.stop_signal, 0 | 19 | 20 | 21 | 22),
            "task-attrs: bad stop signal",
        )?;
    }
}
