// SPDX-License-Identifier: GPL-2.0
/*
 * memfd: a process with a memfd, which checks after a checkpoint and
 * restart that the memfd came back whole.
 *
 *   memfd RESULT_FILE
 *
 * Creates memfd "ckpt-sample" (MFD_ALLOW_SEALING) of 7 pages + 100 bytes:
 * page 0 and page 5 hold a pattern, the rest are holes, the last 100 bytes
 * hold a pattern too; seals F_SEAL_SHRINK | F_SEAL_GROW; the descriptor's
 * offset is 1234; the memfd is mapped MAP_SHARED and the mapping's page 3
 * is written through the mapping.  A second descriptor is a dup of the
 * first (one open file, one offset).  Prints "ready PID" on stdout, then
 * waits.  On SIGUSR1 it checks all of that (contents through read() and
 * through the mapping, size, seals, offset, the shared offset of the dup,
 * the name in /proc/self/fd, that a write through the mapping shows in
 * read()), writes "OK memfd" or "FAIL <what>" lines to RESULT_FILE and
 * exits 0 or 1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096
#define SIZE (7 * PG + 100)

static volatile sig_atomic_t go;
static FILE *out;
static int fails;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static unsigned char pattern(long off)
{
	return (unsigned char)(off * 7 + 13);
}

static void fail(const char *what, long a, long b)
{
	fprintf(out, "FAIL %s (%ld, want %ld)\n", what, a, b);
	fails++;
}

/* What byte @off of the memfd should hold. */
static unsigned char want(long off)
{
	if (off < PG || (off >= 5 * PG && off < 6 * PG) || off >= 7 * PG)
		return pattern(off);
	if (off >= 3 * PG && off < 4 * PG)
		return 0xa5;
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char buf[SIZE];
	char link[128], path[64];
	unsigned char *map;
	long i, n;
	int fd, dup_fd;

	if (argc != 2)
		return 2;
	signal(SIGUSR1, on_usr1);
	fd = memfd_create("ckpt-sample", MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, SIZE))
		return 2;
	for (i = 0; i < SIZE; i++)
		buf[i] = (i < PG || (i >= 5 * PG && i < 6 * PG) || i >= 7 * PG) ? pattern(i) : 0;
	if (pwrite(fd, buf, PG, 0) != PG || pwrite(fd, buf + 5 * PG, PG, 5 * PG) != PG ||
	    pwrite(fd, buf + 7 * PG, 100, 7 * PG) != 100)
		return 2;
	map = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 2;
	memset(map + 3 * PG, 0xa5, PG);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		return 2;
	if (lseek(fd, 1234, SEEK_SET) != 1234)
		return 2;
	dup_fd = dup(fd);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (!go)
		pause();

	out = fopen(argv[1], "w");
	if (!out)
		return 2;
	if (lseek(fd, 0, SEEK_CUR) != 1234)
		fail("offset", lseek(fd, 0, SEEK_CUR), 1234);
	if (lseek(dup_fd, 100, SEEK_SET) != 100 || lseek(fd, 0, SEEK_CUR) != 100)
		fail("dup shares the offset", lseek(fd, 0, SEEK_CUR), 100);
	if (lseek(fd, 0, SEEK_END) != SIZE)
		fail("size", lseek(fd, 0, SEEK_END), SIZE);
	if (fcntl(fd, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW))
		fail("seals", fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	if (ftruncate(fd, PG) == 0)
		fail("F_SEAL_SHRINK holds", 0, -1);
	memset(buf, 0xee, sizeof(buf));
	n = pread(fd, buf, SIZE, 0);
	if (n != SIZE)
		fail("read length", n, SIZE);
	for (i = 0; i < n; i++)
		if (buf[i] != want(i)) {
			fail("contents at", i, want(i));
			break;
		}
	for (i = 0; i < SIZE; i++)
		if (map[i] != want(i)) {
			fail("mapping at", i, want(i));
			break;
		}
	map[2 * PG] = 0x5a;
	if (pread(fd, buf, 1, 2 * PG) != 1 || buf[0] != 0x5a)
		fail("the mapping is the memfd", buf[0], 0x5a);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (strcmp(link, "/memfd:ckpt-sample (deleted)"))
		fprintf(out, "FAIL name %s\n", link), fails++;
	if (!fails)
		fprintf(out, "OK memfd\n");
	fclose(out);
	return fails ? 1 : 0;
}
