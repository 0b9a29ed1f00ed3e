#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The fast subset of the ZDTM lane in `make check`: the tests marked `check`
# in tests/zdtm/scope (CRIU's ZDTM static tests that pass through ckpt
# today), each run natively and then checkpointed, killed, restarted twice
# from the same image and checked by its own PASS/FAIL verdict.  KTAP.
cd /tmp || exit 1
sh /zdtm/lane.sh --ktap --scope check
