"""Figures for hostile peers (issue 15), each against a real server on localhost:

1. a webhook whose receiver trickles one byte every 2 s, ``timeout = 3``: how long one request
   takes (it used to hang forever);
2. a receiver answering with an endless body: how much of it is read and the client's peak memory
   (a 300 MB answer used to be read whole, 767 MB);
3. three parallel 300 MB POSTs to ``notifier serve``: the server's peak memory (it used to go
   from 69 MB to 1.49 GB).

    .venv/bin/python bench/hostile_net.py
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notifier.delivery.channels.http_results import post_bounded  # noqa: E402
from notifier.delivery.channels.webhook import WebhookChannel  # noqa: E402
from notifier.delivery.message import Message  # noqa: E402


def receiver(mode: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                if mode == "trickle":
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(2)
                else:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 314572800\r\n\r\n")
                    chunk = b"x" * 65536
                    for _ in range(4800):  # 300 MB
                        self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


async def trickle() -> None:
    server = receiver("trickle")
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel("oa", url(server), None, client=client, timeout=3)
        started = time.monotonic()
        result = await channel.send(Message(key="k", recipient="oa", subject="s", text="t", html="h", markdown="m"))
    print(f"trickling receiver, timeout 3 s: {time.monotonic() - started:.2f} s -> {result.reason}")
    server.shutdown()


async def endless() -> None:
    server = receiver("endless")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        response = await post_bounded(client, url(server), content=b"{}", headers={}, timeout=10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"300 MB answer: read {len(response.content)} bytes in {time.monotonic() - started:.2f} s, "
          f"client peak {peak / 1024:.0f} MB (+{(peak - before) / 1024:.1f} MB)")
    server.shutdown()


def web_posts() -> None:
    d = Path(tempfile.mkdtemp())
    (d / "link.secret").write_text("x" * 32)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "c.toml").write_text(f'[database]\nurl = "sqlite:///{d}/n.db"\n[folder]\ndivert = true\n[web]\n'
                              f'base_url = "https://n.example.cn"\nsecret_file = "link.secret"\n'
                              f'listen = "127.0.0.1:{port}"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(d / "c.toml"), "serve"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        def rss() -> tuple[int, int]:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines())
            return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

        idle, _ = rss()
        answers: list[str] = []

        def post() -> None:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(b"POST /r/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"%x\r\n%s\r\n" % (2**20, b"a" * 2**20)
                try:
                    for _ in range(300):
                        sock.sendall(chunk)
                except OSError:
                    pass
                answers.append(sock.recv(100).split(b"\r\n")[0].decode(errors="replace"))

        started = time.monotonic()
        threads = [threading.Thread(target=post) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _, peak = rss()
        print(f"3 parallel 300 MB POSTs: {answers} in {time.monotonic() - started:.2f} s; "
              f"server {idle / 1024:.0f} MB idle, peak {peak / 1024:.0f} MB")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    asyncio.run(trickle())
    asyncio.run(endless())
    web_posts()
