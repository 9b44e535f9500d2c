"""Shared test fixtures: a real SMTP server, a real HTTP server, config files on disk."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
PLANS = FIXTURES / "plans"  # copies of the public plans in ../shared/fixtures/plans


def free_port() -> int:
    # aiosmtpd's Controller connects to its own port to check it started, so port=0 won't do.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpRecorder:
    host: str
    port: int
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)  # SMTP replies to give instead of accepting

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    rec = SmtpRecorder("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
            if rec.fail_next:
                return rec.fail_next.pop(0)
            rec.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
            return "250 OK"

    rec.port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=rec.port)
    controller.start()
    yield rec
    controller.stop()


@dataclass
class HttpRecorder:
    url: str
    requests: list[dict] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # status codes to answer before 200s


@pytest.fixture
def http_server():
    rec = HttpRecorder("")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                status = rec.script.pop(0) if rec.script else 200
                rec.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body, "status": status})
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"ok": status == 200}).encode())

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def write_config(tmp_path):
    """Write a config file (TOML text, dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write
