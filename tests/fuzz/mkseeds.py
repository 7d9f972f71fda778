#!/usr/bin/env python3
"""Write the seed corpus of the DNS parser's fuzz target.

Each seed is one DNS message (RFC 1035 wire format) of a kind the parser
must handle: a query, answers A and AAAA, a CNAME chain in no order, and
names compressed every way a server does it. The fuzzer starts from these
rather than from nothing so that it reaches the answer walk at once. The
files are committed; run this again only to change them:

    python3 tests/fuzz/mkseeds.py [DIR]    (default: corpus/dns beside it)
"""

import ipaddress
import os
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


SEEDS = {
    "query": seed_query,
    "a": seed_a,
    "aaaa": seed_aaaa,
    "cname_chain": seed_cname_chain,
    "compressed": seed_compressed,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(here, "corpus", "dns")
    os.makedirs(out, exist_ok=True)
    for seed_name, make in SEEDS.items():
        with open(os.path.join(out, seed_name), "wb") as f:
            f.write(make())
    return 0


if __name__ == "__main__":
    sys.exit(main())
