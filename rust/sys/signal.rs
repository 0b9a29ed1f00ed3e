// SPDX-License-Identifier: GPL-2.0

//! The caller's own signal state that needs no lock of another task: its blocked mask
//! (`sigprocmask`) and its alternate signal stack (fields only the task itself
//! writes). Handlers and queues, under the siglock, stay in `rust/shim_signal.c`.

use kernel::{bindings, prelude::*, task::Task};

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

/// Queues saved signal `info` (a whole `kernel_siginfo_t`, its signal number checked
/// by the caller) for the caller with `send_sig_info()`; unless `keep_sender` (the
/// caller's decision, `access::signal_keeps_sender`), as sent by the caller's uid.
pub(crate) fn queue(
    info: &[u8; size_of::<bindings::kernel_siginfo>()],
    keep_sender: bool,
) -> Result {
    let mut ki = core::mem::MaybeUninit::<bindings::kernel_siginfo>::uninit();
    // SAFETY: `info` has exactly the size of a `kernel_siginfo`, a plain C struct for
    // which every byte pattern is valid.
    let mut ki = unsafe {
        core::ptr::copy_nonoverlapping(info.as_ptr(), ki.as_mut_ptr().cast::<u8>(), info.len());
        ki.assume_init()
    };
    let si = &mut ki.__bindgen_anon_1;
    if !keep_sender {
        // SAFETY: current's subjective credentials stay live while it runs this; its
        // user namespace too; `from_kuid_munged` takes any id. `_kill` is the union
        // member a user-sent signal uses (plain integers).
        unsafe {
            let uid = (*(*Task::current_raw()).cred).uid;
            si._sifields._kill._uid = bindings::from_kuid_munged(bindings::current_user_ns(), uid);
        }
    }
    let signo = si.si_signo;
    // SAFETY: `ki` is a valid siginfo; current is a live task.
    kernel::error::to_result(unsafe {
        bindings::send_sig_info(signo, &mut ki, Task::current_raw())
    })
}
