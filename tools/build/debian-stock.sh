#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build ckpt.ko for Debian's stock 7.2 kernel (the newest
# linux-image-7.2.*-amd64 in sid) and test it by booting that kernel's own
# vmlinuz under QEMU (TCG).
#
#   tools/build/debian-stock.sh [all|build|vm|bench]
#
#   all     (default) build, then boot and judge
#   build   only set up the chroot, prepare the kernel tree and build ckpt.ko
#   vm      only boot and judge (ckpt.ko from an earlier build)
#   bench   build, then boot the stock kernel with Debian's criu (and the
#           libraries it needs, unpacked from sid's .debs) in the initramfs
#           and run tests/bench/ckpt_vs_criu: ckpt and CRIU side by side,
#           interleaved, on the same workloads (`make bench`); prints its
#           "BENCH" lines and judges the console log
#
# Steps (each is skipped when its result is cached):
#   1. read sid through a private apt configuration (the system's sources
#      are never touched) and pick the kernel; take CONFIG_RUSTC_VERSION_TEXT
#      from its linux-headers .config and the compiler from .kernelvariables
#   2. debootstrap a sid chroot and install in it the exact rustc/rust-src
#      that built the kernel (fails if sid no longer has it), bindgen,
#      libclang-dev, gcc-NN, the build tools, and linux-source-7.2,
#      linux-headers and linux-kbuild of the kernel's Debian version
#   3. in the chroot: unpack linux-source, copy the headers' .config,
#      olddefconfig (must reproduce that .config byte for byte),
#      modules_prepare (builds rust/), copy the headers' Module.symvers and
#      BTF vmlinux, check every Rust export is in Module.symvers
#   3b. bindgen layout check: rerun the tree's bindgen command without
#      --no-layout-tests and compile the result; lists the mismatched types
#      in $KREL/layout-mismatches.txt and fails if task_struct, mm_struct,
#      file or cred (what the module's KUnit layout guard covers) is among
#      them (the guard itself cannot run: Debian's kernel has no KUnit)
#   4. copy the module sources (Kbuild, include/, rust/) into the chroot and
#      build ckpt.ko with Kbuild and the kernel's gcc (not LLVM)
#   5. boot the stock vmlinuz with an initramfs of busybox-static, ckpt.ko
#      and the static programs of build/ (selftests, samples, ckpt,
#      ckpt-verify; run `make tool verify userprogs` first), run the
#      selftests and the guest tests, and judge the console log with
#      tests/vm/judge.py (--allow-no-kunit: Debian's kernel has no KUnit);
#      then, with CKPT_PROGRAMS=1, the real-programs lane (tests/programs/;
#      not run by default on this kernel yet): the Debian userland of tools/build/userland.sh is
#      appended to the initramfs as a second cpio archive (this kernel has
#      ext4 and virtio-blk as modules), /guest/programs.sh runs it
#
# Everything lives in $CKPT_CACHE/debian (default ~/.cache/ckpt/debian):
# sid/ (the chroot; the tree is sid/build/linux-$KREL, the module sources
# sid/build/ckpt), apt/ (private apt state), $KREL/ (config, vmlinuz,
# ckpt.ko, initramfs, console.log, versions.txt).  Needs root (chroot,
# mount), debootstrap, qemu-system-x86_64, busybox-static, cpio.
#
# Environment:
#   CKPT_DEBIAN_KREL   kernel release to use instead of the newest
#                      (e.g. 7.2.13+deb14-amd64)
#   CKPT_REFRESH=1     re-read sid even if the lists are less than a day old
#   CKPT_VM_TIMEOUT    seconds before the VM is killed (default 900, 1500
#                      with the real-programs lane)
#   CKPT_PROGRAMS=1    with the real-programs lane (check mode only)
#   CKPT_VM_APPEND     extra kernel command line arguments (for example
#                      print-fatal-signals=1; GLIBC_TUNABLES=glibc.pthread.rseq=0
#                      reaches the test programs' environment)
#   CKPT_VM_SMP        guest CPUs (default 2)
#   CKPT_DEBIAN_MODE   check (default: every test) or cross-save/cross-load,
#                      the two boots of a cross-kernel test
#                      (tests/cross-kernel.sh): /guest/MODE.sh only
#   CKPT_CROSS_TAR     cross-save: the file the guest writes its tar to
#                      (through a virtio serial port: Debian's virtio-blk is
#                      a module); cross-load: the tar put into the
#                      initramfs as /cross.tar
#   CKPT_VM_MEM        bench: guest memory (default 5G: a 1 GiB process, its
#                      image on tmpfs and the references' buffers)
#   CKPT_BENCH_RUNS    bench: runs per tool and workload (default 5)
#   CKPT_BENCH_WORK    bench: workloads (default mem:1,mem:16,mem:256,
#                      mem:1024,threads:8,tree:4; see tests/bench/ckpt_vs_criu.c)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/env.sh"
D=$CKPT_CACHE/debian
root=$D/sid
B=$top/build
mode=${1:-all}
case $mode in all|build|vm|bench) ;; -h|--help) awk 'NR>=4&&/^#/{sub(/^# ?/,"");print;next}NR>=4{exit}' "$0"; exit 0 ;;
*) echo "usage: $0 [all|build|vm|bench]" >&2; exit 2 ;; esac

log() { printf '[debian] %s\n' "$*" >&2; }
die() { printf '[debian] ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
# One run at a time per cache: every tree shares $D (the chroot, the module
# build, the initramfs); a second run waits.
mkdir -p "$D"
exec 8>"$D/.lock"
flock -n 8 || { log "another run holds $D/.lock; waiting"; flock 8; }

# Step timing: "step NAME" starts one, the next "step" (or "step_end") ends it.
declare -a TIMES=()
cur= cur_t0=
step_end() {
	if [ -n "$cur" ]; then
		local s=$(( $(date +%s) - cur_t0 ))
		TIMES+=("$cur ${s}s")
		log "-- $cur: ${s} s"
	fi
	cur=
}
step() { step_end; cur=$1; cur_t0=$(date +%s); log "== $1"; }

# --- private apt configuration for sid (read-only use on the host) ----------
apt_dir=$D/apt
mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc} "$D/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
	> "$apt_dir/etc/sources.list"
AOPT=(-o Dir::Etc::SourceList="$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
      -o Dir::Cache::archives="$apt_dir/archives" -o Dir::State::status=/dev/null
      -o Debug::NoLocking=1 -o Acquire::Check-Valid-Until=false
      -o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0)
HAPT() { apt-get -q "${AOPT[@]}" "$@"; }
HCACHE() { apt-cache "${AOPT[@]}" "$@"; }
newest() { HCACHE madison "$1" | awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -V | tail -n1; }

# --- 1. the kernel and its toolchain ------------------------------------------
step "sid lists and kernel metadata"
stamp=$apt_dir/updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || [ "${CKPT_REFRESH:-0}" = 1 ]; then
	log "reading sid (private apt config in $apt_dir)"
	HAPT update >&2
	touch "$stamp"
fi
if [ -n "${CKPT_DEBIAN_KREL:-}" ]; then
	KREL=$CKPT_DEBIAN_KREL
else
	KREL=$(HCACHE pkgnames "linux-image-$KSERIES." | grep -E "^linux-image-${KSERIES//./\\.}\.[0-9]+\+deb[0-9]+-amd64\$" |
	       sed 's/^linux-image-//' | sort -V | tail -n1)
fi
[ -n "$KREL" ] || die "no linux-image-$KSERIES.*-amd64 in sid"
KABI=${KREL%-amd64}			# 7.2.13+deb14: the linux-kbuild suffix
DVER=$(newest "linux-headers-$KREL")
[ -n "$DVER" ] || die "no linux-headers-$KREL in sid"
for p in "linux-binary-$KREL" "linux-kbuild-$KABI" "linux-source-$KSERIES"; do
	HCACHE madison "$p" | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$DVER" ||
		die "sid has no $p=$DVER (the kernel's Debian version)"
done
log "kernel: linux-image-$KREL $DVER"
K=$D/$KREL
mkdir -p "$K"
fetch_deb() {	# fetch_deb PACKAGE: download PACKAGE=$DVER into $D/debs, print the path
	local f
	f=$(ls "$D"/debs/"$1"_"${DVER//:/%3a}"_*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		(cd "$D/debs" && HAPT download "$1=$DVER" >&2)
		f=$(ls "$D"/debs/"$1"_"${DVER//:/%3a}"_*.deb | head -n1)
	fi
	echo "$f"
}
if [ ! -f "$K/config" ] || [ ! -f "$K/vmlinuz" ] || [ "$(cat "$K/debver" 2>/dev/null)" != "$DVER" ]; then
	hdeb=$(fetch_deb "linux-headers-$KREL")
	bdeb=$(fetch_deb "linux-binary-$KREL")
	rm -rf "$K/x"; mkdir -p "$K/x"
	dpkg-deb --fsys-tarfile "$hdeb" | tar -x -C "$K/x" \
		"./usr/src/linux-headers-$KREL/.config" "./usr/src/linux-headers-$KREL/.kernelvariables"
	dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$K/x" --wildcards '*/vmlinuz*'
	cp "$K/x/usr/src/linux-headers-$KREL/.config" "$K/config"
	cp "$K/x/usr/src/linux-headers-$KREL/.kernelvariables" "$K/kernelvariables"
	vmlinuz=$(find "$K/x" -name 'vmlinuz*' -type f | head -n1)
	[ -n "$vmlinuz" ] || die "no vmlinuz in $bdeb"
	cp "$vmlinuz" "$K/vmlinuz"
	rm -rf "$K/x"
	echo "$DVER" > "$K/debver"
fi
cfg() { sed -n "s/^CONFIG_$1=//p" "$K/config" | sed 's/^"\(.*\)"$/\1/'; }
[ "$(cfg RUST)" = y ] || die "linux-headers-$KREL: CONFIG_RUST is not y"
RUSTC_TEXT=$(cfg RUSTC_VERSION_TEXT)
BINDGEN_TEXT=$(cfg BINDGEN_VERSION_TEXT)
CC_TEXT=$(cfg CC_VERSION_TEXT)
rust_up=$(awk '{print $2}' <<<"$RUSTC_TEXT")		# 1.97.1
GCC=$(sed -n 's/^CC *=.*\$(CROSS_COMPILE)\(gcc-[0-9]*\).*/\1/p' "$K/kernelvariables")
[ -n "$GCC" ] || die "no gcc-NN in the headers' .kernelvariables"
CROSS=$(sed -n 's/^override CROSS_COMPILE *= *//p' "$K/kernelvariables")
CROSS=${CROSS:-x86_64-linux-gnu-}
log "kernel built with: $RUSTC_TEXT; $BINDGEN_TEXT; $CC_TEXT"
# The Debian rustc whose upstream version is the kernel's (1.97.1+dfsg1-1).
RUSTC_DVER=$(HCACHE madison rustc | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
	     awk -v u="$rust_up" '{v=$0; sub(/^[0-9]+:/,"",v); sub(/[+~-].*/,"",v); if (v==u) print $0}' |
	     sort -V | tail -n1)
if [ -z "$RUSTC_DVER" ]; then
	die "sid no longer carries rustc $rust_up (it has $(newest rustc)); the kernel was built with
  '$RUSTC_TEXT'. Only that exact rustc produces matching symbol hashes. Get rustc and rust-src
  $rust_up+dfsg* from snapshot.debian.org into the chroot, or use a kernel built with sid's rustc."
fi
HCACHE madison rust-src | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$RUSTC_DVER" ||
	die "sid has rustc $RUSTC_DVER but no rust-src of that version"
log "rustc package: $RUSTC_DVER; compiler: $CROSS$GCC"

# --- 2. the sid chroot ---------------------------------------------------------
step "sid chroot"
command -v debootstrap >/dev/null || "$here/deps.sh"
if [ ! -f "$root/.ckpt-debootstrap-done" ]; then
	log "debootstrap --variant=minbase sid $root"
	rm -rf "$root.tmp"
	debootstrap --variant=minbase sid "$root.tmp" http://deb.debian.org/debian >&2
	rm -rf "$root"; mv "$root.tmp" "$root"
	date +%s > "$root/.ckpt-debootstrap-done"
fi
mounted=()
umount_all() {
	local i
	for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true; done
	mounted=()
}
trap 'step_end >/dev/null 2>&1 || true; umount_all' EXIT
mount_chroot() {
	mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounted+=("$root/proc"); }
	mountpoint -q "$root/dev" || { mount --bind /dev "$root/dev"; mounted+=("$root/dev"); }
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}
IN() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
mount_chroot
echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99ckpt"
WANT=("rustc=$RUSTC_DVER" "rust-src=$RUSTC_DVER" bindgen libclang-dev "$GCC" binutils openssl dwarves
      libelf-dev libssl-dev flex bison bc make python3 kmod cpio xz-utils
      "linux-source-$KSERIES=$DVER" "linux-headers-$KREL=$DVER" "linux-kbuild-$KABI=$DVER")
have() {	# every wanted package installed (at the pinned version where given)?
	local w p v got
	for w in "${WANT[@]}"; do
		p=${w%%=*}; v=; [ "$p" = "$w" ] || v=${w#*=}
		got=$(IN dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || true)
		case $got in "install ok installed "*) ;; *) return 1 ;; esac
		[ -z "$v" ] || [ "${got##* }" = "$v" ] || return 1
	done
}
if ! have; then
	log "installing in the chroot: ${WANT[*]}"
	IN apt-get -q update >&2
	IN env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${WANT[@]}" >&2 ||
		die "apt-get install in the chroot failed (see above)"
fi
got_rustc=$(IN rustc --version)
[ "$got_rustc" = "$RUSTC_TEXT" ] ||
	die "chroot rustc says '$got_rustc', the kernel wants '$RUSTC_TEXT'"
{
	echo "kernel        linux-image-$KREL $DVER"
	echo "kernel built  $RUSTC_TEXT | $BINDGEN_TEXT | $CC_TEXT"
	IN dpkg-query -W -f='${Package} ${Version}\n' rustc rust-src bindgen libclang-dev "$GCC" binutils \
		dwarves openssl "linux-source-$KSERIES" "linux-headers-$KREL" "linux-kbuild-$KABI" |
		sed 's/^/chroot        /'
	IN dpkg-query -W -f='${Package} ${Version}\n' 'libclang1-*' 2>/dev/null | sed 's/^/chroot        /'
	echo "chroot rustc  $got_rustc"
	echo "chroot bindgen $(IN bindgen --version 2>&1 | head -n1)"
	echo "chroot gcc    $(IN "$CROSS$GCC" --version | head -n1)"
	echo "host qemu     $(qemu-system-x86_64 --version | head -n1)"
	echo "host busybox  $(busybox 2>&1 | head -n1)"
} > "$K/versions.txt"

# --- 3. the prepared kernel tree ------------------------------------------------
step "kernel tree (olddefconfig, modules_prepare)"
tree=/build/linux-$KREL
hdr=/usr/src/linux-headers-$KREL
KV=(ARCH=x86 "CROSS_COMPILE=$CROSS" "CC=$CROSS$GCC" "HOSTCC=$GCC" "KERNELRELEASE=$KREL")
prep_id="$DVER $got_rustc $GCC"
if [ "$(cat "$root$tree/.ckpt-prepared" 2>/dev/null)" != "$prep_id" ]; then
	log "unpacking linux-source-$KSERIES into $root$tree"
	rm -rf "$root$tree" "$root$tree.tmp"; mkdir -p "$root$tree.tmp"
	tar -xJf "$root/usr/src/linux-source-$KSERIES.tar.xz" -C "$root$tree.tmp"
	mv "$root$tree.tmp"/linux-source-"$KSERIES" "$root$tree"; rmdir "$root$tree.tmp"
	cp "$root$hdr/.config" "$root$tree/.config"
	log "make olddefconfig"
	IN make -s -C "$tree" "${KV[@]}" olddefconfig >&2
	if ! cmp -s "$root$hdr/.config" "$root$tree/.config"; then
		diff -u "$root$hdr/.config" "$root$tree/.config" | head -n 40 >&2 || true
		die "olddefconfig changed the headers' .config (a tool of the wrong version?)"
	fi
	log "make modules_prepare (builds rust/; minutes)"
	IN make -s -C "$tree" "${KV[@]}" -j"$(nproc)" modules_prepare >&2
	cp "$root$hdr/Module.symvers" "$root$hdr/vmlinux" "$root$tree/"
	# Every Rust export of this tree must be in Debian's Module.symvers.
	cat "$root$tree"/rust/exports_*_generated.h | sed -n 's/.*EXPORT_SYMBOL_RUST_GPL(\([^)]*\)).*/\1/p' |
		sort -u > "$K/rust-exports.txt"
	awk '{print $2}' "$root$tree/Module.symvers" | sort -u > "$K/symvers-names.txt"
	missing=$(comm -23 "$K/rust-exports.txt" "$K/symvers-names.txt" | wc -l)
	[ "$missing" = 0 ] || die "$missing Rust exports of the prepared tree are not in Debian's Module.symvers ($K/rust-exports.txt)"
	log "all $(wc -l < "$K/rust-exports.txt") Rust exports are in Debian's Module.symvers"
	echo "$prep_id" > "$root$tree/.ckpt-prepared"
fi

# --- 3b. bindings layout check -----------------------------------------------------
step "bindings layout check"
if [ "$(cat "$K/layout-checked" 2>/dev/null)" != "$prep_id" ]; then
	lc=/tmp/ckpt-layout
	rm -rf "$root$lc"; mkdir -p "$root$lc"
	sed -n '1s/^savedcmd_[^=]*:= //p' "$root$tree/rust/bindings/.bindings_generated.rs.cmd" |
		sed 's/\$(pound)/#/g; s/ --no-layout-tests / /; s/-Wp,-MMD,[^ ]* //' |
		sed "s# -o rust/bindings/bindings_generated.rs # -o $lc/b.rs #" > "$root$lc/bindgen.sh"
	grep -q -- "-o $lc/b.rs" "$root$lc/bindgen.sh" || die "cannot rewrite the tree's bindgen command"
	cat > "$root$lc/lib.rs" <<'EOF'
#![no_std]
#![allow(dead_code, non_camel_case_types, non_upper_case_globals, non_snake_case, improper_ctypes, unnecessary_transmutes, unused)]
#![feature(cfi_encoding)]
mod ffi {
    pub use core::ffi::{c_int, c_long, c_longlong, c_schar, c_short, c_uchar, c_uint, c_ulong, c_ulonglong, c_ushort, c_void};
    pub type c_char = u8;
}
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;
include!("b.rs");
EOF
	log "bindgen with layout tests (20 s to 2 min)"
	IN sh -c "cd $tree && sh $lc/bindgen.sh" > "$K/layout-bindgen.log" 2>&1 ||
		die "bindgen failed (log: $K/layout-bindgen.log)"
	# MaybeZeroable is pin_init's derive: not needed for layouts.
	sed -i 's/# \[derive (MaybeZeroable)\]//g; s/ , MaybeZeroable//g; s/MaybeZeroable , //g' "$root$lc/b.rs"
	IN sh -c "cd $lc && RUSTC_BOOTSTRAP=1 rustc --edition 2021 --crate-type lib --emit metadata -Cpanic=abort lib.rs" \
		> "$K/layout-rustc.log" 2>&1 || true
	if grep '^error' "$K/layout-rustc.log" | grep -v '^error\[E0080\]' | grep -qv '^error: aborting'; then
		die "the layout check does not compile (log: $K/layout-rustc.log)"
	fi
	# One error per mismatched type: its first failing size/alignment/offset.
	grep -A4 '^error\[E0080\]' "$K/layout-rustc.log" | grep -oE '\["[^"]*"\]' |
		sed 's/^\["//; s/"\]$//' | sort -u > "$K/layout-mismatches.txt" || true
	rm -rf "$root$lc"
	echo "$prep_id" > "$K/layout-checked"
fi
if grep -E ' (task_struct|mm_struct|file|cred)(::|$)' "$K/layout-mismatches.txt" >&2; then
	die "the kernel's Rust bindings misplace fields the module reads (above; $K/layout-mismatches.txt)"
fi
log "layout: $(wc -l < "$K/layout-mismatches.txt") mismatched types, none of task_struct, mm_struct, file, cred: $(
	sed 's/.* of //; s/^field: //; s/::.*//' "$K/layout-mismatches.txt" | sort -u | tr '\n' ' ')"

# --- 4. ckpt.ko ------------------------------------------------------------------
if [ "$mode" != vm ]; then
	step "ckpt.ko"
	# One source and build directory per checkout (the chroot is shared).
	src=/build/ckpt-$(printf %s "$top" | md5sum | cut -c1-8)
	rm -rf "$root$src"; mkdir -p "$root$src"
	(cd "$top" && git ls-files -co --exclude-standard -- Kbuild include rust | tar -cf - -T -) |
		tar -xf - -C "$root$src"
	# The Makefile's `module` target passes LLVM=-19: Debian's kernel is built
	# with gcc, so Kbuild is run directly with the kernel's variables.
	if ! IN make -C "$tree" M="$src" "${KV[@]}" -j"$(nproc)" modules 2>&1 | tee "$K/module-build.log" >&2; then
		die "building ckpt.ko failed (log: $K/module-build.log)"
	fi
	# The bench keeps its module, initramfs and console in this checkout's
	# build/debian: another checkout's run does not overwrite them.
	if [ "$mode" = bench ]; then KO=$B/debian; mkdir -p "$KO"; else KO=$K; fi
	cp "$root$src/ckpt.ko" "$KO/ckpt.ko"
	vm=$(modinfo -F vermagic "$KO/ckpt.ko")
	log "ckpt.ko: $KO/ckpt.ko (vermagic: $vm)"
	case $vm in "$KREL "*) ;; *) die "vermagic '$vm' is not for $KREL" ;; esac
fi
[ "$mode" != build ] || { step_end; log "built: $K/ckpt.ko"; exit 0; }

# --- 5b. the bench: ckpt and CRIU side by side -------------------------------------
if [ "$mode" = bench ]; then
	step "criu and its libraries (sid .debs)"
	umount_all
	# Debian's criu and the closure of its dependencies, downloaded through
	# the private apt configuration and unpacked (dpkg-deb -x) into a tree
	# that goes into the initramfs as is.
	cr=$D/criu-root
	cdebs=$D/criu-debs
	mkdir -p "$cdebs"
	closure=$(HCACHE depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances criu | grep -v '^ ' | grep -v '^<' | sort -u)
	[ -n "$closure" ] || die "no criu in sid"
	for p in $closure; do
		ls "$cdebs/${p}_"*.deb >/dev/null 2>&1 || (cd "$cdebs" && HAPT download "$p" >&2) ||
			die "cannot download $p"
	done
	id=$(ls "$cdebs" | sort | md5sum | cut -d' ' -f1)
	if [ "$(cat "$cr/.ckpt-debs" 2>/dev/null)" != "$id" ]; then
		rm -rf "$cr"; mkdir -p "$cr"
		for f in "$cdebs"/*.deb; do dpkg-deb -x "$f" "$cr"; done
		rm -rf "$cr/usr/share/doc" "$cr/usr/share/man" "$cr/usr/share/locale" \
			"$cr/usr/share/lintian" "$cr/etc"
		echo "$id" > "$cr/.ckpt-debs"
	fi
	criu_ver=$(dpkg-deb -f "$(ls "$cdebs"/criu_*.deb | head -n1)" Version)
	log "criu $criu_ver and $(echo "$closure" | wc -w) packages unpacked in $cr"
	# The tool and programs of this tree, not whatever build/ last held.
	log "make tool userprogs"
	make -s -C "$top" tool userprogs >&2
	[ -x "$B/bench/ckpt_vs_criu" ] && [ -x "$B/ckpt" ] ||
		die "$B/bench/ckpt_vs_criu or $B/ckpt missing: run 'make tool userprogs' first"
	busybox=$(command -v busybox || true)
	[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"

	step "bench initramfs"
	ird=$KO/bench-initramfs
	rm -rf "$ird"; mkdir -p "$ird"/{bin,sbin,dev,proc,sys,tmp,root,guest,bench,etc,run}
	cp -a "$cr/." "$ird/"
	rm -f "$ird/.ckpt-debs"
	# usrmerge: /lib and /lib64 are links into /usr (the dynamic linker's path).
	[ -e "$ird/lib" ] || ln -s usr/lib "$ird/lib"
	[ -e "$ird/lib64" ] || ln -s usr/lib64 "$ird/lib64"
	mkdir -p "$ird/usr/bin" "$ird/usr/sbin"
	cp "$busybox" "$ird/bin/busybox"
	"$busybox" --list-full | while read -r a; do
		[ "$a" = bin/busybox ] || [ -e "$ird/$a" ] || ln -s /bin/busybox "$ird/$a"
	done
	cp "$KO/ckpt.ko" "$ird/ckpt.ko"
	cp "$B/ckpt" "$ird/"; ln -s /ckpt "$ird/bin/ckpt"
	for f in "$B"/bench/*; do cp "$f" "$ird/bench/"; done
	cp "$top/tests/vm/guest/bench.sh" "$top/tests/vm/guest/observer-bench.sh" "$ird/guest/"
	cat > "$ird/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
up() { read -r u _ < /proc/uptime; echo "t=$u"; }
echo "CKPT-VM-BEGIN mode=bench kernel=$(uname -r) $(up)"
echo "CKPT-DEBIAN $(grep -c ^processor /proc/cpuinfo) CPUs; $(grep MemTotal /proc/meminfo)"
rc=0
# The module's tuning parameters given on the kernel command line as
# ckpt.NAME=VALUE (CKPT_VM_APPEND), e.g. ckpt.cpus=1 to compare.
params=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^ckpt\.\(cpus\|cache_fill\|spool_mb\)=/\1=/p')
if insmod /ckpt.ko timing=1 $params; then
	echo "CKPT-VM-INSMOD ok $params $(up)"
	cd /tmp
	sh /guest/bench.sh
	mrc=$?
	echo "CKPT-VM-MODE rc=$mrc $(up)"
	[ "$mrc" = 0 ] || rc=1
	cd /
	if rmmod ckpt; then echo "CKPT-VM-RMMOD ok $(up)"; else echo "CKPT-VM-RMMOD FAILED rc=$?"; rc=1; fi
else
	echo "CKPT-VM-INSMOD FAILED rc=$?"
	rc=1
fi
echo "CKPT-VM-DONE rc=$rc"
sync
poweroff -f
INIT
	chmod 755 "$ird/init"
	(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$KO/bench-initramfs.cpio.gz"

	step "bench boot (QEMU TCG)"
	console=$KO/console-bench.log
	timeout=${CKPT_VM_TIMEOUT:-3600}
	app="console=ttyS0 panic=-1 loglevel=4 printk.time=1"
	app+=" ckpt.bench_runs=${CKPT_BENCH_RUNS:-5}"
	app+=" ckpt.bench_work=${CKPT_BENCH_WORK:-mem:1,mem:16,mem:256,mem:1024,threads:8,tree:4}"
	set +e
	# -erms,-fsrm: TCG emulates `rep movsb` a byte at a time (see tests/vm/run.sh).
	timeout --foreground -k 10 "$timeout" qemu-system-x86_64 -accel tcg -cpu max,-erms,-fsrm \
		-m "${CKPT_VM_MEM:-5G}" -smp "${CKPT_VM_SMP:-2}" -no-reboot -nic none -nographic \
		-kernel "$K/vmlinuz" -initrd "$KO/bench-initramfs.cpio.gz" \
		-append "$app ${CKPT_VM_APPEND:-}" </dev/null > "$console" 2>&1
	qrc=$?
	set -e
	step_end
	tr -d '\r' < "$console" | grep '^BENCH \|^# ' || log "no BENCH lines in $console"
	judge=(--mode bench --allow-no-kunit)
	case $qrc in
	0) ;;
	124|137) log "TIMEOUT after $timeout s"; judge+=(--timed-out "$timeout") ;;
	*) log "qemu exited with status $qrc" ;;
	esac
	set +e
	"$top/tests/vm/judge.py" "${judge[@]}" "$console"
	jrc=$?
	set -e
	[ "$qrc" = 0 ] || jrc=1
	log "console: $console; $KREL, criu $criu_ver; times: ${TIMES[*]}"
	exit "$jrc"
fi

# --- 5. boot the stock kernel ------------------------------------------------------
step "initramfs"
umount_all
[ -f "$K/ckpt.ko" ] || die "$K/ckpt.ko missing: run '$0 build' first"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
! readelf -l "$busybox" | grep -q 'program interpreter' || die "$busybox is dynamic (apt-get install busybox-static)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
# Every selftest and sample the tree has (the guest tests use the samples),
# built from this tree now: a stale build/ would test other code.
log "make tool verify userprogs"
make -s -C "$top" tool verify userprogs >&2
selftests=() samples=()
for f in "$top"/tests/selftests/*.c; do f=${f##*/}; selftests+=("${f%.c}"); done
for f in "$top"/samples/*.c; do f=${f##*/}; samples+=("samples/${f%.c}"); done
for f in "${selftests[@]/#/selftests/}" "${samples[@]}" ckpt ckpt-verify; do
	[ -x "$B/$f" ] || die "$B/$f missing: run 'make tool verify userprogs' first"
done
ird=$K/initramfs
rm -rf "$ird"; mkdir -p "$ird"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,guest,samples,selftests}
cp "$busybox" "$ird/bin/busybox"
"$busybox" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] || [ -e "$ird/$a" ] || ln -s /bin/busybox "$ird/$a"
done
cp "$K/ckpt.ko" "$ird/ckpt.ko"
cp "$B/ckpt" "$B/ckpt-verify" "$ird/"; ln -s /ckpt "$ird/bin/ckpt"
for t in "${selftests[@]}"; do cp "$B/selftests/$t" "$ird/selftests/"; done
# The bench programs (guest/tests/bench.sh runs a 16 MiB round trip).
mkdir -p "$ird/bench"
for f in "$B"/bench/*; do [ -x "$f" ] && cp "$f" "$ird/bench/"; done
for f in "${samples[@]}"; do cp "$B/$f" "$ird/samples/"; done
cp -r "$top/tests/vm/guest/." "$ird/guest/"; rm -f "$ird/guest/init"
dmode=${CKPT_DEBIAN_MODE:-check}
case $dmode in check|cross-save|cross-load) ;; *) die "CKPT_DEBIAN_MODE=$dmode: check, cross-save or cross-load" ;; esac
if [ "$dmode" = cross-load ]; then
	[ -f "${CKPT_CROSS_TAR:-}" ] || die "cross-load needs CKPT_CROSS_TAR (the tar cross-save wrote)"
	cp "$CKPT_CROSS_TAR" "$ird/cross.tar"
fi
# The real-programs lane: its tests, and the Debian tree as a second archive.
programs=${CKPT_PROGRAMS:-0}
[ "$dmode" = check ] || programs=0
if [ "$programs" = 1 ]; then
	mkdir -p "$ird/programs"
	cp -R "$top/tests/programs/." "$ird/programs/"
	rm -f "$ird/programs/packages"
	ucpio=$("$here/userland.sh" --cpio) || die "cannot build the userland (tools/build/userland.sh)"
fi
# The ZDTM lane's `make check` subset (guest/tests/zdtm.sh runs it), as
# tests/vm/run.sh packs it.
Z=$B/zdtm
[ -f "$Z/tests" ] || "$top/tests/zdtm/build.sh" "$Z" || die "cannot build the ZDTM tests (tests/zdtm/build.sh)"
mkdir -p "$ird/zdtm/bin"
cp "$top/tests/zdtm/lane.sh" "$Z/version" "$Z/skip" "$ird/zdtm/"
awk '$2 == "check"' "$Z/tests" > "$ird/zdtm/tests"
while read -r name _; do cp "$Z/bin/$name" "$ird/zdtm/bin/"; done < "$ird/zdtm/tests"
# /init: like tests/vm/guest/init (same markers for judge.py), without
# kmemleak (off in Debian's kernel); runs every selftest and the guest tests
# (module.sh, tool.sh, verify.sh = /ckpt-verify, tree.sh, shared.sh).
cat > "$ird/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
up() { read -r u _ < /proc/uptime; echo "t=$u"; }
run() { n=$1; shift; echo "CKPT-TEST-BEGIN $n"; "$@" 2>&1; echo "CKPT-TEST-END $n rc=$?"; }
echo "CKPT-VM-BEGIN mode=check kernel=$(uname -r) $(up)"
echo "CKPT-DEBIAN taint-before=$(cat /proc/sys/kernel/tainted) cmdline: $(cat /proc/cmdline)"
echo "CKPT-DEBIAN cpu: $(grep -m1 '^flags' /proc/cpuinfo)"
rc=0
if insmod /ckpt.ko; then
	echo "CKPT-VM-INSMOD ok $(up)"
	echo "CKPT-DEBIAN taint-after=$(cat /proc/sys/kernel/tainted)"
	cd /tmp
	mode=check
	for w in $(cat /proc/cmdline); do case $w in ckpt.mode=*) mode=${w#*=} ;; esac; done
	if [ "$mode" = check ]; then
		for t in /selftests/*; do run "$t" "$t"; done
		for t in /guest/tests/*.sh; do run "$t" sh "$t"; done
		[ ! -d /programs ] || sh /guest/programs.sh
	else
		sh "/guest/$mode.sh"
	fi
	echo "CKPT-VM-MODE rc=0 $(up)"
	cd /
	if rmmod ckpt; then echo "CKPT-VM-RMMOD ok $(up)"; else echo "CKPT-VM-RMMOD FAILED rc=$?"; rc=1; fi
else
	echo "CKPT-VM-INSMOD FAILED rc=$?"
	rc=1
fi
echo "CKPT-VM-DONE rc=$rc"
sync
poweroff -f
EOF
chmod 755 "$ird/init"
(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$K/initramfs.cpio.gz"
[ "$programs" != 1 ] || cat "$ucpio" >> "$K/initramfs.cpio.gz"

step "boot (QEMU TCG) and tests"
console=$K/console.log
[ "$dmode" = check ] || console=$K/console-$dmode.log
timeout=${CKPT_VM_TIMEOUT:-900}
port=()
if [ "$dmode" = cross-save ]; then
	[ -n "${CKPT_CROSS_TAR:-}" ] || die "cross-save needs CKPT_CROSS_TAR (where the tar goes)"
	rm -f "$CKPT_CROSS_TAR"
	port=(-device virtio-serial-pci -chardev "file,id=cross,path=$CKPT_CROSS_TAR"
	      -device virtserialport,chardev=cross,name=ckpt.cross)
fi
[ "$programs" != 1 ] || timeout=${CKPT_VM_TIMEOUT:-1500}
set +e
timeout --foreground -k 10 "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp "${CKPT_VM_SMP:-2}" -no-reboot \
	-nic none -nographic -kernel "$K/vmlinuz" -initrd "$K/initramfs.cpio.gz" "${port[@]}" \
	-append "console=ttyS0 panic=-1 loglevel=7 printk.time=1 ckpt.mode=$dmode ${CKPT_VM_APPEND:-}" </dev/null > "$console" 2>&1
qrc=$?
set -e
judge=(--mode check --allow-no-kunit -v)
case $qrc in
0) ;;
124|137) log "TIMEOUT after $timeout s"; judge+=(--timed-out "$timeout") ;;
*) log "qemu exited with status $qrc" ;;
esac
step_end
set +e
"$top/tests/vm/judge.py" "${judge[@]}" "$console" | tee "$K/judge.txt"
jrc=${PIPESTATUS[0]}
set -e
[ "$qrc" = 0 ] || jrc=1

# --- summary -----------------------------------------------------------------------
c=$(tr -d '\r' < "$console")
ins=$(grep -o 'CKPT-VM-INSMOD [a-zA-Z]*' <<<"$c" | head -n1 | awk '{print $2}')
lsm=on; ! grep -q 'LSM observer off' <<<"$c" || lsm=off
taint=$(sed -n 's/.*CKPT-DEBIAN taint-after=\([0-9]*\).*/\1/p' <<<"$c" | head -n1)
log "versions: $K/versions.txt; console: $console"
log "times: ${TIMES[*]}"
res=$(tail -n1 "$K/judge.txt")
echo "debian-stock: $KREL ($DVER), $got_rustc: ckpt.ko for $(modinfo -F vermagic "$K/ckpt.ko" | awk "{print \$1}"), insmod ${ins:-?}, taint ${taint:-?}, LSM observer $lsm; $res"
exit "$jrc"
