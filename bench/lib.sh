# Helpers shared by the benchmark scripts (POSIX sh). B is the build
# directory.

# start_sockflow DIR [OPTION...]: the launcher in the background (its pid
# in L), output in DIR/sf.json and DIR/sf.err; returns once the probe has
# enabled its events.
start_sockflow() {
	dir=$1
	shift
	"$B/sockflow" -r "$dir/run" "$@" >"$dir/sf.json" 2>"$dir/sf.err" &
	L=$!
	i=0
	until grep -qE "(tracepoint|kprobe) backend \(" "$dir/sf.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "sockflow did not start"; exit 1; }
		sleep 0.1
	done
}

# status_kib FIELD PID...: a /proc/PID/status field (VmRSS, VmHWM) in KiB,
# summed over the pids.
status_kib() {
	f=$1
	shift
	t=0
	for p in "$@"; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' /proc/$p/status 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $t
}
