#!/usr/bin/env python3
"""Alternated A/B runs of Tangerine builds: the way to tell whether a change
costs or saves CPU on these shared, noisy machines, where only figures of the
same run compare.

    cargo build --release -p tangerine -p tangerine-bench
    cp target/release/tangerine /tmp/before     # ...change, build again...
    bench/ab.py --rounds 5 /tmp/before target/release/tangerine
    bench/ab.py --post /tmp/before "/tmp/before --post-limit 0"

Each build (a binary path, with extra flags after it in the same argument)
serves its own seeded SQLite copy with bench.py's settings; rounds alternate
the builds, forwards then backwards, and each round loads one with wrk
(bench.py's threads and connections, 8 s after a 2 s warm-up): the logged-in
homepage, or with --post the create-post run. Prints the server's CPU µs per
request and requests/s of every round, then the medians. Needs the release
`bench-seed` (bench/run.sh builds it) and wrk.
"""

import argparse
import shlex
import shutil
import statistics
import tempfile
import types
from pathlib import Path

import bench as B


def start(build, label, work, out):
    binary, *extra = shlex.split(build)
    (work / label).mkdir()
    db = B.Database("sqlite", work / label)
    B.seed(db)
    server = B.start_tangerine(db, out, label, binary=binary, extra=extra)
    client, _ = B.TANGERINE.log_in(server.base)
    server.cookie = f"Cookie: {client.cookie_header()}"
    server.create = B.TANGERINE.create_body(client)
    return server


def load(bench, server, post, duration):
    if post:
        form = "Content-Type: application/x-www-form-urlencoded"
        return bench.wrk(server, "create post", B.TANGERINE_CREATE_PATH, method="POST",
                         headers=[server.cookie, form], body=server.create, expect="3xx",
                         duration=duration, record=False)
    return bench.wrk(server, "home, logged in", "/", headers=[server.cookie], duration=duration, record=False)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("builds", nargs="+", help='a tangerine binary, optionally with flags: "PATH --flag value"')
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--post", action="store_true", help="load the create-post run instead of the homepage")
    p.add_argument("--duration", default="8s")
    args = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="tangerine-ab-out-"))
    work = Path(tempfile.mkdtemp(prefix="tangerine-ab-"))
    bench = B.Bench(types.SimpleNamespace(conns=32, duration=args.duration, threads=2), out)
    servers, results = [], {}
    try:
        for i, build in enumerate(args.builds):
            servers.append(start(build, f"build{i}", work, out))
            results[i] = []
        for r in range(args.rounds):
            order = range(len(servers)) if r % 2 == 0 else reversed(range(len(servers)))
            for i in order:
                load(bench, servers[i], args.post, "2s")
                row = load(bench, servers[i], args.post, args.duration)
                results[i].append(row)
                print(f"round {r + 1}  {args.builds[i]}: {row['cpu_us']:.1f} µs/req, {row['rps']:.0f}/s, "
                      f"{row['errors']} errors", flush=True)
        for i, build in enumerate(args.builds):
            cpu = statistics.median(row["cpu_us"] for row in results[i])
            rps = statistics.median(row["rps"] for row in results[i])
            print(f"median  {build}: {cpu:.1f} µs/req, {rps:.0f}/s")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
