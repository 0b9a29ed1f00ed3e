// SPDX-License-Identifier: GPL-2.0

//! Fault injection: make the N-th fallible step of a restart (or of a checkpoint) fail,
//! to prove that a failure at any step leaves nothing half-done.
//!
//! Two debugfs files, `/sys/kernel/debug/ckpt/restart_fail_nth` and
//! `.../checkpoint_fail_nth`: writing N (> 0) arms the knob and restarts its count;
//! the N-th step of that kind counted from then fails once, with `ENOMEM` (as an
//! allocation would), the reason "fault injected at restart step N (what)" and a log
//! line. Writing 0 disarms it; reading tells N and how many steps were counted since.
//! Steps are counted across every task of every restart (or checkpoint) that runs, so
//! the knob is meant for one operation at a time (the selftests
//! `ckpt_security.restart_failing_at_any_step_leaves_nothing` and
//! `ckpt_security.checkpoint_failing_at_any_step_leaves_the_target`).

use crate::checkpoint::Reason;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use kernel::debugfs::{Dir, File};
use kernel::prelude::*;
use kernel::uaccess::UserSliceReader;

/// The operation a step belongs to.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Checkpoint = 0,
    Restart = 1,
}

/// Armed step number (0: off) and steps counted since it was armed, per [`Op`].
static NTH: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static COUNT: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];

const NAME: [&str; 2] = ["checkpoint", "restart"];

/// A fallible step of `op` named `what`: fails if it is the armed one.
pub(crate) fn step(op: Op, what: &str) -> Result {
    let i = op as usize;
    let n = NTH[i].load(Relaxed);
    if n == 0 {
        return Ok(());
    }
    let c = COUNT[i].fetch_add(1, Relaxed).wrapping_add(1);
    if c != n {
        return Ok(());
    }
    pr_info!("fault injected at {} step {n} ({what})\n", NAME[i]);
    Err(ENOMEM)
}

/// [`step`] that also tells why in `why`.
pub(crate) fn step_why(op: Op, what: &'static str, why: &mut Reason) -> Result {
    why.stage = what;
    step(op, what).map_err(|e| {
        why.set(
            e,
            format_args!(
                "fault injected at {} step {} ({what})",
                NAME[op as usize],
                NTH[op as usize].load(Relaxed)
            ),
        )
    })
}

fn show(op: Op, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let i = op as usize;
    writeln!(f, "{} {}", NTH[i].load(Relaxed), COUNT[i].load(Relaxed))
}

fn arm(op: Op, r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let n = r.len();
    if n > buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    let v = s.trim().parse::<u32>().map_err(|_| EINVAL)?;
    let i = op as usize;
    NTH[i].store(0, Relaxed);
    COUNT[i].store(0, Relaxed);
    NTH[i].store(v, Relaxed);
    Ok(())
}

fn show_restart(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    show(Op::Restart, f)
}

fn show_checkpoint(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    show(Op::Checkpoint, f)
}

fn arm_restart(_: &(), r: &mut UserSliceReader) -> Result {
    arm(Op::Restart, r)
}

fn arm_checkpoint(_: &(), r: &mut UserSliceReader) -> Result {
    arm(Op::Checkpoint, r)
}

/// The debugfs files, present while the module is loaded.
#[pin_data]
pub(crate) struct Knobs {
    #[pin]
    restart: File<()>,
    #[pin]
    checkpoint: File<()>,
    _dir: Dir,
}

impl Knobs {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"ckpt");
        try_pin_init!(Self {
            restart <- dir.read_write_callback_file(
                c"restart_fail_nth",
                (),
                &show_restart,
                &arm_restart
            ),
            checkpoint <- dir.read_write_callback_file(
                c"checkpoint_fail_nth",
                (),
                &show_checkpoint,
                &arm_checkpoint
            ),
            _dir: dir,
        })
    }
}
