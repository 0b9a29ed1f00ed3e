// SPDX-License-Identifier: GPL-2.0

//! Unix sockets (stream, datagram, seqpacket): their state, names, peers and
//! receive queues, read at checkpoint without consuming anything; at restart the
//! restarter (`ckpt restart`) makes them again -- socketpair, bind, listen, connect,
//! accept, the queued data sent again in order, shutdown and options, in the
//! image's processes' name -- and passes them in; this side checks that what was
//! passed is what the image had and installs it.
//!
//! Files in flight (`SCM_RIGHTS`) are saved as files of the image ([`inflight`]:
//! pipes, event-loop files, regular files, memfds, deleted files, unix sockets),
//! named after the buffer that carries them ([`image::UnixFds`]); the restarter
//! sends them again with the buffer. A memfd or deleted file in flight is made
//! again (empty) by the restarter and passed; this side checks it and fills it
//! as its own ([`in_flight_memfd`], [`in_flight_ghost`]).
//!
//! Refused at checkpoint (with the reason): a peer outside the checkpointed tree,
//! files in flight of other kinds (see [`restorable_in_flight`]), a unix socket
//! in flight that listens ([`in_flight_sock`]),
//! a pending out-of-band byte, a pending error,
//! another network namespace, a socket of another family.

use super::files::{fmt_what::What, path_str};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, unix_flags, unix_state, UnixSkb, UnixSock};
use crate::restart::{refuse, Given, Plan};
use crate::shim::{fk, FileRef, TaskRef};
use crate::shim_unix::{self, uf, UnixInfo};
use crate::stream::ImageWriter;
use crate::uapi;
use core::fmt;
use kernel::{prelude::*, rbtree::RBTree};

/// Largest buffer of a queue saved (a record holds it whole).
const MAX_SKB: usize = image::MAX_RECORD_LEN as usize - 1024;

/// A socket's address for messages: a path, `@name` for an abstract name.
struct Name<'a>(&'a [u8]);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => write!(f, "(unnamed)"),
            // An abstract name may hold any byte, NULs included: those and other
            // unprintable bytes are escaped (a NUL would end the reason the
            // tool prints).
            [0, rest @ ..] => {
                f.write_str("@")?;
                for &c in rest {
                    if c.is_ascii_graphic() || c == b' ' {
                        write!(f, "{}", c as char)?;
                    } else {
                        write!(f, "\\x{c:02x}")?;
                    }
                }
                Ok(())
            }
            // A path name ends with the NUL the kernel keeps.
            p => write!(f, "{}", path_str(p.split(|&c| c == 0).next().unwrap_or(p))),
        }
    }
}

fn type_name(t: u32) -> &'static str {
    image::unix_type::name(t as u8)
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// Refuses what a socket (and, for a listener, each connection waiting to be
/// accepted) holds that cannot come back.
fn settled(ui: &UnixInfo, what: What, waiting: bool, why: &mut Reason) -> Result {
    let t = type_name(ui.sock_type);
    let n = Name(ui.name());
    let whose = if waiting {
        "a connection waiting to be accepted by"
    } else {
        "the"
    };
    if ui.flags & uf::FOREIGN_NET != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: unix {t} socket {n} belongs to another network namespace: not supported"
            ),
        ));
    }
    if ui.flags & uf::OOB != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("{what}: {whose} unix {t} socket {n} has an out-of-band byte pending (MSG_OOB): not supported"),
        ));
    }
    if ui.err != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: {whose} unix {t} socket {n} has a pending error (errno {}): not supported",
                ui.err
            ),
        ));
    }
    if !matches!(
        ui.sock_type as u8,
        image::unix_type::STREAM | image::unix_type::DGRAM | image::unix_type::SEQPACKET
    ) || !matches!(
        ui.state as u8,
        unix_state::ESTABLISHED | unix_state::CLOSE | unix_state::LISTEN
    ) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: unix socket of type {} in state {}: not supported",
                ui.sock_type, ui.state
            ),
        ));
    }
    Ok(())
}

/// Refuses a socket that is not a unix socket, or holds what cannot be restored.
pub(crate) fn precheck(f: &FileRef, path: &[u8], what: What, why: &mut Reason) -> Result {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let ui = match shim_unix::info(f, -1, &mut pb) {
        Ok(ui) => ui,
        Err(e) if e.to_errno() == -(kernel::bindings::ENOTSOCK as i32) => {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: socket {} is not a unix socket: not supported yet",
                    path_str(path)
                ),
            ))
        }
        Err(e) => return Err(e),
    };
    settled(&ui, what, false, why)?;
    if ui.state as u8 == unix_state::LISTEN {
        for i in 0..ui.qlen as i32 {
            match shim_unix::info(f, i, &mut pb) {
                Ok(e) => {
                    settled(&e, what, true, why)?;
                    if e.nfds != 0 {
                        inflight(f, i, &e, what, why)?;
                    }
                }
                Err(e) if e == ENOENT => break,
                Err(e) => return Err(e),
            }
        }
    }
    if ui.nfds != 0 {
        inflight(f, -1, &ui, what, why)?;
    }
    // The files in flight in the unix sockets it carries, and so on.
    let mut seen = KVec::new();
    seen.push(f.key(), GFP_KERNEL)?;
    let mut todo = all_inflight(f)?;
    while let Some(x) = todo.pop() {
        let Ok(xi) = shim_unix::info(&x, -1, &mut pb) else {
            continue;
        };
        if seen.contains(&x.key()) {
            continue;
        }
        seen.push(x.key(), GFP_KERNEL)?;
        if xi.nfds != 0 {
            for y in inflight(&x, -1, &xi, what, why)? {
                todo.push(y, GFP_KERNEL)?;
            }
        }
    }
    Ok(())
}

/// Adds to `out` every file in flight in socket `f`'s queues (see
/// [`all_inflight`]) and, once each (`seen`: the keys of the sockets whose
/// queues were walked), in the queues of the unix sockets among them, and so on:
/// each reference held in flight once.
pub(crate) fn walk_inflight(f: &FileRef, seen: &mut KVec<u64>, out: &mut KVec<FileRef>) -> Result {
    if seen.contains(&f.key()) {
        return Ok(());
    }
    seen.push(f.key(), GFP_KERNEL)?;
    let mut todo = all_inflight(f)?;
    while let Some(x) = todo.pop() {
        let socket = shim_unix::is_unix(&x);
        if socket && !seen.contains(&x.key()) {
            seen.push(x.key(), GFP_KERNEL)?;
            for y in all_inflight(&x)? {
                todo.push(y, GFP_KERNEL)?;
            }
        }
        out.push(x, GFP_KERNEL)?;
    }
    Ok(())
}

/// Every file in flight in socket `f`'s queue and, for a listener, in the
/// queues of its connections not accepted yet (for the tree's count of each
/// file's references, and the checks of event files).
pub(crate) fn all_inflight(f: &FileRef) -> Result<KVec<FileRef>> {
    let mut out = shim_unix::inflight(f, -1).unwrap_or(KVec::new());
    // ENOENT past the last connection waiting (at once for a socket that is
    // not a listener).
    let mut i = 0;
    while let Ok(v) = shim_unix::inflight(f, i) {
        for x in v {
            out.push(x, GFP_KERNEL)?;
        }
        i += 1;
    }
    Ok(out)
}

/// Whether a file of image kind `kind` can be given back in flight: the
/// restarter makes it (a pipe, an event-loop file, a unix socket; an empty memfd
/// or deleted file, which the module fills) or opens it by its path (a regular
/// file) and sends it again with its buffer.
pub(crate) fn restorable_in_flight(kind: u8) -> bool {
    use image::filekind::{GHOST, MEMFD, PIPE, REG, UNIX};
    matches!(kind, PIPE | REG | MEMFD | GHOST | UNIX) || image::filekind::is_event(kind)
}

/// Refuses a unix socket in flight (state `ui`, in the queue of socket `carrier`)
/// that a restart cannot send again as it is: a listener (its connections
/// waiting would need a socket of their own in flight). One that itself
/// carries files in flight (sockets sent within sockets, possibly in a loop, as
/// ZDTM's `scm06` does) is taken: its records come first, its queue once the
/// files it carries are in the image (see `files::define_file`).
pub(crate) fn in_flight_sock(
    ui: &UnixInfo,
    carrier: &[u8],
    what: What,
    why: &mut Reason,
) -> Result {
    settled(ui, What::InFlight, false, why)?;
    let t = type_name(ui.sock_type);
    if ui.state as u8 != unix_state::LISTEN {
        return Ok(());
    }
    let no = "is a listening socket";
    Err(why.set(
        eopnotsupp(),
        format_args!(
            "{what}: unix socket {} has a unix {t} socket {} in flight (SCM_RIGHTS) that {no}: not supported",
            Name(carrier),
            Name(ui.name()),
        ),
    ))
}

/// The files in flight (`SCM_RIGHTS`) in the receive queue of socket `f` (or of
/// its `embryo`-th connection not accepted yet; state `ui`), in queue order;
/// refuses those the image cannot give back in flight:
/// pipes, event-loop files (eventfd, timerfd, signalfd, epoll, inotify, fanotify) and
/// regular files, memfds, deleted files and unix sockets can be (see
/// [`restorable_in_flight`], [`in_flight_sock`]); the others not yet.
pub(crate) fn inflight(
    f: &FileRef,
    embryo: i32,
    ui: &UnixInfo,
    what: What,
    why: &mut Reason,
) -> Result<KVec<FileRef>> {
    let files = shim_unix::inflight(f, embryo).map_err(|e| {
        if e == E2BIG {
            why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: unix socket {} has more than {} files in flight (SCM_RIGHTS): not supported",
                    Name(ui.name()),
                    shim_unix::MAX_INFLIGHT
                ),
            )
        } else {
            e
        }
    })?;
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    for x in files.iter() {
        let (fi, n) = x.info(&mut pb)?;
        let kind = super::files::file_kind(&fi, &pb[..n], What::InFlight, why)?;
        if !restorable_in_flight(kind) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: unix socket {} has a file in flight (SCM_RIGHTS) that a restart cannot send again yet ({}, {}): only pipes, event-loop files, regular files, memfds, deleted files and unix sockets",
                    Name(ui.name()),
                    image::filekind::name(kind),
                    path_str(&pb[..n])
                ),
            ));
        }
        if kind == image::filekind::UNIX {
            let mut xb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
            let xi = shim_unix::info(x, -1, &mut xb)?;
            in_flight_sock(&xi, ui.name(), what, why)?;
        }
    }
    Ok(files)
}

/// The record of a socket (or waiting connection: `listener` its listener's inode).
fn sock_rec<'a>(ui: &'a UnixInfo, file: u32, listener: u64, path: &'a [u8]) -> UnixSock<'a> {
    UnixSock {
        file,
        ino: ui.ino,
        peer: if ui.flags & (unix_flags::PEER_DEAD | unix_flags::PEER_EMBRYO) != 0 {
            0
        } else {
            ui.peer_ino
        },
        listener,
        sock_type: ui.sock_type as u8,
        state: ui.state as u8,
        shutdown: ui.shutdown as u8 & image::UNIX_SHUTDOWN_MASK,
        flags: ui.flags & unix_flags::ALL,
        backlog: ui.backlog,
        sndbuf: ui.sndbuf.max(0) as u32,
        rcvbuf: ui.rcvbuf.max(0) as u32,
        peek_off: ui.peek_off.max(-1),
        rcvlowat: ui.rcvlowat,
        rcvtimeo_us: ui.rcvtimeo_us.max(0),
        sndtimeo_us: ui.sndtimeo_us.max(0),
        file_mode: ui.file_mode,
        file_uid: ui.file_uid,
        file_gid: ui.file_gid,
        name: ui.name(),
        peer_name: ui.peer_name(),
        path: if ui.name().first().is_some_and(|&c| c != 0) {
            path
        } else {
            &[]
        },
    }
}

/// Writes the receive queue of socket `f` (or its `embryo`-th waiting connection),
/// whose state is `ui`, as [`UnixSkb`] records owned by `owner`.
///
/// A buffer's credentials (`SCM_CREDENTIALS`) follow it ([`image::UnixCreds`]):
/// a restart sends them again only as the image's root process (`root`), which
/// the restarter is when it fills the queues (no other process of the image
/// exists yet, and the kernel takes only a live pid). Other credentials are
/// refused where the program reads them (`passcred`: the receiver, or for a
/// connection not accepted yet its listener, has `SO_PASSCRED` or
/// `SO_PASSPIDFD`); elsewhere the buffer comes back without them.
fn write_queue(
    w: &mut ImageWriter<'_>,
    f: &FileRef,
    embryo: i32,
    ui: &UnixInfo,
    owner: u64,
    mut fds: &[u32],
    (root, passcred): (i32, bool),
    what: What,
    why: &mut Reason,
) -> Result {
    if ui.qlen == 0 || ui.state as u8 == unix_state::LISTEN {
        return Ok(());
    }
    let size = ui.qbytes as usize + ui.qlen as usize * (shim_unix::SKB_HDR + 8);
    let mut buf = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    let n = shim_unix::queue(f, embryo, &mut buf).map_err(|e| {
        why.set(
            e,
            format_args!(
                "{what}: the queue of unix socket {} changed while saving",
                Name(ui.name())
            ),
        )
    })?;
    for s in shim_unix::skbs(&buf[..n]) {
        if s.oob || s.nfds as usize > fds.len() || s.nfds as usize > image::UNIX_MAX_FDS {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: unix socket {} has out-of-band data, or its files in flight changed: not supported",
                    Name(ui.name())
                ),
            ));
        }
        if s.data.len() > MAX_SKB {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: unix socket {} holds a message of {} bytes: too large",
                    Name(ui.name()),
                    s.data.len()
                ),
            ));
        }
        w.record(&UnixSkb {
            owner,
            sender: s.sender,
            sender_name: s.sender_name,
            data: s.data,
        })?;
        match s.creds {
            Some((pid, uid, gid)) if pid == root && pid > 0 => {
                w.record(&image::UnixCreds { pid, uid, gid })?
            }
            Some((pid, _, _)) if passcred => {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "{what}: unix socket {} (SO_PASSCRED) has a message queued with the credentials (SCM_CREDENTIALS) of {}, which a restart cannot give it (only the root process's, {root}): not supported",
                        Name(ui.name()),
                        Sender(pid)
                    ),
                ));
            }
            _ => {}
        }
        if s.nfds != 0 {
            let (mine, rest) = fds.split_at(s.nfds as usize);
            let mut ids = KVec::with_capacity(mine.len() * 4, GFP_KERNEL)?;
            for id in mine {
                ids.extend_from_slice(&id.to_le_bytes(), GFP_KERNEL)?;
            }
            w.record(&image::UnixFds { files: &ids })?;
            fds = rest;
        }
    }
    if !fds.is_empty() {
        return Err(why.set(
            EAGAIN,
            format_args!(
                "{what}: the files in flight of unix socket {} changed while saving",
                Name(ui.name())
            ),
        ));
    }
    Ok(())
}

/// Writes the peer credentials of socket `f` (or its `embryo`-th waiting
/// connection, state `ui`), if it has any, just after its record
/// ([`image::UnixPeer`]): who made the connection, as `SO_PEERCRED` and
/// `SO_PEERGROUPS` report it.
fn write_peer(
    w: &mut ImageWriter<'_>,
    f: &FileRef,
    embryo: i32,
    ui: &UnixInfo,
    what: What,
    why: &mut Reason,
) -> Result {
    let mut groups = KVec::new();
    let peer = shim_unix::peercred(f, embryo, &mut groups, image::MAX_STR_GROUPS).map_err(|e| {
        why.set(
            e,
            format_args!(
                "{what}: cannot read the peer credentials of unix socket {} (more than {} groups?)",
                Name(ui.name()),
                image::MAX_STR_GROUPS
            ),
        )
    })?;
    let Some((pid, uid, gid)) = peer else {
        return Ok(());
    };
    let g = super::creds::groups_bytes(&groups)?;
    w.record(&image::UnixPeer {
        pid: pid.max(0),
        uid,
        gid,
        groups: &g,
    })
}

/// Writes the socket of file `f` (file record `id`): its state, its queue, and for
/// a listener each connection waiting to be accepted with its queue.
/// `fds`: the ids of its files in flight, in queue order (see [`inflight`]),
/// `embryo_fds` those of each connection not accepted yet (`None`: only its
/// state, the queue comes later, [`define_queue`]: a socket in flight);
/// `root`: the checkpointed root process's pid (see [`write_queue`]).
pub(crate) fn define(
    w: &mut ImageWriter<'_>,
    f: &FileRef,
    id: u32,
    fds: &[u32],
    embryo_fds: Option<&[KVec<u32>]>,
    root: i32,
    what: What,
    why: &mut Reason,
) -> Result {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let ui = shim_unix::info(f, -1, &mut pb)?;
    settled(&ui, what, false, why)?;
    let pl = pb.iter().position(|&c| c == 0).unwrap_or(0);
    w.record(&sock_rec(&ui, id, 0, &pb[..pl]))?;
    write_peer(w, f, -1, &ui, what, why)?;
    let Some(embryo_fds) = embryo_fds else {
        return Ok(());
    };
    let passcred = ui.flags & (unix_flags::PASSCRED | unix_flags::PASSPIDFD) != 0;
    write_queue(w, f, -1, &ui, ui.ino, fds, (root, passcred), what, why)?;
    if ui.state as u8 == unix_state::LISTEN {
        let mut eb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        for i in 0..ui.qlen as i32 {
            let e = match shim_unix::info(f, i, &mut eb) {
                Ok(e) => e,
                Err(e) if e == ENOENT => break,
                Err(e) => return Err(e),
            };
            settled(&e, what, true, why)?;
            w.record(&sock_rec(&e, 0, ui.ino, &[]))?;
            write_peer(w, f, i, &e, what, why)?;
            // Accepted, it takes its listener's options.
            let fds = embryo_fds.get(i as usize).map_or(&[][..], |v| &v[..]);
            write_queue(w, f, i, &e, 0, fds, (root, passcred), what, why)?;
        }
    }
    Ok(())
}

/// Writes the queue of socket `f` in flight (state `ui`), whose record
/// [`define`] wrote before the files it carries (`fds`, in queue order).
pub(crate) fn define_queue(
    w: &mut ImageWriter<'_>,
    f: &FileRef,
    ui: &UnixInfo,
    fds: &[u32],
    root: i32,
    why: &mut Reason,
) -> Result {
    let what = What::InFlight;
    settled(ui, what, false, why)?;
    let passcred = ui.flags & (unix_flags::PASSCRED | unix_flags::PASSPIDFD) != 0;
    write_queue(w, f, -1, ui, ui.ino, fds, (root, passcred), what, why)
}

/// Refuses socket `f` (`fd` of process `pid`, state `ui`) if a program would read
/// credentials (`SCM_CREDENTIALS`) of a queued buffer that a restart cannot give
/// back: another process's than the root's (`root`; see [`write_queue`]), in its
/// queue or, for a listener, in a connection not accepted yet.
fn foreign_creds(
    f: &FileRef,
    ui: &UnixInfo,
    root: i32,
    pid: i32,
    fd: u32,
    why: &mut Reason,
) -> Result {
    if ui.flags & (unix_flags::PASSCRED | unix_flags::PASSPIDFD) == 0 {
        return Ok(());
    }
    let n = if ui.state as u8 == unix_state::LISTEN {
        ui.qlen as i32
    } else {
        0
    };
    for embryo in -1..n {
        let other = match shim_unix::foreign_creds(f, embryo, root) {
            Ok(o) => o,
            Err(e) if e == ENOENT => break,
            Err(e) => return Err(e),
        };
        if let Some(other) = other {
            let whose = Sender(other);
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "fd {fd} of process {pid}: unix socket {} (SO_PASSCRED) has a message queued{} with the credentials (SCM_CREDENTIALS) of {whose}, which a restart cannot give it (only the root process's, {root}): not supported",
                    Name(ui.name()),
                    if embryo < 0 { "" } else { " in a connection not accepted yet" },
                ),
            ));
        }
    }
    Ok(())
}

/// The sender of a buffer, by its pid (not positive: not visible), for messages.
struct Sender(i32);

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            write!(f, "process {}", self.0)
        } else {
            write!(f, "a process of another pid namespace")
        }
    }
}

/// A unix socket found in the tree, for [`outside`].
struct Found {
    ino: u64,
    pid: i32,
    fd: u32,
    ui: UnixInfo,
}

/// Whether datagram socket `ui`, connected to a socket outside the checkpointed
/// processes, comes back as it is by connecting to its peer's name again: the
/// peer has an absolute path or an abstract name, and nothing from it waits in
/// `ui`'s queue (the restarter could not send it in the peer's name).
fn reconnectable(ui: &UnixInfo) -> Result<(), &'static str> {
    if ui.sock_type as u8 != image::unix_type::DGRAM {
        return Err("a stream connection cannot be made again with its peer's state");
    }
    match ui.peer_name() {
        [0, _, ..] | [b'/', ..] => {}
        [] => return Err("its peer has no name to connect to again"),
        _ => return Err("its peer's name is a relative path"),
    }
    if ui.qlen != 0 {
        return Err("messages wait in its queue");
    }
    Ok(())
}

/// Refuses unix sockets connected to sockets outside the processes `procs` (a
/// tree, or one process): a peer, a listener that has not accepted a connection
/// of the tree yet, or a connection from outside waiting in a listener of the
/// tree. The image could not give both ends back. With `ext`
/// ([`crate::uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX`]) a datagram socket connected to
/// a named socket outside is taken: a restart connects it to that name again.
pub(crate) fn outside(procs: &[&TaskRef], ext: bool, why: &mut Reason) -> Result {
    // Each socket once (by inode; the first fd seen holding it names it), however
    // many fds and processes share it.
    let mut found: KVVec<Found> = KVVec::new();
    let mut by_ino: RBTree<u64, usize> = RBTree::new();
    // The open files looked at already (shared by fds of the tree).
    let mut files = super::files::Seen::new();
    // Clients whose connection waits in a listener of the tree.
    let mut waiting: KVec<(u64, usize)> = KVec::new();
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let root = procs.first().map_or(0, |t| t.info().tgid);
    let mut walked = KVec::new();
    for t in procs {
        let mut fd = 0u32;
        let pid = t.info().tgid;
        while let Some(f) = t.next_file(&mut fd) {
            if files.has(&f) {
                fd += 1;
                continue;
            }
            files.note(&f)?;
            let (fi, _) = f.info(&mut path)?;
            if fi.kind == fk::SOCKET {
                if let Ok(ui) = shim_unix::info(&f, -1, &mut path) {
                    foreign_creds(&f, &ui, root, pid, fd, why)?;
                    let (ino, listen, qlen) =
                        (ui.ino, ui.state as u8 == unix_state::LISTEN, ui.qlen);
                    let at = match by_ino.get(&ino) {
                        Some(&i) => i,
                        None => {
                            by_ino.try_create_and_insert(ino, found.len(), GFP_KERNEL)?;
                            found.push(Found { ino, pid, fd, ui }, GFP_KERNEL)?;
                            found.len() - 1
                        }
                    };
                    if listen {
                        for i in 0..qlen as i32 {
                            let Ok(e) = shim_unix::info(&f, i, &mut path) else {
                                break;
                            };
                            if e.peer_ino != 0 {
                                waiting.push((e.peer_ino, at), GFP_KERNEL)?;
                            }
                        }
                    }
                    // The unix sockets in flight in its queue (and in theirs) are
                    // the tree's too (their peers must be; a peer of the tree's is
                    // not outside).
                    let mut carried = KVec::new();
                    walk_inflight(&f, &mut walked, &mut carried)?;
                    for x in carried.iter() {
                        let Ok(xi) = shim_unix::info(x, -1, &mut path) else {
                            continue;
                        };
                        if by_ino.get(&xi.ino).is_none() {
                            by_ino.try_create_and_insert(xi.ino, found.len(), GFP_KERNEL)?;
                            found.push(
                                Found {
                                    ino: xi.ino,
                                    pid,
                                    fd,
                                    ui: xi,
                                },
                                GFP_KERNEL,
                            )?;
                        }
                    }
                }
            }
            fd += 1;
        }
    }
    for s in found.iter() {
        let (pid, fd, t) = (s.pid, s.fd, type_name(s.ui.sock_type));
        let peer = Name(s.ui.peer_name());
        let dead = s.ui.flags & unix_flags::PEER_DEAD != 0;
        if s.ui.peer_ino != 0 && !dead && by_ino.get(&s.ui.peer_ino).is_none() {
            let (a, hint, b) = match reconnectable(&s.ui) {
                Ok(()) if ext => continue,
                Ok(()) => (" (", "--external-unix reconnects it at restart", ")"),
                Err(no) if ext => (" (", no, ")"),
                Err(_) => ("", "", ""),
            };
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "fd {fd} of process {pid}: unix {t} socket {} is connected to {peer} (socket inode {}), which is outside the checkpointed processes: not supported{a}{hint}{b}",
                    Name(s.ui.name()),
                    s.ui.peer_ino,
                ),
            ));
        }
        if s.ui.flags & unix_flags::PEER_EMBRYO != 0 && !waiting.iter().any(|w| w.0 == s.ino) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "fd {fd} of process {pid}: unix {t} socket is connected to {peer}, a listening socket outside the checkpointed processes that has not accepted the connection yet: not supported"
                ),
            ));
        }
    }
    for (client, l) in waiting.iter() {
        if by_ino.get(client).is_none() {
            let l = &found[*l];
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "fd {} of process {}: listening unix socket {} has a connection from a socket outside the checkpointed processes (inode {client}) waiting to be accepted: not supported",
                    l.fd,
                    l.pid,
                    Name(l.ui.name())
                ),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// Takes the socket the restarter made for unix socket file `f` and checks it
/// against the image: type, state, name, shutdown, the amount queued and its peer.
pub(crate) fn open(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    given: &Given<'_>,
    why: &mut Reason,
) -> Result<FileRef> {
    let Some(rec) = p.unix.iter().find(|u| u.file == f.id) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("unix socket file {} has no socket record", f.id),
        ));
    };
    let file = given.file(f.id, why)?;
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let ui = shim_unix::info(&file, -1, &mut pb).map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "the file passed for unix socket {} is not a unix socket",
                Name(rec.name)
            ),
        )
    })?;
    let (qlen, qbytes) = p
        .unix_skbs
        .iter()
        .filter(|q| q.owner == rec.ino)
        .fold((0u32, 0u64), |(n, b), q| (n + 1, b + q.data.len() as u64));
    let nfds: u32 = p
        .unix_fds
        .iter()
        .filter(|q| q.0 == rec.ino)
        .map(|q| q.1)
        .sum();
    let stream = rec.sock_type != image::unix_type::DGRAM;
    let bad = if ui.sock_type as u8 != rec.sock_type {
        Some("type")
    } else if ui.state as u8 != rec.state {
        Some("state")
    } else if ui.name() != rec.name {
        Some("name")
    } else if ui.shutdown as u8 & image::UNIX_SHUTDOWN_MASK != rec.shutdown {
        Some("shutdown state")
    } else if (ui.flags ^ rec.flags) & (unix_flags::BOUND | unix_flags::PEER_DEAD) != 0 {
        Some("binding or peer")
    } else if rec.state != unix_state::LISTEN
        && (u64::from(ui.qbytes) != qbytes || (!stream && ui.qlen != qlen))
    {
        Some("queued data")
    } else if rec.state != unix_state::LISTEN && ui.nfds != nfds {
        Some("files in flight")
    } else {
        None
    };
    if let Some(what) = bad {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the socket passed for unix {} socket {} differs from the image's in its {what}",
                image::unix_type::name(rec.sock_type),
                Name(rec.name)
            ),
        ));
    }
    // Both ends in the image: the peer passed for the peer's file.
    if rec.peer != 0 {
        if let Some(peer) = p.unix.iter().find(|u| u.ino == rec.peer && u.file != 0) {
            let pf = given.file(peer.file, why)?;
            let pi = shim_unix::info(&pf, -1, &mut pb)?;
            if pi.ino != ui.peer_ino {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!(
                        "the unix socket passed for {} is not connected to the one passed for its peer",
                        Name(rec.name)
                    ),
                ));
            }
        } else if !p.unix.iter().any(|u| u.ino == rec.peer)
            && (ui.peer_ino == 0 || ui.peer_name() != rec.peer_name)
        {
            // A datagram socket connected outside the image: connected again to
            // the same name.
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the unix socket passed for {} is not connected to {}, its peer outside the image",
                    Name(rec.name),
                    Name(rec.peer_name)
                ),
            ));
        }
    }
    // Who made each connection (SO_PEERCRED), the socket's and, for a listener,
    // those of the connections waiting to be accepted.
    for (embryo, k) in socket_and_waiting(p, f.id) {
        give_peer(p, given, &file, embryo, k, rec, why)?;
    }
    file.set_flags(f.flags);
    Ok(file)
}

/// The pids of the processes of the image that made the connections of unix
/// socket file `f` ([`image::UnixPeer`]): those [`open`] names as peers, which
/// must be restored (with their pids) before it does.
pub(crate) fn peer_pids<'a>(
    p: &'a Plan<'_>,
    f: &image::FileRec<'_>,
) -> impl Iterator<Item = i32> + 'a {
    socket_and_waiting(p, f.id)
        .filter_map(|(_, k)| p.unix_peers.iter().find(|(i, _)| *i == k))
        .map(|(_, c)| c.pid)
        .filter(move |&pid| {
            pid > 0 && pid != p.task.tgid && p.procs.contains(&pid) && !p.zombies.contains(&pid)
        })
}

/// The image's unix socket of file `id` and, for a listener, the connections
/// waiting in it, in queue order: (-1 for the socket, else the connection's
/// place in the queue; its index in `p.unix`).
fn socket_and_waiting<'a>(p: &'a Plan<'_>, id: u32) -> impl Iterator<Item = (i32, usize)> + 'a {
    let me = p.unix.iter().position(|u| u.file == id);
    let ino = me.map_or(0, |k| p.unix[k].ino);
    let waiting = p
        .unix
        .iter()
        .enumerate()
        .filter(move |(_, u)| ino != 0 && u.file == 0 && u.listener == ino)
        .enumerate()
        .map(|(i, (j, _))| (i as i32, j));
    Iterator::chain(me.map(|k| (-1, k)).into_iter(), waiting)
}

/// Gives socket `file` (or its `embryo`-th waiting connection), which the
/// restarter made, the peer credentials of the image's socket `p.unix[k]`, if
/// the image has them: the pid of the process that made the connection (one of
/// the image, which [`peer_pids`] waited for, or the caller itself; none for a
/// zombie of it; for another,
/// gone or outside the image, the pid the restarter made again and let go,
/// passed as [`uapi::CKPT_RESTART_FILE_PEER`]; none if it could not, the pid
/// being in use) and its ids, if the caller may name them
/// ([`crate::access::may_name_peer`]).
fn give_peer(
    p: &Plan<'_>,
    given: &Given<'_>,
    file: &FileRef,
    embryo: i32,
    k: usize,
    rec: &UnixSock<'_>,
    why: &mut Reason,
) -> Result {
    let Some((_, c)) = p.unix_peers.iter().find(|(i, _)| *i == k) else {
        return Ok(());
    };
    let groups = super::creds::groups_of(c.groups)?;
    crate::access::may_name_peer(c.uid, c.gid, &groups).map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "unix socket {}: its connection was made by user {} group {}, which the caller may not name as a peer",
                Name(rec.name),
                c.uid,
                c.gid
            ),
        )
    })?;
    let pid = if c.pid <= 0 {
        None
    } else if c.pid == p.task.tgid {
        // The process itself (restarted with its pid, or with another one when
        // that was taken: the pid it has now).
        shim_unix::PidRef::find(crate::shim::TaskRef::current().info().tgid)
    } else if p.zombies.contains(&c.pid) {
        // A zombie of the image, which `ckpt restart` makes outside the restart:
        // not looked up by its number (which may name another process now).
        None
    } else if p.procs.contains(&c.pid) {
        // Restored by this restart with that pid: [`peer_pids`] waited for it.
        shim_unix::PidRef::find(c.pid)
    } else {
        given
            .files
            .iter()
            .filter(|g| g.id == uapi::CKPT_RESTART_FILE_PEER)
            .filter_map(|g| FileRef::fd(g.fd).ok())
            .find_map(|g| shim_unix::PidRef::gone_of(&g, c.pid))
    };
    let cred = crate::sys::cred::peer(c.uid, c.gid, &groups).map_err(|e| {
        refuse(
            why,
            e,
            format_args!("unix socket {}: bad peer ids", Name(rec.name)),
        )
    })?;
    shim_unix::set_peercred(file, embryo, pid.as_ref(), &cred)
}

/// `TMPFS_MAGIC`: a memfd's filesystem.
const TMPFS_MAGIC: u32 = 0x0102_1994;
/// `F_SEAL_SEAL`.
const SEAL_SEAL: u32 = 0x01;

/// Refuses the file `g` the restarter made and passed for file `f` of the image,
/// in flight, unless it is a fresh one of that kind: a regular file (on a tmpfs
/// named as the image's, for a memfd), empty, opened with the image's access
/// mode.
fn fresh_in_flight(
    f: &image::FileRec<'_>,
    g: &FileRef,
    memfd: bool,
    why: &mut Reason,
) -> Result<crate::shim::FileInfo> {
    let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (gi, n) = g.info(&mut pb)?;
    let path = &pb[..n];
    let access = f.flags & super::O_ACCMODE;
    let named = if memfd {
        gi.fs_magic == TMPFS_MAGIC && path == f.path && gi.seals & !f.rdev == 0
    } else {
        // An `O_TMPFILE` file of the deleted file's directory ("DIR/#INO (deleted)").
        let dir = f
            .path
            .iter()
            .rposition(|&c| c == b'/')
            .map_or(&[][..], |i| &f.path[..=i]);
        gi.unlinked != 0 && gi.nlink == 0 && !dir.is_empty() && path.starts_with(dir)
    };
    if gi.kind != crate::shim::fk::REG
        || !named
        || gi.size != 0
        || gi.flags & (super::O_ACCMODE | image::O_PATH) != access
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for {} (file {}, in flight) is not a new {} opened as the image's",
                path_str(f.path),
                f.id,
                if memfd { "memfd" } else { "deleted file" }
            ),
        ));
    }
    Ok(gi)
}

/// Takes the memfd `g` the restarter made (empty, with the image's name) and sent
/// in flight for memfd file `f` of the image: sized, given its mode, flags and
/// offset here; filled and sealed with the memfds this process makes (the caller
/// counts it as made), through `writer` (a writable file of it) if it is not
/// open for writing.
pub(crate) fn in_flight_memfd(
    f: &image::FileRec<'_>,
    g: FileRef,
    writer: &mut Option<FileRef>,
    why: &mut Reason,
) -> Result<FileRef> {
    let gi = fresh_in_flight(f, &g, true, why)?;
    if gi.seals & SEAL_SEAL != 0 {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("the memfd passed for {} is sealed", path_str(f.path)),
        ));
    }
    let cant = |why: &mut Reason, e: Error| {
        refuse(
            why,
            e,
            format_args!("cannot make memfd {} (in flight) again", path_str(f.path)),
        )
    };
    g.truncate(f.size).map_err(|e| cant(why, e))?;
    g.chmod(f.mode).map_err(|e| cant(why, e))?;
    if f.flags & super::O_ACCMODE != super::O_RDWR {
        *writer = Some(g.reopen(super::O_RDWR, false).map_err(|e| cant(why, e))?);
    }
    g.set_flags(f.flags);
    g.seek(f.pos).map_err(|e| cant(why, e))?;
    Ok(g)
}

/// Takes the deleted file `g` the restarter made (an empty `O_TMPFILE` file in the
/// directory of deleted file `f` of the image, opened with its access mode) and
/// sent in flight: given its size, owner ([`image::FileOwner`]), mode, flags and
/// offset here, as a deleted file made again by the module is; `writer` gets a
/// writable file of it, through which it is filled.
pub(crate) fn in_flight_ghost(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    g: FileRef,
    writer: &mut Option<FileRef>,
    why: &mut Reason,
) -> Result<FileRef> {
    fresh_in_flight(f, &g, false, why)?;
    let cant = |why: &mut Reason, e: Error| {
        refuse(
            why,
            e,
            format_args!(
                "cannot make deleted file {} (in flight) again",
                path_str(f.path)
            ),
        )
    };
    let w = g.reopen(super::O_RDWR, false).map_err(|e| cant(why, e))?;
    w.truncate(f.size).map_err(|e| cant(why, e))?;
    if let Some(o) = p.owners.iter().find(|o| o.file == f.id) {
        w.chown(o.uid, o.gid).map_err(|e| cant(why, e))?;
    }
    w.chmod(f.mode).map_err(|e| cant(why, e))?;
    g.set_flags(f.flags);
    g.seek(f.pos).map_err(|e| cant(why, e))?;
    *writer = Some(w);
    Ok(g)
}
