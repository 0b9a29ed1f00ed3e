// SPDX-License-Identifier: GPL-2.0

//! `/dev/ckpt`: the ioctls, and the shell interface's `write`/`read`.

use crate::checkpoint::{self, Reason};
use crate::shell::{self, Image, QUEUE};
use crate::shim::{self, FileRef};
use crate::uapi::{
    self, CkptCheckArgs, CkptCheckpointArgs, CkptRestartArgs, CkptRestartFile, CkptRestartPipe,
    CkptVersion,
};
use kernel::{
    bindings,
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

// SAFETY: All-integer `repr(C)` structs without padding: any bit pattern is valid.
unsafe impl kernel::transmute::FromBytes for CkptCheckpointArgs {}
// SAFETY: As above; no padding, so every byte is initialised.
unsafe impl kernel::transmute::AsBytes for CkptCheckpointArgs {}
// SAFETY: All-integer `repr(C)` struct without padding.
unsafe impl kernel::transmute::FromBytes for CkptCheckArgs {}
// SAFETY: As above.
unsafe impl kernel::transmute::AsBytes for CkptCheckArgs {}
// SAFETY: All-integer `repr(C)` struct without padding.
unsafe impl kernel::transmute::AsBytes for CkptVersion {}
// SAFETY: All-integer `repr(C)` struct without padding.
unsafe impl kernel::transmute::FromBytes for CkptRestartArgs {}
// SAFETY: As above.
unsafe impl kernel::transmute::AsBytes for CkptRestartArgs {}
// SAFETY: All-integer `repr(C)` struct without padding.
unsafe impl kernel::transmute::FromBytes for CkptRestartPipe {}

// SAFETY: All-integer `repr(C)` struct without padding.
unsafe impl kernel::transmute::FromBytes for CkptRestartFile {}

/// Most pipes one restart may pass.
const MAX_RESTART_PIPES: u32 = 4096;

/// One open file of `/dev/ckpt`; it pins the module while open.
#[pin_data(PinnedDrop)]
pub(crate) struct CkptFile {
    /// The image being read back through this file, taken from the shell queue on the
    /// first read.
    #[pin]
    reading: Mutex<Option<Image>>,
    /// The restart the tasks calling `CKPT_IOC_RESTART` through this file take part in.
    #[pin]
    restart: crate::restart::SessionSlot,
}

#[vtable]
impl MiscDevice for CkptFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        if !crate::shim::module_get() {
            return Err(ENODEV);
        }
        KBox::try_pin_init(
            try_pin_init!(CkptFile {
                reading <- new_mutex!(None, "CkptFile::reading"),
                restart <- new_mutex!(None, "CkptFile::restart"),
            }),
            GFP_KERNEL,
        )
        .inspect_err(|_| crate::shim::module_put())
    }

    fn ioctl(me: Pin<&CkptFile>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let user = UserSlice::new(UserPtr::from_addr(arg), kernel::ioctl::_IOC_SIZE(cmd));
        if cmd != uapi::CKPT_IOC_VERSION {
            crate::access::may_use_device(&shim::Opener::File(file.as_ptr()))?;
        }
        match cmd {
            uapi::CKPT_IOC_VERSION => ioc_version(user),
            uapi::CKPT_IOC_CHECKPOINT => ioc_checkpoint(user),
            uapi::CKPT_IOC_CHECK => ioc_check(user),
            uapi::CKPT_IOC_RESTART => ioc_restart(&me.restart, user),
            uapi::CKPT_IOC_HANDOVER => crate::handover::ioctl(user),
            _ => Err(ENOTTY),
        }
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let mut line = [0u8; 64];
        let len = iov.len();
        if len > line.len() {
            return Err(EINVAL);
        }
        let n = iov.copy_from_iter(&mut line[..len]);
        crate::access::may_use_device(&shim::Opener::Kiocb(kiocb.as_raw()))?;
        let _opener = shim::as_opener(kiocb.as_raw());
        shell::write(&line[..n])?;
        Ok(n)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let raw = kiocb.as_raw();
        crate::access::may_use_device(&shim::Opener::Kiocb(raw))?;
        let me = kiocb.file();
        let mut reading = me.reading.lock();
        if reading.is_none() {
            let _opener = shim::as_opener(raw);
            let owner = shim::current_global_euid();
            match QUEUE.lock().take(owner) {
                Some(img) => *reading = Some(img),
                None => return Err(Error::from_errno(-(bindings::ENODATA as i32))),
            }
        }
        let data = match reading.as_ref() {
            Some(img) => &img.data,
            None => return Ok(0),
        };
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), data)
    }
}

#[pinned_drop]
impl PinnedDrop for CkptFile {
    fn drop(self: Pin<&mut Self>) {
        crate::shim::module_put();
    }
}

#[inline(never)]
fn ioc_version(user: UserSlice) -> Result<isize> {
    let mut release = [0u8; 64];
    let v = crate::VERSION.as_bytes();
    release[..v.len()].copy_from_slice(v);
    user.writer().write(&CkptVersion {
        abi_version: uapi::CKPT_ABI_VERSION,
        image_major: crate::image::FORMAT_MAJOR,
        image_minor: crate::image::FORMAT_MINOR,
        features: uapi::CKPT_FEAT_CHECKPOINT
            | uapi::CKPT_FEAT_RESTART
            | uapi::CKPT_FEAT_SHELL
            | uapi::CKPT_FEAT_STATUS_FD
            | uapi::CKPT_FEAT_VDSO_PROXY
            | uapi::CKPT_FEAT_SYSV
            | uapi::CKPT_FEAT_HANDOVER
            | if crate::lsm::LsmWatch::active() {
                uapi::CKPT_FEAT_LSM_WATCH
            } else {
                0
            },
        release,
    })?;
    Ok(0)
}

#[inline(never)]
fn ioc_checkpoint(user: UserSlice) -> Result<isize> {
    let (mut r, mut w) = user.reader_writer();
    let mut args: CkptCheckpointArgs = r.read()?;
    let sysv = args.flags & uapi::CKPT_CHECKPOINT_SYSV != 0;
    if args.reserved[1..] != [0; 2] || (!sysv && args.reserved[0] != 0) {
        return Err(EINVAL);
    }
    let mut incr = crate::objects::track::Request::read(args.incr, args.flags)?;
    let mut why = Reason::new();
    let chan = if sysv {
        let fd = i32::try_from(args.reserved[0]).map_err(|_| EINVAL)?;
        Some(FileRef::writable_fd(fd).inspect_err(|_| {
            pr_info!(
                "checkpoint of {}: SysV channel fd {fd} is not a socket open for writing\n",
                args.pid
            );
        })?)
    } else {
        None
    };
    let mut out = FileRef::writable_fd(args.fd).inspect_err(|e| {
        if *e == EINVAL {
            pr_info!(
                "checkpoint of {}: fd {} cannot be written from the kernel; use a file, pipe or socket\n",
                args.pid,
                args.fd
            );
        } else {
            pr_info!("checkpoint of {}: fd {} is not open for writing\n", args.pid, args.fd);
        }
    })?;
    let bytes = checkpoint::checkpoint(
        args.pid,
        args.flags,
        &mut out,
        chan.as_ref(),
        incr.as_mut(),
        &mut why,
    )
    .inspect_err(|e| crate::log_failure("checkpoint", args.pid, *e, &why))?;
    if let Some(req) = incr.as_ref() {
        req.write_back(args.incr)?;
    }
    args.bytes = bytes;
    w.write(&args)?;
    Ok(0)
}

#[inline(never)]
fn ioc_check(user: UserSlice) -> Result<isize> {
    let (mut r, mut w) = user.reader_writer();
    let mut args: CkptCheckArgs = r.read()?;
    let known = uapi::CKPT_CHECKPOINT_TREE | uapi::CKPT_CHECKPOINT_EXTERNAL_UNIX;
    if args.reserved != 0 || args.flags & !known != 0 {
        return Err(EINVAL);
    }
    let mut why = Reason::new();
    args.status = match checkpoint::check(args.pid, args.flags, &mut why) {
        Ok(()) => 0,
        Err(e) => -e.to_errno(),
    };
    args.reason = [0; uapi::CKPT_REASON_LEN];
    let r = why.as_bytes();
    args.reason[..r.len()].copy_from_slice(r);
    w.write(&args)?;
    Ok(0)
}

#[inline(never)]
fn ioc_restart(slot: &crate::restart::SessionSlot, user: UserSlice) -> Result<isize> {
    let (mut r, mut w) = user.reader_writer();
    let mut args: CkptRestartArgs = r.read()?;
    let mut why = Reason::new();
    if args.npipes > MAX_RESTART_PIPES {
        return Err(EINVAL);
    }
    let n = args.npipes as usize;
    let mut pipes = KVec::with_capacity(n, GFP_KERNEL)?;
    let mut pr = UserSlice::new(
        UserPtr::from_addr(args.pipes as usize),
        n * core::mem::size_of::<CkptRestartPipe>(),
    )
    .reader();
    for _ in 0..n {
        let p = pr.read::<CkptRestartPipe>()?;
        if p.pad != 0 {
            return Err(EINVAL);
        }
        pipes.push(p, GFP_KERNEL)?;
    }
    if args.nfiles > MAX_RESTART_PIPES {
        return Err(EINVAL);
    }
    let n = args.nfiles as usize;
    let mut files = KVec::with_capacity(n, GFP_KERNEL)?;
    let mut fr = UserSlice::new(
        UserPtr::from_addr(args.files as usize),
        n * core::mem::size_of::<CkptRestartFile>(),
    )
    .reader();
    for _ in 0..n {
        files.push(fr.read::<CkptRestartFile>()?, GFP_KERNEL)?;
    }
    let given = crate::restart::Given {
        pipes: &pipes,
        files: &files,
    };
    // On success this returns into the restored program: nothing may be written to the
    // caller's (now replaced) memory.
    crate::restart::restart(slot, &args, &given, &mut why).inspect_err(|e| {
        if *e == EINTR {
            // Killed after the point of no return (already logged), or interrupted.
            return;
        }
        crate::log_failure("restart", crate::shim::current_pid(), *e, &why);
        args.reason = [0; uapi::CKPT_REASON_LEN];
        let r = why.as_bytes();
        args.reason[..r.len()].copy_from_slice(r);
        let _ = w.write(&args);
    })
}
