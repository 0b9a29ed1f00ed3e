/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ckpt selftests: talking to /dev/ckpt, starting
 * target processes that report when they are ready, reading /proc.
 */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ckpt.h>

#define CKPT_DEV "/dev/ckpt"

static const unsigned char ckpt_magic[8] = { 0x89, 'C', 'K', 'P', 'T', '\r', '\n', 0x1a };

/* The test's own /dev/ckpt fd: children close it, or they could not be
 * checkpointed (the module refuses a process that has /dev/ckpt open). */
static int ckpt_dev_fd = -1;

static inline int ckpt_open(void)
{
	ckpt_dev_fd = open(CKPT_DEV, O_RDWR | O_CLOEXEC);
	return ckpt_dev_fd;
}

/* CKPT_IOC_CHECKPOINT; returns 0 or -errno; *bytes gets the image size. */
static inline int ckpt_checkpoint(int dev, pid_t pid, int fd, uint64_t flags, uint64_t *bytes)
{
	struct ckpt_checkpoint_args a;

	memset(&a, 0, sizeof(a));
	a.pid = pid;
	a.fd = fd;
	a.flags = flags;
	if (ioctl(dev, CKPT_IOC_CHECKPOINT, &a))
		return -errno;
	if (bytes)
		*bytes = a.bytes;
	return 0;
}

/* CKPT_IOC_CHECK; returns the status (0 or a positive errno), reason in buf. */
static inline int ckpt_check(int dev, pid_t pid, char *reason, size_t len)
{
	struct ckpt_check_args a;

	memset(&a, 0, sizeof(a));
	a.pid = pid;
	if (ioctl(dev, CKPT_IOC_CHECK, &a))
		return -errno;
	if (reason)
		snprintf(reason, len, "%s", a.reason);
	return a.status;
}

/*
 * Forks a child that runs fn(arg) and then writes one byte to say it is
 * ready; returns its pid once that byte arrived (or -1).
 */
static inline pid_t spawn_ready(void (*fn)(int ready_fd, void *arg), void *arg)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		if (ckpt_dev_fd >= 0)
			close(ckpt_dev_fd);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static inline void say_ready(int fd)
{
	char c = 'R';

	if (write(fd, &c, 1) != 1)
		_exit(99);
	close(fd);
}

/* The state letter of /proc/PID/stat (R, S, T, Z, ...), or 0. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits up to ms for pid to reach state st. */
static inline int wait_state(pid_t pid, char st, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (; ms > 0; ms -= 10) {
		if (proc_state(pid) == st)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Kills and reaps a child; returns its wait status. */
static inline int kill_reap(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

/* A file in /tmp for an image; returns an fd open for read and write. */
static inline int image_file(char *path, size_t len, const char *tag)
{
	snprintf(path, len, "/tmp/ckpt-%s-%d.img", tag, getpid());
	return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static inline int has_magic(int fd)
{
	unsigned char m[8];

	return pread(fd, m, 8, 0) == 8 && !memcmp(m, ckpt_magic, 8);
}

/* A child that counts in shared memory so the parent sees it run. */
static inline void counting_child(int ready, void *arg)
{
	volatile uint64_t *counter = arg;

	say_ready(ready);
	for (;;)
		(*counter)++;
}

static inline volatile uint64_t *shared_counter(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#endif /* CKPT_UTIL_H */
