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
use ckpt::{errno, handover, image, kexec, timing, uapi};

#[derive(Parser, Debug, PartialEq)]
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

#[derive(Subcommand, Debug, PartialEq)]
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
        /// Start dirty tracking: a later `checkpoint --parent` of this image writes
        /// only the pages written since (needs CONFIG_MEM_SOFT_DIRTY)
        #[arg(long, conflicts_with = "tree")]
        track: bool,
        /// Incremental: write only the pages written since PARENT (an image of this
        /// process taken with --track or --parent); `ckpt restart` reads PARENT too.
        /// Tracks again unless --kill
        #[arg(long, value_name = "PARENT", conflicts_with = "tree")]
        parent: Option<PathBuf>,
        /// Write the image compressed (zstd, on every CPU): taken into memory
        /// first, compressed after the process was let go; `restart`, `show`
        /// and `--parent` read compressed images as they are
        #[arg(long)]
        compress: bool,
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
    /// Move a running process to another machine: pre-copy rounds while it
    /// runs, then a short freeze for the last pages; `ckpt receive` restores
    /// it there, then the original is killed (see the admin guide)
    ///
    /// Prints the rounds, the downtime (from the last round's freeze until the
    /// process runs on the receiver) and round 0's frozen time (a full dump's)
    /// for comparison. If the receiver fails, the process runs on here.
    Migrate {
        /// The process (a single process, as `checkpoint --track` takes it)
        #[arg(value_parser = clap::value_parser!(i32).range(1..))]
        pid: i32,
        /// The receiver, `HOST:PORT` (`ckpt receive --listen ADDR:PORT` there)
        #[arg(long, value_name = "HOST:PORT")]
        to: String,
        /// The shared secret, a file only its owner may read (at least 16
        /// bytes; the same on the receiver): both sides prove they hold it
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Give up when the receiver says nothing for this long (seconds)
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// Most checkpoint rounds before the final one (round 0 included)
        #[arg(long, value_name = "N", default_value_t = 8,
              value_parser = clap::value_parser!(u32).range(1..))]
        max_rounds: u32,
        /// Keep trying to connect for this long (seconds)
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        connect_timeout: u64,
        /// As `checkpoint --external-unix`
        #[arg(long)]
        external_unix: bool,
        /// Print only the summary line
        #[arg(short, long)]
        quiet: bool,
    },
    /// Receive a process that `ckpt migrate` sends, restore it, and wait for
    /// it (as `ckpt restart` does)
    Receive {
        /// Where to listen: ADDR:PORT (0.0.0.0:PORT for every address)
        #[arg(long, value_name = "ADDR:PORT")]
        listen: String,
        /// The shared secret, a file only its owner may read (at least 16
        /// bytes; the same on the sender): both sides prove they hold it
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Give up when no sender proved the key within this long (seconds;
        /// default: wait for ever)
        #[arg(long, value_name = "SECONDS",
              value_parser = clap::value_parser!(u64).range(1..))]
        accept_timeout: Option<u64>,
        /// Give up when the sender says nothing for this long (seconds)
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// Restore only processes of this user (name or uid: every uid, every
        /// gid one of its groups, no capabilities unless root); default: the
        /// receiver's own user when it does not run as root
        #[arg(long, value_name = "USER")]
        as_user: Option<String>,
        /// The most bytes of images to take from the sender, all rounds
        /// together (default: half of this machine's memory)
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<u64>,
        /// Where the received images go, a directory that does not exist yet
        /// (made mode 0700; default: one of a random name in $TMPDIR)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the images after the restart
        #[arg(long)]
        keep: bool,
        /// As `restart --pid-ns`
        #[arg(long)]
        pid_ns: bool,
        /// As `restart --detach`
        #[arg(long)]
        detach: bool,
        /// As `restart --ignore-changed`
        #[arg(long)]
        ignore_changed: bool,
        /// No progress lines
        #[arg(short, long)]
        quiet: bool,
    },
    /// Boot another kernel with kexec_file_load(2), without firmware or
    /// boot loader: the step between `checkpoint` and `restart` of a kernel
    /// upgrade or downgrade (see the admin guide)
    ///
    /// Syncs the filesystems, then reboots into KERNEL at once (unless
    /// --load-only): whatever still runs is lost, so checkpoint it first.
    /// Needs CAP_SYS_BOOT and a kernel with CONFIG_KEXEC_FILE.
    Kexec {
        /// The kernel image (bzImage); none with --exec
        #[arg(required_unless_present = "exec")]
        kernel: Option<PathBuf>,
        /// Its initramfs (default: none)
        #[arg(long, value_name = "FILE")]
        initrd: Option<PathBuf>,
        /// The new kernel's command line (default: this kernel's, /proc/cmdline)
        #[arg(long, value_name = "CMDLINE")]
        append: Option<String>,
        /// Only load the kernel; `kexec -e` (kexec-tools) or a later
        /// `reboot(LINUX_REBOOT_CMD_KEXEC)` boots it
        #[arg(long, conflicts_with = "exec")]
        load_only: bool,
        /// Boot the kernel loaded before (`--load-only`, or kexec-tools'
        /// `kexec -s -l`): loading it ahead keeps the jobs' downtime shorter
        #[arg(long, conflicts_with_all = ["kernel", "initrd", "append"])]
        exec: bool,
    },
    /// Keep the files of a directory (a kernel switch's images) across a
    /// kexec in memory the kernel preserves for the next one (kexec
    /// handover: CONFIG_KEXEC_HANDOVER, booted with kho=on): no disk needed
    Handover {
        #[command(subcommand)]
        op: HandoverOp,
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
        /// An incremental image with its parents' pages (the image `ckpt
        /// restart` restores), not as stored
        #[arg(long)]
        resolve: bool,
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

/// The command lines of `checkpoint` and `restart` as scripts and the bench
/// write them (long flags, `-q`, `-o FILE`), parsed without clap: clap's
/// parser is the largest part of the tool's start (its code run once per
/// process: under QEMU's TCG each start translates it again). Anything else
/// (another command, `--help`, a repeated or unknown flag, `--flag=value`,
/// grouped short flags, `--`) returns `None` and goes to clap, which gives
/// the same result or the error.
/// `ckpt handover` operations.
#[derive(Subcommand, Debug, PartialEq)]
enum HandoverOp {
    /// Whether handover is on, and the sizes of the sets in memory
    Status,
    /// Hand the regular files of DIR to the next kernel (in place of what
    /// was put before); then `ckpt kexec`
    Put {
        /// The directory
        dir: PathBuf,
    },
    /// In the kernel booted by the kexec: write the files the previous
    /// kernel handed over into DIR, then free their memory
    Get {
        /// The directory (created if missing)
        dir: PathBuf,
        /// Keep the set in memory (a later `get` or `release` frees it)
        #[arg(long)]
        keep: bool,
    },
    /// Free the set the previous kernel handed over
    Release,
    /// Withdraw what `put` handed to the next kernel
    Drop,
}

fn handover_status(a: &uapi::CkptHandoverArgs) -> String {
    format!(
        "kexec handover {}{}; from the previous kernel: {} bytes; for the next kernel: {} bytes",
        if a.flags & uapi::CKPT_HANDOVER_ENABLED != 0 {
            "on"
        } else {
            "off (needs CONFIG_KEXEC_HANDOVER and kho=on)"
        },
        if a.flags & uapi::CKPT_HANDOVER_KHO_BOOT != 0 {
            ", booted by a kexec with handover"
        } else {
            ""
        },
        a.in_size,
        a.out_size
    )
}

fn do_handover(dev_path: &Path, op: &HandoverOp) -> Res {
    let dev = open_device(dev_path)?;
    let v = dev
        .version()
        .map_err(|e| Fail::new(1, errno::version(dev_path, &e)))?;
    if v.features & uapi::CKPT_FEAT_HANDOVER == 0 {
        return Err(Fail::new(
            1,
            "the loaded module has no kexec handover (CKPT_FEAT_HANDOVER)".to_string(),
        ));
    }
    let ioc = |what: &str, e: io::Error| {
        Fail::new(1, format!("handover {what}: {}", errno::describe(&e)))
    };
    match op {
        HandoverOp::Status => {
            let a = dev
                .handover(uapi::CKPT_HANDOVER_STATUS)
                .map_err(|e| ioc("status", e))?;
            println!("{}", handover_status(&a));
        }
        HandoverOp::Put { dir } => {
            let a = dev
                .handover(uapi::CKPT_HANDOVER_STATUS)
                .map_err(|e| ioc("status", e))?;
            if a.flags & uapi::CKPT_HANDOVER_ENABLED == 0 {
                return Err(Fail::new(1, handover_status(&a)));
            }
            let (data, n) = handover::pack(dir)
                .map_err(|e| Fail::new(1, format!("{}: {}", dir.display(), errno::describe(&e))))?;
            let a = dev.handover_put(&data).map_err(|e| ioc("put", e))?;
            println!(
                "# handover: {n} files, {} bytes kept for the next kernel",
                a.out_size
            );
        }
        HandoverOp::Get { dir, keep } => {
            let a = dev
                .handover(uapi::CKPT_HANDOVER_STATUS)
                .map_err(|e| ioc("status", e))?;
            if a.in_size == 0 {
                return Err(Fail::new(
                    1,
                    format!("nothing handed over: {}", handover_status(&a)),
                ));
            }
            let mut data = vec![0u8; a.in_size as usize];
            let mut at = 0usize;
            while at < data.len() {
                let r = dev
                    .handover_get(at as u64, &mut data[at..])
                    .map_err(|e| ioc("get", e))?;
                if r.done == 0 {
                    return Err(Fail::new(
                        1,
                        format!("handover get: ended at {at} of {} bytes", data.len()),
                    ));
                }
                at += r.done as usize;
            }
            let files = handover::unpack(&data).map_err(|e| Fail::new(1, e.to_string()))?;
            std::fs::create_dir_all(dir)
                .map_err(|e| Fail::new(1, format!("{}: {}", dir.display(), errno::describe(&e))))?;
            for (name, bytes) in &files {
                let p = dir.join(name);
                std::fs::write(&p, bytes).map_err(|e| {
                    Fail::new(1, format!("{}: {}", p.display(), errno::describe(&e)))
                })?;
            }
            if !keep {
                dev.handover(uapi::CKPT_HANDOVER_RELEASE)
                    .map_err(|e| ioc("release", e))?;
            }
            println!(
                "# handover: {} files, {} bytes from the previous kernel into {}",
                files.len(),
                data.len(),
                dir.display()
            );
        }
        HandoverOp::Release => {
            dev.handover(uapi::CKPT_HANDOVER_RELEASE)
                .map_err(|e| ioc("release", e))?;
        }
        HandoverOp::Drop => {
            dev.handover(uapi::CKPT_HANDOVER_DROP)
                .map_err(|e| ioc("drop", e))?;
        }
    }
    Ok(())
}

fn fast_cli(args: &[std::ffi::OsString]) -> Option<Cli> {
    let mut it = args.iter().skip(1).map(|a| a.to_str());
    let sub = it.next()??;
    if sub != "checkpoint" && sub != "restart" {
        return None;
    }
    let mut device = None;
    let mut positional: Option<&str> = None;
    let mut output: Option<&str> = None;
    let mut seen: Vec<&str> = Vec::new();
    while let Some(a) = it.next() {
        let a = a?;
        match a {
            "--device" | "-o" | "--output" => {
                let v = it.next()??;
                if v.is_empty() || (v.starts_with('-') && v != "-") {
                    return None;
                }
                match a {
                    "--device" if device.is_none() => device = Some(v),
                    "-o" | "--output" if sub == "checkpoint" && output.is_none() => {
                        output = Some(v)
                    }
                    _ => return None,
                }
            }
            _ if a.starts_with('-') => {
                let flag = match a {
                    "-q" => "--quiet",
                    _ => a,
                };
                let known: &[&str] = if sub == "checkpoint" {
                    &[
                        "--leave-running",
                        "--kill",
                        "--tree",
                        "--external-unix",
                        "--track",
                        "--quiet",
                    ]
                } else {
                    &[
                        "--pid-ns",
                        "--detach",
                        "--ignore-changed",
                        "--inherit-stdio",
                        "--vdso-proxy",
                        "--quiet",
                    ]
                };
                if !known.contains(&flag) || seen.contains(&flag) {
                    return None;
                }
                seen.push(flag);
            }
            _ if positional.is_none() && !a.is_empty() => positional = Some(a),
            _ => return None,
        }
    }
    let has = |f: &str| seen.contains(&f);
    let device = PathBuf::from(device.unwrap_or("/dev/ckpt"));
    let command = if sub == "checkpoint" {
        let pid: i32 = positional?.parse().ok().filter(|&p| p >= 1)?;
        if (has("--kill") && has("--leave-running")) || (has("--track") && has("--tree")) {
            return None;
        }
        Command::Checkpoint {
            pid,
            output: PathBuf::from(output?),
            leave_running: has("--leave-running"),
            kill: has("--kill"),
            tree: has("--tree"),
            external_unix: has("--external-unix"),
            track: has("--track"),
            parent: None,
            compress: false,
            quiet: has("--quiet"),
        }
    } else {
        Command::Restart {
            file: PathBuf::from(positional?),
            pid_ns: has("--pid-ns"),
            detach: has("--detach"),
            ignore_changed: has("--ignore-changed"),
            inherit_stdio: has("--inherit-stdio"),
            vdso_proxy: has("--vdso-proxy"),
            quiet: has("--quiet"),
        }
    };
    Some(Cli { device, command })
}

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
        (uapi::CKPT_FEAT_SYSV, "sysv"),
        (uapi::CKPT_FEAT_HANDOVER, "handover"),
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

/// The files and buffers an incremental or tracking checkpoint of `pid` passes to
/// the module (kept alive for the call).
struct IncrFiles {
    _pagemap: File,
    _clear_refs: Option<File>,
    _path: Vec<u8>,
    _scratch: Vec<u8>,
    args: uapi::CkptIncr,
}

fn incr_files(pid: i32, flags: u64, parent: Option<&Path>) -> Result<IncrFiles, Fail> {
    let proc = |name: &str, write: bool| {
        let p = format!("/proc/{pid}/{name}");
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .open(&p)
            .map_err(|e| Fail::new(1, format!("{p}: cannot open: {}", errno::describe(&e))))
    };
    let pagemap = proc("pagemap", false)?;
    let clear_refs = if flags & uapi::CKPT_CHECKPOINT_TRACK != 0 {
        Some(proc("clear_refs", true)?)
    } else {
        None
    };
    let mut args = uapi::CkptIncr {
        pagemap_fd: std::os::fd::AsRawFd::as_raw_fd(&pagemap),
        clear_refs_fd: clear_refs
            .as_ref()
            .map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
        ..Default::default()
    };
    let mut path = Vec::new();
    if let Some(p) = parent {
        let head = ckpt::chain::head(p).map_err(|e| Fail::new(1, e))?;
        args.parent = head.track.ok_or_else(|| {
            Fail::new(
                1,
                format!(
                    "{}: not taken with dirty tracking (checkpoint --track or --parent):                      it cannot be a parent",
                    p.display()
                ),
            )
        })?;
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        path = std::os::unix::ffi::OsStrExt::as_bytes(abs.as_os_str()).to_vec();
        args.path = path.as_ptr() as u64;
        args.path_len = path.len() as u32;
    }
    let mut scratch = vec![0u8; 1 << 20];
    args.scratch = scratch.as_mut_ptr() as u64;
    args.scratch_len = scratch.len() as u64;
    Ok(IncrFiles {
        _pagemap: pagemap,
        _clear_refs: clear_refs,
        _path: path,
        _scratch: scratch,
        args,
    })
}

fn do_checkpoint(
    dev_path: &Path,
    pid: i32,
    output: &Path,
    flags: u64,
    parent: Option<&Path>,
    compress: bool,
    quiet: bool,
) -> Res {
    let dev = open_device(dev_path)?;
    timing::mark("device");
    let incremental = uapi::CKPT_CHECKPOINT_TRACK | uapi::CKPT_CHECKPOINT_PARENT;
    let mut incr = if flags & incremental != 0 {
        Some(incr_files(pid, flags, parent)?)
    } else {
        None
    };
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
    // Compressed: the module writes into a memfd, compressed into `out` after.
    let (spool, target) = if compress {
        let m = ckpt::compress::memfd(c"ckpt-image")
            .map_err(|e| Fail::new(1, format!("memfd_create: {}", errno::describe(&e))))?;
        let keep = m
            .try_clone()
            .map_err(|e| Fail::new(1, errno::describe(&e)))?;
        (Some((keep, out)), Output::from_file(m, &name))
    } else {
        (None, out)
    };
    let r = checkpoint::run_incr(
        &dev,
        pid,
        flags,
        incr.as_mut().map(|i| &mut i.args),
        target,
        !quiet,
    );
    let r = match (r, spool) {
        (Ok(o), Some((mem, out))) => {
            let t = std::time::Instant::now();
            match out.write_compressed(&mem, ckpt::compress::threads()) {
                Ok(c) => {
                    if !quiet {
                        eprintln!(
                            "compressed {} bytes to {c} ({:.1}%) in {:.2} s",
                            o.bytes,
                            100.0 * c as f64 / o.bytes.max(1) as f64,
                            t.elapsed().as_secs_f64()
                        );
                    }
                    Ok(o)
                }
                Err(e) => Err(checkpoint::Failure::Write(name.clone(), e)),
            }
        }
        (Ok(o), None) => Ok(o),
        (Err(f), Some((_, out))) => {
            out.discard();
            Err(f)
        }
        (Err(f), None) => Err(f),
    };
    match r {
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
                Failure::Ioctl(e) if flags & incremental != 0 => {
                    let what = match parent {
                        Some(p) => format!(" against parent {}", p.display()),
                        None => " with dirty tracking".to_string(),
                    };
                    format!(
                        "incremental checkpoint of {pid}{what} refused: {} (the kernel log says \
                         why: a parent that is not the last tracked checkpoint of {pid}, or a \
                         kernel without CONFIG_MEM_SOFT_DIRTY)",
                        errno::describe(&e)
                    )
                }
                Failure::Ioctl(e) => obstacle(&dev, pid, flags, &e)
                    .unwrap_or_else(|| errno::checkpoint(dev_path, pid, &e)),
                Failure::Pipe(e) => {
                    format!("reading the image from the module: {}", errno::describe(&e))
                }
                Failure::Write(n, e) => format!("{n}: write error: {}", errno::describe(&e)),
                Failure::Sysv(why) => format!("cannot checkpoint {pid}: {why}"),
                Failure::Size { reported, copied } => format!(
                    "the module reports {reported} bytes but {copied} arrived; image of {pid} \
                     not written to {name}: report this bug"
                ),
            },
        )),
    }
}

fn do_migrate(dev_path: &Path, o: &ckpt::migrate::MigrateOptions) -> Res {
    let dev = open_device(dev_path)?;
    let s = ckpt::migrate::migrate(&dev, o).map_err(|m| Fail::new(1, m))?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let (Some(first), Some(last)) = (s.rounds.first(), s.rounds.last()) else {
        return Ok(());
    };
    let bytes: u64 = s.rounds.iter().map(|r| r.bytes).sum();
    // The downtime is the switchover: from the last round's freeze until the
    // process ran on the receiver (it ran nowhere meanwhile).
    println!(
        "migrated {} to {} (pid {} there): {} rounds, {:.1} MiB sent; downtime {:.1} ms \
         (from the last round's freeze, {:.1} ms for its {:.1} MiB, until it ran there), \
         full dump {:.1} ms (round 0): {:.1}%",
        o.pid,
        s.peer,
        s.new_pid,
        s.rounds.len(),
        bytes as f64 / 1048576.0,
        ms(s.switchover),
        ms(last.frozen),
        last.bytes as f64 / 1048576.0,
        ms(first.frozen),
        100.0 * s.switchover.as_secs_f64() / first.frozen.as_secs_f64().max(1e-9),
    );
    Ok(())
}

fn do_show(file: &Path, resolve: bool, opts: &show::Options) -> Res {
    let name = file.display();
    let input: Box<dyn Read> = if file == Path::new("-") {
        if resolve {
            return Err(Fail::new(
                1,
                "--resolve needs an image file, not standard input",
            ));
        }
        Box::new(io::stdin().lock())
    } else {
        let f = File::open(file)
            .map_err(|e| Fail::new(1, format!("{name}: cannot open: {}", errno::describe(&e))))?;
        if resolve {
            let f = ckpt::compress::plain(f, file).map_err(|e| Fail::new(1, e))?;
            Box::new(ckpt::chain::resolve(f, file).map_err(|e| Fail::new(1, e))?)
        } else {
            Box::new(f)
        }
    };
    // A compressed image: decompressed as it is read.
    let input = ckpt::compress::reader(io::BufReader::with_capacity(1 << 20, input))
        .map_err(|e| Fail::new(1, format!("{name}: {}", errno::describe(&e))))?;
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

/// Before a kexec: says what the module hands to the next kernel in
/// preserved memory, and warns when the next kernel's command line lacks
/// `kho=on` (that kernel would not take it). Silent without the module.
fn handover_note(dev_path: &Path, append: Option<&str>) {
    let Ok(dev) = Device::open(dev_path) else {
        return;
    };
    let feat = dev.version().map(|v| v.features).unwrap_or(0);
    if feat & uapi::CKPT_FEAT_HANDOVER == 0 {
        return;
    }
    let Ok(a) = dev.handover(uapi::CKPT_HANDOVER_STATUS) else {
        return;
    };
    if a.out_size == 0 {
        return;
    }
    println!(
        "# kexec handover: {} bytes go to the next kernel",
        a.out_size
    );
    if let Some(c) = append {
        if !c.split_whitespace().any(|w| w == "kho=on") {
            eprintln!("ckpt: warning: the new command line lacks kho=on: that kernel will not take what was handed over");
        }
    }
}

fn do_kexec(kernel: &Path, initrd: Option<&Path>, append: Option<&str>, load_only: bool) -> Res {
    let cmdline = match append {
        Some(c) => c.to_string(),
        None => std::fs::read_to_string("/proc/cmdline")
            .map_err(|e| Fail::new(1, format!("/proc/cmdline: {}", errno::describe(&e))))?
            .trim_end()
            .to_string(),
    };
    kexec::load(&kexec::Options {
        kernel: kernel.to_path_buf(),
        initrd: initrd.map(Path::to_path_buf),
        cmdline,
        load_only,
    })
    .map_err(|m| Fail::new(1, m))
}

fn main() -> ExitCode {
    timing::mark("main");
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = fast_cli(&args).unwrap_or_else(|| Cli::parse_from(&args));
    timing::mark("parsed");
    let r = match &cli.command {
        Command::Version => version(&cli.device),
        Command::Checkpoint {
            pid,
            output,
            leave_running,
            kill,
            tree,
            external_unix,
            track,
            parent,
            compress,
            quiet,
        } => {
            let tree = if *tree { uapi::CKPT_CHECKPOINT_TREE } else { 0 };
            let tree =
                tree | if *track || (parent.is_some() && !*kill) {
                    uapi::CKPT_CHECKPOINT_TRACK
                } else {
                    0
                } | if parent.is_some() {
                    uapi::CKPT_CHECKPOINT_PARENT
                } else {
                    0
                };
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
            do_checkpoint(
                &cli.device,
                *pid,
                output,
                flags,
                parent.as_deref(),
                *compress,
                *quiet,
            )
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
                limit: None,
                confined: false,
            };
            match restart::run(&o) {
                Ok(0) => Ok(()),
                Ok(code) => Err(Fail(code, None)),
                Err(msg) => Err(Fail::new(1, msg)),
            }
        }
        Command::Migrate {
            pid,
            to,
            key,
            timeout,
            max_rounds,
            connect_timeout,
            external_unix,
            quiet,
        } => match ckpt::migrate::Key::read(key) {
            Err(m) => Err(Fail::new(1, m)),
            Ok(key) => do_migrate(
                &cli.device,
                &ckpt::migrate::MigrateOptions {
                    pid: *pid,
                    to: to.clone(),
                    max_rounds: *max_rounds,
                    connect_timeout: std::time::Duration::from_secs(*connect_timeout),
                    flags: if *external_unix {
                        uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX
                    } else {
                        0
                    },
                    quiet: *quiet,
                    key,
                    timeout: std::time::Duration::from_secs(*timeout),
                },
            ),
        },
        Command::Receive {
            listen,
            key,
            accept_timeout,
            timeout,
            as_user,
            max_bytes,
            dir,
            keep,
            pid_ns,
            detach,
            ignore_changed,
            quiet,
        } => (|| {
            let key = ckpt::migrate::Key::read(key).map_err(|m| Fail::new(1, m))?;
            let o = ckpt::migrate::ReceiveOptions {
                listen: listen.clone(),
                key,
                accept_timeout: accept_timeout.map(std::time::Duration::from_secs),
                timeout: std::time::Duration::from_secs(*timeout),
                as_user: as_user.clone(),
                max_bytes: max_bytes.unwrap_or_else(ckpt::compress::half_ram),
                dir: dir.clone(),
                keep: *keep,
                restart: restart::Options {
                    file: PathBuf::new(),
                    device: cli.device.clone(),
                    pid_ns: *pid_ns,
                    detach: *detach,
                    quiet: *quiet,
                    flags: if *ignore_changed {
                        uapi::CKPT_RESTART_IGNORE_CHANGED
                    } else {
                        0
                    },
                    limit: None,
                    confined: false,
                },
            };
            match ckpt::migrate::receive(&o) {
                Ok(0) => Ok(()),
                Ok(code) => Err(Fail(code, None)),
                Err(msg) => Err(Fail::new(1, msg)),
            }
        })(),
        Command::Kexec {
            kernel,
            initrd,
            append,
            load_only,
            exec,
        } => match kernel {
            Some(k) if !*exec => {
                handover_note(&cli.device, append.as_deref());
                do_kexec(k, initrd.as_deref(), append.as_deref(), *load_only)
            }
            _ => kexec::exec().map_err(|m| Fail::new(1, m)),
        },
        Command::Handover { op } => do_handover(&cli.device, op),
        Command::Show {
            file,
            json,
            pages,
            resolve,
        } => do_show(
            file,
            *resolve,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    /// The fast parser agrees with clap wherever it answers, and answers the
    /// bench's and the scripts' command lines.
    #[test]
    fn fast_cli_is_clap() {
        let answered = [
            "ckpt checkpoint 42 -o /tmp/x.img --kill -q",
            "ckpt checkpoint 42 --output /tmp/x.img --tree --quiet",
            "ckpt checkpoint 42 -o f --external-unix --tree",
            "ckpt checkpoint 42 -o - --leave-running",
            "ckpt --device /dev/x checkpoint 7 -o f",
            "ckpt checkpoint 7 -o f --device /dev/x",
            "ckpt restart /tmp/x.img --detach -q",
            "ckpt restart x --pid-ns --ignore-changed --inherit-stdio --vdso-proxy --quiet",
        ];
        for l in answered {
            let a = args(l);
            let fast = fast_cli(&a);
            // `--device` before the command is clap's alone.
            if l.starts_with("ckpt --device") {
                assert!(fast.is_none(), "{l}");
                continue;
            }
            assert_eq!(fast, Some(Cli::try_parse_from(&a).unwrap()), "{l}");
        }
        let refused = [
            "ckpt checkpoint 42 -o f --kill --leave-running",
            "ckpt checkpoint 42 -o f -q -q",
            "ckpt checkpoint 0 -o f",
            "ckpt checkpoint 42",
            "ckpt checkpoint 42 -o f --help",
            "ckpt checkpoint 42 --output=f",
            "ckpt checkpoint 42 -qo f",
            "ckpt restart",
            "ckpt restart a b",
            "ckpt restart -",
            "ckpt restart x --kill",
            "ckpt show x",
            "ckpt version",
        ];
        for l in refused {
            assert!(fast_cli(&args(l)).is_none(), "{l}");
        }
    }
}
