// SPDX-License-Identifier: GPL-2.0

//! Credentials and capabilities: read from a task, compared with and set on the caller,
//! through exported functions (`get_task_cred`, `prepare_creds`, `commit_creds`,
//! `groups_alloc`, `make_kuid`, ...) and the kernel crate's [`Kuid`]. Whether the
//! caller may take on credentials is decided by `access::may_grant_creds`, never here.

use crate::shim::{differ, CredsRaw};
use kernel::{bindings, fs::file::File, prelude::*, task::Kuid, task::Task};

/// Whether the caller has capability `cap` in its own user namespace (`ns_capable()`:
/// audited, and marks the task as having used a privilege, as the syscalls do).
pub(crate) fn ns_capable(cap: u32) -> bool {
    // SAFETY: `current_user_ns()` is the caller's live user namespace; `ns_capable`
    // takes any capability number (it warns on an invalid one).
    unsafe { bindings::ns_capable(bindings::current_user_ns(), cap as i32) }
}

/// The caller's effective uid as the initial user namespace sees it (a `kuid_t`'s value
/// is that uid).
pub(crate) fn current_global_euid() -> u32 {
    Kuid::current_euid().into_raw().val
}

/// `cred`'s ids and capabilities as the caller's user namespace sees them, and its
/// number of supplementary groups.
///
/// # Safety
///
/// `cred` is a live `struct cred`.
unsafe fn fill(cred: *const bindings::cred) -> CredsRaw {
    // SAFETY: The caller's own user namespace is live.
    let ns = unsafe { bindings::current_user_ns() };
    // SAFETY: `cred` is live (the function's contract); credentials never change once
    // they are shared, and its group_info is null or live as long as it.
    unsafe {
        let c = &*cred;
        let u = |k| bindings::from_kuid_munged(ns, k);
        let g = |k| bindings::from_kgid_munged(ns, k);
        CredsRaw {
            uids: [u(c.uid), u(c.euid), u(c.suid), u(c.fsuid)],
            gids: [g(c.gid), g(c.egid), g(c.sgid), g(c.fsgid)],
            caps: [
                c.cap_inheritable.val,
                c.cap_permitted.val,
                c.cap_effective.val,
                c.cap_bset.val,
                c.cap_ambient.val,
            ],
            securebits: c.securebits,
            ngroups: if c.group_info.is_null() {
                0
            } else {
                (*c.group_info).ngroups as u32
            },
        }
    }
}

/// The supplementary groups of `gi` (null: none).
///
/// # Safety
///
/// `gi` is null or a live `struct group_info` that outlives the result.
unsafe fn group_slice<'a>(gi: *const bindings::group_info) -> &'a [bindings::kgid_t] {
    if gi.is_null() {
        return &[];
    }
    // SAFETY: `gi` is live (the function's contract), with `ngroups` entries in `gid`.
    unsafe { (*gi).gid.as_slice((*gi).ngroups as usize) }
}

/// `t`'s credentials, its supplementary groups (as the caller's user namespace sees
/// them) in `groups`; `E2BIG` if there are more than `max`.
pub(crate) fn of_task(t: &Task, groups: &mut KVec<u32>, max: usize) -> Result<CredsRaw> {
    // SAFETY: `t` is a valid task; the result carries a reference on its credentials.
    let cred = unsafe { bindings::get_task_cred(t.as_ptr()) };
    // SAFETY: `cred` is live until the `put_cred` below.
    let r = unsafe { of_cred(cred, groups, max) };
    // SAFETY: The reference `get_task_cred` took.
    unsafe { bindings::put_cred(cred) };
    r
}

/// The credentials `f` was opened with (`f_cred`), as [`of_task`].
pub(crate) fn of_file(f: &File, groups: &mut KVec<u32>, max: usize) -> Result<CredsRaw> {
    // SAFETY: A file holds its `f_cred` (set at open, never changed) for as long as
    // it lives, and `f` lives for the call.
    unsafe { of_cred((*f.as_ptr()).f_cred, groups, max) }
}

/// `cred`'s ids and groups, as [`of_task`].
///
/// # Safety
///
/// `cred` is a live `struct cred` for the duration of the call.
unsafe fn of_cred(
    cred: *const bindings::cred,
    groups: &mut KVec<u32>,
    max: usize,
) -> Result<CredsRaw> {
    // SAFETY: `cred` is live (the function's contract).
    let c = unsafe { fill(cred) };
    // SAFETY: As above; its group_info lives as long as it.
    let gids = unsafe { group_slice((*cred).group_info) };
    // SAFETY: The caller's own user namespace is live.
    let ns = unsafe { bindings::current_user_ns() };
    groups.clear();
    if gids.len() > max {
        return Err(E2BIG);
    }
    groups.reserve(gids.len(), GFP_KERNEL)?;
    for g in gids {
        // SAFETY: `ns` is live; `from_kgid_munged` takes any id.
        let g = unsafe { bindings::from_kgid_munged(ns, *g) };
        // The push does not allocate: there is room for every group.
        let _ = groups.push(g, GFP_KERNEL);
    }
    Ok(c)
}

/// The image's ids in the caller's user namespace; `EINVAL` if one has no mapping.
fn kids(c: &CredsRaw) -> Result<([bindings::kuid_t; 4], [bindings::kgid_t; 4])> {
    // SAFETY: The caller's own user namespace is live.
    let ns = unsafe { bindings::current_user_ns() };
    let mut uids = [bindings::kuid_t { val: 0 }; 4];
    let mut gids = [bindings::kgid_t { val: 0 }; 4];
    for i in 0..4 {
        // SAFETY: `ns` is live; `make_kuid`/`make_kgid` take any id.
        (uids[i], gids[i]) = unsafe {
            (
                bindings::make_kuid(ns, c.uids[i]),
                bindings::make_kgid(ns, c.gids[i]),
            )
        };
        // INVALID_UID and INVALID_GID are -1.
        if uids[i].val == u32::MAX || gids[i].val == u32::MAX {
            return Err(EINVAL);
        }
    }
    Ok((uids, gids))
}

/// Facts for the grant decision (`access::may_grant_creds`): the caller's
/// (subjective) credentials, and which of `c`'s ids are not the caller's
/// ([`differ`] bits). `EINVAL` if an id of `c` has no mapping in the caller's user
/// namespace or there are more than `NGROUPS_MAX` groups.
pub(crate) fn differ_from_current(c: &CredsRaw, groups: &[u32]) -> Result<(CredsRaw, u32)> {
    let (uids, gids) = kids(c)?;
    if groups.len() > bindings::NGROUPS_MAX as usize {
        return Err(EINVAL);
    }
    // SAFETY: The caller's own user namespace is live.
    let ns = unsafe { bindings::current_user_ns() };
    // SAFETY: current's subjective credentials: only current replaces them, and they
    // stay live while current runs this.
    let old = unsafe { &*(*Task::current_raw()).cred };
    let mut d = 0;
    let ou = [old.uid, old.euid, old.suid, old.fsuid];
    let og = [old.gid, old.egid, old.sgid, old.fsgid];
    if (0..4).any(|i| uids[i].val != ou[i].val) {
        d |= differ::UIDS;
    }
    if (0..4).any(|i| gids[i].val != og[i].val) {
        d |= differ::GIDS;
    }
    // SAFETY: `old`'s group_info is null or live as long as `old`.
    let mine = unsafe { group_slice(old.group_info) };
    // SAFETY: `ns` is live; `make_kgid` takes any id.
    let same =
        |(m, g): (&bindings::kgid_t, &u32)| m.val == unsafe { bindings::make_kgid(ns, *g) }.val;
    if old.group_info.is_null()
        || mine.len() != groups.len()
        || !mine.iter().zip(groups.iter()).all(same)
    {
        d |= differ::GROUPS;
    }
    // SAFETY: `old` is live (above).
    Ok((unsafe { fill(old) }, d))
}

/// Drops a reference on a group list (`put_group_info()`).
///
/// # Safety
///
/// `gi` is a live `struct group_info` on which the caller owns a reference.
unsafe fn put_group_info(gi: *mut bindings::group_info) {
    // SAFETY: `gi` is live (the function's contract); its usage count is a refcount.
    if unsafe { bindings::refcount_dec_and_test(&raw mut (*gi).usage) } {
        // SAFETY: The last reference, dropped above.
        unsafe { bindings::groups_free(gi) };
    }
}

/// The group list of `groups` (sorted, as the kernel keeps it), with a reference;
/// `EINVAL` if one has no mapping in the caller's user namespace.
fn group_info(groups: &[u32]) -> Result<*mut bindings::group_info> {
    if groups.len() > bindings::NGROUPS_MAX as usize {
        return Err(EINVAL);
    }
    // SAFETY: No preconditions; a non-null result carries a reference.
    let gi = unsafe { bindings::groups_alloc(groups.len() as i32) };
    if gi.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: The caller's own user namespace is live.
    let ns = unsafe { bindings::current_user_ns() };
    for (i, g) in groups.iter().enumerate() {
        // SAFETY: `ns` is live; `make_kgid` takes any id.
        let k = unsafe { bindings::make_kgid(ns, *g) };
        if k.val == u32::MAX {
            // SAFETY: Our reference from `groups_alloc`.
            unsafe { put_group_info(gi) };
            return Err(EINVAL);
        }
        // SAFETY: `gi` was allocated with `groups.len()` entries, not yet shared.
        unsafe { (*gi).gid.as_mut_slice(groups.len())[i] = k };
    }
    // SAFETY: `gi` is live and filled.
    unsafe { bindings::groups_sort(gi) };
    Ok(gi)
}

/// A new credential set prepared from the caller's (`prepare_creds`: its LSM
/// labels and everything else the image does not name stay the caller's) with
/// `c`'s ids, capabilities and securebits, and supplementary groups `groups` if
/// given; without the caller's process and thread keyrings. Its user (`user`,
/// `ucounts`, and so the user keyring and the per-user counts) stays the caller's:
/// `access::may_grant_creds` allows no uid other than the caller's. `EINVAL` if an id has no mapping in the caller's user namespace.
fn prepare(c: &CredsRaw, groups: Option<&[u32]>) -> Result<*mut bindings::cred> {
    let (uids, gids) = kids(c)?;
    let gi = groups.map(group_info).transpose()?;
    // SAFETY: No preconditions; a non-null result is a new, private copy.
    let new = unsafe { bindings::prepare_creds() };
    if new.is_null() {
        if let Some(gi) = gi {
            // SAFETY: Our reference from `group_info`.
            unsafe { put_group_info(gi) };
        }
        return Err(ENOMEM);
    }
    // SAFETY: `new` is ours until it is committed or installed (nobody else sees it).
    unsafe {
        let n = &mut *new;
        [n.uid, n.euid, n.suid, n.fsuid] = uids;
        [n.gid, n.egid, n.sgid, n.fsgid] = gids;
        n.cap_inheritable.val = c.caps[0];
        n.cap_permitted.val = c.caps[1];
        n.cap_effective.val = c.caps[2];
        n.cap_bset.val = c.caps[3];
        n.cap_ambient.val = c.caps[4];
        n.securebits = c.securebits;
    }
    // The restarter's process and thread keyrings stay the restarter's.
    // SAFETY: `new` is ours, from `prepare_creds` on this task, not yet shared.
    unsafe { crate::shim::ffi_drop_private_keyrings(new) };
    if let Some(gi) = gi {
        // SAFETY: `new` is ours; `set_groups` takes its own reference on `gi`, and we
        // drop ours.
        unsafe {
            bindings::set_groups(new, gi);
            put_group_info(gi);
        }
    }
    Ok(new)
}

/// Makes `c` the caller's credentials (`prepare_creds`, `commit_creds`), with
/// supplementary groups `groups` if given, and sets no_new_privs if `no_new_privs`.
/// `access::may_grant_creds` decided, just before, on this task, that the caller may.
/// `EINVAL` if an id has no mapping in the caller's user namespace.
pub(crate) fn commit(c: &CredsRaw, groups: Option<&[u32]>, no_new_privs: bool) -> Result {
    let new = prepare(c, groups)?;
    if no_new_privs {
        // SAFETY: `task_set_no_new_privs(current)`: an atomic bit of current's own.
        unsafe {
            bindings::set_bit(
                bindings::PFA_NO_NEW_PRIVS as usize,
                &raw mut (*Task::current_raw()).atomic_flags,
            )
        };
    }
    // SAFETY: `new` came from `prepare_creds` on this task; `commit_creds` takes it.
    kernel::error::to_result(unsafe { bindings::commit_creds(new) })
}

/// The image's credentials in force as the caller's subjective ones ([`as_image`]);
/// dropping it restores the caller's.
///
/// # Invariants
///
/// `old` is what `override_creds` returned on the task that made the guard, and
/// the overriding set holds the one reference `prepare_creds` gave. Not `Send`
/// (a raw pointer field): it is dropped by the task that made it.
pub(crate) struct AsImage {
    old: *const bindings::cred,
}

/// Makes `c` (and `groups` if given) the caller's subjective credentials until the
/// guard is dropped: what opens, permission checks and new files' owners use. The
/// caller decided it may take them on (`access::may_grant_creds`).
pub(crate) fn as_image(c: &CredsRaw, groups: Option<&[u32]>) -> Result<AsImage> {
    let new = prepare(c, groups)?;
    // SAFETY: `new` is a prepared set of this task; the C helper (`override_creds`
    // is a static inline) installs it without taking a reference.
    let old = unsafe { crate::shim::ffi_override_image_creds(new) };
    // INVARIANT: `old` from `override_creds` on this task; `new` keeps its reference.
    Ok(AsImage { old })
}

impl Drop for AsImage {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, on the task that installed the override.
        unsafe { crate::shim::ffi_revert_image_creds(self.old) }
    }
}

/// A credential set the caller prepared, holding the one reference that is
/// dropped with it.
///
/// # Invariants
///
/// `0` is a live `struct cred` on which this holds a reference.
pub(crate) struct Prepared(core::ptr::NonNull<bindings::cred>);

impl Prepared {
    /// The set (live as long as `self`).
    pub(crate) fn as_ptr(&self) -> *const bindings::cred {
        self.0.as_ptr()
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, our reference.
        unsafe { bindings::put_cred(self.0.as_ptr()) }
    }
}

/// Credentials to name as a socket's peer (what `SO_PEERCRED` and `SO_PEERGROUPS`
/// report): the caller's, with every user id `uid`, every group id `gid`,
/// supplementary groups `groups` and no capabilities. Never any task's: only a
/// socket holds them. Whether the caller may name them is decided by
/// `access::may_name_peer`. `EINVAL` if an id has no mapping in the caller's user
/// namespace.
pub(crate) fn peer(uid: u32, gid: u32, groups: &[u32]) -> Result<Prepared> {
    let c = CredsRaw {
        uids: [uid; 4],
        gids: [gid; 4],
        caps: [0; 5],
        securebits: 0,
        ngroups: groups.len() as u32,
    };
    let new = prepare(&c, Some(groups))?;
    // INVARIANT: `prepare` returned a new set with one reference, ours.
    core::ptr::NonNull::new(new).map(Prepared).ok_or(ENOMEM)
}
