// SPDX-License-Identifier: GPL-2.0

//! Synthetic images of a made-up process, with every record kind, for the
//! tests and as the fuzz target's seed. The `pub` values below are what the
//! tests expect `ckpt show` to report.

use crate::image::*;
use crate::writer::ImageWriter;

/// `Header::root_pid` and the leader's pid.
pub const ROOT_PID: i32 = 100;
/// `Header::time_ns`: 2025-11-25 21:38:00 UTC.
pub const TIME_NS: u64 = 1_764_106_680_000_000_000;
/// `Header::kernel_release`.
pub const KERNEL: &str = "6.12.0-ckpt";
/// `Header::hostname`.
pub const HOSTNAME: &str = "testhost";
/// The executable.
pub const EXE: &str = "/usr/bin/sample";
/// Size of the XSAVE area in the sample.
pub const XSTATE_SIZE: usize = 832;
/// `XSTATE_BV` in the sample.
pub const XSTATE_BV: u64 = 0x7;
/// `rip` of thread `t` is `RIP + t`.
pub const RIP: u64 = 0x40_1234;
/// Bytes buffered in the sample's pipe.
pub const PIPE_DATA: &[u8] = b"hello\n\x00\xff";

/// Object ids of the sample, in the order they are written.
pub mod id {
    /// The pipe.
    pub const PIPE: u32 = 1;
    /// Its read end.
    pub const PIPE_R: u32 = 2;
    /// Its write end.
    pub const PIPE_W: u32 = 3;
    /// The executable, open for its mappings.
    pub const EXE: u32 = 4;
    /// `/dev/null`.
    pub const NULL: u32 = 5;
    /// A data file.
    pub const DATA: u32 = 6;
    /// The fd table.
    pub const FILES: u32 = 7;
    /// cwd and root.
    pub const FS: u32 = 8;
    /// Signal handlers.
    pub const SIGHAND: u32 = 9;
    /// Process-wide signal state.
    pub const SIGNAL: u32 = 10;
    /// Credentials.
    pub const CREDS: u32 = 11;
    /// The address space.
    pub const MM: u32 = 12;
    /// An eventfd (not in the fd table: its records are there for the
    /// readers and the fuzzer).
    pub const EVENTFD: u32 = 13;
    /// A timerfd.
    pub const TIMERFD: u32 = 14;
    /// A signalfd.
    pub const SIGNALFD: u32 = 15;
    /// An inotify file.
    pub const INOTIFY: u32 = 16;
    /// An epoll set watching the eventfd and the inotify file.
    pub const EPOLL: u32 = 17;
    /// A unix socket (in [`super::v13`] only).
    pub const UNIX: u32 = 18;
    /// A second address space, sharing a page with the first (in [`super::v13`]
    /// only: a forked child's, whose task is not in the image).
    pub const MM2: u32 = 19;
    /// A pidfd of the root process (in [`super::v13`] only; not in the fd table).
    pub const PIDFD: u32 = 20;
    /// A fanotify group with a mark.
    pub const FANOTIFY: u32 = 21;
}

/// A SysV semaphore set and a message queue with two messages (before the
/// first address space).
pub fn write_sysv(w: &mut ImageWriter) -> Result<()> {
    w.record(&IpcNs {
        flags: IPC_NS_OWN,
        msgmax: 8192,
        msgmnb: 16384,
        msgmni: 32000,
        semmsl: 32000,
        semmns: 1_024_000_000,
        semopm: 500,
        semmni: 32000,
        shmmax: 1 << 40,
        shmall: 1 << 28,
        shmmni: 4096,
    })?;
    let perm = IpcPerm {
        id: 32768,
        key: 0x5c01,
        uid: 1000,
        gid: 1000,
        cuid: 1000,
        cgid: 100,
        mode: 0o640,
    };
    w.record(&SemSet {
        perm,
        values: &[1, 0, 0, 0, 0xff, 0x7f],
    })?;
    let q = IpcPerm {
        id: 65536,
        key: 0,
        mode: 0o600,
        ..perm
    };
    w.record(&MsgQueue {
        perm: q,
        qbytes: 16384,
        count: 2,
    })?;
    w.record(&SysvMsg {
        queue: q.id,
        mtype: 5,
        data: b"first",
    })?;
    w.record(&SysvMsg {
        queue: q.id,
        mtype: 1,
        data: b"",
    })?;
    Ok(())
}

/// The event-loop files and their records (after the address space).
pub fn write_events(w: &mut ImageWriter) -> Result<()> {
    let anon = |id, kind, path| file(id, kind, 0o4002, 0o600, path);
    w.record(&anon(
        id::EVENTFD,
        filekind::EVENTFD,
        b"anon_inode:[eventfd]",
    ))?;
    w.record(&EventfdRec {
        file: id::EVENTFD,
        count: 1 << 33,
        flags: EFD_SEMAPHORE,
    })?;
    w.record(&anon(
        id::TIMERFD,
        filekind::TIMERFD,
        b"anon_inode:[timerfd]",
    ))?;
    w.record(&TimerfdRec {
        file: id::TIMERFD,
        clockid: 1,
        settime_flags: TFD_TIMER_ABSTIME,
        ticks: 3,
        value_ns: 1_500_000_000,
        interval_ns: 1_000_000_000,
        now_ns: 42_000_000_000,
    })?;
    w.record(&anon(
        id::SIGNALFD,
        filekind::SIGNALFD,
        b"anon_inode:[signalfd]",
    ))?;
    w.record(&SignalfdRec {
        file: id::SIGNALFD,
        mask: 1 << (10 - 1),
    })?;
    w.record(&anon(id::INOTIFY, filekind::INOTIFY, b"anon_inode:inotify"))?;
    w.record(&InotifyWatch {
        file: id::INOTIFY,
        wd: 2,
        mask: 0x100,
        dev: 0x16,
        ino: 1234,
        path: b"/tmp/watched",
    })?;
    w.record(&anon(id::EPOLL, filekind::EPOLL, b"anon_inode:[eventpoll]"))?;
    for (tfd, target, events) in [(9, id::EVENTFD, 1u32), (10, id::INOTIFY, 1 | 1 << 31)] {
        w.record(&EpollItem {
            file: id::EPOLL,
            tfd,
            target,
            events,
            data: 0x1234_5678_9abc_def0 + u64::from(tfd),
        })?;
    }
    Ok(())
}

/// A fanotify group with a mark (after every other file: its id is the largest).
pub fn write_fanotify(w: &mut ImageWriter) -> Result<()> {
    let anon = |id, kind, path| file(id, kind, 0o4002, 0o600, path);
    w.record(&anon(
        id::FANOTIFY,
        filekind::FANOTIFY,
        b"anon_inode:[fanotify]",
    ))?;
    w.record(&FanotifyGroup {
        file: id::FANOTIFY,
        // FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_FID | FAN_REPORT_DFID_NAME.
        flags: 0x0e03,
        event_f_flags: 0o100000,
        unpriv: 0,
    })?;
    w.record(&FanotifyMark {
        file: id::FANOTIFY,
        mark_type: FAN_MARK_INODE,
        flags: 0x400,
        mask: 0x4800_0100,
        ignore_mask: 0x2,
        dev: 0x16,
        ino: 1235,
        path: b"/tmp/marked",
    })?;
    w.record(&FanotifyMark {
        file: id::FANOTIFY,
        mark_type: FAN_MARK_MOUNT,
        flags: 0x40,
        mask: 0x4000_0020,
        ignore_mask: 0x1,
        dev: 0,
        ino: 0,
        path: b"/tmp",
    })?;
    Ok(())
}

/// What image to build.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Number of threads (1 or more).
    pub threads: u32,
    /// Page addresses, one list per [`Pages`] record.
    pub pages: Vec<Vec<u64>>,
    /// Also every optional record and every kind format 1.3 added (vDSO identity and
    /// text, unix socket and its queued bytes, page references, pty, ctty, rseq,
    /// owners, deleted cwd): the fuzzer's seed for them.
    pub v13: bool,
    /// A [`Track`] record with this id.
    pub track: Option<u64>,
    /// A [`Parent`] record: the parent's track id and account (path
    /// [`PARENT_PATH`]).
    pub parent: Option<(u64, StreamAccount)>,
    /// [`ParentPages`] runs (start, pages) after the page records.
    pub runs: Vec<(u64, u32)>,
}

/// [`Parent::path`] in the sample's incremental images.
pub const PARENT_PATH: &str = "parent.img";
/// [`Track::id`] of [`tracked`].
pub const TRACK_ID: u64 = 0x1234_5678_9abc_def1;

/// [`full`] with a [`Track`] record: a parent for [`incremental`].
pub fn tracked() -> Vec<u8> {
    build(&Spec {
        track: Some(TRACK_ID),
        ..spec(2, full_pages())
    })
}

/// An image taken against `parent` (a [`tracked`] image, at [`PARENT_PATH`]):
/// one new page ([`INCR_NEW_PAGE`]), the parent's pages in runs except
/// [`INCR_DROPPED_PAGE`] (as if zapped since), and a track id of its own.
pub fn incremental(parent: &[u8]) -> Vec<u8> {
    let end = &parent[parent.len() - 24..];
    let word = |i: usize| u64::from_le_bytes(end[i * 8..i * 8 + 8].try_into().unwrap());
    let account = StreamAccount {
        records: word(0),
        bytes: word(1),
        chain: word(2),
    };
    build(&Spec {
        track: Some(TRACK_ID + 1),
        parent: Some((TRACK_ID, account)),
        runs: vec![
            (0x40_3000, 1),
            (0x100_0000, 2),
            (0x7f00_0000_0000, 1),
            (0x7fff_fffd_e000, 2),
        ],
        ..spec(2, vec![vec![INCR_NEW_PAGE]])
    })
}

/// The page [`incremental`] holds itself.
pub const INCR_NEW_PAGE: u64 = 0x100_2000;
/// A page of [`full`] that [`incremental`] does not take from its parent.
pub const INCR_DROPPED_PAGE: u64 = 0x102_0000;

fn spec(threads: u32, pages: Vec<Vec<u64>>) -> Spec {
    Spec {
        threads,
        pages,
        v13: false,
        track: None,
        parent: None,
        runs: Vec::new(),
    }
}

/// The record kinds every process's image has, all of them in [`small`]: what the
/// tests and the fuzz target's seeds check their images cover.
pub const PROCESS_KINDS: [u16; 18] = [
    kind::HEADER,
    kind::END,
    kind::TASK,
    kind::RLIMITS,
    kind::REGS,
    kind::XSTATE,
    kind::FILE,
    kind::PIPE,
    kind::FILES,
    kind::FD,
    kind::FS,
    kind::MM,
    kind::VMA,
    kind::PAGES,
    kind::SIGHAND,
    kind::SIGNAL,
    kind::THREAD_SIGNALS,
    kind::CREDS,
];

/// One thread, one page: every record kind in a small image (about 7 KiB).
pub fn small() -> Vec<u8> {
    build(&spec(1, vec![vec![0x40_3000]]))
}

/// Like [`small`] but without pages: every other kind in about 3 KiB.
pub fn tiny() -> Vec<u8> {
    build(&spec(1, vec![]))
}

/// Two threads and pages in several records.
pub fn full() -> Vec<u8> {
    build(&spec(2, full_pages()))
}

/// Like [`small`] with every record kind of format 1.3, the optional ones included.
pub fn v13() -> Vec<u8> {
    build(&Spec {
        v13: true,
        ..spec(2, vec![vec![0x40_3000], vec![0x100_0000, 0x100_1000]])
    })
}

/// The unix socket of [`v13`]: its file, its state and a queued message.
pub fn write_unix(w: &mut ImageWriter) -> Result<()> {
    w.record(&file(
        id::UNIX,
        filekind::UNIX,
        0o2,
        0o140777,
        b"socket:[4321]",
    ))?;
    w.record(&UnixSock {
        file: id::UNIX,
        ino: 4321,
        peer: 0,
        listener: 0,
        sock_type: unix_type::DGRAM,
        state: unix_state::CLOSE,
        shutdown: 0,
        flags: unix_flags::PASSCRED,
        backlog: 0,
        sndbuf: 212_992,
        rcvbuf: 212_992,
        peek_off: -1,
        rcvlowat: 1,
        rcvtimeo_us: 0,
        sndtimeo_us: 0,
        file_mode: 0,
        file_uid: 0,
        file_gid: 0,
        name: b"\0sample",
        peer_name: b"",
        path: b"",
    })?;
    w.record(&UnixSkb {
        owner: 4321,
        sender: 0,
        sender_name: b"\0other",
        data: b"queued datagram",
    })?;
    w.record(&UnixCreds {
        pid: 4000,
        uid: 1000,
        gid: 1000,
    })?;
    Ok(())
}

/// The page addresses of [`full`].
pub fn full_pages() -> Vec<Vec<u64>> {
    vec![
        vec![0x40_3000, 0x100_0000, 0x100_1000, 0x102_0000],
        vec![0x7f00_0000_0000, 0x7fff_fffd_e000, 0x7fff_fffd_f000],
    ]
}

/// The content of the page at `addr` in the sample.
pub fn page_content(addr: u64) -> Vec<u8> {
    (0..PAGE_SIZE)
        .map(|i| ((addr >> 12) as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

/// The first 48 bytes of a `siginfo_t` from `kill(2)`.
pub const fn siginfo(signo: i32, pid: i32, uid: u32) -> [u8; SIGINFO_LEN] {
    let mut b = [0u8; SIGINFO_LEN];
    let s = signo.to_le_bytes();
    let p = pid.to_le_bytes();
    let u = uid.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        b[i] = s[i]; // si_signo; si_errno and si_code (SI_USER) stay 0
        b[16 + i] = p[i];
        b[20 + i] = u[i];
        i += 1;
    }
    b
}

/// `SIGUSR1`, queued for the process.
pub static SIGINFO_USR1: [u8; SIGINFO_LEN] = siginfo(10, 1, 1000);
/// `SIGUSR2`, queued for the leader thread.
pub static SIGINFO_USR2: [u8; SIGINFO_LEN] = siginfo(12, 1, 1000);
/// Supplementary groups 4, 24, 1000.
pub static GROUPS: [u8; 12] = [4, 0, 0, 0, 24, 0, 0, 0, 0xe8, 3, 0, 0];

/// The header record for `ntasks` tasks.
pub fn header(ntasks: u32) -> Header<'static> {
    Header {
        format_major: FORMAT_MAJOR,
        format_minor: FORMAT_MINOR,
        arch: ARCH_X86_64,
        flags: 0,
        page_size: PAGE_SIZE as u32,
        xstate_size: XSTATE_SIZE as u32,
        xfeatures: XSTATE_BV,
        time_ns: TIME_NS,
        root_pid: ROOT_PID,
        ntasks,
        kernel_release: KERNEL.as_bytes(),
        hostname: HOSTNAME.as_bytes(),
        writer: b"ckpt 0.1.0",
    }
}

/// A file record with the sample's defaults.
fn file(id: u32, kind: u8, flags: u32, mode: u32, path: &'static [u8]) -> FileRec<'static> {
    FileRec {
        id,
        kind,
        flags,
        mode,
        pos: 0,
        size: 0,
        mtime_ns: 0,
        rdev: 0,
        pipe: 0,
        path,
    }
}

/// The file records (after the pipe record).
pub fn files() -> Vec<FileRec<'static>> {
    let pipe = |id, flags| FileRec {
        pipe: id::PIPE,
        ..file(id, filekind::PIPE, flags, 0o010600, b"")
    };
    vec![
        pipe(id::PIPE_R, 0),
        pipe(id::PIPE_W, 1),
        FileRec {
            size: 16384,
            mtime_ns: 1_700_000_000_000_000_000,
            ..file(id::EXE, filekind::REG, 0o100000, 0o100755, EXE.as_bytes())
        },
        FileRec {
            rdev: (1 << 20) | 3,
            ..file(id::NULL, filekind::CHR, 0o100002, 0o020666, b"/dev/null")
        },
        FileRec {
            pos: 42,
            size: 100,
            ..file(
                id::DATA,
                filekind::REG,
                0o102002,
                0o100644,
                b"/tmp/data.txt",
            )
        },
    ]
}

/// The fd table: `(fd, file, flags)`.
pub const FDS: [(u32, u32, u32); 5] = [
    (0, id::NULL, 0),
    (1, id::PIPE_W, 0),
    (2, id::NULL, 0),
    (3, id::PIPE_R, FD_CLOEXEC),
    (7, id::DATA, 0),
];

/// The sample dispositions: SIGINT caught, SIGPIPE ignored.
pub fn sigactions() -> [SigAction; NSIG] {
    let mut action = [SigAction::default(); NSIG];
    action[2 - 1] = SigAction {
        handler: 0x40_1500,
        flags: 0x0400_0000 | 0x1000_0000 | 4, // SA_RESTORER | SA_RESTART | SA_SIGINFO
        restorer: 0x40_1600,
        mask: 1 << (15 - 1),
    };
    action[13 - 1].handler = 1;
    action
}

/// A signal-handler table of `actions` (its wire bytes are leaked: test data).
pub fn sighand_of(id: u32, actions: &[SigAction; NSIG]) -> Sighand<'static> {
    let raw: Vec<u8> = actions.iter().flat_map(|a| a.to_bytes()).collect();
    Sighand {
        id,
        raw: Vec::leak(raw),
    }
}

/// The signal handlers: SIGINT caught, SIGPIPE ignored.
pub fn sighand() -> Sighand<'static> {
    sighand_of(id::SIGHAND, &sigactions())
}

/// Auxv words as wire bytes (leaked: test data).
pub fn auxv_bytes(words: &[u64]) -> &'static [u8] {
    Vec::leak(words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// The address space record.
pub fn mm(nr_vmas: u32) -> MmRec<'static> {
    let auxv = auxv_bytes(&[6, 4096, 3, 0x40_0040, 9, 0x40_1000, 0, 0]);
    MmRec {
        id: id::MM,
        nr_vmas,
        layout: [
            0x40_1000,
            0x40_3000,
            0x40_3000,
            0x40_4000,
            0x100_0000,
            0x102_1000,
            0x7fff_fffd_e000,
            0x7fff_fffd_f000,
            0x7fff_fffd_f010,
            0x7fff_fffd_f010,
            0x7fff_fffd_f100,
        ],
        auxv,
        exe: EXE.as_bytes(),
    }
}

/// The mappings, ascending.
pub fn vmas() -> Vec<Vma<'static>> {
    use backing::*;
    const MAY: u32 = vmflag::MAYREAD | vmflag::MAYWRITE | vmflag::MAYEXEC;
    let v = |start, end, prot, backing, name: &'static [u8]| Vma {
        start,
        end,
        pgoff: 0,
        prot,
        flags: MAY,
        backing,
        file: 0,
        name,
    };
    let exe = |start, end, prot, pgoff| Vma {
        pgoff,
        file: id::EXE,
        ..v(start, end, prot, FILE_PRIVATE, b"")
    };
    vec![
        exe(0x40_0000, 0x40_1000, 1, 0),
        exe(0x40_1000, 0x40_3000, 5, 1),
        exe(0x40_3000, 0x40_4000, 3, 3),
        v(0x100_0000, 0x102_1000, 3, HEAP, b"[heap]"),
        Vma {
            flags: MAY | vmflag::SHARED,
            ..v(0x7f00_0000_0000, 0x7f00_0001_0000, 3, ANON_SHARED, b"shm")
        },
        v(0x7f00_0001_0000, 0x7f00_0002_0000, 3, ANON, b""),
        v(0x7fff_f7fc_0000, 0x7fff_f7fc_4000, 1, VVAR, b"[vvar]"),
        v(0x7fff_f7fc_4000, 0x7fff_f7fc_6000, 5, VDSO, b"[vdso]"),
        Vma {
            flags: MAY | vmflag::GROWSDOWN,
            ..v(0x7fff_fffd_d000, USER_ADDR_END, 3, STACK, b"[stack]")
        },
        v(
            VSYSCALL_ADDR,
            VSYSCALL_ADDR + 4096,
            4,
            VSYSCALL,
            b"[vsyscall]",
        ),
    ]
}

/// Resource limits: the usual defaults.
pub fn rlimits() -> Rlimits {
    const INF: u64 = u64::MAX;
    let mut lim = [(INF, INF); NRLIMITS];
    lim[3] = (8 << 20, INF); // stack
    lim[4] = (0, INF); // core
    lim[6] = (63_000, 63_000); // nproc
    lim[7] = (1024, 4096); // nofile
    lim[8] = (8 << 20, 8 << 20); // memlock
    lim[11] = (63_000, 63_000); // sigpending
    lim[12] = (819_200, 819_200); // msgqueue
    lim[13] = (0, 0); // nice
    lim[14] = (0, 0); // rtprio
    Rlimits { lim }
}

/// Task `t` (0: the leader).
pub fn task(t: u32) -> Task<'static> {
    let leader = t == 0;
    Task {
        pid: ROOT_PID + t as i32,
        tgid: ROOT_PID,
        ppid: 1,
        pgid: ROOT_PID,
        sid: 1,
        flags: if leader { TASK_LEADER } else { TASK_IN_SYSCALL },
        exit_signal: if leader { 17 } else { 0 },
        exit_code: 0,
        personality: 0,
        mm: id::MM,
        files: id::FILES,
        fs: id::FS,
        sighand: id::SIGHAND,
        signal: id::SIGNAL,
        creds: id::CREDS,
        set_child_tid: 0,
        clear_child_tid: if leader { 0 } else { 0x7f00_0001_1000 },
        robust_list: 0x7f00_0001_2000 + 0x100 * t as u64,
        robust_list_len: 24,
        comm: if leader { b"sample" } else { b"worker" },
    }
}

/// Registers of thread `t`.
pub fn regs(t: u32) -> Regs {
    let mut r = [0u64; NREGS];
    for (i, v) in r.iter_mut().enumerate() {
        *v = 0x1000 + i as u64;
    }
    r[REG_RIP] = RIP + t as u64;
    r[REG_RSP] = 0x7fff_fffd_e100 - 0x1000 * t as u64;
    r[REG_RAX] = 0;
    r[REG_ORIG_RAX] = u64::MAX;
    r[REG_FS_BASE] = 0x7f00_0001_3000 + 0x1000 * t as u64;
    r[REG_GS_BASE] = 0;
    r[17] = 0x33; // cs
    r[18] = 0x246; // eflags
    r[20] = 0x2b; // ss
    Regs { r }
}

/// An XSAVE area with [`XSTATE_BV`] in its header.
pub fn xstate_area() -> Vec<u8> {
    let mut a: Vec<u8> = (0..XSTATE_SIZE).map(|i| (i * 7) as u8).collect();
    a[XSAVE_HDR_OFFSET..XSAVE_HDR_OFFSET + 8].copy_from_slice(&XSTATE_BV.to_le_bytes());
    a
}

/// Writes the sample into `w`, without the end record.
pub fn write(w: &mut ImageWriter, spec: &Spec) -> Result<()> {
    w.record(&header(spec.threads))?;
    if let Some((track, account)) = spec.parent {
        w.record(&Parent {
            track,
            account,
            path: PARENT_PATH.as_bytes(),
        })?;
    }
    if let Some(id) = spec.track {
        w.record(&Track { id })?;
    }
    if spec.v13 {
        w.record(&VdsoId {
            size: 2 * PAGE_SIZE as u64,
            digest: 0x0123_4567_89ab_cdef,
            nsyms: 6,
        })?;
        let text: Vec<u8> = (0..2 * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
        w.record(&VdsoText { data: &text })?;
    }
    w.record(&PipeRec {
        id: id::PIPE,
        capacity: 65536,
        data: PIPE_DATA,
    })?;
    for f in files() {
        w.record(&f)?;
        if f.kind == filekind::PIPE {
            w.record(&Fown {
                file: f.id,
                kind: owner::PID,
                pid: 100,
                signum: 10,
            })?;
        }
    }
    w.record(&FilesRec {
        id: id::FILES,
        count: FDS.len() as u32,
    })?;
    for (fd, file, flags) in FDS {
        w.record(&Fd { fd, file, flags })?;
    }
    w.record(&FileLock {
        files: id::FILES,
        file: id::DATA,
        kind: lockkind::POSIX,
        ltype: 1,
        start: 0,
        end: LOCK_TO_EOF,
        pid: 1234,
    })?;
    if spec.v13 {
        // The data file's description holds a read lease, taken on fd 7.
        w.record(&FileLease {
            files: id::FILES,
            file: id::DATA,
            fd: 7,
            ltype: 0,
        })?;
    }
    w.record(&FsRec {
        id: id::FS,
        umask: 0o022,
        cwd: b"/home/user",
        root: b"/",
    })?;
    if spec.v13 {
        w.record(&CwdDeleted {
            fs: id::FS,
            mode: 0o40755,
        })?;
        w.record(&FileOwner {
            file: id::DATA,
            uid: 1000,
            gid: 1000,
        })?;
        w.record(&LinkTarget {
            file: id::DATA,
            target: b"/home/user/target",
        })?;
        w.record(&Pty {
            file: id::NULL,
            index: 3,
            master: 0,
            locked: 0,
            uid: 1000,
            gid: 5,
            mode: 0o620,
            flags: [0x500, 0x5, 0xbf, 0x8a3b],
            line: 0,
            cc: [3; NCCS],
            speed: [38400, 38400],
            winsize: [24, 80, 0, 0],
        })?;
        // Two lines (the second ended with an end-of-file character), then the
        // line being typed.
        w.record(&PtyInput {
            file: id::NULL,
            mode: PTY_INPUT_CANON,
            ends: &[3, 0, 0, 0, 5, 0, 0, 0x80],
            data: b"ls\nabtyped\x1b[A",
        })?;
    }
    w.record(&sighand())?;
    w.record(&SignalRec {
        id: id::SIGNAL,
        itimers: [
            Itimer {
                value_ns: 1_500_000_000,
                interval_ns: 1_000_000_000,
            },
            Itimer::default(),
            Itimer::default(),
        ],
        shared: SigQueue::new(1 << (10 - 1), &SIGINFO_USR1),
    })?;
    w.record(&PosixTimer {
        signal: id::SIGNAL,
        id: 0,
        clock: 1,
        notify: sigev::SIGNAL,
        signo: 14,
        tid: 0,
        flags: 0,
        value: 0x1234,
        value_ns: 250_000_000,
        interval_ns: 100_000_000,
        overrun: 2,
    })?;
    w.record(&Creds {
        id: id::CREDS,
        uids: [1000; 4],
        gids: [1000; 4],
        caps: [0, 0, 0, 0x1ff_ffff_ffff, 0],
        securebits: 0,
        no_new_privs: 1,
        groups: &GROUPS,
    })?;
    let vmas = vmas();
    write_sysv(w)?;
    w.record(&mm(vmas.len() as u32))?;
    for v in &vmas {
        w.record(v)?;
    }
    write_events(w)?;
    if spec.v13 {
        write_unix(w)?;
    }
    if spec.v13 {
        let shared: Vec<&Vma> = vmas
            .iter()
            .filter(|v| v.start <= 0x100_0000 && 0x100_0000 < v.end)
            .collect();
        w.record(&MmRec {
            id: id::MM2,
            nr_vmas: shared.len() as u32,
            ..mm(0)
        })?;
        for v in shared {
            w.record(v)?;
        }
        w.record(&file(
            id::PIDFD,
            filekind::PIDFD,
            0o4002,
            0o700,
            b"anon_inode:[pidfd]",
        ))?;
        w.record(&PidfdRec {
            file: id::PIDFD,
            pid: ROOT_PID,
            tgid: ROOT_PID,
            flags: PIDFD_NONBLOCK,
        })?;
    }
    write_fanotify(w)?;
    let area = xstate_area();
    for t in 0..spec.threads {
        w.record(&task(t))?;
        if t == 0 {
            w.record(&rlimits())?;
        }
        w.record(&regs(t))?;
        if spec.v13 {
            w.record(&Rseq {
                ptr: 0x7f00_0002_0000 + 0x20 * u64::from(t),
                len: 32,
                sig: 0x5305_3053,
            })?;
            if t == 0 {
                w.record(&Ctty {
                    fg_pgid: ROOT_PID,
                    leader: 0,
                    path: b"/dev/pts/3",
                })?;
            }
        }
        w.record(&Xstate {
            xstate_bv: XSTATE_BV,
            area: &area,
        })?;
        w.record(&TaskAttrs {
            policy: if t == 0 { policy::OTHER } else { policy::FIFO },
            nice: if t == 0 { 5 } else { 0 },
            rt_priority: if t == 0 { 0 } else { 10 },
            pdeath_signal: if t == 0 { 10 } else { 0 },
            oom_score_adj: 300,
            dumpable: 1,
            thp_disable: THP_DISABLED,
            subreaper: 1,
            membarrier: 1 << 4,
            stop_signal: 19,
            ..TaskAttrs::default()
        })?;
        let (blocked, pending) = if t == 0 {
            (0, SigQueue::new(1 << (12 - 1), &SIGINFO_USR2))
        } else {
            (1 << (12 - 1), SigQueue::new(0, &[]))
        };
        w.record(&ThreadSignals {
            blocked,
            altstack_sp: if t == 0 { 0x7f00_0001_0000 } else { 0 },
            altstack_size: if t == 0 { 8192 } else { 0 },
            altstack_flags: 0,
            pending,
        })?;
    }
    // Page records come last.
    for (n, list) in spec.pages.iter().enumerate() {
        if spec.v13 && n == 1 {
            // The first page of this record, also the address space's (as a forked
            // child's page shared with its parent would be).
            w.record(&PageRefs {
                mm: id::MM2,
                src: id::MM,
                addrs: &list[0].to_le_bytes(),
            })?;
        }
        let addrs: Vec<u8> = list.iter().flat_map(|a| a.to_le_bytes()).collect();
        let data: Vec<u8> = list.iter().flat_map(|&a| page_content(a)).collect();
        w.record(&Pages {
            mm: id::MM,
            addrs: &addrs,
            data: &data,
        })?;
    }
    if !spec.runs.is_empty() {
        let runs: Vec<u8> = spec
            .runs
            .iter()
            .flat_map(|&(a, n)| a.to_le_bytes().into_iter().chain(n.to_le_bytes()))
            .collect();
        w.record(&ParentPages {
            mm: id::MM,
            runs: &runs,
        })?;
    }
    Ok(())
}

/// The whole sample image.
pub fn build(spec: &Spec) -> Vec<u8> {
    let mut w = ImageWriter::new();
    write(&mut w, spec).expect("sample image encodes");
    w.finish().expect("end record encodes")
}
