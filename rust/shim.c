// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt C shim: inline kernel helpers and macros wrapped for Rust.
 *
 * Rules: only EXPORTed symbols; every function does one small thing under the
 * locks the kernel wants for it; no policy lives here (that is Rust's job).
 */
#include <linux/binfmts.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/futex.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/bvec.h>
#include <linux/uio.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/pkeys.h>
#include <linux/ptrace.h>
#include <linux/rseq.h>
#include <linux/regset.h>
#include <linux/sched.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>
#include <linux/utsname.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/shmem_fs.h>
#include <linux/tty.h>
#include <linux/poll.h>
#include <linux/eventfd.h>
#include <linux/seq_file.h>
#include <linux/exportfs.h>
#include <linux/namei.h>
#include <linux/tty_driver.h>
#include <linux/sched/jobctl.h>
#include <uapi/linux/membarrier.h>
#include <uapi/linux/prctl.h>
#include <uapi/linux/elf.h>
#include <asm/user.h>
#include <asm/fsgsbase.h>
#include <asm/fpu/api.h>
#include <asm/msr.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/types.h>
#include <asm/sigframe.h>

#include "shim.h"

static void copy_str(char *dst, u32 len, const char *src)
{
	if (len)
		strscpy(dst, src ? src : "", len);
}

/* ---- tasks -------------------------------------------------------------- */

struct task_struct *ckpt_task_get_by_vpid(s32 nr)
{
	struct pid *pid;
	struct task_struct *t;

	if (nr <= 0)
		return NULL;
	pid = find_get_pid(nr);
	if (!pid)
		return NULL;
	t = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return t;
}

void ckpt_task_put(struct task_struct *t)
{
	put_task_struct(t);
}

void ckpt_task_info(struct task_struct *t, struct ckpt_task_info *ti)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct task_struct *parent;

	memset(ti, 0, sizeof(*ti));
	rcu_read_lock();
	ti->pid = task_pid_nr_ns(t, ns);
	ti->tgid = task_tgid_nr_ns(t, ns);
	parent = rcu_dereference(t->real_parent);
	ti->ppid = parent ? task_tgid_nr_ns(parent, ns) : 0;
	ti->pgid = task_pgrp_nr_ns(t, ns);
	ti->sid = task_session_nr_ns(t, ns);
	if (t->flags & PF_KTHREAD)
		ti->flags |= CKPT_TI_KTHREAD;
	if (t->flags & PF_EXITING)
		ti->flags |= CKPT_TI_EXITING;
	if (t->ptrace)
		ti->flags |= CKPT_TI_PTRACED;
	if (t->exit_state)
		ti->flags |= CKPT_TI_ZOMBIE;
	if (thread_group_leader(t))
		ti->flags |= CKPT_TI_LEADER;
	if (task_is_stopped(t))
		ti->flags |= CKPT_TI_STOPPED;
	if (task_no_new_privs(t))
		ti->flags |= CKPT_TI_NO_NEW_PRIVS;
	if (!ti->pid)
		ti->flags |= CKPT_TI_FOREIGN_NS;
	ti->exit_signal = t->exit_signal;
	ti->exit_code = t->exit_code;
	ti->personality = t->personality;
	ti->nr_threads = t->signal ? get_nr_threads(t) : 0;
	ti->set_child_tid = (u64)(unsigned long)t->set_child_tid;
	ti->clear_child_tid = (u64)(unsigned long)t->clear_child_tid;
#ifdef CONFIG_FUTEX
	ti->robust_list = (u64)(unsigned long)t->futex.robust_list;
	ti->robust_list_len = ti->robust_list ? sizeof(struct robust_list_head) : 0;
#endif
	rcu_read_unlock();
	get_task_comm(ti->comm, t);
	task_lock(t);
	ti->files_key = (u64)(unsigned long)t->files;
	ti->mm_key = (u64)(unsigned long)t->mm;
	task_unlock(t);
}

/*
 * What __ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) and commoncap's
 * cap_ptrace_access_check() look at, as CKPT_AF_* facts about current and t,
 * read the way the kernel reads them (under task_lock, credentials before
 * dumpability); Rust decides (rust/access.rs, may_checkpoint).  The LSMs'
 * ptrace policy is asked by ckpt_task_attach_by_kernel().
 */
u32 ckpt_task_access_facts(struct task_struct *t)
{
	const struct cred *cred, *tcred;
	const struct task_exec_state *es;
	u32 f = 0;

	if (same_thread_group(t, current))
		return CKPT_AF_SAME_GROUP;
	task_lock(t);
	rcu_read_lock();
	cred = current_cred();
	tcred = __task_cred(t);
	if (uid_eq(cred->uid, tcred->euid) && uid_eq(cred->uid, tcred->suid) &&
	    uid_eq(cred->uid, tcred->uid) && gid_eq(cred->gid, tcred->egid) &&
	    gid_eq(cred->gid, tcred->sgid) && gid_eq(cred->gid, tcred->gid))
		f |= CKPT_AF_IDS_MATCH;
	if (ns_capable_noaudit(tcred->user_ns, CAP_SYS_PTRACE))
		f |= CKPT_AF_PTRACE_CAP;
	if (cred->user_ns == tcred->user_ns)
		f |= CKPT_AF_SAME_USERNS;
	if (cap_issubset(tcred->cap_permitted, cred->cap_permitted))
		f |= CKPT_AF_CAPS_SUBSET;
	smp_rmb();
	es = rcu_dereference(t->exec_state);
	if (!es || READ_ONCE(es->dumpable) == TASK_DUMPABLE_OWNER)
		f |= CKPT_AF_DUMPABLE;
	if (es && ns_capable_noaudit(es->user_ns, CAP_SYS_PTRACE))
		f |= CKPT_AF_PTRACE_CAP_EXEC;
	rcu_read_unlock();
	task_unlock(t);
	return f;
}

/*
 * The kernel's own ptrace-attach decision about t's process, the LSMs' ptrace
 * hooks included (Yama's ptrace_scope, SELinux, AppArmor, Landlock and
 * commoncap): ptrace_may_access() and security_ptrace_access_check() are not
 * exported, but opening /proc/PID/mem runs mm_access(task,
 * PTRACE_MODE_ATTACH_FSCREDS) -> __ptrace_may_access() in the caller's context,
 * under the task's exec_update_lock.  The open is made on a private procfs
 * instance of the caller's pid namespace (vfs_kern_mount, without the mount
 * system call's checks, which have nothing to do with the question), not
 * through the caller's /proc, which may be missing, mounted with hidepid, or
 * another namespace's; dentry_open() skips the file mode check (0600, the
 * target's owner), which is not ptrace's question.  Returns 0, or the open's error (-EACCES or -EPERM: the
 * kernel refused; -ESRCH: t is gone or has no memory any more).  Rust decides
 * what that means (rust/access.rs).
 */
int ckpt_task_attach_by_kernel(struct task_struct *t)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct file_system_type *fs;
	struct vfsmount *mnt;
	struct path path;
	struct file *f;
	char name[24];
	pid_t nr;
	int ret;

	if (same_thread_group(t, current))
		return 0;
	nr = task_tgid_nr_ns(t, ns);
	if (!nr)
		return -ESRCH;
	fs = get_fs_type("proc");
	if (!fs)
		return -ENOENT;
	mnt = vfs_kern_mount(fs, SB_KERNMOUNT, fs->name, NULL);
	module_put(fs->owner);
	if (IS_ERR(mnt))
		return PTR_ERR(mnt);
	snprintf(name, sizeof(name), "%d/mem", nr);
	ret = vfs_path_lookup(mnt->mnt_root, mnt, name, 0, &path);
	if (!ret) {
		/* No inode permission check: the question is ptrace's, not the file mode's. */
		f = dentry_open(&path, O_RDONLY | O_LARGEFILE, current_cred());
		path_put(&path);
		if (IS_ERR(f))
			ret = PTR_ERR(f);
		else
			fput(f);
	}
	if (ret == -ENOENT)
		ret = -ESRCH;
	/* The number was t's while t still holds it (t can only lose it by being reaped). */
	if (!ret && (!pid_alive(t) || task_tgid_nr_ns(t, ns) != nr))
		ret = -ESRCH;
	mntput(mnt);
	return ret;
}

bool ckpt_task_is_current_group(struct task_struct *t)
{
	return same_thread_group(t, current);
}

/* Threads of t's group, each with a reference; returns the count, or
 * -E2BIG with the count needed in out[0]'s place when max is too small. */
int ckpt_task_threads(struct task_struct *t, struct task_struct **out, u32 max)
{
	struct task_struct *th;
	u32 n = 0;
	int ret;

	rcu_read_lock();
	for_each_thread(t, th) {
		if (n < max)
			out[n] = get_task_struct(th);
		n++;
	}
	rcu_read_unlock();
	if (n <= max)
		return n;
	while (max)
		put_task_struct(out[--max]);
	ret = -E2BIG;
	return ret;
}

/* kill(2) of t's process by current, with its permission checks (sig 0: only
 * the checks). */
int ckpt_task_signal(struct task_struct *t, int sig)
{
	return kill_pid(task_tgid(t), sig, 0);
}

bool ckpt_task_fatal_pending(struct task_struct *t)
{
	return __fatal_signal_pending(t) || (READ_ONCE(t->flags) & PF_EXITING);
}

/* ---- quiescing ---------------------------------------------------------- */

/*
 * Each thread of the target gets a task_work (TWA_SIGNAL) that runs on its
 * way back to user mode -- a safe point where all its user state is saved in
 * the kernel -- and parks it there until the checkpointer releases it.  The
 * park is killable, and does not count toward load average or the hung-task
 * detector.  A thread already in a group stop is quiescent too, as long as
 * it stays stopped: continued (SIGCONT), it may handle a signal (a new frame
 * on its stack, new registers and mask) before it runs the work and parks,
 * so ckpt_quiesce_moved() tells whether one that was stopped when the wait
 * ended has run since: a continued thread always ends in the park (the work
 * is still queued), so it is parked, or on its way there (not stopped).
 */
struct ckpt_park {
	struct callback_head cb;
	struct ckpt_quiesce *q;
	struct task_struct *task;
	bool queued;
	bool parked;
	bool stopped;		/* stopped (not parked) when the wait ended */
};

struct ckpt_quiesce {
	refcount_t ref;
	wait_queue_head_t wq;
	/*
	 * Held by the checkpointer while it reads a thread's state, and by a
	 * thread while it leaves the park or exits: a killed thread cannot free
	 * its stack (and pt_regs) under a reader.
	 */
	struct mutex lock;
	bool released;
	atomic_t gone;		/* threads that exited instead of parking */
	atomic_t left;		/* threads that left the park early (killed) */
	u32 n;
	struct ckpt_park park[];
};

static void ckpt_quiesce_put(struct ckpt_quiesce *q)
{
	u32 i;

	if (!refcount_dec_and_test(&q->ref))
		return;
	for (i = 0; i < q->n; i++)
		put_task_struct(q->park[i].task);
	mutex_destroy(&q->lock);
	kfree(q);
}

static void ckpt_park_fn(struct callback_head *cb)
{
	struct ckpt_park *p = container_of(cb, struct ckpt_park, cb);
	struct ckpt_quiesce *q = p->q;

	if ((current->flags & PF_EXITING) || READ_ONCE(q->released)) {
		mutex_lock(&q->lock);
		atomic_inc(&q->gone);
		mutex_unlock(&q->lock);
		wake_up_all(&q->wq);
		goto out;
	}
	WRITE_ONCE(p->parked, true);
	wake_up_all(&q->wq);
	wait_event_state(q->wq, READ_ONCE(q->released), (TASK_KILLABLE | TASK_NOLOAD));
	mutex_lock(&q->lock);
	WRITE_ONCE(p->parked, false);
	if (!READ_ONCE(q->released))
		atomic_inc(&q->left);
	mutex_unlock(&q->lock);
	wake_up_all(&q->wq);
out:
	ckpt_quiesce_put(q);
	/*
	 * The reference taken when the work was queued: an unloaded module's
	 * callback must never run.  Only the return below executes after it.
	 */
	module_put(THIS_MODULE);
}

struct ckpt_quiesce *ckpt_quiesce_start(struct task_struct **threads, u32 n)
{
	struct ckpt_quiesce *q;
	u32 i;

	q = kzalloc(struct_size(q, park, n), GFP_KERNEL);
	if (!q)
		return ERR_PTR(-ENOMEM);
	refcount_set(&q->ref, 1);
	init_waitqueue_head(&q->wq);
	mutex_init(&q->lock);
	q->n = n;
	for (i = 0; i < n; i++) {
		struct ckpt_park *p = &q->park[i];

		p->q = q;
		p->task = get_task_struct(threads[i]);
		init_task_work(&p->cb, ckpt_park_fn);
	}
	for (i = 0; i < n; i++) {
		struct ckpt_park *p = &q->park[i];

		refcount_inc(&q->ref);
		__module_get(THIS_MODULE);
		if (task_work_add(p->task, &p->cb, TWA_SIGNAL)) {
			/* The thread is exiting. */
			module_put(THIS_MODULE);
			refcount_dec(&q->ref);
			atomic_inc(&q->gone);
			continue;
		}
		p->queued = true;
	}
	return q;
}

static bool ckpt_quiet(struct ckpt_quiesce *q)
{
	u32 i;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return true;	/* settled: the caller reports the exit */
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (!READ_ONCE(p->parked) && !task_is_stopped(p->task))
			return false;
	}
	return true;
}

/* 0 once every thread is parked or stopped; -ESRCH if one exited; -EINTR if
 * the caller got a signal; -ETIMEDOUT. */
int ckpt_quiesce_wait(struct ckpt_quiesce *q, u32 timeout_ms)
{
	long left = wait_event_interruptible_timeout(q->wq, ckpt_quiet(q),
						     msecs_to_jiffies(timeout_ms));

	if (left < 0)
		return -EINTR;
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return -ESRCH;
	if (left == 0 && !ckpt_quiet(q))
		return -ETIMEDOUT;
	for (u32 i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		p->stopped = !READ_ONCE(p->parked) && task_is_stopped(p->task);
	}
	return 0;
}

/* Whether a thread that was stopped when the wait ended has run since. */
bool ckpt_quiesce_moved(struct ckpt_quiesce *q)
{
	u32 i;

	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (p->stopped && (READ_ONCE(p->parked) || !task_is_stopped(p->task)))
			return true;
	}
	return false;
}

/* True if every thread is still parked or stopped and none is dying. */
bool ckpt_quiesce_intact(struct ckpt_quiesce *q)
{
	u32 i;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return false;
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (ckpt_task_fatal_pending(p->task))
			return false;
		if (!READ_ONCE(p->parked) && !task_is_stopped(p->task))
			return false;
	}
	return true;
}

/*
 * Pins thread t at its safe point while the caller reads its state: 0 with
 * q->lock held (release with ckpt_quiesce_unhold), or -ESRCH if t is leaving.
 */
int ckpt_quiesce_hold(struct ckpt_quiesce *q, struct task_struct *t)
{
	u32 i;

	mutex_lock(&q->lock);
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		goto gone;
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (p->task != t)
			continue;
		if (ckpt_task_fatal_pending(t) || !p->queued)
			goto gone;
		if (READ_ONCE(p->parked) || task_is_stopped(t))
			return 0;
		goto gone;
	}
gone:
	mutex_unlock(&q->lock);
	return -ESRCH;
}

void ckpt_quiesce_unhold(struct ckpt_quiesce *q)
{
	mutex_unlock(&q->lock);
}

void ckpt_quiesce_release(struct ckpt_quiesce *q)
{
	WRITE_ONCE(q->released, true);
	wake_up_all(&q->wq);
	ckpt_quiesce_put(q);
}

/* ---- CPU ---------------------------------------------------------------- */

static const struct user_regset *find_regset(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

/*
 * General registers of a quiescent task, as struct user_regs_struct.  A
 * syscall interrupted for the park is rewound the way the signal code would
 * rewind it, so that the image resumes by re-issuing it; a restart_block
 * based one (nanosleep & co) cannot be carried to another kernel and returns
 * EINTR instead (as after a signal handler).
 */
int ckpt_task_regs(struct task_struct *t, u64 *regs, bool *in_syscall)
{
	const struct user_regset *rs = find_regset(t, NT_PRSTATUS);
	struct user_regs_struct *r = (struct user_regs_struct *)regs;
	int ret;

	BUILD_BUG_ON(sizeof(struct user_regs_struct) != CKPT_NREGS * sizeof(u64));
	if (!rs)
		return -EOPNOTSUPP;
	ret = regset_get(t, rs, sizeof(*r), r);
	if (ret < 0)
		return ret;
	*in_syscall = (long)r->orig_ax >= 0;
	if (*in_syscall) {
		switch ((long)r->ax) {
		case -ERESTARTNOHAND:
		case -ERESTARTSYS:
		case -ERESTARTNOINTR:
			r->ax = r->orig_ax;
			r->ip -= 2;
			break;
		case -ERESTART_RESTARTBLOCK:
			r->ax = -EINTR;
			break;
		}
	}
	return 0;
}

int ckpt_xstate_size(struct task_struct *t)
{
	const struct user_regset *rs = find_regset(t, NT_X86_XSTATE);

	if (!rs || (rs->active && rs->active(t, rs) <= 0))
		return 0;
	return rs->n * rs->size;
}

int ckpt_task_xstate(struct task_struct *t, void *buf, u32 size)
{
	const struct user_regset *rs = find_regset(t, NT_X86_XSTATE);

	if (!rs)
		return -EOPNOTSUPP;
	return regset_get(t, rs, size, buf);
}

/* ---- signals -------------------------------------------------------------- */

/* lock_task_sighand() is not exported: the same, for the shim files. */
struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags)
{
	struct sighand_struct *sh;

	rcu_read_lock();
	for (;;) {
		sh = rcu_dereference(t->sighand);
		if (!sh)
			break;
		spin_lock_irqsave(&sh->siglock, *flags);
		if (likely(sh == rcu_access_pointer(t->sighand)))
			break;
		spin_unlock_irqrestore(&sh->siglock, *flags);
	}
	rcu_read_unlock();
	return sh;
}

int ckpt_task_sigactions(struct task_struct *t, struct ckpt_sigaction *out)
{
	struct sighand_struct *sh;
	unsigned long flags;
	int i;

	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sh->action[i].sa;

		out[i].handler = (u64)(unsigned long)sa->sa_handler;
		out[i].flags = sa->sa_flags;
#ifdef __ARCH_HAS_SA_RESTORER
		out[i].restorer = (u64)(unsigned long)sa->sa_restorer;
#else
		out[i].restorer = 0;
#endif
		out[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

static u32 copy_queue(struct sigpending *p, void *buf, u32 max, u32 *overflow)
{
	struct sigqueue *q;
	u32 n = 0;

	list_for_each_entry(q, &p->list, list) {
		if (n == max) {
			(*overflow)++;
			break;
		}
		memcpy(buf + n * CKPT_SIGINFO_LEN, &q->info, CKPT_SIGINFO_LEN);
		n++;
	}
	return n;
}

int ckpt_task_sigstate(struct task_struct *t, struct ckpt_sigstate *st,
		       void *queued, u32 max_queued, void *shared, u32 max_shared)
{
	struct sighand_struct *sh;
	struct signal_struct *sig;
	unsigned long flags;

	BUILD_BUG_ON(sizeof(kernel_siginfo_t) != CKPT_SIGINFO_LEN);
	memset(st, 0, sizeof(*st));
	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	sig = t->signal;
	st->blocked = t->blocked.sig[0];
	st->pending = t->pending.signal.sig[0];
	st->shared_pending = sig->shared_pending.signal.sig[0];
	st->altstack_sp = t->sas_ss_sp;
	st->altstack_size = t->sas_ss_size;
	st->altstack_flags = t->sas_ss_flags;
	st->nr_queued = copy_queue(&t->pending, queued, max_queued, &st->overflow);
	st->nr_shared_queued = copy_queue(&sig->shared_pending, shared, max_shared,
					  &st->overflow);
#ifdef CONFIG_POSIX_TIMERS
	if (hrtimer_active(&sig->real_timer)) {
		ktime_t rem = __hrtimer_get_remaining(&sig->real_timer, false);

		st->real_value_ns = rem > 0 ? rem : 1;
	}
	st->real_interval_ns = sig->it_real_incr;
	st->prof_expires = sig->it[CPUCLOCK_PROF].expires;
	st->prof_incr = sig->it[CPUCLOCK_PROF].incr;
	st->virt_expires = sig->it[CPUCLOCK_VIRT].expires;
	st->virt_incr = sig->it[CPUCLOCK_VIRT].incr;
	st->posix_timers = !hlist_empty(&sig->posix_timers) ||
			   !hlist_empty(&sig->ignored_posix_timers);
#endif
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

int ckpt_task_rlimits(struct task_struct *t, u64 *out)
{
	struct task_struct *leader;
	int i;

	rcu_read_lock();
	leader = READ_ONCE(t->group_leader);
	get_task_struct(leader);
	rcu_read_unlock();
	task_lock(leader);
	if (!leader->signal) {
		task_unlock(leader);
		put_task_struct(leader);
		return -ESRCH;
	}
	for (i = 0; i < RLIM_NLIMITS; i++) {
		out[2 * i] = leader->signal->rlim[i].rlim_cur;
		out[2 * i + 1] = leader->signal->rlim[i].rlim_max;
	}
	task_unlock(leader);
	put_task_struct(leader);
	return 0;
}

/* ---- credentials -------------------------------------------------------- */

int ckpt_task_creds(struct task_struct *t, struct ckpt_creds *c, u32 *groups, u32 max)
{
	struct user_namespace *ns = current_user_ns();
	const struct cred *cred = get_task_cred(t);
	u32 i;

	c->uid = from_kuid_munged(ns, cred->uid);
	c->euid = from_kuid_munged(ns, cred->euid);
	c->suid = from_kuid_munged(ns, cred->suid);
	c->fsuid = from_kuid_munged(ns, cred->fsuid);
	c->gid = from_kgid_munged(ns, cred->gid);
	c->egid = from_kgid_munged(ns, cred->egid);
	c->sgid = from_kgid_munged(ns, cred->sgid);
	c->fsgid = from_kgid_munged(ns, cred->fsgid);
	c->cap_inheritable = cred->cap_inheritable.val;
	c->cap_permitted = cred->cap_permitted.val;
	c->cap_effective = cred->cap_effective.val;
	c->cap_bset = cred->cap_bset.val;
	c->cap_ambient = cred->cap_ambient.val;
	c->securebits = cred->securebits;
	c->ngroups = cred->group_info ? cred->group_info->ngroups : 0;
	for (i = 0; i < c->ngroups && i < max; i++)
		groups[i] = from_kgid_munged(ns, cred->group_info->gid[i]);
	put_cred(cred);
	return c->ngroups > max ? -E2BIG : 0;
}

/* ---- memory ------------------------------------------------------------- */

struct mm_struct *ckpt_task_mm(struct task_struct *t)
{
	return get_task_mm(t);
}

void ckpt_mm_put(struct mm_struct *mm)
{
	mmput(mm);
}

static int path_of(const struct path *p, char *buf, u32 len)
{
	char *s = d_path(p, buf, len);
	int n;

	if (IS_ERR(s))
		return PTR_ERR(s);
	n = strlen(s);
	memmove(buf, s, n + 1);
	return n;
}

int ckpt_mm_info(struct mm_struct *mm, struct ckpt_mm_info *mi, char *exe, u32 exelen)
{
	struct file *exe_file;
	struct path exe_path = {};
	int ret, i;

	memset(mi, 0, sizeof(*mi));
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	mi->layout[0] = mm->start_code;
	mi->layout[1] = mm->end_code;
	mi->layout[2] = mm->start_data;
	mi->layout[3] = mm->end_data;
	mi->layout[4] = mm->start_brk;
	mi->layout[5] = mm->brk;
	mi->layout[6] = mm->start_stack;
	spin_lock(&mm->arg_lock);
	mi->layout[7] = mm->arg_start;
	mi->layout[8] = mm->arg_end;
	mi->layout[9] = mm->env_start;
	mi->layout[10] = mm->env_end;
	spin_unlock(&mm->arg_lock);
	BUILD_BUG_ON(ARRAY_SIZE(mm->saved_auxv) > ARRAY_SIZE(mi->auxv));
	for (i = 0; i + 1 < ARRAY_SIZE(mm->saved_auxv); i += 2) {
		mi->auxv[i] = mm->saved_auxv[i];
		mi->auxv[i + 1] = mm->saved_auxv[i + 1];
		if (mm->saved_auxv[i] == AT_NULL) {
			i += 2;
			break;
		}
	}
	mi->auxv_len = i;
	mi->map_count = mm->map_count;
	/* get_file_rcu(): files are SLAB_TYPESAFE_BY_RCU, so a plain RCU read could
	 * copy the path of a file recycled by a concurrent PR_SET_MM_EXE_FILE. */
	rcu_read_lock();
	exe_file = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	if (exe_file) {
		exe_path = exe_file->f_path;
		path_get(&exe_path);
		fput(exe_file);
	}
	mmap_read_unlock(mm);
	exe[0] = 0;
	if (exe_path.dentry) {
		ret = path_of(&exe_path, exe, exelen);
		path_put(&exe_path);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool file_is_private_shmem(struct file *f)
{
	struct inode *inode = file_inode(f);

	return inode->i_sb->s_magic == TMPFS_MAGIC && IS_PRIVATE(inode);
}

/* The image's vmflag bits (image::vmflag) of VMA flags @f. */
static u32 vma_semflags(vm_flags_t f)
{
	return ((f & VM_SHARED) ? 1u << 0 : 0) | ((f & VM_GROWSDOWN) ? 1u << 1 : 0) |
	       ((f & VM_LOCKED) ? 1u << 2 : 0) | ((f & VM_DONTCOPY) ? 1u << 3 : 0) |
	       ((f & VM_DONTDUMP) ? 1u << 4 : 0) | ((f & VM_MAYREAD) ? 1u << 5 : 0) |
	       ((f & VM_MAYWRITE) ? 1u << 6 : 0) | ((f & VM_MAYEXEC) ? 1u << 7 : 0) |
	       ((f & VM_HUGEPAGE) ? 1u << 8 : 0) | ((f & VM_NOHUGEPAGE) ? 1u << 9 : 0) |
	       ((f & VM_DROPPABLE) ? 1u << 10 : 0);
}

static u32 vma_prot(vm_flags_t f)
{
	return ((f & VM_READ) ? PROT_READ : 0) | ((f & VM_WRITE) ? PROT_WRITE : 0) |
	       ((f & VM_EXEC) ? PROT_EXEC : 0);
}

/* The first VMA ending above addr.  Returns 1 and fills vi (and *file, with a
 * reference, for file mappings), 0 if there is none, or -errno. */
int ckpt_mm_vma(struct mm_struct *mm, u64 addr, struct ckpt_vma_info *vi, struct file **file)
{
	struct vm_area_struct *vma;
	const char *name = NULL;
	vm_flags_t f;
	int ret;

	memset(vi, 0, sizeof(*vi));
	*file = NULL;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	vma = find_vma(mm, addr);
	if (!vma) {
		mmap_read_unlock(mm);
		return 0;
	}
	f = vma->vm_flags;
	vi->start = vma->vm_start;
	vi->end = vma->vm_end;
	vi->pgoff = vma->vm_pgoff;
	vi->vm_flags = f;
	vi->prot = ((f & VM_READ) ? PROT_READ : 0) | ((f & VM_WRITE) ? PROT_WRITE : 0) |
		   ((f & VM_EXEC) ? PROT_EXEC : 0);
	if (vma->anon_vma)
		vi->flags |= CKPT_VMA_ANON_VMA;
	if (f & (VM_PFNMAP | VM_IO | VM_MIXEDMAP))
		vi->flags |= CKPT_VMA_PFNMAP;
	if (is_vm_hugetlb_page(vma))
		vi->flags |= CKPT_VMA_HUGETLB;
	if (f & VM_WIPEONFORK)
		vi->flags |= CKPT_VMA_WIPEONFORK;
	if (f & VM_SEALED)
		vi->flags |= CKPT_VMA_SEALED;
	if (vma_pkey(vma))
		vi->flags |= CKPT_VMA_PKEY;
	if (f & VM_SHADOW_STACK)
		vi->flags |= CKPT_VMA_SHADOW_STACK;
	if (f & VM_DROPPABLE)
		vi->flags |= CKPT_VMA_DROPPABLE;
	if (f & VM_LOCKONFAULT)
		vi->flags |= CKPT_VMA_LOCKONFAULT;
	if (vma->vm_ops && vma->vm_ops->name) {
		name = vma->vm_ops->name(vma);
		if (name)
			vi->flags |= CKPT_VMA_SPECIAL;
	}
	copy_str(vi->name, sizeof(vi->name), name);
	if (vma->vm_file) {
		if (file_is_private_shmem(vma->vm_file) && (f & VM_SHARED))
			vi->flags |= CKPT_VMA_SHMEM;
		*file = get_file(vma->vm_file);
	}
	vi->semflags = vma_semflags(f);
	mmap_read_unlock(mm);
	return 1;
}

#define DUMP_BATCH 64

/*
 * Take references on the pages of [start, end) that hold data (up to max
 * pages) into out, their addresses into addrs.  Holes and the zero page are skipped without
 * faulting anything in (FOLL_DUMP, as core dumps do); all-zero pages are
 * skipped; with anon_only, page-cache pages (clean pages of a private file
 * mapping) are skipped too.  *next is where to continue.  Returns the number
 * of pages stored or -errno.
 */
long ckpt_mm_pin_pages(struct mm_struct *mm, u64 start, u64 end, bool anon_only,
		       struct page **out, u64 *addrs, u32 max, u64 *next)
{
	struct page *pages[DUMP_BATCH];
	u64 addr = start;
	long stored = 0;
	int ret = 0;

	while (addr < end && stored < max) {
		long n = min3((long)((end - addr) >> PAGE_SHIFT), (long)(max - stored),
			      (long)DUMP_BATCH);
		long got, i;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = mmap_read_lock_killable(mm);
		if (ret)
			break;
		got = get_user_pages_remote(mm, addr, n, FOLL_DUMP | FOLL_FORCE, pages, NULL);
		mmap_read_unlock(mm);
		if (got == -EFAULT) {
			/* A hole (or the zero page): nothing to save here. */
			addr += PAGE_SIZE;
			ret = 0;
			continue;
		}
		if (got < 0) {
			ret = got;
			break;
		}
		for (i = 0; i < got; i++) {
			struct page *page = pages[i];
			void *kaddr;

			bool keep = false;

			if (!anon_only || PageAnon(page)) {
				/*
				 * A zero page can be left out only where absence
				 * means zero: not over a file's contents.
				 */
				kaddr = kmap_local_page(page);
				keep = anon_only || memchr_inv(kaddr, 0, PAGE_SIZE);
				kunmap_local(kaddr);
			}
			if (keep) {
				/* The reference goes to the caller. */
				out[stored] = page;
				addrs[stored++] = addr + i * PAGE_SIZE;
			} else {
				put_page(page);
			}
		}
		addr += got * PAGE_SIZE;
		ret = 0;
		cond_resched();
	}
	*next = addr;
	return ret ? ret : stored;
}

/*
 * For each i with want[i] set: whether @mm maps, at addrs[i] (ascending), the
 * very page pages[i] (on which the caller holds a reference, so that it cannot
 * have been freed and reused): want[i] is left set only then.  A page mapped
 * by one address space only is not looked up.  Nothing is faulted in
 * (FOLL_DUMP); consecutive addresses are looked up together.
 */
int ckpt_mm_same_pages(struct mm_struct *mm, const u64 *addrs, struct page *const *pages, u32 n,
		       u8 *want)
{
	struct page *got_pages[DUMP_BATCH];
	u32 i = 0;
	int ret;

	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	while (i < n) {
		u32 run = 1, j;
		long got;

		/* A page only its own process maps is nobody else's. */
		if (want[i] && !folio_maybe_mapped_shared(page_folio(pages[i])))
			want[i] = 0;
		if (!want[i]) {
			i++;
			continue;
		}
		while (i + run < n && run < DUMP_BATCH && want[i + run] &&
		       folio_maybe_mapped_shared(page_folio(pages[i + run])) &&
		       addrs[i + run] == addrs[i] + ((u64)run << PAGE_SHIFT))
			run++;
		got = get_user_pages_remote(mm, addrs[i], run, FOLL_DUMP | FOLL_FORCE, got_pages,
					    NULL);
		if (got <= 0) {
			/* A hole (or the zero page) at addrs[i]: not that page. */
			want[i++] = 0;
			continue;
		}
		for (j = 0; j < got; j++) {
			want[i + j] = got_pages[j] == pages[i + j];
			put_page(got_pages[j]);
		}
		i += got;
	}
	mmap_read_unlock(mm);
	return 0;
}

/* Drops references taken by ckpt_mm_pin_pages() (@pinned false) or pins taken
 * by ckpt_cur_hold_pages() (@pinned: the pages were written, marked dirty). */
void ckpt_pages_put(struct page **pages, u32 n, bool pinned)
{
	u32 i;

	if (pinned) {
		unpin_user_pages_dirty_lock(pages, n, true);
		return;
	}
	for (i = 0; i < n; i++)
		put_page(pages[i]);
}

/* Maps one page for reading (kmap_local: unmap before mapping the next). */
const void *ckpt_page_map(struct page *page)
{
	return kmap_local_page(page);
}

void ckpt_page_unmap(const void *addr)
{
	kunmap_local(addr);
}

/* A bvec iov_iter over @n whole pages (direction @dir); returns the bvec array
 * to kvfree() afterwards, or NULL. */
static struct bio_vec *pages_iter(struct iov_iter *iter, unsigned int dir, struct page **pages,
				  u32 n)
{
	struct bio_vec *bv = kvmalloc_array(n, sizeof(*bv), GFP_KERNEL);
	u32 i;

	if (!bv)
		return NULL;
	for (i = 0; i < n; i++)
		bvec_set_page(&bv[i], pages[i], PAGE_SIZE, 0);
	iov_iter_bvec(iter, dir, bv, n, (size_t)n << PAGE_SHIFT);
	return bv;
}

/* I/O for the module is not restarted: a -ERESTART* is -EINTR. */
static ssize_t no_restart(ssize_t r)
{
	if (r == -ERESTARTSYS || r == -ERESTARTNOINTR || r == -ERESTARTNOHAND)
		return -EINTR;
	return r;
}

/* ---- files -------------------------------------------------------------- */

struct file *ckpt_task_next_file(struct task_struct *t, u32 *fd)
{
	unsigned int n = *fd;
	struct file *f = fget_task_next(t, &n);

	*fd = n;
	return f;
}

int ckpt_task_fd_cloexec(struct task_struct *t, u32 fd)
{
	struct files_struct *files;
	int ret = -EBADF;

	task_lock(t);
	files = t->files;
	if (files) {
		spin_lock(&files->file_lock);
		ret = close_on_exec(fd, files) ? 1 : 0;
		spin_unlock(&files->file_lock);
	}
	task_unlock(t);
	return ret;
}

void ckpt_file_put(struct file *f)
{
	fput(f);
}

static struct pipe_inode_info *file_pipe(struct file *f)
{
	struct inode *inode = file_inode(f);

	/* Pipes and opened fifos keep the pipe in both places. */
	if (S_ISFIFO(inode->i_mode) && inode->i_pipe && f->private_data == inode->i_pipe)
		return inode->i_pipe;
	return NULL;
}

int ckpt_file_info(struct file *f, struct ckpt_file_info *fi, char *path, u32 pathlen)
{
	struct inode *inode = file_inode(f);
	struct timespec64 mt = inode_get_mtime(inode);
	umode_t mode = inode->i_mode;
	u32 magic = inode->i_sb->s_magic;
	struct pipe_inode_info *pipe;
	int ret;

	memset(fi, 0, sizeof(*fi));
	fi->flags = f->f_flags;
	fi->mode = mode;
	fi->pos = f->f_pos;
	fi->size = i_size_read(inode);
	fi->mtime_ns = timespec64_to_ns(&mt);
	fi->fs_magic = magic;
	fi->unlinked = d_unlinked(f->f_path.dentry);
	fi->rdev = (MAJOR(inode->i_rdev) << 20) | MINOR(inode->i_rdev);
	if (S_ISSOCK(mode) || magic == SOCKFS_MAGIC)
		fi->kind = CKPT_FK_SOCKET;
	else if (magic == ANON_INODE_FS_MAGIC)
		fi->kind = CKPT_FK_ANON;
	else if (S_ISFIFO(mode))
		fi->kind = magic == PIPEFS_MAGIC ? CKPT_FK_PIPE : CKPT_FK_FIFO;
	else if (S_ISREG(mode))
		fi->kind = CKPT_FK_REG;
	else if (S_ISDIR(mode))
		fi->kind = CKPT_FK_DIR;
	else if (S_ISCHR(mode))
		fi->kind = CKPT_FK_CHR;
	else if (S_ISLNK(mode))
		fi->kind = CKPT_FK_LNK;
	else
		fi->kind = CKPT_FK_OTHER;
	fi->refs = min_t(long, file_count(f), U32_MAX);
	fi->nlink = inode->i_nlink;
	fi->uid = from_kuid_munged(current_user_ns(), inode->i_uid);
	fi->gid = from_kgid_munged(current_user_ns(), inode->i_gid);
	fi->ino = inode->i_ino;
	fi->inode_key = (u64)(unsigned long)inode;
	if (shmem_file(f))
		fi->seals = SHMEM_I(inode)->seals;
	pipe = file_pipe(f);
	if (pipe) {
		fi->pipe_key = (u64)(unsigned long)pipe;
		pipe_lock(pipe);
		fi->pipe_opens = pipe->readers + pipe->writers;
		fi->pipe_capacity = pipe->max_usage << PAGE_SHIFT;
		fi->pipe_len = 0;
		{
			unsigned int tail = pipe->tail, head = pipe->head;
			unsigned int mask = pipe->ring_size - 1;

			for (; tail != head; tail++)
				fi->pipe_len += pipe->bufs[tail & mask].len;
		}
		pipe_unlock(pipe);
	}
	ret = path_of(&f->f_path, path, pathlen);
	return ret < 0 ? ret : 0;
}

/* Copy the bytes buffered in a pipe without consuming them. */
int ckpt_pipe_peek(struct file *f, void *buf, u32 buflen)
{
	struct pipe_inode_info *pipe = file_pipe(f);
	unsigned int tail, head, mask;
	u32 n = 0;

	if (!pipe)
		return -EINVAL;
	pipe_lock(pipe);
	tail = pipe->tail;
	head = pipe->head;
	mask = pipe->ring_size - 1;
	for (; tail != head; tail++) {
		struct pipe_buffer *b = &pipe->bufs[tail & mask];
		void *kaddr;

		if (n + b->len > buflen) {
			pipe_unlock(pipe);
			return -EOVERFLOW;
		}
		kaddr = kmap_local_page(b->page);
		memcpy(buf + n, kaddr + b->offset, b->len);
		kunmap_local(kaddr);
		n += b->len;
	}
	pipe_unlock(pipe);
	return n;
}

int ckpt_task_fs(struct task_struct *t, u32 *umask, char *cwd, u32 cwdlen, char *root, u32 rootlen)
{
	struct path pwd, rt;
	int ret;

	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	*umask = t->fs->umask;
	get_fs_pwd(t->fs, &pwd);
	get_fs_root(t->fs, &rt);
	task_unlock(t);
	ret = path_of(&pwd, cwd, cwdlen);
	if (ret >= 0)
		ret = path_of(&rt, root, rootlen);
	path_put(&pwd);
	path_put(&rt);
	return ret < 0 ? ret : 0;
}

/*
 * 1, and the mode and the identity of the inode of @t's working directory, if
 * that was deleted; else 0.
 */
int ckpt_task_cwd_deleted(struct task_struct *t, u32 *mode, u64 *key)
{
	struct path pwd;
	int ret;

	*mode = 0;
	*key = 0;
	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	get_fs_pwd(t->fs, &pwd);
	task_unlock(t);
	ret = d_unlinked(pwd.dentry);
	if (ret) {
		*mode = d_inode(pwd.dentry)->i_mode;
		*key = (u64)(unsigned long)d_inode(pwd.dentry);
	}
	path_put(&pwd);
	return ret;
}

/* ---- output ------------------------------------------------------------- */

struct file *ckpt_fget_writable(int fd, int *err)
{
	struct file *f = fget(fd);

	if (!f) {
		*err = -EBADF;
		return NULL;
	}
	if (!(f->f_mode & FMODE_WRITE)) {
		fput(f);
		*err = -EBADF;
		return NULL;
	}
	if (!(f->f_mode & FMODE_CAN_WRITE)) {
		/* Neither write nor write_iter: kernel_write() cannot use it. */
		fput(f);
		*err = -EINVAL;
		return NULL;
	}
	*err = 0;
	return f;
}

/* Write all of buf at the file's position (like write(2) on the caller's fd). */
ssize_t ckpt_file_write(struct file *f, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		loff_t pos = f->f_pos;
		/* Never restart a half-written image: the caller sees EINTR. */
		ssize_t n = no_restart(kernel_write(f, buf + done, len - done, &pos));

		if (n < 0)
			return n;	/* the image is incomplete either way */
		if (n == 0)
			return -EIO;
		if (!(f->f_mode & FMODE_STREAM))
			f->f_pos = pos;
		done += n;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return done;
}

/* ---- misc --------------------------------------------------------------- */

/* An open /dev/ckpt pins the module (the Rust misc device layer sets no
 * file_operations owner). */
bool ckpt_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void ckpt_module_put(void)
{
	module_put(THIS_MODULE);
}

/* The caller's effective uid as the initial user namespace sees it. */
u32 ckpt_current_global_euid(void)
{
	return from_kuid(&init_user_ns, current_euid());
}

/*
 * Makes the credentials of whoever opened the file of @k current's (subjective)
 * ones, as an interface that acts on read() and write() must judge them (not
 * the caller's: a set-uid program handed the fd would be a confused deputy);
 * returns the previous ones for ckpt_revert_creds().  The file holds f_cred.
 */
const struct cred *ckpt_override_creds(struct kiocb *k)
{
	return override_creds(k->ki_filp->f_cred);
}

void ckpt_revert_creds(const struct cred *old)
{
	revert_creds(old);
}

u64 ckpt_now_ns(void)
{
	return ktime_get_real_ns();
}

int ckpt_uts(char *release, u32 rlen, char *node, u32 nlen)
{
	struct new_utsname *u = utsname();

	copy_str(release, rlen, u->release);
	copy_str(node, nlen, u->nodename);
	return 0;
}

bool ckpt_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}


/* ---- layout guard ---------------------------------------------------------- */

void ckpt_layout(struct ckpt_layout *l)
{
	l->task_struct_size = sizeof(struct task_struct);
	l->task_pid = offsetof(struct task_struct, pid);
	l->task_tgid = offsetof(struct task_struct, tgid);
	l->task_mm = offsetof(struct task_struct, mm);
	l->task_comm = offsetof(struct task_struct, comm);
	l->task_group_leader = offsetof(struct task_struct, group_leader);
	l->task_real_cred = offsetof(struct task_struct, real_cred);
	l->task_cred = offsetof(struct task_struct, cred);
	l->task_flags = offsetof(struct task_struct, flags);
	l->mm_struct_size = sizeof(struct mm_struct);
	l->file_size = sizeof(struct file);
	l->file_f_flags = offsetof(struct file, f_flags);
	l->file_f_cred = offsetof(struct file, f_cred);
	l->file_f_mode = offsetof(struct file, f_mode);
	l->cred_uid = offsetof(struct cred, uid);
	l->cred_euid = offsetof(struct cred, euid);
	l->task_info_size = sizeof(struct ckpt_task_info);
	l->task_info_files_key = offsetof(struct ckpt_task_info, files_key);
	l->file_info_size = sizeof(struct ckpt_file_info);
	l->file_info_inode_key = offsetof(struct ckpt_file_info, inode_key);
	l->vma_info_size = sizeof(struct ckpt_vma_info);
	l->mm_info_size = sizeof(struct ckpt_mm_info);
	l->creds_size = sizeof(struct ckpt_creds);
	l->sigstate_size = sizeof(struct ckpt_sigstate);
	l->sigaction_size = sizeof(struct ckpt_sigaction);
}

/* ---- restart: changes to the calling task -------------------------------- */

/* 0 if current is alone in its thread group and address space. */
struct task_struct *ckpt_task_current(void)
{
	return get_task_struct(current);
}

s32 ckpt_current_pid(void)
{
	return task_tgid_vnr(current);
}

/* Where current's special mapping @name ([vdso], [vvar], ...) is. */
int ckpt_cur_special(const char *name, u64 *start, u64 *end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	int ret = -ENOENT;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		const char *n = vma->vm_ops && vma->vm_ops->name ? vma->vm_ops->name(vma) : NULL;

		if (n && !strcmp(n, name)) {
			*start = vma->vm_start;
			*end = vma->vm_end;
			ret = 0;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

static bool vma_is_named_special(struct vm_area_struct *vma)
{
	return vma->vm_ops && vma->vm_ops->name && vma->vm_ops->name(vma);
}

static bool vma_is_sysv(struct vm_area_struct *vma)
{
	struct file *f = vma->vm_file;

	return f && (vma->vm_flags & VM_SHARED) &&
	       file_inode(f)->i_sb->s_magic == TMPFS_MAGIC &&
	       !strncmp(f->f_path.dentry->d_name.name, "SYSV", 4);
}

/* Flags a private anonymous mapping of the restarter may have and still be
 * taken over by a restart (see ckpt_cur_anon_ranges()). */
#define KEEPABLE_FLAGS                                                                      \
	(VM_READ | VM_WRITE | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | \
	 VM_ACCOUNT | VM_SOFTDIRTY | VM_MAYBE_GUARD)

static bool vma_keepable(struct vm_area_struct *vma)
{
	if (!vma_is_anonymous(vma) || vma->vm_file || (vma->vm_flags & ~KEEPABLE_FLAGS) ||
	    userfaultfd_armed(vma) || vma_policy(vma))
		return false;
#ifdef CONFIG_ANON_VMA_NAME
	if (vma->anon_name)
		return false;
#endif
	return true;
}

static bool range_kept(struct vm_area_struct *vma, const u64 *keep, u32 nkeep)
{
	u32 lo = 0, hi = nkeep;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (keep[2 * mid] < vma->vm_start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nkeep && keep[2 * lo] == vma->vm_start && keep[2 * lo + 1] == vma->vm_end &&
	       vma_keepable(vma);
}

/*
 * Unmaps everything in current's address space but its SysV attachments
 * (dropped afterwards, see ckpt_cur_sysv_ranges(): a segment marked for
 * removal must stay attached until it is attached again), unless @specials
 * the vdso & co, and the mappings that are exactly one of the @nkeep (start,
 * end) pairs of @keep (ascending) and that ckpt_cur_anon_ranges() would list.
 */
int ckpt_cur_unmap_all(bool specials, const u64 *keep, u32 nkeep)
{
	struct mm_struct *mm = current->mm;
	u64 addr = 0;

	for (;;) {
		struct vm_area_struct *vma;
		u64 start, end;
		int ret;

		mmap_read_lock(mm);
		for (vma = find_vma(mm, addr);
		     vma && ((!specials && vma_is_named_special(vma)) || vma_is_sysv(vma) ||
			     range_kept(vma, keep, nkeep));
		     vma = find_vma(mm, vma->vm_end))
			;
		if (!vma) {
			mmap_read_unlock(mm);
			return 0;
		}
		start = vma->vm_start;
		end = vma->vm_end;
		mmap_read_unlock(mm);
		ret = vm_munmap(start, end - start);
		if (ret)
			return ret;
		addr = end;
	}
}

long ckpt_cur_mmap(struct file *f, u64 addr, u64 len, u32 prot, u32 flags, u64 off)
{
	unsigned long r = vm_mmap(f, addr, len, prot, flags, off);

	if (IS_ERR_VALUE(r))
		return (long)r;
	return r == addr ? 0 : -EFAULT;
}

/* Layout fields and auxv, as prctl(PR_SET_MM_MAP) would set them. */
int ckpt_cur_set_layout(const u64 *l, const u64 *auxv, u32 auxv_len)
{
	struct mm_struct *mm = current->mm;
	int i;

	if (auxv_len > ARRAY_SIZE(mm->saved_auxv))
		return -EINVAL;
	for (i = 0; i < 11; i++)
		if (l[i] >= TASK_SIZE)
			return -EINVAL;
	mmap_write_lock(mm);
	mm->start_code = l[0];
	mm->end_code = l[1];
	mm->start_data = l[2];
	mm->end_data = l[3];
	mm->start_brk = l[4];
	mm->brk = l[5];
	mm->start_stack = l[6];
	spin_lock(&mm->arg_lock);
	mm->arg_start = l[7];
	mm->arg_end = l[8];
	mm->env_start = l[9];
	mm->env_end = l[10];
	spin_unlock(&mm->arg_lock);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	for (i = 0; i < auxv_len; i++)
		mm->saved_auxv[i] = auxv[i];
	mmap_write_unlock(mm);
	return 0;
}

#define FILL_BATCH 64

/*
 * Fills @npages whole pages of current's memory from @addr (page-aligned)
 * with @data: pin_user_pages faults each page in and pins it (FOLL_PIN, as
 * any writer of page contents through GUP must: a merely referenced anonymous
 * page could be swapped out under the write), the data is copied through the
 * kernel mapping and the pages are unpinned dirty, FILL_BATCH pages per
 * mmap_lock hold.  @force writes through read-only private mappings (into a COW copy)
 * as ptrace would.
 */
int ckpt_cur_fill_pages(u64 addr, const void *data, u32 npages, bool force)
{
	struct mm_struct *mm = current->mm;
	unsigned int flags = FOLL_WRITE | (force ? FOLL_FORCE : 0);
	struct page *pages[FILL_BATCH];
	u32 done = 0;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	while (done < npages) {
		long n = min_t(long, npages - done, FILL_BATCH);
		long got, i;

		if (fatal_signal_pending(current))
			return -EINTR;
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		got = pin_user_pages_remote(mm, addr + ((u64)done << PAGE_SHIFT), n, flags, pages,
					    NULL);
		if (got <= 0) {
			mmap_read_unlock(mm);
			return got ? got : -EFAULT;
		}
		for (i = 0; i < got; i++) {
			void *k = kmap_local_page(pages[i]);

			memcpy(k, data + ((size_t)(done + i) << PAGE_SHIFT), PAGE_SIZE);
			kunmap_local(k);
		}
		/* Written: dirty, anonymous or not (a clean anonymous page in the
		 * swap cache would otherwise be dropped with the data). */
		unpin_user_pages_dirty_lock(pages, got, true);
		mmap_read_unlock(mm);
		done += got;
		cond_resched();
	}
	return 0;
}

/*
 * Takes a reference on each of the @npages pages of current's memory from
 * @addr (page-aligned) into @out, faulted in for writing as
 * ckpt_cur_fill_pages() does.  Returns @npages or -errno (and then holds
 * nothing).
 */
long ckpt_cur_hold_pages(u64 addr, u32 npages, bool force, struct page **out)
{
	struct mm_struct *mm = current->mm;
	unsigned int flags = FOLL_WRITE | (force ? FOLL_FORCE : 0);
	long got = 0;
	u32 done = 0;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	while (done < npages) {
		if (fatal_signal_pending(current) || mmap_read_lock_killable(mm)) {
			got = -EINTR;
			break;
		}
		got = pin_user_pages_remote(mm, addr + ((u64)done << PAGE_SHIFT), npages - done,
					    flags, out + done, NULL);
		mmap_read_unlock(mm);
		if (got <= 0) {
			got = got ? got : -EFAULT;
			break;
		}
		done += got;
	}
	if (done == npages)
		return done;
	unpin_user_pages(out, done);
	return got;
}

/*
 * Gives the page of current's memory at @addr the contents @data: keeps the
 * anonymous page there if it holds them already (a page shared copy-on-write
 * with the process this one was forked from), else writes them as
 * ckpt_cur_fill_pages() does.  Returns 1 if kept, 0 if written, or -errno.
 */
int ckpt_cur_keep_or_fill(u64 addr, const void *data, bool force)
{
	struct mm_struct *mm = current->mm;
	struct page *page;
	bool same = false;
	long got;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	got = get_user_pages_remote(mm, addr, 1, FOLL_DUMP | FOLL_FORCE, &page, NULL);
	mmap_read_unlock(mm);
	if (got == 1) {
		if (PageAnon(page)) {
			const void *k = kmap_local_page(page);

			same = !memcmp(k, data, PAGE_SIZE);
			kunmap_local(k);
		}
		put_page(page);
	}
	if (same)
		return 1;
	return ckpt_cur_fill_pages(addr, data, 1, force);
}

/*
 * The private anonymous mappings of current that a restart may take over as
 * they are (with their pages): plain ones, with no file, policy, name,
 * userfaultfd, lock or madvise state.  Up to @max (start, end, prot,
 * image vmflag bits) quadruples into @out; returns how many, or -errno.
 */
long ckpt_cur_anon_ranges(u64 *out, u32 max)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long n = 0;
	VMA_ITERATOR(vmi, mm, 0);

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		if (!vma_keepable(vma))
			continue;
		if (n == max) {
			n = -E2BIG;
			break;
		}
		out[4 * n] = vma->vm_start;
		out[4 * n + 1] = vma->vm_end;
		out[4 * n + 2] = vma_prot(vma->vm_flags);
		out[4 * n + 3] = vma_semflags(vma->vm_flags);
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

/*
 * Drops the pages of [start, end) of current's mapping there (one that
 * ckpt_cur_anon_ranges() lists), as madvise(MADV_DONTNEED) would: the range
 * reads as zeroes again.
 */
int ckpt_cur_zap(u64 start, u64 end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start > start || vma->vm_end < end || !vma_keepable(vma))
		ret = -EINVAL;
	else
		zap_vma_range(vma, start, end - start);
	mmap_read_unlock(mm);
	return ret;
}

struct file *ckpt_open_path(const char *path, u32 flags, int *err)
{
	struct file *f;

	/* O_NOCTTY stays: a terminal reopened never becomes a controlling terminal. */
	flags &= ~(O_CREAT | O_EXCL | O_TRUNC);
	f = filp_open(path, flags | O_LARGEFILE, 0);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	*err = 0;
	return f;
}

/*
 * If @f is an open pseudo-terminal master or slave: its pair's number, lock,
 * the slave's termios and the window size; returns 1 (0: not a pty end).
 */
int ckpt_file_pty(struct file *f, struct ckpt_pty_info *pi)
{
	struct tty_struct *tty, *slave;
	int i;

	memset(pi, 0, sizeof(*pi));
	if (!S_ISCHR(file_inode(f)->i_mode) || (f->f_mode & FMODE_PATH) || !f->private_data)
		return 0;
	if (!(imajor(file_inode(f)) == TTYAUX_MAJOR && iminor(file_inode(f)) == 2) &&
	    (imajor(file_inode(f)) < UNIX98_PTY_SLAVE_MAJOR ||
	     imajor(file_inode(f)) >= UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT))
		return 0;
	tty = ((struct tty_file_private *)f->private_data)->tty;	/* file_tty(), private to drivers/tty */
	if (!tty || tty->driver->type != TTY_DRIVER_TYPE_PTY ||
	    !(tty->driver->flags & TTY_DRIVER_DEVPTS_MEM))
		return 0;
	pi->master = tty->driver->subtype == PTY_TYPE_MASTER;
	slave = pi->master ? tty->link : tty;
	if (!slave)
		return 0;
	pi->index = tty->index;
	pi->locked = pi->master && test_bit(TTY_PTY_LOCK, &tty->flags);
	/* Bytes waiting to be read (a complete line in canonical mode) are not saved. */
	pi->unread = !!(vfs_poll(f, NULL) & EPOLLIN);
	if (slave->driver_data) {
		struct inode *si = d_inode((struct dentry *)slave->driver_data);

		pi->uid = from_kuid_munged(current_user_ns(), si->i_uid);
		pi->gid = from_kgid_munged(current_user_ns(), si->i_gid);
		pi->mode = si->i_mode;
	}
	down_read(&slave->termios_rwsem);
	pi->flags[0] = slave->termios.c_iflag;
	pi->flags[1] = slave->termios.c_oflag;
	pi->flags[2] = slave->termios.c_cflag;
	pi->flags[3] = slave->termios.c_lflag;
	pi->speed[0] = slave->termios.c_ispeed;
	pi->speed[1] = slave->termios.c_ospeed;
	pi->line = slave->termios.c_line;
	for (i = 0; i < 19 && i < NCCS; i++)
		pi->cc[i] = slave->termios.c_cc[i];
	up_read(&slave->termios_rwsem);
	mutex_lock(&slave->winsize_mutex);
	pi->winsize[0] = slave->winsize.ws_row;
	pi->winsize[1] = slave->winsize.ws_col;
	pi->winsize[2] = slave->winsize.ws_xpixel;
	pi->winsize[3] = slave->winsize.ws_ypixel;
	mutex_unlock(&slave->winsize_mutex);
	return 1;
}

/*
 * A new open file description of @f's file with @flags and the caller's
 * credentials; with @check, only if the caller may open it so (the permission
 * check an open by path would make, which the path of a deleted file cannot).
 */
struct file *ckpt_file_reopen(struct file *f, u32 flags, bool check, int *err)
{
	struct file *n;
	int mask = 0;

	flags &= ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_TMPFILE);
	if ((flags & O_ACCMODE) != O_WRONLY)
		mask |= MAY_READ;
	if ((flags & O_ACCMODE) != O_RDONLY)
		mask |= MAY_WRITE;
	if (check && !(flags & O_PATH)) {
		*err = inode_permission(file_mnt_idmap(f), file_inode(f), mask);
		if (*err)
			return NULL;
	}
	n = dentry_open(&f->f_path, flags | O_LARGEFILE, current_cred());
	if (IS_ERR(n)) {
		*err = PTR_ERR(n);
		return NULL;
	}
	*err = 0;
	return n;
}

/*
 * A new unnamed regular file (O_TMPFILE) in directory @dir, open for reading
 * and writing, with exactly @mode (the umask does not apply).
 */
struct file *ckpt_open_tmpfile(const char *dir, u32 mode, int *err)
{
	struct inode *inode;
	struct file *f;

	f = filp_open(dir, O_TMPFILE | O_RDWR | O_LARGEFILE, mode & 07777);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	inode = file_inode(f);
	if ((inode->i_mode & 07777) != (mode & 07777)) {
		struct iattr ia = {
			.ia_valid = ATTR_MODE,
			.ia_mode = (inode->i_mode & S_IFMT) | (mode & 07777),
		};

		inode_lock(inode);
		*err = notify_change(file_mnt_idmap(f), f->f_path.dentry, &ia, NULL);
		inode_unlock(inode);
		if (*err) {
			fput(f);
			return NULL;
		}
	}
	*err = 0;
	return f;
}

/* Gives @f's inode the owner @uid/@gid (as the caller's user namespace names them). */
int ckpt_file_chown(struct file *f, u32 uid, u32 gid)
{
	struct inode *inode = file_inode(f);
	struct iattr ia = {
		.ia_valid = ATTR_UID | ATTR_GID,
		.ia_vfsuid = VFSUIDT_INIT(make_kuid(current_user_ns(), uid)),
		.ia_vfsgid = VFSGIDT_INIT(make_kgid(current_user_ns(), gid)),
	};
	int ret;

	if (!uid_valid(make_kuid(current_user_ns(), uid)) ||
	    !gid_valid(make_kgid(current_user_ns(), gid)))
		return -EINVAL;
	inode_lock(inode);
	ret = notify_change(file_mnt_idmap(f), f->f_path.dentry, &ia, NULL);
	inode_unlock(inode);
	return ret;
}

int ckpt_file_truncate(struct file *f, u64 size)
{
	if (size > LLONG_MAX)
		return -EFBIG;
	return vfs_truncate(&f->f_path, size);
}

int ckpt_file_seek(struct file *f, s64 pos)
{
	loff_t r;

	if (!(f->f_mode & FMODE_LSEEK))
		return pos ? -ESPIPE : 0;
	r = vfs_llseek(f, pos, SEEK_SET);
	if (r < 0)
		return r;
	return r == pos ? 0 : -EIO;
}

struct file *ckpt_fget(int fd)
{
	return fget(fd);
}

int ckpt_cur_close_fds(void)
{
	unsigned int fd = 0;
	struct file *f;

	while ((f = fget_task_next(current, &fd))) {
		fput(f);
		close_fd(fd);
		fd++;
	}
	return 0;
}

int ckpt_cur_reserve_fd(bool cloexec)
{
	return get_unused_fd_flags(cloexec ? O_CLOEXEC : 0);
}

void ckpt_cur_unreserve_fd(int fd)
{
	put_unused_fd(fd);
}

/* Installs @f (taking a new reference) at the reserved @fd. */
void ckpt_cur_install_fd(int fd, struct file *f)
{
	fd_install(fd, get_file(f));
}

/* Reads up to @len bytes at *pos (the whole of it unless EOF comes first). */
ssize_t ckpt_file_read(struct file *f, void *buf, size_t len, s64 *pos)
{
	size_t done = 0;

	while (done < len) {
		loff_t p = *pos;
		ssize_t n = no_restart(kernel_read(f, buf + done, len - done, &p));

		if (n < 0)
			return done ? done : n;
		if (n == 0)
			break;
		*pos = p;
		done += n;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return done;
}

/*
 * Reads whole pages from @f at *@pos straight into @pages (a bvec iov_iter,
 * no intermediate buffer), pages of a user address space pinned by
 * ckpt_cur_hold_pages() (FOLL_PIN, as direct I/O into user memory takes them;
 * ckpt_pages_put() marks them dirty as it unpins them).  Returns the bytes
 * read (fewer only at the end of the file) or -errno.
 */
ssize_t ckpt_file_read_pages(struct file *f, struct page **pages, u32 n, s64 *pos)
{
	struct iov_iter iter;
	struct bio_vec *bv = pages_iter(&iter, ITER_DEST, pages, n);
	ssize_t done = 0;

	if (!bv)
		return -ENOMEM;
	while (iov_iter_count(&iter)) {
		loff_t p = *pos;
		ssize_t r = no_restart(vfs_iter_read(f, &iter, &p, 0));

		if (r < 0) {
			done = r;
			break;
		}
		if (r == 0)
			break;
		*pos = p;
		done += r;
		if (fatal_signal_pending(current)) {
			done = -EINTR;
			break;
		}
	}
	kvfree(bv);
	return done;
}

/* The O_APPEND/O_NONBLOCK/O_DIRECT/O_NOATIME part of f_flags, as fcntl(F_SETFL). */
void ckpt_file_set_flags(struct file *f, u32 flags)
{
	const u32 settable = O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT | O_NOATIME;

	spin_lock(&f->f_lock);
	f->f_flags = (f->f_flags & ~settable) | (flags & settable);
	spin_unlock(&f->f_lock);
}

/* The modification time of @f's inode (the access time is left). */
int ckpt_file_set_mtime(struct file *f, s64 mtime_ns)
{
	struct timespec64 t[2] = {
		{ .tv_nsec = UTIME_OMIT },
		ns_to_timespec64(mtime_ns),
	};

	return vfs_utimes(&f->f_path, t);
}

bool ckpt_file_readable(struct file *f)
{
	return f->f_mode & FMODE_READ;
}


int ckpt_cur_set_sigactions(const struct ckpt_sigaction *sa)
{
	struct sighand_struct *sh = current->sighand;
	int i;

	spin_lock_irq(&sh->siglock);
	for (i = 0; i < _NSIG; i++) {
		struct sigaction *k = &sh->action[i].sa;

		if (i + 1 == SIGKILL || i + 1 == SIGSTOP)
			continue;
		k->sa_handler = (__sighandler_t)(unsigned long)sa[i].handler;
		/* Only what sigaction(2) could have set (never SA_IMMUTABLE). */
		k->sa_flags = sa[i].flags & UAPI_SA_FLAGS;
#ifdef __ARCH_HAS_SA_RESTORER
		k->sa_restorer = (__sigrestore_t)(unsigned long)sa[i].restorer;
#endif
		k->sa_mask.sig[0] = sa[i].mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	}
	spin_unlock_irq(&sh->siglock);
	return 0;
}

void ckpt_cur_set_blocked(u64 mask)
{
	sigset_t set;

	siginitset(&set, mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP)));
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void ckpt_cur_set_altstack(u64 sp, u64 size, u32 flags)
{
	current->sas_ss_sp = sp;
	current->sas_ss_size = size;
	current->sas_ss_flags = flags & SS_AUTODISARM;
}

void ckpt_cur_set_itimer_real(u64 value_ns, u64 interval_ns)
{
#ifdef CONFIG_POSIX_TIMERS
	struct signal_struct *sig = current->signal;
	struct hrtimer *timer = &sig->real_timer;

	spin_lock_irq(&current->sighand->siglock);
	while (hrtimer_try_to_cancel(timer) < 0) {
		spin_unlock_irq(&current->sighand->siglock);
		cpu_relax();
		spin_lock_irq(&current->sighand->siglock);
	}
	/* Beyond ktime's range is "never" anyway: clamp instead of overflowing. */
	sig->it_real_incr = ns_to_ktime(min_t(u64, interval_ns, KTIME_MAX));
	if (value_ns)
		hrtimer_start(timer, ns_to_ktime(min_t(u64, value_ns, KTIME_MAX)), HRTIMER_MODE_REL);
	spin_unlock_irq(&current->sighand->siglock);
#endif
}

/* Re-queues a saved signal for current.  Signals that claim to come from a
 * user are attributed to the caller unless it may send to anyone. */
int ckpt_cur_queue_signal(const void *info)
{
	kernel_siginfo_t ki;

	memcpy(&ki, info, sizeof(ki));
	if (ki.si_signo < 1 || ki.si_signo > _NSIG || ki.si_signo == SIGKILL)
		return -EINVAL;
	if (ki.si_code <= 0 && !capable(CAP_KILL))
		ki.si_uid = from_kuid_munged(current_user_ns(), current_uid());
	return send_sig_info(ki.si_signo, &ki, current);
}

/*
 * Credentials of the image, for the caller: never more than it has.  Ids
 * may change only with CAP_SETUID/CAP_SETGID; capability sets only shrink
 * (each must be a subset of what the caller has); securebits only with
 * CAP_SETPCAP.  With @apply false only checks.
 */
int ckpt_cur_creds(const struct ckpt_creds *c, const u32 *groups, bool no_new_privs, bool apply)
{
	struct user_namespace *ns = current_user_ns();
	const struct cred *old = current_cred();
	struct group_info *gi = NULL;
	struct cred *new;
	kuid_t uids[4];
	kgid_t gids[4];
	const u32 *iu = &c->uid, *ig = &c->gid;
	bool uid_change = false, gid_change = false, groups_change = false;
	u32 i;

	for (i = 0; i < 4; i++) {
		uids[i] = make_kuid(ns, iu[i]);
		gids[i] = make_kgid(ns, ig[i]);
		if (!uid_valid(uids[i]) || !gid_valid(gids[i]))
			return -EINVAL;
	}
	uid_change = !uid_eq(uids[0], old->uid) || !uid_eq(uids[1], old->euid) ||
		     !uid_eq(uids[2], old->suid) || !uid_eq(uids[3], old->fsuid);
	gid_change = !gid_eq(gids[0], old->gid) || !gid_eq(gids[1], old->egid) ||
		     !gid_eq(gids[2], old->sgid) || !gid_eq(gids[3], old->fsgid);
	if (c->ngroups > NGROUPS_MAX)
		return -EINVAL;
	if (!old->group_info || old->group_info->ngroups != c->ngroups) {
		groups_change = true;
	} else {
		for (i = 0; i < c->ngroups; i++)
			if (!gid_eq(old->group_info->gid[i], make_kgid(ns, groups[i])))
				groups_change = true;
	}
	if (uid_change && !ns_capable(ns, CAP_SETUID))
		return -EPERM;
	if ((gid_change || groups_change) && !ns_capable(ns, CAP_SETGID))
		return -EPERM;
	if ((c->cap_inheritable & ~old->cap_inheritable.val & ~old->cap_permitted.val) ||
	    (c->cap_permitted & ~old->cap_permitted.val) ||
	    (c->cap_effective & ~c->cap_permitted) ||
	    (c->cap_bset & ~old->cap_bset.val) ||
	    (c->cap_ambient & ~(c->cap_permitted & c->cap_inheritable)))
		return -EPERM;
	if (c->securebits != old->securebits && !ns_capable(ns, CAP_SETPCAP))
		return -EPERM;
	if (!apply)
		return 0;
	if (groups_change) {
		gi = groups_alloc(c->ngroups);
		if (!gi)
			return -ENOMEM;
		for (i = 0; i < c->ngroups; i++) {
			kgid_t g = make_kgid(ns, groups[i]);

			if (!gid_valid(g)) {
				put_group_info(gi);
				return -EINVAL;
			}
			gi->gid[i] = g;
		}
		groups_sort(gi);
	}
	new = prepare_creds();
	if (!new) {
		if (gi)
			put_group_info(gi);
		return -ENOMEM;
	}
	new->uid = uids[0];
	new->euid = uids[1];
	new->suid = uids[2];
	new->fsuid = uids[3];
	new->gid = gids[0];
	new->egid = gids[1];
	new->sgid = gids[2];
	new->fsgid = gids[3];
	new->cap_inheritable.val = c->cap_inheritable;
	new->cap_permitted.val = c->cap_permitted;
	new->cap_effective.val = c->cap_effective;
	new->cap_bset.val = c->cap_bset;
	new->cap_ambient.val = c->cap_ambient;
	new->securebits = c->securebits;
	if (gi) {
		set_groups(new, gi);
		put_group_info(gi);
	}
	if (no_new_privs)
		task_set_no_new_privs(current);
	return commit_creds(new);
}

/* Resource limits: lowering is free, raising a hard limit needs
 * CAP_SYS_RESOURCE (as setrlimit(2)). */
int ckpt_cur_set_soft_rlimits(const u64 *soft)
{
	struct task_struct *leader = current->group_leader;
	struct rlimit *r = current->signal->rlim;
	int i, ret = 0;

	task_lock(leader);
	for (i = 0; i < RLIM_NLIMITS; i++)
		if (soft[i] > r[i].rlim_max)
			ret = -EPERM;
	for (i = 0; !ret && i < RLIM_NLIMITS; i++)
		r[i].rlim_cur = soft[i];
	task_unlock(leader);
	return ret;
}

void ckpt_cur_set_misc(const char *comm, u32 personality, u32 umask, u64 set_child_tid,
		       u64 clear_child_tid, u64 robust_list)
{
	task_lock(current);
	strscpy_pad(current->comm, comm, sizeof(current->comm));
	task_unlock(current);
	current->personality = personality;
	if (current->fs)
		current->fs->umask = umask & 0777;
	current->set_child_tid = (int __user *)(unsigned long)set_child_tid;
	current->clear_child_tid = (int __user *)(unsigned long)clear_child_tid;
#ifdef CONFIG_FUTEX
	current->futex.robust_list = (struct robust_list_head __user *)(unsigned long)robust_list;
#endif
}

/* General registers and fs/gs bases of current's user context. */
void ckpt_cur_set_regs(const u64 *v)
{
	const struct user_regs_struct *u = (const struct user_regs_struct *)v;
	struct pt_regs *regs = current_pt_regs();
	/* The flags sigreturn lets user space set (FIX_EFLAGS): not NT. */
	const unsigned long mask = X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
				   X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_TF |
				   X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_RF |
				   X86_EFLAGS_AC;

	regs->r15 = u->r15;
	regs->r14 = u->r14;
	regs->r13 = u->r13;
	regs->r12 = u->r12;
	regs->bp = u->bp;
	regs->bx = u->bx;
	regs->r11 = u->r11;
	regs->r10 = u->r10;
	regs->r9 = u->r9;
	regs->r8 = u->r8;
	regs->ax = u->ax;
	regs->cx = u->cx;
	regs->dx = u->dx;
	regs->si = u->si;
	regs->di = u->di;
	regs->orig_ax = -1;	/* no syscall to restart: the image is already rewound */
	regs->ip = u->ip;
	regs->cs = __USER_CS;
	regs->flags = (regs->flags & ~mask) | (u->flags & mask);
	regs->sp = u->sp;
	regs->ss = __USER_DS;
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(u->fs_base);
	current->thread.fsbase = u->fs_base;
	current->thread.fsindex = 0;
	wrmsrq(MSR_KERNEL_GS_BASE, u->gs_base);
	current->thread.gsbase = u->gs_base;
	preempt_enable();
}

/* Size of this CPU's uabi XSAVE area; *features gets its XCR0 features. */
int ckpt_cur_xstate_size(u64 *features)
{
	const struct user_regset *rs = find_regset(current, NT_X86_XSTATE);
	void *buf;
	int size, ret;

	*features = 0;
	if (!rs)
		return 0;
	size = rs->n * rs->size;
	buf = kvzalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = regset_get(current, rs, size, buf);
	kvfree(buf);
	*features = ckpt_cpu_xfeatures();
	return ret < 0 ? ret : size;
}

/* The user state features this CPU has enabled (XCR0). */
u64 ckpt_cpu_xfeatures(void)
{
	return boot_cpu_has(X86_FEATURE_OSXSAVE) ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

/*
 * Loading current's user FPU state goes through the same path as ptrace: the
 * XSTATE regset's ->set, but called by a worker while current sleeps, so
 * that current's registers are saved in its fpstate (TIF_NEED_FPU_LOAD) and
 * the new state is loaded on its return to user mode.  Calling ->set on
 * current itself trips WARN_ON_FPU with CONFIG_X86_DEBUG_FPU (Debian's
 * kernels have it).
 */
struct xstate_job {
	struct work_struct work;
	struct completion done;
	struct task_struct *task;
	const struct user_regset *rs;
	const void *buf;
	u32 size;
	int ret;
};

static void xstate_job_fn(struct work_struct *w)
{
	struct xstate_job *j = container_of(w, struct xstate_job, work);

	j->ret = j->rs->set(j->task, j->rs, 0, j->size, j->buf, NULL);
	complete(&j->done);
}

int ckpt_cur_set_xstate(const void *buf, u32 size)
{
	const struct user_regset *rs = find_regset(current, NT_X86_XSTATE);
	struct xstate_job j = {
		.task = current,
		.rs = rs,
		.buf = buf,
		.size = size,
	};

	if (!rs || !rs->set)
		return -EOPNOTSUPP;
	if (size != rs->n * rs->size)
		return -EINVAL;
	/*
	 * With CONFIG_X86_DEBUG_FPU (Debian's kernels) a regset write from a
	 * kernel thread warns (x86_task_fpu() of the worker): only the
	 * signal-frame path loads FPU state there.
	 */
	if (IS_ENABLED(CONFIG_X86_DEBUG_FPU))
		return -EOPNOTSUPP;
	/*
	 * Save our user registers into fpstate now (TIF_NEED_FPU_LOAD): the job
	 * may finish before we ever sleep, and must not race live registers.
	 */
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
	INIT_WORK_ONSTACK(&j.work, xstate_job_fn);
	init_completion(&j.done);
	queue_work(system_percpu_wq, &j.work);
	/* Uninterruptible: the job uses our stack; it cannot block for long. */
	wait_for_completion(&j.done);
	destroy_work_on_stack(&j.work);
	return j.ret;
}

/* The rseq(2) registration of a quiescent task (0 if none or no RSEQ). */
void ckpt_task_rseq(struct task_struct *t, u64 *ptr, u32 *len, u32 *sig)
{
	*ptr = 0;
	*len = *sig = 0;
#ifdef CONFIG_RSEQ
	*ptr = (u64)(unsigned long)t->rseq.usrptr;
	*len = t->rseq.len;
	*sig = t->rseq.sig;
#endif
}

/*
 * Drops current's rseq registration as execve does (the restarter's area is
 * gone with its address space), then, if @ptr, registers the image's area as
 * rseq(2) would, resetting the IDs the kernel keeps up to date in it.
 */
/* kernel/rseq.c's ORIG_RSEQ_SIZE: the first struct rseq's size. */
#define CKPT_ORIG_RSEQ_SIZE 32

/*
 * What rseq(2) asks of an area (rseq_length_valid()): the original size
 * (32) at a 32-byte boundary, or at least the feature size
 * (AT_RSEQ_FEATURE_SIZE) at an AT_RSEQ_ALIGN boundary.
 */
bool ckpt_rseq_area_valid(u64 ptr, u32 len)
{
#ifdef CONFIG_RSEQ
	if (len < CKPT_ORIG_RSEQ_SIZE)
		return false;
	if (len == CKPT_ORIG_RSEQ_SIZE)
		return IS_ALIGNED(ptr, CKPT_ORIG_RSEQ_SIZE);
	return IS_ALIGNED(ptr, rseq_alloc_align()) && len >= offsetof(struct rseq, end);
#else
	return false;
#endif
}

int ckpt_cur_set_rseq(u64 ptr, u32 len, u32 sig)
{
#ifdef CONFIG_RSEQ
	struct rseq __user *r = (struct rseq __user *)(unsigned long)ptr;

	u32 version = 1;

	rseq_execve(current);
	if (!ptr)
		return 0;
	if (!ckpt_rseq_area_valid(ptr, len))
		return -EINVAL;
	if (!access_ok(r, len))
		return -EFAULT;
	/* Longer registrations are the v2 ABI on generic-entry architectures. */
	if (IS_ENABLED(CONFIG_GENERIC_IRQ_ENTRY) && len > CKPT_ORIG_RSEQ_SIZE)
		version = 2;
	if (put_user(0UL, &r->rseq_cs) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &r->cpu_id_start) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &r->cpu_id) ||
	    put_user(0U, &r->node_id) || put_user(0U, &r->mm_cid))
		return -EFAULT;
#ifdef CONFIG_RSEQ_SLICE_EXTENSION
	/* Slice extensions start off, as after a registration without
	 * RSEQ_FLAG_SLICE_EXT_DEFAULT_ON. */
	if (version > 1 && put_user(0U, &r->slice_ctrl.all))
		return -EFAULT;
	current->rseq.slice.state.enabled = false;
#endif
	current->rseq.usrptr = r;
	current->rseq.len = len;
	current->rseq.sig = sig;
	current->rseq.event.has_rseq = version;
	rseq_force_update();
	return 0;
#else
	return ptr ? -EOPNOTSUPP : 0;
#endif
}

void ckpt_cur_kill(void)
{
	force_sig(SIGKILL);
}

/* ---- trees and restart sessions ------------------------------------- */

/*
 * The thread-group leaders below @root in the process tree (not @root
 * itself), zombies included, each with a reference, in task-list (fork)
 * order.  Walks every process under RCU and follows real_parent links: the
 * children lists need tasklist_lock, which is not exported.  Returns the
 * count, or -E2BIG if there are more than @max.
 */
int ckpt_task_descendants(struct task_struct *root, struct task_struct **out, u32 max)
{
	struct task_struct *p, *a;
	int n = 0;

	rcu_read_lock();
	for_each_process(p) {
		if (same_thread_group(p, root))
			continue;
		for (a = p; a && a->pid != 0 && a != &init_task;) {
			struct task_struct *up = rcu_dereference(a->real_parent);

			if (!up || up == a)
				break;
			if (same_thread_group(up, root)) {
				if (n >= max) {
					rcu_read_unlock();
					while (n > 0)
						put_task_struct(out[--n]);
					return -E2BIG;
				}
				out[n++] = get_task_struct(p);
				break;
			}
			a = up;
		}
	}
	rcu_read_unlock();
	return n;
}

/*
 * A gate: tasks of one restart wait on it for a change of the state they
 * share (kept in Rust, under a mutex); whoever changes that state bumps the
 * gate.  A waiter reads the generation while it still holds the mutex, so
 * no change is missed.  Waits are killable, not interruptible: the pending
 * signals a restart installs must not cut them short.
 */
struct ckpt_gate {
	wait_queue_head_t wq;
	atomic_t gen;
};

struct ckpt_gate *ckpt_gate_new(void)
{
	struct ckpt_gate *g = kzalloc(sizeof(*g), GFP_KERNEL);

	if (g)
		init_waitqueue_head(&g->wq);
	return g;
}

void ckpt_gate_free(struct ckpt_gate *g)
{
	kfree(g);
}

u32 ckpt_gate_gen(struct ckpt_gate *g)
{
	return atomic_read_acquire(&g->gen);
}

void ckpt_gate_bump(struct ckpt_gate *g)
{
	atomic_inc_return_release(&g->gen);
	wake_up_all(&g->wq);
}

/* 0 once the generation is no longer @seen, -ETIMEDOUT, or -EINTR on a
 * fatal signal. */
int ckpt_gate_wait(struct ckpt_gate *g, u32 seen, u32 timeout_ms)
{
	long r = wait_event_killable_timeout(g->wq, (u32)atomic_read_acquire(&g->gen) != seen,
					     msecs_to_jiffies(timeout_ms));

	if (r < 0)
		return -EINTR;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* current's thread count; *shared: somebody but its threads uses its
 * address space (or a thread is being created). */
int ckpt_cur_threads(bool *leader, bool *shared)
{
	int n = get_nr_threads(current);

	*leader = thread_group_leader(current);
	if (!current->mm)
		return -EINVAL;
	*shared = atomic_read(&current->mm->mm_users) != n;
	return n;
}

/* A new shared anonymous memory object of @size bytes, as MAP_SHARED |
 * MAP_ANONYMOUS makes one ("/dev/zero (deleted)", a private tmpfs inode). */
struct file *ckpt_shmem_new(u64 size, int *err)
{
	struct file *f;

	if (!size || size > MAX_LFS_FILESIZE || !PAGE_ALIGNED(size)) {
		*err = -EINVAL;
		return NULL;
	}
	f = shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	return f;
}

struct file *ckpt_file_get(struct file *f)
{
	return get_file(f);
}

struct task_struct *ckpt_task_get(struct task_struct *t)
{
	return get_task_struct(t);
}

/*
 * A memfd as memfd_create("NAME", MFD_ALLOW_SEALING) makes one (a shmem file
 * named "memfd:NAME"), of @size bytes (sparse) and mode @mode; sealing stays
 * open until ckpt_memfd_seal().  (memfd_alloc_file is not exported.)
 */
struct file *ckpt_memfd_new(const char *name, u64 size, u32 mode, int *err)
{
	struct file *f;
	char *full;
	int ret;

	if (size > MAX_LFS_FILESIZE) {
		*err = -EFBIG;
		return NULL;
	}
	full = kasprintf(GFP_KERNEL, "memfd:%s", name);
	if (!full) {
		*err = -ENOMEM;
		return NULL;
	}
	f = shmem_file_setup(full, 0, mk_vma_flags(VMA_NORESERVE_BIT));
	kfree(full);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	f->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	f->f_flags |= O_LARGEFILE;
	SHMEM_I(file_inode(f))->seals = 0;
	if (size) {
		ret = vfs_truncate(&f->f_path, size);
		if (ret) {
			fput(f);
			*err = ret;
			return NULL;
		}
	}
	/* The mode last (a 0400 memfd can still be sized), under the inode lock. */
	inode_lock(file_inode(f));
	file_inode(f)->i_mode = S_IFREG | (mode & 07777);
	inode_unlock(file_inode(f));
	return f;
}

void ckpt_cond_resched(void)
{
	cond_resched();
}

/* vm.memfd_noexec as memfd_create() sees it for current (its pid namespaces'). */
int ckpt_memfd_noexec_scope(void)
{
	return pidns_memfd_noexec_scope(task_active_pid_ns(current));
}

/*
 * Adds seals to a memfd made by ckpt_memfd_new() with the mechanics of
 * memfd_add_seals() (mm/memfd.c, not exported): only defined bits; no seal
 * after F_SEAL_SEAL; F_SEAL_EXEC on an executable file implies the write
 * seals; F_SEAL_WRITE denies writable shared mappings from now on and fails
 * (EBUSY) while one exists.  Which seals an image may ask for is Rust's call.
 */
int ckpt_memfd_seal(struct file *f, u32 seals)
{
	const u32 all = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;
	struct inode *inode = file_inode(f);
	unsigned int *cur;
	int ret = 0;

	if (!shmem_file(f) || (seals & ~all))
		return -EINVAL;
	inode_lock(inode);
	cur = &SHMEM_I(inode)->seals;
	if (*cur & F_SEAL_SEAL) {
		ret = seals & ~*cur ? -EPERM : 0;
		goto out;
	}
	if ((seals & F_SEAL_EXEC) && (inode->i_mode & 0111))
		seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
	if ((seals & F_SEAL_WRITE) && !(*cur & F_SEAL_WRITE)) {
		ret = mapping_deny_writable(f->f_mapping);
		if (ret)
			goto out;
	}
	*cur |= seals;
out:
	inode_unlock(inode);
	return ret;
}

/* Writes all of @buf at @pos (not the file position). */
ssize_t ckpt_file_pwrite(struct file *f, const void *buf, size_t len, s64 pos)
{
	size_t done = 0;

	while (done < len) {
		loff_t p = pos + done;
		ssize_t n = no_restart(kernel_write(f, buf + done, len - done, &p));

		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return done;
}

/*
 * The file of current's attachment of SysV shared memory segment @shmid
 * (a mapping whose file is a segment's, "/SYSV...": the shm file of an
 * shmat(); its inode number is the shmid), with a reference; NULL if
 * current has none.  Mapping that file again (vm_mmap) attaches the
 * segment again, as shmat() would (shm_mmap).
 */
struct file *ckpt_cur_sysv_file(u64 shmid)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct file *f = NULL;
	VMA_ITERATOR(vmi, mm, 0);

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (vma_is_sysv(vma) && file_inode(vma->vm_file)->i_ino == shmid) {
			f = get_file(vma->vm_file);
			break;
		}
	}
	mmap_read_unlock(mm);
	return f;
}

/* Up to @max SysV shared memory attachments of current, as [start, end)
 * pairs in @out; returns how many. */
int ckpt_cur_sysv_ranges(u64 *out, u32 max)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	u32 n = 0;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (!vma_is_sysv(vma))
			continue;
		if (n == max) {
			mmap_read_unlock(mm);
			return -E2BIG;
		}
		out[2 * n] = vma->vm_start;
		out[2 * n + 1] = vma->vm_end;
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

int ckpt_cur_munmap(u64 start, u64 len)
{
	return vm_munmap(start, len);
}

/*
 * Sets the CKPT_ADV_* properties on current's mapping that is exactly
 * [start, end), as madvise(MADV_DONTFORK, MADV_DONTDUMP, MADV_HUGEPAGE,
 * MADV_NOHUGEPAGE) would on a whole mapping (do_madvise is not exported).
 * -EINVAL if no mapping is exactly there, or it is one madvise refuses.
 */
int ckpt_cur_vma_advise(u64 start, u64 end, u32 what)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	vm_flags_t set = 0, clear = 0;
	int ret = 0;

	if (what & CKPT_ADV_DONTFORK)
		set |= VM_DONTCOPY;
	if (what & CKPT_ADV_DONTDUMP)
		set |= VM_DONTDUMP;
	if (what & CKPT_ADV_HUGEPAGE) {
		set |= VM_HUGEPAGE;
		clear |= VM_NOHUGEPAGE;
	} else if (what & CKPT_ADV_NOHUGEPAGE) {
		set |= VM_NOHUGEPAGE;
		clear |= VM_HUGEPAGE;
	}
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start != start || vma->vm_end != end ||
	    (vma->vm_flags & (VM_SPECIAL | VM_HUGETLB)))
		ret = -EINVAL;
	else
		vm_flags_mod(vma, set, clear);
	mmap_write_unlock(mm);
	return ret;
}

/*
 * @t's controlling terminal: its kernel name ("pts/3", "ttyS0") in @name,
 * its foreground process group in *@fg (0: none), whether @t leads the
 * session in *@leader.  Returns 1, 0 if it has none, or -errno.
 * (lock_task_sighand() is not exported: the same, open-coded.)
 */
int ckpt_task_ctty(struct task_struct *t, char *name, u32 len, s32 *fg, bool *leader)
{
	struct sighand_struct *sighand;
	struct tty_struct *tty = NULL;
	unsigned long flags;
	struct pid *pgrp;

	*fg = 0;
	*leader = false;
	rcu_read_lock();
	sighand = rcu_dereference(t->sighand);
	if (!sighand) {
		rcu_read_unlock();
		return -ESRCH;
	}
	spin_lock_irqsave(&sighand->siglock, flags);
	if (likely(sighand == rcu_access_pointer(t->sighand))) {
		tty = tty_kref_get(t->signal->tty);
		*leader = t->signal->leader;
	}
	spin_unlock_irqrestore(&sighand->siglock, flags);
	rcu_read_unlock();
	if (!tty)
		return 0;
	if (tty->driver->type == TTY_DRIVER_TYPE_PTY && tty->driver->subtype == PTY_TYPE_SLAVE)
		snprintf(name, len, "pts/%d", tty->index);	/* devpts names it "ptsN" */
	else
		strscpy(name, tty_name(tty), len);
	pgrp = tty_get_pgrp(tty);
	if (pgrp)
		*fg = pid_vnr(pgrp);
	put_pid(pgrp);
	tty_kref_put(tty);
	return 1;
}

/* The first syscall instruction (0f 05) in [@s, @e) of current's memory, or 0. */
static u64 find_syscall(u64 s, u64 e, u8 *buf, u32 *budget)
{
	u64 a;
	int i;

	for (a = s; a < e && *budget; a += PAGE_SIZE, (*budget)--) {
		if (copy_from_user(buf, (const void __user *)a, PAGE_SIZE))
			return 0;
		for (i = 0; i + 1 < PAGE_SIZE; i++)
			if (buf[i] == 0x0f && buf[i + 1] == 0x05)
				return a + i;
	}
	return 0;
}

/* Executable mappings searched for a syscall instruction, and pages read at most. */
#define SYSCALL_SCAN_VMAS 32
#define SYSCALL_SCAN_PAGES 4096

/*
 * A syscall instruction (0f 05) current can execute: in its vDSO, or where a
 * process has none (unmapped, or the vDSO proxy is off and it was never
 * there), in its executable mappings (its libc's syscall wrappers), or 0.
 * The CPU decodes from the instruction pointer, so the two bytes may be part
 * of a longer instruction: rt_sigreturn replaces every register anyway.
 */
static u64 user_syscall(void)
{
	struct mm_struct *mm = current->mm;
	struct { u64 s, e; } r[SYSCALL_SCAN_VMAS];
	u32 budget = SYSCALL_SCAN_PAGES;
	struct vm_area_struct *vma;
	u64 s, e, found = 0;
	int n = 0, i;
	u8 *buf;

	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return 0;
	if (!ckpt_cur_special("[vdso]", &s, &e))
		found = find_syscall(s, e, buf, &budget);
	if (!found) {
		VMA_ITERATOR(vmi, mm, 0);

		mmap_read_lock(mm);
		for_each_vma(vmi, vma) {
			if (n == SYSCALL_SCAN_VMAS)
				break;
			if ((vma->vm_flags & (VM_EXEC | VM_READ)) == (VM_EXEC | VM_READ) &&
			    !(vma->vm_flags & (VM_IO | VM_PFNMAP))) {
				r[n].s = vma->vm_start;
				r[n++].e = vma->vm_end;
			}
		}
		mmap_read_unlock(mm);
		/* Read without mmap_lock: a fault takes it. */
		for (i = 0; i < n && !found; i++)
			found = find_syscall(r[i].s, r[i].e, buf, &budget);
	}
	kfree(buf);
	return found;
}

/*
 * Prepares the return of current into the user state @v (user_regs_struct
 * order) with XSAVE area @xs (@xlen bytes, uabi format), blocked mask
 * @blocked and alternate stack @ss_*, through rt_sigreturn: writes a
 * signal frame below the red zone under @v's stack pointer, as a signal
 * delivery would, and gives in *@sp and *@ip where the ioctl must return
 * (to a syscall instruction, with rax = __NR_rt_sigreturn).
 * The kernel's own sigreturn then loads the registers and the FPU state,
 * validating them as for any signal frame.  (The alternative, an XSTATE
 * regset write from another context, is what ptrace does, and
 * CONFIG_X86_DEBUG_FPU warns when a kernel thread does it.)
 */
int ckpt_cur_sigframe(const u64 *v, const void *xs, u32 xlen, u64 blocked, u64 ss_sp,
		      u64 ss_size, u32 ss_flags, u64 *sp, u64 *ip)
{
	const struct user_regs_struct *u = (const struct user_regs_struct *)v;
	/* x86_task_fpu(current), without its CONFIG_X86_DEBUG_FPU wrapper. */
	struct fpstate *fps = ((struct fpu *)((void *)current + sizeof(*current)))->fpstate;
	u32 size = fps->user_size, magic2 = FP_XSTATE_MAGIC2;
	struct _fpx_sw_bytes sw = {
		.magic1 = FP_XSTATE_MAGIC1,
		.extended_size = size + FP_XSTATE_MAGIC2_SIZE,
		.xfeatures = fps->user_xfeatures,
		.xstate_size = size,
	};
	unsigned long fp, frame;
	struct rt_sigframe *f;
	u64 sys = user_syscall();
	int ret = -EFAULT;

	if (!sys)
		return -ENOENT;
	if (xlen < sizeof(struct fxregs_state) + sizeof(struct xstate_header) ||
	    u->sp < 0x100000 || u->sp >= TASK_SIZE_MAX)
		return -EINVAL;
	fp = round_down(u->sp - 128 - size - FP_XSTATE_MAGIC2_SIZE, 64);
	frame = round_down(fp - sizeof(*f), 16) - 8;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f->uc.uc_stack.ss_sp = (void __user *)(unsigned long)ss_sp;
	f->uc.uc_stack.ss_flags = ss_flags;
	f->uc.uc_stack.ss_size = ss_size;
	f->uc.uc_mcontext.r8 = u->r8;
	f->uc.uc_mcontext.r9 = u->r9;
	f->uc.uc_mcontext.r10 = u->r10;
	f->uc.uc_mcontext.r11 = u->r11;
	f->uc.uc_mcontext.r12 = u->r12;
	f->uc.uc_mcontext.r13 = u->r13;
	f->uc.uc_mcontext.r14 = u->r14;
	f->uc.uc_mcontext.r15 = u->r15;
	f->uc.uc_mcontext.di = u->di;
	f->uc.uc_mcontext.si = u->si;
	f->uc.uc_mcontext.bp = u->bp;
	f->uc.uc_mcontext.bx = u->bx;
	f->uc.uc_mcontext.dx = u->dx;
	f->uc.uc_mcontext.ax = u->ax;
	f->uc.uc_mcontext.cx = u->cx;
	f->uc.uc_mcontext.sp = u->sp;
	f->uc.uc_mcontext.ip = u->ip;
	f->uc.uc_mcontext.flags = u->flags;
	f->uc.uc_mcontext.cs = __USER_CS;
	f->uc.uc_mcontext.ss = __USER_DS;
	f->uc.uc_mcontext.fpstate = fp;
	f->uc.uc_sigmask.sig[0] = blocked;
	if (copy_to_user((void __user *)frame, f, sizeof(*f)) ||
	    copy_to_user((void __user *)fp, xs, min(xlen, size)) ||
	    (xlen < size && clear_user((void __user *)(fp + xlen), size - xlen)) ||
	    copy_to_user((void __user *)(fp + offsetof(struct fxregs_state, sw_reserved)), &sw,
			 sizeof(sw)) ||
	    copy_to_user((void __user *)(fp + size), &magic2, sizeof(magic2)))
		goto out;
	*sp = frame + sizeof(long);
	*ip = sys;
	ret = 0;
out:
	kfree(f);
	return ret;
}

/* ---- task attributes, SIGIO owners, the executable ---------------------- */

/*
 * What a process set with setpriority/sched_setattr/prctl and its job-control
 * state, as struct ckpt_task_attrs says.  Thread fields are t's own; the
 * process fields are its group's.  t must be quiescent.
 */
int ckpt_task_attrs(struct task_struct *t, struct ckpt_task_attrs *a)
{
	const struct task_exec_state *es;
	struct sighand_struct *sh;
	struct signal_struct *sig;
	struct task_struct *th;
	struct mm_struct *mm;
	unsigned long flags;

	memset(a, 0, sizeof(*a));
	a->policy = READ_ONCE(t->policy);
	a->reset_on_fork = t->sched_reset_on_fork;
	a->nice = task_nice(t);
	a->rt_priority = READ_ONCE(t->rt_priority);
	a->pdeath_signal = READ_ONCE(t->pdeath_signal);
	rcu_read_lock();
	es = rcu_dereference(t->exec_state);
	a->dumpable = es ? READ_ONCE(es->dumpable) : TASK_DUMPABLE_OFF;
	rcu_read_unlock();
	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	sig = t->signal;
	a->oom_score_adj = sig->oom_score_adj;
	a->subreaper = sig->is_child_subreaper;
	/* A completed group stop, or one under way (some threads still to stop). */
	if (sig->flags & SIGNAL_STOP_STOPPED) {
		a->stop_signal = sig->group_exit_code & 0x7f;
		/*
		 * Its parent was told already (and cleared the code): each
		 * stopped thread still keeps the stop signal in its jobctl.
		 */
		if (!a->stop_signal)
			a->stop_signal = t->jobctl & JOBCTL_STOP_SIGMASK;
		if (!a->stop_signal)
			a->stop_signal = SIGSTOP;
	} else {
		for_each_thread(t, th) {
			if (th->jobctl & JOBCTL_STOP_PENDING) {
				a->stop_signal = th->jobctl & JOBCTL_STOP_SIGMASK;
				break;
			}
		}
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
	mm = get_task_mm(t);
	if (mm) {
#ifdef CONFIG_MEMBARRIER
		int st = atomic_read(&mm->membarrier_state);

		if (st & (MEMBARRIER_STATE_GLOBAL_EXPEDITED | MEMBARRIER_STATE_GLOBAL_EXPEDITED_READY))
			a->membarrier |= MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
		if (st & (MEMBARRIER_STATE_PRIVATE_EXPEDITED |
			  MEMBARRIER_STATE_PRIVATE_EXPEDITED_READY))
			a->membarrier |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
		if (st & (MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE |
			  MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE_READY))
			a->membarrier |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;
		if (st & (MEMBARRIER_STATE_PRIVATE_EXPEDITED_RSEQ |
			  MEMBARRIER_STATE_PRIVATE_EXPEDITED_RSEQ_READY))
			a->membarrier |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ;
#endif
		if (mm_flags_test(MMF_DISABLE_THP_COMPLETELY, mm))
			a->thp_disable = 1;
		else if (mm_flags_test(MMF_DISABLE_THP_EXCEPT_ADVISED, mm))
			a->thp_disable = 1 | PR_THP_DISABLE_EXCEPT_ADVISED;
		mmput(mm);
	}
	return 0;
}

/*
 * The SIGIO owner of f: *kind 0 thread, 1 process, 2 process group, its
 * number in the caller's pid namespace in *nr (-1: not visible there), the
 * F_SETSIG signal in *signum.  Returns whether f has an owner or a signal.
 */
bool ckpt_file_owner(struct file *f, u32 *kind, s32 *nr, u32 *signum)
{
	struct fown_struct *o = file_f_owner(f);

	*kind = 1;
	*nr = 0;
	*signum = 0;
	if (!o)
		return false;
	read_lock_irq(&o->lock);
	*signum = o->signum;
	if (o->pid) {
		*nr = pid_nr_ns(o->pid, task_active_pid_ns(current));
		if (!*nr)
			*nr = -1;
		*kind = o->pid_type == PIDTYPE_PID ? 0 : o->pid_type == PIDTYPE_PGID ? 2 : 1;
	}
	read_unlock_irq(&o->lock);
	return *nr || *signum;
}

/*
 * Makes nr (in current's pid namespace; 0: none) of kind 0/1/2 the SIGIO owner
 * of f, as current (whose credentials decide whom SIGIO may reach), and signum
 * its F_SETSIG signal.
 */
int ckpt_file_set_owner(struct file *f, u32 kind, s32 nr, u32 signum)
{
	enum pid_type type = kind == 0 ? PIDTYPE_PID : kind == 2 ? PIDTYPE_PGID : PIDTYPE_TGID;
	struct pid *pid = NULL;
	int ret;

	if (!valid_signal(signum))
		return -EINVAL;
	ret = file_f_owner_allocate(f);
	if (ret)
		return ret;
	rcu_read_lock();
	if (nr) {
		pid = find_vpid(nr);
		if (!pid) {
			rcu_read_unlock();
			return -ESRCH;
		}
	}
	__f_setown(f, pid, type, 1);
	rcu_read_unlock();
	file_f_owner(f)->signum = signum;
	return 0;
}

/* Whether nr (in current's pid namespace) is a thread (kind 0) of current's
 * process, the process itself (1), or its process group (2). */
bool ckpt_cur_owns(u32 kind, s32 nr)
{
	struct task_struct *t;
	bool ok = false;

	rcu_read_lock();
	switch (kind) {
	case 0:
		t = pid_task(find_vpid(nr), PIDTYPE_PID);
		ok = t && same_thread_group(t, current);
		break;
	case 1:
		ok = nr == task_tgid_vnr(current);
		break;
	case 2:
		ok = nr == task_pgrp_vnr(current);
		break;
	}
	rcu_read_unlock();
	return ok;
}

/*
 * O_ASYNC on f, installed at fd: what fcntl(F_SETFL) does, through the file's
 * ->fasync (which sets FASYNC and registers fd for SIGIO).
 */
int ckpt_file_set_async(struct file *f, int fd)
{
	int ret;

	if (f->f_flags & FASYNC)
		return 0;
	if (!f->f_op->fasync) {
		spin_lock(&f->f_lock);
		f->f_flags |= FASYNC;
		spin_unlock(&f->f_lock);
		return 0;
	}
	ret = f->f_op->fasync(fd, f, 1);
	return ret < 0 ? ret : 0;
}

/*
 * Makes the program at path current's executable (/proc/self/exe), as exec
 * would: opened for execution (regular, MAY_EXEC, not on a noexec mount, and
 * no writer: open_exec() denies writes as long as it is mm->exe_file).
 * replace_mm_exe_file() is not exported; this is its swap, without its rule
 * that the old file must be unmapped (the restarter's program still is, and
 * goes with the overlay).  A set-user or set-group-ID program only if
 * allow_setid (-EPERM otherwise).
 */
int ckpt_cur_set_exe(const char *path, bool allow_setid)
{
	struct mm_struct *mm = current->mm;
	struct file *f, *old;
	umode_t mode;

	if (!mm)
		return -EINVAL;
	f = open_exec(path);
	if (IS_ERR(f))
		return PTR_ERR(f);
	mode = file_inode(f)->i_mode;
	if (!allow_setid &&
	    ((mode & S_ISUID) || (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))) {
		exe_file_allow_write_access(f);
		fput(f);
		return -EPERM;
	}
	mmap_write_lock(mm);
	old = rcu_dereference_raw(mm->exe_file);
	rcu_assign_pointer(mm->exe_file, f);
	mmap_write_unlock(mm);
	if (old) {
		exe_file_allow_write_access(old);
		fput(old);
	}
	return 0;
}

/* Whether current may masquerade as any program (prctl(PR_SET_MM_EXE_FILE)'s
 * rule: CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in its user namespace). */
bool ckpt_cur_checkpoint_restore_capable(void)
{
	return checkpoint_restore_ns_capable(current_user_ns());
}

/* Whether current has CAP_SYS_ADMIN in the initial user namespace. */
bool ckpt_cur_sys_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

/*
 * What commit_creds() resets when the credentials change, set again after
 * them: the parent-death signal (of the calling thread) and the dumpable mode
 * (of its exec state, which its threads share).  Done with field writes:
 * task_exec_state_set_dumpable() is not exported.
 */
void ckpt_cur_set_exec_attrs(u32 pdeath_signal, u32 dumpable)
{
	struct task_exec_state *es;

	current->pdeath_signal = pdeath_signal;
	es = rcu_dereference_protected(current->exec_state, true);
	if (es && dumpable <= TASK_DUMPABLE_ROOT)
		WRITE_ONCE(es->dumpable, dumpable);
}

/* Stops current's process as SIGSTOP would (delivered on the way back to user
 * mode); every task of the restart calls ckpt_cur_recalc_sigpending() after. */
int ckpt_cur_stop_group(int sig)
{
	return kill_pid(task_tgid(current), sig, 1);
}

/*
 * Whether current's process group is orphaned in the POSIX sense (no member
 * has a parent in another group of the same session): the kernel then
 * discards SIGTSTP, SIGTTIN and SIGTTOU.  The same test as the kernel's
 * is_current_pgrp_orphaned(), which is not exported; tasklist_lock is not
 * either, so the walk runs under RCU.
 */
bool ckpt_cur_pgrp_orphaned(void)
{
	struct pid *pgrp;
	struct task_struct *p;
	bool orphaned = true;

	rcu_read_lock();
	pgrp = task_pgrp(current);
	do_each_pid_task(pgrp, PIDTYPE_PGID, p) {
		struct task_struct *parent = rcu_dereference(p->real_parent);

		if ((p->exit_state && thread_group_empty(p)) ||
		    is_global_init(parent))
			continue;
		if (task_pgrp(parent) != pgrp &&
		    task_session(parent) == task_session(p)) {
			orphaned = false;
			break;
		}
	} while_each_pid_task(pgrp, PIDTYPE_PGID, p);
	rcu_read_unlock();
	return orphaned;
}

void ckpt_cur_recalc_sigpending(void)
{
	spin_lock_irq(&current->sighand->siglock);
	recalc_sigpending();
	spin_unlock_irq(&current->sighand->siglock);
}

/* ------------------------------------------------------------------------
 * Event-loop files (eventfd, timerfd, signalfd, epoll, inotify): their state
 * is read as /proc/PID/fdinfo shows it, through the file's own show_fdinfo. */

/* Runs @f's show_fdinfo into @buf (a seq_file of our own, as fs/proc/fd.c
 * does); returns the length, -EOPNOTSUPP if the file has none, -EOVERFLOW if
 * @len was too small. */
long ckpt_file_fdinfo(struct file *f, char *buf, u32 len)
{
	struct seq_file m = { .buf = buf, .size = len, .file = f };

	if (!f->f_op->show_fdinfo)
		return -EOPNOTSUPP;
	f->f_op->show_fdinfo(&m, f);
	if (seq_has_overflowed(&m))
		return -EOVERFLOW;
	return m.count;
}

/* Whether @f is an eventfd (the kernel's own test). */
bool ckpt_file_is_eventfd(struct file *f)
{
	struct eventfd_ctx *ctx = eventfd_ctx_fileget(f);

	if (IS_ERR(ctx))
		return false;
	eventfd_ctx_put(ctx);
	return true;
}

/* The events @f reports now (its poll with no wait queue). */
u32 ckpt_file_poll(struct file *f)
{
	return (__force u32)vfs_poll(f, NULL);
}

/* Whether some epoll instance watches @f. */
bool ckpt_file_watched(struct file *f)
{
	return READ_ONCE(f->f_ep) != NULL;
}

/* The time of clock @clockid (a timerfd's clock) in ns. */
u64 ckpt_clock_ns(int clockid)
{
	switch (clockid) {
	case CLOCK_MONOTONIC:
		return ktime_get_ns();
	case CLOCK_BOOTTIME:
	case CLOCK_BOOTTIME_ALARM:
		return ktime_get_boottime_ns();
	default:
		return ktime_get_real_ns();
	}
}

#if IS_ENABLED(CONFIG_EXPORTFS)
/* Accepts only dentries connected to their filesystem's root (a path names them). */
static int ckpt_connected(void *ctx, struct dentry *d)
{
	return !(d->d_flags & DCACHE_DISCONNECTED);
}

/* The path (through mount @on) of the inode that file handle @fh (@fhlen bytes,
 * @type) names on the filesystem of device @dev, if its number is @ino and the
 * path leads back to it. */
static int handle_path_on(const struct path *on, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	struct path p, q;
	struct dentry *d;
	int ret;

	if (on->mnt->mnt_sb->s_dev != dev)
		return -EXDEV;
	d = exportfs_decode_fh(on->mnt, (struct fid *)fh, fhlen / 4, type,
			       ckpt_connected, NULL);
	if (IS_ERR_OR_NULL(d))
		return d ? PTR_ERR(d) : -ESTALE;
	ret = -ESTALE;
	if (d_inode(d)->i_ino != ino || d_unlinked(d))
		goto out;
	p.mnt = on->mnt;
	p.dentry = d;
	ret = path_of(&p, buf, buflen);
	if (ret < 0)
		goto out;
	/* The name must lead back to the inode (not a bind mount's hidden part). */
	if (kern_path(buf, 0, &q)) {
		ret = -ESTALE;
		goto out;
	}
	if (d_inode(q.dentry) != d_inode(d))
		ret = -ESTALE;
	path_put(&q);
out:
	dput(d);
	return ret;
}

/* The path of an inode named by a file handle (see handle_path_on()), looked up
 * through the mounts of @t's root, working directory and open files. */
int ckpt_task_handle_path(struct task_struct *t, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	struct path root = {}, pwd = {};
	unsigned int fd = 0;
	struct file *f;
	int ret;

	if (fhlen > MAX_HANDLE_SZ || fhlen % 4)
		return -EINVAL;
	task_lock(t);
	if (t->fs) {
		get_fs_root(t->fs, &root);
		get_fs_pwd(t->fs, &pwd);
	}
	task_unlock(t);
	ret = -ENOENT;
	if (root.mnt)
		ret = handle_path_on(&root, dev, ino, type, fh, fhlen, buf, buflen);
	if (ret < 0 && pwd.mnt)
		ret = handle_path_on(&pwd, dev, ino, type, fh, fhlen, buf, buflen);
	path_put(&root);
	path_put(&pwd);
	while (ret < 0 && (f = fget_task_next(t, &fd))) {
		ret = handle_path_on(&f->f_path, dev, ino, type, fh, fhlen, buf, buflen);
		fput(f);
		fd++;
	}
	return ret < 0 ? ret : 0;
}
#else
/* Without exportfs, file handles cannot be decoded: no watch can be named. */
int ckpt_task_handle_path(struct task_struct *t, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	return -EOPNOTSUPP;
}
#endif
