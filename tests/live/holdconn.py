#!/usr/bin/env python3
"""A TCP connection held open: a server thread and a client in one
process, the client sending a little every 0.5 s for SECONDS seconds.
Prints: proto=tcp client_port=P port=Q pid=S
Usage: holdconn.py ADDR PORT SECONDS"""
import os
import socket
import sys
import threading
import time

addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
lst = socket.socket(fam, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind((addr, port))
lst.listen(1)


def serve():
    conn, _ = lst.accept()
    while conn.recv(4096):
        pass
    conn.close()


th = threading.Thread(target=serve)
th.start()
c = socket.create_connection((addr, port))
end = time.time() + secs
while time.time() < end:
    c.sendall(b"k" * 10)
    time.sleep(0.5)
cport = c.getsockname()[1]
c.close()
th.join()
print(f"proto=tcp client_port={cport} port={port} pid={os.getpid()}")
