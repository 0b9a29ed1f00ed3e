// SPDX-License-Identifier: GPL-2.0

//! SysV semaphore sets and message queues, read and made from userspace (the
//! module cannot: their state is private to the kernel's `ipc/`).
//!
//! Checkpoint: [`serve`] answers the module's request on the channel of
//! `CKPT_CHECKPOINT_SYSV`, made while the processes are held: the objects of
//! the IPC namespace that the processes use (one of them was the last to
//! operate a semaphore of a set, or to send to or receive from a queue), with
//! their ids, keys, owners, modes, semaphore values, queue limit and queued
//! messages (read with `MSG_COPY`, which leaves them queued).
//!
//! Processes with an IPC namespace of their own (no process outside them in
//! it) have all its objects saved, and its limits; the restart makes a new
//! namespace for them ([`new_ns`]).
//!
//! Restart: [`make`] gives each object back under its id (through
//! `/proc/sys/kernel/{sem,msg}_next_id`), key, creator, owner and mode, with
//! its values or messages. An object that still exists with that id is kept
//! if it is the image's, unchanged (the usual case after `--kill`); one that
//! differs, or a key taken by another object, is refused: ckpt does not
//! overwrite objects others may use.
//!
//! The raw system calls use the kernel's 64-bit layouts (`struct
//! semid64_ds`, `struct msqid64_ds` of x86_64), not the C library's.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use crate::errno;
use crate::image::{
    Enc, IpcNs, IpcPerm, MsgQueue, Record, SemSet, SysvMsg, IPC_MODE_MASK, IPC_NS_OWN,
};
use crate::sys;
use crate::uapi;

const IPC_RMID: i32 = 0;
const IPC_SET: i32 = 1;
const IPC_STAT: i32 = 2;
const GETPID: i32 = 11;
const GETALL: i32 = 13;
const SETALL: i32 = 17;
const IPC_CREAT: i32 = 0o1000;
const IPC_EXCL: i32 = 0o2000;
const IPC_NOWAIT: i32 = 0o4000;
const MSG_COPY: i32 = 0o40000;

/// `struct ipc64_perm` and the fields of `semid64_ds`/`msqid64_ds` that matter,
/// read from the kernel's buffer.
#[derive(Clone, Copy, Debug, Default)]
struct Stat {
    perm: IpcPerm,
    /// Semaphores of a set.
    nsems: u64,
    /// Bytes, messages, limit of a queue.
    cbytes: u64,
    qnum: u64,
    qbytes: u64,
    /// Last sender, receiver of a queue.
    lspid: i32,
    lrpid: i32,
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(x)
}

fn perm_of(id: i32, b: &[u8]) -> IpcPerm {
    IpcPerm {
        id,
        key: u32_at(b, 0) as i32,
        uid: u32_at(b, 4),
        gid: u32_at(b, 8),
        cuid: u32_at(b, 12),
        cgid: u32_at(b, 16),
        mode: u32_at(b, 20) & IPC_MODE_MASK,
    }
}

fn ret(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn semctl(id: i32, num: i32, cmd: i32, arg: usize) -> io::Result<libc::c_long> {
    // SAFETY: `arg` is either a number or a pointer to a buffer the size the
    // command needs (checked by each caller).
    ret(unsafe { libc::syscall(libc::SYS_semctl, id, num, cmd, arg) })
}

fn msgctl(id: i32, cmd: i32, buf: &mut [u8; 120]) -> io::Result<libc::c_long> {
    // SAFETY: `buf` has the size of `struct msqid64_ds`.
    ret(unsafe { libc::syscall(libc::SYS_msgctl, id, cmd, buf.as_mut_ptr()) })
}

fn sem_stat(id: i32) -> io::Result<Stat> {
    let mut b = [0u8; 104];
    semctl(id, 0, IPC_STAT, b.as_mut_ptr() as usize)?;
    Ok(Stat {
        perm: perm_of(id, &b),
        nsems: u64_at(&b, 80),
        ..Default::default()
    })
}

fn sem_values(id: i32, n: usize) -> io::Result<Vec<u16>> {
    let mut v = vec![0u16; n];
    semctl(id, 0, GETALL, v.as_mut_ptr() as usize)?;
    Ok(v)
}

fn msg_stat(id: i32) -> io::Result<Stat> {
    let mut b = [0u8; 120];
    msgctl(id, IPC_STAT, &mut b)?;
    Ok(Stat {
        perm: perm_of(id, &b),
        cbytes: u64_at(&b, 72),
        qnum: u64_at(&b, 80),
        qbytes: u64_at(&b, 88),
        lspid: u32_at(&b, 96) as i32,
        lrpid: u32_at(&b, 100) as i32,
        ..Default::default()
    })
}

/// Sets owner, group and mode (and a queue's limit) of an object.
fn set_perm(sem: bool, p: &IpcPerm, qbytes: u64) -> io::Result<()> {
    let mut b = [0u8; 120];
    b[4..8].copy_from_slice(&p.uid.to_le_bytes());
    b[8..12].copy_from_slice(&p.gid.to_le_bytes());
    b[20..24].copy_from_slice(&p.mode.to_le_bytes());
    if sem {
        semctl(p.id, 0, IPC_SET, b.as_mut_ptr() as usize)?;
    } else {
        b[88..96].copy_from_slice(&qbytes.to_le_bytes());
        msgctl(p.id, IPC_SET, &mut b)?;
    }
    Ok(())
}

/// The messages of queue `id` (`n` of them, `cbytes` bytes in all), in order,
/// left queued.
fn msg_copy(id: i32, n: u64, cbytes: u64) -> io::Result<Vec<(i64, Vec<u8>)>> {
    let mut buf = vec![0u8; 8 + cbytes as usize];
    let mut out = Vec::new();
    for i in 0..n {
        // SAFETY: `buf` holds a `long` and `cbytes` bytes of text.
        let r = ret(unsafe {
            libc::syscall(
                libc::SYS_msgrcv,
                id,
                buf.as_mut_ptr(),
                cbytes as usize,
                i as libc::c_long,
                MSG_COPY | IPC_NOWAIT,
            )
        })? as usize;
        out.push((u64_at(&buf, 0) as i64, buf[8..8 + r].to_vec()));
    }
    Ok(out)
}

/// The ids listed in `/proc/sysvipc/{sem,msg}` (second column) of the
/// caller's IPC namespace.
fn ids(what: &str) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(format!("/proc/sysvipc/{what}"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect())
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// A semaphore set or message queue as saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// A semaphore set and its values.
    Sem(IpcPerm, Vec<u16>),
    /// A message queue, its limit and its messages (type, text).
    Msg(IpcPerm, u64, Vec<(i64, Vec<u8>)>),
}

impl Object {
    fn perm(&self) -> &IpcPerm {
        match self {
            Self::Sem(p, _) | Self::Msg(p, _, _) => p,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Self::Sem(..) => "semaphore set",
            Self::Msg(..) => "message queue",
        }
    }
}

/// The semaphore sets and message queues of the caller's IPC namespace that
/// the processes `pids` use (`all`: every one). An object that disappears
/// meanwhile is skipped; one that cannot be read fails.
pub fn collect(pids: &[i32], all: bool) -> Result<Vec<Object>, String> {
    let fail = |what: &str, id: i32, e: io::Error| {
        format!("cannot read SysV {what} {id}: {}", errno::describe(&e))
    };
    let gone = |e: &io::Error| matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EIDRM));
    let mut out = Vec::new();
    for id in ids("sem").map_err(|e| format!("cannot read /proc/sysvipc/sem: {e}"))? {
        let st = match sem_stat(id) {
            Ok(s) => s,
            Err(e) if gone(&e) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) && !all => continue,
            Err(e) => return Err(fail("semaphore set", id, e)),
        };
        let n = st.nsems as usize;
        let mut used = all;
        for i in 0..n {
            match semctl(id, i as i32, GETPID, 0) {
                Ok(p) if pids.contains(&(p as i32)) => used = true,
                Ok(_) => {}
                Err(e) if gone(&e) => break,
                Err(e) => return Err(fail("semaphore set", id, e)),
            }
        }
        if !used {
            continue;
        }
        let values = sem_values(id, n).map_err(|e| fail("semaphore set", id, e))?;
        out.push(Object::Sem(st.perm, values));
    }
    for id in ids("msg").map_err(|e| format!("cannot read /proc/sysvipc/msg: {e}"))? {
        let st = match msg_stat(id) {
            Ok(s) => s,
            Err(e) if gone(&e) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) && !all => continue,
            Err(e) => return Err(fail("message queue", id, e)),
        };
        if !all && !pids.contains(&st.lspid) && !pids.contains(&st.lrpid) {
            continue;
        }
        let msgs = msg_copy(id, st.qnum, st.cbytes).map_err(|e| fail("message queue", id, e))?;
        out.push(Object::Msg(st.perm, st.qbytes, msgs));
    }
    Ok(out)
}

/// Appends `r` as `u16 kind, u16 0, u32 len, payload`.
fn put<'a, R: Record<'a>>(out: &mut Vec<u8>, r: &R, size: usize) -> Result<(), String> {
    let mut buf = vec![0u8; size];
    let mut e = Enc::new(&mut buf);
    r.encode(&mut e)
        .map_err(|e| format!("cannot encode a SysV record: {}", e.describe()))?;
    let n = e.len();
    out.extend_from_slice(&R::KIND.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&buf[..n]);
    Ok(())
}

/// The records of `objs`, as the module reads them from the channel.
pub fn encode(objs: &[Object]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for o in objs {
        match o {
            Object::Sem(p, v) => {
                let values: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                let r = SemSet {
                    perm: *p,
                    values: &values,
                };
                put(&mut out, &r, 64 + values.len())?;
            }
            Object::Msg(p, qbytes, msgs) => {
                let q = MsgQueue {
                    perm: *p,
                    qbytes: *qbytes,
                    count: msgs.len() as u32,
                };
                put(&mut out, &q, 64)?;
                for (t, d) in msgs {
                    let m = SysvMsg {
                        queue: p.id,
                        mtype: *t,
                        data: d,
                    };
                    put(&mut out, &m, 64 + d.len())?;
                }
            }
        }
    }
    Ok(out)
}

/// Answers the module's request on `chan` (see `uapi::CKPT_SYSV_MAGIC`):
/// returns `Ok` if the module did not ask (the checkpoint failed before) or
/// was answered, `Err` with the reason the objects cannot be saved (the module
/// is then told to fail).
pub fn serve(mut chan: UnixStream) -> Result<(), String> {
    let mut hdr = [0u8; 12];
    match chan.read_exact(&mut hdr) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
        Err(e) => return Err(format!("SysV IPC channel: {e}")),
    }
    if u32_at(&hdr, 0) != uapi::CKPT_SYSV_MAGIC {
        return Err("SysV IPC channel: bad request from the module".into());
    }
    let own = u32_at(&hdr, 4) & 1 != 0;
    let n = u32_at(&hdr, 8) as usize;
    let mut p = vec![0u8; 4 * n];
    chan.read_exact(&mut p)
        .map_err(|e| format!("SysV IPC channel: {e}"))?;
    let pids: Vec<i32> = p.chunks(4).map(|c| u32_at(c, 0) as i32).collect();
    let answer = if own {
        in_own_ns(&pids).and_then(|(ns, o)| {
            let mut recs = Vec::new();
            put(&mut recs, &ns, 128)?;
            recs.extend(encode(&o)?);
            Ok(recs)
        })
    } else {
        collect(&pids, false).and_then(|o| encode(&o))
    };
    match answer {
        Ok(recs) => {
            let mut msg = (recs.len() as u32).to_le_bytes().to_vec();
            msg.extend_from_slice(&recs);
            chan.write_all(&msg)
                .map_err(|e| format!("SysV IPC channel: {e}"))
        }
        Err(why) => {
            // Too large a length: the module fails the checkpoint.
            let _ = chan.write_all(&u32::MAX.to_le_bytes());
            Err(why)
        }
    }
}

/// The limits of the caller's IPC namespace (`/proc/sys/kernel`).
fn limits(flags: u32) -> Result<IpcNs, String> {
    let read = |name: &str| -> Result<Vec<u64>, String> {
        let t = std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
            .map_err(|e| format!("cannot read /proc/sys/kernel/{name}: {e}"))?;
        t.split_whitespace()
            .map(|w| {
                w.parse()
                    .map_err(|_| format!("bad /proc/sys/kernel/{name}"))
            })
            .collect()
    };
    let one = |name: &str| -> Result<u64, String> {
        read(name)?
            .first()
            .copied()
            .ok_or_else(|| format!("bad /proc/sys/kernel/{name}"))
    };
    let sem = read("sem")?;
    if sem.len() != 4 {
        return Err("bad /proc/sys/kernel/sem".into());
    }
    let small = |v: u64| v.min(i32::MAX as u64) as u32;
    Ok(IpcNs {
        flags,
        msgmax: small(one("msgmax")?),
        msgmnb: small(one("msgmnb")?),
        msgmni: small(one("msgmni")?),
        semmsl: small(sem[0]),
        semmns: small(sem[1]),
        semopm: small(sem[2]),
        semmni: small(sem[3]),
        shmmax: one("shmmax")?,
        shmall: one("shmall")?,
        shmmni: small(one("shmmni")?),
    })
}

/// The IPC namespace of the first of `pids` that still has one (an exited
/// leader has none: its threads are looked at), and its inode.
fn ns_of(pids: &[i32]) -> Result<(std::fs::File, u64), String> {
    use std::os::unix::fs::MetadataExt;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(f) = std::fs::File::open(t.path().join("ns/ipc")) {
                if let Ok(m) = f.metadata() {
                    return Ok((f, m.ino()));
                }
            }
        }
    }
    Err("cannot open the IPC namespace of the processes".into())
}

/// For processes `pids` with an IPC namespace of their own: refuses if a
/// process outside them is in it too, else returns its limits and every
/// semaphore set and message queue in it (read in a thread that enters it).
fn in_own_ns(pids: &[i32]) -> Result<(IpcNs, Vec<Object>), String> {
    use std::os::unix::fs::MetadataExt;
    let (ns, ino) = ns_of(pids)?;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if pids.contains(&pid) {
                continue;
            }
            if std::fs::metadata(e.path().join("ns/ipc")).is_ok_and(|m| m.ino() == ino) {
                return Err(format!(
                    "the IPC namespace of the processes is also the namespace of process {pid}, \
                     which is not checkpointed: its SysV objects cannot be saved for the \
                     processes alone"
                ));
            }
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on an open namespace file; it changes only this
            // thread's IPC namespace.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWIPC) } < 0 {
                return Err(format!(
                    "cannot enter the IPC namespace of the processes: {}",
                    io::Error::last_os_error()
                ));
            }
            Ok((limits(IPC_NS_OWN)?, collect(pids, true)?))
        })
        .join()
        .unwrap_or_else(|_| Err("the SysV IPC thread panicked".into()))
    })
}

/// Makes the calling process a new IPC namespace with the limits of `ns`
/// (whose processes had one of their own).
pub fn new_ns(ns: &IpcNs) -> Result<(), String> {
    // SAFETY: no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWIPC) } < 0 {
        return Err(format!(
            "cannot make a new IPC namespace: {}",
            errno::describe(&io::Error::last_os_error())
        ));
    }
    let sem = format!("{} {} {} {}\n", ns.semmsl, ns.semmns, ns.semopm, ns.semmni);
    for (name, v) in [
        ("msgmax", ns.msgmax.to_string()),
        ("msgmnb", ns.msgmnb.to_string()),
        ("msgmni", ns.msgmni.to_string()),
        ("sem", sem),
        ("shmmax", ns.shmmax.to_string()),
        ("shmall", ns.shmall.to_string()),
        ("shmmni", ns.shmmni.to_string()),
    ] {
        std::fs::write(
            format!("/proc/sys/kernel/{name}"),
            format!("{}\n", v.trim_end()),
        )
        .map_err(|e| format!("cannot set /proc/sys/kernel/{name} in the new IPC namespace: {e}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// The object with `o`'s id now, if there is one, in `o`'s terms.
fn current(o: &Object) -> io::Result<Option<Object>> {
    let id = o.perm().id;
    let r = match o {
        Object::Sem(..) => sem_stat(id).and_then(|st| {
            let v = sem_values(id, st.nsems as usize)?;
            Ok(Object::Sem(st.perm, v))
        }),
        Object::Msg(..) => msg_stat(id).and_then(|st| {
            let m = msg_copy(id, st.qnum, st.cbytes)?;
            Ok(Object::Msg(st.perm, st.qbytes, m))
        }),
    };
    match r {
        Ok(x) => Ok(Some(x)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EIDRM)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates `o` empty, with its id, key and mode, as its creator (`cuid`,
/// `cgid`): in a child process that takes those ids when they are not the
/// caller's.
fn create(o: &Object) -> io::Result<()> {
    let p = o.perm();
    let (sysctl, nsems) = match o {
        Object::Sem(_, v) => ("/proc/sys/kernel/sem_next_id", v.len() as i32),
        Object::Msg(..) => ("/proc/sys/kernel/msg_next_id", 0),
    };
    let get = |p: &IpcPerm| -> io::Result<i32> {
        std::fs::write(sysctl, format!("{}\n", p.id))?;
        let flags = IPC_CREAT | IPC_EXCL | p.mode as i32;
        // SAFETY: plain system calls, no memory of ours.
        let r = unsafe {
            match o {
                Object::Sem(..) => libc::syscall(libc::SYS_semget, p.key, nsems, flags),
                Object::Msg(..) => libc::syscall(libc::SYS_msgget, p.key, flags),
            }
        };
        let e = io::Error::last_os_error();
        let _ = std::fs::write(sysctl, "-1\n");
        if r < 0 {
            return Err(e);
        }
        Ok(r as i32)
    };
    // SAFETY: no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let id = if (p.cuid, p.cgid) == (euid, egid) {
        get(p)?
    } else {
        match sys::fork()? {
            sys::Fork::Child => {
                let r = (|| -> io::Result<i32> {
                    std::fs::write(sysctl, format!("{}\n", p.id))?;
                    // SAFETY: raw set*id calls on this (single-threaded) child.
                    unsafe {
                        ret(libc::syscall(libc::SYS_setresgid, -1, p.cgid, -1))?;
                        ret(libc::syscall(libc::SYS_setresuid, -1, p.cuid, -1))?;
                    }
                    let flags = IPC_CREAT | IPC_EXCL | p.mode as i32;
                    // SAFETY: plain system calls, no memory of ours.
                    let r = unsafe {
                        match o {
                            Object::Sem(..) => libc::syscall(libc::SYS_semget, p.key, nsems, flags),
                            Object::Msg(..) => libc::syscall(libc::SYS_msgget, p.key, flags),
                        }
                    };
                    Ok(ret(r)? as i32)
                })();
                let code = match r {
                    Ok(id) if id == p.id => 0,
                    Ok(_) => libc::EEXIST,
                    Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
                };
                // SAFETY: the child ends here without running the parent's code.
                unsafe { libc::_exit(code) }
            }
            sys::Fork::Parent(pid) => {
                let (_, st) = sys::waitpid(pid)?;
                let _ = std::fs::write(sysctl, "-1\n");
                if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
                    let code = if libc::WIFEXITED(st) {
                        libc::WEXITSTATUS(st)
                    } else {
                        libc::EIO
                    };
                    if code == libc::EEXIST {
                        remove_by_key(o);
                    }
                    return Err(io::Error::from_raw_os_error(code));
                }
                p.id
            }
        }
    };
    if id != p.id {
        remove(o, id);
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    Ok(())
}

/// Removes object `id` of `o`'s kind.
fn remove(o: &Object, id: i32) {
    match o {
        Object::Sem(..) => {
            let _ = semctl(id, 0, IPC_RMID, 0);
        }
        Object::Msg(..) => {
            let mut b = [0u8; 120];
            let _ = msgctl(id, IPC_RMID, &mut b);
        }
    }
}

/// Removes the object the child made with `o`'s key under another id.
fn remove_by_key(o: &Object) {
    let p = o.perm();
    if p.key == 0 {
        return;
    }
    // SAFETY: plain system calls, no memory of ours.
    let r = unsafe {
        match o {
            Object::Sem(..) => libc::syscall(libc::SYS_semget, p.key, 0, 0),
            Object::Msg(..) => libc::syscall(libc::SYS_msgget, p.key, 0),
        }
    };
    if r >= 0 && r as i32 != p.id {
        remove(o, r as i32);
    }
}

/// Fills a new object with the image's state, then sets its owner and mode.
fn fill(o: &Object) -> io::Result<()> {
    let p = o.perm();
    match o {
        Object::Sem(_, v) => {
            semctl(p.id, 0, SETALL, v.as_ptr() as usize)?;
            set_perm(true, p, 0)
        }
        Object::Msg(_, qbytes, msgs) => {
            let total: u64 = msgs.iter().map(|m| m.1.len() as u64).sum();
            set_perm(false, p, (*qbytes).max(total).max(1))?;
            for (t, d) in msgs {
                let mut b = t.to_le_bytes().to_vec();
                b.extend_from_slice(d);
                // SAFETY: `b` holds a `long` type and `d.len()` bytes of text.
                ret(unsafe {
                    libc::syscall(libc::SYS_msgsnd, p.id, b.as_ptr(), d.len(), IPC_NOWAIT)
                })?;
            }
            set_perm(false, p, *qbytes)
        }
    }
}

/// The objects of `objs` that do not exist now: those a restart makes.
pub fn absent(objs: &[Object]) -> Vec<Object> {
    objs.iter()
        .filter(|o| matches!(current(o), Ok(None)))
        .cloned()
        .collect()
}

/// Removes the objects of `objs` (made by a restart that then failed) that are
/// still exactly as the image had them (nobody used them since), so that a
/// failed restart leaves nothing behind.
pub fn remove_unused(objs: &[Object]) {
    for o in objs {
        if matches!(current(o), Ok(Some(ref now)) if now == o) {
            remove(o, o.perm().id);
        }
    }
}

/// Gives back every object of `objs` (see the module documentation).
pub fn make(objs: &[Object]) -> Result<(), String> {
    for o in objs {
        let p = o.perm();
        let what = o.what();
        let name = format!("SysV {what} {} (key {:#x})", p.id, p.key);
        match current(o).map_err(|e| format!("cannot read {name}: {}", errno::describe(&e)))? {
            Some(now) if now == *o => continue,
            Some(_) => {
                return Err(format!(
                    "{name} exists and differs from the image's (its owner, mode, values or \
                     messages changed since the checkpoint, or another program made it): \
                     remove it (ipcrm -{} {}) to restart",
                    if matches!(o, Object::Sem(..)) {
                        's'
                    } else {
                        'q'
                    },
                    p.id
                ))
            }
            None => {}
        }
        if let Err(e) = create(o) {
            return Err(if e.raw_os_error() == Some(libc::EEXIST) {
                format!("cannot make {name} again: its key or id is taken by another object")
            } else {
                format!("cannot make {name} again: {}", errno::describe(&e))
            });
        }
        if let Err(e) = fill(o) {
            remove(o, p.id);
            return Err(format!("cannot fill {name}: {}", errno::describe(&e)));
        }
        match current(o) {
            Ok(Some(now)) if now == *o => {}
            _ => {
                remove(o, p.id);
                return Err(format!("{name} came back different from the image's"));
            }
        }
    }
    Ok(())
}
