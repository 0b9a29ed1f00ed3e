// SPDX-License-Identifier: GPL-2.0
/*
 * sysv: a process with SysV shared memory, which checks after a
 * checkpoint and restart that its segments came back.
 *
 *   sysv RESULT_FILE [rmid]
 *
 * Segment K: key 0x1234c0de, 3 pages, attached twice (at two addresses);
 * segment P: IPC_PRIVATE, 2 pages, attached once and marked for removal
 * (it goes away with its last attachment).  Both hold a pattern.  Prints
 * "ready PID K-SHMID P-SHMID" on stdout, then waits.  On SIGUSR1 it checks:
 * the shmids are the same, K's key and size, K has 2 attachments, both
 * attachments of K show the pattern and a write through one is seen
 * through the other, P's pattern; writes "OK sysv" or "FAIL <what>" lines
 * to RESULT_FILE and exits 0 or 1 (with "rmid": removing K first).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#define PG 4096
#define KEY 0x1234c0de

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static unsigned char pat(int seg, long off)
{
	return (unsigned char)(off * 3 + seg * 101 + 1);
}

int main(int argc, char **argv)
{
	int k = shmget(KEY, 3 * PG, IPC_CREAT | 0600);
	int p = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
	unsigned char *a, *b, *c;
	struct shmid_ds ds;
	int fails = 0;
	FILE *out;
	long i;

	if (argc < 2 || k < 0 || p < 0)
		return 2;
	signal(SIGUSR1, on_usr1);
	a = shmat(k, NULL, 0);
	b = shmat(k, NULL, 0);
	c = shmat(p, NULL, 0);
	if (a == (void *)-1 || b == (void *)-1 || c == (void *)-1)
		return 2;
	shmctl(p, IPC_RMID, NULL);
	for (i = 0; i < 3 * PG; i++)
		a[i] = pat(0, i);
	for (i = 0; i < 2 * PG; i++)
		c[i] = pat(1, i);
	printf("ready %d %d %d\n", getpid(), k, p);
	fflush(stdout);
	while (!go)
		pause();

	out = fopen(argv[1], "w");
	if (!out)
		return 2;
#define FAIL(...) (fprintf(out, "FAIL " __VA_ARGS__), fputc('\n', out), fails++)
	if (shmget(KEY, 0, 0) != k)
		FAIL("key %#x gives shmid %d, not %d", KEY, shmget(KEY, 0, 0), k);
	if (shmctl(k, IPC_STAT, &ds))
		FAIL("IPC_STAT of %d", k);
	else {
		if (ds.shm_segsz != 3 * PG)
			FAIL("size %zu", (size_t)ds.shm_segsz);
		if (ds.shm_nattch != 2)
			FAIL("attachments %lu, want 2", (unsigned long)ds.shm_nattch);
	}
	for (i = 0; i < 3 * PG; i++)
		if (a[i] != pat(0, i) || b[i] != pat(0, i)) {
			FAIL("contents of K at %ld", i);
			break;
		}
	for (i = 0; i < 2 * PG; i++)
		if (c[i] != pat(1, i)) {
			FAIL("contents of P at %ld", i);
			break;
		}
	a[PG + 7] = 0x5a;
	if (b[PG + 7] != 0x5a)
		FAIL("the two attachments of K are not one segment");
	if (!fails)
		fprintf(out, "OK sysv\n");
	fclose(out);
	if (argc > 2 && !strcmp(argv[2], "rmid"))
		shmctl(k, IPC_RMID, NULL);
	return fails ? 1 : 0;
}
