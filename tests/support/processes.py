"""``notifier`` in a subprocess: the environment it runs with, one command (``run_cli``), the
daemon (``DaemonProcess``), polling a real process (``wait_for``), a port for a process that
cannot bind port 0 (``free_port``), and config lines that open the send window around the wall
clock for a real daemon."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import ROOT

# How long a test waits for a real process by default. A cold `notifier` start (the interpreter,
# SQLAlchemy, the migrations) takes 1-2 s on idle cores and several times that when CI runs four
# test workers on two busy ones; the wait ends as soon as the condition holds, so a long limit
# costs nothing when the process is quick and only names the hang when it is not.
WAIT_SECONDS = 60.0
_ports = random.SystemRandom()  # not the shared generator a test may have seeded: workers would pick alike


def wait_for(check: Callable[[], object], timeout: float = WAIT_SECONDS, what: str = "condition") -> object:
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
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(extra)
    return e


def run_cli(config: Path, *args: str, extra_env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "notifier", "--config", str(config), *args],
                          capture_output=True, text=True, env=env(**(extra_env or {})), timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"notifier {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def free_port() -> int:
    """A free local port below the kernel's ephemeral range, for a process that must be told its
    port (``notifier serve --listen``, a server restarted on its old port). A port from
    ``bind(("127.0.0.1", 0))`` is an ephemeral one: once that socket closes, any other process's
    ``connect()`` or ``bind(0)`` may take it before the server binds it (the test workers open
    thousands of connections). Nothing is handed a port below the range unless it asks for it.
    Prefer port 0 and the address the process reports (``DaemonProcess.served_on``)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default range starts here
    for _ in range(100):
        port = _ports.randrange(10000, max(low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # a service, or another test, has it
            return port
    raise AssertionError(f"no free port between 10000 and {low}")


class DaemonProcess:
    """``notifier run`` (or another ``command`` that runs until it is stopped, ``send-due``) in a
    subprocess; its output (the log, unbuffered) is collected by a thread, each line with the
    time it arrived (``line_at``). With ``config=None`` the daemon finds its config as an
    operator's would (``NOTIFIER_CONFIG`` in ``extra_env``), run in ``cwd``."""

    def __init__(self, config: Path | None, *, command: str = "run", extra_env: dict[str, str] | None = None,
                 log_level: str = "INFO", cwd: Path | None = None):
        where = ["--config", str(config)] if config is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "notifier", *where, "--log-level", log_level, command],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env(**{"PYTHONUNBUFFERED": "1", **(extra_env or {})}), cwd=cwd)
        self.output: list[str] = []
        self.arrived: list[float] = []  # time.monotonic() as each line of output came
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.arrived.append(time.monotonic())
            self.output.append(line)

    def log(self) -> str:
        return "".join(self.output)

    def line_at(self, text: str) -> float:
        """When the first line of output containing ``text`` arrived (time.monotonic())."""
        for at, line in zip(self.arrived, self.output, strict=False):
            if text in line:
                return at
        raise AssertionError(f"no line with {text!r} in the output:\n{self.log()}")

    def served_on(self, what: str, timeout: float = WAIT_SECONDS) -> str:
        """The ``host:port`` the daemon's ``what`` server listens on, from its log line: a test
        configures port 0 and reads the port the daemon got, so no other process can take it
        between the test choosing it and the daemon binding it."""
        line = re.compile(rf"{re.escape(what)} served on http://(\S+)")

        def address() -> str | None:
            m = line.search(self.log())
            if m is None and self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited {self.proc.returncode} before serving {what}:\n{self.log()}")
            return m and m.group(1)

        return str(wait_for(address, timeout, what=f"the daemon's {what} server"))

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
        # The rest of the output is read to its end before the pipe is closed: a test reads the
        # last lines ("stopped") after the exit, and the thread is slow on a busy machine.
        self._thread.join(WAIT_SECONDS)
        self.proc.stdout.close()
        return rc


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


def write_daemon_config(path: Path, hook_url: str, *, extra: str = "") -> None:
    """A real daemon's config: a 1 s tick, the send window open around the wall clock, one
    department whose one contact is the JSON webhook ``hook_url``; ``extra`` goes at the top."""
    path.write_text(f"""
timezone = "Asia/Shanghai"
{extra}
{open_calendar()}[database]
url = "sqlite:///notifier.db"

[schedule]
tick_seconds = 1
{always_open()}plan_every_minutes = 600

[delivery]
backoff_seconds = 1
lease_seconds = 5

[[departments]]
name = "市发展和改革委员会"
aliases = ["市发改委"]
webhooks = ["robot"]

[webhooks.robot]
kind = "json"
url = "{hook_url}"
""", encoding="utf-8")
