#!/usr/bin/env python3
"""Preview latency of `vanban serve` under load: 20 users at once, each with its own session,
open the preview page of a sample document (and its first page thumbnail) again and again.

Bounded: a fixed number of requests per user, against 127.0.0.1 only. Python's standard
library only. Usage (after `cargo build --release`):

    python3 bench/web_preview.py [--users 20] [--requests 50]

It makes a throw-away config and state folder, adds a clerk with `vanban users add`, starts
`vanban serve`, uploads samples/dam-ha-2024-h1.toml, renders the drafts, then measures.
"""
import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "vanban")
PASSWORD = "bench-mat-khau-dai"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base + path) as r:
            return r.read()

    def post(self, path, data, content_type="application/x-www-form-urlencoded"):
        req = urllib.request.Request(self.base + path, data=data,
                                     headers={"Content-Type": content_type})
        with self.opener.open(req) as r:
            return r.read()

    def login(self, user):
        page = self.get("/login").decode()
        token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
        home = self.post("/login", urllib.parse.urlencode(
            {"username": user, "password": PASSWORD, "login_token": token}).encode()).decode()
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', home).group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--tool", choices=["ab", "python"],
                    default="ab" if shutil.which("ab") else "python",
                    help="ab (apache2-utils: a C client, so the client does not eat the cores "
                         "it measures) or python threads")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="vanban-bench-")
    port = free_port()
    config = os.path.join(work, "vanban.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f'directory = "{ROOT}/samples/directory.toml"\noutput_dir = "out"\n'
                f'state = "vanban.sqlite"\n[sender]\nname = "Văn phòng"\n'
                f'address = "vanphong@example.vn"\n[web]\nlisten = "127.0.0.1:{port}"\n'
                f'secure_cookies = false\n')
    subprocess.run([BIN, "users", "add", "bench", "--role", "clerk", "--config", config],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    server = subprocess.Popen([BIN, "serve", "--config", config], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login").read()
                break
            except OSError:
                time.sleep(0.1)
        setup = Client(base)
        setup.login("bench")
        sample = open(os.path.join(ROOT, "samples", "dam-ha-2024-h1.toml"), "rb").read()
        boundary = "----vanbanbench"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"
                f"{setup.csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f"name=\"file\"; filename=\"dam-ha-2024-h1.toml\"\r\n\r\n").encode()
        body += sample + f"\r\n--{boundary}--\r\n".encode()
        setup.post("/upload", body, f"multipart/form-data; boundary={boundary}")
        setup.post("/periods/2024-h1/render",
                   urllib.parse.urlencode({"csrf": setup.csrf}).encode())
        stem = "02-thong-bao-ket-luan"
        paths = {"page": f"/periods/2024-h1/documents/{stem}",
                 "thumbnail": f"/periods/2024-h1/thumbs/{stem}/1.png"}

        if args.tool == "ab":
            cookie = next(c for c in setup.jar if c.name == "vanban_session")
            for kind, path in paths.items():
                out = subprocess.run(
                    ["ab", "-q", "-c", str(args.users), "-n", str(args.users * args.requests),
                     "-C", f"vanban_session={cookie.value}", base + path],
                    check=True, capture_output=True, text=True).stdout
                rps = re.search(r"Requests per second:\s+([\d.]+)", out).group(1)
                failed = re.search(r"Failed requests:\s+(\d+)", out).group(1)
                pct = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", out, re.M))
                print(f"{kind:10s} ab -c {args.users} -n {args.users * args.requests}: "
                      f"{rps} requests/s, failed {failed}, p50={pct['50']} ms "
                      f"p95={pct['95']} ms p99={pct['99']} ms max={pct['100']} ms")
            return

        clients = []
        for _ in range(args.users):
            c = Client(base)
            c.login("bench")
            clients.append(c)
        timings = {k: [] for k in paths}
        lock = threading.Lock()
        start = threading.Barrier(args.users)

        def user(c):
            start.wait()
            for _ in range(args.requests):
                for kind, path in paths.items():
                    t0 = time.perf_counter()
                    c.get(path)
                    dt = (time.perf_counter() - t0) * 1000
                    with lock:
                        timings[kind].append(dt)

        threads = [threading.Thread(target=user, args=(c,)) for c in clients]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        total = sum(len(v) for v in timings.values())
        print(f"{args.users} users × {args.requests} previews, {os.cpu_count()} cores, "
              f"{total / wall:.0f} requests/s")
        for kind, values in timings.items():
            values.sort()
            p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
            print(f"{kind:10s} n={len(values)} p50={p(0.50):.1f} ms p95={p(0.95):.1f} ms "
                  f"p99={p(0.99):.1f} ms max={values[-1]:.1f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
