// SPDX-License-Identifier: GPL-2.0

//! What the parent learns about the restart.
//!
//! The status pipe: every restarter tells the parent its pid ([`send_pid`],
//! `P` and 4 bytes; for trees and pid namespaces) and whether it failed
//! before the ioctl took over ([`send_failed`], `F`: the parent then kills
//! the others, which wait in the module). The restarters pass the pipe to the
//! module too (`CKPT_RESTART_STATUS_FD`): it holds it until the restored tasks
//! run, and writes why if one fails after the point of no return
//! (`CKPT_STATUS_FAILED`, a length byte, the text). The end of the pipe
//! ([`read_status`]) thus means every task is restored, or failed and said so.
//!
//! Then the restored process's wait status: [`report`] turns it into the
//! exit code of `ckpt`, saying how the process died if a signal killed it.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::{names, uapi};

/// A restarter's message on the status pipe: it failed.
const MSG_FAILED: u8 = b'F';
/// A restarter's message on the status pipe: its pid (4 bytes follow).
const MSG_PID: u8 = b'P';
/// A restarter's message on the status pipe: why it failed (a length byte and
/// the text follow; sent before [`MSG_FAILED`]).
const MSG_WHY: u8 = b'W';

/// Tells the parent the restarter's pid `pid` (as the parent's namespace
/// sees it); a failure to tell is ignored.
pub(super) fn send_pid(w: &mut io::PipeWriter, pid: i32) {
    let mut m = [MSG_PID; 5];
    m[1..].copy_from_slice(&pid.to_le_bytes());
    let _ = w.write_all(&m);
}

/// Tells the parent that this restarter failed, if it still holds the
/// write end `w` (then closes it), and why (`why`, cut at 255 bytes).
pub(super) fn send_failed(w: Option<io::PipeWriter>, why: &str) {
    if let Some(mut w) = w {
        let mut n = why.len().min(255);
        while !why.is_char_boundary(n) {
            n -= 1;
        }
        let mut m = Vec::with_capacity(n + 3);
        m.extend_from_slice(&[MSG_WHY, n as u8]);
        m.extend_from_slice(&why.as_bytes()[..n]);
        m.push(MSG_FAILED);
        let _ = w.write_all(&m);
    }
}

/// What the restarter said on the status pipe.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Status {
    /// A restarter (or the pid namespace's init) failed, and said why on
    /// standard error.
    pub(super) failed: bool,
    /// The module's report of a failure after the point of no return.
    pub(super) late: Option<String>,
    /// A restarter's reason for its failure.
    pub(super) why: Option<String>,
    /// Pids of the restarters (as the parent sees them), the root's first.
    pub(super) pids: Vec<i32>,
}

/// Reads the status pipe until every restarter closed it. As soon as a
/// restarter says it failed, `on_failed` is called with the pids known by
/// then, and again with each pid told later (a restarter that said its pid
/// after the failure was said): the others wait for it in the module,
/// holding the pipe, and must be killed for the pipe to end.
pub(super) fn read_status(mut r: io::PipeReader, mut on_failed: impl FnMut(&[i32])) -> Status {
    let mut b = Vec::new();
    let mut chunk = [0u8; 512];
    // How many pids went to `on_failed`; `None` until a failure is said.
    let mut told: Option<usize> = None;
    loop {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => b.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        if told.is_none() && !failed_before_ioctl(&b) {
            continue;
        }
        let pids = parse_status(&b).pids;
        let from = told.unwrap_or(0).min(pids.len());
        if told.is_none() || from < pids.len() {
            on_failed(&pids[from..]);
        }
        told = Some(pids.len());
    }
    parse_status(&b)
}

/// Whether the whole messages at the start of `b` (a message cut short by a
/// read ends the walk: its bytes are not messages) hold a restarter's failure
/// before the ioctl took over, and no report of the module.
fn failed_before_ioctl(b: &[u8]) -> bool {
    let (mut i, mut failed) = (0, false);
    while i < b.len() {
        match b[i] {
            MSG_FAILED => failed = true,
            MSG_PID if i + 4 < b.len() => i += 4,
            MSG_PID => break,
            MSG_WHY if i + 1 < b.len() && i + 1 + usize::from(b[i + 1]) < b.len() => {
                i += 1 + usize::from(b[i + 1])
            }
            MSG_WHY => break,
            uapi::CKPT_STATUS_FAILED => return false,
            _ => {}
        }
        i += 1;
    }
    failed
}

/// The messages of the status pipe.
fn parse_status(b: &[u8]) -> Status {
    let mut st = Status::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            MSG_FAILED => st.failed = true,
            uapi::CKPT_STATUS_FAILED if i + 1 < b.len() => {
                let n = usize::from(b[i + 1]);
                let text = &b[i + 2..(i + 2 + n).min(b.len())];
                st.failed = true;
                st.late = Some(String::from_utf8_lossy(text).into_owned());
                i += 1 + n;
            }
            MSG_WHY if i + 1 < b.len() => {
                let n = usize::from(b[i + 1]);
                let text = &b[i + 2..(i + 2 + n).min(b.len())];
                st.why = Some(String::from_utf8_lossy(text).into_owned());
                i += 1 + n;
            }
            MSG_PID if i + 4 < b.len() => {
                st.pids
                    .push(i32::from_le_bytes([b[i + 1], b[i + 2], b[i + 3], b[i + 4]]));
                i += 4;
            }
            _ => {}
        }
        i += 1;
    }
    st
}

/// How long after the restarter's fds were closed (by the module, or by
/// its death) a `SIGKILL` is blamed on the restart.
pub(super) const KILLED_AT_ONCE: Duration = Duration::from_secs(1);

/// The exit code standing for wait status `status` of the restored process
/// `pid`; says how it died if a signal killed it, and, if that was
/// `SIGKILL` right after the restarter's fds were closed (`closed`), that
/// the restart may have failed.
pub(super) fn report(pid: i32, status: i32, closed: Option<Instant>) -> u8 {
    if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        eprintln!(
            "ckpt: restored process {pid} killed by signal {s} ({})",
            names::signal(s)
        );
        if s == libc::SIGKILL && closed.is_some_and(|t| t.elapsed() < KILLED_AT_ONCE) {
            hint_killed();
        }
    }
    exit_code(status)
}

/// [`report`] without a word.
pub(super) fn exit_code(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)).min(255) as u8
    } else {
        1
    }
}

/// Says that a restored process killed at once may be a restart that failed.
pub(super) fn hint_killed() {
    eprintln!(
        "ckpt: it died at once: see the kernel log (dmesg) for why the restart failed \
         after the point of no return"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages() {
        assert_eq!(parse_status(b""), Status::default());
        assert_eq!(
            parse_status(b"F"),
            Status {
                failed: true,
                late: None,
                why: None,
                pids: vec![]
            }
        );
        let mut b = vec![MSG_PID];
        b.extend_from_slice(&4242i32.to_le_bytes());
        assert_eq!(
            parse_status(&b),
            Status {
                failed: false,
                late: None,
                why: None,
                pids: vec![4242]
            }
        );
        b.push(MSG_FAILED);
        assert_eq!(
            parse_status(&b),
            Status {
                failed: true,
                late: None,
                why: None,
                pids: vec![4242]
            }
        );
        // A pid cut short is ignored.
        assert_eq!(parse_status(&b[..3]), Status::default());
    }

    #[test]
    fn status_pipe() {
        let (r, mut w) = io::pipe().unwrap();
        send_pid(&mut w, 4242);
        send_pid(&mut w, -7);
        send_failed(Some(w), "no such file (F E W P)");
        let mut told = Vec::new();
        assert_eq!(
            read_status(r, |p| told.extend_from_slice(p)),
            Status {
                failed: true,
                late: None,
                why: Some("no such file (F E W P)".into()),
                pids: vec![4242, -7]
            }
        );
        // A reason cut short is not a failure yet.
        assert!(!failed_before_ioctl(&[MSG_WHY, 5, b'F', b'F']));
        let (r, w) = io::pipe().unwrap();
        send_failed(None, "x");
        drop(w);
        assert_eq!(read_status(r, |_| panic!("no failure")), Status::default());
        assert_eq!(told, vec![4242, -7]);
        // A pid cut short whose bytes look like a failure is not one yet.
        let mut cut = vec![MSG_PID];
        cut.extend_from_slice(&0x4646i32.to_le_bytes()[..2]);
        assert!(!failed_before_ioctl(&cut));
        assert!(failed_before_ioctl(&[MSG_PID, 1, 0, 0, 0, MSG_FAILED]));
        // A failure is told while the pipe is still open (the others hold it).
        let (r, mut w) = io::pipe().unwrap();
        send_pid(&mut w, 11);
        w.write_all(&[MSG_FAILED]).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            // Closed only once the failure was told.
            let _ = rx.recv_timeout(Duration::from_secs(10));
            drop(w);
        });
        let st = read_status(r, |p| {
            assert_eq!(p, &[11]);
            tx.send(()).unwrap();
        });
        holder.join().unwrap();
        assert!(st.failed);
        // A restarter that tells its pid after the failure was told is told
        // too (it waits in the module like the others).
        let (r, mut w) = io::pipe().unwrap();
        send_pid(&mut w, 21);
        w.write_all(&[MSG_FAILED]).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let late = std::thread::spawn(move || {
            let _ = rx.recv_timeout(Duration::from_secs(10));
            send_pid(&mut w, 22);
        });
        let mut told = Vec::new();
        let st = read_status(r, |p| {
            told.extend_from_slice(p);
            let _ = tx.send(());
        });
        late.join().unwrap();
        assert_eq!(told, vec![21, 22]);
        assert_eq!(st.pids, vec![21, 22]);
        // The module's report after the point of no return; its text is not parsed.
        let mut m = vec![uapi::CKPT_STATUS_FAILED, 9];
        m.extend_from_slice(b"Pages bad");
        m.push(MSG_PID);
        m.extend_from_slice(&7i32.to_le_bytes());
        assert_eq!(
            parse_status(&m),
            Status {
                failed: true,
                late: Some("Pages bad".into()),
                why: None,
                pids: vec![7]
            }
        );
    }
}
