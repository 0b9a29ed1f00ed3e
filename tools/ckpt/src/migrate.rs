// SPDX-License-Identifier: GPL-2.0

//! `ckpt migrate` and `ckpt receive`: live migration of a process to another
//! machine over one TCP connection.
//!
//! The source builds on incremental checkpoints: round 0 is a full image with
//! dirty tracking (`CKPT_CHECKPOINT_TRACK`, the process then runs on), each
//! pre-copy round an image of the pages written since the round before
//! (`CKPT_CHECKPOINT_PARENT`, tracking again), and the last round freezes the
//! process for the pages written during the previous round and all its other
//! state, leaving it stopped (`SIGSTOP`). Each round is written into a memfd
//! (the process is frozen only while the module writes there, never while the
//! network is slow) and then sent while the process runs. The receiver stores
//! the images of the chain in a directory under the names the source gives,
//! restores the last one (`ckpt restart` resolves the chain), and says whether
//! the process runs: only then does the source kill its stopped copy; if the
//! receiver fails, the source lets its copy go on (`SIGCONT`).
//!
//! The wire protocol (Documentation/ckpt/admin-guide.rst, "Live migration"):
//! both sides start with [`MAGIC`]; then frames of a 16-byte header (`u32`
//! kind, `u32` flags, `u64` payload length, little-endian) and the payload.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::checkpoint::{self, Failure, Output};
use crate::dev::Device;
use crate::{errno, hmac, restart, uapi};

/// What each side sends first.
pub const MAGIC: [u8; 8] = *b"CKPTMIG\n";
/// The protocol's version, in [`kind::HELLO`].
pub const VERSION: u32 = 2;
/// Length of the nonce in [`kind::HELLO`].
const NONCE: usize = 32;
/// Shortest key.
pub const MIN_KEY: usize = 16;

/// Frame kinds.
pub mod kind {
    /// Both ways, first: `u32` protocol version, `u32` zero, 32 random bytes
    /// (the nonce).
    pub const HELLO: u32 = 1;
    /// Source: `u32` round, `u32` name length, the name, the image.
    pub const IMAGE: u32 = 2;
    /// Receiver: `u32` round: the image is stored.
    pub const STORED: u32 = 3;
    /// Receiver: `i32` pid and its HMAC ([`mac`] `"restored"`): the process runs
    /// on the receiver.
    pub const RESTORED: u32 = 4;
    /// Either side: UTF-8 text, why it gives up; the connection ends.
    pub const FAILED: u32 = 5;
    /// Both ways, after the `HELLO`s: the HMAC-SHA256 under the shared key of
    /// the side's role and both nonces ([`mac`]); the sender's first, the
    /// receiver's after it checked the sender's.
    pub const AUTH: u32 = 6;
}

/// Flag of an [`kind::IMAGE`] frame: the last image; restore it.
pub const IMAGE_FINAL: u32 = 1;

/// Length of a frame header.
const HDR_LEN: usize = 16;
/// Longest payload of a frame other than an image.
const MAX_SMALL: u64 = 64 << 10;
/// Longest image name.
const MAX_NAME: usize = 255;

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// One of [`kind`].
    pub kind: u32,
    /// Flags of that kind.
    pub flags: u32,
    /// Payload length.
    pub len: u64,
}

impl Header {
    fn bytes(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    fn parse(b: &[u8; HDR_LEN]) -> Self {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let mut l = [0u8; 8];
        l.copy_from_slice(&b[8..16]);
        Self {
            kind: u32_at(0),
            flags: u32_at(4),
            len: u64::from_le_bytes(l),
        }
    }
}

/// Writes a whole small frame.
pub fn write_frame<W: Write>(w: &mut W, kind: u32, flags: u32, payload: &[u8]) -> io::Result<()> {
    let h = Header {
        kind,
        flags,
        len: payload.len() as u64,
    };
    let mut b = Vec::with_capacity(HDR_LEN + payload.len());
    b.extend_from_slice(&h.bytes());
    b.extend_from_slice(payload);
    w.write_all(&b)
}

/// Reads a frame header; `None` at a clean end of the stream.
pub fn read_header<R: Read>(r: &mut R) -> io::Result<Option<Header>> {
    let mut b = [0u8; HDR_LEN];
    let mut n = 0;
    while n < HDR_LEN {
        match r.read(&mut b[n..]) {
            Ok(0) if n == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(Header::parse(&b)))
}

/// Reads the payload of a small frame.
pub fn read_small<R: Read>(r: &mut R, h: &Header) -> io::Result<Vec<u8>> {
    if h.len > MAX_SMALL {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of kind {} with {} bytes: too long", h.kind, h.len),
        ));
    }
    let mut v = vec![0u8; h.len as usize];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn hello_payload(nonce: &[u8; NONCE]) -> Vec<u8> {
    let mut p = vec![0u8; 8];
    p[0..4].copy_from_slice(&VERSION.to_le_bytes());
    p.extend_from_slice(nonce);
    p
}

/// The magic and a `HELLO` frame with `nonce`.
fn hello(nonce: &[u8; NONCE]) -> Vec<u8> {
    let mut m = MAGIC.to_vec();
    // Writing into a Vec cannot fail.
    let _ = write_frame(&mut m, kind::HELLO, 0, &hello_payload(nonce));
    m
}

/// A new nonce.
fn nonce() -> Result<[u8; NONCE], String> {
    let mut n = [0u8; NONCE];
    random(&mut n).map_err(|e| format!("getrandom: {e}"))?;
    Ok(n)
}

/// The shared secret of `ckpt migrate --key` and `ckpt receive --key`: the
/// contents of a file only its owner may read, at least [`MIN_KEY`] bytes.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// Reads the key file `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let p = path.display();
        let mut f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| format!("key file {p}: cannot open: {}", errno::describe(&e)))?;
        let m = f
            .metadata()
            .map_err(|e| format!("key file {p}: {}", errno::describe(&e)))?;
        if !m.is_file() {
            return Err(format!("key file {p}: not a regular file"));
        }
        if m.mode() & 0o077 != 0 {
            return Err(format!(
                "key file {p}: group or others may access it (mode {:o}): `chmod 600 {p}`",
                m.mode() & 0o7777
            ));
        }
        let mut k = Vec::new();
        (&mut f)
            .take(64 << 10)
            .read_to_end(&mut k)
            .map_err(|e| format!("key file {p}: {}", errno::describe(&e)))?;
        Self::new(k).map_err(|e| format!("key file {p}: {e}"))
    }

    /// The key `k`.
    pub fn new(k: Vec<u8>) -> Result<Self, String> {
        if k.len() < MIN_KEY {
            return Err(format!(
                "{} bytes: a key has at least {MIN_KEY} (make one with `head -c 32 \
                 /dev/urandom > FILE`)",
                k.len()
            ));
        }
        Ok(Self(k))
    }
}

/// The HMAC-SHA256 under `key` that proves `role` (`"sender"`, `"receiver"`,
/// `"restored"`) of the connection of nonces `ns` (the sender's) and `nr` (the
/// receiver's), over `extra`.
pub fn mac(key: &Key, role: &str, ns: &[u8], nr: &[u8], extra: &[u8]) -> [u8; hmac::LEN] {
    hmac::hmac_sha256(
        &key.0,
        &[b"ckpt-migrate 2 ", role.as_bytes(), b"\0", ns, nr, extra],
    )
}

/// Reads the peer's `AUTH` and checks it is `want`.
fn read_auth<R: Read>(r: &mut R, want: &[u8; hmac::LEN]) -> Result<(), String> {
    let h = read_header(r)
        .map_err(|e| format!("reading the peer's proof of the key: {}", describe_io(&e)))?
        .ok_or("the peer closed the connection")?;
    let p = read_small(r, &h)
        .map_err(|e| format!("reading the peer's proof of the key: {}", describe_io(&e)))?;
    match h.kind {
        kind::AUTH if hmac::equal(&p, want) => Ok(()),
        kind::AUTH => Err("the peer does not hold the same key (--key): refused".into()),
        kind::FAILED => Err(format!("the peer refuses: {}", String::from_utf8_lossy(&p))),
        k => Err(format!(
            "unexpected frame of kind {k} instead of the peer's proof of the key"
        )),
    }
}

/// An I/O error, a timeout said as such.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out (--timeout)".into(),
        _ => errno::describe(e),
    }
}

/// Reads the peer's magic and `HELLO`; returns its nonce; `Err` says why it is
/// not a peer.
fn read_hello<R: Read>(r: &mut R) -> Result<[u8; NONCE], String> {
    let mut m = [0u8; 8];
    r.read_exact(&mut m)
        .map_err(|e| format!("reading the peer's greeting: {e}"))?;
    if m != MAGIC {
        return Err("the peer does not speak the ckpt migration protocol".into());
    }
    let h = read_header(r)
        .map_err(|e| format!("reading the peer's greeting: {e}"))?
        .ok_or("the peer closed the connection")?;
    let p = read_small(r, &h).map_err(|e| format!("reading the peer's greeting: {e}"))?;
    match h.kind {
        kind::HELLO if p.len() >= 4 => {
            let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            if v != VERSION || p.len() != 8 + NONCE {
                return Err(format!(
                    "the peer speaks migration protocol {v}, this tool {VERSION}"
                ));
            }
            let mut n = [0u8; NONCE];
            n.copy_from_slice(&p[8..]);
            Ok(n)
        }
        kind::FAILED => Err(format!("the peer refuses: {}", String::from_utf8_lossy(&p))),
        k => Err(format!("unexpected frame of kind {k} in the greeting")),
    }
}

/// The name of round `n`'s image (on the receiver; the parent path recorded in
/// the next round's image).
pub fn round_name(n: u32) -> String {
    format!("round-{n}.img")
}

/// Whether `name` is acceptable as a file name in the receiver's directory.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
}

/// Whether the pre-copy rounds have converged: the last round's image of
/// `bytes` is small, or not much smaller than the one before it (`prev`).
pub fn converged(bytes: u64, prev: u64) -> bool {
    bytes <= 1 << 20 || bytes.saturating_mul(4) > prev.saturating_mul(3)
}

// ---------------------------------------------------------------------------
// The source.

/// What `ckpt migrate` was asked to do.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// The process.
    pub pid: i32,
    /// `HOST:PORT` of the receiver.
    pub to: String,
    /// Most rounds before the final one (round 0 included; at least 1).
    pub max_rounds: u32,
    /// How long to keep trying to connect.
    pub connect_timeout: Duration,
    /// Extra `CKPT_CHECKPOINT_*` flags (`EXTERNAL_UNIX`).
    pub flags: u64,
    /// No line per round.
    pub quiet: bool,
    /// The shared secret.
    pub key: Key,
    /// How long to wait for the receiver at most, each time.
    pub timeout: Duration,
}

/// One round.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Image size.
    pub bytes: u64,
    /// How long the checkpoint call took (the process is frozen within it).
    pub frozen: Duration,
    /// How long sending it and its acknowledgment took.
    pub sent: Duration,
}

/// A finished migration.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Every round, the final one last.
    pub rounds: Vec<Round>,
    /// The pid on the receiver.
    pub new_pid: i32,
    /// From the final freeze until the receiver said the process runs.
    pub switchover: Duration,
    /// The receiver's address.
    pub peer: SocketAddr,
}

fn connect(to: &str, timeout: Duration) -> Result<TcpStream, String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match to.to_socket_addrs() {
            Ok(addrs) => {
                for a in addrs {
                    match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                        Ok(s) => return Ok(s),
                        Err(e) => last = format!("{a}: {}", errno::describe(&e)),
                    }
                }
            }
            Err(e) => last = format!("{to}: {e}"),
        }
        if Instant::now() >= deadline {
            return Err(format!("cannot connect to {to}: {last}"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn memfd(name: &std::ffi::CStr) -> io::Result<File> {
    // SAFETY: A plain syscall with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Sends all of `file` (`len` bytes from offset 0) to `sock`.
fn send_file(sock: &TcpStream, file: &File, len: u64) -> io::Result<()> {
    let mut off: libc::off_t = 0;
    while (off as u64) < len {
        let want = ((len - off as u64) as usize).min(1 << 30);
        // SAFETY: Both fds are open for the call; `off` is a valid off_t.
        let n = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut off, want) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

fn describe_failure(pid: i32, f: Failure) -> String {
    match f {
        Failure::Ioctl(e) => format!(
            "checkpoint of {pid} refused: {} (the kernel log says why; `ckpt check {pid}`)",
            errno::describe(&e)
        ),
        Failure::Pipe(e) | Failure::Write(_, e) => {
            format!("writing the image of {pid}: {}", errno::describe(&e))
        }
        Failure::Sysv(why) => format!("cannot checkpoint {pid}: {why}"),
        Failure::Size { reported, copied } => {
            format!("the module reports {reported} bytes but {copied} arrived")
        }
    }
}

/// The target's /proc files and the scan buffer of its incremental checkpoints.
struct Track {
    pagemap: File,
    clear_refs: File,
    scratch: Vec<u8>,
}

impl Track {
    fn open(pid: i32) -> Result<Self, String> {
        let proc = |name: &str, write: bool| {
            let p = format!("/proc/{pid}/{name}");
            fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open(&p)
                .map_err(|e| format!("{p}: cannot open: {}", errno::describe(&e)))
        };
        Ok(Self {
            pagemap: proc("pagemap", false)?,
            clear_refs: proc("clear_refs", true)?,
            scratch: vec![0u8; 1 << 20],
        })
    }

    /// The arguments of one round; `parent`: the last round's track id and name.
    fn args(&mut self, track: bool, parent: Option<(u64, &[u8])>) -> uapi::CkptIncr {
        let mut a = uapi::CkptIncr {
            pagemap_fd: self.pagemap.as_raw_fd(),
            clear_refs_fd: if track {
                self.clear_refs.as_raw_fd()
            } else {
                -1
            },
            scratch: self.scratch.as_mut_ptr() as u64,
            scratch_len: self.scratch.len() as u64,
            ..Default::default()
        };
        if let Some((id, path)) = parent {
            a.parent = id;
            a.path = path.as_ptr() as u64;
            a.path_len = path.len() as u32;
        }
        a
    }
}

/// Sends one image frame (the image is in `spool`) and waits for `STORED`.
fn send_image(
    sock: &mut TcpStream,
    round: u32,
    name: &str,
    spool: &File,
    len: u64,
    last: bool,
) -> Result<(), String> {
    let mut p = Vec::with_capacity(8 + name.len());
    p.extend_from_slice(&round.to_le_bytes());
    p.extend_from_slice(&(name.len() as u32).to_le_bytes());
    p.extend_from_slice(name.as_bytes());
    let h = Header {
        kind: kind::IMAGE,
        flags: if last { IMAGE_FINAL } else { 0 },
        len: p.len() as u64 + len,
    };
    let mut b = h.bytes().to_vec();
    b.extend_from_slice(&p);
    sock.write_all(&b)
        .and_then(|_| send_file(sock, spool, len))
        .map_err(|e| format!("sending round {round}: {}", errno::describe(&e)))?;
    if last {
        return Ok(());
    }
    match read_header(sock) {
        Ok(Some(h)) if h.kind == kind::STORED => {
            read_small(sock, &h).map_err(|e| e.to_string())?;
            Ok(())
        }
        Ok(Some(h)) if h.kind == kind::FAILED => {
            let why = read_small(sock, &h).unwrap_or_default();
            Err(format!(
                "the receiver failed: {}",
                String::from_utf8_lossy(&why)
            ))
        }
        Ok(Some(h)) => Err(format!(
            "unexpected frame of kind {} from the receiver",
            h.kind
        )),
        Ok(None) => Err("the receiver closed the connection".into()),
        Err(e) => Err(format!("reading from the receiver: {e}")),
    }
}

/// The sender's side of the greeting: sends its `HELLO`, reads the receiver's,
/// proves the key, then has the receiver prove it (before any image goes out,
/// and before its `RESTORED` is believed). Returns both nonces.
pub fn greet_receiver<S: Read + Write>(
    sock: &mut S,
    key: &Key,
) -> Result<([u8; NONCE], [u8; NONCE]), String> {
    let ns = nonce()?;
    sock.write_all(&hello(&ns)).map_err(|e| describe_io(&e))?;
    let nr = read_hello(sock)?;
    write_frame(sock, kind::AUTH, 0, &mac(key, "sender", &ns, &nr, &[]))
        .map_err(|e| describe_io(&e))?;
    read_auth(sock, &mac(key, "receiver", &ns, &nr, &[]))?;
    Ok((ns, nr))
}

/// Migrates `o.pid` to `o.to`. On success the original is killed; on failure it
/// runs on (resumed if the last round had stopped it), except if the connection
/// was lost after the last image was sent: then the receiver may have restored
/// it, and it is left stopped (the message says so).
pub fn migrate(dev: &Device, o: &MigrateOptions) -> Result<Summary, String> {
    let pid = o.pid;
    let check_flags = o.flags & uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX;
    if let Ok(r) = dev.check(pid, check_flags) {
        if r.status != 0 {
            let why = if r.reason.is_empty() {
                errno::text(&io::Error::from_raw_os_error(r.status))
            } else {
                r.reason
            };
            return Err(format!("cannot migrate {pid}: {why}"));
        }
    }
    let mut track = Track::open(pid)?;
    let mut sock = connect(&o.to, o.connect_timeout)?;
    let peer = sock.peer_addr().map_err(|e| e.to_string())?;
    let _ = sock.set_nodelay(true);
    let t = Some(o.timeout.max(Duration::from_secs(1)));
    let _ = sock.set_read_timeout(t).and(sock.set_write_timeout(t));
    let (ns, nr) = greet_receiver(&mut sock, &o.key).map_err(|e| format!("{peer}: {e}"))?;
    // Tell the receiver why, then fail (the process runs on).
    let abort = |sock: &mut TcpStream, msg: String| -> String {
        let _ = write_frame(sock, kind::FAILED, 0, msg.as_bytes());
        msg
    };
    let max = o.max_rounds.max(1);
    let mut rounds: Vec<Round> = Vec::new();
    let mut parent: Option<(u64, Vec<u8>)> = None;
    let mut n: u32 = 0;
    // Pre-copy needs dirty tracking; without it (no CONFIG_MEM_SOFT_DIRTY), one
    // round with the process stopped throughout.
    let mut precopy = true;
    loop {
        // Round 0, then at least one pre-copy round (the pages written while
        // round 0 was sent), then more while they shrink, up to `max` rounds.
        let k = rounds.len();
        let last = !precopy
            || k >= max as usize
            || (k >= 2 && converged(rounds[k - 1].bytes, rounds[k - 2].bytes));
        let name = round_name(n);
        let mut flags = o.flags;
        flags |= if last {
            uapi::CKPT_CHECKPOINT_STOP
        } else {
            uapi::CKPT_CHECKPOINT_RESUME | uapi::CKPT_CHECKPOINT_TRACK
        };
        if parent.is_some() {
            flags |= uapi::CKPT_CHECKPOINT_PARENT;
        }
        let mut args = track.args(!last, parent.as_ref().map(|(id, p)| (*id, &p[..])));
        let spool = memfd(c"ckpt-migrate").map_err(|e| format!("memfd_create: {e}"))?;
        let keep = spool.try_clone().map_err(|e| e.to_string())?;
        let frozen_at = Instant::now();
        let incr = if precopy { Some(&mut args) } else { None };
        let out = checkpoint::run_incr(
            dev,
            pid,
            flags,
            incr,
            Output::from_file(spool, &name),
            false,
        );
        let outcome = match out {
            Ok(x) => x,
            Err(Failure::Ioctl(e))
                if rounds.is_empty() && precopy && e.raw_os_error() == Some(libc::EOPNOTSUPP) =>
            {
                if !o.quiet {
                    eprintln!(
                        "ckpt: no dirty tracking in this kernel (CONFIG_MEM_SOFT_DIRTY): \
                         one round, {pid} stopped throughout"
                    );
                }
                precopy = false;
                continue;
            }
            Err(f) => return Err(abort(&mut sock, describe_failure(pid, f))),
        };
        let frozen = outcome.elapsed;
        let t = Instant::now();
        let len = keep.metadata().map(|m| m.len()).unwrap_or(outcome.bytes);
        let sent = send_image(&mut sock, n, &name, &keep, len, last);
        drop(keep);
        if let Err(e) = sent {
            if last {
                resume(pid);
                return Err(format!("{e}; {pid} resumed on this machine"));
            }
            return Err(abort(&mut sock, e));
        }
        if !last {
            rounds.push(Round {
                bytes: outcome.bytes,
                frozen,
                sent: t.elapsed(),
            });
            if !o.quiet {
                let r = rounds[rounds.len() - 1];
                eprintln!(
                    "ckpt: round {n}: {:.1} MiB, frozen {:.1} ms, sent in {:.1} ms",
                    r.bytes as f64 / 1048576.0,
                    r.frozen.as_secs_f64() * 1e3,
                    r.sent.as_secs_f64() * 1e3
                );
            }
            parent = Some((args.track_id, name.into_bytes()));
            n += 1;
            continue;
        }
        // The final round: the receiver restores, then says so.
        let verdict = match read_header(&mut sock) {
            Ok(Some(h)) if h.kind == kind::RESTORED => match read_small(&mut sock, &h) {
                Ok(p)
                    if p.len() == 4 + hmac::LEN
                        && hmac::equal(&p[4..], &mac(&o.key, "restored", &ns, &nr, &p[..4])) =>
                {
                    Ok(i32::from_le_bytes([p[0], p[1], p[2], p[3]]))
                }
                _ => Err(None),
            },
            Ok(Some(h)) if h.kind == kind::FAILED => {
                let why = read_small(&mut sock, &h).unwrap_or_default();
                Err(Some(String::from_utf8_lossy(&why).into_owned()))
            }
            _ => Err(None),
        };
        let switchover = frozen_at.elapsed();
        let sent = t.elapsed();
        rounds.push(Round {
            bytes: outcome.bytes,
            frozen,
            sent,
        });
        if !o.quiet {
            eprintln!(
                "ckpt: round {n} (final, {pid} stopped): {:.1} MiB, frozen {:.1} ms, sent and \
                 restored in {:.1} ms",
                outcome.bytes as f64 / 1048576.0,
                frozen.as_secs_f64() * 1e3,
                sent.as_secs_f64() * 1e3
            );
        }
        return match verdict {
            Ok(new_pid) => {
                // SAFETY: No memory is involved.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                Ok(Summary {
                    rounds,
                    new_pid,
                    switchover,
                    peer,
                })
            }
            Err(Some(why)) => {
                resume(pid);
                Err(format!(
                    "the receiver {peer} could not restore {pid}: {why}; {pid} resumed on \
                     this machine"
                ))
            }
            Err(None) => Err(format!(
                "lost the receiver {peer} after the last image: it may have restored the \
                 process; {pid} is left stopped here (check the receiver, then `kill -CONT \
                 {pid}` or `kill -KILL {pid}`)"
            )),
        };
    }
}

fn resume(pid: i32) {
    // SAFETY: No memory is involved.
    unsafe { libc::kill(pid, libc::SIGCONT) };
}

// ---------------------------------------------------------------------------
// The receiver.

/// What `ckpt receive` was asked to do.
#[derive(Clone, Debug)]
pub struct ReceiveOptions {
    /// `ADDR:PORT` to listen on.
    pub listen: String,
    /// The shared secret.
    pub key: Key,
    /// How long to wait for a sender that proves the key (none: for ever).
    pub accept_timeout: Option<Duration>,
    /// How long to wait for the sender at most, each time.
    pub timeout: Duration,
    /// `--as-user`: restore only processes of this user (name or uid).
    pub as_user: Option<String>,
    /// The most bytes of images stored (all rounds together).
    pub max_bytes: u64,
    /// Where the images go (default: a new directory in `$TMPDIR`).
    pub dir: Option<PathBuf>,
    /// Keep the images after the restart.
    pub keep: bool,
    /// How to restart (its `file` is set here).
    pub restart: restart::Options,
}

/// The limit of what a receiver restores: the user `as_user` (a name or uid)
/// and its groups; by default the receiver's own user and groups when it does
/// not run as root, else none.
pub fn id_limit(as_user: Option<&str>) -> Result<Option<restart::IdLimit>, String> {
    let pw = match as_user {
        Some(u) => {
            let c = std::ffi::CString::new(u).map_err(|_| format!("--as-user {u:?}: bad name"))?;
            // SAFETY: Plain lookups with a NUL-terminated name; the entry is
            // copied out at once (the tool has one thread here).
            let p = unsafe {
                match u.parse::<u32>() {
                    Ok(uid) => libc::getpwuid(uid),
                    Err(_) => libc::getpwnam(c.as_ptr()),
                }
            };
            if p.is_null() {
                return Err(format!("--as-user {u}: no such user"));
            }
            p
        }
        // SAFETY: No memory is involved.
        None if unsafe { libc::geteuid() } != 0 => {
            // SAFETY: As above.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            let mut g = vec![0 as libc::gid_t; 65536];
            // SAFETY: `g` has room for the count given.
            let n = unsafe { libc::getgroups(g.len() as i32, g.as_mut_ptr()) };
            g.truncate(n.max(0) as usize);
            g.push(gid);
            return Ok(Some(restart::IdLimit { uid, gids: g }));
        }
        None => return Ok(None),
    };
    // SAFETY: `pw` is the entry found above, valid until the next lookup.
    let (uid, gid, name) = unsafe {
        (
            (*pw).pw_uid,
            (*pw).pw_gid,
            std::ffi::CStr::from_ptr((*pw).pw_name).to_owned(),
        )
    };
    let mut g = vec![0 as libc::gid_t; 1024];
    let mut n = g.len() as libc::c_int;
    // SAFETY: `g` has room for `n` groups; the name is NUL-terminated.
    if unsafe { libc::getgrouplist(name.as_ptr(), gid, g.as_mut_ptr(), &mut n) } < 0 {
        return Err(format!("--as-user: user {uid} is in too many groups"));
    }
    g.truncate(n.max(0) as usize);
    if !g.contains(&gid) {
        g.push(gid);
    }
    Ok(Some(restart::IdLimit { uid, gids: g }))
}

/// The addresses of `--listen ADDR:PORT`; a bare port is refused (no implicit
/// listening on every address).
pub fn listen_addr(s: &str) -> Result<Vec<SocketAddr>, String> {
    if s.parse::<u16>().is_ok() {
        return Err(format!(
            "--listen {s}: give the address too, ADDR:PORT (e.g. 192.0.2.7:{s}; \
             0.0.0.0:{s} listens on every address)"
        ));
    }
    s.to_socket_addrs()
        .map(|a| a.collect())
        .map_err(|e| format!("--listen {s}: {e}"))
}

/// Waits until `l` has a connection or `deadline` passed.
fn accept(l: &TcpListener, deadline: Option<Instant>) -> Result<(TcpStream, SocketAddr), String> {
    if let Some(d) = deadline {
        loop {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no sender proved the key in time (--accept-timeout)".into());
            }
            let mut p = libc::pollfd {
                fd: l.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: One valid pollfd.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n > 0 {
                break;
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(format!("poll: {e}"));
                }
            }
        }
    }
    l.accept()
        .map_err(|e| format!("accept: {}", errno::describe(&e)))
}

/// The receiver's side of the greeting on a new connection: reads the sender's
/// `HELLO`, sends its own, checks the sender's `AUTH`. Returns both nonces.
pub fn greet_sender<S: Read + Write>(
    sock: &mut S,
    key: &Key,
) -> Result<([u8; NONCE], [u8; NONCE]), String> {
    let ns = read_hello(sock)?;
    let nr = nonce()?;
    sock.write_all(&hello(&nr)).map_err(|e| describe_io(&e))?;
    if let Err(e) = read_auth(sock, &mac(key, "sender", &ns, &nr, &[])) {
        let _ = write_frame(sock, kind::FAILED, 0, b"authentication failed");
        return Err(e);
    }
    Ok((ns, nr))
}

/// Receives the images of one migration and restores the last. Returns the
/// exit code, as `ckpt restart` would (the restored process's status, or 0 with
/// `--detach`); `Err`: the migration failed before a restart (the source was
/// told).
pub fn receive(o: &ReceiveOptions) -> Result<u8, String> {
    let addrs = listen_addr(&o.listen)?;
    let limit = id_limit(o.as_user.as_deref())?;
    let l = TcpListener::bind(&addrs[..])
        .map_err(|e| format!("cannot listen on {}: {}", o.listen, errno::describe(&e)))?;
    let local = l.local_addr().map_err(|e| e.to_string())?;
    if !o.restart.quiet {
        eprintln!("ckpt: listening on {local}");
    }
    // Connections that do not prove the key are dropped; the first that does
    // is the sender.
    let deadline = o.accept_timeout.map(|t| Instant::now() + t);
    let t = Some(o.timeout.max(Duration::from_secs(1)));
    let (mut sock, peer, ns, nr) = loop {
        let (mut sock, peer) = accept(&l, deadline)?;
        let _ = sock.set_nodelay(true);
        // The greeting of a stranger: a short wait only.
        let short = Some(
            o.timeout
                .clamp(Duration::from_secs(1), Duration::from_secs(10)),
        );
        let _ = sock
            .set_read_timeout(short)
            .and(sock.set_write_timeout(short));
        match greet_sender(&mut sock, &o.key) {
            Ok((ns, nr)) => {
                let _ = sock.set_read_timeout(t).and(sock.set_write_timeout(t));
                break (sock, peer, ns, nr);
            }
            Err(e) => eprintln!("ckpt: {peer}: {e}; waiting for another sender"),
        }
    };
    drop(l);
    let fail = |sock: &mut TcpStream, msg: String| -> String {
        let _ = write_frame(sock, kind::FAILED, 0, msg.as_bytes());
        msg
    };
    // Before the source spends a round: can this machine restart at all?
    let can = Device::open(&o.restart.device)
        .and_then(|d| d.version())
        .map_err(|e| errno::open_device(&o.restart.device, &e))
        .and_then(|v| {
            if v.abi_version != uapi::CKPT_ABI_VERSION || v.features & uapi::CKPT_FEAT_RESTART == 0
            {
                Err(format!(
                    "the module behind {} cannot restart for this tool (see `ckpt version`)",
                    o.restart.device.display()
                ))
            } else {
                Ok(())
            }
        });
    if let Err(e) = can {
        return Err(fail(&mut sock, e));
    }
    write_frame(
        &mut sock,
        kind::AUTH,
        0,
        &mac(&o.key, "receiver", &ns, &nr, &[]),
    )
    .map_err(|e| format!("{peer}: {}", describe_io(&e)))?;
    let dir = match make_dir(o.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => return Err(fail(&mut sock, e)),
    };
    let mut names = HashSet::new();
    let mut left = o.max_bytes;
    let mut files: Vec<PathBuf> = Vec::new();
    let cleanup = |files: &[PathBuf]| {
        if o.keep {
            return;
        }
        for f in files {
            let _ = fs::remove_file(f);
        }
        let _ = fs::remove_dir(&dir);
    };
    let mut bytes = 0u64;
    let last = loop {
        let h = match read_header(&mut sock) {
            Ok(Some(h)) => h,
            Ok(None) => {
                cleanup(&files);
                return Err(format!(
                    "{peer} closed the connection before the last image"
                ));
            }
            Err(e) => {
                cleanup(&files);
                return Err(format!("{peer}: {e}"));
            }
        };
        match h.kind {
            kind::IMAGE => match store(&mut sock, &h, &dir, &mut names, &mut left) {
                Ok((round, path)) => {
                    bytes += h.len;
                    files.push(path.clone());
                    if h.flags & IMAGE_FINAL != 0 {
                        break path;
                    }
                    if let Err(e) = write_frame(&mut sock, kind::STORED, 0, &round.to_le_bytes()) {
                        cleanup(&files);
                        return Err(format!("{peer}: {e}"));
                    }
                }
                Err(e) => {
                    cleanup(&files);
                    return Err(fail(&mut sock, e));
                }
            },
            kind::FAILED => {
                let why = read_small(&mut sock, &h).unwrap_or_default();
                cleanup(&files);
                return Err(format!(
                    "the source gave up: {}",
                    String::from_utf8_lossy(&why)
                ));
            }
            k => {
                cleanup(&files);
                return Err(fail(&mut sock, format!("unexpected frame of kind {k}")));
            }
        }
    };
    crate::timing::mark("received");
    if !o.restart.quiet {
        eprintln!(
            "ckpt: received {} images ({:.1} MiB) from {peer}",
            files.len(),
            bytes as f64 / 1048576.0
        );
    }
    // A test of the source's failure path: refuse instead of restoring.
    if let Ok(why) = std::env::var("CKPT_TEST_RECEIVE_FAIL") {
        cleanup(&files);
        return Err(fail(&mut sock, why));
    }
    let mut ro = o.restart.clone();
    ro.file = last;
    ro.limit = limit;
    ro.confined = true;
    let mut sock = Some(sock);
    let mut told = false;
    let r = restart::run_hooked(&ro, &mut |r| {
        told = true;
        cleanup(&files);
        let Some(mut s) = sock.take() else { return };
        let _ = match r {
            Ok(pid) => {
                let mut p = pid.to_le_bytes().to_vec();
                p.extend_from_slice(&mac(&o.key, "restored", &ns, &nr, &pid.to_le_bytes()));
                write_frame(&mut s, kind::RESTORED, 0, &p)
            }
            Err(why) => write_frame(&mut s, kind::FAILED, 0, why.as_bytes()),
        };
    });
    if !told {
        cleanup(&files);
        if let Some(mut s) = sock.take() {
            let why = match &r {
                Err(e) => e.clone(),
                Ok(_) => "the restart failed".to_string(),
            };
            let _ = write_frame(&mut s, kind::FAILED, 0, why.as_bytes());
        }
    }
    r
}

/// Makes the receiver's directory, mode 0700: `dir` if given (its parent must
/// exist), else a new one of a random name in `$TMPDIR`. An existing directory
/// is refused: someone else may have made it, and its files.
pub fn make_dir(dir: Option<&Path>) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let mk = |d: &Path| fs::DirBuilder::new().mode(0o700).create(d);
    if let Some(d) = dir {
        return match mk(d) {
            Ok(()) => Ok(d.to_path_buf()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(format!(
                "{}: already exists: the receiver makes its directory itself (name one that \
                 does not exist)",
                d.display()
            )),
            Err(e) => Err(format!(
                "{}: cannot create: {}",
                d.display(),
                errno::describe(&e)
            )),
        };
    }
    let tmp = std::env::temp_dir();
    for _ in 0..16 {
        let mut r = [0u8; 8];
        random(&mut r).map_err(|e| format!("getrandom: {e}"))?;
        let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let d = tmp.join(format!("ckpt-receive.{name}"));
        match mk(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(format!(
                    "{}: cannot create: {}",
                    d.display(),
                    errno::describe(&e)
                ))
            }
        }
    }
    Err(format!(
        "{}: cannot make a new directory there",
        tmp.display()
    ))
}

/// Fills `buf` with random bytes (getrandom(2)).
pub fn random(buf: &mut [u8]) -> io::Result<()> {
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: The pointer and length describe the rest of `buf`.
        let k = unsafe { libc::getrandom(buf[n..].as_mut_ptr().cast(), buf.len() - n, 0) };
        if k < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        n += k as usize;
    }
    Ok(())
}

/// Stores the image of frame `h` (its payload follows in `r`) in `dir`, as a new
/// file (never one that exists, never through a symlink); `names`: the names
/// stored so far (a name comes once); `left`: how many more bytes may be
/// stored (`--max-bytes`), less this frame's afterwards. Returns its round and
/// path.
pub fn store<R: Read>(
    r: &mut R,
    h: &Header,
    dir: &Path,
    names: &mut HashSet<String>,
    left: &mut u64,
) -> Result<(u32, PathBuf), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if h.len < 8 {
        return Err(format!("image frame of {} bytes: too short", h.len));
    }
    if h.len > *left {
        return Err(format!(
            "image frame of {} bytes: more than this receiver takes ({} bytes left of \
             --max-bytes)",
            h.len, *left
        ));
    }
    *left -= h.len;
    let mut p = [0u8; 8];
    r.read_exact(&mut p).map_err(|e| e.to_string())?;
    let round = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
    let nlen = u32::from_le_bytes([p[4], p[5], p[6], p[7]]) as usize;
    if nlen > MAX_NAME || 8 + nlen as u64 > h.len {
        return Err(format!(
            "image frame of round {round}: bad name length {nlen}"
        ));
    }
    let mut name = vec![0u8; nlen];
    r.read_exact(&mut name).map_err(|e| e.to_string())?;
    let name = String::from_utf8(name).unwrap_or_default();
    if !valid_name(&name) {
        return Err(format!("image frame of round {round}: bad name {name:?}"));
    }
    if !names.insert(name.clone()) {
        return Err(format!(
            "image frame of round {round}: the name {name:?} was already sent"
        ));
    }
    let path = dir.join(&name);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| format!("{}: cannot create: {}", path.display(), errno::describe(&e)))?;
    let want = h.len - 8 - nlen as u64;
    let got = io::copy(&mut (&mut *r).take(want), &mut f)
        .map_err(|e| format!("{}: {}", path.display(), errno::describe(&e)))?;
    if got != want {
        return Err(format!(
            "round {round}: the connection ended after {got} of {want} bytes"
        ));
    }
    Ok((round, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let mut b = Vec::new();
        write_frame(&mut b, kind::STORED, 7, &3u32.to_le_bytes()).unwrap();
        write_frame(&mut b, kind::FAILED, 0, b"no").unwrap();
        let mut r = &b[..];
        let h = read_header(&mut r).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                kind: kind::STORED,
                flags: 7,
                len: 4
            }
        );
        assert_eq!(read_small(&mut r, &h).unwrap(), 3u32.to_le_bytes());
        let h = read_header(&mut r).unwrap().unwrap();
        assert_eq!(read_small(&mut r, &h).unwrap(), b"no");
        assert!(read_header(&mut r).unwrap().is_none());
        // A header cut short is an error, a huge small frame too.
        assert!(read_header(&mut &b[..5]).is_err());
        let big = Header {
            kind: kind::FAILED,
            flags: 0,
            len: 1 << 40,
        };
        assert!(read_small(&mut &b[..], &big).is_err());
    }

    #[test]
    fn names_and_convergence() {
        assert!(valid_name(&round_name(3)));
        for bad in ["", ".", "..", "a/b", "/etc/passwd"] {
            assert!(!valid_name(bad), "{bad}");
        }
        // Shrinking fast: go on; not shrinking, or small: final.
        assert!(!converged(100 << 20, 1 << 30));
        assert!(converged(90 << 20, 100 << 20));
        assert!(converged(512 << 10, 1 << 30));
    }

    /// A whole exchange over a socket pair, without the module: the receiver's
    /// side of the protocol as `receive` runs it.
    #[test]
    fn hello_roundtrip() {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.write_all(&hello(&[7; NONCE])).unwrap();
        assert_eq!(read_hello(&mut b).unwrap(), [7; NONCE]);
        let mut m = MAGIC.to_vec();
        write_frame(&mut m, kind::FAILED, 0, b"no module").unwrap();
        b.write_all(&m).unwrap();
        let e = read_hello(&mut a).unwrap_err();
        assert!(e.contains("no module"), "{e}");
        a.write_all(b"GET / HTTP/1.0\r\n").unwrap();
        assert!(read_hello(&mut b).is_err());
        // A version 1 peer.
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut m = MAGIC.to_vec();
        write_frame(&mut m, kind::HELLO, 0, &[1, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        a.write_all(&m).unwrap();
        let e = read_hello(&mut b).unwrap_err();
        assert!(e.contains("protocol 1"), "{e}");
    }

    fn key(b: u8) -> Key {
        Key::new(vec![b; 32]).unwrap()
    }

    type Nonces = Result<([u8; NONCE], [u8; NONCE]), String>;

    /// Both sides of the greeting, each in its own thread over a socket pair.
    fn handshake(ks: Key, kr: Key) -> (Nonces, Nonces) {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t = Some(Duration::from_secs(5));
        a.set_read_timeout(t).unwrap();
        b.set_read_timeout(t).unwrap();
        let r = std::thread::spawn(move || {
            let g = greet_sender(&mut b, &kr);
            if let Ok((ns, nr)) = &g {
                write_frame(&mut b, kind::AUTH, 0, &mac(&kr, "receiver", ns, nr, &[])).unwrap();
            }
            g
        });
        let s = greet_receiver(&mut a, &ks);
        (s, r.join().unwrap())
    }

    /// The same key: both sides agree on the nonces. Another key: the receiver
    /// refuses the sender, and the sender learns it.
    #[test]
    fn key_handshake() {
        let (s, r) = handshake(key(1), key(1));
        let (s, r) = (s.unwrap(), r.unwrap());
        assert_eq!(s, r);
        assert_ne!(s.0, s.1);
        let (s, r) = handshake(key(1), key(2));
        let r = r.unwrap_err();
        assert!(r.contains("does not hold the same key"), "{r}");
        let s = s.unwrap_err();
        assert!(s.contains("authentication failed"), "{s}");
    }

    /// A receiver without the key cannot prove itself to the sender, even by
    /// replaying the sender's own proof.
    #[test]
    fn receiver_must_prove_the_key() {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let fake = std::thread::spawn(move || {
            let ns = read_hello(&mut b).unwrap();
            b.write_all(&hello(&ns)).unwrap();
            let h = read_header(&mut b).unwrap().unwrap();
            let p = read_small(&mut b, &h).unwrap();
            write_frame(&mut b, kind::AUTH, 0, &p).unwrap();
        });
        let e = greet_receiver(&mut a, &key(1)).unwrap_err();
        assert!(e.contains("does not hold the same key"), "{e}");
        fake.join().unwrap();
        // Proofs of one role or connection do not pass for another.
        let k = key(1);
        let m = |role, nr: u8, x: u8| mac(&k, role, &[1], &[nr], &[x]);
        assert_ne!(m("sender", 2, 0), m("receiver", 2, 0));
        assert_ne!(m("sender", 2, 0), m("sender", 3, 0));
        assert_ne!(m("restored", 2, 5), m("restored", 2, 6));
    }

    #[test]
    fn key_files_and_addresses() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("key");
        fs::create_dir(&d).unwrap();
        let f = d.join("key");
        fs::write(&f, [9u8; 32]).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let e = Key::read(&f).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Key::read(&f).unwrap().0, vec![9u8; 32]);
        fs::write(&f, b"short").unwrap();
        let e = Key::read(&f).unwrap_err();
        assert!(e.contains("at least 16"), "{e}");
        assert!(Key::read(&d).is_err());
        fs::remove_dir_all(&d).unwrap();
        // No implicit "every address".
        let e = listen_addr("7070").unwrap_err();
        assert!(e.contains("ADDR:PORT"), "{e}");
        assert_eq!(
            listen_addr("127.0.0.1:7070").unwrap(),
            vec!["127.0.0.1:7070".parse().unwrap()]
        );
    }

    /// `--max-bytes`: a frame larger than what is left is refused before
    /// anything is stored.
    #[test]
    fn store_max_bytes() {
        let d = scratch("max");
        make_dir(Some(&d)).unwrap();
        let mut names = HashSet::new();
        let (h, p) = image_frame("round-0.img", &[1u8; 100]);
        let mut left = h.len * 2 - 1;
        store(&mut &p[..], &h, &d, &mut names, &mut left).unwrap();
        assert_eq!(left, h.len - 1);
        let (h, p) = image_frame("round-1.img", &[1u8; 100]);
        let e = store(&mut &p[..], &h, &d, &mut names, &mut left).unwrap_err();
        assert!(e.contains("--max-bytes"), "{e}");
        assert!(!d.join("round-1.img").exists());
        let huge = Header {
            kind: kind::IMAGE,
            flags: 0,
            len: u64::MAX,
        };
        assert!(store(&mut &p[..], &huge, &d, &mut names, &mut left).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ckpt-mig-test.{}.{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn image_frame(name: &str, body: &[u8]) -> (Header, Vec<u8>) {
        let mut p = 0u32.to_le_bytes().to_vec();
        p.extend_from_slice(&(name.len() as u32).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        p.extend_from_slice(body);
        let h = Header {
            kind: kind::IMAGE,
            flags: 0,
            len: p.len() as u64,
        };
        (h, p)
    }

    /// The receiver's directory: new, 0700, never one that exists.
    #[test]
    fn receive_dir() {
        use std::os::unix::fs::PermissionsExt;
        let a = make_dir(None).unwrap();
        let b = make_dir(None).unwrap();
        assert_ne!(a, b);
        assert!(a
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("ckpt-receive."));
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir(&a).unwrap();
        fs::remove_dir(&b).unwrap();
        let d = scratch("dir");
        assert_eq!(make_dir(Some(&d)).unwrap(), d);
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let e = make_dir(Some(&d)).unwrap_err();
        assert!(e.contains("already exists"), "{e}");
        fs::remove_dir(&d).unwrap();
    }

    /// Images are stored as new files: not through a symlink planted in the
    /// directory, not over an existing file, a name only once.
    #[test]
    fn store_new_files_only() {
        let d = scratch("store");
        make_dir(Some(&d)).unwrap();
        let victim = d.join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("round-0.img")).unwrap();
        let mut names = HashSet::new();
        let (h, p) = image_frame("round-0.img", b"evil");
        let e = store(&mut &p[..], &h, &d, &mut names, &mut { u64::MAX }).unwrap_err();
        assert!(e.contains("cannot create"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        let (h, p) = image_frame("victim", b"evil");
        assert!(store(&mut &p[..], &h, &d, &mut HashSet::new(), &mut { u64::MAX }).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        let mut names = HashSet::new();
        let (h, p) = image_frame("round-1.img", b"image");
        let (_, path) = store(&mut &p[..], &h, &d, &mut names, &mut { u64::MAX }).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"image");
        fs::remove_file(&path).unwrap();
        let e = store(&mut &p[..], &h, &d, &mut names, &mut { u64::MAX }).unwrap_err();
        assert!(e.contains("already sent"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }
}
