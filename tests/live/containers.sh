#!/bin/sh
# Container and namespace fields, live. No container runtime is installed
# here, so the test makes the cgroups runtimes make, in the cgroup v2
# hierarchy: a Docker scope before sockflow starts (found by the
# enricher's walk at start), Podman and containerd scopes after (found
# from the kernel's PERF_RECORD_CGROUP), and a plain scope that names no
# container. In each, a workload in a private network namespace makes a
# TCP connection. The cgroup is removed before the flows are reported,
# so the fields must have been taken when the sockets were used.
# tests/live/checkcontainers.py checks container.id, container.runtime,
# sockflow.cgroup.path and sockflow.netns of both ends of each connection.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

TCPFLOW="$top_builddir/tests/live/tcpflow"
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG" ] || { fail "no cgroup v2 hierarchy is mounted"; finish; }
TOP=$CG/sockflow-test-$$.slice
hex() { printf '%064x' "$1"; }
DOCKER=docker-$(hex 0xd0c4e1).scope
PODMAN=libpod-$(hex 0x90d3a7).scope
CTRD=cri-containerd-$(hex 0xc7d).scope
PLAIN=plain.scope

cg_cleanup() {
	for d in "$TOP"/*.scope; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	[ -d "$TOP" ] && rmdir "$TOP" 2>/dev/null
	cleanup
}
trap cg_cleanup EXIT

mkdir "$TOP" "$TOP/$DOCKER" || { fail "cannot make cgroups in $CG"; finish; }
start_pipeline
mkdir "$TOP/$PODMAN" "$TOP/$CTRD" "$TOP/$PLAIN"

# workload SCOPE PORT: one connection from inside the cgroup and a new
# network namespace; prints "SCOPE NETNS <tcpflow's line>".
workload() {
	sh -c "echo \$\$ >'$TOP/$1/cgroup.procs' && exec unshare -n sh -c '
		ip link set lo up || exit 1
		printf \"%s \" \$(stat -L -c %i /proc/self/ns/net)
		exec \"$TCPFLOW\" 127.0.0.1 $2 200 client-first'" \
	    >"$TMP/w.out" 2>"$TMP/w.err" || {
		fail "workload in $1: $(cat "$TMP/w.err")"
		return
	}
	echo "/$(basename "$TOP")/$1 $(cat "$TMP/w.out")" | tee -a "$TMP/cases.txt"
}

workload "$DOCKER" 5401
workload "$PODMAN" 5402
workload "$CTRD" 5403
workload "$PLAIN" 5404
# Gone before the flows are reported.
for d in "$DOCKER" "$PODMAN" "$CTRD" "$PLAIN"; do
	rmdir "$TOP/$d" || fail "cgroup $d still in use"
done
sleep 1
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with $STATUS"
python3 "$top_srcdir/tests/live/checkcontainers.py" "$TMP/cases.txt" \
    "$TMP/out.json" || fail "flow documents do not match"
finish
