// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_perms: the permission matrix (Documentation/ckpt/admin-guide.rst,
 * "Permissions" and "Security model"), in both modes of the module
 * parameter "unprivileged":
 *
 *   root_only     (unprivileged=0, the default): a user who opened
 *                 /dev/ckpt (the node opened to all for the test, as a
 *                 udev rule could) gets EPERM for every operation; with an
 *                 fd root opened and handed over, the ioctls still judge
 *                 the caller by the rules below;
 *   unprivileged  (unprivileged=1): every user may use it, for their own,
 *                 dumpable, not more privileged processes only, and a
 *                 restart never gives more than the caller has.
 *
 * The caller is USER, a child of the (root) test with no capabilities.
 * Each case asserts the errno and that nothing was made: no image bytes, the
 * target neither stopped nor killed, the restarter still itself.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/inotify.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "ckpt_util.h"
#include "kselftest_harness.h"

#define USER 1000
#define OTHER 2000
#define MODE_PARAM "/sys/module/ckpt/parameters/unprivileged"
#define SUID_HELPER "/tmp/ckpt-perms-suid"
#define PLAIN_EXE "/tmp/ckpt-perms-exe"
#define ROOT_FILE "/tmp/ckpt-perms-rootfile"
#define WATCH_DIR "/tmp/ckpt-perms-watched"
#define DLINK "/tmp/ckpt-perms-dlink"
#define DLINK_TARGET "target-of-the-image"
#define FK_SYMLINK 11
#define GHOST_DIR "/tmp/ckpt-perms-ghosts"
#define GHOST_FD 20
#define K_CREDS 0x0700

/*
 * As a copy of this program run with CKPT_PERMS_PAUSE set (the set-uid
 * helper, or the plain copy whose path becomes set-uid): wait to be killed.
 */
__attribute__((constructor)) static void paused_copy(void)
{
	if (!getenv("CKPT_PERMS_PAUSE"))
		return;
	/* Its program open for reading, too. */
	if (getenv("CKPT_PERMS_HOLD_EXE") && open("/proc/self/exe", O_RDONLY) < 0)
		_exit(40);
	for (;;)
		pause();
}

/* ---- the mode ------------------------------------------------------------ */

static int mode_get(void)
{
	char c = 0;
	int fd = open(MODE_PARAM, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == '1' ? 1 : c == 'N' || c == '0' ? 0 : -1;
}

static int mode_set(int on)
{
	int fd = open(MODE_PARAM, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, on ? "1\n" : "0\n", 2) == 2;
	close(fd);
	return ok ? 0 : -1;
}

/* ---- privileges ---------------------------------------------------------- */


static void stdio_null(void)
{
	int n = open("/dev/null", O_RDWR);

	if (n < 0 || dup2(n, 0) < 0 || dup2(n, 1) < 0 || dup2(n, 2) < 0)
		_exit(40);
	if (n > 2)
		close(n);
}

/* ---- targets -------------------------------------------------------------- */

enum target {
	T_OWN,		/* USER, dumpable */
	T_OTHER,	/* OTHER, dumpable */
	T_ROOT,		/* root */
	T_NODUMP,	/* USER, PR_SET_DUMPABLE 0 */
	T_CAPS,		/* USER holding CAP_NET_ADMIN */
	T_SETUID,	/* USER's program that exec'd a set-uid-root one */
	T_OWN_FILE,	/* USER, dumpable, holding ROOT_FILE open */
	T_GROUP,	/* USER with supplementary group USER */
	T_INOTIFY,	/* USER, with an inotify watch on WATCH_DIR */
	T_DLINK,	/* USER, holding DLINK (a symlink it made) open with O_PATH, deleted */
	T_FANOTIFY,	/* USER, with an (unprivileged) fanotify mark on WATCH_DIR */
	T_SOCKPAIR,	/* USER, holding a socketpair it made */
};

static void target_child(int ready, void *arg)
{
	enum target t = (enum target)(uintptr_t)arg;
	int keep = -1;

	stdio_null();
	if (t == T_OWN_FILE) {
		keep = open(ROOT_FILE, O_RDONLY);
		if (keep < 0)
			_exit(30);
	}
	switch (t) {
	case T_ROOT:
		break;
	case T_OTHER:
		if (become(OTHER))
			_exit(31);
		break;
	case T_CAPS:
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || become(USER) ||
		    set_caps(1ULL << CAP_NET_ADMIN))
			_exit(32);
		break;
	case T_GROUP: {
		gid_t g = USER;

		if (setgroups(1, &g) || setresgid(USER, USER, USER) ||
		    setresuid(USER, USER, USER))
			_exit(33);
		break;
	}
	default:
		if (become(USER))
			_exit(34);
	}
	if (prctl(PR_SET_DUMPABLE, t == T_NODUMP ? 0 : 1, 0, 0, 0))
		_exit(35);
	if (t == T_SETUID) {
		char *argv[] = { SUID_HELPER, NULL };

		say_ready(ready);
		setenv("CKPT_PERMS_PAUSE", "1", 1);
		execv(SUID_HELPER, argv);
		_exit(36);
	}
	if (t == T_DLINK) {
		unlink(DLINK);
		if (symlink(DLINK_TARGET, DLINK) || open(DLINK, O_PATH | O_NOFOLLOW) < 0 ||
		    unlink(DLINK))
			_exit(38);
	}
	if (t == T_INOTIFY) {
		int in = inotify_init1(IN_CLOEXEC);

		if (in < 0 || inotify_add_watch(in, WATCH_DIR, IN_CREATE | IN_DELETE) != 1)
			_exit(37);
	}
	if (t == T_FANOTIFY) {
		/* FAN_CLASS_NOTIF | FAN_REPORT_FID: what a user may make. */
		int fa = syscall(SYS_fanotify_init, 0x200, O_RDONLY);

		if (fa < 0 || syscall(SYS_fanotify_mark, fa, 1 /* FAN_MARK_ADD */,
				      0x100ULL /* FAN_CREATE */, AT_FDCWD, WATCH_DIR))
			_exit(39);
	}
	if (t == T_SOCKPAIR) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			_exit(40);
	}
	say_ready(ready);
	for (;;)
		pause();
}

/* The effective uid of pid (/proc/PID/status), or -1. */
static long proc_euid(pid_t pid)
{
	char path[64], line[256];
	long r = -1, real, e;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld %ld", &real, &e) == 2)
			r = e;
	fclose(f);
	return r;
}

static pid_t start_target(enum target t)
{
	pid_t pid = spawn_ready(target_child, (void *)(uintptr_t)t);

	if (pid > 0 && t == T_SETUID) {
		/* Until the exec made it root. */
		for (int i = 0; i < 500 && proc_euid(pid) != 0; i++)
			sleep_ms(10);
		if (proc_euid(pid) != 0) {
			kill_reap(pid);
			return -1;
		}
	}
	return pid;
}

/* Neither stopped nor dead. */
static int untouched(pid_t pid)
{
	char s = proc_state(pid);

	return s && s != 'T' && s != 'Z' && s != 'X';
}

/* ---- running a case as USER ---------------------------------------------- */

/* Which /dev/ckpt fd USER uses: its own open, or one root opened for it. */
enum fdkind { OWN_FD, ROOT_FD };

struct ctx {
	int root_dev;		/* the test's own fd (root's) */
	enum fdkind fdk;
	int pre_fd;		/* opened by root for the case (an image), or -1 */
	pid_t pid;		/* the case's target */
	const char *out;	/* where a checkpoint writes */
	struct img_plan *ip;	/* the image restarted (read by root) */
	int in_group;		/* USER keeps supplementary group USER */
	char reason[256];
};

typedef int (*user_case)(int dev, struct ctx *c);

/*
 * Runs fn(dev, c) in a child as USER without capabilities; returns what it
 * returned (an errno, 0 for success) or 200+ if the child broke; the
 * child's reason text lands in c->reason.
 */
static int as_user(user_case fn, struct ctx *c)
{
	int rp[2], status, dev;
	pid_t pid;
	ssize_t n;

	if (pipe(rp))
		return 201;
	pid = fork();
	if (pid < 0)
		return 202;
	if (pid == 0) {
		close(rp[0]);
		if (c->fdk == ROOT_FD) {
			dev = dup(c->root_dev);
			close(c->root_dev);
		} else {
			close(c->root_dev);
			dev = -1;
		}
		if (c->in_group) {
			gid_t g = USER;

			if (setgroups(1, &g) || setresgid(USER, USER, USER) ||
			    setresuid(USER, USER, USER))
				_exit(210);
		} else if (become(USER)) {
			_exit(210);
		}
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(210);
		if (c->fdk == OWN_FD)
			dev = open(CKPT_DEV, O_RDWR | O_CLOEXEC);
		if (dev < 0)
			_exit(211);
		c->reason[0] = 0;
		status = fn(dev, c);
		if (write(rp[1], c->reason, strlen(c->reason)) < 0)
			_exit(212);
		_exit(status);
	}
	close(rp[1]);
	n = read(rp[0], c->reason, sizeof(c->reason) - 1);
	c->reason[n > 0 ? n : 0] = 0;
	close(rp[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 203;
	return WEXITSTATUS(status);
}

/* CKPT_IOC_CHECK and CKPT_IOC_CHECKPOINT (resume) must agree: their errno. */
static int case_checkpoint(int dev, struct ctx *c)
{
	int fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int st, ck;

	if (fd < 0)
		return 220;
	st = ckpt_check(dev, c->pid, c->reason, sizeof(c->reason));
	ck = ckpt_checkpoint(dev, c->pid, fd, CKPT_CHECKPOINT_RESUME, NULL);
	close(fd);
	if (st < 0)
		return -st == -ck ? -st : 221;	/* the ioctl itself refused */
	if (ck != -st)
		return 222;
	return st;
}

/* CKPT_IOC_CHECKPOINT with flags (kill, stop, tree): its errno. */
static uint64_t ckpt_flags;

static int case_checkpoint_flags(int dev, struct ctx *c)
{
	int fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC, 0600), ck;

	if (fd < 0)
		return 220;
	ck = ckpt_checkpoint(dev, c->pid, fd, ckpt_flags, NULL);
	close(fd);
	return -ck;
}

/*
 * CKPT_IOC_RESTART of the image at c->pre_fd (opened by root), planned in
 * c->ip: with fresh pipes for the image's pipes.  Returns the errno;
 * returning at all means the restarter was not replaced.
 */
static int restart_ioctl_files(int dev, int img, const struct img_plan *ip,
			       const struct ckpt_restart_file *files, unsigned int nfiles,
			       char *reason, size_t len)
{
	struct ckpt_restart_pipe pp[16];
	struct ckpt_restart_args a;
	int q[2];

	if (chdir(ip->cwd) || move_specials(ip))
		return 230;
	for (int i = 0; i < ip->npipes && i < 16; i++) {
		if (pipe(q))
			return 231;
		pp[i].id = ip->pipe[i].id;
		pp[i].rfd = q[0];
		pp[i].wfd = q[1];
		pp[i].pad = 0;
	}
	memset(&a, 0, sizeof(a));
	a.fd = img;
	a.npipes = ip->npipes;
	a.pipes = (uint64_t)(uintptr_t)pp;
	a.stdio[0] = a.stdio[1] = a.stdio[2] = -1;
	a.files = (uint64_t)(uintptr_t)files;
	a.nfiles = nfiles;
	if (ioctl(dev, CKPT_IOC_RESTART, &a) == 0)
		return 232;
	snprintf(reason, len, "%s", a.reason);
	return errno;
}

static int restart_ioctl(int dev, int img, const struct img_plan *ip, char *reason, size_t len)
{
	return restart_ioctl_files(dev, img, ip, NULL, 0, reason, len);
}

static int case_restart(int dev, struct ctx *c)
{
	int e = restart_ioctl(dev, c->pre_fd, c->ip, c->reason, sizeof(c->reason));

	/* Still USER: nothing came with the refusal. */
	if (getuid() != USER || geteuid() != USER || getgid() != USER)
		return 233;
	return e;
}

/* The shell interface: read one queued image; its errno (0: read one). */
static int case_shell_read(int dev, struct ctx *c)
{
	char buf[4096];

	(void)c;
	if (read(dev, buf, sizeof(buf)) >= 0)
		return 0;
	return errno;
}

/* The shell interface: "PID" and "PID kill" of c->pid; the errno both gave. */
static int case_shell_echo(int dev, struct ctx *c)
{
	char cmd[64];
	int e1, e2;

	snprintf(cmd, sizeof(cmd), "%d\n", c->pid);
	e1 = write(dev, cmd, strlen(cmd)) >= 0 ? 0 : errno;
	snprintf(cmd, sizeof(cmd), "%d kill\n", c->pid);
	e2 = write(dev, cmd, strlen(cmd)) >= 0 ? 0 : errno;
	return e1 == e2 ? e1 : 240;
}

/* ---- the fixture ------------------------------------------------------------ */

#define YAMA_SCOPE "/proc/sys/kernel/yama/ptrace_scope"

/* Yama's ptrace_scope (-1: no Yama), or sets it to v (v >= 0). */
static int yama(int v)
{
	char c = 0;
	int fd = open(YAMA_SCOPE, v < 0 ? O_RDONLY : O_WRONLY);

	if (fd < 0)
		return -1;
	if (v >= 0) {
		c = '0' + v;
		v = write(fd, &c, 1) == 1 ? v : -1;
	} else {
		v = read(fd, &c, 1) == 1 ? c - '0' : -1;
	}
	close(fd);
	return v;
}

FIXTURE(perm) {
	int dev;
	int old_mode;
	int old_yama;
	char img[64];
	char out[64];
};

FIXTURE_VARIANT(perm) {
	int unprivileged;
};

FIXTURE_VARIANT_ADD(perm, root_only) {
	.unprivileged = 0,
};

FIXTURE_VARIANT_ADD(perm, unprivileged) {
	.unprivileged = 1,
};

FIXTURE_SETUP(perm)
{
	self->dev = ckpt_open();
	ASSERT_LE(0, self->dev);
	self->old_mode = mode_get();
	ASSERT_LE(0, self->old_mode) TH_LOG("no %s: the module lacks the parameter", MODE_PARAM);
	ASSERT_EQ(0, mode_set(variant->unprivileged));
	/* The classic ptrace rules (ckpt_security tests Yama's). */
	self->old_yama = yama(-1);
	if (self->old_yama > 0)
		ASSERT_EQ(0, yama(0));
	/* Opened to every user, as a udev rule could: the mode is what counts. */
	ASSERT_EQ(0, chmod(CKPT_DEV, 0666));
	snprintf(self->img, sizeof(self->img), "/tmp/ckpt-perms-%d.img", getpid());
	snprintf(self->out, sizeof(self->out), "/tmp/ckpt-perms-%d.out", getpid());
	unlink(self->out);
}

FIXTURE_TEARDOWN(perm)
{
	chmod(CKPT_DEV, 0600);
	if (self->old_mode >= 0)
		mode_set(self->old_mode);
	if (self->old_yama > 0)
		yama(self->old_yama);
	unlink(self->img);
	unlink(self->out);
	close(self->dev);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_size;
}

/*
 * USER checkpoints target t: in unprivileged mode with its own fd it gets
 * want; in root-only mode EPERM with its own fd, and want with root's fd
 * (the ioctls judge the caller).  A refusal writes nothing and leaves the
 * target running.
 */
static void expect_checkpoint(struct __test_metadata *_metadata, FIXTURE_DATA(perm) *self,
			      const FIXTURE_VARIANT(perm) *variant, enum target t, int want)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out, .pre_fd = -1 };
	int got;

	c.pid = start_target(t);
	ASSERT_LT(0, c.pid);
	c.fdk = OWN_FD;
	got = as_user(case_checkpoint, &c);
	EXPECT_EQ(variant->unprivileged ? want : EPERM, got) TH_LOG("own fd: %s", c.reason);
	if (!variant->unprivileged) {
		c.fdk = ROOT_FD;
		got = as_user(case_checkpoint, &c);
		EXPECT_EQ(want, got) TH_LOG("root's fd: %s", c.reason);
	}
	if (want) {
		EXPECT_EQ(0, file_size(self->out));
		/* Neither may it stop or kill what it may not read. */
		for (int i = 0; i < 2; i++) {
			ckpt_flags = i ? CKPT_CHECKPOINT_KILL : CKPT_CHECKPOINT_STOP;
			c.fdk = variant->unprivileged ? OWN_FD : ROOT_FD;
			EXPECT_EQ(want, as_user(case_checkpoint_flags, &c));
			EXPECT_EQ(0, file_size(self->out));
		}
	} else {
		EXPECT_LT(4096, file_size(self->out));
	}
	EXPECT_TRUE(untouched(c.pid)) TH_LOG("state %c", proc_state(c.pid));
	kill_reap(c.pid);
}

TEST_F(perm, own_process)
{
	expect_checkpoint(_metadata, self, variant, T_OWN, 0);
}

TEST_F(perm, other_uid)
{
	expect_checkpoint(_metadata, self, variant, T_OTHER, EPERM);
}

TEST_F(perm, root_target)
{
	expect_checkpoint(_metadata, self, variant, T_ROOT, EPERM);
}

TEST_F(perm, non_dumpable_target)
{
	expect_checkpoint(_metadata, self, variant, T_NODUMP, EPERM);
}

TEST_F(perm, target_with_capabilities_beyond_the_callers)
{
	expect_checkpoint(_metadata, self, variant, T_CAPS, EPERM);
}

TEST_F(perm, setuid_execd_target)
{
	ASSERT_EQ(0, copy_self(SUID_HELPER, 04755));
	expect_checkpoint(_metadata, self, variant, T_SETUID, EPERM);
	unlink(SUID_HELPER);
}

/*
 * Pids of another user: a tree of USER's own process with a descendant that
 * is another user's (a set-uid program it ran) is refused as a whole; and a
 * restarter without CAP_CHECKPOINT_RESTORE never gets a pid it asks for
 * (ckpt gives none: clone3()'s set_tid is the kernel's rule).
 */
static void tree_parent(int ready, void *arg)
{
	pid_t kid;

	(void)arg;
	stdio_null();
	if (setpgid(0, 0) || become(USER) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(30);
	kid = fork();
	if (kid == 0) {
		char *argv[] = { SUID_HELPER, NULL };

		setenv("CKPT_PERMS_PAUSE", "1", 1);
		execv(SUID_HELPER, argv);
		_exit(31);
	}
	/* Ready once the child runs the set-uid program. */
	for (int i = 0; i < 500 && proc_euid(kid) != 0; i++)
		sleep_ms(10);
	say_ready(ready);
	for (;;)
		pause();
}

static int case_set_tid(int dev, struct ctx *c)
{
	long r;

	(void)dev;
	r = fork_with_pid(c->pid);
	if (r == 0)
		_exit(0);
	if (r > 0) {
		waitpid(r, NULL, 0);
		return 0;
	}
	return errno;
}

TEST_F(perm, pids_of_another_user)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out, .pre_fd = -1 };
	pid_t victim;

	ASSERT_EQ(0, copy_self(SUID_HELPER, 04755));
	c.pid = spawn_ready(tree_parent, NULL);
	ASSERT_LT(0, c.pid);
	ckpt_flags = CKPT_CHECKPOINT_TREE | CKPT_CHECKPOINT_RESUME;
	c.fdk = OWN_FD;
	EXPECT_EQ(EPERM, as_user(case_checkpoint_flags, &c));
	c.fdk = ROOT_FD;
	EXPECT_EQ(EPERM, as_user(case_checkpoint_flags, &c));
	EXPECT_EQ(0, file_size(self->out));
	EXPECT_TRUE(untouched(c.pid));
	kill(-c.pid, SIGKILL);
	kill_reap(c.pid);
	/* A pid another user's process just had, now free: not USER's to take. */
	victim = start_target(T_OTHER);
	ASSERT_LT(0, victim);
	kill_reap(victim);
	c.pid = victim;
	EXPECT_EQ(EPERM, as_user(case_set_tid, &c));
	unlink(SUID_HELPER);
}

/* ---- restart: never more than the caller has ------------------------------- */

/*
 * Checkpoints pid (left running) into img, then kills it; returns img's fd
 * (open for reading and writing, at its end).
 */
static int checkpoint_killed(struct __test_metadata *_metadata, int dev, const char *img,
			     pid_t pid)
{
	int fd;

	ASSERT_LT(0, pid);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL));
	kill_reap(pid);
	return fd;
}

/* Child r (a restarter of root_restart*()) exits 0: refused as it should be. */
static void expect_exit_0(struct __test_metadata *_metadata, pid_t r)
{
	int status;

	ASSERT_LT(0, r);
	ASSERT_EQ(r, waitpid(r, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
}

/* Child r (a restarter) became the image's program and runs as USER; then killed. */
static void expect_running_as_user(struct __test_metadata *_metadata, pid_t r)
{
	int status;

	ASSERT_LT(0, r);
	for (int i = 0; i < 300 && proc_euid(r) != USER; i++)
		sleep_ms(10);
	EXPECT_EQ(USER, proc_euid(r));
	EXPECT_EQ(0, waitpid(r, &status, WNOHANG)) TH_LOG("status %#x", status);
	kill_reap(r);
}

/*
 * Root checkpoints a process of target kind t into self->img; then edit(m,
 * n, p) changes its credentials record at payload offset p (the checks are
 * recomputed).  USER restarts it: EPERM, with a reason naming why, in both
 * modes and with both fds (root-only: its own fd is refused before).
 */
typedef void (*img_edit)(unsigned char *m, size_t n, size_t p);

/* The image in fd (*n bytes, malloc'ed), or NULL. */
static unsigned char *image_read(int fd, size_t *n)
{
	struct stat st;
	unsigned char *m;

	if (fstat(fd, &st))
		return NULL;
	*n = st.st_size;
	m = malloc(*n);
	if (m && pread(fd, m, *n, 0) != (ssize_t)*n) {
		free(m);
		return NULL;
	}
	return m;
}

/* Where the payload of the first record of kind in image m (n bytes) starts
 * (0: none). */
static size_t first_record(const unsigned char *m, size_t n, uint16_t kind)
{
	size_t p = 8;

	while (p + 12 <= n && le16(m + p) != kind)
		p += 12 + le32(m + p + 4);
	return p + 12 < n ? p + 12 : 0;
}

/* Writes image m (n bytes), resealed, back to fd and frees it; 0 or -1. */
static int image_write(int fd, unsigned char *m, size_t n)
{
	ssize_t w;

	reseal(m, n);
	w = pwrite(fd, m, n, 0);
	free(m);
	return w == (ssize_t)n ? 0 : -1;
}

static void expect_restart_refused(struct __test_metadata *_metadata, FIXTURE_DATA(perm) *self,
				   const FIXTURE_VARIANT(perm) *variant, enum target t,
				   img_edit edit, void (*after)(void), const char *word)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out };
	unsigned char *m;
	size_t n, p;
	pid_t pid;
	int fd, got;

	pid = start_target(t);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	if (edit) {
		m = image_read(fd, &n);
		ASSERT_NE(NULL, m);
		/* The first creds record's payload. */
		p = first_record(m, n, K_CREDS);
		ASSERT_NE(0, p);
		edit(m, n, p);
		ASSERT_EQ(0, image_write(fd, m, n));
	}
	if (after)
		after();
	c.pre_fd = fd;
	c.ip = calloc(1, sizeof(*c.ip));
	ASSERT_NE(NULL, c.ip);
	ASSERT_EQ(0, img_plan(self->img, c.ip));
	c.in_group = t == T_GROUP;
	c.fdk = OWN_FD;
	got = as_user(case_restart, &c);
	if (variant->unprivileged) {
		EXPECT_EQ(EPERM, got) TH_LOG("own fd: %s", c.reason);
		EXPECT_NE(NULL, strstr(c.reason, word)) TH_LOG("reason: %s", c.reason);
	} else {
		EXPECT_EQ(EPERM, got);
	}
	c.fdk = ROOT_FD;
	c.reason[0] = 0;
	got = as_user(case_restart, &c);
	EXPECT_EQ(EPERM, got) TH_LOG("root's fd: %s", c.reason);
	EXPECT_NE(NULL, strstr(c.reason, word)) TH_LOG("reason: %s", c.reason);
	free(c.ip);
	close(fd);
}

static void edit_uid0(unsigned char *m, size_t n, size_t p)
{
	(void)n;
	for (int i = 0; i < 4; i++)
		put_le32(m + p + 4 + 4 * i, 0);
}

static void edit_group0(unsigned char *m, size_t n, size_t p)
{
	(void)n;
	/* Its one supplementary group (USER) becomes root's. */
	if (le32(m + p + 84) == 1)
		put_le32(m + p + 88, 0);
}

static void edit_caps(unsigned char *m, size_t n, size_t p)
{
	(void)n;
	put_le64(m + p + 36 + 8, 1ULL << CAP_SYS_ADMIN);	/* permitted */
	put_le64(m + p + 36 + 16, 1ULL << CAP_SYS_ADMIN);	/* effective */
}

static void make_exe_setuid(void)
{
	if (chmod(PLAIN_EXE, 04755))
		_exit(1);
}

TEST_F(perm, image_edited_to_claim_uid_0)
{
	expect_restart_refused(_metadata, self, variant, T_OWN, edit_uid0, NULL, "credentials");
}

TEST_F(perm, image_edited_to_claim_an_extra_group)
{
	expect_restart_refused(_metadata, self, variant, T_GROUP, edit_group0, NULL,
			       "credentials");
}

TEST_F(perm, image_edited_to_claim_capabilities)
{
	expect_restart_refused(_metadata, self, variant, T_OWN, edit_caps, NULL, "credentials");
}

/* A process of USER running a plain program, whose path is then made
 * set-uid root: the restored executable link must not name it. */
static void plain_exe_child(int ready, void *arg)
{
	char *argv[] = { PLAIN_EXE, NULL };

	stdio_null();
	if (arg)
		setenv("CKPT_PERMS_HOLD_EXE", "1", 1);
	if (become(USER))
		_exit(30);
	say_ready(ready);
	setenv("CKPT_PERMS_PAUSE", "1", 1);
	execv(PLAIN_EXE, argv);
	_exit(31);
}

TEST_F(perm, exe_path_to_a_setuid_binary)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out };
	char link[256];
	pid_t pid;
	int fd, got;

	ASSERT_EQ(0, copy_self(PLAIN_EXE, 0755));
	pid = spawn_ready(plain_exe_child, NULL);
	ASSERT_LT(0, pid);
	for (int i = 0; i < 500; i++) {
		char path[64];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		k = readlink(path, link, sizeof(link) - 1);
		link[k > 0 ? k : 0] = 0;
		if (!strcmp(link, PLAIN_EXE))
			break;
		sleep_ms(10);
	}
	ASSERT_STREQ(PLAIN_EXE, link);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	make_exe_setuid();
	c.pre_fd = fd;
	c.ip = calloc(1, sizeof(*c.ip));
	ASSERT_NE(NULL, c.ip);
	ASSERT_EQ(0, img_plan(self->img, c.ip));
	c.fdk = variant->unprivileged ? OWN_FD : ROOT_FD;
	got = as_user(case_restart, &c);
	EXPECT_EQ(EPERM, got) TH_LOG("%s", c.reason);
	EXPECT_NE(NULL, strstr(c.reason, "set-ID")) TH_LOG("reason: %s", c.reason);
	if (!variant->unprivileged) {
		c.fdk = OWN_FD;
		EXPECT_EQ(EPERM, as_user(case_restart, &c));
	}
	free(c.ip);
	close(fd);
	unlink(PLAIN_EXE);
}

/* A caller under no_new_privs cannot restore a process without it: the
 * restored program could gain privileges by execve() that the caller
 * gave up. */
static int case_restart_nnp(int dev, struct ctx *c)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return 250;
	return case_restart(dev, c);
}

TEST_F(perm, no_new_privs_is_not_cleared)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out };
	pid_t pid;
	int fd;

	pid = start_target(T_OWN);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	c.pre_fd = fd;
	c.ip = calloc(1, sizeof(*c.ip));
	ASSERT_NE(NULL, c.ip);
	ASSERT_EQ(0, img_plan(self->img, c.ip));
	c.fdk = variant->unprivileged ? OWN_FD : ROOT_FD;
	EXPECT_EQ(EPERM, as_user(case_restart_nnp, &c)) TH_LOG("%s", c.reason);
	EXPECT_NE(NULL, strstr(c.reason, "no_new_privs")) TH_LOG("reason: %s", c.reason);
	free(c.ip);
	close(fd);
}

/* ---- the shell interface ---------------------------------------------------- */

TEST_F(perm, reading_another_users_queued_image)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out, .pre_fd = -1 };
	char buf[4096];
	ssize_t n;
	pid_t t;
	int fd;

	/* Root queues an image of a root process. */
	t = start_target(T_ROOT);
	ASSERT_LT(0, t);
	ASSERT_EQ(0, shell_queue(t));
	c.fdk = OWN_FD;
	EXPECT_EQ(variant->unprivileged ? ENODATA : EPERM, as_user(case_shell_read, &c));
	/* Still root's, whole. */
	fd = open(CKPT_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	EXPECT_EQ((ssize_t)sizeof(buf), n);
	EXPECT_EQ(0, memcmp(buf, ckpt_magic, 8));
	kill_reap(t);
}

TEST_F(perm, echo_of_a_foreign_pid)
{
	struct ctx c = { .root_dev = self->dev, .out = self->out, .pre_fd = -1 };
	enum target ts[] = { T_ROOT, T_OTHER, T_NODUMP };

	for (unsigned int i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		c.pid = start_target(ts[i]);
		ASSERT_LT(0, c.pid);
		c.fdk = OWN_FD;
		EXPECT_EQ(EPERM, as_user(case_shell_echo, &c)) TH_LOG("target kind %d", ts[i]);
		EXPECT_TRUE(untouched(c.pid));
		/* Nothing queued for USER (or refused to look, root-only). */
		EXPECT_EQ(variant->unprivileged ? ENODATA : EPERM, as_user(case_shell_read, &c));
		kill_reap(c.pid);
	}
	/* USER's own process: queued for USER, and only in unprivileged mode. */
	c.pid = start_target(T_OWN);
	ASSERT_LT(0, c.pid);
	EXPECT_EQ(variant->unprivileged ? 0 : EPERM, as_user(case_shell_echo, &c));
	EXPECT_EQ(variant->unprivileged ? 0 : EPERM, as_user(case_shell_read, &c));
	kill_reap(c.pid);
	/* "PID kill" killed it in unprivileged mode: collect the second image. */
	if (variant->unprivileged)
		EXPECT_EQ(0, as_user(case_shell_read, &c));
}

/* ---- A13: files are opened with the image's credentials --------------------- */

/*
 * Root takes USER's ids as `ckpt restart` does (sys::take_ids): keeping its
 * capabilities through setresuid(2), then making them effective again.
 */
static int take_user_ids_keeping_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || become(USER) ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return -1;
	return syscall(SYS_capset, &h, d);
}

/*
 * As root, restarts the image at fd (planned in ip) in a child; returns its
 * pid.  The child takes USER's ids first if take_ids (the module never
 * changes the uids itself).  It exits 100 + errno if refused with another
 * errno than want (0 + a check of the reason if it names word), or becomes
 * the image's program.
 */
static pid_t root_restart_ids(int fd, const struct img_plan *ip, bool take_ids, int want,
			      const char *word)
{
	char reason[256] = "";
	pid_t r = fork();
	int e, dev;

	if (r)
		return r;
	dev = open(CKPT_DEV, O_RDWR);
	if (take_ids && take_user_ids_keeping_caps())
		_exit(98);
	e = restart_ioctl(dev, fd, ip, reason, sizeof(reason));
	if (e != want)
		_exit(100 + e);
	_exit(strstr(reason, word) ? 0 : 99);
}

static pid_t root_restart(int fd, const struct img_plan *ip, const char *word)
{
	return root_restart_ids(fd, ip, true, EACCES, word);
}

/*
 * Checkpoints pid (USER's process, which uses path) into img; with path at
 * mode deny, root's restart as USER is refused naming path; with path at mode
 * allow, the same restart restores the process, running as USER.  Removes
 * path at the end.
 */
static void refused_then_restored(struct __test_metadata *_metadata, int dev, const char *img,
				  pid_t pid, const char *path, mode_t deny, mode_t allow)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	int fd;

	ASSERT_NE(NULL, ip);
	fd = checkpoint_killed(_metadata, dev, img, pid);
	ASSERT_EQ(0, img_plan(img, ip));
	ASSERT_EQ(0, chmod(path, deny));
	expect_exit_0(_metadata, root_restart(fd, ip, path));
	ASSERT_EQ(0, chmod(path, allow));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	expect_running_as_user(_metadata, root_restart(fd, ip, path));
	close(fd);
	unlink(path);
	free(ip);
}

/*
 * Root restarts USER's image without taking USER's uids first: refused
 * (EPERM, saying so), since credentials the module made would keep root's
 * user (user_struct, ucounts: its keyring and per-user counts).  Having taken
 * them, the same restart works.
 */
TEST_F(perm, root_restart_without_taking_the_uids_is_refused)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	int fd;
	pid_t pid, r;

	ASSERT_NE(NULL, ip);
	pid = start_target(T_OWN);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	ASSERT_EQ(0, img_plan(self->img, ip));
	r = root_restart_ids(fd, ip, false, EPERM, "setresuid");
	expect_exit_0(_metadata, r);
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	r = root_restart_ids(fd, ip, true, EPERM, "");
	expect_running_as_user(_metadata, r);
	close(fd);
	free(ip);
}

/*
 * A process of USER holds a file open that root then makes root-only; root
 * restarts the image: the file is opened with USER's rights, not root's, so
 * the restart is refused (EACCES, naming the file) and the restarter lives.
 * With the file readable by USER again, the same restart works: the refusal
 * was the file's.
 */
TEST_F(perm, root_restart_of_a_user_image_opens_as_the_user)
{
	int fd;
	pid_t pid;

	fd = open(ROOT_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "root\n", 5));
	close(fd);
	pid = start_target(T_OWN_FILE);
	/* Root-only (0600): refused, naming it; readable by USER again (0644): restored. */
	refused_then_restored(_metadata, self->dev, self->img, pid, ROOT_FILE, 0600, 0644);
}

/*
 * As root, in a child: makes the deleted symbolic link the image names again
 * (DLINK -> target, made after taking USER's ids if user_owned, else as
 * root), opened with O_PATH and removed, and restarts the image at fd with it
 * as file id, having taken USER's ids.  The child exits 0 if refused with
 * EINVAL and a reason naming word, 100 + errno if refused otherwise, or
 * becomes the image's program.
 */
static pid_t root_restart_dlink(int fd, const struct img_plan *ip, uint32_t id,
				const char *target, bool user_owned, const char *word)
{
	struct ckpt_restart_file rf = { .id = id };
	char reason[256] = "";
	pid_t r = fork();
	int e, dev;

	if (r)
		return r;
	dev = open(CKPT_DEV, O_RDWR);
	unlink(DLINK);
	if (user_owned && take_user_ids_keeping_caps())
		_exit(98);
	if (symlink(target, DLINK))
		_exit(97);
	rf.fd = open(DLINK, O_PATH | O_NOFOLLOW);
	if (rf.fd < 0 || unlink(DLINK))
		_exit(96);
	if (!user_owned && take_user_ids_keeping_caps())
		_exit(98);
	e = restart_ioctl_files(dev, fd, ip, &rf, 1, reason, sizeof(reason));
	if (e != EINVAL)
		_exit(100 + e);
	_exit(strstr(reason, word) ? 0 : 99);
}

/* Waits up to 5 s for child r to exit: its status, or -1 (then it is killed:
 * it became the image's program). */
static int wait_exit(pid_t r)
{
	int status;

	for (int i = 0; i < 500; i++) {
		if (waitpid(r, &status, WNOHANG) == r)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		sleep_ms(10);
	}
	kill_reap(r);
	return -1;
}

/*
 * A process of USER holds a deleted symbolic link (O_PATH); root restarts
 * it, passing the link it made again: one owned by root, or pointing
 * elsewhere, is refused (the image's owner and target, not only the mode);
 * the right one is taken.
 */
TEST_F(perm, made_deleted_symlink_must_have_the_images_owner_and_target)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	uint32_t id = 0;
	int fd;
	pid_t pid, r;

	ASSERT_NE(NULL, ip);
	pid = start_target(T_DLINK);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	ASSERT_EQ(0, img_plan(self->img, ip));
	for (int i = 0; i < ip->nfiles; i++)
		if (ip->file[i].kind == FK_SYMLINK)
			id = ip->file[i].id;
	ASSERT_NE(0, id);
	r = root_restart_dlink(fd, ip, id, DLINK_TARGET, false, "owned by");
	ASSERT_LT(0, r);
	EXPECT_EQ(0, wait_exit(r)) TH_LOG("root-owned link: not refused");
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	r = root_restart_dlink(fd, ip, id, "elsewhere", true, "points to");
	ASSERT_LT(0, r);
	EXPECT_EQ(0, wait_exit(r)) TH_LOG("link to elsewhere: not refused");
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	r = root_restart_dlink(fd, ip, id, DLINK_TARGET, true, "");
	expect_running_as_user(_metadata, r);
	close(fd);
	free(ip);
}

/*
 * `ckpt restart`, as root, of image img; returns its exit code, its output in
 * out, and the restored pid in *pid (0 if none).
 */
static int root_tool_restart(const char *img, char *out, size_t len, pid_t *pid)
{
	char cmd[256];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "timeout -s KILL 60 /ckpt restart --detach -q %s 2>&1", img);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	st = pclose(p);
	*pid = 0;
	sscanf(out, "%d", pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * `ckpt restart --detach` of image img as USER; returns its exit code, its
 * output (stdout and stderr) in out, and the restored pid in *pid (0: none).
 */
static int user_tool_restart(const char *img, char *out, size_t len, pid_t *pid)
{
	int p[2], st;
	ssize_t n, got = 0;
	pid_t c;

	if (pipe(p))
		return -1;
	c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (become(USER))
			_exit(126);
		execl("/ckpt", "/ckpt", "restart", "--detach", "-q", img, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (got < (ssize_t)len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	close(p[0]);
	if (c < 0 || waitpid(c, &st, 0) != c)
		return -1;
	/* The pid is the line --detach prints (after what ckpt says, if anything). */
	*pid = 0;
	for (char *l = out; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char end;

		if (sscanf(l, "%d%c", pid, &end) == 2 && end == '\n')
			break;
		*pid = 0;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * A process of USER holds a socketpair it made, whose peer credentials
 * (SO_PEERCRED) name USER.  USER restarts its image with `ckpt restart`: it
 * comes back.  The image edited (checks recomputed) to say that root made the
 * pair is refused: a user's restart never makes a socket claim to come from
 * another user.  (In root-only mode USER cannot open the device at all.)
 */
TEST_F(perm, image_edited_to_claim_a_root_peer)
{
	unsigned char *m;
	char out[512];
	size_t n, p;
	pid_t pid, r;
	int fd;

	if (!variant->unprivileged)
		return;
	pid = start_target(T_SOCKPAIR);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	ASSERT_EQ(0, fchown(fd, USER, USER));
	EXPECT_EQ(0, user_tool_restart(self->img, out, sizeof(out), &r)) TH_LOG("%s", out);
	ASSERT_LT(0, r) TH_LOG("%s", out);
	EXPECT_EQ(USER, proc_euid(r));
	kill_reap(r);
	m = image_read(fd, &n);
	ASSERT_NE(NULL, m);
	/* The first unix-peer record's payload: its uid. */
	p = first_record(m, n, 0x0343);
	ASSERT_NE(0, p);
	ASSERT_EQ(USER, le32(m + p + 4));
	put_le32(m + p + 4, 0);
	ASSERT_EQ(0, image_write(fd, m, n));
	close(fd);
	EXPECT_NE(0, user_tool_restart(self->img, out, sizeof(out), &r));
	EXPECT_NE(NULL, strstr(out, "which the caller may not name as a peer")) TH_LOG("%s", out);
}

/*
 * A process of USER watches a directory (inotify) that root then makes
 * root-only; root restarts the image with `ckpt restart`, which adds the
 * watch with its own rights: the module checks each watch with USER's
 * (inotify_add_watch(2) wants read permission), so the restart is refused,
 * naming the directory.  With the directory readable again, it works.
 */
TEST_F(perm, root_restart_of_a_user_inotify_watch_reads_as_the_user)
{
	char out[512];
	pid_t pid, r;
	int fd;

	rmdir(WATCH_DIR);
	ASSERT_EQ(0, mkdir(WATCH_DIR, 0755));
	pid = start_target(T_INOTIFY);
	ASSERT_LT(0, pid);
	fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL));
	close(fd);
	kill_reap(pid);
	ASSERT_EQ(0, chmod(WATCH_DIR, 0700));
	EXPECT_NE(0, root_tool_restart(self->img, out, sizeof(out), &r)) TH_LOG("%s", out);
	if (r > 0 && proc_euid(r) == USER)
		kill(r, SIGKILL);
	EXPECT_NE(NULL, strstr(out, WATCH_DIR)) TH_LOG("reason: %s", out);
	/* Readable by USER again: restored. */
	ASSERT_EQ(0, chmod(WATCH_DIR, 0755));
	EXPECT_EQ(0, root_tool_restart(self->img, out, sizeof(out), &r)) TH_LOG("%s", out);
	EXPECT_LT(0, r);
	if (r > 0) {
		EXPECT_EQ(USER, proc_euid(r));
		kill(r, SIGKILL);
	}
	rmdir(WATCH_DIR);
}

/*
 * The same with a fanotify group USER made (unprivileged: FAN_REPORT_FID)
 * marking the directory: root's `ckpt restart` makes the group without
 * CAP_SYS_ADMIN (so that it stays unprivileged) and marks the directory with
 * its own rights; the module checks the mark with USER's (fanotify_mark(2)
 * wants read permission): refused, naming the directory, while USER may not
 * read it; restored as USER once it may.
 */
TEST_F(perm, root_restart_of_a_user_fanotify_mark_reads_as_the_user)
{
	char out[512];
	pid_t pid, r;
	int fd;

	rmdir(WATCH_DIR);
	ASSERT_EQ(0, mkdir(WATCH_DIR, 0755));
	pid = start_target(T_FANOTIFY);
	ASSERT_LT(0, pid);
	fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL));
	close(fd);
	kill_reap(pid);
	ASSERT_EQ(0, chmod(WATCH_DIR, 0700));
	EXPECT_NE(0, root_tool_restart(self->img, out, sizeof(out), &r)) TH_LOG("%s", out);
	if (r > 0 && proc_euid(r) == USER)
		kill(r, SIGKILL);
	EXPECT_NE(NULL, strstr(out, WATCH_DIR)) TH_LOG("reason: %s", out);
	ASSERT_EQ(0, chmod(WATCH_DIR, 0755));
	EXPECT_EQ(0, root_tool_restart(self->img, out, sizeof(out), &r)) TH_LOG("%s", out);
	EXPECT_LT(0, r);
	if (r > 0) {
		EXPECT_EQ(USER, proc_euid(r));
		kill(r, SIGKILL);
	}
	rmdir(WATCH_DIR);
}

/*
 * A process of USER running a program USER may execute but not read (mode
 * 0111, as ZDTM's dumpable02 makes its own): the restart maps it again as
 * execve() did, with execute permission only, and the process runs as USER.
 * A program USER may not even execute any more (0700) is refused, naming it.
 */
TEST_F(perm, root_restart_maps_a_program_the_user_may_only_execute)
{
	char link[256] = "";
	pid_t pid;

	ASSERT_EQ(0, copy_self(PLAIN_EXE, 0755));
	pid = spawn_ready(plain_exe_child, NULL);
	ASSERT_LT(0, pid);
	for (int i = 0; i < 500 && strcmp(link, PLAIN_EXE); i++) {
		char path[64];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		k = readlink(path, link, sizeof(link) - 1);
		link[k > 0 ? k : 0] = 0;
		sleep_ms(10);
	}
	ASSERT_STREQ(PLAIN_EXE, link);
	ASSERT_EQ(0, chmod(PLAIN_EXE, 0111));
	/* Not executable by USER (0700): refused, naming the program; executable,
	 * not readable (0111): restored, as USER, running it. */
	refused_then_restored(_metadata, self->dev, self->img, pid, PLAIN_EXE, 0700, 0111);
}

/*
 * The same with the program also open for reading (while it could be read):
 * an fd is opened by open(2)'s rules, and USER may not read the program any
 * more: refused, naming it -- by the checkpoint if the program is already
 * execute-only then, by the restart if it was made so since.
 */
TEST_F(perm, root_restart_refuses_an_fd_of_a_program_the_user_may_only_execute)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	char path[64];
	int fd;
	pid_t pid, r;

	ASSERT_NE(NULL, ip);
	ASSERT_EQ(0, copy_self(PLAIN_EXE, 0755));
	pid = spawn_ready(plain_exe_child, (void *)1);
	ASSERT_LT(0, pid);
	/* Until one of its fds is the program. */
	for (int i = 0, held = 0; !held; i++) {
		ASSERT_GT(500, i);
		for (int n = 3; n < 10 && !held; n++) {
			char link[256];
			ssize_t k;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, n);
			k = readlink(path, link, sizeof(link) - 1);
			link[k > 0 ? k : 0] = 0;
			held = !strcmp(link, PLAIN_EXE);
		}
		sleep_ms(10);
	}
	/* Execute-only already: the checkpoint is refused, as the restart would be. */
	ASSERT_EQ(0, chmod(PLAIN_EXE, 0111));
	fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EACCES, ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL));
	/* Checkpointed while readable, made execute-only since: the restart refuses. */
	ASSERT_EQ(0, chmod(PLAIN_EXE, 0755));
	ASSERT_EQ(0, ftruncate(fd, 0));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(0, ckpt_checkpoint(self->dev, pid, fd, CKPT_CHECKPOINT_RESUME, NULL));
	kill_reap(pid);
	ASSERT_EQ(0, chmod(PLAIN_EXE, 0111));
	ASSERT_EQ(0, img_plan(self->img, ip));
	r = root_restart(fd, ip, PLAIN_EXE);
	expect_exit_0(_metadata, r);
	close(fd);
	unlink(PLAIN_EXE);
	free(ip);
}

/*
 * USER's process holds an O_TMPFILE file (set-uid, its own) in its directory,
 * which it then makes read-only (ZDTM's unlink_fstat041): root's restart
 * makes the file again there although USER may no longer create files in it
 * (root's CAP_DAC_OVERRIDE), owned by USER, with its mode and contents.
 */
static void ghost_child(int ready, void *arg)
{
	int fd;

	(void)arg;
	stdio_null();
	if (become(USER) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(30);
	fd = open(GHOST_DIR, O_RDWR | O_TMPFILE, 0600);
	if (fd < 0 || dup2(fd, GHOST_FD) != GHOST_FD || close(fd) ||
	    write(GHOST_FD, "ghost", 5) != 5 || fchmod(GHOST_FD, 04640) ||
	    chmod(GHOST_DIR, 0500))
		_exit(31);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(perm, root_restart_makes_a_ghost_in_a_read_only_directory)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	char path[64], buf[8] = "";
	struct stat st;
	int fd, g;
	pid_t pid, r;

	ASSERT_NE(NULL, ip);
	rmdir(GHOST_DIR);
	ASSERT_EQ(0, mkdir(GHOST_DIR, 0700));
	ASSERT_EQ(0, chown(GHOST_DIR, USER, USER));
	pid = spawn_ready(ghost_child, NULL);
	fd = checkpoint_killed(_metadata, self->dev, self->img, pid);
	ASSERT_EQ(0, img_plan(self->img, ip));
	r = root_restart(fd, ip, GHOST_DIR);
	ASSERT_LT(0, r);
	/* The restarter takes USER's ids before its ioctl: wait for the restored
	 * program's fd, not for the uid. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", r, GHOST_FD);
	for (int i = 0; i < 300 && stat(path, &st); i++)
		sleep_ms(10);
	EXPECT_EQ(USER, proc_euid(r));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(USER, st.st_uid);
	EXPECT_EQ(04640, st.st_mode & 07777);
	EXPECT_EQ(5, st.st_size);
	g = open(path, O_RDONLY);
	ASSERT_LE(0, g);
	EXPECT_EQ(5, read(g, buf, sizeof(buf)));
	EXPECT_STREQ("ghost", buf);
	close(g);
	kill_reap(r);
	/* USER's own restart, without CAP_DAC_OVERRIDE: no more than USER may. */
	if (variant->unprivileged) {
		struct ctx c = { .root_dev = self->dev, .out = self->out, .pre_fd = fd,
				 .ip = ip, .fdk = OWN_FD };

		ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
		EXPECT_EQ(EACCES, as_user(case_restart, &c)) TH_LOG("%s", c.reason);
		EXPECT_NE(NULL, strstr(c.reason, GHOST_DIR)) TH_LOG("reason: %s", c.reason);
	}
	close(fd);
	rmdir(GHOST_DIR);
	free(ip);
}

TEST_HARNESS_MAIN
