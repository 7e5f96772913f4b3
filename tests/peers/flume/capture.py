#!/usr/bin/env python3
"""Relays one TCP connection and keeps both directions' bytes, to capture protocol fixtures.

    capture.py LISTEN_PORT TARGET_PORT OUT_PREFIX

Accepts connections on 127.0.0.1:LISTEN_PORT, relays each to 127.0.0.1:TARGET_PORT, and writes
what the client sent to OUT_PREFIX-N.request and what the server answered to
OUT_PREFIX-N.response (N counts connections from 1). Stops with SIGTERM or Ctrl-C.
"""
import socket
import sys
import threading


def pump(src, dst, out):
    with open(out, "wb") as f:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            f.write(data)
            f.flush()
            try:
                dst.sendall(data)
            except OSError:
                break
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen, target, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen))
    server.listen()
    n = 0
    while True:
        client, _ = server.accept()
        n += 1
        upstream = socket.create_connection(("127.0.0.1", target))
        base = f"{prefix}-{n}"
        threading.Thread(target=pump, args=(client, upstream, base + ".request"), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, base + ".response"), daemon=True).start()


if __name__ == "__main__":
    main()
