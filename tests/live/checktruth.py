#!/usr/bin/env python3
"""Check sockflow's documents against the ground truth of tests/live/truth.c
and the capture tcpdump made of the same run.

Usage: checktruth.py OUT.json TRUTH.jsonl CAPTURE [CAPTURE ...]

A CAPTURE is a pcap file, or several of one link joined by "+" (its two
ends), whose packets are merged, each once.

Only documents on the test's addresses are looked at: 10.211.0.0/24 and
fd00:211::/64 (the veth pair), loopback with one of the test's loopback
server ports, or any address with a pid of the workload. For those, flow by
flow, following README "Reading the output":

* every expected flow has exactly one final document (flow.final: true);
  reports with flow.final false are allowed only for the held connection;
  nothing else is reported on the test's addresses;
* a TCP connection between two local processes appears twice: the
  client's socket (outbound, client pid) and the server's (inbound,
  server pid); source and client are the side that opened it;
* exact payload bytes each way, exact datagram counts for UDP;
* packets equal to the capture, IP-level bytes within the documented
  bound (derived <= captured <= derived + 40 bytes a packet; UDP
  exactly); the Community ID equal to one computed from the captured
  tuple, and absent when an address is not known;
* the special cases as the aggregator implements them: an idle TCP
  connection is one flow; an idle UDP exchange is two flows per side, one
  each side of the gap; a refused connection is one outbound flow with no
  payload; a reset one is reported on both sides; UDP as README says
  (unbound sockets without source ip, remote_unknown, remote_inferred).

Every failure is printed, each with a category, and a summary at the end
tells the known gap (TCP sockets of other network namespaces without
packet counts) from the rest."""
import collections
import ipaddress
import json
import os
import re
import sys

# No bytecode cache next to pcaplib.py: the source tree stays clean.
sys.dont_write_bytecode = True
from pcaplib import community_id, packets, union  # noqa: E402

NETS = (ipaddress.ip_network("10.211.0.0/24"),
        ipaddress.ip_network("fd00:211::/64"))
HDR = {("tcp", "ipv4"): 40, ("tcp", "ipv6"): 60,
       ("udp", "ipv4"): 28, ("udp", "ipv6"): 48}
IDLE_GAP = 2.0          # s of capture silence between the idle phases
MUST, ABSENT, MAY = "must", "absent", "may"

# CHECKTRUTH_TCP_BYTES=per_packet: the backend must claim, and hold to,
# exact IP-level bytes for TCP.
TCP_BYTES = os.environ.get("CHECKTRUTH_TCP_BYTES", "derived")
# CHECKTRUTH_REPLAY=1: a replay of a recorded probe stream
# (tests/replay). It has no sock_diag socket (the live probe passes one),
# and what the enricher reads from /proc is gone with the recorded
# processes: on the tracepoint backend that is the user and group ids,
# and the arguments when the exec's stack copy did not hold them.
REPLAY = os.environ.get("CHECKTRUTH_REPLAY") == "1"
out_path, truth_path = sys.argv[1], sys.argv[2]
cap_paths = sys.argv[3:]
failures = []


def fail(category, msg):
    failures.append((category, msg))


docs = []
for n, line in enumerate(open(out_path), 1):
    try:
        docs.append(json.loads(line))
    except ValueError as e:
        fail("output", f"line {n} of the output is not JSON: {e}")
flows = [d for d in docs if d.get("event", {}).get("dataset") == "socket"]
truth = [json.loads(l) for l in open(truth_path) if l.strip()]
caught = [p for path in cap_paths for p in union(path.split("+"))]
if not truth:
    fail("truth", "no ground truth")

pids = {t["client_pid"] for t in truth} | \
    {t["server_pid"] for t in truth if t["server_pid"]}
lo_ports = {t["server_port"] for t in truth if t["net"] == "lo"}


def on_test_net(ip):
    a = ipaddress.ip_address(ip)
    return any(a in n for n in NETS)


def ours(d):
    for k in ("source", "destination", "client", "server"):
        e = d.get(k, {})
        if "ip" not in e:
            continue
        if on_test_net(e["ip"]):
            return True
        if ipaddress.ip_address(e["ip"]).is_loopback and \
                e.get("port") in lo_ports:
            return True
    return d.get("process", {}).get("pid") in pids


def summary(d):
    """One line about a document, for messages."""
    def ep(e):
        return (f"{e.get('ip', '?')}:{e.get('port', '?')}"
                f"[{e.get('packets', '-')}p]")
    sf = d.get("sockflow", {})
    flags = [k for k in ("remote_unknown", "remote_inferred", "existing",
                         "samples_lost") if sf.get(k)]
    return (f"{d['network']['transport']} {d['network']['direction']} "
            f"{ep(d['source'])} -> {ep(d['destination'])} "
            f"pid {d.get('process', {}).get('pid')} payload "
            f"{sf.get('source', {}).get('payload_bytes')}/"
            f"{sf.get('destination', {}).get('payload_bytes')} "
            f"final {d['flow']['final']} counters "
            f"{sf.get('counters', {}).get('packets')}"
            + (" " + ",".join(flags) if flags else ""))


def tuple_packets(proto, sip, sport, dip, dport):
    num = 6 if proto == "tcp" else 17
    sip, dip = str(ipaddress.ip_address(sip)), str(ipaddress.ip_address(dip))
    return [p for p in caught if p.proto == num and p.src == sip and
            p.sport == sport and p.dst == dip and p.dport == dport]


def phases(up, down):
    """Split the packets of one tuple where the capture was silent."""
    every = sorted(up + down, key=lambda p: p.ts)
    groups, last = [], None
    for p in every:
        if last is None or p.ts - last > IDLE_GAP:
            groups.append(([], []))
        groups[-1][0 if p in up else 1].append(p)
        last = p.ts
    return groups


class Exp:
    """One flow document that must exist."""

    def __init__(self, t, side, **kw):
        self.t = t
        self.side = side
        self.proto = t["proto"]
        self.family = t["family"]
        self.direction = "outbound" if side == "client" else "inbound"
        self.pid = t["client_pid"] if side == "client" else t["server_pid"]
        # Expected endpoints: (rule for the address, ip, port or None
        # for no port); source is the side that opened the flow.
        self.src = (MUST, t["client_ip"], t["client_port"])
        self.dst = (MUST, t["server_ip"], t["server_port"])
        self.payload = (t["c2s_bytes"], t["s2c_bytes"])
        self.dgrams = (t.get("c2s_dgrams"), t.get("s2c_dgrams"))
        self.unknown = False        # sockflow.remote_unknown
        self.disconnected = False   # sockflow.tcp_disconnected
        self.inferred = False       # sockflow.remote_inferred
        self.interim_ok = t["case"] == "tcp_long"
        self.by_pid = False
        self.cap = None             # (up, down): what each side sent
        self.min_ns = 0             # event.duration at least
        self.index = t["index"]
        for k, v in kw.items():
            setattr(self, k, v)
        if self.cap is None:
            up = tuple_packets(self.proto, t["client_ip"], t["client_port"],
                               t["server_ip"], t["server_port"])
            down = tuple_packets(self.proto, t["server_ip"],
                                 t["server_port"], t["client_ip"],
                                 t["client_port"])
            self.cap = (up, down)
        self.tag = (f"{t['case']} {t['net']} {self.family} "
                    f"{t['client_ip']}:{t['client_port']}->"
                    f"{t['server_ip']}:{t['server_port']}"
                    + (f" #{self.index}" if self.index else "")
                    + f" {side} side")

    def key(self):
        if self.by_pid:
            return ("pid", self.proto, self.pid)
        return (self.proto, self.direction, self.src[2], self.dst[2])


def doc_key(d):
    return (d["network"]["transport"], d["network"]["direction"],
            d["source"].get("port"), d["destination"].get("port"))


def client_ip_rule(t):
    # README: a socket that never bound an address reports no local IP;
    # one that bound it has one, and so has an IPv4 socket that connected
    # (the route lookup of connect() shows the source it picks). IPv6
    # picks its source after the lookup, so a connected IPv6 socket that
    # did not bind has none until a later lookup carries it (the kernel
    # looks the route up again, from the address it picked, when the
    # socket's cached route goes stale); if given, it must be right.
    if t["client_socket"] == "none":
        return ABSENT
    if t["client_socket"] == "connect" and t["family"] == "ipv6":
        return MAY
    return MUST


def expectations():
    exps = []
    byc = collections.defaultdict(list)
    for t in truth:
        byc[(t["case"], t["net"], t["family"])].append(t)
    for (case, net, fam), ts in sorted(byc.items()):
        ts.sort(key=lambda t: t["index"])
        t0 = ts[0]
        if case in ("tcp_short", "tcp_long", "tcp_many", "tcp_idle",
                    "tcp_reset"):
            mins = {"tcp_long": 2.5e9, "tcp_idle": 3.5e9}.get(case, 0)
            for t in ts:
                # README: a close() with SO_LINGER 0 disconnects the
                # socket, which zeroes its counters: packets unknown.
                exps.append(Exp(t, "client", min_ns=mins,
                                disconnected=case == "tcp_reset"))
                exps.append(Exp(t, "server", min_ns=mins))
        elif case in ("tcp_refused", "tcp_refused_poll"):
            # The kernel of B answers the SYN; no process there. A
            # blocking connect() that fails disconnects the socket.
            exps.append(Exp(t0, "client",
                            disconnected=case == "tcp_refused"))
        elif case in ("udp_connected", "udp_unconnected"):
            exps.append(Exp(t0, "client",
                            src=(client_ip_rule(t0), t0["client_ip"],
                                 t0["client_port"])))
            # It received first, then answered: the remote is inferred.
            exps.append(Exp(t0, "server", inferred=True))
        elif case in ("udp_idle", "udp_idle_connected"):
            up, down = tuple_packets("udp", t0["client_ip"],
                                     t0["client_port"], t0["server_ip"],
                                     t0["server_port"]), \
                tuple_packets("udp", t0["server_ip"], t0["server_port"],
                              t0["client_ip"], t0["client_port"])
            groups = phases(up, down)
            if len(groups) != len(ts):
                fail("capture", f"{case} {fam}: {len(groups)} bursts "
                     f"captured, {len(ts)} phases in the truth")
            for t in ts:
                cap = groups[t["index"]] if t["index"] < len(groups) \
                    else ([], [])
                exps.append(Exp(t, "client", cap=cap,
                                src=(client_ip_rule(t), t["client_ip"],
                                     t["client_port"])))
                exps.append(Exp(t, "server", cap=cap, inferred=True))
        elif case == "udp_multi":
            # Sends go to each server's flow; answers arrive on a socket
            # with several peers, so they go to one flow with no remote.
            answers = []
            for t in ts:
                e = Exp(t, "client")
                e.cap = (e.cap[0], [])
                e.payload = (t["c2s_bytes"], 0)
                e.dgrams = (t["c2s_dgrams"], 0)
                exps.append(e)
                answers += tuple_packets("udp", t["server_ip"],
                                         t["server_port"], t["client_ip"],
                                         t["client_port"])
                exps.append(Exp(t, "server", inferred=True))
            e = Exp(t0, "client", direction="inbound", unknown=True,
                    src=(ABSENT, None, None), cap=(answers, []),
                    payload=(sum(t["s2c_bytes"] for t in ts), 0),
                    dgrams=(sum(t["s2c_dgrams"] for t in ts), 0))
            e.tag = f"{case} {net} {fam} client side, answers of every server"
            e.dst = (MUST, t0["client_ip"], t0["client_port"])
            exps.append(e)
        elif case == "udp_recvonly":
            exps.append(Exp(t0, "client",
                            src=(client_ip_rule(t0), t0["client_ip"],
                                 t0["client_port"])))
            # Only received, from nobody it could see: no remote. Its own
            # address and port come from no tracepoint; if given, right.
            e = Exp(t0, "server", unknown=True, by_pid=True,
                    src=(ABSENT, None, None),
                    dst=(MAY, t0["server_ip"], t0["server_port"]))
            e.cap = (e.cap[0], [])
            exps.append(e)
        else:
            fail("truth", f"unknown case {case}")
    return exps


def check_endpoint(e, d, name, want):
    rule, ip, port = want
    got = d.get(name, {})
    if rule == ABSENT:
        if "ip" in got:
            fail("field", f"{e.tag}: {name}.ip {got['ip']}, expected none "
                 f"(not known to sockflow)")
    elif "ip" in got:
        if ipaddress.ip_address(got["ip"]) != ipaddress.ip_address(ip):
            fail("field", f"{e.tag}: {name}.ip {got['ip']}, expected {ip}")
    elif rule == MUST:
        fail("field", f"{e.tag}: no {name}.ip, expected {ip}")
    if got.get("port") != port and (rule != MAY or "port" in got):
        fail("field", f"{e.tag}: {name}.port {got.get('port')}, "
             f"expected {port}")


def check_counters(e, d):
    sf = d.get("sockflow", {})
    counters = sf.get("counters", {})
    for i, side in enumerate(("source", "destination")):
        got = sf.get(side, {}).get("payload_bytes")
        if got != e.payload[i]:
            fail("field", f"{e.tag}: sockflow.{side}.payload_bytes {got}, "
                 f"expected {e.payload[i]}")
    hdr = HDR[(e.proto, e.family)]
    if REPLAY and e.proto == "tcp":
        # A replay (tests/replay): the aggregator had no sock_diag, so
        # TCP has payload bytes only, and nothing tells a reset or a
        # refused connection from one that ended well.
        if counters != {"bytes": "payload_only", "packets": "unknown"} or \
                "packets" in d["source"] or "packets" in d["destination"]:
            fail("field", f"{e.tag}: without sock_diag, expected payload "
                 f"bytes only, got {sf.get('counters')} {d['source']}")
        return
    if e.disconnected:
        if sf.get("tcp_disconnected") is not True or \
                counters.get("packets") != "unknown" or \
                "packets" in d["source"] or "packets" in d["destination"]:
            fail("field", f"{e.tag}: expected sockflow.tcp_disconnected "
                 f"and no packet counts, got {sf} {d['source']}")
        return
    if sf.get("tcp_disconnected"):
        fail("field", f"{e.tag}: sockflow.tcp_disconnected, not expected")
    want_src = "datagrams" if e.proto == "udp" else "tcp_info"
    # README: tcp_info+timewait adds the FIN and ACK that a TIME_WAIT
    # mini-socket handled; still to equal the capture.
    if e.proto == "tcp" and counters.get("packets") == "tcp_info+timewait":
        want_src = "tcp_info+timewait"
    # The kprobe backend sums every TCP packet's length (tests/vm); its
    # TIME_WAIT FIN and ACK, seen by the IP layer after the report, stay
    # derived, and it says so.
    want_bytes = "derived"
    if e.proto == "tcp" and TCP_BYTES == "per_packet":
        want_bytes = "per_packet+derived" if \
            want_src == "tcp_info+timewait" else "per_packet"
    if counters.get("packets") != want_src or \
            counters.get("bytes") != want_bytes:
        if e.proto == "tcp" and counters.get("packets") == "unknown":
            fail("tcp-packets-unknown", f"{e.tag}: no packet counts "
                 f"(sockflow.counters {counters}); captured "
                 f"{len(e.cap[0])}/{len(e.cap[1])} packets")
            return
        fail("field", f"{e.tag}: sockflow.counters {counters}, expected "
             f"packets {want_src}, bytes {want_bytes}")
    npk = nby = 0
    for i, side in enumerate(("source", "destination")):
        cap = e.cap[i]
        n, b = len(cap), sum(p.length for p in cap)
        got_n, got_b = d[side].get("packets"), d[side].get("bytes")
        if got_n is None or got_b is None:
            fail("field", f"{e.tag}: no {side}.packets or {side}.bytes")
            continue
        npk += got_n
        nby += got_b
        if got_n != n:
            fail("field", f"{e.tag}: {side}.packets {got_n}, captured {n}")
        if e.proto == "udp":
            if e.dgrams[i] is not None and got_n != e.dgrams[i]:
                fail("field", f"{e.tag}: {side}.packets {got_n}, "
                     f"{e.dgrams[i]} datagrams sent")
            want_b = e.payload[i] + got_n * hdr
            if got_b != want_b or got_b != b:
                fail("field", f"{e.tag}: {side}.bytes {got_b}, captured "
                     f"{b}, derived from the truth {want_b}")
        elif counters.get("bytes") == "per_packet":
            if got_b != b:
                fail("field", f"{e.tag}: {side}.bytes {got_b} per packet, "
                     f"captured {b}")
        elif not got_b <= b <= got_b + 40 * n:
            fail("field", f"{e.tag}: {side}.bytes {got_b} outside the "
                 f"bound of captured {b} ({n} packets)")
    net = d["network"]
    if net.get("packets") != npk or net.get("bytes") != nby:
        fail("field", f"{e.tag}: network.packets/bytes {net.get('packets')}"
             f"/{net.get('bytes')}, sides sum to {npk}/{nby}")


def check_process(e, d, proc):
    """Complete process, user and group fields: each process of the
    workload is a child of the truth program, run as root with its two
    namespace names as arguments."""
    exe = proc.get("executable") or ""
    args = proc.get("args") or []
    if not exe.endswith("/truth"):
        fail("field", f"{e.tag}: process.executable {exe!r}")
    # A replay has no /proc fallback for arguments the exec's stack
    # copy did not hold (README, exec_args_cut): the count alone then.
    if REPLAY and args == [] and proc.get("args_count") == 3:
        pass
    elif len(args) != 3 or not args[0].endswith("truth") or \
            proc.get("args_count") != 3:
        fail("field", f"{e.tag}: process.args {args}, args_count "
             f"{proc.get('args_count')}")
    for k in ("ppid", "created", "entity_id"):
        if not proc.get(k):
            fail("field", f"{e.tag}: no process.{k}")
    au = d.get("system", {}).get("audit", {}).get("socket", {})
    if REPLAY and "user" not in d and "group" not in d and \
            not any(k in au for k in ("uid", "gid", "euid", "egid")):
        return
    if d.get("user") != {"id": "0", "name": "root"}:
        fail("field", f"{e.tag}: user {d.get('user')}")
    if d.get("group") != {"id": "0", "name": "root"}:
        fail("field", f"{e.tag}: group {d.get('group')}")
    if [au.get(k) for k in ("uid", "gid", "euid", "egid")] != [0, 0, 0, 0]:
        fail("field", f"{e.tag}: system.audit.socket {au}")


def check_doc(e, d):
    net, sf = d["network"], d.get("sockflow", {})
    if net.get("type") != e.family:
        fail("field", f"{e.tag}: network.type {net.get('type')}")
    check_endpoint(e, d, "source", e.src)
    check_endpoint(e, d, "destination", e.dst)
    for role, side in (("client", "source"), ("server", "destination")):
        a, b = d.get(role, {}), d[side]
        if (a.get("ip"), a.get("port")) != (b.get("ip"), b.get("port")):
            fail("field", f"{e.tag}: {role} {a} is not {side} {b}")
    proc = d.get("process", {})
    if proc.get("pid") != e.pid:
        fail("field", f"{e.tag}: process.pid {proc.get('pid')}, "
             f"expected {e.pid}")
    elif proc.get("name") != "truth":
        fail("field", f"{e.tag}: process.name {proc.get('name')}")
    else:
        check_process(e, d, proc)
    if d["flow"].get("final") is not True:
        fail("field", f"{e.tag}: flow.final {d['flow'].get('final')}, "
             f"the flow is over")
    # Seen from its start, with its whole tuple (a UDP flow with no
    # remote is not whole).
    if d["flow"].get("complete") is not (not e.unknown):
        fail("field", f"{e.tag}: flow.complete "
             f"{d['flow'].get('complete')}")
    for flag, want in (("remote_unknown", e.unknown),
                       ("remote_inferred", e.inferred),
                       ("existing", False), ("samples_lost", False)):
        if bool(sf.get(flag)) != want:
            fail("field", f"{e.tag}: sockflow.{flag} {sf.get(flag)}, "
                 f"expected {want}")
    check_counters(e, d)
    # Community ID from the captured tuple, only with both addresses.
    s, t = d["source"], d["destination"]
    cap = e.cap[0] or e.cap[1]
    if "ip" in s and "ip" in t and "port" in s and "port" in t:
        if cap:
            p = cap[0]
            want = community_id(p.src, p.sport, p.dst, p.dport, p.proto)
            if net.get("community_id") != want:
                fail("field", f"{e.tag}: network.community_id "
                     f"{net.get('community_id')}, {want} from the capture")
    elif "community_id" in net:
        fail("field", f"{e.tag}: community_id without both addresses")
    ips = sorted({x["ip"] for x in (s, t) if "ip" in x})
    if sorted(d.get("related", {}).get("ip", [])) != ips:
        fail("field", f"{e.tag}: related.ip {d.get('related')}")
    ev = d["event"]
    if ev.get("duration", -1) < e.min_ns or ev["start"] > ev["end"]:
        fail("field", f"{e.tag}: event {ev.get('start')} to "
             f"{ev.get('end')}, duration {ev.get('duration')}, at least "
             f"{e.min_ns / 1e9:.1f} s")
    ksa = d.get("system", {}).get("audit", {}).get("socket", {}).get(
        "kernel_sock_address", "")
    if re.fullmatch(r"0x[0-9a-f]{16}", ksa) is None:
        fail("field", f"{e.tag}: kernel_sock_address {ksa!r}")


def main():
    mine = [d for d in flows if ours(d)]
    exps = expectations()
    claimed = set()
    groups = collections.defaultdict(list)
    for e in exps:
        groups[e.key()].append(e)
    # Documents found by pid first: they may have no port to match.
    for key in sorted(groups, key=lambda k: k[0] != "pid"):
        es = sorted(groups[key], key=lambda e: e.index)
        if key[0] == "pid":
            ds = [d for d in mine if id(d) not in claimed and
                  d["network"]["transport"] == key[1] and
                  d.get("process", {}).get("pid") == key[2]]
        else:
            ds = [d for d in mine if id(d) not in claimed and
                  doc_key(d) == key]
        claimed.update(id(d) for d in ds)
        ds.sort(key=lambda d: d["event"]["start"])
        final = [d for d in ds if d["flow"].get("final") is True]
        other = [d for d in ds if d["flow"].get("final") is not True]
        what = es[0].tag if len(es) == 1 else \
            f"{es[0].tag} (and {len(es) - 1} phase(s) more)"
        if other and not es[0].interim_ok and len(final) == len(es):
            for d in other:
                fail("count", f"{what}: report with flow.final false: "
                     f"{summary(d)}")
        if len(final) == len(es):
            pairs = zip(es, final)
        elif len(ds) == len(es):
            # Right number of documents, but not all final: check them
            # anyway, so every other difference shows too.
            pairs = zip(es, ds)
        else:
            fail("count", f"{what}: {len(final)} final document(s) of "
                 f"{len(ds)}, expected {len(es)}"
                 + "".join(f"\n    {summary(d)}" for d in ds))
            continue
        pairs = list(pairs)
        for e, d in pairs:
            check_doc(e, d)
        for (e1, d1), (e2, d2) in zip(pairs, pairs[1:]):
            if d1["event"]["end"] > d2["event"]["start"]:
                fail("field", f"{e2.tag}: starts before the flow of the "
                     f"previous phase ended")
        for i, side in enumerate(("source", "destination")):
            for e in es:
                if e.dgrams[i] is not None and \
                        len(e.cap[i]) != e.dgrams[i]:
                    fail("capture", f"{e.tag}: {len(e.cap[i])} datagrams "
                         f"captured from {side}, {e.dgrams[i]} sent")
    for d in mine:
        if id(d) not in claimed:
            fail("spurious", f"not expected: {summary(d)}")

    cats = collections.Counter(c for c, _ in failures)
    for c, m in failures:
        print(f"FAIL [{c}] {m}")
    print(f"checked {len(exps)} expected flow(s) of {len(truth)} truth "
          f"line(s) against {len(mine)} document(s) on the test's "
          f"addresses ({len(flows)} flow documents in all), "
          f"{len(caught)} captured packets")
    if failures:
        print("failures by category: " + ", ".join(
            f"{c} {n}" for c, n in sorted(cats.items())))
        if set(cats) == {"tcp-packets-unknown"}:
            print("all of them: TCP flows without packet counts (sock_diag "
                  "destroy notifications not received for the socket)")
    return 1 if failures else 0


sys.exit(main())
