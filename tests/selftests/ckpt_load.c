// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_load: faults and load (issue 14).  Each test must end cleanly: every
 * checkpoint either succeeds or fails with an errno, its target runs on (or
 * was killed as asked), every restart is either refused, killed after its
 * point of no return or restored, and no task is left behind.  The VM's
 * judge adds the kernel's side: no warning, no lockdep report, no leak
 * (kmemleak scan at the end of the run).
 *
 * Covered here: 20 checkpoints at once; two checkpoints of one process at
 * once; a tree that forks in a loop; the image's reader closing its end in
 * the middle; rmmod while a checkpoint runs; a restart under a small
 * virtual-memory limit (strict overcommit: the restored mappings cannot be
 * committed); the kernel's failslab during checkpoints and restarts (only
 * on kernels with CONFIG_FAILSLAB, the fuzz lane's KASAN kernel).  The
 * target killed mid-checkpoint is ckpt_checkpoint.target_killed_midway; the
 * module's own fault injection at every step is in ckpt_security.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "ckpt_util.h"
#include "kselftest_harness.h"

FIXTURE(load) {
	int dev;
};

FIXTURE_SETUP(load)
{
	signal(SIGPIPE, SIG_IGN);
	self->dev = ckpt_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "%s missing", CKPT_DEV);
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(load)
{
	if (self->dev >= 0)
		close(self->dev);
}

/* Processes (other than zombies being reaped) whose process group is @pgid. */
static int group_members(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], buf[512], *p;
		int fd, pg = 0;
		ssize_t len;
		char st;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%c %*d %d", &st, &pg) == 2 && pg == pgid && st != 'Z')
			n++;
	}
	closedir(d);
	return n;
}

static int exists(pid_t pid)
{
	return kill(pid, 0) == 0;
}

/* stdio on /dev/null, no other fd but @keep: an image without pipes. */
static void quiet_fds(int keep)
{
	int fd = open("/dev/null", O_RDWR);

	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	for (fd = 3; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/* A counter per child, in memory shared with the test. */
static void counter_child(int ready, void *arg)
{
	quiet_fds(ready);
	counting_child(ready, arg);
}

static int advances(volatile uint64_t *c, int ms)
{
	uint64_t a = *c;

	for (; ms > 0; ms -= 10) {
		sleep_ms(10);
		if (*c != a)
			return 1;
	}
	return 0;
}

/*
 * spawn_ready() of a counting child, returning once its counter moves: the
 * child says it is ready before it closes its end of the ready pipe, and a
 * checkpoint taken in between would hold that pipe (a restart without it
 * is refused).  Counting starts after the close.
 */
static pid_t spawn_counting(void (*fn)(int, void *), volatile uint64_t *c)
{
	pid_t pid = spawn_ready(fn, (void *)c);

	if (pid > 0 && !advances(c, 10000))
		return -1;
	return pid;
}

struct job {
	int dev;
	pid_t pid;
	uint64_t flags;
	int fd;
	int ret;
	uint64_t bytes;
	char path[64];
	int done;
};

static void *checkpoint_job(void *arg)
{
	struct job *j = arg;
	sigset_t all;

	/* Signals to the test (SIGCHLD of system()) are not this thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	j->ret = ckpt_checkpoint(j->dev, j->pid, j->fd, j->flags, &j->bytes);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

#define NCONC 20

TEST_F_TIMEOUT(load, twenty_checkpoints_at_once, 600)
{
	volatile uint64_t *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct job j[NCONC];
	pthread_t th[NCONC];
	int i;

	ASSERT_NE(MAP_FAILED, (void *)c);
	for (i = 0; i < NCONC; i++) {
		j[i].pid = spawn_counting(counter_child, c + i * 8);
		ASSERT_LT(0, j[i].pid);
		j[i].dev = self->dev;
		j[i].flags = CKPT_CHECKPOINT_RESUME;
		snprintf(j[i].path, sizeof(j[i].path), "/tmp/ckpt-load-%d-%d.img", getpid(), i);
		j[i].fd = open(j[i].path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ASSERT_LE(0, j[i].fd);
	}
	for (i = 0; i < NCONC; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, checkpoint_job, &j[i]));
	for (i = 0; i < NCONC; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NCONC; i++) {
		EXPECT_EQ(0, j[i].ret) TH_LOG("checkpoint %d of pid %d", i, j[i].pid);
		EXPECT_LT(0, j[i].bytes);
		EXPECT_EQ(j[i].bytes, (uint64_t)lseek(j[i].fd, 0, SEEK_END));
		EXPECT_TRUE(has_magic(j[i].fd));
		/* Each target runs on. */
		EXPECT_TRUE(advances(c + i * 8, 2000)) TH_LOG("pid %d stuck", j[i].pid);
		kill_reap(j[i].pid);
		close(j[i].fd);
		unlink(j[i].path);
	}
}

TEST_F_TIMEOUT(load, two_checkpoints_of_one_process_at_once, 300)
{
	volatile uint64_t *c = shared_counter();
	struct job j[2];
	pthread_t th[2];
	int round, i, done = 0;
	pid_t pid;

	ASSERT_NE(NULL, c);
	pid = spawn_counting(counter_child, c);
	ASSERT_LT(0, pid);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 2; i++) {
			j[i].dev = self->dev;
			j[i].pid = pid;
			j[i].flags = CKPT_CHECKPOINT_RESUME;
			j[i].bytes = 0;
			snprintf(j[i].path, sizeof(j[i].path), "/tmp/ckpt-two-%d-%d.img", getpid(), i);
			j[i].fd = open(j[i].path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			ASSERT_LE(0, j[i].fd);
		}
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, checkpoint_job, &j[i]));
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		for (i = 0; i < 2; i++) {
			/* Both succeed one after the other, or one is told the
			 * process is busy; nothing else. */
			EXPECT_TRUE(j[i].ret == 0 || j[i].ret == -EBUSY || j[i].ret == -EAGAIN)
				TH_LOG("round %d, checkpoint %d: %d", round, i, j[i].ret);
			if (!j[i].ret) {
				done++;
				EXPECT_TRUE(has_magic(j[i].fd));
				EXPECT_EQ(j[i].bytes, (uint64_t)lseek(j[i].fd, 0, SEEK_END));
			}
			close(j[i].fd);
			unlink(j[i].path);
		}
		EXPECT_TRUE(j[0].ret == 0 || j[1].ret == 0) TH_LOG("round %d: neither succeeded", round);
		EXPECT_NE('T', proc_state(pid));
		EXPECT_TRUE(advances(c, 2000)) TH_LOG("round %d: the target is stuck", round);
	}
	TH_LOG("%d of 10 checkpoints succeeded", done);
	kill_reap(pid);
}

/*
 * A shell that forks subshells in a loop, each doing a little work; it
 * counts its rounds in a file (memory shared with the test would be shared
 * with a process outside the tree, which a tree checkpoint refuses).
 */
static void forking_child(int ready, void *arg)
{
	char script[1024];

	quiet_fds(ready);
	setpgid(0, 0);
	say_ready(ready);
	/* A fresh program: nothing shared with the test (its harness's memory). */
	snprintf(script, sizeof(script),
		 "i=0; while :; do (i=1; while [ $i -lt 50 ]; do i=$((i+1)); done); i=$((i+1));"
		 " printf '%%08d' $i > %s.new && mv %s.new %s; done", (char *)arg, (char *)arg, (char *)arg);
	execl("/bin/sh", "sh", "-c", script, NULL);
	_exit(127);
}

static uint64_t file_count(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	return strtoull(buf, NULL, 10);
}

static int file_advances(const char *path, int ms)
{
	uint64_t a = file_count(path);

	for (; ms > 0; ms -= 10) {
		sleep_ms(10);
		if (file_count(path) != a)
			return 1;
	}
	return 0;
}

TEST_F_TIMEOUT(load, tree_forking_in_a_loop, 600)
{
	int i, ok = 0, fd, ret;
	char path[64], count[64];
	pid_t pid;

	snprintf(count, sizeof(count), "/tmp/ckpt-forker-%d.count", getpid());
	fd = open(count, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	pid = spawn_ready(forking_child, count);
	ASSERT_LT(0, pid);
	/*
	 * Ready is said before the exec: until the shell runs, the child still
	 * maps the harness's shared memory, shared with the test outside the
	 * tree (a tree checkpoint refuses that: EBUSY).  The count moving says
	 * the shell runs.
	 */
	ASSERT_TRUE(file_advances(count, 10000)) TH_LOG("the shell does not count");
	for (i = 0; i < 10; i++) {
		fd = image_file(path, sizeof(path), "forker");
		ASSERT_LE(0, fd);
		ret = ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_RESUME, NULL);
		/*
		 * Saved, or refused at once because a child was being born
		 * (EAGAIN: the tree kept changing) or was exiting (ESRCH).
		 */
		EXPECT_TRUE(ret == 0 || ret == -EAGAIN || ret == -ESRCH) TH_LOG("try %d: %d", i, ret);
		if (!ret) {
			ok++;
			EXPECT_TRUE(has_magic(fd));
		}
		close(fd);
		unlink(path);
		EXPECT_TRUE(file_advances(count, 3000)) TH_LOG("try %d: the tree stopped forking", i);
	}
	TH_LOG("%d of 10 tree checkpoints succeeded", ok);
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (i = 0; i < 100 && group_members(pid) > 0; i++)
		sleep_ms(20);
	EXPECT_EQ(0, group_members(pid)) TH_LOG("tasks of the tree left");
	unlink(count);
}

/* A child with 32 MiB of touched memory: an image of many pipe buffers. */
static void big_child(int ready, void *arg)
{
	size_t n = 32 << 20;
	char *m = malloc(n);

	quiet_fds(ready);
	if (!m)
		_exit(3);
	for (size_t i = 0; i < n; i += 8)
		*(uint64_t *)(m + i) = i * 0x9E3779B97F4A7C15ull;
	counting_child(ready, arg);
}

TEST_F_TIMEOUT(load, reader_closing_midway_leaves_the_target_running, 300)
{
	volatile uint64_t *c = shared_counter();
	struct job j = { .dev = self->dev, .flags = CKPT_CHECKPOINT_STOP };
	pthread_t th;
	char buf[65536];
	int p[2];

	ASSERT_NE(NULL, c);
	j.pid = spawn_counting(big_child, c);
	ASSERT_LT(0, j.pid);
	ASSERT_EQ(0, pipe(p));
	j.fd = p[1];
	ASSERT_EQ(0, pthread_create(&th, NULL, checkpoint_job, &j));
	/* Some of the image, then the reader goes away. */
	ASSERT_LT(0, read(p[0], buf, sizeof(buf)));
	close(p[0]);
	pthread_join(th, NULL);
	close(p[1]);
	EXPECT_EQ(-EPIPE, j.ret) TH_LOG("%llu bytes written", (unsigned long long)j.bytes);
	/* Released as it was: running, not stopped. */
	EXPECT_NE('T', proc_state(j.pid));
	EXPECT_TRUE(advances(c, 2000));
	kill_reap(j.pid);
}

TEST_F_TIMEOUT(load, rmmod_while_a_checkpoint_runs, 300)
{
	volatile uint64_t *c = shared_counter();
	struct job j = { .flags = CKPT_CHECKPOINT_RESUME };
	pthread_t th;
	char buf[65536];
	uint64_t total = 0;
	ssize_t n;
	int p[2];

	ASSERT_NE(NULL, c);
	j.pid = spawn_counting(big_child, c);
	ASSERT_LT(0, j.pid);
	/* The checkpoint's own open file is the only one. */
	close(self->dev);
	self->dev = -1;
	j.dev = open(CKPT_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, j.dev);
	ASSERT_EQ(0, pipe(p));
	j.fd = p[1];
	ASSERT_EQ(0, pthread_create(&th, NULL, checkpoint_job, &j));
	/* The checkpoint blocks on the full pipe: the module is busy. */
	n = read(p[0], buf, sizeof(buf));
	ASSERT_LT(0, n);
	total += n;
	EXPECT_NE(0, system("rmmod ckpt 2>/dev/null"));
	EXPECT_EQ(0, access("/sys/module/ckpt", F_OK));
	/* The rest, until the checkpoint is done and the pipe empty. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		int was_done = __atomic_load_n(&j.done, __ATOMIC_ACQUIRE);

		n = read(p[0], buf, sizeof(buf));
		if (n > 0) {
			total += n;
			continue;
		}
		if (was_done)
			break;
		sleep_ms(1);
	}
	pthread_join(th, NULL);
	close(p[1]);
	close(p[0]);
	EXPECT_EQ(0, j.ret);
	EXPECT_EQ(j.bytes, total);
	EXPECT_TRUE(advances(c, 2000));
	kill_reap(j.pid);
	close(j.dev);
}

static long meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atol(line + strlen(key) + 1);
	fclose(f);
	return v;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Waits for a restarter: "refused" (it exited 100 + errno), "killed" (after
 * the point of no return), or "restored" (still running after @ms: the
 * program came back; it is killed here).  Returns 'R', 'K' or 'E' (and
 * the errno in *err), or 0 for anything else.
 */
static char restart_outcome(pid_t pid, int ms, int *err)
{
	int st;

	for (; ms > 0; ms -= 20) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st) >= 100) {
				*err = WEXITSTATUS(st) - 100;
				return 'E';
			}
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
				return 'K';
			return 0;
		}
		sleep_ms(20);
	}
	kill_reap(pid);
	return 'R';
}

TEST_F_TIMEOUT(load, restart_under_a_small_vm_limit_fails_cleanly, 300)
{
	volatile uint64_t *c = shared_counter();
	char img[64], mode[32], kbytes[32], set[32];
	struct img_plan ip;
	long committed;
	int err = 0;
	pid_t pid, r;
	char out;

	ASSERT_NE(NULL, c);
	pid = spawn_counting(big_child, c);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, checkpoint_into(self->dev, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img), "vmlimit"));
	waitpid(pid, NULL, 0);
	ASSERT_EQ(0, img_plan(img, &ip));
	ASSERT_LT(0, read_text("/proc/sys/vm/overcommit_memory", mode, sizeof(mode)));
	ASSERT_LT(0, read_text("/proc/sys/vm/overcommit_kbytes", kbytes, sizeof(kbytes)));
	/* Strict accounting with room for a restarter, not for its 32 MiB. */
	committed = meminfo_kb("Committed_AS");
	ASSERT_LT(0, committed);
	snprintf(set, sizeof(set), "%ld", committed + 8192);
	ASSERT_EQ(0, write_str("/proc/sys/vm/overcommit_kbytes", set));
	ASSERT_EQ(0, write_str("/proc/sys/vm/overcommit_memory", "2"));
	r = restart_image(img, &ip, NULL, 0, -1);
	out = r > 0 ? restart_outcome(r, 10000, &err) : 0;
	write_str("/proc/sys/vm/overcommit_memory", mode);
	write_str("/proc/sys/vm/overcommit_kbytes", kbytes);
	ASSERT_LT(0, r) TH_LOG("no restarter: %s", strerror(errno));
	/* Refused (ENOMEM) or killed after the point of no return. */
	EXPECT_TRUE(out == 'K' || (out == 'E' && err == ENOMEM)) TH_LOG("outcome %c, errno %d", out, err);
	EXPECT_FALSE(exists(ip.pid)) TH_LOG("pid %d left", ip.pid);
	/* With the memory back, the same image restarts. */
	r = restart_image(img, &ip, NULL, 0, -1);
	ASSERT_LT(0, r);
	EXPECT_EQ('R', restart_outcome(r, 3000, &err)) TH_LOG("errno %d", err);
	unlink(img);
}

#define FAILSLAB "/sys/kernel/debug/failslab/"

/* The kernel's failslab, failing one slab allocation in @pct percent of the
 * calling thread's (and its children's, which inherit the flag). */
static int failslab(int pct)
{
	char s[16];

	if (pct) {
		snprintf(s, sizeof(s), "%d", pct);
		if (write_str(FAILSLAB "task-filter", "Y") || write_str(FAILSLAB "ignore-gfp-wait", "N") ||
		    write_str(FAILSLAB "verbose", "0") || write_str(FAILSLAB "interval", "1") ||
		    write_str(FAILSLAB "times", "-1") || write_str(FAILSLAB "probability", s))
			return -1;
	} else {
		write_str(FAILSLAB "probability", "0");
	}
	return write_str("/proc/thread-self/make-it-fail", pct ? "1" : "0");
}

TEST_F_TIMEOUT(load, failslab_during_checkpoint_and_restart, 900)
{
	volatile uint64_t *c = shared_counter();
	int i, ret, err, ok = 0, refused = 0, restored = 0, killed = 0;
	char img[64], out;
	struct img_plan ip;
	pid_t pid, r;

	if (access(FAILSLAB "probability", W_OK))
		SKIP(return, "no failslab in this kernel (CONFIG_FAILSLAB: the fuzz lane's kernel)");
	ASSERT_NE(NULL, c);
	pid = spawn_counting(counter_child, c);
	ASSERT_LT(0, pid);
	for (i = 0; i < 40; i++) {
		int fd = image_file(img, sizeof(img), "failslab");

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, failslab(i % 2 ? 5 : 20));
		ret = ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL);
		failslab(0);
		close(fd);
		ok += !ret;
		/* A failed allocation fails the checkpoint; the target runs on. */
		EXPECT_NE('T', proc_state(pid)) TH_LOG("try %d (%d): stopped", i, ret);
		EXPECT_TRUE(advances(c, 2000)) TH_LOG("try %d (%d): stuck", i, ret);
	}
	TH_LOG("%d of 40 checkpoints under failslab succeeded", ok);
	ASSERT_EQ(0, checkpoint_into(self->dev, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img), "failslab"));
	waitpid(pid, NULL, 0);
	ASSERT_EQ(0, img_plan(img, &ip));
	for (i = 0; i < 40; i++) {
		err = 0;
		/* The restarter inherits the flag; the test drops it at once. */
		ASSERT_EQ(0, failslab(i % 2 ? 5 : 20));
		r = restart_image(img, &ip, NULL, 0, -1);
		failslab(0);
		if (r < 0)
			continue;
		out = restart_outcome(r, 3000, &err);
		refused += out == 'E';
		killed += out == 'K';
		restored += out == 'R';
		EXPECT_NE(0, out) TH_LOG("try %d: an exit that is none of refused, killed, restored", i);
		for (int k = 0; k < 100 && exists(ip.pid); k++)
			sleep_ms(20);
		EXPECT_FALSE(exists(ip.pid)) TH_LOG("try %d: pid %d left", i, ip.pid);
	}
	TH_LOG("restarts under failslab: %d refused, %d killed, %d restored", refused, killed, restored);
	unlink(img);
}

TEST_HARNESS_MAIN
