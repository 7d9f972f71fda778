#!/bin/sh
# Ground truth over a veth pair: two network namespaces joined by a veth
# (10.211.0.1/24 and fd00:211::1/64 in A, .2 and ::2 in B), TCP and UDP
# exchanges of every kind tests/live/truth.c knows (short, held, many at
# once, idle past the flow inactive timeout, refused, reset; UDP
# connected, unconnected, one socket and several servers, a server that
# only receives), each over IPv4 and IPv6, and a short connection over
# the loopback of A. Everything is captured with tcpdump inside A while
# sockflow runs in the host's namespace; tests/live/checktruth.py then
# holds every document on the test's addresses against the program's
# own truth and the capture.
. "${top_srcdir:-.}/tests/live/lib.sh"
need_root
. "${top_srcdir:-.}/tests/live/truthrun.sh"
python3 "$top_srcdir/tests/live/checktruth.py" "$TMP/out.json" \
    "$TMP/truth.jsonl" "$TMP/veth.pcap+$TMP/vethb.pcap" "$TMP/lo.pcap" ||
    fail "flow documents do not match the ground truth"
finish
