#!/usr/bin/env python3
# DNS workload client: resolve NAME with getaddrinfo (glibc, as any
# program would), optionally wait, connect over TCP from a fixed source
# address (so that the source differs from the destination), send, close.
# Prints one line: "pid local_port remote_ip".
# usage: dnsclient.py NAME|IP 4|6 PORT [DELAY_S]
import os
import socket
import sys
import time

name, fam, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
f = socket.AF_INET6 if fam == "6" else socket.AF_INET
addr = socket.getaddrinfo(name, port, f, socket.SOCK_STREAM)[0][4]
time.sleep(delay)
s = socket.socket(f, socket.SOCK_STREAM)
s.bind(("::1" if fam == "6" else "127.0.0.1", 0))
s.settimeout(5)
s.connect(addr)
s.sendall(b"x" * 100)
local_port = s.getsockname()[1]
s.close()
print(os.getpid(), local_port, addr[0])
