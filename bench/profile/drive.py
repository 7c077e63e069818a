#!/usr/bin/env python3
"""Drives an echo server with a fixed number of round trips, then exits.

    drive.py HOST:PORT [--connections 50] [--round-trips 2000]

Opens every connection first (each doing no I/O until all are open), then
runs closed-loop clients under one selector: each connection sends a
64-byte message, waits for the 64 bytes back, checks them and sends the
next, `--round-trips` times. The first 8 bytes of a message count that
connection's messages, so a stale or misplaced echo is caught. Prints the
round trips done and the time taken to stderr; exits non-zero on any
error or a wrong echo.
"""

import argparse
import selectors
import socket
import sys
import time

MESSAGE = 64


def message(conn, seq):
    head = seq.to_bytes(8, "little")
    return head + bytes((conn + seq + i) & 0xFF for i in range(MESSAGE - 8))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)

    sel = selectors.DefaultSelector()
    state = {}
    for conn in range(args.connections):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        # [connection, messages sent, expected echo, bytes received]
        state[sock] = [conn, 0, b"", bytearray()]

    def send_next(sock):
        st = state[sock]
        st[2] = message(st[0], st[1])
        st[1] += 1
        st[3].clear()
        sock.sendall(st[2])  # 64 bytes always fit an empty socket buffer

    start = time.monotonic()
    for sock in state:
        send_next(sock)
        sel.register(sock, selectors.EVENT_READ)
    open_conns = len(state)
    done = 0
    while open_conns:
        events = sel.select(timeout=30)
        if not events:
            sys.exit("no echo for 30 s")
        for key, _ in events:
            sock = key.fileobj
            st = state[sock]
            data = sock.recv(MESSAGE - len(st[3]))
            if not data:
                sys.exit(f"connection {st[0]}: closed by the server")
            st[3] += data
            if len(st[3]) < MESSAGE:
                continue
            if bytes(st[3]) != st[2]:
                sys.exit(f"connection {st[0]}: wrong echo of message {st[1] - 1}")
            done += 1
            if st[1] == args.round_trips:
                sel.unregister(sock)
                sock.close()
                open_conns -= 1
            else:
                send_next(sock)
    elapsed = time.monotonic() - start
    print(f"{done} round trips in {elapsed:.2f} s", file=sys.stderr)
    if done != args.connections * args.round_trips:
        sys.exit("some round trips are missing")


if __name__ == "__main__":
    main()
