// SPDX-License-Identifier: GPL-2.0

//! Pidfd records: [`PidfdRec`], the task of the image a `pidfd` [`FileRec`]
//! refers to, after that file record. Since format 1.8.

use super::super::*;

/// `PIDFD_NONBLOCK` (`O_NONBLOCK`): `waitid(P_PIDFD)` does not block.
pub const PIDFD_NONBLOCK: u32 = 0o4000;
/// `PIDFD_THREAD` (`O_EXCL`): the pidfd refers to one thread, not to the thread
/// group.
pub const PIDFD_THREAD: u32 = 0o200;

/// What a pidfd refers to, for the `pidfd` [`FileRec`] it follows: a process
/// of the image (or, with [`PIDFD_THREAD`], one of its threads), which the
/// restart gives back its pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidfdRec {
    /// Id of the file record.
    pub file: u32,
    /// The pid it refers to (with [`PIDFD_THREAD`], a thread id), as in the
    /// image's [`Task`] records.
    pub pid: i32,
    /// The process (thread group) of that task.
    pub tgid: i32,
    /// [`PIDFD_THREAD`] and [`PIDFD_NONBLOCK`], as `pidfd_open(2)` takes them.
    pub flags: u32,
}

fixed_record! {
    impl<'a> for PidfdRec, kind::PIDFD,
    {
        file: u32,
        pid: i32,
        tgid: i32,
        flags: u32,
    },
    |p| {
        check(p.file != 0, "pidfd: zero file id")?;
        check(p.pid > 0 && p.tgid > 0, "pidfd: bad pid")?;
        check(
            p.flags & !(PIDFD_THREAD | PIDFD_NONBLOCK) == 0,
            "pidfd: unknown flags",
        )?;
        check(
            p.flags & PIDFD_THREAD != 0 || p.pid == p.tgid,
            "pidfd: a thread group named by a thread id",
        )?;
    }
}
