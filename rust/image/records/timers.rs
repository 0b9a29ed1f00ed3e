// SPDX-License-Identifier: GPL-2.0

//! Timer records: [`PosixTimer`] (`timer_create`). The interval timers
//! (`setitimer`) are part of [`SignalRec`].

use super::super::*;

/// [`PosixTimer::flags`].
pub mod ptimer {
    /// `value_ns` is an absolute expiry on the timer's clock (`TIMER_ABSTIME` on
    /// `CLOCK_REALTIME` or `CLOCK_TAI`), not the time left.
    pub const ABSTIME: u32 = 1;
    /// The timer's signal was queued, not yet delivered (a periodic timer re-arms
    /// when it is delivered). A restarter makes the timer expire at once, so that
    /// its own signal is queued again (the saved queue entry of the timer is not
    /// queued a second time).
    pub const SIGNAL_QUEUED: u32 = 2;
    /// Every flag.
    pub const ALL: u32 = ABSTIME | SIGNAL_QUEUED;
}

/// `sigev_notify` values a [`PosixTimer`] may have.
pub mod sigev {
    /// `SIGEV_SIGNAL`: a signal to the process.
    pub const SIGNAL: i32 = 0;
    /// `SIGEV_NONE`: no notification.
    pub const NONE: i32 = 1;
    /// `SIGEV_THREAD_ID` (with `SIGEV_SIGNAL`): a signal to one thread.
    pub const THREAD_ID: i32 = 4;
}

/// Clocks a [`PosixTimer`] may be on: `CLOCK_REALTIME`, `CLOCK_MONOTONIC`,
/// `CLOCK_BOOTTIME`, `CLOCK_TAI`.
pub fn ptimer_clock_ok(clock: i32) -> bool {
    matches!(clock, 0 | 1 | 7 | 11)
}

/// A POSIX timer (`timer_create`) of the process whose [`SignalRec`] it follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PosixTimer {
    /// Id of the [`SignalRec`].
    pub signal: u32,
    /// The timer id (`timer_t`), which a restarter asks for again.
    pub id: i32,
    /// Its clock.
    pub clock: i32,
    /// `sigev_notify` ([`sigev`]).
    pub notify: i32,
    /// `sigev_signo` (0 for `SIGEV_NONE`).
    pub signo: i32,
    /// For `SIGEV_THREAD_ID`, the thread (an id of a thread of the process); else 0.
    pub tid: i32,
    /// [`ptimer`] flags.
    pub flags: u32,
    /// `sigev_value`, as the signal's `si_value` carries it.
    pub value: u64,
    /// Time to the next expiry (0: disarmed), or the absolute expiry ([`ptimer::ABSTIME`]).
    pub value_ns: u64,
    /// Reload interval (0: one-shot).
    pub interval_ns: u64,
    /// What `timer_getoverrun` returned for the last delivered signal.
    pub overrun: u32,
}

fixed_record! {
    impl<'a> for PosixTimer, kind::POSIX_TIMER,
    {
        signal: u32,
        id: i32,
        clock: i32,
        notify: i32,
        signo: i32,
        tid: i32,
        flags: u32,
        value: u64,
        value_ns: u64,
        interval_ns: u64,
        overrun: u32,
    },
    |t| {
        check(t.signal != 0, "posix-timer: no signal object")?;
        check(t.id >= 0, "posix-timer: bad id")?;
        check(ptimer_clock_ok(t.clock), "posix-timer: bad clock")?;
        check(
            matches!(t.notify, sigev::SIGNAL | sigev::NONE | sigev::THREAD_ID),
            "posix-timer: bad notification",
        )?;
        check(
            t.notify == sigev::NONE || (1..=NSIG as i32).contains(&t.signo),
            "posix-timer: bad signal",
        )?;
        check(
            (t.notify == sigev::THREAD_ID) == (t.tid > 0) && t.tid >= 0,
            "posix-timer: bad thread",
        )?;
        check(t.flags & !ptimer::ALL == 0, "posix-timer: bad flags")?;
        check(
            t.flags & ptimer::ABSTIME == 0 || matches!(t.clock, 0 | 11),
            "posix-timer: absolute expiry on a relative clock",
        )?;
        check(
            t.flags & ptimer::SIGNAL_QUEUED == 0 || t.notify != sigev::NONE,
            "posix-timer: queued signal of a timer without one",
        )?;
        check(t.overrun <= i32::MAX as u32, "posix-timer: bad overrun")?;
    }
}

/// Most POSIX timers one process may have in an image.
pub const MAX_POSIX_TIMERS: usize = 4096;
