#!/usr/bin/env python3
"""Slow readers: how much memory a server holds while clients ask for its
largest page and never read the answer.

Starts BIN on a fresh SQLite database, signs one person up, writes POSTS
posts of the attacker's favourite body (`>` x 9,999), then opens STALLERS
connections that each send `GET PATH` and never read. It samples the
server's resident memory (/proc/PID/status) every 100 ms for SECONDS and
prints the resident memory before, the peak, the memory at the end, and
how many of the stalled connections the server had closed by then.

    bench/stall.py --bin target/release/tangerine [--posts 100] [--stallers 20]
                   [--path '/api/posts?limit=100'] [--seconds 40] [-- EXTRA FLAGS]
"""

import argparse
import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--posts", type=int, default=100)
    p.add_argument("--stallers", type=int, default=20)
    p.add_argument("--path", default="/api/posts?limit=100")
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("extra", nargs="*")
    a = p.parse_args()

    work = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [a.bin, "--addr", f"127.0.0.1:{port}", "--database-url", f"sqlite://{work}/stall.db", *a.extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz").read()
                break
            except OSError:
                time.sleep(0.1)
        jar = http.cookiejar.CookieJar()
        web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def send(method, path, body=None, token=None):
            req = urllib.request.Request(base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
            if token:
                req.add_header("X-CSRF-Token", token)
            return json.loads(web.open(req).read() or b"null")

        who = {"username": "mallory", "password": "correct horse battery staple"}
        send("POST", "/api/users", who)
        send("POST", "/api/session", who)
        token = send("GET", "/api/session/csrf")["token"]
        made = 0
        for i in range(a.posts):
            try:
                send("POST", "/api/posts", {"title": f"Deep {i}", "body": ">" * 9999}, token)
                made += 1
            except urllib.error.HTTPError as e:
                print(f"post {i}: {e.code}", file=sys.stderr)
        page = urllib.request.urlopen(base + a.path).read()
        time.sleep(1)
        before = rss_kib(server.pid)

        stalled = []
        for _ in range(a.stallers):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET {a.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            stalled.append(s)
        peak, started = before, time.time()
        while time.time() - started < a.seconds:
            peak = max(peak, rss_kib(server.pid))
            time.sleep(0.1)
        end = rss_kib(server.pid)
        closed = 0
        for s in stalled:
            s.setblocking(False)
            try:
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        closed += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print(f"posts written: {made}; {a.path}: {len(page)} bytes")
        print(f"resident before: {before / 1024:.1f} MiB; peak with {a.stallers} stalled readers: "
              f"{peak / 1024:.1f} MiB; after {a.seconds:.0f} s: {end / 1024:.1f} MiB; "
              f"stalled connections closed by the server: {closed}/{a.stallers}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
