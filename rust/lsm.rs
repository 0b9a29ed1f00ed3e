// SPDX-License-Identifier: GPL-2.0

//! The LSM observer: what processes were seen doing at the LSM hook points.
//!
//! C side: [`rust/lsm_probe.c`](lsm_probe.c) (fprobes on `security_*` hooks and the task
//! lifetime tracepoints). A loadable module cannot register an LSM, so the hooks are
//! observed, never enforced: the marks explain *why* a process may not be checkpointable
//! (`ckpt check`), the checkpoint itself decides from the process's present state.

use crate::checkpoint::Reason;
use crate::shim::TaskRef;
use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// `struct ckpt_lsm_marks`.
#[repr(C)]
#[derive(Default)]
struct Marks {
    flags: u32,
    dropped: u32,
    detail: [u32; NR],
    pad: u32,
    when: [u64; NR],
}

const NR: usize = 7;
const WHAT: [&str; NR] = [
    "created a socket",
    "opened a device",
    "mapped a device",
    "opened a perf event",
    "used bpf(2)",
    "set up io_uring",
    "changed its capabilities",
];

extern "C" {
    fn ckpt_lsm_start() -> i32;
    fn ckpt_lsm_stop();
    fn ckpt_lsm_query(t: *mut c_void, m: *mut Marks) -> i32;
    fn ckpt_lsm_ignore_device(major: u32, minor: u32);
}

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The observer, active while this object lives (part of the module's state).
pub(crate) struct LsmWatch;

impl LsmWatch {
    /// Starts observing; without fprobes or LSM hooks in this kernel it stays off (and
    /// says so once in the log).
    pub(crate) fn start() -> Self {
        // SAFETY: Called once at module init; paired with `ckpt_lsm_stop` in `drop`.
        let r = unsafe { ckpt_lsm_start() };
        if r == 0 {
            ACTIVE.store(true, Ordering::Release);
        } else {
            pr_info!(
                "LSM observer off (errno {}): `ckpt check` explains less\n",
                -r
            );
        }
        Self
    }

    /// Tells the observer not to count opening `/dev/ckpt` (misc `minor`) against a
    /// process: the checkpoint itself refuses a process that keeps it open.
    pub(crate) fn ignore_own_device(minor: i32) {
        // SAFETY: Stores a plain value read by the probes.
        unsafe { ckpt_lsm_ignore_device(10, minor as u32) };
    }

    /// Whether the observer runs.
    pub(crate) fn active() -> bool {
        ACTIVE.load(Ordering::Acquire)
    }
}

impl Drop for LsmWatch {
    fn drop(&mut self) {
        if ACTIVE.swap(false, Ordering::AcqRel) {
            // SAFETY: `ckpt_lsm_start` succeeded and this is the only stop.
            unsafe { ckpt_lsm_stop() };
        }
    }
}

fn family(f: u32) -> &'static str {
    match f {
        1 => "AF_UNIX",
        2 => "AF_INET",
        10 => "AF_INET6",
        16 => "AF_NETLINK",
        17 => "AF_PACKET",
        _ => "another family",
    }
}

/// Appends what `t`'s process was seen doing to `why` ("; seen: ..."), if anything.
pub(crate) fn explain(t: &TaskRef, why: &mut Reason) {
    if !LsmWatch::active() {
        return;
    }
    let mut m = Marks::default();
    // SAFETY: The task is valid (held by `t`); `m` is a valid out pointer.
    if unsafe { ckpt_lsm_query(t.as_raw(), &mut m) } != 0 || m.flags == 0 {
        return;
    }
    let _ = why.write_str(if why.is_empty() { "seen: " } else { "; seen: " });
    let mut first = true;
    for (i, what) in WHAT.iter().enumerate() {
        if m.flags & (1 << i) == 0 {
            continue;
        }
        let _ = why.write_str(if first { "" } else { ", " });
        first = false;
        let _ = why.write_str(what);
        let d = m.detail[i];
        let _ = match i {
            0 => write!(why, " ({})", family(d)),
            1 | 2 => write!(why, " ({}:{})", d >> 20, d & 0xfffff),
            3 => write!(why, " (type {d})"),
            4 => write!(why, " (command {d})"),
            6 => write!(why, " (capset, effective {d:#x})"),
            _ => Ok(()),
        };
    }
}
