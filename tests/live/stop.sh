#!/bin/sh
# Stopping: SIGTERM stops all three components and leaves nothing behind;
# a component that dies makes the launcher stop the others, name the one
# that died and exit non-zero; a killed launcher takes its components
# with it.
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

# 2. A component dies: each in turn.
for victim in aggregator enricher probe; do
	start_pipeline
	P=$(pids)
	kill -KILL "$(comp_pid $victim)"
	wait "$LAUNCHER"
	STATUS=$?
	LAUNCHER=
	[ "$STATUS" != 0 ] || fail "$victim killed: launcher exit status 0"
	grep -q "$victim (pid [0-9]*) was killed by signal 9" "$TMP/err.log" ||
	    fail "$victim killed: no message naming it"
	for p in $P; do
		wait_gone "$p" 20 || fail "$victim killed: $p still there"
	done
	[ -e "$TMP/run" ] && fail "$victim killed: runtime directory left"
done

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
