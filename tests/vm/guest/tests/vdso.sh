#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The vDSO proxy on one kernel: a program that calls the vDSO through
# pointers resolved before the checkpoint is restarted with `--vdso-proxy`
# (what a restart under a kernel whose vDSO differs does): its old vDSO
# address holds the proxy, this kernel's vDSO is elsewhere, and every call
# still answers as the system call does.  Then the proxied process is
# checkpointed again and restarted plainly: the proxy comes back as its
# memory, and still forwards to the (moved) vDSO.
. /guest/ktap.sh
. /guest/vdso-lib.sh
ktap_plan 8
out=/tmp/vdso.out img=/tmp/vdso.img img2=/tmp/vdso2.img
rm -f "$out" "$img" "$img2"

pid=$(vdso_start "$out")
ktap_check vdso_checkpoint /ckpt checkpoint "$pid" -o "$img" --kill --quiet
wait "$pid" 2>/dev/null
last=$(vdso_last "$out")
/ckpt restart "$img" --vdso-proxy --detach --quiet > /tmp/vdso.pid 2> /tmp/vdso.err
cat /tmp/vdso.err | sed 's/^/# /'
ktap_check vdso_proxy_restart_continues vdso_continues "$out" "$last"
ktap_check vdso_proxy_answers_right vdso_all_ok "$out"
ktap_check vdso_proxy_in_place vdso_proxied "$pid" "$out"

ktap_check vdso_proxied_checkpoint /ckpt checkpoint "$pid" -o "$img2" --kill --quiet
sleep 0.3
last=$(vdso_last "$out")
/ckpt restart "$img2" --detach --quiet > /tmp/vdso.pid 2> /tmp/vdso.err
cat /tmp/vdso.err | sed 's/^/# /'
ktap_check vdso_proxied_restart_continues vdso_continues "$out" "$last"
ktap_check vdso_proxied_answers_right vdso_all_ok "$out"
ktap_check vdso_proxied_still_proxied vdso_proxied "$pid" "$out"
kill "$pid" 2>/dev/null
rm -f "$img" "$img2"
ktap_finish
