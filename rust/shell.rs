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
//! - At most [`PER_UID`] images per uid and [`TOTAL_BYTES`] bytes in all are kept; a write
//!   beyond that fails with `ENOSPC` (count) or `EFBIG` (size).
//! - A reader gets the oldest image of its uid; the image leaves the queue when the reader
//!   opens it with its first `read` and is freed on `close`. With none queued, `read`
//!   fails with `ENODATA`.
//! - Images not collected within [`TTL_NS`] are dropped, and all are dropped at `rmmod`.

use crate::checkpoint::{self, Reason};
use crate::shim;
use crate::stream::MemSink;
use crate::uapi;
use kernel::prelude::*;

/// Most uncollected images one uid may have.
pub(crate) const PER_UID: usize = 4;
/// Most bytes all uncollected images may take.
pub(crate) const TOTAL_BYTES: usize = 256 << 20;
/// How long an image waits for its reader.
pub(crate) const TTL_NS: u64 = 10 * 60 * 1_000_000_000;

/// A checkpoint image held in memory.
pub(crate) struct Image {
    pub(crate) owner: u32,
    pub(crate) pid: i32,
    pub(crate) taken_ns: u64,
    pub(crate) data: KVVec<u8>,
}

/// The queue of uncollected images.
pub(crate) struct Queue {
    images: KVec<Image>,
    bytes: usize,
}

impl Queue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self {
            images: KVec::new(),
            bytes: 0,
        }
    }

    fn expire(&mut self, now: u64) {
        let mut i = 0;
        while i < self.images.len() {
            if now.saturating_sub(self.images[i].taken_ns) > TTL_NS {
                let img = self.images.remove(i);
                if let Ok(img) = img {
                    pr_info!(
                        "dropping uncollected image of pid {} (uid {})\n",
                        img.pid,
                        img.owner
                    );
                    self.bytes -= img.data.len();
                }
            } else {
                i += 1;
            }
        }
    }

    /// Room left for `owner`: (images, bytes).
    fn room(&mut self, owner: u32) -> (usize, usize) {
        self.expire(shim::now_ns());
        let mine = self.images.iter().filter(|i| i.owner == owner).count();
        (PER_UID.saturating_sub(mine), TOTAL_BYTES - self.bytes)
    }

    fn push(&mut self, img: Image) -> Result {
        let n = img.data.len();
        if n > TOTAL_BYTES - self.bytes {
            return Err(EFBIG);
        }
        // Checked again: other writers may have queued images meanwhile.
        if self.images.iter().filter(|i| i.owner == img.owner).count() >= PER_UID {
            return Err(ENOSPC);
        }
        self.images.push(img, GFP_KERNEL)?;
        self.bytes += n;
        Ok(())
    }

    /// Takes the oldest image of `owner`.
    pub(crate) fn take(&mut self, owner: u32) -> Option<Image> {
        self.expire(shim::now_ns());
        let i = self.images.iter().position(|i| i.owner == owner)?;
        let img = self.images.remove(i).ok()?;
        self.bytes -= img.data.len();
        Some(img)
    }

    /// Drops everything, the queue's own buffer included (module unload: the static
    /// outlives the module's data).
    pub(crate) fn clear(&mut self) {
        self.images = KVec::new();
        self.bytes = 0;
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
    let (images, bytes) = QUEUE.lock().room(owner);
    if images == 0 {
        pr_info!("shell: uid {owner} already has {PER_UID} uncollected images\n");
        return Err(ENOSPC);
    }
    let mut sink = MemSink::new(bytes);
    let mut why = Reason::new();
    checkpoint::checkpoint(cmd.pid, cmd.flags, &mut sink, &mut why).inspect_err(|e| {
        crate::log_failure("checkpoint", cmd.pid, *e, &why);
    })?;
    QUEUE.lock().push(Image {
        owner,
        pid: cmd.pid,
        taken_ns: shim::now_ns(),
        data: sink.data,
    })?;
    Ok(())
}
