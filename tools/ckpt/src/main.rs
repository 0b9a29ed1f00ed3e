// SPDX-License-Identifier: GPL-2.0

//! `ckpt`: checkpoint Linux processes with the ckpt kernel module, and
//! inspect the images it writes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ckpt::checkpoint::{self, Failure, Output};
use ckpt::dev::{c_string, Device};
use ckpt::reader::Cause;
use ckpt::restart;
use ckpt::show::{self, ShowError};
use ckpt::{errno, image, timing, uapi};

#[derive(Parser)]
#[command(
    name = "ckpt",
    version,
    about = "Checkpoint Linux processes with the ckpt kernel module, and inspect their images"
)]
struct Cli {
    /// The ckpt device
    #[arg(long, global = true, value_name = "PATH", default_value = "/dev/ckpt")]
    device: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the versions and features of the module and of this tool
    Version,
    /// Write the image of a process (and its threads) to a file
    Checkpoint {
        /// The process
        #[arg(value_parser = clap::value_parser!(i32).range(1..))]
        pid: i32,
        /// Output file, `-` for standard output
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Let the process run on afterwards (default: leave it stopped)
        #[arg(long, conflicts_with = "kill")]
        leave_running: bool,
        /// Kill the process afterwards
        #[arg(long)]
        kill: bool,
        /// Take the process and all its descendants (threads, children, zombies)
        #[arg(long)]
        tree: bool,
        /// Take unix datagram sockets connected to a named socket outside the
        /// checkpointed processes (/dev/log): the restart connects them to that
        /// name again
        #[arg(long)]
        external_unix: bool,
        /// Show neither progress nor the final summary
        #[arg(short, long)]
        quiet: bool,
    },
    /// Tell whether a process can be checkpointed now, and if not why
    Check {
        /// The process
        #[arg(value_parser = clap::value_parser!(i32).range(1..))]
        pid: i32,
        /// Check the process and all its descendants, as `checkpoint --tree` takes them
        #[arg(long)]
        tree: bool,
        /// As `checkpoint --external-unix` would take it
        #[arg(long)]
        external_unix: bool,
    },
    /// Restart a process from its image, and wait for it
    ///
    /// The restored process is a child of ckpt, with the original pid if it
    /// is free (and ckpt may choose pids: CAP_CHECKPOINT_RESTORE), in the
    /// image's working directory; ckpt exits with its exit status (128 +
    /// the signal if one killed it).
    Restart {
        /// The image (a regular file)
        file: PathBuf,
        /// Restart in a new pid namespace, where the original pid is sure to
        /// be free (needs CAP_SYS_ADMIN; /proc still shows the outer pids)
        #[arg(long)]
        pid_ns: bool,
        /// Print the restored process's pid and exit without waiting for it
        #[arg(long)]
        detach: bool,
        /// Reopen files even if their size or modification time changed
        #[arg(long)]
        ignore_changed: bool,
        /// The image's terminals become ckpt's standard input, output and error
        #[arg(long)]
        inherit_stdio: bool,
        /// Forward the program's vDSO calls through a proxy even if this
        /// kernel's vDSO is the image's (what a restart under another kernel
        /// does; for testing it on one kernel)
        #[arg(long)]
        vdso_proxy: bool,
        /// Do not print the "restarting" line
        #[arg(short, long)]
        quiet: bool,
    },
    /// Verify an image and print what it holds
    Show {
        /// The image, `-` for standard input
        file: PathBuf,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
        /// List the address of every saved page
        #[arg(long)]
        pages: bool,
    },
}

/// A failed command: its exit code and its one-line message (none if
/// already reported).
struct Fail(u8, Option<String>);

impl Fail {
    fn new(code: u8, msg: impl Into<String>) -> Self {
        Self(code, Some(msg.into()))
    }
}

type Res = Result<(), Fail>;

fn open_device(path: &Path) -> Result<Device, Fail> {
    Device::open(path).map_err(|e| Fail::new(1, errno::open_device(path, &e)))
}

fn version(dev_path: &Path) -> Res {
    println!(
        "tool:     ckpt {}, image format {}.{}, ioctl abi {}",
        env!("CARGO_PKG_VERSION"),
        image::FORMAT_MAJOR,
        image::FORMAT_MINOR,
        uapi::CKPT_ABI_VERSION
    );
    let dev = open_device(dev_path)?;
    let v = dev
        .version()
        .map_err(|e| Fail::new(1, errno::version(dev_path, &e)))?;
    println!(
        "module:   {}, image format {}.{}, ioctl abi {}",
        c_string(&v.release),
        v.image_major,
        v.image_minor,
        v.abi_version
    );
    let feats = [
        (uapi::CKPT_FEAT_CHECKPOINT, "checkpoint"),
        (uapi::CKPT_FEAT_RESTART, "restart"),
        (uapi::CKPT_FEAT_SHELL, "shell"),
        (uapi::CKPT_FEAT_LSM_WATCH, "lsm-watch"),
        (uapi::CKPT_FEAT_STATUS_FD, "status-fd"),
        (uapi::CKPT_FEAT_VDSO_PROXY, "vdso-proxy"),
    ];
    let mut names: Vec<String> = feats
        .iter()
        .filter(|(b, _)| v.features & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let unknown = v.features & !feats.iter().fold(0, |m, (b, _)| m | b);
    if unknown != 0 {
        names.push(format!("unknown {unknown:#x}"));
    }
    if names.is_empty() {
        names.push("none".into());
    }
    println!("features: {} ({:#x})", names.join(", "), v.features);
    if v.abi_version != uapi::CKPT_ABI_VERSION {
        return Err(Fail::new(
            1,
            format!(
                "the module speaks ioctl abi {}, this tool {}: use the tool built with the module",
                v.abi_version,
                uapi::CKPT_ABI_VERSION
            ),
        ));
    }
    if v.image_major != image::FORMAT_MAJOR {
        eprintln!(
            "ckpt: warning: the module writes image format {}.x, this tool reads {}.x: \
             `ckpt show` will not read its images; use the tool built with the module",
            v.image_major,
            image::FORMAT_MAJOR
        );
    }
    Ok(())
}

fn check(dev_path: &Path, pid: i32, flags: u64) -> Res {
    let dev = open_device(dev_path)?;
    let r = dev
        .check(pid, flags)
        .map_err(|e| Fail::new(1, errno::check(dev_path, pid, &e)))?;
    if r.status == 0 {
        if r.reason.is_empty() {
            println!("{pid} can be checkpointed");
        } else {
            // What the LSM observer saw it do earlier (it holds none of it now).
            println!("{pid} can be checkpointed ({})", r.reason);
        }
        return Ok(());
    }
    let reason = if r.reason.is_empty() {
        errno::text(&io::Error::from_raw_os_error(r.status))
    } else {
        r.reason
    };
    println!(
        "{pid} cannot be checkpointed: {reason} ({})",
        errno::name(r.status)
    );
    Err(Fail(1, None))
}

/// The module gives its reason for a failed checkpoint only to the kernel log; what
/// `CKPT_IOC_CHECK` says about `pid` now names the obstacle in most cases (not a
/// safe point that was not reached, not a target that exited). `None`: it sees
/// none, or cannot tell.
fn obstacle(dev: &Device, pid: i32, flags: u64, e: &io::Error) -> Option<String> {
    let err = e.raw_os_error()?;
    if matches!(err, libc::ESRCH | libc::EINTR | libc::ENOMEM | libc::EPIPE) {
        return None;
    }
    let r = dev
        .check(
            pid,
            flags & (uapi::CKPT_CHECKPOINT_TREE | uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX),
        )
        .ok()
        .filter(|r| r.status != 0 && !r.reason.is_empty())?;
    Some(format!(
        "cannot checkpoint {pid}: {} ({})",
        r.reason,
        errno::describe(e)
    ))
}

fn do_checkpoint(dev_path: &Path, pid: i32, output: &Path, flags: u64, quiet: bool) -> Res {
    let dev = open_device(dev_path)?;
    let out = if output == Path::new("-") {
        Output::stdout().map_err(|e| Fail::new(1, e.to_string()))?
    } else {
        Output::create(output).map_err(|e| {
            Fail::new(
                1,
                format!(
                    "{}: cannot create: {}",
                    output.display(),
                    errno::describe(&e)
                ),
            )
        })?
    };
    let name = out.name().to_string();
    match checkpoint::run(&dev, pid, flags, out, !quiet) {
        Ok(o) => {
            if !quiet {
                eprintln!(
                    "checkpointed {pid}: {} bytes in {:.2} s",
                    o.bytes,
                    o.elapsed.as_secs_f64()
                );
            }
            Ok(())
        }
        Err(f) => Err(Fail::new(
            1,
            match f {
                Failure::Ioctl(e) => obstacle(&dev, pid, flags, &e)
                    .unwrap_or_else(|| errno::checkpoint(dev_path, pid, &e)),
                Failure::Pipe(e) => {
                    format!("reading the image from the module: {}", errno::describe(&e))
                }
                Failure::Write(n, e) => format!("{n}: write error: {}", errno::describe(&e)),
                Failure::Size { reported, copied } => format!(
                    "the module reports {reported} bytes but {copied} arrived; image of {pid} \
                     not written to {name}: report this bug"
                ),
            },
        )),
    }
}

fn do_show(file: &Path, opts: &show::Options) -> Res {
    let name = file.display();
    let input: Box<dyn Read> =
        if file == Path::new("-") {
            Box::new(io::stdin().lock())
        } else {
            Box::new(File::open(file).map_err(|e| {
                Fail::new(1, format!("{name}: cannot open: {}", errno::describe(&e)))
            })?)
        };
    // Large reads: the payloads of page records are up to 2 MiB.
    let input = io::BufReader::with_capacity(1 << 20, input);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match show::show(input, &mut out, opts) {
        Ok(_) => Ok(()),
        Err(ShowError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(ShowError::Write(e)) => Err(Fail::new(1, format!("writing the output: {e}"))),
        Err(ShowError::Read(e)) => {
            let _ = out.flush();
            // The format of this line is relied upon: `FILE: record #N (...): what`.
            eprintln!("{name}: {e}");
            let code = match e.cause {
                Cause::Image(_) => 2,
                Cause::Io(_) => 1,
            };
            Err(Fail(code, None))
        }
    }
}

fn main() -> ExitCode {
    timing::mark("main");
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Version => version(&cli.device),
        Command::Checkpoint {
            pid,
            output,
            leave_running,
            kill,
            tree,
            external_unix,
            quiet,
        } => {
            let tree = if *tree { uapi::CKPT_CHECKPOINT_TREE } else { 0 };
            let ext = if *external_unix {
                uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX
            } else {
                0
            };
            let flags = tree
                | ext
                | if *kill {
                    uapi::CKPT_CHECKPOINT_KILL
                } else if *leave_running {
                    uapi::CKPT_CHECKPOINT_RESUME
                } else {
                    uapi::CKPT_CHECKPOINT_STOP
                };
            do_checkpoint(&cli.device, *pid, output, flags, *quiet)
        }
        Command::Check {
            pid,
            tree,
            external_unix,
        } => {
            let mut flags = 0;
            if *tree {
                flags |= uapi::CKPT_CHECKPOINT_TREE;
            }
            if *external_unix {
                flags |= uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX;
            }
            check(&cli.device, *pid, flags)
        }
        Command::Restart {
            file,
            pid_ns,
            detach,
            ignore_changed,
            inherit_stdio,
            vdso_proxy,
            quiet,
        } => {
            let mut flags = 0;
            if *ignore_changed {
                flags |= uapi::CKPT_RESTART_IGNORE_CHANGED;
            }
            if *inherit_stdio {
                flags |= uapi::CKPT_RESTART_INHERIT_STDIO;
            }
            if *vdso_proxy {
                flags |= uapi::CKPT_RESTART_VDSO_PROXY;
            }
            let o = restart::Options {
                file: file.clone(),
                device: cli.device.clone(),
                pid_ns: *pid_ns,
                detach: *detach,
                quiet: *quiet,
                flags,
            };
            match restart::run(&o) {
                Ok(0) => Ok(()),
                Ok(code) => Err(Fail(code, None)),
                Err(msg) => Err(Fail::new(1, msg)),
            }
        }
        Command::Show { file, json, pages } => do_show(
            file,
            &show::Options {
                json: *json,
                pages: *pages,
            },
        ),
    };
    timing::report();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            if let Some(m) = msg {
                eprintln!("ckpt: {m}");
            }
            ExitCode::from(code)
        }
    }
}
