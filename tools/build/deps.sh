#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything ckpt needs to build and test, idempotently.
# A second run is a no-op (each step checks before it acts).
#
#   tools/build/deps.sh            # packages, rust-src, bindgen, kernel source
#
# Environment: CKPT_CACHE (default ~/.cache/ckpt) holds the kernel source,
# the kernel build and the private apt state used to read newer suites.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

log() { printf '[deps] %s\n' "$*" >&2; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then echo sudo; else
            log "not root and no sudo: install the packages by hand"; exit 1; fi
    fi
}

# --- Debian packages (bookworm) -------------------------------------------
PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev
      cpio busybox-static qemu-system-x86 make gcc libc6-dev python3 kmod xz-utils
      zstd ca-certificates debootstrap e2fsprogs
      musl-tools    # musl-gcc: the zstd crate's C library in the static tool
      libcap-dev libaio-dev)   # static libcap and libaio for ZDTM tests (different_creds, aio00)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=$(need_root)
    log "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "Debian packages present"
fi

# --- Rust toolchain pieces --------------------------------------------------
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    log "rustup component add rust-src"
    rustup component add rust-src
fi
if ! rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
    log "rustup target add x86_64-unknown-linux-musl (static tool)"
    rustup target add x86_64-unknown-linux-musl
fi
if ! bindgen --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
    log "cargo install bindgen-cli $BINDGEN_VERSION"
    cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

# --- Kernel source from Debian's linux-source-7.2 ---------------------------
"$here/kernel-source.sh" >/dev/null
