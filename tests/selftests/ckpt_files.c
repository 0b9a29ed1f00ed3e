// SPDX-License-Identifier: GPL-2.0
/*
 * Files and mappings that must come back exactly, or be refused at
 * checkpoint time with a reason (issue 10):
 *
 * - a pseudo-terminal pair the program opened, the session's controlling
 *   terminal it made of it, and /dev/tty; the bytes waiting at a pair's
 *   ends in raw mode and the lines in canonical mode (restored, and still
 *   there for a program that runs on after its checkpoint); a slave whose
 *   master was closed; refused: input at a master in packet mode, and at a
 *   slave whose master is outside;
 * - a fifo opened write-only and read-write, with bytes buffered in it;
 * - read-only shared anonymous memory, MAP_SHARED of /dev/zero, memfd
 *   mappings (shared and private, the fd closed);
 * - files under /proc (its own /proc/PID entries and global ones); a /proc
 *   entry of a process outside the tree is refused, and one of a zombie of
 *   the tree is refused at restart;
 * - a deleted working directory (of root's and of a user's process, which
 *   only that user may enter); a chroot'ed process (its root, its working
 *   directory inside it, files inside and outside it);
 * - deleted ("ghost") files, open and mapped, with their contents, offsets,
 *   flags and mappings; one larger than the limit is refused; an unlinked
 *   name of a file that has another one (the same inode comes back);
 * - a symlink opened with O_PATH|O_NOFOLLOW; a deleted one, and an open
 *   deleted directory (whose parent is deleted too); a stale procfs magic
 *   link opened with O_PATH (its fd closed) is refused;
 * - a tree whose pipe and shared memory came from an ancestor that exited.
 *
 * Each program runs on its own (the test binary exec'ed with
 * CKPT_PROG=MODE, so no harness state comes along), sets up its state,
 * says it is ready, and waits for a "go" file.  The test checkpoints it with
 * `ckpt checkpoint --kill`, creates the go file and restarts it with `ckpt
 * restart`: the restored program checks its own state and exits 0, or with
 * the line of the first check that failed (its log: /tmp/files-MODE.log).
 */
#include "ckpt_util.h"
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"
#define PROG_NAME "files"
#include "ckpt_prog.h"
#define GHOST_LIMIT (64ULL << 20)	/* the module's default ghost_max */

/* ---- the programs -------------------------------------------------------- */

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7 + seed))
			return 0;
	return 1;
}

/* Whether a child that writes @v at @p is seen by this process (MAP_SHARED). */
static int shared_with_child(volatile unsigned char *p, unsigned char v)
{
	int status;
	pid_t c = fork();

	if (c == 0) {
		*p = v;
		_exit(0);
	}
	if (c < 0 || waitpid(c, &status, 0) != c || status)
		return 0;
	return *p == v;
}

static ssize_t read_all(int fd, char *buf, size_t n, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < n && poll(&pf, 1, ms) == 1) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* pty: a pair, its slave the controlling terminal, /dev/tty; no echo,
 * a window size. */
static struct {
	int master, slave, tty;
	char name[64];
	struct winsize ws;
} pty;

static int pty_setup(void)
{
	struct termios t;

	pty.master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(pty.master >= 0 && !grantpt(pty.master) && !unlockpt(pty.master));
	snprintf(pty.name, sizeof(pty.name), "%s", ptsname(pty.master));
	pty.slave = open(pty.name, O_RDWR);
	CHECK(pty.slave >= 0);
	CHECK(ioctl(pty.slave, TIOCSCTTY, 0) == 0);
	pty.tty = open("/dev/tty", O_RDWR);
	CHECK(pty.tty >= 0);
	CHECK(tcgetattr(pty.slave, &t) == 0);
	t.c_lflag &= ~ECHO;
	CHECK(tcsetattr(pty.slave, TCSANOW, &t) == 0);
	CHECK(fchown(pty.slave, 1234, 5) == 0 && fchmod(pty.slave, 0620) == 0);
	pty.ws = (struct winsize){ .ws_row = 33, .ws_col = 101 };
	CHECK(ioctl(pty.master, TIOCSWINSZ, &pty.ws) == 0);
	return 0;
}

static int pty_verify(void)
{
	struct winsize ws;
	struct termios t;
	char buf[64] = "";

	CHECK(ptsname(pty.master) && !strcmp(ptsname(pty.master), pty.name));
	CHECK(ttyname(pty.slave) && !strcmp(ttyname(pty.slave), pty.name));
	CHECK(tcgetsid(pty.slave) == getpid());
	{
		struct stat st;

		CHECK(fstat(pty.slave, &st) == 0 && st.st_uid == 1234 && st.st_gid == 5);
		CHECK((st.st_mode & 07777) == 0620);
	}
	CHECK(tcgetattr(pty.slave, &t) == 0 && !(t.c_lflag & ECHO));
	CHECK(ioctl(pty.slave, TIOCGWINSZ, &ws) == 0 && ws.ws_row == 33 && ws.ws_col == 101);
	/* master -> slave, no echo back */
	CHECK(write(pty.master, "ping\n", 5) == 5);
	CHECK(read_all(pty.slave, buf, 5, 2000) == 5 && !memcmp(buf, "ping\n", 5));
	CHECK(read_all(pty.master, buf, sizeof(buf), 100) == 0);
	/* slave -> master, /dev/tty -> master */
	CHECK(write(pty.slave, "pong", 4) == 4);
	CHECK(read_all(pty.master, buf, 4, 2000) == 4 && !memcmp(buf, "pong", 4));
	CHECK(write(pty.tty, "tty", 3) == 3);
	CHECK(read_all(pty.master, buf, 3, 2000) == 3 && !memcmp(buf, "tty", 3));
	return 0;
}

/* fifo: O_RDWR and O_WRONLY opens of a fifo, three bytes buffered. */
#define FIFO "/tmp/files-fifo"
static int fifo_rw, fifo_wo;

static int fifo_setup(void)
{
	int r;

	unlink(FIFO);
	CHECK(mkfifo(FIFO, 0600) == 0);
	/* The write-only one first (a lower fd): it is opened first again. */
	r = open(FIFO, O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0);
	fifo_wo = open(FIFO, O_WRONLY);
	CHECK(fifo_wo >= 0);
	fifo_rw = open(FIFO, O_RDWR);
	CHECK(fifo_rw >= 0);
	close(r);
	CHECK(write(fifo_wo, "abc", 3) == 3);
	return 0;
}

static int fifo_verify(void)
{
	char buf[8] = "";

	CHECK((fcntl(fifo_wo, F_GETFL) & O_ACCMODE) == O_WRONLY);
	CHECK((fcntl(fifo_rw, F_GETFL) & O_ACCMODE) == O_RDWR);
	CHECK(write(fifo_wo, "de", 2) == 2);
	CHECK(read_all(fifo_rw, buf, 5, 2000) == 5 && !memcmp(buf, "abcde", 5));
	CHECK(write(fifo_rw, "f", 1) == 1);
	CHECK(read_all(fifo_rw, buf, 1, 2000) == 1 && buf[0] == 'f');
	return 0;
}

/* dfifo: a deleted fifo, opened read-only and write-only, with bytes in it. */
#define DFIFO "/tmp/files-dfifo"
static int dfifo_r, dfifo_w;

static int dfifo_setup(void)
{
	unlink(DFIFO);
	CHECK(mkfifo(DFIFO, 0640) == 0);
	dfifo_r = open(DFIFO, O_RDONLY | O_NONBLOCK);
	CHECK(dfifo_r >= 0);
	dfifo_w = open(DFIFO, O_WRONLY);
	CHECK(dfifo_w >= 0 && write(dfifo_w, "xyz", 3) == 3);
	CHECK(unlink(DFIFO) == 0);
	return 0;
}

static int dfifo_verify(void)
{
	char buf[8] = "";
	struct stat st;

	CHECK(fstat(dfifo_r, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_nlink == 0);
	CHECK((st.st_mode & 07777) == 0640);
	CHECK((fcntl(dfifo_w, F_GETFL) & O_ACCMODE) == O_WRONLY);
	CHECK(write(dfifo_w, "w", 1) == 1);
	CHECK(read_all(dfifo_r, buf, 4, 2000) == 4 && !memcmp(buf, "xyzw", 4));
	CHECK(access(DFIFO, F_OK) != 0);
	return 0;
}

/* shro: read-only shared anonymous memory (one with data, one never
 * written); devzero: MAP_SHARED of /dev/zero. */
static unsigned char *shro, *shro2, *zmap, *zro;

static int shro_setup(void)
{
	shro = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shro != MAP_FAILED);
	fill(shro, 3 * 4096, 5);
	CHECK(mprotect(shro, 3 * 4096, PROT_READ) == 0);
	shro2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shro2 != MAP_FAILED);
	return 0;
}

static int shro_verify(void)
{
	CHECK(same(shro, 3 * 4096, 5));
	CHECK(shro2[0] == 0 && shro2[4095] == 0);
	CHECK(mprotect(shro, 3 * 4096, PROT_READ | PROT_WRITE) == 0);
	CHECK(shared_with_child(shro + 4096, 0xa5));
	return 0;
}

static int devzero_setup(void)
{
	int fd = open("/dev/zero", O_RDWR);

	CHECK(fd >= 0);
	zmap = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	zro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(zmap != MAP_FAILED && zro != MAP_FAILED);
	close(fd);
	fill(zmap, 4096, 9);
	fill(zro, 4096, 4);
	CHECK(mprotect(zro, 4096, PROT_READ) == 0);
	return 0;
}

static int devzero_verify(void)
{
	CHECK(same(zmap, 4096, 9));
	CHECK(zmap[4096] == 0 && zmap[2 * 4096 - 1] == 0);
	CHECK(same(zro, 4096, 4));
	CHECK(shared_with_child(zmap + 100, 0x5a));
	return 0;
}

/* memfd: an open memfd mapped shared and privately, and a second one mapped
 * only (its fd closed). */
static int mfd, mfd2;
static unsigned char *mshared, *mprivate, *monly;

static int memfd_setup(void)
{
	int fd2;

	char path[64];

	mfd = memfd_create("files-memfd", 0);
	CHECK(mfd >= 0 && ftruncate(mfd, 3 * 4096) == 0);
	/* A second open file description of the same memfd. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	mfd2 = open(path, O_RDONLY);
	CHECK(mfd2 >= 0 && lseek(mfd2, 7, SEEK_SET) == 7);
	mshared = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(mshared != MAP_FAILED);
	fill(mshared, 3 * 4096, 1);
	mprivate = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 4096);
	CHECK(mprivate != MAP_FAILED);
	mprivate[0] = 0xee;
	fd2 = memfd_create("files-memfd-2", 0);
	CHECK(fd2 >= 0 && ftruncate(fd2, 4096) == 0);
	monly = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	CHECK(monly != MAP_FAILED);
	fill(monly, 4096, 3);
	close(fd2);
	return 0;
}

static int memfd_verify(void)
{
	unsigned char b = 0;

	CHECK(same(mshared, 3 * 4096, 1));
	CHECK(mprivate[0] == 0xee && mprivate[1] == (unsigned char)(4097 * 7 + 1));
	CHECK(same(monly, 4096, 3));
	/* The shared mapping and the fd are one file. */
	mshared[5] = 0x42;
	CHECK(pread(mfd, &b, 1, 5) == 1 && b == 0x42);
	CHECK(pread(mfd2, &b, 1, 5) == 1 && b == 0x42);
	CHECK(lseek(mfd2, 0, SEEK_CUR) == 7 && lseek(mfd, 0, SEEK_CUR) == 0);
	CHECK((fcntl(mfd2, F_GETFL) & O_ACCMODE) == O_RDONLY);
	CHECK(shared_with_child(monly + 7, 0x17));
	return 0;
}

/* proc: its own /proc/PID/status (part read), /proc/self/stat, and
 * /proc/meminfo. */
static int proc_status, proc_stat, proc_meminfo;

static int proc_setup(void)
{
	char path[64], buf[16];

	snprintf(path, sizeof(path), "/proc/%d/status", getpid());
	proc_status = open(path, O_RDONLY);
	CHECK(proc_status >= 0 && read(proc_status, buf, sizeof(buf)) == sizeof(buf));
	proc_stat = open("/proc/self/stat", O_RDONLY);
	proc_meminfo = open("/proc/meminfo", O_RDONLY);
	CHECK(proc_stat >= 0 && proc_meminfo >= 0);
	return 0;
}

/* Whether the proc file @fd describes this process ("Pid:\t%d"). */
static int proc_is_mine(int fd)
{
	char buf[4096], want[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	return strstr(buf, want) != NULL;
}

static int proc_verify(void)
{
	char buf[64], want[32];
	ssize_t n;

	CHECK(lseek(proc_status, 0, SEEK_CUR) == 16);
	CHECK(proc_is_mine(proc_status));
	n = pread(proc_stat, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	buf[n] = 0;
	snprintf(want, sizeof(want), "%d (", getpid());
	CHECK(!strncmp(buf, want, strlen(want)));
	n = pread(proc_meminfo, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0 && !strncmp(buf, "MemTotal:", 9));
	return 0;
}

/* procother: a /proc entry of another process (its parent, the test). */
static int procother_setup(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", getppid());
	CHECK(open(path, O_RDONLY) >= 0);
	return 0;
}

/* chroot: the process lives in a chroot with a file open inside it. */
#define JAIL "/tmp/files-jail"
static int jail_fd;

static int chroot_setup(void)
{
	int fd;

	mkdir(JAIL, 0755);
	mkdir(JAIL "/sub", 0755);
	fd = open(JAIL "/sub/data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "jailed", 6) == 6);
	close(fd);
	/* The go file stays outside the jail. */
	go_dir = open("/tmp", O_PATH | O_DIRECTORY);
	CHECK(go_dir >= 0);
	CHECK(chroot(JAIL) == 0 && chdir("/sub") == 0);
	jail_fd = open("/sub/data", O_RDONLY);
	CHECK(jail_fd >= 0);
	return 0;
}

static int chroot_verify(void)
{
	char buf[8] = "", cwd[64] = "";
	struct stat st;

	CHECK(pread(jail_fd, buf, 6, 0) == 6 && !memcmp(buf, "jailed", 6));
	CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/sub"));
	CHECK(stat("/sub/data", &st) == 0 && st.st_size == 6);
	CHECK(access("/tmp/files-jail", F_OK) != 0);
	return 0;
}

/* dcwd: a working directory that was removed, also open as a directory. */
#define DCWD "/tmp/files-dcwd"
static int dcwd_fd;

static int dcwd_setup(void)
{
	rmdir(DCWD);
	CHECK(mkdir(DCWD, 0711) == 0 && chdir(DCWD) == 0);
	dcwd_fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(dcwd_fd >= 0 && rmdir(DCWD) == 0);
	return 0;
}

static int dcwd_verify(void)
{
	struct stat st, fst;

	CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0);
	CHECK((st.st_mode & 07777) == 0711);
	/* The open directory is the working directory. */
	CHECK(fstat(dcwd_fd, &fst) == 0 && fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
	CHECK(openat(dcwd_fd, "y", O_RDWR | O_CREAT, 0600) < 0 && errno == ENOENT);
	CHECK(access(DCWD, F_OK) != 0);
	CHECK(open("x", O_RDWR | O_CREAT, 0600) < 0 && errno == ENOENT);
	return 0;
}

/* dcwduser: the same as a user (not root), in a directory of its own that
 * only it may enter (0700, ZDTM's cwd02): the restart makes it again as that
 * user, so that the user's process can enter and open it. */
#define DCWD_USER "/tmp/files-dcwdu"
#define DCWD_UID 1000

static int dcwduser_setup(void)
{
	rmdir(DCWD_USER);
	/* Its log stays writable by it. */
	CHECK(fchown(1, DCWD_UID, DCWD_UID) == 0);
	CHECK(setresgid(DCWD_UID, DCWD_UID, DCWD_UID) == 0 &&
	      setresuid(DCWD_UID, DCWD_UID, DCWD_UID) == 0);
	CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
	CHECK(mkdir(DCWD_USER, 0700) == 0 && chdir(DCWD_USER) == 0);
	dcwd_fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(dcwd_fd >= 0 && rmdir(DCWD_USER) == 0);
	return 0;
}

static int dcwduser_verify(void)
{
	struct stat st, fst;

	CHECK(getuid() == DCWD_UID && geteuid() == DCWD_UID);
	CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0);
	CHECK((st.st_mode & 07777) == 0700 && st.st_uid == DCWD_UID && st.st_gid == DCWD_UID);
	CHECK(fstat(dcwd_fd, &fst) == 0 && fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
	return 0;
}

/* ghost: deleted files: one open read-write at an offset and mapped shared
 * (and privately, modified), one open read-only with O_APPEND-less flags,
 * one only mapped (its fd closed). */
#define GHOST_A "/tmp/files-ghost-a"
#define GHOST_B "/tmp/files-ghost-b"
#define GHOST_C "/tmp/files-ghost-c"
#define GHOST_A_SIZE (3 * 4096 + 100)
static int ga, gb;
static unsigned char *ga_shared, *ga_private, *gc_map;

static int ghost_setup(void)
{
	unsigned char buf[GHOST_A_SIZE];
	int gc;

	fill(buf, sizeof(buf), 11);
	ga = open(GHOST_A, O_RDWR | O_CREAT | O_TRUNC, 0640);
	CHECK(ga >= 0 && write(ga, buf, sizeof(buf)) == sizeof(buf));
	CHECK(lseek(ga, 5000, SEEK_SET) == 5000);
	CHECK(fchown(ga, 1234, 5678) == 0 && fchmod(ga, 0640) == 0);
	ga_shared = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ga, 0);
	ga_private = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ga, 4096);
	CHECK(ga_shared != MAP_FAILED && ga_private != MAP_FAILED);
	ga_private[1] = 0x99;
	gb = open(GHOST_B, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(gb >= 0 && write(gb, "bee", 3) == 3);
	close(gb);
	gb = open(GHOST_B, O_RDONLY | O_NOATIME);
	CHECK(gb >= 0 && lseek(gb, 1, SEEK_SET) == 1);
	gc = open(GHOST_C, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(gc >= 0 && ftruncate(gc, 8192) == 0);
	gc_map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, gc, 0);
	CHECK(gc_map != MAP_FAILED);
	fill(gc_map + 4096, 4096, 13);
	close(gc);
	CHECK(!unlink(GHOST_A) && !unlink(GHOST_B) && !unlink(GHOST_C));
	return 0;
}

static int ghost_verify(void)
{
	unsigned char buf[GHOST_A_SIZE], b = 0;
	struct stat st;
	char c = 0;

	CHECK(fstat(ga, &st) == 0 && st.st_nlink == 0 && st.st_size == GHOST_A_SIZE);
	CHECK((st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode));
	CHECK(st.st_uid == 1234 && st.st_gid == 5678);
	CHECK(lseek(ga, 0, SEEK_CUR) == 5000);
	CHECK((fcntl(ga, F_GETFL) & O_ACCMODE) == O_RDWR);
	CHECK(pread(ga, buf, sizeof(buf), 0) == sizeof(buf) && same(buf, sizeof(buf), 11));
	CHECK(same(ga_shared, GHOST_A_SIZE, 11));
	CHECK(ga_private[1] == 0x99 && ga_private[0] == (unsigned char)(4096 * 7 + 11));
	/* The mapping and the fd are one file. */
	ga_shared[3] = 0x77;
	CHECK(pread(ga, &b, 1, 3) == 1 && b == 0x77);
	CHECK(fstat(gb, &st) == 0 && st.st_nlink == 0 && st.st_size == 3);
	CHECK((fcntl(gb, F_GETFL) & (O_ACCMODE | O_NOATIME)) == (O_RDONLY | O_NOATIME));
	CHECK(read(gb, &c, 1) == 1 && c == 'e');
	CHECK(write(gb, "x", 1) < 0);
	CHECK(gc_map[0] == 0 && same(gc_map + 4096, 4096, 13));
	CHECK(shared_with_child(gc_map + 9, 0x3c));
	CHECK(access(GHOST_A, F_OK) != 0 && access(GHOST_B, F_OK) != 0);
	return 0;
}

/* ghostsparse: a deleted file of 1 GiB + 4 KiB with 4 KiB of data at each
 * end (ZDTM's ghost_holes_large00): its data, not its size, counts against
 * the limit; it comes back with its size, both blocks and its hole. */
#define SPARSE_FD 60
#define SPARSE_FAR (1ULL << 30)

static int ghostsparse_setup(void)
{
	char a[4096], b[4096];
	int fd = open("/tmp/files-ghost-sparse", O_RDWR | O_CREAT | O_TRUNC, 0600);

	memset(a, 0x61, sizeof(a));
	memset(b, 0x62, sizeof(b));
	CHECK(fd >= 0 && dup2(fd, SPARSE_FD) == SPARSE_FD && close(fd) == 0);
	CHECK(pwrite(SPARSE_FD, a, sizeof(a), 0) == sizeof(a));
	CHECK(pwrite(SPARSE_FD, b, sizeof(b), SPARSE_FAR) == sizeof(b));
	CHECK(unlink("/tmp/files-ghost-sparse") == 0);
	return 0;
}

static int ghostsparse_verify(void)
{
	char buf[4096];
	struct stat st;

	CHECK(fstat(SPARSE_FD, &st) == 0 && st.st_size == (off_t)(SPARSE_FAR + 4096));
	CHECK(st.st_nlink == 0 && st.st_blocks * 512 < (1 << 20));
	CHECK(pread(SPARSE_FD, buf, sizeof(buf), 0) == sizeof(buf) && buf[0] == 0x61 &&
	      buf[4095] == 0x61);
	CHECK(pread(SPARSE_FD, buf, sizeof(buf), SPARSE_FAR) == sizeof(buf) && buf[0] == 0x62);
	CHECK(pread(SPARSE_FD, buf, sizeof(buf), SPARSE_FAR / 2) == sizeof(buf) && buf[7] == 0);
	return 0;
}

/* ghostbig: a deleted file larger than the limit (sparse, nothing allocated:
 * its size counts). */
static int ghostbig_setup(void)
{
	int fd = open("/tmp/files-ghost-big", O_RDWR | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && ftruncate(fd, GHOST_LIMIT + 1) == 0);
	CHECK(unlink("/tmp/files-ghost-big") == 0);
	return 0;
}

/* magiclink: an O_PATH|O_NOFOLLOW fd of /proc/self/fd/N whose fd N was
 * closed (a stat of the name invalidates the dentry the O_PATH fd holds: it
 * reads "... (deleted)"), then N opened again: a stale magic link, refused
 * (it once oopsed the checkpoint: vfs_get_link on it needs a nameidata). */
#define MAGIC_FD 40

static int magiclink_setup(void)
{
	struct stat st;
	char buf[128];
	int ml, null = open("/dev/null", O_RDONLY);

	CHECK(null >= 0 && dup2(null, MAGIC_FD) == MAGIC_FD);
	ml = open("/proc/self/fd/40", O_PATH | O_NOFOLLOW);
	CHECK(ml >= 0 && close(MAGIC_FD) == 0);
	CHECK(stat("/proc/self/fd/40", &st) < 0);
	CHECK(dup2(null, MAGIC_FD) == MAGIC_FD);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", ml);
	memset(buf + 64, 0, 64);
	CHECK(readlink(buf, buf + 64, 63) > 0 && strstr(buf + 64, "(deleted)"));
	return 0;
}

/* proczombie: /proc/CHILD/status of a child that exited and was not reaped
 * (a zombie of the tree): the restart refuses it, as nothing of the restart
 * gives that pid (ckpt restart makes zombies again outside it). */
static int proczombie_setup(void)
{
	char path[64];
	pid_t c = fork();

	CHECK(c >= 0);
	if (c == 0)
		_exit(0);
	for (int i = 0; i < 500 && proc_state(c) != 'Z'; i++)
		sleep_ms(10);
	CHECK(proc_state(c) == 'Z');
	snprintf(path, sizeof(path), "/proc/%d/status", c);
	CHECK(open(path, O_RDONLY) >= 0);
	return 0;
}

/* ptyunread: bytes written by the slave and not read by a master in packet
 * mode (TIOCPKT: its reads carry a status byte): refused. */
static int ptyunread_setup(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY), s, on = 1;

	CHECK(m >= 0 && !grantpt(m) && !unlockpt(m) && ioctl(m, TIOCPKT, &on) == 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	CHECK(s >= 0 && write(s, "unread", 6) == 6);
	return 0;
}

/* ptycanon: lines waiting at a pty slave in canonical mode (echo off), as
 * the line discipline edited them: a CR mapped to NL, a line ended by an
 * end-of-file character, an empty one, and the line being typed with an
 * erased character and a quoted ^C.  The restored (or still running)
 * program reads the same lines, one per read, and the line being typed ends
 * only when the master sends its newline. */
static int pcanon_m, pcanon_s;

static int ptycanon_setup(void)
{
	static const char in[] = "one\r" "two\n" "ab\x04" "\x04" "x\x7fy\x16\x03z";
	struct termios t;

	pcanon_m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(pcanon_m >= 0 && !grantpt(pcanon_m) && !unlockpt(pcanon_m));
	pcanon_s = open(ptsname(pcanon_m), O_RDWR | O_NOCTTY);
	CHECK(pcanon_s >= 0 && tcgetattr(pcanon_s, &t) == 0);
	CHECK((t.c_lflag & (ICANON | IEXTEN)) == (ICANON | IEXTEN) && (t.c_iflag & ICRNL));
	CHECK(t.c_cc[VEOF] == 4 && t.c_cc[VERASE] == 0x7f && t.c_cc[VLNEXT] == 0x16);
	t.c_lflag &= ~ECHO;
	CHECK(tcsetattr(pcanon_s, TCSANOW, &t) == 0);
	CHECK(write(pcanon_m, in, sizeof(in) - 1) == sizeof(in) - 1);
	return 0;
}

static int ptycanon_verify(void)
{
	struct pollfd pf = { .fd = pcanon_s, .events = POLLIN };
	struct termios t;
	char buf[64];

	CHECK(tcgetattr(pcanon_s, &t) == 0 && (t.c_lflag & ICANON) && !(t.c_lflag & ECHO));
	CHECK(t.c_cc[VEOF] == 4 && t.c_cc[VERASE] == 0x7f);
	CHECK(poll(&pf, 1, 2000) == 1);
	CHECK(read(pcanon_s, buf, sizeof(buf)) == 4 && !memcmp(buf, "one\n", 4));
	CHECK(read(pcanon_s, buf, sizeof(buf)) == 4 && !memcmp(buf, "two\n", 4));
	CHECK(read(pcanon_s, buf, sizeof(buf)) == 2 && !memcmp(buf, "ab", 2));
	CHECK(read(pcanon_s, buf, sizeof(buf)) == 0);
	/* The line being typed is not a line yet. */
	CHECK(poll(&pf, 1, 200) == 0);
	CHECK(write(pcanon_m, "\n", 1) == 1);
	CHECK(poll(&pf, 1, 2000) == 1);
	CHECK(read(pcanon_s, buf, sizeof(buf)) == 4 && !memcmp(buf, "y\x03z\n", 4));
	/* Nothing was echoed, before or after. */
	CHECK(read_all(pcanon_m, buf, 1, 200) == 0);
	return 0;
}

/* ptyraw: bytes waiting at both ends of a pty pair in raw mode, more at each
 * than a line discipline's buffer holds (the rest waits in the flip buffer):
 * the restored program, or the one that goes on after the checkpoint, reads
 * exactly them, in order; the slave's output processing (ONLCR), applied when
 * they were written, is not applied again. */
#define PTYRAW_IN 6000
#define PTYRAW_OUT 5000
static int praw_m, praw_s;
static unsigned char praw_in[PTYRAW_IN], praw_out[4 + PTYRAW_OUT];

/* A pair in praw_m, praw_s, the slave raw (cfmakeraw) with output flags @oflag. */
static int raw_pair(tcflag_t oflag)
{
	struct termios t;

	praw_m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(praw_m >= 0 && !grantpt(praw_m) && !unlockpt(praw_m));
	praw_s = open(ptsname(praw_m), O_RDWR | O_NOCTTY);
	CHECK(praw_s >= 0 && tcgetattr(praw_s, &t) == 0);
	cfmakeraw(&t);
	t.c_oflag |= oflag;
	CHECK(tcsetattr(praw_s, TCSANOW, &t) == 0);
	return 0;
}

static int ptyraw_setup(void)
{
	int rc = raw_pair(OPOST | ONLCR);

	if (rc)
		return rc;
	fill(praw_in, PTYRAW_IN, 3);	/* every byte value, \r, \n and \0 too */
	CHECK(write(praw_m, praw_in, PTYRAW_IN) == PTYRAW_IN);
	memcpy(praw_out, "a\r\nb", 4);
	for (int i = 0; i < PTYRAW_OUT; i++)
		praw_out[4 + i] = 'A' + i % 26;
	CHECK(write(praw_s, "a\nb", 3) == 3);
	CHECK(write(praw_s, praw_out + 4, PTYRAW_OUT) == PTYRAW_OUT);
	return 0;
}

static int ptyraw_verify(void)
{
	static char buf[PTYRAW_IN + 16];
	struct termios t;

	CHECK(tcgetattr(praw_s, &t) == 0 && !(t.c_lflag & ICANON));
	CHECK((t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR));
	CHECK(read_all(praw_m, buf, sizeof(praw_out), 2000) == sizeof(praw_out));
	CHECK(!memcmp(buf, praw_out, sizeof(praw_out)));
	CHECK(read_all(praw_m, buf, 1, 200) == 0);
	CHECK(read_all(praw_s, buf, PTYRAW_IN, 2000) == PTYRAW_IN);
	CHECK(!memcmp(buf, praw_in, PTYRAW_IN));
	CHECK(read_all(praw_s, buf, 1, 200) == 0);
	/* Both ways still work. */
	CHECK(write(praw_m, "x\r", 2) == 2 && read_all(praw_s, buf, 2, 2000) == 2);
	CHECK(!memcmp(buf, "x\r", 2));
	CHECK(write(praw_s, "y\n", 2) == 2 && read_all(praw_m, buf, 3, 2000) == 3);
	CHECK(!memcmp(buf, "y\r\n", 3));
	return 0;
}

/* ptyslave: bytes waiting at a raw pty slave whose master the program does not
 * have (its parent keeps it): they could not be given back, so the
 * checkpoint is refused. */
static int ptyslave_setup(void)
{
	int rc = raw_pair(0);

	if (rc)
		return rc;
	CHECK(write(praw_m, "typed ahead", 11) == 11);
	return 0;
}

/* ptyclosed: a pty slave whose master was closed (the kernel hung it up and
 * removed its node), open twice (one description also dup'ed, the other
 * non-blocking): after restart each fd reads nothing, fails writes and ioctls
 * with EIO, polls as hung up, and the descriptions are shared as before. */
static int pc_s1, pc_s2, pc_s3;

static int ptyclosed_state(void)
{
	char buf[8], link[64], path[64];
	struct termios t;
	struct pollfd pf = { .events = POLLIN };
	ssize_t n;

	CHECK(read(pc_s1, buf, 1) == 0 && read(pc_s2, buf, 1) == 0);
	CHECK(write(pc_s1, "x", 1) < 0 && errno == EIO);
	CHECK(tcgetattr(pc_s3, &t) < 0 && errno == EIO);
	pf.fd = pc_s2;
	CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pc_s1);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n > 0);
	link[n] = 0;
	CHECK(!strncmp(link, "/dev/pts/", 9) && strstr(link, " (deleted)"));
	return 0;
}

static int ptyclosed_setup(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	CHECK(m >= 0 && !grantpt(m) && !unlockpt(m));
	pc_s1 = open(ptsname(m), O_RDWR | O_NOCTTY);
	pc_s2 = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	CHECK(pc_s1 >= 0 && pc_s2 >= 0);
	pc_s3 = dup(pc_s1);
	CHECK(pc_s3 >= 0 && close(m) == 0);
	return ptyclosed_state();
}

static int ptyclosed_verify(void)
{
	int rc = ptyclosed_state();

	if (rc)
		return rc;
	CHECK(!(fcntl(pc_s1, F_GETFL) & O_NONBLOCK) && (fcntl(pc_s2, F_GETFL) & O_NONBLOCK));
	/* s3 is s1's description, s2 its own. */
	CHECK(fcntl(pc_s3, F_SETFL, O_NONBLOCK) == 0 && (fcntl(pc_s1, F_GETFL) & O_NONBLOCK));
	CHECK(fcntl(pc_s2, F_SETFL, 0) == 0 && (fcntl(pc_s1, F_GETFL) & O_NONBLOCK));
	return 0;
}

/* hardlink: an unlinked name of a file that has another one: the same inode
 * comes back, at its offset, through the name that is left. */
static int hl_fd;
static struct stat hl_st;

static int hardlink_setup(void)
{
	hl_fd = open("/tmp/files-hl-a", O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink("/tmp/files-hl-b");
	CHECK(hl_fd >= 0 && link("/tmp/files-hl-a", "/tmp/files-hl-b") == 0);
	CHECK(unlink("/tmp/files-hl-a") == 0);
	CHECK(write(hl_fd, "linked", 6) == 6 && fstat(hl_fd, &hl_st) == 0);
	return 0;
}

static int hardlink_verify(void)
{
	struct stat st, named;
	char buf[8] = "";

	CHECK(fstat(hl_fd, &st) == 0 && stat("/tmp/files-hl-b", &named) == 0);
	CHECK(st.st_ino == hl_st.st_ino && st.st_dev == hl_st.st_dev);
	CHECK(st.st_ino == named.st_ino && st.st_nlink == 1);
	CHECK(lseek(hl_fd, 0, SEEK_CUR) == 6);
	CHECK(fcntl(hl_fd, F_GETFL) & O_RDWR);
	CHECK(pread(hl_fd, buf, 6, 0) == 6 && !memcmp(buf, "linked", 6));
	CHECK(access("/tmp/files-hl-a", F_OK) != 0);
	return 0;
}

/* ddir: an open directory that was removed, with its parent (not the working
 * directory); dlink: a symlink opened with O_PATH, then removed. */
#define DDIR "/tmp/files-ddir"
#define DLINK "/tmp/files-dlink"
static int ddir_fd, dlink_fd;

static int ddir_setup(void)
{
	rmdir(DDIR "/sub");
	rmdir(DDIR);
	CHECK(mkdir(DDIR, 0755) == 0 && mkdir(DDIR "/sub", 0710) == 0);
	ddir_fd = open(DDIR "/sub", O_RDONLY | O_DIRECTORY);
	CHECK(ddir_fd >= 0 && rmdir(DDIR "/sub") == 0 && rmdir(DDIR) == 0);
	unlink(DLINK);
	CHECK(symlink("/tmp/files-nowhere", DLINK) == 0);
	dlink_fd = open(DLINK, O_PATH | O_NOFOLLOW);
	CHECK(dlink_fd >= 0 && unlink(DLINK) == 0);
	return 0;
}

static int ddir_verify(void)
{
	char buf[64] = "", fdpath[64];
	struct stat st;

	CHECK(fstat(ddir_fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0);
	CHECK((st.st_mode & 07777) == 0710 && st.st_uid == getuid());
	CHECK(openat(ddir_fd, "x", O_RDWR | O_CREAT, 0600) < 0 && errno == ENOENT);
	CHECK(access(DDIR, F_OK) != 0);
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", ddir_fd);
	CHECK(readlink(fdpath, buf, sizeof(buf)) > 0 && strstr(buf, "(deleted)"));
	CHECK(fstatat(dlink_fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode));
	CHECK(st.st_nlink == 0);
	memset(buf, 0, sizeof(buf));
	CHECK(readlinkat(dlink_fd, "", buf, sizeof(buf)) == 18);
	CHECK(!memcmp(buf, "/tmp/files-nowhere", 18));
	CHECK(fcntl(dlink_fd, F_GETFL) & O_PATH);
	CHECK(access(DLINK, F_OK) != 0);
	return 0;
}

/* opath: a symlink opened with O_PATH|O_NOFOLLOW, and a file through
 * O_PATH. */
#define LINK "/tmp/files-link"
static int opath_link, opath_file;

static int opath_setup(void)
{
	unlink(LINK);
	CHECK(symlink("/tmp/files-link-target", LINK) == 0);
	opath_link = open(LINK, O_PATH | O_NOFOLLOW);
	CHECK(opath_link >= 0);
	opath_file = open("/tmp", O_PATH | O_DIRECTORY);
	CHECK(opath_file >= 0);
	return 0;
}

static int opath_verify(void)
{
	char buf[64] = "";
	struct stat st;

	CHECK(fstatat(opath_link, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode));
	CHECK(readlinkat(opath_link, "", buf, sizeof(buf)) == 22);
	CHECK(!memcmp(buf, "/tmp/files-link-target", 22));
	CHECK(fcntl(opath_link, F_GETFL) & O_PATH);
	CHECK(fcntl(opath_file, F_GETFL) & O_PATH);
	CHECK(fstat(opath_file, &st) == 0 && S_ISDIR(st.st_mode));
	return 0;
}

/* ancestor: the program (A) makes a pipe and shared memory, forks T, and
 * exits a little later (as a launcher does once its child is ready): the
 * checkpoint of T's tree starts while A still holds both.  T (reparented to
 * the test, a subreaper) keeps them, and forks a child C that shares them. */
static int anc_pipe[2];
static volatile unsigned char *anc_shm;
static pid_t anc_child;

static int ancestor_setup(void)
{
	anc_shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(anc_shm != MAP_FAILED && pipe(anc_pipe) == 0);
	anc_shm[0] = 1;
	CHECK(write(anc_pipe[1], "q", 1) == 1);
	return 0;
}

static int ancestor_verify(void)
{
	char c = 0;
	int status;

	CHECK(read_all(anc_pipe[0], &c, 1, 2000) == 1 && c == 'q');
	CHECK(anc_shm[0] == 1);
	/* The child is restored with us and still shares both. */
	CHECK(write(anc_pipe[1], "z", 1) == 1);
	kill(anc_child, SIGUSR1);
	CHECK(waitpid(anc_child, &status, 0) == anc_child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(anc_shm[0] == 2);
	return 0;
}

static volatile sig_atomic_t anc_go;
static void anc_usr1(int s) { (void)s; anc_go = 1; }

static const struct prog progs[] = {
	{ "pty", pty_setup, pty_verify },
	{ "fifo", fifo_setup, fifo_verify },
	{ "dfifo", dfifo_setup, dfifo_verify },
	{ "shro", shro_setup, shro_verify },
	{ "devzero", devzero_setup, devzero_verify },
	{ "memfd", memfd_setup, memfd_verify },
	{ "proc", proc_setup, proc_verify },
	{ "procother", procother_setup, NULL },
	{ "chroot", chroot_setup, chroot_verify },
	{ "dcwd", dcwd_setup, dcwd_verify },
	{ "dcwduser", dcwduser_setup, dcwduser_verify },
	{ "ghost", ghost_setup, ghost_verify },
	{ "ghostbig", ghostbig_setup, NULL },
	{ "ghostsparse", ghostsparse_setup, ghostsparse_verify },
	{ "ptyunread", ptyunread_setup, NULL },
	{ "ptyraw", ptyraw_setup, ptyraw_verify },
	{ "ptycanon", ptycanon_setup, ptycanon_verify },
	{ "ptyslave", ptyslave_setup, NULL },
	{ "ptyclosed", ptyclosed_setup, ptyclosed_verify },
	{ "magiclink", magiclink_setup, NULL },
	{ "proczombie", proczombie_setup, NULL },
	{ "hardlink", hardlink_setup, hardlink_verify },
	{ "ddir", ddir_setup, ddir_verify },
	{ "opath", opath_setup, opath_verify },
	{ "ancestor", ancestor_setup, ancestor_verify },
};

/* "ancestor", A: forks T, which carries on (and says it is ready); A exits a
 * second later. */
static void ancestor_fork(int ready)
{
	pid_t t;

	if (!strcmp(mode, "ptyslave")) {
		/* The child, with only the slave, is the program; the parent
		 * keeps the master until it is killed. */
		t = fork();
		if (t) {
			close(ready);
			for (;;)
				pause();
		}
		close(praw_m);
		return;
	}
	if (strcmp(mode, "ancestor"))
		return;
	t = fork();
	if (t) {
		close(ready);
		sleep_ms(1000);
		_exit(t < 0 ? 3 : 0);
	}
	anc_child = fork();
	if (anc_child == 0) {
		char c = 0;

		close(ready);
		signal(SIGUSR1, anc_usr1);
		while (!anc_go)
			sleep_ms(10);
		if (read_all(anc_pipe[0], &c, 1, 2000) != 1 || c != 'z')
			_exit(4);
		anc_shm[0] = 2;
		_exit(0);
	}
}

__attribute__((constructor)) static void files_prog(void)
{
	prog_main(progs, sizeof(progs) / sizeof(progs[0]), ancestor_fork);
}

/* ---- the test side ------------------------------------------------------- */

FIXTURE(files) {
	char img[64];
};

FIXTURE_SETUP(files)
{
	/* Restored programs are orphans: the test reaps them. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	snprintf(self->img, sizeof(self->img), "/tmp/files-%d.img", getpid());
}

FIXTURE_TEARDOWN(files)
{
	unlink(self->img);
}

TEST_F_TIMEOUT(files, pty_pair_and_controlling_terminal, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "pty", false));
}

TEST_F_TIMEOUT(files, fifo_write_only_and_read_write, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "fifo", false));
	unlink(FIFO);
}

TEST_F_TIMEOUT(files, deleted_fifo, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "dfifo", false));
}

TEST_F_TIMEOUT(files, read_only_shared_anonymous_memory, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "shro", false));
}

TEST_F_TIMEOUT(files, shared_dev_zero_mapping, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "devzero", false));
}

TEST_F_TIMEOUT(files, memfd_mappings, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "memfd", false));
}

TEST_F_TIMEOUT(files, proc_files_of_its_own, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "proc", false));
}

TEST_F_TIMEOUT(files, proc_file_of_another_process_is_refused, 60)
{
	check_refuses(_metadata, "procother", "/proc");
}

TEST_F_TIMEOUT(files, chroot, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "chroot", false));
	sh("rm -rf " JAIL);
}

TEST_F_TIMEOUT(files, deleted_working_directory, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "dcwd", false));
}

TEST_F_TIMEOUT(files, deleted_working_directory_of_a_user, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "dcwduser", false));
}

TEST_F_TIMEOUT(files, deleted_files, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ghost", false));
}

TEST_F_TIMEOUT(files, deleted_file_over_the_limit_is_refused, 60)
{
	check_refuses(_metadata, "ghostbig", "limit");
}

TEST_F_TIMEOUT(files, deleted_sparse_file_counts_its_data_not_its_size, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ghostsparse", false));
}

TEST_F_TIMEOUT(files, stale_procfs_magic_link_is_refused, 60)
{
	pid_t pid;

	check_refuses(_metadata, "magiclink", "magic link");
	/* The checkpoint itself refuses it too, with the reason (no oops). */
	pid = start_prog("magiclink");
	ASSERT_LT(0, pid);
	EXPECT_NE(0, sh(CKPT " checkpoint %d -o %s > /tmp/files-ml.out 2>&1", pid, self->img));
	EXPECT_EQ(0, sh("grep -q 'magic link' /tmp/files-ml.out"));
	kill_reap(pid);
}

TEST_F_TIMEOUT(files, proc_file_of_a_zombie_is_refused_at_restart, 120)
{
	pid_t pid = start_prog("proczombie");

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, sh(CKPT " checkpoint %d -o %s --tree --kill -q > /tmp/files-pz.out 2>&1",
			pid, self->img));
	kill_reap(pid);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	EXPECT_NE(0, sh("timeout -s KILL 60 " CKPT " restart %s -q > /tmp/files-pz.out 2>&1",
			self->img));
	EXPECT_EQ(0, sh("grep -q zombie /tmp/files-pz.out"));
	sh("cat /tmp/files-pz.out");
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

TEST_F_TIMEOUT(files, pty_with_unread_input_in_packet_mode_is_refused, 60)
{
	check_refuses(_metadata, "ptyunread", "cannot be given back exactly");
}

TEST_F_TIMEOUT(files, pty_unread_lines_in_canonical_mode_come_back, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ptycanon", false));
}

TEST_F_TIMEOUT(files, pty_unread_input_in_raw_mode_comes_back, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ptyraw", false));
}

/* Checkpoints program @m with --leave-running and lets the program that
 * goes on check itself; returns its exit code (-1: the checkpoint failed). */
static int live_check(struct __test_metadata *_metadata, const char *img, const char *m)
{
	pid_t pid = start_prog(m);
	char go[64];
	int rc, status = -1;

	if (pid <= 0)
		return -1;
	rc = sh(CKPT " checkpoint %d -o %s --leave-running -q > /tmp/" PROG_NAME "-ckpt.out 2>&1",
		pid, img);
	if (rc)
		SHOW_FILE("/tmp/" PROG_NAME "-ckpt.out", "checkpoint");
	snprintf(go, sizeof(go), "/tmp/" PROG_NAME "-go-%d", pid);
	close(open(go, O_WRONLY | O_CREAT, 0600));
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	unlink(go);
	if (rc)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		show_log(_metadata, m);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The checkpoint reads the bytes out and gives them back: the program that
 * goes on reads them as if nothing happened. */
TEST_F_TIMEOUT(files, pty_unread_input_stays_after_a_checkpoint, 120)
{
	EXPECT_EQ(0, live_check(_metadata, self->img, "ptyraw"));
	EXPECT_EQ(0, live_check(_metadata, self->img, "ptycanon"));
}

TEST_F_TIMEOUT(files, pty_unread_input_at_a_slave_without_its_master_is_refused, 60)
{
	pid_t pid = start_prog("ptyslave");
	char line[512] = "";
	FILE *f;
	int rc;

	ASSERT_LT(0, pid);
	rc = sh(CKPT " checkpoint %d -o %s -q > /tmp/" PROG_NAME "-ckpt.out 2>&1", pid, self->img);
	f = fopen("/tmp/" PROG_NAME "-ckpt.out", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	EXPECT_NE(0, rc);
	EXPECT_NE(NULL, strstr(line, "master is held by a process outside")) TH_LOG("reason: %s", line);
	kill(-getsid(pid), SIGKILL);
	kill_reap(pid);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

TEST_F_TIMEOUT(files, pty_slave_whose_master_was_closed, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ptyclosed", false));
}

TEST_F_TIMEOUT(files, unlinked_name_of_a_hard_linked_file, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "hardlink", false));
	unlink("/tmp/files-hl-b");
}

TEST_F_TIMEOUT(files, deleted_directory_and_symlink, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ddir", false));
}

TEST_F_TIMEOUT(files, symlink_opened_with_o_path, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "opath", false));
	unlink(LINK);
}

TEST_F_TIMEOUT(files, tree_sharing_with_an_exited_ancestor, 120)
{
	EXPECT_EQ(0, round_trip(_metadata, self->img, "ancestor", true));
}

TEST_HARNESS_MAIN
