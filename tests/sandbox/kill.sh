#!/bin/sh
# The aggregator's and the enricher's seccomp policies, loaded by test
# programs that link the real policy files: permitted work runs, and every
# forbidden call kills the process with SIGSYS (exit status 159 in sh).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

run() {	# prog arg expected_status
	out=$("$top_builddir/tests/sandbox/$1" "$2" 2>"$TMP/err")
	st=$?
	if [ "$st" != "$3" ]; then
		fail "$1 $2: exit status $st, expected $3 ($(cat "$TMP/err"))"
	fi
	case "$out" in
	sandboxed*) ;;
	*) fail "$1 $2: did not reach the sandbox: $out" ;;
	esac
	case "$out" in
	*survived*) fail "$1 $2: the forbidden call returned" ;;
	esac
	echo "ok: $1 $2 -> $st"
}

run sandbox_agg none 0
run sandbox_agg socket 159
run sandbox_agg open 159
run sandbox_agg getuid 159
run sandbox_agg execve 159
run sandbox_enr none 0
run sandbox_enr readproc 0
run sandbox_enr openwrite 159
run sandbox_enr socket 159
run sandbox_enr execve 159
[ -e /tmp/sockflow-sandbox-test ] && fail "a forbidden open created a file"
finish
