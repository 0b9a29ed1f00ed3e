// SPDX-License-Identifier: GPL-2.0
/*
 * Event-loop files that must come back with their exact state, or be refused
 * at checkpoint time with a reason (issue 11):
 *
 * - eventfd: a count above 32 bits, a semaphore-mode eventfd, O_NONBLOCK;
 * - timerfd: time left and interval of relative and absolute timers, one
 *   expired and unread, expirations set with TFD_IOC_SET_TICKS;
 * - signalfd: its mask; a blocked signal sent after restart is read from it;
 * - epoll: the entries' events and data (a pipe with data, an eventfd, the
 *   same eventfd under a second fd), EPOLL_CTL_MOD/DEL/ADD on the restored
 *   set (the entries' keys), a consumed EPOLLONESHOT entry, a nested set, a
 *   set shared by a parent and its child, and one whose child closed an fd
 *   the set watches (the file held by the parent only);
 * - inotify: a watch keeps its watch descriptor and reports files created
 *   after restart; with events queued, it is refused;
 * - fanotify: groups of each kind (a permission class, FID reporting, made
 *   without CAP_SYS_ADMIN) keep their flags and marks (inode marks with an
 *   ignore mask, evictable) and report files touched after restart;
 *   a filesystem mark (on a tmpfs of its own) reports files written on it;
 *   mount marks (mask and ignore mask) on a tmpfs mount of its own keep
 *   their fdinfo and report files written on the mount;
 *   refused: events queued, a mount mark on a mount the process has no path
 *   on or one covered by another mount, a filesystem mark on a filesystem
 *   the process has no path on, a mark on a deleted file;
 * - epoll entries whose fd numbers were closed or replaced since they were
 *   added (the files open at other fds) come back under their numbers; one
 *   whose file no fd of the process holds (only in flight) is refused;
 * - an epoll set watching a signalfd wakes for a signal sent after restart;
 *   one whose signalfd entry another process added is refused;
 * - timers across a downtime (4 s between checkpoint and restart): relative
 *   timerfds, absolute timerfds on CLOCK_MONOTONIC, POSIX timers on
 *   CLOCK_MONOTONIC and ITIMER_REAL keep the time they had left (the downtime
 *   is not counted); an absolute periodic timerfd on CLOCK_REALTIME keeps its
 *   date and counts every period missed during the downtime.
 *
 * As in ckpt_files.c, each program is the test binary exec'ed with
 * CKPT_PROG=MODE: it sets up its state, says it is ready and waits for
 * a "go" file; the test checkpoints it with `ckpt checkpoint --kill`, creates
 * the go file and restarts it with `ckpt restart`; the restored program
 * checks its own state and exits 0, or with the line of the first check that
 * failed (its log: /tmp/events-MODE.log).
 */
#include "ckpt_util.h"
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <stddef.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"
#define PROG_NAME "events"
#include "ckpt_prog.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

/* ---- the programs -------------------------------------------------------- */

static uint64_t rd64(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, 8) != 8)
		return (uint64_t)-1;
	return v;
}

static uint64_t ns_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + t->tv_nsec;
}

/* eventfd: a count above 32 bits, a semaphore with 3. */
static int efd_big, efd_sem;
#define BIG_COUNT ((1ULL << 33) + 7)

static int eventfd_setup(void)
{
	uint64_t v = BIG_COUNT - 5;

	efd_big = eventfd(5, EFD_NONBLOCK);
	efd_sem = eventfd(3, EFD_SEMAPHORE);
	CHECK(efd_big >= 0 && efd_sem >= 0);
	CHECK(write(efd_big, &v, 8) == 8);
	return 0;
}

static int eventfd_verify(void)
{
	CHECK(fcntl(efd_big, F_GETFL) & O_NONBLOCK);
	CHECK(!(fcntl(efd_sem, F_GETFL) & O_NONBLOCK));
	CHECK(rd64(efd_big) == BIG_COUNT);
	CHECK(rd64(efd_big) == (uint64_t)-1 && errno == EAGAIN);
	for (int i = 0; i < 3; i++)
		CHECK(rd64(efd_sem) == 1);
	CHECK(fcntl(efd_sem, F_SETFL, O_NONBLOCK) == 0);
	CHECK(rd64(efd_sem) == (uint64_t)-1 && errno == EAGAIN);
	return 0;
}

/* timerfd: relative (30 s, every 10 s), absolute on CLOCK_REALTIME (in
 * 60 s), one-shot expired and unread, and one with 5 expirations set. */
static int tfd_rel, tfd_abs, tfd_fired, tfd_ticks;
static uint64_t abs_at;

static int timerfd_setup(void)
{
	struct itimerspec rel = { .it_value = { 30, 0 }, .it_interval = { 10, 0 } };
	struct itimerspec shot = { .it_value = { 0, 10 * 1000 * 1000 } };
	struct itimerspec far = { .it_value = { 3600, 0 } };
	struct itimerspec abs = {};
	struct timespec now;
	uint64_t five = 5;

	tfd_rel = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	tfd_abs = timerfd_create(CLOCK_REALTIME, 0);
	tfd_fired = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	tfd_ticks = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK(tfd_rel >= 0 && tfd_abs >= 0 && tfd_fired >= 0 && tfd_ticks >= 0);
	CHECK(timerfd_settime(tfd_rel, 0, &rel, NULL) == 0);
	clock_gettime(CLOCK_REALTIME, &now);
	abs_at = ns_of(&now) + 60ULL * 1000000000ULL;
	abs.it_value.tv_sec = abs_at / 1000000000ULL;
	abs.it_value.tv_nsec = abs_at % 1000000000ULL;
	CHECK(timerfd_settime(tfd_abs, TFD_TIMER_ABSTIME, &abs, NULL) == 0);
	CHECK(timerfd_settime(tfd_fired, 0, &shot, NULL) == 0);
	CHECK(timerfd_settime(tfd_ticks, 0, &far, NULL) == 0);
	CHECK(ioctl(tfd_ticks, TFD_IOC_SET_TICKS, &five) == 0);
	sleep_ms(50);
	return 0;
}

static int timerfd_verify(void)
{
	struct itimerspec it;
	struct timespec now;

	CHECK(timerfd_gettime(tfd_rel, &it) == 0);
	CHECK(it.it_interval.tv_sec == 10 && it.it_interval.tv_nsec == 0);
	CHECK(ns_of(&it.it_value) > 0 && ns_of(&it.it_value) <= 30ULL * 1000000000ULL);
	CHECK(rd64(tfd_rel) == (uint64_t)-1 && errno == EAGAIN);
	/* Absolute: it fires at the same wall-clock time. */
	CHECK(timerfd_gettime(tfd_abs, &it) == 0);
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK(it.it_interval.tv_sec == 0 && it.it_value.tv_sec <= 60);
	{
		uint64_t left = ns_of(&it.it_value), at = ns_of(&now) + left;

		CHECK(at + 50000000ULL > abs_at && at < abs_at + 50000000ULL);
	}
	/* Expired, unread: one expiration, then disarmed. */
	CHECK(rd64(tfd_fired) == 1);
	CHECK(timerfd_gettime(tfd_fired, &it) == 0);
	CHECK(ns_of(&it.it_value) == 0 && ns_of(&it.it_interval) == 0);
	/* Five expirations set by the ioctl, still armed for an hour. */
	CHECK(rd64(tfd_ticks) == 5);
	CHECK(timerfd_gettime(tfd_ticks, &it) == 0);
	CHECK(it.it_value.tv_sec > 3500 && it.it_value.tv_sec <= 3600);
	return 0;
}

/*
 * Timers across a downtime: each monotonic timer has 100 s left at setup; the
 * wall-clock one is due 1 s after setup, then every 250 ms.  After the restart,
 * with E seconds gone on CLOCK_MONOTONIC since setup (the downtime D >= 4 s
 * included), a timer that kept its time left has about 100 - (E - D) s left:
 * more than 100 - E + 3; the wall-clock one counts 1 + (E - 1) / 0.25 periods.
 */
static int dt_rel, dt_mabs, dt_rabs;
static int dt_posix;
static uint64_t dt_t0, dt_w0;

static uint64_t now_on(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return ns_of(&t);
}

static int downtime_setup(void)
{
	struct itimerspec rel = { .it_value = { 100, 0 } };
	struct itimerspec mabs = {}, rabs = { .it_interval = { 0, 250 * 1000 * 1000 } };
	struct itimerval real = { .it_value = { 100, 0 } };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	sigset_t alrm;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	CHECK(sigprocmask(SIG_BLOCK, &alrm, NULL) == 0);
	dt_rel = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	dt_mabs = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	dt_rabs = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	CHECK(dt_rel >= 0 && dt_mabs >= 0 && dt_rabs >= 0);
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &dt_posix) == 0);
	dt_t0 = now_on(CLOCK_MONOTONIC);
	dt_w0 = now_on(CLOCK_REALTIME);
	mabs.it_value.tv_sec = (dt_t0 + 100000000000ULL) / 1000000000ULL;
	mabs.it_value.tv_nsec = (dt_t0 + 100000000000ULL) % 1000000000ULL;
	rabs.it_value.tv_sec = (dt_w0 + 1000000000ULL) / 1000000000ULL;
	rabs.it_value.tv_nsec = (dt_w0 + 1000000000ULL) % 1000000000ULL;
	CHECK(timerfd_settime(dt_rel, 0, &rel, NULL) == 0);
	CHECK(timerfd_settime(dt_mabs, TFD_TIMER_ABSTIME, &mabs, NULL) == 0);
	CHECK(timerfd_settime(dt_rabs, TFD_TIMER_ABSTIME, &rabs, NULL) == 0);
	CHECK(syscall(SYS_timer_settime, dt_posix, 0, &rel, NULL) == 0);
	CHECK(setitimer(ITIMER_REAL, &real, NULL) == 0);
	return 0;
}

static int downtime_verify(void)
{
	uint64_t e = now_on(CLOCK_MONOTONIC) - dt_t0, w, want, ticks;
	uint64_t floor_ns = 100000000000ULL + 3000000000ULL - e;
	struct itimerspec it;
	struct itimerval real;

	printf("downtime: %llu ms since setup\n", (unsigned long long)(e / 1000000));
	CHECK(e > 4000000000ULL && e < 90000000000ULL);
	CHECK(timerfd_gettime(dt_rel, &it) == 0);
	printf("relative timerfd: %llu ms left\n", (unsigned long long)(ns_of(&it.it_value) / 1000000));
	CHECK(ns_of(&it.it_value) > floor_ns && ns_of(&it.it_value) <= 100000000000ULL);
	CHECK(timerfd_gettime(dt_mabs, &it) == 0);
	printf("absolute monotonic timerfd: %llu ms left\n",
	       (unsigned long long)(ns_of(&it.it_value) / 1000000));
	CHECK(ns_of(&it.it_value) > floor_ns && ns_of(&it.it_value) <= 100000000000ULL);
	CHECK(syscall(SYS_timer_gettime, dt_posix, &it) == 0);
	printf("POSIX timer: %llu ms left\n", (unsigned long long)(ns_of(&it.it_value) / 1000000));
	CHECK(ns_of(&it.it_value) > floor_ns && ns_of(&it.it_value) <= 100000000000ULL);
	CHECK(getitimer(ITIMER_REAL, &real) == 0);
	printf("ITIMER_REAL: %ld s left\n", (long)real.it_value.tv_sec);
	CHECK(real.it_value.tv_sec * 1000000000ULL > floor_ns - 1000000000ULL);
	/* The wall-clock deadline: every period since, the downtime's included. */
	ticks = rd64(dt_rabs);
	w = now_on(CLOCK_REALTIME) - dt_w0;
	want = 1 + (w - 1000000000ULL) / 250000000ULL;
	printf("wall-clock timerfd: %llu expirations, %llu expected\n",
	       (unsigned long long)ticks, (unsigned long long)want);
	CHECK(ticks + 1 >= want && ticks <= want);
	return 0;
}

/* signalfd: SIGUSR1 and SIGUSR2 blocked and read through it. */
static int sfd;

static int signalfd_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	sfd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(sfd >= 0);
	return 0;
}

static int signalfd_verify(void)
{
	struct signalfd_siginfo si;
	char path[64], buf[512];
	int fd, n;

	CHECK(read(sfd, &si, sizeof(si)) < 0 && errno == EAGAIN);
	CHECK(kill(getpid(), SIGUSR2) == 0);
	CHECK(read(sfd, &si, sizeof(si)) == sizeof(si));
	CHECK(si.ssi_signo == SIGUSR2 && si.ssi_pid == (uint32_t)getpid());
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1);
	/* The mask, as fdinfo shows it: SIGUSR1 (10) and SIGUSR2 (12). */
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", sfd);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n > 0);
	buf[n] = 0;
	CHECK(strstr(buf, "sigmask:\t0000000000000a00"));
	return 0;
}

/*
 * epoll: set ep watches the read end of a pipe holding a byte (data 0x1111),
 * an eventfd with count 1 (edge-triggered, 0x2222) and the same eventfd under
 * a second fd (0x5555); ep3 watches the pipe's write end with EPOLLONESHOT
 * (0x3333), consumed before the checkpoint; ep2 watches ep (0x4444).
 */
static int ep, ep2, ep3, ep_pipe[2], ep_efd, ep_efd2;

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int epoll_setup(void)
{
	struct epoll_event ev;

	CHECK(pipe(ep_pipe) == 0);
	CHECK(write(ep_pipe[1], "x", 1) == 1);
	ep_efd = eventfd(1, EFD_NONBLOCK);
	CHECK(ep_efd >= 0);
	ep_efd2 = dup(ep_efd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ep2 = epoll_create1(0);
	ep3 = epoll_create1(0);
	CHECK(ep >= 0 && ep2 >= 0 && ep3 >= 0 && ep_efd2 >= 0);
	CHECK(epoll_add(ep, ep_pipe[0], EPOLLIN, 0x1111) == 0);
	CHECK(epoll_add(ep, ep_efd, EPOLLIN | EPOLLET, 0x2222) == 0);
	CHECK(epoll_add(ep, ep_efd2, EPOLLIN, 0x5555) == 0);
	CHECK(epoll_add(ep3, ep_pipe[1], EPOLLOUT | EPOLLONESHOT, 0x3333) == 0);
	CHECK(epoll_add(ep2, ep, EPOLLIN, 0x4444) == 0);
	CHECK(epoll_wait(ep3, &ev, 1, 1000) == 1 && ev.data.u64 == 0x3333);
	CHECK(epoll_wait(ep3, &ev, 1, 0) == 0);
	return 0;
}

/* The data of the ready entries of @epfd, as a bit set of 0x1111 -> 1,
 * 0x2222 -> 2, ... */
static unsigned ready(int epfd)
{
	struct epoll_event ev[8];
	unsigned got = 0;
	int n = epoll_wait(epfd, ev, 8, 100);

	for (int i = 0; i < n; i++)
		got |= 1u << (ev[i].data.u64 / 0x1111);
	return got;
}

static int epoll_verify(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x6666 };
	char c;

	CHECK(fcntl(ep, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(ep2, F_GETFD) & FD_CLOEXEC));
	/* The nested set sees the inner one ready. */
	CHECK(ready(ep2) == 1u << 4);
	CHECK(ready(ep) == ((1u << 1) | (1u << 2) | (1u << 5)));
	/* Edge-triggered: not again until the eventfd changes. */
	CHECK(ready(ep) == ((1u << 1) | (1u << 5)));
	/* The consumed one-shot entry stays quiet until re-armed. */
	CHECK(epoll_wait(ep3, &ev, 1, 0) == 0);
	ev = (struct epoll_event){ .events = EPOLLOUT | EPOLLONESHOT, .data.u64 = 0x3333 };
	CHECK(epoll_ctl(ep3, EPOLL_CTL_MOD, ep_pipe[1], &ev) == 0);
	CHECK(ready(ep3) == 1u << 3);
	/* The keys: MOD, DEL and ADD find the entries under their fds. */
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x6666 };
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, ep_pipe[0], &ev) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, ep_efd2, NULL) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, ep_efd2, NULL) < 0 && errno == ENOENT);
	CHECK(epoll_add(ep, ep_efd, EPOLLIN, 0x7777) < 0 && errno == EEXIST);
	CHECK(ready(ep) == 1u << 6);
	CHECK(read(ep_pipe[0], &c, 1) == 1 && c == 'x');
	CHECK(ready(ep) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, ep_efd, NULL) == 0);
	CHECK(epoll_add(ep, ep_efd, EPOLLIN, 0x7777) == 0);
	CHECK(ready(ep) == 1u << 7);
	CHECK(rd64(ep_efd) == 1);
	CHECK(ready(ep) == 0);
	CHECK(ready(ep2) == 0);
	return 0;
}

/* A set shared by a parent and its child: the child writes to the pipe the
 * set watches once restored; the parent sees it through the set. */
static int tree_ep, tree_pipe[2];
static pid_t tree_child;

static int epolltree_setup(void)
{
	CHECK(pipe(tree_pipe) == 0);
	tree_ep = epoll_create1(0);
	CHECK(tree_ep >= 0);
	CHECK(epoll_add(tree_ep, tree_pipe[0], EPOLLIN, 0xabcd) == 0);
	tree_child = fork();
	CHECK(tree_child >= 0);
	if (tree_child == 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0xdcba };

		while (access(go_path, F_OK))
			sleep_ms(20);
		/* The same set, restored once for both. */
		if (epoll_ctl(tree_ep, EPOLL_CTL_MOD, tree_pipe[0], &ev))
			_exit(5);
		if (write(tree_pipe[1], "y", 1) != 1)
			_exit(6);
		_exit(0);
	}
	return 0;
}

static int epolltree_verify(void)
{
	struct epoll_event ev;
	int st;

	CHECK(waitpid(tree_child, &st, 0) == tree_child);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(epoll_wait(tree_ep, &ev, 1, 2000) == 1 && ev.data.u64 == 0xdcba);
	return 0;
}

/* A set inherited by a child that closed the fd of a file the set watches
 * (as a server's fork child closes its listening socket): only the parent
 * holds that file, the set is saved once, with the parent's table.  Once
 * restored, the child writes to the pipe and sees the entry fire through the
 * set; so does the parent, which reads the byte. */
static int fc_ep, fc_pipe[2];
static pid_t fc_child;

static int epollforked_setup(void)
{
	CHECK(pipe(fc_pipe) == 0);
	fc_ep = epoll_create1(0);
	CHECK(fc_ep >= 0);
	CHECK(epoll_add(fc_ep, fc_pipe[0], EPOLLIN, 0x5151) == 0);
	fc_child = fork();
	CHECK(fc_child >= 0);
	if (fc_child == 0) {
		struct epoll_event ev;

		if (close(fc_pipe[0]))
			_exit(4);
		while (access(go_path, F_OK))
			sleep_ms(20);
		if (write(fc_pipe[1], "z", 1) != 1)
			_exit(5);
		if (epoll_wait(fc_ep, &ev, 1, 2000) != 1 || ev.data.u64 != 0x5151)
			_exit(6);
		_exit(0);
	}
	return 0;
}

static int epollforked_verify(void)
{
	struct epoll_event ev;
	char c;
	int st;

	CHECK(waitpid(fc_child, &st, 0) == fc_child);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(epoll_wait(fc_ep, &ev, 1, 2000) == 1 && ev.data.u64 == 0x5151);
	CHECK(read(fc_pipe[0], &c, 1) == 1 && c == 'z');
	CHECK(epoll_wait(fc_ep, &ev, 1, 0) == 0);
	return 0;
}

/* An epoll set watching unix sockets (what asyncio's event loop holds): a
 * connected pair with 5 bytes queued (0x1111), the other end's fired one-shot
 * entry (0x2222), a listener with an abstract name (0x3333). */
static int es_ep, es_pair[2], es_lsn;
static char es_name[64];

static socklen_t es_addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, es_name, strlen(es_name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(es_name);
}

static int epollsock_setup(void)
{
	struct sockaddr_un a;
	struct epoll_event ev;
	socklen_t len;

	snprintf(es_name, sizeof(es_name), "ckpt-epollsock-%d", getpid());
	len = es_addr(&a);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, es_pair) == 0);
	es_lsn = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(es_lsn >= 0);
	CHECK(bind(es_lsn, (struct sockaddr *)&a, len) == 0 && listen(es_lsn, 4) == 0);
	es_ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(es_ep >= 0);
	CHECK(epoll_add(es_ep, es_pair[0], EPOLLIN, 0x1111) == 0);
	CHECK(epoll_add(es_ep, es_pair[1], EPOLLOUT | EPOLLONESHOT, 0x2222) == 0);
	CHECK(epoll_add(es_ep, es_lsn, EPOLLIN, 0x3333) == 0);
	CHECK(epoll_wait(es_ep, &ev, 1, 1000) == 1 && ev.data.u64 == 0x2222);
	CHECK(write(es_pair[1], "hello", 5) == 5);
	return 0;
}

static int epollsock_verify(void)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLONESHOT, .data.u64 = 0x2222 };
	struct sockaddr_un a;
	socklen_t len = es_addr(&a);
	char buf[8];
	int c, s;

	/* The queued bytes make the pair's end ready; nothing else is. */
	CHECK(ready(es_ep) == 1u << 1);
	CHECK(read(es_pair[0], buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5));
	CHECK(ready(es_ep) == 0);
	/* The listener, under its name, reports a new connection. */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(c >= 0 && connect(c, (struct sockaddr *)&a, len) == 0);
	CHECK(ready(es_ep) == 1u << 3);
	s = accept(es_lsn, NULL, NULL);
	CHECK(s >= 0 && write(c, "x", 1) == 1 && read(s, buf, 1) == 1 && buf[0] == 'x');
	CHECK(ready(es_ep) == 0);
	/* The fired one-shot entry, re-armed, fires once. */
	CHECK(epoll_ctl(es_ep, EPOLL_CTL_MOD, es_pair[1], &ev) == 0);
	CHECK(ready(es_ep) == 1u << 2);
	CHECK(ready(es_ep) == 0);
	/* The pair still carries bytes both ways. */
	CHECK(write(es_pair[0], "ok", 2) == 2 && read(es_pair[1], buf, 2) == 2);
	close(c);
	close(s);
	return 0;
}

/* inotify: watch 1 on dir A removed (its IN_IGNORED read), watch 2 on dir B
 * for IN_CREATE; after restart a file made in B is reported under wd 2. */
static int ino_fd;
static char ino_a[64], ino_b[64];

static int inotify_setup(void)
{
	char buf[4096];
	int w1, w2;

	snprintf(ino_a, sizeof(ino_a), "/tmp/events-ino-a-%d", getpid());
	snprintf(ino_b, sizeof(ino_b), "/tmp/events-ino-b-%d", getpid());
	CHECK(mkdir(ino_a, 0755) == 0 && mkdir(ino_b, 0755) == 0);
	ino_fd = inotify_init1(IN_NONBLOCK);
	CHECK(ino_fd >= 0);
	w1 = inotify_add_watch(ino_fd, ino_a, IN_CREATE);
	w2 = inotify_add_watch(ino_fd, ino_b, IN_CREATE | IN_DELETE);
	CHECK(w1 == 1 && w2 == 2);
	CHECK(inotify_rm_watch(ino_fd, w1) == 0);
	CHECK(read(ino_fd, buf, sizeof(buf)) > 0);
	CHECK(read(ino_fd, buf, sizeof(buf)) < 0 && errno == EAGAIN);
	return 0;
}

static int inotify_verify(void)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *e = (struct inotify_event *)buf;
	char path[128];
	int n;

	CHECK(read(ino_fd, buf, sizeof(buf)) < 0 && errno == EAGAIN);
	snprintf(path, sizeof(path), "%s/new", ino_b);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	n = read(ino_fd, buf, sizeof(buf));
	CHECK(n >= (int)sizeof(*e));
	CHECK(e->wd == 2 && (e->mask & IN_CREATE) && !strcmp(e->name, "new"));
	/* The next watch gets the next descriptor. */
	CHECK(inotify_add_watch(ino_fd, ino_a, IN_CREATE) == 3);
	unlink(path);
	rmdir(ino_a);
	rmdir(ino_b);
	return 0;
}

/* Refused: an inotify file with an event queued. */
static int inoqueued_setup(void)
{
	char path[128];

	snprintf(ino_b, sizeof(ino_b), "/tmp/events-inoq-%d", getpid());
	CHECK(mkdir(ino_b, 0755) == 0);
	ino_fd = inotify_init1(0);
	CHECK(ino_fd >= 0 && inotify_add_watch(ino_fd, ino_b, IN_CREATE) == 1);
	snprintf(path, sizeof(path), "%s/f", ino_b);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	return 0;
}

/* Entries whose fd numbers no longer hold their files (close() without
 * EPOLL_CTL_DEL, as ZDTM's epoll01 does): pipes 0 and 1 were added under fd
 * 702 and closed there, pipe 2 was added under 702 and still holds it, pipe 3
 * was added under 701 and closed there. Each pipe's read end stays open at
 * its own fd. After restart every entry reports its own pipe, fd 702 holds
 * pipe 2, fd 701 is closed, and DEL under 702 removes pipe 2's entry only. */
static int eg_ep, eg_pipe[4][2];

static int epollgone_setup(void)
{
	static const int at[4] = { 702, 702, 702, 701 };

	eg_ep = epoll_create1(0);
	CHECK(eg_ep >= 0);
	for (int i = 0; i < 4; i++) {
		CHECK(pipe(eg_pipe[i]) == 0);
		CHECK(dup2(eg_pipe[i][0], at[i]) == at[i]);
		CHECK(epoll_add(eg_ep, at[i], EPOLLIN, i) == 0);
		if (i != 2)
			CHECK(close(at[i]) == 0);
	}
	return 0;
}

/* How many entries of epoll set @epfd are keyed by fd @fd (its fdinfo). */
static int entries_under(int epfd, int fd)
{
	char path[64], line[256];
	int n = 0, tfd;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd)
			n++;
	fclose(f);
	return n;
}

static int epollgone_verify(void)
{
	struct stat a, b;
	struct epoll_event ev;
	char c;

	CHECK(entries_under(eg_ep, 702) == 3 && entries_under(eg_ep, 701) == 1);
	CHECK(fstat(702, &a) == 0 && fstat(eg_pipe[2][0], &b) == 0 && a.st_ino == b.st_ino);
	CHECK(fcntl(701, F_GETFD) < 0 && errno == EBADF);
	CHECK(epoll_wait(eg_ep, &ev, 1, 0) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(write(eg_pipe[i][1], "e", 1) == 1);
		CHECK(epoll_wait(eg_ep, &ev, 1, 1000) == 1 && ev.data.u64 == (uint64_t)i);
		CHECK(read(eg_pipe[i][0], &c, 1) == 1);
	}
	/* The entry keyed by (pipe 2, 702) is the one fd 702 finds. */
	CHECK(epoll_ctl(eg_ep, EPOLL_CTL_DEL, 702, NULL) == 0);
	CHECK(entries_under(eg_ep, 702) == 2);
	CHECK(write(eg_pipe[2][1], "e", 1) == 1 && epoll_wait(eg_ep, &ev, 1, 100) == 0);
	CHECK(write(eg_pipe[0][1], "e", 1) == 1);
	CHECK(epoll_wait(eg_ep, &ev, 1, 1000) == 1 && ev.data.u64 == 0);
	return 0;
}

/* Refused: an epoll entry whose file no fd of the process holds (closed after
 * it was sent in flight over a unix socket of the process). */
static int epollflight_setup(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec io = { .iov_base = "f", .iov_len = 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int e = eventfd(0, 0), sp[2];

	ep = epoll_create1(0);
	CHECK(e >= 0 && ep >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	CHECK(epoll_add(ep, e, EPOLLIN, 1) == 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &e, sizeof(int));
	CHECK(sendmsg(sp[0], &m, 0) == 1);
	CHECK(close(e) == 0);
	return 0;
}

/* An epoll set watching a signalfd (as PostgreSQL's latches wait for SIGURG):
 * the entry's wakeups hang on the signal handlers of the process that added
 * it, so the restart adds it in the restored process's own signal context;
 * a SIGURG sent after the restart wakes the set and is read from the
 * signalfd. */
static int esf_ep, esf_sfd;

static int epollsigfd_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	esf_sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	esf_ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(esf_sfd >= 0 && esf_ep >= 0);
	CHECK(epoll_add(esf_ep, esf_sfd, EPOLLIN, 0x5157) == 0);
	return 0;
}

static int epollsigfd_verify(void)
{
	struct signalfd_siginfo si;
	struct epoll_event ev;
	pid_t child;
	int st;

	CHECK(epoll_wait(esf_ep, &ev, 1, 0) == 0);
	CHECK(kill(getpid(), SIGURG) == 0);
	CHECK(epoll_wait(esf_ep, &ev, 1, 2000) == 1 && ev.data.u64 == 0x5157);
	CHECK(read(esf_sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGURG);
	CHECK(epoll_wait(esf_ep, &ev, 1, 0) == 0);
	/* Sent by another process while the set waits. */
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		sleep_ms(200);
		_exit(kill(getppid(), SIGURG) ? 1 : 0);
	}
	CHECK(epoll_wait(esf_ep, &ev, 1, 5000) == 1 && ev.data.u64 == 0x5157);
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(read(esf_sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGURG);
	return 0;
}

/* Refused: an epoll entry watching a signalfd that another process added (a
 * child, gone since): the process's own signals never woke it. */
static int epollsigfdother_setup(void)
{
	sigset_t set;
	pid_t child;
	int st;

	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	esf_sfd = signalfd(-1, &set, SFD_NONBLOCK);
	esf_ep = epoll_create1(0);
	CHECK(esf_sfd >= 0 && esf_ep >= 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0)
		_exit(epoll_add(esf_ep, esf_sfd, EPOLLIN, 0x5158) ? 1 : 0);
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}

/* fanotify: three groups, every one checked after restart against the fdinfo
 * it had (init flags, event flags, each mark's inode, masks and flags), with
 * O_NONBLOCK and FD_CLOEXEC as they were, and by the events of files touched
 * after restart:
 * - fan1, FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | unlimited queue and
 *   marks: dir A for FAN_OPEN | FAN_CLOSE_WRITE on its children (and
 *   FAN_CLOSE_NOWRITE in an ignored mask that survives modification), file G for
 *   FAN_OPEN | FAN_CLOSE_WRITE with FAN_CLOSE_WRITE ignored (FAN_MARK_IGNORE),
 *   file H (held open) for FAN_MODIFY, evictable; an event read before; an
 *   epoll set watching it;
 * - fan2, FAN_REPORT_DFID_NAME | FAN_REPORT_FID, blocking: dir B for
 *   FAN_CREATE | FAN_ONDIR (a child process's mkdir is reported with its pid
 *   and name);
 * - fan3, made without CAP_SYS_ADMIN (unprivileged, FAN_REPORT_FID): dir C
 *   for FAN_CREATE (a file a child process makes: its pid is not shown, 0). */
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200
#endif
static int fan1, fan2, fan3, fan_h;
static char fan_a[64], fan_b[64], fan_c[64], fan_g[64], fan_hp[64];
static char fan_info[3][2048];

/* The lines of fd @fd's fdinfo that say what the group is ("flags:" and
 * "fanotify ..."), into @out. */
static int fan_fdinfo(int fd, char *out, size_t len)
{
	char path[64], line[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags:", 6) && strncmp(line, "fanotify", 8))
			continue;
		n += snprintf(out + n, len - n, "%s", line);
	}
	fclose(f);
	return n < len ? 0 : -1;
}

/* Makes @path (mode 0644) and closes it. */
static int touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);

	return fd < 0 ? -1 : close(fd);
}

/* Switches CAP_SYS_ADMIN in the effective set on or off. */
static int sys_admin(bool on)
{
	struct { uint32_t version; int pid; } h = { 0x20080522, 0 };
	struct { uint32_t eff, perm, inh; } d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].eff |= 1u << 21;
	else
		d[0].eff &= ~(1u << 21);
	return syscall(SYS_capset, &h, d);
}

static int fanotify_setup(void)
{
	char buf[4096], path[128];
	int n;

	snprintf(fan_a, sizeof(fan_a), "/tmp/events-fan-a-%d", getpid());
	snprintf(fan_b, sizeof(fan_b), "/tmp/events-fan-b-%d", getpid());
	snprintf(fan_c, sizeof(fan_c), "/tmp/events-fan-c-%d", getpid());
	snprintf(fan_g, sizeof(fan_g), "/tmp/events-fan-g-%d", getpid());
	snprintf(fan_hp, sizeof(fan_hp), "/tmp/events-fan-h-%d", getpid());
	CHECK(mkdir(fan_a, 0755) == 0 && mkdir(fan_b, 0755) == 0 && mkdir(fan_c, 0777) == 0);
	CHECK(touch(fan_g) == 0);
	fan_h = open(fan_hp, O_CREAT | O_RDWR, 0644);
	CHECK(fan_h >= 0);

	fan1 = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK |
			     FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS, O_RDONLY | O_LARGEFILE);
	CHECK(fan1 >= 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD,
			    AT_FDCWD, fan_a) == 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			    FAN_CLOSE_NOWRITE, AT_FDCWD, fan_a) == 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE_WRITE, AT_FDCWD, fan_g) == 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_CLOSE_WRITE, AT_FDCWD,
			    fan_g) == 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD | FAN_MARK_EVICTABLE, FAN_MODIFY, AT_FDCWD,
			    fan_hp) == 0);
	/* An event read: the queue is empty again. */
	snprintf(path, sizeof(path), "%s/before", fan_a);
	CHECK(touch(path) == 0);
	n = read(fan1, buf, sizeof(buf));
	CHECK(n >= (int)FAN_EVENT_METADATA_LEN);
	for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
	     m = FAN_EVENT_NEXT(m, n))
		if (m->fd >= 0)
			close(m->fd);
	CHECK(read(fan1, buf, sizeof(buf)) < 0 && errno == EAGAIN);
	unlink(path);
	CHECK(read(fan1, buf, sizeof(buf)) < 0 && errno == EAGAIN);

	fan2 = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID, O_RDONLY);
	CHECK(fan2 >= 0);
	CHECK(fanotify_mark(fan2, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR, AT_FDCWD, fan_b) == 0);

	CHECK(sys_admin(false) == 0);
	fan3 = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
	CHECK(sys_admin(true) == 0);
	CHECK(fan3 >= 0);
	CHECK(fanotify_mark(fan3, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, fan_c) == 0);

	/* An event loop's epoll set watches fan1. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0 && epoll_add(ep, fan1, EPOLLIN, 0xfa1) == 0);
	CHECK(fan_fdinfo(fan1, fan_info[0], sizeof(fan_info[0])) == 0);
	CHECK(fan_fdinfo(fan2, fan_info[1], sizeof(fan_info[1])) == 0);
	CHECK(fan_fdinfo(fan3, fan_info[2], sizeof(fan_info[2])) == 0);
	CHECK(strstr(fan_info[0], "mflags:400") && strstr(fan_info[0], "mflags:200") &&
	      strstr(fan_info[0], "mflags:40 "));
	return 0;
}

/* The events queued in fanotify group @fd (waiting up to a second for the
 * first): ORed masks of the events on @name (the file the event's fd opens, or
 * the name it reports; NULL: every event), and the pid of the last one. */
static uint64_t fan_events(int fd, const char *name, int *pid)
{
	char buf[8192] __attribute__((aligned(8))), path[64], link[256];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t mask = 0;
	int n;

	if (poll(&p, 1, 1000) != 1)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			bool ours = !name;

			if (ours) {
				if (m->fd >= 0)
					close(m->fd);
			} else if (m->fd >= 0) {
				snprintf(path, sizeof(path), "/proc/self/fd/%d", m->fd);
				memset(link, 0, sizeof(link));
				ours = readlink(path, link, sizeof(link) - 1) > 0 &&
				       !strcmp(link, name);
				close(m->fd);
			} else {
				ours = memmem(m, m->event_len, name, strlen(name) + 1) != NULL;
			}
			if (ours) {
				mask |= m->mask;
				*pid = m->pid;
			}
		}
		p.revents = 0;
		if (poll(&p, 1, 0) != 1)
			break;
	}
	return mask;
}

/* A child process makes directory (@dir) or file @path; its pid. */
static pid_t child_make(const char *path, bool dir)
{
	pid_t c = fork();

	if (c == 0)
		_exit((dir ? mkdir(path, 0755) : touch(path)) ? 1 : 0);
	if (c > 0 && waitpid(c, NULL, 0) != c)
		return -1;
	return c;
}

static int fanotify_verify(void)
{
	char info[2048], path[128], buf[256];
	int pid = -1;
	pid_t c;

	/* The groups as they were. */
	CHECK(fan_fdinfo(fan1, info, sizeof(info)) == 0 && !strcmp(info, fan_info[0]));
	CHECK(fan_fdinfo(fan2, info, sizeof(info)) == 0 && !strcmp(info, fan_info[1]));
	CHECK(fan_fdinfo(fan3, info, sizeof(info)) == 0 && !strcmp(info, fan_info[2]));
	CHECK((fcntl(fan1, F_GETFL) & (O_NONBLOCK | O_ACCMODE)) == (O_NONBLOCK | O_RDWR));
	CHECK(!(fcntl(fan2, F_GETFL) & O_NONBLOCK) && (fcntl(fan3, F_GETFL) & O_NONBLOCK));
	CHECK(fcntl(fan1, F_GETFD) == FD_CLOEXEC && fcntl(fan2, F_GETFD) == 0);
	CHECK(read(fan1, buf, sizeof(buf)) < 0 && errno == EAGAIN);

	/* fan1: a file made in A (the epoll set watching fan1 wakes up), G opened
	 * for writing, H modified. */
	CHECK(ready(ep) == 0);
	snprintf(path, sizeof(path), "%s/new", fan_a);
	CHECK(touch(path) == 0);
	{
		struct epoll_event ev;

		CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == 0xfa1);
	}
	CHECK(fan_events(fan1, path, &pid) == (FAN_OPEN | FAN_CLOSE_WRITE) && pid == getpid());
	CHECK(touch(fan_g) == 0);
	CHECK(fan_events(fan1, fan_g, &pid) == FAN_OPEN);
	CHECK(write(fan_h, "x", 1) == 1);
	CHECK(fan_events(fan1, fan_hp, &pid) == FAN_MODIFY);

	/* fan2: a directory a child makes in B, with the child's pid. */
	snprintf(path, sizeof(path), "%s/sub", fan_b);
	c = child_make(path, true);
	CHECK(c > 0);
	CHECK(fan_events(fan2, "sub", &pid) == (FAN_CREATE | FAN_ONDIR) && pid == c);

	/* fan3 (unprivileged): the child's pid is not shown. */
	snprintf(path, sizeof(path), "%s/sub", fan_c);
	c = child_make(path, false);
	CHECK(c > 0);
	CHECK(fan_events(fan3, NULL, &pid) == FAN_CREATE && pid == 0);

	sh("rm -rf /tmp/events-fan-*-%d", getpid());
	return 0;
}

/* Refused: a fanotify group with an event queued. */
static int fanqueued_setup(void)
{
	char path[128];
	int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);

	snprintf(path, sizeof(path), "/tmp/events-fanq-%d", getpid());
	CHECK(fa >= 0 && touch(path) == 0);
	CHECK(fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, path) == 0);
	CHECK(touch(path) == 0);
	return 0;
}

/* Mounts a tmpfs at /tmp/events-TAG-PID (into @dir) and makes group fan1
 * (@flags) with a mark of kind @how (FAN_MARK_MOUNT, FAN_MARK_FILESYSTEM) for
 * @mask on it. */
static int fan_own_tmpfs(char *dir, size_t len, const char *tag, unsigned int flags,
			 unsigned int how, uint64_t mask)
{
	snprintf(dir, len, "/tmp/events-%s-%d", tag, getpid());
	CHECK(mkdir(dir, 0755) == 0);
	CHECK(mount("none", dir, "tmpfs", 0, NULL) == 0);
	fan1 = fanotify_init(flags, O_RDONLY);
	CHECK(fan1 >= 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD | how, mask, AT_FDCWD, dir) == 0);
	return 0;
}

/* After restart: fan1's fdinfo is fan_info[0], and a file written at
 * @dir/@name is reported; then @dir is unmounted and removed. */
static int fan_own_verify(const char *dir, const char *name)
{
	char info[2048], path[128];
	int pid = -1;

	CHECK(fan_fdinfo(fan1, info, sizeof(info)) == 0 && !strcmp(info, fan_info[0]));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(touch(path) == 0);
	CHECK(fan_events(fan1, path, &pid) == FAN_CLOSE_WRITE && pid == getpid());
	CHECK(chdir("/") == 0 && umount(dir) == 0 && rmdir(dir) == 0);
	return 0;
}

/* fanotify mount marks (ZDTM's fanotify00 marks /tmp's mount): on a tmpfs
 * mounted at D (the working directory: a path of the process's on that mount),
 * FAN_OPEN | FAN_CLOSE_WRITE with FAN_OPEN ignored (surviving modification);
 * after restart the fdinfo is the same (the mount keeps its id on this boot)
 * and a file written on the mount is reported. */
static char fanmnt_dir[64];

static int fanmount_setup(void)
{
	CHECK(fan_own_tmpfs(fanmnt_dir, sizeof(fanmnt_dir), "fanmnt", FAN_CLASS_NOTIF | FAN_NONBLOCK,
			    FAN_MARK_MOUNT, FAN_OPEN | FAN_CLOSE_WRITE) == 0);
	CHECK(chdir(fanmnt_dir) == 0);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_IGNORED_MASK |
				    FAN_MARK_IGNORED_SURV_MODIFY,
			    FAN_OPEN, AT_FDCWD, fanmnt_dir) == 0);
	CHECK(fan_fdinfo(fan1, fan_info[0], sizeof(fan_info[0])) == 0);
	CHECK(strstr(fan_info[0], "fanotify mnt_id:"));
	return 0;
}

static int fanmount_verify(void)
{
	return fan_own_verify(fanmnt_dir, "new");
}

/* Refused: a mount mark on a mount none of the process's root, working
 * directory and open files is on. */
static int fanmountnopath_setup(void)
{
	return fan_own_tmpfs(fanmnt_dir, sizeof(fanmnt_dir), "fanmntn", FAN_CLASS_NOTIF,
			     FAN_MARK_MOUNT, FAN_CLOSE_WRITE);
}

/* Refused: a mount mark on a mount another is mounted over (the process
 * holds a file on the marked one, but no path names it). */
static int fanmountover_setup(void)
{
	char path[128];

	/* The group first: its fd is seen before the file's, whose path is
	 * covered too. */
	CHECK(fan_own_tmpfs(fanmnt_dir, sizeof(fanmnt_dir), "fanmnto", FAN_CLASS_NOTIF,
			    FAN_MARK_MOUNT, FAN_CLOSE_WRITE) == 0);
	snprintf(path, sizeof(path), "%s/held", fanmnt_dir);
	fan_h = open(path, O_CREAT | O_RDWR, 0644);
	CHECK(fan_h > fan1);
	CHECK(mount("none", fanmnt_dir, "tmpfs", 0, NULL) == 0);
	return 0;
}

/* fanotify: a filesystem mark on a tmpfs of its own (mounted at D, the
 * working directory: a path of the process's on that filesystem): after
 * restart the fdinfo is the same and a file written anywhere on it is
 * reported. */
static char fanfs_dir[64];

static int fanfs_setup(void)
{
	CHECK(fan_own_tmpfs(fanfs_dir, sizeof(fanfs_dir), "fanfs", FAN_CLASS_NOTIF | FAN_NONBLOCK,
			    FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE) == 0);
	CHECK(chdir(fanfs_dir) == 0 && mkdir("sub", 0755) == 0);
	CHECK(fan_fdinfo(fan1, fan_info[0], sizeof(fan_info[0])) == 0);
	CHECK(strstr(fan_info[0], "fanotify sdev:"));
	return 0;
}

static int fanfs_verify(void)
{
	return fan_own_verify(fanfs_dir, "sub/new");
}

/* Refused: a filesystem mark on a filesystem the process has no path on (a
 * tmpfs of its own, neither its root, its working directory nor an open
 * file's). */
static int fanfsnopath_setup(void)
{
	return fan_own_tmpfs(fanfs_dir, sizeof(fanfs_dir), "fanfsn", FAN_CLASS_NOTIF,
			     FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE);
}

/* Refused at restart: a mark for FAN_OPEN on a file the program holds open
 * (opened after the group, so its file comes after the group's in the image):
 * the restart's own opening of the file by path queues an event the program
 * never had. */
static int fanself_setup(void)
{
	char path[128];

	snprintf(path, sizeof(path), "/tmp/events-fans-%d", getpid());
	fan1 = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	CHECK(fan1 >= 0);
	fan_h = open(path, O_CREAT | O_RDWR, 0644);
	CHECK(fan_h > fan1);
	CHECK(fanotify_mark(fan1, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, path) == 0);
	return 0;
}

/* Refused: a mark on a deleted file (held open, so the inode lives). */
static int fandeleted_setup(void)
{
	char path[128];
	int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);

	snprintf(path, sizeof(path), "/tmp/events-fand-%d", getpid());
	fan_h = open(path, O_CREAT | O_RDWR, 0644);
	CHECK(fa >= 0 && fan_h >= 0);
	CHECK(fanotify_mark(fa, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, path) == 0);
	CHECK(unlink(path) == 0);
	return 0;
}

static const struct prog progs[] = {
	{ "eventfd", eventfd_setup, eventfd_verify },
	{ "timerfd", timerfd_setup, timerfd_verify },
	{ "signalfd", signalfd_setup, signalfd_verify },
	{ "epoll", epoll_setup, epoll_verify },
	{ "epolltree", epolltree_setup, epolltree_verify },
	{ "epollforked", epollforked_setup, epollforked_verify },
	{ "epollsock", epollsock_setup, epollsock_verify },
	{ "inotify", inotify_setup, inotify_verify },
	{ "inoqueued", inoqueued_setup, NULL },
	{ "epollgone", epollgone_setup, epollgone_verify },
	{ "epollflight", epollflight_setup, NULL },
	{ "epollsigfd", epollsigfd_setup, epollsigfd_verify },
	{ "epollsigfdother", epollsigfdother_setup, NULL },
	{ "downtime", downtime_setup, downtime_verify },
	{ "fanotify", fanotify_setup, fanotify_verify },
	{ "fanqueued", fanqueued_setup, NULL },
	{ "fanmount", fanmount_setup, fanmount_verify },
	{ "fanmountnopath", fanmountnopath_setup, NULL },
	{ "fanmountover", fanmountover_setup, NULL },
	{ "fanfs", fanfs_setup, fanfs_verify },
	{ "fanfsnopath", fanfsnopath_setup, NULL },
	{ "fandeleted", fandeleted_setup, NULL },
	{ "fanself", fanself_setup, NULL },
};

__attribute__((constructor)) static void events_prog(void)
{
	prog_main(progs, sizeof(progs) / sizeof(progs[0]), NULL);
}

/* ---- the test side ------------------------------------------------------- */

FIXTURE(events) {
	char img[64];
};

FIXTURE_SETUP(events)
{
	/* Restored programs are orphans: the test reaps them. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	snprintf(self->img, sizeof(self->img), "/tmp/events-%d.img", getpid());
}

FIXTURE_TEARDOWN(events)
{
	unlink(self->img);
}

TEST_F_TIMEOUT(events, eventfd_count_and_semaphore, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "eventfd", false));
}

TEST_F_TIMEOUT(events, timerfd_time_left_interval_and_expirations, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "timerfd", false));
}

TEST_F_TIMEOUT(events, timers_keep_time_left_across_a_downtime, 150)
{
	round_trip_downtime_ms = 4000;
	EXPECT_EQ(0, round_trip(_metadata, self->img, "downtime", false));
	round_trip_downtime_ms = 0;
}

TEST_F_TIMEOUT(events, signalfd_mask_reads_signals_sent_after_restart, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "signalfd", false));
}

TEST_F_TIMEOUT(events, epoll_entries_keys_oneshot_and_nested_sets, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epoll", false));
}

TEST_F_TIMEOUT(events, epoll_set_shared_by_a_parent_and_its_child, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epolltree", true));
}

TEST_F_TIMEOUT(events, epoll_set_inherited_by_a_child_that_closed_a_watched_fd, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epollforked", true));
}

TEST_F_TIMEOUT(events, epoll_set_watching_unix_sockets, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epollsock", false));
}

TEST_F_TIMEOUT(events, inotify_watch_descriptor_and_new_events, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "inotify", false));
}

TEST_F_TIMEOUT(events, inotify_with_queued_events_is_refused, 60)
{
	check_refuses(_metadata, "inoqueued", "queued");
	sh("rm -rf /tmp/events-inoq-*");
}

TEST_F_TIMEOUT(events, fanotify_groups_marks_and_new_events, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "fanotify", false));
	sh("rm -rf /tmp/events-fan-*");
}

/* A restarter without CAP_SYS_ADMIN (dropped from its bounding set) cannot
 * make the image's privileged fanotify groups: `ckpt restart` fails with
 * fanotify_init's reason and nothing is restored; with it, the restart works. */
TEST_F_TIMEOUT(events, fanotify_restart_without_cap_sys_admin_fails_cleanly, 120)
{
	char go[64], line[512] = "";
	pid_t pid = start_prog("fanotify"), c;
	int st = -1;
	FILE *f;

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --kill -q > /tmp/events-ckpt.out 2>&1", pid,
			self->img));
	kill_reap(pid);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(go, sizeof(go), "/tmp/" PROG_NAME "-go-%d", pid);
	close(open(go, O_WRONLY | O_CREAT, 0600));
	c = fork();
	ASSERT_LE(0, c);
	if (c == 0) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "timeout -s KILL 60 " CKPT
			 " restart %s -q > /tmp/events-nosysadmin.out 2>&1", self->img);
		if (prctl(PR_CAPBSET_DROP, 21 /* CAP_SYS_ADMIN */, 0, 0, 0))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(c, waitpid(c, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) < 126);
	f = fopen("/tmp/events-nosysadmin.out", "r");
	if (f) {
		size_t n = fread(line, 1, sizeof(line) - 1, f);

		line[n] = 0;
		fclose(f);
	}
	EXPECT_NE(NULL, strstr(line, "fanotify group")) TH_LOG("restart said: %s", line);
	EXPECT_NE(NULL, strstr(line, "not permitted")) TH_LOG("restart said: %s", line);
	EXPECT_EQ(-1, kill(pid, 0));
	/* With CAP_SYS_ADMIN: restored, and its checks pass. */
	EXPECT_EQ(0, sh("timeout -s KILL 60 " CKPT " restart %s -q", self->img));
	unlink(go);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sh("rm -rf /tmp/events-fan-*");
}

/* The restart refuses a fanotify group its own opening of a marked file gave
 * an event (the program's file reopened by path), and restores nothing. */
TEST_F_TIMEOUT(events, fanotify_event_caused_by_the_restart_is_refused, 120)
{
	char go[64], line[512] = "";
	pid_t pid = start_prog("fanself");
	FILE *f;

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --kill -q > /tmp/events-ckpt.out 2>&1", pid,
			self->img));
	kill_reap(pid);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(go, sizeof(go), "/tmp/" PROG_NAME "-go-%d", pid);
	close(open(go, O_WRONLY | O_CREAT, 0600));
	EXPECT_NE(0, sh("timeout -s KILL 60 " CKPT " restart %s -q > /tmp/events-self.out 2>&1",
			self->img));
	unlink(go);
	f = fopen("/tmp/events-self.out", "r");
	if (f) {
		size_t n = fread(line, 1, sizeof(line) - 1, f);

		line[n] = 0;
		fclose(f);
	}
	EXPECT_NE(NULL, strstr(line, "opening of a marked file")) TH_LOG("restart said: %s", line);
	EXPECT_EQ(-1, kill(pid, 0));
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sh("rm -f /tmp/events-fans-*");
}

TEST_F_TIMEOUT(events, fanotify_with_queued_events_is_refused, 60)
{
	check_refuses(_metadata, "fanqueued", "queued");
	sh("rm -f /tmp/events-fanq-*");
}

TEST_F_TIMEOUT(events, fanotify_mount_marks_and_new_events, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "fanmount", false));
	sh("umount /tmp/events-fanmnt-* 2>/dev/null; rmdir /tmp/events-fanmnt-* 2>/dev/null");
}

TEST_F_TIMEOUT(events, fanotify_mount_mark_without_a_path_is_refused, 60)
{
	check_refuses(_metadata, "fanmountnopath", "neither the process's root");
	sh("umount /tmp/events-fanmntn-*; rmdir /tmp/events-fanmntn-*");
}

TEST_F_TIMEOUT(events, fanotify_mount_mark_on_a_covered_mount_is_refused, 60)
{
	check_refuses(_metadata, "fanmountover", "no path names");
	sh("umount /tmp/events-fanmnto-*; umount /tmp/events-fanmnto-*; rm -rf /tmp/events-fanmnto-*");
}

TEST_F_TIMEOUT(events, fanotify_filesystem_mark_and_new_events, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "fanfs", false));
	sh("umount /tmp/events-fanfs-* 2>/dev/null; rmdir /tmp/events-fanfs-* 2>/dev/null");
}

TEST_F_TIMEOUT(events, fanotify_filesystem_mark_without_a_path_is_refused, 60)
{
	check_refuses(_metadata, "fanfsnopath", "no path");
	sh("umount /tmp/events-fanfsn-*; rmdir /tmp/events-fanfsn-*");
}

TEST_F_TIMEOUT(events, fanotify_mark_on_a_deleted_file_is_refused, 60)
{
	check_refuses(_metadata, "fandeleted", "cannot be named");
	sh("rm -f /tmp/events-fand-*");
}

TEST_F_TIMEOUT(events, epoll_entries_whose_fds_were_closed_or_replaced, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epollgone", false));
}

TEST_F_TIMEOUT(events, epoll_entry_of_a_file_only_in_flight_is_refused, 60)
{
	check_refuses(_metadata, "epollflight", "no fd of this process holds");
}

TEST_F_TIMEOUT(events, epoll_set_watching_a_signalfd_wakes_for_signals_after_restart, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "epollsigfd", false));
}

TEST_F_TIMEOUT(events, epoll_signalfd_entry_added_by_another_process_is_refused, 60)
{
	check_refuses(_metadata, "epollsigfdother", "another process added");
}

TEST_HARNESS_MAIN
