// SPDX-License-Identifier: GPL-2.0

//! Deterministic mutation fuzzing of the reader and the printers: valid
//! images are damaged 20 000 ways (bit flips, byte stores, insertions,
//! deletions, length-field rewrites, record shuffles), half of them resealed
//! so that the damage gets past the checks into the decoders and the order
//! checker. Nothing may panic. Longer runs: `fuzz/` (cargo-fuzz).

use std::collections::BTreeMap;

use ckpt::fuzz::{attack, mutate, splice, Rng};
use ckpt::image::ImageError;
use ckpt::reader;
use ckpt::sample;
use ckpt::show::{self, Options};
use ckpt::writer::{reseal, walk};

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
        kind::PTY_INPUT,
        kind::FILE_OWNER,
        kind::CWD_DELETED,
        kind::POSIX_TIMER,
        kind::FILE_LOCK,
        kind::EVENTFD,
        kind::TIMERFD,
        kind::SIGNALFD,
        kind::EPOLL_ITEM,
        kind::INOTIFY_WATCH,
        kind::FANOTIFY_GROUP,
        kind::FANOTIFY_MARK,
        kind::UNIX_SOCK,
        kind::UNIX_SKB,
        kind::PIDFD,
        kind::FILE_LEASE,
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

/// The semantic attacks and splices of `ckpt-fuzz` (the VM's restart fuzzer):
/// an attacked image keeps valid checks (the damage reaches the decoders, the
/// order checker and the module's restart), the reader never panics on them,
/// and most attacks apply.
#[test]
fn attacks_keep_valid_checks() {
    let seeds = [sample::small(), sample::v13()];
    let mut rng = Rng(0x5EED_0F_A77AC);
    let mut names: BTreeMap<&str, u32> = BTreeMap::new();
    let n = cases() / 8;
    let mut applied = 0;
    for i in 0..n {
        let mut img = seeds[i as usize % seeds.len()].clone();
        if let Some(a) = attack(&mut rng, &mut img) {
            applied += 1;
            *names.entry(a).or_default() += 1;
            let r = reader::validate(img.as_slice());
            assert!(
                !matches!(
                    r.as_ref().err().and_then(|e| e.image_error()),
                    Some(ImageError::BadCheck { .. })
                ),
                "attack {a} (case {i}) left a bad check"
            );
        }
        let other = &seeds[(i as usize + 1) % seeds.len()];
        let _ = reader::validate(splice(&mut rng, &img, other).as_slice());
    }
    println!("attacks: {names:?}");
    assert!(applied > n * 9 / 10, "{applied} of {n} attacks applied");
    assert!(names.len() >= 20, "few kinds of attack: {names:?}");
}

/// A case is a function of the campaign's seed and its number (so a crash in
/// the VM is replayed with `ckpt-fuzz --only N`).
#[test]
fn cases_are_reproducible() {
    let seeds = vec![sample::small(), sample::v13()];
    for i in [0u64, 1, 77, 123_456] {
        assert_eq!(
            ckpt::fuzz::case(7, i, &seeds),
            ckpt::fuzz::case(7, i, &seeds)
        );
    }
}

/// The partial reseal the VM fuzzer uses gives what a full one gives.
#[test]
fn partial_reseal_matches_full() {
    let seed = sample::v13();
    let mut rng = Rng(42);
    for _ in 0..500 {
        let mut a = seed.clone();
        mutate(&mut rng, &mut a);
        let from = a
            .iter()
            .zip(&seed)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(seed.len()));
        let mut b = a.clone();
        reseal(&mut a);
        ckpt::fuzz::reseal_from(&mut b, from);
        assert_eq!(a, b);
    }
}
