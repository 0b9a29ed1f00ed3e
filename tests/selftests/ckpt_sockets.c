// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_sockets: unix sockets across a checkpoint and a restart.
 *
 * Each test forks a child that makes sockets in some state (socketpairs of
 * each type, listeners with connections not accepted yet, named and abstract
 * names, data queued both ways, shutdown, options), remembers what it expects,
 * says it is ready and waits until its parent changes -- which happens only
 * when it runs again restored, a child of `ckpt restart`.  The test
 * checkpoints it (killing it), restarts the image with the tool, and the
 * restored child checks the sockets and exits 0, or with the number of the
 * first failed check after printing what it saw into its log, which the test
 * shows.  Refusals (a peer outside the checkpointed processes, files in
 * flight) are checked with `CKPT_IOC_CHECK` and the checkpoint itself.
 */
#include "ckpt_util.h"
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"

#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

struct probe {
	const char *name;
	void (*setup)(struct probe *p);
	int (*verify)(struct probe *p);	/* 0, or the number of the failed check */
	int fd[8];
	long v[4];
	pid_t kid;
	char path[108];
};

#define PROBE_TAG "sk"
#include "ckpt_probe.h"

#define ROUND_TRIP(p, tree) \
	ASSERT_EQ(0, probe_round_trip(_metadata, p, PROBE_ORPHANS | ((tree) ? PROBE_TREE : 0), 0))

/* ---- helpers ---------------------------------------------------------------- */

static void must(int ok, int code)
{
	if (!ok)
		_exit(code);
}

static socklen_t mkaddr(struct sockaddr_un *a, const char *name, int abstract)
{
	size_t n = name ? strlen(name) : 0;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n > sizeof(a->sun_path) - 2)
		n = sizeof(a->sun_path) - 2;
	if (n)
		memcpy(a->sun_path + !!abstract, name, n);
	return offsetof(struct sockaddr_un, sun_path) + n + (n ? 1 : 0);
}

static int sock_bound(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t len = mkaddr(&a, name, abstract);
	int fd = socket(AF_UNIX, type, 0);

	if (!abstract)
		unlink(name);
	must(fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0, 80);
	return fd;
}

static int sock_connect(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t len = mkaddr(&a, name, abstract);
	int fd = socket(AF_UNIX, type, 0);

	must(fd >= 0 && connect(fd, (struct sockaddr *)&a, len) == 0, 81);
	return fd;
}

/* Whether fd's name (peer: its peer's) is `name`. */
static int name_is(int fd, int peer, const char *name, int abstract)
{
	struct sockaddr_un a, want;
	socklen_t len = sizeof(a), wlen = mkaddr(&want, name, abstract);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len)
		     : getsockname(fd, (struct sockaddr *)&a, &len);

	if (r)
		return 0;
	if (!name)
		return len == sizeof(sa_family_t);
	if (!abstract)
		return len > offsetof(struct sockaddr_un, sun_path) && !strcmp(a.sun_path, name);
	return len == wlen && !memcmp(&a, &want, len);
}

static void put(int fd, const char *s)
{
	must(send(fd, s, strlen(s), MSG_DONTWAIT) == (ssize_t)strlen(s), 82);
}

/* Reads exactly n bytes (a stream may return them in pieces). */
static int get(int fd, char *buf, int n)
{
	int got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);

		if (r <= 0)
			return got ? got : (int)r;
		got += r;
	}
	buf[got] = 0;
	return got;
}

/* Nothing more to read right now. */
static int drained(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* ---- socketpairs ------------------------------------------------------------ */

/* Python's asyncio: a non-blocking stream socketpair with nothing queued. */
static void setup_asyncio_pair(struct probe *p)
{
	must(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fd), 70);
}

static int verify_asyncio_pair(struct probe *p)
{
	char b[16];

	CHECK(1, fcntl(p->fd[0], F_GETFL) & O_NONBLOCK, "fd 0 lost O_NONBLOCK");
	CHECK(2, fcntl(p->fd[1], F_GETFD) & FD_CLOEXEC, "fd 1 lost FD_CLOEXEC");
	CHECK(3, drained(p->fd[0]) && drained(p->fd[1]), "data appeared");
	CHECK(4, name_is(p->fd[0], 0, NULL, 0) && name_is(p->fd[1], 1, NULL, 0), "names");
	CHECK(5, send(p->fd[1], "\0", 1, MSG_DONTWAIT) == 1 && get(p->fd[0], b, 1) == 1,
	      "wakeup byte lost: %s", strerror(errno));
	put(p->fd[0], "x");
	CHECK(6, get(p->fd[1], b, 1) == 1 && b[0] == 'x', "reverse byte lost");
	return 0;
}

TEST(asyncio_socketpair)
{
	struct probe p = { "asyncio", setup_asyncio_pair, verify_asyncio_pair };

	ROUND_TRIP(&p, 0);
}

static void setup_stream_data(struct probe *p)
{
	char c;

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	put(p->fd[0], "hello ");
	put(p->fd[0], "world");
	put(p->fd[1], "0123456789");
	/* Partly read: the rest must come back. */
	must(read(p->fd[1], &c, 1) == 1 && c == 'h', 71);
	must(read(p->fd[0], &c, 1) == 1 && c == '0', 71);
}

static int verify_stream_data(struct probe *p)
{
	char b[64];

	CHECK(1, get(p->fd[1], b, 10) == 10 && !strcmp(b, "ello world"), "read '%s'", b);
	CHECK(2, drained(p->fd[1]), "more data");
	CHECK(3, get(p->fd[0], b, 9) == 9 && !strcmp(b, "123456789"), "read '%s'", b);
	CHECK(4, drained(p->fd[0]), "more data");
	put(p->fd[0], "again");
	CHECK(5, get(p->fd[1], b, 5) == 5 && !strcmp(b, "again"), "read '%s'", b);
	return 0;
}

TEST(stream_pair_queued_both_ways)
{
	struct probe p = { "streamdata", setup_stream_data, verify_stream_data };

	ROUND_TRIP(&p, 0);
}

/* Records keep their boundaries: seqpacket (v[0] = type) and datagram pairs. */
static void setup_records(struct probe *p)
{
	must(!socketpair(AF_UNIX, p->v[0], 0, p->fd), 70);
	put(p->fd[0], "one");
	put(p->fd[0], "three");
	put(p->fd[0], "twenty-seven");
	put(p->fd[1], "back");
	put(p->fd[1], "b");
}

static int verify_records(struct probe *p)
{
	const char *want[] = { "one", "three", "twenty-seven" };
	char b[64];
	int i;

	for (i = 0; i < 3; i++) {
		ssize_t n = recv(p->fd[1], b, sizeof(b), MSG_DONTWAIT);

		CHECK(1 + i, n == (ssize_t)strlen(want[i]) && !memcmp(b, want[i], n),
		      "record %d: %zd bytes", i, n);
	}
	CHECK(4, drained(p->fd[1]), "more records");
	CHECK(5, recv(p->fd[0], b, sizeof(b), MSG_DONTWAIT) == 4, "record 'back'");
	CHECK(6, recv(p->fd[0], b, sizeof(b), MSG_DONTWAIT) == 1 && b[0] == 'b', "record 'b'");
	put(p->fd[1], "more");
	CHECK(7, recv(p->fd[0], b, sizeof(b), MSG_DONTWAIT) == 4, "new record");
	return 0;
}

TEST(seqpacket_pair_records)
{
	struct probe p = { "seqpacket", setup_records, verify_records, .v = { SOCK_SEQPACKET } };

	ROUND_TRIP(&p, 0);
}

TEST(dgram_pair_records)
{
	struct probe p = { "dgrampair", setup_records, verify_records, .v = { SOCK_DGRAM } };

	ROUND_TRIP(&p, 0);
}

/* ---- listeners -------------------------------------------------------------- */

/*
 * A listener (v[0]: abstract name) with one accepted connection carrying data
 * both ways and two connections not accepted yet, the first of which already
 * sent something.
 */
static void setup_listener(struct probe *p)
{
	int abs = p->v[0];
	char c;

	snprintf(p->path, sizeof(p->path), "/tmp/ckpt-sk-%d", getpid());
	p->fd[0] = sock_bound(SOCK_STREAM, p->path, abs);
	must(!listen(p->fd[0], 7), 72);
	p->fd[1] = sock_connect(SOCK_STREAM, p->path, abs);
	p->fd[2] = accept(p->fd[0], NULL, NULL);
	must(p->fd[2] >= 0, 73);
	put(p->fd[1], "request");
	put(p->fd[2], "reply");
	must(read(p->fd[2], &c, 1) == 1, 74);
	p->fd[3] = sock_connect(SOCK_STREAM, p->path, abs);
	put(p->fd[3], "early");
	p->fd[4] = sock_connect(SOCK_STREAM, p->path, abs);
}

static int verify_listener(struct probe *p)
{
	int abs = p->v[0], a, b;
	char buf[64];

	CHECK(1, name_is(p->fd[0], 0, p->path, abs), "listener name");
	CHECK(2, name_is(p->fd[2], 0, p->path, abs), "accepted socket's name");
	CHECK(3, name_is(p->fd[1], 1, p->path, abs), "client's peer name");
	CHECK(4, name_is(p->fd[1], 0, NULL, 0), "client is named");
	CHECK(5, get(p->fd[2], buf, 6) == 6 && !strcmp(buf, "equest"), "server read '%s'", buf);
	CHECK(6, get(p->fd[1], buf, 5) == 5 && !strcmp(buf, "reply"), "client read '%s'", buf);
	CHECK(7, name_is(p->fd[3], 1, p->path, abs), "waiting client's peer name");
	a = accept(p->fd[0], NULL, NULL);
	CHECK(8, a >= 0, "accept: %s", strerror(errno));
	CHECK(9, get(a, buf, 5) == 5 && !strcmp(buf, "early"), "early data '%s'", buf);
	put(a, "welcome");
	CHECK(10, get(p->fd[3], buf, 7) == 7, "reply to the first waiting client");
	b = accept(p->fd[0], NULL, NULL);
	CHECK(11, b >= 0, "second accept: %s", strerror(errno));
	put(p->fd[4], "late");
	CHECK(12, get(b, buf, 4) == 4 && !strcmp(buf, "late"), "second waiting client");
	CHECK(13, fcntl(p->fd[0], F_SETFL, O_NONBLOCK) == 0 && accept(p->fd[0], NULL, NULL) < 0 &&
		  errno == EAGAIN, "a third connection appeared");
	if (!abs)
		unlink(p->path);
	return 0;
}

TEST(listener_with_unaccepted_connections)
{
	struct probe p = { "listener", setup_listener, verify_listener };

	ROUND_TRIP(&p, 0);
}

TEST(abstract_listener)
{
	struct probe p = { "abstract", setup_listener, verify_listener, .v = { 1 } };

	ROUND_TRIP(&p, 0);
}

/* ---- datagrams ---------------------------------------------------------------- */

/* A bound datagram socket (syslog-like) with datagrams from a connected
 * client, an unnamed one and a named one that was closed since. */
static void setup_dgram_server(struct probe *p)
{
	struct sockaddr_un a;
	socklen_t len;
	char other[108];
	int gone;

	snprintf(p->path, sizeof(p->path), "/tmp/ckpt-log-%d", getpid());
	snprintf(other, sizeof(other), "/tmp/ckpt-logc-%d", getpid());
	p->fd[0] = sock_bound(SOCK_DGRAM, p->path, 0);
	p->fd[1] = sock_connect(SOCK_DGRAM, p->path, 0);
	put(p->fd[1], "<13>first");
	p->fd[2] = socket(AF_UNIX, SOCK_DGRAM, 0);
	len = mkaddr(&a, p->path, 0);
	must(sendto(p->fd[2], "second", 6, 0, (struct sockaddr *)&a, len) == 6, 75);
	gone = sock_bound(SOCK_DGRAM, other, 0);
	must(sendto(gone, "third", 5, 0, (struct sockaddr *)&a, len) == 5, 75);
	close(gone);
	unlink(other);
}

static int verify_dgram_server(struct probe *p)
{
	struct sockaddr_un from;
	socklen_t len = sizeof(from);
	char b[64], other[108];
	ssize_t n;

	snprintf(other, sizeof(other), "/tmp/ckpt-logc-%d", getpid());
	CHECK(1, name_is(p->fd[0], 0, p->path, 0), "server name");
	CHECK(2, name_is(p->fd[1], 1, p->path, 0), "client's peer");
	n = recvfrom(p->fd[0], b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
	CHECK(3, n == 9 && !memcmp(b, "<13>first", 9), "first: %zd", n);
	len = sizeof(from);
	n = recvfrom(p->fd[0], b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
	CHECK(4, n == 6 && !memcmp(b, "second", 6), "second: %zd", n);
	len = sizeof(from);
	n = recvfrom(p->fd[0], b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
	CHECK(5, n == 5 && !memcmp(b, "third", 5), "third: %zd", n);
	CHECK(6, len > offsetof(struct sockaddr_un, sun_path) && !strcmp(from.sun_path, other),
	      "third's sender '%s'", len > 2 ? from.sun_path : "");
	CHECK(7, drained(p->fd[0]), "more datagrams");
	put(p->fd[1], "<13>after");
	CHECK(8, recv(p->fd[0], b, sizeof(b), MSG_DONTWAIT) == 9, "send after restart");
	unlink(p->path);
	return 0;
}

TEST(dgram_bound_server_queue)
{
	struct probe p = { "dgramserver", setup_dgram_server, verify_dgram_server };

	ROUND_TRIP(&p, 0);
}

/* ---- shutdown ---------------------------------------------------------------- */

static void setup_shutdown(struct probe *p)
{
	int gone[2];

	signal(SIGPIPE, SIG_IGN);
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	put(p->fd[0], "last words");
	must(!shutdown(p->fd[0], SHUT_WR), 76);
	must(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, gone), 70);
	put(gone[1], "orphan");
	close(gone[1]);
	p->fd[2] = gone[0];
}

static int verify_shutdown(struct probe *p)
{
	char b[64];

	CHECK(1, get(p->fd[1], b, 10) == 10, "data before EOF");
	CHECK(2, recv(p->fd[1], b, 1, MSG_DONTWAIT) == 0, "no EOF");
	CHECK(3, send(p->fd[0], "x", 1, MSG_DONTWAIT) < 0 && errno == EPIPE,
	      "write after SHUT_WR: %s", strerror(errno));
	put(p->fd[1], "other way");
	CHECK(4, get(p->fd[0], b, 9) == 9, "the other direction is open");
	CHECK(5, recv(p->fd[2], b, sizeof(b), MSG_DONTWAIT) == 6, "orphan record");
	CHECK(6, recv(p->fd[2], b, sizeof(b), MSG_DONTWAIT) == 0, "EOF from the closed peer");
	CHECK(7, send(p->fd[2], "x", 1, MSG_DONTWAIT) < 0 && errno == EPIPE,
	      "write to a closed peer: %s", strerror(errno));
	return 0;
}

TEST(shutdown_and_closed_peer)
{
	struct probe p = { "shutdown", setup_shutdown, verify_shutdown };

	ROUND_TRIP(&p, 0);
}

/* ---- options ------------------------------------------------------------------ */

static int getint(int fd, int opt)
{
	int v = -7;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len))
		return -8;
	return v;
}

static void setup_options(struct probe *p)
{
	int one = 1, v;
	struct timeval tv = { 3, 250000 };

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	must(!setsockopt(p->fd[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 77);
	v = 50000;
	must(!setsockopt(p->fd[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), 77);
	v = 70000;
	must(!setsockopt(p->fd[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 77);
	must(!setsockopt(p->fd[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 77);
	v = 2;
	must(!setsockopt(p->fd[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v)), 77);
	put(p->fd[0], "abcdef");
	must(fcntl(p->fd[1], F_SETFL, O_NONBLOCK) == 0, 77);
	p->v[0] = getint(p->fd[0], SO_SNDBUF);
	p->v[1] = getint(p->fd[1], SO_RCVBUF);
	/* As the kernel reports it (rounded to its clock ticks). */
	v = sizeof(tv);
	must(!getsockopt(p->fd[1], SOL_SOCKET, SO_RCVTIMEO, &tv, (socklen_t *)&v), 77);
	p->v[2] = tv.tv_sec * 1000000L + tv.tv_usec;
}

static int verify_options(struct probe *p)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	char b[16];

	CHECK(1, getint(p->fd[0], SO_PASSCRED) == 1, "SO_PASSCRED %d", getint(p->fd[0], SO_PASSCRED));
	CHECK(2, getint(p->fd[1], SO_PASSCRED) == 0, "SO_PASSCRED on the peer");
	CHECK(3, getint(p->fd[0], SO_SNDBUF) == p->v[0], "SO_SNDBUF %d, want %ld",
	      getint(p->fd[0], SO_SNDBUF), p->v[0]);
	CHECK(4, getint(p->fd[1], SO_RCVBUF) == p->v[1], "SO_RCVBUF %d, want %ld",
	      getint(p->fd[1], SO_RCVBUF), p->v[1]);
	CHECK(5, !getsockopt(p->fd[1], SOL_SOCKET, SO_RCVTIMEO, &tv, &len) &&
		  tv.tv_sec * 1000000L + tv.tv_usec == p->v[2], "SO_RCVTIMEO %ld.%06ld, want %ld us",
	      (long)tv.tv_sec, (long)tv.tv_usec, p->v[2]);
	CHECK(6, getint(p->fd[1], SO_PEEK_OFF) == 2, "SO_PEEK_OFF %d", getint(p->fd[1], SO_PEEK_OFF));
	CHECK(7, recv(p->fd[1], b, 2, MSG_PEEK) == 2 && !memcmp(b, "cd", 2), "peek at offset");
	CHECK(8, fcntl(p->fd[1], F_GETFL) & O_NONBLOCK, "O_NONBLOCK");
	CHECK(9, !(fcntl(p->fd[0], F_GETFL) & O_NONBLOCK), "O_NONBLOCK on the other end");
	return 0;
}

TEST(socket_options)
{
	struct probe p = { "options", setup_options, verify_options };

	ROUND_TRIP(&p, 0);
}

/* ---- a tree ------------------------------------------------------------------- */

/* Parent and child each hold one end of a pair with data queued both ways, and
 * the child a connection to the parent's listener that is not accepted yet. */
static void setup_tree(struct probe *p)
{
	pid_t parent = getpid();

	must(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p->fd), 70);
	snprintf(p->path, sizeof(p->path), "/tmp/ckpt-tree-%d", getpid());
	p->fd[2] = sock_bound(SOCK_STREAM, p->path, 0);
	must(!listen(p->fd[2], 4), 72);
	p->kid = fork();
	must(p->kid >= 0, 78);
	if (p->kid == 0) {
		char b[64];
		int c;

		close(p->fd[0]);
		close(p->fd[2]);
		c = sock_connect(SOCK_STREAM, p->path, 0);
		put(c, "from child");
		put(p->fd[1], "up");
		/* Blocked until the restored parent sends: it is restored too, with
		 * its pid. */
		if (recv(p->fd[1], b, sizeof(b), 0) != 4 || memcmp(b, "down", 4))
			_exit(2);
		if (recv(p->fd[1], b, sizeof(b), 0) != 4 || memcmp(b, "more", 4))
			_exit(4);
		put(c, "!");
		_exit(getppid() == parent ? 0 : 3);
	}
	close(p->fd[1]);
	/* The child's "up" and its connection are in. */
	while (recv(p->fd[0], (char[4]){}, 4, MSG_PEEK) != 2)
		sleep_ms(1);
	sleep_ms(50);
}

static int verify_tree(struct probe *p)
{
	char b[64];
	int a, st;

	put(p->fd[0], "down");
	put(p->fd[0], "more");
	CHECK(1, recv(p->fd[0], b, sizeof(b), MSG_DONTWAIT) == 2, "child's record");
	a = accept(p->fd[2], NULL, NULL);
	CHECK(2, a >= 0, "accept: %s", strerror(errno));
	CHECK(3, get(a, b, 10) == 10 && !strcmp(b, "from child"), "read '%s'", b);
	CHECK(4, waitpid(p->kid, &st, 0) == p->kid, "waitpid: %s", strerror(errno));
	CHECK(5, WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	CHECK(6, recv(a, b, 1, 0) == 1 && b[0] == '!', "child's last byte");
	unlink(p->path);
	return 0;
}

TEST(tree_shares_sockets)
{
	struct probe p = { "tree", setup_tree, verify_tree };

	ROUND_TRIP(&p, 1);
}

/* ---- refusals ----------------------------------------------------------------- */

static void setup_outside(struct probe *p)
{
	(void)p;
}

/* Keeps only p->fd[0] (and the ready pipe). */
static void outside_child(int ready, void *arg)
{
	struct probe *p = arg;
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != ready && fd != p->fd[0])
			close(fd);
	say_ready(ready);
	pause();
}

/* Checks that `pid` is refused by CKPT_IOC_CHECK and the checkpoint, the
 * reason containing `why`. */
static void expect_refused(struct __test_metadata *_metadata, pid_t pid, const char *why)
{
	char reason[256] = "";
	int dev = ckpt_open(), ret;
	char img[64];

	ASSERT_LE(0, dev);
	ret = ckpt_check(dev, pid, reason, sizeof(reason));
	TH_LOG("check: %d: %s", ret, reason);
	EXPECT_NE(0, ret);
	EXPECT_NE(NULL, strstr(reason, why));
	EXPECT_NE(0, checkpoint_into(dev, pid, CKPT_CHECKPOINT_RESUME, img, sizeof(img), "refused"));
	unlink(img);
	close(dev);
	ckpt_dev_fd = -1;
}

/* Starts child(ready, arg), expects it refused (expect_refused), ends it. */
static void child_refused(struct __test_metadata *_metadata, void (*child)(int, void *),
			  void *arg, const char *why)
{
	pid_t pid = spawn_ready(child, arg);

	ASSERT_LT(0, pid);
	expect_refused(_metadata, pid, why);
	kill_reap(pid);
}

/* A process connected to a socket of a process outside (here: the test): the
 * reason names the peer. */
TEST(peer_outside_is_refused)
{
	struct probe p = { "outside", setup_outside, NULL };
	char path[108];
	int l, pair[2], outside_fd;
	pid_t pid;

	snprintf(path, sizeof(path), "/tmp/ckpt-outside-%d", getpid());
	l = sock_bound(SOCK_DGRAM, path, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
	outside_fd = sock_connect(SOCK_DGRAM, path, 0);
	p.fd[0] = outside_fd;
	pid = spawn_ready(outside_child, &p);
	ASSERT_LT(0, pid);
	close(outside_fd);
	expect_refused(_metadata, pid, path);
	kill_reap(pid);
	/* The other end of a socketpair held outside. */
	p.fd[0] = pair[1];
	pid = spawn_ready(outside_child, &p);
	ASSERT_LT(0, pid);
	close(pair[1]);
	expect_refused(_metadata, pid, "outside the checkpointed processes");
	kill_reap(pid);
	close(pair[0]);
	close(l);
	unlink(path);
}

/* A datagram socket connected to a log socket outside (as syslog(3) holds one
 * connected to /dev/log): refused, the reason naming --external-unix; with
 * it, restored connected to the same name, and what it sends after the restart
 * reaches the outside socket. */
static void setup_extlog(struct probe *p)
{
	p->fd[0] = sock_connect(SOCK_DGRAM, p->path, 0);
	put(p->fd[0], "before");
}

static int verify_extlog(struct probe *p)
{
	CHECK(1, name_is(p->fd[0], 1, p->path, 0), "peer name");
	CHECK(2, send(p->fd[0], "after", 5, 0) == 5, "send after restart: %s", strerror(errno));
	return 0;
}

TEST(dgram_to_outside_reconnected_with_external_unix)
{
	struct probe p = { "extlog", setup_extlog, verify_extlog };
	char b[16], cmd[160];
	pid_t pid;
	int l;

	snprintf(p.path, sizeof(p.path), "/tmp/ckpt-extlog-%d", getpid());
	l = sock_bound(SOCK_DGRAM, p.path, 0);
	snprintf(logpath, sizeof(logpath), "/tmp/sk-extlog-check-%d.log", getpid());
	pid = spawn_ready(child, &p);
	ASSERT_LT(0, pid);
	expect_refused(_metadata, pid, "--external-unix");
	snprintf(cmd, sizeof(cmd), CKPT " check --external-unix %d > /dev/null", pid);
	EXPECT_EQ(0, system(cmd));
	kill_reap(pid);
	unlink(logpath);
	ASSERT_EQ(6, recv(l, b, sizeof(b), MSG_DONTWAIT));
	probe_ckpt_flags = CKPT_CHECKPOINT_EXTERNAL_UNIX;
	ROUND_TRIP(&p, 0);
	probe_ckpt_flags = 0;
	EXPECT_EQ(6, recv(l, b, sizeof(b), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(b, "before", 6));
	EXPECT_EQ(5, recv(l, b, sizeof(b), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(b, "after", 5));
	close(l);
	unlink(p.path);
}

static int send_fd(int via, const char *data, int fd);

/* A listening unix socket in flight (SCM_RIGHTS) is refused with that reason. */
static void rights_child(int ready, void *arg)
{
	char name[64];
	int sv[2], l;

	(void)arg;
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 70);
	snprintf(name, sizeof(name), "ckpt-rights-%d", getpid());
	l = sock_bound(SOCK_STREAM, name, 1);
	must(!listen(l, 2), 71);
	must(!send_fd(sv[0], "l", l), 79);
	close(l);
	say_ready(ready);
	pause();
}

/*
 * Pipes in flight come back in flight: a datagram pair carries the read end
 * of a pipe with bytes in it (non-blocking), then a plain datagram; a stream
 * pair carries the write end; both ends are closed in the process, so that
 * the queues hold the pipe's only files.
 */
static int send_fd(int via, const char *data, int fd)
{
	char cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &m, 0) == (ssize_t)strlen(data) ? 0 : -1;
}

/* Receives one message into b (NUL-terminated); returns the fd it carried
 * (-1: none), or -2 on error. */
static int recv_fd(int via, char *b, size_t len)
{
	char cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { b, len - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(via, &m, MSG_DONTWAIT);
	int fd = -1;

	if (n < 0)
		return -2;
	b[n] = 0;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Peer credentials (SO_PEERCRED, SO_PEERGROUPS) say who made each connection:
 * the probe P (root) makes a stream pair and a listener; its child C, as user
 * 3000 (group 3001, groups {3002}), makes a datagram pair and sends P one end,
 * and connects to the listener (not accepted: waiting in P's listener); its
 * child D, as user 3100 (group 3101), makes a pair, sends P one end and exits
 * (P reaps it).  After the restart (by root) each socket still names its
 * maker: P's pair P, C's end C and its ids, the waiting connection C, and D's
 * end D's pid (a process gone) and ids; C's own connection its listener's
 * maker, P.
 */
#define PEER_C_UID 3000
#define PEER_D_UID 3100
#define PEER_C_FD 100

static int peer_is(int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct ucred u;
	socklen_t l = sizeof(u);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &l))
		return 0;
	say("fd %d: peer pid %d uid %u gid %u (want %d %u %u)\n", fd, u.pid, u.uid, u.gid, pid, uid,
	    gid);
	return u.pid == pid && u.uid == uid && u.gid == gid;
}

static int peer_groups_are(int fd, gid_t want)
{
	gid_t g[4];
	socklen_t l = sizeof(g);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &l) && l == sizeof(gid_t) &&
	       g[0] == want;
}

static void as_ids(uid_t uid, gid_t gid, gid_t group)
{
	must(!setgroups(1, &group), 90);
	must(!setresgid(gid, gid, gid), 91);
	must(!setresuid(uid, uid, uid), 92);
}

static void setup_peercred(struct probe *p)
{
	char b[8], name[64];
	pid_t d;
	int sv[2], st;

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	snprintf(name, sizeof(name), "ckpt-peercred-%d", getpid());
	p->fd[2] = sock_bound(SOCK_STREAM, name, 1);
	must(!listen(p->fd[2], 4), 71);
	p->kid = fork();
	must(p->kid >= 0, 72);
	if (p->kid == 0) {
		as_ids(PEER_C_UID, PEER_C_UID + 1, PEER_C_UID + 2);
		must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 73);
		must(!send_fd(p->fd[1], "c", sv[1]), 74);
		must(dup2(sock_connect(SOCK_STREAM, name, 1), PEER_C_FD) == PEER_C_FD, 75);
		for (;;)
			pause();
	}
	d = fork();
	must(d >= 0, 76);
	if (d == 0) {
		as_ids(PEER_D_UID, PEER_D_UID + 1, PEER_D_UID + 2);
		must(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 77);
		must(!send_fd(p->fd[1], "d", sv[1]), 78);
		_exit(0);
	}
	must(waitpid(d, &st, 0) == d && WIFEXITED(st) && !WEXITSTATUS(st), 79);
	p->v[0] = d;
	/* Both ends, in whichever order C and D sent them. */
	p->fd[3] = p->fd[4] = -1;
	for (int i = 0; i < 2000 && (p->fd[3] < 0 || p->fd[4] < 0); i++) {
		int got = recv_fd(p->fd[0], b, sizeof(b));

		if (got == -2) {
			sleep_ms(5);
			continue;
		}
		must(got >= 0 && (b[0] == 'c' || b[0] == 'd'), 80);
		p->fd[b[0] == 'c' ? 3 : 4] = got;
	}
	must(p->fd[3] >= 0 && p->fd[4] >= 0, 81);
	/* C's connection is waiting in the listener. */
	must(poll(&(struct pollfd){ p->fd[2], POLLIN, 0 }, 1, 5000) == 1, 82);
}

static int verify_peercred(struct probe *p)
{
	int a, pfd, c;

	CHECK(1, peer_is(p->fd[0], getpid(), 0, 0), "P's own pair");
	CHECK(2, peer_is(p->fd[3], p->kid, PEER_C_UID, PEER_C_UID + 1), "C's pair");
	CHECK(3, peer_groups_are(p->fd[3], PEER_C_UID + 2), "C's pair's groups");
	CHECK(4, peer_is(p->fd[4], p->v[0], PEER_D_UID, PEER_D_UID + 1), "D's pair (D is gone)");
	a = accept(p->fd[2], NULL, NULL);
	CHECK(5, a >= 0, "accept: %s", strerror(errno));
	CHECK(6, peer_is(a, p->kid, PEER_C_UID, PEER_C_UID + 1), "C's connection, accepted now");
	pfd = syscall(SYS_pidfd_open, p->kid, 0);
	c = pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, PEER_C_FD, 0);
	CHECK(7, c >= 0, "pidfd_getfd: %s", strerror(errno));
	CHECK(8, peer_is(c, getpid(), 0, 0), "C's connection names its listener's maker");
	kill(p->kid, SIGKILL);
	waitpid(p->kid, NULL, 0);
	return 0;
}

TEST(peer_credentials_name_who_made_each_connection)
{
	struct probe p = { "peercred", setup_peercred, verify_peercred };

	ROUND_TRIP(&p, 1);
}

static void setup_pipes_in_flight(struct probe *p)
{
	int pp[2];

	must(!pipe(pp), 70);
	must(write(pp[1], "buffered", 8) == 8, 71);
	must(!fcntl(pp[0], F_SETFL, O_NONBLOCK), 72);
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd), 73);
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd + 2), 74);
	must(!send_fd(p->fd[0], "r", pp[0]), 75);
	put(p->fd[0], "plain");
	must(!send_fd(p->fd[2], "w", pp[1]), 76);
	close(pp[0]);
	close(pp[1]);
}

static int verify_pipes_in_flight(struct probe *p)
{
	char b[64];
	int r, w;

	r = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(1, r >= 0 && !strcmp(b, "r"), "read end: %d '%s'", r, b);
	CHECK(2, recv_fd(p->fd[1], b, sizeof(b)) == -1 && !strcmp(b, "plain"), "'%s'", b);
	w = recv_fd(p->fd[3], b, sizeof(b));
	CHECK(3, w >= 0 && !strcmp(b, "w"), "write end: %d '%s'", w, b);
	CHECK(4, fcntl(r, F_GETFL) & O_NONBLOCK, "flags %#x", fcntl(r, F_GETFL));
	CHECK(5, read(r, b, 8) == 8 && !memcmp(b, "buffered", 8), "pipe bytes");
	CHECK(6, write(w, "x", 1) == 1 && read(r, b, 2) == 1 && b[0] == 'x', "pipe");
	CHECK(7, read(r, b, 1) < 0 && errno == EAGAIN, "more bytes");
	CHECK(8, drained(p->fd[1]) && drained(p->fd[3]), "more messages");
	return 0;
}

TEST(pipes_in_flight)
{
	struct probe p = { "inflight", setup_pipes_in_flight, verify_pipes_in_flight };

	ROUND_TRIP(&p, 0);
}

/*
 * Other files in flight come back in flight, each the very file it was (CRIU's
 * scm05 sends an epoll set the same way): a datagram pair carries an eventfd
 * (semaphore mode, count 5, non-blocking), twice an epoll set watching the
 * receiving socket itself, and a regular file at offset 3 that an fd of the
 * process also holds (one open file: reading through one moves the other).
 * The eventfd and the epoll set are closed in the process: the queue holds
 * their only references.
 */
static void setup_files_in_flight(struct probe *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
	int e, ep, f;

	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd), 70);
	e = eventfd(5, EFD_SEMAPHORE | EFD_NONBLOCK);
	must(e >= 0, 71);
	ep = epoll_create1(0);
	must(ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[1], &ev), 72);
	unlink(p->path);
	f = open(p->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	must(f >= 0 && write(f, "0123456789", 10) == 10 && lseek(f, 3, SEEK_SET) == 3, 73);
	must(!send_fd(p->fd[0], "e", e), 74);
	must(!send_fd(p->fd[0], "p", ep), 75);
	must(!send_fd(p->fd[0], "p", ep), 76);
	must(!send_fd(p->fd[0], "f", f), 77);
	close(e);
	close(ep);
	p->fd[2] = f;
}

static int verify_files_in_flight(struct probe *p)
{
	struct epoll_event ev = { 0 };
	int e, ep, ep2, f, x;
	uint64_t v = 0;
	char b[64];

	e = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(1, e >= 0 && !strcmp(b, "e"), "eventfd: %d '%s'", e, b);
	CHECK(2, fcntl(e, F_GETFL) & O_NONBLOCK, "eventfd flags %#x", fcntl(e, F_GETFL));
	CHECK(3, read(e, &v, 8) == 8 && v == 1, "eventfd read %llu (semaphore)",
	      (unsigned long long)v);
	for (x = 0; x < 4 && read(e, &v, 8) == 8; x++)
		;
	CHECK(4, x == 4 && read(e, &v, 8) < 0 && errno == EAGAIN, "eventfd count %d+1", x);
	ep = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(5, ep >= 0 && !strcmp(b, "p"), "epoll: %d '%s'", ep, b);
	ep2 = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(6, ep2 >= 0 && !strcmp(b, "p"), "epoll again: %d '%s'", ep2, b);
	/* The queue still holds "f": the set reports the socket readable. */
	CHECK(7, epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.u64 == 0x1234 && ev.events == EPOLLIN,
	      "epoll_wait: events %#x data %#llx", ev.events, (unsigned long long)ev.data.u64);
	/* Both messages carried one set: an entry added through one is in the other. */
	ev.events = EPOLLIN;
	ev.data.u64 = 7;
	CHECK(8, !epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev), "epoll_ctl: %s", strerror(errno));
	CHECK(9, epoll_ctl(ep2, EPOLL_CTL_ADD, e, &ev) < 0 && errno == EEXIST,
	      "two sets came back for one");
	CHECK(10, epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[1], &ev) < 0 && errno == EEXIST,
	      "the entry for the socket is missing");
	f = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(11, f >= 0 && !strcmp(b, "f"), "file: %d '%s'", f, b);
	CHECK(12, (fcntl(f, F_GETFL) & O_ACCMODE) == O_RDWR, "file flags %#x", fcntl(f, F_GETFL));
	CHECK(13, lseek(f, 0, SEEK_CUR) == 3, "offset %ld", (long)lseek(f, 0, SEEK_CUR));
	CHECK(14, read(f, b, 2) == 2 && !memcmp(b, "34", 2), "file bytes");
	CHECK(15, lseek(p->fd[2], 0, SEEK_CUR) == 5, "not one open file with fd %d: offset %ld",
	      p->fd[2], (long)lseek(p->fd[2], 0, SEEK_CUR));
	CHECK(16, drained(p->fd[1]), "more messages");
	CHECK(17, epoll_wait(ep, &ev, 1, 0) == 0, "the socket still reported readable");
	return 0;
}

/* Files in flight to a connection not accepted yet: a pipe's read end with
 * bytes in it and an eventfd, each only in flight; the restored listener
 * accepts the connection and receives them. */
static void setup_embryo_in_flight(struct probe *p)
{
	char name[64];
	int pp[2], e;

	snprintf(name, sizeof(name), "ckpt-embryo-%d", getpid());
	p->fd[0] = sock_bound(SOCK_STREAM, name, 1);
	must(!listen(p->fd[0], 4), 70);
	p->fd[1] = sock_connect(SOCK_STREAM, name, 1);
	must(!pipe(pp) && write(pp[1], "buffered", 8) == 8, 71);
	e = eventfd(3, 0);
	must(e >= 0, 72);
	must(!send_fd(p->fd[1], "r", pp[0]), 73);
	must(!send_fd(p->fd[1], "e", e), 74);
	close(pp[0]);
	close(pp[1]);
	close(e);
}

static int verify_embryo_in_flight(struct probe *p)
{
	uint64_t v = 0;
	char b[64];
	int a, r, e;

	a = accept(p->fd[0], NULL, NULL);
	CHECK(1, a >= 0, "accept: %s", strerror(errno));
	r = recv_fd(a, b, 2);
	CHECK(2, r >= 0 && !strcmp(b, "r"), "pipe: %d '%s'", r, b);
	CHECK(3, read(r, b, 8) == 8 && !memcmp(b, "buffered", 8), "pipe bytes");
	CHECK(4, read(r, b, 1) == 0, "the pipe's writer came back");
	e = recv_fd(a, b, 2);
	CHECK(5, e >= 0 && !strcmp(b, "e"), "eventfd: %d '%s'", e, b);
	CHECK(6, read(e, &v, 8) == 8 && v == 3, "eventfd count %llu", (unsigned long long)v);
	CHECK(7, drained(a), "more data");
	return 0;
}

TEST(files_in_flight_to_a_connection_not_accepted)
{
	struct probe p = { "embryo", setup_embryo_in_flight, verify_embryo_in_flight };

	ROUND_TRIP(&p, 0);
}

/*
 * A fanotify group in flight, its only reference (closed in the process): it
 * comes back with its flags and its mark on a file, and reports the file
 * written after the restart.
 */
static void setup_fanotify_in_flight(struct probe *p)
{
	int fa, f;

	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd), 80);
	unlink(p->path);
	f = open(p->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	must(f >= 0 && !close(f), 81);
	fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	must(fa >= 0 && !fanotify_mark(fa, FAN_MARK_ADD, FAN_CLOSE_WRITE, AT_FDCWD, p->path), 82);
	must(!send_fd(p->fd[0], "a", fa), 83);
	close(fa);
}

static int verify_fanotify_in_flight(struct probe *p)
{
	char b[4096] __attribute__((aligned(8)));
	struct fanotify_event_metadata *m = (void *)b;
	int fa, f, n;

	fa = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(1, fa >= 0 && !strcmp(b, "a"), "fanotify: %d '%s'", fa, b);
	CHECK(2, fcntl(fa, F_GETFL) & O_NONBLOCK, "fanotify flags %#x", fcntl(fa, F_GETFL));
	CHECK(3, read(fa, b, sizeof(b)) < 0 && errno == EAGAIN, "events queued");
	f = open(p->path, O_WRONLY);
	CHECK(4, f >= 0 && !close(f), "cannot open %s", p->path);
	n = read(fa, b, sizeof(b));
	CHECK(5, n >= (int)FAN_EVENT_METADATA_LEN && m->mask == FAN_CLOSE_WRITE,
	      "event: %d bytes, mask %#llx", n, n > 0 ? (unsigned long long)m->mask : 0ULL);
	if (n > 0 && m->fd >= 0)
		close(m->fd);
	CHECK(6, drained(p->fd[1]), "more messages");
	return 0;
}

TEST(fanotify_group_in_flight)
{
	struct probe p = { "fanflight", setup_fanotify_in_flight, verify_fanotify_in_flight };

	snprintf(p.path, sizeof(p.path), "/tmp/ckpt-fanflight-%d", getpid());
	ROUND_TRIP(&p, 0);
	unlink(p.path);
}

TEST(event_and_regular_files_in_flight)
{
	struct probe p = { "inflight2", setup_files_in_flight, verify_files_in_flight };

	snprintf(p.path, sizeof(p.path), "/tmp/ckpt-inflight-%d", getpid());
	ROUND_TRIP(&p, 0);
	unlink(p.path);
}

/*
 * Memfds in flight come back in flight, each only in flight: one with its
 * name, 10,000 bytes of contents (a hole in the middle), offset 5, O_APPEND
 * and the seals F_SEAL_SHRINK | F_SEAL_GROW; one made without sealing
 * (F_SEAL_SEAL), 3 bytes, read-only through a second open file of its own
 * (/proc/self/fd) whose own open is closed.
 */
static void setup_memfds_in_flight(struct probe *p)
{
	char path[64];
	int m, m2, r;

	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd), 70);
	m = memfd_create("ckpt-inflight", MFD_ALLOW_SEALING);
	must(m >= 0 && write(m, "memfd contents", 14) == 14, 71);
	must(pwrite(m, "tail", 4, 9996) == 4 && lseek(m, 5, SEEK_SET) == 5, 72);
	must(!fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 73);
	must(!fcntl(m, F_SETFL, O_APPEND), 74);
	m2 = memfd_create("ckpt-inflight-2", 0);
	must(m2 >= 0 && write(m2, "abc", 3) == 3, 75);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m2);
	r = open(path, O_RDONLY);
	must(r >= 0, 76);
	must(!send_fd(p->fd[0], "m", m), 77);
	must(!send_fd(p->fd[0], "r", r), 78);
	close(m);
	close(m2);
	close(r);
}

static int verify_memfds_in_flight(struct probe *p)
{
	char b[64], link[128];
	struct stat st;
	ssize_t n;
	int m, r;

	m = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(1, m >= 0 && !strcmp(b, "m"), "memfd: %d '%s'", m, b);
	snprintf(b, sizeof(b), "/proc/self/fd/%d", m);
	n = readlink(b, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(2, !strcmp(link, "/memfd:ckpt-inflight (deleted)"), "name '%s'", link);
	CHECK(3, fcntl(m, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW), "seals %#x",
	      fcntl(m, F_GET_SEALS));
	CHECK(4, !fstat(m, &st) && st.st_size == 10000, "size %ld", (long)st.st_size);
	CHECK(5, lseek(m, 0, SEEK_CUR) == 5, "offset %ld", (long)lseek(m, 0, SEEK_CUR));
	CHECK(6, (fcntl(m, F_GETFL) & (O_ACCMODE | O_APPEND)) == (O_RDWR | O_APPEND),
	      "flags %#x", fcntl(m, F_GETFL));
	CHECK(7, read(m, b, 9) == 9 && !memcmp(b, " contents", 9), "contents");
	CHECK(8, pread(m, b, 8, 5000) == 8 && !memcmp(b, "\0\0\0\0\0\0\0\0", 8), "hole");
	CHECK(9, pread(m, b, 5, 9996) == 4 && !memcmp(b, "tail", 4), "tail");
	CHECK(10, ftruncate(m, 20000) < 0 && errno == EPERM, "grew: seals not applied");
	CHECK(11, fcntl(m, F_ADD_SEALS, F_SEAL_WRITE) == 0, "cannot seal further: %s",
	      strerror(errno));
	r = recv_fd(p->fd[1], b, sizeof(b));
	CHECK(12, r >= 0 && !strcmp(b, "r"), "second memfd: %d '%s'", r, b);
	CHECK(13, (fcntl(r, F_GETFL) & O_ACCMODE) == O_RDONLY, "flags %#x", fcntl(r, F_GETFL));
	CHECK(14, fcntl(r, F_GET_SEALS) == F_SEAL_SEAL, "seals %#x", fcntl(r, F_GET_SEALS));
	CHECK(15, read(r, b, 8) == 3 && !memcmp(b, "abc", 3), "contents");
	CHECK(16, write(r, "x", 1) < 0 && errno == EBADF, "writable");
	snprintf(b, sizeof(b), "/proc/self/fd/%d", r);
	n = readlink(b, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(17, !strcmp(link, "/memfd:ckpt-inflight-2 (deleted)"), "name '%s'", link);
	CHECK(18, drained(p->fd[1]), "more messages");
	return 0;
}

TEST(memfds_in_flight)
{
	struct probe p = { "memfd", setup_memfds_in_flight, verify_memfds_in_flight };

	ROUND_TRIP(&p, 0);
}

/*
 * Deleted files in flight come back in flight, each only in flight: one open
 * for reading and writing at offset 4 with O_APPEND, mode 0640; one read-only
 * at offset 2, mode 0400, 6,000 bytes.
 */
static void setup_deleted_in_flight(struct probe *p)
{
	char path[128];
	int f, g, r;

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	unlink(p->path);
	f = open(p->path, O_RDWR | O_CREAT | O_EXCL, 0640);
	must(f >= 0 && write(f, "deleted contents", 16) == 16, 71);
	must(lseek(f, 4, SEEK_SET) == 4 && !fcntl(f, F_SETFL, O_APPEND), 72);
	must(!unlink(p->path), 73);
	snprintf(path, sizeof(path), "%s-ro", p->path);
	unlink(path);
	g = open(path, O_RDWR | O_CREAT | O_EXCL, 0400);
	must(g >= 0 && write(g, "read only", 9) == 9 && pwrite(g, "end", 3, 5997) == 3, 74);
	r = open(path, O_RDONLY);
	must(r >= 0 && lseek(r, 2, SEEK_SET) == 2 && !unlink(path), 75);
	close(g);
	must(!send_fd(p->fd[0], "f", f), 76);
	must(!send_fd(p->fd[0], "r", r), 77);
	close(f);
	close(r);
}

static int verify_deleted_in_flight(struct probe *p)
{
	char b[64];
	struct stat st;
	int f, r;

	f = recv_fd(p->fd[1], b, 2);
	CHECK(1, f >= 0 && !strcmp(b, "f"), "file: %d '%s'", f, b);
	CHECK(2, !fstat(f, &st) && st.st_nlink == 0 && S_ISREG(st.st_mode), "nlink %ld",
	      (long)st.st_nlink);
	CHECK(3, (st.st_mode & 07777) == 0640 && st.st_size == 16, "mode %o size %ld",
	      st.st_mode & 07777, (long)st.st_size);
	CHECK(4, st.st_uid == getuid() && st.st_gid == getgid(), "owner %d:%d", st.st_uid,
	      st.st_gid);
	CHECK(5, lseek(f, 0, SEEK_CUR) == 4, "offset %ld", (long)lseek(f, 0, SEEK_CUR));
	CHECK(6, (fcntl(f, F_GETFL) & (O_ACCMODE | O_APPEND)) == (O_RDWR | O_APPEND),
	      "flags %#x", fcntl(f, F_GETFL));
	CHECK(7, read(f, b, 12) == 12 && !memcmp(b, "ted contents", 12), "contents");
	CHECK(8, write(f, "!", 1) == 1 && pread(f, b, 1, 16) == 1 && b[0] == '!', "append");
	r = recv_fd(p->fd[1], b, 2);
	CHECK(9, r >= 0 && !strcmp(b, "r"), "read-only file: %d '%s'", r, b);
	CHECK(10, !fstat(r, &st) && st.st_nlink == 0 && (st.st_mode & 07777) == 0400 &&
		  st.st_size == 6000, "nlink %ld mode %o size %ld", (long)st.st_nlink,
	      st.st_mode & 07777, (long)st.st_size);
	CHECK(11, (fcntl(r, F_GETFL) & O_ACCMODE) == O_RDONLY, "flags %#x", fcntl(r, F_GETFL));
	CHECK(12, lseek(r, 0, SEEK_CUR) == 2, "offset %ld", (long)lseek(r, 0, SEEK_CUR));
	CHECK(13, read(r, b, 7) == 7 && !memcmp(b, "ad only", 7), "contents");
	CHECK(14, pread(r, b, 4, 5997) == 3 && !memcmp(b, "end", 3), "end");
	CHECK(15, drained(p->fd[1]), "more data");
	return 0;
}

TEST(deleted_files_in_flight)
{
	struct probe p = { "deleted", setup_deleted_in_flight, verify_deleted_in_flight };

	snprintf(p.path, sizeof(p.path), "/tmp/ckpt-inflight-del-%d", getpid());
	ROUND_TRIP(&p, 0);
}

/*
 * Unix sockets in flight come back in flight, connected and with their queues:
 * a stream pair (fds 0, 1) carries one end of another stream pair, whose other
 * end the process keeps (fd 2), with bytes queued both ways; a datagram pair
 * (fds 3, 4) carries both ends of a third, datagram, pair in one message, with
 * a datagram queued in one of them.
 */
static void setup_sockets_in_flight(struct probe *p)
{
	char cb[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { "d", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int s[2], d[2];

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 70);
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, s), 71);
	put(s[0], "to the one in flight");
	put(s[1], "to the one kept");
	must(!send_fd(p->fd[0], "s", s[1]), 72);
	close(s[1]);
	p->fd[2] = s[0];
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd + 3), 73);
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, d), 74);
	put(d[0], "queued datagram");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), d, 2 * sizeof(int));
	must(sendmsg(p->fd[3], &m, 0) == 1, 75);
	close(d[0]);
	close(d[1]);
}

static int verify_sockets_in_flight(struct probe *p)
{
	char cb[CMSG_SPACE(2 * sizeof(int))], b[64];
	struct iovec iov = { b, sizeof(b) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c;
	int s, d[2] = { -1, -1 }, type = 0;
	socklen_t len = sizeof(type);

	s = recv_fd(p->fd[1], b, 2);
	CHECK(1, s >= 0 && !strcmp(b, "s"), "socket: %d '%s'", s, b);
	CHECK(2, !getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) && type == SOCK_STREAM,
	      "type %d", type);
	CHECK(3, get(s, b, 20) == 20 && !memcmp(b, "to the one in flight", 20), "its queue");
	CHECK(4, get(p->fd[2], b, 15) == 15 && !memcmp(b, "to the one kept", 15), "its peer's queue");
	put(s, "ping");
	CHECK(5, get(p->fd[2], b, 4) == 4 && !memcmp(b, "ping", 4), "one way");
	put(p->fd[2], "pong");
	CHECK(6, get(s, b, 4) == 4 && !memcmp(b, "pong", 4), "the other way");
	CHECK(7, drained(s) && drained(p->fd[2]) && drained(p->fd[1]), "more data");
	CHECK(8, recvmsg(p->fd[4], &m, MSG_DONTWAIT) == 1 && b[0] == 'd', "datagram carrier");
	c = CMSG_FIRSTHDR(&m);
	CHECK(9, c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(2 * sizeof(int)),
	      "no two files");
	memcpy(d, CMSG_DATA(c), sizeof(d));
	CHECK(10, recv(d[1], b, sizeof(b), MSG_DONTWAIT) == 15 && !memcmp(b, "queued datagram", 15),
	      "datagram queue");
	CHECK(11, send(d[1], "back", 4, 0) == 4 && recv(d[0], b, sizeof(b), MSG_DONTWAIT) == 4 &&
		  !memcmp(b, "back", 4), "datagram pair, one way");
	CHECK(12, send(d[0], "forth", 5, 0) == 5 && recv(d[1], b, sizeof(b), MSG_DONTWAIT) == 5 &&
		  !memcmp(b, "forth", 5), "datagram pair, the other way");
	CHECK(13, drained(d[0]) && drained(d[1]) && drained(p->fd[4]), "more messages");
	return 0;
}

TEST(sockets_in_flight)
{
	struct probe p = { "sockets", setup_sockets_in_flight, verify_sockets_in_flight };

	ROUND_TRIP(&p, 0);
}

/*
 * Unix sockets in flight that carry files in flight, in a loop (CRIU's scm06):
 * a datagram pair bound to abstract names (fds 0, 1) where each end sends both
 * ends; the first also sends one end of a stream pair whose queue carries a
 * pipe's read end and the stream pair's other end: neither stream end nor the
 * read end is held by an fd (the pipe's write end is: fd 2).
 */
static void setup_nested_in_flight(struct probe *p)
{
	int s[2], pp[2], i, j;
	char name[64];

	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "ckpt-nest-%d-%d", i, getpid());
		p->fd[i] = sock_bound(SOCK_DGRAM, name, 1);
	}
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, s) && !pipe(pp), 70);
	must(!send_fd(s[0], "p", pp[0]), 71);
	must(!send_fd(s[0], "s", s[0]), 72);
	p->fd[2] = pp[1];
	close(pp[0]);
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "ckpt-nest-%d-%d", !i, getpid());
		for (j = 0; j < 2; j++) {
			struct sockaddr_un a;
			socklen_t len = mkaddr(&a, name, 1);
			char cb[CMSG_SPACE(sizeof(int))], d = 'a' + j;
			struct iovec iov = { &d, 1 };
			struct msghdr m = { .msg_name = &a, .msg_namelen = len, .msg_iov = &iov,
					    .msg_iovlen = 1, .msg_control = cb,
					    .msg_controllen = sizeof(cb) };
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);

			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &p->fd[j], sizeof(int));
			must(sendmsg(p->fd[i], &m, 0) == 1, 73);
		}
	}
	snprintf(name, sizeof(name), "ckpt-nest-1-%d", getpid());
	{
		struct sockaddr_un a;
		socklen_t len = mkaddr(&a, name, 1);
		char cb[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { "c", 1 };
		struct msghdr m = { .msg_name = &a, .msg_namelen = len, .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &s[1], sizeof(int));
		must(sendmsg(p->fd[0], &m, 0) == 1, 74);
	}
	close(s[0]);
	close(s[1]);
	p->v[0] = getpid();
}

static int verify_nested_in_flight(struct probe *p)
{
	char b[64], name[64];
	int i, j, x, s1, s0, r;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++) {
			x = recv_fd(p->fd[!i], b, 2);
			CHECK(1, x >= 0 && b[0] == 'a' + j, "socket %d from %d: %d '%s'", j, i, x, b);
			snprintf(name, sizeof(name), "ckpt-nest-%d-%ld", j, p->v[0]);
			CHECK(2, name_is(x, 0, name, 1), "socket %d from %d: another name", j, i);
			close(x);
		}
	}
	s1 = recv_fd(p->fd[1], b, 2);
	CHECK(3, s1 >= 0 && !strcmp(b, "c"), "stream end: %d '%s'", s1, b);
	r = recv_fd(s1, b, 2);
	CHECK(4, r >= 0 && !strcmp(b, "p"), "read end: %d '%s'", r, b);
	s0 = recv_fd(s1, b, 2);
	CHECK(5, s0 >= 0 && !strcmp(b, "s"), "other stream end: %d '%s'", s0, b);
	CHECK(6, write(p->fd[2], "pipe", 4) == 4 && read(r, b, 4) == 4 && !memcmp(b, "pipe", 4),
	      "pipe");
	put(s0, "ping");
	CHECK(7, get(s1, b, 4) == 4 && !memcmp(b, "ping", 4), "one way");
	put(s1, "pong");
	CHECK(8, get(s0, b, 4) == 4 && !memcmp(b, "pong", 4), "the other way");
	CHECK(9, drained(p->fd[0]) && drained(p->fd[1]) && drained(s0) && drained(s1),
	      "more messages");
	return 0;
}

TEST(sockets_carrying_sockets_in_flight)
{
	struct probe p = { "nested", setup_nested_in_flight, verify_nested_in_flight };

	ROUND_TRIP(&p, 0);
}

/*
 * SCM_CREDENTIALS of queued messages: a datagram pair whose receiver has
 * SO_PASSCRED (the kernel attaches the sender's credentials), a stream pair
 * whose sender passes them explicitly, and a datagram pair where nobody asks
 * for them (none attached: a receiver turning SO_PASSCRED on later reads pid
 * 0).  The process is the image's root: after the restart each message
 * carries its pid and ids again.
 */
static int recv_creds(int via, char *b, size_t len, struct ucred *uc)
{
	char cb[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { b, len - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(via, &m, MSG_DONTWAIT);

	if (n < 0)
		return -1;
	b[n] = 0;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_CREDENTIALS)
		return 0;
	memcpy(uc, CMSG_DATA(c), sizeof(*uc));
	return 1;
}

static void setup_creds(struct probe *p)
{
	struct ucred uc = { getpid(), getuid(), getgid() };
	char cb[CMSG_SPACE(sizeof(uc))];
	struct iovec iov = { "explicit", 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int one = 1;

	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd), 70);
	must(!setsockopt(p->fd[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 71);
	put(p->fd[0], "auto");
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd + 2), 72);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	must(sendmsg(p->fd[2], &m, 0) == 8, 73);
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, p->fd + 4), 74);
	put(p->fd[4], "none");
	p->v[0] = getpid();
}

static int verify_creds(struct probe *p)
{
	struct ucred uc = { 0 };
	int one = 1;
	char b[64];

	CHECK(1, getpid() == p->v[0], "pid %d, was %ld", getpid(), p->v[0]);
	CHECK(2, recv_creds(p->fd[1], b, sizeof(b), &uc) == 1 && !strcmp(b, "auto"),
	      "'%s' without credentials", b);
	CHECK(3, uc.pid == getpid() && uc.uid == getuid() && uc.gid == getgid(),
	      "credentials pid %d uid %d gid %d", uc.pid, uc.uid, uc.gid);
	/* Read with SO_PASSCRED turned on now: the explicit credentials. */
	must(!setsockopt(p->fd[3], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 90);
	memset(&uc, 0, sizeof(uc));
	CHECK(4, recv_creds(p->fd[3], b, sizeof(b), &uc) == 1 && !strcmp(b, "explicit"),
	      "'%s' without credentials", b);
	CHECK(5, uc.pid == getpid() && uc.uid == getuid() && uc.gid == getgid(),
	      "credentials pid %d uid %d gid %d", uc.pid, uc.uid, uc.gid);
	must(!setsockopt(p->fd[5], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 91);
	memset(&uc, 0, sizeof(uc));
	CHECK(6, recv_creds(p->fd[5], b, sizeof(b), &uc) == 1 && !strcmp(b, "none"), "'%s'", b);
	CHECK(7, uc.pid == 0, "credentials attached: pid %d", uc.pid);
	CHECK(8, drained(p->fd[1]) && drained(p->fd[3]) && drained(p->fd[5]), "more messages");
	return 0;
}

TEST(credentials_of_queued_messages)
{
	struct probe p = { "creds", setup_creds, verify_creds };

	ROUND_TRIP(&p, 0);
}

/* A message queued with another process's credentials, read by a socket with
 * SO_PASSCRED: refused with that reason. */
static void creds_child(int ready, void *arg)
{
	int sv[2], one = 1;
	pid_t kid;

	(void)arg;
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 70);
	must(!setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 71);
	kid = fork();
	if (kid == 0) {
		put(sv[0], "from a child");
		_exit(0);
	}
	must(kid > 0 && waitpid(kid, NULL, 0) == kid, 72);
	close(sv[0]);
	say_ready(ready);
	pause();
}

TEST(credentials_of_another_process_are_refused)
{
	child_refused(_metadata, creds_child, NULL, "SCM_CREDENTIALS");
}

/*
 * An event file the checkpoint refuses (an inotify instance with an event
 * queued), two queues deep: in flight in a socket that is itself in flight in
 * the queue of the socket the process holds. `ckpt check` sees it too.
 */
static void nested_event_child(int ready, void *arg)
{
	char dir[64], path[96];
	int outer[2], inner[2], in;

	(void)arg;
	snprintf(dir, sizeof(dir), "/tmp/ckpt-nested-ino-%d", getpid());
	must(!mkdir(dir, 0755), 70);
	in = inotify_init1(0);
	must(in >= 0 && inotify_add_watch(in, dir, IN_CREATE) == 1, 71);
	snprintf(path, sizeof(path), "%s/f", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, outer), 72);
	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, inner), 73);
	must(!send_fd(inner[0], "i", in), 74);
	must(!send_fd(outer[0], "s", inner[1]), 75);
	close(in);
	close(inner[0]);
	close(inner[1]);
	say_ready(ready);
	pause();
}

TEST(refused_event_file_two_queues_deep)
{
	child_refused(_metadata, nested_event_child, NULL, "queued");
	ASSERT_EQ(0, sh("rm -rf /tmp/ckpt-nested-ino-*"));
}

/*
 * A memfd open twice (a reopen through /proc/self/fd: two open file
 * descriptions), one of the opens in flight: refused by `ckpt check` and the
 * checkpoint alike, whichever of the two the image would meet first
 * (arg: the socket before the memfd in the fd table, or after).
 */
static void twin_memfd_child(int ready, void *arg)
{
	int sv[2], m, again;
	char path[64];

	if (arg)
		must(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 70);
	m = memfd_create("ckpt-twin", 0);
	must(m >= 0 && write(m, "twin", 4) == 4, 71);
	if (!arg)
		must(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 72);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
	again = open(path, O_RDWR);
	must(again >= 0, 73);
	must(!send_fd(sv[0], "m", again), 74);
	close(again);
	say_ready(ready);
	pause();
}

TEST(memfd_open_twice_one_in_flight_is_refused)
{
	for (long order = 0; order < 2; order++)
		child_refused(_metadata, twin_memfd_child, (void *)order,
			      "one of several open files of a memfd");
}

TEST(listening_socket_in_flight_is_refused)
{
	child_refused(_metadata, rights_child, NULL, "is a listening socket");
}

TEST_HARNESS_MAIN
