# SPDX-License-Identifier: GPL-2.0
#
# ckpt -- checkpoint/restart for Linux as a Rust kernel module.
#
#   make demo    install what is missing, build the kernel (cached), the module,
#                the tool and the samples, boot a VM and show checkpoint/restart
#   make check   every test: the tool's cargo tests, KUnit in the module, and the
#                selftests in the VM; prints "N passed, N failed"
#   make bench   ckpt against CRIU, side by side in one boot of Debian's stock
#                kernel (tools/build/debian-stock.sh bench; needs root)
#   make cross-kernel  images restarted under another kernel: the guest
#                kernel and Debian's stock 7.2 (vDSO proxy), guest 7.2 and
#                7.3 (tests/cross-kernel.sh; needs root for Debian's chroot)
#   make upgrade-demo  a kernel upgrade and downgrade under running jobs in
#                one QEMU boot: jobs started under the guest kernel 7.2 are
#                checkpointed, the VM kexecs into 7.3 (ckpt kexec), they are
#                restarted and go on, then back to 7.2; prints the downtime
#                (tests/upgrade.sh; builds the 7.3 kernel once, cached)
#   make migrate-demo  live migration between two VMs on a QEMU socket
#                network: a 1 GiB process writing 1% of its pages moves with
#                `ckpt migrate`/`ckpt receive` and checks itself; prints the
#                rounds, the downtime and a full dump's frozen time
#                (tests/migrate.sh; --quick is a stage of make check, --xsave
#                restores on a CPU without AVX)
#   make zdtm    CRIU's ZDTM static tests through ckpt in the VM (the peer-suite
#                lane: fetched from Debian's criu source package, never
#                committed); prints a class per test and fails if a test in
#                scope (tests/zdtm/scope) does not pass
#   make programs  the real-programs lane: Debian programs (python3, sqlite3,
#                tmux, ...) checkpointed in the middle of their work in the VM,
#                from a Debian userland built into ~/.cache/ckpt (cached, keyed
#                by tests/programs/packages); also a stage of `make check`
#   make userland  only build that userland image (prints its path)
#   make fuzz N=1000000  the fuzzers with N cases each: the image reader's
#                (its fast 20 000 run in make check's cargo stage), then the
#                module's restart in the VM under the KASAN guest kernel
#                (tests/fuzz.sh; builds that kernel once, cached; a short
#                campaign on the ordinary kernel runs in make check)
#   make         build ckpt.ko, the tool, samples and selftests
#
# KDIR=/path/to/kernel/build builds the module against another kernel (e.g. a
# distribution kernel's prepared tree); without it the guest kernel is built
# into ~/.cache/ckpt first.

SHELL := /bin/bash
LLVM ?= -19
B := $(CURDIR)/build
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all deps kernel module tool verify userprogs zdtm-tests userland demo check bench zdtm programs vm \
	clean fmt cross-kernel upgrade-demo migrate-demo fuzz

all: module tool verify userprogs

deps:
	@tools/build/deps.sh

# The kernel build directory, remembered in build/kdir (written through a
# file of this make's own: two makes of one tree must not share it).
kernel: deps
	@mkdir -p $(B)
	@tools/build/kernel.sh > $(B)/kdir.new.$$$$ && mv $(B)/kdir.new.$$$$ $(B)/kdir
	@echo "kernel: $$(cat $(B)/kdir)"

ifeq ($(KDIR),)
module: kernel
	@$(MAKE) --no-print-directory module KDIR=$$(cat $(B)/kdir)
else
module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) modules
	@mkdir -p $(B) && cp ckpt.ko $(B)/
endif

# The tool is a static, position-dependent executable (no PIE): its code sits
# at the same addresses in every run, which QEMU's TCG (7.2, before
# position-independent translation) reuses across runs instead of translating
# it again: `ckpt version` 64 -> 20 ms in the test VM, and the same off every
# checkpoint and restart; on hardware it makes no difference. The cost: the
# binary's own code and data are not randomized (stack, heap and mmap still
# are); the tool is Rust but for libzstd, which only reads `--compress`
# images. CKPT_TOOL_PIE=1 builds a static PIE instead (see building.rst).
TOOL_RUSTFLAGS = $(if $(CKPT_TOOL_PIE),,-C relocation-model=static)

tool:
	RUSTFLAGS="$(TOOL_RUSTFLAGS)" cargo build --quiet --release --locked \
		--target x86_64-unknown-linux-musl --manifest-path tools/ckpt/Cargo.toml
	@mkdir -p $(B) && cp tools/ckpt/target/x86_64-unknown-linux-musl/release/ckpt $(B)/ckpt
	@cp tools/ckpt/target/x86_64-unknown-linux-musl/release/ckpt-fuzz $(B)/ckpt-fuzz

# ckpt-verify: compares `ckpt show --json` with /proc inside the VM.
verify:
	cargo build --quiet --release --locked --target x86_64-unknown-linux-musl \
		--manifest-path tests/verify/Cargo.toml
	@mkdir -p $(B) && cp tests/verify/target/x86_64-unknown-linux-musl/release/ckpt-verify $(B)/ckpt-verify

# Samples and selftests: static C programs run inside the VM.
userprogs: kernel
	@$(MAKE) --no-print-directory -C tests B=$(B) KSRC=$$(readlink -f $$(cat $(B)/kdir)/source)

# The ZDTM tests of tests/zdtm/scope, static, in build/zdtm (fetched into
# ~/.cache/ckpt/zdtm first).
zdtm-tests:
	@tests/zdtm/build.sh

# The Debian userland of the real-programs lane.
userland: deps
	@tools/build/userland.sh

demo: all
	@tests/vm/run.sh demo

check: deps
	@tests/check.sh

# The project's own kernel's bench (ratios to memcpy): tests/vm/run.sh bench.
bench: tool userprogs
	@tools/build/debian-stock.sh bench

cross-kernel: all
	@tests/cross-kernel.sh

upgrade-demo: all
	@tests/upgrade.sh

migrate-demo: all
	@tests/migrate.sh

zdtm: all zdtm-tests
	@tests/vm/run.sh zdtm

programs: all userland
	@tests/vm/run.sh programs

vm: all
	@tests/vm/run.sh shell

N ?= 1000000
N ?= 10000
fuzz: deps
	@tests/fuzz.sh $(N)

fmt:
	rustfmt --edition 2021 rust/ckpt_main.rs
	cargo fmt --manifest-path tools/ckpt/Cargo.toml
	cargo fmt --manifest-path tests/verify/Cargo.toml

clean:
	@if [ -f $(B)/kdir ]; then $(MAKE) -C $$(cat $(B)/kdir) M=$(CURDIR) LLVM=$(LLVM) clean; fi
	rm -rf $(B) tools/ckpt/target tests/verify/target
