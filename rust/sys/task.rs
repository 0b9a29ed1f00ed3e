// SPDX-License-Identifier: GPL-2.0

//! Tasks and pids: lookups and signals through exported functions (`find_get_pid`,
//! `get_pid_task`, `get_task_pid`, `kill_pid`, `force_sig`), on the kernel crate's
//! [`Task`].

use core::ptr::NonNull;
use kernel::{bindings, prelude::*, sync::aref::ARef, task::Task};

/// The task with pid `nr` in the caller's pid namespace, with a reference.
pub(crate) fn by_vpid(nr: i32) -> Option<ARef<Task>> {
    if nr <= 0 {
        return None;
    }
    // SAFETY: No preconditions; a non-null result carries a reference for us.
    let pid = unsafe { bindings::find_get_pid(nr) };
    if pid.is_null() {
        return None;
    }
    // SAFETY: `pid` is a live `struct pid` we hold a reference on; a non-null result
    // carries a task reference for us.
    let t = unsafe { bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_PID) };
    // SAFETY: The reference `find_get_pid` took.
    unsafe { bindings::put_pid(pid) };
    let t = NonNull::new(t.cast::<Task>())?;
    // SAFETY: `Task` is a transparent wrapper of `task_struct`, and the reference
    // `get_pid_task` took passes to the `ARef`.
    Some(unsafe { ARef::from_raw(t) })
}

/// Whether `t` is a thread of the caller's process (`same_thread_group(t, current)`).
pub(crate) fn is_current_group(t: &Task) -> bool {
    // SAFETY: `signal` is set when a task is created and never changes; both tasks are
    // valid (a reference, and current).
    unsafe { (*t.as_ptr()).signal == (*Task::current_raw()).signal }
}

/// `kill_pid()` of `t`'s process: `priv_` 0 as `kill(2)` from the caller would, with
/// its permission checks (`sig` 0: only the checks); 1 as the kernel itself.
fn kill_process(t: *mut bindings::task_struct, sig: i32, priv_: i32) -> Result {
    // SAFETY: `t` is a valid task (callers); a non-null result carries a reference.
    let pid = unsafe { bindings::get_task_pid(t, bindings::pid_type_PIDTYPE_TGID) };
    // SAFETY: `kill_pid` takes any pid, null included (-ESRCH: the task was reaped).
    let r = unsafe { bindings::kill_pid(pid, sig, priv_) };
    // SAFETY: The reference `get_task_pid` took (`put_pid` takes null).
    unsafe { bindings::put_pid(pid) };
    kernel::error::to_result(r)
}

/// Sends `sig` to `t`'s thread group as `kill(2)` from the caller would, with the same
/// permission checks (`sig` 0: only the checks).
pub(crate) fn signal_group(t: &Task, sig: i32) -> Result {
    kill_process(t.as_ptr(), sig, 0)
}

/// Stops (or signals) the caller's own process as the kernel would, delivered on the
/// way back to user mode.
pub(crate) fn signal_own_group(sig: i32) -> Result {
    kill_process(Task::current_raw(), sig, 1)
}

/// The caller's process id (tgid) in its own pid namespace.
pub(crate) fn current_pid() -> i32 {
    kernel::current!().tgid_nr_ns(None)
}

/// Kills the caller (`SIGKILL`, delivered on the way back to user mode).
pub(crate) fn kill_current() {
    // SAFETY: No preconditions.
    unsafe { bindings::force_sig(bindings::SIGKILL as i32) }
}

/// Whether `nr` (in the caller's pid namespace) is a thread (kind 0) of the caller's
/// process, the process itself (1), or its process group (2).
pub(crate) fn current_owns(kind: u32, nr: i32) -> bool {
    let me = kernel::current!();
    match kind {
        0 => {
            let _rcu = kernel::sync::rcu::read_lock();
            // SAFETY: Under the RCU read lock, as `find_vpid` and `pid_task` want (both
            // take null); a task found stays valid until the lock is dropped.
            let t = unsafe {
                bindings::pid_task(bindings::find_vpid(nr), bindings::pid_type_PIDTYPE_PID)
            };
            // SAFETY: `t` is valid under the RCU read lock (above); `signal` is set when a
            // task is created and never changes.
            !t.is_null() && unsafe { (*t).signal == (*me.as_ptr()).signal }
        }
        1 => nr == me.tgid_nr_ns(None),
        2 => {
            // task_pgrp_vnr(current).
            // SAFETY: current is live; a null namespace means current's own.
            nr == unsafe {
                bindings::__task_pid_nr_ns(
                    me.as_ptr(),
                    bindings::pid_type_PIDTYPE_PGID,
                    core::ptr::null_mut(),
                )
            }
        }
        _ => false,
    }
}

/// The caller's thread count (`get_nr_threads()`), whether it leads its thread group
/// (`thread_group_leader()`), and whether anybody but its threads uses its address
/// space, or a thread is being created (`mm_users` is not the thread count); `EINVAL`
/// without an address space.
pub(crate) fn current_threads() -> Result<(u32, bool, bool)> {
    let me = kernel::current!();
    let t = me.as_ptr();
    // SAFETY: current is live and its `signal` is set for its whole life; the count is
    // read once, as `READ_ONCE()` in `get_nr_threads()`; only current changes its own
    // `exit_signal` as a leader.
    let (n, leader) = unsafe {
        (
            core::ptr::read_volatile(&raw const (*(*t).signal).nr_threads),
            (*t).exit_signal >= 0,
        )
    };
    let mm = me.mm().ok_or(EINVAL)?;
    // SAFETY: current's mm is live while current runs this; `atomic_read` reads it once.
    let users =
        unsafe { bindings::atomic_read(&raw const (*mm.as_raw()).__bindgen_anon_1.mm_users) };
    Ok((n as u32, leader, users != n))
}
