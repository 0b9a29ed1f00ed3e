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
