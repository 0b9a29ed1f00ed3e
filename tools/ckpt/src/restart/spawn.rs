// SPDX-License-Identifier: GPL-2.0

//! Spawning the process tree: [`run`] checks the image and the module,
//! forks the root restarter (or a pid namespace's init that forks it), and
//! waits for the restored program. Each restarter ([`prepare_and_restart`])
//! creates what the whole tree inherits (root only: pipes, SysV segments),
//! joins its session and group, forks its children with their pids
//! (zombies exit at once, the others restart themselves the same way),
//! moves to the image's directories and vDSO, starts its threads (each only
//! calls the ioctl) and calls the ioctl.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::attrs;
use crate::dev::{self, Device};
use crate::errno;
use crate::names;
use crate::sys::{self, Fork, MoveError};
use crate::uapi::{self, CkptRestartFile};

use super::cow;
use super::events::Events;
use super::pipes::Pipes;
use super::plan::{plan, Made, Plan, ProcPlan};
use super::sockets::Sockets;
use super::status::{self, exit_code, hint_killed, read_status, report, KILLED_AT_ONCE};
use super::sysv::attach_sysv;
use super::timers;
use super::tty::join_groups;
use super::vdso::VdsoError;

/// What `ckpt restart` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The image.
    pub file: PathBuf,
    /// The ckpt device.
    pub device: PathBuf,
    /// Restart in a new pid namespace.
    pub pid_ns: bool,
    /// Do not wait for the restored process.
    pub detach: bool,
    /// No "restarting" line.
    pub quiet: bool,
    /// `CKPT_RESTART_*`.
    pub flags: u64,
    /// Refuse an image with credentials outside this.
    pub limit: Option<super::plan::IdLimit>,
    /// A received image: its parents only in its directory.
    pub confined: bool,
}

/// What the restarter processes need, shared by copy-on-fork.
struct Ctx<'a> {
    plan: &'a Plan,
    dev: &'a Device,
    image: &'a File,
    flags: u64,
    /// The write end of the status pipe (dropped by those who do not
    /// restart).
    status: Option<io::PipeWriter>,
    /// Send the restarter's pid as the parent's namespace sees it.
    report_pid: bool,
    /// Nobody waits: a pid namespace's init says nothing.
    detached: bool,
    /// The pipes the root restarter created for the image's pipes (inherited by
    /// every process it creates).
    pipes: Pipes,
    /// The event-loop files the root restarter made (inherited likewise).
    events: Events,
    /// The module puts a vDSO proxy where the image's vDSO was: this kernel's
    /// vDSO is not the image's (or `--vdso-proxy`).
    vdso_proxy: bool,
    /// The unix sockets the root restarter made for the image's (inherited
    /// likewise), passed to the ioctl as files.
    sockets: Sockets,
    /// Every file the root restarter made for the image (sockets and event-loop
    /// files), as the ioctl takes them.
    made: Vec<CkptRestartFile>,
    /// The deleted directories and symbolic links the root restarter made
    /// again, and the files it opened as their openers (held open; passed to
    /// the ioctl in `made`).
    deleted: Vec<File>,
    /// Pidfds of the pids the image's sockets name as makers outside the image,
    /// made again and let go (passed as `CKPT_RESTART_FILE_PEER`).
    peers: Vec<OwnedFd>,
    /// The pages of each address space that others share copy-on-write.
    cow: &'a cow::Referenced,
    /// The mappings the restarters above made for them (see `cow::prefill`).
    cow_made: Vec<(u64, u64)>,
}

/// Restarts the image as `o` says; returns the exit code of `ckpt`: the
/// restored process's (or 128 + its signal), or 0 with `--detach`, or 1 if
/// the restart failed (already reported). `Err`: a message for the user.
pub fn run(o: &Options) -> Result<u8, String> {
    run_hooked(o, &mut |_| {})
}

/// [`run`], calling `hook` once the restart is decided, before waiting for the
/// restored process: `Ok(pid)` when it runs, `Err(why)` when the restart failed
/// after the restarters were started (an `Err` return of this function is a
/// failure before them). `ckpt receive` acknowledges a migration this way.
pub fn run_hooked(o: &Options, hook: &mut dyn FnMut(Result<i32, &str>)) -> Result<u8, String> {
    let name = o.file.display();
    let image = super::plan::open_image_with(&o.file, o.confined)?;
    crate::timing::mark("image");
    let plan = plan(BufReader::new(&image)).map_err(|e| format!("{name}: {e}"))?;
    crate::timing::mark("plan");
    if let Some(l) = &o.limit {
        l.check(&plan).map_err(|e| format!("{name}: {e}"))?;
    }
    let dev = Device::open(&o.device).map_err(|e| errno::open_device(&o.device, &e))?;
    let v = dev.version().map_err(|e| errno::version(&o.device, &e))?;
    if v.abi_version != uapi::CKPT_ABI_VERSION {
        return Err(format!(
            "the module speaks ioctl abi {}, this tool {}: use the tool built with the module",
            v.abi_version,
            uapi::CKPT_ABI_VERSION
        ));
    }
    if v.features & uapi::CKPT_FEAT_RESTART == 0 {
        return Err(format!(
            "the module behind {} cannot restart (it lacks the restart feature; \
             see `ckpt version`)",
            o.device.display()
        ));
    }
    let root = plan.root();
    if !o.quiet {
        eprintln!(
            "ckpt: restarting pid {} ({}) from {name}",
            root.pid, root.comm
        );
    }
    let flags = if v.features & uapi::CKPT_FEAT_STATUS_FD != 0 {
        o.flags | uapi::CKPT_RESTART_STATUS_FD
    } else {
        o.flags
    };
    // Another kernel's vDSO (or one asked for): the module forwards the
    // program's vDSO calls through a proxy where its vDSO was.
    let vdso_proxy = o.flags & uapi::CKPT_RESTART_VDSO_PROXY != 0
        || plan.vdso.is_some_and(|w| sys::own_vdso() != Some(w));
    if vdso_proxy && v.features & uapi::CKPT_FEAT_VDSO_PROXY == 0 {
        return Err(format!(
            "{name} was taken under a kernel whose vDSO differs from this one's, and the \
             module behind {} cannot forward the program's vDSO calls (it lacks the \
             vdso-proxy feature; see `ckpt version`)",
            o.device.display()
        ));
    }
    let (status_r, status_w) =
        io::pipe().map_err(|e| format!("cannot create a pipe: {}", errno::describe(&e)))?;
    let cow = cow::scan(&image, plan.pages_at);
    let mut ctx = Ctx {
        plan: &plan,
        dev: &dev,
        image: &image,
        flags,
        status: Some(status_w),
        report_pid: plan.procs.len() > 1,
        detached: o.detach,
        pipes: Pipes::default(),
        events: Events::default(),
        vdso_proxy,
        sockets: Sockets::default(),
        made: Vec::new(),
        deleted: Vec::new(),
        peers: Vec::new(),
        cow: &cow,
        cow_made: Vec::new(),
    };
    // The SysV objects the restart makes in this IPC namespace, removed again if
    // it fails (in an IPC namespace of their own, they go with it).
    let own_ipc = plan
        .ipc_ns
        .is_some_and(|n| n.flags & crate::image::IPC_NS_OWN != 0);
    let fresh_ipc = if own_ipc {
        Vec::new()
    } else {
        crate::sysv::absent(&plan.ipc)
    };
    // `shown`: the pid the restored program has (for messages); `init`:
    // whether `child` is a pid namespace's init standing between.
    let (child, shown, init) = if !o.pid_ns {
        let c = spawn_restarter(&mut ctx, true)?;
        (c, c, false)
    } else {
        let pid = root.pid;
        ctx.report_pid = pid != 1 || plan.procs.len() > 1;
        match sys::clone3(sys::CLONE_NEWPID, None) {
            Ok(Fork::Child) if pid == 1 => restarter(&mut ctx, 0),
            Ok(Fork::Child) => init(&mut ctx),
            Ok(Fork::Parent(c)) => (c, pid, pid != 1),
            Err(e) => {
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    ": --pid-ns needs CAP_SYS_ADMIN (run as root)"
                } else {
                    ""
                };
                return Err(format!(
                    "cannot create a pid namespace: {}{hint}",
                    errno::describe(&e)
                ));
            }
        }
    };
    crate::timing::mark("spawned");
    drop(ctx.status.take());
    // A restarter that failed before the ioctl took over: the others wait for
    // it in the module, holding the status pipe; they go at once (a pid
    // namespace goes with its init).
    let st = read_status(status_r, |pids| {
        if !init {
            for &p in pids.iter().filter(|&&p| p != child) {
                sys::kill_now(p);
            }
        }
        sys::kill_now(child);
    });
    crate::timing::mark("restored");
    let closed = Instant::now();
    if let Some(why) = &st.late {
        eprintln!("ckpt: restart failed after the point of no return: {why}");
    }
    if st.failed {
        let why = st
            .late
            .as_deref()
            .or(st.why.as_deref())
            .unwrap_or("the restarter failed");
        hook(Err(why));
        // The restarter (or, after the point of no return, the module) said why. The others of a tree wait for it in the module:
        // they go too (a pid namespace goes with its init).
        if !init {
            for &p in st.pids.iter().filter(|&&p| p != child) {
                sys::kill_now(p);
            }
        }
        sys::kill_now(child);
        let _ = sys::waitpid(child);
        crate::sysv::remove_unused(&fresh_ipc);
        return Ok(1);
    }
    hook(Ok(st.pids.first().copied().unwrap_or(shown)));
    if o.detach {
        println!("{}", st.pids.first().copied().unwrap_or(child));
        return Ok(0);
    }
    // Like a shell waiting for a command: ^C and ^\ are for the program.
    let _ = sys::ignore_signal(libc::SIGINT);
    let _ = sys::ignore_signal(libc::SIGQUIT);
    let (_, status) =
        sys::waitpid(child).map_err(|e| format!("waiting for {child}: {}", errno::describe(&e)))?;
    if !init {
        return Ok(report(shown, status, Some(closed)));
    }
    if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        eprintln!(
            "ckpt: the pid namespace's init ({child}) was killed by signal {s} ({})",
            names::signal(s)
        );
        return Ok(exit_code(status));
    }
    // The init said how the restored process died.
    let code = libc::WEXITSTATUS(status);
    if code == 128 + libc::SIGKILL && closed.elapsed() < KILLED_AT_ONCE {
        hint_killed();
    }
    Ok(code as u8)
}

/// Forks the restarter, with the image's pid if the kernel allows, else
/// with any (saying so); returns its pid. `outside`: the caller is `ckpt`
/// itself, not a pid namespace's init.
fn spawn_restarter(ctx: &mut Ctx<'_>, outside: bool) -> Result<i32, String> {
    let pid = ctx.plan.root().pid;
    let e = match sys::clone3(0, Some(pid)) {
        Ok(Fork::Child) => restarter(ctx, 0),
        Ok(Fork::Parent(c)) => return Ok(c),
        Err(e) => e,
    };
    let why = match e.raw_os_error() {
        Some(libc::EEXIST) => format!("pid {pid} is in use"),
        Some(libc::EPERM) => {
            format!("not allowed to choose pid {pid} (that takes CAP_CHECKPOINT_RESTORE)")
        }
        Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EINVAL) => format!(
            "this kernel cannot give pid {pid} (clone3 with set_tid: {})",
            errno::describe(&e)
        ),
        _ => {
            return Err(format!(
                "cannot create the restarter process: {}",
                errno::describe(&e)
            ))
        }
    };
    if ctx.plan.procs.len() > 1 {
        return Err(format!(
            "{why}: a process tree is restored only with its own pids (--pid-ns gives them)"
        ));
    }
    match sys::fork() {
        Ok(Fork::Child) => restarter(ctx, 0),
        Ok(Fork::Parent(m)) => {
            let keep = if outside { "; --pid-ns keeps it" } else { "" };
            eprintln!(
                "ckpt: {why}; restarting as pid {m} (getpid() in the program will differ{keep})"
            );
            Ok(m)
        }
        Err(e) => Err(format!(
            "cannot create the restarter process: {}",
            errno::describe(&e)
        )),
    }
}

/// Makes each pid that the image's unix sockets name as their connection's
/// maker, a process outside the image ([`Plan::peer_pids`]), again: a child with
/// that pid that exits at once and is reaped here, whose pidfd keeps the pid,
/// gone as the maker was (`SO_PEERCRED` names it, `SO_PEERPIDFD` finds no
/// process). A pid in use (or not ours to choose) is skipped: the module then
/// names no pid.
fn peer_pids(plan: &Plan) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    for &pid in &plan.peer_pids {
        let c = match sys::clone3(0, Some(pid)) {
            Ok(Fork::Child) => sys::exit_now(0),
            Ok(Fork::Parent(c)) => c,
            Err(_) => continue,
        };
        // SAFETY: pidfd_open takes no pointers; a non-negative result is a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, c, 0) };
        let _ = sys::waitpid(c);
        if fd >= 0 {
            // SAFETY: As above: ours alone.
            out.push(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
    }
    out
}

/// The init of a new pid namespace: forks the restarter, then reaps
/// children until the restored process exits, and exits with its status.
/// It mounts nothing.
fn init(ctx: &mut Ctx<'_>) -> ! {
    // Signals from inside the namespace never reach an init without
    // handlers; these come from the terminal and are for the program.
    let _ = sys::ignore_signal(libc::SIGINT);
    let _ = sys::ignore_signal(libc::SIGQUIT);
    let child = match spawn_restarter(ctx, false) {
        Ok(c) => c,
        Err(msg) => fail(ctx, &msg),
    };
    drop(ctx.status.take());
    loop {
        match sys::waitpid(-1) {
            Ok((p, status)) if p == child => {
                let code = if ctx.detached {
                    exit_code(status)
                } else {
                    report(child, status, None)
                };
                sys::exit_now(i32::from(code))
            }
            Ok(_) => {}
            Err(_) => sys::exit_now(1),
        }
    }
}

/// The restarter: prepares itself and becomes the restored program; if
/// that fails, says why (on standard error and to the parent) and exits 1.
fn restarter(ctx: &mut Ctx<'_>, idx: usize) -> ! {
    let msg = prepare_and_restart(ctx, idx);
    fail(ctx, &msg)
}

/// Says on standard error why this restarter failed, in one write: the
/// restarters of a tree share the file, and `eprintln!`'s pieces of several of
/// them interleaved into one unreadable line.
fn say_failed(why: &str) {
    let line = format!("ckpt: restart failed: {why}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Says why the restart failed, on standard error and to the parent, and
/// exits 1.
fn fail(ctx: &mut Ctx<'_>, msg: &str) -> ! {
    say_failed(msg);
    status::send_failed(ctx.status.take(), msg);
    sys::exit_now(1)
}

/// Creates the pipes, moves to the image's directories and vDSO, and asks
/// the module to restart; returns only on failure, with the reason.
fn prepare_and_restart(ctx: &mut Ctx<'_>, idx: usize) -> String {
    let plan = ctx.plan;
    let me = &plan.procs[idx];
    if ctx.report_pid {
        // /proc is the parent namespace's: /proc/self is the pid there.
        if let Some(pid) = std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str()?.parse::<i32>().ok())
        {
            if let Some(w) = ctx.status.as_mut() {
                status::send_pid(w, pid);
            }
        }
    }
    if idx == 0 {
        // First, before it has other children: the pids of the sockets' makers
        // outside the image.
        ctx.peers = peer_pids(plan);
        // Every pipe of the image, made once, inherited by every process below.
        if let Err(e) = ctx.pipes.create(&plan.pipes) {
            return e;
        }
        if let Err(e) = ctx.pipes.make_ptys(&plan.ptys) {
            return e;
        }
        // What is made or opened by path for the image (deleted fifos, inotify
        // watches, fanotify marks, regular files in flight, deleted directories
        // and links) is
        // made with the image's filesystem identity, without the restarter's
        // filesystem capabilities: nothing its user could not.
        let as_image = || {
            sys::AsImage::take(me.ids.as_ref()).map_err(|e| {
                format!(
                    "cannot take the image's filesystem ids: {}",
                    errno::describe(&e)
                )
            })
        };
        {
            let _as = match as_image() {
                Ok(a) => a,
                Err(e) => return e,
            };
            if let Err(e) = ctx.pipes.make_deleted_fifos(&plan.deleted_fifos) {
                return e;
            }
            // The event-loop files (before the sockets, which may carry them in
            // flight), the regular files in flight, then the sockets, then the
            // entries of the epoll sets, whose targets are all made by then.
            if let Err(e) = ctx.events.create(plan) {
                return e;
            }
            if let Err(e) = ctx.events.open_inflight(plan) {
                return e;
            }
            // The memfds and deleted files in flight, made again empty.
            if let Err(e) = ctx.sockets.make_inflight(plan) {
                return e;
            }
        }
        let ids = me.ids.as_ref().map(|i| (i.uids[1], i.gids[1]));
        let made = [&ctx.events.args[..], &ctx.sockets.args[..]].concat();
        let inflight = super::pipes::inflight_fds(plan, &ctx.pipes.args, &made);
        if let Err(e) = ctx
            .sockets
            .create(&plan.sockets, ids, &inflight, plan.root().pid)
        {
            return e;
        }
        if let Err(e) = ctx
            .events
            .fill_epolls(plan, &ctx.pipes.args, &ctx.sockets.args)
        {
            return e;
        }
        ctx.made = [&ctx.sockets.args[..], &ctx.events.args[..]].concat();
        // The deleted directories and symbolic links, made again and removed.
        let _as = match as_image() {
            Ok(a) => a,
            Err(e) => return e,
        };
        for n in &plan.deleted_nodes {
            match sys::deleted_node(n) {
                Ok(f) => {
                    ctx.made.push(CkptRestartFile {
                        id: n.id,
                        fd: f.as_raw_fd(),
                    });
                    ctx.deleted.push(f);
                }
                Err(e) => {
                    return format!(
                        "cannot make deleted {} {} again: {}",
                        if n.target.is_some() {
                            "symbolic link"
                        } else {
                            "directory"
                        },
                        crate::names::path(&n.path),
                        errno::describe(&e)
                    )
                }
            }
        }
    }
    if idx == 0 {
        // The files the process opened with rights it gave up since: opened as
        // their openers, within the restarter's rights (the kernel judges the
        // filesystem ids it may take and the open), with no capability but the
        // filesystem ones that identity keeps, and passed; one the restarter
        // cannot open so is not passed, and the module says why.
        for o in &plan.opened_as {
            let ids = crate::restart::IdsPlan {
                uids: [o.fsuid; 4],
                gids: [o.fsgid; 4],
                groups: o.groups.clone(),
            };
            let Ok(_as) = sys::AsImage::take(Some(&ids)) else {
                continue;
            };
            // Dropped before `_as` (which needs CAP_SETUID back to give the
            // restarter its own filesystem ids again).
            let Ok(_caps) = sys::FsCapsOnly::take() else {
                continue;
            };
            if let Ok(f) = super::events::open_as_opener(&o.path, o.flags, o.dir) {
                ctx.made.push(CkptRestartFile {
                    id: o.id,
                    fd: f.as_raw_fd(),
                });
                ctx.deleted.push(File::from(f));
            }
        }
        if let Some(ns) = plan
            .ipc_ns
            .filter(|n| n.flags & crate::image::IPC_NS_OWN != 0)
        {
            if let Err(e) = crate::sysv::new_ns(&ns) {
                return e;
            }
        }
        if let Err(e) = crate::sysv::make(&plan.ipc) {
            return e;
        }
        if let Err(e) = attach_sysv(plan) {
            return e;
        }
    }
    // The entries of its epoll sets that watch a signalfd, in its own signal
    // context, before the processes below it (which may share those sets) are
    // made.
    if let Err(e) =
        ctx.events
            .fill_signalfd_entries(plan, &ctx.pipes.args, &ctx.sockets.args, me.pid)
    {
        return format!("process {}: {e}", me.pid);
    }
    // The parent of processes reparented to it is a child subreaper before
    // they are made (see `Made::Reparented`).
    if super::plan::early_subreaper(&plan.procs, idx) {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return format!(
                "process {}: cannot set the child subreaper flag: {}",
                me.pid,
                errno::describe(&io::Error::last_os_error())
            );
        }
    }
    // The children it had forked before it made its session.
    if let Err(e) = make_children(ctx, idx, true) {
        return e;
    }
    if let Err(e) = join_groups(plan, idx) {
        return e;
    }
    // The pages the processes below it share, before they are forked (an
    // optimisation: the module makes them exact either way).
    cow::prefill(plan, idx, ctx.image, ctx.cow, &mut ctx.cow_made);
    // Its children, each with its pid; zombies die at once, the others restore
    // themselves (see `make_children`), and the siblings it makes for its parent.
    if let Err(e) = make_children(ctx, idx, false) {
        return e;
    }
    // The attributes the process sets on itself (see `crate::attrs`), now that
    // the processes below it, which would inherit them, exist.
    if let Some(a) = &me.attrs {
        if let Err(e) = attrs::set_process(a) {
            return format!("process {}: {e}", me.pid);
        }
    }
    // Opened now: after a chroot, /proc may not be there.
    let mut maps = match File::open("/proc/self/maps") {
        Ok(f) => f,
        Err(e) => return format!("cannot read /proc/self/maps: {}", errno::describe(&e)),
    };
    let cwd = Path::new(OsStr::from_bytes(&me.cwd));
    if let Some(mode) = me.cwd_deleted {
        // "/DIR (deleted)": made again, entered and removed, with the process's
        // filesystem identity (as the other deleted directories): owned by its
        // user, who must be able to make it there and enter it, as the module
        // then opens it (".") with the image's credentials.
        let dir = me.cwd.strip_suffix(b" (deleted)").unwrap_or(&me.cwd);
        let dir = Path::new(OsStr::from_bytes(dir));
        let made =
            sys::AsImage::take(me.ids.as_ref()).and_then(|_as| sys::enter_deleted_dir(dir, mode));
        if let Err(e) = made {
            return format!(
                "cannot make the deleted working directory {} again: {}",
                dir.display(),
                errno::describe(&e)
            );
        }
    } else if let Err(e) = std::env::set_current_dir(cwd) {
        return format!(
            "cannot change to the image's working directory {}: {}",
            cwd.display(),
            errno::describe(&e)
        );
    }
    // A chroot'ed process: its paths are names in this root, which the module
    // is given to open its files.
    let mut made = ctx.made.clone();
    made.extend(ctx.peers.iter().map(|f| CkptRestartFile {
        id: uapi::CKPT_RESTART_FILE_PEER,
        fd: f.as_raw_fd(),
    }));
    let mut _outer = None;
    if me.root != b"/" {
        match sys::open_o_path(Path::new("/"), libc::O_DIRECTORY) {
            Ok(f) => {
                made.push(CkptRestartFile {
                    id: uapi::CKPT_RESTART_FILE_ROOT,
                    fd: f.as_raw_fd(),
                });
                _outer = Some(f);
            }
            Err(e) => return format!("cannot open /: {}", errno::describe(&e)),
        }
        let root = Path::new(OsStr::from_bytes(&me.root));
        if let Err(e) = std::os::unix::fs::chroot(root) {
            return format!(
                "cannot change the root directory to the image's {}: {}",
                root.display(),
                errno::describe(&e)
            );
        }
    }
    let stdio = if ctx.flags & uapi::CKPT_RESTART_INHERIT_STDIO != 0 {
        [0, 1, 2]
    } else {
        [-1; 3]
    };
    if let Err(e) = sys::move_specials(&mut maps, &me.specials, &me.vmas, ctx.vdso_proxy) {
        return match e {
            MoveError::Maps(e) => {
                format!("cannot read /proc/self/maps: {}", errno::describe(&e))
            }
            MoveError::Plan(
                e @ (VdsoError::Missing(_) | VdsoError::Extra(_) | VdsoError::Size { .. }),
            ) => format!("{e} (image taken on {})", plan.kernel_release),
            MoveError::Plan(e) => e.to_string(),
            MoveError::Mremap(m, e) => format!(
                "cannot move {} from {:#x} to {:#x}: {}",
                m.name,
                m.from,
                m.to,
                errno::describe(&e)
            ),
        };
    }
    // Its resource limits, through setrlimit(2) (see `take_rlimits`).
    if let Some(lim) = &me.rlimits {
        if let Err(e) = take_rlimits(lim) {
            return e;
        }
    }
    // The image's user and group ids, taken with the system calls (see
    // `sys::take_ids`), before the threads that inherit them.
    if let Some(ids) = &me.ids {
        if let Err(e) = sys::take_ids(ids) {
            return format!(
                "cannot take the image's user and group ids (uid {}, gid {}): {}",
                ids.uids[0],
                ids.gids[0],
                errno::describe(&e)
            );
        }
    }
    // The module holds the status pipe open until the restored tasks run, and
    // writes to it why if they die after the point of no return.
    let (flags, status_fd) = match ctx.status.as_ref() {
        Some(w) if ctx.flags & uapi::CKPT_RESTART_STATUS_FD != 0 => (ctx.flags, w.as_raw_fd()),
        _ => (ctx.flags & !uapi::CKPT_RESTART_STATUS_FD, 0),
    };
    // The timers' signals are blocked before the threads, which inherit the mask.
    if let Err(e) = timers::block_signals(me) {
        return format!("process {}: {e}", me.pid);
    }
    // From the move on, nothing may use the vDSO: the threads, then the ioctl.
    for &tid in &me.threads {
        let args = Box::leak(Box::new(dev::restart_args(
            ctx.image.as_fd(),
            flags,
            &[],
            &[],
            [-1; 3],
            tid,
            status_fd,
        )));
        let arg = (args as *mut uapi::CkptRestartArgs).cast();
        if let Err(e) = sys::spawn_ioctl_thread(tid, ctx.dev.raw_fd(), uapi::CKPT_IOC_RESTART, arg)
        {
            return format!(
                "cannot create thread {tid} of {}: {}",
                me.pid,
                errno::describe(&e)
            );
        }
        if let Some((_, a)) = me.thread_attrs.iter().find(|(t, _)| *t == tid) {
            if let Err(e) = attrs::set_sched(tid, a) {
                return format!("process {}: {e}", me.pid);
            }
        }
    }
    // The timers, once the threads a timer may signal exist.
    if let Err(e) = timers::make(me) {
        return format!("process {}: {e}", me.pid);
    }
    // The pidfds it holds, once its threads (which a pidfd may name) exist.
    let _pidfds = match super::pidfds::open(plan, me) {
        Ok((held, args)) => {
            made.extend(args);
            held
        }
        Err(e) => return e,
    };
    let e = ctx.dev.restart(
        ctx.image.as_fd(),
        flags,
        &ctx.pipes.args,
        &made,
        stdio,
        me.pid,
        status_fd,
    );
    failure(&e)
}

/// Makes the children of process `idx` (the caller), each with its pid, as
/// their [`Made`] says: `early`, those it forks before it joins its session and
/// group ([`Made::BeforeSetsid`]); else those it forks after ([`Made::Forked`]),
/// those a helper makes in a gone leader's session ([`Made::Helper`], one helper
/// for each session, see `session_helper`), its siblings that it makes for its
/// parent ([`Made::Sibling`]: it leads their session), and the processes of its
/// session it makes to be reparented to a subreaper above it
/// ([`Made::Reparented`], see `reparented`; a zombie makes them in `fork_child`).
fn make_children(ctx: &mut Ctx<'_>, idx: usize, early: bool) -> Result<(), String> {
    let plan = ctx.plan;
    let me = &plan.procs[idx];
    let mut helped: Vec<i32> = Vec::new();
    for (j, c) in plan.procs.iter().enumerate() {
        if j == 0 {
            continue;
        }
        let (flags, exit_signal) = match c.made {
            Made::Sibling(l) if l == me.pid && !early => {
                // Its parent's child, sharing the parent's fd table through this
                // process's (the plan checked it shares it then).
                let parent = plan.procs.iter().find(|p| p.pid == c.ppid);
                let share = parent.is_some_and(|q| shares_files(q, c));
                let files = if share { sys::CLONE_FILES } else { 0 };
                (sys::CLONE_PARENT | files, 0)
            }
            Made::Reparented(l) if l == me.pid && !early => {
                reparented(ctx, j)?;
                continue;
            }
            _ if c.ppid != me.pid => continue,
            Made::BeforeSetsid if early => (0, c.exit_signal),
            Made::Forked if !early => (0, c.exit_signal),
            Made::Helper(sid) if !early => {
                if !helped.contains(&sid) {
                    helped.push(sid);
                    session_helper(ctx, idx, sid)?;
                }
                continue;
            }
            _ => continue,
        };
        let share = if flags == 0 && shares_files(me, c) {
            sys::CLONE_FILES
        } else {
            0
        };
        let pid = fork_child(ctx, j, flags | share, exit_signal)?;
        if c.zombie.is_some() && flags & sys::CLONE_PARENT == 0 {
            wait_zombie(pid);
        }
    }
    Ok(())
}

/// Makes process `j` of the plan, reparented from the caller, its session's live
/// leader, to a subreaper above it ([`Made::Reparented`]): a short-lived
/// intermediate child forks it and exits, and the caller reaps the intermediate.
/// The intermediate's pid is chosen above every id of the image (any above
/// `pid_max`), so that it takes none of the pids the restart gives.
fn reparented(ctx: &mut Ctx<'_>, j: usize) -> Result<(), String> {
    let plan = ctx.plan;
    let c = &plan.procs[j];
    let above = plan
        .procs
        .iter()
        .flat_map(|p| {
            [p.pid, p.pgid, p.sid]
                .into_iter()
                .chain(p.threads.iter().copied())
        })
        .max()
        .unwrap_or(0);
    let mut forked = Err(io::Error::from_raw_os_error(libc::EEXIST));
    for pid in (above + 1..).take(64) {
        forked = sys::clone3_signal(0, Some(pid), libc::SIGCHLD);
        if !matches!(&forked, Err(e) if e.raw_os_error() == Some(libc::EEXIST)) {
            break;
        }
    }
    // Above pid_max: any pid (it could only take one a later process needs, which
    // then fails with the reason).
    if matches!(&forked, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
        forked = sys::clone3_signal(0, None, libc::SIGCHLD);
    }
    let via = match forked {
        Ok(Fork::Child) => {
            if let Err(e) = fork_child(ctx, j, 0, libc::SIGCHLD) {
                say_failed(&e);
                sys::exit_now(1)
            }
            sys::exit_now(0)
        }
        Ok(Fork::Parent(pid)) => pid,
        Err(e) => {
            return Err(format!(
                "cannot create a process to make {} and reparent it: {}",
                c.pid,
                errno::describe(&e)
            ))
        }
    };
    match sys::waitpid(via) {
        Ok((_, st)) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => Ok(()),
        Ok(_) => Err(format!("the process that makes {} failed", c.pid)),
        Err(e) => Err(format!(
            "waiting for the process that makes {}: {}",
            c.pid,
            errno::describe(&e)
        )),
    }
}

/// Whether child `c` of `me` is made sharing its fd table (`CLONE_FILES`).
fn shares_files(me: &ProcPlan, c: &ProcPlan) -> bool {
    c.zombie.is_none() && c.files == me.files && c.files != 0
}

/// Creates process `j` of the plan with its pid (`clone3` with `flags`), as a child
/// of the caller or, with `CLONE_PARENT` (`exit_signal` 0), of the caller's parent;
/// returns its pid. The child does not return: a zombie joins its session and group
/// and exits with its status, the others restore themselves.
fn fork_child(ctx: &mut Ctx<'_>, j: usize, flags: u64, exit_signal: i32) -> Result<i32, String> {
    let plan = ctx.plan;
    let c = &plan.procs[j];
    match sys::clone3_signal(flags, Some(c.pid), exit_signal) {
        Ok(Fork::Child) => match c.zombie {
            Some(status) => {
                // Its session and process group, as a live process's (the
                // group's leader, made just before, may still be creating it).
                let mut joined = join_groups(plan, j);
                for _ in 0..200 {
                    if joined.is_ok() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    joined = join_groups(plan, j);
                }
                // The processes of its session reparented to a subreaper above it
                // when it exited: forked now, reparented when it exits.
                let joined = joined.and_then(|_| {
                    for (k, o) in plan.procs.iter().enumerate() {
                        if o.made == Made::Reparented(c.pid) {
                            fork_child(ctx, k, 0, libc::SIGCHLD)?;
                        }
                    }
                    Ok(())
                });
                if let Err(e) = joined {
                    let why = format!("zombie {}: {e}", c.pid);
                    say_failed(&why);
                    status::send_failed(ctx.status.take(), &why);
                    sys::exit_now(1)
                }
                drop(ctx.status.take());
                sys::set_comm(&c.comm);
                sys::exit_with_status(status)
            }
            None => restarter(ctx, j),
        },
        Ok(Fork::Parent(pid)) => Ok(pid),
        Err(e) => Err(format!(
            "cannot create process {} (child of {}) with its pid: {}",
            c.pid,
            c.ppid,
            errno::describe(&e)
        )),
    }
}

/// Waits until zombie child `pid` has exited, leaving it a zombie: a zombie is
/// finished (in its group, exited) before anything of the image runs again, as
/// the restored parent may look at it at once.
fn wait_zombie(pid: i32) {
    // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes a siginfo_t; WNOWAIT leaves the zombie as is.
    unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
}

/// Makes the children of process `idx` (the caller) that are in session `sid`,
/// whose leader is gone ([`Made::Helper`]): a fork, in a session of
/// its own, can only be the leader of it or be in its parent's. A helper with the
/// leader's pid, forked by the caller, makes the session again (`setsid`) and
/// creates them with their pids as the caller's children (`CLONE_PARENT`, with
/// the helper's exit signal, `SIGCHLD`, as the plan checked theirs is); they
/// start in its session and process group. The helper then exits and the caller
/// reaps it: the session stays, held by its members, with no process of the
/// leader's pid, as in the image. The pid of the helper is chosen as the others
/// are, with no more permission.
fn session_helper(ctx: &mut Ctx<'_>, idx: usize, sid: i32) -> Result<(), String> {
    let plan = ctx.plan;
    let me = &plan.procs[idx];
    let made: Vec<usize> = (1..plan.procs.len())
        .filter(|&k| plan.procs[k].ppid == me.pid && plan.procs[k].made == Made::Helper(sid))
        .collect();
    // Those sharing the caller's fd table share it through the helper's, which
    // is the caller's then.
    let share = if made.iter().any(|&k| shares_files(me, &plan.procs[k])) {
        sys::CLONE_FILES
    } else {
        0
    };
    let helper = match sys::clone3_signal(share, Some(sid), libc::SIGCHLD) {
        Ok(Fork::Child) => {
            // Nothing is closed here: the fd table may be the caller's.
            if let Err(e) = sys::setsid() {
                let why = format!(
                    "the helper with pid {sid} cannot make its session again: {}",
                    errno::describe(&e)
                );
                say_failed(&why);
                sys::exit_now(1)
            }
            for &k in &made {
                let c = &plan.procs[k];
                let f = if shares_files(me, c) {
                    sys::CLONE_FILES
                } else {
                    0
                };
                if let Err(e) = fork_child(ctx, k, sys::CLONE_PARENT | f, 0) {
                    say_failed(&e);
                    sys::exit_now(1)
                }
            }
            sys::exit_now(0)
        }
        Ok(Fork::Parent(h)) => h,
        Err(e) => {
            return Err(format!(
                "cannot create a helper with pid {sid} to make session {sid} again for \
                 process {}: {}",
                plan.procs[made[0]].pid,
                errno::describe(&e)
            ))
        }
    };
    match sys::waitpid(helper) {
        Ok((_, st)) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
        Ok(_) => return Err(format!("the helper that makes session {sid} again failed")),
        Err(e) => {
            return Err(format!(
                "waiting for the helper of session {sid}: {}",
                errno::describe(&e)
            ))
        }
    }
    for &k in &made {
        if plan.procs[k].zombie.is_some() {
            wait_zombie(plan.procs[k].pid);
        }
    }
    Ok(())
}

/// `<reason> (<errno name>)` for a refused restart.
fn failure(e: &dev::RestartError) -> String {
    let code = e.error.raw_os_error().unwrap_or(0);
    let reason = if e.reason.is_empty() {
        match code {
            libc::ENOTTY => "the module does not know CKPT_IOC_RESTART".to_string(),
            libc::EPERM => errno::root_only()
                .map(str::to_string)
                .unwrap_or_else(|| errno::text(&e.error)),
            _ => errno::text(&e.error),
        }
    } else {
        e.reason.clone()
    };
    format!("{reason} ({})", errno::name(code))
}

/// The names of the `RLIMIT_*` resources, in the kernel's order.
const RLIMIT_NAMES: [&str; crate::image::NRLIMITS] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// Takes the image's resource limits with `setrlimit(2)`, so that what the system
/// call does and checks happens: the LSMs' `task_setrlimit` hook (SELinux
/// `process:setrlimit`, AppArmor's rlimit rules), `fs.nr_open` for
/// `RLIMIT_NOFILE`, `CAP_SYS_RESOURCE` to raise a hard limit, and the arming of
/// the CPU-time limit. The module requires the hard limits (and `RLIMIT_CPU`'s soft
/// one) to be the image's already, and sets only the other soft limits itself, at
/// the end: until then each is its hard limit, so that the restore itself is held
/// by no more than the image allows (`RLIMIT_NOFILE` is exact at once: the module
/// places the descriptors under it).
fn take_rlimits(lim: &[(u64, u64); crate::image::NRLIMITS]) -> Result<(), String> {
    const CPU: usize = 0;
    const NOFILE: usize = 7;
    for (i, &(cur, max)) in lim.iter().enumerate() {
        let l = libc::rlimit {
            rlim_cur: if i == CPU || i == NOFILE { cur } else { max },
            rlim_max: max,
        };
        // SAFETY: setrlimit reads a valid struct.
        if unsafe { libc::setrlimit(i as _, &l) } != 0 {
            return Err(format!(
                "cannot take the image's {} ({cur}, {max}): {}",
                RLIMIT_NAMES[i],
                errno::describe(&io::Error::last_os_error())
            ));
        }
    }
    Ok(())
}
