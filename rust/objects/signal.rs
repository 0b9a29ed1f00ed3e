// SPDX-License-Identifier: GPL-2.0

//! Signals: dispositions, the blocked mask, pending and queued signals, the alternate
//! stack, and interval timers.

use super::timers;
use crate::access;
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, Itimer, SigAction, SigQueue, Sighand, SignalRec, ThreadSignals};
use crate::restart::Plan;
use crate::shim::{self, cur, SigActionRaw, TaskRef, SIGINFO_LEN};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// Queue entries read at first; a longer queue is read again with room for all.
const QUEUE_GUESS: usize = 64;

/// Refuses signal state the image cannot describe yet (the timers: see
/// [`super::timers`]).
pub(crate) fn precheck(t: &TaskRef, why: &mut Reason) -> Result {
    super::timers::precheck(t, why)
}

/// Writes the signal-handler table of `t`; returns its id.
pub(crate) fn write_sighand(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    t: &TaskRef,
) -> Result<u32> {
    let mut raw = KVec::from_elem(SigActionRaw::default(), image::NSIG, GFP_KERNEL)?;
    t.sigactions(&mut raw)?;
    let mut wire = KVec::with_capacity(image::NSIG * image::SIGACTION_LEN, GFP_KERNEL)?;
    for r in raw.iter() {
        let a = SigAction {
            handler: r.handler,
            flags: r.flags,
            restorer: r.restorer,
            mask: r.mask,
        };
        wire.extend_from_slice(&a.to_bytes(), GFP_KERNEL)?;
    }
    let id = objs.fresh();
    w.record(&Sighand { id, raw: &wire })?;
    Ok(id)
}

/// Reads `t`'s signal state with room for every queued signal.
fn read_state(t: &TaskRef) -> Result<(shim::SigState, KVVec<u8>, KVVec<u8>)> {
    let mut room = QUEUE_GUESS;
    loop {
        let mut own = KVVec::from_elem(0u8, room * SIGINFO_LEN, GFP_KERNEL)?;
        let mut shared = KVVec::from_elem(0u8, room * SIGINFO_LEN, GFP_KERNEL)?;
        let st = t.sigstate(&mut own, &mut shared)?;
        if st.overflow != 0 {
            if room >= image::MAX_QUEUED {
                return Err(eopnotsupp());
            }
            room = (room * 8).min(image::MAX_QUEUED);
            continue;
        }
        own.truncate(st.nr_queued as usize * SIGINFO_LEN);
        shared.truncate(st.nr_shared_queued as usize * SIGINFO_LEN);
        return Ok((st, own, shared));
    }
}

/// Writes the process-wide signal state of `t`; returns its id.
pub(crate) fn write_signal(w: &mut ImageWriter<'_>, objs: &mut ObjMap, t: &TaskRef) -> Result<u32> {
    let (st, _, shared) = read_state(t)?;
    let [virt, prof] = timers::cpu_itimers(t)?;
    let id = objs.fresh();
    w.record(&SignalRec {
        id,
        itimers: [
            Itimer {
                value_ns: st.real_value_ns,
                interval_ns: st.real_interval_ns,
            },
            virt,
            prof,
        ],
        shared: SigQueue::new(st.shared_pending, &shared),
    })?;
    timers::write(w, id, t)?;
    Ok(id)
}

/// Writes the per-thread signal state of `t`.
pub(crate) fn write_thread_signals(w: &mut ImageWriter<'_>, t: &TaskRef) -> Result {
    let (st, own, _) = read_state(t)?;
    w.record(&ThreadSignals {
        blocked: st.blocked,
        altstack_sp: st.altstack_sp,
        altstack_size: st.altstack_size,
        altstack_flags: st.altstack_flags,
        pending: SigQueue::new(st.pending, &own),
    })
}

// ---------------------------------------------------------------------------
// Restart.

/// Restores the signal handlers and the process-wide signal state (by the leader).
pub(crate) fn restore_process(p: &Plan<'_>) -> Result {
    let mut sa = KVec::from_elem(SigActionRaw::default(), image::NSIG, GFP_KERNEL)?;
    // By index: a zip of the two iterators made code objtool warned about (it
    // falls through to the next function).
    for (i, o) in sa.iter_mut().enumerate() {
        let a = p.sighand.action(i);
        *o = SigActionRaw {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        };
    }
    cur::set_sigactions(&sa)?;
    let real = p.signal.itimers[0];
    let refire = alarm_refires(p);
    if !refire {
        cur::set_itimer_real(real.value_ns, real.interval_ns);
    }
    // The process's shared pending signals (queued to the leader: no exported way
    // reaches the shared queue), once the leader blocks what it blocked: a blocked
    // signal that is ignored (SIG_IGN, or ignored by default as SIGCHLD) is pending
    // only because it is blocked, and would be dropped when sent to a task that does
    // not block it.
    cur::set_blocked(p.tsig.blocked);
    requeue(p, &p.signal.shared, refire)?;
    if refire {
        // At once: the timer sends its SIGALRM to the process as it would have.
        cur::set_itimer_real(1, real.interval_ns);
    }
    Ok(())
}

/// `SIGALRM`.
const SIGALRM: i32 = 14;

/// Whether the process's pending `SIGALRM` is its periodic `ITIMER_REAL`'s, waiting to
/// be delivered: the kernel re-arms that timer when it takes the signal from the
/// process's shared queue, which a requeued signal (queued to the leader) is not. The
/// timer then fires again at once instead, and the saved signal is not requeued.
fn alarm_refires(p: &Plan<'_>) -> bool {
    let real = p.signal.itimers[0];
    real.value_ns == 0
        && real.interval_ns != 0
        && p.signal.shared.pending & (1u64 << (SIGALRM - 1)) != 0
}

/// Restores a task's own signal state: alternate stack, blocked mask, pending signals.
pub(crate) fn restore_thread(p: &Plan<'_>) -> Result {
    cur::set_altstack(
        p.tsig.altstack_sp,
        p.tsig.altstack_size,
        p.tsig.altstack_flags,
    );
    cur::set_blocked(p.tsig.blocked);
    requeue(p, &p.tsig.pending, false)
}

/// Queues the signals of `q` for the caller: each saved siginfo, then every other
/// pending signal (pending without a queue entry, as when the queue was full) as the
/// kernel would send it (`SI_KERNEL`). A pending `SIGSTOP` is not queued: the process
/// stops at the end of the restart instead (see [`stops`]); nor is a POSIX timer's
/// queued signal, which its timer queues again (see [`timers`]).
/// With `alarm`, a pending `SIGALRM` is not queued either (see [`alarm_refires`]).
fn requeue(p: &Plan<'_>, q: &SigQueue<'_>, alarm: bool) -> Result {
    let mut queued = 0u64;
    if alarm {
        queued |= 1u64 << (SIGALRM - 1);
    }
    for i in 0..q.len() {
        let s = q.get(i);
        queued |= 1u64 << (s.signo() - 1);
        if !is_sigstop(s.info)
            && !timers::requeued_by_timer(p, s.info)
            && !(alarm && s.signo() == SIGALRM)
        {
            cur::queue_signal(s.info, access::signal_keeps_sender)?;
        }
    }
    let rest = q.pending & !queued & !(1u64 << (SIGSTOP - 1));
    for sig in 1..=image::NSIG as i32 {
        if rest & (1u64 << (sig - 1)) != 0 {
            let mut info = [0u8; SIGINFO_LEN];
            info[..4].copy_from_slice(&sig.to_le_bytes());
            info[8..12].copy_from_slice(&SI_KERNEL.to_le_bytes());
            cur::queue_signal(&info, access::signal_keeps_sender)?;
        }
    }
    Ok(())
}

/// `si_code` of a signal the kernel sent.
const SI_KERNEL: i32 = 0x80;

/// What the image's signal state may not hold: a pending `SIGKILL` (the process was
/// dying).
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    let kill = 1u64 << 8;
    if (p.signal.shared.pending | p.tsig.pending.pending) & kill != 0 {
        return Err(crate::restart::refuse(
            why,
            EINVAL,
            format_args!("the image's process was being killed (SIGKILL pending)"),
        ));
    }
    Ok(())
}

/// `SIGSTOP`.
const SIGSTOP: i32 = 19;
/// The terminal stop signals.
const SIGTSTP: i32 = 20;
const SIGTTIN: i32 = 21;
const SIGTTOU: i32 = 22;
/// The default disposition.
const SIG_DFL: u64 = 0;

/// Whether a saved `siginfo` is a `SIGSTOP`.
fn is_sigstop(info: &[u8]) -> bool {
    info.len() >= 4 && i32::from_le_bytes([info[0], info[1], info[2], info[3]]) == SIGSTOP
}

/// Whether the task stops its process at the end of the restart: the process was
/// stopped (or being stopped: the leader's `task-attrs` say), or this task had a
/// `SIGSTOP` pending (the leader also for the process's shared queue).
pub(crate) fn stops(p: &Plan<'_>) -> bool {
    let queued = |q: &image::SigQueue<'_>| {
        q.pending & (1u64 << (SIGSTOP - 1)) != 0 || (0..q.len()).any(|i| is_sigstop(q.get(i).info))
    };
    (p.leader() && (p.attrs.is_some_and(|a| a.stop_signal != 0) || queued(&p.signal.shared)))
        || queued(&p.tsig.pending)
}

/// Job control: a process that was stopped comes back stopped. Its stop signal is
/// sent to it while every task of the restart is still in the kernel; each stops on
/// its way back to user mode (see [`recalc_pending`]) and stays stopped until
/// `SIGCONT`, and its parent is told again with the same stop signal (what
/// `waitid(WSTOPPED)` reports). A terminal stop signal (`SIGTSTP`, `SIGTTIN`,
/// `SIGTTOU`) is only sent when it stops the process for certain: its disposition
/// is the default and the process group is not orphaned (else the kernel would run
/// a handler or discard it); otherwise, and for a pending `SIGSTOP`, `SIGSTOP`.
pub(crate) fn restore_stop(p: &Plan<'_>) -> Result {
    if !stops(p) {
        return Ok(());
    }
    let saved = p.attrs.map_or(0, |a| a.stop_signal) as i32;
    let sig = match saved {
        SIGTSTP | SIGTTIN | SIGTTOU
            if p.leader()
                && p.sighand.action(saved as usize - 1).handler == SIG_DFL
                && !shim::cur_attrs::pgrp_orphaned() =>
        {
            saved
        }
        _ => SIGSTOP,
    };
    shim::cur_attrs::stop_group(sig)
}

/// After the session's last wait: a signal sent to the process while the task waited
/// (its stop) is noticed before it returns to user mode.
pub(crate) fn recalc_pending() {
    shim::cur_attrs::recalc_sigpending();
}
