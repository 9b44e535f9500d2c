"""Real peers for daemon tests: an HTTP webhook receiver, systemd's notify socket, a config
writer, an outbox filler and a ``notifier`` subprocess runner. Shared by tests/integration and
tests/pg (which puts this folder on sys.path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from notifier.db.engine import transaction, utcnow
from notifier.db.models import Delivery, Department, Digest
from tests.delivery_support import local_day

REPO = Path(__file__).resolve().parents[2]


class HookReceiver:
    """The shared real HTTP server (delivery_support.HTTPReceiver) as the daemon tests use it:
    every POST answered ``status`` (after ``delay``); with ``echo`` the answer repeats the
    request's path and query, as a nosy server would (the secrets test checks we mask it)."""

    def __init__(self, *, delay: float = 0.0, status: int = 200, echo: bool = False):
        from delivery_support import HTTPReceiver, Reply

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
        self.sock.close()


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                                         "NOTIFIER_CONFIG", "CREDENTIALS_DIRECTORY")}
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(extra)
    return e


def run_cli(config: Path, *args: str, extra_env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "notifier", "--config", str(config), *args],
                          capture_output=True, text=True, env=env(**(extra_env or {})), timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"notifier {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


class DaemonProcess:
    """``notifier run`` in a subprocess; its stderr (the log) is collected by a thread."""

    def __init__(self, config: Path, *, extra_env: dict[str, str] | None = None, log_level: str = "INFO"):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "notifier", "--config", str(config), "--log-level", log_level, "run"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(**(extra_env or {})))
        self.output: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)

    def log(self) -> str:
        return "".join(self.output)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._thread.join(5)
        self.proc.stdout.close()
        return rc


def queue_deliveries(engine, recipient: str, n: int = 1, *, department: str = "市发展和改革委员会",  # noqa: ANN001
                     prefix: str = "t") -> list[str]:
    """Put ``n`` due webhook deliveries in the outbox, as a planning pass would; returns their keys."""
    now = utcnow()
    keys = []
    with transaction(engine) as s:
        dep = s.query(Department).filter_by(name=department).one_or_none()
        if dep is None:
            dep = Department(name=department, is_group=False, created_at=now)
            s.add(dep)
            s.flush()
        stamp = time.time_ns()
        digests = []
        for i in range(n):
            digests.append(Digest(key=f"{prefix}-{stamp}-{i}", department_id=dep.id, kind="reminder",
                                  day=local_day(now), created_at=now, subject=f"提醒 {i}", text="text",
                                  html="<p>html</p>", markdown="**md**", data="{}"))
        s.add_all(digests)
        s.flush()
        rows = []
        for d in digests:
            key = f"ntf_{d.key}"
            keys.append(key)
            rows.append(Delivery(key=key, digest_id=d.id, department_id=dep.id, channel="webhook",
                                 recipient=recipient, status="pending", attempts=0, due_at=now,
                                 next_attempt_at=now, created_at=now))
        s.add_all(rows)
    return keys


def always_open() -> str:
    """Config lines that open the send window all day on the days around now, so a test of a
    real daemon (wall clock) does not depend on the hour or the weekday it runs at."""
    return 'send_window = ["00:00", "24:00"]\n'


def open_calendar() -> str:
    """A [calendar] table making the days around now working days (see always_open)."""
    from datetime import date, timedelta

    today = date.today()
    days = ", ".join((today + timedelta(days=d)).isoformat() for d in (-1, 0, 1))
    return f"[calendar]\nworkdays = [{days}]\n"
