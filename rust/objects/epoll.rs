// SPDX-License-Identifier: GPL-2.0

//! epoll sets: the interest list, one entry per watched file (its fd number,
//! events and data), read from the epoll file's fdinfo at checkpoint.
//!
//! The kernel keys each entry by the pair (file, fd number) that
//! `epoll_ctl(EPOLL_CTL_ADD)` was given, and `EPOLL_CTL_MOD`/`DEL` find it by
//! the same pair; no exported function adds an entry (`do_epoll_ctl` is not
//! exported). So `ckpt restart` makes the epoll file and every file it watches
//! before the ioctl (they are all of kinds only the restarter creates: pipes,
//! pseudo-terminal masters, event files), and adds each entry with
//! `epoll_ctl` in a helper process that holds the target at the image's fd
//! number; the module then installs those very files at those numbers, so
//! every key is the image's. The module checks the interest list against the
//! image before it installs the epoll file.
//!
//! A checkpoint refuses an entry it could not give back: one whose fd number
//! no longer holds the file it watches (closed or replaced since it was added,
//! the file still open elsewhere), and one watching a file the restarter does
//! not make.

use super::event::{after, fdinfo_entries, kind_of, num};
use super::files::{fmt_what::What, path_str};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, EpollItem};
use crate::restart::{refuse, Plan};
use crate::shim::{fk, FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// An entry of an epoll file's interest list, as fdinfo shows it.
pub(crate) struct Item {
    pub(crate) tfd: u32,
    pub(crate) events: u32,
    pub(crate) data: u64,
    pos: u64,
    ino: u64,
}

/// The interest list of epoll file `f`.
pub(crate) fn items(f: &FileRef, what: What, why: &mut Reason) -> Result<KVec<Item>> {
    let reading = "the interest list of its epoll set";
    fdinfo_entries(
        f,
        b"tfd:",
        reading,
        "the interest list",
        what,
        why,
        |line| {
            let (tfd, _) = num(after(line, b"tfd:")?, 10)?;
            let (events, _) = num(after(line, b"events:")?, 16)?;
            let (data, _) = num(after(line, b"data:")?, 16)?;
            let (pos, _) = num(after(line, b"pos:")?, 10)?;
            let (ino, _) = num(after(line, b"ino:")?, 16)?;
            Some(Item {
                tfd: u32::try_from(tfd).ok()?,
                events: u32::try_from(events).ok()?,
                data,
                pos,
                ino,
            })
        },
    )
}

// ---------------------------------------------------------------------------
// Checkpoint.

/// Whether the restarter makes a file of this kind, and can so add it to an
/// epoll set before the ioctl: an anonymous pipe, a pseudo-terminal master, an
/// event-loop file, a unix socket.
fn restarter_makes(f: &FileRef, fi: &crate::shim::FileInfo, path: &[u8]) -> bool {
    match fi.kind {
        fk::PIPE => true,
        fk::ANON => kind_of(path).is_some(),
        fk::CHR => f.pty().is_some_and(|p| p.master != 0),
        // Unix sockets (any other socket is refused as a file of the table).
        fk::SOCKET => true,
        _ => false,
    }
}

/// The file each entry of epoll file `f` (at `what` in `t`'s fd table) watches,
/// checked: it is the file at the entry's fd number in that table, and one the
/// restarter can make.
pub(crate) fn targets(
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result<KVec<(Item, FileRef)>> {
    let list = items(f, what, why)?;
    let mut out: KVec<(Item, FileRef)> = KVec::with_capacity(list.len(), GFP_KERNEL)?;
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    for it in list {
        let tfd = it.tfd;
        if out.iter().any(|(o, _)| o.tfd == tfd) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: its epoll set watches two files under fd {tfd} (one was replaced after it was added): not supported"
                ),
            ));
        }
        let mut n = tfd;
        let target = match t.next_file(&mut n) {
            Some(g) if n == tfd => g,
            _ => {
                return Err(why.set(
                    eopnotsupp(),
                    format_args!(
                        "{what}: its epoll set watches fd {tfd}, which is closed (the file is still open elsewhere): not supported"
                    ),
                ))
            }
        };
        let (fi, pl) = target.info(&mut path)?;
        if fi.ino != it.ino || fi.pos as u64 != it.pos || !target.watched() {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: its epoll set watches another file under fd {tfd} than the one fd {tfd} holds now: not supported"
                ),
            ));
        }
        if !restarter_makes(&target, &fi, &path[..pl]) {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: its epoll set watches fd {tfd} ({}), which a restart cannot watch again yet (only pipes, pseudo-terminal masters, event files and unix sockets)",
                    path_str(&path[..pl])
                ),
            ));
        }
        out.push((it, target), GFP_KERNEL)?;
    }
    Ok(out)
}

/// Refuses an epoll file (`what` of `t`) whose interest list cannot be saved.
pub(crate) fn precheck(t: &TaskRef, f: &FileRef, what: What, why: &mut Reason) -> Result {
    targets(t, f, what, why).map(|_| ())
}

/// Writes the interest lists of the epoll files defined with `t`'s fd table
/// (whose files are all defined by now).
pub(crate) fn write_items(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    t: &TaskRef,
    why: &mut Reason,
) -> Result {
    let epolls = core::mem::take(&mut objs.epolls);
    for (id, f, what) in epolls.iter() {
        for (it, target) in targets(t, f, *what, why)? {
            let Some(tid) = objs.get(target.key()) else {
                return Err(why.set(
                    EINVAL,
                    format_args!("{what}: the file its epoll set watches was not saved"),
                ));
            };
            w.record(&EpollItem {
                file: *id,
                tfd: it.tfd,
                target: tid,
                events: it.events,
                data: it.data,
            })?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Restart.

/// The interest list of the epoll file the restarter made for file `f` must be
/// the image's: the same entries (fd number, events, data), no other.
pub(crate) fn check(
    p: &Plan<'_>,
    f: &image::FileRec<'_>,
    file: &FileRef,
    why: &mut Reason,
) -> Result {
    let have = items(file, What::Fd(0), why)?;
    let want = || {
        p.events.iter().filter_map(move |r| match r {
            AnyRecord::EpollItem(e) if e.file == f.id => Some(e),
            _ => None,
        })
    };
    let same = have.len() == want().count()
        && want().all(|e| {
            have.iter()
                .any(|h| h.tfd == e.tfd && h.events == e.events && h.data == e.data)
        });
    if !same {
        return Err(refuse(
            why,
            EINVAL,
            format_args!(
                "the epoll set passed for file {} does not watch what the image's did",
                f.id
            ),
        ));
    }
    Ok(())
}
