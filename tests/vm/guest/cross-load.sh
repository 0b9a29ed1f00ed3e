#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Second boot of a cross-kernel test: restart the image cross-save.sh wrote
# under another kernel (from /cross.tar in the initramfs, or the disk
# /dev/vda) and check what ckpt.expect= on the kernel command line says:
#
#   proxy         the program continues, its vDSO calls answered right,
#                 through a vDSO proxy (the two kernels' vDSOs differ)
#   any           the program continues, its vDSO calls answered right
#   both          as any; then it is killed and the image restarted again
#                 through a vDSO proxy even if the vDSOs have the same
#                 symbols (--vdso-proxy): it continues, answered right
#   refuse:WORD   restart is refused with a reason containing WORD
. /guest/ktap.sh
. /guest/vdso-lib.sh
expect=any
for w in $(cat /proc/cmdline); do
	case $w in ckpt.expect=*) expect=${w#*=} ;; esac
done
cd /tmp || exit 1
src=/cross.tar
[ -f "$src" ] || src=/dev/vda
case $expect in proxy) ktap_plan 4 ;; both) ktap_plan 7 ;; *) ktap_plan 3 ;; esac
ktap_check cross_load_read tar -xf "$src" -C /tmp x.img x.out x.kernel
echo "# image taken under $(cat /tmp/x.kernel), restarted under $(uname -r)"
last=$(vdso_last /tmp/x.out)
# The output as the image left it (the second restart of `both` starts from it).
cp /tmp/x.out /tmp/x.out0
/ckpt restart /tmp/x.img --ignore-changed --detach --quiet > /tmp/x.pid 2> /tmp/x.err
rc=$?
sed 's/^/# /' /tmp/x.err
case $expect in
refuse:*)
	word=${expect#refuse:}
	ktap_check cross_load_refused test "$rc" != 0
	ktap_check cross_load_reason grep -q "$word" /tmp/x.err
	;;
*)
	pid=$(cat /tmp/x.pid)
	ktap_check cross_load_continues vdso_continues /tmp/x.out "$last"
	ktap_check cross_load_answers_right vdso_all_ok /tmp/x.out
	if [ "$expect" = proxy ]; then
		ktap_check cross_load_proxied vdso_proxied "$pid" /tmp/x.out
	else
		vdso_proxied "$pid" /tmp/x.out >/dev/null && echo "# through a vDSO proxy" ||
			echo "# this kernel's vDSO moved into place"
	fi
	kill "$pid" 2>/dev/null
	if [ "$expect" = both ]; then
		gone() { ! kill -0 "$pid" 2>/dev/null; }
		i=0
		while ! gone && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		cp /tmp/x.out0 /tmp/x.out
		last=$(vdso_last /tmp/x.out)
		/ckpt restart /tmp/x.img --ignore-changed --vdso-proxy --detach --quiet > /tmp/x.pid 2> /tmp/x.err
		sed 's/^/# /' /tmp/x.err
		pid=$(cat /tmp/x.pid)
		ktap_check cross_load_proxy_continues vdso_continues /tmp/x.out "$last"
		ktap_check cross_load_proxy_answers_right vdso_all_ok /tmp/x.out
		ktap_check cross_load_proxy_proxied vdso_proxied "$pid" /tmp/x.out
		kill "$pid" 2>/dev/null
	fi
	;;
esac
ktap_finish
