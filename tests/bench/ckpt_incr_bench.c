// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_incr_bench: the frozen time of an incremental checkpoint against a
 * full one.  A target fills MIB MiB (default 1024) of anonymous memory; per
 * run: a full checkpoint (it runs on), a tracking checkpoint (--track),
 * then the target writes 1% of its pages (every 100th) and an incremental
 * checkpoint (--parent) kills it; the chain is restarted and the target
 * verifies every word.  The frozen times come from the module's timing log
 * (insmod ckpt.ko timing=1; "ckpt: timing checkpoint ... frozen=MS").
 * Prints "BENCH incr ..." lines: the medians and the ratio incremental/full
 * (the target is at most 0.10).
 *
 *   ckpt_incr_bench [-m MIB] [-r RUNS] [-k CKPT] [-d DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)
#define PAGE 4096UL
#define MAXRUNS 15

static const char *ckpt = "/ckpt";
static const char *dir = "/tmp/incr-bench";
static volatile sig_atomic_t usr1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t word(uint64_t i, uint64_t gen)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ (gen * 0xD6E8FEB86659FD93ULL);

	return x ^ (x >> 29);
}

static void on_usr1(int s)
{
	(void)s;
	usr1++;
}

static void wait_usr1(int n)
{
	while (usr1 < n)
		usleep(2000);
}

/*
 * How the 1% of pages are written: SPREAD, every 100th page (with THP every
 * huge page gets one write: soft-dirty bits are per huge page, so all of it
 * is written again); BLOCK, one contiguous run of 1% of the pages.
 */
enum pattern { SPREAD, BLOCK };

static int written(size_t page, size_t pages, enum pattern pat)
{
	if (pat == SPREAD)
		return page % 100 == 0;
	return page >= pages / 2 && page < pages / 2 + pages / 100;
}

/* The target: fill, say ready, on SIGUSR1 write 1%, on the 2nd verify. */
static int target(size_t mib, enum pattern pat, int nothp, int ready)
{
	size_t words = mib * MIB / 8, per = PAGE / 8, pages = mib * MIB / PAGE, i;
	uint64_t *p;
	char c = 'r';

	if (nothp)
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	signal(SIGUSR1, on_usr1);
	for (i = 0; i < words; i++)
		p[i] = word(i, 0);
	if (write(ready, &c, 1) != 1)
		return 3;
	wait_usr1(1);
	for (i = 0; i < pages; i++)
		if (written(i, pages, pat))
			for (size_t j = i * per; j < (i + 1) * per; j++)
				p[j] = word(j, 1);
	c = 'd';
	if (write(ready, &c, 1) != 1)
		return 3;
	close(ready);
	/* Restored from the chain: verify. */
	wait_usr1(2);
	for (i = 0; i < words; i++)
		if (p[i] != word(i, written(i / per, pages, pat)))
			return 1;
	return 0;
}

static int kmsg = -1;

/* The frozen time of the last "ckpt: timing checkpoint" line since the last call. */
static double kmsg_frozen(void)
{
	char rec[1024];
	double f = -1;
	ssize_t n;

	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *m;

		if (n <= 0)
			continue;
		rec[n] = 0;
		if (strstr(rec, "ckpt: timing checkpoint ") && (m = strstr(rec, " frozen=")))
			f = strtod(m + 8, NULL);
	}
	return f;
}

static int sh(double *secs, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	double t;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	t = now();
	st = system(cmd);
	if (secs)
		*secs = now() - t;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("BENCH incr: failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static double size_mib(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size / (double)MIB;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	if (n <= 0)
		return -1;
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int workload(size_t mib, int runs, enum pattern pat, int nothp, const char *label);

int main(int argc, char **argv)
{
	int runs = 3, opt, failed = 0;
	size_t mib = 1024;

	while ((opt = getopt(argc, argv, "m:r:k:d:")) != -1) {
		switch (opt) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'k': ckpt = optarg; break;
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (runs < 1 || runs > MAXRUNS)
		runs = 3;
	mkdir(dir, 0700);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0) {
		printf("BENCH incr: no /dev/kmsg\n");
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	failed |= workload(mib, runs, SPREAD, 1, "every 100th page, no THP");
	failed |= workload(mib, runs, BLOCK, 0, "one block, THP");
	failed |= workload(mib, runs, SPREAD, 0, "every 100th page, THP");
	return failed;
}

static int workload(size_t mib, int runs, enum pattern pat, int nothp, const char *label)
{
	double full[MAXRUNS], track[MAXRUNS], incr[MAXRUNS], sfull = 0, sincr = 0, rst[MAXRUNS];
	int r, n = 0, failed = 0;
	char a[256], b[256], c[256];

	snprintf(a, sizeof(a), "%s/full.img", dir);
	snprintf(b, sizeof(b), "%s/base.img", dir);
	snprintf(c, sizeof(c), "%s/incr.img", dir);
	for (r = 0; r < runs; r++) {
		int pfd[2], st;
		char ch;
		pid_t pid;
		double t;

		if (pipe(pfd))
			return 1;
		pid = fork();
		if (pid == 0) {
			/* Nothing ckpt would refuse (/dev/kmsg is a device). */
			close(kmsg);
			close(pfd[0]);
			_exit(target(mib, pat, nothp, pfd[1]));
		}
		close(pfd[1]);
		if (read(pfd[0], &ch, 1) != 1)
			return 1;
		lseek(kmsg, 0, SEEK_END);
		if (sh(NULL, "%s checkpoint %d -o %s --leave-running --quiet", ckpt, pid, a))
			goto fail;
		full[n] = kmsg_frozen();
		sfull = size_mib(a);
		unlink(a);
		if (sh(NULL, "%s checkpoint %d -o %s --track --leave-running --quiet", ckpt, pid, b))
			goto fail;
		track[n] = kmsg_frozen();
		kill(pid, SIGUSR1);
		if (read(pfd[0], &ch, 1) != 1 || ch != 'd')
			goto fail;
		if (sh(NULL, "%s checkpoint %d -o %s --parent %s --kill --quiet", ckpt, pid, c, b))
			goto fail;
		incr[n] = kmsg_frozen();
		close(pfd[0]);
		while (waitpid(-1, &st, 0) > 0)
			;
		sincr = size_mib(c);
		/* The chain: restarted detached, told to verify, waited for. */
		t = now();
		if (sh(NULL, "%s restart %s --detach --quiet > %s/pid", ckpt, c, dir))
			goto fail;
		rst[n] = now() - t;
		{
			char path[300];
			FILE *f;
			int rp = 0;

			snprintf(path, sizeof(path), "%s/pid", dir);
			f = fopen(path, "r");
			if (!f || fscanf(f, "%d", &rp) != 1 || rp <= 0) {
				printf("BENCH incr: no restored pid\n");
				goto fail;
			}
			fclose(f);
			kill(rp, SIGUSR1);
			/* Its parent is gone: it is ours (subreaper). */
			if (waitpid(rp, &st, 0) != rp || !WIFEXITED(st) || WEXITSTATUS(st)) {
				printf("BENCH incr: the restored process did not verify (status %#x)\n",
				       st);
				failed = 1;
			}
		}
		unlink(b);
		unlink(c);
		printf("BENCH incr run %d (%s): frozen full %.1f ms, tracking %.1f ms, incremental "
		       "%.1f ms\n", r + 1, label, full[n], track[n], incr[n]);
		n++;
		continue;
fail:
		kill(pid, SIGKILL);
		while (waitpid(-1, &st, 0) > 0)
			;
		failed = 1;
	}
	{
		double f = median(full, n), t = median(track, n), i = median(incr, n);

		printf("BENCH incr %zu MiB, 1%% of pages written (%s): frozen ms full %.1f, "
		       "tracking full %.1f, incremental %.1f; incremental/full %.3f (target <= 0.10); "
		       "image MiB full %.1f, incremental %.1f; restart of the chain %.0f ms (n=%d)%s\n",
		       mib, label, f, t, i, f > 0 ? i / f : -1, sfull, sincr, median(rst, n) * 1000,
		       n, failed ? "; SOME RUNS FAILED" : "; every restored process verified");
	}
	return failed;
}
