/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ckpt selftests: talking to /dev/ckpt, starting
 * target processes that report when they are ready, reading /proc.
 */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
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

/*
 * Sets the module's mode (parameter "unprivileged": 1 lets every opener use
 * /dev/ckpt under the per-process rules, 0 keeps it to openers with
 * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN); 0 or -1.  Tests that open the
 * device to other users (chmod 0666) switch it on for that time.
 */
static inline int ckpt_unprivileged(int on)
{
	int fd = open("/sys/module/ckpt/parameters/unprivileged", O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, on ? "1\n" : "0\n", 2) == 2;
	close(fd);
	return ok ? 0 : -1;
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

/* Reads up to len - 1 bytes of file path into buf, NUL-terminated; returns
 * how many, or -1 if nothing could be read. */
static inline int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* The state letter of /proc/PID/stat (R, S, T, Z, ...), or 0. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return 0;
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

/* Checkpoints @pid with @flags into a new image file (image_file(): its path
 * into @img); returns 0 or -errno. */
static inline int checkpoint_into(int dev, pid_t pid, uint64_t flags, char *img, size_t len,
				  const char *tag)
{
	int fd = image_file(img, len, tag), ret;

	if (fd < 0)
		return -errno;
	ret = ckpt_checkpoint(dev, pid, fd, flags, NULL);
	close(fd);
	return ret;
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

/* ---- samples/restartee ------------------------------------------------- */

#define RESTARTEE "/samples/restartee"
#define RESTARTEE_DATA "/tmp/restartee.data"

/*
 * Starts restartee with a heap of mb MiB and its control/report pipes at fds
 * 3/4; *ctl gets the write end of the first, *rep the read end of the
 * second.  Returns its pid (the caller waits for its "ready" line).
 */
static inline pid_t spawn_restartee(int mb, int *ctl, int *rep)
{
	int c[2], r[2];
	char arg[16];
	pid_t pid;

	if (pipe(c) || pipe(r))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (ckpt_dev_fd >= 0)
			close(ckpt_dev_fd);
		dup2(c[0], 3);
		dup2(r[1], 4);
		for (int fd = 5; fd < 64; fd++)
			close(fd);
		snprintf(arg, sizeof(arg), "%d", mb);
		execl(RESTARTEE, "restartee", "3", "4", RESTARTEE_DATA, arg, NULL);
		_exit(127);
	}
	close(c[0]);
	close(r[1]);
	*ctl = c[1];
	*rep = r[0];
	return pid;
}

/* ---- reading what restart needs from an image -------------------------- */

#define K_TASK	0x0100
#define K_RLIMITS 0x0101
#define K_FILE	0x0300
#define K_PIPE	0x0301
#define K_FD	0x0311
#define K_FS	0x0320
#define K_VMA	0x0401
#define K_PAGES	0x0402
#define K_VDSO	0x8403
#define K_VDSO_TEXT	0x8404
#define K_REGS	0x0200
#define K_END	0x00ff

struct img_plan {
	pid_t pid;
	char cwd[512];
	int nspecial;
	struct { uint64_t start, end; char name[40]; } special[4];
	int npipes;
	struct { uint32_t id, capacity; } pipe[16];
	int nfiles;
	struct { uint32_t id, pipe, flags; unsigned char kind; } file[64];
	int nfds;
	struct { uint32_t fd, file; } fd[64];
	/* The first task's resource limits (soft, hard), if the image has them. */
	int has_rlimits;
	uint64_t rlim[16][2];
	/* Record boundaries, for corruption tests. */
	int nrec;
	struct { uint32_t off, len; uint16_t kind; } rec[4096];
};

static inline uint16_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static inline uint32_t le32(const unsigned char *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }
static inline uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Walks the records of the image at path; 0 on success. */
static inline int img_plan(const char *path, struct img_plan *ip)
{
	struct stat st;
	unsigned char *m;
	size_t off = 8;
	int fd = open(path, O_RDONLY);

	memset(ip, 0, sizeof(*ip));
	if (fd < 0 || fstat(fd, &st))
		return -1;
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	while (off + 12 <= (size_t)st.st_size) {
		uint16_t kind = le16(m + off);
		uint32_t len = le32(m + off + 4);
		unsigned char *p = m + off + 12;

		if (ip->nrec < 4096) {
			ip->rec[ip->nrec].off = off;
			ip->rec[ip->nrec].len = len;
			ip->rec[ip->nrec].kind = kind;
			ip->nrec++;
		}
		switch (kind) {
		case K_TASK:
			ip->pid = (int32_t)le32(p);
			break;
		case K_RLIMITS:
			if (!ip->has_rlimits && le32(p) == 16) {
				for (int i = 0; i < 16; i++) {
					ip->rlim[i][0] = le64(p + 4 + 16 * i);
					ip->rlim[i][1] = le64(p + 12 + 16 * i);
				}
				ip->has_rlimits = 1;
			}
			break;
		case K_FS: {
			uint16_t n = le16(p + 8);

			memcpy(ip->cwd, p + 10, n < sizeof(ip->cwd) ? n : sizeof(ip->cwd) - 1);
			break;
		}
		case K_VMA: {
			unsigned char backing = p[32];
			uint16_t n = le16(p + 37);

			if ((backing == 6 || backing == 7) && ip->nspecial < 4) {
				ip->special[ip->nspecial].start = le64(p);
				ip->special[ip->nspecial].end = le64(p + 8);
				memcpy(ip->special[ip->nspecial].name, p + 39, n < 39 ? n : 39);
				ip->nspecial++;
			}
			break;
		}
		case K_PIPE:
			if (ip->npipes < 16) {
				ip->pipe[ip->npipes].id = le32(p);
				ip->pipe[ip->npipes].capacity = le32(p + 4);
				ip->npipes++;
			}
			break;
		case K_FILE:
			if (ip->nfiles < 64) {
				ip->file[ip->nfiles].id = le32(p);
				ip->file[ip->nfiles].flags = le32(p + 5);
				ip->file[ip->nfiles].kind = p[4];
				ip->file[ip->nfiles].pipe = le32(p + 41);
				ip->nfiles++;
			}
			break;
		case K_FD:
			if (ip->nfds < 64) {
				ip->fd[ip->nfds].fd = le32(p);
				ip->fd[ip->nfds].file = le32(p + 4);
				ip->nfds++;
			}
			break;
		}
		off += 12 + len;
	}
	munmap(m, st.st_size);
	return 0;
}

/* ---- resealing an edited image (xxHash64, as rust/image.rs) ------------- */

#define XP1 0x9E3779B185EBCA87ULL
#define XP2 0xC2B2AE3D27D4EB4FULL
#define XP3 0x165667B19E3779F9ULL
#define XP4 0x85EBCA77C2B2AE63ULL
#define XP5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t xx_round(uint64_t acc, uint64_t in) { return rotl64(acc + in * XP2, 31) * XP1; }
static inline uint64_t xx_merge(uint64_t acc, uint64_t v) { return (acc ^ xx_round(0, v)) * XP1 + XP4; }

static inline uint64_t xxh64(const unsigned char *p, size_t len, uint64_t seed)
{
	const unsigned char *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v1 = seed + XP1 + XP2, v2 = seed + XP2, v3 = seed, v4 = seed - XP1;

		for (; p + 32 <= end; p += 32) {
			v1 = xx_round(v1, le64(p));
			v2 = xx_round(v2, le64(p + 8));
			v3 = xx_round(v3, le64(p + 16));
			v4 = xx_round(v4, le64(p + 24));
		}
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xx_merge(xx_merge(xx_merge(xx_merge(h, v1), v2), v3), v4);
	} else {
		h = seed + XP5;
	}
	h += len;
	for (; p + 8 <= end; p += 8)
		h = rotl64(h ^ xx_round(0, le64(p)), 27) * XP1 + XP4;
	if (p + 4 <= end) {
		h = rotl64(h ^ (uint64_t)le32(p) * XP1, 23) * XP2 + XP3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ *p * XP5, 11) * XP1;
	h ^= h >> 33;
	h *= XP2;
	h ^= h >> 29;
	h *= XP3;
	return h ^ (h >> 32);
}

static inline void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static inline void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

/* Recomputes every record check and the end record's chain, so that an
 * edited image passes the integrity checks and reaches the semantic ones. */
static inline void reseal(unsigned char *m, size_t n)
{
	uint64_t chain = 0;
	size_t off = 8;

	while (off + 12 <= n) {
		uint16_t kind = le16(m + off), ver = le16(m + off + 2);
		uint32_t len = le32(m + off + 4), check;
		uint64_t d;

		if (off + 12 + len > n)
			break;
		if (kind == K_END)
			put_le64(m + off + 12 + 16, chain);
		d = xxh64(m + off + 12, len, kind | (uint64_t)ver << 16 | (uint64_t)len << 32);
		check = (uint32_t)d ^ (uint32_t)(d >> 32);
		put_le32(m + off + 8, check);
		chain = xx_round(chain ^ ((uint64_t)kind << 32), check);
		off += 12 + len;
	}
}

/* The pipe id behind the image's fd n, or 0. */
static inline uint32_t img_fd_pipe(const struct img_plan *ip, uint32_t n)
{
	int i, j;

	for (i = 0; i < ip->nfds; i++) {
		if (ip->fd[i].fd != n)
			continue;
		for (j = 0; j < ip->nfiles; j++)
			if (ip->file[j].id == ip->fd[i].file)
				return ip->file[j].pipe;
	}
	return 0;
}

/* Moves this process's [vvar]/[vdso] mappings to where the image had them. */
static inline int move_specials(const struct img_plan *ip)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	struct { uint64_t s, e; char name[40]; } own[4];
	int n = 0, i, j;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < 4) {
		unsigned long s, e;
		char *name = strchr(line, '[');

		if (!name || sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		name[strcspn(name, "\n")] = 0;
		own[n].s = s;
		own[n].e = e;
		snprintf(own[n].name, sizeof(own[n].name), "%s", name);
		if (strstr(name, "[vdso]") || strstr(name, "[vvar"))
			n++;
	}
	fclose(f);
	for (i = 0; i < ip->nspecial; i++) {
		for (j = 0; j < n; j++) {
			if (strcmp(own[j].name, ip->special[i].name))
				continue;
			if (own[j].e - own[j].s != ip->special[i].end - ip->special[i].start)
				return -1;
			if (own[j].s != ip->special[i].start &&
			    mremap((void *)own[j].s, own[j].e - own[j].s, own[j].e - own[j].s,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   (void *)ip->special[i].start) == MAP_FAILED)
				return -1;
		}
	}
	return 0;
}

/*
 * fork() that gives the child pid @want (clone3 with set_tid, which needs
 * CAP_CHECKPOINT_RESTORE): 0 in the child, its pid in the parent, or -1 with
 * errno.
 */
static inline long fork_with_pid(pid_t want)
{
	struct clone_args {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
			 tls, set_tid, set_tid_size, cgroup;
	} ca;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&want;
	ca.set_tid_size = 1;
	return syscall(435 /* clone3 */, &ca, sizeof(ca));
}

/* If set, what restart_image's restarter does just before its ioctl. */
static void (*restart_image_hook)(void);

/*
 * Forks a restarter (with the image's pid if clone3 set_tid allows it) that
 * overlays itself with the image at path; pipes[] maps the image's pipe ids
 * to fresh pipes.  Returns its pid; the child _exit()s 100 + errno if the
 * ioctl fails before the point of no return.
 */
static inline pid_t restart_image(const char *path, const struct img_plan *ip,
				  struct ckpt_restart_pipe *pipes, int npipes, int keep_fd)
{
	long pid = fork_with_pid(ip->pid);

	if (pid < 0)
		pid = fork();
	if (pid)
		return pid;
	{
		struct ckpt_restart_args a;
		int dev = open(CKPT_DEV, O_RDWR);
		int img = open(path, O_RDONLY);

		(void)keep_fd;
		if (dev < 0 || img < 0 || chdir(ip->cwd) || move_specials(ip))
			_exit(99);
		/* The image's hard limits, and RLIMIT_CPU, through setrlimit(2), as
		 * ckpt restart takes them (soft limits: the module's). */
		for (int i = 0; ip->has_rlimits && i < 16; i++) {
			struct rlimit rl = { ip->rlim[i][1], ip->rlim[i][1] };

			if (i == RLIMIT_CPU || i == RLIMIT_NOFILE)
				rl.rlim_cur = ip->rlim[i][0];
			if (setrlimit(i, &rl))
				_exit(100 + errno);
		}
		memset(&a, 0, sizeof(a));
		a.fd = img;
		a.npipes = npipes;
		a.pipes = (uint64_t)(unsigned long)pipes;
		a.stdio[0] = a.stdio[1] = a.stdio[2] = -1;
		if (restart_image_hook)
			restart_image_hook();
		ioctl(dev, CKPT_IOC_RESTART, &a);
		fprintf(stderr, "# restart failed: %s (%s)\n", a.reason, strerror(errno));
		_exit(100 + errno);
	}
}

/*
 * Restarts a restartee image with a fresh pipe for each of its pipes; *ctl
 * gets the write end of the one behind its fd 3, *rep the read end of the
 * one behind its fd 4 (the others are closed here).  Returns the pid.
 */
static inline pid_t restart_with_fresh_pipes(const char *img, const struct img_plan *ip,
					     int *ctl, int *rep)
{
	struct ckpt_restart_pipe pp[16];
	uint32_t ctl_id = img_fd_pipe(ip, 3), rep_id = img_fd_pipe(ip, 4);
	int i, p[2];
	pid_t pid;

	*ctl = *rep = -1;
	memset(pp, 0, sizeof(pp));
	for (i = 0; i < ip->npipes; i++) {
		if (pipe(p))
			return -1;
		pp[i].id = ip->pipe[i].id;
		pp[i].rfd = p[0];
		pp[i].wfd = p[1];
		if (pp[i].id == ctl_id)
			*ctl = p[1];
		if (pp[i].id == rep_id)
			*rep = p[0];
	}
	pid = restart_image(img, ip, pp, ip->npipes, -1);
	for (i = 0; i < ip->npipes; i++) {
		if (pp[i].rfd != *rep)
			close(pp[i].rfd);
		if (pp[i].wfd != *ctl)
			close(pp[i].wfd);
	}
	return pid;
}

/* ---- shared by several selftests ------------------------------------------ */

/* Runs a shell command; returns its exit code (or 128 + signal). */
static inline int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/*
 * Prints each line of file @path through the harness, after "@who: " (a
 * macro: TH_LOG is the harness's, which is included after this header).
 */
#define SHOW_FILE(path, who)						\
	do {								\
		char _line[512];					\
		FILE *_f = fopen(path, "r");				\
									\
		while (_f && fgets(_line, sizeof(_line), _f)) {		\
			_line[strcspn(_line, "\n")] = 0;		\
			TH_LOG("%s: %s", who, _line);			\
		}							\
		if (_f)							\
			fclose(_f);					\
	} while (0)

/* Whether this kernel tracks soft-dirty pages (a VmFlags "sd" in smaps). */
static inline int soft_dirty(void)
{
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "VmFlags:", 8) && strstr(line, " sd");
	fclose(f);
	return found;
}

/* Drops every group and takes uid (and the same gid) as real, effective, saved. */
static inline int become(uid_t uid)
{
	return setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid);
}

/* Sets this process's permitted and effective capabilities to caps (bits). */
static inline int set_caps(uint64_t caps)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = (uint32_t)caps;
	d[1].permitted = d[1].effective = (uint32_t)(caps >> 32);
	return syscall(SYS_capset, &h, d);
}

/* Queues a checkpoint of pid through the shell interface (its number written
 * to /dev/ckpt); 0 or -1. */
static inline int shell_queue(pid_t pid)
{
	char cmd[32];
	int fd = open(CKPT_DEV, O_WRONLY), n = snprintf(cmd, sizeof(cmd), "%d\n", pid);
	int ok = fd >= 0 && write(fd, cmd, n) == n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Copies this program to path, owned by root with mode. */
static inline int copy_self(const char *path, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open("/proc/self/exe", O_RDONLY), out;

	unlink(path);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0700);
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	if (fchown(out, 0, 0) || fchmod(out, mode))
		return -1;
	return close(out);
}

/* The module's fault-injection knobs (debugfs, rust/fault.rs). */
#define CKPT_KNOBS "/sys/kernel/debug/ckpt/"

/* Arms knob (restart_fail_nth, checkpoint_fail_nth) with n; 0 or -1. */
static inline int arm_fault(const char *knob, int n)
{
	char path[128], v[16];
	int fd, len, ret;

	snprintf(path, sizeof(path), CKPT_KNOBS "%s", knob);
	fd = open(path, O_WRONLY);
	if (fd < 0 && errno == ENOENT && !mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
		fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	len = snprintf(v, sizeof(v), "%d\n", n);
	ret = write(fd, v, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

#endif /* CKPT_UTIL_H */
