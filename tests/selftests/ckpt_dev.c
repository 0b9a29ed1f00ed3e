// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_dev: the /dev/ckpt device skeleton.
 *
 * The device node exists and is a misc character device, CKPT_IOC_VERSION
 * reports the ABI this header describes, and ioctls the module does not
 * know fail with ENOTTY; in a boot with kho=on, a failed CKPT_IOC_HANDOVER
 * PUT keeps the set put before.  Every test is skipped when /dev/ckpt is missing
 * (module not loaded), so this binary is harmless outside the test VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/ckpt.h>

#include "kselftest_harness.h"

#define CKPT_DEV	"/dev/ckpt"
#define MISC_MAJOR	10

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(CKPT_DEV, O_RDONLY | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "%s missing: is ckpt.ko loaded?", CKPT_DEV);
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", CKPT_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, is_misc_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(CKPT_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(MISC_MAJOR, major(st.st_rdev));
}

TEST_F(dev, version)
{
	struct ckpt_version v;

	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(self->fd, CKPT_IOC_VERSION, &v))
		TH_LOG("CKPT_IOC_VERSION: %s", strerror(errno));
	EXPECT_EQ(CKPT_ABI_VERSION, v.abi_version);
	EXPECT_EQ(1, v.image_major);
	ASSERT_NE(NULL, memchr(v.release, '\0', sizeof(v.release)))
		TH_LOG("release string is not NUL-terminated");
	EXPECT_LT(0, strlen(v.release));
	TH_LOG("abi %u, image %u.%u, features %#llx, release \"%s\"",
	       v.abi_version, v.image_major, v.image_minor,
	       (unsigned long long)v.features, v.release);
}

TEST_F(dev, version_bad_pointer)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CKPT_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, unknown_ioctl_nr)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IO(CKPT_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, foreign_magic)
{
	struct ckpt_version v;

	/* Same number and size as CKPT_IOC_VERSION, another driver's magic. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOR('k', 0x00, struct ckpt_version), &v));
	EXPECT_EQ(ENOTTY, errno);
}

/* One CKPT_IOC_HANDOVER op: 0 or the errno; @a has the sizes after it. */
static int handover(int fd, struct ckpt_handover_args *a, __u32 op, const void *buf, __u64 len)
{
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->buf = (__u64)(unsigned long)buf;
	a->len = len;
	return ioctl(fd, CKPT_IOC_HANDOVER, a) ? errno : 0;
}

/*
 * Kexec handover (a boot with kho=on only): a PUT that fails keeps the set
 * handed over before, whole (it was dropped first once).
 */
TEST_F(dev, handover_failed_put_keeps_the_previous_set)
{
	static char data[3 * 4096 + 5];
	struct ckpt_handover_args a;
	int rw = open(CKPT_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, rw);
	ASSERT_EQ(0, handover(rw, &a, CKPT_HANDOVER_STATUS, NULL, 0));
	if (!(a.flags & CKPT_HANDOVER_ENABLED)) {
		close(rw);
		SKIP(return, "kexec handover off (boot with kho=on)");
	}
	memset(data, 'k', sizeof(data));
	ASSERT_EQ(0, handover(rw, &a, CKPT_HANDOVER_PUT, data, sizeof(data)));
	EXPECT_EQ(sizeof(data), a.out_size);
	/* Unreadable bytes: EFAULT, and the first set stays. */
	EXPECT_EQ(EFAULT, handover(rw, &a, CKPT_HANDOVER_PUT, (void *)4096, 8192));
	ASSERT_EQ(0, handover(rw, &a, CKPT_HANDOVER_STATUS, NULL, 0));
	EXPECT_EQ(sizeof(data), a.out_size);
	/* A second good PUT replaces it. */
	ASSERT_EQ(0, handover(rw, &a, CKPT_HANDOVER_PUT, data, 100));
	EXPECT_EQ(100, a.out_size);
	ASSERT_EQ(0, handover(rw, &a, CKPT_HANDOVER_DROP, NULL, 0));
	EXPECT_EQ(0, a.out_size);
	close(rw);
}

TEST_HARNESS_MAIN
