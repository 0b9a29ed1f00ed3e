// SPDX-License-Identifier: GPL-2.0

//! `ckpt checkpoint`: a regular output file is handed to the module directly
//! (`CKPT_IOC_CHECKPOINT` writes into it; progress comes from its growing
//! size); any other output (a pipe, a socket, a device) is fed through a pipe
//! that a helper thread has the module write into, while the calling thread
//! copies it to the output, showing progress.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::dev::{self, Device};

/// Where the image goes.
#[derive(Debug)]
pub struct Output {
    file: File,
    /// Name for messages.
    name: String,
    /// Removed if the checkpoint fails.
    remove: Option<PathBuf>,
    /// A regular file: fsync'ed at the end.
    regular: bool,
}

impl Output {
    /// Standard output (refused if it is a terminal).
    pub fn stdout() -> io::Result<Self> {
        let out = io::stdout();
        if out.is_terminal() {
            return Err(io::Error::other(
                "refusing to write an image to a terminal; redirect standard output or use -o FILE",
            ));
        }
        let file = File::from(out.as_fd().try_clone_to_owned()?);
        let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        Ok(Self {
            file,
            name: "standard output".into(),
            remove: None,
            regular,
        })
    }

    /// Creates or truncates `path`. A regular file is removed again if the
    /// checkpoint fails; a device or fifo (`/dev/null`) is only written to.
    pub fn create(path: &Path) -> io::Result<Self> {
        let special = fs::metadata(path).map(|m| !m.is_file()).unwrap_or(false);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(!special)
            .open(path)?;
        Ok(Self {
            file,
            name: path.display().to_string(),
            remove: (!special).then(|| path.to_path_buf()),
            regular: !special,
        })
    }

    /// An open regular file (a memfd spool): written from its current
    /// offset, never removed.
    pub fn from_file(file: File, name: &str) -> Self {
        Self {
            file,
            name: name.to_string(),
            remove: None,
            regular: true,
        }
    }

    /// Name for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes all of `mem` compressed (see [`crate::compress`]) and syncs;
    /// removes the output if that fails. Returns the compressed size.
    pub fn write_compressed(self, mem: &File, threads: u32) -> io::Result<u64> {
        let r = crate::compress::compress(
            mem,
            io::BufWriter::with_capacity(1 << 20, &self.file),
            threads,
        )
        .and_then(|n| {
            if self.regular {
                self.file.sync_all()?;
            }
            Ok(n)
        });
        if r.is_err() {
            self.discard();
        }
        r
    }

    /// Throws away what was written.
    pub fn discard(self) {
        if let Some(p) = self.remove {
            drop(self.file);
            let _ = fs::remove_file(p);
        }
    }
}

/// Progress shown on a terminal.
struct Progress {
    pid: i32,
    start: Instant,
    last: Instant,
    shown: bool,
}

impl Progress {
    const EVERY: Duration = Duration::from_millis(200);

    fn update(&mut self, bytes: u64) {
        let now = Instant::now();
        if now.duration_since(self.last) < Self::EVERY {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64();
        let mib = bytes as f64 / (1024.0 * 1024.0);
        eprint!(
            "\rcheckpointing {}: {mib:.1} MiB, {:.1} MiB/s\x1b[K",
            self.pid,
            mib / secs.max(1e-9)
        );
        self.shown = true;
    }

    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}

/// A successful checkpoint.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Image size.
    pub bytes: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why a checkpoint failed; the output was removed.
#[derive(Debug)]
pub enum Failure {
    /// The ioctl failed.
    Ioctl(io::Error),
    /// The pipe could not be created or read.
    Pipe(io::Error),
    /// The output could not be written or synced.
    Write(String, io::Error),
    /// The SysV semaphore sets or message queues could not be saved (why).
    Sysv(String),
    /// The module reports another size than what came through the pipe.
    Size {
        /// What the module says it wrote.
        reported: u64,
        /// What was copied.
        copied: u64,
    },
}

/// Copies `pipe` to `out` until end of input; dropping `pipe` on return
/// (error included) makes the module's writes fail rather than block.
fn copy(
    mut pipe: io::PipeReader,
    out: &mut File,
    mut progress: Option<Progress>,
) -> Result<u64, Failure> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let r = loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Failure::Pipe(e)),
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(Failure::Write(String::new(), e));
        }
        total += n as u64;
        if let Some(p) = progress.as_mut() {
            p.update(total);
        }
    };
    if let Some(p) = progress {
        p.clear();
    }
    r
}

/// Checkpoints `pid` into `out`; `flags` are `CKPT_CHECKPOINT_*`. Shows
/// progress on standard error if `progress` and it is a terminal. If
/// interrupted (`SIGINT`, `SIGTERM`, `SIGHUP`), removes the partial output
/// before exiting.
pub fn run(
    dev: &Device,
    pid: i32,
    flags: u64,
    out: Output,
    progress: bool,
) -> Result<Outcome, Failure> {
    run_incr(dev, pid, flags, None, out, progress)
}

/// [`run`], with the arguments of an incremental or tracking checkpoint.
pub fn run_incr(
    dev: &Device,
    pid: i32,
    flags: u64,
    mut incr: Option<&mut crate::uapi::CkptIncr>,
    out: Output,
    progress: bool,
) -> Result<Outcome, Failure> {
    crate::timing::mark("output");
    let progress = (progress && io::stderr().is_terminal()).then_some(pid);
    let committed = Arc::new(Mutex::new(false));
    if let Some(path) = out.remove.clone() {
        if let Ok(signals) = dev::TermSignals::block() {
            let committed = committed.clone();
            thread::spawn(move || {
                let Ok(sig) = signals.wait() else { return };
                let done = committed.lock().unwrap_or_else(|e| e.into_inner());
                if !*done {
                    let _ = fs::remove_file(&path);
                    eprintln!(
                        "\nckpt: interrupted; partial image {} removed",
                        path.display()
                    );
                }
                // Exit with the lock held: the image is either kept whole or
                // removed, never removed after it was reported written.
                std::process::exit(128 + sig);
            });
        }
    }
    let sysv = dev
        .version()
        .is_ok_and(|v| v.features & crate::uapi::CKPT_FEAT_SYSV != 0);
    let sysv_err: Mutex<Option<String>> = Mutex::new(None);
    let ioctl = |fd: BorrowedFd<'_>| {
        crate::timing::mark("ioctl");
        let r = if sysv {
            let (mine, theirs) = std::os::unix::net::UnixStream::pair()?;
            thread::scope(|s| {
                let h = s.spawn(move || crate::sysv::serve(mine));
                let r =
                    dev.checkpoint_with(pid, fd, flags, Some(theirs.as_fd()), incr.as_deref_mut());
                // The module has let go of it: the server sees the end.
                drop(theirs);
                if let Ok(Err(why)) = h.join() {
                    *sysv_err.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                }
                r
            })
        } else {
            dev.checkpoint_with(pid, fd, flags, None, incr.as_deref_mut())
        };
        crate::timing::mark("ioctl-done");
        r
    };
    let r = if out.regular {
        run_direct(ioctl, out, progress)
    } else {
        run_with(ioctl, out, progress)
    };
    let r = match (r, sysv_err.into_inner().unwrap_or_else(|e| e.into_inner())) {
        (Err(Failure::Ioctl(_)), Some(why)) => Err(Failure::Sysv(why)),
        (r, _) => r,
    };
    *committed.lock().unwrap_or_else(|e| e.into_inner()) = r.is_ok();
    r
}

/// The direct path of [`run`]: `produce` writes the image into the output
/// file itself (no copies through this process); a helper thread shows the
/// file growing.
pub fn run_direct<F>(produce: F, out: Output, progress: Option<i32>) -> Result<Outcome, Failure>
where
    F: FnOnce(BorrowedFd<'_>) -> io::Result<u64>,
{
    let start = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let base = out.file.metadata().map(|m| m.len()).unwrap_or(0);
    let ioctl = thread::scope(|s| {
        if let Some(pid) = progress {
            let (file, done) = (&out.file, &done);
            s.spawn(move || {
                let mut p = Progress {
                    pid,
                    start,
                    last: start,
                    shown: false,
                };
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    thread::sleep(Progress::EVERY);
                    let len = file.metadata().map(|m| m.len()).unwrap_or(base);
                    p.update(len.saturating_sub(base));
                }
                p.clear();
            });
        }
        let r = produce(out.file.as_fd());
        done.store(true, std::sync::atomic::Ordering::Release);
        r
    });
    let name = out.name.clone();
    let result = match ioctl {
        Err(e) => Err(Failure::Ioctl(e)),
        Ok(bytes) => match out.file.sync_all() {
            Ok(()) => Ok(Outcome {
                bytes,
                elapsed: start.elapsed(),
            }),
            Err(e) => Err(Failure::Write(name, e)),
        },
    };
    if result.is_err() {
        out.discard();
    }
    result
}

/// The pipeline of [`run`] with any producer in place of the module:
/// `produce` runs on a helper thread, writes the image into the fd it is
/// given (a pipe) and returns the size it wrote. `progress`: the pid to show
/// progress for, on standard error.
pub fn run_with<F>(produce: F, mut out: Output, progress: Option<i32>) -> Result<Outcome, Failure>
where
    F: FnOnce(BorrowedFd<'_>) -> io::Result<u64> + Send,
{
    let start = Instant::now();
    let (reader, writer) = match io::pipe() {
        Ok(p) => p,
        Err(e) => {
            out.discard();
            return Err(Failure::Pipe(e));
        }
    };
    let _ = dev::set_pipe_size(writer.as_fd(), 1 << 20);
    let progress = progress.map(|pid| Progress {
        pid,
        start,
        last: start,
        shown: false,
    });
    let (ioctl, copied) = thread::scope(|s| {
        let h = s.spawn(move || {
            let r = produce(writer.as_fd());
            drop(writer);
            r
        });
        let copied = copy(reader, &mut out.file, progress);
        let ioctl = h
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the checkpoint thread panicked")));
        (ioctl, copied)
    });
    let name = out.name.clone();
    let result = match (ioctl, copied) {
        // The output failed first and the module then saw a broken pipe.
        (Err(e), Err(Failure::Write(_, w))) if e.raw_os_error() == Some(libc::EPIPE) => {
            Err(Failure::Write(name, w))
        }
        (Err(e), _) => Err(Failure::Ioctl(e)),
        (Ok(_), Err(Failure::Write(_, w))) => Err(Failure::Write(name, w)),
        (Ok(_), Err(f)) => Err(f),
        (Ok(reported), Ok(copied)) if reported != 0 && reported != copied => {
            Err(Failure::Size { reported, copied })
        }
        (Ok(_), Ok(copied)) => {
            let synced = if out.regular {
                out.file.sync_all()
            } else {
                out.file.flush()
            };
            match synced {
                Ok(()) => Ok(Outcome {
                    bytes: copied,
                    elapsed: start.elapsed(),
                }),
                Err(e) => Err(Failure::Write(name, e)),
            }
        }
    };
    if result.is_err() {
        out.discard();
    }
    result
}
