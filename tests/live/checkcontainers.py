#!/usr/bin/env python3
# Check tests/live/containers.sh's documents.
# usage: checkcontainers.py CASES OUT.json
# CASES: "CGROUP_PATH NETNS server_pid=.. client_pid=.. client_port=.. ..."
import json
import re
import sys

docs = []
with open(sys.argv[2]) as f:
    for line in f:
        d = json.loads(line)
        if d.get("event", {}).get("dataset") == "socket":
            docs.append(d)

RUNTIMES = (("/docker-", "docker"), ("/libpod-", "podman"),
            ("/cri-containerd-", "containerd"))
bad = 0


def fail(msg):
    global bad
    print("FAIL:", msg)
    bad += 1


for line in open(sys.argv[1]):
    f = line.split()
    path, netns = f[0], int(f[1])
    kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
    port = int(kv["client_port"])
    want_id = re.search(r"-([0-9a-f]{64})\.scope$", path)
    want_rt = next((rt for pre, rt in RUNTIMES if pre in path), None)
    ends = [d for d in docs if d.get("network", {}).get("transport") == "tcp"
            and port in (d["source"].get("port"), d["destination"].get("port"))
            and d.get("process", {}).get("pid") in
            (int(kv["client_pid"]), int(kv["server_pid"]))]
    if len(ends) != 2:
        fail("%s: %d documents for port %d, want 2 (client and server)" %
             (path, len(ends), port))
        continue
    for d in ends:
        who = "pid %s" % d["process"]["pid"]
        sf = d.get("sockflow", {})
        if sf.get("cgroup", {}).get("path") != path:
            fail("%s: %s: sockflow.cgroup.path %r" %
                 (path, who, sf.get("cgroup", {}).get("path")))
        if not sf.get("cgroup", {}).get("id"):
            fail("%s: %s: no sockflow.cgroup.id" % (path, who))
        if sf.get("netns") != netns:
            fail("%s: %s: sockflow.netns %r, want %d" %
                 (path, who, sf.get("netns"), netns))
        c = d.get("container")
        if want_id is None:
            if c is not None:
                fail("%s: %s: container %r, want none" % (path, who, c))
        elif c is None or c.get("id") != want_id.group(1) or \
                c.get("runtime") != want_rt:
            fail("%s: %s: container %r, want %s %s" %
                 (path, who, c, want_id.group(1), want_rt))
    print("ok:", path, "netns", netns, "port", port)
sys.exit(1 if bad else 0)
