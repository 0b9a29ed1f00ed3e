// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_locks: file locks come back with their holder after a checkpoint and
 * a restart: POSIX record locks (owned by the fd table, with the holder's
 * pid), flock locks and OFD locks (owned by the open file description).
 * Another process sees them held after the restart, the restored holder can
 * release them, and then the other process can take them.  A lock another
 * process holds when the image is restarted refuses the restart, naming the
 * holder.
 */
#include "ckpt_util.h"
#include <sys/file.h>
#include <sys/prctl.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"

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
	FILE *f;
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
	f = fopen(err, "r");
	out[0] = 0;
	if (f) {
		if (!fgets(out, sizeof(out), f))
			out[0] = 0;
		fclose(f);
	}
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

TEST_HARNESS_MAIN
