/* SPDX-License-Identifier: GPL-2.0 */
/* Dirty tracking for incremental checkpoints (soft-dirty bits through procfs). */
#ifndef CKPT_SHIM_TRACK_H
#define CKPT_SHIM_TRACK_H

#include <linux/types.h>

struct file;
struct mm_struct;

/* struct page_region of PAGEMAP_SCAN. */
struct ckpt_region {
	u64 start, end, categories;
};

/* One mapping of an address space, as ckpt_track_layout() identifies it. */
struct ckpt_vma_id {
	u64 start, end, rel, anon, file;
};

/* Smallest scratch buffer: the scan arguments and a few regions. */
#define CKPT_TRACK_SCRATCH_MIN	4096

bool ckpt_track_supported(void);
int ckpt_track_files(struct mm_struct *mm, int pagemap_fd, int clear_refs_fd, struct file **pm,
		     struct file **cr);
long ckpt_track_scan(struct file *pm, u64 start, u64 end, u64 scratch, u64 len,
		     struct ckpt_region *out, u32 max, u64 *walk_end);
int ckpt_track_clear(struct file *cr, u64 scratch);
long ckpt_track_layout(struct mm_struct *mm, struct ckpt_vma_id *out, u32 max);

#endif /* CKPT_SHIM_TRACK_H */
