// SPDX-License-Identifier: GPL-2.0

//! Damaged and hostile images: each is rejected with the right error, and
//! nothing panics.

use ckpt::image::*;
use ckpt::reader::{self, ReadError, Reader};
use ckpt::sample;
use ckpt::writer::{reseal, walk, ImageWriter};

/// The image error `img` is rejected with, and the record it is blamed on.
fn error(img: &[u8]) -> ReadError {
    match reader::validate(img) {
        Ok(t) => panic!("image accepted: {t:?}"),
        Err(e) => e,
    }
}

fn image_error(img: &[u8]) -> ImageError {
    error(img)
        .image_error()
        .expect("a format error, not an I/O error")
}

/// A task that uses no objects.
fn bare_task(pid: i32) -> Task<'static> {
    Task {
        pid,
        mm: 0,
        files: 0,
        fs: 0,
        sighand: 0,
        signal: 0,
        creds: 0,
        ..sample::task(0)
    }
}

/// Header, whatever `f` writes, one bare task, end.
fn image(f: impl FnOnce(&mut ImageWriter)) -> Vec<u8> {
    image_with(f, |_| {})
}

/// Header, whatever `objects` writes, one bare task, whatever `tail`
/// writes (page records), end.
fn image_with(
    objects: impl FnOnce(&mut ImageWriter),
    tail: impl FnOnce(&mut ImageWriter),
) -> Vec<u8> {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    objects(&mut w);
    w.record(&bare_task(1)).unwrap();
    tail(&mut w);
    w.finish().unwrap()
}

/// A page record of address space `mm`.
fn pages_rec(mm: u32, addrs: &[u64]) -> (Vec<u8>, Vec<u8>, u32) {
    let a: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
    (a, vec![0u8; addrs.len() * PAGE_SIZE], mm)
}

fn write_pages(w: &mut ImageWriter, mm: u32, addrs: &[u64]) {
    let (a, d, mm) = pages_rec(mm, addrs);
    w.record(&Pages {
        mm,
        addrs: &a,
        data: &d,
    })
    .unwrap();
}

fn an_mm(w: &mut ImageWriter, id: u32) {
    w.record(&MmRec {
        id,
        ..sample::mm(0)
    })
    .unwrap();
}

/// Like [`image`], with an mm and `vmas`.
fn with_vmas(vmas: &[Vma<'_>]) -> Vec<u8> {
    image(|w| {
        w.record(&MmRec {
            id: 1,
            ..sample::mm(vmas.len() as u32)
        })
        .unwrap();
        for v in vmas {
            w.record(v).unwrap();
        }
    })
}

fn anon(start: u64, end: u64) -> Vma<'static> {
    Vma {
        start,
        end,
        pgoff: 0,
        prot: 3,
        flags: 0,
        backing: backing::ANON,
        file: 0,
        name: b"",
    }
}

fn malformed(what: &str) -> ImageError {
    // The messages are `&'static str`; compare by text.
    ImageError::Malformed(Box::leak(what.to_string().into_boxed_str()))
}

#[test]
fn helpers_make_valid_images() {
    reader::validate(image(|_| {}).as_slice()).unwrap();
    reader::validate(with_vmas(&[anon(0x1000, 0x2000), anon(0x2000, 0x3000)]).as_slice()).unwrap();
}

#[test]
fn truncated_at_every_offset() {
    let img = sample::small();
    for cut in 0..img.len() {
        let e = error(&img[..cut]);
        assert_eq!(
            e.image_error(),
            Some(ImageError::Truncated),
            "cut at {cut}: {e}"
        );
    }
    // Also through the text and JSON printers.
    for cut in (0..img.len()).step_by(97) {
        for json in [false, true] {
            let opts = ckpt::show::Options { json, pages: true };
            assert!(ckpt::show::show(&img[..cut], &mut std::io::sink(), &opts).is_err());
        }
    }
}

#[test]
fn every_bit_flip_is_caught() {
    let img = sample::tiny();
    let mut m = img.clone();
    for i in 0..img.len() {
        for bit in 0..8 {
            m[i] ^= 1 << bit;
            if let Ok(t) = reader::validate(m.as_slice()) {
                panic!("flip of bit {bit} of byte {i} accepted: {t:?}");
            }
            m[i] ^= 1 << bit;
        }
    }
    assert_eq!(m, img);
}

#[test]
fn bad_magic_and_empty() {
    assert_eq!(image_error(b""), ImageError::Truncated);
    assert_eq!(image_error(&MAGIC[..5]), ImageError::Truncated);
    assert_eq!(image_error(b"\x89CKPX\r\n\x1a"), ImageError::BadMagic);
    assert_eq!(image_error(b"ELF"), ImageError::BadMagic);
    // Text-mode mangling: CRLF turned into LF.
    let mut img = sample::tiny();
    img.remove(5);
    assert_eq!(image_error(&img), ImageError::BadMagic);
    // Magic alone: no records, no end.
    let e = error(&MAGIC);
    assert_eq!(e.image_error(), Some(ImageError::Truncated));
    assert_eq!((e.index, e.offset), (1, 8));
}

#[test]
fn oversized_lengths() {
    for len in [MAX_RECORD_LEN + 1, u32::MAX] {
        let mut w = ImageWriter::new();
        w.record(&sample::header(1)).unwrap();
        let h = RecordHeader {
            kind: kind::PAGES,
            version: 1,
            len,
            check: 0,
        };
        w.raw_header(h, &[]);
        let e = error(w.bytes());
        assert_eq!(
            e.image_error(),
            Some(ImageError::TooLarge {
                kind: kind::PAGES,
                len
            })
        );
        assert_eq!(e.index, 2);
        assert_eq!(e.kind, Some(kind::PAGES));
    }
    // At the limit but not there: truncated, without reading 4 MiB of nothing.
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    let h = RecordHeader {
        kind: kind::PAGES,
        version: 1,
        len: MAX_RECORD_LEN,
        check: 0,
    };
    w.raw_header(h, &[0; 100]);
    assert_eq!(image_error(w.bytes()), ImageError::Truncated);
    // Length fields inside payloads that exceed the record.
    let img = image(|w| {
        let mut p = Vec::new();
        p.extend_from_slice(&1u32.to_le_bytes()); // id
        p.extend_from_slice(&4096u32.to_le_bytes()); // capacity
        p.extend_from_slice(&u32::MAX.to_le_bytes()); // data length
        p.extend_from_slice(b"abc");
        w.raw(kind::PIPE, 1, &p);
    });
    assert_eq!(image_error(&img), ImageError::Truncated);
    let img = image(|w| {
        let mut p = Vec::new();
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&0xffffu16.to_le_bytes()); // cwd length
        w.raw(kind::FS, 1, &p);
    });
    assert_eq!(image_error(&img), malformed("string too long"));
}

#[test]
fn unknown_kind_and_versions() {
    let e = error(&image(|w| {
        w.raw(0x0999, 1, b"x");
    }));
    assert_eq!(e.image_error(), Some(ImageError::UnknownKind(0x0999)));
    assert_eq!((e.index, e.kind), (2, Some(0x0999)));
    for version in [0, 2, u16::MAX] {
        let img = image(|w| {
            w.raw(kind::FD, version, &[0; 12]);
        });
        assert_eq!(
            image_error(&img),
            ImageError::UnsupportedRecordVersion {
                kind: kind::FD,
                version
            }
        );
    }
    // Optional ones are skipped whatever their version.
    let img = image(|w| {
        w.raw(KIND_OPTIONAL | 0x0999, 0, b"x");
        w.raw(KIND_OPTIONAL | kind::FD, 9, b"");
    });
    assert_eq!(reader::validate(img.as_slice()).unwrap().skipped, 2);
    // ...but not if damaged.
    let mut img = image(|w| {
        w.raw(KIND_OPTIONAL | 0x0999, 0, b"xyz");
    });
    let (off, _) = walk(&img)[1];
    img[off + REC_HDR_LEN + 1] ^= 1;
    assert_eq!(
        image_error(&img),
        ImageError::BadCheck {
            kind: KIND_OPTIONAL | 0x0999
        }
    );
}

#[test]
fn header_fields() {
    let one = |h: Header<'static>| {
        let mut w = ImageWriter::new();
        w.record(&h).unwrap();
        w.record(&bare_task(1)).unwrap();
        w.finish().unwrap()
    };
    let h = sample::header(1);
    assert_eq!(
        image_error(&one(Header {
            format_major: 2,
            format_minor: 3,
            ..h
        })),
        ImageError::UnsupportedFormat { major: 2, minor: 3 }
    );
    // A newer minor is fine.
    reader::validate(
        one(Header {
            format_minor: 99,
            ..h
        })
        .as_slice(),
    )
    .unwrap();
    assert_eq!(
        image_error(&one(Header { arch: 183, ..h })),
        ImageError::ForeignArch(183)
    );
    assert_eq!(
        image_error(&one(Header {
            page_size: 16384,
            ..h
        })),
        ImageError::BadPageSize(16384)
    );
    assert_eq!(
        image_error(&one(Header { ntasks: 0, ..h })),
        malformed("header: bad task count")
    );
    assert_eq!(
        image_error(&one(Header { ntasks: 2, ..h })),
        ImageError::BadOrder("task count differs from the header")
    );
}

#[test]
fn vmas() {
    // Overlapping.
    assert_eq!(
        image_error(&with_vmas(&[anon(0x1000, 0x3000), anon(0x2000, 0x4000)])),
        malformed("vmas overlap or are not sorted")
    );
    // Unsorted.
    assert_eq!(
        image_error(&with_vmas(&[anon(0x5000, 0x6000), anon(0x1000, 0x2000)])),
        malformed("vmas overlap or are not sorted")
    );
    // Kernel space.
    assert_eq!(
        image_error(&with_vmas(&[anon(
            0xffff_8880_0000_0000,
            0xffff_8880_0001_0000
        )])),
        malformed("vma: outside user space")
    );
    assert_eq!(
        image_error(&with_vmas(&[anon(
            USER_ADDR_END - 0x1000,
            USER_ADDR_END + 0x1000
        )])),
        malformed("vma: outside user space")
    );
    // A "vsyscall" anywhere else.
    let fake = Vma {
        backing: backing::VSYSCALL,
        ..anon(0xffff_ffff_ff50_0000, 0xffff_ffff_ff50_1000)
    };
    assert_eq!(
        image_error(&with_vmas(&[fake])),
        malformed("vma: bad vsyscall")
    );
    // Empty, inverted, unaligned.
    assert_eq!(
        image_error(&with_vmas(&[anon(0x2000, 0x2000)])),
        malformed("vma: empty or inverted range")
    );
    assert_eq!(
        image_error(&with_vmas(&[anon(0x3000, 0x2000)])),
        malformed("vma: empty or inverted range")
    );
    assert_eq!(
        image_error(&with_vmas(&[anon(0x2001, 0x3000)])),
        malformed("vma: unaligned")
    );
    assert_eq!(
        image_error(&with_vmas(&[Vma {
            prot: 8,
            ..anon(0x1000, 0x2000)
        }])),
        malformed("vma: bad protection")
    );
    assert_eq!(
        image_error(&with_vmas(&[Vma {
            flags: 1 << 20,
            ..anon(0x1000, 0x2000)
        }])),
        malformed("vma: unknown flags")
    );
    assert_eq!(
        image_error(&with_vmas(&[Vma {
            backing: backing::MAX + 1,
            ..anon(0x1000, 0x2000)
        }])),
        malformed("vma: unknown backing")
    );
    assert_eq!(
        image_error(&with_vmas(&[Vma {
            backing: backing::FILE_PRIVATE,
            ..anon(0x1000, 0x2000)
        }])),
        malformed("vma: file reference mismatch")
    );
    // A file that was never defined.
    assert_eq!(
        image_error(&with_vmas(&[Vma {
            backing: backing::FILE_SHARED,
            file: 7,
            ..anon(0x1000, 0x2000)
        }])),
        malformed("reference to an undefined object")
    );
}

#[test]
fn vma_order() {
    // Fewer vmas than announced.
    let img = image(|w| {
        w.record(&MmRec {
            id: 1,
            ..sample::mm(2)
        })
        .unwrap();
        w.record(&anon(0x1000, 0x2000)).unwrap();
    });
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("fewer vma records than the mm announced")
    );
    // A vma outside an mm.
    let img = image(|w| {
        w.record(&anon(0x1000, 0x2000)).unwrap();
    });
    assert_eq!(image_error(&img), ImageError::BadOrder("vma outside an mm"));
    // More vmas than announced.
    let img = image(|w| {
        w.record(&MmRec {
            id: 1,
            ..sample::mm(1)
        })
        .unwrap();
        w.record(&anon(0x1000, 0x2000)).unwrap();
        w.record(&anon(0x2000, 0x3000)).unwrap();
    });
    assert_eq!(image_error(&img), ImageError::BadOrder("vma outside an mm"));
}

#[test]
fn page_order() {
    // Valid: two address spaces, pages last, by mm, ascending across records.
    let img = image_with(
        |w| {
            an_mm(w, 1);
            an_mm(w, 2);
        },
        |w| {
            write_pages(w, 1, &[0x1000, 0x3000]);
            write_pages(w, 1, &[0x4000]);
            write_pages(w, 2, &[0x1000]);
        },
    );
    reader::validate(img.as_slice()).unwrap();
    // Pages before any mm.
    let img = image_with(
        |w| {
            w.record(&FsRec {
                id: 1,
                umask: 0,
                cwd: b"/",
                root: b"/",
            })
            .unwrap();
        },
        |w| write_pages(w, 1, &[0x1000]),
    );
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("pages before any mm")
    );
    // Pages of an undefined mm.
    let img = image_with(|w| an_mm(w, 1), |w| write_pages(w, 2, &[0x1000]));
    assert_eq!(
        image_error(&img),
        malformed("reference to an undefined object")
    );
    // Zero mm id.
    let img = image_with(|w| an_mm(w, 1), |w| write_pages(w, 0, &[0x1000]));
    assert_eq!(image_error(&img), malformed("pages: zero mm id"));
    // Anything but pages after pages.
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    an_mm(&mut w, 1);
    write_pages(&mut w, 1, &[0x1000]);
    w.record(&bare_task(1)).unwrap();
    assert_eq!(
        image_error(&w.finish().unwrap()),
        ImageError::BadOrder("record after the page records")
    );
    // Not grouped by mm.
    let img = image_with(
        |w| {
            an_mm(w, 1);
            an_mm(w, 2);
        },
        |w| {
            write_pages(w, 2, &[0x1000]);
            write_pages(w, 1, &[0x1000]);
        },
    );
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("page records not grouped by mm")
    );
    // Not ascending across records of one mm, or repeated.
    for second in [0x2000u64, 0x3000] {
        let img = image_with(
            |w| an_mm(w, 1),
            |w| {
                write_pages(w, 1, &[0x1000, 0x3000]);
                write_pages(w, 1, &[second]);
            },
        );
        assert_eq!(image_error(&img), malformed("pages not ascending"));
    }
}

fn write_refs(w: &mut ImageWriter, mm: u32, src: u32, addrs: &[u64]) {
    let a: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
    w.record(&PageRefs { mm, src, addrs: &a }).unwrap();
}

#[test]
fn page_refs_order() {
    let two = |w: &mut ImageWriter| {
        an_mm(w, 1);
        an_mm(w, 2);
    };
    // Valid: references right before their source's pages, before the pages of
    // the mm they belong to.
    let img = image_with(two, |w| {
        write_refs(w, 2, 1, &[0x1000]);
        write_pages(w, 1, &[0x1000, 0x3000]);
        write_refs(w, 2, 1, &[0x4000]);
        write_refs(w, 2, 1, &[0x5000]);
        write_pages(w, 1, &[0x4000, 0x5000]);
        write_pages(w, 2, &[0x3000]);
    });
    reader::validate(img.as_slice()).unwrap();
    // Not followed by the source's pages: another mm's, or the end.
    let img = image_with(two, |w| {
        write_refs(w, 2, 1, &[0x1000]);
        write_pages(w, 2, &[0x1000]);
    });
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("page references not followed by their source's pages")
    );
    let img = image_with(two, |w| write_refs(w, 2, 1, &[0x1000]));
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("page references not followed by their source's pages")
    );
    // After the source's pages were done.
    let img = image_with(two, |w| {
        write_pages(w, 1, &[0x1000]);
        write_pages(w, 2, &[0x1000]);
        write_refs(w, 2, 1, &[0x1000]);
        write_pages(w, 1, &[0x2000]);
    });
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("page references after their source's pages")
    );
    // A source that is not an earlier mm.
    let img = image_with(two, |w| {
        write_refs(w, 1, 2, &[0x1000]);
        write_pages(w, 2, &[0x1000]);
    });
    assert_eq!(
        image_error(&img),
        malformed("page-refs: source not an earlier mm")
    );
}

/// `OrderChecker::uses` only checks that an id was defined, not that it is
/// an object of the right type: page records naming a file, tasks whose
/// `mm` is a pipe, fds whose `file` is a credentials object... all pass.
/// Reported to the lead; enable once the order checker tracks object kinds.
#[test]
#[ignore = "rust/image/: object references are not type-checked"]
fn references_are_type_checked() {
    let img = image_with(
        |w| {
            an_mm(w, 1);
            w.record(&sample::files()[3]).unwrap(); // a file, id 5
        },
        |w| write_pages(w, 5, &[0x1000]),
    );
    assert!(
        reader::validate(img.as_slice()).is_err(),
        "pages of a file accepted"
    );
    let img = image(|w| {
        w.record(&FsRec {
            id: 1,
            umask: 0,
            cwd: b"/",
            root: b"/",
        })
        .unwrap();
        w.record(&FilesRec { id: 2, count: 1 }).unwrap();
        w.record(&Fd {
            fd: 0,
            file: 1,
            flags: 0,
        })
        .unwrap();
    });
    assert!(
        reader::validate(img.as_slice()).is_err(),
        "fd of an fs accepted"
    );
}

#[test]
fn pages() {
    let rec = |addrs: &[u64]| {
        let addrs = addrs.to_vec();
        image_with(|w| an_mm(w, 1), move |w| write_pages(w, 1, &addrs))
    };
    reader::validate(rec(&[0x1000, 0x3000]).as_slice()).unwrap();
    assert_eq!(
        image_error(&rec(&[0x1800])),
        malformed("pages: unaligned address")
    );
    assert_eq!(
        image_error(&rec(&[0xffff_8880_0000_0000])),
        malformed("pages: address outside user space")
    );
    assert_eq!(
        image_error(&rec(&[0x3000, 0x1000])),
        malformed("pages: addresses not ascending")
    );
    assert_eq!(
        image_error(&rec(&[0x3000, 0x3000])),
        malformed("pages: addresses not ascending")
    );
    assert_eq!(image_error(&rec(&[])), malformed("pages: bad page count"));
    // A count above the limit, or beyond the data.
    let bad_count = |n: u32, extra: usize| {
        image_with(
            |w| an_mm(w, 1),
            move |w| {
                let mut p = 1u32.to_le_bytes().to_vec();
                p.extend_from_slice(&n.to_le_bytes());
                p.resize(8 + extra, 0);
                w.raw(kind::PAGES, 1, &p);
            },
        )
    };
    assert_eq!(
        image_error(&bad_count(MAX_PAGES_PER_RECORD + 1, 0)),
        malformed("pages: bad page count")
    );
    assert_eq!(
        image_error(&bad_count(2, 8 * 2 + PAGE_SIZE)),
        ImageError::Truncated
    );
}

#[test]
fn fds() {
    let table = |count, fds: &[Fd]| {
        let fds = fds.to_vec();
        image(move |w| {
            w.record(&sample::files()[3]).unwrap(); // file id 5
            w.record(&FilesRec { id: 6, count }).unwrap();
            for f in &fds {
                w.record(f).unwrap();
            }
        })
    };
    let fd = |fd| Fd {
        fd,
        file: 5,
        flags: 0,
    };
    reader::validate(table(2, &[fd(0), fd(MAX_FD - 1)]).as_slice()).unwrap();
    for n in [MAX_FD, u32::MAX, 1 << 31] {
        assert_eq!(
            image_error(&table(1, &[fd(n)])),
            malformed("fd: number too large")
        );
    }
    assert_eq!(
        image_error(&table(MAX_FD + 1, &[])),
        malformed("files: too many fds")
    );
    assert_eq!(
        image_error(&table(u32::MAX, &[])),
        malformed("files: too many fds")
    );
    assert_eq!(
        image_error(&table(2, &[fd(3), fd(3)])),
        malformed("fds not ascending")
    );
    assert_eq!(
        image_error(&table(2, &[fd(4), fd(3)])),
        malformed("fds not ascending")
    );
    assert_eq!(
        image_error(&table(3, &[fd(0), fd(1)])),
        ImageError::BadOrder("fewer fd records than the fd table announced")
    );
    assert_eq!(
        image_error(&table(1, &[fd(0), fd(1)])),
        ImageError::BadOrder("fd outside an fd table")
    );
    assert_eq!(
        image_error(&table(
            1,
            &[Fd {
                fd: 0,
                file: 9,
                flags: 0
            }]
        )),
        malformed("reference to an undefined object")
    );
    assert_eq!(
        image_error(&table(
            1,
            &[Fd {
                fd: 0,
                file: 0,
                flags: 0
            }]
        )),
        malformed("fd: zero file id")
    );
    assert_eq!(
        image_error(&table(
            1,
            &[Fd {
                fd: 0,
                file: 5,
                flags: 2
            }]
        )),
        malformed("fd: unknown flags")
    );
}

#[test]
fn stream_order() {
    // No header first.
    let mut w = ImageWriter::new();
    w.record(&bare_task(1)).unwrap();
    assert_eq!(
        image_error(&w.finish().unwrap()),
        ImageError::BadOrder("stream does not start with a header")
    );
    // Two headers.
    let img = image(|w| {
        w.record(&sample::header(1)).unwrap();
    });
    assert_eq!(image_error(&img), ImageError::BadOrder("second header"));
    // Per-task record before any task.
    let img = image(|w| {
        w.record(&sample::regs(0)).unwrap();
    });
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("per-task record before any task")
    );
    // More tasks than announced.
    let img = image(|w| {
        w.record(&bare_task(7)).unwrap();
    });
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("more tasks than the header announced")
    );
    // Object ids must increase.
    let fs = |id| FsRec {
        id,
        umask: 0,
        cwd: b"/",
        root: b"/",
    };
    let img = image(|w| {
        w.record(&fs(5)).unwrap();
        w.record(&fs(5)).unwrap();
    });
    assert_eq!(image_error(&img), malformed("object ids not increasing"));
    // A task using an object defined later.
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&Task {
        fs: 1,
        ..bare_task(1)
    })
    .unwrap();
    w.record(&fs(1)).unwrap();
    assert_eq!(
        image_error(&w.finish().unwrap()),
        malformed("reference to an undefined object")
    );
    // Anything after the end record.
    let mut img = image(|_| {});
    img.extend_from_slice(&RecordHeader::for_payload(kind::FD, 1, &[]).to_bytes());
    let e = error(&img);
    assert_eq!(
        e.image_error(),
        Some(ImageError::BadOrder("data after the end record"))
    );
    let mut img = image(|_| {});
    img.push(0);
    assert_eq!(
        image_error(&img),
        ImageError::BadOrder("data after the end record")
    );
    // No end record.
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&bare_task(1)).unwrap();
    assert_eq!(image_error(w.bytes()), ImageError::Truncated);
}

#[test]
fn end_record() {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&bare_task(1)).unwrap();
    let mut a = w.account();
    a.records += 1;
    w.record(&End { account: a }).unwrap();
    assert_eq!(image_error(w.bytes()), ImageError::TrailerMismatch);
    // A record dropped from the middle, everything resealed: the end record
    // still tells.
    let img = sample::tiny();
    let recs = walk(&img);
    let (off, h) = recs[3];
    let mut cut = img[..off].to_vec();
    cut.extend_from_slice(&img[off + REC_HDR_LEN + h.len as usize..]);
    assert_eq!(image_error(&cut), ImageError::TrailerMismatch);
    // Resealing (fixing the end) makes it fail on content instead, or pass.
    reseal(&mut cut);
    let _ = reader::validate(cut.as_slice());
}

#[test]
fn bad_check() {
    let img = sample::tiny();
    for (i, (off, h)) in walk(&img).into_iter().enumerate() {
        let mut m = img.clone();
        m[off + 8] ^= 0x80; // the check itself
        let e = error(&m);
        assert_eq!(e.image_error(), Some(ImageError::BadCheck { kind: h.kind }));
        assert_eq!(e.index, i as u64 + 1);
        assert_eq!(e.offset, off as u64);
    }
}

#[test]
fn record_contents() {
    let mut creds = ckpt::image::Creds {
        id: 1,
        uids: [0; 4],
        gids: [0; 4],
        caps: [0; 5],
        securebits: 0,
        no_new_privs: 2,
        groups: b"",
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            image(|w| {
                w.record(&FsRec {
                    id: 1,
                    umask: 0o1777,
                    cwd: b"/",
                    root: b"/",
                })
                .unwrap();
            }),
            "fs: bad umask",
        ),
        (
            image(|w| {
                w.record(&FsRec {
                    id: 1,
                    umask: 0,
                    cwd: b"relative",
                    root: b"/",
                })
                .unwrap();
            }),
            "fs: path not absolute",
        ),
        (
            image(|w| {
                w.record(&FileRec {
                    path: b"rel",
                    ..sample::files()[2]
                })
                .unwrap();
            }),
            "file: path not absolute",
        ),
        (
            image(|w| {
                w.record(&FileRec {
                    pos: -1,
                    ..sample::files()[2]
                })
                .unwrap();
            }),
            "file: negative offset",
        ),
        (
            image(|w| {
                w.record(&FileRec {
                    kind: 0,
                    ..sample::files()[2]
                })
                .unwrap();
            }),
            "file: unknown kind",
        ),
        (
            image(|w| {
                w.record(&FileRec {
                    pipe: 0,
                    ..sample::files()[0]
                })
                .unwrap();
            }),
            "file: pipe reference mismatch",
        ),
        (
            image(|w| {
                w.record(&PipeRec {
                    id: 1,
                    capacity: 2,
                    data: b"abc",
                })
                .unwrap();
            }),
            "pipe: more data than capacity",
        ),
        (
            image(|w| {
                w.record(&creds).unwrap();
            }),
            "creds: bad no_new_privs",
        ),
        (
            image(|w| {
                let mut a = sample::sigactions();
                a[8].handler = 1; // SIGKILL ignored
                w.record(&sample::sighand_of(1, &a)).unwrap();
            }),
            "sighand: SIGKILL/SIGSTOP not default",
        ),
        (
            image(|w| {
                let mut a = sample::sigactions();
                a[1].handler = 0xffff_ffff_8100_0000;
                w.record(&sample::sighand_of(1, &a)).unwrap();
            }),
            "sighand: handler outside user space",
        ),
        (
            image(|w| {
                w.record(&SignalRec {
                    id: 1,
                    itimers: [Itimer::default(); 3],
                    shared: SigQueue::new(0, &sample::SIGINFO_USR1),
                })
                .unwrap();
            }),
            "signals: queued signal not pending",
        ),
        (
            image(|w| {
                let bad = sample::siginfo(65, 0, 0);
                w.record(&SignalRec {
                    id: 1,
                    itimers: [Itimer::default(); 3],
                    shared: SigQueue::new(u64::MAX, &bad),
                })
                .unwrap();
            }),
            "signals: bad signal number",
        ),
        (
            image(|w| {
                w.record(&MmRec {
                    id: 1,
                    layout: [0, 0, 0, 0, 0x2000, 0x1000, 0, 0, 0, 0, 0],
                    ..sample::mm(0)
                })
                .unwrap();
            }),
            "mm: brk below start_brk",
        ),
        (
            image(|w| {
                let mut m = MmRec {
                    id: 1,
                    ..sample::mm(0)
                };
                m.layout[6] = u64::MAX;
                w.record(&m).unwrap();
            }),
            "mm: layout address outside user space",
        ),
        (
            image(|w| {
                let mut p = Vec::new();
                p.extend_from_slice(&1u32.to_le_bytes());
                p.extend_from_slice(&0u32.to_le_bytes());
                p.extend_from_slice(&[0; 88]);
                p.extend_from_slice(&(MAX_AUXV_WORDS as u32 + 1).to_le_bytes());
                w.raw(kind::MM, 1, &p);
            }),
            "mm: auxv too long",
        ),
    ];
    for (img, want) in cases {
        assert_eq!(image_error(&img), malformed(want), "{want}");
    }
    creds.no_new_privs = 1;
    reader::validate(
        image(|w| {
            w.record(&creds).unwrap();
        })
        .as_slice(),
    )
    .unwrap();

    // Per-task records.
    let task_rec = |f: &dyn Fn(&mut ImageWriter)| {
        let mut w = ImageWriter::new();
        w.record(&sample::header(1)).unwrap();
        w.record(&bare_task(1)).unwrap();
        f(&mut w);
        w.finish().unwrap()
    };
    let mut r = sample::regs(0);
    r.r[REG_RIP] = 0xffff_ffff_8100_0000;
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&r).unwrap();
        })),
        malformed("regs: rip outside user space")
    );
    let mut r = sample::regs(0);
    r.r[REG_FS_BASE] = USER_ADDR_END;
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&r).unwrap();
        })),
        malformed("regs: segment base outside user space")
    );
    let area = sample::xstate_area();
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&Xstate {
                xstate_bv: 0xff,
                area: &area,
            })
            .unwrap();
        })),
        malformed("xstate: XSTATE_BV disagrees with the area")
    );
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&Xstate {
                xstate_bv: 0,
                area: &area[..XSAVE_MIN_LEN - 1],
            })
            .unwrap();
        })),
        malformed("xstate: bad size")
    );
    let mut lim = sample::rlimits();
    lim.lim[7] = (10, 5);
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&lim).unwrap();
        })),
        malformed("rlimits: soft limit above hard limit")
    );
    assert_eq!(
        image_error(&task_rec(&|w| {
            w.record(&ThreadSignals {
                blocked: 0,
                altstack_sp: u64::MAX - 10,
                altstack_size: 100,
                altstack_flags: 0,
                pending: SigQueue::new(0, &[]),
            })
            .unwrap();
        })),
        malformed("thread-signals: altstack outside user space")
    );
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&Task {
        comm: b"sixteen-chars!!!",
        ..bare_task(1)
    })
    .unwrap();
    assert_eq!(
        image_error(&w.finish().unwrap()),
        malformed("task: comm too long")
    );
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&Task {
        exit_signal: 65,
        ..bare_task(1)
    })
    .unwrap();
    assert_eq!(
        image_error(&w.finish().unwrap()),
        malformed("task: bad exit signal")
    );
}

#[test]
fn errors_name_the_record() {
    let img = sample::small();
    let recs = walk(&img);
    let (off, h) = recs[4];
    let mut m = img.clone();
    m[off + REC_HDR_LEN] ^= 1;
    let e = error(&m);
    assert_eq!(e.index, 5);
    assert_eq!(e.offset, off as u64);
    assert_eq!(e.kind, Some(h.kind));
    assert_eq!(
        e.to_string(),
        format!(
            "record #5 (kind {:#06x} {} at offset {off}): record check mismatch (corrupted image)",
            h.kind,
            kind::name(h.kind)
        )
    );
    // The reader stops at the first error.
    let mut r = Reader::new(m.as_slice()).unwrap();
    let mut n = 0;
    while let Ok(Some(_)) = r.next_record() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(r.next_record().unwrap(), None);
}

/// Swapping two records 64 records apart goes unnoticed by the end record:
/// `StreamAccount::add` chains with `rotate_left(5) ^ value`, which is
/// linear, and rotating by 5 * 64 bits is the identity, so both orders give
/// the same chain. Here the registers of thread 0 and thread 16 are swapped
/// and the image is accepted. Reported to the lead; enable once
/// `StreamAccount::add` mixes non-linearly (e.g. with `xround`).
#[test]

fn swapped_records_are_caught() {
    let threads = 17;
    let mut w = ImageWriter::new();
    w.record(&sample::header(threads)).unwrap();
    for t in 0..threads {
        w.record(&bare_task(100 + t as i32)).unwrap();
        w.record(&sample::regs(t)).unwrap();
        w.record(&Xstate {
            xstate_bv: sample::XSTATE_BV,
            area: &sample::xstate_area(),
        })
        .unwrap();
        w.record(&ThreadSignals {
            blocked: 0,
            altstack_sp: 0,
            altstack_size: 0,
            altstack_flags: 0,
            pending: SigQueue::new(0, &[]),
        })
        .unwrap();
    }
    let img = w.finish().unwrap();
    let recs = walk(&img);
    // Records: 0 header, then 4 per thread: task, regs, xstate, signals.
    let (a, b) = (2, 2 + 64);
    assert_eq!(recs[a].1.kind, kind::REGS);
    assert_eq!(recs[b].1.kind, kind::REGS);
    assert_eq!(recs[a].1.len, recs[b].1.len);
    let span = |i: usize| {
        let (o, h) = recs[i];
        o..o + REC_HDR_LEN + h.len as usize
    };
    let mut m = img.clone();
    let ra = img[span(a)].to_vec();
    let rb = img[span(b)].to_vec();
    m[span(a)].copy_from_slice(&rb);
    m[span(b)].copy_from_slice(&ra);
    assert_ne!(m, img);
    assert_eq!(image_error(&m), ImageError::TrailerMismatch);
}
