// SPDX-License-Identifier: GPL-2.0

//! Synthetic images through the reader, the order checker and `show`.

use ckpt::image::*;
use ckpt::reader::{self, Item, Reader};
use ckpt::sample;
use ckpt::show::{self, Options};
use serde_json::Value;

fn show_text(img: &[u8], pages: bool) -> String {
    let mut out = Vec::new();
    show::show(img, &mut out, &Options { json: false, pages }).expect("show text");
    String::from_utf8(out).expect("utf-8 output")
}

fn show_json(img: &[u8], pages: bool) -> Value {
    let mut out = Vec::new();
    show::show(img, &mut out, &Options { json: true, pages }).expect("show json");
    serde_json::from_slice(&out).expect("output parses as JSON")
}

#[test]
fn samples_validate() {
    for img in [sample::tiny(), sample::small(), sample::full()] {
        let t = reader::validate(img.as_slice()).expect("valid sample");
        assert_eq!(t.bytes, img.len() as u64);
        assert_eq!(t.skipped, 0);
    }
}

#[test]
fn every_kind_is_in_the_small_sample() {
    let img = sample::small();
    let mut r = Reader::new(img.as_slice()).unwrap();
    let mut kinds = Vec::new();
    while let Some(e) = r.next_record().unwrap() {
        kinds.push(e.header.kind);
    }
    for k in sample::PROCESS_KINDS {
        assert!(kinds.contains(&k), "kind {} missing", kind::name(k));
    }
    assert_eq!(kinds.first(), Some(&kind::HEADER));
    assert_eq!(kinds.last(), Some(&kind::END));
}

#[test]
fn reader_reports_offsets_and_account() {
    let img = sample::full();
    let mut r = Reader::new(img.as_slice()).unwrap();
    let mut expect_off = MAGIC.len() as u64;
    let mut n = 0;
    while let Some(e) = r.next_record().unwrap() {
        n += 1;
        assert_eq!(e.index, n);
        assert_eq!(e.offset, expect_off);
        expect_off += REC_HDR_LEN as u64 + e.header.len as u64;
        if let Item::Record(AnyRecord::End(end)) = e.item {
            assert_eq!(end.account.records, n - 1);
            assert_eq!(end.account.bytes, e.offset);
        }
    }
    assert_eq!(expect_off, img.len() as u64);
    assert_eq!(r.next_record().unwrap(), None);
}

#[test]
fn text_output() {
    let text = show_text(&sample::full(), false);
    for want in [
        "image format 1.12, x86_64, page size 4096",
        "fanotify group flags 0xe03, event flags 0o100000",
        "fanotify mark on /tmp/marked (mask 0x48000100, ignore mask 0x2, flags 0x400)",
        "fanotify mount mark on /tmp (mask 0x40000020, ignore mask 0x1, flags 0x40)",
        "2025-11-25 21:38:00.000 UTC on testhost, kernel 6.12.0-ckpt",
        "root pid 100, 2 tasks",
        "task 100 \"sample\" (tgid 100, ppid 1, pgid 100, sid 1) [leader]",
        "task 101 \"worker\"",
        "rip 0x0000000000401234",
        "rip 0x0000000000401235",
        "xstate: 832 bytes, xstate_bv 0x7",
        "mm #12: 10 vmas, exe /usr/bin/sample",
        "start_code 0x401000",
        "AT_PAGESZ=0x1000",
        "00401000-00403000 r-xp 00001000 file-private /usr/bin/sample",
        "7f0000000000-7f0000010000 rw-s 00000000 anon-shared  shm",
        "7ffffffdd000-7ffffffff000 rw-p 00000000 stack        [stack] (growsdown)",
        "ffffffffff600000-ffffffffff601000 --xp",
        "pages of mm #12: 4 pages (16.0 KiB), 0x403000-0x1021000",
        "pages of mm #12: 3 pages (12.0 KiB), 0x7f0000000000-0x7ffffffe0000",
        "pipe #1: capacity 65536, 8 bytes buffered: \"hello\\n\\x00\\xff\"",
        "file #4: regular /usr/bin/sample flags rdonly|largefile mode 100755",
        "file #5: chardev /dev/null flags rdwr|largefile mode 020666 pos 0 rdev 1:3",
        "fd table #7: 5 fds",
        "fd 3 -> pipe #1 cloexec",
        "fd 7 -> /tmp/data.txt",
        "fs #8: cwd /home/user, root /, umask 0022",
        "SIGINT: handler 0x401500 flags SA_SIGINFO|SA_RESTORER|SA_RESTART restorer 0x401600 mask SIGTERM",
        "SIGPIPE: ignored",
        "itimers real 1.5s every 1s; shared pending SIGUSR1, 1 queued: SIGUSR1 code 0",
        "signals: blocked none; altstack 0x7f0000010000 size 8192 flags 0x0; pending SIGUSR2, 1 queued",
        "signals: blocked SIGUSR2; altstack none; pending none",
        "creds #11: uid 1000/1000/1000/1000 gid 1000/1000/1000/1000 (real/effective/saved/fs), groups 4,24,1000",
        "bounding 0x1ffffffffff",
        "no_new_privs",
        "nofile 1024/4096",
        "attrs: SCHED_OTHER nice 5, parent-death signal SIGUSR1",
        "attrs: SCHED_FIFO priority 10",
        "process: oom_score_adj 300, dumpable 1, THP disabled, child subreaper, membarrier 0x10, stopped by SIGSTOP",
        "SIGIO owner process 100, signal SIGUSR1",
        "end: ",
        "valid image: ",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("SIGHUP"), "default handlers listed:\n{text}");
    assert!(
        !text.contains("    0x403000"),
        "pages listed without --pages"
    );
    let listed = show_text(&sample::full(), true);
    assert!(
        listed.contains(" 0x403000 0x1000000 0x1001000 0x1020000"),
        "{listed}"
    );
}

#[test]
fn json_output() {
    let img = sample::full();
    let v = show_json(&img, false);
    let h = &v["header"];
    assert_eq!(h["format_major"], FORMAT_MAJOR);
    assert_eq!(h["time_ns"], sample::TIME_NS);
    assert_eq!(h["root_pid"], sample::ROOT_PID);
    assert_eq!(h["ntasks"], 2);
    assert_eq!(h["kernel_release"], sample::KERNEL);
    assert_eq!(h["hostname"], sample::HOSTNAME);

    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    for (t, task) in tasks.iter().enumerate() {
        assert_eq!(task["pid"], sample::ROOT_PID + t as i32);
        assert_eq!(task["tgid"], sample::ROOT_PID);
        assert_eq!(task["regs"]["rip"], sample::RIP + t as u64);
        assert_eq!(task["regs"]["orig_rax"], u64::MAX);
        assert_eq!(task["regs"].as_object().unwrap().len(), NREGS);
        assert_eq!(
            task["regs_hex"]["rip"],
            format!("{:#x}", sample::RIP + t as u64)
        );
        assert_eq!(task["xstate"]["size"], sample::XSTATE_SIZE);
        assert_eq!(task["xstate"]["xstate_bv"], sample::XSTATE_BV);
        assert_eq!(task["mm"], sample::id::MM);
    }
    assert_eq!(tasks[0]["comm"], "sample");
    assert_eq!(tasks[0]["flag_names"][0], "leader");
    assert_eq!(tasks[0]["rlimits"][7][0], 1024);
    assert_eq!(tasks[0]["rlimits"][7][1], 4096);
    assert_eq!(tasks[0]["attrs"]["nice"], 5);
    assert_eq!(tasks[0]["attrs"]["pdeath_signal"], 10);
    assert_eq!(tasks[0]["attrs"]["stop_signal"], 19);
    assert_eq!(tasks[1]["attrs"]["policy_name"], "SCHED_FIFO");
    assert_eq!(tasks[1]["attrs"]["rt_priority"], 10);
    let owned: Vec<&Value> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("owner").is_some())
        .collect();
    assert_eq!(owned.len(), 2);
    assert_eq!(owned[0]["owner"]["pid"], 100);
    assert_eq!(owned[0]["owner"]["signum"], 10);
    assert_eq!(tasks[0]["rlimits"][0][0], u64::MAX);
    assert!(tasks[1].get("rlimits").is_none());
    assert_eq!(tasks[0]["signals"]["pending"]["queued"][0]["signo"], 12);
    assert_eq!(tasks[1]["signals"]["blocked"], 1 << 11);

    let mms = v["mms"].as_array().unwrap();
    assert_eq!(mms.len(), 1);
    let mm = &mms[0];
    assert_eq!(mm["id"], sample::id::MM);
    assert_eq!(mm["exe"], sample::EXE);
    assert_eq!(mm["start_brk"], 0x100_0000);
    assert_eq!(mm["auxv_len"], 8);
    assert_eq!(mm["auxv"][1], 4096);
    let vmas = mm["vmas"].as_array().unwrap();
    let want = sample::vmas();
    assert_eq!(vmas.len(), want.len());
    for (j, w) in vmas.iter().zip(&want) {
        assert_eq!(j["start"], w.start);
        assert_eq!(j["end"], w.end);
        assert_eq!(j["prot"], w.prot);
        assert_eq!(j["flags"], w.flags);
        assert_eq!(j["backing"], w.backing);
        assert_eq!(j["file"], w.file);
        assert_eq!(j["pgoff"], w.pgoff);
    }
    assert_eq!(vmas[1]["prot_str"], "r-xp");
    assert_eq!(vmas[4]["prot_str"], "rw-s");
    assert_eq!(vmas[8]["backing_name"], "stack");
    assert_eq!(vmas[9]["start"], VSYSCALL_ADDR);
    let n: usize = sample::full_pages().iter().map(|l| l.len()).sum();
    assert_eq!(mm["pages"]["count"], n);
    assert_eq!(mm["pages"]["bytes"], n * PAGE_SIZE);
    assert_eq!(mm["pages"]["records"], 2);
    assert!(mm["pages"].get("addrs").is_none());

    assert_eq!(v["files"].as_array().unwrap().len(), 11);
    assert_eq!(v["files"][5]["eventfd"]["count"], 1u64 << 33);
    assert_eq!(v["files"][9]["epoll"][1]["target"], sample::id::INOTIFY);
    assert_eq!(v["files"][8]["inotify"][0]["path"], "/tmp/watched");
    assert_eq!(v["files"][10]["fanotify"]["flags"], 0x0e03);
    assert_eq!(v["files"][10]["fanotify_marks"][0]["path"], "/tmp/marked");
    assert_eq!(v["files"][10]["fanotify_marks"][0]["ignore_mask"], 2);
    assert_eq!(v["files"][10]["fanotify_marks"][1]["type"], 0x10);
    assert_eq!(v["files"][10]["fanotify_marks"][1]["path"], "/tmp");
    assert_eq!(v["files"][2]["path"], sample::EXE);
    assert_eq!(v["files"][4]["pos"], 42);
    assert_eq!(v["pipes"][0]["data_len"], sample::PIPE_DATA.len());
    assert_eq!(v["pipes"][0]["data_hex"], "68656c6c6f0a00ff");
    let fds = v["fdtables"][0]["fds"].as_array().unwrap();
    assert_eq!(fds.len(), sample::FDS.len());
    assert_eq!(fds[3]["fd"], 3);
    assert_eq!(fds[3]["cloexec"], true);
    assert_eq!(fds[4]["fd"], 7);
    assert_eq!(v["fs"][0]["cwd"], "/home/user");
    assert_eq!(v["fs"][0]["umask"], 0o022);
    let act = v["sighands"][0]["action"].as_array().unwrap();
    assert_eq!(act.len(), NSIG);
    assert_eq!(act[1]["name"], "SIGINT");
    assert_eq!(act[1]["handler"], 0x40_1500);
    assert_eq!(act[12]["handler"], 1);
    assert_eq!(v["signals"][0]["itimers"][0]["value_ns"], 1_500_000_000u64);
    assert_eq!(v["signals"][0]["shared"]["queued"][0]["signo"], 10);
    assert_eq!(v["creds"][0]["groups"], serde_json::json!([4, 24, 1000]));
    assert_eq!(v["creds"][0]["no_new_privs"], 1);
    let end = &v["end"]["account"];
    assert_eq!(end["bytes"].as_u64().unwrap() + 12 + 24, img.len() as u64);
    assert!(v.get("skipped").is_none());

    let listed = show_json(&img, true);
    let addrs: Vec<u64> = listed["mms"][0]["pages"]["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_u64().unwrap())
        .collect();
    let want: Vec<u64> = sample::full_pages().concat();
    assert_eq!(addrs, want);
}

/// A task that uses no objects.
fn bare_task() -> Task<'static> {
    Task {
        mm: 0,
        files: 0,
        fs: 0,
        sighand: 0,
        signal: 0,
        creds: 0,
        ..sample::task(0)
    }
}

#[test]
fn optional_records_are_skipped() {
    use ckpt::writer::ImageWriter;
    let mut w = ImageWriter::new();
    w.record(&sample::header(1)).unwrap();
    // An optional kind this reader does not know, and a known kind at a
    // future version marked optional: both skipped, both accounted.
    w.raw(0x8123, 1, b"future stuff");
    w.raw(KIND_OPTIONAL | kind::TASK, 7, b"more future stuff");
    w.record(&bare_task()).unwrap();
    let img = w.finish().unwrap();
    let t = reader::validate(img.as_slice()).expect("valid");
    assert_eq!(t.skipped, 2);
    let v = show_json(&img, false);
    assert_eq!(v["skipped"][0]["kind"], 0x8123);
    assert_eq!(v["skipped"][1]["version"], 7);
    assert!(show_text(&img, false).contains("optional kind 0x8123 version 1, 12 bytes: skipped"));
}

/// XSAVE components a CPU lacks are dropped only in their initial state.
#[test]
fn xstate_idle_components() {
    let mut area = vec![0u8; 2688];
    area[512..520].copy_from_slice(&0xe7u64.to_le_bytes());
    let x = ckpt::image::Xstate {
        xstate_bv: 0xe7,
        area: &area,
    };
    // AVX and AVX-512 all zeros: idle; x87 and SSE are never dropped.
    assert_eq!(x.idle(0xe7), 0xe4);
    area[576 + 255] = 1;
    area[1664] = 1;
    let x = ckpt::image::Xstate {
        xstate_bv: 0xe7,
        area: &area,
    };
    assert_eq!(x.idle(0xe7), 0x60);
    // A component past the end of the area was never saved.
    let short = &area[..1088];
    let x = ckpt::image::Xstate {
        xstate_bv: 0xe7,
        area: short,
    };
    assert_eq!(x.idle(0xe0), 0xe0);
    assert_eq!(
        ckpt::image::XfeatureNames(0x204 | 1 << 40).to_string(),
        "AVX, PKRU, component 40"
    );
}

#[test]
fn text_output_of_a_pidfd() {
    let text = show_text(&sample::v13(), false);
    for want in [
        "file #20: pidfd anon_inode:[pidfd] flags rdwr|nonblock",
        "  pidfd of process 100 (process 100), nonblocking",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// The JSON object of file `id` in the v13 sample.
fn sample_file_json(id: u32) -> Value {
    let v = show_json(&sample::v13(), false);
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .expect("the file")
        .clone()
}

#[test]
fn text_and_json_of_pty_input() {
    let text = show_text(&sample::v13(), false);
    let want = "  13 bytes waiting to be read, 2 complete lines: \"ls\\nabtyped\\x1b[A\"";
    assert!(text.contains(want), "missing {want:?} in:\n{text}");
    let null = sample_file_json(sample::id::NULL);
    assert_eq!(null["pty"]["input_len"], 13);
    assert_eq!(null["pty"]["input_hex"], "6c730a616274797065641b5b41");
    assert_eq!(null["pty"]["input_canonical"], true);
    assert_eq!(
        null["pty"]["input_line_ends"],
        serde_json::json!([3, 0x8000_0005u32])
    );
}

#[test]
fn text_and_json_of_a_lease() {
    let text = show_text(&sample::v13(), false);
    let want = "  file #6: read lease (F_SETLEASE), break signal for fd 7";
    assert!(text.contains(want), "missing {want:?} in:\n{text}");
    // An image of format 1.8 has no lease records.
    let old = show_text(&sample::small(), false);
    assert!(!old.contains("lease"), "a lease in:\n{old}");
    let data = sample_file_json(sample::id::DATA);
    assert_eq!(data["lease"]["fd"], 7);
    assert_eq!(data["lease"]["type"], 0);
    assert_eq!(data["lease"]["files"], sample::id::FILES);
}
