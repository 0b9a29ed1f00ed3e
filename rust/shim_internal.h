/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the rust/shim_*.c files share: the kernel headers they use and the
 * few helpers more than one of them calls.  Rust sees only shim.h.
 */
#ifndef CKPT_SHIM_INTERNAL_H
#define CKPT_SHIM_INTERNAL_H

#include <linux/binfmts.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/futex.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/bvec.h>
#include <linux/uio.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/pkeys.h>
#include <linux/ptrace.h>
#include <linux/rseq.h>
#include <linux/regset.h>
#include <linux/sched.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>
#include <linux/utsname.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/shmem_fs.h>
#include <linux/tty.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/eventfd.h>
#include <linux/seq_file.h>
#include <linux/exportfs.h>
#include <linux/namei.h>
#include <linux/tty_driver.h>
#include <linux/sched/jobctl.h>
#include <uapi/linux/membarrier.h>
#include <uapi/linux/prctl.h>
#include <uapi/linux/pidfd.h>
#include <uapi/linux/elf.h>
#include <asm/user.h>
#include <asm/fsgsbase.h>
#include <asm/fpu/api.h>
#include <asm/msr.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/types.h>
#include <asm/sigframe.h>

#include "shim.h"

static inline void copy_str(char *dst, u32 len, const char *src)
{
	if (len)
		strscpy(dst, src ? src : "", len);
}


/* A bvec iov_iter over @n whole pages (direction @dir); returns the bvec array
 * to kvfree() afterwards, or NULL. */
static inline struct bio_vec *pages_iter(struct iov_iter *iter, unsigned int dir, struct page **pages,
				  u32 n)
{
	struct bio_vec *bv = kvmalloc_array(n, sizeof(*bv), GFP_KERNEL);
	u32 i;

	if (!bv)
		return NULL;
	for (i = 0; i < n; i++)
		bvec_set_page(&bv[i], pages[i], PAGE_SIZE, 0);
	iov_iter_bvec(iter, dir, bv, n, (size_t)n << PAGE_SHIFT);
	return bv;
}

/* I/O for the module is not restarted: a -ERESTART* is -EINTR. */
static inline ssize_t no_restart(ssize_t r)
{
	if (r == -ERESTARTSYS || r == -ERESTARTNOINTR || r == -ERESTARTNOHAND)
		return -EINTR;
	return r;
}

#endif /* CKPT_SHIM_INTERNAL_H */
