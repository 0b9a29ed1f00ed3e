// SPDX-License-Identifier: GPL-2.0

//! fanotify groups: how `fanotify_init()` made them (class, `FAN_REPORT_*`,
//! unlimited queue and marks, audit, `event_f_flags`, whether the maker had
//! `CAP_SYS_ADMIN`) and their marks (mask, ignore mask, flags, the marked
//! inode or filesystem by path). fdinfo shows the init flags, the event flags and each mark
//! with the inode's number, device and file handle; checkpoint turns the
//! handle into a path through a mount of the process's, as for inotify
//! ([`super::inotify`]). What fdinfo does not show (`FAN_ENABLE_AUDIT`, the
//! kernel's `FANOTIFY_UNPRIV`, permission events read and not answered) the
//! shim reads from the group ([`FileRef::fanotify_group`]).
//!
//! At restart `ckpt restart` makes the group with `fanotify_init()` (without
//! `CAP_SYS_ADMIN` in its effective set if the image's group was made
//! without) and adds each mark with `fanotify_mark()`, oldest first; the
//! module checks the group and its marks against the image.
//!
//! Refused at checkpoint: events queued (they cannot be read without
//! consuming them), permission events read and not answered (the processes
//! waiting for the answers would never get them), marks asking for permission
//! events (the restart's own opening of the marked files would wait for
//! answers nobody gives yet), mount-namespace marks (not supported yet), mount
//! marks on mounts none of the process's root, working directory and open
//! files is on (fdinfo names the mount by its id only; the mount is found as
//! one of those the group marks alike, [`TaskRef::mount_mark_path`]) or that
//! no path names, marks on inodes no path of
//! the process's names (a deleted file) or on filesystems none is on, and
//! ignore flags without an ignore mask (which `fanotify_mark()` cannot make
//! again).
//!
//! A mount mark is named by the path of the mount's root; the restart marks
//! the mount that path is on then.
//!
//! A filesystem mark is named by a path on the filesystem (the root of a
//! mount of it the process reaches, else its root, working directory or an
//! open file on it); the restart marks the filesystem that path is on then (as
//! an inode mark marks the inode its path names then, as files are reopened by
//! path).

use super::event::{after, field, num};
use super::files::{fmt_what::What, path_str};
use super::inotify::{file_handle, MAX_HANDLE, O_NOFOLLOW};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, FanotifyGroup, FanotifyMark};
use crate::restart::{refuse, Plan};
use crate::shim::{FileRef, TaskRef};
use crate::stream::ImageWriter;
use kernel::prelude::*;

/// `EPOLLIN`.
const EPOLLIN: u32 = 1;
/// The kernel's `FANOTIFY_UNPRIV` group flag.
const KERNEL_UNPRIV: u32 = 0x8000_0000;
/// `FAN_MARK_IGNORED_SURV_MODIFY`, `FAN_MARK_IGNORE`: the ignore flags.
const IGNORE_FLAGS: u32 = 0x40 | 0x400;

/// What is marked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Object {
    /// An inode: its number and device.
    Inode { ino: u64, dev: u32 },
    /// A mount, by id.
    Mount(u64),
    /// A filesystem, by device.
    Filesystem(u32),
    /// A mount namespace, by inode number.
    MntNs(u64),
}

/// A mark, as fdinfo shows it.
struct Mark {
    object: Object,
    flags: u32,
    mask: u32,
    ignore_mask: u32,
    fh_type: i32,
    fh_len: usize,
    fh: [u8; MAX_HANDLE],
}

/// A group: its init flags (with `FAN_ENABLE_AUDIT`), event flags, whether it
/// is unprivileged, whether events are queued or wait for answers, and its
/// marks oldest first.
struct Group {
    flags: u32,
    event_f_flags: u32,
    unpriv: bool,
    queued: bool,
    answer_pending: bool,
    marks: KVec<Mark>,
}

/// One mark line of fdinfo (after `fanotify `).
fn mark(line: &[u8]) -> Option<Mark> {
    let object = if line.starts_with(b"ino:") {
        Object::Inode {
            ino: field(line, b"ino:", 16)?,
            dev: u32::try_from(field(line, b"sdev:", 16)?).ok()?,
        }
    } else if line.starts_with(b"mnt_id:") {
        Object::Mount(field(line, b"mnt_id:", 16)?)
    } else if line.starts_with(b"sdev:") {
        Object::Filesystem(u32::try_from(field(line, b"sdev:", 16)?).ok()?)
    } else if line.starts_with(b"mnt_ns:") {
        Object::MntNs(field(line, b"mnt_ns:", 10)?)
    } else {
        return None;
    };
    let mut m = Mark {
        object,
        flags: u32::try_from(field(line, b"mflags:", 16)?).ok()?,
        mask: u32::try_from(field(line, b" mask:", 16)?).ok()?,
        ignore_mask: u32::try_from(field(line, b"ignored_mask:", 16)?).ok()?,
        fh_type: 0,
        fh_len: 0,
        fh: [0; MAX_HANDLE],
    };
    if matches!(object, Object::Inode { .. }) {
        (m.fh_type, m.fh_len) = file_handle(line, &mut m.fh)?;
    }
    Some(m)
}

/// The state of fanotify file `f`.
fn group(f: &FileRef, what: What, why: &mut Reason) -> Result<Group> {
    let (raw, answer_pending) = f.fanotify_group().map_err(|e| {
        why.set(
            e,
            format_args!("{what}: cannot read the state of its fanotify group"),
        )
    })?;
    let text = f.fdinfo().map_err(|e| {
        why.set(
            e,
            format_args!("{what}: cannot read the marks of its fanotify group"),
        )
    })?;
    let bad = |why: &mut Reason| {
        why.set(
            EINVAL,
            format_args!("{what}: the fanotify group the kernel shows was not understood"),
        )
    };
    let mut g = Group {
        flags: raw & image::FANOTIFY_INIT_BITS,
        event_f_flags: 0,
        unpriv: raw & KERNEL_UNPRIV != 0,
        queued: f.poll_now() & EPOLLIN != 0,
        answer_pending,
        marks: KVec::new(),
    };
    let mut head = false;
    for line in text.split(|&c| c == b'\n') {
        let Some(rest) = line.strip_prefix(b"fanotify ") else {
            continue;
        };
        if rest.starts_with(b"flags:") {
            let shown = field(rest, b"flags:", 16).ok_or_else(|| bad(why))?;
            let ef = num(after(rest, b"event-flags:").ok_or_else(|| bad(why))?, 16);
            let ef = ef.and_then(|(v, _)| u32::try_from(v).ok());
            // fdinfo shows the init flags but FAN_ENABLE_AUDIT.
            if shown != u64::from(g.flags & !image::FAN_ENABLE_AUDIT) {
                return Err(bad(why));
            }
            g.event_f_flags = ef.ok_or_else(|| bad(why))?;
            head = true;
            continue;
        }
        let m = mark(rest).ok_or_else(|| bad(why))?;
        g.marks.push(m, GFP_KERNEL)?;
    }
    if !head {
        return Err(bad(why));
    }
    // fdinfo shows the newest mark first.
    g.marks.reverse();
    Ok(g)
}

/// `MAJ:MIN` of a device number.
struct Dev(u32);

impl core::fmt::Display for Dev {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.0 >> 20, self.0 & 0xfffff)
    }
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// The group of fanotify file `f` (of `t`) and the path of each mark, or a
/// refusal (see the module doc).
fn named(
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result<(Group, KVec<KVec<u8>>)> {
    let g = group(f, what, why)?;
    if g.answer_pending {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: its fanotify group has permission events read and not answered yet, whose answers would be lost (answer them first)"
            ),
        ));
    }
    let mut paths = KVec::new();
    for m in g.marks.iter() {
        let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
        let n = match m.object {
            Object::Inode { ino, dev } => {
                let named = if m.fh_len == 0 {
                    Err(eopnotsupp())
                } else {
                    t.handle_path(dev, ino, m.fh_type, &m.fh[..m.fh_len], &mut path)
                };
                named.map_err(|_| {
                    why.set(
                        eopnotsupp(),
                        format_args!(
                            "{what}: fanotify mark on inode {ino} on device {} cannot be named by a path of the process's (a deleted file?): not supported",
                            Dev(dev)
                        ),
                    )
                })?
            }
            Object::Filesystem(dev) => t.sb_path(dev, &mut path).map_err(|_| {
                why.set(
                    eopnotsupp(),
                    format_args!(
                        "{what}: fanotify filesystem mark on device {}, which no path of the process's is on: not supported",
                        Dev(dev)
                    ),
                )
            })?,
            Object::Mount(id) => mount_path(t, f, &g, m, id, &mut path, what, why)?,
            Object::MntNs(ns) => {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "{what}: a fanotify mount-namespace mark (mnt:[{ns}]): not supported yet"
                    ),
                ))
            }
        };
        path.truncate(n);
        let shown = path_str(&path);
        if m.mask & image::FANOTIFY_PERM_EVENTS != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: fanotify mark on {shown} asks for permission events (mask {:#x}), which the restart's own opening of files would wait on: not supported",
                    m.mask
                ),
            ));
        }
        if m.ignore_mask == 0 && m.flags & IGNORE_FLAGS != 0 {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: fanotify mark on {shown} has ignore flags ({:#x}) and an empty ignore mask, which fanotify_mark(2) cannot make again",
                    m.flags
                ),
            ));
        }
        if (m.mask | m.ignore_mask) & !image::FANOTIFY_MASK_BITS != 0
            || m.flags & !image::FANOTIFY_MARK_FLAG_BITS != 0
            || (m.mask == 0 && m.ignore_mask == 0)
        {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: fanotify mark on {shown} has masks or flags not known ({:#x}, ignore {:#x}, flags {:#x}): not supported",
                    m.mask, m.ignore_mask, m.flags
                ),
            ));
        }
        paths.push(path, GFP_KERNEL)?;
    }
    // After the marks: a mark that cannot come back is said even if events are
    // queued (a mount mark sees many).
    if g.queued {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: its fanotify group has events queued, which cannot be saved (read them first, or checkpoint again later)"
            ),
        ));
    }
    Ok((g, paths))
}

/// The path of the root of mount mark `m`'s mount (fdinfo's mount `id`): the
/// mount of the process's root, working directory or an open file that the
/// group of `f` marks with `m`'s masks (the mounts marked alike are told
/// apart in order: the `nth` such mark is the `nth` such mount).
#[allow(clippy::too_many_arguments)]
fn mount_path(
    t: &TaskRef,
    f: &FileRef,
    g: &Group,
    m: &Mark,
    id: u64,
    path: &mut [u8],
    what: What,
    why: &mut Reason,
) -> Result<usize> {
    let alike = |o: &&Mark| {
        matches!(o.object, Object::Mount(_)) && o.mask == m.mask && o.ignore_mask == m.ignore_mask
    };
    let before = g.marks.iter().take_while(|o| !core::ptr::eq(*o, m));
    let nth = before.filter(alike).count() as u32;
    if g.marks.iter().filter(alike).any(|o| o.flags != m.flags) {
        return Err(why.set(
            eopnotsupp(),
            format_args!(
                "{what}: fanotify mount marks with the same masks and other flags (mount id {id}), which ckpt cannot tell apart: not supported"
            ),
        ));
    }
    t.mount_mark_path(f, m.mask, m.ignore_mask, nth, path)
        .map_err(|e| {
            let how = if e == ENOENT {
                "on a mount that is neither the process's root's, its working directory's nor an open file's"
            } else if e.to_errno() == -(kernel::bindings::ESTALE as i32) {
                "on a mount no path names (another is mounted over it, or it is outside the root)"
            } else if e == E2BIG {
                "among more than 64 marked mounts"
            } else {
                return why.set(e, format_args!("{what}: cannot find the mount of its fanotify mount mark (mount id {id})"));
            };
            why.set(
                eopnotsupp(),
                format_args!("{what}: fanotify mount mark (mount id {id}) {how}: not supported"),
            )
        })
}

/// Refuses a fanotify file whose group or marks cannot be saved.
pub(crate) fn precheck(t: &TaskRef, f: &FileRef, what: What, why: &mut Reason) -> Result {
    named(t, f, what, why).map(|_| ())
}

/// Writes the group and marks of fanotify file `f` (file record `id`).
pub(crate) fn write_records(
    w: &mut ImageWriter<'_>,
    id: u32,
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result {
    let (g, paths) = named(t, f, what, why)?;
    w.record(&FanotifyGroup {
        file: id,
        flags: g.flags,
        event_f_flags: g.event_f_flags,
        unpriv: if g.unpriv { image::FANOTIFY_UNPRIV } else { 0 },
    })?;
    for (m, path) in g.marks.iter().zip(paths.iter()) {
        let (mark_type, ino, dev) = match m.object {
            Object::Inode { ino, dev } => (image::FAN_MARK_INODE, ino, dev),
            Object::Filesystem(dev) => (image::FAN_MARK_FILESYSTEM, 0, dev),
            Object::Mount(_) => (image::FAN_MARK_MOUNT, 0, 0),
            _ => return Err(EINVAL),
        };
        w.record(&FanotifyMark {
            file: id,
            mark_type,
            flags: m.flags,
            mask: m.mask,
            ignore_mask: m.ignore_mask,
            dev,
            ino,
            path,
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// The fanotify group the restarter made for file `f` must be the image's:
/// the same init and event flags, made with or without `CAP_SYS_ADMIN` as the
/// image's was, no event queued, and the image's marks in its order, no
/// other, each on the inode its path names now (looked up with the image's
/// credentials, which must be allowed to read it, as `fanotify_mark()` asks: a root
/// restarter of a user's image must not let it watch what the user could not).
pub(crate) fn check(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    file: &FileRef,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result {
    let g = group(file, What::Fd(0), why)?;
    let differs = |why: &mut Reason, field: core::fmt::Arguments<'_>| {
        refuse(
            why,
            EINVAL,
            format_args!(
                "the fanotify group passed for file {} has {field} than the image's",
                f.id
            ),
        )
    };
    let Some(want) = p.events.iter().find_map(|r| match r {
        AnyRecord::FanotifyGroup(x) if x.file == f.id => Some(x),
        _ => None,
    }) else {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "fanotify file {} of the image has no fanotify-group record",
                f.id
            ),
        ));
    };
    if g.flags != want.flags {
        return Err(differs(why, format_args!("other flags ({:#x})", g.flags)));
    }
    if g.event_f_flags != want.event_f_flags {
        return Err(differs(
            why,
            format_args!("other event flags ({:#o})", g.event_f_flags),
        ));
    }
    if g.unpriv != (want.unpriv != 0) {
        return Err(refuse(
            why,
            EPERM,
            format_args!(
                "the fanotify group passed for file {} was made {} CAP_SYS_ADMIN, the image's {}",
                f.id,
                if g.unpriv { "without" } else { "with" },
                if g.unpriv { "with" } else { "without" },
            ),
        ));
    }
    if g.queued || g.answer_pending {
        return Err(refuse(
            why,
            EBUSY,
            format_args!(
                "fanotify file {}: the group passed has events queued (the restart's own opening of a marked file?)",
                f.id
            ),
        ));
    }
    let mut want_marks = p.events.iter().filter_map(|r| match r {
        AnyRecord::FanotifyMark(m) if m.file == f.id => Some(m),
        _ => None,
    });
    for h in g.marks.iter() {
        let Some(m) = want_marks.next() else {
            return Err(differs(why, format_args!("more marks")));
        };
        let on = match h.object {
            Object::Inode { ino, dev } if m.mark_type == image::FAN_MARK_INODE => {
                On::Inode(ino, dev)
            }
            Object::Filesystem(dev) if m.mark_type == image::FAN_MARK_FILESYSTEM => {
                On::Filesystem(dev)
            }
            Object::Mount(_) if m.mark_type == image::FAN_MARK_MOUNT => On::Mount,
            _ => {
                return Err(differs(
                    why,
                    format_args!("another kind of mark on {}", path_str(m.path)),
                ))
            }
        };
        if h.flags != m.flags || h.mask != m.mask || h.ignore_mask != m.ignore_mask {
            return Err(differs(
                why,
                format_args!(
                    "another mark on {} (mask {:#x}, ignore mask {:#x}, flags {:#x})",
                    path_str(m.path),
                    h.mask,
                    h.ignore_mask,
                    h.flags
                ),
            ));
        }
        marked_as_image(f, file, m, on, creds, why)?;
    }
    if want_marks.next().is_some() {
        return Err(differs(why, format_args!("fewer marks")));
    }
    Ok(())
}

/// What a mark of the group passed for a file is on, as its fdinfo shows it.
#[derive(Clone, Copy)]
enum On {
    /// Inode number, device.
    Inode(u64, u32),
    /// The filesystem of a device.
    Filesystem(u32),
    /// A mount (fdinfo's mount id says nothing across machines).
    Mount,
}

/// The mark `on` of the group passed for file `f` (`group`; the image's mark
/// `m`) is on the inode `m`'s path names (on its filesystem, on its mount),
/// looked up with the image's credentials, and those may read it
/// (`fanotify_mark`'s `MAY_READ`).
fn marked_as_image(
    f: &image::FileRec<'_>,
    group: &FileRef,
    m: &FanotifyMark<'_>,
    on: On,
    creds: &crate::access::ImageCreds,
    why: &mut Reason,
) -> Result {
    let path = super::files::path_z(m.path)?;
    let _as = creds.apply()?;
    let named = FileRef::open(&path, image::O_PATH | O_NOFOLLOW).map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "fanotify mark of file {}: {} cannot be looked up with the image's credentials",
                f.id,
                path_str(m.path)
            ),
        )
    })?;
    let (now_ino, now_dev, may_read) = named.watch_facts();
    let (ino, dev) = match on {
        On::Inode(ino, dev) => (Some(ino), dev),
        On::Filesystem(dev) => (None, dev),
        On::Mount => (None, now_dev),
    };
    if matches!(on, On::Mount) && !group.fanotify_marks_mount_of(&named, m.mask, m.ignore_mask)? {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "fanotify mount mark of the group passed for file {} is not on the mount {} is on",
                f.id,
                path_str(m.path)
            ),
        ));
    }
    if ino.is_some_and(|i| i != now_ino) || now_dev != dev {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "fanotify mark of the group passed for file {} is not on {} (inode {} on device {}, the path names inode {now_ino} on {})",
                f.id,
                path_str(m.path),
                ino.unwrap_or(0),
                Dev(dev),
                Dev(now_dev)
            ),
        ));
    }
    may_read.map_err(|e| {
        refuse(
            why,
            e,
            format_args!(
                "fanotify mark of file {}: the image's credentials may not read {}, which fanotify_mark(2) requires",
                f.id,
                path_str(m.path)
            ),
        )
    })
}

/// Once the process's files and executable are open (its last opening of files
/// by path before the point of no return): refuses the restart if one of its
/// fanotify groups has an event queued, which the restart's own opening of a
/// marked file (after the group was checked) put there and the program never had.
pub(crate) fn recheck(p: &Plan<'_>, opened: &super::files::Opened, why: &mut Reason) -> Result {
    for f in p
        .files
        .iter()
        .filter(|f| f.kind == image::filekind::FANOTIFY)
    {
        let Some(file) = opened.get(f.id) else {
            continue;
        };
        if file.poll_now() & EPOLLIN != 0 {
            return Err(refuse(
                why,
                EBUSY,
                format_args!(
                    "fanotify file {}: the restart's own opening of a marked file queued an event the program did not have",
                    f.id
                ),
            ));
        }
    }
    Ok(())
}
