#!/usr/bin/env python3
# Check tests/live/dns.sh's flow documents against its cases.
# usage: checkdns.py CASES OUT.json SERVER_PORT
# CASES: "label expected_domain|- pid local_port remote_ip" per line.
import json
import sys

cases_path, out_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs, stats = [], []
with open(out_path) as f:
    for line in f:
        d = json.loads(line)
        if d.get("event", {}).get("dataset") == "sockflow.stats":
            stats.append(d)
        else:
            docs.append(d)

bad = 0


def fail(msg):
    global bad
    print("FAIL:", msg)
    bad += 1


named = 0
for line in open(cases_path):
    label, want, pid, lport, rip = line.split()
    pid, lport = int(pid), int(lport)
    mine = [d for d in docs
            if d.get("network", {}).get("transport") == "tcp"
            and d.get("network", {}).get("direction") == "outbound"
            and d.get("source", {}).get("port") == lport
            and d.get("destination", {}).get("port") == port]
    if len(mine) != 1:
        fail("%s: %d documents for local port %d" % (label, len(mine), lport))
        continue
    d = mine[0]
    if d.get("process", {}).get("pid") != pid:
        fail("%s: process.pid %s, want %d" %
             (label, d.get("process", {}).get("pid"), pid))
    if d["destination"].get("ip") != rip:
        fail("%s: destination.ip %s, want %s" %
             (label, d["destination"].get("ip"), rip))
    got = d["destination"].get("domain")
    if want == "-":
        if got is not None:
            fail("%s: destination.domain %r, want none" % (label, got))
    else:
        named += 1
        if got != want:
            fail("%s: destination.domain %r, want %r" % (label, got, want))
        if d.get("server", {}).get("domain") != want:
            fail("%s: server.domain %r, want %r" %
                 (label, d.get("server", {}).get("domain"), want))
        if want not in d.get("related", {}).get("hosts", []):
            fail("%s: related.hosts lacks %s" % (label, want))
    if "domain" in d["source"]:
        fail("%s: source.domain %r, the client resolved no name for its "
             "own address" % (label, d["source"]["domain"]))
    print("ok: %s: pid %d -> %s %s" % (label, pid, rip, got))

if not stats:
    fail("no stats document")
else:
    enr = stats[-1]["sockflow"]["stats"]["enricher"]
    agg = stats[-1]["sockflow"]["stats"]["aggregator"]
    for k, v in sorted(enr.items()):
        if k.startswith("dns_malformed_") and v != 0:
            fail("enricher %s = %d" % (k, v))
    # Queries to the local servers are captured (they arrive on the
    # loopback); the one to the remote server leaves by the veth unseen.
    if enr.get("dns_responses_unqueried") != 1:
        fail("dns_responses_unqueried %s, want 1 (the remote server's)" %
             enr.get("dns_responses_unqueried"))
    if enr.get("dns_flows_named", 0) < named:
        fail("dns_flows_named %s < %d" % (enr.get("dns_flows_named"), named))
    for k in ("dns_unparsed", "dns_overrun", "dns_capture_drops",
              "dns_pending_full"):
        if agg.get(k, 0) != 0:
            fail("aggregator %s = %d" % (k, agg[k]))
    print("stats: aggregator", {k: v for k, v in agg.items()
                                if k.startswith("dns_")})
    print("stats: enricher", {k: v for k, v in enr.items()
                              if k.startswith("dns_") and v})
sys.exit(1 if bad else 0)
