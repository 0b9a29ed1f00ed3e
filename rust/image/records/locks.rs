// SPDX-License-Identifier: GPL-2.0

//! File lock records: [`FileLock`], and [`FileLease`] (since format 1.9).

use super::super::*;

/// [`FileLock::kind`].
pub mod lockkind {
    /// A POSIX record lock (`fcntl(F_SETLK)`), owned by the fd table.
    pub const POSIX: u32 = 1;
    /// A `flock` lock, owned by the open file description.
    pub const FLOCK: u32 = 2;
    /// An open file description lock (`fcntl(F_OFD_SETLK)`).
    pub const OFD: u32 = 3;
}

/// `OFFSET_MAX`: a lock that reaches the end of the file, however long.
pub const LOCK_TO_EOF: i64 = i64::MAX;

/// A lock the checkpointed processes hold on a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileLock {
    /// Id of the [`FilesRec`] it follows: for a POSIX lock its owner; the process
    /// that installs that table takes the lock at restart.
    pub files: u32,
    /// Id of the [`FileRec`]: the description that owns a flock or OFD lock, a
    /// description of the locked file in the table for a POSIX lock.
    pub file: u32,
    /// [`lockkind`].
    pub kind: u32,
    /// `F_RDLCK` (0) or `F_WRLCK` (1).
    pub ltype: u32,
    /// First byte.
    pub start: i64,
    /// Last byte ([`LOCK_TO_EOF`]: to the end of the file).
    pub end: i64,
    /// The holder's pid when the lock was read (POSIX and flock; 0 for OFD).
    pub pid: i32,
}

fixed_record! {
    impl<'a> for FileLock, kind::FILE_LOCK,
    {
        files: u32,
        file: u32,
        kind: u32,
        ltype: u32,
        start: i64,
        end: i64,
        pid: i32,
    },
    |l| {
        check(l.files != 0 && l.file != 0, "file-lock: no file or fd table")?;
        check(
            matches!(l.kind, lockkind::POSIX | lockkind::FLOCK | lockkind::OFD),
            "file-lock: bad kind",
        )?;
        check(l.ltype <= 1, "file-lock: bad type")?;
        check(0 <= l.start && l.start <= l.end, "file-lock: bad range")?;
        check(
            l.kind != lockkind::FLOCK || (l.start == 0 && l.end == LOCK_TO_EOF),
            "file-lock: flock lock on a range",
        )?;
        check(l.pid >= 0, "file-lock: bad pid")?;
    }
}

/// A lease (`fcntl(F_SETLEASE)`) that an open file description of the image
/// holds; its owner is the description. Since format 1.9.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileLease {
    /// Id of the [`FilesRec`] it follows: the process that installs that table
    /// takes the lease again at restart.
    pub files: u32,
    /// Id of the [`FileRec`]: the description that holds the lease.
    pub file: u32,
    /// The descriptor of that table, referring to the description, that the
    /// lease break signal names (`si_fd`): the one `F_SETLEASE` was called on.
    pub fd: u32,
    /// `F_RDLCK` (0) or `F_WRLCK` (1).
    pub ltype: u32,
}

fixed_record! {
    impl<'a> for FileLease, kind::FILE_LEASE,
    {
        files: u32,
        file: u32,
        fd: u32,
        ltype: u32,
    },
    |l| {
        check(l.files != 0 && l.file != 0, "file-lease: no file or fd table")?;
        check(l.fd < i32::MAX as u32, "file-lease: bad fd")?;
        check(l.ltype <= 1, "file-lease: bad type")?;
    }
}
