// SPDX-License-Identifier: GPL-2.0
/*
 * Resource limits: read from a parked task, set on the calling task under
 * the task lock (the credentials are read and set in rust/sys/cred.rs).
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

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

/*
 * Makes @new (prepared by rust/sys/cred.rs from the image's ids) current's
 * subjective credentials until ckpt_cur_revert_image_creds() is given the
 * returned set: what open(), permission checks and new files' owners use.
 * The restart opens what the image names with the rights of the process it
 * restores, never the restarter's.  override_creds() is a static inline and
 * takes no reference: @new's is dropped at the revert.
 */
const struct cred *ckpt_cur_override_image_creds(const struct cred *new)
{
	return override_creds(new);
}

void ckpt_cur_revert_image_creds(const struct cred *old)
{
	put_cred(revert_creds(old));
}

/*
 * Drops the process and thread keyrings of @new, a set prepared from the
 * caller's and not yet installed: the restored process (or what is opened for
 * it) must not possess the restarter's (copy_creds() drops the thread keyring
 * of every new task, and the process keyring of a new process, the same way).
 */
void ckpt_cred_drop_private_keyrings(struct cred *new)
{
#ifdef CONFIG_KEYS
	key_put(new->thread_keyring);
	new->thread_keyring = NULL;
	key_put(new->process_keyring);
	new->process_keyring = NULL;
#endif
}

/*
 * Sets current's soft resource limits (rust/objects/creds.rs decided each is
 * within its hard limit).  Under the lock, a soft limit above its hard one is
 * still refused (-EPERM) and nothing set: every writer of rlim_cur keeps
 * that invariant (as do_prlimit() does), whatever a racing thread did.
 */
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
