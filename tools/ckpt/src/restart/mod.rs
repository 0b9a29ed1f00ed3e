// SPDX-License-Identifier: GPL-2.0

//! `ckpt restart`: the userspace half of restart.
//!
//! The module's `CKPT_IOC_RESTART` overlays the *calling* task with a task
//! of an image, like exec, but it wants the callers prepared: one task per
//! task of the image (processes with the image's pids, parents, groups and
//! sessions; threads with their tids), each in its process's working
//! directory, with the vDSO where the image had it, with a fresh pipe for
//! each pipe of the image and the image's SysV segments attached. This
//! module reads what that takes from the image ([`plan()`]), decides how to
//! move the vDSO ([`plan_moves`]), and runs the whole dance ([`run`]):
//!
//! ```text
//! ckpt (parent) --clone3(set_tid=[pid])--> root restarter: pipes, SysV segments,
//!      |                                   setsid/setpgid, terminal, then for each
//!      |                                   child clone3(set_tid) (a zombie exits at
//!      |                                   once; the others do the same as this one),
//!      |                                   chdir, chroot, move vDSO, threads
//!      |                                   (clone3 CLONE_THREAD + set_tid, each only
//!      |                                   calls the ioctl), ioctl --> restored program
//!      `-- waits for it, exits with its status
//! ckpt --pid-ns --clone3(CLONE_NEWPID)--> init (pid 1) --clone3(set_tid=[pid])--> restarter
//! ```
//!
//! Every restarter tells the parent through a status pipe its pid (`P`; for
//! trees and pid namespaces)
//! and whether it failed before the ioctl took over (`F`: the parent then
//! kills the others, which wait in the module); on success the module
//! closes every fd of the restarters, which the parent sees as the end of
//! the pipe.
//!
//! One concern a file:
//!
//! - `plan.rs`: what the image asks of the restarters ([`plan()`], [`Plan`]),
//!   opening the image;
//! - `vdso.rs`: reading `/proc/PID/maps` and planning and checking the
//!   vDSO's moves (`sys.rs` makes them);
//! - `spawn.rs`: the parent, the pid namespace's init and the restarters
//!   ([`run`]);
//! - `pipes.rs`, `sysv.rs`: the pipes and SysV segments the root restarter
//!   creates for the whole tree;
//! - `events.rs`: the event-loop files (eventfd, timerfd, signalfd, epoll,
//!   inotify, fanotify) the root restarter makes, and the epoll entries it adds;
//! - `pidfds.rs`: the pidfds each restarter opens to the restored tasks
//!   once they exist;
//! - `tty.rs`: sessions, process groups, the controlling terminal;
//! - `cow.rs`: the pages a restarter shares with the processes it forks
//!   (copy-on-write sharing in the image);
//! - `status.rs`: the status pipe protocol, and the restored process's wait
//!   status as `ckpt`'s exit code.

mod cow;
mod events;
mod pidfds;
mod pipes;
mod plan;
mod sockets;
mod spawn;
mod status;
mod sysv;
mod timers;
mod tty;
mod vdso;

pub use plan::IdLimit;
pub use plan::{
    open_image, plan, CttyPlan, DeletedNode, EventPlan, EventState, IdsPlan, OpenedAs, PidfdPlan,
    PipePlan, Plan, PlanError, ProcPlan, SockPlan, Special, SysvPlan,
};
pub use spawn::{run, run_hooked, Options};
pub use vdso::{
    check_moves, maps, plan_moves, plan_park, Mapping, Move, Moves, VdsoError, MAX_MOVES,
    SPECIAL_NAMES,
};
