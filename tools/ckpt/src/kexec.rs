// SPDX-License-Identifier: GPL-2.0

//! `ckpt kexec`: load another kernel with `kexec_file_load(2)` and boot it,
//! the step between `ckpt checkpoint` and `ckpt restart` of a kernel upgrade
//! (or downgrade) under running jobs.  No kexec-tools needed: the kernel
//! parses the bzImage itself (CONFIG_KEXEC_FILE) and verifies it when the
//! kernel asks for signed images.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// What to boot.
pub struct Options {
    /// The kernel image (bzImage).
    pub kernel: PathBuf,
    /// Its initramfs; `None` boots without one.
    pub initrd: Option<PathBuf>,
    /// The new kernel's command line.
    pub cmdline: String,
    /// Only load it (a later `reboot(LINUX_REBOOT_CMD_KEXEC)`, e.g. by
    /// `ckpt kexec --exec` or kexec-tools' `kexec -e`, boots it).
    pub load_only: bool,
}

/// `KEXEC_FILE_NO_INITRAMFS` of `<linux/kexec.h>`.
const KEXEC_FILE_NO_INITRAMFS: libc::c_ulong = 0x4;

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))
}

/// Loads the kernel of `o` (and boots it unless `o.load_only`).  On success
/// with `load_only` false it does not return.
pub fn load(o: &Options) -> Result<(), String> {
    let kernel = open(&o.kernel)?;
    let initrd = o.initrd.as_deref().map(open).transpose()?;
    let cmdline = CString::new(o.cmdline.as_bytes())
        .map_err(|_| "the command line holds a NUL byte".to_string())?;
    let (initrd_fd, flags) = match &initrd {
        Some(f) => (f.as_raw_fd(), 0),
        None => (-1, KEXEC_FILE_NO_INITRAMFS),
    };
    // SAFETY: kexec_file_load(2) reads the two descriptors (open for the
    // duration of the call) and `cmdline_len` bytes at `cmdline`, which is a
    // NUL-terminated string of exactly that length (NUL included).
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kernel.as_raw_fd(),
            initrd_fd,
            cmdline.as_bytes_with_nul().len(),
            cmdline.as_ptr(),
            flags,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) => " (needs CAP_SYS_BOOT; lockdown or kexec_load_disabled forbid it)",
            Some(libc::ENOSYS) => " (the running kernel lacks CONFIG_KEXEC_FILE)",
            Some(libc::ENOEXEC) => " (not a kernel image this kernel can load)",
            Some(libc::EKEYREJECTED) | Some(libc::EBADMSG) => {
                " (the kernel requires a signed image)"
            }
            _ => "",
        };
        return Err(format!("kexec_file_load {}: {e}{hint}", o.kernel.display()));
    }
    if o.load_only {
        return Ok(());
    }
    exec()
}

/// Boots the loaded kernel: `sync(2)`, then `reboot(LINUX_REBOOT_CMD_KEXEC)`.
pub fn exec() -> Result<(), String> {
    // SAFETY: sync(2) has no arguments and cannot fail.
    unsafe { libc::sync() };
    // SAFETY: reboot(2) with LINUX_REBOOT_CMD_KEXEC takes no pointer; it
    // returns only on failure.
    let r = unsafe { libc::reboot(libc::LINUX_REBOOT_CMD_KEXEC) };
    let e = io::Error::last_os_error();
    Err(format!(
        "reboot(LINUX_REBOOT_CMD_KEXEC) returned {r}: {e}{}",
        if e.raw_os_error() == Some(libc::EINVAL) {
            " (no kernel loaded)"
        } else {
            ""
        }
    ))
}
