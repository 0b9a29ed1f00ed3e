// SPDX-License-Identifier: GPL-2.0
/*
 * Process trees: what must never happen.
 *
 * - A tree whose restart fails halfway (one process's pages are bad, found
 *   only after the other processes already replaced their memory) leaves no
 *   task behind: every process of the restart dies, none runs on half
 *   restored.
 * - A tree that shares a pipe with a process outside it is refused with a
 *   reason, and left running.
 * - A tree checkpoint refuses a descendant the caller may not trace.
 *
 * Uses /samples/tree (see samples/tree.c) and /ckpt.
 */
#include "ckpt_util.h"
#include <sched.h>
#include "kselftest_harness.h"

#define TREE "/samples/tree"
#define CKPT "/ckpt"

/* Starts /samples/tree in a session of its own with its output in @out;
 * fills pids[5] (P A B G Z) from its "ready" line.  Returns P or -1. */
static pid_t start_tree(const char *out, const char *data, pid_t pids[5])
{
	char line[256] = "";
	pid_t p = fork();
	int i;

	if (p < 0)
		return -1;
	if (p == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDWR);

		if (fd < 0 || null < 0)
			_exit(2);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setsid();
		execl(TREE, "tree", data, (char *)NULL);
		_exit(2);
	}
	for (i = 0; i < 600; i++) {
		FILE *f = fopen(out, "r");

		if (f) {
			if (fgets(line, sizeof(line), f) && !strncmp(line, "ready ", 6)) {
				fclose(f);
				break;
			}
			fclose(f);
		}
		sleep_ms(50);
	}
	if (sscanf(line, "ready %d a=%d b=%d g=%d z=%d", &pids[0], &pids[1], &pids[2],
		   &pids[3], &pids[4]) != 5)
		return -1;
	return p;
}

/* Whether a process with this pid exists (zombies count). */
static int exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0;
}

/* Waits up to ms for every pid of the list to be gone; 0 if they are. */
static int all_gone(const pid_t *pids, int n, int ms)
{
	int i, left;

	for (; ms > 0; ms -= 20) {
		for (i = 0, left = 0; i < n; i++)
			left += exists(pids[i]);
		if (!left)
			return 0;
		sleep_ms(20);
	}
	return -1;
}

/* Runs a command line; returns its wait status. */
static int run(const char *cmd)
{
	return system(cmd);
}

FIXTURE(tree) {
	int dev;
	char img[64];
};

FIXTURE_SETUP(tree)
{
	int fd_img;

	self->dev = ckpt_open();
	ASSERT_LE(0, self->dev);
	fd_img = image_file(self->img, sizeof(self->img), "tree");
	ASSERT_LE(0, fd_img);
	close(fd_img);
}

FIXTURE_TEARDOWN(tree)
{
	unlink(self->img);
	close(self->dev);
}

/* The last page record belongs to the last process of the tree: give its
 * first page an address no mapping of that process covers. */
static int break_last_pages(const char *path)
{
	struct img_plan *ip = malloc(sizeof(*ip));
	struct stat st;
	unsigned char *m;
	int i, fd, last = -1;

	if (!ip || img_plan(path, ip))
		return -1;
	for (i = 0; i < ip->nrec; i++)
		if (ip->rec[i].kind == K_PAGES)
			last = i;
	fd = open(path, O_RDWR);
	if (last < 0 || fd < 0 || fstat(fd, &st))
		return -1;
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	/* payload: mm (4), count (4), addrs (8 each), data */
	put_le64(m + ip->rec[last].off + 12 + 8, 0x10000);
	reseal(m, st.st_size);
	munmap(m, st.st_size);
	free(ip);
	return 0;
}

TEST_F_TIMEOUT(tree, half_restored_tree_leaves_nothing, 180)
{
	pid_t pids[5], p;
	uint64_t bytes = 0;
	int fd, status, i;
	char cmd[256];

	p = start_tree("/tmp/tree-half.out", "/tmp/tree-half.data", pids);
	ASSERT_LT(0, p);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pids[0], fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, &bytes));
	close(fd);
	waitpid(p, &status, 0);
	ASSERT_EQ(0, all_gone(pids, 5, 10000)) TH_LOG("the tree did not die");

	/* The intact image restores (and is then killed). */
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet --ignore-changed >/dev/null",
		 self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i < 4; i++)
		EXPECT_TRUE(exists(pids[i])) TH_LOG("pid %d not restored", pids[i]);
	for (i = 0; i < 4; i++)
		kill(pids[i], SIGKILL);
	ASSERT_EQ(0, all_gone(pids, 5, 10000));

	/* Broken: the last process fails after the point of no return; everyone dies. */
	ASSERT_EQ(0, break_last_pages(self->img));
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --quiet --ignore-changed 2>/dev/null",
		 self->img);
	status = run(cmd);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) TH_LOG("status %#x", status);
	EXPECT_EQ(0, all_gone(pids, 5, 10000)) TH_LOG("a half-restored task is left");
	for (i = 0; i < 5; i++)
		if (exists(pids[i]))
			kill(pids[i], SIGKILL);
}

/* A child of the test that forks one more; its stdout is a pipe the test
 * reads: the pipe leaves the tree. */
static void leaky(int ready, void *arg)
{
	(void)arg;
	setpgid(0, 0);
	if (fork() == 0) {
		for (;;)
			pause();
	}
	say_ready(ready);
	for (;;) {
		if (write(1, "x", 1) < 0)
			_exit(3);
		sleep_ms(100);
	}
}

TEST_F(tree, pipe_to_an_outsider_is_refused)
{
	int pfd[2], fd, saved;
	uint64_t bytes = 0;
	char reason[256];
	pid_t p;

	ASSERT_EQ(0, pipe(pfd));
	saved = dup(1);
	dup2(pfd[1], 1);
	p = spawn_ready(leaky, NULL);
	dup2(saved, 1);
	close(saved);
	close(pfd[1]);
	ASSERT_LT(0, p);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, ckpt_checkpoint(self->dev, p, fd, CKPT_CHECKPOINT_TREE, &bytes));
	close(fd);
	/* Without the tree flag, the process alone may be taken (its pipe with it). */
	EXPECT_EQ(0, ckpt_check(self->dev, p, reason, sizeof(reason))) TH_LOG("%s", reason);
	/* Refused, it runs on. */
	sleep_ms(200);
	EXPECT_NE('T', proc_state(p));
	close(pfd[0]);
	kill(-p, SIGKILL);
	kill_reap(p);
}

/* A child that forks one more sharing its fd table (CLONE_FILES). */
static void shares_files(int ready, void *arg)
{
	(void)arg;
	setpgid(0, 0);
	if (syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0) == 0) {
		for (;;)
			pause();
	}
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(tree, shared_fd_table_is_refused)
{
	char reason[256];
	uint64_t bytes = 0;
	int fd;
	pid_t p = spawn_ready(shares_files, NULL);

	ASSERT_LT(0, p);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, p, fd, CKPT_CHECKPOINT_TREE, &bytes));
	close(fd);
	/* The process alone has a table of its own to save. */
	EXPECT_EQ(0, ckpt_check(self->dev, p, reason, sizeof(reason))) TH_LOG("%s", reason);
	EXPECT_NE('T', proc_state(p));
	kill(-p, SIGKILL);
	kill_reap(p);
}

TEST_HARNESS_MAIN
