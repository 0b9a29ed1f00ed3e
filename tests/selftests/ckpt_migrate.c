// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_migrate: live migration (`ckpt migrate PID --to HOST:PORT` and
 * `ckpt receive --listen PORT`), within one machine over the loopback
 * interface: a worker fills its memory and keeps writing 1% of its pages;
 * it is migrated to a receiver started by the test, which restores it as
 * its child (under another pid: the original still exists, stopped, until
 * the receiver confirms); the restored worker sees that its parent changed,
 * checks every page and exits 0, and the receiver exits with its status.
 * Also: a receiver that fails (CKPT_TEST_RECEIVE_FAIL) leaves the original
 * running, and no receiver at all leaves it untouched.
 *
 * `ckpt_migrate --worker MIB PCT READYFILE [avx]` is the worker alone, for the
 * two-VM lane (tests/migrate.sh): it writes its pid into READYFILE once its
 * memory is filled, and after a migration to another machine (another
 * boot_id) checks itself and exits 0 (or the number of the failed check).
 * Needs CONFIG_MEM_SOFT_DIRTY (the tests are skipped without).
 */
#include "ckpt_util.h"
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"
#define PAGE 4096UL

/* The worker's state: in its own memory, migrated with it. */
static unsigned char *mem;
static uint32_t *gens;
static size_t npages;
static int pct;
static char boot_id[64];
static pid_t first_ppid;
static volatile sig_atomic_t check_now;

static void fill(unsigned char *p, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = (seed * 0x9E3779B97F4A7C15ULL) ^ (i * 0xD6E8FEB86659FD93ULL);
}

static uint64_t seed(size_t page, uint32_t gen)
{
	return ((uint64_t)page << 20) ^ gen ^ 0x4d494752ULL;
}

static void read_boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
	size_t i;

	for (i = n > 0 ? n : 0; i < len; i++)
		buf[i] = 0;
	if (fd >= 0)
		close(fd);
}

/*
 * No string functions of the C library in the worker's loop and checks: they
 * were chosen for the CPU it started on (AVX2 versions under -cpu max), and
 * it may go on on a CPU without AVX (tests/migrate.sh --xsave).
 */
static int differ(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 1;
	return 0;
}

/* Moved: another machine (boot), or another parent (restored by a receiver). */
static int migrated(void)
{
	char now[64];

	if (getppid() != first_ppid)
		return 1;
	read_boot_id(now, sizeof(now));
	return differ((unsigned char *)now, (unsigned char *)boot_id, sizeof(now));
}

static void log_failure(const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen("/tmp/ckpt-migrate-worker.log", "a");

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* Every page holds what its generation says. */
static int verify(void)
{
	unsigned char want[PAGE];
	size_t i;

	for (i = 0; i < npages; i++) {
		fill(want, seed(i, gens[i]));
		if (differ(mem + i * PAGE, want, PAGE)) {
			log_failure("page %zu of %zu wrong (generation %u)", i, npages, gens[i]);
			return 10;
		}
	}
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	check_now = 1;
}

/*
 * Fills mib MiB, says ready (a byte on ready_fd, or its pid in ready_file),
 * then writes pct% of its pages over and over; exits with verify()'s result
 * once migrated, or on SIGUSR1.  avx: keeps a value in the upper half of
 * YMM15 (AVX register state, which a CPU without AVX cannot take).
 */
static int work(size_t mib, int percent, int ready_fd, const char *ready_file, int avx)
{
	static const float one = 1.0f;
	size_t i;

	npages = mib * (1 << 20) / PAGE;
	pct = percent;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	gens = calloc(npages, sizeof(*gens));
	if (mem == MAP_FAILED || !gens)
		return 90;
	/* Soft-dirty bits are per huge page: track 4 KiB pages. */
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < npages; i++)
		fill(mem + i * PAGE, seed(i, 0));
	signal(SIGUSR1, on_usr1);
	read_boot_id(boot_id, sizeof(boot_id));
	first_ppid = getppid();
	if (ready_file) {
		char tmp[256], buf[32];
		int fd, n;

		snprintf(tmp, sizeof(tmp), "%s.tmp", ready_file);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		n = snprintf(buf, sizeof(buf), "%d\n", getpid());
		if (fd < 0 || write(fd, buf, n) != n || close(fd) || rename(tmp, ready_file))
			return 91;
	} else {
		say_ready(ready_fd);
	}
	for (;;) {
		for (i = 0; i < npages; i++) {
			if ((int)(i % 100) >= pct)
				continue;
			fill(mem + i * PAGE, seed(i, gens[i] + 1));
			gens[i]++;
		}
		if (check_now || migrated())
			return verify();
		if (avx)
			asm volatile("vbroadcastss %0, %%ymm15" : : "m"(one) : "xmm15");
		usleep(2000);
	}
}

static void worker_child(int ready, void *arg)
{
	int fd = open("/dev/null", O_RDWR);

	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	_exit(work(*(size_t *)arg, 1, ready, NULL, 0));
}

/* The shared secret of both sides (`--key`), and one the receiver lacks. */
#define KEY "/tmp/ckpt-migrate.key"
#define BADKEY "/tmp/ckpt-migrate.badkey"

static int write_key(const char *path, const char *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, key, strlen(key)) == (ssize_t)strlen(key);

	if (fd >= 0)
		close(fd);
	return ok && chmod(path, 0600) == 0;
}

/* Starts `ckpt receive` on 127.0.0.1:port, output in log; fail: the test hook. */
static pid_t receiver(int port, const char *log, const char *fail)
{
	char addr[32];
	pid_t pid = fork();

	if (pid)
		return pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	dup2(fd, 0);
	close(fd);
	if (fail)
		setenv("CKPT_TEST_RECEIVE_FAIL", fail, 1);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	execl(CKPT, CKPT, "receive", "--listen", addr, "--key", KEY, "--timeout", "120",
	      (char *)NULL);
	_exit(127);
}

static void show(struct __test_metadata *_metadata, const char *path)
{
	SHOW_FILE(path, path);
}

static int contains(const char *path, const char *what)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, what) != NULL;
}

FIXTURE(mig) {
	pid_t worker;
	int port;
	char out[64], rlog[64];
};

FIXTURE_SETUP(mig)
{
	static size_t mib = 16;

	if (!soft_dirty())
		SKIP(return, "no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY) in this kernel");
	sh("ip link set lo up 2>/dev/null");
	self->port = 20000 + getpid() % 10000;
	snprintf(self->out, sizeof(self->out), "/tmp/migrate-%d.out", getpid());
	snprintf(self->rlog, sizeof(self->rlog), "/tmp/migrate-%d.recv", getpid());
	ASSERT_TRUE(write_key(KEY, "ckpt_migrate selftest key 0123456789"));
	ASSERT_TRUE(write_key(BADKEY, "not the receiver's key 0123456789"));
	self->worker = spawn_ready(worker_child, &mib);
	ASSERT_GT(self->worker, 0);
}

FIXTURE_TEARDOWN(mig)
{
	if (self->worker > 0)
		kill_reap(self->worker);
	unlink(self->out);
	unlink(self->rlog);
}

/* Migrated over loopback: the original is killed, the copy checks itself. */
TEST_F_TIMEOUT(mig, loopback, 300)
{
	pid_t r = receiver(self->port, self->rlog, NULL);
	int st;

	ASSERT_GT(r, 0);
	st = sh(CKPT " migrate %d --to 127.0.0.1:%d --connect-timeout 30 --key " KEY " > %s 2>&1",
		 self->worker, self->port, self->out);
	show(_metadata, self->out);
	EXPECT_EQ(0, st);
	EXPECT_TRUE(contains(self->out, "downtime"));
	/* The original was killed once the receiver had restored it. */
	ASSERT_EQ(self->worker, waitpid(self->worker, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) TH_LOG("status %#x", st);
	self->worker = -1;
	/* The receiver waits for the copy, which checks every page. */
	ASSERT_EQ(r, waitpid(r, &st, 0));
	show(_metadata, self->rlog);
	show(_metadata, "/tmp/ckpt-migrate-worker.log");
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("receiver status %#x", st);
}

/* The receiver fails after the last round: the original runs on, intact. */
TEST_F_TIMEOUT(mig, receiver_fails, 300)
{
	pid_t r = receiver(self->port, self->rlog, "refused for the test");
	int st;

	ASSERT_GT(r, 0);
	st = sh(CKPT " migrate %d --to 127.0.0.1:%d --connect-timeout 30 --key " KEY " > %s 2>&1",
		 self->worker, self->port, self->out);
	show(_metadata, self->out);
	EXPECT_EQ(1, st);
	EXPECT_TRUE(contains(self->out, "refused for the test"));
	EXPECT_TRUE(contains(self->out, "resumed"));
	ASSERT_EQ(r, waitpid(r, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) TH_LOG("receiver status %#x", st);
	/* Running again (not stopped), and its memory is intact. */
	sleep_ms(200);
	EXPECT_NE('T', proc_state(self->worker));
	kill(self->worker, SIGUSR1);
	ASSERT_EQ(self->worker, waitpid(self->worker, &st, 0));
	self->worker = -1;
	show(_metadata, "/tmp/ckpt-migrate-worker.log");
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("worker status %#x", st);
}

/* Nobody listens: refused before any checkpoint, the process untouched. */
TEST_F_TIMEOUT(mig, no_receiver, 120)
{
	int st;

	st = sh(CKPT " migrate %d --to 127.0.0.1:%d --connect-timeout 1 --key " KEY " > %s 2>&1",
		 self->worker, self->port, self->out);
	show(_metadata, self->out);
	EXPECT_EQ(1, st);
	EXPECT_TRUE(contains(self->out, "cannot connect"));
	EXPECT_NE('T', proc_state(self->worker));
	kill(self->worker, SIGUSR1);
	ASSERT_EQ(self->worker, waitpid(self->worker, &st, 0));
	self->worker = -1;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("worker status %#x", st);
}

/* The sender lacks the receiver's key: refused before any checkpoint, the
 * process untouched, and the receiver waits on for a sender with the key. */
TEST_F_TIMEOUT(mig, wrong_key, 120)
{
	pid_t r = receiver(self->port, self->rlog, NULL);
	int st;

	ASSERT_GT(r, 0);
	st = sh(CKPT " migrate %d --to 127.0.0.1:%d --connect-timeout 30 --key " BADKEY
		 " > %s 2>&1", self->worker, self->port, self->out);
	show(_metadata, self->out);
	EXPECT_EQ(1, st);
	EXPECT_TRUE(contains(self->out, "authentication failed"));
	sleep_ms(200);
	EXPECT_EQ(0, waitpid(r, &st, WNOHANG)) TH_LOG("the receiver gave up");
	kill(r, SIGKILL);
	waitpid(r, &st, 0);
	show(_metadata, self->rlog);
	EXPECT_TRUE(contains(self->rlog, "does not hold the same key"));
	EXPECT_NE('T', proc_state(self->worker));
	kill(self->worker, SIGUSR1);
	ASSERT_EQ(self->worker, waitpid(self->worker, &st, 0));
	self->worker = -1;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("worker status %#x", st);
}

int main(int argc, char **argv)
{
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "--worker"))
		_exit(work(strtoul(argv[2], NULL, 10), atoi(argv[3]), -1, argv[4],
			   argc == 6 && !strcmp(argv[5], "avx")));
	return test_harness_run(argc, argv);
}
