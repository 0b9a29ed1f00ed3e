// SPDX-License-Identifier: GPL-2.0

//! Who may checkpoint or restart what: the access decisions, in one place.
//!
//! - Checkpoint: the caller needs ptrace-attach rights over every process it saves,
//!   commoncap's capability rule and the LSMs' ptrace policy included
//!   ([`may_checkpoint`]); `shim.c` only reads the facts (`ckpt_task_access_facts`)
//!   and asks the kernel (`ckpt_task_attach_by_kernel`), the rule is here. `checkpoint.rs` asks
//!   when it finds the target and again once every thread is held.
//! - Who may use `/dev/ckpt` at all ([`may_use_device`]): in the default root-only
//!   mode whoever opened it must hold `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` in
//!   the initial user namespace; in the unprivileged mode (module parameter
//!   `unprivileged=1`) anyone who could open it may, and every rule below is what
//!   keeps a user to their own processes and their own rights.
//! - Restart: the image's credentials must be no more than the caller has
//!   ([`may_grant_creds`]: C only says which ids differ from the caller's and what
//!   the caller holds, `ckpt_cur_creds_differ`, and answers `ns_capable`), and obey
//!   the rules of `capset(2)` and `prctl(2)` ([`capset_rules`]); its ids and hard
//!   resource limits the restarter takes with the system calls, whose LSM hooks and
//!   checks a module cannot run ([`may_take_rlimits`]); soft limits stay within the
//!   hard ones ([`soft_rlimits_within_hard`]); a queued signal that claims a user
//!   sender keeps its uid only for a caller who may signal anyone
//!   ([`signal_keeps_sender`]). All is asked before the point of no return; the
//!   restore asks [`may_grant_creds`] again and applies the same values. The files
//!   the image names are opened, and its executable link made, with the image's
//!   credentials ([`ImageCreds`]), not the restarter's: a root restarter of a user's
//!   image opens nothing the user could not. Two refinements, each what the user
//!   could have had: a deleted file is made again in a directory its user may no
//!   longer write to with the restarter's `CAP_DAC_OVERRIDE` (contents from the image,
//!   owner and mode still the user's to give: [`ImageCreds::apply_to_make_ghost`]);
//!   the program the process runs is mapped again if the user may execute it, as
//!   `execve()` maps it, even if not read it ([`may_map_exec_only`]).

use crate::checkpoint::Reason;
use crate::image;
use crate::objects::creds::creds_of;
use crate::objects::{O_ACCMODE, O_RDONLY};
use crate::restart::Plan;
use crate::shim::{self, af, cur, differ, CredsRaw, TaskRef};
use kernel::bindings;
use kernel::prelude::*;

/// Whether the opener of `/dev/ckpt` may use it (every operation but
/// `CKPT_IOC_VERSION` asks, reading the mode once): in root-only mode (the
/// default, module parameter `unprivileged=0`) the opener must hold
/// `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` in the initial user namespace,
/// judged by the file's credentials (`f_cred`) as for any file-based interface, so
/// that a file mode or group grant alone does not open ckpt to users; in the
/// unprivileged mode (`unprivileged=1`) anyone who could open the device may, and
/// the per-operation rules ([`may_checkpoint`], [`may_take_creds`], ...) keep them to
/// their own processes and rights. `EPERM` otherwise.
pub(crate) fn may_use_device(opener: &shim::Opener) -> Result {
    if shim::unprivileged_mode()
        || opener.capable(CAP_CHECKPOINT_RESTORE)
        || opener.capable(CAP_SYS_ADMIN)
    {
        return Ok(());
    }
    Err(EPERM)
}

/// Why the caller may not checkpoint a process ([`may_checkpoint`]).
pub(crate) enum Denied {
    /// ckpt's statement of the ptrace rules ([`ptrace_rules`]) says no.
    Rules,
    /// The kernel's own ptrace-attach check, with the LSMs' hooks, says no (its error).
    Kernel(Error),
    /// The process went away while being asked about.
    Gone,
}

impl Denied {
    /// The error the refusal is reported with.
    pub(crate) fn errno(&self) -> Error {
        match self {
            Self::Rules => EPERM,
            Self::Kernel(e) => *e,
            Self::Gone => ESRCH,
        }
    }

    /// Why, in words, after "no permission to checkpoint PID".
    pub(crate) fn why(&self) -> &'static str {
        match self {
            Self::Rules => {
                "needs ptrace rights: the same user, dumpable, no capabilities beyond the caller's"
            }
            Self::Kernel(_) => {
                "the kernel's ptrace-attach policy refused it: an LSM such as Yama's \
                 ptrace_scope, SELinux or AppArmor, or /proc/PID/mem not openable"
            }
            Self::Gone => "it exited",
        }
    }
}

/// Whether the caller may checkpoint `t`: what ptrace attach needs, LSMs included.
///
/// Both must agree: ckpt's own statement of the rules of
/// `PTRACE_MODE_ATTACH_REALCREDS` ([`ptrace_rules`]), and the kernel's decision with
/// every LSM's ptrace hook (Yama's `ptrace_scope`, SELinux `process:ptrace`,
/// AppArmor `ptrace (trace)`, Landlock domains, commoncap), obtained the exported
/// way: the check opening the process's `/proc/PID/mem` makes
/// ([`TaskRef::attach_by_kernel`]; it runs with the caller's filesystem ids, so a
/// caller whose ids differ from the target's also needs to be able to open that
/// file, as a debugger does).
pub(crate) fn may_checkpoint(t: &TaskRef) -> core::result::Result<(), Denied> {
    if !ptrace_rules(t) {
        return Err(Denied::Rules);
    }
    match t.attach_by_kernel() {
        Ok(()) => Ok(()),
        Err(e) if e == ESRCH => Err(Denied::Gone),
        Err(e) => Err(Denied::Kernel(e)),
    }
}

/// ckpt's statement of the rules of ptrace attach (`PTRACE_MODE_ATTACH_REALCREDS`),
/// which the kernel's own check ([`TaskRef::attach_by_kernel`]) judges with the
/// filesystem ids instead:
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
fn ptrace_rules(t: &TaskRef) -> bool {
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
    let (creds, groups) = creds_of(&p.creds)?;
    let (mine, d) = cur::creds_differ(&creds, &groups)?;
    if d & differ::UIDS != 0 {
        return Err(why.set(
            EPERM,
            format_args!(
                "the image's credentials' uids (real, effective, saved, fs: {} {} {} {}) are not \
                 the caller's ({} {} {} {}): the restarter takes the image's uids with \
                 setresuid(2) (and setfsuid(2)) first; the module never changes them",
                creds.uids[0],
                creds.uids[1],
                creds.uids[2],
                creds.uids[3],
                mine.uids[0],
                mine.uids[1],
                mine.uids[2],
                mine.uids[3]
            ),
        ));
    }
    capset_rules(&p.creds).map_err(|e| {
        why.set(
            e,
            format_args!(
                "the image's credentials are more than the caller has (capset(2)/prctl(2) rules)"
            ),
        )
    })?;
    may_grant_creds(&creds, &groups).map_err(|e| {
        why.set(
            e,
            format_args!("the image's credentials are more than the caller has"),
        )
    })?;
    if p.creds.no_new_privs == 0 && TaskRef::current().info().flags & shim::ti::NO_NEW_PRIVS != 0 {
        return Err(why.set(
            EPERM,
            format_args!(
                "the image's process may gain privileges through execve() (no_new_privs off) \
                 and the caller may not: no_new_privs cannot be cleared"
            ),
        ));
    }
    Ok(())
}

/// The image's credentials, to open its files and make its executable link with
/// ([`ImageCreds::apply`]): the restored process's rights, never the restarter's
/// (a root restarter of a user's image must not open root's files for it). Made
/// once [`may_take_creds`] allowed them, which this asks again.
pub(crate) struct ImageCreds {
    creds: CredsRaw,
    groups: KVec<u32>,
    set_groups: bool,
    /// Whether the caller holds `CAP_DAC_OVERRIDE` ([`ImageCreds::apply_to_make_ghost`]).
    dac_override: bool,
}

impl ImageCreds {
    /// The image's credentials, if the caller may take them on (`EPERM` if not).
    pub(crate) fn of(p: &Plan<'_>) -> Result<Self> {
        let (creds, groups) = creds_of(&p.creds)?;
        let set_groups = may_grant_creds(&creds, &groups)?;
        Ok(Self {
            creds,
            groups,
            set_groups,
            // Asked now, of the caller's own credentials (not the image's, which
            // are in force while files are opened).
            dac_override: cur::ns_capable(CAP_DAC_OVERRIDE),
        })
    }

    /// Makes them the caller's subjective credentials (what `open()`, permission
    /// checks, new files' owners and LSM file hooks use) until the guard is dropped.
    pub(crate) fn apply(&self) -> Result<cur::AsImage> {
        cur::as_image(&self.creds, &self.groups, self.set_groups)
    }

    /// The credentials to make a deleted file of the image again (an `O_TMPFILE`
    /// file in its directory) with: the image's, so that it belongs to the image's
    /// filesystem ids, plus `CAP_DAC_OVERRIDE` if the caller itself holds it, since
    /// the directory may no longer let the image's user create files (the process
    /// made the file, then the directory became read-only). Making it discloses
    /// nothing: its contents come from the image, its directory's are not read.
    /// Giving it its owner and mode stays under [`ImageCreds::apply`]: never an
    /// owner or set-ID bits the image's user could not give.
    pub(crate) fn apply_to_make_ghost(&self) -> Result<cur::AsImage> {
        let mut c = self.creds;
        if self.dac_override {
            c.caps[2] |= 1 << CAP_DAC_OVERRIDE;
        }
        cur::as_image(&c, &self.groups, self.set_groups)
    }
}

/// Whether the caller may take on credentials `c` with supplementary `groups`:
/// never more than it has. The uids never change: a set the module prepares keeps
/// the caller's user (`user_struct`, `ucounts`: the user keyring, the process count
/// and the other per-user limits), which only `setresuid(2)` moves (`alloc_uid()`,
/// `set_cred_ucounts()` are not exported), so the restarter takes the image's uids
/// first. Gids and groups may change only with `CAP_SETGID` in the caller's user
/// namespace; each capability set
/// only shrinks (the inheritable set within the caller's inheritable and permitted
/// ones, effective within the new permitted, ambient within the new permitted and
/// inheritable); securebits change only with `CAP_SETPCAP`. Returns whether the
/// groups differ from the caller's (they are set only then). `EINVAL` if an id has
/// no mapping in the caller's user namespace, `EPERM` if the caller may not.
pub(crate) fn may_grant_creds(c: &CredsRaw, groups: &[u32]) -> Result<bool> {
    let (mine, d) = cur::creds_differ(c, groups)?;
    if d & differ::UIDS != 0 {
        return Err(EPERM);
    }
    if d & (differ::GIDS | differ::GROUPS) != 0 && !cur::ns_capable(CAP_SETGID) {
        return Err(EPERM);
    }
    let [oi, op, _, ob, _] = mine.caps;
    let [i, p, e, b, a] = c.caps;
    if i & !oi & !op != 0 || p & !op != 0 || e & !p != 0 || b & !ob != 0 || a & !(p & i) != 0 {
        return Err(EPERM);
    }
    if c.securebits != mine.securebits && !cur::ns_capable(CAP_SETPCAP) {
        return Err(EPERM);
    }
    Ok(d & differ::GROUPS != 0)
}

/// Whether the caller may give a socket of the image peer credentials `uid`, `gid`
/// and `groups` (what `SO_PEERCRED` and `SO_PEERGROUPS` report, which programs
/// trust to say who made a connection; `EPERM` if not): ids the caller could make
/// a connection with itself, now (no other task of the image is known to be
/// checked yet): a uid among its real, effective and saved ones unless it has
/// `CAP_SETUID`, a gid among its gids and groups among its groups unless it has
/// `CAP_SETGID` (`setresuid`, `setresgid` and `setgroups`' rules). A restarter
/// takes the image's ids before the ioctl, so a user's image names its user.
pub(crate) fn may_name_peer(uid: u32, gid: u32, groups: &[u32]) -> Result {
    let mut my_groups = KVec::new();
    let mine = TaskRef::current().creds(&mut my_groups)?;
    if !mine.uids[..3].contains(&uid) && !cur::ns_capable(bindings::CAP_SETUID) {
        return Err(EPERM);
    }
    let gids_mine = mine.gids[..3].contains(&gid) && groups.iter().all(|g| my_groups.contains(g));
    if !gids_mine && !cur::ns_capable(CAP_SETGID) {
        return Err(EPERM);
    }
    Ok(())
}

/// Whether soft resource limits `lim` are each within the caller's hard limit, as
/// `setrlimit(2)` wants (`EPERM` otherwise). [`may_take_rlimits`] made the hard
/// limits the image's, whose soft ones the decoder keeps within them.
pub(crate) fn soft_rlimits_within_hard(lim: &[(u64, u64)]) -> Result {
    let now = TaskRef::current().rlimits()?;
    if lim
        .iter()
        .zip(now.iter())
        .any(|((soft, _), (_, hard))| soft > hard)
    {
        return Err(EPERM);
    }
    Ok(())
}

/// Whether a queued signal whose `si_code` says a user sent it (`<= 0`) keeps the
/// image's sender uid: only for a caller who may send signals to anyone
/// (`CAP_KILL`); otherwise the signal is said to come from the caller.
pub(crate) fn signal_keeps_sender(si_code: i32) -> bool {
    si_code > 0 || cur::capable(CAP_KILL)
}

/// A process that dumps core as root (dumpable mode 2, `suid_dumpable`) only for a
/// caller with `CAP_SYS_ADMIN`; modes 0 and 1 anyone may set (`PR_SET_DUMPABLE`).
pub(crate) fn may_dump_as_root(p: &Plan<'_>, why: &mut Reason) -> Result {
    if p.attrs.is_some_and(|a| a.dumpable == 2) && !cur::capable(CAP_SYS_ADMIN) {
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
    // checkpoint_restore_ns_capable(), in its order (each asked is audited).
    cur::ns_capable(CAP_CHECKPOINT_RESTORE) || cur::ns_capable(CAP_SYS_ADMIN)
}

/// Whether file `f` of the image, which the image's user may not open for reading,
/// may be opened as `execve()` opens a program (execute permission only:
/// [`shim::FileRef::open_exec`]) to be mapped again: what the user could have, since
/// executing a program maps it for a user who may not read it (the kernel then
/// makes the process non-dumpable, which `PR_SET_DUMPABLE` may undo). Only the
/// process's own program (its executable link), a regular file opened read-only
/// and mapped, that no fd of the process holds: an fd of it is opened by `open(2)`'s
/// rules or refused. A file opened so is not shared with the other processes of
/// the image (one with an fd of it opens its own, by those rules).
pub(crate) fn may_map_exec_only(p: &Plan<'_>, f: &image::FileRec<'_>) -> bool {
    f.kind == image::filekind::REG
        && !p.mm.exe.is_empty()
        && f.path == p.mm.exe
        && f.flags & O_ACCMODE == O_RDONLY
        && p.vmas.iter().any(|v| v.file == f.id)
        && p.fds.iter().all(|d| d.file != f.id)
}

/// Capabilities the rules above name (`CAP_*`).
const CAP_CHECKPOINT_RESTORE: u32 = bindings::CAP_CHECKPOINT_RESTORE;
const CAP_DAC_OVERRIDE: u32 = bindings::CAP_DAC_OVERRIDE;
const CAP_KILL: u32 = bindings::CAP_KILL;
const CAP_SETGID: u32 = bindings::CAP_SETGID;
const CAP_SETPCAP: u32 = bindings::CAP_SETPCAP;
const CAP_SYS_ADMIN: u32 = bindings::CAP_SYS_ADMIN;

/// `RLIMIT_CPU`, whose soft limit arms a timer when set.
const RLIMIT_CPU: usize = 0;

/// The image's resource limits must be ones the caller took with `setrlimit(2)`:
/// its hard limits, and `RLIMIT_CPU`'s soft one, must already be the image's.
///
/// A module cannot make `setrlimit(2)`'s decisions (`security_task_setrlimit`, the
/// LSMs' hook: SELinux `process:setrlimit`, AppArmor's rlimit rules, is not
/// exported, nor is `do_prlimit`): the restarter makes the call, which also checks
/// `fs.nr_open`, `CAP_SYS_RESOURCE` to raise a hard limit, and arms the CPU-time
/// limit. The restore then sets only the other soft limits, each within its hard
/// limit, which the system call lets anyone do and no LSM judges.
pub(crate) fn may_take_rlimits(p: &Plan<'_>, why: &mut Reason) -> Result {
    let Some(r) = &p.rlimits else {
        return Ok(());
    };
    let now = TaskRef::current().rlimits()?;
    for i in 0..r.lim.len() {
        let (soft, hard) = r.lim[i];
        let (cur_soft, cur_hard) = now[i];
        if hard != cur_hard || (i == RLIMIT_CPU && soft != cur_soft) {
            return Err(why.set(
                EPERM,
                format_args!(
                    "resource limit {i} of the image ({soft}, {hard}) is not the caller's \
                     ({cur_soft}, {cur_hard}): the restarter takes the hard limits and \
                     RLIMIT_CPU with setrlimit(2) first, as ckpt restart does"
                ),
            ));
        }
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
