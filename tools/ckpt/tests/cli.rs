// SPDX-License-Identifier: GPL-2.0

//! The `ckpt` binary: exit codes and messages of what can run without the
//! module.

use std::path::PathBuf;
use std::process::{Command, Output};

use ckpt::sample;

fn ckpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(args)
        .output()
        .expect("run ckpt")
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn show_valid_image() {
    let p = tmp("full.ckpt");
    std::fs::write(&p, sample::full()).unwrap();
    let o = ckpt(&["show", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("valid image"), "{text}");
    if std::env::var_os("CKPT_SHOW_SAMPLE").is_some() {
        println!("{text}");
    }
    let o = ckpt(&["show", "--json", "--pages", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["header"]["root_pid"], sample::ROOT_PID);
}

#[test]
fn show_damaged_image() {
    let mut img = sample::small();
    let p = tmp("damaged.ckpt");
    // Damage the payload of the third record.
    let off = ckpt::writer::walk(&img)[2].0;
    img[off + 20] ^= 0x40;
    std::fs::write(&p, &img).unwrap();
    let o = ckpt(&["show", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let want = format!(
        "{}: record #3 (kind 0x0300 file at offset {off}): record check mismatch (corrupted image)\n",
        p.display()
    );
    assert!(e.ends_with(&want), "{e:?} does not end with {want:?}");
    assert_eq!(e.lines().count(), 1, "{e}");

    let o = ckpt(&["show", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "JSON printed for a damaged image");

    std::fs::write(&p, b"hello world").unwrap();
    let o = ckpt(&["show", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a ckpt image (bad magic)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_missing_file() {
    let o = ckpt(&["show", "/nonexistent/image"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(
        e,
        "ckpt: /nonexistent/image: cannot open: No such file or directory (ENOENT)\n"
    );
}

#[test]
fn no_module() {
    let dev = "/nonexistent/ckpt-device";
    let out = tmp("never.ckpt");
    let _ = std::fs::remove_file(&out);
    let o = ckpt(&[
        "--device",
        dev,
        "checkpoint",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("module is not loaded") && e.contains("insmod ckpt.ko"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!out.exists(), "output created without a device");

    for args in [vec!["check", "1"], vec!["version"]] {
        let mut a = vec!["--device", dev];
        a.extend(args);
        let o = ckpt(&a);
        assert_eq!(o.status.code(), Some(1), "{a:?}");
        assert!(stderr(&o).contains("insmod ckpt.ko"), "{}", stderr(&o));
    }
}

#[test]
fn not_a_ckpt_device() {
    // /dev/null takes no ioctls: ENOTTY, and the partial output is removed.
    let out = tmp("partial.ckpt");
    let o = ckpt(&[
        "--device",
        "/dev/null",
        "checkpoint",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("ENOTTY") && e.contains("ckpt version"), "{e}");
    assert!(!out.exists(), "partial output left behind");
    let o = ckpt(&["--device", "/dev/null", "version"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("tool:"));
}

#[test]
fn usage_errors() {
    for args in [
        vec!["checkpoint", "0", "-o", "x"],
        vec!["checkpoint", "12"],
        vec!["checkpoint", "12", "-o", "x", "--kill", "--leave-running"],
        vec!["frobnicate"],
    ] {
        let o = ckpt(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

/// `ckpt receive`: an explicit address and a key file are required; a peer
/// without the key is turned away (and the receiver waits for another); a
/// peer with it is told why this machine cannot restart.
#[test]
fn receive_needs_address_and_key() {
    use ckpt::migrate::{greet_receiver, Key};
    use std::os::unix::fs::PermissionsExt;
    let key = tmp("migrate.key");
    std::fs::write(&key, [0x5au8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let k = key.to_str().unwrap();
    let o = ckpt(&["receive", "--listen", "7070", "--key", k]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("give the address too"),
        "{}",
        stderr(&o)
    );
    let o = ckpt(&["receive", "--listen", "127.0.0.1:7070"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A port of our own choosing, free at the time.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args([
            "--device",
            "/nonexistent/ckpt",
            "receive",
            "--listen",
            &addr,
        ])
        .args(["--key", k, "--accept-timeout", "20"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let conn = || loop {
        if let Ok(s) = std::net::TcpStream::connect(&addr) {
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let wrong = Key::new(vec![1u8; 32]).unwrap();
    let e = greet_receiver(&mut conn(), &wrong).unwrap_err();
    assert!(e.contains("authentication failed"), "{e}");
    let right = Key::new(vec![0x5au8; 32]).unwrap();
    let e = greet_receiver(&mut conn(), &right).unwrap_err();
    assert!(e.contains("/nonexistent/ckpt"), "{e}");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("does not hold the same key"), "{e}");
}
