// SPDX-License-Identifier: GPL-2.0

//! `ckpt restart`: the userspace half of restart.
//!
//! The module's `CKPT_IOC_RESTART` overlays the *calling* task with a task
//! of an image, like exec, but it wants the callers prepared: one task per
//! task of the image (processes with the image's pids, parents, groups and
//! sessions; threads with their tids), each in its process's working
//! directory, with the vDSO where the image had it, with a fresh pipe for
//! each pipe of the image and the image's SysV segments attached. This
//! module reads what that takes from the image ([`plan`]), decides how to
//! move the vDSO ([`plan_moves`]), and runs the whole dance ([`run`]):
//!
//! ```text
//! ckpt (parent) --clone3(set_tid=[pid])--> root restarter: pipes, SysV segments,
//!      |                                   setsid/setpgid, terminal, then for each
//!      |                                   child clone3(set_tid) (a zombie exits at
//!      |                                   once; the others do the same as this one),
//!      |                                   chdir, chroot, move vDSO, threads
//!      |                                   (clone3 CLONE_THREAD + set_tid, each only
//!      |                                   calls the ioctl), ioctl --> restored program
//!      `-- waits for it, exits with its status
//! ckpt --pid-ns --clone3(CLONE_NEWPID)--> init (pid 1) --clone3(set_tid=[pid])--> restarter
//! ```
//!
//! Every restarter tells the parent through a status pipe its pid (`P`; for
//! trees and pid namespaces)
//! and whether it failed before the ioctl took over (`F`: the parent then
//! kills the others, which wait in the module); on success the module
//! closes every fd of the restarters, which the parent sees as the end of
//! the pipe.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::dev::{self, Device};
use crate::errno;
use crate::image::{backing, filekind, AnyRecord, TASK_LEADER, TASK_ZOMBIE, USER_ADDR_END};
use crate::names;
use crate::reader::{Item, ReadError, Reader};
use crate::sys::{self, Fork, MoveError};
use crate::uapi::{self, CkptRestartPipe};

// ---------------------------------------------------------------------------
// What the image asks of the restarter.

/// A special mapping of the image (the vDSO or its data pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Special {
    /// Its name, as `/proc/PID/maps` shows it (`[vdso]`, `[vvar]`, ...).
    pub name: String,
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
}

/// A pipe of the image for which the restarter creates a fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipePlan {
    /// [`crate::image::PipeRec`] id.
    pub id: u32,
    /// Its capacity at checkpoint time.
    pub capacity: u32,
    /// Bytes that were buffered in it (the module puts them back).
    pub buffered: usize,
}

/// A SysV shared memory segment the image's processes had attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysvPlan {
    /// Its shmid.
    pub shmid: i32,
    /// Its key (0: `IPC_PRIVATE`, or a segment marked for removal).
    pub key: i32,
    /// Its size in bytes.
    pub size: u64,
}

/// A controlling terminal: its path, the foreground process group, whether the
/// process leads the terminal's session.
pub type CttyPlan = (Vec<u8>, i32, bool);

/// One process of the image, as the restarter recreates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcPlan {
    /// Its pid (tgid).
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its session.
    pub sid: i32,
    /// The signal its parent gets when it exits.
    pub exit_signal: i32,
    /// The thread ids of its other threads.
    pub threads: Vec<i32>,
    /// For a zombie, its wait status.
    pub zombie: Option<i32>,
    /// Its `comm`.
    pub comm: String,
    /// Its controlling terminal.
    pub ctty: Option<CttyPlan>,
    /// Image id of its fd table (a child sharing its parent's is created with
    /// `CLONE_FILES`).
    pub files: u32,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Root directory.
    pub root: Vec<u8>,
    /// `[vdso]`, `[vvar]`, `[vvar_vclock]` mappings.
    pub specials: Vec<Special>,
    /// Every mapping `(start, end)` but `[vsyscall]`.
    pub vmas: Vec<(u64, u64)>,
}

/// What restarting an image takes, read from its records before the pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Every process, the root first, parents before their children.
    pub procs: Vec<ProcPlan>,
    /// The SysV shared memory segments to attach.
    pub sysv: Vec<SysvPlan>,
    /// The process's pid (its tgid).
    pub pid: i32,
    /// Its `comm`.
    pub comm: String,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Root directory.
    pub root: Vec<u8>,
    /// `[vdso]`, `[vvar]`, `[vvar_vclock]` mappings.
    pub specials: Vec<Special>,
    /// Every mapping `(start, end)` but `[vsyscall]`.
    pub vmas: Vec<(u64, u64)>,
    /// The pipes to create: every pipe of the image but those of fifos
    /// (which the module reopens by path and refills itself).
    pub pipes: Vec<PipePlan>,
    /// `uname -r` of the kernel that wrote the image.
    pub kernel_release: String,
}

/// Why an image cannot be restarted (by this tool, before the module is
/// asked).
#[derive(Debug)]
pub enum PlanError {
    /// The image is invalid or unreadable.
    Read(ReadError),
    /// Processes whose parent is not in the image.
    Orphans(usize),
    /// A record it needs is missing.
    Missing(&'static str),
}

impl From<ReadError> for PlanError {
    fn from(e: ReadError) -> Self {
        Self::Read(e)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => e.fmt(f),
            Self::Orphans(n) => write!(
                f,
                "{n} processes of the image have no parent in it (a broken tree)"
            ),
            Self::Missing(what) => write!(f, "the image has no {what} record"),
        }
    }
}

impl std::error::Error for PlanError {}

/// A task record, as [`plan`] keeps it.
struct TaskSeen {
    pid: i32,
    tgid: i32,
    ppid: i32,
    pgid: i32,
    sid: i32,
    flags: u32,
    exit_signal: i32,
    exit_code: i32,
    comm: String,
    fs: u32,
    mm: u32,
    files: u32,
}

/// An mm's mappings, as [`plan`] keeps them: its id, special mappings, all.
type MmSeen = (u32, Vec<Special>, Vec<(u64, u64)>);

/// Reads the records of an image up to its first page record and extracts
/// what restarting it takes. The records read are verified as `ckpt show`
/// verifies them; the pages and the rest are left to the module.
pub fn plan<R: Read>(input: R) -> Result<Plan, PlanError> {
    let mut r = Reader::new(input)?;
    let mut root_pid = 0;
    let mut tasks = Vec::new();
    let mut fs = Vec::new();
    // Mappings by mm id: (specials, all).
    let mut mms: Vec<MmSeen> = Vec::new();
    let mut pipes = Vec::new();
    let mut fifo_pipes = Vec::new();
    let mut sysv = Vec::new();
    let mut ctty: Vec<(i32, CttyPlan)> = Vec::new();
    let mut kernel_release = String::new();
    while let Some(e) = r.next_record()? {
        let Item::Record(rec) = e.item else { continue };
        match rec {
            AnyRecord::Header(h) => {
                root_pid = h.root_pid;
                kernel_release = String::from_utf8_lossy(h.kernel_release).into_owned();
            }
            AnyRecord::Task(t) => tasks.push(TaskSeen {
                pid: t.pid,
                tgid: t.tgid,
                ppid: t.ppid,
                pgid: t.pgid,
                sid: t.sid,
                flags: t.flags,
                exit_signal: t.exit_signal,
                exit_code: t.exit_code,
                comm: String::from_utf8_lossy(t.comm).into_owned(),
                fs: t.fs,
                mm: t.mm,
                files: t.files,
            }),
            AnyRecord::Fs(f) => fs.push((f.id, f.cwd.to_vec(), f.root.to_vec())),
            AnyRecord::Ctty(c) => {
                if let Some(t) = tasks.last() {
                    ctty.push((t.pid, (c.path.to_vec(), c.fg_pgid, c.leader != 0)));
                }
            }
            AnyRecord::Mm(m) => mms.push((m.id, Vec::new(), Vec::new())),
            AnyRecord::Vma(v) => {
                let Some((_, specials, vmas)) = mms.last_mut() else {
                    continue;
                };
                match v.backing {
                    backing::VSYSCALL => continue,
                    backing::VDSO | backing::VVAR => {
                        let name = if v.name.is_empty() {
                            backing::name(v.backing).to_string()
                        } else {
                            String::from_utf8_lossy(v.name).into_owned()
                        };
                        specials.push(Special {
                            name,
                            start: v.start,
                            end: v.end,
                        });
                    }
                    _ => {}
                }
                vmas.push((v.start, v.end));
            }
            AnyRecord::Pipe(p) => pipes.push(PipePlan {
                id: p.id,
                capacity: p.capacity,
                buffered: p.data.len(),
            }),
            AnyRecord::File(f) if f.kind == filekind::FIFO => fifo_pipes.push(f.pipe),
            AnyRecord::File(f) if f.kind == filekind::SYSVSHM => {
                // "/SYSV%08x (deleted)"
                let key = std::str::from_utf8(&f.path[5..13.min(f.path.len())])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .unwrap_or(0);
                sysv.push(SysvPlan {
                    shmid: f.rdev as i32,
                    key: key as i32,
                    size: f.size,
                });
            }
            AnyRecord::Pages(_) | AnyRecord::End(_) => break,
            _ => {}
        }
    }
    let mut procs: Vec<ProcPlan> = Vec::new();
    for t in &tasks {
        if t.flags & TASK_LEADER == 0 {
            continue;
        }
        let zombie = t.flags & TASK_ZOMBIE != 0;
        let (fs_id, mm) = (t.fs, t.mm);
        let (cwd, root) = if zombie {
            (Vec::new(), Vec::new())
        } else {
            let (_, cwd, root) = fs
                .iter()
                .find(|(id, _, _)| *id == fs_id)
                .ok_or(PlanError::Missing("fs"))?;
            (cwd.clone(), root.clone())
        };
        let (specials, vmas) = match mms.iter().find(|(id, _, _)| *id == mm) {
            Some((_, s, v)) => (s.clone(), v.clone()),
            // The module refuses a live task without one.
            None => (Vec::new(), Vec::new()),
        };
        procs.push(ProcPlan {
            pid: t.pid,
            ppid: t.ppid,
            pgid: t.pgid,
            sid: t.sid,
            exit_signal: t.exit_signal,
            threads: tasks
                .iter()
                .filter(|u| u.tgid == t.tgid && u.pid != t.pid && u.flags & TASK_ZOMBIE == 0)
                .map(|u| u.pid)
                .collect(),
            zombie: zombie.then_some(t.exit_code),
            comm: t.comm.clone(),
            ctty: ctty.iter().find(|c| c.0 == t.pid).map(|c| c.1.clone()),
            files: t.files,
            cwd,
            root,
            specials,
            vmas,
        });
    }
    // The root first, then parents before their children.
    let mut ordered: Vec<ProcPlan> = Vec::with_capacity(procs.len());
    let root = procs
        .iter()
        .position(|p| p.pid == root_pid && p.zombie.is_none())
        .ok_or(PlanError::Missing("root task"))?;
    ordered.push(procs.remove(root));
    while !procs.is_empty() {
        let Some(i) = procs
            .iter()
            .position(|p| ordered.iter().any(|q| q.pid == p.ppid))
        else {
            return Err(PlanError::Orphans(procs.len()));
        };
        ordered.push(procs.remove(i));
    }
    let comm = tasks
        .iter()
        .find(|t| t.pid == root_pid)
        .map(|t| t.comm.clone())
        .unwrap_or_default();
    pipes.retain(|p| !fifo_pipes.contains(&p.id));
    let r = &ordered[0];
    Ok(Plan {
        pid: r.pid,
        comm,
        cwd: r.cwd.clone(),
        root: r.root.clone(),
        specials: r.specials.clone(),
        vmas: r.vmas.clone(),
        procs: ordered,
        sysv,
        pipes,
        kernel_release,
    })
}

/// Opens an image for restart: a regular file (the module reads it at
/// offsets of its own), never standard input, a pipe or a device.
pub fn open_image(path: &Path) -> Result<File, String> {
    const SEEKABLE: &str = "restart needs a seekable image file";
    if path == Path::new("-") {
        return Err(format!(
            "{SEEKABLE}, not standard input; save the image to a file first"
        ));
    }
    let p = path.display();
    // O_NONBLOCK: opening a fifo must not wait for a writer.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{p}: cannot open: {}", errno::describe(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{p}: {}", errno::describe(&e)))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else if std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) {
            "a pipe"
        } else {
            "not a regular file"
        };
        return Err(format!("{p}: {SEEKABLE} (this is {what})"));
    }
    Ok(file)
}

// ---------------------------------------------------------------------------
// Moving the vDSO.

/// The special mappings the module wants where the image had them.
pub const SPECIAL_NAMES: [&str; 3] = ["[vdso]", "[vvar]", "[vvar_vclock]"];

/// Lowest address a scratch range may start at (`vm.mmap_min_addr`).
const MIN_ADDR: u64 = 0x10000;

/// Room kept between a scratch range and the mappings around it.
const SCRATCH_MARGIN: u64 = 1 << 20;

fn special_name(name: &str) -> Option<&'static str> {
    SPECIAL_NAMES.iter().copied().find(|n| *n == name)
}

/// One mapping of a `/proc/PID/maps` listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Path or `[name]`; empty for anonymous memory.
    pub name: &'a str,
}

/// The mappings of a `/proc/PID/maps` listing, without allocating; lines
/// that do not parse are skipped.
pub fn maps(text: &str) -> impl Iterator<Item = Mapping<'_>> {
    text.lines().filter_map(|line| {
        let (range, mut rest) = line.split_once(' ')?;
        let (s, e) = range.split_once('-')?;
        let start = u64::from_str_radix(s, 16).ok()?;
        let end = u64::from_str_radix(e, 16).ok()?;
        // perms, offset, device, inode; then the name, after padding.
        for _ in 0..4 {
            rest = rest.trim_start_matches(' ');
            rest = &rest[rest.find(' ').unwrap_or(rest.len())..];
        }
        Some(Mapping {
            start,
            end,
            name: rest.trim_start_matches(' '),
        })
    })
}

/// One `mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Move {
    /// The mapping moved.
    pub name: &'static str,
    /// Where it is.
    pub from: u64,
    /// Where it goes.
    pub to: u64,
    /// Its size.
    pub len: u64,
}

/// Most moves ever needed: each special mapping twice (via scratch space).
pub const MAX_MOVES: usize = 2 * SPECIAL_NAMES.len();

/// The moves to make, in order (a fixed array: planning them allocates
/// nothing, so that it may be done on a listing taken after the last
/// allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    n: usize,
    list: [Move; MAX_MOVES],
}

impl Moves {
    fn push(&mut self, m: Move) {
        self.list[self.n] = m;
        self.n += 1;
    }
}

impl std::ops::Deref for Moves {
    type Target = [Move];
    fn deref(&self) -> &[Move] {
        &self.list[..self.n]
    }
}

/// Why the vDSO cannot be put where the image had it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VdsoError {
    /// The image has a special mapping this kernel does not make.
    Missing(String),
    /// This kernel makes a special mapping the image does not have.
    Extra(&'static str),
    /// Sizes differ.
    Size {
        /// The mapping.
        name: &'static str,
        /// Its size here.
        here: u64,
        /// Its size in the image.
        image: u64,
    },
    /// The destination is taken by another mapping of the restarter.
    Overlap {
        /// The mapping to move.
        name: &'static str,
        /// Where it must go.
        to: (u64, u64),
        /// The mapping in the way (its name, or empty).
        other: String,
        /// Where that is.
        at: (u64, u64),
    },
    /// A special mapping that stays overlaps a mapping of the image.
    InTheWay {
        /// The special mapping.
        name: &'static str,
        /// Where it is.
        at: (u64, u64),
        /// The mapping of the image.
        vma: (u64, u64),
    },
    /// No free range to move the mappings through.
    NoScratch(u64),
    /// A planned move no longer fits the listing.
    Stale(Move),
}

const OTHER_KERNEL: &str = "the image comes from another kernel build, \
                            and restarting it on this one is not supported yet";

impl fmt::Display for VdsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(n) => write!(
                f,
                "the image has a {n} mapping this kernel lacks: {OTHER_KERNEL}"
            ),
            Self::Extra(n) => write!(
                f,
                "this kernel has a {n} mapping the image lacks: {OTHER_KERNEL}"
            ),
            Self::Size { name, here, image } => write!(
                f,
                "{name} is {here} bytes here but {image} bytes in the image: {OTHER_KERNEL}"
            ),
            Self::Overlap {
                name,
                to,
                other,
                at,
            } => write!(
                f,
                "{name} must move to {:#x}-{:#x}, where the restarter has {} at {:#x}-{:#x}; \
                 try again (the tool's own layout changes from run to run)",
                to.0,
                to.1,
                if other.is_empty() { "memory" } else { other },
                at.0,
                at.1
            ),
            Self::InTheWay { name, at, vma } => write!(
                f,
                "the restarter's {name} at {:#x}-{:#x} overlaps the image's mapping {:#x}-{:#x}",
                at.0, at.1, vma.0, vma.1
            ),
            Self::NoScratch(len) => {
                write!(
                    f,
                    "no free {len}-byte address range to move the vDSO through"
                )
            }
            Self::Stale(m) => write!(
                f,
                "{} is no longer at {:#x} or cannot go to {:#x}: the address space changed \
                 (report this bug)",
                m.name, m.from, m.to
            ),
        }
    }
}

impl std::error::Error for VdsoError {}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Decides how to move this process's special mappings (listed in `maps`,
/// its `/proc/self/maps`) to where the image had them (`image`), the
/// image's mappings being `vmas`. Allocates nothing unless it fails.
///
/// Refuses if the image's special mappings are not this kernel's (names or
/// sizes differ: another kernel build), or if a destination overlaps
/// another mapping of this process (`MREMAP_FIXED` would silently unmap
/// it). Nothing to do if they are in place already. A mapping whose
/// destination overlaps where a special mapping is now (even itself) goes
/// through a free scratch range first.
pub fn plan_moves(
    maps_text: &str,
    image: &[Special],
    vmas: &[(u64, u64)],
) -> Result<Moves, VdsoError> {
    let own_special = || maps(maps_text).filter_map(|m| Some((special_name(m.name)?, m)));
    let dest = |name: &str| image.iter().find(|s| s.name == name);
    if image.is_empty() {
        // Nothing to move; what this process has must not be in the way.
        for (name, m) in own_special() {
            if let Some(v) = vmas.iter().find(|v| overlaps(**v, (m.start, m.end))) {
                return Err(VdsoError::InTheWay {
                    name,
                    at: (m.start, m.end),
                    vma: *v,
                });
            }
        }
        return Ok(Moves::default());
    }
    for s in image {
        let Some((name, m)) = own_special().find(|(n, _)| *n == s.name) else {
            return Err(VdsoError::Missing(s.name.clone()));
        };
        if m.end - m.start != s.end - s.start {
            return Err(VdsoError::Size {
                name,
                here: m.end - m.start,
                image: s.end - s.start,
            });
        }
    }
    if let Some((name, _)) = own_special().find(|(n, _)| dest(n).is_none()) {
        return Err(VdsoError::Extra(name));
    }
    for s in image {
        let to = (s.start, s.end);
        if let Some(m) = maps(maps_text)
            .find(|m| special_name(m.name).is_none() && overlaps(to, (m.start, m.end)))
        {
            return Err(VdsoError::Overlap {
                name: special_name(&s.name).unwrap_or("[vdso]"),
                to,
                other: m.name.to_string(),
                at: (m.start, m.end),
            });
        }
    }
    let mut direct = Moves::default();
    let mut conflict = false;
    for (name, m) in own_special() {
        let Some(s) = dest(name) else { continue };
        if m.start == s.start {
            continue;
        }
        let to = (s.start, s.end);
        // Overlapping a special mapping that moves too (itself included).
        conflict |= own_special().any(|(n, o)| {
            dest(n).is_some_and(|d| d.start != o.start) && overlaps(to, (o.start, o.end))
        });
        direct.push(Move {
            name,
            from: m.start,
            to: s.start,
            len: m.end - m.start,
        });
    }
    if !conflict {
        return Ok(direct);
    }
    let total: u64 = direct.iter().map(|m| m.len).sum();
    let scratch = find_scratch(maps_text, image, total).ok_or(VdsoError::NoScratch(total))?;
    let mut moves = Moves::default();
    let mut at = scratch;
    for m in direct.iter() {
        moves.push(Move { to: at, ..*m });
        at += m.len;
    }
    at = scratch;
    for m in direct.iter() {
        moves.push(Move { from: at, ..*m });
        at += m.len;
    }
    Ok(moves)
}

/// A free range of `len` bytes: next to a mapping or destination, clear of
/// every mapping and destination by [`SCRATCH_MARGIN`].
fn find_scratch(maps_text: &str, image: &[Special], len: u64) -> Option<u64> {
    let busy = || {
        maps(maps_text)
            .map(|m| (m.start, m.end))
            .chain(image.iter().map(|s| (s.start, s.end)))
            .filter(|r| r.0 < USER_ADDR_END)
    };
    let free = |c: u64| {
        let r = (c.saturating_sub(SCRATCH_MARGIN), c + len + SCRATCH_MARGIN);
        c >= MIN_ADDR && c + len <= USER_ADDR_END && !busy().any(|b| overlaps(r, b))
    };
    busy()
        .flat_map(|b| {
            [
                b.0.checked_sub(len + SCRATCH_MARGIN),
                Some(b.1 + SCRATCH_MARGIN),
            ]
        })
        .flatten()
        .find(|&c| free(c))
}

/// Checks `moves` against the listing `maps_text` by playing them: each
/// must take a whole special mapping from where it is, to a range that
/// (after the moves before it) overlaps no mapping but its own source's
/// old place -- which `mremap` refuses anyway. Allocates nothing unless it
/// fails.
pub fn check_moves(maps_text: &str, moves: &[Move]) -> Result<(), VdsoError> {
    // Where a mapping of the listing is after the first `k` moves.
    let place = |m: &Mapping<'_>, k: usize| {
        let mut at = m.start;
        for mv in &moves[..k] {
            if mv.from == at && mv.len == m.end - m.start {
                at = mv.to;
            }
        }
        (at, at + (m.end - m.start))
    };
    for (k, mv) in moves.iter().enumerate() {
        let from = (mv.from, mv.from + mv.len);
        let to = (mv.to, mv.to + mv.len);
        let mut found = false;
        for m in maps(maps_text) {
            let at = place(&m, k);
            if at == from && special_name(m.name) == Some(mv.name) {
                found = true;
                if overlaps(from, to) {
                    return Err(VdsoError::Stale(*mv));
                }
            } else if overlaps(at, to) || overlaps(at, from) {
                return Err(VdsoError::Stale(*mv));
            }
        }
        if !found || to.1 > USER_ADDR_END || to.0 < MIN_ADDR {
            return Err(VdsoError::Stale(*mv));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Running it.

/// What `ckpt restart` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The image.
    pub file: PathBuf,
    /// The ckpt device.
    pub device: PathBuf,
    /// Restart in a new pid namespace.
    pub pid_ns: bool,
    /// Do not wait for the restored process.
    pub detach: bool,
    /// No "restarting" line.
    pub quiet: bool,
    /// `CKPT_RESTART_*`.
    pub flags: u64,
}

/// What the restarter processes need, shared by copy-on-fork.
struct Ctx<'a> {
    plan: &'a Plan,
    dev: &'a Device,
    image: &'a File,
    flags: u64,
    /// The write end of the status pipe (dropped by those who do not
    /// restart).
    status: Option<io::PipeWriter>,
    /// Send the restarter's pid as the parent's namespace sees it.
    report_pid: bool,
    /// Nobody waits: a pid namespace's init says nothing.
    detached: bool,
    /// The pipes the root restarter created for the image's pipes (inherited by
    /// every process it creates).
    pipes: Vec<CkptRestartPipe>,
    held: Vec<(io::PipeReader, io::PipeWriter)>,
}

/// A restarter's message on the status pipe: it failed.
const MSG_FAILED: u8 = b'F';
/// A restarter's message on the status pipe: its pid (4 bytes follow).
const MSG_PID: u8 = b'P';

/// How long after the restarter's fds were closed (by the module, or by
/// its death) a `SIGKILL` is blamed on the restart.
const KILLED_AT_ONCE: Duration = Duration::from_secs(1);

/// Restarts the image as `o` says; returns the exit code of `ckpt`: the
/// restored process's (or 128 + its signal), or 0 with `--detach`, or 1 if
/// the restart failed (already reported). `Err`: a message for the user.
pub fn run(o: &Options) -> Result<u8, String> {
    let name = o.file.display();
    let image = open_image(&o.file)?;
    let plan = plan(BufReader::new(&image)).map_err(|e| format!("{name}: {e}"))?;
    let dev = Device::open(&o.device).map_err(|e| errno::open_device(&o.device, &e))?;
    let v = dev.version().map_err(|e| errno::version(&o.device, &e))?;
    if v.abi_version != uapi::CKPT_ABI_VERSION {
        return Err(format!(
            "the module speaks ioctl abi {}, this tool {}: use the tool built with the module",
            v.abi_version,
            uapi::CKPT_ABI_VERSION
        ));
    }
    if v.features & uapi::CKPT_FEAT_RESTART == 0 {
        return Err(format!(
            "the module behind {} cannot restart (it lacks the restart feature; \
             see `ckpt version`)",
            o.device.display()
        ));
    }
    if !o.quiet {
        eprintln!(
            "ckpt: restarting pid {} ({}) from {name}",
            plan.pid, plan.comm
        );
    }
    let (status_r, status_w) =
        io::pipe().map_err(|e| format!("cannot create a pipe: {}", errno::describe(&e)))?;
    let mut ctx = Ctx {
        plan: &plan,
        dev: &dev,
        image: &image,
        flags: o.flags,
        status: Some(status_w),
        report_pid: plan.procs.len() > 1,
        detached: o.detach,
        pipes: Vec::new(),
        held: Vec::new(),
    };
    // `shown`: the pid the restored program has (for messages); `init`:
    // whether `child` is a pid namespace's init standing between.
    let (child, shown, init) = if !o.pid_ns {
        let c = spawn_restarter(&mut ctx, true)?;
        (c, c, false)
    } else {
        ctx.report_pid = plan.pid != 1 || plan.procs.len() > 1;
        match sys::clone3(sys::CLONE_NEWPID, None) {
            Ok(Fork::Child) if plan.pid == 1 => restarter(&mut ctx, 0),
            Ok(Fork::Child) => init(&mut ctx),
            Ok(Fork::Parent(c)) => (c, plan.pid, plan.pid != 1),
            Err(e) => {
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    ": --pid-ns needs CAP_SYS_ADMIN (run as root)"
                } else {
                    ""
                };
                return Err(format!(
                    "cannot create a pid namespace: {}{hint}",
                    errno::describe(&e)
                ));
            }
        }
    };
    drop(ctx.status.take());
    let st = read_status(status_r);
    let closed = Instant::now();
    if st.failed {
        // The restarter said why. The others of a tree wait for it in the module:
        // they go too (a pid namespace goes with its init).
        if !init {
            for &p in st.pids.iter().filter(|&&p| p != child) {
                sys::kill_now(p);
            }
        }
        sys::kill_now(child);
        let _ = sys::waitpid(child);
        return Ok(1);
    }
    if o.detach {
        println!("{}", st.pids.first().copied().unwrap_or(child));
        return Ok(0);
    }
    // Like a shell waiting for a command: ^C and ^\ are for the program.
    let _ = sys::ignore_signal(libc::SIGINT);
    let _ = sys::ignore_signal(libc::SIGQUIT);
    let (_, status) =
        sys::waitpid(child).map_err(|e| format!("waiting for {child}: {}", errno::describe(&e)))?;
    if !init {
        return Ok(report(shown, status, Some(closed)));
    }
    if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        eprintln!(
            "ckpt: the pid namespace's init ({child}) was killed by signal {s} ({})",
            names::signal(s)
        );
        return Ok((128 + s).min(255) as u8);
    }
    // The init said how the restored process died.
    let code = libc::WEXITSTATUS(status);
    if code == 128 + libc::SIGKILL && closed.elapsed() < KILLED_AT_ONCE {
        hint_killed();
    }
    Ok(code as u8)
}

/// The exit code standing for wait status `status` of the restored process
/// `pid`; says how it died if a signal killed it, and, if that was
/// `SIGKILL` right after the restarter's fds were closed (`closed`), that
/// the restart may have failed.
fn report(pid: i32, status: i32, closed: Option<Instant>) -> u8 {
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
fn exit_code(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)).min(255) as u8
    } else {
        1
    }
}

fn hint_killed() {
    eprintln!(
        "ckpt: it died at once: see the kernel log (dmesg) for why the restart failed \
         after the point of no return"
    );
}

/// What the restarter said on the status pipe.
#[derive(Debug, Default, PartialEq, Eq)]
struct Status {
    failed: bool,
    /// Pids of the restarters (as the parent sees them), the root's first.
    pids: Vec<i32>,
}

/// Reads the status pipe until every restarter closed it.
fn read_status(mut r: io::PipeReader) -> Status {
    let mut b = Vec::new();
    let _ = r.read_to_end(&mut b);
    parse_status(&b)
}

/// The messages of the status pipe.
fn parse_status(b: &[u8]) -> Status {
    let mut st = Status::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            MSG_FAILED => st.failed = true,
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

/// Forks the restarter, with the image's pid if the kernel allows, else
/// with any (saying so); returns its pid. `outside`: the caller is `ckpt`
/// itself, not a pid namespace's init.
fn spawn_restarter(ctx: &mut Ctx<'_>, outside: bool) -> Result<i32, String> {
    let pid = ctx.plan.pid;
    let e = match sys::clone3(0, Some(pid)) {
        Ok(Fork::Child) => restarter(ctx, 0),
        Ok(Fork::Parent(c)) => return Ok(c),
        Err(e) => e,
    };
    let why = match e.raw_os_error() {
        Some(libc::EEXIST) => format!("pid {pid} is in use"),
        Some(libc::EPERM) => {
            format!("not allowed to choose pid {pid} (that takes CAP_CHECKPOINT_RESTORE)")
        }
        Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EINVAL) => format!(
            "this kernel cannot give pid {pid} (clone3 with set_tid: {})",
            errno::describe(&e)
        ),
        _ => {
            return Err(format!(
                "cannot create the restarter process: {}",
                errno::describe(&e)
            ))
        }
    };
    if ctx.plan.procs.len() > 1 {
        return Err(format!(
            "{why}: a process tree is restored only with its own pids (--pid-ns gives them)"
        ));
    }
    match sys::fork() {
        Ok(Fork::Child) => restarter(ctx, 0),
        Ok(Fork::Parent(m)) => {
            let keep = if outside { "; --pid-ns keeps it" } else { "" };
            eprintln!(
                "ckpt: {why}; restarting as pid {m} (getpid() in the program will differ{keep})"
            );
            Ok(m)
        }
        Err(e) => Err(format!(
            "cannot create the restarter process: {}",
            errno::describe(&e)
        )),
    }
}

/// The init of a new pid namespace: forks the restarter, then reaps
/// children until the restored process exits, and exits with its status.
/// It mounts nothing.
fn init(ctx: &mut Ctx<'_>) -> ! {
    // Signals from inside the namespace never reach an init without
    // handlers; these come from the terminal and are for the program.
    let _ = sys::ignore_signal(libc::SIGINT);
    let _ = sys::ignore_signal(libc::SIGQUIT);
    let child = match spawn_restarter(ctx, false) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("ckpt: restart failed: {msg}");
            if let Some(mut w) = ctx.status.take() {
                let _ = w.write_all(&[MSG_FAILED]);
            }
            sys::exit_now(1)
        }
    };
    drop(ctx.status.take());
    loop {
        match sys::waitpid(-1) {
            Ok((p, status)) if p == child => {
                let code = if ctx.detached {
                    exit_code(status)
                } else {
                    report(child, status, None)
                };
                sys::exit_now(i32::from(code))
            }
            Ok(_) => {}
            Err(_) => sys::exit_now(1),
        }
    }
}

/// The restarter: prepares itself and becomes the restored program; if
/// that fails, says why (on standard error and to the parent) and exits 1.
fn restarter(ctx: &mut Ctx<'_>, idx: usize) -> ! {
    let msg = prepare_and_restart(ctx, idx);
    eprintln!("ckpt: restart failed: {msg}");
    if let Some(mut w) = ctx.status.take() {
        let _ = w.write_all(&[MSG_FAILED]);
    }
    sys::exit_now(1)
}

/// Creates the pipes, moves to the image's directories and vDSO, and asks
/// the module to restart; returns only on failure, with the reason.
fn prepare_and_restart(ctx: &mut Ctx<'_>, idx: usize) -> String {
    let plan = ctx.plan;
    let me = &plan.procs[idx];
    if ctx.report_pid {
        // /proc is the parent namespace's: /proc/self is the pid there.
        if let Some(pid) = std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str()?.parse::<i32>().ok())
        {
            if let Some(w) = ctx.status.as_mut() {
                let mut m = [MSG_PID; 5];
                m[1..].copy_from_slice(&pid.to_le_bytes());
                let _ = w.write_all(&m);
            }
        }
    }
    if idx == 0 {
        // Every pipe of the image, made once, inherited by every process below.
        for p in &plan.pipes {
            let (r, w) = match io::pipe() {
                Ok(p) => p,
                Err(e) => return format!("cannot create a pipe: {}", errno::describe(&e)),
            };
            if let Err(e) = size_pipe(&w, p) {
                return e;
            }
            ctx.pipes.push(CkptRestartPipe {
                id: p.id,
                rfd: r.as_raw_fd(),
                wfd: w.as_raw_fd(),
                pad: 0,
            });
            ctx.held.push((r, w));
        }
    }
    if idx == 0 {
        if let Err(e) = attach_sysv(plan) {
            return e;
        }
    }
    if let Err(e) = join_groups(plan, idx) {
        return e;
    }
    // Its children, each with its pid; zombies die at once, the others restore
    // themselves.
    for (j, c) in plan.procs.iter().enumerate() {
        if j == 0 || c.ppid != me.pid {
            continue;
        }
        // A child sharing its parent's fd table (CLONE_FILES) is made sharing it.
        let share = if c.zombie.is_none() && c.files == me.files && c.files != 0 {
            sys::CLONE_FILES
        } else {
            0
        };
        match sys::clone3_signal(share, Some(c.pid), c.exit_signal) {
            Ok(Fork::Child) => match c.zombie {
                Some(status) => {
                    drop(ctx.status.take());
                    if c.pgid == c.pid {
                        let _ = sys::setpgid(0);
                    }
                    sys::set_comm(&c.comm);
                    sys::exit_with_status(status)
                }
                None => restarter(ctx, j),
            },
            Ok(Fork::Parent(_)) => {}
            Err(e) => {
                return format!(
                    "cannot create process {} (child of {}) with its pid: {}",
                    c.pid,
                    me.pid,
                    errno::describe(&e)
                )
            }
        }
    }
    // Opened now: after a chroot, /proc may not be there.
    let mut maps = match File::open("/proc/self/maps") {
        Ok(f) => f,
        Err(e) => return format!("cannot read /proc/self/maps: {}", errno::describe(&e)),
    };
    let cwd = Path::new(OsStr::from_bytes(&me.cwd));
    if let Err(e) = std::env::set_current_dir(cwd) {
        return format!(
            "cannot change to the image's working directory {}: {}",
            cwd.display(),
            errno::describe(&e)
        );
    }
    if me.root != b"/" {
        let root = Path::new(OsStr::from_bytes(&me.root));
        if let Err(e) = std::os::unix::fs::chroot(root) {
            return format!(
                "cannot change the root directory to the image's {}: {}",
                root.display(),
                errno::describe(&e)
            );
        }
    }
    let stdio = if ctx.flags & uapi::CKPT_RESTART_INHERIT_STDIO != 0 {
        [0, 1, 2]
    } else {
        [-1; 3]
    };
    if let Err(e) = sys::move_specials(&mut maps, &me.specials, &me.vmas) {
        return match e {
            MoveError::Maps(e) => {
                format!("cannot read /proc/self/maps: {}", errno::describe(&e))
            }
            MoveError::Plan(
                e @ (VdsoError::Missing(_) | VdsoError::Extra(_) | VdsoError::Size { .. }),
            ) => format!("{e} (image taken on {})", plan.kernel_release),
            MoveError::Plan(e) => e.to_string(),
            MoveError::Mremap(m, e) => format!(
                "cannot move {} from {:#x} to {:#x}: {}",
                m.name,
                m.from,
                m.to,
                errno::describe(&e)
            ),
        };
    }
    // From the move on, nothing may use the vDSO: the threads, then the ioctl.
    for &tid in &me.threads {
        let args = Box::leak(Box::new(dev::restart_args(
            ctx.image.as_fd(),
            ctx.flags,
            &[],
            [-1; 3],
            tid,
        )));
        let arg = (args as *mut uapi::CkptRestartArgs).cast();
        if let Err(e) = sys::spawn_ioctl_thread(tid, ctx.dev.raw_fd(), uapi::CKPT_IOC_RESTART, arg)
        {
            return format!(
                "cannot create thread {tid} of {}: {}",
                me.pid,
                errno::describe(&e)
            );
        }
    }
    let e = ctx
        .dev
        .restart(ctx.image.as_fd(), ctx.flags, &ctx.pipes, stdio, me.pid);
    failure(&e)
}

/// Makes sure every SysV segment of the image exists (the same one if it survived,
/// else a new one with its shmid, key and size) and attaches it where no mapping of
/// the image lies: the module maps it again where the image had it. A new private
/// segment is marked for removal once attached, so that it goes with its last
/// attachment (the usual pattern). The processes forked after inherit the
/// attachments.
fn attach_sysv(plan: &Plan) -> Result<(), String> {
    let mut at = 0x2000_0000_0000u64;
    for seg in &plan.sysv {
        let created = match sys::sysv_segment(seg.shmid) {
            Some((key, size)) if size == seg.size && key == seg.key => false,
            Some(_) => {
                return Err(format!(
                    "SysV shared memory segment {} exists with another key or size",
                    seg.shmid
                ))
            }
            None => {
                sys::sysv_create(seg.shmid, seg.key, seg.size).map_err(|e| {
                    format!(
                        "cannot create SysV shared memory segment {} (key {:#x}, {} bytes): {}",
                        seg.shmid,
                        seg.key,
                        seg.size,
                        errno::describe(&e)
                    )
                })?;
                true
            }
        };
        let len = seg.size.div_ceil(4096) * 4096;
        let clear = |a: u64| {
            plan.procs
                .iter()
                .flat_map(|p| p.vmas.iter())
                .all(|&(s, e)| !overlaps((a, a + len), (s, e)))
        };
        let mut tries = 0;
        loop {
            if clear(at) && sys::sysv_attach(seg.shmid, at).is_ok() {
                break;
            }
            at += len.max(1 << 30);
            tries += 1;
            if tries > 1000 || at >= USER_ADDR_END / 2 {
                return Err(format!(
                    "cannot attach SysV shared memory segment {} anywhere",
                    seg.shmid
                ));
            }
        }
        at += len.max(1 << 30);
        if created && seg.key == 0 {
            sys::sysv_remove(seg.shmid);
        }
    }
    Ok(())
}

/// Puts the restarter of process `idx` into the image's session and process group,
/// where the tree allows (the root's session may lie outside the image: then it
/// stays in the caller's).
fn join_groups(plan: &Plan, idx: usize) -> Result<(), String> {
    let me = &plan.procs[idx];
    let inside = |pid: i32| plan.procs.iter().any(|p| p.pid == pid);
    if me.sid == me.pid {
        sys::setsid().map_err(|e| {
            format!(
                "cannot make {} a session leader: {}",
                me.pid,
                errno::describe(&e)
            )
        })?;
    } else if me.pgid == me.pid {
        sys::setpgid(0).map_err(|e| {
            format!(
                "cannot give {} its own process group: {}",
                me.pid,
                errno::describe(&e)
            )
        })?;
    } else if inside(me.pgid) && sys::getpgrp() != me.pgid {
        sys::setpgid(me.pgid).map_err(|e| {
            format!(
                "cannot put {} into process group {}: {}",
                me.pid,
                me.pgid,
                errno::describe(&e)
            )
        })?;
    }
    // The controlling terminal: a session leader takes it again (before it creates
    // the rest of its session, which inherits it); the leader of its foreground
    // process group makes its group the foreground again. A terminal that is gone
    // (another boot) is only a warning.
    if let Some((path, fg, leader)) = &me.ctty {
        let path = Path::new(OsStr::from_bytes(path));
        let r = if *leader && me.sid == me.pid {
            sys::take_ctty(path)
        } else {
            Ok(())
        };
        let r = r.and_then(|_| {
            if *fg == me.pid && me.pgid == me.pid {
                sys::set_foreground(path, me.pid)
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            eprintln!(
                "ckpt: warning: process {} comes back without its controlling terminal {}: {}",
                me.pid,
                path.display(),
                errno::describe(&e)
            );
        }
    }
    Ok(())
}

/// Gives a fresh pipe the capacity of the image's (`F_SETPIPE_SZ`); a
/// failure matters only if the buffered bytes would not fit.
fn size_pipe(w: &io::PipeWriter, p: &PipePlan) -> Result<(), String> {
    let cap = p.capacity as usize;
    let now = sys::pipe_size(w.as_fd()).unwrap_or(65536);
    if cap == now {
        return Ok(());
    }
    match dev::set_pipe_size(w.as_fd(), cap) {
        Err(e) if p.buffered > now => Err(format!(
            "cannot make a pipe hold the {} bytes pipe {} had buffered ({} bytes wanted): {}",
            p.buffered,
            p.id,
            cap,
            errno::describe(&e)
        )),
        _ => Ok(()),
    }
}

/// `<reason> (<errno name>)` for a refused restart.
fn failure(e: &dev::RestartError) -> String {
    let code = e.error.raw_os_error().unwrap_or(0);
    let reason = if e.reason.is_empty() {
        match code {
            libc::ENOTTY => "the module does not know CKPT_IOC_RESTART".to_string(),
            _ => errno::text(&e.error),
        }
    } else {
        e.reason.clone()
    };
    format!("{reason} ({})", errno::name(code))
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
                pids: vec![]
            }
        );
        let mut b = vec![MSG_PID];
        b.extend_from_slice(&4242i32.to_le_bytes());
        assert_eq!(
            parse_status(&b),
            Status {
                failed: false,
                pids: vec![4242]
            }
        );
        b.push(MSG_FAILED);
        assert_eq!(
            parse_status(&b),
            Status {
                failed: true,
                pids: vec![4242]
            }
        );
        // A pid cut short is ignored.
        assert_eq!(parse_status(&b[..3]), Status::default());
    }
}
