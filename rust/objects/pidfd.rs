// SPDX-License-Identifier: GPL-2.0

//! Pidfds (`pidfd_open`, `clone3(CLONE_PIDFD)`): a file that names a task by its
//! `struct pid`. One comes back exactly when the task it names is a process of
//! the checkpointed tree (or, with `PIDFD_THREAD`, one of their threads), which the
//! restart gives back its pid, a zombie of the tree included (the restart makes it
//! again, a zombie with its pid); any other is refused at checkpoint (and by
//! `CKPT_IOC_CHECK`) with its reason: a task outside the tree, one that was reaped
//! (a pidfd of a gone task cannot be made), an exited thread, a pidfd made with
//! `CLONE_PIDFD_AUTOKILL`, a pidfd in flight in a socket.
//!
//! Checkpoint saves the task's pid and process and the pidfd's `PIDFD_THREAD`
//! ([`PidfdRec`], after the file record, whose flags hold `O_NONBLOCK`). No
//! kernel function a module may call makes a pidfd (`pidfd_prepare` is not
//! exported), so at restart `ckpt restart` opens one to the restored task
//! (`pidfd_open(pid, flags)`, once that task exists) and passes it in (`struct
//! ckpt_restart_file`); the module checks that it names the very task this restart
//! restores with that pid, with the image's flags, before it installs it.

use super::files::fmt_what::What;
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, PidfdRec, PIDFD_NONBLOCK, PIDFD_THREAD};
use crate::restart::{refuse, Given, Plan};
use crate::session::Session;
use crate::shim::{pidfd_flags, FileRef};
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Checkpoint.

/// The record of pidfd `f` (file record `id`; `what` in process `tgid`, whose
/// tree has the processes `procs`), or a refusal saying why it cannot come back.
pub(crate) fn record(
    f: &FileRef,
    id: u32,
    tgid: i32,
    procs: &[i32],
    what: What,
    why: &mut Reason,
) -> Result<PidfdRec> {
    if matches!(what, What::InFlight) {
        return Err(why.set(
            eopnotsupp(),
            format_args!("{what}: a pidfd in flight is not supported"),
        ));
    }
    let pi = f.pidfd().map_err(|e| {
        why.set(
            e,
            format_args!("{what}: a pidfd the kernel does not describe"),
        )
    })?;
    if pi.flags & pidfd_flags::AUTOKILL != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: a pidfd made with CLONE_PIDFD_AUTOKILL (closing it kills its process) cannot be made again"
            ),
        ));
    }
    let thread = pi.flags & pidfd_flags::THREAD != 0;
    let whom = if thread { "thread" } else { "process" };
    if pi.pid == 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: a pidfd of a {whom} that has exited and was reaped (or is outside the caller's pid namespace): a pidfd to a gone task cannot be made again"
            ),
        ));
    }
    if pi.tgid != tgid && !procs.contains(&pi.tgid) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: a pidfd of {whom} {}, which is outside the checkpointed tree: only pidfds of the tree's processes come back (checkpoint the tree that holds its target)",
                pi.pid
            ),
        ));
    }
    // A zombie of the tree comes back a zombie with its pid; an exited thread (or
    // the exited leader of a live process) does not.
    let zombie = pi.flags & pidfd_flags::GROUP_DEAD != 0 && pi.tgid != tgid;
    if pi.flags & pidfd_flags::EXITED != 0 && (thread || !zombie) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: a pidfd of {whom} {}, which has exited (of a zombie thread, or of an exited thread group leader whose threads run): not supported",
                pi.pid
            ),
        ));
    }
    if !thread && pi.pid != pi.tgid {
        // The kernel makes none (pidfd_open and CLONE_PIDFD name a thread group
        // by its leader).
        return Err(why.set(
            EINVAL,
            format_args!(
                "{what}: a pidfd of thread group {} named by thread {}",
                pi.tgid, pi.pid
            ),
        ));
    }
    let mut flags = 0;
    if thread {
        flags |= PIDFD_THREAD;
    }
    if pi.flags & pidfd_flags::NONBLOCK != 0 {
        flags |= PIDFD_NONBLOCK;
    }
    Ok(PidfdRec {
        file: id,
        pid: pi.pid,
        tgid: pi.tgid,
        flags,
    })
}

// ---------------------------------------------------------------------------
// Restart.

/// The pidfd record of file `id` in the plan.
fn of(p: &Plan<'_>, id: u32, why: &mut Reason) -> Result<PidfdRec> {
    p.events
        .iter()
        .find_map(|r| match r {
            AnyRecord::Pidfd(x) if x.file == id => Some(*x),
            _ => None,
        })
        .ok_or_else(|| {
            refuse(
                why,
                EINVAL,
                format_args!("pidfd {id} of the image has no pidfd record"),
            )
        })
}

/// Waits until the process pidfd `f` of the image refers to is restored with its
/// pid by this restart (it may be on another branch of the tree, not there yet);
/// for a zombie, until its parent is (whose restarter made it before it came).
/// Called outside the session's lock, before [`open`].
pub(crate) fn wait_target(
    p: &Plan<'_>,
    sess: &Session,
    f: &image::FileRec<'_>,
    why: &mut Reason,
) -> Result {
    let rec = of(p, f.id, why)?;
    if rec.tgid != p.task.tgid && !p.procs.contains(&rec.tgid) {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "pidfd {} of the image refers to process {}, which is not in the image",
                f.id, rec.tgid
            ),
        ));
    }
    if let Some(&(_, ppid)) = p.zombie_parents.iter().find(|z| z.0 == rec.tgid) {
        if rec.flags & PIDFD_THREAD != 0 {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "pidfd {} of the image refers to a thread of zombie {}",
                    f.id, rec.tgid
                ),
            ));
        }
        return super::files::wait_image_process(
            p,
            sess,
            ppid,
            format_args!(
                "the parent of zombie {}, the target of pidfd {}",
                rec.tgid, f.id
            ),
            why,
        );
    }
    super::files::wait_image_process(
        p,
        sess,
        rec.tgid,
        format_args!("the target of pidfd {}", f.id),
        why,
    )
}

/// Takes the pidfd the restarter made for file `f` of the image and checks it: it
/// names the task of the image (restored with its pid: [`wait_target`] waited for
/// its process; a zombie, made by its parent's restarter, which joined, and so has
/// its pid: it is never reaped before the restart ends) and has the image's
/// `PIDFD_THREAD`.
pub(crate) fn open(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    given: &Given<'_>,
    why: &mut Reason,
) -> Result<FileRef> {
    let rec = of(p, f.id, why)?;
    let file = given.file(f.id, why)?;
    let pi = file.pidfd().map_err(|_| {
        refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for pidfd {} of the image is not a pidfd",
                f.id
            ),
        )
    })?;
    let thread = rec.flags & PIDFD_THREAD != 0;
    let exited = if p.zombies.contains(&rec.tgid) {
        pidfd_flags::EXITED | pidfd_flags::GROUP_DEAD
    } else {
        0
    };
    if pi.pid != rec.pid
        || pi.tgid != rec.tgid
        || (pi.flags & pidfd_flags::THREAD != 0) != thread
        || pi.flags & (pidfd_flags::EXITED | pidfd_flags::GROUP_DEAD) != exited
        || pi.flags & pidfd_flags::AUTOKILL != 0
    {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the pidfd passed for file {} names {} {} (of {}), not the image's {} {}",
                f.id,
                if pi.flags & pidfd_flags::THREAD != 0 {
                    "thread"
                } else {
                    "process"
                },
                pi.pid,
                pi.tgid,
                if thread { "thread" } else { "process" },
                rec.pid
            ),
        ));
    }
    // O_NONBLOCK as the program had it (PIDFD_NONBLOCK, or set with F_SETFL).
    file.set_flags(f.flags);
    Ok(file)
}
