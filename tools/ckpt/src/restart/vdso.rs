// SPDX-License-Identifier: GPL-2.0

//! vDSO relocation planning: the module wants the vDSO and its data pages
//! (the special mappings) where the image had them. This reads a
//! `/proc/PID/maps` listing ([`maps`]), decides the `mremap` moves that put
//! the restarter's special mappings there, through a scratch range when
//! they are in each other's way ([`plan_moves`]), and checks a plan against
//! a fresh listing before it is carried out ([`check_moves`]; `sys.rs`
//! makes the moves). Planning and checking allocate nothing unless they
//! fail.

use std::fmt;

use crate::image::USER_ADDR_END;

use super::plan::Special;

/// The special mappings the module wants where the image had them.
pub const SPECIAL_NAMES: [&str; 3] = ["[vdso]", "[vvar]", "[vvar_vclock]"];

/// Lowest address a scratch range may start at (`vm.mmap_min_addr`).
const MIN_ADDR: u64 = 0x10000;

/// Room kept between a scratch range and the mappings around it.
const SCRATCH_MARGIN: u64 = 1 << 20;

fn special_name(name: &str) -> Option<&'static str> {
    SPECIAL_NAMES.iter().copied().find(|n| *n == name)
}

/// One mapping of a `/proc/PID/maps` listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Path or `[name]`; empty for anonymous memory.
    pub name: &'a str,
}

/// The mappings of a `/proc/PID/maps` listing, without allocating; lines
/// that do not parse are skipped.
pub fn maps(text: &str) -> impl Iterator<Item = Mapping<'_>> {
    text.lines().filter_map(|line| {
        let (range, mut rest) = line.split_once(' ')?;
        let (s, e) = range.split_once('-')?;
        let start = u64::from_str_radix(s, 16).ok()?;
        let end = u64::from_str_radix(e, 16).ok()?;
        // perms, offset, device, inode; then the name, after padding.
        for _ in 0..4 {
            rest = rest.trim_start_matches(' ');
            rest = &rest[rest.find(' ').unwrap_or(rest.len())..];
        }
        Some(Mapping {
            start,
            end,
            name: rest.trim_start_matches(' '),
        })
    })
}

/// One `mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Move {
    /// The mapping moved.
    pub name: &'static str,
    /// Where it is.
    pub from: u64,
    /// Where it goes.
    pub to: u64,
    /// Its size.
    pub len: u64,
}

/// Most moves ever needed: each special mapping twice (via scratch space).
pub const MAX_MOVES: usize = 2 * SPECIAL_NAMES.len();

/// The moves to make, in order (a fixed array: planning them allocates
/// nothing, so that it may be done on a listing taken after the last
/// allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    n: usize,
    list: [Move; MAX_MOVES],
}

impl Moves {
    fn push(&mut self, m: Move) {
        self.list[self.n] = m;
        self.n += 1;
    }
}

impl std::ops::Deref for Moves {
    type Target = [Move];
    fn deref(&self) -> &[Move] {
        &self.list[..self.n]
    }
}

/// Why the vDSO cannot be put where the image had it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VdsoError {
    /// The image has a special mapping this kernel does not make.
    Missing(String),
    /// This kernel makes a special mapping the image does not have.
    Extra(&'static str),
    /// Sizes differ.
    Size {
        /// The mapping.
        name: &'static str,
        /// Its size here.
        here: u64,
        /// Its size in the image.
        image: u64,
    },
    /// The destination is taken by another mapping of the restarter.
    Overlap {
        /// The mapping to move.
        name: &'static str,
        /// Where it must go.
        to: (u64, u64),
        /// The mapping in the way (its name, or empty).
        other: String,
        /// Where that is.
        at: (u64, u64),
    },
    /// A special mapping that stays overlaps a mapping of the image.
    InTheWay {
        /// The special mapping.
        name: &'static str,
        /// Where it is.
        at: (u64, u64),
        /// The mapping of the image.
        vma: (u64, u64),
    },
    /// No free range to move the mappings through.
    NoScratch(u64),
    /// A planned move no longer fits the listing.
    Stale(Move),
}

const OTHER_KERNEL: &str = "the image comes from another kernel build, \
                            and restarting it on this one is not supported yet";

impl fmt::Display for VdsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(n) => write!(
                f,
                "the image has a {n} mapping this kernel lacks: {OTHER_KERNEL}"
            ),
            Self::Extra(n) => write!(
                f,
                "this kernel has a {n} mapping the image lacks: {OTHER_KERNEL}"
            ),
            Self::Size { name, here, image } => write!(
                f,
                "{name} is {here} bytes here but {image} bytes in the image: {OTHER_KERNEL}"
            ),
            Self::Overlap {
                name,
                to,
                other,
                at,
            } => write!(
                f,
                "{name} must move to {:#x}-{:#x}, where the restarter has {} at {:#x}-{:#x}; \
                 try again (the tool's own layout changes from run to run)",
                to.0,
                to.1,
                if other.is_empty() { "memory" } else { other },
                at.0,
                at.1
            ),
            Self::InTheWay { name, at, vma } => write!(
                f,
                "the restarter's {name} at {:#x}-{:#x} overlaps the image's mapping {:#x}-{:#x}",
                at.0, at.1, vma.0, vma.1
            ),
            Self::NoScratch(len) => {
                write!(
                    f,
                    "no free {len}-byte address range to move the vDSO through"
                )
            }
            Self::Stale(m) => write!(
                f,
                "{} is no longer at {:#x} or cannot go to {:#x}: the address space changed \
                 (report this bug)",
                m.name, m.from, m.to
            ),
        }
    }
}

impl std::error::Error for VdsoError {}

/// Whether the ranges `a` and `b` (start, exclusive end) share an address.
pub(super) fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Decides how to move this process's special mappings (listed in `maps`,
/// its `/proc/self/maps`) to where the image had them (`image`), the
/// image's mappings being `vmas`. Allocates nothing unless it fails.
///
/// Refuses if the image's special mappings are not this kernel's (names or
/// sizes differ: another kernel build), or if a destination overlaps
/// another mapping of this process (`MREMAP_FIXED` would silently unmap
/// it). Nothing to do if they are in place already. A mapping whose
/// destination overlaps where a special mapping is now (even itself) goes
/// through a free scratch range first.
pub fn plan_moves(
    maps_text: &str,
    image: &[Special],
    vmas: &[(u64, u64)],
) -> Result<Moves, VdsoError> {
    let own_special = || maps(maps_text).filter_map(|m| Some((special_name(m.name)?, m)));
    let dest = |name: &str| image.iter().find(|s| s.name == name);
    if image.is_empty() {
        // Nothing to move; what this process has must not be in the way.
        for (name, m) in own_special() {
            if let Some(v) = vmas.iter().find(|v| overlaps(**v, (m.start, m.end))) {
                return Err(VdsoError::InTheWay {
                    name,
                    at: (m.start, m.end),
                    vma: *v,
                });
            }
        }
        return Ok(Moves::default());
    }
    for s in image {
        let Some((name, m)) = own_special().find(|(n, _)| *n == s.name) else {
            return Err(VdsoError::Missing(s.name.clone()));
        };
        if m.end - m.start != s.end - s.start {
            return Err(VdsoError::Size {
                name,
                here: m.end - m.start,
                image: s.end - s.start,
            });
        }
    }
    if let Some((name, _)) = own_special().find(|(n, _)| dest(n).is_none()) {
        return Err(VdsoError::Extra(name));
    }
    for s in image {
        let to = (s.start, s.end);
        if let Some(m) = maps(maps_text)
            .find(|m| special_name(m.name).is_none() && overlaps(to, (m.start, m.end)))
        {
            return Err(VdsoError::Overlap {
                name: special_name(&s.name).unwrap_or("[vdso]"),
                to,
                other: m.name.to_string(),
                at: (m.start, m.end),
            });
        }
    }
    let mut direct = Moves::default();
    let mut conflict = false;
    for (name, m) in own_special() {
        let Some(s) = dest(name) else { continue };
        if m.start == s.start {
            continue;
        }
        let to = (s.start, s.end);
        // Overlapping a special mapping that moves too (itself included).
        conflict |= own_special().any(|(n, o)| {
            dest(n).is_some_and(|d| d.start != o.start) && overlaps(to, (o.start, o.end))
        });
        direct.push(Move {
            name,
            from: m.start,
            to: s.start,
            len: m.end - m.start,
        });
    }
    if !conflict {
        return Ok(direct);
    }
    let total: u64 = direct.iter().map(|m| m.len).sum();
    let scratch = find_scratch(maps_text, image, total).ok_or(VdsoError::NoScratch(total))?;
    let mut moves = Moves::default();
    let mut at = scratch;
    for m in direct.iter() {
        moves.push(Move { to: at, ..*m });
        at += m.len;
    }
    at = scratch;
    for m in direct.iter() {
        moves.push(Move { from: at, ..*m });
        at += m.len;
    }
    Ok(moves)
}

/// Decides how to get this process's special mappings (listed in `maps`, its
/// `/proc/self/maps`) out of the way of the image's mappings `vmas` when a
/// vDSO proxy takes the image's vDSO address: nothing to do if none overlaps
/// one; otherwise all of them move by one distance (their layout is what the
/// vDSO code relies on) to a free range. Allocates nothing unless it fails.
pub fn plan_park(maps_text: &str, vmas: &[(u64, u64)]) -> Result<Moves, VdsoError> {
    let own_special = || maps(maps_text).filter_map(|m| Some((special_name(m.name)?, m)));
    if !own_special().any(|(_, m)| vmas.iter().any(|v| overlaps(*v, (m.start, m.end)))) {
        return Ok(Moves::default());
    }
    let lo = own_special().map(|(_, m)| m.start).min().unwrap_or(0);
    let hi = own_special().map(|(_, m)| m.end).max().unwrap_or(0);
    let to =
        find_free(maps_text, vmas.iter().copied(), hi - lo).ok_or(VdsoError::NoScratch(hi - lo))?;
    let mut moves = Moves::default();
    for (name, m) in own_special() {
        moves.push(Move {
            name,
            from: m.start,
            to: to + (m.start - lo),
            len: m.end - m.start,
        });
    }
    Ok(moves)
}

/// A free range of `len` bytes: next to a mapping or destination, clear of
/// every mapping and destination by [`SCRATCH_MARGIN`].
fn find_scratch(maps_text: &str, image: &[Special], len: u64) -> Option<u64> {
    find_free(maps_text, image.iter().map(|s| (s.start, s.end)), len)
}

/// A free range of `len` bytes: next to a mapping or a range of `more`, clear
/// of every mapping and range by [`SCRATCH_MARGIN`].
fn find_free(
    maps_text: &str,
    more: impl Iterator<Item = (u64, u64)> + Clone,
    len: u64,
) -> Option<u64> {
    let busy = || {
        maps(maps_text)
            .map(|m| (m.start, m.end))
            .chain(more.clone())
            .filter(|r| r.0 < USER_ADDR_END)
    };
    let free = |c: u64| {
        let r = (c.saturating_sub(SCRATCH_MARGIN), c + len + SCRATCH_MARGIN);
        c >= MIN_ADDR && c + len <= USER_ADDR_END && !busy().any(|b| overlaps(r, b))
    };
    busy()
        .flat_map(|b| {
            [
                b.0.checked_sub(len + SCRATCH_MARGIN),
                Some(b.1 + SCRATCH_MARGIN),
            ]
        })
        .flatten()
        .find(|&c| free(c))
}

/// Checks `moves` against the listing `maps_text` by playing them: each
/// must take a whole special mapping from where it is, to a range that
/// (after the moves before it) overlaps no mapping but its own source's
/// old place -- which `mremap` refuses anyway. Allocates nothing unless it
/// fails.
pub fn check_moves(maps_text: &str, moves: &[Move]) -> Result<(), VdsoError> {
    // Where a mapping of the listing is after the first `k` moves.
    let place = |m: &Mapping<'_>, k: usize| {
        let mut at = m.start;
        for mv in &moves[..k] {
            if mv.from == at && mv.len == m.end - m.start {
                at = mv.to;
            }
        }
        (at, at + (m.end - m.start))
    };
    for (k, mv) in moves.iter().enumerate() {
        let from = (mv.from, mv.from + mv.len);
        let to = (mv.to, mv.to + mv.len);
        let mut found = false;
        for m in maps(maps_text) {
            let at = place(&m, k);
            if at == from && special_name(m.name) == Some(mv.name) {
                found = true;
                if overlaps(from, to) {
                    return Err(VdsoError::Stale(*mv));
                }
            } else if overlaps(at, to) || overlaps(at, from) {
                return Err(VdsoError::Stale(*mv));
            }
        }
        if !found || to.1 > USER_ADDR_END || to.0 < MIN_ADDR {
            return Err(VdsoError::Stale(*mv));
        }
    }
    Ok(())
}
