// SPDX-License-Identifier: GPL-2.0

//! The checkpoint pipeline (pipe, helper thread, copy, fsync, cleanup) with
//! a stand-in for the module that writes into the pipe.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;

use ckpt::checkpoint::{run_direct, run_with, Failure, Output};
use ckpt::{reader, sample};

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkpoint");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Writes `data` into the pipe as the module would.
fn put(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<u64> {
    let mut f = File::from(fd.try_clone_to_owned()?);
    f.write_all(data)?;
    Ok(data.len() as u64)
}

#[test]
fn image_reaches_the_file() {
    let img = sample::full();
    let p = tmp("ok.ckpt");
    let o = run_with(|fd| put(fd, &img), Output::create(&p).unwrap(), None).expect("checkpoint");
    assert_eq!(o.bytes, img.len() as u64);
    let back = std::fs::read(&p).unwrap();
    assert_eq!(back, img);
    reader::validate(back.as_slice()).unwrap();
}

#[test]
fn big_image_streams() {
    // 48 MiB through a pipe: nothing deadlocks, every byte arrives.
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let p = tmp("big.ckpt");
    let o = run_with(
        |fd| {
            let mut f = File::from(fd.try_clone_to_owned()?);
            for _ in 0..48 {
                f.write_all(&chunk)?;
            }
            Ok(48 << 20)
        },
        Output::create(&p).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(o.bytes, 48 << 20);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 48 << 20);
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn failure_removes_the_partial_file() {
    let img = sample::full();
    let p = tmp("partial.ckpt");
    std::fs::write(&p, b"old contents").unwrap();
    let r = run_with(
        |fd| {
            put(fd, &img[..1000])?;
            Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
        },
        Output::create(&p).unwrap(),
        None,
    );
    match r {
        Err(Failure::Ioctl(e)) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP)),
        other => panic!("{other:?}"),
    }
    assert!(!p.exists());
}

#[test]
fn size_mismatch_is_an_error() {
    let img = sample::small();
    let p = tmp("short.ckpt");
    let r = run_with(
        |fd| put(fd, &img).map(|n| n + 1),
        Output::create(&p).unwrap(),
        None,
    );
    match r {
        Err(Failure::Size { reported, copied }) => {
            assert_eq!((reported, copied), (img.len() as u64 + 1, img.len() as u64))
        }
        other => panic!("{other:?}"),
    }
    assert!(!p.exists());
}

#[test]
fn output_error_stops_the_writer() {
    // /dev/full: every write fails with ENOSPC; the producer must then get
    // EPIPE instead of blocking forever, and the device is not removed.
    let big = vec![0u8; 8 << 20];
    let r = run_with(
        |fd| put(fd, &big),
        Output::create(std::path::Path::new("/dev/full")).unwrap(),
        None,
    );
    match r {
        Err(Failure::Write(name, e)) => {
            assert_eq!(name, "/dev/full");
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        }
        other => panic!("{other:?}"),
    }
    assert!(std::path::Path::new("/dev/full").exists());
}

#[test]
fn special_output_is_kept() {
    let img = sample::small();
    let o = run_with(
        |fd| put(fd, &img),
        Output::create(std::path::Path::new("/dev/null")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(o.bytes, img.len() as u64);
}

#[test]
fn regular_file_is_written_directly() {
    // The module gets the file itself: what it writes is the image.
    let img = sample::full();
    let p = tmp("direct.ckpt");
    let o = run_direct(|fd| put(fd, &img), Output::create(&p).unwrap(), Some(1)).unwrap();
    assert_eq!(o.bytes, img.len() as u64);
    let back = std::fs::read(&p).unwrap();
    assert_eq!(back, img);
    reader::validate(back.as_slice()).unwrap();
}

#[test]
fn direct_failure_removes_the_partial_file() {
    let img = sample::full();
    let p = tmp("direct-partial.ckpt");
    let r = run_direct(
        |fd| {
            put(fd, &img[..1000])?;
            Err(io::Error::from_raw_os_error(libc::ESRCH))
        },
        Output::create(&p).unwrap(),
        None,
    );
    assert!(matches!(r, Err(Failure::Ioctl(_))));
    assert!(!p.exists());
}
