// SPDX-License-Identifier: GPL-2.0

//! Checkpoint: find the target, check the caller's rights, hold every thread at a safe
//! point, refuse what cannot be saved faithfully, write the image, then resume, stop or
//! kill the target.
//!
//! The collectors for each kind of state live in `rust/objects/` (one file per kind
//! of object, next to its restore); this file orders them into one stream.

use crate::access;
use crate::fault::{self, Op};
use crate::image::{self, Header};
use crate::objects::{creds, files, mm, shm, signal, sysvipc, task, track, tty, unix};
use crate::shim::{self, ti, FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap, Sink, Spool, Spooled};
use crate::uapi;
use core::fmt::{self, Write};
use kernel::{bindings, prelude::*};

/// How long a target may take to reach a safe point.
const QUIESCE_TIMEOUT_MS: u32 = 10_000;

const SIGKILL: i32 = 9;
const SIGSTOP: i32 = 19;

/// Index of `cs` in `struct user_regs_struct`.
const REG_CS: usize = 17;
/// `__USER_CS`: the 64-bit user code segment.
const USER_CS: u64 = 0x33;

/// `EOPNOTSUPP`, which `kernel::error::code` lacks.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// Why a checkpoint was refused: a short sentence naming the obstacle.
pub(crate) struct Reason {
    buf: [u8; uapi::CKPT_REASON_LEN],
    len: usize,
    /// The step the operation was at ([`crate::fault::step_why`]), for a failure
    /// without a reason.
    pub(crate) stage: &'static str,
}

impl Reason {
    /// An empty reason.
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; uapi::CKPT_REASON_LEN],
            len: 0,
            stage: "",
        }
    }

    /// Replaces the reason and returns `err`, for `return Err(why.set(..))`.
    pub(crate) fn set(&mut self, err: Error, args: fmt::Arguments<'_>) -> Error {
        self.len = 0;
        let _ = self.write_fmt(args);
        err
    }

    /// Puts `args` in front of the reason (cut at the end if it grows too long).
    pub(crate) fn prepend(&mut self, args: fmt::Arguments<'_>) {
        let old = self.buf;
        let n = self.len;
        self.len = 0;
        let _ = self.write_fmt(args);
        if let Ok(text) = core::str::from_utf8(&old[..n]) {
            let _ = self.write_str(text);
        }
    }

    /// Names the process of a tree whose precheck failed (`tgid`, not the tree's
    /// root `root`) in front of the reason, unless it says which already.
    fn name_process(&mut self, tgid: i32, root: i32) {
        if tgid != root && !self.as_str().starts_with("process ") {
            self.prepend(format_args!("process {tgid}: "));
        }
    }

    /// The text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text as a str (lossless: only str input is ever written).
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// Whether a reason was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Write for Reason {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep room for a NUL; cut at a char boundary.
        let room = self.buf.len() - 1 - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// What a checkpoint works on: the target's threads (leader first) and reusable buffers.
pub(crate) struct Target {
    pub(crate) leader: TaskRef,
    pub(crate) threads: KVec<TaskRef>,
    pub(crate) info: shim::TaskInfo,
}

/// Finds `pid`'s process and checks that the caller may checkpoint it.
pub(crate) fn find_target(pid: i32, why: &mut Reason) -> Result<Target> {
    let t =
        TaskRef::by_vpid(pid).ok_or_else(|| why.set(ESRCH, format_args!("no process {pid}")))?;
    let info = t.info();
    if info.flags & ti::KTHREAD != 0 {
        return Err(why.set(EINVAL, format_args!("{pid} is a kernel thread")));
    }
    if info.flags & (ti::ZOMBIE | ti::EXITING) != 0 {
        return Err(why.set(ESRCH, format_args!("{pid} is exiting")));
    }
    if t.is_current_group() {
        return Err(why.set(
            EINVAL,
            format_args!("{pid} is the calling process; run the checkpoint from another one"),
        ));
    }
    if let Err(d) = access::may_checkpoint(&t) {
        return Err(no_access(pid, d, why));
    }
    // A thread id stands for its whole process.
    let leader = if info.flags & ti::LEADER != 0 {
        t
    } else {
        TaskRef::by_vpid(info.tgid)
            .ok_or_else(|| why.set(ESRCH, format_args!("process of thread {pid} is gone")))?
    };
    let info = leader.info();
    let threads = leader.threads()?;
    for th in threads.iter() {
        let i = th.info();
        if i.flags & ti::PTRACED != 0 {
            return Err(why.set(
                EBUSY,
                format_args!("thread {} of {} is being traced", i.pid, info.tgid),
            ));
        }
    }
    Ok(Target {
        leader,
        threads,
        info,
    })
}

fn no_access(pid: i32, d: access::Denied, why: &mut Reason) -> Error {
    why.set(
        d.errno(),
        format_args!("no permission to checkpoint {pid} ({})", d.why()),
    )
}

/// Everything that makes a target impossible to save faithfully, checked before a single
/// byte is written. The target must be quiescent for the answer to hold.
pub(crate) fn precheck(
    t: &Target,
    procs: &[i32],
    seen: &mut files::Seen,
    why: &mut Reason,
) -> Result {
    if t.info.flags & ti::FOREIGN_NS != 0 {
        return Err(why.set(
            EINVAL,
            format_args!("process is not visible in the caller's pid namespace"),
        ));
    }
    // A process that began exiting since it was found has no namespaces any more
    // (below): its exit, not its namespace, is the obstacle (`CKPT_IOC_CHECK` does
    // not stop the processes it looks at).
    if t.leader.info().flags & (ti::EXITING | ti::ZOMBIE) != 0 {
        return Err(why.set(EAGAIN, format_args!("process {} is exiting", t.info.tgid)));
    }
    // Review finding A27: paths are names in the checkpointer's mount table.
    if !t.leader.same_mntns() {
        return Err(why.set(
            EINVAL,
            format_args!(
                "process is in another mount namespace: the paths it uses name files the restart would not find"
            ),
        ));
    }
    let m = t
        .leader
        .mm()
        .ok_or_else(|| why.set(EINVAL, format_args!("process has no memory")))?;
    mm::precheck(&m, why)?;
    task::precheck(&t.threads, why)?;
    files::precheck(&t.leader, procs, seen, why)?;
    signal::precheck(&t.leader, why)?;
    Ok(())
}

/// `CKPT_IOC_CHECK`: could `pid` (with [`uapi::CKPT_CHECKPOINT_TREE`] in `flags`: its
/// process tree) be checkpointed now? Does not stop the target, so the answer is a
/// snapshot.
pub(crate) fn check(pid: i32, flags: u64, why: &mut Reason) -> Result {
    let ext = flags & uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX != 0;
    let t = find_target(pid, why)?;
    if flags & uapi::CKPT_CHECKPOINT_TREE == 0 {
        let r = precheck(&t, &[], &mut files::Seen::new(), why)
            .and_then(|_| unix::outside(&[&t.leader], ext, why))
            .and_then(|_| files::leased_leaks(&[&t.leader], why))
            .and_then(|_| files::reopenable(&[&t.leader], why));
        crate::lsm::explain(&t.leader, why);
        return r;
    }
    let tree = Tree::below(t, None, why)?;
    let procs = tree.pids()?;
    let mut seen = files::Seen::new();
    let root = tree.procs.first().map_or(0, |r| r.info.tgid);
    for p in tree.procs.iter() {
        if let Err(e) = precheck(p, &procs, &mut seen, why) {
            crate::lsm::explain(&p.leader, why);
            why.name_process(p.info.tgid, root);
            return Err(e);
        }
    }
    tree.check(ext, why)?;
    let leaders = tree.leaders()?;
    files::reopenable(&leaders, why)
}

/// A process tree: its live processes (the root first, parents before children) and its
/// zombies.
pub(crate) struct Tree {
    pub(crate) procs: KVec<Target>,
    pub(crate) zombies: KVec<(TaskRef, shim::TaskInfo)>,
}

impl Tree {
    /// The pids of its processes, live and zombie.
    pub(crate) fn pids(&self) -> Result<KVec<i32>> {
        let mut v = KVec::new();
        for p in self.procs.iter() {
            v.push(p.info.tgid, GFP_KERNEL)?;
        }
        for (_, z) in self.zombies.iter() {
            v.push(z.tgid, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The thread-group leaders of its live processes.
    pub(crate) fn leaders(&self) -> Result<KVec<&TaskRef>> {
        let mut v = KVec::with_capacity(self.procs.len(), GFP_KERNEL)?;
        for p in self.procs.iter() {
            v.push(&p.leader, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The tree of just `t`'s process.
    fn single(t: Target) -> Result<Self> {
        let mut procs = KVec::new();
        procs.push(t, GFP_KERNEL)?;
        Ok(Self {
            procs,
            zombies: KVec::new(),
        })
    }

    /// `root`'s process and all its descendants.  A process that is exiting (it
    /// will be a zombie in a moment) goes to `exiting` if given, else is refused
    /// with `EAGAIN`.
    fn below(
        root: Target,
        mut exiting: Option<&mut KVec<TaskRef>>,
        why: &mut Reason,
    ) -> Result<Self> {
        let below = root.leader.descendants()?;
        let root_pid = root.info.tgid;
        let mut tree = Self::single(root)?;
        for p in below {
            let info = p.info();
            if info.flags & ti::ZOMBIE != 0 {
                if info.nr_threads > 1 {
                    return Err(why.set(
                        eopnotsupp(),
                        format_args!(
                            "process {} of the tree has exited but its threads run on",
                            info.tgid
                        ),
                    ));
                }
                tree.zombies.push((p, info), GFP_KERNEL)?;
                continue;
            }
            if info.flags & ti::EXITING != 0 {
                if let Some(x) = exiting.as_deref_mut() {
                    x.push(p, GFP_KERNEL)?;
                    continue;
                }
                return Err(why.set(
                    EAGAIN,
                    format_args!("process {} of the tree is exiting", info.tgid),
                ));
            }
            if let Err(d) = access::may_checkpoint(&p) {
                // It exited since it was found (a short-lived child): a moment later
                // it is a zombie, which is saved as one.
                if matches!(d, access::Denied::Gone) {
                    if let Some(x) = exiting.as_deref_mut() {
                        x.push(p, GFP_KERNEL)?;
                        continue;
                    }
                    return Err(why.set(
                        EAGAIN,
                        format_args!("process {} of the tree is exiting", info.tgid),
                    ));
                }
                return Err(why.set(
                    d.errno(),
                    format_args!(
                        "no permission to checkpoint process {} below {root_pid} ({})",
                        info.tgid,
                        d.why()
                    ),
                ));
            }
            let threads = p.threads()?;
            for th in threads.iter() {
                if th.info().flags & ti::PTRACED != 0 {
                    return Err(why.set(
                        EBUSY,
                        format_args!("a thread of {} is being traced", info.tgid),
                    ));
                }
            }
            tree.procs.push(
                Target {
                    leader: p,
                    threads,
                    info,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(tree)
    }

    /// What only a tree can hold that its image could not give back: processes that
    /// share an address space without being threads of one process (CLONE_VM, vfork),
    /// and objects shared with processes outside the tree (`ext`: but for unix
    /// datagram sockets connected outside, see [`unix::outside`]).
    fn check(&self, ext: bool, why: &mut Reason) -> Result {
        let mut infos = KVec::with_capacity(self.procs.len(), GFP_KERNEL)?;
        let mut leaders = KVec::with_capacity(self.procs.len(), GFP_KERNEL)?;
        for p in self.procs.iter() {
            infos.push(p.leader.info(), GFP_KERNEL)?;
            leaders.push(&p.leader, GFP_KERNEL)?;
        }
        for (i, pi) in infos.iter().enumerate() {
            if let Some(qi) = infos[i + 1..].iter().find(|q| q.mm_key == pi.mm_key) {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "processes {} and {} share an address space (CLONE_VM): not supported yet",
                        pi.tgid, qi.tgid
                    ),
                ));
            }
        }
        self.sessions(&infos, why)?;
        files::leaks(&leaders, why)?;
        unix::outside(&leaders, ext, why)
    }

    /// A restart makes each process by forking it from its parent, where it starts in
    /// its parent's session, and can only lead a new session or stay. A process below
    /// the root in another session than its parent's that it does not lead comes back
    /// (the tool's restart plan decides how by the same rules) when
    /// - its parent made its session after forking it: it is still in the session the
    ///   parent was made in (a parent leading its session is itself forked before its
    ///   own parent's `setsid` when that gives it the session its children want);
    /// - its session's leader is gone (exited and reaped: no task has its pid), the
    ///   session is not the root's (which a restart does not make), and every such
    ///   process of the session has the same parent and `SIGCHLD` as its exit signal
    ///   (a helper with the leader's pid makes the session again and creates them for
    ///   their parent with `CLONE_PARENT`, which gives them the helper's exit signal);
    /// - it is alive, and its session's leader is alive and its sibling, with the same
    ///   exit signal, sharing the parent's fd table if it does (the leader creates it
    ///   for their parent with `CLONE_PARENT`);
    /// - it is alive with `SIGCHLD` as its exit signal (a reparented process's), not
    ///   sharing its parent's fd table, its session's leader is in the tree (alive,
    ///   and not the parent of another such process, or a zombie), and its parent is
    ///   the first child subreaper above the leader (the parent is a subreaper from
    ///   the start of the restart, and the leader forks the process again, through
    ///   an intermediate that exits if it is alive, before it exits if a zombie).
    ///
    /// Any other such process could not be made again.
    fn sessions(&self, infos: &[shim::TaskInfo], why: &mut Reason) -> Result {
        const SIGCHLD: i32 = 17;
        // The common case, at once: every process below the root is in its parent's
        // session or leads its own (a parent is alive: a zombie's was, or it was
        // reparented).
        let zombies = self.zombies.iter().map(|(_, i)| i);
        if Iterator::chain(infos.iter().skip(1), zombies).all(|pi| {
            pi.sid == pi.tgid
                || infos
                    .iter()
                    .find(|q| q.tgid == pi.ppid)
                    .is_none_or(|q| q.sid == pi.sid)
        }) {
            return Ok(());
        }
        // Every process, live and zombie, the root first, parents before children.
        let n = infos.len() + self.zombies.len();
        let mut all: KVec<&shim::TaskInfo> = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut left: KVec<&shim::TaskInfo> = KVec::with_capacity(n, GFP_KERNEL)?;
        all.push(&infos[0], GFP_KERNEL)?;
        for pi in Iterator::chain(infos[1..].iter(), self.zombies.iter().map(|(_, i)| i)) {
            left.push(pi, GFP_KERNEL)?;
        }
        while !left.is_empty() {
            let Some(k) = left
                .iter()
                .position(|p| all.iter().any(|q| q.tgid == p.ppid))
            else {
                // Not a tree (cannot be: they descend from the root).
                break;
            };
            all.push(left.remove(k)?, GFP_KERNEL)?;
        }
        let n = all.len();
        let find = |pid: i32| all.iter().position(|p| p.tgid == pid);
        let mut parent: KVec<usize> = KVec::with_capacity(n, GFP_KERNEL)?;
        for p in all.iter() {
            parent.push(find(p.ppid).unwrap_or(0), GFP_KERNEL)?;
        }
        // The session each process wants to be made in: its own if it does not lead
        // it, else the lowest its children that want another want.
        let mut want: KVec<i32> = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            want.push(0, GFP_KERNEL)?;
        }
        for i in (1..n).rev() {
            let p = all[i];
            want[i] = if p.sid != p.tgid {
                p.sid
            } else {
                (i + 1..n)
                    .filter(|&c| parent[c] == i && want[c] != 0 && want[c] != p.sid)
                    .map(|c| want[c])
                    .min()
                    .unwrap_or(0)
            };
        }
        // The session each is made in (0: the caller's, which the root is made in),
        // and, for those a helper makes, the helper's session.
        let mut born: KVec<i32> = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut helper: KVec<i32> = KVec::with_capacity(n, GFP_KERNEL)?;
        born.push(0, GFP_KERNEL)?;
        helper.push(0, GFP_KERNEL)?;
        // For those reparented from their session's leader, the leader.
        let mut reparented: KVec<i32> = KVec::with_capacity(n, GFP_KERNEL)?;
        reparented.push(0, GFP_KERNEL)?;
        // Whether a live process is a child subreaper.
        let subreaper = |tgid: i32| {
            self.procs
                .iter()
                .find(|t| t.info.tgid == tgid)
                .and_then(|t| t.leader.attrs().ok())
                .is_some_and(|a| a.subreaper != 0)
        };
        // The first subreaper above process `l` (by index), where its children go
        // when it exits (and its grandchildren while it is not a subreaper).
        let reaper_above = |l: usize| {
            let mut a = l;
            for _ in 0..n {
                if a == 0 {
                    return None;
                }
                a = parent[a];
                if subreaper(all[a].tgid) {
                    return Some(a);
                }
            }
            None
        };
        let root = all[0];
        for i in 1..n {
            let (p, qi) = (all[i], parent[i]);
            let q = all[qi];
            let after = if qi == 0 {
                if root.sid == root.tgid {
                    root.sid
                } else {
                    0
                }
            } else {
                q.sid
            };
            let early = q.sid == q.tgid && born[qi] != 0 && want[i] == born[qi];
            let mut by_helper = 0;
            let mut by_leader = 0;
            let at = if p.sid == p.tgid || p.sid == q.sid {
                if early && p.sid == p.tgid {
                    born[qi]
                } else {
                    after
                }
            } else if early {
                born[qi]
            } else {
                let what = if let Some(li) = find(p.sid) {
                    let l = all[li];
                    let zombie = |t: &shim::TaskInfo| t.flags & ti::ZOMBIE != 0;
                    let shares = |t: &shim::TaskInfo| !zombie(t) && t.files_key == q.files_key;
                    if !zombie(p)
                        && !zombie(l)
                        && l.ppid == p.ppid
                        && l.exit_signal == p.exit_signal
                        && (!shares(p) || shares(l))
                    {
                        None
                    } else if !zombie(p)
                        && p.exit_signal == SIGCHLD
                        && !shares(p)
                        && reaper_above(li) == Some(qi)
                    {
                        by_leader = l.tgid;
                        None
                    } else {
                        Some(
                            "its session's leader is in the tree but neither its ancestor \
                             nor a live sibling, and its parent is not the first subreaper \
                             above that leader",
                        )
                    }
                } else if p.sid == root.sid || p.sid <= 0 {
                    Some("it is the root's session, which a restart does not make")
                } else if crate::sys::task::by_vpid(p.sid).is_some() {
                    Some("its session's leader is alive outside the tree")
                } else if p.exit_signal != SIGCHLD {
                    Some("its session's leader is gone and its exit signal is not SIGCHLD")
                } else {
                    by_helper = p.sid;
                    None
                };
                if let Some(what) = what {
                    return Err(why.set(
                        eopnotsupp(),
                        format_args!(
                            "process {} is in session {}, its parent {} in session {}: it \
                             cannot be made again, as {what} (not supported yet)",
                            p.tgid, p.sid, q.tgid, q.sid
                        ),
                    ));
                }
                p.sid
            };
            born.push(at, GFP_KERNEL)?;
            helper.push(by_helper, GFP_KERNEL)?;
            reparented.push(by_leader, GFP_KERNEL)?;
        }
        // A live leader a process is reparented from is not a subreaper from the start
        // (the parent of other such processes).
        for i in 1..n {
            let l = reparented[i];
            let live = |t: &&shim::TaskInfo| t.tgid == l && t.flags & ti::ZOMBIE == 0;
            if l != 0
                && all.iter().any(live)
                && (1..n).any(|k| all[k].ppid == l && reparented[k] != 0)
            {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "process {} would be reparented from {l}, a subreaper of other such \
                         processes: it cannot be made again (not supported yet)",
                        all[i].tgid
                    ),
                ));
            }
        }
        // One helper makes a gone leader's session: for one parent.
        for i in 1..n {
            if helper[i] == 0 {
                continue;
            }
            if let Some(k) = (1..n).find(|&k| helper[k] == helper[i] && all[k].ppid != all[i].ppid)
            {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "processes {} and {} are in session {}, whose leader is gone, with \
                         another parent each ({} and {}): they cannot be made again (not \
                         supported yet)",
                        all[i].tgid, all[k].tgid, helper[i], all[i].ppid, all[k].ppid
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every live thread of the tree.
    fn threads(&self) -> Result<KVec<TaskRef>> {
        let mut all = KVec::new();
        for p in self.procs.iter() {
            for t in p.threads.iter() {
                all.push(t.clone(), GFP_KERNEL)?;
            }
        }
        Ok(all)
    }

    /// Whether every process still has exactly the threads found.
    fn threads_unchanged(&self) -> Result<bool> {
        for p in self.procs.iter() {
            let now = p.leader.threads()?;
            if now.len() != p.threads.len()
                || !now
                    .iter()
                    .all(|t| p.threads.iter().any(|k| k.key() == t.key()))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the processes below the root are still exactly those found.
    fn unchanged(&self) -> Result<bool> {
        let now = self.procs[0].leader.descendants()?;
        let known = self.procs.len() - 1 + self.zombies.len();
        Ok(now.len() == known
            && now.iter().all(|p| {
                self.procs.iter().any(|q| q.leader.key() == p.key())
                    || self.zombies.iter().any(|(z, _)| z.key() == p.key())
            }))
    }
}

/// How often a process or tree that keeps changing (threads or processes created or
/// exiting) while it is being stopped is looked at again before the checkpoint gives
/// up.
const ATTEMPTS: u32 = 5;

/// How long a checkpoint waits before looking again at a tree one of whose
/// processes was exiting (between attempts).
const EXIT_WAIT_MS: i64 = 50;

/// Waits (a bounded time) until each of `procs`, processes that were exiting, has
/// become a zombie (or was reaped): the caller looks at the tree again then.
fn wait_exited(procs: &[TaskRef]) {
    for _ in 0..EXIT_WAIT_MS {
        // A zombie leader whose other threads are still exiting is not done yet
        // (`Tree::below` refuses one whose threads run on).
        if procs.iter().all(|p| {
            let i = p.info();
            i.flags & ti::ZOMBIE != 0 && i.nr_threads <= 1
        }) {
            return;
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(EXIT_WAIT_STEP_MS));
    }
}

/// The step of [`wait_exited`]'s polls: it waits up to `EXIT_WAIT_MS` of them.
const EXIT_WAIT_STEP_MS: i64 = 20;

/// `CKPT_IOC_CHECKPOINT`: writes the image of `pid` (with
/// [`uapi::CKPT_CHECKPOINT_TREE`]: of its process tree) to `sink`; returns its size.
///
/// With [`uapi::CKPT_CHECKPOINT_TRACK`] or [`uapi::CKPT_CHECKPOINT_PARENT`], `incr` is
/// what the caller passed for them (see [`crate::objects::track`]); its track id is
/// set on success.
pub(crate) fn checkpoint(
    pid: i32,
    flags: u64,
    sink: &mut dyn Sink,
    sysv_chan: Option<&FileRef>,
    mut incr: Option<&mut track::Request>,
    why: &mut Reason,
) -> Result<u64> {
    let both = uapi::CKPT_CHECKPOINT_RESUME | uapi::CKPT_CHECKPOINT_KILL;
    if flags & !uapi::CKPT_CHECKPOINT_FLAGS != 0 || flags & both == both {
        return Err(why.set(EINVAL, format_args!("bad flags {flags:#x}")));
    }
    let whole = flags & uapi::CKPT_CHECKPOINT_TREE != 0;
    let incremental = uapi::CKPT_CHECKPOINT_TRACK | uapi::CKPT_CHECKPOINT_PARENT;
    if flags & incremental != 0 && incr.is_none() {
        return Err(why.set(
            EINVAL,
            format_args!("incremental checkpoint without its arguments"),
        ));
    }
    if flags & incremental != 0 && whole {
        return Err(why.set(
            eopnotsupp(),
            format_args!("incremental checkpoints of process trees: not supported yet"),
        ));
    }
    if flags & incremental != 0 && !track::supported() {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "incremental checkpoints need soft-dirty bits (CONFIG_MEM_SOFT_DIRTY), which this \
                 kernel lacks"
            ),
        ));
    }
    // Stopping or killing the target afterwards is a kill(2) by the caller: checked
    // before anything is done.
    let signal = if flags & uapi::CKPT_CHECKPOINT_KILL != 0 {
        Some(SIGKILL)
    } else if flags & uapi::CKPT_CHECKPOINT_RESUME == 0 {
        Some(SIGSTOP)
    } else {
        None
    };
    // A process left running runs again before the image is written out: up to
    // `spool_mb` of it waits in memory meanwhile (not with a sink that is memory
    // already: the shell interface's queue).
    let spool_budget = match signal {
        None if !sink.in_memory() => {
            (crate::compat::param::<u32>(crate::module_parameters::spool_mb.value()) as usize)
                .saturating_mul(1 << 20)
        }
        _ => 0,
    };
    let mut spool = None;
    let mut ph = crate::timing::Phases::start();
    let mut frozen_at = None;
    let mut attempt = 0;
    // The previous look's quiesce, while the next one is being set up: the threads it
    // parked stay parked (see below), so that a tree that keeps creating threads
    // converges (only threads born since the previous look can still run).
    let mut prev: Option<shim::Quiesce> = None;
    let (tree, q) = loop {
        attempt += 1;
        fault::step_why(Op::Checkpoint, "find the target", why)?;
        let t = find_target(pid, why)?;
        // Processes of the tree that are exiting: a moment later they are zombies,
        // saved as such. The others are stopped first (their parents then neither
        // reap them nor make new ones: a tree that forks short-lived children all
        // the time always has one exiting), then these are waited for, and the
        // tree is looked at again.
        let mut exiting_found = KVec::new();
        let tree = if whole {
            Tree::below(t, Some(&mut exiting_found), why)?
        } else {
            Tree::single(t)?
        };
        // The spool's buffers, for as many pages as the processes have now, before
        // they are held.
        if spool.is_none() {
            let estimate = tree
                .procs
                .iter()
                .filter_map(|p| p.leader.mm())
                .map(|m| m.resident_anon())
                .fold(0u64, u64::saturating_add);
            spool = Some(Spool::new(spool_budget, estimate));
        }
        ph.mark("find");
        // Frozen from the first look on: the threads parked then stay parked.
        frozen_at.get_or_insert(ph.since_start());
        fault::step_why(Op::Checkpoint, "quiesce", why)?;
        let q = shim::Quiesce::start(&tree.threads()?)?;
        // Only now is the previous look's quiesce released: a thread parked by it
        // already has this one's park queued, and runs it on its way back to user
        // mode before any instruction of its own (task works run until none is
        // left), so it goes from one park to the next.
        drop(prev.take());
        fault::step_why(Op::Checkpoint, "safe point", why)?;
        match q.wait(QUIESCE_TIMEOUT_MS) {
            Ok(()) => {}
            // A thread exited on its way to the safe point: look again (a process
            // that is going away is found so then).
            Err(e) if e == ESRCH && attempt < ATTEMPTS => {
                prev = Some(q);
                continue;
            }
            Err(e) => {
                return Err(if e == ETIMEDOUT {
                    why.set(
                        EBUSY,
                        format_args!(
                            "{pid} did not reach a safe point within {} s (uninterruptible sleep?)",
                            QUIESCE_TIMEOUT_MS / 1000
                        ),
                    )
                } else if e == ESRCH {
                    why.set(ESRCH, format_args!("{pid} exited during the checkpoint"))
                } else {
                    why.set(e, format_args!("interrupted while waiting for {pid}"))
                })
            }
        }
        // Every thread found is held now and can neither exec nor clone: the rights
        // are judged again on what the processes have become (an exec of a set-uid
        // program may have completed since the first look), and a thread that an
        // in-flight clone added since is found now.
        let mut exiting = false;
        for p in tree.procs.iter() {
            match access::may_checkpoint(&p.leader) {
                Ok(()) => {}
                // A process that was already exiting when it was found (its memory
                // gone, so `/proc/PID/mem` cannot be opened; its threads do not
                // run user code again, so the quiesce did not wait for them): a
                // short-lived child of a shell loop. Look again a moment later,
                // when it is a zombie, saved as one, or reaped.
                Err(access::Denied::Gone) if attempt < ATTEMPTS => {
                    exiting = true;
                    break;
                }
                Err(d) => {
                    return Err(why.set(
                        d.errno(),
                        format_args!(
                            "no permission to checkpoint {} any more: it changed credentials \
                             (exec of a set-id program?) while being stopped ({})",
                            p.info.tgid,
                            d.why()
                        ),
                    ));
                }
            }
        }
        if exiting {
            prev = Some(q);
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(EXIT_WAIT_MS));
            continue;
        }
        if !exiting_found.is_empty() {
            if attempt >= ATTEMPTS {
                let p = exiting_found[0].info().tgid;
                return Err(why.set(EAGAIN, format_args!("process {p} of the tree is exiting")));
            }
            wait_exited(&exiting_found);
            prev = Some(q);
            continue;
        }
        why.stage = "look at the tree again";
        if tree.threads_unchanged()? && (!whole || tree.unchanged()?) {
            break (tree, q);
        }
        if attempt >= ATTEMPTS {
            return Err(why.set(
                EAGAIN,
                format_args!("the threads or processes of {pid} kept changing while being stopped"),
            ));
        }
        prev = Some(q);
    };
    if let Some(sig) = signal {
        for p in tree.procs.iter() {
            p.leader.signal_group(0).map_err(|e| {
                why.set(
                    e,
                    format_args!(
                        "no permission to {} {} (kill(2) rules)",
                        if sig == SIGKILL { "kill" } else { "stop" },
                        p.info.tgid
                    ),
                )
            })?;
        }
    }
    ph.mark("quiesce");
    fault::step_why(Op::Checkpoint, "precheck", why)?;
    let procs = if whole { tree.pids()? } else { KVec::new() };
    let mut seen = files::Seen::new();
    let root = tree.procs.first().map_or(0, |r| r.info.tgid);
    for p in tree.procs.iter() {
        let r = precheck(p, &procs, &mut seen, why)
            .and_then(|_| sysvipc::precheck_held(p.info.tgid, &p.threads, why));
        if let Err(e) = r {
            why.name_process(p.info.tgid, root);
            return Err(e);
        }
    }
    why.stage = "check the tree";
    if whole {
        tree.check(flags & uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX != 0, why)?;
    } else {
        unix::outside(
            &[&tree.procs[0].leader],
            flags & uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX != 0,
            why,
        )?;
        files::leased_leaks(&[&tree.procs[0].leader], why)?;
    }
    why.stage = "check the files can be reopened";
    files::reopenable(&tree.leaders()?, why)?;
    ph.mark("precheck");
    // The SysV objects, read by the caller now that the processes are held.
    why.stage = "collect SysV IPC objects";
    let sysv = match sysv_chan {
        Some(chan) => {
            let mut threads = KVec::new();
            let mut pids = KVec::new();
            for p in tree.procs.iter() {
                pids.push(p.info.tgid, GFP_KERNEL)?;
                for t in p.threads.iter() {
                    threads.push(t, GFP_KERNEL)?;
                }
            }
            for (_, z) in tree.zombies.iter() {
                pids.push(z.tgid, GFP_KERNEL)?;
            }
            sysvipc::collect(chan, &threads, &pids, why)?
        }
        None => KVVec::new(),
    };
    ph.mark("sysv");
    fault::step_why(Op::Checkpoint, "write the image", why)?;
    let session = match incr.as_deref() {
        Some(req) => Some(track::Session::start(
            req,
            &tree.procs[0].leader.mm().ok_or(ESRCH)?,
            why,
        )?),
        None => None,
    };
    let inc = match (incr.as_deref(), session.as_ref()) {
        (Some(req), Some(s)) => Some((req, s)),
        _ => None,
    };
    let spool = spool.unwrap_or_else(|| Spool::new(0, 0));
    let (bytes, account, rest) = write_image(&tree, &q, sink, &sysv, spool, &mut ph, inc, why)
        .map_err(|e| held_error(e, pid, why))?;
    if let Some(s) = session.as_ref() {
        s.finish(account, why)?;
        if let (Some(req), Some(id)) = (incr.as_deref_mut(), s.track) {
            req.args.track_id = id;
        }
        ph.mark("track");
    }
    if !q.intact() {
        return Err(why.set(
            ESRCH,
            format_args!("{pid} was killed during the checkpoint"),
        ));
    }
    if q.moved() {
        return Err(why.set(
            EAGAIN,
            format_args!("{pid} was continued (SIGCONT) during the checkpoint; try again"),
        ));
    }
    fault::step_why(Op::Checkpoint, "stop or kill", why)?;
    // Act while the threads are still parked, so that they see the signal first thing.
    // A process that is gone by now is not a failure: the image is complete, and
    // the death of one process may have ended another (a terminal's master closed
    // by a killed tmux server hangs up its pane's shell, which SIGHUP ends).
    if let Some(sig) = signal {
        for p in tree.procs.iter() {
            match p.leader.signal_group(sig) {
                Err(e) if e == ESRCH => {}
                r => r.map_err(|e| {
                    why.set(
                        e,
                        format_args!(
                            "the image is written, but {} {} failed",
                            if sig == SIGKILL {
                                "killing"
                            } else {
                                "stopping"
                            },
                            p.info.tgid
                        ),
                    )
                })?,
            }
        }
    }
    drop(q);
    ph.mark("release");
    let frozen = ph.since_start() - frozen_at.unwrap_or_default();
    ph.extra("frozen", frozen);
    rest.write()
        .map_err(|e| why.set(e, format_args!("writing the image of {pid} failed")))?;
    ph.mark("spooled");
    ph.log("checkpoint", pid);
    Ok(bytes)
}

/// Reusable buffers of one checkpoint.
pub(crate) struct Bufs {
    /// Paths (`PATH_MAX` + NUL).
    pub(crate) path: KVec<u8>,
    /// A second path buffer.
    pub(crate) path2: KVec<u8>,
}

impl Bufs {
    fn new() -> Result<Self> {
        Ok(Self {
            path: KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?,
            path2: KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?,
        })
    }
}

/// An error while writing: a thread that left its safe point means the target was killed;
/// anything else without a reason of its own is about the output.
fn held_error(e: Error, pid: i32, why: &mut Reason) -> Error {
    if !why.is_empty() {
        e
    } else if e == ESRCH {
        why.set(
            ESRCH,
            format_args!("{pid} was killed during the checkpoint"),
        )
    } else {
        why.set(e, format_args!("writing the image of {pid} failed"))
    }
}

/// Writes the image of `tree` to `sink`, but for what `spool` keeps in memory
/// (returned, to be written once the processes run again).
#[allow(clippy::too_many_arguments)]
fn write_image<'s>(
    tree: &Tree,
    q: &shim::Quiesce,
    sink: &'s mut dyn Sink,
    sysv: &[u8],
    spool: Spool,
    ph: &mut crate::timing::Phases,
    incr: Option<(&track::Request, &track::Session)>,
    why: &mut Reason,
) -> Result<(u64, image::StreamAccount, Spooled<'s>)> {
    let mut bufs = Bufs::new()?;
    let mut objs = ObjMap::new();
    objs.root = tree.procs[0].info.tgid;
    objs.procs = tree.pids()?;
    objs.pty_masters = crate::objects::tty::masters_in(&tree.leaders()?)?;
    // Every thread's CPU state first, each read while the thread is pinned (a killed
    // thread cannot go away under the reader); the root leader's tells what the CPU had.
    let mut states = KVec::new();
    for p in tree.procs.iter() {
        let mut st = KVec::with_capacity(p.threads.len(), GFP_KERNEL)?;
        for th in p.threads.iter() {
            let _held = q.hold(th)?;
            // A thread in 32-bit mode (a compat task, or a far jump to a 32-bit code
            // segment) has registers the 64-bit image cannot describe.
            if th.regs()?.0[REG_CS] != USER_CS {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "thread {} of {} runs 32-bit code: not supported",
                        th.info().pid,
                        p.info.tgid
                    ),
                ));
            }
            st.push(task::ThreadState::read(th, why)?, GFP_KERNEL)?;
        }
        states.push(st, GFP_KERNEL)?;
    }
    ph.mark("regs");
    let xstate = states[0][0].xstate();
    let ntasks = tree.procs.iter().map(|p| p.threads.len()).sum::<usize>() + tree.zombies.len();
    let mut release = [0u8; 65];
    let mut node = [0u8; 65];
    let (rl, nl) = shim::uts(&mut release, &mut node);
    let mut w = ImageWriter::new(sink)?;
    w.spool(spool)?;
    if incr.is_some() {
        // Its account is wanted as soon as it is written (see below).
        w.seal_at_once()?;
    }
    w.record(&Header {
        format_major: image::FORMAT_MAJOR,
        format_minor: image::FORMAT_MINOR,
        arch: image::ARCH_X86_64,
        flags: 0,
        page_size: image::PAGE_SIZE as u32,
        xstate_size: xstate.size() as u32,
        xfeatures: xstate.cpu_features(),
        time_ns: shim::now_ns(),
        root_pid: tree.procs[0].info.tgid,
        ntasks: ntasks as u32,
        kernel_release: &release[..rl],
        hostname: &node[..nl],
        writer: crate::VERSION.as_bytes(),
    })?;
    if let Some((req, sess)) = incr {
        if let Some(p) = sess.parent_record(req) {
            w.record(&p)?;
        }
        if let Some(id) = sess.track {
            w.record(&image::Track { id })?;
        }
    }
    crate::objects::vdso::write(&mut w, &tree.procs[0].leader.mm().ok_or(ESRCH)?, why)?;
    sysvipc::write(&mut w, sysv)?;
    // Each process: its address space, then what its threads share, then the threads.
    let mut mms = KVec::with_capacity(tree.procs.len(), GFP_KERNEL)?;
    for (p, st) in tree.procs.iter().zip(states.iter()) {
        let mmdump = mm::write_mm(
            &mut w,
            &mut objs,
            p.leader.mm().ok_or(ESRCH)?,
            &mut bufs,
            why,
        )?;
        let ids = task::ProcessIds {
            creds: creds::write_creds(&mut w, &mut objs, &p.leader)?,
            sighand: signal::write_sighand(&mut w, &mut objs, &p.leader)?,
            signal: signal::write_signal(&mut w, &mut objs, &p.leader)?,
            fs: files::write_fs(&mut w, &mut objs, &p.leader, &mut bufs)?,
            files: files::write_files(&mut w, &mut objs, &p.leader, &mut bufs, why)?,
            mm: mmdump.id,
        };
        mms.push(mmdump, GFP_KERNEL)?;
        for (th, s) in p.threads.iter().zip(st.iter()) {
            s.write(&mut w, &ids)?;
            signal::write_thread_signals(&mut w, th)?;
            if th.key() == p.leader.key() {
                creds::write_rlimits(&mut w, th)?;
                tty::write_ctty(&mut w, th)?;
            }
        }
    }
    for (_, info) in tree.zombies.iter() {
        task::write_zombie(&mut w, info)?;
    }
    ph.mark("meta");
    // Pages last: a restarter validates everything else before it changes anything.
    // Address spaces and memfd contents, in id order.
    let mut shm = KVec::new();
    let mut memfds = core::mem::take(&mut objs.memfds);
    memfds.sort_unstable_by_key(|m| m.0);
    let mut next_memfd = memfds.iter().peekable();
    // Pages processes share copy-on-write are written once.
    let mut sharing = mm::Sharing::new(mms.len())?;
    for (k, m) in mms.iter().enumerate() {
        while let Some((id, f, size)) = next_memfd.next_if(|x| x.0 < m.id) {
            shm::write_memfd_pages(&mut w, *id, f, *size)?;
        }
        // An incremental checkpoint is of one process: its address space's changes.
        let changes = match incr {
            Some((_, sess)) if k == 0 => sess.changes(m.mm())?,
            _ => None,
        };
        if changes.is_some() {
            ph.mark("scan");
        }
        mm::write_pages(&mms, k, &mut sharing, &mut w, &mut shm, changes.as_ref())?;
    }
    for (id, f, size) in next_memfd {
        shm::write_memfd_pages(&mut w, *id, f, *size)?;
    }
    let account = w.account()?;
    let (bytes, rest) = w.finish()?;
    ph.mark("pages");
    Ok((bytes, account, rest))
}
