// SPDX-License-Identifier: GPL-2.0

//! Task records: [`Task`] (identity, flags, comm, tid pointers, references).

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
