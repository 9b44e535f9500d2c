"""A trickling or stalled SMTP server: a send ends within its ``timeout`` as a whole
(connect, each command, DATA), as "retry later", and the row goes back to pending."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from notifier.config import Config, EmailConfig
from notifier.delivery.channels.email import EmailChannel
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.message import Message, RetryLater
from notifier.delivery.routes import Routes

from tests.support.outbox import queue_rows, rows

TIMEOUT = 1.0


class TricklingSMTP:
    """A scripted SMTP server on 127.0.0.1 that answers every command correctly but slowly:
    each reply trickles out a byte at a time, taking ``per_reply`` seconds in all, just
    under the client's per-command timeout. ``stall``: accept and never say anything."""

    def __init__(self, per_reply: float = 0.8, stall: bool = False):
        self.per_reply, self.stall = per_reply, stall
        self.stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _say(self, conn: socket.socket, line: bytes) -> None:
        for b in line:
            if self.stopped.wait(self.per_reply / len(line)):
                return
            conn.sendall(bytes([b]))

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.stall:
                self.stopped.wait()
                return
            self._say(conn, b"220 slow\r\n")
            buf, in_data = b"", False
            while not self.stopped.is_set():
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        buf, in_data = buf[end + 5:], False
                        self._say(conn, b"250 queued\r\n")
                        continue
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    cmd, buf = buf[:end].upper(), buf[end + 2:]
                    if cmd.startswith(b"DATA"):
                        in_data = True
                        self._say(conn, b"354 go\r\n")
                    elif cmd.startswith(b"QUIT"):
                        self._say(conn, b"221 bye\r\n")
                        return
                    else:
                        self._say(conn, b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture(params=["trickle", "stall"])
def slow_server(request):  # noqa: ANN001, ANN201
    server = TricklingSMTP(stall=request.param == "stall")
    yield server
    server.close()


def message() -> Message:
    return Message(key="ntf_slow", recipient="a@example.gov.cn", subject="提醒", text="请报送。",
                   html="<p>请报送。</p>", markdown="请报送。", department="市发展和改革委员会")


def test_a_send_to_a_trickling_or_stalled_server_ends_within_its_timeout_as_retry_later(slow_server) -> None:  # noqa: ANN001
    async def go():  # noqa: ANN202
        ch = EmailChannel(host="127.0.0.1", port=slow_server.port, security="none",
                          sender="n@example.gov.cn", timeout=TIMEOUT)
        try:
            t = time.monotonic()
            result = await ch.send(message())
            return result, time.monotonic() - t
        finally:
            t = time.monotonic()
            await ch.aclose()
            assert time.monotonic() - t < 1.5  # the broken session is dropped, not QUIT and waited for

    result, elapsed = asyncio.run(go())
    assert isinstance(result, RetryLater) and not result.contact_fault
    assert "timeout" in result.reason
    # Without one deadline for the whole send, six commands of 0.8 s each took ~5 s.
    assert elapsed < TIMEOUT + 2.0  # a margin for a busy machine, still far below ~5 s


def test_a_pass_against_a_trickling_server_leaves_the_row_pending_for_a_retry_never_sending(slow_server, engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", f"u{i}@example.gov.cn") for i in range(3)])
    cfg = Config(path=None, email=EmailConfig(host="127.0.0.1", port=slow_server.port, security="none",
                                              sender="n@example.gov.cn", timeout=TIMEOUT, connections=2))

    async def go():  # noqa: ANN202
        routes = Routes(cfg)
        try:
            return await Dispatcher(engine, routes, RetryPolicy(jitter=False)).run_once()
        finally:
            await routes.aclose()

    t = time.monotonic()
    counts = asyncio.run(go())
    assert time.monotonic() - t < 2 * TIMEOUT + 2.5  # two rounds over two connections (without: ~10 s)
    assert counts.retry == 3 and counts.sent == 0
    assert {r.status for r in rows(engine)} == {"pending"}
    assert all(r.next_attempt_at is not None and r.lease_until is None for r in rows(engine))
