// SPDX-License-Identifier: GPL-2.0

//! [`OrderChecker`]: the stream-order rules every reader applies.

use super::*;

/// Checks the order of records in a stream, for readers of any kind: a
/// [`Header`] first, an [`End`] last and nothing after it, [`Vma`]/[`Pages`]
/// only inside an address space, [`Fd`] only inside a fd table, per-task
/// records only after a [`Task`], VMAs ascending and non-overlapping, every
/// referenced object id defined before use.
#[derive(Clone, Debug, Default)]
pub struct OrderChecker {
    started: bool,
    ended: bool,
    in_mm: bool,
    vmas_left: u32,
    last_vma_end: u64,
    fds_left: u32,
    last_fd: Option<u32>,
    in_task: bool,
    pages_mm: u32,
    last_page: Option<u64>,
    /// The source mm of the [`PageRefs`] just read: the next record is a
    /// [`Pages`] record of it (or more references to it).
    refs_src: u32,
    mms: u32,
    tasks: u32,
    ntasks: u32,
    vdso: bool,
    vdso_text: bool,
    /// The [`MsgQueue`] whose messages come next, and how many are left.
    msgq: i32,
    msgs_left: u32,
    /// The record just fed was a [`UnixSkb`] (or its [`UnixCreds`]).
    after_skb: bool,
    /// The record just fed was a [`UnixCreds`].
    after_creds: bool,
    /// The record just fed was a [`UnixSock`].
    after_sock: bool,
    /// The file id of the [`Pty`] record just fed (0: the last record was not one).
    after_pty: u32,
    /// An [`IpcNs`] record was read.
    ipc_ns: bool,
    /// A [`Parent`] record was read (the image is incremental).
    parent: bool,
    /// A [`Track`] record was read.
    track: bool,
    /// End of the last [`ParentPages`] run of address space `pages_mm`.
    last_run_end: u64,
    /// Ids of defined objects, kept small: the highest defined id; ids are
    /// assigned in increasing order by writers.
    max_id: u32,
    account: StreamAccount,
}

impl OrderChecker {
    /// A checker for a new stream.
    pub fn new() -> Self {
        Self {
            account: StreamAccount::new(),
            ..Default::default()
        }
    }

    fn define(&mut self, id: u32) -> Result<()> {
        check(id > self.max_id, "object ids not increasing")?;
        self.max_id = id;
        Ok(())
    }

    fn uses(&self, id: u32) -> Result<()> {
        check(id <= self.max_id, "reference to an undefined object")
    }

    /// Feeds one verified, decoded record.
    pub fn feed(&mut self, h: &RecordHeader, r: &AnyRecord<'_>) -> Result<()> {
        use AnyRecord as R;
        let bad = |m| Err(ImageError::BadOrder(m));
        if self.ended {
            return bad("record after the end record");
        }
        if !self.started {
            if !matches!(r, R::Header(_)) {
                return bad("stream does not start with a header");
            }
            self.started = true;
        }
        // Close an address space whose announced mappings are done.
        if self.in_mm && self.vmas_left == 0 {
            self.in_mm = false;
        }
        if self.vmas_left > 0 && !matches!(r, R::Vma(_)) {
            return bad("fewer vma records than the mm announced");
        }
        if self.fds_left > 0 && !matches!(r, R::Fd(_)) {
            return bad("fewer fd records than the fd table announced");
        }
        if self.msgs_left > 0 && !matches!(r, R::SysvMsg(_)) {
            return bad("fewer messages than the message queue announced");
        }
        if self.pages_mm != 0
            && !matches!(
                r,
                R::Pages(_) | R::PageRefs(_) | R::ParentPages(_) | R::End(_)
            )
        {
            return bad("record after the page records");
        }
        match r {
            R::Pages(p) if self.refs_src == 0 || p.mm == self.refs_src => self.refs_src = 0,
            R::PageRefs(p) if self.refs_src == 0 || p.src == self.refs_src => {}
            _ if self.refs_src != 0 => {
                return bad("page references not followed by their source's pages")
            }
            _ => {}
        }
        if !matches!(
            r,
            R::Task(_)
                | R::Regs(_)
                | R::Xstate(_)
                | R::ThreadSignals(_)
                | R::Rlimits(_)
                | R::Rseq(_)
                | R::Ctty(_)
                | R::TaskAttrs(_)
        ) {
            self.in_task = false;
        }
        match r {
            R::Vdso(_) => {
                if self.vdso || self.tasks != 0 || self.mms != 0 {
                    return bad("vdso record not once before the tasks");
                }
                self.vdso = true;
            }
            R::VdsoText(_) => {
                if !self.vdso || self.vdso_text || self.tasks != 0 || self.mms != 0 {
                    return bad("vdso-text record not once after the vdso record");
                }
                self.vdso_text = true;
            }
            R::Header(hd) => {
                if self.account.records != 0 || self.ntasks != 0 {
                    return bad("second header");
                }
                self.ntasks = hd.ntasks;
            }
            R::End(e) => {
                if self.tasks != self.ntasks {
                    return bad("task count differs from the header");
                }
                if e.account != self.account {
                    return Err(ImageError::TrailerMismatch);
                }
                self.ended = true;
                return Ok(());
            }
            R::Mm(m) => {
                self.define(m.id)?;
                self.mms += 1;
                self.in_mm = true;
                self.vmas_left = m.nr_vmas;
                self.last_vma_end = 0;
            }
            R::Vma(v) => {
                if !self.in_mm || self.vmas_left == 0 {
                    return bad("vma outside an mm");
                }
                check(
                    v.start >= self.last_vma_end,
                    "vmas overlap or are not sorted",
                )?;
                self.uses(v.file)?;
                self.last_vma_end = v.end;
                self.vmas_left -= 1;
            }
            R::Pages(p) => {
                self.uses(p.mm)?;
                if self.mms == 0 {
                    return bad("pages before any mm");
                }
                if p.mm < self.pages_mm {
                    return bad("page records not grouped by mm");
                }
                if p.mm != self.pages_mm {
                    self.pages_mm = p.mm;
                    self.last_page = None;
                    self.last_run_end = 0;
                }
                check(
                    self.last_page.is_none_or(|l| l < p.addr(0)),
                    "pages not ascending",
                )?;
                self.last_page = Some(p.addr(p.count() - 1));
            }
            R::ParentPages(p) => {
                self.uses(p.mm)?;
                if !self.parent {
                    return bad("parent-pages in an image without a parent");
                }
                if self.mms == 0 {
                    return bad("pages before any mm");
                }
                if p.mm < self.pages_mm {
                    return bad("page records not grouped by mm");
                }
                if p.mm != self.pages_mm {
                    self.pages_mm = p.mm;
                    self.last_page = None;
                    self.last_run_end = 0;
                }
                check(
                    p.run(0).0 >= self.last_run_end,
                    "parent-pages: runs not ascending",
                )?;
                self.last_run_end = p.run_end(p.count() - 1);
            }
            R::Parent(_) => {
                if self.account.records != 1 {
                    return bad("parent record not right after the header");
                }
                self.parent = true;
            }
            R::Track(_) => {
                if self.track || self.mms != 0 || self.tasks != 0 {
                    return bad("track record not once before the address spaces");
                }
                self.track = true;
            }
            R::PageRefs(p) => {
                self.uses(p.mm)?;
                if self.mms == 0 {
                    return bad("pages before any mm");
                }
                // Among the source's pages (the next record is one), so before
                // the pages of the mm they belong to (a later one).
                if p.src < self.pages_mm {
                    return bad("page references after their source's pages");
                }
                self.refs_src = p.src;
            }
            R::File(f) => {
                self.define(f.id)?;
                self.uses(f.pipe)?;
            }
            R::Pipe(p) => self.define(p.id)?,
            R::Fown(f) => self.uses(f.file)?,
            R::Files(f) => {
                self.define(f.id)?;
                self.fds_left = f.count;
                self.last_fd = None;
            }
            R::Fd(f) => {
                if self.fds_left == 0 {
                    return bad("fd outside an fd table");
                }
                check(self.last_fd.is_none_or(|l| l < f.fd), "fds not ascending")?;
                self.uses(f.file)?;
                self.last_fd = Some(f.fd);
                self.fds_left -= 1;
            }
            R::Fs(f) => self.define(f.id)?,
            R::Pty(t) => self.uses(t.file)?,
            R::PtyInput(t) => {
                if t.file != self.after_pty {
                    return bad("pty-input not right after its file's pty record");
                }
            }
            R::CwdDeleted(c) => self.uses(c.fs)?,
            R::FileOwner(o) => self.uses(o.file)?,
            R::LinkTarget(l) => self.uses(l.file)?,
            R::FileOpener(o) => self.uses(o.file)?,
            R::Eventfd(e) => self.uses(e.file)?,
            R::Timerfd(t) => self.uses(t.file)?,
            R::Signalfd(s) => self.uses(s.file)?,
            R::InotifyWatch(w) => self.uses(w.file)?,
            R::FanotifyGroup(g) => self.uses(g.file)?,
            R::FanotifyMark(m) => self.uses(m.file)?,
            R::Pidfd(p) => self.uses(p.file)?,
            R::EpollItem(e) => {
                self.uses(e.file)?;
                self.uses(e.target)?;
            }
            R::UnixSock(u) => self.uses(u.file)?,
            R::UnixSkb(_) => {}
            R::UnixPeer(_) => {
                if !self.after_sock {
                    return bad("unix-peer record not just after a unix record");
                }
            }
            R::UnixCreds(_) => {
                if !self.after_skb || self.after_creds {
                    return bad("unix-creds record not just after a unix-skb record");
                }
            }
            R::UnixFds(f) => {
                if !self.after_skb {
                    return bad("unix-fds record not after a unix-skb record");
                }
                for i in 0..f.count() {
                    self.uses(f.file(i))?;
                }
            }
            R::SemSet(_) | R::MsgQueue(_) | R::SysvMsg(_) | R::IpcNs(_)
                if self.mms != 0 || self.tasks != 0 =>
            {
                return bad("SysV IPC record after the first address space or task");
            }
            R::SemSet(_) => {}
            R::IpcNs(_) => {
                if self.ipc_ns {
                    return bad("second sysv-ns record");
                }
                self.ipc_ns = true;
            }
            R::MsgQueue(q) => {
                self.msgq = q.perm.id;
                self.msgs_left = q.count;
            }
            R::SysvMsg(m) => {
                if self.msgs_left == 0 || m.queue != self.msgq {
                    return bad("message outside its message queue");
                }
                self.msgs_left -= 1;
            }
            R::Sighand(s) => self.define(s.id)?,
            R::Signal(s) => self.define(s.id)?,
            R::PosixTimer(t) => self.uses(t.signal)?,
            R::FileLock(l) => {
                self.uses(l.files)?;
                self.uses(l.file)?;
            }
            R::FileLease(l) => {
                self.uses(l.files)?;
                self.uses(l.file)?;
            }
            R::Creds(c) => self.define(c.id)?,
            R::Task(t) => {
                for id in [t.mm, t.files, t.fs, t.sighand, t.signal, t.creds] {
                    self.uses(id)?;
                }
                self.tasks += 1;
                if self.tasks > self.ntasks {
                    return bad("more tasks than the header announced");
                }
                self.in_task = true;
            }
            R::Regs(_)
            | R::Xstate(_)
            | R::ThreadSignals(_)
            | R::Rlimits(_)
            | R::Rseq(_)
            | R::Ctty(_)
            | R::TaskAttrs(_) => {
                if !self.in_task {
                    return bad("per-task record before any task");
                }
            }
        }
        self.after_skb = matches!(r, R::UnixSkb(_) | R::UnixCreds(_));
        self.after_creds = matches!(r, R::UnixCreds(_));
        self.after_sock = matches!(r, R::UnixSock(_));
        self.after_pty = match r {
            R::Pty(t) => t.file,
            _ => 0,
        };
        self.account.add(h);
        Ok(())
    }

    /// Accounts for an optional record the reader skipped.
    pub fn skip(&mut self, h: &RecordHeader) -> Result<()> {
        if !self.started {
            return Err(ImageError::BadOrder("stream does not start with a header"));
        }
        self.account.add(h);
        Ok(())
    }

    /// The account so far (what an [`End`] record written now would hold).
    pub fn account(&self) -> StreamAccount {
        self.account
    }

    /// Fails unless the stream was properly closed.
    pub fn finish(&self) -> Result<()> {
        if !self.ended {
            return Err(ImageError::Truncated);
        }
        Ok(())
    }
}
