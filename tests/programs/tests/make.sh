#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# GNU make -j3 with its jobserver (make 4.4: a named FIFO in /tmp holding
# the free job tokens) shared with two recursive makes: 90 targets, each
# recipe a shell that logs its start, sleeps, computes a sum of squares into
# its file and logs its end.  The whole tree (the shell, the makes, the
# recipes' shells and their sleeps) is checkpointed with recipes running,
# killed, restarted: make finishes with status 0, every target was started
# once and ended once, never more than 3 recipes ran at the same time (no
# token was made or lost across the restart), make reports no jobserver
# problem, and the concatenated output is exactly the expected one.
name=make
. /lane/lib.sh
ktap_plan 10
mkdir "$W/run.d"
# A recipe: "start T C" (C: recipes running, itself included), sleep, the
# sum of the squares 1..K of its number K into T, "end T".
cat > "$W/rules.mk" <<'EOF'
%.out:
	@mkdir run.d/$@; echo "start $@ $$(ls run.d | wc -l)" >> log; sleep 0.4; \
	t=$@; t=$${t%.out}; k=$${t##*[a-z]}; i=0; s=0; \
	while [ $$i -lt $$k ]; do i=$$((i + 1)); s=$$((s + i * i)); done; \
	echo "$@ $$s" > $@.tmp; mv $@.tmp $@; rmdir run.d/$@; echo "end $@" >> log
EOF
list() { awk -v p="$1" 'BEGIN { for (k = 1; k <= 30; k++) printf " %s%d.out", p, k }'; }
cat > "$W/sub.mk" <<EOF
\$(P).all: \$(foreach k,$(seq -s ' ' 1 30),\$(P)\$(k).out)
	@cat \$^ > \$@
include rules.mk
EOF
cat > "$W/Makefile" <<EOF
all.out: a.all b.all top.all
	@cat \$^ > \$@
a.all:
	+@\$(MAKE) --no-print-directory -f sub.mk P=a
b.all:
	+@\$(MAKE) --no-print-directory -f sub.mk P=b
top.all:$(list top)
	@cat \$^ > \$@
include rules.mk
EOF
awk 'BEGIN { n = split("a b top", p, " "); for (j = 1; j <= n; j++) for (k = 1; k <= 30; k++) print p[j] k ".out", k * (k + 1) * (2 * k + 1) / 6 }' > "$W/want"
setsid sh -c 'make -j3 > make.out 2> make.err; echo $? > status' < /dev/null &
root=$!
sessions=$root
ends() { e=$(grep -c '^end ' "$W/log" 2>/dev/null); [ "${e:-0}" -ge "$1" ]; }
ktap_check building within 120 ends 20
submake=$(for p in $(tree "$root"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = make ] && echo $p; done | tail -n 1)
note "jobserver: $(tr '\0' '\n' < /proc/$submake/environ 2>/dev/null | grep '^MAKEFLAGS=')"
note "before: $(grep -c '^end ' "$W/log") ended, running: $(ls "$W/run.d" | tr '\n' ' ')"
cycle "$root"
status_is() { [ "$(cat "$W/status" 2>/dev/null)" = "$1" ]; }
gated $up make_ok within 180 status_is 0
gated $up output_exact cmp -s "$W/all.out" "$W/want"
once() {
	awk '{ n[$1 " " $2]++ } END { for (k in n) if (n[k] != 1) { print "# " k ": " n[k] " times"; bad = 1 }
		exit bad }' "$W/log" && [ "$(grep -c '^start ' "$W/log")" = 90 ] && [ "$(grep -c '^end ' "$W/log")" = 90 ]
}
gated $up each_target_once once
at_most_3() { awk '$1 == "start" && $3 > 3 { print "# " $0; bad = 1 } END { exit bad }' "$W/log"; }
gated $up at_most_3_jobs at_most_3
gated $up no_jobserver_complaint test ! -s "$W/make.err"
gated $up nothing_left test -z "$(ls "$W/run.d")"
# Restart with make's own view: nothing to do.
gated $up up_to_date test "$(cd "$W" && make -j3 2>&1)" = "make: 'all.out' is up to date."
note "max concurrency $(awk '$1 == "start" && $3 > m { m = $3 } END { print m }' "$W/log")"
show "$W/make.err"
show "$W/log" 3
lane_end
