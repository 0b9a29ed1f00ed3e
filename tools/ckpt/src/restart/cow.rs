// SPDX-License-Identifier: GPL-2.0

//! Copy-on-write sharing between the processes of a tree.
//!
//! A page that two processes of a tree shared when they were checkpointed (as
//! fork left it in a parent and its child, or in two children, written by
//! neither since) is in the image once, in the earlier process's page
//! records, and named for the later one by a page-reference record
//! (`image::PageRefs`). The module restores such a page into the later
//! process from the earlier one's record; it comes back *shared* if both
//! restarters got it by fork: before the restarter of the two processes'
//! closest common ancestor (one of them, for a parent and its child) forks
//! the processes below it, it makes the mappings that hold such pages, at
//! their addresses and with their protection, and fills those pages from the
//! image ([`prefill`]). The module takes such a mapping over with its pages
//! where it is exactly one of the image's (`take_over` in the module's
//! `objects/mm.rs`), keeps each page that holds the image's contents and
//! writes every other one, and drops the pages the image does not have: what
//! the restarter did here is an optimisation, never trusted. If the
//! restarter's own memory is in the way, it does nothing and the pages are
//! copies.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::image::{kind, PageRefs, Pages, Record, RecordHeader, PAGE_SIZE, REC_HDR_LEN};

use super::plan::Plan;

/// A page named by a page-reference record: the address space it belongs
/// to, the one whose record holds it, its address and the offset of its
/// data in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shared {
    /// Address of the page.
    pub addr: u64,
    /// Image id of the address space whose page record holds it.
    pub src: u32,
    /// Image id of the address space the reference is for.
    pub mm: u32,
    /// Offset of its data in the image.
    pub off: u64,
}

/// Every page of the image that a page-reference record names, by address.
pub type Referenced = Vec<Shared>;

/// Scans the page records of `image` from `from` (`Plan::pages_at`) for the
/// pages that page-reference records name. Reads record headers, the
/// references and the address lists of the page records they precede, not
/// the page data. An unreadable or odd image gives what was found so far:
/// the module checks everything again.
pub fn scan(image: &File, from: u64) -> Referenced {
    let mut out = Vec::new();
    let mut at = from;
    let mut pending: Vec<(u64, u32)> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let mut hb = [0u8; REC_HDR_LEN];
        if from == 0 || image.read_exact_at(&mut hb, at).is_err() {
            break;
        }
        let Ok((h, _)) = RecordHeader::parse(&hb) else {
            break;
        };
        let body = at + REC_HDR_LEN as u64;
        match h.kind {
            kind::PAGE_REFS => {
                buf.resize(h.len as usize, 0);
                if image.read_exact_at(&mut buf, body).is_err() || h.verify(&buf).is_err() {
                    break;
                }
                let Ok(r) = PageRefs::from_payload(&buf) else {
                    break;
                };
                pending.extend((0..r.count()).map(|i| (r.addr(i), r.mm)));
            }
            kind::PAGES if !pending.is_empty() => {
                let mut head = [0u8; 8];
                if image.read_exact_at(&mut head, body).is_err() {
                    break;
                }
                let Ok(n) = Pages::count_from_head(&head) else {
                    break;
                };
                buf.resize(Pages::prefix_len(n), 0);
                if image.read_exact_at(&mut buf, body).is_err() {
                    break;
                }
                let Ok(pg) = Pages::decode_prefix(&buf, h.len) else {
                    break;
                };
                let data = body + Pages::prefix_len(n) as u64;
                pending.sort_unstable();
                let mut i = 0;
                for &(addr, mm) in pending.iter() {
                    while i < n && pg.addr(i) < addr {
                        i += 1;
                    }
                    if i < n && pg.addr(i) == addr {
                        let off = data + (i * PAGE_SIZE) as u64;
                        out.push(Shared {
                            addr,
                            src: pg.mm,
                            mm,
                            off,
                        });
                    }
                }
                pending.clear();
            }
            kind::END => break,
            _ => {}
        }
        at = body + u64::from(h.len);
    }
    out.sort_unstable();
    out
}

/// The index in `plan` of the closest common ancestor of processes `a` and
/// `b` (indexes; a process is its own ancestor).
fn common_ancestor(plan: &Plan, a: usize, b: usize) -> Option<usize> {
    let up = |i: usize| plan.procs.iter().position(|p| p.pid == plan.procs[i].ppid);
    let mut chain = vec![a];
    while let Some(p) = up(*chain.last()?) {
        if chain.contains(&p) {
            break;
        }
        chain.push(p);
    }
    let mut j = b;
    for _ in 0..=plan.procs.len() {
        if chain.contains(&j) {
            return Some(j);
        }
        j = up(j)?;
    }
    None
}

/// Makes and fills, in the restarter of process `me` (an index in `plan`),
/// the mappings that hold the shared pages (`refs`) of the processes below
/// it for which it is the closest common ancestor, before it forks them.
/// `made`: the mappings made so far by this restarter and those above it
/// (inherited by fork), which are filled again rather than made. A page two
/// pairs want with different contents gets the first's: the other pair's
/// pages are then copies, with their own contents.
pub fn prefill(
    plan: &Plan,
    me: usize,
    image: &File,
    refs: &Referenced,
    made: &mut Vec<(u64, u64)>,
) {
    let proc_of = |mm: u32| plan.procs.iter().position(|p| p.mm == mm && mm != 0);
    // (start, end, prot, flags) of the mapping, then the pages: address, data.
    let mut todo: Vec<((u64, u64, u32, u32), Vec<(u64, u64)>)> = Vec::new();
    let mut pairs: Vec<((u32, u32), Option<usize>)> = Vec::new();
    for r in refs {
        let (Some(t), Some(s)) = (proc_of(r.mm), proc_of(r.src)) else {
            continue;
        };
        let lca = match pairs.iter().find(|p| p.0 == (r.mm, r.src)) {
            Some(p) => p.1,
            None => {
                let a = common_ancestor(plan, t, s);
                pairs.push(((r.mm, r.src), a));
                a
            }
        };
        if lca != Some(me) {
            continue;
        }
        let Some(&v) = plan.procs[t]
            .anon_vmas
            .iter()
            .find(|v| v.0 <= r.addr && r.addr < v.1)
        else {
            continue;
        };
        match todo.iter_mut().find(|(m, _)| m.0 == v.0) {
            Some((m, pages)) if *m == v => {
                if pages.last().map(|p| p.0) != Some(r.addr) {
                    pages.push((r.addr, r.off));
                }
            }
            Some(_) => {}
            None => todo.push((v, vec![(r.addr, r.off)])),
        }
    }
    for ((start, end, prot, flags), pages) in todo {
        fill(image, (start, end, prot, flags), &pages, made);
    }
}

/// Makes the mapping `(start, end, prot, flags)` (or takes the one made above
/// with the same extent) and fills `pages` (address, offset in the image).
fn fill(
    image: &File,
    (start, end, prot, flags): (u64, u64, u32, u32),
    pages: &[(u64, u64)],
    made: &mut Vec<(u64, u64)>,
) {
    let len = (end - start) as usize;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    if made.contains(&(start, end)) {
        // SAFETY: the range is a mapping this restarter inherited from a
        // prefill above it, which nothing of the tool refers to.
        if unsafe { libc::mprotect(start as *mut libc::c_void, len, rw) } != 0 {
            return;
        }
    } else {
        let grows = if flags & crate::image::vmflag::GROWSDOWN != 0 {
            libc::MAP_GROWSDOWN
        } else {
            0
        };
        // SAFETY: MAP_FIXED_NOREPLACE maps only where nothing is mapped: no
        // memory of the tool is touched.
        let r = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                rw,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE | grows,
                -1,
                0,
            )
        };
        if r == libc::MAP_FAILED {
            // The restarter's own memory is in the way: the pages will be
            // copies.
            return;
        }
        if r as u64 != start {
            // SAFETY: `r` is the mapping just made, nothing refers to it.
            unsafe { libc::munmap(r, len) };
            return;
        }
        made.push((start, end));
    }
    for &(addr, off) in pages {
        // SAFETY: `addr` is a page of the writable mapping made above, which
        // nothing of the tool refers to.
        let page = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, PAGE_SIZE) };
        if image.read_exact_at(page, off).is_err() {
            break;
        }
    }
    // SAFETY: as above; the image's protection (the module takes the mapping
    // over only if it is the image's).
    unsafe { libc::mprotect(start as *mut libc::c_void, len, prot as libc::c_int) };
}
