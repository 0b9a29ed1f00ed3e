// SPDX-License-Identifier: GPL-2.0

//! Timers: the CPU-time interval timers (`ITIMER_VIRTUAL`, `ITIMER_PROF`; `ITIMER_REAL`
//! is restored with the rest of the signal state, in [`super::signal`]) and the POSIX
//! timers (`timer_create`) of a process.
//!
//! Who does what at restart: the restarter (`ckpt restart`, in the process that
//! becomes the restored one, before `CKPT_IOC_RESTART`) creates each POSIX timer with
//! its id (`PR_TIMER_CREATE_RESTORE_IDS`), clock and `sigevent` and arms it with the
//! time it had left, and arms each CPU-time interval timer far in the future: only a
//! system call can create a timer or start the process's CPU-time accounting, and
//! none is exported to modules. The module checks (phase 1) that the caller has
//! exactly the timers of the image, then (phase 3) gives each CPU-time interval timer
//! its exact expiry, counted from the end of the restore (the restore's own CPU time
//! is not charged to the program), and each POSIX timer the overrun count of its last
//! signal. A timer whose signal was queued and not delivered at checkpoint is made to
//! expire at once instead, so that its own signal is queued again and a periodic
//! timer re-arms on delivery as it would have (the saved queue entry is dropped: the
//! queue is read before the timers, so an entry of a timer in the saved queue is
//! still queued when the timer is read).
//!
//! Refused at checkpoint: timers on CPU-time clocks (the process's CPU time starts
//! from zero in a new process, so their expiries cannot come back) and alarm clocks,
//! timers whose signal is ignored (parked by the kernel), and timers signalling a
//! thread that is gone.

use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, ptimer, sigev, Itimer, PosixTimer};
use crate::restart::{refuse, Plan};
use crate::shim::TaskRef;
use crate::stream::ImageWriter;
use core::ffi::c_void;
use kernel::prelude::*;

/// `struct ckpt_cpu_itimers`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CpuItimers {
    virt_value: u64,
    virt_incr: u64,
    prof_value: u64,
    prof_incr: u64,
}

/// `struct ckpt_ptimer`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Ptimer {
    id: i32,
    clock: i32,
    notify: i32,
    signo: i32,
    tid: i32,
    flags: u32,
    value: u64,
    value_ns: u64,
    interval_ns: u64,
    overrun_last: i64,
}

/// `CKPT_PT_*` (rust/shim_timers.h): the first two are [`ptimer`]'s.
const PT_IMAGE_FLAGS: u32 = ptimer::ABSTIME | ptimer::SIGNAL_QUEUED;
const PT_IGNORED: u32 = 4;
const PT_TID_GONE: u32 = 8;

mod ffi {
    use super::{CpuItimers, Ptimer};
    use core::ffi::c_void;

    extern "C" {
        pub(super) fn ckpt_task_cpu_itimers(t: *mut c_void, out: *mut CpuItimers) -> i32;
        pub(super) fn ckpt_cur_fix_cpu_itimer(which: u32, value_ns: u64, incr_ns: u64) -> i32;
        pub(super) fn ckpt_task_posix_timers(
            t: *mut c_void,
            out: *mut Ptimer,
            max: u32,
            n: *mut u32,
        ) -> i32;
        pub(super) fn ckpt_cur_posix_timer_fix(
            id: i32,
            clock: i32,
            notify: i32,
            signo: i32,
            value: u64,
            overrun_last: i64,
        ) -> i32;
    }
}

fn errno(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// `ITIMER_VIRTUAL` and `ITIMER_PROF` of `t`'s process: time left and interval.
pub(crate) fn cpu_itimers(t: &TaskRef) -> Result<[Itimer; 2]> {
    let mut c = CpuItimers::default();
    // SAFETY: The task reference is live; `c` is writable.
    errno(unsafe { ffi::ckpt_task_cpu_itimers(t.as_raw(), &mut c) })?;
    Ok([
        Itimer {
            value_ns: c.virt_value,
            interval_ns: c.virt_incr,
        },
        Itimer {
            value_ns: c.prof_value,
            interval_ns: c.prof_incr,
        },
    ])
}

/// The POSIX timers of `t`'s process.
fn posix_timers(t: *mut c_void) -> Result<KVec<Ptimer>> {
    let mut room = 8usize;
    loop {
        let mut v = KVec::from_elem(Ptimer::default(), room, GFP_KERNEL)?;
        let mut n = 0u32;
        // SAFETY: `t` is a live task; `v` has room for `room` entries.
        errno(unsafe { ffi::ckpt_task_posix_timers(t, v.as_mut_ptr(), room as u32, &mut n) })?;
        if n as usize <= room {
            v.truncate(n as usize);
            return Ok(v);
        }
        if n as usize > image::MAX_POSIX_TIMERS {
            return Err(EMFILE);
        }
        room = n as usize + 8;
    }
}

/// Refuses the timers of `t`'s process that cannot come back exactly.
pub(crate) fn precheck(t: &TaskRef, why: &mut Reason) -> Result {
    let timers = posix_timers(t.as_raw()).map_err(|e| {
        if e == EMFILE {
            why.set(
                eopnotsupp(),
                format_args!("more than {} POSIX timers", image::MAX_POSIX_TIMERS),
            )
        } else {
            e
        }
    })?;
    for p in timers.iter() {
        let id = p.id;
        if p.clock < 0 || p.clock == 2 || p.clock == 3 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "POSIX timer {id} counts CPU time (clock {}): a restarted process's CPU \
                     time starts again from zero, so it cannot come back; not supported",
                    p.clock
                ),
            ));
        }
        if !image::ptimer_clock_ok(p.clock) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "POSIX timer {id} is on clock {} (alarm clocks and others are not supported)",
                    p.clock
                ),
            ));
        }
        if p.flags & PT_IGNORED != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "POSIX timer {id} is parked by the kernel (its signal {} is ignored); not supported",
                    p.signo
                ),
            ));
        }
        if p.flags & PT_TID_GONE != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!("POSIX timer {id} signals a thread that has exited; not supported"),
            ));
        }
        if !matches!(p.notify, sigev::SIGNAL | sigev::NONE | sigev::THREAD_ID) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "POSIX timer {id} has notification {}; not supported",
                    p.notify
                ),
            ));
        }
    }
    Ok(())
}

/// Writes a [`PosixTimer`] record for each POSIX timer of `t`'s process, whose
/// [`image::SignalRec`] is `signal`.
pub(crate) fn write(w: &mut ImageWriter<'_>, signal: u32, t: &TaskRef) -> Result {
    for p in posix_timers(t.as_raw())?.iter() {
        let thread = p.notify == sigev::THREAD_ID;
        w.record(&PosixTimer {
            signal,
            id: p.id,
            clock: p.clock,
            notify: p.notify,
            signo: if p.notify == sigev::NONE { 0 } else { p.signo },
            tid: if thread { p.tid } else { 0 },
            flags: p.flags & PT_IMAGE_FLAGS,
            value: p.value,
            value_ns: p.value_ns,
            interval_ns: p.interval_ns,
            overrun: p.overrun_last.clamp(0, i32::MAX as i64) as u32,
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// Phase 1, by the leader: the restarter made every timer of the image, and no other.
pub(crate) fn check_caller(p: &Plan<'_>, why: &mut Reason) -> Result {
    let me = TaskRef::current();
    let cpu = cpu_itimers(&me)?;
    for (i, name) in [(1usize, "ITIMER_VIRTUAL"), (2, "ITIMER_PROF")] {
        let want = p.signal.itimers[i].value_ns != 0;
        if want != (cpu[i - 1].value_ns != 0) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the restarter {} {name} (the image {} it)",
                    if want { "did not arm" } else { "armed" },
                    if want { "has" } else { "does not have" }
                ),
            ));
        }
    }
    let have = posix_timers(me.as_raw())?;
    if have.len() != p.timers.len() {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the restarter made {} POSIX timers, the image has {}",
                have.len(),
                p.timers.len()
            ),
        ));
    }
    for t in p.timers.iter() {
        let ok = have.iter().any(|h| {
            h.id == t.id
                && h.clock == t.clock
                && h.notify == t.notify
                && (t.notify == sigev::NONE || h.signo == t.signo)
                && h.value == t.value
                && (t.notify != sigev::THREAD_ID || h.tid == t.tid)
        });
        if !ok {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the restarter did not make POSIX timer {} as the image has it",
                    t.id
                ),
            ));
        }
    }
    Ok(())
}

/// Phase 3, by the leader: exact expiries of the CPU-time interval timers, overrun
/// counts of the POSIX timers.
pub(crate) fn restore(p: &Plan<'_>, why: &mut Reason) -> Result {
    for which in [1u32, 2] {
        let t = p.signal.itimers[which as usize];
        if t.value_ns != 0 {
            // SAFETY: No preconditions.
            errno(unsafe { ffi::ckpt_cur_fix_cpu_itimer(which, t.value_ns, t.interval_ns) })
                .map_err(|e| why.set(e, format_args!("cannot set interval timer {which}")))?;
        }
    }
    for t in p.timers.iter() {
        // SAFETY: No preconditions.
        errno(unsafe {
            ffi::ckpt_cur_posix_timer_fix(
                t.id,
                t.clock,
                t.notify,
                t.signo,
                t.value,
                i64::from(t.overrun),
            )
        })
        .map_err(|e| {
            why.set(
                e,
                format_args!("POSIX timer {} changed during the restart", t.id),
            )
        })?;
    }
    Ok(())
}

/// `si_code` of a POSIX timer's signal.
const SI_TIMER: i32 = -2;

/// Whether the saved siginfo `info` is the queued signal of a timer that the
/// restarter made expire again (see [`ptimer::SIGNAL_QUEUED`]): not queued twice.
pub(crate) fn requeued_by_timer(p: &Plan<'_>, info: &[u8]) -> bool {
    if info.len() < 20 {
        return false;
    }
    let word = |o: usize| i32::from_le_bytes([info[o], info[o + 1], info[o + 2], info[o + 3]]);
    let (signo, code, tid) = (word(0), word(8), word(16));
    code == SI_TIMER
        && p.timers
            .iter()
            .any(|t| t.flags & ptimer::SIGNAL_QUEUED != 0 && t.id == tid && t.signo == signo)
}
