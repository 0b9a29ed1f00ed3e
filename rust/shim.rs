// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around the C shim (`rust/shim.c`).
//!
//! C header: [`rust/shim.h`](shim.h). This is the only file that calls the shim; every
//! kernel object crosses the boundary as an opaque pointer owned by a wrapper here that
//! drops its reference, so the rest of the module is safe Rust.

use crate::image;
use crate::sys;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::fs::file::FileDescriptorReservation;
use kernel::fs::File;
use kernel::mm::MmWithUser;
use kernel::sync::aref::ARef;
use kernel::task::Task;
use kernel::{bindings, prelude::*};

/// `struct ckpt_task_info`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TaskInfo {
    pub(crate) pid: i32,
    pub(crate) tgid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
    pub(crate) flags: u32,
    pub(crate) exit_signal: i32,
    pub(crate) exit_code: i32,
    pub(crate) personality: u32,
    pub(crate) nr_threads: u32,
    pub(crate) set_child_tid: u64,
    pub(crate) clear_child_tid: u64,
    pub(crate) robust_list: u64,
    pub(crate) robust_list_len: u64,
    pub(crate) comm: [u8; 16],
    pub(crate) files_key: u64,
    pub(crate) mm_key: u64,
}

/// [`TaskInfo::flags`] bits (`CKPT_TI_*`).
pub(crate) mod ti {
    pub(crate) const KTHREAD: u32 = 1 << 0;
    pub(crate) const EXITING: u32 = 1 << 1;
    pub(crate) const PTRACED: u32 = 1 << 2;
    pub(crate) const ZOMBIE: u32 = 1 << 3;
    pub(crate) const LEADER: u32 = 1 << 4;
    pub(crate) const NO_NEW_PRIVS: u32 = 1 << 6;
    pub(crate) const FOREIGN_NS: u32 = 1 << 7;
}

impl TaskInfo {
    /// `comm` up to its NUL.
    pub(crate) fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|&c| c == 0).unwrap_or(16);
        &self.comm[..n]
    }
}

/// `struct ckpt_sigaction`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SigActionRaw {
    pub(crate) handler: u64,
    pub(crate) flags: u64,
    pub(crate) restorer: u64,
    pub(crate) mask: u64,
}

/// `struct ckpt_sigstate`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SigState {
    pub(crate) blocked: u64,
    pub(crate) pending: u64,
    pub(crate) shared_pending: u64,
    pub(crate) altstack_sp: u64,
    pub(crate) altstack_size: u64,
    pub(crate) altstack_flags: u32,
    pub(crate) nr_queued: u32,
    pub(crate) nr_shared_queued: u32,
    pub(crate) overflow: u32,
    pub(crate) real_value_ns: u64,
    pub(crate) real_interval_ns: u64,
    pub(crate) virt_expires: u64,
    pub(crate) virt_incr: u64,
    pub(crate) prof_expires: u64,
    pub(crate) prof_incr: u64,
    pub(crate) posix_timers: u32,
    pub(crate) pad: u32,
}

/// `struct ckpt_creds`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CredsRaw {
    pub(crate) uids: [u32; 4],
    pub(crate) gids: [u32; 4],
    pub(crate) caps: [u64; 5],
    pub(crate) securebits: u32,
    pub(crate) ngroups: u32,
}

/// `struct ckpt_mm_info`.
#[repr(C)]
pub(crate) struct MmInfo {
    pub(crate) layout: [u64; 11],
    pub(crate) auxv: [u64; 64],
    pub(crate) auxv_len: u32,
    pub(crate) map_count: u32,
}

/// [`VmaInfo::flags`] bits (`CKPT_VMA_*`).
pub(crate) mod vmai {
    pub(crate) const ANON_VMA: u32 = 1 << 0;
    pub(crate) const SHMEM: u32 = 1 << 1;
    pub(crate) const SPECIAL: u32 = 1 << 2;
    pub(crate) const PFNMAP: u32 = 1 << 3;
    pub(crate) const HUGETLB: u32 = 1 << 4;
    pub(crate) const WIPEONFORK: u32 = 1 << 5;
    pub(crate) const SEALED: u32 = 1 << 6;
    pub(crate) const PKEY: u32 = 1 << 7;
    pub(crate) const SHADOW_STACK: u32 = 1 << 8;
    pub(crate) const DROPPABLE: u32 = 1 << 9;
    pub(crate) const LOCKONFAULT: u32 = 1 << 10;
    pub(crate) const MAYBE_GUARD: u32 = 1 << 11;
}

/// The `PROT_*` bits (user ABI: read 1, write 2, exec 4) of a mapping with VMA flags
/// `vm_flags`.
pub(crate) fn vm_prot(vm_flags: u64) -> u32 {
    let f = vm_flags as bindings::vm_flags_t;
    [
        (bindings::VM_READ, 1),
        (bindings::VM_WRITE, 2),
        (bindings::VM_EXEC, 4),
    ]
    .iter()
    .filter(|(vm, _)| f & vm != 0)
    .fold(0, |p, (_, prot)| p | prot)
}

/// [`cur::vma_advise`] bits: the `madvise` advice a mapping had.
pub(crate) mod adv {
    pub(crate) const DONTFORK: u32 = 1 << 0;
    pub(crate) const DONTDUMP: u32 = 1 << 1;
    pub(crate) const HUGEPAGE: u32 = 1 << 2;
    pub(crate) const NOHUGEPAGE: u32 = 1 << 3;
    pub(crate) const WIPEONFORK: u32 = 1 << 4;
    /// The three below are `CKPT_ADV_*` of `ckpt_cur_vma_advise()` (their `VM_*`
    /// flags are not in the bindings; KSM's needs `ksm_madvise()`).
    pub(crate) const SEQUENTIAL: u32 = 1 << 5;
    pub(crate) const RANDOM: u32 = 1 << 6;
    pub(crate) const MERGEABLE: u32 = 1 << 7;
}

/// [`cur::creds_differ`] bits: which of the image's ids are not
/// the caller's.
pub(crate) mod differ {
    /// The real, effective, saved or filesystem uid.
    pub(crate) const UIDS: u32 = 1 << 0;
    /// The real, effective, saved or filesystem gid.
    pub(crate) const GIDS: u32 = 1 << 1;
    /// The supplementary groups.
    pub(crate) const GROUPS: u32 = 1 << 2;
}

/// [`TaskRef::access_facts`] bits (`CKPT_AF_*`): what the ptrace access rules
/// look at.
pub(crate) mod af {
    /// The task is in the caller's thread group.
    pub(crate) const SAME_GROUP: u32 = 1 << 0;
    /// The caller's uid and gid are the task's real, effective and saved ones.
    pub(crate) const IDS_MATCH: u32 = 1 << 1;
    /// The caller has `CAP_SYS_PTRACE` over the task's user namespace.
    pub(crate) const PTRACE_CAP: u32 = 1 << 2;
    /// The task is dumpable by its owner.
    pub(crate) const DUMPABLE: u32 = 1 << 3;
    /// The caller has `CAP_SYS_PTRACE` over the namespace of the task's exec state.
    pub(crate) const PTRACE_CAP_EXEC: u32 = 1 << 4;
    /// Same user namespace.
    pub(crate) const SAME_USERNS: u32 = 1 << 5;
    /// The task's permitted capabilities are within the caller's.
    pub(crate) const CAPS_SUBSET: u32 = 1 << 6;
}

/// `struct ckpt_vma_info`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) vm_flags: u64,
    pub(crate) prot: u32,
    pub(crate) flags: u32,
    pub(crate) semflags: u32,
    pub(crate) name: [u8; 32],
}

impl VmaInfo {
    /// The special mapping's name up to its NUL.
    pub(crate) fn name(&self) -> &[u8] {
        let n = self.name.iter().position(|&c| c == 0).unwrap_or(32);
        &self.name[..n]
    }
}

/// [`FileInfo::kind`] values: what a file is, by its inode's type and its file system.
pub(crate) mod fk {
    use kernel::bindings;

    pub(crate) const REG: u32 = 1;
    pub(crate) const DIR: u32 = 2;
    pub(crate) const CHR: u32 = 3;
    /// A named pipe (a FIFO on a file system).
    pub(crate) const FIFO: u32 = 4;
    /// A pipe of `pipe(2)` (pipefs).
    pub(crate) const PIPE: u32 = 5;
    /// A symbolic link (opened with `O_PATH | O_NOFOLLOW`).
    pub(crate) const LNK: u32 = 6;
    pub(crate) const SOCKET: u32 = 100;
    /// An anonymous inode: eventfd, epoll, io_uring, ...
    pub(crate) const ANON: u32 = 101;
    pub(crate) const OTHER: u32 = 102;
    /// A pidfd (a file of pidfs).
    pub(crate) const PIDFD: u32 = 103;

    /// `PID_FS_MAGIC` (`include/uapi/linux/magic.h`).
    const PID_FS_MAGIC: u32 = 0x5049_4446;

    /// The kind of a file whose inode has mode `mode` on a file system of `magic`.
    pub(crate) fn of(mode: u32, magic: u32) -> u32 {
        let fmt = mode & bindings::S_IFMT;
        if fmt == bindings::S_IFSOCK || magic == bindings::SOCKFS_MAGIC {
            SOCKET
        } else if magic == bindings::ANON_INODE_FS_MAGIC {
            ANON
        } else if magic == PID_FS_MAGIC {
            PIDFD
        } else {
            match fmt {
                bindings::S_IFIFO if magic == bindings::PIPEFS_MAGIC => PIPE,
                bindings::S_IFIFO => FIFO,
                bindings::S_IFREG => REG,
                bindings::S_IFDIR => DIR,
                bindings::S_IFCHR => CHR,
                bindings::S_IFLNK => LNK,
                _ => OTHER,
            }
        }
    }
}

/// The calling task's root directory, replaced for a while by another (see
/// [`RootSwap::enter`]); dropping it gives the task its root back.
pub(crate) struct RootSwap(*mut c_void);

impl RootSwap {
    /// Makes `dir` the caller's root directory until the returned value is dropped.
    /// The caller's threads share it (`CLONE_FS`): call it only while they are held.
    pub(crate) fn enter(dir: &FileRef) -> Result<Self> {
        let mut old = core::ptr::null_mut();
        // SAFETY: The file is valid; `old` is a valid out pointer.
        errno(unsafe { ffi::ckpt_cur_swap_root(dir.ptr(), &mut old) })?;
        Ok(Self(old))
    }

    /// The name of the root it replaced, seen from `dir`, in `buf`; returns its length.
    pub(crate) fn old_name(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `self.0` is the path the swap saved; `buf` is valid for writing.
        let n = errno(unsafe { ffi::ckpt_path_of(self.0, buf.as_mut_ptr(), len32(buf)) })?;
        Ok(n as usize)
    }
}

impl Drop for RootSwap {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `ckpt_cur_swap_root` and is given back once.
        unsafe { ffi::ckpt_cur_restore_root(self.0) }
    }
}

/// `struct ckpt_file_info`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct FileInfo {
    pub(crate) kind: u32,
    pub(crate) flags: u32,
    pub(crate) mode: u32,
    pub(crate) rdev: u32,
    pub(crate) pos: i64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) pipe_key: u64,
    pub(crate) pipe_len: u32,
    pub(crate) pipe_capacity: u32,
    pub(crate) fs_magic: u32,
    pub(crate) unlinked: u32,
    pub(crate) refs: u32,
    pub(crate) pipe_opens: u32,
    pub(crate) seals: u32,
    pub(crate) nlink: u32,
    pub(crate) ino: u64,
    pub(crate) inode_key: u64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) allocated: u64,
}

/// `struct ckpt_pty_info`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct PtyInfo {
    pub(crate) index: u32,
    pub(crate) master: u32,
    pub(crate) locked: u32,
    pub(crate) unread: u32,
    pub(crate) input_mode: u32,
    pub(crate) hung_up: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mode: u32,
    pub(crate) flags: [u32; 4],
    pub(crate) speed: [u32; 2],
    pub(crate) winsize: [u16; 4],
    pub(crate) line: u8,
    pub(crate) cc: [u8; 19],
}

/// `struct ckpt_layout`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Layout {
    pub(crate) task_struct_size: u64,
    pub(crate) task_pid: u64,
    pub(crate) task_tgid: u64,
    pub(crate) task_mm: u64,
    pub(crate) task_comm: u64,
    pub(crate) task_group_leader: u64,
    pub(crate) task_real_cred: u64,
    pub(crate) task_cred: u64,
    pub(crate) task_flags: u64,
    pub(crate) mm_struct_size: u64,
    pub(crate) file_size: u64,
    pub(crate) file_f_flags: u64,
    pub(crate) file_f_cred: u64,
    pub(crate) file_f_mode: u64,
    pub(crate) cred_uid: u64,
    pub(crate) cred_euid: u64,
    pub(crate) task_info_size: u64,
    pub(crate) task_info_files_key: u64,
    pub(crate) file_info_size: u64,
    pub(crate) file_info_inode_key: u64,
    pub(crate) vma_info_size: u64,
    pub(crate) mm_info_size: u64,
    pub(crate) creds_size: u64,
    pub(crate) sigstate_size: u64,
    pub(crate) sigaction_size: u64,
    pub(crate) task_signal: u64,
    pub(crate) task_sas_ss_sp: u64,
    pub(crate) task_sas_ss_size: u64,
    pub(crate) task_sas_ss_flags: u64,
    pub(crate) task_atomic_flags: u64,
    pub(crate) cred_fsgid: u64,
    pub(crate) cred_securebits: u64,
    pub(crate) cred_cap_inheritable: u64,
    pub(crate) cred_cap_ambient: u64,
    pub(crate) cred_group_info: u64,
    pub(crate) group_info_ngroups: u64,
    pub(crate) group_info_gid: u64,
}

/// Number of general registers (`CKPT_NREGS`).
pub(crate) const NREGS: usize = 27;
/// Size of one saved siginfo (`CKPT_SIGINFO_LEN`).
pub(crate) const SIGINFO_LEN: usize = 48;

mod ffi {
    use super::*;

    extern "C" {
        pub(super) fn ckpt_task_descendants(t: *mut c_void, out: *mut *mut c_void, max: u32)
            -> i32;
        pub(super) fn ckpt_shmem_new(size: u64, err: *mut i32) -> *mut c_void;
        pub(super) fn ckpt_memfd_new(
            name: *const u8,
            size: u64,
            mode: u32,
            err: *mut i32,
        ) -> *mut c_void;
        pub(super) fn ckpt_memfd_noexec_scope() -> i32;
        pub(super) fn ckpt_cond_resched();
        pub(super) fn ckpt_memfd_seal(f: *mut c_void, seals: u32) -> i32;
        pub(super) fn ckpt_cur_sysv_file(shmid: u64) -> *mut c_void;
        pub(super) fn ckpt_cur_sigframe(
            v: *const u64,
            xs: *const u8,
            xlen: u32,
            blocked: u64,
            ss_sp: u64,
            ss_size: u64,
            ss_flags: u32,
            sys: u64,
            sp: *mut u64,
            ip: *mut u64,
        ) -> i32;
        pub(super) fn ckpt_task_ctty(
            t: *mut c_void,
            name: *mut u8,
            len: u32,
            fg: *mut i32,
            leader: *mut bool,
        ) -> i32;
        pub(super) fn ckpt_task_info(t: *mut c_void, ti: *mut TaskInfo);
        pub(super) fn ckpt_task_access_facts(t: *mut c_void) -> u32;
        pub(super) fn ckpt_task_attach_by_kernel(t: *mut c_void) -> i32;
        pub(super) fn ckpt_task_threads(t: *mut c_void, out: *mut *mut c_void, max: u32) -> i32;
        pub(super) fn ckpt_quiesce_start(threads: *const *mut c_void, n: u32) -> *mut c_void;
        pub(super) fn ckpt_quiesce_wait(q: *mut c_void, timeout_ms: u32) -> i32;
        pub(super) fn ckpt_quiesce_intact(q: *mut c_void) -> bool;
        pub(super) fn ckpt_quiesce_moved(q: *mut c_void) -> bool;
        pub(super) fn ckpt_quiesce_release(q: *mut c_void);
        pub(super) fn ckpt_quiesce_hold(q: *mut c_void, t: *mut c_void) -> i32;
        pub(super) fn ckpt_quiesce_unhold(q: *mut c_void);
        pub(super) fn ckpt_task_regs(t: *mut c_void, regs: *mut u64, in_syscall: *mut bool) -> i32;
        pub(super) fn ckpt_xstate_size(t: *mut c_void) -> i32;
        pub(super) fn ckpt_task_xstate(t: *mut c_void, buf: *mut u8, size: u32) -> i32;
        pub(super) fn ckpt_task_sigactions(t: *mut c_void, out: *mut SigActionRaw) -> i32;
        pub(super) fn ckpt_task_sigstate(
            t: *mut c_void,
            st: *mut SigState,
            queued: *mut u8,
            max_queued: u32,
            shared: *mut u8,
            max_shared: u32,
        ) -> i32;
        pub(super) fn ckpt_task_rlimits(t: *mut c_void, out: *mut u64) -> i32;
        pub(super) fn ckpt_mm_merge_any(mm: *mut c_void) -> bool;
        pub(super) fn ckpt_mm_resident_anon(mm: *mut c_void) -> u64;
        pub(super) fn ckpt_mm_info(mm: *mut c_void, mi: *mut MmInfo, exe: *mut u8, len: u32)
            -> i32;
        pub(super) fn ckpt_mm_vma(
            mm: *mut c_void,
            addr: u64,
            vi: *mut VmaInfo,
            file: *mut *mut c_void,
        ) -> i32;
        pub(super) fn ckpt_mm_pin_pages(
            mm: *mut c_void,
            start: u64,
            end: u64,
            anon_only: bool,
            out: *mut *mut c_void,
            addrs: *mut u64,
            max: u32,
            next: *mut u64,
        ) -> isize;
        pub(super) fn ckpt_pages_put(pages: *mut *mut c_void, n: u32, pinned: bool);
        pub(super) fn ckpt_mm_same_pages(
            mm: *mut c_void,
            addrs: *const u64,
            pages: *const *mut c_void,
            n: u32,
            want: *mut u8,
        ) -> i32;
        pub(super) fn ckpt_task_fd_cloexec(t: *mut c_void, fd: u32) -> i32;
        pub(super) fn ckpt_file_info(
            f: *mut c_void,
            fi: *mut FileInfo,
            path: *mut u8,
            len: u32,
        ) -> i32;
        pub(super) fn ckpt_pipe_peek(f: *mut c_void, buf: *mut u8, len: u32) -> i32;
        pub(super) fn ckpt_task_cwd_deleted(t: *mut c_void, mode: *mut u32, key: *mut u64) -> i32;
        pub(super) fn ckpt_task_fs(
            t: *mut c_void,
            umask: *mut u32,
            cwd: *mut u8,
            cwdlen: u32,
            root: *mut u8,
            rootlen: u32,
        ) -> i32;
        pub(super) fn ckpt_uts(release: *mut u8, rlen: u32, node: *mut u8, nlen: u32) -> i32;
        pub(super) fn ckpt_fatal_signal_pending() -> bool;
        pub(super) fn ckpt_override_creds(k: *mut c_void) -> *const c_void;
        pub(super) fn ckpt_revert_creds(old: *const c_void);
        pub(super) fn ckpt_unprivileged_mode() -> bool;
        pub(super) fn ckpt_layout(l: *mut Layout);

        pub(super) fn ckpt_cur_special(name: *const u8, start: *mut u64, end: *mut u64) -> i32;
        pub(super) fn ckpt_cur_mm_shared() -> bool;
        pub(super) fn ckpt_cur_unmap_all(specials: bool, keep: *const u64, nkeep: u32) -> i32;
        pub(super) fn ckpt_cur_keep_or_fill(addr: u64, data: *const u8, force: bool) -> i32;
        pub(super) fn ckpt_cur_anon_ranges(out: *mut u64, max: u32) -> isize;
        pub(super) fn ckpt_cur_zap(start: u64, end: u64) -> i32;
        pub(super) fn ckpt_cur_sysv_ranges(out: *mut u64, max: u32) -> i32;
        pub(super) fn ckpt_cur_vma_advise(
            start: u64,
            end: u64,
            set: u64,
            clear: u64,
            adv: u32,
        ) -> i32;
        pub(super) fn ckpt_cur_set_layout(layout: *const u64, auxv: *const u64, n: u32) -> i32;
        pub(super) fn ckpt_cur_fill_pages(
            addr: u64,
            data: *const u8,
            npages: u32,
            force: bool,
        ) -> i32;
        pub(super) fn ckpt_file_pty(f: *mut c_void, pi: *mut PtyInfo) -> i32;
        pub(super) fn ckpt_pty_take_input(
            f: *mut c_void,
            buf: *mut u8,
            cap: u32,
            ends: *mut u32,
            max_ends: u32,
            nends: *mut u32,
        ) -> i32;
        pub(super) fn ckpt_pty_give_input(
            f: *mut c_void,
            slave: bool,
            mode: i32,
            buf: *const u8,
            len: u32,
            ends: *const u32,
            nends: u32,
        ) -> i32;
        pub(super) fn ckpt_open_tmpfile(dir: *const u8, mode: u32, err: *mut i32) -> *mut c_void;
        pub(super) fn ckpt_open_exec_file(path: *const u8, err: *mut i32) -> *mut c_void;
        pub(super) fn ckpt_file_cached_page(f: *mut c_void, pos: i64, len: u32) -> *mut c_void;
        pub(super) fn ckpt_file_read_pages(
            f: *mut c_void,
            pages: *const *mut c_void,
            n: u32,
            pos: *mut i64,
        ) -> isize;
        pub(super) fn ckpt_mm_hold_pages(
            mm: *mut c_void,
            addr: u64,
            npages: u32,
            force: bool,
            out: *mut *mut c_void,
        ) -> isize;
        pub(super) fn ckpt_file_proc_own_ns(f: *mut c_void) -> bool;
        pub(super) fn ckpt_file_other_name(f: *mut c_void, path: *mut u8, pathlen: u32) -> i32;
        pub(super) fn ckpt_file_link_target(f: *mut c_void, buf: *mut u8, len: u32) -> i32;
        pub(super) fn ckpt_cur_swap_root(dir: *mut c_void, old: *mut *mut c_void) -> i32;
        pub(super) fn ckpt_cur_restore_root(old: *mut c_void);
        pub(super) fn ckpt_path_of(p: *const c_void, buf: *mut u8, len: u32) -> i32;
        pub(super) fn ckpt_cur_set_sigactions(sa: *const SigActionRaw) -> i32;
        pub(super) fn ckpt_cur_set_itimer_real(value_ns: u64, interval_ns: u64);
        pub(super) fn ckpt_cur_override_image_creds(new: *const c_void) -> *const c_void;
        pub(super) fn ckpt_cur_revert_image_creds(old: *const c_void);
        pub(super) fn ckpt_cred_drop_private_keyrings(new: *mut c_void);
        pub(super) fn ckpt_cur_set_soft_rlimits(soft: *const u64) -> i32;
        pub(super) fn ckpt_cur_set_misc(
            comm: *const u8,
            personality: u32,
            umask: u32,
            set_child_tid: u64,
            clear_child_tid: u64,
            robust_list: u64,
        );
        pub(super) fn ckpt_cur_set_regs(regs: *const u64);
        pub(super) fn ckpt_cur_xstate_size(features: *mut u64) -> i32;
        pub(super) fn ckpt_cpu_xfeatures() -> u64;
        pub(super) fn ckpt_cur_set_xstate(buf: *const u8, size: u32) -> i32;
        pub(super) fn ckpt_task_rseq(t: *mut c_void, ptr: *mut u64, len: *mut u32, sig: *mut u32);
        pub(super) fn ckpt_task_rseq_abort(t: *mut c_void, ip: u64, abort_ip: *mut u64) -> i32;
        pub(super) fn ckpt_rseq_area_valid(ptr: u64, len: u32) -> bool;
        pub(super) fn ckpt_cur_set_rseq(ptr: u64, len: u32, sig: u32) -> i32;
        pub(super) fn ckpt_task_attrs(t: *mut c_void, a: *mut TaskAttrsRaw) -> i32;
        pub(super) fn ckpt_file_owner(
            f: *mut c_void,
            ty: *mut u32,
            nr: *mut i32,
            signum: *mut u32,
        ) -> bool;
        pub(super) fn ckpt_cur_set_exe(path: *const u8, allow_setid: bool) -> i32;
        pub(super) fn ckpt_cur_set_exec_attrs(pdeath_signal: u32, dumpable: u32);
        pub(super) fn ckpt_cur_pgrp_orphaned() -> bool;
        pub(super) fn ckpt_cur_recalc_sigpending();
        pub(super) fn ckpt_task_same_mntns(t: *mut c_void) -> bool;
        pub(super) fn ckpt_cur_permitted_xfeatures() -> u64;
    }
}

fn errno(ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

fn len32(b: &[u8]) -> u32 {
    b.len().min(u32::MAX as usize) as u32
}

fn cstr_len(b: &[u8]) -> usize {
    b.iter().position(|&c| c == 0).unwrap_or(b.len())
}

/// A counted reference to a `task_struct`: the kernel crate's [`ARef<Task>`], with the
/// shim's operations on tasks as methods.
#[derive(Clone)]
pub(crate) struct TaskRef(ARef<Task>);

/// Tasks a shim function lists: `fill(out, max)` stores up to `max` task pointers, each
/// with a reference, at `out` and returns how many, or `-E2BIG` (then a larger array is
/// tried, starting from `first` entries), or another `-errno`.
fn collect(first: usize, fill: impl Fn(*mut *mut c_void, u32) -> i32) -> Result<KVec<TaskRef>> {
    let mut want = first;
    loop {
        let mut raw: KVec<*mut c_void> = KVec::with_capacity(want, GFP_KERNEL)?;
        let mut out: KVec<TaskRef> = KVec::with_capacity(want, GFP_KERNEL)?;
        let n = fill(raw.as_mut_ptr(), want as u32);
        if n == -(bindings::E2BIG as i32) && want < (1 << 22) {
            want *= 2;
            continue;
        }
        let n = errno(n)? as usize;
        // SAFETY: The shim initialised `n <= want` entries.
        unsafe { raw.inc_len(n) };
        for p in raw.iter() {
            // The push does not allocate: `out` has room for `want >= n` entries.
            // SAFETY: The shim took a reference on each task it listed, which the new
            // `TaskRef` owns from here.
            if let Some(t) = unsafe { TaskRef::from_counted(*p) } {
                out.push(t, GFP_KERNEL)?;
            }
        }
        return Ok(out);
    }
}

impl TaskRef {
    /// Takes over a reference the shim took on task `p` (none for null).
    ///
    /// # Safety
    ///
    /// `p` is null or a `task_struct` on which the caller owns a reference, which
    /// the result owns from then on.
    unsafe fn from_counted(p: *mut c_void) -> Option<Self> {
        // SAFETY: `Task` is a transparent wrapper of `task_struct`, and the reference
        // passes to the `ARef` (the function's contract).
        NonNull::new(p.cast::<Task>()).map(|t| Self(unsafe { ARef::from_raw(t) }))
    }

    /// Looks up a task by pid in the caller's pid namespace.
    pub(crate) fn by_vpid(pid: i32) -> Option<Self> {
        sys::task::by_vpid(pid).map(Self)
    }

    /// The calling task.
    pub(crate) fn current() -> Self {
        let me: &Task = kernel::current!();
        Self(me.into())
    }

    fn ptr(&self) -> *mut c_void {
        self.0.as_ptr().cast()
    }

    /// The `task_struct` pointer, for the other thin wrappers (`lsm.rs`).
    pub(crate) fn as_raw(&self) -> *mut c_void {
        self.ptr()
    }

    /// Identity of the task, for comparisons.
    pub(crate) fn key(&self) -> usize {
        self.ptr() as usize
    }

    /// A snapshot of its ids and state.
    pub(crate) fn info(&self) -> TaskInfo {
        let mut ti = TaskInfo::default();
        // SAFETY: The task is valid (type invariant); `ti` is a valid out pointer.
        unsafe { ffi::ckpt_task_info(self.ptr(), &mut ti) };
        ti
    }

    /// What the ptrace access rules look at, about the caller and this task
    /// ([`af`] bits).
    pub(crate) fn access_facts(&self) -> u32 {
        // SAFETY: The task is valid.
        unsafe { ffi::ckpt_task_access_facts(self.ptr()) }
    }

    /// The kernel's own ptrace-attach decision about this task's process, with the
    /// LSMs' ptrace hooks (Yama, SELinux, AppArmor, Landlock, commoncap): the check
    /// that opening its `/proc/PID/mem` makes in the caller's context.
    pub(crate) fn attach_by_kernel(&self) -> Result {
        // SAFETY: The task is valid.
        errno(unsafe { ffi::ckpt_task_attach_by_kernel(self.ptr()) }).map(|_| ())
    }

    /// Whether this task is in the caller's own thread group.
    pub(crate) fn is_current_group(&self) -> bool {
        sys::task::is_current_group(&self.0)
    }

    /// Every thread of its group (itself included), leader first.
    pub(crate) fn threads(&self) -> Result<KVec<TaskRef>> {
        let first = self.info().nr_threads.max(1) as usize + 4;
        // SAFETY: The task is valid; the shim fills at most `max` pointers at `out`.
        collect(first, |out, max| unsafe {
            ffi::ckpt_task_threads(self.ptr(), out, max)
        })
    }

    /// The thread-group leaders below it in the process tree (zombies included), in
    /// fork order.
    pub(crate) fn descendants(&self) -> Result<KVec<TaskRef>> {
        // SAFETY: The task is valid; the shim fills at most `max` pointers at `out`.
        collect(64, |out, max| unsafe {
            ffi::ckpt_task_descendants(self.ptr(), out, max)
        })
    }

    /// Its controlling terminal: the kernel's name for it (written to `name`; its
    /// length), the foreground process group, whether it leads the session.
    pub(crate) fn ctty(&self, name: &mut [u8; 64]) -> Result<Option<(usize, i32, bool)>> {
        let (mut fg, mut leader) = (0, false);
        // SAFETY: The task is valid; `name` has 64 bytes; the outputs are valid.
        let r = errno(unsafe {
            ffi::ckpt_task_ctty(self.ptr(), name.as_mut_ptr(), 64, &mut fg, &mut leader)
        })?;
        if r == 0 {
            return Ok(None);
        }
        let n = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        Ok(Some((n, fg, leader)))
    }

    /// Sends `sig` to its thread group as `kill(2)` from the caller would, with the
    /// same permission checks (`sig` 0: only the checks).
    pub(crate) fn signal_group(&self, sig: i32) -> Result {
        sys::task::signal_group(&self.0, sig)
    }

    /// General registers of a quiescent task, and whether it was in a syscall.
    pub(crate) fn regs(&self) -> Result<([u64; NREGS], bool)> {
        let mut r = [0u64; NREGS];
        let mut in_syscall = false;
        // SAFETY: The task is valid; `r` has room for `NREGS` words.
        errno(unsafe { ffi::ckpt_task_regs(self.ptr(), r.as_mut_ptr(), &mut in_syscall) })?;
        Ok((r, in_syscall))
    }

    /// Size of its XSAVE area (0 if the CPU has none).
    pub(crate) fn xstate_size(&self) -> usize {
        // SAFETY: The task is valid.
        unsafe { ffi::ckpt_xstate_size(self.ptr()) }.max(0) as usize
    }

    /// Its XSAVE area, into `buf` (which must be [`Self::xstate_size`] long).
    pub(crate) fn xstate(&self, buf: &mut [u8]) -> Result {
        // SAFETY: The task is valid; `buf` is writable for its length.
        errno(unsafe { ffi::ckpt_task_xstate(self.ptr(), buf.as_mut_ptr(), len32(buf)) })
            .map(|_| ())
    }

    /// Its signal dispositions.
    pub(crate) fn sigactions(&self, out: &mut [SigActionRaw]) -> Result {
        if out.len() != 64 {
            return Err(EINVAL);
        }
        // SAFETY: The task is valid; `out` has room for 64 entries.
        errno(unsafe { ffi::ckpt_task_sigactions(self.ptr(), out.as_mut_ptr()) }).map(|_| ())
    }

    /// Its signal state; queued siginfos go to `queued` and `shared`.
    pub(crate) fn sigstate(&self, queued: &mut [u8], shared: &mut [u8]) -> Result<SigState> {
        let mut st = SigState::default();
        // SAFETY: The task is valid; the buffers are writable for the lengths passed.
        errno(unsafe {
            ffi::ckpt_task_sigstate(
                self.ptr(),
                &mut st,
                queued.as_mut_ptr(),
                (queued.len() / SIGINFO_LEN) as u32,
                shared.as_mut_ptr(),
                (shared.len() / SIGINFO_LEN) as u32,
            )
        })?;
        Ok(st)
    }

    /// Its process's resource limits.
    pub(crate) fn rlimits(&self) -> Result<[(u64, u64); 16]> {
        let mut raw = [0u64; 32];
        // SAFETY: The task is valid; `raw` has room for 32 words.
        errno(unsafe { ffi::ckpt_task_rlimits(self.ptr(), raw.as_mut_ptr()) })?;
        let mut out = [(0, 0); 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (raw[2 * i], raw[2 * i + 1]);
        }
        Ok(out)
    }

    /// Its credentials; supplementary groups are appended to `groups`.
    pub(crate) fn creds(&self, groups: &mut KVec<u32>) -> Result<CredsRaw> {
        sys::cred::of_task(&self.0, groups, image::MAX_GROUPS)
    }

    /// Whether it is in the caller's mount namespace (else the paths it uses name
    /// files of another mount table).
    pub(crate) fn same_mntns(&self) -> bool {
        // SAFETY: The task is valid (type invariant).
        unsafe { ffi::ckpt_task_same_mntns(self.ptr()) }
    }

    /// Its `rseq(2)` registration: (area, length, signature); area 0 if none.
    pub(crate) fn rseq(&self) -> (u64, u32, u32) {
        let (mut p, mut l, mut s) = (0, 0, 0);
        // SAFETY: The task is valid; the outputs are valid pointers.
        unsafe { ffi::ckpt_task_rseq(self.ptr(), &mut p, &mut l, &mut s) };
        (p, l, s)
    }

    /// The abort handler of the rseq critical section it was interrupted in at `ip`
    /// (in user mode, not in a syscall), if `ip` is in one: where the kernel would
    /// send it on its next return to user mode.  `EINVAL` or `EFAULT` if the kernel
    /// would kill it instead (a bad descriptor or handler, an unreadable area).
    pub(crate) fn rseq_abort(&self, ip: u64) -> Result<Option<u64>> {
        let mut abort = 0;
        // SAFETY: The task is valid and quiescent; `abort` is a valid pointer.
        errno(unsafe { ffi::ckpt_task_rseq_abort(self.ptr(), ip, &mut abort) })?;
        Ok((abort != 0).then_some(abort))
    }

    /// Its address space, if it has one.
    pub(crate) fn mm(&self) -> Option<MmRef> {
        // SAFETY: The task is valid (`get_task_mm()` takes its `task_lock`).
        let mm = unsafe { bindings::get_task_mm(self.0.as_ptr()) };
        // `MmWithUser` is a transparent wrapper of `mm_struct`; a non-null result
        // carries an `mmget` reference, which the `ARef` owns.
        // SAFETY: As just said.
        NonNull::new(mm.cast::<MmWithUser>()).map(|m| MmRef(unsafe { ARef::from_raw(m) }))
    }

    /// The open file at the lowest fd `>= *fd`, which is updated to that fd.
    pub(crate) fn next_file(&self, fd: &mut u32) -> Option<FileRef> {
        sys::file::task_next(&self.0, fd).map(FileRef)
    }

    /// Whether `fd` is close-on-exec.
    pub(crate) fn fd_cloexec(&self, fd: u32) -> Result<bool> {
        // SAFETY: The task is valid.
        Ok(errno(unsafe { ffi::ckpt_task_fd_cloexec(self.ptr(), fd) })? != 0)
    }

    /// umask, cwd and root; the paths are written into the buffers, their lengths returned.
    /// The mode and the inode identity (as [`FileInfo::inode_key`]) of the working
    /// directory if it was deleted.
    pub(crate) fn cwd_deleted(&self) -> Result<Option<(u32, u64)>> {
        let (mut mode, mut key) = (0, 0);
        // SAFETY: The task is valid; both are valid out pointers.
        let r = errno(unsafe { ffi::ckpt_task_cwd_deleted(self.ptr(), &mut mode, &mut key) })?;
        Ok((r == 1).then_some((mode, key)))
    }

    pub(crate) fn fs(&self, cwd: &mut [u8], root: &mut [u8]) -> Result<(u32, usize, usize)> {
        let mut umask = 0;
        // SAFETY: The task is valid; the buffers are writable for their lengths.
        errno(unsafe {
            ffi::ckpt_task_fs(
                self.ptr(),
                &mut umask,
                cwd.as_mut_ptr(),
                len32(cwd),
                root.as_mut_ptr(),
                len32(root),
            )
        })?;
        Ok((umask, cstr_len(cwd), cstr_len(root)))
    }
}

/// A reference on an address space (`mm_users`): the kernel crate's
/// [`ARef<MmWithUser>`], with the shim's operations on address spaces as methods.
pub(crate) struct MmRef(ARef<MmWithUser>);

impl MmRef {
    fn ptr(&self) -> *mut c_void {
        self.0.as_raw().cast()
    }

    /// The `mm_struct` pointer, for the shims of other objects (valid while `self` is).
    pub(crate) fn as_raw(&self) -> *mut c_void {
        self.ptr()
    }

    /// Whether the process asked KSM to merge all its memory (`PR_SET_MEMORY_MERGE`).
    pub(crate) fn merge_any(&self) -> bool {
        // SAFETY: The mm is valid.
        unsafe { ffi::ckpt_mm_merge_any(self.ptr()) }
    }

    /// The bytes of its anonymous and shared memory pages in memory (the kernel's
    /// RSS counters: an estimate of what a checkpoint writes).
    pub(crate) fn resident_anon(&self) -> u64 {
        // SAFETY: The mm is valid.
        unsafe { ffi::ckpt_mm_resident_anon(self.ptr()) }
    }

    /// Layout fields and auxv; the executable's path goes to `exe`, its length is returned.
    pub(crate) fn info(&self, mi: &mut MmInfo, exe: &mut [u8]) -> Result<usize> {
        // SAFETY: The mm is valid; `mi` and `exe` are valid for writing.
        errno(unsafe { ffi::ckpt_mm_info(self.ptr(), mi, exe.as_mut_ptr(), len32(exe)) })?;
        Ok(cstr_len(exe))
    }

    /// The first mapping that ends above `addr`, and its file.
    pub(crate) fn vma_from(&self, addr: u64) -> Result<Option<(VmaInfo, Option<FileRef>)>> {
        let mut vi = VmaInfo::default();
        let mut file = core::ptr::null_mut();
        // SAFETY: The mm is valid; `vi` and `file` are valid out pointers.
        let r = errno(unsafe { ffi::ckpt_mm_vma(self.ptr(), addr, &mut vi, &mut file) })?;
        // A non-null file carries a reference for us.
        // SAFETY: A non-null `file` carries a reference, which the `FileRef` owns.
        let file = unsafe { FileRef::from_counted(file) };
        vi.prot = vm_prot(vi.vm_flags);
        let f = vi.vm_flags as bindings::vm_flags_t;
        for (vm, bit) in [
            (
                bindings::VM_PFNMAP | bindings::VM_IO | bindings::VM_MIXEDMAP,
                vmai::PFNMAP,
            ),
            (bindings::VM_HUGETLB, vmai::HUGETLB),
            (bindings::VM_WIPEONFORK, vmai::WIPEONFORK),
            (bindings::VM_LOCKONFAULT, vmai::LOCKONFAULT),
        ] {
            if f & vm != 0 {
                vi.flags |= bit;
            }
        }
        Ok(if r == 0 { None } else { Some((vi, file)) })
    }

    /// Takes references on the data pages of `[start, end)`, appending them to `pages`
    /// (up to its capacity) and their addresses to `addrs`; returns where to continue.
    pub(crate) fn pin_pages(
        &self,
        start: u64,
        end: u64,
        anon_only: bool,
        pages: &mut HeldPages,
        addrs: &mut KVec<u64>,
    ) -> Result<u64> {
        let room = pages.room().min(addrs.capacity() - addrs.len());
        let mut next = start;
        // SAFETY: The mm is valid; both vectors have room for `room` more entries, which the
        // shim initialises (`n` of them), each page with a reference now owned by `pages`.
        let n = unsafe {
            ffi::ckpt_mm_pin_pages(
                self.ptr(),
                start,
                end,
                anon_only,
                pages.0.as_mut_ptr().add(pages.0.len()),
                addrs.as_mut_ptr().add(addrs.len()),
                room as u32,
                &mut next,
            )
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        // SAFETY: The shim initialised `n <= room` entries of each.
        unsafe {
            pages.0.inc_len(n as usize);
            addrs.inc_len(n as usize);
        }
        Ok(next)
    }

    /// For each `i` with `want[i]` set: whether this mm maps, at `addrs[i]`
    /// (ascending), the very page `pages` holds as its `i`th; `want[i]` stays set
    /// only then. Nothing is faulted in.
    pub(crate) fn same_pages(&self, addrs: &[u64], pages: &HeldPages, want: &mut [u8]) -> Result {
        let n = addrs.len();
        if pages.len() != n || want.len() != n {
            return Err(EINVAL);
        }
        // SAFETY: The mm is valid; the three arrays hold `n` entries each; the pages
        // are held (type invariant of `HeldPages`) for the duration of the call.
        errno(unsafe {
            ffi::ckpt_mm_same_pages(
                self.ptr(),
                addrs.as_ptr(),
                pages.0.as_ptr(),
                n as u32,
                want.as_mut_ptr(),
            )
        })
        .map(|_| ())
    }
}

/// Page references taken by [`MmRef::pin_pages`] (or pins taken by
/// [`cur::hold_pages`]), dropped together.
///
/// # Invariants
///
/// Every entry is a `struct page` on which this object holds a reference (a pin, if
/// `pinned`).
pub(crate) struct HeldPages(KVec<*mut c_void>, bool);

impl HeldPages {
    /// Room for `n` pages.
    pub(crate) fn with_capacity(n: usize) -> Result<Self> {
        Ok(Self(KVec::with_capacity(n, GFP_KERNEL)?, false))
    }

    /// Drops the pages from entry `from` on whose address (`addrs`, in step with the
    /// pages) `skip` says to, keeping the order of the others.
    pub(crate) fn drop_from(
        &mut self,
        from: usize,
        addrs: &mut KVec<u64>,
        mut skip: impl FnMut(u64) -> bool,
    ) {
        let mut kept = from;
        for i in from..self.0.len() {
            if skip(addrs[i]) {
                // SAFETY: The entry holds a reference (type invariant), dropped once
                // here and then no longer an entry.
                unsafe { ffi::ckpt_pages_put(&mut self.0[i], 1, self.1) };
            } else {
                self.0[kept] = self.0[i];
                addrs[kept] = addrs[i];
                kept += 1;
            }
        }
        self.0.truncate(kept);
        addrs.truncate(kept);
    }

    fn room(&self) -> usize {
        self.0.capacity() - self.0.len()
    }

    /// Number of pages held.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Hands over the pages held, leaving this empty with as much room as before.
    pub(crate) fn take(&mut self) -> Result<Self> {
        let room = KVec::with_capacity(self.0.capacity(), GFP_KERNEL)?;
        Ok(Self(
            core::mem::replace(&mut self.0, room),
            core::mem::take(&mut self.1),
        ))
    }

    /// Copies page `i` into `dst` (its first [`image::PAGE_SIZE`] bytes).
    ///
    /// The page may be written at the same time (memory shared with a process that runs,
    /// I/O in flight): it is read through a raw pointer, never as a `&[u8]`, as
    /// `kernel::page::Page::read_raw` does, and the copy is what callers hash and write.
    pub(crate) fn copy_page(&self, i: usize, dst: &mut [u8]) {
        let dst = &mut dst[..image::PAGE_SIZE];
        // SAFETY: We hold a reference on the page (type invariant).
        unsafe { sys::mm::copy_from_page(self.0[i].cast(), dst) }
    }

    /// Copies page `i` into `dst` (its first [`image::PAGE_SIZE`] bytes, which need
    /// not be initialized; all are written), as [`HeldPages::copy_page`].
    pub(crate) fn copy_page_uninit(&self, i: usize, dst: &mut [core::mem::MaybeUninit<u8>]) {
        // SAFETY: We hold a reference on the page (type invariant).
        unsafe { sys::mm::copy_whole_page(self.0[i].cast(), dst) }
    }

    /// Copies page `i` into `dst` (its first [`image::PAGE_SIZE`] bytes, which need
    /// not be initialized; all are written) and feeds the copy to `h`, in one pass
    /// (see [`sys::mm::copy_hash_page`]).
    pub(crate) fn copy_hash_page(
        &self,
        i: usize,
        dst: &mut [core::mem::MaybeUninit<u8>],
        h: &mut image::Hasher,
    ) {
        // SAFETY: We hold a reference on the page (type invariant).
        unsafe { sys::mm::copy_hash_page(self.0[i].cast(), dst, h) }
    }

    /// Feeds every page in turn to `h`, read in place word by word (see
    /// [`sys::mm::hash_page`]: never viewed as a slice, no copy).
    pub(crate) fn hash_all(&self, h: &mut image::Hasher) {
        for &p in self.0.iter() {
            // SAFETY: We hold a reference on the page (type invariant).
            unsafe { sys::mm::hash_page(p.cast(), h) }
        }
    }

    /// Feeds pages `from..to` in turn to `h`, as [`HeldPages::hash_all`] does.
    pub(crate) fn hash_range(&self, from: usize, to: usize, h: &mut image::Hasher) {
        for &p in &self.0[from..to] {
            // SAFETY: We hold a reference on the page (type invariant).
            unsafe { sys::mm::hash_page(p.cast(), h) }
        }
    }

    /// Fills page `i` with the [`image::PAGE_SIZE`] bytes of `file` at `*pos` straight
    /// from its page cache and feeds them to `h` in the same pass (one copy, one read of
    /// each word: see [`sys::mm::copy_hash_between`]), then advances `*pos`. Returns
    /// false, having done nothing, where the page cache cannot be read in place (see
    /// `ckpt_file_cached_page`: not cached, past the end, a network file...): the
    /// caller then reads through the file.
    pub(crate) fn fill_hash_cached(
        &self,
        i: usize,
        file: &FileRef,
        pos: &mut i64,
        h: &mut image::Hasher,
    ) -> bool {
        const PAGE: usize = image::PAGE_SIZE;
        let off = (*pos as u64 as usize) & (PAGE - 1);
        let mode = crate::compat::param::<u32>(crate::module_parameters::cache_fill.value());
        if i >= self.0.len() || mode == 0 || (mode == 1 && off % 8 != 0) {
            return false;
        }
        let first = PAGE - off;
        // SAFETY: The file is valid; the shim returns a page with a reference, or null.
        let a = unsafe { ffi::ckpt_file_cached_page(file.ptr(), *pos, first as u32) };
        if a.is_null() {
            return false;
        }
        let mut b = core::ptr::null_mut();
        if off != 0 {
            // SAFETY: As above, for the page that follows.
            b = unsafe { ffi::ckpt_file_cached_page(file.ptr(), *pos + first as i64, off as u32) };
            if b.is_null() {
                let mut a = a;
                // SAFETY: We hold the reference the shim took on `a`, dropped once here.
                unsafe { ffi::ckpt_pages_put(&mut a, 1, false) };
                return false;
            }
        }
        let dst = self.0[i];
        let mut pages = [a, b];
        let n = if off != 0 { 2 } else { 1 };
        if a == dst || b == dst {
            // The restarted process maps the image file itself, there: through the file.
            // SAFETY: We hold the references the shim took, dropped once here.
            unsafe { ffi::ckpt_pages_put(pages.as_mut_ptr(), n, false) };
            return false;
        }
        if off % 8 != 0 {
            // SAFETY: `a` and `b` are page-cache pages we hold references on; `dst` is a
            // page of the restarted process we hold (type invariant), distinct from
            // both; `off` is below `PAGE` and not a multiple of 8.
            unsafe { sys::mm::copy_hash_shifted(a.cast(), b.cast(), off, dst.cast(), h) };
        } else {
            // SAFETY: `a` and `b` are page-cache pages we hold references on; `dst` is a
            // page of the restarted process we hold (type invariant), distinct from
            // both; the offsets and lengths are multiples of 8 within a page:
            // `off..PAGE` of `a` to `0..first` of `dst`, `0..off` of `b` to
            // `first..PAGE`.
            unsafe {
                sys::mm::copy_hash_between(a.cast(), off, dst.cast(), 0, first, h);
                if off != 0 {
                    sys::mm::copy_hash_between(b.cast(), 0, dst.cast(), first, off, h);
                }
            }
        }
        // SAFETY: We hold the references the shim took, dropped once here.
        unsafe { ffi::ckpt_pages_put(pages.as_mut_ptr(), n, false) };
        *pos += PAGE as i64;
        true
    }

    /// Drops every reference.
    pub(crate) fn clear(&mut self) {
        // SAFETY: We hold a reference (or a pin) on each page; they are dropped once, here.
        unsafe { ffi::ckpt_pages_put(self.0.as_mut_ptr(), self.0.len() as u32, self.1) };
        self.0.clear();
        self.1 = false;
    }
}

// SAFETY: The references a `HeldPages` holds are not tied to the thread that took them:
// the pages can be read and the references dropped from any thread (a work item).
unsafe impl Send for HeldPages {}

// SAFETY: Shared references only read the list of pages, and reach the pages themselves
// through raw pointers only (volatile or page-copy accesses), never as slices: pages of
// user memory, which others may write meanwhile (see `HeldPages::copy_page`). Two threads
// may copy from, or fill (`HeldPages::fill_hash_cached`), different pages of one list
// at once; the same page at once only as another process of the user could write it.
unsafe impl Sync for HeldPages {}

impl Drop for HeldPages {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A counted reference to a `struct file`: the kernel crate's [`ARef<File>`], with the
/// shim's operations on files as methods.
#[derive(Clone)]
pub(crate) struct FileRef(ARef<File>);

impl FileRef {
    /// The credentials it was opened with (`f_cred`); its opener's supplementary
    /// groups are put in `groups`; `E2BIG` if there are more than `max`.
    pub(crate) fn opener_creds(&self, groups: &mut KVec<u32>, max: usize) -> Result<CredsRaw> {
        sys::cred::of_file(&self.0, groups, max)
    }

    /// Takes over a file reference the C shim took (`get_file`).
    ///
    /// # Safety
    ///
    /// `p` is null or a `struct file` pointer whose reference the caller owns and
    /// gives to the result.
    pub(crate) unsafe fn from_owned(p: *mut c_void) -> Option<Self> {
        let p = NonNull::new(p.cast::<File>())?;
        // SAFETY: The caller gives us its reference on the live file `p`.
        Some(Self(unsafe { ARef::from_raw(p) }))
    }
}

impl FileRef {
    /// Takes over a reference the shim took on file `p` (none for null).
    ///
    /// # Safety
    ///
    /// `p` is null or a `struct file` on which the caller owns a reference, which the
    /// result owns from then on.
    unsafe fn from_counted(p: *mut c_void) -> Option<Self> {
        // SAFETY: `File` is a transparent wrapper of `struct file`, and the reference
        // passes to the `ARef` (the function's contract).
        NonNull::new(p.cast::<File>()).map(|f| Self(unsafe { ARef::from_raw(f) }))
    }

    fn ptr(&self) -> *mut c_void {
        self.0.as_ptr().cast()
    }

    /// Whether it is a regular file (read at any offset, where a pipe's reads consume).
    pub(crate) fn is_regular(&self) -> bool {
        // SAFETY: The file is live (we hold a reference), and so is its inode, whose
        // type never changes.
        let mode = unsafe { (*(*self.0.as_ptr()).f_inode).i_mode };
        u32::from(mode) & bindings::S_IFMT == bindings::S_IFREG
    }

    /// Adds seals to a memfd of [`memfd_new`], as `fcntl(F_ADD_SEALS)` does: only the
    /// seals the kernel defines; `F_SEAL_EXEC` on an executable file implies the write
    /// seals (`memfd_add_seals()`).
    pub(crate) fn seal(&self, seals: u32) -> Result {
        use bindings::{
            F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
        };
        const WRITES: u32 = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
        if seals & !(F_SEAL_SEAL | F_SEAL_EXEC | WRITES) != 0 {
            return Err(EINVAL);
        }
        let mut seals = seals;
        if seals & F_SEAL_EXEC != 0 && sys::file::inode_mode(&self.0) & 0o111 != 0 {
            seals |= WRITES;
        }
        // SAFETY: The file is valid.
        errno(unsafe { ffi::ckpt_memfd_seal(self.ptr(), seals) }).map(|_| ())
    }

    /// Writes all of `buf` at `pos` (not at the file position).
    pub(crate) fn write_at(&self, buf: &[u8], pos: i64) -> Result {
        sys::file::write_at(&self.0, buf, pos)
    }

    /// The caller's `fd`.
    pub(crate) fn fd(fd: i32) -> Result<Self> {
        sys::file::fget(fd).map(Self)
    }

    /// As [`FileRef::fd`], but an `O_PATH` file too.
    pub(crate) fn fd_raw(fd: i32) -> Result<Self> {
        sys::file::fget_raw(fd).map(Self)
    }

    /// Opens `path` (NUL-terminated) with the caller's rights.
    pub(crate) fn open(path: &[u8], flags: u32) -> Result<Self> {
        sys::file::open(path, flags).map(Self)
    }

    /// The pseudo-terminal pair this file is an end of, if it is one.
    pub(crate) fn pty(&self) -> Option<PtyInfo> {
        let mut pi = PtyInfo::default();
        // SAFETY: The file is valid; `pi` is a valid out pointer.
        (unsafe { ffi::ckpt_file_pty(self.ptr(), &mut pi) } == 1).then_some(pi)
    }

    /// The bytes waiting to be read at this pseudo-terminal end (which [`Self::pty`]
    /// found to be one, with an `input_mode`), read out into `buf` and given back to
    /// the terminal in the same order: how many, and in canonical mode how many line
    /// ends it wrote to `ends` ([`crate::image::PtyInput`]). `EOPNOTSUPP` if the end's
    /// mode does not allow it, `EBUSY` if more kept coming than `buf` holds.
    pub(crate) fn pty_take_input(
        &self,
        buf: &mut [u8],
        ends: &mut [u32],
    ) -> Result<(usize, usize)> {
        let cap = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let max = u32::try_from(ends.len()).map_err(|_| EINVAL)?;
        let mut nends = 0u32;
        // SAFETY: The file is valid and a pty end (`ckpt_file_pty()` said so);
        // `buf` is valid for writes of `cap` bytes, `ends` of `max` line ends.
        let n = unsafe {
            ffi::ckpt_pty_take_input(
                self.ptr(),
                buf.as_mut_ptr(),
                cap,
                ends.as_mut_ptr(),
                max,
                &mut nends,
            )
        };
        Ok((errno(n)? as usize, (nends as usize).min(ends.len())))
    }

    /// Gives the master end of this pseudo-terminal master (`slave`: its slave) the
    /// bytes of a [`crate::image::PtyInput`] in `mode`, which must be the end's.
    pub(crate) fn pty_give_input(
        &self,
        slave: bool,
        mode: u8,
        data: &[u8],
        ends: &[u32],
    ) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        let nends = u32::try_from(ends.len()).map_err(|_| EINVAL)?;
        // SAFETY: The file is valid and a pty master (the caller checked); `data` and
        // `ends` are valid for reads of their lengths.
        errno(unsafe {
            ffi::ckpt_pty_give_input(
                self.ptr(),
                slave,
                i32::from(mode),
                data.as_ptr(),
                len,
                ends.as_ptr(),
                nends,
            )
        })
        .map(|_| ())
    }

    /// Whether the caller's credentials let it open this file again with `flags` as an
    /// open by its path would: `may_open()`'s rules and `inode_permission()` through
    /// the mount's idmap (the LSMs' inode hooks judge too); search permission on the
    /// directories of a path is not judged here.
    pub(crate) fn may_reopen(&self, flags: u32) -> Result {
        sys::file::may_reopen(&self.0, flags)
    }

    /// A new open file description of this file with `flags` and the caller's
    /// credentials; with `check`, only if the caller may open the file so.
    pub(crate) fn reopen(&self, flags: u32, check: bool) -> Result<Self> {
        sys::file::reopen(&self.0, flags, check).map(Self)
    }

    /// Opens `path` (NUL-terminated) read-only as `execve()` opens a program: with
    /// execute permission, not read permission; to map it
    /// ([`crate::access::may_map_exec_only`] decides when).
    pub(crate) fn open_exec(path: &[u8]) -> Result<Self> {
        if path.last() != Some(&0) {
            return Err(EINVAL);
        }
        let mut err = 0;
        // SAFETY: `path` is NUL-terminated; a non-null result carries a reference.
        let f = unsafe { ffi::ckpt_open_exec_file(path.as_ptr(), &mut err) };
        // SAFETY: A non-null `f` carries a reference, which the `FileRef` owns.
        unsafe { FileRef::from_counted(f) }.ok_or_else(|| Error::from_errno(err))
    }

    /// A new unnamed regular file (`O_TMPFILE`) in directory `dir` (NUL-terminated),
    /// open for reading and writing, with exactly `mode`.
    pub(crate) fn tmpfile(dir: &[u8], mode: u32) -> Result<Self> {
        if dir.last() != Some(&0) {
            return Err(EINVAL);
        }
        let mut err = 0;
        // SAFETY: `dir` is NUL-terminated; a non-null result carries a reference.
        let f = unsafe { ffi::ckpt_open_tmpfile(dir.as_ptr(), mode, &mut err) };
        // SAFETY: A non-null `f` carries a reference, which the `FileRef` owns.
        unsafe { FileRef::from_counted(f) }.ok_or_else(|| Error::from_errno(err))
    }

    /// Sets the mode bits (`07777`) of the file's inode, as `fchmod(2)` does.
    pub(crate) fn chmod(&self, mode: u32) -> Result {
        sys::file::chmod(&self.0, mode)
    }

    /// Gives the file's inode an owner.
    pub(crate) fn chown(&self, uid: u32, gid: u32) -> Result {
        sys::file::chown(&self.0, uid, gid)
    }

    /// Sets the file's size.
    pub(crate) fn truncate(&self, size: u64) -> Result {
        sys::file::truncate(&self.0, size)
    }

    /// The first range `[data, hole)` (byte offsets) at or after `from` that may hold
    /// data (`SEEK_DATA`, then `SEEK_HOLE`); `None` past the last data. A filesystem
    /// that does not track holes reports the whole file as data. Moves the file
    /// position: only for a file of ckpt's own ([`FileRef::reopen`]).
    pub(crate) fn data_from(&self, from: u64) -> Result<Option<(u64, u64)>> {
        let seek = |pos: u64, whence: u32| -> Result<Option<u64>> {
            // SAFETY: The file is valid (type invariant); vfs_llseek() takes the
            // locks it needs and checks `whence` and `pos` itself.
            let r = unsafe {
                bindings::vfs_llseek(
                    self.0.as_ptr().cast::<bindings::file>(),
                    pos as bindings::loff_t,
                    whence as i32,
                )
            };
            match r {
                r if r == -(bindings::ENXIO as bindings::loff_t) => Ok(None),
                r if r < 0 => Err(Error::from_errno(r as i32)),
                r => Ok(Some(r as u64)),
            }
        };
        let Some(data) = seek(from, bindings::SEEK_DATA)? else {
            return Ok(None);
        };
        // Data ends at a hole at the latest at the end of the file.
        let hole = seek(data, bindings::SEEK_HOLE)?.ok_or(EIO)?;
        Ok(Some((data, hole.max(data))))
    }

    /// Sets the file position.
    pub(crate) fn seek(&self, pos: i64) -> Result {
        sys::file::seek(&self.0, pos)
    }

    /// Reads into `buf` at `*pos` until it is full or the file ends; returns the length.
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
        sys::file::read_at(&self.0, buf, pos)
    }

    /// Reads whole pages at `*pos` straight into `pages` (pages of a user address space
    /// held by [`cur::hold_pages`]); returns the bytes read, fewer only at the end of the
    /// file.
    /// Only the pages of `pages` from entry `from` on are read into.
    pub(crate) fn read_pages_from(
        &self,
        pages: &HeldPages,
        from: usize,
        pos: &mut i64,
    ) -> Result<usize> {
        let Some(n) = pages.len().checked_sub(from) else {
            return Err(EINVAL);
        };
        // SAFETY: The file is valid; `pages` holds references on its `len` pages, of
        // which the `n` from entry `from` on are passed.
        let n = unsafe {
            ffi::ckpt_file_read_pages(self.ptr(), pages.0.as_ptr().add(from), n as u32, pos)
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// Sets its modification time (`utimensat(2)`'s rules), leaving the access time.
    pub(crate) fn set_mtime(&self, mtime_ns: i64) -> Result {
        sys::file::set_mtime(&self.0, mtime_ns)
    }

    /// Sets the `fcntl(F_SETFL)` part of the open flags.
    pub(crate) fn set_flags(&self, flags: u32) {
        sys::file::set_flags(&self.0, flags)
    }

    /// Whether it is a file of the procfs of the caller's pid namespace (whose
    /// pids are the ones the caller sees).
    pub(crate) fn proc_own_ns(&self) -> bool {
        // SAFETY: The file is valid.
        unsafe { ffi::ckpt_file_proc_own_ns(self.ptr()) }
    }

    /// Whether it is open for reading.
    pub(crate) fn readable(&self) -> bool {
        sys::file::readable(&self.0)
    }

    /// The inode's number and device (as an inotify file's fdinfo shows them), and
    /// whether the caller may read it (what `inotify_add_watch` asks: `Err` if not).
    pub(crate) fn watch_facts(&self) -> (u64, u32, Result) {
        sys::file::watch_facts(&self.0)
    }

    fn raw(&self) -> *mut c_void {
        self.ptr()
    }

    /// The `struct file` pointer, for the other thin wrappers (`objects/locks.rs`).
    pub(crate) fn as_raw(&self) -> *mut c_void {
        self.ptr()
    }

    /// The caller's `fd`, which must be open for writing.
    pub(crate) fn writable_fd(fd: i32) -> Result<Self> {
        sys::file::fget_writable(fd).map(Self)
    }

    /// Identity of the open file description.
    pub(crate) fn key(&self) -> u64 {
        self.ptr() as u64
    }

    /// The `struct file` pointer, for the shims of other objects (valid while `self` is).
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr()
    }

    /// What the file is; its path goes to `path`, whose length is returned.
    pub(crate) fn info(&self, path: &mut [u8]) -> Result<(FileInfo, usize)> {
        let mut fi = FileInfo::default();
        // SAFETY: The file is valid; `fi` and `path` are valid for writing.
        errno(unsafe { ffi::ckpt_file_info(self.ptr(), &mut fi, path.as_mut_ptr(), len32(path)) })?;
        fi.kind = fk::of(fi.mode, fi.fs_magic);
        Ok((fi, cstr_len(path)))
    }

    /// Another name (hard link) of its inode, reachable through its mount, in `path`;
    /// returns its length (`ENOENT`: none).
    pub(crate) fn other_name(&self, path: &mut [u8]) -> Result<usize> {
        // SAFETY: The file is valid; `path` is valid for writing.
        errno(unsafe { ffi::ckpt_file_other_name(self.ptr(), path.as_mut_ptr(), len32(path)) })?;
        Ok(cstr_len(path))
    }

    /// What this symbolic link (opened with `O_PATH`) points to, in `buf`; returns
    /// its length.
    pub(crate) fn link_target(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: The file is valid; `buf` is valid for writing.
        let n =
            errno(unsafe { ffi::ckpt_file_link_target(self.ptr(), buf.as_mut_ptr(), len32(buf)) })?;
        Ok(n as usize)
    }

    /// Copies the bytes buffered in this pipe into `buf`; returns how many.
    pub(crate) fn pipe_peek(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: The file is valid; `buf` is writable for its length.
        Ok(
            errno(unsafe { ffi::ckpt_pipe_peek(self.ptr(), buf.as_mut_ptr(), len32(buf)) })?
                as usize,
        )
    }

    /// Writes all of `buf` at the file's position.
    pub(crate) fn write_all(&self, buf: &[u8]) -> Result {
        sys::file::write_all(&self.0, buf)
    }
}

/// Threads held at a safe point (see `ckpt_quiesce_*` in the shim).
///
/// # Invariants
///
/// `self.0` is a quiesce object from `ckpt_quiesce_start` not yet released.
pub(crate) struct Quiesce(NonNull<c_void>);

impl Quiesce {
    /// Asks every thread in `threads` to park at its next safe point.
    pub(crate) fn start(threads: &[TaskRef]) -> Result<Self> {
        let mut raw: KVec<*mut c_void> = KVec::with_capacity(threads.len(), GFP_KERNEL)?;
        for t in threads {
            raw.push(t.ptr(), GFP_KERNEL)?;
        }
        // SAFETY: `raw` holds `threads.len()` valid task pointers (kept alive by `threads`).
        let q = unsafe { ffi::ckpt_quiesce_start(raw.as_ptr(), raw.len() as u32) };
        kernel::error::from_err_ptr(q)?;
        NonNull::new(q).map(Self).ok_or(ENOMEM)
    }

    /// Waits until all threads are parked (or stopped).
    pub(crate) fn wait(&self, timeout_ms: u32) -> Result {
        // SAFETY: The object is valid (type invariant).
        errno(unsafe { ffi::ckpt_quiesce_wait(self.0.as_ptr(), timeout_ms) }).map(|_| ())
    }

    /// Whether every thread is still parked and none is dying.
    pub(crate) fn intact(&self) -> bool {
        // SAFETY: The object is valid.
        unsafe { ffi::ckpt_quiesce_intact(self.0.as_ptr()) }
    }

    /// Whether a thread that was in a group stop when the wait ended has run since
    /// (continued by `SIGCONT`): what was read of it may not fit together.
    pub(crate) fn moved(&self) -> bool {
        // SAFETY: The object is valid.
        unsafe { ffi::ckpt_quiesce_moved(self.0.as_ptr()) }
    }
}

impl Quiesce {
    /// Pins `t` at its safe point while its state is read; fails with `ESRCH` if it is
    /// leaving (killed).
    pub(crate) fn hold(&self, t: &TaskRef) -> Result<Held<'_>> {
        // SAFETY: The object and the task are valid.
        errno(unsafe { ffi::ckpt_quiesce_hold(self.0.as_ptr(), t.ptr()) })?;
        // INVARIANT: The hold succeeded, so the lock is held.
        Ok(Held(self))
    }
}

/// A thread pinned by [`Quiesce::hold`].
///
/// # Invariants
///
/// The quiesce object's lock is held by this thread.
pub(crate) struct Held<'a>(&'a Quiesce);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock.
        unsafe { ffi::ckpt_quiesce_unhold((self.0).0.as_ptr()) };
    }
}

impl Drop for Quiesce {
    fn drop(&mut self) {
        // SAFETY: The object is valid and released exactly once, here.
        unsafe { ffi::ckpt_quiesce_release(self.0.as_ptr()) };
    }
}

/// The user state features this CPU has enabled (XCR0).
pub(crate) fn cpu_xfeatures() -> u64 {
    // SAFETY: No preconditions.
    unsafe { ffi::ckpt_cpu_xfeatures() }
}

/// The caller's pid (tgid) in its pid namespace.
pub(crate) fn current_pid() -> i32 {
    sys::task::current_pid()
}

/// Wall-clock time in ns.
pub(crate) fn now_ns() -> u64 {
    use kernel::time::{ClockSource, RealTime};
    RealTime::ktime_get() as u64
}

/// `uname -r` and the host name, into the buffers; returns their lengths.
pub(crate) fn uts(release: &mut [u8; 65], node: &mut [u8; 65]) -> (usize, usize) {
    // SAFETY: Both buffers are writable for 65 bytes.
    unsafe { ffi::ckpt_uts(release.as_mut_ptr(), 65, node.as_mut_ptr(), 65) };
    (cstr_len(release), cstr_len(node))
}

/// Pins the module while a `/dev/ckpt` file is open.
pub(crate) fn module_get() -> bool {
    sys::module::get()
}

/// Unpins the module (one call per successful [`module_get`]).
pub(crate) fn module_put() {
    sys::module::put()
}

/// While alive, the caller acts with the credentials of whoever opened the file of a
/// read or write ([`as_opener`]).
pub(crate) struct AsOpener(*const c_void);

/// Makes the opener's credentials (`file->f_cred`) the caller's until the guard is
/// dropped: the shell interface judges a read or write by who opened `/dev/ckpt`,
/// never by who reads or writes (a set-uid program handed the fd).
pub(crate) fn as_opener(kiocb: *mut bindings::kiocb) -> AsOpener {
    // SAFETY: `kiocb` is the live request of the read or write being served, and its
    // file (which holds `f_cred`) stays open for the whole call.
    AsOpener(unsafe { ffi::ckpt_override_creds(kiocb.cast()) })
}

impl Drop for AsOpener {
    fn drop(&mut self) {
        // SAFETY: The credentials `ckpt_override_creds` replaced, on the same task.
        unsafe { ffi::ckpt_revert_creds(self.0) }
    }
}

/// The module parameter `unprivileged` (root may change it at run time).
pub(crate) fn unprivileged_mode() -> bool {
    // SAFETY: No preconditions.
    unsafe { ffi::ckpt_unprivileged_mode() }
}

/// Who opened `/dev/ckpt`: what [`crate::access::may_use_device`] asks about.
pub(crate) enum Opener {
    /// The file of an ioctl.
    File(*mut bindings::file),
    /// The request of a read or write.
    Kiocb(*mut bindings::kiocb),
}

impl Opener {
    /// Whether the opener had capability `cap` in the initial user namespace
    /// (`file_ns_capable()`: judged by the file's `f_cred`, not by the caller).
    pub(crate) fn capable(&self, cap: u32) -> bool {
        let f = match *self {
            Self::File(f) => f,
            // SAFETY: The live request of the read or write being served holds its file.
            Self::Kiocb(k) => unsafe { (*k).ki_filp },
        };
        // SAFETY: `f` is open for the whole call; `init_user_ns` is static.
        unsafe { bindings::file_ns_capable(f, &raw mut bindings::init_user_ns, cap as i32) }
    }
}

/// `override_creds(new)` (a static inline in C).
///
/// # Safety
///
/// `new` is a prepared credential set of the calling task, kept alive until the
/// matching [`ffi_revert_image_creds`] on the same task.
pub(crate) unsafe fn ffi_override_image_creds(new: *const bindings::cred) -> *const bindings::cred {
    // SAFETY: As the caller promised.
    unsafe { ffi::ckpt_cur_override_image_creds(new.cast()).cast() }
}

/// `put_cred(revert_creds(old))`.
///
/// # Safety
///
/// `old` was returned by [`ffi_override_image_creds`] on the calling task, once.
pub(crate) unsafe fn ffi_revert_image_creds(old: *const bindings::cred) {
    // SAFETY: As the caller promised.
    unsafe { ffi::ckpt_cur_revert_image_creds(old.cast()) }
}

/// Drops the process and thread keyrings of `new` (the caller's, copied by
/// `prepare_creds`).
///
/// # Safety
///
/// `new` is a credential set from `prepare_creds` on the calling task, not yet
/// installed or shared.
pub(crate) unsafe fn ffi_drop_private_keyrings(new: *mut bindings::cred) {
    // SAFETY: As the caller promised.
    unsafe { ffi::ckpt_cred_drop_private_keyrings(new.cast()) }
}

/// The caller's effective uid in the initial user namespace.
pub(crate) fn current_global_euid() -> u32 {
    sys::cred::current_global_euid()
}

/// Whether the caller is being killed.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: No preconditions.
    unsafe { ffi::ckpt_fatal_signal_pending() }
}

/// C's view of the struct layouts the module relies on.
#[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
pub(crate) fn c_layout() -> Layout {
    let mut l = Layout::default();
    // SAFETY: `l` is a valid out pointer.
    unsafe { ffi::ckpt_layout(&mut l) };
    l
}

/// A new shared anonymous memory object of `size` bytes (what `MAP_SHARED |
/// MAP_ANONYMOUS` creates).
pub(crate) fn shmem_new(size: u64) -> Result<FileRef> {
    let mut err = 0;
    // SAFETY: `err` is a valid out pointer.
    let f = unsafe { ffi::ckpt_shmem_new(size, &mut err) };
    // The shim returns a new reference, which `FileRef` owns.
    // SAFETY: A non-null `f` carries a reference, which the `FileRef` owns.
    unsafe { FileRef::from_counted(f) }.ok_or_else(|| Error::from_errno(err))
}

/// A new memfd named `name` (NUL-terminated, without the `memfd:` prefix) of `size`
/// bytes and mode `mode`, open for sealing until [`FileRef::seal`].
pub(crate) fn memfd_new(name: &CStr, size: u64, mode: u32) -> Result<FileRef> {
    let mut err = 0;
    // SAFETY: `name` is NUL-terminated; `err` is a valid out pointer.
    let f = unsafe { ffi::ckpt_memfd_new(name.as_ptr().cast(), size, mode, &mut err) };
    // A non-null result carries a reference, which `FileRef` owns.
    // SAFETY: A non-null `f` carries a reference, which the `FileRef` owns.
    unsafe { FileRef::from_counted(f) }.ok_or_else(|| Error::from_errno(err))
}

/// `vm.memfd_noexec` as `memfd_create(2)` applies it to the caller (the strictest of its
/// pid namespaces'): 0 executable memfds allowed, 1 not by default, 2 never.
pub(crate) fn memfd_noexec_scope() -> i32 {
    // SAFETY: Reads the caller's pid namespaces; no arguments.
    unsafe { ffi::ckpt_memfd_noexec_scope() }
}

/// Whether `rseq(2)` would accept an area of `len` bytes at `ptr`: its length and
/// alignment rules (`rseq_length_valid()`).
pub(crate) fn rseq_area_valid(ptr: u64, len: u32) -> bool {
    // SAFETY: Pure arithmetic on the arguments.
    unsafe { ffi::ckpt_rseq_area_valid(ptr, len) }
}

/// Gives the CPU away if something else should run (`cond_resched()`): long loops
/// over an image's records call it.
pub(crate) fn cond_resched() {
    // SAFETY: Called in process context, without spinlocks held (Rust code here
    // holds none across it).
    unsafe { ffi::ckpt_cond_resched() }
}

/// Operations on the calling task, for restart. Each changes the caller; the
/// functions that only check say so.
pub(crate) mod cur {
    use super::*;

    /// The caller's thread count, whether it leads its group, and whether a task
    /// outside its group uses its address space. More users than threads (a
    /// `/proc` reader's passing reference, a sharer) is judged by looking at the
    /// tasks.
    pub(crate) fn threads() -> Result<(u32, bool, bool)> {
        let (n, leader, more_users) = sys::task::current_threads()?;
        // SAFETY: No preconditions; reads current's mm and the task list under RCU.
        Ok((
            n,
            leader,
            more_users && unsafe { ffi::ckpt_cur_mm_shared() },
        ))
    }

    /// The file of the caller's attachment of SysV shared memory segment `shmid`.
    pub(crate) fn sysv_file(shmid: u64) -> Option<FileRef> {
        // SAFETY: No preconditions; a non-null result carries a reference, which
        // `FileRef` owns.
        unsafe { FileRef::from_counted(ffi::ckpt_cur_sysv_file(shmid)) }
    }

    /// Where the caller's special mapping `name` (NUL-terminated) is.
    pub(crate) fn special(name: &CStr) -> Option<(u64, u64)> {
        let (mut s, mut e) = (0, 0);
        // SAFETY: `name` is NUL-terminated; the outputs are valid.
        let r = unsafe { ffi::ckpt_cur_special(name.as_ptr().cast(), &mut s, &mut e) };
        (r == 0).then_some((s, e))
    }

    /// Unmaps everything but SysV shared memory attachments (see [`sysv_ranges`]),
    /// unless `specials` the vDSO and its data pages, and the mappings that are
    /// exactly one of `keep` (ascending) and that [`anon_ranges`] lists.
    pub(crate) fn unmap_all(specials: bool, keep: &[(u64, u64)]) -> Result {
        // Tuples have no guaranteed layout: the pairs go flat.
        let mut flat = KVec::with_capacity(keep.len() * 2, GFP_KERNEL)?;
        for &(s, e) in keep {
            flat.push(s, GFP_KERNEL)?;
            flat.push(e, GFP_KERNEL)?;
        }
        // SAFETY: `flat` holds `keep.len()` pairs.
        errno(unsafe { ffi::ckpt_cur_unmap_all(specials, flat.as_ptr(), keep.len() as u32) })
            .map(|_| ())
    }

    /// The caller's plain private anonymous mappings, which a restart may take over
    /// with their pages: (start, end, prot, image vmflag bits), ascending.
    pub(crate) fn anon_ranges() -> Result<KVec<(u64, u64, u32, u32)>> {
        let mut max = 256usize;
        loop {
            let mut raw = KVVec::from_elem(0u64, 4 * max, GFP_KERNEL)?;
            // SAFETY: `raw` has room for `max` quadruples.
            let r = unsafe { ffi::ckpt_cur_anon_ranges(raw.as_mut_ptr(), max as u32) };
            if r == -(kernel::bindings::E2BIG as isize) && max < (1 << 20) {
                max *= 4;
                continue;
            }
            let n = errno(r as i32)? as usize;
            let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
            for i in 0..n {
                out.push(
                    (
                        raw[4 * i],
                        raw[4 * i + 1],
                        vm_prot(raw[4 * i + 2]),
                        raw[4 * i + 3] as u32,
                    ),
                    GFP_KERNEL,
                )?;
            }
            return Ok(out);
        }
    }

    /// Gives the caller's page at `addr` the contents `data` (one page): keeps the
    /// anonymous page there if it holds them already (shared copy-on-write with the
    /// process the caller was forked from), else writes them (`force`: through a
    /// read-only private mapping). `true`: kept.
    pub(crate) fn keep_or_fill(addr: u64, data: &[u8], force: bool) -> Result<bool> {
        if data.len() != image::PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `data` is readable for one page.
        let r = unsafe { ffi::ckpt_cur_keep_or_fill(addr, data.as_ptr(), force) };
        Ok(errno(r)? == 1)
    }

    /// Drops the pages of `[start, end)` of one of the caller's [`anon_ranges`], as
    /// `madvise(MADV_DONTNEED)` would.
    pub(crate) fn zap(start: u64, end: u64) -> Result {
        // SAFETY: No preconditions (the caller's own mm, under its mmap lock).
        errno(unsafe { ffi::ckpt_cur_zap(start, end) }).map(|_| ())
    }

    /// The caller's SysV shared memory attachments (start, end), at most 64.
    pub(crate) fn sysv_ranges() -> Result<KVec<(u64, u64)>> {
        let mut raw = [0u64; 128];
        // SAFETY: `raw` has room for 64 pairs.
        let n = errno(unsafe { ffi::ckpt_cur_sysv_ranges(raw.as_mut_ptr(), 64) })? as usize;
        let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            out.push((raw[2 * i], raw[2 * i + 1]), GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// Unmaps `[start, end)`.
    pub(crate) fn munmap(start: u64, end: u64) -> Result {
        sys::mm::munmap(start, end - start)
    }

    /// Gives the caller's mapping that is exactly `[start, end)` the [`adv`]
    /// properties `what`, as `madvise` would.
    pub(crate) fn vma_advise(start: u64, end: u64, what: u32) -> Result {
        use bindings::{VM_DONTCOPY, VM_DONTDUMP, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_WIPEONFORK};
        // The VMA flags `madvise` sets and clears for each advice.
        let (mut set, mut clear) = (0, 0);
        if what & adv::DONTFORK != 0 {
            set |= VM_DONTCOPY;
        }
        if what & adv::DONTDUMP != 0 {
            set |= VM_DONTDUMP;
        }
        // Private anonymous memory only (the image's validation says so).
        if what & adv::WIPEONFORK != 0 {
            set |= VM_WIPEONFORK;
        }
        if what & adv::HUGEPAGE != 0 {
            set |= VM_HUGEPAGE;
            clear |= VM_NOHUGEPAGE;
        } else if what & adv::NOHUGEPAGE != 0 {
            set |= VM_NOHUGEPAGE;
            clear |= VM_HUGEPAGE;
        }
        // SAFETY: No preconditions (the caller's own mm, under its mmap lock).
        let cadv = what & (adv::SEQUENTIAL | adv::RANDOM | adv::MERGEABLE);
        // SAFETY: No preconditions (the caller's own mm, under its mmap lock).
        errno(unsafe { ffi::ckpt_cur_vma_advise(start, end, set as u64, clear as u64, cadv) })
            .map(|_| ())
    }

    /// `vm_mmap` at exactly `addr`.
    pub(crate) fn mmap(
        file: Option<&FileRef>,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        off: u64,
    ) -> Result {
        sys::mm::mmap_at(file.map(|f| &*f.0), addr, len, prot, flags, off)
    }

    /// Sets the mm layout fields and auxv.
    pub(crate) fn set_layout(layout: &[u64; 11], auxv: &[u64]) -> Result {
        // SAFETY: Both arrays are readable for the lengths passed.
        errno(unsafe {
            ffi::ckpt_cur_set_layout(layout.as_ptr(), auxv.as_ptr(), auxv.len() as u32)
        })
        .map(|_| ())
    }

    /// Fills whole pages of the caller's memory from `addr` (page-aligned) with `data`,
    /// whose length is a multiple of the page size (`force`: through read-only private
    /// mappings).
    pub(crate) fn fill_pages(addr: u64, data: &[u8], force: bool) -> Result {
        if data.len() % image::PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let n = u32::try_from(data.len() / image::PAGE_SIZE).map_err(|_| EINVAL)?;
        // SAFETY: `data` is readable for `n` pages.
        errno(unsafe { ffi::ckpt_cur_fill_pages(addr, data.as_ptr(), n, force) }).map(|_| ())
    }

    /// Takes references on the `n` pages of the caller's memory from `addr`
    /// (page-aligned) into `pages`, faulted in for writing (`force`: through read-only
    /// private mappings, into a copy as ptrace writes).
    pub(crate) fn hold_pages(addr: u64, n: usize, force: bool, pages: &mut HeldPages) -> Result {
        let me = kernel::current!();
        hold_pages_of(me.mm().ok_or(EFAULT)?, addr, n, force, pages)
    }

    /// [`hold_pages`] of the memory `mm` (the caller's, or, from another CPU working
    /// for it, one the caller uses meanwhile: see [`crate::sys::cpus::both`]).
    pub(crate) fn hold_pages_of(
        mm: &kernel::mm::MmWithUser,
        addr: u64,
        n: usize,
        force: bool,
        pages: &mut HeldPages,
    ) -> Result {
        // Pins and plain references are not mixed in one set.
        if n > pages.room() || (pages.len() != 0 && !pages.1) {
            return Err(EINVAL);
        }
        // SAFETY: `mm` has users (the type's invariant) for the call; `pages` has room
        // for `n` more entries, which the shim initialises, each with a reference now
        // owned by `pages`, if it succeeds (and then only).
        let r = unsafe {
            ffi::ckpt_mm_hold_pages(
                mm.as_raw().cast(),
                addr,
                n as u32,
                force,
                pages.0.as_mut_ptr().add(pages.0.len()),
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r as i32));
        }
        // SAFETY: The shim initialised `n <= room` entries, each pinned.
        unsafe { pages.0.inc_len(n) };
        pages.1 = true;
        Ok(())
    }

    /// Closes every fd.
    pub(crate) fn close_fds() {
        sys::file::close_all();
    }

    /// Reserves the lowest free fd (the kernel crate's reservation: given back when
    /// dropped unused, see [`install_fd`]).
    pub(crate) fn reserve_fd(cloexec: bool) -> Result<FileDescriptorReservation> {
        FileDescriptorReservation::get_unused_fd_flags(if cloexec {
            bindings::O_CLOEXEC
        } else {
            0
        })
    }

    /// Installs `f` (a new reference) at the reserved fd `r`.
    pub(crate) fn install_fd(r: FileDescriptorReservation, f: &FileRef) {
        r.fd_install(f.0.clone())
    }

    /// Sets all signal dispositions (but `SIGKILL`'s and `SIGSTOP`'s), each only with
    /// what `sigaction(2)` could have set: its flags (never `SA_IMMUTABLE`), a mask
    /// without `SIGKILL` and `SIGSTOP`.
    pub(crate) fn set_sigactions(sa: &[SigActionRaw]) -> Result {
        let sa: &[SigActionRaw; bindings::_NSIG as usize] = sa.try_into().map_err(|_| EINVAL)?;
        let unblockable = (1u64 << (bindings::SIGKILL - 1)) | (1u64 << (bindings::SIGSTOP - 1));
        let mut allowed = *sa;
        for a in allowed.iter_mut() {
            a.flags &= u64::from(bindings::UAPI_SA_FLAGS);
            a.mask &= !unblockable;
        }
        // SAFETY: `allowed` has `_NSIG` entries.
        unsafe { ffi::ckpt_cur_set_sigactions(allowed.as_ptr()) };
        Ok(())
    }

    /// Sets the blocked mask.
    pub(crate) fn set_blocked(mask: u64) {
        sys::signal::set_blocked(mask)
    }

    /// Sets the alternate signal stack.
    pub(crate) fn set_altstack(sp: u64, size: u64, flags: u32) {
        sys::signal::set_altstack(sp, size, flags)
    }

    /// Arms `ITIMER_REAL`.
    pub(crate) fn set_itimer_real(value_ns: u64, interval_ns: u64) {
        // SAFETY: No preconditions.
        unsafe { ffi::ckpt_cur_set_itimer_real(value_ns, interval_ns) }
    }

    /// Queues a saved signal (48-byte siginfo) for the caller: with its sender uid if
    /// `keep_sender(si_code)` says so, else as sent by the caller's uid. `EINVAL` for
    /// a bad signal number or `SIGKILL` (`keep_sender` is not asked then).
    pub(crate) fn queue_signal(info: &[u8], keep_sender: impl FnOnce(i32) -> bool) -> Result {
        let word = |at: usize| info.get(at..at + 4).and_then(|b| b.try_into().ok());
        let (Some(signo), Some(code)) = (word(0), word(8)) else {
            return Err(EINVAL);
        };
        let (signo, code) = (i32::from_ne_bytes(signo), i32::from_ne_bytes(code));
        let Ok(info) = info.try_into() else {
            return Err(EINVAL);
        };
        if !(1..=bindings::_NSIG as i32).contains(&signo) || signo == bindings::SIGKILL as i32 {
            return Err(EINVAL);
        }
        sys::signal::queue(info, keep_sender(code))
    }

    /// The XSAVE features the caller's process may use: dynamic ones (AMX tile data)
    /// only with `arch_prctl(ARCH_REQ_XCOMP_PERM)`.
    pub(crate) fn permitted_xfeatures() -> u64 {
        // SAFETY: No preconditions.
        unsafe { ffi::ckpt_cur_permitted_xfeatures() }
    }

    /// The caller's credentials (its subjective ones, without groups) and which of
    /// `c`'s ids are not the caller's ([`differ`] bits); `EINVAL` if an id of
    /// `c` has no mapping in the caller's user namespace, or for too many groups.
    pub(crate) fn creds_differ(c: &CredsRaw, groups: &[u32]) -> Result<(CredsRaw, u32)> {
        if groups.len() != c.ngroups as usize {
            return Err(EINVAL);
        }
        sys::cred::differ_from_current(c, groups)
    }

    /// Whether the caller has capability `cap` in its own user namespace
    /// (`ns_capable()`: audited, and marks the caller as having used a privilege).
    pub(crate) fn ns_capable(cap: u32) -> bool {
        sys::cred::ns_capable(cap)
    }

    /// Whether the caller has capability `cap` in the initial user namespace
    /// (`capable()`: audited, and marks the caller as having used a privilege).
    pub(crate) fn capable(cap: u32) -> bool {
        // SAFETY: No preconditions; the kernel checks the capability number.
        unsafe { bindings::capable(cap as i32) }
    }

    /// Makes `c` the caller's credentials, its groups too if `set_groups`, and sets
    /// no_new_privs if `nnp`. The caller decided it may
    /// ([`crate::access::may_grant_creds`]).
    pub(crate) fn commit_creds(
        c: &CredsRaw,
        groups: &[u32],
        set_groups: bool,
        nnp: bool,
    ) -> Result {
        if groups.len() != c.ngroups as usize {
            return Err(EINVAL);
        }
        sys::cred::commit(c, set_groups.then_some(groups), nnp)
    }

    /// Makes `c` (and its groups if `set_groups`) the caller's subjective credentials
    /// until the guard is dropped: what opens and permission checks use. The caller
    /// decided it may take them on ([`crate::access::may_grant_creds`]).
    pub(crate) fn as_image(c: &CredsRaw, groups: &[u32], set_groups: bool) -> Result<AsImage> {
        if groups.len() != c.ngroups as usize {
            return Err(EINVAL);
        }
        sys::cred::as_image(c, set_groups.then_some(groups))
    }

    pub(crate) use sys::cred::AsImage;

    /// Sets the soft resource limits to `lim`'s; the caller decided each is within
    /// its hard limit (`EPERM` if one is above it by now; nothing is set then).
    pub(crate) fn set_soft_rlimits(lim: &[(u64, u64); 16]) -> Result {
        let mut soft = [0u64; 16];
        for i in 0..soft.len() {
            soft[i] = lim[i].0;
        }
        // SAFETY: `soft` has 16 words.
        errno(unsafe { ffi::ckpt_cur_set_soft_rlimits(soft.as_ptr()) }).map(|_| ())
    }

    /// Sets comm, personality, umask, the child tid pointers and the robust list.
    pub(crate) fn set_misc(
        comm: &[u8],
        personality: u32,
        umask: u32,
        tids: (u64, u64),
        robust: u64,
    ) {
        let mut c = [0u8; 16];
        let n = comm.len().min(15);
        c[..n].copy_from_slice(&comm[..n]);
        // SAFETY: `c` is NUL-terminated.
        unsafe { ffi::ckpt_cur_set_misc(c.as_ptr(), personality, umask, tids.0, tids.1, robust) }
    }

    /// Sets the user registers the ioctl returns to.
    pub(crate) fn set_regs(regs: &[u64; NREGS]) {
        // SAFETY: `regs` has `NREGS` words.
        unsafe { ffi::ckpt_cur_set_regs(regs.as_ptr()) }
    }

    /// This CPU's uabi XSAVE size and features.
    pub(crate) fn xstate_size() -> Result<(usize, u64)> {
        let mut f = 0;
        // SAFETY: `f` is a valid out pointer.
        let n = errno(unsafe { ffi::ckpt_cur_xstate_size(&mut f) })?;
        Ok((n as usize, f))
    }

    /// Writes a signal frame for the user state `regs` + `xs` (XSAVE area), blocked
    /// mask and alternate stack below `regs`' stack pointer; returns the stack
    /// pointer and the address of a `syscall` instruction (in the vDSO, else in an
    /// executable mapping) where the ioctl returns with `rax` = `rt_sigreturn`,
    /// which loads that state.
    pub(crate) fn sigframe(
        regs: &[u64; NREGS],
        xs: &[u8],
        blocked: u64,
        altstack: (u64, u64, u32),
    ) -> Result<(u64, u64)> {
        let sys = user_syscall().ok_or(ENOENT)?;
        let (mut sp, mut ip) = (0, 0);
        // SAFETY: `regs` has NREGS words, `xs` is readable for its length, the outputs
        // are valid.
        errno(unsafe {
            ffi::ckpt_cur_sigframe(
                regs.as_ptr(),
                xs.as_ptr(),
                len32(xs),
                blocked,
                altstack.0,
                altstack.1,
                altstack.2,
                sys,
                &mut sp,
                &mut ip,
            )
        })?;
        Ok((sp, ip))
    }

    /// The first `syscall` instruction (`0f 05`) in `[s, e)` of the caller's memory,
    /// reading at most `*budget` pages (counted down); `None` if there is none or a
    /// page cannot be read.
    fn find_syscall(s: u64, e: u64, buf: &mut [u8], budget: &mut u32) -> Option<u64> {
        use kernel::uaccess::{UserPtr, UserSlice};
        let page = kernel::page::PAGE_SIZE;
        let mut a = s;
        while a < e && *budget > 0 {
            let user = UserSlice::new(UserPtr::from_addr(a as usize), page);
            user.reader().read_slice(&mut buf[..page]).ok()?;
            if let Some(i) = buf[..page].windows(2).position(|w| w == [0x0f, 0x05]) {
                return Some(a + i as u64);
            }
            a += page as u64;
            *budget -= 1;
        }
        None
    }

    /// A `syscall` instruction the caller can execute: in its vDSO, or where a process
    /// has none (unmapped, or the vDSO proxy is off and it was never there), in its
    /// first 32 readable executable mappings (its libc's syscall wrappers); at most
    /// 4096 pages are read. The CPU decodes from the instruction pointer, so the two
    /// bytes may be part of a longer instruction: `rt_sigreturn` replaces every
    /// register anyway.
    fn user_syscall() -> Option<u64> {
        const SCAN_VMAS: usize = 32;
        let mut budget = 4096u32;
        let mut buf = KVec::from_elem(0u8, kernel::page::PAGE_SIZE, GFP_KERNEL).ok()?;
        if let Some((s, e)) = special(c"[vdso]") {
            if let Some(a) = find_syscall(s, e, &mut buf, &mut budget) {
                return Some(a);
            }
        }
        let mut r = [(0u64, 0u64); SCAN_VMAS];
        let mut n = 0;
        {
            let me = kernel::current!();
            let mm = me.mm()?;
            let _lock = mm.mmap_read_lock();
            let mut addr = 0;
            while n < SCAN_VMAS {
                // SAFETY: The mmap lock is held (`_lock`); `find_vma` wants no more.
                let vma = unsafe { bindings::find_vma(mm.as_raw(), addr) };
                if vma.is_null() {
                    break;
                }
                // SAFETY: `vma` is valid while the mmap lock is held, longer than `v` is used.
                let v = unsafe { kernel::mm::virt::VmaRef::from_raw(vma) };
                let f = v.flags();
                let rx = bindings::VM_EXEC | bindings::VM_READ;
                if f & rx == rx && f & (bindings::VM_IO | bindings::VM_PFNMAP) == 0 {
                    r[n] = (v.start() as u64, v.end() as u64);
                    n += 1;
                }
                addr = v.end();
            }
        }
        // Read without the mmap lock: a fault takes it.
        r[..n]
            .iter()
            .find_map(|&(s, e)| find_syscall(s, e, &mut buf, &mut budget))
    }

    /// Loads the caller's user FPU state.
    pub(crate) fn set_xstate(area: &[u8]) -> Result {
        // SAFETY: `area` is readable for its length.
        errno(unsafe { ffi::ckpt_cur_set_xstate(area.as_ptr(), len32(area)) }).map(|_| ())
    }

    /// Drops the caller's rseq registration and registers `ptr` (if not 0) instead.
    pub(crate) fn set_rseq(ptr: u64, len: u32, sig: u32) -> Result {
        // SAFETY: No preconditions; the shim checks the user area.
        errno(unsafe { ffi::ckpt_cur_set_rseq(ptr, len, sig) }).map(|_| ())
    }

    /// Kills the caller (it never returns to user mode).
    pub(crate) fn kill() {
        sys::task::kill_current()
    }
}

// ---------------------------------------------------------------------------
// Task attributes, SIGIO owners, the executable.

/// `struct ckpt_task_attrs`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TaskAttrsRaw {
    pub(crate) policy: u32,
    pub(crate) reset_on_fork: u32,
    pub(crate) nice: i32,
    pub(crate) rt_priority: u32,
    pub(crate) pdeath_signal: u32,
    pub(crate) oom_score_adj: i32,
    pub(crate) dumpable: u32,
    pub(crate) thp_disable: u32,
    pub(crate) subreaper: u32,
    pub(crate) membarrier: u32,
    pub(crate) stop_signal: u32,
}

/// The `MEMBARRIER_CMD_REGISTER_*` commands (uapi `linux/membarrier.h`, as
/// `MEMBARRIER_CMD_GET_REGISTRATIONS` reports them) a process with the mm membarrier
/// state `state` (`MEMBARRIER_STATE_*`) registered: a registration counts when it is
/// made or under way (`_READY`).
fn membarrier_registrations(state: u32) -> u32 {
    use bindings::*;
    const MAP: [(u32, u32); 4] = [
        (
            MEMBARRIER_STATE_GLOBAL_EXPEDITED | MEMBARRIER_STATE_GLOBAL_EXPEDITED_READY,
            1 << 2, // MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
        ),
        (
            MEMBARRIER_STATE_PRIVATE_EXPEDITED | MEMBARRIER_STATE_PRIVATE_EXPEDITED_READY,
            1 << 4, // MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
        ),
        (
            MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE
                | MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE_READY,
            1 << 6, // MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
        ),
        (
            MEMBARRIER_STATE_PRIVATE_EXPEDITED_RSEQ | MEMBARRIER_STATE_PRIVATE_EXPEDITED_RSEQ_READY,
            1 << 8, // MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
        ),
    ];
    MAP.iter()
        .filter(|(st, _)| state & st != 0)
        .fold(0, |r, (_, cmd)| r | cmd)
}

impl TaskRef {
    /// Its scheduling, prctl and job-control attributes (thread and process ones); the
    /// task must be quiescent.
    pub(crate) fn attrs(&self) -> Result<TaskAttrsRaw> {
        let mut a = TaskAttrsRaw::default();
        // SAFETY: The task is valid; `a` is a valid out pointer of the C layout.
        errno(unsafe { ffi::ckpt_task_attrs(self.ptr(), &mut a) })?;
        a.membarrier = membarrier_registrations(a.membarrier);
        Ok(a)
    }
}

impl FileRef {
    /// Its `SIGIO` owner `(kind, nr, signum)` (kind 0 thread, 1 process, 2 process
    /// group; nr -1: not visible in the caller's pid namespace), if it has an owner or
    /// an `F_SETSIG` signal.
    pub(crate) fn owner(&self) -> Option<(u32, i32, u32)> {
        let (mut ty, mut n, mut s) = (0, 0, 0);
        // SAFETY: The file is valid; the outputs are valid pointers.
        let some = unsafe { ffi::ckpt_file_owner(self.raw(), &mut ty, &mut n, &mut s) };
        let kind = match ty {
            bindings::pid_type_PIDTYPE_PID => 0,
            bindings::pid_type_PIDTYPE_PGID => 2,
            _ => 1,
        };
        some.then_some((kind, n, s))
    }

    /// Makes `nr` (of `kind`, as [`Self::owner`] says; 0: none) its `SIGIO` owner, on
    /// behalf of the caller's credentials, with `signum` as its `F_SETSIG` signal.
    pub(crate) fn set_owner(&self, kind: u32, nr: i32, signum: u32) -> Result {
        sys::file::set_owner(&self.0, kind, nr, signum)
    }

    /// Sets `O_ASYNC` as `fcntl(F_SETFL)` does, for the file installed at `fd`.
    pub(crate) fn set_async(&self, fd: u32) -> Result {
        sys::file::set_async(&self.0, fd)
    }
}

/// Attribute changes to the calling task.
pub(crate) mod cur_attrs {
    use super::*;

    /// Whether `nr` is a thread (kind 0) of the caller's process, the process (1) or
    /// its process group (2).
    pub(crate) fn owns(kind: u32, nr: i32) -> bool {
        sys::task::current_owns(kind, nr)
    }

    /// Makes the program at `path` (NUL-terminated) the caller's executable, as exec
    /// opens it; a set-user- or set-group-ID program only if `allow_setid` (else
    /// `EPERM`).
    pub(crate) fn set_exe(path: &[u8], allow_setid: bool) -> Result {
        if path.last() != Some(&0) {
            return Err(EINVAL);
        }
        // SAFETY: `path` is NUL-terminated.
        errno(unsafe { ffi::ckpt_cur_set_exe(path.as_ptr(), allow_setid) }).map(|_| ())
    }

    /// Sets the caller's parent-death signal and its (process's) dumpable mode.
    pub(crate) fn set_exec_attrs(pdeath_signal: u32, dumpable: u32) {
        // SAFETY: No preconditions; the shim ignores a bad dumpable mode.
        unsafe { ffi::ckpt_cur_set_exec_attrs(pdeath_signal, dumpable) }
    }

    /// Sends stop signal `sig` to the caller's process.
    pub(crate) fn stop_group(sig: i32) -> Result {
        sys::task::signal_own_group(sig)
    }

    /// Whether the caller's process group is orphaned (POSIX): the kernel discards
    /// the terminal stop signals sent to it.
    pub(crate) fn pgrp_orphaned() -> bool {
        // SAFETY: No preconditions.
        unsafe { ffi::ckpt_cur_pgrp_orphaned() }
    }

    /// Recomputes whether the caller has a signal to handle before user mode.
    pub(crate) fn recalc_sigpending() {
        // SAFETY: No preconditions.
        unsafe { ffi::ckpt_cur_recalc_sigpending() }
    }
}

// ---------------------------------------------------------------------------
// Event-loop files (eventfd, timerfd, signalfd, epoll, inotify, fanotify).

mod ffi_event {
    use super::*;
    use core::ffi::c_long;

    extern "C" {
        pub(super) fn ckpt_file_fdinfo(f: *mut c_void, buf: *mut u8, len: u32) -> c_long;
        pub(super) fn ckpt_file_is_eventfd(f: *mut c_void) -> bool;
        pub(super) fn ckpt_file_poll(f: *mut c_void) -> u32;
        pub(super) fn ckpt_file_watched(f: *mut c_void) -> bool;
        pub(super) fn ckpt_epoll_entries_on(
            f: *mut c_void,
            ep: *mut c_void,
            out: *mut EpollEntry,
            max: u32,
        ) -> i32;
        pub(super) fn ckpt_epoll_signalfd_wakes(
            f: *mut c_void,
            ep: *mut c_void,
            fd: i32,
            t: *mut c_void,
        ) -> i32;
        pub(super) fn ckpt_clock_ns(clockid: i32) -> u64;
        pub(super) fn ckpt_fanotify_group(
            f: *mut c_void,
            flags: *mut u32,
            answer_pending: *mut bool,
        ) -> i32;
        pub(super) fn ckpt_task_sb_path(t: *mut c_void, dev: u32, buf: *mut u8, buflen: u32)
            -> i32;
        pub(super) fn ckpt_task_mount_mark_path(
            t: *mut c_void,
            f: *mut c_void,
            mask: u32,
            ignore: u32,
            nth: u32,
            buf: *mut u8,
            buflen: u32,
        ) -> i32;
        pub(super) fn ckpt_fanotify_marks_mount_of(
            f: *mut c_void,
            on: *mut c_void,
            mask: u32,
            ignore: u32,
        ) -> i32;
        pub(super) fn ckpt_task_handle_path(
            t: *mut c_void,
            dev: u32,
            ino: u64,
            ty: i32,
            fh: *const u8,
            fhlen: u32,
            buf: *mut u8,
            buflen: u32,
        ) -> i32;
    }
}

impl TaskRef {
    /// The path of the inode with number `ino` on device `dev` that file handle
    /// `fh` (of type `ty`) names, found through the mounts of the task's root,
    /// working directory and open files, into `path`; returns its length.
    pub(crate) fn handle_path(
        &self,
        dev: u32,
        ino: u64,
        ty: i32,
        fh: &[u8],
        path: &mut [u8],
    ) -> Result<usize> {
        // SAFETY: The task is valid; `fh` is readable and `path` writable for their
        // lengths.
        errno(unsafe {
            ffi_event::ckpt_task_handle_path(
                self.ptr(),
                dev,
                ino,
                ty,
                fh.as_ptr(),
                len32(fh),
                path.as_mut_ptr(),
                len32(path),
            )
        })?;
        Ok(cstr_len(path))
    }

    /// The path of the root of the `nth` (from 0) mount, among those of the
    /// task's root, working directory and open files, that fanotify file `f`'s
    /// group marks with `mask` and `ignore` (a mount mark), into `path`; returns
    /// its length. `ENOENT`: no such mount; `ESTALE`: no path names it (one is
    /// mounted over it); `E2BIG`: too many marked mounts.
    pub(crate) fn mount_mark_path(
        &self,
        f: &FileRef,
        mask: u32,
        ignore: u32,
        nth: u32,
        path: &mut [u8],
    ) -> Result<usize> {
        // SAFETY: The task and the file are valid; `path` is writable for its length.
        errno(unsafe {
            ffi_event::ckpt_task_mount_mark_path(
                self.ptr(),
                f.raw(),
                mask,
                ignore,
                nth,
                path.as_mut_ptr(),
                len32(path),
            )
        })?;
        Ok(cstr_len(path))
    }

    /// A path on the filesystem of device `dev` (the root of a mount of it, or a
    /// directory or file on it) found through the mounts of the task's root,
    /// working directory and open files, into `path`; returns its length.
    pub(crate) fn sb_path(&self, dev: u32, path: &mut [u8]) -> Result<usize> {
        // SAFETY: The task is valid; `path` is writable for its length.
        errno(unsafe {
            ffi_event::ckpt_task_sb_path(self.ptr(), dev, path.as_mut_ptr(), len32(path))
        })?;
        Ok(cstr_len(path))
    }
}

/// An entry of an epoll set, seen from the file it watches: its key's fd
/// number, its events and data (the shim's `struct ckpt_epoll_entry`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct EpollEntry {
    pub(crate) data: u64,
    pub(crate) events: u32,
    pub(crate) fd: i32,
}

/// Largest fdinfo text read (an epoll set of some 40 000 watched files).
const MAX_FDINFO: usize = 4 << 20;

impl FileRef {
    /// What the file's `show_fdinfo` prints (the lines of `/proc/PID/fdinfo/N`
    /// after `pos`, `flags`, `mnt_id` and `ino`).
    pub(crate) fn fdinfo(&self) -> Result<KVVec<u8>> {
        let mut len = 4096;
        loop {
            let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
            // SAFETY: The file is valid; `buf` is writable for its length.
            let n =
                unsafe { ffi_event::ckpt_file_fdinfo(self.raw(), buf.as_mut_ptr(), len32(&buf)) }
                    as isize;
            if n == EOVERFLOW.to_errno() as isize && len < MAX_FDINFO {
                len *= 4;
                continue;
            }
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            buf.truncate(n as usize);
            return Ok(buf);
        }
    }

    /// Whether it is an eventfd.
    pub(crate) fn is_eventfd(&self) -> bool {
        // SAFETY: The file is valid.
        unsafe { ffi_event::ckpt_file_is_eventfd(self.raw()) }
    }

    /// The events (`EPOLL*`) it reports now.
    pub(crate) fn poll_now(&self) -> u32 {
        // SAFETY: The file is valid.
        unsafe { ffi_event::ckpt_file_poll(self.raw()) }
    }

    /// Whether some epoll instance watches it.
    pub(crate) fn watched(&self) -> bool {
        // SAFETY: The file is valid.
        unsafe { ffi_event::ckpt_file_watched(self.raw()) }
    }

    /// The entries of epoll file `ep` that watch this file, each with its key's fd
    /// number (which need not hold this file any more). `EPROTO` if the
    /// kernel's entries are not laid out as the shim reads them.
    pub(crate) fn epoll_entries_on(&self, ep: &FileRef) -> Result<KVec<EpollEntry>> {
        let mut max = 8usize;
        loop {
            let mut out: KVec<EpollEntry> = KVec::with_capacity(max, GFP_KERNEL)?;
            // SAFETY: Both files are valid; `out` has room for `max` entries, of
            // which the shim writes the first `n` (at most `max`).
            let n = errno(unsafe {
                ffi_event::ckpt_epoll_entries_on(self.raw(), ep.raw(), out.as_mut_ptr(), max as u32)
            })? as usize;
            if n <= max {
                // SAFETY: The shim wrote the first `n` entries.
                unsafe { out.inc_len(n) };
                return Ok(out);
            }
            // More were added meanwhile (by a process outside the tree): again.
            max = n;
        }
    }

    /// Of a signalfd: whether the entry of epoll file `ep` keyed by `fd` that
    /// watches it is woken by the signals of task `t`'s process (it hangs on
    /// the signal handlers of the process that added it). `ENOENT` if there
    /// is no such entry, `EPROTO` if the kernel's entries are not laid out as
    /// the shim reads them.
    pub(crate) fn epoll_signalfd_wakes(&self, ep: &FileRef, fd: i32, t: &TaskRef) -> Result<bool> {
        // SAFETY: Both files and the task are valid.
        let r = errno(unsafe {
            ffi_event::ckpt_epoll_signalfd_wakes(self.raw(), ep.raw(), fd, t.ptr())
        })?;
        Ok(r == 1)
    }

    /// Of a fanotify file: whether its group marks the mount `on` is on with
    /// `mask` and `ignore` (a mount mark). `EINVAL` if it is no fanotify file.
    pub(crate) fn fanotify_marks_mount_of(
        &self,
        on: &FileRef,
        mask: u32,
        ignore: u32,
    ) -> Result<bool> {
        // SAFETY: Both files are valid.
        Ok(errno(unsafe {
            ffi_event::ckpt_fanotify_marks_mount_of(self.raw(), on.raw(), mask, ignore)
        })? != 0)
    }

    /// Of a fanotify file: its group's `fanotify_init()` flags with the
    /// kernel's internal ones (`FANOTIFY_UNPRIV`), and whether a permission
    /// event read from it waits for its answer. `EINVAL` if it is no fanotify file.
    pub(crate) fn fanotify_group(&self) -> Result<(u32, bool)> {
        let (mut flags, mut pending) = (0u32, false);
        // SAFETY: The file is valid; both pointers are to locals written once.
        errno(unsafe { ffi_event::ckpt_fanotify_group(self.raw(), &mut flags, &mut pending) })?;
        Ok((flags, pending))
    }
}

/// The time of clock `clockid` (a timerfd's) in ns.
pub(crate) fn clock_ns(clockid: i32) -> u64 {
    // SAFETY: No preconditions; the shim reads the realtime clock for others.
    unsafe { ffi_event::ckpt_clock_ns(clockid) }
}

// ---------------------------------------------------------------------------
// Pidfds.

/// `CKPT_PIDFD_*`: [`PidfdInfo::flags`].
pub(crate) mod pidfd_flags {
    /// `PIDFD_THREAD`: the pidfd refers to one thread.
    pub(crate) const THREAD: u32 = 1 << 0;
    /// `O_NONBLOCK` (`PIDFD_NONBLOCK`).
    pub(crate) const NONBLOCK: u32 = 1 << 1;
    /// Made by `clone3(CLONE_PIDFD_AUTOKILL)`: closing it kills the process.
    pub(crate) const AUTOKILL: u32 = 1 << 2;
    /// The task has exited (a zombie).
    pub(crate) const EXITED: u32 = 1 << 3;
    /// And so has its whole process (a zombie process).
    pub(crate) const GROUP_DEAD: u32 = 1 << 4;
}

/// `struct ckpt_pidfd_info`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PidfdInfo {
    /// The task's pid in the caller's pid namespace (0: reaped, or not visible).
    pub(crate) pid: i32,
    /// Its process's.
    pub(crate) tgid: i32,
    /// [`pidfd_flags`].
    pub(crate) flags: u32,
}

mod ffi_pidfd {
    use super::*;

    extern "C" {
        pub(super) fn ckpt_file_pidfd(f: *mut c_void, pi: *mut PidfdInfo) -> i32;
    }
}

impl FileRef {
    /// What this pidfd refers to; `EBADF` if it is not a pidfd.
    pub(crate) fn pidfd(&self) -> Result<PidfdInfo> {
        let mut pi = PidfdInfo::default();
        // SAFETY: The file is valid; `pi` is valid for writing.
        errno(unsafe { ffi_pidfd::ckpt_file_pidfd(self.raw(), &mut pi) })?;
        Ok(pi)
    }
}
