// SPDX-License-Identifier: GPL-2.0
/*
 * Files: the fd table and fs state of a parked task, pipes, terminals,
 * memfds, SIGIO owners, and the files a restart opens and installs.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"
#include <linux/anon_inodes.h>
#include <linux/pagemap.h>
#include <linux/tty_flip.h>
#include <linux/tty_ldisc.h>

int ckpt_task_fd_cloexec(struct task_struct *t, u32 fd)
{
	struct files_struct *files;
	int ret = -EBADF;

	task_lock(t);
	files = t->files;
	if (files) {
		spin_lock(&files->file_lock);
		ret = close_on_exec(fd, files) ? 1 : 0;
		spin_unlock(&files->file_lock);
	}
	task_unlock(t);
	return ret;
}

static struct pipe_inode_info *file_pipe(struct file *f)
{
	struct inode *inode = file_inode(f);

	/* Pipes and opened fifos keep the pipe in both places. */
	if (S_ISFIFO(inode->i_mode) && inode->i_pipe && f->private_data == inode->i_pipe)
		return inode->i_pipe;
	return NULL;
}

int ckpt_file_info(struct file *f, struct ckpt_file_info *fi, char *path, u32 pathlen)
{
	struct inode *inode = file_inode(f);
	struct timespec64 mt = inode_get_mtime(inode);
	umode_t mode = inode->i_mode;
	u32 magic = inode->i_sb->s_magic;
	struct pipe_inode_info *pipe;
	int ret;

	memset(fi, 0, sizeof(*fi));
	fi->flags = f->f_flags;
	fi->mode = mode;
	fi->pos = f->f_pos;
	fi->size = i_size_read(inode);
	fi->allocated = (u64)inode->i_blocks << 9;
	fi->mtime_ns = timespec64_to_ns(&mt);
	fi->fs_magic = magic;
	fi->unlinked = d_unlinked(f->f_path.dentry);
	fi->rdev = (MAJOR(inode->i_rdev) << 20) | MINOR(inode->i_rdev);
	fi->refs = min_t(long, file_count(f), U32_MAX);
	fi->nlink = inode->i_nlink;
	fi->uid = from_kuid_munged(current_user_ns(), inode->i_uid);
	fi->gid = from_kgid_munged(current_user_ns(), inode->i_gid);
	fi->ino = inode->i_ino;
	fi->inode_key = (u64)(unsigned long)inode;
	if (shmem_file(f))
		fi->seals = SHMEM_I(inode)->seals;
	pipe = file_pipe(f);
	if (pipe) {
		fi->pipe_key = (u64)(unsigned long)pipe;
		pipe_lock(pipe);
		fi->pipe_opens = pipe->readers + pipe->writers;
		fi->pipe_capacity = pipe->max_usage << PAGE_SHIFT;
		fi->pipe_len = 0;
		{
			unsigned int tail = pipe->tail, head = pipe->head;
			unsigned int mask = pipe->ring_size - 1;

			for (; tail != head; tail++)
				fi->pipe_len += pipe->bufs[tail & mask].len;
		}
		pipe_unlock(pipe);
	}
	ret = ckpt_path_of(&f->f_path, path, pathlen);
	return ret < 0 ? ret : 0;
}

/* Copy the bytes buffered in a pipe without consuming them. */
int ckpt_pipe_peek(struct file *f, void *buf, u32 buflen)
{
	struct pipe_inode_info *pipe = file_pipe(f);
	unsigned int tail, head, mask;
	u32 n = 0;

	if (!pipe)
		return -EINVAL;
	pipe_lock(pipe);
	tail = pipe->tail;
	head = pipe->head;
	mask = pipe->ring_size - 1;
	for (; tail != head; tail++) {
		struct pipe_buffer *b = &pipe->bufs[tail & mask];
		void *kaddr;

		if (n + b->len > buflen) {
			pipe_unlock(pipe);
			return -EOVERFLOW;
		}
		kaddr = kmap_local_page(b->page);
		memcpy(buf + n, kaddr + b->offset, b->len);
		kunmap_local(kaddr);
		n += b->len;
	}
	pipe_unlock(pipe);
	return n;
}

int ckpt_task_fs(struct task_struct *t, u32 *umask, char *cwd, u32 cwdlen, char *root, u32 rootlen)
{
	struct path pwd, rt;
	int ret;

	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	*umask = t->fs->umask;
	get_fs_pwd(t->fs, &pwd);
	get_fs_root(t->fs, &rt);
	task_unlock(t);
	ret = ckpt_path_of(&pwd, cwd, cwdlen);
	if (ret >= 0)
		ret = ckpt_path_of(&rt, root, rootlen);
	path_put(&pwd);
	path_put(&rt);
	return ret < 0 ? ret : 0;
}

/*
 * 1, and the mode and the identity of the inode of @t's working directory, if
 * that was deleted; else 0.
 */
int ckpt_task_cwd_deleted(struct task_struct *t, u32 *mode, u64 *key)
{
	struct path pwd;
	int ret;

	*mode = 0;
	*key = 0;
	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	get_fs_pwd(t->fs, &pwd);
	task_unlock(t);
	ret = d_unlinked(pwd.dentry);
	if (ret) {
		*mode = d_inode(pwd.dentry)->i_mode;
		*key = (u64)(unsigned long)d_inode(pwd.dentry);
	}
	path_put(&pwd);
	return ret;
}

/*
 * How the bytes waiting to be read at @tty can be read out and fed in again
 * unchanged (CKPT_PTY_INPUT_*), or 0 if they cannot.  Either way the line
 * discipline is n_tty, the end is not in packet mode (a master's reads then
 * carry status bytes) and its input is not handed to an external editor
 * (EXTPROC).  Raw: n_tty keeps its input as it came (no line editing, echo,
 * signals, flow control or character mapping).  Canonical: complete lines
 * and the line being typed, already edited, echoed and mapped; fed again
 * with all of that off (see pty_feed()).
 */
static int pty_input_mode(struct tty_struct *tty)
{
	struct tty_ldisc *ld = tty_ldisc_ref(tty);
	const struct ktermios *t = &tty->termios;
	int mode = 0;

	if (!ld)
		return 0;
	down_read(&tty->termios_rwsem);
	if (ld->ops->num != N_TTY || tty->ctrl.packet || (t->c_lflag & EXTPROC))
		mode = 0;
	else if (t->c_lflag & ICANON)
		mode = CKPT_PTY_INPUT_CANON;
	else if (!(t->c_iflag & (ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK)) &&
		 !(t->c_lflag & (ISIG | ECHO)))
		mode = CKPT_PTY_INPUT_RAW;
	up_read(&tty->termios_rwsem);
	tty_ldisc_deref(ld);
	return mode;
}

/* Whether @c ends a line in canonical mode under @t (as n_tty_set_termios()
 * maps it: a VEOL of 0 makes NUL one). */
static bool pty_line_end(const struct ktermios *t, u8 c)
{
	return c == '\n' || c == t->c_cc[VEOL] ||
	       ((t->c_lflag & IEXTEN) && c == t->c_cc[VEOL2]);
}

/*
 * Checks lines @buf (@len bytes, line ends @ends: offsets, CKPT_PTY_EOF for a
 * line that an end-of-file character ended) against @t: no line holds an
 * end-of-line character before its end (a quoted one: it would split the
 * line), none a flow-control character that n_tty would take (IXON).  Picks
 * two byte values none of them holds, nor a line end or flow-control
 * character: *@spare for the editing characters while they are fed again,
 * *@eof for their end-of-file character.
 */
static int pty_check_lines(const struct ktermios *t, const u8 *buf, u32 len, const u32 *ends,
			   u32 nends, u8 *spare, u8 *eof)
{
	DECLARE_BITMAP(used, 256);
	u32 i, k, start = 0;
	int c, found = 0;

	bitmap_zero(used, 256);
	for (k = 0; k <= nends; k++) {
		u32 end = k < nends ? ends[k] & ~CKPT_PTY_EOF : len;
		bool ended = k < nends && !(ends[k] & CKPT_PTY_EOF);

		if (end < start || end > len || (ended && (end == start ||
							    !pty_line_end(t, buf[end - 1]))))
			return -EINVAL;
		for (i = start; i < end; i++) {
			if (pty_line_end(t, buf[i]) && !(ended && i + 1 == end))
				return -EOPNOTSUPP;
			if ((t->c_iflag & IXON) &&
			    (buf[i] == t->c_cc[VSTART] || buf[i] == t->c_cc[VSTOP]))
				return -EOPNOTSUPP;
			__set_bit(buf[i], used);
		}
		start = end;
	}
	for (c = 255; c > 0 && found < 2; c--) {
		if (test_bit(c, used) || pty_line_end(t, c) ||
		    ((t->c_iflag & IXON) && (c == t->c_cc[VSTART] || c == t->c_cc[VSTOP])))
			continue;
		*(found++ ? eof : spare) = c;
	}
	return found == 2 ? 0 : -EOPNOTSUPP;
}

/*
 * Feeds @len bytes to @tty's line discipline @ld as if they had just arrived,
 * leaving it with the termios @orig: in raw @mode as they are (what exceeds
 * the line discipline's room goes to the flip buffer behind them); in
 * canonical mode as the lines @ends describe (see pty_check_lines()), under
 * termios that edit, echo, map and signal nothing, then @orig again.  The
 * flip buffer's exclusive lock keeps its work (and anything written to the
 * terminal meanwhile) out.  Returns 0, -ENOSPC if they did not fit, or
 * -EOPNOTSUPP if the lines cannot be fed exactly.
 */
static int pty_feed(struct tty_struct *tty, struct tty_ldisc *ld, int mode, const u8 *buf,
		    u32 len, const u32 *ends, u32 nends, const struct ktermios *orig)
{
	struct ktermios t = *orig;
	u32 k, at = 0;
	u8 spare, eof;
	size_t fed;
	int ret = 0;

	if (mode == CKPT_PTY_INPUT_RAW) {
		if (!len)
			return 0;
		tty_buffer_lock_exclusive(tty->port);
		fed = tty_ldisc_receive_buf(ld, buf, NULL, len);
		if (fed < len && tty_insert_flip_string(tty->port, buf + fed, len - fed) != len - fed)
			ret = -ENOSPC;
		tty_buffer_unlock_exclusive(tty->port);
		if (fed < len)
			tty_flip_buffer_push(tty->port);	/* commits the rest */
		return ret;
	}
	ret = pty_check_lines(orig, buf, len, ends, nends, &spare, &eof);
	if (ret)
		return ret;
	t.c_iflag &= IXON | IXOFF | IXANY;	/* flow control stays as it is */
	t.c_lflag = ICANON | (orig->c_lflag & IEXTEN);
	t.c_cc[VERASE] = t.c_cc[VKILL] = t.c_cc[VWERASE] = spare;
	t.c_cc[VLNEXT] = t.c_cc[VREPRINT] = spare;
	t.c_cc[VEOF] = eof;
	tty_buffer_lock_exclusive(tty->port);
	tty_set_termios(tty, &t);
	for (k = 0; k <= nends && !ret; k++) {
		u32 end = k < nends ? ends[k] & ~CKPT_PTY_EOF : len;	/* checked above */

		if (end > at && tty_ldisc_receive_buf(ld, buf + at, NULL, end - at) != end - at)
			ret = -ENOSPC;
		if (!ret && k < nends && (ends[k] & CKPT_PTY_EOF) &&
		    tty_ldisc_receive_buf(ld, &eof, NULL, 1) != 1)
			ret = -ENOSPC;
		at = end;
	}
	t = *orig;
	tty_set_termios(tty, &t);
	tty_buffer_unlock_exclusive(tty->port);
	return ret;
}

/* A file only for n_tty_read()'s O_NONBLOCK and job-control tests. */
static const struct file_operations ckpt_tty_reader_fops = {
	.owner = THIS_MODULE,
};

/*
 * Reads from @ld at @tty through @reader into @buf + *@len until nothing is
 * left to read; in canonical @mode one line per read, each line's end in
 * @ends (CKPT_PTY_EOF: it ended with an end-of-file character, which a read
 * does not return; an empty such line reads as 0 bytes).  -EBUSY if more
 * kept coming than @cap or @max_ends.
 */
static int pty_read_out(struct tty_struct *tty, struct tty_ldisc *ld, struct file *reader,
			int mode, const struct ktermios *t, u8 *buf, u32 cap, u32 *len,
			u32 *ends, u32 max_ends, u32 *nends)
{
	for (;;) {
		void *cookie = NULL;
		u32 got = 0;
		ssize_t n;

		do {
			n = ld->ops->read(tty, reader, buf + *len + got, cap - *len - got, &cookie, 0);
			if (n > 0)
				got += n;
		} while (cookie);
		if (n < 0 && !got)
			return 0;	/* -EAGAIN: nothing more (or -EIO) */
		*len += got;
		if (mode == CKPT_PTY_INPUT_CANON) {
			if (*nends == max_ends)
				return -EBUSY;
			ends[(*nends)++] = *len |
				(got && pty_line_end(t, buf[*len - 1]) ? 0 : CKPT_PTY_EOF);
		} else if (!got) {
			return 0;
		}
		if (*len == cap)
			return -EBUSY;
	}
}

/*
 * Reads out every byte waiting to be read at pseudo-terminal end @f into
 * @buf (@cap bytes): in raw mode its line discipline's buffer then what its
 * flip buffer still held; in canonical mode also its complete lines' ends
 * (@ends, at most @max_ends, their number in *@nends), then the line being
 * typed (read in non-canonical mode, which hands it out).  Then gives them
 * back in the same order (pty_feed()), so that the end's reader finds them as
 * before.  Returns how many bytes (0: none), -EOPNOTSUPP if the end's mode
 * does not allow it (pty_input_mode(), pty_check_lines()), -EBUSY if more
 * kept coming than fit (a writer outside the parked tasks).
 *
 * Nothing is held while reading (a read may wait for the flip buffer's work,
 * which pty_feed()'s exclusive lock would hold up); the reads do not block
 * (the reader file is O_NONBLOCK).
 */
int ckpt_pty_take_input(struct file *f, u8 *buf, u32 cap, u32 *ends, u32 max_ends, u32 *nends)
{
	struct tty_struct *tty = ((struct tty_file_private *)f->private_data)->tty;
	int mode = pty_input_mode(tty);
	struct ktermios orig, t;
	struct tty_ldisc *ld;
	struct file *reader;
	u32 len = 0;
	int ret, fed;

	*nends = 0;
	if (!mode)
		return -EOPNOTSUPP;
	/*
	 * The other end is closed: reads of an empty end return 0, which in
	 * canonical mode is also an empty line an end-of-file character ended.
	 * Such an end (rare: a master is raw) is saved only if it has no lines.
	 */
	if (mode == CKPT_PTY_INPUT_CANON && test_bit(TTY_OTHER_CLOSED, &tty->flags))
		return vfs_poll(f, NULL) & EPOLLIN ? -EOPNOTSUPP : 0;
	reader = anon_inode_getfile("[ckpt-tty]", &ckpt_tty_reader_fops, NULL,
				    O_RDONLY | O_NONBLOCK);
	if (IS_ERR(reader))
		return PTR_ERR(reader);
	ld = tty_ldisc_ref(tty);
	if (!ld) {
		fput(reader);
		return -EAGAIN;
	}
	down_read(&tty->termios_rwsem);
	orig = tty->termios;
	up_read(&tty->termios_rwsem);
	t = orig;
	ret = pty_read_out(tty, ld, reader, mode, &orig, buf, cap, &len, ends, max_ends, nends);
	if (!ret && mode == CKPT_PTY_INPUT_CANON) {
		/* The line being typed: the rest, which canonical reads leave. */
		t.c_lflag &= ~(ICANON | ECHO | ECHONL | ISIG | IEXTEN);
		t.c_iflag &= IXON | IXOFF | IXANY;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tty_set_termios(tty, &t);
		ret = pty_read_out(tty, ld, reader, CKPT_PTY_INPUT_RAW, &orig, buf, cap, &len,
				   ends, max_ends, nends);
	}
	fed = pty_feed(tty, ld, mode, buf, len, ends, *nends, &orig);
	if (fed && mode == CKPT_PTY_INPUT_CANON) {
		/*
		 * Lines that cannot be fed as lines (pty_check_lines()): the
		 * bytes go back all the same, in non-canonical mode, and turn
		 * into one line as canonical mode comes back (their reader gets
		 * them in one read); the checkpoint fails.
		 */
		pty_feed(tty, ld, CKPT_PTY_INPUT_RAW, buf, len, NULL, 0, &t);
		tty_set_termios(tty, &orig);
	}
	tty_ldisc_deref(ld);
	fput(reader);
	return ret ?: fed ?: (int)len;
}

/*
 * Gives the pseudo-terminal end of master @f (@slave: its slave) the bytes
 * that were waiting to be read at it (a restart; see ckpt_pty_take_input()),
 * in @mode, which must be the end's.  0, -EINVAL or an error of pty_feed().
 */
int ckpt_pty_give_input(struct file *f, bool slave, int mode, const u8 *buf, u32 len,
			const u32 *ends, u32 nends)
{
	struct tty_struct *tty = ((struct tty_file_private *)f->private_data)->tty;
	struct tty_ldisc *ld;
	struct ktermios orig;
	int ret;

	if (slave)
		tty = tty->link;
	if (!tty || pty_input_mode(tty) != mode)
		return -EINVAL;
	ld = tty_ldisc_ref(tty);
	if (!ld)
		return -EAGAIN;
	down_read(&tty->termios_rwsem);
	orig = tty->termios;
	up_read(&tty->termios_rwsem);
	ret = pty_feed(tty, ld, mode, buf, len, ends, nends, &orig);
	tty_ldisc_deref(ld);
	return ret;
}

/*
 * If @f is an open pseudo-terminal master or slave: its pair's number, lock,
 * the slave's termios and the window size; returns 1 (0: not a pty end).
 */
int ckpt_file_pty(struct file *f, struct ckpt_pty_info *pi)
{
	struct tty_struct *tty, *slave;
	int i;

	memset(pi, 0, sizeof(*pi));
	if (!S_ISCHR(file_inode(f)->i_mode) || (f->f_mode & FMODE_PATH) || !f->private_data)
		return 0;
	if (!(imajor(file_inode(f)) == TTYAUX_MAJOR && iminor(file_inode(f)) == 2) &&
	    (imajor(file_inode(f)) < UNIX98_PTY_SLAVE_MAJOR ||
	     imajor(file_inode(f)) >= UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT))
		return 0;
	tty = ((struct tty_file_private *)f->private_data)->tty;	/* file_tty(), private to drivers/tty */
	if (!tty || tty->driver->type != TTY_DRIVER_TYPE_PTY ||
	    !(tty->driver->flags & TTY_DRIVER_DEVPTS_MEM))
		return 0;
	pi->master = tty->driver->subtype == PTY_TYPE_MASTER;
	slave = pi->master ? tty->link : tty;
	if (!slave)
		return 0;
	pi->index = tty->index;
	pi->locked = pi->master && test_bit(TTY_PTY_LOCK, &tty->flags);
	/*
	 * A slave whose master was closed was hung up (pty_close()): its files
	 * read nothing and fail everything else, whatever was in it.
	 */
	pi->hung_up = !pi->master && test_bit(TTY_OTHER_CLOSED, &tty->flags);
	if (!pi->hung_up) {
		/* Bytes waiting to be read (a complete line in canonical mode). */
		pi->unread = !!(vfs_poll(f, NULL) & EPOLLIN);
		pi->input_mode = pty_input_mode(tty);
	}
	if (slave->driver_data) {
		struct inode *si = d_inode((struct dentry *)slave->driver_data);

		pi->uid = from_kuid_munged(current_user_ns(), si->i_uid);
		pi->gid = from_kgid_munged(current_user_ns(), si->i_gid);
		pi->mode = si->i_mode;
	}
	down_read(&slave->termios_rwsem);
	pi->flags[0] = slave->termios.c_iflag;
	pi->flags[1] = slave->termios.c_oflag;
	pi->flags[2] = slave->termios.c_cflag;
	pi->flags[3] = slave->termios.c_lflag;
	pi->speed[0] = slave->termios.c_ispeed;
	pi->speed[1] = slave->termios.c_ospeed;
	pi->line = slave->termios.c_line;
	for (i = 0; i < 19 && i < NCCS; i++)
		pi->cc[i] = slave->termios.c_cc[i];
	up_read(&slave->termios_rwsem);
	mutex_lock(&slave->winsize_mutex);
	pi->winsize[0] = slave->winsize.ws_row;
	pi->winsize[1] = slave->winsize.ws_col;
	pi->winsize[2] = slave->winsize.ws_xpixel;
	pi->winsize[3] = slave->winsize.ws_ypixel;
	mutex_unlock(&slave->winsize_mutex);
	return 1;
}

/*
 * A new unnamed regular file (O_TMPFILE) in directory @dir, open for reading
 * and writing, with exactly @mode (the umask does not apply).
 */
struct file *ckpt_open_tmpfile(const char *dir, u32 mode, int *err)
{
	struct inode *inode;
	struct file *f;

	f = filp_open(dir, O_TMPFILE | O_RDWR | O_LARGEFILE, mode & 07777);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	inode = file_inode(f);
	if ((inode->i_mode & 07777) != (mode & 07777)) {
		struct iattr ia = {
			.ia_valid = ATTR_MODE,
			.ia_mode = (inode->i_mode & S_IFMT) | (mode & 07777),
		};

		*err = mnt_want_write_file(f);
		if (!*err) {
			inode_lock(inode);
			*err = notify_change(file_mnt_idmap(f), f->f_path.dentry, &ia, NULL);
			inode_unlock(inode);
			mnt_drop_write_file(f);
		}
		if (*err) {
			fput(f);
			return NULL;
		}
	}
	*err = 0;
	return f;
}

/*
 * Reads whole pages from @f at *@pos straight into @pages (a bvec iov_iter,
 * no intermediate buffer), pages of a user address space pinned by
 * ckpt_cur_hold_pages() (FOLL_PIN, as direct I/O into user memory takes them;
 * ckpt_pages_put() marks them dirty as it unpins them).  Returns the bytes
 * read (fewer only at the end of the file) or -errno.
 */
ssize_t ckpt_file_read_pages(struct file *f, struct page **pages, u32 n, s64 *pos)
{
	struct iov_iter iter;
	struct bio_vec *bv = pages_iter(&iter, ITER_DEST, pages, n);
	ssize_t done = 0;

	if (!bv)
		return -ENOMEM;
	while (iov_iter_count(&iter)) {
		loff_t p = *pos;
		ssize_t r = no_restart(vfs_iter_read(f, &iter, &p, 0));

		if (r < 0) {
			done = r;
			break;
		}
		if (r == 0)
			break;
		*pos = p;
		done += r;
		if (fatal_signal_pending(current)) {
			done = -EINTR;
			break;
		}
	}
	kvfree(bv);
	return done;
}

/*
 * The page of @f's page cache that holds its bytes [@pos, @pos + @len) (one
 * page), up to date and within i_size, with a reference (put_page() it) --
 * where the page cache is what a read would return: a tmpfs file, or a file
 * of a filesystem on a block device (not DAX).  A network or FUSE file's
 * cache may be stale, an overlay file's is empty: NULL, as for a page not
 * cached; the caller then reads through the file.  The LSM's read check is
 * made by the reads of the same record's header, through the file.
 */
struct page *ckpt_file_cached_page(struct file *f, s64 pos, u32 len)
{
	struct address_space *m = f->f_mapping;
	struct inode *inode = file_inode(f);
	pgoff_t index = pos >> PAGE_SHIFT;
	struct folio *folio;

	if (pos < 0 || !len || offset_in_page(pos) + len > PAGE_SIZE ||
	    pos + len > i_size_read(inode) || IS_DAX(inode) ||
	    !(shmem_mapping(m) || inode->i_sb->s_bdev))
		return NULL;
	folio = filemap_get_folio(m, index);
	if (IS_ERR(folio))
		return NULL;
	if (!folio_test_uptodate(folio)) {
		folio_put(folio);
		return NULL;
	}
	return folio_file_page(folio, index);
}

/*
 * Another name of @f's inode (a hard link still in a directory), through @f's
 * mount, in @path: its length, or -ENOENT if it has none that names it there.
 */
int ckpt_file_other_name(struct file *f, char *path, u32 pathlen)
{
	struct inode *inode = file_inode(f);
	struct dentry *alias = d_find_alias(inode);
	struct path p = { .mnt = f->f_path.mnt }, q;
	int ret;

	if (!alias)
		return -ENOENT;
	p.dentry = alias;
	ret = ckpt_path_of(&p, path, pathlen);
	dput(alias);
	if (ret < 0)
		return ret;
	/* The name must lead back to this inode from the caller's root. */
	if (kern_path(path, 0, &q))
		return -ENOENT;
	if (d_inode(q.dentry) != inode)
		ret = -ENOENT;
	path_put(&q);
	return ret;
}

/*
 * Makes @dir (a directory) the calling task's root directory for a while, as
 * set_fs_root() would; *@old gets the root it had, to give back with
 * ckpt_cur_restore_root(). Mechanism only: whether that is allowed is the
 * caller's decision (the task already held @dir).
 */
int ckpt_cur_swap_root(struct file *dir, struct path **old)
{
	struct fs_struct *fs = current->fs;
	struct path *o;

	if (!d_is_dir(dir->f_path.dentry))
		return -ENOTDIR;
	o = kmalloc(sizeof(*o), GFP_KERNEL);
	if (!o)
		return -ENOMEM;
	path_get(&dir->f_path);
	write_seqlock(&fs->seq);
	*o = fs->root;
	fs->root = dir->f_path;
	write_sequnlock(&fs->seq);
	*old = o;
	return 0;
}

/* Gives the calling task back the root @old that ckpt_cur_swap_root() took. */
void ckpt_cur_restore_root(struct path *old)
{
	struct fs_struct *fs = current->fs;
	struct path cur;

	write_seqlock(&fs->seq);
	cur = fs->root;
	fs->root = *old;
	write_sequnlock(&fs->seq);
	path_put(&cur);
	kfree(old);
}

/* The target of @f, a symbolic link opened with O_PATH, in @buf: its length. */
int ckpt_file_link_target(struct file *f, char *buf, u32 len)
{
	DEFINE_DELAYED_CALL(done);
	const char *t;
	size_t n;

	if (!d_is_symlink(f->f_path.dentry))
		return -EINVAL;
	/*
	 * A magic link (procfs fd/, map_files/, ns/ ...) has its own ->readlink;
	 * its ->get_link jumps the caller's nameidata, which this path has none of.
	 */
	if (d_inode(f->f_path.dentry)->i_op->readlink)
		return -EOPNOTSUPP;
	t = vfs_get_link(f->f_path.dentry, &done);
	if (IS_ERR(t))
		return PTR_ERR(t);
	n = strlen(t);
	if (n >= len) {
		do_delayed_call(&done);
		return -ENAMETOOLONG;
	}
	memcpy(buf, t, n + 1);
	do_delayed_call(&done);
	return n;
}

/*
 * Whether @f, a file of procfs, names pids as the caller sees them: its procfs
 * is that of the caller's pid namespace.
 */
bool ckpt_file_proc_own_ns(struct file *f)
{
	struct super_block *sb = file_inode(f)->i_sb;

	return sb->s_magic == PROC_SUPER_MAGIC && proc_pid_ns(sb) == task_active_pid_ns(current);
}

/*
 * A memfd as memfd_create("NAME", MFD_ALLOW_SEALING) makes one (a shmem file
 * named "memfd:NAME"), of @size bytes (sparse) and mode @mode; sealing stays
 * open until ckpt_memfd_seal().  (memfd_alloc_file is not exported.)
 */
struct file *ckpt_memfd_new(const char *name, u64 size, u32 mode, int *err)
{
	struct file *f;
	char *full;
	int ret;

	if (size > MAX_LFS_FILESIZE) {
		*err = -EFBIG;
		return NULL;
	}
	full = kasprintf(GFP_KERNEL, "memfd:%s", name);
	if (!full) {
		*err = -ENOMEM;
		return NULL;
	}
	f = shmem_file_setup(full, 0, mk_vma_flags(VMA_NORESERVE_BIT));
	kfree(full);
	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	f->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	f->f_flags |= O_LARGEFILE;
	SHMEM_I(file_inode(f))->seals = 0;
	if (size) {
		ret = vfs_truncate(&f->f_path, size);
		if (ret) {
			fput(f);
			*err = ret;
			return NULL;
		}
	}
	/* The mode last (a 0400 memfd can still be sized), under the inode lock. */
	inode_lock(file_inode(f));
	file_inode(f)->i_mode = S_IFREG | (mode & 07777);
	inode_unlock(file_inode(f));
	return f;
}

/* vm.memfd_noexec as memfd_create() sees it for current (its pid namespaces'). */
int ckpt_memfd_noexec_scope(void)
{
	return pidns_memfd_noexec_scope(task_active_pid_ns(current));
}

/*
 * Adds @seals to a memfd made by ckpt_memfd_new() with the locking of
 * memfd_add_seals() (mm/memfd.c, not exported): under the inode lock, none
 * after F_SEAL_SEAL; F_SEAL_WRITE denies writable shared mappings from now on
 * and fails (EBUSY) while one exists.  Which seals (and what they imply) is
 * Rust's call (FileRef::seal).
 */
int ckpt_memfd_seal(struct file *f, u32 seals)
{
	struct inode *inode = file_inode(f);
	unsigned int *cur;
	int ret = 0;

	if (!shmem_file(f))
		return -EINVAL;
	inode_lock(inode);
	cur = &SHMEM_I(inode)->seals;
	if (*cur & F_SEAL_SEAL) {
		ret = seals & ~*cur ? -EPERM : 0;
		goto out;
	}
	if ((seals & F_SEAL_WRITE) && !(*cur & F_SEAL_WRITE)) {
		ret = mapping_deny_writable(f->f_mapping);
		if (ret)
			goto out;
	}
	*cur |= seals;
out:
	inode_unlock(inode);
	return ret;
}

/*
 * @t's controlling terminal: its kernel name ("pts/3", "ttyS0") in @name,
 * its foreground process group in *@fg (0: none), whether @t leads the
 * session in *@leader.  Returns 1, 0 if it has none, or -errno.
 * (lock_task_sighand() is not exported: the same, open-coded.)
 */
int ckpt_task_ctty(struct task_struct *t, char *name, u32 len, s32 *fg, bool *leader)
{
	struct sighand_struct *sighand;
	struct tty_struct *tty = NULL;
	unsigned long flags;
	struct pid *pgrp;

	*fg = 0;
	*leader = false;
	rcu_read_lock();
	sighand = rcu_dereference(t->sighand);
	if (!sighand) {
		rcu_read_unlock();
		return -ESRCH;
	}
	spin_lock_irqsave(&sighand->siglock, flags);
	if (likely(sighand == rcu_access_pointer(t->sighand))) {
		tty = tty_kref_get(t->signal->tty);
		*leader = t->signal->leader;
	}
	spin_unlock_irqrestore(&sighand->siglock, flags);
	rcu_read_unlock();
	if (!tty)
		return 0;
	if (tty->driver->type == TTY_DRIVER_TYPE_PTY && tty->driver->subtype == PTY_TYPE_SLAVE)
		snprintf(name, len, "pts/%d", tty->index);	/* devpts names it "ptsN" */
	else
		strscpy(name, tty_name(tty), len);
	pgrp = tty_get_pgrp(tty);
	if (pgrp)
		*fg = pid_vnr(pgrp);
	put_pid(pgrp);
	tty_kref_put(tty);
	return 1;
}

/*
 * The SIGIO owner of f: its pid type (PIDTYPE_*; PIDTYPE_TGID if none) in
 * *type, its number in the caller's pid namespace in *nr (-1: not visible
 * there), the F_SETSIG signal in *signum.  Returns whether f has an owner or
 * a signal.
 */
bool ckpt_file_owner(struct file *f, u32 *type, s32 *nr, u32 *signum)
{
	struct fown_struct *o = file_f_owner(f);

	*type = PIDTYPE_TGID;
	*nr = 0;
	*signum = 0;
	if (!o)
		return false;
	read_lock_irq(&o->lock);
	*signum = o->signum;
	if (o->pid) {
		*nr = pid_nr_ns(o->pid, task_active_pid_ns(current));
		if (!*nr)
			*nr = -1;
		*type = o->pid_type;
	}
	read_unlock_irq(&o->lock);
	return *nr || *signum;
}

