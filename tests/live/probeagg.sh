#!/bin/sh
# The probe against a fake aggregator (tests/live/aggfake.py): its
# aggregator closing the connection in the middle of its output, and one
# that sends it a byte, must each leave the probe running, connected to
# the next aggregator with a hello that says it resumed, the formats
# again and only whole frames; SIGTERM then ends it cleanly. The workload
# while the first aggregator reads nothing is 3,000 connections in a
# private network namespace (bench/flowgen).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

python3 "$top_srcdir/tests/live/aggfake.py" "$top_builddir/sockflow-probe" \
    "$TMP/agg.sock" "$TMP/probe.err" unshare -n sh -c \
    "ip link set lo up && '$top_builddir/bench/flowgen' tcp 3000 200 5797 \
    >/dev/null" || fail "the probe and its aggregators"
grep -E "aggregator|kept|lost" "$TMP/probe.err"
finish
