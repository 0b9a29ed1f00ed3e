// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_checkpoint: CKPT_IOC_CHECKPOINT and CKPT_IOC_CHECK from the outside --
 * what happens to the target (stopped, resumed, killed), which errno each
 * bad request gets, and that a failed checkpoint leaves nothing behind: no
 * stopped task, no zombie, the target running on.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>

#include "ckpt_util.h"
#include "kselftest_harness.h"

FIXTURE(ck) {
	int dev;
	int img;
	char path[64];
	volatile uint64_t *counter;
	pid_t child;
};

FIXTURE_SETUP(ck)
{
	self->dev = ckpt_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "%s missing", CKPT_DEV);
	ASSERT_LE(0, self->dev);
	self->img = image_file(self->path, sizeof(self->path), "ck");
	ASSERT_LE(0, self->img);
	self->counter = shared_counter();
	ASSERT_NE(NULL, self->counter);
	self->child = 0;
}

FIXTURE_TEARDOWN(ck)
{
	if (self->child > 0)
		kill_reap(self->child);
	close(self->img);
	unlink(self->path);
	close(self->dev);
}

static uint64_t progress(volatile uint64_t *c, int ms)
{
	uint64_t a = *c;

	sleep_ms(ms);
	return *c - a;
}

TEST_F(ck, resume_keeps_running)
{
	uint64_t bytes = 0;

	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img,
				     CKPT_CHECKPOINT_RESUME, &bytes));
	EXPECT_LT(4096, bytes);
	EXPECT_EQ((off_t)bytes, lseek(self->img, 0, SEEK_END));
	EXPECT_TRUE(has_magic(self->img));
	EXPECT_LT(0, progress(self->counter, 50)) TH_LOG("target does not run on");
	EXPECT_NE('T', proc_state(self->child));
}

TEST_F(ck, default_leaves_stopped)
{
	int status;

	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img, CKPT_CHECKPOINT_STOP, NULL));
	ASSERT_EQ(0, wait_state(self->child, 'T', 2000)) TH_LOG("state %c", proc_state(self->child));
	EXPECT_EQ(0, progress(self->counter, 50));
	/* The parent sees an ordinary job-control stop, and SIGCONT resumes it. */
	ASSERT_EQ(self->child, waitpid(self->child, &status, WUNTRACED));
	EXPECT_TRUE(WIFSTOPPED(status));
	EXPECT_EQ(SIGSTOP, WSTOPSIG(status));
	kill(self->child, SIGCONT);
	EXPECT_LT(0, progress(self->counter, 100));
}

TEST_F(ck, kill_flag_kills)
{
	int status;

	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img, CKPT_CHECKPOINT_KILL, NULL));
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	self->child = 0;
	EXPECT_TRUE(has_magic(self->img));
}

TEST_F(ck, stopped_target)
{
	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	kill(self->child, SIGSTOP);
	ASSERT_EQ(0, wait_state(self->child, 'T', 2000));
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img,
				     CKPT_CHECKPOINT_RESUME, NULL));
	EXPECT_TRUE(has_magic(self->img));
	/* Still stopped: a checkpoint does not continue a stopped job. */
	EXPECT_EQ('T', proc_state(self->child));
	kill(self->child, SIGCONT);
	EXPECT_LT(0, progress(self->counter, 100));
}

static void echo_child(int ready, void *arg)
{
	int *p = arg;	/* p[0]: read end of "in", p[1]: write end of "out" */
	char buf[16];
	ssize_t n;

	say_ready(ready);
	/* Blocks in read(2) while being checkpointed. */
	n = read(p[0], buf, sizeof(buf));
	if (n > 0 && write(p[1], buf, n) != n)
		_exit(2);
	_exit(n > 0 ? 0 : 1);
}

TEST_F(ck, blocked_syscall_is_transparent)
{
	int in[2], out[2], fds[2], status;
	char buf[16];

	ASSERT_EQ(0, pipe(in));
	ASSERT_EQ(0, pipe(out));
	fds[0] = in[0];
	fds[1] = out[1];
	self->child = spawn_ready(echo_child, fds);
	ASSERT_LT(0, self->child);
	ASSERT_EQ(0, wait_state(self->child, 'S', 2000));
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img,
				     CKPT_CHECKPOINT_RESUME, NULL));
	sleep_ms(20);
	ASSERT_EQ(5, write(in[1], "hello", 5));
	ASSERT_EQ(5, read(out[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	self->child = 0;
}

TEST_F(ck, vanished_pid)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(-ESRCH, ckpt_checkpoint(self->dev, pid, self->img, 0, NULL));
	EXPECT_EQ(-ESRCH, ckpt_checkpoint(self->dev, 0, self->img, 0, NULL));
	EXPECT_EQ(-ESRCH, ckpt_checkpoint(self->dev, -5, self->img, 0, NULL));
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END));
}

TEST_F(ck, kernel_thread)
{
	char reason[256];

	/* pid 2 is kthreadd. */
	EXPECT_EQ(-EINVAL, ckpt_checkpoint(self->dev, 2, self->img, 0, NULL));
	EXPECT_EQ(EINVAL, ckpt_check(self->dev, 2, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "kernel thread")) TH_LOG("reason: %s", reason);
}

TEST_F(ck, self_is_refused)
{
	EXPECT_EQ(-EINVAL, ckpt_checkpoint(self->dev, getpid(), self->img, 0, NULL));
}

TEST_F(ck, bad_requests)
{
	struct ckpt_checkpoint_args a;
	int ro;

	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	EXPECT_EQ(-EINVAL, ckpt_checkpoint(self->dev, self->child, self->img,
					   CKPT_CHECKPOINT_RESUME | CKPT_CHECKPOINT_KILL, NULL));
	EXPECT_EQ(-EINVAL, ckpt_checkpoint(self->dev, self->child, self->img, 1ULL << 40, NULL));
	EXPECT_EQ(-EBADF, ckpt_checkpoint(self->dev, self->child, 999, 0, NULL));
	ro = open("/proc/self/stat", O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, ckpt_checkpoint(self->dev, self->child, ro, 0, NULL));
	close(ro);
	memset(&a, 0, sizeof(a));
	a.pid = self->child;
	a.fd = self->img;
	a.reserved[2] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->dev, CKPT_IOC_CHECKPOINT, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	/* Nothing was written, and the target runs on. */
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END));
	EXPECT_LT(0, progress(self->counter, 50));
}

/* A socket of a family ckpt does not restore (unix sockets it does). */
static void socket_child(int ready, void *arg)
{
	if (socket(AF_INET, SOCK_DGRAM, 0) < 0 && socket(AF_NETLINK, SOCK_RAW, 0) < 0)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(ck, unsupported_fd_is_refused)
{
	char reason[256];
	int r;

	self->child = spawn_ready(socket_child, NULL);
	ASSERT_LT(0, self->child);
	r = ckpt_check(self->dev, self->child, reason, sizeof(reason));
	EXPECT_EQ(EOPNOTSUPP, r);
	EXPECT_NE(NULL, strstr(reason, "socket")) TH_LOG("reason: %s", reason);
	EXPECT_NE(NULL, strstr(reason, "fd ")) TH_LOG("reason: %s", reason);
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, self->child, self->img, 0, NULL));
	/* Refused before anything was written; the target is not left stopped. */
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END));
	sleep_ms(20);
	EXPECT_EQ('S', proc_state(self->child));
}

TEST_F(ck, other_users_process)
{
	int status;
	pid_t checker;

	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	checker = fork();
	ASSERT_LE(0, checker);
	if (checker == 0) {
		/* The device fd stays open across the privilege drop. */
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (ckpt_checkpoint(self->dev, self->child, self->img, 0, NULL) != -EPERM)
			_exit(11);
		if (ckpt_check(self->dev, self->child, NULL, 0) != EPERM)
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END));
	EXPECT_LT(0, progress(self->counter, 50));
}

static void dirty_child(int ready, void *arg)
{
	size_t len = 32 << 20;
	char *p = malloc(len);
	size_t i;

	if (!p)
		_exit(4);
	for (i = 0; i < len; i += 4096)
		p[i] = (char)(i >> 12) | 1;
	say_ready(ready);
	for (;;)
		pause();
}

struct ckpt_job {
	int dev, fd;
	pid_t pid;
	uint64_t flags;
	int ret;
};

static void *run_checkpoint(void *arg)
{
	struct ckpt_job *j = arg;

	j->ret = ckpt_checkpoint(j->dev, j->pid, j->fd, j->flags, NULL);
	close(j->fd);
	return NULL;
}

/*
 * Checkpoints dirty_child (32 MiB) with @flags into a pipe read only after the
 * target was killed; returns the checkpoint's result, *total the image's bytes.
 */
static int killed_while_writing(struct __test_metadata *_metadata, FIXTURE_DATA(ck) *self,
				uint64_t flags, ssize_t *total)
{
	struct ckpt_job job;
	pthread_t th;
	int p[2], status;
	char buf[65536];
	ssize_t n;

	*total = 0;
	self->child = spawn_ready(dirty_child, NULL);
	if (self->child <= 0 || pipe(p))
		return -ECHILD;
	job.dev = self->dev;
	job.fd = p[1];
	job.pid = self->child;
	job.flags = flags;
	if (pthread_create(&th, NULL, run_checkpoint, &job))
		return -ECHILD;
	/* The checkpoint fills the pipe and blocks. */
	n = read(p[0], buf, sizeof(buf));
	EXPECT_LT(0, n);
	*total += n;
	kill(self->child, SIGKILL);
	EXPECT_EQ(self->child, waitpid(self->child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	self->child = 0;
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		*total += n;
	pthread_join(th, NULL);
	close(p[0]);
	return job.ret;
}

/* Killed while it is held (to be left stopped): the checkpoint fails. */
TEST_F(ck, target_killed_midway)
{
	ssize_t total;
	int ret = killed_while_writing(_metadata, self, CKPT_CHECKPOINT_STOP, &total);

	EXPECT_EQ(-ESRCH, ret) TH_LOG("ret %d after %zd bytes", ret, total);
}

/*
 * Left running, the 32 MiB image waits in memory (spool_mb) and the target runs
 * again before it is written: a kill then does not touch the image, which is
 * whole (the pages and the end record after them).
 */
TEST_F(ck, target_killed_after_release)
{
	ssize_t total;
	int ret = killed_while_writing(_metadata, self, CKPT_CHECKPOINT_RESUME, &total);

	EXPECT_EQ(0, ret);
	EXPECT_LT(32 << 20, total);
}

/* Children holding one thing each that a checkpoint must refuse, not lose. */
static void nsfile_child(int ready, void *arg)
{
	/* A namespace file (pidfds of the tree come back: ckpt_tree). */
	if (open("/proc/self/ns/uts", O_RDONLY) < 0)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

static void posix_timer_child(int ready, void *arg)
{
	timer_t t;

	/* On a CPU-time clock, which cannot come back (other timers do). */
	if (syscall(SYS_timer_create, CLOCK_PROCESS_CPUTIME_ID, NULL, &t))
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(ck, refused_not_lost)
{
	static const struct {
		void (*fn)(int, void *);
		const char *word;
	} cases[] = {
		{ nsfile_child, "outside the filesystem tree" },
		{ posix_timer_child, "counts CPU time" },
	};
	char reason[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = spawn_ready(cases[i].fn, NULL);

		ASSERT_LT(0, pid);
		EXPECT_EQ(EOPNOTSUPP, ckpt_check(self->dev, pid, reason, sizeof(reason)))
			TH_LOG("%s: %s", cases[i].word, reason);
		EXPECT_NE(NULL, strstr(reason, cases[i].word)) TH_LOG("reason: %s", reason);
		EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, pid, self->img, 0, NULL));
		EXPECT_EQ(0, lseek(self->img, 0, SEEK_END));
		kill_reap(pid);
	}
}

TEST_F(ck, open_device_pins_module)
{
	/* rmmod must fail while /dev/ckpt is open (here: self->dev). */
	EXPECT_NE(0, system("rmmod ckpt 2>/dev/null"));
	EXPECT_EQ(0, access("/sys/module/ckpt", F_OK));
}

static void closed_socket_child(int ready, void *arg)
{
	int sv[2], s;

	/* A unix socket is nothing a checkpoint cannot carry: not seen. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		_exit(3);
	close(sv[0]);
	close(sv[1]);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		_exit(4);
	close(s);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(ck, lsm_observer_explains)
{
	struct ckpt_version v;
	char reason[256];
	pid_t other;

	ASSERT_EQ(0, ioctl(self->dev, CKPT_IOC_VERSION, &v));
	if (!(v.features & CKPT_FEAT_LSM_WATCH))
		SKIP(return, "the LSM observer is off in this kernel");
	/* The socket is gone: checkpointable, but the history is told. */
	self->child = spawn_ready(closed_socket_child, NULL);
	ASSERT_LT(0, self->child);
	EXPECT_EQ(0, ckpt_check(self->dev, self->child, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "seen: created a socket (AF_INET)")) TH_LOG("reason: %s", reason);
	EXPECT_EQ(NULL, strstr(reason, "AF_UNIX")) TH_LOG("reason: %s", reason);
	/* An open socket: refused, with the history as well. */
	other = spawn_ready(socket_child, NULL);
	ASSERT_LT(0, other);
	EXPECT_EQ(EOPNOTSUPP, ckpt_check(self->dev, other, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "socket")) TH_LOG("reason: %s", reason);
	EXPECT_NE(NULL, strstr(reason, "seen: created a socket")) TH_LOG("reason: %s", reason);
	kill_reap(other);
	/* A clean process has no history. */
	kill_reap(self->child);
	self->child = spawn_ready(counting_child, (void *)self->counter);
	EXPECT_EQ(0, ckpt_check(self->dev, self->child, reason, sizeof(reason)));
	EXPECT_STREQ("", reason);
}

/*
 * Nobody reads the output: the first write fails the checkpoint (with @flags)
 * with the write's errno, and the target runs on as it was.
 */
static void broken_output(struct __test_metadata *_metadata, FIXTURE_DATA(ck) *self,
			  uint64_t flags)
{
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	ASSERT_EQ(0, pipe(p));
	close(p[0]);
	EXPECT_EQ(-EPIPE, ckpt_checkpoint(self->dev, self->child, p[1], flags, NULL));
	close(p[1]);
	EXPECT_NE('T', proc_state(self->child));
	EXPECT_LT(0, progress(self->counter, 50));
}

/* Written while the target is held: it is released as it was. */
TEST_F(ck, broken_output_leaves_target_running)
{
	broken_output(_metadata, self, CKPT_CHECKPOINT_STOP);
}

/* Left running, the image is written after the target was let go (spooled). */
TEST_F(ck, broken_output_after_release_is_reported)
{
	broken_output(_metadata, self, CKPT_CHECKPOINT_RESUME);
}

static void *spin(void *arg)
{
	volatile uint64_t *c = arg;

	for (;;)
		__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void threaded_child(int ready, void *arg)
{
	pthread_t th[8];
	int i;

	for (i = 0; i < 8; i++)
		if (pthread_create(&th[i], NULL, spin, arg))
			_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

/* Waits up to @ms until every thread of @pid is stopped ('T'). */
static int all_threads_stopped(pid_t pid, int ms)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	for (; ms > 0; ms -= 10) {
		DIR *d = opendir(dir);
		struct dirent *e;
		int n = 0, all = 1;

		if (!d)
			return -1;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			n++;
			if (proc_state(atoi(e->d_name)) != 'T')
				all = 0;
		}
		closedir(d);
		if (n && all)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

TEST_F(ck, all_threads_quiesced_and_saved)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	uint64_t before;
	int i, tasks = 0;

	ASSERT_NE(NULL, ip);
	self->child = spawn_ready(threaded_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	sleep_ms(50);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img, CKPT_CHECKPOINT_STOP, NULL));
	ASSERT_EQ(0, wait_state(self->child, 'T', 2000));
	/* Every thread stops, not only the leader (a group stop reaches the
	 * threads the signal did not pick a moment later: each was saved at its
	 * safe point all the same). */
	ASSERT_EQ(0, all_threads_stopped(self->child, 2000));
	before = *self->counter;
	sleep_ms(50);
	EXPECT_EQ(before, *self->counter);
	ASSERT_EQ(0, img_plan(self->path, ip));
	for (i = 0; i < ip->nrec; i++)
		tasks += ip->rec[i].kind == K_TASK;
	EXPECT_EQ(9, tasks);
	kill(self->child, SIGCONT);
	EXPECT_LT(0, progress(self->counter, 50));
	free(ip);
}

/* Collects one image through the shell interface; returns its size or -errno. */
static ssize_t shell_collect(char *buf, size_t len)
{
	int fd = open(CKPT_DEV, O_RDONLY);
	ssize_t n, total = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + total, len - total)) > 0)
		total += n;
	if (n < 0)
		total = -errno;
	close(fd);
	return total;
}

static int shell_write(const char *cmd)
{
	int fd = open(CKPT_DEV, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, cmd, strlen(cmd));
	close(fd);
	return n == (ssize_t)strlen(cmd) ? 0 : -errno;
}

TEST_F(ck, shell_interface)
{
	size_t len = 64 << 20;
	char *buf = malloc(len), cmd[64];
	ssize_t n;
	int i;

	ASSERT_NE(NULL, buf);
	self->child = spawn_ready(counting_child, (void *)self->counter);
	ASSERT_LT(0, self->child);
	/* Nothing queued yet. */
	EXPECT_EQ(-ENODATA, shell_collect(buf, len));
	snprintf(cmd, sizeof(cmd), "%d\n", self->child);
	ASSERT_EQ(0, shell_write(cmd));
	/* "PID" alone leaves the process running. */
	EXPECT_LT(0, progress(self->counter, 50));
	n = shell_collect(buf, len);
	ASSERT_LT(4096, n);
	EXPECT_EQ(0, memcmp(buf, ckpt_magic, 8));
	/* Collected images leave the queue. */
	EXPECT_EQ(-ENODATA, shell_collect(buf, len));
	/* Bad commands. */
	EXPECT_EQ(-EINVAL, shell_write("hello\n"));
	EXPECT_EQ(-EINVAL, shell_write("123 frobnicate\n"));
	EXPECT_EQ(-ESRCH, shell_write("999999\n"));
	/* At most 4 uncollected images per uid. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, shell_write(cmd));
	EXPECT_EQ(-ENOSPC, shell_write(cmd));
	/* Another uid sees none of them (the device opened to all for a moment:
	 * the opener's uid is what counts). */
	ASSERT_EQ(0, ckpt_unprivileged(1));
	ASSERT_EQ(0, chmod(CKPT_DEV, 0666));
	if (fork() == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		fd = open(CKPT_DEV, O_RDONLY);
		_exit(fd >= 0 && read(fd, buf, 4096) < 0 && errno == ENODATA ? 0 : 11);
	}
	{
		int status;

		wait(&status);
		chmod(CKPT_DEV, 0600);
		ckpt_unprivileged(0);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	}
	/* "PID stop" stops it; the queued images are collected. */
	for (i = 0; i < 4; i++)
		EXPECT_LT(4096, shell_collect(buf, len));
	snprintf(cmd, sizeof(cmd), "%d stop", self->child);
	ASSERT_EQ(0, shell_write(cmd));
	EXPECT_EQ(0, wait_state(self->child, 'T', 2000));
	EXPECT_LT(4096, shell_collect(buf, len));
	free(buf);
}

/* Keeps writing every page of the shared region @arg (SCRIBBLE_MB MiB). */
#define SCRIBBLE_MB 4
static void scribbler(int ready, void *arg)
{
	volatile uint64_t *m = arg;
	size_t n = (SCRIBBLE_MB << 20) / sizeof(*m), i;
	uint64_t v = 0;

	say_ready(ready);
	for (;;)
		for (i = 0; i < n; i += 512)
			m[i] = ++v;
}

/* Holds the shared region, and waits. */
static void holder(int ready, void *arg)
{
	(void)arg;
	say_ready(ready);
	for (;;)
		pause();
}

/*
 * Memory the target shares with a process that keeps running (a single
 * process is checkpointed, its peer is not stopped): each page record is
 * checked over what was written, so the image is valid however the pages
 * changed meanwhile (they were hashed, then written again from live memory,
 * and the record's check did not match).
 */
TEST_F(ck, pages_written_meanwhile_leave_a_valid_image)
{
	void *m = mmap(NULL, SCRIBBLE_MB << 20, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char cmd[128];
	pid_t w;
	int i;

	ASSERT_NE(MAP_FAILED, m);
	memset(m, 1, SCRIBBLE_MB << 20);
	self->child = spawn_ready(holder, NULL);
	ASSERT_LT(0, self->child);
	w = spawn_ready(scribbler, m);
	ASSERT_LT(0, w);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, ftruncate(self->img, 0));
		ASSERT_EQ(0, lseek(self->img, 0, SEEK_SET));
		ASSERT_EQ(0, ckpt_checkpoint(self->dev, self->child, self->img,
					     CKPT_CHECKPOINT_RESUME, NULL));
		snprintf(cmd, sizeof(cmd), "/ckpt show %s >/dev/null 2>&1", self->path);
		EXPECT_EQ(0, system(cmd)) TH_LOG("try %d: the image does not check", i);
	}
	kill_reap(w);
	munmap(m, SCRIBBLE_MB << 20);
}

TEST_HARNESS_MAIN
