/* SPDX-License-Identifier: GPL-2.0 */
/* Whose names and whose rights: see rust/shim_access.c. */
#ifndef CKPT_SHIM_ACCESS_H
#define CKPT_SHIM_ACCESS_H

#include <linux/types.h>

struct cred;
struct task_struct;

/* Whether t is in current's mount namespace. */
bool ckpt_task_same_mntns(struct task_struct *t);
/*
 * Makes current act, until ckpt_cur_revert_creds(*old), with fsuid, fsgid
 * and the supplementary groups given (in current's user namespace), and of
 * its effective capabilities those in cap_eff.  0 or -errno.
 */
int ckpt_cur_act_as(u32 fsuid, u32 fsgid, const u32 *groups, u32 ngroups, u64 cap_eff,
		    const struct cred **old);
void ckpt_cur_revert_creds(const struct cred *old);
/* The XSAVE features current's thread group may use (arch_prctl(ARCH_REQ_XCOMP_PERM)). */
u64 ckpt_cur_permitted_xfeatures(void);

#endif /* CKPT_SHIM_ACCESS_H */
