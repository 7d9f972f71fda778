#!/bin/sh
# DNS correlation, live, against a real DNS server from Debian's packages.
#
# In a private network namespace: dnsmasq serves a local zone on
# 127.0.0.2 (A, AAAA, a CNAME chain, a name with a 1 s TTL), a second
# dnsmasq on 127.0.0.1 forwards to it without caching (a local stub), and
# a TCP server listens on the zone's addresses. A third dnsmasq, in a
# namespace of its own behind a veth pair, is a remote server: its
# queries leave by the veth, where the capture does not see them. sockflow runs in the same
# namespace (its DNS capture sees that namespace's interfaces). Clients
# resolve with getaddrinfo (glibc, through /etc/resolv.conf) and connect;
# tests/live/checkdns.py then checks each client's flow document: the name
# it resolved in destination.domain, nothing where it resolved nothing,
# nothing for a connection made after the TTL ran out, and nothing for a
# process that connects to an address another process resolved.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root
command -v dnsmasq >/dev/null || { fail "dnsmasq is not installed"; finish; }

NS=sfdns$$
NSR=sfdnsr$$
CLIENT="$top_srcdir/tests/live/dnsclient.py"
SINK="$top_srcdir/tests/live/tcpsink.py"
PORT=8053
DNSMASQ_PIDS=
SINK_PID=

dns_cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	for p in $DNSMASQ_PIDS; do
		kill "$(cat "$p")" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NSR" 2>/dev/null
	cleanup
}
trap dns_cleanup EXIT

ip netns add "$NS" || { fail "cannot make a network namespace"; finish; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo
for a in 10.77.0.1 10.77.0.3 10.77.0.4 10.77.0.5 10.77.0.6 10.77.0.8; do
	ip -n "$NS" addr add "$a/32" dev lo
done
ip -n "$NS" addr add fd77::1/128 dev lo nodad

# The zone's server, and the stub in front of it.
ip netns exec "$NS" dnsmasq --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.2 --user=nobody --group=nogroup \
    --pid-file="$TMP/auth.pid" --log-facility="$TMP/auth.log" \
    --log-queries \
    --host-record=a.sf.test,10.77.0.1,fd77::1 \
    --host-record=short.sf.test,10.77.0.3,1 \
    --host-record=end.sf.test,10.77.0.4 \
    --cname=c2.sf.test,end.sf.test --cname=c1.sf.test,c2.sf.test \
    --host-record=stub.sf.test,10.77.0.5 \
    --host-record=tcp.sf.test,10.77.0.6 ||
    { fail "dnsmasq (zone) did not start"; finish; }
DNSMASQ_PIDS="$TMP/auth.pid"
ip netns exec "$NS" dnsmasq --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --user=nobody --group=nogroup \
    --pid-file="$TMP/stub.pid" --log-facility="$TMP/stub.log" \
    --cache-size=0 --server=127.0.0.2 ||
    { fail "dnsmasq (stub) did not start"; finish; }
DNSMASQ_PIDS="$DNSMASQ_PIDS $TMP/stub.pid"
# The remote server.
ip netns add "$NSR" || { fail "cannot make a network namespace"; finish; }
ip -n "$NS" link add sfd0 type veth peer name sfd1 netns "$NSR"
ip -n "$NS" addr add 10.78.0.1/24 dev sfd0
ip -n "$NSR" addr add 10.78.0.2/24 dev sfd1
ip -n "$NS" link set sfd0 up
ip -n "$NSR" link set sfd1 up
ip -n "$NSR" link set lo up
ip netns exec "$NSR" dnsmasq --no-resolv --no-hosts --bind-interfaces \
    --listen-address=10.78.0.2 --user=nobody --group=nogroup \
    --pid-file="$TMP/remote.pid" --log-facility="$TMP/remote.log" \
    --log-queries --host-record=remote.sf.test,10.77.0.8 ||
    { fail "dnsmasq (remote) did not start"; finish; }
DNSMASQ_PIDS="$DNSMASQ_PIDS $TMP/remote.pid"

printf 'nameserver 127.0.0.2\noptions timeout:2 attempts:2\n' \
    >"$TMP/resolv-direct.conf"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' \
    >"$TMP/resolv-stub.conf"
printf 'nameserver 127.0.0.2\noptions use-vc timeout:2 attempts:2\n' \
    >"$TMP/resolv-tcp.conf"
printf 'nameserver 10.78.0.2\noptions timeout:2 attempts:2\n' \
    >"$TMP/resolv-remote.conf"

ip netns exec "$NS" python3 "$SINK" $PORT >"$TMP/sink.out" 2>&1 &
SINK_PID=$!
i=0
until grep -q ready "$TMP/sink.out"; do
	i=$((i + 1))
	[ $i -gt 50 ] && { fail "TCP server did not start"; finish; }
	sleep 0.1
done

SF_NETNS=$NS
start_pipeline -o sockflow.stats_interval=1s

# run LABEL EXPECTED RESOLV ARGS...: one client with that resolv.conf
# (bound over /etc/resolv.conf in its own mount namespace).
run() {
	label=$1 want=$2 conf=$3
	shift 3
	out=$(ip netns exec "$NS" unshare -m sh -c "
		mount --bind '$TMP/resolv-$conf.conf' /etc/resolv.conf &&
		exec python3 '$CLIENT' $*" 2>"$TMP/client.err") || {
		fail "client $label: $(cat "$TMP/client.err")"
		return
	}
	echo "$label $want $out" | tee -a "$TMP/cases.txt"
}

run a4 a.sf.test direct a.sf.test 4 $PORT
run aaaa a.sf.test direct a.sf.test 6 $PORT
run cname c1.sf.test direct c1.sf.test 4 $PORT
run ttl_fresh short.sf.test direct short.sf.test 4 $PORT
run ttl_expired - direct short.sf.test 4 $PORT 3
run stub stub.sf.test stub stub.sf.test 4 $PORT
run tcp tcp.sf.test tcp tcp.sf.test 4 $PORT
run remote remote.sf.test remote remote.sf.test 4 $PORT
# No lookup of its own: the address another process resolved.
run no_lookup - direct 10.77.0.1 4 $PORT

sleep 2
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with $STATUS"
grep -q "query\[A\] tcp.sf.test" "$TMP/auth.log" ||
    fail "the tcp case did not reach the server"
grep -q "query\[A\] remote.sf.test" "$TMP/remote.log" ||
    fail "the remote case did not reach the remote server"
python3 "$top_srcdir/tests/live/checkdns.py" "$TMP/cases.txt" \
    "$TMP/out.json" $PORT || fail "flow documents do not match"
finish
