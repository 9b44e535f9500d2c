"""Real peers for the tests (and bench/delivery.py), all on 127.0.0.1 with OS-chosen ports.

- ``SMTPServer``: aiosmtpd; counts connections, records every accepted message, refuses the
  addresses it is told to (with their SMTP code).
- ``HTTPReceiver``: a threaded HTTP/1.1 (keep-alive) server that records every request and
  answers from a policy function (status, Retry-After, a delay, a reset, a trickle).
- ``HookReceiver``: the HTTP receiver as the daemon tests use it (one fixed answer).
- ``NotifySocket``: systemd's side of sd_notify.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

# --- SMTP -------------------------------------------------------------------------------


class _Controller(Controller):
    """aiosmtpd 1.4.6's Controller cannot start with port=0 (it probes port 0 to see the
    server is up): read the real port from the bound socket first."""

    def __init__(self, server: SMTPServer, **kwargs):
        self._owner = server
        super().__init__(server, **kwargs)

    def factory(self):  # noqa: ANN201
        smtp = SMTP(self.handler, **self.SMTP_kwargs)
        owner = self._owner
        made = smtp.connection_made

        def connection_made(transport):  # noqa: ANN001, ANN202
            with owner.lock:
                owner.connections += 1
            return made(transport)

        smtp.connection_made = connection_made
        return smtp

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Received:
    rcpt: str
    raw: bytes
    tls: bool

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.raw)

    @property
    def parsed(self) -> EmailMessage:
        """The message with the modern policy: decoded headers, ``get_body()``."""
        return message_from_bytes(self.raw, policy=email_policy.default)

    @property
    def message_id(self) -> str:
        return self.email["Message-ID"]


class SMTPServer:
    """A real SMTP server. ``refuse`` maps an address to the reply its RCPT gets."""

    def __init__(self, *, port: int = 0, ssl_context=None, tls_context=None,  # noqa: ANN001
                 require_starttls: bool = False):
        self.lock = threading.Lock()
        self.connections = 0
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        kwargs = {"hostname": "127.0.0.1", "port": port, "ssl_context": ssl_context}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
        self.controller = _Controller(self, **kwargs)
        self.controller.start()
        self.port = self.controller.port
        with self.lock:
            self.connections = 0  # the controller's own start-up probe is not a client

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, envelope.original_content or envelope.content,
                                              session.ssl is not None
                                              or server.transport.get_extra_info("ssl_object") is not None))
        return "250 Message accepted"

    def to(self, rcpt: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.rcpt == rcpt]

    def stop(self) -> None:
        self.controller.stop()


def mails(server: SMTPServer, address: str) -> list[EmailMessage]:
    """The messages ``server`` accepted for ``address``, parsed (decoded headers, get_body)."""
    return [r.parsed for r in server.to(address)]


# --- HTTP -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok":true}'
    delay: float = 0.0  # seconds before answering (a timeout test)
    reset: bool = False  # close the connection with a TCP reset instead of answering
    trickle: float = 0.0  # seconds between single bytes of the whole answer, headers included
    endless: bool = False  # a chunked body of ``body`` repeated until the client hangs up


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    reply: Reply
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivered(self) -> bool:
        """Answered 2xx in time: the receiver took it (what a crash test counts)."""
        r = self.reply
        return 200 <= r.status < 300 and not (r.reset or r.trickle or r.endless) and r.delay == 0


class HTTPReceiver:
    def __init__(self, policy: Callable[[Request], Reply] | None = None):
        self.policy = policy or (lambda req: Reply())
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.streamed = 0  # body bytes written by ``Reply(endless=True)`` answers
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: with Nagle on, the body would wait
            # for the client's delayed ACK (~40 ms per request).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a SIGKILL in the crash test): like any real
                    # receiver, we never saw a complete request, so it is not recorded.
                    self.close_connection = True
                    return
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, Reply(), time.time())
                req.reply = reply = receiver.policy(req)
                with receiver.lock:
                    receiver.requests.append(req)
                if reply.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.trickle or reply.endless:
                    self._hostile(reply)
                    return
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up
                    self.close_connection = True

            def _hostile(self, reply: Reply) -> None:
                """A trickled or endless answer; the connection is closed afterwards."""
                self.close_connection = True
                head = (f"HTTP/1.1 {reply.status} OK\r\nContent-Type: application/json\r\n"
                        + ("Transfer-Encoding: chunked\r\n\r\n" if reply.endless
                           else f"Content-Length: {len(reply.body)}\r\n\r\n")).encode()
                try:
                    if reply.trickle:
                        for i in range(len(head + reply.body)):
                            self.wfile.write((head + reply.body)[i:i + 1])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                        return
                    self.wfile.write(head)
                    chunk = b"%x\r\n%s\r\n" % (len(reply.body), reply.body)
                    while True:
                        self.wfile.write(chunk)
                        with receiver.lock:
                            receiver.streamed += len(reply.body)
                except OSError:  # the client hung up: what a well-behaved client does here
                    pass

            def log_message(self, *args: object) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(OSError):  # the client went away: nothing to answer
                    super().handle()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- daemon peers -----------------------------------------------------------------------


class HookReceiver:
    """The real HTTP server (HTTPReceiver) as the daemon tests use it:
    every POST answered ``status`` (after ``delay``); with ``echo`` the answer repeats the
    request's path and query, as a nosy server would (the secrets test checks we mask it)."""

    def __init__(self, *, delay: float = 0.0, status: int = 200, echo: bool = False):
        def answer(req) -> Reply:  # noqa: ANN001
            body = b'{"errcode": 0, "errmsg": "ok"}'
            if echo:
                body = ('{"errcode": 310000, "errmsg": "bad request %s"}' % req.path).encode()
            if delay:
                time.sleep(delay)  # a slow receiver, per request, in its own server thread
            return Reply(status=status, body=body)

        self.server = HTTPReceiver(answer)
        self.base = self.server.url

    @property
    def hits(self) -> list:
        with self.server.lock:
            return list(self.server.requests)

    def ids(self) -> Counter:
        return Counter(h.headers.get("webhook-id") for h in self.hits)

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def paths_of(self, keys: list[str]) -> set[str]:
        """The paths the deliveries with these outbox keys (their webhook-id) were posted to."""
        return {h.path for h in self.hits if h.headers.get("webhook-id") in set(keys)}

    def close(self) -> None:
        self.server.close()


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket that collects what the daemon sends."""

    def __init__(self, directory: Path):
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def lines(self) -> list[str]:
        return [line for m in list(self.messages) for line in m.splitlines()]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        # What the daemon sent last (STOPPING=1 as it exits) may still wait in the socket if the
        # reader was stopped before it was scheduled: read it, so lines() is complete.
        self.sock.setblocking(False)
        with contextlib.suppress(OSError):
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        self.sock.close()
