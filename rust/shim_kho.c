// SPDX-License-Identifier: GPL-2.0
/*
 * Kexec handover (KHO) of a byte string: the memory of one blob -- the
 * images `ckpt handover put` packs before a kexec -- kept across the kexec
 * in preserved folios, so that the next kernel's module finds it without a
 * disk.  Mechanism only; who may call it, and when, is decided in
 * rust/handover.rs.
 *
 * Outgoing: the bytes are copied into folios (as large as the page
 * allocator gives cheaply), each preserved with kho_preserve_folio(); a
 * header folio naming them (struct ckpt_kho_hdr) is preserved too and
 * published as the KHO subtree "ckpt".  KHO in 7.2/7.3 is stateless: what is
 * registered when the machine kexecs is handed over, whenever the kernel
 * was loaded.  The subtree is a plain structure, not an FDT: libfdt is not
 * exported to modules (the kernel's own kexec-metadata subtree is a plain
 * structure too).  The set outlives the module on purpose (/init unloads it
 * before the kexec): its folios are the page allocator's, never the slab's.
 *
 * Incoming: at load, the module looks for the subtree, checks the header,
 * and restores every folio (kho_restore_folio); they are read through the
 * ioctl and freed when released (or at unload).  The header itself is
 * never restored: it stays reserved, and its `taken` word keeps a module
 * loaded again in the same boot from restoring the folios twice.
 */

#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "shim.h"

#define CKPT_KHO_NAME	"ckpt"
#define CKPT_KHO_MAGIC	"ckpt-kho-v1"
/* Largest folio tried for the data (2 MiB), and largest handover (16 GiB). */
#define CKPT_KHO_ORDER	9
#define CKPT_KHO_MAX	(16ULL << 30)

struct ckpt_kho_hdr {
	char magic[16];		/* CKPT_KHO_MAGIC, NUL-padded */
	u64 size;		/* bytes of the blob */
	u32 nr;			/* folios */
	u32 taken;		/* set by the module that restored them */
	u64 folios[];		/* physical address | order, in blob order */
};

struct ckpt_kho_set {
	struct folio **folios;
	u32 nr;
	u64 size;
	struct ckpt_kho_hdr *hdr;	/* outgoing only */
};

static DEFINE_MUTEX(ckpt_kho_lock);
static struct ckpt_kho_set kho_in, kho_out;

bool ckpt_kho_enabled(void)
{
	return IS_ENABLED(CONFIG_KEXEC_HANDOVER) && kho_is_enabled();
}

bool ckpt_kho_boot(void)
{
	return IS_ENABLED(CONFIG_KEXEC_HANDOVER) && is_kho_boot();
}

static void set_free(struct ckpt_kho_set *s)
{
	for (u32 i = 0; i < s->nr; i++)
		folio_put(s->folios[i]);
	kvfree(s->folios);
	memset(s, 0, sizeof(*s));
}

static size_t hdr_size(u32 nr)
{
	return sizeof(struct ckpt_kho_hdr) + (size_t)nr * sizeof(u64);
}

/* Drops the outgoing set: unpublished, unpreserved, freed. */
static void out_drop(void)
{
	struct ckpt_kho_set *s = &kho_out;

	if (!s->hdr)
		return;
	kho_remove_subtree(s->hdr);
	for (u32 i = 0; i < s->nr; i++)
		kho_unpreserve_folio(s->folios[i]);
	kho_unpreserve_folio(virt_to_folio(s->hdr));
	folio_put(virt_to_folio(s->hdr));
	set_free(s);
}

/*
 * ckpt_kho_put - hand @len bytes at @buf over to the next kernel, in place
 * of what was handed over before.  -EOPNOTSUPP without KHO, -EEXIST when a
 * set registered by an earlier load of the module is still published,
 * -E2BIG when the folios would need a header larger than the page allocator
 * gives (PAGE_SIZE << MAX_PAGE_ORDER).  The new set is made and preserved
 * first and replaces the previous one only once published: on any error the
 * previous set stays handed over as it was.
 */
int ckpt_kho_put(u64 buf, u64 len)
{
	struct ckpt_kho_set s = {};
	struct folio *hf = NULL;
	u64 done = 0;
	u32 cap;
	int err;

	if (!ckpt_kho_enabled())
		return -EOPNOTSUPP;
	if (!len || len > CKPT_KHO_MAX)
		return -EINVAL;
	guard(mutex)(&ckpt_kho_lock);

	cap = DIV_ROUND_UP(len, PAGE_SIZE);
	s.folios = kvmalloc_array(cap, sizeof(*s.folios), GFP_KERNEL);
	if (!s.folios)
		return -ENOMEM;
	while (done < len) {
		unsigned int order = min_t(unsigned int, CKPT_KHO_ORDER,
					   get_order(len - done));
		struct folio *f = NULL;
		u64 n;

		for (; order > 0; order--) {
			f = folio_alloc(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN, order);
			if (f)
				break;
		}
		if (!f)
			f = folio_alloc(GFP_KERNEL, 0);
		if (!f) {
			err = -ENOMEM;
			goto fail;
		}
		s.folios[s.nr++] = f;
		n = min_t(u64, folio_size(f), len - done);
		if (copy_from_user(folio_address(f), u64_to_user_ptr(buf + done), n)) {
			err = -EFAULT;
			goto fail;
		}
		done += n;
	}
	s.size = len;

	if (hdr_size(s.nr) > (PAGE_SIZE << MAX_PAGE_ORDER)) {
		err = -E2BIG;
		goto fail;
	}
	hf = folio_alloc(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN, get_order(hdr_size(s.nr)));
	if (!hf) {
		err = -ENOMEM;
		goto fail;
	}
	s.hdr = folio_address(hf);
	strscpy(s.hdr->magic, CKPT_KHO_MAGIC, sizeof(s.hdr->magic));
	s.hdr->size = s.size;
	s.hdr->nr = s.nr;
	for (u32 i = 0; i < s.nr; i++) {
		s.hdr->folios[i] = PFN_PHYS(folio_pfn(s.folios[i])) | folio_order(s.folios[i]);
		err = kho_preserve_folio(s.folios[i]);
		if (err) {
			while (i--)
				kho_unpreserve_folio(s.folios[i]);
			goto fail;
		}
	}
	err = kho_preserve_folio(hf);
	if (err)
		goto unpreserve;
	/*
	 * One subtree of the name: the previous set's is taken down for the
	 * new one, and put back if the new one cannot be published (the space
	 * it took in KHO's tree was just given back, so that succeeds; if it
	 * did not, the previous set is dropped whole rather than left
	 * preserved and unpublished).
	 */
	if (kho_out.hdr)
		kho_remove_subtree(kho_out.hdr);
	err = kho_add_subtree(CKPT_KHO_NAME, s.hdr, hdr_size(s.nr));
	if (err) {
		if (kho_out.hdr &&
		    kho_add_subtree(CKPT_KHO_NAME, kho_out.hdr, hdr_size(kho_out.nr)))
			out_drop();
		kho_unpreserve_folio(hf);
		goto unpreserve;
	}
	/* The previous set, unpublished above: unpreserved and freed. */
	out_drop();
	kho_out = s;
	return 0;

unpreserve:
	for (u32 i = 0; i < s.nr; i++)
		kho_unpreserve_folio(s.folios[i]);
fail:
	if (hf)
		folio_put(hf);
	set_free(&s);
	return err;
}

/* Drops what ckpt_kho_put() handed over: the next kernel gets nothing. */
void ckpt_kho_drop(void)
{
	guard(mutex)(&ckpt_kho_lock);
	out_drop();
}

/*
 * ckpt_kho_take - at load: restores the set the previous kernel handed
 * over, if any.  Returns its size, 0 for none, or -errno (a broken header:
 * nothing restored).
 */
s64 ckpt_kho_take(void)
{
	struct ckpt_kho_hdr *hdr;
	phys_addr_t phys;
	size_t size;
	u64 total = 0;
	int err;

	if (!ckpt_kho_enabled() || !is_kho_boot())
		return 0;
	err = kho_retrieve_subtree(CKPT_KHO_NAME, &phys, &size);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (size < sizeof(*hdr))
		return -EINVAL;
	hdr = phys_to_virt(phys);
	if (memcmp(hdr->magic, CKPT_KHO_MAGIC, sizeof(CKPT_KHO_MAGIC)) ||
	    size != hdr_size(hdr->nr) || !hdr->nr || hdr->size > CKPT_KHO_MAX)
		return -EINVAL;
	if (READ_ONCE(hdr->taken))
		return 0;
	for (u32 i = 0; i < hdr->nr; i++) {
		unsigned int order = hdr->folios[i] & ~PAGE_MASK;

		if (order > MAX_PAGE_ORDER || !PAGE_ALIGNED(hdr->folios[i] & PAGE_MASK))
			return -EINVAL;
		total += PAGE_SIZE << order;
	}
	if (total < hdr->size)
		return -EINVAL;

	guard(mutex)(&ckpt_kho_lock);
	WRITE_ONCE(hdr->taken, 1);
	kho_in.folios = kvmalloc_array(hdr->nr, sizeof(*kho_in.folios), GFP_KERNEL);
	if (!kho_in.folios)
		return -ENOMEM;
	for (u32 i = 0; i < hdr->nr; i++) {
		unsigned int order = hdr->folios[i] & ~PAGE_MASK;
		struct folio *f = kho_restore_folio(hdr->folios[i] & PAGE_MASK);

		if (!f) {
			set_free(&kho_in);
			return -EINVAL;
		}
		kho_in.folios[kho_in.nr++] = f;
		if (folio_order(f) != order) {
			set_free(&kho_in);
			return -EINVAL;
		}
	}
	kho_in.size = hdr->size;
	return kho_in.size;
}

/* Sizes of the incoming and the outgoing set (0: none). */
void ckpt_kho_sizes(u64 *in, u64 *out)
{
	guard(mutex)(&ckpt_kho_lock);
	*in = kho_in.size;
	*out = kho_out.size;
}

/*
 * ckpt_kho_read - copies up to @len bytes of the incoming set from @off to
 * @buf; returns the count (0 at the end), or -errno.
 */
s64 ckpt_kho_read(u64 buf, u64 off, u64 len)
{
	u64 done = 0, at = 0;

	guard(mutex)(&ckpt_kho_lock);
	if (!kho_in.size)
		return -ENODATA;
	if (off >= kho_in.size)
		return 0;
	len = min(len, kho_in.size - off);
	for (u32 i = 0; i < kho_in.nr && done < len; i++) {
		u64 fs = folio_size(kho_in.folios[i]), skip, n;

		if (at + fs <= off + done) {
			at += fs;
			continue;
		}
		skip = off + done - at;
		n = min(fs - skip, len - done);
		if (copy_to_user(u64_to_user_ptr(buf + done),
				 folio_address(kho_in.folios[i]) + skip, n))
			return -EFAULT;
		done += n;
		at += fs;
	}
	return done;
}

/* Frees the incoming set. */
void ckpt_kho_release(void)
{
	guard(mutex)(&ckpt_kho_lock);
	set_free(&kho_in);
}

/*
 * At unload: the incoming set is freed; the outgoing one stays published
 * for the kexec (only the array of its folios, which the header lists, is
 * freed).
 */
void ckpt_kho_exit(void)
{
	guard(mutex)(&ckpt_kho_lock);
	set_free(&kho_in);
	kvfree(kho_out.folios);
	memset(&kho_out, 0, sizeof(kho_out));
}
