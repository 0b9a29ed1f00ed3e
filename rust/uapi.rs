// SPDX-License-Identifier: GPL-2.0

//! The `/dev/ckpt` ioctl ABI, shared by the module and the `ckpt` tool.
//!
//! C header: [`include/uapi/linux/ckpt.h`](../include/uapi/linux/ckpt.h). This file
//! depends on `core` only, so that the kernel module and the userspace tool compile the
//! very same definitions; a test in `tools/ckpt` checks them against the C header.

/// Version of the ioctl ABI.
pub const CKPT_ABI_VERSION: u32 = 1;
/// The ioctl "type" byte of `/dev/ckpt`.
pub const CKPT_IOC_MAGIC: u32 = 0xC7;

/// Feature bit: `CKPT_IOC_CHECKPOINT` is implemented.
pub const CKPT_FEAT_CHECKPOINT: u64 = 1 << 0;
/// Feature bit: `CKPT_IOC_RESTART` is implemented.
pub const CKPT_FEAT_RESTART: u64 = 1 << 1;
/// Feature bit: `echo PID > /dev/ckpt` and reading images back are implemented.
pub const CKPT_FEAT_SHELL: u64 = 1 << 2;
/// Feature bit: the LSM hook observer is active.
pub const CKPT_FEAT_LSM_WATCH: u64 = 1 << 3;
/// Feature bit: [`CKPT_RESTART_STATUS_FD`] is understood.
pub const CKPT_FEAT_STATUS_FD: u64 = 1 << 4;
/// Feature bit: a restart under a kernel whose vDSO differs puts a proxy where the
/// image's vDSO was, and [`CKPT_RESTART_VDSO_PROXY`] is understood.
pub const CKPT_FEAT_VDSO_PROXY: u64 = 1 << 5;
/// Feature bit: [`CKPT_CHECKPOINT_SYSV`] is understood.
pub const CKPT_FEAT_SYSV: u64 = 1 << 6;
/// Feature bit: `CKPT_IOC_HANDOVER` is understood.
pub const CKPT_FEAT_HANDOVER: u64 = 1 << 9;

/// Leave the target stopped (as by `SIGSTOP`) after the checkpoint.
pub const CKPT_CHECKPOINT_STOP: u64 = 0;
/// Let the target run on after the checkpoint.
pub const CKPT_CHECKPOINT_RESUME: u64 = 1 << 0;
/// Kill the target after the checkpoint.
pub const CKPT_CHECKPOINT_KILL: u64 = 1 << 1;
/// Checkpoint the target and all its descendants (a process tree).
pub const CKPT_CHECKPOINT_TREE: u64 = 1 << 2;
/// `reserved[0]` of [`CkptCheckpointArgs`] is a stream socket on which the module
/// asks for the SysV semaphore sets and message queues of the processes once they
/// are quiesced (see `rust/objects/sysvipc.rs`).
pub const CKPT_CHECKPOINT_SYSV: u64 = 1 << 3;
/// Start dirty tracking: after the image is written (the target still held), the
/// kernel's soft-dirty bits of the target are cleared; the image gets a `track`
/// record whose id [`CkptIncr::track_id`] returns. Needs [`CkptCheckpointArgs::incr`].
pub const CKPT_CHECKPOINT_TRACK: u64 = 1 << 4;
/// Incremental: write only the pages written since the checkpoint whose track id
/// is [`CkptIncr::parent`], the others as references to that parent image. Needs
/// [`CkptCheckpointArgs::incr`].
pub const CKPT_CHECKPOINT_PARENT: u64 = 1 << 5;
/// Accept unix datagram sockets connected to a named socket outside the
/// checkpointed processes (`/dev/log`): the restart connects them to that name
/// again. Also a [`CkptCheckArgs::flags`] bit.
pub const CKPT_CHECKPOINT_EXTERNAL_UNIX: u64 = 1 << 6;
/// All valid checkpoint flags.
pub const CKPT_CHECKPOINT_FLAGS: u64 = CKPT_CHECKPOINT_RESUME
    | CKPT_CHECKPOINT_KILL
    | CKPT_CHECKPOINT_TREE
    | CKPT_CHECKPOINT_SYSV
    | CKPT_CHECKPOINT_TRACK
    | CKPT_CHECKPOINT_PARENT
    | CKPT_CHECKPOINT_EXTERNAL_UNIX;
/// The request on the SysV channel starts with this (`"SYSV"`), then `u32` flags
/// (1: the processes have an IPC namespace of their own), `u32` n, n `i32` pids.
pub const CKPT_SYSV_MAGIC: u32 = 0x5653_5953;

/// `struct ckpt_version`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CkptVersion {
    /// [`CKPT_ABI_VERSION`].
    pub abi_version: u32,
    /// Image format major version written.
    pub image_major: u16,
    /// Image format minor version written.
    pub image_minor: u16,
    /// `CKPT_FEAT_*` bits.
    pub features: u64,
    /// Module version, NUL-terminated.
    pub release: [u8; 64],
}

/// `struct ckpt_checkpoint_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CkptCheckpointArgs {
    /// Target pid in the caller's pid namespace.
    pub pid: i32,
    /// Output file descriptor.
    pub fd: i32,
    /// `CKPT_CHECKPOINT_*`.
    pub flags: u64,
    /// Out: bytes written.
    pub bytes: u64,
    /// With [`CKPT_CHECKPOINT_TRACK`] or [`CKPT_CHECKPOINT_PARENT`]: address of a
    /// [`CkptIncr`]; otherwise zero.
    pub incr: u64,
    /// Must be zero.
    pub reserved: [u64; 3],
}

/// `struct ckpt_incr`: what an incremental or tracking checkpoint needs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CkptIncr {
    /// In, with [`CKPT_CHECKPOINT_PARENT`]: the parent image's track id.
    pub parent: u64,
    /// In: `/proc/PID/pagemap` of the target, open for reading.
    pub pagemap_fd: i32,
    /// In, with [`CKPT_CHECKPOINT_TRACK`]: `/proc/PID/clear_refs` of the target, open
    /// for writing (otherwise -1).
    pub clear_refs_fd: i32,
    /// In, with [`CKPT_CHECKPOINT_PARENT`]: address of the parent's path (recorded in
    /// the image for restart; not opened by the kernel).
    pub path: u64,
    /// In: length of that path (at most 4096).
    pub path_len: u32,
    /// Must be zero.
    pub pad: u32,
    /// In: address of a scratch buffer the kernel uses for the scans.
    pub scratch: u64,
    /// In: its size in bytes (at least [`CKPT_INCR_SCRATCH_MIN`]).
    pub scratch_len: u64,
    /// Out, with [`CKPT_CHECKPOINT_TRACK`]: the new image's track id.
    pub track_id: u64,
    /// Must be zero.
    pub reserved: u64,
}

/// Smallest [`CkptIncr::scratch_len`].
pub const CKPT_INCR_SCRATCH_MIN: u64 = 4096;

/// Length of [`CkptCheckArgs::reason`].
pub const CKPT_REASON_LEN: usize = 240;

/// `struct ckpt_check_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CkptCheckArgs {
    /// Target pid.
    pub pid: i32,
    /// Out: 0 if the target can be checkpointed now, else a positive errno.
    pub status: i32,
    /// In: `0`, [`CKPT_CHECKPOINT_TREE`] (check the whole process tree),
    /// [`CKPT_CHECKPOINT_EXTERNAL_UNIX`] (as the checkpoint would take it).
    pub flags: u64,
    /// Must be zero.
    pub reserved: u64,
    /// Out: NUL-terminated reason.
    pub reason: [u8; CKPT_REASON_LEN],
}

/// Restart: reopen files even if their size or mtime changed since the checkpoint.
pub const CKPT_RESTART_IGNORE_CHANGED: u64 = 1 << 0;
/// Restart: the image's terminals become the fds in [`CkptRestartArgs::stdio`].
pub const CKPT_RESTART_INHERIT_STDIO: u64 = 1 << 1;
/// Restart: hold [`CkptRestartArgs::status_fd`] open to the end, and report a failure
/// after the point of no return to it ([`CKPT_STATUS_FAILED`], a length byte, the reason).
pub const CKPT_RESTART_STATUS_FD: u64 = 1 << 2;
/// Restart: put a vDSO proxy where the image's vDSO was even if this kernel's vDSO
/// has the same symbols (the caller's vDSO must then overlap no mapping of the
/// image); tests the proxy on one kernel.
pub const CKPT_RESTART_VDSO_PROXY: u64 = 1 << 3;
/// All valid restart flags.
pub const CKPT_RESTART_FLAGS: u64 = CKPT_RESTART_IGNORE_CHANGED
    | CKPT_RESTART_INHERIT_STDIO
    | CKPT_RESTART_STATUS_FD
    | CKPT_RESTART_VDSO_PROXY;
/// First byte of the report written to [`CkptRestartArgs::status_fd`].
pub const CKPT_STATUS_FAILED: u8 = b'E';

/// `struct ckpt_restart_pipe`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CkptRestartPipe {
    /// Pipe object id in the image.
    pub id: u32,
    /// Read end, in the caller.
    pub rfd: i32,
    /// Write end, in the caller.
    pub wfd: i32,
    /// Must be zero.
    pub pad: u32,
}

/// `struct ckpt_restart_file`: a file the restarter made for one file of the image
/// that only userspace can create (a socket, an event fd, an epoll set, ...).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CkptRestartFile {
    /// File (open file description) id in the image.
    pub id: u32,
    /// The file, in the caller.
    pub fd: i32,
}

/// The id of a [`CkptRestartFile`] that is no file of the image but the directory
/// the image's paths are names in (the restarter's root before it entered the
/// image's root directory, for a process that ran in a chroot).
pub const CKPT_RESTART_FILE_ROOT: u32 = u32::MAX;

/// The id of a [`CkptRestartFile`] that is a pidfd of a process the restarter made
/// with a pid that the image's unix sockets name as their connection's maker
/// (`SO_PEERCRED`), a process outside the image, and that has exited and been
/// reaped since: the pid, gone as that maker was (any number of them).
pub const CKPT_RESTART_FILE_PEER: u32 = u32::MAX - 1;

/// `struct ckpt_restart_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CkptRestartArgs {
    /// The image.
    pub fd: i32,
    /// Entries at `pipes`.
    pub npipes: u32,
    /// `CKPT_RESTART_*`.
    pub flags: u64,
    /// User pointer to `npipes` [`CkptRestartPipe`]s.
    pub pipes: u64,
    /// With [`CKPT_RESTART_INHERIT_STDIO`]: fds standing in for the image's terminal fds 0-2.
    pub stdio: [i32; 3],
    /// Must be zero.
    pub pad: u32,
    /// The task of the image the caller becomes (its pid or tid in the image); 0: the
    /// image's root process. Every task of a multi-task image calls the ioctl on the
    /// same open `/dev/ckpt` file.
    pub task: i32,
    /// Must be zero.
    pub pad2: u32,
    /// With [`CKPT_RESTART_STATUS_FD`]: where a failure after the point of no return is
    /// reported; held open until the restored task returns to its program. Zero
    /// without the flag.
    pub status_fd: i32,
    /// Must be zero.
    pub pad3: u32,
    /// User pointer to `nfiles` [`CkptRestartFile`]s.
    pub files: u64,
    /// Entries at `files`.
    pub nfiles: u32,
    /// Must be zero.
    pub pad4: u32,
    /// Out: why it failed.
    pub reason: [u8; CKPT_REASON_LEN],
}

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | (CKPT_IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// `struct ckpt_handover_args`: images kept across a kexec in preserved memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CkptHandoverArgs {
    /// `CKPT_HANDOVER_*` op.
    pub op: u32,
    /// Out: `CKPT_HANDOVER_ENABLED`, `CKPT_HANDOVER_KHO_BOOT`.
    pub flags: u32,
    /// PUT, GET: user buffer.
    pub buf: u64,
    /// PUT, GET: bytes at `buf`.
    pub len: u64,
    /// GET: where in the incoming set.
    pub offset: u64,
    /// Out: bytes the previous kernel handed over (0: none left).
    pub in_size: u64,
    /// Out: bytes put for the next kernel (0: none).
    pub out_size: u64,
    /// Out: GET: bytes copied.
    pub done: u64,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// Handover op: only the sizes and flags.
pub const CKPT_HANDOVER_STATUS: u32 = 0;
/// Handover op: hand bytes to the next kernel.
pub const CKPT_HANDOVER_PUT: u32 = 1;
/// Handover op: read the incoming set.
pub const CKPT_HANDOVER_GET: u32 = 2;
/// Handover op: free the incoming set.
pub const CKPT_HANDOVER_RELEASE: u32 = 3;
/// Handover op: withdraw the outgoing set.
pub const CKPT_HANDOVER_DROP: u32 = 4;
/// Handover flag: KHO is on (PUT works).
pub const CKPT_HANDOVER_ENABLED: u32 = 1 << 0;
/// Handover flag: this kernel was booted by a kexec with KHO.
pub const CKPT_HANDOVER_KHO_BOOT: u32 = 1 << 1;

/// `CKPT_IOC_VERSION`.
pub const CKPT_IOC_VERSION: u32 = ioc(IOC_READ, 0x00, core::mem::size_of::<CkptVersion>());
/// `CKPT_IOC_CHECKPOINT`.
pub const CKPT_IOC_CHECKPOINT: u32 = ioc(
    IOC_READ | IOC_WRITE,
    0x01,
    core::mem::size_of::<CkptCheckpointArgs>(),
);
/// `CKPT_IOC_RESTART`.
pub const CKPT_IOC_RESTART: u32 = ioc(
    IOC_READ | IOC_WRITE,
    0x02,
    core::mem::size_of::<CkptRestartArgs>(),
);
/// `CKPT_IOC_CHECK`.
pub const CKPT_IOC_CHECK: u32 = ioc(
    IOC_READ | IOC_WRITE,
    0x03,
    core::mem::size_of::<CkptCheckArgs>(),
);
/// `CKPT_IOC_HANDOVER`.
pub const CKPT_IOC_HANDOVER: u32 = ioc(
    IOC_READ | IOC_WRITE,
    0x10,
    core::mem::size_of::<CkptHandoverArgs>(),
);
