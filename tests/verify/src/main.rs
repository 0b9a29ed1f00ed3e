// SPDX-License-Identifier: GPL-2.0

//! `ckpt-verify`: runs in the test VM (as root) and proves that what
//! `ckpt show --json` prints of an image agrees with what the process and
//! `/proc/PID/{maps,status,stat,fd,fdinfo,syscall,limits}` said at the time
//! of the checkpoint.
//!
//! It starts `/samples/restartee` (fds 3/4: its control/report pipes), waits
//! until it sits blocked in `read(2)` on its control pipe, snapshots `/proc`,
//! runs `/ckpt checkpoint PID -o IMAGE --leave-running`, then
//! `/ckpt show --json IMAGE`, and compares, one KTAP test per area. Exits 0
//! if every test passed, 1 otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

const RESTARTEE: &str = "/samples/restartee";
const CKPT: &str = "/ckpt";
const DATA: &str = "/tmp/restartee.data";
const IMAGE: &str = "/tmp/verify.img";
const HEAP_MB: u64 = 8;
const PAGE: u64 = 4096;

const O_LARGEFILE: u32 = 0o100000;
const O_CLOEXEC: u32 = 0o2000000;

/// The KTAP tests, in order.
const TESTS: &[&str] = &[
    "checkpoint_and_show",
    "mappings",
    "fds",
    "pipe_data",
    "signals",
    "creds",
    "fs_and_exe",
    "stat_and_layout",
    "itimer",
    "avx_registers",
    "heap_pages",
    "regs",
    "rlimits",
    "leave_running",
    "incremental_chain",
];

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------
// KTAP output.

struct Ktap {
    n: usize,
    pass: usize,
    fail: usize,
}

impl Ktap {
    fn new() -> Self {
        println!("TAP version 13");
        println!("1..{}", TESTS.len());
        Self {
            n: 0,
            pass: 0,
            fail: 0,
        }
    }

    /// Prints the result of the next test, its diagnostics first.
    fn result(&mut self, name: &str, c: Check) {
        self.n += 1;
        assert_eq!(TESTS[self.n - 1], name, "TESTS out of order");
        for n in &c.notes {
            println!("# {name}: {n}");
        }
        for e in &c.errs {
            println!("# {name}: MISMATCH {e}");
        }
        if c.errs.is_empty() {
            self.pass += 1;
            println!("ok {} {name}", self.n);
        } else {
            self.fail += 1;
            println!("not ok {} {name}", self.n);
        }
        let _ = io::stdout().flush();
    }

    /// Fails every test not yet reported.
    fn fail_rest(&mut self, why: &str) {
        while self.n < TESTS.len() {
            let mut c = Check::default();
            c.bad(format!("not run: {why}"));
            self.result(TESTS[self.n], c);
        }
    }

    fn finish(&self) -> ExitCode {
        println!(
            "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:0 error:0",
            self.pass, self.fail
        );
        let _ = io::stdout().flush();
        if self.fail == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// The outcome of one test: disagreements and informational notes.
#[derive(Default)]
struct Check {
    errs: Vec<String>,
    notes: Vec<String>,
}

impl Check {
    fn bad(&mut self, s: impl Into<String>) {
        self.errs.push(s.into());
    }
    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }
    /// Records a mismatch unless `proc == image`.
    fn eq<T: PartialEq + Debug>(&mut self, what: &str, proc: T, image: T) {
        if proc != image {
            self.bad(format!("{what}: /proc {proc:?}, image {image:?}"));
        }
    }
    /// Same, with hex formatting.
    fn eq_hex(&mut self, what: &str, proc: u64, image: u64) {
        if proc != image {
            self.bad(format!("{what}: /proc {proc:#x}, image {image:#x}"));
        }
    }
    /// Runs a part that may fail to find what it compares.
    fn run(&mut self, f: impl FnOnce(&mut Check) -> Res<()>) {
        if let Err(e) = f(self) {
            self.bad(e);
        }
    }
}

// ---------------------------------------------------------------------------
// JSON access.

fn field<'a>(v: &'a Value, key: &str) -> Res<&'a Value> {
    v.get(key)
        .ok_or_else(|| format!("image JSON: no field {key:?}"))
}

fn u(v: &Value, key: &str) -> Res<u64> {
    field(v, key)?
        .as_u64()
        .ok_or_else(|| format!("image JSON: {key:?} is not an unsigned integer"))
}

fn i(v: &Value, key: &str) -> Res<i64> {
    field(v, key)?
        .as_i64()
        .ok_or_else(|| format!("image JSON: {key:?} is not an integer"))
}

fn st<'a>(v: &'a Value, key: &str) -> Res<&'a str> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| format!("image JSON: {key:?} is not a string"))
}

fn arr<'a>(v: &'a Value, key: &str) -> Res<&'a Vec<Value>> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| format!("image JSON: {key:?} is not an array"))
}

fn idx(v: &Value, n: usize) -> Res<u64> {
    v.get(n)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("image JSON: no unsigned element {n}"))
}

/// The object with `id` in the top-level list `list`.
fn by_id<'a>(doc: &'a Value, list: &str, id: u64) -> Res<&'a Value> {
    arr(doc, list)?
        .iter()
        .find(|o| o.get("id").and_then(Value::as_u64) == Some(id))
        .ok_or_else(|| format!("image JSON: no {list} entry with id {id}"))
}

/// The parts of the image document the tests use.
struct Img<'a> {
    doc: &'a Value,
    task: &'a Value,
    mm: &'a Value,
    fdtable: &'a Value,
    fs: &'a Value,
    sighand: &'a Value,
    signal: &'a Value,
    creds: &'a Value,
}

impl<'a> Img<'a> {
    fn new(doc: &'a Value, pid: i32) -> Res<Self> {
        let tasks = arr(doc, "tasks")?;
        let task = tasks
            .iter()
            .find(|t| t.get("pid").and_then(Value::as_i64) == Some(pid as i64))
            .ok_or_else(|| format!("image JSON: no task with pid {pid}"))?;
        Ok(Self {
            doc,
            task,
            mm: by_id(doc, "mms", u(task, "mm")?)?,
            fdtable: by_id(doc, "fdtables", u(task, "files")?)?,
            fs: by_id(doc, "fs", u(task, "fs")?)?,
            sighand: by_id(doc, "sighands", u(task, "sighand")?)?,
            signal: by_id(doc, "signals", u(task, "signal")?)?,
            creds: by_id(doc, "creds", u(task, "creds")?)?,
        })
    }

    fn file(&self, id: u64) -> Res<&'a Value> {
        by_id(self.doc, "files", id)
    }

    fn pipe(&self, id: u64) -> Res<&'a Value> {
        by_id(self.doc, "pipes", id)
    }
}

// ---------------------------------------------------------------------------
// /proc snapshot.

#[derive(Clone, Debug, PartialEq, Eq)]
struct MapLine {
    start: u64,
    end: u64,
    perms: String,
    offset: u64,
    dev: String,
    inode: u64,
    name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FdInfo {
    target: String,
    pos: i64,
    flags: u32,
    /// `st_mode`, `st_size`, `st_ino` of what the fd refers to.
    mode: u32,
    size: u64,
    ino: u64,
    /// For pipes: bytes unread (FIONREAD) and capacity (F_GETPIPE_SZ).
    pipe_unread: Option<i32>,
    pipe_size: Option<i32>,
}

#[derive(Clone, Debug)]
struct Snap {
    maps: Vec<MapLine>,
    status: BTreeMap<String, String>,
    /// Fields of /proc/PID/stat, 1-based as in proc(5): `stat[1]` is the pid.
    stat: Vec<String>,
    fds: BTreeMap<i32, FdInfo>,
    cwd: String,
    root: String,
    exe: String,
    ntasks: usize,
    /// /proc/PID/syscall, split on whitespace.
    syscall: Vec<String>,
    /// /proc/PID/limits: (soft, hard) in RLIMIT order, u64::MAX for unlimited.
    limits: Vec<(u64, u64)>,
}

fn read(path: &str) -> Res<String> {
    fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn readlink(path: &str) -> Res<String> {
    fs::read_link(path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| format!("readlink {path}: {e}"))
}

fn parse_hex(s: &str) -> Res<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("hex {s:?}: {e}"))
}

fn parse_maps(text: &str) -> Res<Vec<MapLine>> {
    let mut v = Vec::new();
    for line in text.lines() {
        // start-end perms offset dev inode [name]; the name may hold spaces.
        let mut rest = line;
        let mut next = || -> Res<&str> {
            let t = rest.trim_start();
            let n = t.find(' ').unwrap_or(t.len());
            let (a, b) = t.split_at(n);
            rest = b;
            if a.is_empty() {
                Err(format!("maps line {line:?}: too short"))
            } else {
                Ok(a)
            }
        };
        let range = next()?;
        let perms = next()?.to_string();
        let offset = parse_hex(next()?)?;
        let dev = next()?.to_string();
        let inode = next()?
            .parse()
            .map_err(|_| format!("maps line {line:?}: bad inode"))?;
        let name = rest.trim_start().to_string();
        let (s, e) = range
            .split_once('-')
            .ok_or_else(|| format!("maps line {line:?}: bad range"))?;
        v.push(MapLine {
            start: parse_hex(s)?,
            end: parse_hex(e)?,
            perms,
            offset,
            dev,
            inode,
            name,
        });
    }
    Ok(v)
}

fn parse_stat(text: &str) -> Res<Vec<String>> {
    let open = text.find('(').ok_or("stat: no '('")?;
    let close = text.rfind(')').ok_or("stat: no ')'")?;
    let mut v = vec![String::new(), text[..open].trim().to_string()];
    v.push(text[open + 1..close].to_string());
    v.extend(text[close + 1..].split_whitespace().map(str::to_string));
    Ok(v)
}

fn parse_limits(text: &str) -> Res<Vec<(u64, u64)>> {
    let lim = |s: &str| -> Res<u64> {
        if s == "unlimited" {
            Ok(u64::MAX)
        } else {
            s.parse().map_err(|_| format!("limits: bad value {s:?}"))
        }
    };
    let mut v = Vec::new();
    for line in text.lines().skip(1) {
        // "%-25s %-20s %-20s %-10s": the name is 25 columns wide.
        let rest = line
            .get(26..)
            .ok_or_else(|| format!("limits line {line:?}"))?;
        let mut w = rest.split_whitespace();
        let (s, h) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        v.push((lim(s)?, lim(h)?));
    }
    Ok(v)
}

fn fdinfo(pid: i32, fd: i32) -> Res<FdInfo> {
    let info = read(&format!("/proc/{pid}/fdinfo/{fd}"))?;
    let mut pos = None;
    let mut flags = None;
    for line in info.lines() {
        if let Some(v) = line.strip_prefix("pos:") {
            pos = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("flags:") {
            flags = u32::from_str_radix(v.trim(), 8).ok();
        }
    }
    let link = format!("/proc/{pid}/fd/{fd}");
    let target = readlink(&link)?;
    let md = fs::metadata(&link).map_err(|e| format!("stat {link}: {e}"))?;
    let (mut pipe_unread, mut pipe_size) = (None, None);
    if target.starts_with("pipe:") {
        // A reader of our own on the same pipe; it consumes nothing.
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&link)
            .map_err(|e| format!("open {link}: {e}"))?;
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int to the pointer, which is valid.
        if unsafe { libc::ioctl(f.as_raw_fd(), libc::FIONREAD, &mut n) } == 0 {
            pipe_unread = Some(n);
        }
        // SAFETY: F_GETPIPE_SZ takes no argument; f is an open fd.
        let sz = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETPIPE_SZ) };
        if sz > 0 {
            pipe_size = Some(sz);
        }
    }
    Ok(FdInfo {
        target,
        pos: pos.ok_or_else(|| format!("fdinfo {fd}: no pos"))?,
        flags: flags.ok_or_else(|| format!("fdinfo {fd}: no flags"))?,
        mode: md.mode(),
        size: md.size(),
        ino: md.ino(),
        pipe_unread,
        pipe_size,
    })
}

fn snapshot(pid: i32) -> Res<Snap> {
    let p = format!("/proc/{pid}");
    let status = read(&format!("{p}/status"))?
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let mut fds = BTreeMap::new();
    for e in fs::read_dir(format!("{p}/fd")).map_err(|e| format!("{p}/fd: {e}"))? {
        let e = e.map_err(|e| format!("{p}/fd: {e}"))?;
        let fd: i32 = e
            .file_name()
            .to_string_lossy()
            .parse()
            .map_err(|_| "fd: bad name".to_string())?;
        fds.insert(fd, fdinfo(pid, fd)?);
    }
    let ntasks = fs::read_dir(format!("{p}/task"))
        .map_err(|e| format!("{p}/task: {e}"))?
        .count();
    Ok(Snap {
        maps: parse_maps(&read(&format!("{p}/maps"))?)?,
        status,
        stat: parse_stat(&read(&format!("{p}/stat"))?)?,
        fds,
        cwd: readlink(&format!("{p}/cwd"))?,
        root: readlink(&format!("{p}/root"))?,
        exe: readlink(&format!("{p}/exe"))?,
        ntasks,
        syscall: read(&format!("{p}/syscall"))?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        limits: parse_limits(&read(&format!("{p}/limits"))?)?,
    })
}

impl Snap {
    fn status(&self, key: &str) -> Res<&str> {
        self.status
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("status: no {key}"))
    }
    fn status_hex(&self, key: &str) -> Res<u64> {
        parse_hex(self.status(key)?)
    }
    fn status_words(&self, key: &str) -> Res<Vec<u64>> {
        self.status(key)?
            .split_whitespace()
            .map(|w| w.parse().map_err(|_| format!("status {key}: {w:?}")))
            .collect()
    }
    fn stat_u64(&self, n: usize) -> Res<u64> {
        let s = self
            .stat
            .get(n)
            .ok_or_else(|| format!("stat: no field {n}"))?;
        s.parse().map_err(|_| format!("stat field {n}: {s:?}"))
    }
    fn syscall_word(&self, n: usize) -> Res<u64> {
        let s = self
            .syscall
            .get(n)
            .ok_or_else(|| format!("syscall: no word {n} in {:?}", self.syscall))?;
        if n == 0 {
            s.parse().map_err(|_| format!("syscall: {s:?}"))
        } else {
            parse_hex(s)
        }
    }
}

// ---------------------------------------------------------------------------
// The target.

struct Target {
    child: Child,
    pid: i32,
    ctl: File,
    rep: BufReader<File>,
    spawned: Instant,
}

fn make_data() -> Res<()> {
    let buf: Vec<u8> = (0..4096).map(|i| b'A' + (i % 26) as u8).collect();
    fs::write(DATA, buf).map_err(|e| format!("{DATA}: {e}"))
}

fn start() -> Res<Target> {
    make_data()?;
    // Keep fds 3 and 4 busy here until the child exists, so that neither
    // our pipes nor what std opens around the fork (its exec-error pipe)
    // lands on them: the child's dup2s below overwrite 3 and 4.
    let mut reserve = Vec::new();
    loop {
        let f = File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        if f.as_raw_fd() > 4 {
            break;
        }
        reserve.push(f);
    }
    let (ctl_r, ctl_w) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (rep_r, rep_w) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (cfd, rfd): (RawFd, RawFd) = (ctl_r.as_raw_fd(), rep_w.as_raw_fd());
    let mut cmd = Command::new(RESTARTEE);
    cmd.arg0("restartee")
        .args(["3", "4", DATA, &HEAP_MB.to_string()])
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    // SAFETY: runs in the forked child before exec and only calls dup2,
    // which is async-signal-safe. cfd and rfd are open (CLOEXEC) fds above 4
    // that this process keeps until spawn returns; dup2 makes the copies at
    // 3 and 4 without FD_CLOEXEC, so they survive the exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(cfd, 3) != 3 || libc::dup2(rfd, 4) != 4 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("spawn {RESTARTEE}: {e}"))?;
    let spawned = Instant::now();
    drop((ctl_r, rep_w, reserve));
    let mut t = Target {
        pid: child.id() as i32,
        child,
        ctl: File::from(std::os::fd::OwnedFd::from(ctl_w)),
        rep: BufReader::new(File::from(std::os::fd::OwnedFd::from(rep_r))),
        spawned,
    };
    let line = t.line()?;
    if line != format!("ready pid {}", t.pid) {
        return Err(format!(
            "restartee said {line:?}, not \"ready pid {}\"",
            t.pid
        ));
    }
    t.wait_blocked()?;
    Ok(t)
}

impl Target {
    fn line(&mut self) -> Res<String> {
        let mut s = String::new();
        match self.rep.read_line(&mut s) {
            Ok(0) => Err("restartee closed its report pipe (exited?)".into()),
            Ok(_) => Ok(s.trim_end().to_string()),
            Err(e) => Err(format!("report pipe: {e}")),
        }
    }

    fn ask(&mut self, c: u8) -> Res<String> {
        self.ctl
            .write_all(&[c])
            .map_err(|e| format!("control pipe: {e}"))?;
        self.line()
    }

    /// Waits until the target sleeps in read(2) on fd 3.
    fn wait_blocked(&self) -> Res<()> {
        let end = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        while Instant::now() < end {
            let sc = read(&format!("/proc/{}/syscall", self.pid))?;
            let stat = parse_stat(&read(&format!("/proc/{}/stat", self.pid))?)?;
            let w: Vec<&str> = sc.split_whitespace().collect();
            if w.len() > 1 && w[0] == "0" && w[1] == "0x3" && stat[3] == "S" {
                return Ok(());
            }
            last = format!("state {} syscall {}", stat[3], sc.trim());
            sleep(Duration::from_millis(10));
        }
        Err(format!("restartee did not block in read(3, ...): {last}"))
    }

    /// Asks it to exit and reaps it; its exit status.
    fn stop(&mut self) -> Res<i32> {
        let _ = self.ctl.write_all(b"x");
        let st = self.child.wait().map_err(|e| format!("wait: {e}"))?;
        st.code()
            .ok_or_else(|| format!("restartee ended with {st}, not by exit"))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // A target not stopped (an early return): kill it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run_tool(args: &[&str]) -> Res<Vec<u8>> {
    let out = Command::new(CKPT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{CKPT}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ckpt {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

// ---------------------------------------------------------------------------
// The comparisons.

fn maps_name_ok(c: &mut Check, img: &Img<'_>, m: &MapLine, v: &Value) -> Res<()> {
    let backing = st(v, "backing_name")?;
    let vname = st(v, "name")?;
    let at = format!("{:#x}", m.start);
    let private = m.perms.ends_with('p');
    let file_id = u(v, "file")?;
    match backing {
        "file-private" | "file-shared" => {
            let f = img.file(file_id)?;
            let path = st(f, "path")?;
            c.eq(&format!("{at} mapped file path"), m.name.as_str(), path);
            c.eq(
                &format!("{at} file-private vs 'p'"),
                private,
                backing == "file-private",
            );
            if m.inode == 0 {
                c.bad(format!("{at}: image says {backing}, /proc shows no inode"));
            }
        }
        "anon-shared" => {
            if !m.name.starts_with("/dev/zero") && !m.name.starts_with("/SYSV") {
                c.bad(format!("{at}: image anon-shared, /proc name {:?}", m.name));
            }
            c.eq(&format!("{at} anon-shared is 's'"), false, private);
            // Its memory object, with the size /proc cannot show.
            if file_id == 0 {
                c.bad(format!("{at}: anon-shared mapping without its object"));
            }
        }
        "heap" | "stack" | "vdso" | "vvar" => {
            let want_ok = match backing {
                "heap" => m.name == "[heap]",
                "stack" => m.name == "[stack]",
                "vdso" => m.name == "[vdso]",
                _ => m.name.starts_with("[vvar"),
            };
            if !want_ok {
                c.bad(format!("{at}: image {backing}, /proc name {:?}", m.name));
            }
            c.eq(&format!("{at} name"), m.name.as_str(), vname);
        }
        "anon" => {
            if !m.name.is_empty() || m.inode != 0 {
                c.bad(format!(
                    "{at}: image anon, /proc name {:?} inode {}",
                    m.name, m.inode
                ));
            }
            c.eq(&format!("{at} name"), m.name.as_str(), vname);
        }
        b => c.bad(format!("{at}: unexpected backing {b:?}")),
    }
    if !matches!(backing, "file-private" | "file-shared" | "anon-shared") && file_id != 0 {
        c.bad(format!("{at}: {backing} mapping with file id {file_id}"));
    }
    Ok(())
}

fn t_maps(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let procs: Vec<&MapLine> = s.maps.iter().filter(|m| m.name != "[vsyscall]").collect();
        let vmas: Vec<&Value> = arr(img.mm, "vmas")?
            .iter()
            .filter(|v| v.get("backing_name").and_then(Value::as_str) != Some("vsyscall"))
            .collect();
        c.eq("number of mappings", procs.len(), vmas.len());
        let nr = u(img.mm, "nr_vmas")? as usize;
        if nr != arr(img.mm, "vmas")?.len() {
            c.bad(format!(
                "mm nr_vmas {nr} but {} vma records",
                arr(img.mm, "vmas")?.len()
            ));
        }
        let by_start: HashMap<u64, &Value> = vmas
            .iter()
            .filter_map(|v| Some((v.get("start")?.as_u64()?, *v)))
            .collect();
        let proc_starts: HashSet<u64> = procs.iter().map(|m| m.start).collect();
        for v in &vmas {
            let start = u(v, "start")?;
            if !proc_starts.contains(&start) {
                c.bad(format!("image vma at {start:#x} ({v}) not in /proc maps"));
            }
        }
        for m in &procs {
            let Some(v) = by_start.get(&m.start) else {
                c.bad(format!("/proc mapping {m:?} not in the image"));
                continue;
            };
            let at = format!("{:#x}", m.start);
            c.eq_hex(&format!("{at} end"), m.end, u(v, "end")?);
            c.eq(&format!("{at} perms"), m.perms.as_str(), st(v, "prot_str")?);
            let backing = st(v, "backing_name")?;
            if m.inode != 0 || matches!(backing, "file-private" | "file-shared" | "anon-shared") {
                c.eq_hex(&format!("{at} offset"), m.offset, u(v, "pgoff")? * PAGE);
            } else if m.offset != 0 {
                c.bad(format!("{at}: /proc offset {:#x} for {backing}", m.offset));
            }
            maps_name_ok(c, img, m, v)?;
        }
        Ok(())
    });
    c.note(format!("{} mappings compared", s.maps.len()));
    c
}

fn kind_of(f: &FdInfo) -> &'static str {
    match f.mode & libc::S_IFMT {
        libc::S_IFREG => "regular",
        libc::S_IFDIR => "directory",
        libc::S_IFCHR => "chardev|tty",
        libc::S_IFIFO if f.target.starts_with("pipe:") => "pipe",
        libc::S_IFIFO => "fifo",
        _ => "other",
    }
}

/// kcmp(KCMP_FILE): Some(true) if the two fds share an open file description.
fn same_file(pid: i32, a: i32, b: i32) -> Option<bool> {
    // SAFETY: kcmp takes five integers and touches no memory of ours.
    let r = unsafe {
        libc::syscall(libc::SYS_kcmp, pid, pid, 0 /* KCMP_FILE */, a, b)
    };
    (r >= 0).then_some(r == 0)
}

fn t_fds(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let fds = arr(img.fdtable, "fds")?;
        let mut ifd: BTreeMap<i64, &Value> = BTreeMap::new();
        for f in fds {
            ifd.insert(i(f, "fd")?, f);
        }
        let pfds: Vec<i64> = s.fds.keys().map(|&k| k as i64).collect();
        c.eq("fd numbers", pfds, ifd.keys().copied().collect::<Vec<_>>());
        c.eq("fd table count", s.fds.len() as u64, u(img.fdtable, "count")?);
        let mut pipe_ids: HashMap<u64, u64> = HashMap::new(); // inode -> image pipe id
        let mut file_of: BTreeMap<i32, u64> = BTreeMap::new();
        for (&fd, p) in &s.fds {
            let Some(v) = ifd.get(&(fd as i64)) else {
                continue;
            };
            let fid = u(v, "file")?;
            file_of.insert(fd, fid);
            let f = img.file(fid)?;
            let w = format!("fd {fd} ({})", p.target);
            c.eq(
                &format!("{w} close-on-exec"),
                p.flags & O_CLOEXEC != 0,
                field(v, "cloexec")?.as_bool().unwrap_or(false),
            );
            let mask = !(O_CLOEXEC | O_LARGEFILE);
            let iflags = u(f, "flags")? as u32;
            if p.flags & mask != iflags & mask {
                c.bad(format!(
                    "{w} flags: fdinfo 0{:o}, image file 0{:o} (compared without O_CLOEXEC, O_LARGEFILE)",
                    p.flags, iflags
                ));
            }
            c.eq(&format!("{w} pos"), p.pos, i(f, "pos")?);
            let kind = st(f, "kind_name")?;
            let pk = kind_of(p);
            if !(pk == kind || (pk == "chardev|tty" && (kind == "chardev" || kind == "tty"))) {
                c.bad(format!("{w} kind: /proc {pk}, image {kind}"));
            }
            c.eq(&format!("{w} st_mode"), p.mode as u64, u(f, "mode")?);
            let path = st(f, "path")?;
            if kind == "pipe" {
                let pid = u(f, "pipe")?;
                if let Some(&prev) = pipe_ids.get(&p.ino) {
                    c.eq(&format!("{w} pipe id (same inode as another fd)"), prev, pid);
                } else if let Some((ino, _)) = pipe_ids.iter().find(|(_, &id)| id == pid) {
                    c.bad(format!(
                        "{w}: image pipe {pid} is also used for inode {ino}, a different pipe"
                    ));
                } else {
                    pipe_ids.insert(p.ino, pid);
                }
                c.eq(&format!("{w} target"), p.target.as_str(), &*format!("pipe:[{}]", p.ino));
            }
            // Pipes too: image-format.rst gives d_path's "pipe:[INODE]".
            c.eq(&format!("{w} path"), p.target.as_str(), path);
            if kind == "regular" {
                c.eq(&format!("{w} size"), p.size, u(f, "size")?);
            }
        }
        // Open file descriptions shared between fds, as kcmp(2) sees them.
        let list: Vec<(&i32, &u64)> = file_of.iter().collect();
        let mut kcmp_ok = true;
        for (n, (a, fa)) in list.iter().enumerate() {
            for (b, fb) in &list[n + 1..] {
                match same_file(s.stat[1].parse().unwrap_or(0), **a, **b) {
                    Some(same) => c.eq(
                        &format!("fds {a} and {b} share a file (kcmp) / share a file id"),
                        same,
                        fa == fb,
                    ),
                    None => kcmp_ok = false,
                }
            }
        }
        if !kcmp_ok {
            c.note("kcmp(KCMP_FILE) unavailable: file sharing not compared");
        }
        c.note(format!(
            "fds {:?}",
            s.fds.iter().map(|(k, v)| format!("{k}={}", v.target)).collect::<Vec<_>>()
        ));
        Ok(())
    });
    c
}

fn hex_decode(s: &str) -> Res<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    (0..s.len() / 2)
        .map(|n| u8::from_str_radix(&s[2 * n..2 * n + 2], 16).map_err(|e| format!("hex: {e}")))
        .collect()
}

fn t_pipe_data(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let mut seen = 0;
        for v in arr(img.fdtable, "fds")? {
            let fd = i(v, "fd")? as i32;
            let f = img.file(u(v, "file")?)?;
            if st(f, "kind_name")? != "pipe" {
                continue;
            }
            let p = img.pipe(u(f, "pipe")?)?;
            let data = hex_decode(st(p, "data_hex")?)?;
            c.eq(
                &format!("fd {fd} pipe data_len"),
                data.len() as u64,
                u(p, "data_len")?,
            );
            let want: &[u8] = if fd == 3 || fd == 4 {
                b""
            } else {
                b"hello-pipe"
            };
            if data != want {
                c.bad(format!(
                    "fd {fd} pipe data: image {:?}, expected {:?}",
                    String::from_utf8_lossy(&data),
                    String::from_utf8_lossy(want)
                ));
            }
            c.note(format!(
                "fd {fd}: pipe {} holds {} bytes, capacity {}",
                u(p, "id")?,
                data.len(),
                u(p, "capacity")?
            ));
            if let Some(pi) = s.fds.get(&fd) {
                if pi.pipe_unread.is_none() || pi.pipe_size.is_none() {
                    c.note(format!("fd {fd}: FIONREAD or F_GETPIPE_SZ unavailable"));
                }
                if let Some(n) = pi.pipe_unread {
                    c.eq(
                        &format!("fd {fd} unread bytes (FIONREAD)"),
                        n as u64,
                        data.len() as u64,
                    );
                }
                if let Some(n) = pi.pipe_size {
                    c.eq(
                        &format!("fd {fd} capacity (F_GETPIPE_SZ)"),
                        n as u64,
                        u(p, "capacity")?,
                    );
                }
            }
            if fd != 3 && fd != 4 {
                seen += 1;
            }
        }
        if seen != 2 {
            c.bad(format!(
                "{seen} fds of restartee's internal pipe in the image, expected 2"
            ));
        }
        Ok(())
    });
    c
}

fn t_signals(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let ts = field(img.task, "signals")?;
        let tp = field(ts, "pending")?;
        let sp = field(img.signal, "shared")?;
        c.eq_hex(
            "SigBlk / blocked",
            s.status_hex("SigBlk")?,
            u(ts, "blocked")?,
        );
        c.eq_hex(
            "SigPnd / thread pending",
            s.status_hex("SigPnd")?,
            u(tp, "pending")?,
        );
        c.eq_hex(
            "ShdPnd / shared pending",
            s.status_hex("ShdPnd")?,
            u(sp, "pending")?,
        );
        let (mut ign, mut cgt) = (0u64, 0u64);
        for (n, a) in arr(img.sighand, "action")?.iter().enumerate() {
            let h = u(a, "handler")?;
            if h == 1 {
                ign |= 1 << n;
            } else if h > 1 {
                cgt |= 1 << n;
            }
        }
        c.eq_hex("SigIgn / handlers == SIG_IGN", s.status_hex("SigIgn")?, ign);
        c.eq_hex("SigCgt / handlers > SIG_IGN", s.status_hex("SigCgt")?, cgt);
        // Every queued siginfo is for a pending signal.
        for (q, set) in [(tp, u(tp, "pending")?), (sp, u(sp, "pending")?)] {
            for e in arr(q, "queued")? {
                let signo = i(e, "signo")?;
                if !(1..=64).contains(&signo) || set & (1 << (signo - 1)) == 0 {
                    c.bad(format!(
                        "queued siginfo for signal {signo}, not in pending {set:#x}"
                    ));
                }
            }
        }
        // What restartee set up.
        let (usr1, usr2, alrm) = (1u64 << 9, 1u64 << 11, 1u64 << 13);
        if s.status_hex("SigBlk")? & usr2 == 0
            || (s.status_hex("SigPnd")? | s.status_hex("ShdPnd")?) & usr2 == 0
            || s.status_hex("SigCgt")? & usr1 == 0
            || s.status_hex("SigIgn")? & alrm == 0
        {
            c.bad("restartee's own signal setup is not what /proc shows (test bug?)");
        }
        Ok(())
    });
    c
}

fn t_creds(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let ids =
            |key| -> Res<Vec<u64>> { (0..4).map(|n| idx(field(img.creds, key)?, n)).collect() };
        c.eq(
            "Uid (real effective saved fs)",
            s.status_words("Uid")?,
            ids("uids")?,
        );
        c.eq(
            "Gid (real effective saved fs)",
            s.status_words("Gid")?,
            ids("gids")?,
        );
        let groups: Vec<u64> = arr(img.creds, "groups")?
            .iter()
            .map(|g| g.as_u64().unwrap_or(u64::MAX))
            .collect();
        c.eq("Groups", s.status_words("Groups")?, groups);
        let caps = field(img.creds, "caps")?;
        for (n, key) in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
            .iter()
            .enumerate()
        {
            c.eq_hex(key, s.status_hex(key)?, idx(caps, n)?);
        }
        c.eq(
            "NoNewPrivs",
            s.status("NoNewPrivs")?.parse::<u64>().unwrap_or(u64::MAX),
            u(img.creds, "no_new_privs")?,
        );
        Ok(())
    });
    c
}

fn t_fs(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let umask =
            u32::from_str_radix(s.status("Umask")?, 8).map_err(|e| format!("Umask: {e}"))?;
        c.eq("Umask", umask as u64, u(img.fs, "umask")?);
        c.eq("cwd", s.cwd.as_str(), st(img.fs, "cwd")?);
        c.eq("root", s.root.as_str(), st(img.fs, "root")?);
        c.eq("exe", s.exe.as_str(), st(img.mm, "exe")?);
        Ok(())
    });
    c
}

fn t_stat(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let t = img.task;
        c.eq("pid", s.stat_u64(1)? as i64, i(t, "pid")?);
        c.eq("comm", s.stat[2].as_str(), st(t, "comm")?);
        c.eq("ppid", s.stat_u64(4)? as i64, i(t, "ppid")?);
        c.eq("pgrp", s.stat_u64(5)? as i64, i(t, "pgid")?);
        c.eq("session", s.stat_u64(6)? as i64, i(t, "sid")?);
        c.eq("Tgid", s.status("Tgid")?.parse::<i64>().unwrap_or(-1), i(t, "tgid")?);
        let h = field(img.doc, "header")?;
        c.eq("header root_pid", s.stat_u64(1)? as i64, i(h, "root_pid")?);
        c.eq("threads (header ntasks)", s.ntasks as u64, u(h, "ntasks")?);
        c.eq("threads (task records)", s.ntasks, arr(img.doc, "tasks")?.len());
        for (n, key) in [
            (26, "start_code"),
            (27, "end_code"),
            (28, "start_stack"),
            (45, "start_data"),
            (46, "end_data"),
            (47, "start_brk"),
            (48, "arg_start"),
            (49, "arg_end"),
            (50, "env_start"),
            (51, "env_end"),
        ] {
            c.eq_hex(&format!("stat field {n} / {key}"), s.stat_u64(n)?, u(img.mm, key)?);
        }
        // brk: the end of [heap] is brk rounded up to a page; no [heap]
        // means brk never moved.
        let brk = u(img.mm, "brk")?;
        let start_brk = u(img.mm, "start_brk")?;
        match s.maps.iter().find(|m| m.name == "[heap]") {
            Some(m) => {
                c.eq_hex("[heap] end / brk rounded up", m.end, brk.div_ceil(PAGE) * PAGE);
                if !(m.start < brk && m.end > start_brk) {
                    c.bad(format!(
                        "[heap] {:#x}-{:#x} does not overlap start_brk {start_brk:#x} .. brk {brk:#x}",
                        m.start, m.end
                    ));
                }
            }
            None => c.eq_hex("brk with no [heap] mapping", start_brk, brk),
        }
        Ok(())
    });
    c
}

fn t_itimer(img: &Img<'_>, elapsed: Duration) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let it = arr(img.signal, "itimers")?;
        let real = it.first().ok_or("no itimers")?;
        let v = u(real, "value_ns")?;
        let full = 1000 * 1_000_000_000u64;
        // Armed for 1000 s before "ready"; at most `elapsed` (since the
        // spawn) plus rounding has run off since.
        let least = full.saturating_sub(elapsed.as_nanos() as u64 + 1_000_000_000);
        if !(least..=full).contains(&v) {
            c.bad(format!(
                "ITIMER_REAL value {v} ns, expected {least}..={full} ({} ms after the spawn)",
                elapsed.as_millis()
            ));
        }
        c.eq("ITIMER_REAL interval_ns", 0, u(real, "interval_ns")?);
        for (n, t) in it.iter().enumerate().skip(1) {
            c.eq(&format!("itimer {n} value_ns"), 0, u(t, "value_ns")?);
            c.eq(&format!("itimer {n} interval_ns"), 0, u(t, "interval_ns")?);
        }
        c.note(format!("ITIMER_REAL {:.3} s left", v as f64 / 1e9));
        Ok(())
    });
    c
}

fn t_avx(img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let x = field(img.task, "xstate")?;
        let bv = u(x, "xstate_bv")?;
        if bv & 0b110 != 0b110 {
            c.bad(format!(
                "xstate_bv {bv:#x}: SSE (bit 1) or AVX (bit 2) not set"
            ));
        }
        let xf = u(field(img.doc, "header")?, "xfeatures")?;
        if xf & 0b111 != 0b111 {
            c.bad(format!("header xfeatures {xf:#x} lacks x87/SSE/AVX"));
        }
        let area = hex_decode(st(x, "area_hex")?)?;
        c.eq("xstate size", area.len() as u64, u(x, "size")?);
        if area.len() < 576 + 256 {
            return Err(format!(
                "xstate area of {} bytes has no AVX component",
                area.len()
            ));
        }
        let word = |off: usize| u64::from_le_bytes(area[off..off + 8].try_into().unwrap());
        c.eq_hex("XSTATE_BV in the area", word(512), bv);
        for r in 0..8usize {
            let ymm = 8 + r;
            let want = |j: usize| 0x0123456789abcdefu64.wrapping_mul((4 * r + j + 1) as u64);
            let lo = 160 + 16 * ymm;
            let hi = 576 + 16 * ymm;
            let got = [word(lo), word(lo + 8), word(hi), word(hi + 8)];
            let exp = [want(0), want(1), want(2), want(3)];
            if got != exp {
                c.bad(format!(
                    "ymm{ymm}: image {got:#018x?}, expected {exp:#018x?}"
                ));
            }
        }
        Ok(())
    });
    c
}

fn t_heap(img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let pages = field(img.mm, "pages")?;
        let n = u(pages, "count")?;
        let least = HEAP_MB * 256;
        if n < least {
            c.bad(format!("{n} pages saved, the heap alone fills {least}"));
        }
        c.eq("pages bytes", n * PAGE, u(pages, "bytes")?);
        c.note(format!("{n} pages saved"));
        Ok(())
    });
    c
}

fn t_regs(s: &Snap, img: &Img<'_>, pid: i32) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        // /proc/PID/syscall: nr args[6] sp pc, the task blocked in read(3, buf, 1).
        let r = field(img.task, "regs")?;
        c.note(format!("/proc/{pid}/syscall: {}", s.syscall.join(" ")));
        let nr = s.syscall_word(0)?;
        c.eq("orig_rax / syscall nr", nr, u(r, "orig_rax")?);
        c.eq("rax (rewound: = orig_rax)", nr, u(r, "rax")?);
        for (n, reg) in [
            (1, "rdi"),
            (2, "rsi"),
            (3, "rdx"),
            (4, "r10"),
            (5, "r8"),
            (6, "r9"),
        ] {
            c.eq_hex(
                &format!("syscall arg {n} / {reg}"),
                s.syscall_word(n)?,
                u(r, reg)?,
            );
        }
        let sp = s.syscall_word(7)?;
        let pc = s.syscall_word(8)?;
        c.eq_hex("sp / rsp", sp, u(r, "rsp")?);
        c.eq_hex(
            "pc - 2 / rip (rewound to the syscall instruction)",
            pc - 2,
            u(r, "rip")?,
        );
        let names: Vec<&str> = arr(img.task, "flag_names")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if !names.iter().any(|n| n.contains("syscall")) {
            c.bad(format!(
                "task flags {names:?} do not say it was in a system call"
            ));
        }
        let mem = File::open(format!("/proc/{pid}/mem")).map_err(|e| format!("mem: {e}"))?;
        let mut insn = [0u8; 2];
        mem.read_exact_at(&mut insn, u(r, "rip")?)
            .map_err(|e| format!("reading the code at rip: {e}"))?;
        c.eq("the instruction at rip", [0x0f, 0x05], insn);
        Ok(())
    });
    c
}

fn t_rlimits(s: &Snap, img: &Img<'_>) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        let lims = arr(img.task, "rlimits")?;
        c.eq("number of limits", s.limits.len(), lims.len());
        for (n, (p, l)) in s.limits.iter().zip(lims).enumerate() {
            c.eq(
                &format!("rlimit {n} (soft, hard)"),
                *p,
                (idx(l, 0)?, idx(l, 1)?),
            );
        }
        Ok(())
    });
    c
}

/// The process after a --leave-running checkpoint: /proc shows the same
/// state, and it still answers.
/// Whether the kernel has soft-dirty bits: new mappings show "sd" in smaps.
fn soft_dirty() -> bool {
    fs::read_to_string("/proc/self/smaps")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("VmFlags:") && l.contains(" sd"))
        })
        .unwrap_or(false)
}

/// A tracking checkpoint and an incremental one of the (idle) target: the child
/// names its parent, holds few pages itself, and with its chain resolved
/// (`ckpt show --resolve`) has the pages of a full image (`full`, the first one).
fn t_incremental(pid: i32, full: &Value) -> Check {
    let mut c = Check::default();
    if !soft_dirty() {
        c.note("skipped: no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY) in this kernel");
        return c;
    }
    const BASE: &str = "/tmp/verify-base.img";
    const NEXT: &str = "/tmp/verify-next.img";
    c.run(|c| {
        let p = pid.to_string();
        run_tool(&[
            "checkpoint",
            &p,
            "-o",
            BASE,
            "--track",
            "--leave-running",
            "--quiet",
        ])?;
        run_tool(&[
            "checkpoint",
            &p,
            "-o",
            NEXT,
            "--parent",
            BASE,
            "--leave-running",
            "--quiet",
        ])?;
        let json = |args: &[&str]| -> Res<Value> {
            serde_json::from_slice(&run_tool(args)?).map_err(|e| format!("ckpt show: {e}"))
        };
        let base = json(&["show", "--json", BASE])?;
        let next = json(&["show", "--json", NEXT])?;
        let whole = json(&["show", "--json", "--resolve", NEXT])?;
        let track = u(&base["header"], "track")?;
        c.eq(
            "child's parent track id",
            track,
            next["header"]["parent"]["track"].as_u64().unwrap_or(0),
        );
        c.eq(
            "resolved image has no parent",
            true,
            whole["header"].get("parent").is_none(),
        );
        let count = |d: &Value, key: &str| -> u64 {
            d["mms"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| m["pages"][key].as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0)
        };
        let (own, from_parent) = (count(&next, "count"), count(&next, "parent"));
        let (all, resolved) = (count(full, "count"), count(&whole, "count"));
        c.note(format!(
            "full image {all} pages; incremental: {own} own, {from_parent} from the parent; \
             resolved {resolved}"
        ));
        if own * 4 > all {
            c.bad(format!(
                "the incremental image holds {own} of {all} pages itself"
            ));
        }
        if resolved + 64 < all || resolved > all + 64 {
            c.bad(format!("resolved {resolved} pages, the full image {all}"));
        }
        Ok(())
    });
    let _ = fs::remove_file(BASE);
    let _ = fs::remove_file(NEXT);
    c
}

fn t_leave_running(before: &Snap, t: &mut Target) -> Check {
    let mut c = Check::default();
    c.run(|c| {
        t.wait_blocked()?;
        let after = snapshot(t.pid)?;
        c.eq("maps", &before.maps, &after.maps);
        for key in [
            "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "Uid", "Gid", "Umask", "Threads",
        ] {
            c.eq(key, before.status(key)?, after.status(key)?);
        }
        let fdi = |s: &Snap| -> Vec<(i32, String, i64, u32)> {
            s.fds
                .iter()
                .map(|(k, v)| (*k, v.target.clone(), v.pos, v.flags))
                .collect()
        };
        c.eq("fds (fd, target, pos, flags)", fdi(before), fdi(&after));
        c.eq("syscall", &before.syscall, &after.syscall);
        c.eq("'a' after the checkpoint", "avx ok", t.ask(b'a')?.as_str());
        let want = format!("pid {} ppid {}", t.pid, std::process::id());
        c.eq(
            "'i' after the checkpoint",
            want.as_str(),
            t.ask(b'i')?.as_str(),
        );
        c.eq(
            "'q' after the checkpoint",
            "usr2 pending 1 blocked 1",
            t.ask(b'q')?.as_str(),
        );
        c.eq(
            "'p' after the checkpoint",
            "pipe 10 hello-pipe",
            t.ask(b'p')?.as_str(),
        );
        Ok(())
    });
    c
}

fn main() -> ExitCode {
    let mut k = Ktap::new();
    let mut setup = Check::default();
    let mut t = match start() {
        Ok(t) => t,
        Err(e) => {
            setup.bad(format!("starting restartee: {e}"));
            k.result(TESTS[0], setup);
            k.fail_rest("no target");
            return k.finish();
        }
    };
    let pid = t.pid;
    let prepared = (|| -> Res<(Snap, Value, Duration)> {
        let snap = snapshot(pid)?;
        let p = pid.to_string();
        run_tool(&["checkpoint", &p, "-o", IMAGE, "--leave-running", "--quiet"])?;
        // An upper bound of the time between setitimer() and the checkpoint.
        let elapsed = t.spawned.elapsed();
        let json = run_tool(&["show", "--json", IMAGE])?;
        let doc: Value =
            serde_json::from_slice(&json).map_err(|e| format!("ckpt show --json: {e}"))?;
        Ok((snap, doc, elapsed))
    })();
    let (snap, doc, elapsed) = match prepared {
        Ok(v) => v,
        Err(e) => {
            setup.bad(e);
            k.result(TESTS[0], setup);
            k.fail_rest("no image");
            let _ = t.stop();
            let _ = fs::remove_file(IMAGE);
            return k.finish();
        }
    };
    let img = match Img::new(&doc, pid) {
        Ok(i) => i,
        Err(e) => {
            setup.bad(e);
            k.result(TESTS[0], setup);
            k.fail_rest("image JSON incomplete");
            let _ = t.stop();
            let _ = fs::remove_file(IMAGE);
            return k.finish();
        }
    };
    setup.note(format!(
        "restartee pid {pid}, image {} bytes",
        fs::metadata(IMAGE).map(|m| m.len()).unwrap_or(0)
    ));
    k.result("checkpoint_and_show", setup);
    k.result("mappings", t_maps(&snap, &img));
    k.result("fds", t_fds(&snap, &img));
    k.result("pipe_data", t_pipe_data(&snap, &img));
    k.result("signals", t_signals(&snap, &img));
    k.result("creds", t_creds(&snap, &img));
    k.result("fs_and_exe", t_fs(&snap, &img));
    k.result("stat_and_layout", t_stat(&snap, &img));
    k.result("itimer", t_itimer(&img, elapsed));
    k.result("avx_registers", t_avx(&img));
    k.result("heap_pages", t_heap(&img));
    k.result("regs", t_regs(&snap, &img, pid));
    k.result("rlimits", t_rlimits(&snap, &img));
    let mut c = t_leave_running(&snap, &mut t);
    let inc = t_incremental(pid, &doc);
    match t.stop() {
        Ok(7) => {}
        Ok(n) => c.bad(format!("restartee exited with {n} on 'x', not 7")),
        Err(e) => c.bad(e),
    }
    k.result("leave_running", c);
    k.result("incremental_chain", inc);
    let _ = fs::remove_file(IMAGE);
    let _ = fs::remove_file(DATA);
    k.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let m = parse_maps(
            "00400000-00401000 r--p 00000000 00:02 5 /samples/restartee\n\
             7f0000000000-7f0000010000 rw-s 00000000 00:01 1034 /dev/zero (deleted)\n\
             7ffd0000-7ffd1000 rw-p 00000000 00:00 0 \n\
             7ffe0000-7ffe2000 r-xp 00000000 00:00 0                          [vdso]\n",
        )
        .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].name, "/samples/restartee");
        assert_eq!(m[1].name, "/dev/zero (deleted)");
        assert_eq!(m[1].perms, "rw-s");
        assert_eq!(m[2].name, "");
        assert_eq!(m[3].name, "[vdso]");
        assert_eq!(m[3].start, 0x7ffe0000);
    }

    #[test]
    fn stat_fields() {
        let s = parse_stat("42 (a (b) c) S 1 42 42 0").unwrap();
        assert_eq!(s[1], "42");
        assert_eq!(s[2], "a (b) c");
        assert_eq!(s[3], "S");
        assert_eq!(s[4], "1");
    }

    /// An image document with one task and a good AVX area.
    fn doc() -> Value {
        let mut area = vec![0u8; 576 + 256];
        area[512..520].copy_from_slice(&7u64.to_le_bytes());
        for r in 0..8usize {
            for j in 0..4usize {
                let w = 0x0123456789abcdefu64.wrapping_mul((4 * r + j + 1) as u64);
                let off = if j < 2 { 160 } else { 576 } + 16 * (8 + r) + 8 * (j % 2);
                area[off..off + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        let hex: String = area.iter().map(|b| format!("{b:02x}")).collect();
        let mut action = vec![serde_json::json!({"handler": 0}); 64];
        action[9] = serde_json::json!({"handler": 0x401000});
        action[13] = serde_json::json!({"handler": 1});
        serde_json::json!({
            "header": {"xfeatures": 7},
            "tasks": [{"pid": 5, "mm": 1, "files": 2, "fs": 3, "sighand": 4, "signal": 5,
                       "creds": 6,
                       "xstate": {"xstate_bv": 7, "size": area.len(), "area_hex": hex},
                       "signals": {"blocked": 0x800, "pending": {"pending": 0x800,
                                   "queued": [{"signo": 12}]}}}],
            "mms": [{"id": 1}], "fdtables": [{"id": 2}], "fs": [{"id": 3}],
            "sighands": [{"id": 4, "action": action}],
            "signals": [{"id": 5, "shared": {"pending": 0, "queued": []}}],
            "creds": [{"id": 6}],
        })
    }

    fn snap(status: &[(&str, &str)]) -> Snap {
        Snap {
            maps: Vec::new(),
            status: status
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stat: Vec::new(),
            fds: BTreeMap::new(),
            cwd: String::new(),
            root: String::new(),
            exe: String::new(),
            ntasks: 1,
            syscall: Vec::new(),
            limits: Vec::new(),
        }
    }

    #[test]
    fn avx_pattern() {
        let mut d = doc();
        assert!(t_avx(&Img::new(&d, 5).unwrap()).errs.is_empty());
        let hex = d["tasks"][0]["xstate"]["area_hex"]
            .as_str()
            .unwrap()
            .to_string();
        // One nibble of ymm15's upper half.
        let n = 2 * (576 + 16 * 15 + 3);
        let bad = format!(
            "{}{}{}",
            &hex[..n],
            if &hex[n..n + 1] == "0" { "1" } else { "0" },
            &hex[n + 1..]
        );
        d["tasks"][0]["xstate"]["area_hex"] = Value::String(bad);
        let c = t_avx(&Img::new(&d, 5).unwrap());
        assert_eq!(c.errs.len(), 1, "{:?}", c.errs);
        assert!(c.errs[0].starts_with("ymm15"));
    }

    #[test]
    fn signal_sets() {
        let d = doc();
        let img = Img::new(&d, 5).unwrap();
        let mut st = vec![
            ("SigPnd", "0000000000000800"),
            ("ShdPnd", "0000000000000000"),
            ("SigBlk", "0000000000000800"),
            ("SigIgn", "0000000000002000"),
            ("SigCgt", "0000000000000200"),
        ];
        assert!(t_signals(&snap(&st), &img).errs.is_empty());
        st[4].1 = "0000000000000a00";
        let c = t_signals(&snap(&st), &img);
        assert_eq!(c.errs.len(), 1, "{:?}", c.errs);
        assert!(c.errs[0].starts_with("SigCgt"));
    }

    #[test]
    fn limits() {
        let l = parse_limits(
            "Limit                     Soft Limit           Hard Limit           Units     \n\
             Max cpu time              unlimited            unlimited            seconds   \n\
             Max open files            1024                 4096                 files     \n",
        )
        .unwrap();
        assert_eq!(l, vec![(u64::MAX, u64::MAX), (1024, 4096)]);
    }
}
