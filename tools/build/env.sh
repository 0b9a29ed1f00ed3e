# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build scripts; sourced, never run.
export CKPT_CACHE=${CKPT_CACHE:-$HOME/.cache/ckpt}
export LLVM=-19
export BINDGEN_VERSION=0.72.1
# The guest kernel's series: 7.2 (default) or 7.3 (CKPT_KSERIES=7.3), each
# built into its own cache directory (the version is part of its name).
export KSERIES=${CKPT_KSERIES:-7.2}
export PATH=$HOME/.cargo/bin:$PATH
# Newer Debian suites read (never installed from) to get linux-source-$KSERIES.
export CKPT_APT_SUITES=${CKPT_APT_SUITES:-"sid forky trixie-backports"}
