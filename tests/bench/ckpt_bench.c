// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_bench: checkpoint and restart speed, each as a ratio to a plain
 * memcpy of the same size measured in the same run (so the ratios mean the
 * same under TCG, KVM or on hardware), plus the latency of checkpointing and
 * restarting a small process.  One "BENCH name value unit" line per result.
 *
 * Three reference lines measure, in the same VM, what the kernel needs for
 * work that checkpoint and restart cannot avoid: faulting in fresh anonymous
 * memory (restart must; so must tmpfs for the image), a memcpy into fresh
 * memory (the userspace analogue of a restart), and moving the data through
 * a pipe from one process to another (the floor for checkpoint into a pipe).
 *
 *   ckpt_bench [MB]      (default 1024)
 */
#define _GNU_SOURCE
#include <sched.h>
#include "ckpt_util.h"

#define DATA RESTARTEE_DATA

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct target {
	pid_t pid;
	int ctl, rep;
};

static int start(struct target *t, int mb)
{
	char line[64];

	t->pid = spawn_restartee(mb, &t->ctl, &t->rep);
	return t->pid > 0 && read(t->rep, line, sizeof(line)) > 0 ? 0 : -1;
}

static int ask(int ctl, int rep, char cmd)
{
	char line[128];

	return write(ctl, &cmd, 1) == 1 && read(rep, line, sizeof(line)) > 0 ? 0 : -1;
}

/* Seconds to memcpy mb MiB (best of three, pages already touched). */
static double memcpy_time(size_t mb)
{
	size_t len = mb << 20;
	char *a = malloc(len), *b = malloc(len);
	double best = 1e9;

	if (!a || !b)
		return -1;
	memset(a, 1, len);
	memset(b, 2, len);
	for (int i = 0; i < 3; i++) {
		double t0 = now(), dt;

		memcpy(b, a, len);
		dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	free(a);
	free(b);
	return best;
}

/* Runs the caller on CPU cpu only (-1: on every CPU).  The writer and the
 * reader of a pipe go on different CPUs, so that the measurement does not
 * depend on where the scheduler happens to put them. */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu >= 0) {
		CPU_SET(cpu, &set);
	} else {
		for (int i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	}
	sched_setaffinity(0, sizeof(set), &set);	/* best effort (one CPU: no-op) */
}

/* A pipe of 1 MiB whose reader, a child on the other CPU, discards
 * everything; returns the write end. */
static int sink_pipe(void)
{
	static char sink[1 << 20];
	int p[2];

	if (pipe(p))
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	pin_cpu(0);
	if (fork() == 0) {
		pin_cpu(1);
		close(p[1]);
		while (read(p[0], sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	return p[1];
}

/* The references: seconds to fault in mb MiB of fresh anonymous memory
 * (MAP_POPULATE), to memcpy mb MiB into fresh memory, and to move mb MiB
 * through a pipe to another process. */
static int references(size_t mb, double *populate, double *fresh, double *pipe_s)
{
	size_t len = mb << 20;
	char *a = malloc(len), *b;
	double t0;
	int fd;

	if (!a)
		return -1;
	memset(a, 1, len);
	t0 = now();
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	*populate = now() - t0;
	if (b == MAP_FAILED)
		return -1;
	munmap(b, len);
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -1;
	t0 = now();
	memcpy(b, a, len);
	*fresh = now() - t0;
	munmap(b, len);
	fd = sink_pipe();
	if (fd < 0)
		return -1;
	t0 = now();
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, a + off, len - off < (1 << 20) ? len - off : 1 << 20);

		if (w <= 0)
			return -1;
		off += w;
	}
	close(fd);
	wait(NULL);
	*pipe_s = now() - t0;
	pin_cpu(-1);
	free(a);
	return 0;
}

/* Checkpoints t into path (NULL: a pipe whose reader discards everything);
 * returns seconds, kills t if kill. */
static double ckpt_time(int dev, struct target *t, const char *path, int kill)
{
	int fd;
	double t0;

	if (path)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	else
		fd = sink_pipe();
	if (fd < 0)
		return -1;
	t0 = now();
	int r = ckpt_checkpoint(dev, t->pid, fd, kill ? CKPT_CHECKPOINT_KILL : CKPT_CHECKPOINT_RESUME,
				NULL);
	double dt = now() - t0;

	close(fd);
	if (!path) {
		wait(NULL);
		pin_cpu(-1);
	}
	if (r) {
		printf("# checkpoint failed: %s\n", strerror(-r));
		return -1;
	}
	if (kill) {
		waitpid(t->pid, NULL, 0);
		close(t->ctl);
		close(t->rep);
	}
	return dt;
}

/* Restarts path; returns seconds until the program answers. */
static double restart_time(const char *path)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	int ctl, rep;
	double t0, dt;
	pid_t pid;

	if (!ip || img_plan(path, ip))
		return -1;
	t0 = now();
	pid = restart_with_fresh_pipes(path, ip, &ctl, &rep);
	if (pid < 0 || ask(ctl, rep, 'a'))
		return -1;
	dt = now() - t0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ctl);
	close(rep);
	free(ip);
	return dt;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
	int dev = ckpt_open();
	struct target t;
	double mc, tn, tf, tr, small_c, small_r, pop, fresh, pipe_s;
	char data[4096];
	int fd;

	if (dev < 0) {
		printf("# %s: %s\n", CKPT_DEV, strerror(errno));
		return 1;
	}
	memset(data, 'x', sizeof(data));
	fd = open(DATA, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data))
		return 1;
	close(fd);

	mc = memcpy_time(mb);
	printf("BENCH memcpy_%zuMiB %.3f s (%.0f MiB/s)\n", mb, mc, mb / mc);
	if (references(mb, &pop, &fresh, &pipe_s))
		return 1;
	printf("BENCH ref_fault_in_%zuMiB %.3f s, %.2fx memcpy (MAP_POPULATE of fresh memory)\n",
	       mb, pop, mc / pop);
	printf("BENCH ref_memcpy_to_fresh_%zuMiB %.3f s, %.2fx memcpy\n", mb, fresh, mc / fresh);
	printf("BENCH ref_pipe_%zuMiB %.3f s, %.2fx memcpy (write to a 1 MiB pipe, read by another process)\n",
	       mb, pipe_s, mc / pipe_s);

	if (start(&t, mb))
		return 1;
	tn = ckpt_time(dev, &t, NULL, 0);
	tf = ckpt_time(dev, &t, "/tmp/bench.img", 1);
	if (tn < 0 || tf < 0)
		return 1;
	printf("BENCH checkpoint_%zuMiB_to_pipe %.3f s, %.2fx memcpy (target >= 0.7x)\n", mb, tn,
	       mc / tn);
	printf("BENCH checkpoint_%zuMiB_to_tmpfs %.3f s, %.2fx memcpy\n", mb, tf, mc / tf);
	tr = restart_time("/tmp/bench.img");
	unlink("/tmp/bench.img");
	if (tr < 0)
		return 1;
	printf("BENCH restart_%zuMiB_from_tmpfs %.3f s, %.2fx memcpy (target >= 0.5x)\n", mb, tr,
	       mc / tr);

	if (start(&t, 10))
		return 1;
	small_c = ckpt_time(dev, &t, "/tmp/small.img", 1);
	small_r = restart_time("/tmp/small.img");
	unlink("/tmp/small.img");
	printf("BENCH checkpoint_10MiB_latency %.2f ms (target < 5 ms)\n", small_c * 1e3);
	printf("BENCH restart_10MiB_latency %.2f ms (target < 5 ms)\n", small_r * 1e3);

	/* The same with a 1 MiB heap: what does not depend on the size. */
	if (start(&t, 1))
		return 1;
	small_c = ckpt_time(dev, &t, "/tmp/small.img", 1);
	small_r = restart_time("/tmp/small.img");
	unlink("/tmp/small.img");
	printf("BENCH checkpoint_1MiB_latency %.2f ms\n", small_c * 1e3);
	printf("BENCH restart_1MiB_latency %.2f ms\n", small_r * 1e3);
	return 0;
}
