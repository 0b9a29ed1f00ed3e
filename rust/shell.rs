// SPDX-License-Identifier: GPL-2.0

//! Shell control: `echo PID > /dev/ckpt` checkpoints a process into memory, and reading
//! the device (`cat /dev/ckpt > image`) collects the image.
//!
//! Semantics (Documentation/ckpt/admin-guide.rst):
//! - A write is `PID [resume|stop|kill]`; the default leaves the process running. The
//!   writer needs the same rights as for `CKPT_IOC_CHECKPOINT`.
//! - Writes and reads are judged by the credentials of whoever opened the file
//!   (`file->f_cred`, made current's for the call by `device.rs`), never by the caller's:
//!   "writer", "reader" and "uid" below mean the opener's.
//! - Each image belongs to the effective uid (as the initial user namespace sees it) that
//!   asked for it; only that uid can read it back (root's images are root's alone too).
//! - At most [`PER_UID`] images per uid and [`TOTAL_BYTES`] bytes in all are kept, at most
//!   [`PER_UID_BYTES`] for one uid other than root, checkpoints in progress included (their
//!   buffers are charged as they grow); a write beyond that fails with `ENOSPC` (count) or
//!   `EFBIG` (size). The buffers are charged to the writer's memory cgroup.
//! - A reader gets the oldest image of its uid; the image leaves the queue when the reader
//!   opens it with its first `read` and is freed on `close`. With none queued, `read`
//!   fails with `ENODATA`.
//! - Images not collected within [`TTL_NS`] are dropped, and all are dropped at `rmmod`.

use crate::checkpoint::{self, Reason};
use crate::shim;
use crate::stream::Sink;
use crate::uapi;
use kernel::prelude::*;
use kernel::time::{BootTime, Instant};

/// Most uncollected images one uid may have (checkpoints in progress included).
pub(crate) const PER_UID: usize = 4;
/// Most bytes all uncollected images may take, checkpoints in progress included.
pub(crate) const TOTAL_BYTES: usize = 256 << 20;
/// Most of [`TOTAL_BYTES`] one uid other than root may take, so that one user
/// cannot keep the others out.
pub(crate) const PER_UID_BYTES: usize = TOTAL_BYTES / 4;
/// How long an image waits for its reader.
pub(crate) const TTL_NS: u64 = 10 * 60 * 1_000_000_000;

/// A checkpoint image held in memory.
pub(crate) struct Image {
    pub(crate) owner: u32,
    pub(crate) pid: i32,
    /// When it was taken (boot time: not moved by clock changes).
    taken: Instant<BootTime>,
    pub(crate) data: KVVec<u8>,
    /// What it is charged to the queue's budget (its buffer's capacity).
    charged: usize,
}

/// A shell checkpoint in progress: what its buffer holds so far.
struct Writing {
    ticket: u64,
    owner: u32,
    bytes: usize,
}

/// The queue of uncollected images, and the budget of the checkpoints writing them.
///
/// Every byte an image's buffer holds is charged before it is allocated, while the
/// checkpoint is still running, so that concurrent writers together stay within
/// [`TOTAL_BYTES`] (each used to buffer up to the whole room before the first check).
pub(crate) struct Queue {
    images: KVec<Image>,
    /// Charged to the queued images.
    bytes: usize,
    writing: KVec<Writing>,
    next_ticket: u64,
}

impl Queue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self {
            images: KVec::new(),
            bytes: 0,
            writing: KVec::new(),
            next_ticket: 0,
        }
    }

    fn expire(&mut self) {
        let mut i = 0;
        while i < self.images.len() {
            if self.images[i].taken.elapsed().as_nanos() as u64 > TTL_NS {
                let img = self.images.remove(i);
                if let Ok(img) = img {
                    pr_info!(
                        "dropping uncollected image of pid {} (uid {})\n",
                        img.pid,
                        img.owner
                    );
                    self.bytes -= img.charged;
                }
            } else {
                i += 1;
            }
        }
    }

    /// `owner`'s images and checkpoints in progress: (count, bytes).
    fn owner_use(&self, owner: u32) -> (usize, usize) {
        let mut n = 0;
        let mut bytes = 0;
        for i in self.images.iter().filter(|i| i.owner == owner) {
            n += 1;
            bytes += i.charged;
        }
        for w in self.writing.iter().filter(|w| w.owner == owner) {
            n += 1;
            bytes += w.bytes;
        }
        (n, bytes)
    }

    /// Starts a checkpoint of `owner`'s: its ticket, or `ENOSPC` when `owner`
    /// already has [`PER_UID`] images, written or being written.
    fn begin(&mut self, owner: u32) -> Result<u64> {
        self.expire();
        if self.owner_use(owner).0 >= PER_UID {
            return Err(ENOSPC);
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.writing.push(
            Writing {
                ticket,
                owner,
                bytes: 0,
            },
            GFP_KERNEL,
        )?;
        Ok(ticket)
    }

    /// Charges `n` more bytes to checkpoint `ticket`, or `EFBIG` if that goes beyond
    /// [`TOTAL_BYTES`] in all or [`PER_UID_BYTES`] for its (non-root) owner.
    fn grow(&mut self, ticket: u64, n: usize) -> Result {
        let Some(i) = self.writing.iter().position(|w| w.ticket == ticket) else {
            return Err(EINVAL);
        };
        let owner = self.writing[i].owner;
        let all = self.bytes + self.writing.iter().map(|w| w.bytes).sum::<usize>();
        if n > TOTAL_BYTES - all || (owner != 0 && self.owner_use(owner).1 + n > PER_UID_BYTES) {
            return Err(EFBIG);
        }
        self.writing[i].bytes += n;
        Ok(())
    }

    /// Ends checkpoint `ticket`; returns what it was charged.
    fn end(&mut self, ticket: u64) -> usize {
        match self.writing.iter().position(|w| w.ticket == ticket) {
            Some(i) => self.writing.remove(i).map(|w| w.bytes).unwrap_or(0),
            None => 0,
        }
    }

    /// Queues the image of checkpoint `ticket`, moving its charge to the queue.
    fn push(&mut self, ticket: u64, mut img: Image) -> Result {
        self.images.reserve(1, GFP_KERNEL)?;
        img.charged = self.end(ticket);
        self.bytes += img.charged;
        self.images.push(img, GFP_KERNEL)?;
        Ok(())
    }

    /// Takes the oldest image of `owner`.
    pub(crate) fn take(&mut self, owner: u32) -> Option<Image> {
        self.expire();
        let i = self.images.iter().position(|i| i.owner == owner)?;
        let img = self.images.remove(i).ok()?;
        self.bytes -= img.charged;
        Some(img)
    }

    /// Drops everything, the queue's own buffers included (module unload: the static
    /// outlives the module's data).
    pub(crate) fn clear(&mut self) {
        self.images = KVec::new();
        self.writing = KVec::new();
        self.bytes = 0;
    }
}

/// Where a shell checkpoint writes its image: memory charged to the queue's budget
/// before it is allocated (and to the writer's memory cgroup), released when the
/// checkpoint fails.
struct QueueSink {
    data: KVVec<u8>,
    /// Bytes of `data` charged to the queue's budget.
    charged: usize,
    ticket: u64,
    /// Whether the charge went to the queue with the image.
    queued: bool,
}

impl Sink for QueueSink {
    fn in_memory(&self) -> bool {
        true
    }

    fn put(&mut self, buf: &[u8]) -> Result {
        let len = self.data.len();
        let need = len.checked_add(buf.len()).ok_or(EFBIG)?;
        if need > self.charged {
            // What is charged is what was asked for (the allocator may round the
            // buffer up: that slack is not counted twice). Doubling, unless the
            // budget only has room for what is needed: an image that fits is never
            // refused for the slack of its buffer.
            let mut want = need.max(self.charged.saturating_mul(2)).max(64 << 10);
            if QUEUE.lock().grow(self.ticket, want - self.charged).is_err() {
                want = need;
                QUEUE.lock().grow(self.ticket, want - self.charged)?;
            }
            self.charged = want;
            if self.data.capacity() < want {
                self.data.reserve(want - len, GFP_KERNEL_ACCOUNT)?;
            }
        }
        self.data.extend_from_slice(buf, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }
}

impl Drop for QueueSink {
    fn drop(&mut self) {
        if !self.queued {
            QUEUE.lock().end(self.ticket);
        }
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before the device is registered.
    pub(crate) unsafe(uninit) static QUEUE: Mutex<Queue> = Queue::new();
}

/// A parsed shell command.
struct Command {
    pid: i32,
    flags: u64,
}

fn parse(line: &[u8]) -> Result<Command> {
    let s = core::str::from_utf8(line).map_err(|_| EINVAL)?;
    let mut words = s.split_ascii_whitespace();
    let pid: i32 = words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
    let flags = match words.next() {
        None | Some("resume") => uapi::CKPT_CHECKPOINT_RESUME,
        Some("stop") => uapi::CKPT_CHECKPOINT_STOP,
        Some("kill") => uapi::CKPT_CHECKPOINT_KILL,
        Some(_) => return Err(EINVAL),
    };
    if words.next().is_some() || pid <= 0 {
        return Err(EINVAL);
    }
    Ok(Command { pid, flags })
}

/// Handles a write of `line` to `/dev/ckpt`.
pub(crate) fn write(line: &[u8]) -> Result {
    let cmd = parse(line).inspect_err(|_| {
        pr_info!("shell: expected \"PID [resume|stop|kill]\"\n");
    })?;
    let owner = shim::current_global_euid();
    let ticket = QUEUE.lock().begin(owner).inspect_err(|_| {
        pr_info!("shell: uid {owner} already has {PER_UID} uncollected images\n");
    })?;
    let mut sink = QueueSink {
        data: KVVec::new(),
        charged: 0,
        ticket,
        queued: false,
    };
    let mut why = Reason::new();
    checkpoint::checkpoint(cmd.pid, cmd.flags, &mut sink, None, None, &mut why).inspect_err(
        |e| {
            crate::log_failure("checkpoint", cmd.pid, *e, &why);
        },
    )?;
    let data = core::mem::replace(&mut sink.data, KVVec::new());
    QUEUE.lock().push(
        ticket,
        Image {
            owner,
            pid: cmd.pid,
            taken: Instant::now(),
            data,
            charged: 0,
        },
    )?;
    sink.queued = true;
    Ok(())
}
