// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking for incremental checkpoints: the kernel's soft-dirty bits
 * of a held target, read with the PAGEMAP_SCAN ioctl of its
 * /proc/PID/pagemap and cleared by writing "4" to its /proc/PID/clear_refs
 * (the files the caller opened and passed, so that procfs makes its own
 * permission checks; the kernel exports no page-table walker).  Both are
 * called through the files' own operations with the caller's user memory as
 * the buffer, as if the caller had made the calls while the target was held.
 * Policy lives in rust/objects/track.rs.
 */

#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/fs.h>

#include "shim_track.h"

bool ckpt_track_supported(void)
{
	return IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && IS_ENABLED(CONFIG_PROC_PAGE_MONITOR);
}

static bool named(struct file *f, const char *name)
{
	return !strcmp((const char *)f->f_path.dentry->d_name.name, name);
}

/*
 * The caller's @pagemap_fd and @clear_refs_fd (-1: none), checked to be
 * /proc/PID/pagemap of @mm (the file holds the mm it was opened for) and the
 * clear_refs file of the same /proc/PID directory.  Returns 0 with
 * references in *pm and *cr (NULL for none), or -errno.
 */
int ckpt_track_files(struct mm_struct *mm, int pagemap_fd, int clear_refs_fd, struct file **pm,
		     struct file **cr)
{
	struct file *p, *c = NULL;
	int ret = -EINVAL;

	*pm = NULL;
	*cr = NULL;
	if (!ckpt_track_supported())
		return -EOPNOTSUPP;
	p = fget(pagemap_fd);
	if (!p)
		return -EBADF;
	if (file_inode(p)->i_sb->s_magic != PROC_SUPER_MAGIC || !named(p, "pagemap") ||
	    !(p->f_mode & FMODE_READ) || !p->f_op->unlocked_ioctl || p->private_data != mm)
		goto bad;
	if (clear_refs_fd >= 0) {
		struct dentry *dp, *dc;
		bool same;

		c = fget(clear_refs_fd);
		if (!c) {
			ret = -EBADF;
			goto bad;
		}
		if (file_inode(c)->i_sb->s_magic != PROC_SUPER_MAGIC || !named(c, "clear_refs") ||
		    !(c->f_mode & FMODE_WRITE) || !c->f_op->write)
			goto bad;
		dp = dget_parent(p->f_path.dentry);
		dc = dget_parent(c->f_path.dentry);
		same = dp == dc;
		dput(dp);
		dput(dc);
		if (!same)
			goto bad;
	}
	*pm = p;
	*cr = c;
	return 0;
bad:
	if (c)
		fput(c);
	fput(p);
	return ret;
}

/*
 * One PAGEMAP_SCAN of [@start, @end) of the target of @pm: the pages that are
 * present or swapped, with their soft-dirty, file, zero-page and guard
 * categories, at most @max regions into @out.  @scratch (@len bytes, at least
 * CKPT_TRACK_SCRATCH_MIN) is user memory of the caller.  *walk_end is where
 * the scan stopped.  Returns the number of regions or -errno.
 */
long ckpt_track_scan(struct file *pm, u64 start, u64 end, u64 scratch, u64 len,
		     struct ckpt_region *out, u32 max, u64 *walk_end)
{
	struct pm_scan_arg arg = {};
	u64 room = (len - sizeof(arg)) / sizeof(struct page_region);
	long n;

	if (len < CKPT_TRACK_SCRATCH_MIN)
		return -EINVAL;
	arg.size = sizeof(arg);
	arg.start = start;
	arg.end = end;
	arg.vec = scratch + sizeof(arg);
	arg.vec_len = min_t(u64, room, max);
	arg.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
	arg.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_SOFT_DIRTY | PAGE_IS_FILE |
			  PAGE_IS_PFNZERO | PAGE_IS_GUARD;
	if (copy_to_user(u64_to_user_ptr(scratch), &arg, sizeof(arg)))
		return -EFAULT;
	n = pm->f_op->unlocked_ioctl(pm, PAGEMAP_SCAN, (unsigned long)scratch);
	if (n < 0)
		return n;
	if (n > arg.vec_len)
		return -EIO;
	if (copy_from_user(&arg, u64_to_user_ptr(scratch), sizeof(arg)))
		return -EFAULT;
	BUILD_BUG_ON(sizeof(struct ckpt_region) != sizeof(struct page_region));
	if (copy_from_user(out, u64_to_user_ptr(scratch + sizeof(arg)),
			   n * sizeof(struct page_region)))
		return -EFAULT;
	*walk_end = arg.walk_end;
	return n;
}

/* Clears the soft-dirty bits of the target of @cr ("4" to clear_refs). */
int ckpt_track_clear(struct file *cr, u64 scratch)
{
	loff_t pos = 0;
	ssize_t n;

	if (put_user('4', (char __user *)u64_to_user_ptr(scratch)))
		return -EFAULT;
	n = cr->f_op->write(cr, u64_to_user_ptr(scratch), 1, &pos);
	if (n < 0)
		return n;
	return n == 1 ? 0 : -EIO;
}

/*
 * The mappings of @mm with what says where their pages come from, at most
 * @max into @out: extent, pgoff - (start >> PAGE_SHIFT) (mremap keeps
 * pgoff, so a moved mapping has another one), anon_vma (its anonymous pages'
 * lineage) and file.  The pointers are only compared, never followed.
 * Returns the number of mappings, -E2BIG if there are more, or -errno.
 */
long ckpt_track_layout(struct mm_struct *mm, struct ckpt_vma_id *out, u32 max)
{
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	long n = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		if (n == max) {
			n = -E2BIG;
			break;
		}
		out[n].start = vma->vm_start;
		out[n].end = vma->vm_end;
		out[n].rel = vma->vm_pgoff - (vma->vm_start >> PAGE_SHIFT);
		out[n].anon = (u64)(unsigned long)vma->anon_vma;
		out[n].file = (u64)(unsigned long)vma->vm_file;
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}
