#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# GNU make -j3 and two recursive makes sharing the classic jobserver
# (--jobserver-style=pipe): an anonymous pipe holding the free job tokens,
# its two ends inherited by every make.  90 targets, checkpointed with
# recipes running; see tests/programs/make.inc.
name=make_pipe style=pipe
. /lane/make.inc
