// SPDX-License-Identifier: GPL-2.0

//! The image's event-loop files: no kernel function a module may call creates
//! an eventfd, a timerfd, a signalfd, an epoll set, an inotify file or a
//! fanotify group, so the root restarter makes each one with the system calls,
//! in the state the image gives it, before it creates the processes below it
//! (which inherit them, as they inherit the pipes), and the ioctl is told which
//! file of the image each one stands for (`struct ckpt_restart_file`); the
//! module checks and installs them.
//!
//! The entries of an epoll set are keyed by (file, fd number): each is added
//! with `epoll_ctl` by a short-lived helper process that holds the target file
//! at the image's fd number (its own fds moved above those numbers first), so
//! that the module, installing the same files at the same numbers, gives the
//! program the very keys it had. Every target is a file the restarter made
//! (a pipe, a pseudo-terminal master, an event file); epoll sets watched by
//! other epoll sets are filled first.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::errno;
use crate::image::{filekind, EpollItem, TFD_TIMER_ABSTIME};
use crate::sys::{self, Fork};
use crate::uapi::{CkptRestartFile, CkptRestartPipe};

use super::plan::{EventState, Plan};

/// `TFD_IOC_SET_TICKS`: `_IOW('T', 0, __u64)`.
const TFD_IOC_SET_TICKS: libc::c_ulong = 0x4008_5400;
/// `INOTIFY_IOC_SETNEXTWD`: `_IOW('I', 0, __s32)`.
const INOTIFY_IOC_SETNEXTWD: libc::c_ulong = 0x4004_4900;
/// `IN_DONT_FOLLOW`: a watch is on the inode the path names, not a link's target.
const IN_DONT_FOLLOW: u32 = 0x0200_0000;

/// The event files the root restarter made.
#[derive(Default)]
pub(super) struct Events {
    /// What the ioctl is told: each file's image id and fd.
    pub(super) args: Vec<CkptRestartFile>,
    /// The files, held open (and inherited by every process created after).
    held: Vec<OwnedFd>,
}

/// The last error as a message.
fn last(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", errno::describe(&io::Error::last_os_error()))
}

/// Takes ownership of a new fd, or says why there is none.
fn owned(fd: RawFd, what: impl std::fmt::Display) -> Result<OwnedFd, String> {
    if fd < 0 {
        return Err(last(what));
    }
    // SAFETY: `fd` was just returned by the kernel and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `clock` is a wall clock (`CLOCK_REALTIME`, `CLOCK_REALTIME_ALARM`):
/// an absolute expiry on it is a date, kept across a restart.
fn wall_clock(clock: u32) -> bool {
    clock == libc::CLOCK_REALTIME as u32 || clock == libc::CLOCK_REALTIME_ALARM as u32
}

/// The time on `clock` now, in nanoseconds.
fn clock_now(clock: u32) -> u64 {
    let mut t = ts(0);
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut t) };
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// A timespec of `ns` nanoseconds.
fn ts(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    }
}

impl Events {
    /// Makes every event-loop file of the image in its state (the epoll sets
    /// empty: [`Events::fill_epolls`] adds their entries).
    pub(super) fn create(&mut self, plan: &Plan) -> Result<(), String> {
        for e in &plan.events {
            let nonblock = (e.flags & libc::O_NONBLOCK as u32) as i32;
            let fd = match &e.state {
                EventState::Eventfd(x) => {
                    let sem = if x.flags != 0 { libc::EFD_SEMAPHORE } else { 0 };
                    // SAFETY: plain system call.
                    let fd = owned(
                        unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | sem | nonblock) },
                        "cannot make an eventfd",
                    )?;
                    if x.count != 0 {
                        let b = x.count.to_ne_bytes();
                        // SAFETY: `b` is 8 readable bytes; adding to a zero
                        // counter never blocks.
                        if unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), 8) } != 8 {
                            return Err(last(format!(
                                "cannot set eventfd {} to {}",
                                e.id, x.count
                            )));
                        }
                    }
                    fd
                }
                EventState::Timerfd(x) => {
                    // SAFETY: plain system call.
                    let fd = owned(
                        unsafe {
                            libc::timerfd_create(x.clockid as i32, libc::TFD_CLOEXEC | nonblock)
                        },
                        format!("cannot make a timerfd on clock {}", x.clockid),
                    )?;
                    if x.value_ns != 0 || x.interval_ns != 0 {
                        // A periodic timer that expired and waits to be read
                        // (read re-arms it): the next expiration one interval on.
                        let left = if x.value_ns == 0 && x.ticks != 0 {
                            x.interval_ns
                        } else {
                            x.value_ns
                        };
                        let abs = x.settime_flags & TFD_TIMER_ABSTIME != 0;
                        let value = if abs && wall_clock(x.clockid) {
                            // A wall-clock deadline stays: past it, the timer
                            // fires at once and counts the periods missed.
                            x.now_ns + x.value_ns
                        } else if abs {
                            // A monotonic or boot-time clock restarts with the
                            // machine: the time left is kept, counted from now
                            // (as for a relative timer and the POSIX timers).
                            clock_now(x.clockid).saturating_add(left)
                        } else {
                            left
                        };
                        let its = libc::itimerspec {
                            it_interval: ts(x.interval_ns),
                            it_value: ts(value),
                        };
                        // SAFETY: `its` is a valid itimerspec; no old value wanted.
                        let r = unsafe {
                            libc::timerfd_settime(
                                fd.as_raw_fd(),
                                x.settime_flags as i32,
                                &its,
                                std::ptr::null_mut(),
                            )
                        };
                        if r != 0 {
                            return Err(last(format!("cannot arm timerfd {}", e.id)));
                        }
                    }
                    if x.ticks != 0 {
                        // SAFETY: the ioctl reads one u64.
                        let r = unsafe {
                            libc::ioctl(fd.as_raw_fd(), TFD_IOC_SET_TICKS as _, &x.ticks)
                        };
                        if r != 0 {
                            return Err(last(format!(
                                "cannot give timerfd {} its {} expirations (TFD_IOC_SET_TICKS)",
                                e.id, x.ticks
                            )));
                        }
                    }
                    fd
                }
                EventState::Signalfd(x) => {
                    let mut set: libc::sigset_t = unsafe_zeroed_sigset();
                    for s in 1..=64 {
                        if x.mask & (1u64 << (s - 1)) != 0 {
                            // SAFETY: `set` is a valid sigset_t.
                            unsafe { libc::sigaddset(&mut set, s) };
                        }
                    }
                    // SAFETY: `set` is a valid sigset_t.
                    owned(
                        unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | nonblock) },
                        "cannot make a signalfd",
                    )?
                }
                EventState::Epoll => {
                    // SAFETY: plain system call.
                    owned(
                        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
                        "cannot make an epoll set",
                    )?
                }
                EventState::Fanotify(group, marks) => {
                    let Some(g) = group else {
                        return Err(format!(
                            "fanotify file {} of the image has no fanotify-group record",
                            e.id
                        ));
                    };
                    make_fanotify(e.id, g, marks)?
                }
                EventState::Inotify(watches) => {
                    // SAFETY: plain system call.
                    let fd = owned(
                        unsafe { libc::inotify_init1(libc::IN_CLOEXEC | nonblock) },
                        "cannot make an inotify file",
                    )?;
                    let mut ws = watches.clone();
                    ws.sort_by_key(|w| w.0);
                    for (wd, mask, path) in &ws {
                        add_watch(&fd, *wd, *mask, path)?;
                    }
                    fd
                }
            };
            self.args.push(CkptRestartFile {
                id: e.id,
                fd: fd.as_raw_fd(),
            });
            self.held.push(fd);
        }
        Ok(())
    }

    /// Opens every regular file in flight in a socket's queue (`SCM_RIGHTS`) by its
    /// path, with its flags, at its offset, to be sent again with its buffer; the
    /// ioctl is told which file of the image each one is, and the module checks it
    /// against the file it opens by that path itself.
    pub(super) fn open_inflight(&mut self, plan: &Plan) -> Result<(), String> {
        for (id, path, flags, pos) in &plan.inflight_regs {
            let shown = crate::names::path(path);
            let fd = open_inflight_file(path, *flags).map_err(|e| {
                format!(
                    "cannot open {shown}, a file in flight (SCM_RIGHTS): {}",
                    errno::describe(&e)
                )
            })?;
            if *flags & libc::O_PATH as u32 == 0 && *pos != 0 {
                // SAFETY: plain system call on an fd we own.
                if unsafe { libc::lseek(fd.as_raw_fd(), *pos, libc::SEEK_SET) } != *pos {
                    return Err(last(format!("cannot seek {shown} to {pos}")));
                }
            }
            self.args.push(CkptRestartFile {
                id: *id,
                fd: fd.as_raw_fd(),
            });
            self.held.push(fd);
        }
        Ok(())
    }

    /// The fd the restarter holds for file `id` of the image (a target of an
    /// epoll entry), or why there is none.
    fn target(
        &self,
        plan: &Plan,
        pipes: &[CkptRestartPipe],
        sockets: &[CkptRestartFile],
        id: u32,
    ) -> Result<RawFd, String> {
        self.target_and_kick(plan, pipes, sockets, id).map(|t| t.0)
    }

    /// [`Events::target`], and for the read end of a pipe its write end (a
    /// byte written there makes the target readable).
    fn target_and_kick(
        &self,
        plan: &Plan,
        pipes: &[CkptRestartPipe],
        sockets: &[CkptRestartFile],
        id: u32,
    ) -> Result<(RawFd, Option<RawFd>), String> {
        let kick = plan
            .files
            .iter()
            .find(|f| f.0 == id && f.1 == filekind::PIPE && f.2 & 3 == libc::O_RDONLY as u32)
            .and_then(|f| pipes.iter().find(|p| p.id == f.3))
            .map(|p| p.wfd);
        let Some(&(_, kind, flags, pipe)) = plan.files.iter().find(|f| f.0 == id) else {
            return Err(format!(
                "an epoll set watches file {id}, which the image lacks"
            ));
        };
        let acc = flags & libc::O_ACCMODE as u32;
        let found = match kind {
            filekind::PIPE => {
                // The first description of its end is the pipe the restarter made.
                let first = acc != libc::O_RDWR as u32
                    && !plan.files.iter().any(|g| {
                        g.1 == filekind::PIPE && g.3 == pipe && g.2 & 3 == acc && g.0 < id
                    });
                pipes.iter().find(|p| p.id == pipe && first).map(|p| {
                    if acc == libc::O_WRONLY as u32 {
                        p.wfd
                    } else {
                        p.rfd
                    }
                })
            }
            filekind::TTY => pipes.iter().find(|p| p.id == id).map(|p| p.rfd),
            k if filekind::is_event(k) => self.args.iter().find(|a| a.id == id).map(|a| a.fd),
            filekind::UNIX => sockets.iter().find(|a| a.id == id).map(|a| a.fd),
            _ => None,
        };
        found.map(|fd| (fd, kick)).ok_or_else(|| {
            format!(
                "an epoll set watches file {id} ({}), which the restarter does not make: not supported yet",
                filekind::name(kind)
            )
        })
    }

    /// Adds every entry of the image's epoll sets (see the module doc); the
    /// pipes and pseudo-terminal masters the restarter made are `pipes`.
    pub(super) fn fill_epolls(
        &self,
        plan: &Plan,
        pipes: &[CkptRestartPipe],
        sockets: &[CkptRestartFile],
    ) -> Result<(), String> {
        if plan.epoll_items.is_empty() {
            return Ok(());
        }
        // Inner sets first: a set is filled once every set it watches is.
        let is_epoll = |id: u32| {
            plan.events
                .iter()
                .any(|e| e.id == id && e.state == EventState::Epoll)
        };
        let mut order: Vec<u32> = Vec::new();
        let sets: Vec<u32> = plan
            .events
            .iter()
            .filter(|e| e.state == EventState::Epoll)
            .map(|e| e.id)
            .collect();
        while order.len() < sets.len() {
            let before = order.len();
            for &s in &sets {
                if order.contains(&s) {
                    continue;
                }
                let ready = plan
                    .epoll_items
                    .iter()
                    .filter(|i| i.file == s && is_epoll(i.target))
                    .all(|i| order.contains(&i.target));
                if ready {
                    order.push(s);
                }
            }
            if order.len() == before {
                return Err("the image's epoll sets watch each other in a loop".to_string());
            }
        }
        // (epoll fd, target fd, kick fd, entry), in that order; in each set the
        // fired one-shot entries first (see `add_all`).
        let mut adds: Vec<Add> = Vec::new();
        for s in order {
            let epfd = self.target(plan, pipes, sockets, s)?;
            // The entries watching a signalfd are added by the set's holder
            // (`fill_signalfd_entries`).
            let mut items: Vec<&EpollItem> = plan
                .epoll_items
                .iter()
                .filter(|i| i.file == s && !watches_signalfd(plan, i))
                .collect();
            items.sort_by_key(|i| !disarmed(i.events));
            for i in items {
                let (t, kick) = self.target_and_kick(plan, pipes, sockets, i.target)?;
                adds.push((epfd, t, kick.unwrap_or(-1), *i));
            }
        }
        if adds.is_empty() {
            return Ok(());
        }
        let (mut r, w) =
            io::pipe().map_err(|e| format!("cannot create a pipe: {}", errno::describe(&e)))?;
        match sys::fork() {
            Ok(Fork::Child) => {
                drop(r);
                let mut out = w.as_raw_fd();
                let msg = add_all(&adds, &mut out).err().unwrap_or_default();
                // SAFETY: `msg` is readable for its length; a short write only
                // shortens the message.
                let _ = unsafe { libc::write(out, msg.as_ptr().cast(), msg.len()) };
                sys::exit_now(if msg.is_empty() { 0 } else { 1 })
            }
            Ok(Fork::Parent(child)) => {
                drop(w);
                let mut msg = String::new();
                let _ = r.read_to_string(&mut msg);
                let st = sys::waitpid(child)
                    .map_err(|e| format!("waiting for {child}: {}", errno::describe(&e)))?;
                if !msg.is_empty() {
                    return Err(msg);
                }
                if !libc::WIFEXITED(st.1) || libc::WEXITSTATUS(st.1) != 0 {
                    return Err("the helper adding the epoll entries failed".to_string());
                }
                Ok(())
            }
            Err(e) => Err(format!(
                "cannot create the process adding the epoll entries: {}",
                errno::describe(&e)
            )),
        }
    }

    /// In process `pid`, before its ioctl: adds the entries watching a signalfd
    /// of the epoll sets it is the first holder of (`Plan::epoll_holders`).
    ///
    /// A signalfd's poll waits on the signal handlers (`sighand`) of the
    /// process that calls it, so an entry added by the root restarter's helper
    /// would be woken by none of the restored process's signals (and not at
    /// all once the helper is gone). The checkpoint made sure the holder had
    /// added each such entry; here a helper sharing the process's signal
    /// handlers (`CLONE_SIGHAND`, which needs `CLONE_VM`; `CLONE_VFORK`: the
    /// process waits meanwhile) and a copy of its fd table adds them, as
    /// [`add_all`] does, and the module keeps those handlers for the restored
    /// process.
    pub(super) fn fill_signalfd_entries(
        &self,
        plan: &Plan,
        pipes: &[CkptRestartPipe],
        sockets: &[CkptRestartFile],
        pid: i32,
    ) -> Result<(), String> {
        let mut adds: Vec<Add> = Vec::new();
        for &(set, _) in plan.epoll_holders.iter().filter(|h| h.1 == pid) {
            let mut items: Vec<&EpollItem> = plan
                .epoll_items
                .iter()
                .filter(|i| i.file == set && watches_signalfd(plan, i))
                .collect();
            if items.is_empty() {
                continue;
            }
            items.sort_by_key(|i| !disarmed(i.events));
            let epfd = self.target(plan, pipes, sockets, set)?;
            for i in items {
                let t = self.target(plan, pipes, sockets, i.target)?;
                adds.push((epfd, t, -1, *i));
            }
        }
        if adds.is_empty() {
            return Ok(());
        }
        struct Job<'a> {
            adds: &'a [Add],
            msg: String,
        }
        extern "C" fn helper(arg: *mut libc::c_void) -> libc::c_int {
            // SAFETY: `arg` is the `Job` below, which the caller, stopped until
            // this helper exits (`CLONE_VFORK`), does not touch meanwhile.
            let job = unsafe { &mut *arg.cast::<Job<'_>>() };
            let mut none = -1;
            match add_all(job.adds, &mut none) {
                Ok(()) => 0,
                Err(e) => {
                    job.msg = e;
                    1
                }
            }
        }
        let mut job = Job {
            adds: &adds,
            msg: String::new(),
        };
        let stack = HelperStack::new(256 * 1024)?;
        let top = stack.top();
        let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_SIGHAND | libc::SIGCHLD;
        // SAFETY: `helper` runs on `stack`, which outlives it (the caller waits
        // for it to exit, `CLONE_VFORK`), with `job` as its only argument.
        let child = unsafe { libc::clone(helper, top, flags, (&mut job as *mut Job<'_>).cast()) };
        if child < 0 {
            return Err(last(
                "cannot create the process adding the epoll entries watching a signalfd",
            ));
        }
        let st = sys::waitpid(child)
            .map_err(|e| format!("waiting for {child}: {}", errno::describe(&e)))?;
        drop(stack);
        if !job.msg.is_empty() {
            return Err(job.msg);
        }
        if !libc::WIFEXITED(st.1) || libc::WEXITSTATUS(st.1) != 0 {
            return Err(
                "the helper adding the epoll entries watching a signalfd failed".to_string(),
            );
        }
        Ok(())
    }
}

/// The stack of a `clone` helper: anonymous memory with an inaccessible guard
/// page below it, so that an overflow faults rather than writes over the heap.
struct HelperStack {
    base: *mut libc::c_void,
    len: usize,
}

impl HelperStack {
    const GUARD: usize = 4096;

    fn new(size: usize) -> Result<Self, String> {
        let len = size + Self::GUARD;
        // SAFETY: A new private anonymous mapping: no memory of the tool is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(last("cannot map a stack for the helper"));
        }
        let stack = Self { base, len };
        // SAFETY: The first page of the mapping just made, which nothing uses.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return Err(last("cannot make the guard page of the helper's stack"));
        }
        Ok(stack)
    }

    /// Its top, 16-byte aligned (it grows down).
    fn top(&self) -> *mut libc::c_void {
        ((self.base as usize + self.len) & !15) as *mut libc::c_void
    }
}

impl Drop for HelperStack {
    fn drop(&mut self) {
        // SAFETY: The mapping made in `new`, which nothing uses any more (the
        // helper has exited: its caller waited for it).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Whether epoll entry `i` watches a signalfd.
fn watches_signalfd(plan: &Plan, i: &EpollItem) -> bool {
    plan.files
        .iter()
        .any(|f| f.0 == i.target && f.1 == filekind::SIGNALFD)
}

/// An epoll entry to add: the set, the target, the write end of the target's
/// pipe if it is a read end (else -1), the entry.
type Add = (RawFd, RawFd, RawFd, EpollItem);

/// `EPOLLONESHOT`.
const EPOLLONESHOT: u32 = 1 << 30;
/// The flag bits of an entry (`EP_PRIVATE_BITS`): `EPOLLWAKEUP`,
/// `EPOLLONESHOT`, `EPOLLET`, `EPOLLEXCLUSIVE`.
const PRIVATE_BITS: u32 = (1 << 29) | (1 << 30) | (1 << 31) | (1 << 28);

/// Whether an entry is a one-shot entry that fired (only its flags are left).
fn disarmed(events: u32) -> bool {
    events & EPOLLONESHOT != 0 && events & !PRIVATE_BITS == 0
}

/// In the helper process: moves `keep` (updated) and the sources of `adds`
/// off every entry's fd number, then adds each entry with its target at that
/// number (one number may key several entries, of several files).
///
/// `EPOLL_CTL_ADD` always adds `EPOLLERR | EPOLLHUP`; only firing leaves a
/// one-shot entry with no event bits. So a fired one-shot entry is added for
/// the events its target has ready now (after a byte written into it if it
/// is an empty pipe's read end, read back after), and fired with an
/// `epoll_wait` while it is alone ready in its set (its set's fired entries
/// come first).
fn add_all(adds: &[Add], keep: &mut RawFd) -> Result<(), String> {
    // The entries' fd numbers: every fd the helper still uses is moved off them
    // (to the lowest free numbers that are none of them, not above them all:
    // ZDTM's epoll keys 250 entries at fd 999, and 250 fds above that would pass
    // the usual limit of 1024).
    let tfds: std::collections::BTreeSet<RawFd> = adds.iter().map(|a| a.3.tfd as RawFd).collect();
    let top = tfds.last().copied().unwrap_or(0);
    raise_nofile(top as u64 + 1);
    let mut moved: Vec<(RawFd, RawFd)> = Vec::new();
    let mut spare: Vec<RawFd> = Vec::new();
    let mut off = |fd: RawFd| -> Result<RawFd, String> {
        if !tfds.contains(&fd) {
            return Ok(fd);
        }
        if let Some(m) = moved.iter().find(|m| m.0 == fd) {
            return Ok(m.1);
        }
        loop {
            // SAFETY: plain system call.
            let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if n < 0 {
                return Err(last(format!(
                    "cannot move fd {fd} off the entries' fd numbers"
                )));
            }
            if tfds.contains(&n) {
                // Taken only to skip it: a later dup2 onto it closes it.
                spare.push(n);
                continue;
            }
            moved.push((fd, n));
            return Ok(n);
        }
    };
    *keep = off(*keep)?;
    let mut srcs = Vec::with_capacity(adds.len());
    for (ep, t, kick, i) in adds {
        let kick = if *kick >= 0 { off(*kick)? } else { -1 };
        srcs.push((off(*ep)?, off(*t)?, kick, *i));
    }
    for (ep, t, kick, i) in srcs {
        let tfd = i.tfd as RawFd;
        // SAFETY: plain system call; no fd the helper still uses is `tfd`.
        if unsafe { libc::dup2(t, tfd) } < 0 {
            return Err(last(format!("cannot place a file at fd {tfd}")));
        }
        let fire = disarmed(i.events);
        let (mut ready, mut kicked) = (0u32, false);
        if fire {
            ready = poll_now(tfd);
            if ready == 0 && kick >= 0 {
                // SAFETY: one byte from a valid buffer.
                kicked = unsafe { libc::write(kick, b"k".as_ptr().cast(), 1) } == 1;
                ready = poll_now(tfd);
            }
            if ready == 0 {
                return Err(format!(
                    "epoll file {}: cannot fire its one-shot entry for fd {tfd} again: the file is ready for no event",
                    i.file
                ));
            }
        }
        let mut ev = libc::epoll_event {
            events: i.events | ready,
            u64: i.data,
        };
        // SAFETY: `ev` is a valid epoll_event.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, tfd, &mut ev) } != 0 {
            return Err(last(format!(
                "cannot add fd {tfd} (events {:#x}) to epoll file {}",
                i.events, i.file
            )));
        }
        if fire {
            let mut out = [libc::epoll_event { events: 0, u64: 0 }; 8];
            // SAFETY: `out` has room for 8 events.
            let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 8, 0) };
            let mut byte = [0u8; 1];
            // SAFETY: one byte into a valid buffer; the byte written above is there.
            if kicked && unsafe { libc::read(tfd, byte.as_mut_ptr().cast(), 1) } != 1 {
                return Err(last("cannot take back the byte written into a pipe"));
            }
            if n != 1 || out[0].u64 != i.data {
                return Err(format!(
                    "epoll file {}: its one-shot entry for fd {tfd} did not fire again",
                    i.file
                ));
            }
        }
    }
    Ok(())
}

/// In the helper process: lets it use fd numbers below `n` (up to its hard
/// limit; the process had them, under its own limit, which the module sets
/// later). A failure leaves the limit, and `dup2` then says why.
fn raise_nofile(n: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 || r.rlim_cur >= n {
        return;
    }
    r.rlim_cur = n.min(r.rlim_max);
    // SAFETY: `r` is a valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
}

/// The events (`POLLIN`, `POLLOUT`, `POLLPRI`, `POLLRDHUP`, `POLLERR`,
/// `POLLHUP`, which have the values of their `EPOLL*`) `fd` has ready now.
fn poll_now(fd: RawFd) -> u32 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT | libc::POLLPRI | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut p, 1, 0) } != 1 {
        return 0;
    }
    let all = libc::POLLIN | libc::POLLOUT | libc::POLLPRI | libc::POLLRDHUP;
    (p.revents & (all | libc::POLLERR | libc::POLLHUP)) as u32
}

/// Opens the regular file `path` in flight with the image's open `flags`: never
/// through a symlink as its last component, without waiting (a fifo) or
/// becoming a controlling terminal; anything but a regular file is refused;
/// `O_NONBLOCK` is then as the image had it.
pub fn open_inflight_file(path: &[u8], flags: u32) -> std::io::Result<OwnedFd> {
    open_as_opener(path, flags, false)
}

/// Opens the regular file (or, with `dir`, the directory) `path` with the image's
/// open `flags`, as [`open_inflight_file`]: a file the process opened with rights
/// it gave up since, which the restarter opens as its opener and passes.
pub fn open_as_opener(path: &[u8], flags: u32, dir: bool) -> std::io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let keep = !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_NOCTTY) as u32;
    let f = ((flags & keep) as i32)
        | libc::O_CLOEXEC
        | libc::O_NOCTTY
        | libc::O_NOFOLLOW
        | libc::O_NONBLOCK;
    // SAFETY: `c` is NUL-terminated; open takes no other pointer.
    let fd = unsafe { libc::open(c.as_ptr(), f) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `st` is written by fstat on an open fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: As above.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let want = if dir { libc::S_IFDIR } else { libc::S_IFREG };
    if st.st_mode & libc::S_IFMT != want {
        return Err(std::io::Error::other(
            "not a regular file or directory (the image says it is one)",
        ));
    }
    if flags & libc::O_PATH as u32 == 0 && flags & libc::O_NONBLOCK as u32 == 0 {
        // SAFETY: Plain fcntl calls on an open fd.
        unsafe {
            let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            if fl < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(fd)
}

/// Adds watch `wd` on `path` for `mask` to inotify file `fd`, with that watch
/// descriptor.
fn add_watch(fd: &OwnedFd, wd: i32, mask: u32, path: &[u8]) -> Result<(), String> {
    let shown = crate::names::path(path);
    // SAFETY: the ioctl takes its argument by value.
    if unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            INOTIFY_IOC_SETNEXTWD as _,
            wd as libc::c_ulong,
        )
    } != 0
    {
        return Err(last(format!(
            "cannot choose watch descriptor {wd} (INOTIFY_IOC_SETNEXTWD)"
        )));
    }
    let c = std::ffi::CString::new(path.to_vec())
        .map_err(|_| format!("inotify watch on {shown}: a NUL in the path"))?;
    // SAFETY: `c` is a NUL-terminated path.
    let got = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask | IN_DONT_FOLLOW) };
    if got < 0 {
        return Err(last(format!("cannot watch {shown} with inotify")));
    }
    if got != wd {
        return Err(format!(
            "inotify watch on {shown} got watch descriptor {got}, not the image's {wd}"
        ));
    }
    Ok(())
}

/// `FAN_MARK_ADD`, `FAN_MARK_DONT_FOLLOW`, `FAN_MARK_IGNORED_MASK`,
/// `FAN_MARK_IGNORED_SURV_MODIFY`, `FAN_MARK_EVICTABLE`, `FAN_MARK_IGNORE`.
const FAN_MARK_ADD: u32 = 0x1;
const FAN_MARK_DONT_FOLLOW: u32 = 0x4;
const FAN_MARK_IGNORED_MASK: u32 = 0x20;
const FAN_MARK_IGNORED_SURV_MODIFY: u32 = 0x40;
const FAN_MARK_EVICTABLE: u32 = 0x200;
const FAN_MARK_IGNORE: u32 = 0x400;
/// `FAN_MARK_FILESYSTEM`: the mark is on the filesystem the path is on.
const FAN_MARK_FILESYSTEM: u32 = 0x100;
/// `FAN_MARK_MOUNT`: the mark is on the mount the path is on.
const FAN_MARK_MOUNT: u32 = 0x10;
/// `CAP_SYS_ADMIN`.
const CAP_SYS_ADMIN: u32 = 21;

/// Runs `f` with `CAP_SYS_ADMIN` out of the caller's effective set (put back
/// after): a fanotify group made so is unprivileged (`FANOTIFY_UNPRIV`), as the
/// image's was.
fn without_sys_admin<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    // struct __user_cap_header_struct { u32 version; int pid; } and two
    // struct __user_cap_data_struct { u32 effective, permitted, inheritable; }.
    let mut hdr: [u32; 2] = [0x2008_0522, 0]; // _LINUX_CAPABILITY_VERSION_3, self
    let mut data = [0u32; 6];
    // SAFETY: capget with a version-3 header fills two data structs.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } < 0 {
        return Err(last("cannot read the restarter's capabilities"));
    }
    if data[0] & (1 << CAP_SYS_ADMIN) == 0 {
        return Ok(f());
    }
    let mut less = data;
    less[0] &= !(1 << CAP_SYS_ADMIN);
    // SAFETY: capset with a version-3 header reads two data structs; it only
    // lowers the calling thread's effective set.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, less.as_ptr()) } < 0 {
        return Err(last("cannot leave CAP_SYS_ADMIN for a moment"));
    }
    let out = f();
    // SAFETY: As above; the permitted set still holds what is raised again.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } < 0 {
        return Err(last("cannot take CAP_SYS_ADMIN back"));
    }
    Ok(out)
}

/// Makes fanotify group `id` of the image as `fanotify_init()` made it
/// (unprivileged if it was) and adds its marks, oldest first, each on the inode
/// its path names (`FAN_MARK_DONT_FOLLOW`), the filesystem or the mount it is on, with its
/// flags, mask and ignore mask.
fn make_fanotify(
    id: u32,
    g: &crate::image::FanotifyGroup,
    marks: &[super::plan::FanotifyMarkPlan],
) -> Result<OwnedFd, String> {
    let init = || {
        // SAFETY: plain system call.
        unsafe { libc::syscall(libc::SYS_fanotify_init, g.flags, g.event_f_flags) as RawFd }
    };
    let raw = if g.unpriv != 0 {
        without_sys_admin(init)?
    } else {
        init()
    };
    let fd = owned(
        raw,
        format!(
            "cannot make fanotify group {id} (fanotify_init flags {:#x}, event flags {:#o}{}; the restart never has more rights than its caller)",
            g.flags,
            g.event_f_flags,
            if g.unpriv != 0 { ", unprivileged" } else { "" }
        ),
    )?;
    // Held by the restarter until the module takes it: never across an exec.
    // SAFETY: plain fcntl on an fd we own.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(last("cannot make a fanotify fd close-on-exec"));
    }
    for (mark_type, flags, mask, ignore, path) in marks {
        let shown = crate::names::path(path);
        let c = std::ffi::CString::new(path.clone())
            .map_err(|_| format!("fanotify mark on {shown}: a NUL in the path"))?;
        let base = FAN_MARK_ADD
            | FAN_MARK_DONT_FOLLOW
            | (mark_type & (FAN_MARK_FILESYSTEM | FAN_MARK_MOUNT))
            | (flags & FAN_MARK_EVICTABLE);
        let mut calls = Vec::new();
        if *mask != 0 {
            calls.push((base, *mask));
        }
        if *ignore != 0 {
            let how = if flags & FAN_MARK_IGNORE != 0 {
                FAN_MARK_IGNORE
            } else {
                FAN_MARK_IGNORED_MASK
            };
            calls.push((base | how | (flags & FAN_MARK_IGNORED_SURV_MODIFY), *ignore));
        }
        for (how, m) in calls {
            // SAFETY: `c` is a NUL-terminated path; the mask is passed as a u64.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_fanotify_mark,
                    fd.as_raw_fd(),
                    how,
                    u64::from(m),
                    libc::AT_FDCWD,
                    c.as_ptr(),
                )
            };
            if r != 0 {
                return Err(last(format!(
                    "cannot mark {shown} in fanotify group {id} (flags {how:#x}, mask {m:#x})"
                )));
            }
        }
    }
    Ok(fd)
}

/// An empty signal set.
fn unsafe_zeroed_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset then makes it a valid empty set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is writable.
    unsafe { libc::sigemptyset(&mut set) };
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ckpt-inflight-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        d
    }

    /// A path in flight that is no longer a regular file: a fifo is refused at
    /// once (never waited on), a device and a symlink too; a regular file opens
    /// with the image's flags (no `O_NONBLOCK` added).
    #[test]
    fn inflight_only_regular_files() {
        let d = scratch("reg");
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: A NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_inflight_file(fifo.as_os_str().as_bytes(), libc::O_RDONLY as u32).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = open_inflight_file(b"/dev/null", libc::O_RDWR as u32).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let file = d.join("file");
        std::fs::write(&file, b"data").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let e = open_inflight_file(link.as_os_str().as_bytes(), libc::O_RDONLY as u32).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        let fd = open_inflight_file(file.as_os_str().as_bytes(), libc::O_RDWR as u32).unwrap();
        // SAFETY: A plain fcntl on an open fd.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(fl & libc::O_NONBLOCK, 0);
        assert_eq!(fl & libc::O_ACCMODE, libc::O_RDWR);
        let fd = open_inflight_file(
            file.as_os_str().as_bytes(),
            (libc::O_RDONLY | libc::O_NONBLOCK) as u32,
        )
        .unwrap();
        // SAFETY: As above.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        assert_ne!(fl & libc::O_NONBLOCK, 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// With the image's filesystem identity, an in-flight file or an inotify
    /// watch its user may not read is refused, even to a root restarter.
    #[test]
    fn inflight_and_watches_as_the_image() {
        // SAFETY: No memory is involved.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let d = scratch("ids");
        let secret = d.join("secret");
        std::fs::write(&secret, b"root only").unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let ids = crate::restart::IdsPlan {
            uids: [65534; 4],
            gids: [65534; 4],
            groups: vec![65534],
        };
        let p = secret.as_os_str().as_bytes();
        {
            let _as = sys::AsImage::take(Some(&ids)).unwrap();
            let e = open_inflight_file(p, libc::O_RDONLY as u32).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
            // SAFETY: Plain system calls.
            let ino = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
            assert!(ino >= 0);
            // SAFETY: `ino` was just made.
            let ino = unsafe { OwnedFd::from_raw_fd(ino) };
            let e = add_watch(&ino, 1, libc::IN_ACCESS, p).unwrap_err();
            assert!(
                e.contains("Permission denied") || e.contains("EACCES"),
                "{e}"
            );
        }
        // The restarter's own identity again.
        assert!(open_inflight_file(p, libc::O_RDONLY as u32).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
