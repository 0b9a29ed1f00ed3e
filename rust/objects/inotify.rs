// SPDX-License-Identifier: GPL-2.0

//! inotify files: their watches (watch descriptor, mask, the watched inode by
//! path). fdinfo shows each watch with the inode's number, device and file
//! handle; checkpoint turns the handle into a path through a mount of the
//! process's (its root, working directory, open files) and checks that the
//! path leads back to the inode. At restart `ckpt restart` makes the inotify
//! file, and adds each watch by path with `INOTIFY_IOC_SETNEXTWD` first so that
//! it gets the image's watch descriptor; the module checks the watches.
//!
//! Events already queued cannot be read without consuming them (fdinfo does
//! not show them): a checkpoint refuses an inotify file with events queued
//! rather than lose them.

use super::event::{after, fdinfo_entries, num};
use super::files::{fmt_what::What, path_str};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, InotifyWatch};
use crate::restart::{refuse, Plan};
use crate::shim::{FileRef, TaskRef};
use crate::stream::ImageWriter;
use kernel::prelude::*;

/// `EPOLLIN`.
const EPOLLIN: u32 = 1;
/// Longest file handle (`MAX_HANDLE_SZ`).
pub(crate) const MAX_HANDLE: usize = 128;

/// A watch, as fdinfo shows it.
struct Watch {
    wd: i32,
    ino: u64,
    dev: u32,
    mask: u32,
    fh_type: i32,
    fh_len: usize,
    fh: [u8; MAX_HANDLE],
}

/// The watches of inotify file `f`.
fn watches(f: &FileRef, what: What, why: &mut Reason) -> Result<KVec<Watch>> {
    let reading = "the watches of its inotify file";
    fdinfo_entries(
        f,
        b"inotify wd:",
        reading,
        "the inotify watches",
        what,
        why,
        |line| {
            let (wd, _) = num(after(line, b"wd:")?, 16)?;
            let (ino, _) = num(after(line, b"ino:")?, 16)?;
            let (dev, _) = num(after(line, b"sdev:")?, 16)?;
            let (mask, _) = num(after(line, b" mask:")?, 16)?;
            let mut w = Watch {
                wd: i32::try_from(wd).ok()?,
                ino,
                dev: u32::try_from(dev).ok()?,
                mask: u32::try_from(mask).ok()?,
                fh_type: 0,
                fh_len: 0,
                fh: [0; MAX_HANDLE],
            };
            (w.fh_type, w.fh_len) = file_handle(line, &mut w.fh)?;
            Some(w)
        },
    )
}

/// The file handle an fdinfo line of an inotify watch or a fanotify inode
/// mark shows, into `fh`: its type and length, `(0, 0)` if it has none (a
/// filesystem that cannot encode one); `None` if it is not understood.
pub(crate) fn file_handle(line: &[u8], fh: &mut [u8; MAX_HANDLE]) -> Option<(i32, usize)> {
    let Some(rest) = after(line, b"fhandle-bytes:") else {
        return Some((0, 0));
    };
    let (len, _) = num(rest, 16)?;
    let (ty, _) = num(after(line, b"fhandle-type:")?, 16)?;
    let hex = after(line, b"f_handle:")?;
    let len = usize::try_from(len).ok()?;
    if len > MAX_HANDLE || hex.len() < 2 * len {
        return None;
    }
    for i in 0..len {
        let hi = (hex[2 * i] as char).to_digit(16)?;
        let lo = (hex[2 * i + 1] as char).to_digit(16)?;
        fh[i] = (hi * 16 + lo) as u8;
    }
    Some((i32::try_from(ty).ok()?, len))
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// The path of each watch of inotify file `f` (of `t`), or a refusal: events
/// queued, or a watched inode no path of the process's names.
fn named(
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result<KVec<(Watch, KVec<u8>)>> {
    if f.poll_now() & EPOLLIN != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: its inotify file has events queued, which cannot be saved (read them first, or checkpoint again later)"
            ),
        ));
    }
    let mut out = KVec::new();
    for w in watches(f, what, why)? {
        let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let named = if w.fh_len == 0 {
            Err(eopnotsupp())
        } else {
            t.handle_path(w.dev, w.ino, w.fh_type, &w.fh[..w.fh_len], &mut path)
        };
        let n = named.map_err(|_| {
            why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: inotify watch {} (inode {} on device {}:{}) cannot be named by a path of the process's: not supported",
                    w.wd,
                    w.ino,
                    w.dev >> 20,
                    w.dev & 0xfffff
                ),
            )
        })?;
        path.truncate(n);
        out.push((w, path), GFP_KERNEL)?;
    }
    Ok(out)
}

/// Refuses an inotify file whose watches cannot be saved.
pub(crate) fn precheck(t: &TaskRef, f: &FileRef, what: What, why: &mut Reason) -> Result {
    named(t, f, what, why).map(|_| ())
}

/// Writes the watches of inotify file `f` (file record `id`).
pub(crate) fn write_watches(
    w: &mut ImageWriter<'_>,
    id: u32,
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result {
    for (watch, path) in named(t, f, what, why)? {
        w.record(&InotifyWatch {
            file: id,
            wd: watch.wd,
            mask: watch.mask,
            dev: watch.dev,
            ino: watch.ino,
            path: &path,
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// `O_NOFOLLOW`: the restarter adds each watch with `IN_DONT_FOLLOW`.
pub(crate) const O_NOFOLLOW: u32 = 0o400000;

/// The inotify file the restarter made for file `f` must have the image's
/// watches: the same watch descriptors with the same masks, no other. Each
/// watches the inode its path names now, as a file reopened by path, and one the
/// image's credentials may read, as `inotify_add_watch` wants (A13: the restarter
/// made the watches with its own rights; a root restarter of a user's image must
/// not let it watch what the user could not).
pub(crate) fn check(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    file: &FileRef,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result {
    let have = watches(file, What::Fd(0), why)?;
    let want = || {
        p.events.iter().filter_map(move |r| match r {
            AnyRecord::InotifyWatch(w) if w.file == f.id => Some(w),
            _ => None,
        })
    };
    for w in want() {
        let Some(h) = have.iter().find(|h| h.wd == w.wd && h.mask == w.mask) else {
            return Err(refuse(
                why,
                EINVAL,
                format_args!(
                    "the inotify file passed for file {} lacks watch {} on {}",
                    f.id,
                    w.wd,
                    path_str(w.path)
                ),
            ));
        };
        watched_as_image(f, w, h, creds, why)?;
    }
    if have.len() != want().count() {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the inotify file passed for file {} has other watches than the image's",
                f.id
            ),
        ));
    }
    Ok(())
}

/// Watch `h` of the inotify file passed for file `f` (the image's watch `w`) is on
/// the inode `w`'s path names, looked up with the image's credentials, and those may
/// read it (`inotify_add_watch`'s `MAY_READ`).
fn watched_as_image(
    f: &image::FileRec<'_>,
    w: &InotifyWatch<'_>,
    h: &Watch,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result {
    let path = super::files::path_z(w.path)?;
    let _as = creds.apply()?;
    let named = FileRef::open(&path, image::O_PATH | O_NOFOLLOW).map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "inotify watch {} of file {}: {} cannot be looked up with the image's credentials",
                w.wd,
                f.id,
                path_str(w.path)
            ),
        )
    })?;
    let (ino, dev, may_read) = named.watch_facts();
    if ino != h.ino || dev != h.dev {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "inotify watch {} of the file passed for file {} is not on {} (inode {} on device {}:{}, the path names inode {} on {}:{})",
                w.wd,
                f.id,
                path_str(w.path),
                h.ino,
                h.dev >> 20,
                h.dev & 0xfffff,
                ino,
                dev >> 20,
                dev & 0xfffff
            ),
        ));
    }
    may_read.map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "inotify watch {} of file {}: the image's credentials may not read {}, which inotify_add_watch(2) requires",
                w.wd,
                f.id,
                path_str(w.path)
            ),
        )
    })
}
