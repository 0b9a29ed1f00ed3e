// SPDX-License-Identifier: GPL-2.0
/*
 * Process trees: what must never happen.
 *
 * - A tree whose restart fails halfway (one process's pages are bad, found
 *   only after the other processes already replaced their memory) leaves no
 *   task behind: every process of the restart dies, none runs on half
 *   restored.
 * - A tree one of whose restarters fails before its ioctl (it cannot make a
 *   child with its pid) while the others already wait in the module: `ckpt
 *   restart` kills them and fails at once, saying why; no task is left.
 * - A tree that shares a pipe with a process outside it is refused with a
 *   reason, and left running.
 * - A session leader's controlling terminal and foreground group come back.
 * - A tree checkpoint refuses a descendant the caller may not trace.
 * - Processes in another session than their parent's, which they do not
 *   lead, come back: orphans of a session leader that exited and was reaped
 *   (reparented to a subreaper of the tree), in its session and process
 *   group, one a zombie, one in a group of its own; a process whose parent
 *   made a session of its own after forking it; an orphan whose session's
 *   leader is its sibling; orphans reparented to the subreaper from a live
 *   and from a zombie session leader below it.  After a restart every process has its pid,
 *   parent, group and session again, the zombie its exit status, a signal to
 *   the group reaches exactly its members, and no process with the leader's
 *   pid (the restart's helper) or any other is left.
 * - Such a tree is refused with a reason (a restart could not make it again)
 *   when the session is the root's (which a restart does not make), when its
 *   leader is in the tree but a subreaper stands between them (it could not
 *   be reparented to its parent again), or when orphans of a gone leader's session have different
 *   parents.
 * - Pages a parent and its child share copy-on-write come back shared (the
 *   same physical pages), each process's own pages its own, and a write
 *   after the restart stays in the process that made it.
 * - A file a root parent opened, which its child of another user inherited
 *   but could not open, comes back in both (the child takes the parent's,
 *   whichever restores first: ZDTM's pid00); held by the child alone, it is
 *   refused, naming the file.
 * - A tree of 21 processes sharing 400 socketpairs (800 fds each) is
 *   checkpointed and comes back with every fd, each pair one pair.
 * - A parent's pidfds of its child (close-on-exec, PIDFD_NONBLOCK without
 *   close-on-exec, PIDFD_THREAD), of itself and of its zombie child come back
 *   naming the restored tasks: fdinfo's Pid, the fd and file flags as they
 *   were, a signal sent through one reaches the child, poll says when it
 *   exits, waitid(P_PIDFD) reaps it (and EAGAIN before, through the
 *   non-blocking one); the zombie's is readable and reaps it with its status;
 *   a child's pidfd of its younger sibling (made after it at restart) too.
 *   A pidfd of a process outside the tree (the parent; a zombie child when
 *   the process is checkpointed alone), of a reaped process, or shared with a
 *   process outside the tree is refused with its reason, by CKPT_IOC_CHECK
 *   too.
 *
 * Uses /samples/tree (see samples/tree.c) and /ckpt.
 */
#include "ckpt_util.h"
#include <poll.h>
#include <sched.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/fsuid.h>
#include <termios.h>
#include "kselftest_harness.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define PIDFD_THREAD O_EXCL
#define PIDFD_NONBLOCK O_NONBLOCK

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

/*
 * Starts the tree (start_tree(out, data)), checkpoints it into img with
 * CKPT_CHECKPOINT_KILL and waits until all of pids are gone.
 */
static void checkpoint_killed_tree(struct __test_metadata *_metadata, int dev, const char *img,
				   const char *out, const char *data, pid_t pids[5])
{
	uint64_t bytes = 0;
	pid_t p = start_tree(out, data, pids);
	int fd;

	ASSERT_LT(0, p);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(dev, pids[0], fd, CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL,
				     &bytes));
	close(fd);
	waitpid(p, NULL, 0);
	ASSERT_EQ(0, all_gone(pids, 5, 10000)) TH_LOG("the tree did not die");
}

TEST_F_TIMEOUT(tree, half_restored_tree_leaves_nothing, 180)
{
	pid_t pids[5];
	int status, i;
	char cmd[256];

	checkpoint_killed_tree(_metadata, self->dev, self->img, "/tmp/tree-half.out",
			       "/tmp/tree-half.data", pids);

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

/* Holds pid @want with a child that sleeps (clone3 with set_tid); returns
 * its pid, or -1. */
static pid_t hold_pid(pid_t want)
{
	long pid = fork_with_pid(want);

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Whether file @path contains @what. */
static int file_has(const char *path, const char *what)
{
	char buf[4096];

	return read_text(path, buf, sizeof(buf)) > 0 && strstr(buf, what) != NULL;
}

TEST_F_TIMEOUT(tree, restarter_failing_before_the_ioctl_fails_the_tree, 120)
{
	pid_t pids[5], holder, rest[4];
	struct timespec t0, t1;
	int status, i;
	char cmd[256];

	checkpoint_killed_tree(_metadata, self->dev, self->img, "/tmp/tree-early.out",
			       "/tmp/tree-early.data", pids);

	/* G's pid is taken: A's restarter cannot make G and fails before its
	 * ioctl, while P's (and B's) already wait in the module for the rest. */
	holder = hold_pid(pids[3]);
	ASSERT_EQ(pids[3], holder) TH_LOG("cannot hold pid %d", pids[3]);
	snprintf(cmd, sizeof(cmd),
		 CKPT " restart %s --quiet --ignore-changed >/dev/null 2>/tmp/tree-early.err",
		 self->img);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	status = run(cmd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("status %#x", status);
	EXPECT_TRUE(file_has("/tmp/tree-early.err", "restart failed"))
		TH_LOG("ckpt restart did not say it failed");
	EXPECT_TRUE(file_has("/tmp/tree-early.err", "with its pid"))
		TH_LOG("ckpt restart did not say why");
	/* At once: the tool killed the waiting restarters (nothing timed out). */
	EXPECT_GT(30, t1.tv_sec - t0.tv_sec);
	rest[0] = pids[0];
	rest[1] = pids[1];
	rest[2] = pids[2];
	rest[3] = pids[4];
	EXPECT_EQ(0, all_gone(rest, 4, 10000)) TH_LOG("a restarter is left");
	for (i = 0; i < 4; i++)
		if (exists(rest[i]))
			kill(rest[i], SIGKILL);
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	unlink("/tmp/tree-early.err");
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

/* CKPT_IOC_CHECK of pid's tree says status, with a reason naming word. */
static void expect_tree_check(struct __test_metadata *_metadata, int dev, pid_t pid, int status,
			      const char *word)
{
	struct ckpt_check_args a;

	memset(&a, 0, sizeof(a));
	a.pid = pid;
	a.flags = CKPT_CHECKPOINT_TREE;
	ASSERT_EQ(0, ioctl(dev, CKPT_IOC_CHECK, &a));
	EXPECT_EQ(status, a.status);
	EXPECT_NE(NULL, strstr(a.reason, word)) TH_LOG("%s", a.reason);
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
	/* CKPT_IOC_CHECK with the tree flag says so in advance. */
	expect_tree_check(_metadata, self->dev, p, EBUSY, "outside the tree");
	/* Without the tree flag, the process alone may be taken (its pipe with it). */
	EXPECT_EQ(0, ckpt_check(self->dev, p, reason, sizeof(reason))) TH_LOG("%s", reason);
	/* Refused, it runs on. */
	sleep_ms(200);
	EXPECT_NE('T', proc_state(p));
	close(pfd[0]);
	kill(-p, SIGKILL);
	kill_reap(p);
}

/* P, in the session of the test (with a process group of its own), whose child
 * M forks O and then makes a session of its own: O stays in the test's
 * session, below M, which is not in it. */
static void resessioned(int ready, void *arg)
{
	int p[2];
	pid_t m;
	char c;

	(void)arg;
	if (pipe(p) || setpgid(0, 0) < 0)
		_exit(2);
	m = fork();
	if (m == 0) {
		if (fork() == 0) {
			for (;;)
				pause();
		}
		setsid();
		if (write(p[1], "M", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	if (m < 0 || read(p[0], &c, 1) != 1)
		_exit(4);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(tree, process_outside_its_parents_session_is_refused)
{
	uint64_t bytes = 0;
	char path[64];
	pid_t p, m = 0;
	FILE *f;
	int fd;

	p = spawn_ready(resessioned, NULL);
	ASSERT_LT(0, p);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", p, p);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &m));
	fclose(f);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	/* A restart makes P in the caller's session, not the test's: O could
	 * not be made in the test's session. */
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, p, fd, CKPT_CHECKPOINT_TREE, &bytes));
	close(fd);
	expect_tree_check(_metadata, self->dev, p, EOPNOTSUPP, "the root's session");
	/* Refused, it runs on. */
	sleep_ms(200);
	EXPECT_NE('T', proc_state(p));
	EXPECT_NE('T', proc_state(m));
	kill(-m, SIGKILL);
	kill(-p, SIGKILL);
	kill_reap(p);
}

/*
 * The processes of sessions_of_orphans_come_back, run before the harness
 * (exec'ed with CKPT_GONE_CHILD=the ready fd): R, a subreaper leading a
 * session of its own, forks L, which makes a session of its own and forks O1
 * (which forks C), O2 (which makes a process group of its own) and Z (which
 * exits with 7); then L exits and R reaps it: O1, O2 and Z are R's, in L's
 * session, O1, C and Z in L's group; Z stays a zombie.  R also forks D, which
 * makes a session of its own and forks M, which forks O and then makes a
 * session of its own (O stays in D's, below M); and X, which forks G and
 * exits: G is R's, in D's session.  R writes "L O1 O2 C Z D M O G" to the
 * ready fd.
 */
__attribute__((constructor)) static void gone_leader_child(void)
{
	const char *r = getenv("CKPT_GONE_CHILD");
	int ready, p[2], null, st;
	pid_t pids[4] = { 0 }, l;
	char line[256], c;

	if (!r)
		return;
	ready = atoi(r);
	null = open("/dev/null", O_RDWR);
	if (null < 0 || setsid() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(p))
		_exit(3);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	l = fork();
	if (l == 0) {
		int i;

		close(ready);
		setsid();
		for (i = 0; i < 3; i++) {
			pids[i] = fork();
			if (pids[i] == 0 && i == 0) {
				close(p[1]);
				if (fork() == 0) {
					for (;;)
						pause();
				}
				for (;;)
					pause();
			}
			if (pids[i] == 0 && i == 1) {
				close(p[1]);
				setpgid(0, 0);
				for (;;)
					pause();
			}
			if (pids[i] == 0)
				_exit(7);
		}
		/* Z has exited before L does. */
		waitid(P_PID, pids[2], NULL, WEXITED | WNOWAIT);
		if (write(p[1], pids, sizeof(pids)) != sizeof(pids))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	if (l < 0 || read(p[0], pids, sizeof(pids)) != sizeof(pids) || waitpid(l, &st, 0) != l)
		_exit(5);
	/* O1's child C. */
	{
		char path[64];
		FILE *f;
		int n = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pids[0], pids[0]);
		for (; n < 500 && !pids[3]; n++) {
			f = fopen(path, "r");
			if (f) {
				if (fscanf(f, "%d", &pids[3]) != 1)
					pids[3] = 0;
				fclose(f);
			}
			if (!pids[3])
				usleep(10000);
		}
	}
	/* D's branch: D, M, O, G. */
	{
		int dr[2], dp[2];
		pid_t d, x, dm[4];

		if (pipe(dr))
			_exit(7);
		d = fork();
		if (d == 0) {
			close(dr[0]);
			if (setsid() < 0 || pipe(dp))
				_exit(8);
			dm[0] = getpid();
			dm[1] = fork();
			if (dm[1] == 0) {
				pid_t o = fork();

				if (o == 0) {
					for (;;)
						pause();
				}
				setsid();
				if (write(dp[1], &o, sizeof(o)) != sizeof(o))
					_exit(9);
				for (;;)
					pause();
			}
			if (read(dp[0], &dm[2], sizeof(pid_t)) != sizeof(pid_t))
				_exit(9);
			x = fork();
			if (x == 0) {
				pid_t g = fork();

				if (g == 0) {
					for (;;)
						pause();
				}
				if (write(dp[1], &g, sizeof(g)) != sizeof(g))
					_exit(9);
				_exit(0);
			}
			if (read(dp[0], &dm[3], sizeof(pid_t)) != sizeof(pid_t) ||
			    waitpid(x, NULL, 0) != x)
				_exit(9);
			close(dp[0]);
			close(dp[1]);
			if (write(dr[1], dm, sizeof(dm)) != sizeof(dm))
				_exit(9);
			close(dr[1]);
			for (;;)
				pause();
		}
		close(dr[1]);
		if (d < 0 || read(dr[0], dm, sizeof(dm)) != sizeof(dm))
			_exit(10);
		close(dr[0]);
		snprintf(line, sizeof(line), "%d %d %d %d %d %d %d %d %d", l, pids[0], pids[1],
			 pids[3], pids[2], dm[0], dm[1], dm[2], dm[3]);
	}
	/* B's branch: B forks A, which makes a session and forks X, which forks
	 * P and exits: P goes to R.  E's: E forks Y, which makes a session,
	 * forks K and exits (E leaves it a zombie): K goes to R. */
	{
		int br[2], k;
		pid_t b[3];

		if (pipe(br))
			_exit(11);
		for (k = 0; k < 2; k++) {
			if (fork() == 0) {
				pid_t a;

				close(br[0]);
				b[0] = getpid();
				a = fork();
				if (a == 0) {
					pid_t x;

					setsid();
					b[1] = getpid();
					x = k ? 0 : fork();
					if (x == 0) {
						b[2] = fork();
						if (b[2] == 0) {
							for (;;)
								pause();
						}
						if (write(br[1], b, sizeof(b)) != sizeof(b))
							_exit(12);
						_exit(0);
					}
					waitpid(x, NULL, 0);
					for (;;)
						pause();
				}
				if (k == 1)
					waitid(P_PID, a, NULL, WEXITED | WNOWAIT);
				for (;;)
					pause();
			}
			if (read(br[0], b, sizeof(b)) != sizeof(b))
				_exit(13);
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d %d %d", b[0],
				 b[1], b[2]);
		}
		close(br[0]);
		close(br[1]);
		strcat(line, "\n");
	}
	c = (char)strlen(line);
	if (write(ready, line, c) != c)
		_exit(6);
	close(ready);
	for (;;)
		pause();
}

/*
 * The process of controlling_terminal_comes_back, run before the harness
 * (exec'ed with CKPT_CTTY_CHILD=the pty's path): a session leader with the
 * pty as its controlling terminal and a child in the foreground group.
 */
__attribute__((constructor)) static void ctty_child(void)
{
	const char *path = getenv("CKPT_CTTY_CHILD");
	int ready, t, null;
	pid_t g;

	if (!path)
		return;
	ready = atoi(getenv("CKPT_CTTY_READY") ?: "-1");
	null = open("/dev/null", O_RDWR);
	setsid();
	t = open(path, O_RDWR);
	if (t < 0 || null < 0 || ioctl(t, TIOCSCTTY, 0))
		_exit(3);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	g = fork();
	if (g == 0) {
		close(ready);
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(g, g);
	signal(SIGTTOU, SIG_IGN);
	if (tcsetpgrp(t, g))
		_exit(4);
	signal(SIGTTOU, SIG_DFL);
	if (write(ready, "R", 1) != 1)
		_exit(5);
	close(ready);
	for (;;)
		pause();
}

/* Fields of /proc/PID/stat after "(comm) ": 1 state, 2 ppid, 3 pgrp,
 * 4 session, 5 tty_nr, 6 tpgid. */
static long stat_field(pid_t pid, int n)
{
	char path[64], buf[512], *p;
	int fd, len, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	for (i = 1; i < n; i++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	return strtol(p, NULL, 10);
}

TEST_F_TIMEOUT(tree, controlling_terminal_comes_back, 120)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), ready[2], fd, i;
	long tty, tpgid;
	uint64_t bytes = 0;
	char cmd[256], c;
	pid_t s, g;

	ASSERT_LE(0, master);
	ASSERT_EQ(0, grantpt(master));
	ASSERT_EQ(0, unlockpt(master));
	ASSERT_NE(NULL, ptsname(master));
	snprintf(cmd, sizeof(cmd), "%s", ptsname(master));
	ASSERT_EQ(0, pipe(ready));
	s = fork();
	ASSERT_LE(0, s);
	if (s == 0) {
		/* Exec'ed afresh: the harness's shared memory must not come along
		 * (a tree sharing memory with an outsider is refused). */
		char fdtxt[16];

		close(ready[0]);
		close(master);
		snprintf(fdtxt, sizeof(fdtxt), "%d", ready[1]);
		setenv("CKPT_CTTY_CHILD", cmd, 1);
		setenv("CKPT_CTTY_READY", fdtxt, 1);
		execl("/proc/self/exe", "ckpt_tree", (char *)NULL);
		_exit(6);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	tty = stat_field(s, 5);
	tpgid = stat_field(s, 6);
	ASSERT_NE(0, tty);
	ASSERT_NE(s, tpgid);
	g = tpgid;
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, s, fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, &bytes));
	close(fd);
	waitpid(s, NULL, 0);
	{
		pid_t both[2] = { s, g };

		ASSERT_EQ(0, all_gone(both, 2, 10000));
	}
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null", self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i < 100 && !exists(g); i++)
		sleep_ms(20);
	EXPECT_EQ(s, stat_field(s, 4)) TH_LOG("session");
	EXPECT_EQ(tty, stat_field(s, 5)) TH_LOG("terminal of the session leader");
	EXPECT_EQ(tty, stat_field(g, 5)) TH_LOG("terminal of the foreground child");
	EXPECT_EQ(g, stat_field(s, 6)) TH_LOG("foreground group");
	kill(g, SIGKILL);
	kill(s, SIGKILL);
	close(master);
}

/* The pids of /proc whose stat field n (stat_field) is v, at most max, in
 * pids; returns how many. */
static int procs_with(int n, long v, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int k = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		pid_t pid = atoi(e->d_name);

		if (pid > 0 && stat_field(pid, n) == v && k < max)
			pids[k++] = pid;
	}
	closedir(d);
	return k;
}

/* Whether pid is one of the n of pids. */
static int one_of(pid_t pid, const pid_t *pids, int n)
{
	while (n-- > 0)
		if (pids[n] == pid)
			return 1;
	return 0;
}

TEST_F_TIMEOUT(tree, sessions_of_orphans_come_back, 120)
{
	/* R, O1, O2, C, Z, D, M, O, G, B, A, P, E, Y, K, and what /proc said of
	 * each: ppid, pgrp, session, state, exit code (stat fields 2, 3, 4, 1,
	 * 50). */
	enum { R, O1, O2, C, Z, D, M, O, G, B, A, P, E, Y, K, N };
	const int fields[5] = { 2, 3, 4, 1, 50 };
	long before[N][5], after[N][5];
	pid_t t[N], l, found[16];
	int ready[2], fd, i, k, n;
	uint64_t bytes = 0;
	char line[256] = "", cmd[256];

	ASSERT_EQ(0, pipe(ready));
	t[R] = fork();
	ASSERT_LE(0, t[R]);
	if (t[R] == 0) {
		char fdtxt[16];

		close(ready[0]);
		snprintf(fdtxt, sizeof(fdtxt), "%d", ready[1]);
		setenv("CKPT_GONE_CHILD", fdtxt, 1);
		execl("/proc/self/exe", "ckpt_tree", (char *)NULL);
		_exit(6);
	}
	close(ready[1]);
	ASSERT_LT(0, read(ready[0], line, sizeof(line) - 1));
	close(ready[0]);
	ASSERT_EQ(15, sscanf(line, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &l, &t[O1],
			     &t[O2], &t[C], &t[Z], &t[D], &t[M], &t[O], &t[G], &t[B], &t[A], &t[P],
			     &t[E], &t[Y], &t[K]));
	ASSERT_FALSE(exists(l));
	/* Until P and K are R's and Y a zombie. */
	for (i = 0; i < 250 && (stat_field(t[P], 2) != t[R] || stat_field(t[K], 2) != t[R] ||
				proc_state(t[Y]) != 'Z');
	     i++)
		sleep_ms(20);
	for (i = 0; i < N; i++)
		for (k = 0; k < 5; k++)
			before[i][k] = stat_field(t[i], fields[k]);
	/* As made: O1, O2, Z and G are R's, O1, O2, C and Z in L's session, O
	 * below M in D's session, G in D's too. */
	EXPECT_EQ(t[R], before[O1][0]);
	EXPECT_EQ(t[R], before[O2][0]);
	EXPECT_EQ(t[O1], before[C][0]);
	EXPECT_EQ(t[R], before[Z][0]);
	EXPECT_EQ(t[R], before[G][0]);
	EXPECT_EQ(t[M], before[O][0]);
	EXPECT_EQ(t[R], before[P][0]);
	EXPECT_EQ(t[A], before[P][2]);
	EXPECT_EQ(t[B], before[A][0]);
	EXPECT_EQ(t[R], before[K][0]);
	EXPECT_EQ(t[Y], before[K][2]);
	EXPECT_EQ(t[E], before[Y][0]);
	EXPECT_EQ('Z', proc_state(t[Y]));
	for (i = O1, k = 0; i <= Z; i++)
		k += before[i][2] != l;
	EXPECT_EQ(0, k) TH_LOG("a process is not in L's session");
	EXPECT_EQ(l, before[O1][1]);
	EXPECT_EQ(t[O2], before[O2][1]);
	EXPECT_EQ(t[D], before[O][2]);
	EXPECT_EQ(t[M], before[M][2]);
	EXPECT_EQ(t[D], before[G][2]);
	EXPECT_EQ('Z', proc_state(t[Z]));
	EXPECT_EQ(7 << 8, before[Z][4]);
	expect_tree_check(_metadata, self->dev, t[R], 0, "");

	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, t[R], fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, &bytes));
	close(fd);
	waitpid(t[R], NULL, 0);
	ASSERT_EQ(0, all_gone(t, N, 10000)) TH_LOG("the tree did not die");
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null", self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i < 100 && !exists(t[G]); i++)
		sleep_ms(20);
	for (i = 0; i < N; i++)
		for (k = 0; k < 5; k++)
			after[i][k] = stat_field(t[i], fields[k]);
	/* R's parent is the restart's; the rest as before. */
	for (i = 0, n = 0; i < N; i++)
		for (k = i == R ? 1 : 0; k < 5; k++) {
			if (before[i][k] == after[i][k])
				continue;
			fprintf(stderr, "# process %d, stat field %d: %ld, was %ld\n", t[i],
				fields[k], after[i][k], before[i][k]);
			n++;
		}
	EXPECT_EQ(0, n);
	/* No helper is left: nothing has L's pid, R has O1, O2, Z, D, G, B, P,
	 * E and K alone, L's session holds O1, O2, C and Z alone, D's D, O and
	 * G, A's A and P, Y's Y and K, and A has no child. */
	EXPECT_FALSE(exists(l));
	n = procs_with(2, t[R], found, 16);
	EXPECT_EQ(9, n);
	for (i = 0, k = 0; i < n; i++)
		k += !(found[i] == t[O1] || found[i] == t[O2] || found[i] == t[Z] ||
		       found[i] == t[D] || found[i] == t[G] || found[i] == t[B] ||
		       found[i] == t[P] || found[i] == t[E] || found[i] == t[K]);
	EXPECT_EQ(0, k) TH_LOG("another child of R");
	EXPECT_EQ(0, procs_with(2, t[A], found, 16));
	EXPECT_EQ(2, procs_with(4, t[A], found, 16));
	EXPECT_EQ(2, procs_with(4, t[Y], found, 16));
	n = procs_with(4, l, found, 16);
	EXPECT_EQ(4, n);
	for (i = 0, k = 0; i < n; i++)
		k += !one_of(found[i], &t[O1], 4);
	EXPECT_EQ(0, k) TH_LOG("another process in L's session");
	n = procs_with(4, t[D], found, 16);
	EXPECT_EQ(3, n);
	for (i = 0, k = 0; i < n; i++)
		k += !(found[i] == t[D] || found[i] == t[O] || found[i] == t[G]);
	EXPECT_EQ(0, k) TH_LOG("another process in D's session");
	/* A signal to L's group reaches O1 and C (and Z, which ignores it), not
	 * O2 or R. */
	EXPECT_EQ(0, kill(-l, SIGSTOP));
	for (i = 0; i < 100 && (proc_state(t[O1]) != 'T' || proc_state(t[C]) != 'T'); i++)
		sleep_ms(20);
	EXPECT_EQ('T', proc_state(t[O1]));
	EXPECT_EQ('T', proc_state(t[C]));
	EXPECT_NE('T', proc_state(t[O2]));
	EXPECT_NE('T', proc_state(t[R]));
	EXPECT_EQ('Z', proc_state(t[Z]));
	kill(-l, SIGKILL);
	for (i = 0; i < N; i++)
		kill(t[i], SIGKILL);
	EXPECT_EQ(0, all_gone(t, N, 10000));
}

/* R (a subreaper, leading a session) forks A, which forks L, which makes a
 * session of its own and forks O1 and X, which forks O2 and exits: O2 goes to
 * R. Then A becomes a subreaper and L exits: O1 goes to A. O1 and O2 are in
 * the session of L, gone, with different parents. */
static void split_orphans(int ready, void *arg)
{
	int l2a[2], a2l[2], a2r[2];
	char c;

	(void)arg;
	if (setsid() < 0 || pipe(l2a) || pipe(a2l) || pipe(a2r) ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		_exit(2);
	if (fork() == 0) {
		pid_t l = fork();

		if (l == 0) {
			pid_t x;

			setsid();
			if (fork() == 0) {
				for (;;)
					pause();
			}
			x = fork();
			if (x == 0) {
				if (fork() == 0) {
					for (;;)
						pause();
				}
				_exit(0);
			}
			waitpid(x, NULL, 0);
			/* O2 is R's now; L goes once A is a subreaper. */
			if (write(l2a[1], "X", 1) != 1 || read(a2l[0], &c, 1) != 1)
				_exit(3);
			_exit(0);
		}
		if (read(l2a[0], &c, 1) != 1 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ||
		    write(a2l[1], "A", 1) != 1)
			_exit(3);
		waitpid(l, NULL, 0);
		if (write(a2r[1], "L", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	if (read(a2r[0], &c, 1) != 1)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

/* Kills pid's descendants, then pid. */
static void kill_descendants(pid_t pid)
{
	pid_t kids[16];
	int i, n = procs_with(2, pid, kids, 16);

	for (i = 0; i < n; i++)
		kill_descendants(kids[i]);
	kill(pid, SIGKILL);
}

/* R (a subreaper, leading a session) forks B, which forks A, which makes a
 * session of its own and forks X, which forks O and exits: O goes to R, in A's
 * session; then B becomes a subreaper, so that O is not where A's exit (or an
 * intermediate's) would put it now. */
static void leader_elsewhere(int ready, void *arg)
{
	int p[2], q[2];
	char c;

	(void)arg;
	if (setsid() < 0 || pipe(p) || pipe(q) || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		_exit(2);
	if (fork() == 0) {
		if (fork() == 0) {
			pid_t x;

			setsid();
			x = fork();
			if (x == 0) {
				if (fork() == 0) {
					for (;;)
						pause();
				}
				_exit(0);
			}
			waitpid(x, NULL, 0);
			if (write(p[1], "A", 1) != 1)
				_exit(3);
			for (;;)
				pause();
		}
		if (read(p[0], &c, 1) != 1 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ||
		    write(q[1], "B", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	if (read(q[0], &c, 1) != 1)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

/*
 * Checkpoints the tree fn makes (with CKPT_CHECKPOINT_TREE): refused with
 * EOPNOTSUPP, its reason (and CKPT_IOC_CHECK's) naming word; it runs on.
 */
static void expect_tree_refused(struct __test_metadata *_metadata, int dev, const char *img,
				void (*fn)(int, void *), const char *word)
{
	uint64_t bytes = 0;
	pid_t p;
	int fd;

	p = spawn_ready(fn, NULL);
	ASSERT_LT(0, p);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(dev, p, fd, CKPT_CHECKPOINT_TREE, &bytes));
	close(fd);
	expect_tree_check(_metadata, dev, p, EOPNOTSUPP, word);
	sleep_ms(200);
	EXPECT_NE('T', proc_state(p));
	kill_descendants(p);
	kill_reap(p);
}

/* A child of the tree holds an AF_INET socket (which ckpt refuses). */
static void child_with_inet_socket(int ready, void *arg)
{
	int p[2];
	char c;

	(void)arg;
	if (pipe(p))
		_exit(2);
	if (fork() == 0) {
		if (socket(AF_INET, SOCK_DGRAM, 0) < 0 || write(p[1], "S", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	if (read(p[0], &c, 1) != 1)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

/*
 * A tree refused for something one of its other processes holds: the reason
 * names that process (not only the fd, which the root may not have).
 */
TEST_F(tree, refusal_names_the_process_that_holds_the_obstacle)
{
	char want[64], path[64];
	pid_t p, child = 0;
	FILE *f;

	p = spawn_ready(child_with_inet_socket, NULL);
	ASSERT_LT(0, p);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", p, p);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &child));
	fclose(f);
	snprintf(want, sizeof(want), "process %d: ", child);
	expect_tree_check(_metadata, self->dev, p, EOPNOTSUPP, want);
	kill_descendants(p);
	kill_reap(p);
}

TEST_F(tree, orphan_of_a_live_leader_elsewhere_is_refused)
{
	expect_tree_refused(_metadata, self->dev, self->img, leader_elsewhere,
			    "not the first subreaper above");
}

TEST_F(tree, orphans_of_a_gone_session_leader_with_two_parents_are_refused)
{
	expect_tree_refused(_metadata, self->dev, self->img, split_orphans, "another parent each");
}

/*
 * The processes of cow_pages_come_back_shared, run before the harness
 * (exec'ed with CKPT_COW_CHILD=the ready fd): COW_PAGES pages at COW_ADDR,
 * page i filled with i + 1, then two children.  The first writes the first
 * byte of page 5 and drops pages COW_KEEP and up (shrinks the mapping and
 * grows it back: the guest kernel has no madvise); the second changes
 * nothing; then the parent writes the first byte of page 7.  All the other
 * pages stay shared.
 */
#define COW_ADDR 0x5a5a00000000UL
#define COW_PAGES 32
#define COW_KEEP 11

__attribute__((constructor)) static void cow_child(void)
{
	const char *r = getenv("CKPT_COW_CHILD");
	long ps = sysconf(_SC_PAGESIZE);
	int ready, null, i, up[2];
	unsigned char *m;
	pid_t c[2];

	if (!r)
		return;
	ready = atoi(r);
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	setsid();
	m = mmap((void *)COW_ADDR, COW_PAGES * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (void *)COW_ADDR || pipe(up))
		_exit(3);
	for (i = 0; i < COW_PAGES; i++)
		memset(m + i * ps, i + 1, ps);
	for (i = 0; i < 2; i++) {
		c[i] = fork();
		if (c[i] < 0)
			_exit(3);
		if (c[i] == 0) {
			close(up[0]);
			if (i == 0) {
				m[5 * ps] = 0xc5;
				if (mremap(m, COW_PAGES * ps, COW_KEEP * ps, 0) != m ||
				    mremap(m, COW_KEEP * ps, COW_PAGES * ps, 0) != m)
					_exit(4);
			}
			if (write(up[1], "c", 1) != 1)
				_exit(4);
			close(up[1]);
			for (;;)
				pause();
		}
	}
	close(up[1]);
	for (i = 0; i < 2; i++)
		if (read(up[0], &null, 1) != 1)
			_exit(4);
	close(up[0]);
	m[7 * ps] = 0xa7;
	if (write(ready, c, sizeof(c)) != sizeof(c))
		_exit(5);
	close(ready);
	for (;;)
		pause();
}

/* The pagemap entry of page i of the region in pid (bit 63: present; bits
 * 0-54: the frame, shown to root). */
static uint64_t cow_pagemap(pid_t pid, int i)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (COW_ADDR / sysconf(_SC_PAGESIZE) + i) * 8) != 8)
		e = 0;
	close(fd);
	return e;
}

#define PM_PRESENT (1ULL << 63)
#define PM_PFN(e) ((e) & ((1ULL << 55) - 1))

/* The first byte of page i of the region in pid, if the rest of the page is
 * uniform (and equal to it but on pages 5 and 7), else -1. */
static int cow_byte(pid_t pid, int i)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *b = malloc(ps);
	char path[64];
	int fd, v = -1;
	long j;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (b && fd >= 0 && pread(fd, b, ps, COW_ADDR + i * ps) == ps) {
		v = b[0];
		for (j = 2; j < ps; j++)
			if (b[j] != b[1])
				break;
		if (j < ps || (b[1] != b[0] && i != 5 && i != 7))
			v = -1;
	}
	if (fd >= 0)
		close(fd);
	free(b);
	return v;
}

/* What page i of the parent (0) and the children (1, 2) hold. */
static int cow_want(int who, int i)
{
	if (who == 0 && i == 7)
		return 0xa7;
	if (who == 1 && i == 5)
		return 0xc5;
	if (who == 1 && i >= COW_KEEP)
		return 0;
	return i + 1;
}

/* Checks the region of the parent and the children (pids[3]) as they left it:
 * contents, and which pages are the very same page. */
static int cow_expect(struct __test_metadata *_metadata, const pid_t *pids, const char *when)
{
	int i, a, b, bad = 0;

	for (i = 0; i < COW_PAGES; i++) {
		uint64_t e[3];

		for (a = 0; a < 3; a++) {
			e[a] = cow_pagemap(pids[a], i);
			if (cow_byte(pids[a], i) != cow_want(a, i)) {
				TH_LOG("%s: page %d of process %d holds %d, not %d", when, i, a,
				       cow_byte(pids[a], i), cow_want(a, i));
				bad++;
			}
		}
		if (i >= COW_KEEP && (e[1] & PM_PRESENT)) {
			TH_LOG("%s: dropped page %d is back", when, i);
			bad++;
		}
		for (a = 0; a < 3; a++)
			for (b = a + 1; b < 3; b++) {
				int same = (e[a] & PM_PRESENT) && (e[b] & PM_PRESENT) &&
					   PM_PFN(e[a]) == PM_PFN(e[b]);
				int want = cow_want(a, i) == i + 1 && cow_want(b, i) == i + 1;

				if (same != want) {
					TH_LOG("%s: page %d of processes %d and %d: %s (%#llx %#llx)",
					       when, i, a, b, same ? "shared" : "not shared",
					       (unsigned long long)e[a], (unsigned long long)e[b]);
					bad++;
				}
			}
	}
	return bad;
}

/*
 * Forks a child that exec's this test binary with @env set to "READY_FD" or
 * "READY_FD @arg" (its constructor then builds the processes and writes their
 * pids on READY_FD); returns the child's pid (-1 on error) and the ready
 * pipe's read end in *@rd.
 */
static pid_t exec_child(const char *env, const char *arg, int *rd)
{
	char txt[32];
	int ready[2];
	pid_t pid;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(ready[0]);
		snprintf(txt, sizeof(txt), arg ? "%d %s" : "%d", ready[1], arg);
		setenv(env, txt, 1);
		execl("/proc/self/exe", "ckpt_tree", (char *)NULL);
		_exit(6);
	}
	close(ready[1]);
	*rd = ready[0];
	return pid;
}

TEST_F_TIMEOUT(tree, cow_pages_come_back_shared, 120)
{
	int rd, fd, i;
	uint64_t bytes = 0;
	char cmd[256];
	unsigned char v = 0x33;
	pid_t pids[3];

	pids[0] = exec_child("CKPT_COW_CHILD", NULL, &rd);
	ASSERT_LT(0, pids[0]);
	ASSERT_EQ(2 * sizeof(pid_t), read(rd, pids + 1, 2 * sizeof(pid_t)));
	close(rd);
	ASSERT_EQ(0, cow_expect(_metadata, pids, "before"));
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pids[0], fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, &bytes));
	close(fd);
	waitpid(pids[0], NULL, 0);
	ASSERT_EQ(0, all_gone(pids, 3, 10000));
	/* The shared pages are in the image once, named for the children. */
	snprintf(cmd, sizeof(cmd), CKPT " show %s | grep -q 'shared with mm'", self->img);
	EXPECT_EQ(0, run(cmd)) TH_LOG("no page-refs record");
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null", self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i < 100 && !(exists(pids[1]) && exists(pids[2])); i++)
		sleep_ms(20);
	sleep_ms(100);
	EXPECT_EQ(0, cow_expect(_metadata, pids, "after restart"));
	/* A write after the restart (through /proc/PID/mem, as a store would)
	 * stays in the process that made it: copy-on-write again. */
	snprintf(cmd, sizeof(cmd), "/proc/%d/mem", pids[2]);
	fd = open(cmd, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, &v, 1, COW_ADDR + 3 * sysconf(_SC_PAGESIZE) + 1));
	close(fd);
	EXPECT_EQ(4, cow_byte(pids[0], 3)) TH_LOG("the child's write leaked into its parent");
	EXPECT_EQ(4, cow_byte(pids[1], 3)) TH_LOG("the child's write leaked into its sibling");
	EXPECT_NE(PM_PFN(cow_pagemap(pids[0], 3)), PM_PFN(cow_pagemap(pids[2], 3)));
	EXPECT_EQ(PM_PFN(cow_pagemap(pids[0], 3)), PM_PFN(cow_pagemap(pids[1], 3)));
	for (i = 0; i < 3; i++)
		kill(pids[i], SIGKILL);
}

/*
 * The processes of file_inherited_by_a_child_of_another_user (exec'ed with
 * CKPT_SHARED_CHILD="READY_FD KEEP"): root opens SHARED_FILE (root's, 0644)
 * for writing at SHARED_FD after SHARED_PAD other files, forks a child that
 * keeps only that fd and becomes SHARED_UID; the parent closes it unless KEEP
 * is 1.  KEEP 2: root opened it as user SHARED_UID + 1 (setfsuid(), which
 * drops root's filesystem capabilities).  Both report their pids and pause.
 */
#define SHARED_FILE "/tmp/ckpt-tree-shared"
#define SHARED_FD 300
#define SHARED_PAD 200
#define SHARED_UID 2000

__attribute__((constructor)) static void shared_child(void)
{
	const char *r = getenv("CKPT_SHARED_CHILD");
	int ready, keep, null, fd, i;
	pid_t c[2];

	if (!r || sscanf(r, "%d %d", &ready, &keep) != 2)
		return;
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	setsid();
	/* Files the parent opens before the shared one (the child has none). */
	for (i = 0; i < SHARED_PAD; i++)
		if (dup2(open("/dev/null", O_RDONLY), 10 + i) < 0)
			_exit(3);
	/* keep 2: opened with the filesystem identity of another user, without
	 * root's filesystem capabilities (which setfsuid() drops). */
	if (keep == 2)
		setfsuid(SHARED_UID + 1);
	fd = open(SHARED_FILE, O_WRONLY | O_APPEND);
	setfsuid(0);
	if (fd < 0 || dup2(fd, SHARED_FD) != SHARED_FD)
		_exit(3);
	close(fd);
	c[0] = getpid();
	c[1] = fork();
	if (c[1] < 0)
		_exit(3);
	if (c[1] == 0) {
		for (i = 3; i < SHARED_FD; i++)
			if (i != ready)
				close(i);
		if (setresgid(SHARED_UID, SHARED_UID, SHARED_UID) ||
		    setresuid(SHARED_UID, SHARED_UID, SHARED_UID))
			_exit(4);
		close(ready);
		for (;;)
			pause();
	}
	if (keep != 1)
		close(SHARED_FD);
	if (write(ready, c, sizeof(c)) != sizeof(c))
		_exit(5);
	close(ready);
	for (;;)
		pause();
}

/* Starts the processes of shared_child (pids[] filled); 0 or -1. */
static int shared_start(int keep, pid_t pids[2])
{
	int rd;
	ssize_t n;

	pids[0] = exec_child("CKPT_SHARED_CHILD", keep == 2 ? "2" : keep ? "1" : "0", &rd);
	if (pids[0] < 0)
		return -1;
	n = read(rd, pids, 2 * sizeof(pid_t));
	close(rd);
	return n == 2 * sizeof(pid_t) ? 0 : -1;
}

/* Checkpoints (tree, kill) the processes of shared_child; returns the
 * status of `ckpt restart` (its reason in ERR), pids[] filled. */
static int shared_tree(struct __test_metadata *_metadata, FIXTURE_DATA(tree) *self, int keep,
		       pid_t pids[2], const char *err)
{
	char cmd[256];
	int fd;

	if (shared_start(keep, pids))
		return -1;
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ckpt_checkpoint(self->dev, pids[0], fd,
				      CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, NULL))
		return -1;
	close(fd);
	waitpid(pids[0], NULL, 0);
	if (all_gone(pids, 2, 10000))
		return -1;
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null 2>%s",
		 self->img, err);
	return run(cmd);
}

/* What the restored child (pids[1], once both processes are back) holds at
 * SHARED_FD, in link. */
static const char *shared_held(const pid_t pids[2], char *link, size_t len)
{
	char path[64];
	ssize_t k;

	for (int i = 0; i < 100 && !(exists(pids[0]) && exists(pids[1])); i++)
		sleep_ms(20);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pids[1], SHARED_FD);
	k = readlink(path, link, len - 1);
	link[k > 0 ? k : 0] = 0;
	return link;
}

TEST_F_TIMEOUT(tree, file_inherited_by_a_child_of_another_user, 300)
{
	const char *err = "/tmp/ckpt-tree-shared.err";
	char link[256], cmd[256];
	pid_t pids[2];
	int fd;

	unlink(SHARED_FILE);
	ASSERT_EQ(0, close(open(SHARED_FILE, O_WRONLY | O_CREAT, 0644)));
	/* Several times: whichever process of the two opens its files first. */
	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(0, shared_tree(_metadata, self, 1, pids, err)) TH_LOG("round %d", round);
		EXPECT_STREQ(SHARED_FILE, shared_held(pids, link, sizeof(link)))
		TH_LOG("round %d", round);
		kill(pids[0], SIGKILL);
		kill(pids[1], SIGKILL);
		ASSERT_EQ(0, all_gone(pids, 2, 10000));
	}
	/*
	 * The child alone holds it: it could not open it again itself, but its
	 * opener (root) could.  The image says who opened it, and a restart by
	 * root opens it as root and gives it back: the same file, for writing,
	 * appending.
	 */
	for (int round = 0; round < 2; round++) {
		char fdinfo[64], buf[256];
		FILE *fi;
		unsigned int flags = 0;

		ASSERT_EQ(0, shared_tree(_metadata, self, 0, pids, err)) TH_LOG("round %d", round);
		EXPECT_STREQ(SHARED_FILE, shared_held(pids, link, sizeof(link)))
		TH_LOG("round %d", round);
		snprintf(fdinfo, sizeof(fdinfo), "/proc/%d/fdinfo/%d", pids[1], SHARED_FD);
		fi = fopen(fdinfo, "r");
		while (fi && fgets(buf, sizeof(buf), fi))
			sscanf(buf, "flags: %o", &flags);
		if (fi)
			fclose(fi);
		EXPECT_EQ(O_WRONLY | O_APPEND, flags & (O_ACCMODE | O_APPEND));
		kill(pids[0], SIGKILL);
		kill(pids[1], SIGKILL);
		ASSERT_EQ(0, all_gone(pids, 2, 10000));
	}
	/*
	 * A restarter that cannot open it as its opener (here: the path is now a
	 * directory) does not pass it, and the module says who had opened it.
	 */
	ASSERT_EQ(0, shared_start(0, pids));
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pids[0], fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, NULL));
	close(fd);
	waitpid(pids[0], NULL, 0);
	ASSERT_EQ(0, all_gone(pids, 2, 10000));
	snprintf(cmd, sizeof(cmd), CKPT " show %s | grep -q 'opened as 0:0'", self->img);
	EXPECT_EQ(0, run(cmd)) TH_LOG("ckpt show does not say who opened it");
	ASSERT_EQ(0, unlink(SHARED_FILE));
	ASSERT_EQ(0, mkdir(SHARED_FILE, 0755));
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --quiet >/dev/null 2>%s", self->img, err);
	EXPECT_NE(0, run(cmd));
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'cannot open " SHARED_FILE ": the process opened it as user 0 group 0' %s",
		 err);
	EXPECT_EQ(0, run(cmd)) TH_LOG("the restart did not say who had opened it");
	ASSERT_EQ(0, rmdir(SHARED_FILE));
	ASSERT_EQ(0, close(open(SHARED_FILE, O_WRONLY | O_CREAT, 0644)));
	/*
	 * Opened without root's filesystem rights (as user SHARED_UID + 1), and
	 * the file's mode changed since: neither the child nor its opener could
	 * open it again, so a restart could not give it back.  `ckpt check` says
	 * so in advance, naming the file, and the checkpoint is refused (EACCES)
	 * before anything is written or killed.
	 */
	ASSERT_EQ(0, chown(SHARED_FILE, SHARED_UID + 1, SHARED_UID + 1));
	ASSERT_EQ(0, chmod(SHARED_FILE, 0600));
	ASSERT_EQ(0, shared_start(2, pids));
	ASSERT_EQ(0, chmod(SHARED_FILE, 0));
	snprintf(cmd, sizeof(cmd), CKPT " check --tree %d > %s 2>&1", pids[0], err);
	EXPECT_NE(0, run(cmd));
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'fd %d of %d: " SHARED_FILE " could not be opened again.*EACCES' %s",
		 SHARED_FD, pids[1], err);
	EXPECT_EQ(0, run(cmd)) TH_LOG("ckpt check did not name the file");
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EACCES, ckpt_checkpoint(self->dev, pids[0], fd,
					   CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, NULL));
	close(fd);
	EXPECT_TRUE(exists(pids[0]) && exists(pids[1])) TH_LOG("a refused checkpoint killed");
	kill(pids[1], SIGKILL);
	kill(pids[0], SIGKILL);
	waitpid(pids[0], NULL, 0);
	EXPECT_EQ(0, all_gone(pids, 2, 10000));
	unlink(err);
	unlink(SHARED_FILE);
}

/*
 * The processes of pidfds_of_the_tree_come_back, run before the harness
 * (exec'ed with CKPT_PIDFD_CHILD=the ready fd): P forks C (which exits with
 * 42 on SIGUSR1) and Z (which exits with 7 at once, a zombie) and holds
 * pidfds: a of C (close-on-exec), b of C (PIDFD_NONBLOCK, not close-on-exec),
 * t of C's thread (PIDFD_THREAD), s of itself and z of Z; then it forks D, of
 * which C holds a pidfd.  It reports "P C" and waits for SIGUSR2, then checks them and
 * writes "ok" or what failed to PIDFD_RESULT, and exits (D stays).
 */
#define PIDFD_RESULT "/tmp/tree-pidfd.result"

static volatile sig_atomic_t pidfd_go;

static void pidfd_on_usr1(int sig)
{
	(void)sig;
	_exit(42);
}

static void pidfd_on_usr2(int sig)
{
	(void)sig;
	pidfd_go = 1;
}

/* The Pid: line of /proc/self/fdinfo/fd, or -2. */
static int pidfd_fdinfo_pid(int fd)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -2;
	p = strstr(buf, "\nPid:");
	return p ? atoi(p + 5) : -2;
}

#define PIDFDS 5
#define PIDFD_SIBLING_FD 60

/* Checks P's pidfds after the restart; NULL if all is well. */
static const char *pidfd_checks(pid_t c, pid_t z, const int fd[PIDFDS], const int fdfl[PIDFDS],
				const int fl[PIDFDS])
{
	static char why[128];
	struct pollfd pfd;
	siginfo_t si;
	int i;

	for (i = 0; i < PIDFDS; i++) {
		if (pidfd_fdinfo_pid(fd[i]) != (i == 3 ? getpid() : i == 4 ? z : c)) {
			snprintf(why, sizeof(why), "fdinfo Pid of pidfd %d: %d", i,
				 pidfd_fdinfo_pid(fd[i]));
			return why;
		}
		if (fcntl(fd[i], F_GETFD) != fdfl[i] || fcntl(fd[i], F_GETFL) != fl[i]) {
			snprintf(why, sizeof(why), "flags of pidfd %d: fd %#x (was %#x), file %#x (was %#x)",
				 i, fcntl(fd[i], F_GETFD), fdfl[i], fcntl(fd[i], F_GETFL), fl[i]);
			return why;
		}
	}
	pfd.fd = fd[4];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return "the zombie's pidfd is not readable";
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fd[4], &si, WEXITED))
		return "waitid(P_PIDFD) of the zombie failed";
	if (si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != 7)
		return "waitid(P_PIDFD) of the zombie reaped something else";
	pfd.fd = fd[0];
	if (poll(&pfd, 1, 0) != 0)
		return "the pidfd is readable while the child runs";
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fd[1], &si, WEXITED) != -1 || errno != EAGAIN)
		return "waitid through the PIDFD_NONBLOCK pidfd did not say EAGAIN";
	if (syscall(SYS_pidfd_send_signal, fd[0], SIGUSR1, NULL, 0))
		return "pidfd_send_signal failed";
	if (poll(&pfd, 1, 10000) != 1 || !(pfd.revents & POLLIN))
		return "the pidfd did not become readable when the child exited";
	pfd.fd = fd[2];
	if (poll(&pfd, 1, 10000) != 1 || !(pfd.revents & POLLIN))
		return "the PIDFD_THREAD pidfd did not become readable";
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fd[0], &si, WEXITED))
		return "waitid(P_PIDFD) failed";
	if (si.si_pid != c || si.si_code != CLD_EXITED || si.si_status != 42)
		return "waitid(P_PIDFD) reaped something else";
	if (kill(c, 0) == 0 || errno != ESRCH)
		return "the child is still there";
	return NULL;
}

__attribute__((constructor)) static void pidfd_parent(void)
{
	const char *r = getenv("CKPT_PIDFD_CHILD");
	int ready, null, fd[PIDFDS], fdfl[PIDFDS], fl[PIDFDS], up[2], down[2], i;
	const char *bad;
	pid_t c, z, d, rep[4];
	char x;

	if (!r)
		return;
	ready = atoi(r);
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	setsid();
	signal(SIGUSR2, pidfd_on_usr2);
	if (pipe(up) || pipe(down))
		_exit(3);
	c = fork();
	if (c < 0)
		_exit(3);
	if (c == 0) {
		/* C holds a pidfd of its younger sibling D at PIDFD_SIBLING_FD: made
		 * after C at restart, which C's restarter waits for. */
		signal(SIGUSR1, pidfd_on_usr1);
		close(up[0]);
		close(down[1]);
		if (read(down[0], &d, sizeof(d)) != sizeof(d))
			_exit(4);
		close(down[0]);
		i = syscall(SYS_pidfd_open, d, 0);
		if (i < 0 || dup2(i, PIDFD_SIBLING_FD) != PIDFD_SIBLING_FD)
			_exit(4);
		close(i);
		if (write(up[1], "c", 1) != 1)
			_exit(4);
		close(up[1]);
		for (;;)
			pause();
	}
	d = fork();
	if (d < 0)
		_exit(3);
	if (d == 0) {
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		for (;;)
			pause();
	}
	close(up[1]);
	close(down[0]);
	if (write(down[1], &d, sizeof(d)) != sizeof(d))
		_exit(4);
	close(down[1]);
	if (read(up[0], &x, 1) != 1)
		_exit(4);
	close(up[0]);
	z = fork();
	if (z < 0)
		_exit(3);
	if (z == 0)
		_exit(7);
	if (waitid(P_PID, z, &(siginfo_t){ 0 }, WEXITED | WNOWAIT))
		_exit(4);
	fd[4] = syscall(SYS_pidfd_open, z, 0);
	fd[0] = syscall(SYS_pidfd_open, c, 0);
	fd[1] = syscall(SYS_pidfd_open, c, PIDFD_NONBLOCK);
	fd[2] = syscall(SYS_pidfd_open, c, PIDFD_THREAD);
	fd[3] = syscall(SYS_pidfd_open, getpid(), 0);
	for (i = 0; i < PIDFDS; i++)
		if (fd[i] < 0)
			_exit(5);
	if (fcntl(fd[1], F_SETFD, 0))
		_exit(5);
	for (i = 0; i < PIDFDS; i++) {
		fdfl[i] = fcntl(fd[i], F_GETFD);
		fl[i] = fcntl(fd[i], F_GETFL);
	}
	rep[0] = getpid();
	rep[1] = c;
	rep[2] = z;
	rep[3] = d;
	if (write(ready, rep, sizeof(rep)) != sizeof(rep))
		_exit(6);
	close(ready);
	while (!pidfd_go)
		pause();
	bad = pidfd_checks(c, z, fd, fdfl, fl);
	i = open(PIDFD_RESULT ".new", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (i >= 0) {
		dprintf(i, "%s\n", bad ? bad : "ok");
		close(i);
		rename(PIDFD_RESULT ".new", PIDFD_RESULT);
	}
	_exit(bad ? 7 : 0);
}

TEST_F_TIMEOUT(tree, pidfds_of_the_tree_come_back, 180)
{
	char cmd[256], fdtxt[16], result[256] = "";
	int ready[2], fd, i;
	uint64_t bytes = 0;
	char path[64], info[1024], want[32];
	pid_t s, rep[4];

	unlink(PIDFD_RESULT);
	ASSERT_EQ(0, pipe(ready));
	s = fork();
	ASSERT_LE(0, s);
	if (s == 0) {
		/* Exec'ed afresh: the harness's shared memory must not come along. */
		close(ready[0]);
		snprintf(fdtxt, sizeof(fdtxt), "%d", ready[1]);
		setenv("CKPT_PIDFD_CHILD", fdtxt, 1);
		execl("/proc/self/exe", "ckpt_tree", (char *)NULL);
		_exit(6);
	}
	close(ready[1]);
	ASSERT_EQ(sizeof(rep), read(ready[0], rep, sizeof(rep)));
	close(ready[0]);
	ASSERT_EQ(s, rep[0]);
	/* C's pidfd of its sibling D, as fdinfo shows it. */
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", rep[1], PIDFD_SIBLING_FD);
	snprintf(want, sizeof(want), "\nPid:\t%d\n", rep[3]);
	ASSERT_LT(0, read_text(path, info, sizeof(info)));
	ASSERT_NE(NULL, strstr(info, want)) TH_LOG("%s", info);
	/* CKPT_IOC_CHECK of the tree says yes. */
	expect_tree_check(_metadata, self->dev, s, 0, "");
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, s, fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, &bytes));
	close(fd);
	waitpid(s, NULL, 0);
	ASSERT_EQ(0, all_gone(rep, 4, 10000));
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null", self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i < 100 && !exists(rep[1]); i++)
		sleep_ms(20);
	ASSERT_TRUE(exists(rep[1])) TH_LOG("the child is not back");
	for (i = 0; i < 100 && !exists(rep[2]); i++)
		sleep_ms(20);
	ASSERT_TRUE(exists(rep[2])) TH_LOG("the zombie is not back");
	for (i = 0; i < 100 && !exists(rep[3]); i++)
		sleep_ms(20);
	memset(info, 0, sizeof(info));
	EXPECT_LT(0, read_text(path, info, sizeof(info)));
	EXPECT_NE(NULL, strstr(info, want)) TH_LOG("C's pidfd of D after the restart: %s", info);
	ASSERT_EQ(0, kill(s, SIGUSR2));
	for (i = 0; i < 500 && read_text(PIDFD_RESULT, result, sizeof(result)) <= 0; i++)
		sleep_ms(20);
	EXPECT_STREQ("ok\n", result);
	if (exists(rep[1]))
		kill(rep[1], SIGKILL);
	kill(rep[3], SIGKILL);
	kill(s, SIGKILL);
	unlink(PIDFD_RESULT);
}

/* A child holding a pidfd of its parent: the test, outside the tree. */
static void pidfd_of_parent(int ready, void *arg)
{
	(void)arg;
	if (syscall(SYS_pidfd_open, getppid(), 0) < 0)
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

/* A child holding a pidfd of its own child, which exited: a zombie, or
 * reaped (arg non-NULL). */
static void pidfd_of_exited(int ready, void *arg)
{
	pid_t c = fork();

	if (c == 0)
		_exit(0);
	if (c < 0 || syscall(SYS_pidfd_open, c, 0) < 0)
		_exit(3);
	if (arg)
		waitpid(c, NULL, 0);
	else
		waitid(P_PID, c, &(siginfo_t){ 0 }, WEXITED | WNOWAIT);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(tree, pidfd_of_a_task_that_cannot_come_back_is_refused)
{
	static const struct {
		void (*fn)(int, void *);
		void *arg;
		uint64_t flags;
		const char *word;
	} cases[] = {
		{ pidfd_of_parent, NULL, CKPT_CHECKPOINT_TREE, "outside the checkpointed tree" },
		/* Without the tree flag, its zombie child is not in the image. */
		{ pidfd_of_exited, NULL, 0, "outside the checkpointed tree" },
		{ pidfd_of_exited, "reaped", CKPT_CHECKPOINT_TREE, "exited and was reaped" },
	};
	struct ckpt_check_args a;
	uint64_t bytes = 0;
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t p = spawn_ready(cases[i].fn, cases[i].arg);

		ASSERT_LT(0, p);
		memset(&a, 0, sizeof(a));
		a.pid = p;
		a.flags = cases[i].flags;
		ASSERT_EQ(0, ioctl(self->dev, CKPT_IOC_CHECK, &a));
		EXPECT_EQ(EOPNOTSUPP, a.status) TH_LOG("case %u: %s", i, a.reason);
		EXPECT_NE(NULL, strstr(a.reason, cases[i].word)) TH_LOG("case %u: %s", i, a.reason);
		fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, p, fd, cases[i].flags, &bytes))
			TH_LOG("case %u", i);
		close(fd);
		/* Refused, it runs on. */
		EXPECT_NE('T', proc_state(p));
		kill(p, SIGKILL);
		kill_reap(p);
	}
}

/* A child holding a pidfd of itself at fd 50 (and nothing else it shares
 * with the test at a lower fd). */
static void pidfd_of_self_at_50(int ready, void *arg)
{
	int fd = syscall(SYS_pidfd_open, getpid(), 0);
	int null = open("/dev/null", O_RDWR);

	(void)arg;
	if (fd < 0 || null < 0 || dup2(fd, 50) != 50)
		_exit(3);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(fd);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(tree, pidfd_shared_with_an_outsider_is_refused)
{
	uint64_t bytes = 0;
	int pfd, mine, fd;
	pid_t p;

	p = spawn_ready(pidfd_of_self_at_50, NULL);
	ASSERT_LT(0, p);
	/* The test takes the very file (pidfd_getfd): it would keep the old one. */
	pfd = syscall(SYS_pidfd_open, p, 0);
	ASSERT_LE(0, pfd);
	mine = syscall(SYS_pidfd_getfd, pfd, 50, 0);
	ASSERT_LE(0, mine);
	expect_tree_check(_metadata, self->dev, p, EBUSY, "pidfd anon_inode:[pidfd] is also used");
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, ckpt_checkpoint(self->dev, p, fd, CKPT_CHECKPOINT_TREE, &bytes));
	close(fd);
	/* Once the test lets go of it, the pidfd is the tree's alone (what the
	 * check says then, if anything, is about the harness's shared memory). */
	close(mine);
	{
		struct ckpt_check_args a;

		memset(&a, 0, sizeof(a));
		a.pid = p;
		a.flags = CKPT_CHECKPOINT_TREE;
		ASSERT_EQ(0, ioctl(self->dev, CKPT_IOC_CHECK, &a));
		EXPECT_EQ(NULL, strstr(a.reason, "pidfd")) TH_LOG("%s", a.reason);
	}
	close(pfd);
	kill(p, SIGKILL);
	kill_reap(p);
}

/*
 * A wide tree sharing many sockets (ZDTM's session03: 340 processes sharing
 * 818; a server's workers inheriting its sockets): WIDE_KIDS children inherit
 * WIDE_PAIRS socketpairs from the root (exec'ed with CKPT_WIDE_CHILD=READY_FD),
 * 5 bytes queued in the first. Each open file is judged once, not once per fd:
 * the checkpoint once failed with ENOMEM (a list of every fd's socket) and
 * took seconds per thousand fds.
 */
#define WIDE_PAIRS 400
#define WIDE_KIDS 20
#define WIDE_FD0 100

__attribute__((constructor)) static void wide_child(void)
{
	const char *r = getenv("CKPT_WIDE_CHILD");
	pid_t pids[1 + WIDE_KIDS];
	int ready, i, sv[2];

	if (!r || sscanf(r, "%d", &ready) != 1)
		return;
	for (i = 0; i < WIDE_PAIRS; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
		    dup2(sv[0], WIDE_FD0 + 2 * i) < 0 || dup2(sv[1], WIDE_FD0 + 2 * i + 1) < 0)
			_exit(3);
		close(sv[0]);
		close(sv[1]);
	}
	if (write(WIDE_FD0 + 1, "hello", 5) != 5)
		_exit(3);
	pids[0] = getpid();
	for (i = 1; i <= WIDE_KIDS; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			_exit(3);
		if (pids[i] == 0) {
			close(ready);
			for (;;)
				pause();
		}
	}
	if (write(ready, pids, sizeof(pids)) != sizeof(pids))
		_exit(5);
	close(ready);
	for (;;)
		pause();
}

/* The number of fds of @pid from WIDE_FD0 on (the pairs: below, a child may
 * not have closed its end of the ready pipe yet), -1 if it is gone. */
static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' && atoi(e->d_name) >= WIDE_FD0;
	closedir(d);
	return n;
}

/* The target of fd @fd of @pid ("socket:[INO]"), into @buf. */
static int fd_link(pid_t pid, int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

TEST_F_TIMEOUT(tree, wide_tree_sharing_many_sockets, 300)
{
	pid_t pids[1 + WIDE_KIDS];
	char cmd[256], a[64], b[64];
	int rd, fd, i, n;

	pids[0] = exec_child("CKPT_WIDE_CHILD", NULL, &rd);
	ASSERT_LT(0, pids[0]);
	ASSERT_EQ(sizeof(pids), read(rd, pids, sizeof(pids)));
	close(rd);
	n = fd_count(pids[WIDE_KIDS]);
	ASSERT_EQ(2 * WIDE_PAIRS, n);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pids[0], fd,
				     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_KILL, NULL));
	close(fd);
	waitpid(pids[0], NULL, 0);
	ASSERT_EQ(0, all_gone(pids, 1 + WIDE_KIDS, 20000));
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --detach --quiet >/dev/null", self->img);
	ASSERT_EQ(0, run(cmd));
	for (i = 0; i <= WIDE_KIDS; i++) {
		EXPECT_EQ(n, fd_count(pids[i])) TH_LOG("process %d", pids[i]);
	}

	/* Each pair is one pair of sockets, shared by all. */
	for (i = 0; i < WIDE_PAIRS; i += 97) {
		ASSERT_EQ(0, fd_link(pids[0], WIDE_FD0 + 2 * i, a, sizeof(a)));
		ASSERT_EQ(0, fd_link(pids[WIDE_KIDS], WIDE_FD0 + 2 * i, b, sizeof(b)));
		EXPECT_STREQ(a, b);
		ASSERT_EQ(0, fd_link(pids[0], WIDE_FD0 + 2 * i + 1, b, sizeof(b)));
		EXPECT_STRNE(a, b);
	}
	/* The bytes queued in the first pair wait at its first end. */
	fd = syscall(SYS_pidfd_open, pids[3], 0);
	ASSERT_LE(0, fd);
	i = syscall(SYS_pidfd_getfd, fd, WIDE_FD0, 0);
	close(fd);
	ASSERT_LE(0, i);
	ASSERT_EQ(0, ioctl(i, FIONREAD, &n));
	EXPECT_EQ(5, n);
	close(i);
	for (i = 0; i <= WIDE_KIDS; i++)
		kill(pids[i], SIGKILL);
}

/*
 * (exec'ed with CKPT_FORKER_CHILD=the ready fd): a tree that forks
 * short-lived children all the time: batches of 8 that each sleep a
 * millisecond and exit, reaped as they go (ZDTM's transition/fork2).  One of
 * them is nearly always exiting.
 */
__attribute__((constructor)) static void forker_child(void)
{
	const char *r = getenv("CKPT_FORKER_CHILD");
	int null, i;

	if (!r)
		return;
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	setsid();
	if (write(atoi(r), "R", 1) != 1)
		_exit(3);
	close(atoi(r));
	for (;;) {
		for (i = 0; i < 8; i++) {
			if (fork() == 0) {
				usleep(1000);
				_exit(0);
			}
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(500);
	}
}

/*
 * Exiting processes of the tree are waited for while the others are stopped,
 * and saved as the zombies they become: the checkpoint used to look at the
 * tree again only a few times, before stopping anything, and gave up (EAGAIN,
 * "process N of the tree is exiting") on a tree that always had one exiting.
 */
TEST_F_TIMEOUT(tree, tree_forking_short_lived_children, 120)
{
	uint64_t bytes;
	int i, fd, rd;
	char c;
	pid_t p;

	p = exec_child("CKPT_FORKER_CHILD", NULL, &rd);
	ASSERT_LT(0, p);
	ASSERT_EQ(1, read(rd, &c, 1));
	close(rd);
	for (i = 0; i < 10; i++) {
		fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ASSERT_LE(0, fd);
		bytes = 0;
		EXPECT_EQ(0, ckpt_checkpoint(self->dev, p, fd,
					     CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_RESUME, &bytes))
			TH_LOG("checkpoint %d", i);
		close(fd);
		EXPECT_LT(0, bytes);
		sleep_ms(20);
	}
	kill(-p, SIGKILL);
	kill_reap(p);
}

TEST_HARNESS_MAIN
