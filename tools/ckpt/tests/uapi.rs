// SPDX-License-Identifier: GPL-2.0

//! `rust/uapi.rs` against its C twin `include/uapi/linux/ckpt.h`: a C
//! program compiled with `cc` prints every size, alignment, field offset and
//! constant of the header, which must equal the Rust ones; and every
//! `#define CKPT_*`, struct and field of the header must be in the table
//! below. Skipped if there is no `cc` or no Linux uapi headers.

use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use ckpt::uapi::*;

/// One value: its name, its C expression, its Rust value.
type Entry = (String, String, u64);

fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Size, alignment, and offset and size of each field (in order) of a struct.
macro_rules! strukt {
    ($v:ident, $c:literal, $r:ty, [$($f:ident),* $(,)?]) => {
        $v.push((format!("sizeof({})", $c), format!("sizeof(struct {})", $c), size_of::<$r>() as u64));
        $v.push((format!("alignof({})", $c), format!("_Alignof(struct {})", $c), align_of::<$r>() as u64));
        $(
            $v.push((
                format!("{}.{}", $c, stringify!($f)),
                format!("offsetof(struct {}, {})", $c, stringify!($f)),
                offset_of!($r, $f) as u64,
            ));
            $v.push((
                format!("sizeof({}.{})", $c, stringify!($f)),
                format!("sizeof(((struct {} *)0)->{})", $c, stringify!($f)),
                field_size(|s: &$r| &s.$f) as u64,
            ));
        )*
    };
}

/// Constants of the same name in C and Rust.
macro_rules! consts {
    ($v:ident, [$($n:ident),* $(,)?]) => {
        $( $v.push((stringify!($n).to_string(), stringify!($n).to_string(), $n as u64)); )*
    };
}

fn entries() -> Vec<Entry> {
    let mut v = Vec::new();
    consts!(
        v,
        [
            CKPT_ABI_VERSION,
            CKPT_IOC_MAGIC,
            CKPT_FEAT_CHECKPOINT,
            CKPT_FEAT_RESTART,
            CKPT_FEAT_SHELL,
            CKPT_FEAT_LSM_WATCH,
            CKPT_FEAT_STATUS_FD,
            CKPT_FEAT_VDSO_PROXY,
            CKPT_FEAT_SYSV,
            CKPT_FEAT_HANDOVER,
            CKPT_HANDOVER_STATUS,
            CKPT_HANDOVER_PUT,
            CKPT_HANDOVER_GET,
            CKPT_HANDOVER_RELEASE,
            CKPT_HANDOVER_DROP,
            CKPT_HANDOVER_ENABLED,
            CKPT_HANDOVER_KHO_BOOT,
            CKPT_CHECKPOINT_STOP,
            CKPT_CHECKPOINT_RESUME,
            CKPT_CHECKPOINT_KILL,
            CKPT_CHECKPOINT_TREE,
            CKPT_CHECKPOINT_EXTERNAL_UNIX,
            CKPT_CHECKPOINT_SYSV,
            CKPT_SYSV_MAGIC,
            CKPT_CHECKPOINT_TRACK,
            CKPT_CHECKPOINT_PARENT,
            CKPT_CHECKPOINT_FLAGS,
            CKPT_INCR_SCRATCH_MIN,
            CKPT_RESTART_IGNORE_CHANGED,
            CKPT_RESTART_INHERIT_STDIO,
            CKPT_RESTART_STATUS_FD,
            CKPT_RESTART_VDSO_PROXY,
            CKPT_RESTART_FLAGS,
            CKPT_RESTART_FILE_ROOT,
            CKPT_RESTART_FILE_PEER,
            CKPT_STATUS_FAILED,
            CKPT_IOC_VERSION,
            CKPT_IOC_CHECKPOINT,
            CKPT_IOC_RESTART,
            CKPT_IOC_CHECK,
            CKPT_IOC_HANDOVER,
        ]
    );
    strukt!(
        v,
        "ckpt_version",
        CkptVersion,
        [abi_version, image_major, image_minor, features, release]
    );
    strukt!(
        v,
        "ckpt_checkpoint_args",
        CkptCheckpointArgs,
        [pid, fd, flags, bytes, incr, reserved]
    );
    strukt!(
        v,
        "ckpt_incr",
        CkptIncr,
        [
            parent,
            pagemap_fd,
            clear_refs_fd,
            path,
            path_len,
            pad,
            scratch,
            scratch_len,
            track_id,
            reserved
        ]
    );
    strukt!(
        v,
        "ckpt_check_args",
        CkptCheckArgs,
        [pid, status, flags, reserved, reason]
    );
    strukt!(
        v,
        "ckpt_handover_args",
        CkptHandoverArgs,
        [op, flags, buf, len, offset, in_size, out_size, done, reserved]
    );
    strukt!(v, "ckpt_restart_pipe", CkptRestartPipe, [id, rfd, wfd, pad]);
    strukt!(v, "ckpt_restart_file", CkptRestartFile, [id, fd]);
    strukt!(
        v,
        "ckpt_restart_args",
        CkptRestartArgs,
        [
            fd, npipes, flags, pipes, stdio, pad, task, pad2, status_fd, pad3, files, nfiles, pad4,
            reason
        ]
    );
    v
}

fn header() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../include/uapi/linux/ckpt.h")
        .canonicalize()
        .expect("include/uapi/linux/ckpt.h exists")
}

/// `#define CKPT_*` names, and `(struct, [fields])` in order, of the header.
fn parse_header(text: &str) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut defines = Vec::new();
    let mut structs: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let code = line.split("/*").next().unwrap().trim();
        if let Some(rest) = code.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap();
            if name.starts_with("CKPT_") {
                defines.push(name.to_string());
            }
        } else if let Some(rest) = code.strip_prefix("struct ") {
            if let Some(name) = rest.strip_suffix('{') {
                current = Some((name.trim().to_string(), Vec::new()));
            }
        } else if code.starts_with("};") {
            structs.extend(current.take());
        } else if let Some((_, fields)) = current.as_mut() {
            if let Some(decl) = code.strip_suffix(';') {
                let decl = decl.split('[').next().unwrap();
                fields.push(decl.split_whitespace().last().unwrap().to_string());
            }
        }
    }
    (defines, structs)
}

#[test]
fn table_covers_the_header() {
    let text = std::fs::read_to_string(header()).unwrap();
    let (defines, structs) = parse_header(&text);
    let e = entries();
    let names: Vec<&str> = e.iter().map(|(n, _, _)| n.as_str()).collect();
    for d in &defines {
        assert!(names.contains(&d.as_str()), "{d} of ckpt.h is not checked");
    }
    assert!(defines.len() >= 10, "parsed only {defines:?}");
    for (s, fields) in &structs {
        let checked: Vec<&str> = names
            .iter()
            .filter_map(|n| n.strip_prefix(&format!("{s}.")))
            .collect();
        assert_eq!(
            &checked, fields,
            "fields of struct {s}: checked (left) vs ckpt.h (right)"
        );
    }
    assert!(structs.len() >= 3, "parsed only {structs:?}");
}

fn have_cc() -> bool {
    Command::new("cc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles and runs `src`; `None` (with a message) if it does not compile.
fn compile_and_run(dir: &Path, name: &str, src: &str) -> Option<String> {
    let c = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c, src).unwrap();
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .expect("run cc");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let run = Command::new(&exe).output().expect("run the C program");
    assert!(run.status.success());
    Some(String::from_utf8(run.stdout).unwrap())
}

#[test]
fn header_matches_rust() {
    if !have_cc() {
        println!("SKIPPED: no `cc` to compile include/uapi/linux/ckpt.h");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uapi");
    std::fs::create_dir_all(&dir).unwrap();
    let probe = "#include <linux/ioctl.h>\nint main(void) { return 0; }\n";
    if compile_and_run(&dir, "probe", probe).is_none() {
        println!("SKIPPED: no Linux uapi headers (<linux/ioctl.h>); install linux-libc-dev");
        return;
    }
    let e = entries();
    let mut src = format!(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"{}\"\nint main(void)\n{{\n",
        header().display()
    );
    for (_, expr, _) in &e {
        src.push_str(&format!(
            "\tprintf(\"%llu\\n\", (unsigned long long)({expr}));\n"
        ));
    }
    src.push_str("\treturn 0;\n}\n");
    let out = compile_and_run(&dir, "uapi", &src).expect("ckpt.h compiles");
    let c: Vec<u64> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(c.len(), e.len());
    let bad: Vec<String> = e
        .iter()
        .zip(&c)
        .filter(|((_, _, r), c)| r != *c)
        .map(|((n, _, r), c)| format!("{n}: C {c:#x}, Rust {r:#x}"))
        .collect();
    assert!(bad.is_empty(), "uapi mismatch:\n{}", bad.join("\n"));
}
