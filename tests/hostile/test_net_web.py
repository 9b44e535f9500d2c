"""Hostile web clients: a huge declared body, a huge chunked body, a trickled body, an invalid
Content-Length, and error pages. The server is real (Uvicorn, `notifier serve` in a subprocess
where memory is measured); the client is a raw socket, so nothing is polite on our behalf."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from notifier.web.app import HEADERS
from notifier.web.server import WebThread, make_server

from tests.support import http
from tests.support.processes import env, free_port, wait_for
from tests.support.world import local, make_world, ms, plan, task

PORT_TASK = task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线"))


@pytest.fixture
def web(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, PORT_TASK), web=True)
    thread = WebThread(make_server(w.engine, w.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    thread.start()
    yield thread.address
    thread.stop()


def raw(address: str, head: str, body_chunks=(), *, pause: float = 0.0, timeout: float = 5.0) -> bytes:
    """Send a request as written (head, then body chunks) and return whatever comes back
    until the server closes or ``timeout``; a server that stops reading is fine."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode())
        answer = b""
        sock.settimeout(0.05)
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server answered and closed: exactly what we want
            try:
                answer += sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                break
            if answer:
                break
            time.sleep(pause)
        sock.settimeout(timeout)
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    return answer


def status_and_headers(answer: bytes) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:])}
    return int(head[0].split()[1]), headers


def test_a_declared_300mb_body_is_refused_413_before_it_is_read(web):
    started = time.monotonic()
    answer = raw(web, f"POST /r/x HTTP/1.1\r\nHost: a\r\nContent-Length: {300 * 2**20}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    status, headers = status_and_headers(answer)
    assert status == 413 and time.monotonic() - started < 2
    assert headers["content-security-policy"] == HEADERS["Content-Security-Policy"]


def test_a_chunked_body_without_length_is_cut_at_the_limit(web):
    chunk = b"%x\r\n%s\r\n" % (8192, b"a" * 8192)
    answer = raw(web, "POST /r/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", [chunk] * 2000)
    assert status_and_headers(answer)[0] == 413


def test_a_body_trickled_for_longer_than_the_read_limit_is_answered_408(tmp_path):
    w = make_world(tmp_path, plan(2025, PORT_TASK), web=True)
    server = make_server(w.engine, w.cfg, port=0)
    server.config.app.body_seconds = 0.5  # the app is the guarded Starlette
    thread = WebThread(server)
    thread.start()
    try:
        answer = raw(thread.address, "POST /r/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n",
                     [b"a"] * 40, pause=0.05)
        assert status_and_headers(answer)[0] == 408
    finally:
        thread.stop()


@pytest.mark.parametrize("length", ["abc", "-5", "1" * 5000])
def test_an_invalid_or_absurd_content_length_is_a_4xx_never_a_crash(web, length):
    answer = raw(web, f"POST /r/x HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n")
    assert 400 <= status_and_headers(answer)[0] < 500


@pytest.mark.parametrize("method, path, expected", [("GET", "/nothing-here", 404), ("PUT", "/r/x", 405),
                                                    ("GET", "/r/forged", 403)])
def test_error_pages_carry_the_security_headers(web, method, path, expected):
    r = http.request(method, f"http://{web}{path}")
    assert r.status_code == expected
    for name, value in HEADERS.items():
        assert r.headers[name] == value, name


@pytest.mark.slow
def test_three_parallel_300mb_posts_leave_the_server_small(tmp_path):
    w = make_world(tmp_path, plan(2025, PORT_TASK), web=True)
    port = free_port()  # `serve` says the port it was given, not the one it got: it cannot take 0 here
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(w.cfg.path), "serve",
                             "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env())
    try:
        def up() -> bool:
            try:
                return http.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, what="notifier serve")
        chunk = b"%x\r\n%s\r\n" % (2**20, b"a" * 2**20)
        results: list[int] = []

        def attack() -> None:
            # Lying: a small declared length is not needed, chunked says nothing at all.
            answer = raw(f"127.0.0.1:{port}", "POST /r/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                         [chunk] * 300)
            results.append(status_and_headers(answer)[0])

        threads = [threading.Thread(target=attack) for _ in range(3)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == [413, 413, 413] and time.monotonic() - started < 10
        peak_kb = int(next(line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                           if line.startswith("VmHWM")).split()[1])
        assert peak_kb < 150_000, f"server peaked at {peak_kb} KB"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def test_a_path_with_its_own_limit_takes_a_larger_body_and_nothing_beyond_it():
    import warnings

    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from notifier.web.guard import GuardedStarlette

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    async def size(request):  # noqa: ANN001, ANN202
        return PlainTextResponse(str(len(await request.body())))

    app = GuardedStarlette(routes=[Route("/r/x", size, methods=["POST"]), Route("/office/import", size, methods=["POST"])],
                           headers=HEADERS, max_body=20_000, body_limits={"/office": (100_000, 10.0)})
    client = TestClient(app)
    assert client.post("/office/import", content=b"a" * 90_000).text == "90000"
    assert client.post("/office/import", content=b"a" * 100_001).status_code == 413
    assert client.post("/r/x", content=b"a" * 20_001).status_code == 413
