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

/// The `fanotify_init()` flags a fanotify group may have: the class
/// (`FAN_CLASS_*`), `FAN_CLOEXEC`, `FAN_NONBLOCK`, `FAN_UNLIMITED_QUEUE`,
/// `FAN_UNLIMITED_MARKS`, `FAN_ENABLE_AUDIT` and the `FAN_REPORT_*` flags.
pub const FANOTIFY_INIT_BITS: u32 = 0x7fff;
/// `FAN_ENABLE_AUDIT` (fdinfo does not show it).
pub const FAN_ENABLE_AUDIT: u32 = 0x40;
/// The class bits of [`FANOTIFY_INIT_BITS`] (`FAN_CLASS_CONTENT`,
/// `FAN_CLASS_PRE_CONTENT`; neither is `FAN_CLASS_NOTIF`).
pub const FANOTIFY_CLASS_BITS: u32 = 0x0c;
/// The `event_f_flags` `fanotify_init()` accepts (`FANOTIFY_INIT_ALL_EVENT_F_BITS`:
/// the access mode, `O_APPEND`, `O_NONBLOCK`, `O_DSYNC`, `O_SYNC`, `O_CLOEXEC`,
/// `O_LARGEFILE`, `O_NOATIME`; x86_64 values).
pub const FANOTIFY_EVENT_F_BITS: u32 =
    0o3 | 0o2000 | 0o4000 | 0o10000 | 0o4010000 | 0o2000000 | 0o100000 | 0o1000000;
/// [`FanotifyGroup::unpriv`]: the group was made without `CAP_SYS_ADMIN`
/// (the kernel's `FANOTIFY_UNPRIV`: no pids of other processes in its events).
pub const FANOTIFY_UNPRIV: u32 = 1;

/// A fanotify group, for the `fanotify` [`FileRec`] it follows: what
/// `fanotify_init()` was given. Its marks are the [`FanotifyMark`] records after
/// it. Since format 1.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanotifyGroup {
    /// Id of the file record.
    pub file: u32,
    /// The `fanotify_init()` flags ([`FANOTIFY_INIT_BITS`]).
    pub flags: u32,
    /// The `event_f_flags` (the open flags of the files its events carry).
    pub event_f_flags: u32,
    /// [`FANOTIFY_UNPRIV`] or 0.
    pub unpriv: u32,
}

fixed_record! {
    impl<'a> for FanotifyGroup, kind::FANOTIFY_GROUP,
    {
        file: u32,
        flags: u32,
        event_f_flags: u32,
        unpriv: u32,
    },
    |g| {
        check(g.file != 0, "fanotify-group: zero file id")?;
        check(g.flags & !FANOTIFY_INIT_BITS == 0, "fanotify-group: unknown flags")?;
        check(
            g.flags & FANOTIFY_CLASS_BITS != FANOTIFY_CLASS_BITS,
            "fanotify-group: bad class",
        )?;
        check(
            g.event_f_flags & !FANOTIFY_EVENT_F_BITS == 0 && g.event_f_flags & 3 != 3,
            "fanotify-group: bad event_f_flags",
        )?;
        check(g.unpriv & !FANOTIFY_UNPRIV == 0, "fanotify-group: unknown unpriv bits")?;
    }
}

/// The event bits a fanotify mark's masks may hold (`FAN_*` events,
/// `FAN_EVENT_ON_CHILD`, `FAN_ONDIR`).
pub const FANOTIFY_MASK_BITS: u32 = 0x0000_1fff
    | 0x0000_8000
    | 0x0007_0000
    | 0x0010_0000
    | 0x0300_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x4000_0000;
/// The permission events (`FAN_OPEN_PERM`, `FAN_ACCESS_PERM`,
/// `FAN_OPEN_EXEC_PERM`, `FAN_PRE_ACCESS`): never in a saved mark's `mask`.
pub const FANOTIFY_PERM_EVENTS: u32 = 0x0007_0000 | 0x0010_0000;
/// The mark flags a [`FanotifyMark`] keeps: `FAN_MARK_IGNORED_SURV_MODIFY`,
/// `FAN_MARK_EVICTABLE`, `FAN_MARK_IGNORE`.
pub const FANOTIFY_MARK_FLAG_BITS: u32 = 0x40 | 0x200 | 0x400;
/// `FAN_MARK_INODE`: a [`FanotifyMark::mark_type`], an inode's mark.
pub const FAN_MARK_INODE: u32 = 0;
/// `FAN_MARK_FILESYSTEM`: a [`FanotifyMark::mark_type`], a filesystem's mark
/// (`path` is a path on it, `ino` 0).
pub const FAN_MARK_FILESYSTEM: u32 = 0x100;
/// `FAN_MARK_MOUNT`: a [`FanotifyMark::mark_type`], a mount's mark (`path` is
/// the path of the mount's root, `ino` and `dev` 0). Since format 1.11.
pub const FAN_MARK_MOUNT: u32 = 0x10;

/// One mark of a fanotify group, after its [`FanotifyGroup`] record, in the
/// order the restart adds them (oldest first): the inode named by `path`
/// (device `dev`, inode number `ino` at checkpoint time), the filesystem
/// `path` is on (device `dev`), or the mount `path` is on (the path of its
/// root), with its event mask, ignore mask and flags.
/// Since format 1.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanotifyMark<'a> {
    /// Id of the file record.
    pub file: u32,
    /// What is marked: [`FAN_MARK_INODE`], [`FAN_MARK_FILESYSTEM`] or
    /// [`FAN_MARK_MOUNT`].
    pub mark_type: u32,
    /// Its flags ([`FANOTIFY_MARK_FLAG_BITS`]).
    pub flags: u32,
    /// The events reported ([`FANOTIFY_MASK_BITS`]).
    pub mask: u32,
    /// The events ignored.
    pub ignore_mask: u32,
    /// The marked inode's or filesystem's device (`st_dev`, the kernel's encoding).
    pub dev: u32,
    /// The marked inode's number (0 for a filesystem).
    pub ino: u64,
    /// Its path (a path on the filesystem), as the checkpointing process's
    /// root saw it.
    pub path: &'a [u8],
}

fixed_record! {
    impl<'a> for FanotifyMark<'a>, kind::FANOTIFY_MARK,
    {
        file: u32,
        mark_type: u32,
        flags: u32,
        mask: u32,
        ignore_mask: u32,
        dev: u32,
        ino: u64,
        path: str,
    },
    |m| {
        check(m.file != 0, "fanotify-mark: zero file id")?;
        check(
            m.mark_type == FAN_MARK_INODE
                || (m.mark_type == FAN_MARK_FILESYSTEM && m.ino == 0)
                || (m.mark_type == FAN_MARK_MOUNT && m.ino == 0 && m.dev == 0),
            "fanotify-mark: unknown mark type",
        )?;
        check(
            m.flags & !FANOTIFY_MARK_FLAG_BITS == 0,
            "fanotify-mark: unknown flags",
        )?;
        check(
            (m.mask | m.ignore_mask) & !FANOTIFY_MASK_BITS == 0,
            "fanotify-mark: unknown mask bits",
        )?;
        check(
            m.mask & FANOTIFY_PERM_EVENTS == 0,
            "fanotify-mark: permission events",
        )?;
        check(
            m.mask != 0 || m.ignore_mask != 0,
            "fanotify-mark: empty masks",
        )?;
        check(
            m.path.first() == Some(&b'/') && !m.path.contains(&0),
            "fanotify-mark: path not absolute",
        )?;
    }
}
