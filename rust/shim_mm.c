// SPDX-License-Identifier: GPL-2.0
/*
 * Memory: the mappings and pages of a parked task's mm (pinned for the
 * dump), and the calling task's own address space rebuilt at restart
 * (unmapping, mapping, layout, filling pages, madvise properties, SysV shm).
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"
#include <linux/ksm.h>

/* The path of @p in @buf (@len bytes), as d_path() writes it; its length or -errno. */
int ckpt_path_of(const struct path *p, char *buf, u32 len)
{
	char *s = d_path(p, buf, len);
	int n;

	if (IS_ERR(s))
		return PTR_ERR(s);
	n = strlen(s);
	memmove(buf, s, n + 1);
	return n;
}

int ckpt_mm_info(struct mm_struct *mm, struct ckpt_mm_info *mi, char *exe, u32 exelen)
{
	struct file *exe_file;
	struct path exe_path = {};
	int ret, i;

	memset(mi, 0, sizeof(*mi));
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	mi->layout[0] = mm->start_code;
	mi->layout[1] = mm->end_code;
	mi->layout[2] = mm->start_data;
	mi->layout[3] = mm->end_data;
	mi->layout[4] = mm->start_brk;
	mi->layout[5] = mm->brk;
	mi->layout[6] = mm->start_stack;
	spin_lock(&mm->arg_lock);
	mi->layout[7] = mm->arg_start;
	mi->layout[8] = mm->arg_end;
	mi->layout[9] = mm->env_start;
	mi->layout[10] = mm->env_end;
	spin_unlock(&mm->arg_lock);
	BUILD_BUG_ON(ARRAY_SIZE(mm->saved_auxv) > ARRAY_SIZE(mi->auxv));
	for (i = 0; i + 1 < ARRAY_SIZE(mm->saved_auxv); i += 2) {
		mi->auxv[i] = mm->saved_auxv[i];
		mi->auxv[i + 1] = mm->saved_auxv[i + 1];
		if (mm->saved_auxv[i] == AT_NULL) {
			i += 2;
			break;
		}
	}
	mi->auxv_len = i;
	mi->map_count = mm->map_count;
	/* get_file_rcu(): files are SLAB_TYPESAFE_BY_RCU, so a plain RCU read could
	 * copy the path of a file recycled by a concurrent PR_SET_MM_EXE_FILE. */
	rcu_read_lock();
	exe_file = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	if (exe_file) {
		exe_path = exe_file->f_path;
		path_get(&exe_path);
		fput(exe_file);
	}
	mmap_read_unlock(mm);
	exe[0] = 0;
	if (exe_path.dentry) {
		ret = ckpt_path_of(&exe_path, exe, exelen);
		path_put(&exe_path);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool file_is_private_shmem(struct file *f)
{
	struct inode *inode = file_inode(f);

	return inode->i_sb->s_magic == TMPFS_MAGIC && IS_PRIVATE(inode);
}

/* Whether @mm asked KSM to merge all its memory (PR_SET_MEMORY_MERGE). */
bool ckpt_mm_merge_any(struct mm_struct *mm)
{
	return mm_flags_test(MMF_VM_MERGE_ANY, mm);
}

/* The bytes of anonymous and shared memory pages @mm has in memory (an estimate). */
u64 ckpt_mm_resident_anon(struct mm_struct *mm)
{
	return (u64)(get_mm_counter(mm, MM_ANONPAGES) + get_mm_counter(mm, MM_SHMEMPAGES))
	       << PAGE_SHIFT;
}

/* The image's vmflag bits (image::vmflag) of VMA flags @f. */
static u32 vma_semflags(vm_flags_t f)
{
	return ((f & VM_SHARED) ? 1u << 0 : 0) | ((f & VM_GROWSDOWN) ? 1u << 1 : 0) |
	       ((f & VM_LOCKED) ? 1u << 2 : 0) | ((f & VM_DONTCOPY) ? 1u << 3 : 0) |
	       ((f & VM_DONTDUMP) ? 1u << 4 : 0) | ((f & VM_MAYREAD) ? 1u << 5 : 0) |
	       ((f & VM_MAYWRITE) ? 1u << 6 : 0) | ((f & VM_MAYEXEC) ? 1u << 7 : 0) |
	       ((f & VM_HUGEPAGE) ? 1u << 8 : 0) | ((f & VM_NOHUGEPAGE) ? 1u << 9 : 0) |
	       ((f & VM_DROPPABLE) ? 1u << 10 : 0) | ((f & VM_WIPEONFORK) ? 1u << 11 : 0) |
	       ((f & VM_SEQ_READ) ? 1u << 12 : 0) | ((f & VM_RAND_READ) ? 1u << 13 : 0) |
	       ((f & VM_MERGEABLE) ? 1u << 14 : 0) | ((f & VM_NORESERVE) ? 1u << 15 : 0);
}

/* The first VMA ending above addr.  Returns 1 and fills vi (and *file, with a
 * reference, for file mappings), 0 if there is none, or -errno. */
int ckpt_mm_vma(struct mm_struct *mm, u64 addr, struct ckpt_vma_info *vi, struct file **file)
{
	struct vm_area_struct *vma;
	const char *name = NULL;
	vm_flags_t f;
	int ret;

	memset(vi, 0, sizeof(*vi));
	*file = NULL;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	vma = find_vma(mm, addr);
	if (!vma) {
		mmap_read_unlock(mm);
		return 0;
	}
	f = vma->vm_flags;
	vi->start = vma->vm_start;
	vi->end = vma->vm_end;
	vi->pgoff = vma->vm_pgoff;
	/* prot and the CKPT_VMA_* bits vm_flags alone says are Rust's (MmRef::vma_from). */
	vi->vm_flags = f;
	if (vma->anon_vma)
		vi->flags |= CKPT_VMA_ANON_VMA;
	if (f & VM_SEALED)
		vi->flags |= CKPT_VMA_SEALED;
	if (vma_pkey(vma))
		vi->flags |= CKPT_VMA_PKEY;
	if (f & VM_SHADOW_STACK)
		vi->flags |= CKPT_VMA_SHADOW_STACK;
	if (f & VM_DROPPABLE)
		vi->flags |= CKPT_VMA_DROPPABLE;
#ifdef VM_MAYBE_GUARD
	/* Sticky: set by MADV_GUARD_INSTALL, kept after MADV_GUARD_REMOVE. */
	if (f & VM_MAYBE_GUARD)
		vi->flags |= CKPT_VMA_MAYBE_GUARD;
#endif
	if (vma->vm_ops && vma->vm_ops->name) {
		name = vma->vm_ops->name(vma);
		if (name)
			vi->flags |= CKPT_VMA_SPECIAL;
	}
	copy_str(vi->name, sizeof(vi->name), name);
	if (vma->vm_file) {
		if (file_is_private_shmem(vma->vm_file) && (f & VM_SHARED))
			vi->flags |= CKPT_VMA_SHMEM;
		*file = get_file(vma->vm_file);
	}
	vi->semflags = vma_semflags(f);
	mmap_read_unlock(mm);
	return 1;
}

#define DUMP_BATCH 64

/*
 * Take references on the pages of [start, end) that hold data (up to max
 * pages) into out, their addresses into addrs.  Holes and the zero page are skipped without
 * faulting anything in (FOLL_DUMP, as core dumps do); all-zero pages are
 * skipped; with anon_only, page-cache pages (clean pages of a private file
 * mapping) are skipped too.  *next is where to continue.  Returns the number
 * of pages stored or -errno.
 */
long ckpt_mm_pin_pages(struct mm_struct *mm, u64 start, u64 end, bool anon_only,
		       struct page **out, u64 *addrs, u32 max, u64 *next)
{
	struct page *pages[DUMP_BATCH];
	u64 addr = start;
	long stored = 0;
	int ret = 0;

	while (addr < end && stored < max) {
		long n = min3((long)((end - addr) >> PAGE_SHIFT), (long)(max - stored),
			      (long)DUMP_BATCH);
		long got, i;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = mmap_read_lock_killable(mm);
		if (ret)
			break;
		got = get_user_pages_remote(mm, addr, n, FOLL_DUMP | FOLL_FORCE, pages, NULL);
		mmap_read_unlock(mm);
		if (got == -EFAULT) {
			/* A hole (or the zero page): nothing to save here. */
			addr += PAGE_SIZE;
			ret = 0;
			continue;
		}
		if (got < 0) {
			ret = got;
			break;
		}
		for (i = 0; i < got; i++) {
			struct page *page = pages[i];
			void *kaddr;

			bool keep = false;

			if (!anon_only || PageAnon(page)) {
				/*
				 * A zero page can be left out only where absence
				 * means zero: not over a file's contents.
				 */
				kaddr = kmap_local_page(page);
				keep = anon_only || memchr_inv(kaddr, 0, PAGE_SIZE);
				kunmap_local(kaddr);
			}
			if (keep) {
				/* The reference goes to the caller. */
				out[stored] = page;
				addrs[stored++] = addr + i * PAGE_SIZE;
			} else {
				put_page(page);
			}
		}
		addr += got * PAGE_SIZE;
		ret = 0;
		cond_resched();
	}
	*next = addr;
	return ret ? ret : stored;
}

/*
 * For each i with want[i] set: whether @mm maps, at addrs[i] (ascending), the
 * very page pages[i] (on which the caller holds a reference, so that it cannot
 * have been freed and reused): want[i] is left set only then.  A page mapped
 * by one address space only is not looked up.  Nothing is faulted in
 * (FOLL_DUMP); consecutive addresses are looked up together.
 */
int ckpt_mm_same_pages(struct mm_struct *mm, const u64 *addrs, struct page *const *pages, u32 n,
		       u8 *want)
{
	struct page *got_pages[DUMP_BATCH];
	u32 i = 0;
	int ret;

	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	while (i < n) {
		u32 run = 1, j;
		long got;

		/* A page only its own process maps is nobody else's. */
		if (want[i] && !folio_maybe_mapped_shared(page_folio(pages[i])))
			want[i] = 0;
		if (!want[i]) {
			i++;
			continue;
		}
		while (i + run < n && run < DUMP_BATCH && want[i + run] &&
		       folio_maybe_mapped_shared(page_folio(pages[i + run])) &&
		       addrs[i + run] == addrs[i] + ((u64)run << PAGE_SHIFT))
			run++;
		got = get_user_pages_remote(mm, addrs[i], run, FOLL_DUMP | FOLL_FORCE, got_pages,
					    NULL);
		if (got <= 0) {
			/* A hole (or the zero page) at addrs[i]: not that page. */
			want[i++] = 0;
			continue;
		}
		for (j = 0; j < got; j++) {
			want[i + j] = got_pages[j] == pages[i + j];
			put_page(got_pages[j]);
		}
		i += got;
	}
	mmap_read_unlock(mm);
	return 0;
}

/* Drops references taken by ckpt_mm_pin_pages() (@pinned false) or pins taken
 * by ckpt_cur_hold_pages() (@pinned: the pages were written, marked dirty). */
void ckpt_pages_put(struct page **pages, u32 n, bool pinned)
{
	u32 i;

	if (pinned) {
		unpin_user_pages_dirty_lock(pages, n, true);
		return;
	}
	for (i = 0; i < n; i++)
		put_page(pages[i]);
}

/* Where current's special mapping @name ([vdso], [vvar], ...) is. */
int ckpt_cur_special(const char *name, u64 *start, u64 *end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	int ret = -ENOENT;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		const char *n = vma->vm_ops && vma->vm_ops->name ? vma->vm_ops->name(vma) : NULL;

		if (n && !strcmp(n, name)) {
			*start = vma->vm_start;
			*end = vma->vm_end;
			ret = 0;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

static bool vma_is_named_special(struct vm_area_struct *vma)
{
	return vma->vm_ops && vma->vm_ops->name && vma->vm_ops->name(vma);
}

static bool vma_is_sysv(struct vm_area_struct *vma)
{
	struct file *f = vma->vm_file;

	return f && (vma->vm_flags & VM_SHARED) &&
	       file_inode(f)->i_sb->s_magic == TMPFS_MAGIC &&
	       !strncmp(f->f_path.dentry->d_name.name, "SYSV", 4);
}

/* Flags a private anonymous mapping of the restarter may have and still be
 * taken over by a restart (see ckpt_cur_anon_ranges()). */
#define KEEPABLE_FLAGS                                                                      \
	(VM_READ | VM_WRITE | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | \
	 VM_ACCOUNT | VM_SOFTDIRTY | VM_MAYBE_GUARD)

static bool vma_keepable(struct vm_area_struct *vma)
{
	if (!vma_is_anonymous(vma) || vma->vm_file || (vma->vm_flags & ~KEEPABLE_FLAGS) ||
	    userfaultfd_armed(vma) || vma_policy(vma))
		return false;
#ifdef CONFIG_ANON_VMA_NAME
	if (vma->anon_name)
		return false;
#endif
	return true;
}

static bool range_kept(struct vm_area_struct *vma, const u64 *keep, u32 nkeep)
{
	u32 lo = 0, hi = nkeep;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (keep[2 * mid] < vma->vm_start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nkeep && keep[2 * lo] == vma->vm_start && keep[2 * lo + 1] == vma->vm_end &&
	       vma_keepable(vma);
}

/*
 * Unmaps everything in current's address space but its SysV attachments
 * (dropped afterwards, see ckpt_cur_sysv_ranges(): a segment marked for
 * removal must stay attached until it is attached again), unless @specials
 * the vdso & co, and the mappings that are exactly one of the @nkeep (start,
 * end) pairs of @keep (ascending) and that ckpt_cur_anon_ranges() would list.
 */
int ckpt_cur_unmap_all(bool specials, const u64 *keep, u32 nkeep)
{
	struct mm_struct *mm = current->mm;
	u64 addr = 0;

	for (;;) {
		struct vm_area_struct *vma;
		u64 start, end;
		int ret;

		mmap_read_lock(mm);
		for (vma = find_vma(mm, addr);
		     vma && ((!specials && vma_is_named_special(vma)) || vma_is_sysv(vma) ||
			     range_kept(vma, keep, nkeep));
		     vma = find_vma(mm, vma->vm_end))
			;
		if (!vma) {
			mmap_read_unlock(mm);
			return 0;
		}
		start = vma->vm_start;
		end = vma->vm_end;
		mmap_read_unlock(mm);
		ret = vm_munmap(start, end - start);
		if (ret)
			return ret;
		addr = end;
	}
}

/* Layout fields and auxv, as prctl(PR_SET_MM_MAP) would set them. */
int ckpt_cur_set_layout(const u64 *l, const u64 *auxv, u32 auxv_len)
{
	struct mm_struct *mm = current->mm;
	int i;

	if (auxv_len > ARRAY_SIZE(mm->saved_auxv))
		return -EINVAL;
	for (i = 0; i < 11; i++)
		if (l[i] >= TASK_SIZE)
			return -EINVAL;
	mmap_write_lock(mm);
	mm->start_code = l[0];
	mm->end_code = l[1];
	mm->start_data = l[2];
	mm->end_data = l[3];
	mm->start_brk = l[4];
	mm->brk = l[5];
	mm->start_stack = l[6];
	spin_lock(&mm->arg_lock);
	mm->arg_start = l[7];
	mm->arg_end = l[8];
	mm->env_start = l[9];
	mm->env_end = l[10];
	spin_unlock(&mm->arg_lock);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	for (i = 0; i < auxv_len; i++)
		mm->saved_auxv[i] = auxv[i];
	mmap_write_unlock(mm);
	return 0;
}

#define FILL_BATCH 64

/*
 * Fills @npages whole pages of current's memory from @addr (page-aligned)
 * with @data: pin_user_pages faults each page in and pins it (FOLL_PIN, as
 * any writer of page contents through GUP must: a merely referenced anonymous
 * page could be swapped out under the write), the data is copied through the
 * kernel mapping and the pages are unpinned dirty, FILL_BATCH pages per
 * mmap_lock hold.  @force writes through read-only private mappings (into a COW copy)
 * as ptrace would.
 */
int ckpt_cur_fill_pages(u64 addr, const void *data, u32 npages, bool force)
{
	struct mm_struct *mm = current->mm;
	unsigned int flags = FOLL_WRITE | (force ? FOLL_FORCE : 0);
	struct page *pages[FILL_BATCH];
	u32 done = 0;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	while (done < npages) {
		long n = min_t(long, npages - done, FILL_BATCH);
		long got, i;

		if (fatal_signal_pending(current))
			return -EINTR;
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		got = pin_user_pages_remote(mm, addr + ((u64)done << PAGE_SHIFT), n, flags, pages,
					    NULL);
		if (got <= 0) {
			mmap_read_unlock(mm);
			return got ? got : -EFAULT;
		}
		for (i = 0; i < got; i++) {
			void *k = kmap_local_page(pages[i]);

			memcpy(k, data + ((size_t)(done + i) << PAGE_SHIFT), PAGE_SIZE);
			kunmap_local(k);
		}
		/* Written: dirty, anonymous or not (a clean anonymous page in the
		 * swap cache would otherwise be dropped with the data). */
		unpin_user_pages_dirty_lock(pages, got, true);
		mmap_read_unlock(mm);
		done += got;
		cond_resched();
	}
	return 0;
}

/*
 * Takes a reference on each of the @npages pages of @mm from @addr
 * (page-aligned) into @out, faulted in for writing as ckpt_cur_fill_pages()
 * does (@mm: current's, or one a restarting task holds while this runs on
 * another CPU for it).  Returns @npages or -errno (and then holds nothing).
 */
long ckpt_mm_hold_pages(struct mm_struct *mm, u64 addr, u32 npages, bool force,
			struct page **out)
{
	unsigned int flags = FOLL_WRITE | (force ? FOLL_FORCE : 0);
	long got = 0;
	u32 done = 0;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	while (done < npages) {
		if (fatal_signal_pending(current) || mmap_read_lock_killable(mm)) {
			got = -EINTR;
			break;
		}
		got = pin_user_pages_remote(mm, addr + ((u64)done << PAGE_SHIFT), npages - done,
					    flags, out + done, NULL);
		mmap_read_unlock(mm);
		if (got <= 0) {
			got = got ? got : -EFAULT;
			break;
		}
		done += got;
	}
	if (done == npages)
		return done;
	unpin_user_pages(out, done);
	return got;
}

/*
 * Gives the page of current's memory at @addr the contents @data: keeps the
 * anonymous page there if it holds them already (a page shared copy-on-write
 * with the process this one was forked from), else writes them as
 * ckpt_cur_fill_pages() does.  Returns 1 if kept, 0 if written, or -errno.
 */
int ckpt_cur_keep_or_fill(u64 addr, const void *data, bool force)
{
	struct mm_struct *mm = current->mm;
	struct page *page;
	bool same = false;
	long got;

	if (!mm || !PAGE_ALIGNED(addr))
		return -EFAULT;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	got = get_user_pages_remote(mm, addr, 1, FOLL_DUMP | FOLL_FORCE, &page, NULL);
	mmap_read_unlock(mm);
	if (got == 1) {
		if (PageAnon(page)) {
			const void *k = kmap_local_page(page);

			same = !memcmp(k, data, PAGE_SIZE);
			kunmap_local(k);
		}
		put_page(page);
	}
	if (same)
		return 1;
	return ckpt_cur_fill_pages(addr, data, 1, force);
}

/*
 * The private anonymous mappings of current that a restart may take over as
 * they are (with their pages): plain ones, with no file, policy, name,
 * userfaultfd, lock or madvise state.  Up to @max (start, end, vm_flags,
 * image vmflag bits) quadruples into @out; returns how many, or -errno.
 */
long ckpt_cur_anon_ranges(u64 *out, u32 max)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long n = 0;
	VMA_ITERATOR(vmi, mm, 0);

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		if (!vma_keepable(vma))
			continue;
		if (n == max) {
			n = -E2BIG;
			break;
		}
		out[4 * n] = vma->vm_start;
		out[4 * n + 1] = vma->vm_end;
		out[4 * n + 2] = vma->vm_flags;	/* Rust makes it PROT_* */
		out[4 * n + 3] = vma_semflags(vma->vm_flags);
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

/*
 * Drops the pages of [start, end) of current's mapping there (one that
 * ckpt_cur_anon_ranges() lists), as madvise(MADV_DONTNEED) would: the range
 * reads as zeroes again.
 */
int ckpt_cur_zap(u64 start, u64 end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
		return -EINVAL;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start > start || vma->vm_end < end || !vma_keepable(vma))
		ret = -EINVAL;
	else
		zap_vma_range(vma, start, end - start);
	mmap_read_unlock(mm);
	return ret;
}

/* A new shared anonymous memory object of @size bytes, as MAP_SHARED |
 * MAP_ANONYMOUS makes one ("/dev/zero (deleted)", a private tmpfs inode). */
struct file *ckpt_shmem_new(u64 size, int *err)
{
	struct file *f;

	if (!size || size > MAX_LFS_FILESIZE || !PAGE_ALIGNED(size)) {
		*err = -EINVAL;
		return NULL;
	}
	f = shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	return f;
}

/*
 * The file of current's attachment of SysV shared memory segment @shmid
 * (a mapping whose file is a segment's, "/SYSV...": the shm file of an
 * shmat(); its inode number is the shmid), with a reference; NULL if
 * current has none.  Mapping that file again (vm_mmap) attaches the
 * segment again, as shmat() would (shm_mmap).
 */
struct file *ckpt_cur_sysv_file(u64 shmid)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct file *f = NULL;
	VMA_ITERATOR(vmi, mm, 0);

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (vma_is_sysv(vma) && file_inode(vma->vm_file)->i_ino == shmid) {
			f = get_file(vma->vm_file);
			break;
		}
	}
	mmap_read_unlock(mm);
	return f;
}

/* Up to @max SysV shared memory attachments of current, as [start, end)
 * pairs in @out; returns how many. */
int ckpt_cur_sysv_ranges(u64 *out, u32 max)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	u32 n = 0;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (!vma_is_sysv(vma))
			continue;
		if (n == max) {
			mmap_read_unlock(mm);
			return -E2BIG;
		}
		out[2 * n] = vma->vm_start;
		out[2 * n + 1] = vma->vm_end;
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

/*
 * Sets the VMA flags @set and clears @clear on current's mapping that is
 * exactly [start, end), as madvise() does on a whole mapping (do_madvise is
 * not exported): which flags (MADV_DONTFORK, DONTDUMP, HUGEPAGE,
 * NOHUGEPAGE, WIPEONFORK) is Rust's (cur::vma_advise); @adv adds the
 * CKPT_ADV_* ones whose VM_* flags the bindings lack: MADV_SEQUENTIAL and
 * MADV_RANDOM, and MADV_MERGEABLE through ksm_madvise() (which registers the
 * mm with KSM).  -EINVAL if no mapping is exactly there, or it is one
 * madvise refuses (VM_SPECIAL, hugetlb); -EOPNOTSUPP for MERGEABLE without
 * CONFIG_KSM.
 */
int ckpt_cur_vma_advise(u64 start, u64 end, u64 set, u64 clear, u32 adv)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = 0;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start != start || vma->vm_end != end ||
	    (vma->vm_flags & (VM_SPECIAL | VM_HUGETLB))) {
		ret = -EINVAL;
		goto out;
	}
	if (adv & CKPT_ADV_SEQUENTIAL) {
		set |= VM_SEQ_READ;
		clear |= VM_RAND_READ;
	} else if (adv & CKPT_ADV_RANDOM) {
		set |= VM_RAND_READ;
		clear |= VM_SEQ_READ;
	}
	if (adv & CKPT_ADV_MERGEABLE) {
#ifdef CONFIG_KSM
		vm_flags_t f = vma->vm_flags;

		ret = ksm_madvise(vma, start, end, MADV_MERGEABLE, &f);
		if (ret)
			goto out;
		set |= f & VM_MERGEABLE;
#else
		ret = -EOPNOTSUPP;
		goto out;
#endif
	}
	vm_flags_mod(vma, set, clear);
out:
	mmap_write_unlock(mm);
	return ret;
}
