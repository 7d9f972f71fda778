#!/bin/sh
# Process and user fields, live, on this machine's backend:
#  - short-lived processes: a program (run as uid and gid 1235) forks
#    children that connect, send and exit at once, without an exec of
#    their own; each child's flow must carry its own pid, its parent,
#    name, executable, arguments and ids, all known from events: by the
#    time the flow is reported the child is long gone. The program itself
#    stays a second: on the tracepoint backend its arguments come from a
#    copy of its new stack, and when that copy ends before the strings
#    (a stack page the kernel never touched, about one exec in six), from
#    /proc while it still runs (README, "Process arguments");
#  - a credential change after exec: a client exec'd as root becomes
#    uid and gid 1234 (setresgid, setresuid) before it connects; its flow
#    must carry 1234, its server's 0.
# tests/live/checkprocs.py checks the documents.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

FORKCONN=$(cd "$top_builddir/tests/live" && pwd)/forkconn
TCPFLOW="$top_builddir/tests/live/tcpflow"
start_pipeline

unshare -n sh -c "
	ip link set lo up || exit 1
	setpriv --reuid=1235 --regid=1235 --clear-groups \
	    '$FORKCONN' 5701 5 1000 || exit 1
" >"$TMP/fork.txt" 2>"$TMP/fork.err" ||
    fail "forkconn failed: $(cat "$TMP/fork.err")"
cat "$TMP/fork.txt"
unshare -n sh -c "
	ip link set lo up || exit 1
	TCPFLOW_CLIENT_UID=1234 '$TCPFLOW' 127.0.0.1 5702 300 client-first
" >"$TMP/setuid.txt" 2>"$TMP/setuid.err" ||
    fail "tcpflow failed: $(cat "$TMP/setuid.err")"
cat "$TMP/setuid.txt"
sleep 1
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with $STATUS"
python3 "$top_srcdir/tests/live/checkprocs.py" "$FORKCONN" \
    "$TMP/fork.txt" "$TMP/setuid.txt" "$TMP/out.json" ||
    fail "flow documents do not match"
finish
