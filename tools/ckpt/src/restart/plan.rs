// SPDX-License-Identifier: GPL-2.0

//! Image planning: what restarting an image takes, read from its records
//! before the pages ([`plan`]): its processes and threads with their pids,
//! parents, groups, sessions, terminals and directories, each process's
//! special mappings and mappings, the pipes to create and the SysV
//! segments to attach; and opening the image ([`open_image`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::errno;
use crate::image::vdso::{self, VdsoSyms};
use crate::image::{
    backing, filekind, kind, AnyRecord, EpollItem, EventfdRec, FanotifyGroup, PosixTimer,
    SignalfdRec, TaskAttrs, TimerfdRec, TASK_LEADER, TASK_ZOMBIE,
};
use crate::reader::{Item, ReadError, Reader};

/// A special mapping of the image (the vDSO or its data pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Special {
    /// Its name, as `/proc/PID/maps` shows it (`[vdso]`, `[vvar]`, ...).
    pub name: String,
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
}

/// A pipe of the image for which the restarter creates a fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipePlan {
    /// [`crate::image::PipeRec`] id.
    pub id: u32,
    /// Its capacity at checkpoint time.
    pub capacity: u32,
    /// Bytes that were buffered in it (the module puts them back).
    pub buffered: usize,
}

/// A unix socket of the image (a file, or a connection waiting in a listener's
/// accept queue) with its receive queue, which the root restarter makes again
/// (see `super::sockets`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockPlan {
    /// The file record (0: a connection not accepted yet).
    pub file: u32,
    /// Its inode at checkpoint time (0: not accepted yet).
    pub ino: u64,
    /// Its peer's (0: none, closed or not accepted yet).
    pub peer: u64,
    /// The listener whose accept queue it waits in (not accepted yet).
    pub listener: u64,
    /// `SOCK_*` type.
    pub sock_type: i32,
    /// `crate::image::unix_state`.
    pub state: u8,
    /// `RCV_SHUTDOWN | SEND_SHUTDOWN`.
    pub shutdown: u8,
    /// `crate::image::unix_flags`.
    pub flags: u32,
    /// Listen backlog.
    pub backlog: u32,
    /// `SO_SNDBUF`, `SO_RCVBUF` as `getsockopt` reports them.
    pub sndbuf: u32,
    /// `SO_RCVBUF`.
    pub rcvbuf: u32,
    /// `SO_PEEK_OFF`.
    pub peek_off: i32,
    /// `SO_RCVLOWAT`.
    pub rcvlowat: i32,
    /// `SO_RCVTIMEO`, `SO_SNDTIMEO` in microseconds (0: none).
    pub timeo_us: (i64, i64),
    /// Mode, owner and group of its socket file (bound to a path).
    pub file_owner: (u32, u32, u32),
    /// Its address (`sun_path` bytes).
    pub name: Vec<u8>,
    /// Its peer's.
    pub peer_name: Vec<u8>,
    /// The absolute path of its socket file at checkpoint time.
    pub path: Vec<u8>,
    /// Its receive queue: sender inode, sender address, bytes; in order.
    pub queue: Vec<(u64, Vec<u8>, Vec<u8>)>,
    /// The files in flight (`SCM_RIGHTS`) of each buffer of `queue`, by file id.
    pub queue_fds: Vec<Vec<u32>>,
    /// The credentials (`SCM_CREDENTIALS`: pid, uid, gid) of each buffer of
    /// `queue`, if it carried them.
    pub queue_creds: Vec<Option<(i32, u32, u32)>>,
}

/// A memfd or deleted file in flight in a socket's queue (`SCM_RIGHTS`), which
/// the restarter makes again, empty, to send (see `super::sockets`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InflightMade {
    /// The file record.
    pub id: u32,
    /// `filekind::MEMFD` or `filekind::GHOST`.
    pub kind: u8,
    /// Its path (`/memfd:NAME (deleted)`, `/DIR/NAME (deleted)`).
    pub path: Vec<u8>,
    /// Open flags.
    pub flags: u32,
    /// Mode.
    pub mode: u32,
    /// A memfd's seals.
    pub seals: u32,
}

/// A SysV shared memory segment the image's processes had attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysvPlan {
    /// Its shmid.
    pub shmid: i32,
    /// Its key (0: `IPC_PRIVATE`, or a segment marked for removal).
    pub key: i32,
    /// Its size in bytes.
    pub size: u64,
}

/// A pseudo-terminal pair of the image whose master a process had open: the
/// restarter makes it again with its number (the pty record of the master). Or a
/// slave whose master was closed (`pty.locked` is [`crate::image::PTY_HUNG_UP`]):
/// the restarter makes a pair with its number, opens the slave for `file` and
/// closes the master, which hangs the slave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtyPlan {
    /// The master's file id (the module takes the new master as the "pipe" of
    /// that id).
    pub file: u32,
    /// The record.
    pub pty: crate::image::Pty,
}

/// The user and group ids of a process (its leader's credentials), which the
/// restarter takes with the kernel's own system calls before the module restores
/// the rest (see `super::spawn::take_ids`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdsPlan {
    /// Real, effective, saved and filesystem user ids.
    pub uids: [u32; 4],
    /// Real, effective, saved and filesystem group ids.
    pub gids: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// The credentials of a `creds` record of the image (of any task, thread or
/// zombie), for [`IdLimit::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredsSeen {
    /// The ids.
    pub ids: IdsPlan,
    /// Inheritable, permitted, effective, bounding, ambient.
    pub caps: [u64; 5],
}

/// Whose processes a restart may make: `receive --as-user`, or the receiver's
/// own user when it does not run as root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdLimit {
    /// Every uid of the image must be this one.
    pub uid: u32,
    /// Every gid and supplementary group must be one of these.
    pub gids: Vec<u32>,
}

impl IdLimit {
    /// `Err` names the first credentials of `plan` outside the limit; with a
    /// uid other than 0, capabilities in the permitted, effective or ambient
    /// set are outside too.
    pub fn check(&self, plan: &Plan) -> Result<(), String> {
        for c in &plan.creds {
            let i = &c.ids;
            if let Some(u) = i.uids.iter().find(|&&u| u != self.uid) {
                return Err(format!(
                    "the image holds a process of uid {u}, not {} (--as-user)",
                    self.uid
                ));
            }
            if let Some(g) = i
                .gids
                .iter()
                .chain(&i.groups)
                .find(|g| !self.gids.contains(g))
            {
                return Err(format!(
                    "the image holds a process in group {g}, which user {} is not in \
                     (--as-user)",
                    self.uid
                ));
            }
            if self.uid != 0 && (c.caps[1] | c.caps[2] | c.caps[4]) != 0 {
                return Err(format!(
                    "the image holds a process of uid {} with capabilities ({:#x}), which \
                     the user does not have (--as-user)",
                    self.uid, c.caps[1]
                ));
            }
        }
        for (uid, gid, groups) in &plan.peer_ids {
            if *uid != self.uid {
                return Err(format!(
                    "the image holds a unix socket whose connection uid {uid} made, not {} \
                     (--as-user)",
                    self.uid
                ));
            }
            if let Some(g) = std::iter::once(gid)
                .chain(groups)
                .find(|g| !self.gids.contains(g))
            {
                return Err(format!(
                    "the image holds a unix socket whose connection was made in group {g}, \
                     which user {} is not in (--as-user)",
                    self.uid
                ));
            }
        }
        for o in &plan.opened_as {
            if o.fsuid != self.uid {
                return Err(format!(
                    "the image holds a file opened by uid {}, not {} (--as-user)",
                    o.fsuid, self.uid
                ));
            }
            if let Some(g) = std::iter::once(&o.fsgid)
                .chain(&o.groups)
                .find(|g| !self.gids.contains(g))
            {
                return Err(format!(
                    "the image holds a file opened in group {g}, which user {} is not in \
                     (--as-user)",
                    self.uid
                ));
            }
        }
        Ok(())
    }
}

/// A controlling terminal: its path, the foreground process group, whether the
/// process leads the terminal's session.
pub type CttyPlan = (Vec<u8>, i32, bool);

/// The state an event-loop file of the image is made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventState {
    /// An eventfd.
    Eventfd(EventfdRec),
    /// A timerfd.
    Timerfd(TimerfdRec),
    /// A signalfd.
    Signalfd(SignalfdRec),
    /// An epoll set (its entries are [`Plan::epoll_items`]).
    Epoll,
    /// An inotify file and its watches: watch descriptor, mask, path.
    Inotify(Vec<(i32, u32, Vec<u8>)>),
    /// A fanotify group: how `fanotify_init()` made it (`None` until its
    /// record is read), and its marks oldest first.
    Fanotify(Option<FanotifyGroup>, Vec<FanotifyMarkPlan>),
}

/// A fanotify mark to add: its type (`FAN_MARK_INODE`, `FAN_MARK_FILESYSTEM`),
/// flags (`FAN_MARK_*`), mask, ignore mask, path.
pub type FanotifyMarkPlan = (u32, u32, u32, u32, Vec<u8>);

/// An event-loop file of the image, which the root restarter makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPlan {
    /// Its [`crate::image::FileRec`] id.
    pub id: u32,
    /// Its open flags (`O_NONBLOCK`).
    pub flags: u32,
    /// What to make.
    pub state: EventState,
}

/// A pidfd of the image, which each restarter whose process holds it opens to
/// the restored task (see `super::pidfds`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PidfdPlan {
    /// Its [`crate::image::FileRec`] id.
    pub id: u32,
    /// The task it refers to (a thread with `PIDFD_THREAD`).
    pub pid: i32,
    /// `PIDFD_THREAD | PIDFD_NONBLOCK`, as `pidfd_open(2)` takes them.
    pub flags: u32,
    /// The fd tables (image ids) that hold it.
    pub tables: Vec<u32>,
}

/// A file of the image as an epoll entry's target: its id, kind, open flags
/// and pipe id.
pub type FileSeen = (u32, u8, u32, u32);

/// One process of the image, as the restarter recreates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcPlan {
    /// Its pid (tgid).
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its session.
    pub sid: i32,
    /// The signal its parent gets when it exits.
    pub exit_signal: i32,
    /// The thread ids of its other threads.
    pub threads: Vec<i32>,
    /// For a zombie, its wait status.
    pub zombie: Option<i32>,
    /// Its `comm`.
    pub comm: String,
    /// Its controlling terminal.
    pub ctty: Option<CttyPlan>,
    /// Image id of its fd table (a child sharing its parent's is created with
    /// `CLONE_FILES`).
    pub files: u32,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// The mode of the working directory if it was deleted.
    pub cwd_deleted: Option<u32>,
    /// Root directory.
    pub root: Vec<u8>,
    /// `[vdso]`, `[vvar]`, `[vvar_vclock]` mappings.
    pub specials: Vec<Special>,
    /// Every mapping `(start, end)` but `[vsyscall]`.
    pub vmas: Vec<(u64, u64)>,
    /// Image id of its address space (0 for a zombie).
    pub mm: u32,
    /// Its private anonymous mappings `(start, end, prot, vmflag bits)`, which
    /// the restarter may make and fill before it forks the processes below it
    /// (see `super::cow`).
    pub anon_vmas: Vec<(u64, u64, u32, u32)>,
    /// Its leader's attributes (images since format 1.2).
    pub attrs: Option<TaskAttrs>,
    /// Its other threads' attributes, by thread id.
    pub thread_attrs: Vec<(i32, TaskAttrs)>,
    /// Its leader's user and group ids (none for a zombie).
    pub ids: Option<IdsPlan>,
    /// Its resource limits, `(soft, hard)` for each `RLIMIT_*`, which the restarter
    /// takes with `setrlimit(2)` (see `spawn::take_rlimits`).
    pub rlimits: Option<[(u64, u64); crate::image::NRLIMITS]>,
    /// Its `ITIMER_VIRTUAL` and `ITIMER_PROF`: (time left, interval) in ns.
    pub cpu_itimers: [(u64, u64); 2],
    /// Its POSIX timers.
    pub timers: Vec<PosixTimer>,
    /// How the restart makes it in its session (see [`sessions`]).
    pub made: Made,
}

/// A deleted directory or symbolic link the image has open: its file id, path
/// (`/DIR/NAME (deleted)`), mode, owner and, for a link, target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedNode {
    pub id: u32,
    pub path: Vec<u8>,
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
    pub target: Option<Vec<u8>>,
}

/// A regular file or directory the image's process could not open again itself
/// (it opened it before it gave up the rights it opened it with): the root
/// restarter opens it with its opener's filesystem identity, if it may, and
/// passes it ([`crate::image::FileOpener`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedAs {
    pub id: u32,
    pub path: Vec<u8>,
    pub flags: u32,
    pub dir: bool,
    pub fsuid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
}

/// What restarting an image takes, read from its records before the pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Every process, the root first ([`Plan::root`]), parents before their
    /// children; never empty.
    pub procs: Vec<ProcPlan>,
    /// The SysV shared memory segments to attach.
    pub sysv: Vec<SysvPlan>,
    /// The SysV semaphore sets and message queues to give back.
    pub ipc: Vec<crate::sysv::Object>,
    /// The processes' IPC namespace, if the image says (a new one is made when
    /// they had their own).
    pub ipc_ns: Option<crate::image::IpcNs>,
    /// Every pipe file of the image: (file id, pipe id, open flags), in id
    /// order (files in flight in sockets are sent as these).
    pub pipe_files: Vec<(u32, u32, u32)>,
    /// The pipes to create: every pipe of the image but those of fifos
    /// (which the module reopens by path and refills itself).
    pub pipes: Vec<PipePlan>,
    /// The pseudo-terminal pairs to make.
    pub ptys: Vec<PtyPlan>,
    /// The unix sockets to make, in image order.
    pub sockets: Vec<SockPlan>,
    /// The deleted fifos to make (an unlinked fifo for each): pipe id, the
    /// fifo's path (`/DIR/NAME (deleted)`) and mode.
    pub deleted_fifos: Vec<(u32, Vec<u8>, u32)>,
    /// The deleted directories and symbolic links to make (each again, then
    /// opened and removed).
    pub deleted_nodes: Vec<DeletedNode>,
    /// The files to open as their openers.
    pub opened_as: Vec<OpenedAs>,
    /// The pids that the image's unix sockets name as their connection's maker
    /// (`SO_PEERCRED`) of processes outside the image: made again, and let go.
    pub peer_pids: Vec<i32>,
    /// The ids the image's unix sockets name as their connection's maker: uid,
    /// gid and groups (for [`IdLimit::check`]).
    pub peer_ids: Vec<(u32, u32, Vec<u32>)>,
    /// `uname -r` of the kernel that wrote the image.
    pub kernel_release: String,
    /// The event-loop files to make.
    pub events: Vec<EventPlan>,
    /// The entries of the image's epoll sets.
    pub epoll_items: Vec<EpollItem>,
    /// Each epoll set's first holder: (file id, pid of the first live process,
    /// in the image's order, whose fd table holds it; the process the
    /// checkpoint judged the set with). Its entries that watch a signalfd are
    /// added in that process's signal context (see `super::events`).
    pub epoll_holders: Vec<(u32, i32)>,
    /// The pidfds to open.
    pub pidfds: Vec<PidfdPlan>,
    /// Every file of the image (for the targets of epoll entries).
    pub files: Vec<FileSeen>,
    /// The regular files in flight in sockets' queues (`SCM_RIGHTS`), which the
    /// restarter opens and sends again: file id, path, open flags, offset.
    pub inflight_regs: Vec<(u32, Vec<u8>, u32, i64)>,
    /// The memfds and deleted files in flight in sockets' queues, which the
    /// restarter makes again empty and sends (the module fills them).
    pub inflight_made: Vec<InflightMade>,
    /// The identity of the vDSO the image was taken with: its symbols' summary
    /// (from its text when the image carries it), if the image says.
    pub vdso: Option<VdsoSyms>,
    /// Offset in the image of the first record after the metadata (a page
    /// record, or the end record).
    pub pages_at: u64,
    /// Every `creds` record.
    pub creds: Vec<CredsSeen>,
}

impl Plan {
    /// The root process, the one `ckpt` restarts (the others descend from it).
    pub fn root(&self) -> &ProcPlan {
        &self.procs[0]
    }
}

/// How the restart makes a process below the root, so that it starts in the
/// session it must be in: a fork starts in its parent's session, and can only
/// lead a new one or stay ([`sessions`] chooses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    /// Forked by its parent once the parent is in its session and group.
    Forked,
    /// Forked by its parent before the parent makes a session of its own
    /// (`setsid`): it starts in the session the parent was made in (the parent
    /// made its session after forking it).
    BeforeSetsid,
    /// Created for its parent by a helper with the pid of its session's leader,
    /// which is gone: the helper makes the session again (see
    /// `super::spawn::session_helper`).
    Helper(i32),
    /// Created for its parent (`CLONE_PARENT`) by this sibling, its session's
    /// leader (it was reparented to its leader's parent).
    Sibling(i32),
    /// Forked by its session's leader, this process, and reparented to its
    /// parent, a subreaper above the leader: a zombie leader forks it before it
    /// exits; a live one through a short-lived intermediate process that exits
    /// (see `super::spawn`). The parent is a subreaper from the start.
    Reparented(i32),
}

/// Decides how each process of `procs` (the root first, parents before their
/// children; an image is untrusted) is made in its session, before anything is
/// made, checking that pids are positive and unique, as are the ids of groups
/// and sessions, that a process of the image whose pid names a session leads
/// it, and that a process group is in one session. A process outside its
/// parent's session that does not lead its own comes back when
/// - its parent made its session after forking it, still in the session the
///   parent was made in ([`Made::BeforeSetsid`]; a parent that leads its session
///   and has such children is itself forked before its parent's `setsid` where
///   that gives it that session);
/// - its session's leader is gone, the session is not the root's (which a
///   restart does not make), and every such process of the session has the same
///   parent and `SIGCHLD` as its exit signal ([`Made::Helper`]);
/// - it is alive, and its session's leader is alive and its sibling, with the
///   same exit signal, sharing the parent's fd table if it does
///   ([`Made::Sibling`]);
/// - it is alive with `SIGCHLD` as its exit signal (a reparented process's), not
///   sharing its parent's fd table, its session's leader is in the tree (alive,
///   and not the parent of another such process, or a zombie), and its parent is
///   the first child subreaper above the leader ([`Made::Reparented`]).
///
/// The module refuses to checkpoint any other such tree, by the same rules.
pub fn sessions(procs: &[ProcPlan]) -> Result<Vec<Made>, PlanError> {
    let bad = |m: String| Err(PlanError::Sessions(m));
    let Some(root) = procs.first() else {
        return bad("no process".into());
    };
    let find = |pid: i32| procs.iter().position(|p| p.pid == pid);
    let mut parent = vec![0; procs.len()];
    for (i, p) in procs.iter().enumerate() {
        // A group or session id 0: the root's, outside (a process started by
        // the kernel, as init, is in session 0).
        if p.pid <= 0 || p.pgid < 0 || p.sid < 0 {
            return bad(format!(
                "process {} has pid, group or session id {}, {}, {}",
                p.pid, p.pid, p.pgid, p.sid
            ));
        }
        if procs[..i].iter().any(|q| q.pid == p.pid) {
            return bad(format!("pid {} is given twice", p.pid));
        }
        if let Some(l) = find(p.sid).map(|l| &procs[l]).filter(|l| l.sid != l.pid) {
            return bad(format!(
                "process {} is in session {}, whose leader {} is in session {}",
                p.pid, p.sid, l.pid, l.sid
            ));
        }
        if let Some(q) = procs
            .iter()
            .find(|q| p.pgid != 0 && q.pgid == p.pgid && q.sid != p.sid)
        {
            return bad(format!(
                "processes {} and {} are in process group {} but in sessions {} and {}",
                p.pid, q.pid, p.pgid, p.sid, q.sid
            ));
        }
        if i > 0 {
            match find(p.ppid).filter(|&q| q < i) {
                Some(q) => parent[i] = q,
                None => return Err(PlanError::Orphans(1)),
            }
        }
    }
    // The session each process wants to be made in: its own if it does not
    // lead it, else the one its children that want another want (the lowest:
    // such a child is forked before the process's setsid).
    let mut want: Vec<Option<i32>> = vec![None; procs.len()];
    for i in (1..procs.len()).rev() {
        let p = &procs[i];
        want[i] = if p.sid != p.pid {
            Some(p.sid)
        } else {
            (i + 1..procs.len())
                .filter(|&c| parent[c] == i)
                .filter_map(|c| want[c].filter(|&w| w != p.sid))
                .min()
        };
    }
    // The session each process is made in (`None`: the caller's, which the
    // root stays in when it does not lead its own), and how.
    let mut born: Vec<Option<i32>> = vec![None; procs.len()];
    let mut made = vec![Made::Forked; procs.len()];
    for i in 1..procs.len() {
        let (p, qi) = (&procs[i], parent[i]);
        let q = &procs[qi];
        // Its parent's session once the parent is in it.
        let after = if qi == 0 {
            (root.sid == root.pid).then_some(root.sid)
        } else {
            Some(q.sid)
        };
        // Whether the parent can fork it before its setsid, where it wants.
        let early = q.sid == q.pid && born[qi].is_some() && want[i] == born[qi];
        let (how, at) = if p.sid == p.pid || p.sid == q.sid {
            if early && p.sid == p.pid {
                (Made::BeforeSetsid, born[qi])
            } else {
                (Made::Forked, after)
            }
        } else if early {
            (Made::BeforeSetsid, born[qi])
        } else if let Some(li) = find(p.sid) {
            let l = &procs[li];
            let shares = |c: &ProcPlan| c.files == q.files && c.files != 0;
            if p.zombie.is_none()
                && l.zombie.is_none()
                && l.ppid == p.ppid
                && l.exit_signal == p.exit_signal
                && (!shares(p) || shares(l))
            {
                (Made::Sibling(l.pid), Some(p.sid))
            } else if p.zombie.is_none()
                && p.exit_signal == libc::SIGCHLD
                && !shares(p)
                && reaper_above(procs, &parent, li) == Some(qi)
            {
                (Made::Reparented(l.pid), Some(p.sid))
            } else {
                return bad(format!(
                    "process {} is in session {}, its parent {} in session {}: its \
                     session's leader is in the image but neither its ancestor nor a live \
                     sibling, and its parent is not the first subreaper above that leader",
                    p.pid, p.sid, q.pid, q.sid
                ));
            }
        } else if p.sid == root.sid || p.sid == 0 {
            return bad(format!(
                "process {} is in session {}, its parent {} in session {}: it is the \
                 root's session, which a restart does not make",
                p.pid, p.sid, q.pid, q.sid
            ));
        } else {
            (Made::Helper(p.sid), Some(p.sid))
        };
        made[i] = how;
        born[i] = at;
    }
    // A live leader that makes reparented processes is not a subreaper from the
    // start itself (the parent of other reparented processes): they would be its.
    for (i, p) in procs.iter().enumerate() {
        let Made::Reparented(l) = made[i] else {
            continue;
        };
        let live = procs.iter().any(|x| x.pid == l && x.zombie.is_none());
        let reaper =
            (0..procs.len()).any(|k| procs[k].ppid == l && matches!(made[k], Made::Reparented(_)));
        if live && reaper {
            return bad(format!(
                "process {} is to be reparented from {l}, which is a subreaper of other \
                 such processes from the start",
                p.pid
            ));
        }
    }
    // One helper makes a gone leader's session: for one parent, with SIGCHLD.
    for (i, p) in procs.iter().enumerate() {
        let Made::Helper(sid) = made[i] else {
            continue;
        };
        if p.exit_signal != libc::SIGCHLD {
            return bad(format!(
                "process {} of session {sid}, whose leader is gone, has exit signal {}, \
                 not SIGCHLD",
                p.pid, p.exit_signal
            ));
        }
        if let Some(k) = (1..procs.len()).find(|&k| made[k] == made[i] && procs[k].ppid != p.ppid) {
            return bad(format!(
                "processes {} and {} of session {sid}, whose leader is gone, have another \
                 parent each ({} and {})",
                p.pid, procs[k].pid, p.ppid, procs[k].ppid
            ));
        }
    }
    Ok(made)
}

/// The first child subreaper above process `l` of `procs` (by index; `parent`:
/// each one's parent's): where a child of `l` goes when `l` exits, or a child of
/// a child of `l` when that child exits before `l` is a subreaper (`l` sets it
/// last). `None` past the root, or if an attribute is missing.
fn reaper_above(procs: &[ProcPlan], parent: &[usize], l: usize) -> Option<usize> {
    let mut a = l;
    for _ in 0..procs.len() {
        if a == 0 {
            return None;
        }
        a = parent[a];
        if procs[a].attrs?.subreaper != 0 {
            return Some(a);
        }
    }
    None
}

/// Whether process `idx` of `procs` is a child subreaper from the start of its
/// restart (before it forks anything): it is the parent of a reparented process
/// (see [`Made::Reparented`]).
pub fn early_subreaper(procs: &[ProcPlan], idx: usize) -> bool {
    let me = &procs[idx];
    procs
        .iter()
        .any(|c| c.ppid == me.pid && matches!(c.made, Made::Reparented(_)))
}

/// Why an image cannot be restarted (by this tool, before the module is
/// asked).
#[derive(Debug)]
pub enum PlanError {
    /// The image is invalid or unreadable.
    Read(ReadError),
    /// Processes whose parent is not in the image.
    Orphans(usize),
    /// A record it needs is missing.
    Missing(&'static str),
    /// The image's vDSO text is not a vDSO.
    BadVdso(&'static str),
    /// Its sessions cannot be made again (see [`sessions`]).
    Sessions(String),
    /// Something the restart cannot make again as it was.
    Unsupported(String),
}

impl From<ReadError> for PlanError {
    fn from(e: ReadError) -> Self {
        Self::Read(e)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => e.fmt(f),
            Self::Orphans(n) => write!(
                f,
                "{n} processes of the image have no parent in it (a broken tree)"
            ),
            Self::Missing(what) => write!(f, "the image has no {what} record"),
            Self::BadVdso(e) => write!(f, "the image's vDSO text cannot be read: {e}"),
            Self::Sessions(e) => write!(f, "the image's sessions cannot be made again: {e}"),
            Self::Unsupported(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PlanError {}

/// A task record, as [`plan`] keeps it.
struct TaskSeen {
    pid: i32,
    tgid: i32,
    ppid: i32,
    pgid: i32,
    sid: i32,
    flags: u32,
    exit_signal: i32,
    exit_code: i32,
    comm: String,
    fs: u32,
    mm: u32,
    files: u32,
    creds: u32,
    signal: u32,
    attrs: Option<TaskAttrs>,
}

/// An mm's mappings, as [`plan`] keeps them: its id, special mappings, all,
/// the private anonymous ones.
type MmSeen = (
    u32,
    Vec<Special>,
    Vec<(u64, u64)>,
    Vec<(u64, u64, u32, u32)>,
);

/// Reads the records of an image up to its first page record and extracts
/// what restarting it takes. The records read are verified as `ckpt show`
/// verifies them; the pages and the rest are left to the module.
pub fn plan<R: Read>(input: R) -> Result<Plan, PlanError> {
    let mut r = Reader::new(input)?;
    let mut root_pid = 0;
    let mut tasks = Vec::new();
    let mut fs = Vec::new();
    // Mappings by mm id: (specials, all).
    let mut mms: Vec<MmSeen> = Vec::new();
    let mut pipes = Vec::new();
    let mut fifo_pipes = Vec::new();
    let mut sysv = Vec::new();
    let mut ipc: Vec<crate::sysv::Object> = Vec::new();
    let mut pipe_files = Vec::new();
    let mut ipc_ns = None;
    let mut ctty: Vec<(i32, CttyPlan)> = Vec::new();
    let mut kernel_release = String::new();
    let mut vdso_id = None;
    let mut vdso_text = None;
    let mut ptys: Vec<PtyPlan> = Vec::new();
    // The pairs with bytes waiting at an end, and the pair of the pty record read last.
    let mut pty_inputs: Vec<u32> = Vec::new();
    let mut last_pty = None;
    let mut sockets: Vec<SockPlan> = Vec::new();
    let mut deleted_fifos: Vec<(u32, Vec<u8>, u32)> = Vec::new();
    let mut deleted_nodes: Vec<DeletedNode> = Vec::new();
    let mut opened_as: Vec<OpenedAs> = Vec::new();
    let mut peer_pids: Vec<i32> = Vec::new();
    let mut peer_ids: Vec<(u32, u32, Vec<u32>)> = Vec::new();
    // Regular files and directories by id (path, flags, directory), for openers.
    let mut by_path: std::collections::HashMap<u32, (Vec<u8>, u32, bool)> =
        std::collections::HashMap::new();
    let mut cwd_deleted: Vec<(u32, u32)> = Vec::new();
    let mut creds: Vec<(u32, IdsPlan)> = Vec::new();
    let mut all_creds: Vec<CredsSeen> = Vec::new();
    let mut rlimits: Vec<(i32, [(u64, u64); crate::image::NRLIMITS])> = Vec::new();
    let mut cpu_itimers: Vec<(u32, [(u64, u64); 2])> = Vec::new();
    let mut ptimers: Vec<PosixTimer> = Vec::new();
    let mut events: Vec<EventPlan> = Vec::new();
    let mut epoll_items = Vec::new();
    let mut pidfds: Vec<PidfdPlan> = Vec::new();
    // (fd table, file) of every fd, and the table the fds being read are in.
    let mut fd_files: Vec<(u32, u32)> = Vec::new();
    let mut in_table = 0;
    let mut files = Vec::new();
    // Regular files by id (path, flags, offset), for those in flight.
    let mut regs: std::collections::HashMap<u32, (Vec<u8>, u32, i64)> =
        std::collections::HashMap::new();
    let mut inflight_regs = Vec::new();
    // Memfds and deleted files (their own contents) by id, for those in flight.
    let mut made_kinds: std::collections::HashMap<u32, InflightMade> =
        std::collections::HashMap::new();
    let mut inflight_made: Vec<InflightMade> = Vec::new();
    // The socket the last unix-skb record belongs to.
    let mut skb_at: Option<usize> = None;
    let mut pages_at = 0;
    loop {
        // The pages (or the end) follow the metadata: stop before reading them.
        if let Some((at, h)) = r.peek_header()? {
            if matches!(h.kind, kind::PAGES | kind::PAGE_REFS | kind::END) {
                pages_at = at;
                break;
            }
        }
        let Some(e) = r.next_record()? else { break };
        let Item::Record(rec) = e.item else { continue };
        if let AnyRecord::File(f) = &rec {
            files.push((f.id, f.kind, f.flags, f.pipe));
            if f.kind == filekind::REG {
                regs.insert(f.id, (f.path.to_vec(), f.flags, f.pos));
            }
            if f.kind == filekind::REG || f.kind == filekind::DIR {
                by_path.insert(f.id, (f.path.to_vec(), f.flags, f.kind == filekind::DIR));
            }
            if f.kind == filekind::MEMFD || (f.kind == filekind::GHOST && f.rdev == 0) {
                made_kinds.insert(
                    f.id,
                    InflightMade {
                        id: f.id,
                        kind: f.kind,
                        path: f.path.to_vec(),
                        flags: f.flags,
                        mode: f.mode,
                        seals: if f.kind == filekind::MEMFD { f.rdev } else { 0 },
                    },
                );
            }
        }
        match rec {
            AnyRecord::File(f)
                if (f.kind == filekind::DIR || f.kind == filekind::SYMLINK)
                    && f.path.ends_with(b" (deleted)") =>
            {
                deleted_nodes.push(DeletedNode {
                    id: f.id,
                    path: f.path.to_vec(),
                    mode: f.mode,
                    owner: None,
                    target: None,
                })
            }
            AnyRecord::FileOwner(o) => {
                if let Some(n) = deleted_nodes.iter_mut().find(|n| n.id == o.file) {
                    n.owner = Some((o.uid, o.gid));
                }
            }
            AnyRecord::FileOpener(o) => {
                if let Some((path, flags, dir)) = by_path.get(&o.file) {
                    opened_as.push(OpenedAs {
                        id: o.file,
                        path: path.clone(),
                        flags: *flags,
                        dir: *dir,
                        fsuid: o.fsuid,
                        fsgid: o.fsgid,
                        groups: (0..o.groups.len() / 4).map(|i| o.group(i)).collect(),
                    });
                }
            }
            AnyRecord::LinkTarget(l) => {
                if let Some(n) = deleted_nodes.iter_mut().find(|n| n.id == l.file) {
                    n.target = Some(l.target.to_vec());
                }
            }
            AnyRecord::File(f) if filekind::is_event(f.kind) => events.push(EventPlan {
                id: f.id,
                flags: f.flags,
                state: match f.kind {
                    filekind::EPOLL => EventState::Epoll,
                    filekind::INOTIFY => EventState::Inotify(Vec::new()),
                    filekind::FANOTIFY => EventState::Fanotify(None, Vec::new()),
                    // Filled by the record that follows.
                    _ => EventState::Epoll,
                },
            }),
            AnyRecord::Eventfd(x) => set_state(&mut events, x.file, EventState::Eventfd(x)),
            AnyRecord::Timerfd(x) => set_state(&mut events, x.file, EventState::Timerfd(x)),
            AnyRecord::Signalfd(x) => set_state(&mut events, x.file, EventState::Signalfd(x)),
            AnyRecord::InotifyWatch(w) => {
                if let Some(EventPlan {
                    state: EventState::Inotify(ws),
                    ..
                }) = events.iter_mut().find(|e| e.id == w.file)
                {
                    ws.push((w.wd, w.mask, w.path.to_vec()));
                }
            }
            AnyRecord::FanotifyGroup(g) => {
                if let Some(EventPlan {
                    state: EventState::Fanotify(have, _),
                    ..
                }) = events.iter_mut().find(|e| e.id == g.file)
                {
                    *have = Some(g);
                }
            }
            AnyRecord::FanotifyMark(m) => {
                if let Some(EventPlan {
                    state: EventState::Fanotify(_, ms),
                    ..
                }) = events.iter_mut().find(|e| e.id == m.file)
                {
                    ms.push((m.mark_type, m.flags, m.mask, m.ignore_mask, m.path.to_vec()));
                }
            }
            AnyRecord::EpollItem(i) => epoll_items.push(i),
            AnyRecord::Pidfd(p) => pidfds.push(PidfdPlan {
                id: p.file,
                pid: p.pid,
                flags: p.flags,
                tables: Vec::new(),
            }),
            AnyRecord::Files(t) => in_table = t.id,
            AnyRecord::Fd(d) => fd_files.push((in_table, d.file)),
            AnyRecord::Header(h) => {
                root_pid = h.root_pid;
                kernel_release = String::from_utf8_lossy(h.kernel_release).into_owned();
            }
            AnyRecord::Vdso(v) => {
                vdso_id = Some(VdsoSyms {
                    nsyms: v.nsyms,
                    digest: v.digest,
                })
            }
            AnyRecord::VdsoText(t) => {
                vdso_text =
                    Some(vdso::symbols(t.data).map_err(|e| PlanError::BadVdso(e.describe()))?)
            }
            AnyRecord::Task(t) => tasks.push(TaskSeen {
                pid: t.pid,
                tgid: t.tgid,
                ppid: t.ppid,
                pgid: t.pgid,
                sid: t.sid,
                flags: t.flags,
                exit_signal: t.exit_signal,
                exit_code: t.exit_code,
                comm: String::from_utf8_lossy(t.comm).into_owned(),
                fs: t.fs,
                mm: t.mm,
                files: t.files,
                creds: t.creds,
                signal: t.signal,
                attrs: None,
            }),
            AnyRecord::TaskAttrs(a) => {
                if let Some(t) = tasks.last_mut() {
                    t.attrs = Some(a);
                }
            }
            AnyRecord::Creds(c) => {
                let ids = IdsPlan {
                    uids: c.uids,
                    gids: c.gids,
                    groups: (0..c.ngroups()).map(|i| c.group(i)).collect(),
                };
                all_creds.push(CredsSeen {
                    ids: ids.clone(),
                    caps: c.caps,
                });
                creds.push((c.id, ids));
            }
            AnyRecord::Signal(s) => cpu_itimers.push((
                s.id,
                [1, 2].map(|i| (s.itimers[i].value_ns, s.itimers[i].interval_ns)),
            )),
            AnyRecord::PosixTimer(t) => ptimers.push(t),
            AnyRecord::Fs(f) => fs.push((f.id, f.cwd.to_vec(), f.root.to_vec())),
            AnyRecord::CwdDeleted(c) => cwd_deleted.push((c.fs, c.mode)),
            AnyRecord::Pty(t) => {
                last_pty = Some(t.index);
                if t.master == 1 || t.locked == crate::image::PTY_HUNG_UP {
                    ptys.push(PtyPlan {
                        file: t.file,
                        pty: t,
                    });
                }
            }
            // Right after its file's pty record (the order checker saw to it); the
            // module gives the bytes back when it takes the pair's master.
            AnyRecord::PtyInput(_) => {
                if let Some(index) = last_pty {
                    pty_inputs.push(index);
                }
            }
            AnyRecord::UnixPeer(c) => {
                if c.pid > 0 {
                    peer_pids.push(c.pid);
                }
                peer_ids.push((c.uid, c.gid, (0..c.ngroups()).map(|i| c.group(i)).collect()));
            }
            AnyRecord::UnixSock(u) => sockets.push(SockPlan {
                file: u.file,
                ino: u.ino,
                peer: u.peer,
                listener: u.listener,
                sock_type: i32::from(u.sock_type),
                state: u.state,
                shutdown: u.shutdown,
                flags: u.flags,
                backlog: u.backlog,
                sndbuf: u.sndbuf,
                rcvbuf: u.rcvbuf,
                peek_off: u.peek_off,
                rcvlowat: u.rcvlowat,
                timeo_us: (u.rcvtimeo_us, u.sndtimeo_us),
                file_owner: (u.file_mode, u.file_uid, u.file_gid),
                name: u.name.to_vec(),
                peer_name: u.peer_name.to_vec(),
                path: u.path.to_vec(),
                queue: Vec::new(),
                queue_fds: Vec::new(),
                queue_creds: Vec::new(),
            }),
            AnyRecord::UnixSkb(q) => {
                // Its owner's (a socket in flight has its queue after the
                // carrying socket's records); a connection not accepted yet
                // (owner 0) is the last socket record.
                skb_at = match q.owner {
                    0 => sockets.len().checked_sub(1),
                    o => sockets.iter().rposition(|s| s.file != 0 && s.ino == o),
                };
                if let Some(s) = skb_at.and_then(|i| sockets.get_mut(i)) {
                    s.queue
                        .push((q.sender, q.sender_name.to_vec(), q.data.to_vec()));
                    s.queue_fds.push(Vec::new());
                    s.queue_creds.push(None);
                }
            }
            AnyRecord::UnixCreds(c) => {
                let s = skb_at.and_then(|i| sockets.get_mut(i));
                if let Some(x) = s.and_then(|s| s.queue_creds.last_mut()) {
                    *x = Some((c.pid, c.uid, c.gid));
                }
            }
            AnyRecord::UnixFds(u) => {
                let s = skb_at.and_then(|i| sockets.get_mut(i));
                if let Some(f) = s.and_then(|s| s.queue_fds.last_mut()) {
                    f.extend((0..u.count()).map(|i| u.file(i)));
                }
                for id in (0..u.count()).map(|i| u.file(i)) {
                    if let Some((path, flags, pos)) = regs.get(&id) {
                        if !inflight_regs.iter().any(|r: &(u32, _, _, _)| r.0 == id) {
                            inflight_regs.push((id, path.clone(), *flags, *pos));
                        }
                    }
                    if let Some(m) = made_kinds.get(&id) {
                        if !inflight_made.iter().any(|r| r.id == id) {
                            inflight_made.push(m.clone());
                        }
                    }
                }
            }
            AnyRecord::Rlimits(l) => {
                if let Some(t) = tasks.last() {
                    rlimits.push((t.pid, l.lim));
                }
            }
            AnyRecord::Ctty(c) => {
                if let Some(t) = tasks.last() {
                    ctty.push((t.pid, (c.path.to_vec(), c.fg_pgid, c.leader != 0)));
                }
            }
            AnyRecord::Mm(m) => mms.push((m.id, Vec::new(), Vec::new(), Vec::new())),
            AnyRecord::Vma(v) => {
                let Some((_, specials, vmas, anon)) = mms.last_mut() else {
                    continue;
                };
                match v.backing {
                    backing::ANON | backing::HEAP | backing::STACK => {
                        anon.push((v.start, v.end, v.prot, v.flags));
                    }
                    backing::VSYSCALL => continue,
                    backing::VDSO | backing::VVAR => {
                        let name = if v.name.is_empty() {
                            backing::name(v.backing).to_string()
                        } else {
                            String::from_utf8_lossy(v.name).into_owned()
                        };
                        specials.push(Special {
                            name,
                            start: v.start,
                            end: v.end,
                        });
                    }
                    _ => {}
                }
                vmas.push((v.start, v.end));
            }
            AnyRecord::Pipe(p) => pipes.push(PipePlan {
                id: p.id,
                capacity: p.capacity,
                buffered: p.data.len(),
            }),
            AnyRecord::File(f) if f.kind == filekind::FIFO => {
                fifo_pipes.push(f.pipe);
                if f.path.ends_with(b" (deleted)") && !deleted_fifos.iter().any(|d| d.0 == f.pipe) {
                    deleted_fifos.push((f.pipe, f.path.to_vec(), f.mode));
                }
            }
            AnyRecord::IpcNs(n) => ipc_ns = Some(n),
            AnyRecord::SemSet(s) => ipc.push(crate::sysv::Object::Sem(
                s.perm,
                (0..s.nsems()).map(|i| s.value(i)).collect(),
            )),
            AnyRecord::MsgQueue(q) => {
                ipc.push(crate::sysv::Object::Msg(q.perm, q.qbytes, Vec::new()))
            }
            AnyRecord::SysvMsg(m) => {
                if let Some(crate::sysv::Object::Msg(_, _, msgs)) = ipc.last_mut() {
                    msgs.push((m.mtype, m.data.to_vec()));
                }
            }
            AnyRecord::File(f) if f.kind == filekind::PIPE => {
                pipe_files.push((f.id, f.pipe, f.flags))
            }
            AnyRecord::File(f) if f.kind == filekind::SYSVSHM => {
                // "/SYSV%08x (deleted)"
                let key = std::str::from_utf8(&f.path[5..13.min(f.path.len())])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .unwrap_or(0);
                sysv.push(SysvPlan {
                    shmid: f.rdev as i32,
                    key: key as i32,
                    size: f.size,
                });
            }
            AnyRecord::Pages(_) | AnyRecord::PageRefs(_) | AnyRecord::End(_) => {
                pages_at = e.offset;
                break;
            }
            _ => {}
        }
    }
    let mut procs: Vec<ProcPlan> = Vec::new();
    for t in &tasks {
        if t.flags & TASK_LEADER == 0 {
            continue;
        }
        let zombie = t.flags & TASK_ZOMBIE != 0;
        let (fs_id, mm) = (t.fs, t.mm);
        let (cwd, root) = if zombie {
            (Vec::new(), Vec::new())
        } else {
            let (_, cwd, root) = fs
                .iter()
                .find(|(id, _, _)| *id == fs_id)
                .ok_or(PlanError::Missing("fs"))?;
            (cwd.clone(), root.clone())
        };
        let (specials, vmas, anon_vmas) = match mms.iter().find(|m| m.0 == mm) {
            Some((_, s, v, a)) => (s.clone(), v.clone(), a.clone()),
            // The module refuses a live task without one.
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        procs.push(ProcPlan {
            pid: t.pid,
            ppid: t.ppid,
            pgid: t.pgid,
            sid: t.sid,
            exit_signal: t.exit_signal,
            threads: tasks
                .iter()
                .filter(|u| u.tgid == t.tgid && u.pid != t.pid && u.flags & TASK_ZOMBIE == 0)
                .map(|u| u.pid)
                .collect(),
            zombie: zombie.then_some(t.exit_code),
            comm: t.comm.clone(),
            ctty: ctty.iter().find(|c| c.0 == t.pid).map(|c| c.1.clone()),
            files: t.files,
            cwd,
            cwd_deleted: cwd_deleted
                .iter()
                .find(|c| c.0 == t.fs && !zombie)
                .map(|c| c.1),
            root,
            specials,
            vmas,
            mm: if zombie { 0 } else { mm },
            anon_vmas,
            attrs: t.attrs,
            thread_attrs: tasks
                .iter()
                .filter(|u| u.tgid == t.tgid && u.pid != t.pid && u.flags & TASK_ZOMBIE == 0)
                .filter_map(|u| Some((u.pid, u.attrs?)))
                .collect(),
            rlimits: rlimits
                .iter()
                .find(|n| n.0 == t.pid && !zombie)
                .map(|n| n.1),
            cpu_itimers: cpu_itimers
                .iter()
                .find(|c| c.0 == t.signal && !zombie)
                .map_or([(0, 0); 2], |c| c.1),
            made: Made::Forked,
            timers: if zombie {
                Vec::new()
            } else {
                ptimers
                    .iter()
                    .filter(|p| p.signal == t.signal)
                    .copied()
                    .collect()
            },
            ids: if zombie {
                None
            } else {
                creds
                    .iter()
                    .find(|(id, _)| *id == t.creds)
                    .map(|(_, c)| c.clone())
            },
        });
    }
    // The first holder of each epoll set, in the image's order (before the
    // processes are reordered below).
    let epoll_holders: Vec<(u32, i32)> = events
        .iter()
        .filter(|e| e.state == EventState::Epoll)
        .filter_map(|e| {
            fd_files
                .iter()
                .filter(|(_, f)| *f == e.id)
                .find_map(|(t, _)| procs.iter().find(|p| p.files == *t && p.zombie.is_none()))
                .map(|p| (e.id, p.pid))
        })
        .collect();
    // An epoll set watching a signalfd whose entries no process of the image
    // would add in its own signal context (a set held only in flight): refused
    // rather than restored with entries that never wake.
    if let Some(i) = epoll_items.iter().find(|i| {
        files
            .iter()
            .any(|f: &FileSeen| f.0 == i.target && f.1 == filekind::SIGNALFD)
            && !epoll_holders.iter().any(|h| h.0 == i.file)
    }) {
        return Err(PlanError::Unsupported(format!(
            "epoll set {} watches a signalfd but no fd of a live process of the image holds \
             it (only in flight): its entries could not be added in the holder's signal context",
            i.file
        )));
    }
    // The root first, then parents before their children.
    let mut ordered: Vec<ProcPlan> = Vec::with_capacity(procs.len());
    let root = procs
        .iter()
        .position(|p| p.pid == root_pid && p.zombie.is_none())
        .ok_or(PlanError::Missing("root task"))?;
    ordered.push(procs.remove(root));
    while !procs.is_empty() {
        let Some(i) = procs
            .iter()
            .position(|p| ordered.iter().any(|q| q.pid == p.ppid))
        else {
            return Err(PlanError::Orphans(procs.len()));
        };
        ordered.push(procs.remove(i));
    }
    let made = sessions(&ordered)?;
    peer_pids.sort_unstable();
    peer_pids.dedup();
    peer_pids.retain(|p| !ordered.iter().any(|q| q.pid == *p));
    for (p, m) in ordered.iter_mut().zip(made) {
        p.made = m;
    }
    pipes.retain(|p| !fifo_pipes.contains(&p.id));
    for index in pty_inputs {
        if !ptys
            .iter()
            .any(|t| t.pty.index == index && t.pty.master == 1)
        {
            return Err(PlanError::Missing(
                "the master of a pseudo-terminal with unread input at its slave",
            ));
        }
    }
    for p in &mut pidfds {
        p.tables = fd_files
            .iter()
            .filter(|(_, f)| *f == p.id)
            .map(|(t, _)| *t)
            .collect();
        p.tables.dedup();
    }
    Ok(Plan {
        procs: ordered,
        sysv,
        ipc,
        ipc_ns,
        pipe_files,
        pipes,
        ptys,
        sockets,
        deleted_fifos,
        deleted_nodes,
        opened_as,
        peer_pids,
        peer_ids,
        kernel_release,
        events,
        epoll_items,
        epoll_holders,
        pidfds,
        files,
        inflight_regs,
        inflight_made,
        creds: all_creds,
        vdso: vdso_text.or(vdso_id),
        pages_at,
    })
}

/// Gives event file `id` the state its record says.
fn set_state(events: &mut [EventPlan], id: u32, state: EventState) {
    if let Some(e) = events.iter_mut().find(|e| e.id == id) {
        e.state = state;
    }
}

/// Opens an image for restart: a regular file (the module reads it at
/// offsets of its own), never standard input, a pipe or a device.
pub fn open_image(path: &Path) -> Result<File, String> {
    open_image_with(path, false)
}

/// [`open_image`]; `confined` (a received image): the parents of an incremental
/// image only in its own directory (`chain::resolve_with`).
pub fn open_image_with(path: &Path, confined: bool) -> Result<File, String> {
    const SEEKABLE: &str = "restart needs a seekable image file";
    if path == Path::new("-") {
        return Err(format!(
            "{SEEKABLE}, not standard input; save the image to a file first"
        ));
    }
    let p = path.display();
    // O_NONBLOCK: opening a fifo must not wait for a writer.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{p}: cannot open: {}", errno::describe(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{p}: {}", errno::describe(&e)))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else if std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) {
            "a pipe"
        } else {
            "not a regular file"
        };
        return Err(format!("{p}: {SEEKABLE} (this is {what})"));
    }
    // A compressed image: decompressed; an incremental image: with its parents'
    // pages, as one image.
    let file = crate::compress::plain(file, path)?;
    crate::chain::resolve_with(file, path, confined)
}

#[cfg(test)]
mod tests_support {
    use super::*;

    /// A live process with these ids (SIGCHLD, its own fd table).
    pub fn proc(pid: i32, ppid: i32, pgid: i32, sid: i32) -> ProcPlan {
        ProcPlan {
            pid,
            ppid,
            pgid,
            sid,
            exit_signal: libc::SIGCHLD,
            threads: Vec::new(),
            zombie: None,
            comm: String::new(),
            ctty: None,
            files: pid as u32,
            cwd: Vec::new(),
            cwd_deleted: None,
            root: Vec::new(),
            specials: Vec::new(),
            vmas: Vec::new(),
            mm: pid as u32,
            anon_vmas: Vec::new(),
            attrs: None,
            thread_attrs: Vec::new(),
            ids: None,
            rlimits: None,
            cpu_itimers: [(0, 0); 2],
            timers: Vec::new(),
            made: Made::Forked,
        }
    }

    pub fn refused(procs: &[ProcPlan], word: &str) {
        match sessions(procs) {
            Err(PlanError::Sessions(e)) => assert!(e.contains(word), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    /// Task attributes with this subreaper flag.
    pub fn attrs(subreaper: u32) -> TaskAttrs {
        TaskAttrs {
            subreaper,
            ..Default::default()
        }
    }

    /// `p` with attributes (not a subreaper).
    pub fn with_attrs(mut p: ProcPlan) -> ProcPlan {
        p.attrs = Some(attrs(0));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn orphans_of_a_gone_leader_are_made_by_a_helper() {
        // R (subreaper) had L, which made session 5 and forked 6, 7 (its own
        // group) and the zombie 8; L is gone, 6 forked 9.
        let mut z = proc(8, 1, 5, 5);
        z.zombie = Some(7 << 8);
        let procs = [
            proc(1, 0, 1, 1),
            proc(6, 1, 5, 5),
            proc(7, 1, 7, 5),
            z,
            proc(9, 6, 5, 5),
        ];
        let made = sessions(&procs).unwrap();
        assert_eq!(
            made,
            [
                Made::Forked,
                Made::Helper(5),
                Made::Helper(5),
                Made::Helper(5),
                Made::Forked
            ]
        );
    }

    #[test]
    fn orphans_of_a_gone_leader_with_two_parents_are_refused() {
        let procs = [
            proc(1, 0, 1, 1),
            proc(2, 1, 1, 1),
            proc(6, 1, 5, 5),
            proc(7, 2, 5, 5),
        ];
        refused(&procs, "another parent each");
        let mut other = [proc(1, 0, 1, 1), proc(6, 1, 5, 5)];
        other[1].exit_signal = libc::SIGUSR1;
        refused(&other, "not SIGCHLD");
    }

    #[test]
    fn children_forked_before_their_parents_setsid() {
        // session00's DOUBLE_CHANGESID: D (session 2) forked 10, which forked
        // 11, which forked 12; then 11 and 10 made sessions of their own.
        let procs = [
            proc(2, 0, 2, 2),
            proc(3, 2, 3, 3),
            proc(10, 3, 10, 10),
            proc(11, 10, 11, 11),
            proc(12, 11, 3, 3),
        ];
        let made = sessions(&procs).unwrap();
        assert_eq!(
            made,
            [
                Made::Forked,
                Made::Forked,
                Made::Forked,
                Made::BeforeSetsid,
                Made::BeforeSetsid
            ]
        );
    }

    #[test]
    fn an_orphan_whose_leader_is_its_sibling() {
        let procs = [proc(1, 0, 1, 1), proc(2, 1, 2, 2), proc(4, 1, 2, 2)];
        let made = sessions(&procs).unwrap();
        assert_eq!(made, [Made::Forked, Made::Forked, Made::Sibling(2)]);
        // Not a sibling: its leader's parent is another.
        let procs = [
            proc(1, 0, 1, 1),
            proc(3, 1, 1, 1),
            proc(2, 3, 2, 2),
            proc(4, 1, 2, 2),
        ];
        refused(&procs, "neither its ancestor nor a live sibling");
        // A zombie leader makes nothing.
        let mut l = proc(2, 1, 2, 2);
        l.zombie = Some(0);
        refused(&[proc(1, 0, 1, 1), l, proc(4, 1, 2, 2)], "live sibling");
    }

    #[test]
    fn the_roots_session_is_not_made() {
        // The root (in session 9, outside) forked M, which forked O, then M
        // made a session: a restart makes the root in the caller's session.
        let procs = [proc(1, 0, 1, 9), proc(2, 1, 2, 2), proc(3, 2, 1, 9)];
        refused(&procs, "root's session");
    }

    #[test]
    fn malformed_ids_are_refused() {
        // Session 0 (the kernel's, init's) is the root's, outside.
        assert!(sessions(&[proc(1, 0, 5, 0), proc(2, 1, 5, 0)]).is_ok());
        refused(&[proc(1, 0, 1, 1), proc(1, 1, 1, 1)], "given twice");
        refused(&[proc(1, 0, 1, 1), proc(2, 1, 2, -1)], "session id");
        // Session 2 names process 2, which is in session 1.
        refused(
            &[proc(1, 0, 1, 1), proc(2, 1, 1, 1), proc(3, 2, 3, 2)],
            "whose leader",
        );
        // Group 1 in two sessions.
        refused(&[proc(1, 0, 1, 1), proc(2, 1, 1, 2)], "process group 1");
    }
}

#[cfg(test)]
mod reparented {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn orphans_of_a_leader_below_a_subreaper_are_reparented_again() {
        // child_subreaper_and_reparent: R (a subreaper) forked D, which forked
        // SR, which made session 3 (and is a subreaper now) and forked H, which
        // forked O and exited: O went to R. zombie_leader: D's zombie 5 made
        // session 5 and forked 6, which went to R.
        let mut r = proc(1, 0, 1, 1);
        r.attrs = Some(attrs(1));
        let mut sr = proc(3, 2, 3, 3);
        sr.attrs = Some(attrs(1));
        let mut z = proc(5, 2, 5, 5);
        z.zombie = Some(0);
        let procs = [
            r.clone(),
            with_attrs(proc(2, 1, 2, 2)),
            sr,
            with_attrs(proc(4, 1, 3, 3)),
            z,
            with_attrs(proc(6, 1, 5, 5)),
        ];
        let made = sessions(&procs).unwrap();
        assert_eq!(made[3], Made::Reparented(3));
        assert_eq!(made[5], Made::Reparented(5));
        // A subreaper between the leader and the parent: refused.
        let mut procs = procs;
        procs[1].attrs = Some(attrs(1));
        refused(&procs, "not the first subreaper above");
    }
}
