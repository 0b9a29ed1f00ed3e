// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt LSM observer: the probe side.
 *
 * LSMs cannot be loaded as modules, so ckpt watches the existing LSM hook
 * points from outside: an fprobe on the security_* functions that mark a
 * process as holding something a checkpoint cannot carry yet (a socket, a
 * device, io_uring, perf events, BPF objects), and the task lifetime
 * tracepoints (found by name: they are not exported as symbols) to inherit
 * marks across fork and drop them at exit.  The marks are history, in the
 * spirit of Linux-CR's one-way "may_checkpoint" flag: they tell *why* a
 * process may not be checkpointable, while the checkpoint itself decides by
 * inspecting the process's present state.
 *
 * Probe handlers run in any context: the table is fixed-size, allocated
 * once, and guarded by a raw spinlock with interrupts off.
 */
#include <linux/fprobe.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>

#include "lsm_probe.h"

#define SLOTS 2048	/* power of two */

struct entry {
	pid_t tgid;	/* 0: free */
	u32 flags;
	u32 detail[CKPT_LSM_NR];
	u64 when[CKPT_LSM_NR];
};

static struct entry *table;
static DEFINE_RAW_SPINLOCK(table_lock);
static atomic_t dropped = ATOMIC_INIT(0);
static bool tp_exit, tp_fork;

static struct entry *slot(pid_t tgid, bool create)
{
	u32 h = (u32)tgid * 2654435761u, i;

	for (i = 0; i < SLOTS; i++) {
		struct entry *e = &table[(h + i) & (SLOTS - 1)];

		if (e->tgid == tgid)
			return e;
		if (!e->tgid) {
			if (!create)
				return NULL;
			memset(e, 0, sizeof(*e));
			e->tgid = tgid;
			return e;
		}
	}
	return NULL;
}

static void mark(pid_t tgid, unsigned int what, u32 detail)
{
	struct entry *e;
	unsigned long flags;

	raw_spin_lock_irqsave(&table_lock, flags);
	e = slot(tgid, true);
	if (e) {
		if (!(e->flags & BIT(what))) {
			e->when[what] = ktime_get_real_ns();
			e->detail[what] = detail;
		}
		e->flags |= BIT(what);
	} else {
		atomic_inc(&dropped);
	}
	raw_spin_unlock_irqrestore(&table_lock, flags);
}

/* Removing from an open-addressing table: re-insert the rest of the run. */
static void forget(pid_t tgid)
{
	unsigned long flags;
	struct entry *e;
	u32 i, j;

	raw_spin_lock_irqsave(&table_lock, flags);
	e = slot(tgid, false);
	if (e) {
		i = e - table;
		e->tgid = 0;
		for (j = (i + 1) & (SLOTS - 1); table[j].tgid; j = (j + 1) & (SLOTS - 1)) {
			struct entry moved = table[j];

			table[j].tgid = 0;
			*slot(moved.tgid, true) = moved;
		}
	}
	raw_spin_unlock_irqrestore(&table_lock, flags);
}

static dev_t own_rdev;	/* /dev/ckpt: a coordinator may keep it open */

void ckpt_lsm_ignore_device(u32 major, u32 minor)
{
	own_rdev = MKDEV(major, minor);
}

static bool harmless_chardev(dev_t rdev)
{
	unsigned int ma = MAJOR(rdev), mi = MINOR(rdev);

	if (rdev == own_rdev)
		return true;
	return (ma == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9)) ||
	       ma == 4 || ma == 5 || (ma >= 136 && ma <= 143);
}

static bool device_file(struct file *f, u32 *rdev)
{
	struct inode *inode = f ? file_inode(f) : NULL;

	if (!inode || !(S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode)))
		return false;
	if (S_ISCHR(inode->i_mode) && harmless_chardev(inode->i_rdev))
		return false;
	*rdev = (MAJOR(inode->i_rdev) << 20) | MINOR(inode->i_rdev);
	return true;
}

static bool user_task(void)
{
	return !(current->flags & PF_KTHREAD);
}

#define ARG(n) ftrace_regs_get_argument(regs, n)

/* security_socket_create(family, type, protocol, kern) */
static int on_socket(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		     struct ftrace_regs *regs, void *data)
{
	if (user_task() && !ARG(3))
		mark(current->tgid, CKPT_LSM_SOCKET, ARG(0));
	return 0;
}

/* security_file_open(file) */
static int on_open(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		   struct ftrace_regs *regs, void *data)
{
	u32 rdev;

	if (user_task() && device_file((struct file *)ARG(0), &rdev))
		mark(current->tgid, CKPT_LSM_DEVICE, rdev);
	return 0;
}

/* security_mmap_file(file, prot, flags) */
static int on_mmap(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		   struct ftrace_regs *regs, void *data)
{
	u32 rdev;

	if (user_task() && device_file((struct file *)ARG(0), &rdev))
		mark(current->tgid, CKPT_LSM_DEVMAP, rdev);
	return 0;
}

/* security_perf_event_open(type) */
static int on_perf(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		   struct ftrace_regs *regs, void *data)
{
	if (user_task())
		mark(current->tgid, CKPT_LSM_PERF, ARG(0));
	return 0;
}

/* security_bpf(cmd, attr, size, kernel) */
static int on_bpf(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		  struct ftrace_regs *regs, void *data)
{
	if (user_task() && !ARG(3))
		mark(current->tgid, CKPT_LSM_BPF, ARG(0));
	return 0;
}

/* security_uring_allowed(void) */
static int on_uring(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		    struct ftrace_regs *regs, void *data)
{
	if (user_task())
		mark(current->tgid, CKPT_LSM_URING, 0);
	return 0;
}

static struct hook {
	const char *name;
	struct fprobe fp;
	bool on;
} hooks[] = {
	{ "security_socket_create", { .entry_handler = on_socket } },
	{ "security_file_open", { .entry_handler = on_open } },
	{ "security_mmap_file", { .entry_handler = on_mmap } },
	{ "security_perf_event_open", { .entry_handler = on_perf } },
	{ "security_bpf", { .entry_handler = on_bpf } },
	{ "security_uring_allowed", { .entry_handler = on_uring } },
};

static void on_exit(void *data, struct task_struct *p, bool group_dead)
{
	if (group_dead)
		forget(p->tgid);
}

static void on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct entry *e, copy;
	unsigned long flags;

	if (child->tgid == parent->tgid)
		return;		/* a thread: same process, same marks */
	raw_spin_lock_irqsave(&table_lock, flags);
	e = slot(parent->tgid, false);
	if (e) {
		copy = *e;
		copy.tgid = child->tgid;
		e = slot(child->tgid, true);
		if (e)
			*e = copy;
		else
			atomic_inc(&dropped);
	}
	raw_spin_unlock_irqrestore(&table_lock, flags);
}

struct tp_find {
	const char *name;
	struct tracepoint *tp;
};

static void find_tp(struct tracepoint *tp, void *priv)
{
	struct tp_find *f = priv;

	if (!strcmp(tp->name, f->name))
		f->tp = tp;
}

static struct tracepoint *tracepoint_named(const char *name)
{
	struct tp_find f = { name, NULL };

	for_each_kernel_tracepoint(find_tp, &f);
	return f.tp;
}

int ckpt_lsm_start(void)
{
	struct tracepoint *exit_tp, *fork_tp;
	int ret, i, watched = 0;

	table = vzalloc(array_size(SLOTS, sizeof(*table)));
	if (!table)
		return -ENOMEM;
	exit_tp = tracepoint_named("sched_process_exit");
	fork_tp = tracepoint_named("sched_process_fork");
	if (!exit_tp || !fork_tp) {
		ret = -ENOENT;
		goto fail;
	}
	ret = tracepoint_probe_register(exit_tp, on_exit, NULL);
	if (ret)
		goto fail;
	tp_exit = true;
	ret = tracepoint_probe_register(fork_tp, on_fork, NULL);
	if (ret)
		goto fail;
	tp_fork = true;
	/* A hook this kernel lacks (e.g. no io_uring) is simply not watched. */
	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		if (!register_fprobe(&hooks[i].fp, hooks[i].name, NULL)) {
			hooks[i].on = true;
			watched++;
		}
	}
	if (!watched) {
		ret = -ENOENT;
		goto fail;
	}
	return 0;
fail:
	ckpt_lsm_stop();
	return ret;
}

void ckpt_lsm_stop(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		if (hooks[i].on)
			unregister_fprobe(&hooks[i].fp);
		hooks[i].on = false;
	}
	if (tp_exit)
		tracepoint_probe_unregister(tracepoint_named("sched_process_exit"), on_exit, NULL);
	if (tp_fork)
		tracepoint_probe_unregister(tracepoint_named("sched_process_fork"), on_fork, NULL);
	if (tp_exit || tp_fork)
		tracepoint_synchronize_unregister();
	tp_exit = tp_fork = false;
	vfree(table);
	table = NULL;
}

int ckpt_lsm_query(struct task_struct *t, struct ckpt_lsm_marks *m)
{
	unsigned long flags;
	struct entry *e;
	int i;

	memset(m, 0, sizeof(*m));
	if (!table)
		return -EOPNOTSUPP;
	raw_spin_lock_irqsave(&table_lock, flags);
	e = slot(t->tgid, false);
	if (e) {
		m->flags = e->flags;
		for (i = 0; i < CKPT_LSM_NR; i++) {
			m->detail[i] = e->detail[i];
			m->when[i] = e->when[i];
		}
	}
	raw_spin_unlock_irqrestore(&table_lock, flags);
	m->dropped = atomic_read(&dropped);
	return 0;
}
