"""`notifier run` as systemd runs it: a real subprocess, a real notify socket, a real HTTP
receiver and a one-second tick.

- READY=1 comes after the migrations ran; STATUS= names the next reminder and the failed count;
- WATCHDOG=1 is sent every WATCHDOG_USEC/2;
- SIGHUP with a valid new config takes effect without a restart; with an invalid one the daemon
  logs check-config's very messages and keeps delivering with the old config;
- SIGTERM: STOPPING=1 and exit 0.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from notifier.db.engine import current_revision, head_revision, make_engine, transaction, utcnow
from notifier.db.models import Delivery

from tests.support.outbox import delivery_keys, queue_rows
from tests.support.processes import DaemonProcess, run_cli, wait_for, write_daemon_config
from tests.support.servers import HookReceiver, NotifySocket

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "panjin-2018.csv"


@pytest.fixture
def receiver():
    r = HookReceiver()
    yield r
    r.close()


@pytest.mark.slow
def test_ready_status_watchdog_reload_and_stop(tmp_path: Path, receiver: HookReceiver) -> None:
    cfg = tmp_path / "config.toml"
    write_daemon_config(cfg, f"{receiver.base}/first")
    run_cli(cfg, "import", str(FIXTURE), "--active", "--year", "2018", "--plan", "测试方案", check=True)
    engine = make_engine(f"sqlite:///{tmp_path}/notifier.db")
    with transaction(engine) as s:  # one failed delivery for the status line
        queue_rows(engine, [("webhook", "robot")], now=utcnow(), tag="failed")
        s.query(Delivery).update({"status": "failed", "last_error": "HTTP 404"})

    notify = NotifySocket(tmp_path)
    daemon = DaemonProcess(cfg, extra_env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
    try:
        wait_for(lambda: "READY=1" in notify.lines(), what="READY=1")
        # READY=1 only after the migrations: the schema is at head when it arrives.
        assert current_revision(engine) == head_revision()
        status = wait_for(lambda: [x for x in notify.lines() if x.startswith("STATUS=next reminder")],
                          what="a STATUS line")
        assert re.fullmatch(r"STATUS=next reminder \d{4}-\d\d-\d\d \d\d:\d\d, 1 failed deliveries.*", status[0])
        wait_for(lambda: notify.lines().count("WATCHDOG=1") >= 3, what="watchdog pings")

        first = delivery_keys(engine, queue_rows(engine, [("webhook", "robot")], n=2, now=utcnow(), tag="one"))
        wait_for(lambda: set(first) <= set(receiver.ids()), what="deliveries with the first config")
        assert set(receiver.paths()) == {"/first"}

        # A valid new config: the next delivery goes to the new URL, same process.
        write_daemon_config(cfg, f"{receiver.base}/second")
        ready_before = notify.lines().count("READY=1")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: notify.lines().count("READY=1") > ready_before, what="READY=1 after reload")
        assert any(x.startswith("RELOADING=1") for x in notify.lines())
        second = delivery_keys(engine, queue_rows(engine, [("webhook", "robot")], now=utcnow(), tag="two"))
        wait_for(lambda: set(second) <= set(receiver.ids()), what="delivery with the reloaded config")
        # These rows' own requests, not the receiver's last one: a send already in flight at the
        # reload (an overdue notice the start-up pass planned) may be recorded after them.
        assert receiver.paths_of(second) == {"/second"}
        wait_for(lambda: "reloaded config" in daemon.log(), what="the reload in the log")  # read through a pipe

        # An invalid config: refused with check-config's messages, the old one keeps working.
        write_daemon_config(cfg, f"{receiver.base}/third", extra='timezone_typo = "x"\n')
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("tick_seconds = 1", "tick_seconds = 0"),
                       encoding="utf-8")
        check = run_cli(cfg, "check-config")
        assert check.returncode == 2
        expected = [line for line in check.stderr.splitlines() if line.strip()]
        assert len(expected) >= 2
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in daemon.log(), what="the refusal")
        wait_for(lambda: all(e in daemon.log() for e in expected), what="check-config's messages in the log")
        # The daemon tells systemd after it logged the problems (and read the status line from the
        # database): the log does not mean the datagram was sent yet.
        wait_for(lambda: any("reload refused" in x for x in notify.lines()), what="the refusal told to systemd")
        third = delivery_keys(engine, queue_rows(engine, [("webhook", "robot")], now=utcnow(), tag="three"))
        wait_for(lambda: set(third) <= set(receiver.ids()), what="delivery after a refused reload")
        assert receiver.paths_of(third) == {"/second"}
        assert "/third" not in receiver.paths()
        assert daemon.proc.poll() is None

        # One log line per delivery, with its id, department and channel. The receiver has the
        # last request a moment before the daemon records it, and the line is written after the
        # commit and read through a pipe: wait for record and lines to agree, not for a time.
        def sent_count() -> int:
            with transaction(engine) as s:
                return s.query(Delivery).filter(Delivery.status == "sent").count()

        def sent_lines() -> list[str]:
            return [x for x in daemon.log().splitlines() if " sent to " in x]

        # At least four: the four queued here, and any overdue notice planned.
        lines = wait_for(lambda: (n := sent_count()) >= 4 and len(got := sent_lines()) == n and got,
                         what="the four deliveries recorded as sent, a log line each")
        assert all(re.search(r"delivery \d+ sent to 市发展和改革委员会 via webhook", x) for x in lines)
    finally:
        rc = daemon.stop()
        notify.close()
    assert rc == 0, daemon.log()
    assert "STOPPING=1" in notify.lines()


@pytest.mark.slow
def test_no_watchdog_pings_without_watchdog_usec(tmp_path: Path, receiver: HookReceiver) -> None:
    cfg = tmp_path / "config.toml"
    write_daemon_config(cfg, f"{receiver.base}/x")
    notify = NotifySocket(tmp_path)
    daemon = DaemonProcess(cfg, extra_env={"NOTIFY_SOCKET": notify.path})
    try:
        wait_for(lambda: "READY=1" in notify.lines(), what="READY=1")
        # Two more ticks (each sends STATUS=) prove the daemon ran; no fixed wait needed.
        wait_for(lambda: sum(x.startswith("STATUS=") for x in notify.lines()) >= 3, what="two ticks")
        assert "WATCHDOG=1" not in notify.lines()
        assert any(x.startswith("STATUS=no reminder planned, 0 failed deliveries") for x in notify.lines())
    finally:
        assert daemon.stop() == 0
        notify.close()
