// SPDX-License-Identifier: GPL-2.0

//! A restart session: every task that restores itself from one image, together.
//!
//! `ckpt restart` creates the image's processes and threads (with their pids, parents,
//! groups and sessions) and each of them calls `CKPT_IOC_RESTART` on the same open
//! `/dev/ckpt` file, naming the task of the image it becomes. They meet in one
//! [`Session`], kept by that open file:
//!
//! - objects the image shares between processes are made once and handed to all:
//!   a file opened once and inherited (one open file, one offset), shared anonymous
//!   memory, the refill of a pipe;
//! - nobody returns to user mode until every task of the image has restored itself
//!   (the last step before the registers); if one fails, all of them die: a tree is
//!   never left half-restored.

use crate::checkpoint::Reason;
use crate::restart::Meta;
use crate::shim::{self, FileRef, TaskRef};
use crate::sys::sync::{new_killable_condvar, CondVar};
use kernel::{new_mutex, prelude::*, sync::aref::ARef, sync::Arc, sync::Mutex, task::Task};

/// How long the tasks of one restart wait for each other.
const MEET_TIMEOUT_MS: u32 = 60_000;

/// What the tasks of a session share; see the module documentation.
#[pin_data]
pub(crate) struct Session {
    /// Identifies the image (its header's check and time).
    key: u64,
    /// The image's records but its pages, read once for all its tasks.
    meta: Arc<Meta>,
    /// Tasks of the image that restore themselves (its live tasks).
    expected: u32,
    #[pin]
    state: Mutex<State>,
    /// Notified after every change of `state`.
    #[pin]
    changed: CondVar,
}

struct State {
    arrived: u32,
    /// Each task that arrived.
    arrivals: KVec<Arrival>,
    done: u32,
    failed: bool,
    /// Files of the image, by object id, opened by the first task that needed them.
    files: KVec<(u32, FileRef)>,
    /// Pipes (by image id) whose buffered bytes were put back.
    filled: KVec<u32>,
    /// Processes (image pids) whose leader rebuilt what the threads share.
    ready: KVec<i32>,
    /// For each process that opened its files: its fd table's image id.
    opened: KVec<u32>,
    /// Fd tables (image ids) one of their processes installs.
    claimed: KVec<u32>,
    /// Processes waiting for a file another opens ([`Session::file_of_another`]).
    deferring: usize,
}

/// A task of the image claimed by a caller.
struct Arrival {
    /// Its process (image pid).
    pid: i32,
    /// The task itself (image tid).
    tid: i32,
    /// The leader of the caller's thread group: the tasks of one process of the image
    /// are the threads of one process.
    group: ARef<Task>,
}

impl Session {
    /// A session for an image identified by `key` with `expected` live tasks.
    pub(crate) fn new(key: u64, expected: u32, meta: Arc<Meta>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Session {
                key,
                meta,
                expected,
                state <- new_mutex!(
                    State {
                        arrived: 0,
                        arrivals: KVec::new(),
                        done: 0,
                        failed: false,
                        files: KVec::new(),
                        filled: KVec::new(),
                        ready: KVec::new(),
                        opened: KVec::new(),
                        claimed: KVec::new(),
                        deferring: 0,
                    },
                    "ckpt::Session::state"
                ),
                changed <- new_killable_condvar!("ckpt::Session::changed"),
            }),
            GFP_KERNEL,
        )
    }

    /// The image's records but its pages, as its first task read them.
    pub(crate) fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }

    /// Whether another task of the same restart may still join.
    pub(crate) fn accepting(&self) -> bool {
        let s = self.state.lock();
        !s.failed && s.arrived < self.expected
    }

    /// Whether the session restores the image identified by `key`.
    pub(crate) fn restores(&self, key: u64, expected: u32) -> bool {
        self.key == key && self.expected == expected
    }

    /// Counts the caller, task `tid` of process `pid` of the image, in; `EBUSY` if every
    /// task of the image already came or another caller claimed `tid`, `EINVAL` if the
    /// caller is not a thread of the process that claimed `pid`'s other tasks.
    pub(crate) fn join(&self, pid: i32, tid: i32, why: &mut Reason) -> Result {
        let group: ARef<Task> = kernel::current!().group_leader().into();
        {
            let mut s = self.state.lock();
            if s.failed {
                return Err(EINTR);
            }
            if s.arrived >= self.expected {
                return Err(EBUSY);
            }
            if s.arrivals.iter().any(|a| a.tid == tid) {
                return Err(why.set(
                    EBUSY,
                    format_args!("task {tid} of the image is already being restored"),
                ));
            }
            if s.arrivals
                .iter()
                .any(|a| a.pid == pid && a.group.as_ptr() != group.as_ptr())
            {
                return Err(why.set(
                    EINVAL,
                    format_args!(
                        "task {tid} of the image belongs to process {pid}, whose other tasks another process restores"
                    ),
                ));
            }
            s.arrivals.push(Arrival { pid, tid, group }, GFP_KERNEL)?;
            s.arrived += 1;
        }
        self.changed.notify_all();
        Ok(())
    }

    /// Waits until all `n` tasks of process `pid` are in the kernel: before its
    /// leader replaces the address space, under threads that may still be running
    /// the restarter's code on their way to the ioctl.
    pub(crate) fn wait_threads(&self, pid: i32, n: u32) -> Result {
        self.wait_until(|s| s.arrivals.iter().filter(|a| a.pid == pid).count() >= n as usize)
    }

    /// Whether process `pid` of the image is restored by the process that has pid
    /// `pid` in the caller's pid namespace: it joined this session, and the task the
    /// pid names now is the leader of the thread group that restores it.
    pub(crate) fn restores_with_pid(&self, pid: i32) -> bool {
        let Some(t) = TaskRef::by_vpid(pid) else {
            return false;
        };
        let s = self.state.lock();
        s.arrivals
            .iter()
            .any(|a| a.pid == pid && a.group.as_ptr().cast() == t.as_raw())
    }

    /// Marks the session failed: every task of it dies instead of returning.
    pub(crate) fn fail(&self) {
        let files = {
            let mut s = self.state.lock();
            s.failed = true;
            core::mem::take(&mut s.files)
        };
        drop(files);
        self.changed.notify_all();
    }

    /// The file with image id `id`: the one another task opened, or the one `open`
    /// opens now (and shares).
    pub(crate) fn file(&self, id: u32, open: impl FnOnce() -> Result<FileRef>) -> Result<FileRef> {
        let mut s = self.state.lock();
        if let Some((_, f)) = s.files.iter().find(|(i, _)| *i == id) {
            return Ok(f.clone());
        }
        let f = open()?;
        s.files.push((id, f.clone()), GFP_KERNEL)?;
        drop(s);
        // For a process waiting in [`Session::file_of_another`].
        self.changed.notify_all();
        Ok(f)
    }

    /// The file with image id `id`, which the caller (one of the `procs` processes
    /// of the image) may not open itself (`EACCES`), as another process of the image
    /// that shares it opens it: a file description inherited (or passed) from a
    /// process with other rights, which the caller could have only so. Waits until
    /// one opened it, or until each other process opened its files or waits here too
    /// (`None`: none could).
    pub(crate) fn file_of_another(&self, id: u32, procs: usize) -> Result<Option<FileRef>> {
        self.state.lock().deferring += 1;
        self.changed.notify_all();
        let r = self.wait_until(|s| {
            s.files.iter().any(|(i, _)| *i == id) || s.opened.len() + s.deferring >= procs
        });
        let mut s = self.state.lock();
        s.deferring -= 1;
        r?;
        Ok(s.files
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, f)| f.clone()))
    }

    /// The shared anonymous memory object with image id `id` and `size` bytes.
    pub(crate) fn shmem(&self, id: u32, size: u64) -> Result<FileRef> {
        self.file(id, || shim::shmem_new(size))
    }

    /// Whether the caller is the first to ask for pipe `id` (and so refills it).
    pub(crate) fn first_fill(&self, id: u32) -> Result<bool> {
        let mut s = self.state.lock();
        if s.filled.contains(&id) {
            return Ok(false);
        }
        s.filled.push(id, GFP_KERNEL)?;
        Ok(true)
    }

    /// The leader of process `pid` (of the image) rebuilt its address space, files and
    /// signal handlers: its threads may go on.
    pub(crate) fn process_ready(&self, pid: i32) -> Result {
        self.state.lock().ready.push(pid, GFP_KERNEL)?;
        self.changed.notify_all();
        Ok(())
    }

    /// Waits until the leader of process `pid` is ready (see [`Session::process_ready`]).
    pub(crate) fn wait_process(&self, pid: i32) -> Result {
        self.wait_until(|s| s.ready.contains(&pid))
    }

    /// Waits until `cond` holds of the state; `Err` if the session failed, or the wait
    /// timed out or was killed (then the session is failed).
    fn wait_until(&self, cond: impl Fn(&State) -> bool) -> Result {
        let mut s = self.state.lock();
        let mut waited = Ok(());
        loop {
            if s.failed {
                return Err(EINTR);
            }
            if cond(&s) {
                return Ok(());
            }
            if let Err(e) = waited {
                if e == ETIMEDOUT {
                    pr_info!(
                        "restart: {} of {} tasks restored themselves within {} s; giving up\n",
                        s.done,
                        self.expected,
                        MEET_TIMEOUT_MS / 1000
                    );
                }
                drop(s);
                self.fail();
                return Err(e);
            }
            (s, waited) = self.changed.wait_killable_timeout(s, MEET_TIMEOUT_MS);
        }
    }

    /// A process using fd table `files` (of `n` processes sharing it, `CLONE_FILES`)
    /// opened its files. Returns whether the caller installs the table: the first to
    /// come does, once all `n` opened theirs (they find some of theirs through the
    /// caller's descriptors, in the table it is about to empty).
    pub(crate) fn files_opened(&self, files: u32, n: u32) -> Result<bool> {
        let first = {
            let mut s = self.state.lock();
            s.opened.push(files, GFP_KERNEL)?;
            let first = !s.claimed.contains(&files);
            if first {
                s.claimed.push(files, GFP_KERNEL)?;
            }
            first
        };
        self.changed.notify_all();
        if first {
            self.wait_until(|s| s.opened.iter().filter(|&&f| f == files).count() >= n as usize)?;
        }
        Ok(first)
    }

    /// The caller restored itself: waits until all did (`Ok`), or one failed or the
    /// wait timed out or was killed (`Err`, and the session is failed).
    pub(crate) fn done_and_wait(&self) -> Result {
        let files = {
            let mut s = self.state.lock();
            s.done += 1;
            // The last one in: every task holds what it uses, the session lets go (an
            // open file descriptor of /dev/ckpt must not keep a pipe's end open).
            if s.done >= self.expected {
                core::mem::take(&mut s.files)
            } else {
                KVec::new()
            }
        };
        drop(files);
        self.changed.notify_all();
        self.wait_until(|s| s.done >= self.expected)
    }
}
