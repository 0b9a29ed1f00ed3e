// SPDX-License-Identifier: GPL-2.0

//! `ckpt-fuzz`: feeds mutated and crafted images to the module's restart
//! (`CKPT_IOC_RESTART` on `/dev/ckpt`), in the test VM (`make fuzz`, and a
//! short campaign in `make check`).
//!
//! ```text
//! ckpt-fuzz [--cases N] [--start I] [--seed S] [--only I] [--timeout MS] SEED.img...
//! ```
//!
//! The seeds are valid images of single-threaded processes without sockets
//! or event files (`samples/fuzzseed`): for each, the plan tells the working
//! directory and the pipes the restart wants. Case `i` is
//! [`ckpt::fuzz::case`]`(S, i, seeds)`, written to a memfd; a child forked
//! for it enters the seed's directory, makes a fresh pipe for each pipe of
//! the seed and calls the ioctl. Outcomes:
//!
//! - `rejected`: the ioctl returned (the child exits with 100 + errno);
//! - `accepted`: the restored program ran and exited 42 (`fuzzseed` reads
//!   end-of-file on its stdin pipe, whose writer the restart closed, checks
//!   its memory and exits 42), or exited otherwise (`restored-other`: a
//!   program restored with hostile registers or memory may crash; the kernel
//!   must not);
//! - `killed`: the module killed the restart after its point of no return;
//! - `stalled`: still there after the timeout (a restart waiting for tasks
//!   the image names but no one brings, or a restored program blocked): it
//!   is SIGKILLed, which must end it at once;
//! - `harness-error`: the child could not prepare the restart (exit 96-99:
//!   its directory, a pipe, `/proc/self/maps`, the vDSO's move);
//! - `hung`: not gone 30 s after SIGKILL: a kernel hang, the campaign stops;
//! - `tainted`: the kernel's taint flags changed during the case (a WARN,
//!   BUG, KASAN or UBSAN report): the campaign stops and names the case.
//!
//! Prints `CKPT-FUZZ-RESULT cases=N rejected=N accepted=N ...`, then counts by
//! mutation and by errno; exits 1 on a hang, a taint, or a seed whose
//! untouched image is not accepted (the harness must reach the success path).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use ckpt::dev::Device;
use ckpt::restart::plan;
use ckpt::uapi::{self, CkptRestartPipe};

/// Whether the child says why it could not prepare (the seeds' runs).
static VERBOSE: AtomicBool = AtomicBool::new(true);

/// What a seed's restart needs from its caller.
struct Seed {
    image: Vec<u8>,
    cwd: Vec<u8>,
    pid: i32,
    pipes: Vec<u32>,
    specials: Vec<ckpt::restart::Special>,
    vmas: Vec<(u64, u64)>,
    rlimits: Option<[(u64, u64); ckpt::image::NRLIMITS]>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Outcome {
    Rejected,
    Accepted,
    RestoredOther,
    Killed,
    Stalled,
    Hung,
    Harness,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Accepted => "accepted",
            Self::RestoredOther => "restored-other",
            Self::Killed => "killed",
            Self::Stalled => "stalled",
            Self::Hung => "hung",
            Self::Harness => "harness-error",
        }
    }
}

struct Opts {
    cases: u64,
    start: u64,
    seed: u64,
    only: Option<u64>,
    timeout: Duration,
    seeds: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: ckpt-fuzz [--cases N] [--start I] [--seed S] [--only I] [--timeout MS] SEED.img..."
    );
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut o = Opts {
        cases: 1000,
        start: 0,
        seed: 0xC4EC_4B01,
        only: None,
        timeout: Duration::from_millis(3000),
        seeds: Vec::new(),
    };
    let mut a = std::env::args().skip(1);
    while let Some(x) = a.next() {
        let mut num = || -> u64 {
            let v = a.next().unwrap_or_else(|| usage());
            let v = v.trim();
            match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            }
            .unwrap_or_else(|_| usage())
        };
        match x.as_str() {
            "--cases" => o.cases = num(),
            "--start" => o.start = num(),
            "--seed" => o.seed = num(),
            "--only" => o.only = Some(num()),
            "--timeout" => o.timeout = Duration::from_millis(num()),
            s if s.starts_with('-') => usage(),
            _ => o.seeds.push(x),
        }
    }
    if o.seeds.is_empty() {
        usage()
    }
    o
}

fn load(path: &str) -> Seed {
    let image = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("ckpt-fuzz: {path}: {e}");
        std::process::exit(2)
    });
    let p = plan(image.as_slice()).unwrap_or_else(|e| {
        eprintln!("ckpt-fuzz: {path}: not a restartable seed: {e:?}");
        std::process::exit(2)
    });
    let root = p.root();
    if p.procs.len() != 1
        || !root.threads.is_empty()
        || !p.sockets.is_empty()
        || !p.events.is_empty()
    {
        eprintln!("ckpt-fuzz: {path}: a seed must be one single-threaded process without sockets or event files");
        std::process::exit(2)
    }
    Seed {
        cwd: root.cwd.clone(),
        pid: root.pid,
        pipes: p.pipes.iter().map(|q| q.id).collect(),
        specials: root.specials.clone(),
        vmas: root.vmas.clone(),
        rlimits: root.rlimits,
        image,
    }
}

fn memfd() -> File {
    // SAFETY: the name is a NUL-terminated string; no other memory is involved.
    let fd = unsafe { libc::memfd_create(c"ckpt-fuzz-case".as_ptr(), 0) };
    if fd < 0 {
        eprintln!(
            "ckpt-fuzz: memfd_create: {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(2)
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    File::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The kernel's taint flags.
fn tainted() -> String {
    std::fs::read_to_string("/proc/sys/kernel/tainted").unwrap_or_default()
}

/// The child: become the case's image, or exit 100 + errno.
fn child(dev: &Device, img: &File, s: &Seed, flags: u64) -> ! {
    if std::env::set_current_dir(Path::new(OsStr::from_bytes(&s.cwd))).is_err() {
        // SAFETY: `_exit` is always safe.
        unsafe { libc::_exit(99) }
    }
    let mut pipes = Vec::with_capacity(s.pipes.len());
    for &id in &s.pipes {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe(2) writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            // SAFETY: `_exit` is always safe.
            unsafe { libc::_exit(98) }
        }
        pipes.push(CkptRestartPipe {
            id,
            rfd: fds[0],
            wfd: fds[1],
            pad: 0,
        });
    }
    // The image's limits, as `ckpt restart` takes them (the soft limit of
    // RLIMIT_CPU and RLIMIT_NOFILE, the hard one of the others).
    for (i, &(cur, max)) in s.rlimits.iter().flatten().enumerate() {
        let l = libc::rlimit {
            rlim_cur: if i == 0 || i == 7 { cur } else { max },
            rlim_max: max,
        };
        // SAFETY: setrlimit reads a valid struct.
        unsafe { libc::setrlimit(i as _, &l) };
    }
    // The vDSO and vvar where the image had them (or out of the way of its
    // mappings, for a proxy); from here on nothing may use the vDSO.
    let Ok(mut maps) = File::open("/proc/self/maps") else {
        // SAFETY: `_exit` is always safe.
        unsafe { libc::_exit(97) }
    };
    let proxy = flags & uapi::CKPT_RESTART_VDSO_PROXY != 0;
    if let Err(e) = ckpt::sys::move_specials(&mut maps, &s.specials, &s.vmas, proxy) {
        if VERBOSE.load(Relaxed) {
            eprintln!("ckpt-fuzz: cannot move the vDSO: {e:?}");
        }
        // SAFETY: `_exit` is always safe.
        unsafe { libc::_exit(96) }
    }
    let e = dev.restart(img.as_fd(), flags, &pipes, &[], [-1; 3], s.pid, 0);
    let code = e.error.raw_os_error().unwrap_or(0).clamp(0, 150);
    // SAFETY: `_exit` is always safe.
    unsafe { libc::_exit(100 + code) }
}

/// `waitpid` with a deadline, through a pidfd; `None` if still running.
fn wait_for(pid: i32, pidfd: i32, timeout: Duration) -> Option<i32> {
    let mut p = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: `p` is one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r > 0 {
            break;
        }
        if r == 0 || Instant::now() >= deadline {
            return None;
        }
    }
    let mut status = 0;
    // SAFETY: `status` is a valid int to store the status in.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    (r == pid).then_some(status)
}

/// Runs one case; the outcome and, for a rejection, the errno.
fn run(dev: &Device, img: &File, s: &Seed, flags: u64, timeout: Duration) -> (Outcome, i32) {
    // SAFETY: this program is single-threaded: the child may run anything.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        eprintln!("ckpt-fuzz: fork: {}", std::io::Error::last_os_error());
        std::process::exit(2)
    }
    if pid == 0 {
        child(dev, img, s, flags)
    }
    // SAFETY: pidfd_open takes a pid and flags; no memory is involved.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let _pidfd = (pidfd >= 0).then(|| {
        // SAFETY: the fd was just returned to us and is owned by nothing else.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    let status = match wait_for(pid, pidfd, timeout) {
        Some(st) => st,
        None => {
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            if wait_for(pid, pidfd, Duration::from_secs(30)).is_none() {
                let stack =
                    std::fs::read_to_string(format!("/proc/{pid}/stack")).unwrap_or_default();
                let wchan =
                    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
                println!("CKPT-FUZZ hung task {pid}: wchan {wchan}\n{stack}");
                let _ = std::fs::write("/proc/sysrq-trigger", "w");
                return (Outcome::Hung, 0);
            }
            return (Outcome::Stalled, 0);
        }
    };
    let (exited, code, sig) = (
        libc::WIFEXITED(status),
        libc::WEXITSTATUS(status),
        libc::WTERMSIG(status),
    );
    match (exited, code) {
        (true, 100..=250) => (Outcome::Rejected, code - 100),
        (true, 42) => (Outcome::Accepted, 0),
        (true, 96..=99) => (Outcome::Harness, code),
        (false, _) if sig == libc::SIGKILL => (Outcome::Killed, 0),
        _ => (Outcome::RestoredOther, 0),
    }
}

fn main() {
    let o = parse();
    // Our own output is read line by line on a serial console.
    let seeds: Vec<Seed> = o.seeds.iter().map(|p| load(p)).collect();
    let images: Vec<Vec<u8>> = seeds.iter().map(|s| s.image.clone()).collect();
    let dev = Device::open(Path::new("/dev/ckpt")).unwrap_or_else(|e| {
        eprintln!("ckpt-fuzz: /dev/ckpt: {e}");
        std::process::exit(2)
    });
    let img = memfd();
    let write_case = |bytes: &[u8]| {
        use std::os::unix::fs::FileExt;
        img.set_len(0)
            .and_then(|_| img.write_all_at(bytes, 0))
            .unwrap_or_else(|e| {
                eprintln!("ckpt-fuzz: memfd: {e}");
                std::process::exit(2)
            });
    };
    let base_flags = uapi::CKPT_RESTART_IGNORE_CHANGED;
    let mut failed = false;
    // The seeds as they are: the harness must reach a successful restart.
    for (i, s) in seeds.iter().enumerate() {
        write_case(&s.image);
        let (out, e) = run(&dev, &img, s, base_flags, o.timeout * 4);
        println!(
            "CKPT-FUZZ seed {} ({}): {}{}",
            i,
            o.seeds[i],
            out.name(),
            if out == Outcome::Rejected {
                format!(" (errno {e})")
            } else {
                String::new()
            }
        );
        if out != Outcome::Accepted {
            failed = true;
        }
    }
    VERBOSE.store(false, Relaxed);
    let mut by_outcome: BTreeMap<Outcome, u64> = BTreeMap::new();
    let mut by_what: BTreeMap<(&str, Outcome), u64> = BTreeMap::new();
    let mut by_errno: BTreeMap<i32, u64> = BTreeMap::new();
    let mut stalled_cases = Vec::new();
    let taint = tainted();
    let (first, last) = match o.only {
        Some(i) => (i, i + 1),
        None => (o.start, o.start + o.cases),
    };
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut crashed = 0u64;
    let mut t_gen = Duration::ZERO;
    let mut t_write = Duration::ZERO;
    for i in first..last {
        let tg = Instant::now();
        let (bytes, si, what) = ckpt::fuzz::case(o.seed, i, &images);
        t_gen += tg.elapsed();
        let tw = Instant::now();
        write_case(&bytes);
        t_write += tw.elapsed();
        // One case in four asks for the vDSO proxy (another path of the restart).
        let flags = if i % 4 == 3 {
            base_flags | uapi::CKPT_RESTART_VDSO_PROXY
        } else {
            base_flags
        };
        let (out, e) = run(&dev, &img, &seeds[si], flags, o.timeout);
        n += 1;
        *by_outcome.entry(out).or_default() += 1;
        *by_what.entry((what, out)).or_default() += 1;
        if out == Outcome::Rejected {
            *by_errno.entry(e).or_default() += 1;
        }
        if out == Outcome::Stalled && stalled_cases.len() < 20 {
            stalled_cases.push((i, what));
        }
        let now = tainted();
        if now != taint {
            println!(
                "CKPT-FUZZ crash: case {i} ({what}, seed {si}) tainted the kernel: {} -> {} (replay: ckpt-fuzz --seed {:#x} --only {i} ...)",
                taint.trim(),
                now.trim(),
                o.seed
            );
            crashed += 1;
            break;
        }
        if out == Outcome::Hung {
            println!(
                "CKPT-FUZZ hang: case {i} ({what}, seed {si}) (replay: --seed {:#x} --only {i})",
                o.seed
            );
            break;
        }
        if n % 1000 == 0 {
            let s = t0.elapsed().as_secs_f64();
            println!(
                "CKPT-FUZZ progress {n}/{} cases, {:.0} s, {:.1} cases/s",
                last - first,
                s,
                n as f64 / s
            );
            let _ = std::io::stdout().flush();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let get = |k: Outcome| by_outcome.get(&k).copied().unwrap_or(0);
    println!(
        "CKPT-FUZZ-RESULT cases={n} rejected={} accepted={} restored-other={} killed={} stalled={} crashed={crashed} hung={} seconds={:.0} rate={:.1}/s",
        get(Outcome::Rejected),
        get(Outcome::Accepted),
        get(Outcome::RestoredOther),
        get(Outcome::Killed),
        get(Outcome::Stalled),
        get(Outcome::Hung),
        secs,
        n as f64 / secs.max(0.001)
    );
    println!(
        "CKPT-FUZZ time: {:.1} s making cases, {:.1} s writing them, {:.1} s restarting",
        t_gen.as_secs_f64(),
        t_write.as_secs_f64(),
        secs - t_gen.as_secs_f64() - t_write.as_secs_f64()
    );
    let mut line = String::from("CKPT-FUZZ by mutation:");
    for ((w, out), c) in &by_what {
        line += &format!(" {w}/{}={c}", out.name());
    }
    println!("{line}");
    let mut line = String::from("CKPT-FUZZ rejections by errno:");
    for (e, c) in &by_errno {
        line += &format!(" {}={c}", ckpt::errno::name(*e));
    }
    println!("{line}");
    if !stalled_cases.is_empty() {
        println!("CKPT-FUZZ stalled cases (first 20): {stalled_cases:?}");
    }
    if failed || crashed > 0 || get(Outcome::Hung) > 0 {
        std::process::exit(1)
    }
}
