#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# GNU make -j3 and two recursive makes sharing make 4.4's default jobserver:
# a named FIFO in /tmp holding the free job tokens.  90 targets, checkpointed
# with recipes running; see tests/programs/make.inc.
name=make style=fifo
. /lane/make.inc
