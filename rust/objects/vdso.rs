// SPDX-License-Identifier: GPL-2.0

//! The vDSO: its identity and its text at checkpoint; at restart, either this
//! kernel's vDSO where the image had it (same symbols), or a proxy there that
//! forwards each of the image's vDSO functions to this kernel's.
//!
//! libc resolves the vDSO's functions once, at start, and keeps their addresses, so
//! a restored program calls into the range where its vDSO was. When this kernel's
//! vDSO exports the same symbols at the same offsets (the same build), `ckpt
//! restart` moves the restarter's vDSO and its data pages there (mremap, keeping
//! their layout) and the module only checks that they are in place. Otherwise
//! (another kernel, another compiler) the restarter leaves its vDSO where it overlaps
//! no mapping of the image, and the module maps at the image's vDSO address a copy
//! of the image's vDSO in which every exported function jumps to the function of the
//! same name in this kernel's vDSO, or makes its system call when this kernel's lacks
//! it ([`image::vdso::build_proxy`]). The image's vDSO data pages are not mapped:
//! their contents belong to the kernel that made them, and only the old code read
//! them. The proxy is built and checked in phase 1 (a refusal leaves the caller as
//! it was), and mapped in phase 3.

use super::mm::{for_each_vma, read_range};
use super::{MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE};
use crate::checkpoint::Reason;
use crate::image::{self, backing, vdso};
use crate::restart::{refuse, Plan};
use crate::shim::{self, cur, vmai, MmRef};
use crate::stream::ImageWriter;
use crate::uapi;
use kernel::prelude::*;

/// The special mappings of a vDSO.
const SPECIALS: [&CStr; 3] = [c"[vdso]", c"[vvar]", c"[vvar_vclock]"];

// ---------------------------------------------------------------------------
// Checkpoint

/// The `[vdso]` mapping of `m`, if any.
fn vdso_range(m: &MmRef) -> Result<Option<(u64, u64)>> {
    let mut range = None;
    for_each_vma(m, |vi, _| {
        if vi.flags & vmai::SPECIAL != 0 && vi.name() == b"[vdso]" {
            range = Some((vi.start, vi.end));
        }
        Ok(())
    })?;
    Ok(range)
}

/// The identity of vDSO image `bytes` mapped at `start`.
fn identity(bytes: &[u8], start: u64, why: &mut Reason) -> Result<image::VdsoId> {
    let s = vdso::symbols(bytes).map_err(|e| {
        why.set(
            EINVAL,
            format_args!("the vDSO at {start:#x} cannot be read: {}", e.describe()),
        )
    })?;
    Ok(image::VdsoId {
        size: bytes.len() as u64,
        digest: s.digest,
        nsyms: s.nsyms,
    })
}

/// Writes the identity and the text of the vDSO the process of `m` uses (nothing
/// if it has none): a restart under a kernel whose vDSO symbols differ builds its
/// proxy from them.
pub(crate) fn write(w: &mut ImageWriter<'_>, m: &MmRef, why: &mut Reason) -> Result {
    if let Some((start, end)) = vdso_range(m)? {
        let bytes = read_range(m, start, end)?;
        w.record(&identity(&bytes, start, why)?)?;
        w.record(&image::VdsoText { data: &bytes })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart

/// The proxy that stands in for the image's vDSO: mapped in phase 3.
pub(crate) struct Proxy {
    /// The image's vDSO address.
    at: u64,
    /// Its protection in the image.
    prot: u32,
    /// The contents ([`vdso::build_proxy`]).
    bytes: KVVec<u8>,
}

/// Checks the vDSO side of the caller (a process leader): either its vDSO and data
/// pages are where the image had them and its symbols are the image's, or (they
/// differ, or `flags` has [`uapi::CKPT_RESTART_VDSO_PROXY`]) a proxy can be built,
/// which is returned, and none of them overlaps a mapping of the image.
pub(crate) fn check(p: &Plan<'_>, flags: u64, why: &mut Reason) -> Result<Option<Proxy>> {
    let me = shim::TaskRef::current().mm().ok_or(ESRCH)?;
    let here = match vdso_range(&me)? {
        Some((s, e)) => Some((s, read_range(&me, s, e)?)),
        None => None,
    };
    let have = match &here {
        Some((s, b)) => Some(identity(b, *s, why)?),
        None => None,
    };
    // What the image was taken with: its text when it has one, else its identity.
    let want = match p.vdso_text {
        Some(t) => Some(identity(t, 0, why).map_err(|_| {
            refuse(
                why,
                EINVAL,
                format_args!("the image's vDSO text is not a vDSO"),
            )
        })?),
        None => p.vdso,
    };
    let forced = flags & uapi::CKPT_RESTART_VDSO_PROXY != 0;
    if !forced && (want.is_none() || have == want) {
        check_in_place(p, why)?;
        return Ok(None);
    }
    let Some(text) = p.vdso_text else {
        return Err(refuse(
            why,
            EXDEV,
            format_args!(
                "the image was taken under a kernel whose vDSO differs from this one's \
                 and does not carry that vDSO (an image before format 1.3), which a \
                 proxy needs: restoring would send the program's cached vDSO calls into \
                 other code"
            ),
        ));
    };
    let Some((base, new)) = here else {
        return Err(refuse(
            why,
            EXDEV,
            format_args!("the restarter has no vDSO to forward the image's vDSO to"),
        ));
    };
    let old = p
        .vmas
        .iter()
        .find(|v| v.backing == backing::VDSO)
        .filter(|v| v.end - v.start == text.len() as u64)
        .ok_or_else(|| {
            refuse(
                why,
                EINVAL,
                format_args!("the image's vDSO text does not match its vDSO mapping"),
            )
        })?;
    // A thread stopped inside the old code would run it on, reading data pages that
    // are not there.
    if let Some(ip) = p
        .thread_ips
        .iter()
        .find(|&&ip| old.start <= ip && ip < old.end)
    {
        return Err(refuse(
            why,
            EXDEV,
            format_args!(
                "a thread of the image was stopped inside its vDSO (offset {:#x}), whose \
                 code cannot run under this kernel; checkpoint the program again",
                ip - old.start
            ),
        ));
    }
    let mut bytes = KVVec::from_elem(0u8, text.len(), GFP_KERNEL)?;
    vdso::build_proxy(text, &new, base, &mut bytes)
        .map_err(|e| refuse(why, EXDEV, format_args!("no vDSO proxy can be built: {e}")))?;
    // The restarter's vDSO and data pages stay where they are: outside the image.
    for name in SPECIALS {
        if let Some((s, e)) = cur::special(name) {
            if p.vmas.iter().any(|v| v.start < e && s < v.end) {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!(
                        "the caller's {} at {s:#x}-{e:#x} overlaps a mapping of the image \
                         (`ckpt restart` moves it out of the way)",
                        name.to_str().unwrap_or("vDSO")
                    ),
                ));
            }
        }
    }
    Ok(Some(Proxy {
        at: old.start,
        prot: old.prot,
        bytes,
    }))
}

/// Same vDSO: the restarter's vDSO and data pages must already be where the image
/// had them, and none of them may overlap another mapping of the image.
fn check_in_place(p: &Plan<'_>, why: &mut Reason) -> Result {
    for v in p
        .vmas
        .iter()
        .filter(|v| matches!(v.backing, backing::VDSO | backing::VVAR))
    {
        let mut name = [0u8; 40];
        let n = v.name.len().min(name.len() - 1);
        name[..n].copy_from_slice(&v.name[..n]);
        let name = CStr::from_bytes_until_nul(&name).map_err(|_| EINVAL)?;
        if cur::special(name) != Some((v.start, v.end)) {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "{} must be at {:#x}-{:#x} (`ckpt restart` moves it there)",
                    super::files::path_str(v.name),
                    v.start,
                    v.end
                ),
            ));
        }
    }
    for name in SPECIALS {
        if let Some((s, e)) = cur::special(name) {
            let kept = p.vmas.iter().any(|v| v.start == s && v.end == e);
            if !kept && p.vmas.iter().any(|v| v.start < e && s < v.end) {
                return Err(refuse(
                    why,
                    EINVAL,
                    format_args!("the caller's vDSO at {s:#x} overlaps a mapping of the image"),
                ));
            }
        }
    }
    Ok(())
}

/// Maps the proxy where the image's vDSO was (phase 3, in the emptied address
/// space): private anonymous memory with the vDSO's protection, written through
/// the forced path as a debugger writes code.
pub(crate) fn map_proxy(px: &Proxy, why: &mut Reason) -> Result {
    let len = px.bytes.len() as u64;
    cur::mmap(
        None,
        px.at,
        len,
        px.prot,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
        0,
    )
    .map_err(|e| why.set(e, format_args!("cannot map the vDSO proxy at {:#x}", px.at)))?;
    cur::fill_pages(px.at, &px.bytes, true).map_err(|e| {
        why.set(
            e,
            format_args!("cannot fill the vDSO proxy at {:#x}", px.at),
        )
    })
}
