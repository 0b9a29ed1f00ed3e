// SPDX-License-Identifier: GPL-2.0

//! Every record kind: encode, then decode the payload back to equal values.

use std::fmt::Debug;

use ckpt::image::*;
use ckpt::sample;

/// Encodes `r`, decodes it back with `from_payload` and `AnyRecord::decode`,
/// checks both equal `r` (through `wrap`), and returns the payload.
fn roundtrip<'a, T>(r: &T, wrap: impl Fn(T) -> AnyRecord<'a>, buf: &'a mut Vec<u8>) -> usize
where
    T: Record<'a> + PartialEq + Debug + Copy,
{
    buf.clear();
    buf.resize(MAX_RECORD_LEN as usize, 0);
    let n = {
        let mut e = Enc::new(buf);
        r.encode(&mut e).expect("encodes");
        e.len()
    };
    buf.truncate(n);
    let buf: &'a [u8] = buf;
    let back = T::from_payload(buf).expect("decodes");
    assert_eq!(&back, r);
    let h = RecordHeader::for_payload(T::KIND, T::VERSION, buf);
    h.verify(buf).unwrap();
    let any = AnyRecord::decode(&h, buf).expect("AnyRecord decodes");
    assert_eq!(any, wrap(*r));
    // Any shorter payload fails cleanly, a longer one too.
    for cut in 0..n {
        assert!(
            T::from_payload(&buf[..cut]).is_err(),
            "{} accepted cut at {cut}",
            kind::name(T::KIND)
        );
    }
    let mut longer = buf.to_vec();
    longer.push(0);
    let longer: &'a [u8] = Box::leak(longer.into_boxed_slice());
    assert_eq!(
        T::from_payload(longer).err(),
        Some(ImageError::Malformed("trailing bytes in record"))
    );
    n
}

macro_rules! rt {
    ($r:expr, $variant:ident) => {{
        let mut buf = Vec::new();
        let r = $r;
        roundtrip(&r, AnyRecord::$variant, &mut buf);
    }};
}

/// Each `(record, message)` of `$cases` encodes, and `$ty` refuses its payload with
/// exactly `ImageError::Malformed(message)`: the bad-record table of a record type.
macro_rules! refused {
    ($ty:ident, $cases:expr) => {
        for (r, msg) in $cases {
            let mut buf = vec![0u8; 1 << 16];
            let n = {
                let mut e = Enc::new(&mut buf);
                r.encode(&mut e).expect("encodes");
                e.len()
            };
            assert_eq!(
                $ty::from_payload(&buf[..n]).err(),
                Some(ImageError::Malformed(msg)),
                "{}: {r:?}",
                stringify!($ty)
            );
        }
    };
}

#[test]
fn header() {
    rt!(sample::header(3), Header);
    let long = vec![b'k'; MAX_PATH_LEN];
    rt!(
        Header {
            kernel_release: &long,
            hostname: b"",
            writer: &long,
            time_ns: u64::MAX,
            root_pid: i32::MAX,
            ntasks: 1 << 22,
            xstate_size: MAX_XSTATE_LEN as u32,
            ..sample::header(1)
        },
        Header
    );
}

#[test]
fn end() {
    rt!(
        End {
            account: StreamAccount {
                records: 1,
                bytes: u64::MAX,
                chain: 0x0123_4567_89ab_cdef,
            },
        },
        End
    );
}

#[test]
fn task() {
    rt!(sample::task(0), Task);
    rt!(sample::task(1), Task);
    rt!(
        Task {
            pid: i32::MAX,
            ppid: 0,
            exit_signal: NSIG as i32,
            exit_code: -1,
            comm: b"fifteen-chars!!",
            set_child_tid: u64::MAX,
            ..sample::task(0)
        },
        Task
    );
}

#[test]
fn rlimits() {
    rt!(sample::rlimits(), Rlimits);
    rt!(
        Rlimits {
            lim: [(0, 0); NRLIMITS]
        },
        Rlimits
    );
}

#[test]
fn regs() {
    rt!(sample::regs(0), Regs);
    let mut r = sample::regs(1);
    r.r[REG_RIP] = USER_ADDR_END - 1;
    r.r[REG_RSP] = u64::MAX;
    rt!(r, Regs);
}

#[test]
fn xstate() {
    let area = sample::xstate_area();
    rt!(
        Xstate {
            xstate_bv: sample::XSTATE_BV,
            area: &area,
        },
        Xstate
    );
    let mut big = vec![0xa5u8; MAX_XSTATE_LEN];
    big[XSAVE_HDR_OFFSET..XSAVE_HDR_OFFSET + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    rt!(
        Xstate {
            xstate_bv: u64::MAX,
            area: &big,
        },
        Xstate
    );
    let mut min = vec![0u8; XSAVE_MIN_LEN];
    min[XSAVE_HDR_OFFSET] = 3;
    rt!(
        Xstate {
            xstate_bv: 3,
            area: &min,
        },
        Xstate
    );
}

#[test]
fn mm_and_vmas() {
    let vmas = sample::vmas();
    rt!(sample::mm(vmas.len() as u32), Mm);
    let mut m = sample::mm(0);
    m.auxv = sample::auxv_bytes(&[u64::MAX; MAX_AUXV_WORDS]);
    m.exe = b"";
    rt!(m, Mm);
    for v in vmas {
        rt!(v, Vma);
    }
}

#[test]
fn pages() {
    let addrs: Vec<u64> = (0..MAX_PAGES_PER_RECORD as u64)
        .map(|i| 0x7f00_0000_0000 + i * 0x2000)
        .collect();
    let a: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
    let d: Vec<u8> = addrs
        .iter()
        .flat_map(|&a| sample::page_content(a))
        .collect();
    rt!(
        Pages {
            mm: u32::MAX,
            addrs: &a,
            data: &d
        },
        Pages
    );
    let one = 0x40_3000u64.to_le_bytes();
    let page = sample::page_content(0x40_3000);
    rt!(
        Pages {
            mm: 1,
            addrs: &one,
            data: &page,
        },
        Pages
    );
}

#[test]
fn page_refs() {
    let a: Vec<u8> = (0..MAX_PAGES_PER_RECORD as u64)
        .flat_map(|i| (0x7f00_0000_0000 + i * 0x1000).to_le_bytes())
        .collect();
    rt!(
        PageRefs {
            mm: u32::MAX,
            src: 1,
            addrs: &a
        },
        PageRefs
    );
    let one = 0x40_3000u64.to_le_bytes();
    rt!(
        PageRefs {
            mm: 3,
            src: 2,
            addrs: &one
        },
        PageRefs
    );
}

#[test]
fn files() {
    for f in sample::files() {
        rt!(f, File);
    }
    let long = {
        let mut p = vec![b'/'];
        p.resize(MAX_PATH_LEN, b'x');
        p
    };
    rt!(
        FileRec {
            id: u32::MAX,
            kind: filekind::FIFO,
            pipe: 1,
            pos: i64::MAX,
            mtime_ns: i64::MIN,
            size: u64::MAX,
            path: &long,
            ..sample::files()[2]
        },
        File
    );
    rt!(
        FileRec {
            kind: filekind::DIR,
            path: b"/",
            ..sample::files()[2]
        },
        File
    );
}

#[test]
fn pipe() {
    rt!(
        PipeRec {
            id: 1,
            capacity: 4096,
            data: sample::PIPE_DATA,
        },
        Pipe
    );
    let full = vec![7u8; 1 << 20];
    rt!(
        PipeRec {
            id: 9,
            capacity: 1 << 20,
            data: &full,
        },
        Pipe
    );
    rt!(
        PipeRec {
            id: 2,
            capacity: 0,
            data: b"",
        },
        Pipe
    );
}

#[test]
fn fd_table() {
    rt!(FilesRec { id: 7, count: 5 }, Files);
    rt!(
        FilesRec {
            id: u32::MAX,
            count: MAX_FD,
        },
        Files
    );
    for (fd, file, flags) in sample::FDS {
        rt!(Fd { fd, file, flags }, Fd);
    }
    rt!(
        Fd {
            fd: MAX_FD - 1,
            file: u32::MAX,
            flags: FD_CLOEXEC,
        },
        Fd
    );
}

#[test]
fn fs() {
    rt!(
        FsRec {
            id: 8,
            umask: 0o777,
            cwd: b"/home/user",
            root: b"/",
        },
        Fs
    );
}

#[test]
fn ghost_and_symlink_files() {
    rt!(
        FileRec {
            id: 12,
            kind: filekind::GHOST,
            flags: 2,
            mode: 0o100640,
            pos: 5000,
            size: 12388,
            mtime_ns: 1,
            rdev: 0,
            pipe: 0,
            path: b"/tmp/a (deleted)",
        },
        File
    );
    rt!(
        FileRec {
            id: 13,
            kind: filekind::GHOST,
            flags: 0,
            mode: 0o100600,
            pos: 1,
            size: 0,
            mtime_ns: 0,
            rdev: 12,
            pipe: 0,
            path: b"/tmp/a (deleted)",
        },
        File
    );
    rt!(
        FileRec {
            id: 14,
            kind: filekind::SYMLINK,
            flags: O_PATH | 0o400000,
            mode: 0o120777,
            pos: 0,
            size: 22,
            mtime_ns: 0,
            rdev: 0,
            pipe: 0,
            path: b"/tmp/link",
        },
        File
    );
}

#[test]
fn ghost_and_symlink_files_are_checked() {
    let ghost = FileRec {
        id: 12,
        kind: filekind::GHOST,
        flags: 2,
        mode: 0o100640,
        pos: 0,
        size: 1,
        mtime_ns: 0,
        rdev: 0,
        pipe: 0,
        path: b"/tmp/a (deleted)",
    };
    refused!(
        FileRec,
        [
            (
                FileRec {
                    path: b"/tmp/a",
                    ..ghost
                },
                "file: bad deleted file",
            ),
            (FileRec { rdev: 12, ..ghost }, "file: bad deleted file"),
            (
                FileRec {
                    mode: 0o040755,
                    ..ghost
                },
                "file: bad deleted file",
            ),
            (
                FileRec {
                    kind: filekind::SYMLINK,
                    flags: 0,
                    ..ghost
                },
                "file: symlink not opened with O_PATH",
            ),
            (FileRec { id: 0, ..ghost }, "file: zero id"),
        ]
    );
}

/// A pty record: the round trip's, and the one the bad-record table alters.
const PTY: Pty = Pty {
    file: 3,
    index: 7,
    master: 1,
    locked: 0,
    uid: 1000,
    gid: 5,
    mode: 0o20620,
    flags: [0o2400, 0o5, 0o277, 0o105063],
    line: 0,
    cc: [3; NCCS],
    speed: [38400, 38400],
    winsize: [33, 101, 0, 0],
};

/// A deleted working directory's record, as [`PTY`].
const CWD: CwdDeleted = CwdDeleted {
    fs: 4,
    mode: 0o040711,
};

#[test]
fn pty_and_cwd_deleted() {
    rt!(PTY, Pty);
    rt!(CWD, CwdDeleted);
    let cwd = CWD;
    refused!(
        CwdDeleted,
        [
            (
                CwdDeleted {
                    mode: 0o100600,
                    ..cwd
                },
                "cwd-deleted: not a directory",
            ),
            (CwdDeleted { fs: 0, ..cwd }, "cwd-deleted: zero fs id"),
        ]
    );
    let pty = PTY;
    refused!(
        Pty,
        [
            (Pty { file: 0, ..pty }, "pty: zero file id"),
            (Pty { master: 2, ..pty }, "pty: bad flag"),
            (Pty { locked: 2, ..pty }, "pty: bad flag"),
            (
                Pty {
                    index: 1 << 20,
                    ..pty
                },
                "pty: bad index"
            ),
        ]
    );
}

/// An rseq registration: the round trip's, and the one the bad-record table alters.
const RSEQ: Rseq = Rseq {
    ptr: 0x7fff_0000_1000,
    len: 32,
    sig: 0x5305_3053,
};

#[test]
fn rseq() {
    rt!(RSEQ, Rseq);
}

#[test]
fn sighand() {
    rt!(sample::sighand(), Sighand);
    let mut actions = sample::sigactions();
    for (i, a) in actions.iter_mut().enumerate() {
        if i != 8 && i != 18 {
            *a = SigAction {
                handler: USER_ADDR_END - 1,
                flags: u64::MAX,
                restorer: USER_ADDR_END - 1,
                mask: u64::MAX,
            };
        }
    }
    let s = sample::sighand_of(9, &actions);
    rt!(s, Sighand);
}

#[test]
fn signal() {
    let raw: Vec<u8> = (1..=NSIG as i32)
        .flat_map(|s| sample::siginfo(s, 1, 0))
        .collect();
    rt!(
        SignalRec {
            id: 10,
            itimers: [Itimer {
                value_ns: u64::MAX,
                interval_ns: 1,
            }; 3],
            shared: SigQueue::new(u64::MAX, &raw),
        },
        Signal
    );
    rt!(
        SignalRec {
            id: 10,
            itimers: [Itimer::default(); 3],
            shared: SigQueue::new(0, &[]),
        },
        Signal
    );
}

#[test]
fn thread_signals() {
    let raw: Vec<u8> = [12, 12, 34]
        .iter()
        .flat_map(|&s| sample::siginfo(s, 5, 6))
        .collect();
    rt!(
        ThreadSignals {
            blocked: u64::MAX,
            altstack_sp: USER_ADDR_END - 8192,
            altstack_size: 8192,
            altstack_flags: 1 << 31,
            pending: SigQueue::new(1 << 11 | 1 << 33, &raw),
        },
        ThreadSignals
    );
}

#[test]
fn creds() {
    rt!(
        Creds {
            id: 11,
            uids: [0, 1, 2, 3],
            gids: [4, 5, 6, u32::MAX],
            caps: [u64::MAX; 5],
            securebits: 0x2f,
            no_new_privs: 0,
            groups: &sample::GROUPS,
        },
        Creds
    );
    let many: Vec<u8> = (0..MAX_GROUPS as u32)
        .flat_map(|g| g.to_le_bytes())
        .collect();
    rt!(
        Creds {
            id: 1,
            uids: [0; 4],
            gids: [0; 4],
            caps: [0; 5],
            securebits: 0,
            no_new_privs: 1,
            groups: &many,
        },
        Creds
    );
}

fn attrs() -> TaskAttrs {
    TaskAttrs {
        policy: policy::FIFO,
        sched_flags: SCHED_RESET_ON_FORK,
        nice: -20,
        rt_priority: 99,
        pdeath_signal: 64,
        oom_score_adj: -1000,
        dumpable: 2,
        thp_disable: THP_DISABLED | THP_EXCEPT_ADVISED,
        subreaper: 1,
        membarrier: MEMBARRIER_REGISTRATIONS,
        stop_signal: 19,
    }
}

#[test]
fn task_attrs() {
    rt!(attrs(), TaskAttrs);
    rt!(TaskAttrs::default(), TaskAttrs);
    rt!(
        TaskAttrs {
            policy: policy::IDLE,
            nice: 19,
            oom_score_adj: 1000,
            ..TaskAttrs::default()
        },
        TaskAttrs
    );
    let bad: [(TaskAttrs, &str); 12] = [
        (
            TaskAttrs {
                policy: 6,
                ..attrs()
            },
            "task-attrs: bad scheduling policy",
        ),
        (
            TaskAttrs {
                sched_flags: 2,
                ..attrs()
            },
            "task-attrs: bad scheduling flags",
        ),
        (
            TaskAttrs {
                nice: 20,
                ..attrs()
            },
            "task-attrs: bad nice value",
        ),
        (
            TaskAttrs {
                rt_priority: 0,
                ..attrs()
            },
            "task-attrs: bad real-time priority",
        ),
        (
            TaskAttrs {
                rt_priority: 1,
                ..TaskAttrs::default()
            },
            "task-attrs: bad real-time priority",
        ),
        (
            TaskAttrs {
                pdeath_signal: 65,
                ..attrs()
            },
            "task-attrs: bad parent-death signal",
        ),
        (
            TaskAttrs {
                oom_score_adj: 1001,
                ..attrs()
            },
            "task-attrs: bad oom_score_adj",
        ),
        (
            TaskAttrs {
                dumpable: 3,
                ..attrs()
            },
            "task-attrs: bad dumpable mode",
        ),
        (
            TaskAttrs {
                thp_disable: 2,
                ..attrs()
            },
            "task-attrs: bad THP mode",
        ),
        (
            TaskAttrs {
                subreaper: 2,
                ..attrs()
            },
            "task-attrs: bad subreaper flag",
        ),
        (
            TaskAttrs {
                membarrier: 1,
                ..attrs()
            },
            "task-attrs: bad membarrier registrations",
        ),
        (
            TaskAttrs {
                stop_signal: 9,
                ..attrs()
            },
            "task-attrs: bad stop signal",
        ),
    ];
    refused!(TaskAttrs, bad);
}

#[test]
fn fown() {
    let f = Fown {
        file: 3,
        kind: owner::PGRP,
        pid: 77,
        signum: 10,
    };
    rt!(f, Fown);
    let bad: [(Fown, &str); 4] = [
        (Fown { file: 0, ..f }, "fown: no file"),
        (Fown { kind: 3, ..f }, "fown: bad owner kind"),
        (Fown { pid: -1, ..f }, "fown: bad owner"),
        (Fown { signum: 65, ..f }, "fown: bad signal"),
    ];
    refused!(Fown, bad);
}

#[test]
fn posix_timer() {
    let t = PosixTimer {
        signal: 4,
        id: 7,
        clock: 0,
        notify: sigev::THREAD_ID,
        signo: 34,
        tid: 1234,
        flags: ptimer::ABSTIME,
        value: 0xdead_beef,
        value_ns: 1_700_000_000_000_000_000,
        interval_ns: 5_000_000,
        overrun: 3,
    };
    rt!(t, PosixTimer);
    let bad: [(PosixTimer, &str); 10] = [
        (
            PosixTimer { signal: 0, ..t },
            "posix-timer: no signal object",
        ),
        (PosixTimer { id: -1, ..t }, "posix-timer: bad id"),
        (PosixTimer { clock: 2, ..t }, "posix-timer: bad clock"),
        (
            PosixTimer { notify: 2, ..t },
            "posix-timer: bad notification",
        ),
        (PosixTimer { signo: 65, ..t }, "posix-timer: bad signal"),
        (PosixTimer { tid: 0, ..t }, "posix-timer: bad thread"),
        (PosixTimer { flags: 8, ..t }, "posix-timer: bad flags"),
        (
            PosixTimer { clock: 1, ..t },
            "posix-timer: absolute expiry on a relative clock",
        ),
        (
            PosixTimer {
                flags: ptimer::SIGNAL_QUEUED,
                notify: sigev::NONE,
                tid: 0,
                ..t
            },
            "posix-timer: queued signal of a timer without one",
        ),
        (
            PosixTimer {
                overrun: u32::MAX,
                ..t
            },
            "posix-timer: bad overrun",
        ),
    ];
    refused!(PosixTimer, bad);
}

#[test]
fn file_lock() {
    let l = FileLock {
        files: 7,
        file: 6,
        kind: lockkind::OFD,
        ltype: 0,
        start: 10,
        end: 19,
        pid: 0,
    };
    rt!(l, FileLock);
    let bad: [(FileLock, &str); 6] = [
        (FileLock { files: 0, ..l }, "file-lock: no file or fd table"),
        (FileLock { kind: 4, ..l }, "file-lock: bad kind"),
        (FileLock { ltype: 2, ..l }, "file-lock: bad type"),
        (FileLock { start: 20, ..l }, "file-lock: bad range"),
        (
            FileLock {
                kind: lockkind::FLOCK,
                ..l
            },
            "file-lock: flock lock on a range",
        ),
        (FileLock { pid: -1, ..l }, "file-lock: bad pid"),
    ];
    refused!(FileLock, bad);
}

#[test]
fn unix_sockets() {
    let listener = UnixSock {
        file: 5,
        ino: 4242,
        peer: 0,
        listener: 0,
        sock_type: unix_type::STREAM,
        state: unix_state::LISTEN,
        shutdown: 0,
        flags: unix_flags::BOUND | unix_flags::PASSCRED,
        backlog: 7,
        sndbuf: 212992,
        rcvbuf: 212992,
        peek_off: -1,
        rcvlowat: 1,
        rcvtimeo_us: 0,
        sndtimeo_us: 1_500_000,
        file_mode: 0o140755,
        file_uid: 1000,
        file_gid: 1000,
        name: b"/run/app.sock\0",
        peer_name: b"",
        path: b"/run/app.sock",
    };
    rt!(listener, UnixSock);
    let waiting = UnixSock {
        file: 0,
        ino: 0,
        peer: 4343,
        listener: 4242,
        state: unix_state::ESTABLISHED,
        flags: 0,
        path: b"",
        ..listener
    };
    rt!(waiting, UnixSock);
    rt!(
        UnixSkb {
            owner: 0,
            sender: 4343,
            sender_name: b"\0abstract",
            data: b"early bytes",
        },
        UnixSkb
    );
    refused!(
        UnixSock,
        [
            (
                UnixSock {
                    sock_type: 3,
                    ..listener
                },
                "unix: bad type",
            ),
            (
                UnixSock {
                    sock_type: unix_type::DGRAM,
                    ..listener
                },
                "unix: bad listener",
            ),
            (
                UnixSock {
                    listener: 1,
                    ..listener
                },
                "unix: a socket is a file or waits in a listener",
            ),
            (
                UnixSock {
                    file: 0,
                    ..listener
                },
                "unix: a socket is a file or waits in a listener",
            ),
            (
                UnixSock {
                    peer: 9,
                    ..listener
                },
                "unix: a peer without a connection",
            ),
            (
                UnixSock {
                    flags: 0x200,
                    ..listener
                },
                "unix: unknown flags",
            ),
            (
                UnixSock {
                    shutdown: 4,
                    ..waiting
                },
                "unix: bad shutdown",
            ),
            (
                UnixSock {
                    name: &[b'x'; 109],
                    ..listener
                },
                "unix: name too long",
            ),
            (
                UnixSock {
                    state: 5,
                    ..listener
                },
                "unix: bad state",
            ),
            (
                UnixSock { ino: 0, ..listener },
                "unix: a socket file without an inode",
            ),
            (
                UnixSock { ino: 77, ..waiting },
                "unix: an unaccepted connection with an inode",
            ),
            (
                UnixSock {
                    name: b"",
                    state: unix_state::CLOSE,
                    ..listener
                },
                "unix: bound without a name",
            ),
            (
                UnixSock {
                    peek_off: -2,
                    ..listener
                },
                "unix: bad peek offset",
            ),
            (
                UnixSock {
                    rcvtimeo_us: -1,
                    ..listener
                },
                "unix: bad timeout",
            ),
            (
                UnixSock {
                    flags: unix_flags::PEER_DEAD,
                    ..waiting
                },
                "unix: a closed or unaccepted peer with an inode",
            ),
        ]
    );
    let long = [b'y'; 109];
    refused!(
        UnixSkb,
        [(
            UnixSkb {
                owner: 0,
                sender: 1,
                sender_name: &long,
                data: b"",
            },
            "unix-skb: name too long",
        )]
    );
}

#[test]
fn event_files() {
    let efd = EventfdRec {
        file: 3,
        count: 1 << 40,
        flags: EFD_SEMAPHORE,
    };
    rt!(efd, Eventfd);
    refused!(
        EventfdRec,
        [
            (EventfdRec { file: 0, ..efd }, "eventfd: zero file id"),
            (
                EventfdRec {
                    count: u64::MAX,
                    ..efd
                },
                "eventfd: count out of range",
            ),
            (EventfdRec { flags: 2, ..efd }, "eventfd: unknown flags"),
        ]
    );
    let tfd = TimerfdRec {
        file: 4,
        clockid: 1,
        settime_flags: TFD_TIMER_ABSTIME,
        ticks: 3,
        value_ns: 5_000_000,
        interval_ns: 1_000_000,
        now_ns: 1_700_000_000_000_000_000,
    };
    rt!(tfd, Timerfd);
    refused!(
        TimerfdRec,
        [
            (TimerfdRec { file: 0, ..tfd }, "timerfd: zero file id"),
            (TimerfdRec { clockid: 2, ..tfd }, "timerfd: bad clock"),
            (
                TimerfdRec {
                    settime_flags: 4,
                    ..tfd
                },
                "timerfd: unknown settime flags",
            ),
            (
                TimerfdRec {
                    settime_flags: 0,
                    ..tfd
                },
                "timerfd: absolute time of a relative timer",
            ),
            (
                TimerfdRec {
                    value_ns: u64::MAX,
                    ..tfd
                },
                "timerfd: time out of range",
            ),
            (
                TimerfdRec {
                    interval_ns: i64::MAX as u64,
                    ..tfd
                },
                "timerfd: time out of range",
            ),
        ]
    );
    let sfd = SignalfdRec {
        file: 5,
        mask: 1 << 9,
    };
    rt!(sfd, Signalfd);
    refused!(
        SignalfdRec,
        [(SignalfdRec { file: 0, ..sfd }, "signalfd: zero file id")]
    );
}

#[test]
fn epoll_and_inotify() {
    let item = EpollItem {
        file: 6,
        tfd: 9,
        target: 3,
        events: 1 | (1 << 30),
        data: 0xfeed,
    };
    rt!(item, EpollItem);
    refused!(
        EpollItem,
        [
            (EpollItem { file: 0, ..item }, "epoll-item: zero file id"),
            (EpollItem { target: 0, ..item }, "epoll-item: zero file id"),
            (
                EpollItem { target: 6, ..item },
                "epoll-item: an epoll watching itself",
            ),
            (
                EpollItem {
                    tfd: MAX_FD,
                    ..item
                },
                "epoll-item: fd number too large",
            ),
            (
                EpollItem {
                    events: 1 << 20,
                    ..item
                },
                "epoll-item: unknown events",
            ),
        ]
    );
    let watch = InotifyWatch {
        file: 7,
        wd: 1,
        mask: 0x100 | 0x8000_0000,
        dev: 0x801,
        ino: 1234,
        path: b"/tmp/watched",
    };
    rt!(watch, InotifyWatch);
    refused!(
        InotifyWatch,
        [
            (
                InotifyWatch { file: 0, ..watch },
                "inotify-watch: zero file id",
            ),
            (
                InotifyWatch { wd: 0, ..watch },
                "inotify-watch: bad watch descriptor",
            ),
            (
                InotifyWatch {
                    mask: 0x1000,
                    ..watch
                },
                "inotify-watch: unknown mask bits",
            ),
            (
                InotifyWatch {
                    path: b"tmp/watched",
                    ..watch
                },
                "inotify-watch: path not absolute",
            ),
            (
                InotifyWatch {
                    path: b"/tmp/a\0b",
                    ..watch
                },
                "inotify-watch: path not absolute",
            ),
        ]
    );
}

#[test]
fn fanotify_group_and_marks() {
    let g = FanotifyGroup {
        file: 8,
        flags: 0x0e03,
        event_f_flags: 0o100000,
        unpriv: FANOTIFY_UNPRIV,
    };
    rt!(g, FanotifyGroup);
    refused!(
        FanotifyGroup,
        [
            (
                FanotifyGroup { file: 0, ..g },
                "fanotify-group: zero file id"
            ),
            (
                FanotifyGroup { flags: 0x8000, ..g },
                "fanotify-group: unknown flags",
            ),
            (
                FanotifyGroup { flags: 0x0c, ..g },
                "fanotify-group: bad class",
            ),
            (
                FanotifyGroup {
                    event_f_flags: 3,
                    ..g
                },
                "fanotify-group: bad event_f_flags",
            ),
            (
                FanotifyGroup {
                    event_f_flags: 0o100,
                    ..g
                },
                "fanotify-group: bad event_f_flags",
            ),
            (
                FanotifyGroup { unpriv: 2, ..g },
                "fanotify-group: unknown unpriv bits",
            ),
        ]
    );
    let m = FanotifyMark {
        file: 8,
        mark_type: FAN_MARK_INODE,
        flags: 0x400 | 0x40,
        mask: 0x4800_0120,
        ignore_mask: 0x2,
        dev: 0x801,
        ino: 99,
        path: b"/tmp/marked",
    };
    rt!(m, FanotifyMark);
    let fs = FanotifyMark {
        mark_type: FAN_MARK_FILESYSTEM,
        ino: 0,
        ..m
    };
    rt!(fs, FanotifyMark);
    refused!(
        FanotifyMark,
        [
            (FanotifyMark { file: 0, ..m }, "fanotify-mark: zero file id"),
            (
                FanotifyMark {
                    mark_type: 0x10,
                    ..m
                },
                "fanotify-mark: unknown mark type",
            ),
            (
                FanotifyMark { ino: 5, ..fs },
                "fanotify-mark: unknown mark type",
            ),
            (
                FanotifyMark { flags: 0x1, ..m },
                "fanotify-mark: unknown flags",
            ),
            (
                FanotifyMark {
                    ignore_mask: 0x2000,
                    ..m
                },
                "fanotify-mark: unknown mask bits",
            ),
            (
                FanotifyMark { mask: 0x10000, ..m },
                "fanotify-mark: permission events",
            ),
            (
                FanotifyMark {
                    mask: 0,
                    ignore_mask: 0,
                    ..m
                },
                "fanotify-mark: empty masks",
            ),
            (
                FanotifyMark {
                    path: b"marked",
                    ..m
                },
                "fanotify-mark: path not absolute",
            ),
        ]
    );
}

#[test]
fn small_records_are_checked() {
    let ctty = Ctty {
        fg_pgid: 40,
        leader: 1,
        path: b"/dev/pts/3",
    };
    rt!(ctty, Ctty);
    refused!(
        Ctty,
        [
            (
                Ctty {
                    fg_pgid: -1,
                    ..ctty
                },
                "ctty: bad process group"
            ),
            (Ctty { leader: 2, ..ctty }, "ctty: bad leader flag"),
            (
                Ctty {
                    path: b"/tmp/pts",
                    ..ctty
                },
                "ctty: bad path",
            ),
        ]
    );
    let owner = FileOwner {
        file: 8,
        uid: 1000,
        gid: 1000,
    };
    rt!(owner, FileOwner);
    refused!(
        FileOwner,
        [
            (FileOwner { file: 0, ..owner }, "file-owner: zero file id"),
            (
                FileOwner {
                    uid: u32::MAX,
                    ..owner
                },
                "file-owner: bad id",
            ),
            (
                FileOwner {
                    gid: u32::MAX,
                    ..owner
                },
                "file-owner: bad id",
            ),
        ]
    );
    let target = LinkTarget {
        file: 8,
        target: b"/tmp/elsewhere",
    };
    rt!(target, LinkTarget);
    refused!(
        LinkTarget,
        [
            (LinkTarget { file: 0, ..target }, "link-target: no file"),
            (
                LinkTarget {
                    target: b"",
                    ..target
                },
                "link-target: bad target"
            ),
            (
                LinkTarget {
                    target: b"/tmp/a\0b",
                    ..target
                },
                "link-target: bad target"
            ),
        ]
    );
    let opener = FileOpener {
        file: 8,
        fsuid: 0,
        fsgid: 0,
        groups: &[1, 0, 0, 0, 4, 0, 0, 0],
    };
    rt!(opener, FileOpener);
    assert_eq!((opener.group(0), opener.group(1)), (1, 4));
    refused!(
        FileOpener,
        [
            (
                FileOpener { file: 0, ..opener },
                "file-opener: zero file id"
            ),
            (
                FileOpener {
                    fsuid: u32::MAX,
                    ..opener
                },
                "file-opener: bad id"
            ),
            (
                FileOpener {
                    groups: &[1, 0, 0],
                    ..opener
                },
                "file-opener: bad groups"
            ),
        ]
    );
    let peer = UnixPeer {
        pid: 42,
        uid: 1000,
        gid: 1000,
        groups: &[24, 0, 0, 0],
    };
    rt!(peer, UnixPeer);
    assert_eq!((peer.ngroups(), peer.group(0)), (1, 24));
    refused!(
        UnixPeer,
        [
            (UnixPeer { pid: -1, ..peer }, "unix-peer: bad pid"),
            (
                UnixPeer {
                    gid: u32::MAX,
                    ..peer
                },
                "unix-peer: bad id"
            ),
            (
                UnixPeer {
                    groups: &[1],
                    ..peer
                },
                "unix-peer: bad groups"
            ),
        ]
    );
    let rseq = RSEQ;
    refused!(
        Rseq,
        [
            (
                Rseq {
                    ptr: USER_ADDR_END - 16,
                    ..rseq
                },
                "rseq: area outside user space",
            ),
            (Rseq { len: 31, ..rseq }, "rseq: bad length"),
            (Rseq { len: 4097, ..rseq }, "rseq: bad length"),
        ]
    );
    let page = |a: u64| a.to_le_bytes();
    let (a, b) = (page(0x40_3000), page(0x40_2000));
    let two: Vec<u8> = [a, b].concat();
    let unaligned = page(0x40_3008);
    let kernel = page(USER_ADDR_END);
    let refs = PageRefs {
        mm: 3,
        src: 2,
        addrs: &a,
    };
    refused!(
        PageRefs,
        [
            (
                PageRefs { src: 0, ..refs },
                "page-refs: source not an earlier mm",
            ),
            (
                PageRefs { src: 3, ..refs },
                "page-refs: source not an earlier mm",
            ),
            (PageRefs { addrs: b"", ..refs }, "page-refs: bad page count",),
            (
                PageRefs {
                    addrs: &unaligned,
                    ..refs
                },
                "page-refs: unaligned address",
            ),
            (
                PageRefs {
                    addrs: &kernel,
                    ..refs
                },
                "page-refs: address outside user space",
            ),
            (
                PageRefs {
                    addrs: &two,
                    ..refs
                },
                "page-refs: addresses not ascending",
            ),
        ]
    );
    let creds = Creds {
        id: 11,
        uids: [0, 1, 2, 3],
        gids: [4, 5, 6, 7],
        caps: [0; 5],
        securebits: 0,
        no_new_privs: 0,
        groups: &sample::GROUPS,
    };
    refused!(
        Creds,
        [
            (Creds { id: 0, ..creds }, "creds: zero id"),
            (
                Creds {
                    no_new_privs: 2,
                    ..creds
                },
                "creds: bad no_new_privs",
            ),
        ]
    );
}

#[test]
fn sysv_ipc() {
    let perm = IpcPerm {
        id: 7,
        key: 0x1234,
        uid: 1,
        gid: 2,
        cuid: 3,
        cgid: 4,
        mode: 0o600,
    };
    rt!(
        SemSet {
            perm,
            values: &[1, 0, 0xff, 0x7f],
        },
        SemSet
    );
    rt!(
        MsgQueue {
            perm,
            qbytes: 16384,
            count: 3,
        },
        MsgQueue
    );
    rt!(
        SysvMsg {
            queue: 7,
            mtype: 42,
            data: b"text",
        },
        SysvMsg
    );
    rt!(
        IpcNs {
            flags: IPC_NS_OWN,
            msgmax: 8192,
            msgmnb: 16384,
            msgmni: 32000,
            semmsl: 32000,
            semmns: 1024000000,
            semopm: 500,
            semmni: 32000,
            shmmax: u64::MAX >> 8,
            shmall: u64::MAX >> 8,
            shmmni: 4096,
        },
        IpcNs
    );
    let enc = |s: &SemSet<'_>| {
        let mut buf = vec![0u8; 256];
        let mut e = Enc::new(&mut buf);
        s.encode(&mut e).unwrap();
        let n = e.len();
        buf.truncate(n);
        buf
    };
    // A value above SEMVMX, an odd length, no semaphore, a mode bit beyond 0777.
    for (values, mode) in [
        (&[0u8, 0x80][..], 0o600),
        (&[1u8, 0, 2][..], 0o600),
        (&[][..], 0o600),
        (&[1u8, 0][..], 0o1600),
    ] {
        let b = enc(&SemSet {
            perm: IpcPerm { mode, ..perm },
            values,
        });
        assert!(SemSet::from_payload(&b).is_err());
    }
    let mut buf = vec![0u8; 64];
    let mut e = Enc::new(&mut buf);
    SysvMsg {
        queue: 7,
        mtype: 0,
        data: b"",
    }
    .encode(&mut e)
    .unwrap();
    let n = e.len();
    assert!(SysvMsg::from_payload(&buf[..n]).is_err());
}

#[test]
fn unix_fds() {
    let ids: Vec<u8> = [3u32, 9].iter().flat_map(|x| x.to_le_bytes()).collect();
    rt!(UnixFds { files: &ids }, UnixFds);
    let enc = |files: &[u8]| {
        let mut buf = vec![0u8; 4096];
        let mut e = Enc::new(&mut buf);
        UnixFds { files }.encode(&mut e).unwrap();
        let n = e.len();
        buf.truncate(n);
        buf
    };
    // No file, file id 0, more than SCM_MAX_FD.
    assert!(UnixFds::from_payload(&enc(&[])).is_err());
    assert!(UnixFds::from_payload(&enc(&[0, 0, 0, 0])).is_err());
    assert!(UnixFds::from_payload(&enc(&[1u8; 4 * (UNIX_MAX_FDS + 1)])).is_err());
}

#[test]
fn unix_creds() {
    rt!(
        UnixCreds {
            pid: 42,
            uid: 1000,
            gid: 100
        },
        UnixCreds
    );
    refused!(
        UnixCreds,
        [(
            UnixCreds {
                pid: 0,
                uid: 0,
                gid: 0
            },
            "unix-creds: bad pid"
        )]
    );
}

#[test]
fn pidfd() {
    let p = PidfdRec {
        file: 9,
        pid: 42,
        tgid: 42,
        flags: PIDFD_NONBLOCK,
    };
    rt!(p, Pidfd);
    rt!(
        PidfdRec {
            pid: 43,
            flags: PIDFD_THREAD,
            ..p
        },
        Pidfd
    );
    refused!(
        PidfdRec,
        [
            (PidfdRec { file: 0, ..p }, "pidfd: zero file id"),
            (PidfdRec { pid: 0, ..p }, "pidfd: bad pid"),
            (PidfdRec { tgid: -1, ..p }, "pidfd: bad pid"),
            (PidfdRec { flags: 1, ..p }, "pidfd: unknown flags"),
            (
                PidfdRec { pid: 43, ..p },
                "pidfd: a thread group named by a thread id",
            ),
        ]
    );
    // Its file record: with the pidfd's anonymous-inode name, and no other.
    let f = FileRec {
        id: 9,
        kind: filekind::PIDFD,
        flags: 0o4002,
        mode: 0o700,
        pos: 0,
        size: 0,
        mtime_ns: 0,
        rdev: 0,
        pipe: 0,
        path: b"anon_inode:[pidfd]",
    };
    rt!(f, File);
    refused!(
        FileRec,
        [(
            FileRec {
                path: b"anon_inode:[eventfd]",
                ..f
            },
            "file: pidfd without its anonymous-inode name",
        )]
    );
}
