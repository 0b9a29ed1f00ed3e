// SPDX-License-Identifier: GPL-2.0
/*
 * vdsoclock: calls the vDSO through pointers resolved once, at start, as libc
 * does, and checks every answer against the system call.
 *
 * At start it looks up clock_gettime, gettimeofday, time and getcpu in the
 * vDSO (AT_SYSINFO_EHDR) and keeps their addresses; libc (static glibc) has
 * done the same for its own clock_gettime, gettimeofday and time.  Then, every
 * 50 ms, it calls each through the kept pointer and through libc, between two
 * system calls, and prints
 *
 *	tick N ok pid P
 *
 * or "tick N BAD <what>" when an answer is not between the two system calls'.
 * A restart under another kernel (or with `ckpt restart --vdso-proxy`) keeps
 * these pointers working only if the proxy forwards them correctly; a wrong
 * jump crashes the program or shows as BAD.  The first lines say where the
 * vDSO and its functions were: "vdso 0xADDR" and "fn NAME 0xADDR".
 */
#define _GNU_SOURCE
#include <elf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*cg_t)(clockid_t, struct timespec *);
typedef int (*gtod_t)(struct timeval *, void *);
typedef time_t (*time_t_fn)(time_t *);
typedef int (*getcpu_t)(unsigned *, unsigned *, void *);

/* The address of vDSO function name (base + st_value), or 0. */
static uintptr_t vdso_sym(uintptr_t base, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	int i;

	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t n, k;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		for (k = 0; k < n; k++)
			if (sym[k].st_shndx && !strcmp(str + sym[k].st_name, name))
				return base + sym[k].st_value;
	}
	return 0;
}

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void sys_clock(clockid_t c, struct timespec *t)
{
	syscall(SYS_clock_gettime, c, t);
}

/* Slack for the real-time clock (the monotonic one must be exact). */
#define SLACK 1000000LL

int main(void)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	cg_t vcg;
	gtod_t vgtod;
	time_t_fn vtime;
	getcpu_t vgetcpu;
	unsigned long tick = 0;
	cpu_set_t one;

	if (!base) {
		printf("no vdso\n");
		return 1;
	}
	vcg = (cg_t)vdso_sym(base, "__vdso_clock_gettime");
	vgtod = (gtod_t)vdso_sym(base, "__vdso_gettimeofday");
	vtime = (time_t_fn)vdso_sym(base, "__vdso_time");
	vgetcpu = (getcpu_t)vdso_sym(base, "__vdso_getcpu");
	if (!vcg || !vgtod || !vtime || !vgetcpu) {
		printf("vdso lacks a function\n");
		return 1;
	}
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	printf("vdso %#lx\n", (unsigned long)base);
	printf("fn clock_gettime %#lx\nfn gettimeofday %#lx\nfn time %#lx\nfn getcpu %#lx\n",
	       (unsigned long)vcg, (unsigned long)vgtod, (unsigned long)vtime,
	       (unsigned long)vgetcpu);
	fflush(stdout);
	for (;;) {
		struct timespec s1, s2, m1, m2, v, l, vr, lr, pause = { 0, 50000000 };
		struct timeval tv, ltv;
		unsigned c1, c2, cpu = ~0u, node;
		time_t t, lt;
		const char *bad = NULL;

		syscall(SYS_getcpu, &c1, NULL, NULL);
		sys_clock(CLOCK_MONOTONIC, &m1);
		sys_clock(CLOCK_REALTIME, &s1);
		if (vcg(CLOCK_MONOTONIC, &v) || clock_gettime(CLOCK_MONOTONIC, &l) ||
		    vcg(CLOCK_REALTIME, &vr) || clock_gettime(CLOCK_REALTIME, &lr) ||
		    vgtod(&tv, NULL) || gettimeofday(&ltv, NULL) || vgetcpu(&cpu, &node, NULL))
			bad = "an error";
		t = vtime(NULL);
		lt = time(NULL);
		sys_clock(CLOCK_REALTIME, &s2);
		sys_clock(CLOCK_MONOTONIC, &m2);
		syscall(SYS_getcpu, &c2, NULL, NULL);
		if (bad)
			;
		else if (ns(&v) < ns(&m1) || ns(&v) > ns(&l) || ns(&l) > ns(&m2))
			bad = "clock_gettime(CLOCK_MONOTONIC)";
		else if (ns(&vr) < ns(&s1) - SLACK || ns(&vr) > ns(&s2) + SLACK ||
			 ns(&lr) < ns(&s1) - SLACK || ns(&lr) > ns(&s2) + SLACK)
			bad = "clock_gettime(CLOCK_REALTIME)";
		else if (tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL < ns(&s1) - SLACK ||
			 tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL > ns(&s2) + SLACK ||
			 ltv.tv_sec * 1000000000LL + ltv.tv_usec * 1000LL > ns(&s2) + SLACK)
			bad = "gettimeofday";
		else if (t < s1.tv_sec - 1 || t > s2.tv_sec + 1 || lt < s1.tv_sec - 1 ||
			 lt > s2.tv_sec + 1)
			bad = "time";
		else if (cpu != c1 && cpu != c2)
			bad = "getcpu";
		tick++;
		if (bad)
			printf("tick %lu BAD %s pid %d\n", tick, bad, getpid());
		else
			printf("tick %lu ok pid %d\n", tick, getpid());
		fflush(stdout);
		nanosleep(&pause, NULL);
	}
}
