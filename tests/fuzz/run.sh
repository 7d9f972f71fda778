#!/bin/sh
# Run every fuzz target of a build for a bounded time, each from a copy of
# its seed corpus (the committed seeds are never written to), and say for
# each how many inputs it ran and whether it crashed. A crash, a leak, a
# timeout or an out-of-memory makes the exit status non-zero, and the
# input that caused it is kept and named.
#
#   tests/fuzz/run.sh BUILDDIR      (built with ./configure --enable-fuzzing
#                                    CC=clang)
#   FUZZ_SECONDS=600 tests/fuzz/run.sh BUILDDIR
#
# Targets are BUILDDIR/tests/fuzz/fuzz_NAME; the seeds of one are
# tests/fuzz/corpus/NAME beside this script.

set -u

usage() {
	echo "usage: $0 builddir" >&2
	exit 2
}

[ $# -eq 1 ] || usage
builddir=$1
here=$(cd "$(dirname "$0")" && pwd) || exit 2
seconds=${FUZZ_SECONDS:-60}
case $seconds in
''|*[!0-9]*)
	echo "$0: FUZZ_SECONDS must be a number of seconds" >&2
	exit 2
	;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/sockflow-fuzz.XXXXXX") || exit 2
keep=0
cleanup() {
	[ "$keep" -eq 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

found=0
failed=0
for bin in "$builddir"/tests/fuzz/fuzz_*; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	target=$(basename "$bin")
	found=$((found + 1))
	seeds=$here/corpus/${target#fuzz_}
	dir=$work/$target
	mkdir -p "$dir/corpus" "$dir/artifacts" || exit 2
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$dir/corpus/" || exit 2
	else
		echo "$target: no seeds in $seeds, starting from nothing" >&2
	fi

	# -timeout: one input running that long is a hang, and a failure.
	"$bin" -max_total_time="$seconds" -rss_limit_mb=512 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
	    "$dir/corpus" >"$dir/log" 2>&1
	status=$?

	execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' \
	    "$dir/log" | tail -n 1)
	artifacts=$(ls "$dir/artifacts" 2>/dev/null)
	if [ "$status" -eq 0 ] && [ -z "$artifacts" ] && [ -n "$execs" ]; then
		echo "$target: $execs execs, no crash"
		continue
	fi

	failed=$((failed + 1))
	keep=1
	echo "$target: ${execs:-?} execs, FAILED (exit status $status)"
	for a in $artifacts; do
		echo "$target: input kept in $dir/artifacts/$a"
	done
	# What went wrong and where, not the sanitizer's legend.
	echo "$target: log in $dir/log; the report:"
	awk '/ERROR:|runtime error|deadly signal|SUMMARY:/ { n = 14 }
	    n-- > 0 { print "    " $0 }' "$dir/log"
done

if [ "$found" -eq 0 ]; then
	echo "$0: no fuzz targets in $builddir/tests/fuzz" \
	    "(./configure --enable-fuzzing CC=clang, then make)" >&2
	exit 2
fi
[ "$failed" -eq 0 ]
