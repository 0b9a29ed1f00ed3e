// SPDX-License-Identifier: GPL-2.0

//! `ckpt restart` without the module: what the restarter reads from an
//! image, which images and inputs it refuses, and how it moves the vDSO.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use ckpt::image::*;
use ckpt::restart::{
    check_moves, maps, open_image, plan, plan_moves, plan_park, Mapping, Move, PipePlan, PlanError,
    Special, VdsoError,
};
use ckpt::sample;
use ckpt::writer::ImageWriter;

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("restart");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn ckpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(args)
        .output()
        .expect("run ckpt")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------
// Plan extraction.

/// The sample's special mappings.
fn sample_specials() -> Vec<Special> {
    vec![
        Special {
            name: "[vvar]".into(),
            start: 0x7fff_f7fc_0000,
            end: 0x7fff_f7fc_4000,
        },
        Special {
            name: "[vdso]".into(),
            start: 0x7fff_f7fc_4000,
            end: 0x7fff_f7fc_6000,
        },
    ]
}

#[test]
fn plan_of_the_sample() {
    for img in [sample::tiny(), sample::small()] {
        let p = plan(img.as_slice()).expect("plan");
        assert_eq!(p.kernel_release, sample::KERNEL);
        let r = p.root();
        assert_eq!(r.pid, sample::ROOT_PID);
        assert_eq!(r.comm, "sample");
        assert_eq!(r.cwd, b"/home/user");
        assert_eq!(r.root, b"/");
        assert_eq!(r.specials, sample_specials());
        let want: Vec<(u64, u64)> = sample::vmas()
            .iter()
            .filter(|v| v.backing != backing::VSYSCALL)
            .map(|v| (v.start, v.end))
            .collect();
        assert_eq!(r.vmas, want);
        assert_eq!(
            p.pipes,
            vec![PipePlan {
                id: sample::id::PIPE,
                capacity: 65536,
                buffered: sample::PIPE_DATA.len(),
            }]
        );
    }
}

#[test]
fn plan_stops_at_the_pages() {
    // Whatever follows the first page record is the module's business:
    // here the image ends right after it.
    let img = sample::small();
    let recs = ckpt::writer::walk(&img);
    let end = recs.last().unwrap().0;
    assert!(ckpt::reader::validate(&img[..end]).is_err());
    let p = plan(&img[..end]).expect("plan of an image cut after its pages");
    assert_eq!(p.root().pid, sample::ROOT_PID);
}

#[test]
fn threads_are_planned_with_their_process() {
    let p = plan(sample::full().as_slice()).expect("plan");
    assert_eq!(p.procs.len(), 1);
    assert_eq!(p.procs[0].pid, sample::ROOT_PID);
    assert_eq!(p.procs[0].threads, vec![sample::ROOT_PID + 1]);
    assert_eq!(p.procs[0].zombie, None);
    assert_eq!(p.procs[0].cwd, b"/home/user");
}

#[test]
fn damaged_images_are_refused() {
    let mut img = sample::small();
    let off = ckpt::writer::walk(&img)[2].0;
    img[off + 20] ^= 0x40;
    let e = plan(img.as_slice()).unwrap_err();
    assert!(matches!(e, PlanError::Read(_)), "{e:?}");
    assert!(e.to_string().starts_with("record #3 "), "{e}");
    let e = plan(&b"hello world"[..]).unwrap_err();
    assert!(e.to_string().contains("bad magic"), "{e}");
}

/// A task with every object id `id`.
fn task(id: u32) -> Task<'static> {
    Task {
        mm: id,
        files: id,
        fs: id,
        sighand: id,
        signal: id,
        creds: id,
        ..sample::task(0)
    }
}

fn file(id: u32, kind: u8, pipe: u32, path: &'static [u8]) -> FileRec<'static> {
    FileRec {
        id,
        kind,
        flags: 0,
        mode: 0o010600,
        pos: 0,
        size: 0,
        mtime_ns: 0,
        rdev: 0,
        pipe,
        path,
    }
}

#[test]
fn fifo_pipes_get_no_fresh_pipe() {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&PipeRec {
        id: 1,
        capacity: 4096,
        data: b"fifo",
    })
    .unwrap();
    w.record(&file(2, filekind::FIFO, 1, b"/tmp/fifo")).unwrap();
    w.record(&PipeRec {
        id: 3,
        capacity: 1 << 20,
        data: b"pipe",
    })
    .unwrap();
    w.record(&file(4, filekind::PIPE, 3, b"")).unwrap();
    w.record(&FsRec {
        id: 5,
        umask: 0o022,
        cwd: b"/srv/jail/work",
        root: b"/srv/jail",
    })
    .unwrap();
    w.record(&task(5)).unwrap();
    let img = w.finish().unwrap();
    let p = plan(img.as_slice()).expect("plan");
    assert_eq!(
        p.pipes,
        vec![PipePlan {
            id: 3,
            capacity: 1 << 20,
            buffered: 4
        }]
    );
    let r = p.root();
    assert_eq!(r.cwd, b"/srv/jail/work");
    assert_eq!(r.root, b"/srv/jail");
    assert!(r.specials.is_empty() && r.vmas.is_empty());
}

/// A datagram socket of the image (file `id`, inode `ino`), not connected.
fn dgram(id: u32, ino: u64) -> UnixSock<'static> {
    UnixSock {
        file: id,
        ino,
        peer: 0,
        listener: 0,
        sock_type: unix_type::DGRAM,
        state: unix_state::CLOSE,
        shutdown: 0,
        flags: 0,
        backlog: 0,
        sndbuf: 212_992,
        rcvbuf: 212_992,
        peek_off: -1,
        rcvlowat: 1,
        rcvtimeo_us: 0,
        sndtimeo_us: 0,
        file_mode: 0,
        file_uid: 0,
        file_gid: 0,
        name: b"",
        peer_name: b"",
        path: b"",
    }
}

/// Sockets in flight that carry each other: a socket's buffers go to their
/// owner's queue, however the records interleave (the carrying socket's records
/// come between a socket in flight's and its queue's); a memfd and a deleted
/// file in flight are listed for the restarter to make.
#[test]
fn sockets_in_flight_carrying_each_other() {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&FileRec {
        rdev: 0x20,
        mode: 0o100600,
        ..file(2, filekind::MEMFD, 0, b"/memfd:m (deleted)")
    })
    .unwrap();
    w.record(&FileRec {
        mode: 0o100600,
        ..file(3, filekind::GHOST, 0, b"/tmp/g (deleted)")
    })
    .unwrap();
    // Socket 4 in flight: its records, then socket 5 (an fd's) and its queue.
    w.record(&file(4, filekind::UNIX, 0, b"socket:[100]"))
        .unwrap();
    w.record(&dgram(4, 100)).unwrap();
    w.record(&file(5, filekind::UNIX, 0, b"socket:[200]"))
        .unwrap();
    w.record(&dgram(5, 200)).unwrap();
    for data in [&b"a"[..], b"b"] {
        w.record(&UnixSkb {
            owner: 200,
            sender: 100,
            sender_name: b"",
            data,
        })
        .unwrap();
        w.record(&UnixFds {
            files: &[4, 0, 0, 0, 5, 0, 0, 0],
        })
        .unwrap();
    }
    // Then socket 4's queue.
    w.record(&UnixSkb {
        owner: 100,
        sender: 200,
        sender_name: b"",
        data: b"c",
    })
    .unwrap();
    w.record(&UnixFds {
        files: &[2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0],
    })
    .unwrap();
    w.record(&FsRec {
        id: 6,
        umask: 0o022,
        cwd: b"/",
        root: b"/",
    })
    .unwrap();
    w.record(&task(6)).unwrap();
    let img = w.finish().unwrap();
    let p = plan(img.as_slice()).expect("plan");
    let s = |ino| p.sockets.iter().find(|s| s.ino == ino).unwrap();
    assert_eq!(s(200).queue.len(), 2);
    assert_eq!(s(200).queue_fds, vec![vec![4, 5], vec![4, 5]]);
    assert_eq!(s(100).queue.len(), 1);
    assert_eq!(s(100).queue[0].2, b"c");
    assert_eq!(s(100).queue_fds, vec![vec![2, 3, 4]]);
    let made: Vec<(u32, u8, u32)> = p
        .inflight_made
        .iter()
        .map(|m| (m.id, m.kind, m.seals))
        .collect();
    assert_eq!(
        made,
        vec![(2, filekind::MEMFD, 0x20), (3, filekind::GHOST, 0)]
    );
}

#[test]
fn missing_records_are_refused() {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&PipeRec {
        id: 1,
        capacity: 4096,
        data: b"",
    })
    .unwrap();
    w.record(&task(1)).unwrap();
    let img = w.finish().unwrap();
    let e = plan(img.as_slice()).unwrap_err();
    assert!(matches!(e, PlanError::Missing("fs")), "{e:?}");
    assert_eq!(e.to_string(), "the image has no fs record");
}

// ---------------------------------------------------------------------------
// Inputs.

#[test]
fn only_regular_files() {
    let e = open_image("-".as_ref()).unwrap_err();
    assert!(e.contains("restart needs a seekable image file"), "{e}");

    let fifo = tmp("image.fifo");
    let _ = std::fs::remove_file(&fifo);
    let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Refused at once: opening does not wait for a writer.
    let e = open_image(&fifo).unwrap_err();
    assert!(
        e.contains("restart needs a seekable image file (this is a pipe)"),
        "{e}"
    );

    let e = open_image(&tmp("")).unwrap_err();
    assert!(e.contains("(this is a directory)"), "{e}");
    let e = open_image("/nonexistent/image".as_ref()).unwrap_err();
    assert_eq!(
        e,
        "/nonexistent/image: cannot open: No such file or directory (ENOENT)"
    );

    let p = tmp("small.ckpt");
    std::fs::write(&p, sample::small()).unwrap();
    let f = open_image(&p).expect("a regular file");
    assert_eq!(plan(&f).unwrap().root().pid, sample::ROOT_PID);
}

#[test]
fn cli_refusals() {
    let o = ckpt(&["restart", "-"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("ckpt: restart needs a seekable image file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    let p = tmp("small-cli.ckpt");
    std::fs::write(&p, sample::small()).unwrap();
    let o = ckpt(&[
        "--device",
        "/nonexistent/ckpt-device",
        "restart",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("insmod ckpt.ko"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // /dev/null answers no ckpt ioctl.
    let o = ckpt(&["--device", "/dev/null", "restart", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a ckpt device"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------
// Moving the vDSO.

const EXE: &str = "\
55d0c0a00000-55d0c0a3a000 r--p 00000000 fe:01 393231                     /usr/bin/ckpt
55d0c0a3a000-55d0c0b40000 r-xp 0003a000 fe:01 393231                     /usr/bin/ckpt
55d0c0b40000-55d0c0b80000 rw-p 00140000 fe:01 393231                     /usr/bin/ckpt
55d0c1e1c000-55d0c1e3d000 rw-p 00000000 00:00 0                          [heap]
7f1e2a000000-7f1e2a021000 rw-p 00000000 00:00 0 
7ffc8a5e0000-7ffc8a601000 rw-p 00000000 00:00 0                          [stack]
";
const VSYSCALL: &str =
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

/// A listing with `[vvar]` at `vvar` (4 pages) and `[vdso]` at `vdso` (2).
fn listing(vvar: u64, vdso: u64) -> String {
    let mut v = vec![
        (vvar, vvar + 0x4000, "r--p", "[vvar]"),
        (vdso, vdso + 0x2000, "r-xp", "[vdso]"),
    ];
    v.sort();
    let mut s = EXE.to_string();
    for (a, b, perms, name) in v {
        s += &format!("{a:x}-{b:x} {perms} 00000000 00:00 0                          {name}\n");
    }
    s + VSYSCALL
}

fn sample_vmas() -> Vec<(u64, u64)> {
    plan(sample::tiny().as_slice()).unwrap().root().vmas.clone()
}

/// Plays `moves` on the listing as the kernel would, asserting that none
/// unmaps anything or overlaps its own source, and that the specials end
/// where the image had them.
fn simulate(text: &str, moves: &[Move], image: &[Special]) {
    let mut state: Vec<(u64, u64, String)> = maps(text)
        .map(|m| (m.start, m.end, m.name.to_string()))
        .collect();
    for m in moves {
        let i = state
            .iter()
            .position(|s| s.0 == m.from && s.1 - s.0 == m.len)
            .unwrap_or_else(|| panic!("{m:?}: nothing at the source"));
        assert_eq!(state[i].2, m.name, "{m:?} moves another mapping");
        let to = (m.to, m.to + m.len);
        assert!(
            !(to.0 < state[i].1 && state[i].0 < to.1),
            "{m:?} overlaps its source"
        );
        for (j, s) in state.iter().enumerate() {
            assert!(
                j == i || !(to.0 < s.1 && s.0 < to.1),
                "{m:?} would unmap {s:?}"
            );
        }
        state[i].0 = m.to;
        state[i].1 = m.to + m.len;
    }
    for sp in image {
        assert!(
            state
                .iter()
                .any(|s| s.2 == sp.name && s.0 == sp.start && s.1 == sp.end),
            "{} not in place: {state:x?}",
            sp.name
        );
    }
}

#[test]
fn maps_parse() {
    let text = listing(0x7fff_f7fc_0000, 0x7fff_f7fc_4000);
    let m: Vec<Mapping<'_>> = maps(&text).collect();
    assert_eq!(m.len(), 9);
    assert_eq!(
        m[0],
        Mapping {
            start: 0x55d0_c0a0_0000,
            end: 0x55d0_c0a3_a000,
            name: "/usr/bin/ckpt"
        }
    );
    assert_eq!(m[4].name, "", "anonymous mapping");
    assert_eq!(m[6].name, "[vvar]");
    assert_eq!(m[8].start, VSYSCALL_ADDR);
    // Names with spaces, and junk lines.
    let t = "1000-2000 rw-s 00000000 00:05 77    /dev/shm/a b (deleted)\nnonsense\n";
    let m: Vec<Mapping<'_>> = maps(t).collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].name, "/dev/shm/a b (deleted)");
}

/// With a vDSO proxy, the restarter's vDSO stays where it is unless it is in
/// the image's way; then the whole block moves by one distance, clear of
/// everything.
#[test]
fn vdso_parks_out_of_the_image_way() {
    let vmas = sample_vmas();
    // Far from every mapping of the image: nothing to do.
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    assert!(plan_park(&text, &vmas).unwrap().is_empty());
    // On the image's own vDSO (where a proxy goes): moved, layout kept.
    let (vvar, vdso) = (0x7fff_f7fc_0000u64, 0x7fff_f7fc_4000u64);
    let text = listing(vvar, vdso);
    let moves = plan_park(&text, &vmas).unwrap();
    assert_eq!(moves.len(), 2, "{moves:?}");
    let to = |n: &str| moves.iter().find(|m| m.name == n).unwrap().to;
    assert_eq!(to("[vdso]") - to("[vvar]"), vdso - vvar);
    for m in moves.iter() {
        let dest = (m.to, m.to + m.len);
        assert!(!vmas.iter().any(|v| v.0 < dest.1 && dest.0 < v.1), "{m:?}");
    }
    check_moves(&text, &moves).unwrap();
}

#[test]
fn vdso_text_record_round_trips_and_is_ordered() {
    let data = vec![0xabu8; 8192];
    let r = VdsoText { data: &data };
    let mut buf = vec![0u8; 9000];
    let mut e = Enc::new(&mut buf);
    r.encode(&mut e).unwrap();
    let n = e.len();
    assert_eq!(VdsoText::from_payload(&buf[..n]).unwrap(), r);
    // Not whole pages, or empty: refused.
    for len in [0usize, 100, 4097] {
        let d = vec![0u8; len];
        let mut buf = vec![0u8; len + 8];
        let mut e = Enc::new(&mut buf);
        VdsoText { data: &d }.encode(&mut e).unwrap();
        let n = e.len();
        assert!(VdsoText::from_payload(&buf[..n]).is_err(), "{len}");
    }
    assert_eq!(kind::name(kind::VDSO_TEXT), "vdso-text");
    assert_eq!(kind::VDSO_TEXT & KIND_OPTIONAL, KIND_OPTIONAL);
}

#[test]
fn vdso_in_place_is_left_alone() {
    let image = sample_specials();
    let text = listing(0x7fff_f7fc_0000, 0x7fff_f7fc_4000);
    let moves = plan_moves(&text, &image, &sample_vmas()).unwrap();
    assert!(moves.is_empty(), "{moves:?}");
    check_moves(&text, &moves).unwrap();
}

#[test]
fn vdso_far_away_moves_directly() {
    let image = sample_specials();
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    let moves = plan_moves(&text, &image, &sample_vmas()).unwrap();
    assert_eq!(
        &*moves,
        &[
            Move {
                name: "[vvar]",
                from: 0x7ffc_8a6f_c000,
                to: 0x7fff_f7fc_0000,
                len: 0x4000
            },
            Move {
                name: "[vdso]",
                from: 0x7ffc_8a70_0000,
                to: 0x7fff_f7fc_4000,
                len: 0x2000
            },
        ]
    );
    check_moves(&text, &moves).unwrap();
    simulate(&text, &moves, &image);
}

#[test]
fn overlapping_moves_go_through_scratch_space() {
    let image = sample_specials();
    let base = 0x7fff_f7fc_0000u64;
    for (vvar, vdso) in [
        // Shifted by a page: each overlaps its own destination.
        (base + 0x1000, base + 0x5000),
        (base - 0x1000, base + 0x3000),
        // Swapped: each sits where the other goes.
        (base + 0x2000, base),
        // The vdso where the vvar goes, the vvar far away.
        (0x7ffc_8a6f_c000, base + 0x1000),
    ] {
        let text = listing(vvar, vdso);
        let moves = plan_moves(&text, &image, &sample_vmas())
            .unwrap_or_else(|e| panic!("{vvar:#x} {vdso:#x}: {e}"));
        assert_eq!(moves.len(), 4, "{moves:x?}");
        check_moves(&text, &moves).unwrap();
        simulate(&text, &moves, &image);
    }
}

#[test]
fn no_scratch_space() {
    let image = sample_specials();
    let base = 0x7fff_f7fc_0000u64;
    let text = format!(
        "10000-{:x} rw-p 00000000 00:00 0\n{}{:x}-7ffffffff000 rw-p 00000000 00:00 0 \n",
        base - 0x4000,
        listing(base + 0x1000, base + 0x5000)
            .lines()
            .filter(|l| l.contains("[v"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        base + 0x10000,
    );
    let e = plan_moves(&text, &image, &sample_vmas()).unwrap_err();
    assert_eq!(e, VdsoError::NoScratch(0x6000));
}

#[test]
fn vdso_of_another_size_is_refused() {
    let image = vec![
        Special {
            name: "[vvar]".into(),
            start: 0x7fff_f7fc_0000,
            end: 0x7fff_f7fc_3000,
        },
        sample_specials()[1].clone(),
    ];
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    let e = plan_moves(&text, &image, &[]).unwrap_err();
    assert_eq!(
        e,
        VdsoError::Size {
            name: "[vvar]",
            here: 0x4000,
            image: 0x3000
        }
    );
    assert!(e.to_string().contains("not supported yet"), "{e}");
}

#[test]
fn vdso_of_another_kernel_is_refused() {
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    let mut image = sample_specials();
    image.push(Special {
        name: "[vvar_vclock]".into(),
        start: 0x7fff_f7fc_6000,
        end: 0x7fff_f7fc_8000,
    });
    let e = plan_moves(&text, &image, &[]).unwrap_err();
    assert_eq!(e, VdsoError::Missing("[vvar_vclock]".into()));
    assert!(e.to_string().contains("not supported yet"), "{e}");

    let image = vec![sample_specials()[1].clone()];
    let e = plan_moves(&text, &image, &[]).unwrap_err();
    assert_eq!(e, VdsoError::Extra("[vvar]"));
}

#[test]
fn destination_taken_by_the_tool_is_refused() {
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    // The image's vdso where the tool has its heap.
    let image = vec![
        Special {
            name: "[vvar]".into(),
            start: 0x55d0_c1e1_0000,
            end: 0x55d0_c1e1_4000,
        },
        Special {
            name: "[vdso]".into(),
            start: 0x55d0_c1e1_c000,
            end: 0x55d0_c1e1_e000,
        },
    ];
    let e = plan_moves(&text, &image, &[]).unwrap_err();
    assert_eq!(
        e,
        VdsoError::Overlap {
            name: "[vdso]",
            to: (0x55d0_c1e1_c000, 0x55d0_c1e1_e000),
            other: "[heap]".into(),
            at: (0x55d0_c1e1_c000, 0x55d0_c1e3_d000),
        }
    );
    assert!(
        e.to_string().contains("where the restarter has [heap]"),
        "{e}"
    );
}

#[test]
fn image_without_vdso() {
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    let moves = plan_moves(&text, &[], &sample_vmas()).unwrap();
    assert!(moves.is_empty());
    // The tool's vdso would sit in the middle of one of the image's mappings.
    let e = plan_moves(&text, &[], &[(0x7ffc_8a00_0000, 0x7ffc_8b00_0000)]).unwrap_err();
    assert!(
        matches!(e, VdsoError::InTheWay { name: "[vvar]", .. }),
        "{e:?}"
    );
}

#[test]
fn stale_moves_are_caught() {
    let image = sample_specials();
    let text = listing(0x7ffc_8a6f_c000, 0x7ffc_8a70_0000);
    let moves = plan_moves(&text, &image, &[]).unwrap();
    // Something was mapped at the destination since the plan was made.
    let later = text.clone()
        + "7ffff7fc1000-7ffff7fc2000 rw-p 00000000 00:00 0                          \n";
    assert!(matches!(
        check_moves(&later, &moves),
        Err(VdsoError::Stale(_))
    ));
    // The vdso is no longer where the plan found it.
    let moved = listing(0x7ffc_8a6f_c000, 0x7ffc_8a80_0000);
    assert!(matches!(
        check_moves(&moved, &moves),
        Err(VdsoError::Stale(m)) if m.name == "[vdso]"
    ));
}

/// This process's special mappings, shifted by `delta`.
fn own_specials_shifted(text: &str, delta: i64) -> Vec<Special> {
    maps(text)
        .filter(|m| ckpt::restart::SPECIAL_NAMES.contains(&m.name))
        .map(|m| Special {
            name: m.name.to_string(),
            start: m.start.wrapping_add_signed(delta),
            end: m.end.wrapping_add_signed(delta),
        })
        .collect()
}

/// A shift that puts this process's special mappings in a free range, with
/// room around it.
fn free_shift(text: &str) -> Option<i64> {
    let own = own_specials_shifted(text, 0);
    let lo = own.iter().map(|s| s.start).min()?;
    let hi = own.iter().map(|s| s.end).max()?;
    (1..256i64).map(|k| -(k << 24)).find(|&d| {
        let r = (
            lo.wrapping_add_signed(d) - (2 << 20),
            hi.wrapping_add_signed(d) + (2 << 20),
        );
        !maps(text).any(|m| m.start < r.1 && r.0 < m.end)
    })
}

/// Reads this process's listing without allocating (nor using the vDSO).
fn read_maps(buf: &mut [u8]) -> Option<&str> {
    let mut f = std::fs::File::open("/proc/self/maps").ok()?;
    let mut n = 0;
    loop {
        match std::io::Read::read(&mut f, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// In a forked child, moves the vDSO for real as each of `images` says in
/// turn, checking the result each time; true if all went right.
fn move_for_real(images: &[Vec<Special>]) -> bool {
    // SAFETY: the child only makes system calls and touches memory
    // allocated before the fork (no allocation, no lock), then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut buf = [0u8; 64 << 10];
        for image in images {
            let Ok(mut f) = std::fs::File::open("/proc/self/maps") else {
                ckpt::sys::exit_now(1)
            };
            if ckpt::sys::move_specials(&mut f, image, &[], false).is_err() {
                ckpt::sys::exit_now(2)
            }
            // No vDSO from here on.
            let Some(text) = read_maps(&mut buf) else {
                ckpt::sys::exit_now(1)
            };
            for s in image {
                if !maps(text).any(|m| m.name == s.name && m.start == s.start && m.end == s.end) {
                    ckpt::sys::exit_now(3)
                }
            }
        }
        ckpt::sys::exit_now(0);
    }
    let (_, status) = ckpt::sys::waitpid(pid).unwrap();
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    libc::WEXITSTATUS(status) == 0
}

#[test]
fn vdso_moves_for_real() {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap();
    if own_specials_shifted(&text, 0).is_empty() {
        return;
    }
    let d = free_shift(&text).expect("a free range for the vDSO");
    // Far away (direct moves), then by a page either way (each overlaps its
    // own old place: through scratch space), then back.
    let images: Vec<Vec<Special>> = [d, d - 0x1000, d + 0x1000, 0]
        .iter()
        .map(|&x| own_specials_shifted(&text, x))
        .collect();
    assert!(move_for_real(&images));
    // Where the tool's own mappings are: refused, and nothing moved.
    let exe = maps(&text).find(|m| m.name.contains("restart-")).unwrap();
    let base = own_specials_shifted(&text, 0)[0].start;
    let onto_exe = own_specials_shifted(&text, exe.start.wrapping_sub(base) as i64);
    assert!(!move_for_real(&[onto_exe]));
}

/// `receive --as-user`: the image's uids, gids, groups and capabilities must be
/// the user's.
#[test]
fn id_limit() {
    use ckpt::restart::IdLimit;
    let img = sample::small();
    let p = plan(img.as_slice()).expect("plan");
    assert!(!p.creds.is_empty());
    let user = IdLimit {
        uid: 1000,
        gids: vec![4, 24, 1000, 27],
    };
    user.check(&p).unwrap();
    let e = IdLimit {
        uid: 1001,
        gids: user.gids.clone(),
    }
    .check(&p)
    .unwrap_err();
    assert!(e.contains("uid 1000, not 1001"), "{e}");
    let e = IdLimit {
        uid: 1000,
        gids: vec![1000, 4],
    }
    .check(&p)
    .unwrap_err();
    assert!(e.contains("group 24"), "{e}");
    let mut q = p.clone();
    q.creds[0].caps[1] = 1 << 21;
    q.creds[0].caps[2] = 1 << 21;
    let e = user.check(&q).unwrap_err();
    assert!(e.contains("capabilities"), "{e}");
    // Root may hold capabilities.
    q.creds.iter_mut().for_each(|c| {
        c.ids.uids = [0; 4];
    });
    IdLimit {
        uid: 0,
        gids: user.gids.clone(),
    }
    .check(&q)
    .unwrap();
    // A socket's peer credentials and a file's opener are the user's too.
    let mut q = p.clone();
    q.peer_ids.push((0, 1000, vec![]));
    let e = user.check(&q).unwrap_err();
    assert!(e.contains("unix socket whose connection uid 0 made"), "{e}");
    q.peer_ids = vec![(1000, 1000, vec![0])];
    let e = user.check(&q).unwrap_err();
    assert!(e.contains("made in group 0"), "{e}");
    q.peer_ids = vec![(1000, 1000, vec![24])];
    user.check(&q).unwrap();
    q.opened_as.push(ckpt::restart::OpenedAs {
        id: 9,
        path: b"/etc/shadow".to_vec(),
        flags: 0,
        dir: false,
        fsuid: 0,
        fsgid: 0,
        groups: vec![],
    });
    let e = user.check(&q).unwrap_err();
    assert!(e.contains("a file opened by uid 0"), "{e}");
}

/// A pidfd is opened by the restarters of the processes whose fd table holds it.
#[test]
fn pidfds_are_planned_with_the_tables_that_hold_them() {
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    w.record(&file(2, filekind::PIDFD, 0, b"anon_inode:[pidfd]"))
        .unwrap();
    w.record(&PidfdRec {
        file: 2,
        pid: sample::ROOT_PID,
        tgid: sample::ROOT_PID,
        flags: PIDFD_NONBLOCK,
    })
    .unwrap();
    w.record(&file(3, filekind::PIDFD, 0, b"anon_inode:[pidfd]"))
        .unwrap();
    w.record(&PidfdRec {
        file: 3,
        pid: 102,
        tgid: 101,
        flags: PIDFD_THREAD,
    })
    .unwrap();
    w.record(&FilesRec { id: 4, count: 2 }).unwrap();
    w.record(&Fd {
        fd: 5,
        file: 2,
        flags: FD_CLOEXEC,
    })
    .unwrap();
    w.record(&Fd {
        fd: 9,
        file: 2,
        flags: 0,
    })
    .unwrap();
    w.record(&FsRec {
        id: 5,
        umask: 0o022,
        cwd: b"/",
        root: b"/",
    })
    .unwrap();
    w.record(&Task {
        files: 4,
        ..task(5)
    })
    .unwrap();
    let img = w.finish().unwrap();
    let p = plan(img.as_slice()).expect("plan");
    assert_eq!(
        p.pidfds,
        vec![
            ckpt::restart::PidfdPlan {
                id: 2,
                pid: sample::ROOT_PID,
                flags: PIDFD_NONBLOCK,
                tables: vec![4],
            },
            // No fd table holds it: no restarter opens it.
            ckpt::restart::PidfdPlan {
                id: 3,
                pid: 102,
                flags: PIDFD_THREAD,
                tables: vec![],
            },
        ]
    );
}
