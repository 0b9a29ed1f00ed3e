// SPDX-License-Identifier: GPL-2.0

//! The image's timers, made by the restarter in the process that becomes the
//! restored one, just before the ioctl (only a system call creates a timer or
//! starts a process's CPU-time accounting): each POSIX timer with its id
//! (`PR_TIMER_CREATE_RESTORE_IDS`), clock and `sigevent`, armed with the time
//! it had left (a timer whose signal was queued: expiring at once, so
//! that the timer queues its own signal again); each armed `ITIMER_VIRTUAL` and
//! `ITIMER_PROF` far in the future, the module then giving it its exact expiry.
//! Their signals are blocked first (the threads inherit the mask): one that
//! fires during the restore stays pending, and is not fatal to a restarter that
//! has no handlers yet; the module then sets the image's masks.
//! `ITIMER_REAL` is the module's alone.

use std::io;

use crate::image::{ptimer, sigev};

use super::plan::ProcPlan;

/// `prctl(PR_TIMER_CREATE_RESTORE_IDS, ...)` (Linux 6.14): `timer_create` takes the
/// id it is given.
const PR_TIMER_CREATE_RESTORE_IDS: libc::c_long = 77;
const RESTORE_IDS_ON: libc::c_long = 1;
const RESTORE_IDS_OFF: libc::c_long = 0;

/// The kernel's `struct sigevent` (64 bytes).
#[repr(C)]
struct KSigevent {
    value: u64,
    signo: i32,
    notify: i32,
    tid: i32,
    pad: [i32; 11],
}

/// The kernel's `struct __kernel_itimerspec`.
#[repr(C)]
struct KItimerspec {
    interval: [i64; 2],
    value: [i64; 2],
}

fn ts(ns: u64) -> [i64; 2] {
    [(ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64]
}

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The signals `me`'s timers send.
fn timer_signals(me: &ProcPlan) -> u64 {
    let mut m = 0u64;
    if me.cpu_itimers[0].0 != 0 {
        m |= 1 << (libc::SIGVTALRM - 1);
    }
    if me.cpu_itimers[1].0 != 0 {
        m |= 1 << (libc::SIGPROF - 1);
    }
    for t in me.timers.iter().filter(|t| t.notify != sigev::NONE) {
        m |= 1u64 << (t.signo - 1);
    }
    m
}

/// Blocks the signals of `me`'s timers in the calling thread (before it
/// starts the threads, which inherit the mask).
pub(super) fn block_signals(me: &ProcPlan) -> Result<(), String> {
    let set = timer_signals(me);
    if set == 0 {
        return Ok(());
    }
    // The raw system call: the C library refuses the signals it keeps for
    // itself, which a program's timer may use.
    // SAFETY: rt_sigprocmask reads an 8-byte set.
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &set as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    })
    .map(|_| ())
    .map_err(|e| format!("cannot block the timers' signals: {e}"))
}

/// Makes `me`'s POSIX timers and arms its CPU-time interval timers (after its
/// threads exist: a timer may signal one of them).
pub(super) fn make(me: &ProcPlan) -> Result<(), String> {
    for (which, (value, interval)) in [libc::ITIMER_VIRTUAL, libc::ITIMER_PROF]
        .into_iter()
        .zip(me.cpu_itimers)
    {
        if value == 0 {
            continue;
        }
        // Far in the future: the module sets the expiry (`struct itimerval`).
        let iv: [i64; 4] = [
            (interval / 1_000_000_000) as i64,
            ((interval % 1_000_000_000) / 1000) as i64,
            86_400,
            0,
        ];
        // SAFETY: setitimer reads a `struct itimerval`; no old value.
        check(unsafe {
            libc::syscall(
                libc::SYS_setitimer,
                which,
                iv.as_ptr(),
                std::ptr::null_mut::<i64>(),
            )
        })
        .map_err(|e| format!("cannot arm interval timer {which}: {e}"))?;
    }
    if me.timers.is_empty() {
        return Ok(());
    }
    // SAFETY: prctl with integer arguments.
    check(unsafe {
        libc::syscall(
            libc::SYS_prctl,
            PR_TIMER_CREATE_RESTORE_IDS,
            RESTORE_IDS_ON,
            0,
            0,
            0,
        )
    })
    .map_err(|e| {
        format!("cannot create POSIX timers with their ids (PR_TIMER_CREATE_RESTORE_IDS): {e}")
    })?;
    let made = make_posix(me);
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_prctl,
            PR_TIMER_CREATE_RESTORE_IDS,
            RESTORE_IDS_OFF,
            0,
            0,
            0,
        )
    };
    made
}

fn make_posix(me: &ProcPlan) -> Result<(), String> {
    for t in &me.timers {
        let ev = KSigevent {
            value: t.value,
            signo: t.signo,
            notify: t.notify,
            tid: t.tid,
            pad: [0; 11],
        };
        let mut id: i32 = t.id;
        // SAFETY: timer_create reads a sigevent and reads and writes the id.
        check(unsafe {
            libc::syscall(
                libc::SYS_timer_create,
                t.clock,
                &ev as *const KSigevent,
                &mut id as *mut i32,
            )
        })
        .map_err(|e| format!("cannot create POSIX timer {}: {e}", t.id))?;
        if id != t.id {
            return Err(format!("POSIX timer {} was created as {id}", t.id));
        }
        if t.value_ns == 0 && t.flags & ptimer::SIGNAL_QUEUED == 0 {
            continue;
        }
        let value = if t.flags & ptimer::SIGNAL_QUEUED != 0 {
            1
        } else {
            t.value_ns
        };
        let spec = KItimerspec {
            interval: ts(t.interval_ns),
            value: ts(value),
        };
        let flags = if t.flags & ptimer::ABSTIME != 0 {
            libc::TIMER_ABSTIME
        } else {
            0
        };
        // SAFETY: timer_settime reads a `struct __kernel_itimerspec`; no old value.
        check(unsafe {
            libc::syscall(
                libc::SYS_timer_settime,
                id,
                flags,
                &spec as *const KItimerspec,
                std::ptr::null_mut::<KItimerspec>(),
            )
        })
        .map_err(|e| format!("cannot arm POSIX timer {}: {e}", t.id))?;
    }
    Ok(())
}
