// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_vs_criu: checkpoint and restart with `ckpt` and with CRIU, side by
 * side in one boot, on the same workloads, interleaved run by run; every
 * restored process verifies its memory.  Prints one "BENCH ..." line per
 * result (the host shows exactly those lines) and a table at the end.
 *
 *   ckpt_vs_criu [-r RUNS] [-w WORKLOADS] [-c CRIU] [-k CKPT] [-d DIR] [-n]
 *   ckpt_vs_criu target KIND MIB N SEED FD DIR   (the workload; internal)
 *
 * -n: ckpt alone (no CRIU; `make check` runs one small workload so, on the
 * project's kernel, to show the times and breakdown: it fails on errors,
 * never on times).
 *
 * WORKLOADS is a comma-separated list of mem:MIB (one process, MIB of
 * touched anonymous memory in one 2 MiB-aligned mapping: with THP=always
 * it is made of huge pages), threads:N (N threads, 4 MiB each) and
 * tree:N (N processes, 4 MiB each).  Default: mem:1,mem:16,mem:256,
 * mem:1024,threads:8,tree:4.  Images go to DIR (default /tmp/bench, a
 * tmpfs).  A workload is: start the target, wait until it has written its
 * memory, checkpoint it leaving it running (a backup: only the frozen time
 * is kept, the "left running" columns), checkpoint it again (the target is
 * killed), restart it, signal it, wait for its answer.  Times are
 * wall-clock around the tool's command; frozen times are the module's
 * (timing=1) and CRIU's own (stats-dump).
 *
 * The target: every 8-byte word of its memory holds a function of its
 * offset and a seed; then it waits for SIGUSR1.  On SIGUSR1 (after a
 * restart) it opens DIR/answer (a fifo), writes 'r', verifies every word
 * (threads each their own memory, children theirs) and writes 'v' (all
 * verified) or 'x', then exits (0 if verified).
 *
 * With the module loaded with timing=1, ckpt logs the phases of every
 * checkpoint and restart ("ckpt: timing ..."); they are read from
 * /dev/kmsg and printed as the breakdown of ckpt's time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)
#define HUGE (2UL << 20)
#define MAXRUNS 15
#define PER_UNIT_MIB 4

static const char *dir = "/tmp/bench";
static const char *criu = "/usr/sbin/criu";
static const char *ckpt = "/ckpt";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the target ---------------------------------------------------------- */

static uint64_t word(uint64_t i, uint64_t seed)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ seed;

	return x ^ (x >> 29);
}

/* mib MiB of anonymous memory starting at a 2 MiB boundary, every word set. */
static uint64_t *fill(size_t mib, uint64_t seed)
{
	size_t len = mib * MIB;
	char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (uint64_t *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	/* Give back the unaligned head and tail: one mapping of exactly len. */
	if ((char *)p > raw)
		munmap(raw, (char *)p - raw);
	munmap((char *)p + len, raw + len + HUGE - ((char *)p + len));
	for (size_t i = 0; i < len / 8; i++)
		p[i] = word(i, seed);
	return p;
}

static int verify(const uint64_t *p, size_t mib, uint64_t seed)
{
	for (size_t i = 0; i < mib * MIB / 8; i++)
		if (p[i] != word(i, seed))
			return -1;
	return 0;
}

struct unit {
	pthread_t th;
	uint64_t *mem;
	uint64_t seed;
	int ok;
};

static int stop_word;

static void *thread_main(void *arg)
{
	struct unit *u = arg;

	u->mem = fill(PER_UNIT_MIB, u->seed);
	__atomic_add_fetch(&stop_word, 0, __ATOMIC_SEQ_CST);
	/* Wait for the verdict request: a futex wait (restarted after a restart). */
	while (__atomic_load_n(&stop_word, __ATOMIC_ACQUIRE) < 2)
		syscall(SYS_futex, &stop_word, FUTEX_WAIT, __atomic_load_n(&stop_word, __ATOMIC_ACQUIRE),
			NULL, NULL, 0);
	u->ok = u->mem && !verify(u->mem, PER_UNIT_MIB, u->seed);
	return NULL;
}

static void wait_usr1(void)
{
	sigset_t s;
	int sig;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	while (sigwait(&s, &sig) || sig != SIGUSR1)
		;
}

static int target(const char *kind, size_t mib, int n, uint64_t seed, int ready)
{
	struct unit units[64];
	pid_t kids[64];
	uint64_t *mem = NULL;
	char path[256];
	int ok = 1, fd;
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	if (n > 64)
		n = 64;
	if (!strcmp(kind, "mem")) {
		mem = fill(mib, seed);
		if (!mem)
			return 2;
	} else if (!strcmp(kind, "threads")) {
		mem = fill(PER_UNIT_MIB, seed);
		for (int i = 1; i < n; i++) {
			units[i].seed = seed + i;
			pthread_create(&units[i].th, NULL, thread_main, &units[i]);
		}
		/* Every thread has filled its memory when it has its mapping. */
		for (int i = 1; i < n; i++)
			while (!__atomic_load_n(&units[i].mem, __ATOMIC_ACQUIRE))
				usleep(1000);
	} else {	/* tree */
		mem = fill(PER_UNIT_MIB, seed);
		for (int i = 1; i < n; i++) {
			int p[2];
			char c;

			if (pipe(p))
				return 2;
			kids[i] = fork();
			if (kids[i] == 0) {
				uint64_t *m = fill(PER_UNIT_MIB, seed + i);

				close(p[0]);
				if (write(p[1], "k", 1) != 1)
					_exit(2);
				close(p[1]);
				wait_usr1();
				_exit(m && !verify(m, PER_UNIT_MIB, seed + i) ? 0 : 1);
			}
			close(p[1]);
			if (read(p[0], &c, 1) != 1)
				return 2;
			close(p[0]);
		}
	}
	if (write(ready, "k", 1) != 1)
		return 2;
	close(ready);
	wait_usr1();
	snprintf(path, sizeof(path), "%s/answer", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "r", 1) != 1)
		return 3;
	if (!strcmp(kind, "threads")) {
		__atomic_store_n(&stop_word, 2, __ATOMIC_RELEASE);
		syscall(SYS_futex, &stop_word, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
		for (int i = 1; i < n; i++) {
			pthread_join(units[i].th, NULL);
			ok &= units[i].ok;
		}
		ok &= !verify(mem, PER_UNIT_MIB, seed);
	} else if (!strcmp(kind, "tree")) {
		for (int i = 1; i < n; i++)
			kill(kids[i], SIGUSR1);
		ok &= !verify(mem, PER_UNIT_MIB, seed);
		for (int i = 1; i < n; i++) {
			int st;

			ok &= waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) &&
			      WEXITSTATUS(st) == 0;
		}
	} else {
		ok = !verify(mem, mib, seed);
	}
	if (write(fd, ok ? "v" : "x", 1) != 1)
		return 3;
	return ok ? 0 : 1;
}

/* ---- the driver ---------------------------------------------------------- */

struct work {
	char kind[16];
	size_t mib;	/* memory of the whole workload */
	int n;		/* threads or processes */
};

/* Runs argv (stdout and stderr to DIR/TOOL.log), returns its exit status
 * (-1: not run) and the seconds it took. */
static int run(char *const argv[], double *secs)
{
	char log[256];
	double t0 = now();
	pid_t pid;
	int st;

	snprintf(log, sizeof(log), "%s/%s.log", dir, strrchr(argv[0], '/') ?
		 strrchr(argv[0], '/') + 1 : argv[0]);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char t0s[32];

		/* `ckpt` reports its own phases relative to this (see its timing.rs). */
		snprintf(t0s, sizeof(t0s), "%llu", (unsigned long long)(t0 * 1e9));
		setenv("CKPT_TIMING_T0", t0s, 1);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	*secs = now() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Shows the last lines of DIR/NAME. */
static void show_log(const char *name)
{
	char path[256], line[512];
	FILE *f;
	int n = 0, skip;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	skip = n > 30 ? n - 30 : 0;
	n = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (n++ >= skip)
			printf("#   %s", line);
	fclose(f);
}

static pid_t start_target(const struct work *w, uint64_t seed, char *self)
{
	char mib[32], n[16], sd[32], rfd[16];
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	snprintf(mib, sizeof(mib), "%zu", w->mib);
	snprintf(n, sizeof(n), "%d", w->n);
	snprintf(sd, sizeof(sd), "%llu", (unsigned long long)seed);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(p[1], 3);
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
		snprintf(rfd, sizeof(rfd), "%d", 3);
		execl(self, "bench_target", "target", w->kind, mib, n, sd, rfd, dir, NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Reaps every child (the target and, through the subreaper, its tree). */
static void reap_all(void)
{
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/* Size of a file or of the files of a directory. */
static double size_mib(const char *path)
{
	struct stat st;
	double sum = 0;
	DIR *d;
	struct dirent *e;
	char p[512];

	if (stat(path, &st))
		return 0;
	if (!S_ISDIR(st.st_mode))
		return st.st_size / (double)MIB;
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (e->d_name[0] != '.' && !stat(p, &st) && S_ISREG(st.st_mode))
			sum += st.st_size;
	}
	closedir(d);
	return sum / MIB;
}

static void rm_rf(const char *path)
{
	char *argv[] = { "/bin/rm", "-rf", (char *)path, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* The "ckpt-timing ..." line `ckpt` printed into DIR/ckpt.log, after the tag. */
static int tool_timing(char *out, size_t len)
{
	char path[256], line[1024];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ckpt.log", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "ckpt-timing ", 12)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", line + 12);
			found = 1;
		}
	fclose(f);
	return found;
}

/* ---- ckpt's own breakdown, from the module's timing lines in /dev/kmsg ---- */

static int kmsg = -1;

static void kmsg_skip(void)
{
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
}

/* The last "ckpt: timing WHAT ..." line logged since kmsg_skip(), after WHAT. */
static int kmsg_timing(const char *what, char *out, size_t len)
{
	char rec[1024], key[64];
	int found = 0;
	ssize_t n;

	if (kmsg < 0)
		return 0;
	snprintf(key, sizeof(key), "ckpt: timing %s ", what);
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *m;

		if (n <= 0)
			continue;
		rec[n] = 0;
		m = strstr(rec, key);
		if (m) {
			char *e = strchr(m, '\n');

			if (e)
				*e = 0;
			snprintf(out, len, "%s", m + strlen(key));
			found = 1;
		}
	}
	return found;
}

/* Sums "name=VALUE" fields of a timing line into acc (by name, in order). */
#define MAXF 16
struct fields {
	int n;
	char name[MAXF][24];
	double v[MAXRUNS][MAXF];
	int runs;
};

static void fields_add(struct fields *f, const char *line)
{
	char buf[1024], *save, *tok;
	int r = f->runs;

	if (r >= MAXRUNS)
		return;
	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		int i;

		if (!eq || !strncmp(tok, "pid=", 4))
			continue;
		*eq = 0;
		for (i = 0; i < f->n && strcmp(f->name[i], tok); i++)
			;
		if (i == f->n) {
			if (f->n == MAXF)
				continue;
			snprintf(f->name[f->n++], sizeof(f->name[0]), "%s", tok);
		}
		f->v[r][i] = strtod(eq + 1, NULL);
	}
	f->runs++;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAXRUNS];

	if (n <= 0)
		return 0;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Prints the medians of the module's phases, and what the whole command
 * took beyond them (wall_ms: the median of the command's time). */
static void fields_print(const char *label, const struct fields *f, double wall_ms)
{
	double total = 0;

	printf("BENCH   %-10s", label);
	for (int i = 0; i < f->n; i++) {
		double col[MAXRUNS];

		for (int r = 0; r < f->runs; r++)
			col[r] = f->v[r][i];
		printf(" %s=%.1f", f->name[i], median(col, f->runs));
		if (!strcmp(f->name[i], "total"))
			total = median(col, f->runs);
	}
	printf(" outside-module=%.1f (ms, medians)\n", wall_ms - total);
}

/* Prints the medians of the tool's marks (ms since the bench forked it). */
static void tool_print(const char *label, const struct fields *f)
{
	printf("BENCH   %-10s", label);
	for (int i = 0; i < f->n; i++) {
		double col[MAXRUNS];

		for (int r = 0; r < f->runs; r++)
			col[r] = f->v[r][i];
		printf(" %s@%.1f", f->name[i], median(col, f->runs));
	}
	printf(" (ms since fork, medians)\n");
}

/* ---- CRIU's own numbers: stats-dump (protobuf DumpStatsEntry) ------------ */

static uint64_t varint(const unsigned char **p, const unsigned char *end)
{
	uint64_t v = 0;

	for (int s = 0; *p < end && s < 64; s += 7) {
		unsigned char b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			break;
	}
	return v;
}

/* The frozen time (field 2 of DumpStatsEntry, inside field 1 of StatsEntry),
 * in ms; -1 if unknown.  The file: two magic words, a length, the message. */
static double criu_frozen_ms(const char *imgdir)
{
	unsigned char buf[512];
	const unsigned char *p, *end;
	char path[300];
	int fd, n;

	snprintf(path, sizeof(path), "%.250s/stats-dump", imgdir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 12)
		return -1;
	p = buf + 12;
	end = buf + n;
	while (p < end) {
		uint64_t key = varint(&p, end);

		if ((key & 7) == 2) {
			uint64_t len = varint(&p, end);

			if ((key >> 3) == 1) {	/* StatsEntry.dump */
				end = p + len < end ? p + len : end;
				continue;
			}
			p += len;
		} else if ((key & 7) == 0) {
			uint64_t v = varint(&p, end);

			if ((key >> 3) == 2)	/* DumpStatsEntry.frozen_time, us */
				return v / 1e3;
		} else {
			return -1;
		}
	}
	return -1;
}

/* ---- one workload, both tools, interleaved ------------------------------- */

enum { CKPT, CRIU, NTOOLS };
static const char *tool_name[NTOOLS] = { "ckpt", "criu" };

struct result {
	double dump[MAXRUNS], restore[MAXRUNS], frozen[MAXRUNS], size[MAXRUNS];
	double live[MAXRUNS];	/* frozen ms of a checkpoint that leaves it running */
	double ldump[MAXRUNS];	/* and that checkpoint's time (ckpt) */
	int n, nfrozen, nlive;
	struct fields cp, rs, tcp, trs, lcp;	/* lcp: left running */
};

static int one(int tool, const struct work *w, uint64_t seed, char *self, struct result *res)
{
	char img[256], fifo[256], pidarg[16], line[1024];
	double td, tr, t0;
	pid_t pid;
	int rc, fd, st;
	char c[2];

	pid = start_target(w, seed, self);
	if (pid < 0) {
		printf("# %s: the target did not start\n", w->kind);
		return -1;
	}
	snprintf(pidarg, sizeof(pidarg), "%d", pid);
	/*
	 * First a checkpoint that leaves the target running (a backup): only its
	 * frozen time is kept. The image is thrown away.
	 */
	kmsg_skip();
	if (tool == CKPT) {
		snprintf(img, sizeof(img), "%s/ckpt-live.img", dir);
		char *argv[] = { (char *)ckpt, "checkpoint", pidarg, "-o", img, "--leave-running",
				 "-q", w->n > 1 && !strcmp(w->kind, "tree") ? "--tree" : NULL, NULL };
		rc = run(argv, &td);
		if (!rc && kmsg_timing("checkpoint", line, sizeof(line))) {
			char *f = strstr(line, "frozen=");

			fields_add(&res->lcp, line);
			if (f) {
				res->ldump[res->nlive] = td;
				res->live[res->nlive++] = strtod(f + 7, NULL);
			}
		}
	} else {
		snprintf(img, sizeof(img), "%s/criu-live.img", dir);
		rm_rf(img);
		mkdir(img, 0755);
		char *argv[] = { (char *)criu, "dump", "-t", pidarg, "-D", img, "-o", "dump.log",
				 "-v2", "--leave-running", NULL };
		rc = run(argv, &td);
		if (!rc) {
			double fr = criu_frozen_ms(img);

			if (fr >= 0)
				res->live[res->nlive++] = fr;
		}
	}
	rm_rf(img);
	if (rc) {
		printf("# %s checkpoint (left running) of %s:%zu failed (%d)\n", tool_name[tool],
		       w->kind, w->mib, rc);
		kill(-pid, SIGKILL);
		reap_all();
		return -1;
	}
	kmsg_skip();
	if (tool == CKPT) {
		snprintf(img, sizeof(img), "%s/ckpt.img", dir);
		char *argv[] = { (char *)ckpt, "checkpoint", pidarg, "-o", img, "--kill", "-q",
				 w->n > 1 && !strcmp(w->kind, "tree") ? "--tree" : NULL, NULL };
		rc = run(argv, &td);
	} else {
		snprintf(img, sizeof(img), "%s/criu.img", dir);
		rm_rf(img);
		mkdir(img, 0755);
		char *argv[] = { (char *)criu, "dump", "-t", pidarg, "-D", img, "-o", "dump.log",
				 "-v2", NULL };
		rc = run(argv, &td);
	}
	if (rc) {
		printf("# %s checkpoint of %s:%zu failed (%d)\n", tool_name[tool], w->kind, w->mib, rc);
		show_log(tool == CKPT ? "ckpt.log" : "criu.img/dump.log");
		kill(-pid, SIGKILL);
		reap_all();
		return -1;
	}
	if (tool == CKPT && tool_timing(line, sizeof(line)))
		fields_add(&res->tcp, line);
	if (tool == CKPT && kmsg_timing("checkpoint", line, sizeof(line))) {
		fields_add(&res->cp, line);
		char *f = strstr(line, "frozen=");

		if (f)
			res->frozen[res->nfrozen++] = strtod(f + 7, NULL);
	} else if (tool == CRIU) {
		double fr = criu_frozen_ms(img);

		if (fr >= 0)
			res->frozen[res->nfrozen++] = fr;
	}
	reap_all();	/* the killed target: its pid is free again */
	res->size[res->n] = size_mib(img);

	snprintf(fifo, sizeof(fifo), "%s/answer", dir);
	unlink(fifo);
	mkfifo(fifo, 0600);
	kmsg_skip();
	t0 = now();
	if (tool == CKPT) {
		char *argv[] = { (char *)ckpt, "restart", img, "--detach", "-q", NULL };
		rc = run(argv, &tr);
	} else {
		char *argv[] = { (char *)criu, "restore", "-D", img, "-d", "-o", "restore.log",
				 "-v2", NULL };
		rc = run(argv, &tr);
	}
	if (rc) {
		printf("# %s restart of %s:%zu failed (%d)\n", tool_name[tool], w->kind, w->mib, rc);
		show_log(tool == CKPT ? "ckpt.log" : "criu.img/restore.log");
		kill(-pid, SIGKILL);
		reap_all();
		rm_rf(img);
		return -1;
	}
	/* The restored process answers once it runs. */
	kill(pid, SIGUSR1);
	/* A restored process that never answers fails the bench, not hangs it. */
	alarm(900);
	fd = open(fifo, O_RDONLY);
	if (fd < 0 || read(fd, c, 1) != 1 || c[0] != 'r') {
		alarm(0);
		printf("# %s: the restored %s:%zu did not answer\n", tool_name[tool], w->kind, w->mib);
		kill(-pid, SIGKILL);
		reap_all();
		rm_rf(img);
		return -1;
	}
	tr = now() - t0;
	if (read(fd, c, 1) != 1 || c[0] != 'v' || waitpid(pid, &st, 0) != pid ||
	    !WIFEXITED(st) || WEXITSTATUS(st)) {
		alarm(0);
		printf("# %s: the restored %s:%zu FAILED to verify its memory\n", tool_name[tool],
		       w->kind, w->mib);
		close(fd);
		reap_all();
		rm_rf(img);
		return -2;
	}
	alarm(0);
	close(fd);
	reap_all();
	if (tool == CKPT && kmsg_timing("restart", line, sizeof(line)))
		fields_add(&res->rs, line);
	if (tool == CKPT && tool_timing(line, sizeof(line)))
		fields_add(&res->trs, line);
	rm_rf(img);
	res->dump[res->n] = td;
	res->restore[res->n] = tr;
	res->n++;
	return 0;
}

/* ---- reference costs ------------------------------------------------------ */

static void references(size_t mib)
{
	size_t len = mib * MIB;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0, mc, wr, rd, pp, fresh;
	char path[256];
	int fd, p[2];

	if (a == MAP_FAILED || b == MAP_FAILED)
		return;
	memset(a, 1, len);
	t0 = now();
	memcpy(b, a, len);
	fresh = now() - t0;
	t0 = now();
	memcpy(b, a, len);
	mc = now() - t0;
	munmap(b, len);
	snprintf(path, sizeof(path), "%s/ref", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	t0 = now();
	for (size_t off = 0; off < len; off += MIB)
		if (write(fd, a + off, MIB) != (ssize_t)MIB)
			break;
	wr = now() - t0;
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t0 = now();
	for (size_t off = 0; off < len; off += MIB)
		if (pread(fd, b + off, MIB, off) != (ssize_t)MIB)
			break;
	rd = now() - t0;
	close(fd);
	unlink(path);
	munmap(b, len);
	pp = -1;
	if (!pipe(p)) {
		pid_t pid;

		fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
		pid = fork();
		if (pid == 0) {
			static char sink[1 << 20];

			close(p[1]);
			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			_exit(0);
		}
		close(p[0]);
		t0 = now();
		for (size_t off = 0; off < len;) {
			ssize_t n = write(p[1], a + off, len - off < MIB ? len - off : MIB);

			if (n <= 0)
				break;
			off += n;
		}
		close(p[1]);
		waitpid(pid, NULL, 0);
		pp = now() - t0;
	}
	munmap(a, len);
	printf("BENCH ref %4zu MiB: memcpy %.1f ms, memcpy into fresh memory %.1f ms, "
	       "tmpfs write %.1f ms, tmpfs read into fresh memory %.1f ms, pipe %.1f ms\n",
	       mib, mc * 1e3, fresh * 1e3, wr * 1e3, rd * 1e3, pp * 1e3);
}

static double tool_start_ms(char *const argv[])
{
	double best = 1e9, t;

	for (int i = 0; i < 3; i++)
		if (!run(argv, &t) && t < best)
			best = t;
	return best * 1e3;
}

int main(int argc, char **argv)
{
	char *list = "mem:1,mem:16,mem:256,mem:1024,threads:8,tree:4";
	struct work works[16];
	static struct result res[16][NTOOLS];
	int nw = 0, runs = 5, opt, failed = 0, ntools = NTOOLS;
	char self[256];
	ssize_t sl;

	if (argc > 1 && !strcmp(argv[1], "target")) {
		if (argc < 7)
			return 2;
		/* -d DIR of the bench: where the answer fifo is. */
		if (argc > 7)
			dir = argv[7];
		return target(argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]),
			      strtoull(argv[5], NULL, 0), atoi(argv[6]));
	}
	while ((opt = getopt(argc, argv, "r:w:c:k:d:n")) != -1) {
		switch (opt) {
		case 'n': ntools = 1; break;
		case 'r': runs = atoi(optarg); break;
		case 'w': list = optarg; break;
		case 'c': criu = optarg; break;
		case 'k': ckpt = optarg; break;
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (runs < 1 || runs > MAXRUNS)
		runs = 5;
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		return 2;
	self[sl] = 0;
	for (char *s = strdup(list), *save, *tok = strtok_r(s, ",", &save); tok && nw < 16;
	     tok = strtok_r(NULL, ",", &save)) {
		struct work *w = &works[nw];
		char *c = strchr(tok, ':');

		if (!c)
			continue;
		*c = 0;
		snprintf(w->kind, sizeof(w->kind), "%s", tok);
		w->n = 1;
		if (!strcmp(tok, "mem")) {
			w->mib = strtoul(c + 1, NULL, 0);
		} else {
			w->n = atoi(c + 1);
			w->mib = (size_t)w->n * PER_UNIT_MIB;
		}
		nw++;
	}
	mkdir(dir, 0755);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	{
		char thp[128] = "?";
		int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);

		if (fd >= 0) {
			ssize_t n = read(fd, thp, sizeof(thp) - 1);

			thp[n > 0 ? n - 1 : 0] = 0;
			close(fd);
		}
		printf("BENCH setup: %d runs per tool, interleaved; images on tmpfs (%s); THP %s\n",
		       runs, dir, thp);
	}
	{
		char *cv[] = { (char *)ckpt, "version", NULL };
		char *crv[] = { (char *)criu, "--version", NULL };

		printf("BENCH tool start: `ckpt version` %.1f ms, `criu --version` %.1f ms (best of 3)\n",
		       tool_start_ms(cv), ntools > 1 ? tool_start_ms(crv) : 0.0);
	}
	for (int r = 0; r < runs; r++) {
		for (int i = 0; i < nw; i++) {
			for (int k = 0; k < ntools; k++) {
				/* Alternate which tool goes first. */
				int tool = ntools == 1 ? CKPT : (k + r) % NTOOLS;
				int e = one(tool, &works[i], 0x1234 + r * 77 + i, self, &res[i][tool]);

				if (e == -2)
					failed++;
			}
		}
	}
	for (int i = 0; i < nw; i++)
		if (!strcmp(works[i].kind, "mem"))
			references(works[i].mib);
	printf("BENCH workload         checkpoint ms      ratio    restart ms        ratio    frozen ms       image MiB       frozen ms, left running\n");
	printf("BENCH                  ckpt     criu    ckpt/criu  ckpt     criu   ckpt/criu  ckpt    criu    ckpt    criu    ckpt    criu\n");
	for (int i = 0; i < nw; i++) {
		struct result *a = &res[i][CKPT], *b = &res[i][CRIU];
		char name[32];
		double dc = median(a->dump, a->n) * 1e3, dr = median(b->dump, b->n) * 1e3;
		double rc = median(a->restore, a->n) * 1e3, rr = median(b->restore, b->n) * 1e3;

		snprintf(name, sizeof(name), "%.15s:%zu%s", works[i].kind,
			 !strcmp(works[i].kind, "mem") ? works[i].mib : (size_t)works[i].n,
			 !strcmp(works[i].kind, "mem") ? "MiB" : "");
		printf("BENCH %-14s %8.1f %8.1f %8.2f %8.1f %8.1f %8.2f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f  (n=%d/%d)\n",
		       name, dc, dr, dr > 0 ? dc / dr : 0, rc, rr, rr > 0 ? rc / rr : 0,
		       median(a->frozen, a->nfrozen), median(b->frozen, b->nfrozen),
		       median(a->size, a->n), median(b->size, b->n),
		       median(a->live, a->nlive), median(b->live, b->nlive), a->n, b->n);
	}
	printf("BENCH ckpt breakdown (module log, timing=1):\n");
	for (int i = 0; i < nw; i++) {
		char name[48];

		snprintf(name, sizeof(name), "%.15s:%zu", works[i].kind,
			 !strcmp(works[i].kind, "mem") ? works[i].mib : (size_t)works[i].n);
		printf("BENCH %s\n", name);
		if (res[i][CKPT].cp.runs)
			fields_print("checkpoint", &res[i][CKPT].cp,
				     median(res[i][CKPT].dump, res[i][CKPT].n) * 1e3);
		if (res[i][CKPT].tcp.runs)
			tool_print("ckpt tool", &res[i][CKPT].tcp);
		if (res[i][CKPT].lcp.runs)
			fields_print("running", &res[i][CKPT].lcp,
				     median(res[i][CKPT].ldump, res[i][CKPT].nlive) * 1e3);
		if (res[i][CKPT].rs.runs)
			fields_print("restart", &res[i][CKPT].rs,
				     median(res[i][CKPT].restore, res[i][CKPT].n) * 1e3);
		if (res[i][CKPT].trs.runs)
			tool_print("ckpt tool", &res[i][CKPT].trs);
	}
	for (int i = 0; i < nw; i++)
		for (int k = 0; k < ntools; k++)
			if (res[i][k].n < runs)
				failed++;
	printf("BENCH done: %s\n", failed ? "SOME RUNS FAILED" : "every restored process verified its memory");
	return failed ? 1 : 0;
}
