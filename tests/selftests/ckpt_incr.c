// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_incr: incremental checkpoints (`ckpt checkpoint --track`, then
 * `--parent IMAGE`) and the chains of images `ckpt restart` resolves.
 *
 * A child fills 64 MiB and a few small mappings, the test takes a tracking
 * checkpoint while it runs on, the child then writes 1% of its pages and
 * goes through the traps of dirty tracking (MADV_DONTNEED, munmap + mmap at
 * the same address, mremap, a mapping shrunk and grown again in place, 2 MiB
 * moved by mremap onto another 2 MiB (a whole page table moved, soft-dirty
 * bits clear), a private file mapping replaced by one of another file, fork
 * and copy-on-write, THP collapse and split, KSM), the test takes an
 * incremental checkpoint (and, in the chain test, a second round), kills it,
 * restarts the last image with the tool, and the restored child checks every
 * page of every mapping and exits 0, or with the number of the first failed
 * check (its log says what it saw).  Other tests:
 * a parent that is not the last tracking checkpoint, or was not taken with
 * tracking, is refused at checkpoint time; a replaced or missing parent file
 * is refused at restart.  Needs CONFIG_MEM_SOFT_DIRTY (skipped without).
 * Without madvise() (CONFIG_ADVISE_SYSCALLS, off in the project's guest kernel)
 * the MADV_* steps are no-ops and the child expects what that leaves; pages
 * that were in the parent and are gone are then tested by the shrunk mapping.
 * Each mapping lies between PROT_NONE guards: a new mapping the kernel merges
 * into a neighbour makes the merged one soft-dirty as a whole, which would
 * make the increment as large as the full image.
 */
#include "ckpt_util.h"
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"
#define PAGE 4096UL
#define MAIN_PAGES ((64UL << 20) / PAGE)
#define SMALL 16
/* One page table's worth: mremap() moves it as a whole. */
#define BIG (2UL << 20)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

/* What the child has; in its own memory (restored with it). */
/* Pages of the main mapping (64 MiB; less where only refusals are tested). */
static size_t main_pages = MAIN_PAGES;
static unsigned char *mainr, *dn, *remapr, *moved, *moved_from, *forkr, *thp, *ksm, *shr;
/* Two 2 MiB-aligned 2 MiB regions: the first is moved onto the second whole. */
static unsigned char *big, *bigdst;
/* A private mapping of file A, replaced in place by one of file B. */
static unsigned char *filer;
/* Whether madvise() works (kernels without CONFIG_ADVISE_SYSCALLS lack it). */
static int have_madvise;
static volatile sig_atomic_t go;
static int phase;
static char logpath[96];
static FILE *logf_;

static void fill(unsigned char *p, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = (seed * 0x9E3779B97F4A7C15ULL) ^ (i * 0xD6E8FEB86659FD93ULL);
}

static int same(const unsigned char *p, uint64_t seed)
{
	unsigned char want[PAGE];

	fill(want, seed);
	return !memcmp(p, want, PAGE);
}

static int zero(const unsigned char *p)
{
	size_t i;

	for (i = 0; i < PAGE; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint64_t seed(int tag, size_t page, int gen)
{
	return ((uint64_t)tag << 48) ^ ((uint64_t)page << 8) ^ (uint64_t)gen;
}

/* The generation page i of the main mapping has after the given phase. */
static int main_gen(size_t i, int ph)
{
	if (ph >= 2 && i % 100 == 37)
		return 2;
	if (ph >= 1 && i % 100 == 0)
		return 1;
	return 0;
}

/*
 * A private anonymous mapping of len bytes aligned to align, between
 * PROT_NONE guards: the kernel does not merge it with its neighbours, whose
 * changes would otherwise make the merged mapping soft-dirty as a whole (a new
 * mapping, or one grown, is VM_SOFTDIRTY) and the increment as large as it.
 */
static void *map_aligned(size_t len, size_t align)
{
	size_t room = len + align + 2 * PAGE;
	unsigned char *r = mmap(NULL, room, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t p;

	if (r == MAP_FAILED)
		_exit(90);
	p = ((uintptr_t)r + PAGE + align - 1) & ~(uintptr_t)(align - 1);
	if (mprotect((void *)p, len, PROT_READ | PROT_WRITE))
		_exit(90);
	return (void *)p;
}

static void *map(size_t len)
{
	return map_aligned(len, PAGE);
}

/* Drops pages as MADV_DONTNEED does, where the kernel has madvise(). */
static void zap(unsigned char *p, size_t len)
{
	if (have_madvise && madvise(p, len, MADV_DONTNEED))
		_exit(96);
}

/* The path of the child's file A or B. */
static void file_path(char *path, size_t len, pid_t pid, char which)
{
	snprintf(path, len, "/tmp/incr-%d-file%c", pid, which);
}

/* A file of SMALL pages of tag's seeds, mapped privately at @at (or anywhere). */
static unsigned char *map_file(char which, int tag, unsigned char *at)
{
	char path[96];
	unsigned char page[PAGE];
	size_t i;
	void *p;
	int fd;

	file_path(path, sizeof(path), getpid(), which);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(99);
	for (i = 0; i < SMALL; i++) {
		fill(page, seed(tag, i, 0));
		if (write(fd, page, PAGE) != PAGE)
			_exit(99);
	}
	p = mmap(at, SMALL * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | (at ? MAP_FIXED : 0), fd,
		 0);
	close(fd);
	if (p == MAP_FAILED || (at && p != at))
		_exit(99);
	return p;
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void setup(void)
{
	size_t i;
	unsigned char *t;

	have_madvise = !madvise(NULL, 0, MADV_NORMAL) || errno != ENOSYS;
	if (!have_madvise)
		fprintf(logf_, "no madvise() in this kernel: MADV_DONTNEED, THP and KSM steps are no-ops\n");
	mainr = map(main_pages * PAGE);
	/*
	 * Soft-dirty bits are per huge page: one write dirties 2 MiB.  The main
	 * mapping is tracked page by page; the THP mapping below is the trap.
	 */
	madvise(mainr, main_pages * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < main_pages; i++)
		fill(mainr + i * PAGE, seed(1, i, 0));
	dn = map(SMALL * PAGE);
	remapr = map(SMALL * PAGE);
	moved_from = map(SMALL * PAGE);
	moved = map(SMALL * PAGE);	/* a place to mremap() onto */
	forkr = map(SMALL * PAGE);
	ksm = map(SMALL * PAGE);
	shr = map(SMALL * PAGE);
	big = map_aligned(BIG, 2UL << 20);
	bigdst = map_aligned(BIG, 2UL << 20);
	filer = map_file('a', 11, map(SMALL * PAGE));
	/* Copies of file A's pages 0-3 (anonymous pages in the parent). */
	for (i = 0; i < 4; i++)
		fill(filer + i * PAGE, seed(11, i, 1));
	for (i = 0; i < BIG / PAGE; i++) {
		fill(big + i * PAGE, seed(8, i, 0));
		fill(bigdst + i * PAGE, seed(9, i, 0));
	}
	for (i = 0; i < SMALL; i++) {
		fill(dn + i * PAGE, seed(2, i, 0));
		fill(remapr + i * PAGE, seed(3, i, 0));
		fill(moved_from + i * PAGE, seed(4, i, 0));
		fill(moved + i * PAGE, seed(5, i, 0));
		fill(forkr + i * PAGE, seed(6, i, 0));
		memset(ksm + i * PAGE, 0x5a, PAGE);
		fill(shr + i * PAGE, seed(10, i, 0));
	}
	madvise(ksm, SMALL * PAGE, MADV_MERGEABLE);
	/* 4 MiB, of which the 2 MiB-aligned middle can be a huge page. */
	t = map(6UL << 20);
	thp = (unsigned char *)(((uintptr_t)t + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	madvise(thp, 2UL << 20, MADV_HUGEPAGE);
	for (i = 0; i < (2UL << 20) / PAGE; i++)
		fill(thp + i * PAGE, seed(7, i, 0));
}

/* One round of changes after a tracking checkpoint. */
static void mutate(int ph)
{
	size_t i;
	pid_t pid;

	for (i = 0; i < main_pages; i++)
		if (main_gen(i, ph) == ph)
			fill(mainr + i * PAGE, seed(1, i, ph));
	if (ph == 1) {
		volatile unsigned char sink = 0;

		/* Zapped: 0-7; then 0-3 read (the zero page), 4-7 left absent. */
		zap(dn, 8 * PAGE);
		for (i = 0; i < 4; i++)
			sink += dn[i * PAGE];
		(void)sink;
		/* A new mapping in the same place: 0-3 written, the rest zeros. */
		munmap(remapr, SMALL * PAGE);
		if (mmap(remapr, SMALL * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != remapr)
			_exit(91);
		for (i = 0; i < 4; i++)
			fill(remapr + i * PAGE, seed(3, i, 1));
		/* Moved onto another mapping; the old place gets a fresh empty one. */
		if (mremap(moved_from, SMALL * PAGE, SMALL * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   moved) != moved)
			_exit(92);
		if (mmap(moved_from, SMALL * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != moved_from)
			_exit(93);
		/* fork: the child writes its copy and exits; ours is written after. */
		pid = fork();
		if (pid == 0) {
			for (i = 0; i < SMALL; i++)
				fill(forkr + i * PAGE, seed(6, i, 99));
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		for (i = 0; i < 4; i++)
			fill(forkr + i * PAGE, seed(6, i, 1));
		/*
		 * Shrunk and grown again in place (mremap): pages 8-15 were in
		 * the parent and are gone, in a mapping that is not new; 8-9
		 * then read (the zero page), 10-15 left absent.
		 */
		if (mremap(shr, SMALL * PAGE, 8 * PAGE, 0) != shr ||
		    mremap(shr, 8 * PAGE, SMALL * PAGE, 0) != shr)
			_exit(97);
		sink += shr[8 * PAGE] + shr[9 * PAGE];
		/*
		 * 2 MiB moved onto another 2 MiB, both aligned: the kernel
		 * moves the whole page table, leaving the pages' soft-dirty bits as
		 * they were (clean), at addresses where the parent had others.
		 */
		if (mremap(big, BIG, BIG, MREMAP_MAYMOVE | MREMAP_FIXED, bigdst) != bigdst)
			_exit(98);
		/* Another file in the same place; its page 0 written. */
		map_file('b', 12, filer);
		fill(filer, seed(12, 0, 1));
		/* THP: one 4 KiB page written, then collapsed, then split. */
		fill(thp + 5 * PAGE, seed(7, 5, 1));
		madvise(thp, 2UL << 20, MADV_COLLAPSE);
		fill(thp + 300 * PAGE, seed(7, 300, 1));
		mprotect(thp + 100 * PAGE, PAGE, PROT_READ);
		mprotect(thp + 100 * PAGE, PAGE, PROT_READ | PROT_WRITE);
		/* KSM: one page of the (maybe merged) identical ones written. */
		memset(ksm, 0xa5, PAGE);
	} else {
		/* Round 2: the moved pages and the fresh mapping written. */
		fill(moved + 2 * PAGE, seed(4, 2, 2));
		fill(moved_from + PAGE, seed(4, 1, 22));
		zap(forkr + 8 * PAGE, PAGE);
	}
}

#define CHECK(n, cond, ...)                                  \
	do {                                                 \
		if (!(cond)) {                               \
			fprintf(logf_, __VA_ARGS__);          \
			fprintf(logf_, "\n");                 \
			fflush(logf_);                        \
			return n;                            \
		}                                            \
	} while (0)

static int verify(int ph)
{
	size_t i;

	for (i = 0; i < main_pages; i++)
		CHECK(1, same(mainr + i * PAGE, seed(1, i, main_gen(i, ph))),
		      "main page %zu wrong (want generation %d)", i, main_gen(i, ph));
	for (i = 0; i < SMALL; i++) {
		if (i < 8 && have_madvise)
			CHECK(2, zero(dn + i * PAGE), "zapped page %zu not zero", i);
		else
			CHECK(3, same(dn + i * PAGE, seed(2, i, 0)), "kept page %zu wrong", i);
		if (i < 4)
			CHECK(4, same(remapr + i * PAGE, seed(3, i, 1)), "remapped page %zu", i);
		else
			CHECK(5, zero(remapr + i * PAGE), "remapped page %zu not zero", i);
		if (ph >= 2 && i == 2)
			CHECK(6, same(moved + i * PAGE, seed(4, i, 2)), "moved page %zu", i);
		else
			CHECK(7, same(moved + i * PAGE, seed(4, i, 0)), "moved page %zu", i);
		if (ph >= 2 && i == 1)
			CHECK(8, same(moved_from + i * PAGE, seed(4, 1, 22)), "fresh page %zu", i);
		else
			CHECK(9, zero(moved_from + i * PAGE), "fresh page %zu not zero", i);
		if (ph >= 2 && i == 8 && have_madvise)
			CHECK(10, zero(forkr + i * PAGE), "fork page %zu not zero", i);
		else
			CHECK(11, same(forkr + i * PAGE, seed(6, i, i < 4 ? 1 : 0)),
			      "fork page %zu wrong", i);
		if (i == 0)
			CHECK(12, ksm[0] == 0xa5 && ksm[PAGE - 1] == 0xa5, "ksm page 0 wrong");
		else
			CHECK(13, ksm[i * PAGE] == 0x5a && ksm[i * PAGE + PAGE - 1] == 0x5a,
			      "ksm page %zu wrong", i);
	}
	for (i = 0; i < SMALL; i++) {
		if (i < 8)
			CHECK(15, same(shr + i * PAGE, seed(10, i, 0)), "shrunk page %zu wrong", i);
		else
			CHECK(16, zero(shr + i * PAGE), "regrown page %zu not zero", i);
	}
	for (i = 0; i < SMALL; i++)
		CHECK(18, same(filer + i * PAGE, seed(12, i, i == 0)), "file page %zu wrong", i);
	for (i = 0; i < BIG / PAGE; i++)
		CHECK(17, same(bigdst + i * PAGE, seed(8, i, 0)), "moved 2 MiB page %zu wrong", i);
	for (i = 0; i < (2UL << 20) / PAGE; i++)
		CHECK(14, same(thp + i * PAGE, seed(7, i, i == 5 || i == 300)), "thp page %zu", i);
	return 0;
}

static void write_phase(int ph)
{
	char path[96], c = '0' + ph;
	int fd;

	snprintf(path, sizeof(path), "/tmp/incr-%d.phase", getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, &c, 1) != 1)
		_exit(94);
	close(fd);
}

static void child(int ready, void *arg)
{
	int rounds = *(int *)arg, null = open("/dev/null", O_RDWR);
	pid_t parent = getppid();
	int fd;

	logf_ = fopen(logpath, "w");
	if (!logf_ || null < 0)
		_exit(95);
	dup2(null, 0);
	for (fd = 3; fd < 1024; fd++)
		if (fd != ready && fd != fileno(logf_))
			close(fd);
	signal(SIGUSR1, on_usr1);
	setup();
	say_ready(ready);
	for (phase = 1; phase <= rounds; phase++) {
		while (!go)
			sleep_ms(5);
		go = 0;
		mutate(phase);
		write_phase(phase);
	}
	phase = rounds;
	/* Restored: the parent is `ckpt restart` now. */
	while (getppid() == parent)
		sleep_ms(5);
	_exit(verify(phase));
}

static void unlink_files(pid_t pid)
{
	char path[96];

	file_path(path, sizeof(path), pid, 'a');
	unlink(path);
	file_path(path, sizeof(path), pid, 'b');
	unlink(path);
}

static int wait_phase(pid_t pid, int ph)
{
	char path[96], c = 0;
	int i, fd;

	snprintf(path, sizeof(path), "/tmp/incr-%d.phase", pid);
	for (i = 0; i < 3000; i++) {
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, &c, 1) != 1)
				c = 0;
			close(fd);
			if (c == '0' + ph)
				return 0;
		}
		sleep_ms(10);
	}
	return -1;
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static void show_log(struct __test_metadata *_metadata)
{
	SHOW_FILE(logpath, "child");
}

static pid_t start(struct __test_metadata *_metadata, int *rounds)
{
	pid_t pid;

	snprintf(logpath, sizeof(logpath), "/tmp/incr-%d.log", getpid());
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid = spawn_ready(child, rounds);
	if (pid < 0)
		TH_LOG("cannot start the child");
	return pid;
}

/* Rounds of changes, an incremental image after each; restarts the last. */
static void rounds_test(struct __test_metadata *_metadata, int rounds)
{
	char img[4][64];
	pid_t pid;
	int r, st;

	if (!soft_dirty())
		SKIP(return, "no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY) in this kernel");
	/* KSM merges the identical pages while the child waits (if it can). */
	sh("echo 1 > /sys/kernel/mm/ksm/run 2>/dev/null");
	pid = start(_metadata, &rounds);
	ASSERT_GT(pid, 0);
	sleep_ms(500);
	for (r = 0; r <= rounds; r++)
		snprintf(img[r], sizeof(img[r]), "/tmp/incr-%d-%d.img", getpid(), r);
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --track --leave-running --quiet", pid,
			 img[0]));
	for (r = 1; r <= rounds; r++) {
		kill(pid, SIGUSR1);
		/* It runs on after the checkpoint: it makes the changes. */
		ASSERT_EQ(0, wait_phase(pid, r)) {
			show_log(_metadata);
			kill_reap(pid);
		}
		ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --parent %s %s --quiet", pid, img[r],
				 img[r - 1], r == rounds ? "--kill" : "--leave-running"));
		TH_LOG("image %d: %lld bytes, the full one %lld", r, (long long)size_of(img[r]),
		       (long long)size_of(img[0]));
		/* Only what changed: about 1% of 64 MiB, 2 MiB moved, the small mappings. */
		EXPECT_LT(size_of(img[r]) * 10, size_of(img[0]))
			TH_LOG("image %d: %lld bytes, the full one %lld", r,
			       (long long)size_of(img[r]), (long long)size_of(img[0]));
	}
	while (waitpid(-1, &st, 0) > 0)
		;
	EXPECT_EQ(0, sh(CKPT " show %s >/dev/null", img[rounds]));
	st = sh(CKPT " restart %s --quiet", img[rounds]);
	show_log(_metadata);
	EXPECT_EQ(0, st);
	sh("echo 0 > /sys/kernel/mm/ksm/run 2>/dev/null");
	for (r = 0; r <= rounds; r++)
		unlink(img[r]);
	unlink_files(pid);
	unlink(logpath);
}

FIXTURE(incr) {
	int unused;
};

FIXTURE_SETUP(incr)
{
	(void)self;
}

FIXTURE_TEARDOWN(incr)
{
	(void)self;
}

TEST_F_TIMEOUT(incr, dirty_one_percent, 300)
{
	rounds_test(_metadata, 1);
}

TEST_F_TIMEOUT(incr, chain_of_three, 300)
{
	rounds_test(_metadata, 2);
}

TEST_F_TIMEOUT(incr, wrong_parent_refused, 300)
{
	char a[64], b[64], plain[64], c[64], err[64], cmd[512];
	int rounds = 1, st;
	pid_t pid;

	if (!soft_dirty())
		SKIP(return, "no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY) in this kernel");
	main_pages = 1024;
	pid = start(_metadata, &rounds);
	ASSERT_GT(pid, 0);
	snprintf(a, sizeof(a), "/tmp/incr-a-%d.img", getpid());
	snprintf(b, sizeof(b), "/tmp/incr-b-%d.img", getpid());
	snprintf(plain, sizeof(plain), "/tmp/incr-p-%d.img", getpid());
	snprintf(c, sizeof(c), "/tmp/incr-c-%d.img", getpid());
	snprintf(err, sizeof(err), "/tmp/incr-err-%d.txt", getpid());
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --track --leave-running --quiet", pid, a));
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --track --leave-running --quiet", pid, b));
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --leave-running --quiet", pid, plain));
	/* Not the last tracking checkpoint: pages written in between would be lost. */
	EXPECT_NE(0, sh(CKPT " checkpoint %d -o %s --parent %s --leave-running --quiet 2>%s",
			 pid, c, a, err));
	EXPECT_EQ(0, sh("grep -q 'refused' %s", err));
	/* Not taken with tracking. */
	EXPECT_NE(0, sh(CKPT " checkpoint %d -o %s --parent %s --leave-running --quiet 2>%s",
			 pid, c, plain, err));
	EXPECT_EQ(0, sh("grep -q 'dirty tracking' %s", err));
	kill(pid, SIGUSR1);
	ASSERT_EQ(0, wait_phase(pid, 1));
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --parent %s --kill --quiet", pid, c, b));
	while (waitpid(-1, &st, 0) > 0)
		;
	/* A parent replaced by another image of the same process. */
	snprintf(cmd, sizeof(cmd), "cp %s %s.keep && cp %s %s", b, b, a, b);
	ASSERT_EQ(0, sh("%s", cmd));
	EXPECT_NE(0, sh(CKPT " restart %s --quiet 2>%s", c, err));
	EXPECT_EQ(0, sh("grep -q 'not the parent image' %s", err)) {
		sh("cat %s >&2", err);
	}
	/* A missing parent. */
	unlink(b);
	EXPECT_NE(0, sh(CKPT " restart %s --quiet 2>%s", c, err));
	EXPECT_EQ(0, sh("grep -q 'needs its parent image' %s", err)) {
		sh("cat %s >&2", err);
	}
	/* The right one: restored and verified. */
	ASSERT_EQ(0, sh("mv %s.keep %s", b, b));
	st = sh(CKPT " restart %s --quiet", c);
	show_log(_metadata);
	EXPECT_EQ(0, st);
	unlink(a);
	unlink(b);
	unlink(plain);
	unlink(c);
	unlink(err);
	unlink_files(pid);
	unlink(logpath);
}

TEST_HARNESS_MAIN
