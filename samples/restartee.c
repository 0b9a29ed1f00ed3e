// SPDX-License-Identifier: GPL-2.0
/*
 * restartee: a program with a little of every kind of state ckpt saves,
 * which answers questions about that state on a control pipe.  The
 * selftests ask before the checkpoint, kill it, restart it, and ask again:
 * the answers must prove the state survived.
 *
 *   restartee CTL_FD REPORT_FD DATA_FILE HEAP_MB
 *
 * Commands (one byte on CTL_FD, one line back on REPORT_FD):
 *   a  AVX registers ymm8-15 still hold the pattern set at start ("avx ok")
 *   c  counter (incremented by each 'c') and checksum of the heap buffer
 *   f  the next 8 bytes read from DATA_FILE, and the file offset
 *   p  the bytes buffered in an internal pipe at start ("pipe hello-pipe")
 *   s  raise SIGUSR1; the handler installed at start counts it
 *   q  SIGUSR2 is blocked and pending (it was raised, blocked, at start)
 *   m  malloc/brk still work after restart
 *   i  getpid() and getppid()
 *   t  time left on ITIMER_REAL (armed at start for 1000 s)
 *   v  the private mapping of DATA_FILE and a shared anonymous mapping still
 *      hold what they held ("maps ok")
 *   x  exit(7)
 * The AVX check comes first after a restart: any libc call may clobber
 * vector registers, so every command handler re-arms them at its end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static int ctl, rep, datafd, pipefd[2];
static uint64_t *heap;
static const char *fmap;		/* DATA_FILE, mapped private read-only */
static uint32_t *shmap;			/* 64 KiB shared anonymous, a pattern */
static size_t heap_words;
static volatile uint64_t counter;
static volatile int handled;
static uint64_t pattern[8][4] __attribute__((aligned(32)));
static uint64_t saved[8][4] __attribute__((aligned(32)));

static void set_ymm(void)
{
	asm volatile("vmovdqa 0(%0), %%ymm8\n\t"
		     "vmovdqa 32(%0), %%ymm9\n\t"
		     "vmovdqa 64(%0), %%ymm10\n\t"
		     "vmovdqa 96(%0), %%ymm11\n\t"
		     "vmovdqa 128(%0), %%ymm12\n\t"
		     "vmovdqa 160(%0), %%ymm13\n\t"
		     "vmovdqa 192(%0), %%ymm14\n\t"
		     "vmovdqa 224(%0), %%ymm15\n\t"
		     : : "r"(pattern) : "memory");
}

static void save_ymm(void)
{
	asm volatile("vmovdqa %%ymm8, 0(%0)\n\t"
		     "vmovdqa %%ymm9, 32(%0)\n\t"
		     "vmovdqa %%ymm10, 64(%0)\n\t"
		     "vmovdqa %%ymm11, 96(%0)\n\t"
		     "vmovdqa %%ymm12, 128(%0)\n\t"
		     "vmovdqa %%ymm13, 160(%0)\n\t"
		     "vmovdqa %%ymm14, 192(%0)\n\t"
		     "vmovdqa %%ymm15, 224(%0)\n\t"
		     : : "r"(saved) : "memory");
}

/* read(2) without libc, so that nothing touches vector registers. */
static long raw_read(int fd, void *buf, long n)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "0"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n)
		     : "rcx", "r11", "memory");
	return ret;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (write(rep, line, n) != n)
		exit(3);
}

static uint64_t checksum(void)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < heap_words; i++)
		h = (h ^ heap[i]) * 1099511628211ULL;
	return h;
}

static void on_usr1(int sig)
{
	handled++;
}

int main(int argc, char **argv)
{
	size_t mb, i;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	sigset_t set;
	struct itimerval it = { { 0, 0 }, { 1000, 0 } };
	char c;

	if (argc != 5) {
		fprintf(stderr, "usage: restartee CTL_FD REPORT_FD DATA_FILE HEAP_MB\n");
		return 2;
	}
	ctl = atoi(argv[1]);
	rep = atoi(argv[2]);
	mb = strtoul(argv[4], NULL, 0);
	datafd = open(argv[3], O_RDONLY);
	if (datafd < 0 || lseek(datafd, 100, SEEK_SET) != 100)
		return 4;

	heap_words = (mb << 20) / 8;
	heap = malloc(heap_words * 8);
	if (!heap)
		return 5;
	for (i = 0; i < heap_words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		heap[i] = x;
	}
	for (i = 0; i < 32; i++)
		pattern[i / 4][i % 4] = 0x0123456789abcdefULL * (i + 1);

	if (pipe(pipefd) || write(pipefd[1], "hello-pipe", 10) != 10)
		return 6;
	fmap = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, datafd, 0);
	shmap = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fmap == MAP_FAILED || shmap == MAP_FAILED)
		return 7;
	for (i = 0; i < 65536 / 4; i++)
		shmap[i] = i * 2654435761u;
	signal(SIGUSR1, on_usr1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR2);
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);

	reply("ready pid %d", getpid());
	set_ymm();
	for (;;) {
		if (raw_read(ctl, &c, 1) != 1)
			return 0;
		switch (c) {
		case 'a':
			save_ymm();
			reply("avx %s", memcmp(saved, pattern, sizeof(saved)) ? "BAD" : "ok");
			break;
		case 'c':
			counter++;
			reply("counter %llu sum %016llx", (unsigned long long)counter,
			      (unsigned long long)checksum());
			break;
		case 'f': {
			char b[9] = { 0 };
			ssize_t n = read(datafd, b, 8);

			reply("file %zd %s off %lld", n, b, (long long)lseek(datafd, 0, SEEK_CUR));
			break;
		}
		case 'p': {
			char b[32] = { 0 };
			ssize_t n;

			fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
			n = read(pipefd[0], b, sizeof(b) - 1);
			reply("pipe %zd %s", n, b);
			break;
		}
		case 's': {
			int before = handled;

			raise(SIGUSR1);
			reply("signal %d", handled - before);
			break;
		}
		case 'q': {
			sigset_t pend, blk;

			sigpending(&pend);
			sigprocmask(SIG_BLOCK, NULL, &blk);
			reply("usr2 pending %d blocked %d", sigismember(&pend, SIGUSR2),
			      sigismember(&blk, SIGUSR2));
			break;
		}
		case 'm': {
			char *p = malloc(4 << 20);
			void *b0 = sbrk(0);
			int ok = p && sbrk(8192) == b0 && sbrk(0) == (char *)b0 + 8192;

			if (p)
				memset(p, 0x5a, 4 << 20);
			free(p);
			reply("malloc %s", ok ? "ok" : "BAD");
			break;
		}
		case 'i':
			reply("pid %d ppid %d", getpid(), getppid());
			break;
		case 't': {
			struct itimerval cur;

			getitimer(ITIMER_REAL, &cur);
			reply("itimer %ld", (long)cur.it_value.tv_sec);
			break;
		}
		case 'v': {
			int ok = fmap[0] == 'A' && fmap[25] == 'Z' && fmap[26] == 'A';

			for (i = 0; i < 65536 / 4; i++)
				ok &= shmap[i] == (uint32_t)(i * 2654435761u);
			reply("maps %s", ok ? "ok" : "BAD");
			break;
		}
		case 'x':
			exit(7);
		default:
			reply("unknown %c", c);
		}
		set_ymm();
	}
}
