// SPDX-License-Identifier: GPL-2.0

//! The ckpt image stream format, defined once for the module and the `ckpt` tool.
//!
//! This file depends on `core` only and is compiled twice: into `ckpt.ko` (as
//! `mod image`) and into the userspace tool (`tools/ckpt`). It is the single
//! definition of the format; `Documentation/ckpt/image-format.rst` describes the
//! same thing in prose for authors of other readers.
//!
//! An image is the 8-byte [`MAGIC`] followed by records. Each record is a
//! [`RecordHeader`] (12 bytes: kind, version, payload length, check) and a
//! payload. All integers are little-endian. The first record is a [`Header`],
//! the last one an [`End`]. Records describe what the process had (semantic
//! state), never raw kernel structures, so a different kernel can read them.
//!
//! Objects that tasks can share (an address space, an open file, a pipe, a
//! signal-handler table, credentials…) are written once, carry a non-zero
//! object id, and are referenced by that id ("objref", as Linux-CR's objhash
//! did). Records that describe one task ([`Regs`], [`Xstate`], [`ThreadSignals`])
//! follow that task's [`Task`] record.

/// Stream magic: PNG-style, so that text-mode mangling and truncation are caught.
pub const MAGIC: [u8; 8] = [0x89, b'C', b'K', b'P', b'T', b'\r', b'\n', 0x1a];
/// Format major version; a reader rejects any other major.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version; additions that old readers can skip bump it.
pub const FORMAT_MINOR: u16 = 1;
/// ELF machine number of x86_64, the only architecture so far.
pub const ARCH_X86_64: u16 = 62;
/// Size of a [`RecordHeader`] on the wire.
pub const REC_HDR_LEN: usize = 12;
/// Largest payload a reader accepts (a [`Pages`] record of [`MAX_PAGES_PER_RECORD`] pages fits).
pub const MAX_RECORD_LEN: u32 = 4 << 20;
/// Most pages in one [`Pages`] record.
pub const MAX_PAGES_PER_RECORD: u32 = 512;
/// Longest path or name accepted.
pub const MAX_PATH_LEN: usize = 4096;
/// Page size of x86_64.
pub const PAGE_SIZE: usize = 4096;
/// Exclusive upper bound of user addresses on x86_64 with 4-level paging
/// (`TASK_SIZE_MAX`); with 5-level paging a later format version can raise it.
pub const USER_ADDR_END: u64 = 0x0000_7fff_ffff_f000;
/// Address of the legacy vsyscall page, the one mapping above [`USER_ADDR_END`].
pub const VSYSCALL_ADDR: u64 = 0xffff_ffff_ff60_0000;
/// Bit set in a record kind whose records an old reader may skip.
pub const KIND_OPTIONAL: u16 = 0x8000;
/// Number of signals (`_NSIG`).
pub const NSIG: usize = 64;
/// Number of resource limits (`RLIM_NLIMITS`).
pub const NRLIMITS: usize = 16;
/// Size of a saved signal's `siginfo` (the kernel_siginfo prefix of `siginfo_t`).
pub const SIGINFO_LEN: usize = 48;
/// Most `auxv` words kept (`AT_VECTOR_SIZE` on x86_64 is 2 * (2 + 20 + 1 + 1)).
pub const MAX_AUXV_WORDS: usize = 64;
/// Most supplementary groups kept.
pub const MAX_GROUPS: usize = 65536;
/// Largest XSAVE area accepted.
pub const MAX_XSTATE_LEN: usize = 64 * 1024;

/// Errors found while decoding (or, for `Overflow`, encoding) a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The stream does not start with [`MAGIC`].
    BadMagic,
    /// The format version is not one this reader knows.
    UnsupportedFormat {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The image is for another architecture.
    ForeignArch(u16),
    /// The image was taken with another page size.
    BadPageSize(u32),
    /// The stream or a record ends early.
    Truncated,
    /// A record's check does not match its content.
    BadCheck {
        /// Kind of the damaged record.
        kind: u16,
    },
    /// A record kind this reader does not know and may not skip.
    UnknownKind(u16),
    /// A known record kind at a version this reader does not know.
    UnsupportedRecordVersion {
        /// Kind of the record.
        kind: u16,
        /// Version found.
        version: u16,
    },
    /// A record longer than the format allows.
    TooLarge {
        /// Kind of the record.
        kind: u16,
        /// Length found.
        len: u32,
    },
    /// A record whose fields are inconsistent; the text says which.
    Malformed(&'static str),
    /// Records out of order (e.g. no [`Header`] first); the text says which.
    BadOrder(&'static str),
    /// The [`End`] record does not match the stream it closes.
    TrailerMismatch,
    /// An encoding buffer was too small.
    Overflow,
}

impl ImageError {
    /// A short human-readable description.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::BadMagic => "not a ckpt image (bad magic)",
            Self::UnsupportedFormat { .. } => "unsupported image format version",
            Self::ForeignArch(_) => "image is for another architecture",
            Self::BadPageSize(_) => "image has another page size",
            Self::Truncated => "image is truncated",
            Self::BadCheck { .. } => "record check mismatch (corrupted image)",
            Self::UnknownKind(_) => "unknown record kind",
            Self::UnsupportedRecordVersion { .. } => "unsupported record version",
            Self::TooLarge { .. } => "record too large",
            Self::Malformed(m) => m,
            Self::BadOrder(m) => m,
            Self::TrailerMismatch => "trailer does not match the stream",
            Self::Overflow => "encoding buffer too small",
        }
    }
}

/// Result of decoding.
pub type Result<T> = core::result::Result<T, ImageError>;

// ---------------------------------------------------------------------------
// Record kinds.

/// Record kinds. Ranges by area: 0x00xx stream, 0x01xx task, 0x02xx CPU,
/// 0x03xx files, 0x04xx memory, 0x06xx signals, 0x07xx credentials.
pub mod kind {
    /// [`super::Header`].
    pub const HEADER: u16 = 0x0001;
    /// [`super::End`].
    pub const END: u16 = 0x00ff;
    /// [`super::Task`].
    pub const TASK: u16 = 0x0100;
    /// [`super::Rlimits`].
    pub const RLIMITS: u16 = 0x0101;
    /// [`super::Regs`].
    pub const REGS: u16 = 0x0200;
    /// [`super::Xstate`].
    pub const XSTATE: u16 = 0x0201;
    /// [`super::FileRec`].
    pub const FILE: u16 = 0x0300;
    /// [`super::PipeRec`].
    pub const PIPE: u16 = 0x0301;
    /// [`super::FilesRec`].
    pub const FILES: u16 = 0x0310;
    /// [`super::Fd`].
    pub const FD: u16 = 0x0311;
    /// [`super::FsRec`].
    pub const FS: u16 = 0x0320;
    /// [`super::MmRec`].
    pub const MM: u16 = 0x0400;
    /// [`super::Vma`].
    pub const VMA: u16 = 0x0401;
    /// [`super::Pages`].
    pub const PAGES: u16 = 0x0402;
    /// [`super::Sighand`].
    pub const SIGHAND: u16 = 0x0600;
    /// [`super::SignalRec`].
    pub const SIGNAL: u16 = 0x0601;
    /// [`super::ThreadSignals`].
    pub const THREAD_SIGNALS: u16 = 0x0610;
    /// [`super::Creds`].
    pub const CREDS: u16 = 0x0700;
    /// [`super::Rseq`]: optional (an old reader skips it and restarts without it).
    pub const RSEQ: u16 = super::KIND_OPTIONAL | 0x0102;
    /// [`super::Ctty`]: optional (an old reader skips it; the process then comes
    /// back without its controlling terminal).
    pub const CTTY: u16 = super::KIND_OPTIONAL | 0x0103;

    /// The name of a kind, for diagnostics.
    pub fn name(kind: u16) -> &'static str {
        match kind {
            HEADER => "header",
            END => "end",
            TASK => "task",
            RLIMITS => "rlimits",
            REGS => "regs",
            XSTATE => "xstate",
            FILE => "file",
            PIPE => "pipe",
            FILES => "files",
            FD => "fd",
            FS => "fs",
            MM => "mm",
            VMA => "vma",
            PAGES => "pages",
            SIGHAND => "sighand",
            SIGNAL => "signal",
            THREAD_SIGNALS => "thread-signals",
            CREDS => "creds",
            RSEQ => "rseq",
            CTTY => "ctty",
            _ => "unknown",
        }
    }

    /// The newest version of `kind` this code knows, or `None` if unknown.
    pub fn max_version(kind: u16) -> Option<u16> {
        match kind {
            HEADER | END | TASK | RLIMITS | REGS | XSTATE | FILE | PIPE | FILES | FD | FS | MM
            | VMA | PAGES | SIGHAND | SIGNAL | THREAD_SIGNALS | CREDS | RSEQ | CTTY => Some(1),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// The check: xxHash64 (public-domain algorithm by Yann Collet), streaming.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline(always)]
fn xround(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline(always)]
fn xmerge(acc: u64, val: u64) -> u64 {
    (acc ^ xround(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

/// The little-endian `u64` at the start of `b`, which must hold at least 8 bytes.
///
/// Indexed byte by byte on purpose: the compiler turns this into one load, where
/// `copy_from_slice` became an out-of-line call per word in the kernel build (and
/// made the hash of page records five times slower).
#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Streaming xxHash64.
#[derive(Clone)]
pub struct Hasher {
    v: [u64; 4],
    seed: u64,
    total: u64,
    buf: [u8; 32],
    buf_len: usize,
}

impl Hasher {
    /// A hasher with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            v: [
                seed.wrapping_add(P1).wrapping_add(P2),
                seed.wrapping_add(P2),
                seed,
                seed.wrapping_sub(P1),
            ],
            seed,
            total: 0,
            buf: [0; 32],
            buf_len: 0,
        }
    }

    #[inline(always)]
    fn stripe(v: &mut [u64; 4], s: &[u8; 32]) {
        v[0] = xround(v[0], le64(&s[0..]));
        v[1] = xround(v[1], le64(&s[8..]));
        v[2] = xround(v[2], le64(&s[16..]));
        v[3] = xround(v[3], le64(&s[24..]));
    }

    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = core::cmp::min(32 - self.buf_len, data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 32 {
                return;
            }
            let b = self.buf;
            Self::stripe(&mut self.v, &b);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for s in &mut chunks {
            // `chunks_exact(32)` yields 32-byte slices: the conversion cannot fail, and
            // the fixed size lets the compiler drop the bounds checks in `stripe`.
            if let Ok(s) = s.try_into() {
                Self::stripe(&mut self.v, s);
            }
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// The 64-bit digest.
    pub fn finish(&self) -> u64 {
        let v = &self.v;
        let mut h = if self.total >= 32 {
            let mut h = v[0]
                .rotate_left(1)
                .wrapping_add(v[1].rotate_left(7))
                .wrapping_add(v[2].rotate_left(12))
                .wrapping_add(v[3].rotate_left(18));
            h = xmerge(h, v[0]);
            h = xmerge(h, v[1]);
            h = xmerge(h, v[2]);
            xmerge(h, v[3])
        } else {
            self.seed.wrapping_add(P5)
        };
        h = h.wrapping_add(self.total);
        let mut rest = &self.buf[..self.buf_len];
        while rest.len() >= 8 {
            h ^= xround(0, le64(rest));
            h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let w = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
            h ^= w.wrapping_mul(P1);
            h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
            rest = &rest[4..];
        }
        for &b in rest {
            h ^= (b as u64).wrapping_mul(P5);
            h = h.rotate_left(11).wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

/// xxHash64 of `data` with `seed`.
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let mut h = Hasher::new(seed);
    h.update(data);
    h.finish()
}

// ---------------------------------------------------------------------------
// Record framing.

/// The 12-byte header in front of every record payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// One of [`kind`]; [`KIND_OPTIONAL`] marks skippable kinds.
    pub kind: u16,
    /// Layout version of this kind.
    pub version: u16,
    /// Payload length in bytes.
    pub len: u32,
    /// [`RecordHeader::seal`] of kind, version, length and payload.
    pub check: u32,
}

impl RecordHeader {
    /// Starts the check of a record; feed the payload to the returned hasher,
    /// then pass it to [`RecordHeader::seal`].
    pub fn hasher(kind: u16, version: u16, len: u32) -> Hasher {
        Hasher::new(kind as u64 | (version as u64) << 16 | (len as u64) << 32)
    }

    /// Finishes a record header from the hasher of its payload.
    pub fn seal(kind: u16, version: u16, len: u32, h: &Hasher) -> Self {
        let d = h.finish();
        Self {
            kind,
            version,
            len,
            check: (d as u32) ^ ((d >> 32) as u32),
        }
    }

    /// Header of a record whose whole payload is at hand.
    pub fn for_payload(kind: u16, version: u16, payload: &[u8]) -> Self {
        let len = payload.len() as u32;
        let mut h = Self::hasher(kind, version, len);
        h.update(payload);
        Self::seal(kind, version, len, &h)
    }

    /// Wire form.
    pub fn to_bytes(&self) -> [u8; REC_HDR_LEN] {
        let mut b = [0u8; REC_HDR_LEN];
        b[0..2].copy_from_slice(&self.kind.to_le_bytes());
        b[2..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..12].copy_from_slice(&self.check.to_le_bytes());
        b
    }

    /// Parses and checks the framing (not the payload): the kind must be
    /// known (or optional), its version supported, the length in bounds.
    /// Returns `(header, false)` for an optional record the reader should skip.
    pub fn parse(b: &[u8; REC_HDR_LEN]) -> Result<(Self, bool)> {
        let h = Self {
            kind: u16::from_le_bytes([b[0], b[1]]),
            version: u16::from_le_bytes([b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            check: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        };
        if h.len > MAX_RECORD_LEN {
            return Err(ImageError::TooLarge {
                kind: h.kind,
                len: h.len,
            });
        }
        match kind::max_version(h.kind) {
            Some(max) if h.version >= 1 && h.version <= max => Ok((h, true)),
            Some(_) if h.kind & KIND_OPTIONAL != 0 => Ok((h, false)),
            Some(_) => Err(ImageError::UnsupportedRecordVersion {
                kind: h.kind,
                version: h.version,
            }),
            None if h.kind & KIND_OPTIONAL != 0 => Ok((h, false)),
            None => Err(ImageError::UnknownKind(h.kind)),
        }
    }

    /// Verifies `payload` against the check.
    pub fn verify(&self, payload: &[u8]) -> Result<()> {
        if payload.len() != self.len as usize {
            return Err(ImageError::Truncated);
        }
        if Self::for_payload(self.kind, self.version, payload).check != self.check {
            return Err(ImageError::BadCheck { kind: self.kind });
        }
        Ok(())
    }
}

/// Running account of a stream, kept by writer and reader alike; the [`End`]
/// record carries the writer's, the reader compares it with its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamAccount {
    /// Records before the `End` record.
    pub records: u64,
    /// Bytes before the `End` record, magic included.
    pub bytes: u64,
    /// Chained checks of those records.
    pub chain: u64,
}

impl StreamAccount {
    /// A fresh account; the magic is already counted.
    pub fn new() -> Self {
        Self {
            records: 0,
            bytes: MAGIC.len() as u64,
            chain: 0,
        }
    }

    /// Accounts for one record.
    pub fn add(&mut self, h: &RecordHeader) {
        self.records += 1;
        self.bytes += (REC_HDR_LEN as u64) + h.len as u64;
        self.chain = xround(self.chain ^ ((h.kind as u64) << 32), h.check as u64);
    }
}

// ---------------------------------------------------------------------------
// Payload encoding and decoding.

/// Little-endian encoder into a caller-provided buffer.
pub struct Enc<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Enc<'a> {
    /// Encodes into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }
    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }
    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.pos]
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        let end = self.pos.checked_add(b.len()).ok_or(ImageError::Overflow)?;
        if end > self.buf.len() {
            return Err(ImageError::Overflow);
        }
        self.buf[self.pos..end].copy_from_slice(b);
        self.pos = end;
        Ok(())
    }
    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }
    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends an `i32`.
    pub fn i32(&mut self, v: i32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends an `i64`.
    pub fn i64(&mut self, v: i64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// Appends a string: `u16` length, then the bytes (no NUL).
    pub fn str(&mut self, s: &[u8]) -> Result<()> {
        if s.len() > MAX_PATH_LEN {
            return Err(ImageError::Overflow);
        }
        self.u16(s.len() as u16)?;
        self.bytes(s)
    }
}

/// Little-endian decoder over a payload.
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    /// Decodes `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    /// Takes `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(ImageError::Truncated)?;
        if end > self.buf.len() {
            return Err(ImageError::Truncated);
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// Takes a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    /// Takes a `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    /// Takes a `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Takes an `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }
    /// Takes a `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(le64(self.bytes(8)?))
    }
    /// Takes an `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
    /// Takes a string written by [`Enc::str`].
    pub fn str(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        if n > MAX_PATH_LEN {
            return Err(ImageError::Malformed("string too long"));
        }
        self.bytes(n)
    }
    /// Bytes not yet taken.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Fails unless the whole payload was taken.
    pub fn end(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(ImageError::Malformed("trailing bytes in record"));
        }
        Ok(())
    }
}

/// A record payload type.
pub trait Record<'a>: Sized {
    /// Its [`kind`].
    const KIND: u16;
    /// The version this code writes.
    const VERSION: u16 = 1;
    /// Encodes the payload.
    fn encode(&self, e: &mut Enc<'_>) -> Result<()>;
    /// Decodes and validates a payload (the whole of it).
    fn decode(d: &mut Dec<'a>) -> Result<Self>;
    /// Decodes a whole payload.
    fn from_payload(p: &'a [u8]) -> Result<Self> {
        let mut d = Dec::new(p);
        let r = Self::decode(&mut d)?;
        d.end()?;
        Ok(r)
    }
}

fn check(cond: bool, what: &'static str) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(ImageError::Malformed(what))
    }
}

// ---------------------------------------------------------------------------
// Stream records.

/// First record: what took the image, and on what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// [`FORMAT_MAJOR`] of the writer.
    pub format_major: u16,
    /// [`FORMAT_MINOR`] of the writer.
    pub format_minor: u16,
    /// ELF machine ([`ARCH_X86_64`]).
    pub arch: u16,
    /// Reserved, zero.
    pub flags: u16,
    /// Page size in bytes.
    pub page_size: u32,
    /// Size of the uabi XSAVE area on the writing CPU.
    pub xstate_size: u32,
    /// XSAVE features enabled for user state on the writing CPU (XCR0).
    pub xfeatures: u64,
    /// Wall-clock time of the checkpoint, ns since the epoch.
    pub time_ns: u64,
    /// The pid the checkpoint was asked for (a thread id stands for its process).
    pub root_pid: i32,
    /// Number of [`Task`] records that follow.
    pub ntasks: u32,
    /// `uname -r` of the writing kernel.
    pub kernel_release: &'a [u8],
    /// Host name of the writing machine.
    pub hostname: &'a [u8],
    /// Version of the writing module.
    pub writer: &'a [u8],
}

impl<'a> Record<'a> for Header<'a> {
    const KIND: u16 = kind::HEADER;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u16(self.format_major)?;
        e.u16(self.format_minor)?;
        e.u16(self.arch)?;
        e.u16(self.flags)?;
        e.u32(self.page_size)?;
        e.u32(self.xstate_size)?;
        e.u64(self.xfeatures)?;
        e.u64(self.time_ns)?;
        e.i32(self.root_pid)?;
        e.u32(self.ntasks)?;
        e.str(self.kernel_release)?;
        e.str(self.hostname)?;
        e.str(self.writer)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let h = Self {
            format_major: d.u16()?,
            format_minor: d.u16()?,
            arch: d.u16()?,
            flags: d.u16()?,
            page_size: d.u32()?,
            xstate_size: d.u32()?,
            xfeatures: d.u64()?,
            time_ns: d.u64()?,
            root_pid: d.i32()?,
            ntasks: d.u32()?,
            kernel_release: d.str()?,
            hostname: d.str()?,
            writer: d.str()?,
        };
        if h.format_major != FORMAT_MAJOR {
            return Err(ImageError::UnsupportedFormat {
                major: h.format_major,
                minor: h.format_minor,
            });
        }
        if h.arch != ARCH_X86_64 {
            return Err(ImageError::ForeignArch(h.arch));
        }
        if h.page_size as usize != PAGE_SIZE {
            return Err(ImageError::BadPageSize(h.page_size));
        }
        check(
            h.ntasks >= 1 && h.ntasks <= 1 << 22,
            "header: bad task count",
        )?;
        check(
            h.xstate_size as usize <= MAX_XSTATE_LEN,
            "header: xstate too large",
        )?;
        Ok(h)
    }
}

/// Last record: the writer's [`StreamAccount`] of everything before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// What the writer counted.
    pub account: StreamAccount,
}

impl<'a> Record<'a> for End {
    const KIND: u16 = kind::END;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.account.records)?;
        e.u64(self.account.bytes)?;
        e.u64(self.account.chain)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        Ok(Self {
            account: StreamAccount {
                records: d.u64()?,
                bytes: d.u64()?,
                chain: d.u64()?,
            },
        })
    }
}

// ---------------------------------------------------------------------------
// Tasks.

/// [`Task::flags`]: the task is its thread group's leader.
pub const TASK_LEADER: u32 = 1 << 0;
/// [`Task::flags`]: the task is a zombie (exited, not yet reaped).
pub const TASK_ZOMBIE: u32 = 1 << 1;
/// [`Task::flags`]: the task was in a syscall that must be restarted.
pub const TASK_IN_SYSCALL: u32 = 1 << 2;

/// One task (a thread; the leader's record also stands for its process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task<'a> {
    /// Thread id.
    pub pid: i32,
    /// Thread-group id.
    pub tgid: i32,
    /// Parent's tgid (0 if the parent is outside the image's pid namespace).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// `TASK_*`.
    pub flags: u32,
    /// Signal sent to the parent at exit.
    pub exit_signal: i32,
    /// Exit code (zombies).
    pub exit_code: i32,
    /// `personality(2)` value.
    pub personality: u32,
    /// Object ids of what the task uses (0: none).
    pub mm: u32,
    /// Fd table object.
    pub files: u32,
    /// cwd/root/umask object.
    pub fs: u32,
    /// Signal-handler table object.
    pub sighand: u32,
    /// Process-wide signal state object.
    pub signal: u32,
    /// Credentials object.
    pub creds: u32,
    /// `set_child_tid`.
    pub set_child_tid: u64,
    /// `clear_child_tid`.
    pub clear_child_tid: u64,
    /// Robust futex list head.
    pub robust_list: u64,
    /// Its length.
    pub robust_list_len: u64,
    /// `comm`.
    pub comm: &'a [u8],
}

impl<'a> Record<'a> for Task<'a> {
    const KIND: u16 = kind::TASK;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        for v in [self.pid, self.tgid, self.ppid, self.pgid, self.sid] {
            e.i32(v)?;
        }
        e.u32(self.flags)?;
        e.i32(self.exit_signal)?;
        e.i32(self.exit_code)?;
        e.u32(self.personality)?;
        for v in [
            self.mm,
            self.files,
            self.fs,
            self.sighand,
            self.signal,
            self.creds,
        ] {
            e.u32(v)?;
        }
        for v in [
            self.set_child_tid,
            self.clear_child_tid,
            self.robust_list,
            self.robust_list_len,
        ] {
            e.u64(v)?;
        }
        e.str(self.comm)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let t = Self {
            pid: d.i32()?,
            tgid: d.i32()?,
            ppid: d.i32()?,
            pgid: d.i32()?,
            sid: d.i32()?,
            flags: d.u32()?,
            exit_signal: d.i32()?,
            exit_code: d.i32()?,
            personality: d.u32()?,
            mm: d.u32()?,
            files: d.u32()?,
            fs: d.u32()?,
            sighand: d.u32()?,
            signal: d.u32()?,
            creds: d.u32()?,
            set_child_tid: d.u64()?,
            clear_child_tid: d.u64()?,
            robust_list: d.u64()?,
            robust_list_len: d.u64()?,
            comm: d.str()?,
        };
        check(t.pid > 0 && t.tgid > 0, "task: bad pid")?;
        check(
            t.flags & !(TASK_LEADER | TASK_ZOMBIE | TASK_IN_SYSCALL) == 0,
            "task: unknown flags",
        )?;
        check(t.comm.len() < 16, "task: comm too long")?;
        // -1: a thread (no signal to anybody when it exits).
        check(
            (-1..=NSIG as i32).contains(&t.exit_signal),
            "task: bad exit signal",
        )?;
        Ok(t)
    }
}

/// Resource limits of a process (`RLIM_INFINITY` is `u64::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits {
    /// `(soft, hard)` for each `RLIMIT_*`, in the kernel's order.
    pub lim: [(u64, u64); NRLIMITS],
}

impl<'a> Record<'a> for Rlimits {
    const KIND: u16 = kind::RLIMITS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(NRLIMITS as u32)?;
        for (c, m) in self.lim {
            e.u64(c)?;
            e.u64(m)?;
        }
        Ok(())
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        check(d.u32()? as usize == NRLIMITS, "rlimits: bad count")?;
        let mut lim = [(0, 0); NRLIMITS];
        for l in lim.iter_mut() {
            *l = (d.u64()?, d.u64()?);
            check(l.0 <= l.1, "rlimits: soft limit above hard limit")?;
        }
        Ok(Self { lim })
    }
}

/// The controlling terminal of the process whose leader's task it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctty<'a> {
    /// The terminal's foreground process group (0: none).
    pub fg_pgid: i32,
    /// Whether the process leads the session the terminal belongs to.
    pub leader: u32,
    /// The terminal's path (`/dev/` and its kernel name, e.g. `/dev/pts/3`).
    pub path: &'a [u8],
}

impl<'a> Record<'a> for Ctty<'a> {
    const KIND: u16 = kind::CTTY;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.i32(self.fg_pgid)?;
        e.u32(self.leader)?;
        e.str(self.path)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let c = Self {
            fg_pgid: d.i32()?,
            leader: d.u32()?,
            path: d.str()?,
        };
        check(c.fg_pgid >= 0, "ctty: bad process group")?;
        check(c.leader <= 1, "ctty: bad leader flag")?;
        check(
            c.path.starts_with(b"/dev/") && !c.path.contains(&0),
            "ctty: bad path",
        )?;
        Ok(c)
    }
}

/// A task's restartable-sequences registration (`rseq(2)`), for the task it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rseq {
    /// Address of the registered `struct rseq` (0: none).
    pub ptr: u64,
    /// Its registered length.
    pub len: u32,
    /// The signature registered with it.
    pub sig: u32,
}

impl<'a> Record<'a> for Rseq {
    const KIND: u16 = kind::RSEQ;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.ptr)?;
        e.u32(self.len)?;
        e.u32(self.sig)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let r = Self {
            ptr: d.u64()?,
            len: d.u32()?,
            sig: d.u32()?,
        };
        check(
            r.ptr
                .checked_add(r.len as u64)
                .is_some_and(|e| e <= USER_ADDR_END),
            "rseq: area outside user space",
        )?;
        check(
            r.ptr == 0 || (32..=4096).contains(&r.len),
            "rseq: bad length",
        )?;
        Ok(r)
    }
}

// ---------------------------------------------------------------------------
// CPU.

/// Number of words in [`Regs`].
pub const NREGS: usize = 27;
/// Names of the [`Regs`] words, in order (x86_64 `struct user_regs_struct`).
pub const REG_NAMES: [&str; NREGS] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];
/// Index of `rip` in [`Regs::r`].
pub const REG_RIP: usize = 16;
/// Index of `rsp` in [`Regs::r`].
pub const REG_RSP: usize = 19;
/// Index of `rax` in [`Regs::r`].
pub const REG_RAX: usize = 10;
/// Index of `orig_rax` in [`Regs::r`].
pub const REG_ORIG_RAX: usize = 15;
/// Index of `fs_base` in [`Regs::r`].
pub const REG_FS_BASE: usize = 21;
/// Index of `gs_base` in [`Regs::r`].
pub const REG_GS_BASE: usize = 22;

/// General-purpose registers of a task at its user-mode boundary, as the
/// x86_64 `struct user_regs_struct` orders them. A syscall the task was in
/// is already rewound for restart (see the format documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs {
    /// The words, named by [`REG_NAMES`].
    pub r: [u64; NREGS],
}

impl<'a> Record<'a> for Regs {
    const KIND: u16 = kind::REGS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        for v in self.r {
            e.u64(v)?;
        }
        Ok(())
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let mut r = [0; NREGS];
        for v in r.iter_mut() {
            *v = d.u64()?;
        }
        check(r[REG_RIP] < USER_ADDR_END, "regs: rip outside user space")?;
        check(
            r[REG_FS_BASE] < USER_ADDR_END && r[REG_GS_BASE] < USER_ADDR_END,
            "regs: segment base outside user space",
        )?;
        Ok(Self { r })
    }
}

/// Extended FPU state: the standard (non-compacted) XSAVE layout that
/// `PTRACE_GETREGSET(NT_X86_XSTATE)` returns, legacy FXSAVE area first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Xstate<'a> {
    /// XSTATE_BV of the saved area.
    pub xstate_bv: u64,
    /// The XSAVE area.
    pub area: &'a [u8],
}

/// Offset of XSTATE_BV in the XSAVE header.
pub const XSAVE_HDR_OFFSET: usize = 512;
/// Size of the legacy area plus the XSAVE header.
pub const XSAVE_MIN_LEN: usize = 576;

impl<'a> Record<'a> for Xstate<'a> {
    const KIND: u16 = kind::XSTATE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.xstate_bv)?;
        e.u32(self.area.len() as u32)?;
        e.bytes(self.area)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let xstate_bv = d.u64()?;
        let n = d.u32()? as usize;
        check(
            (XSAVE_MIN_LEN..=MAX_XSTATE_LEN).contains(&n),
            "xstate: bad size",
        )?;
        let area = d.bytes(n)?;
        check(
            le64(&area[XSAVE_HDR_OFFSET..]) == xstate_bv,
            "xstate: XSTATE_BV disagrees with the area",
        )?;
        Ok(Self { xstate_bv, area })
    }
}

// ---------------------------------------------------------------------------
// Memory.

/// An address space and its layout fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmRec<'a> {
    /// Object id.
    pub id: u32,
    /// Number of [`Vma`] records that follow.
    pub nr_vmas: u32,
    /// `start_code`, `end_code`, `start_data`, `end_data`, `start_brk`,
    /// `brk`, `start_stack`, `arg_start`, `arg_end`, `env_start`, `env_end`.
    pub layout: [u64; 11],
    /// `saved_auxv`: little-endian words, pairs of type and value (at most
    /// [`MAX_AUXV_WORDS`]).
    pub auxv: &'a [u8],
    /// Path of the executable (`/proc/PID/exe`), empty if none.
    pub exe: &'a [u8],
}

/// Names of [`MmRec::layout`] words.
pub const MM_LAYOUT_NAMES: [&str; 11] = [
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
];

impl<'a> MmRec<'a> {
    /// Number of auxv words.
    pub fn auxv_len(&self) -> usize {
        self.auxv.len() / 8
    }
    /// Auxv word `i`.
    pub fn auxv_word(&self, i: usize) -> u64 {
        le64(&self.auxv[i * 8..])
    }
}

impl<'a> Record<'a> for MmRec<'a> {
    const KIND: u16 = kind::MM;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.nr_vmas)?;
        for v in self.layout {
            e.u64(v)?;
        }
        if self.auxv.len() % 8 != 0 || self.auxv.len() / 8 > MAX_AUXV_WORDS {
            return Err(ImageError::Overflow);
        }
        e.u32((self.auxv.len() / 8) as u32)?;
        e.bytes(self.auxv)?;
        e.str(self.exe)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let nr_vmas = d.u32()?;
        let mut layout = [0; 11];
        for v in layout.iter_mut() {
            *v = d.u64()?;
            check(*v <= USER_ADDR_END, "mm: layout address outside user space")?;
        }
        let auxv_len = d.u32()? as usize;
        check(auxv_len <= MAX_AUXV_WORDS, "mm: auxv too long")?;
        let auxv = d.bytes(auxv_len * 8)?;
        let exe = d.str()?;
        check(id != 0, "mm: zero id")?;
        check(nr_vmas <= 1 << 20, "mm: too many vmas")?;
        check(layout[4] <= layout[5], "mm: brk below start_brk")?;
        Ok(Self {
            id,
            nr_vmas,
            layout,
            auxv,
            exe,
        })
    }
}

/// [`Vma::prot`] bits (as `PROT_*`).
pub mod prot {
    /// Readable.
    pub const READ: u32 = 1;
    /// Writable.
    pub const WRITE: u32 = 2;
    /// Executable.
    pub const EXEC: u32 = 4;
}

/// [`Vma::flags`] bits: semantic mapping properties (not `VM_*` values).
pub mod vmflag {
    /// `MAP_SHARED`.
    pub const SHARED: u32 = 1 << 0;
    /// Grows down (a stack).
    pub const GROWSDOWN: u32 = 1 << 1;
    /// `mlock`ed.
    pub const LOCKED: u32 = 1 << 2;
    /// `MADV_DONTFORK`.
    pub const DONTFORK: u32 = 1 << 3;
    /// `MADV_DONTDUMP`.
    pub const DONTDUMP: u32 = 1 << 4;
    /// May become readable (`VM_MAYREAD`).
    pub const MAYREAD: u32 = 1 << 5;
    /// May become writable (`VM_MAYWRITE`).
    pub const MAYWRITE: u32 = 1 << 6;
    /// May become executable (`VM_MAYEXEC`).
    pub const MAYEXEC: u32 = 1 << 7;
    /// `MADV_HUGEPAGE`.
    pub const HUGEPAGE: u32 = 1 << 8;
    /// `MADV_NOHUGEPAGE`.
    pub const NOHUGEPAGE: u32 = 1 << 9;
    /// All defined bits.
    pub const ALL: u32 = (1 << 10) - 1;
}

/// What backs a [`Vma`].
pub mod backing {
    /// Private anonymous memory.
    pub const ANON: u8 = 0;
    /// Private mapping of a file (contents from the file, modified pages in the image).
    pub const FILE_PRIVATE: u8 = 1;
    /// Shared mapping of a file (contents stay in the file).
    pub const FILE_SHARED: u8 = 2;
    /// Shared anonymous memory (`MAP_SHARED|MAP_ANONYMOUS`, shmem); contents in the image.
    pub const ANON_SHARED: u8 = 3;
    /// The heap (`[heap]`, between `start_brk` and `brk`).
    pub const HEAP: u8 = 4;
    /// The main stack (`[stack]`).
    pub const STACK: u8 = 5;
    /// The vDSO: recreated by the restoring kernel, never copied.
    pub const VDSO: u8 = 6;
    /// The vDSO data pages (`[vvar]`, `[vvar_vclock]`).
    pub const VVAR: u8 = 7;
    /// The legacy `[vsyscall]` page.
    pub const VSYSCALL: u8 = 8;
    /// Largest defined value.
    pub const MAX: u8 = 8;

    /// Name of a backing, for diagnostics.
    pub fn name(b: u8) -> &'static str {
        match b {
            ANON => "anon",
            FILE_PRIVATE => "file-private",
            FILE_SHARED => "file-shared",
            ANON_SHARED => "anon-shared",
            HEAP => "heap",
            STACK => "stack",
            VDSO => "vdso",
            VVAR => "vvar",
            VSYSCALL => "vsyscall",
            _ => "unknown",
        }
    }
}

/// One mapping of the preceding [`MmRec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset in pages (file-backed) or `vm_pgoff`.
    pub pgoff: u64,
    /// [`prot`] bits.
    pub prot: u32,
    /// [`vmflag`] bits.
    pub flags: u32,
    /// [`backing`].
    pub backing: u8,
    /// [`FileRec`] id of the mapped file (0: none).
    pub file: u32,
    /// Name (`[heap]`, `[stack]`, `[vdso]`, `[vvar]`...), empty for other mappings.
    pub name: &'a [u8],
}

impl<'a> Record<'a> for Vma<'a> {
    const KIND: u16 = kind::VMA;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.start)?;
        e.u64(self.end)?;
        e.u64(self.pgoff)?;
        e.u32(self.prot)?;
        e.u32(self.flags)?;
        e.u8(self.backing)?;
        e.u32(self.file)?;
        e.str(self.name)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let v = Self {
            start: d.u64()?,
            end: d.u64()?,
            pgoff: d.u64()?,
            prot: d.u32()?,
            flags: d.u32()?,
            backing: d.u8()?,
            file: d.u32()?,
            name: d.str()?,
        };
        let page = PAGE_SIZE as u64 - 1;
        check(v.start < v.end, "vma: empty or inverted range")?;
        check(v.start & page == 0 && v.end & page == 0, "vma: unaligned")?;
        if v.backing == backing::VSYSCALL {
            check(
                v.start == VSYSCALL_ADDR && v.end == VSYSCALL_ADDR + PAGE_SIZE as u64,
                "vma: bad vsyscall",
            )?;
        } else {
            check(v.end <= USER_ADDR_END, "vma: outside user space")?;
        }
        check(v.prot & !7 == 0, "vma: bad protection")?;
        check(v.flags & !vmflag::ALL == 0, "vma: unknown flags")?;
        check(v.backing <= backing::MAX, "vma: unknown backing")?;
        let file_backed = matches!(v.backing, backing::FILE_PRIVATE | backing::FILE_SHARED);
        // Shared anonymous memory refers to its object (since 1.1; 0 in 1.0 images).
        check(
            file_backed == (v.file != 0) || v.backing == backing::ANON_SHARED,
            "vma: file reference mismatch",
        )?;
        Ok(v)
    }
}

/// Contents of pages of an address space: page addresses, then the pages.
/// Only pages that hold data are written: never-touched and all-zero pages
/// are left out, and so are clean pages of file mappings. Page records come
/// after every other record of the image (so that a restarter has validated
/// all the rest before it changes anything), grouped by address space in
/// increasing id order, ascending addresses within one address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages<'a> {
    /// [`MmRec`] id of the address space.
    pub mm: u32,
    /// `count` little-endian page addresses, ascending.
    pub addrs: &'a [u8],
    /// `count` pages of data.
    pub data: &'a [u8],
}

impl<'a> Pages<'a> {
    /// Number of pages.
    pub fn count(&self) -> usize {
        self.addrs.len() / 8
    }
    /// Address of page `i`.
    pub fn addr(&self, i: usize) -> u64 {
        le64(&self.addrs[i * 8..])
    }
    /// Contents of page `i`.
    pub fn page(&self, i: usize) -> &'a [u8] {
        &self.data[i * PAGE_SIZE..(i + 1) * PAGE_SIZE]
    }
    /// Length of the fixed part before the page data, for `count` pages.
    pub fn prefix_len(count: usize) -> usize {
        8 + 8 * count
    }

    /// The page count of a record from its first 8 bytes (`mm`, `count`), checked.
    pub fn count_from_head(head: &[u8]) -> Result<usize> {
        Self::head(&mut Dec::new(head)).map(|(_, n)| n)
    }

    /// Decodes and checks the part of a page record before its data: `prefix` holds the
    /// first [`Pages::prefix_len`] bytes of a payload of `len` bytes. For a reader that
    /// puts the data somewhere else than next to the prefix: the record returned has no
    /// `data`, and verifying the record's check over prefix and data is up to the reader.
    pub fn decode_prefix(prefix: &'a [u8], len: u32) -> Result<Self> {
        let mut d = Dec::new(prefix);
        let (mm, n) = Self::head(&mut d)?;
        let addrs = d.bytes(n * 8)?;
        check(
            prefix.len() == Self::prefix_len(n),
            "pages: bad prefix length",
        )?;
        check(
            len as usize == Self::prefix_len(n) + n * PAGE_SIZE,
            "pages: length differs from the page count",
        )?;
        Self::checked(mm, addrs, &[])
    }

    fn head(d: &mut Dec<'_>) -> Result<(u32, usize)> {
        let mm = d.u32()?;
        check(mm != 0, "pages: zero mm id")?;
        let n = d.u32()?;
        check(n >= 1 && n <= MAX_PAGES_PER_RECORD, "pages: bad page count")?;
        Ok((mm, n as usize))
    }

    fn checked(mm: u32, addrs: &'a [u8], data: &'a [u8]) -> Result<Self> {
        let p = Self { mm, addrs, data };
        let mut prev = None;
        for i in 0..p.count() {
            let a = p.addr(i);
            check(a & (PAGE_SIZE as u64 - 1) == 0, "pages: unaligned address")?;
            check(a < USER_ADDR_END, "pages: address outside user space")?;
            check(prev.is_none_or(|q| q < a), "pages: addresses not ascending")?;
            prev = Some(a);
        }
        Ok(p)
    }
}

impl<'a> Record<'a> for Pages<'a> {
    const KIND: u16 = kind::PAGES;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.mm)?;
        e.u32(self.count() as u32)?;
        e.bytes(self.addrs)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let (mm, n) = Self::head(d)?;
        let addrs = d.bytes(n * 8)?;
        let data = d.bytes(n * PAGE_SIZE)?;
        Self::checked(mm, addrs, data)
    }
}

// ---------------------------------------------------------------------------
// Files.

/// What kind of thing a [`FileRec`] is.
pub mod filekind {
    /// A regular file.
    pub const REG: u8 = 1;
    /// A directory.
    pub const DIR: u8 = 2;
    /// A character device (only well-known harmless ones are accepted).
    pub const CHR: u8 = 3;
    /// A named pipe.
    pub const FIFO: u8 = 4;
    /// One end of an anonymous pipe.
    pub const PIPE: u8 = 5;
    /// A terminal (the process's controlling terminal or another tty); a
    /// restarter may substitute its own terminal for it.
    pub const TTY: u8 = 6;
    /// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, inherited across
    /// fork): only ever referenced by `vma` records; `size` is its size in
    /// bytes, `path` is empty. Since format 1.1.
    pub const SHMEM: u8 = 7;
    /// A memfd (`memfd_create`): `path` is `/memfd:NAME (deleted)` as
    /// `d_path` shows it, `size` its size, `rdev` its seals (`F_SEAL_*`); its
    /// contents are in [`super::Pages`] records naming the file's id, page
    /// "addresses" being offsets in the file. Since format 1.1.
    pub const MEMFD: u8 = 8;
    /// A SysV shared memory segment (`shmget`), behind shared mappings (its
    /// attachments): `path` is `/SYSV<key in 8 hex digits> (deleted)` as
    /// `d_path` shows it, `rdev` its shmid, `size` its size. Only `vma`
    /// records refer to it. Since format 1.1.
    pub const SYSVSHM: u8 = 9;
    /// Largest defined value.
    pub const MAX: u8 = 9;

    /// Name of a kind, for diagnostics.
    pub fn name(k: u8) -> &'static str {
        match k {
            REG => "regular",
            DIR => "directory",
            CHR => "chardev",
            FIFO => "fifo",
            PIPE => "pipe",
            TTY => "tty",
            SHMEM => "shmem",
            MEMFD => "memfd",
            SYSVSHM => "sysv-shm",
            _ => "unknown",
        }
    }
}

/// An open file description (shared by every fd and mapping that uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRec<'a> {
    /// Object id.
    pub id: u32,
    /// [`filekind`].
    pub kind: u8,
    /// Open flags (`O_*`, as `fcntl(F_GETFL)` shows them).
    pub flags: u32,
    /// File mode (`st_mode`).
    pub mode: u32,
    /// File offset.
    pub pos: i64,
    /// Size at checkpoint time (regular files).
    pub size: u64,
    /// Modification time at checkpoint time, ns since the epoch.
    pub mtime_ns: i64,
    /// Device number (`st_rdev`) for character devices, `(major << 20) | minor`.
    pub rdev: u32,
    /// [`PipeRec`] id for pipes and fifos (0: none).
    pub pipe: u32,
    /// Path, as `/proc/PID/fd/N` would show it (`pipe:[INODE]` for anonymous pipes).
    pub path: &'a [u8],
}

impl<'a> Record<'a> for FileRec<'a> {
    const KIND: u16 = kind::FILE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u8(self.kind)?;
        e.u32(self.flags)?;
        e.u32(self.mode)?;
        e.i64(self.pos)?;
        e.u64(self.size)?;
        e.i64(self.mtime_ns)?;
        e.u32(self.rdev)?;
        e.u32(self.pipe)?;
        e.str(self.path)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let f = Self {
            id: d.u32()?,
            kind: d.u8()?,
            flags: d.u32()?,
            mode: d.u32()?,
            pos: d.i64()?,
            size: d.u64()?,
            mtime_ns: d.i64()?,
            rdev: d.u32()?,
            pipe: d.u32()?,
            path: d.str()?,
        };
        check(f.id != 0, "file: zero id")?;
        check(f.kind >= 1 && f.kind <= filekind::MAX, "file: unknown kind")?;
        check(f.pos >= 0, "file: negative offset")?;
        let piped = matches!(f.kind, filekind::PIPE | filekind::FIFO);
        check(piped == (f.pipe != 0), "file: pipe reference mismatch")?;
        check(
            matches!(f.kind, filekind::PIPE | filekind::SHMEM) || f.path.first() == Some(&b'/'),
            "file: path not absolute",
        )?;
        check(
            f.kind != filekind::SHMEM || (f.size > 0 && f.size % PAGE_SIZE as u64 == 0),
            "file: bad shared memory size",
        )?;
        check(
            f.kind != filekind::SYSVSHM
                || (f.path.starts_with(b"/SYSV")
                    && f.path.len() >= 13
                    && f.size > 0
                    && f.size <= USER_ADDR_END
                    && f.rdev <= i32::MAX as u32),
            "file: bad SysV shared memory",
        )?;
        check(
            f.kind != filekind::MEMFD
                || (f.path.starts_with(b"/memfd:") && f.size <= USER_ADDR_END),
            "file: bad memfd",
        )?;
        Ok(f)
    }
}

/// A pipe (anonymous or a fifo's) and the bytes buffered in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeRec<'a> {
    /// Object id.
    pub id: u32,
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    pub capacity: u32,
    /// Buffered, unread bytes.
    pub data: &'a [u8],
}

impl<'a> Record<'a> for PipeRec<'a> {
    const KIND: u16 = kind::PIPE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.capacity)?;
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let capacity = d.u32()?;
        let n = d.u32()? as usize;
        let data = d.bytes(n)?;
        check(id != 0, "pipe: zero id")?;
        check(
            data.len() <= capacity as usize,
            "pipe: more data than capacity",
        )?;
        Ok(Self { id, capacity, data })
    }
}

/// A file descriptor table; its [`Fd`] records follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilesRec {
    /// Object id.
    pub id: u32,
    /// Number of [`Fd`] records that follow.
    pub count: u32,
}

/// Largest fd number accepted (the kernel's `sysctl_nr_open` ceiling).
pub const MAX_FD: u32 = 1 << 20;

impl<'a> Record<'a> for FilesRec {
    const KIND: u16 = kind::FILES;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.count)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let f = Self {
            id: d.u32()?,
            count: d.u32()?,
        };
        check(f.id != 0, "files: zero id")?;
        check(f.count <= MAX_FD, "files: too many fds")?;
        Ok(f)
    }
}

/// [`Fd::flags`]: close-on-exec.
pub const FD_CLOEXEC: u32 = 1;

/// One descriptor of the preceding [`FilesRec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fd {
    /// The descriptor number.
    pub fd: u32,
    /// [`FileRec`] id.
    pub file: u32,
    /// [`FD_CLOEXEC`].
    pub flags: u32,
}

impl<'a> Record<'a> for Fd {
    const KIND: u16 = kind::FD;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.fd)?;
        e.u32(self.file)?;
        e.u32(self.flags)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let f = Self {
            fd: d.u32()?,
            file: d.u32()?,
            flags: d.u32()?,
        };
        check(f.fd < MAX_FD, "fd: number too large")?;
        check(f.file != 0, "fd: zero file id")?;
        check(f.flags & !FD_CLOEXEC == 0, "fd: unknown flags")?;
        Ok(f)
    }
}

/// Working directory, root and umask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsRec<'a> {
    /// Object id.
    pub id: u32,
    /// `umask`.
    pub umask: u32,
    /// Working directory.
    pub cwd: &'a [u8],
    /// Root directory.
    pub root: &'a [u8],
}

impl<'a> Record<'a> for FsRec<'a> {
    const KIND: u16 = kind::FS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.umask)?;
        e.str(self.cwd)?;
        e.str(self.root)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let f = Self {
            id: d.u32()?,
            umask: d.u32()?,
            cwd: d.str()?,
            root: d.str()?,
        };
        check(f.id != 0, "fs: zero id")?;
        check(f.umask & !0o777 == 0, "fs: bad umask")?;
        check(
            f.cwd.first() == Some(&b'/') && f.root.first() == Some(&b'/'),
            "fs: path not absolute",
        )?;
        Ok(f)
    }
}

// ---------------------------------------------------------------------------
// Signals.

/// One signal's disposition (x86_64 `struct sigaction` as the kernel keeps it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// Handler address, or `SIG_DFL` (0) / `SIG_IGN` (1).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// Signals blocked while the handler runs (bit `n-1` is signal `n`).
    pub mask: u64,
}

/// Size of one [`SigAction`] on the wire.
pub const SIGACTION_LEN: usize = 32;

impl SigAction {
    /// Wire form.
    pub fn to_bytes(&self) -> [u8; SIGACTION_LEN] {
        let mut b = [0u8; SIGACTION_LEN];
        b[0..8].copy_from_slice(&self.handler.to_le_bytes());
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.restorer.to_le_bytes());
        b[24..32].copy_from_slice(&self.mask.to_le_bytes());
        b
    }
    fn from_bytes(b: &[u8]) -> Self {
        Self {
            handler: le64(&b[0..]),
            flags: le64(&b[8..]),
            restorer: le64(&b[16..]),
            mask: le64(&b[24..]),
        }
    }
}

/// A signal-handler table. The dispositions stay in wire form (64 ×
/// [`SIGACTION_LEN`] bytes, see [`SigAction::to_bytes`]) so that the record is
/// small enough for a kernel stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighand<'a> {
    /// Object id.
    pub id: u32,
    /// Dispositions of signals 1..=64, wire form.
    pub raw: &'a [u8],
}

impl<'a> Sighand<'a> {
    /// Disposition of signal `i + 1`.
    pub fn action(&self, i: usize) -> SigAction {
        SigAction::from_bytes(&self.raw[i * SIGACTION_LEN..])
    }
    /// All 64 dispositions, signal 1 first.
    pub fn actions(&self) -> impl Iterator<Item = SigAction> + 'a {
        self.raw
            .chunks_exact(SIGACTION_LEN)
            .map(SigAction::from_bytes)
    }
}

impl<'a> Record<'a> for Sighand<'a> {
    const KIND: u16 = kind::SIGHAND;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        if self.raw.len() != NSIG * SIGACTION_LEN {
            return Err(ImageError::Overflow);
        }
        e.u32(self.id)?;
        e.u32(NSIG as u32)?;
        e.bytes(self.raw)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        check(id != 0, "sighand: zero id")?;
        check(d.u32()? as usize == NSIG, "sighand: bad count")?;
        let sh = Self {
            id,
            raw: d.bytes(NSIG * SIGACTION_LEN)?,
        };
        for (i, a) in sh.actions().enumerate() {
            check(
                a.handler < USER_ADDR_END,
                "sighand: handler outside user space",
            )?;
            check(
                a.restorer < USER_ADDR_END,
                "sighand: restorer outside user space",
            )?;
            // SIGKILL and SIGSTOP cannot be caught or ignored.
            check(
                !(i == 8 || i == 18) || a.handler == 0,
                "sighand: SIGKILL/SIGSTOP not default",
            )?;
        }
        Ok(sh)
    }
}

/// One interval timer (`setitimer`), in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Itimer {
    /// Time to the next expiry (0: disarmed).
    pub value_ns: u64,
    /// Reload interval.
    pub interval_ns: u64,
}

/// A queued signal: its number and the kernel_siginfo prefix of `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedSignal<'a> {
    /// The raw siginfo (`si_signo` in its first 4 bytes).
    pub info: &'a [u8],
}

impl<'a> QueuedSignal<'a> {
    /// The signal number.
    pub fn signo(&self) -> i32 {
        i32::from_le_bytes([self.info[0], self.info[1], self.info[2], self.info[3]])
    }
    /// `si_code`.
    pub fn code(&self) -> i32 {
        i32::from_le_bytes([self.info[8], self.info[9], self.info[10], self.info[11]])
    }
}

/// A list of queued signals inside a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigQueue<'a> {
    /// Pending set (bit `n-1` is signal `n`).
    pub pending: u64,
    raw: &'a [u8],
}

/// Most queued signals kept per queue.
pub const MAX_QUEUED: usize = 4096;

impl<'a> SigQueue<'a> {
    /// A queue over `count` back-to-back siginfos.
    pub fn new(pending: u64, raw: &'a [u8]) -> Self {
        Self { pending, raw }
    }
    /// Number of queued signals.
    pub fn len(&self) -> usize {
        self.raw.len() / SIGINFO_LEN
    }
    /// True if none are queued.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// Queued signal `i`.
    pub fn get(&self, i: usize) -> QueuedSignal<'a> {
        QueuedSignal {
            info: &self.raw[i * SIGINFO_LEN..(i + 1) * SIGINFO_LEN],
        }
    }
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.pending)?;
        e.u32(self.len() as u32)?;
        e.bytes(self.raw)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let pending = d.u64()?;
        let n = d.u32()? as usize;
        check(n <= MAX_QUEUED, "signals: too many queued")?;
        let raw = d.bytes(n * SIGINFO_LEN)?;
        let q = Self { pending, raw };
        for i in 0..n {
            let s = q.get(i).signo();
            check(s >= 1 && s <= NSIG as i32, "signals: bad signal number")?;
            check(
                pending & (1u64 << (s - 1)) != 0,
                "signals: queued signal not pending",
            )?;
        }
        Ok(q)
    }
}

/// Process-wide signal state and timers (`signal_struct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalRec<'a> {
    /// Object id.
    pub id: u32,
    /// `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`.
    pub itimers: [Itimer; 3],
    /// Signals pending for the whole process.
    pub shared: SigQueue<'a>,
}

impl<'a> Record<'a> for SignalRec<'a> {
    const KIND: u16 = kind::SIGNAL;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        for t in &self.itimers {
            e.u64(t.value_ns)?;
            e.u64(t.interval_ns)?;
        }
        self.shared.encode(e)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        check(id != 0, "signal: zero id")?;
        let mut itimers = [Itimer::default(); 3];
        for t in itimers.iter_mut() {
            t.value_ns = d.u64()?;
            t.interval_ns = d.u64()?;
        }
        Ok(Self {
            id,
            itimers,
            shared: SigQueue::decode(d)?,
        })
    }
}

/// Per-thread signal state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadSignals<'a> {
    /// Blocked set.
    pub blocked: u64,
    /// `sigaltstack`: base.
    pub altstack_sp: u64,
    /// `sigaltstack`: size.
    pub altstack_size: u64,
    /// `sigaltstack`: flags (`SS_AUTODISARM`).
    pub altstack_flags: u32,
    /// Signals pending for this thread only.
    pub pending: SigQueue<'a>,
}

impl<'a> Record<'a> for ThreadSignals<'a> {
    const KIND: u16 = kind::THREAD_SIGNALS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.blocked)?;
        e.u64(self.altstack_sp)?;
        e.u64(self.altstack_size)?;
        e.u32(self.altstack_flags)?;
        self.pending.encode(e)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let t = Self {
            blocked: d.u64()?,
            altstack_sp: d.u64()?,
            altstack_size: d.u64()?,
            altstack_flags: d.u32()?,
            pending: SigQueue::decode(d)?,
        };
        check(
            t.altstack_sp
                .checked_add(t.altstack_size)
                .is_some_and(|e| e <= USER_ADDR_END),
            "thread-signals: altstack outside user space",
        )?;
        Ok(t)
    }
}

// ---------------------------------------------------------------------------
// Credentials.

/// Credentials as the checkpointer's user namespace sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds<'a> {
    /// Object id.
    pub id: u32,
    /// uid, euid, suid, fsuid.
    pub uids: [u32; 4],
    /// gid, egid, sgid, fsgid.
    pub gids: [u32; 4],
    /// Capability sets: inheritable, permitted, effective, bounding, ambient.
    pub caps: [u64; 5],
    /// `securebits`.
    pub securebits: u32,
    /// `no_new_privs` (1) or not (0).
    pub no_new_privs: u32,
    /// Supplementary groups, `u32` each.
    pub groups: &'a [u8],
}

impl<'a> Creds<'a> {
    /// Number of supplementary groups.
    pub fn ngroups(&self) -> usize {
        self.groups.len() / 4
    }
    /// Supplementary group `i`.
    pub fn group(&self, i: usize) -> u32 {
        let g = &self.groups[i * 4..];
        u32::from_le_bytes([g[0], g[1], g[2], g[3]])
    }
}

impl<'a> Record<'a> for Creds<'a> {
    const KIND: u16 = kind::CREDS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        for v in self.uids.iter().chain(self.gids.iter()) {
            e.u32(*v)?;
        }
        for v in self.caps {
            e.u64(v)?;
        }
        e.u32(self.securebits)?;
        e.u32(self.no_new_privs)?;
        e.u32(self.ngroups() as u32)?;
        e.bytes(self.groups)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let mut uids = [0; 4];
        let mut gids = [0; 4];
        for v in uids.iter_mut().chain(gids.iter_mut()) {
            *v = d.u32()?;
        }
        let mut caps = [0; 5];
        for v in caps.iter_mut() {
            *v = d.u64()?;
        }
        let securebits = d.u32()?;
        let no_new_privs = d.u32()?;
        let n = d.u32()? as usize;
        check(n <= MAX_GROUPS, "creds: too many groups")?;
        let groups = d.bytes(n * 4)?;
        check(id != 0, "creds: zero id")?;
        check(no_new_privs <= 1, "creds: bad no_new_privs")?;
        Ok(Self {
            id,
            uids,
            gids,
            caps,
            securebits,
            no_new_privs,
            groups,
        })
    }
}

// ---------------------------------------------------------------------------
// Whole records and stream order.

/// Any decoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyRecord<'a> {
    /// [`Header`].
    Header(Header<'a>),
    /// [`End`].
    End(End),
    /// [`Task`].
    Task(Task<'a>),
    /// [`Rlimits`].
    Rlimits(Rlimits),
    /// [`Regs`].
    Regs(Regs),
    /// [`Xstate`].
    Xstate(Xstate<'a>),
    /// [`FileRec`].
    File(FileRec<'a>),
    /// [`PipeRec`].
    Pipe(PipeRec<'a>),
    /// [`FilesRec`].
    Files(FilesRec),
    /// [`Fd`].
    Fd(Fd),
    /// [`FsRec`].
    Fs(FsRec<'a>),
    /// [`MmRec`].
    Mm(MmRec<'a>),
    /// [`Vma`].
    Vma(Vma<'a>),
    /// [`Pages`].
    Pages(Pages<'a>),
    /// [`Sighand`].
    Sighand(Sighand<'a>),
    /// [`SignalRec`].
    Signal(SignalRec<'a>),
    /// [`ThreadSignals`].
    ThreadSignals(ThreadSignals<'a>),
    /// [`Creds`].
    Creds(Creds<'a>),
    /// [`Rseq`].
    Rseq(Rseq),
    /// [`Ctty`].
    Ctty(Ctty<'a>),
}

impl<'a> AnyRecord<'a> {
    /// Decodes the payload of a record whose header [`RecordHeader::parse`]
    /// accepted and whose check [`RecordHeader::verify`] confirmed.
    pub fn decode(h: &RecordHeader, p: &'a [u8]) -> Result<Self> {
        Ok(match h.kind {
            kind::HEADER => Self::Header(Header::from_payload(p)?),
            kind::END => Self::End(End::from_payload(p)?),
            kind::TASK => Self::Task(Task::from_payload(p)?),
            kind::RLIMITS => Self::Rlimits(Rlimits::from_payload(p)?),
            kind::REGS => Self::Regs(Regs::from_payload(p)?),
            kind::XSTATE => Self::Xstate(Xstate::from_payload(p)?),
            kind::FILE => Self::File(FileRec::from_payload(p)?),
            kind::PIPE => Self::Pipe(PipeRec::from_payload(p)?),
            kind::FILES => Self::Files(FilesRec::from_payload(p)?),
            kind::FD => Self::Fd(Fd::from_payload(p)?),
            kind::FS => Self::Fs(FsRec::from_payload(p)?),
            kind::MM => Self::Mm(MmRec::from_payload(p)?),
            kind::VMA => Self::Vma(Vma::from_payload(p)?),
            kind::PAGES => Self::Pages(Pages::from_payload(p)?),
            kind::SIGHAND => Self::Sighand(Sighand::from_payload(p)?),
            kind::SIGNAL => Self::Signal(SignalRec::from_payload(p)?),
            kind::THREAD_SIGNALS => Self::ThreadSignals(ThreadSignals::from_payload(p)?),
            kind::CREDS => Self::Creds(Creds::from_payload(p)?),
            kind::RSEQ => Self::Rseq(Rseq::from_payload(p)?),
            kind::CTTY => Self::Ctty(Ctty::from_payload(p)?),
            k => return Err(ImageError::UnknownKind(k)),
        })
    }
}

/// Checks the order of records in a stream, for readers of any kind: a
/// [`Header`] first, an [`End`] last and nothing after it, [`Vma`]/[`Pages`]
/// only inside an address space, [`Fd`] only inside a fd table, per-task
/// records only after a [`Task`], VMAs ascending and non-overlapping, every
/// referenced object id defined before use.
#[derive(Debug, Default)]
pub struct OrderChecker {
    started: bool,
    ended: bool,
    in_mm: bool,
    vmas_left: u32,
    last_vma_end: u64,
    fds_left: u32,
    last_fd: Option<u32>,
    in_task: bool,
    pages_mm: u32,
    last_page: Option<u64>,
    mms: u32,
    tasks: u32,
    ntasks: u32,
    /// Ids of defined objects, kept small: the highest defined id; ids are
    /// assigned in increasing order by writers.
    max_id: u32,
    account: StreamAccount,
}

impl OrderChecker {
    /// A checker for a new stream.
    pub fn new() -> Self {
        Self {
            account: StreamAccount::new(),
            ..Default::default()
        }
    }

    fn define(&mut self, id: u32) -> Result<()> {
        check(id > self.max_id, "object ids not increasing")?;
        self.max_id = id;
        Ok(())
    }

    fn uses(&self, id: u32) -> Result<()> {
        check(id <= self.max_id, "reference to an undefined object")
    }

    /// Feeds one verified, decoded record.
    pub fn feed(&mut self, h: &RecordHeader, r: &AnyRecord<'_>) -> Result<()> {
        use AnyRecord as R;
        let bad = |m| Err(ImageError::BadOrder(m));
        if self.ended {
            return bad("record after the end record");
        }
        if !self.started {
            if !matches!(r, R::Header(_)) {
                return bad("stream does not start with a header");
            }
            self.started = true;
        }
        // Close an address space whose announced mappings are done.
        if self.in_mm && self.vmas_left == 0 {
            self.in_mm = false;
        }
        if self.vmas_left > 0 && !matches!(r, R::Vma(_)) {
            return bad("fewer vma records than the mm announced");
        }
        if self.fds_left > 0 && !matches!(r, R::Fd(_)) {
            return bad("fewer fd records than the fd table announced");
        }
        if self.pages_mm != 0 && !matches!(r, R::Pages(_) | R::End(_)) {
            return bad("record after the page records");
        }
        if !matches!(
            r,
            R::Task(_)
                | R::Regs(_)
                | R::Xstate(_)
                | R::ThreadSignals(_)
                | R::Rlimits(_)
                | R::Rseq(_)
                | R::Ctty(_)
        ) {
            self.in_task = false;
        }
        match r {
            R::Header(hd) => {
                if self.account.records != 0 || self.ntasks != 0 {
                    return bad("second header");
                }
                self.ntasks = hd.ntasks;
            }
            R::End(e) => {
                if self.tasks != self.ntasks {
                    return bad("task count differs from the header");
                }
                if e.account != self.account {
                    return Err(ImageError::TrailerMismatch);
                }
                self.ended = true;
                return Ok(());
            }
            R::Mm(m) => {
                self.define(m.id)?;
                self.mms += 1;
                self.in_mm = true;
                self.vmas_left = m.nr_vmas;
                self.last_vma_end = 0;
            }
            R::Vma(v) => {
                if !self.in_mm || self.vmas_left == 0 {
                    return bad("vma outside an mm");
                }
                check(
                    v.start >= self.last_vma_end,
                    "vmas overlap or are not sorted",
                )?;
                self.uses(v.file)?;
                self.last_vma_end = v.end;
                self.vmas_left -= 1;
            }
            R::Pages(p) => {
                self.uses(p.mm)?;
                if self.mms == 0 {
                    return bad("pages before any mm");
                }
                if p.mm < self.pages_mm {
                    return bad("page records not grouped by mm");
                }
                if p.mm != self.pages_mm {
                    self.pages_mm = p.mm;
                    self.last_page = None;
                }
                check(
                    self.last_page.is_none_or(|l| l < p.addr(0)),
                    "pages not ascending",
                )?;
                self.last_page = Some(p.addr(p.count() - 1));
            }
            R::File(f) => {
                self.define(f.id)?;
                self.uses(f.pipe)?;
            }
            R::Pipe(p) => self.define(p.id)?,
            R::Files(f) => {
                self.define(f.id)?;
                self.fds_left = f.count;
                self.last_fd = None;
            }
            R::Fd(f) => {
                if self.fds_left == 0 {
                    return bad("fd outside an fd table");
                }
                check(self.last_fd.is_none_or(|l| l < f.fd), "fds not ascending")?;
                self.uses(f.file)?;
                self.last_fd = Some(f.fd);
                self.fds_left -= 1;
            }
            R::Fs(f) => self.define(f.id)?,
            R::Sighand(s) => self.define(s.id)?,
            R::Signal(s) => self.define(s.id)?,
            R::Creds(c) => self.define(c.id)?,
            R::Task(t) => {
                for id in [t.mm, t.files, t.fs, t.sighand, t.signal, t.creds] {
                    self.uses(id)?;
                }
                self.tasks += 1;
                if self.tasks > self.ntasks {
                    return bad("more tasks than the header announced");
                }
                self.in_task = true;
            }
            R::Regs(_)
            | R::Xstate(_)
            | R::ThreadSignals(_)
            | R::Rlimits(_)
            | R::Rseq(_)
            | R::Ctty(_) => {
                if !self.in_task {
                    return bad("per-task record before any task");
                }
            }
        }
        self.account.add(h);
        Ok(())
    }

    /// Accounts for an optional record the reader skipped.
    pub fn skip(&mut self, h: &RecordHeader) -> Result<()> {
        if !self.started {
            return Err(ImageError::BadOrder("stream does not start with a header"));
        }
        self.account.add(h);
        Ok(())
    }

    /// The account so far (what an [`End`] record written now would hold).
    pub fn account(&self) -> StreamAccount {
        self.account
    }

    /// Fails unless the stream was properly closed.
    pub fn finish(&self) -> Result<()> {
        if !self.ended {
            return Err(ImageError::Truncated);
        }
        Ok(())
    }
}
