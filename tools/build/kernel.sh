#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the guest kernel into a cache outside the clone, keyed
# by kernel version, config fragment and toolchain.  A warm cache makes this
# a no-op.  Prints the build directory (KDIR for `make`) on stdout.
#
# CKPT_KFLAVOR=kasan builds the fuzz lane's kernel instead: the fragment
# tools/build/ckpt-kasan.config on top of ckpt.config (KASAN, KFENCE, UBSAN,
# failslab, fail_page_alloc), cached in its own directory (…/kbuild/VERSION-
# kasan-KEY), about twice as long to build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
log() { printf '[kernel] %s\n' "$*" >&2; }

src=$("$here/kernel-source.sh")
kver=$(make -s -C "$src" kernelversion 2>/dev/null)
toolchain="$(rustc --version) | $(bindgen --version 2>&1 | head -n1) | $(clang-19 --version | head -n1)"
frags=("$here/ckpt.config")
flavor=${CKPT_KFLAVOR:-}
case $flavor in
"") ;;
kasan) frags+=("$here/ckpt-kasan.config") ;;
*) log "unknown CKPT_KFLAVOR=$flavor (known: kasan)"; exit 1 ;;
esac
key=$( { cat "${frags[@]}"; echo "$toolchain"; basename "$src"; } | sha256sum | cut -c1-12)
out=$CKPT_CACHE/kbuild/$kver${flavor:+-$flavor}-$key
mkdir -p "$out"
[ -n "$flavor" ] || echo "$kver" > "$CKPT_CACHE/kbuild/.last-version"
# One build per tree at a time: a second caller waits for the first.
exec 9>"$out/.lock"
if ! flock -n 9; then
    log "another build of $out is running; waiting for it"
    flock 9
fi

if [ -f "$out/.ckpt-built" ] && [ -f "$out/arch/x86/boot/bzImage" ]; then
    # Warm: let make confirm nothing changed (seconds), unless told to trust it.
    if [ "${CKPT_TRUST_CACHE:-0}" != 1 ]; then
        make -s -C "$src" O="$out" LLVM=$LLVM -j"$(nproc)" >/dev/null
    fi
    log "Linux $kver (Debian $(basename "$src" | sed 's/^linux-//')) cached in $out"
    echo "$out"; exit 0
fi

M=(make -C "$src" O="$out" LLVM=$LLVM)
if [ ! -f "$out/.ckpt-configured" ]; then
    log "configuring Linux $kver in $out"
    "${M[@]}" -s tinyconfig >&2
    "${M[@]}" -s kvm_guest.config >&2
    (cd "$out" && KCONFIG_CONFIG=.config "$src/scripts/kconfig/merge_config.sh" -m -O "$out" .config "${frags[@]}" >&2)
    "${M[@]}" -s olddefconfig >&2
    bad=0
    # An option this kernel's Kconfig no longer has (7.3 folded PROC_SYSCTL
    # into SYSCTL) is reported and skipped: the fragment serves every series.
    known() { grep -rqE --include='Kconfig*' "^[[:space:]]*(menu)?config ${1#CONFIG_}\$" "$src"; }
    while IFS= read -r line; do
        case "$line" in
            CONFIG_*=*) grep -qx "$line" "$out/.config" || {
                if known "${line%%=*}"; then
                    log "config: wanted $line, got: $(grep "^${line%%=*}=" "$out/.config" || echo unset)"; bad=1
                else
                    log "config: ${line%%=*} does not exist in Linux $kver; skipped"
                fi; } ;;
            "# CONFIG_"*" is not set") o=${line#\# }; o=${o%% *}; grep -q "^$o=" "$out/.config" && { log "config: wanted $o unset"; bad=1; } ;;
        esac
    done < <(cat "${frags[@]}")
    [ $bad = 0 ] || { log "config fragment not satisfied"; exit 1; }
    "${M[@]}" -s rustavailable >&2
    touch "$out/.ckpt-configured"
fi
log "building Linux $kver with $(nproc) jobs (about 15 minutes on 2 cores)"
start=$(date +%s)
"${M[@]}" -j"$(nproc)" >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; log "kernel build failed; log in $out/build.log"; exit 1; }
log "built in $(( $(date +%s) - start )) s"
touch "$out/.ckpt-built"
echo "$out"
