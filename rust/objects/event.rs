// SPDX-License-Identifier: GPL-2.0

//! Event-loop files with a state of their own: eventfd (its counter and
//! semaphore mode), timerfd (clock, settings, time left, expirations not yet
//! read), signalfd (its mask), inotify (its watches; [`super::inotify`]) and
//! fanotify (its group and marks; [`super::fanotify`]). epoll sets are
//! [`super::epoll`]'s.
//!
//! Checkpoint reads each one's state as `/proc/PID/fdinfo` shows it: the file's
//! own `show_fdinfo`, run into a buffer of the module's ([`FileRef::fdinfo`]);
//! nothing is consumed. No kernel function a module may call creates these
//! files, so at restart `ckpt restart` makes each one with the system calls
//! (`eventfd`, `timerfd_create` + `timerfd_settime` + `TFD_IOC_SET_TICKS`,
//! `signalfd`, `inotify_init1` + `INOTIFY_IOC_SETNEXTWD` + `inotify_add_watch`,
//! `fanotify_init` + `fanotify_mark`)
//! and passes it in (`struct ckpt_restart_file`); the module checks that the
//! file is of the kind and has the state of the image (the same fdinfo, read
//! back) before it installs it.

use super::files::{fmt_what::What, path_str};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, filekind, AnyRecord, EventfdRec, SignalfdRec, TimerfdRec};
use crate::restart::{refuse, Given, Plan};
use crate::shim::{self, FileRef, TaskRef};
use crate::stream::ImageWriter;
use kernel::prelude::*;

// ---------------------------------------------------------------------------
// Reading fdinfo text.

/// The text after the first `key` in `text`.
pub(crate) fn after<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    text.windows(key.len())
        .position(|w| w == key)
        .map(|i| &text[i + key.len()..])
}

/// The number at the start of `s` (after blanks, `(` and `,`), in `radix`, and
/// the text after it.
pub(crate) fn num(s: &[u8], radix: u32) -> Option<(u64, &[u8])> {
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'(' | b','))?;
    let s = &s[start..];
    let n = s
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if n == 0 {
        return None;
    }
    let mut v = 0u64;
    for c in &s[..n] {
        v = v
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from((*c as char).to_digit(radix)?))?;
    }
    Some((v, &s[n..]))
}

/// The number after `key` in `text`.
pub(crate) fn field(text: &[u8], key: &[u8], radix: u32) -> Option<u64> {
    num(after(text, key)?, radix).map(|(v, _)| v)
}

/// The entries of file `f`'s fdinfo: each line that starts with `prefix`, parsed by
/// `parse`. Refuses (naming `what`) if the fdinfo cannot be read (`cannot read
/// {reading}`) or a line is not understood (`{shown} the kernel shows were not
/// understood`): what epoll sets (their interest list) and inotify files (their
/// watches) both need, at checkpoint and when the restart checks a file it was given.
pub(crate) fn fdinfo_entries<T>(
    f: &FileRef,
    prefix: &[u8],
    reading: &str,
    shown: &str,
    what: What,
    why: &mut Reason,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Result<KVec<T>> {
    let text = f
        .fdinfo()
        .map_err(|e| why.set(e, format_args!("{what}: cannot read {reading}")))?;
    let mut out = KVec::new();
    for line in text.split(|&c| c == b'\n') {
        if !line.starts_with(prefix) {
            continue;
        }
        let Some(entry) = parse(line) else {
            return Err(why.set(
                EINVAL,
                format_args!("{what}: {shown} the kernel shows were not understood"),
            ));
        };
        out.push(entry, GFP_KERNEL)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Kinds.

/// The event-loop kind of an anonymous-inode file, by the name `d_path` gives
/// it (`fs/anon_inodes.c`: `anon_inode:` and the name its creator chose).
pub(crate) fn kind_of(path: &[u8]) -> Option<u8> {
    Some(match path {
        b"anon_inode:[eventfd]" => filekind::EVENTFD,
        b"anon_inode:[timerfd]" => filekind::TIMERFD,
        b"anon_inode:[signalfd]" => filekind::SIGNALFD,
        b"anon_inode:[eventpoll]" => filekind::EPOLL,
        b"anon_inode:inotify" => filekind::INOTIFY,
        b"anon_inode:[fanotify]" => filekind::FANOTIFY,
        _ => return None,
    })
}

/// The image kind of an anonymous-inode file, or a refusal naming it.
pub(crate) fn file_kind(path: &[u8], what: What, why: &mut Reason) -> Result<u8> {
    kind_of(path).ok_or_else(|| {
        why.set(
            eopnotsupp(),
            format_args!(
                "{what}: anonymous-inode file {} is not supported yet",
                path_str(path)
            ),
        )
    })
}

/// The state of an event-loop file.
pub(crate) enum State {
    Eventfd {
        count: u64,
        flags: u32,
    },
    Timerfd(TimerfdRec),
    Signalfd {
        mask: u64,
    },
    /// epoll sets, inotify and fanotify files: their records are written elsewhere.
    Other,
}

/// `CLOCK_*` a timerfd may have.
const TIMER_CLOCKS: [u64; 5] = [0, 1, 7, 8, 9];

/// Reads the state of `f`, an event-loop file of kind `kind`.
pub(crate) fn read_state(f: &FileRef, kind: u8, what: What, why: &mut Reason) -> Result<State> {
    let text = f.fdinfo().map_err(|e| {
        why.set(
            e,
            format_args!(
                "{what}: cannot read the state of its {}",
                filekind::name(kind)
            ),
        )
    })?;
    let bad = |why: &mut Reason| {
        why.set(
            EINVAL,
            format_args!(
                "{what}: the {} state the kernel shows was not understood",
                filekind::name(kind)
            ),
        )
    };
    Ok(match kind {
        filekind::EVENTFD => {
            if !f.is_eventfd() {
                return Err(bad(why));
            }
            let count = field(&text, b"eventfd-count:", 16).ok_or_else(|| bad(why))?;
            let sem = field(&text, b"eventfd-semaphore:", 10).ok_or_else(|| bad(why))?;
            State::Eventfd {
                count,
                flags: if sem != 0 { image::EFD_SEMAPHORE } else { 0 },
            }
        }
        filekind::TIMERFD => {
            let clockid = field(&text, b"clockid:", 10).ok_or_else(|| bad(why))?;
            let ticks = field(&text, b"ticks:", 10).ok_or_else(|| bad(why))?;
            let flags = field(&text, b"settime flags:", 8).ok_or_else(|| bad(why))?;
            let pair = |key: &[u8]| -> Option<u64> {
                let (s, rest) = num(after(&text, key)?, 10)?;
                let (ns, _) = num(rest, 10)?;
                s.checked_mul(1_000_000_000)?.checked_add(ns)
            };
            let value_ns = pair(b"it_value:").ok_or_else(|| bad(why))?;
            let interval_ns = pair(b"it_interval:").ok_or_else(|| bad(why))?;
            if !TIMER_CLOCKS.contains(&clockid) || flags > 3 {
                return Err(bad(why));
            }
            let flags = flags as u32;
            let now_ns = if flags & image::TFD_TIMER_ABSTIME != 0 {
                shim::clock_ns(clockid as i32)
            } else {
                0
            };
            State::Timerfd(TimerfdRec {
                file: 0,
                clockid: clockid as u32,
                settime_flags: flags,
                ticks,
                value_ns,
                interval_ns,
                now_ns,
            })
        }
        filekind::SIGNALFD => State::Signalfd {
            // The mask the program gave (the kernel keeps its complement and
            // shows it complemented back).
            mask: field(&text, b"sigmask:", 16).ok_or_else(|| bad(why))?,
        },
        _ => State::Other,
    })
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// Refuses an event-loop file (`what` of `t`: an fd, or in flight in a socket
/// of `t`) whose state cannot be saved.
pub(crate) fn precheck(t: &TaskRef, f: &FileRef, kind: u8, what: What, why: &mut Reason) -> Result {
    match kind {
        filekind::INOTIFY => super::inotify::precheck(t, f, what, why),
        filekind::FANOTIFY => super::fanotify::precheck(t, f, what, why),
        filekind::EPOLL => super::epoll::precheck(t, f, what, why),
        _ => read_state(f, kind, what, why).map(|_| ()),
    }
}

/// Writes the state of event-loop file `f` (file record `id`, of `kind`), after
/// its file record.
pub(crate) fn write_state(
    w: &mut ImageWriter<'_>,
    id: u32,
    kind: u8,
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result {
    match read_state(f, kind, what, why)? {
        State::Eventfd { count, flags } => w.record(&EventfdRec {
            file: id,
            count,
            flags,
        }),
        State::Timerfd(t) => w.record(&TimerfdRec { file: id, ..t }),
        State::Signalfd { mask } => w.record(&SignalfdRec { file: id, mask }),
        State::Other if kind == filekind::INOTIFY => {
            super::inotify::write_watches(w, id, t, f, what, why)
        }
        State::Other if kind == filekind::FANOTIFY => {
            super::fanotify::write_records(w, id, t, f, what, why)
        }
        State::Other => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Restart.

/// The state record of file `id` in the plan.
fn record<'a>(p: &'a Plan<'_>, id: u32) -> Option<&'a AnyRecord<'a>> {
    p.events.iter().find(|r| match r {
        AnyRecord::Eventfd(e) => e.file == id,
        AnyRecord::Timerfd(t) => t.file == id,
        AnyRecord::Signalfd(s) => s.file == id,
        _ => false,
    })
}

/// Takes the event-loop file the restarter made for file `f` of the image and
/// checks it: its kind, and the state the image gives it.
pub(crate) fn open(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    given: &Given<'_>,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result<FileRef> {
    let file = given.file(f.id, why)?;
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    let (_, n) = file.info(&mut path)?;
    let name = filekind::name(f.kind);
    if kind_of(&path[..n]) != Some(f.kind) {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the file passed for {name} {} of the image is {}",
                f.id,
                path_str(&path[..n])
            ),
        ));
    }
    let what = What::Fd(0);
    let differs = |why: &mut Reason, field: &str| {
        refuse(
            why,
            EINVAL,
            format_args!(
                "the {name} passed for file {} has another {field} than the image's",
                f.id
            ),
        )
    };
    match (read_state(&file, f.kind, what, why)?, record(p, f.id)) {
        (State::Eventfd { count, flags }, Some(AnyRecord::Eventfd(e))) => {
            if count != e.count {
                return Err(differs(why, "count"));
            }
            if flags != e.flags {
                return Err(differs(why, "mode (EFD_SEMAPHORE)"));
            }
        }
        (State::Timerfd(t), Some(AnyRecord::Timerfd(e))) => {
            if t.clockid != e.clockid {
                return Err(differs(why, "clock"));
            }
            if t.settime_flags != e.settime_flags {
                return Err(differs(why, "settime flags"));
            }
            if t.interval_ns != e.interval_ns {
                return Err(differs(why, "interval"));
            }
            // It runs: it may have expired once more since it was made.
            if t.ticks < e.ticks {
                return Err(differs(why, "count of expirations"));
            }
            if e.value_ns != 0 && t.value_ns == 0 && t.ticks == e.ticks {
                return Err(differs(why, "time left"));
            }
        }
        (State::Signalfd { mask }, Some(AnyRecord::Signalfd(e))) => {
            // SIGKILL and SIGSTOP never are in a signalfd's mask.
            const UNBLOCKABLE: u64 = (1 << 8) | (1 << 18);
            if mask != e.mask & !UNBLOCKABLE {
                return Err(differs(why, "mask"));
            }
        }
        (State::Other, _) if f.kind == filekind::EPOLL => super::epoll::check(p, f, &file, why)?,
        (State::Other, _) if f.kind == filekind::INOTIFY => {
            super::inotify::check(p, f, &file, creds, why)?
        }
        (State::Other, _) if f.kind == filekind::FANOTIFY => {
            super::fanotify::check(p, f, &file, creds, why)?
        }
        _ => {
            return Err(refuse(
                why,
                EINVAL,
                format_args!("{name} {} of the image has no state record", f.id),
            ))
        }
    }
    // O_NONBLOCK (and the other F_SETFL flags) as the program had them.
    file.set_flags(f.flags);
    Ok(file)
}
