// SPDX-License-Identifier: GPL-2.0

//! Restart: overlay the calling task with an image, "like exec", as BLCR and Linux-CR did.
//!
//! Every task of the image restores itself: `ckpt restart` creates the processes and
//! threads and each calls `CKPT_IOC_RESTART` naming the task it becomes; they meet in
//! a [`Session`] (see [`crate::session`]). Per task, three phases. (1) Read and
//! validate every record but the pages, and check that the caller is fit (its thread
//! count, in the image's working directory, vDSO in place) and allowed (credentials,
//! limits) -- nothing is changed yet, and a failure is an errno plus a reason. (2) A
//! process leader opens every file its process needs (or takes the one another task of
//! the session opened). (3) The point of no return: the leader replaces the address
//! space and fills it from the page records, installs the fds, signal handlers,
//! limits; every task sets its own signal state, identity, credentials and FPU state;
//! then all wait for each other and return into the restored program together. A
//! failure in (3), anywhere, kills every task of the session: none returns to a
//! half-restored user context.
//!
//! This file is the orchestration only: reading the image, the plan, the phases,
//! the point of no return and the failure policy. What each object is and how it
//! is checked and restored is in `rust/objects/` (one file per kind, next to its
//! dump); who may restore what is decided in [`crate::access`].

use crate::access;
use crate::checkpoint::{eopnotsupp, Reason};
use crate::fault::{self, Op};
use crate::image::{self, filekind, AnyRecord, OrderChecker, RecordHeader};
use crate::objects::{cpu, creds, files, layout, locks, mm, pipe, shm, signal, task, timers, vdso};
use crate::session::Session;
use crate::shim::{self, cur, FileRef};
use crate::uapi::{self, CkptRestartArgs, CkptRestartFile, CkptRestartPipe};
use core::fmt::Write;
use kernel::{prelude::*, sync::Arc};

/// Most bytes of records (all but pages) an image may carry.
const MAX_META: usize = 64 << 20;

/// The error of a read that hit the end of the image early.
pub(crate) fn short_read() -> Error {
    Error::from_errno(-(kernel::bindings::ENODATA as i32))
}

/// Sequential reader of the image file.
pub(crate) struct Reader {
    pub(crate) file: FileRef,
    pub(crate) pos: i64,
    pub(crate) account: OrderChecker,
}

impl Reader {
    pub(crate) fn exact(&mut self, buf: &mut [u8]) -> Result {
        let n = self.file.read_at(buf, &mut self.pos)?;
        if n != buf.len() {
            return Err(short_read());
        }
        Ok(())
    }

    /// Reads the next record's header and payload (into `buf`) and verifies its check.
    /// Optional records this reader does not know are checked and skipped.
    fn next(&mut self, buf: &mut KVVec<u8>) -> core::result::Result<RecordHeader, Bad> {
        loop {
            let (h, known) = self.header()?;
            self.payload(&h, buf)?;
            if known {
                return Ok(h);
            }
            self.account.skip(&h).map_err(Bad::Image)?;
        }
    }

    /// Reads a record header; `false` with it: an optional record to skip.
    pub(crate) fn header(&mut self) -> core::result::Result<(RecordHeader, bool), Bad> {
        let mut hb = [0u8; image::REC_HDR_LEN];
        self.exact(&mut hb).map_err(Bad::io)?;
        RecordHeader::parse(&hb).map_err(Bad::Image)
    }

    /// Reads the payload of the record `h` into `buf` and verifies its check.
    pub(crate) fn payload(
        &mut self,
        h: &RecordHeader,
        buf: &mut KVVec<u8>,
    ) -> core::result::Result<(), Bad> {
        buf.resize(h.len as usize, 0, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Bad::Errno(ENOMEM))?;
        self.exact(buf).map_err(Bad::io)?;
        h.verify(buf).map_err(Bad::Image)
    }
}

/// Why an image was refused.
pub(crate) enum Bad {
    Image(image::ImageError),
    Errno(Error),
}

impl Bad {
    pub(crate) fn io(e: Error) -> Self {
        if e == short_read() {
            Bad::Image(image::ImageError::Truncated)
        } else {
            Bad::Errno(e)
        }
    }
}

/// The records of an image but its pages, kept as payloads in one arena.
pub(crate) struct Meta {
    arena: KVVec<u8>,
    recs: KVec<(RecordHeader, usize)>,
    /// Identifies the image (its first record's check, its header's time and root).
    pub(crate) key: u64,
    /// Where its first page (or end) record starts, the records before it, and the
    /// order checker's state there.
    pages_pos: i64,
    nrec: u32,
    account: OrderChecker,
}

impl Meta {
    fn iter(&self) -> impl Iterator<Item = AnyRecord<'_>> {
        self.recs
            .iter()
            .enumerate()
            .filter_map(move |(i, (h, off))| {
                if i % 1024 == 1023 {
                    shim::cond_resched();
                }
                AnyRecord::decode(h, &self.arena[*off..*off + h.len as usize]).ok()
            })
    }
}

/// Everything the restored task refers to, resolved and checked.
pub(crate) struct Plan<'a> {
    /// The image's tasks that restore themselves (all but zombies).
    pub(crate) live: u32,
    /// The pids of the image's processes (live and zombie).
    pub(crate) procs: KVec<i32>,
    /// The pids of the image's zombie processes (`ckpt restart` makes them again,
    /// outside the restart).
    pub(crate) zombies: KVec<i32>,
    /// The parent of each zombie (zombie, parent: image pids).
    pub(crate) zombie_parents: KVec<(i32, i32)>,
    /// How many of them restore themselves (not zombies): each opens its files.
    pub(crate) live_procs: usize,
    /// Tasks of the process (threads, the leader included).
    pub(crate) nthreads: u32,
    /// Processes sharing its fd table (`CLONE_FILES`), itself included.
    pub(crate) files_sharers: u32,
    pub(crate) task: image::Task<'a>,
    pub(crate) regs: image::Regs,
    pub(crate) xstate: Option<image::Xstate<'a>>,
    pub(crate) tsig: image::ThreadSignals<'a>,
    pub(crate) rlimits: Option<image::Rlimits>,
    pub(crate) rseq: Option<image::Rseq>,
    /// The identity of the checkpointing kernel's vDSO (images since format 1.2).
    pub(crate) vdso: Option<image::VdsoId>,
    /// That vDSO itself (images since format 1.3): what a proxy is built from.
    pub(crate) vdso_text: Option<&'a [u8]>,
    /// Where each live thread of the process (the leader included) was stopped.
    pub(crate) thread_ips: KVec<u64>,
    /// Its scheduling, prctl and job-control attributes (images since 1.2).
    pub(crate) attrs: Option<image::TaskAttrs>,
    /// `SIGIO` owners of the files of its fd table.
    pub(crate) fowns: KVec<image::Fown>,
    pub(crate) mm: image::MmRec<'a>,
    pub(crate) vmas: KVec<image::Vma<'a>>,
    pub(crate) fds: KVec<image::Fd>,
    pub(crate) fs: image::FsRec<'a>,
    pub(crate) sighand: image::Sighand<'a>,
    pub(crate) signal: image::SignalRec<'a>,
    /// The POSIX timers of its process.
    pub(crate) timers: KVec<image::PosixTimer>,
    /// The file locks of its fd table.
    pub(crate) locks: KVec<image::FileLock>,
    /// The leases its fd table's installer takes.
    pub(crate) leases: KVec<image::FileLease>,
    pub(crate) creds: image::Creds<'a>,
    pub(crate) files: KVec<image::FileRec<'a>>,
    /// Pipe files of `files` that are not the first description of their pipe end
    /// in the image (see [`crate::objects::pipe::open`]).
    pub(crate) pipe_reopen: KVec<u32>,
    pub(crate) pipes: KVec<image::PipeRec<'a>>,
    /// Every pseudo-terminal end of the image.
    pub(crate) ptys: KVec<image::Pty>,
    /// The bytes that were waiting at pseudo-terminal ends.
    pub(crate) pty_inputs: KVec<image::PtyInput<'a>>,
    /// Owners of deleted files.
    pub(crate) owners: KVec<image::FileOwner>,
    /// Targets of deleted symbolic links.
    pub(crate) link_targets: KVec<image::LinkTarget<'a>>,
    /// Files opened with other rights than their processes have now: who opened them.
    pub(crate) openers: KVec<image::FileOpener<'a>>,
    /// The state records of the image's event-loop files (eventfd, timerfd,
    /// signalfd, epoll entries, inotify watches, fanotify groups and marks) and pidfds.
    pub(crate) events: KVec<AnyRecord<'a>>,
    /// Every unix socket of the image, and their queued buffers.
    pub(crate) unix: KVec<image::UnixSock<'a>>,
    pub(crate) unix_skbs: KVec<image::UnixSkb<'a>>,
    /// The peer credentials of sockets: (index in `unix`, record).
    pub(crate) unix_peers: KVec<(usize, image::UnixPeer<'a>)>,
    /// Files in flight: (receiving socket's inode, how many) per buffer.
    pub(crate) unix_fds: KVec<(u64, u32)>,
}

pub(crate) fn refuse(why: &mut Reason, e: Error, args: core::fmt::Arguments<'_>) -> Error {
    why.set(e, args)
}

/// Finds the session of the image the caller restores (the one other tasks of the same
/// restart joined through the same open `/dev/ckpt`), or starts one.
pub(crate) type SessionSlot = kernel::sync::Mutex<Option<Arc<Session>>>;

/// What the restarter made for the image's objects that only userspace creates, as
/// `CKPT_IOC_RESTART` passed them.
pub(crate) struct Given<'a> {
    /// A fresh pipe for each pipe object of the image.
    pub(crate) pipes: &'a [CkptRestartPipe],
    /// A file for each file of the image of a kind only userspace creates.
    pub(crate) files: &'a [CkptRestartFile],
}

impl Given<'_> {
    /// The file the restarter passed for file `id` of the image, if it passed one
    /// (for a file only some images have it pass: a regular file in flight).
    pub(crate) fn passed(&self, id: u32) -> Option<Result<FileRef>> {
        let g = self.files.iter().find(|g| g.id == id)?;
        Some(FileRef::fd(g.fd))
    }

    /// The file the restarter passed for file `id` of the image.
    pub(crate) fn file(&self, id: u32, why: &mut Reason) -> Result<FileRef> {
        let Some(g) = self.files.iter().find(|g| g.id == id) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("no file was passed for file {id} of the image"),
            ));
        };
        // An O_PATH file too (a deleted symbolic link, the root of a chroot).
        FileRef::fd_raw(g.fd).map_err(|e| {
            refuse(
                why,
                e,
                format_args!("fd {} passed for file {id} is not open", g.fd),
            )
        })
    }
}

/// `CKPT_IOC_RESTART`.
#[inline(never)]
pub(crate) fn restart(
    slot: &SessionSlot,
    args: &CkptRestartArgs,
    given: &Given<'_>,
    why: &mut Reason,
) -> Result<isize> {
    if args.flags & !uapi::CKPT_RESTART_FLAGS != 0
        || args.pad != 0
        || args.pad2 != 0
        || args.pad3 != 0
        || args.pad4 != 0
        || (args.flags & uapi::CKPT_RESTART_STATUS_FD == 0 && args.status_fd != 0)
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("bad flags or reserved fields"),
        ));
    }
    // Held until this task is restored or dead: its reader sees end-of-file then.
    let status = if args.flags & uapi::CKPT_RESTART_STATUS_FD != 0 {
        Some(FileRef::writable_fd(args.status_fd).map_err(|e| {
            refuse(
                why,
                e,
                format_args!("status fd {} is not open for writing", args.status_fd),
            )
        })?)
    } else {
        None
    };
    let file = FileRef::fd(args.fd)
        .map_err(|e| refuse(why, e, format_args!("fd {} is not open", args.fd)))?;
    if !file.readable() {
        return Err(refuse(
            why,
            EBADF,
            format_args!("fd {} is not open for reading", args.fd),
        ));
    }
    let mut rd = Reader {
        file,
        pos: 0,
        account: OrderChecker::new(),
    };
    let mut magic = [0u8; 8];
    rd.exact(&mut magic)
        .map_err(|_| refuse(why, ENOEXEC, format_args!("not a ckpt image (too short)")))?;
    if magic != image::MAGIC {
        return Err(refuse(
            why,
            ENOEXEC,
            format_args!("not a ckpt image (bad magic)"),
        ));
    }

    fault::step_why(Op::Restart, "image magic", why)?;
    // Phase 1: every record up to the first page record, read once per session: the
    // first task of the image reads them, the others share what it read.
    let mut ph = crate::timing::Phases::start();
    let mut buf = KVVec::new();
    let meta = match shared_meta(slot, &mut rd, &mut buf, why)? {
        Some(m) => m,
        None => Arc::new(read_meta(&mut rd, &mut buf, why)?, GFP_KERNEL_ACCOUNT)?,
    };
    // Positioned at the first page (or end) record, as the reader of the metadata was.
    rd.pos = meta.pages_pos;
    rd.account = meta.account.clone();
    let nrec = meta.nrec + 1;
    // A page record's header only: its data is read straight into place, checked
    // there, after the point of no return like every later one (`Stop::Unread`).
    let first_pages = loop {
        let (h, known) = rd.header().map_err(|b| bad(why, b, nrec))?;
        if known && h.kind == image::kind::PAGES {
            break (h, Stop::Unread);
        }
        rd.payload(&h, &mut buf).map_err(|b| bad(why, b, nrec))?;
        if !known {
            rd.account
                .skip(&h)
                .map_err(|e| bad(why, Bad::Image(e), nrec))?;
            continue;
        }
        let r = AnyRecord::decode(&h, &buf).map_err(|e| bad(why, Bad::Image(e), nrec))?;
        break match r {
            AnyRecord::Pages(_) | AnyRecord::PageRefs(_) => (h, Stop::Pages),
            AnyRecord::End(_) => (h, Stop::End),
            _ => {
                return Err(bad(
                    why,
                    Bad::Image(image::ImageError::BadOrder("metadata after the pages")),
                    nrec,
                ))
            }
        };
    };
    fault::step_why(Op::Restart, "metadata", why)?;
    let key = meta.key;
    let plan = plan(&meta, args.task, why)?;
    ph.mark("read");
    fault::step_why(Op::Restart, "plan", why)?;

    // Meet the other tasks of this restart; from here on a failure fails them all.
    let sess = join(
        slot,
        key,
        plan.live,
        (plan.task.tgid, plan.task.pid),
        &meta,
        why,
    )?;
    let part = Part { sess: &sess };
    let r = restore(
        &plan,
        &sess,
        args,
        given,
        &mut rd,
        &mut buf,
        first_pages,
        &mut ph,
        why,
    );
    match r {
        Ok(ax) => {
            core::mem::forget(part);
            if plan.leader() {
                ph.log("restart", plan.task.pid);
                pr_info!(
                    "restarted process {} ({}, {} threads) from image of {}\n",
                    shim::current_pid(),
                    core::str::from_utf8(plan.task.comm).unwrap_or("?"),
                    plan.nthreads,
                    plan.task.pid
                );
            }
            Ok(ax as isize)
        }
        Err(Failed::Before(e)) => Err(e),
        Err(Failed::After(e)) => {
            drop(part);
            if e != EINTR || !why.is_empty() {
                crate::log_failure(
                    "restart (after the point of no return)",
                    plan.task.pid,
                    e,
                    why,
                );
            }
            if let Some(f) = &status {
                report_late(f, plan.task.pid, e, why);
            }
            cur::kill();
            Err(EINTR)
        }
    }
}

/// Tells the reader of the status fd why this task dies after the point of no return
/// ([`uapi::CKPT_STATUS_FAILED`], a length byte, the text); best effort.
fn report_late(f: &FileRef, pid: i32, e: Error, why: &Reason) {
    let mut text = Reason::new();
    let _ = if why.is_empty() {
        write!(
            text,
            "task {pid} of the image: errno {} (another task failed, or killed)",
            -e.to_errno()
        )
    } else {
        write!(text, "task {pid} of the image: {}", why.as_str())
    };
    let t = text.as_bytes();
    let n = t.len().min(255);
    let mut msg = [0u8; 2 + 255];
    msg[0] = uapi::CKPT_STATUS_FAILED;
    msg[1] = n as u8;
    msg[2..2 + n].copy_from_slice(&t[..n]);
    let _ = f.write_all(&msg[..2 + n]);
}

/// A task's membership in its session: failing it unless forgotten on success.
struct Part<'a> {
    sess: &'a Session,
}

impl Drop for Part<'_> {
    fn drop(&mut self) {
        self.sess.fail();
    }
}

/// How a restore failed: before anything changed (the caller lives on), or after.
enum Failed {
    Before(Error),
    After(Error),
}

fn join(
    slot: &SessionSlot,
    key: u64,
    live: u32,
    (pid, tid): (i32, i32),
    meta: &Arc<Meta>,
    why: &mut Reason,
) -> Result<Arc<Session>> {
    let mut s = slot.lock();
    if let Some(cur) = s.as_ref() {
        if cur.accepting() {
            if !cur.restores(key, live) {
                return Err(refuse(
                    why,
                    EBUSY,
                    format_args!("another image is being restarted through this open file"),
                ));
            }
            cur.join(pid, tid, why)?;
            return Ok(cur.clone());
        }
    }
    let new = Session::new(key, live, meta.clone())?;
    new.join(pid, tid, why)?;
    *s = Some(new.clone());
    Ok(new)
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn restore(
    plan: &Plan<'_>,
    sess: &Session,
    args: &CkptRestartArgs,
    given: &Given<'_>,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first_pages: (RecordHeader, Stop),
    ph: &mut crate::timing::Phases,
    why: &mut Reason,
) -> core::result::Result<u64, Failed> {
    let before =
        |what, why: &mut Reason| fault::step_why(Op::Restart, what, why).map_err(Failed::Before);
    let after =
        |what, why: &mut Reason| fault::step_why(Op::Restart, what, why).map_err(Failed::After);
    before("join", why)?;
    // A chroot'ed process's files are opened by the names the image has, outside.
    let swap = if plan.leader() {
        files::outer_root(plan, given, why).map_err(Failed::Before)?
    } else {
        None
    };
    let proxy = check_caller(plan, args.flags, swap.as_ref(), why).map_err(Failed::Before)?;
    before("caller", why)?;
    if plan.leader() {
        // Phase 2: open what the process refers to, with its credentials (A13).
        let creds = access::ImageCreds::of(plan).map_err(Failed::Before)?;
        let mut opened =
            files::open_files(plan, sess, args, given, &creds, why).map_err(Failed::Before)?;
        before("open files", why)?;
        // One process of those sharing an fd table installs it.
        let install = sess
            .files_opened(plan.task.files, plan.files_sharers)
            .map_err(Failed::Before)?;
        // Its threads must be off the restarter's code before its memory goes.
        sess.wait_threads(plan.task.tgid, plan.nthreads)
            .map_err(Failed::Before)?;
        before("threads", why)?;
        files::check_owners(plan, sess, why).map_err(Failed::Before)?;
        if install {
            locks::check(plan, &opened, why).map_err(Failed::Before)?;
            let _as = creds.apply().map_err(Failed::Before)?;
            locks::check_leases(plan, &opened, why).map_err(Failed::Before)?;
        }
        before("owners and locks", why)?;
        mm::restore_exe(plan, &creds, why).map_err(Failed::Before)?;
        before("executable", why)?;
        crate::objects::fanotify::recheck(plan, &opened, why).map_err(Failed::Before)?;
        ph.mark("open");
        // Phase 3: the point of no return.
        overlay(
            plan,
            sess,
            &creds,
            &mut opened,
            proxy.as_ref(),
            install,
            rd,
            buf,
            first_pages,
            ph,
            why,
        )
        .map_err(Failed::After)?;
        // Back in the chroot before any task of the process may run.
        drop(swap);
        sess.process_ready(plan.task.tgid).map_err(Failed::After)?;
        after("process ready", why)?;
    } else {
        // The thread's own state refers to memory (rseq): wait for the address space.
        sess.wait_process(plan.task.tgid).map_err(Failed::Before)?;
    }
    let entry = restore_task(plan, why).map_err(Failed::After)?;
    after("task", why)?;
    signal::restore_stop(plan).map_err(Failed::After)?;
    after("stop", why)?;
    ph.mark("task");
    sess.done_and_wait().map_err(Failed::After)?;
    ph.mark("wait");
    signal::recalc_pending();
    // CPU state last: nothing can fail any more.
    Ok(cpu::set_regs(plan, entry))
}

/// Phase 3 of a process leader: the address space and its pages, then what the
/// process's tasks share.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn overlay(
    p: &Plan<'_>,
    sess: &Session,
    creds: &access::ImageCreds,
    opened: &mut files::Opened,
    proxy: Option<&vdso::Proxy>,
    install: bool,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first: (RecordHeader, Stop),
    ph: &mut crate::timing::Phases,
    why: &mut Reason,
) -> Result {
    let step = |what, why: &mut Reason| fault::step_why(Op::Restart, what, why);
    step("point of no return", why)?;
    let kept = mm::restore_mappings(p, sess, opened, why)?;
    step("mappings", why)?;
    if let Some(px) = proxy {
        vdso::map_proxy(px, why)?;
    }
    ph.mark("map");
    mm::restore_pages(p, opened, rd, buf, first, &kept, why)?;
    step("pages", why)?;
    ph.mark("pages");
    opened.date_ghosts(why)?;
    rd.account
        .finish()
        .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
    // Seals with the kernel's rules, then the shared mappings of the write-sealed
    // memfds, which mmap restricts as it would have.
    shm::seal_memfds(opened, why)?;
    mm::restore_sealed_mappings(p, sess, opened, why)?;
    step("seals", why)?;
    // File descriptors at their numbers (by one process of those sharing the table).
    if install {
        files::install_fds(p, opened, why)?;
        step("fds", why)?;
        {
            // The SIGIO owner records who set it: the image's process.
            let _as = creds.apply()?;
            locks::restore_leases(p, opened, why)?;
            files::restore_owners(p, opened, why)?;
        }
        locks::restore(p, opened, why)?;
        step("file owners and locks", why)?;
    }
    signal::restore_process(p)?;
    step("signals", why)?;
    timers::restore(p, why)?;
    step("timers", why)?;
    creds::restore_rlimits(p)?;
    step("rlimits", why)?;
    ph.mark("fds");
    Ok(())
}

/// What every task sets on itself: its signal state, identity, credentials, rseq
/// area and FPU state (the registers come last, once the whole session is there).
#[inline(never)]
fn restore_task(p: &Plan<'_>, why: &mut Reason) -> Result<cpu::Entry> {
    signal::restore_thread(p)?;
    fault::step_why(Op::Restart, "thread signals", why)?;
    task::restore(p);
    creds::restore(p)?;
    fault::step_why(Op::Restart, "creds", why)?;
    cpu::restore(p, why)
}

/// Reports a bad or unreadable page record.
pub(crate) fn page_records(why: &mut Reason, b: Bad) -> Error {
    match b {
        Bad::Image(e) => why.set(EINVAL, format_args!("page records: {}", e.describe())),
        Bad::Errno(e) => why.set(e, format_args!("reading page records failed")),
    }
}

/// Which of the two records that end phase 1 did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Pages,
    End,
    /// A page record whose header alone was read.
    Unread,
}

fn bad(why: &mut Reason, b: Bad, nrec: u32) -> Error {
    match b {
        Bad::Image(e) => {
            let err = match e {
                image::ImageError::BadMagic => ENOEXEC,
                image::ImageError::ForeignArch(_) | image::ImageError::BadPageSize(_) => ENOEXEC,
                image::ImageError::UnsupportedFormat { .. }
                | image::ImageError::UnsupportedRecordVersion { .. }
                | image::ImageError::UnknownKind(_) => eopnotsupp(),
                _ => EINVAL,
            };
            refuse(why, err, format_args!("record {nrec}: {}", e.describe()))
        }
        Bad::Errno(e) => refuse(why, e, format_args!("reading record {nrec} failed")),
    }
}

/// Reads the image's first record (its header) and, if a session of this open file
/// restores that image and still takes tasks, returns the metadata its first task
/// read (`None`: read it).
fn shared_meta(
    slot: &SessionSlot,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    why: &mut Reason,
) -> Result<Option<Arc<Meta>>> {
    let start = rd.pos;
    let first = rd.next(buf);
    // Read again by whoever reads the metadata.
    rd.pos = start;
    rd.account = OrderChecker::new();
    let key = match first {
        Ok(h) => match AnyRecord::decode(&h, buf) {
            Ok(AnyRecord::Header(hd)) => image_key(&h, &hd),
            _ => return Ok(None),
        },
        Err(b) => return Err(bad(why, b, 1)),
    };
    let s = slot.lock();
    Ok(s.as_ref()
        .filter(|c| c.accepting() && c.meta().key == key)
        .map(|c| c.meta().clone()))
}

/// What identifies an image: its header record's check, time and root pid.
fn image_key(h: &RecordHeader, hd: &image::Header<'_>) -> u64 {
    u64::from(h.check) ^ hd.time_ns ^ (u64::from(hd.root_pid as u32) << 32)
}

/// Reads every record up to the first page (or end) record.
fn read_meta(rd: &mut Reader, buf: &mut KVVec<u8>, why: &mut Reason) -> Result<Meta> {
    let mut meta = Meta {
        arena: KVVec::new(),
        recs: KVec::new(),
        key: 0,
        pages_pos: 0,
        nrec: 0,
        account: OrderChecker::new(),
    };
    let mut nrec = 0u32;
    loop {
        // Where this record starts, and the account there (optional records a
        // reader skips are counted when skipped: read again from here, they are
        // counted once).
        let pos = rd.pos;
        let account = rd.account.clone();
        nrec += 1;
        let h = match rd.next(buf) {
            Ok(h) => h,
            Err(b) => return Err(bad(why, b, nrec)),
        };
        let r = AnyRecord::decode(&h, buf).map_err(|e| bad(why, Bad::Image(e), nrec))?;
        if matches!(
            r,
            AnyRecord::Pages(_) | AnyRecord::PageRefs(_) | AnyRecord::End(_)
        ) {
            // Fed to the order checker when applied, in phase 3.
            meta.pages_pos = pos;
            meta.nrec = nrec - 1;
            meta.account = account;
            return Ok(meta);
        }
        rd.account
            .feed(&h, &r)
            .map_err(|e| bad(why, Bad::Image(e), nrec))?;
        if let (1, AnyRecord::Header(hd)) = (nrec, &r) {
            meta.key = image_key(&h, hd);
        }
        if meta.arena.len() + buf.len() > MAX_META {
            return Err(refuse(why, EFBIG, format_args!("image metadata too large")));
        }
        let off = meta.arena.len();
        meta.arena.extend_from_slice(buf, GFP_KERNEL_ACCOUNT)?;
        meta.recs.push((h, off), GFP_KERNEL_ACCOUNT)?;
        if nrec % 1024 == 0 {
            shim::cond_resched();
        }
    }
}

/// Resolves the references of task `pid` of the image (0: its root process) and checks
/// what the format cannot.
///
/// The plan is boxed, and written straight into its box: it is large (1.5 KiB:
/// registers, signal state, the records the task uses) and lives for the whole restart,
/// whose stack also carries the restore's frames (review finding A24: `restart` had a
/// 3.8 KiB frame, `plan` 4.2 KiB).
#[inline(never)]
fn plan<'a>(meta: &'a Meta, pid: i32, why: &mut Reason) -> Result<KBox<Plan<'a>>> {
    let missing = |why: &mut Reason, what: &str| {
        refuse(why, EINVAL, format_args!("image has no {what} record"))
    };
    let lacks = |why: &mut Reason| {
        refuse(
            why,
            EINVAL,
            format_args!("task refers to objects the image lacks"),
        )
    };
    let mut header = None;
    let mut vdso = None;
    let mut vdso_text = None;
    let mut live = 0u32;
    let mut procs = KVec::new();
    let mut zombies = KVec::new();
    let mut zombie_parents = KVec::new();
    let mut live_procs = 0;
    for r in meta.iter() {
        if let AnyRecord::Task(t) = &r {
            if t.pid == t.tgid {
                procs.push(t.pid, GFP_KERNEL)?;
                if t.flags & image::TASK_ZOMBIE != 0 {
                    zombies.push(t.pid, GFP_KERNEL)?;
                    zombie_parents.push((t.pid, t.ppid), GFP_KERNEL)?;
                } else {
                    live_procs += 1;
                }
            }
        }
        match r {
            AnyRecord::Header(h) => header = Some(h),
            AnyRecord::Parent(_) => {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!(
                        "incremental image: its pages are partly its parent's; \
                         `ckpt restart` resolves the chain"
                    ),
                ))
            }
            AnyRecord::Vdso(v) => vdso = Some(v),
            AnyRecord::VdsoText(t) => vdso_text = Some(t.data),
            AnyRecord::Task(t) if t.flags & image::TASK_ZOMBIE == 0 => live += 1,
            _ => {}
        }
    }
    let header = header.ok_or_else(|| missing(why, "header"))?;
    let pid = if pid == 0 { header.root_pid } else { pid };
    let task = meta
        .iter()
        .find_map(|r| match r {
            AnyRecord::Task(t) if t.pid == pid => Some(t),
            _ => None,
        })
        .ok_or_else(|| refuse(why, EINVAL, format_args!("the image has no task {pid}")))?;
    if task.flags & image::TASK_ZOMBIE != 0 {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("task {pid} of the image is a zombie: `ckpt restart` recreates it"),
        ));
    }
    let mut regs = None;
    let mut xstate = None;
    let mut tsig = None;
    let mut rlimits = None;
    let mut rseq = None;
    let mut attrs = None;
    let mut all_fowns = KVec::new();
    let mut mm = None;
    let mut vmas = KVec::new();
    let mut fds = KVec::new();
    let mut fs = None;
    let mut sighand = None;
    let mut signal = None;
    let mut ptimers = KVec::new();
    let mut flocks = KVec::new();
    let mut leases = KVec::new();
    let mut creds = None;
    let mut all_files = KVec::new();
    let mut all_pipes = KVec::new();
    let mut ptys = KVec::new();
    let mut pty_inputs = KVec::new();
    let mut owners = KVec::new();
    let mut link_targets = KVec::new();
    let mut openers = KVec::new();
    let mut events = KVec::new();
    let mut unix = KVec::new();
    let mut unix_skbs = KVec::new();
    let mut unix_peers = KVec::new();
    let mut unix_fds = KVec::new();
    let mut inflight = KVec::new();
    let mut skb_owner = 0u64;
    let mut nthreads = 0u32;
    let mut thread_ips = KVec::new();
    let mut files_sharers = 0u32;
    // Records that belong to the last mm, fd table and task seen.
    let (mut in_mm, mut in_files, mut in_task) = (0u32, 0u32, false);
    // Whether the last task seen is a live thread of the process.
    let mut in_process = false;
    for r in meta.iter() {
        match r {
            AnyRecord::Task(t) => {
                in_task = t.pid == pid;
                in_process = t.tgid == task.tgid && t.flags & image::TASK_ZOMBIE == 0;
                if t.tgid == task.tgid && t.flags & image::TASK_ZOMBIE == 0 {
                    nthreads += 1;
                }
                if t.files == task.files
                    && t.flags & image::TASK_LEADER != 0
                    && t.flags & image::TASK_ZOMBIE == 0
                {
                    files_sharers += 1;
                }
            }
            AnyRecord::Regs(r) if in_task => {
                regs = Some(r);
                thread_ips.push(r.r[image::REG_RIP], GFP_KERNEL)?;
            }
            AnyRecord::Regs(r) if in_process => thread_ips.push(r.r[image::REG_RIP], GFP_KERNEL)?,
            AnyRecord::Xstate(x) if in_task => xstate = Some(x),
            AnyRecord::ThreadSignals(t) if in_task => tsig = Some(t),
            AnyRecord::Rlimits(r) if in_task => rlimits = Some(r),
            AnyRecord::Rseq(r) if in_task => rseq = Some(r),
            AnyRecord::TaskAttrs(a) if in_task => attrs = Some(a),
            AnyRecord::Fown(f) => all_fowns.push(f, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Mm(m) => {
                in_mm = m.id;
                if m.id == task.mm {
                    mm = Some(m);
                }
            }
            AnyRecord::Vma(v) if in_mm == task.mm => vmas.push(v, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Files(f) => in_files = f.id,
            AnyRecord::Fd(f) if in_files == task.files => fds.push(f, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Fs(f) if f.id == task.fs => fs = Some(f),
            AnyRecord::Sighand(s) if s.id == task.sighand => sighand = Some(s),
            AnyRecord::Signal(s) if s.id == task.signal => signal = Some(s),
            AnyRecord::PosixTimer(t) if t.signal == task.signal => ptimers.push(t, GFP_KERNEL)?,
            AnyRecord::FileLock(l) if l.files == task.files => flocks.push(l, GFP_KERNEL)?,
            AnyRecord::FileLease(l) if l.files == task.files => leases.push(l, GFP_KERNEL)?,
            AnyRecord::Creds(c) if c.id == task.creds => creds = Some(c),
            AnyRecord::File(f) => all_files.push(f, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Pipe(p) => all_pipes.push(p, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Pty(t) => ptys.push(t, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::PtyInput(t) => pty_inputs.push(t, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::FileOwner(o) => owners.push(o, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::LinkTarget(l) => link_targets.push(l, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::FileOpener(o) => openers.push(o, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::Eventfd(_)
            | AnyRecord::Timerfd(_)
            | AnyRecord::Signalfd(_)
            | AnyRecord::EpollItem(_)
            | AnyRecord::InotifyWatch(_)
            | AnyRecord::FanotifyGroup(_)
            | AnyRecord::FanotifyMark(_)
            | AnyRecord::Pidfd(_) => events.push(r, GFP_KERNEL_ACCOUNT)?,
            AnyRecord::UnixSock(u) => unix.push(u, GFP_KERNEL_ACCOUNT)?,
            // The order checker saw to it that a socket's record comes just before.
            AnyRecord::UnixPeer(c) => {
                unix_peers.push((unix.len().saturating_sub(1), c), GFP_KERNEL_ACCOUNT)?
            }
            AnyRecord::UnixSkb(q) => {
                skb_owner = q.owner;
                unix_skbs.push(q, GFP_KERNEL_ACCOUNT)?
            }
            AnyRecord::UnixFds(u) => {
                unix_fds.push((skb_owner, u.count() as u32), GFP_KERNEL_ACCOUNT)?;
                for i in 0..u.count() {
                    inflight.push(u.file(i), GFP_KERNEL_ACCOUNT)?;
                }
            }
            _ => {}
        }
    }
    // Only the files (and their pipes) this process uses, and the deleted files and
    // memfds whose contents those that are other opens of them share. Looked up in
    // sorted id lists: an image may hold hundreds of thousands of files, fds and
    // mappings (each used to be searched linearly for each file).
    // Files in flight in a socket's queue are opened too (the restarter passed
    // them again; their flags and a pipe's bytes are set here).
    let by_fds = sorted_ids(Iterator::chain(
        fds.iter().map(|d| d.file),
        inflight.iter().copied(),
    ))?;
    let by_vmas = sorted_ids(vmas.iter().map(|v| v.file))?;
    let used = |id: u32| by_fds.binary_search(&id).is_ok() || by_vmas.binary_search(&id).is_ok();
    let owners_of_used = sorted_ids(
        all_files
            .iter()
            .filter(|g| g.kind == filekind::GHOST && g.rdev != 0 && used(g.id))
            .map(|g| g.rdev),
    )?;
    let mut files: KVec<image::FileRec<'_>> = KVec::new();
    for (i, f) in all_files.iter().enumerate() {
        let owner_of_used = ((f.kind == filekind::GHOST && f.rdev == 0)
            || f.kind == filekind::MEMFD)
            && owners_of_used.binary_search(&f.id).is_ok();
        if used(f.id) || owner_of_used {
            files.push(*f, GFP_KERNEL_ACCOUNT)?;
        }
        if i % 1024 == 1023 {
            shim::cond_resched();
        }
    }
    let mut pipe_reopen = KVec::new();
    for f in files.iter().filter(|f| f.kind == filekind::PIPE) {
        if !crate::objects::pipe::first_of_its_end(f, &all_files) {
            pipe_reopen.push(f.id, GFP_KERNEL_ACCOUNT)?;
        }
        shim::cond_resched();
    }
    let mut fowns = KVec::new();
    for o in all_fowns.iter() {
        if by_fds.binary_search(&o.file).is_ok() {
            fowns.push(*o, GFP_KERNEL_ACCOUNT)?;
        }
    }
    let by_pipe = sorted_ids(files.iter().map(|f| f.pipe))?;
    let mut pipes = KVec::new();
    for q in all_pipes.iter() {
        if by_pipe.binary_search(&q.id).is_ok() {
            pipes.push(*q, GFP_KERNEL_ACCOUNT)?;
        }
    }
    // Written straight into the box (a `Plan` on the stack would double the frame).
    let b = KBox::<Plan<'a>>::new_uninit(GFP_KERNEL_ACCOUNT)?;
    let regs = regs.ok_or_else(|| missing(why, "regs"))?;
    let tsig = tsig.ok_or_else(|| missing(why, "thread-signals"))?;
    let (Some(mm), Some(fs), Some(sighand), Some(signal), Some(creds)) =
        (mm, fs, sighand, signal, creds)
    else {
        return Err(lacks(why));
    };
    let p = KBox::write(
        b,
        Plan {
            live,
            procs,
            zombies,
            zombie_parents,
            live_procs,
            nthreads,
            files_sharers,
            task,
            regs,
            xstate,
            tsig,
            rlimits,
            rseq,
            vdso,
            vdso_text,
            thread_ips,
            attrs,
            fowns,
            mm,
            vmas,
            fds,
            fs,
            sighand,
            signal,
            timers: ptimers,
            locks: flocks,
            leases,
            creds,
            files,
            pipe_reopen,
            pipes,
            ptys,
            pty_inputs,
            owners,
            link_targets,
            openers,
            events,
            unix,
            unix_skbs,
            unix_peers,
            unix_fds,
        },
    );
    // What the format cannot check, object by object.
    mm::check_plan(&p, why)?;
    layout::check_plan(&p, why)?;
    files::check_plan(&p, why)?;
    pipe::check_plan(&p, why)?;
    cpu::check_plan(&p, why)?;
    shm::check_plan(&p, why)?;
    signal::check_plan(&p, why)?;
    Ok(p)
}

/// The ids `ids` yields, sorted, for binary searches.
fn sorted_ids(ids: impl Iterator<Item = u32>) -> Result<KVVec<u32>> {
    let mut v = KVVec::new();
    for (i, id) in ids.enumerate() {
        v.push(id, GFP_KERNEL_ACCOUNT)?;
        if i % 4096 == 4095 {
            shim::cond_resched();
        }
    }
    v.sort_unstable();
    Ok(v)
}

impl<'a> Plan<'a> {
    pub(crate) fn file(&self, id: u32) -> Option<&image::FileRec<'a>> {
        // In image order: ids ascending (the order checker saw to it).
        let i = self.files.binary_search_by_key(&id, |f| f.id).ok()?;
        self.files.get(i)
    }

    /// Who opened file `id`, if the process could not open it again itself
    /// ([`image::FileOpener`]).
    pub(crate) fn opener(&self, id: u32) -> Option<&image::FileOpener<'a>> {
        self.openers.iter().find(|o| o.file == id)
    }

    /// The pseudo-terminal master record of file `id`, if it is one.
    pub(crate) fn pty_master(&self, id: u32) -> Option<&image::Pty> {
        self.ptys.iter().find(|t| t.file == id && t.master == 1)
    }

    /// The record of file `id` if it is a pseudo-terminal slave whose master was
    /// closed (hung up), which the restarter makes again and passes.
    pub(crate) fn pty_hung_up(&self, id: u32) -> Option<&image::Pty> {
        self.ptys
            .iter()
            .find(|t| t.file == id && t.locked == image::PTY_HUNG_UP)
    }

    /// Whether file `id` is an end of a pseudo-terminal pair whose master is in the
    /// image (and so is made again, not substituted).
    pub(crate) fn pty_in_image(&self, id: u32) -> bool {
        self.ptys.iter().any(|t| {
            t.file == id
                && self
                    .ptys
                    .iter()
                    .any(|m| m.master == 1 && m.index == t.index)
        })
    }

    /// Whether the task leads its process (and so restores what its threads share).
    pub(crate) fn leader(&self) -> bool {
        self.task.flags & image::TASK_LEADER != 0
    }
}

/// The caller must stand where the image expects and may take on its identity. For
/// a leader, returns the vDSO proxy to map, if this kernel's vDSO is not the image's.
fn check_caller(
    p: &Plan<'_>,
    flags: u64,
    swap: Option<&shim::RootSwap>,
    why: &mut Reason,
) -> Result<Option<vdso::Proxy>> {
    task::check_caller(p, why)?;
    if !p.leader() {
        // A thread takes its process's creds too; the rest is the leader's to check.
        access::may_take_creds(p, why)?;
        return Ok(None);
    }
    files::check_fs(p, swap, why)?;
    let proxy = vdso::check(p, flags, why)?;
    access::may_take_creds(p, why)?;
    access::may_dump_as_root(p, why)?;
    access::may_take_rlimits(p, why)?;
    timers::check_caller(p, why)?;
    Ok(proxy)
}
