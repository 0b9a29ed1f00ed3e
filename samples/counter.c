// SPDX-License-Identifier: GPL-2.0
/*
 * counter: the demo program.  Counts, keeps a running checksum of what it
 * counted in a 64 MiB buffer, and prints one line five times a second:
 *
 *   counter 42  pid 123  sum 0x...  uptime 8.4 s
 *
 * Checkpointed, killed and restarted, it carries on from the next number
 * with the same pid and a checksum that still matches its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WORDS ((64u << 20) / 8)

int main(void)
{
	uint64_t *buf = calloc(WORDS, 8), sum = 0, check;
	struct timespec t0, t, nap = { 0, 200 * 1000 * 1000 };
	unsigned long n;

	if (!buf)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 1;; n++) {
		buf[n % WORDS] = n * 0x9E3779B97F4A7C15ULL;
		sum += buf[n % WORDS];
		check = 0;
		for (unsigned long i = 1; i <= n && i < WORDS; i++)
			check += buf[i];
		clock_gettime(CLOCK_MONOTONIC, &t);
		printf("counter %lu  pid %d  sum %#llx %s  uptime %.1f s\n", n, getpid(),
		       (unsigned long long)sum, check == sum ? "(buffer ok)" : "(BUFFER CORRUPT)",
		       (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9);
		fflush(stdout);
		nanosleep(&nap, NULL);
	}
}
