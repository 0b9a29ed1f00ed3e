// SPDX-License-Identifier: GPL-2.0

//! The ckpt image stream format, defined once for the module and the `ckpt` tool.
//!
//! This directory depends on `core` only and is compiled twice: into `ckpt.ko` (as
//! `mod image`) and into the userspace tool (`tools/ckpt`). It is the single
//! definition of the format; `Documentation/ckpt/image-format.rst` describes the
//! same thing in prose for authors of other readers.
//!
//! An image is the 8-byte [`MAGIC`] followed by records. Each record is a
//! [`RecordHeader`] (12 bytes: kind, version, payload length, check) and a
//! payload. All integers are little-endian. The first record is a [`Header`],
//! the last one an [`End`]. Records describe what the process had (semantic
//! state), never raw kernel structures, so a different kernel can read them.
//!
//! Objects that tasks can share (an address space, an open file, a pipe, a
//! signal-handler table, credentials…) are written once, carry a non-zero
//! object id, and are referenced by that id ("objref", as Linux-CR's objhash
//! did). Records that describe one task ([`Regs`], [`Xstate`], [`ThreadSignals`])
//! follow that task's [`Task`] record.

// Layout: framing, errors and versions here; [`hash`] the check; [`codec`] the
// payload encoding and the [`Record`] trait; [`order`] the stream-order rules;
// [`records`] one file per kind of object (mirroring `rust/objects/`).
#[macro_use]
mod codec;
mod hash;
mod order;
mod records;
pub mod vdso;

pub use codec::*;
pub use hash::*;
pub use order::*;
pub use records::*;
pub use vdso::MAX_VDSO_LEN;

use codec::check;
use hash::{le64, xround};

/// Stream magic: PNG-style, so that text-mode mangling and truncation are caught.
pub const MAGIC: [u8; 8] = [0x89, b'C', b'K', b'P', b'T', b'\r', b'\n', 0x1a];
/// Format major version; a reader rejects any other major.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version; additions that old readers can skip bump it.
pub const FORMAT_MINOR: u16 = 12;
/// ELF machine number of x86_64, the only architecture so far.
pub const ARCH_X86_64: u16 = 62;
/// Size of a [`RecordHeader`] on the wire.
pub const REC_HDR_LEN: usize = 12;
/// Largest payload a reader accepts (a [`Pages`] record of [`MAX_PAGES_PER_RECORD`] pages fits).
pub const MAX_RECORD_LEN: u32 = 4 << 20;
/// Most pages in one [`Pages`] record.
pub const MAX_PAGES_PER_RECORD: u32 = 512;
/// Longest path or name accepted.
pub const MAX_PATH_LEN: usize = 4096;
/// Page size of x86_64.
pub const PAGE_SIZE: usize = 4096;
/// Exclusive upper bound of user addresses on x86_64 with 4-level paging
/// (`TASK_SIZE_MAX`); with 5-level paging a later format version can raise it.
pub const USER_ADDR_END: u64 = 0x0000_7fff_ffff_f000;
/// `S_IFMT`: the file type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// `S_IFREG`: a regular file.
pub const S_IFREG: u32 = 0o100000;
/// `O_PATH` (x86_64).
pub const O_PATH: u32 = 0o10000000;
/// Address of the legacy vsyscall page, the one mapping above [`USER_ADDR_END`].
pub const VSYSCALL_ADDR: u64 = 0xffff_ffff_ff60_0000;
/// Bit set in a record kind whose records an old reader may skip.
pub const KIND_OPTIONAL: u16 = 0x8000;
/// Number of signals (`_NSIG`).
pub const NSIG: usize = 64;
/// Number of resource limits (`RLIM_NLIMITS`).
pub const NRLIMITS: usize = 16;
/// Size of a saved signal's `siginfo` (the kernel_siginfo prefix of `siginfo_t`).
pub const SIGINFO_LEN: usize = 48;
/// Most `auxv` words kept (`AT_VECTOR_SIZE` on x86_64 is 2 * (2 + 20 + 1 + 1)).
pub const MAX_AUXV_WORDS: usize = 64;
/// Most supplementary groups kept.
pub const MAX_GROUPS: usize = 65536;
/// Largest XSAVE area accepted.
pub const MAX_XSTATE_LEN: usize = 64 * 1024;

/// Errors found while decoding (or, for `Overflow`, encoding) a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The stream does not start with [`MAGIC`].
    BadMagic,
    /// The format version is not one this reader knows.
    UnsupportedFormat {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The image is for another architecture.
    ForeignArch(u16),
    /// The image was taken with another page size.
    BadPageSize(u32),
    /// The stream or a record ends early.
    Truncated,
    /// A record's check does not match its content.
    BadCheck {
        /// Kind of the damaged record.
        kind: u16,
    },
    /// A record kind this reader does not know and may not skip.
    UnknownKind(u16),
    /// A known record kind at a version this reader does not know.
    UnsupportedRecordVersion {
        /// Kind of the record.
        kind: u16,
        /// Version found.
        version: u16,
    },
    /// A record longer than the format allows.
    TooLarge {
        /// Kind of the record.
        kind: u16,
        /// Length found.
        len: u32,
    },
    /// A record whose fields are inconsistent; the text says which.
    Malformed(&'static str),
    /// Records out of order (e.g. no [`Header`] first); the text says which.
    BadOrder(&'static str),
    /// The [`End`] record does not match the stream it closes.
    TrailerMismatch,
    /// An encoding buffer was too small.
    Overflow,
}

impl ImageError {
    /// A short human-readable description.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::BadMagic => "not a ckpt image (bad magic)",
            Self::UnsupportedFormat { .. } => "unsupported image format version",
            Self::ForeignArch(_) => "image is for another architecture",
            Self::BadPageSize(_) => "image has another page size",
            Self::Truncated => "image is truncated",
            Self::BadCheck { .. } => "record check mismatch (corrupted image)",
            Self::UnknownKind(_) => "unknown record kind",
            Self::UnsupportedRecordVersion { .. } => "unsupported record version",
            Self::TooLarge { .. } => "record too large",
            Self::Malformed(m) => m,
            Self::BadOrder(m) => m,
            Self::TrailerMismatch => "trailer does not match the stream",
            Self::Overflow => "encoding buffer too small",
        }
    }
}

/// Result of decoding.
pub type Result<T> = core::result::Result<T, ImageError>;

// ---------------------------------------------------------------------------
// Record kinds.

/// Record kinds. Ranges by area: 0x00xx stream, 0x01xx task, 0x02xx CPU,
/// 0x03xx files, 0x04xx memory, 0x05xx SysV IPC, 0x06xx signals, 0x07xx credentials.
pub mod kind {
    /// [`super::Header`].
    pub const HEADER: u16 = 0x0001;
    /// [`super::End`].
    pub const END: u16 = 0x00ff;
    /// [`super::Task`].
    pub const TASK: u16 = 0x0100;
    /// [`super::Rlimits`].
    pub const RLIMITS: u16 = 0x0101;
    /// [`super::Regs`].
    pub const REGS: u16 = 0x0200;
    /// [`super::Xstate`].
    pub const XSTATE: u16 = 0x0201;
    /// [`super::FileRec`].
    pub const FILE: u16 = 0x0300;
    /// [`super::PipeRec`].
    pub const PIPE: u16 = 0x0301;
    /// [`super::FilesRec`].
    pub const FILES: u16 = 0x0310;
    /// [`super::Fd`].
    pub const FD: u16 = 0x0311;
    /// [`super::FsRec`].
    pub const FS: u16 = 0x0320;
    /// [`super::MmRec`].
    pub const MM: u16 = 0x0400;
    /// [`super::Vma`].
    pub const VMA: u16 = 0x0401;
    /// [`super::Pages`].
    pub const PAGES: u16 = 0x0402;
    /// [`super::PageRefs`] (since format 1.3; not optional).
    pub const PAGE_REFS: u16 = 0x0404;
    /// [`super::Sighand`].
    pub const SIGHAND: u16 = 0x0600;
    /// [`super::SignalRec`].
    pub const SIGNAL: u16 = 0x0601;
    /// [`super::ThreadSignals`].
    pub const THREAD_SIGNALS: u16 = 0x0610;
    /// [`super::Creds`].
    pub const CREDS: u16 = 0x0700;
    /// [`super::Rseq`]: optional (an old reader skips it and restarts without it).
    pub const RSEQ: u16 = super::KIND_OPTIONAL | 0x0102;
    /// [`super::Ctty`]: optional (an old reader skips it; the process then comes
    /// back without its controlling terminal).
    pub const CTTY: u16 = super::KIND_OPTIONAL | 0x0103;
    /// [`super::VdsoId`]: optional (an old reader skips it and checks only the
    /// vDSO's place and size).
    pub const VDSO: u16 = super::KIND_OPTIONAL | 0x0403;
    /// [`super::VdsoText`]: optional (an old reader skips it; without it a restart
    /// under a kernel whose vDSO differs is refused). Since format 1.3.
    pub const VDSO_TEXT: u16 = super::KIND_OPTIONAL | 0x0404;
    /// [`super::TaskAttrs`]: optional (an old reader skips it; the task then comes
    /// back with the restarter's scheduling, prctl and job-control state).
    pub const TASK_ATTRS: u16 = super::KIND_OPTIONAL | 0x0104;
    /// [`super::Fown`]: optional (an old reader skips it; the file then comes back
    /// without its `SIGIO` owner).
    pub const FOWN: u16 = super::KIND_OPTIONAL | 0x0302;
    /// [`super::Pty`]: optional (an old reader skips it; a pseudo-terminal
    /// master then cannot be restored). Since format 1.2.
    pub const PTY: u16 = super::KIND_OPTIONAL | 0x0304;
    /// [`super::FileOwner`]: optional (an old reader skips it; a deleted file
    /// then comes back owned by its restarter). Since format 1.2.
    pub const FILE_OWNER: u16 = super::KIND_OPTIONAL | 0x0305;
    /// [`super::CwdDeleted`]: optional (an old reader skips it and cannot enter
    /// the deleted directory). Since format 1.2.
    pub const CWD_DELETED: u16 = super::KIND_OPTIONAL | 0x0321;
    /// [`super::LinkTarget`]: not optional (a reader that skipped it could not make
    /// the deleted symlink again). Since format 1.4 (session 6).
    pub const LINK_TARGET: u16 = 0x0306;
    /// [`super::FileOpener`]: not optional (a reader that skipped it would open
    /// the file with the process's credentials, which may not). Since format 1.12.
    pub const FILE_OPENER: u16 = 0x0307;
    /// [`super::PosixTimer`]: not optional (a reader that skipped it would bring
    /// the process back without its timers).
    pub const POSIX_TIMER: u16 = 0x0602;
    /// [`super::FileLock`]: not optional (a reader that skipped it would bring the
    /// files back unlocked).
    pub const FILE_LOCK: u16 = 0x0318;
    /// [`super::EventfdRec`]. Since format 1.3.
    pub const EVENTFD: u16 = 0x0350;
    /// [`super::TimerfdRec`]. Since format 1.3.
    pub const TIMERFD: u16 = 0x0351;
    /// [`super::SignalfdRec`]. Since format 1.3.
    pub const SIGNALFD: u16 = 0x0352;
    /// [`super::EpollItem`]. Since format 1.3.
    pub const EPOLL_ITEM: u16 = 0x0353;
    /// [`super::InotifyWatch`]. Since format 1.3.
    pub const INOTIFY_WATCH: u16 = 0x0354;
    /// [`super::UnixSock`]. Since format 1.3.
    pub const UNIX_SOCK: u16 = 0x0340;
    /// [`super::UnixSkb`]. Since format 1.3.
    pub const UNIX_SKB: u16 = 0x0341;
    /// [`super::UnixFds`]: not optional (a reader that skipped it would queue the
    /// message without its files). Since format 1.4.
    pub const UNIX_FDS: u16 = 0x0342;
    /// [`super::UnixCreds`]: not optional (a reader that skipped it would queue
    /// the message with the restarter's credentials, or none). Since format 1.5.
    pub const UNIX_CREDS: u16 = 0x0355;
    /// [`super::UnixPeer`]: not optional (a reader that skipped it would give the
    /// socket the restarter's peer credentials). Since format 1.12.
    pub const UNIX_PEER: u16 = 0x0343;
    /// [`super::SemSet`]: not optional (a reader that skipped it would bring the
    /// processes back without their semaphores). Since format 1.4.
    pub const SEM_SET: u16 = 0x0500;
    /// [`super::MsgQueue`]. Since format 1.4.
    pub const MSG_QUEUE: u16 = 0x0501;
    /// [`super::SysvMsg`]. Since format 1.4.
    pub const SYSV_MSG: u16 = 0x0502;
    /// [`super::IpcNs`]. Since format 1.4.
    pub const IPC_NS: u16 = 0x0503;
    /// [`super::Parent`]: not optional (a reader that skipped it would restore
    /// without the parent's pages). Since format 1.4.
    pub const PARENT: u16 = 0x0002;
    /// [`super::Track`]: optional (an old reader skips it). Since format 1.4.
    pub const TRACK: u16 = super::KIND_OPTIONAL | 0x0003;
    /// [`super::ParentPages`]: not optional. Since format 1.4.
    pub const PARENT_PAGES: u16 = 0x0405;
    /// [`super::FanotifyGroup`]: not optional (a reader that skipped it could
    /// not make the group). Since format 1.7.
    pub const FANOTIFY_GROUP: u16 = 0x0356;
    /// [`super::FanotifyMark`]: not optional (a reader that skipped it would
    /// bring the group back without its marks). Since format 1.7.
    pub const FANOTIFY_MARK: u16 = 0x0357;
    /// [`super::PidfdRec`]: not optional (a reader that skipped it could not
    /// give the pidfd its process). Since format 1.8.
    pub const PIDFD: u16 = 0x0360;
    /// [`super::FileLease`]: not optional (a reader that skipped it would bring
    /// the file back without its lease). Since format 1.9.
    pub const FILE_LEASE: u16 = 0x0361;
    /// [`super::PtyInput`]: not optional (a reader that skipped it would lose the
    /// bytes a process had not read yet). Since format 1.10.
    pub const PTY_INPUT: u16 = 0x0362;

    /// The name of a kind, for diagnostics.
    pub fn name(kind: u16) -> &'static str {
        match kind {
            HEADER => "header",
            END => "end",
            TASK => "task",
            RLIMITS => "rlimits",
            REGS => "regs",
            XSTATE => "xstate",
            FILE => "file",
            PIPE => "pipe",
            FILES => "files",
            FD => "fd",
            FS => "fs",
            MM => "mm",
            VMA => "vma",
            PAGES => "pages",
            PAGE_REFS => "page-refs",
            SIGHAND => "sighand",
            SIGNAL => "signal",
            THREAD_SIGNALS => "thread-signals",
            CREDS => "creds",
            RSEQ => "rseq",
            CTTY => "ctty",
            VDSO => "vdso",
            VDSO_TEXT => "vdso-text",
            TASK_ATTRS => "task-attrs",
            FOWN => "fown",
            PTY => "pty",
            FILE_OWNER => "file-owner",
            CWD_DELETED => "cwd-deleted",
            LINK_TARGET => "link-target",
            FILE_OPENER => "file-opener",
            POSIX_TIMER => "posix-timer",
            FILE_LOCK => "file-lock",
            EVENTFD => "eventfd",
            TIMERFD => "timerfd",
            SIGNALFD => "signalfd",
            EPOLL_ITEM => "epoll-item",
            INOTIFY_WATCH => "inotify-watch",
            UNIX_SOCK => "unix",
            UNIX_SKB => "unix-skb",
            UNIX_FDS => "unix-fds",
            UNIX_CREDS => "unix-creds",
            UNIX_PEER => "unix-peer",
            SEM_SET => "sysv-sem",
            MSG_QUEUE => "sysv-msgq",
            SYSV_MSG => "sysv-msg",
            IPC_NS => "sysv-ns",
            PARENT => "parent",
            TRACK => "track",
            PARENT_PAGES => "parent-pages",
            FANOTIFY_GROUP => "fanotify-group",
            FANOTIFY_MARK => "fanotify-mark",
            PIDFD => "pidfd",
            FILE_LEASE => "file-lease",
            PTY_INPUT => "pty-input",
            _ => "unknown",
        }
    }

    /// The newest version of `kind` this code knows, or `None` if unknown.
    pub fn max_version(kind: u16) -> Option<u16> {
        match kind {
            HEADER | END | TASK | RLIMITS | REGS | XSTATE | FILE | PIPE | FILES | FD | FS | MM
            | VMA | PAGES | PAGE_REFS | SIGHAND | SIGNAL | THREAD_SIGNALS | CREDS | RSEQ | CTTY
            | VDSO | VDSO_TEXT | TASK_ATTRS | FOWN | PTY | FILE_OWNER | CWD_DELETED
            | LINK_TARGET | FILE_OPENER => Some(1),
            POSIX_TIMER | FILE_LOCK => Some(1),
            EVENTFD | TIMERFD | SIGNALFD | EPOLL_ITEM | INOTIFY_WATCH => Some(1),
            UNIX_SOCK | UNIX_SKB | UNIX_FDS | UNIX_CREDS | UNIX_PEER => Some(1),
            SEM_SET | MSG_QUEUE | SYSV_MSG | IPC_NS => Some(1),
            PARENT | TRACK | PARENT_PAGES => Some(1),
            FANOTIFY_GROUP | FANOTIFY_MARK => Some(1),
            PIDFD => Some(1),
            FILE_LEASE | PTY_INPUT => Some(1),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Record framing.

/// The 12-byte header in front of every record payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// One of [`kind`]; [`KIND_OPTIONAL`] marks skippable kinds.
    pub kind: u16,
    /// Layout version of this kind.
    pub version: u16,
    /// Payload length in bytes.
    pub len: u32,
    /// [`RecordHeader::seal`] of kind, version, length and payload.
    pub check: u32,
}

impl RecordHeader {
    /// Starts the check of a record; feed the payload to the returned hasher,
    /// then pass it to [`RecordHeader::seal`].
    pub fn hasher(kind: u16, version: u16, len: u32) -> Hasher {
        Hasher::new(kind as u64 | (version as u64) << 16 | (len as u64) << 32)
    }

    /// Finishes a record header from the hasher of its payload.
    pub fn seal(kind: u16, version: u16, len: u32, h: &Hasher) -> Self {
        let d = h.finish();
        Self {
            kind,
            version,
            len,
            check: (d as u32) ^ ((d >> 32) as u32),
        }
    }

    /// Header of a record whose whole payload is at hand.
    pub fn for_payload(kind: u16, version: u16, payload: &[u8]) -> Self {
        let len = payload.len() as u32;
        let mut h = Self::hasher(kind, version, len);
        h.update(payload);
        Self::seal(kind, version, len, &h)
    }

    /// Wire form.
    pub fn to_bytes(&self) -> [u8; REC_HDR_LEN] {
        let mut b = [0u8; REC_HDR_LEN];
        b[0..2].copy_from_slice(&self.kind.to_le_bytes());
        b[2..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..12].copy_from_slice(&self.check.to_le_bytes());
        b
    }

    /// Parses and checks the framing (not the payload): the kind must be
    /// known (or optional), its version supported, the length in bounds.
    /// Returns `(header, false)` for an optional record the reader should skip.
    pub fn parse(b: &[u8; REC_HDR_LEN]) -> Result<(Self, bool)> {
        let h = Self {
            kind: u16::from_le_bytes([b[0], b[1]]),
            version: u16::from_le_bytes([b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            check: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        };
        if h.len > MAX_RECORD_LEN {
            return Err(ImageError::TooLarge {
                kind: h.kind,
                len: h.len,
            });
        }
        match kind::max_version(h.kind) {
            Some(max) if h.version >= 1 && h.version <= max => Ok((h, true)),
            Some(_) if h.kind & KIND_OPTIONAL != 0 => Ok((h, false)),
            Some(_) => Err(ImageError::UnsupportedRecordVersion {
                kind: h.kind,
                version: h.version,
            }),
            None if h.kind & KIND_OPTIONAL != 0 => Ok((h, false)),
            None => Err(ImageError::UnknownKind(h.kind)),
        }
    }

    /// Verifies `payload` against the check.
    pub fn verify(&self, payload: &[u8]) -> Result<()> {
        if payload.len() != self.len as usize {
            return Err(ImageError::Truncated);
        }
        if Self::for_payload(self.kind, self.version, payload).check != self.check {
            return Err(ImageError::BadCheck { kind: self.kind });
        }
        Ok(())
    }
}

/// Running account of a stream, kept by writer and reader alike; the [`End`]
/// record carries the writer's, the reader compares it with its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamAccount {
    /// Records before the `End` record.
    pub records: u64,
    /// Bytes before the `End` record, magic included.
    pub bytes: u64,
    /// Chained checks of those records.
    pub chain: u64,
}

impl StreamAccount {
    /// A fresh account; the magic is already counted.
    pub fn new() -> Self {
        Self {
            records: 0,
            bytes: MAGIC.len() as u64,
            chain: 0,
        }
    }

    /// Accounts for one record.
    pub fn add(&mut self, h: &RecordHeader) {
        self.count(h);
        self.chain_one(h.kind, h.check);
    }

    /// Counts one record and its bytes (its check goes to [`StreamAccount::chain_one`],
    /// in stream order, maybe later).
    pub fn count(&mut self, h: &RecordHeader) {
        self.records += 1;
        self.bytes += (REC_HDR_LEN as u64) + h.len as u64;
    }

    /// Chains the check of the next record (of kind `kind`).
    pub fn chain_one(&mut self, kind: u16, check: u32) {
        self.chain = xround(self.chain ^ ((kind as u64) << 32), check as u64);
    }
}

// ---------------------------------------------------------------------------
// Whole records and stream order.

/// Any decoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyRecord<'a> {
    /// [`Header`].
    Header(Header<'a>),
    /// [`End`].
    End(End),
    /// [`Task`].
    Task(Task<'a>),
    /// [`Rlimits`].
    Rlimits(Rlimits),
    /// [`Regs`].
    Regs(Regs),
    /// [`Xstate`].
    Xstate(Xstate<'a>),
    /// [`FileRec`].
    File(FileRec<'a>),
    /// [`PipeRec`].
    Pipe(PipeRec<'a>),
    /// [`FilesRec`].
    Files(FilesRec),
    /// [`Fd`].
    Fd(Fd),
    /// [`FsRec`].
    Fs(FsRec<'a>),
    /// [`MmRec`].
    Mm(MmRec<'a>),
    /// [`Vma`].
    Vma(Vma<'a>),
    /// [`Pages`].
    Pages(Pages<'a>),
    /// [`PageRefs`].
    PageRefs(PageRefs<'a>),
    /// [`Sighand`].
    Sighand(Sighand<'a>),
    /// [`SignalRec`].
    Signal(SignalRec<'a>),
    /// [`ThreadSignals`].
    ThreadSignals(ThreadSignals<'a>),
    /// [`Creds`].
    Creds(Creds<'a>),
    /// [`Rseq`].
    Rseq(Rseq),
    /// [`Ctty`].
    Ctty(Ctty<'a>),
    /// [`VdsoId`].
    Vdso(VdsoId),
    /// [`VdsoText`].
    VdsoText(VdsoText<'a>),
    /// [`TaskAttrs`].
    TaskAttrs(TaskAttrs),
    /// [`Fown`].
    Fown(Fown),
    /// [`Pty`].
    Pty(Pty),
    /// [`CwdDeleted`].
    CwdDeleted(CwdDeleted),
    /// [`FileOwner`].
    FileOwner(FileOwner),
    /// [`LinkTarget`].
    LinkTarget(LinkTarget<'a>),
    /// [`FileOpener`].
    FileOpener(FileOpener<'a>),
    /// [`PosixTimer`].
    PosixTimer(PosixTimer),
    /// [`FileLock`].
    FileLock(FileLock),
    /// [`EventfdRec`].
    Eventfd(EventfdRec),
    /// [`TimerfdRec`].
    Timerfd(TimerfdRec),
    /// [`SignalfdRec`].
    Signalfd(SignalfdRec),
    /// [`EpollItem`].
    EpollItem(EpollItem),
    /// [`InotifyWatch`].
    InotifyWatch(InotifyWatch<'a>),
    /// [`UnixSock`].
    UnixSock(UnixSock<'a>),
    /// [`UnixSkb`].
    UnixSkb(UnixSkb<'a>),
    /// [`UnixFds`].
    UnixFds(UnixFds<'a>),
    /// [`UnixCreds`].
    UnixCreds(UnixCreds),
    /// [`UnixPeer`].
    UnixPeer(UnixPeer<'a>),
    /// [`SemSet`].
    SemSet(SemSet<'a>),
    /// [`MsgQueue`].
    MsgQueue(MsgQueue),
    /// [`SysvMsg`].
    SysvMsg(SysvMsg<'a>),
    /// [`IpcNs`].
    IpcNs(IpcNs),
    /// [`Parent`].
    Parent(Parent<'a>),
    /// [`Track`].
    Track(Track),
    /// [`ParentPages`].
    ParentPages(ParentPages<'a>),
    /// [`FanotifyGroup`].
    FanotifyGroup(FanotifyGroup),
    /// [`FanotifyMark`].
    FanotifyMark(FanotifyMark<'a>),
    /// [`PidfdRec`].
    Pidfd(PidfdRec),
    /// [`FileLease`].
    FileLease(FileLease),
    /// [`PtyInput`].
    PtyInput(PtyInput<'a>),
}

impl<'a> AnyRecord<'a> {
    /// Decodes the payload of a record whose header [`RecordHeader::parse`]
    /// accepted and whose check [`RecordHeader::verify`] confirmed.
    pub fn decode(h: &RecordHeader, p: &'a [u8]) -> Result<Self> {
        Ok(match h.kind {
            kind::HEADER => Self::Header(Header::from_payload(p)?),
            kind::END => Self::End(End::from_payload(p)?),
            kind::TASK => Self::Task(Task::from_payload(p)?),
            kind::RLIMITS => Self::Rlimits(Rlimits::from_payload(p)?),
            kind::REGS => Self::Regs(Regs::from_payload(p)?),
            kind::XSTATE => Self::Xstate(Xstate::from_payload(p)?),
            kind::FILE => Self::File(FileRec::from_payload(p)?),
            kind::PIPE => Self::Pipe(PipeRec::from_payload(p)?),
            kind::FILES => Self::Files(FilesRec::from_payload(p)?),
            kind::FD => Self::Fd(Fd::from_payload(p)?),
            kind::FS => Self::Fs(FsRec::from_payload(p)?),
            kind::MM => Self::Mm(MmRec::from_payload(p)?),
            kind::VMA => Self::Vma(Vma::from_payload(p)?),
            kind::PAGES => Self::Pages(Pages::from_payload(p)?),
            kind::PAGE_REFS => Self::PageRefs(PageRefs::from_payload(p)?),
            kind::SIGHAND => Self::Sighand(Sighand::from_payload(p)?),
            kind::SIGNAL => Self::Signal(SignalRec::from_payload(p)?),
            kind::THREAD_SIGNALS => Self::ThreadSignals(ThreadSignals::from_payload(p)?),
            kind::CREDS => Self::Creds(Creds::from_payload(p)?),
            kind::RSEQ => Self::Rseq(Rseq::from_payload(p)?),
            kind::CTTY => Self::Ctty(Ctty::from_payload(p)?),
            kind::VDSO => Self::Vdso(VdsoId::from_payload(p)?),
            kind::VDSO_TEXT => Self::VdsoText(VdsoText::from_payload(p)?),
            kind::TASK_ATTRS => Self::TaskAttrs(TaskAttrs::from_payload(p)?),
            kind::FOWN => Self::Fown(Fown::from_payload(p)?),
            kind::PTY => Self::Pty(Pty::from_payload(p)?),
            kind::CWD_DELETED => Self::CwdDeleted(CwdDeleted::from_payload(p)?),
            kind::FILE_OWNER => Self::FileOwner(FileOwner::from_payload(p)?),
            kind::LINK_TARGET => Self::LinkTarget(LinkTarget::from_payload(p)?),
            kind::FILE_OPENER => Self::FileOpener(FileOpener::from_payload(p)?),
            kind::POSIX_TIMER => Self::PosixTimer(PosixTimer::from_payload(p)?),
            kind::FILE_LOCK => Self::FileLock(FileLock::from_payload(p)?),
            kind::EVENTFD => Self::Eventfd(EventfdRec::from_payload(p)?),
            kind::TIMERFD => Self::Timerfd(TimerfdRec::from_payload(p)?),
            kind::SIGNALFD => Self::Signalfd(SignalfdRec::from_payload(p)?),
            kind::EPOLL_ITEM => Self::EpollItem(EpollItem::from_payload(p)?),
            kind::INOTIFY_WATCH => Self::InotifyWatch(InotifyWatch::from_payload(p)?),
            kind::UNIX_SOCK => Self::UnixSock(UnixSock::from_payload(p)?),
            kind::UNIX_SKB => Self::UnixSkb(UnixSkb::from_payload(p)?),
            kind::UNIX_FDS => Self::UnixFds(UnixFds::from_payload(p)?),
            kind::UNIX_CREDS => Self::UnixCreds(UnixCreds::from_payload(p)?),
            kind::UNIX_PEER => Self::UnixPeer(UnixPeer::from_payload(p)?),
            kind::SEM_SET => Self::SemSet(SemSet::from_payload(p)?),
            kind::MSG_QUEUE => Self::MsgQueue(MsgQueue::from_payload(p)?),
            kind::SYSV_MSG => Self::SysvMsg(SysvMsg::from_payload(p)?),
            kind::IPC_NS => Self::IpcNs(IpcNs::from_payload(p)?),
            kind::PARENT => Self::Parent(Parent::from_payload(p)?),
            kind::TRACK => Self::Track(Track::from_payload(p)?),
            kind::PARENT_PAGES => Self::ParentPages(ParentPages::from_payload(p)?),
            kind::FANOTIFY_GROUP => Self::FanotifyGroup(FanotifyGroup::from_payload(p)?),
            kind::FANOTIFY_MARK => Self::FanotifyMark(FanotifyMark::from_payload(p)?),
            kind::PIDFD => Self::Pidfd(PidfdRec::from_payload(p)?),
            kind::FILE_LEASE => Self::FileLease(FileLease::from_payload(p)?),
            kind::PTY_INPUT => Self::PtyInput(PtyInput::from_payload(p)?),
            k => return Err(ImageError::UnknownKind(k)),
        })
    }
}
