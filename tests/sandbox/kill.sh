#!/bin/sh
# The aggregator's, the enricher's and sockflow-output's seccomp policies, loaded by test
# programs that link the real policy files: permitted work runs, and every
# forbidden call kills the process with SIGSYS (exit status 159 in sh).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

run() {	# "prog [mode]" action expected_status
	prog=$1
	want=$3
	# The mode, if any, is the program's first argument.
	# shellcheck disable=SC2086
	out=$("$top_builddir/tests/sandbox/"$prog "$2" 2>"$TMP/err")
	st=$?
	if [ "$st" != "$want" ]; then
		fail "$prog $2: exit status $st, expected $want ($(cat "$TMP/err"))"
	fi
	case "$out" in
	sandboxed*) ;;
	*) fail "$prog $2: did not reach the sandbox: $out" ;;
	esac
	case "$out" in
	*survived*) fail "$prog $2: the forbidden call returned" ;;
	esac
	echo "ok: $prog $2 -> $st"
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
# sockflow-output: the console alone gets no network, no writable file
# and no thread; with every output on those are allowed; never exec or
# executable memory.
run "sandbox_out console" none 0
run "sandbox_out console" inet 159
run "sandbox_out console" openwrite 159
run "sandbox_out console" thread 159
run "sandbox_out console" execve 159
run "sandbox_out all" inet 0
run "sandbox_out all" openwrite 0
run "sandbox_out all" thread 0
run "sandbox_out all" execve 159
run "sandbox_out all" mmapexec 159
[ -e /tmp/sockflow-sandbox-test ] && fail "a forbidden open created a file"
finish
