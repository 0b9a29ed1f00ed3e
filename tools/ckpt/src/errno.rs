// SPDX-License-Identifier: GPL-2.0

//! Errno names and what an error of `/dev/ckpt` means for the user.

use std::io;
use std::path::Path;

/// The symbolic name of an errno value (`"ESRCH"`), or `"E?"` if unknown.
pub fn name(errno: i32) -> &'static str {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::ECHILD, "ECHILD"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ETXTBSY, "ETXTBSY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ESPIPE, "ESPIPE"),
        (libc::EROFS, "EROFS"),
        (libc::EPIPE, "EPIPE"),
        (libc::ERANGE, "ERANGE"),
        (libc::EDEADLK, "EDEADLK"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ELOOP, "ELOOP"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ENOTSOCK, "ENOTSOCK"),
        (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
        (libc::EADDRINUSE, "EADDRINUSE"),
        (libc::ENOTCONN, "ENOTCONN"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::EALREADY, "EALREADY"),
        (libc::EINPROGRESS, "EINPROGRESS"),
        (libc::ESTALE, "ESTALE"),
        (libc::EDQUOT, "EDQUOT"),
        (libc::ECANCELED, "ECANCELED"),
        (libc::EOWNERDEAD, "EOWNERDEAD"),
        (libc::ENOTRECOVERABLE, "ENOTRECOVERABLE"),
        (libc::ERESTART, "ERESTART"),
        (libc::ENOKEY, "ENOKEY"),
        (libc::EKEYREJECTED, "EKEYREJECTED"),
        (libc::ENOMSG, "ENOMSG"),
        (libc::EIDRM, "EIDRM"),
        (libc::ENODATA, "ENODATA"),
        (libc::ENOLCK, "ENOLCK"),
        (libc::EBADMSG, "EBADMSG"),
        (libc::EPROTO, "EPROTO"),
    ];
    NAMES
        .iter()
        .find(|(e, _)| *e == errno)
        .map_or("E?", |(_, n)| n)
}

/// The C library's text for an I/O error, without Rust's " (os error N)".
pub fn text(err: &io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `"No such process (ESRCH)"`: text and name of an OS error.
pub fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(e) => format!("{} ({})", text(err), name(e)),
        None => err.to_string(),
    }
}

/// Why `/dev/ckpt` could not be opened, and what to do.
pub fn open_device(path: &Path, err: &io::Error) -> String {
    let p = path.display();
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => format!(
            "{p}: {}: the ckpt module is not loaded; load it with `insmod ckpt.ko` \
             (or pass --device PATH)",
            describe(err)
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "{p}: {}: run ckpt as root or give yourself access to the device",
            describe(err)
        ),
        _ => format!("{p}: {}", describe(err)),
    }
}

/// Where the module says which mode it is in (`unprivileged`: `Y` or `N`).
const MODE_PARAM: &str = "/sys/module/ckpt/parameters/unprivileged";

/// Why a caller without privileges is refused everything: the module is in
/// root-only mode (read from its parameter), if it is and the caller is not root.
pub fn root_only() -> Option<&'static str> {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return None;
    }
    let mode = std::fs::read_to_string(MODE_PARAM).ok()?;
    (mode.trim() == "N").then_some(
        "ckpt is in root-only mode (module parameter unprivileged=0): only openers of the \
         device with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN may use it; an administrator can \
         turn on the unprivileged mode (Documentation/ckpt/admin-guide.rst, \"Permissions\")",
    )
}

/// An `EPERM` that the module's root-only mode explains.
fn refused_for_mode(err: &io::Error) -> Option<String> {
    if err.raw_os_error() != Some(libc::EPERM) {
        return None;
    }
    Some(format!("{} ({})", root_only()?, describe(err)))
}

/// What an error of an ioctl that applies to any command means.
fn common(dev: &Path, err: &io::Error) -> Option<String> {
    let d = dev.display();
    Some(match err.raw_os_error()? {
        libc::EPERM => refused_for_mode(err)?,
        libc::ENOTTY => format!(
            "{d} does not know this request ({}): it is not /dev/ckpt, or the module \
             is older than the tool; compare with `ckpt version`",
            describe(err)
        ),
        libc::EINVAL => format!(
            "the module rejected the request ({}): tool and module may not match; \
             compare with `ckpt version`",
            describe(err)
        ),
        _ => return None,
    })
}

/// What a failed `CKPT_IOC_CHECKPOINT` of `pid` means, and what to do.
pub fn checkpoint(dev: &Path, pid: i32, err: &io::Error) -> String {
    let e = describe(err);
    if let Some(m) = refused_for_mode(err) {
        return m;
    }
    match err.raw_os_error() {
        Some(libc::ESRCH) => format!("no such process {pid} ({e})"),
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "not allowed to checkpoint {pid} ({e}): you need ptrace rights over the target \
             (the same user and a dumpable process, or CAP_SYS_PTRACE / root)"
        ),
        Some(libc::EBUSY) => format!(
            "process {pid} is busy ({e}); the kernel log (dmesg) has the module's reason \
             (for example: it did not reach a safe point within 10 s, in uninterruptible \
             sleep); try again later"
        ),
        Some(libc::EOPNOTSUPP) => format!(
            "process {pid} uses something ckpt does not support yet ({e}); \
             run `ckpt check {pid}` to see what"
        ),
        Some(libc::EINTR) => format!("checkpoint of {pid} interrupted by a signal ({e}); retry"),
        Some(libc::ENOMEM) => format!("out of memory while checkpointing {pid} ({e})"),
        Some(libc::EPIPE) => format!("the output was closed while checkpointing {pid} ({e})"),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG) => {
            format!("no room for the image of {pid} ({e}); free some space or write elsewhere")
        }
        _ => common(dev, err).unwrap_or_else(|| format!("cannot checkpoint {pid}: {e}")),
    }
}

/// What a failed `CKPT_IOC_CHECK` (the ioctl itself, not its verdict) means.
pub fn check(dev: &Path, pid: i32, err: &io::Error) -> String {
    let e = describe(err);
    if let Some(m) = refused_for_mode(err) {
        return m;
    }
    match err.raw_os_error() {
        Some(libc::ESRCH) => format!("no such process {pid} ({e})"),
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "not allowed to inspect {pid} ({e}): you need ptrace rights over the target \
             (same user, or CAP_SYS_PTRACE / root)"
        ),
        _ => common(dev, err).unwrap_or_else(|| format!("cannot check {pid}: {e}")),
    }
}

/// What a failed `CKPT_IOC_VERSION` means.
pub fn version(dev: &Path, err: &io::Error) -> String {
    if err.raw_os_error() == Some(libc::ENOTTY) {
        return format!(
            "{} is not a ckpt device ({}); pass the right --device",
            dev.display(),
            describe(err)
        );
    }
    common(dev, err).unwrap_or_else(|| {
        format!(
            "{}: version request failed: {}",
            dev.display(),
            describe(err)
        )
    })
}
