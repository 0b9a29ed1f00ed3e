// SPDX-License-Identifier: GPL-2.0
/*
 * sharedfd: two processes sharing one fd table (clone(CLONE_FILES)
 * without CLONE_THREAD), which checks after a checkpoint and restart of
 * the tree that they still share it.
 *
 *   sharedfd RESULT_FILE
 *
 * P clones C with CLONE_FILES; C polls for fd 42.  Prints "ready P C" on
 * stdout, then waits.  On SIGUSR1 P opens /dev/zero as fd 42: if the table
 * is shared, C sees it at once, writes "OK sharedfd" to RESULT_FILE and
 * exits 0; P waits for C (10 s at most) and exits with C's status (1 and
 * "FAIL C did not see fd 42" if it timed out).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	struct timespec ms = { 0, 10 * 1000 * 1000 };
	pid_t c;
	int i, status;

	if (argc != 2)
		return 2;
	signal(SIGUSR1, on_usr1);
	c = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (c < 0)
		return 2;
	if (c == 0) {
		for (;;) {
			if (fcntl(42, F_GETFD) >= 0) {
				FILE *out = fopen(argv[1], "w");

				if (!out)
					_exit(2);
				fprintf(out, "OK sharedfd\n");
				fclose(out);
				_exit(0);
			}
			nanosleep(&ms, NULL);
		}
	}
	printf("ready %d %d\n", getpid(), c);
	fflush(stdout);
	while (!go)
		pause();
	if (dup2(open("/dev/zero", O_RDONLY), 42) != 42)
		return 2;
	for (i = 0; i < 1000; i++) {
		if (waitpid(c, &status, WNOHANG) == c)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		nanosleep(&ms, NULL);
	}
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	{
		FILE *out = fopen(argv[1], "w");

		if (out) {
			fprintf(out, "FAIL C did not see fd 42\n");
			fclose(out);
		}
	}
	return 1;
}
