// SPDX-License-Identifier: GPL-2.0

//! Payload encoding and decoding: [`Enc`], [`Dec`] and the [`Record`] trait.

use super::*;

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

pub(super) fn check(cond: bool, what: &'static str) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(ImageError::Malformed(what))
    }
}

/// Implements [`Record`] for a record whose payload is its fields in order, each
/// written by the [`Enc`] method and read by the [`Dec`] method named after it
/// (`u8`, `u32`, `i32`, `u64`, `i64`, `str`); the block then checks the decoded
/// value (named by the `|v|` ident) with [`check`], as hand-written decoders do.
/// One field list serves both directions, so they cannot drift apart.
macro_rules! fixed_record {
    (
        impl<$lt:lifetime> for $ty:ty, $kind:expr,
        { $($field:ident: $m:ident),+ $(,)? },
        |$v:ident| $check:block
    ) => {
        impl<$lt> Record<$lt> for $ty {
            const KIND: u16 = $kind;
            fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
                $(e.$m(self.$field)?;)+
                Ok(())
            }
            fn decode(d: &mut Dec<$lt>) -> Result<Self> {
                let $v = Self {
                    $($field: d.$m()?,)+
                };
                $check
                Ok($v)
            }
        }
    };
}

/// Entry `i` of a list of little-endian `u32`s kept as bytes (a record's
/// supplementary groups); `i` below `b.len() / 4`.
pub fn le_u32_at(b: &[u8], i: usize) -> u32 {
    let g = &b[i * 4..i * 4 + 4];
    u32::from_le_bytes([g[0], g[1], g[2], g[3]])
}
