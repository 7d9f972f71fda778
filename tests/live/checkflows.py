#!/usr/bin/env python3
"""Check sockflow's JSON output against the ground truth that tcpflow
printed: for every connection, exactly one outbound document (the client
side) and one inbound document (the server side), with the right
addresses, ports, pids and fields. Exits 1 with a message per mismatch."""
import grp
import ipaddress
import json
import os
import pwd
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcaplib import community_id  # noqa: E402

out_path, truth_path = sys.argv[1], sys.argv[2]
docs = []
for n, line in enumerate(open(out_path), 1):
    try:
        docs.append(json.loads(line))
    except ValueError as e:
        print(f"FAIL: line {n} of the output is not JSON: {e}")
        sys.exit(1)

errors = []
hostname = socket.gethostname()


def check(cond, msg):
    if not cond:
        errors.append(msg)


def check_common(d, tag, proto):
    """Fields every flow document with both ends known must carry."""
    s, t = d["source"], d["destination"]
    if "ip" in s and "ip" in t:
        want = community_id(s["ip"], s["port"], t["ip"], t["port"], proto)
        check(d["network"].get("community_id") == want,
              f"{tag}: community_id {d['network'].get('community_id')} "
              f"expected {want}")
    ips = [e["ip"] for e in (s, t) if "ip" in e]
    check(sorted(d.get("related", {}).get("ip", [])) == sorted(set(ips)),
          f"{tag}: related.ip {d.get('related')}")


truths = [dict(kv.split("=", 1) for kv in l.split()) for l in open(truth_path)
          if l.strip()]
check(len(truths) > 0, "no ground truth recorded")


def check_udp(t):
    """One client flow and one server flow, each final (ended by the
    shortened flow_inactive_timeout), with exact payload bytes and
    datagram counts and IP-level bytes derived from them."""
    addr = str(ipaddress.ip_address(t["addr"]))
    port, cport = int(t["port"]), int(t["client_port"])
    n, k = int(t["bytes"]), int(t["count"])
    v4 = ipaddress.ip_address(addr).version == 4
    hdr = 28 if v4 else 48
    mine = [d for d in docs
            if d.get("network", {}).get("transport") == "udp"
            and {d["source"].get("port"), d["destination"].get("port")}
            == {port, cport}]
    for direction, pid in (("outbound", t["client_pid"]),
                           ("inbound", t["server_pid"])):
        tag = f"udp {addr} {cport}->{port} {t['mode']} {direction}"
        ds = [d for d in mine if d["network"]["direction"] == direction]
        check(len(ds) == 1, f"{tag}: {len(ds)} documents, expected 1")
        if len(ds) != 1:
            continue
        d = ds[0]
        # The client is source on both sides; it sent k x n, got k x 2n.
        check(d["source"].get("port") == cport, f"{tag}: source {d['source']}")
        check(d["destination"] .get("ip") == addr and
              d["destination"].get("port") == port,
              f"{tag}: destination {d['destination']}")
        if direction == "inbound":
            check(d["source"].get("ip") == addr, f"{tag}: source ip")
        check(d["source"].get("packets") == k and
              d["destination"].get("packets") == k, f"{tag}: packets")
        check(d["source"].get("bytes") == k * (n + hdr) and
              d["destination"].get("bytes") == k * (2 * n + hdr),
              f"{tag}: bytes {d['source']} {d['destination']}")
        sf = d.get("sockflow", {})
        check(sf.get("source", {}).get("payload_bytes") == k * n and
              sf.get("destination", {}).get("payload_bytes") == 2 * k * n,
              f"{tag}: payload {sf}")
        check(d.get("process", {}).get("pid") == int(pid),
              f"{tag}: pid {d.get('process')} expected {pid}")
        check(d["flow"]["final"] is True, f"{tag}: flow {d['flow']}")
        check_common(d, tag, 17)
        check(d["network"]["bytes"] == k * (3 * n + 2 * hdr) and
              d["network"]["packets"] == 2 * k, f"{tag}: network {d['network']}")


for t in [t for t in truths if t.get("proto") == "udp"]:
    check_udp(t)
for t in [t for t in truths if t.get("proto", "tcp") == "tcp"]:
    addr = str(ipaddress.ip_address(t["addr"]))
    port, cport = int(t["port"]), int(t["client_port"])
    fam = "ipv4" if ipaddress.ip_address(addr).version == 4 else "ipv6"
    mine = [d for d in docs
            if d.get("network", {}).get("transport") == "tcp"
            and {d["source"].get("port"), d["destination"].get("port")}
            == {port, cport}
            and d["source"].get("ip") == addr]
    ids = {d.get("process", {}).get("entity_id") for d in mine}
    check(len(ids) == len(mine), f"{addr} {cport}->{port}: client and "
          f"server share a process.entity_id")
    for direction, pid in (("outbound", t["client_pid"]),
                           ("inbound", t["server_pid"])):
        ds = [d for d in mine if d["network"]["direction"] == direction]
        tag = f"{addr} {cport}->{port} {direction}"
        check(len(ds) == 1, f"{tag}: {len(ds)} documents, expected 1")
        if len(ds) != 1:
            continue
        d = ds[0]
        # The client opened it: it is source and client on both sides.
        check((d["source"]["ip"], d["source"]["port"]) == (addr, cport),
              f"{tag}: source {d['source']}")
        check((d["destination"]["ip"], d["destination"]["port"]) ==
              (addr, port), f"{tag}: destination {d['destination']}")
        # Exact segments from the namespace's sock_diag notifications.
        check(d["sockflow"]["counters"].get("packets") in
              ("tcp_info", "tcp_info+timewait") and
              d["source"].get("packets", 0) > 0 and
              d["destination"].get("packets", 0) > 0,
              f"{tag}: packets {d['source']} {d['sockflow']['counters']}")
        check(d.get("client") == d["source"], f"{tag}: client")
        check(d.get("server") == d["destination"], f"{tag}: server")
        check(d["network"]["type"] == fam, f"{tag}: network.type")
        check(d.get("process", {}).get("pid") == int(pid),
              f"{tag}: pid {d.get('process')} expected {pid}")
        check(d.get("process", {}).get("name") == "tcpflow",
              f"{tag}: process.name {d.get('process')}")
        # When the process started (before its flow), and its stable id.
        pr = d.get("process", {})
        check(pr.get("created", "9") <= d["event"]["start"] and
              len(pr.get("entity_id", "")) == 20,
              f"{tag}: process.created/entity_id {pr}")
        # The file the exec ran (sched_process_exec) and who runs it.
        check(d.get("process", {}).get("executable", "").endswith(
              "/tests/live/tcpflow"),
              f"{tag}: process.executable {d.get('process')}")
        sock = d.get("system", {}).get("audit", {}).get("socket", {})
        check(d.get("user", {}).get("id") == str(os.getuid()) and
              d.get("group", {}).get("id") == str(os.getgid()) and
              d["user"].get("name") == pwd.getpwuid(os.getuid()).pw_name and
              d["group"].get("name") == grp.getgrgid(os.getgid()).gr_name and
              sock.get("uid") == os.getuid() and
              sock.get("euid") == os.geteuid() and
              sock.get("gid") == os.getgid() and
              sock.get("egid") == os.getegid(),
              f"{tag}: user {d.get('user')} group {d.get('group')} "
              f"socket {sock}")
        ev = d["event"]
        check(ev["module"] == "system" and ev["dataset"] == "socket"
              and ev["action"] == "network_flow" and ev["kind"] == "event"
              and ev["category"] == "network", f"{tag}: event fields {ev}")
        check(ev["duration"] >= 0 and ev["start"] <= ev["end"],
              f"{tag}: times")
        check(d["flow"] == {"final": True, "complete": True},
              f"{tag}: flow {d['flow']}")
        # Each side sent exactly N payload bytes, whichever side this is.
        n = int(t["bytes"])
        sf = d.get("sockflow", {})
        check(sf.get("source", {}).get("payload_bytes") == n and
              sf.get("destination", {}).get("payload_bytes") == n,
              f"{tag}: payload bytes {sf} expected {n} each way")
        check(d["host"]["name"] == hostname, f"{tag}: host.name")
        check_common(d, tag, 6)
        ksa = d["system"]["audit"]["socket"]["kernel_sock_address"]
        check(re.fullmatch(r"0x[0-9a-f]{16}", ksa) is not None,
              f"{tag}: kernel_sock_address {ksa}")
    if len(mine) == 2:
        # Both ends count the same segments (the accepted side's
        # SYN-ACK included), whichever socket reported them.
        check([(m["source"].get("packets"), m["destination"].get("packets"))
               for m in mine].count((mine[0]["source"].get("packets"),
                                     mine[0]["destination"].get("packets")))
              == 2, f"{addr} {cport}: the two sides count different "
              f"packets: {[(m['source'], m['destination']) for m in mine]}")
        check(mine[0]["system"]["audit"]["socket"]["kernel_sock_address"] !=
              mine[1]["system"]["audit"]["socket"]["kernel_sock_address"],
              f"{addr} {cport}: both sides share a socket address")

for e in errors:
    print("FAIL:", e)
print(f"checked {len(truths)} connection(s) in {len(docs)} document(s)")
sys.exit(1 if errors else 0)
