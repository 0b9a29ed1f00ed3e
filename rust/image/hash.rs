// SPDX-License-Identifier: GPL-2.0

//! The record check: xxHash64 (public-domain algorithm by Yann Collet), streaming.
//! Reimplemented rather than taken from `lib/xxhash.c` because the tool shares this code.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline(always)]
pub(super) fn xround(acc: u64, input: u64) -> u64 {
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
pub(super) fn le64(b: &[u8]) -> u64 {
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

    /// Feeds `n` words that `next` yields, each the native-endian value of 8 bytes of
    /// memory in order (as a `u64` load of them gives): the same as [`Hasher::update`]
    /// on those bytes. For data that must not be viewed as a slice (a page that
    /// something may write meanwhile: the caller reads it word by word).
    #[inline(always)]
    pub fn update_words(&mut self, n: usize, mut next: impl FnMut() -> u64) {
        let mut left = n;
        while left > 0 && self.buf_len != 0 {
            self.update(&next().to_ne_bytes());
            left -= 1;
        }
        // The state in locals: stored once, not after every stripe.
        let stripes = left / 4;
        let mut v = self.v;
        for _ in 0..stripes {
            let s = [next(), next(), next(), next()];
            v[0] = xround(v[0], u64::from_le(s[0]));
            v[1] = xround(v[1], u64::from_le(s[1]));
            v[2] = xround(v[2], u64::from_le(s[2]));
            v[3] = xround(v[3], u64::from_le(s[3]));
        }
        self.v = v;
        self.total = self.total.wrapping_add(32 * stripes as u64);
        left -= 4 * stripes;
        while left > 0 {
            self.update(&next().to_ne_bytes());
            left -= 1;
        }
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
