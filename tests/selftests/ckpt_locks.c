// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_locks: file locks come back with their holder after a checkpoint and
 * a restart: POSIX record locks (owned by the fd table, with the holder's
 * pid), flock locks and OFD locks (owned by the open file description).
 * Another process sees them held after the restart, the restored holder can
 * release them, and then the other process can take them.  A lock another
 * process holds when the image is restarted refuses the restart, naming the
 * holder.
 *
 * Leases (F_SETLEASE) come back on their open file description: F_GETLEASE
 * answers as before (through a dup'ed fd and a child's inherited fd too),
 * and an open that breaks a restored lease signals the restored holder
 * (SIGIO, or its F_SETSIG signal naming the fd), which releases it; the
 * opener then proceeds.  A lease being broken, a delegation and a leased
 * description shared with a process outside the tree are refused at
 * checkpoint; a file someone opened for writing since refuses the restart of
 * its read lease.
 */
#include "ckpt_util.h"
#include <grp.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"

#ifndef F_SETDELEG
#define F_GETDELEG (1024 + 15)
#define F_SETDELEG (1024 + 16)
struct delegation {
	uint32_t d_flags;
	uint16_t d_type;
	uint16_t __pad;
};
#endif

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#endif

static char path_a[64], path_b[64], path_c[64], go[64], done_path[64];

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

/* The conflicting lock another process would meet (l_type F_UNLCK: none). */
static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl))
		fl.l_type = -1;
	return fl;
}

static void make_paths(void)
{
	snprintf(path_a, sizeof(path_a), "/tmp/lk-a-%d", getpid());
	snprintf(path_b, sizeof(path_b), "/tmp/lk-b-%d", getpid());
	snprintf(path_c, sizeof(path_c), "/tmp/lk-c-%d", getpid());
	snprintf(go, sizeof(go), "/tmp/lk-go-%d", getpid());
	snprintf(done_path, sizeof(done_path), "/tmp/lk-done-%d", getpid());
	for (int i = 0; i < 3; i++) {
		const char *p = i == 0 ? path_a : i == 1 ? path_b : path_c;
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			if (ftruncate(fd, 4096))
				_exit(95);
			close(fd);
		}
	}
	unlink(go);
	unlink(done_path);
}

/*
 * The holder: file A with a POSIX write lock on bytes 0..99 and a read lock
 * from 200 to the end, file B with an exclusive flock lock, file C with an
 * OFD write lock on bytes 10..19.  Once restored (its parent
 * changed) it waits for the go file, releases everything and says so in the
 * done file (0: all unlocked).
 */
static void holder(int ready, void *arg)
{
	int a = open(path_a, O_RDWR), b = open(path_b, O_RDWR), c = open(path_c, O_RDWR);
	int null = open("/dev/null", O_RDWR);
	pid_t parent = getppid();
	int r = 0, fd;
	char msg[32];

	(void)arg;
	if (a < 0 || b < 0 || c < 0 || null < 0)
		_exit(91);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (fd = 3; fd < 1024; fd++)
		if (fd != ready && fd != a && fd != b && fd != c)
			close(fd);
	if (setlk(a, F_SETLK, F_WRLCK, 0, 100) || setlk(a, F_SETLK, F_RDLCK, 200, 0) ||
	    flock(b, LOCK_EX | LOCK_NB) || setlk(c, F_OFD_SETLK, F_WRLCK, 10, 10))
		_exit(92);
	say_ready(ready);
	while (getppid() == parent)
		sleep_ms(2);
	while (access(go, F_OK))
		sleep_ms(2);
	if (setlk(a, F_SETLK, F_UNLCK, 0, 0))
		r |= 1;
	if (flock(b, LOCK_UN))
		r |= 2;
	if (setlk(c, F_OFD_SETLK, F_UNLCK, 0, 0))
		r |= 4;
	fd = open(done_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(msg, sizeof(msg), "%d", r);
	if (fd < 0 || write(fd, msg, strlen(msg)) < 0)
		_exit(93);
	close(fd);
	_exit(r ? 10 + r : 0);
}

/* The inode number of fd, as /proc/locks shows it (":INO "). */
static int ino_tag(int fd, char *tag, size_t len)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	snprintf(tag, len, ":%llu ", (unsigned long long)st.st_ino);
	return 0;
}

/*
 * Whether /proc/locks shows the holder's three kinds of locks: POSIX on a,
 * FLOCK on b, OFDLCK on c (read only: taking a lock to test would conflict
 * with the restore).
 */
static int locks_back(int a, int b, int c)
{
	char ta[32], tb[32], tc[32], line[256];
	int got = 0;
	FILE *f;

	if (ino_tag(a, ta, sizeof(ta)) || ino_tag(b, tb, sizeof(tb)) ||
	    ino_tag(c, tc, sizeof(tc)))
		return 0;
	f = fopen("/proc/locks", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, " POSIX ") && strstr(line, ta))
			got |= 1;
		if (strstr(line, " FLOCK ") && strstr(line, tb))
			got |= 2;
		if (strstr(line, " OFDLCK ") && strstr(line, tc))
			got |= 4;
	}
	fclose(f);
	return got == 7;
}

/* Checkpoints the holder (killing it) into img; returns its pid or -1. */
static pid_t checkpoint_holder(struct __test_metadata *_metadata, char *img, size_t len,
			       const char *tag)
{
	int dev = ckpt_open(), ret, status;
	pid_t pid;

	if (dev < 0)
		return -1;
	pid = spawn_ready(holder, NULL);
	if (pid < 0)
		return -1;
	ret = checkpoint_into(dev, pid, CKPT_CHECKPOINT_KILL, img, len, tag);
	close(dev);
	ckpt_dev_fd = -1;
	if (ret) {
		TH_LOG("checkpoint of %d failed: %s", pid, strerror(-ret));
		kill_reap(pid);
		return -1;
	}
	waitpid(pid, &status, 0);
	return pid;
}

/* Runs `ckpt restart img` in a child, stderr to errpath; returns its pid. */
static pid_t start_restart(const char *img, const char *errpath)
{
	pid_t pid = fork();

	if (pid == 0) {
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (e >= 0)
			dup2(e, 2);
		execl(CKPT, "ckpt", "restart", img, "--quiet", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The first line of file @path in @out (@n bytes; empty if none). */
static void first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");

	out[0] = 0;
	if (f) {
		if (!fgets(out, n, f))
			out[0] = 0;
		fclose(f);
	}
}

TEST(locks_come_back)
{
	char img[64], err[64];
	int a, b, c, status, waited;
	struct flock fl;
	pid_t pid, rs;

	make_paths();
	snprintf(err, sizeof(err), "/tmp/lk-err-%d", getpid());
	pid = checkpoint_holder(_metadata, img, sizeof(img), "locks");
	ASSERT_LT(0, pid);
	a = open(path_a, O_RDWR);
	b = open(path_b, O_RDWR);
	c = open(path_c, O_RDWR);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	/* Killed: its locks went with it. */
	EXPECT_EQ(F_UNLCK, getlk(a, F_GETLK, F_WRLCK, 0, 0).l_type);
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	/* Restored: all three kinds are back (each file's locks come back in
	 * turn, so wait for all of them), the POSIX write lock with its
	 * holder's pid. */
	for (waited = 0; waited < 10000 && !locks_back(a, b, c); waited += 5)
		sleep_ms(5);
	fl = getlk(a, F_GETLK, F_WRLCK, 0, 100);
	EXPECT_EQ(F_WRLCK, fl.l_type);
	EXPECT_EQ(pid, fl.l_pid);
	EXPECT_EQ(0, fl.l_start);
	EXPECT_EQ(100, fl.l_len);
	/* The read lock from byte 200 on: readers pass, writers do not. */
	EXPECT_EQ(F_UNLCK, getlk(a, F_GETLK, F_RDLCK, 200, 10).l_type);
	fl = getlk(a, F_GETLK, F_WRLCK, 150, 100);
	EXPECT_EQ(F_RDLCK, fl.l_type);
	EXPECT_EQ(200, fl.l_start);
	EXPECT_EQ(0, fl.l_len);
	/* Bytes 100..199 are free. */
	EXPECT_EQ(F_UNLCK, getlk(a, F_GETLK, F_WRLCK, 100, 100).l_type);
	/* The flock lock is exclusive. */
	EXPECT_EQ(-1, flock(b, LOCK_SH | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* The OFD lock, on bytes 10..19 only. */
	fl = getlk(c, F_OFD_GETLK, F_RDLCK, 0, 0);
	EXPECT_EQ(F_WRLCK, fl.l_type);
	EXPECT_EQ(10, fl.l_start);
	EXPECT_EQ(10, fl.l_len);
	EXPECT_EQ(-1, fl.l_pid);
	EXPECT_EQ(0, setlk(c, F_OFD_SETLK, F_WRLCK, 20, 10));
	EXPECT_EQ(0, setlk(c, F_OFD_SETLK, F_UNLCK, 20, 10));
	/* The holder releases them; then they are ours to take. */
	close(open(go, O_WRONLY | O_CREAT, 0644));
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	EXPECT_EQ(0, setlk(a, F_SETLK, F_WRLCK, 0, 0));
	EXPECT_EQ(0, flock(b, LOCK_EX | LOCK_NB));
	EXPECT_EQ(0, setlk(c, F_OFD_SETLK, F_WRLCK, 0, 0));
	close(a);
	close(b);
	close(c);
	unlink(img);
	unlink(err);
	unlink(path_a);
	unlink(path_b);
	unlink(path_c);
	unlink(go);
	unlink(done_path);
}

/* A lock someone else took meanwhile: the restart is refused, naming them. */
TEST(conflicting_lock_refuses_restart)
{
	char img[64], err[64], out[512] = "";
	int a, status;
	pid_t pid, rs, taker;
	int p[2];

	make_paths();
	snprintf(err, sizeof(err), "/tmp/lk-err-%d", getpid());
	pid = checkpoint_holder(_metadata, img, sizeof(img), "lockbusy");
	ASSERT_LT(0, pid);
	/* Another process holds file A's bytes 50..59. */
	ASSERT_EQ(0, pipe(p));
	taker = fork();
	ASSERT_LE(0, taker);
	if (taker == 0) {
		char c = 'R';

		a = open(path_a, O_RDWR);
		if (a < 0 || setlk(a, F_SETLK, F_WRLCK, 50, 10))
			_exit(1);
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], out, 1));
	close(p[0]);
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	kill_reap(taker);
	first_line(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("status %#x", status);
	EXPECT_NE(NULL, strstr(out, "POSIX lock")) TH_LOG("stderr: %s", out);
	{
		char want[32];

		snprintf(want, sizeof(want), "pid %d", taker);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("stderr: %s", out);
	}
	unlink(img);
	unlink(err);
	unlink(path_a);
	unlink(path_b);
	unlink(path_c);
}

/* ---- leases --------------------------------------------------------------- */

static char lease_r[64], lease_w[64], lease_go[64], lease_done[64], lease_kid[64];

static void lease_paths(void)
{
	snprintf(lease_r, sizeof(lease_r), "/tmp/ls-r-%d", getpid());
	snprintf(lease_w, sizeof(lease_w), "/tmp/ls-w-%d", getpid());
	snprintf(lease_go, sizeof(lease_go), "/tmp/ls-go-%d", getpid());
	snprintf(lease_done, sizeof(lease_done), "/tmp/ls-done-%d", getpid());
	snprintf(lease_kid, sizeof(lease_kid), "/tmp/ls-kid-%d", getpid());
	for (int i = 0; i < 2; i++) {
		int fd = open(i ? lease_w : lease_r, O_RDWR | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			if (write(fd, "lease", 5) != 5)
				_exit(95);
			close(fd);
		}
	}
	unlink(lease_go);
	unlink(lease_done);
	unlink(lease_kid);
}

static void lease_cleanup(void)
{
	unlink(lease_r);
	unlink(lease_w);
	unlink(lease_go);
	unlink(lease_done);
	unlink(lease_kid);
}

static volatile sig_atomic_t got_sigio, got_rt, rt_fd = -1;

static void on_lease_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGIO)
		got_sigio++;
	else if (sig == SIGRTMIN + 1) {
		got_rt++;
		rt_fd = si->si_fd;
	}
}

static void write_text(const char *path, const char *msg)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, msg, strlen(msg)) < 0)
		_exit(93);
	close(fd);
}

/* Unmaps the shared mappings (the harness's results page) a forked child
 * has, so that its tree shares no memory with the harness. */
static void drop_shared_maps(void)
{
	unsigned long start[16], end[16];
	char line[512], perms[8];
	int n = 0, i;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		_exit(90);
	while (n < 16 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &start[n], &end[n], perms) == 3 && perms[3] == 's')
			n++;
	fclose(f);
	for (i = 0; i < n; i++)
		munmap((void *)start[i], end[i] - start[i]);
}

/*
 * The lease holder: fd r (O_RDONLY) with a read lease, its dup, fd w
 * (O_RDONLY, the file's only open) with a write lease whose breaks are
 * signalled with SIGRTMIN+1 (F_SETSIG); a child inherits r.  Once restored
 * (its parent changed) it says what F_GETLEASE answers in lease_done's
 * "got" line, then waits for the breaks: each signal's handler records it
 * and the holder releases that lease (F_UNLCK).  Its last line says which
 * signals came and the si_fd of the F_SETSIG one (after the restart the
 * write lease is taken again through a dup of w, whose fd it then names).
 */
static void lease_holder(int ready, void *arg)
{
	int r = open(lease_r, O_RDONLY), w = open(lease_w, O_RDONLY);
	int null = open("/dev/null", O_RDWR), d, fd;
	struct sigaction sa = { .sa_sigaction = on_lease_signal, .sa_flags = SA_SIGINFO };
	pid_t parent = getppid(), kid;
	char msg[256];
	int rel_r = 0, rel_w = 0, status, waited, w2;

	(void)arg;
	if (r < 0 || w < 0 || null < 0)
		_exit(91);
	drop_shared_maps();
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (fd = 3; fd < 1024; fd++)
		if (fd != ready && fd != r && fd != w)
			close(fd);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGIO, &sa, NULL) || sigaction(SIGRTMIN + 1, &sa, NULL))
		_exit(92);
	if (fcntl(r, F_SETLEASE, F_RDLCK) || fcntl(w, F_SETSIG, SIGRTMIN + 1) ||
	    fcntl(w, F_SETLEASE, F_WRLCK))
		_exit(94);
	d = dup(r);
	if (d < 0 || fcntl(d, F_GETLEASE) != F_RDLCK || fcntl(w, F_GETLEASE) != F_WRLCK)
		_exit(96);
	kid = fork();
	if (kid < 0)
		_exit(97);
	if (kid == 0) {
		/* The child: its inherited r after the restart. */
		while (access(lease_go, F_OK))
			sleep_ms(2);
		snprintf(msg, sizeof(msg), "%d", fcntl(r, F_GETLEASE));
		write_text(lease_kid, msg);
		_exit(0);
	}
	say_ready(ready);
	while (getppid() == parent)
		sleep_ms(2);
	snprintf(msg, sizeof(msg), "got %d %d %d\n", fcntl(r, F_GETLEASE), fcntl(d, F_GETLEASE),
		 fcntl(w, F_GETLEASE));
	/* Taken again through a dup of w, the lease's breaks name that fd. */
	w2 = dup(w);
	if (w2 < 0 || fcntl(w2, F_SETLEASE, F_WRLCK) || fcntl(w, F_GETLEASE) != F_WRLCK)
		_exit(89);
	write_text(lease_done, msg);
	for (waited = 0; waited < 30000 && !(rel_r && rel_w); waited += 2) {
		if (got_sigio && !rel_r) {
			rel_r = 1;
			if (fcntl(r, F_SETLEASE, F_UNLCK))
				rel_r = 2;
		}
		if (got_rt && !rel_w) {
			rel_w = 1;
			if (fcntl(w, F_SETLEASE, F_UNLCK))
				rel_w = 2;
		}
		sleep_ms(2);
	}
	waitpid(kid, &status, 0);
	snprintf(msg, sizeof(msg), "done %d %d %d %d %d %d %d\n", (int)got_sigio, (int)got_rt,
		 (int)rt_fd, w2, rel_r, rel_w, fcntl(r, F_GETLEASE));
	write_text(lease_done, msg);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 98);
}

/* The inode tag of path, as /proc/locks shows it. */
static int path_tag(const char *path, char *tag, size_t len)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	snprintf(tag, len, ":%llu ", (unsigned long long)st.st_ino);
	return 0;
}

/* How many LEASE lines /proc/locks has for path. */
static int leases_on(const char *path)
{
	char tag[32], line[256];
	int n = 0;
	FILE *f;

	if (path_tag(path, tag, sizeof(tag)))
		return -1;
	f = fopen("/proc/locks", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " LEASE ") && strstr(line, tag))
			n++;
	fclose(f);
	return n;
}

/* /sys/module/ckpt/refcnt (the module holds one while a lease it set
 * lasts), or -1. */
static int module_refs(void)
{
	char buf[32];

	return read_text("/sys/module/ckpt/refcnt", buf, sizeof(buf)) < 0 ? -1 : atoi(buf);
}

/* Opens path with flags in a child (blocking until the lease is broken);
 * returns the child's pid; it exits 0 if the open succeeded. */
static pid_t opener(const char *path, int flags)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(path, flags);

		_exit(fd < 0 ? 1 : 0);
	}
	return pid;
}

/* Waits up to ms for child pid; returns its status or -1. */
static int wait_child(pid_t pid, int ms)
{
	int status;

	for (; ms > 0; ms -= 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		sleep_ms(5);
	}
	return -1;
}

TEST(leases_come_back)
{
	char img[64], err[64], out[256];
	int status, waited, got[3], done[7], kid, refs;
	struct timespec t0, t1;
	pid_t pid, rs, o;

	lease_paths();
	snprintf(err, sizeof(err), "/tmp/ls-err-%d", getpid());
	ASSERT_LE(0, ckpt_open());
	pid = spawn_ready(lease_holder, NULL);
	ASSERT_LT(0, pid);
	EXPECT_EQ(1, leases_on(lease_r));
	EXPECT_EQ(1, leases_on(lease_w));
	/* The holder and its child, which shares the read lease's description. */
	ASSERT_EQ(0, checkpoint_into(ckpt_dev_fd, pid, CKPT_CHECKPOINT_KILL | CKPT_CHECKPOINT_TREE,
				     img, sizeof(img), "leases"));
	close(ckpt_dev_fd);
	ckpt_dev_fd = -1;
	waitpid(pid, &status, 0);
	/* Killed: its leases went with it (once its child, killed too, closed
	 * the descriptions it shares). */
	for (waited = 0; waited < 10000 && (leases_on(lease_r) || leases_on(lease_w));
	     waited += 5)
		sleep_ms(5);
	EXPECT_EQ(0, leases_on(lease_r));
	EXPECT_EQ(0, leases_on(lease_w));
	refs = module_refs();
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	for (waited = 0; waited < 20000 && read_text(lease_done, out, sizeof(out)) < 0;
	     waited += 5)
		sleep_ms(5);
	ASSERT_EQ(3, sscanf(out, "got %d %d %d", &got[0], &got[1], &got[2])) TH_LOG("%s", out);
	EXPECT_EQ(F_RDLCK, got[0]);
	EXPECT_EQ(F_RDLCK, got[1]);
	EXPECT_EQ(F_WRLCK, got[2]);
	EXPECT_EQ(1, leases_on(lease_r));
	EXPECT_EQ(1, leases_on(lease_w));
	/* The restored leases hold the module. */
	EXPECT_LT(refs, module_refs());
	/* The child shares the read lease's description. */
	close(open(lease_go, O_WRONLY | O_CREAT, 0644));
	for (waited = 0; waited < 10000 && read_text(lease_kid, out, sizeof(out)) < 0;
	     waited += 5)
		sleep_ms(5);
	EXPECT_EQ(1, sscanf(out, "%d", &kid));
	EXPECT_EQ(F_RDLCK, kid);
	/* Opening the read-leased file for writing breaks the lease: the
	 * holder gets SIGIO and releases; the opener proceeds well before the
	 * 45 s break timeout. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o = opener(lease_r, O_WRONLY);
	ASSERT_LT(0, o);
	status = wait_child(o, 20000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_EQ(0, status);
	EXPECT_GT(20, t1.tv_sec - t0.tv_sec);
	/* Opening the write-leased file for reading breaks it too: SIGRTMIN+1
	 * naming the leased fd. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o = opener(lease_w, O_RDONLY);
	ASSERT_LT(0, o);
	status = wait_child(o, 20000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_EQ(0, status);
	EXPECT_GT(20, t1.tv_sec - t0.tv_sec);
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	ASSERT_LT(0, read_text(lease_done, out, sizeof(out)));
	ASSERT_EQ(7, sscanf(out, "done %d %d %d %d %d %d %d", &done[0], &done[1], &done[2],
			    &done[3], &done[4], &done[5], &done[6]))
		TH_LOG("%s", out);
	EXPECT_LE(1, done[0]);		/* SIGIO for the read lease */
	EXPECT_LE(1, done[1]);		/* SIGRTMIN+1 for the write lease */
	EXPECT_EQ(done[3], done[2]);	/* naming the fd it was last taken on */
	EXPECT_EQ(1, done[4]);		/* each released with F_UNLCK */
	EXPECT_EQ(1, done[5]);
	EXPECT_EQ(F_UNLCK, done[6]);
	EXPECT_EQ(0, leases_on(lease_r));
	EXPECT_EQ(0, leases_on(lease_w));
	/* The module let go of itself once its leases were gone. */
	for (waited = 0; waited < 3000 && module_refs() != refs; waited += 10)
		sleep_ms(10);
	EXPECT_EQ(refs, module_refs());
	unlink(img);
	unlink(err);
	lease_cleanup();
}

/* A holder for the refusals: takes a lease of type (or a delegation with
 * deleg) on lease_r opened with flags, keeps fd keep open, and waits. */
struct lease_spec {
	int flags, type, deleg, keep;
};

static void lease_waiter(int ready, void *arg)
{
	struct lease_spec *ls = arg;
	int fd = ls->keep >= 0 ? ls->keep : open(lease_r, ls->flags);
	int null = open("/dev/null", O_RDWR), i;

	signal(SIGIO, SIG_IGN);
	if (fd < 0 || null < 0)
		_exit(91);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (i = 3; i < 1024; i++)
		if (i != ready && i != fd)
			close(i);
	if (ls->deleg) {
		struct delegation dl = { .d_type = ls->type };

		if (fcntl(fd, F_SETDELEG, &dl))
			_exit(92);
	} else if (fcntl(fd, F_SETLEASE, ls->type)) {
		_exit(92);
	}
	say_ready(ready);
	for (;;)
		pause();
}

/* Checks pid and expects status want and a reason containing text. */
static void expect_refused(struct __test_metadata *_metadata, pid_t pid, int want,
			   const char *text)
{
	char reason[512] = "";
	int dev = ckpt_open();

	ASSERT_LE(0, dev);
	EXPECT_EQ(want, ckpt_check(dev, pid, reason, sizeof(reason))) TH_LOG("%s", reason);
	EXPECT_NE(NULL, strstr(reason, text)) TH_LOG("reason: %s", reason);
}

TEST(lease_being_broken_is_refused)
{
	struct lease_spec ls = { .flags = O_RDONLY, .type = F_WRLCK, .keep = -1 };
	pid_t pid;
	int fd;

	lease_paths();
	pid = spawn_ready(lease_waiter, &ls);
	ASSERT_LT(0, pid);
	/* A non-blocking open for reading starts the break and returns. */
	fd = open(lease_r, O_RDONLY | O_NONBLOCK);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EWOULDBLOCK, errno);
	expect_refused(_metadata, pid, EBUSY, "is being broken");
	kill_reap(pid);
	lease_cleanup();
}

TEST(delegation_is_refused)
{
	struct lease_spec ls = { .flags = O_RDONLY, .type = F_RDLCK, .deleg = 1, .keep = -1 };
	pid_t pid;

	lease_paths();
	pid = spawn_ready(lease_waiter, &ls);
	if (pid < 0)
		SKIP(return, "F_SETDELEG not available on /tmp");
	expect_refused(_metadata, pid, EOPNOTSUPP, "delegation");
	kill_reap(pid);
	lease_cleanup();
}

TEST(leased_file_shared_outside_is_refused)
{
	struct lease_spec ls = { .type = F_RDLCK };
	pid_t pid;

	lease_paths();
	/* The description is ours too: the child inherits it. */
	ls.keep = open(lease_r, O_RDONLY);
	ASSERT_LE(0, ls.keep);
	pid = spawn_ready(lease_waiter, &ls);
	ASSERT_LT(0, pid);
	expect_refused(_metadata, pid, EBUSY, "leased file");
	/* Once we closed ours, it can come back. */
	close(ls.keep);
	expect_refused(_metadata, pid, 0, "");
	kill_reap(pid);
	lease_cleanup();
}

TEST(read_lease_of_a_file_opened_for_writing_refuses_restart)
{
	struct lease_spec ls = { .flags = O_RDONLY, .type = F_RDLCK, .keep = -1 };
	char img[64], err[64], out[512] = "";
	int status, wfd;
	pid_t pid, rs;

	lease_paths();
	snprintf(err, sizeof(err), "/tmp/ls-err-%d", getpid());
	ASSERT_LE(0, ckpt_open());
	pid = spawn_ready(lease_waiter, &ls);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, checkpoint_into(ckpt_dev_fd, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img),
				     "leasebusy"));
	close(ckpt_dev_fd);
	ckpt_dev_fd = -1;
	waitpid(pid, &status, 0);
	/* Someone opened the file for writing since. */
	wfd = open(lease_r, O_WRONLY);
	ASSERT_LE(0, wfd);
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	close(wfd);
	first_line(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("status %#x", status);
	EXPECT_NE(NULL, strstr(out, "read lease cannot be taken")) TH_LOG("stderr: %s", out);
	EXPECT_EQ(0, leases_on(lease_r));
	unlink(img);
	unlink(err);
	lease_cleanup();
}

/* A user's lease holder: as uid and gid 1000 (no capabilities), a read
 * lease on lease_r, which it owns. */
static void user_lease_waiter(int ready, void *arg)
{
	int null = open("/dev/null", O_RDWR), fd, i;
	gid_t g = 1000;

	(void)arg;
	signal(SIGIO, SIG_IGN);
	if (null < 0 || setgroups(1, &g) || setresgid(1000, 1000, 1000) ||
	    setresuid(1000, 1000, 1000) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(91);
	fd = open(lease_r, O_RDONLY);
	if (fd < 0 || fcntl(fd, F_SETLEASE, F_RDLCK))
		_exit(92);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (i = 3; i < 1024; i++)
		if (i != ready && i != fd)
			close(i);
	say_ready(ready);
	for (;;)
		pause();
}

/* The image's user no longer owns the file (and has no CAP_LEASE): root's
 * restart does not take the lease for it, and fails before the point of no
 * return. */
TEST(lease_the_image_user_may_not_take_refuses_restart)
{
	char img[64], err[64], out[512] = "";
	int status, refs;
	pid_t pid, rs;

	lease_paths();
	snprintf(err, sizeof(err), "/tmp/ls-err-%d", getpid());
	ASSERT_EQ(0, chown(lease_r, 1000, 1000));
	ASSERT_LE(0, ckpt_open());
	pid = spawn_ready(user_lease_waiter, NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, leases_on(lease_r));
	ASSERT_EQ(0, checkpoint_into(ckpt_dev_fd, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img),
				     "leaseperm"));
	close(ckpt_dev_fd);
	ckpt_dev_fd = -1;
	waitpid(pid, &status, 0);
	ASSERT_EQ(0, chmod(img, 0644));
	/* Someone else's file now (still readable by the user). */
	ASSERT_EQ(0, chown(lease_r, 2000, 2000));
	refs = module_refs();
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	first_line(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("status %#x", status);
	EXPECT_NE(NULL, strstr(out, "file's owner or CAP_LEASE")) TH_LOG("stderr: %s", out);
	EXPECT_EQ(0, leases_on(lease_r));
	/* Given back to the user, it comes back. */
	ASSERT_EQ(0, chown(lease_r, 1000, 1000));
	rs = start_restart(img, err);
	ASSERT_LT(0, rs);
	for (status = 0; status < 10000 && leases_on(lease_r) != 1; status += 5)
		sleep_ms(5);
	EXPECT_EQ(1, leases_on(lease_r));
	/* Killed (restored with its pid), its lease goes, and the module's
	 * hold on itself with it. */
	kill(pid, SIGKILL);
	kill_reap(rs);
	for (status = 0; status < 5000 && (leases_on(lease_r) || module_refs() != refs);
	     status += 5)
		sleep_ms(5);
	EXPECT_EQ(0, leases_on(lease_r));
	EXPECT_EQ(refs, module_refs());
	unlink(img);
	unlink(err);
	lease_cleanup();
}

TEST_HARNESS_MAIN
