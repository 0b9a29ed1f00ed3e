// SPDX-License-Identifier: GPL-2.0

//! File records: [`FileRec`] (with [`FileOwner`], [`FileOpener`]), [`PipeRec`], [`FilesRec`], [`Fd`],
//! [`FsRec`] (with [`CwdDeleted`]), [`Fown`] and [`LinkTarget`].

use super::super::*;

/// What kind of thing a [`FileRec`] is.
pub mod filekind {
    /// A regular file.
    pub const REG: u8 = 1;
    /// A directory.
    pub const DIR: u8 = 2;
    /// A character device (only well-known harmless ones are accepted).
    pub const CHR: u8 = 3;
    /// A named pipe.
    pub const FIFO: u8 = 4;
    /// One end of an anonymous pipe.
    pub const PIPE: u8 = 5;
    /// A terminal (the process's controlling terminal or another tty); a
    /// restarter may substitute its own terminal for it.
    pub const TTY: u8 = 6;
    /// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, inherited across
    /// fork): only ever referenced by `vma` records; `size` is its size in
    /// bytes, `path` is empty. Since format 1.1.
    pub const SHMEM: u8 = 7;
    /// A memfd (`memfd_create`): `path` is `/memfd:NAME (deleted)` as
    /// `d_path` shows it, `size` its size, `rdev` its seals (`F_SEAL_*`); its
    /// contents are in [`super::Pages`] records naming the file's id, page
    /// "addresses" being offsets in the file. Since format 1.1.
    pub const MEMFD: u8 = 8;
    /// A SysV shared memory segment (`shmget`), behind shared mappings (its
    /// attachments): `path` is `/SYSV<key in 8 hex digits> (deleted)` as
    /// `d_path` shows it, `rdev` its shmid, `size` its size. Only `vma`
    /// records refer to it. Since format 1.1.
    pub const SYSVSHM: u8 = 9;
    /// A deleted regular file (its last link is gone): `path` is
    /// `/DIR/NAME (deleted)` as `d_path` shows it, `size` its size, `mode` its
    /// mode. `rdev` is 0 if this record carries the file's contents, else the
    /// id of the earlier `ghost` or `memfd` record of the same file (another
    /// open of it). The contents are in [`super::Pages`] records naming the
    /// record's id, as a memfd's. Since format 1.2.
    pub const GHOST: u8 = 10;
    /// A symbolic link opened with `O_PATH | O_NOFOLLOW` (the link itself):
    /// `path` is the link's path. Since format 1.2.
    pub const SYMLINK: u8 = 11;
    /// An eventfd: `path` is `anon_inode:[eventfd]`; its state is in the
    /// [`super::EventfdRec`] that follows. The restarter makes it. Since 1.3.
    pub const EVENTFD: u8 = 12;
    /// A timerfd (`anon_inode:[timerfd]`, [`super::TimerfdRec`]). Since 1.3.
    pub const TIMERFD: u8 = 13;
    /// A signalfd (`anon_inode:[signalfd]`, [`super::SignalfdRec`]). Since 1.3.
    pub const SIGNALFD: u8 = 14;
    /// An epoll file (`anon_inode:[eventpoll]`); its interest list is in
    /// [`super::EpollItem`] records after the fd table. Since 1.3.
    pub const EPOLL: u8 = 15;
    /// An inotify file (`anon_inode:inotify`); its watches are in the
    /// [`super::InotifyWatch`] records that follow. Since 1.3.
    pub const INOTIFY: u8 = 16;
    /// A fanotify group (`anon_inode:[fanotify]`); how it was made is in the
    /// [`super::FanotifyGroup`] record that follows, its marks in the
    /// [`super::FanotifyMark`] records after that. Since 1.7.
    pub const FANOTIFY: u8 = 17;

    /// Whether `k` is one of the event-loop kinds ([`EVENTFD`] to
    /// [`FANOTIFY`]), anonymous-inode files the restarter makes.
    pub fn is_event(k: u8) -> bool {
        (EVENTFD..=FANOTIFY).contains(&k)
    }
    /// A unix socket: its state is the [`super::UnixSock`] record naming this
    /// file (and its queue the [`super::UnixSkb`] records after it); `path` is
    /// `socket:[INODE]`. The restarter creates it. Since format 1.3.
    pub const UNIX: u8 = 20;
    /// A pidfd (`anon_inode:[pidfd]`): the task it refers to is in the
    /// [`super::PidfdRec`] that follows; `flags` has its `PIDFD_THREAD` and
    /// `O_NONBLOCK`. The restarter makes it (`pidfd_open`). Since format 1.8.
    pub const PIDFD: u8 = 24;
    /// Largest defined value.
    pub const MAX: u8 = 24;

    /// Name of a kind, for diagnostics.
    pub fn name(k: u8) -> &'static str {
        match k {
            REG => "regular",
            DIR => "directory",
            CHR => "chardev",
            FIFO => "fifo",
            PIPE => "pipe",
            TTY => "tty",
            SHMEM => "shmem",
            MEMFD => "memfd",
            SYSVSHM => "sysv-shm",
            GHOST => "ghost",
            SYMLINK => "symlink",
            EVENTFD => "eventfd",
            TIMERFD => "timerfd",
            SIGNALFD => "signalfd",
            EPOLL => "epoll",
            INOTIFY => "inotify",
            FANOTIFY => "fanotify",
            UNIX => "unix",
            PIDFD => "pidfd",
            _ => "unknown",
        }
    }
}

/// An open file description (shared by every fd and mapping that uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRec<'a> {
    /// Object id.
    pub id: u32,
    /// [`filekind`].
    pub kind: u8,
    /// Open flags (`O_*`, as `fcntl(F_GETFL)` shows them).
    pub flags: u32,
    /// File mode (`st_mode`).
    pub mode: u32,
    /// File offset.
    pub pos: i64,
    /// Size at checkpoint time (regular files).
    pub size: u64,
    /// Modification time at checkpoint time, ns since the epoch.
    pub mtime_ns: i64,
    /// Device number (`st_rdev`) for character devices, `(major << 20) | minor`.
    pub rdev: u32,
    /// [`PipeRec`] id for pipes and fifos (0: none).
    pub pipe: u32,
    /// Path, as `/proc/PID/fd/N` would show it (`pipe:[INODE]` for anonymous pipes).
    pub path: &'a [u8],
}

fixed_record! {
    impl<'a> for FileRec<'a>, kind::FILE,
    {
        id: u32,
        kind: u8,
        flags: u32,
        mode: u32,
        pos: i64,
        size: u64,
        mtime_ns: i64,
        rdev: u32,
        pipe: u32,
        path: str,
    },
    |f| {
        check(f.id != 0, "file: zero id")?;
        check(f.kind >= 1 && f.kind <= filekind::MAX, "file: unknown kind")?;
        check(f.pos >= 0, "file: negative offset")?;
        let piped = matches!(f.kind, filekind::PIPE | filekind::FIFO);
        check(piped == (f.pipe != 0), "file: pipe reference mismatch")?;
        check(
            matches!(f.kind, filekind::PIPE | filekind::SHMEM | filekind::UNIX)
                || filekind::is_event(f.kind)
                || f.kind == filekind::PIDFD
                || f.path.first() == Some(&b'/'),
            "file: path not absolute",
        )?;
        check(
            f.kind != filekind::PIDFD || f.path == b"anon_inode:[pidfd]",
            "file: pidfd without its anonymous-inode name",
        )?;
        check(
            !filekind::is_event(f.kind) || f.path.starts_with(b"anon_inode:"),
            "file: event file without its anonymous-inode name",
        )?;
        check(
            f.kind != filekind::SHMEM || (f.size > 0 && f.size % PAGE_SIZE as u64 == 0),
            "file: bad shared memory size",
        )?;
        check(
            f.kind != filekind::SYSVSHM
                || (f.path.starts_with(b"/SYSV")
                    && f.path.len() >= 13
                    && f.size > 0
                    && f.size <= USER_ADDR_END
                    && f.rdev <= i32::MAX as u32),
            "file: bad SysV shared memory",
        )?;
        check(
            f.kind != filekind::MEMFD
                || (f.path.starts_with(b"/memfd:") && f.size <= USER_ADDR_END),
            "file: bad memfd",
        )?;
        check(
            f.kind != filekind::GHOST
                || (f.path.ends_with(b" (deleted)")
                    && f.size <= USER_ADDR_END
                    && f.rdev < f.id
                    && f.mode & S_IFMT == S_IFREG),
            "file: bad deleted file",
        )?;
        check(
            f.kind != filekind::SYMLINK || f.flags & O_PATH != 0,
            "file: symlink not opened with O_PATH",
        )?;
    }
}

/// The owner of the file of the [`FileRec`] it follows (a deleted file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOwner {
    /// Id of the file record.
    pub file: u32,
    /// Owner (`st_uid`), as the checkpointer's user namespace names it.
    pub uid: u32,
    /// Group (`st_gid`).
    pub gid: u32,
}

fixed_record! {
    impl<'a> for FileOwner, kind::FILE_OWNER,
    {
        file: u32,
        uid: u32,
        gid: u32,
    },
    |o| {
        check(o.file != 0, "file-owner: zero file id")?;
        check(o.uid != u32::MAX && o.gid != u32::MAX, "file-owner: bad id")?;
    }
}

/// Who opened the regular file or directory of the [`FileRec`] it follows, when
/// no process of the image holding it could open it again with its own
/// credentials but its opener could: the process opened it before it gave up the
/// rights it opened it with (a daemon's log, opened as root). The opener's
/// filesystem user and group and its supplementary groups, as the checkpointer's
/// user namespace names them. `ckpt restart` opens such a file with that
/// filesystem identity (`setfsuid`, `setfsgid`, `setgroups`: within its own
/// rights, which the kernel checks) and passes it; the module checks that it is
/// that file. Since format 1.12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOpener<'a> {
    /// Id of the file record.
    pub file: u32,
    /// The opener's filesystem user id (`fsuid`).
    pub fsuid: u32,
    /// Its filesystem group id (`fsgid`).
    pub fsgid: u32,
    /// Its supplementary groups, `u32` each.
    pub groups: &'a [u8],
}

impl FileOpener<'_> {
    /// Supplementary group `i` (below `groups.len() / 4`).
    pub fn group(&self, i: usize) -> u32 {
        le_u32_at(self.groups, i)
    }
}

/// Most supplementary groups a record that holds them in one `str` holds
/// ([`FileOpener`], [`UnixPeer`]).
pub const MAX_STR_GROUPS: usize = MAX_PATH_LEN / 4;

fixed_record! {
    impl<'a> for FileOpener<'a>, kind::FILE_OPENER,
    {
        file: u32,
        fsuid: u32,
        fsgid: u32,
        groups: str,
    },
    |o| {
        check(o.file != 0, "file-opener: zero file id")?;
        check(o.fsuid != u32::MAX && o.fsgid != u32::MAX, "file-opener: bad id")?;
        check(o.groups.len() % 4 == 0, "file-opener: bad groups")?;
    }
}

/// A pipe (anonymous or a fifo's) and the bytes buffered in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeRec<'a> {
    /// Object id.
    pub id: u32,
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    pub capacity: u32,
    /// Buffered, unread bytes.
    pub data: &'a [u8],
}

impl<'a> Record<'a> for PipeRec<'a> {
    const KIND: u16 = kind::PIPE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.capacity)?;
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let capacity = d.u32()?;
        let n = d.u32()? as usize;
        let data = d.bytes(n)?;
        check(id != 0, "pipe: zero id")?;
        check(
            data.len() <= capacity as usize,
            "pipe: more data than capacity",
        )?;
        Ok(Self { id, capacity, data })
    }
}

/// A file descriptor table; its [`Fd`] records follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilesRec {
    /// Object id.
    pub id: u32,
    /// Number of [`Fd`] records that follow.
    pub count: u32,
}

/// Largest fd number accepted (the kernel's `sysctl_nr_open` ceiling).
pub const MAX_FD: u32 = 1 << 20;

fixed_record! {
    impl<'a> for FilesRec, kind::FILES,
    {
        id: u32,
        count: u32,
    },
    |f| {
        check(f.id != 0, "files: zero id")?;
        check(f.count <= MAX_FD, "files: too many fds")?;
    }
}

/// [`Fd::flags`]: close-on-exec.
pub const FD_CLOEXEC: u32 = 1;

/// One descriptor of the preceding [`FilesRec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fd {
    /// The descriptor number.
    pub fd: u32,
    /// [`FileRec`] id.
    pub file: u32,
    /// [`FD_CLOEXEC`].
    pub flags: u32,
}

fixed_record! {
    impl<'a> for Fd, kind::FD,
    {
        fd: u32,
        file: u32,
        flags: u32,
    },
    |f| {
        check(f.fd < MAX_FD, "fd: number too large")?;
        check(f.file != 0, "fd: zero file id")?;
        check(f.flags & !FD_CLOEXEC == 0, "fd: unknown flags")?;
    }
}

/// Working directory, root and umask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsRec<'a> {
    /// Object id.
    pub id: u32,
    /// `umask`.
    pub umask: u32,
    /// Working directory.
    pub cwd: &'a [u8],
    /// Root directory.
    pub root: &'a [u8],
}

fixed_record! {
    impl<'a> for FsRec<'a>, kind::FS,
    {
        id: u32,
        umask: u32,
        cwd: str,
        root: str,
    },
    |f| {
        check(f.id != 0, "fs: zero id")?;
        check(f.umask & !0o777 == 0, "fs: bad umask")?;
        check(
            f.cwd.first() == Some(&b'/') && f.root.first() == Some(&b'/'),
            "fs: path not absolute",
        )?;
    }
}

/// [`Fown::kind`]: whom `SIGIO` goes to, as `F_SETOWN_EX` names it.
pub mod owner {
    /// `F_OWNER_TID`: one thread.
    pub const TID: u32 = 0;
    /// `F_OWNER_PID`: a process.
    pub const PID: u32 = 1;
    /// `F_OWNER_PGRP`: a process group.
    pub const PGRP: u32 = 2;
}

/// The `SIGIO` owner of an open file (`F_SETOWN`, `F_SETOWN_EX`, `F_SETSIG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fown {
    /// Object id of the [`FileRec`].
    pub file: u32,
    /// [`owner`] kind.
    pub kind: u32,
    /// The owner's pid, tid or process group id (0: none).
    pub pid: i32,
    /// The signal sent instead of `SIGIO` (`F_SETSIG`), 0 for `SIGIO`.
    pub signum: u32,
}

fixed_record! {
    impl<'a> for Fown, kind::FOWN,
    {
        file: u32,
        kind: u32,
        pid: i32,
        signum: u32,
    },
    |f| {
        check(f.file != 0, "fown: no file")?;
        check(f.kind <= owner::PGRP, "fown: bad owner kind")?;
        check(f.pid >= 0, "fown: bad owner")?;
        check(f.signum as usize <= NSIG, "fown: bad signal")?;
    }
}

/// The working directory of the [`FsRec`] it follows was deleted (`cwd` ends with
/// ` (deleted)`): a restarter makes it again, empty, with `mode`, enters it and
/// removes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CwdDeleted {
    /// Id of the fs record.
    pub fs: u32,
    /// The directory's mode (`st_mode`).
    pub mode: u32,
}

fixed_record! {
    impl<'a> for CwdDeleted, kind::CWD_DELETED,
    {
        fs: u32,
        mode: u32,
    },
    |c| {
        check(c.fs != 0, "cwd-deleted: zero fs id")?;
        check(c.mode & S_IFMT == 0o040000, "cwd-deleted: not a directory")?;
    }
}

/// The target of the deleted symbolic link, opened with `O_PATH`, of the [`FileRec`]
/// it names (its path ends with ` (deleted)`): a restarter makes the link again with
/// this target, opens it and removes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkTarget<'a> {
    /// Id of the file record.
    pub file: u32,
    /// What the link points to (`readlink(2)`).
    pub target: &'a [u8],
}

fixed_record! {
    impl<'a> for LinkTarget<'a>, kind::LINK_TARGET,
    {
        file: u32,
        target: str,
    },
    |l| {
        check(l.file != 0, "link-target: no file")?;
        check(
            !l.target.is_empty() && !l.target.contains(&0),
            "link-target: bad target",
        )?;
    }
}
