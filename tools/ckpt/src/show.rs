// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`: decodes a whole image, streaming, and prints it as text or
//! as one JSON document.
//!
//! # JSON schema
//!
//! Field names are those of the structs in `rust/image/`. Integers
//! (addresses and registers included) are JSON numbers, exact up to
//! `u64::MAX`; byte strings (names, paths) are strings, decoded as UTF-8
//! with invalid bytes replaced by U+FFFD. Fields not in the Rust structs are
//! marked `+`.
//!
//! ```text
//! { "header":  { format_major, format_minor, arch, flags, page_size, xstate_size,
//!                xfeatures, time_ns, root_pid, ntasks, kernel_release, hostname,
//!                writer, +time: "YYYY-MM-DD hh:mm:ss.mmm UTC" },
//!   "tasks":   [ { pid, tgid, ppid, pgid, sid, flags, +flag_names: ["leader", ...],
//!                  exit_signal, exit_code, personality, mm, files, fs, sighand,
//!                  signal, creds, set_child_tid, clear_child_tid, robust_list,
//!                  robust_list_len, comm,
//!                  "regs": { r15, r14, ..., gs: number }   (names of REG_NAMES),
//!                  +"regs_hex": { r15: "0x...", ... },
//!                  "xstate": { xstate_bv, +size, +area_hex },
//!                  "signals": { blocked, altstack_sp, altstack_size, altstack_flags,
//!                               pending: QUEUE },           (ThreadSignals)
//!                  "rlimits": [ [soft, hard] x 16 ],        (RLIMIT_* order)
//!                  "rseq": { ptr, len, sig } } ],          (if registered)
//!   "mms":     [ { id, nr_vmas, start_code, end_code, ... env_end (MM_LAYOUT_NAMES),
//!                  auxv_len, auxv: [auxv_len words], exe,
//!                  "vmas": [ { start, end, pgoff, prot, +prot_str: "rw-p", flags,
//!                              backing, +backing_name: "anon", file, name } ],
//!                  "pages": { +count, +bytes, +records,     (Pages records of this mm)
//!                             +addrs: [addresses]  (only with --pages) } } ],
//!   "files":   [ { id, kind, +kind_name, flags, mode, pos, size, mtime_ns, rdev,
//!                  pipe, path } ],
//!   "pipes":   [ { id, capacity, +data_len, +data_hex: "68656c6c6f" } ],
//!   "fdtables":[ { id, count, "fds": [ { fd, file, flags, +cloexec: bool } ] } ],
//!   "fs":      [ { id, umask, cwd, root } ],
//!   "sighands":[ { id, action: [ { +signo, +name, handler, flags, restorer, mask } x 64 ] } ],
//!   "signals": [ { id, itimers: [ { value_ns, interval_ns } x 3 ], shared: QUEUE } ],
//!   "creds":   [ { id, uids: [4], gids: [4], caps: [5], securebits, no_new_privs,
//!                  groups: [numbers] } ],
//!   "end":     { account: { records, bytes, chain } },
//!   +"skipped":[ { index, offset, kind, version, len } ] }   (optional records)
//!
//! QUEUE = { pending, +queued: [ { +signo, +code, +info_hex } ] }
//! ```
//!
//! Per-task records are attached to the task they follow, [`Vma`] records
//! to the mm they follow, [`Pages`] records to the mm they name
//! (`Pages::mm`), [`Fd`] records to their fd table. The
//! document is printed only if the whole image is valid.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use crate::image::*;
use crate::json;
use crate::names;
use crate::reader::{Entry, Item, ReadError, Reader, Totals};

/// What to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// One JSON document instead of text.
    pub json: bool,
    /// List every page address.
    pub pages: bool,
}

/// Why `show` failed.
#[derive(Debug)]
pub enum ShowError {
    /// The image is invalid or unreadable.
    Read(ReadError),
    /// The output could not be written.
    Write(io::Error),
}

impl From<ReadError> for ShowError {
    fn from(e: ReadError) -> Self {
        Self::Read(e)
    }
}

impl From<io::Error> for ShowError {
    fn from(e: io::Error) -> Self {
        Self::Write(e)
    }
}

/// Decodes the image in `input` and prints it to `out`.
pub fn show<R: Read, W: Write>(
    input: R,
    out: &mut W,
    opts: &Options,
) -> std::result::Result<Totals, ShowError> {
    let mut reader = Reader::new(input)?;
    let mut skipped = 0;
    if opts.json {
        let mut doc = json::Builder::new(opts.pages);
        while let Some(e) = reader.next_record()? {
            skipped += u64::from(e.item == Item::Skipped);
            doc.add(&e);
        }
        serde_json::to_writer_pretty(&mut *out, &doc.finish()).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        let mut text = Text::new(out, opts.pages);
        while let Some(e) = reader.next_record()? {
            skipped += u64::from(e.item == Item::Skipped);
            text.entry(&e)?;
        }
        writeln!(
            text.out,
            "valid image: {} records, {} bytes",
            reader.records(),
            reader.offset()
        )?;
    }
    out.flush()?;
    Ok(Totals {
        records: reader.records(),
        bytes: reader.offset(),
        skipped,
    })
}

/// The text printer.
struct Text<'w, W: Write> {
    out: &'w mut W,
    list_pages: bool,
    /// What each file id is, for fds and mappings.
    files: HashMap<u32, String>,
}

impl<'w, W: Write> Text<'w, W> {
    fn new(out: &'w mut W, list_pages: bool) -> Self {
        Self {
            out,
            list_pages,
            files: HashMap::new(),
        }
    }

    fn file(&self, id: u32) -> String {
        self.files
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("file #{id}"))
    }

    fn entry(&mut self, e: &Entry<'_>) -> io::Result<()> {
        let r = match e.item {
            Item::Record(r) => r,
            Item::Skipped => {
                return writeln!(
                    self.out,
                    "record #{}: optional kind {:#06x} version {}, {} bytes: skipped",
                    e.index, e.header.kind, e.header.version, e.header.len
                )
            }
        };
        let o = &mut *self.out;
        match r {
            AnyRecord::Header(h) => {
                let arch = if h.arch == ARCH_X86_64 { "x86_64" } else { "?" };
                writeln!(
                    o,
                    "image format {}.{}, {arch}, page size {}",
                    h.format_major, h.format_minor, h.page_size
                )?;
                writeln!(
                    o,
                    "  taken {} on {}, kernel {}, by {}",
                    names::utc(h.time_ns),
                    names::path(h.hostname),
                    names::path(h.kernel_release),
                    names::escape(h.writer, 64)
                )?;
                writeln!(
                    o,
                    "  root pid {}, {} task{}; xstate {} bytes, xfeatures {:#x}",
                    h.root_pid,
                    h.ntasks,
                    if h.ntasks == 1 { "" } else { "s" },
                    h.xstate_size,
                    h.xfeatures
                )
            }
            AnyRecord::End(end) => {
                let a = end.account;
                writeln!(
                    o,
                    "end: {} records, {} bytes before it, chain {:#018x}",
                    a.records, a.bytes, a.chain
                )
            }
            AnyRecord::Task(t) => {
                let flags = names::bit_names(t.flags as u64, names::TASK_FLAGS);
                writeln!(
                    o,
                    "task {} {} (tgid {}, ppid {}, pgid {}, sid {}){}",
                    t.pid,
                    names::escape(t.comm, 16),
                    t.tgid,
                    t.ppid,
                    t.pgid,
                    t.sid,
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", flags.join(","))
                    }
                )?;
                writeln!(
                    o,
                    "  mm #{} files #{} fs #{} sighand #{} signal #{} creds #{}",
                    t.mm, t.files, t.fs, t.sighand, t.signal, t.creds
                )?;
                writeln!(
                    o,
                    "  exit_signal {} exit_code {} personality {:#x} set_child_tid {:#x} \
                     clear_child_tid {:#x} robust_list {:#x} ({} bytes)",
                    if t.exit_signal == 0 {
                        "none".to_string()
                    } else {
                        names::signal(t.exit_signal)
                    },
                    t.exit_code,
                    t.personality,
                    t.set_child_tid,
                    t.clear_child_tid,
                    t.robust_list,
                    t.robust_list_len
                )
            }
            AnyRecord::Vdso(v) => writeln!(
                o,
                "  vdso: {} bytes, {} symbols, digest {:#018x}",
                v.size, v.nsyms, v.digest
            ),
            AnyRecord::VdsoText(t) => {
                writeln!(o, "  vdso text: {} bytes", t.data.len())?;
                let mut r = Ok(());
                let parsed = crate::image::vdso::for_each_symbol(t.data, |s| {
                    if r.is_ok() {
                        r = writeln!(
                            o,
                            "    {:#06x} {:5} {}",
                            s.value,
                            s.size,
                            String::from_utf8_lossy(s.name)
                        );
                    }
                    Ok(())
                });
                r?;
                match parsed {
                    Ok(()) => Ok(()),
                    Err(e) => writeln!(o, "    (unreadable: {})", e.describe()),
                }
            }
            AnyRecord::Ctty(c) => writeln!(
                o,
                "  controlling terminal: {}, foreground group {}{}",
                names::path(c.path),
                c.fg_pgid,
                if c.leader != 0 {
                    ", session leader"
                } else {
                    ""
                }
            ),
            AnyRecord::Rseq(r) => writeln!(
                o,
                "  rseq: area {:#x}, {} bytes, signature {:#x}",
                r.ptr, r.len, r.sig
            ),
            AnyRecord::TaskAttrs(a) => {
                let sched = if a.rt_priority != 0 {
                    format!("{} priority {}", policy::name(a.policy), a.rt_priority)
                } else {
                    format!("{} nice {}", policy::name(a.policy), a.nice)
                };
                let mut extra = Vec::new();
                if a.sched_flags & SCHED_RESET_ON_FORK != 0 {
                    extra.push("reset-on-fork".to_string());
                }
                if a.pdeath_signal != 0 {
                    extra.push(format!(
                        "parent-death signal {}",
                        names::signal(a.pdeath_signal as i32)
                    ));
                }
                writeln!(
                    o,
                    "  attrs: {sched}{}{}",
                    if extra.is_empty() { "" } else { ", " },
                    extra.join(", ")
                )?;
                let thp = match a.thp_disable {
                    0 => "on",
                    1 => "disabled",
                    _ => "disabled except advised",
                };
                writeln!(
                    o,
                    "         process: oom_score_adj {}, dumpable {}, THP {thp}{}, membarrier {:#x}{}",
                    a.oom_score_adj,
                    a.dumpable,
                    if a.subreaper != 0 {
                        ", child subreaper"
                    } else {
                        ""
                    },
                    a.membarrier,
                    if a.stop_signal != 0 {
                        format!(", stopped by {}", names::signal(a.stop_signal as i32))
                    } else {
                        String::new()
                    }
                )
            }
            AnyRecord::Fown(f) => writeln!(
                o,
                "  file #{}: SIGIO owner {} {}, signal {}",
                f.file,
                match f.kind {
                    owner::TID => "thread",
                    owner::PGRP => "process group",
                    _ => "process",
                },
                f.pid,
                if f.signum == 0 {
                    "SIGIO".to_string()
                } else {
                    names::signal(f.signum as i32)
                }
            ),
            AnyRecord::Rlimits(r) => {
                write!(o, "  rlimits:")?;
                for (i, (name, (soft, hard))) in names::RLIMIT_NAMES.iter().zip(r.lim).enumerate() {
                    if i > 0 && i % 4 == 0 {
                        write!(o, "\n          ")?;
                    }
                    if soft == hard {
                        write!(o, " {name} {}", names::rlim(soft))?;
                    } else {
                        write!(o, " {name} {}/{}", names::rlim(soft), names::rlim(hard))?;
                    }
                    if i + 1 < NRLIMITS {
                        write!(o, ",")?;
                    }
                }
                writeln!(o)
            }
            AnyRecord::Regs(r) => {
                writeln!(o, "  regs:")?;
                for (row_names, row) in REG_NAMES.chunks(3).zip(r.r.chunks(3)) {
                    write!(o, "   ")?;
                    for (n, v) in row_names.iter().zip(row) {
                        write!(o, " {n:>8} {v:#018x}")?;
                    }
                    writeln!(o)?;
                }
                Ok(())
            }
            AnyRecord::Xstate(x) => writeln!(
                o,
                "  xstate: {} bytes, xstate_bv {:#x}",
                x.area.len(),
                x.xstate_bv
            ),
            AnyRecord::ThreadSignals(t) => {
                let alt = if t.altstack_size == 0 {
                    "none".to_string()
                } else {
                    format!(
                        "{:#x} size {} flags {:#x}",
                        t.altstack_sp, t.altstack_size, t.altstack_flags
                    )
                };
                writeln!(
                    o,
                    "  signals: blocked {}; altstack {alt}; pending {}",
                    names::sigset(t.blocked),
                    queue(&t.pending)
                )
            }
            AnyRecord::Mm(m) => {
                writeln!(
                    o,
                    "mm #{}: {} vmas, exe {}",
                    m.id,
                    m.nr_vmas,
                    if m.exe.is_empty() {
                        "none".to_string()
                    } else {
                        names::path(m.exe)
                    }
                )?;
                for (ns, vs) in MM_LAYOUT_NAMES.chunks(4).zip(m.layout.chunks(4)) {
                    write!(o, " ")?;
                    for (n, v) in ns.iter().zip(vs) {
                        write!(o, " {n} {v:#x}")?;
                    }
                    writeln!(o)?;
                }
                write!(o, "  auxv:")?;
                let auxv: Vec<u64> = (0..m.auxv_len()).map(|i| m.auxv_word(i)).collect();
                for p in auxv.chunks(2) {
                    if p[0] == 0 {
                        break;
                    }
                    write!(
                        o,
                        " {}={:#x}",
                        names::auxv_type(p[0]),
                        p.get(1).unwrap_or(&0)
                    )?;
                }
                writeln!(o)
            }
            AnyRecord::Vma(v) => {
                let extra = names::bit_names(
                    (v.flags
                        & !(vmflag::SHARED | vmflag::MAYREAD | vmflag::MAYWRITE | vmflag::MAYEXEC))
                        as u64,
                    names::VMFLAGS,
                );
                let what = if !v.name.is_empty() {
                    names::path(v.name)
                } else if v.file != 0 {
                    self.file(v.file)
                } else {
                    String::new()
                };
                let line = format!(
                    "  {:08x}-{:08x} {} {:08x} {:<12} {what}{}",
                    v.start,
                    v.end,
                    names::prot_str(&v),
                    v.pgoff.wrapping_mul(PAGE_SIZE as u64),
                    backing::name(v.backing),
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", extra.join(","))
                    }
                );
                writeln!(self.out, "{}", line.trim_end())
            }
            AnyRecord::Parent(p) => writeln!(
                o,
                "incremental: taken against parent {} (track id {:#018x}, {} bytes, chain {:#018x})",
                String::from_utf8_lossy(p.path),
                p.track,
                p.account.bytes,
                p.account.chain
            ),
            AnyRecord::Track(t) => writeln!(
                o,
                "dirty tracking started: track id {:#018x} (a later `checkpoint --parent` names it)",
                t.id
            ),
            AnyRecord::ParentPages(p) => {
                let n = p.count();
                write!(
                    o,
                    "pages of mm #{}: {} page{} unchanged since the parent, in {n} run{}, {:#x}-{:#x}",
                    p.mm,
                    p.pages(),
                    if p.pages() == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" },
                    p.run(0).0,
                    p.run_end(n - 1)
                )?;
                if self.list_pages {
                    for i in 0..n {
                        if i % 4 == 0 {
                            write!(o, "\n   ")?;
                        }
                        let (s, k) = p.run(i);
                        write!(o, " {s:#x}+{k}")?;
                    }
                }
                writeln!(o)
            }
            AnyRecord::PageRefs(p) => {
                let n = p.count();
                write!(
                    o,
                    "pages of mm #{}: {n} page{} shared with mm #{} (copy-on-write), {:#x}-{:#x}",
                    p.mm,
                    if n == 1 { "" } else { "s" },
                    p.src,
                    p.addr(0),
                    p.addr(n - 1) + PAGE_SIZE as u64
                )?;
                if self.list_pages {
                    for i in 0..n {
                        if i % 6 == 0 {
                            write!(o, "\n   ")?;
                        }
                        write!(o, " {:#x}", p.addr(i))?;
                    }
                }
                writeln!(o)
            }
            AnyRecord::Pages(p) => {
                let n = p.count();
                let of = match self.files.get(&p.mm) {
                    // A memfd's contents: "addresses" are offsets in it.
                    Some(_) => "contents of memfd",
                    None => "pages of mm",
                };
                write!(
                    o,
                    "{of} #{}: {n} page{} ({}), {:#x}-{:#x}",
                    p.mm,
                    if n == 1 { "" } else { "s" },
                    names::size((n * PAGE_SIZE) as u64),
                    p.addr(0),
                    p.addr(n - 1) + PAGE_SIZE as u64
                )?;
                if self.list_pages {
                    for i in 0..n {
                        if i % 6 == 0 {
                            write!(o, "\n   ")?;
                        }
                        write!(o, " {:#x}", p.addr(i))?;
                    }
                }
                writeln!(o)
            }
            AnyRecord::File(f) => {
                let name = if f.kind == filekind::PIPE {
                    format!("pipe #{}", f.pipe)
                } else {
                    names::path(f.path)
                };
                let what = if f.kind == filekind::PIPE {
                    name.clone()
                } else {
                    format!("{} {name}", filekind::name(f.kind))
                };
                write!(
                    o,
                    "file #{}: {what} flags {} mode {:06o} pos {}",
                    f.id,
                    names::open_flags(f.flags),
                    f.mode,
                    f.pos
                )?;
                match f.kind {
                    filekind::REG => write!(
                        o,
                        " size {} mtime {}",
                        f.size,
                        names::utc(f.mtime_ns.max(0) as u64)
                    )?,
                    filekind::CHR | filekind::TTY => {
                        write!(o, " rdev {}:{}", f.rdev >> 20, f.rdev & 0xf_ffff)?
                    }
                    filekind::FIFO => write!(o, " pipe #{}", f.pipe)?,
                    filekind::SHMEM => write!(o, " size {}", f.size)?,
                    filekind::MEMFD => write!(o, " size {} seals {:#x}", f.size, f.rdev)?,
                    _ => {}
                }
                writeln!(o)?;
                self.files.insert(f.id, name);
                Ok(())
            }
            AnyRecord::Pipe(p) => writeln!(
                o,
                "pipe #{}: capacity {}, {} bytes buffered{}",
                p.id,
                p.capacity,
                p.data.len(),
                if p.data.is_empty() {
                    String::new()
                } else {
                    format!(": {}", names::escape(p.data, 32))
                }
            ),
            AnyRecord::Files(f) => writeln!(o, "fd table #{}: {} fds", f.id, f.count),
            AnyRecord::Fd(f) => {
                let file = self.file(f.file);
                let cloexec = if f.flags & FD_CLOEXEC != 0 {
                    " cloexec"
                } else {
                    ""
                };
                writeln!(self.out, "  fd {} -> {file}{cloexec}", f.fd)
            }
            AnyRecord::Pty(t) => writeln!(
                o,
                "  pty {} ({}{}, slave {}:{} {:04o}): termios iflag {:#o} oflag {:#o} cflag {:#o} \
                 lflag {:#o}, window {}x{}",
                t.index,
                if t.master != 0 { "master" } else { "slave" },
                match t.locked {
                    0 => "",
                    crate::image::PTY_HUNG_UP => ", hung up: its master was closed",
                    _ => ", locked",
                },
                t.uid,
                t.gid,
                t.mode & 0o7777,
                t.flags[0],
                t.flags[1],
                t.flags[2],
                t.flags[3],
                t.winsize[1],
                t.winsize[0]
            ),
            AnyRecord::PtyInput(t) => writeln!(
                o,
                "  {} bytes waiting to be read{}: {}",
                t.data.len(),
                if t.mode == crate::image::PTY_INPUT_CANON {
                    format!(", {} complete lines", t.line_ends().count())
                } else {
                    String::new()
                },
                names::escape(t.data, 32)
            ),
            AnyRecord::FileOwner(fo) => writeln!(o, "  owner {}:{}", fo.uid, fo.gid),
            AnyRecord::FileOpener(op) => writeln!(
                o,
                "  opened as {}:{} (groups {}), rights the process gave up since",
                op.fsuid,
                op.fsgid,
                op.groups.len() / 4
            ),
            AnyRecord::LinkTarget(l) => {
                writeln!(o, "  link target {}", String::from_utf8_lossy(l.target))
            }
            AnyRecord::Eventfd(e) => writeln!(
                o,
                "  eventfd count {}{}",
                e.count,
                if e.flags != 0 { ", semaphore" } else { "" }
            ),
            AnyRecord::Timerfd(t) => writeln!(
                o,
                "  timerfd clock {}, flags {:#o}, {} ns left, interval {} ns, {} expirations unread",
                t.clockid, t.settime_flags, t.value_ns, t.interval_ns, t.ticks
            ),
            AnyRecord::Signalfd(sf) => writeln!(o, "  signalfd mask {:#018x}", sf.mask),
            AnyRecord::Pidfd(p) => writeln!(
                o,
                "  pidfd of {} {} (process {}){}",
                if p.flags & crate::image::PIDFD_THREAD != 0 {
                    "thread"
                } else {
                    "process"
                },
                p.pid,
                p.tgid,
                if p.flags & crate::image::PIDFD_NONBLOCK != 0 {
                    ", nonblocking"
                } else {
                    ""
                }
            ),
            AnyRecord::EpollItem(e) => {
                let target = self.file(e.target);
                let epoll = self.file(e.file);
                writeln!(
                    self.out,
                    "  {epoll} watches fd {} -> {target}: events {:#x}, data {:#x}",
                    e.tfd, e.events, e.data
                )
            }
            AnyRecord::InotifyWatch(w) => writeln!(
                o,
                "  inotify watch {} on {} (mask {:#x})",
                w.wd,
                names::path(w.path),
                w.mask
            ),
            AnyRecord::FanotifyGroup(g) => writeln!(
                o,
                "  fanotify group flags {:#x}, event flags {:#o}{}",
                g.flags,
                g.event_f_flags,
                if g.unpriv != 0 { ", unprivileged" } else { "" }
            ),
            AnyRecord::FanotifyMark(m) => writeln!(
                o,
                "  fanotify {}mark on {} (mask {:#x}, ignore mask {:#x}, flags {:#x})",
                match m.mark_type {
                    crate::image::FAN_MARK_MOUNT => "mount ",
                    crate::image::FAN_MARK_FILESYSTEM => "filesystem ",
                    _ => "",
                },
                names::path(m.path),
                m.mask,
                m.ignore_mask,
                m.flags
            ),
            AnyRecord::UnixSock(u) => writeln!(
                o,
                "  unix {} socket{} inode {}, state {}, name {}, peer {} {}, shutdown {}, \
                 flags {:#x}, backlog {}, sndbuf {}, rcvbuf {}, peek_off {}",
                crate::image::unix_type::name(u.sock_type),
                if u.file == 0 {
                    format!(" waiting in listener {}:", u.listener)
                } else {
                    String::new()
                },
                u.ino,
                u.state,
                crate::names::unix_name(u.name),
                u.peer,
                crate::names::unix_name(u.peer_name),
                u.shutdown,
                u.flags,
                u.backlog,
                u.sndbuf,
                u.rcvbuf,
                u.peek_off
            ),
            AnyRecord::UnixSkb(q) => writeln!(
                o,
                "    queued: {} bytes from inode {} ({})",
                q.data.len(),
                q.sender,
                crate::names::unix_name(q.sender_name)
            ),
            AnyRecord::UnixPeer(c) => writeln!(
                o,
                "    peer credentials (SO_PEERCRED): pid {}, uid {}, gid {}, {} groups",
                c.pid,
                c.uid,
                c.gid,
                c.ngroups()
            ),
            AnyRecord::UnixCreds(c) => writeln!(
                o,
                "      with credentials (SCM_CREDENTIALS): pid {}, uid {}, gid {}",
                c.pid, c.uid, c.gid
            ),
            AnyRecord::UnixFds(u) => writeln!(
                o,
                "      with files in flight (SCM_RIGHTS): {:?}",
                (0..u.count()).map(|i| u.file(i)).collect::<Vec<_>>()
            ),
            AnyRecord::IpcNs(n) => writeln!(
                o,
                "SysV IPC namespace{}: msgmax {}, msgmnb {}, msgmni {}, sem {} {} {} {}, shmmax {}, shmall {}, shmmni {}",
                if n.flags & IPC_NS_OWN != 0 { " of their own" } else { "" },
                n.msgmax, n.msgmnb, n.msgmni, n.semmsl, n.semmns, n.semopm, n.semmni,
                n.shmmax, n.shmall, n.shmmni
            ),
            AnyRecord::SemSet(s) => writeln!(
                o,
                "SysV semaphore set {} (key {:#x}, mode {:04o}, uid {}): {} semaphores, values {:?}",
                s.perm.id,
                s.perm.key,
                s.perm.mode,
                s.perm.uid,
                s.nsems(),
                (0..s.nsems()).map(|i| s.value(i)).collect::<Vec<_>>()
            ),
            AnyRecord::MsgQueue(q) => writeln!(
                o,
                "SysV message queue {} (key {:#x}, mode {:04o}, uid {}): {} messages, limit {} bytes",
                q.perm.id, q.perm.key, q.perm.mode, q.perm.uid, q.count, q.qbytes
            ),
            AnyRecord::SysvMsg(m) => writeln!(
                o,
                "  message of type {}: {} bytes",
                m.mtype,
                m.data.len()
            ),
            AnyRecord::CwdDeleted(c) => writeln!(
                o,
                "  the working directory was deleted (mode {:04o})",
                c.mode & 0o7777
            ),
            AnyRecord::FileLease(l) => writeln!(
                o,
                "  file #{}: {} lease (F_SETLEASE), break signal for fd {}",
                l.file,
                if l.ltype == 1 { "write" } else { "read" },
                l.fd
            ),
            AnyRecord::FileLock(l) => writeln!(
                o,
                "  file #{}: {} {} lock{}{}",
                l.file,
                if l.ltype == 1 { "write" } else { "read" },
                match l.kind {
                    lockkind::POSIX => "POSIX",
                    lockkind::FLOCK => "flock",
                    _ => "OFD",
                },
                if l.kind == lockkind::FLOCK {
                    String::new()
                } else if l.end == LOCK_TO_EOF {
                    format!(" on bytes {}..EOF", l.start)
                } else {
                    format!(" on bytes {}..={}", l.start, l.end)
                },
                if l.pid != 0 {
                    format!(", held by {}", l.pid)
                } else {
                    String::new()
                }
            ),
            AnyRecord::PosixTimer(t) => writeln!(
                o,
                "  posix timer {} (clock {}): {}{}{}, {}{}",
                t.id,
                t.clock,
                if t.value_ns == 0 && t.flags & ptimer::SIGNAL_QUEUED == 0 {
                    "disarmed".to_string()
                } else if t.flags & ptimer::ABSTIME != 0 {
                    format!("at {} ns", t.value_ns)
                } else {
                    names::duration(t.value_ns)
                },
                if t.interval_ns != 0 {
                    format!(" every {}", names::duration(t.interval_ns))
                } else {
                    String::new()
                },
                if t.flags & ptimer::SIGNAL_QUEUED != 0 {
                    " (signal queued)"
                } else {
                    ""
                },
                match t.notify {
                    sigev::NONE => "no signal".to_string(),
                    sigev::THREAD_ID => format!(
                        "{} to thread {} value {:#x}",
                        names::signal(t.signo),
                        t.tid,
                        t.value
                    ),
                    _ => format!("{} value {:#x}", names::signal(t.signo), t.value),
                },
                if t.overrun != 0 {
                    format!(", overrun {}", t.overrun)
                } else {
                    String::new()
                }
            ),
            AnyRecord::Fs(f) => writeln!(
                o,
                "fs #{}: cwd {}, root {}, umask {:04o}",
                f.id,
                names::path(f.cwd),
                names::path(f.root),
                f.umask
            ),
            AnyRecord::Sighand(s) => {
                let set: Vec<_> = s
                    .actions()
                    .enumerate()
                    .filter(|(_, a)| *a != SigAction::default())
                    .collect();
                writeln!(
                    o,
                    "sighand #{}: {}",
                    s.id,
                    if set.is_empty() {
                        "all default".to_string()
                    } else {
                        format!("{} not default", set.len())
                    }
                )?;
                for (i, a) in set {
                    let sig = names::signal(i as i32 + 1);
                    match a.handler {
                        0 => write!(o, "  {sig}: default")?,
                        1 => write!(o, "  {sig}: ignored")?,
                        h => write!(o, "  {sig}: handler {h:#x}")?,
                    }
                    if a.flags != 0 {
                        let mut f = names::bit_names(a.flags, names::SA_FLAGS).join("|");
                        let known = names::SA_FLAGS.iter().fold(0, |m, (b, _)| m | b);
                        if a.flags & !known != 0 {
                            f.push_str(&format!("|{:#x}", a.flags & !known));
                        }
                        write!(o, " flags {f}")?;
                    }
                    if a.restorer != 0 {
                        write!(o, " restorer {:#x}", a.restorer)?;
                    }
                    if a.mask != 0 {
                        write!(o, " mask {}", names::sigset(a.mask))?;
                    }
                    writeln!(o)?;
                }
                Ok(())
            }
            AnyRecord::Signal(s) => {
                let timers: Vec<String> = ["real", "virtual", "prof"]
                    .iter()
                    .zip(s.itimers)
                    .filter(|(_, t)| t.value_ns != 0 || t.interval_ns != 0)
                    .map(|(n, t)| {
                        if t.interval_ns == 0 {
                            format!("{n} {}", names::duration(t.value_ns))
                        } else {
                            format!(
                                "{n} {} every {}",
                                names::duration(t.value_ns),
                                names::duration(t.interval_ns)
                            )
                        }
                    })
                    .collect();
                writeln!(
                    o,
                    "signal #{}: itimers {}; shared pending {}",
                    s.id,
                    if timers.is_empty() {
                        "none".to_string()
                    } else {
                        timers.join(", ")
                    },
                    queue(&s.shared)
                )
            }
            AnyRecord::Creds(c) => {
                let ids = |v: [u32; 4]| format!("{}/{}/{}/{}", v[0], v[1], v[2], v[3]);
                let groups: Vec<String> =
                    (0..c.ngroups()).map(|i| c.group(i).to_string()).collect();
                writeln!(
                    o,
                    "creds #{}: uid {} gid {} (real/effective/saved/fs), groups {}",
                    c.id,
                    ids(c.uids),
                    ids(c.gids),
                    if groups.is_empty() {
                        "none".to_string()
                    } else {
                        groups.join(",")
                    }
                )?;
                writeln!(
                    o,
                    "  caps inheritable {:#x} permitted {:#x} effective {:#x} bounding {:#x} \
                     ambient {:#x}; securebits {:#x}{}",
                    c.caps[0],
                    c.caps[1],
                    c.caps[2],
                    c.caps[3],
                    c.caps[4],
                    c.securebits,
                    if c.no_new_privs != 0 {
                        "; no_new_privs"
                    } else {
                        ""
                    }
                )
            }
        }
    }
}

/// `"SIGUSR1, 1 queued: SIGUSR1 code 0"`: a signal queue.
fn queue(q: &SigQueue<'_>) -> String {
    let mut s = names::sigset(q.pending);
    if !q.is_empty() {
        let v: Vec<String> = (0..q.len())
            .map(|i| {
                let g = q.get(i);
                format!("{} code {}", names::signal(g.signo()), g.code())
            })
            .collect();
        s.push_str(&format!(", {} queued: {}", q.len(), v.join(", ")));
    }
    s
}
