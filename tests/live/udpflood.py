#!/usr/bin/env python3
# A flood of small UDP datagrams on loopback for tests/live/load.sh: a
# receiver reads them (in a thread), a sender sends N datagrams of SIZE
# bytes as fast as it can, unconnected, from one socket. Prints
#	sent=N received=R sport=P
# usage: udpflood.py PORT N SIZE
import socket
import sys
import threading
import time

port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
rx.bind(("127.0.0.1", port))
rx.settimeout(1.0)
got = [0]


def drain():
    while True:
        try:
            rx.recv(65536)
            got[0] += 1
        except socket.timeout:
            return


t = threading.Thread(target=drain)
t.start()
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"u" * size
dst = ("127.0.0.1", port)
for i in range(n):
    tx.sendto(payload, dst)
sport = tx.getsockname()[1]
t.join()
print("sent=%d received=%d sport=%d" % (n, got[0], sport))
