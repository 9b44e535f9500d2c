"""``notifier`` in a subprocess: the environment it runs with, one command (``run_cli``), the
daemon (``DaemonProcess``), polling a real process (``wait_for``), and config lines that open the
send window around the wall clock for a real daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import ROOT



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
