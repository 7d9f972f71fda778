#!/bin/sh
# Stopping: SIGTERM stops all three components and leaves nothing behind;
# a killed launcher takes its components with it. (A component that dies
# is started again: tests/live/faults.sh.)
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

pids() {
	for c in probe aggregator enricher; do comp_pid $c; done
}

# 1. SIGTERM.
start_pipeline
P=$(pids)
[ $(echo $P | wc -w) = 3 ] || fail "expected three components, got: $P"
kill -TERM "$LAUNCHER"
wait "$LAUNCHER"
STATUS=$?
LAUNCHER=
[ "$STATUS" = 0 ] || fail "SIGTERM: exit status $STATUS"
for p in $P; do
	wait_gone "$p" 20 || fail "SIGTERM: process $p still there"
done
[ -e "$TMP/run" ] && fail "SIGTERM: runtime directory left behind"

# 2. A component that dies is started again: tests/live/faults.sh.
# 3. The launcher itself is killed.
start_pipeline
P=$(pids)
kill -KILL "$LAUNCHER"
wait "$LAUNCHER" 2>/dev/null
LAUNCHER=
for p in $P; do
	wait_gone "$p" 50 || fail "launcher killed: component $p still there"
done
finish
