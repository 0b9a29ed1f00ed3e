// SPDX-License-Identifier: GPL-2.0

//! The JSON form of an image, built record by record; the schema is
//! documented in [`crate::show`].

use serde_json::{json, Map, Value};

use crate::image::*;
use crate::names;
use crate::reader::{Entry, Item};

type Obj = Map<String, Value>;

/// A byte string as a JSON string.
fn s(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

/// An object from a `json!` literal.
fn obj(v: Value) -> Obj {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! object literal"),
    }
}

/// An address space being collected.
struct MmAcc {
    id: u32,
    obj: Obj,
    vmas: Vec<Value>,
    pages: u64,
    shared_pages: u64,
    parent_pages: u64,
    page_records: u64,
    addrs: Vec<u64>,
}

/// Collects the records of an image into one JSON document.
pub struct Builder {
    list_pages: bool,
    header: Value,
    tasks: Vec<Obj>,
    mms: Vec<MmAcc>,
    files: Vec<Value>,
    pipes: Vec<Value>,
    fdtables: Vec<(Obj, Vec<Value>)>,
    fs: Vec<Value>,
    sighands: Vec<Value>,
    signals: Vec<Value>,
    creds: Vec<Value>,
    sysv: Vec<Value>,
    end: Value,
    skipped: Vec<Value>,
    /// Where the last unix-skb record went: its socket (file, entry of `unix`).
    skb_at: Option<(usize, usize)>,
}

/// The identity and permissions of a SysV object.
fn ipc_perm(p: &IpcPerm) -> Obj {
    obj(json!({
        "id": p.id,
        "key": p.key,
        "uid": p.uid,
        "gid": p.gid,
        "cuid": p.cuid,
        "cgid": p.cgid,
        "mode": format!("{:04o}", p.mode),
    }))
}

/// A signal queue.
pub fn queue(q: &SigQueue<'_>) -> Value {
    let queued: Vec<Value> = (0..q.len())
        .map(|i| {
            let g = q.get(i);
            json!({"signo": g.signo(), "code": g.code(), "info_hex": names::hex(g.info)})
        })
        .collect();
    json!({"pending": q.pending, "queued": queued})
}

/// The header record.
pub fn header(h: &Header<'_>) -> Value {
    json!({
        "format_major": h.format_major,
        "format_minor": h.format_minor,
        "arch": h.arch,
        "flags": h.flags,
        "page_size": h.page_size,
        "xstate_size": h.xstate_size,
        "xfeatures": h.xfeatures,
        "time_ns": h.time_ns,
        "time": names::utc(h.time_ns),
        "root_pid": h.root_pid,
        "ntasks": h.ntasks,
        "kernel_release": s(h.kernel_release),
        "hostname": s(h.hostname),
        "writer": s(h.writer),
    })
}

/// A task record (without its per-task records).
pub fn task(t: &Task<'_>) -> Obj {
    obj(json!({
        "pid": t.pid,
        "tgid": t.tgid,
        "ppid": t.ppid,
        "pgid": t.pgid,
        "sid": t.sid,
        "flags": t.flags,
        "flag_names": names::bit_names(t.flags as u64, names::TASK_FLAGS),
        "exit_signal": t.exit_signal,
        "exit_code": t.exit_code,
        "personality": t.personality,
        "mm": t.mm,
        "files": t.files,
        "fs": t.fs,
        "sighand": t.sighand,
        "signal": t.signal,
        "creds": t.creds,
        "set_child_tid": t.set_child_tid,
        "clear_child_tid": t.clear_child_tid,
        "robust_list": t.robust_list,
        "robust_list_len": t.robust_list_len,
        "comm": s(t.comm),
    }))
}

/// A mapping.
pub fn vma(v: &Vma<'_>) -> Value {
    json!({
        "start": v.start,
        "end": v.end,
        "pgoff": v.pgoff,
        "prot": v.prot,
        "prot_str": names::prot_str(v),
        "flags": v.flags,
        "backing": v.backing,
        "backing_name": backing::name(v.backing),
        "file": v.file,
        "name": s(v.name),
    })
}

/// An address-space record (without its mappings and pages).
pub fn mm(m: &MmRec<'_>) -> Obj {
    let mut o = obj(json!({"id": m.id, "nr_vmas": m.nr_vmas}));
    for (n, v) in MM_LAYOUT_NAMES.iter().zip(m.layout) {
        o.insert(n.to_string(), json!(v));
    }
    let auxv: Vec<u64> = (0..m.auxv_len()).map(|i| m.auxv_word(i)).collect();
    o.insert("auxv_len".into(), json!(m.auxv_len()));
    o.insert("auxv".into(), json!(auxv));
    o.insert("exe".into(), s(m.exe));
    o
}

/// A file record.
pub fn file(f: &FileRec<'_>) -> Value {
    json!({
        "id": f.id,
        "kind": f.kind,
        "kind_name": filekind::name(f.kind),
        "flags": f.flags,
        "mode": f.mode,
        "pos": f.pos,
        "size": f.size,
        "mtime_ns": f.mtime_ns,
        "rdev": f.rdev,
        "pipe": f.pipe,
        "path": s(f.path),
    })
}

/// A signal-handler table, all 64 actions.
pub fn sighand(sh: &Sighand) -> Value {
    let action: Vec<Value> = sh
        .actions()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "signo": i + 1,
                "name": names::signal(i as i32 + 1),
                "handler": a.handler,
                "flags": a.flags,
                "restorer": a.restorer,
                "mask": a.mask,
            })
        })
        .collect();
    json!({"id": sh.id, "action": action})
}

/// Credentials.
pub fn creds(c: &Creds<'_>) -> Value {
    let groups: Vec<u32> = (0..c.ngroups()).map(|i| c.group(i)).collect();
    json!({
        "id": c.id,
        "uids": c.uids,
        "gids": c.gids,
        "caps": c.caps,
        "securebits": c.securebits,
        "no_new_privs": c.no_new_privs,
        "groups": groups,
    })
}

impl Builder {
    /// A builder; `list_pages` adds every page address to the document.
    pub fn new(list_pages: bool) -> Self {
        Self {
            list_pages,
            header: Value::Null,
            tasks: Vec::new(),
            mms: Vec::new(),
            files: Vec::new(),
            pipes: Vec::new(),
            fdtables: Vec::new(),
            fs: Vec::new(),
            sighands: Vec::new(),
            signals: Vec::new(),
            creds: Vec::new(),
            sysv: Vec::new(),
            end: Value::Null,
            skipped: Vec::new(),
            skb_at: None,
        }
    }

    /// The last buffer of the queue the last unix-skb record went to.
    fn last_skb(&mut self) -> Option<&mut Obj> {
        let (f, u) = self.skb_at?;
        let s = self.files.get_mut(f)?.get_mut("unix")?.get_mut(u)?;
        match s.get_mut("queue")?.as_array_mut()?.last_mut()? {
            Value::Object(q) => Some(q),
            _ => None,
        }
    }

    /// Adds a field to the last task (the order checker guarantees one).
    fn task_field(&mut self, key: &str, v: Value) {
        if let Some(t) = self.tasks.last_mut() {
            t.insert(key.to_string(), v);
        }
    }

    /// Adds one record, checked by the reader.
    pub fn add(&mut self, e: &Entry<'_>) {
        let r = match e.item {
            Item::Record(r) => r,
            Item::Skipped => {
                let h = &e.header;
                self.skipped.push(json!({
                    "index": e.index,
                    "offset": e.offset,
                    "kind": h.kind,
                    "version": h.version,
                    "len": h.len,
                }));
                return;
            }
        };
        match r {
            AnyRecord::Header(h) => self.header = header(&h),
            AnyRecord::End(end) => {
                let a = end.account;
                self.end = json!({"account": {
                    "records": a.records, "bytes": a.bytes, "chain": a.chain,
                }});
            }
            AnyRecord::Task(t) => self.tasks.push(task(&t)),
            AnyRecord::Vdso(v) => {
                if let Value::Object(h) = &mut self.header {
                    h.insert(
                        "vdso".to_string(),
                        json!({"size": v.size, "symbols": v.nsyms, "digest": v.digest}),
                    );
                }
            }
            AnyRecord::VdsoText(t) => {
                if let Value::Object(h) = &mut self.header {
                    let mut names = Vec::new();
                    let _ = crate::image::vdso::for_each_symbol(t.data, |s| {
                        names.push(json!({
                            "name": String::from_utf8_lossy(s.name),
                            "offset": s.value,
                            "size": s.size,
                        }));
                        Ok(())
                    });
                    h.insert(
                        "vdso_text".to_string(),
                        json!({"size": t.data.len(), "symbols": names}),
                    );
                }
            }
            AnyRecord::Rlimits(r) => self.task_field("rlimits", json!(r.lim)),
            AnyRecord::Ctty(c) => self.task_field(
                "ctty",
                json!({
                    "path": names::path(c.path),
                    "fg_pgid": c.fg_pgid,
                    "session_leader": c.leader != 0,
                }),
            ),
            AnyRecord::Rseq(r) => {
                self.task_field("rseq", json!({"ptr": r.ptr, "len": r.len, "sig": r.sig}))
            }
            AnyRecord::TaskAttrs(a) => self.task_field(
                "attrs",
                json!({
                    "policy": a.policy,
                    "policy_name": crate::image::policy::name(a.policy),
                    "reset_on_fork": a.sched_flags & crate::image::SCHED_RESET_ON_FORK != 0,
                    "nice": a.nice,
                    "rt_priority": a.rt_priority,
                    "pdeath_signal": a.pdeath_signal,
                    "oom_score_adj": a.oom_score_adj,
                    "dumpable": a.dumpable,
                    "thp_disable": a.thp_disable,
                    "child_subreaper": a.subreaper != 0,
                    "membarrier": a.membarrier,
                    "stop_signal": a.stop_signal,
                }),
            ),
            AnyRecord::Regs(r) => {
                let mut regs = Obj::new();
                let mut hex = Obj::new();
                for (n, v) in REG_NAMES.iter().zip(r.r) {
                    regs.insert(n.to_string(), json!(v));
                    hex.insert(n.to_string(), json!(format!("{v:#x}")));
                }
                self.task_field("regs", Value::Object(regs));
                self.task_field("regs_hex", Value::Object(hex));
            }
            AnyRecord::Xstate(x) => self.task_field(
                "xstate",
                json!({"xstate_bv": x.xstate_bv, "size": x.area.len(), "area_hex": names::hex(x.area)}),
            ),
            AnyRecord::ThreadSignals(t) => self.task_field(
                "signals",
                json!({
                    "blocked": t.blocked,
                    "altstack_sp": t.altstack_sp,
                    "altstack_size": t.altstack_size,
                    "altstack_flags": t.altstack_flags,
                    "pending": queue(&t.pending),
                }),
            ),
            AnyRecord::Mm(m) => self.mms.push(MmAcc {
                id: m.id,
                obj: mm(&m),
                vmas: Vec::new(),
                pages: 0,
                shared_pages: 0,
                parent_pages: 0,
                page_records: 0,
                addrs: Vec::new(),
            }),
            AnyRecord::Vma(v) => {
                if let Some(m) = self.mms.last_mut() {
                    m.vmas.push(vma(&v));
                }
            }
            AnyRecord::Pages(p) => {
                let list = self.list_pages;
                if let Some(m) = self.mms.iter_mut().rev().find(|m| m.id == p.mm) {
                    m.pages += p.count() as u64;
                    m.page_records += 1;
                    if list {
                        m.addrs.extend((0..p.count()).map(|i| p.addr(i)));
                    }
                }
            }
            AnyRecord::PageRefs(p) => {
                if let Some(m) = self.mms.iter_mut().rev().find(|m| m.id == p.mm) {
                    m.shared_pages += p.count() as u64;
                }
            }
            AnyRecord::ParentPages(p) => {
                if let Some(m) = self.mms.iter_mut().rev().find(|m| m.id == p.mm) {
                    m.parent_pages += p.pages();
                }
            }
            AnyRecord::Parent(p) => {
                if let Value::Object(h) = &mut self.header {
                    let a = p.account;
                    h.insert(
                        "parent".to_string(),
                        json!({
                            "track": p.track,
                            "path": String::from_utf8_lossy(p.path),
                            "account": {"records": a.records, "bytes": a.bytes, "chain": a.chain},
                        }),
                    );
                }
            }
            AnyRecord::Track(t) => {
                if let Value::Object(h) = &mut self.header {
                    h.insert("track".to_string(), json!(t.id));
                }
            }
            AnyRecord::File(f) => self.files.push(file(&f)),
            AnyRecord::Fown(o) => {
                let id = json!(o.file);
                if let Some(Value::Object(f)) =
                    self.files.iter_mut().rev().find(|f| f.get("id") == Some(&id))
                {
                    f.insert(
                        "owner".to_string(),
                        json!({"kind": o.kind, "pid": o.pid, "signum": o.signum}),
                    );
                }
            }
            AnyRecord::Pipe(p) => self.pipes.push(json!({
                "id": p.id,
                "capacity": p.capacity,
                "data_len": p.data.len(),
                "data_hex": names::hex(p.data),
            })),
            AnyRecord::Files(f) => self
                .fdtables
                .push((obj(json!({"id": f.id, "count": f.count})), Vec::new())),
            AnyRecord::Fd(f) => {
                if let Some((_, fds)) = self.fdtables.last_mut() {
                    fds.push(json!({
                        "fd": f.fd,
                        "file": f.file,
                        "flags": f.flags,
                        "cloexec": f.flags & FD_CLOEXEC != 0,
                    }));
                }
            }
            AnyRecord::Fs(f) => self.fs.push(json!({
                "id": f.id,
                "umask": f.umask,
                "cwd": s(f.cwd),
                "root": s(f.root),
            })),
            AnyRecord::Sighand(sh) => self.sighands.push(sighand(&sh)),
            AnyRecord::Signal(sg) => {
                let itimers: Vec<Value> = sg
                    .itimers
                    .iter()
                    .map(|t| json!({"value_ns": t.value_ns, "interval_ns": t.interval_ns}))
                    .collect();
                self.signals.push(json!({
                    "id": sg.id,
                    "itimers": itimers,
                    "shared": queue(&sg.shared),
                }));
            }
            AnyRecord::Creds(c) => self.creds.push(creds(&c)),
            AnyRecord::Pty(t) => {
                if let Some(Value::Object(m)) = self.files.iter_mut().rev().find(|f| f["id"] == t.file) {
                    m.insert(
                        "pty".to_string(),
                        json!({
                            "file": t.file,
                            "index": t.index,
                            "master": t.master != 0,
                            "locked": t.locked == 1,
                            "hung_up": t.locked == crate::image::PTY_HUNG_UP,
                            "slave_owner": {"uid": t.uid, "gid": t.gid, "mode": t.mode},
                            "termios": {
                                "iflag": t.flags[0], "oflag": t.flags[1],
                                "cflag": t.flags[2], "lflag": t.flags[3],
                                "line": t.line, "cc": t.cc.to_vec(),
                                "ispeed": t.speed[0], "ospeed": t.speed[1],
                            },
                            "winsize": t.winsize,
                        }),
                    );
                }
            }
            AnyRecord::PtyInput(t) => {
                if let Some(Value::Object(m)) = self.files.iter_mut().rev().find(|f| f["id"] == t.file) {
                    if let Some(Value::Object(p)) = m.get_mut("pty") {
                        p.insert("input_len".to_string(), json!(t.data.len()));
                        p.insert("input_hex".to_string(), json!(names::hex(t.data)));
                        p.insert(
                            "input_canonical".to_string(),
                            json!(t.mode == crate::image::PTY_INPUT_CANON),
                        );
                        p.insert(
                            "input_line_ends".to_string(),
                            json!(t.line_ends().collect::<Vec<u32>>()),
                        );
                    }
                }
            }
            AnyRecord::FileOwner(o) => {
                if let Some(Value::Object(m)) = self.files.last_mut() {
                    m.insert("owner".to_string(), json!({"uid": o.uid, "gid": o.gid}));
                }
            }
            AnyRecord::FileOpener(op) => {
                if let Some(Value::Object(m)) = self.files.last_mut() {
                    let groups: Vec<u32> = (0..op.groups.len() / 4).map(|i| op.group(i)).collect();
                    m.insert(
                        "opener".to_string(),
                        json!({"fsuid": op.fsuid, "fsgid": op.fsgid, "groups": groups}),
                    );
                }
            }
            AnyRecord::LinkTarget(l) => {
                if let Some(Value::Object(m)) = self.files.last_mut() {
                    m.insert(
                        "link_target".to_string(),
                        Value::String(String::from_utf8_lossy(l.target).into_owned()),
                    );
                }
            }
            AnyRecord::UnixSock(u) => {
                if let Some(Value::Object(m)) = self.files.last_mut() {
                    let s = json!({
                        "file": u.file,
                        "ino": u.ino,
                        "peer": u.peer,
                        "listener": u.listener,
                        "type": crate::image::unix_type::name(u.sock_type),
                        "state": u.state,
                        "shutdown": u.shutdown,
                        "flags": u.flags,
                        "backlog": u.backlog,
                        "sndbuf": u.sndbuf,
                        "rcvbuf": u.rcvbuf,
                        "peek_off": u.peek_off,
                        "name": crate::names::unix_name(u.name),
                        "peer_name": crate::names::unix_name(u.peer_name),
                        "path": String::from_utf8_lossy(u.path),
                        "queue": [],
                    });
                    match m.get_mut("unix") {
                        Some(Value::Array(a)) => a.push(s),
                        _ => {
                            m.insert("unix".to_string(), json!([s]));
                        }
                    }
                }
            }
            AnyRecord::UnixPeer(c) => {
                // The socket just before: the last one of the last file with sockets.
                let groups: Vec<u32> = (0..c.ngroups()).map(|i| c.group(i)).collect();
                let last = self.files.iter_mut().rev().find_map(|f| {
                    f.get_mut("unix")?.as_array_mut()?.last_mut()?.as_object_mut()
                });
                if let Some(u) = last {
                    u.insert(
                        "peer_creds".into(),
                        json!({"pid": c.pid, "uid": c.uid, "gid": c.gid, "groups": groups}),
                    );
                }
            }
            AnyRecord::UnixSkb(q) => {
                // Its owner's queue (a socket in flight has its queue after
                // the carrying socket's records); a connection not accepted
                // yet (owner 0) is the last socket.
                let unix_of = |f: &Value| f.get("unix").and_then(|a| a.as_array()).map(Vec::len);
                self.skb_at = if q.owner == 0 {
                    self.files
                        .iter()
                        .rposition(|f| unix_of(f).is_some())
                        .and_then(|i| Some((i, unix_of(&self.files[i])?.checked_sub(1)?)))
                } else {
                    self.files.iter().enumerate().rev().find_map(|(i, f)| {
                        let a = f.get("unix")?.as_array()?;
                        let u = a.iter().position(|s| {
                            s.get("ino") == Some(&json!(q.owner)) && s.get("file") != Some(&json!(0))
                        })?;
                        Some((i, u))
                    })
                };
                if let Some((f, u)) = self.skb_at {
                    let s = self.files[f].get_mut("unix").and_then(|a| a.get_mut(u));
                    if let Some(Value::Array(qa)) = s.and_then(|s| s.get_mut("queue")) {
                        qa.push(json!({
                            "sender": q.sender,
                            "sender_name": crate::names::unix_name(q.sender_name),
                            "bytes": q.data.len(),
                        }));
                    }
                }
            }
            AnyRecord::IpcNs(n) => {
                self.sysv.push(json!({
                    "type": "namespace",
                    "own": n.flags & IPC_NS_OWN != 0,
                    "msgmax": n.msgmax,
                    "msgmnb": n.msgmnb,
                    "msgmni": n.msgmni,
                    "sem": [n.semmsl, n.semmns, n.semopm, n.semmni],
                    "shmmax": n.shmmax,
                    "shmall": n.shmall,
                    "shmmni": n.shmmni,
                }));
            }
            AnyRecord::SemSet(s) => {
                let values: Vec<u16> = (0..s.nsems()).map(|i| s.value(i)).collect();
                let mut o = ipc_perm(&s.perm);
                o.insert("type".into(), json!("sem"));
                o.insert("values".into(), json!(values));
                self.sysv.push(Value::Object(o));
            }
            AnyRecord::MsgQueue(q) => {
                let mut o = ipc_perm(&q.perm);
                o.insert("type".into(), json!("msg"));
                o.insert("qbytes".into(), json!(q.qbytes));
                o.insert("messages".into(), json!([]));
                self.sysv.push(Value::Object(o));
            }
            AnyRecord::SysvMsg(m) => {
                if let Some(Value::Object(o)) = self.sysv.last_mut() {
                    if let Some(Value::Array(a)) = o.get_mut("messages") {
                        a.push(json!({"mtype": m.mtype, "bytes": m.data.len()}));
                    }
                }
            }
            AnyRecord::UnixCreds(c) => {
                if let Some(q) = self.last_skb() {
                    q.insert(
                        "creds".into(),
                        json!({"pid": c.pid, "uid": c.uid, "gid": c.gid}),
                    );
                }
            }
            AnyRecord::UnixFds(u) => {
                if let Some(q) = self.last_skb() {
                    let ids: Vec<u32> = (0..u.count()).map(|i| u.file(i)).collect();
                    q.insert("files".into(), json!(ids));
                }
            }
            AnyRecord::CwdDeleted(c) => {
                if let Some(Value::Object(m)) = self.fs.last_mut() {
                    m.insert("cwd_deleted_mode".to_string(), json!(c.mode));
                }
            }
            AnyRecord::FileLease(l) => {
                let id = json!(l.file);
                if let Some(Value::Object(f)) =
                    self.files.iter_mut().rev().find(|f| f.get("id") == Some(&id))
                {
                    f.insert(
                        "lease".to_string(),
                        json!({"files": l.files, "fd": l.fd, "type": l.ltype}),
                    );
                }
            }
            AnyRecord::FileLock(l) => {
                let id = json!(l.file);
                if let Some(Value::Object(f)) =
                    self.files.iter_mut().rev().find(|f| f.get("id") == Some(&id))
                {
                    let lock = json!({
                        "files": l.files,
                        "kind": l.kind,
                        "type": l.ltype,
                        "start": l.start,
                        "end": l.end,
                        "pid": l.pid,
                    });
                    match f.get_mut("locks") {
                        Some(Value::Array(a)) => a.push(lock),
                        _ => {
                            f.insert("locks".to_string(), Value::Array(vec![lock]));
                        }
                    }
                }
            }
            AnyRecord::PosixTimer(t) => {
                let id = json!(t.signal);
                if let Some(Value::Object(m)) =
                    self.signals.iter_mut().rev().find(|m| m.get("id") == Some(&id))
                {
                    let timer = json!({
                        "id": t.id,
                        "clock": t.clock,
                        "notify": t.notify,
                        "signo": t.signo,
                        "tid": t.tid,
                        "flags": t.flags,
                        "value": t.value,
                        "value_ns": t.value_ns,
                        "interval_ns": t.interval_ns,
                        "overrun": t.overrun,
                    });
                    match m.get_mut("posix_timers") {
                        Some(Value::Array(a)) => a.push(timer),
                        _ => {
                            m.insert("posix_timers".to_string(), Value::Array(vec![timer]));
                        }
                    }
                }
            }
            AnyRecord::Eventfd(e) => self.file_state(
                e.file,
                "eventfd",
                json!({"count": e.count, "semaphore": e.flags != 0}),
            ),
            AnyRecord::Timerfd(t) => self.file_state(
                t.file,
                "timerfd",
                json!({
                    "clockid": t.clockid, "settime_flags": t.settime_flags,
                    "ticks": t.ticks, "value_ns": t.value_ns,
                    "interval_ns": t.interval_ns, "now_ns": t.now_ns,
                }),
            ),
            AnyRecord::Signalfd(sf) => {
                self.file_state(sf.file, "signalfd", json!({"mask": sf.mask}))
            }
            AnyRecord::Pidfd(p) => self.file_state(
                p.file,
                "pidfd",
                json!({
                    "pid": p.pid,
                    "tgid": p.tgid,
                    "thread": p.flags & crate::image::PIDFD_THREAD != 0,
                    "nonblock": p.flags & crate::image::PIDFD_NONBLOCK != 0,
                }),
            ),
            AnyRecord::EpollItem(e) => self.file_list(
                e.file,
                "epoll",
                json!({"tfd": e.tfd, "target": e.target, "events": e.events, "data": e.data}),
            ),
            AnyRecord::InotifyWatch(w) => self.file_list(
                w.file,
                "inotify",
                json!({
                    "wd": w.wd, "mask": w.mask, "dev": w.dev, "ino": w.ino,
                    "path": s(w.path),
                }),
            ),
            AnyRecord::FanotifyGroup(g) => self.file_state(
                g.file,
                "fanotify",
                json!({
                    "flags": g.flags, "event_f_flags": g.event_f_flags,
                    "unprivileged": g.unpriv != 0,
                }),
            ),
            AnyRecord::FanotifyMark(m) => self.file_list(
                m.file,
                "fanotify_marks",
                json!({
                    "type": m.mark_type, "flags": m.flags, "mask": m.mask,
                    "ignore_mask": m.ignore_mask, "dev": m.dev, "ino": m.ino,
                    "path": s(m.path),
                }),
            ),
        }
    }

    /// Sets `key` of file `id` to `v`.
    fn file_state(&mut self, id: u32, key: &str, v: Value) {
        let id = json!(id);
        if let Some(Value::Object(f)) = self
            .files
            .iter_mut()
            .rev()
            .find(|f| f.get("id") == Some(&id))
        {
            f.insert(key.to_string(), v);
        }
    }

    /// Appends `v` to the list `key` of file `id`.
    fn file_list(&mut self, id: u32, key: &str, v: Value) {
        let id = json!(id);
        if let Some(Value::Object(f)) = self
            .files
            .iter_mut()
            .rev()
            .find(|f| f.get("id") == Some(&id))
        {
            match f.get_mut(key) {
                Some(Value::Array(a)) => a.push(v),
                _ => {
                    f.insert(key.to_string(), Value::Array(vec![v]));
                }
            }
        }
    }

    /// The document.
    pub fn finish(self) -> Value {
        let mms: Vec<Value> = self
            .mms
            .into_iter()
            .map(|m| {
                let mut o = m.obj;
                o.insert("vmas".into(), Value::Array(m.vmas));
                let mut pages = obj(json!({
                    "count": m.pages,
                    "bytes": m.pages * PAGE_SIZE as u64,
                    "records": m.page_records,
                    "shared": m.shared_pages,
                    "parent": m.parent_pages,
                }));
                if self.list_pages {
                    pages.insert("addrs".into(), json!(m.addrs));
                }
                o.insert("pages".into(), Value::Object(pages));
                Value::Object(o)
            })
            .collect();
        let fdtables: Vec<Value> = self
            .fdtables
            .into_iter()
            .map(|(mut o, fds)| {
                o.insert("fds".into(), Value::Array(fds));
                Value::Object(o)
            })
            .collect();
        let mut doc = obj(json!({
            "header": self.header,
            "tasks": self.tasks,
            "mms": mms,
            "files": self.files,
            "pipes": self.pipes,
            "fdtables": fdtables,
            "fs": self.fs,
            "sighands": self.sighands,
            "signals": self.signals,
            "creds": self.creds,
            "end": self.end,
        }));
        if !self.sysv.is_empty() {
            doc.insert("sysv".into(), Value::Array(self.sysv));
        }
        if !self.skipped.is_empty() {
            doc.insert("skipped".into(), Value::Array(self.skipped));
        }
        Value::Object(doc)
    }
}
