#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# redis-server with 3 I/O threads (io-threads 3: clients are served by
# threads with their own epoll sets, woken by the main thread through
# eventfds), on a unix socket with 20000 keys, a long-lived client and a
# loop of new ones in its tree; see tests/programs/redis.inc.
name=redis_io io=3
. /lane/redis.inc
