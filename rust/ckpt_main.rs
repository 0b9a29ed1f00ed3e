// SPDX-License-Identifier: GPL-2.0

//! ckpt -- checkpoint/restart of Linux processes, in the kernel.
//!
//! `/dev/ckpt` takes `CKPT_IOC_CHECKPOINT` (in the spirit of Linux-CR's
//! `sys_checkpoint(pid, fd, flags)`) and shell commands (`echo PID > /dev/ckpt`). The image
//! stream is defined once in [`image`] and documented in `Documentation/ckpt/`.

use kernel::{
    bindings,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

mod access;
mod checkpoint;
mod compat;
mod device;
mod fault;
mod handover;
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
mod sys;
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
        cache_fill: u32 {
            default: 2,
            description: "How a restart fills memory from an image file in the page cache (tmpfs, block filesystems): 0 reads it through the file, then hashes it; 1 copies and hashes in one pass where the data is 8-byte aligned in the file; 2 everywhere",
        },
        cpus: u32 {
            default: 2,
            description: "CPUs one checkpoint or restart works on at once (1 or 2): with 2, page data is copied on another CPU while this one writes, and a restart fills page records on two CPUs",
        },
        spool_mb: u32 {
            default: 64,
            description: "A checkpoint that leaves the processes running keeps up to this many MiB of the image in memory while it holds them, and writes them once they run again (a shorter pause); 0: writes while it holds them",
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
    #[pin]
    _faults: fault::Knobs,
    /// Last: waits, at unload, for every task to leave the module's code.
    _quiet: Quiet,
}

/// The device's `file_operations` with `owner` set (see [`own_fops`]).
static mut FOPS: core::mem::MaybeUninit<bindings::file_operations> =
    core::mem::MaybeUninit::uninit();

/// Points the misc device at a copy of its `file_operations` whose `owner` is this
/// module (`kernel::miscdevice` leaves it unset), so that the VFS holds the module for
/// every open file and drops that reference only after `release` has returned: the
/// module's own reference, dropped inside `release`, is then never the last one (the
/// put-then-return race). A file opened before this runs (during `init`) only has the
/// module's own reference.
///
/// # Safety
///
/// `misc` is the registered device; called once, from `init`.
unsafe fn own_fops(misc: *mut bindings::miscdevice, module: &'static ThisModule) {
    // SAFETY: Called once, before any reader of `FOPS` exists (the device points at it
    // only below); `misc` is valid and its `fops` points at the vtable's operations.
    unsafe {
        let fops = &raw mut FOPS;
        (*fops).write(core::ptr::read((*misc).fops));
        (*fops).assume_init_mut().owner = module.as_ptr();
        // `misc_open` reads it (under the misc lock, which is not exported): one aligned
        // pointer store, either value of which is valid.
        core::ptr::write_volatile(&raw mut (*misc).fops, (*fops).as_ptr());
    }
}

/// At unload, waits until no task runs the module's code any more: the last act of
/// the park work (`ckpt_park_fn`) is the `module_put` of the reference its queueing
/// took, and it still returns through this module's text. A task preempted after that
/// put has not been through a voluntary context switch, which RCU Tasks waits for.
struct Quiet;

impl Drop for Quiet {
    fn drop(&mut self) {
        #[cfg(CONFIG_TASKS_RCU)]
        // SAFETY: Sleeps; called from the module's exit, in process context.
        unsafe {
            bindings::synchronize_rcu_tasks()
        };
        #[cfg(not(CONFIG_TASKS_RCU))]
        // SAFETY: As above (without RCU Tasks the kernel is not preemptible in ways it
        // tracks: a normal grace period is what it offers).
        unsafe {
            bindings::synchronize_rcu()
        };
    }
}

impl kernel::InPlaceModule for CkptModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before the device (the queue's only user) exists.
        unsafe { shell::QUEUE.init() };
        // SAFETY: Called once, before the device (the table's only user) exists.
        unsafe { objects::track::TRACKS.init() };
        handover::init();
        pr_info!(
            "{VERSION} loaded: /dev/ckpt, image format {}.{}\n",
            image::FORMAT_MAJOR,
            image::FORMAT_MINOR
        );
        try_pin_init!(Self {
            _dev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"ckpt" }),
            _lsm: lsm::LsmWatch::start(),
            _faults <- fault::Knobs::new(),
            _quiet: Quiet,
        })
        .pin_chain(move |this| {
            // SAFETY: The registration is initialised; `minor` is set by `misc_register`.
            let minor = unsafe { (*this._dev.as_raw()).minor };
            // SAFETY: The device is registered; this is `init`, run once.
            unsafe { own_fops(this._dev.as_raw(), module) };
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
        objects::locks::exit();
        handover::exit();
        pr_info!("unloaded\n");
    }
}

/// Logs why an operation on `pid` failed (one line, for the admin).
pub(crate) fn log_failure(what: &str, pid: i32, err: Error, why: &checkpoint::Reason) {
    let errno = -err.to_errno();
    if why.is_empty() && !why.stage.is_empty() {
        pr_info!(
            "{what} of {pid} failed at step '{}': errno {errno}\n",
            why.stage
        );
    } else if why.is_empty() {
        pr_info!("{what} of {pid} failed: errno {errno}\n");
    } else {
        pr_info!("{what} of {pid} failed: {} (errno {errno})\n", why.as_str());
    }
}
