// SPDX-License-Identifier: GPL-2.0

//! The raw system calls of `ckpt restart`: process creation with a chosen
//! pid (`clone3`), waiting, signal dispositions, pipe sizes, and moving the
//! vDSO (`mremap`). Like `dev.rs`, every `unsafe` block of the tool that is
//! not an ioctl lives here.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::restart::{check_moves, plan_moves, plan_park, Move, Special, VdsoError};

/// `CLONE_NEWPID`.
pub const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
/// `CLONE_FILES`.
pub const CLONE_FILES: u64 = libc::CLONE_FILES as u64;
/// `CLONE_PARENT`.
pub const CLONE_PARENT: u64 = libc::CLONE_PARENT as u64;

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

/// A new open file of the slave of pseudo-terminal master `master` (`TIOCGPTPEER`).
pub fn pty_peer(master: &File) -> io::Result<File> {
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
    Ok(unsafe { File::from_raw_fd(slave) })
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
    let slave = pty_peer(&master)?;
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

/// The filesystem identity of the image's process, taken for a while by the
/// root restarter: its fsuid, fsgid and supplementary groups, on this thread
/// only (raw system calls). Going from fsuid 0 to another, the kernel drops
/// the filesystem capabilities (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`,
/// `CAP_FOWNER`, `CAP_CHOWN`, `CAP_MKNOD`...) from the effective set, and gives
/// them back on the way back: what is opened or made meanwhile is what the
/// image's user could. Dropping it gives the restarter's identity back.
pub struct AsImage {
    uid: u32,
    gid: u32,
    groups: Option<Vec<u32>>,
}

fn groups_now() -> Vec<u32> {
    // SAFETY: getgroups(0, NULL) returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut g = vec![0u32; n.max(0) as usize];
    // SAFETY: `g` has room for `n` entries.
    let n = unsafe { libc::getgroups(n, g.as_mut_ptr()) };
    g.truncate(n.max(0) as usize);
    g
}

fn set_groups(g: &[u32]) -> io::Result<()> {
    // SAFETY: A raw system call (this thread only) with a valid buffer.
    if unsafe { libc::syscall(libc::SYS_setgroups, g.len(), g.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn fsuid(id: u32) -> u32 {
    // SAFETY: A raw system call; it returns the previous fsuid.
    unsafe { libc::syscall(libc::SYS_setfsuid, id) as u32 }
}

fn fsgid(id: u32) -> u32 {
    // SAFETY: A raw system call; it returns the previous fsgid.
    unsafe { libc::syscall(libc::SYS_setfsgid, id) as u32 }
}

/// The calling thread's effective capabilities cut down to the filesystem ones
/// (`CAP_FS_MASK`: those `setfsuid(2)` keeps for fsuid 0, drops otherwise)
/// until dropped: what a file is opened with as its opener ([`AsImage`] first),
/// never the restarter's other capabilities (`CAP_SYS_PTRACE` opens other
/// processes' `/proc` files).
pub struct FsCapsOnly {
    effective: [u32; 2],
}

/// `CAP_CHOWN`, `CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`,
/// `CAP_FSETID`, `CAP_LINUX_IMMUTABLE`, `CAP_MKNOD` (low word), `CAP_MAC_OVERRIDE`
/// (high word).
const CAP_FS_MASK: [u32; 2] = [0x1f | 1 << 9 | 1 << 27, 1];

fn caps_now() -> io::Result<[u32; 6]> {
    let mut hdr: [u32; 2] = [0x2008_0522, 0]; // _LINUX_CAPABILITY_VERSION_3, self
    let mut data = [0u32; 6];
    // SAFETY: capget with a version-3 header fills two data structs.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(data)
}

fn caps_set(data: &[u32; 6]) -> io::Result<()> {
    let mut hdr: [u32; 2] = [0x2008_0522, 0];
    // SAFETY: capset with a version-3 header reads two data structs (this thread).
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl FsCapsOnly {
    /// Cuts the effective set down (lowering it is always allowed).
    pub fn take() -> io::Result<Self> {
        let mut data = caps_now()?;
        let effective = [data[0], data[3]];
        data[0] &= CAP_FS_MASK[0];
        data[3] &= CAP_FS_MASK[1];
        caps_set(&data)?;
        Ok(Self { effective })
    }
}

impl Drop for FsCapsOnly {
    fn drop(&mut self) {
        // Raised back within the permitted set, which did not change.
        if let Ok(mut data) = caps_now() {
            data[0] = self.effective[0];
            data[3] = self.effective[1];
            let _ = caps_set(&data);
        }
    }
}

impl AsImage {
    /// Takes `ids`' filesystem identity (none: keeps the restarter's).
    pub fn take(ids: Option<&crate::restart::IdsPlan>) -> io::Result<Self> {
        let (uid, gid) = (fsuid(u32::MAX), fsgid(u32::MAX));
        let Some(ids) = ids else {
            return Ok(Self {
                uid,
                gid,
                groups: None,
            });
        };
        let old = groups_now();
        let groups = {
            let (mut a, mut b) = (old.clone(), ids.groups.clone());
            a.sort_unstable();
            b.sort_unstable();
            if a == b {
                None
            } else {
                set_groups(&ids.groups)?;
                Some(old)
            }
        };
        let me = Self { uid, gid, groups };
        fsgid(ids.gids[3]);
        fsuid(ids.uids[3]);
        if fsuid(u32::MAX) != ids.uids[3] || fsgid(u32::MAX) != ids.gids[3] {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        Ok(me)
    }
}

impl Drop for AsImage {
    fn drop(&mut self) {
        fsuid(self.uid);
        fsgid(self.gid);
        if let Some(g) = &self.groups {
            let _ = set_groups(g);
        }
    }
}

fn cstr(b: &[u8]) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn fd_or_err(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn rc(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens directory `name` in `dir` (`None`: `/` itself) with `O_PATH`, never
/// through a symlink.
fn open_dir_at(dir: Option<&OwnedFd>, name: &[u8]) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `c` is NUL-terminated; `at` is open or AT_FDCWD.
    fd_or_err(unsafe {
        libc::openat(
            at,
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })
}

/// Directories made on the way: (parent fd, name), outermost first.
type Made = Vec<(OwnedFd, Vec<u8>)>;

/// The directory `/A/B/C` opened component by component from `/` without
/// following a symlink anywhere; `make`: missing components are made (mode
/// 0700, with the caller's identity: see [`AsImage`]) and listed in the
/// returned vector (parent fd, name), outermost first.
fn walk_dir(path: &[u8], make: bool) -> io::Result<(OwnedFd, Made)> {
    if path.first() != Some(&b'/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut cur = open_dir_at(None, b"/")?;
    let mut made = Vec::new();
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if c == b"." || c == b".." {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let next = match open_dir_at(Some(&cur), c) {
            Err(e) if make && e.raw_os_error() == Some(libc::ENOENT) => {
                let n = cstr(c)?;
                // SAFETY: `n` is NUL-terminated, `cur` open.
                rc(unsafe { libc::mkdirat(cur.as_raw_fd(), n.as_ptr(), 0o700) })?;
                let fd = open_dir_at(Some(&cur), c)?;
                made.push((cur.try_clone()?, c.to_vec()));
                fd
            }
            r => r?,
        };
        cur = next;
    }
    Ok((cur, made))
}

fn unlink_at(dir: &OwnedFd, name: &[u8], flags: libc::c_int) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: `c` is NUL-terminated, `dir` open.
    rc(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) })
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: `st` is written by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open, `st` writable.
    rc(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// A deleted directory or symbolic link like `n` again: made at its name
/// (`/DIR/NAME (deleted)`, with the missing directories above it, or under a
/// temporary name in its directory if the name is taken), opened (a link with
/// `O_PATH`), given its owner and mode through that fd, then removed with the
/// directories made for it. Every step is relative to an fd of the directory
/// and never follows a symlink; run it as the image's user ([`AsImage`]): the
/// directories above are made with that identity, and the owner is given only
/// if that user may.
pub fn deleted_node(n: &crate::restart::DeletedNode) -> io::Result<File> {
    let name = n.path.strip_suffix(b" (deleted)").unwrap_or(&n.path);
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let cut = name.iter().rposition(|&c| c == b'/').ok_or_else(einval)?;
    let (parent, base) = (&name[..cut.max(1)], &name[cut + 1..]);
    if base.is_empty() || base == b"." || base == b".." {
        return Err(einval());
    }
    let (dir, made) = walk_dir(parent, true)?;
    let cleanup = |made: &[(OwnedFd, Vec<u8>)]| {
        for (d, c) in made.iter().rev() {
            let _ = unlink_at(d, c, libc::AT_REMOVEDIR);
        }
    };
    let make = |at: &[u8]| -> io::Result<()> {
        let c = cstr(at)?;
        match &n.target {
            Some(t) => {
                let t = cstr(t)?;
                // SAFETY: Both NUL-terminated; `dir` open.
                rc(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) })
            }
            // SAFETY: `c` NUL-terminated; `dir` open.
            None => rc(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o700) }),
        }
    };
    let mut at = base.to_vec();
    let r = match make(&at) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            at = format!(".ckpt-deleted-{}-{}", std::process::id(), n.id).into_bytes();
            make(&at)
        }
        r => r,
    };
    if let Err(e) = r {
        cleanup(&made);
        return Err(e);
    }
    let opened = (|| {
        let c = cstr(&at)?;
        let flags = match n.target {
            Some(_) => libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            None => libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        };
        // SAFETY: `c` NUL-terminated; `dir` open.
        let fd = fd_or_err(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) })?;
        let st = fstat(&fd)?;
        let want = if n.target.is_some() {
            libc::S_IFLNK
        } else {
            libc::S_IFDIR
        };
        if st.st_mode & libc::S_IFMT != want {
            return Err(io::Error::from_raw_os_error(libc::ESTALE));
        }
        if let Some((uid, gid)) = n.owner {
            if (st.st_uid, st.st_gid) != (uid, gid) {
                // SAFETY: `fd` open; AT_EMPTY_PATH changes the fd's own inode
                // (an O_PATH link too).
                rc(unsafe {
                    libc::fchownat(
                        fd.as_raw_fd(),
                        c"".as_ptr(),
                        uid,
                        gid,
                        libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
                    )
                })?;
            }
        }
        if n.target.is_none() {
            // The mode as the image had it (mkdir applied 0700); after the
            // owner, which clears set-id bits.
            // SAFETY: `fd` open.
            rc(unsafe { libc::fchmod(fd.as_raw_fd(), (n.mode & 0o7777) as libc::mode_t) })?;
        }
        Ok(File::from(fd))
    })();
    let rm = unlink_at(
        &dir,
        &at,
        if n.target.is_some() {
            0
        } else {
            libc::AT_REMOVEDIR
        },
    );
    cleanup(&made);
    let f = opened?;
    rm?;
    Ok(f)
}

/// A new fifo with `mode` in the directory of `path` (`/DIR/NAME (deleted)`), open
/// for reading and writing (non-blocking), and unlinked: a deleted fifo again.
/// Relative to an fd of the directory, never through a symlink; run it as the
/// image's user ([`AsImage`]).
pub fn deleted_fifo(path: &[u8], mode: u32, id: u32) -> io::Result<File> {
    let name = path.strip_suffix(b" (deleted)").unwrap_or(path);
    let dir = match name.iter().rposition(|&c| c == b'/') {
        Some(0) | None => &b"/"[..],
        Some(i) => &name[..i],
    };
    let (dir, _) = walk_dir(dir, false)?;
    let tmp = format!(".ckpt-fifo-{}-{id}", std::process::id()).into_bytes();
    let c = cstr(&tmp)?;
    // SAFETY: `c` is NUL-terminated, `dir` open.
    rc(unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::S_IFIFO | (mode & 0o7777) as libc::mode_t,
            0,
        )
    })?;
    // SAFETY: As above.
    let f = fd_or_err(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    });
    let rm = unlink_at(&dir, &tmp, 0);
    let f = f?;
    rm?;
    if fstat(&f)?.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    // The mode as the image had it (mkfifo applied the umask).
    // SAFETY: a plain call on an open fd.
    if unsafe { libc::fchmod(f.as_raw_fd(), (mode & 0o7777) as libc::mode_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(File::from(f))
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
    // SAFETY: setfsuid(-1)/setfsgid(-1) change nothing and return the current fs ids.
    let (fsu, fsg) = unsafe { (libc::setfsuid(u32::MAX), libc::setfsgid(u32::MAX)) };
    let same_u = [r, e, s] == ids.uids[..3] && fsu as u32 == ids.uids[3];
    // SAFETY: As above.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    let same_g = [r, e, s] == ids.gids[..3] && fsg as u32 == ids.gids[3];
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
        // The filesystem ids last (setresuid/setresgid made them the effective
        // ones); the module refuses an image whose ids are not the caller's.
        if !same_g {
            libc::setfsgid(ids.gids[3]);
        }
        if !same_u {
            libc::setfsuid(ids.uids[3]);
            // A session keyring of the program's own, not the restarter's
            // (KEYCTL_JOIN_SESSION_KEYRING with no name: a new anonymous one).
            // Kernels without keys (ENOSYS, EOPNOTSUPP) have none to leave.
            let r = libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<u8>());
            if r < 0 {
                let e = io::Error::last_os_error();
                if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EOPNOTSUPP)) {
                    return Err(e);
                }
            }
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

#[cfg(test)]
mod deleted_tests {
    use super::*;
    use crate::restart::DeletedNode;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ckpt-deleted-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        d
    }

    fn node(
        path: &std::path::Path,
        target: Option<&[u8]>,
        owner: Option<(u32, u32)>,
    ) -> DeletedNode {
        let mut p = path.as_os_str().as_bytes().to_vec();
        p.extend_from_slice(b" (deleted)");
        DeletedNode {
            id: 7,
            path: p,
            mode: 0o751,
            owner,
            target: target.map(|t| t.to_vec()),
        }
    }

    /// Made again with its mode, the directories above it made and removed;
    /// a symlink in the path is never followed (a swapped parent).
    #[test]
    fn deleted_dir_and_link() {
        let d = scratch("dir");
        let f = deleted_node(&node(&d.join("gone/deeper/x"), None, None)).unwrap();
        let m = f.metadata().unwrap();
        assert!(m.is_dir());
        assert_eq!(m.mode() & 0o7777, 0o751);
        assert!(!d.join("gone").exists());
        let f = deleted_node(&node(&d.join("l"), Some(b"/etc/passwd"), None)).unwrap();
        drop(f);
        assert!(std::fs::symlink_metadata(d.join("l")).is_err());
        // A parent that is a symlink (to a directory the attacker wants
        // changed): refused, nothing made there.
        let victim = d.join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::os::unix::fs::symlink(&victim, d.join("swapped")).unwrap();
        let e = deleted_node(&node(&d.join("swapped/x"), None, None)).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// As the image's user (not root): nothing made where the user may not
    /// write, no owner given away, missing parents not made as root.
    #[test]
    fn deleted_node_as_the_image() {
        // SAFETY: No memory is involved.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let d = scratch("ids");
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let ids = crate::restart::IdsPlan {
            uids: [65534; 4],
            gids: [65534; 4],
            groups: vec![65534],
        };
        let _as = AsImage::take(Some(&ids)).unwrap();
        let e = deleted_node(&node(&d.join("gone/x"), None, None)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
        let e =
            deleted_fifo(d.join("fifo (deleted)").as_os_str().as_bytes(), 0o600, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
        drop(_as);
        assert!(!d.join("gone").exists());
        // Root's own: the owner given; a fifo made and gone.
        let f = deleted_node(&node(&d.join("x"), None, Some((65534, 65534)))).unwrap();
        assert_eq!(f.metadata().unwrap().uid(), 65534);
        let f = deleted_fifo(d.join("fifo (deleted)").as_os_str().as_bytes(), 0o640, 1).unwrap();
        assert_eq!(f.metadata().unwrap().mode() & 0o7777, 0o640);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
