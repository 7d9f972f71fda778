#!/usr/bin/env python3
"""Ground truth for the live UDP test: a server process answers K
datagrams of N bytes with 2N bytes each, a client process sends them from
an unbound, unconnected socket (or a connected one with "connected"), and
the program prints what it knows, in the form checkflows.py reads:
  proto=udp server_pid=S client_pid=C client_port=P addr=A port=Q bytes=N count=K mode=M
Usage: udpflow.py ADDR PORT N K unconnected|connected"""
import os
import socket
import sys

addr, port, n, k, mode = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                          int(sys.argv[4]), sys.argv[5])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_DGRAM)
srv.bind((addr, port))
r, w = os.pipe()
spid = os.fork()
if spid == 0:
    os.close(r)
    for _ in range(k):
        data, peer = srv.recvfrom(65536)
        srv.sendto(data * 2, peer)
    os._exit(0)
srv.close()
cpid = os.fork()
if cpid == 0:
    os.close(r)
    c = socket.socket(fam, socket.SOCK_DGRAM)
    c.settimeout(5)
    if mode == "connected":
        c.connect((addr, port))
    for _ in range(k):
        if mode == "connected":
            c.send(b"u" * n)
        else:
            c.sendto(b"u" * n, (addr, port))
        if len(c.recv(65536)) != 2 * n:
            os._exit(1)
    os.write(w, str(c.getsockname()[1]).encode())
    os._exit(0)
os.close(w)
cport = os.read(r, 16).decode()
for pid in (spid, cpid):
    _, st = os.waitpid(pid, 0)
    if st != 0:
        sys.exit("a side failed")
print(f"proto=udp server_pid={spid} client_pid={cpid} client_port={cport} "
      f"addr={addr} port={port} bytes={n} count={k} mode={mode}")
