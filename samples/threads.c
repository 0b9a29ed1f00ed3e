// SPDX-License-Identifier: GPL-2.0
/*
 * threads: a multi-threaded program that checks its own threads survived a
 * checkpoint and restart.
 *
 *   threads [N]          N threads in all (main + N-1 workers), 1..64, default 16
 *
 * Every thread records at start its tid, a random-ish token (kept in a local
 * variable on its own stack, in a __thread variable and in a global array),
 * its pthread_self() and the address of the stack copy, and sets its own
 * signal mask: SIGUSR1 blocked in every worker (so the main thread takes it),
 * SIGUSR2 blocked iff the thread index is odd, SIGRTMIN+b blocked for every
 * bit b set in the index (so no two threads have the same mask).  Then each
 * thread loops: local counter + 1, shared counter + 1 (atomic), global
 * mirror of the local counter = local counter; it sleeps 10 ms every 256
 * rounds.  A thread only parks between two rounds, so once all are parked
 * the shared counter equals the sum of the per-thread counters.
 *
 * Output (stdout, flushed at once):
 *   ready PID                   all N threads run and have counted
 *   OK threads=N shared=S       after SIGUSR1: every check passed, exit 0
 *   FAIL <what>                 one line per failed check, then exit 1
 * Exit status 2: bad usage or setup failure.
 *
 * On SIGUSR1 (the handler only sets a flag) the main thread parks every
 * thread after its current round; each thread checks its own tid (gettid()
 * == the tid at start, getpid() == the pid at start), that its stack, TLS
 * and global tokens agree, its pthread_self(), its alternate stack, its
 * pending SIGUSR2 (odd threads send it to themselves at start) and its
 * signal mask; the main
 * thread then checks shared == sum, that no counter went backwards since
 * "ready", reads each thread's stack token through the saved address,
 * unparks them all and checks that every thread still counts.  Every wait
 * has a timeout (30 s), so a lost thread gives FAIL, not a hang.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXT 64
#define TIMEOUT_MS 30000		/* any wait of the program */

struct slot {
	pid_t tid;			/* gettid() at start */
	uint64_t token;			/* copy of the thread's token */
	const volatile uint64_t *stack_token;	/* where its stack copy lives */
	pthread_t self;			/* pthread_self() at start */
	uint64_t count;			/* mirror of its local counter */
	uint64_t at_ready;		/* count when "ready" was printed */
	void *altstack;			/* its sigaltstack (ALTSTACK bytes) */
	char bad[160];			/* its own verdict, empty if all is well */
};

#define ALTSTACK 16384

static struct slot slots[MAXT];
static int nthreads;
static pid_t pid0;
static uint64_t shared;			/* atomic */
static int started, parked, park;	/* atomic */
static uint64_t before[MAXT];		/* counts when the workers parked */
static volatile sig_atomic_t got_usr1;
static __thread uint64_t tls_token;

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);	/* EINTR only shortens a nap */
}

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

/* The mask thread @i sets at start and must still have. */
static void want_mask(int i, sigset_t *set)
{
	int b;

	sigemptyset(set);
	if (i > 0)
		sigaddset(set, SIGUSR1);
	if (i & 1)
		sigaddset(set, SIGUSR2);
	for (b = 0; b < 6; b++)
		if (i & (1 << b))
			sigaddset(set, SIGRTMIN + b);
}

/* One thread's checks of itself, run by that thread while it is parked. */
static void check_self(int i, uint64_t stack_token, uint64_t local)
{
	struct slot *s = &slots[i];
	sigset_t want, cur;
	int sig;

	s->bad[0] = 0;
	if (gettid() != s->tid || getpid() != pid0) {
		snprintf(s->bad, sizeof(s->bad), "thread %d: tid %d pid %d, was tid %d pid %d",
			 i, gettid(), getpid(), s->tid, pid0);
		return;
	}
	if (stack_token != tls_token || stack_token != s->token) {
		snprintf(s->bad, sizeof(s->bad), "thread %d: token stack %#llx tls %#llx global %#llx",
			 i, (unsigned long long)stack_token, (unsigned long long)tls_token,
			 (unsigned long long)s->token);
		return;
	}
	if (!pthread_equal(pthread_self(), s->self)) {
		snprintf(s->bad, sizeof(s->bad), "thread %d: pthread_self changed", i);
		return;
	}
	if (local != __atomic_load_n(&s->count, __ATOMIC_RELAXED)) {
		snprintf(s->bad, sizeof(s->bad), "thread %d: local count %llu, global %llu", i,
			 (unsigned long long)local, (unsigned long long)s->count);
		return;
	}
	{
		/* Its own alternate stack, and SIGUSR2 pending (blocked) in odd threads
		 * only: per-thread state. */
		stack_t ss;
		sigset_t pend;

		if (sigaltstack(NULL, &ss) || ss.ss_sp != s->altstack || ss.ss_size != ALTSTACK ||
		    ss.ss_flags != 0) {
			snprintf(s->bad, sizeof(s->bad), "thread %d: altstack %p+%zu flags %d, want %p+%d",
				 i, ss.ss_sp, ss.ss_size, ss.ss_flags, s->altstack, ALTSTACK);
			return;
		}
		sigpending(&pend);
		if (sigismember(&pend, SIGUSR2) != (i & 1)) {
			snprintf(s->bad, sizeof(s->bad), "thread %d: SIGUSR2 %spending", i,
				 sigismember(&pend, SIGUSR2) ? "" : "not ");
			return;
		}
	}
	want_mask(i, &want);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == 32 || sig == 33)	/* glibc's internal signals */
			continue;
		if (sigismember(&want, sig) != sigismember(&cur, sig)) {
			snprintf(s->bad, sizeof(s->bad), "thread %d: signal %d %sblocked", i, sig,
				 sigismember(&cur, sig) ? "" : "not ");
			return;
		}
	}
}

static void verify(uint64_t token, uint64_t local);

/*
 * The body of every thread (main is thread 0).  Never returns: thread 0
 * leaves through verify() when SIGUSR1 came.
 */
static void run(int i)
{
	volatile uint64_t token;	/* the stack copy */
	uint64_t local = 0;
	struct timespec ts;
	sigset_t set;

	want_mask(i, &set);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	{
		stack_t ss = { .ss_sp = malloc(ALTSTACK), .ss_size = ALTSTACK };

		slots[i].altstack = ss.ss_sp;
		if (!ss.ss_sp || sigaltstack(&ss, NULL))
			exit(2);
	}
	/* SIGUSR2 is blocked in odd threads: it stays pending in that thread. */
	if (i & 1)
		syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	token = ((uint64_t)ts.tv_nsec << 20 ^ (uint64_t)gettid() << 8 ^ i) * 0x9E3779B97F4A7C15ULL;
	tls_token = token;
	slots[i].token = token;
	slots[i].stack_token = &token;
	slots[i].tid = gettid();
	slots[i].self = pthread_self();
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);

	for (;;) {
		if (i == 0 && got_usr1)
			verify(token, local);
		if (i > 0 && __atomic_load_n(&park, __ATOMIC_SEQ_CST)) {
			check_self(i, token, local);
			__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&park, __ATOMIC_SEQ_CST))
				nap_ms(1);
			__atomic_sub_fetch(&parked, 1, __ATOMIC_SEQ_CST);
		}
		/* One round: no thread parks in the middle of these three. */
		local++;
		__atomic_add_fetch(&shared, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&slots[i].count, local, __ATOMIC_SEQ_CST);
		if ((local & 255) == 0)
			nap_ms(10);
	}
}

static void *worker(void *arg)
{
	run((int)(intptr_t)arg);
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits up to TIMEOUT_MS for @cond(@i) to hold; 0 when it does. */
static int wait_until(int (*cond)(int), int i)
{
	int64_t end = now_ms() + TIMEOUT_MS;

	while (!cond(i)) {
		if (now_ms() > end)
			return -1;
		nap_ms(1);
	}
	return 0;
}

static int workers_started(int i)
{
	return __atomic_load_n(&started, __ATOMIC_SEQ_CST) == nthreads - 1;
}

static int all_parked(int i)
{
	return __atomic_load_n(&parked, __ATOMIC_SEQ_CST) == nthreads - 1;
}

static int has_counted(int i)
{
	return __atomic_load_n(&slots[i].count, __ATOMIC_SEQ_CST) > 0;
}

static int counted_again(int i)
{
	return __atomic_load_n(&slots[i].count, __ATOMIC_SEQ_CST) > before[i];
}

/*
 * Thread 0, on SIGUSR1, from inside its loop (so that its own stack token
 * is still live): park the workers, check everything, unpark them, check
 * that they count again, exit.
 */
static void verify(uint64_t token, uint64_t local)
{
	uint64_t sum = 0, sh;
	int i, fails = 0;

	__atomic_store_n(&park, 1, __ATOMIC_SEQ_CST);
	if (wait_until(all_parked, 0)) {
		printf("FAIL only %d of %d workers parked\n", parked, nthreads - 1);
		fflush(stdout);
		exit(1);
	}
	check_self(0, token, local);
	for (i = 0; i < nthreads; i++) {
		uint64_t c = __atomic_load_n(&slots[i].count, __ATOMIC_SEQ_CST);

		sum += c;
		before[i] = c;
		if (slots[i].bad[0]) {
			printf("FAIL %s\n", slots[i].bad);
			fails++;
		}
		if (c == 0 || c < slots[i].at_ready) {
			printf("FAIL thread %d: count %llu, was %llu at ready\n", i,
			       (unsigned long long)c, (unsigned long long)slots[i].at_ready);
			fails++;
		}
		if (*slots[i].stack_token != slots[i].token) {
			printf("FAIL thread %d: stack token %#llx seen from thread 0, want %#llx\n",
			       i, (unsigned long long)*slots[i].stack_token,
			       (unsigned long long)slots[i].token);
			fails++;
		}
	}
	sh = __atomic_load_n(&shared, __ATOMIC_SEQ_CST);
	if (sh != sum) {
		printf("FAIL shared %llu != sum of counters %llu\n", (unsigned long long)sh,
		       (unsigned long long)sum);
		fails++;
	}

	/* Unpark: every worker must count again. */
	__atomic_store_n(&park, 0, __ATOMIC_SEQ_CST);
	for (i = 1; i < nthreads; i++) {
		if (wait_until(counted_again, i)) {
			printf("FAIL thread %d stopped counting\n", i);
			fails++;
		}
	}
	if (!fails)
		printf("OK threads=%d shared=%llu\n", nthreads, (unsigned long long)sum);
	fflush(stdout);
	exit(fails ? 1 : 0);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t t;
	int i;

	nthreads = argc > 1 ? atoi(argv[1]) : 16;
	if (argc > 2 || nthreads < 1 || nthreads > MAXT) {
		fprintf(stderr, "usage: threads [N]   (1 <= N <= %d, default 16)\n", MAXT);
		return 2;
	}
	pid0 = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	for (i = 1; i < nthreads; i++) {
		if (pthread_create(&t, NULL, worker, (void *)(intptr_t)i)) {
			fprintf(stderr, "threads: pthread_create failed\n");
			return 2;
		}
		pthread_detach(t);
	}
	/* Every worker has started and counted; then thread 0 joins in. */
	if (wait_until(workers_started, 0)) {
		printf("FAIL workers did not start\n");
		return 1;
	}
	for (i = 1; i < nthreads; i++) {
		if (wait_until(has_counted, i)) {
			printf("FAIL thread %d does not count\n", i);
			return 1;
		}
		slots[i].at_ready = __atomic_load_n(&slots[i].count, __ATOMIC_SEQ_CST);
	}
	printf("ready %d\n", pid0);
	fflush(stdout);
	run(0);
	return 0;
}
