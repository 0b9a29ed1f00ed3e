// SPDX-License-Identifier: GPL-2.0

//! CPU state of a task: general registers, the FPU (XSAVE) state and the rseq
//! registration -- saved with the task ([`super::task::ThreadState`] reads them at
//! the task's safe point) and restored last, as the task enters user mode.

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, Regs, Rseq, Xstate};
use crate::restart::Plan;
use crate::shim::{self, cur, TaskRef, NREGS};
use crate::stream::ImageWriter;
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Checkpoint.

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

/// Writes the CPU records of a task, after its task record.
pub(crate) fn write(
    w: &mut ImageWriter<'_>,
    regs: &[u64; NREGS],
    xstate: &XstateBuf,
    rseq: (u64, u32, u32),
) -> Result {
    w.record(&Regs { r: *regs })?;
    if xstate.size() > 0 {
        w.record(&Xstate {
            xstate_bv: xstate.xstate_bv(),
            area: &xstate.buf,
        })?;
    }
    let (ptr, len, sig) = rseq;
    if ptr != 0 {
        w.record(&Rseq { ptr, len, sig })?;
    }
    Ok(())
}

/// Moves the saved instruction pointer of `t`, interrupted in user mode, to the
/// abort handler of the rseq critical section it was in, if it was in one: the
/// kernel aborts the section on the task's next return to user mode after a
/// preemption, and a restarted task has been preempted (the restart clears the
/// area's `rseq_cs` as that abort does).  Refuses a task the kernel would kill
/// there instead (a bad descriptor or handler).
pub(crate) fn rseq_abort(t: &TaskRef, regs: &mut [u64; NREGS], why: &mut Reason) -> Result {
    match t.rseq_abort(regs[image::REG_RIP]) {
        Ok(Some(abort)) => {
            regs[image::REG_RIP] = abort;
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(why.set(
            e,
            format_args!(
                "thread {} is in an rseq critical section the kernel cannot abort \
                 (its descriptor, abort handler or signature is bad: it would be killed)",
                t.info().pid
            ),
        )),
    }
}

// ---------------------------------------------------------------------------
// Restart.

/// The image's FPU state must fit this CPU.
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    // The rseq area as rseq(2) would register it (length and alignment), checked
    // before the point of no return.
    if let Some(r) = p.rseq.filter(|r| r.ptr != 0) {
        if !shim::rseq_area_valid(r.ptr, r.len) {
            return Err(why.set(
                EINVAL,
                format_args!(
                    "rseq area of {} bytes at {:#x}: rseq(2) would refuse it (length or alignment)",
                    r.len, r.ptr
                ),
            ));
        }
    }
    let (size, features) = cur::xstate_size()?;
    if let Some(x) = &p.xstate {
        if size == 0 {
            return Err(why.set(eopnotsupp(), format_args!("this CPU has no XSAVE")));
        }
        // What this CPU lacks is refused only if the process holds state there: a
        // component in its initial state comes back as the CPU's own initial state.
        let lacking = x.xstate_bv & !features & !x.idle(x.xstate_bv & !features);
        if lacking != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "the process holds {} register state ({lacking:#x}) this CPU lacks \
                     (it has {features:#x}: {})",
                    image::XfeatureNames(lacking),
                    image::XfeatureNames(features)
                ),
            ));
        }
        // Review finding A17: a dynamic feature (AMX tile data) also needs the
        // process's permission, or the signal frame that loads the state drops it.
        let allowed = features & cur::permitted_xfeatures();
        if x.xstate_bv & features & !allowed != 0 {
            return Err(why.set(
                EPERM,
                format_args!(
                    "image uses FPU state {:#x} the caller may not use (arch_prctl ARCH_REQ_XCOMP_PERM)",
                    x.xstate_bv & features & !allowed
                ),
            ));
        }
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
pub(crate) enum Entry {
    /// Straight into its registers (its FPU state, if any, already loaded).
    Direct,
    /// Through `rt_sigreturn` of the signal frame at `sp - 8`, from the `syscall`
    /// instruction at `ip`.
    Sigreturn { sp: u64, ip: u64 },
}

/// Restores the task's rseq area and FPU state; says how it enters user mode.
pub(crate) fn restore(p: &Plan<'_>, why: &mut Reason) -> Result<Entry> {
    if let Some(r) = &p.rseq {
        cur::set_rseq(r.ptr, r.len, r.sig)
            .map_err(|e| why.set(e, format_args!("the rseq area was refused")))?;
    }
    let Some(x) = &p.xstate else {
        return Ok(Entry::Direct);
    };
    let (size, features) = cur::xstate_size()?;
    let mut area = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    let n = x.area.len().min(size);
    area[..n].copy_from_slice(&x.area[..n]);
    // Components this CPU lacks (in their initial state: `check_plan`) are not
    // loaded: XSTATE_BV names only what this CPU has.
    if x.xstate_bv & !features != 0 {
        if let Some(bv) = area.get_mut(image::XSAVE_HDR_OFFSET..image::XSAVE_HDR_OFFSET + 8) {
            bv.copy_from_slice(&(x.xstate_bv & features).to_le_bytes());
        }
    }
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

/// Sets the registers, the very last step (nothing can fail any more); returns the
/// `rax` the task returns with.
pub(crate) fn set_regs(p: &Plan<'_>, entry: Entry) -> u64 {
    let mut regs: [u64; NREGS] = p.regs.r;
    if let Entry::Sigreturn { sp, ip } = entry {
        // Into the vDSO's syscall instruction with rax = rt_sigreturn: the kernel's
        // sigreturn loads the registers and FPU state from the frame.
        regs[image::REG_RIP] = ip;
        regs[image::REG_RSP] = sp;
        regs[image::REG_RAX] = NR_RT_SIGRETURN;
        regs[REG_EFLAGS] &= !EFLAGS_TF;
    }
    cur::set_regs(&regs);
    regs[image::REG_RAX]
}
