// SPDX-License-Identifier: GPL-2.0
/*
 * Tasks: finding, referencing and describing tasks and process trees, the
 * attributes a process set with setpriority/prctl/sched_setattr, its
 * executable, and the changes a restart makes to the calling task's own
 * identity (comm, personality, job control).
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

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

bool ckpt_task_fatal_pending(struct task_struct *t)
{
	return __fatal_signal_pending(t) || (READ_ONCE(t->flags) & PF_EXITING);
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
		/* The MEMBARRIER_STATE_* bits: Rust names the registrations. */
		a->membarrier = atomic_read(&mm->membarrier_state);
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

/*
 * Opens @path as execve() opens a program (open_exec(): a regular file the
 * caller may execute, on a mount that allows it, with no writer), to map it
 * again; the write denial open_exec() takes is lifted at once, as for any
 * mapped file.  When a file may be opened so is rust/access.rs's decision.
 */
struct file *ckpt_open_exec_file(const char *path, int *err)
{
	struct file *f = open_exec(path);

	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	exe_file_allow_write_access(f);
	*err = 0;
	return f;
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

/* Whether t is in current's mount namespace (its paths name current's files). */
bool ckpt_task_same_mntns(struct task_struct *t)
{
	struct mnt_namespace *ns = NULL;

	task_lock(t);
	if (t->nsproxy)
		ns = t->nsproxy->mnt_ns;
	task_unlock(t);
	return ns && ns == current->nsproxy->mnt_ns;
}

/* For a pidfd @f (a file of pidfs): the task its pid names, as the caller's
 * pid namespace numbers it, and the pidfd's flags.  -EBADF if @f is not a
 * pidfd.  pidfd_pid() is not exported: pidfs keeps the struct pid in the
 * inode's i_private (fs/pidfs.c, pidfs_init_inode).  The pidfd's own
 * show_fdinfo is never run here: it takes the seq_file's file for a procfs
 * one. */
int ckpt_file_pidfd(struct file *f, struct ckpt_pidfd_info *pi)
{
	struct inode *inode = file_inode(f);
	struct pid *pid;
	struct task_struct *t;

	memset(pi, 0, sizeof(*pi));
	if (inode->i_sb->s_magic != PID_FS_MAGIC || !inode->i_private)
		return -EBADF;
	pid = inode->i_private;
	if (f->f_flags & PIDFD_THREAD)
		pi->flags |= CKPT_PIDFD_THREAD;
	if (f->f_flags & O_NONBLOCK)
		pi->flags |= CKPT_PIDFD_NONBLOCK;
	if (f->f_flags & PIDFD_AUTOKILL)
		pi->flags |= CKPT_PIDFD_AUTOKILL;
	rcu_read_lock();
	t = pid_task(pid, PIDTYPE_PID);
	if (t) {
		pi->pid = pid_vnr(pid);
		pi->tgid = task_tgid_vnr(t);
		if (t->exit_state)
			pi->flags |= CKPT_PIDFD_EXITED;
		if (t->exit_state && thread_group_leader(t) && thread_group_empty(t))
			pi->flags |= CKPT_PIDFD_GROUP_DEAD;
		/* The number names this pid in the caller's namespace (a pid
		 * not visible there has none). */
		if (!pi->pid || find_vpid(pi->pid) != pid)
			pi->pid = pi->tgid = 0;
	}
	rcu_read_unlock();
	return 0;
}

/*
 * The pid of pidfd @f, with a reference, if it is numbered @nr in the caller's
 * pid namespace and names no task any more (its process exited and was
 * reaped); NULL otherwise.
 */
struct pid *ckpt_pidfd_gone(struct file *f, s32 nr)
{
	struct inode *inode = file_inode(f);
	struct pid *pid;
	bool gone;

	if (inode->i_sb->s_magic != PID_FS_MAGIC || !inode->i_private)
		return NULL;
	pid = inode->i_private;
	rcu_read_lock();
	gone = !pid_task(pid, PIDTYPE_PID);
	rcu_read_unlock();
	if (!gone || nr <= 0 || pid_vnr(pid) != nr)
		return NULL;
	return get_pid(pid);
}

/*
 * Whether a task outside the caller's thread group uses the caller's address
 * space (CLONE_VM without CLONE_THREAD, a vfork child).  mm_users alone
 * cannot tell: anyone reading /proc/PID/stat or maps holds a reference for a
 * moment.
 */
bool ckpt_cur_mm_shared(void)
{
	struct mm_struct *mm = current->mm;
	struct task_struct *p, *t;
	bool shared = false;

	rcu_read_lock();
	for_each_process(p) {
		if (same_thread_group(p, current))
			continue;
		for_each_thread(p, t) {
			if (READ_ONCE(t->mm) == mm) {
				shared = true;
				break;
			}
		}
		if (shared)
			break;
	}
	rcu_read_unlock();
	return shared;
}
