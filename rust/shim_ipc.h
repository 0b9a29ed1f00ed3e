/* SPDX-License-Identifier: GPL-2.0 */
/* SysV IPC: what the Rust side of ckpt cannot read itself (see shim_ipc.c). */
#ifndef CKPT_SHIM_IPC_H
#define CKPT_SHIM_IPC_H

#include <linux/types.h>

struct task_struct;

/* ckpt_task_sysv() flags */
#define CKPT_SYSV_OTHER_NS	1	/* another IPC namespace than the caller's */
#define CKPT_SYSV_UNDO		2	/* it has a semaphore undo list (SEM_UNDO) */

int ckpt_task_sysv(struct task_struct *t, u64 *ns, u32 *flags);

#endif
