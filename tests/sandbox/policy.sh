#!/bin/sh
# The seccomp policies as the kernel gets them (libseccomp's pseudo filter
# code, exported by the test programs that link the real policy files)
# must be the committed ones, tests/sandbox/aggregator.pfc, enricher.pfc
# and sockflow-output's for the console alone and for every output on
# (output-console.pfc, output-all.pfc): every change to an allow-list shows as a diff in review.
# After a deliberate change, "make sandbox-golden" writes them again.
# The files are those of Debian 12's libseccomp on x86_64, production
# build (default action: kill the process).
. "${top_srcdir:-.}/tests/live/lib.sh"

for c in aggregator:agg:export enricher:enr:export \
    output-console:out:export-console output-all:out:export-all; do
	name=${c%%:*}
	rest=${c#*:}
	prog=$top_builddir/tests/sandbox/sandbox_${rest%%:*}
	if ! "$prog" "${rest#*:}" >"$TMP/$name.pfc" 2>"$TMP/err.log"; then
		fail "$prog export: $(cat "$TMP/err.log")"
		continue
	fi
	if ! diff -u "$top_srcdir/tests/sandbox/$name.pfc" "$TMP/$name.pfc"; then
		fail "the $name's policy is not the committed one (a" \
		    "deliberate change: make sandbox-golden, and commit)"
	else
		echo "ok: $name policy ($(grep -c 'action ALLOW' \
		    "$TMP/$name.pfc") allow rules) is the committed one"
	fi
done
finish
