// SPDX-License-Identifier: GPL-2.0

//! Unix sockets as the C shim (`shim_unix.c`) reads them.

use crate::shim::FileRef;
use core::ffi::c_void;
use kernel::prelude::*;

/// `CKPT_UNIX_NAME_MAX`.
pub(crate) const NAME_MAX: usize = 108;

/// `struct ckpt_unix_info` flags beyond the image's ([`crate::image::unix_flags`]).
pub(crate) mod uf {
    /// An out-of-band byte is pending.
    pub(crate) const OOB: u32 = 0x1000;
    /// Another network namespace than the caller's.
    pub(crate) const FOREIGN_NET: u32 = 0x2000;
}

/// `struct ckpt_unix_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct UnixInfo {
    pub(crate) ino: u64,
    pub(crate) peer_ino: u64,
    pub(crate) sock_type: u32,
    pub(crate) state: u32,
    pub(crate) shutdown: u32,
    pub(crate) flags: u32,
    pub(crate) backlog: u32,
    pub(crate) qlen: u32,
    pub(crate) qbytes: u32,
    pub(crate) nfds: u32,
    pub(crate) sndbuf: i32,
    pub(crate) rcvbuf: i32,
    pub(crate) peek_off: i32,
    pub(crate) err: i32,
    pub(crate) rcvlowat: i32,
    pub(crate) namelen: u32,
    pub(crate) peer_namelen: u32,
    pub(crate) file_mode: u32,
    pub(crate) file_uid: u32,
    pub(crate) file_gid: u32,
    pub(crate) rcvtimeo_us: i64,
    pub(crate) sndtimeo_us: i64,
    pub(crate) name: [u8; NAME_MAX],
    pub(crate) peer_name: [u8; NAME_MAX],
}

impl Default for UnixInfo {
    fn default() -> Self {
        // SAFETY: Plain integers and byte arrays: all zeroes is a valid value.
        unsafe { core::mem::zeroed() }
    }
}

impl UnixInfo {
    /// Its address.
    pub(crate) fn name(&self) -> &[u8] {
        &self.name[..(self.namelen as usize).min(NAME_MAX)]
    }

    /// Its peer's address.
    pub(crate) fn peer_name(&self) -> &[u8] {
        &self.peer_name[..(self.peer_namelen as usize).min(NAME_MAX)]
    }
}

/// Size of `struct ckpt_unix_skb`, the header of each buffer [`queue`] writes.
pub(crate) const SKB_HDR: usize = 152;

mod ffi {
    use super::*;
    extern "C" {
        pub(super) fn ckpt_unix_info(
            f: *mut c_void,
            embryo: i32,
            ui: *mut UnixInfo,
            path: *mut u8,
            pathlen: u32,
        ) -> i32;
        pub(super) fn ckpt_unix_queue(f: *mut c_void, embryo: i32, buf: *mut u8, len: u32) -> i32;
        pub(super) fn ckpt_unix_foreign_creds(f: *mut c_void, embryo: i32, pid: i32) -> i32;
        pub(super) fn ckpt_unix_ino(
            f: *mut c_void,
            ino: *mut u64,
            sock_type: *mut u32,
            state: *mut u32,
        ) -> i32;
        pub(super) fn ckpt_unix_peercred(
            f: *mut c_void,
            embryo: i32,
            pid: *mut i32,
            uid: *mut u32,
            gid: *mut u32,
            groups: *mut u32,
            max: u32,
        ) -> i32;
        pub(super) fn ckpt_unix_set_peercred(
            f: *mut c_void,
            embryo: i32,
            pid: *mut c_void,
            cred: *const c_void,
        ) -> i32;
        pub(super) fn ckpt_pidfd_gone(f: *mut c_void, nr: i32) -> *mut c_void;
        pub(super) fn ckpt_unix_inflight(
            f: *mut c_void,
            embryo: i32,
            files: *mut *mut c_void,
            max: u32,
        ) -> i32;
    }
}

fn errno(ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

/// Whether `f` is a unix socket.
pub(crate) fn is_unix(f: &FileRef) -> bool {
    let (mut ino, mut t, mut st) = (0u64, 0u32, 0u32);
    // SAFETY: The file is valid while `f` is; the out pointers are valid for writing.
    unsafe { ffi::ckpt_unix_ino(f.as_ptr(), &mut ino, &mut t, &mut st) == 0 }
}

/// The state of the unix socket of `f` (`embryo` < 0), or of the `embryo`-th
/// connection waiting in its accept queue (`ENOENT` past the last); the socket
/// file's path, if it has one, goes to `path` (NUL-terminated).
pub(crate) fn info(f: &FileRef, embryo: i32, path: &mut [u8]) -> Result<UnixInfo> {
    let mut ui = UnixInfo::default();
    let len = path.len().min(u32::MAX as usize) as u32;
    // SAFETY: The file is valid while `f` is; `ui` and `path` are valid for writing.
    errno(unsafe { ffi::ckpt_unix_info(f.as_ptr(), embryo, &mut ui, path.as_mut_ptr(), len) })?;
    Ok(ui)
}

/// Copies the receive queue of the socket (or connection, as [`info`]) without
/// consuming it: for each buffer a `struct ckpt_unix_skb` ([`SKB_HDR`] bytes) and
/// its data padded to 8 bytes. `EOVERFLOW`: `buf` is too small.
pub(crate) fn queue(f: &FileRef, embryo: i32, buf: &mut [u8]) -> Result<usize> {
    let len = buf.len().min(u32::MAX as usize) as u32;
    // SAFETY: The file is valid while `f` is; `buf` is writable for `len` bytes.
    Ok(errno(unsafe { ffi::ckpt_unix_queue(f.as_ptr(), embryo, buf.as_mut_ptr(), len) })? as usize)
}

/// One buffer of a copied queue.
pub(crate) struct Skb<'a> {
    pub(crate) nfds: u32,
    pub(crate) oob: bool,
    pub(crate) sender: u64,
    pub(crate) sender_name: &'a [u8],
    /// Its credentials (`SCM_CREDENTIALS`): pid as the caller sees it (0: not
    /// visible), uid, gid; `None`: it carries none.
    pub(crate) creds: Option<(i32, u32, u32)>,
    pub(crate) data: &'a [u8],
}

/// The buffers of a queue [`queue`] copied.
pub(crate) fn skbs(mut b: &[u8]) -> impl Iterator<Item = Skb<'_>> {
    core::iter::from_fn(move || {
        if b.len() < SKB_HDR {
            return None;
        }
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let len = u32_at(0) as usize;
        let nfds = u32_at(4);
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&b[8..16]);
        let namelen = (u32_at(16) as usize).min(NAME_MAX);
        let oob = u32_at(20) != 0;
        let creds = (u32_at(132) != 0).then(|| (u32_at(136) as i32, u32_at(140), u32_at(144)));
        let total = SKB_HDR + len.div_ceil(8) * 8;
        if b.len() < SKB_HDR + len {
            return None;
        }
        let (this, rest) = b.split_at(total.min(b.len()));
        b = rest;
        Some(Skb {
            nfds,
            oob,
            sender: u64::from_ne_bytes(ino),
            sender_name: &this[24..24 + namelen],
            creds,
            data: &this[SKB_HDR..SKB_HDR + len],
        })
    })
}

/// Most files in flight in one receive queue that are saved.
pub(crate) const MAX_INFLIGHT: usize = 1024;

/// The files in flight (`SCM_RIGHTS`) in the receive queue of the socket (or
/// connection, as [`info`]), in queue order. `E2BIG`: more than
/// [`MAX_INFLIGHT`].
pub(crate) fn inflight(f: &FileRef, embryo: i32) -> Result<KVec<FileRef>> {
    let mut raw = KVec::from_elem(core::ptr::null_mut::<c_void>(), MAX_INFLIGHT, GFP_KERNEL)?;
    // SAFETY: The file is valid while `f` is; `raw` has room for `MAX_INFLIGHT`
    // pointers.
    let n = errno(unsafe {
        ffi::ckpt_unix_inflight(f.as_ptr(), embryo, raw.as_mut_ptr(), MAX_INFLIGHT as u32)
    })? as usize;
    let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
    for p in raw.iter().take(n) {
        // SAFETY: The shim took one reference on each of the first `n` files, which
        // are given to the result.
        if let Some(f) = unsafe { FileRef::from_owned(*p) } {
            out.push(f, GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// The pid (-1: not visible to the caller) of the first buffer queued in the
/// socket (or connection, as [`info`]) that carries the credentials
/// (`SCM_CREDENTIALS`) of another process than `pid`, if one does.
pub(crate) fn foreign_creds(f: &FileRef, embryo: i32, pid: i32) -> Result<Option<i32>> {
    // SAFETY: The file is valid while `f` is.
    let r = errno(unsafe { ffi::ckpt_unix_foreign_creds(f.as_ptr(), embryo, pid) })?;
    Ok(match r {
        0 => None,
        i32::MAX => Some(-1),
        p => Some(p),
    })
}

/// The peer credentials of the socket (or connection, as [`info`]) as
/// `SO_PEERCRED` and `SO_PEERGROUPS` report them to the caller: (pid, euid,
/// egid), the groups in `groups` (at most `max`: `E2BIG`); `None` if it has none.
pub(crate) fn peercred(
    f: &FileRef,
    embryo: i32,
    groups: &mut KVec<u32>,
    max: usize,
) -> Result<Option<(i32, u32, u32)>> {
    groups.clear();
    groups.resize(max, 0, GFP_KERNEL)?;
    let (mut pid, mut uid, mut gid) = (0i32, 0u32, 0u32);
    // SAFETY: The file is valid while `f` is; the outputs are valid for writing,
    // `groups` for `max` entries.
    let r = unsafe {
        ffi::ckpt_unix_peercred(
            f.as_ptr(),
            embryo,
            &mut pid,
            &mut uid,
            &mut gid,
            groups.as_mut_ptr(),
            max.min(u32::MAX as usize) as u32,
        )
    };
    if r == -(kernel::bindings::ENODATA as i32) {
        groups.clear();
        return Ok(None);
    }
    groups.truncate(errno(r)? as usize);
    Ok(Some((pid, uid, gid)))
}

/// A `struct pid` with a reference, found by its number in the caller's pid
/// namespace. The kernel crate has no wrapper of `struct pid` yet; this is the
/// one it would have.
///
/// # Invariants
///
/// `0` is a live `struct pid` on which this holds a reference.
pub(crate) struct PidRef(core::ptr::NonNull<kernel::bindings::pid>);

impl PidRef {
    /// The pid numbered `nr` in the caller's pid namespace, if there is one
    /// (`find_get_pid`).
    pub(crate) fn find(nr: i32) -> Option<Self> {
        // SAFETY: No preconditions; a non-null result carries a reference, ours.
        let p = unsafe { kernel::bindings::find_get_pid(nr) };
        // INVARIANT: As above.
        core::ptr::NonNull::new(p).map(Self)
    }
}

impl PidRef {
    /// The pid of pidfd `f`, if it is numbered `nr` in the caller's pid namespace
    /// and its process exited and was reaped (a pid the restarter made and let go,
    /// [`crate::uapi::CKPT_RESTART_FILE_PEER`]).
    pub(crate) fn gone_of(f: &FileRef, nr: i32) -> Option<Self> {
        // SAFETY: The file is valid while `f` is; a non-null result carries a
        // reference, ours.
        let p = unsafe { ffi::ckpt_pidfd_gone(f.as_ptr(), nr) };
        // INVARIANT: As above.
        core::ptr::NonNull::new(p.cast()).map(Self)
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, our reference.
        unsafe { kernel::bindings::put_pid(self.0.as_ptr()) }
    }
}

/// Gives the socket (or connection, as [`info`]) the peer pid `pid` (`None`: none)
/// and the peer credentials `cred`, as `connect` does.
pub(crate) fn set_peercred(
    f: &FileRef,
    embryo: i32,
    pid: Option<&PidRef>,
    cred: &crate::sys::cred::Prepared,
) -> Result {
    let pid = pid.map_or(core::ptr::null_mut(), |p| p.0.as_ptr());
    // SAFETY: The file is valid while `f` is; `pid` is null or live while the
    // `PidRef` is, `cred` while the `Prepared` is; the shim takes its own
    // references.
    errno(unsafe {
        ffi::ckpt_unix_set_peercred(f.as_ptr(), embryo, pid.cast(), cred.as_ptr().cast())
    })?;
    Ok(())
}
