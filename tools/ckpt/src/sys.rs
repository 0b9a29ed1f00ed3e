// SPDX-License-Identifier: GPL-2.0

//! The raw system calls of `ckpt restart`: process creation with a chosen
//! pid (`clone3`), waiting, signal dispositions, pipe sizes, and moving the
//! vDSO (`mremap`). Like `dev.rs`, every `unsafe` block of the tool that is
//! not an ioctl lives here.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};

use crate::restart::{check_moves, plan_moves, plan_park, Move, Special, VdsoError};

/// `CLONE_NEWPID`.
pub const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
/// `CLONE_FILES`.
pub const CLONE_FILES: u64 = libc::CLONE_FILES as u64;

/// `struct clone_args` of `clone3(2)` (`CLONE_ARGS_SIZE_VER2`), declared
/// here because not every C library the tool builds with has it.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of a fork this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fork {
    /// The new process.
    Child,
    /// The calling process; the child's pid (in the caller's pid namespace).
    Parent(i32),
}

/// Whether the calling process has exactly one thread (`/proc/self/task`).
fn single_threaded() -> io::Result<bool> {
    let mut n = 0;
    for e in std::fs::read_dir("/proc/self/task")? {
        e?;
        n += 1;
    }
    Ok(n == 1)
}

/// Forking is only sound in a single-threaded process: the child gets a
/// copy of memory in which another thread may hold a lock forever.
fn require_single_thread() -> io::Result<()> {
    match single_threaded() {
        Ok(true) => Ok(()),
        Ok(false) => Err(io::Error::other(
            "cannot fork: the tool has more than one thread (report this bug)",
        )),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot fork: /proc/self/task unreadable: {e}"),
        )),
    }
}

fn forked(r: libc::c_long) -> io::Result<Fork> {
    match r {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid as i32)),
    }
}

/// `clone3(2)` as a fork (no `CLONE_VM`, `SIGCHLD` to the parent at exit):
/// `flags` are `CLONE_*` bits (e.g. [`CLONE_NEWPID`]); `set_tid` asks for
/// that pid in the child's innermost pid namespace (`EEXIST` if taken,
/// `EPERM` without `CAP_CHECKPOINT_RESTORE`). Fails unless the caller is
/// single-threaded.
pub fn clone3(flags: u64, set_tid: Option<i32>) -> io::Result<Fork> {
    clone3_signal(flags, set_tid, libc::SIGCHLD)
}

/// [`clone3`] with `exit_signal` sent to the parent when the child exits.
pub fn clone3_signal(flags: u64, set_tid: Option<i32>, exit_signal: i32) -> io::Result<Fork> {
    require_single_thread()?;
    if !(0..=64).contains(&exit_signal) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let tid: [libc::pid_t; 1] = [set_tid.unwrap_or(0)];
    let args = CloneArgs {
        flags,
        exit_signal: exit_signal as u64,
        set_tid: if set_tid.is_some() {
            tid.as_ptr() as u64
        } else {
            0
        },
        set_tid_size: u64::from(set_tid.is_some()),
        ..Default::default()
    };
    // SAFETY: `args` is a valid `struct clone_args` of the size passed, and
    // `tid` (which `args.set_tid` points to) outlives the call. Without
    // CLONE_VM and with no stack given, the child runs on a copy of the
    // caller's memory, as after fork(2); the caller was checked to be
    // single-threaded, so no lock is held by a thread absent in the child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    forked(r)
}

/// `fork(2)`. Fails unless the caller is single-threaded.
pub fn fork() -> io::Result<Fork> {
    require_single_thread()?;
    // SAFETY: the caller is single-threaded (checked above), so the child's
    // copy of memory is consistent and it may call anything.
    let r = unsafe { libc::fork() };
    forked(r.into())
}

/// `waitpid(pid, &status, 0)` (`pid` -1: any child), retried on `EINTR`;
/// returns the pid reaped and its wait status.
pub fn waitpid(pid: i32) -> io::Result<(i32, i32)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, exclusive int to store the status in.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 {
            return Ok((r, status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `_exit(2)`: ends a forked child without running the parent's exit
/// handlers or flushing the parent's buffers twice.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// `setsid(2)`.
pub fn setsid() -> io::Result<()> {
    // SAFETY: no memory is involved.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setpgid(0, pgid)` (0: a group of its own).
pub fn setpgid(pgid: i32) -> io::Result<()> {
    // SAFETY: no memory is involved.
    if unsafe { libc::setpgid(0, pgid) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `getpgrp(2)`.
pub fn getpgrp() -> i32 {
    // SAFETY: no memory is involved; it cannot fail.
    unsafe { libc::getpgrp() }
}

/// Sets the calling thread's `comm` (`PR_SET_NAME`; at most 15 bytes), errors
/// ignored.
pub fn set_comm(name: &str) {
    let mut c = [0u8; 16];
    let n = name.len().min(15);
    c[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: `c` is a NUL-terminated buffer of 16 bytes, as PR_SET_NAME reads.
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
}

/// `kill(pid, SIGKILL)`, errors ignored.
pub fn kill_now(pid: i32) {
    if pid > 0 {
        // SAFETY: no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Ends the process so that its parent collects wait status `status`: an
/// exit code, or death by a signal (without a core dump).
pub fn exit_with_status(status: i32) -> ! {
    let sig = status & 0x7f;
    if sig != 0 {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `no_core` is a valid rlimit; SIG_DFL installs no handler;
        // the set is initialised by sigemptyset before use; kill(2) of
        // itself touches no memory.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        exit_now(128 + sig)
    }
    exit_now((status >> 8) & 0xff)
}

/// Ignores `sig` (`SIG_IGN`) in the calling process.
pub fn ignore_signal(sig: i32) -> io::Result<()> {
    // SAFETY: SIG_IGN installs no handler; `sig` is a signal number (an
    // invalid one makes `signal` fail with EINVAL, which is reported).
    let r = unsafe { libc::signal(sig, libc::SIG_IGN) };
    if r == libc::SIG_ERR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The capacity of a pipe (`F_GETPIPE_SZ`).
pub fn pipe_size(pipe: BorrowedFd<'_>) -> io::Result<usize> {
    // SAFETY: F_GETPIPE_SZ takes no argument and touches no memory of ours;
    // `pipe` is a valid open fd for the duration of the call.
    let r = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_GETPIPE_SZ) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Why [`move_specials`] failed.
#[derive(Debug)]
pub enum MoveError {
    /// `/proc/self/maps` could not be read.
    Maps(io::Error),
    /// The mappings cannot be put where the image had them.
    Plan(VdsoError),
    /// `mremap` of `Move` failed.
    Mremap(Move, io::Error),
}

/// Size of the buffer `/proc/self/maps` is read into (on the stack: reading
/// it must not allocate).
const MAPS_BUF: usize = 64 << 10;

/// Moves this process's vDSO and its data pages to where the image had them
/// (`image`; the image's mappings are `vmas`): reads `maps` (this process's
/// `/proc/self/maps`, opened by the caller, possibly before a `chroot`),
/// plans the moves with [`plan_moves`], checks them with [`check_moves`],
/// and makes them (`mremap` with `MREMAP_MAYMOVE | MREMAP_FIXED`). Nothing
/// is allocated from the reading to the last move, so that the listing is
/// the address space the moves find.
///
/// Afterwards the C library's cached pointers into the vDSO are stale:
/// nothing that may use it (`clock_gettime`, `gettimeofday`, `time`,
/// `std::time`) may be called until the process image is replaced.
///
/// With `proxy` (the module puts a vDSO proxy where the image's vDSO was),
/// they are only moved out of the way of the image's mappings, if they are in
/// it ([`plan_park`]).
pub fn move_specials(
    maps: &mut File,
    image: &[Special],
    vmas: &[(u64, u64)],
    proxy: bool,
) -> Result<(), MoveError> {
    let mut buf = [0u8; MAPS_BUF];
    let mut n = 0;
    loop {
        if n == buf.len() {
            return Err(MoveError::Maps(io::Error::other(
                "/proc/self/maps is larger than its buffer",
            )));
        }
        match maps.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MoveError::Maps(e)),
        }
    }
    let text = std::str::from_utf8(&buf[..n])
        .map_err(|_| MoveError::Maps(io::Error::other("/proc/self/maps is not UTF-8")))?;
    let moves = if proxy {
        plan_park(text, vmas)
    } else {
        plan_moves(text, image, vmas)
    }
    .map_err(MoveError::Plan)?;
    check_moves(text, &moves).map_err(MoveError::Plan)?;
    for m in moves.iter() {
        // SAFETY: `check_moves` verified, on the listing of this very
        // (single-threaded) process taken after its last allocation, that
        // the source of each move is a whole [vdso]/[vvar]* mapping -- made by
        // the kernel, owned by no Rust object -- and that its destination,
        // in the state left by the moves before it, overlaps no mapping at
        // all, so MREMAP_FIXED unmaps nothing that anything refers to.
        let r = unsafe {
            libc::mremap(
                m.from as *mut libc::c_void,
                m.len as usize,
                m.len as usize,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                m.to as *mut libc::c_void,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(MoveError::Mremap(*m, io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The identity of this process's vDSO (`None` if it has none or it does not
/// parse).
pub fn own_vdso() -> Option<crate::image::vdso::VdsoSyms> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let m = crate::restart::maps(&maps).find(|m| m.name == "[vdso]")?;
    let len = usize::try_from(m.end - m.start).ok()?;
    if len > crate::image::MAX_VDSO_LEN {
        return None;
    }
    // SAFETY: `[start, end)` is this process's vDSO mapping, made readable by the
    // kernel; nothing unmaps or moves it while this runs (the restarter moves it
    // only later, single-threaded).
    let bytes = unsafe { std::slice::from_raw_parts(m.start as *const u8, len) };
    crate::image::vdso::symbols(bytes).ok()
}

/// Creates a thread of the calling process with thread id `tid` (clone3
/// `set_tid`) whose only act is `ioctl(dev, cmd, arg)`: it never returns
/// into Rust code, and it exits (that thread only) with the errno if the
/// ioctl returns. For `CKPT_IOC_RESTART`, whose success returns into the
/// restored thread. `arg` must stay valid for the life of the process.
#[cfg(target_arch = "x86_64")]
pub fn spawn_ioctl_thread(tid: i32, dev: i32, cmd: u32, arg: *mut libc::c_void) -> io::Result<()> {
    const STACK: usize = 64 * 1024;
    // SAFETY: a fresh anonymous mapping; no memory of ours is affected.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let tids: &'static mut [libc::pid_t; 1] = Box::leak(Box::new([tid]));
    let args = CloneArgs {
        flags: (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM) as u64,
        stack: stack as u64,
        stack_size: STACK as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    let ret: i64;
    // SAFETY: clone3 with CLONE_VM|CLONE_THREAD and a stack of its own. The
    // parent side returns normally (a syscall clobbers only rax, rcx and
    // r11). The child side runs only the instructions below, from
    // registers: it touches no memory of ours but `arg` (valid for the
    // life of the process), and never returns into Rust; if the ioctl
    // returns, it ends the thread with exit(2).
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov eax, {sys_ioctl}",
            "mov rdi, r12",
            "mov rsi, r13",
            "mov rdx, r14",
            "syscall",
            "mov rdi, rax",
            "neg rdi",
            "mov eax, {sys_exit}",
            "syscall",
            "ud2",
            "2:",
            sys_ioctl = const libc::SYS_ioctl,
            sys_exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") i64::from(dev),
            in("r13") u64::from(cmd),
            in("r14") arg,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret < 0 {
        // SAFETY: the mapping made above, unused.
        unsafe { libc::munmap(stack, STACK) };
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(())
}

/// A SysV shared memory segment as `/proc/sysvipc/shm` lists it: (key, size).
pub fn sysv_segment(shmid: i32) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 || f[1].parse::<i32>().ok()? != shmid {
            return None;
        }
        Some((f[0].parse::<i64>().ok()? as i32, f[3].parse().ok()?))
    })
}

/// Creates SysV shared memory segment `shmid` with `key` and `size` bytes
/// (mode 0600), by setting `/proc/sys/kernel/shm_next_id` first.
pub fn sysv_create(shmid: i32, key: i32, size: u64) -> io::Result<()> {
    std::fs::write("/proc/sys/kernel/shm_next_id", format!("{shmid}\n"))?;
    // SAFETY: no memory of ours is involved.
    let id = unsafe {
        libc::shmget(
            key,
            size as libc::size_t,
            libc::IPC_CREAT | libc::IPC_EXCL | 0o600,
        )
    };
    let err = io::Error::last_os_error();
    let _ = std::fs::write("/proc/sys/kernel/shm_next_id", "-1\n");
    if id < 0 {
        return Err(err);
    }
    if id != shmid {
        sysv_remove(id);
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    Ok(())
}

/// Attaches segment `shmid` at `addr` (read-write).
pub fn sysv_attach(shmid: i32, addr: u64) -> io::Result<()> {
    // SAFETY: `addr` is a page-aligned address where nothing is mapped (shmat
    // without SHM_REMAP fails rather than replace a mapping), so no memory of
    // ours changes.
    let p = unsafe { libc::shmat(shmid, addr as *const libc::c_void, 0) };
    if p as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks segment `shmid` for removal (`IPC_RMID`), errors ignored.
pub fn sysv_remove(shmid: i32) {
    // SAFETY: IPC_RMID takes no buffer.
    unsafe { libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut()) };
}

/// Opens the terminal at `path` read-write without making it the controlling
/// terminal.
fn open_tty(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// Makes the terminal at `path` the calling session leader's controlling
/// terminal (`TIOCSCTTY`).
pub fn take_ctty(path: &std::path::Path) -> io::Result<()> {
    let f = open_tty(path)?;
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); `f` is open.
    if unsafe { libc::ioctl(f.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes process group `pgid` the foreground group of the terminal at
/// `path` (`tcsetpgrp`), with `SIGTTOU` blocked meanwhile.
pub fn set_foreground(path: &std::path::Path, pgid: i32) -> io::Result<()> {
    let f = open_tty(path)?;
    // SAFETY: the sets are initialised by sigemptyset before use; tcsetpgrp
    // takes an open fd and a pid.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        let r = libc::tcsetpgrp(f.as_raw_fd(), pgid);
        let e = io::Error::last_os_error();
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// `struct termios2` (the kernel's `ktermios` as `TCSETS2` takes it).
#[repr(C)]
struct Termios2 {
    flags: [u32; 4],
    line: u8,
    cc: [u8; 19],
    speed: [u32; 2],
}

/// `TCSETS2`: `_IOW('T', 0x2B, struct termios2)`.
const TCSETS2: libc::c_ulong = 0x402C_542B;
/// `TIOCGPTPEER`: `_IO('T', 0x41)`.
const TIOCGPTPEER: libc::c_ulong = 0x5441;

/// What a pseudo-terminal pair is given when it is made again.
pub struct PtySetup<'a> {
    /// Its number (`N` of `/dev/pts/N`).
    pub index: u32,
    /// Whether the slave stays locked.
    pub locked: bool,
    /// The slave's termios: `c_iflag`, `c_oflag`, `c_cflag`, `c_lflag`.
    pub flags: [u32; 4],
    /// `c_line`.
    pub line: u8,
    /// `c_cc`.
    pub cc: &'a [u8; 19],
    /// `c_ispeed`, `c_ospeed`.
    pub speed: [u32; 2],
    /// Rows, columns, x and y pixels.
    pub winsize: [u16; 4],
    /// Owner, group and mode of the slave's node.
    pub owner: (u32, u32, u32),
}

/// Makes a pseudo-terminal pair numbered `s.index` (opening `/dev/ptmx` until the
/// kernel hands out that number, which it does lowest first) with the slave's
/// termios and the window size of `s`; returns its master.
pub fn make_pty(s: &PtySetup<'_>) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut spare = Vec::new();
    let master = loop {
        let m = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open("/dev/ptmx")?;
        let mut n: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes an unsigned int; `m` is open.
        if unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCGPTN, &mut n) } < 0 {
            return Err(io::Error::last_os_error());
        }
        match n.cmp(&s.index) {
            std::cmp::Ordering::Equal => break m,
            std::cmp::Ordering::Less if spare.len() < 4096 => spare.push(m),
            _ => return Err(io::Error::from_raw_os_error(libc::EBUSY)),
        }
    };
    drop(spare);
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int; `master` is open.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd, owned here.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `slave` is a new fd nobody else owns.
    let slave = unsafe { File::from_raw_fd(slave) };
    let t = Termios2 {
        flags: s.flags,
        line: s.line,
        cc: *s.cc,
        speed: s.speed,
    };
    let ws = libc::winsize {
        ws_row: s.winsize[0],
        ws_col: s.winsize[1],
        ws_xpixel: s.winsize[2],
        ws_ypixel: s.winsize[3],
    };
    // SAFETY: TCSETS2 reads a struct termios2, TIOCSWINSZ a struct winsize;
    // both fds are open.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), TCSETS2 as _, &t) < 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    let (uid, gid, mode) = s.owner;
    // SAFETY: plain calls on an open fd.
    unsafe {
        if libc::fchown(slave.as_raw_fd(), uid, gid) < 0
            || libc::fchmod(slave.as_raw_fd(), mode & 0o7777) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    drop(slave);
    if s.locked {
        let lock: libc::c_int = 1;
        // SAFETY: as above.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &lock) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(master)
}

/// Enters a new empty directory `path` with `mode` and removes it: the working
/// directory of a process whose directory was deleted.
pub fn enter_deleted_dir(path: &std::path::Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    let r = std::fs::set_permissions(
        path,
        std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777),
    )
    .and_then(|_| std::env::set_current_dir(path));
    let rm = std::fs::remove_dir(path);
    r.and(rm)
}

/// Opens `path` with `O_PATH | O_CLOEXEC | extra` (through `open(2)` itself: the
/// standard library masks `O_PATH` out of its custom flags under musl, whose
/// `O_ACCMODE` includes it).
pub fn open_o_path(path: &std::path::Path, extra: libc::c_int) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is NUL-terminated.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | extra) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A deleted directory or symbolic link like `n` again: made at its name
/// (`/DIR/NAME (deleted)`, with the missing directories above it, or under a
/// temporary name in its directory if the name is taken), given its mode and
/// owner, opened (a link with `O_PATH`), then removed with the directories made
/// for it.
pub fn deleted_node(n: &crate::restart::DeletedNode) -> io::Result<File> {
    use std::ffi::{CString, OsStr};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::{Path, PathBuf};
    let name = n.path.strip_suffix(b" (deleted)").unwrap_or(&n.path);
    let name = Path::new(OsStr::from_bytes(name));
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let parent = name.parent().ok_or_else(einval)?;
    // The directories above it that are gone, made for it (outermost last).
    let mut made: Vec<PathBuf> = Vec::new();
    let mut p = parent;
    while std::fs::symlink_metadata(p).is_err() {
        made.push(p.to_path_buf());
        p = p.parent().ok_or_else(einval)?;
    }
    let cleanup = |made: &[PathBuf]| {
        for d in made {
            let _ = std::fs::remove_dir(d);
        }
    };
    for d in made.iter().rev() {
        if let Err(e) = std::fs::create_dir(d) {
            cleanup(&made);
            return Err(e);
        }
    }
    let make = |at: &Path| -> io::Result<()> {
        match &n.target {
            Some(t) => std::os::unix::fs::symlink(OsStr::from_bytes(t), at),
            None => std::fs::create_dir(at),
        }
    };
    let mut at = name.to_path_buf();
    let r = match make(&at) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            at = parent.join(format!(".ckpt-deleted-{}-{}", std::process::id(), n.id));
            make(&at)
        }
        r => r,
    };
    if let Err(e) = r {
        cleanup(&made);
        return Err(e);
    }
    let opened = (|| {
        let c = CString::new(at.as_os_str().as_bytes()).map_err(|_| einval())?;
        if let Some((uid, gid)) = n.owner {
            // SAFETY: `c` is NUL-terminated.
            if unsafe { libc::lchown(c.as_ptr(), uid, gid) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if n.target.is_none() {
            // The mode as the image had it (mkdir applied the umask); after the
            // owner, which clears set-id bits.
            std::fs::set_permissions(
                &at,
                std::os::unix::fs::PermissionsExt::from_mode(n.mode & 0o7777),
            )?;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&at)
        } else {
            open_o_path(&at, libc::O_NOFOLLOW)
        }
    })();
    let rm = if n.target.is_some() {
        std::fs::remove_file(&at)
    } else {
        std::fs::remove_dir(&at)
    };
    cleanup(&made);
    let f = opened?;
    rm?;
    Ok(f)
}

/// A new fifo with `mode` in the directory of `path` (`/DIR/NAME (deleted)`), open
/// for reading and writing (non-blocking), and unlinked: a deleted fifo again.
pub fn deleted_fifo(path: &[u8], mode: u32, id: u32) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.strip_suffix(b" (deleted)").unwrap_or(path);
    let dir = match name.iter().rposition(|&c| c == b'/') {
        Some(0) | None => &b"/"[..],
        Some(i) => &name[..i],
    };
    let mut tmp = dir.to_vec();
    tmp.extend_from_slice(format!("/.ckpt-fifo-{}-{id}", std::process::id()).as_bytes());
    let tmp =
        std::ffi::CString::new(tmp).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `tmp` is NUL-terminated.
    if unsafe { libc::mkfifo(tmp.as_ptr(), (mode & 0o7777) as libc::mode_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(tmp.as_bytes()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(p);
    let rm = std::fs::remove_file(p);
    let f = f?;
    rm?;
    // The mode as the image had it (mkfifo applied the umask).
    // SAFETY: a plain call on an open fd.
    if unsafe { libc::fchmod(f.as_raw_fd(), (mode & 0o7777) as libc::mode_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f)
}

/// Takes the image's user and group ids (`ids`) with the kernel's own system calls,
/// keeping the caller's capabilities: the module then restores the image's
/// capability sets (and checks the ids) itself.
///
/// Why here and not in the module: `setresuid(2)` moves the process's count from
/// the old user to the new one (`alloc_uid()` and `set_cred_ucounts()` are not
/// exported, so a module that writes the ids of a `struct cred` leaves the count
/// with the old user, and a later `setuid(2)` of the restored process underflows
/// it), and it runs the LSM hooks of a uid change (SafeSetID, SELinux). Nothing
/// happens when the ids are already the caller's. Call with one thread only: the
/// raw system calls change the calling thread, and threads made later inherit.
pub fn take_ids(ids: &crate::restart::IdsPlan) -> io::Result<()> {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    // SAFETY: getresuid/getresgid write three ids to valid pointers.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    let same_u = [r, e, s] == ids.uids[..3];
    // SAFETY: As above.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    let same_g = [r, e, s] == ids.gids[..3];
    // SAFETY: getgroups(0, NULL) returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut groups = vec![0u32; n.max(0) as usize];
    // SAFETY: `groups` has room for `n` entries.
    let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    let same_groups = {
        let (mut a, mut b) = (groups.clone(), ids.groups.clone());
        a.sort_unstable();
        b.sort_unstable();
        a == b
    };
    if same_u && same_g && same_groups {
        return Ok(());
    }
    let ok = |r: libc::c_long| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // Capabilities before the change: kept through it (SECBIT_KEEP_CAPS), then
    // made effective again, so that the module can still judge and apply the
    // image's sets (never more than these).
    // struct __user_cap_header_struct { u32 version; int pid; } and two
    // struct __user_cap_data_struct { u32 effective, permitted, inheritable; }.
    let mut hdr: [u32; 2] = [0x2008_0522, 0]; // _LINUX_CAPABILITY_VERSION_3, self
    let mut data = [0u32; 6];
    // SAFETY: capget with a version-3 header fills two data structs.
    ok(unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) })?;
    // SAFETY: Raw system calls with integer arguments and valid buffers; each
    // changes the calling thread only (the restarter has no other thread yet).
    unsafe {
        ok(libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_KEEPCAPS,
            1,
            0,
            0,
            0,
        ))?;
        if !same_groups {
            ok(libc::syscall(
                libc::SYS_setgroups,
                ids.groups.len(),
                ids.groups.as_ptr(),
            ))?;
        }
        if !same_g {
            ok(libc::syscall(
                libc::SYS_setresgid,
                ids.gids[0],
                ids.gids[1],
                ids.gids[2],
            ))?;
        }
        if !same_u {
            ok(libc::syscall(
                libc::SYS_setresuid,
                ids.uids[0],
                ids.uids[1],
                ids.uids[2],
            ))?;
        }
        ok(libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_KEEPCAPS,
            0,
            0,
            0,
            0,
        ))?;
        ok(libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()))?;
    }
    Ok(())
}
