// SPDX-License-Identifier: GPL-2.0

//! Human-readable names and renderings of values found in images, shared by
//! the text and JSON printers.

use crate::image::{prot, vmflag, Vma, NRLIMITS, TASK_IN_SYSCALL, TASK_LEADER, TASK_ZOMBIE};

/// `"rw-p"`: a mapping's permissions as `/proc/PID/maps` shows them.
pub fn prot_str(v: &Vma<'_>) -> String {
    let mut s = String::with_capacity(4);
    s.push(if v.prot & prot::READ != 0 { 'r' } else { '-' });
    s.push(if v.prot & prot::WRITE != 0 { 'w' } else { '-' });
    s.push(if v.prot & prot::EXEC != 0 { 'x' } else { '-' });
    s.push(if v.flags & vmflag::SHARED != 0 {
        's'
    } else {
        'p'
    });
    s
}

/// Names of the set bits of `v`, given `(bit, name)` pairs.
pub fn bit_names(v: u64, table: &[(u64, &'static str)]) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// [`vmflag`] names.
pub const VMFLAGS: &[(u64, &str)] = &[
    (vmflag::SHARED as u64, "shared"),
    (vmflag::GROWSDOWN as u64, "growsdown"),
    (vmflag::LOCKED as u64, "locked"),
    (vmflag::DONTFORK as u64, "dontfork"),
    (vmflag::DONTDUMP as u64, "dontdump"),
    (vmflag::MAYREAD as u64, "mayread"),
    (vmflag::MAYWRITE as u64, "maywrite"),
    (vmflag::MAYEXEC as u64, "mayexec"),
    (vmflag::HUGEPAGE as u64, "hugepage"),
    (vmflag::NOHUGEPAGE as u64, "nohugepage"),
    (vmflag::WIPEONFORK as u64, "wipeonfork"),
    (vmflag::SEQUENTIAL as u64, "sequential"),
    (vmflag::RANDOM as u64, "random"),
    (vmflag::MERGEABLE as u64, "mergeable"),
    (vmflag::NORESERVE as u64, "noreserve"),
    (vmflag::DROPPABLE as u64, "droppable"),
];

/// `Task::flags` names.
pub const TASK_FLAGS: &[(u64, &str)] = &[
    (TASK_LEADER as u64, "leader"),
    (TASK_ZOMBIE as u64, "zombie"),
    (TASK_IN_SYSCALL as u64, "in-syscall"),
];

/// `SA_*` names.
pub const SA_FLAGS: &[(u64, &str)] = &[
    (0x0000_0001, "SA_NOCLDSTOP"),
    (0x0000_0002, "SA_NOCLDWAIT"),
    (0x0000_0004, "SA_SIGINFO"),
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
];

/// Open flags besides the access mode (`O_*` on x86_64, octal).
pub const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o100, "creat"),
    (0o200, "excl"),
    (0o400, "noctty"),
    (0o1000, "trunc"),
    (0o2000, "append"),
    (0o4000, "nonblock"),
    (0o10000, "dsync"),
    (0o20000, "async"),
    (0o40000, "direct"),
    (0o100000, "largefile"),
    (0o200000, "directory"),
    (0o400000, "nofollow"),
    (0o1000000, "noatime"),
    (0o4000000, "sync"),
    (0o10000000, "path"),
];

/// `"rdwr|append"`: open flags.
pub fn open_flags(flags: u32) -> String {
    let acc = match flags & 3 {
        0 => "rdonly",
        1 => "wronly",
        2 => "rdwr",
        _ => "accmode3",
    };
    let mut v = vec![acc];
    v.extend(bit_names((flags & !3) as u64, OPEN_FLAGS));
    v.join("|")
}

/// Names of the `RLIMIT_*` resources, in the kernel's order.
pub const RLIMIT_NAMES: [&str; NRLIMITS] = [
    "cpu",
    "fsize",
    "data",
    "stack",
    "core",
    "rss",
    "nproc",
    "nofile",
    "memlock",
    "as",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
];

/// A resource limit value (`"unlimited"` for `RLIM_INFINITY`).
pub fn rlim(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

const SIGNAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `"SIGINT"`, `"SIGRTMIN+3"`, or `"SIG<n>"`.
pub fn signal(n: i32) -> String {
    match n {
        1..=31 => SIGNAMES[n as usize - 1].to_string(),
        32 => "SIGRTMIN".to_string(),
        33..=64 => format!("SIGRTMIN+{}", n - 32),
        _ => format!("SIG{n}"),
    }
}

/// `"SIGINT,SIGTERM"` or `"none"`: a signal set (bit `n-1` is signal `n`).
pub fn sigset(set: u64) -> String {
    if set == 0 {
        return "none".to_string();
    }
    (1..=64)
        .filter(|n| set & (1u64 << (n - 1)) != 0)
        .map(signal)
        .collect::<Vec<_>>()
        .join(",")
}

/// `"2025-11-25 21:38:00.123 UTC"`: ns since the epoch.
pub fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let ms = (ns / 1_000_000) % 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ms:03} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `"1.5s"`: a duration in ns, compactly.
pub fn duration(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:09}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    }
}

/// Bytes shown as a quoted string, with escapes, at most `max` of them.
pub fn escape(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(max) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// A name or path from an image, printable: non-printable bytes escaped.
pub fn path(b: &[u8]) -> String {
    if b.iter().all(|c| (0x21..=0x7e).contains(c)) {
        String::from_utf8_lossy(b).into_owned()
    } else {
        escape(b, usize::MAX)
    }
}

/// A unix socket address: its path, `@name` for an abstract name, `(unnamed)`.
pub fn unix_name(b: &[u8]) -> String {
    match b {
        [] => "(unnamed)".to_string(),
        [0, rest @ ..] => format!("@{}", path(rest)),
        // A path name ends with the NUL the kernel keeps.
        p => path(p.split(|&c| c == 0).next().unwrap_or(p)),
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &c in b {
        s.push(DIGITS[(c >> 4) as usize] as char);
        s.push(DIGITS[(c & 15) as usize] as char);
    }
    s
}

/// `"1.5 MiB"`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `"AT_PAGESZ"`: an auxv type, or `"AT_<n>"`.
pub fn auxv_type(t: u64) -> String {
    let n = match t {
        0 => "AT_NULL",
        3 => "AT_PHDR",
        4 => "AT_PHENT",
        5 => "AT_PHNUM",
        6 => "AT_PAGESZ",
        7 => "AT_BASE",
        8 => "AT_FLAGS",
        9 => "AT_ENTRY",
        11 => "AT_UID",
        12 => "AT_EUID",
        13 => "AT_GID",
        14 => "AT_EGID",
        15 => "AT_PLATFORM",
        16 => "AT_HWCAP",
        17 => "AT_CLKTCK",
        23 => "AT_SECURE",
        24 => "AT_BASE_PLATFORM",
        25 => "AT_RANDOM",
        26 => "AT_HWCAP2",
        27 => "AT_RSEQ_FEATURE_SIZE",
        28 => "AT_RSEQ_ALIGN",
        31 => "AT_EXECFN",
        33 => "AT_SYSINFO_EHDR",
        51 => "AT_MINSIGSTKSZ",
        _ => return format!("AT_{t}"),
    };
    n.to_string()
}
