// SPDX-License-Identifier: GPL-2.0

//! Who may checkpoint or restart what: the Rust side of the access decisions, in
//! one place.
//!
//! - Checkpoint: the caller needs ptrace-attach rights over every process it saves
//!   ([`may_checkpoint`]; the test itself is `ckpt_task_may_access` in `shim.c`).
//! - Restart: the image's credentials and limits must be no more than the caller
//!   has ([`may_take_creds`], [`may_take_rlimits`]; the comparison is done in
//!   `shim.c`, `ckpt_cur_creds`/`ckpt_cur_rlimits` with `commit` false). Both are
//!   asked before the point of no return; the restore then applies the same values.
//!
//! Still in C, to be moved here: the policy parts of `ckpt_task_may_access` and
//! `ckpt_cur_creds` (issue 9).

use crate::checkpoint::Reason;
use crate::objects::creds::creds_of;
use crate::restart::Plan;
use crate::shim::{cur, TaskRef};
use kernel::prelude::*;

/// Whether the caller may checkpoint `t` (ptrace-attach rights).
pub(crate) fn may_checkpoint(t: &TaskRef) -> bool {
    t.may_access().is_ok()
}

/// The image's credentials must be no more than the caller has.
pub(crate) fn may_take_creds(p: &Plan<'_>, why: &mut Reason) -> Result {
    let (creds, groups) = creds_of(&p.creds)?;
    cur::creds(&creds, &groups, p.creds.no_new_privs != 0, false).map_err(|e| {
        why.set(
            e,
            format_args!("the image's credentials are more than the caller has"),
        )
    })
}

/// A process that dumps core as root (dumpable mode 2, `suid_dumpable`) only for a
/// caller with `CAP_SYS_ADMIN`; modes 0 and 1 anyone may set (`PR_SET_DUMPABLE`).
pub(crate) fn may_dump_as_root(p: &Plan<'_>, why: &mut Reason) -> Result {
    if p.attrs.is_some_and(|a| a.dumpable == 2) && !crate::shim::cur_attrs::sys_admin() {
        return Err(why.set(
            EPERM,
            format_args!(
                "the image's process dumps core as root (dumpable 2): that takes CAP_SYS_ADMIN"
            ),
        ));
    }
    Ok(())
}

/// The executable link may name a set-user- or set-group-ID program only for a
/// caller who may masquerade as any program (`prctl(PR_SET_MM_EXE_FILE)`'s rule:
/// `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` in its user namespace).
pub(crate) fn may_name_setid_exe() -> bool {
    crate::shim::cur_attrs::checkpoint_restore_capable()
}

/// The image's resource limits must not exceed the caller's.
pub(crate) fn may_take_rlimits(p: &Plan<'_>, why: &mut Reason) -> Result {
    if let Some(r) = &p.rlimits {
        cur::rlimits(&r.lim, false).map_err(|e| {
            why.set(
                e,
                format_args!("the image's resource limits exceed the caller's"),
            )
        })?;
    }
    Ok(())
}
