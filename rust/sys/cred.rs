// SPDX-License-Identifier: GPL-2.0

//! Credentials and capabilities of the caller, through exported functions and the
//! kernel crate's [`Kuid`].

use kernel::{bindings, task::Kuid};

/// Whether the caller has capability `cap` in its own user namespace (`ns_capable()`:
/// audited, and marks the task as having used a privilege, as the syscalls do).
pub(crate) fn ns_capable(cap: u32) -> bool {
    // SAFETY: `current_user_ns()` is the caller's live user namespace; `ns_capable`
    // takes any capability number (it warns on an invalid one).
    unsafe { bindings::ns_capable(bindings::current_user_ns(), cap as i32) }
}

/// The caller's effective uid as the initial user namespace sees it (a `kuid_t`'s value
/// is that uid).
pub(crate) fn current_global_euid() -> u32 {
    Kuid::current_euid().into_raw().val
}
