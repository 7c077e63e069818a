#!/usr/bin/env python3
"""Drives a chat server for chat-callgrind.sh: the chat suite's load test, small.

    chat_drive.py HOST:PORT --clients C --messages M

Connects C clients, waits for the joins to settle, has every client send M
lines at once, and reads until every client has seen the (C - 1) * M lines
of the others (`<nick> text`). Exits non-zero if that does not happen
within the time limit. One selector, no threads: the server under
callgrind is the slow side, never this.
"""

import argparse
import selectors
import socket
import sys
import time

LIMIT_S = 600


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)

    selector = selectors.DefaultSelector()
    clients = []
    for i in range(args.clients):
        sock = socket.create_connection((host, int(port)))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
        clients.append(sock)
    seen = [0] * args.clients
    partial = [b""] * args.clients

    def pump(timeout):
        """Reads what is ready; counts message lines. Returns the events."""
        events = selector.select(timeout)
        for key, _ in events:
            i = key.data
            try:
                data = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            if not data:
                sys.exit(f"client {i}: the server closed the connection")
            lines = (partial[i] + data).split(b"\n")
            partial[i] = lines.pop()
            seen[i] += sum(1 for line in lines if line.startswith(b"<"))
        return len(events)

    # Greetings and joins, until the server goes quiet.
    settle = time.monotonic() + 5
    while time.monotonic() < settle and pump(0.2):
        pass
    for i, sock in enumerate(clients):
        lines = b"".join(b"message %d from %d\n" % (j, i) for j in range(args.messages))
        sock.setblocking(True)
        sock.sendall(lines)
        sock.setblocking(False)
    want = (args.clients - 1) * args.messages
    deadline = time.monotonic() + LIMIT_S
    while min(seen) < want:
        if time.monotonic() > deadline:
            sys.exit(f"timed out: a client saw {min(seen)} of {want} lines")
        pump(1)
    print(f"{args.clients} clients x {args.messages} messages: every client saw {want} lines")


if __name__ == "__main__":
    main()
