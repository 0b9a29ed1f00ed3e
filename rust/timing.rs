// SPDX-License-Identifier: GPL-2.0

//! Where a checkpoint's or a restart's time goes: with the module parameter `timing`
//! set, each logs one line "ckpt: timing checkpoint|restart pid=.. NAME=MS ..." with
//! the time of each of its phases in milliseconds (`make bench` reads them from the
//! kernel log). Without it, a [`Phases`] records nothing: one branch per phase.

use core::sync::atomic::{AtomicI64, Ordering};
use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

/// Most phases one operation records.
const MAX: usize = 12;

/// Parts of the page phases, summed over a whole operation and logged after the
/// phases as `NAME=MS` (a diagnostic: operations that run at once add up together).
#[derive(Clone, Copy)]
pub(crate) enum Sub {
    /// Checkpoint: finding and referencing the pages (GUP, zero-page scan).
    Pin,
    /// Checkpoint: copying page data into the record's buffer, hashed as copied.
    Copy,
    /// Checkpoint: writing page data to the image.
    Write,
    /// Restart: faulting in (allocating, zeroing) the pages to fill.
    Fault,
    /// Restart: reading page data into place.
    Fill,
    /// Restart: hashing page data.
    Hash,
}

const SUB_NAMES: [&str; 6] = ["pin", "copy", "write", "fault", "fill", "hash"];
static SUBS: [AtomicI64; 6] = [const { AtomicI64::new(0) }; 6];

fn on() -> bool {
    crate::compat::param::<u32>(crate::module_parameters::timing.value()) != 0
}

/// Starts timing a part (`None` without the `timing` parameter).
pub(crate) fn sub_start() -> Option<Instant<Monotonic>> {
    on().then(Instant::<Monotonic>::now)
}

/// Adds the time since `t` (from [`sub_start`]) to part `s`.
pub(crate) fn sub_end(s: Sub, t: Option<Instant<Monotonic>>) {
    if let Some(t) = t {
        SUBS[s as usize].fetch_add(t.elapsed().as_nanos(), Ordering::Relaxed);
    }
}

/// The phases of one operation, in order.
pub(crate) struct Phases {
    on: bool,
    start: Instant<Monotonic>,
    last: Instant<Monotonic>,
    marks: [(&'static str, i64); MAX],
    n: usize,
}

impl Phases {
    /// Starts timing (only if the `timing` parameter is set).
    pub(crate) fn start() -> Self {
        let now = Instant::<Monotonic>::now();
        if on() {
            for s in SUBS.iter() {
                s.store(0, Ordering::Relaxed);
            }
        }
        Self {
            on: on(),
            start: now,
            last: now,
            marks: [("", 0); MAX],
            n: 0,
        }
    }

    /// Ends phase `name` now: its time is what passed since the previous mark.
    pub(crate) fn mark(&mut self, name: &'static str) {
        if !self.on || self.n == MAX {
            return;
        }
        let now = Instant::<Monotonic>::now();
        self.marks[self.n] = (name, (now - self.last).as_nanos());
        self.last = now;
        self.n += 1;
    }

    /// Records `name` as `ns` nanoseconds measured elsewhere (it overlaps the phases).
    pub(crate) fn extra(&mut self, name: &'static str, ns: i64) {
        if self.on && self.n < MAX {
            self.marks[self.n] = (name, ns);
            self.n += 1;
        }
    }

    /// Nanoseconds since the start.
    pub(crate) fn since_start(&self) -> i64 {
        if self.on {
            self.start.elapsed().as_nanos()
        } else {
            0
        }
    }

    /// Logs the line for operation `what` on `pid` (if timing).
    pub(crate) fn log(&self, what: &str, pid: i32) {
        if !self.on {
            return;
        }
        let mut line = [0u8; 256];
        let mut w = Cursor {
            buf: &mut line,
            len: 0,
        };
        for (name, ns) in &self.marks[..self.n] {
            let _ = core::fmt::Write::write_fmt(
                &mut w,
                format_args!(" {name}={}.{:03}", ns / 1_000_000, (ns / 1000) % 1000),
            );
        }
        for (name, s) in SUB_NAMES.iter().zip(SUBS.iter()) {
            let ns = s.load(Ordering::Relaxed);
            if ns != 0 {
                let _ = core::fmt::Write::write_fmt(
                    &mut w,
                    format_args!(" {name}={}.{:03}", ns / 1_000_000, (ns / 1000) % 1000),
                );
            }
        }
        let total = self.start.elapsed().as_nanos();
        let n = w.len;
        pr_info!(
            "timing {what} pid={pid}{} total={}.{:03}\n",
            core::str::from_utf8(&line[..n]).unwrap_or(""),
            total / 1_000_000,
            (total / 1000) % 1000
        );
    }
}

/// A `fmt::Write` into a byte buffer, cutting what does not fit.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
