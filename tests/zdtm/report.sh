#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The result table of the ZDTM lane, from the console log of
# `tests/vm/run.sh zdtm` (its ZDTM-RESULT and ZDTM-SUMMARY lines).
#
#   tests/zdtm/report.sh [--markdown] build/vm/console-zdtm.log
#
# Prints every test with its scope, area, class and reason, then a count
# per class, for the tests in scope and out of it.  Exits 1 if the lane
# failed (a test in scope that did not PASS, other than NATIVE-FAIL; any
# FAIL) or did not finish.
set -euo pipefail
md=0
[ "${1:-}" != --markdown ] || { md=1; shift; }
log=${1:?usage: report.sh [--markdown] CONSOLE_LOG}

tr -d '\r' < "$log" | awk -v md=$md '
	/^ZDTM-RESULT / {
		name = $2; class = $3; scope = $4; area = $5
		reason = $0
		sub(/^ZDTM-RESULT +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ ?/, "", reason)
		n++
		if (md)
			printf "| %s | %s | %s | %s | %s |\n", name, scope, area, class, reason
		else
			printf "%-30s %-5s %-8s %-14s %s\n", name, scope, area, class, reason
		s = (scope == "out") ? "out" : "in"
		count[s, class]++; total[s]++
		bad = (class == "FAIL") || (s == "in" && class != "PASS" && class != "NATIVE-FAIL")
		if (bad) nbad++
	}
	/^ZDTM-SUMMARY / { summary = $0 }
	BEGIN {
		if (md) { print "| test | scope | area | class | reason |"; print "|---|---|---|---|---|" }
		else printf "%-30s %-5s %-8s %-14s %s\n", "TEST", "SCOPE", "AREA", "CLASS", "REASON"
	}
	END {
		split("PASS FAIL REFUSED RESTART-FAILED HANG NATIVE-FAIL", cls, " ")
		print ""
		for (k = 1; k <= 2; k++) {
			s = (k == 1) ? "in" : "out"
			line = sprintf("%-13s %3d:", (s == "in") ? "in scope" : "out of scope", total[s])
			for (i = 1; i <= 6; i++)
				line = line sprintf(" %s %d", tolower(cls[i]), count[s, cls[i]])
			print line
		}
		if (summary == "") {
			print "zdtm: no ZDTM-SUMMARY line: the lane did not finish"
			exit 1
		}
		if (nbad) {
			printf "zdtm: FAILED: %d test(s) in scope did not pass or a test failed\n", nbad
			exit 1
		}
		printf "zdtm: ok (%d tests)\n", n
	}'
