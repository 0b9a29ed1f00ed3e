// SPDX-License-Identifier: GPL-2.0
/*
 * SysV IPC, read for a checkpoint: which IPC namespace a process is in, and
 * whether it holds semaphore undo state. No policy: the callers decide.
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/nsproxy.h>
#include <linux/ipc_namespace.h>

#include "shim_ipc.h"

int ckpt_task_sysv(struct task_struct *t, u64 *ns, u32 *flags)
{
	struct ipc_namespace *ipc;
	int err = -ESRCH;

	*ns = 0;
	*flags = 0;
	task_lock(t);
	if (t->nsproxy) {
		ipc = t->nsproxy->ipc_ns;
		*ns = ipc->ns.inum;
		if (ipc != current->nsproxy->ipc_ns)
			*flags |= CKPT_SYSV_OTHER_NS;
		err = 0;
	}
#ifdef CONFIG_SYSVIPC
	if (READ_ONCE(t->sysvsem.undo_list))
		*flags |= CKPT_SYSV_UNDO;
#endif
	task_unlock(t);
	return err;
}
