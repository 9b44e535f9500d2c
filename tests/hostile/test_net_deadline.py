"""Hostile receivers: a webhook or robot receiver that trickles its answer, or answers without
end, cannot hold a pass; SIGTERM stops `send-due` and the daemon within 5 s and loses nothing.

Real servers on 127.0.0.1 (tests.support.servers.HTTPReceiver) and real `notifier` subprocesses."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from notifier.db.engine import read_session, utcnow
from notifier.db.models import Delivery
from notifier.delivery.channels.dingtalk import DingTalkChannel
from notifier.delivery.channels.feishu import FeishuChannel
from notifier.delivery.channels.http_results import RESPONSE_CAP_BYTES, Interrupt
from notifier.delivery.channels.webhook import WebhookChannel
from notifier.delivery.channels.wecom import WeComChannel
from notifier.delivery.message import Message, RetryLater

from tests.support import http
from tests.support.database import sqlite_engine
from tests.support.outbox import queue_rows, rows, statuses
from tests.support.processes import DaemonProcess, always_open, env, open_calendar, wait_for
from tests.support.servers import HTTPReceiver, Reply

pytestmark = pytest.mark.slow  # real notifier processes against stalling servers, seconds of timeouts

TRICKLE = Reply(trickle=2.0, body=b'{"errcode":0,"errmsg":"ok"}')
CHANNELS = {"json": WebhookChannel, "dingtalk": DingTalkChannel, "wecom": WeComChannel, "feishu": FeishuChannel}


def message() -> Message:
    return Message(key="k1", recipient="oa", subject="提醒", text="t", html="<p>t</p>", markdown="**t**")


@pytest.fixture
def trickler():
    server = HTTPReceiver(lambda req: TRICKLE)
    yield server
    server.close()


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_a_receiver_trickling_one_byte_every_2s_is_cut_at_the_timeout_and_retried(trickler, kind):
    async def go():
        async with http.AsyncClient() as client:
            channel = CHANNELS[kind]("oa", trickler.url + "/hook?access_token=T", None, client=client, timeout=3)
            started = time.monotonic()
            result = await channel.send(message())
            return result, time.monotonic() - started

    result, took = asyncio.run(go())
    assert isinstance(result, RetryLater) and "no complete answer within 3 s" in result.reason
    assert 2.9 < took < 4.0


def test_an_endless_answer_is_read_up_to_the_cap_only_in_time_and_memory():
    server = HTTPReceiver(lambda req: Reply(endless=True, body=b"x" * 65536))
    script = f"""
import asyncio, httpx
from notifier.delivery.channels.http_results import post_bounded
async def go():
    async with httpx.AsyncClient() as client:
        return await post_bounded(client, "{server.url}", content=b"{{}}", headers={{}}, timeout=10)
r = asyncio.run(go())
print(len(r.content), next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""
    try:
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env(),
                             timeout=30, check=True).stdout.split()
        assert time.monotonic() - started < 5
        assert int(out[0]) == RESPONSE_CAP_BYTES
        # KB peak of this interpreter (VmHWM, which exec resets; ru_maxrss would keep the forking
        # pytest's): 300 MB used to be read whole
        assert int(out[1]) < 150_000
        assert server.streamed < 50 * 2**20  # we hung up early
    finally:
        server.close()


def test_an_interrupt_from_another_thread_ends_a_request_in_flight_at_once(trickler):
    interrupt = Interrupt()

    async def go():
        async with http.AsyncClient() as client:
            channel = WebhookChannel("oa", trickler.url, None, client=client, timeout=30, interrupt=interrupt)
            asyncio.get_running_loop().call_later(0.5, lambda: threading.Thread(target=interrupt.set).start())
            started = time.monotonic()
            return await channel.send(message()), time.monotonic() - started

    result, took = asyncio.run(go())
    assert isinstance(result, RetryLater) and result.reason.startswith("interrupted")
    assert took < 1.5


def _config(tmp_path, url: str, timeout: float) -> object:
    path = tmp_path / "config.toml"
    path.write_text(f"""
timezone = "UTC"
[database]
url = "sqlite:///{tmp_path}/n.db"
[schedule]
tick_seconds = 1
{always_open()}
{open_calendar()}
[webhooks.oa]
kind = "json"
url = "{url}/hook"
timeout = {timeout}
[[departments]]
name = "市发展和改革委员会"
webhooks = ["oa"]
""", encoding="utf-8")
    return path


def test_send_due_against_a_trickling_receiver_ends_after_the_timeout_and_keeps_the_row(tmp_path, trickler):
    cfg = _config(tmp_path, trickler.url, 3)
    engine = sqlite_engine(tmp_path / "n.db")
    queue_rows(engine, [("webhook", "oa")], now=utcnow())
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(cfg), "send-due"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    try:
        # From the request reaching the receiver to its retry being recorded: the 3 s timeout
        # plus the record (the trickle would take minutes). The interpreter's start and exit are
        # not counted: on a loaded machine the exit alone took 1.3-3.6 s.
        def recorded() -> float | None:  # read without the write lock the sender needs
            with read_session(engine) as s:
                retry = s.execute(select(Delivery.status, Delivery.attempts)).one() == ("pending", 1)
            return time.time() if retry else None

        recorded_at = wait_for(recorded, what="the attempt recorded")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "待重试 1" in out, out
    [request] = trickler.requests
    assert recorded_at - request.at < 3 + 2
    (row,) = rows(engine)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "no complete answer within 3 s" in row.last_error


# The stop is timed from SIGTERM to the process's last word: the daemon's "stopped", send-due's
# counts, each written once the sends in flight were interrupted or cancelled and the outcome
# recorded. The interpreter's exit after it is no choice of ours and a busy machine stretches it
# (0.35 s at a load of 6, 1.8-3.8 s with eight busy loops more): it is bounded apart, far below
# the receivers' own timeouts (30 s, 600 s) that a send holding the exit would take.
LAST_WORD = {"run": "notifier.daemon: stopped", "send-due": "已发送"}
EXIT_SECONDS = 15


def stop_within_5s(process: DaemonProcess, command: str) -> int:
    """SIGTERM ``process`` and check it had its last word within 5 s; its exit code."""
    started = time.monotonic()
    rc = process.stop(timeout=EXIT_SECONDS)
    assert rc >= 0, f"still running {EXIT_SECONDS} s after SIGTERM:\n{process.log()}"
    assert process.line_at(LAST_WORD[command]) - started < 5, process.log()
    return rc


def test_sigterm_stops_send_due_within_5s_and_the_row_is_retried_later(tmp_path, trickler):
    cfg = _config(tmp_path, trickler.url, 600)
    engine = sqlite_engine(tmp_path / "n.db")
    queue_rows(engine, [("webhook", "oa")], now=utcnow())
    sender = DaemonProcess(cfg, command="send-due")
    try:
        wait_for(lambda: trickler.count(), what="the request to reach the receiver")
        time.sleep(0.3)  # the request is in flight: the receiver is trickling its answer
        stop_within_5s(sender, "send-due")
    finally:
        sender.stop(timeout=1)
    out = sender.log()
    assert "待重试 1" in out, out
    assert statuses(engine) == {"pending": 1}
    assert "interrupted" in rows(engine)[0].last_error


def test_sigterm_stops_the_daemon_within_5s_whatever_the_receiver_does(tmp_path, trickler):
    cfg = _config(tmp_path, trickler.url, 600)
    engine = sqlite_engine(tmp_path / "n.db")
    queue_rows(engine, [("webhook", "oa")], now=utcnow())
    daemon = DaemonProcess(cfg)
    try:
        wait_for(lambda: trickler.count(), what="the daemon's request to reach the receiver")
        time.sleep(0.3)
        rc = stop_within_5s(daemon, "run")
    finally:
        daemon.stop(timeout=1)
    assert rc == 0, daemon.log()
    (row,) = rows(engine)
    # Recorded as a retry; a send cancelled before its outcome was written would stay
    # 'sending' under its lease instead. Either way the next pass claims it again.
    assert row.status in ("pending", "sending"), row
    assert row.status == "pending" and "interrupted" in row.last_error, daemon.log()


@pytest.mark.parametrize("command", ["send-due", "run"])
def test_sigterm_stops_within_5s_even_when_an_smtp_server_stalls(tmp_path, command):
    """An SMTP server that accepts and never speaks: the e-mail channel's own timeout is 30 s,
    so the pass is cancelled after the grace; the row keeps its lease and is sent later."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
timezone = "UTC"
[database]
url = "sqlite:///{tmp_path}/n.db"
[schedule]
tick_seconds = 1
{always_open()}
{open_calendar()}
[email]
host = "127.0.0.1"
port = {listener.getsockname()[1]}
security = "none"
from = "ducha@example.gov.cn"
timeout = 30
[[departments]]
name = "市发展和改革委员会"
email = ["fgw@example.gov.cn"]
""", encoding="utf-8")
    engine = sqlite_engine(tmp_path / "n.db")
    queue_rows(engine, [("email", "fgw@example.gov.cn")], now=utcnow())
    process = DaemonProcess(cfg, command=command)
    try:
        wait_for(lambda: held, what="the SMTP connection")
        time.sleep(0.3)
        rc = stop_within_5s(process, command)
    finally:
        process.stop(timeout=1)
        listener.close()
        for s in held:
            s.close()
    out = process.log()
    assert "Traceback" not in out and rc == 0, out
    assert ("stay claimed for their lease" if command == "send-due" else "retried when their lease ends") in out
    (row,) = rows(engine)
    assert row.status == "sending" and row.lease_until is not None  # claimed again when the lease ends
