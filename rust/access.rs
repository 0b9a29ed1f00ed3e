// SPDX-License-Identifier: GPL-2.0

//! Who may checkpoint or restart what: the access decisions, in one place.
//!
//! - Checkpoint: the caller needs ptrace-attach rights over every process it saves,
//!   commoncap's capability rule included ([`may_checkpoint`]); `shim.c` only reads
//!   the facts (`ckpt_task_access_facts`), the rule is here. `checkpoint.rs` asks
//!   when it finds the target and again once every thread is held.
//! - Restart: the image's credentials and limits must be no more than the caller
//!   has ([`may_take_creds`], [`may_take_rlimits`]; the comparison is done in
//!   `shim.c`, `ckpt_cur_creds`/`ckpt_cur_rlimits` with `commit` false), and obey
//!   the rules of `capset(2)` and `prctl(2)` ([`capset_rules`]). Both are asked
//!   before the point of no return; the restore then applies the same values.
//!
//! Still in C, to be moved here: the "no more than the caller" comparison of
//! `ckpt_cur_creds` (issue 9).

use crate::checkpoint::Reason;
use crate::image;
use crate::objects::creds::creds_of;
use crate::restart::Plan;
use crate::shim::{self, af, cur, TaskRef};
use kernel::prelude::*;

/// Whether the caller may checkpoint `t`: the rules of ptrace attach
/// (`PTRACE_MODE_ATTACH_REALCREDS`) without the LSM hooks a module cannot call.
///
/// - its own threads, always;
/// - else the caller's real uid and gid must be the target's real, effective and saved
///   ones, or the caller has `CAP_SYS_PTRACE` over the target's user namespace;
/// - a target that is not dumpable (set-uid exec, `PR_SET_DUMPABLE` 0) needs
///   `CAP_SYS_PTRACE` over the namespace it was exec'd in;
/// - commoncap: the target's permitted capabilities must be within the caller's,
///   both in one user namespace, unless the caller has `CAP_SYS_PTRACE` over the
///   target's namespace (a process that holds capabilities, ambient or kept, is not
///   open to every process of its uid).
pub(crate) fn may_checkpoint(t: &TaskRef) -> bool {
    let f = t.access_facts();
    let has = |bit| f & bit != 0;
    if has(af::SAME_GROUP) {
        return true;
    }
    let ids = has(af::IDS_MATCH) || has(af::PTRACE_CAP);
    let dump = has(af::DUMPABLE) || has(af::PTRACE_CAP_EXEC);
    let caps = (has(af::SAME_USERNS) && has(af::CAPS_SUBSET)) || has(af::PTRACE_CAP);
    ids && dump && caps
}

/// The image's credentials must be no more than the caller has.
pub(crate) fn may_take_creds(p: &Plan<'_>, why: &mut Reason) -> Result {
    capset_rules(&p.creds).map_err(|e| {
        why.set(
            e,
            format_args!(
                "the image's credentials are more than the caller has (capset(2)/prctl(2) rules)"
            ),
        )
    })?;
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

/// `SECBIT_NO_CAP_AMBIENT_RAISE`.
const SECBIT_NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
/// The defined securebits (`SECURE_ALL_BITS`) and their locks (`SECURE_ALL_LOCKS`).
const SECURE_ALL_BITS: u32 = 0x555;
const SECURE_ALL_LOCKS: u32 = SECURE_ALL_BITS << 1;

/// The rules of `capset(2)` and `prctl(2)` a restart keeps too, beyond "never more than
/// the caller has": the inheritable set grows only within the caller's bounding set;
/// no ambient capability is raised under `SECBIT_NO_CAP_AMBIENT_RAISE`; securebits are
/// defined ones, and locked ones keep their value and their lock.
pub(crate) fn capset_rules(img: &image::Creds<'_>) -> Result {
    let mut groups = KVec::new();
    let old = shim::TaskRef::current().creds(&mut groups)?;
    let [pi, _, _, bset, ambient] = old.caps;
    if img.caps[0] & !(pi | bset) != 0 {
        return Err(EPERM);
    }
    if old.securebits & SECBIT_NO_CAP_AMBIENT_RAISE != 0 && img.caps[4] & !ambient != 0 {
        return Err(EPERM);
    }
    let (o, n) = (old.securebits, img.securebits);
    if n != o
        && (((o & SECURE_ALL_LOCKS) >> 1) & (o ^ n) != 0
            || o & SECURE_ALL_LOCKS & !n != 0
            || n & !(SECURE_ALL_BITS | SECURE_ALL_LOCKS) != 0)
    {
        return Err(EPERM);
    }
    Ok(())
}
