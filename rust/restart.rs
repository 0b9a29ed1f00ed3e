// SPDX-License-Identifier: GPL-2.0

//! Restart: overlay the calling task with an image, "like exec", as BLCR and Linux-CR did.
//!
//! Three phases. (1) Read and validate every record but the pages, and check that the
//! caller is fit (single-threaded, in the image's working directory, vDSO in place) and
//! allowed (credentials, limits) -- nothing is changed yet, and a failure is an errno
//! plus a reason. (2) Open every file the image needs. (3) The point of no return:
//! replace the address space and fill it from the page records, install the fds, then
//! signals, limits, credentials, registers and FPU state; the ioctl then returns into the
//! restored program. A failure in (3) kills the caller: it never returns to a
//! half-restored user context.

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, backing, filekind, AnyRecord, OrderChecker, RecordHeader};
use crate::shim::{self, cur, CredsRaw, FileRef, HeldPages, SigActionRaw, NREGS};
use crate::uapi::{self, CkptRestartArgs, CkptRestartPipe};
use kernel::prelude::*;

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

/// Everything the restored process refers to, resolved and checked.
struct Plan<'a> {
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

/// `CKPT_IOC_RESTART`.
#[inline(never)]
pub(crate) fn restart(
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<isize> {
    if args.flags & !uapi::CKPT_RESTART_FLAGS != 0 || args.pad != 0 || args.reserved != [0; 4] {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("bad flags or reserved fields"),
        ));
    }
    cur::single().map_err(|e| {
        refuse(
            why,
            e,
            format_args!("the caller must be single-threaded with its own address space"),
        )
    })?;
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
    let first_pages = loop {
        nrec += 1;
        let h = match rd.next(&mut buf) {
            Ok(h) => h,
            Err(b) => return Err(bad(why, b, nrec)),
        };
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
    let plan = plan(&meta, why)?;
    check_caller(&plan, why)?;

    // Phase 2: open what the image refers to.
    let opened = open_files(&plan, args, pipes, why)?;

    // Phase 3: the point of no return.
    match overlay(&plan, &opened, &mut rd, &mut buf, first_pages, why) {
        Ok(ax) => {
            pr_info!(
                "restarted pid {} ({}) from image of pid {}\n",
                shim::current_pid(),
                core::str::from_utf8(plan.task.comm).unwrap_or("?"),
                plan.task.pid
            );
            Ok(ax as isize)
        }
        Err(e) => {
            crate::log_failure(
                "restart (after the point of no return)",
                plan.task.pid,
                e,
                why,
            );
            cur::kill();
            Err(EINTR)
        }
    }
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
    h: &RecordHeader,
    buf: &mut KVVec<u8>,
    held: &mut HeldPages,
    why: &mut Reason,
) -> Result {
    let bad = |why: &mut Reason, e: image::ImageError| page_records(why, Bad::Image(e));
    // The prefix: mm and count, then the addresses.
    buf.resize(8, 0, GFP_KERNEL)?;
    rd.exact(buf).map_err(|e| page_records(why, Bad::io(e)))?;
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

/// Resolves references and checks what the format cannot.
#[inline(never)]
fn plan<'a>(meta: &'a Meta, why: &mut Reason) -> Result<Plan<'a>> {
    let mut task = None;
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
    let mut files = KVec::new();
    let mut pipes = KVec::new();
    let mut header = None;
    for r in meta.iter() {
        match r {
            AnyRecord::Header(h) => header = Some(h),
            AnyRecord::Task(t) => {
                if task.is_some() {
                    return Err(refuse(
                        why,
                        eopnotsupp(),
                        format_args!("multi-threaded images cannot be restarted yet"),
                    ));
                }
                task = Some(t);
            }
            AnyRecord::Regs(r) => regs = Some(r),
            AnyRecord::Xstate(x) => xstate = Some(x),
            AnyRecord::ThreadSignals(t) => tsig = Some(t),
            AnyRecord::Rlimits(r) => rlimits = Some(r),
            AnyRecord::Rseq(r) => rseq = Some(r),
            AnyRecord::Mm(m) => {
                if mm.is_some() {
                    return Err(refuse(why, EINVAL, format_args!("more than one mm")));
                }
                mm = Some(m);
            }
            AnyRecord::Vma(v) => vmas.push(v, GFP_KERNEL)?,
            AnyRecord::Fd(f) => fds.push(f, GFP_KERNEL)?,
            AnyRecord::Fs(f) => fs = Some(f),
            AnyRecord::Sighand(s) => sighand = Some(s),
            AnyRecord::Signal(s) => signal = Some(s),
            AnyRecord::Creds(c) => creds = Some(c),
            AnyRecord::File(f) => files.push(f, GFP_KERNEL)?,
            AnyRecord::Pipe(p) => pipes.push(p, GFP_KERNEL)?,
            AnyRecord::Files(_) | AnyRecord::Pages(_) | AnyRecord::End(_) => {}
        }
    }
    let missing = |why: &mut Reason, what: &str| {
        refuse(why, EINVAL, format_args!("image has no {what} record"))
    };
    let header = header.ok_or_else(|| missing(why, "header"))?;
    if header.ntasks != 1 {
        return Err(refuse(
            why,
            eopnotsupp(),
            format_args!("images of {} tasks cannot be restarted yet", header.ntasks),
        ));
    }
    let p = Plan {
        task: task.ok_or_else(|| missing(why, "task"))?,
        regs: regs.ok_or_else(|| missing(why, "regs"))?,
        xstate,
        tsig: tsig.ok_or_else(|| missing(why, "thread-signals"))?,
        rlimits,
        rseq,
        mm: mm.ok_or_else(|| missing(why, "mm"))?,
        vmas,
        fds,
        fs: fs.ok_or_else(|| missing(why, "fs"))?,
        sighand: sighand.ok_or_else(|| missing(why, "sighand"))?,
        signal: signal.ok_or_else(|| missing(why, "signal"))?,
        creds: creds.ok_or_else(|| missing(why, "creds"))?,
        files,
        pipes,
    };
    let t = &p.task;
    if t.mm != p.mm.id
        || t.fs != p.fs.id
        || t.sighand != p.sighand.id
        || t.signal != p.signal.id
        || t.creds != p.creds.id
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!("task refers to objects the image lacks"),
        ));
    }
    for v in p.vmas.iter() {
        if v.file != 0
            && p.file(v.file)
                .is_none_or(|f| f.kind != filekind::REG && f.kind != filekind::CHR)
        {
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
        if p.file(f.file).is_none() {
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
}

impl Opened {
    fn get(&self, id: u32) -> Option<&FileRef> {
        self.files.iter().find(|(i, _)| *i == id).map(|(_, f)| f)
    }
}

fn open_files(
    p: &Plan<'_>,
    args: &CkptRestartArgs,
    pipes: &[CkptRestartPipe],
    why: &mut Reason,
) -> Result<Opened> {
    let mut out = Opened { files: KVec::new() };
    let inherit = args.flags & uapi::CKPT_RESTART_INHERIT_STDIO != 0;
    let strict = args.flags & uapi::CKPT_RESTART_IGNORE_CHANGED == 0;
    for f in p.files.iter() {
        let file = match f.kind {
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
                    file.seek(f.pos).map_err(|e| {
                        refuse(why, e, format_args!("cannot seek {}", show(f.path)))
                    })?;
                }
                file
            }
        };
        out.files.push((f.id, file), GFP_KERNEL)?;
    }
    // Buffered pipe bytes go back: into the restarter's fresh pipe for an anonymous
    // pipe, through a temporary writer for a fifo -- unless the fifo still holds them
    // (another process kept it open).
    for q in p.pipes.iter() {
        if q.data.is_empty() {
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
fn overlay(
    p: &Plan<'_>,
    opened: &Opened,
    rd: &mut Reader,
    buf: &mut KVVec<u8>,
    first: (RecordHeader, Stop),
    why: &mut Reason,
) -> Result<u64> {
    // The address space; the restarter's rseq area goes with it.
    cur::unmap_all()?;
    cur::set_rseq(0, 0, 0)?;
    for v in p.vmas.iter() {
        let len = v.end - v.start;
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
                page_runs(p, pg, why, |a, i, n, force| {
                    let ps = image::PAGE_SIZE;
                    cur::fill_pages(a, &pg.data[i * ps..(i + n) * ps], force)
                })?;
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
            pages_in_place(rd, p, &h, buf, &mut held, why)?;
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

    // File descriptors at their numbers.
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
    res?;

    // Signals.
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
    cur::set_altstack(
        p.tsig.altstack_sp,
        p.tsig.altstack_size,
        p.tsig.altstack_flags,
    );
    let real = p.signal.itimers[0];
    cur::set_itimer_real(real.value_ns, real.interval_ns);
    cur::set_blocked(p.tsig.blocked);
    for q in [&p.tsig.pending, &p.signal.shared] {
        for i in 0..q.len() {
            cur::queue_signal(q.get(i).info)?;
        }
    }

    // Identity and limits.
    let t = &p.task;
    cur::set_misc(
        t.comm,
        t.personality,
        p.fs.umask,
        (t.set_child_tid, t.clear_child_tid),
        t.robust_list,
    );
    if let Some(r) = &p.rlimits {
        cur::rlimits(&r.lim, true)?;
    }
    let (creds, groups) = creds_of(&p.creds)?;
    cur::creds(&creds, &groups, p.creds.no_new_privs != 0, true)?;

    if let Some(r) = &p.rseq {
        cur::set_rseq(r.ptr, r.len, r.sig)
            .map_err(|e| why.set(e, format_args!("the rseq area was refused")))?;
    }

    // CPU state last.
    if let Some(x) = &p.xstate {
        let (size, _) = cur::xstate_size()?;
        let mut area = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
        let n = x.area.len().min(size);
        area[..n].copy_from_slice(&x.area[..n]);
        cur::set_xstate(&area)
            .map_err(|e| why.set(e, format_args!("the FPU state was refused")))?;
    }
    let regs: [u64; NREGS] = p.regs.r;
    cur::set_regs(&regs);
    Ok(regs[image::REG_RAX])
}
