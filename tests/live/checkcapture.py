#!/usr/bin/env python3
"""Compare sockflow's counters with a packet capture of the same run.

Usage: checkcapture.py OUT.json CAPTURE.pcap TRUTH.txt

The capture (tcpdump -w on lo, in the host's network namespace, where
sock_diag reports exact TCP segment counts) is read with the small pcap
reader of pcaplib.py; for each connection of the ground truth it counts the
packets and IP-level bytes each way and checks sockflow's documents:
packets exactly, IP-level bytes within the documented bound (derived
figure <= captured <= derived + 40 bytes of TCP options per packet, and
exactly for UDP), and the Community ID recomputed from the captured
tuple."""
import ipaddress
import json
import sys

# No bytecode cache next to pcaplib.py: the source tree stays clean.
sys.dont_write_bytecode = True
from pcaplib import community_id, packets  # noqa: E402

out_path, cap_path, truth_path = sys.argv[1:4]
docs = [d for d in (json.loads(l) for l in open(out_path)) if "network" in d]
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


caught = list(packets(cap_path))
truths = [dict(kv.split("=", 1) for kv in l.split())
          for l in open(truth_path) if l.strip()]
check(truths, "no ground truth")
for t in truths:
    proto = 17 if t.get("proto") == "udp" else 6
    addr = str(ipaddress.ip_address(t["addr"]))
    port, cport = int(t["port"]), int(t["client_port"])
    up = [p for p in caught if p[4] == proto and p[1] == cport and p[3] == port]
    down = [p for p in caught if p[4] == proto and p[1] == port and p[3] == cport]
    check(up and down, f"{addr} {cport}->{port}: nothing captured")
    cid = community_id(addr, cport, addr, port, proto)
    for direction in ("outbound", "inbound"):
        tag = f"{'udp' if proto == 17 else 'tcp'} {addr} {cport}->{port} {direction}"
        ds = [d for d in docs
              if d["network"]["transport"] == ("udp" if proto == 17 else "tcp")
              and d["network"]["direction"] == direction
              and d["source"].get("port") == cport
              and d["destination"].get("port") == port]
        check(len(ds) == 1, f"{tag}: {len(ds)} documents")
        if len(ds) != 1:
            continue
        d = ds[0]
        for side, cap in (("source", up), ("destination", down)):
            n, b = len(cap), sum(p[5] for p in cap)
            got_n, got_b = d[side].get("packets"), d[side].get("bytes")
            print(f"{tag} {side}: capture {n} packets {b} bytes; "
                  f"sockflow {got_n} packets {got_b} bytes")
            check(got_n == n, f"{tag}: {side}.packets {got_n}, captured {n}")
            if got_b is None:
                check(False, f"{tag}: no {side}.bytes")
            elif proto == 17:
                check(got_b == b, f"{tag}: {side}.bytes {got_b}, captured {b}")
            else:
                check(got_b <= b <= got_b + 40 * n,
                      f"{tag}: {side}.bytes {got_b} outside the bound of "
                      f"captured {b}")
        if "ip" in d["source"] and "ip" in d["destination"]:
            check(d["network"].get("community_id") == cid,
                  f"{tag}: community_id {d['network'].get('community_id')} "
                  f"vs {cid} from the capture")
        else:
            # An unbound UDP socket's address is not known: no id at all
            # rather than one computed from a guess.
            check("community_id" not in d["network"],
                  f"{tag}: community_id without both addresses")
        if proto == 6:
            check(d["sockflow"]["counters"]["packets"] == "tcp_info",
                  f"{tag}: counters {d['sockflow']['counters']}")

for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
