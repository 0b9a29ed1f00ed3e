// SPDX-License-Identifier: GPL-2.0
/*
 * Credentials and resource limits: read from a parked task; the facts the
 * grant decision needs; set on the calling task once Rust decided it may
 * (the grant policy is rust/access.rs's may_grant_creds).
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

static void creds_fill(const struct cred *cred, struct ckpt_creds *c)
{
	struct user_namespace *ns = current_user_ns();

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
}

int ckpt_task_creds(struct task_struct *t, struct ckpt_creds *c, u32 *groups, u32 max)
{
	struct user_namespace *ns = current_user_ns();
	const struct cred *cred = get_task_cred(t);
	u32 i;

	creds_fill(cred, c);
	for (i = 0; i < c->ngroups && i < max; i++)
		groups[i] = from_kgid_munged(ns, cred->group_info->gid[i]);
	put_cred(cred);
	return c->ngroups > max ? -E2BIG : 0;
}

/* The image's ids in the caller's user namespace; -EINVAL if one has no mapping. */
static int creds_ids(const struct ckpt_creds *c, kuid_t *uids, kgid_t *gids)
{
	struct user_namespace *ns = current_user_ns();
	const u32 *iu = &c->uid, *ig = &c->gid;
	u32 i;

	for (i = 0; i < 4; i++) {
		uids[i] = make_kuid(ns, iu[i]);
		gids[i] = make_kgid(ns, ig[i]);
		if (!uid_valid(uids[i]) || !gid_valid(gids[i]))
			return -EINVAL;
	}
	return 0;
}

/*
 * Facts for the grant decision (rust/access.rs, may_grant_creds): the
 * caller's (subjective) credentials into @mine, and which of the image's
 * ids are not the caller's: CKPT_CREDS_UIDS, _GIDS, _GROUPS.  -EINVAL if an
 * image uid or gid has no mapping in the caller's user namespace or there
 * are more than NGROUPS_MAX groups.
 */
int ckpt_cur_creds_differ(const struct ckpt_creds *c, const u32 *groups, struct ckpt_creds *mine)
{
	struct user_namespace *ns = current_user_ns();
	const struct cred *old = current_cred();
	kuid_t uids[4];
	kgid_t gids[4];
	int differ = 0, ret;
	u32 i;

	ret = creds_ids(c, uids, gids);
	if (ret)
		return ret;
	if (!uid_eq(uids[0], old->uid) || !uid_eq(uids[1], old->euid) ||
	    !uid_eq(uids[2], old->suid) || !uid_eq(uids[3], old->fsuid))
		differ |= CKPT_CREDS_UIDS;
	if (!gid_eq(gids[0], old->gid) || !gid_eq(gids[1], old->egid) ||
	    !gid_eq(gids[2], old->sgid) || !gid_eq(gids[3], old->fsgid))
		differ |= CKPT_CREDS_GIDS;
	if (c->ngroups > NGROUPS_MAX)
		return -EINVAL;
	if (!old->group_info || old->group_info->ngroups != c->ngroups) {
		differ |= CKPT_CREDS_GROUPS;
	} else {
		for (i = 0; i < c->ngroups; i++)
			if (!gid_eq(old->group_info->gid[i], make_kgid(ns, groups[i])))
				differ |= CKPT_CREDS_GROUPS;
	}
	creds_fill(old, mine);
	return differ;
}

/* Whether current has @cap in its own user namespace (ns_capable(): audited,
 * and marks the task as having used a privilege, as the syscalls do). */
bool ckpt_cur_ns_capable(int cap)
{
	return ns_capable(current_user_ns(), cap);
}

/*
 * The image's credentials as a new set prepared from the caller's (its LSM
 * labels and everything else the image does not name stay the caller's);
 * the groups are set only when @set_groups_too.  NULL with *@err set on
 * failure: -EINVAL if an id has no mapping in the caller's user namespace.
 */
static struct cred *image_creds(const struct ckpt_creds *c, const u32 *groups,
				bool set_groups_too, int *err)
{
	struct user_namespace *ns = current_user_ns();
	struct group_info *gi = NULL;
	struct cred *new;
	kuid_t uids[4];
	kgid_t gids[4];
	u32 i;

	*err = creds_ids(c, uids, gids);
	if (*err)
		return NULL;
	if (set_groups_too) {
		*err = -EINVAL;
		if (c->ngroups > NGROUPS_MAX)
			return NULL;
		*err = -ENOMEM;
		gi = groups_alloc(c->ngroups);
		if (!gi)
			return NULL;
		for (i = 0; i < c->ngroups; i++) {
			kgid_t g = make_kgid(ns, groups[i]);

			if (!gid_valid(g)) {
				put_group_info(gi);
				*err = -EINVAL;
				return NULL;
			}
			gi->gid[i] = g;
		}
		groups_sort(gi);
	}
	new = prepare_creds();
	if (!new) {
		if (gi)
			put_group_info(gi);
		*err = -ENOMEM;
		return NULL;
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
	*err = 0;
	return new;
}

/*
 * Makes the image's credentials the caller's: rust/access.rs decided that
 * the caller may (may_grant_creds, just before, on this task).  The groups
 * are set only when they differ from the caller's; -EINVAL if one has no
 * mapping in the caller's user namespace.
 */
int ckpt_cur_commit_creds(const struct ckpt_creds *c, const u32 *groups, bool set_groups_too,
			  bool no_new_privs)
{
	struct cred *new;
	int err;

	new = image_creds(c, groups, set_groups_too, &err);
	if (!new)
		return err;
	if (no_new_privs)
		task_set_no_new_privs(current);
	return commit_creds(new);
}

/*
 * Makes the image's credentials current's subjective ones (what open(),
 * permission checks and new files' owners use) until
 * ckpt_cur_revert_image_creds(@*old): the restart opens the image's files
 * with the rights of the process it restores, never the restarter's
 * (rust/access.rs decided, may_grant_creds, that the caller may take them
 * on).  Returns 0 or the error of image_creds().
 */
int ckpt_cur_override_image_creds(const struct ckpt_creds *c, const u32 *groups,
				  bool set_groups_too, const struct cred **old)
{
	struct cred *new;
	int err;

	new = image_creds(c, groups, set_groups_too, &err);
	if (!new)
		return err;
	*old = override_creds(new);
	return 0;
}

/* Ends ckpt_cur_override_image_creds(); drops the overriding set (the files
 * opened with it hold their own references). */
void ckpt_cur_revert_image_creds(const struct cred *old)
{
	put_cred(revert_creds(old));
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
