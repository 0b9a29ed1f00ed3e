// SPDX-License-Identifier: GPL-2.0

//! Writes the synthetic sample images (`tiny.ckpt`, `small.ckpt`,
//! `full.ckpt`) into a directory, e.g. to try `ckpt show` without the
//! module. With `--fuzz`, writes them as seeds for the cargo-fuzz target
//! (prefixed with its mode byte):
//!
//! ```text
//! cargo run --example samples -- DIR
//! cargo run --example samples -- --fuzz fuzz/corpus/decode
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let fuzz = args.first().is_some_and(|a| a == "--fuzz");
    if fuzz {
        args.remove(0);
    }
    let [dir] = args.as_slice() else {
        eprintln!("usage: samples [--fuzz] DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, img) in [
        ("tiny", ckpt::sample::tiny()),
        ("small", ckpt::sample::small()),
        ("full", ckpt::sample::full()),
    ] {
        let (path, bytes) = if fuzz {
            let mut b = vec![0u8];
            b.extend_from_slice(&img);
            (dir.join(format!("seed-{name}")), b)
        } else {
            (dir.join(format!("{name}.ckpt")), img)
        };
        if let Err(e) = std::fs::write(&path, bytes) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
