// SPDX-License-Identifier: GPL-2.0

//! Chains of incremental images.
//!
//! An image taken with `ckpt checkpoint --parent PARENT` holds a `parent` record
//! (the parent's track id, its end-record account and its path) and, besides its
//! own page records, `parent-pages` runs: pages unchanged since the parent. The
//! module restores only whole images; [`resolve`] turns a chain into one: it reads
//! the parent (and the parent's parent...), checks that each is the very image
//! its child was taken against, and writes the child with the runs replaced by
//! the parents' pages into a memfd, which restart then reads as any image.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::image::{
    kind, AnyRecord, Pages, RecordHeader, StreamAccount, MAGIC, MAX_PAGES_PER_RECORD, PAGE_SIZE,
    REC_HDR_LEN,
};
use crate::reader::{self, Item, Reader};

/// Longest chain followed (a loop of images naming each other ends here).
const MAX_DEPTH: usize = 64;

/// Where the contents of one page are: file `.0` of the chain, at offset `.1`.
type Source = (usize, u64);

/// The pages of one image with its chain resolved: per process (tgid), page
/// address to where its contents are.
#[derive(Default)]
struct Index {
    procs: HashMap<i32, BTreeMap<u64, Source>>,
}

/// What a first look at an image found.
pub struct Head {
    /// Its `track` record's id (dirty tracking started with it), if any.
    pub track: Option<u64>,
    /// Its `parent` record: the parent's track id, account and path.
    pub parent: Option<(u64, StreamAccount, PathBuf)>,
}

fn rerr(path: &Path, e: reader::ReadError) -> String {
    let what = match &e.cause {
        reader::Cause::Image(i) => reader::describe(i),
        reader::Cause::Io(io) => io.to_string(),
    };
    format!("{}: record {}: {what}", path.display(), e.index)
}

/// Opens `path` for reading without waiting (a fifo), without becoming its
/// controlling terminal, not through a symlink as its last component if
/// `nofollow`; anything but a regular file is refused before a byte is read.
pub fn open_regular(path: &Path, nofollow: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(
            libc::O_NONBLOCK | libc::O_NOCTTY | if nofollow { libc::O_NOFOLLOW } else { 0 },
        )
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Reads the records of `path` before its first address space.
pub fn head(path: &Path) -> Result<Head, String> {
    let f =
        open_regular(path, false).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    // Decompressed as far as read (a compressed image's start only).
    let r = crate::compress::reader(io::BufReader::new(f))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    head_from(r, path)
}

/// [`head`] of the open (uncompressed) image `f`, read from its start.
fn head_of(mut f: File, path: &Path) -> Result<Head, String> {
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    head_from(io::BufReader::new(f), path)
}

fn head_from<R: Read>(r: R, path: &Path) -> Result<Head, String> {
    let mut rd = Reader::new(r).map_err(|e| rerr(path, e))?;
    let mut h = Head {
        track: None,
        parent: None,
    };
    while let Some(e) = rd.next_record().map_err(|e| rerr(path, e))? {
        match e.item {
            Item::Record(AnyRecord::Track(t)) => h.track = Some(t.id),
            Item::Record(AnyRecord::Parent(p)) => {
                let raw = PathBuf::from(String::from_utf8_lossy(p.path).into_owned());
                h.parent = Some((p.track, p.account, raw));
            }
            Item::Record(AnyRecord::Mm(_) | AnyRecord::Task(_) | AnyRecord::End(_)) => break,
            _ => {}
        }
    }
    Ok(h)
}

/// Where the parent named `recorded` by the image at `child` is: that path if it
/// exists, else a file of the same name next to the child (images moved together).
pub fn locate(child: &Path, recorded: &Path) -> PathBuf {
    let dir = child.parent().unwrap_or(Path::new("."));
    let direct = if recorded.is_absolute() {
        recorded.to_path_buf()
    } else {
        dir.join(recorded)
    };
    if direct.exists() {
        return direct;
    }
    match recorded.file_name() {
        Some(name) if dir.join(name).exists() => dir.join(name),
        _ => direct,
    }
}

/// Where the parent named `recorded` by the received image at `child` is: only
/// a file of that name in the child's own directory (the receiver's), never a
/// path elsewhere on this machine.
pub fn locate_confined(child: &Path, recorded: &Path) -> Result<PathBuf, String> {
    let dir = child.parent().unwrap_or(Path::new("."));
    match recorded.file_name() {
        Some(name) if recorded.components().count() == 1 => Ok(dir.join(name)),
        _ => Err(format!(
            "{}: its parent image {} is not a file of its directory: a received image's \
             parents are looked for there only",
            child.display(),
            recorded.display()
        )),
    }
}

fn find(child: &Path, recorded: &Path, confined: bool) -> Result<PathBuf, String> {
    if confined {
        locate_confined(child, recorded)
    } else {
        Ok(locate(child, recorded))
    }
}

/// Reads the image at `path` (file `files.len()` of the chain), resolving its own
/// parent first; `expect`: the track id and account its child recorded for it;
/// `confined`: parents only in the child's directory, not through symlinks.
fn index(
    path: &Path,
    expect: Option<(u64, StreamAccount, &Path)>,
    files: &mut Vec<File>,
    depth: usize,
    confined: bool,
) -> Result<Index, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{}: chain of parent images longer than {MAX_DEPTH}",
            path.display()
        ));
    }
    let f = open_regular(path, confined).map_err(|e| match expect {
        Some((_, _, child)) => format!(
            "{} needs its parent image {} (taken against it): cannot open: {e}",
            child.display(),
            path.display()
        ),
        None => format!("{}: cannot open: {e}", path.display()),
    })?;
    let f = crate::compress::plain(f, path)?;
    let me = files.len();
    files.push(f.try_clone().map_err(|e| e.to_string())?);
    let mut rd =
        Reader::new(io::BufReader::with_capacity(1 << 20, f)).map_err(|e| rerr(path, e))?;
    let mut tasks: Vec<(i32, u32)> = Vec::new();
    let mut own: HashMap<u32, Vec<(u64, Source)>> = HashMap::new();
    let mut runs: HashMap<u32, Vec<(u64, u32)>> = HashMap::new();
    let mut track = None;
    let mut parent = None;
    let mut account = None;
    while let Some(e) = rd.next_record().map_err(|e| rerr(path, e))? {
        let Item::Record(r) = e.item else { continue };
        match r {
            AnyRecord::Track(t) => track = Some(t.id),
            AnyRecord::Parent(p) => {
                let raw = PathBuf::from(String::from_utf8_lossy(p.path).into_owned());
                parent = Some((p.track, p.account, raw));
            }
            AnyRecord::Task(t) if t.pid == t.tgid => tasks.push((t.tgid, t.mm)),
            AnyRecord::Pages(p) => {
                let data = e.offset + (REC_HDR_LEN + Pages::prefix_len(p.count())) as u64;
                let v = own.entry(p.mm).or_default();
                for i in 0..p.count() {
                    v.push((p.addr(i), (me, data + (i * PAGE_SIZE) as u64)));
                }
            }
            AnyRecord::ParentPages(p) => {
                let v = runs.entry(p.mm).or_default();
                for i in 0..p.count() {
                    v.push(p.run(i));
                }
            }
            AnyRecord::End(end) => account = Some(end.account),
            _ => {}
        }
    }
    if let Some((id, acc, child)) = expect {
        if track != Some(id) || account != Some(acc) {
            return Err(format!(
                "{} is not the parent image {} was taken against (its {} differs): \
                 refusing to restore from a wrong parent",
                path.display(),
                child.display(),
                if track != Some(id) {
                    "track id"
                } else {
                    "content"
                }
            ));
        }
    }
    let up = match &parent {
        Some((id, acc, raw)) => {
            let p = find(path, raw, confined)?;
            index(&p, Some((*id, *acc, path)), files, depth + 1, confined)?
        }
        None => Index::default(),
    };
    let mut out = Index::default();
    for (tgid, mm) in tasks {
        let mut pages: BTreeMap<u64, Source> =
            own.remove(&mm).unwrap_or_default().into_iter().collect();
        if let Some(rs) = runs.get(&mm) {
            let from = up.procs.get(&tgid);
            for &(start, n) in rs {
                let end = start + ((n as u64) << 12);
                if pages.range(start..end).next().is_some() {
                    return Err(format!(
                        "{}: a page of process {tgid} is both in the image and its parent's",
                        path.display()
                    ));
                }
                if let Some(from) = from {
                    for (&a, &s) in from.range(start..end) {
                        pages.insert(a, s);
                    }
                }
            }
        }
        out.procs.insert(tgid, pages);
    }
    Ok(out)
}

/// Writes records as a stream, keeping the account.
struct Out<W: Write> {
    w: W,
    account: StreamAccount,
}

impl<W: Write> Out<W> {
    fn raw(&mut self, h: &RecordHeader, payload: &[u8]) -> io::Result<()> {
        self.w.write_all(&h.to_bytes())?;
        self.w.write_all(payload)?;
        self.account.add(h);
        Ok(())
    }

    fn record(&mut self, kind: u16, payload: &[u8]) -> io::Result<()> {
        let h = RecordHeader::for_payload(kind, 1, payload);
        self.raw(&h, payload)
    }
}

/// `image` (open, at `path`) as a whole image: itself if it has no parent, else
/// a memfd holding it with its chain resolved.
pub fn resolve(image: File, path: &Path) -> Result<File, String> {
    resolve_with(image, path, false)
}

/// [`resolve`]; `confined` (a received image): its parents only in its own
/// directory ([`locate_confined`]), not through symlinks.
pub fn resolve_with(mut image: File, path: &Path, confined: bool) -> Result<File, String> {
    let h = head_of(image.try_clone().map_err(|e| e.to_string())?, path)?;
    let Some((id, acc, raw)) = h.parent else {
        image.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        return Ok(image);
    };
    let mut files = Vec::new();
    let parent = find(path, &raw, confined)?;
    let up = index(&parent, Some((id, acc, path)), &mut files, 1, confined)?;
    crate::timing::mark("chain-indexed");
    let mut child = Vec::new();
    image
        .seek(SeekFrom::Start(0))
        .and_then(|_| image.read_to_end(&mut child))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Validates the child as a whole first.
    reader::validate(&child[..]).map_err(|e| rerr(path, e))?;
    // SAFETY: A plain syscall with a NUL-terminated name; a valid fd is owned below.
    let fd = unsafe { libc::memfd_create(c"ckpt-chain".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let mut mem = unsafe { File::from_raw_fd(fd) };
    flatten(
        &child,
        &up,
        &files,
        BufWriter::with_capacity(1 << 20, &mut mem),
    )
    .map_err(|e| format!("{}: resolving its parent images: {e}", path.display()))?;
    mem.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(mem)
}

/// Writes `child` (a valid image) with its `parent-pages` runs replaced by the
/// pages `up` says its parent chain holds.
fn flatten<W: Write>(child: &[u8], up: &Index, files: &[File], w: W) -> io::Result<()> {
    let recs = crate::writer::walk(child);
    let payload = |off: usize, h: &RecordHeader| &child[off + REC_HDR_LEN..][..h.len as usize];
    let mut out = Out {
        w,
        account: StreamAccount::new(),
    };
    out.w.write_all(&MAGIC)?;
    let mut mm_of_tgid: HashMap<u32, i32> = HashMap::new();
    // Page groups (by mm or memfd id, ascending as written): own pages and runs.
    let mut groups: BTreeMap<u32, (Vec<(u64, usize)>, Vec<(u64, u32)>, Vec<usize>)> =
        BTreeMap::new();
    for &(off, h) in &recs {
        let p = payload(off, &h);
        let r = AnyRecord::decode(&h, p).ok();
        match (h.kind, r) {
            (kind::PARENT, _) => continue,
            (kind::END, _) => continue,
            (kind::PAGES, Some(AnyRecord::Pages(pg))) => {
                let g = groups.entry(pg.mm).or_default();
                let data = off + REC_HDR_LEN + Pages::prefix_len(pg.count());
                for i in 0..pg.count() {
                    g.0.push((pg.addr(i), data + i * PAGE_SIZE));
                }
                g.2.push(off);
            }
            (kind::PARENT_PAGES, Some(AnyRecord::ParentPages(pp))) => {
                let g = groups.entry(pp.mm).or_default();
                for i in 0..pp.count() {
                    g.1.push(pp.run(i));
                }
            }
            (kind::PAGE_REFS, _) => {
                return Err(io::Error::other(
                    "page references (a process tree) in an incremental image",
                ))
            }
            (_, Some(AnyRecord::Task(t))) => {
                if t.pid == t.tgid {
                    mm_of_tgid.insert(t.mm, t.tgid);
                }
                out.raw(&h, p)?;
            }
            _ => out.raw(&h, p)?,
        }
    }
    let mut buf = Vec::with_capacity(8 + MAX_PAGES_PER_RECORD as usize * (8 + PAGE_SIZE));
    for (mm, (own, runs, offs)) in groups {
        if runs.is_empty() {
            // Not an address space with runs (a memfd's contents): as written.
            for off in offs {
                let h = recs.iter().find(|r| r.0 == off).map(|r| r.1).unwrap();
                out.raw(&h, payload(off, &h))?;
            }
            continue;
        }
        let from = mm_of_tgid.get(&mm).and_then(|t| up.procs.get(t));
        let mut all: BTreeMap<u64, Option<usize>> =
            own.iter().map(|&(a, o)| (a, Some(o))).collect();
        if let Some(from) = from {
            for (start, n) in runs {
                let end = start + ((n as u64) << 12);
                for (&a, _) in from.range(start..end) {
                    if all.insert(a, None).is_some() {
                        return Err(io::Error::other(
                            "a page is both in the image and in its parent's",
                        ));
                    }
                }
            }
        }
        let addrs: Vec<(u64, Option<usize>)> = all.into_iter().collect();
        for chunk in addrs.chunks(MAX_PAGES_PER_RECORD as usize) {
            buf.clear();
            buf.extend_from_slice(&mm.to_le_bytes());
            buf.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            for (a, _) in chunk {
                buf.extend_from_slice(&a.to_le_bytes());
            }
            // The parent's pages that follow each other in one file: one read.
            let src = |a: u64| from.and_then(|f| f.get(&a)).copied();
            let mut i = 0;
            while i < chunk.len() {
                let (a, own) = chunk[i];
                if let Some(o) = own {
                    buf.extend_from_slice(&child[o..o + PAGE_SIZE]);
                    i += 1;
                    continue;
                }
                let (fi, fo) = src(a).ok_or_else(|| io::Error::other("lost a parent page"))?;
                let mut n = 1;
                while i + n < chunk.len()
                    && chunk[i + n].1.is_none()
                    && src(chunk[i + n].0) == Some((fi, fo + (n * PAGE_SIZE) as u64))
                {
                    n += 1;
                }
                let at = buf.len();
                buf.resize(at + n * PAGE_SIZE, 0);
                files[fi].read_exact_at(&mut buf[at..], fo)?;
                i += n;
            }
            out.record(kind::PAGES, &buf)?;
        }
    }
    let mut end = Vec::with_capacity(24);
    end.extend_from_slice(&out.account.records.to_le_bytes());
    end.extend_from_slice(&out.account.bytes.to_le_bytes());
    end.extend_from_slice(&out.account.chain.to_le_bytes());
    out.record(kind::END, &end)?;
    out.w.flush()
}
