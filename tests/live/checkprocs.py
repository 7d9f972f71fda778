#!/usr/bin/env python3
# Check tests/live/procs.sh's documents.
# usage: checkprocs.py FORKCONN_PATH FORK.txt SETUID.txt OUT.json
import json
import sys

exe, fork_txt, setuid_txt, out = sys.argv[1:5]
docs = [json.loads(line) for line in open(out)]
docs = [d for d in docs if d.get("event", {}).get("dataset") == "socket"]
bad = 0


def fail(msg):
    global bad
    print("FAIL:", msg)
    bad += 1


def kv(line):
    return {k: int(v) for k, v in (x.split("=") for x in line.split())
            if v.isdigit()}


def doc_of(pid, port):
    m = [d for d in docs if d.get("process", {}).get("pid") == pid and
         port in (d["source"].get("port"), d["destination"].get("port"))]
    if len(m) != 1:
        fail("pid %d port %d: %d documents" % (pid, port, len(m)))
        return None
    return m[0]


def ids(d, want, tag):
    au = d.get("system", {}).get("audit", {}).get("socket", {})
    got = [au.get(k) for k in ("uid", "gid", "euid", "egid")]
    if got != [want] * 4:
        fail("%s: system.audit.socket uid/gid/euid/egid %s, want %d" %
             (tag, got, want))
    if d.get("user", {}).get("id") != str(want):
        fail("%s: user %s, want id %d" % (tag, d.get("user"), want))
    if d.get("group", {}).get("id") != str(want):
        fail("%s: group %s, want id %d" % (tag, d.get("group"), want))


lines = [kv(x) for x in open(fork_txt) if x.strip()]
if len(lines) != 5:
    fail("forkconn made %d connections, want 5" % len(lines))
for t in lines:
    tag = "child %d" % t["child_pid"]
    d = doc_of(t["child_pid"], t["child_port"])
    if d is None:
        continue
    p = d["process"]
    if p.get("ppid") != t["parent_pid"]:
        fail("%s: process.ppid %s, want %d" % (tag, p.get("ppid"),
                                                t["parent_pid"]))
    if p.get("name") != "forkconn":
        fail("%s: process.name %r" % (tag, p.get("name")))
    if p.get("executable") != exe:
        fail("%s: process.executable %r, want %r" %
             (tag, p.get("executable"), exe))
    if p.get("args") != [exe, "5701", "5", "1000"] or \
            p.get("args_count") != 4:
        fail("%s: process.args %r (%s)" % (tag, p.get("args"),
                                           p.get("args_count")))
    for k in ("created", "entity_id"):
        if not p.get(k):
            fail("%s: no process.%s" % (tag, k))
    ids(d, 1235, tag)
    print("ok: %s (lived %d us): ppid %s, %s %s, uid %s" %
          (tag, t["lifetime_us"], p.get("ppid"), p.get("executable"),
           p.get("args"), d.get("user", {}).get("id")))

t = kv(open(setuid_txt).read().split("\n")[0])
d = doc_of(t["client_pid"], t["client_port"])
if d is not None:
    ids(d, 1234, "setuid client")
    print("ok: client %d after setresuid: user %s" %
          (t["client_pid"], d.get("user")))
d = doc_of(t["server_pid"], t["client_port"])
if d is not None:
    ids(d, 0, "root server")
sys.exit(1 if bad else 0)
