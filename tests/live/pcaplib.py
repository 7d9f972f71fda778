"""What the capture checkers share: a small reader of tcpdump's pcap files
and the Community ID computed from its specification, so that neither the
capture nor the ID depends on sockflow's own code."""
import base64
import collections
import hashlib
import ipaddress
import struct
import sys

# One captured TCP or UDP packet; length is the IP-level length (the IP
# header's own figure, so a short snap length does not change it) and ts
# the capture time in seconds.
Packet = collections.namedtuple(
    "Packet", "src sport dst dport proto length ts")


def packets(path):
    """Yield a Packet for each TCP or UDP packet over IPv4 or IPv6."""
    for p, _ in _read(path):
        yield p


def _read(path):
    """Each packet with what tells two captures' copies of it apart from
    another packet: the addresses, the IP length, the transport header
    with a little payload (TCP sequence and acknowledgement numbers and
    flags; UDP length and the first payload bytes) and IPv4's
    identification."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    # The nanosecond variants put nanoseconds where microseconds are.
    frac = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
    linktype = struct.unpack(end + "I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20}.get(linktype)
    if l2 is None:
        sys.exit(f"{path}: unsupported link type {linktype}")
    off = 24
    while off + 16 <= len(data):
        sec, sub, incl = struct.unpack(end + "III", data[off:off + 12])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[l2:]
        if not ip:
            continue
        ver = ip[0] >> 4
        if ver == 4:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            proto = ip[9]
            src, dst = ip[12:16], ip[16:20]
            l4 = ip[ihl:]
        elif ver == 6:
            total = 40 + struct.unpack(">H", ip[4:6])[0]
            proto = ip[6]
            src, dst = ip[8:24], ip[24:40]
            l4 = ip[40:]
        else:
            continue
        if proto not in (6, 17) or len(l4) < 4:
            continue
        sport, dport = struct.unpack(">HH", l4[:4])
        p = Packet(str(ipaddress.ip_address(src)), sport,
                   str(ipaddress.ip_address(dst)), dport, proto, total,
                   sec + sub * frac)
        yield p, (src, dst, proto, total, bytes(l4[:40]),
                  ip[4:6] if ver == 4 else b"")


def union(paths):
    """The packets of several captures of one link (its two ends, say),
    each packet once: one capture may miss a packet another holds (a
    capture under heavy emulation can lose some without counting them).
    A packet seen n times in one capture counts n times."""
    best = collections.OrderedDict()
    for path in paths:
        seen = collections.Counter()
        for p, k in _read(path):
            seen[k] += 1
            have = best.setdefault(k, [])
            if len(have) < seen[k]:
                have.append(p)
    return [p for ps in best.values() for p in ps]


def community_id(sip, sport, dip, dport, proto):
    """Community ID v1, seed 0."""
    a, b = ipaddress.ip_address(sip).packed, ipaddress.ip_address(dip).packed
    if (a, sport) > (b, dport):
        a, b, sport, dport = b, a, dport, sport
    h = hashlib.sha1(b"\0\0" + a + b + bytes([proto, 0]) +
                     sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))
    return "1:" + base64.b64encode(h.digest()).decode()
