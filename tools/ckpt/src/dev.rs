// SPDX-License-Identifier: GPL-2.0

//! `/dev/ckpt` and its ioctls: with `sys.rs` (the other system calls), the
//! only `unsafe` code of the tool.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::uapi::{
    CkptCheckArgs, CkptCheckpointArgs, CkptHandoverArgs, CkptIncr, CkptRestartArgs,
    CkptRestartFile, CkptRestartPipe, CkptVersion, CKPT_IOC_CHECK, CKPT_IOC_CHECKPOINT,
    CKPT_IOC_HANDOVER, CKPT_IOC_RESTART, CKPT_IOC_VERSION, CKPT_REASON_LEN,
};

/// A uapi struct and the ioctl request that takes it.
trait Request {
    /// The `CKPT_IOC_*` number whose size field is `size_of::<Self>()`.
    const REQUEST: u32;
}

impl Request for CkptVersion {
    const REQUEST: u32 = CKPT_IOC_VERSION;
}

impl Request for CkptCheckpointArgs {
    const REQUEST: u32 = CKPT_IOC_CHECKPOINT;
}

impl Request for CkptCheckArgs {
    const REQUEST: u32 = CKPT_IOC_CHECK;
}

impl Request for CkptRestartArgs {
    const REQUEST: u32 = CKPT_IOC_RESTART;
}

impl Request for CkptHandoverArgs {
    const REQUEST: u32 = CKPT_IOC_HANDOVER;
}

/// An open `/dev/ckpt`.
#[derive(Debug)]
pub struct Device {
    file: File,
    path: PathBuf,
}

/// The answer of `CKPT_IOC_CHECK`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// 0 if the target can be checkpointed now, else a positive errno.
    pub status: i32,
    /// Why not (may be empty).
    pub reason: String,
}

/// The bytes of a NUL-terminated C string in a fixed-size array, lossily as UTF-8.
pub fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Device {
    /// Opens the device read-write, or read-only if writing is not allowed
    /// (enough for [`Device::version`]).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                OpenOptions::new().read(true).open(path)?
            }
            r => r?,
        };
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The path it was opened as.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The device's fd (for threads that call an ioctl on their own).
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    fn ioctl<T: Request>(&self, arg: &mut T) -> io::Result<()> {
        // SAFETY: `T::REQUEST` is the `CKPT_IOC_*` number made for the
        // `#[repr(C)]` uapi struct `T` (it encodes `size_of::<T>()`), `arg` is
        // a valid, exclusive pointer to such a struct for the whole call, and
        // the kernel reads and writes at most that many bytes through it; the
        // pointers such a struct holds (`CkptRestartArgs::pipes`,
        // `CkptHandoverArgs::buf`) are set from a slice of the length passed. The fd is open and
        // owned by `self`.
        let r = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                T::REQUEST as _,
                arg as *mut T as *mut libc::c_void,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `CKPT_IOC_HANDOVER` without a buffer: `op` with `len`/`offset` unused.
    pub fn handover(&self, op: u32) -> io::Result<CkptHandoverArgs> {
        let mut a = CkptHandoverArgs {
            op,
            ..Default::default()
        };
        self.ioctl(&mut a)?;
        Ok(a)
    }

    /// `CKPT_IOC_HANDOVER` PUT: hands `data` to the next kernel.
    pub fn handover_put(&self, data: &[u8]) -> io::Result<CkptHandoverArgs> {
        let mut a = CkptHandoverArgs {
            op: crate::uapi::CKPT_HANDOVER_PUT,
            buf: data.as_ptr() as u64,
            len: data.len() as u64,
            ..Default::default()
        };
        self.ioctl(&mut a)?;
        Ok(a)
    }

    /// `CKPT_IOC_HANDOVER` GET: reads the incoming set from `offset` into
    /// `buf`; returns the byte count (0 at the end) and the status.
    pub fn handover_get(&self, offset: u64, buf: &mut [u8]) -> io::Result<CkptHandoverArgs> {
        let mut a = CkptHandoverArgs {
            op: crate::uapi::CKPT_HANDOVER_GET,
            buf: buf.as_mut_ptr() as u64,
            len: buf.len() as u64,
            offset,
            ..Default::default()
        };
        self.ioctl(&mut a)?;
        Ok(a)
    }

    /// `CKPT_IOC_VERSION`.
    pub fn version(&self) -> io::Result<CkptVersion> {
        let mut v = CkptVersion {
            abi_version: 0,
            image_major: 0,
            image_minor: 0,
            features: 0,
            release: [0; 64],
        };
        self.ioctl(&mut v)?;
        Ok(v)
    }

    /// `CKPT_IOC_CHECKPOINT`: writes the image of `pid` to `out`; returns
    /// the byte count the module reports.
    pub fn checkpoint(&self, pid: i32, out: BorrowedFd<'_>, flags: u64) -> io::Result<u64> {
        let mut a = CkptCheckpointArgs {
            pid,
            fd: out.as_raw_fd(),
            flags,
            ..Default::default()
        };
        self.ioctl(&mut a)?;
        Ok(a.bytes)
    }

    /// `CKPT_IOC_CHECKPOINT` with its optional parts: with `chan`,
    /// `CKPT_CHECKPOINT_SYSV` (the module asks for the SysV objects on `chan`, see
    /// [`crate::sysv::serve`]); with `incr` (whose addresses must stay valid during
    /// the call), an incremental or tracking checkpoint (`incr` gets the new track
    /// id).
    pub fn checkpoint_with(
        &self,
        pid: i32,
        out: BorrowedFd<'_>,
        flags: u64,
        chan: Option<BorrowedFd<'_>>,
        incr: Option<&mut CkptIncr>,
    ) -> io::Result<u64> {
        let mut a = CkptCheckpointArgs {
            pid,
            fd: out.as_raw_fd(),
            flags: flags
                | if chan.is_some() {
                    crate::uapi::CKPT_CHECKPOINT_SYSV
                } else {
                    0
                },
            incr: incr.map_or(0, |i| i as *mut CkptIncr as u64),
            ..Default::default()
        };
        if let Some(c) = chan {
            a.reserved[0] = c.as_raw_fd() as u64;
        }
        self.ioctl(&mut a)?;
        Ok(a.bytes)
    }

    /// `CKPT_IOC_CHECK` (`flags`: 0 or `CKPT_CHECKPOINT_TREE`).
    pub fn check(&self, pid: i32, flags: u64) -> io::Result<CheckResult> {
        let mut a = CkptCheckArgs {
            pid,
            status: 0,
            flags,
            reserved: 0,
            reason: [0; CKPT_REASON_LEN],
        };
        self.ioctl(&mut a)?;
        Ok(CheckResult {
            status: a.status,
            reason: c_string(&a.reason),
        })
    }
}

/// A `CKPT_IOC_RESTART` refused before the point of no return.
#[derive(Debug)]
pub struct RestartError {
    /// The errno.
    pub error: io::Error,
    /// The module's reason (may be empty).
    pub reason: String,
}

impl Device {
    /// `CKPT_IOC_RESTART`: overlays the calling process with the image at
    /// `image`, like exec. Returns only if the module refused; on success the
    /// calling process continues as the restored program. `pipes` are the
    /// fresh pipes standing in for the image's, `files` the files it made for the
    /// image's files that only userspace creates, `stdio` the fds standing in
    /// for its terminals (with `CKPT_RESTART_INHERIT_STDIO`).
    ///
    /// Allocates nothing before the ioctl, so that it may follow
    /// [`crate::sys::move_specials`].
    pub fn restart(
        &self,
        image: BorrowedFd<'_>,
        flags: u64,
        pipes: &[CkptRestartPipe],
        files: &[CkptRestartFile],
        stdio: [i32; 3],
        task: i32,
        status_fd: i32,
    ) -> RestartError {
        let mut a = restart_args(image, flags, pipes, files, stdio, task, status_fd);
        let error = match self.ioctl(&mut a) {
            Err(e) => e,
            // Only a module that did not restart anything returns 0.
            Ok(()) => io::Error::from_raw_os_error(libc::ENOSYS),
        };
        RestartError {
            error,
            reason: c_string(&a.reason),
        }
    }
}

/// The arguments of `CKPT_IOC_RESTART` for task `task` of the image.
pub fn restart_args(
    image: BorrowedFd<'_>,
    flags: u64,
    pipes: &[CkptRestartPipe],
    files: &[CkptRestartFile],
    stdio: [i32; 3],
    task: i32,
    status_fd: i32,
) -> CkptRestartArgs {
    CkptRestartArgs {
        fd: image.as_raw_fd(),
        npipes: pipes.len() as u32,
        flags,
        pipes: pipes.as_ptr() as u64,
        stdio,
        pad: 0,
        task,
        pad2: 0,
        status_fd,
        pad3: 0,
        files: files.as_ptr() as u64,
        nfiles: files.len() as u32,
        pad4: 0,
        reason: [0; CKPT_REASON_LEN],
    }
}

/// Asks for a pipe buffer of `size` bytes (`F_SETPIPE_SZ`), so that the
/// module writes big chunks; fails harmlessly (e.g. above
/// `/proc/sys/fs/pipe-max-size` for non-root).
pub fn set_pipe_size(pipe: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let size =
        libc::c_int::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: F_SETPIPE_SZ takes an int argument and touches no memory of
    // ours; `pipe` is a valid open fd for the duration of the call.
    let r = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The signals that end a process when a user gives up (`SIGINT`, `SIGTERM`,
/// `SIGHUP`), blocked so that one thread can wait for them.
pub struct TermSignals(libc::sigset_t);

impl TermSignals {
    /// Blocks them in the calling thread and in the threads it creates
    /// afterwards.
    pub fn block() -> io::Result<Self> {
        // SAFETY: `sigset_t` is plain old data for which all-zero bytes are a
        // valid value; `sigemptyset` then initializes it properly.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, exclusive `sigset_t`; the signal numbers
        // are valid, so these calls cannot fail.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        // SAFETY: `set` is initialized; the old mask is not asked for.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(Self(set))
    }

    /// Waits until one of them is pending and takes it; returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `self.0` is an initialized signal set and `sig` a valid
        // `int` to store the result in.
        let r = unsafe { libc::sigwait(&self.0, &mut sig) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(sig)
    }
}
