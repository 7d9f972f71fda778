#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/fuzz_*.c).

The fuzzers start from these rather than from nothing so that they reach
the interesting code at once: each seed is an input its target decodes
all the way. The files are committed; run this again only to change
them. Seeds of one target go to corpus/TARGET beside this script:

  dns       DNS messages (RFC 1035 wire format) of every kind the parser
            must handle: a query, answers A and AAAA, a CNAME chain in no
            order, and names compressed every way a server does it.
  config    configuration files: every option, dotted and nested.
  tpformat  each saved format of tests/data/formats, a NUL, then a record
            of that event with every field set.
  sample    perf records, the first byte picking fuzz_sample's decoder
            (0: plain, 1: samples end with the cgroup id, execs carry the
            user stack): a sample of every event it knows, built from the
            saved formats as tests/unit/test_agg.c builds them, and each
            kind of side-band record.
  frame, msg, and more sample seeds: real frames, taken from what a
            running sockflow wrote (--trace, below).
  esreply   real answers of tests/output/es_server.py (live, on
            127.0.0.1): the HTTP status, the request's document count
            and the body, of success, per-item 429 and 400, and whole
            requests refused with 413, 503, 429, 401 and 400.
  diag      real sock_diag answers and destroy notifications of sockets
            this script opens on the loopback (live; destroy
            notifications need CAP_NET_ADMIN).

    python3 tests/fuzz/mkseeds.py [TARGET ...]    (default: dns config
                                                   tpformat sample
                                                   esreply)
    python3 tests/fuzz/mkseeds.py --trace LOG [--trace LOG] frame msg sample

The real frames come from an strace log of sockflow at work, as root:

    strace -f -qq -e trace=write,writev,sendmsg -xx -s 2000000 -o LOG \\
        build/sockflow -r /tmp/sf-run
    (some TCP, UDP and DNS traffic, processes run, a cgroup made; ^C)

Every frame the probe and the aggregator wrote is cut out of the log, and
what the machine's processes left in them is cut down before anything is
written: the environment strings on an exec's stack are overwritten with
'x', and so are the arguments of programs not in OWN_PROGRAMS; of the
process events, only those of OWN_PROGRAMS are kept. Names of processes
and paths of executables stay. With --trace, the diag seeds include the
datagrams of the probe's start-up dump.
"""

import argparse
import collections
import glob
import ipaddress
import os
import re
import socket
import struct
import sys

T_A, T_CNAME, T_TXT, T_AAAA = 1, 5, 16, 28
C_IN = 1
F_RESP = 0x8180  # QR, RD, RA
F_QUERY = 0x0100  # RD


def name(text):
    """A name in place, no compression; "" is the root."""
    out = b""
    for label in text.split(".") if text else []:
        raw = label.encode("ascii")
        assert 0 < len(raw) <= 63
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def labels(text):
    """A name's labels without the root, for a pointer to follow."""
    return name(text)[:-1]


def ptr(offset):
    assert offset < 0x4000
    return struct.pack(">H", 0xC000 | offset)


def header(flags, qd, an, ns=0, ar=0, ident=0x5CF1):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def question(qname, qtype):
    return name(qname) + struct.pack(">HH", qtype, C_IN)


def rr(owner, rtype, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, C_IN, ttl, len(rdata)) + rdata


def addr(text):
    return ipaddress.ip_address(text).packed


def seed_query():
    return header(F_QUERY, 1, 0) + question("www.example.com", T_A)


def seed_a():
    msg = header(F_RESP, 1, 2) + question("example.com", T_A)
    msg += rr(ptr(12), T_A, 300, addr("93.184.216.34"))
    msg += rr(ptr(12), T_A, 300, addr("192.0.2.10"))
    return msg


def seed_aaaa():
    msg = header(F_RESP, 1, 1) + question("ipv6.example.net", T_AAAA)
    msg += rr(ptr(12), T_AAAA, 3600, addr("2001:db8::53"))
    return msg


def seed_cname_chain():
    """www.example.org -> a.cdn.test -> b.cdn.test, records out of order,
    with a record of another type among them."""
    msg = header(F_RESP, 1, 5) + question("www.example.org", T_A)
    b_at = len(msg)
    msg += rr(name("b.cdn.test"), T_A, 20, addr("198.51.100.20"))
    a_at = len(msg)
    msg += rr(labels("a") + ptr(b_at + 2), T_CNAME, 60, ptr(b_at))
    msg += rr(ptr(12), T_CNAME, 300, ptr(a_at))
    msg += rr(ptr(12), T_TXT, 300, b"\x05hello")
    msg += rr(ptr(b_at), T_AAAA, 20, addr("2001:db8::20"))
    return msg


def seed_compressed():
    """Every name after the question's a pointer or ends in one, a target
    pointing into a record's data, and mixed case."""
    msg = header(F_RESP, 1, 4) + question("Mail.Example.COM", T_A)
    cname_at = len(msg)
    msg += rr(ptr(12), T_CNAME, 120, b"")
    # The CNAME's data: "mx1" + the question's "example.com".
    target_at = len(msg)
    rdata = labels("mx1") + ptr(17)
    msg = msg[:-2] + struct.pack(">H", len(rdata)) + rdata
    msg += rr(ptr(target_at), T_A, 90, addr("203.0.113.25"))
    msg += rr(labels("MX1") + ptr(17), T_AAAA, 90, addr("2001:db8::25"))
    msg += rr(ptr(target_at), T_A, 90, addr("203.0.113.26"))
    assert msg[cname_at:cname_at + 2] == ptr(12)
    return msg


DNS_SEEDS = {
    "query": seed_query,
    "a": seed_a,
    "aaaa": seed_aaaa,
    "cname_chain": seed_cname_chain,
    "compressed": seed_compressed,
}


def write_dns(out):
    for seed_name, make in DNS_SEEDS.items():
        write(out, seed_name, make())


HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FORMATS = os.path.join(TOP, "tests", "data", "formats")

# The most a seed may be: the corpus is committed, and small seeds keep
# libFuzzer's inputs (as long as the longest seed) small.
MAX_SEED = 64 * 1024 - 1


def write(out, seed_name, data):
    assert len(data) <= MAX_SEED, (seed_name, len(data))
    with open(os.path.join(out, seed_name), "wb") as f:
        f.write(data)


# ---- config: YAML files of every option (common/sfconfig.c's keys)

CONFIG_SEEDS = {
    "dotted": b"""\
# Every option, dotted.
socket.flow_inactive_timeout: 30s
socket.flow_termination_timeout: 5s
socket.socket_inactive_timeout: 1m
socket.perf_queue_size: 4096
socket.lost_queue_size: 128
socket.ring_size_exponent: 7
socket.tracefs_path: /sys/kernel/tracing
socket.enable_ipv6: true
socket.clock_max_drift: 100ms
socket.clock_sync_period: 10s
socket.guess_timeout: 15s
socket.dns.enabled: true
socket.dns.type: af_packet
socket.dns.af_packet.interface: any
socket.dns.af_packet.snaplen: 1024
socket.backend: auto
sockflow.flow_report_interval: 1m
sockflow.stats_interval: 0s
sockflow.user: sockflow
""",
    "nested": b"""\
socket:
  flow_inactive_timeout: 1m30s
  flow_termination_timeout: 0s
  socket_inactive_timeout: 2h
  perf_queue_size: 16777216
  lost_queue_size: 1
  ring_size_exponent: 14
  tracefs_path: ""
  enable_ipv6: false
  clock_max_drift: 1ms
  clock_sync_period: 100ms
  guess_timeout: 10m
  backend: tracepoint
  dns:
    enabled: false
    type: af_packet
    af_packet:
      interface: eth0
      snaplen: 65535
sockflow:
  flow_report_interval: 0s
  stats_interval: 24h
  user: ""
""",
    "mixed": b"""\
%YAML 1.1
---
socket: {backend: kprobe, dns: {af_packet.interface: lo, enabled: true}}
socket.dns: {af_packet: {snaplen: 128}}
'sockflow.user': "nobody"
sockflow: {stats_interval: 1500ms, flow_report_interval: 90000000000ns}
socket.clock_max_drift: 250000us
...
""",
    "anchors": b"""\
base: &t 45s
socket.flow_inactive_timeout: *t
""",
    "empty": b"",
    "comment_only": b"# nothing set\n",
    "list_refused": b"socket.backend: [kprobe, tracepoint]\n",
}


def write_config(out):
    for seed_name, text in CONFIG_SEEDS.items():
        write(out, seed_name, text)


# ---- tracefs formats and raw records built from them

Field = collections.namedtuple("Field", "offset size signed array dataloc")


class Format:
    """A format description: name, id and fields, as tpformat.c reads
    it."""

    def __init__(self, text):
        self.text = text
        self.name, self.id, self.fields = None, None, {}
        for line in text.decode("ascii").splitlines():
            line = line.strip()
            if line.startswith("name:"):
                self.name = line[5:].strip()
            elif line.startswith("ID:"):
                self.id = int(line[3:])
            elif line.startswith("field:"):
                decl, rest = line[6:].split(";", 1)
                m = re.match(r"\s*offset:(\d+);\s*size:(\d+);\s*"
                             r"signed:(\d);", rest)
                n = re.search(r"([A-Za-z_]\w*)\s*(\[[^]]*\])?$", decl)
                self.fields[n.group(1)] = Field(
                    int(m.group(1)), int(m.group(2)), m.group(3) == "1",
                    n.group(2) is not None and "__data_loc" not in decl,
                    "__data_loc" in decl)
        self.min_size = max(f.offset + f.size for f in self.fields.values())


def saved_format(file_name):
    with open(os.path.join(FORMATS, file_name + ".format"), "rb") as f:
        return Format(f.read())


class Raw:
    """The raw data of one tracepoint record, filled by field name."""

    def __init__(self, fmt, softirq=False):
        self.fmt = fmt
        self.data = bytearray(fmt.min_size)
        self.put("common_type", fmt.id)
        self.put("common_flags", 0x10 if softirq else 0)
        if "common_pid" in fmt.fields:
            self.put("common_pid", 4242)

    def put(self, field_name, value):
        f = self.fmt.fields[field_name]
        if isinstance(value, int):
            value = value.to_bytes(f.size, "little", signed=value < 0)
        assert len(value) <= f.size, field_name
        self.data[f.offset:f.offset + len(value)] = value
        return self

    def string(self, field_name, text):
        """A __data_loc string, after the fixed fields."""
        off = len(self.data)
        self.data += text + b"\0"
        return self.put(field_name, (len(text) + 1) << 16 | off)

    def bytes(self):
        return bytes(self.data)


def fill_all(fmt):
    """Every field of a format set to something, strings to a name."""
    raw = Raw(fmt)
    for i, (field_name, f) in enumerate(sorted(fmt.fields.items())):
        if field_name in ("common_type", "common_flags"):
            continue
        if f.dataloc:
            raw.string(field_name, b"/usr/bin/true")
        elif f.array:
            raw.put(field_name, bytes(range(1, f.size + 1)))
        else:
            raw.put(field_name, i + 1)
    return raw.bytes()


def write_tpformat(out):
    for path in sorted(glob.glob(os.path.join(FORMATS, "*.format"))):
        fmt = saved_format(os.path.basename(path)[:-len(".format")])
        write(out, os.path.basename(path)[:-len(".format")],
              fmt.text + b"\0" + fill_all(fmt))


# ---- perf records (linux/perf_event.h), as the probe forwards them

PERF_RECORD_LOST, PERF_RECORD_COMM, PERF_RECORD_EXIT = 2, 3, 4
PERF_RECORD_FORK, PERF_RECORD_SAMPLE = 7, 9
PERF_RECORD_NAMESPACES, PERF_RECORD_CGROUP = 16, 19
PERF_RECORD_MISC_COMM_EXEC = 1 << 13
PERF_SAMPLE_REGS_ABI_64 = 2
# Bytes before a sample's raw data: header, pid, tid, time, cpu, res, size.
SAMPLE_FIXED = 8 + 8 + 8 + 8 + 4

# The decoders of fuzz_sample.c: 1 has samples end with their cgroup id
# and sched_process_exec carry the user stack.
PLAIN, CGROUP_STACK = 0, 1
CGROUP_ID = 0x1f3a


def perf_header(rtype, misc, body):
    return struct.pack("<IHH", rtype, misc, 8 + len(body)) + body


def trailer(pid, tid, when, cpu=1):
    """sample_id_all: what ends every side-band record."""
    return struct.pack("<IIQII", pid, tid, when, cpu, 0)


def sample(raw, pid, tid, when, cpu=1, tail=b""):
    # The kernel pads the raw data so that what follows is aligned.
    raw += b"\0" * (-(4 + len(raw)) % 8)
    body = struct.pack("<IIQII", pid, tid, when, cpu, 0)
    body += struct.pack("<I", len(raw)) + raw + tail
    return perf_header(PERF_RECORD_SAMPLE, 0, body)


def user_stack(args, env):
    """PERF_SAMPLE_REGS_USER (the stack pointer) and STACK_USER of an
    exec: argc, argv, envp, an empty auxv, then the strings."""
    sp = 0x7ffd12345000
    words = 1 + len(args) + 1 + len(env) + 1 + 2
    strings, ptrs = b"", []
    for s in args + env:
        ptrs.append(sp + 8 * words + len(strings))
        strings += s + b"\0"
    stack = struct.pack("<Q", len(args))
    stack += b"".join(struct.pack("<Q", p) for p in ptrs[:len(args)])
    stack += struct.pack("<Q", 0)
    stack += b"".join(struct.pack("<Q", p) for p in ptrs[len(args):])
    stack += struct.pack("<QQQ", 0, 0, 0) + strings
    stack += b"\0" * (-len(stack) % 8)
    return struct.pack("<QQQ", PERF_SAMPLE_REGS_ABI_64, sp, len(stack)) + \
        stack + struct.pack("<Q", len(stack))


SYSCALLS = {
    # As fuzz_sample.c has them, from tests/data/formats/KERNEL's tracefs.
    "sys_enter_setuid": (323, {"uid": 16}),
    "sys_enter_setresuid": (321, {"ruid": 16, "euid": 24, "suid": 32}),
    "sys_exit_setuid": (322, {"ret": 16}),
}


def syscall_raw(event, **values):
    ident, offsets = SYSCALLS[event]
    raw = bytearray(8 + 8 + 8 * len(offsets))
    raw[0:2] = struct.pack("<H", ident)
    for name, value in values.items():
        raw[offsets[name]:offsets[name] + 8] = struct.pack("<q", value)
    return bytes(raw)


def v4(text):
    return ipaddress.IPv4Address(text).packed


def v6(text):
    return ipaddress.IPv6Address(text).packed


def sample_seeds():
    """Name -> (raw data or None, record) of one of every kind; samples
    are wrapped for each decoder by the caller."""
    f = {name: saved_format(name) for name in (
        "sock_inet_sock_set_state", "sock_sock_send_length",
        "sock_sock_recv_length", "tcp_tcp_destroy_sock",
        "fib_fib_table_lookup", "fib6_fib6_table_lookup",
        "sched_sched_process_exec", "kprobe_send_tcp", "kprobe_sendret_tcp",
        "kprobe_recv_tcp", "kprobe_recvret_tcp", "kprobe_send_udp",
        "kprobe_sendret_udp", "kprobe_send_udp6", "kprobe_sendret_udp6",
        "kprobe_pkt_out4", "kprobe_pkt_in4", "kprobe_creds",
        "kprobe_args")}
    sk = 0xffff888012345600
    ss = f["sock_inet_sock_set_state"]
    raws = {}

    def tuple4(raw, sport=40000, dport=443):
        return raw.put("family", 2).put("sport", sport) \
            .put("dport", dport).put("saddr", v4("192.0.2.1")) \
            .put("daddr", v4("198.51.100.7")) \
            .put("saddr_v6", v6("::ffff:192.0.2.1")) \
            .put("daddr_v6", v6("::ffff:198.51.100.7"))

    raws["set_state4"] = tuple4(Raw(ss).put("skaddr", sk)
                                .put("oldstate", 2).put("newstate", 1)
                                .put("protocol", 6))
    raws["set_state6"] = Raw(ss, softirq=True).put("skaddr", sk + 64) \
        .put("oldstate", 1).put("newstate", 8).put("protocol", 6) \
        .put("family", 10).put("sport", 22).put("dport", 51000) \
        .put("saddr_v6", v6("2001:db8::1")).put("daddr_v6", v6("2001:db8::2"))
    raws["set_state_mapped"] = Raw(ss).put("skaddr", sk + 128) \
        .put("oldstate", 7).put("newstate", 2).put("protocol", 6) \
        .put("family", 10).put("sport", 40001).put("dport", 80) \
        .put("saddr_v6", v6("::ffff:192.0.2.1")) \
        .put("daddr_v6", v6("::ffff:203.0.113.9"))
    raws["send4"] = Raw(f["sock_sock_send_length"]).put("sk", sk) \
        .put("family", 2).put("protocol", 6).put("ret", 1448).put("flags", 0)
    raws["recv6_udp"] = Raw(f["sock_sock_recv_length"]).put("sk", sk + 64) \
        .put("family", 10).put("protocol", 17).put("ret", 512) \
        .put("flags", 0x40)
    raws["recv_peek"] = Raw(f["sock_sock_recv_length"]).put("sk", sk) \
        .put("family", 2).put("protocol", 6).put("ret", 10).put("flags", 2)
    raws["destroy4"] = tuple4(Raw(f["tcp_tcp_destroy_sock"])
                              .put("skaddr", sk)
                              .put("sock_cookie", 0x4001), 40000, 443)
    raws["fib4"] = Raw(f["fib_fib_table_lookup"]).put("err", 0) \
        .put("proto", 17).put("sport", 5353).put("dport", 53) \
        .put("src", v4("192.0.2.1")).put("dst", v4("192.0.2.53"))
    raws["fib6_mapped"] = Raw(f["fib6_fib6_table_lookup"]).put("err", -101) \
        .put("proto", 17).put("sport", 0).put("dport", 123) \
        .put("src", v6("::ffff:192.0.2.1")) \
        .put("dst", v6("::ffff:192.0.2.123"))
    raws["exec"] = Raw(f["sched_sched_process_exec"]) \
        .string("filename", b"/usr/bin/true").put("pid", 4243) \
        .put("old_pid", 4243)
    for which, ret in (("send_tcp", None), ("recv_tcp", None),
                       ("send_udp", None), ("send_udp6", None),
                       ("sendret_tcp", 1448), ("recvret_tcp", -11),
                       ("sendret_udp", 64), ("sendret_udp6", 0)):
        raw = Raw(f["kprobe_" + which])
        if ret is None:
            raw.put("sk", sk).put("family", 10 if "6" in which else 2) \
                .put("protocol", 6 if "tcp" in which else 17)
            if which == "recv_tcp":
                raw.put("flags", 2)
        else:
            raw.put("ret", ret)
        raws["kprobe_" + which] = raw
    for which, out in (("pkt_out4", True), ("pkt_in4", False)):
        ports = struct.pack(">HH", 40000 if out else 443,
                            443 if out else 40000)
        raws["kprobe_" + which] = Raw(f["kprobe_" + which], softirq=True) \
            .put("len", 1500).put("vihl", 0x45).put("proto", 6) \
            .put("saddr", v4("192.0.2.1" if out else "198.51.100.7")) \
            .put("daddr", v4("198.51.100.7" if out else "192.0.2.1")) \
            .put("ports", ports)
    raws["kprobe_creds"] = Raw(f["kprobe_creds"]).put("uid", 1000) \
        .put("gid", 1000).put("euid", 0).put("egid", 0)
    args = Raw(f["kprobe_args"]).put("argc", 3)
    block = b"true\0--version\0ignored-cut"
    block += b"\0" * (8 * 32 - len(block))
    args.put("start", 0x7ffd00001000).put("end", 0x7ffd00001000 + 20)
    for i in range(32):
        args.put("w%d" % i, block[8 * i:8 * i + 8])
    raws["kprobe_args"] = args
    raws = {k: v.bytes() for k, v in raws.items()}
    raws["setresuid"] = syscall_raw("sys_enter_setresuid", ruid=-1, euid=0,
                                    suid=-1)
    raws["setuid"] = syscall_raw("sys_enter_setuid", uid=65534)
    raws["setuid_ret"] = syscall_raw("sys_exit_setuid", ret=0)

    side = {}
    side["comm"] = perf_header(PERF_RECORD_COMM, 0, struct.pack(
        "<II", 4243, 4243) + b"python3\0" + trailer(4243, 4243, 1000))
    side["comm_exec"] = perf_header(
        PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC,
        struct.pack("<II", 4243, 4243) + b"true\0\0\0\0" +
        trailer(4243, 4243, 1001))
    side["fork"] = perf_header(PERF_RECORD_FORK, 0, struct.pack(
        "<IIIIQ", 4244, 4243, 4244, 4243, 1002) + trailer(4244, 4244, 1002))
    side["exit_thread"] = perf_header(PERF_RECORD_EXIT, 0, struct.pack(
        "<IIIIQ", 4243, 4243, 4245, 4243, 1003) + trailer(4243, 4245, 1003))
    side["lost"] = perf_header(PERF_RECORD_LOST, 0, struct.pack(
        "<QQ", 7, 12) + trailer(0, 0, 1004))
    side["namespaces"] = perf_header(PERF_RECORD_NAMESPACES, 0, struct.pack(
        "<IIQ", 4244, 4244, 7) + b"".join(
            struct.pack("<QQ", 4, 4026531840 + i) for i in range(7)) +
        trailer(4244, 4244, 1005))
    path = b"/system.slice/sockflow-fuzz.scope\0"
    path += b"\0" * (-len(path) % 8)
    side["cgroup"] = perf_header(PERF_RECORD_CGROUP, 0, struct.pack(
        "<Q", CGROUP_ID) + path + trailer(1, 1, 1006))

    seeds = {}
    for name, raw in raws.items():
        pid = 0 if name.startswith("kprobe_pkt") else 4243
        when = 2000 + len(seeds)
        seeds["plain_" + name] = bytes([PLAIN]) + sample(raw, pid, pid, when)
        tail = struct.pack("<Q", CGROUP_ID)
        if name == "exec":
            tail = user_stack([b"/usr/bin/true", b"--version"],
                              [b"LANG=C", b"HOME=/nonexistent"]) + tail
        seeds["cgroup_" + name] = bytes([CGROUP_STACK]) + \
            sample(raw, pid, pid, when, tail=tail)
    for name, rec in side.items():
        seeds["side_" + name] = bytes([PLAIN]) + rec
    return seeds


def write_sample(out):
    for seed_name, data in sample_seeds().items():
        write(out, seed_name, data)


# ---- real frames, from an strace log of sockflow (see the top)

FRAME_TYPES = ["none", "hello", "formats", "samples", "lost", "flow",
               "process", "stats", "diag", "packets", "dns", "netns",
               "cgroup"]
# Processes whose names and arguments may stay in a seed: those a capture
# runs on purpose. Everything else is overwritten.
OWN_PROGRAMS = {b"true", b"sh", b"setpriv", b"unshare", b"python3"}


def trace_streams(path):
    """The bytes each (pid, fd) of a traced sockflow wrote, in order."""
    streams = collections.OrderedDict()
    quoted = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
    call = re.compile(r"(\d+) (write|writev|sendmsg)\((\d+),")
    with open(path) as f:
        for line in f:
            m = call.match(line)
            if m is None:
                continue
            data = b"".join(bytes.fromhex(s.replace("\\x", ""))
                            for s in quoted.findall(line))
            ret = re.search(r"\) = (\d+)$", line.rstrip())
            if ret is not None:
                data = data[:int(ret.group(1))]
            streams.setdefault((m.group(1), m.group(3)),
                               bytearray()).extend(data)
    return streams


def trace_frames(path):
    """Every whole frame found at the start of a stream, and after it."""
    frames = []
    for data in trace_streams(path).values():
        off = 0
        while off + 8 <= len(data):
            length, version, ftype = struct.unpack_from(">IHH", data, off)
            if version != 1 or not 0 < ftype < len(FRAME_TYPES) or \
                    off + 8 + length > len(data):
                break
            frames.append((FRAME_TYPES[ftype],
                           bytes(data[off:off + 8 + length])))
            off += 8 + length
    return frames


def pb_varint(b, o):
    v = s = 0
    while True:
        c = b[o]
        o += 1
        v |= (c & 0x7f) << s
        s += 7
        if not c & 0x80:
            return v, o


def pb_fields(b):
    """(field number, value, offset of the value) of a protobuf message:
    enough of the wire format to find fields, not to check it."""
    o, out = 0, []
    while o < len(b):
        key, o = pb_varint(b, o)
        wire = key & 7
        if wire == 0:
            start = o
            v, o = pb_varint(b, o)
        elif wire == 2:
            n, o = pb_varint(b, o)
            start, v = o, b[o:o + n]
            o += n
        elif wire in (1, 5):
            start, n = o, 8 if wire == 1 else 4
            v, o = b[o:o + n], o + n
        else:
            raise ValueError("wire type %d" % wire)
        out.append((key >> 3, v, start))
    return out


def blank(data, start, end, keep=b"\0="):
    """Overwrite what processes left between start and end with 'x'."""
    for i in range(start, end):
        if data[i] not in keep:
            data[i] = ord("x")


def scrub_exec(rec, stack_ids, own):
    """An exec sample with the user stack: environment strings blanked,
    and the arguments too unless the program is one of OWN_PROGRAMS."""
    rawlen, = struct.unpack_from("<I", rec, SAMPLE_FIXED - 4)
    ident, = struct.unpack_from("<H", rec, SAMPLE_FIXED)
    if ident not in stack_ids:
        return
    raw = SAMPLE_FIXED
    at = saved_format("sched_sched_process_exec").fields["filename"].offset
    loc, = struct.unpack_from("<I", rec, raw + at)
    fname = bytes(rec[raw + (loc & 0xffff):raw + (loc & 0xffff) +
                      (loc >> 16)]).rstrip(b"\0")
    tail = raw + rawlen
    abi, sp, size = struct.unpack_from("<QQQ", rec, tail)
    if abi == 0 or size == 0:
        return
    stack = tail + 24
    argc, = struct.unpack_from("<Q", rec, stack)
    ptrs, o = [], stack + 8
    while o + 8 <= stack + size and len(ptrs) < 4096:
        p, = struct.unpack_from("<Q", rec, o)
        ptrs.append(p)
        o += 8
        if p == 0 and len(ptrs) > argc + 1:
            break
    mine = os.path.basename(fname) in own
    for i, p in enumerate(ptrs):
        if p == 0 or not sp <= p < sp + size or (i < argc and mine):
            continue
        s = stack + (p - sp)
        e = rec.find(b"\0", s, stack + size)
        blank(rec, s, e if e >= 0 else stack + size)


def scrub_records(records, stack_ids):
    recs = bytearray(records)
    off = 0
    while off + 8 <= len(recs):
        rtype, _, size = struct.unpack_from("<IHH", recs, off)
        if size < 8:
            break
        if rtype == PERF_RECORD_SAMPLE:
            rec = recs[off:off + size]
            scrub_exec(rec, stack_ids, OWN_PROGRAMS)
            recs[off:off + size] = rec
        off += size
    return bytes(recs)


def records_of(payload):
    """A SampleBatch's records and where they are in the payload."""
    for number, value, start in pb_fields(payload):
        if number == 2:
            return value, start
    return b"", len(payload)


def scrub_samples(frame, stack_ids):
    payload = bytearray(frame[8:])
    records, start = records_of(bytes(payload))
    payload[start:start + len(records)] = scrub_records(records, stack_ids)
    return frame[:8] + bytes(payload)


def process_frames(frames):
    """Process events of OWN_PROGRAMS only (by pid, from their names)."""
    pids = set()
    for kind, frame in frames:
        if kind != "process":
            continue
        f = {n: v for n, v, _ in pb_fields(frame[8:])}
        if f.get(4) in OWN_PROGRAMS:
            pids.add(f.get(2))
    return [fr for kind, fr in frames if kind == "process" and
            {n: v for n, v, _ in pb_fields(fr[8:])}.get(2) in pids]


def frame_key(kind, frame):
    """What makes two frames of a kind worth a seed each."""
    f = {n: v for n, v, _ in pb_fields(frame[8:])}
    if kind in ("hello", "stats"):
        return f.get(2 if kind == "hello" else 1)    # the component
    if kind == "flow":
        return f.get(2), f.get(3)                   # family, transport
    if kind == "dns":
        return len(f.get(4, b"")), f.get(8)         # family, response
    if kind == "diag":
        return f.get(3), len(frame)                 # dump or not
    if kind == "cgroup":
        return f.get(2)
    return kind


def stack_ids_of(frames):
    """The events whose samples carry the user stack (FormatSet)."""
    ids = set()
    for kind, frame in frames:
        if kind != "formats":
            continue
        for n, v, _ in pb_fields(frame[8:]):
            f = {k: x for k, x, _ in pb_fields(v)} if n == 1 else {}
            if f.get(5):
                ids.add(f.get(1))
    return ids


def pick_real(frames, picked, shown):
    """Add to picked (name -> frame) the frames worth a seed that it
    does not have yet, scrubbed; shown: what kinds it has."""
    stack_ids = stack_ids_of(frames)
    by_kind = collections.defaultdict(list)
    for kind, frame in frames:
        by_kind[kind].append(frame)
    # Of each kind, the smallest of each sort, three at most.
    for kind in ("hello", "formats", "lost", "stats", "diag", "packets",
                 "netns", "flow", "dns", "cgroup"):
        for frame in sorted(by_kind[kind], key=len):
            key = (kind, frame_key(kind, frame))
            n = sum(1 for k in shown if k[0] == kind)
            if key in shown or n == 3 or len(frame) > MAX_SEED:
                continue
            shown.add(key)
            picked["%s_%d" % (kind, n + 1)] = frame
    for frame in process_frames(frames):
        key = ("process", pb_fields(frame[8:])[0][1])
        if key not in shown:
            shown.add(key)
            picked["process_%d" % key[1]] = frame
    # Sample batches: the fewest that show every kind of record.
    for frame in sorted(by_kind["samples"], key=len):
        if len(frame) > MAX_SEED:
            continue
        records, _ = records_of(frame[8:])
        kinds = {("record", k) for k in record_kinds(records)} or \
            {("record", "drained")}
        if kinds - shown:
            shown |= kinds
            n = sum(1 for k in picked if k.startswith("samples_"))
            picked["samples_%d" % (n + 1)] = \
                scrub_samples(frame, stack_ids)


def record_kinds(records):
    off = 0
    while off + 8 <= len(records):
        rtype, _, size = struct.unpack_from("<IHH", records, off)
        if size < 8:
            return
        if rtype == PERF_RECORD_SAMPLE:
            yield struct.unpack_from("<H", records, off + SAMPLE_FIXED)[0]
        else:
            yield -rtype
        off += size


def write_frame(out, picked):
    for seed_name, frame in picked.items():
        write(out, seed_name, frame)
    # Streams as a peer sends them: the start of each connection.
    probe = [f for n, f in picked.items() if n.split("_")[0] in (
        "hello", "formats", "netns", "diag", "samples", "lost")]
    agg = [f for n, f in picked.items() if n.split("_")[0] in (
        "flow", "process", "dns", "cgroup", "stats")]
    for seed_name, frames in (("stream_probe", probe),
                              ("stream_aggregator", agg)):
        data = b""
        for frame in frames:
            if len(data) + len(frame) <= MAX_SEED:
                data += frame
        write(out, seed_name, data)


def write_msg(out, picked):
    for seed_name, frame in picked.items():
        ftype, = struct.unpack_from(">H", frame, 6)
        write(out, seed_name, bytes([ftype]) + frame[8:])


def write_real_samples(out, picked):
    """Records of the real batches, one of each kind, for each decoder;
    the plain decoder's without what follows the raw data."""
    seen = set()
    for seed_name, frame in picked.items():
        if not seed_name.startswith("samples_"):
            continue
        records, _ = records_of(frame[8:])
        off = 0
        while off + 8 <= len(records):
            rtype, misc, size = struct.unpack_from("<IHH", records, off)
            rec = records[off:off + size]
            off += size
            kind = next(record_kinds(rec))
            if kind in seen:
                continue
            seen.add(kind)
            what = ("event%d" % kind) if kind >= 0 else ("record%d" % -kind)
            if rtype != PERF_RECORD_SAMPLE:
                write(out, "real_" + what, bytes([PLAIN]) + rec)
                continue
            write(out, "real_cgroup_" + what, bytes([CGROUP_STACK]) + rec)
            rawlen, = struct.unpack_from("<I", rec, SAMPLE_FIXED - 4)
            rec = struct.pack("<IHH", rtype, misc, SAMPLE_FIXED + rawlen) + \
                rec[8:SAMPLE_FIXED + rawlen]
            write(out, "real_plain_" + what, bytes([PLAIN]) + rec)


def write_real_diag(out, picked):
    for seed_name, frame in picked.items():
        if not seed_name.startswith("diag_"):
            continue
        datagrams = [v for n, v, _ in pb_fields(frame[8:]) if n == 1]
        for i, datagram in enumerate(datagrams):
            write(out, "real_%s_%d" % (seed_name, i + 1), datagram)


# ---- sock_diag, live (linux/inet_diag.h, linux/sock_diag.h)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_DONE = 3
INET_DIAG_INFO = 2
# Destroy notification groups: TCP and UDP, IPv4 and IPv6.
SKNLGRP_DESTROY = (1, 2, 3, 4)


def diag_messages(data):
    """(type, message) of each netlink message of a datagram."""
    off = 0
    while off + 16 <= len(data):
        length, mtype = struct.unpack_from("<IH", data, off)
        if length < 16 or off + length > len(data):
            return
        yield mtype, data[off:off + length]
        off += (length + 3) & ~3


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def ports_of(msg):
    return set(struct.unpack_from(">HH", msg, 16 + 4))


def diag_dump(family, proto, ports):
    """The kernel's answer to a dump of one family and protocol, only
    the messages of our own sockets kept, and the final DONE."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                      NETLINK_SOCK_DIAG)
    req = struct.pack("<BBBBI", family, proto, 1 << (INET_DIAG_INFO - 1),
                      0, 0xffffffff) + b"\0" * 48
    s.send(struct.pack("<IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY,
                       NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
    kept, done = b"", None
    while done is None:
        for mtype, msg in diag_messages(s.recv(65536)):
            if mtype == NLMSG_DONE:
                done = msg
            elif mtype == SOCK_DIAG_BY_FAMILY and ports_of(msg) & ports:
                kept += pad4(msg)
    s.close()
    return kept + done


def write_diag(out):
    listen = {}
    conns = []
    for family, host in ((socket.AF_INET, "127.0.0.1"),
                         (socket.AF_INET6, "::1")):
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.bind((host, 0))
        srv.listen(4)
        c = socket.create_connection((host, srv.getsockname()[1]))
        a, _ = srv.accept()
        c.sendall(b"x" * 3000)
        a.recv(65536)
        a.sendall(b"y" * 100)
        c.recv(65536)
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.bind((host, 0))
        u.connect((host, 9))
        listen[family] = srv
        conns += [c, a, u]
    ports = set()
    for s in list(listen.values()) + conns:
        ports.add(s.getsockname()[1])
    for family, proto, seed_name in (
            (socket.AF_INET, 6, "dump_tcp4"),
            (socket.AF_INET6, 6, "dump_tcp6"),
            (socket.AF_INET, 17, "dump_udp4"),
            (socket.AF_INET6, 17, "dump_udp6")):
        write(out, seed_name, diag_dump(family, proto, ports))
    # Destroy notifications, as the probe subscribes to them.
    try:
        n = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                          NETLINK_SOCK_DIAG)
        n.bind((0, sum(1 << (g - 1) for g in SKNLGRP_DESTROY)))
    except PermissionError:
        print("mkseeds: no destroy notifications without CAP_NET_ADMIN",
              file=sys.stderr)
        n = None
    for s in conns + list(listen.values()):
        s.close()
    if n is None:
        return
    n.settimeout(1)
    got = 0
    try:
        while got < 6:
            data = n.recv(65536)
            if any(mtype == SOCK_DIAG_BY_FAMILY and ports_of(msg) & ports
                   for mtype, msg in diag_messages(data)):
                got += 1
                write(out, "destroy_%d" % got, data)
    except socket.timeout:
        pass
    n.close()


# ---- esreply: real answers of tests/output/es_server.py

ES_SERVER = os.path.join(TOP, "tests", "output", "es_server.py")
ES_ACTION = b'{"create":{"_index":"sockflow"}}'

# Seed name: the server's options, then the documents of the request (a
# marker in a document picks its per-item answer) and the raw body to send
# instead of them when the request is to break the wire format.
ES_SEEDS = [
    ("success", [], ["a", "b", "c"], None),
    ("items_429_400", ["--retry-marker", "RETRYME",
                       "--reject-marker", "BADDOC"],
     ["a", "RETRYME", "b", "BADDOC", "c"], None),
    ("items_all_400", ["--reject-marker", "BADDOC"],
     ["BADDOC1", "BADDOC2"], None),
    ("whole_413", ["--max-docs", "2"], ["a", "b", "c", "d"], None),
    ("whole_503", ["--request-faults", "503"], ["a", "b"], None),
    ("whole_429", ["--request-faults", "429"], ["a", "b"], None),
    ("whole_401", ["--user", "elastic", "--password", "x"], ["a"], None),
    ("whole_400", [], ["a"], b'{"index":{}}\n{}\n'),
]


def es_answer(opts, docs, raw):
    """The status and body es_server.py answers to one request."""
    import http.client
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        srv = subprocess.Popen(
            [sys.executable, ES_SERVER, "--docs", os.path.join(tmp, "d"),
             "--violations", os.path.join(tmp, "v")] + opts,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            port = int(srv.stdout.readline())
            body = raw
            if body is None:
                body = b"".join(ES_ACTION + b"\n" +
                                ('{"marker":"%s"}' % d).encode() + b"\n"
                                for d in docs)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/_bulk", body,
                      {"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            answer = r.status, r.read()
            c.close()
            return answer
        finally:
            srv.terminate()
            srv.wait()


def write_esreply(out):
    """An input is the status (2 bytes, big-endian), the request's
    documents less one (1 byte) and the answer's body."""
    for seed_name, opts, docs, raw in ES_SEEDS:
        status, body = es_answer(opts, docs, raw)
        write(out, seed_name,
              struct.pack(">HB", status, len(docs) - 1) + body)
    # Not the server's: an item status no int holds, which a cast once
    # made a 200 (kept so that every run checks it again).
    write(out, "item_status_past_int", struct.pack(">HB", 200, 0) +
          b'{"items":[{"create":{"status":-4294967096}}]}')


# ---- main

DEFAULT = ("dns", "config", "tpformat", "sample", "esreply")
TARGETS = DEFAULT + ("frame", "msg", "diag")


def main():
    ap = argparse.ArgumentParser(
        description="Write the seed corpora of the fuzz targets.")
    ap.add_argument("--trace", action="append", default=[],
                    help="strace log of a sockflow run (real frames)")
    ap.add_argument("target", nargs="*",
                    help="of %s (default: %s)" % (" ".join(TARGETS),
                                                  " ".join(DEFAULT)))
    args = ap.parse_args()
    targets = args.target or list(DEFAULT)
    for target in targets:
        if target not in TARGETS:
            ap.error("%s: no such target" % target)
        if target in ("frame", "msg") and not args.trace:
            ap.error("%s: real frames need --trace" % target)
    picked, shown = collections.OrderedDict(), set()
    for path in args.trace:
        pick_real(trace_frames(path), picked, shown)
    for target in targets:
        out = os.path.join(HERE, "corpus", target)
        os.makedirs(out, exist_ok=True)
        if target == "dns":
            write_dns(out)
        elif target == "config":
            write_config(out)
        elif target == "tpformat":
            write_tpformat(out)
        elif target == "sample":
            write_sample(out)
            write_real_samples(out, picked)
        elif target == "frame":
            write_frame(out, picked)
        elif target == "msg":
            write_msg(out, picked)
        elif target == "esreply":
            write_esreply(out)
        elif target == "diag":
            write_diag(out)
            write_real_diag(out, picked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
