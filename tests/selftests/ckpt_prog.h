/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Programs checkpointed and restarted through the tool (ckpt_files,
 * ckpt_events).  Each program is the test binary exec'ed with
 * CKPT_PROG=MODE (so no harness state comes along): it sets up its state
 * (prog->setup), says it is ready, and waits for a "go" file.  The test
 * checkpoints it with `ckpt checkpoint --kill`, creates the go file and
 * restarts it with `ckpt restart`: the restored program checks its own state
 * (prog->verify) and exits 0, or with the line of the first check that failed
 * (its log: /tmp/NAME-MODE.log).
 *
 * Include after kselftest_harness.h, with PROG_NAME defined (the test
 * binary's name: "files").  The program side: prog_main() from a constructor,
 * CHECK() in setup and verify functions.  The test side: round_trip(),
 * check_refuses(), sh(), start_prog(), show_log().
 */
#ifndef CKPT_PROG_H
#define CKPT_PROG_H

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>

#ifndef PROG_NAME
#error "define PROG_NAME before including ckpt_prog.h"
#endif
#ifndef CKPT
#define CKPT "/ckpt"
#endif

/* ---- the programs -------------------------------------------------------- */

/* The go file the program waits for, and its mode; go_dir: a directory the
 * go file's name is looked up in instead (set by a program that leaves the
 * file system tree the go file is in: a chroot). */
static char go_path[64];
static int go_dir = -1;
static const char *mode;

/* In a setup or verify function: fail with the line unless @c. */
#define CHECK(c)							\
	do {								\
		if (!(c)) {						\
			printf("%s: check failed at line %d: %s (errno %d)\n", \
			       mode, __LINE__, #c, errno);		\
			fflush(stdout);					\
			return __LINE__ % 200 + 1;			\
		}							\
	} while (0)

struct prog {
	const char *mode;
	int (*setup)(void);
	int (*verify)(void);	/* NULL: a program whose checkpoint is refused */
};

/*
 * Runs program CKPT_PROG of @progs if this process was started as one (else
 * returns): stdio to its log, a session of its own, its setup, then
 * @after_setup (if any, with the ready pipe: it may fork, and the process that
 * returns from it carries on), the ready message with its pid, the wait for
 * the go file, and its checks.  Exits with their result.
 */
static void prog_main(const struct prog *progs, size_t n, void (*after_setup)(int ready))
{
	const struct prog *p = NULL;
	char log[64];
	int ready, fd, rc;

	mode = getenv("CKPT_PROG");
	if (!mode)
		return;
	ready = atoi(getenv("CKPT_PROG_READY") ?: "-1");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(progs[i].mode, mode))
			p = &progs[i];
	snprintf(log, sizeof(log), "/tmp/" PROG_NAME "-%s.log", mode);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (!p || fd < 0)
		_exit(2);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	close(fd);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (setsid() < 0)
		_exit(2);
	snprintf(go_path, sizeof(go_path), "/tmp/" PROG_NAME "-go-%d", getpid());
	rc = p->setup();
	if (rc)
		_exit(rc);
	if (after_setup) {
		after_setup(ready);
		snprintf(go_path, sizeof(go_path), "/tmp/" PROG_NAME "-go-%d", getpid());
	}
	{
		char msg[16];
		int len = snprintf(msg, sizeof(msg), "R%d\n", getpid());

		if (write(ready, msg, len) != len)
			_exit(3);
	}
	close(ready);
	while (go_dir >= 0 ? faccessat(go_dir, strrchr(go_path, '/') + 1, F_OK, 0)
			   : access(go_path, F_OK))
		sleep_ms(20);
	rc = p->verify ? p->verify() : 0;
	printf("%s: %s\n", mode, rc ? "FAILED" : "ok");
	_exit(rc);
}

/* ---- the test side ------------------------------------------------------- */

/* Starts program @m (in a session of its own); returns the pid it says it
 * has once it is ready (a process it forked, for some), or -1. */
static pid_t start_prog(const char *m)
{
	int ready[2];
	char msg[16] = "", num[16];
	pid_t pid, t = -1;
	struct pollfd pf;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(ready[0]);
		if (ckpt_dev_fd >= 0)
			close(ckpt_dev_fd);
		snprintf(num, sizeof(num), "%d", ready[1]);
		setenv("CKPT_PROG", m, 1);
		setenv("CKPT_PROG_READY", num, 1);
		execl("/proc/self/exe", "ckpt_" PROG_NAME, (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	pf = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pf, 1, 20000) != 1 || read(ready[0], msg, sizeof(msg) - 1) < 2 ||
	    sscanf(msg, "R%d", &t) != 1) {
		close(ready[0]);
		kill(-pid, SIGKILL);
		kill_reap(pid);
		return -1;
	}
	close(ready[0]);
	return t;
}

/* Prints program @m's log through the harness. */
static void show_log(struct __test_metadata *_metadata, const char *m)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/" PROG_NAME "-%s.log", m);
	SHOW_FILE(path, m);
}

/* Checkpoints program @m (tree: with its descendants) into @img and kills
 * it, restarts it and lets it check itself; returns its exit code. */
/* Milliseconds round_trip() waits between the checkpoint and the restart (a
 * downtime the restored program can see on its clocks). */
static unsigned int round_trip_downtime_ms;

static int round_trip(struct __test_metadata *_metadata, const char *img, const char *m,
		      bool tree)
{
	pid_t pid = start_prog(m);
	char go[64];
	int rc;

	if (pid <= 0) {
		show_log(_metadata, m);
		return -1;
	}
	rc = sh(CKPT " checkpoint %d -o %s --kill -q %s > /tmp/" PROG_NAME "-ckpt.out 2>&1",
		pid, img, tree ? "--tree" : "");
	if (rc) {
		char line[512] = "";
		FILE *f = fopen("/tmp/" PROG_NAME "-ckpt.out", "r");

		if (f && !fgets(line, sizeof(line), f))
			line[0] = 0;
		if (f)
			fclose(f);
		TH_LOG("%s: checkpoint failed (%d): %s", m, rc, line);
		kill(-getsid(pid), SIGKILL);
		kill_reap(pid);
		return -1;
	}
	kill_reap(pid);
	/* Its killed children come to the test (a subreaper): their pids must be
	 * free again. */
	while (waitpid(-1, NULL, 0) > 0)
		;
	if (round_trip_downtime_ms)
		usleep(round_trip_downtime_ms * 1000);
	snprintf(go, sizeof(go), "/tmp/" PROG_NAME "-go-%d", pid);
	close(open(go, O_WRONLY | O_CREAT, 0600));
	rc = sh("timeout -s KILL 60 " CKPT " restart %s -q", img);
	unlink(go);
	if (rc)
		show_log(_metadata, m);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return rc;
}

/* `ckpt check` of program @m refuses it, with @word in the reason. */
static void check_refuses(struct __test_metadata *_metadata, const char *m, const char *word)
{
	pid_t pid = start_prog(m);
	char out[] = "/tmp/" PROG_NAME "-check.out", line[512] = "";
	FILE *f;
	int rc;

	ASSERT_LT(0, pid);
	rc = sh(CKPT " check %d > %s 2>&1", pid, out);
	f = fopen(out, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	EXPECT_NE(0, rc) TH_LOG("%s: check accepted it: %s", m, line);
	EXPECT_NE(NULL, strstr(line, word)) TH_LOG("%s: reason: %s", m, line);
	kill_reap(pid);
}

#endif /* CKPT_PROG_H */
