#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The real-programs lane inside the VM (busybox sh, from /init).  The Debian
# userland built by tools/build/userland.sh is /dev/vda (attached read-only
# by tests/vm/run.sh; or, for Debian's stock kernel, the tree is /debian in
# the initramfs): it is mounted on /debian with proc, sysfs, /dev (with
# devpts and /dev/shm), and fresh tmpfs on /tmp, /run and /lane; the lane
# (/programs of the initramfs: tests/programs/) and the tool go to /lane.
# Then, in a new mount namespace, pivot_root makes the Debian tree the real
# root (ckpt refuses a process in a chroot), the initramfs is unmounted
# there, and Debian's /bin/sh runs /lane/run.sh: every test, framed by
# CKPT-TEST-BEGIN/END as /guest/check.sh does.  Exits 0 unless the tree
# cannot be set up; the host judges the output.
D=/debian
fail() { echo "programs: $*"; echo "CKPT-TEST-BEGIN programs-setup"; echo "not ok 1 setup # $*"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"; echo "CKPT-TEST-END programs-setup rc=1"; exit 0; }
if [ -x "$D/bin/sh" ]; then
	# The tree came in the initramfs (tools/build/userland.sh --cpio, for a
	# kernel that cannot mount the image): a mount of its own for pivot_root.
	mount --bind "$D" "$D" || fail "cannot bind-mount $D"
else
	[ -b /dev/vda ] || fail "no /dev/vda: the userland image is not attached"
	mkdir -p "$D"
	mount -t ext4 -o ro /dev/vda "$D" || fail "cannot mount /dev/vda (ext4) on $D"
fi
[ -x "$D/bin/sh" ] || fail "$D/bin/sh missing: not a userland image"
mount -t proc proc "$D/proc" &&
	mount -t sysfs sysfs "$D/sys" &&
	mount --rbind /dev "$D/dev" &&
	mount -t tmpfs -o mode=1777 tmpfs "$D/tmp" &&
	mount -t tmpfs -o mode=755 tmpfs "$D/run" &&
	mount -t tmpfs -o mode=755 tmpfs "$D/lane" || fail "cannot mount the tree's filesystems"
cp -R /programs/. "$D/lane/" && cp /ckpt "$D/lane/ckpt" && cp /guest/ktap.sh /guest/wait-lib.sh "$D/lane/" ||
	fail "cannot copy the lane into $D/lane"
echo "programs: Debian userland: $(cat "$D/etc/debian_version" 2>/dev/null), $(grep -vc '^#' "$D/etc/ckpt-lane-packages" 2>/dev/null) packages"
# The tree's own /bin/sh runs the lane: busybox is gone once /oldroot is.
unshare -m sh -c "cd $D && pivot_root . oldroot && cd / &&
	/oldroot/bin/busybox umount -l /oldroot &&
	exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin HOME=/root TERM=vt100 LANG=C.UTF-8 /bin/sh /lane/run.sh" ||
	echo "programs: the lane exited with status $?"
# Whatever a test left behind must not keep /dev/ckpt open (rmmod).
mine=$(readlink /proc/$$/ns/mnt)
for p in /proc/[0-9]*; do
	ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
	[ "$ns" = "$mine" ] || kill -9 "${p#/proc/}" 2>/dev/null
done
sleep 0.5
umount "$D/lane" "$D/run" "$D/tmp" 2>/dev/null
exit 0
