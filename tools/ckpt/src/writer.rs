// SPDX-License-Identifier: GPL-2.0

//! An in-memory image writer, for tests and the fuzz target: builds
//! synthetic images record by record (valid ones, or deliberately broken
//! ones with [`ImageWriter::raw`] and [`ImageWriter::raw_header`]).

use crate::image::{
    kind, Enc, End, Record, RecordHeader, Result, StreamAccount, MAGIC, MAX_RECORD_LEN, REC_HDR_LEN,
};

/// Builds an image in memory.
pub struct ImageWriter {
    out: Vec<u8>,
    offsets: Vec<usize>,
    account: StreamAccount,
    scratch: Vec<u8>,
}

impl Default for ImageWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageWriter {
    /// A writer that has written the magic.
    pub fn new() -> Self {
        Self {
            out: MAGIC.to_vec(),
            offsets: Vec::new(),
            account: StreamAccount::new(),
            scratch: Vec::new(),
        }
    }

    /// Appends a record with the given header (check included, whether it
    /// matches or not) and accounts for it as a writer would.
    pub fn raw_header(&mut self, h: RecordHeader, payload: &[u8]) -> &mut Self {
        self.offsets.push(self.out.len());
        self.out.extend_from_slice(&h.to_bytes());
        self.out.extend_from_slice(payload);
        self.account.add(&h);
        self
    }

    /// Appends a correctly sealed record of any kind, version and payload.
    pub fn raw(&mut self, kind: u16, version: u16, payload: &[u8]) -> &mut Self {
        self.raw_header(RecordHeader::for_payload(kind, version, payload), payload)
    }

    /// Appends `r`, encoded at its current version.
    pub fn record<'a, T: Record<'a>>(&mut self, r: &T) -> Result<&mut Self> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; MAX_RECORD_LEN as usize];
        }
        let mut scratch = core::mem::take(&mut self.scratch);
        let n = {
            let mut e = Enc::new(&mut scratch);
            r.encode(&mut e)?;
            e.len()
        };
        self.raw(T::KIND, T::VERSION, &scratch[..n]);
        self.scratch = scratch;
        Ok(self)
    }

    /// What an [`End`] record written now would hold.
    pub fn account(&self) -> StreamAccount {
        self.account
    }

    /// Appends the [`End`] record.
    pub fn end(&mut self) -> Result<&mut Self> {
        let account = self.account;
        self.record(&End { account })
    }

    /// The bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// Offsets of the records written so far.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The bytes, without adding anything.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Appends the [`End`] record and returns the image.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.end()?;
        Ok(self.out)
    }
}

/// The records of an image whose framing is intact as far as it goes:
/// `(offset, header)` of each record that fits in `image`.
pub fn walk(image: &[u8]) -> Vec<(usize, RecordHeader)> {
    let mut v = Vec::new();
    let mut off = MAGIC.len();
    while off + REC_HDR_LEN <= image.len() {
        let b = &image[off..off + REC_HDR_LEN];
        let h = RecordHeader {
            kind: u16::from_le_bytes([b[0], b[1]]),
            version: u16::from_le_bytes([b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            check: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        };
        let end = off + REC_HDR_LEN + h.len as usize;
        if end > image.len() {
            break;
        }
        v.push((off, h));
        off = end;
    }
    v
}

/// Recomputes the check of every record whose framing is intact, and the
/// account in every well-sized [`End`] record, so that a damaged image gets
/// past the checks and exercises the decoders and the order checker.
pub fn reseal(image: &mut [u8]) {
    let mut account = StreamAccount::new();
    for (off, h) in walk(image) {
        let p = off + REC_HDR_LEN;
        let payload = &mut image[p..p + h.len as usize];
        if h.kind == kind::END && payload.len() == 24 {
            payload[0..8].copy_from_slice(&account.records.to_le_bytes());
            payload[8..16].copy_from_slice(&account.bytes.to_le_bytes());
            payload[16..24].copy_from_slice(&account.chain.to_le_bytes());
        }
        let sealed = RecordHeader::for_payload(h.kind, h.version, payload);
        image[off..p].copy_from_slice(&sealed.to_bytes());
        account.add(&sealed);
    }
}
