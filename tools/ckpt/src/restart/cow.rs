// SPDX-License-Identifier: GPL-2.0

//! Copy-on-write sharing between the processes of a tree.
//!
//! A page that a process shared with its parent when it was checkpointed (as
//! fork left it, written by neither since) is in the image once, in the
//! parent's page records, and named for the child by a page-reference record
//! (`image::PageRefs`). The module restores such a page into the child from
//! the parent's record; it comes back *shared* if the child's restarter got
//! it by fork: before a restarter forks the processes below it, it makes the
//! private anonymous mappings of its process that hold referenced pages, at
//! their addresses and with their protection, and fills those pages from the
//! image ([`prefill`]). The module takes such a mapping over with its pages
//! where it is exactly one of the image's (`take_over` in the module's
//! `objects/mm.rs`), keeps each page that holds the image's contents and
//! writes every other one, and drops the pages the image does not have: what
//! the restarter did here is an optimisation, never trusted. If the
//! restarter's own memory is in the way, it does nothing and the pages are
//! copies.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::image::{kind, PageRefs, Pages, Record, RecordHeader, PAGE_SIZE, REC_HDR_LEN};

use super::plan::ProcPlan;

/// For each address space of the image (by id), the pages of its that
/// others reference: `(address, offset of its data in the image)`, ascending.
pub type Referenced = HashMap<u32, Vec<(u64, u64)>>;

/// Scans the page records of `image` from `from` (`Plan::pages_at`) for the
/// pages that page-reference records name. Reads record headers, the
/// references and the address lists of the page records they precede, not
/// the page data. An unreadable or odd image gives what was found so far:
/// the module checks everything again.
pub fn scan(image: &File, from: u64) -> Referenced {
    let mut out: Referenced = HashMap::new();
    let mut at = from;
    let mut pending: Vec<u64> = Vec::new();
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
                pending.extend((0..r.count()).map(|i| r.addr(i)));
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
                let list = out.entry(pg.mm).or_default();
                pending.sort_unstable();
                let mut i = 0;
                for &a in pending.iter() {
                    while i < n && pg.addr(i) < a {
                        i += 1;
                    }
                    if i < n && pg.addr(i) == a {
                        list.push((a, data + (i * PAGE_SIZE) as u64));
                    }
                }
                pending.clear();
            }
            kind::END => break,
            _ => {}
        }
        at = body + u64::from(h.len);
    }
    for list in out.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    out
}

/// Makes and fills, in the calling restarter, the mappings of process `me`
/// that hold pages of it that others reference (`refs`), before it forks
/// them. `made`: the mappings made so far by this restarter and those above
/// it (inherited by fork), which are filled again rather than made.
pub fn prefill(me: &ProcPlan, image: &File, refs: &Referenced, made: &mut Vec<(u64, u64)>) {
    let Some(pages) = refs.get(&me.mm) else {
        return;
    };
    let mut p = 0;
    for &(start, end, prot, flags) in &me.anon_vmas {
        while p < pages.len() && pages[p].0 < start {
            p += 1;
        }
        let first = p;
        while p < pages.len() && pages[p].0 < end {
            p += 1;
        }
        if first == p {
            continue;
        }
        let len = (end - start) as usize;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        if made.contains(&(start, end)) {
            // Made above with the same extent and protection (a descendant's
            // mapping is referenced only where it is its ancestor's).
            // SAFETY: the range is a mapping this restarter inherited from a
            // prefill above it, which nothing of the tool refers to.
            if unsafe { libc::mprotect(start as *mut libc::c_void, len, rw) } != 0 {
                continue;
            }
        } else {
            let grows = if flags & crate::image::vmflag::GROWSDOWN != 0 {
                libc::MAP_GROWSDOWN
            } else {
                0
            };
            // SAFETY: MAP_FIXED_NOREPLACE maps only where nothing is mapped:
            // no memory of the tool is touched.
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
                continue;
            }
            if r as u64 != start {
                // SAFETY: `r` is the mapping just made, nothing refers to it.
                unsafe { libc::munmap(r, len) };
                continue;
            }
            made.push((start, end));
        }
        for &(addr, off) in &pages[first..p] {
            // SAFETY: `addr` is a page of the writable mapping made above,
            // which nothing of the tool refers to.
            let page = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, PAGE_SIZE) };
            if image.read_exact_at(page, off).is_err() {
                break;
            }
        }
        // SAFETY: as above; the image's protection (the module keeps the
        // mapping only if it is the image's).
        unsafe { libc::mprotect(start as *mut libc::c_void, len, prot as libc::c_int) };
    }
}
