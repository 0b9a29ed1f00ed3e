// SPDX-License-Identifier: GPL-2.0

//! ckpt -- checkpoint/restart of Linux processes, in the kernel.
//!
//! `/dev/ckpt` takes `CKPT_IOC_CHECKPOINT` (in the spirit of Linux-CR's
//! `sys_checkpoint(pid, fd, flags)`) and shell commands (`echo PID > /dev/ckpt`). The image
//! stream is defined once in [`image`] and documented in `Documentation/ckpt/`.

use kernel::{
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

mod access;
mod checkpoint;
mod compat;
mod device;
#[allow(dead_code, missing_docs, unreachable_pub)]
mod image;
mod lsm;
mod objects;
mod restart;
mod session;
mod shell;
mod shim;
mod shim_unix;
mod stream;
#[cfg(CONFIG_KUNIT = "y")]
mod tests;
mod timing;
#[allow(dead_code, missing_docs, unreachable_pub)]
mod uapi;

/// Version of this module, reported by `CKPT_IOC_VERSION` and written into images.
pub(crate) const VERSION: &str = "ckpt 0.1.0";

module! {
    type: CkptModule,
    name: "ckpt",
    authors: ["The ckpt developers"],
    description: "In-kernel checkpoint/restart of processes",
    license: "GPL",
    params: {
        ghost_max: u64 {
            default: 67108864,
            description: "Largest deleted file (bytes) whose contents a checkpoint saves; a larger one is refused",
        },
        timing: u32 {
            default: 0,
            description: "1: log the time of each phase of every checkpoint and restart (\"timing ...\" lines)",
        },
    },
}

#[pin_data(PinnedDrop)]
struct CkptModule {
    #[pin]
    _dev: MiscDeviceRegistration<device::CkptFile>,
    _lsm: lsm::LsmWatch,
}

impl kernel::InPlaceModule for CkptModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before the device (the queue's only user) exists.
        unsafe { shell::QUEUE.init() };
        // SAFETY: Called once, before the device (the table's only user) exists.
        unsafe { objects::track::TRACKS.init() };
        pr_info!(
            "{VERSION} loaded: /dev/ckpt, image format {}.{}\n",
            image::FORMAT_MAJOR,
            image::FORMAT_MINOR
        );
        try_pin_init!(Self {
            _dev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"ckpt" }),
            _lsm: lsm::LsmWatch::start(),
        })
        .pin_chain(|this| {
            // SAFETY: The registration is initialised; `minor` is set by `misc_register`.
            let minor = unsafe { (*this._dev.as_raw()).minor };
            lsm::LsmWatch::ignore_own_device(minor);
            Ok(())
        })
    }
}

#[pinned_drop]
impl PinnedDrop for CkptModule {
    fn drop(self: Pin<&mut Self>) {
        shell::QUEUE.lock().clear();
        objects::track::TRACKS.lock().forget();
        pr_info!("unloaded\n");
    }
}

/// Logs why an operation on `pid` failed (one line, for the admin).
pub(crate) fn log_failure(what: &str, pid: i32, err: Error, why: &checkpoint::Reason) {
    let errno = -err.to_errno();
    if why.is_empty() {
        pr_info!("{what} of {pid} failed: errno {errno}\n");
    } else {
        pr_info!("{what} of {pid} failed: {} (errno {errno})\n", why.as_str());
    }
}
