// SPDX-License-Identifier: GPL-2.0

//! Incremental images (since format 1.4): [`Track`], [`Parent`] and [`ParentPages`].
//!
//! A checkpoint taken with dirty tracking writes a [`Track`] record: from then on
//! the kernel notes which pages of the process are written. A later checkpoint
//! against that image (its *parent*) writes a [`Parent`] record naming it, only the
//! pages written since, and [`ParentPages`] runs for the pages that are still the
//! parent's. Such an image is restored together with its parent (and the parent's
//! own parents): `ckpt restart` resolves the chain.

use super::super::*;

/// This image started dirty tracking of its (single) process: a later image
/// taken with this one as its parent names `id`. Optional (an old reader skips
/// it); at most one, before the first `mm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Track {
    /// Random identity of this tracking checkpoint (never 0).
    pub id: u64,
}

impl<'a> Record<'a> for Track {
    const KIND: u16 = kind::TRACK;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.id)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u64()?;
        check(id != 0, "track: zero id")?;
        Ok(Self { id })
    }
}

/// The image this one was taken against: its pages that [`ParentPages`] runs name
/// are in that image (or in its own parent). Mandatory: a reader that does not know
/// it could not restore the pages; at most one, right after the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent<'a> {
    /// The parent's [`Track::id`].
    pub track: u64,
    /// The parent's [`End`] account: the identity of the exact parent image.
    pub account: StreamAccount,
    /// Where the parent was when this image was taken (as given to the checkpoint;
    /// a relative path is relative to this image's directory).
    pub path: &'a [u8],
}

impl<'a> Record<'a> for Parent<'a> {
    const KIND: u16 = kind::PARENT;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.track)?;
        e.u64(self.account.records)?;
        e.u64(self.account.bytes)?;
        e.u64(self.account.chain)?;
        e.str(self.path)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let track = d.u64()?;
        check(track != 0, "parent: zero track id")?;
        let account = StreamAccount {
            records: d.u64()?,
            bytes: d.u64()?,
            chain: d.u64()?,
        };
        check(
            account.records >= 2 && account.bytes > MAGIC.len() as u64,
            "parent: empty parent account",
        )?;
        let path = d.str()?;
        check(!path.is_empty(), "parent: empty path")?;
        Ok(Self {
            track,
            account,
            path,
        })
    }
}

/// Most runs in one [`ParentPages`] record.
pub const MAX_RUNS_PER_RECORD: u32 = 65536;
/// Size of one run on the wire: `u64` start, `u32` pages.
pub const RUN_LEN: usize = 12;

/// Pages of address space `mm` whose contents are the parent image's at the same
/// addresses (unchanged since the parent was taken): runs of `pages` pages from
/// `start`, ascending and disjoint, within one address space also across records. A
/// page of a run that the parent's own (resolved) page records do not hold is what
/// the absence of a page means in its mapping (zeros, or the file's contents).
/// Mandatory; only in an image with a [`Parent`] record, among the page records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentPages<'a> {
    /// [`MmRec`] id of the address space.
    pub mm: u32,
    /// `count` runs: `u64` start address, `u32` number of pages.
    pub runs: &'a [u8],
}

impl ParentPages<'_> {
    /// Number of runs.
    pub fn count(&self) -> usize {
        self.runs.len() / RUN_LEN
    }
    /// Run `i`: its start address and number of pages.
    pub fn run(&self, i: usize) -> (u64, u32) {
        let b = &self.runs[i * RUN_LEN..];
        (le64(b), u32::from_le_bytes([b[8], b[9], b[10], b[11]]))
    }
    /// End (exclusive) of run `i`.
    pub fn run_end(&self, i: usize) -> u64 {
        let (s, n) = self.run(i);
        s + ((n as u64) << 12)
    }
    /// Total pages of the runs.
    pub fn pages(&self) -> u64 {
        (0..self.count()).map(|i| self.run(i).1 as u64).sum()
    }
}

impl<'a> Record<'a> for ParentPages<'a> {
    const KIND: u16 = kind::PARENT_PAGES;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.mm)?;
        e.u32(self.count() as u32)?;
        e.bytes(self.runs)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let mm = d.u32()?;
        check(mm != 0, "parent-pages: zero mm id")?;
        let n = d.u32()?;
        check(
            n >= 1 && n <= MAX_RUNS_PER_RECORD,
            "parent-pages: bad run count",
        )?;
        let runs = d.bytes(n as usize * RUN_LEN)?;
        let r = Self { mm, runs };
        let mut prev_end = 0u64;
        for i in 0..r.count() {
            let (s, pages) = r.run(i);
            check(
                s & (PAGE_SIZE as u64 - 1) == 0,
                "parent-pages: unaligned address",
            )?;
            check(pages >= 1, "parent-pages: empty run")?;
            check(
                s < USER_ADDR_END && (pages as u64) <= (USER_ADDR_END - s) >> 12,
                "parent-pages: run outside user space",
            )?;
            check(
                i == 0 || s >= prev_end,
                "parent-pages: runs overlap or are not ascending",
            )?;
            prev_end = r.run_end(i);
        }
        Ok(r)
    }
}
