// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_HANDOVER`: images kept across a kexec in memory the kernel preserves for
//! its successor (kexec handover, KHO), so that a kernel switch needs no disk. The
//! memory mechanics (folios, their preservation, the KHO subtree "ckpt") are in
//! `rust/shim_kho.c`; this file decides who may do what.
//!
//! At load the module takes what the previous kernel's module handed over (if this
//! boot came from a kexec with KHO); `ckpt handover get` reads it and `release`
//! frees it. `ckpt handover put` hands a packed set of images to the next kernel;
//! it stays registered when the module is unloaded before the kexec.

use crate::uapi::{self, CkptHandoverArgs};
use kernel::{bindings, prelude::*, uaccess::UserSlice};

mod ffi {
    extern "C" {
        pub(super) fn ckpt_kho_enabled() -> bool;
        pub(super) fn ckpt_kho_put(buf: u64, len: u64) -> i32;
        pub(super) fn ckpt_kho_drop();
        pub(super) fn ckpt_kho_take() -> i64;
        pub(super) fn ckpt_kho_sizes(inp: *mut u64, out: *mut u64);
        pub(super) fn ckpt_kho_read(buf: u64, off: u64, len: u64) -> i64;
        pub(super) fn ckpt_kho_release();
        pub(super) fn ckpt_kho_exit();
        pub(super) fn ckpt_kho_boot() -> bool;
    }
}

// SAFETY: All-integer `repr(C)` struct without padding: any bit pattern is valid.
unsafe impl kernel::transmute::FromBytes for CkptHandoverArgs {}
// SAFETY: As above; every byte is initialised.
unsafe impl kernel::transmute::AsBytes for CkptHandoverArgs {}

/// Whether KHO is on in this boot (`kho=on`).
pub(crate) fn enabled() -> bool {
    // SAFETY: Reads a boot-time flag.
    unsafe { ffi::ckpt_kho_enabled() }
}

/// At load: takes the set the previous kernel handed over, if any, and logs it.
pub(crate) fn init() {
    // SAFETY: Called once from the module's `init`, before the device exists.
    let r = unsafe { ffi::ckpt_kho_take() };
    match r {
        0 => {}
        n if n > 0 => pr_info!("kexec handover: {n} bytes from the previous kernel\n"),
        e => pr_warn!(
            "kexec handover: the previous kernel's set is unusable (errno {})\n",
            -e
        ),
    }
}

/// At unload: frees the incoming set; the outgoing one stays for the kexec.
pub(crate) fn exit() {
    // SAFETY: Called once from the module's drop, after the device is gone.
    unsafe { ffi::ckpt_kho_exit() }
}

/// `CKPT_IOC_HANDOVER`.
#[inline(never)]
pub(crate) fn ioctl(user: UserSlice) -> Result<isize> {
    let (mut r, mut w) = user.reader_writer();
    let mut a: CkptHandoverArgs = r.read()?;
    if a.reserved != [0; 2] {
        return Err(EINVAL);
    }
    if a.op != uapi::CKPT_HANDOVER_STATUS {
        // SAFETY: `capable` only reads the current task's credentials.
        if !unsafe { bindings::capable(bindings::CAP_SYS_BOOT as i32) } {
            return Err(EPERM);
        }
    }
    a.done = 0;
    match a.op {
        uapi::CKPT_HANDOVER_STATUS => {}
        uapi::CKPT_HANDOVER_PUT => {
            // SAFETY: The shim copies from the caller's memory with `copy_from_user`.
            let e = unsafe { ffi::ckpt_kho_put(a.buf, a.len) };
            if e != 0 {
                if e == -(bindings::EEXIST as i32) {
                    pr_info!("kexec handover: a set put by an earlier load of the module is still registered\n");
                }
                return Err(Error::from_errno(e));
            }
        }
        uapi::CKPT_HANDOVER_GET => {
            // SAFETY: The shim copies to the caller's memory with `copy_to_user`.
            let n = unsafe { ffi::ckpt_kho_read(a.buf, a.offset, a.len) };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            a.done = n as u64;
        }
        // SAFETY: Frees the incoming set under the shim's lock.
        uapi::CKPT_HANDOVER_RELEASE => unsafe { ffi::ckpt_kho_release() },
        // SAFETY: Withdraws the outgoing set under the shim's lock.
        uapi::CKPT_HANDOVER_DROP => unsafe { ffi::ckpt_kho_drop() },
        _ => return Err(EINVAL),
    }
    let (mut inp, mut out) = (0u64, 0u64);
    // SAFETY: Two valid pointers to locals.
    unsafe { ffi::ckpt_kho_sizes(&mut inp, &mut out) };
    a.in_size = inp;
    a.out_size = out;
    a.flags = if enabled() { uapi::CKPT_HANDOVER_ENABLED } else { 0 }
        // SAFETY: Reads a boot-time value.
        | if unsafe { ffi::ckpt_kho_boot() } { uapi::CKPT_HANDOVER_KHO_BOOT } else { 0 };
    w.write(&a)?;
    Ok(0)
}
