#!/usr/bin/env python3
"""Tangerine's load benchmark: Tangerine, its peers and a bare poem handler,
loaded by wrk with the same settings in one run, reported as a table and as
ratios (these machines are shared and noisy: only ratios of one run count).

Run it through bench/run.sh, which builds what it needs first.
Standard library only.
"""

import argparse
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RELEASE = ROOT / "target" / "release"
PEERS = ROOT.parent / "shared" / "peers"
USER, PASSWORD = "alice", "correct-horse-battery"
# Tangerine's login runs log in as someone else: logins beyond a person's
# session limit (50) end their least recently used sessions, which would
# include the one the page views use.
LOGIN_USER = "bob"
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


# ---------------------------------------------------------------- processes

def tree_pids(root):
    """root and all its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_kib(root):
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class PeakRss:
    """Samples a process tree's resident memory every 50 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self.peak = rss_kib(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mib(self):
        return self.peak / 1024


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(root):
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def drain(pid, timeout=60):
    """Waits until the server has worked off what wrk left in flight."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        a = cpu_ticks(pid)
        time.sleep(0.5)
        if cpu_ticks(pid) - a < 5:
            return


class Server:
    def __init__(self, name, argv, base, env=None, cwd=None, log_path=None):
        self.name, self.base = name, base
        self.log = open(log_path or os.devnull, "w")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(base + "/")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- HTTP clients

class TokenParser(html.parser.HTMLParser):
    def __init__(self, field):
        super().__init__()
        self.field, self.token = field, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") == self.field and self.token is None:
            self.token = a.get("value")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """A browser-like client: a cookie jar, redirects not followed."""

    def __init__(self, base):
        self.base, self.jar = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def token(self, path, field):
        status, page = self.request(path)
        parser = TokenParser(field)
        parser.feed(page)
        if not parser.token:
            raise RuntimeError(f"no {field} on {path} ({status})")
        return parser.token

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class Site:
    """How to drive one server: its routes and form fields."""

    def __init__(self, login, create, csrf_field, create_fields, marker):
        self.login, self.create, self.csrf_field = login, create, csrf_field
        self.create_fields, self.marker = create_fields, marker

    def log_in(self, base, remember=True):
        client = Client(base)
        token = client.token(self.login, self.csrf_field)
        form = {"username": USER, "password": PASSWORD, self.csrf_field: token}
        if remember:
            form["remember"] = "on"
        status, _ = client.request(self.login, form)
        if status // 100 != 3:
            raise RuntimeError(f"login at {base} answered {status}")
        status, home = client.request("/")
        if self.marker not in home:
            raise RuntimeError(f"the homepage at {base} does not say {self.marker!r}")
        return client, home

    def anonymous_login_form(self, base, user=USER):
        client = Client(base)
        token = client.token(self.login, self.csrf_field)
        body = urllib.parse.urlencode({"username": user, "password": PASSWORD, self.csrf_field: token, "remember": "on"})
        return client.cookie_header(), body

    def create_body(self, client):
        token = client.token(self.create, self.csrf_field)
        fields = dict(self.create_fields)
        fields[self.csrf_field] = token
        return urllib.parse.urlencode(fields).replace("UNIQUE", "{n}")


TANGERINE = Site("/login", "/posts/new", "csrf_token", {"title": "Bench post UNIQUE", "body": "Load test post UNIQUE with *some* text."}, "Welcome, alice")
PEER = Site("/login/", "/create-post/", "csrfmiddlewaretoken", {"body": "Load test post UNIQUE"}, "Welcome, alice")
TANGERINE_CREATE_PATH = "/posts"


# ---------------------------------------------------------------- wrk

class Bench:
    def __init__(self, args, out_dir):
        self.args, self.out_dir = args, out_dir
        self.rows = []  # dicts: system, scenario, conns, rps, p50, p99, errors, mib

    def wrk(self, server, name, path, conns=None, method="GET", headers=(), body="", expect="",
            duration=None, record=True):
        conns = conns or self.args.conns
        duration = duration or self.args.duration
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        result_file = self.out_dir / f"{server.name}-{slug}.result"
        env = {
            **os.environ,
            "BENCH_METHOD": method,
            "BENCH_HEADERS": "\n".join(headers),
            "BENCH_BODY": body,
            "BENCH_EXPECT": expect,
            "BENCH_OUT": str(result_file),
        }
        argv = ["wrk", f"-t{self.args.threads}", f"-c{conns}", f"-d{duration}", "--timeout", "10s",
                "-s", str(HERE / "wrk.lua"), server.base + path]
        log(f"   {server.name:<16} {name:<26} wrk -c{conns} -d{duration} {method} {path}")
        peak = PeakRss(server.pid)
        ticks = cpu_ticks(server.pid)
        with peak:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                           timeout=self._seconds(duration) + 60)
        ticks = cpu_ticks(server.pid) - ticks
        end_mib = rss_kib(server.pid) / 1024
        drain(server.pid)
        fields = dict(kv.split("=") for kv in result_file.read_text().split())
        requests = int(fields["requests"])
        row = {
            "system": server.name,
            "scenario": name,
            "conns": conns,
            "requests": requests,
            # The server's CPU time (all its threads and processes) per answer:
            # far steadier than req/s when wrk and the server share the cores.
            "cpu_us": ticks / CLOCK_TICKS * 1e6 / requests if requests else 0.0,
            "rps": float(fields["rps"]),
            "p50": float(fields["p50_ms"]),
            "p99": float(fields["p99_ms"]),
            "errors": int(fields["status_err"]) + int(fields["unexpected"]) + int(fields["socket_err"]),
            "unexpected": int(fields["unexpected"]),
            "mib": peak.mib,
            "end_mib": end_mib,
        }
        if record:
            self.rows.append(row)
        return row

    @staticmethod
    def _seconds(duration):
        m = re.fullmatch(r"(\d+)([sm]?)", duration)
        return int(m.group(1)) * (60 if m.group(2) == "m" else 1)

    def find(self, system, scenario):
        return next((r for r in self.rows if r["system"] == system and r["scenario"] == scenario), None)


# ---------------------------------------------------------------- databases

class Database:
    def __init__(self, kind, work):
        self.kind = kind
        if kind == "sqlite":
            self.path = work / "bench.db"
            self.url = f"sqlite://{self.path}"
        else:
            self.name = f"tangerine_bench_{os.getpid()}_{int(time.time())}"
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", self.name], check=True)
            self.url = f"{PG_ADMIN}/{self.name}"

    def scalar(self, sql):
        if self.kind == "sqlite":
            with sqlite3.connect(self.path, timeout=30) as db:
                return db.execute(sql).fetchone()[0]
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.name, "-Atc", sql],
                             check=True, capture_output=True, text=True).stdout.strip()
        return int(out) if out.lstrip("-").isdigit() else out

    def writes(self):
        """Rows inserted, updated and deleted so far (PostgreSQL's own count)."""
        if self.kind != "postgres":
            return None
        return self.scalar("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")

    def drop(self):
        if self.kind == "postgres":
            subprocess.run(["dropdb", "--force", "-h", "127.0.0.1", "-U", "postgres", self.name], check=False)


SHORT_POSTS = False


def seed(db, posts=200, sessions=0, expired=0):
    argv = [str(RELEASE / "bench-seed"), "--database-url", db.url, "--posts", str(posts),
            "--sessions", str(sessions), "--expired-sessions", str(expired), "--password", PASSWORD]
    if SHORT_POSTS:
        argv.append("--short-posts")
    t = time.time()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    log(f"   seeded {db.kind}: {posts} posts, +{sessions} live, +{expired} expired sessions ({time.time() - t:.0f}s)")


def start_tangerine(db, out_dir, label, binary=None, extra=()):
    """Tangerine on `db`: the release build, or `binary`, with flags `extra`
    added (one given there replaces the bench's own)."""
    port = free_port()
    # The login runs send one person's right password from 8 connections at
    # once: under the default limits all but 5 of those in flight would get
    # 429 without hashing (a slot is held while a password is checked).
    # Limits far above the load keep the throttle's statements in the path
    # while every login is hashed.
    # The same for posting: one account writes every post of the create runs.
    limits = {"--signup-limit": "0", "--login-max-failures": "1000000",
              "--login-max-failures-per-address": "1000000", "--post-limit": "4000000000/10m"}
    flags = [part for flag, value in limits.items() if flag not in extra for part in (flag, value)]
    return Server(label, [str(binary or RELEASE / "tangerine"), "--addr", f"127.0.0.1:{port}",
                          "--database-url", db.url, *flags, *extra],
                  f"http://127.0.0.1:{port}", env={"RUST_LOG": "warn"}, log_path=out_dir / f"{label}.log")


# ---------------------------------------------------------------- the runs

def run_tangerine(bench, kind, work, out_dir):
    """Every scenario against Tangerine on one database."""
    label = f"tangerine-{kind}"
    log(f"== {label}")
    (work / kind).mkdir(exist_ok=True)
    db = Database(kind, work / kind)
    seed(db)
    server = start_tangerine(db, out_dir, label)
    try:
        server.idle_mib = rss_kib(server.pid) / 1024
        client, home = TANGERINE.log_in(server.base)
        (out_dir / f"{label}-home.html").write_text(home)
        cookie = f"Cookie: {client.cookie_header()}"
        assert home.count('<article id="post-') == 20, "the homepage shows 20 posts"

        # Untimed warm-up: caches fill (and the login's hashing memory is
        # handed back) before anything is measured.
        bench.wrk(server, "warm-up", "/", headers=[cookie], duration="3s", record=False)
        writes_before = db.writes()
        session_before = db.scalar("SELECT max(last_seen_at) FROM sessions")
        bench.wrk(server, "home, logged in", "/", headers=[cookie])
        bench.wrk(server, "home, anonymous", "/")
        bench.wrk(server, "feed fragment (htmx)", "/", headers=[cookie, "HX-Request: true"])
        bench.wrk(server, "GET /api/posts", "/api/posts")
        session_after = db.scalar("SELECT max(last_seen_at) FROM sessions")
        writes_after = db.writes()
        server.page_writes = None if writes_before is None else writes_after - writes_before
        server.session_touched = session_before != session_after

        create = TANGERINE.create_body(client)
        form = "Content-Type: application/x-www-form-urlencoded"
        for conns in (bench.args.conns, 64):
            before = db.scalar("SELECT count(*) FROM posts")
            row = bench.wrk(server, f"create post ({conns} writers)", TANGERINE_CREATE_PATH, conns=conns,
                            method="POST", headers=[cookie, form], body=create, expect="3xx")
            after = db.scalar("SELECT count(*) FROM posts")
            ok = row["requests"] - row["unexpected"]
            row["lost"] = max(0, ok - (after - before))
            row["note"] = f"rows +{after - before} for {ok} 3xx answers"

        anon_cookie, login_body = TANGERINE.anonymous_login_form(server.base, LOGIN_USER)
        login_headers = [f"Cookie: {anon_cookie}", form]
        bench.wrk(server, "login (argon2)", "/login", conns=8, method="POST", headers=login_headers,
                  body=login_body, expect="3xx")

        # Page views while logins hammer the server.
        storm = threading.Thread(target=lambda: bench.wrk(
            server, "login storm (alongside)", "/login", conns=8, method="POST", headers=login_headers,
            body=login_body, expect="3xx", record=False))
        storm.start()
        time.sleep(1)
        stormy = bench.wrk(server, "home during login storm", "/", headers=[cookie])
        storm.join()
        status, page = client.request("/")
        if TANGERINE.marker not in page:
            raise RuntimeError(f"the page views' session did not outlive the login runs ({status})")
        quiet = bench.find(label, "home, logged in")
        stormy["note"] = (f"p99 x{stormy['p99'] / quiet['p99']:.2f} of the quiet homepage; "
                          "its CPU us/req counts the logins' hashing too")
        server.storm = stormy
        return server, home
    finally:
        server.stop()
        db.drop()


def run_bare(bench, page_html, out_dir):
    log("== bare poem handler")
    page = out_dir / "bare-page.html"
    page.write_text(page_html)
    port = free_port()
    server = Server("bare-poem", [str(RELEASE / "bench-bare"), str(page), f"127.0.0.1:{port}"],
                    f"http://127.0.0.1:{port}", log_path=out_dir / "bare.log")
    try:
        bench.wrk(server, "home, logged in", "/")
    finally:
        server.stop()


def run_peer(bench, name, out_dir):
    log(f"== peer: {name}")
    folder = PEERS / name
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix=f"peer-{name}-"))
    shutil.copytree(folder, work / name, symlinks=True,
                    ignore=shutil.ignore_patterns("target", "results*", "*.db", "db.sqlite3*"))
    peer_dir = work / name
    if name == "axum":
        # serve.sh builds into its own folder's target/: keep that build
        # under ours, so that only the first run pays for it.
        build = ROOT / "target" / "peer-axum"
        build.mkdir(parents=True, exist_ok=True)
        (peer_dir / "target").symlink_to(build)
        # Built here, with no time limit, rather than by serve.sh while the
        # start-up wait runs: on a fresh machine the build takes minutes.
        log("   building the axum peer (cargo build --release; quick once built)")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=peer_dir,
                       env={**os.environ, "CARGO_TARGET_DIR": str(peer_dir / "target")}, check=True)
        env = {"PORT": str(port), "FRESH": "1"}
        count = lambda: sqlite3.connect(peer_dir / "app.db").execute("select count(*) from posts").fetchone()[0]
    else:
        # One virtualenv for every run, kept under target/.
        venv = ROOT / "target" / "peer-django-venv"
        if not (venv / "bin" / "gunicorn").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "django", "gunicorn", "argon2-cffi"],
                           check=True)
        (peer_dir / ".venv").unlink(missing_ok=True)
        (peer_dir / ".venv").symlink_to(venv)
        env = {"PORT": str(port), "FRESH": "1"}
        count = lambda: sqlite3.connect(peer_dir / "db.sqlite3").execute("select count(*) from blog_post").fetchone()[0]
    server = Server(name, ["bash", str(peer_dir / "serve.sh")], f"http://127.0.0.1:{port}", env=env,
                    cwd=peer_dir, log_path=out_dir / f"{name}.log")
    try:
        time.sleep(2)
        server.idle_mib = rss_kib(server.pid) / 1024
        client, _ = PEER.log_in(server.base)
        cookie = f"Cookie: {client.cookie_header()}"
        form = "Content-Type: application/x-www-form-urlencoded"
        bench.wrk(server, "warm-up", "/", headers=[cookie], duration="3s", record=False)
        bench.wrk(server, "home, logged in", "/", headers=[cookie])
        bench.wrk(server, "home, anonymous", "/")
        create = PEER.create_body(client)
        before = count()
        row = bench.wrk(server, f"create post ({bench.args.conns} writers)", PEER.create, method="POST",
                        headers=[cookie, form], body=create, expect="3xx")
        after = count()
        ok = row["requests"] - row["unexpected"]
        row["lost"] = max(0, ok - (after - before))
        row["note"] = f"rows +{after - before} for {ok} 3xx answers"
        anon_cookie, login_body = PEER.anonymous_login_form(server.base)
        bench.wrk(server, "login (argon2)", PEER.login, conns=8, method="POST",
                  headers=[f"Cookie: {anon_cookie}", form], body=login_body, expect="3xx")
        return server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_scale(bench, kind, work, out_dir):
    """The homepage's p99 with 1,000 and with 1,000,000 sessions, then while
    clear-sessions purges 500,000 expired rows."""
    label = f"scale-{kind}"
    log(f"== {label}")
    (work / label).mkdir(exist_ok=True)
    db = Database(kind, work / label)
    seed(db, posts=200, sessions=1000)
    results = {}
    try:
        for total in (1_000, 1_000_000):
            if total > 1_000:
                seed_more(db, sessions=total - 1_000)
            server = start_tangerine(db, out_dir, label)
            try:
                client, _ = TANGERINE.log_in(server.base)
                rows = db.scalar("SELECT count(*) FROM sessions")
                results[total] = bench.wrk(server, f"home, {rows:,} sessions", "/",
                                           headers=[f"Cookie: {client.cookie_header()}"])
            finally:
                server.stop()
        seed_more(db, expired=500_000)
        server = start_tangerine(db, out_dir, label)
        try:
            client, _ = TANGERINE.log_in(server.base)
            cookie = f"Cookie: {client.cookie_header()}"
            baseline = bench.wrk(server, "home, before the purge", "/", headers=[cookie])
            purge = {}

            def clear():
                time.sleep(1)
                t = time.time()
                out = subprocess.run([str(RELEASE / "tangerine"), "clear-sessions", "--database-url", db.url],
                                     capture_output=True, text=True, check=True)
                purge["deleted"], purge["seconds"] = int(out.stdout.strip()), time.time() - t

            purger = threading.Thread(target=clear)
            purger.start()
            during = bench.wrk(server, "home, during the purge", "/", headers=[cookie],
                               duration=bench.args.purge_duration)
            purger.join()
            during["note"] = (f"p99 x{during['p99'] / baseline['p99']:.2f} of before; purged "
                              f"{purge['deleted']:,} rows in {purge['seconds']:.1f}s")
            results["purge"] = (baseline, during, purge)
        finally:
            server.stop()
        return results
    finally:
        db.drop()


def seed_more(db, sessions=0, expired=0):
    filler = f"filler{int(time.time() * 1000)}"
    argv = [str(RELEASE / "bench-seed"), "--database-url", db.url, "--posts", "0", "--sessions", str(sessions),
            "--expired-sessions", str(expired), "--username", filler, "--second-username", f"{filler}b"]
    t = time.time()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    log(f"   added {sessions:,} live and {expired:,} expired sessions ({time.time() - t:.0f}s)")


# ---------------------------------------------------------------- report

def table(rows):
    lines = [f"{'system':<18} {'scenario':<28} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'errors':>6} {'CPU us/req':>10} {'peak MiB':>8} {'end MiB':>7}  note"]
    for r in rows:
        lines.append(f"{r['system']:<18} {r['scenario']:<28} {r['conns']:>5} {r['rps']:>10.1f} {r['p50']:>8.2f} "
                     f"{r['p99']:>8.2f} {r['errors']:>6} {r['cpu_us']:>10.0f} {r['mib']:>8.1f} {r['end_mib']:>7.1f}"
                     f"  {r.get('note', '')}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--postgres", action="store_true", help="also run everything on PostgreSQL")
    p.add_argument("--no-peers", action="store_true", help="skip the Django and axum peers")
    p.add_argument("--peers", default="axum,django", help="which peers to run (default: axum,django)")
    p.add_argument("--no-scale", action="store_true", help="skip the 1,000,000-session scale run")
    p.add_argument("--duration", default="15s")
    p.add_argument("--purge-duration", default="20s")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--short-posts", action="store_true",
                   help="seed one-line posts like the peers' own seed (compares the stacks alone)")
    args = p.parse_args()
    global SHORT_POSTS
    SHORT_POSTS = args.short_posts
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = ROOT / "target" / "bench" / stamp
    out_dir.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tangerine-bench-"))
    bench = Bench(args, out_dir)
    started = time.time()
    kinds = ["sqlite"] + (["postgres"] if args.postgres else [])
    servers, scale = {}, {}
    try:
        home = None
        for kind in kinds:
            servers[kind], page = run_tangerine(bench, kind, work, out_dir)
            home = home or page
        run_bare(bench, home, out_dir)
        wanted = [n for n in args.peers.split(",") if n]
        peers = [] if args.no_peers or not PEERS.is_dir() else [n for n in wanted if (PEERS / n).is_dir()]
        for name in peers:
            servers[name] = run_peer(bench, name, out_dir)
        if not args.no_scale:
            for kind in kinds:
                scale[kind] = run_scale(bench, kind, work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = [f"Tangerine benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} CPUs, {'one-line' if args.short_posts else 'realistic'} posts, "
              f"wrk -t{args.threads} -c{args.conns} -d{args.duration} "
              f"({time.time() - started:.0f}s in all)", "", table(bench.rows), ""]
    report += ratios(bench, servers, kinds, peers)
    report += targets(bench, servers, kinds, peers, scale)
    text = "\n".join(report)
    print(text)
    (out_dir / "report.txt").write_text(text + "\n")
    (out_dir / "rows.json").write_text(json.dumps(bench.rows, indent=1))
    log(f"raw results in {out_dir}")


def ratios(bench, servers, kinds, peers):
    out = ["Ratios (same run; higher is better for req/s, lower for CPU per request):"]
    for kind in kinds:
        t = f"tangerine-{kind}"
        pairs = [("home, logged in", "home, logged in"), ("home, anonymous", "home, anonymous"),
                 (f"create post ({bench.args.conns} writers)", f"create post ({bench.args.conns} writers)"),
                 ("login (argon2)", "login (argon2)")]
        for peer in peers + ["bare-poem"]:
            for ours, theirs in pairs:
                a, b = bench.find(t, ours), bench.find(peer, theirs)
                if a and b:
                    cpu = f"x{a['cpu_us'] / b['cpu_us']:.2f}" if b["cpu_us"] else "-"
                    out.append(f"  {t} ÷ {peer:<9} {ours:<26} req/s x{a['rps'] / b['rps']:.2f}"
                               f"   p99 {a['p99']:.2f} vs {b['p99']:.2f} ms   CPU/req {cpu}")
    return out + [""]


def targets(bench, servers, kinds, peers, scale):
    out = ["Targets:"]

    def check(ok, text):
        out.append(f"  [{'ok' if ok else 'MISSED'}] {text}")

    sq = bench.find("tangerine-sqlite", "home, logged in")
    if "axum" in peers:
        ax = bench.find("axum", "home, logged in")
        check(sq["rps"] >= ax["rps"], f"logged-in homepage >= axum: x{sq['rps'] / ax['rps']:.2f} (aim 1.5)")
        c = f"create post ({bench.args.conns} writers)"
        check(bench.find("tangerine-sqlite", c)["rps"] >= bench.find("axum", c)["rps"],
              f"creating a post >= axum: x{bench.find('tangerine-sqlite', c)['rps'] / bench.find('axum', c)['rps']:.2f}")
    if "django" in peers:
        dj = bench.find("django", "home, logged in")
        check(sq["rps"] >= 40 * dj["rps"], f"logged-in homepage >= 40 x Django: x{sq['rps'] / dj['rps']:.1f}")
    check(sq["p99"] < 10, f"logged-in homepage p99 < 10 ms on SQLite: {sq['p99']:.2f} ms")
    if "postgres" in kinds:
        pg = bench.find("tangerine-postgres", "home, logged in")
        check(pg["rps"] >= sq["rps"] / 2, f"PostgreSQL homepage >= half SQLite's: x{pg['rps'] / sq['rps']:.2f}")
    for kind in kinds:
        t = f"tangerine-{kind}"
        row = bench.find(t, "create post (64 writers)")
        check(row["errors"] == 0 and row["lost"] == 0,
              f"{kind}: 64 concurrent writers: {row['errors']} errors, {row['lost']} lost ({row['note']})")
        server = servers[kind]
        if server.page_writes is not None:
            check(server.page_writes <= 1, f"{kind}: rows written by ~{4 * bench._seconds(bench.args.duration)}s of page views: {server.page_writes}")
        else:
            check(True, f"{kind}: the session row was refreshed during the page runs: {server.session_touched} "
                        f"(at most once per --session-refresh)")
        quiet, stormy = bench.find(t, "home, logged in"), server.storm
        check(stormy["p99"] <= 2 * quiet["p99"],
              f"{kind}: login storm raises the homepage p99 x{stormy['p99'] / quiet['p99']:.2f} (at most 2)")
        check(stormy["mib"] < 128, f"{kind}: peak memory during the storm {stormy['mib']:.0f} MiB (< 128)")
        pages = [bench.find(t, s) for s in ("home, logged in", "home, anonymous", "GET /api/posts")]
        steady = max(r["end_mib"] for r in pages)
        peak = max(r["mib"] for r in pages)
        check(steady < 32, f"{kind}: steady page load {steady:.0f} MiB resident at the end of each run (< 32); "
                           f"peak {peak:.0f} MiB (with what the login before left); idle {server.idle_mib:.0f} MiB")
        if kind in scale:
            small, big = scale[kind][1_000], scale[kind][1_000_000]
            check(big["p99"] <= 1.2 * small["p99"],
                  f"{kind}: p99 with 1,000,000 sessions x{big['p99'] / small['p99']:.2f} of 1,000 (at most 1.2)")
            baseline, during, purge = scale[kind]["purge"]
            check(during["p99"] <= 2 * baseline["p99"],
                  f"{kind}: purge of {purge['deleted']:,} rows raises the p99 x{during['p99'] / baseline['p99']:.2f} (at most 2)")
    return out


if __name__ == "__main__":
    main()
