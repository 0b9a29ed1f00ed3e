// SPDX-License-Identifier: GPL-2.0
/*
 * Whose names and whose rights: the mount namespace a target's paths belong
 * to, and the file-system credentials the image's files are opened with.
 * Mechanism only; the decisions are in rust/checkpoint.rs (a target in
 * another mount namespace is refused) and rust/objects/creds.rs (the
 * image's task's fsuid, fsgid, groups and effective capabilities).
 */

#include <linux/cred.h>
#include <linux/err.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <asm/fpu/types.h>

#include "shim_access.h"

bool ckpt_task_same_mntns(struct task_struct *t)
{
	struct mnt_namespace *ns = NULL;

	task_lock(t);
	if (t->nsproxy)
		ns = t->nsproxy->mnt_ns;
	task_unlock(t);
	return ns && ns == current->nsproxy->mnt_ns;
}

int ckpt_cur_act_as(u32 fsuid, u32 fsgid, const u32 *groups, u32 ngroups, u64 cap_eff,
		    const struct cred **old)
{
	struct user_namespace *ns = current_user_ns();
	kuid_t uid = make_kuid(ns, fsuid);
	kgid_t gid = make_kgid(ns, fsgid);
	struct group_info *gi;
	struct cred *new;
	u32 i;

	if (!uid_valid(uid) || !gid_valid(gid) || ngroups > NGROUPS_MAX)
		return -EINVAL;
	gi = groups_alloc(ngroups);
	if (!gi)
		return -ENOMEM;
	for (i = 0; i < ngroups; i++) {
		gi->gid[i] = make_kgid(ns, groups[i]);
		if (!gid_valid(gi->gid[i])) {
			put_group_info(gi);
			return -EINVAL;
		}
	}
	groups_sort(gi);
	new = prepare_creds();
	if (!new) {
		put_group_info(gi);
		return -ENOMEM;
	}
	set_groups(new, gi);
	put_group_info(gi);
	new->fsuid = uid;
	new->fsgid = gid;
	new->cap_effective.val &= cap_eff;
	/* override_creds() takes over the reference prepare_creds() gave. */
	*old = override_creds(new);
	return 0;
}

void ckpt_cur_revert_creds(const struct cred *old)
{
	put_cred(revert_creds(old));
}

u64 ckpt_cur_permitted_xfeatures(void)
{
	/* x86_task_fpu(), without its CONFIG_X86_DEBUG_FPU wrapper (as in shim.c):
	 * the permission of the thread group lives in its leader's. */
	struct fpu *fpu = (struct fpu *)((void *)current->group_leader +
					 sizeof(*current->group_leader));

	return READ_ONCE(fpu->perm.__state_perm);
}
