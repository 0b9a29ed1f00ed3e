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

/*
 * ipc/sem.c's per-process undo list, private there; the same fields in the
 * same order in 7.2 and 7.3 (no structure randomization). A process that
 * shares it (CLONE_SYSVSEM: every thread of a threaded process) has one from
 * its creation, empty until a SEM_UNDO operation adds an entry.
 */
struct ckpt_sem_undo_list {
	refcount_t refcnt;
	spinlock_t lock;
	struct list_head list_proc;
};

/* ipc/util.h's IPC_SEM_IDS and IPC_MSG_IDS, private there. */
#define CKPT_SEM_IDS	0
#define CKPT_MSG_IDS	1

int ckpt_task_sysv(struct task_struct *t, u64 *ns, u32 *flags)
{
	struct ipc_namespace *ipc;

	*ns = 0;
	*flags = 0;
	task_lock(t);
	if (t->nsproxy) {
		ipc = t->nsproxy->ipc_ns;
		*ns = ipc->ns.inum;
		if (ipc != current->nsproxy->ipc_ns)
			*flags |= CKPT_SYSV_OTHER_NS;
		/*
		 * Unlocked: a held task's own ipc_addid() has completed, and
		 * objects others add later are not its.
		 */
		if (!READ_ONCE(ipc->ids[CKPT_SEM_IDS].in_use) &&
		    !READ_ONCE(ipc->ids[CKPT_MSG_IDS].in_use))
			*flags |= CKPT_SYSV_NONE;
	}
	task_unlock(t);
	return 0;
}

int ckpt_task_sem_undo(struct task_struct *t)
{
#ifdef CONFIG_SYSVIPC
	struct ckpt_sem_undo_list *ulp;
	int busy = 0;

	/* Only for a held (quiesced) task: exit_sem() frees the list unlocked. */
	ulp = (struct ckpt_sem_undo_list *)READ_ONCE(t->sysvsem.undo_list);
	if (!ulp)
		return 0;
	spin_lock(&ulp->lock);
	busy = !list_empty(&ulp->list_proc);
	spin_unlock(&ulp->lock);
	return busy;
#else
	return 0;
#endif
}
