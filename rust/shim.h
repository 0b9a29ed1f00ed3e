/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt C shim: the kernel's inline helpers and macros that Rust cannot call
 * through kernel::bindings, each wrapped once.  Only scalars, plain structs
 * declared here and opaque pointers cross this boundary; rust/shim.rs is the
 * one Rust file that calls these functions.  Everything here uses EXPORTed
 * symbols only.
 */
#ifndef CKPT_SHIM_H
#define CKPT_SHIM_H

#include <linux/types.h>

struct task_struct;
struct mm_struct;
struct file;
struct page;
struct ckpt_quiesce;

/* ---- tasks ------------------------------------------------------------ */

#define CKPT_TI_KTHREAD		(1u << 0)
#define CKPT_TI_EXITING		(1u << 1)
#define CKPT_TI_PTRACED		(1u << 2)
#define CKPT_TI_ZOMBIE		(1u << 3)
#define CKPT_TI_LEADER		(1u << 4)
#define CKPT_TI_STOPPED		(1u << 5)
#define CKPT_TI_NO_NEW_PRIVS	(1u << 6)
#define CKPT_TI_FOREIGN_NS	(1u << 7)	/* not visible in caller's pid ns */

struct ckpt_task_info {
	s32 pid, tgid, ppid, pgid, sid;	/* in the caller's pid namespace */
	u32 flags;			/* CKPT_TI_* */
	s32 exit_signal, exit_code;
	u32 personality;
	u32 nr_threads;
	u64 set_child_tid, clear_child_tid, robust_list, robust_list_len;
	char comm[16];
	u64 files_key, mm_key;	/* identities of its fd table and address space */
};

void ckpt_task_info(struct task_struct *t, struct ckpt_task_info *ti);
/* ckpt_task_access_facts(): what the ptrace access rules look at. */
#define CKPT_AF_SAME_GROUP	(1u << 0)	/* t is in current's thread group */
#define CKPT_AF_IDS_MATCH	(1u << 1)	/* current's uid/gid are t's real, effective, saved */
#define CKPT_AF_PTRACE_CAP	(1u << 2)	/* CAP_SYS_PTRACE over t's user namespace */
#define CKPT_AF_DUMPABLE	(1u << 3)	/* t is dumpable by its owner */
#define CKPT_AF_PTRACE_CAP_EXEC	(1u << 4)	/* CAP_SYS_PTRACE over t's exec state's namespace */
#define CKPT_AF_SAME_USERNS	(1u << 5)	/* same user namespace */
#define CKPT_AF_CAPS_SUBSET	(1u << 6)	/* t's permitted caps within current's */
u32 ckpt_task_access_facts(struct task_struct *t);
int ckpt_task_attach_by_kernel(struct task_struct *t);
int ckpt_task_threads(struct task_struct *t, struct task_struct **out, u32 max);
bool ckpt_task_same_mntns(struct task_struct *t);
bool ckpt_task_fatal_pending(struct task_struct *t);

/* ---- quiescing ---------------------------------------------------------- */

struct ckpt_quiesce *ckpt_quiesce_start(struct task_struct **threads, u32 n);
int ckpt_quiesce_wait(struct ckpt_quiesce *q, u32 timeout_ms);
bool ckpt_quiesce_intact(struct ckpt_quiesce *q);
bool ckpt_quiesce_moved(struct ckpt_quiesce *q);
int ckpt_quiesce_hold(struct ckpt_quiesce *q, struct task_struct *t);
void ckpt_quiesce_unhold(struct ckpt_quiesce *q);
void ckpt_quiesce_release(struct ckpt_quiesce *q);

/* ---- CPU ------------------------------------------------------------- */

#define CKPT_NREGS 27
int ckpt_task_regs(struct task_struct *t, u64 *regs, bool *in_syscall);
int ckpt_xstate_size(struct task_struct *t);
int ckpt_task_xstate(struct task_struct *t, void *buf, u32 size);

/* ---- signals ---------------------------------------------------------- */

struct ckpt_sigaction {
	u64 handler, flags, restorer, mask;
};

struct ckpt_sigstate {
	u64 blocked;
	u64 pending;		/* thread-private pending set */
	u64 shared_pending;	/* process-wide pending set */
	u64 altstack_sp, altstack_size;
	u32 altstack_flags;
	u32 nr_queued;		/* thread queue entries copied */
	u32 nr_shared_queued;	/* shared queue entries copied */
	u32 overflow;		/* queues longer than the buffers */
	u64 real_value_ns, real_interval_ns;
	u64 virt_expires, virt_incr, prof_expires, prof_incr;
	u32 posix_timers;	/* timer_create() timers exist */
	u32 pad;
};

#define CKPT_SIGINFO_LEN 48
int ckpt_task_sigactions(struct task_struct *t, struct ckpt_sigaction *out);
int ckpt_task_sigstate(struct task_struct *t, struct ckpt_sigstate *st,
		       void *queued, u32 max_queued, void *shared, u32 max_shared);
int ckpt_task_rlimits(struct task_struct *t, u64 *out /* 2 * 16 */);

/* ---- credentials ------------------------------------------------------ */

struct ckpt_creds {
	u32 uid, euid, suid, fsuid;
	u32 gid, egid, sgid, fsgid;
	u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	u32 securebits;
	u32 ngroups;
};


/* ---- memory ----------------------------------------------------------- */

struct ckpt_mm_info {
	u64 layout[11];
	u64 auxv[64];
	u32 auxv_len;
	u32 map_count;
};

#define CKPT_VMA_ANON_VMA	(1u << 0)	/* has anonymous pages */
#define CKPT_VMA_SHMEM		(1u << 1)	/* shared anonymous (shmem, private inode) */
#define CKPT_VMA_SPECIAL	(1u << 2)	/* special mapping with a name (vdso, vvar) */
#define CKPT_VMA_PFNMAP		(1u << 3)	/* VM_PFNMAP/VM_IO/VM_MIXEDMAP: device memory */
#define CKPT_VMA_HUGETLB	(1u << 4)
#define CKPT_VMA_WIPEONFORK	(1u << 5)	/* MADV_WIPEONFORK */
#define CKPT_VMA_SEALED		(1u << 6)	/* mseal()ed */
#define CKPT_VMA_PKEY		(1u << 7)	/* a protection key other than 0 */
#define CKPT_VMA_SHADOW_STACK	(1u << 8)
#define CKPT_VMA_DROPPABLE	(1u << 9)	/* MAP_DROPPABLE */
#define CKPT_VMA_LOCKONFAULT	(1u << 10)	/* mlock2(MLOCK_ONFAULT) */
#define CKPT_VMA_MAYBE_GUARD	(1u << 11)	/* MADV_GUARD_INSTALL was used */

struct ckpt_vma_info {
	u64 start, end, pgoff;
	u64 vm_flags;		/* VM_* */
	u32 prot;		/* PROT_* (set by Rust) */
	u32 flags;		/* CKPT_VMA_* (PFNMAP, HUGETLB, WIPEONFORK, LOCKONFAULT: by Rust) */
	u32 semflags;		/* image vmflag bits */
	char name[32];		/* vm_ops->name() for special mappings */
};

int ckpt_mm_info(struct mm_struct *mm, struct ckpt_mm_info *mi, char *exe, u32 exelen);
bool ckpt_mm_merge_any(struct mm_struct *mm);
u64 ckpt_mm_resident_anon(struct mm_struct *mm);
int ckpt_mm_vma(struct mm_struct *mm, u64 addr, struct ckpt_vma_info *vi, struct file **file);
long ckpt_mm_pin_pages(struct mm_struct *mm, u64 start, u64 end, bool anon_only,
		       struct page **out, u64 *addrs, u32 max, u64 *next);
void ckpt_pages_put(struct page **pages, u32 n, bool pinned);
int ckpt_mm_same_pages(struct mm_struct *mm, const u64 *addrs, struct page *const *pages, u32 n,
		       u8 *want);

/* ---- files ------------------------------------------------------------ */

struct ckpt_file_info {
	u32 kind;		/* what it is: set by Rust (shim.rs, fk) */
	u32 flags;		/* f_flags */
	u32 mode;		/* i_mode */
	u32 rdev;		/* (major << 20) | minor */
	s64 pos;
	u64 size;
	s64 mtime_ns;
	u64 pipe_key;		/* identity of the pipe behind a pipe/fifo */
	u32 pipe_len;		/* bytes buffered */
	u32 pipe_capacity;
	u32 fs_magic;
	u32 unlinked;		/* the path no longer names it */
	u32 refs;		/* references to the open file (file_count) */
	u32 pipe_opens;		/* open files on the pipe (readers + writers) */
	u32 seals;		/* memfd seals (F_SEAL_*) */
	u32 nlink;		/* links of the inode */
	u64 ino;		/* inode number (a SysV segment's: its shmid) */
	u64 inode_key;		/* identity of the inode */
	u32 uid;		/* owner, in the caller's user namespace */
	u32 gid;
	u64 allocated;		/* bytes the inode has allocated (i_blocks) */
};

int ckpt_task_fd_cloexec(struct task_struct *t, u32 fd);
int ckpt_file_info(struct file *f, struct ckpt_file_info *fi, char *path, u32 pathlen);
int ckpt_pipe_peek(struct file *f, void *buf, u32 buflen);
int ckpt_task_fs(struct task_struct *t, u32 *umask, char *cwd, u32 cwdlen, char *root, u32 rootlen);
int ckpt_task_cwd_deleted(struct task_struct *t, u32 *mode, u64 *key);

/* ---- trees and restart sessions ------------------------------------- */

int ckpt_task_descendants(struct task_struct *root, struct task_struct **out, u32 max);
struct file *ckpt_shmem_new(u64 size, int *err);
struct file *ckpt_memfd_new(const char *name, u64 size, u32 mode, int *err);
int ckpt_memfd_noexec_scope(void);
void ckpt_cond_resched(void);
struct file *ckpt_cur_sysv_file(u64 shmid);
int ckpt_cur_sigframe(const u64 *v, const void *xs, u32 xlen, u64 blocked, u64 ss_sp,
		      u64 ss_size, u32 ss_flags, u64 sys, u64 *sp, u64 *ip);
int ckpt_task_ctty(struct task_struct *t, char *name, u32 len, s32 *fg, bool *leader);
int ckpt_memfd_seal(struct file *f, u32 seals);

/* ---- output ----------------------------------------------------------- */


/* ---- misc -------------------------------------------------------------- */

int ckpt_uts(char *release, u32 rlen, char *node, u32 nlen);
bool ckpt_fatal_signal_pending(void);
struct kiocb;
struct cred;
const struct cred *ckpt_override_creds(struct kiocb *k);
void ckpt_revert_creds(const struct cred *old);
struct file;
bool ckpt_unprivileged_mode(void);

/* ---- layout guard ------------------------------------------------------ */

/* Offsets and sizes that Rust code (ours and the kernel crate's) reads
 * through kernel::bindings; compared against Rust's offset_of! by KUnit. */
struct ckpt_layout {
	u64 task_struct_size;
	u64 task_pid, task_tgid, task_mm, task_comm, task_group_leader;
	u64 task_real_cred, task_cred, task_flags;
	u64 mm_struct_size, file_size;
	u64 file_f_flags, file_f_cred, file_f_mode;
	u64 cred_uid, cred_euid;
	/* The shim's own structs, shared with Rust (rust/shim.rs). */
	u64 task_info_size, task_info_files_key, file_info_size, file_info_inode_key;
	u64 vma_info_size, mm_info_size, creds_size, sigstate_size, sigaction_size;
	/* More kernel fields Rust reads (rust/sys/). */
	u64 task_signal, task_sas_ss_sp, task_sas_ss_size, task_sas_ss_flags, task_atomic_flags;
	u64 cred_fsgid, cred_securebits, cred_cap_inheritable, cred_cap_ambient, cred_group_info;
	u64 group_info_ngroups, group_info_gid;
};

void ckpt_layout(struct ckpt_layout *l);

/* ---- kexec handover (shim_kho.c) -------------------------------------- */

bool ckpt_kho_enabled(void);
bool ckpt_kho_boot(void);
int ckpt_kho_put(u64 buf, u64 len);
void ckpt_kho_drop(void);
s64 ckpt_kho_take(void);
void ckpt_kho_sizes(u64 *in, u64 *out);
s64 ckpt_kho_read(u64 buf, u64 off, u64 len);
void ckpt_kho_release(void);
void ckpt_kho_exit(void);

#endif /* CKPT_SHIM_H */

/* ---- restart: changes to the calling task ------------------------------ */

int ckpt_cur_special(const char *name, u64 *start, u64 *end);
bool ckpt_cur_mm_shared(void);
int ckpt_cur_unmap_all(bool specials, const u64 *keep, u32 nkeep);
int ckpt_cur_sysv_ranges(u64 *out, u32 max);
/* ckpt_cur_vma_advise()'s @adv bits (rust/shim.rs: adv). */
#define CKPT_ADV_SEQUENTIAL	(1u << 5)
#define CKPT_ADV_RANDOM		(1u << 6)
#define CKPT_ADV_MERGEABLE	(1u << 7)
int ckpt_cur_vma_advise(u64 start, u64 end, u64 set, u64 clear, u32 adv);
int ckpt_cur_set_layout(const u64 *layout, const u64 *auxv, u32 auxv_len);
int ckpt_cur_fill_pages(u64 addr, const void *data, u32 npages, bool force);
long ckpt_mm_hold_pages(struct mm_struct *mm, u64 addr, u32 npages, bool force,
			struct page **out);
int ckpt_cur_keep_or_fill(u64 addr, const void *data, bool force);
long ckpt_cur_anon_ranges(u64 *out, u32 max);
int ckpt_cur_zap(u64 start, u64 end);
/* A pseudo-terminal end (ckpt_file_pty). */
struct ckpt_pty_info {
	u32 index;
	u32 master;
	u32 locked;
	u32 unread;		/* this end has input to read */
	u32 input_mode;		/* how it can be saved: CKPT_PTY_INPUT_* or 0 */
	u32 hung_up;		/* a slave whose master was closed */
	u32 uid, gid, mode;	/* the slave's node */
	u32 flags[4];		/* the slave's c_iflag, c_oflag, c_cflag, c_lflag */
	u32 speed[2];		/* c_ispeed, c_ospeed */
	u16 winsize[4];
	u8 line;
	u8 cc[19];
};

int ckpt_file_pty(struct file *f, struct ckpt_pty_info *pi);
/* How the bytes waiting at a pty end are saved (pty_input_mode()). */
#define CKPT_PTY_INPUT_RAW	1
#define CKPT_PTY_INPUT_CANON	2
/* A line end (ckpt_pty_take_input()) of a line an end-of-file character ended. */
#define CKPT_PTY_EOF		0x80000000u
int ckpt_pty_take_input(struct file *f, u8 *buf, u32 cap, u32 *ends, u32 max_ends, u32 *nends);
int ckpt_pty_give_input(struct file *f, bool slave, int mode, const u8 *buf, u32 len,
			const u32 *ends, u32 nends);
struct file *ckpt_open_tmpfile(const char *dir, u32 mode, int *err);
ssize_t ckpt_file_read_pages(struct file *f, struct page **pages, u32 n, s64 *pos);
struct page *ckpt_file_cached_page(struct file *f, s64 pos, u32 len);
bool ckpt_file_proc_own_ns(struct file *f);
int ckpt_file_other_name(struct file *f, char *path, u32 pathlen);
int ckpt_file_link_target(struct file *f, char *buf, u32 len);
int ckpt_cur_swap_root(struct file *dir, struct path **old);
void ckpt_cur_restore_root(struct path *old);
int ckpt_path_of(const struct path *p, char *buf, u32 len);
int ckpt_cur_set_sigactions(const struct ckpt_sigaction *sa);
void ckpt_cur_set_itimer_real(u64 value_ns, u64 interval_ns);
const struct cred *ckpt_cur_override_image_creds(const struct cred *new);
void ckpt_cur_revert_image_creds(const struct cred *old);
void ckpt_cred_drop_private_keyrings(struct cred *new);
u64 ckpt_cur_permitted_xfeatures(void);
int ckpt_cur_set_soft_rlimits(const u64 *soft);
void ckpt_cur_set_misc(const char *comm, u32 personality, u32 umask, u64 set_child_tid,
		       u64 clear_child_tid, u64 robust_list);
void ckpt_cur_set_regs(const u64 *regs);
int ckpt_cur_xstate_size(u64 *features);
u64 ckpt_cpu_xfeatures(void);
int ckpt_cur_set_xstate(const void *buf, u32 size);
void ckpt_task_rseq(struct task_struct *t, u64 *ptr, u32 *len, u32 *sig);
int ckpt_task_rseq_abort(struct task_struct *t, u64 ip, u64 *abort_ip);
bool ckpt_rseq_area_valid(u64 ptr, u32 len);
int ckpt_cur_set_rseq(u64 ptr, u32 len, u32 sig);

/* ---- task attributes, SIGIO owners, the executable ---------------------- */

struct ckpt_task_attrs {
	u32 policy, reset_on_fork;
	s32 nice;
	u32 rt_priority, pdeath_signal;
	s32 oom_score_adj;
	u32 dumpable, thp_disable, subreaper;
	u32 membarrier;		/* the mm's MEMBARRIER_STATE_* (Rust: the registrations) */
	u32 stop_signal;
};

int ckpt_task_attrs(struct task_struct *t, struct ckpt_task_attrs *a);
bool ckpt_file_owner(struct file *f, u32 *type, s32 *nr, u32 *signum);
int ckpt_cur_set_exe(const char *path, bool allow_setid);
struct file *ckpt_open_exec_file(const char *path, int *err);
void ckpt_cur_set_exec_attrs(u32 pdeath_signal, u32 dumpable);
struct sighand_struct;
struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags);
bool ckpt_cur_pgrp_orphaned(void);
void ckpt_cur_recalc_sigpending(void);

/* ---- pidfds ------------------------------------------------------------ */

#define CKPT_PIDFD_THREAD	(1u << 0)	/* PIDFD_THREAD: one thread */
#define CKPT_PIDFD_NONBLOCK	(1u << 1)	/* O_NONBLOCK (PIDFD_NONBLOCK) */
#define CKPT_PIDFD_AUTOKILL	(1u << 2)	/* kills its process when closed */
#define CKPT_PIDFD_EXITED	(1u << 3)	/* the task has exited (a zombie) */
#define CKPT_PIDFD_GROUP_DEAD	(1u << 4)	/* and so has its whole process */

struct ckpt_pidfd_info {
	s32 pid;	/* the task's pid in the caller's pid namespace (0: reaped, or not visible) */
	s32 tgid;	/* its process's */
	u32 flags;	/* CKPT_PIDFD_* */
};

int ckpt_file_pidfd(struct file *f, struct ckpt_pidfd_info *pi);
/* The pid of pidfd @f (a reference) if numbered @nr here and gone; else NULL. */
struct pid *ckpt_pidfd_gone(struct file *f, s32 nr);

/* ---- event-loop files -------------------------------------------------- */

long ckpt_file_fdinfo(struct file *f, char *buf, u32 len);
bool ckpt_file_is_eventfd(struct file *f);
u32 ckpt_file_poll(struct file *f);
bool ckpt_file_watched(struct file *f);
struct ckpt_epoll_entry {
	u64 data;
	u32 events;
	s32 fd;
};
int ckpt_epoll_entries_on(struct file *f, struct file *ep,
			  struct ckpt_epoll_entry *out, u32 max);
int ckpt_epoll_signalfd_wakes(struct file *f, struct file *ep, s32 fd, struct task_struct *t);
u64 ckpt_clock_ns(int clockid);
int ckpt_fanotify_group(struct file *f, u32 *flags, bool *answer_pending);
int ckpt_task_sb_path(struct task_struct *t, u32 dev, char *buf, u32 buflen);
int ckpt_task_mount_mark_path(struct task_struct *t, struct file *f, u32 mask,
			      u32 ignore, u32 nth, char *buf, u32 buflen);
int ckpt_fanotify_marks_mount_of(struct file *f, struct file *on, u32 mask,
				 u32 ignore);
int ckpt_task_handle_path(struct task_struct *t, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen);
