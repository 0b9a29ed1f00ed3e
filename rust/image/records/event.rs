// SPDX-License-Identifier: GPL-2.0

//! Event-loop file records: the state of an [`EventfdRec`], [`TimerfdRec`] or
//! [`SignalfdRec`] file, each following its [`FileRec`], and the interest list
//! of an epoll file, one [`EpollItem`] per watched file, after the fd table
//! that holds the epoll file. Since format 1.3.

use super::super::*;

/// `EFD_SEMAPHORE` (the only eventfd flag that is not a file flag).
pub const EFD_SEMAPHORE: u32 = 1;

/// An eventfd's state, for the `eventfd` [`FileRec`] it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventfdRec {
    /// Id of the file record.
    pub file: u32,
    /// The counter.
    pub count: u64,
    /// [`EFD_SEMAPHORE`] or 0.
    pub flags: u32,
}

fixed_record! {
    impl<'a> for EventfdRec, kind::EVENTFD,
    {
        file: u32,
        count: u64,
        flags: u32,
    },
    |e| {
        check(e.file != 0, "eventfd: zero file id")?;
        check(e.count != u64::MAX, "eventfd: count out of range")?;
        check(e.flags & !EFD_SEMAPHORE == 0, "eventfd: unknown flags")?;
    }
}

/// `TFD_TIMER_ABSTIME`.
pub const TFD_TIMER_ABSTIME: u32 = 1;
/// `TFD_TIMER_CANCEL_ON_SET`.
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// A timerfd's state, for the `timerfd` [`FileRec`] it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerfdRec {
    /// Id of the file record.
    pub file: u32,
    /// Its clock (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` or an
    /// `_ALARM` one).
    pub clockid: u32,
    /// The flags of its last `timerfd_settime` ([`TFD_TIMER_ABSTIME`],
    /// [`TFD_TIMER_CANCEL_ON_SET`]).
    pub settime_flags: u32,
    /// Expirations not yet read.
    pub ticks: u64,
    /// Time left until the next expiration, ns (0: disarmed).
    pub value_ns: u64,
    /// The interval, ns (0: one-shot).
    pub interval_ns: u64,
    /// With [`TFD_TIMER_ABSTIME`], the clock's time at checkpoint, ns: the next
    /// expiration is at `now_ns + value_ns` on that clock. Else 0.
    pub now_ns: u64,
}

fixed_record! {
    impl<'a> for TimerfdRec, kind::TIMERFD,
    {
        file: u32,
        clockid: u32,
        settime_flags: u32,
        ticks: u64,
        value_ns: u64,
        interval_ns: u64,
        now_ns: u64,
    },
    |t| {
        check(t.file != 0, "timerfd: zero file id")?;
        check(matches!(t.clockid, 0 | 1 | 7 | 8 | 9), "timerfd: bad clock")?;
        check(
            t.settime_flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) == 0,
            "timerfd: unknown settime flags",
        )?;
        check(
            t.settime_flags & TFD_TIMER_ABSTIME != 0 || t.now_ns == 0,
            "timerfd: absolute time of a relative timer",
        )?;
        check(
            t.value_ns < i64::MAX as u64 && t.interval_ns < i64::MAX as u64,
            "timerfd: time out of range",
        )?;
    }
}

/// A signalfd's state, for the `signalfd` [`FileRec`] it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalfdRec {
    /// Id of the file record.
    pub file: u32,
    /// The signals it reads (bit `n - 1` for signal `n`).
    pub mask: u64,
}

fixed_record! {
    impl<'a> for SignalfdRec, kind::SIGNALFD,
    {
        file: u32,
        mask: u64,
    },
    |s| {
        check(s.file != 0, "signalfd: zero file id")?;
    }
}

/// `EPOLLEXCLUSIVE`, `EPOLLWAKEUP`, `EPOLLONESHOT`, `EPOLLET` and the poll
/// bits: every bit an interest list entry can hold.
pub const EPOLL_EVENT_BITS: u32 = (1 << 28) | (1 << 29) | (1 << 30) | (1 << 31) | 0xffff;

/// One entry of the interest list of an epoll file: the file `target` watched
/// under fd number `tfd`, as `epoll_ctl(EPOLL_CTL_ADD)` registered it (the
/// kernel keys the entry by the file and that number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpollItem {
    /// Id of the epoll [`FileRec`].
    pub file: u32,
    /// The fd number the target was added under.
    pub tfd: u32,
    /// Id of the target's [`FileRec`].
    pub target: u32,
    /// `epoll_event.events` (after `EPOLLONESHOT` fired: only its flags).
    pub events: u32,
    /// `epoll_event.data`.
    pub data: u64,
}

fixed_record! {
    impl<'a> for EpollItem, kind::EPOLL_ITEM,
    {
        file: u32,
        tfd: u32,
        target: u32,
        events: u32,
        data: u64,
    },
    |e| {
        check(e.file != 0 && e.target != 0, "epoll-item: zero file id")?;
        check(e.file != e.target, "epoll-item: an epoll watching itself")?;
        check(e.tfd < MAX_FD, "epoll-item: fd number too large")?;
        check(e.events & !EPOLL_EVENT_BITS == 0, "epoll-item: unknown events")?;
    }
}

/// The mask bits an inotify watch keeps: the events (`IN_ALL_EVENTS`),
/// `IN_EXCL_UNLINK` and `IN_ONESHOT`.
pub const INOTIFY_MASK_BITS: u32 = 0x0000_0fff | 0x0400_0000 | 0x8000_0000;

/// One watch of an inotify file, after the `inotify` [`FileRec`] it belongs
/// to: the inode named by `path` (device `dev`, inode number `ino` at
/// checkpoint time), watched as watch descriptor `wd` for `mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InotifyWatch<'a> {
    /// Id of the file record.
    pub file: u32,
    /// The watch descriptor.
    pub wd: i32,
    /// The events and flags it was added with (`IN_*`).
    pub mask: u32,
    /// The watched inode's device (`st_dev`, the kernel's encoding).
    pub dev: u32,
    /// The watched inode's number.
    pub ino: u64,
    /// Its path, as the checkpointing process's root saw it.
    pub path: &'a [u8],
}

fixed_record! {
    impl<'a> for InotifyWatch<'a>, kind::INOTIFY_WATCH,
    {
        file: u32,
        wd: i32,
        mask: u32,
        dev: u32,
        ino: u64,
        path: str,
    },
    |w| {
        check(w.file != 0, "inotify-watch: zero file id")?;
        check(w.wd > 0, "inotify-watch: bad watch descriptor")?;
        check(w.mask & !INOTIFY_MASK_BITS == 0, "inotify-watch: unknown mask bits")?;
        check(
            w.path.first() == Some(&b'/') && !w.path.contains(&0),
            "inotify-watch: path not absolute",
        )?;
    }
}
