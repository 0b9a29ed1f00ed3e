#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# redis-server (io-threads 1) on a unix socket with 20000 keys, a long-lived
# client and a loop of new ones in its tree; see tests/programs/redis.inc.
name=redis io=1
. /lane/redis.inc
