// SPDX-License-Identifier: GPL-2.0

//! Deterministic mutation fuzzing of the reader and the printers: valid
//! images are damaged 20 000 ways (bit flips, byte stores, insertions,
//! deletions, length-field rewrites, record shuffles), half of them resealed
//! so that the damage gets past the checks into the decoders and the order
//! checker. Nothing may panic. Longer runs: `fuzz/` (cargo-fuzz).

use std::collections::BTreeMap;

use ckpt::image::{ImageError, MAX_RECORD_LEN, REC_HDR_LEN};
use ckpt::reader;
use ckpt::sample;
use ckpt::show::{self, Options};
use ckpt::writer::{reseal, walk};

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// Values that tend to sit on boundaries of the checks.
const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x1000,
    0xffff,
    1 << 20,
    (1 << 20) - 1,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff_f000,
    0xffff_ffff_ff60_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
];

fn mutate(rng: &mut Rng, img: &mut Vec<u8>) {
    let records = walk(img);
    match rng.below(9) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(img.len());
                img[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(img.len());
            img[i] = rng.next() as u8;
        }
        2 => {
            let at = rng.below(img.len() + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            img.splice(at..at, bytes);
        }
        3 => {
            let at = rng.below(img.len());
            let n = (1 + rng.below(64)).min(img.len() - at);
            img.drain(at..at + n);
        }
        4 if !records.is_empty() => {
            // Rewrite a length field.
            let (off, h) = records[rng.below(records.len())];
            let len = match rng.below(5) {
                0 => rng.next() as u32,
                1 => h.len.wrapping_add(rng.below(9) as u32).wrapping_sub(4),
                2 => 0,
                3 => MAX_RECORD_LEN,
                _ => u32::MAX,
            };
            img[off + 4..off + 8].copy_from_slice(&len.to_le_bytes());
        }
        5 if !records.is_empty() => {
            // Store an interesting value inside a payload.
            let (off, h) = records[rng.below(records.len())];
            let width = [1usize, 2, 4, 8][rng.below(4)];
            if h.len as usize >= width {
                let at = off + REC_HDR_LEN + rng.below(h.len as usize - width + 1);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                img[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
        }
        6 if records.len() >= 2 => {
            // Swap two records.
            let a = rng.below(records.len());
            let b = rng.below(records.len());
            let (a, b) = (a.min(b), a.max(b));
            if a != b {
                let span = |i: usize| {
                    let (o, h) = records[i];
                    o..o + REC_HDR_LEN + h.len as usize
                };
                let (ra, rb) = (span(a), span(b));
                let mut out = img[..ra.start].to_vec();
                out.extend_from_slice(&img[rb.clone()]);
                out.extend_from_slice(&img[ra.end..rb.start]);
                out.extend_from_slice(&img[ra.clone()]);
                out.extend_from_slice(&img[rb.end..]);
                *img = out;
            }
        }
        7 if !records.is_empty() => {
            // Duplicate or drop a record.
            let (o, h) = records[rng.below(records.len())];
            let span = o..o + REC_HDR_LEN + h.len as usize;
            if rng.chance(2) {
                let copy = img[span.clone()].to_vec();
                img.splice(span.end..span.end, copy);
            } else {
                img.drain(span);
            }
        }
        _ => {
            // Truncate.
            let n = rng.below(img.len());
            img.truncate(n);
        }
    }
}

/// A short name for an outcome, for the histogram.
fn outcome(r: &Result<reader::Totals, reader::ReadError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => match e.image_error() {
            Some(ImageError::BadCheck { .. }) => "bad-check",
            Some(ImageError::Truncated) => "truncated",
            Some(ImageError::Malformed(_)) => "malformed",
            Some(ImageError::BadOrder(_)) => "bad-order",
            Some(ImageError::TrailerMismatch) => "trailer",
            Some(ImageError::TooLarge { .. }) => "too-large",
            Some(ImageError::UnknownKind(_)) => "unknown-kind",
            Some(ImageError::UnsupportedRecordVersion { .. }) => "record-version",
            Some(_) => "other",
            None => "io",
        },
    }
}

/// Record kinds of the images (as walked), for the coverage check.
fn kinds(img: &[u8]) -> std::collections::BTreeSet<u16> {
    walk(img).iter().map(|(_, h)| h.kind).collect()
}

#[test]
fn seeds_cover_every_record_kind() {
    use ckpt::image::kind;
    let v13 = sample::v13();
    reader::validate(v13.as_slice()).expect("the 1.3 seed is valid");
    let opts = Options {
        json: true,
        pages: true,
    };
    show::show(v13.as_slice(), &mut std::io::sink(), &opts).expect("the 1.3 seed shows");
    let mut seen = kinds(&v13);
    seen.extend(kinds(&sample::small()));
    for k in sample::PROCESS_KINDS {
        assert!(seen.contains(&k), "no seed has record kind {k:#06x}");
    }
    for k in [
        kind::PAGE_REFS,
        kind::RSEQ,
        kind::CTTY,
        kind::VDSO,
        kind::VDSO_TEXT,
        kind::TASK_ATTRS,
        kind::FOWN,
        kind::PTY,
        kind::FILE_OWNER,
        kind::CWD_DELETED,
        kind::POSIX_TIMER,
        kind::FILE_LOCK,
        kind::EVENTFD,
        kind::TIMERFD,
        kind::SIGNALFD,
        kind::EPOLL_ITEM,
        kind::INOTIFY_WATCH,
        kind::UNIX_SOCK,
        kind::UNIX_SKB,
    ] {
        assert!(seen.contains(&k), "no seed has record kind {k:#06x}");
    }
}

/// Cases of [`mutations_never_panic`]: `CKPT_FUZZ_CASES` (`make fuzz N=...`), else a
/// fast 20 000 (what `make check` runs).
fn cases() -> u32 {
    std::env::var("CKPT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn mutations_never_panic() {
    let seeds = [
        sample::tiny(),
        sample::small(),
        sample::v13(),
        sample::incremental(&sample::tracked()),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen: BTreeMap<(&str, bool), u32> = BTreeMap::new();
    let n = cases();
    for i in 0..n {
        let mut img = seeds[i as usize % seeds.len()].clone();
        for _ in 0..1 + rng.below(3) {
            if img.is_empty() {
                break;
            }
            mutate(&mut rng, &mut img);
        }
        let resealed = rng.chance(2);
        if resealed {
            reseal(&mut img);
        }
        let r = reader::validate(img.as_slice());
        // Without resealing, the checks catch every real change.
        if !resealed && r.is_ok() {
            assert_eq!(
                img,
                seeds[i as usize % seeds.len()],
                "damaged mutant {i} accepted"
            );
        }
        *seen.entry((outcome(&r), resealed)).or_default() += 1;
        if i % 8 == 0 {
            let opts = Options {
                json: i % 16 == 0,
                pages: true,
            };
            let s = show::show(img.as_slice(), &mut std::io::sink(), &opts);
            assert_eq!(
                s.is_ok(),
                r.is_ok(),
                "show and validate disagree on mutant {i}"
            );
        }
    }
    println!("outcomes (kind, resealed): {seen:?}");
    // The mutations must reach past the framing: resealed mutants fail in
    // the decoders and the order checker, not only on checks.
    for want in ["malformed", "bad-order", "truncated"] {
        assert!(
            seen.get(&(want, true)).copied().unwrap_or(0) > n / 200,
            "few resealed mutants end as {want}: {seen:?}"
        );
    }
    assert!(seen.get(&("bad-check", false)).copied().unwrap_or(0) > n / 20);
}
