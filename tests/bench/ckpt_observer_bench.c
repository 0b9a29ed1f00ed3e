// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_observer_bench: the cost of ckpt's LSM observer (rust/lsm_probe.c:
 * fprobes on security_* hooks and the fork/exit tracepoints) on the hot
 * paths of the whole system.  /guest/observer-bench.sh runs it with the
 * module loaded and unloaded, alternately, and prints the ratios.
 *
 *   ckpt_observer_bench [-n ITERATIONS] [-r REPEATS] TEST
 *
 * TEST:
 *   fork         fork() + _exit() + waitpid() by a process the observer
 *                never marked (one RCU lookup per fork and exit)
 *   fork-marked  the same by a process that created an AF_INET socket first: the
 *                observer watches it, so each child gets a copy of its
 *                marks (an allocation and an insertion at fork, a removal
 *                at exit)
 *   socket       socket(AF_INET) + close() (the process is marked at the
 *                first one; later ones find the mark set: a lookup; unix
 *                sockets, which a checkpoint carries, are not looked up)
 *
 * Prints "TEST NS_PER_OP": the best of REPEATS timed runs of ITERATIONS
 * operations each (the least disturbed by the rest of the machine).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run_fork(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		int st;

		if (p < 0)
			return -1;
		if (p == 0)
			_exit(0);
		if (waitpid(p, &st, 0) != p)
			return -1;
	}
	return 0;
}

static int run_socket(long n)
{
	for (long i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);

		if (s < 0)
			return -1;
		close(s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = 2000, reps = 5;
	double best = 0;
	const char *test;
	int (*fn)(long);
	int c;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'r': reps = atol(optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc || n <= 0 || reps <= 0)
		return 2;
	test = argv[optind];
	if (!strcmp(test, "fork")) {
		fn = run_fork;
	} else if (!strcmp(test, "fork-marked")) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);	/* the observer marks us */

		if (s < 0)
			return 1;
		close(s);
		fn = run_fork;
	} else if (!strcmp(test, "socket")) {
		fn = run_socket;
	} else {
		return 2;
	}
	if (fn(n / 10 + 1))	/* warm up */
		return 1;
	for (long r = 0; r < reps; r++) {
		double t0 = now_ns(), t;

		if (fn(n))
			return 1;
		t = (now_ns() - t0) / n;
		if (!best || t < best)
			best = t;
	}
	printf("%s %.0f\n", test, best);
	return 0;
}
