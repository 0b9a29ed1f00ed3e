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
 * Probe handlers run in process context with preemption off, on hot paths of
 * the whole system (every fork, exit, socket(), open of a device): a process
 * the observer never marked costs one RCU hash lookup and takes no lock.  The
 * marks live in a resizable RCU hash table keyed by tgid (per-bucket locks,
 * taken only to add or remove a process); a process's bits are set with
 * atomic operations, so marking a process again is lock-free as well.
 */
#include <linux/cred.h>
#include <linux/fprobe.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/rhashtable.h>
#include <linux/socket.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>

#include "lsm_probe.h"

/* At most this many processes are remembered (about 200 bytes each). */
#define MAX_ENTRIES 32768

struct entry {
	struct rhash_head node;
	pid_t tgid;
	unsigned long flags;	/* BIT(CKPT_LSM_*), atomic bit operations */
	u32 detail[CKPT_LSM_NR];
	u64 when[CKPT_LSM_NR];
	struct rcu_head rcu;
};

static const struct rhashtable_params params = {
	.key_len = sizeof(pid_t),
	.key_offset = offsetof(struct entry, tgid),
	.head_offset = offsetof(struct entry, node),
	.automatic_shrinking = true,
	/*
	 * Shrunk only while larger than this (8 KiB of buckets; it starts at
	 * 64): a marked process that forks short-lived children would
	 * otherwise have a small table grow at a fork and shrink at the exit
	 * (3 entries in 4 buckets, then 2 in 8), each a deferred rehash of
	 * the whole table.
	 */
	.min_size = 1024,
};

static struct rhashtable table;
static bool table_on;
static atomic_t entries = ATOMIC_INIT(0);
static atomic_t dropped = ATOMIC_INIT(0);
static bool tp_exit, tp_fork;

static struct entry *lookup(pid_t tgid)
{
	return rhashtable_lookup(&table, &tgid, params);
}

/* A new entry for tgid, a copy of @from's marks if given; NULL if full or out of memory. */
static struct entry *new_entry(pid_t tgid, const struct entry *from)
{
	struct entry *e;

	if (atomic_inc_return(&entries) > MAX_ENTRIES)
		goto full;
	e = kzalloc(sizeof(*e), GFP_ATOMIC | __GFP_NOWARN);
	if (!e)
		goto full;
	if (from) {
		e->flags = READ_ONCE(from->flags);
		memcpy(e->detail, from->detail, sizeof(e->detail));
		memcpy(e->when, from->when, sizeof(e->when));
	}
	e->tgid = tgid;
	return e;
full:
	atomic_dec(&entries);
	atomic_inc(&dropped);
	return NULL;
}

static void free_entry(struct entry *e)
{
	atomic_dec(&entries);
	kfree_rcu(e, rcu);
}

/* The entry of tgid, inserted (as a copy of @from, if given) if there is none. */
static struct entry *get_entry(pid_t tgid, const struct entry *from)
{
	struct entry *e = lookup(tgid), *old;

	if (e)
		return e;
	e = new_entry(tgid, from);
	if (!e)
		return NULL;
	old = rhashtable_lookup_get_insert_fast(&table, &e->node, params);
	if (!old)
		return e;
	atomic_dec(&entries);
	kfree(e);	/* never published */
	if (IS_ERR(old)) {
		atomic_inc(&dropped);
		return NULL;
	}
	return old;	/* a concurrent insertion won */
}

static void mark(pid_t tgid, unsigned int what, u32 detail)
{
	struct entry *e;

	rcu_read_lock();
	e = lookup(tgid);
	if (e && test_bit(what, &e->flags)) {
		rcu_read_unlock();
		return;		/* the common case once marked: no write at all */
	}
	e = e ?: get_entry(tgid, NULL);
	/* The first to set the bit tells when and what (a racing reader may see 0). */
	if (e && !test_and_set_bit(what, &e->flags)) {
		WRITE_ONCE(e->detail[what], detail);
		WRITE_ONCE(e->when[what], ktime_get_real_ns());
	}
	rcu_read_unlock();
}

static void forget(pid_t tgid)
{
	struct entry *e;

	rcu_read_lock();
	e = lookup(tgid);
	if (e && !rhashtable_remove_fast(&table, &e->node, params))
		free_entry(e);
	rcu_read_unlock();
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

/*
 * security_socket_create(family, type, protocol, kern): a socket of a family a
 * checkpoint does not carry (unix sockets it does: not marked, and looked up
 * no further).
 */
static int on_socket(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		     struct ftrace_regs *regs, void *data)
{
	if (ARG(0) != AF_UNIX && !ARG(3) && user_task())
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

/*
 * security_capset(new, old, effective, inheritable, permitted): the process
 * changed its capability sets (detail: the low word of the new effective set).
 * Seen when it happens, so `ckpt check` tells at once that a restart needs a
 * caller holding the capabilities the process keeps.
 */
static int on_capset(struct fprobe *fp, unsigned long ip, unsigned long ret_ip,
		     struct ftrace_regs *regs, void *data)
{
	const kernel_cap_t *eff = (const kernel_cap_t *)ARG(2);

	if (user_task() && eff)
		mark(current->tgid, CKPT_LSM_CAPSET, (u32)eff->val);
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
	{ "security_capset", { .entry_handler = on_capset } },
};

static void on_exit(void *data, struct task_struct *p, bool group_dead)
{
	if (group_dead)
		forget(p->tgid);
}

static void on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct entry *e;

	if (child->tgid == parent->tgid)
		return;		/* a thread: same process, same marks */
	rcu_read_lock();
	e = lookup(parent->tgid);
	if (e)
		get_entry(child->tgid, e);
	rcu_read_unlock();
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

	ret = rhashtable_init(&table, &params);
	if (ret)
		return ret;
	table_on = true;
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

static void free_on_stop(void *p, void *arg)
{
	kfree(p);	/* no probe runs any more: nobody can see it */
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
	if (table_on)
		rhashtable_free_and_destroy(&table, free_on_stop, NULL);
	table_on = false;
	atomic_set(&entries, 0);
}

int ckpt_lsm_query(struct task_struct *t, struct ckpt_lsm_marks *m)
{
	struct entry *e;
	int i;

	memset(m, 0, sizeof(*m));
	if (!table_on)
		return -EOPNOTSUPP;
	rcu_read_lock();
	e = lookup(t->tgid);
	if (e) {
		m->flags = READ_ONCE(e->flags);
		for (i = 0; i < CKPT_LSM_NR; i++) {
			m->detail[i] = READ_ONCE(e->detail[i]);
			m->when[i] = READ_ONCE(e->when[i]);
		}
	}
	rcu_read_unlock();
	m->dropped = atomic_read(&dropped);
	return 0;
}
