# The ground-truth workload under sockflow, shared by tests/live/truth.sh
# (this machine's kernel) and the kprobe kernels' guests (tests/vm/):
# sourced after tests/live/lib.sh, with TRUTH_OPTS holding extra -o
# options for the pipeline. It sets up two namespaces joined by a veth
# pair, captures both interfaces, runs tests/live/truth and stops the
# pipeline; what it leaves in $TMP (out.json, err.log, truth.jsonl,
# veth.pcap and vethb.pcap, the two ends of the veth, and lo.pcap) is for
# tests/live/checktruth.py.
TRUTH="$top_builddir/tests/live/truth"
NSA=sftruth-a-$$
NSB=sftruth-b-$$
# Interface names have at most 15 characters.
VA=sfta$$
VB=sftb$$

truth_cleanup() {
	for p in $DUMPS; do
		kill -INT "$p" 2>/dev/null
	done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	cleanup
}
trap truth_cleanup EXIT

if ! { ip netns add "$NSA" && ip netns add "$NSB" &&
    ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" &&
    ip -n "$NSA" addr add 10.211.0.1/24 dev "$VA" &&
    ip -n "$NSA" addr add fd00:211::1/64 dev "$VA" nodad &&
    ip -n "$NSB" addr add 10.211.0.2/24 dev "$VB" &&
    ip -n "$NSB" addr add fd00:211::2/64 dev "$VB" nodad &&
    # A veth hands TSO/GSO super-packets to its peer whole, so a capture
    # would see one packet where TCP counts (and a real wire carries)
    # several segments; one segment per packet makes the capture count
    # what TCP does.
    ip -n "$NSA" link set "$VA" gso_max_segs 1 &&
    ip -n "$NSB" link set "$VB" gso_max_segs 1 &&
    ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
    ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up; }
then
	fail "cannot set up the namespaces"
	finish
fi
i=0
until ip -n "$NSA" link show "$VA" | grep -q "state UP" &&
    ip -n "$NSB" link show "$VB" | grep -q "state UP"; do
	i=$((i + 1))
	[ $i -gt 50 ] && { fail "the veth pair did not come up"; finish; }
	sleep 0.1
done

# UDP flows end after 2 s of silence: the idle cases of truth.c keep
# silent for 4 s, so each of their phases is a flow of its own.
# shellcheck disable=SC2086
start_pipeline -o socket.flow_inactive_timeout=2s ${TRUTH_OPTS:-}

# The veth from both ends: checktruth.py merges the two, each packet
# once, so that a packet one capture missed is still counted.
capture "$NSA" "$VA" veth "tcp or udp"
capture "$NSB" "$VB" vethb "tcp or udp"
capture "$NSA" lo lo "tcp port 4121 or tcp port 4221"

"$TRUTH" "$NSA" "$NSB" >"$TMP/truth.jsonl" 2>"$TMP/workload.err" || {
	fail "workload failed: $(cat "$TMP/workload.err")"
	finish
}
echo "$(wc -l <"$TMP/truth.jsonl") flows of truth"
# Long enough for the last UDP flows to end (2 s of silence, swept once
# a second) and be written.
sleep 4
stop_captures
stop_pipeline
[ "$STATUS" = 0 ] || fail "sockflow exited with status $STATUS"
