#!/bin/sh
# Replay tests: every recording in tests/replay/data/ (made by
# tests/replay/record.sh from the ground-truth workload) is played to an
# aggregator at its recorded pace (tests/replay/play.py), and the
# enricher's documents are held against the recorded run's truth and
# captures with tests/live/checktruth.py. Without a live probe there is
# no sock_diag socket, so TCP flows carry payload bytes only, and the
# recorded processes' ids, which the enricher reads from /proc on the
# tracepoint backend, are gone (CHECKTRUTH_REPLAY); everything else is
# checked as in truth.sh: flows, directions, payload bytes, UDP packets
# and bytes, Community IDs, the processes' names, files and arguments.
#
# REPLAY_WRAP, when set, is a command put before the aggregator and the
# enricher: tools/test runs this test with valgrind there (memcheck, all
# leak kinds but "still reachable" are errors, and any error makes the
# component exit with status 99, which fails the test). The documents
# must be the same there: the aggregator's timers follow the probe's
# clock from its hello, the enricher's ages the events' times, so a
# slower run or a later replay changes nothing.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

DATA=$top_srcdir/tests/replay/data

# stop PID NAME: SIGTERM; it must exit within 60 s (valgrind is slow),
# with status 0.
stop() {
	kill -TERM "$1"
	wait_gone "$1" 600 || {
		fail "the $2 did not stop"
		kill -KILL "$1"
	}
	wait "$1"
	st=$?
	[ "$st" = 0 ] || fail "the $2 exited with status $st"
}

n=0
for d in "$DATA"/*/; do
	name=$(basename "$d")
	w=$TMP/$name
	mkdir -p "$w"
	for f in probe.rec truth.jsonl veth.pcap vethb.pcap lo.pcap; do
		gzip -dc "$d/$f.gz" >"$w/$f" || fail "$name: cannot read $f.gz"
	done
	# shellcheck disable=SC2046
	set -- $(cat "$d/options")
	# shellcheck disable=SC2086
	${REPLAY_WRAP:-} "$top_builddir/sockflow-enricher" -l "$w/enr.sock" \
	    -u nobody -a nobody "$@" >"$w/out.json" 2>"$w/enr.err" &
	e=$!
	PIDS="$e"
	wait_socket "$w/enr.sock" || fail "$name: no enricher socket"
	# shellcheck disable=SC2086
	# -T: its timers follow the recorded clock the probe's hello gives.
	${REPLAY_WRAP:-} "$top_builddir/sockflow-aggregator" -T \
	    -l "$w/agg.sock" -e "$w/enr.sock" -u nobody "$@" 2>"$w/agg.err" &
	a=$!
	PIDS="$PIDS $a"
	wait_socket "$w/agg.sock" || fail "$name: no aggregator socket"
	python3 "$top_srcdir/tests/replay/play.py" "$w/probe.rec" \
	    "$w/agg.sock" || fail "$name: the replay failed"
	# The aggregator sees the probe leave as at a probe's stop; it
	# writes the last flows when told to stop, as from the launcher.
	stop "$a" aggregator
	stop "$e" enricher
	PIDS=
	nflows=$(sed -n 's/.*exiting: \([0-9]*\) flow(s) reported, 0 byte(s) unsent/\1/p' \
	    "$w/agg.err")
	ndocs=$(grep -c '"network"' "$w/out.json")
	[ -n "$nflows" ] && [ "$nflows" = "$ndocs" ] ||
	    fail "$name: the aggregator reported ${nflows:-?} flows with" \
	    "nothing unsent, the enricher wrote $ndocs"
	if ! CHECKTRUTH_REPLAY=1 python3 "$top_srcdir/tests/live/checktruth.py" \
	    "$w/out.json" "$w/truth.jsonl" "$w/veth.pcap+$w/vethb.pcap" \
	    "$w/lo.pcap"; then
		fail "$name ($(cat "$d/kernel")): the replayed documents do not" \
		    "match the recorded run's truth"
		cat "$w/agg.err" "$w/enr.err"
	fi
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no recording in $DATA"
echo "$n recording(s) replayed"
finish
