// SPDX-License-Identifier: GPL-2.0

//! Credentials (ids, capabilities, securebits, groups, no_new_privs) and resource
//! limits: saved per process, restored by every task (credentials) and by the
//! leader (limits). Whether the caller may take them on is [`crate::access`]'s
//! decision, made before anything changes.

use crate::access;
use crate::image::{self, Creds, Rlimits};
use crate::restart::Plan;
use crate::shim::{self, cur, CredsRaw, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Checkpoint.

/// Writes the credentials of `t`; returns their object id.
pub(crate) fn write_creds(w: &mut ImageWriter<'_>, objs: &mut ObjMap, t: &TaskRef) -> Result<u32> {
    let mut groups = KVec::new();
    let c = t.creds(&mut groups)?;
    let raw = groups_bytes(&groups)?;
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

/// Supplementary groups as a record keeps them (little-endian `u32`s).
pub(crate) fn groups_bytes(groups: &[u32]) -> Result<KVec<u8>> {
    let mut raw = KVec::with_capacity(groups.len() * 4, GFP_KERNEL)?;
    for g in groups {
        raw.extend_from_slice(&g.to_le_bytes(), GFP_KERNEL)?;
    }
    Ok(raw)
}

/// The supplementary groups a record keeps as bytes ([`groups_bytes`]).
pub(crate) fn groups_of(raw: &[u8]) -> Result<KVec<u32>> {
    let mut groups = KVec::with_capacity(raw.len() / 4, GFP_KERNEL)?;
    for i in 0..raw.len() / 4 {
        groups.push(image::le_u32_at(raw, i), GFP_KERNEL)?;
    }
    Ok(groups)
}

/// Writes the resource limits of `t`'s process.
pub(crate) fn write_rlimits(w: &mut ImageWriter<'_>, t: &TaskRef) -> Result {
    w.record(&Rlimits { lim: t.rlimits()? })
}

// ---------------------------------------------------------------------------
// Restart.

/// The image's credentials in the form the kernel side takes, and their groups.
pub(crate) fn creds_of(c: &image::Creds<'_>) -> Result<(CredsRaw, KVec<u32>)> {
    let groups = groups_of(c.groups)?;
    Ok((
        CredsRaw {
            uids: c.uids,
            gids: c.gids,
            caps: c.caps,
            securebits: c.securebits,
            ngroups: c.ngroups() as u32,
        },
        groups,
    ))
}

/// Takes on the image's credentials (checked by [`crate::access::may_take_creds`],
/// and again here by [`access::may_grant_creds`]),
/// then sets again what `commit_creds()` resets when the credentials change: the
/// task's parent-death signal and its process's dumpable mode (checked by
/// [`crate::access::may_dump_as_root`]). Every thread writes the process's mode
/// after its own credentials, so the last write stands.
pub(crate) fn restore(p: &Plan<'_>) -> Result {
    let (creds, groups) = creds_of(&p.creds)?;
    let set_groups = access::may_grant_creds(&creds, &groups)?;
    cur::commit_creds(&creds, &groups, set_groups, p.creds.no_new_privs != 0)?;
    if let Some(a) = &p.attrs {
        shim::cur_attrs::set_exec_attrs(a.pdeath_signal, a.dumpable);
    }
    Ok(())
}

/// Sets the image's soft resource limits, each within its hard limit
/// ([`access::soft_rlimits_within_hard`]); the hard ones (and `RLIMIT_CPU`) the
/// restarter took with `setrlimit(2)` ([`crate::access::may_take_rlimits`]).
pub(crate) fn restore_rlimits(p: &Plan<'_>) -> Result {
    if let Some(r) = &p.rlimits {
        access::soft_rlimits_within_hard(&r.lim)?;
        cur::set_soft_rlimits(&r.lim)?;
    }
    Ok(())
}
