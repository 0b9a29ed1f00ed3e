#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make cross-kernel`: images restarted under another kernel than the one
# that took them.  Each pair is two QEMU boots: the first (cross-save)
# starts samples/vdsoclock -- it calls clock_gettime, gettimeofday, time and
# getcpu through vDSO pointers resolved at start, as libc does, and checks
# each answer against the system call -- checkpoints it and writes the image
# out; the second (cross-load) restarts it under the other kernel and checks
# what the pair expects.
#
#   tests/cross-kernel.sh [PAIR...]      (default: all four)
#
#   guest-debian  the guest kernel (clang-19) -> Debian's stock 7.2 (gcc):
#                 the vDSOs differ at every symbol; the program must go on
#                 through a vDSO proxy, every answer right
#   debian-guest  Debian's -> the guest kernel: Debian's vDSO exports
#                 __vdso_sgx_enter_enclave, which the guest kernel (no SGX)
#                 lacks and no system call replaces: restart must refuse
#                 with that reason
#   7.2-7.3       guest 7.2.13 -> guest 7.3.4 (same config and toolchain;
#                 builds the other series' kernel first, cached): the
#                 program must go on, every answer right (through a proxy
#                 if the vDSOs differ); then the image is restarted again
#                 through a forced vDSO proxy (`ckpt restart --vdso-proxy`:
#                 the two vDSOs export the same symbols at the same
#                 offsets), every answer right
#   7.3-7.2       the reverse
#
# CKPT_OTHER_KDIR=DIR: the other series' kernel build to use instead of
# building it.  Works from either series' tree: build/kdir may be 7.2's or 7.3's
# (CKPT_KSERIES=7.3 make all); the other series' module is built from a copy
# of the sources in build/src-SERIES (shared with tests/upgrade.sh).
#
# Needs what `make all` leaves in build/ and root (Debian's chroot, see
# tools/build/debian-stock.sh).  The guest boots carry the image on a disk
# (build/cross/PAIR.disk, a tar); Debian's kernel writes it through a virtio
# serial port and reads it from its initramfs.  Prints one line per pair and
# "N passed, N failed" (KTAP results of all boots); exits 1 on failure.
# Consoles: build/vm/console-cross-*.log and ~/.cache/ckpt/debian/*/console-cross-*.log.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tools/build/env.sh
B=$top/build
X=$B/cross
mkdir -p "$X"
pairs=("$@")
[ ${#pairs[@]} -gt 0 ] || pairs=(guest-debian debian-guest 7.2-7.3 7.3-7.2)
log() { printf '[cross] %s\n' "$*" >&2; }

[ -f "$B/ckpt.ko" ] && [ -f "$B/kdir" ] && [ -x "$B/samples/vdsoclock" ] ||
	{ log "run 'make all' first"; exit 2; }
# The tree's own kernel (build/kdir: 7.2, or 7.3 after CKPT_KSERIES=7.3 make)
# and module; the other series' kernel is built (cached) and its module built
# from a copy of the sources in $B/src-SERIES (the tree's objects stay its own).
own=$(cat "$B/kdir")
own_series=$(basename "$own" | cut -d. -f1-2)
cp "$B/ckpt.ko" "$X/ckpt-$own_series.ko"

# need SERIES: sets kdir_SERIES (k72/k73) and ko_SERIES (ko72/ko73).
need() {
	local v=${1/./} k
	[ -z "$(eval echo "\${k$v:-}")" ] || return 0
	if [ "$1" = "$own_series" ]; then
		k=$own
	else
		log "the $1 guest kernel (built once, cached)"
		if [ -n "${CKPT_OTHER_KDIR:-}" ]; then
			k=$CKPT_OTHER_KDIR
		else
			k=$(CKPT_KSERIES=$1 nice -n 19 tools/build/kernel.sh)
		fi
		log "ckpt.ko for $(basename "$k") (sources copied to $B/src-$1)"
		mkdir -p "$B/src-$1"
		# tar keeps the mtimes: only what changed is rebuilt.
		tar -C "$top" -cf - Kbuild include rust | (cd "$B/src-$1" && tar -xf - --overwrite)
		make -s -C "$k" M="$B/src-$1" LLVM="$LLVM" modules >&2
		cp "$B/src-$1/ckpt.ko" "$X/ckpt-$1.ko"
	fi
	eval "k$v=\$k ko$v=\$X/ckpt-$1.ko"
}

need_debian() {
	[ -n "${deb_ok:-}" ] && return
	sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo env CKPT_CACHE="$CKPT_CACHE" tools/build/debian-stock.sh build >&2
	deb_ok=1
}

passed=0 failed=0 results=()
# count LOG: the KTAP totals of a boot's output in $cp and $cf, added to the sums.
count() {
	cp=$(tr -d '\r' < "$1" | sed -nE 's/^# Totals: pass:([0-9]+) fail:([0-9]+).*/\1/p' | awk '{s+=$1} END {print s+0}')
	cf=$(tr -d '\r' < "$1" | sed -nE 's/^# Totals: pass:([0-9]+) fail:([0-9]+).*/\2/p' | awk '{s+=$1} END {print s+0}')
	[ "$cp" != 0 ] || [ "$cf" != 0 ] || cf=1	# no result at all: a failure
	passed=$((passed + cp)) failed=$((failed + cf))
}

# guest_boot MODE KDIR KO DISK EXPECT: one boot of a guest kernel; prints the log.
guest_boot() {
	local out=$X/$1-$(basename "$2").log rc=0
	CKPT_KDIR=$2 CKPT_KO=$3 CKPT_VM_APPEND="ckpt.expect=$5" \
		tests/vm/run.sh --disk "$4" "$1" > "$out" 2>&1 || rc=1
	cp "$B/vm/console-$1.log" "$out.console" 2>/dev/null || true
	cat "$out.console" >> "$out" 2>/dev/null || true
	[ $rc = 0 ] || printf "# Totals: pass:0 fail:1 (boot %s under %s failed)\n" "$1" "$(basename "$2")" >> "$out"
	echo "$out"
}

# debian_boot MODE TAR EXPECT: one boot of Debian's stock kernel; prints the log.
debian_boot() {
	local out=$X/$1-debian.log rc=0 sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo env CKPT_CACHE="$CKPT_CACHE" CKPT_DEBIAN_MODE="$1" CKPT_CROSS_TAR="$2" \
		CKPT_VM_APPEND="ckpt.expect=$3" tools/build/debian-stock.sh vm > "$out" 2>&1 || rc=1
	cat "$CKPT_CACHE"/debian/*/console-"$1".log >> "$out" 2>/dev/null || true
	[ $rc = 0 ] || printf '# Totals: pass:0 fail:1 (debian-stock.sh %s failed)\n' "$1" >> "$out"
	echo "$out"
}

for pair in "${pairs[@]}"; do
	t0=$(date +%s)
	disk=$X/$pair.disk
	rm -f "$disk" "$X/$pair.tar"
	case $pair in
	guest-debian)
		need 7.2
		need_debian
		l1=$(guest_boot cross-save "$k72" "$ko72" "$disk" any)
		cp "$disk" "$X/$pair.tar"
		l2=$(debian_boot cross-load "$X/$pair.tar" proxy)
		;;
	debian-guest)
		need 7.2
		need_debian
		l1=$(debian_boot cross-save "$X/$pair.tar" any)
		cp "$X/$pair.tar" "$disk" && truncate -s 64M "$disk"
		l2=$(guest_boot cross-load "$k72" "$ko72" "$disk" refuse:__vdso_sgx_enter_enclave)
		;;
	7.2-7.3)
		need 7.2
		need 7.3
		l1=$(guest_boot cross-save "$k72" "$ko72" "$disk" any)
		l2=$(guest_boot cross-load "$k73" "$ko73" "$disk" both)
		;;
	7.3-7.2)
		need 7.2
		need 7.3
		l1=$(guest_boot cross-save "$k73" "$ko73" "$disk" any)
		l2=$(guest_boot cross-load "$k72" "$ko72" "$disk" both)
		;;
	*) log "unknown pair $pair"; exit 2 ;;
	esac
	count "$l1"; p1=$cp f1=$cf
	count "$l2"; p2=$cp f2=$cf
	how=$(tr -d '\r' < "$l2" | grep -E '^# (image taken|through a vDSO proxy|this kernel.s vDSO|.*no vDSO proxy)' | tr '\n' ' ')
	line=$(printf '%-13s save %d/%d, load %d/%d (%d s) %s' "$pair" "$p1" $((p1 + f1)) "$p2" $((p2 + f2)) \
		$(( $(date +%s) - t0 )) "$how")
	results+=("$line")
	echo "$line"
done
printf '\n== cross-kernel ==\n'
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
