#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make upgrade-demo` (and the `upgrade` stage of `make check`) inside the
# VM: jobs keep running while the VM switches kernel with kexec, in one QEMU
# boot.  The kernels are slots of the initramfs, /kernels/N/{bzImage,ckpt.ko,
# name}; the kernel command line says which slot each boot runs
# (ckpt.plan=0,1,0: slot 0, then 1, then 0 again) and which boot this is
# (ckpt.stage=K, 0 first).  The jobs' files and images live on the disk
# /dev/vda (ext2, made by the first boot), mounted at $D in every boot.
#
#   first boot   make the disk's filesystem, start the jobs (below), let
#                them work, load the next kernel (`ckpt kexec --load-only`,
#                with this initramfs repacked as its initramfs), checkpoint
#                and kill the jobs (`ckpt-upgrade save`), leave
#                /kexec.next for /init (which unloads the module, reports
#                leaks, then boots the next kernel: `ckpt kexec --exec`)
#   next boots   restart the jobs (`ckpt-upgrade restart`), check each
#                continues with the same pids; print the downtime; then as
#                the first boot (checkpoint, kexec) -- or, in the last boot,
#                ask the programs to check their whole state (SIGUSR1) and
#                wait for their verdicts
#
# The jobs (their output is appended to files on the disk):
#   tree       samples/tree: 5 processes (one a zombie), two pipes, a shared
#              file offset, a shared anonymous mapping, a session and
#              process groups; on SIGUSR1 each process checks its ids,
#              counters, the pipes' sequence and the file's records
#   threads    samples/threads 2: tids, TLS, stacks, signal masks, counters
#   counter    samples/counter: a running checksum of a 64 MiB buffer, one
#              numbered line per 200 ms: the numbers must follow each other
#              without a gap or a repeat across every switch, the checksum
#              must match the buffer on every line
#   vdsoclock  samples/vdsoclock: vDSO calls through pointers resolved in
#              the first kernel, checked against the system call (through a
#              vDSO proxy when the kernels' vDSOs differ)
#   vdsoproxy  a second vdsoclock, restarted after every kexec through a vDSO
#              proxy even when the kernels' vDSO symbols are the same (`ckpt
#              restart --vdso-proxy`; 7.2.13 and 7.3.4 built by one clang
#              export the same symbols at the same offsets): its
#              clock_gettime, gettimeofday, time and getcpu go through the
#              proxy (a proxy of a proxy from the second switch on) into the
#              new kernel's vDSO and must answer right
#
# Lines for the host, which times them with its clock (tests/vm/run.sh: the
# guest's restarts with each kernel, and misses the kexec itself): the
# downtime is UPGRADE-CHECKPOINT to UPGRADE-SAVED plus CKPT-VM-KEXEC (from
# /init, after the test's module unload and leak scan) to UPGRADE-RESTORED.
. /guest/ktap.sh
. /guest/vdso-lib.sh
. /guest/wait-lib.sh
D=/var/lib/ckpt-upgrade
I=$D/images
export CKPT=/ckpt
plan=0 stage=0 kho=0
for w in $(cat /proc/cmdline); do
	case $w in
	ckpt.plan=*) plan=${w#*=} ;;
	ckpt.stage=*) stage=${w#*=} ;;
	ckpt.kho=1) kho=1 ;;
	esac
done
# ckpt.kho=1 (tests/upgrade.sh --kho, booted with kho=on): the images never
# touch the disk; they live in the initramfs' tmpfs and cross each kexec in
# memory the kernel preserves (kexec handover, `ckpt handover`).
via=--disk
if [ "$kho" = 1 ]; then
	I=/tmp/ckpt-images
	via=--kho
fi
slots=$(echo "$plan" | tr , ' ')
set -- $slots
nstages=$#
slot_of() { echo $slots | cut -d' ' -f$(($1 + 1)); }
name_of() { cat "/kernels/$1/name" 2>/dev/null || echo "slot $1"; }
cur=$(slot_of "$stage")
last=$((nstages - 1))
rm -f /kexec.next

now() { read -r _u _ < /proc/uptime; echo "$_u"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# counter_ok: every line of counter.out numbered one more than the one
# before, from 1, with the same pid and a checksum matching the buffer.
counter_ok() {
	awk '$1 == "counter" {
		if ($2 != n + 1) { printf "# counter: %d after %d\n", $2, n; bad = 1 }
		if (pid != "" && $4 != pid) { printf "# counter: pid %s, was %s\n", $4, pid; bad = 1 }
		if ($0 !~ /\(buffer ok\)/) { printf "# counter: %s\n", $0; bad = 1 }
		n = $2; pid = $4
	} END { exit bad || n == 0 }' "$D/counter.out"
}
counter_last() { awk '$1 == "counter" { n = $2 } END { print n + 0 }' "$D/counter.out"; }
counter_grows() { [ "$(counter_last)" -ge $(($1 + 3)) ]; }

# next_kernel: loads the next boot's kernel, with this initramfs (repacked:
# the running one is not kept as a file) and this command line for the
# next stage.  The initramfs holds only what the boots after this one use
# (kexec hashes every byte it carries; under TCG that is seconds).
next_kernel() {
	_next=$(slot_of $((stage + 1)))
	rm -rf /tmp/next.cpio /tmp/stage
	# The kernels the later boots boot, the modules they load.
	_keep=" $(echo $slots | cut -d' ' -f$((stage + 3))-) "
	[ "$((stage + 2))" -lt "$nstages" ] || _keep=" "
	_keepko=" $(echo $slots | cut -d' ' -f$((stage + 2))-) "
	(cd / && find . -xdev \( -path ./selftests -o -path ./bench -o -path ./zdtm \
		-o -path ./programs -o -path ./kexec.next -o -path ./ckpt-verify -o -path ./tmp/ckpt-images \
		-o -path ./samples/sharedfd -o -path ./samples/sysv -o -path ./samples/memfd \
		-o -path ./samples/restartee \) -prune -o -print |
		while read -r _f; do
			case $_f in
			./kernels/*/bzImage) _n=${_f#./kernels/}; case $_keep in *" ${_n%%/*} "*) echo "$_f" ;; esac ;;
			./kernels/*/ckpt.ko) _n=${_f#./kernels/}; case $_keepko in *" ${_n%%/*} "*) echo "$_f" ;; esac ;;
			*) echo "$_f" ;;
			esac
		done | cpio -o -H newc > /tmp/next.cpio) 2>/dev/null || return 1
	# /dev/console is under the devtmpfs mount: add it (cpio archives concatenate).
	mkdir -p /tmp/stage/dev && mknod /tmp/stage/dev/console c 5 1 &&
		(cd /tmp/stage && printf 'dev\ndev/console\n' | cpio -o -H newc >> /tmp/next.cpio) 2>/dev/null ||
		return 1
	gzip -1 /tmp/next.cpio && mv /tmp/next.cpio.gz /tmp/next.cpio || return 1
	_cmd=
	for _w in $(cat /proc/cmdline); do
		case $_w in ckpt.stage=* | ckpt.ko=*) ;; *) _cmd="$_cmd$_w " ;; esac
	done
	_cmd="${_cmd}ckpt.stage=$((stage + 1)) ckpt.ko=/kernels/$_next/ckpt.ko"
	echo "# t=$(now) next: $(name_of "$_next"), initramfs $(wc -c < /tmp/next.cpio) bytes, $_cmd"
	/ckpt kexec "/kernels/$_next/bzImage" --initrd /tmp/next.cpio --append "$_cmd" --load-only
}

# leave: checkpoint the jobs and leave /kexec.next for /init.
leave() {
	if next_kernel; then
		ktap_pass "${tag}_next_kernel_loaded"
	else
		# No kernel to go to: the jobs stay where they are (the test ends them).
		ktap_fail "${tag}_next_kernel_loaded"
		kill -9 $TP $TA $TB $TG $TT $TC $TV $TW 2>/dev/null
		sleep 1
		umount "$D"
		return
	fi
	sleep 1
	echo "# t=$(now) loaded"
	echo "UPGRADE-CHECKPOINT stage=$stage $(name_of "$cur")"
	t0=$(now)
	saved=0
	/bin/ckpt-upgrade save $via "$I" $TP $TT $TC $TV "$TW,--vdso-proxy" && saved=1
	t1=$(now)
	echo "UPGRADE-SAVED stage=$stage $(name_of "$cur") in $(sub "$t1" "$t0") s"
	[ "$saved" = 1 ] && ktap_pass "${tag}_checkpoint" || ktap_fail "${tag}_checkpoint"
	ls -l "$I" | sed 's/^/# /'
	if [ "$kho" = 1 ]; then
		# The images go in preserved memory, not on the disk.
		ktap_check "${tag}_handover_put" sh -c "/ckpt handover status | tee /dev/stderr | grep -q 'next kernel: [1-9]'"
	fi
	ktap_check "${tag}_jobs_gone" within 10 dead $TP $TA $TB $TG $TT $TC $TV $TW
	if [ "$saved" != 1 ]; then
		kill -9 $TP $TA $TB $TG $TT $TC $TV $TW 2>/dev/null
		sleep 1
		umount "$D"
		return
	fi
	sync
	umount "$D" || { echo "# umount $D failed: remounting read-only"; mount -o remount,ro "$D"; }
	echo "/ckpt kexec --exec" > /kexec.next
	echo "# stage $stage done: kexec into $(name_of "$(slot_of $((stage + 1)))")"
}

tag=s$stage
echo "CKPT-TEST-BEGIN upgrade:stage$stage"
echo "TAP version 13"
echo "# stage $stage of $nstages: $(name_of "$cur"), $(uname -r)"
mkdir -p "$D"
if [ "$stage" = 0 ]; then
	ktap_check "${tag}_disk" sh -c "mke2fs -q -F /dev/vda >/dev/null && mount /dev/vda $D"
	mkdir -p "$I"
	# Far from the pids the next kernels' own boots take.
	echo 30000 > /proc/sys/kernel/ns_last_pid
	setsid /samples/tree "$D/tree.data" >> "$D/tree.out" 2>&1 &
	/samples/threads 2 >> "$D/threads.out" 2>&1 &
	TT=$!
	/samples/counter >> "$D/counter.out" 2>&1 &
	TC=$!
	/samples/vdsoclock >> "$D/vdso.out" 2>&1 &
	TV=$!
	/samples/vdsoclock >> "$D/vdso2.out" 2>&1 &
	TW=$!
	up=1
	wait_for "$D/tree.out" '^ready' 60 || up=0
	wait_for "$D/threads.out" '^ready' 60 || up=0
	wait_for "$D/counter.out" '^counter 3 ' 60 || up=0
	wait_for "$D/vdso.out" '^tick 3 ' 60 || up=0
	wait_for "$D/vdso2.out" '^tick 3 ' 60 || up=0
	[ "$up" = 1 ] && ktap_pass "${tag}_jobs_started" || ktap_fail "${tag}_jobs_started"
	# ready P a=A b=B g=G z=Z
	set -- $(grep '^ready' "$D/tree.out") x x x x x x
	TP=$2 TA=${3#a=} TB=${4#b=} TG=${5#g=} TZ=${6#z=}
	echo "$TP $TA $TB $TG $TZ $TT $TC $TV $TW" > "$D/pids"
	echo "# t=$(now) jobs: tree P=$TP A=$TA B=$TB G=$TG Z=$TZ, threads $TT, counter $TC, vdsoclock $TV, vdsoproxy $TW"
	# All or nothing: a job that cannot be checkpointed (here: no such
	# process) stops `save` before it checkpoints or kills any job.
	refuses() {
		! /bin/ckpt-upgrade save /tmp/refused $TC 999999 2> /tmp/refused.err &&
			runs "$TC" counter && [ ! -e /tmp/refused/job-1.img ] &&
			grep -q 'job 999999 cannot be checkpointed; nothing was' /tmp/refused.err
	}
	ktap_check "${tag}_save_all_or_nothing" refuses
	sed 's/^/# /' /tmp/refused.err
	[ "$up" = 1 ] && leave
else
	ktap_check "${tag}_disk" mount /dev/vda "$D"
	read -r TP TA TB TG TZ TT TC TV TW < "$D/pids"
	vlast=$(vdso_last "$D/vdso.out")
	wlast=$(vdso_last "$D/vdso2.out")
	clast=$(counter_last)
	if [ "$kho" = 1 ]; then
		/ckpt handover status | sed 's/^/# /'
		ktap_check "${tag}_images_not_on_disk" sh -c "[ ! -e $D/images ] && [ ! -e $I ]"
		ktap_check "${tag}_handover_in" sh -c "/ckpt handover status | grep -q 'previous kernel: [1-9]'"
	fi
	t0=$(now)
	/bin/ckpt-upgrade restore $via "$I" > /tmp/restore.out 2>&1
	rc=$?
	t1=$(now)
	echo "UPGRADE-RESTORED stage=$stage $(name_of "$cur"): restart began $(sub "$t0" 0) s after boot, took $(sub "$t1" "$t0") s"
	sed 's/^/# /' /tmp/restore.out
	[ "$rc" = 0 ] && ktap_pass "${tag}_restore" || ktap_fail "${tag}_restore"
	if [ "$kho" = 1 ]; then
		# Taken and freed: nothing left from the previous kernel.
		ktap_check "${tag}_handover_released" sh -c "/ckpt handover status | grep -q 'previous kernel: 0 bytes'"
		rm -rf "$I"
	fi
	same_pids() {
		runs "$TP" tree && runs "$TA" tree && runs "$TB" tree && runs "$TG" tree &&
			[ "$(state_of "$TZ")" = Z ] && runs "$TT" threads && runs "$TC" counter &&
			runs "$TV" vdsoclock && runs "$TW" vdsoclock
	}
	ktap_check "${tag}_same_pids" same_pids
	ktap_check "${tag}_counter_continues" within 20 counter_grows "$clast"
	ktap_check "${tag}_counter_exact" counter_ok
	ktap_check "${tag}_vdso_continues" vdso_continues "$D/vdso.out" "$vlast"
	ktap_check "${tag}_vdso_answers_right" vdso_all_ok "$D/vdso.out"
	vdso_proxied "$TV" "$D/vdso.out" > /tmp/proxy.out && echo "# vdsoclock: through a vDSO proxy" ||
		echo "# vdsoclock: this kernel's vDSO moved into place"
	# The forced proxy across the kexec: in place, and every answer right.
	ktap_check "${tag}_vdsoproxy_proxied" vdso_proxied "$TW" "$D/vdso2.out"
	ktap_check "${tag}_vdsoproxy_continues" vdso_continues "$D/vdso2.out" "$wlast"
	ktap_check "${tag}_vdsoproxy_answers_right" vdso_all_ok "$D/vdso2.out"
	if [ "$stage" -lt "$last" ]; then
		leave
	else
		# The programs check their whole state themselves.
		kill -USR1 "$TP" "$TT"
		ktap_check "${tag}_tree_verdict" wait_for "$D/tree.out" '^(OK|FAIL)' 90
		sed 's/^/# tree: /' "$D/tree.out"
		ktap_check "${tag}_tree_ok" grep -q "^OK tree P=$TP A=$TA B=$TB G=$TG Z=$TZ " "$D/tree.out"
		ktap_check "${tag}_threads_verdict" wait_for "$D/threads.out" '^(OK|FAIL)' 90
		sed 's/^/# threads: /' "$D/threads.out"
		ktap_check "${tag}_threads_ok" grep -q '^OK threads=2 ' "$D/threads.out"
		echo "# counter: $(counter_last) lines; vdsoclock: $(vdso_last "$D/vdso.out") ticks; vdsoproxy: $(vdso_last "$D/vdso2.out") ticks"
		kill "$TC" "$TV" "$TW"
		ktap_check "${tag}_jobs_end" within 30 dead $TP $TA $TB $TG $TT $TC $TV $TW
		for p in $TP $TA $TB $TG $TT $TC $TV $TW; do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			tree | threads | counter | vdsoclock) kill -9 "$p" 2>/dev/null ;;
			esac
		done
		sleep 0.5
		umount "$D" || echo "# umount $D failed"
	fi
fi
echo "1..$ktap_n"
echo "# Totals: pass:$ktap_npass fail:$ktap_nfail xfail:0 xpass:0 skip:0 error:0"
echo "CKPT-TEST-END upgrade:stage$stage rc=$([ "$ktap_nfail" = 0 ] && echo 0 || echo 1)"
[ "$ktap_nfail" = 0 ]
