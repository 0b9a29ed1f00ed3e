// SPDX-License-Identifier: GPL-2.0

//! The caller's own signal state that needs no lock of another task: its blocked mask
//! (`sigprocmask`) and its alternate signal stack (fields only the task itself
//! writes). Handlers and queues, under the siglock, stay in `rust/shim_signal.c`.

use kernel::{bindings, task::Task};

/// The signals no mask may block.
const UNBLOCKABLE: u64 = 1 << (bindings::SIGKILL - 1) | 1 << (bindings::SIGSTOP - 1);

/// Makes `mask` (but `SIGKILL` and `SIGSTOP`) the caller's blocked mask.
pub(crate) fn set_blocked(mask: u64) {
    let mut set = bindings::sigset_t {
        sig: [(mask & !UNBLOCKABLE) as _],
    };
    // SAFETY: `set` is a valid signal set; no old set is asked for.
    unsafe {
        bindings::sigprocmask(
            bindings::SIG_SETMASK as i32,
            &mut set,
            core::ptr::null_mut(),
        )
    };
}

/// Sets the caller's alternate signal stack as `sigaltstack(2)` would have (only
/// `SS_AUTODISARM` of the flags is kept).
pub(crate) fn set_altstack(sp: u64, size: u64, flags: u32) {
    let t = Task::current_raw();
    // SAFETY: The `sas_ss_*` fields of a task are only written by the task itself,
    // which is the caller.
    unsafe {
        (*t).sas_ss_sp = sp as _;
        (*t).sas_ss_size = size as _;
        (*t).sas_ss_flags = flags & bindings::SS_AUTODISARM;
    }
}
