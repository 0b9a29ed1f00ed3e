/* SPDX-License-Identifier: GPL-2.0 */
/* File locks: flock, POSIX record locks and OFD locks of checkpointed files. */
#ifndef CKPT_SHIM_LOCKS_H
#define CKPT_SHIM_LOCKS_H

#include <linux/types.h>

struct file;
struct task_struct;

#define CKPT_LK_POSIX	1
#define CKPT_LK_FLOCK	2
#define CKPT_LK_OFD	3

/* One lock as read at checkpoint. */
struct ckpt_lock {
	u32 kind;		/* CKPT_LK_* */
	u32 type;		/* F_RDLCK, F_WRLCK */
	s64 start, end;		/* bytes; end OFFSET_MAX: to the end of the file */
	s32 pid;		/* the holder (POSIX, FLOCK; caller's pid ns), else 0 */
	u32 pad;
};

/* ckpt_file_locks() *flags */
#define CKPT_LKF_FS_LOCKS	2	/* the filesystem manages its own locks */

/* ckpt_file_lease() *bad */
#define CKPT_LEASE_BREAKING	1	/* a break in progress (or its timeout set) */
#define CKPT_LEASE_DELEG	2	/* a delegation or pNFS layout */
#define CKPT_LEASE_FOREIGN	4	/* not fcntl's lease, or the filesystem's own */

unsigned long ckpt_task_files_key(struct task_struct *t);
unsigned long ckpt_file_inode_key(struct file *f);
int ckpt_file_locks(struct file *f, unsigned long files_key, bool posix, struct ckpt_lock *out,
		    u32 max, u32 *n, u32 *flags);
int ckpt_cur_lock_file(struct file *f, u32 kind, u32 type, s64 start, s64 end, bool test,
		       s32 *holder);
int ckpt_file_lease(struct file *f, u32 *type, s32 *fd, u32 *bad);
int ckpt_lease_test(struct file *f, u32 type);
int ckpt_lease_set(struct file *f, u32 type, u32 fd);
void ckpt_locks_exit(void);

#endif
