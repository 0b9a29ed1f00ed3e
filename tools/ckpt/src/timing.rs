// SPDX-License-Identifier: GPL-2.0

//! Where the tool's own time goes, for `make bench`: when the environment has
//! `CKPT_TIMING_T0` (a `CLOCK_MONOTONIC` time in nanoseconds, taken by whoever
//! started `ckpt` just before it forked), [`mark`] records the time since then
//! and [`report`] prints one line `ckpt-timing NAME=MS ...` on standard error.
//! Without it, [`mark`] does nothing but look at a cached flag.

use std::sync::Mutex;
use std::sync::OnceLock;

static T0: OnceLock<Option<u64>> = OnceLock::new();
static MARKS: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn t0() -> Option<u64> {
    *T0.get_or_init(|| std::env::var("CKPT_TIMING_T0").ok()?.parse().ok())
}

/// Records that `name` was reached now.
pub fn mark(name: &'static str) {
    if let Some(t0) = t0() {
        let t = now_ns().saturating_sub(t0);
        if let Ok(mut m) = MARKS.lock() {
            m.push((name, t));
        }
    }
}

/// Prints the marks, as milliseconds since `CKPT_TIMING_T0`.
pub fn report() {
    if t0().is_none() {
        return;
    }
    mark("exit");
    let Ok(m) = MARKS.lock() else { return };
    let line: Vec<String> = m
        .iter()
        .map(|(n, t)| format!("{n}={:.1}", *t as f64 / 1e6))
        .collect();
    eprintln!("ckpt-timing {}", line.join(" "));
}
