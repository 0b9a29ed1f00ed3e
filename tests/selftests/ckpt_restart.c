// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_restart: a program is checkpointed, killed and restarted; then it
 * answers questions about its own state (samples/restartee.c), and the
 * answers must match what it said before: AVX registers, a counter and a
 * heap checksum, a file offset, bytes buffered in a pipe, a signal handler,
 * a blocked pending signal, brk/malloc, its pid, an interval timer.
 * Corrupted images are refused -- before the point of no return with an
 * errno, after it by killing the restarter -- and never crash anything.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/prctl.h>

#include "ckpt_util.h"
#include "kselftest_harness.h"

#define DATA RESTARTEE_DATA

struct session {
	pid_t pid;
	int ctl;	/* write end: commands */
	int rep;	/* read end: answers */
	FILE *in;
};

static void make_data(void)
{
	char buf[4096];
	int i, fd = open(DATA, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = 'A' + i % 26;
	if (fd >= 0) {
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			close(fd);
		close(fd);
	}
}

/* Starts restartee with a heap of mb MiB; fds 3/4 are its control/report pipes. */
static int start(struct session *s, int mb)
{
	char line[128];

	s->pid = spawn_restartee(mb, &s->ctl, &s->rep);
	if (s->pid < 0)
		return -1;
	s->in = fdopen(s->rep, "r");
	if (!fgets(line, sizeof(line), s->in) || strncmp(line, "ready", 5))
		return -1;
	return 0;
}

static char *ask(struct session *s, char cmd, char *line, size_t len)
{
	line[0] = 0;
	if (write(s->ctl, &cmd, 1) != 1 || !fgets(line, len, s->in))
		return line;
	line[strcspn(line, "\n")] = 0;
	return line;
}

static void end(struct session *s)
{
	if (s->in)
		fclose(s->in);
	close(s->ctl);
	s->in = NULL;
}

/* Restarts the image with fresh control/report pipes; the internal pipe gets one too. */
static pid_t restart(struct session *s, const char *img, struct img_plan *ip)
{
	s->pid = restart_with_fresh_pipes(img, ip, &s->ctl, &s->rep);
	s->in = fdopen(s->rep, "r");
	return s->pid;
}

FIXTURE(rs) {
	int dev;
	char img[64];
	struct img_plan *ip;
	struct session s;
};

FIXTURE_SETUP(rs)
{
	self->dev = ckpt_open();
	if (self->dev < 0)
		SKIP(return, "%s missing", CKPT_DEV);
	make_data();
	/* A restarter that failed closes its pipes: asking it must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->img, sizeof(self->img), "/tmp/rs-%d.img", getpid());
	self->ip = calloc(1, sizeof(*self->ip));
	ASSERT_NE(NULL, self->ip);
	memset(&self->s, 0, sizeof(self->s));
}

FIXTURE_TEARDOWN(rs)
{
	if (self->s.pid > 0)
		kill_reap(self->s.pid);
	unlink(self->img);
	free(self->ip);
}

/*
 * Checkpoints the session's process into self->img, killing it; @live: leaving
 * it running (the module writes most of the image after it let the process go,
 * from memory: its spool_mb), then killing it.
 */
static int checkpoint_kill(int dev, struct session *s, const char *path, int live)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ret, status;

	if (fd < 0)
		return -errno;
	ret = ckpt_checkpoint(dev, s->pid, fd, live ? CKPT_CHECKPOINT_RESUME : CKPT_CHECKPOINT_KILL,
			      NULL);
	close(fd);
	if (ret)
		return ret;
	if (live && kill(s->pid, SIGKILL))
		return -errno;
	waitpid(s->pid, &status, 0);
	end(s);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -ECHILD;
}

static void full_state_check(struct __test_metadata *_metadata, FIXTURE_DATA(rs) *self, int mb,
			     int live)
{
	char l[128], sum[64], pid_line[128];
	unsigned long long c;
	int status;
	long left;

	ASSERT_EQ(0, start(&self->s, mb));
	ASSERT_STREQ("avx ok", ask(&self->s, 'a', l, sizeof(l)));
	ASSERT_EQ(2, sscanf(ask(&self->s, 'c', l, sizeof(l)), "counter %llu sum %63s", &c, sum));
	ASSERT_EQ(1ULL, c);
	ASSERT_STREQ("file 8 WXYZABCD off 108", ask(&self->s, 'f', l, sizeof(l)));
	snprintf(pid_line, sizeof(pid_line), "pid %d", self->s.pid);
	ASSERT_EQ(0, strncmp(ask(&self->s, 'i', l, sizeof(l)), pid_line, strlen(pid_line)));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, live));
	ASSERT_EQ(0, img_plan(self->img, self->ip));

	ASSERT_LT(0, restart(&self->s, self->img, self->ip));
	/* The vector registers first: any libc call may clobber them. */
	EXPECT_STREQ("avx ok", ask(&self->s, 'a', l, sizeof(l)));
	snprintf(pid_line, sizeof(pid_line), "counter 2 sum %s", sum);
	EXPECT_STREQ(pid_line, ask(&self->s, 'c', l, sizeof(l)));
	EXPECT_STREQ("file 8 EFGHIJKL off 116", ask(&self->s, 'f', l, sizeof(l)));
	EXPECT_STREQ("pipe 10 hello-pipe", ask(&self->s, 'p', l, sizeof(l)));
	EXPECT_STREQ("signal 1", ask(&self->s, 's', l, sizeof(l)));
	EXPECT_STREQ("usr2 pending 1 blocked 1", ask(&self->s, 'q', l, sizeof(l)));
	EXPECT_STREQ("malloc ok", ask(&self->s, 'm', l, sizeof(l)));
	EXPECT_STREQ("maps ok", ask(&self->s, 'v', l, sizeof(l)));
	snprintf(pid_line, sizeof(pid_line), "pid %d ", self->ip->pid);
	EXPECT_EQ(0, strncmp(ask(&self->s, 'i', l, sizeof(l)), pid_line, strlen(pid_line)))
		TH_LOG("%s, want %s", l, pid_line);
	EXPECT_EQ(1, sscanf(ask(&self->s, 't', l, sizeof(l)), "itimer %ld", &left));
	EXPECT_TRUE(left > 900 && left <= 1000) TH_LOG("itimer %ld", left);
	ask(&self->s, 'x', l, sizeof(l));
	ASSERT_EQ(self->s.pid, waitpid(self->s.pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) TH_LOG("status %#x", status);
	self->s.pid = 0;
	end(&self->s);
}

TEST_F(rs, state_survives)
{
	full_state_check(_metadata, self, 16, 0);
}

TEST_F_TIMEOUT(rs, buffer_256m_survives, 300)
{
	full_state_check(_metadata, self, 256, 0);
}

/* Until its parent (whose address space it shares) is gone. */
static int pause_until_orphaned(void *arg)
{
	pid_t parent = (pid_t)(long)arg;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		syscall(SYS_exit, 0);
	for (;;)
		pause();
	return 0;
}

/* The restarter makes a process that shares its address space (CLONE_VM). */
static void share_address_space(void)
{
	static char stack[64 << 10] __attribute__((aligned(16)));

	if (clone(pause_until_orphaned, stack + sizeof(stack), CLONE_VM | SIGCHLD,
		  (void *)(long)getpid()) < 0)
		_exit(98);
}

/*
 * A restarter whose address space another process uses (a CLONE_VM child
 * that is not its thread) is refused before anything changes: overlaying
 * the image would change that process's memory too.
 */
TEST_F(rs, caller_sharing_its_address_space_is_refused)
{
	char l[128];
	int status;
	pid_t pid;

	ASSERT_EQ(0, start(&self->s, 1));
	ASSERT_STREQ("avx ok", ask(&self->s, 'a', l, sizeof(l)));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	restart_image_hook = share_address_space;
	pid = restart(&self->s, self->img, self->ip);
	restart_image_hook = NULL;
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->s.pid = 0;
	end(&self->s);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 100 + EBUSY)
		TH_LOG("status %#x", status);
}

/* An image written after the process was let go: held in memory meanwhile. */
TEST_F(rs, state_survives_left_running)
{
	full_state_check(_metadata, self, 16, 1);
}

/* More than the module keeps in memory (spool_mb, 64): the rest written as it comes. */
TEST_F_TIMEOUT(rs, buffer_96m_survives_left_running, 300)
{
	full_state_check(_metadata, self, 96, 1);
}

TEST_F(rs, same_image_twice)
{
	char l[128];
	int round, status;

	ASSERT_EQ(0, start(&self->s, 4));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	for (round = 0; round < 2; round++) {
		ASSERT_LT(0, restart(&self->s, self->img, self->ip));
		EXPECT_EQ(0, strncmp(ask(&self->s, 'c', l, sizeof(l)), "counter 2 ", 10)) TH_LOG("%s", l);
		ask(&self->s, 'x', l, sizeof(l));
		ASSERT_EQ(self->s.pid, waitpid(self->s.pid, &status, 0));
		EXPECT_EQ(7, WEXITSTATUS(status));
		self->s.pid = 0;
		end(&self->s);
	}
}

/*
 * A restarter in directory cwd (as nobody if drop) asks for img: 0 if the
 * module refuses with errno want and a reason containing word.
 */
static int refused_restart(const char *img_path, const struct img_plan *ip, const char *cwd,
			   int drop, int want, const char *word)
{
	struct ckpt_restart_args a;
	int status, dev, img;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		dev = open(CKPT_DEV, O_RDWR);
		img = open(img_path, O_RDONLY);
		if (dev < 0 || img < 0 || chdir(cwd) || move_specials(ip))
			_exit(99);
		if (drop && (setgid(65534) || setuid(65534)))
			_exit(98);
		memset(&a, 0, sizeof(a));
		a.fd = img;
		ioctl(dev, CKPT_IOC_RESTART, &a);
		_exit(errno == want && strstr(a.reason, word) ? 0 : 100 + errno);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(rs, never_more_than_the_caller_has)
{
	char l[128];

	ASSERT_EQ(0, start(&self->s, 1));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	/* A root process cannot be restarted by nobody. */
	EXPECT_EQ(0, refused_restart(self->img, self->ip, self->ip->cwd, 1, EPERM, "credentials"));
	/* And a caller in the wrong directory is told so. */
	EXPECT_EQ(0, refused_restart(self->img, self->ip, "/proc", 0, EINVAL, "directory"));
}

/* Restarting a copy of img with one change; returns the restarter's wait status. */
static int restart_damaged(struct __test_metadata *_metadata, FIXTURE_DATA(rs) *self,
			   const char *good, size_t size, void (*damage)(unsigned char *, size_t *, void *),
			   void *arg)
{
	char bad[80];
	unsigned char *m = malloc(size);
	size_t n = size;
	int fd, status = -1;
	pid_t pid;
	struct session s;

	snprintf(bad, sizeof(bad), "%s.bad", good);
	fd = open(good, O_RDONLY);
	if (!m || fd < 0 || read(fd, m, size) != (ssize_t)size)
		return -1;
	close(fd);
	damage(m, &n, arg);
	fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, m, n) != (ssize_t)n)
		return -1;
	close(fd);
	free(m);
	memset(&s, 0, sizeof(s));
	pid = restart(&s, bad, self->ip);
	if (pid > 0) {
		/* A restored program would wait for commands: ask it to exit. */
		char l[64];

		ask(&s, 'x', l, sizeof(l));
		waitpid(pid, &status, 0);
	}
	end(&s);
	unlink(bad);
	return status;
}

struct flip { size_t off; unsigned char mask; };

static void do_flip(unsigned char *m, size_t *n, void *arg)
{
	struct flip *f = arg;

	if (f->off < *n)
		m[f->off] ^= f->mask;
}

static void do_truncate(unsigned char *m, size_t *n, void *arg)
{
	size_t at = *(size_t *)arg;

	if (at < *n)
		*n = at;
}

static void do_huge_len(unsigned char *m, size_t *n, void *arg)
{
	size_t at = *(size_t *)arg;

	m[at + 4] = m[at + 5] = m[at + 6] = m[at + 7] = 0xff;
}

/* A damaged image is refused: the restarter fails (errno) or is killed, never runs on. */
static int refused(int status)
{
	return (WIFEXITED(status) && WEXITSTATUS(status) > 100) ||
	       (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

struct edit {
	uint16_t kind;		/* record kind to edit (the nth of that kind) */
	int nth;
	size_t field;		/* offset in the payload */
	int width;		/* 2, 4 or 8 */
	uint64_t value;
	const char *what;
};

static void do_edit(unsigned char *m, size_t *n, void *arg)
{
	const struct edit *e = arg;
	size_t off = 8;
	int seen = 0;

	while (off + 12 <= *n) {
		uint32_t len = le32(m + off + 4);

		if (le16(m + off) == e->kind && seen++ == e->nth) {
			unsigned char *p = m + off + 12 + e->field;

			if (e->width == 2)
				p[0] = e->value, p[1] = e->value >> 8;
			else if (e->width == 4)
				put_le32(p, e->value);
			else
				put_le64(p, e->value);
			break;
		}
		off += 12 + len;
	}
	reseal(m, *n);
}

TEST_F(rs, semantic_corruptions_are_refused)
{
	static const struct edit edits[] = {
		{ K_VMA, 0, 0, 8, 0xffff888000000000ULL, "vma start in kernel space" },
		{ K_VMA, 1, 0, 8, 0x400000, "vma overlapping the previous one" },
		{ K_FD, 0, 0, 4, 0x7fffffff, "absurd fd number" },
		{ K_TASK, 0, 36, 4, 999, "task refers to a missing mm" },
		{ 0x0001, 0, 4, 2, 3, "foreign architecture" },
		{ 0x0001, 0, 0, 2, 2, "future format version" },
		{ K_PAGES, 0, 8, 8, 0xffff888000000000ULL, "page address in kernel space" },
	};
	struct edit none = { 0xffff, 0, 0, 0, 0, "" };
	char l[128];
	struct stat st;
	unsigned int i;
	int status;

	ASSERT_EQ(0, start(&self->s, 1));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	ASSERT_EQ(0, stat(self->img, &st));
	/* The resealer itself: an unedited, resealed image still restarts. */
	status = restart_damaged(_metadata, self, self->img, st.st_size, do_edit, &none);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) TH_LOG("status %#x", status);
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		status = restart_damaged(_metadata, self, self->img, st.st_size, do_edit,
					 (void *)&edits[i]);
		EXPECT_TRUE(refused(status)) TH_LOG("%s: status %#x", edits[i].what, status);
	}
}

/*
 * vDSO proxy refusals.  A restart under a kernel whose vDSO differs (here: an
 * image whose vDSO text was edited, or CKPT_RESTART_VDSO_PROXY) forwards the
 * program's vDSO calls through a proxy; when none can be built, it refuses
 * with EXDEV and says why, and the caller lives on.
 */
struct vdso_edit {
	const char *from, *to;	/* rename a symbol of the vDSO text (same length) */
	int drop_text;		/* hide the vDSO text (an image before format 1.3) */
	uint64_t digest;	/* with drop_text: the identity's digest */
	uint64_t rip;		/* else if nonzero: the leader's instruction pointer */
};

static void do_vdso_edit(unsigned char *m, size_t *n, void *arg)
{
	const struct vdso_edit *e = arg;
	size_t off = 8;
	int regs = 0;

	while (off + 12 <= *n) {
		uint16_t kind = le16(m + off);
		uint32_t len = le32(m + off + 4);
		unsigned char *p = m + off + 12;

		if (kind == K_VDSO_TEXT && e->from) {
			size_t k, fl = strlen(e->from);

			for (k = 1; k + fl + 1 < len; k++)
				if (!p[k - 1] && !memcmp(p + k, e->from, fl + 1)) {
					memcpy(p + k, e->to, fl);
					break;
				}
		}
		if (kind == K_VDSO_TEXT && e->drop_text)
			m[off] = 0xfe;	/* an optional kind nobody knows: skipped */
		if (kind == K_VDSO && e->drop_text)
			put_le64(p + 8, e->digest);
		if (kind == K_REGS && e->rip && regs++ == 0)
			put_le64(p + 16 * 8, e->rip);
		off += 12 + len;
	}
	reseal(m, *n);
}

/* Restarts an edited copy of img with flags: 0 if refused with errno want and a
 * reason containing word (the reason is logged). */
static int vdso_refused(struct __test_metadata *_metadata, FIXTURE_DATA(rs) *self,
			const struct vdso_edit *e, uint64_t flags, int want, const char *word)
{
	char bad[80];
	struct stat st;
	unsigned char *m;
	size_t n;
	int fd, status, pfd[2];
	char reason[256] = "";
	ssize_t r;
	pid_t pid;

	snprintf(bad, sizeof(bad), "%s.vdso", self->img);
	if (stat(self->img, &st) || pipe(pfd))
		return -1;
	n = st.st_size;
	m = malloc(n);
	fd = open(self->img, O_RDONLY);
	if (!m || fd < 0 || read(fd, m, n) != (ssize_t)n)
		return -1;
	close(fd);
	do_vdso_edit(m, &n, (void *)e);
	fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, m, n) != (ssize_t)n)
		return -1;
	close(fd);
	free(m);
	pid = fork();
	if (pid == 0) {
		struct ckpt_restart_args a;
		int dev = open(CKPT_DEV, O_RDWR), img = open(bad, O_RDONLY);

		close(pfd[0]);
		if (dev < 0 || img < 0 || chdir(self->ip->cwd) || move_specials(self->ip))
			_exit(99);
		memset(&a, 0, sizeof(a));
		a.fd = img;
		a.flags = flags;
		a.stdio[0] = a.stdio[1] = a.stdio[2] = -1;
		ioctl(dev, CKPT_IOC_RESTART, &a);
		if (write(pfd[1], a.reason, strlen(a.reason)) < 0)
			_exit(98);
		_exit(errno == want && strstr(a.reason, word) ? 0 : 100 + errno);
	}
	close(pfd[1]);
	r = read(pfd[0], reason, sizeof(reason) - 1);
	reason[r > 0 ? r : 0] = 0;
	TH_LOG("%s: %s", word, reason);
	close(pfd[0]);
	unlink(bad);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(rs, vdso_proxy_refusals)
{
	/* The image's vDSO exports a function this kernel's lacks and no system
	 * call stands in for. */
	struct vdso_edit missing = { .from = "__vdso_getcpu", .to = "__vdso_getcpX" };
	/* A thread stopped inside the image's vDSO code (rip set below). */
	struct vdso_edit inside = { 0 };
	/* Another kernel's vDSO, and an image without the vDSO text. */
	struct vdso_edit old = { .drop_text = 1, .digest = 0x0123456789abcdefULL };
	struct vdso_edit none = { 0 };
	uint64_t vdso = 0;
	char l[128];
	int i;

	ASSERT_EQ(0, start(&self->s, 1));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	for (i = 0; i < self->ip->nspecial; i++)
		if (!strcmp(self->ip->special[i].name, "[vdso]"))
			vdso = self->ip->special[i].start;
	ASSERT_NE(0, vdso);
	inside.rip = vdso + 0x10;
	EXPECT_EQ(0, vdso_refused(_metadata, self, &missing, 0, EXDEV, "__vdso_getcpX"));
	EXPECT_EQ(0, vdso_refused(_metadata, self, &inside, CKPT_RESTART_VDSO_PROXY, EXDEV,
				  "stopped inside its vDSO"));
	EXPECT_EQ(0, vdso_refused(_metadata, self, &old, 0, EXDEV, "format 1.3"));
	/* The same image unedited, proxied: refused only for where the caller's vDSO
	 * is (this restarter moved it onto the image's), not for its symbols. */
	EXPECT_EQ(0, vdso_refused(_metadata, self, &none, CKPT_RESTART_VDSO_PROXY, EINVAL,
				  "overlaps a mapping of the image"));
}

TEST_F_TIMEOUT(rs, corrupted_images_are_refused, 600)
{
	char l[128];
	struct stat st;
	int i, bad = 0, tried = 0;

	ASSERT_EQ(0, start(&self->s, 1));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	ASSERT_EQ(0, stat(self->img, &st));
	for (i = 0; i < self->ip->nrec; i++) {
		size_t off = self->ip->rec[i].off, len = self->ip->rec[i].len;
		struct flip f[3] = {
			{ off + 1, 0x40 },			/* kind */
			{ off + 12 + len / 2, 0x08 },		/* payload */
			{ off + 12 + len - 1, 0x80 },		/* last byte */
		};
		size_t cut = off + 12 + len / 2;
		int k, status;

		for (k = 0; k < 3; k++) {
			status = restart_damaged(_metadata, self, self->img, st.st_size, do_flip, &f[k]);
			tried++;
			if (!refused(status)) {
				bad++;
				TH_LOG("record %d (kind %#x) flip at %zu: status %#x", i,
				       self->ip->rec[i].kind, f[k].off, status);
			}
		}
		status = restart_damaged(_metadata, self, self->img, st.st_size, do_truncate, &cut);
		tried++;
		if (!refused(status)) {
			bad++;
			TH_LOG("record %d truncated at %zu: status %#x", i, cut, status);
		}
		status = restart_damaged(_metadata, self, self->img, st.st_size, do_huge_len, &off);
		tried++;
		if (!refused(status)) {
			bad++;
			TH_LOG("record %d with a huge length: status %#x", i, status);
		}
	}
	TH_LOG("%d damaged images tried", tried);
	EXPECT_EQ(0, bad);
}

/*
 * Page records after the first are read straight into the restored memory and
 * their check is verified over it afterwards: damage in one of them still
 * stops the restart (the process is killed), wherever it is.
 */
TEST_F_TIMEOUT(rs, damaged_later_page_records_are_refused, 300)
{
	char l[128];
	struct stat st;
	int i, k, nth = 0, bad = 0, tried = 0, status;

	ASSERT_EQ(0, start(&self->s, 8));
	ask(&self->s, 'c', l, sizeof(l));
	ASSERT_EQ(0, checkpoint_kill(self->dev, &self->s, self->img, 0));
	ASSERT_EQ(0, img_plan(self->img, self->ip));
	ASSERT_EQ(0, stat(self->img, &st));
	for (i = 0; i < self->ip->nrec; i++) {
		size_t off = self->ip->rec[i].off, len = self->ip->rec[i].len;
		struct flip f[4] = {
			{ off + 12 + 4, 0x01 },		/* page count */
			{ off + 12 + 8 + 1, 0x10 },	/* first address */
			{ off + 12 + len / 2, 0x08 },	/* page data */
			{ off + 12 + len - 1, 0x80 },	/* last byte */
		};
		struct edit e = { K_PAGES, 0, 8, 8, 0xffff888000000000ULL, "" };
		size_t cut = off + 12 + len / 2;

		if (self->ip->rec[i].kind != K_PAGES || nth++ == 0)
			continue;
		for (k = 0; k < 4; k++) {
			status = restart_damaged(_metadata, self, self->img, st.st_size, do_flip, &f[k]);
			tried++;
			if (!refused(status)) {
				bad++;
				TH_LOG("page record %d flip at %zu: status %#x", nth - 1, f[k].off,
				       status);
			}
		}
		status = restart_damaged(_metadata, self, self->img, st.st_size, do_truncate, &cut);
		tried++;
		if (!refused(status)) {
			bad++;
			TH_LOG("page record %d truncated: status %#x", nth - 1, status);
		}
		e.nth = nth - 1;
		status = restart_damaged(_metadata, self, self->img, st.st_size, do_edit, &e);
		tried++;
		if (!refused(status)) {
			bad++;
			TH_LOG("page record %d, kernel address resealed: status %#x", nth - 1, status);
		}
	}
	TH_LOG("%d damaged images tried, %d page records", tried, nth);
	EXPECT_LT(1, nth);
	EXPECT_EQ(0, bad);
}

/*
 * Carrying an image across a module reload and a reboot (tests/check.sh
 * boots the VM twice with one disk):
 *   ckpt_restart --save DEV   start restartee, note its answers, checkpoint
 *                             and kill it, write the image to DEV (a raw
 *                             disk: 8-byte length, then the image), then
 *                             reload the module and restart from the copy
 *   ckpt_restart --load DEV   restart the image from DEV and check the answers
 * Both print KTAP.
 */
struct carry_hdr {
	uint64_t len;
	struct timespec data_mtime;	/* the data file persists "on disk" */
	char answers[3][128];
};

static int carry_n, carry_fail;

static void carry_report(int ok, const char *name, const char *detail)
{
	printf("%s %d carry.%s # %s\n", ok ? "ok" : "not ok", ++carry_n, name, detail);
	carry_fail += !ok;
}

static void carry_check(struct session *s, struct carry_hdr *h)
{
	char l[128], want[160];
	int status;

	carry_report(!strcmp(ask(s, 'a', l, sizeof(l)), "avx ok"), "avx", l);
	snprintf(want, sizeof(want), "counter 2 sum %s", strstr(h->answers[0], "sum ") + 4);
	carry_report(!strcmp(ask(s, 'c', l, sizeof(l)), want), "counter_and_checksum", l);
	carry_report(!strcmp(ask(s, 'f', l, sizeof(l)), "file 8 EFGHIJKL off 116"), "file_offset", l);
	carry_report(!strcmp(ask(s, 'p', l, sizeof(l)), "pipe 10 hello-pipe"), "pipe", l);
	ask(s, 'x', l, sizeof(l));
	waitpid(s->pid, &status, 0);
	end(s);
}

static int carry(const char *mode, const char *dev_path)
{
	struct carry_hdr *h = calloc(1, 4096);
	struct img_plan *ip = calloc(1, sizeof(*ip));
	struct session s = { 0 };
	const char *img = "/tmp/carry.img";
	char l[128], detail[64], *buf;
	struct stat st;
	int fd, ok;

	printf("TAP version 13\n1..%d\n", strcmp(mode, "--save") ? 4 : 6);
	make_data();
	if (!strcmp(mode, "--save")) {
		int dev = ckpt_open();

		if (dev < 0 || start(&s, 32) || stat(DATA, &st))
			return 1;
		h->data_mtime = st.st_mtim;
		snprintf(h->answers[0], sizeof(h->answers[0]), "%s", ask(&s, 'c', l, sizeof(l)));
		ask(&s, 'f', l, sizeof(l));
		if (checkpoint_kill(dev, &s, img, 0))
			return 1;
		close(dev);
		ckpt_dev_fd = -1;
		fd = open(img, O_RDONLY);
		if (fd < 0 || fstat(fd, &st))
			return 1;
		h->len = st.st_size;
		buf = malloc(4096 + st.st_size);
		memcpy(buf, h, 4096);
		if (!buf || read(fd, buf + 4096, st.st_size) != st.st_size)
			return 1;
		close(fd);
		fd = open(dev_path, O_WRONLY);
		ok = fd >= 0 && write(fd, buf, 4096 + st.st_size) == 4096 + st.st_size && !fsync(fd);
		close(fd);
		snprintf(detail, sizeof(detail), "%lld bytes", (long long)st.st_size);
		carry_report(ok, "saved_to_disk", detail);
		/* The same image after the module was unloaded and loaded again. */
		carry_report(!system("rmmod ckpt && insmod /ckpt.ko"), "module_reloaded", "");
	} else {
		struct timespec times[2];

		fd = open(dev_path, O_RDONLY);
		if (fd < 0 || read(fd, h, 4096) != 4096 || !h->len || h->len > (1ULL << 31))
			return 1;
		/* The data file as a persistent file system would have kept it. */
		times[0] = times[1] = h->data_mtime;
		if (utimensat(AT_FDCWD, DATA, times, 0))
			return 1;
		buf = malloc(h->len);
		if (!buf || read(fd, buf, h->len) != (ssize_t)h->len)
			return 1;
		close(fd);
		fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, buf, h->len) != (ssize_t)h->len)
			return 1;
		close(fd);
	}
	ckpt_open();
	if (img_plan(img, ip) || restart(&s, img, ip) <= 0)
		return 1;
	carry_check(&s, h);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", carry_n - carry_fail,
	       carry_fail);
	return carry_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && (!strcmp(argv[1], "--save") || !strcmp(argv[1], "--load")))
		return carry(argv[1], argv[2]);
	return test_harness_run(argc, argv);
}
