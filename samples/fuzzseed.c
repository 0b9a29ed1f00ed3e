// SPDX-License-Identifier: GPL-2.0
/*
 * fuzzseed: the process whose images seed ckpt-fuzz (tools/ckpt/src/bin/
 * ckpt-fuzz.rs), the restart fuzzer of `make fuzz`.  One thread, a little
 * of most kinds of state a restart rebuilds (heap and anonymous memory,
 * a private file mapping, a shared anonymous mapping, an open file at an
 * offset, a pipe with bytes in it, signal handlers, a blocked pending
 * signal, an interval timer far away, a changed rlimit and umask), then it
 * creates READY_FILE and blocks reading its stdin, a pipe.
 *
 *   fuzzseed DATA_FILE READY_FILE [more]
 *
 * "more" adds mappings (several protections, a guard gap, a 2 MiB region)
 * and an alternate signal stack.
 *
 * After a restart the fuzzer's fresh stdin pipe has no writer left: read()
 * returns end-of-file, the program checks its memory, file offset, pipe
 * bytes and signal state, and exits 42 if all is as it was (43 if not).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define HEAP_WORDS (8 * 1024 / 8)
#define SHARED 8192

static volatile int handled;

static void on_usr1(int sig)
{
	handled++;
}

int main(int argc, char **argv)
{
	uint64_t *heap, *big = NULL;
	uint32_t *shared;
	const char *fmap;
	int fd, p[2], ready, more = argc > 3;
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigset_t set;
	char c, buf[6];
	size_t i;

	if (argc < 3)
		return 2;
	heap = malloc(HEAP_WORDS * 8);
	for (i = 0; i < HEAP_WORDS; i++)
		heap[i] = i * 0x9E3779B97F4A7C15ull;
	shared = mmap(NULL, SHARED, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open(argv[1], O_RDONLY);
	if (!heap || shared == MAP_FAILED || fd < 0)
		return 3;
	for (i = 0; i < SHARED / 4; i++)
		shared[i] = i ^ 0x5a5a;
	fmap = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fmap == MAP_FAILED || lseek(fd, 5, SEEK_SET) != 5 || pipe(p) || write(p[1], "hello", 5) != 5)
		return 4;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR2);
	setitimer(ITIMER_REAL, &(struct itimerval){ .it_value = { .tv_sec = 100000 } }, NULL);
	setrlimit(RLIMIT_NOFILE, &(struct rlimit){ 512, 1024 });
	umask(027);
	if (more) {
		stack_t ss = { .ss_sp = malloc(65536), .ss_size = 65536 };
		char *r = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (r == MAP_FAILED || !ss.ss_sp || sigaltstack(&ss, NULL))
			return 5;
		memset(r, 0x77, 16 * 4096);
		mprotect(r + 4096, 4096, PROT_NONE);
		mprotect(r + 8192, 4096, PROT_READ);
		munmap(r + 3 * 4096, 4096);
		big = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (big == MAP_FAILED)
			return 6;
		for (i = 0; i < (2 << 20) / 8; i += 32768)
			big[i] = i;
	}
	ready = open(argv[2], O_WRONLY | O_CREAT, 0644);
	if (ready < 0)
		return 7;
	close(ready);
	while (read(0, &c, 1) > 0)
		;
	/* Restarted (or the writer went away): is everything as it was? */
	for (i = 0; i < HEAP_WORDS; i++)
		if (heap[i] != i * 0x9E3779B97F4A7C15ull)
			return 43;
	for (i = 0; i < SHARED / 4; i++)
		if (shared[i] != (i ^ 0x5a5a))
			return 43;
	for (i = 0; more && i < (2 << 20) / 8; i += 32768)
		if (big[i] != i)
			return 43;
	if (lseek(fd, 0, SEEK_CUR) != 5 || fmap[0] != 'f')
		return 43;
	if (read(p[0], buf, 5) != 5 || memcmp(buf, "hello", 5))
		return 43;
	if (sigpending(&set) || !sigismember(&set, SIGUSR2))
		return 43;
	raise(SIGUSR1);
	return handled == 1 ? 42 : 43;
}
