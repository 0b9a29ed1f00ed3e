// SPDX-License-Identifier: GPL-2.0

//! Streaming image reader: magic, then one record at a time, each framed,
//! verified, decoded and fed to the [`OrderChecker`]; memory use is one
//! payload (at most [`MAX_RECORD_LEN`]), whatever the image size.

use std::fmt;
use std::io::{self, Read};

use crate::image::{
    kind, AnyRecord, ImageError, OrderChecker, RecordHeader, StreamAccount, ARCH_X86_64,
    FORMAT_MAJOR, MAGIC, MAX_RECORD_LEN, PAGE_SIZE, REC_HDR_LEN,
};

/// What a record turned out to be.
// `AnyRecord` is large (a `Sighand` holds 64 actions); it is moved once per
// record, cheaper than a heap allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A record this reader knows, decoded and checked.
    Record(AnyRecord<'a>),
    /// An optional record of a kind or version this reader does not know;
    /// its check was verified, its payload skipped.
    Skipped,
}

/// One record of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Its number: 1 for the header record.
    pub index: u64,
    /// Offset of its record header in the stream.
    pub offset: u64,
    /// The record header.
    pub header: RecordHeader,
    /// What it holds.
    pub item: Item<'a>,
}

/// Why reading stopped.
#[derive(Debug)]
pub enum Cause {
    /// The image is not valid.
    Image(ImageError),
    /// The input could not be read.
    Io(io::Error),
}

/// A reading error, and where in the stream it happened.
#[derive(Debug)]
pub struct ReadError {
    /// Number of the record (1 for the header record; 0 for the magic).
    pub index: u64,
    /// Offset of that record's header in the stream.
    pub offset: u64,
    /// The record's kind, if its header was read.
    pub kind: Option<u16>,
    /// What went wrong.
    pub cause: Cause,
}

impl ReadError {
    /// The format error, if it is one (not an I/O error).
    pub fn image_error(&self) -> Option<ImageError> {
        match self.cause {
            Cause::Image(e) => Some(e),
            Cause::Io(_) => None,
        }
    }
}

/// [`ImageError::describe`] with the values the error carries.
pub fn describe(e: &ImageError) -> String {
    let d = e.describe();
    match *e {
        ImageError::UnsupportedFormat { major, minor } => {
            format!("{d} {major}.{minor} (this tool reads {FORMAT_MAJOR}.x)")
        }
        ImageError::ForeignArch(a) => {
            format!("{d} (ELF machine {a}; this tool reads {ARCH_X86_64}, x86_64)")
        }
        ImageError::BadPageSize(p) => format!("{d} ({p}; expected {PAGE_SIZE})"),
        ImageError::UnknownKind(k) => format!("{d} {k:#06x}"),
        ImageError::UnsupportedRecordVersion { kind: k, version } => format!(
            "{d} {version} of {} (this tool knows up to {})",
            kind::name(k),
            kind::max_version(k).unwrap_or(0)
        ),
        ImageError::TooLarge { len, .. } => {
            format!("{d} ({len} bytes; at most {MAX_RECORD_LEN})")
        }
        _ => d.to_string(),
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, self.kind) {
            (0, _) => write!(f, "magic (offset {}): ", self.offset)?,
            (n, Some(k)) => write!(
                f,
                "record #{n} (kind {k:#06x} {} at offset {}): ",
                kind::name(k),
                self.offset
            )?,
            (n, None) => write!(f, "record #{n} (at offset {}): ", self.offset)?,
        }
        match &self.cause {
            Cause::Image(e) => f.write_str(&describe(e)),
            Cause::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads up to `buf.len()` bytes, fewer only at end of input.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A streaming reader of one image.
pub struct Reader<R> {
    input: R,
    buf: Vec<u8>,
    offset: u64,
    index: u64,
    checker: OrderChecker,
    ended: bool,
    done: bool,
    /// A record header read by [`Reader::peek_header`] (and how many of its
    /// bytes the input had), for the next [`Reader::next_record`].
    peeked: Option<([u8; REC_HDR_LEN], usize)>,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the magic.
    pub fn new(mut input: R) -> Result<Self, ReadError> {
        let err = |cause| ReadError {
            index: 0,
            offset: 0,
            kind: None,
            cause,
        };
        let mut m = [0u8; MAGIC.len()];
        let n = read_full(&mut input, &mut m).map_err(|e| err(Cause::Io(e)))?;
        if m[..n] != MAGIC[..n] {
            return Err(err(Cause::Image(ImageError::BadMagic)));
        }
        if n < MAGIC.len() {
            return Err(err(Cause::Image(ImageError::Truncated)));
        }
        Ok(Self {
            input,
            buf: Vec::new(),
            offset: MAGIC.len() as u64,
            index: 0,
            checker: OrderChecker::new(),
            ended: false,
            done: false,
            peeked: None,
        })
    }

    /// The offset and header of the next record, without reading its payload
    /// (`None` at the end of the input, or if the header is incomplete or
    /// invalid: [`Reader::next_record`] then says why). `restart` stops at
    /// the first page record this way, before reading megabytes of pages.
    pub fn peek_header(&mut self) -> Result<Option<(u64, RecordHeader)>, ReadError> {
        if self.done {
            return Ok(None);
        }
        if self.peeked.is_none() {
            let mut hb = [0u8; REC_HDR_LEN];
            let n = read_full(&mut self.input, &mut hb).map_err(|e| ReadError {
                index: self.index + 1,
                offset: self.offset,
                kind: None,
                cause: Cause::Io(e),
            })?;
            self.peeked = Some((hb, n));
        }
        let Some((hb, n)) = self.peeked else {
            return Ok(None);
        };
        if n < REC_HDR_LEN {
            return Ok(None);
        }
        Ok(RecordHeader::parse(&hb).ok().map(|(h, _)| (self.offset, h)))
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.index
    }

    /// The reader's own account of the records read so far (excluding the
    /// end record).
    pub fn account(&self) -> StreamAccount {
        self.checker.account()
    }

    /// The next record; `Ok(None)` once the end record was read and nothing
    /// follows it. After an error or `Ok(None)`, always `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Entry<'_>>, ReadError> {
        if self.done {
            return Ok(None);
        }
        // Whatever happens below but a good record ends the stream.
        self.done = true;
        let start = self.offset;
        let index = self.index + 1;
        let err = |kind, cause| ReadError {
            index,
            offset: start,
            kind,
            cause,
        };
        let (hb, n) = match self.peeked.take() {
            Some(p) => p,
            None => {
                let mut hb = [0u8; REC_HDR_LEN];
                let n = read_full(&mut self.input, &mut hb).map_err(|e| err(None, Cause::Io(e)))?;
                (hb, n)
            }
        };
        if self.ended {
            if n == 0 {
                return Ok(None);
            }
            return Err(err(
                None,
                Cause::Image(ImageError::BadOrder("data after the end record")),
            ));
        }
        if n == 0 {
            // A clean end of input, but no end record (finish() says so).
            self.checker
                .finish()
                .map_err(|e| err(None, Cause::Image(e)))?;
        }
        if n < REC_HDR_LEN {
            return Err(err(None, Cause::Image(ImageError::Truncated)));
        }
        let k = Some(u16::from_le_bytes([hb[0], hb[1]]));
        let (h, known) = RecordHeader::parse(&hb).map_err(|e| err(k, Cause::Image(e)))?;
        // Read through `take` so that a bogus length costs no more memory
        // than the input actually holds.
        self.buf.clear();
        (&mut self.input)
            .take(h.len as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| err(k, Cause::Io(e)))?;
        if self.buf.len() != h.len as usize {
            return Err(err(k, Cause::Image(ImageError::Truncated)));
        }
        h.verify(&self.buf).map_err(|e| err(k, Cause::Image(e)))?;
        self.index = index;
        self.offset = start + REC_HDR_LEN as u64 + h.len as u64;
        let item = if known {
            let r = AnyRecord::decode(&h, &self.buf).map_err(|e| err(k, Cause::Image(e)))?;
            self.checker
                .feed(&h, &r)
                .map_err(|e| err(k, Cause::Image(e)))?;
            self.ended = matches!(r, AnyRecord::End(_));
            Item::Record(r)
        } else {
            self.checker.skip(&h).map_err(|e| err(k, Cause::Image(e)))?;
            Item::Skipped
        };
        self.done = false;
        Ok(Some(Entry {
            index,
            offset: start,
            header: h,
            item,
        }))
    }
}

/// Summary of a whole, valid image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Records, the end record included.
    pub records: u64,
    /// Bytes, magic included.
    pub bytes: u64,
    /// Optional records skipped.
    pub skipped: u64,
}

/// Reads and checks a whole image, keeping nothing.
pub fn validate<R: Read>(input: R) -> Result<Totals, ReadError> {
    let mut r = Reader::new(input)?;
    let mut skipped = 0;
    while let Some(e) = r.next_record()? {
        if e.item == Item::Skipped {
            skipped += 1;
        }
    }
    Ok(Totals {
        records: r.records(),
        bytes: r.offset(),
        skipped,
    })
}
