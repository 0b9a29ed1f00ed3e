// SPDX-License-Identifier: GPL-2.0
/*
 * tree: a three-level process tree sharing objects, which checks after a
 * checkpoint and restart of the whole tree that the tree, and what its
 * processes share, came back.
 *
 *   tree [DATA_FILE]          (default /tmp/tree.data, created or truncated)
 *
 *   P  session leader (setsid() unless it already leads one)
 *   +- A        reads P's messages from pipe P->A, forwards them into A->G
 *   |  +- G     reads them from pipe A->G
 *   +- B        in a process group of its own (setpgid(0, 0))
 *   +- Z        exits at once with status 7; P leaves it a zombie
 *
 * Shared by the processes: DATA_FILE, opened once by P before the forks (one
 * open file description, one offset); a MAP_SHARED|MAP_ANONYMOUS region
 * (struct shm: the ids each process recorded at start, its counter, a shared
 * counter, a lock, the verdicts); the two pipes; stdout.
 *
 * Each process records its pid, ppid, pgid and sid at start, in the shared
 * region and in its private memory, then runs rounds, about one per 10 ms:
 * under the lock it checks that the data file's offset is exactly records *
 * RECSZ (so all share one offset), writes one RECSZ-byte record holding the
 * record's index and checks the offset again; then it adds 1 to its private
 * counter, mirrors it into its slot and adds 1 to the shared counter.  Each
 * round P also sends the next sequence number (8 bytes) into P->A; A and G
 * check every number is the previous one + 1 (no gap, no duplicate).
 *
 * Output (P only; stdout, flushed at once):
 *   ready P a=A b=B g=G z=Z     the whole tree runs (Z is a zombie); P..Z pids
 *   OK tree P=.. A=.. B=.. G=.. Z=.. shared=S records=R seq=N
 *                               after SIGUSR1: all checks passed, all children
 *                               exited; exit status 0
 *   FAIL <who>: <what>          one line per failed check; exit status 1
 * Exit status 2: bad usage or setup failure.
 *
 * On SIGUSR1 (to P; the handler only sets a flag) P stops sending and sends
 * an end mark carrying the last number through P->A->G, and sets "verify"
 * in the shared region for B.  Each process then checks its pid, ppid,
 * pgid and sid against what it recorded (P's ppid is not checked: the
 * restarter becomes its parent), the file offset, its private counter
 * against its slot, and A and G that the end mark carries the last number
 * they got; each posts its verdict in the shared region, then exits 0 (A
 * after reaping G).  P waits for the verdicts, checks shared == sum of the
 * counters, every record of the data file up to the offset, reaps Z
 * (WEXITSTATUS must be 7) and A and B (status 0), and prints the result.
 * Every wait has a timeout (30 s): on failure P kills the rest of the tree.
 * If P dies, A and G see end of file on their pipe and B sees its parent
 * change: they exit (status 3), so no orphans stay behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECSZ 32			/* bytes per record of the data file */
#define TIMEOUT_MS 30000		/* any wait of the program */
#define END_MARK (1ULL << 63)		/* ORed into the last pipe message */

enum { P, A, B, G, NPROC };
static const char names[] = "PABG";

struct ids {
	pid_t pid, ppid, pgid, sid;
};

struct proc {
	struct ids ids;			/* at start */
	uint64_t count;			/* mirror of its private counter */
	uint64_t at_ready;		/* count when P printed "ready" */
	uint64_t seq;			/* A, G: last sequence number received */
	int state;			/* 0 starting, 1 running, 2 verdict posted */
	char bad[200];			/* its first failure, empty if none */
};

struct shm {
	int lock;
	int verify;			/* set by P on SIGUSR1 */
	uint64_t shared;		/* +1 per round of every process */
	uint64_t records;		/* records in the data file */
	pid_t zpid;
	struct proc p[NPROC];
};

static struct shm *shm;
static int datafd;
static int who;				/* this process: P, A, B or G */
static struct ids mine;			/* private copy of shm->p[who].ids */
static uint64_t local;			/* private counter */
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);	/* EINTR only shortens a nap */
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Records this process's first failure in its slot. */
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
	char *b = shm->p[who].bad;
	va_list ap;

	if (b[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(shm->p[who].bad), fmt, ap);
	va_end(ap);
}

static void lock(void)
{
	while (__atomic_exchange_n(&shm->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void unlock(void)
{
	__atomic_store_n(&shm->lock, 0, __ATOMIC_RELEASE);
}

/* The data file's offset must be records * RECSZ: one shared offset. */
static void check_offset(const char *when)
{
	off_t off = lseek(datafd, 0, SEEK_CUR);

	if (off != (off_t)(shm->records * RECSZ))
		bad("file offset %lld %s, want %llu", (long long)off, when,
		    (unsigned long long)shm->records * RECSZ);
}

/* One round: a record into the data file, the counters. */
static void round_(void)
{
	char rec[RECSZ + 1];

	lock();
	check_offset("before a write");
	memset(rec, ' ', RECSZ);
	snprintf(rec, sizeof(rec), "%010llu %c %d %llu", (unsigned long long)shm->records,
		 names[who], getpid(), (unsigned long long)local);
	rec[strlen(rec)] = ' ';
	rec[RECSZ - 1] = '\n';
	if (write(datafd, rec, RECSZ) != RECSZ)
		bad("write to the data file: %s", strerror(errno));
	else
		shm->records++;
	check_offset("after a write");
	unlock();

	local++;
	__atomic_store_n(&shm->p[who].count, local, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&shm->shared, 1, __ATOMIC_SEQ_CST);
}

static void record_ids(void)
{
	mine.pid = getpid();
	mine.ppid = getppid();
	mine.pgid = getpgid(0);
	mine.sid = getsid(0);
	shm->p[who].ids = mine;
	__atomic_store_n(&shm->p[who].state, 1, __ATOMIC_SEQ_CST);
}

/* The checks every process makes of itself, then its verdict is posted. */
static void verify_self(void)
{
	struct ids now = { getpid(), getppid(), getpgid(0), getsid(0) };

	if (now.pid != mine.pid || (who != P && now.ppid != mine.ppid) ||
	    now.pgid != mine.pgid || now.sid != mine.sid)
		bad("pid %d ppid %d pgid %d sid %d, was %d %d %d %d", now.pid, now.ppid, now.pgid,
		    now.sid, mine.pid, mine.ppid, mine.pgid, mine.sid);
	if (memcmp(&mine, &shm->p[who].ids, sizeof(mine)))
		bad("ids in the shared region differ from the private copy");
	lock();
	check_offset("at verification");
	unlock();
	if (local != __atomic_load_n(&shm->p[who].count, __ATOMIC_SEQ_CST))
		bad("private counter %llu, shared slot %llu", (unsigned long long)local,
		    (unsigned long long)shm->p[who].count);
	__atomic_store_n(&shm->p[who].state, 2, __ATOMIC_SEQ_CST);
}

/* Reads one message; exits (status 3) at end of file: the writer died. */
static uint64_t get(int fd)
{
	uint64_t m;
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(m)) {
		r = read(fd, (char *)&m + n, sizeof(m) - n);
		if (r == 0)
			_exit(3);
		if (r < 0 && errno != EINTR) {
			bad("pipe read: %s", strerror(errno));
			_exit(3);
		}
		if (r > 0)
			n += r;
	}
	return m;
}

static void put(int fd, uint64_t m)
{
	if (write(fd, &m, sizeof(m)) != sizeof(m)) {
		bad("pipe write: %s", strerror(errno));
		if (who != P)
			_exit(3);
	}
}

/* A and G: check and pass on the sequence until the end mark. */
static void relay(int in, int out)
{
	uint64_t m, want = 1;

	for (;;) {
		m = get(in);
		if (out >= 0)
			put(out, m);
		if (m & END_MARK) {
			if ((m & ~END_MARK) != shm->p[who].seq)
				bad("end mark says %llu, last number got %llu",
				    (unsigned long long)(m & ~END_MARK),
				    (unsigned long long)shm->p[who].seq);
			return;
		}
		if (m != want) {
			bad("got number %llu, want %llu", (unsigned long long)m,
			    (unsigned long long)want);
			want = m;
		}
		want++;
		__atomic_store_n(&shm->p[who].seq, m, __ATOMIC_SEQ_CST);
		round_();
	}
}

static void run_g(int in)
{
	who = G;
	record_ids();
	relay(in, -1);
	verify_self();
	_exit(0);
}

static void run_a(int in)
{
	int ag[2], st;
	pid_t g;

	who = A;
	record_ids();
	if (pipe(ag))
		_exit(2);
	g = fork();
	if (g < 0)
		_exit(2);
	if (g == 0) {
		close(in);
		close(ag[1]);
		run_g(ag[0]);
	}
	close(ag[0]);
	relay(in, ag[1]);
	if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st))
		bad("G (%d) ended with status %#x", g, st);
	verify_self();
	_exit(0);
}

static void run_b(void)
{
	who = B;
	if (setpgid(0, 0))
		_exit(2);
	record_ids();
	while (!__atomic_load_n(&shm->verify, __ATOMIC_SEQ_CST)) {
		if (getppid() != mine.ppid)
			_exit(3);	/* P is gone */
		round_();
		nap_ms(10);
	}
	verify_self();
	_exit(0);
}

/* Waits up to TIMEOUT_MS for child @pid to end; its status, or -1. */
static int reap(pid_t pid)
{
	int64_t end = now_ms() + TIMEOUT_MS;
	int st;

	while (now_ms() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		nap_ms(5);
	}
	return -1;
}

/* P's end: prints every failure, kills what is left, exits 1. */
static void fail_all(pid_t a, pid_t b, pid_t z)
{
	pid_t g = shm->p[G].ids.pid;
	int i;

	for (i = 0; i < NPROC; i++)
		if (shm->p[i].bad[0])
			printf("FAIL %c: %s\n", names[i], shm->p[i].bad);
	fflush(stdout);
	/* Never kill(-1, ...): only pids that are there. */
	if (g > 0)
		kill(g, SIGKILL);
	if (a > 0)
		kill(a, SIGKILL);
	if (b > 0)
		kill(b, SIGKILL);
	if (a > 0)
		reap(a);
	if (b > 0)
		reap(b);
	if (z > 0)
		reap(z);
	exit(1);
}

static int all_state(int state)
{
	int i;

	for (i = 0; i < NPROC; i++)
		if (__atomic_load_n(&shm->p[i].state, __ATOMIC_SEQ_CST) < state)
			return 0;
	return 1;
}

/* The tree as P sees it at "ready": who is whose child, groups, session. */
static void check_shape(void)
{
	struct ids *p = &shm->p[P].ids, *a = &shm->p[A].ids, *b = &shm->p[B].ids,
		   *g = &shm->p[G].ids;

	if (p->pgid != p->pid || p->sid != p->pid || a->ppid != p->pid || b->ppid != p->pid ||
	    g->ppid != a->pid || a->pgid != p->pid || g->pgid != p->pid || b->pgid != b->pid ||
	    a->sid != p->pid || b->sid != p->pid || g->sid != p->pid)
		bad("tree shape: P %d/%d/%d A %d/%d/%d B %d/%d/%d G %d/%d/%d (pid/pgid/sid)",
		    p->pid, p->pgid, p->sid, a->pid, a->pgid, a->sid, b->pid, b->pgid, b->sid,
		    g->pid, g->pgid, g->sid);
}

/* Every record of the data file up to the shared offset holds its index. */
static void check_file(void)
{
	char rec[RECSZ + 1];
	unsigned long long k, idx;
	struct stat stb;
	char c;

	if (fstat(datafd, &stb) || stb.st_size < (off_t)(shm->records * RECSZ)) {
		bad("data file is %lld bytes, want at least %llu", (long long)stb.st_size,
		    (unsigned long long)shm->records * RECSZ);
		return;
	}
	for (k = 0; k < shm->records; k++) {
		rec[RECSZ] = 0;
		if (pread(datafd, rec, RECSZ, k * RECSZ) != RECSZ ||
		    sscanf(rec, "%llu %c", &idx, &c) != 2 || idx != k || !strchr(names, c) ||
		    rec[RECSZ - 1] != '\n') {
			bad("data file record %llu is wrong: %.31s", k, rec);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/tree.data";
	int pa[2], st, i;
	pid_t a, b, z;
	uint64_t seq = 0, sum = 0;
	int64_t end;
	struct sigaction sa;
	siginfo_t si;

	if (argc > 2) {
		fprintf(stderr, "usage: tree [DATA_FILE]\n");
		return 2;
	}
	if (getsid(0) != getpid() && setsid() < 0) {
		fprintf(stderr, "tree: not a session leader and setsid failed: %s\n",
			strerror(errno));
		return 2;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	datafd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (shm == MAP_FAILED || datafd < 0 || pipe(pa)) {
		perror("tree: setup");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	who = P;
	record_ids();
	fflush(stdout);

	a = fork();
	if (a == 0) {
		close(pa[1]);
		run_a(pa[0]);
	}
	close(pa[0]);
	b = a < 0 ? -1 : fork();
	if (b == 0) {
		close(pa[1]);
		run_b();
	}
	z = b < 0 ? -1 : fork();
	if (z == 0)
		_exit(7);
	if (z < 0) {
		perror("tree: fork");
		return 2;
	}
	shm->zpid = z;
	/* Z must be a zombie before "ready": wait for its exit, but keep it. */
	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT) || si.si_code != CLD_EXITED ||
	    si.si_status != 7)
		bad("Z did not exit with status 7");

	/* Run until SIGUSR1; say "ready" once every process has done a round. */
	end = now_ms() + TIMEOUT_MS;
	for (i = 0; !got_usr1; ) {
		put(pa[1], ++seq);
		round_();
		if (!i && all_state(1) && shm->p[G].seq && shm->p[B].count) {
			check_shape();
			for (i = 0; i < NPROC; i++)
				shm->p[i].at_ready = shm->p[i].count;
			if (shm->p[P].bad[0])
				fail_all(a, b, z);
			printf("ready %d a=%d b=%d g=%d z=%d\n", getpid(), a, b,
			       shm->p[G].ids.pid, z);
			fflush(stdout);
			i = 1;
		}
		if (!i && now_ms() > end) {
			bad("the tree did not start");
			fail_all(a, b, z);
		}
		nap_ms(10);
	}

	/* SIGUSR1: end mark down the pipes, "verify" for B, then P itself. */
	__atomic_store_n(&shm->verify, 1, __ATOMIC_SEQ_CST);
	put(pa[1], END_MARK | seq);
	verify_self();
	end = now_ms() + TIMEOUT_MS;
	while (!all_state(2)) {
		if (now_ms() > end) {
			for (i = 0; i < NPROC; i++)
				if (shm->p[i].state < 2)
					printf("FAIL %c: no verdict (state %d)\n", names[i],
					       shm->p[i].state);
			fail_all(a, b, z);
		}
		nap_ms(5);
	}
	for (i = 0; i < NPROC; i++) {
		sum += shm->p[i].count;
		if (!shm->p[i].count || shm->p[i].count < shm->p[i].at_ready)
			printf("FAIL %c: counter %llu, was %llu at ready\n", names[i],
			       (unsigned long long)shm->p[i].count,
			       (unsigned long long)shm->p[i].at_ready);
	}
	if (sum != shm->shared)
		bad("shared counter %llu != sum of counters %llu",
		    (unsigned long long)shm->shared, (unsigned long long)sum);
	if (shm->p[A].seq != seq || shm->p[G].seq != seq)
		bad("sent %llu numbers, A got %llu, G got %llu", (unsigned long long)seq,
		    (unsigned long long)shm->p[A].seq, (unsigned long long)shm->p[G].seq);
	check_file();
	st = reap(z);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		bad("zombie Z (%d): status %#x, want exit 7", z, st);
	st = reap(a);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		bad("A (%d) ended with status %#x", a, st);
	st = reap(b);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		bad("B (%d) ended with status %#x", b, st);
	for (i = 0; i < NPROC; i++)
		if (shm->p[i].bad[0] || !shm->p[i].count || shm->p[i].count < shm->p[i].at_ready)
			fail_all(a, b, z);
	printf("OK tree P=%d A=%d B=%d G=%d Z=%d shared=%llu records=%llu seq=%llu\n",
	       getpid(), a, b, shm->p[G].ids.pid, z, (unsigned long long)sum,
	       (unsigned long long)shm->records, (unsigned long long)seq);
	fflush(stdout);
	return 0;
}
