// SPDX-License-Identifier: GPL-2.0
/*
 * File locks: reading the flock, POSIX and OFD locks a file's inode holds for
 * the checkpointed processes (under the lock context's spinlock), and taking
 * them again at restart with the exported lock calls.  Policy lives in
 * rust/objects/locks.rs.
 */

#include <linux/fdtable.h>
#include <linux/filelock.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>

#include "shim_locks.h"

#ifdef CONFIG_FILE_LOCKING

unsigned long ckpt_task_files_key(struct task_struct *t)
{
	unsigned long key;

	task_lock(t);
	key = (unsigned long)t->files;
	task_unlock(t);
	return key;
}

unsigned long ckpt_file_inode_key(struct file *f)
{
	return (unsigned long)file_inode(f);
}

/* The holder's pid as the caller sees it (the lock keeps it in the initial
 * pid namespace). */
static s32 holder_pid(struct file_lock_core *c)
{
	struct pid *pid;
	s32 nr;

	if (c->flc_pid <= 0)
		return 0;
	rcu_read_lock();
	pid = find_pid_ns(c->flc_pid, &init_pid_ns);
	nr = pid_nr_ns(pid, task_active_pid_ns(current));
	rcu_read_unlock();
	return nr;
}

static void put_lock(struct file_lock *fl, u32 kind, struct ckpt_lock *out, u32 max, u32 *n)
{
	if (*n < max) {
		out[*n].kind = kind;
		out[*n].type = fl->c.flc_type;
		out[*n].start = fl->fl_start;
		out[*n].end = fl->fl_end;
		out[*n].pid = kind == CKPT_LK_OFD ? 0 : holder_pid(&fl->c);
		out[*n].pad = 0;
	}
	(*n)++;
}

/*
 * The locks on f's inode that belong to the checkpoint: the flock and OFD
 * locks f itself owns, and, with posix, the POSIX locks of the fd table
 * files_key.  *n: how many (more than max: call again with room).
 */
int ckpt_file_locks(struct file *f, unsigned long files_key, bool posix, struct ckpt_lock *out,
		    u32 max, u32 *n, u32 *flags)
{
	struct file_lock_context *ctx = locks_inode_context(file_inode(f));
	struct file_lock *fl;
	struct file_lease *fls;

	*n = 0;
	*flags = 0;
	if (!ctx)
		return 0;
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(fl, &ctx->flc_flock, c.flc_list)
		if (fl->c.flc_file == f)
			put_lock(fl, CKPT_LK_FLOCK, out, max, n);
	list_for_each_entry(fl, &ctx->flc_posix, c.flc_list) {
		if (fl->c.flc_flags & FL_OFDLCK) {
			if (fl->c.flc_file == f)
				put_lock(fl, CKPT_LK_OFD, out, max, n);
		} else if (posix && (unsigned long)fl->c.flc_owner == files_key) {
			put_lock(fl, CKPT_LK_POSIX, out, max, n);
		}
	}
	list_for_each_entry(fls, &ctx->flc_lease, c.flc_list)
		if (fls->c.flc_file == f)
			*flags |= CKPT_LKF_LEASE;
	spin_unlock(&ctx->flc_lock);
	if (*n && (f->f_op->lock || f->f_op->flock))
		*flags |= CKPT_LKF_FS_LOCKS;
	return 0;
}

/*
 * Takes (test: only looks for a conflict with) a lock on f for the caller:
 * a POSIX lock owned by its fd table, an OFD or flock lock owned by f.
 * Never waits: -EAGAIN if another holds a conflicting lock, whose holder
 * (caller's pid namespace; 0 if unknown) goes to *holder.
 */
int ckpt_cur_lock_file(struct file *f, u32 kind, u32 type, s64 start, s64 end, bool test,
		       s32 *holder)
{
	struct file_lock *fl;
	int ret;

	*holder = 0;
	if ((type != F_RDLCK && type != F_WRLCK) || start < 0 || end < start)
		return -EINVAL;
	fl = locks_alloc_lock();
	if (!fl)
		return -ENOMEM;
	fl->c.flc_file = f;
	fl->c.flc_pid = current->tgid;
	fl->c.flc_type = type;
	fl->fl_start = start;
	fl->fl_end = end;
	switch (kind) {
	case CKPT_LK_FLOCK:
		fl->c.flc_flags = FL_FLOCK | (test ? FL_ACCESS : 0);
		fl->c.flc_owner = f;
		fl->fl_start = 0;
		fl->fl_end = OFFSET_MAX;
		ret = locks_lock_inode_wait(file_inode(f), fl);
		break;
	case CKPT_LK_POSIX:
	case CKPT_LK_OFD:
		fl->c.flc_flags = FL_POSIX | (kind == CKPT_LK_OFD ? FL_OFDLCK : 0);
		fl->c.flc_owner = kind == CKPT_LK_OFD ? (fl_owner_t)f : current->files;
		if (test) {
			ret = vfs_test_lock(f, fl);
			if (!ret && fl->c.flc_type != F_UNLCK) {
				*holder = holder_pid(&fl->c);
				ret = -EAGAIN;
			}
		} else {
			ret = vfs_lock_file(f, F_SETLK, fl, NULL);
		}
		break;
	default:
		ret = -EINVAL;
	}
	locks_free_lock(fl);
	return ret;
}

#else /* !CONFIG_FILE_LOCKING: no locks to read or take */

unsigned long ckpt_task_files_key(struct task_struct *t)
{
	return 0;
}

unsigned long ckpt_file_inode_key(struct file *f)
{
	return (unsigned long)file_inode(f);
}

int ckpt_file_locks(struct file *f, unsigned long files_key, bool posix, struct ckpt_lock *out,
		    u32 max, u32 *n, u32 *flags)
{
	*n = 0;
	*flags = 0;
	return 0;
}

int ckpt_cur_lock_file(struct file *f, u32 kind, u32 type, s64 start, s64 end, bool test,
		       s32 *holder)
{
	*holder = 0;
	return -EOPNOTSUPP;
}

#endif
