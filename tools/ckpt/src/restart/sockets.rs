// SPDX-License-Identifier: GPL-2.0

//! The image's unix sockets, made again by the root restarter before it
//! creates the processes below it (which inherit them), with the kernel's own
//! system calls: `socketpair`, or `bind`, `listen`, `connect` and `accept` for
//! named ones; connections not accepted yet are connected again in their
//! listener's queue order; queued data is sent again buffer by buffer, in
//! order, from the peer (or, for a datagram from a socket that is gone, from a
//! stand-in bound to its old name), so that record boundaries and sender
//! addresses come back; then shutdown state and options. A peer that had been
//! closed is a stand-in closed at the end. The ioctl is told which file of the
//! image each socket is; the module checks them and installs them.
//!
//! A socket bound to a path gets its socket file again: a stale one (nothing
//! answers on it) is removed first, as a restarted server would; one in use
//! refuses the restart. A file the program had removed is removed again.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use crate::errno;
use crate::image::{unix_flags, unix_state};
use crate::uapi::CkptRestartFile;

use crate::image::filekind;

use super::plan::{InflightMade, Plan, SockPlan};

/// The sockets the root restarter made for the image's.
#[derive(Default)]
pub(super) struct Sockets {
    /// What the ioctl is told: each socket file's image id and fd.
    pub(super) args: Vec<CkptRestartFile>,
    /// The sockets, held open (and inherited by every process created after).
    held: Vec<OwnedFd>,
}

/// Largest send buffer asked for while queues are filled (the kernel caps it
/// at `net.core.wmem_max`).
const FILL_SNDBUF: libc::c_int = 64 << 20;

fn err(what: impl std::fmt::Display, e: io::Error) -> String {
    format!("{what}: {}", errno::describe(&e))
}

fn last() -> io::Error {
    io::Error::last_os_error()
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(last())
    } else {
        Ok(r)
    }
}

/// A socket address for messages: a path, `@name` (abstract), `(unnamed)`.
fn shown(name: &[u8]) -> String {
    crate::names::unix_name(trim(name))
}

/// A path name without the NUL the kernel keeps after it.
fn trim(name: &[u8]) -> &[u8] {
    if name.first() == Some(&0) {
        return name;
    }
    let n = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    &name[..n]
}

fn socket(ty: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; a non-negative result is a new fd we own.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_UNIX,
            ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn socketpair(ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two fds socketpair writes.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: Both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `name` (`sun_path` bytes) as a socket address.
fn addr(name: &[u8]) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is valid.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if name.len() > a.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, s) in a.sun_path.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + name.len();
    Ok((a, len as libc::socklen_t))
}

fn bind_raw(fd: RawFd, name: &[u8]) -> io::Result<()> {
    let (a, len) = addr(name)?;
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::bind(fd, (&a as *const libc::sockaddr_un).cast(), len) }).map(|_| ())
}

fn connect_raw(fd: RawFd, name: &[u8]) -> io::Result<()> {
    let (a, len) = addr(name)?;
    // SAFETY: `a` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::connect(fd, (&a as *const libc::sockaddr_un).cast(), len) }).map(|_| ())
}

fn setopt(fd: RawFd, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a valid int of the size given.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn getopt(fd: RawFd, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writing.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(v)
}

fn set_timeo(fd: RawFd, opt: libc::c_int, us: i64) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: us / 1_000_000,
        tv_usec: us % 1_000_000,
    };
    // SAFETY: `tv` is a valid timeval of the size given.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// Sends `data` as one message carrying the files `fds` (`SCM_RIGHTS`) and the
/// credentials `creds` (`SCM_CREDENTIALS`: pid, uid, gid), to `to` if given.
fn send_fds(
    fd: RawFd,
    data: &[u8],
    to: Option<&[u8]>,
    fds: &[RawFd],
    creds: Option<libc::ucred>,
) -> io::Result<()> {
    if fds.is_empty() && creds.is_none() {
        return send(fd, data, to);
    }
    let (mut a, alen) = match to {
        Some(name) => {
            let (a, l) = addr(name)?;
            (Some(a), l)
        }
        None => (None, 0),
    };
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let payload = std::mem::size_of_val(fds);
    let cred_len = std::mem::size_of::<libc::ucred>();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe {
        (if fds.is_empty() {
            0
        } else {
            libc::CMSG_SPACE(payload as u32)
        }) + (if creds.is_some() {
            libc::CMSG_SPACE(cred_len as u32)
        } else {
            0
        })
    } as usize;
    let mut ctl = vec![0u64; space.div_ceil(8)];
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(a) = a.as_mut() {
        msg.msg_name = (a as *mut libc::sockaddr_un).cast();
        msg.msg_namelen = alen;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer (8-byte aligned) holds, for each control
    // message sent, CMSG_SPACE of its payload: the first header at its start
    // (CMSG_FIRSTHDR is not null), the second right after the first's space; each
    // CMSG_DATA has room for what is copied.
    let n = unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        if !fds.is_empty() {
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), payload);
            c = msg
                .msg_control
                .cast::<u8>()
                .add(libc::CMSG_SPACE(payload as u32) as usize)
                .cast::<libc::cmsghdr>();
        }
        if let Some(cr) = creds {
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_CREDENTIALS;
            (*c).cmsg_len = libc::CMSG_LEN(cred_len as u32) as _;
            std::ptr::copy_nonoverlapping(
                (&cr as *const libc::ucred).cast::<u8>(),
                libc::CMSG_DATA(c),
                cred_len,
            );
        }
        libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        return Err(last());
    }
    if n as usize != data.len() {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    Ok(())
}

/// Sends `data` as one message (a datagram, a seqpacket record, a stream buffer),
/// to `to` if given.
fn send(fd: RawFd, data: &[u8], to: Option<&[u8]>) -> io::Result<()> {
    let n = match to {
        Some(name) => {
            let (a, len) = addr(name)?;
            // SAFETY: `data` is readable for its length; `a` is a valid address.
            unsafe {
                libc::sendto(
                    fd,
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    (&a as *const libc::sockaddr_un).cast(),
                    len,
                )
            }
        }
        // SAFETY: `data` is readable for its length.
        None => unsafe {
            libc::send(
                fd,
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        },
    };
    if n < 0 {
        return Err(last());
    }
    if n as usize != data.len() {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    Ok(())
}

/// The path of a path name: the name itself if absolute, else the socket file's
/// absolute path the checkpoint saw (a relative name was bound in another
/// directory).
fn fs_path(s_name: &[u8], path: &[u8]) -> Vec<u8> {
    let name = trim(s_name);
    if name.first() == Some(&b'/') || path.is_empty() {
        return name.to_vec();
    }
    path.strip_suffix(b" (deleted)").unwrap_or(path).to_vec()
}

/// A name to connect to: the absolute path for a relative path name (the
/// kernel reports the listener's own name to the peer either way).
fn target(name: &[u8], path: &[u8]) -> Vec<u8> {
    if name.first() == Some(&0) {
        name.to_vec()
    } else {
        fs_path(name, path)
    }
}

fn cpath(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// How long a name held by a socket that only a loop of sockets in flight kept
/// (garbage the kernel has not collected yet) is waited for.
const GC_WAIT_MS: u64 = 1000;

/// Whether `busy` stops being true while the kernel collects unix sockets that
/// only sockets in flight still refer to (the checkpointed program's, killed
/// while its sockets carried each other, as ZDTM's `scm06`: their names stay
/// taken until then): the collection runs once a unix socket is closed.
fn after_gc(mut busy: impl FnMut() -> bool) -> bool {
    let mut waited = 0;
    while busy() {
        if waited >= GC_WAIT_MS {
            return false;
        }
        // Closing a unix socket schedules the collection (unix_release_sock).
        drop(socket(libc::SOCK_DGRAM));
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 20;
    }
    true
}

/// Makes path `p` free for a new socket file: nothing there, or a stale socket
/// file (removed). `ty`: the socket's type, to knock with.
fn free_path(p: &[u8], ty: i32) -> Result<(), String> {
    let c = cpath(p).map_err(|e| err(crate::names::path(p), e))?;
    // SAFETY: stat is plain data; all zeroes is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated; `st` is valid for writing.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
        return Ok(());
    }
    let shown = crate::names::path(p);
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(format!(
            "{shown}, the path of a unix socket of the image, exists and is not a socket"
        ));
    }
    let mut answer = Ok(());
    after_gc(|| {
        let Ok(probe) = socket(ty) else {
            return false;
        };
        answer = connect_raw(probe.as_raw_fd(), p);
        answer.is_ok()
    });
    match answer {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        _ => {
            return Err(format!(
            "{shown}: a running socket answers there (is the checkpointed program still running?)"
        ))
        }
    }
    // SAFETY: `c` is NUL-terminated.
    if unsafe { libc::unlink(c.as_ptr()) } != 0 {
        return Err(err(
            format!("cannot remove the stale socket file {shown}"),
            last(),
        ));
    }
    Ok(())
}

/// Binds `fd` to `name` (with `path`, the socket file's absolute path, for a
/// relative name): a relative name is bound from its directory, so that the
/// socket's name is the one it had. Returns the file made, if any.
fn bind(fd: RawFd, ty: i32, name: &[u8], path: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let shown_name = shown(name);
    if name.first() == Some(&0) {
        let mut r = Ok(());
        after_gc(|| {
            r = bind_raw(fd, name);
            matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE))
        });
        return r.map(|_| None).map_err(|e| {
            if e.raw_os_error() == Some(libc::EADDRINUSE) {
                format!("unix socket name {shown_name} is in use (is the checkpointed program still running?)")
            } else {
                err(format!("cannot bind a unix socket to {shown_name}"), e)
            }
        });
    }
    let file = fs_path(name, path);
    free_path(&file, ty)?;
    let rel = trim(name);
    let r = if rel.first() == Some(&b'/') {
        bind_raw(fd, name)
    } else {
        // The directory the name was bound from: the file's path without it.
        let Some(dir) = file
            .strip_suffix(rel)
            .filter(|d| d.ends_with(b"/"))
            .map(|d| &d[..d.len() - 1])
        else {
            return Err(format!(
                "cannot tell where unix socket {shown_name} (a relative name) was bound: its file was {}",
                crate::names::path(&file)
            ));
        };
        let dir = if dir.is_empty() { &b"/"[..] } else { dir };
        let here =
            std::env::current_dir().map_err(|e| err("cannot read the working directory", e))?;
        std::env::set_current_dir(std::ffi::OsStr::from_bytes(dir))
            .map_err(|e| err(format!("cannot enter {}", crate::names::path(dir)), e))?;
        let r = bind_raw(fd, name);
        std::env::set_current_dir(&here).map_err(|e| err("cannot go back", e))?;
        r
    };
    r.map_err(|e| err(format!("cannot bind a unix socket to {shown_name}"), e))?;
    Ok(Some(file))
}

/// Renames `from` to `to`.
fn rename(from: &[u8], to: &[u8]) -> Result<(), String> {
    let (a, b) = (
        cpath(from).map_err(|e| err(crate::names::path(from), e))?,
        cpath(to).map_err(|e| err(crate::names::path(to), e))?,
    );
    // SAFETY: Both are NUL-terminated.
    if unsafe { libc::rename(a.as_ptr(), b.as_ptr()) } != 0 {
        return Err(err(
            format!(
                "cannot move {} to {}",
                crate::names::path(from),
                crate::names::path(to)
            ),
            last(),
        ));
    }
    Ok(())
}

fn unlink(p: &[u8]) {
    if let Ok(c) = cpath(p) {
        // SAFETY: `c` is NUL-terminated.
        unsafe { libc::unlink(c.as_ptr()) };
    }
}

/// What [`Sockets::create`] works with.
struct Maker<'a> {
    plan: &'a [SockPlan],
    /// The sockets made for the image's socket files, by inode.
    made: HashMap<u64, OwnedFd>,
    /// Stand-ins for closed peers and senders, closed at the end.
    standins: Vec<OwnedFd>,
    /// Socket files to remove at the end (stand-ins' and those the program had
    /// removed).
    remove: Vec<Vec<u8>>,
    /// Directories made for sockets bound in directories removed since, to
    /// remove at the end (deepest last).
    rmdirs: Vec<Vec<u8>>,
    /// Socket files made for sockets that keep them.
    kept: Vec<Vec<u8>>,
    /// The fd to send for each file in flight (`SCM_RIGHTS`), by file id.
    inflight: &'a HashMap<u32, RawFd>,
    /// The image's root process's pid (credentials of buffers it sent are sent
    /// again with the restarter's, which is that process now).
    root_pid: i32,
    /// Queues that carry unix sockets in flight, filled once every socket is
    /// made: the socket's index in `plan`, and (a copy of) the socket that
    /// sends them.
    deferred: Vec<(usize, OwnedFd)>,
}

/// A datagram socket bound to a path the program removed since: bound late, one
/// at a time, and its file removed at once (another socket may have had the
/// same path later).
fn bound_then_removed(s: &SockPlan) -> bool {
    s.sock_type == libc::SOCK_DGRAM
        && s.flags & (unix_flags::BOUND | unix_flags::UNLINKED)
            == unix_flags::BOUND | unix_flags::UNLINKED
        && s.name.first() != Some(&0)
}

/// The socket file of the image with inode `ino`.
fn file_sock(plan: &[SockPlan], ino: u64) -> Option<&SockPlan> {
    plan.iter().find(|s| s.file != 0 && s.ino == ino)
}

/// The peer record of stream socket `s`: a socket file, or the connection
/// waiting in a listener that it is the client of.
fn stream_peer<'p>(plan: &'p [SockPlan], s: &SockPlan) -> Option<&'p SockPlan> {
    if s.sock_type == libc::SOCK_DGRAM || s.state != unix_state::ESTABLISHED {
        return None;
    }
    if s.flags & unix_flags::PEER_EMBRYO != 0 {
        return plan.iter().find(|e| e.file == 0 && e.peer == s.ino);
    }
    file_sock(plan, s.peer)
}

/// The shutdown bits of stream socket `s` that its peer does not mirror: it
/// shut itself down before it connected (a shutdown of a connected socket
/// shuts its peer's other direction too). They are applied before connecting.
fn early_shutdown(plan: &[SockPlan], s: &SockPlan) -> u8 {
    let Some(p) = stream_peer(plan, s) else {
        return 0;
    };
    let mirror = ((p.shutdown & 2) >> 1) | ((p.shutdown & 1) << 1);
    s.shutdown & !mirror
}

fn shut(fd: RawFd, bits: u8, s: &SockPlan) -> Result<(), String> {
    if bits == 0 {
        return Ok(());
    }
    // SAFETY: shutdown takes no pointers.
    cvt(unsafe { libc::shutdown(fd, i32::from(bits) - 1) })
        .map(|_| ())
        .map_err(|e| {
            err(
                format!("cannot shut unix socket {} down", shown(&s.name)),
                e,
            )
        })
}

impl Maker<'_> {
    fn fd(&self, ino: u64) -> RawFd {
        self.made.get(&ino).map_or(-1, |f| f.as_raw_fd())
    }

    /// The credentials to send with buffer `i` of `s`'s queue: those it carried
    /// if they were the image's root process's (the restarter is that process
    /// now, with its pid), else none (the checkpoint refused such a buffer where
    /// a program would see them: see `rust/objects/unix.rs`).
    fn creds_of(&self, s: &SockPlan, i: usize) -> Option<libc::ucred> {
        let (pid, uid, gid) = (*s.queue_creds.get(i)?)?;
        if pid != self.root_pid {
            return None;
        }
        Some(libc::ucred {
            // SAFETY: getpid takes no arguments.
            pid: unsafe { libc::getpid() },
            uid,
            gid,
        })
    }

    /// The fds to send with buffer `i` of `s`'s queue (its files in flight): a
    /// unix socket of the image is the one made for it.
    fn fds_of(&self, s: &SockPlan, i: usize) -> Result<Vec<RawFd>, String> {
        let Some(ids) = s.queue_fds.get(i) else {
            return Ok(Vec::new());
        };
        ids.iter()
            .map(|id| {
                let sock = self
                    .plan
                    .iter()
                    .find(|x| x.file == *id)
                    .and_then(|x| self.made.get(&x.ino))
                    .map(|f| f.as_raw_fd());
                self.inflight.get(id).copied().or(sock).ok_or_else(|| {
                    format!(
                        "unix socket {} holds file {id} in flight, which cannot be made again",
                        shown(&s.name)
                    )
                })
            })
            .collect()
    }

    /// A new socket for `s`, bound if it was.
    fn new_sock(&mut self, s: &SockPlan) -> Result<OwnedFd, String> {
        let fd = socket(s.sock_type).map_err(|e| err("cannot create a unix socket", e))?;
        let _ = setopt(fd.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
        if s.flags & unix_flags::BOUND != 0 && !bound_then_removed(s) {
            self.bind_as(fd.as_raw_fd(), s)?;
        }
        shut(fd.as_raw_fd(), early_shutdown(self.plan, s), s)?;
        Ok(fd)
    }

    fn bind_as(&mut self, fd: RawFd, s: &SockPlan) -> Result<(), String> {
        if s.flags & unix_flags::UNLINKED != 0 && s.name.first() != Some(&0) {
            // Its directory may be gone too: made again for the while.
            let file = fs_path(&s.name, &s.path);
            let mut at = 0;
            while let Some(i) = file[at + 1..].iter().position(|&c| c == b'/') {
                at += 1 + i;
                let dir = file[..at].to_vec();
                let c = cpath(&dir).map_err(|e| err(crate::names::path(&dir), e))?;
                // SAFETY: `c` is NUL-terminated.
                if unsafe { libc::mkdir(c.as_ptr(), 0o700) } == 0 {
                    self.rmdirs.push(dir);
                }
            }
        }
        // A socket whose file the program removed, at a path that now holds another
        // file (a socket of the image bound there later, or a fifo the program
        // made there: ZDTM's del_standalone_un, fifo_upon_unix_socket): that file
        // is moved aside for the bind, the new socket file removed at once and
        // the file put back, as the program left the path.
        // (A datagram socket's is moved by its caller, for its connections too.)
        let aside = if bound_then_removed(s) {
            None
        } else {
            self.aside(s)?
        };
        let made = bind(fd, s.sock_type, &s.name, &s.path);
        if let Some((file, tmp)) = &aside {
            if let Ok(Some(f)) = &made {
                unlink(f);
            }
            rename(tmp, file)?;
        }
        let made = made?;
        if aside.is_some() {
            return Ok(());
        }
        if let Some(file) = made {
            let (mode, uid, gid) = s.file_owner;
            if let Ok(c) = cpath(&file) {
                // SAFETY: `c` is NUL-terminated. The owner is best effort: an
                // unprivileged restarter already is the owner it can be.
                unsafe {
                    if mode != 0 {
                        libc::chmod(c.as_ptr(), mode & 0o7777);
                    }
                    libc::lchown(c.as_ptr(), uid, gid);
                }
            }
            if s.flags & unix_flags::UNLINKED != 0 {
                self.remove.push(file);
            } else {
                self.kept.push(file);
            }
        }
        Ok(())
    }

    /// For socket `s`, bound to a path and removed since: when another file is at
    /// that path now (one of this restart's socket files, or a file that is not a
    /// socket), moves it to a name of its own in the same directory and returns
    /// (path, that name). A socket of a running program there stays where it is
    /// (the bind then says so).
    fn aside(&self, s: &SockPlan) -> Result<Option<(Vec<u8>, Vec<u8>)>, String> {
        if s.flags & unix_flags::UNLINKED == 0 || s.name.first() == Some(&0) {
            return Ok(None);
        }
        let file = fs_path(&s.name, &s.path);
        let c = cpath(&file).map_err(|e| err(crate::names::path(&file), e))?;
        // SAFETY: stat is plain data; all zeroes is valid.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is NUL-terminated; `st` is valid for writing.
        if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
            return Ok(None);
        }
        let ours = self.kept.iter().any(|k| *k == file);
        if st.st_mode & libc::S_IFMT == libc::S_IFSOCK && !ours {
            return Ok(None);
        }
        let mut tmp = file.clone();
        tmp.extend_from_slice(format!(".ckpt-aside-{}", std::process::id()).as_bytes());
        rename(&file, &tmp)?;
        Ok(Some((file, tmp)))
    }

    /// Sends datagram socket `r`'s queue into it again, each datagram from its
    /// sender (or a stand-in for a sender that is gone).
    fn fill_dgram(
        &mut self,
        r: &SockPlan,
        dead_peers: &mut HashMap<u64, (OwnedFd, Option<Vec<u8>>)>,
    ) -> Result<(), String> {
        let plan = self.plan;
        for (i, (sender, sname, data)) in r.queue.iter().enumerate() {
            let fds = self.fds_of(r, i)?;
            let creds = self.creds_of(r, i);
            let send = |fd, data: &[u8], to: Option<&[u8]>| send_fds(fd, data, to, &fds, creds);
            let rfd = self.fd(r.ino);
            let from = file_sock(plan, *sender).map(|x| (x.ino, x.peer));
            let to = if r.name.is_empty() {
                None
            } else {
                Some(target(&r.name, &r.path))
            };
            let res = match from {
                // Its pair: connected already.
                Some((ino, peer)) if peer == r.ino && r.peer == ino && ino != r.ino => {
                    send(self.fd(ino), data, None)
                }
                Some((ino, _)) if to.is_some() => send(self.fd(ino), data, to.as_deref()),
                Some(_) => Err(io::Error::from_raw_os_error(libc::EDESTADDRREQ)),
                // From its closed peer: through the stand-in, named as the
                // sender was.
                None if dead_peers.contains_key(&r.ino) => {
                    let (t, named) = dead_peers.get_mut(&r.ino).ok_or(String::new())?;
                    match named {
                        Some(n) if n != sname => {
                            Err(io::Error::from_raw_os_error(libc::EADDRINUSE))
                        }
                        Some(_) => send(t.as_raw_fd(), data, None),
                        None => {
                            if !sname.is_empty() {
                                if let Some(file) = bind(t.as_raw_fd(), r.sock_type, sname, &[])? {
                                    self.remove.push(file);
                                }
                            }
                            *named = Some(sname.clone());
                            send(t.as_raw_fd(), data, None)
                        }
                    }
                }
                // A sender that is gone: a stand-in with its name.
                None => {
                    let t =
                        socket(r.sock_type).map_err(|e| err("cannot create a unix socket", e))?;
                    let _ = setopt(t.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
                    if !sname.is_empty() {
                        if let Some(file) = bind(t.as_raw_fd(), r.sock_type, sname, &[])? {
                            self.remove.push(file);
                        }
                    }
                    let res = match &to {
                        Some(_) => send(t.as_raw_fd(), data, to.as_deref()),
                        None => Err(io::Error::from_raw_os_error(libc::EDESTADDRREQ)),
                    };
                    self.standins.push(t);
                    res
                }
            };
            let _ = rfd;
            res.map_err(|e| {
                err(
                    format!(
                        "cannot put a {}-byte datagram from {} back into unix socket {}",
                        data.len(),
                        shown(sname),
                        shown(&r.name)
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// A datagram socket something connected to is "connected" even when that
    /// something is gone: a stand-in connects to it again.
    fn dgram_connected(&self, s: &SockPlan, targets: &[u64]) -> Result<(), String> {
        if s.state != unix_state::ESTABLISHED
            || s.peer != 0
            || s.flags & unix_flags::PEER_DEAD != 0
            || targets.contains(&s.ino)
        {
            return Ok(());
        }
        if s.name.is_empty() {
            return Err(format!(
                "unix datagram socket {} was connected to by a socket that is gone, and has no name to connect to again",
                shown(&s.name)
            ));
        }
        let t = socket(s.sock_type).map_err(|e| err("cannot create a unix socket", e))?;
        connect_raw(t.as_raw_fd(), &target(&s.name, &s.path)).map_err(|e| {
            err(
                format!(
                    "cannot connect a unix datagram socket to {}",
                    shown(&s.name)
                ),
                e,
            )
        })?;
        Ok(())
    }

    /// Whether `s`'s queue carries a unix socket of the image in flight.
    fn carries_sockets(&self, s: &SockPlan) -> bool {
        s.queue_fds
            .iter()
            .flatten()
            .any(|id| self.plan.iter().any(|x| x.file == *id))
    }

    /// Sends `s`'s queue into it from `from` (its peer); one that carries unix
    /// sockets in flight once every socket is made (see `deferred`).
    fn fill_from(&mut self, s: &SockPlan, from: RawFd) -> Result<(), String> {
        if self.carries_sockets(s) {
            let at = self
                .plan
                .iter()
                .position(|x| std::ptr::eq(x, s))
                .ok_or("a unix socket outside the plan")?;
            // SAFETY: F_DUPFD_CLOEXEC on an fd this process holds open; a
            // non-negative result is a new fd we own.
            let d = cvt(unsafe { libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 0) })
                .map_err(|e| err("cannot duplicate a unix socket", e))?;
            // SAFETY: `d` was just created and is owned by nobody else.
            self.deferred.push((at, unsafe { OwnedFd::from_raw_fd(d) }));
            return Ok(());
        }
        self.send_queue(s, from)
    }

    /// Sends `s`'s queue into it from `from`.
    fn send_queue(&self, s: &SockPlan, from: RawFd) -> Result<(), String> {
        for (i, (_, _, data)) in s.queue.iter().enumerate() {
            let fds = self.fds_of(s, i)?;
            send_fds(from, data, None, &fds, self.creds_of(s, i)).map_err(|e| {
                err(
                    format!(
                        "cannot put {} queued bytes back into unix socket {}",
                        data.len(),
                        shown(&s.name)
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// A connection: `accepted` (named after its listener) and the socket that
    /// connected to that listener; either may be a closed peer (`None`: a
    /// stand-in). A listener of the image with the name is used, else a
    /// stand-in listener. Returns (accepted, connected).
    fn connect_pair(
        &mut self,
        ty: i32,
        lname: &[u8],
        lpath: &[u8],
        client: Option<&SockPlan>,
    ) -> Result<(OwnedFd, OwnedFd), String> {
        let listener = self
            .plan
            .iter()
            .find(|l| {
                l.file != 0 && l.state == unix_state::LISTEN && l.name == lname && l.sock_type == ty
            })
            .map(|l| l.ino);
        let mut temp = None;
        let lfd = match listener {
            Some(ino) => self.fd(ino),
            None => {
                let l = socket(ty).map_err(|e| err("cannot create a unix socket", e))?;
                let made = bind(l.as_raw_fd(), ty, lname, lpath)?;
                // SAFETY: listen takes no pointers.
                cvt(unsafe { libc::listen(l.as_raw_fd(), 1) })
                    .map_err(|e| err("cannot listen", e))?;
                let fd = l.as_raw_fd();
                temp = Some((l, made));
                fd
            }
        };
        let c = match client {
            Some(s) => self.new_sock(s)?,
            None => socket(ty).map_err(|e| err("cannot create a unix socket", e))?,
        };
        connect_raw(c.as_raw_fd(), &target(lname, lpath)).map_err(|e| {
            err(
                format!("cannot connect a unix socket to {}", shown(lname)),
                e,
            )
        })?;
        // SAFETY: accept4 may take null address pointers.
        let a = cvt(unsafe {
            libc::accept4(
                lfd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            )
        })
        .map_err(|e| err(format!("cannot accept on {}", shown(lname)), e))?;
        // SAFETY: `a` was just created and is owned by nobody else.
        let a = unsafe { OwnedFd::from_raw_fd(a) };
        if let Some((_, Some(file))) = temp {
            self.remove.push(file);
        }
        let _ = setopt(a.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
        Ok((a, c))
    }

    /// A connected stream or seqpacket socket `s` and its peer (`peer`; `None`:
    /// closed, a stand-in closed at the end), queues filled both ways.
    fn stream_pair(&mut self, s: &SockPlan, peer: Option<&SockPlan>) -> Result<(), String> {
        let accepted = |x: &SockPlan| !x.name.is_empty() && x.flags & unix_flags::BOUND == 0;
        let ty = s.sock_type;
        let (sfd, pfd) = if accepted(s) {
            let (a, c) = self.connect_pair(ty, &s.name, &s.path, peer)?;
            (a, c)
        } else if let Some(p) = peer.filter(|p| accepted(p)) {
            let (a, c) = self.connect_pair(ty, &p.name, &p.path, Some(s))?;
            (c, a)
        } else if peer.is_none() && !s.peer_name.is_empty() {
            // Its closed peer had been accepted from a listener named so.
            let (a, c) = self.connect_pair(ty, &s.peer_name, &[], Some(s))?;
            (c, a)
        } else {
            let (a, b) = socketpair(ty).map_err(|e| err("cannot create a socket pair", e))?;
            let _ = setopt(a.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
            let _ = setopt(b.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
            if s.flags & unix_flags::BOUND != 0 {
                self.bind_as(a.as_raw_fd(), s)?;
            }
            if let Some(p) = peer.filter(|p| p.flags & unix_flags::BOUND != 0) {
                self.bind_as(b.as_raw_fd(), p)?;
            }
            (a, b)
        };
        self.fill_from(s, pfd.as_raw_fd())?;
        if let Some(p) = peer {
            self.fill_from(p, sfd.as_raw_fd())?;
            self.made.insert(p.ino, pfd);
        } else {
            self.standins.push(pfd);
        }
        self.made.insert(s.ino, sfd);
        Ok(())
    }

    /// Every socket, connection and queue of the image.
    fn make(&mut self) -> Result<(), String> {
        let plan = self.plan;
        let files = || plan.iter().filter(|s| s.file != 0);
        let stream = |s: &SockPlan| s.sock_type != libc::SOCK_DGRAM;
        // Listeners and unconnected sockets.
        for s in files().filter(|s| s.state != unix_state::ESTABLISHED) {
            let fd = self.new_sock(s)?;
            if s.state == unix_state::LISTEN {
                // SAFETY: listen takes no pointers.
                cvt(unsafe { libc::listen(fd.as_raw_fd(), libc::SOMAXCONN) })
                    .map_err(|e| err(format!("cannot listen on {}", shown(&s.name)), e))?;
            }
            self.made.insert(s.ino, fd);
        }
        // Connected streams and seqpackets, each pair once.
        for s in files().filter(|s| stream(s) && s.state == unix_state::ESTABLISHED) {
            if self.made.contains_key(&s.ino) || s.flags & unix_flags::PEER_EMBRYO != 0 {
                continue;
            }
            let peer = if s.flags & unix_flags::PEER_DEAD != 0 {
                None
            } else {
                Some(file_sock(plan, s.peer).ok_or_else(|| {
                    format!(
                        "unix socket {} of the image is connected to a socket the image does not have",
                        shown(&s.name)
                    )
                })?)
            };
            if peer.is_some_and(|p| p.peer != s.ino) {
                return Err(format!(
                    "unix socket {} of the image and its peer are not connected to each other",
                    shown(&s.name)
                ));
            }
            self.stream_pair(s, peer)?;
        }
        // Connections not accepted yet, in their listeners' queue order.
        for l in files().filter(|s| s.state == unix_state::LISTEN) {
            for e in plan.iter().filter(|e| e.file == 0 && e.listener == l.ino) {
                let client = if e.peer != 0 {
                    let c = file_sock(plan, e.peer).ok_or_else(|| {
                        format!(
                            "a connection waiting in listener {} comes from a socket the image does not have",
                            shown(&l.name)
                        )
                    })?;
                    Some(c)
                } else {
                    None
                };
                let c = match client {
                    Some(c) => self.new_sock(c)?,
                    None => {
                        socket(l.sock_type).map_err(|e| err("cannot create a unix socket", e))?
                    }
                };
                connect_raw(c.as_raw_fd(), &target(&l.name, &l.path)).map_err(|e| {
                    err(
                        format!("cannot connect a unix socket to {}", shown(&l.name)),
                        e,
                    )
                })?;
                self.fill_from(e, c.as_raw_fd())?;
                match client {
                    Some(cs) => {
                        self.made.insert(cs.ino, c);
                    }
                    None => self.standins.push(c),
                }
            }
        }
        // Datagram sockets: pairs connected to each other, the others on their own.
        let mut dead_peers: HashMap<u64, (OwnedFd, Option<Vec<u8>>)> = HashMap::new();
        for s in files().filter(|s| !stream(s)) {
            if self.made.contains_key(&s.ino) {
                continue;
            }
            let mutual = file_sock(plan, s.peer)
                .filter(|p| p.peer == s.ino && p.ino != s.ino && !self.made.contains_key(&p.ino))
                .cloned();
            if let Some(p) = mutual.as_ref() {
                let (a, b) =
                    socketpair(s.sock_type).map_err(|e| err("cannot create a socket pair", e))?;
                for (fd, x) in [(&a, s), (&b, p)] {
                    let _ = setopt(fd.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
                    if x.flags & unix_flags::BOUND != 0 && !bound_then_removed(x) {
                        self.bind_as(fd.as_raw_fd(), x)?;
                    }
                }
                self.made.insert(s.ino, a);
                self.made.insert(p.ino, b);
            } else if s.flags & unix_flags::PEER_DEAD != 0 {
                // Its closed peer: a stand-in, which also sends what that peer
                // had sent.
                let (a, b) =
                    socketpair(s.sock_type).map_err(|e| err("cannot create a socket pair", e))?;
                let _ = setopt(a.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
                let _ = setopt(b.as_raw_fd(), libc::SO_SNDBUF, FILL_SNDBUF);
                if s.flags & unix_flags::BOUND != 0 && !bound_then_removed(s) {
                    self.bind_as(a.as_raw_fd(), s)?;
                }
                self.made.insert(s.ino, a);
                dead_peers.insert(s.ino, (b, None::<Vec<u8>>));
            } else {
                let fd = self.new_sock(s)?;
                self.made.insert(s.ino, fd);
            }
        }
        // Datagram queues, before the connections that would keep other senders out.
        for r in files().filter(|s| !stream(s) && !bound_then_removed(s)) {
            self.fill_dgram(r, &mut dead_peers)?;
        }
        // Datagram connections to named sockets.
        let mut targets: Vec<u64> = Vec::new();
        for s in files().filter(|s| !stream(s) && s.peer != 0) {
            targets.push(s.peer);
            if file_sock(plan, s.peer).is_some_and(bound_then_removed) {
                continue;
            }
            let Some(p) = file_sock(plan, s.peer) else {
                // Connected to a named socket outside the checkpointed processes
                // (taken with --external-unix): connected to that name again.
                if s.peer_name.is_empty() {
                    return Err(format!(
                        "unix datagram socket {} of the image is connected to a socket the image does not have",
                        shown(&s.name)
                    ));
                }
                connect_raw(self.fd(s.ino), &target(&s.peer_name, &[])).map_err(|e| {
                    err(
                        format!(
                            "cannot connect a unix datagram socket to {} outside the image again",
                            shown(&s.peer_name)
                        ),
                        e,
                    )
                })?;
                continue;
            };
            if p.peer == s.ino && p.ino != s.ino {
                continue;
            }
            if p.name.is_empty() {
                return Err(format!(
                    "unix datagram socket {} is connected to an unnamed socket that is not its pair: cannot be made again",
                    shown(&s.name)
                ));
            }
            connect_raw(self.fd(s.ino), &target(&p.name, &p.path)).map_err(|e| {
                err(
                    format!(
                        "cannot connect a unix datagram socket to {}",
                        shown(&p.name)
                    ),
                    e,
                )
            })?;
        }
        // Datagram sockets bound to paths removed since, one at a time: bound,
        // filled, connected to, the file removed.
        for x in files().filter(|s| bound_then_removed(s)) {
            // Another file holds the path now (a later socket of the image, a
            // fifo the program made there): moved aside for the while.
            let aside = self.aside(x)?;
            let r = (|| {
                self.bind_as(self.fd(x.ino), x)?;
                self.fill_dgram(x, &mut dead_peers)?;
                for s in files().filter(|s| !stream(s) && s.peer == x.ino) {
                    if x.peer == s.ino && x.ino != s.ino {
                        continue;
                    }
                    connect_raw(self.fd(s.ino), &target(&x.name, &x.path)).map_err(|e| {
                        err(
                            format!(
                                "cannot connect a unix datagram socket to {}",
                                shown(&x.name)
                            ),
                            e,
                        )
                    })?;
                }
                self.dgram_connected(x, &targets)
            })();
            for p in self.remove.drain(..) {
                unlink(&p);
            }
            if let Some((file, tmp)) = aside {
                rename(&tmp, &file)?;
            }
            r?;
        }
        self.standins
            .extend(dead_peers.into_values().map(|(t, _)| t));
        for s in files().filter(|s| !stream(s) && !bound_then_removed(s)) {
            self.dgram_connected(s, &targets)?;
        }
        // The queues that carry sockets in flight, now that all are made.
        for (at, from) in std::mem::take(&mut self.deferred) {
            self.send_queue(&plan[at], from.as_raw_fd())?;
        }
        // Shutdown state, options, backlogs.
        for s in files() {
            let fd = self.fd(s.ino);
            shut(fd, s.shutdown & !early_shutdown(plan, s), s)?;
            self.options(fd, s)?;
        }
        for fd in self.standins.drain(..) {
            drop(fd);
        }
        for p in self.remove.drain(..) {
            unlink(&p);
        }
        Ok(())
    }

    /// The options a program can see.
    fn options(&self, fd: RawFd, s: &SockPlan) -> Result<(), String> {
        let what = |o: &str| format!("cannot set {o} of unix socket {}", shown(&s.name));
        let flag = |bit: u32| libc::c_int::from(s.flags & bit != 0);
        setopt(fd, libc::SO_PASSCRED, flag(unix_flags::PASSCRED))
            .map_err(|e| err(what("SO_PASSCRED"), e))?;
        if s.flags & unix_flags::PASSSEC != 0 {
            setopt(fd, libc::SO_PASSSEC, 1).map_err(|e| err(what("SO_PASSSEC"), e))?;
        }
        if s.flags & unix_flags::REUSEADDR != 0 {
            setopt(fd, libc::SO_REUSEADDR, 1).map_err(|e| err(what("SO_REUSEADDR"), e))?;
        }
        if s.flags & unix_flags::PASSPIDFD != 0 {
            setopt(fd, libc::SO_PASSPIDFD, 1).map_err(|e| err(what("SO_PASSPIDFD"), e))?;
        }
        if s.flags & unix_flags::NORIGHTS != 0 {
            const SO_PASSRIGHTS: libc::c_int = 83;
            setopt(fd, SO_PASSRIGHTS, 0).map_err(|e| err(what("SO_PASSRIGHTS"), e))?;
        }
        for (opt, name, want) in [
            (libc::SO_SNDBUF, "SO_SNDBUF", s.sndbuf),
            (libc::SO_RCVBUF, "SO_RCVBUF", s.rcvbuf),
        ] {
            let want = want as libc::c_int;
            if getopt(fd, opt).ok() == Some(want) {
                continue;
            }
            let _ = setopt(fd, opt, want / 2);
            if getopt(fd, opt).ok() != Some(want) {
                let force = if opt == libc::SO_SNDBUF {
                    libc::SO_SNDBUFFORCE
                } else {
                    libc::SO_RCVBUFFORCE
                };
                setopt(fd, force, want / 2).map_err(|e| {
                    err(
                        format!("{} ({want} bytes, over net.core's maximum)", what(name)),
                        e,
                    )
                })?;
            }
        }
        if s.rcvlowat != 1 {
            setopt(fd, libc::SO_RCVLOWAT, s.rcvlowat).map_err(|e| err(what("SO_RCVLOWAT"), e))?;
        }
        if s.timeo_us.0 != 0 {
            set_timeo(fd, libc::SO_RCVTIMEO, s.timeo_us.0)
                .map_err(|e| err(what("SO_RCVTIMEO"), e))?;
        }
        if s.timeo_us.1 != 0 {
            set_timeo(fd, libc::SO_SNDTIMEO, s.timeo_us.1)
                .map_err(|e| err(what("SO_SNDTIMEO"), e))?;
        }
        if s.peek_off >= 0 {
            setopt(fd, libc::SO_PEEK_OFF, s.peek_off).map_err(|e| err(what("SO_PEEK_OFF"), e))?;
        }
        if s.state == unix_state::LISTEN {
            // SAFETY: listen takes no pointers.
            cvt(unsafe { libc::listen(fd, s.backlog as libc::c_int) })
                .map_err(|e| err(what("the backlog"), e))?;
        }
        Ok(())
    }
}

/// The effective user and group the restarter had before [`as_user`].
struct Was(libc::uid_t, libc::gid_t);

/// Takes effective user `uid` and group `gid` (those of the image's root
/// process) while the sockets are made, if the restarter is root and they
/// differ: `SO_PEERCRED` reports the credentials of a socket's maker, and
/// socket files belong to it. Real and saved ids stay, to switch back.
fn as_user(ids: Option<(u32, u32)>) -> Result<Option<Was>, String> {
    // SAFETY: geteuid and getegid take no arguments.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let Some((uid, gid)) = ids else {
        return Ok(None);
    };
    if euid != 0 || (uid == euid && gid == egid) {
        return Ok(None);
    }
    // SAFETY: setresgid and setresuid take no pointers; -1 keeps an id.
    let r = unsafe {
        if libc::setresgid(u32::MAX, gid, u32::MAX) != 0 {
            -1
        } else {
            libc::setresuid(u32::MAX, uid, u32::MAX)
        }
    };
    if r != 0 {
        let e = last();
        back(Was(euid, egid));
        return Err(err(
            format!("cannot take user {uid} and group {gid} to make the unix sockets"),
            e,
        ));
    }
    Ok(Some(Was(euid, egid)))
}

/// Switches back after [`as_user`].
fn back(w: Was) {
    // SAFETY: setresuid and setresgid take no pointers; the saved user id is
    // still root, so both succeed.
    unsafe {
        libc::setresuid(u32::MAX, w.0, u32::MAX);
        libc::setresgid(u32::MAX, w.1, u32::MAX);
    }
}

/// `MFD_EXEC`, `MFD_NOEXEC_SEAL` (`linux/memfd.h`).
const MFD_EXEC: libc::c_uint = 0x10;
const MFD_NOEXEC_SEAL: libc::c_uint = 0x08;
/// `F_SEAL_EXEC`.
const F_SEAL_EXEC: u32 = 0x20;

/// A new empty memfd for memfd `m` of the image (in flight), named as it was,
/// open for sealing and with its access mode: the module gives it its size,
/// mode, contents and seals. An image memfd sealed against executing without
/// execute bits is made so (`MFD_NOEXEC_SEAL`); another executable, where
/// `vm.memfd_noexec` lets it be.
fn new_memfd(m: &InflightMade) -> io::Result<OwnedFd> {
    let name = m.path.strip_prefix(b"/memfd:").unwrap_or(&m.path);
    let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
    let c = cpath(name)?;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let exec = if m.seals & F_SEAL_EXEC != 0 && m.mode & 0o111 == 0 {
        MFD_NOEXEC_SEAL
    } else {
        MFD_EXEC
    };
    // SAFETY: `c` is NUL-terminated; a non-negative result is a new fd we own.
    let mut fd = unsafe { libc::memfd_create(c.as_ptr(), base | exec) };
    if fd < 0 && last().raw_os_error() == Some(libc::EINVAL) {
        // A kernel without the exec flags.
        // SAFETY: As above.
        fd = unsafe { libc::memfd_create(c.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(last());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    reopen_as(unsafe { OwnedFd::from_raw_fd(fd) }, m.flags)
}

/// `fd` (open for reading and writing), or for another access mode in `flags` a
/// file of its own opened again through `/proc/self/fd`.
fn reopen_as(fd: OwnedFd, flags: u32) -> io::Result<OwnedFd> {
    let access = flags as libc::c_int & libc::O_ACCMODE;
    if access == libc::O_RDWR {
        return Ok(fd);
    }
    let p = cpath(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes())?;
    // SAFETY: `p` is NUL-terminated; a non-negative result is a new fd we own.
    let n = cvt(unsafe { libc::open(p.as_ptr(), access | libc::O_CLOEXEC) })?;
    // SAFETY: As above.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// A new empty unnamed file (`O_TMPFILE`) in the directory of deleted file `m` of
/// the image (in flight), opened with its access mode: the module gives it its
/// size, owner, mode and contents.
fn new_deleted(m: &InflightMade) -> io::Result<OwnedFd> {
    let name = m.path.strip_suffix(b" (deleted)").unwrap_or(&m.path);
    let slash = name
        .iter()
        .rposition(|&c| c == b'/')
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dir = cpath(if slash == 0 { b"/" } else { &name[..slash] })?;
    // SAFETY: `dir` is NUL-terminated; a non-negative result is a new fd we own.
    let fd = cvt(unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    })?;
    // SAFETY: `fd` was just created and is owned by nobody else.
    reopen_as(unsafe { OwnedFd::from_raw_fd(fd) }, m.flags)
}

impl Sockets {
    /// Makes the memfds and deleted files in flight in the image's sockets'
    /// queues again, empty (as the image's user: see `super::spawn`), to be sent
    /// with their buffers; the ioctl is told which file of the image each is,
    /// and the module checks and fills them.
    pub(super) fn make_inflight(&mut self, plan: &Plan) -> Result<(), String> {
        for m in &plan.inflight_made {
            let (fd, what) = if m.kind == filekind::MEMFD {
                (new_memfd(m), "memfd")
            } else {
                (new_deleted(m), "deleted file")
            };
            let fd = fd.map_err(|e| {
                err(
                    format!(
                        "cannot make {what} {} (in flight, SCM_RIGHTS) again",
                        crate::names::path(&m.path)
                    ),
                    e,
                )
            })?;
            self.args.push(CkptRestartFile {
                id: m.id,
                fd: fd.as_raw_fd(),
            });
            self.held.push(fd);
        }
        Ok(())
    }

    /// Makes every unix socket of the image (`plan`) again, as user and group
    /// `ids` (effective; the image's root process's) when the restarter may.
    /// `inflight`: the fd to send for each file in flight, by file id;
    /// `root_pid`: the image's root process's pid.
    pub(super) fn create(
        &mut self,
        plan: &[SockPlan],
        ids: Option<(u32, u32)>,
        inflight: &HashMap<u32, RawFd>,
        root_pid: i32,
    ) -> Result<(), String> {
        if plan.is_empty() {
            return Ok(());
        }
        let was = as_user(ids)?;
        let r = self.make_all(plan, inflight, root_pid);
        if let Some(w) = was {
            back(w);
        }
        r
    }

    fn make_all(
        &mut self,
        plan: &[SockPlan],
        inflight: &HashMap<u32, RawFd>,
        root_pid: i32,
    ) -> Result<(), String> {
        let mut m = Maker {
            plan,
            inflight,
            root_pid,
            made: HashMap::new(),
            standins: Vec::new(),
            remove: Vec::new(),
            rmdirs: Vec::new(),
            kept: Vec::new(),
            deferred: Vec::new(),
        };
        let r = m.make();
        m.deferred.clear();
        m.standins.clear();
        for p in m.remove.drain(..) {
            unlink(&p);
        }
        for d in m.rmdirs.drain(..).rev() {
            if let Ok(c) = cpath(&d) {
                // SAFETY: `c` is NUL-terminated.
                unsafe { libc::rmdir(c.as_ptr()) };
            }
        }
        r?;
        for s in plan.iter().filter(|s| s.file != 0) {
            let Some(fd) = m.made.remove(&s.ino) else {
                continue;
            };
            self.args.push(CkptRestartFile {
                id: s.file,
                fd: fd.as_raw_fd(),
            });
            self.held.push(fd);
        }
        Ok(())
    }
}
