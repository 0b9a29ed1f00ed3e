// SPDX-License-Identifier: GPL-2.0
/*
 * The ZDTM lane's stand-in for the init of a new pid namespace, for the tests
 * ZDTM runs only in its namespace flavour (tests/zdtm/scope: `ns`).  There,
 * the processes a test orphans are reparented to the namespace's init, which
 * belongs to the checkpointed tree and reaps them; on the host they would go
 * to PID 1, outside the tree.
 *
 *   zdtm-reaper TEST ARGS...
 *
 * Forks the reaper, which makes a session of its own, becomes a child
 * subreaper (PR_SET_CHILD_SUBREAPER) and starts TEST ARGS.  The reaper waits
 * for that first process (which forks the test's daemon and exits once it is
 * ready), reports its exit status to the caller, and from then on reaps
 * whatever the test leaves to it, exiting once it has no child left (with
 * ZDTM_NOREAP set, as ZDTM's init does for the tests that set it, it reaps
 * nothing more and waits to be killed).  The
 * caller exits with the status of TEST.  The lane checkpoints the reaper's
 * tree (the reaper is the parent of the test's daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int p[2], status = 1, fd;
	pid_t reaper, test;

	if (argc < 2) {
		fprintf(stderr, "usage: zdtm-reaper TEST ARGS...\n");
		return 2;
	}
	if (pipe(p))
		return 1;
	reaper = fork();
	if (reaper < 0)
		return 1;
	if (reaper > 0) {
		close(p[1]);
		if (read(p[0], &status, sizeof(status)) != sizeof(status))
			return 1;
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}

	close(p[0]);
	if (setsid() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		perror("zdtm-reaper");
		return 1;
	}
	test = fork();
	if (test < 0)
		return 1;
	if (test == 0) {
		close(p[1]);
		execv(argv[1], argv + 1);
		perror("zdtm-reaper: exec");
		_exit(127);
	}
	if (waitpid(test, &status, 0) != test)
		status = 1 << 8;
	/* Nothing of the caller's stays open here (its output files). */
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(p[1], &status, sizeof(status)) != sizeof(status))
		return 1;
	close(p[1]);
	if (getenv("ZDTM_NOREAP"))
		for (;;)
			pause();
	for (;;) {
		if (wait(NULL) < 0 && errno == ECHILD)
			return 0;
	}
}
