#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the guest kernel in QEMU with ckpt.ko and the test programs, and
# judge the result.
#
#   tests/vm/run.sh [--disk FILE] check|demo|bench|zdtm|programs|shell|carry-save|carry-load|
#                                 cross-save|cross-load|upgrade|fuzz|migrate-send|migrate-recv
#
#   check   run /guest/check.sh (selftests, guest shell tests, the `check`
#           subset of the ZDTM lane); print the failures and "N passed,
#           N failed, N skipped"; exit 1 on failure
#   demo    run /guest/demo.sh with the console shown live, then judge
#   bench   run /guest/bench.sh and print its "BENCH ..." lines, then judge
#   zdtm    the ZDTM lane (tests/zdtm/lane.sh): CRIU's ZDTM static tests
#           through ckpt; prints one line per test, the table and a summary;
#           exit 1 if the lane failed (see tests/zdtm/scope) or the judge did
#   programs
#           the real-programs lane (tests/programs/): Debian programs
#           (python3, sqlite3, tmux, ...) from the userland image of
#           tools/build/userland.sh (built and cached on first use), attached
#           read-only as /dev/vda and made the root of the lane's mount
#           namespace; each is checkpointed in the middle of its work,
#           killed, restarted and checked; prints one line per test and
#           "N passed, N failed, N skipped" (KUnit cases are judged but not
#           counted: the check mode counts them); exit 1 on failure
#   fuzz    the restart fuzzer (tests/fuzz.sh, `make fuzz`, runs it on the
#           KASAN kernel): /guest/fuzz.sh, ckpt.fuzz_cases=N (in
#           CKPT_VM_APPEND) hostile images fed to the restart by
#           /ckpt-fuzz; judged like check; prints its CKPT-FUZZ lines
#   shell   interactive shell in the VM (Ctrl-A X quits QEMU); not judged
#   carry-save, carry-load
#           the two boots of the image carry-over test (with --disk): save a
#           checkpoint image on the disk, then restart it after a fresh boot
#   cross-save, cross-load
#           the two boots of a cross-kernel test (tests/cross-kernel.sh, with
#           --disk): save a vDSO-using program's image on the disk, restart
#           it under another kernel (CKPT_KDIR, CKPT_KO; ckpt.expect= in
#           CKPT_VM_APPEND)
#   upgrade kernel switches under running jobs in one VM (tests/upgrade.sh,
#           /guest/upgrade.sh): the first kernel starts jobs and checkpoints
#           them, kexecs into the next kernel of CKPT_UPGRADE_PLAN, which
#           restarts them, and so on; each boot is judged (--boots); the
#           jobs' files and images are on the disk (default: a fresh
#           build/vm/upgrade.disk); prints the guest's UPGRADE-* lines with
#           the host's clock
#   migrate-send, migrate-recv
#           the two VMs of the live-migration lane (tests/migrate.sh, which
#           boots both at once, joined by a QEMU socket network: CKPT_VM_NET):
#           the sender migrates a worker (tests/selftests/ckpt_migrate.c
#           --worker) with `ckpt migrate`, the receiver restores it with `ckpt
#           receive` and the worker checks its memory
#
#   --disk FILE     attach FILE as a virtio-blk disk (/dev/vda in the guest),
#                   creating a 64 MiB raw file first if it does not exist;
#                   same as CKPT_VM_DISK=FILE
#
# Environment:
#   CKPT_VM_TIMEOUT    seconds before the VM is killed (check, demo: 600;
#                      programs: 1200; bench: 1800; zdtm: 3600); a timeout
#                      is a failure
#   CKPT_ZDTM_TESTS    zdtm: only these tests (names, space-separated)
#   CKPT_KVM=1         use KVM (-accel kvm -cpu host,-arch-capabilities)
#                      instead of TCG
#   CKPT_VM_DISK       see --disk
#   CKPT_VM_LEAK_WAIT  seconds to wait after rmmod before the final kmemleak
#                      scan (default 5: kmemleak ignores younger objects)
#   CKPT_VM_APPEND     extra kernel command line arguments
#   CKPT_VM_CPU        QEMU -cpu model under TCG (default: max; bench:
#                      max,-erms,-fsrm, see below)
#   CKPT_KDIR          kernel build dir (default: the one in build/kdir)
#   CKPT_KO            module to load (default: build/ckpt.ko)
#   CKPT_VM_NET        a network card (virtio-net) on a QEMU socket network
#                      instead of none: the socket netdev's options
#                      ("listen=127.0.0.1:PORT" or "connect=127.0.0.1:PORT");
#                      CKPT_VM_MAC its MAC address
#   CKPT_VM_MEM        guest memory (default 2G; bench 5G, zdtm 3G)
#   CKPT_VM_VERBOSE=1  also print a result line per KUnit suite and program
#   CKPT_UPGRADE_SLOTS upgrade: the kernels, "KDIR:KO KDIR:KO ..." (slot 0,
#                      1, ...; default: CKPT_KDIR and CKPT_KO, one slot)
#   CKPT_UPGRADE_KHO   upgrade: 1 boots with kho=on and hands the images
#                      over in preserved memory (kexec handover), no disk
#   CKPT_UPGRADE_PLAN  upgrade: the slot of each boot (default "0 0": one
#                      kexec from the kernel into itself)
#
# Inputs are what `make all` leaves in build/: ckpt.ko, ckpt (the tool, if
# built), ckpt-verify (if built), samples/, selftests/, and for check and
# zdtm the ZDTM tests in build/zdtm (built here by tests/zdtm/build.sh if
# missing or older than tests/zdtm/scope).  Outputs go to
# build/vm/: the initramfs and console-MODE.log, the full serial console of
# the last run of MODE.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
vm=$B/vm

usage() { awk 'NR >= 6 && /^#/ { sub(/^# ?/, ""); print; next } NR >= 6 { exit }' "$0"; }
die() { echo "run.sh: $*" >&2; exit 2; }

mode=
disk=${CKPT_VM_DISK:-}
while [ $# -gt 0 ]; do
	case $1 in
	--disk) [ $# -ge 2 ] || die "--disk needs a FILE"; disk=$2; shift 2 ;;
	--disk=*) disk=${1#--disk=}; shift ;;
	check|demo|bench|zdtm|programs|shell|carry-save|carry-load|cross-save|cross-load|upgrade|fuzz|migrate-send|migrate-recv) [ -z "$mode" ] || die "one MODE only"; mode=$1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ -n "$mode" ] || { usage >&2; exit 2; }

# --- inputs -------------------------------------------------------------------
if [ -n "${CKPT_KDIR:-}" ]; then
	kdir=$CKPT_KDIR
elif [ -f "$B/kdir" ]; then
	kdir=$(cat "$B/kdir")
else
	die "no kernel: run 'make kernel' first (or set CKPT_KDIR)"
fi
bzimage=$kdir/arch/x86/boot/bzImage
gen_cpio=$kdir/usr/gen_init_cpio
[ -f "$bzimage" ] || die "$bzimage missing: run 'make kernel'"
[ -x "$gen_cpio" ] || die "$gen_cpio missing: run 'make kernel'"
ko=${CKPT_KO:-$B/ckpt.ko}
# The kernel switch: its kernels (slots), and the first boot's.
if [ "$mode" = upgrade ]; then
	read -r -a up_slots <<< "${CKPT_UPGRADE_SLOTS:-$kdir:$ko}"
	read -r -a up_plan <<< "${CKPT_UPGRADE_PLAN:-0 0}"
	[ ${#up_plan[@]} -ge 2 ] || die "CKPT_UPGRADE_PLAN: two boots at least"
	for s in "${up_plan[@]}"; do
		[ -n "${up_slots[$s]:-}" ] || die "CKPT_UPGRADE_PLAN: no slot $s in CKPT_UPGRADE_SLOTS"
	done
	for s in "${up_slots[@]}"; do
		[ -f "${s%%:*}/arch/x86/boot/bzImage" ] && [ -f "${s#*:}" ] || die "upgrade slot $s: no bzImage or module"
	done
	kdir=${up_slots[${up_plan[0]}]%%:*}
	ko=${up_slots[${up_plan[0]}]#*:}
	[ -n "$disk" ] || { mkdir -p "$vm"; disk=$vm/upgrade.disk; rm -f "$disk"; truncate -s 256M "$disk"; }
fi
[ -f "$ko" ] || echo "run.sh: warning: $ko missing ('make module'); the guest will report insmod failure" >&2
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
if command -v readelf >/dev/null && readelf -l "$busybox" | grep -q 'program interpreter'; then
	die "$busybox is dynamically linked (apt-get install busybox-static)"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
# The ZDTM tests (check runs the `check` subset, zdtm all of them).
zdtm=$B/zdtm
if [ "$mode" = check ] || [ "$mode" = zdtm ]; then
	if [ ! -f "$zdtm/tests" ] || [ "$top/tests/zdtm/scope" -nt "$zdtm/tests" ] ||
		[ "$top/tests/zdtm/build.sh" -nt "$zdtm/tests" ] ||
		[ "$top/tests/zdtm/reaper.c" -nt "$zdtm/tests" ]; then
		"$top/tests/zdtm/build.sh" "$zdtm" || die "cannot build the ZDTM tests (tests/zdtm/build.sh)"
	fi
fi
# The real-programs lane's Debian userland (cached in ~/.cache/ckpt/userland).
if [ "$mode" = programs ]; then
	[ -z "$disk" ] || die "programs: the userland image is the VM's disk; no --disk"
	userland=$("$top/tools/build/userland.sh") || die "cannot build the userland (tools/build/userland.sh)"
fi

# --- initramfs ----------------------------------------------------------------
# Described as a gen_init_cpio list: no staging tree, no root needed, and one
# process writes the ~300 busybox applet links.
# Several runs may share build/ (the lead's and a helper's): each builds and
# boots private files and publishes them under the fixed names when done.
mkdir -p "$vm"
list=$vm/.initramfs.$$.list
initrd=$vm/.initramfs.$$.cpio.gz
log=$vm/.console-$mode.$$.log
final_log=$vm/console-$mode.log
cleanup() {
	[ ! -f "$list" ] || mv -f "$list" "$vm/initramfs.list"
	[ ! -f "$initrd" ] || mv -f "$initrd" "$vm/initramfs.cpio.gz"
	[ ! -f "$log" ] || mv -f "$log" "$final_log"
}
trap cleanup EXIT
{
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /root /etc \
		/guest /samples /selftests /bench /zdtm /zdtm/bin /zdtm/bin/transition /programs /kernels /var /var/lib; do
		echo "dir $d 0755 0 0"
	done
	if [ "$mode" = upgrade ]; then
		for i in "${!up_slots[@]}"; do
			k=${up_slots[$i]%%:*}
			echo "dir /kernels/$i 0755 0 0"
			# kexec_file_load takes only a bzImage that says it may be
			# loaded above 4 GiB (xloadflags bit 1, set by
			# CONFIG_RELOCATABLE, which the guest config lacks).  A
			# non-relocatable kernel decompresses itself to its link
			# address, wherever it is loaded; the VM has less than
			# 4 GiB: a copy with the bit set boots the same.
			python3 - "$k/arch/x86/boot/bzImage" "$vm/.bzImage.$$.$i" <<-'EOF'
			import sys
			b = bytearray(open(sys.argv[1], "rb").read())
			if b[0x202:0x206] != b"HdrS":
			    sys.exit("not a bzImage: " + sys.argv[1])
			b[0x236] |= 0x2                 # XLF_CAN_BE_LOADED_ABOVE_4G
			open(sys.argv[2], "wb").write(b)
			EOF
			echo "file /kernels/$i/bzImage $vm/.bzImage.$$.$i 0644 0 0"
			echo "file /kernels/$i/ckpt.ko ${up_slots[$i]#*:} 0644 0 0"
			basename "$k" > "$vm/.kname.$$.$i"
			echo "file /kernels/$i/name $vm/.kname.$$.$i 0644 0 0"
		done
		echo "file /bin/ckpt-upgrade $top/tools/ckpt-upgrade 0755 0 0"
	fi
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox $busybox 0755 0 0"
	"$busybox" --list-full | while read -r applet; do
		[ "$applet" = bin/busybox ] || echo "slink /$applet /bin/busybox 0777 0 0"
	done
	echo "file /init $top/tests/vm/guest/init 0755 0 0"
	if [ -f "$ko" ]; then
		echo "file /ckpt.ko $ko 0644 0 0"
	fi
	if [ -f "$B/ckpt" ]; then
		echo "file /ckpt $B/ckpt 0755 0 0"
		echo "slink /bin/ckpt /ckpt 0777 0 0"
	fi
	if [ -f "$B/ckpt-verify" ]; then
		echo "file /ckpt-verify $B/ckpt-verify 0755 0 0"
	fi
	if [ -f "$B/ckpt-fuzz" ]; then
		echo "file /ckpt-fuzz $B/ckpt-fuzz 0755 0 0"
	fi
	# Only binaries whose source still exists (no stale tests).
	for src in "$top"/samples/*.c "$top"/tests/selftests/*.c "$top"/tests/bench/*.c; do
		[ -f "$src" ] || continue
		name=$(basename "$src" .c)
		case $src in
		"$top"/samples/*) sub=samples ;;
		"$top"/tests/bench/*) sub=bench ;;
		*) sub=selftests ;;
		esac
		[ -f "$B/$sub/$name" ] || die "$B/$sub/$name missing: run 'make userprogs'"
		echo "file /$sub/$name $B/$sub/$name 0755 0 0"
	done
	if [ "$mode" = check ] || [ "$mode" = zdtm ]; then
		echo "file /zdtm/lane.sh $top/tests/zdtm/lane.sh 0755 0 0"
		echo "file /zdtm/version $zdtm/version 0644 0 0"
		echo "file /zdtm/skip $zdtm/skip 0644 0 0"
		echo "file /zdtm/bin/zdtm-reaper $zdtm/bin/zdtm-reaper 0755 0 0"
		if [ "$mode" = check ]; then
			awk '$2 == "check"' "$zdtm/tests" > "$vm/.zdtm-tests.$$"
		elif [ -n "${CKPT_ZDTM_TESTS:-}" ]; then
			awk -v want=" $CKPT_ZDTM_TESTS " 'index(want, " " $1 " ")' "$zdtm/tests" > "$vm/.zdtm-tests.$$"
		else
			cp "$zdtm/tests" "$vm/.zdtm-tests.$$"
		fi
		echo "file /zdtm/tests $vm/.zdtm-tests.$$ 0644 0 0"
		while read -r name _; do
			echo "file /zdtm/bin/$name $zdtm/bin/$name 0755 0 0"
		done < "$vm/.zdtm-tests.$$"
	fi
	if [ "$mode" = programs ]; then
		(cd "$top/tests/programs" && find . -mindepth 1 ! -name packages | LC_ALL=C sort) |
			while read -r f; do
				f=${f#./}
				if [ -d "$top/tests/programs/$f" ]; then
					echo "dir /programs/$f 0755 0 0"
				else
					echo "file /programs/$f $top/tests/programs/$f 0644 0 0"
				fi
			done
	fi
	(cd "$top/tests/vm/guest" && find . -mindepth 1 ! -name init | LC_ALL=C sort) |
		while read -r f; do
			f=${f#./}
			if [ -d "$top/tests/vm/guest/$f" ]; then
				echo "dir /guest/$f 0755 0 0"
			else
				echo "file /guest/$f $top/tests/vm/guest/$f 0755 0 0"
			fi
		done
} > "$list"
"$gen_cpio" "$list" | gzip -1 > "$initrd"
rm -f "$vm/.zdtm-tests.$$" "$vm"/.kname.$$.* "$vm"/.bzImage.$$.*

# --- QEMU ---------------------------------------------------------------------
if [ "${CKPT_KVM:-0}" = 1 ]; then
	accel=(-accel kvm -cpu host,-arch-capabilities)
else
	# TCG emulates `rep movsb` a byte at a time: 4x slower than `rep movsq`
	# and slower than the vector loop of glibc's memcpy.  With ERMS/FSRM the
	# kernel copies (copy_to_user, memcpy, pipes, page cache) with `rep
	# movsb`; without, with `rep movsq` or a movq loop, as it does on CPUs
	# where `rep movsb` is slow.  The benchmarks compare kernel copies with
	# a userspace memcpy in the same VM, so they run without the two flags.
	cpu=max
	[ "$mode" != bench ] || cpu=max,-erms,-fsrm
	accel=(-accel tcg -cpu "${CKPT_VM_CPU:-$cpu}")
fi
drive=()
if [ -n "$disk" ]; then
	if [ ! -e "$disk" ]; then
		truncate -s 64M "$disk"
		echo "run.sh: created 64 MiB disk $disk"
	fi
	drive=(-drive "file=$disk,format=raw,if=virtio")
fi
[ "$mode" != programs ] || drive=(-drive "file=$userland,format=raw,if=virtio,readonly=on")
append="console=ttyS0 panic=-1 loglevel=7 ckpt.mode=$mode"
append+=" ckpt.leakwait=${CKPT_VM_LEAK_WAIT:-5} ${CKPT_VM_APPEND:-}"
if [ "$mode" = upgrade ]; then
	# pci=noacpi: under TCG the ACPI interrupt link of the virtio disk
	# (_SB_.LNKC) takes 10 to 50 s to enable at each boot (the AML
	# interpreter with the debug options); the downtime is the boot's.
	append+=" pci=noacpi ckpt.plan=$(IFS=,; echo "${up_plan[*]}")"
	# CKPT_UPGRADE_KHO=1: the images cross each kexec in preserved
	# memory (kexec handover), not on the disk.
	[ "${CKPT_UPGRADE_KHO:-0}" != 1 ] || append+=" kho=on ckpt.kho=1"
fi
# The benchmarks hold a 1 GiB process, its 1 GiB image in tmpfs and a restored copy.
case $mode in bench) mem=${CKPT_VM_MEM:-5G} ;; zdtm) mem=${CKPT_VM_MEM:-3G} ;; *) mem=${CKPT_VM_MEM:-2G} ;; esac
net=(-nic none)
if [ -n "${CKPT_VM_NET:-}" ]; then
	net=(-netdev "socket,id=n0,$CKPT_VM_NET"
	     -device "virtio-net-pci,netdev=n0,mac=${CKPT_VM_MAC:-52:54:00:c7:00:01}")
fi
qemu=(qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp 2 -no-reboot "${net[@]}"
      -kernel "$bzimage" -initrd "$initrd" -append "$append" "${drive[@]}")

if [ "$mode" = shell ]; then
	echo "run.sh: interactive VM; exit the shell to power off, Ctrl-A X to kill QEMU"
	echo "run.sh: console log: $final_log"
	"${qemu[@]}" -display none \
		-chardev "stdio,id=con,mux=on,signal=off,logfile=$log" \
		-serial chardev:con -mon chardev=con,mode=readline
	exit
fi

case $mode in
bench) timeout=${CKPT_VM_TIMEOUT:-1800} ;;
zdtm) timeout=${CKPT_VM_TIMEOUT:-3600} ;;
programs) timeout=${CKPT_VM_TIMEOUT:-1200} ;;
fuzz) timeout=${CKPT_VM_TIMEOUT:-14400} ;;
upgrade) timeout=${CKPT_VM_TIMEOUT:-$((300 * ${#up_plan[@]}))} ;;
*) timeout=${CKPT_VM_TIMEOUT:-600} ;;
esac
# --foreground: Ctrl-C still reaches QEMU; -k: SIGKILL if SIGTERM is ignored.
run_qemu() { timeout --foreground -k 10 "$timeout" "${qemu[@]}" -nographic </dev/null 2>&1; }
start=$(date +%s%N)
set +e
if [ "$mode" = demo ]; then
	run_qemu | tee "$log"
	qrc=${PIPESTATUS[0]}
elif [ "$mode" = zdtm ]; then
	# One line per test as it finishes.
	run_qemu | tee "$log" | while IFS= read -r line; do
		case $line in
		ZDTM-RESULT\ *) read -r _ n c _ <<< "$line"; printf '  %-32s %s\n' "$n" "${c%$'\r'}" ;;
		esac
	done
	qrc=${PIPESTATUS[0]}
elif [ "$mode" = programs ]; then
	# One line per test as it finishes.
	run_qemu | tee "$log" | while IFS= read -r line; do
		case $line in
		PROGRAMS-RESULT\ *) read -r _ n c r <<< "${line%$'\r'}"; printf '  %-16s %-16s %s\n' "$n" "$c" "$r" ;;
		esac
	done
	qrc=${PIPESTATUS[0]}
elif [ "$mode" = fuzz ]; then
	# The fuzzer's lines as they come (progress every 1000 cases).
	run_qemu | tee "$log" | while IFS= read -r line; do
		case $line in
		CKPT-FUZZ*) printf '  %s\n' "${line%$'\r'}" ;;
		esac
	done
	qrc=${PIPESTATUS[0]}
elif [ "$mode" = upgrade ]; then
	# The guest's UPGRADE-* lines as they come, with the host's clock (the
	# guest's restarts with each kernel), and the results.
	run_qemu | tee "$log" | while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		UPGRADE-* | CKPT-VM-BEGIN* | CKPT-VM-KEXEC* | "not ok "*)
			us=${EPOCHREALTIME/./}
			printf '  [host %d.%03d] %s\n' $((us / 1000000)) $((us / 1000 % 1000)) "$line" ;;
		esac
	done | tee "$vm/.upgrade-times.$$"
	qrc=${PIPESTATUS[0]}
	# The downtime of each switch, by the host's clock: the checkpoint
	# (UPGRADE-CHECKPOINT to UPGRADE-SAVED) plus the kexec, the boot and
	# the restart (CKPT-VM-KEXEC to UPGRADE-RESTORED); the test's module
	# unload and leak scan in between are left out.
	sed -E 's/^ *\[host ([0-9.]+)\] /\1 /' "$vm/.upgrade-times.$$" | awk '
		$2 == "UPGRADE-CHECKPOINT" { c = $1; from = $4 }
		$2 == "UPGRADE-SAVED" && c { s = $1 - c }
		$2 == "CKPT-VM-KEXEC" && c { k = $1 }
		$2 == "UPGRADE-RESTORED" && k {
			to = $4; sub(/:$/, "", to)
			printf "  downtime %s -> %s: %.1f s (checkpoint %.1f s; kexec, boot, restart %.1f s)\n",
				from, to, s + $1 - k, s, $1 - k
			c = k = 0
		}'
	rm -f "$vm/.upgrade-times.$$"
else
	run_qemu > "$log"
	qrc=$?
fi
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
case $mode in
carry-*|cross-*|fuzz|migrate-*) judge=(--mode check) ;;	# judged like check: KTAP and a clean log
upgrade) judge=(--mode check --boots ${#up_plan[@]}) ;;
*) judge=(--mode "$mode") ;;
esac
[ "${CKPT_VM_VERBOSE:-0}" != 1 ] || judge+=(-v)
case $qrc in
0) ;;
124|137)
	echo "run.sh: TIMEOUT: the VM did not finish within $timeout s (CKPT_VM_TIMEOUT); killed"
	judge+=(--timed-out "$timeout") ;;
*) echo "run.sh: qemu exited with status $qrc" ;;
esac

if [ "$mode" = bench ]; then
	tr -d '\r' < "$log" | grep '^BENCH ' || echo "run.sh: no BENCH lines in the console log"
fi
printf 'vm %s: %d.%d s; console log: %s\n' "$mode" $((ms / 1000)) $((ms % 1000 / 100)) "$final_log"
set +e
"$top/tests/vm/judge.py" "${judge[@]}" "$log"
jrc=$?
set -e
if [ "$mode" = zdtm ]; then
	"$top/tests/zdtm/report.sh" "$log" || jrc=1
fi
if [ "$mode" = programs ]; then
	tr -d '\r' < "$log" | awk '$1 == "PROGRAMS-RESULT" { n[$3]++ } END { for (c in n) { printf "%s%s %d", sep, c, n[c]; sep = ", " }; print "" }' |
		sed 's/^/programs: /'
	if tr -d '\r' < "$log" | grep -q '^PROGRAMS-RESULT [^ ]* UNEXPECTED-PASS'; then
		echo "programs: !!! tests listed in tests/programs/refused passed: remove them from the list !!!"
		tr -d '\r' < "$log" | sed -n 's/^PROGRAMS-RESULT \([^ ]*\) UNEXPECTED-PASS.*/programs: !!!   \1/p'
	fi
fi
if [ $jrc = 0 ] && [ "$qrc" != 0 ]; then
	echo "run.sh: failing: qemu exited with status $qrc" >&2
	jrc=1
fi
exit $jrc
