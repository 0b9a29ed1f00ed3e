// SPDX-License-Identifier: GPL-2.0
/*
 * Event-loop files (eventfd, timerfd, signalfd, epoll, inotify, fanotify): their state
 * is read as /proc/PID/fdinfo shows it, through the file's own show_fdinfo;
 * readiness and clocks.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"
#include <linux/eventpoll.h>
#include <linux/fsnotify_backend.h>

/* Runs @f's show_fdinfo into @buf (a seq_file of our own, as fs/proc/fd.c
 * does); returns the length, -EOPNOTSUPP if the file has none, -EOVERFLOW if
 * @len was too small. */
long ckpt_file_fdinfo(struct file *f, char *buf, u32 len)
{
	struct seq_file m = { .buf = buf, .size = len, .file = f };

	if (!f->f_op->show_fdinfo)
		return -EOPNOTSUPP;
	f->f_op->show_fdinfo(&m, f);
	if (seq_has_overflowed(&m))
		return -EOVERFLOW;
	return m.count;
}

/* Whether @f is an eventfd (the kernel's own test). */
bool ckpt_file_is_eventfd(struct file *f)
{
	struct eventfd_ctx *ctx = eventfd_ctx_fileget(f);

	if (IS_ERR(ctx))
		return false;
	eventfd_ctx_put(ctx);
	return true;
}

/* The events @f reports now (its poll with no wait queue). */
u32 ckpt_file_poll(struct file *f)
{
	return (__force u32)vfs_poll(f, NULL);
}

/* Whether some epoll instance watches @f. */
bool ckpt_file_watched(struct file *f)
{
	return READ_ONCE(f->f_ep) != NULL;
}

/*
 * fs/eventpoll.c's struct epitem, private there (the same in 7.2 and 7.3): only
 * its fields up to the event, only read, and each entry found is first checked
 * to name the file whose list it is on (ckpt_epoll_entries_on()). Not in
 * the kernel's headers: an exported "list the epoll entries on this file"
 * would replace it upstream.
 */
struct ckpt_epitem {
	union {
		struct rb_node rbn;
		struct rcu_head rcu;
	};
	struct list_head rdllink;
	struct ckpt_epitem *ovflist_next;
	struct epoll_key ffd;
	void *pwqlist;
	void *ep;
	struct hlist_node fllink;
	void *ws;
	struct epoll_event event;
};

/*
 * The entries of epoll file @ep that watch @f (the entries of every epoll set
 * on @f hang on @f->f_ep, changed only under @f->f_lock): the first @max into
 * @out. @ep is only compared (is_file_epoll() is not exported: the caller
 * knows @ep for an epoll file). Returns how many there are, -EPROTO if an
 * entry on the list does not name @f (the layout above is not this
 * kernel's: nothing of it is believed).
 */
int ckpt_epoll_entries_on(struct file *f, struct file *ep,
			  struct ckpt_epoll_entry *out, u32 max)
{
	struct ckpt_epitem *epi;
	struct hlist_head *head;
	int n = 0;

	spin_lock(&f->f_lock);
	head = f->f_ep;
	if (head) {
		hlist_for_each_entry(epi, head, fllink) {
			if (epi->ffd.file != f) {
				n = -EPROTO;
				break;
			}
			if (epi->ep != ep->private_data)
				continue;
			if (n < max) {
				out[n].fd = epi->ffd.fd;
				out[n].events = READ_ONCE(epi->event.events);
				out[n].data = READ_ONCE(epi->event.data);
			}
			n++;
		}
	}
	spin_unlock(&f->f_lock);
	return n;
}

/*
 * fs/eventpoll.c's struct eppoll_entry, private there (the same in 7.2 and
 * 7.3): the link of an epoll entry into a wait queue of the file it watches.
 * Only its base is read, of an entry found on a wait queue under that
 * queue's lock (an entry leaves its queue under that lock before it is freed).
 */
struct ckpt_eppoll_entry {
	struct ckpt_eppoll_entry *next;
	struct ckpt_epitem *base;
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;
};

/*
 * Whether the entry of epoll file @ep keyed by fd @fd that watches signalfd @f
 * hangs on the signalfd wait queue of @t's signal handlers: signalfd_poll()
 * waits on the sighand of the process that added the entry, and only the
 * signals of that process wake it. 1 if it does, 0 if not (another process
 * added it, or that process is gone and the entry woken for good), -ENOENT if
 * there is no such entry, -EPROTO if an entry on @f's list does not name @f
 * (not this kernel's layout).
 *
 * The epoll entries on the queue are told from the other waiters by their
 * wait entries' private pointer, which only epoll (and aio's poll) leave NULL:
 * poll(), select() and the blocking readers put a task or a table there.
 */
int ckpt_epoll_signalfd_wakes(struct file *f, struct file *ep, s32 fd, struct task_struct *t)
{
	struct ckpt_epitem *epi, *found = NULL;
	struct sighand_struct *sh;
	wait_queue_entry_t *w;
	unsigned long flags;
	int r = 0;

	spin_lock(&f->f_lock);
	if (f->f_ep) {
		hlist_for_each_entry(epi, f->f_ep, fllink) {
			if (epi->ffd.file != f) {
				spin_unlock(&f->f_lock);
				return -EPROTO;
			}
			if (epi->ep == ep->private_data && epi->ffd.fd == fd) {
				found = epi;
				break;
			}
		}
	}
	spin_unlock(&f->f_lock);
	if (!found)
		return -ENOENT;
	/* Only compared from here on: never dereferenced. */
	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return 0;
	spin_lock(&sh->signalfd_wqh.lock);
	list_for_each_entry(w, &sh->signalfd_wqh.head, entry) {
		if (w->private)
			continue;
		if (container_of(w, struct ckpt_eppoll_entry, wait)->base == found) {
			r = 1;
			break;
		}
	}
	spin_unlock(&sh->signalfd_wqh.lock);
	spin_unlock_irqrestore(&sh->siglock, flags);
	return r;
}

/* The time of clock @clockid (a timerfd's clock) in ns. */
u64 ckpt_clock_ns(int clockid)
{
	switch (clockid) {
	case CLOCK_MONOTONIC:
		return ktime_get_ns();
	case CLOCK_BOOTTIME:
	case CLOCK_BOOTTIME_ALARM:
		return ktime_get_boottime_ns();
	default:
		return ktime_get_real_ns();
	}
}

#if IS_ENABLED(CONFIG_EXPORTFS)
/* Accepts only dentries connected to their filesystem's root (a path names them). */
static int ckpt_connected(void *ctx, struct dentry *d)
{
	return !(d->d_flags & DCACHE_DISCONNECTED);
}

/* The path (through mount @on) of the inode that file handle @fh (@fhlen bytes,
 * @type) names on the filesystem of device @dev, if its number is @ino and the
 * path leads back to it. */
static int handle_path_on(const struct path *on, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	struct path p, q;
	struct dentry *d;
	int ret;

	if (on->mnt->mnt_sb->s_dev != dev)
		return -EXDEV;
	d = exportfs_decode_fh(on->mnt, (struct fid *)fh, fhlen / 4, type,
			       ckpt_connected, NULL);
	if (IS_ERR_OR_NULL(d))
		return d ? PTR_ERR(d) : -ESTALE;
	ret = -ESTALE;
	if (d_inode(d)->i_ino != ino || d_unlinked(d))
		goto out;
	p.mnt = on->mnt;
	p.dentry = d;
	ret = ckpt_path_of(&p, buf, buflen);
	if (ret < 0)
		goto out;
	/* The name must lead back to the inode (not a bind mount's hidden part). */
	if (kern_path(buf, 0, &q)) {
		ret = -ESTALE;
		goto out;
	}
	if (d_inode(q.dentry) != d_inode(d))
		ret = -ESTALE;
	path_put(&q);
out:
	dput(d);
	return ret;
}

/* The path of an inode named by a file handle (see handle_path_on()), looked up
 * through the mounts of @t's root, working directory and open files. */
int ckpt_task_handle_path(struct task_struct *t, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	struct path root = {}, pwd = {};
	unsigned int fd = 0;
	struct file *f;
	int ret;

	if (fhlen > MAX_HANDLE_SZ || fhlen % 4)
		return -EINVAL;
	task_lock(t);
	if (t->fs) {
		get_fs_root(t->fs, &root);
		get_fs_pwd(t->fs, &pwd);
	}
	task_unlock(t);
	ret = -ENOENT;
	if (root.mnt)
		ret = handle_path_on(&root, dev, ino, type, fh, fhlen, buf, buflen);
	if (ret < 0 && pwd.mnt)
		ret = handle_path_on(&pwd, dev, ino, type, fh, fhlen, buf, buflen);
	path_put(&root);
	path_put(&pwd);
	while (ret < 0 && (f = fget_task_next(t, &fd))) {
		ret = handle_path_on(&f->f_path, dev, ino, type, fh, fhlen, buf, buflen);
		fput(f);
		fd++;
	}
	return ret < 0 ? ret : 0;
}
#endif

/* The path of @p if it is on the filesystem of device @dev and the path leads
 * back to that filesystem. */
static int sb_path_of(const struct path *p, u32 dev, char *buf, u32 buflen)
{
	struct path q;
	int ret;

	if (p->mnt->mnt_sb->s_dev != dev)
		return -EXDEV;
	ret = ckpt_path_of(p, buf, buflen);
	if (ret < 0)
		return ret;
	if (kern_path(buf, 0, &q))
		return -ESTALE;
	if (q.mnt->mnt_sb->s_dev != dev)
		ret = -ESTALE;
	path_put(&q);
	return ret;
}

/* A path on the filesystem of device @dev (what a fanotify filesystem mark
 * names), through @on: the root of its mount, else @on itself. */
static int sb_path_on(const struct path *on, u32 dev, char *buf, u32 buflen)
{
	struct path root = { .mnt = on->mnt, .dentry = on->mnt->mnt_root };
	int ret = sb_path_of(&root, dev, buf, buflen);

	return ret < 0 ? sb_path_of(on, dev, buf, buflen) : ret;
}

/*
 * Calls @fn on @t's root, its working directory and each of its open files'
 * paths, in that order, until it returns 0 or more; returns that, or
 * -ENOENT.
 */
static int for_task_paths(struct task_struct *t,
			  int (*fn)(const struct path *p, void *arg), void *arg)
{
	struct path root = {}, pwd = {};
	unsigned int fd = 0;
	struct file *f;
	int ret = -ENOENT;

	task_lock(t);
	if (t->fs) {
		get_fs_root(t->fs, &root);
		get_fs_pwd(t->fs, &pwd);
	}
	task_unlock(t);
	if (root.mnt)
		ret = fn(&root, arg);
	if (ret < 0 && pwd.mnt)
		ret = fn(&pwd, arg);
	path_put(&root);
	path_put(&pwd);
	while (ret < 0 && (f = fget_task_next(t, &fd))) {
		ret = fn(&f->f_path, arg);
		fput(f);
		fd++;
	}
	return ret < 0 ? -ENOENT : ret;
}

struct sb_path_arg {
	u32 dev;
	char *buf;
	u32 buflen;
};

static int sb_path_fn(const struct path *p, void *arg)
{
	struct sb_path_arg *a = arg;

	return sb_path_on(p, a->dev, a->buf, a->buflen);
}

/* A path on the filesystem of device @dev (see sb_path_on()), through the
 * mounts of @t's root, working directory and open files. */
int ckpt_task_sb_path(struct task_struct *t, u32 dev, char *buf, u32 buflen)
{
	struct sb_path_arg a = { .dev = dev, .buf = buf, .buflen = buflen };
	int ret = for_task_paths(t, sb_path_fn, &a);

	return ret < 0 ? ret : 0;
}

#if IS_ENABLED(CONFIG_FANOTIFY)
/* The fanotify group of @f (its private_data), or NULL if @f is no fanotify
 * file (an anonymous-inode file fanotify_init() named "[fanotify]"). */
static struct fsnotify_group *fanotify_group_of(struct file *f)
{
	if (file_inode(f)->i_sb->s_magic != ANON_INODE_FS_MAGIC ||
	    strcmp(f->f_path.dentry->d_name.name, "[fanotify]"))
		return NULL;
	return f->private_data;
}

/* Whether @group has a mark on mount @mnt with these masks. */
static bool mount_marked(struct fsnotify_group *group, struct vfsmount *mnt,
			 u32 mask, u32 ignore)
{
	struct fsnotify_mark *mark;
	bool hit;

	mark = fsnotify_find_mark(mnt, FSNOTIFY_OBJ_TYPE_VFSMOUNT, group);
	if (!mark)
		return false;
	hit = READ_ONCE(mark->mask) == mask &&
	      READ_ONCE(mark->ignore_mask) == ignore;
	fsnotify_put_mark(mark);
	return hit;
}

#define CKPT_MOUNT_MARKS_MAX 64

struct mount_mark_arg {
	struct fsnotify_group *group;
	u32 mask, ignore, nth;
	/* The marked mounts met so far (compared, never followed). */
	struct vfsmount *seen[CKPT_MOUNT_MARKS_MAX];
	u32 nseen;
	char *buf;
	u32 buflen;
	int err;
};

static int mount_mark_fn(const struct path *p, void *arg)
{
	struct mount_mark_arg *a = arg;
	struct path root = { .mnt = p->mnt, .dentry = p->mnt->mnt_root }, q;
	int ret;
	u32 i;

	for (i = 0; i < a->nseen; i++)
		if (a->seen[i] == p->mnt)
			return -ENOENT;
	if (!mount_marked(a->group, p->mnt, a->mask, a->ignore))
		return -ENOENT;
	if (a->nseen == a->nth) {
		/* Its root, by a path that names this very mount (none over it). */
		a->err = -ESTALE;
		ret = ckpt_path_of(&root, a->buf, a->buflen);
		if (ret >= 0 && !kern_path(a->buf, 0, &q)) {
			if (q.mnt == p->mnt && q.dentry == p->mnt->mnt_root)
				a->err = 0;
			path_put(&q);
		}
		return 1;
	}
	if (a->nseen == CKPT_MOUNT_MARKS_MAX) {
		a->err = -E2BIG;
		return 1;
	}
	a->seen[a->nseen++] = p->mnt;
	return -ENOENT;
}
#endif

/*
 * A path to the root of the @nth (from 0) distinct mount, among those of @t's
 * root, working directory and open files, that the group of fanotify file @f
 * marks with @mask and @ignore (a mount mark's object, which fdinfo shows by
 * mount id only). -ENOENT if there is none; -ESTALE if it has no path that
 * names it (something is mounted over it, or it is not under the caller's
 * root); -E2BIG past 64 marked mounts; -EINVAL if @f is no fanotify file.
 */
int ckpt_task_mount_mark_path(struct task_struct *t, struct file *f, u32 mask,
			      u32 ignore, u32 nth, char *buf, u32 buflen)
{
#if IS_ENABLED(CONFIG_FANOTIFY)
	struct mount_mark_arg *a;
	int ret;

	if (!fanotify_group_of(f))
		return -EINVAL;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	*a = (struct mount_mark_arg){ .group = fanotify_group_of(f),
				      .mask = mask, .ignore = ignore, .nth = nth,
				      .buf = buf, .buflen = buflen };
	ret = for_task_paths(t, mount_mark_fn, a);
	if (ret > 0)
		ret = a->err;
	kfree(a);
	return ret;
#else
	return -EOPNOTSUPP;
#endif
}

/*
 * Whether the group of fanotify file @f marks the mount @on is on with @mask
 * and @ignore (a restart's check of a mount mark it made): 1, 0, or -EINVAL
 * if @f is no fanotify file.
 */
int ckpt_fanotify_marks_mount_of(struct file *f, struct file *on, u32 mask,
				 u32 ignore)
{
#if IS_ENABLED(CONFIG_FANOTIFY)
	struct fsnotify_group *group = fanotify_group_of(f);

	if (!group)
		return -EINVAL;
	return mount_marked(group, on->f_path.mnt, mask, ignore);
#else
	return -EOPNOTSUPP;
#endif
}

#if !IS_ENABLED(CONFIG_EXPORTFS)
/* Without exportfs, file handles cannot be decoded: no watch can be named. */
int ckpt_task_handle_path(struct task_struct *t, u32 dev, u64 ino, int type,
			  const void *fh, u32 fhlen, char *buf, u32 buflen)
{
	return -EOPNOTSUPP;
}
#endif

/* Of the fanotify group of @f: the flags fanotify_init() gave it with the
 * internal ones (FANOTIFY_UNPRIV; FAN_ENABLE_AUDIT, which fdinfo does not
 * show), and whether a permission event was read from it and not answered yet
 * (its access_list, under the lock fanotify_user.c takes for it). -EINVAL if
 * @f is not a fanotify file (an anonymous-inode file fanotify_init() named
 * "[fanotify]", whose private_data is its group). */
int ckpt_fanotify_group(struct file *f, u32 *flags, bool *answer_pending)
{
#if IS_ENABLED(CONFIG_FANOTIFY)
	struct fsnotify_group *group = fanotify_group_of(f);

	if (!group)
		return -EINVAL;
	*flags = (u32)READ_ONCE(group->fanotify_data.flags);
	spin_lock(&group->notification_lock);
	*answer_pending = !list_empty(&group->fanotify_data.access_list);
	spin_unlock(&group->notification_lock);
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
