// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_security: what a checkpointer must never do, one test per finding of
 * the 2026-12 review (Documentation/ckpt/admin-guide.rst, "Security model"):
 *
 *   A1  dump a process that became set-uid root while it was being stopped;
 *   A6  miss a thread born while the others were being stopped;
 *   A2  hand back a memfd whose seals do not hold (writable through a
 *       mapping, unknown seal bits);
 *   A3  let a caller read, stop or kill a process with capabilities it
 *       lacks, or signal one it could not signal with kill(2);
 *   A9  lose WIPEONFORK, mseal or protection keys silently, or
 *       forget DONTFORK/DONTDUMP;
 *   A20 lose a blocked pending signal, or die of a pending SIGSTOP after
 *       the point of no return;
 *   and `ckpt restart --detach` must not report a failed restart as done.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>

#include "ckpt_util.h"
#include "kselftest_harness.h"

#define USER 1000
#define OTHER 2000
#define SUID_HELPER "/tmp/ckpt-suid-helper"
#define CKPT_TOOL "/ckpt"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#define K_CREDS 0x0700
#define K_SIGNAL 0x0601

/*
 * As the set-uid copy of this program (A1): wait to be killed.  The
 * environment variable survives a secure exec (only the dangerous ones are
 * removed), and glibc runs constructors before main().
 */
__attribute__((constructor)) static void suid_helper(void)
{
	if (!getenv("CKPT_SUID_HELPER"))
		return;
	for (int i = 0; i < 300; i++)
		sleep_ms(100);
	_exit(0);
}

/* ---- images ------------------------------------------------------------ */

static unsigned char *img_load(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *m;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	m = malloc(st.st_size + 1);
	if (m && read(fd, m, st.st_size) != st.st_size) {
		free(m);
		m = NULL;
	}
	close(fd);
	*n = st.st_size;
	return m;
}

static int img_store(const char *path, const unsigned char *m, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, m, n) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Payload offset of the nth record of kind (from 0), or 0. */
static size_t rec_nth(const unsigned char *m, size_t n, uint16_t kind, int nth)
{
	size_t off = 8;

	while (off + 12 <= n) {
		uint32_t len = le32(m + off + 4);

		if (le16(m + off) == kind && nth-- == 0)
			return off + 12;
		off += 12 + len;
	}
	return 0;
}

/* Payload offset of the FILE record whose path contains name, or 0. */
static size_t file_rec(const unsigned char *m, size_t n, const char *name)
{
	size_t p;

	for (int i = 0; (p = rec_nth(m, n, K_FILE, i)); i++) {
		uint16_t len = le16(m + p + 45);
		char path[256];

		snprintf(path, sizeof(path), "%.*s", len, (const char *)m + p + 47);
		if (strstr(path, name))
			return p;
	}
	return 0;
}

/* The euid of the image's first credentials, or -1. */
static long image_euid(const char *path)
{
	size_t n, p;
	unsigned char *m = img_load(path, &n);
	long euid = -1;

	if (m && (p = rec_nth(m, n, K_CREDS, 0)))
		euid = le32(m + p + 8);
	free(m);
	return euid;
}

/* Runs the caller on CPU cpu only (the VM has two): a checkpointer and its
 * target on different CPUs really run at the same time. */
static void on_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

/* ---- privileges ------------------------------------------------------- */

/* Drops to uid, keeping the capabilities caps; dumpable again afterwards. */
static int become_with_caps(uid_t uid, uint64_t caps)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || become(uid) || set_caps(caps))
		return -1;
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* ---- programs with a command pipe (fd 3) and an answer pipe (fd 4) ------ */

struct prog {
	pid_t pid;
	int ctl;
	FILE *rep;
};

typedef void (*prog_setup)(void);
typedef void (*prog_answer)(char cmd, char *out, size_t len);

/*
 * Forks a child with stdio on /dev/null, commands on fd 3 and answers on
 * fd 4 (nothing else open: it can be checkpointed and restarted), which
 * runs setup(), says "ready", then answers each command byte with one line.
 */
static int prog_start(struct prog *p, prog_setup setup, prog_answer answer)
{
	int c[2], r[2];
	char line[64];

	memset(p, 0, sizeof(*p));
	if (pipe(c) || pipe(r))
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		char cmd, out[256];

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(c[0], 3);
		dup2(r[1], 4);
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
		if (setup)
			setup();
		if (write(4, "ready\n", 6) != 6)
			_exit(2);
		while (read(3, &cmd, 1) == 1) {
			if (cmd == 'x')
				_exit(7);
			out[0] = 0;
			answer(cmd, out, sizeof(out) - 1);
			strcat(out, "\n");
			if (write(4, out, strlen(out)) != (ssize_t)strlen(out))
				_exit(3);
		}
		_exit(5);
	}
	close(c[0]);
	close(r[1]);
	p->ctl = c[1];
	p->rep = fdopen(r[0], "r");
	if (!p->rep || !fgets(line, sizeof(line), p->rep) || strcmp(line, "ready\n"))
		return -1;
	return 0;
}

static char *prog_ask(struct prog *p, char cmd, char *line, size_t len)
{
	line[0] = 0;
	if (!p->rep || write(p->ctl, &cmd, 1) != 1 || !fgets(line, len, p->rep))
		return line;
	line[strcspn(line, "\n")] = 0;
	return line;
}

static void prog_close(struct prog *p)
{
	if (p->rep)
		fclose(p->rep);
	if (p->ctl > 0)
		close(p->ctl);
	p->rep = NULL;
	p->ctl = -1;
}

/* Checkpoints p into path, killing it; 0 or -errno. */
static int prog_checkpoint(int dev, struct prog *p, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ret, status;

	if (fd < 0)
		return -errno;
	ret = ckpt_checkpoint(dev, p->pid, fd, CKPT_CHECKPOINT_KILL, NULL);
	close(fd);
	if (ret)
		return ret;
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	prog_close(p);
	return 0;
}

/* Restarts the image at path as p (fresh pipes); 0 or -1. */
static int prog_restart(struct prog *p, const char *path)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	int ctl, rep;

	memset(p, 0, sizeof(*p));
	if (!ip || img_plan(path, ip))
		return -1;
	p->pid = restart_with_fresh_pipes(path, ip, &ctl, &rep);
	free(ip);
	if (p->pid < 0)
		return -1;
	p->ctl = ctl;
	p->rep = fdopen(rep, "r");
	return 0;
}

/*
 * The restarter's wait status if it ends within ms (100 + errno: refused
 * before the point of no return; SIGKILL: failed after it), else 0: it runs.
 */
static int prog_ended(struct prog *p, int ms)
{
	int status;

	for (; p->pid > 0 && ms > 0; ms -= 20) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			prog_close(p);
			return status ? status : -1;
		}
		sleep_ms(20);
	}
	return 0;
}

static void prog_end(struct prog *p)
{
	if (p->pid > 0)
		kill_reap(p->pid);
	p->pid = 0;
	prog_close(p);
}

/* A restart refused before the point of no return. */
static int refused_early(int status)
{
	return status > 0 && WIFEXITED(status) && WEXITSTATUS(status) > 100;
}

FIXTURE(sec) {
	int dev;
	char img[64];
	struct prog p;
};

FIXTURE_SETUP(sec)
{
	self->dev = ckpt_open();
	if (self->dev < 0)
		SKIP(return, "%s missing", CKPT_DEV);
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->img, sizeof(self->img), "/tmp/sec-%d.img", getpid());
	memset(&self->p, 0, sizeof(self->p));
}

FIXTURE_TEARDOWN(sec)
{
	prog_end(&self->p);
	unlink(self->img);
	close(self->dev);
}

/* ---- A1: exec of a set-uid program during the checkpoint ---------------- */

static int make_suid_helper(void)
{
	return copy_self(SUID_HELPER, 04755);
}

#define BIG_ARGS 40

/*
 * As USER: fork a child that execs the set-uid-root helper (with 5 MiB of
 * arguments, so that the exec takes a while) and checkpoint it at once.
 * Exits 0 if refused with EPERM, 2 if refused otherwise, 1 if the image is
 * of the child before its exec, 20 if the image is of the set-uid program.
 */
static void exec_race_once(int dev, const char *img)
{
	static char big[BIG_ARGS][128 * 1024 - 1];
	char *argv[BIG_ARGS + 2], *envp[] = { "CKPT_SUID_HELPER=1", NULL }, c;
	struct rlimit stack = { 64 << 20, 64 << 20 };
	int p[2], fd, ret, status;
	pid_t t;

	/* Room for the arguments: a quarter of the stack limit.  Dumpable again
	 * after the uid change, as a process started by USER would be. */
	if (setrlimit(RLIMIT_STACK, &stack) || become(USER) || pipe(p) ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(10);
	for (int i = 0; i < BIG_ARGS; i++) {
		memset(big[i], 'a' + i % 26, sizeof(big[i]) - 1);
		argv[i + 1] = big[i];
	}
	argv[0] = "suid-helper";
	argv[BIG_ARGS + 1] = NULL;
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(12);
	on_cpu(0);
	t = fork();
	if (t == 0) {
		on_cpu(1);
		close(dev);
		close(p[0]);
		if (write(p[1], "R", 1) != 1)
			_exit(2);
		execve(SUID_HELPER, argv, envp);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		_exit(11);
	ret = ckpt_checkpoint(dev, t, fd, CKPT_CHECKPOINT_RESUME, NULL);
	close(fd);
	kill(t, SIGKILL);
	waitpid(t, &status, 0);
	if (ret)
		_exit(ret == -EPERM ? 0 : 2);
	_exit(image_euid(img) == USER ? 1 : 20);
}

TEST_F_TIMEOUT(sec, exec_race_never_dumps_setuid, 120)
{
	int status, dumped = 0, refused = 0, early = 0, other = 0;

	ASSERT_EQ(0, make_suid_helper());
	for (int i = 0; i < 6; i++) {
		pid_t checker = fork();

		ASSERT_LE(0, checker);
		if (checker == 0)
			exec_race_once(self->dev, self->img);
		ASSERT_EQ(checker, waitpid(checker, &status, 0));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
		switch (WEXITSTATUS(status)) {
		case 0: refused++; break;
		case 1: early++; break;
		case 2: other++; break;
		case 20: dumped++; break;
		default: ASSERT_TRUE(0) TH_LOG("checker exited %d", WEXITSTATUS(status));
		}
		unlink(self->img);
	}
	TH_LOG("refused %d (other errors %d), before the exec %d, set-uid image %d",
	       refused, other, early, dumped);
	EXPECT_EQ(0, dumped);
	unlink(SUID_HELPER);
}

/* ---- A6: a thread born while the others are being stopped --------------- */

static int chain_left;
static pthread_attr_t chain_attr;

/* Each thread of the chain makes the next one, then waits. */
static void *chain_link(void *arg)
{
	pthread_t t;

	if (__atomic_sub_fetch(&chain_left, 1, __ATOMIC_SEQ_CST) > 0)
		pthread_create(&t, &chain_attr, chain_link, NULL);
	for (;;)
		pause();
	return NULL;
}

static void chain_child(int ready, void *arg)
{
	pthread_t t;

	(void)arg;
	on_cpu(1);
	pthread_attr_init(&chain_attr);
	pthread_attr_setstacksize(&chain_attr, 64 << 10);
	chain_left = 400;
	say_ready(ready);
	pthread_create(&t, &chain_attr, chain_link, NULL);
	for (;;)
		pause();
}

/* The thread ids of pid now. */
static int task_ids(pid_t pid, int *ids, int max)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			ids[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

TEST_F_TIMEOUT(sec, thread_born_during_quiesce_is_saved, 180)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	int ids[512], saved[512], tries = 0;

	ASSERT_NE(NULL, ip);
	on_cpu(0);
	/*
	 * Each round must save the chain, and no running thread may be missing
	 * from the image.  A thread whose clone() was in flight when its park
	 * was queued completes it; on its way to the park it queues the park of
	 * the thread it made, which then parks before its first instruction, so
	 * the chain stops growing within one look (before, when only the next
	 * look found the new thread, about half the rounds were refused with
	 * EAGAIN).
	 */
	for (int round = 0; round < 12; round++) {
		int fd, n, nsaved = 0, missing = 0;
		pid_t child;

		fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ASSERT_LE(0, fd);
		/* Checkpoint the chain while it grows (a thread is in clone() most
		 * of the time). */
		child = spawn_ready(chain_child, NULL);
		ASSERT_LT(0, child);
		for (int i = 0; i < 200 && task_ids(child, ids, 512) < 8; i++)
			sleep_ms(1);
		n = ckpt_checkpoint(self->dev, child, fd, CKPT_CHECKPOINT_STOP, NULL);
		close(fd);
		if (n) {
			/* Refused (a process that keeps changing): never a wrong image. */
			TH_LOG("round %d: %s", round, strerror(-n));
			kill_reap(child);
			continue;
		}
		tries++;
		ASSERT_EQ(0, wait_state(child, 'T', 2000));
		sleep_ms(100);
		ASSERT_EQ(0, img_plan(self->img, ip));
		for (int i = 0; i < ip->nrec; i++) {
			size_t off = ip->rec[i].off;

			if (ip->rec[i].kind == K_TASK && nsaved < 512) {
				unsigned char b[4];
				int f = open(self->img, O_RDONLY);

				if (f >= 0 && pread(f, b, 4, off + 12) == 4)
					saved[nsaved++] = (int32_t)le32(b);
				if (f >= 0)
					close(f);
			}
		}
		n = task_ids(child, ids, 512);
		ASSERT_LT(0, n);
		for (int i = 0; i < n; i++) {
			int found = 0;

			for (int j = 0; j < nsaved; j++)
				found |= saved[j] == ids[i];
			missing += !found;
		}
		if (missing)
			TH_LOG("round %d: %d threads run but are not in the image (%d saved)",
			       round, missing, nsaved);
		EXPECT_EQ(0, missing);
		kill_reap(child);
	}
	EXPECT_EQ(12, tries) TH_LOG("only %d of 12 rounds saved the chain", tries);
	free(ip);
}

/* ---- A2: memfd seals -------------------------------------------------- */

static char *sealed_map, *open_map;
static int sealed_fd, open_fd;

/* One memfd sealed against writes and mapped shared read-only, one open
 * memfd mapped shared writable. */
static void memfd_setup(void)
{
	sealed_fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	open_fd = memfd_create("open", MFD_ALLOW_SEALING);
	if (sealed_fd < 0 || open_fd < 0 || ftruncate(sealed_fd, 4096) ||
	    ftruncate(open_fd, 4096) || pwrite(sealed_fd, "sealed-data", 11, 0) != 11)
		_exit(20);
	if (fcntl(sealed_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		_exit(21);
	sealed_map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, sealed_fd, 0);
	open_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, open_fd, 0);
	if (sealed_map == MAP_FAILED || open_map == MAP_FAILED)
		_exit(22);
	strcpy(open_map, "open-data");
}

static void memfd_answer(char cmd, char *out, size_t len)
{
	int mp = mprotect(sealed_map, 4096, PROT_READ | PROT_WRITE) ? -errno : 0;
	int pw = pwrite(sealed_fd, "X", 1, 0) < 0 ? -errno : 0;

	(void)cmd;
	snprintf(out, len, "seals %d mprotect %d pwrite %d data %.11s open %d %.9s",
		 fcntl(sealed_fd, F_GET_SEALS), mp, pw, sealed_map,
		 fcntl(open_fd, F_GET_SEALS), open_map);
}

TEST_F(sec, memfd_seals_hold_after_restart)
{
	char before[256], after[256];
	int st;

	ASSERT_EQ(0, prog_start(&self->p, memfd_setup, memfd_answer));
	prog_ask(&self->p, 'm', before, sizeof(before));
	ASSERT_STREQ("seals 14 mprotect -13 pwrite -1 data sealed-data open 0 open-data", before);
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	st = prog_restart(&self->p, self->img);
	ASSERT_EQ(0, st) TH_LOG("restart status %#x", st);
	/* Still sealed: the read-only mapping cannot be made writable. */
	EXPECT_STREQ(before, prog_ask(&self->p, 'm', after, sizeof(after)));
}

/* Restarts a copy of self->img with the seals of the memfd named name set
 * to seals; returns prog_restart's result. */
static int restart_with_seals(FIXTURE_DATA(sec) *self, const char *name, uint32_t seals)
{
	size_t n, p;
	unsigned char *m = img_load(self->img, &n);
	char bad[80];
	int st;

	if (!m || !(p = file_rec(m, n, name)))
		return -2;
	put_le32(m + p + 37, seals);
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.bad", self->img);
	if (img_store(bad, m, n))
		return -3;
	free(m);
	st = prog_restart(&self->p, bad);
	if (!st)
		st = prog_ended(&self->p, 3000);
	unlink(bad);
	return st;
}

TEST_F(sec, memfd_write_seal_on_writable_mapping_is_refused)
{
	char l[256];
	int st;

	ASSERT_EQ(0, prog_start(&self->p, memfd_setup, memfd_answer));
	prog_ask(&self->p, 'm', l, sizeof(l));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	/* The writable shared mapping of "open" contradicts a write seal. */
	st = restart_with_seals(self, "memfd:open", F_SEAL_WRITE | F_SEAL_SEAL);
	EXPECT_TRUE(refused_early(st)) TH_LOG("status %#x", st);
	prog_end(&self->p);
	st = restart_with_seals(self, "memfd:open", F_SEAL_FUTURE_WRITE);
	EXPECT_TRUE(refused_early(st)) TH_LOG("status %#x", st);
	prog_end(&self->p);
	/* Seal bits the kernel does not define. */
	st = restart_with_seals(self, "memfd:sealed", 14 | 0x4000);
	EXPECT_TRUE(refused_early(st)) TH_LOG("status %#x", st);
	prog_end(&self->p);
	/* The unedited image still restarts. */
	st = restart_with_seals(self, "memfd:sealed", 14);
	ASSERT_EQ(0, st) TH_LOG("status %#x", st);
	EXPECT_STREQ("seals 14 mprotect -13 pwrite -1 data sealed-data open 0 open-data",
		     prog_ask(&self->p, 'm', l, sizeof(l)));
}

/* ---- A3: capabilities and signal permission ---------------------------- */

static void pausing_child(int ready, void *arg)
{
	uint64_t caps = (uint64_t)(uintptr_t)arg;

	if (caps != ~0ULL && become_with_caps(caps ? USER : OTHER, caps))
		_exit(30);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(sec, target_with_more_capabilities_is_refused)
{
	char img[64];
	pid_t t, checker;
	int status;

	/* Same uid, but it holds CAP_NET_ADMIN, which the caller has not. */
	t = spawn_ready(pausing_child, (void *)(uintptr_t)(1ULL << CAP_NET_ADMIN));
	ASSERT_LT(0, t);
	snprintf(img, sizeof(img), "%s", self->img);
	checker = fork();
	ASSERT_LE(0, checker);
	if (checker == 0) {
		int fd;

		if (become(USER))
			_exit(10);
		fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (ckpt_check(self->dev, t, NULL, 0) != EPERM)
			_exit(11);
		if (ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_RESUME, NULL) != -EPERM)
			_exit(12);
		if (ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_KILL, NULL) != -EPERM)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	/* Untouched. */
	EXPECT_NE('T', proc_state(t));
	EXPECT_NE('Z', proc_state(t));
	kill_reap(t);
}

TEST_F(sec, stop_and_kill_need_signal_permission)
{
	pid_t t, checker;
	int status;

	/* Another uid; the caller may read it (CAP_SYS_PTRACE) but not signal it
	 * (no CAP_KILL). */
	t = spawn_ready(pausing_child, (void *)(uintptr_t)0);
	ASSERT_LT(0, t);
	checker = fork();
	ASSERT_LE(0, checker);
	if (checker == 0) {
		int fd;

		if (become_with_caps(USER, 1ULL << CAP_SYS_PTRACE))
			_exit(10);
		fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(9);
		if (ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_RESUME, NULL))
			_exit(11);
		if (kill(t, 0) != -1 || errno != EPERM)
			_exit(12);
		if (ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_KILL, NULL) != -EPERM)
			_exit(13);
		if (ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_STOP, NULL) != -EPERM)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	EXPECT_NE('T', proc_state(t));
	EXPECT_NE('Z', proc_state(t));
	kill_reap(t);
}

/* ---- LSMs: the kernel's own ptrace policy (Yama's ptrace_scope) ------------ */

#define YAMA_SCOPE "/proc/sys/kernel/yama/ptrace_scope"

/* A process of USER (dumpable) that waits. */
static void user_child(int ready, void *arg)
{
	(void)arg;
	if (getuid() != USER && become(USER))
		_exit(30);
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(31);
	say_ready(ready);
	for (;;)
		pause();
}

static int yama_scope(void)
{
	FILE *f = fopen(YAMA_SCOPE, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int set_yama_scope(int v)
{
	FILE *f = fopen(YAMA_SCOPE, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%d\n", v) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/*
 * Whether USER may checkpoint t (own: a child of its own instead): 0, or the
 * errno both CKPT_IOC_CHECK and CKPT_IOC_CHECKPOINT refuse with (the check's
 * reason must then name the kernel's policy); 100 and more: the test broke.
 */
static int user_may_checkpoint(int dev, pid_t t, const char *img, int own)
{
	pid_t checker = fork();
	int status;

	if (checker < 0)
		return 100;
	if (checker == 0) {
		char reason[256] = "";
		int fd, st, ck;

		if (become(USER) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(101);
		if (own) {
			t = spawn_ready(user_child, NULL);
			if (t < 0)
				_exit(102);
		}
		fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(103);
		st = ckpt_check(dev, t, reason, sizeof(reason));
		ck = ckpt_checkpoint(dev, t, fd, CKPT_CHECKPOINT_RESUME, NULL);
		if (own)
			kill_reap(t);
		if (st < 0 || ck != -st)
			_exit(104);
		if (st && !strstr(reason, "ptrace-attach policy"))
			_exit(105);
		_exit(st);
	}
	if (waitpid(checker, &status, 0) != checker || !WIFEXITED(status))
		return 110;
	return WEXITSTATUS(status);
}

/*
 * Checkpointing needs what ptrace attach needs, LSMs included: with Yama,
 * ptrace_scope 1 keeps a user to its own descendants, 2 keeps everyone
 * without CAP_SYS_PTRACE out (3, which no one may undo until reboot, is not
 * set here).  Needs a kernel with Yama (Debian's: tools/build/debian-stock.sh).
 */
TEST_F(sec, yama_ptrace_scope_is_obeyed)
{
	int old = yama_scope();
	char img[80];
	pid_t t;

	if (old < 0)
		SKIP(return, "no Yama in this kernel (%s)", YAMA_SCOPE);
	ASSERT_GT(3, old);
	snprintf(img, sizeof(img), "%s.yama", self->img);
	t = spawn_ready(user_child, NULL);
	ASSERT_LT(0, t);

	/* 0: classic ptrace rules, a process of the same user is open to it. */
	ASSERT_EQ(0, set_yama_scope(0));
	EXPECT_EQ(0, user_may_checkpoint(self->dev, t, img, 0));
	/* 1: only its descendants. */
	ASSERT_EQ(0, set_yama_scope(1));
	EXPECT_EQ(EACCES, user_may_checkpoint(self->dev, t, img, 0));
	EXPECT_EQ(0, user_may_checkpoint(self->dev, t, img, 1));
	/* 2: only with CAP_SYS_PTRACE: not a user's own child, but root's. */
	ASSERT_EQ(0, set_yama_scope(2));
	EXPECT_EQ(EACCES, user_may_checkpoint(self->dev, t, img, 1));
	EXPECT_EQ(0, ckpt_check(self->dev, t, NULL, 0));

	EXPECT_EQ(0, set_yama_scope(old));
	EXPECT_NE('T', proc_state(t));
	kill_reap(t);
	unlink(img);
}

/* ---- A12: a stopped target continued during the checkpoint -------------- */

static volatile int usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* 32 MiB of data (a long image) and a SIGUSR1 handler. */
static void big_handler_child(int ready, void *arg)
{
	size_t len = 32 << 20;
	char *p = malloc(len);

	(void)arg;
	if (!p)
		_exit(4);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1 + (i >> 12);
	signal(SIGUSR1, on_usr1);
	say_ready(ready);
	for (;;)
		pause();
}

struct bg_ckpt {
	int dev, fd;
	pid_t pid;
	int ret;
};

static void *bg_checkpoint(void *arg)
{
	struct bg_ckpt *j = arg;

	/*
	 * Left stopped: the image is written while the target is held (one left
	 * running is let go first, from memory: see spool_mb).
	 */
	j->ret = ckpt_checkpoint(j->dev, j->pid, j->fd, CKPT_CHECKPOINT_STOP, NULL);
	close(j->fd);
	return NULL;
}

TEST_F_TIMEOUT(sec, stopped_target_continued_mid_dump_is_not_saved, 120)
{
	struct bg_ckpt j;
	pthread_t th;
	char buf[65536];
	int p[2];
	pid_t t = spawn_ready(big_handler_child, NULL);

	ASSERT_LT(0, t);
	kill(t, SIGSTOP);
	ASSERT_EQ(0, wait_state(t, 'T', 2000));
	ASSERT_EQ(0, pipe(p));
	j.dev = self->dev;
	j.fd = p[1];
	j.pid = t;
	j.ret = 1;
	ASSERT_EQ(0, pthread_create(&th, NULL, bg_checkpoint, &j));
	/* The image fills the pipe: the checkpoint is blocked writing it. */
	ASSERT_LT(0, read(p[0], buf, 8));
	sleep_ms(200);
	/* Continued with a signal to handle: it runs its handler mid-dump. */
	kill(t, SIGUSR1);
	kill(t, SIGCONT);
	sleep_ms(200);
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	pthread_join(th, NULL);
	close(p[0]);
	EXPECT_EQ(-EAGAIN, j.ret) TH_LOG("checkpoint returned %d", j.ret);
	kill_reap(t);
}

/* ---- the shell interface judges the opener, not the caller -------------- */

TEST_F(sec, shell_judges_the_opener_not_the_caller)
{
	char cmd[64], buf[4096];
	int fd, status;
	pid_t t, deputy;
	ssize_t n;

	/* Root queues an image of a root process. */
	t = spawn_ready(pausing_child, (void *)(uintptr_t)~0ULL);
	ASSERT_LT(0, t);
	ASSERT_EQ(0, shell_queue(t));
	/* USER opens the device (opened to all for the test) and hands the fd to
	 * a set-uid-root program, which reads once and writes once. */
	ASSERT_EQ(0, ckpt_unprivileged(1));
	ASSERT_EQ(0, chmod(CKPT_DEV, 0666));
	deputy = fork();
	ASSERT_LE(0, deputy);
	if (deputy == 0) {
		if (setgroups(0, NULL) || setresgid(USER, USER, 0) || setresuid(USER, USER, 0))
			_exit(10);
		fd = open(CKPT_DEV, O_RDWR);
		if (fd < 0)
			_exit(11);
		/* Root again, as the set-uid program is. */
		if (setresuid(0, 0, 0) || setresgid(0, 0, 0))
			_exit(12);
		if (read(fd, buf, sizeof(buf)) >= 0 || errno != ENODATA)
			_exit(20);
		snprintf(cmd, sizeof(cmd), "%d kill", t);
		if (write(fd, cmd, strlen(cmd)) >= 0 || errno != EPERM)
			_exit(21);
		_exit(0);
	}
	ASSERT_EQ(deputy, waitpid(deputy, &status, 0));
	chmod(CKPT_DEV, 0600);
	ckpt_unprivileged(0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	/* Root's process lives, and root's image is still root's. */
	EXPECT_NE('Z', proc_state(t));
	fd = open(CKPT_DEV, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	EXPECT_EQ((ssize_t)sizeof(buf), n);
	kill_reap(t);
}

/* ---- A9: memory state that must not be lost ---------------------------- */

struct vm_case {
	const char *what;
	const char *word;	/* in the reason */
	int (*make)(void);
};

/* KSM for all of the process's memory (its mappings' own MADV_MERGEABLE
 * comes back; this process-wide setting would not). */
static int make_merge_any(void)
{
	return prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0);
}

static int make_mseal(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	p[0] = 1;
	return syscall(462 /* mseal */, p, 8192, 0);
}

static int make_pkey(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int k = syscall(SYS_pkey_alloc, 0, 0);

	if (p == MAP_FAILED || k < 0)
		return -1;
	p[0] = 1;
	return syscall(SYS_pkey_mprotect, p, 8192, PROT_READ | PROT_WRITE, k);
}

static int make_lockonfault(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	p[0] = 1;
	return syscall(SYS_mlock2, p, 8192, 1 /* MLOCK_ONFAULT */);
}

/* ZDTM's maps12: a guard region (a page that faults on any access) reads as a
 * hole; restored as plain memory, the program's trap would be gone. */
static int make_guard(void)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	p[0] = 1;
	return madvise(p + 4096, 4096, 102 /* MADV_GUARD_INSTALL */);
}

static void vm_child(int ready, void *arg)
{
	const struct vm_case *c = arg;

	if (c->make())
		_exit(40);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(sec, lost_memory_protections_are_refused)
{
	static const struct vm_case cases[] = {
		{ "mseal", "sealed", make_mseal },
		{ "PR_SET_MEMORY_MERGE", "PR_SET_MEMORY_MERGE", make_merge_any },
		{ "protection key", "protection key", make_pkey },
		{ "mlock2(MLOCK_ONFAULT)", "locked on fault", make_lockonfault },
		{ "MADV_GUARD_INSTALL", "guard regions", make_guard },
	};
	char reason[256];
	int fd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t t;
		int st;

		/* Not every kernel or CPU has each: probe in a child first. */
		t = fork();
		ASSERT_LE(0, t);
		if (t == 0)
			_exit(cases[i].make() ? 1 : 0);
		waitpid(t, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			TH_LOG("%s: not available here, skipped", cases[i].what);
			continue;
		}
		t = spawn_ready(vm_child, (void *)&cases[i]);
		ASSERT_LT(0, t);
		st = ckpt_check(self->dev, t, reason, sizeof(reason));
		EXPECT_EQ(EOPNOTSUPP, st) TH_LOG("%s: check says %d (%s)", cases[i].what, st, reason);
		EXPECT_NE(NULL, strstr(reason, cases[i].word))
			TH_LOG("%s: reason \"%s\"", cases[i].what, reason);
		fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
		EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_KILL, NULL))
			TH_LOG("%s", cases[i].what);
		close(fd);
		/* Refused: it runs on. */
		EXPECT_NE('Z', proc_state(t));
		kill_reap(t);
	}
}

/* A15: a thread that far-jumped into the 32-bit user code segment and spins
 * there ("jmp ." is the same two bytes in both modes). */
static void *compat_spin(void *arg)
{
	struct { uint32_t off; uint16_t sel; } __attribute__((packed)) fp = {
		(uint32_t)(uintptr_t)arg, 0x23 /* __USER32_CS */
	};

	asm volatile("ljmpl *%0" : : "m"(fp));
	return NULL;
}

static void compat_child(int ready, void *arg)
{
	unsigned char *code = mmap((void *)0x10000000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	pthread_t t;

	(void)arg;
	if (code == MAP_FAILED)
		_exit(40);
	code[0] = 0xeb;
	code[1] = 0xfe;
	if (pthread_create(&t, NULL, compat_spin, code))
		_exit(41);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(sec, thread_in_32bit_mode_is_refused)
{
	pid_t t = spawn_ready(compat_child, NULL);
	int fd;

	ASSERT_LT(0, t);
	sleep_ms(50);
	fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_KILL, NULL));
	close(fd);
	EXPECT_NE('Z', proc_state(t));
	kill_reap(t);
}

/*
 * DONTFORK and DONTDUMP: the test kernel has no madvise() (no
 * CONFIG_ADVISE_SYSCALLS), so the image says so instead: three mappings at
 * a fixed place (the middle one PROT_NONE, so that they stay three), the
 * first two marked DONTFORK and DONTDUMP in the image, as madvise() would
 * have left them.
 */
#define ADV_AT 0x200000000UL
#define VF_DONTFORK (1u << 3)
#define VF_DONTDUMP (1u << 4)

static void madvise_setup(void)
{
	char *p = mmap((void *)ADV_AT, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || mprotect(p + 4096, 4096, PROT_NONE))
		_exit(20);
	p[0] = 'f';
	p[2 * 4096] = 'd';
}

/* The VmFlags of the mapping at addr in /proc/self/smaps, and its end. */
static void vmflags(unsigned long addr, char *out, size_t len, unsigned long *end)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	snprintf(want, sizeof(want), "%lx-", addr);
	snprintf(out, len, "none");
	*end = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want))) {
			in = 1;
			sscanf(line + strlen(want), "%lx", end);
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", line + 8);
			break;
		}
	}
	if (f)
		fclose(f);
}

static void madvise_answer(char cmd, char *out, size_t len)
{
	char a[512], b[512];
	unsigned long ea, eb;
	const char *p = (const char *)ADV_AT;

	(void)cmd;
	vmflags(ADV_AT, a, sizeof(a), &ea);
	vmflags(ADV_AT + 2 * 4096, b, sizeof(b), &eb);
	snprintf(out, len, "%c%c dc=%d,%d dd=%d,%d ends=%lx,%lx", p[0], p[2 * 4096],
		 !!strstr(a, " dc"), !!strstr(b, " dc"), !!strstr(a, " dd"), !!strstr(b, " dd"),
		 ea - ADV_AT, eb - ADV_AT);
}

TEST_F(sec, dontfork_and_dontdump_come_back)
{
	char l[256], bad[80];
	unsigned char *m;
	size_t n, p;
	int edited = 0, st;

	ASSERT_EQ(0, prog_start(&self->p, madvise_setup, madvise_answer));
	ASSERT_STREQ("fd dc=0,0 dd=0,0 ends=1000,3000", prog_ask(&self->p, 'm', l, sizeof(l)));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	m = img_load(self->img, &n);
	ASSERT_NE(NULL, m);
	for (int i = 0; (p = rec_nth(m, n, K_VMA, i)); i++) {
		if (le64(m + p) == ADV_AT) {
			put_le32(m + p + 28, le32(m + p + 28) | VF_DONTFORK);
			edited++;
		} else if (le64(m + p) == ADV_AT + 2 * 4096) {
			put_le32(m + p + 28, le32(m + p + 28) | VF_DONTDUMP);
			edited++;
		}
	}
	ASSERT_EQ(2, edited);
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.adv", self->img);
	ASSERT_EQ(0, img_store(bad, m, n));
	free(m);
	st = prog_restart(&self->p, bad);
	ASSERT_EQ(0, st);
	/* Each keeps its own property, and its bounds (nothing merged). */
	EXPECT_STREQ("fd dc=1,0 dd=0,1 ends=1000,3000", prog_ask(&self->p, 'm', l, sizeof(l)))
		TH_LOG("restarter status %#x", prog_ended(&self->p, 100));
	unlink(bad);
}

/* ---- A20: pending signals ---------------------------------------------- */

/* SIGWINCH (ignored by default) blocked and pending for the process. */
static void winch_setup(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGWINCH);
	sigprocmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGWINCH);
}

static void winch_answer(char cmd, char *out, size_t len)
{
	sigset_t s;

	(void)cmd;
	sigpending(&s);
	snprintf(out, len, "winch %d stop %d", sigismember(&s, SIGWINCH), sigismember(&s, SIGSTOP));
}

TEST_F(sec, blocked_ignored_pending_signal_survives)
{
	char l[128];
	int st;

	ASSERT_EQ(0, prog_start(&self->p, winch_setup, winch_answer));
	ASSERT_STREQ("winch 1 stop 0", prog_ask(&self->p, 's', l, sizeof(l)));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	st = prog_restart(&self->p, self->img);
	ASSERT_EQ(0, st) TH_LOG("restart status %#x", st);
	EXPECT_STREQ("winch 1 stop 0", prog_ask(&self->p, 's', l, sizeof(l)));
}

TEST_F(sec, pending_sigstop_stops_instead_of_failing)
{
	char l[128], bad[80];
	unsigned char *m;
	size_t n, p;
	int st;

	ASSERT_EQ(0, prog_start(&self->p, winch_setup, winch_answer));
	ASSERT_STREQ("winch 1 stop 0", prog_ask(&self->p, 's', l, sizeof(l)));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	/* As if SIGSTOP had been sent while the process was held: the queued
	 * SIGWINCH of the process becomes a SIGSTOP. */
	m = img_load(self->img, &n);
	ASSERT_NE(NULL, m);
	p = rec_nth(m, n, K_SIGNAL, 0);
	ASSERT_NE(0, p);
	p += 4 + 48;			/* id, itimers */
	ASSERT_EQ(1ULL << (SIGWINCH - 1), le64(m + p));
	ASSERT_EQ(1, le32(m + p + 8));
	put_le64(m + p, 1ULL << (SIGSTOP - 1));
	put_le32(m + p + 12, SIGSTOP);
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.stop", self->img);
	ASSERT_EQ(0, img_store(bad, m, n));
	free(m);
	st = prog_restart(&self->p, bad);
	ASSERT_EQ(0, st) TH_LOG("restart status %#x", st);
	/* It stops, as it would have; SIGCONT lets it go on. */
	EXPECT_EQ(0, wait_state(self->p.pid, 'T', 3000))
		TH_LOG("state %c, status %#x", proc_state(self->p.pid), prog_ended(&self->p, 100));
	unlink(bad);
	kill(self->p.pid, SIGCONT);
	EXPECT_STREQ("winch 0 stop 0", prog_ask(&self->p, 's', l, sizeof(l)));
}

/* ---- A4: capability and securebits rules of capset(2)/prctl(2) ---------- */

/*
 * In a forked child: restarts image path (planned in ip) with a fresh pipe for
 * each of its pipes, after dropping drop_bset from its bounding set (if >= 0).
 * Exits 0 if refused with EPERM for a reason that mentions why, else 100 +
 * errno (97 to 99: the setup failed).  Restored (not refused), the program
 * runs on: the parent ends it.
 */
static void restart_expecting_refusal(const char *path, const struct img_plan *ip,
				      int drop_bset, const char *why)
{
	struct ckpt_restart_pipe pp[16];
	struct ckpt_restart_args a;
	int dev = open(CKPT_DEV, O_RDWR), fd = open(path, O_RDONLY), q[2];

	if (dev < 0 || fd < 0 || chdir(ip->cwd) || move_specials(ip))
		_exit(99);
	for (int i = 0; i < ip->npipes; i++) {
		if (pipe(q))
			_exit(98);
		pp[i].id = ip->pipe[i].id;
		pp[i].rfd = q[0];
		pp[i].wfd = q[1];
		pp[i].pad = 0;
	}
	if (drop_bset >= 0 && prctl(PR_CAPBSET_DROP, drop_bset, 0, 0, 0))
		_exit(97);
	memset(&a, 0, sizeof(a));
	a.fd = fd;
	a.npipes = ip->npipes;
	a.pipes = (uint64_t)(uintptr_t)pp;
	a.stdio[0] = a.stdio[1] = a.stdio[2] = -1;
	ioctl(dev, CKPT_IOC_RESTART, &a);
	_exit(errno == EPERM && strstr(a.reason, why) ? 0 : 100 + errno);
}

/*
 * Restarts a copy of img with its credentials' field at off (a u64 if wide,
 * else a u32) set to v, in a child that first drops drop_bset from its
 * bounding set (if >= 0).  Returns 0 if refused with EPERM, else 100 + errno
 * (or 1 if it was not refused at all).
 */
static int restart_edited_creds(const char *img, size_t off, int wide, uint64_t v, int drop_bset)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	unsigned char *m;
	char bad[80];
	size_t n, p;
	int status;
	pid_t pid;

	m = img_load(img, &n);
	if (!ip || !m || !(p = rec_nth(m, n, K_CREDS, 0)))
		return -1;
	if (wide)
		put_le64(m + p + off, v);
	else
		put_le32(m + p + off, v);
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.creds", img);
	if (img_store(bad, m, n) || img_plan(bad, ip))
		return -1;
	free(m);
	pid = fork();
	if (pid == 0)
		restart_expecting_refusal(bad, ip, drop_bset, "credentials");
	status = -1;
	for (int i = 0; i < 250 && waitpid(pid, &status, WNOHANG) != pid; i++)
		sleep_ms(20);
	if (status == -1) {
		kill_reap(pid);
		status = 1 << 8;
	}
	unlink(bad);
	free(ip);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

TEST_F(sec, restart_keeps_capset_and_securebits_rules)
{
	char l[128];

	ASSERT_EQ(0, prog_start(&self->p, winch_setup, winch_answer));
	prog_ask(&self->p, 's', l, sizeof(l));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	/* An inheritable capability outside the caller's bounding set (capset(2):
	 * pI may grow only within the bounding set). */
	EXPECT_EQ(0, restart_edited_creds(self->img, 36, 1, 1ULL << CAP_NET_RAW, CAP_NET_RAW));
	/* securebits the kernel does not define. */
	EXPECT_EQ(0, restart_edited_creds(self->img, 76, 0, 1u << 20, -1));
	/* Setting and locking a defined bit is what prctl(2) allows a caller
	 * with CAP_SETPCAP: restored (it then reads end-of-file and exits 5). */
	EXPECT_EQ(5, restart_edited_creds(self->img, 76, 0, 0x3, -1));
}

/* ---- A11: the shell queue's budget --------------------------------------- */

#define BIG_MB 36

/* A process of USER with BIG_MB MiB of dirty memory. */
static void big_user_child(int ready, void *arg)
{
	size_t len = (size_t)BIG_MB << 20;
	char *p;

	(void)arg;
	if (become(USER) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(30);
	p = malloc(len);
	if (!p)
		_exit(31);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1 + (i >> 12);
	say_ready(ready);
	for (;;)
		pause();
}

/* As uid (the opener), "echo PID > /dev/ckpt": 0 or the write's errno. */
static int shell_checkpoint_as(uid_t uid, pid_t t)
{
	pid_t w = fork();
	int status;

	if (w < 0)
		return -1;
	if (w == 0) {
		char cmd[32];
		int fd;

		if (uid && become(uid))
			_exit(100);
		fd = open(CKPT_DEV, O_WRONLY);
		if (fd < 0)
			_exit(101);
		snprintf(cmd, sizeof(cmd), "%d", t);
		_exit(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) ? 0 : errno);
	}
	if (waitpid(w, &status, 0) != w || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* As uid, reads back its queued images; their count. */
static int shell_drain_as(uid_t uid)
{
	pid_t r = fork();
	int status;

	if (r < 0)
		return -1;
	if (r == 0) {
		static char buf[1 << 16];
		int n = 0;

		if (uid && become(uid))
			_exit(100);
		for (;;) {
			int fd = open(CKPT_DEV, O_RDONLY);
			ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

			if (got <= 0) {
				close(fd);
				_exit(n);
			}
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
			n++;
		}
	}
	if (waitpid(r, &status, 0) != r || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Each byte of a shell image is charged to the queue's budget while the
 * checkpoint writes it, and one uid other than root gets at most half of it:
 * a user's second big image does not fit, root's does.
 */
TEST_F_TIMEOUT(sec, shell_budget_is_charged_and_per_user, 300)
{
	pid_t t;
	int a, b, c;

	t = spawn_ready(big_user_child, NULL);
	ASSERT_LT(0, t);
	ASSERT_EQ(0, ckpt_unprivileged(1));
	ASSERT_EQ(0, chmod(CKPT_DEV, 0666));
	a = shell_checkpoint_as(USER, t);
	b = shell_checkpoint_as(USER, t);
	c = shell_checkpoint_as(0, t);
	chmod(CKPT_DEV, 0600);
	ckpt_unprivileged(0);
	EXPECT_EQ(0, a);
	EXPECT_EQ(EFBIG, b);
	EXPECT_EQ(0, c);
	ASSERT_EQ(0, ckpt_unprivileged(1));
	ASSERT_EQ(0, chmod(CKPT_DEV, 0666));
	EXPECT_EQ(1, shell_drain_as(USER));
	chmod(CKPT_DEV, 0600);
	ckpt_unprivileged(0);
	EXPECT_EQ(1, shell_drain_as(0));
	EXPECT_NE('T', proc_state(t));
	kill_reap(t);
}

/* ---- A18: rseq registration with rseq(2)'s rules ------------------------ */

#define K_RSEQ 0x8102

/* A registered struct rseq (the original 32 bytes, 32-byte aligned). */
static struct {
	uint32_t cpu_id_start, cpu_id;
	uint64_t rseq_cs;
	uint32_t flags, node_id, mm_cid, slice;
} __attribute__((aligned(32))) rs_area;

/* The thread's registered area: glibc's (it registers one for every thread),
 * or rs_area where the C library does not. */
static volatile uint32_t *rseq_cpu_id(void)
{
	if (__rseq_size > 0)
		return (volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
	return &rs_area.cpu_id;
}

static void rseq_setup(void)
{
	if (__rseq_size == 0 && syscall(334 /* rseq */, &rs_area, 32, 0, 0x53053053))
		_exit(20);
}

static void rseq_answer(char cmd, char *out, size_t len)
{
	(void)cmd;
	snprintf(out, len, "cpu %d", (int)*rseq_cpu_id());
}

/*
 * A restored rseq registration obeys rseq(2)'s length and alignment rules: an
 * image whose area is misaligned is refused before the point of no return
 * (it used to be registered as it was); the real one comes back working.
 */
TEST_F_TIMEOUT(sec, rseq_area_obeys_the_syscall_rules, 120)
{
	unsigned char *m;
	char bad[80], l[64];
	size_t n, p;
	int st;

	ASSERT_EQ(0, prog_start(&self->p, rseq_setup, rseq_answer));
	ASSERT_EQ(0, strncmp("cpu ", prog_ask(&self->p, 'r', l, sizeof(l)), 4));
	ASSERT_NE(0, strcmp("cpu -1", l));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	m = img_load(self->img, &n);
	ASSERT_NE(NULL, m);
	p = rec_nth(m, n, K_RSEQ, 0);
	ASSERT_NE(0, p);
	put_le64(m + p, le64(m + p) + 8);	/* 8-byte aligned only */
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.rseq", self->img);
	ASSERT_EQ(0, img_store(bad, m, n));
	free(m);
	ASSERT_EQ(0, prog_restart(&self->p, bad));
	st = prog_ended(&self->p, 30000);
	unlink(bad);
	EXPECT_TRUE(refused_early(st) && WEXITSTATUS(st) == 100 + EINVAL) TH_LOG("status %#x", st);
	prog_end(&self->p);
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	EXPECT_EQ(0, strncmp("cpu ", prog_ask(&self->p, 'r', l, sizeof(l)), 4)) TH_LOG("%s", l);
	EXPECT_NE(0, strcmp("cpu -1", l));
}

/* ---- A19: the memory layout with prctl(PR_SET_MM_MAP)'s rules ----------- */

#define K_MM 0x0400

/* Restarts a copy of img whose mm layout word i is v: the restarter's status. */
static int restart_with_layout(struct prog *p, const char *img, int i, uint64_t v)
{
	unsigned char *m;
	char bad[80];
	size_t n, off;
	int st;

	m = img_load(img, &n);
	if (!m || !(off = rec_nth(m, n, K_MM, 0)))
		return -1;
	put_le64(m + off + 8 + 8 * i, v);
	reseal(m, n);
	snprintf(bad, sizeof(bad), "%s.mm", img);
	st = img_store(bad, m, n);
	free(m);
	if (st || prog_restart(p, bad))
		return -1;
	st = prog_ended(p, 30000);
	unlink(bad);
	prog_end(p);
	return st;
}

/*
 * The layout words (code, data, brk, arguments, environment) are checked as
 * prctl(PR_SET_MM_MAP) checks them, before the point of no return: an image
 * whose data ends before it starts, or whose code does, is refused (it used to
 * be set as it was).
 */
TEST_F_TIMEOUT(sec, mm_layout_obeys_prctl_rules, 120)
{
	unsigned char *m;
	uint64_t start_code, end_data;
	size_t n, off;
	char l[64];
	int st;

	ASSERT_EQ(0, prog_start(&self->p, NULL, winch_answer));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	m = img_load(self->img, &n);
	ASSERT_NE(NULL, m);
	off = rec_nth(m, n, K_MM, 0);
	ASSERT_NE(0, off);
	start_code = le64(m + off + 8);
	end_data = le64(m + off + 8 + 24);
	free(m);
	/* start_data above end_data */
	st = restart_with_layout(&self->p, self->img, 2, end_data + 4096);
	EXPECT_TRUE(refused_early(st) && WEXITSTATUS(st) == 100 + EINVAL) TH_LOG("status %#x", st);
	/* end_code at start_code */
	st = restart_with_layout(&self->p, self->img, 1, start_code);
	EXPECT_TRUE(refused_early(st) && WEXITSTATUS(st) == 100 + EINVAL) TH_LOG("status %#x", st);
	/* The image as it is comes back. */
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	EXPECT_EQ(0, strncmp("winch", prog_ask(&self->p, 's', l, sizeof(l)), 5)) TH_LOG("%s", l);
}

/* ---- A14: vm.memfd_noexec ----------------------------------------------- */

#define MEMFD_NOEXEC "/proc/sys/vm/memfd_noexec"
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static unsigned int nx_flags;

static void nx_setup(void)
{
	int fd = memfd_create("nx", nx_flags);

	if (fd != 5 || ftruncate(fd, 4096))
		_exit(20);
}

static void nx_answer(char cmd, char *out, size_t len)
{
	struct stat st;

	(void)cmd;
	if (fstat(5, &st))
		st.st_mode = 0;
	snprintf(out, len, "mode %o seals %#x", st.st_mode & 07777, fcntl(5, F_GET_SEALS));
}

static int sysctl_int(const char *path, int set)
{
	FILE *f = fopen(path, set < 0 ? "r" : "w");
	int v = -1;

	if (!f)
		return -1;
	if (set < 0 ? fscanf(f, "%d", &v) != 1 : fprintf(f, "%d\n", set) < 0)
		v = -1;
	else if (set >= 0)
		v = set;
	return fclose(f) ? -1 : v;
}

/*
 * Restoring a memfd is a memfd_create(2): under vm.memfd_noexec 2 only one
 * made non-executable for good (MFD_NOEXEC_SEAL) may come back.
 */
TEST_F_TIMEOUT(sec, memfd_noexec_is_obeyed, 120)
{
	int old = sysctl_int(MEMFD_NOEXEC, -1), st;
	char before[64], l[64];

	if (old < 0)
		SKIP(return, "no %s", MEMFD_NOEXEC);
	if (old >= 2)
		SKIP(return, "vm.memfd_noexec is already 2");
	/* An executable memfd: refused under 2, restored under the old value. */
	nx_flags = MFD_EXEC;
	ASSERT_EQ(0, prog_start(&self->p, nx_setup, nx_answer));
	prog_ask(&self->p, 'f', before, sizeof(before));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	ASSERT_EQ(2, sysctl_int(MEMFD_NOEXEC, 2));
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	st = prog_ended(&self->p, 30000);
	ASSERT_EQ(old, sysctl_int(MEMFD_NOEXEC, old));
	EXPECT_TRUE(refused_early(st) && WEXITSTATUS(st) == 100 + EACCES) TH_LOG("status %#x", st);
	prog_end(&self->p);
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	EXPECT_STREQ(before, prog_ask(&self->p, 'f', l, sizeof(l)));
	prog_end(&self->p);
	/* A sealed non-executable one comes back under 2 too. */
	nx_flags = MFD_NOEXEC_SEAL;
	ASSERT_EQ(0, prog_start(&self->p, nx_setup, nx_answer));
	prog_ask(&self->p, 'f', before, sizeof(before));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	ASSERT_EQ(2, sysctl_int(MEMFD_NOEXEC, 2));
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	EXPECT_STREQ(before, prog_ask(&self->p, 'f', l, sizeof(l)));
	ASSERT_EQ(old, sysctl_int(MEMFD_NOEXEC, old));
}

/* ---- A4/A19: resource limits go through setrlimit(2) ------------------- */

static void limits_setup(void)
{
	struct rlimit cpu = { 3, RLIM_INFINITY }, mq = { 1000, 2000 }, core = { 0, 0 };

	if (setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_MSGQUEUE, &mq) ||
	    setrlimit(RLIMIT_CORE, &core))
		_exit(20);
}

static void limits_answer(char cmd, char *out, size_t len)
{
	struct rlimit cpu, mq;

	if (cmd == 's')
		for (;;)	/* burns CPU time until RLIMIT_CPU ends it */
			__asm__ volatile("" ::: "memory");
	getrlimit(RLIMIT_CPU, &cpu);
	getrlimit(RLIMIT_MSGQUEUE, &mq);
	snprintf(out, len, "cpu %llu mq %llu %llu", (unsigned long long)cpu.rlim_cur,
		 (unsigned long long)mq.rlim_cur, (unsigned long long)mq.rlim_max);
}

/* A restart by a caller that did not take the image's limits: 0 if refused so. */
static int restart_without_limits(const char *img, const struct img_plan *ip)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		restart_expecting_refusal(img, ip, -1, "setrlimit");
	for (int i = 0; i < 1500 && waitpid(pid, &status, WNOHANG) != pid; i++)
		sleep_ms(20);
	if (kill(pid, 0) == 0) {
		kill_reap(pid);
		return -2;	/* restored: not refused */
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -3;
}

/*
 * The image's hard limits (and RLIMIT_CPU) are the restarter's to take with
 * setrlimit(2), which runs the LSMs' task_setrlimit hook, checks fs.nr_open
 * and arms the CPU-time limit: a restart without it is refused, and a restored
 * RLIMIT_CPU ends a spinning process (it was a dead letter).
 */
TEST_F_TIMEOUT(sec, rlimits_are_taken_through_setrlimit, 180)
{
	struct img_plan *ip = calloc(1, sizeof(*ip));
	char l[128];
	int st;

	ASSERT_NE(NULL, ip);
	ASSERT_EQ(0, prog_start(&self->p, limits_setup, limits_answer));
	ASSERT_STREQ("cpu 3 mq 1000 2000", prog_ask(&self->p, 'l', l, sizeof(l)));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	ASSERT_EQ(0, img_plan(self->img, ip));
	ASSERT_TRUE(ip->has_rlimits);
	EXPECT_EQ(0, restart_without_limits(self->img, ip));
	free(ip);
	/* Taken (as ckpt restart does): restored, and the CPU limit works. */
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	ASSERT_STREQ("cpu 3 mq 1000 2000", prog_ask(&self->p, 'l', l, sizeof(l)));
	ASSERT_EQ(1, write(self->p.ctl, "s", 1));
	st = prog_ended(&self->p, 60000);
	EXPECT_TRUE(st > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU) TH_LOG("status %#x", st);
}

/* ---- failure reporting of the tool ------------------------------------- */

/* Enough dirty memory for several page records. */
static void big_setup(void)
{
	size_t len = 4 << 20;
	char *p = malloc(len);

	if (!p)
		_exit(20);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1 + (i >> 12);
	winch_setup();
}

TEST_F(sec, detached_restart_reports_late_failure)
{
	char l[1024], bad[80];
	unsigned char *m;
	size_t n, p, last;
	int st, out[2];
	pid_t tool;
	ssize_t got;

	if (access(CKPT_TOOL, X_OK))
		SKIP(return, "%s missing", CKPT_TOOL);
	ASSERT_EQ(0, prog_start(&self->p, big_setup, winch_answer));
	ASSERT_STREQ("winch 1 stop 0", prog_ask(&self->p, 's', l, sizeof(l)));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	/* A damaged last page record is found only after the point of no return. */
	m = img_load(self->img, &n);
	ASSERT_NE(NULL, m);
	last = 0;
	for (int i = 0; (p = rec_nth(m, n, K_PAGES, i)); i++)
		last = p;
	ASSERT_NE(0, last);
	ASSERT_NE(last, rec_nth(m, n, K_PAGES, 0)) TH_LOG("only one page record");
	m[last + le32(m + last - 8) - 1] ^= 0x5a;	/* the last byte of its data */
	snprintf(bad, sizeof(bad), "%s.late", self->img);
	ASSERT_EQ(0, img_store(bad, m, n));
	free(m);
	ASSERT_EQ(0, pipe(out));
	tool = fork();
	ASSERT_LE(0, tool);
	if (tool == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execl(CKPT_TOOL, "ckpt", "restart", "--detach", bad, NULL);
		_exit(127);
	}
	close(out[1]);
	for (size_t have = 0; have < sizeof(l) - 1; have += got) {
		got = read(out[0], l + have, sizeof(l) - 1 - have);
		l[have + (got > 0 ? got : 0)] = 0;
		if (got <= 0)
			break;
	}
	ASSERT_EQ(tool, waitpid(tool, &st, 0));
	close(out[0]);
	unlink(bad);
	TH_LOG("tool said: %s", l);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0) TH_LOG("tool status %#x", st);
	EXPECT_NE(NULL, strstr(l, "point of no return"));
}

/* ---- the LSM observer sees a capability change as it happens ----------- */

/* Drops every capability but CAP_KILL and CAP_CHOWN, then says so. */
static void capset_child(int ready, void *arg)
{
	if (set_caps(1ULL << CAP_KILL | 1ULL << CAP_CHOWN))
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(sec, capability_change_is_seen_live)
{
	struct ckpt_version v;
	char reason[256];
	pid_t t;

	ASSERT_EQ(0, ioctl(self->dev, CKPT_IOC_VERSION, &v));
	if (!(v.features & CKPT_FEAT_LSM_WATCH))
		SKIP(return, "the LSM observer is off in this kernel");
	t = spawn_ready(capset_child, NULL);
	ASSERT_LT(0, t);
	EXPECT_EQ(0, ckpt_check(self->dev, t, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "seen: changed its capabilities (capset, effective 0x21)"))
		TH_LOG("reason: %s", reason);
	kill_reap(t);
	/* A process that never changed them has nothing to tell. */
	t = spawn_ready(counting_child, (void *)shared_counter());
	ASSERT_LT(0, t);
	EXPECT_EQ(0, ckpt_check(self->dev, t, reason, sizeof(reason)));
	EXPECT_STREQ("", reason);
	kill_reap(t);
}

/* ---- A22: one task of the image, one caller; one process, one process -- */

static pid_t sleeper_tid;

static void *sleeper(void *arg)
{
	sleeper_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static void two_threads_setup(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, sleeper, NULL))
		_exit(20);
	while (!__atomic_load_n(&sleeper_tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
}

static void tid_answer(char cmd, char *out, size_t len)
{
	snprintf(out, len, "%d", sleeper_tid);
}

struct claim {
	int dev;
	int img;
	pid_t task;
	int ret;
	int err;
	char reason[240];
};

/* A thread's CKPT_IOC_RESTART as task c->task of the image. */
static void *claim_task(void *arg)
{
	struct claim *c = arg;
	struct ckpt_restart_args a;

	memset(&a, 0, sizeof(a));
	a.fd = c->img;
	a.task = c->task;
	c->ret = ioctl(c->dev, CKPT_IOC_RESTART, &a);
	c->err = errno;
	memcpy(c->reason, a.reason, sizeof(c->reason));
	return NULL;
}

TEST_F_TIMEOUT(sec, a_task_of_the_image_is_claimed_once, 120)
{
	struct claim first, second;
	struct timespec until;
	char l[64];
	pthread_t th;
	pid_t x;
	int status, done;

	ASSERT_EQ(0, prog_start(&self->p, two_threads_setup, tid_answer));
	prog_ask(&self->p, 't', l, sizeof(l));
	ASSERT_LT(0, atoi(l));
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	memset(&first, 0, sizeof(first));
	first.dev = self->dev;
	first.img = open(self->img, O_RDONLY);
	ASSERT_LE(0, first.img);
	first.task = atoi(l);
	second = first;
	second.img = open(self->img, O_RDONLY);
	ASSERT_LE(0, second.img);
	/* Another process, through the same open /dev/ckpt, claims the thread and
	 * waits for its leader (which never comes). */
	x = fork();
	ASSERT_LE(0, x);
	if (x == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, claim_task, &first))
			_exit(1);
		pthread_join(t, NULL);
		_exit(2);
	}
	sleep_ms(500);
	/* A second claim of the same task is refused at once, not left to time out. */
	ASSERT_EQ(0, pthread_create(&th, NULL, claim_task, &second));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	done = !pthread_timedjoin_np(th, NULL, &until);
	kill(x, SIGKILL);
	waitpid(x, &status, 0);
	if (!done)
		pthread_join(th, NULL);
	EXPECT_TRUE(done) TH_LOG("the second claim waited for the first");
	EXPECT_EQ(-1, second.ret);
	EXPECT_EQ(EBUSY, second.err);
	EXPECT_NE(NULL, strstr(second.reason, "already being restored")) TH_LOG("reason: %s", second.reason);
	close(first.img);
	close(second.img);
}

/* ---- fault injection: a failure at any step leaves nothing half-done ---- */

/* Steps counted since the knob was armed, or -1. */
static int fault_steps(const char *knob)
{
	char path[128], v[64];
	int fd, n, nth, count;

	snprintf(path, sizeof(path), CKPT_KNOBS "%s", knob);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, v, sizeof(v) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	v[n] = 0;
	return sscanf(v, "%d %d", &nth, &count) == 2 ? count : -1;
}

/* Whether the kernel log from fd (/dev/kmsg, non-blocking) on has a line with s. */
static int kmsg_has(int fd, const char *s)
{
	char rec[1024];
	ssize_t n;
	int found = 0;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		if (strstr(rec, s))
			found = 1;
	}
	return found;
}

static char *fault_heap;

/* Some state of every kind a restart rebuilds: heap pages, a file, a memfd
 * mapping, a signal handler, a blocked signal. */
static void fault_setup(void)
{
	int fd = open("/tmp/ckpt-fault-data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int mfd = memfd_create("fault", 0);
	sigset_t s;
	char *m;

	fault_heap = malloc(1 << 20);
	if (fd < 0 || mfd < 0 || !fault_heap || write(fd, "file", 4) != 4 || ftruncate(mfd, 8192))
		_exit(20);
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED)
		_exit(21);
	strcpy(m, "memfd");
	for (int i = 0; i < 1 << 20; i++)
		fault_heap[i] = i * 7;
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void fault_answer(char cmd, char *out, size_t len)
{
	unsigned sum = 0;
	char f[8] = "";

	(void)cmd;
	for (int i = 0; i < 1 << 20; i++)
		sum = sum * 31 + (unsigned char)fault_heap[i];
	if (pread(5, f, 4, 0) != 4)
		strcpy(f, "?");
	snprintf(out, len, "sum %08x file %.4s", sum, f);
}

TEST_F_TIMEOUT(sec, restart_failing_at_any_step_leaves_nothing, 600)
{
	char want[128], l[128], line[64];
	int n, st, steps, failed = 0, restored = 0, kmsg;
	pid_t pid;

	if (arm_fault("restart_fail_nth", 0))
		SKIP(return, "no " CKPT_KNOBS "restart_fail_nth");
	ASSERT_EQ(0, prog_start(&self->p, fault_setup, fault_answer));
	prog_ask(&self->p, 's', want, sizeof(want));
	ASSERT_EQ(0, strncmp(want, "sum ", 4)) TH_LOG("%s", want);
	ASSERT_EQ(0, prog_checkpoint(self->dev, &self->p, self->img));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kmsg);
	for (n = 1; n < 400 && !restored; n++) {
		lseek(kmsg, 0, SEEK_END);
		ASSERT_EQ(0, arm_fault("restart_fail_nth", n));
		ASSERT_EQ(0, prog_restart(&self->p, self->img));
		pid = self->p.pid;
		st = prog_ended(&self->p, 10000);
		steps = fault_steps("restart_fail_nth");
		if (!st) {
			/* Every step passed: the program is back, as it was. */
			EXPECT_LT(steps, n) TH_LOG("step %d was reached but did not fail", n);
			EXPECT_STREQ(want, prog_ask(&self->p, 's', l, sizeof(l)));
			restored = 1;
			break;
		}
		failed++;
		/* The caller is told: refused with ENOMEM before the point of no
		 * return, killed after it; the log says which step. */
		EXPECT_TRUE((WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOMEM) ||
			    (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			TH_LOG("step %d: status %#x", n, st);
		EXPECT_GE(steps, n);
		snprintf(line, sizeof(line), "fault injected at restart step %d ", n);
		EXPECT_TRUE(kmsg_has(kmsg, line)) TH_LOG("no log line for step %d", n);
		/* Nothing of the image is left. */
		EXPECT_EQ(-1, kill(pid, 0));
		EXPECT_EQ(ESRCH, errno);
	}
	arm_fault("restart_fail_nth", 0);
	close(kmsg);
	unlink("/tmp/ckpt-fault-data");
	TH_LOG("%d restart steps failed one by one, then the restart succeeded", failed);
	EXPECT_TRUE(restored);
	EXPECT_LE(15, failed);
}

TEST_F_TIMEOUT(sec, checkpoint_failing_at_any_step_leaves_the_target, 600)
{
	char want[128], l[128];
	int n, ret, failed = 0, done = 0, fd, status;

	if (arm_fault("checkpoint_fail_nth", 0))
		SKIP(return, "no " CKPT_KNOBS "checkpoint_fail_nth");
	ASSERT_EQ(0, prog_start(&self->p, fault_setup, fault_answer));
	prog_ask(&self->p, 's', want, sizeof(want));
	for (n = 1; n < 400 && !done; n++) {
		ASSERT_EQ(0, arm_fault("checkpoint_fail_nth", n));
		fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ASSERT_LE(0, fd);
		ret = ckpt_checkpoint(self->dev, self->p.pid, fd, CKPT_CHECKPOINT_KILL, NULL);
		close(fd);
		if (!ret) {
			EXPECT_LT(fault_steps("checkpoint_fail_nth"), n);
			waitpid(self->p.pid, &status, 0);
			self->p.pid = 0;
			prog_close(&self->p);
			done = 1;
			break;
		}
		failed++;
		EXPECT_EQ(-ENOMEM, ret) TH_LOG("step %d", n);
		/* Neither killed nor left stopped: it answers as before. */
		EXPECT_STREQ(want, prog_ask(&self->p, 's', l, sizeof(l))) TH_LOG("step %d", n);
	}
	arm_fault("checkpoint_fail_nth", 0);
	TH_LOG("%d checkpoint steps failed one by one, then the checkpoint succeeded", failed);
	ASSERT_TRUE(done);
	EXPECT_LE(10, failed);
	/* And the image of the last try is whole. */
	ASSERT_EQ(0, prog_restart(&self->p, self->img));
	EXPECT_STREQ(want, prog_ask(&self->p, 's', l, sizeof(l)));
	unlink("/tmp/ckpt-fault-data");
}

/* ---- A27: a process in another mount namespace -------------------------- */

static void other_mntns_child(int ready, void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

TEST_F(sec, process_in_another_mount_namespace_is_refused)
{
	char reason[256];
	pid_t t = spawn_ready(other_mntns_child, NULL);
	int fd, ret;

	ASSERT_LT(0, t);
	/* Its paths name files of its own mount table, which the restart
	 * would look up in another one. */
	EXPECT_EQ(EINVAL, ckpt_check(self->dev, t, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "mount namespace")) TH_LOG("reason: %s", reason);
	fd = open(self->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ret = ckpt_checkpoint(self->dev, t, fd, CKPT_CHECKPOINT_RESUME, NULL);
	close(fd);
	EXPECT_EQ(-EINVAL, ret);
	kill_reap(t);
}

TEST_HARNESS_MAIN
