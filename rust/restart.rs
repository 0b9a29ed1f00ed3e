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

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, backing, filekind, AnyRecord, OrderChecker, RecordHeader};
use crate::session::Session;
use crate::shim::{self, cur, CredsRaw, FileRef, HeldPages, SigActionRaw, NREGS};
use crate::uapi::{self, CkptRestartArgs, CkptRestartPipe};
use kernel::{prelude::*, sync::Arc};

/// Most bytes of records (all but pages) an image may carry.
const MAX_META: usize = 64 << 20;

const PROT_WRITE: u32 = 2;
const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x0100;
const MAP_LOCKED: u32 = 0x2000;
const MAP_FIXED_NOREPLACE: u32 = 0x100000;
const O_ACCMODE: u32 = 3;
const O_WRONLY: u32 = 1;
const O_NONBLOCK: u32 = 0o4000;

/// The error of a read that hit the end of the image early.
fn short_read() -> Error {
    Error::from_errno(-(kernel::bindings::ENODATA as i32))
}

/// Sequential reader of the image file.
struct Reader {
    file: FileRef,
    pos: i64,
    account: OrderChecker,
}

impl Reader {
    fn exact(&mut self, buf: &mut [u8]) -> Result {
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
    fn header(&mut self) -> core::result::Result<(RecordHeader, bool), Bad> {
        let mut hb = [0u8; image::REC_HDR_LEN];
        self.exact(&mut hb).map_err(Bad::io)?;
        RecordHeader::parse(&hb).map_err(Bad::Image)
    }

    /// Reads the payload of the record `h` into `buf` and verifies its check.
    fn payload(&mut self, h: &RecordHeader, buf: &mut KVVec<u8>) -> core::result::Result<(), Bad> {
        buf.resize(h.len as usize, 0, GFP_KERNEL)
            .map_err(|_| Bad::Errno(ENOMEM))?;
        self.exact(buf).map_err(Bad::io)?;
        h.verify(buf).map_err(Bad::Image)
    }
}

/// Why an image was refused.
enum Bad {
    Image(image::ImageError),
    Errno(Error),
}

impl Bad {
    fn io(e: Error) -> Self {
        if e == short_read() {
            Bad::Image(image::ImageError::Truncated)
        } else {
            Bad::Errno(e)
        }
    }
}

/// The records of an image but its pages, kept as payloads in one arena.
struct Meta {
    arena: KVVec<u8>,
    recs: KVec<(RecordHeader, usize)>,
}

impl Meta {
    fn iter(&self) -> impl Iterator<Item = AnyRecord<'_>> {
        self.recs.iter().filter_map(move |(h, off)| {
            AnyRecord::decode(h, &self.arena[*off..*off + h.len as usize]).ok()
        })
    }
}

/// Everything the restored task refers to, resolved and checked.
struct Plan<'a> {
    /// The image's tasks that restore themselves (all but zombies).
    live: u32,
    /// Tasks of the process (threads, the leader included).
    nthreads: u32,
    /// Processes sharing its fd table (`CLONE_FILES`), itself included.
    files_sharers: u32,
    task: image::Task<'a>,
    regs: image::Regs,
    xstate: Option<image::Xstate<'a>>,
    tsig: image::ThreadSignals<'a>,
    rlimits: Option<image::Rlimits>,
    rseq: Option<image::Rseq>,
    mm: image::MmRec<'a>,
    vmas: KVec<image::Vma<'a>>,
    fds: KVec<image::Fd>,
    fs: image::FsRec<'a>,
    sighand: image::Sighand<'a>,
    signal: image::SignalRec<'a>,
    creds: image::Creds<'a>,
    files: KVec<image::FileRec<'a>>,
    pipes: KVec<image::PipeRec<'a>>,
}

fn refuse(why: &mut Reason, e: Error, args: core::fmt::Arguments<'_>) -> Error {
    why.set(e, args)
}

/// Finds the session of the image the caller restores (the one other tasks of the same
/// restart joined through the same open `/dev/ckpt`), or starts one.
pub(crate) type SessionSlot = kernel::sync::Mutex<Option<Arc<Session>>>;

/// `CKPT_IOC_RESTART`.
#[inline(never)]
pub(crate) fn restart(
    slot: &SessionSlot,
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<isize> {
    if args.flags & !uapi::CKPT_RESTART_FLAGS != 0
        || args.pad != 0
        || args.pad2 != 0
        || args.reserved != [0; 3]
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("bad flags or reserved fields"),
        ));
    }
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

    // Phase 1: every record up to the first page record.
    let mut meta = Meta {
        arena: KVVec::new(),
        recs: KVec::new(),
    };
    let mut buf = KVVec::new();
    let mut nrec = 0u32;
    let mut key = 0u64;
    let first_pages = loop {
        nrec += 1;
        let h = match rd.next(&mut buf) {
            Ok(h) => h,
            Err(b) => return Err(bad(why, b, nrec)),
        };
        if nrec == 1 {
            key = u64::from(h.check);
        }
        let r = AnyRecord::decode(&h, &buf).map_err(|e| bad(why, Bad::Image(e), nrec))?;
        if matches!(r, AnyRecord::Pages(_) | AnyRecord::End(_)) {
            // Fed to the order checker when applied, in phase 3.
            let stop = if matches!(r, AnyRecord::Pages(_)) {
                Stop::Pages
            } else {
                Stop::End
            };
            break (h, stop);
        }
        if let AnyRecord::Header(hd) = &r {
            key ^= hd.time_ns ^ (u64::from(hd.root_pid as u32) << 32);
        }
        rd.account
            .feed(&h, &r)
            .map_err(|e| bad(why, Bad::Image(e), nrec))?;
        if meta.arena.len() + buf.len() > MAX_META {
            return Err(refuse(why, EFBIG, format_args!("image metadata too large")));
        }
        let off = meta.arena.len();
        meta.arena.extend_from_slice(&buf, GFP_KERNEL)?;
        meta.recs.push((h, off), GFP_KERNEL)?;
    };
    let plan = plan(&meta, args.task, why)?;

    // Meet the other tasks of this restart; from here on a failure fails them all.
    let sess = join(slot, key, plan.live, plan.task.tgid, why)?;
    let part = Part { sess: &sess };
    let r = restore(
        &plan,
        &sess,
        args,
        pipes,
        &mut rd,
        &mut buf,
        first_pages,
        why,
    );
    match r {
        Ok(ax) => {
            core::mem::forget(part);
            if plan.leader() {
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
            cur::kill();
            Err(EINTR)
        }
    }
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
    pid: i32,
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
            cur.join(pid)?;
            return Ok(cur.clone());
        }
    }
    let new = Session::new(key, live)?;
    new.join(pid)?;
    *s = Some(new.clone());
    Ok(new)
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn restore(
    plan: &Plan<'_>,
    sess: &Session,
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first_pages: (RecordHeader, Stop),
    why: &mut Reason,
) -> core::result::Result<u64, Failed> {
    check_caller(plan, why).map_err(Failed::Before)?;
    if plan.leader() {
        // Phase 2: open what the process refers to.
        let opened = open_files(plan, sess, args, pipes, why).map_err(Failed::Before)?;
        // One process of those sharing an fd table installs it.
        let install = sess
            .files_opened(plan.task.files, plan.files_sharers)
            .map_err(Failed::Before)?;
        // Its threads must be off the restarter's code before its memory goes.
        sess.wait_threads(plan.task.tgid, plan.nthreads)
            .map_err(Failed::Before)?;
        // Phase 3: the point of no return.
        overlay(plan, sess, &opened, install, rd, buf, first_pages, why).map_err(Failed::After)?;
        sess.process_ready(plan.task.tgid).map_err(Failed::After)?;
    } else {
        // The thread's own state refers to memory (rseq): wait for the address space.
        sess.wait_process(plan.task.tgid).map_err(Failed::Before)?;
    }
    let entry = restore_task(plan, why).map_err(Failed::After)?;
    sess.done_and_wait().map_err(Failed::After)?;
    // CPU state last: nothing can fail any more.
    let mut regs: [u64; NREGS] = plan.regs.r;
    if let Entry::Sigreturn { sp, ip } = entry {
        // Into the vDSO's syscall instruction with rax = rt_sigreturn: the kernel's
        // sigreturn loads the registers and FPU state from the frame.
        regs[image::REG_RIP] = ip;
        regs[image::REG_RSP] = sp;
        regs[image::REG_RAX] = NR_RT_SIGRETURN;
        regs[REG_EFLAGS] &= !EFLAGS_TF;
    }
    cur::set_regs(&regs);
    Ok(regs[image::REG_RAX])
}

/// Reports a bad or unreadable page record.
fn page_records(why: &mut Reason, b: Bad) -> Error {
    match b {
        Bad::Image(e) => why.set(EINVAL, format_args!("page records: {}", e.describe())),
        Bad::Errno(e) => why.set(e, format_args!("reading page records failed")),
    }
}

/// Calls `f(addr, first, n, force)` for each run of `n` pages of `pg` from page `first` at
/// consecutive addresses inside one mapping of the plan that may hold pages (`force`:
/// the mapping is read-only).
fn page_runs(
    p: &Plan<'_>,
    pg: &image::Pages<'_>,
    why: &mut Reason,
    mut f: impl FnMut(u64, usize, usize, bool) -> Result,
) -> Result {
    if pg.mm != p.mm.id {
        return Err(why.set(EINVAL, format_args!("pages of an unknown mm")));
    }
    let mut i = 0;
    while i < pg.count() {
        let a = pg.addr(i);
        let v = p
            .vmas
            .iter()
            .find(|v| v.start <= a && a < v.end)
            .ok_or_else(|| why.set(EINVAL, format_args!("page {a:#x} outside every mapping")))?;
        if matches!(
            v.backing,
            backing::VDSO | backing::VVAR | backing::FILE_SHARED
        ) {
            return Err(why.set(
                EINVAL,
                format_args!("page {a:#x} in a mapping without contents"),
            ));
        }
        let mut n = 1;
        while i + n < pg.count()
            && pg.addr(i + n) == a + (n * image::PAGE_SIZE) as u64
            && pg.addr(i + n) < v.end
        {
            n += 1;
        }
        f(a, i, n, v.prot & PROT_WRITE == 0)
            .map_err(|e| why.set(e, format_args!("cannot fill pages at {a:#x}")))?;
        i += n;
    }
    Ok(())
}

/// Applies the page record `h`, whose header was just read, straight from the image:
/// reads its addresses (into `buf`) and checks them, then reads its data into the
/// caller's pages they name, verifies the record's check over those pages and feeds
/// the record to the order checker.
fn pages_in_place(
    rd: &mut Reader,
    p: &Plan<'_>,
    opened: &Opened,
    h: &RecordHeader,
    buf: &mut KVVec<u8>,
    held: &mut HeldPages,
    why: &mut Reason,
) -> Result {
    let bad = |why: &mut Reason, e: image::ImageError| page_records(why, Bad::Image(e));
    // The prefix: mm and count, then the addresses.
    buf.resize(8, 0, GFP_KERNEL)?;
    rd.exact(buf).map_err(|e| page_records(why, Bad::io(e)))?;
    if u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) != p.mm.id {
        // Another process's pages, or a memfd's contents: read whole, checked.
        buf.resize(h.len as usize, 0, GFP_KERNEL)?;
        rd.exact(&mut buf[8..])
            .map_err(|e| page_records(why, Bad::io(e)))?;
        h.verify(buf).map_err(|e| bad(why, e))?;
        let r = AnyRecord::decode(h, buf).map_err(|e| bad(why, e))?;
        if let AnyRecord::Pages(pg) = &r {
            fill_memfd(opened, pg, why)?;
        }
        return rd
            .account
            .feed(h, &r)
            .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())));
    }
    let n = image::Pages::count_from_head(buf).map_err(|e| bad(why, e))?;
    buf.resize(image::Pages::prefix_len(n), 0, GFP_KERNEL)?;
    rd.exact(&mut buf[8..])
        .map_err(|e| page_records(why, Bad::io(e)))?;
    let pg = image::Pages::decode_prefix(buf, h.len).map_err(|e| bad(why, e))?;
    let mut check = RecordHeader::hasher(h.kind, h.version, h.len);
    check.update(buf);
    // The data, run by run, into place.
    page_runs(p, &pg, why, |a, _, n, force| {
        held.clear();
        cur::hold_pages(a, n, force, held)?;
        let got = rd.file.read_pages(held, &mut rd.pos)?;
        if got != n * image::PAGE_SIZE {
            return Err(short_read());
        }
        held.for_each_bytes(|b| check.update(b));
        held.clear();
        Ok(())
    })
    .map_err(|e| {
        held.clear();
        if e == short_read() {
            bad(why, image::ImageError::Truncated)
        } else {
            e
        }
    })?;
    if RecordHeader::seal(h.kind, h.version, h.len, &check).check != h.check {
        return Err(bad(why, image::ImageError::BadCheck { kind: h.kind }));
    }
    rd.account
        .feed(h, &AnyRecord::Pages(pg))
        .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))
}

/// Writes the contents of memfd `pg.mm` if this process made it (else nothing: another
/// process's pages, checked and skipped).
fn fill_memfd(opened: &Opened, pg: &image::Pages<'_>, why: &mut Reason) -> Result {
    let Some(&(_, size, _)) = opened.memfds.iter().find(|m| m.0 == pg.mm) else {
        return Ok(());
    };
    let file = opened.get(pg.mm).ok_or(EINVAL)?;
    for i in 0..pg.count() {
        let off = pg.addr(i);
        if off >= size {
            return Err(why.set(EINVAL, format_args!("memfd page {off:#x} past its end")));
        }
        let n = (size - off).min(image::PAGE_SIZE as u64) as usize;
        file.write_at(&pg.page(i)[..n], off as i64)
            .map_err(|e| why.set(e, format_args!("cannot fill a memfd")))?;
    }
    Ok(())
}

/// Which of the two records that end phase 1 did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Pages,
    End,
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

/// Resolves the references of task `pid` of the image (0: its root process) and checks
/// what the format cannot.
#[inline(never)]
fn plan<'a>(meta: &'a Meta, pid: i32, why: &mut Reason) -> Result<Plan<'a>> {
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
    let mut live = 0u32;
    for r in meta.iter() {
        match r {
            AnyRecord::Header(h) => header = Some(h),
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
    let mut mm = None;
    let mut vmas = KVec::new();
    let mut fds = KVec::new();
    let mut fs = None;
    let mut sighand = None;
    let mut signal = None;
    let mut creds = None;
    let mut all_files = KVec::new();
    let mut all_pipes = KVec::new();
    let mut nthreads = 0u32;
    let mut files_sharers = 0u32;
    // Records that belong to the last mm, fd table and task seen.
    let (mut in_mm, mut in_files, mut in_task) = (0u32, 0u32, false);
    for r in meta.iter() {
        match r {
            AnyRecord::Task(t) => {
                in_task = t.pid == pid;
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
            AnyRecord::Regs(r) if in_task => regs = Some(r),
            AnyRecord::Xstate(x) if in_task => xstate = Some(x),
            AnyRecord::ThreadSignals(t) if in_task => tsig = Some(t),
            AnyRecord::Rlimits(r) if in_task => rlimits = Some(r),
            AnyRecord::Rseq(r) if in_task => rseq = Some(r),
            AnyRecord::Mm(m) => {
                in_mm = m.id;
                if m.id == task.mm {
                    mm = Some(m);
                }
            }
            AnyRecord::Vma(v) if in_mm == task.mm => vmas.push(v, GFP_KERNEL)?,
            AnyRecord::Files(f) => in_files = f.id,
            AnyRecord::Fd(f) if in_files == task.files => fds.push(f, GFP_KERNEL)?,
            AnyRecord::Fs(f) if f.id == task.fs => fs = Some(f),
            AnyRecord::Sighand(s) if s.id == task.sighand => sighand = Some(s),
            AnyRecord::Signal(s) if s.id == task.signal => signal = Some(s),
            AnyRecord::Creds(c) if c.id == task.creds => creds = Some(c),
            AnyRecord::File(f) => all_files.push(f, GFP_KERNEL)?,
            AnyRecord::Pipe(p) => all_pipes.push(p, GFP_KERNEL)?,
            _ => {}
        }
    }
    // Only the files (and their pipes) this process uses.
    let mut files = KVec::new();
    for f in all_files.iter() {
        if fds.iter().any(|d| d.file == f.id) || vmas.iter().any(|v| v.file == f.id) {
            files.push(*f, GFP_KERNEL)?;
        }
    }
    let mut pipes = KVec::new();
    for q in all_pipes.iter() {
        if files.iter().any(|f| f.pipe == q.id) {
            pipes.push(*q, GFP_KERNEL)?;
        }
    }
    let p = Plan {
        live,
        nthreads,
        files_sharers,
        task,
        regs: regs.ok_or_else(|| missing(why, "regs"))?,
        xstate,
        tsig: tsig.ok_or_else(|| missing(why, "thread-signals"))?,
        rlimits,
        rseq,
        mm: mm.ok_or_else(|| lacks(why))?,
        vmas,
        fds,
        fs: fs.ok_or_else(|| lacks(why))?,
        sighand: sighand.ok_or_else(|| lacks(why))?,
        signal: signal.ok_or_else(|| lacks(why))?,
        creds: creds.ok_or_else(|| lacks(why))?,
        files,
        pipes,
    };
    if p.mm.nr_vmas as usize != p.vmas.len() {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("mm {} lacks vmas", p.mm.id),
        ));
    }
    for v in p.vmas.iter() {
        let kind = if v.file == 0 {
            None
        } else {
            Some(p.file(v.file).map(|f| f.kind))
        };
        let ok = match (v.backing, kind) {
            (_, None) => v.backing != backing::FILE_PRIVATE && v.backing != backing::FILE_SHARED,
            (backing::ANON_SHARED, Some(k)) => {
                k == Some(filekind::SHMEM) || k == Some(filekind::SYSVSHM)
            }
            (backing::FILE_PRIVATE | backing::FILE_SHARED, Some(k)) => {
                k == Some(filekind::REG) || k == Some(filekind::CHR) || k == Some(filekind::MEMFD)
            }
            _ => false,
        };
        if !ok {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("vma {:#x}: bad file reference", v.start),
            ));
        }
        if v.backing == backing::ANON_SHARED && v.prot & PROT_WRITE == 0 {
            return Err(refuse(
                why,
                eopnotsupp(),
                format_args!("read-only shared anonymous mapping at {:#x}", v.start),
            ));
        }
    }
    for f in p.fds.iter() {
        if p.file(f.file).is_none_or(|f| f.kind == filekind::SHMEM) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("fd {} refers to no file", f.fd),
            ));
        }
    }
    for f in p.files.iter() {
        if f.pipe != 0 && !p.pipes.iter().any(|q| q.id == f.pipe) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("file {} refers to no pipe", f.id),
            ));
        }
    }
    // The FPU state must fit this CPU.
    let (size, features) = cur::xstate_size()?;
    if let Some(x) = &p.xstate {
        if x.xstate_bv & !features != 0 {
            return Err(refuse(
                why,
                eopnotsupp(),
                format_args!(
                    "image uses FPU state {:#x} this CPU lacks (has {features:#x})",
                    x.xstate_bv & !features
                ),
            ));
        }
        if size == 0 {
            return Err(refuse(
                why,
                eopnotsupp(),
                format_args!("this CPU has no XSAVE"),
            ));
        }
    }
    Ok(p)
}

impl<'a> Plan<'a> {
    fn file(&self, id: u32) -> Option<&image::FileRec<'a>> {
        self.files.iter().find(|f| f.id == id)
    }

    /// Whether the task leads its process (and so restores what its threads share).
    fn leader(&self) -> bool {
        self.task.flags & image::TASK_LEADER != 0
    }
}

fn path_z(p: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(p.len() + 1, GFP_KERNEL)?;
    v.extend_from_slice(p, GFP_KERNEL)?;
    v.push(0, GFP_KERNEL)?;
    Ok(v)
}

fn show(p: &[u8]) -> &str {
    core::str::from_utf8(p).unwrap_or("(non-UTF-8 path)")
}

/// The caller must stand where the image expects and may take on its identity.
fn check_caller(p: &Plan<'_>, why: &mut Reason) -> Result {
    let (n, leader, shared) = cur::threads()?;
    if leader && shared {
        return Err(refuse(
            why,
            EBUSY,
            format_args!("the caller's address space is shared with another process"),
        ));
    }
    // Threads come one by one; the leader comes last, when all of them exist.
    if leader != p.leader() || (leader && n != p.nthreads) {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "task {} of the image is {} of a process of {} threads; the caller is {} of {} (`ckpt restart` creates them)",
                p.task.pid,
                if p.leader() { "the leader" } else { "a thread" },
                p.nthreads,
                if leader { "the leader" } else { "a thread" },
                n
            ),
        ));
    }
    if !p.leader() {
        // A thread takes its process's creds too; the rest is the leader's to check.
        let (creds, groups) = creds_of(&p.creds)?;
        return cur::creds(&creds, &groups, p.creds.no_new_privs != 0, false).map_err(|e| {
            refuse(
                why,
                e,
                format_args!("the image's credentials are more than the caller has"),
            )
        });
    }
    let mut cwd = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let mut root = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let me = shim::TaskRef::current();
    let (_, cl, rl) = me.fs(&mut cwd, &mut root)?;
    if &cwd[..cl] != p.fs.cwd || &root[..rl] != p.fs.root {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the caller must be in the image's directory {} (root {}); `ckpt restart` does this",
                show(p.fs.cwd),
                show(p.fs.root)
            ),
        ));
    }
    // The vDSO cannot be moved from here: it must already be where the image had it.
    for v in p
        .vmas
        .iter()
        .filter(|v| matches!(v.backing, backing::VDSO | backing::VVAR))
    {
        let mut name = [0u8; 40];
        let n = v.name.len().min(name.len() - 1);
        name[..n].copy_from_slice(&v.name[..n]);
        let name = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
        if cur::special(name) != Some((v.start, v.end)) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "{} must be at {:#x}-{:#x} (`ckpt restart` moves it there)",
                    show(v.name),
                    v.start,
                    v.end
                ),
            ));
        }
    }
    for name in [c"[vdso]", c"[vvar]", c"[vvar_vclock]"] {
        if let Some((s, e)) = cur::special(name) {
            let kept = p.vmas.iter().any(|v| v.start == s && v.end == e);
            if !kept && p.vmas.iter().any(|v| v.start < e && s < v.end) {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!("the caller's vDSO at {s:#x} overlaps a mapping of the image"),
                ));
            }
        }
    }
    let (creds, groups) = creds_of(&p.creds)?;
    cur::creds(&creds, &groups, p.creds.no_new_privs != 0, false).map_err(|e| {
        refuse(
            why,
            e,
            format_args!("the image's credentials are more than the caller has"),
        )
    })?;
    if let Some(r) = &p.rlimits {
        cur::rlimits(&r.lim, false).map_err(|e| {
            refuse(
                why,
                e,
                format_args!("the image's resource limits exceed the caller's"),
            )
        })?;
    }
    Ok(())
}

fn creds_of(c: &image::Creds<'_>) -> Result<(CredsRaw, KVec<u32>)> {
    let mut groups = KVec::with_capacity(c.ngroups(), GFP_KERNEL)?;
    for i in 0..c.ngroups() {
        groups.push(c.group(i), GFP_KERNEL)?;
    }
    Ok((
        CredsRaw {
            uids: c.uids,
            gids: c.gids,
            caps: c.caps,
            securebits: c.securebits,
            ngroups: c.ngroups() as u32,
        },
        groups,
    ))
}

/// Files opened for the image, by object id.
struct Opened {
    files: KVec<(u32, FileRef)>,
    /// Memfds this process created (id, size, seals): it fills and seals them.
    memfds: KVec<(u32, u64, u32)>,
}

impl Opened {
    fn get(&self, id: u32) -> Option<&FileRef> {
        self.files.iter().find(|(i, _)| *i == id).map(|(_, f)| f)
    }
}

/// Opens (or takes from the caller) the file of record `f`.
fn open_one(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<FileRef> {
    let inherit = args.flags & uapi::CKPT_RESTART_INHERIT_STDIO != 0;
    let strict = args.flags & uapi::CKPT_RESTART_IGNORE_CHANGED == 0;
    Ok(match f.kind {
        filekind::PIPE => {
            let Some(q) = pipes.iter().find(|q| q.id == f.pipe) else {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!("no pipe was passed for pipe {} of the image", f.pipe),
                ));
            };
            let fd = if f.flags & O_ACCMODE == O_WRONLY {
                q.wfd
            } else {
                q.rfd
            };
            let file = FileRef::fd(fd)
                .map_err(|e| refuse(why, e, format_args!("pipe fd {fd} is not open")))?;
            file.set_flags(f.flags);
            file
        }
        filekind::TTY if inherit => {
            // The image's terminal becomes the caller's stdio (by the fd using it).
            let n = p
                .fds
                .iter()
                .find(|d| d.file == f.id && d.fd < 3)
                .map_or(1, |d| d.fd as usize);
            let fd = args.stdio[n];
            FileRef::fd(fd)
                .map_err(|e| refuse(why, e, format_args!("stdio fd {fd} is not open")))?
        }
        filekind::MEMFD => {
            // "/memfd:NAME (deleted)" -> NAME
            let name = f.path.strip_prefix(b"/memfd:").unwrap_or(f.path);
            let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
            let name = path_z(name)?;
            let name = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
            let file = shim::memfd_new(name, f.size, f.mode)
                .map_err(|e| refuse(why, e, format_args!("cannot create {}", show(f.path))))?;
            file.set_flags(f.flags);
            file.seek(f.pos)
                .map_err(|e| refuse(why, e, format_args!("cannot seek {}", show(f.path))))?;
            file
        }
        _ => {
            let path = path_z(f.path)?;
            let flags = if f.kind == filekind::FIFO {
                f.flags | O_NONBLOCK
            } else {
                f.flags
            };
            let file = FileRef::open(&path, flags)
                .map_err(|e| refuse(why, e, format_args!("cannot open {}", show(f.path))))?;
            if f.kind == filekind::REG && strict {
                let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
                let (fi, _) = file.info(&mut pb)?;
                if fi.size != f.size || fi.mtime_ns != f.mtime_ns {
                    return Err(refuse(
                        why,
                        Error::from_errno(-(kernel::bindings::ESTALE as i32)),
                        format_args!(
                            "{} changed since the checkpoint (size {} -> {})",
                            show(f.path),
                            f.size,
                            fi.size
                        ),
                    ));
                }
            }
            if f.kind == filekind::FIFO {
                file.set_flags(f.flags);
            }
            if f.kind == filekind::REG || f.kind == filekind::DIR {
                file.seek(f.pos)
                    .map_err(|e| refuse(why, e, format_args!("cannot seek {}", show(f.path))))?;
            }
            file
        }
    })
}

fn open_files(
    p: &Plan<'_>,
    sess: &Session,
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<Opened> {
    let mut out = Opened {
        files: KVec::new(),
        memfds: KVec::new(),
    };
    for f in p.files.iter() {
        if f.kind == filekind::SHMEM {
            continue;
        }
        if f.kind == filekind::SYSVSHM {
            // The restarter attached the segment (`ckpt restart` does): its mapping
            // is mapped again where the image had it.
            let file = cur::sysv_file(u64::from(f.rdev)).ok_or_else(|| {
                refuse(
                    why,
                    EINVAL,
                    format_args!(
                        "SysV shared memory segment {} ({}) is not attached by the caller",
                        f.rdev,
                        show(f.path)
                    ),
                )
            })?;
            out.files.push((f.id, file), GFP_KERNEL)?;
            continue;
        }
        let mut made = false;
        let file = sess.file(f.id, || {
            made = true;
            open_one(p, f, args, pipes, why)
        })?;
        if made && f.kind == filekind::MEMFD {
            out.memfds.push((f.id, f.size, f.rdev), GFP_KERNEL)?;
        }
        out.files.push((f.id, file), GFP_KERNEL)?;
    }
    // Buffered pipe bytes go back: into the restarter's fresh pipe for an anonymous
    // pipe, through a temporary writer for a fifo -- unless the fifo still holds them
    // (another process kept it open).
    for q in p.pipes.iter() {
        if q.data.is_empty() || !sess.first_fill(q.id)? {
            continue;
        }
        if let Some(f) = p
            .files
            .iter()
            .find(|f| f.pipe == q.id && f.kind == filekind::FIFO)
        {
            let opened_fifo = out.get(f.id).ok_or(EINVAL)?;
            let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
            let (fi, _) = opened_fifo.info(&mut pb)?;
            if fi.pipe_len != 0 {
                continue;
            }
            if q.data.len() > fi.pipe_capacity as usize {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!("fifo {} is too small", show(f.path)),
                ));
            }
            let w = FileRef::open(&path_z(f.path)?, O_WRONLY | O_NONBLOCK)
                .map_err(|e| refuse(why, e, format_args!("cannot refill fifo {}", show(f.path))))?;
            w.write_all(q.data)
                .map_err(|e| refuse(why, e, format_args!("cannot refill fifo {}", show(f.path))))?;
            continue;
        }
        let Some(given) = pipes.iter().find(|g| g.id == q.id) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("no pipe was passed for pipe {}", q.id),
            ));
        };
        let w = FileRef::fd(given.wfd)
            .map_err(|e| refuse(why, e, format_args!("pipe fd {} is not open", given.wfd)))?;
        let mut pb = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let (fi, _) = w.info(&mut pb)?;
        if fi.pipe_key == 0 || (fi.pipe_capacity as usize) < q.data.len() + fi.pipe_len as usize {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "pipe fd {} is not an empty pipe with room for {} bytes",
                    given.wfd,
                    q.data.len()
                ),
            ));
        }
        w.write_all(q.data)
            .map_err(|e| refuse(why, e, format_args!("cannot refill pipe {}", q.id)))?;
    }
    Ok(out)
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn overlay(
    p: &Plan<'_>,
    sess: &Session,
    opened: &Opened,
    install: bool,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first: (RecordHeader, Stop),
    why: &mut Reason,
) -> Result {
    // The address space; the restarter's rseq area goes with it. Its SysV
    // attachments stay until the image's are made (a segment marked for removal
    // would go with its last attachment).
    let sysv = cur::sysv_ranges()?;
    cur::unmap_all()?;
    cur::set_rseq(0, 0, 0)?;
    for v in p.vmas.iter() {
        let len = v.end - v.start;
        let shm;
        let (file, share, off) = match v.backing {
            backing::VDSO | backing::VVAR | backing::VSYSCALL => continue,
            backing::FILE_PRIVATE | backing::FILE_SHARED => (
                opened.get(v.file),
                if v.backing == backing::FILE_SHARED {
                    MAP_SHARED
                } else {
                    MAP_PRIVATE
                },
                v.pgoff << 12,
            ),
            backing::ANON_SHARED if p.file(v.file).is_some_and(|f| f.kind == filekind::SYSVSHM) => {
                (opened.get(v.file), MAP_SHARED, v.pgoff << 12)
            }
            backing::ANON_SHARED if v.file != 0 => {
                // One memory object for every process that maps it.
                let size = p.file(v.file).ok_or(EINVAL)?.size;
                shm = sess.shmem(v.file, size).map_err(|e| {
                    why.set(
                        e,
                        format_args!("cannot create shared memory of {size} bytes"),
                    )
                })?;
                (Some(&shm), MAP_SHARED, v.pgoff << 12)
            }
            backing::ANON_SHARED => (None, MAP_SHARED | MAP_ANONYMOUS, 0),
            _ => (None, MAP_PRIVATE | MAP_ANONYMOUS, 0),
        };
        let mut flags = share | MAP_FIXED_NOREPLACE;
        if v.flags & image::vmflag::GROWSDOWN != 0 {
            flags |= MAP_GROWSDOWN;
        }
        if v.flags & image::vmflag::LOCKED != 0 {
            flags |= MAP_LOCKED;
        }
        cur::mmap(file, v.start, len, v.prot, flags, off)
            .map_err(|e| why.set(e, format_args!("cannot map {:#x}-{:#x}", v.start, v.end)))?;
    }
    for &(s, e) in sysv.iter() {
        cur::munmap(s, e)?;
    }
    let mut auxv = [0u64; image::MAX_AUXV_WORDS];
    let n = p.mm.auxv_len();
    for (i, w) in auxv[..n].iter_mut().enumerate() {
        *w = p.mm.auxv_word(i);
    }
    cur::set_layout(&p.mm.layout, &auxv[..n])?;

    // The pages.  The first page record was read and checked in phase 1 and is
    // copied into place from `buf`; each later one is read straight into place:
    // its addresses first, checked, then its data into the pages they name, and
    // its check is verified over those pages before anything else is read.  A
    // bad record stops the restart there, as a bad record found before it was
    // applied would: past the point of no return, the process is killed.
    let mut held = HeldPages::with_capacity(image::MAX_PAGES_PER_RECORD as usize)?;
    let (mut h, mut stop) = first;
    let mut buffered = true;
    loop {
        if buffered {
            let r = AnyRecord::decode(&h, buf).map_err(|_| EINVAL)?;
            if let AnyRecord::Pages(pg) = &r {
                if pg.mm == p.mm.id {
                    page_runs(p, pg, why, |a, i, n, force| {
                        let ps = image::PAGE_SIZE;
                        cur::fill_pages(a, &pg.data[i * ps..(i + n) * ps], force)
                    })?;
                } else {
                    fill_memfd(opened, pg, why)?;
                }
            }
            rd.account
                .feed(&h, &r)
                .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
        }
        if stop == Stop::End {
            break;
        }
        let (next, known) = rd.header().map_err(|b| page_records(why, b))?;
        h = next;
        buffered = !(known && h.kind == image::kind::PAGES);
        if !buffered {
            pages_in_place(rd, p, opened, &h, buf, &mut held, why)?;
            continue;
        }
        rd.payload(&h, buf).map_err(|b| page_records(why, b))?;
        if !known {
            rd.account
                .skip(&h)
                .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
            buffered = false;
            continue;
        }
        stop = match AnyRecord::decode(&h, buf) {
            Ok(AnyRecord::Pages(_)) => Stop::Pages,
            Ok(AnyRecord::End(_)) => Stop::End,
            _ => return Err(why.set(EINVAL, format_args!("unexpected record among the pages"))),
        };
    }
    rd.account
        .finish()
        .map_err(|e| why.set(EINVAL, format_args!("{}", e.describe())))?;
    for &(id, _, seals) in opened.memfds.iter() {
        opened.get(id).ok_or(EINVAL)?.seal(seals)?;
    }

    // File descriptors at their numbers (by one process of those sharing the table).
    if install {
        install_fds(p, opened, why)?;
    }
    restore_process_signals(p)
}

/// Empties the caller's fd table and installs the image's at their numbers.
fn install_fds(p: &Plan<'_>, opened: &Opened, why: &mut Reason) -> Result {
    cur::close_fds();
    let mut holes = KVec::new();
    let mut res = Ok(());
    for d in p.fds.iter() {
        let file = opened.get(d.file).ok_or(EINVAL)?;
        loop {
            match cur::reserve_fd(d.flags & image::FD_CLOEXEC != 0) {
                Ok(n) if (n as u32) < d.fd => holes.push(n, GFP_KERNEL)?,
                Ok(n) if n as u32 == d.fd => {
                    cur::install_fd(n, file);
                    break;
                }
                Ok(n) => {
                    cur::unreserve_fd(n);
                    res = Err(why.set(EMFILE, format_args!("cannot place fd {}", d.fd)));
                    break;
                }
                Err(e) => {
                    res = Err(why.set(e, format_args!("cannot place fd {}", d.fd)));
                    break;
                }
            }
        }
        if res.is_err() {
            break;
        }
    }
    for n in holes.iter() {
        cur::unreserve_fd(*n);
    }
    res
}

/// Signal handlers and the process-wide signal state, and the limits.
fn restore_process_signals(p: &Plan<'_>) -> Result {
    // Signal handlers and process-wide signal state.
    let mut sa = KVec::from_elem(SigActionRaw::default(), image::NSIG, GFP_KERNEL)?;
    for (o, a) in sa.iter_mut().zip(p.sighand.actions()) {
        *o = SigActionRaw {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        };
    }
    cur::set_sigactions(&sa)?;
    let real = p.signal.itimers[0];
    cur::set_itimer_real(real.value_ns, real.interval_ns);
    // The process's shared pending signals (queued to the leader: no exported way
    // reaches the shared queue).
    for i in 0..p.signal.shared.len() {
        cur::queue_signal(p.signal.shared.get(i).info)?;
    }
    if let Some(r) = &p.rlimits {
        cur::rlimits(&r.lim, true)?;
    }
    Ok(())
}

/// `__NR_rt_sigreturn` on x86_64.
const NR_RT_SIGRETURN: u64 = 15;
/// Index of `eflags` in [`image::Regs::r`].
const REG_EFLAGS: usize = 18;
/// The trap flag.
const EFLAGS_TF: u64 = 0x100;

/// How a restored task enters user mode.
enum Entry {
    /// Straight into its registers (its FPU state, if any, already loaded).
    Direct,
    /// Through `rt_sigreturn` of the signal frame at `sp - 8`, from the `syscall`
    /// instruction at `ip`.
    Sigreturn { sp: u64, ip: u64 },
}

/// What every task sets on itself: its signal state, identity, credentials, rseq
/// area and FPU state (the registers come last, once the whole session is there).
#[inline(never)]
fn restore_task(p: &Plan<'_>, why: &mut Reason) -> Result<Entry> {
    cur::set_altstack(
        p.tsig.altstack_sp,
        p.tsig.altstack_size,
        p.tsig.altstack_flags,
    );
    cur::set_blocked(p.tsig.blocked);
    for i in 0..p.tsig.pending.len() {
        cur::queue_signal(p.tsig.pending.get(i).info)?;
    }
    let t = &p.task;
    cur::set_misc(
        t.comm,
        t.personality,
        p.fs.umask,
        (t.set_child_tid, t.clear_child_tid),
        t.robust_list,
    );
    let (creds, groups) = creds_of(&p.creds)?;
    cur::creds(&creds, &groups, p.creds.no_new_privs != 0, true)?;
    if let Some(r) = &p.rseq {
        cur::set_rseq(r.ptr, r.len, r.sig)
            .map_err(|e| why.set(e, format_args!("the rseq area was refused")))?;
    }
    let Some(x) = &p.xstate else {
        return Ok(Entry::Direct);
    };
    let (size, _) = cur::xstate_size()?;
    let mut area = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    let n = x.area.len().min(size);
    area[..n].copy_from_slice(&x.area[..n]);
    // The FPU state goes in as a signal return would load it; where no frame can be
    // written (no room below the stack pointer, no vDSO), as ptrace would set it.
    let alt = (
        p.tsig.altstack_sp,
        p.tsig.altstack_size,
        p.tsig.altstack_flags,
    );
    if let Ok((sp, ip)) = cur::sigframe(&p.regs.r, &area, p.tsig.blocked, alt) {
        return Ok(Entry::Sigreturn { sp, ip });
    }
    cur::set_xstate(&area).map_err(|e| why.set(e, format_args!("the FPU state was refused")))?;
    Ok(Entry::Direct)
}
