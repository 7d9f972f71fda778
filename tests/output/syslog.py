"""The syslog output of sockflow-output against a real rsyslogd.

The test starts its own rsyslogd (no system one is touched) with a Unix
datagram socket, a UDP and a TCP listener on loopback, and a template
that writes each message's input, PRI, version, host, app-name, procid
and MSG. For each transport the documents must arrive byte-identical as
the MSG of RFC 5424 messages (TCP with octet-counted framing, which
rsyslog detects), with the configured facility. Then rsyslogd is
stopped: the output goes down, keeps its queue up to its cap and counts
the rest; when rsyslogd is back, the queued documents arrive, each once.
"""
import json
import os
import socket
import subprocess
import time

from outlib import (Output, check, cleanup, done, flow_doc, last_stats,
                    need_root, read_lines, tmpdir, user, wait_for)

need_root()
u = user()
d = tmpdir()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
        finally:
            s.close()
            t.close()
    raise SystemExit("no free port")


PORT = free_port()
SOCK = os.path.join(d, "log")
OUT = os.path.join(d, "received")
conf = os.path.join(d, "rsyslog.conf")
with open(conf, "w") as f:
    f.write("""
global(workDirectory="%(d)s" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="%(sock)s" UseSpecialParser="off"
      ParseHostname="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%(port)d")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%(port)d")
template(name="fields" type="list") {
  property(name="inputname") constant(value="\\t")
  property(name="pri") constant(value="\\t")
  property(name="protocol-version") constant(value="\\t")
  property(name="hostname") constant(value="\\t")
  property(name="app-name") constant(value="\\t")
  property(name="procid") constant(value="\\t")
  property(name="msg") constant(value="\\n")
}
*.* action(type="omfile" file="%(out)s" template="fields")
""" % {"d": d, "sock": SOCK, "port": PORT, "out": OUT})

rsyslog = None


def start_rsyslog():
    global rsyslog
    rsyslog = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i",
                                os.path.join(d, "rsyslog.pid")],
                               stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(d, "rsyslog.log"),
                                           "a"))

    def listening():
        if not os.path.exists(SOCK):
            return False
        try:
            socket.create_connection(("127.0.0.1", PORT), 0.2).close()
            return True
        except OSError:
            return False
    check(wait_for(listening, 15), "rsyslogd listens on %s and port %d"
          % (SOCK, PORT))


def stop_rsyslog():
    rsyslog.terminate()
    rsyslog.wait(10)


def received(inputname):
    """(pri, version, host, app, procid, msg) rsyslog wrote for an input."""
    out = []
    for l in read_lines(OUT):
        f = l.split("\t", 6)
        if len(f) == 7 and f[0] == inputname:
            out.append(tuple(f[1:]))
    return out


host = socket.gethostname()
start_rsyslog()
try:
    cases = [("unix", SOCK, "imuxsock", "local0", 134),
             ("udp", "127.0.0.1:%d" % PORT, "imudp", "daemon", 30),
             ("tcp", "127.0.0.1:%d" % PORT, "imtcp", "local7", 190)]
    for net, addr, inputname, facility, pri in cases:
        # UDP is lossy where the receiver's buffer overflows: fewer
        # documents, paced, so that a loss is the output's fault.
        n = 60 if net == "udp" else 300
        docs = [flow_doc(i) for i in range(n)]
        # A document far above a typical one, and one with a newline
        # escaped inside a string (the framing must not care).
        docs.append(flow_doc(n, pad=20000))
        docs.append(json.dumps({"seq": n + 1, "s": "a\nb\u00e9"}))
        o = Output(["output.console.enabled=false",
                    "output.syslog.enabled=true",
                    "output.syslog.network=" + net,
                    "output.syslog.address=" + addr,
                    "output.syslog.facility=" + facility,
                    "output.syslog.app_name=sockflow-test"])
        pid = str(o.p.pid)
        for i in range(0, len(docs), 10):
            o.send(docs[i:i + 10])
            if net == "udp":
                time.sleep(0.05)
        o.close()
        check(wait_for(lambda: len(received(inputname)) >= len(docs), 15),
              "%s: rsyslogd received %d messages (%d)" %
              (net, len(docs), len(received(inputname))))
        got = received(inputname)
        check([g[5] for g in got] == docs,
              "%s: every document arrived once, in order, byte-identical "
              "as the message" % net)
        check(all(g[:5] == (str(pri), "1", host, "sockflow-test", pid)
                  for g in got),
              "%s: RFC 5424 header: PRI %d (%s.info), version 1, host, "
              "app-name, procid" % (net, pri, facility))

    # --- rsyslogd away: down, bounded, counted; back: recovery.
    for net, addr, inputname in [("tcp", "127.0.0.1:%d" % PORT, "imtcp"),
                                 ("unix", SOCK, "imuxsock")]:
        stop_rsyslog()
        os.unlink(OUT)
        side = os.path.join(d, "stats-" + net)
        o = Output(["output.console.enabled=false",
                    "output.syslog.enabled=true",
                    "output.syslog.network=" + net,
                    "output.syslog.address=" + addr,
                    "output.syslog.queue_size=100",
                    "output.file.enabled=true", "output.file.path=" + d,
                    "output.file.filename=stats-" + net])
        o.send([flow_doc(i) for i in range(150)])
        check(wait_for(lambda: "trying again" in o.log(), 10),
              "%s down: the failure is logged" % net)

        def all_in():
            o.stats()
            time.sleep(0.1)
            st = last_stats(read_lines(side))
            return st and st["syslog"]["accepted"] + \
                st["syslog"]["dropped_full"] >= 150
        check(wait_for(all_in, 10),
              "%s down: stats document written, all 150 documents taken "
              "or dropped" % net)
        ss = last_stats(read_lines(side))["syslog"]
        # Stats documents asked for while there was room are queued too.
        check(ss["up"] is False and ss["queued"] == 100 and
              ss["accepted"] == 100 and ss["dropped_full"] >= 50 and
              ss["sent"] == 0,
              "%s down: queue at its cap of 100, the rest dropped and "
              "counted: %s" % (net, ss))
        start_rsyslog()
        check(wait_for(lambda: "sending again" in o.log(), 15),
              "%s: sending again by itself once rsyslogd is back" % net)
        o.close()
        got = [json.loads(g[5]) for g in received(inputname)]
        seqs = [m["seq"] for m in got if "seq" in m]
        # The queue held the first flows and the stats documents asked
        # for while it had room.
        check(len(got) == 100 and seqs == list(range(len(seqs))),
              "%s: the 100 queued documents arrived, each once, the flows "
              "in order (%d, %d flows)" % (net, len(got), len(seqs)))
finally:
    if rsyslog is not None and rsyslog.poll() is None:
        stop_rsyslog()
cleanup(d)
done()
