#!/usr/bin/env python3
"""A UDP exchange that lasts: a client sends one datagram of N bytes
every 0.2 s for SECONDS seconds from one connected socket, a server in
the same process answers each with 2N bytes. Prints, when done:
  proto=udp client_port=P port=Q sent=K
and then keeps both sockets open, silent, for HOLD seconds (default 0).
Usage: udpslow.py ADDR PORT N SECONDS [HOLD]"""
import socket
import sys
import time

addr, port, n, secs = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                       float(sys.argv[4]))
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 0
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_DGRAM)
srv.bind((addr, port))
c = socket.socket(fam, socket.SOCK_DGRAM)
c.connect((addr, port))
c.settimeout(5)
srv.settimeout(5)
sent = 0
end = time.time() + secs
while time.time() < end:
    c.send(b"u" * n)
    data, peer = srv.recvfrom(65536)
    srv.sendto(data * 2, peer)
    if len(c.recv(65536)) != 2 * n:
        sys.exit(1)
    sent += 1
    time.sleep(0.2)
print("proto=udp client_port=%d port=%d sent=%d" %
      (c.getsockname()[1], port, sent), flush=True)
time.sleep(hold)
