// SPDX-License-Identifier: GPL-2.0

//! Chains of incremental images: `chain::resolve` gives the child with its
//! parent's pages, and refuses a wrong or missing parent.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::PathBuf;

use ckpt::chain;
use ckpt::image::AnyRecord;
use ckpt::reader::{Item, Reader};
use ckpt::sample;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ckpt-chain-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The pages of a whole image: address to contents.
fn pages(mut f: File) -> BTreeMap<u64, Vec<u8>> {
    let mut img = Vec::new();
    f.read_to_end(&mut img).unwrap();
    let mut rd = Reader::new(img.as_slice()).unwrap();
    let mut out = BTreeMap::new();
    while let Some(e) = rd.next_record().unwrap() {
        match e.item {
            Item::Record(AnyRecord::Pages(p)) => {
                for i in 0..p.count() {
                    out.insert(p.addr(i), p.page(i).to_vec());
                }
            }
            Item::Record(AnyRecord::Parent(_) | AnyRecord::ParentPages(_)) => {
                panic!("a resolved image still refers to its parent")
            }
            _ => {}
        }
    }
    out
}

#[test]
fn resolves_a_child_with_its_parent() {
    let d = dir("ok");
    let parent = sample::tracked();
    fs::write(d.join(sample::PARENT_PATH), &parent).unwrap();
    let child = d.join("child.img");
    fs::write(&child, sample::incremental(&parent)).unwrap();
    let got = pages(chain::resolve(File::open(&child).unwrap(), &child).unwrap());
    let mut want: Vec<u64> = sample::full_pages().concat();
    want.retain(|&a| a != sample::INCR_DROPPED_PAGE);
    want.push(sample::INCR_NEW_PAGE);
    want.sort_unstable();
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), want);
    for (a, data) in &got {
        assert_eq!(*data, sample::page_content(*a), "page {a:#x}");
    }
    // An image without a parent is itself.
    let p = d.join(sample::PARENT_PATH);
    let same = pages(chain::resolve(File::open(&p).unwrap(), &p).unwrap());
    assert_eq!(same.len(), sample::full_pages().concat().len());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn refuses_a_wrong_or_missing_parent() {
    let d = dir("bad");
    let parent = sample::tracked();
    let child = d.join("child.img");
    fs::write(&child, sample::incremental(&parent)).unwrap();
    let err = chain::resolve(File::open(&child).unwrap(), &child)
        .err()
        .unwrap();
    assert!(err.contains("needs its parent image"), "{err}");
    // Another image (same track id, other contents) in its place.
    fs::write(d.join(sample::PARENT_PATH), sample::incremental(&parent)).unwrap();
    let err = chain::resolve(File::open(&child).unwrap(), &child)
        .err()
        .unwrap();
    assert!(err.contains("not the parent image"), "{err}");
    // An untracked image in its place.
    fs::write(d.join(sample::PARENT_PATH), sample::full()).unwrap();
    let err = chain::resolve(File::open(&child).unwrap(), &child)
        .err()
        .unwrap();
    assert!(err.contains("not the parent image"), "{err}");
    fs::remove_dir_all(&d).unwrap();
}

/// Compressed images (`checkpoint --compress`) read as the images they hold: a
/// compressed child with a compressed parent resolves, and `show` reads them.
#[test]
fn compressed_chain() {
    let d = dir("zstd");
    let zip = |img: &[u8], path: &std::path::Path| {
        let mem = ckpt::compress::memfd(c"test").unwrap();
        std::io::Write::write_all(&mut &mem, img).unwrap();
        let n = ckpt::compress::compress(&mem, File::create(path).unwrap(), 2).unwrap();
        assert_eq!(n, fs::metadata(path).unwrap().len());
        assert!(ckpt::compress::is_compressed(&File::open(path).unwrap()));
    };
    let parent = sample::tracked();
    zip(&parent, &d.join(sample::PARENT_PATH));
    let child = d.join("child.img");
    let inc = sample::incremental(&parent);
    zip(&inc, &child);
    // `--parent` reads a compressed parent's head.
    assert!(chain::head(&child).unwrap().parent.is_some());
    let f = ckpt::compress::open(&child).unwrap();
    let got = pages(chain::resolve(f, &child).unwrap());
    assert!(got.contains_key(&sample::INCR_NEW_PAGE));
    assert_eq!(got.len(), sample::full_pages().concat().len());
    // `show`: streamed, decompressed on the fly; an uncompressed image as is.
    let mut out = Vec::new();
    let r = ckpt::compress::reader(File::open(&child).unwrap()).unwrap();
    ckpt::show::show(std::io::BufReader::new(r), &mut out, &Default::default()).unwrap();
    let mut plain = Vec::new();
    ckpt::show::show(&inc[..], &mut plain, &Default::default()).unwrap();
    assert_eq!(out, plain);
    fs::remove_dir_all(&d).unwrap();
}

/// A parent that is not a regular file (a fifo with no writer) is refused at
/// once, not waited for; a received image's parent is looked for only in its
/// directory and not through a symlink.
#[test]
fn parents_are_regular_files_and_confined() {
    let d = dir("confined");
    let parent = sample::tracked();
    let child = d.join("child.img");
    fs::write(&child, sample::incremental(&parent)).unwrap();
    let fifo = std::ffi::CString::new(
        d.join(sample::PARENT_PATH)
            .as_os_str()
            .as_encoded_bytes()
            .to_vec(),
    )
    .unwrap();
    // SAFETY: A NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let err = chain::resolve(File::open(&child).unwrap(), &child)
        .err()
        .unwrap();
    assert!(err.contains("not a regular file"), "{err}");
    fs::remove_file(d.join(sample::PARENT_PATH)).unwrap();
    // The parent elsewhere, a symlink to it beside the child.
    let elsewhere = dir("elsewhere");
    fs::write(elsewhere.join(sample::PARENT_PATH), &parent).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.join(sample::PARENT_PATH),
        d.join(sample::PARENT_PATH),
    )
    .unwrap();
    assert!(chain::resolve(File::open(&child).unwrap(), &child).is_ok());
    let err = chain::resolve_with(File::open(&child).unwrap(), &child, true)
        .err()
        .unwrap();
    assert!(err.contains("needs its parent image"), "{err}");
    // A recorded path elsewhere: only its name in the child's directory.
    let p = chain::locate_confined(&child, std::path::Path::new("/etc/shadow"));
    assert!(p.is_err());
    let p = chain::locate_confined(&child, std::path::Path::new("../x/parent.img"));
    assert!(p.is_err());
    assert_eq!(
        chain::locate_confined(&child, std::path::Path::new("round-0.img")).unwrap(),
        d.join("round-0.img")
    );
    fs::remove_dir_all(&d).unwrap();
    fs::remove_dir_all(&elsewhere).unwrap();
}
