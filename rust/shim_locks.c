// SPDX-License-Identifier: GPL-2.0
/*
 * File locks: reading the flock, POSIX and OFD locks a file's inode holds for
 * the checkpointed processes (under the lock context's spinlock), and taking
 * them again at restart with the exported lock calls.  Policy lives in
 * rust/objects/locks.rs.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fdtable.h>
#include <linux/filelock.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mnt_idmapping.h>
#include <linux/poll.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

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


/*
 * The lease f itself owns (F_SETLEASE on one of its descriptors), if any:
 * returns 1 with its type, the fd its break signal names (the fd F_SETLEASE
 * was called on, -1 if unknown) and what keeps it from coming back
 * (CKPT_LEASE_*); 0 if f owns none.
 */
int ckpt_file_lease(struct file *f, u32 *type, s32 *fd, u32 *bad)
{
	struct file_lock_context *ctx = locks_inode_context(file_inode(f));
	struct file_lease *fl;
	int ret = 0;

	*type = F_UNLCK;
	*fd = -1;
	*bad = 0;
	if (!ctx)
		return 0;
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(fl, &ctx->flc_lease, c.flc_list) {
		if (fl->c.flc_file != f)
			continue;
		ret = 1;
		if (fl->c.flc_flags & (FL_DELEG | FL_LAYOUT))
			*bad |= CKPT_LEASE_DELEG;
		else if (!(fl->c.flc_flags & FL_LEASE) || fl->c.flc_owner != (fl_owner_t)f)
			*bad |= CKPT_LEASE_FOREIGN;
		if ((fl->c.flc_flags & (FL_UNLOCK_PENDING | FL_DOWNGRADE_PENDING)) ||
		    fl->fl_break_time || fl->fl_downgrade_time ||
		    !list_empty(&fl->c.flc_blocked_requests))
			*bad |= CKPT_LEASE_BREAKING;
		*type = fl->c.flc_type;
		if (fl->fl_fasync)
			*fd = fl->fl_fasync->fa_fd;
	}
	spin_unlock(&ctx->flc_lock);
	if (ret && f->f_op->setlease != generic_setlease)
		*bad |= CKPT_LEASE_FOREIGN;
	return ret;
}

/*
 * Leases the module sets again.  fcntl(F_SETLEASE)'s lease manager
 * operations are static in fs/locks.c; these do the same: a break sends
 * SIGIO (or the F_SETSIG signal) through the lease's fasync entry to the
 * file's owner, a change is lease_modify(), the setup registers the fasync
 * entry made beforehand and makes the caller the file's owner if it has
 * none.  A lease that uses them keeps the module loaded (see
 * ckpt_lease_set).
 */
static bool ckpt_lease_break(struct file_lease *fl)
{
	kill_fasync(&fl->fl_fasync, SIGIO, POLL_MSG);
	return false;
}

static void ckpt_lease_setup(struct file_lease *fl, void **priv)
{
	struct fasync_struct *fa = *priv;

	struct file *filp = fl->c.flc_file;

	/* As fasync_insert_entry() would: under the file's f_lock. */
	spin_lock(&filp->f_lock);
	if (fa && !fl->fl_fasync) {
		rcu_assign_pointer(fl->fl_fasync, fa);
		*priv = NULL;
	} else if (fa && fl->fl_fasync->fa_file == filp) {
		/* F_SETLEASE again (maybe through another fd): the break now
		 * names that fd; the caller frees the unused entry. */
		write_lock_irq(&fl->fl_fasync->fa_lock);
		fl->fl_fasync->fa_fd = fa->fa_fd;
		write_unlock_irq(&fl->fl_fasync->fa_lock);
	}
	spin_unlock(&filp->f_lock);
	__f_setown(filp, task_pid(current), PIDTYPE_TGID, 0);
}

/* lease_open_conflict() of fs/locks.c. */
static int ckpt_lease_open_conflict(struct file *filp, int arg)
{
	struct inode *inode = file_inode(filp);
	int self_wcount = 0, self_rcount = 0;

	if (arg == F_RDLCK)
		return inode_is_open_for_write(inode) ? -EAGAIN : 0;
	else if (arg != F_WRLCK)
		return 0;
	if (filp->f_mode & FMODE_WRITE)
		self_wcount = 1;
	else if (filp->f_mode & FMODE_READ)
		self_rcount = 1;
	if (atomic_read(&inode->i_writecount) != self_wcount ||
	    atomic_read(&inode->i_readcount) != self_rcount)
		return -EAGAIN;
	return 0;
}

static const struct lease_manager_operations ckpt_lease_ops = {
	.lm_break = ckpt_lease_break,
	.lm_change = lease_modify,
	.lm_setup = ckpt_lease_setup,
	.lm_open_conflict = ckpt_lease_open_conflict,
};

/*
 * The inodes on which the module set a lease, while one may remain (each
 * held with ihold()).  A lease that uses ckpt_lease_ops must not outlive the
 * module, which is not told when the lease goes (a close or a timeout
 * removes it without calling back): while the list is not empty the module
 * holds a reference to itself (rmmod refuses), and a scan every 100 ms
 * drops the inodes that no longer have such a lease, and the reference with
 * the last one.  The module's exit waits for a scan still running.
 */
struct ckpt_leased {
	struct list_head list;
	struct inode *inode;
};

static LIST_HEAD(ckpt_leased);
static DEFINE_MUTEX(ckpt_leased_lock);
static void ckpt_leased_scan(struct work_struct *w);
static DECLARE_DELAYED_WORK(ckpt_leased_work, ckpt_leased_scan);

static bool has_module_lease(struct inode *inode)
{
	struct file_lock_context *ctx = locks_inode_context(inode);
	struct file_lease *fl;
	bool ret = false;

	if (!ctx)
		return false;
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(fl, &ctx->flc_lease, c.flc_list)
		if (fl->fl_lmops == &ckpt_lease_ops) {
			ret = true;
			break;
		}
	spin_unlock(&ctx->flc_lock);
	return ret;
}

static void ckpt_leased_scan(struct work_struct *w)
{
	struct ckpt_leased *e, *tmp;
	bool empty;

	mutex_lock(&ckpt_leased_lock);
	list_for_each_entry_safe(e, tmp, &ckpt_leased, list) {
		if (has_module_lease(e->inode))
			continue;
		list_del(&e->list);
		iput(e->inode);
		kfree(e);
	}
	empty = list_empty(&ckpt_leased);
	if (!empty)
		schedule_delayed_work(&ckpt_leased_work, msecs_to_jiffies(100));
	mutex_unlock(&ckpt_leased_lock);
	/* The last lease went: the module may go (its exit waits for this
	 * function to return). */
	if (empty)
		module_put(THIS_MODULE);
}

/* Under ckpt_leased_lock: inode is in the list (and the module pinned). */
static int track_inode(struct inode *inode)
{
	struct ckpt_leased *e;

	list_for_each_entry(e, &ckpt_leased, list)
		if (e->inode == inode)
			return 0;
	e = kmalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	ihold(inode);
	e->inode = inode;
	if (list_empty(&ckpt_leased)) {
		/* Called from the module's own ioctl: the module is live. */
		__module_get(THIS_MODULE);
		schedule_delayed_work(&ckpt_leased_work, msecs_to_jiffies(100));
	}
	list_add(&e->list, &ckpt_leased);
	return 0;
}

/* At module exit (no lease of the module remains: it would be pinned). */
void ckpt_locks_exit(void)
{
	cancel_delayed_work_sync(&ckpt_leased_work);
}

/*
 * Whether the caller could take a lease of type on f now, as
 * vfs_setlease() and generic_add_lease() would decide: -EACCES if it
 * neither owns the file nor has CAP_LEASE, -EAGAIN if the file is open in a
 * way the lease excludes or another description's lease is in the way.
 */
int ckpt_lease_test(struct file *f, u32 type)
{
	struct inode *inode = file_inode(f);
	vfsuid_t vfsuid = i_uid_into_vfsuid(file_mnt_idmap(f), inode);
	struct file_lock_context *ctx;
	struct file_lease *fl;
	int ret;

	if ((type != F_RDLCK && type != F_WRLCK) || !S_ISREG(inode->i_mode) ||
	    f->f_op->setlease != generic_setlease)
		return -EINVAL;
	if (!vfsuid_eq_kuid(vfsuid, current_fsuid()) && !capable(CAP_LEASE))
		return -EACCES;
	ret = ckpt_lease_open_conflict(f, type);
	if (ret)
		return ret;
	ctx = locks_inode_context(inode);
	if (!ctx)
		return 0;
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(fl, &ctx->flc_lease, c.flc_list) {
		if (fl->c.flc_file == f ||
		    (type == F_RDLCK && !(fl->c.flc_flags & FL_UNLOCK_PENDING)))
			continue;
		ret = -EAGAIN;
	}
	spin_unlock(&ctx->flc_lock);
	return ret;
}

/*
 * Takes a lease of type on f, installed at fd, for the caller, as
 * fcntl(fd, F_SETLEASE, type) does (through vfs_setlease(): the caller
 * must own the file or have CAP_LEASE).  The module stays loaded while the
 * lease lasts (see ckpt_leased).
 */
int ckpt_lease_set(struct file *f, u32 type, u32 fd)
{
	struct fasync_struct *fa = NULL;
	struct file_lease *fl;
	void *priv;
	int ret;

	ret = ckpt_lease_test(f, type);
	if (ret)
		return ret;
	fl = locks_alloc_lease();
	if (!fl)
		return -ENOMEM;
	fl->c.flc_type = type;
	fl->c.flc_owner = f;
	fl->c.flc_pid = current->tgid;
	fl->c.flc_file = f;
	fl->c.flc_flags = FL_LEASE;
	fl->fl_lmops = &ckpt_lease_ops;
	/* The fasync entry the break signal goes through, made (and filled
	 * with f and fd) by fasync_helper() on a list of its own. */
	ret = fasync_helper(fd, f, 1, &fa);
	if (ret < 0 || !fa) {
		locks_free_lease(fl);
		return ret < 0 ? ret : -ENOMEM;
	}
	priv = fa;
	mutex_lock(&ckpt_leased_lock);
	ret = track_inode(file_inode(f));
	if (!ret)
		ret = vfs_setlease(f, type, &fl, &priv);
	mutex_unlock(&ckpt_leased_lock);
	if (fl) {
		/* Not inserted (or an existing lease of f was changed). */
		locks_free_lease(fl);
		if (!ret)
			ret = -EBUSY;
	}
	if (priv) {
		/* Unused: off f again through fasync_helper(). */
		fa = priv;
		fa->fa_next = NULL;
		fasync_helper(fd, f, 0, &fa);
	}
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

int ckpt_file_lease(struct file *f, u32 *type, s32 *fd, u32 *bad)
{
	*type = 2;
	*fd = -1;
	*bad = 0;
	return 0;
}

int ckpt_lease_test(struct file *f, u32 type)
{
	return -EOPNOTSUPP;
}

int ckpt_lease_set(struct file *f, u32 type, u32 fd)
{
	return -EOPNOTSUPP;
}

void ckpt_locks_exit(void)
{
}

#endif
