// SPDX-License-Identifier: GPL-2.0

//! Feeds arbitrary bytes to the image reader and both printers. An odd
//! first byte has the input resealed first (checks and end account fixed),
//! so that the fuzzer reaches the decoders and the order checker instead of
//! stopping at the checks.

#![no_main]

use libfuzzer_sys::fuzz_target;

use ckpt::image::MAGIC;
use ckpt::show::{self, Options};
use ckpt::{reader, writer};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut img = rest.to_vec();
    if mode & 1 != 0 {
        // Also supply the magic, which random inputs rarely get right.
        if mode & 2 != 0 {
            img.splice(0..0, MAGIC);
        }
        writer::reseal(&mut img);
    }
    let r = reader::validate(img.as_slice());
    let opts = Options {
        json: mode & 4 != 0,
        pages: mode & 8 != 0,
    };
    let s = show::show(img.as_slice(), &mut std::io::sink(), &opts);
    assert_eq!(r.is_ok(), s.is_ok());
});
