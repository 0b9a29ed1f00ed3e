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
//! An entry's fd number need not hold its file any more (closed or replaced
//! since the entry was added, as `close()` without `EPOLL_CTL_DEL` leaves it):
//! fdinfo shows the number, and the file is found by the entries that hang
//! on it (`FileRef::epoll_entries_on`); the helper puts it at that number for
//! the `epoll_ctl`, and the module then installs the image's table.
//!
//! A checkpoint refuses an entry it could not give back: one whose file no fd
//! of the process holds (open only in another process or in flight), one
//! watching a file the restarter does not make, and one watching a signalfd
//! that another process than the set's first holder added (the entry's wakeups
//! hang on the signal handlers of the process that added it; `ckpt restart`
//! adds it again in the holder's own signal context). An epoll set shared by several
//! processes of a tree (inherited across `fork()`) is judged and saved with the
//! table of the first of them: the others need not hold its targets (a forked
//! child that closed the listening socket its parent's set watches).

use super::event::{after, fdinfo_entries, kind_of, num};
use super::files::{fmt_what::What, path_str};
use crate::checkpoint::{eopnotsupp, Reason};
use crate::image::{self, AnyRecord, EpollItem};
use crate::restart::{refuse, Plan};
use crate::shim::{fk, EpollEntry, FileRef, TaskRef};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// An entry of an epoll file's interest list, as fdinfo shows it.
pub(crate) struct Item {
    pub(crate) tfd: u32,
    pub(crate) events: u32,
    pub(crate) data: u64,
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
            let (ino, _) = num(after(line, b"ino:")?, 16)?;
            Some(Item {
                tfd: u32::try_from(tfd).ok()?,
                events: u32::try_from(events).ok()?,
                data,
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

/// Whether `e`, an entry seen from the file it watches, is fdinfo's `it`.
fn is_item(e: &EpollEntry, it: &Item) -> bool {
    e.fd as u32 == it.tfd && e.events == it.events && e.data == it.data
}

/// The file each entry of epoll file `f` (at `what` in `t`'s fd table) watches,
/// checked: a file of that table (at the entry's fd number, or, when that fd
/// was closed or replaced since the entry was added, at another), and one the
/// restarter can make.
///
/// fdinfo names an entry by its key's fd number only; the file is the one
/// whose own list of epoll entries holds it ([`FileRef::epoll_entries_on`]),
/// first asked of the file at that fd number, then of every watched file of
/// the table. Two entries under one fd number (one added before the fd was
/// replaced) are two files: each is given one.
pub(crate) fn targets(
    t: &TaskRef,
    f: &FileRef,
    what: What,
    why: &mut Reason,
) -> Result<KVec<(Item, FileRef)>> {
    let list = items(f, what, why)?;
    let mut out: KVec<(Item, FileRef)> = KVec::with_capacity(list.len(), GFP_KERNEL)?;
    let mut path = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    // The table's watched files with `f`'s entries on each, read when an entry's
    // fd number no longer holds its file.
    let mut table: Option<KVec<(FileRef, KVec<EpollEntry>)>> = None;
    let unreadable = |why: &mut Reason, e: Error| {
        if e.to_errno() == -(kernel::bindings::EPROTO as i32) {
            why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: the entries of its epoll set cannot be read on this kernel (its epoll items are not laid out as ckpt reads them)"
                ),
            )
        } else {
            e
        }
    };
    for it in list {
        let tfd = it.tfd;
        let free = |g: &FileRef, out: &KVec<(Item, FileRef)>| {
            !out.iter().any(|(o, h)| o.tfd == tfd && h.key() == g.key())
        };
        let mut n = tfd;
        let mut target = None;
        if let Some(g) = t.next_file(&mut n).filter(|_| n == tfd) {
            let entries = g.epoll_entries_on(f).map_err(|e| unreadable(why, e))?;
            if entries.iter().any(|e| is_item(e, &it)) && free(&g, &out) {
                target = Some(g);
            }
        }
        if target.is_none() {
            if table.is_none() {
                let mut v = KVec::new();
                let mut seen = super::files::Seen::new();
                let mut n = 0;
                while let Some(g) = t.next_file(&mut n) {
                    n += 1;
                    if !g.watched() || seen.has(&g) {
                        continue;
                    }
                    seen.note(&g)?;
                    let entries = g.epoll_entries_on(f).map_err(|e| unreadable(why, e))?;
                    if !entries.is_empty() {
                        v.push((g, entries), GFP_KERNEL)?;
                    }
                }
                table = Some(v);
            }
            target = table
                .as_ref()
                .and_then(|v| {
                    v.iter()
                        .find(|(g, es)| es.iter().any(|e| is_item(e, &it)) && free(g, &out))
                })
                .map(|(g, _)| g.clone());
        }
        let Some(target) = target else {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: its epoll set watches a file under fd {tfd} that no fd of this process holds (closed here, the file is open in another process or in flight): not supported"
                ),
            ));
        };
        let (fi, pl) = target.info(&mut path)?;
        if fi.ino != it.ino {
            return Err(why.set(
                EAGAIN,
                format_args!("{what}: its epoll set changed while it was read"),
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
        // A signalfd wakes the epoll entries hung on the signal handlers of the
        // process that added them (`signalfd_poll` waits on `current`'s
        // `sighand->signalfd_wqh`): `ckpt restart` adds such an entry in that
        // process's own signal context (the process the set is judged with
        // here, the first of the tree holding it), so it must be that process
        // that added it, and it must be alive there (PostgreSQL's latches wait
        // for SIGURG so).
        if kind_of(&path[..pl]) == Some(image::filekind::SIGNALFD)
            && !target
                .epoll_signalfd_wakes(f, tfd as i32, t)
                .map_err(|e| unreadable(why, e))?
        {
            return Err(why.set(
                eopnotsupp(),
                format_args!(
                    "{what}: its epoll set watches a signalfd (fd {tfd}) whose entry another process added (the signals of that process wake it, not this one's): not supported"
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
    // As multisets: one fd number may key several entries (of several files).
    let mut used = KVec::from_elem(false, have.len(), GFP_KERNEL)?;
    let same = have.len() == want().count()
        && want().all(|e| {
            let hit = have.iter().enumerate().position(|(i, h)| {
                !used[i] && h.tfd == e.tfd && h.events == e.events && h.data == e.data
            });
            hit.map(|i| used[i] = true).is_some()
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
