// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt C shim: what every part needs -- the image stream's output file,
 * module references, the caller's identity, time, and the layout guard.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

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

/*
 * The module parameter "unprivileged" (writable by root at run time through
 * /sys/module/ckpt/parameters/unprivileged).  What it means is
 * rust/access.rs's may_use_device(); every operation reads it once.
 */
static bool ckpt_unprivileged;
module_param_named(unprivileged, ckpt_unprivileged, bool, 0644);
MODULE_PARM_DESC(unprivileged,
		 "1: every user who can open /dev/ckpt may use it, for their own processes only; 0 (default): only openers with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN");

bool ckpt_unprivileged_mode(void)
{
	return READ_ONCE(ckpt_unprivileged);
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
	l->task_signal = offsetof(struct task_struct, signal);
	l->task_sas_ss_sp = offsetof(struct task_struct, sas_ss_sp);
	l->task_sas_ss_size = offsetof(struct task_struct, sas_ss_size);
	l->task_sas_ss_flags = offsetof(struct task_struct, sas_ss_flags);
	l->task_atomic_flags = offsetof(struct task_struct, atomic_flags);
	l->cred_fsgid = offsetof(struct cred, fsgid);
	l->cred_securebits = offsetof(struct cred, securebits);
	l->cred_cap_inheritable = offsetof(struct cred, cap_inheritable);
	l->cred_cap_ambient = offsetof(struct cred, cap_ambient);
	l->cred_group_info = offsetof(struct cred, group_info);
	l->group_info_ngroups = offsetof(struct group_info, ngroups);
	l->group_info_gid = offsetof(struct group_info, gid);
}

void ckpt_cond_resched(void)
{
	cond_resched();
}
