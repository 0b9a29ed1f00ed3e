/* SPDX-License-Identifier: GPL-2.0 */
/* SysV IPC: what the Rust side of ckpt cannot read itself (see shim_ipc.c). */
#ifndef CKPT_SHIM_IPC_H
#define CKPT_SHIM_IPC_H

#include <linux/types.h>

struct task_struct;

/* ckpt_task_sysv() flags */
#define CKPT_SYSV_OTHER_NS	1	/* another IPC namespace than the caller's */
#define CKPT_SYSV_NONE		2	/* no semaphore set or message queue in it */

/* @ns 0: the task has exited (no namespaces any more). */
int ckpt_task_sysv(struct task_struct *t, u64 *ns, u32 *flags);
/* 1 if the task (held) has semaphore undo entries (SEM_UNDO), else 0. */
int ckpt_task_sem_undo(struct task_struct *t);

#endif
