#!/usr/bin/env python3
"""A visit counter per session, to show where session state may live behind a balancer.

SESSION_STORE=memory keeps the counters in this process: a request that lands on another replica
starts over at 1, so the app needs sticky sessions. SESSION_STORE=redis keeps them in Redis
(REDIS_ADDR, host:port): every replica sees the same count, so plain round robin is enough.
Every reply names the replica: `session 3f2a... visits 4 on 9c1e2d (store redis)`.
Standard library only; the Redis client is the few lines of RESP that INCR and EXPIRE need.
"""
import http.server
import os
import secrets
import signal
import socket
import sys
import threading

SESSION_TTL_SECONDS = 3600


class MemoryStore:
    def __init__(self):
        self.counts = {}
        self.lock = threading.Lock()  # one thread per connection

    def increment(self, session):
        with self.lock:
            self.counts[session] = self.counts.get(session, 0) + 1
            return self.counts[session]


class RedisStore:
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))

    def increment(self, session):
        # One short connection per request: no pool to guard across handler threads.
        with socket.create_connection(self.address, timeout=2) as connection:
            key = f"session:{session}"
            connection.sendall(command("INCR", key) + command("EXPIRE", key, SESSION_TTL_SECONDS))
            replies = connection.makefile("rb")
            count = read_integer(replies)
            read_integer(replies)
            return count


def command(*words):
    """A RESP array of bulk strings: *2\\r\\n$4\\r\\nINCR\\r\\n$9\\r\\nsession:x\\r\\n"""
    parts = [str(word).encode() for word in words]
    return b"".join([f"*{len(parts)}\r\n".encode()] +
                    [b"$%d\r\n%s\r\n" % (len(part), part) for part in parts])


def read_integer(replies):
    line = replies.readline().rstrip(b"\r\n")
    if not line.startswith(b":"):
        raise RuntimeError(f"redis answered {line!r}")
    return int(line[1:])


def session_cookie(header):
    for pair in (header or "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == "sid" and value:
            return value
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a browser would use it

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply("ok\n")
        session = session_cookie(self.headers.get("Cookie")) or secrets.token_hex(8)
        try:
            visits = self.server.store.increment(session)
        except (OSError, RuntimeError) as error:
            return self.reply(f"session store unavailable: {error}\n", status=503)
        self.reply(f"session {session} visits {visits} on {socket.gethostname()} "
                   f"(store {self.server.store_name})\n",
                   cookie=f"sid={session}; Path=/; HttpOnly; SameSite=Lax")

    def reply(self, body, status=200, cookie=None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # corral's access log already records every connection


def main():
    store_name = os.environ.get("SESSION_STORE", "memory")
    server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.store_name = store_name
    server.store = RedisStore(os.environ.get("REDIS_ADDR", "redis:6379")) if store_name == "redis" else MemoryStore()
    # As PID 1 in a container nobody else turns SIGTERM into an exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"session app ({store_name} store) on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
