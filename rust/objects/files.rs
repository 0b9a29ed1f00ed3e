// SPDX-License-Identifier: GPL-2.0

//! Open files: the fd table, each open file description (written once, however many
//! fds or mappings share it), cwd/root/umask -- saved, and on restart opened (or
//! taken from the session) and installed at their fd numbers. Pipes are
//! [`super::pipe`]'s, shared memory and memfds [`super::shm`]'s, terminals
//! [`super::tty`]'s.

use super::{O_ACCMODE, O_NOCTTY, O_NONBLOCK, O_RDONLY, O_WRONLY};
use crate::checkpoint::{eopnotsupp, Bufs, Reason};
use crate::image::{self, filekind, Fd, FileRec, FilesRec, Fown, FsRec};
use crate::restart::{refuse, Given, Plan};
use crate::session::Session;
use crate::shim::{self, cur, cur_attrs, fk, FileInfo, FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use crate::uapi::{self, CkptRestartArgs};
use core::fmt;
use kernel::prelude::*;

/// `TMPFS_MAGIC`.
const TMPFS_MAGIC: u32 = 0x0102_1994;
/// `PROC_SUPER_MAGIC`.
pub(crate) const PROC_SUPER_MAGIC: u32 = 0x9fa0;
/// `O_PATH`.
const O_PATH: u32 = image::O_PATH;

/// Filesystems whose files have no contents of their own to change (procfs, sysfs,
/// debugfs, tracefs, cgroup and cgroup2, securityfs, bpffs): their sizes and times
/// say nothing about whether a file is the one the image had.
pub(crate) fn is_pseudo_fs(magic: u32) -> bool {
    matches!(
        magic,
        PROC_SUPER_MAGIC
            | 0x6265_6572
            | 0x6462_6720
            | 0x7472_6163
            | 0x0027_e0eb
            | 0x6367_7270
            | 0x7363_6673
            | 0xcafe_4a11
    )
}

/// The pid `N` of a path under `/proc/N`, if it is one.
pub(crate) fn proc_pid(path: &[u8]) -> Option<(i32, usize)> {
    let rest = path.strip_prefix(b"/proc/")?;
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 9 || (n < rest.len() && rest[n] != b'/') {
        return None;
    }
    let pid = rest[..n]
        .iter()
        .fold(0i32, |a, &c| a * 10 + i32::from(c - b'0'));
    Some((pid, 6 + n))
}

/// The bytes of a deleted file that its image would hold: what its inode has
/// allocated (holes are left out), but its size where the filesystem reports
/// nothing allocated (one that does not count blocks, or a file of holes only).
fn ghost_bytes(fi: &FileInfo) -> u64 {
    if fi.allocated == 0 {
        fi.size
    } else {
        fi.size.min(fi.allocated)
    }
}

/// Most data of a deleted file whose contents a checkpoint saves (module
/// parameter).
fn ghost_max() -> u64 {
    crate::compat::param(crate::module_parameters::ghost_max.value())
}

/// Character devices that carry no state worth saving: `/dev/null`, `zero`, `full`,
/// `random`, `urandom`.
fn is_stateless_chardev(rdev: u32) -> bool {
    let (major, minor) = (rdev >> 20, rdev & 0xfffff);
    major == 1 && matches!(minor, 3 | 5 | 7 | 8 | 9)
}

/// Terminals: virtual consoles and serial ports (4), `/dev/tty`, `/dev/console`,
/// `/dev/ptmx` (5), pseudo-terminal slaves (136-143).
fn is_tty(rdev: u32) -> bool {
    matches!(rdev >> 20, 4 | 5 | 136..=143)
}

/// `p` for messages.
pub(crate) fn path_str(p: &[u8]) -> &str {
    core::str::from_utf8(p).unwrap_or("(non-UTF-8 path)")
}

/// What `f` is, and its path in `path` (the length is returned). An open file whose
/// name was unlinked but whose inode has another name (a hard link) is described by
/// that name, as an open file of it: a restart reopens the same inode there.
fn info_named(f: &FileRef, path: &mut [u8]) -> Result<(FileInfo, usize)> {
    let (mut fi, n) = f.info(path)?;
    if fi.kind != fk::REG || fi.unlinked == 0 || fi.nlink == 0 || fi.flags & O_PATH != 0 {
        return Ok((fi, n));
    }
    match f.other_name(path) {
        Ok(m) if !path[..m].ends_with(b" (deleted)") => {
            fi.unlinked = 0;
            Ok((fi, m))
        }
        _ => f.info(path),
    }
}

/// The image kind of a file, or a refusal naming `what` (e.g. "fd 3").
pub(crate) fn file_kind(
    fi: &FileInfo,
    path: &[u8],
    what: fmt_what::What,
    why: &mut Reason,
) -> Result<u8> {
    let p = path_str(path);
    let refuse = |why: &mut Reason, kind: &str| {
        why.set(
            eopnotsupp(),
            format_args!("{what}: {kind} {p} is not supported yet"),
        )
    };
    if fi.flags & O_PATH != 0 && !matches!(fi.kind, fk::REG | fk::DIR | fk::LNK | fk::CHR) {
        return Err(refuse(why, "O_PATH file"));
    }
    match fi.kind {
        fk::REG | fk::DIR | fk::CHR | fk::FIFO | fk::LNK if !path.starts_with(b"/") => Err(refuse(
            why,
            "file outside the filesystem tree (namespace file, ...)",
        )),
        // d_path shows "/memfd:NAME (deleted)" (simple_dname); the dentry is not
        // "unlinked": it never had a name in a directory.
        fk::REG
            if path.starts_with(b"/memfd:")
                && fi.fs_magic == TMPFS_MAGIC
                && fi.size < image::USER_ADDR_END =>
        {
            Ok(filekind::MEMFD)
        }
        fk::REG if path.starts_with(b"/memfd:") => Err(why.set(
            eopnotsupp(),
            format_args!("{what}: memfd {p} (hugetlbfs or too large) is not supported",),
        )),
        fk::REG if path.starts_with(b"/SYSV") => Err(refuse(why, "SysV shared memory")),
        // A kernel-internal shmem file ("/dev/zero (deleted)"): shared anonymous
        // memory opened as a file (/proc/PID/map_files).
        fk::REG if fi.fs_magic == TMPFS_MAGIC && fi.unlinked == 0 && path.ends_with(b" (deleted)") => {
            Err(refuse(why, "shared anonymous memory opened as a file"))
        }
        fk::REG if fi.unlinked != 0 && fi.flags & O_PATH != 0 => {
            Err(refuse(why, "deleted file opened with O_PATH"))
        }
        // Its data counts, not its holes (skipped when saved: ZDTM's
        // ghost_holes_large01, 2 MiB of data in a 1 GiB file).
        fk::REG if fi.unlinked != 0 && ghost_bytes(fi) > ghost_max() => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: deleted file {p} has {} bytes of data, over the limit of {} (module parameter ghost_max)",
                ghost_bytes(fi),
                ghost_max()
            ),
        )),
        fk::REG if fi.unlinked != 0 && !path.ends_with(b" (deleted)") => {
            Err(refuse(why, "deleted file"))
        }
        fk::REG if fi.unlinked != 0 && fi.nlink != 0 => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: {p} was unlinked and the file's other names (hard links) cannot be reached from here"
            ),
        )),
        fk::REG if fi.unlinked != 0 => Ok(filekind::GHOST),
        // A deleted directory is empty: a restarter makes an empty one again, and
        // removes it.
        fk::DIR if fi.unlinked != 0 && !path.ends_with(b" (deleted)") => {
            Err(refuse(why, "deleted directory"))
        }
        fk::REG => Ok(filekind::REG),
        fk::DIR => Ok(filekind::DIR),
        // A procfs "link" that went away (/proc/PID/fd/N or map_files/* whose fd or
        // mapping is gone, so its dentry was invalidated): a magic link, not a
        // symbolic link with a target to make again.
        fk::LNK if fi.fs_magic == PROC_SUPER_MAGIC && fi.unlinked != 0 => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: {p} is a stale procfs magic link (its fd or mapping is gone); it cannot be restored"
            ),
        )),
        // A deleted one is made again from its target (a [`image::LinkTarget`]).
        fk::LNK if fi.flags & O_PATH != 0 && (fi.unlinked == 0 || path.ends_with(b" (deleted)")) => {
            Ok(filekind::SYMLINK)
        }
        // A device node the program removed (ZDTM's deleted_dev): a restart opens
        // devices by path.
        fk::CHR if fi.unlinked != 0 && !is_tty(fi.rdev) => {
            Err(refuse(why, "deleted device node"))
        }
        fk::CHR if is_stateless_chardev(fi.rdev) => Ok(filekind::CHR),
        // A pseudo-terminal slave whose master was closed (hung up): see
        // `super::tty::pty_settled`.
        fk::CHR if is_tty(fi.rdev) && path.ends_with(b" (deleted)") && fi.rdev >> 20 < 136 => {
            Err(why.set(
                eopnotsupp(),
                format_args!("{what}: terminal {p} is gone"),
            ))
        }
        fk::CHR if is_tty(fi.rdev) => Ok(filekind::TTY),
        fk::CHR => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: character device {}:{} ({p}) is not supported",
                fi.rdev >> 20,
                fi.rdev & 0xfffff
            ),
        )),
        fk::FIFO if fi.unlinked != 0 && (fi.nlink != 0 || !path.ends_with(b" (deleted)")) => {
            Err(refuse(why, "deleted fifo with other names"))
        }
        fk::FIFO => Ok(filekind::FIFO),
        fk::PIPE => Ok(filekind::PIPE),
        fk::SOCKET if fi.flags & O_PATH == 0 => Ok(filekind::UNIX),
        fk::SOCKET => Err(refuse(why, "socket")),
        fk::ANON => super::event::file_kind(path, what, why),
        fk::PIDFD if matches!(what, What::Fd(_)) => Ok(filekind::PIDFD),
        fk::PIDFD => Err(refuse(why, "pidfd")),
        _ => Err(refuse(why, "special file")),
    }
}

/// [`file_kind`] of an open file of a process whose working directory, if deleted, is
/// the inode `cwd` (else 0): a deleted directory is accepted if it is that one, which
/// a restarter makes again.
fn fd_kind(fi: &FileInfo, path: &[u8], what: What, cwd: u64, why: &mut Reason) -> Result<u8> {
    if fi.kind == fk::DIR
        && fi.unlinked != 0
        && cwd != 0
        && fi.inode_key == cwd
        && path.ends_with(b" (deleted)")
    {
        return Ok(filekind::DIR);
    }
    file_kind(fi, path, what, why)
}

/// Refuses a file under `/proc/N` of a process that is neither `tgid` nor one of
/// `procs` (the processes of the image): restart reopens a process's own entries as
/// `/proc/self/...` and another's of the image at its pid, which the restart gives it
/// again; a process outside the image could not be named.
fn proc_owner(
    fi: &FileInfo,
    path: &[u8],
    tgid: i32,
    procs: &[i32],
    what: What,
    why: &mut Reason,
) -> Result {
    if fi.fs_magic != PROC_SUPER_MAGIC {
        return Ok(());
    }
    match proc_pid(path) {
        Some((pid, _)) if pid != tgid && !procs.contains(&pid) => Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: {} belongs to a process outside the checkpointed tree ({pid}); only the /proc entries of the tree's processes can be restored",
                path_str(path)
            ),
        )),
        _ => Ok(()),
    }
}

/// Formatting of "which fd / which mapping" for refusals.
pub(crate) mod fmt_what {
    use core::fmt;

    /// The user of a file.
    #[derive(Clone, Copy)]
    pub(crate) enum What {
        Fd(u32),
        Mapping(u64),
        /// A file in flight in a unix socket's queue (`SCM_RIGHTS`).
        InFlight,
    }

    impl fmt::Display for What {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                What::Fd(n) => write!(f, "fd {n}"),
                What::Mapping(a) => write!(f, "mapping at {a:#x}"),
                What::InFlight => write!(f, "a file in flight (SCM_RIGHTS)"),
            }
        }
    }
}
use fmt_what::What;

/// The open file descriptions a pass over a tree's fd tables has judged, by their
/// `struct file`: the processes of a tree share descriptions (a server's workers
/// inherit its sockets; ZDTM's session03 has 340 processes sharing 818), and what
/// depends on the description alone is judged once, not once per fd. The tables
/// hold the files (the processes are held or the pass holds each), so a key is
/// not reused meanwhile.
pub(crate) struct Seen(kernel::rbtree::RBTree<u64, ()>);

impl Seen {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self(kernel::rbtree::RBTree::new())
    }

    /// Whether `f` was noted.
    pub(crate) fn has(&self, f: &FileRef) -> bool {
        self.0.get(&f.key()).is_some()
    }

    /// Notes `f`.
    pub(crate) fn note(&mut self, f: &FileRef) -> Result {
        if !self.has(f) {
            self.0.try_create_and_insert(f.key(), (), GFP_KERNEL)?;
        }
        Ok(())
    }
}

/// Whether a file of `kind` (`fi`) is judged by its description alone in
/// [`precheck`]: not a directory (a deleted one is judged against each holder's
/// working directory), not under `/proc` (judged against each holder's pid), not
/// an event-loop file or pidfd (judged against each holder's tables and pid; an
/// epoll set is judged with its first holder only, see [`precheck`]).
fn judged_once(fi: &FileInfo, kind: u8) -> bool {
    fi.fs_magic != PROC_SUPER_MAGIC
        && matches!(
            kind,
            filekind::PIPE
                | filekind::UNIX
                | filekind::REG
                | filekind::CHR
                | filekind::TTY
                | filekind::MEMFD
                | filekind::GHOST
        )
}

/// Refuses fds, a working directory and a root the image cannot describe
/// (`seen`: the descriptions judged with the tree's processes before `t`).
pub(crate) fn precheck(t: &TaskRef, procs: &[i32], seen: &mut Seen, why: &mut Reason) -> Result {
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let mut root = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (_, cl, rl) = t.fs(&mut path, &mut root)?;
    // A chroot comes back: `ckpt restart` enters the root directory again, by its
    // name.
    if root[..rl].ends_with(b" (deleted)") || !root[..rl].starts_with(b"/") {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "the process runs in a chroot whose root directory {} cannot be named",
                path_str(&root[..rl])
            ),
        ));
    }
    if t.cwd_deleted()?.is_some() && !path[..cl].ends_with(b" (deleted)") {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "the working directory {} was deleted and cannot be named",
                path_str(&path[..cl])
            ),
        ));
    }
    let mut fd = 0u32;
    let tgid = t.info().tgid;
    let cwd = t.cwd_deleted()?.map_or(0, |c| c.1);
    while let Some(f) = t.next_file(&mut fd) {
        if seen.has(&f) {
            // Judged with another fd (of this or another process of the tree).
            precheck_owner(t, &f, fd, procs, why)?;
            if fd >= image::MAX_FD {
                return Err(why.set(eopnotsupp(), format_args!("fd {fd} is too large")));
            }
            fd += 1;
            continue;
        }
        let (fi, n) = info_named(&f, &mut path)?;
        let kind = fd_kind(&fi, &path[..n], What::Fd(fd), cwd, why)?;
        if judged_once(&fi, kind) {
            seen.note(&f)?;
        }
        match kind {
            filekind::TTY => super::tty::pty_settled(&f, &path[..n], What::Fd(fd), why)?,
            filekind::UNIX => {
                super::unix::precheck(&f, &path[..n], What::Fd(fd), why)?;
                // The event files in flight in its queue (and in those of the
                // sockets it carries), as they will be saved.
                let mut v = KVec::new();
                if super::unix::walk_inflight(&f, &mut KVec::new(), &mut v).is_ok() {
                    let mut xp = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
                    for x in v.iter() {
                        let (xi, xn) = x.info(&mut xp)?;
                        let xk = file_kind(&xi, &xp[..xn], What::InFlight, why)?;
                        if filekind::is_event(xk) {
                            super::event::precheck(t, x, xk, What::InFlight, why)?;
                        }
                    }
                }
            }
            _ => {}
        }
        if filekind::is_event(kind) {
            super::event::precheck(t, &f, kind, What::Fd(fd), why)?;
        }
        if kind == filekind::EPOLL {
            // Its interest list is saved once, with the table of the first
            // process of the tree holding it (`write_files` defines each
            // description once, in the same order): the processes after that
            // one share it, and need not hold its targets (a server's fork child
            // inherits its epoll set and closes the listening socket it watches).
            seen.note(&f)?;
        }
        if kind == filekind::PIDFD {
            super::pidfd::record(&f, 0, tgid, procs, What::Fd(fd), why)?;
        }
        proc_owner(&fi, &path[..n], tgid, procs, What::Fd(fd), why)?;
        precheck_owner(t, &f, fd, procs, why)?;
        if fd >= image::MAX_FD {
            return Err(why.set(eopnotsupp(), format_args!("fd {fd} is too large")));
        }
        fd += 1;
    }
    super::locks::precheck(t, why)
}

/// One open file description that [`reopenable`] judges: where it was first seen,
/// and whether a process holding it may open it again.
struct Reopen {
    file: FileRef,
    flags: u32,
    pid: i32,
    fd: u32,
    ok: bool,
    err: Error,
}

/// Refuses an open file that no process of the image holding it could open again by
/// its path at restart, so that the checkpoint, not the restart, says so: a restart
/// opens what the image names with the image's credentials (A13), and a file one
/// process may not open it takes from another process of the image that shares it
/// and may ([`crate::session::Session::file_of_another`]). Such a file was opened
/// before its permissions changed, or before the process gave up the rights it
/// opened it with; what its opener (`f_cred`) could still open is taken, and
/// opened again as that opener ([`image::FileOpener`], [`opener_of`]). Judged for
/// regular files, directories and character devices
/// opened by path ([`FileRef::may_reopen`], with each process's own credentials);
/// a process in a chroot is not judged (its paths name files under its root).
pub(crate) fn reopenable(procs: &[&TaskRef], why: &mut Reason) -> Result {
    let mut seen: KVVec<Reopen> = KVVec::new();
    // Where each description is in `seen` (`usize::MAX`: not judged), by its key.
    let mut at: kernel::rbtree::RBTree<u64, usize> = kernel::rbtree::RBTree::new();
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let mut root = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    for t in procs {
        let (_, _, rl) = t.fs(&mut path, &mut root)?;
        if &root[..rl] != b"/" {
            continue;
        }
        // Credentials the caller cannot take on for the question (an id without a
        // mapping in its user namespace, too many groups): not judged here (the
        // image's own checks refuse what a restart could not give).
        let mut groups = KVec::new();
        let Ok(creds) = t.creds(&mut groups) else {
            continue;
        };
        let Ok(_as) = cur::as_image(&creds, &groups, true) else {
            continue;
        };
        let mut fd = 0u32;
        while let Some(f) = t.next_file(&mut fd) {
            // Each description once, but asked again of each holder until one
            // may open it.
            let known = at.get(&f.key()).copied();
            if known.is_some_and(|i| i == usize::MAX || seen[i].ok) {
                fd += 1;
                continue;
            }
            let (fi, n) = info_named(&f, &mut path)?;
            if by_path(&fi, &path[..n]) {
                let r = f.may_reopen(fi.flags);
                match known {
                    Some(i) => seen[i].ok |= r.is_ok(),
                    None => {
                        at.try_create_and_insert(f.key(), seen.len(), GFP_KERNEL)?;
                        seen.push(
                            Reopen {
                                file: f,
                                flags: fi.flags,
                                pid: t.info().tgid,
                                fd,
                                ok: r.is_ok(),
                                err: r.err().unwrap_or(EPERM),
                            },
                            GFP_KERNEL,
                        )?
                    }
                }
            } else if known.is_none() {
                at.try_create_and_insert(f.key(), usize::MAX, GFP_KERNEL)?;
            }
            fd += 1;
        }
    }
    // What its opener could open again, a restart opens as that opener
    // ([`image::FileOpener`]), if the restarter may.
    let mut opener_ok = |s: &Reopen| -> Result<bool> {
        let (fi, n) = info_named(&s.file, &mut path)?;
        Ok(opener_path(&fi, &path[..n]) && opener_may_reopen(&s.file, s.flags))
    };
    let mut bad = None;
    for s in seen.iter().filter(|s| !s.ok) {
        if !opener_ok(s)? {
            bad = Some(s);
            break;
        }
    }
    let Some(bad) = bad else {
        return Ok(());
    };
    let (_, n) = info_named(&bad.file, &mut path)?;
    Err(why.set(
        bad.err,
        format_args!(
            "fd {} of {}: {} could not be opened again by its user ({:?}): its permissions changed \
             since it was opened, or the process gave up the rights it opened it with; a restart \
             opens it with the process's credentials and would refuse it",
            bad.fd,
            bad.pid,
            path_str(&path[..n]),
            bad.err,
        ),
    ))
}

/// Whether a restart opens the file `fi` at `path` again by its path, as
/// [`reopenable`] judges: a regular file or directory, not deleted, not an
/// `O_PATH` file, not under `/proc`, by an absolute path.
fn by_path(fi: &FileInfo, path: &[u8]) -> bool {
    matches!(fi.kind, fk::REG | fk::DIR)
        && fi.unlinked == 0
        && fi.flags & O_PATH == 0
        && proc_pid(path).is_none()
        && !path.starts_with(b"/proc/")
        && path.starts_with(b"/")
}

/// Whether a file opened by path may be opened again as its opener
/// ([`image::FileOpener`]): as [`by_path`], and on no pseudo filesystem (whose
/// files may check other rights at open, as `/proc/PID/maps` does ptrace's).
fn opener_path(fi: &FileInfo, path: &[u8]) -> bool {
    by_path(fi, path) && !is_pseudo_fs(fi.fs_magic)
}

/// Whether `f`'s opener, with the credentials it was opened with (`f_cred`), could
/// open it again with `flags` today.
fn opener_may_reopen(f: &FileRef, flags: u32) -> bool {
    let mut groups = KVec::new();
    let Ok(c) = f.opener_creds(&mut groups, image::MAX_STR_GROUPS) else {
        return false;
    };
    let Ok(_as) = cur::as_image(&c, &groups, true) else {
        return false;
    };
    f.may_reopen(flags).is_ok()
}

/// The opener of `f` (a regular file or directory held by process `t`, opened
/// with `flags`) to save with it, if `t` could not open it again with its own
/// credentials but its opener could: a process that opened it before it gave up
/// the rights it opened it with (see [`reopenable`]). Its filesystem ids and
/// supplementary groups; `None` when `t`'s own credentials do.
fn opener_of(f: &FileRef, t: &TaskRef, flags: u32) -> Result<Option<(u32, u32, KVec<u32>)>> {
    let mut groups = KVec::new();
    let Ok(o) = f.opener_creds(&mut groups, image::MAX_STR_GROUPS) else {
        return Ok(None);
    };
    let mut tg = KVec::new();
    let tc = t.creds(&mut tg)?;
    if o.uids[3] == tc.uids[3] && o.gids[3] == tc.gids[3] && groups == tg {
        return Ok(None);
    }
    // A process in a chroot names its files under its root, which the restarter
    // (opening them by path) does not enter first: not judged, as in
    // [`reopenable`].
    let mut cwd = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let mut root = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (_, _, rl) = t.fs(&mut cwd, &mut root)?;
    if &root[..rl] != b"/" {
        return Ok(None);
    }
    let own = cur::as_image(&tc, &tg, true).is_ok_and(|_as| f.may_reopen(flags).is_ok());
    if own || !opener_may_reopen(f, flags) {
        return Ok(None);
    }
    Ok(Some((o.uids[3], o.gids[3], groups)))
}

/// Refuses a `SIGIO` owner a restart could not give back: one that is not a thread of
/// `t`'s process, the process itself, its process group or another process of the
/// image (`procs`; those come back with their ids).
fn precheck_owner(t: &TaskRef, f: &FileRef, fd: u32, procs: &[i32], why: &mut Reason) -> Result {
    let Some((kind, nr, _)) = f.owner() else {
        return Ok(());
    };
    let info = t.info();
    let ok = match (kind, nr) {
        (_, 0) => true,
        (image::owner::PID, n) => n == info.tgid || procs.contains(&n),
        (image::owner::PGRP, n) => n == info.pgid,
        (_, n) if n > 0 => t.threads()?.iter().any(|th| th.info().pid == n),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(why.set(
        eopnotsupp(),
        format_args!(
            "fd {fd}: its SIGIO owner ({} {nr}) is not this process, one of its threads, its process group or another process of the checkpointed tree: not supported",
            match kind {
                image::owner::TID => "thread",
                image::owner::PGRP => "process group",
                _ => "process",
            }
        ),
    ))
}

/// Refuses a mapped file the image cannot describe.
pub(crate) fn precheck_mapped(f: &FileRef, addr: u64, why: &mut Reason) -> Result {
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (fi, n) = info_named(f, &mut path)?;
    match file_kind(&fi, &path[..n], What::Mapping(addr), why)? {
        filekind::REG | filekind::CHR | filekind::MEMFD | filekind::GHOST => Ok(()),
        _ => Err(why.set(
            eopnotsupp(),
            format_args!(
                "mapping at {addr:#x}: {} is not a regular file",
                path_str(&path[..n])
            ),
        )),
    }
}

/// References to one open file found inside a process tree.
struct Uses {
    file: FileRef,
    count: u32,
    /// Shared anonymous memory (else a file of a fd table).
    shm: bool,
    /// In flight in a unix socket's queue (SCM_RIGHTS), at least once.
    inflight: bool,
}

/// How long [`leaks`] waits for references held outside the tree to go away.
const LEAK_WAIT_MS: i64 = 3000;
/// How often it looks again meanwhile.
const LEAK_POLL_MS: i64 = 50;

/// Refuses a process tree that shares a pipe or shared memory with a process outside
/// it: the image could not give both sides the same object back. `procs`: the
/// thread-group leaders of the (quiescent) tree.
///
/// An outsider that is on its way out (an ancestor that made the pipe or memory,
/// handed it down and exits, as a launcher does once its child is ready) drops its
/// references by itself: the check waits for that, up to [`LEAK_WAIT_MS`], before it
/// refuses.
pub(crate) fn leaks(procs: &[&TaskRef], why: &mut Reason) -> Result {
    leaks_of(procs, false, why)
}

/// For a process checkpointed alone (whose pipes and shared memory may go on with
/// their other ends outside): refuses only a leased description that a process
/// outside shares, as [`leaks`] does for a tree. The lease is the description's:
/// the outsider would keep it on the old description while the restored process
/// took it again on a new one.
pub(crate) fn leased_leaks(procs: &[&TaskRef], why: &mut Reason) -> Result {
    leaks_of(procs, true, why)
}

fn leaks_of(procs: &[&TaskRef], leases_only: bool, why: &mut Reason) -> Result {
    let mut waited = 0;
    loop {
        match leaks_now(procs, leases_only, why) {
            Err(e)
                if e == EBUSY && waited < LEAK_WAIT_MS && !crate::shim::fatal_signal_pending() =>
            {
                kernel::time::delay::fsleep(kernel::time::Delta::from_millis(LEAK_POLL_MS));
                waited += LEAK_POLL_MS;
            }
            r => return r,
        }
    }
}

fn leaks_now(procs: &[&TaskRef], leases_only: bool, why: &mut Reason) -> Result {
    let mut uses: KVVec<Uses> = KVVec::new();
    // Where each file is in `uses`, by its key.
    let mut at: kernel::rbtree::RBTree<u64, usize> = kernel::rbtree::RBTree::new();
    let mut note = |f: FileRef, shm: bool, inflight: bool| -> Result {
        match at.get(&f.key()) {
            Some(&i) => {
                let u = &mut uses[i];
                u.count += 1;
                u.shm |= shm;
                u.inflight |= inflight;
            }
            None => {
                at.try_create_and_insert(f.key(), uses.len(), GFP_KERNEL)?;
                uses.push(
                    Uses {
                        file: f,
                        count: 1,
                        shm,
                        inflight,
                    },
                    GFP_KERNEL,
                )?
            }
        }
        Ok(())
    };
    // An fd table shared by processes (CLONE_FILES) holds its references once.
    let mut tables: KVec<u64> = KVec::new();
    // The sockets whose queues were walked (each reference in flight once).
    let mut walked: KVec<u64> = KVec::new();
    for t in procs {
        let table = t.info().files_key;
        let mut fd = 0u32;
        while !tables.contains(&table) {
            let Some(f) = t.next_file(&mut fd) else {
                break;
            };
            // The files in flight in a socket's queue (and in those of the
            // sockets it carries) are the tree's too.
            let mut v = KVec::new();
            super::unix::walk_inflight(&f, &mut walked, &mut v)?;
            for x in v {
                note(x, false, true)?;
            }
            note(f, false, false)?;
            fd += 1;
        }
        tables.push(table, GFP_KERNEL)?;
        if let Some(m) = t.mm() {
            let mut addr = 0u64;
            while let Some((vi, file)) = m.vma_from(addr)? {
                if let Some(f) = file {
                    // A mapping's file is the tree's reference too (counted for a
                    // leased description; other regular files are not judged).
                    note(f, vi.flags & crate::shim::vmai::SHMEM != 0, false)?;
                }
                addr = vi.end;
            }
        }
    }
    super::tty::inputs_reachable(uses.iter().map(|u| &u.file), why)?;
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    twin_in_flight(&uses, &mut path, why)?;
    // Open files on each pipe inside the tree: (pipe, files).
    let mut pipes: KVec<(u64, u32, u32)> = KVec::new();
    for u in uses.iter() {
        let (fi, n) = u.file.info(&mut path)?;
        // An event file shared with a process outside the tree: that one
        // would keep the old file, the restored tree a new one.
        // Or a pidfd: the outsider's would still name the killed task.
        let event = fi.kind == fk::ANON && super::event::kind_of(&path[..n]).is_some();
        let pidfd = fi.kind == fk::PIDFD;
        // The tree's references, and ours (`u.file`).
        let socket = fi.kind == fk::SOCKET;
        // A leased description: the outsider would keep the lease's description,
        // the restored tree a new one with the lease.
        let leased = fi.refs > u.count + 1 && super::locks::lease_of(&u.file).is_some();
        let judged = !leases_only && (fi.pipe_key != 0 || u.shm || event || pidfd || socket);
        if fi.refs > u.count + 1 && (judged || leased) {
            return Err(why.set(
                EBUSY,
                format_args!(
                    "{} {} is also used by a process outside the tree",
                    if leased {
                        "leased file (F_SETLEASE)"
                    } else if u.shm {
                        "shared memory"
                    } else if event {
                        "event file"
                    } else if pidfd {
                        "pidfd"
                    } else if socket {
                        "socket"
                    } else {
                        "pipe"
                    },
                    path_str(&path[..n])
                ),
            ));
        }
        if fi.pipe_key != 0 && !leases_only {
            // A file open for reading and writing (a fifo opened O_RDWR) counts as a
            // reader and a writer of its pipe.
            let ends = if fi.flags & 3 == 2 { 2 } else { 1 };
            match pipes.iter_mut().find(|p| p.0 == fi.pipe_key) {
                Some(p) => p.1 += ends,
                None => pipes.push((fi.pipe_key, ends, fi.pipe_opens), GFP_KERNEL)?,
            }
        }
    }
    if pipes.iter().any(|p| p.2 > p.1) {
        return Err(why.set(
            EBUSY,
            format_args!("a pipe of the tree has an end in a process outside the tree"),
        ));
    }
    Ok(())
}

/// Refuses a memfd or deleted file that the tree holds through two opens or more
/// (separate open file descriptions, not dups: a reopen through `/proc/PID/fd`)
/// one of which is in flight (SCM_RIGHTS): the restarter makes a file in flight
/// before the module opens anything, so it cannot be another open of contents
/// the image restores (see [`define_file`], which refuses it when the open in
/// flight comes second; judged here whatever the order, so that `ckpt check` and
/// the checkpoint say the same).
fn twin_in_flight(uses: &[Uses], path: &mut KVec<u8>, why: &mut Reason) -> Result {
    // Most trees have nothing in flight: no second look at their files.
    if !uses.iter().any(|u| u.inflight) {
        return Ok(());
    }
    // (inode, index in `uses`) of each memfd or deleted file.
    let mut contents: KVec<(u64, usize)> = KVec::new();
    for (i, u) in uses.iter().enumerate() {
        let (fi, n) = info_named(&u.file, path)?;
        let mut ignored = Reason::new();
        if matches!(
            file_kind(&fi, &path[..n], What::InFlight, &mut ignored),
            Ok(filekind::MEMFD | filekind::GHOST)
        ) {
            contents.push((fi.inode_key, i), GFP_KERNEL)?;
        }
    }
    for &(inode, i) in contents.iter() {
        if uses[i].inflight && contents.iter().any(|&(o, j)| o == inode && j != i) {
            let (_, n) = info_named(&uses[i].file, path)?;
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{}: {} is one of several open files of a memfd or deleted file: not supported",
                    What::InFlight,
                    path_str(&path[..n])
                ),
            ));
        }
    }
    Ok(())
}

/// Writes (once) the file behind a mapping; returns its id.
pub(crate) fn define_mapped(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    f: &FileRef,
    path: &mut KVec<u8>,
) -> Result<u32> {
    let mut why = Reason::new();
    define_file(w, objs, f, path, What::Mapping(0), (0, 0), None, &mut why)
}

fn define_file(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    f: &FileRef,
    path: &mut KVec<u8>,
    what: What,
    (tgid, cwd): (i32, u64),
    task: Option<&TaskRef>,
    why: &mut Reason,
) -> Result<u32> {
    if let Some(id) = objs.get(f.key()) {
        return Ok(id);
    }
    let (mut fi, mut n) = info_named(f, path)?;
    let kind = fd_kind(&fi, &path[..n], what, cwd, why)?;
    if tgid != 0 {
        proc_owner(&fi, &path[..n], tgid, &objs.procs, what, why)?;
    }
    if kind == filekind::TTY {
        super::tty::pty_settled(f, &path[..n], what, why)?;
    }
    // The files in flight in a unix socket's queue are defined before it; a unix
    // socket among them only by its records (sockets may carry each other), its
    // queue after this one's (`later`).
    let mut inflight = KVec::new();
    let mut embryo_fds: KVec<KVec<u32>> = KVec::new();
    let mut later: KVec<(FileRef, u32)> = KVec::new();
    let in_flight_sock = kind == filekind::UNIX && matches!(what, What::InFlight);
    if in_flight_sock {
        super::unix::precheck(f, &path[..n], what, why)?;
        let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let ui = crate::shim_unix::info(f, -1, &mut pb)?;
        super::unix::in_flight_sock(&ui, &[], what, why)?;
    } else if kind == filekind::UNIX {
        super::unix::precheck(f, &path[..n], what, why)?;
        let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let ui = crate::shim_unix::info(f, -1, &mut pb)?;
        if ui.state as u8 == image::unix_state::LISTEN {
            // Those of the connections not accepted yet, each its own list.
            for i in 0..ui.qlen as i32 {
                let e = match crate::shim_unix::info(f, i, &mut pb) {
                    Ok(e) => e,
                    Err(e) if e == ENOENT => break,
                    Err(e) => return Err(e),
                };
                let mut ids = KVec::new();
                if e.nfds != 0 {
                    for x in super::unix::inflight(f, i, &e, what, why)?.iter() {
                        let id = define_in_flight(w, objs, x, path, task, &mut later, why)?;
                        ids.push(id, GFP_KERNEL)?;
                    }
                }
                embryo_fds.push(ids, GFP_KERNEL)?;
            }
            (fi, n) = f.info(path)?;
        }
        if ui.nfds != 0 {
            for x in super::unix::inflight(f, -1, &ui, what, why)?.iter() {
                // An event file in flight is read in the socket's process (an
                // epoll set's entries are keyed by that process's fd numbers).
                let id = define_in_flight(w, objs, x, path, task, &mut later, why)?;
                inflight.push(id, GFP_KERNEL)?;
            }
            (fi, n) = info_named(f, path)?;
        }
        if let Some(id) = objs.get(f.key()) {
            // It carries itself (or a socket it carries does): its records are
            // written, its queue goes with the others'.
            define_later(w, objs, path, task, later, why)?;
            return Ok(id);
        }
    }
    // Another open of a deleted file or memfd already saved refers to that one's
    // contents (a memfd's as a ghost).
    let ghost_key = fi.inode_key | 1;
    let ghost_of = if kind == filekind::GHOST || kind == filekind::MEMFD {
        objs.get(ghost_key).unwrap_or(0)
    } else {
        0
    };
    if ghost_of != 0 && matches!(what, What::InFlight) {
        // A restarter makes a file in flight before the module opens anything:
        // not another open of one the image has already.
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: {} is another open file of a memfd or deleted file that the checkpoint saved already: not supported",
                path_str(&path[..n])
            ),
        ));
    }
    let kind = if ghost_of != 0 { filekind::GHOST } else { kind };
    let pipe = if fi.pipe_key != 0 {
        super::pipe::define(w, objs, f, &fi, what, why)?
    } else {
        0
    };
    let id = objs.define(f.key())?;
    w.record(&FileRec {
        id,
        kind,
        flags: fi.flags,
        mode: fi.mode,
        pos: fi.pos,
        size: fi.size,
        mtime_ns: fi.mtime_ns,
        rdev: match kind {
            filekind::MEMFD => fi.seals,
            filekind::GHOST => ghost_of,
            _ => fi.rdev,
        },
        pipe,
        path: &path[..n],
    })?;
    if let Some((owner, pid, signum)) = f.owner() {
        w.record(&Fown {
            file: id,
            kind: owner,
            pid: pid.max(0),
            signum,
        })?;
    }
    if kind == filekind::TTY {
        super::tty::write_pty(w, objs, f, id, what, why)?;
    }
    let opener = opener_path(&fi, &path[..n]);
    if let (filekind::REG | filekind::DIR, Some(t), What::Fd(_), true) = (kind, task, what, opener)
    {
        if let Some((fsuid, fsgid, groups)) = opener_of(f, t, fi.flags)? {
            let g = super::creds::groups_bytes(&groups)?;
            w.record(&image::FileOpener {
                file: id,
                fsuid,
                fsgid,
                groups: &g,
            })?;
        }
    }
    if filekind::is_event(kind) {
        let (Some(t), What::Fd(_) | What::InFlight) = (task, what) else {
            return Err(EINVAL);
        };
        if kind == filekind::EPOLL {
            // Its interest list follows the fd table, whose files it watches.
            objs.epolls.push((id, f.clone(), what), GFP_KERNEL)?;
        }
        super::event::write_state(w, id, kind, t, f, what, why)?;
    }
    if kind == filekind::PIDFD {
        w.record(&super::pidfd::record(f, id, tgid, &objs.procs, what, why)?)?;
    }
    if kind == filekind::UNIX {
        let queues = (!in_flight_sock).then_some(&embryo_fds[..]);
        super::unix::define(w, f, id, &inflight, queues, objs.root, what, why)?;
        define_later(w, objs, path, task, later, why)?;
    }
    if kind == filekind::MEMFD {
        // Its contents go with the pages, at the end.
        objs.alias(ghost_key, id)?;
        objs.memfds.push((id, f.clone(), fi.size), GFP_KERNEL)?;
    }
    if kind == filekind::GHOST && ghost_of == 0 {
        // Read through a file of its own (this one may be write-only), if the
        // checkpointer may read it.
        let r = f.reopen(0, true).map_err(|e| {
            why.set(
                e,
                format_args!("{what}: cannot read deleted file {}", path_str(&path[..n])),
            )
        })?;
        objs.alias(ghost_key, id)?;
        objs.memfds.push((id, r, fi.size), GFP_KERNEL)?;
        w.record(&image::FileOwner {
            file: id,
            uid: fi.uid,
            gid: fi.gid,
        })?;
    }
    // A deleted directory or symbolic link: its owner, and a link's target.
    if (kind == filekind::DIR || kind == filekind::SYMLINK) && fi.unlinked != 0 {
        w.record(&image::FileOwner {
            file: id,
            uid: fi.uid,
            gid: fi.gid,
        })?;
        if kind == filekind::SYMLINK {
            let mut t = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
            let tl = f.link_target(&mut t).map_err(|e| {
                why.set(
                    e,
                    format_args!(
                        "{what}: cannot read deleted symbolic link {}",
                        path_str(&path[..n])
                    ),
                )
            })?;
            w.record(&image::LinkTarget {
                file: id,
                target: &t[..tl],
            })?;
        }
    }
    Ok(id)
}

/// Defines file `x`, in flight in a unix socket's queue; returns its id. A unix
/// socket defined here has only its records written: its queue goes to `later`.
fn define_in_flight(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    x: &FileRef,
    path: &mut KVec<u8>,
    task: Option<&TaskRef>,
    later: &mut KVec<(FileRef, u32)>,
    why: &mut Reason,
) -> Result<u32> {
    let new = objs.get(x.key()).is_none();
    let id = define_file(w, objs, x, path, What::InFlight, (0, 0), task, why)?;
    if new && crate::shim_unix::is_unix(x) {
        later.push((x.clone(), id), GFP_KERNEL)?;
    }
    Ok(id)
}

/// Writes the queues of the unix sockets in flight of `later` (whose records are
/// written), each once the files it carries are defined (sockets among them
/// joining `later`): no recursion, however sockets carry each other.
fn define_later(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    path: &mut KVec<u8>,
    task: Option<&TaskRef>,
    mut later: KVec<(FileRef, u32)>,
    why: &mut Reason,
) -> Result {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    while let Some((x, _)) = later.pop() {
        let ui = crate::shim_unix::info(&x, -1, &mut pb)?;
        let mut ids = KVec::new();
        if ui.nfds != 0 {
            for y in super::unix::inflight(&x, -1, &ui, What::InFlight, why)?.iter() {
                ids.push(
                    define_in_flight(w, objs, y, path, task, &mut later, why)?,
                    GFP_KERNEL,
                )?;
            }
        }
        super::unix::define_queue(w, &x, &ui, &ids, objs.root, why)?;
    }
    Ok(())
}

/// Writes the open files and the fd table of `t`; returns the table's id.
pub(crate) fn write_files(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    t: &TaskRef,
    bufs: &mut Bufs,
    why: &mut Reason,
) -> Result<u32> {
    // A table another process of the image shares (CLONE_FILES) is written once.
    let table = t.info().files_key;
    if let Some(id) = objs.get(table) {
        return Ok(id);
    }
    // Pass 1: define every file; remember (fd, file id, cloexec).
    let mut fds: KVec<Fd> = KVec::new();
    let mut fd = 0u32;
    let owner = (t.info().tgid, t.cwd_deleted()?.map_or(0, |c| c.1));
    while let Some(f) = t.next_file(&mut fd) {
        let file = define_file(
            w,
            objs,
            &f,
            &mut bufs.path,
            What::Fd(fd),
            owner,
            Some(t),
            why,
        )?;
        let cloexec = t.fd_cloexec(fd).unwrap_or(false);
        fds.push(
            Fd {
                fd,
                file,
                flags: if cloexec { image::FD_CLOEXEC } else { 0 },
            },
            GFP_KERNEL,
        )?;
        fd += 1;
    }
    // Pass 2: the table.
    let id = objs.define(table)?;
    w.record(&FilesRec {
        id,
        count: fds.len() as u32,
    })?;
    for d in fds.iter() {
        w.record(d)?;
    }
    super::locks::write(w, objs, id, t, why)?;
    super::epoll::write_items(w, objs, t, why)?;
    Ok(id)
}

/// Writes cwd, root and umask of `t`; returns the object id.
pub(crate) fn write_fs(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    t: &TaskRef,
    bufs: &mut Bufs,
) -> Result<u32> {
    let (umask, cl, rl) = t.fs(&mut bufs.path, &mut bufs.path2)?;
    let id = objs.fresh();
    w.record(&FsRec {
        id,
        umask,
        cwd: &bufs.path[..cl],
        root: &bufs.path2[..rl],
    })?;
    if let Some((mode, _)) = t.cwd_deleted()? {
        w.record(&image::CwdDeleted { fs: id, mode })?;
    }
    Ok(id)
}

// ---------------------------------------------------------------------------
// Restart.

/// Every fd of the plan must refer to a file the image has (not to shared memory); an
/// open of a deleted file or memfd saved with another must name that one.
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    for f in p.fds.iter() {
        if p.file(f.file).is_none_or(|f| f.kind == filekind::SHMEM) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("fd {} refers to no file", f.fd),
            ));
        }
    }
    for f in p.files.iter() {
        if f.kind == filekind::GHOST
            && f.rdev != 0
            && !p.files.iter().any(|g| {
                g.id == f.rdev
                    && ((g.kind == filekind::GHOST && g.rdev == 0) || g.kind == filekind::MEMFD)
            })
        {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("deleted file {} refers to no deleted file", f.id),
            ));
        }
    }
    Ok(())
}

/// Waits until process `pid` of the image (not the caller's) is restored with that
/// pid by this restart ([`Session::restores_with_pid`]): every process of the image is
/// made with its pid before its parent restarts, and one on another branch of the
/// tree may not have come yet (up to [`PROC_WAIT_MS`]). A zombie of the image, or a
/// process outside the restart that has the pid, is refused (`ESRCH`): `what`
/// names what refers to it.
pub(crate) fn wait_image_process(
    p: &Plan<'_>,
    sess: &Session,
    pid: i32,
    what: fmt::Arguments<'_>,
    why: &mut Reason,
) -> Result {
    if p.zombies.contains(&pid) {
        return Err(refuse(
            why,
            ESRCH,
            format_args!("{what} is process {pid} of the image, a zombie, which is not restored"),
        ));
    }
    let mut waited = 0;
    while !sess.restores_with_pid(pid) {
        if waited >= PROC_WAIT_MS || shim::fatal_signal_pending() {
            return Err(refuse(
                why,
                ESRCH,
                format_args!(
                    "{what} is process {pid} of the image, which this restart does not restore with that pid"
                ),
            ));
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
        waited += 10;
    }
    Ok(())
}

/// The `SIGIO` owners of the process's files must be the process, one of its threads
/// or its process group, with the ids of the image (the checkpoint refused others).
/// Checked once the process's threads exist.
pub(crate) fn check_owners(p: &Plan<'_>, sess: &Session, why: &mut Reason) -> Result {
    for o in p.fowns.iter().filter(|o| o.pid != 0) {
        let own_process = o.kind == image::owner::PID && o.pid == p.task.tgid;
        // Another process of the image: the one this restart gives its pid.
        if o.kind == image::owner::PID && !own_process && p.procs.contains(&o.pid) {
            wait_image_process(
                p,
                sess,
                o.pid,
                format_args!("the SIGIO owner of a file"),
                why,
            )?;
            continue;
        }
        if !own_process && !cur_attrs::owns(o.kind, o.pid) {
            return Err(refuse(
                why,
                ESRCH,
                format_args!(
                    "the SIGIO owner {} of a file is not restored with its id",
                    o.pid
                ),
            ));
        }
    }
    Ok(())
}

/// `O_ASYNC` (through each file's `fasync`, with its lowest fd) and the `SIGIO`
/// owners and signals, once the fds are installed. An owner is set on behalf of the
/// caller, whose credentials decide whom `SIGIO` may reach (never more than the
/// caller has).
pub(crate) fn restore_owners(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    const FASYNC: u32 = 0o20000;
    for (i, d) in p.fds.iter().enumerate() {
        if p.fds[..i].iter().any(|e| e.file == d.file) {
            continue;
        }
        let (Some(f), Some(file)) = (p.file(d.file), opened.get(d.file)) else {
            continue;
        };
        if f.flags & FASYNC != 0 {
            file.set_async(d.fd)
                .map_err(|e| why.set(e, format_args!("cannot set O_ASYNC on fd {}", d.fd)))?;
        }
    }
    for o in p.fowns.iter() {
        let Some(file) = opened.get(o.file) else {
            continue;
        };
        let nr = if o.kind == image::owner::PID && o.pid == p.task.tgid {
            shim::current_pid()
        } else {
            o.pid
        };
        file.set_owner(o.kind, nr, o.signum)
            .map_err(|e| why.set(e, format_args!("cannot restore the SIGIO owner of a file")))?;
    }
    Ok(())
}

/// For a process that ran in a chroot (its root is not `/`): makes the directory the
/// image's paths are names in (which `ckpt restart` passes as
/// [`uapi::CKPT_RESTART_FILE_ROOT`]: its own root before it entered the image's)
/// the caller's root while its files are opened; the chroot comes back when the
/// returned value is dropped. Leaders only (their threads are held meanwhile).
pub(crate) fn outer_root(
    p: &Plan<'_>,
    given: &Given<'_>,
    why: &mut Reason,
) -> Result<Option<shim::RootSwap>> {
    if p.fs.root == b"/" {
        return Ok(None);
    }
    if !given
        .files
        .iter()
        .any(|g| g.id == uapi::CKPT_RESTART_FILE_ROOT)
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the process ran with the root directory {}: the restarter must pass the directory its paths are names in (`ckpt restart` does)",
                path_str(p.fs.root)
            ),
        ));
    }
    let dir = given.file(uapi::CKPT_RESTART_FILE_ROOT, why)?;
    shim::RootSwap::enter(&dir)
        .map(Some)
        .map_err(|e| refuse(why, e, format_args!("cannot use the root directory passed")))
}

/// The caller must stand in the image's working directory and root (`swap`: the
/// root it entered, while [`outer_root`] holds another).
pub(crate) fn check_fs(p: &Plan<'_>, swap: Option<&shim::RootSwap>, why: &mut Reason) -> Result {
    let mut cwd = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let mut root = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let me = TaskRef::current();
    let (_, cl, mut rl) = me.fs(&mut cwd, &mut root)?;
    if let Some(s) = swap {
        rl = s.old_name(&mut root)?;
    }
    if &cwd[..cl] != p.fs.cwd || &root[..rl] != p.fs.root {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the caller must be in the image's directory {} (root {}); `ckpt restart` does this",
                path_str(p.fs.cwd),
                path_str(p.fs.root)
            ),
        ));
    }
    Ok(())
}

/// `p` with a terminating NUL.
pub(crate) fn path_z(p: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(p.len() + 1, GFP_KERNEL)?;
    v.extend_from_slice(p, GFP_KERNEL)?;
    v.push(0, GFP_KERNEL)?;
    Ok(v)
}

/// Files opened for the image, by object id.
pub(crate) struct Opened {
    pub(crate) files: KVec<(u32, FileRef)>,
    /// Memfds this process created (id, size, seals): it fills and seals them.
    pub(crate) memfds: KVec<(u32, u64, u32)>,
    /// Deleted files this process made again (id, size, a writable file, the
    /// modification time): it fills them, then gives them back their time.
    pub(crate) ghosts: KVec<(u32, u64, FileRef, i64)>,
    /// The memory objects of read-only shared anonymous mappings, by start address
    /// (filled in phase 3).
    pub(crate) shm: KVec<(u64, FileRef)>,
}

impl Opened {
    pub(crate) fn get(&self, id: u32) -> Option<&FileRef> {
        self.files.iter().find(|(i, _)| *i == id).map(|(_, f)| f)
    }

    /// Gives the deleted files this process made again, now filled, their
    /// modification time back (writing them set it to now).
    pub(crate) fn date_ghosts(&self, why: &mut Reason) -> Result {
        for (id, _, w, mtime) in self.ghosts.iter() {
            w.set_mtime(*mtime).map_err(|e| {
                why.set(
                    e,
                    format_args!("cannot set the modification time of deleted file {id}"),
                )
            })?;
        }
        Ok(())
    }
}

/// Opens (or takes from the caller) the file of record `f`.
pub(crate) fn open_one(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    args: &CkptRestartArgs,
    given: &Given<'_>,
    creds: &crate::access::ImageCreds,
    writer: &mut Option<FileRef>,
    why: &mut Reason,
) -> Result<FileRef> {
    let pipes = given.pipes;
    let inherit = args.flags & uapi::CKPT_RESTART_INHERIT_STDIO != 0;
    let strict = args.flags & uapi::CKPT_RESTART_IGNORE_CHANGED == 0;
    // What the image names (paths, deleted files, memfds) is opened or made with the
    // image's credentials (A13); what the restarter made and passed (pipes, fifos,
    // ptys, sockets, event files) or asked to inherit is its own to give.
    let passed = match f.kind {
        filekind::PIPE | filekind::UNIX | filekind::PIDFD => true,
        k if filekind::is_event(k) => true,
        filekind::TTY => {
            p.pty_hung_up(f.id).is_some()
                || p.pty_master(f.id).is_some()
                || (inherit && !p.pty_in_image(f.id))
        }
        filekind::FIFO => f.path.ends_with(b" (deleted)"),
        _ => false,
    };
    let _as = if passed { None } else { Some(creds.apply()?) };
    Ok(match f.kind {
        filekind::PIPE => super::pipe::open(f, pipes, p.pipe_reopen.contains(&f.id), why)?,
        filekind::TTY if p.pty_hung_up(f.id).is_some() => super::tty::open_hung_up(f, pipes, why)?,
        filekind::TTY if p.pty_master(f.id).is_some() => {
            super::tty::open_pty_master(p, f, pipes, why)?
        }
        filekind::TTY if inherit && !p.pty_in_image(f.id) => {
            super::tty::open_inherited(p, f, args, why)?
        }
        // In flight in a socket's queue: the restarter made it (empty) and sent it.
        filekind::MEMFD => match given.passed(f.id) {
            Some(g) => super::unix::in_flight_memfd(f, g?, writer, why)?,
            None => super::shm::open_memfd(f, why)?,
        },
        k if filekind::is_event(k) => super::event::open(p, f, given, creds, why)?,
        filekind::UNIX => super::unix::open(p, f, given, why)?,
        filekind::PIDFD => super::pidfd::open(p, f, given, why)?,
        filekind::GHOST => match given.passed(f.id) {
            Some(g) if f.rdev == 0 => super::unix::in_flight_ghost(p, f, g?, writer, why)?,
            _ => open_ghost(p, f, creds, writer, why)?,
        },
        filekind::SYMLINK if f.path.ends_with(b" (deleted)") => {
            open_made_deleted(p, f, given, fk::LNK, why)?
        }
        filekind::FIFO if f.path.ends_with(b" (deleted)") => {
            super::pipe::open_deleted_fifo(f, pipes, why)?
        }
        // Opened with rights the process gave up since: the restarter opened it as
        // its opener (if it could) and passed it.
        filekind::REG | filekind::DIR
            if p.opener(f.id).is_some() && given.passed(f.id).is_some() =>
        {
            opened_as_opener(f, given.file(f.id, why)?, strict, why)?
        }
        _ => {
            // The process's own /proc entries are reopened as /proc/self's (whatever
            // pid it has now); another process's are never reopened.
            let path = match proc_pid(f.path) {
                Some((pid, n)) if pid == p.task.tgid => {
                    let mut v = path_z(b"/proc/self")?;
                    v.pop();
                    v.extend_from_slice(&f.path[n..], GFP_KERNEL)?;
                    v.push(0, GFP_KERNEL)?;
                    v
                }
                // Another process of the image's, at its pid (the restart gives it
                // again).
                Some((pid, _)) if p.procs.contains(&pid) => {
                    return open_proc_of(f, pid, why);
                }
                Some((pid, _)) => {
                    return Err(refuse(
                        why,
                        eopnotsupp(),
                        format_args!("{} is another process's ({pid})", path_str(f.path)),
                    ))
                }
                // The deleted working directory, which `ckpt restart` made again
                // and entered.
                None if f.kind == filekind::DIR && f.path.ends_with(b" (deleted)") => {
                    if f.path != p.fs.cwd {
                        // Another: the one `ckpt restart` made again and passed.
                        return open_made_deleted(p, f, given, fk::DIR, why);
                    }
                    path_z(b".")?
                }
                None => path_z(f.path)?,
            };
            // A terminal reopened never becomes a controlling terminal (`ckpt restart`
            // gives the process its own back).
            let flags = match f.kind {
                filekind::FIFO => f.flags | O_NONBLOCK,
                filekind::TTY => f.flags | O_NOCTTY,
                _ => f.flags,
            };
            // A write-only fifo opens only while it has a reader.
            let _reader = if f.kind == filekind::FIFO && f.flags & O_ACCMODE == O_WRONLY {
                Some(FileRef::open(&path, O_RDONLY | O_NONBLOCK).map_err(|e| {
                    refuse(why, e, format_args!("cannot open {}", path_str(f.path)))
                })?)
            } else {
                None
            };
            let file = FileRef::open(&path, flags).map_err(|e| match p.opener(f.id) {
                Some(o) => refuse(
                    why,
                    e,
                    format_args!(
                        "cannot open {}: the process opened it as user {} group {} before it \
                         gave up those rights, and the restarter could not open it as them \
                         (restart it as a user who may, such as root)",
                        path_str(f.path),
                        o.fsuid,
                        o.fsgid
                    ),
                ),
                None => refuse(why, e, format_args!("cannot open {}", path_str(f.path))),
            })?;
            if f.kind == filekind::REG && strict {
                check_unchanged(f, &file, true, why)?;
            }
            if f.kind == filekind::FIFO {
                file.set_flags(f.flags);
            }
            if f.kind == filekind::REG || f.kind == filekind::DIR {
                file.seek(f.pos).map_err(|e| {
                    refuse(why, e, format_args!("cannot seek {}", path_str(f.path)))
                })?;
            }
            if f.kind == filekind::REG {
                if let Some(g) = given.passed(f.id) {
                    // In flight in a socket's queue: the restarter opened it and
                    // sent it again; that file is the image's (also where an fd
                    // holds it), checked against the one opened here.
                    let g = g.map_err(|e| {
                        refuse(
                            why,
                            e,
                            format_args!("the fd passed for file {} is not open", f.id),
                        )
                    })?;
                    return in_flight_reg(f, &file, g, why);
                }
            }
            file
        }
    })
}

/// Checks the file the restarter opened as its opener and passed for file `f` of
/// the image (a regular file or directory with an [`image::FileOpener`], which the
/// image's process could not open itself): that file at that path, with its
/// access mode, unchanged since the checkpoint unless `strict` is off; then gives
/// it the image's flags and offset. The restarter opened it with its own rights
/// (the kernel judged them), so it gives nothing the restarter did not have.
fn opened_as_opener(
    f: &image::FileRec<'_>,
    g: FileRef,
    strict: bool,
    why: &mut Reason,
) -> Result<FileRef> {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (b, n) = g.info(&mut pb)?;
    let want = if f.kind == filekind::DIR {
        fk::DIR
    } else {
        fk::REG
    };
    if b.kind != want
        || &pb[..n] != f.path
        || !opener_path(&b, &pb[..n])
        || (b.flags ^ f.flags) & (O_ACCMODE | O_PATH) != 0
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for {} (file {}, opened as its opener) is not that file, or not opened as the image's",
                path_str(f.path),
                f.id
            ),
        ));
    }
    if f.kind == filekind::REG && strict {
        check_unchanged(f, &g, true, why)?;
    }
    g.set_flags(f.flags);
    g.seek(f.pos)
        .map_err(|e| refuse(why, e, format_args!("cannot seek {}", path_str(f.path))))?;
    Ok(g)
}

/// Checks the regular file the restarter opened and sent in flight for file `f`
/// of the image (`g`) against `mine`, the one the module opened by its path: the
/// same inode, access mode and offset; then gives it the image's flags.
fn in_flight_reg(
    f: &image::FileRec<'_>,
    mine: &FileRef,
    g: FileRef,
    why: &mut Reason,
) -> Result<FileRef> {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (a, _) = mine.info(&mut pb)?;
    let (b, _) = g.info(&mut pb)?;
    if b.kind != fk::REG
        || a.inode_key != b.inode_key
        || (a.flags ^ b.flags) & (O_ACCMODE | O_PATH) != 0
        || b.pos != f.pos
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for {} (file {}, in flight) is not that file, or not opened as the image's",
                path_str(f.path),
                f.id
            ),
        ));
    }
    g.set_flags(f.flags);
    Ok(g)
}

/// Opens `f`, a deleted directory or symbolic link, from the one `ckpt restart` made
/// again (with its owner, mode or target) and removed, and passed as file `f.id`:
/// it must be a deleted one of that kind with the image's mode, owner
/// ([`image::FileOwner`]) and, for a link, target ([`image::LinkTarget`]); it is
/// opened with the image's flags as an open by path would be, with the permission
/// check (the caller holds the image's credentials): a directory only for reading
/// (or `O_PATH`), a link only with `O_PATH`.
fn open_made_deleted(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    given: &Given<'_>,
    kind: u32,
    why: &mut Reason,
) -> Result<FileRef> {
    let what = if kind == fk::DIR {
        "directory"
    } else {
        "symbolic link"
    };
    let flags_ok = if kind == fk::DIR {
        f.flags & O_PATH != 0 || f.flags & O_ACCMODE == O_RDONLY
    } else {
        f.flags & O_PATH != 0
    };
    if !flags_ok {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "deleted {what} {} has open flags {:#o}: a directory opens only for reading, a symbolic link only with O_PATH",
                path_str(f.path),
                f.flags
            ),
        ));
    }
    let made = given.file(f.id, why)?;
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (fi, _) = made.info(&mut pb)?;
    if fi.kind != kind || fi.unlinked == 0 || fi.mode != f.mode {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for {} is not a deleted {what} with its mode",
                path_str(f.path),
            ),
        ));
    }
    if let Some(o) = p.owners.iter().find(|o| o.file == f.id) {
        if (fi.uid, fi.gid) != (o.uid, o.gid) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the {what} passed for {} is owned by {}:{}, not by the image's {}:{}",
                    path_str(f.path),
                    fi.uid,
                    fi.gid,
                    o.uid,
                    o.gid
                ),
            ));
        }
    }
    if kind == fk::LNK {
        let Some(want) = p.link_targets.iter().find(|l| l.file == f.id) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "deleted symbolic link {} has no target in the image",
                    path_str(f.path)
                ),
            ));
        };
        let mut t = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let n = made.link_target(&mut t).map_err(|e| {
            refuse(
                why,
                e,
                format_args!(
                    "cannot read the symbolic link passed for {}",
                    path_str(f.path)
                ),
            )
        })?;
        if t[..n] != *want.target {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the symbolic link passed for {} points to {}, not to the image's {}",
                    path_str(f.path),
                    path_str(&t[..n]),
                    path_str(want.target)
                ),
            ));
        }
    }
    let file = made
        .reopen(f.flags, true)
        .map_err(|e| refuse(why, e, format_args!("cannot reopen {}", path_str(f.path))))?;
    if kind == fk::DIR {
        file.seek(f.pos)
            .map_err(|e| refuse(why, e, format_args!("cannot seek {}", path_str(f.path))))?;
    }
    Ok(file)
}

/// How long [`open_proc_of`] waits for the process to exist.
const PROC_WAIT_MS: i64 = 5000;

/// Opens `f`, a file under `/proc/PID` of process `pid` of the image (not the
/// caller's), which [`open_files`] waited for: the process this restart gives that
/// pid ([`wait_image_process`]); the wait here covers only its procfs entry. The
/// procfs must be the caller's pid namespace's: in another (`ckpt restart
/// --pid-ns`), `PID` would name another process.
fn open_proc_of(f: &image::FileRec<'_>, pid: i32, why: &mut Reason) -> Result<FileRef> {
    let path = path_z(f.path)?;
    let mut waited = 0;
    let file = loop {
        match FileRef::open(&path, f.flags) {
            Err(e) if e == ENOENT && waited < PROC_WAIT_MS && !shim::fatal_signal_pending() => {
                kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
                waited += 10;
            }
            r => {
                break r.map_err(|e| {
                    refuse(why, e, format_args!("cannot open {}", path_str(f.path)))
                })?
            }
        }
    };
    if !file.proc_own_ns() {
        return Err(refuse(
            why,
            eopnotsupp(),
            format_args!(
                "{} is process {pid}'s, whose pid the /proc mounted here does not show (another pid namespace)",
                path_str(f.path)
            ),
        ));
    }
    file.seek(f.pos)
        .map_err(|e| refuse(why, e, format_args!("cannot seek {}", path_str(f.path))))?;
    Ok(file)
}

/// Makes a deleted file ("/DIR/NAME (deleted)") again: a new unnamed file in DIR with
/// its mode, size and owner, opened with its flags at its offset; `writer` gets a
/// writable file of it, through which phase 3 fills it.
fn open_ghost(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    creds: &crate::access::ImageCreds,
    writer: &mut Option<FileRef>,
    why: &mut Reason,
) -> Result<FileRef> {
    let name = f.path.strip_suffix(b" (deleted)").ok_or(EINVAL)?;
    let slash = name.iter().rposition(|&c| c == b'/').ok_or(EINVAL)?;
    let dir = path_z(if slash == 0 { b"/" } else { &name[..slash] })?;
    let cant = |why: &mut Reason, e: Error| {
        refuse(
            why,
            e,
            format_args!(
                "cannot make deleted file {} again (an O_TMPFILE file in its directory)",
                path_str(f.path)
            ),
        )
    };
    // Made as the image's user, even in a directory that user may no longer write
    // to, if the caller may; its owner and mode below as the image's user only.
    let tmp = {
        let _make = creds.apply_to_make_ghost()?;
        FileRef::tmpfile(&dir, f.mode).map_err(|e| cant(why, e))?
    };
    tmp.truncate(f.size).map_err(|e| cant(why, e))?;
    if let Some(o) = p.owners.iter().find(|o| o.file == f.id) {
        tmp.chown(o.uid, o.gid).map_err(|e| {
            refuse(
                why,
                e,
                format_args!(
                    "cannot give deleted file {} its owner {}:{}",
                    path_str(f.path),
                    o.uid,
                    o.gid
                ),
            )
        })?;
    }
    // Its mode once more, as its owner set it last: making it (without
    // CAP_FSETID) and giving it an owner may have dropped set-ID bits.
    tmp.chmod(f.mode).map_err(|e| cant(why, e))?;
    let file = tmp.reopen(f.flags, false).map_err(|e| cant(why, e))?;
    file.seek(f.pos)
        .map_err(|e| refuse(why, e, format_args!("cannot seek {}", path_str(f.path))))?;
    *writer = Some(tmp);
    Ok(file)
}

/// Opens (or takes from the session) every file the process refers to, and puts
/// buffered bytes back into its pipes.
pub(crate) fn open_files(
    p: &Plan<'_>,
    sess: &Session,
    args: &CkptRestartArgs,
    given: &Given<'_>,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result<Opened> {
    let mut out = Opened {
        files: KVec::new(),
        memfds: KVec::new(),
        ghosts: KVec::new(),
        shm: KVec::new(),
    };
    for f in p.files.iter() {
        crate::fault::step_why(crate::fault::Op::Restart, "open a file", why)?;
        if f.kind == filekind::SHMEM {
            continue;
        }
        if f.kind == filekind::SYSVSHM {
            out.files
                .push((f.id, super::shm::attached_sysv(f, why)?), GFP_KERNEL)?;
            continue;
        }
        let mut made = false;
        let mut writer = None;
        let owner = if f.kind == filekind::GHOST && f.rdev != 0 {
            Some(out.get(f.rdev).ok_or(EINVAL)?.clone())
        } else {
            None
        };
        // A file under /proc/PID of another process of the image: that process must be
        // the one this restart gives the pid (waited for outside the session's lock).
        if let Some((pid, _)) = proc_pid(f.path) {
            if pid != p.task.tgid && p.procs.contains(&pid) {
                wait_image_process(p, sess, pid, format_args!("{}", path_str(f.path)), why)?;
            }
        }
        // A pidfd: the process it refers to, likewise.
        if f.kind == filekind::PIDFD {
            super::pidfd::wait_target(p, sess, f, why)?;
        }
        // A unix socket: the processes of the image that made its connections.
        if f.kind == filekind::UNIX {
            for pid in super::unix::peer_pids(p, f) {
                let what = format_args!("the peer of unix socket file {}", f.id);
                wait_image_process(p, sess, pid, what, why)?;
            }
        }
        let shared = sess.file(f.id, || {
            made = true;
            if let Some(o) = &owner {
                // Another open of a deleted file or memfd made above.
                let file = o.reopen(f.flags, false).map_err(|e| {
                    refuse(why, e, format_args!("cannot reopen {}", path_str(f.path)))
                })?;
                file.seek(f.pos).map_err(|e| {
                    refuse(why, e, format_args!("cannot seek {}", path_str(f.path)))
                })?;
                return Ok(file);
            }
            open_one(p, f, args, given, creds, &mut writer, why)
        });
        let file = match shared {
            // The program, which its user may execute but not read: mapped as
            // execve() maps it, for this process only.
            Err(e) if e == EACCES && crate::access::may_map_exec_only(p, f) => {
                let strict = args.flags & uapi::CKPT_RESTART_IGNORE_CHANGED == 0;
                open_exec_mapped(f, creds, strict, why)?
            }
            // Shared with another process of the image, which may open it.
            Err(e) if e == EACCES && p.live_procs > 1 => {
                match sess.file_of_another(f.id, p.live_procs)? {
                    Some(file) => {
                        made = false;
                        file
                    }
                    None => return Err(e),
                }
            }
            r => r?,
        };
        if let Some(w) = writer {
            out.ghosts.push((f.id, f.size, w, f.mtime_ns), GFP_KERNEL)?;
        }
        if made && f.kind == filekind::MEMFD {
            out.memfds.push((f.id, f.size, f.rdev), GFP_KERNEL)?;
        }
        out.files.push((f.id, file), GFP_KERNEL)?;
    }
    super::pipe::refill(p, sess, &out, given.pipes, why)?;
    Ok(out)
}

/// Opens `f`, the process's program, which the image's user may execute but not
/// read, as `execve()` does, to map it ([`crate::access::may_map_exec_only`]
/// decided it may); unchanged since the checkpoint unless `strict` is off, as
/// [`open_one`] checks a regular file.
fn open_exec_mapped(
    f: &image::FileRec<'_>,
    creds: &crate::access::ImageCreds,
    strict: bool,
    why: &mut Reason,
) -> Result<FileRef> {
    let _as = creds.apply()?;
    let path = path_z(f.path)?;
    let file = FileRef::open_exec(&path).map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "cannot open {} (the program: its user may not read it, nor execute it)",
                path_str(f.path)
            ),
        )
    })?;
    if strict {
        check_unchanged(f, &file, false, why)?;
    }
    Ok(file)
}

/// Refuses `file`, opened again for regular file `f` of the image, if its size or
/// modification time is not the checkpoint's (`ESTALE`); a file of a pseudo
/// filesystem (whose sizes mean nothing) passes if `pseudo_passes`.
fn check_unchanged(
    f: &image::FileRec<'_>,
    file: &FileRef,
    pseudo_passes: bool,
    why: &mut Reason,
) -> Result {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (fi, _) = file.info(&mut pb)?;
    if (pseudo_passes && is_pseudo_fs(fi.fs_magic))
        || (fi.size == f.size && fi.mtime_ns == f.mtime_ns)
    {
        return Ok(());
    }
    Err(refuse(
        why,
        Error::from_errno(-(kernel::bindings::ESTALE as i32)),
        format_args!(
            "{} changed since the checkpoint (size {} -> {})",
            path_str(f.path),
            f.size,
            fi.size
        ),
    ))
}

/// Empties the caller's fd table and installs the image's at their numbers.
pub(crate) fn install_fds(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    cur::close_fds();
    let mut holes = KVec::new();
    let mut res = Ok(());
    for d in p.fds.iter() {
        let file = opened.get(d.file).ok_or(EINVAL)?;
        loop {
            match cur::reserve_fd(d.flags & image::FD_CLOEXEC != 0) {
                Ok(r) if r.reserved_fd() < d.fd => holes.push(r, GFP_KERNEL)?,
                Ok(r) if r.reserved_fd() == d.fd => {
                    cur::install_fd(r, file);
                    break;
                }
                Ok(r) => {
                    drop(r);
                    res = Err(why.set(EMFILE, format_args!("cannot place fd {}", d.fd)));
                    break;
                }
                Err(e) => {
                    res = Err(why.set(e, format_args!("cannot place fd {}", d.fd)));
                    break;
                }
            }
        }
        if res.is_err() {
            break;
        }
    }
    // The holes' reservations are given back (and any on an early return).
    drop(holes);
    res
}
