// SPDX-License-Identifier: GPL-2.0

//! Per-task state: identity, registers, FPU state, credentials and resource limits.

use crate::image::{self, Creds, Ctty, Regs, Rlimits, Rseq, Task, Xstate};
use crate::shim::{self, ti, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// Object ids of what the tasks of one process share.
#[derive(Default)]
pub(crate) struct ProcessIds {
    pub(crate) creds: u32,
    pub(crate) sighand: u32,
    pub(crate) signal: u32,
    pub(crate) fs: u32,
    pub(crate) mm: u32,
    pub(crate) files: u32,
}

/// A task's XSAVE area in the standard (uabi) layout.
pub(crate) struct XstateBuf {
    buf: KVec<u8>,
}

impl XstateBuf {
    /// Reads `t`'s XSAVE area (empty if the CPU has no XSAVE).
    pub(crate) fn read(t: &TaskRef) -> Result<Self> {
        let size = t.xstate_size();
        let mut buf = KVec::from_elem(0u8, size, GFP_KERNEL)?;
        if size > 0 {
            t.xstate(&mut buf)?;
        }
        Ok(Self { buf })
    }

    /// Size of the area.
    pub(crate) fn size(&self) -> usize {
        self.buf.len()
    }

    fn word(&self, off: usize) -> u64 {
        let mut a = [0u8; 8];
        if let Some(s) = self.buf.get(off..off + 8) {
            a.copy_from_slice(s);
        }
        u64::from_le_bytes(a)
    }

    /// The user state features of this CPU (XCR0).
    pub(crate) fn cpu_features(&self) -> u64 {
        shim::cpu_xfeatures()
    }

    /// XSTATE_BV of the saved area.
    pub(crate) fn xstate_bv(&self) -> u64 {
        self.word(image::XSAVE_HDR_OFFSET)
    }
}

/// Writes the credentials of `t`; returns their object id.
pub(crate) fn write_creds(w: &mut ImageWriter<'_>, objs: &mut ObjMap, t: &TaskRef) -> Result<u32> {
    let mut groups = KVec::new();
    let c = t.creds(&mut groups)?;
    let mut raw = KVec::with_capacity(groups.len() * 4, GFP_KERNEL)?;
    for g in groups.iter() {
        raw.extend_from_slice(&g.to_le_bytes(), GFP_KERNEL)?;
    }
    let id = objs.fresh();
    w.record(&Creds {
        id,
        uids: c.uids,
        gids: c.gids,
        caps: c.caps,
        securebits: c.securebits,
        no_new_privs: (t.info().flags & shim::ti::NO_NEW_PRIVS != 0) as u32,
        groups: &raw,
    })?;
    Ok(id)
}

/// What is read of a thread while it is pinned at its safe point.
pub(crate) struct ThreadState {
    info: shim::TaskInfo,
    regs: [u64; shim::NREGS],
    in_syscall: bool,
    xstate: XstateBuf,
    rseq: (u64, u32, u32),
}

impl ThreadState {
    /// Reads `t`'s identity and CPU state; `t` must be held at its safe point.
    pub(crate) fn read(t: &TaskRef) -> Result<Self> {
        let (regs, in_syscall) = t.regs()?;
        Ok(Self {
            info: t.info(),
            regs,
            in_syscall,
            xstate: XstateBuf::read(t)?,
            rseq: t.rseq(),
        })
    }

    /// The FPU state read.
    pub(crate) fn xstate(&self) -> &XstateBuf {
        &self.xstate
    }

    /// Writes the task record and the CPU state.
    pub(crate) fn write(&self, w: &mut ImageWriter<'_>, ids: &ProcessIds) -> Result {
        let i = &self.info;
        let mut flags = 0;
        if i.flags & ti::LEADER != 0 {
            flags |= image::TASK_LEADER;
        }
        if self.in_syscall {
            flags |= image::TASK_IN_SYSCALL;
        }
        w.record(&task_record(i, flags, ids))?;
        w.record(&Regs { r: self.regs })?;
        if self.xstate.size() > 0 {
            w.record(&Xstate {
                xstate_bv: self.xstate.xstate_bv(),
                area: &self.xstate.buf,
            })?;
        }
        let (ptr, len, sig) = self.rseq;
        if ptr != 0 {
            w.record(&Rseq { ptr, len, sig })?;
        }
        Ok(())
    }
}

/// The task record of a task whose ids are `i`, belonging to the objects `ids`.
fn task_record<'a>(i: &'a shim::TaskInfo, flags: u32, ids: &ProcessIds) -> Task<'a> {
    Task {
        pid: i.pid,
        tgid: i.tgid,
        ppid: i.ppid,
        pgid: i.pgid,
        sid: i.sid,
        flags,
        exit_signal: i.exit_signal,
        exit_code: i.exit_code,
        personality: i.personality,
        mm: ids.mm,
        files: ids.files,
        fs: ids.fs,
        sighand: ids.sighand,
        signal: ids.signal,
        creds: ids.creds,
        set_child_tid: i.set_child_tid,
        clear_child_tid: i.clear_child_tid,
        robust_list: i.robust_list,
        robust_list_len: i.robust_list_len,
        comm: i.comm(),
    }
}

/// Writes the task record of a zombie: what its parent may still collect (no
/// objects, no user addresses).
pub(crate) fn write_zombie(w: &mut ImageWriter<'_>, i: &shim::TaskInfo) -> Result {
    w.record(&Task {
        set_child_tid: 0,
        clear_child_tid: 0,
        robust_list: 0,
        robust_list_len: 0,
        ..task_record(
            i,
            image::TASK_LEADER | image::TASK_ZOMBIE,
            &ProcessIds::default(),
        )
    })
}

/// Writes the controlling terminal of `t`'s process, if it has one.
pub(crate) fn write_ctty(w: &mut ImageWriter<'_>, t: &TaskRef) -> Result {
    let mut name = [0u8; 64];
    let Some((n, fg_pgid, leader)) = t.ctty(&mut name)? else {
        return Ok(());
    };
    let mut path = [0u8; 69];
    path[..5].copy_from_slice(b"/dev/");
    path[5..5 + n].copy_from_slice(&name[..n]);
    w.record(&Ctty {
        fg_pgid,
        leader: leader as u32,
        path: &path[..5 + n],
    })
}

/// Writes the resource limits of `t`'s process.
pub(crate) fn write_rlimits(w: &mut ImageWriter<'_>, t: &TaskRef) -> Result {
    w.record(&Rlimits { lim: t.rlimits()? })
}
