#!/usr/bin/env python3
# A TCP server on PORT, IPv4 and IPv6, that reads each connection to its
# end. Runs until killed; prints "ready" once both sockets listen.
import socket
import sys
import threading

port = int(sys.argv[1])


def serve(s):
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()


socks = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(64)
    socks.append(s)
for s in socks[1:]:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
serve(socks[0])
