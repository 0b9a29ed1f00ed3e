// SPDX-License-Identifier: GPL-2.0

//! The record check: xxHash64 test vectors, and streaming equals one-shot.

use ckpt::image::{xxh64, Hasher, RecordHeader};

#[test]
fn vectors() {
    assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
    assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
    assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
}

#[test]
fn streaming_equals_one_shot() {
    for len in [0usize, 1, 7, 31, 32, 33, 63, 64, 100, 1000, 4099] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        for seed in [0u64, 1, 0x9E37_79B1_85EB_CA87, u64::MAX] {
            let whole = xxh64(&data, seed);
            for chunk in [1usize, 3, 5, 13, 31, 32, 33, 97] {
                let mut h = Hasher::new(seed);
                for c in data.chunks(chunk) {
                    h.update(c);
                }
                assert_eq!(h.finish(), whole, "len {len} seed {seed:#x} chunk {chunk}");
            }
            // Odd, growing chunk sizes, with empty updates in between.
            let mut h = Hasher::new(seed);
            let (mut at, mut step) = (0, 1);
            while at < data.len() {
                let end = (at + step).min(data.len());
                h.update(&data[at..end]);
                h.update(&[]);
                at = end;
                step += 2;
            }
            assert_eq!(h.finish(), whole, "len {len} seed {seed:#x} growing chunks");
        }
    }
}

#[test]
fn long_input() {
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let whole = xxh64(&data, 0);
    let mut h = Hasher::new(0);
    for c in data.chunks(37) {
        h.update(c);
    }
    assert_eq!(h.finish(), whole);
    // finish() does not consume: more input may follow.
    h.update(b"x");
    let mut more = data.clone();
    more.push(b'x');
    assert_eq!(h.finish(), xxh64(&more, 0));
}

#[test]
fn record_check_covers_the_framing() {
    let p = b"payload";
    let h = RecordHeader::for_payload(0x0100, 1, p);
    assert_eq!(h.len, p.len() as u32);
    h.verify(p).unwrap();
    assert_ne!(RecordHeader::for_payload(0x0101, 1, p).check, h.check);
    assert_ne!(RecordHeader::for_payload(0x0100, 2, p).check, h.check);
    assert_ne!(
        RecordHeader::for_payload(0x0100, 1, b"payloae").check,
        h.check
    );
    let bytes = h.to_bytes();
    let (back, known) = RecordHeader::parse(&bytes).unwrap();
    assert_eq!(back, h);
    assert!(known);
}

/// `update_words` (the module's way of hashing pages word by word) is `update`
/// on the same bytes, whatever came before.
#[test]
fn words_equal_bytes() {
    let data: Vec<u8> = (0..4096u32 + 8).map(|i| (i * 31 + 7) as u8).collect();
    for head in [0usize, 1, 8, 13, 32, 40] {
        let words = &data[head..];
        for n in [0usize, 1, 3, 4, 5, words.len() / 8] {
            let mut a = Hasher::new(5);
            a.update(&data[..head]);
            a.update(&words[..n * 8]);
            let mut b = Hasher::new(5);
            b.update(&data[..head]);
            let mut i = 0;
            b.update_words(n, || {
                let w = u64::from_ne_bytes(words[i * 8..i * 8 + 8].try_into().unwrap());
                i += 1;
                w
            });
            assert_eq!(a.finish(), b.finish(), "head {head}, {n} words");
        }
    }
}
