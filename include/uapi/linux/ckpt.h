/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ckpt: in-kernel checkpoint/restart -- ioctl ABI of /dev/ckpt.
 *
 * The Rust mirror of this header is rust/uapi.rs; a test in tools/ckpt
 * compiles this file and checks that both agree.  The image stream written
 * by CKPT_IOC_CHECKPOINT is described in Documentation/ckpt/image-format.rst.
 */
#ifndef _UAPI_LINUX_CKPT_H
#define _UAPI_LINUX_CKPT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CKPT_ABI_VERSION	1
#define CKPT_IOC_MAGIC		0xC7

/* struct ckpt_version: what this module speaks. */
struct ckpt_version {
	__u32 abi_version;	/* CKPT_ABI_VERSION */
	__u16 image_major;	/* image format major version written */
	__u16 image_minor;	/* image format minor version written */
	__u64 features;		/* CKPT_FEAT_* */
	char release[64];	/* module version string, NUL-terminated */
};

#define CKPT_FEAT_CHECKPOINT	(1ULL << 0)
#define CKPT_FEAT_RESTART	(1ULL << 1)
#define CKPT_FEAT_SHELL		(1ULL << 2)
#define CKPT_FEAT_LSM_WATCH	(1ULL << 3)
#define CKPT_FEAT_STATUS_FD	(1ULL << 4)	/* CKPT_RESTART_STATUS_FD is understood */
#define CKPT_FEAT_VDSO_PROXY	(1ULL << 5)	/* vDSO proxy; CKPT_RESTART_VDSO_PROXY is understood */
#define CKPT_FEAT_SYSV		(1ULL << 6)	/* CKPT_CHECKPOINT_SYSV is understood */
#define CKPT_FEAT_HANDOVER	(1ULL << 9)	/* CKPT_IOC_HANDOVER is understood */

/* What to do with the target once its image is written. */
#define CKPT_CHECKPOINT_STOP	0		/* leave it stopped (SIGSTOP) */
#define CKPT_CHECKPOINT_RESUME	(1ULL << 0)	/* let it run on */
#define CKPT_CHECKPOINT_KILL	(1ULL << 1)	/* SIGKILL it */
#define CKPT_CHECKPOINT_TREE	(1ULL << 2)	/* the target and all its descendants */
#define CKPT_CHECKPOINT_SYSV	(1ULL << 3)	/* reserved[0]: the SysV IPC channel (a stream socket) */
#define CKPT_CHECKPOINT_TRACK	(1ULL << 4)	/* start dirty tracking (needs @incr) */
#define CKPT_CHECKPOINT_PARENT	(1ULL << 5)	/* only pages written since the parent (needs @incr) */
/* unix datagram sockets connected to a named socket outside: reconnected at restart */
#define CKPT_CHECKPOINT_EXTERNAL_UNIX	(1ULL << 6)
#define CKPT_CHECKPOINT_FLAGS	(CKPT_CHECKPOINT_RESUME | CKPT_CHECKPOINT_KILL | CKPT_CHECKPOINT_TREE | \
				 CKPT_CHECKPOINT_SYSV | CKPT_CHECKPOINT_TRACK | CKPT_CHECKPOINT_PARENT | \
				 CKPT_CHECKPOINT_EXTERNAL_UNIX)
/* The request the module writes on the SysV IPC channel starts with this. */
#define CKPT_SYSV_MAGIC		0x56535953	/* "SYSV" */

/*
 * CKPT_IOC_CHECKPOINT: like Linux-CR's sys_checkpoint(pid, fd, flags).
 * Quiesces every thread of @pid, writes its image to @fd (a file, pipe or
 * socket open for writing), then resumes, stops or kills it.  On success the
 * ioctl returns 0 and @bytes holds the image size.
 */
struct ckpt_checkpoint_args {
	__s32 pid;		/* in: target, in the caller's pid namespace */
	__s32 fd;		/* in: output */
	__u64 flags;		/* in: CKPT_CHECKPOINT_* */
	__u64 bytes;		/* out: bytes written */
	__u64 incr;		/* in: struct ckpt_incr * with TRACK or PARENT, else 0 */
	__u64 reserved[3];	/* must be zero (reserved[0]: see CKPT_CHECKPOINT_SYSV) */
};

/*
 * Incremental checkpoints (CKPT_CHECKPOINT_TRACK, CKPT_CHECKPOINT_PARENT): the
 * target's /proc files the kernel reads its soft-dirty bits from and clears
 * them through, and a scratch buffer for those scans.
 */
struct ckpt_incr {
	__u64 parent;		/* in, PARENT: the parent image's track id */
	__s32 pagemap_fd;	/* in: /proc/PID/pagemap, open for reading */
	__s32 clear_refs_fd;	/* in, TRACK: /proc/PID/clear_refs, open for writing; else -1 */
	__u64 path;		/* in, PARENT: the parent's path, recorded in the image */
	__u32 path_len;		/* in: its length (at most 4096) */
	__u32 pad;		/* must be zero */
	__u64 scratch;		/* in: scratch buffer for the scans */
	__u64 scratch_len;	/* in: its size, at least CKPT_INCR_SCRATCH_MIN */
	__u64 track_id;		/* out, TRACK: the new image's track id */
	__u64 reserved;		/* must be zero */
};

#define CKPT_INCR_SCRATCH_MIN	4096

/*
 * CKPT_IOC_CHECK: could @pid be checkpointed now?  Returns 0 and
 * @status = 0 if yes; otherwise @status is a positive errno and @reason a
 * NUL-terminated explanation naming the obstacle (e.g. "fd 3: socket").
 */
struct ckpt_check_args {
	__s32 pid;		/* in */
	__s32 status;		/* out: 0 or errno */
	__u64 flags;		/* in: 0, CKPT_CHECKPOINT_TREE, CKPT_CHECKPOINT_EXTERNAL_UNIX */
	__u64 reserved;		/* must be zero */
	char reason[240];	/* out */
};

/* Options of CKPT_IOC_RESTART. */
#define CKPT_RESTART_IGNORE_CHANGED	(1ULL << 0)	/* reopen files even if their size or mtime changed */
#define CKPT_RESTART_INHERIT_STDIO	(1ULL << 1)	/* the image's terminals become stdio[] */
#define CKPT_RESTART_STATUS_FD		(1ULL << 2)	/* report to @status_fd (below) */
#define CKPT_RESTART_VDSO_PROXY		(1ULL << 3)	/* a vDSO proxy even for the same vDSO */
#define CKPT_RESTART_FLAGS	(CKPT_RESTART_IGNORE_CHANGED | CKPT_RESTART_INHERIT_STDIO | \
				 CKPT_RESTART_STATUS_FD | CKPT_RESTART_VDSO_PROXY)

/*
 * With CKPT_RESTART_STATUS_FD, the module holds the file behind @status_fd (a
 * pipe's write end, say) open until the restored task is about to return to
 * its program, and if the restart fails after the point of no return it
 * first writes one report to it: the byte CKPT_STATUS_FAILED, one byte n,
 * then n bytes of text (the reason).  The reader sees end-of-file once every
 * task that passed it is done, either way.
 */
#define CKPT_STATUS_FAILED	'E'

/* A pipe the restarter created for one pipe object of the image. */
struct ckpt_restart_pipe {
	__u32 id;		/* pipe object id in the image */
	__s32 rfd;		/* read end, in the caller */
	__s32 wfd;		/* write end, in the caller */
	__u32 pad;		/* must be zero */
};

/*
 * A file the restarter made for one file of the image that only userspace can
 * create (a socket, an event fd, an epoll set, ...): the module checks that it
 * is of the image's kind and installs it in the image's place.
 */
struct ckpt_restart_file {
	__u32 id;		/* file (open file description) id in the image */
	__s32 fd;		/* the file, in the caller */
};

/*
 * The id of a ckpt_restart_file that is the directory the image's paths are
 * names in (the restarter's root before it entered a chroot'ed image's root).
 */
#define CKPT_RESTART_FILE_ROOT	0xffffffffU

/*
 * The id of a ckpt_restart_file that is a pidfd of a process the restarter
 * made with a pid that the image's unix sockets name as their connection's
 * maker (SO_PEERCRED), a process outside the image, and that has exited and
 * been reaped since: the pid, gone as that maker was (any number of them).
 */
#define CKPT_RESTART_FILE_PEER	0xfffffffeU

/*
 * CKPT_IOC_RESTART: like Linux-CR's sys_restart(): overlays the calling
 * task with task @task of the image read from @fd, "like exec".  Every
 * task of the image (each thread, each process of a tree; zombies excepted)
 * calls it, on the same open /dev/ckpt file: the caller must be a process
 * (or thread) with as many threads as the image's, already in the image's
 * working directory, with its vDSO where the image had it, and must pass a
 * fresh pipe for each pipe of the image (the ckpt tool does all this).  On
 * success the ioctl does not return to the caller: it returns into the
 * restored program, once every task of the image got there.  A failure
 * found before anything was changed returns -1 with errno set and @reason
 * filled; a failure after that kills every task of the restart (SIGKILL)
 * and is logged.
 */
struct ckpt_restart_args {
	__s32 fd;		/* in: the image */
	__u32 npipes;		/* in: entries at @pipes */
	__u64 flags;		/* in: CKPT_RESTART_* */
	__u64 pipes;		/* in: struct ckpt_restart_pipe[npipes] */
	__s32 stdio[3];		/* in: with INHERIT_STDIO: fds for the image's terminal fds 0-2 */
	__u32 pad;		/* must be zero */
	__s32 task;		/* in: pid/tid in the image of the task to become; 0: the root */
	__u32 pad2;		/* must be zero */
	__s32 status_fd;	/* in: with CKPT_RESTART_STATUS_FD, see above; else zero */
	__u32 pad3;		/* must be zero */
	__u64 files;		/* in: struct ckpt_restart_file[nfiles] */
	__u32 nfiles;		/* in: entries at @files */
	__u32 pad4;		/* must be zero */
	char reason[240];	/* out: why it failed */
};

/*
 * CKPT_IOC_HANDOVER: bytes kept across a kexec in memory the kernel
 * preserves for its successor (kexec handover, CONFIG_KEXEC_HANDOVER, on
 * when booted with kho=on), so that no disk is needed: the `ckpt handover`
 * commands put a packed set of images there before `ckpt kexec`, and take it
 * back in the next kernel, whose module found it at load.  Every op but
 * STATUS needs CAP_SYS_BOOT.  Every op fills @flags, @in_size, @out_size.
 *   STATUS   nothing else
 *   PUT      hands @len bytes at @buf to the next kernel, in place of what
 *            was put before, which a failed PUT leaves in place (EOPNOTSUPP
 *            without KHO; EEXIST when a set put by an earlier load of the
 *            module is still registered; E2BIG: too many folios for one
 *            header)
 *   GET      copies up to @len bytes of the incoming set from @offset to
 *            @buf; @done says how many (0 at the end; ENODATA: no set)
 *   RELEASE  frees the incoming set
 *   DROP     withdraws the outgoing set
 */
struct ckpt_handover_args {
	__u32 op;		/* in: CKPT_HANDOVER_* */
	__u32 flags;		/* out: CKPT_HANDOVER_ENABLED, CKPT_HANDOVER_KHO_BOOT */
	__u64 buf;		/* in: PUT, GET: user buffer */
	__u64 len;		/* in: PUT, GET: bytes at @buf */
	__u64 offset;		/* in: GET: where in the incoming set */
	__u64 in_size;		/* out: bytes the previous kernel handed over (0: none left) */
	__u64 out_size;		/* out: bytes put for the next kernel (0: none) */
	__u64 done;		/* out: GET: bytes copied */
	__u64 reserved[2];	/* must be zero */
};

#define CKPT_HANDOVER_STATUS	0
#define CKPT_HANDOVER_PUT	1
#define CKPT_HANDOVER_GET	2
#define CKPT_HANDOVER_RELEASE	3
#define CKPT_HANDOVER_DROP	4
#define CKPT_HANDOVER_ENABLED	(1U << 0)	/* KHO is on: PUT works */
#define CKPT_HANDOVER_KHO_BOOT	(1U << 1)	/* this kernel was booted by a kexec with KHO */

#define CKPT_IOC_VERSION	_IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)
#define CKPT_IOC_CHECKPOINT	_IOWR(CKPT_IOC_MAGIC, 0x01, struct ckpt_checkpoint_args)
#define CKPT_IOC_RESTART	_IOWR(CKPT_IOC_MAGIC, 0x02, struct ckpt_restart_args)
#define CKPT_IOC_CHECK		_IOWR(CKPT_IOC_MAGIC, 0x03, struct ckpt_check_args)
#define CKPT_IOC_HANDOVER	_IOWR(CKPT_IOC_MAGIC, 0x10, struct ckpt_handover_args)

#endif /* _UAPI_LINUX_CKPT_H */
