// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_fidelity: state that must come back exactly after a checkpoint and a
 * restart, or be refused at checkpoint time with a reason.
 *
 * Each test forks a child that sets one kind of state on itself (nice and
 * scheduling policy, oom_score_adj, the dumpable flag, THP disable, child
 * subreaper, parent-death signal, membarrier registrations, no_new_privs,
 * O_NONBLOCK and the SIGIO owner of pipe ends, /proc/self/exe, a zombie's
 * process group, a stopped process, droppable memory), remembers what it set, and waits until
 * its parent changes -- which happens only when it runs again as a restored
 * process, a child of `ckpt restart`.  The test checkpoints it (killing it),
 * restarts the image with the tool, and the restored child checks its own
 * state and exits 0, or with the number of the first check that failed after
 * printing what it saw into its log, which the test shows.
 */
#include "ckpt_util.h"
#include <dirent.h>
#include <elf.h>
#include <grp.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"

#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#define PR_GET_THP_DISABLE 42
#endif
#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#ifndef F_SETSIG
#define F_SETSIG 10
#define F_GETSIG 11
#endif
#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif

/* What a child checks after the restart; set up before the checkpoint. */
struct probe {
	const char *name;
	void (*setup)(struct probe *p);
	int (*verify)(struct probe *p);	/* 0, or the number of the failed check */
	long v[12];
	int fd[4];
	char s[256];
};

#define PROBE_TAG "fid"
#include "ckpt_probe.h"

#define ROUND_TRIP(p, tree) \
	ASSERT_EQ(0, probe_round_trip(_metadata, p, PROBE_ORPHANS | ((tree) ? PROBE_TREE : 0), 0))

/* ---- (a) task attributes -------------------------------------------------- */

struct sched_attr_ {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

static int get_attr(pid_t tid, struct sched_attr_ *a)
{
	memset(a, 0, sizeof(*a));
	return syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0);
}

static int set_attr(pid_t tid, uint32_t policy, int nice, uint32_t prio, uint64_t flags)
{
	struct sched_attr_ a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.policy = policy;
	a.nice = nice;
	a.priority = prio;
	a.flags = flags;
	return syscall(SYS_sched_setattr, tid, &a, 0);
}

static int verify_sched(struct probe *p)
{
	struct sched_attr_ a;

	CHECK(1, get_attr(0, &a) == 0, "sched_getattr: %s", strerror(errno));
	CHECK(2, a.policy == (uint32_t)p->v[0], "policy %u, want %ld", a.policy, p->v[0]);
	CHECK(3, a.nice == p->v[1], "nice %d, want %ld", a.nice, p->v[1]);
	CHECK(4, a.priority == (uint32_t)p->v[2], "priority %u, want %ld", a.priority, p->v[2]);
	CHECK(5, !!(a.flags & 1) == !!p->v[3], "flags %#llx", (unsigned long long)a.flags);
	return 0;
}

static void setup_nice(struct probe *p)
{
	p->v[0] = SCHED_OTHER;
	p->v[1] = 7;
	setpriority(PRIO_PROCESS, 0, 7);
}

TEST(nice_value)
{
	struct probe p = { "nice", setup_nice, verify_sched };

	ROUND_TRIP(&p, 0);
}

static void setup_batch(struct probe *p)
{
	p->v[0] = SCHED_BATCH;
	p->v[1] = 3;
	p->v[3] = 1;	/* SCHED_FLAG_RESET_ON_FORK */
	if (set_attr(0, SCHED_BATCH, 3, 0, 1))
		say("sched_setattr: %s\n", strerror(errno));
}

TEST(sched_batch_reset_on_fork)
{
	struct probe p = { "batch", setup_batch, verify_sched };

	ROUND_TRIP(&p, 0);
}

static void setup_idle(struct probe *p)
{
	p->v[0] = SCHED_IDLE;
	p->v[1] = 0;
	if (set_attr(0, SCHED_IDLE, 0, 0, 0))
		say("sched_setattr: %s\n", strerror(errno));
}

TEST(sched_idle)
{
	struct probe p = { "idle", setup_idle, verify_sched };

	ROUND_TRIP(&p, 0);
}

static void setup_fifo(struct probe *p)
{
	p->v[0] = SCHED_FIFO;
	p->v[2] = 7;
	if (set_attr(0, SCHED_FIFO, 0, 7, 0))
		say("sched_setattr: %s\n", strerror(errno));
}

/* Root restarts it: the restarter may give what the image had. */
TEST(sched_fifo)
{
	struct probe p = { "fifo", setup_fifo, verify_sched };

	ROUND_TRIP(&p, 0);
}

/* A thread's own nice value. */
static void *nice_thread(void *arg)
{
	struct probe *p = arg;

	p->v[5] = syscall(SYS_gettid);
	setpriority(PRIO_PROCESS, p->v[5], 11);
	for (;;)
		pause();
	return NULL;
}

static void setup_thread_nice(struct probe *p)
{
	pthread_t t;

	setpriority(PRIO_PROCESS, 0, 2);
	pthread_create(&t, NULL, nice_thread, p);
	while (!__atomic_load_n(&p->v[5], __ATOMIC_SEQ_CST))
		sleep_ms(1);
	sleep_ms(10);
}

static int verify_thread_nice(struct probe *p)
{
	errno = 0;
	CHECK(1, getpriority(PRIO_PROCESS, 0) == 2, "leader nice %d", getpriority(PRIO_PROCESS, 0));
	CHECK(2, getpriority(PRIO_PROCESS, p->v[5]) == 11, "thread nice %d",
	      getpriority(PRIO_PROCESS, p->v[5]));
	return 0;
}

TEST(thread_nice)
{
	struct probe p = { "tnice", setup_thread_nice, verify_thread_nice };

	ROUND_TRIP(&p, 0);
}

static int read_int(const char *path, long *v)
{
	char b[64] = "";
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	*v = strtol(b, NULL, 10);
	return 0;
}

static void setup_oom(struct probe *p)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);

	p->v[0] = 345;
	if (fd < 0 || write(fd, "345", 3) != 3)
		say("oom_score_adj: %s\n", strerror(errno));
	close(fd);
}

static int verify_oom(struct probe *p)
{
	long v = 0;

	CHECK(1, read_int("/proc/self/oom_score_adj", &v) == 0, "read: %s", strerror(errno));
	CHECK(2, v == p->v[0], "oom_score_adj %ld, want %ld", v, p->v[0]);
	return 0;
}

TEST(oom_score_adj)
{
	struct probe p = { "oom", setup_oom, verify_oom };

	ROUND_TRIP(&p, 0);
}

static void setup_prctl(struct probe *p)
{
	/* Not dumpable, THP off, a subreaper, a parent-death signal, no_new_privs. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		say("PR_SET_THP_DISABLE: %s\n", strerror(errno));
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static int verify_prctl(struct probe *p)
{
	int v = -1;

	(void)p;
	CHECK(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "dumpable %d",
	      prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	CHECK(2, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "thp_disable %d",
	      prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	CHECK(3, prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) == 0 && v == 1, "subreaper %d", v);
	v = -1;
	CHECK(4, prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0) == 0 && v == SIGUSR2, "pdeathsig %d", v);
	CHECK(5, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs %d",
	      prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return 0;
}

/*
 * A process of another user, restored by root: it must be counted as that
 * user's (RLIMIT_NPROC), or a later setuid(2) of its own -- which moves a task
 * to the ucounts of its uid -- makes the count underflow when it exits
 * (WARNING in dec_rlimit_ucounts, which the VM's log judge fails on).
 */
static void setup_user(struct probe *p)
{
	p->v[0] = 4321;
	/* Its log (opened by root) made its own: a restart opens the image's
	 * files with the image's credentials, never the restarter's. */
	if (fchown(1, 4321, 4321))
		say("fchown: %s\n", strerror(errno));
	if (setgroups(0, NULL) || setresgid(4321, 4321, 4321) || setresuid(4321, 4321, 4321))
		say("setresuid: %s\n", strerror(errno));
}

static int verify_user(struct probe *p)
{
	int status = -1;
	pid_t c;

	CHECK(1, getuid() == (uid_t)p->v[0] && geteuid() == (uid_t)p->v[0], "uid %d euid %d",
	      (int)getuid(), (int)geteuid());
	CHECK(2, getgid() == (gid_t)p->v[0], "gid %d", (int)getgid());
	/* setuid to its own uid re-reads the ucounts of the uid. */
	CHECK(3, setuid(getuid()) == 0, "setuid: %s", strerror(errno));
	c = fork();
	if (c == 0)
		_exit(setuid(getuid()) ? 1 : 0);
	CHECK(4, c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) &&
		 WEXITSTATUS(status) == 0, "child status %#x", status);
	return 0;
}

TEST(other_user_is_counted_as_that_user)
{
	struct probe p = { "user", setup_user, verify_user };

	ROUND_TRIP(&p, 0);
}

TEST(prctl_flags)
{
	struct probe p = { "prctl", setup_prctl, verify_prctl };

	ROUND_TRIP(&p, 0);
}

/* The opposite values, which a restarter must not leave set either. */
static void setup_prctl_off(struct probe *p)
{
	(void)p;
}

static int verify_prctl_off(struct probe *p)
{
	int v = -1;

	(void)p;
	CHECK(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1, "dumpable %d",
	      prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	CHECK(2, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0, "thp_disable");
	CHECK(3, prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) == 0 && v == 0, "subreaper %d", v);
	v = -1;
	CHECK(4, prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0) == 0 && v == 0, "pdeathsig %d", v);
	return 0;
}

TEST(prctl_defaults)
{
	struct probe p = { "prctl0", setup_prctl_off, verify_prctl_off };

	ROUND_TRIP(&p, 0);
}

static void setup_membarrier(struct probe *p)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0))
		say("membarrier register: %s\n", strerror(errno));
	p->v[0] = syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0);
}

static int verify_membarrier(struct probe *p)
{
	long r = syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0);

	CHECK(1, r == p->v[0], "registrations %#lx, want %#lx", r, p->v[0]);
	CHECK(2, syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0,
	      "private expedited: %s", strerror(errno));
	return 0;
}

TEST(membarrier)
{
	struct probe p = { "membarrier", setup_membarrier, verify_membarrier };

	ROUND_TRIP(&p, 0);
}

/* ---- droppable memory (MAP_DROPPABLE) ------------------------------------ */

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

/* The vDSO's getrandom, as glibc 2.41 calls it; found through the vDSO's
 * section headers (a static program has no dynamic linker to ask). */
typedef ssize_t (*vgetrandom_t)(void *buf, size_t len, unsigned int flags, void *state,
				size_t state_len);

static vgetrandom_t vdso_getrandom(void)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Shdr *sh;
	const Elf64_Phdr *ph;
	uintptr_t base = (uintptr_t)eh, load = 0;

	if (!eh)
		return NULL;
	ph = (const void *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			load = base + ph[i].p_offset - ph[i].p_vaddr;
			break;
		}
	sh = (const void *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym = (const void *)(base + sh[i].sh_offset);
		const char *str = (const void *)(base + sh[sh[i].sh_link].sh_offset);

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		for (size_t j = 0; j < sh[i].sh_size / sizeof(*sym); j++)
			if (sym[j].st_shndx != SHN_UNDEF &&
			    !strcmp(str + sym[j].st_name, "__vdso_getrandom"))
				return (vgetrandom_t)(load + sym[j].st_value);
	}
	return NULL;
}

/* struct vgetrandom_state (include/vdso/getrandom.h): batch and key, then the
 * generation of the kernel's RNG the key came from (never 0 once seeded). */
#define VGR_GENERATION 128

struct vgr_params {
	uint32_t size, prot, flags, reserved[13];
};

/* The mapping of /proc/self/smaps that starts at addr: its end and
 * protection (if end and perms are given) and its VmFlags line, into flags
 * (size n); 0, or -1 when there is none. */
static int smaps_of(unsigned long addr, unsigned long *end, char perms[8], char *flags, size_t n)
{
	char line[480];
	FILE *f = fopen("/proc/self/smaps", "r");
	int found = 0;

	if (!f)
		return -1;
	flags[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char pr[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, pr) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			if (found)
				break;
			if (s == addr) {
				found = 1;
				if (end)
					*end = e;
				if (perms)
					memcpy(perms, pr, 8);
			}
		} else if (found && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, n, "%s", line + 8);
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

/* The VmFlags line of the mapping that starts at addr, into out (size n). */
static int vmflags_of(unsigned long addr, char *out, size_t n)
{
	return smaps_of(addr, NULL, NULL, out, n);
}

/* Whether VmFlags line v has the two-letter flag fl. */
static int has_flag(const char *v, const char *fl)
{
	char w[5];

	snprintf(w, sizeof(w), " %s", fl);
	for (const char *q = strstr(v, w); q; q = strstr(q + 1, w))
		if (q[3] == ' ' || q[3] == '\n' || !q[3])
			return 1;
	return 0;
}

/* The mapping that starts at addr: its end, protection and whether its
 * VmFlags have `dp`; 0, or -1 when there is none. */
static int smaps_entry(unsigned long addr, unsigned long *end, char perms[8], int *dp)
{
	char v[480];

	if (smaps_of(addr, end, perms, v, sizeof(v)))
		return -1;
	*dp = has_flag(v, "dp");
	return 0;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/*
 * A vDSO getrandom state in a droppable page (as the vDSO asks for it), seeded
 * by a call, and a droppable mapping of our own, written and made read-only.
 * Both come back at the same place, droppable, with the same protection and
 * empty -- as if the kernel had dropped their pages -- and the vDSO getrandom
 * reseeds the zeroed state and goes on giving random bytes.
 */
static void setup_droppable(struct probe *p)
{
	vgetrandom_t vgr = vdso_getrandom();
	struct vgr_params params = { 0 };
	unsigned char buf[32];
	char *own, *state;

	if (!vgr || vgr(NULL, 0, 0, &params, ~0UL) || !(params.flags & MAP_DROPPABLE)) {
		say("no vDSO getrandom\n");
		_exit(80);
	}
	state = mmap(NULL, 4096, params.prot, params.flags, -1, 0);
	own = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (state == MAP_FAILED || own == MAP_FAILED)
		_exit(81);
	memset(own, 0xa5, 3 * 4096);
	if (mprotect(own, 3 * 4096, PROT_READ))
		_exit(82);
	if (vgr(buf, sizeof(buf), 0, state, params.size) != sizeof(buf))
		_exit(83);
	if (!*(uint64_t *)(state + VGR_GENERATION))
		_exit(84);
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		_exit(85);
	p->v[0] = (long)vgr;
	p->v[1] = (long)state;
	p->v[2] = (long)own;
	p->v[3] = params.size;
}

static int verify_droppable(struct probe *p)
{
	vgetrandom_t vgr = (vgetrandom_t)p->v[0];
	unsigned char *state = (void *)p->v[1], *own = (void *)p->v[2];
	unsigned char buf[32] = { 0 };
	unsigned long end;
	char perms[8];
	int dp;

	CHECK(1, smaps_entry(p->v[1], &end, perms, &dp) == 0, "no mapping at %#lx", p->v[1]);
	CHECK(2, end == p->v[1] + 4096 && !strcmp(perms, "rw-p") && dp,
	      "state mapping %#lx-%#lx %s dp=%d", p->v[1], end, perms, dp);
	CHECK(3, smaps_entry(p->v[2], &end, perms, &dp) == 0, "no mapping at %#lx", p->v[2]);
	CHECK(4, end == p->v[2] + 3 * 4096 && !strcmp(perms, "r--p") && dp,
	      "own mapping %#lx-%#lx %s dp=%d", p->v[2], end, perms, dp);
	CHECK(5, all_zero(own, 3 * 4096), "own droppable mapping not empty");
	CHECK(6, all_zero(state, 4096), "getrandom state not empty");
	CHECK(7, vgr(buf, sizeof(buf), 0, state, p->v[3]) == sizeof(buf), "vDSO getrandom failed");
	CHECK(8, !all_zero(buf, sizeof(buf)), "vDSO getrandom gave zeros");
	CHECK(9, *(uint64_t *)(state + VGR_GENERATION) != 0, "state not reseeded");
	CHECK(10, getrandom(buf, sizeof(buf), 0) == sizeof(buf), "getrandom: %s", strerror(errno));
	return 0;
}

TEST(droppable_memory_comes_back_empty)
{
	struct probe p = { "droppable", setup_droppable, verify_droppable };

	ROUND_TRIP(&p, 0);
}

/*
 * Eight anonymous mappings, each given one madvise() property (DONTFORK: dc,
 * DONTDUMP: dd, HUGEPAGE: hg, NOHUGEPAGE: nh, WIPEONFORK: wf, SEQUENTIAL:
 * sr, RANDOM: rr, MERGEABLE: mg, as ZDTM's maps02 uses them), with a hole
 * punched by MADV_DONTNEED in a ninth, mapped MAP_NORESERVE (nr): each comes back with its property
 * (and only it), the hole reads as zeroes and the rest as written; a child
 * forked after the restart finds the wipe-on-fork mapping zero-filled and
 * the others as written (but the DONTFORK one, which it does not have).
 */
#define NMADV 8
static const struct { int advice; const char *flag; } madv_cases[NMADV] = {
	{ MADV_DONTFORK, "dc" },
	{ MADV_DONTDUMP, "dd" },
	{ MADV_HUGEPAGE, "hg" },
	{ MADV_NOHUGEPAGE, "nh" },
	{ MADV_WIPEONFORK, "wf" },
	{ MADV_SEQUENTIAL, "sr" },
	{ MADV_RANDOM, "rr" },
	{ MADV_MERGEABLE, "mg" },
};

static void setup_madvise(struct probe *p)
{
	char *m;

	for (int i = 0; i < NMADV; i++) {
		/* A guard page between the mappings keeps them apart. */
		m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || munmap(m + 2 * 4096, 4096))
			_exit(81);
		memset(m, 'a' + i, 2 * 4096);
		if (madvise(m, 2 * 4096, madv_cases[i].advice)) {
			say("madvise: %s\n", strerror(errno));
			_exit(82);
		}
		p->v[i] = (long)m;
	}
	m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED)
		_exit(83);
	memset(m, 'z', 4 * 4096);
	if (madvise(m + 4096, 2 * 4096, MADV_DONTNEED))
		_exit(84);
	p->v[NMADV] = (long)m;
}

static int verify_madvise(struct probe *p)
{
	const unsigned char *h = (void *)p->v[NMADV];
	char v[512];
	pid_t c;
	int st;

	for (int i = 0; i < NMADV; i++) {
		const unsigned char *m = (void *)p->v[i];

		CHECK(1 + i, vmflags_of(p->v[i], v, sizeof(v)) == 0, "no mapping at %#lx", p->v[i]);
		for (int j = 0; j < NMADV; j++)
			CHECK(10 + i, has_flag(v, madv_cases[j].flag) == (i == j),
			      "mapping %d: VmFlags%s", i, v);
		for (int k = 0; k < 2 * 4096; k++)
			CHECK(20 + i, m[k] == 'a' + i, "mapping %d byte %d is %#x", i, k, m[k]);
	}
	for (int k = 0; k < 4 * 4096; k++) {
		int want = k >= 4096 && k < 3 * 4096 ? 0 : 'z';

		CHECK(30, h[k] == want, "byte %d of the punched mapping is %#x", k, h[k]);
	}
	CHECK(34, vmflags_of(p->v[NMADV], v, sizeof(v)) == 0 && has_flag(v, "nr"),
	      "the MAP_NORESERVE mapping lost it: VmFlags%s", v);
	c = fork();
	CHECK(31, c >= 0, "fork: %s", strerror(errno));
	if (c == 0) {
		/* Mapping 0 (DONTFORK) is not there; 1-3 are copies; 4 is wiped. */
		for (int i = 1; i < NMADV; i++) {
			const unsigned char *m = (void *)p->v[i];

			for (int k = 0; k < 2 * 4096; k++)
				if (m[k] != (i == 4 ? 0 : 'a' + i))
					_exit(10 + i);
		}
		_exit(vmflags_of(p->v[0], v, sizeof(v)) == 0 ? 9 : 0);
	}
	CHECK(32, waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
	CHECK(33, WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the child forked after the restart saw status %#x", st);
	return 0;
}

TEST(madvise_properties_and_holes)
{
	struct probe p = { "madvise", setup_madvise, verify_madvise };

	ROUND_TRIP(&p, 0);
}

/* A zombie in another process's group: the child forks A (a group of its own)
 * and Z (in A's group), Z exits and stays a zombie. */
static void setup_zombie(struct probe *p)
{
	int sync[2];
	char c;
	pid_t a, z;

	if (pipe(sync))
		_exit(92);
	a = fork();
	if (a == 0) {
		setpgid(0, 0);
		if (write(sync[1], "a", 1) != 1)
			_exit(1);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		for (;;)
			pause();
	}
	if (read(sync[0], &c, 1) != 1)
		_exit(93);
	z = fork();
	if (z == 0) {
		if (setpgid(0, a))
			_exit(9);
		_exit(5);
	}
	while (proc_state(z) != 'Z')
		sleep_ms(2);
	close(sync[0]);
	close(sync[1]);
	p->v[0] = a;
	p->v[1] = z;
	p->v[2] = getpgid(z);
}

static int verify_zombie(struct probe *p)
{
	int status = 0;

	CHECK(1, p->v[2] == p->v[0], "before: zombie %ld in group %ld, A %ld", p->v[1], p->v[2],
	      p->v[0]);
	CHECK(2, getpgid(p->v[1]) == p->v[0], "zombie %ld in group %d, want %ld", p->v[1],
	      getpgid(p->v[1]), p->v[0]);
	CHECK(3, getpgid(p->v[0]) == p->v[0], "A in group %d", getpgid(p->v[0]));
	CHECK(4, waitpid(p->v[1], &status, 0) == p->v[1] && WEXITSTATUS(status) == 5,
	      "zombie status %#x", status);
	kill(p->v[0], SIGKILL);
	waitpid(p->v[0], &status, 0);
	return 0;
}

TEST(zombie_process_group)
{
	struct probe p = { "zpgrp", setup_zombie, verify_zombie };

	ROUND_TRIP(&p, 1);
}

/*
 * A real-time policy comes back only if the restarter may set it: here the
 * process and the restarter both lack CAP_SYS_NICE and have RLIMIT_RTPRIO 0,
 * so the restart fails before the point of no return, saying why.
 */
struct cap_header_ {
	uint32_t version;
	int pid;
};

struct cap_data_ {
	uint32_t effective, permitted, inheritable;
};

#define CAP_SYS_NICE_ 23

static int drop_sys_nice(void)
{
	struct cap_header_ h = { 0x20080522, 0 };
	struct cap_data_ d[2];
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_NICE_, 0, 0, 0) ||
	    syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1u << CAP_SYS_NICE_);
	d[0].permitted &= ~(1u << CAP_SYS_NICE_);
	d[0].inheritable &= ~(1u << CAP_SYS_NICE_);
	if (syscall(SYS_capset, &h, d))
		return -1;
	return setrlimit(RLIMIT_RTPRIO, &rl);
}

static void setup_fifo_dropped(struct probe *p)
{
	setup_fifo(p);
	if (drop_sys_nice())
		say("cannot drop CAP_SYS_NICE: %s\n", strerror(errno));
}

TEST(sched_fifo_refused_without_privilege)
{
	struct probe p = { "fifo-refused", setup_fifo_dropped, verify_sched };
	char img[64], cmd[256], out[512] = "";
	int dev = ckpt_open(), status;
	FILE *f;
	pid_t pid;

	ASSERT_LE(0, dev);
	snprintf(logpath, sizeof(logpath), "/tmp/fid-%s-%d.log", p.name, getpid());
	pid = spawn_ready(child, &p);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, checkpoint_into(dev, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img), p.name));
	close(dev);
	ckpt_dev_fd = -1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* The restarter, like the image, without CAP_SYS_NICE and RLIMIT_RTPRIO. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (drop_sys_nice())
			_exit(97);
		snprintf(cmd, sizeof(cmd), CKPT " restart %s --quiet 2>/tmp/fid-refused.err", img);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(98);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	show_log(_metadata);
	f = fopen("/tmp/fid-refused.err", "r");
	if (f) {
		if (!fgets(out, sizeof(out), f))
			out[0] = 0;
		fclose(f);
	}
	unlink("/tmp/fid-refused.err");
	unlink(img);
	unlink(logpath);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) TH_LOG("status %#x", status);
	EXPECT_NE(NULL, strstr(out, "SCHED_FIFO")) TH_LOG("stderr: %s", out);
	EXPECT_NE(NULL, strstr(out, "CAP_SYS_NICE")) TH_LOG("stderr: %s", out);
}

/* SCHED_DEADLINE cannot be given back: refused at checkpoint, and by check. */
static void deadline_child(int ready, void *arg)
{
	struct sched_attr_ a;

	(void)arg;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.policy = 6;	/* SCHED_DEADLINE */
	a.runtime = 1000000;
	a.deadline = 10000000;
	a.period = 10000000;
	if (syscall(SYS_sched_setattr, 0, &a, 0))
		_exit(3);
	say_ready(ready);
	for (;;)
		pause();
}

TEST(sched_deadline_refused)
{
	char reason[256] = "", img[64];
	int dev = ckpt_open();
	pid_t pid;

	ASSERT_LE(0, dev);
	pid = spawn_ready(deadline_child, NULL);
	if (pid < 0)
		SKIP(return, "SCHED_DEADLINE not available");
	EXPECT_EQ(EOPNOTSUPP, ckpt_check(dev, pid, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "SCHED_DEADLINE")) TH_LOG("reason: %s", reason);
	EXPECT_EQ(-EOPNOTSUPP, checkpoint_into(dev, pid, 0, img, sizeof(img), "deadline"));
	unlink(img);
	kill_reap(pid);
	close(dev);
}

/* ---- (b) pipe flags and SIGIO owners -------------------------------------- */

/*
 * Two descriptions of one pipe end (a second one opened through /proc, as
 * ZDTM's pipe02 does) keep their own flags: they are two files, not one.
 */
static void setup_two_descriptions(struct probe *p)
{
	char path[64];
	int a[2];

	if (pipe(a))
		_exit(92);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", a[0]);
	p->fd[0] = a[0];
	p->fd[1] = a[1];
	p->fd[2] = open(path, O_RDONLY | O_NONBLOCK);
	if (p->fd[2] < 0)
		say("reopen: %s\n", strerror(errno));
	for (int i = 0; i < 3; i++)
		p->v[i] = fcntl(p->fd[i], F_GETFL);
}

static int verify_two_descriptions(struct probe *p)
{
	char c = 0;

	for (int i = 0; i < 3; i++)
		CHECK(1 + i, fcntl(p->fd[i], F_GETFL) == p->v[i], "fd %d flags %#x, want %#lx",
		      p->fd[i], fcntl(p->fd[i], F_GETFL), p->v[i]);
	/* Still one pipe: what goes in at fd[1] comes out at either reader. */
	CHECK(4, read(p->fd[2], &c, 1) < 0 && errno == EAGAIN, "empty pipe did not say EAGAIN");
	CHECK(5, write(p->fd[1], "x", 1) == 1, "write: %s", strerror(errno));
	CHECK(6, read(p->fd[2], &c, 1) == 1 && c == 'x', "the second reader read %d", c);
	return 0;
}

TEST(pipe_end_with_two_descriptions)
{
	struct probe p = { "twodesc", setup_two_descriptions, verify_two_descriptions };

	ROUND_TRIP(&p, 0);
}

static void setup_nonblock(struct probe *p)
{
	int a[2], b[2];

	if (pipe(a) || pipe2(b, O_NONBLOCK))
		_exit(92);
	fcntl(a[0], F_SETFL, O_NONBLOCK);
	p->fd[0] = a[0];
	p->fd[1] = a[1];
	p->fd[2] = b[0];
	p->fd[3] = b[1];
	for (int i = 0; i < 4; i++)
		p->v[i] = fcntl(p->fd[i], F_GETFL);
}

static int verify_nonblock(struct probe *p)
{
	char c;

	for (int i = 0; i < 4; i++)
		CHECK(1 + i, fcntl(p->fd[i], F_GETFL) == p->v[i], "fd %d flags %#x, want %#lx",
		      p->fd[i], fcntl(p->fd[i], F_GETFL), p->v[i]);
	CHECK(5, read(p->fd[0], &c, 1) < 0 && errno == EAGAIN, "read did not say EAGAIN");
	CHECK(6, read(p->fd[2], &c, 1) < 0 && errno == EAGAIN, "read did not say EAGAIN");
	return 0;
}

TEST(pipe_nonblock)
{
	struct probe p = { "nonblock", setup_nonblock, verify_nonblock };

	ROUND_TRIP(&p, 0);
}

static volatile sig_atomic_t io_sig, io_fd, io_code;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	io_sig = sig;
	io_fd = si->si_fd;
	io_code = si->si_code;
}

static void setup_owner(struct probe *p)
{
	struct sigaction sa;
	struct f_owner_ex ox;
	int a[2], b[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_io;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGIO, &sa, NULL);
	if (pipe(a) || pipe(b))
		_exit(92);
	/* a: owner the process, SIGUSR1 with siginfo, O_ASYNC. */
	fcntl(a[0], F_SETOWN, getpid());
	fcntl(a[0], F_SETSIG, SIGUSR1);
	fcntl(a[0], F_SETFL, O_ASYNC | O_NONBLOCK);
	/* b: owner the thread (F_OWNER_TID), plain SIGIO, not async. */
	ox.type = F_OWNER_TID;
	ox.pid = syscall(SYS_gettid);
	fcntl(b[0], F_SETOWN_EX, &ox);
	p->fd[0] = a[0];
	p->fd[1] = a[1];
	p->fd[2] = b[0];
	p->fd[3] = b[1];
	p->v[0] = getpid();
	p->v[1] = fcntl(a[0], F_GETFL);
	p->v[2] = ox.pid;
}

static int verify_owner(struct probe *p)
{
	struct f_owner_ex ox;

	CHECK(1, fcntl(p->fd[0], F_GETOWN) == p->v[0], "owner %d, want %ld",
	      fcntl(p->fd[0], F_GETOWN), p->v[0]);
	CHECK(2, fcntl(p->fd[0], F_GETSIG) == SIGUSR1, "signal %d", fcntl(p->fd[0], F_GETSIG));
	CHECK(3, fcntl(p->fd[0], F_GETFL) == p->v[1], "flags %#x, want %#lx",
	      fcntl(p->fd[0], F_GETFL), p->v[1]);
	memset(&ox, 0, sizeof(ox));
	CHECK(4, fcntl(p->fd[2], F_GETOWN_EX, &ox) == 0 && ox.type == F_OWNER_TID &&
	      ox.pid == p->v[2], "owner_ex type %d pid %d, want tid %ld", ox.type, ox.pid, p->v[2]);
	/* The owner really gets the signal, with the fd. */
	CHECK(5, write(p->fd[1], "x", 1) == 1, "write");
	for (int i = 0; i < 200 && !io_sig; i++)
		sleep_ms(5);
	CHECK(6, io_sig == SIGUSR1 && io_fd == p->fd[0], "got signal %d fd %d", io_sig, io_fd);
	return 0;
}

TEST(sigio_owner)
{
	struct probe p = { "owner", setup_owner, verify_owner };

	ROUND_TRIP(&p, 0);
}

/* A file whose SIGIO goes to another process (here the test): refused. */
static void foreign_owner_child(int ready, void *arg)
{
	int p[2];

	if (pipe(p))
		_exit(3);
	fcntl(p[0], F_SETOWN, getppid());
	say_ready(ready);
	for (;;)
		pause();
}

TEST(sigio_owner_elsewhere_refused)
{
	char reason[256] = "";
	int dev = ckpt_open();
	pid_t pid;

	ASSERT_LE(0, dev);
	pid = spawn_ready(foreign_owner_child, NULL);
	ASSERT_LT(0, pid);
	EXPECT_EQ(EOPNOTSUPP, ckpt_check(dev, pid, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "SIGIO owner")) TH_LOG("reason: %s", reason);
	kill_reap(pid);
	close(dev);
}

/* ---- (c) /proc/self/exe ----------------------------------------------------- */

static void setup_exe(struct probe *p)
{
	ssize_t n = readlink("/proc/self/exe", p->s, sizeof(p->s) - 1);

	p->s[n > 0 ? n : 0] = 0;
}

static int verify_exe(struct probe *p)
{
	char now[256];
	ssize_t n = readlink("/proc/self/exe", now, sizeof(now) - 1);

	now[n > 0 ? n : 0] = 0;
	CHECK(1, p->s[0] == '/', "exe was %s", p->s);
	CHECK(2, !strcmp(now, p->s), "exe %s, want %s", now, p->s);
	return 0;
}

TEST(proc_self_exe)
{
	struct probe p = { "exe", setup_exe, verify_exe };

	ROUND_TRIP(&p, 0);
}

/* ---- (d) stopped processes -------------------------------------------------- */

static void setup_nothing(struct probe *p)
{
	(void)p;
}

static int verify_ran(struct probe *p)
{
	(void)p;
	return 0;
}

/*
 * A process stopped (by sig) when checkpointed comes back stopped: it stays
 * stopped until SIGCONT, then runs on and exits.  The tool restarts it in the
 * background; the test watches it by its pid, which restart keeps.
 */
/*
 * Adds a queued SIGSTOP to the process-wide pending signals of the image at
 * path (as if one had been sent while the checkpoint held the process), and
 * reseals it.  0 on success.
 */
#define K_SIGNAL 0x0601
static int add_pending_sigstop(const char *path)
{
	struct img_plan *ip = malloc(sizeof(*ip));
	unsigned char *m = NULL, *out = NULL, *q;
	size_t off = 0, len = 0, at, n;
	struct stat st;
	int i, fd = -1, ret = -1;

	if (!ip || img_plan(path, ip))
		goto out;
	for (i = 0; i < ip->nrec; i++)
		if (ip->rec[i].kind == K_SIGNAL) {
			off = ip->rec[i].off;
			len = ip->rec[i].len;
		}
	fd = open(path, O_RDWR);
	if (!off || fd < 0 || fstat(fd, &st))
		goto out;
	n = st.st_size;
	m = malloc(n);
	out = calloc(1, n + 48);
	if (!m || !out || pread(fd, m, n, 0) != (ssize_t)n)
		goto out;
	/* The payload: id, three itimers (52 bytes), then the queue: pending,
	 * count, entries.  The new entry goes at its end. */
	at = off + 12 + len;
	memcpy(out, m, at);
	memcpy(out + at + 48, m + at, n - at);
	q = out + off + 12 + 52;
	put_le64(q, le64(q) | 1ULL << (SIGSTOP - 1));
	put_le32(q + 8, le32(q + 8) + 1);
	put_le32(out + at, SIGSTOP);	/* si_signo; errno, code (SI_USER), pid... 0 */
	put_le32(out + off + 4, len + 48);
	/* The end record's account: 48 bytes more before it. */
	for (i = 0; i < ip->nrec; i++)
		if (ip->rec[i].kind == K_END) {
			q = out + ip->rec[i].off + 48 + 12 + 8;
			put_le64(q, le64(q) + 48);
		}
	reseal(out, n + 48);
	ret = pwrite(fd, out, n + 48, 0) == (ssize_t)(n + 48) ? 0 : -1;
out:
	if (fd >= 0)
		close(fd);
	free(m);
	free(out);
	free(ip);
	return ret;
}

static void stopped_round_trip(struct __test_metadata *_metadata, int sig)
{
	struct probe p = { "stopped", setup_nothing, verify_ran };
	char img[64], cmd[256];
	int dev = ckpt_open(), status, i;
	pid_t pid, tool;

	ASSERT_LE(0, dev);
	snprintf(logpath, sizeof(logpath), "/tmp/fid-stopped-%d.log", getpid());
	pid = spawn_ready(child, &p);
	ASSERT_LT(0, pid);
	if (sig) {
		kill(pid, sig);
		ASSERT_EQ(0, wait_state(pid, 'T', 5000));
	}
	ASSERT_EQ(0, checkpoint_into(dev, pid, CKPT_CHECKPOINT_KILL, img, sizeof(img), "stopped"));
	close(dev);
	ckpt_dev_fd = -1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* Not stopped: a SIGSTOP was pending instead (sent while it was held). */
	if (!sig)
		ASSERT_EQ(0, add_pending_sigstop(img));
	snprintf(cmd, sizeof(cmd), CKPT " restart %s --quiet", img);
	tool = fork();
	ASSERT_LE(0, tool);
	if (tool == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Restored, it must be (and stay) stopped. */
	for (i = 0; i < 1000 && proc_state(pid) != 'T'; i++)
		sleep_ms(10);
	EXPECT_EQ('T', proc_state(pid)) TH_LOG("state %c", proc_state(pid));
	sleep_ms(300);
	EXPECT_EQ('T', proc_state(pid)) TH_LOG("state %c", proc_state(pid));
	kill(pid, SIGCONT);
	for (i = 0; i < 1000; i++) {
		if (waitpid(tool, &status, WNOHANG) == tool)
			break;
		sleep_ms(10);
	}
	if (i == 1000) {
		kill(pid, SIGKILL);
		waitpid(tool, &status, 0);
		TH_LOG("the restored process did not finish after SIGCONT");
	}
	show_log(_metadata);
	unlink(img);
	unlink(logpath);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
}

TEST(stopped_by_sigstop)
{
	stopped_round_trip(_metadata, SIGSTOP);
}

TEST(stopped_by_sigtstp)
{
	stopped_round_trip(_metadata, SIGTSTP);
}

/* A SIGSTOP pending in the image (sent during the checkpoint): the restored
 * process stops, instead of being killed after the point of no return. */
TEST(pending_sigstop)
{
	stopped_round_trip(_metadata, 0);
}

/*
 * In a tree: the child C was stopped (and its parent P collected the stop);
 * after the restart C is stopped again, and P continues it and sees it
 * continue (WCONTINUED), then ends it.
 */
static void setup_stopped_child(struct probe *p)
{
	int status;
	pid_t c = fork();

	if (c == 0) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		for (;;)
			pause();
	}
	kill(c, SIGSTOP);
	if (waitpid(c, &status, WUNTRACED) != c || !WIFSTOPPED(status))
		say("child did not stop: %#x\n", status);
	p->v[0] = c;
}

static int verify_stopped_child(struct probe *p)
{
	pid_t c = p->v[0];
	int status = 0, i;
	char st;

	for (i = 0; i < 500 && proc_state(c) != 'T'; i++)
		sleep_ms(10);
	CHECK(1, proc_state(c) == 'T', "child state %c", proc_state(c));
	sleep_ms(100);
	CHECK(2, proc_state(c) == 'T', "child state %c after 100 ms", proc_state(c));
	kill(c, SIGCONT);
	CHECK(3, waitpid(c, &status, WCONTINUED) == c && WIFCONTINUED(status),
	      "not continued: %#x", status);
	/* Woken; give it the time to leave the stop (the state can lag the report). */
	for (i = 0; i < 100 && proc_state(c) == 'T'; i++)
		sleep_ms(10);
	/* One read: it may go from running to sleeping between two. */
	st = proc_state(c);
	CHECK(4, st == 'S' || st == 'R', "child state %c", st);
	kill(c, SIGTERM);
	CHECK(5, waitpid(c, &status, 0) == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	      "child status %#x", status);
	return 0;
}

TEST(stopped_child_in_a_tree)
{
	struct probe p = { "stoptree", setup_stopped_child, verify_stopped_child };

	ROUND_TRIP(&p, 1);
}

/*
 * In a tree: the child C, alone in its process group (not orphaned: its
 * parent is in another group of the session), was stopped by SIGTSTP.  After
 * the restart the parent's waitid(WSTOPPED) reports SIGTSTP again, not
 * SIGSTOP (CRIU's ZDTM stopped03).
 */
static void setup_tstp_child(struct probe *p)
{
	int status;
	pid_t c = fork();

	if (c == 0) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		for (;;)
			pause();
	}
	setpgid(c, c);
	kill(c, SIGTSTP);
	if (waitpid(c, &status, WUNTRACED) != c || !WIFSTOPPED(status) ||
	    WSTOPSIG(status) != SIGTSTP)
		say("child did not stop by SIGTSTP: %#x\n", status);
	p->v[0] = c;
}

static int verify_tstp_child(struct probe *p)
{
	pid_t c = p->v[0];
	siginfo_t si = { 0 };
	int status = 0, i;

	for (i = 0; i < 500 && proc_state(c) != 'T'; i++)
		sleep_ms(10);
	CHECK(1, proc_state(c) == 'T', "child state %c", proc_state(c));
	CHECK(2, waitid(P_PID, c, &si, WSTOPPED | WNOWAIT) == 0, "waitid: %s", strerror(errno));
	CHECK(3, si.si_code == CLD_STOPPED && si.si_status == SIGTSTP,
	      "stop reported as code %d signal %d", si.si_code, si.si_status);
	kill(c, SIGCONT);
	kill(c, SIGTERM);
	CHECK(4, waitpid(c, &status, 0) == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	      "child status %#x", status);
	return 0;
}

TEST(tstp_stopped_child_in_a_tree)
{
	struct probe p = { "tstptree", setup_tstp_child, verify_tstp_child };

	ROUND_TRIP(&p, 1);
}

TEST_HARNESS_MAIN
