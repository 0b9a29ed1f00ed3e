// SPDX-License-Identifier: GPL-2.0

//! Unix socket records: [`UnixSock`], one socket (an open file of kind
//! [`filekind::UNIX`], or a connection waiting in a listener's accept queue), and
//! [`UnixSkb`], one buffer of a socket's receive queue; [`UnixPeer`], a socket's
//! peer credentials (since format 1.12). Since format 1.3.
//!
//! Sockets name each other by their inode numbers at checkpoint time (`ino`), as
//! `/proc/net/unix` and `ss -x` do: a peer may come later in the stream, or be a
//! connection that has no file yet.

use super::super::*;

/// `sun_path` size.
pub const UNIX_NAME_MAX: usize = 108;

/// Socket types ([`UnixSock::sock_type`]).
pub mod unix_type {
    /// `SOCK_STREAM`.
    pub const STREAM: u8 = 1;
    /// `SOCK_DGRAM`.
    pub const DGRAM: u8 = 2;
    /// `SOCK_SEQPACKET`.
    pub const SEQPACKET: u8 = 5;

    /// Name of a type, for diagnostics.
    pub fn name(t: u8) -> &'static str {
        match t {
            STREAM => "stream",
            DGRAM => "dgram",
            SEQPACKET => "seqpacket",
            _ => "unknown",
        }
    }
}

/// Socket states ([`UnixSock::state`]), the kernel's `sk_state` values.
pub mod unix_state {
    /// Connected (`TCP_ESTABLISHED`); a datagram socket with a default peer.
    pub const ESTABLISHED: u8 = 1;
    /// Not connected (`TCP_CLOSE`).
    pub const CLOSE: u8 = 7;
    /// Listening (`TCP_LISTEN`).
    pub const LISTEN: u8 = 10;
}

/// [`UnixSock::flags`].
pub mod unix_flags {
    /// `SO_PASSCRED`.
    pub const PASSCRED: u32 = 0x0001;
    /// `SO_PASSSEC`.
    pub const PASSSEC: u32 = 0x0002;
    /// `SO_PASSPIDFD`.
    pub const PASSPIDFD: u32 = 0x0004;
    /// `SO_PASSRIGHTS` turned off.
    pub const NORIGHTS: u32 = 0x0008;
    /// The socket holds its name (it was bound, or autobound); a socket without
    /// it but with a name got its listener's name from `accept`.
    pub const BOUND: u32 = 0x0010;
    /// Bound to a path whose socket file was removed since.
    pub const UNLINKED: u32 = 0x0020;
    /// Its peer was closed (`peer` is 0).
    pub const PEER_DEAD: u32 = 0x0040;
    /// Its peer is a connection not accepted yet (the [`UnixSock`] with
    /// `listener` set whose `peer` is this socket).
    pub const PEER_EMBRYO: u32 = 0x0080;
    /// `SO_REUSEADDR`.
    pub const REUSEADDR: u32 = 0x0100;
    /// Every flag defined.
    pub const ALL: u32 = 0x01ff;
}

/// `RCV_SHUTDOWN | SEND_SHUTDOWN`.
pub const UNIX_SHUTDOWN_MASK: u8 = 3;

/// A unix socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixSock<'a> {
    /// The [`FileRec`] of the socket (kind [`filekind::UNIX`]); 0 for a
    /// connection in a listener's accept queue.
    pub file: u32,
    /// Its inode number at checkpoint time (0 for a connection not accepted).
    pub ino: u64,
    /// Its peer's inode number (0: none, closed or not accepted; see `flags`).
    pub peer: u64,
    /// For a connection not accepted yet: the inode of the listener in whose
    /// queue it waits (its place there is the order of these records).
    pub listener: u64,
    /// [`unix_type`].
    pub sock_type: u8,
    /// [`unix_state`].
    pub state: u8,
    /// `RCV_SHUTDOWN` (1) | `SEND_SHUTDOWN` (2).
    pub shutdown: u8,
    /// [`unix_flags`].
    pub flags: u32,
    /// Listen backlog (`sk_max_ack_backlog`).
    pub backlog: u32,
    /// `SO_SNDBUF` as `getsockopt` reports it.
    pub sndbuf: u32,
    /// `SO_RCVBUF`.
    pub rcvbuf: u32,
    /// `SO_PEEK_OFF` (-1: off).
    pub peek_off: i32,
    /// `SO_RCVLOWAT`.
    pub rcvlowat: i32,
    /// `SO_RCVTIMEO` in microseconds (0: none).
    pub rcvtimeo_us: i64,
    /// `SO_SNDTIMEO` in microseconds.
    pub sndtimeo_us: i64,
    /// For a socket bound to a path: the socket file's mode, owner and group.
    pub file_mode: u32,
    /// Owner.
    pub file_uid: u32,
    /// Group.
    pub file_gid: u32,
    /// Its address (`sun_path`, up to 108 bytes; an abstract name starts with a
    /// NUL; empty: unnamed).
    pub name: &'a [u8],
    /// Its peer's address.
    pub peer_name: &'a [u8],
    /// For a path name: the socket file's absolute path as the checkpointer saw
    /// it (the name may be relative).
    pub path: &'a [u8],
}

fixed_record! {
    impl<'a> for UnixSock<'a>, kind::UNIX_SOCK,
    {
        file: u32,
        ino: u64,
        peer: u64,
        listener: u64,
        sock_type: u8,
        state: u8,
        shutdown: u8,
        flags: u32,
        backlog: u32,
        sndbuf: u32,
        rcvbuf: u32,
        peek_off: i32,
        rcvlowat: i32,
        rcvtimeo_us: i64,
        sndtimeo_us: i64,
        file_mode: u32,
        file_uid: u32,
        file_gid: u32,
        name: str,
        peer_name: str,
        path: str,
    },
    |u| {
        use unix_flags as f;
        check(
            matches!(u.sock_type, unix_type::STREAM | unix_type::DGRAM | unix_type::SEQPACKET),
            "unix: bad type",
        )?;
        check(
            matches!(u.state, unix_state::ESTABLISHED | unix_state::CLOSE | unix_state::LISTEN),
            "unix: bad state",
        )?;
        check(u.shutdown & !UNIX_SHUTDOWN_MASK == 0, "unix: bad shutdown")?;
        check(u.flags & !f::ALL == 0, "unix: unknown flags")?;
        check(
            u.name.len() <= UNIX_NAME_MAX && u.peer_name.len() <= UNIX_NAME_MAX,
            "unix: name too long",
        )?;
        check((u.file == 0) == (u.listener != 0), "unix: a socket is a file or waits in a listener")?;
        check(u.file != 0 || u.ino == 0, "unix: an unaccepted connection with an inode")?;
        check(u.file == 0 || u.ino != 0, "unix: a socket file without an inode")?;
        check(
            u.state != unix_state::LISTEN
                || (u.sock_type != unix_type::DGRAM && !u.name.is_empty() && u.file != 0),
            "unix: bad listener",
        )?;
        check(u.peer == 0 || u.state == unix_state::ESTABLISHED, "unix: a peer without a connection")?;
        check(
            u.flags & (f::PEER_DEAD | f::PEER_EMBRYO) == 0 || u.peer == 0,
            "unix: a closed or unaccepted peer with an inode",
        )?;
        check(u.flags & f::BOUND == 0 || !u.name.is_empty(), "unix: bound without a name")?;
        check(u.peek_off >= -1, "unix: bad peek offset")?;
        check(u.rcvtimeo_us >= 0 && u.sndtimeo_us >= 0, "unix: bad timeout")?;
    }
}

/// The peer credentials of the [`UnixSock`] just before it, as `SO_PEERCRED`
/// and `SO_PEERGROUPS` report them: who made the connection (for a socketpair,
/// who made the pair; for a listener, who called `listen`). Written for every
/// socket that has them. Since format 1.12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixPeer<'a> {
    /// Its pid, as the checkpointer's pid namespace names it (0: none, or not
    /// in that namespace).
    pub pid: i32,
    /// Its effective uid, as the checkpointer's user namespace names it.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
    /// Its supplementary groups, `u32` each.
    pub groups: &'a [u8],
}

impl UnixPeer<'_> {
    /// Number of supplementary groups.
    pub fn ngroups(&self) -> usize {
        self.groups.len() / 4
    }
    /// Supplementary group `i` (below [`UnixPeer::ngroups`]).
    pub fn group(&self, i: usize) -> u32 {
        le_u32_at(self.groups, i)
    }
}

fixed_record! {
    impl<'a> for UnixPeer<'a>, kind::UNIX_PEER,
    {
        pid: i32,
        uid: u32,
        gid: u32,
        groups: str,
    },
    |c| {
        check(c.pid >= 0, "unix-peer: bad pid")?;
        check(c.uid != u32::MAX && c.gid != u32::MAX, "unix-peer: bad id")?;
        check(c.groups.len() % 4 == 0, "unix-peer: bad groups")?;
    }
}

/// One buffer of the receive queue of the [`UnixSock`] before it (in queue
/// order): a datagram or a seqpacket record whole, or a stream's unread bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixSkb<'a> {
    /// Inode of the receiving socket (as its [`UnixSock::ino`]; 0 for a
    /// connection not accepted yet, which is the [`UnixSock`] just before).
    pub owner: u64,
    /// Inode of the sending socket (0: closed).
    pub sender: u64,
    /// The sender's address then (what `recvfrom` reports).
    pub sender_name: &'a [u8],
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> Record<'a> for UnixSkb<'a> {
    const KIND: u16 = kind::UNIX_SKB;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.owner)?;
        e.u64(self.sender)?;
        e.str(self.sender_name)?;
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let owner = d.u64()?;
        let sender = d.u64()?;
        let sender_name = d.str()?;
        let n = d.u32()? as usize;
        let data = d.bytes(n)?;
        check(
            sender_name.len() <= UNIX_NAME_MAX,
            "unix-skb: name too long",
        )?;
        Ok(Self {
            owner,
            sender,
            sender_name,
            data,
        })
    }
}

/// The files in flight (`SCM_RIGHTS`) attached to the [`UnixSkb`] just before,
/// in order: ids of [`FileRec`] records written before. Since format 1.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixFds<'a> {
    /// `u32` file ids, little-endian.
    pub files: &'a [u8],
}

/// `SCM_MAX_FD`: most files one message carries.
pub const UNIX_MAX_FDS: usize = 253;

impl UnixFds<'_> {
    /// Number of files.
    pub fn count(&self) -> usize {
        self.files.len() / 4
    }

    /// File id `i` (< [`UnixFds::count`]).
    pub fn file(&self, i: usize) -> u32 {
        let b = &self.files[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl<'a> Record<'a> for UnixFds<'a> {
    const KIND: u16 = kind::UNIX_FDS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.count() as u32)?;
        e.bytes(self.files)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let n = d.u32()? as usize;
        check((1..=UNIX_MAX_FDS).contains(&n), "unix-fds: bad count")?;
        let files = d.bytes(4 * n)?;
        let r = Self { files };
        check((0..n).all(|i| r.file(i) != 0), "unix-fds: file id 0")?;
        Ok(r)
    }
}

/// The credentials (`SCM_CREDENTIALS`) attached to the [`UnixSkb`] just before:
/// the sender's process id, user and group as the checkpointer saw them. A
/// buffer without credentials has no such record (a receiver reads pid 0 and the
/// overflow ids). Since format 1.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixCreds {
    /// The sending process (its thread-group id).
    pub pid: i32,
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
}

impl<'a> Record<'a> for UnixCreds {
    const KIND: u16 = kind::UNIX_CREDS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.i32(self.pid)?;
        e.u32(self.uid)?;
        e.u32(self.gid)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let pid = d.i32()?;
        let uid = d.u32()?;
        let gid = d.u32()?;
        check(pid > 0, "unix-creds: bad pid")?;
        Ok(Self { pid, uid, gid })
    }
}
