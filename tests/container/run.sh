#!/bin/sh
# sockflow in a Docker container, run as README.md's "Running in a
# container" says, monitoring this host.
#
#  1. A private dockerd (Debian's docker.io) with its own data and exec
#     roots and socket under the test's directory, and no bridge, no
#     iptables rules and no IP forwarding: the host's network stays as it
#     was. Debian's client, /usr/bin/docker, by its full path (another
#     may come first in PATH).
#  2. The image, from container/build.sh: the package built from this
#     tree and the cached Debian 12 base of tests/vm/mkrootfs.sh, with no
#     network and nothing from a registry.
#  3. The container, with the README's options and a configuration file
#     bind-mounted (socket.enable_ipv6: false, which the probe reports).
#     A connection over loopback made by tests/live/tcpflow, a process
#     of the host, must be reported with that process's pid and name on
#     both sides, and with the host's machine id.
#  4. "docker stop": the launcher stops the pipeline (its message and no
#     fatal one), the container's status is 0, its processes are gone,
#     no kprobe of its probe is left.
#  5. Nothing is left: the container removed, the daemon stopped, its
#     mounts gone, the test's directories removed.
# A missing tool is a failure (tools/setup installs docker.io).
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root

DOCKERD=/usr/sbin/dockerd
DOCKER_CLI=/usr/bin/docker
for t in "$DOCKERD" "$DOCKER_CLI" /usr/bin/containerd /usr/sbin/runc; do
	[ -x "$t" ] || { fail "needs $t (tools/setup installs docker.io)"; finish; }
done
for t in dpkg-buildpackage debootstrap python3; do
	command -v "$t" >/dev/null ||
	    { fail "needs $t (tools/setup installs it)"; finish; }
done
TCPFLOW=$top_builddir/tests/live/tcpflow
[ -x "$TCPFLOW" ] || { fail "no $TCPFLOW (make check builds it)"; finish; }

DK=$TMP/docker
SOCK=$DK/docker.sock
NAME=sockflow-test-$$
TAG=sockflow-test:$$
DOCKER="$DOCKER_CLI -H unix://$SOCK"
DPID=
# dockerd makes /run/docker/plugins whatever its exec root: removed
# after, when it was not there before.
RUNDOCKER=
[ -e /run/docker ] || RUNDOCKER=1

stop_docker() {
	[ -n "$DPID" ] || return 0
	$DOCKER rm -f "$NAME" >/dev/null 2>&1
	kill -TERM "$DPID" 2>/dev/null
	i=0
	while kill -0 "$DPID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			fail "dockerd did not stop in 30 s; killing it"
			kill -KILL "$DPID"
			break
		fi
		sleep 0.1
	done
	DPID=
	# Its overlay and shm mounts go with it, but not the network
	# namespace libnetwork keeps bind-mounted on exec-root/netns/default
	# (dockerd 20.10 leaves it at every stop): that one is unmounted
	# here, any other left is a failure.
	left=$(awk -v d="$DK" 'index($5, d) == 1 { print $5 }' \
	    /proc/self/mountinfo)
	for m in $left; do
		case $m in
		"$DK/exec/netns/"*) ;;
		*) fail "a mount left by dockerd: $m" ;;
		esac
		umount -l "$m"
	done
	rm -rf "$DK"
	if [ -n "$RUNDOCKER" ]; then
		rmdir /run/docker/plugins /run/docker 2>/dev/null
	fi
	return 0
}
trap 'stop_docker; cleanup' EXIT

# --- 1. The daemon. The trust key would go to /etc/docker otherwise.
mkdir -p "$DK/data" "$DK/exec"
printf '{ "deprecated-key-path": "%s/key.json" }\n' "$DK" >"$DK/daemon.json"
"$DOCKERD" -H "unix://$SOCK" --data-root "$DK/data" --exec-root "$DK/exec" \
    --pidfile "$DK/dockerd.pid" --config-file "$DK/daemon.json" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
    --ip-masq=false >"$DK/dockerd.log" 2>&1 &
DPID=$!
i=0
until $DOCKER version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$DPID" 2>/dev/null; then
		fail "dockerd did not start"
		tail -n 20 "$DK/dockerd.log"
		finish
	fi
	sleep 0.1
done
echo "ok: dockerd (private, no bridge, no iptables)"

# --- 2. The image.
if DOCKER=$DOCKER BUILDDIR=$top_builddir \
    sh "$top_srcdir/container/build.sh" -t "$TAG" >"$TMP/build.log" 2>&1; then
	echo "ok: container/build.sh"
else
	fail "container/build.sh failed:"
	cat "$TMP/build.log"
	finish
fi

# --- 3. The container, as the README runs it, with a configuration.
printf 'socket:\n  enable_ipv6: false\n' >"$TMP/sockflow.yml"
$DOCKER run -d --name "$NAME" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add NET_BROADCAST \
    --pid=host --network=host \
    -v /sys/kernel/tracing:/sys/kernel/tracing \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
    -v /etc/machine-id:/etc/machine-id:ro \
    -v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro \
    -v "$TMP/sockflow.yml:/etc/sockflow/sockflow.yml:ro" \
    "$TAG" >"$TMP/run.log" 2>&1 ||
    { fail "docker run failed:"; cat "$TMP/run.log"; finish; }

logs() {
	$DOCKER logs "$NAME" >"$TMP/out.json" 2>"$TMP/err.log"
}
i=0
while logs && ! grep -qE "(tracepoint|kprobe) backend \(" "$TMP/err.log"; do
	i=$((i + 1))
	if [ $i -gt 600 ] || [ "$($DOCKER inspect -f '{{.State.Running}}' \
	    "$NAME")" != true ]; then
		fail "the pipeline did not start in the container"
		finish
	fi
	sleep 0.1
done
grep -q "backend (.*IPv6 off" "$TMP/err.log" ||
    fail "the bind-mounted configuration was not used (IPv6 not off)"
# The components, by their pids in this host's namespace.
pids=$($DOCKER top "$NAME" -eo pid | awk 'NR > 1 { print $1 }')
probe=$($DOCKER top "$NAME" -eo pid,args |
    awk '$2 ~ /sockflow-probe$/ { print $1 }')
[ "$(echo "$pids" | wc -l)" = 4 ] && [ -n "$probe" ] ||
    fail "expected the launcher and three components, got: $pids"

# A host process's connection, on a port that is free.
n=0
while :; do
	port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
	truth=$("$TCPFLOW" 127.0.0.1 "$port" 1000 client-first 2>/dev/null) &&
	    break
	n=$((n + 1))
	[ $n -lt 5 ] || { fail "tcpflow failed 5 times"; finish; }
done
echo "host connection: $truth"
cport=$(echo "$truth" | sed -n 's/.*client_port=\([0-9]*\).*/\1/p')
cpid=$(echo "$truth" | sed -n 's/.*client_pid=\([0-9]*\).*/\1/p')
spid=$(echo "$truth" | sed -n 's/.*server_pid=\([0-9]*\).*/\1/p')

# check_flow: 0 when both sides are there with their host pids and name.
check_flow() {
	python3 - "$TMP/out.json" "$cport" "$port" "$cpid" "$spid" \
	    "$(cat /etc/machine-id)" <<'EOF'
import json, sys
path, cport, port, cpid, spid, mid = sys.argv[1:]
want = {"outbound": int(cpid), "inbound": int(spid)}
got, problems = {}, []
for line in open(path, errors="replace"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event", {}).get("dataset") != "socket":
        continue
    if d.get("client", {}).get("port") != int(cport) or \
       d.get("server", {}).get("port") != int(port):
        continue
    if not d.get("flow", {}).get("final"):
        continue
    side = d.get("network", {}).get("direction")
    p = d.get("process", {})
    got[side] = (p.get("pid"), p.get("name"), d.get("host", {}).get("id"))
for side, pid in want.items():
    if side not in got:
        problems.append("no final %s document" % side)
    elif got[side] != (pid, "tcpflow", mid):
        problems.append("%s: process %s %s, host.id %s; expected %d "
                        "tcpflow, %s" % ((side,) + got[side] + (pid, mid)))
print("; ".join(problems))
sys.exit(1 if problems else 0)
EOF
}
i=0
while :; do
	logs
	why=$(check_flow) && break
	i=$((i + 1))
	if [ $i -gt 150 ]; then
		fail "the host's connection in the container's output: $why"
		break
	fi
	sleep 0.1
done
[ -z "$why" ] &&
    echo "ok: the host's connection, both sides, with the host's pids and name"

# --- 4. docker stop: the launcher stops the pipeline and exits 0.
$DOCKER stop -t 30 "$NAME" >/dev/null || fail "docker stop failed"
logs
st=$($DOCKER inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$st" = 0 ] || fail "the container exited with status $st"
grep -q "^sockflow: signal 15: stopping" "$TMP/err.log" ||
    fail "the launcher did not report the stop"
if grep -q "^fatal" "$TMP/err.log"; then
	fail "a fatal message:"
	grep "^fatal" "$TMP/err.log"
fi
for p in $pids; do
	kill -0 "$p" 2>/dev/null && fail "process $p of the container is left"
done
k=/sys/kernel/tracing/kprobe_events
if [ -n "$probe" ] && [ -f "$k" ] && grep -q "sockflow_$probe/" "$k"; then
	fail "kprobes of the container's probe are left: $(cat "$k")"
fi
[ "$FAILED" = 0 ] && echo "ok: docker stop: status 0, nothing left running"

# --- 5. Nothing left behind.
$DOCKER rm "$NAME" >/dev/null || fail "docker rm failed"
[ -z "$($DOCKER ps -aq)" ] || fail "containers left: $($DOCKER ps -aq)"
stop_docker
[ -e "$DK" ] && fail "$DK left"
[ "$FAILED" = 0 ] && echo "ok: container removed, dockerd stopped, its files removed"
finish
