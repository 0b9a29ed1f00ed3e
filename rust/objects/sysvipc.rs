// SPDX-License-Identifier: GPL-2.0

//! SysV semaphore sets and message queues ([`image::SemSet`],
//! [`image::MsgQueue`], [`image::SysvMsg`]).
//!
//! Neither belongs to a process: they live in an IPC namespace, named by id,
//! and their state (`struct sem_array`, `struct msg_queue`) is private to
//! `ipc/`, with no exported way to read it. Userspace reads them exactly
//! (`semctl(GETALL)`, `msgrcv(MSG_COPY)`), so `ckpt checkpoint` does, while
//! the processes are held: with [`uapi::CKPT_CHECKPOINT_SYSV`] it passes a
//! stream socket; once every process of the tree is quiesced this side writes a
//! request on it (the tree's pids, and whether the tree has an IPC namespace of
//! its own), the tool answers with the records of the objects the tree uses,
//! and this side checks them with the image decoder and writes them into the
//! image (nothing is asked, and the tool sees the channel close, when the
//! namespace holds no semaphore set and no message queue and is not the tree's
//! own). Processes with an IPC namespace of their own get every object of it,
//! and its limits ([`image::IpcNs`]), in a new namespace at restart. At restart
//! the tool makes them again, with their ids, before the restart ioctl; the
//! module has nothing to check (it cannot read them).
//!
//! Refused at checkpoint (with the processes held, not by `CKPT_IOC_CHECK`):
//! semaphore undo state (`SEM_UNDO`: the adjustments
//! are private to `ipc/sem.c` and could not be given back exactly), and a tree
//! whose processes are in different IPC namespaces.

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, Record};
use crate::shim::{FileRef, TaskRef};
use crate::stream::ImageWriter;
use crate::uapi;
use kernel::prelude::*;

/// Most bytes of records the tool may hand over.
const MAX_REPLY: usize = 64 << 20;

mod ffi {
    use core::ffi::c_void;
    extern "C" {
        pub(super) fn ckpt_task_sysv(t: *mut c_void, ns: *mut u64, flags: *mut u32) -> i32;
        pub(super) fn ckpt_task_sem_undo(t: *mut c_void) -> i32;
    }
}

/// `CKPT_SYSV_OTHER_NS`.
const OTHER_NS: u32 = 1;
/// `CKPT_SYSV_NONE`: the namespace holds no semaphore set and no message queue.
const NONE: u32 = 2;

/// `t`'s IPC namespace (its inode number; 0: `t` has exited) and `CKPT_SYSV_*`
/// flags.
fn task_sysv(t: &TaskRef) -> Result<(u64, u32)> {
    let (mut ns, mut flags) = (0u64, 0u32);
    // SAFETY: The task reference is live; both outputs are writable.
    let r = unsafe { ffi::ckpt_task_sysv(t.as_raw(), &mut ns, &mut flags) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok((ns, flags))
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// Refuses a process with semaphore undo state. Its threads must be held: the
/// kernel frees an exiting task's undo list without a lock.
pub(crate) fn precheck_held(pid: i32, threads: &[TaskRef], why: &mut Reason) -> Result {
    for t in threads {
        // SAFETY: The task reference is live and the task is held at a safe point
        // (not exiting), so its undo list stays.
        if unsafe { ffi::ckpt_task_sem_undo(t.as_raw()) } != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "thread {} of {pid} has SysV semaphore undo state (SEM_UNDO): not supported \
                     (the adjustments cannot be read or set exactly)",
                    t.info().pid
                ),
            ));
        }
    }
    Ok(())
}

/// Asks the tool, on `chan`, for the SysV objects of the processes `procs` (their
/// live threads; `pids` with the zombies' pids too), quiesced; returns the
/// records it answered, checked.
pub(crate) fn collect(
    chan: &FileRef,
    procs: &[&TaskRef],
    pids: &[i32],
    why: &mut Reason,
) -> Result<KVVec<u8>> {
    let mut ns0 = None;
    let mut own = false;
    let mut none = true;
    for t in procs {
        let (ns, flags) = task_sysv(t)?;
        if ns == 0 {
            // An exited thread group leader: its threads are asked below.
            continue;
        }
        match ns0 {
            None => ns0 = Some(ns),
            Some(n) if n != ns => {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "process {} is in another IPC namespace than {}: not supported",
                        t.info().tgid,
                        pids[0]
                    ),
                ))
            }
            Some(_) => {}
        }
        own = flags & OTHER_NS != 0;
        none &= flags & NONE != 0;
    }
    if none && ns0.is_some() && !own {
        // Nothing to ask for (the tool's side sees the channel close): the
        // round trip is most of a small process's frozen time.
        return Ok(KVVec::new());
    }
    let n = pids.len();
    let mut req = KVec::with_capacity(12 + 4 * n, GFP_KERNEL)?;
    req.extend_from_slice(&uapi::CKPT_SYSV_MAGIC.to_le_bytes(), GFP_KERNEL)?;
    req.extend_from_slice(&u32::from(own).to_le_bytes(), GFP_KERNEL)?;
    req.extend_from_slice(&(n as u32).to_le_bytes(), GFP_KERNEL)?;
    for p in pids {
        req.extend_from_slice(&p.to_le_bytes(), GFP_KERNEL)?;
    }
    let lost = |e: Error, why: &mut Reason| {
        why.set(
            e,
            format_args!("the SysV IPC channel of ckpt checkpoint failed"),
        )
    };
    chan.write_all(&req).map_err(|e| lost(e, why))?;
    let mut len = [0u8; 4];
    let mut pos = 0i64;
    if chan.read_at(&mut len, &mut pos).map_err(|e| lost(e, why))? != 4 {
        return Err(lost(EPIPE, why));
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_REPLY {
        return Err(why.set(
            E2BIG,
            format_args!("the SysV IPC objects take more than {MAX_REPLY} bytes"),
        ));
    }
    let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    if chan.read_at(&mut buf, &mut pos).map_err(|e| lost(e, why))? != len {
        return Err(lost(EPIPE, why));
    }
    // Checked now, before anything is written: each record decodes and the
    // messages follow their queue.
    let mut msgs = (0i32, 0u32);
    let mut first = true;
    let mut saw_ns = false;
    for r in records(&buf) {
        let r = r.map_err(|e| {
            why.set(
                EINVAL,
                format_args!("bad SysV IPC record from ckpt checkpoint: {}", e.describe()),
            )
        })?;
        let was_first = first;
        first = false;
        let ok = match r {
            AnyRecord::IpcNs(n) => {
                saw_ns = true;
                was_first && (n.flags & image::IPC_NS_OWN != 0) == own
            }
            AnyRecord::SemSet(_) => msgs.1 == 0,
            AnyRecord::MsgQueue(q) => {
                let ok = msgs.1 == 0;
                msgs = (q.perm.id, q.count);
                ok
            }
            AnyRecord::SysvMsg(m) if msgs.1 > 0 && m.queue == msgs.0 => {
                msgs.1 -= 1;
                true
            }
            _ => false,
        };
        if !ok {
            return Err(why.set(
                EINVAL,
                format_args!("SysV IPC records from ckpt checkpoint out of order"),
            ));
        }
    }
    if msgs.1 != 0 || (own && !saw_ns) {
        return Err(why.set(
            EINVAL,
            format_args!("SysV IPC records from ckpt checkpoint: messages or namespace missing"),
        ));
    }
    Ok(buf)
}

/// The records of a reply: `u16 kind, u16 0, u32 len`, then the payload.
fn records(mut b: &[u8]) -> impl Iterator<Item = image::Result<AnyRecord<'_>>> {
    core::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        if b.len() < 8 {
            b = &[];
            return Some(Err(image::ImageError::Truncated));
        }
        let kind = u16::from_le_bytes([b[0], b[1]]);
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        if b.len() - 8 < len
            || !matches!(
                kind,
                image::kind::SEM_SET
                    | image::kind::MSG_QUEUE
                    | image::kind::SYSV_MSG
                    | image::kind::IPC_NS
            )
        {
            b = &[];
            return Some(Err(image::ImageError::Malformed("bad SysV record")));
        }
        let (p, rest) = b[8..].split_at(len);
        b = rest;
        Some(match kind {
            image::kind::SEM_SET => image::SemSet::from_payload(p).map(AnyRecord::SemSet),
            image::kind::MSG_QUEUE => image::MsgQueue::from_payload(p).map(AnyRecord::MsgQueue),
            image::kind::IPC_NS => image::IpcNs::from_payload(p).map(AnyRecord::IpcNs),
            _ => image::SysvMsg::from_payload(p).map(AnyRecord::SysvMsg),
        })
    })
}

/// Writes the records [`collect`] checked.
pub(crate) fn write(w: &mut ImageWriter<'_>, recs: &[u8]) -> Result {
    for r in records(recs) {
        match r.map_err(|_| EINVAL)? {
            AnyRecord::SemSet(s) => w.record(&s)?,
            AnyRecord::MsgQueue(q) => w.record(&q)?,
            AnyRecord::SysvMsg(m) => w.record(&m)?,
            AnyRecord::IpcNs(n) => w.record(&n)?,
            _ => return Err(EINVAL),
        }
    }
    Ok(())
}
