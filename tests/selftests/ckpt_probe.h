/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A child whose state a test checks across a checkpoint and a restart
 * (ckpt_fidelity, ckpt_sockets, ckpt_timers): the test forks it, the child
 * sets up its state (probe->setup), says it is ready and waits until its
 * parent changes -- which happens only when it runs again restored, a child
 * of `ckpt restart`; then it checks (probe->verify) and exits 0, or with the
 * number of the first failed check after printing what it saw into its log,
 * which the test shows.
 *
 * Include after kselftest_harness.h and after defining
 *   struct probe { const char *name; void (*setup)(struct probe *);
 *                  int (*verify)(struct probe *); ...the test's own fields };
 * and PROBE_TAG (the prefix of the child's log, "/tmp/TAG-NAME-PID.log").
 * PROBE_WAIT() is how the child waits between two looks at its parent
 * (default: 5 ms).
 */
#ifndef CKPT_PROBE_H
#define CKPT_PROBE_H

#include <stdarg.h>
#include <sys/prctl.h>

#ifndef PROBE_TAG
#error "define PROBE_TAG before including ckpt_probe.h"
#endif
#ifndef PROBE_WAIT
#define PROBE_WAIT() sleep_ms(5)
#endif
#ifndef CKPT
#define CKPT "/ckpt"
#endif

/* Prints to the child's log (its stdout), without stdio buffers. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0 && write(1, b, n < (int)sizeof(b) ? n : (int)sizeof(b) - 1) < 0)
		_exit(90);
}

/* In a verify function: check @n failed unless @cond, say why and return @n. */
#define CHECK(n, cond, ...)						\
	do {								\
		if (!(cond)) {						\
			say("check %d failed: " #cond ": ", n);		\
			say(__VA_ARGS__);				\
			say("\n");					\
			return n;					\
		}							\
	} while (0)

static char logpath[128];
/* CKPT_CHECKPOINT_* flags a test adds to probe_round_trip()'s checkpoint. */
static uint64_t probe_ckpt_flags;

/* Unmaps the shared anonymous memory the harness shares with the test (its
 * results page): a checkpoint of a tree refuses memory shared with a process
 * outside it.  The child never reports through the harness. */
static void unmap_shared_anon(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s[16], e[16];
	int n = 0;

	if (!f)
		return;
	while (n < 16 && fgets(line, sizeof(line), f)) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s[n], &e[n], perms) == 3 && perms[3] == 's' &&
		    strstr(line, "/dev/zero"))
			n++;
	}
	fclose(f);
	while (n--)
		munmap((void *)s[n], e[n] - s[n]);
}

/* The child: stdio to its log, nothing else open but the ready pipe; sets its
 * state, says it is ready, then waits for a new parent and checks. */
static void child(int ready, void *arg)
{
	struct probe *p = arg;
	int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int null = open("/dev/null", O_RDONLY);
	pid_t parent = getppid();
	int fd;

	if (log < 0 || null < 0)
		_exit(91);
	dup2(null, 0);
	dup2(log, 1);
	dup2(log, 2);
	for (fd = 3; fd < 1024; fd++)
		if (fd != ready)
			close(fd);
	unmap_shared_anon();
	p->setup(p);
	say_ready(ready);
	/* Restored: the parent is `ckpt restart` now. */
	while (getppid() == parent)
		PROBE_WAIT();
	_exit(p->verify(p));
}

/* Prints the child's log through the harness. */
static void show_log(struct __test_metadata *_metadata)
{
	SHOW_FILE(logpath, "child");
}

/* probe_round_trip() flags. */
#define PROBE_TREE	1	/* checkpoint the child's whole tree */
#define PROBE_ORPHANS	2	/* the test is a subreaper: orphans of the killed
				 * tree come to it, and are reaped before the
				 * restart needs their pids */

/*
 * Forks the probe's child, lets it run @settle_ms once ready, checkpoints it
 * (PROBE_TREE: its whole tree) into an image and kills it, then restarts the
 * image with the tool and waits for the restored child; returns its exit code
 * as the tool reports it, or -1.
 */
static int probe_round_trip(struct __test_metadata *_metadata, struct probe *p, int flags,
			    int settle_ms)
{
	char img[64], cmd[256];
	int dev = ckpt_open(), status, ret;
	pid_t pid;

	snprintf(logpath, sizeof(logpath), "/tmp/" PROBE_TAG "-%s-%d.log", p->name, getpid());
	if (dev < 0) {
		TH_LOG("no %s", CKPT_DEV);
		return -1;
	}
	if (flags & PROBE_ORPHANS)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid = spawn_ready(child, p);
	if (pid < 0)
		return -1;
	if (settle_ms)
		sleep_ms(settle_ms);
	ret = checkpoint_into(dev, pid, CKPT_CHECKPOINT_KILL | probe_ckpt_flags |
			      (flags & PROBE_TREE ? CKPT_CHECKPOINT_TREE : 0), img, sizeof(img),
			      p->name);
	close(dev);
	ckpt_dev_fd = -1;
	if (ret) {
		TH_LOG("checkpoint of %d failed: %s", pid, strerror(-ret));
		kill_reap(pid);
		show_log(_metadata);
		return -1;
	}
	if (flags & PROBE_ORPHANS) {
		while (waitpid(-1, &status, 0) > 0)
			;
	} else {
		waitpid(pid, &status, 0);
	}
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --quiet", img);
	status = system(cmd);
	show_log(_metadata);
	unlink(img);
	unlink(logpath);
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#endif /* CKPT_PROBE_H */
