"""What ops watch: ``/healthz`` and ``/metrics`` over real HTTP on real served apps, and the
counts the dispatcher's record step and the daemon's passes feed them."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from notifier import __version__, metrics
from notifier.config import Config, Secret, WebhookConfig
from notifier.db.engine import utcnow
from notifier.db.models import Contact
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.routes import Routes
from notifier.web.server import WebThread, make_ops_server, make_server

from tests.support import http
from tests.support.database import migrated
from tests.support.outbox import queue_rows, statuses
from tests.support.processes import DaemonProcess, wait_for, write_daemon_config
from tests.support.servers import HookReceiver, HTTPReceiver, Reply
from tests.support.world import make_world, plan


T0 = datetime(2018, 6, 20, 1, 0)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """A scrape as {(sample name, sorted labels): value}, parsed by prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def served(tmp_path: Path):
    """Start the reply-link server of a world with ``[metrics] extra``; yields (world, base URL)."""
    started: list[WebThread] = []

    def serve(extra: str = "", engine=None):  # noqa: ANN001, ANN202
        w = make_world(tmp_path, plan(2025), web=True, extra=extra)
        web = WebThread(make_server(engine or w.engine, w.cfg, port=0))
        web.start()
        started.append(web)
        return w, f"http://{web.address}"

    yield serve
    for web in started:
        web.stop()


def test_the_reply_link_server_answers_healthz_and_shows_outbox_gauges_on_metrics(served) -> None:  # noqa: ANN001
    w, base = served("[metrics]\non_web = true\n")
    queue_rows(w.engine, [("webhook", "oa"), ("email", "a@example.gov.cn")], n=2, now=T0)
    with w.engine.begin() as conn:
        conn.execute(insert(Contact).values(channel="email", recipient="x@example.gov.cn", broken=True))

    health = http.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.headers["cache-control"] == "no-store"
    assert health.json()["status"] == "ok"
    assert health.json()["checks"] == {"database": "ok"}  # `serve` runs no scheduler

    scrape = http.get(f"{base}/metrics", timeout=5)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(scrape.text)
    assert got[("notifier_database_up", ())] == 1
    assert got[("notifier_outbox_deliveries", (("status", "pending"),))] == 4
    assert got[("notifier_outbox_deliveries", (("status", "failed"),))] == 0
    assert got[("notifier_broken_contacts", ())] == 1
    assert got[("notifier_outbox_oldest_pending_seconds", ())] > (datetime.now() - T0).total_seconds() - 86400
    assert ("process_resident_memory_bytes", ()) in got


def test_metrics_stay_off_the_reply_link_server_unless_on_web(served) -> None:  # noqa: ANN001
    _, base = served()
    assert http.get(f"{base}/healthz", timeout=5).status_code == 200
    assert http.get(f"{base}/metrics", timeout=5).status_code == 404


def test_healthz_is_503_with_the_reason_when_the_database_is_unreachable(served, tmp_path: Path) -> None:  # noqa: ANN001
    gone = tmp_path / "gone"
    gone.mkdir()
    engine = migrated(f"sqlite:///{gone}/n.db")
    engine.dispose()
    shutil.rmtree(gone)  # the database's directory vanished (an unmounted volume)
    _, base = served("[metrics]\non_web = true\n", engine=engine)
    answer = http.get(f"{base}/healthz", timeout=5)
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
    assert answer.json()["problems"] == ["database: unreachable (OperationalError)"]
    scrape = http.get(f"{base}/metrics", timeout=5)
    assert scrape.status_code == 200  # a scrape still works, and says the database is down
    assert samples(scrape.text)[("notifier_database_up", ())] == 0


def test_healthz_is_503_when_the_daemon_scheduler_is_not_running(tmp_path: Path) -> None:
    from notifier.daemon import Daemon

    w = make_world(tmp_path, plan(2025), extra='[metrics]\nlisten = "127.0.0.1:0"\n')
    daemon = Daemon(w.cfg)  # built, never run: no scheduler
    web = WebThread(make_ops_server(w.engine, w.cfg, daemon), "ops")
    web.start()
    try:
        answer = http.get(f"http://{web.address}/healthz", timeout=5)
        daemon.last_pass.ended(datetime(2026, 12, 2, 1, 0, 5, tzinfo=UTC), "OperationalError")
        after_failed_pass = http.get(f"http://{web.address}/healthz", timeout=5).json()
    finally:
        web.stop()
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "ok", "scheduler": "not running", "last_pass": "ok"}
    assert answer.json()["last_pass"] is None
    assert after_failed_pass["checks"]["last_pass"] == "failed (OperationalError)"
    assert after_failed_pass["last_pass"] == "2026-12-02T09:00:05+08:00"  # in the configured time zone


def test_the_record_step_counts_outcomes_by_channel_and_result_and_counts_retries(engine) -> None:  # noqa: ANN001
    oa_answers = [Reply(500), Reply(200)]
    srv = HTTPReceiver(lambda req: Reply(404) if req.path.startswith("/bad") else oa_answers.pop(0))
    hooks = {name: WebhookConfig(name=name, url=Secret(f"{srv.url}/{name}")) for name in ("oa", "bad")}
    cfg = Config(path=None, webhooks=hooks)
    queue_rows(engine, [("webhook", "oa"), ("webhook", "bad")], now=T0)
    registry = metrics.registry_for(engine, clock=lambda: T0)

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    before = {r: value("notifier_deliveries_total", channel="webhook", result=r) for r in ("sent", "retry", "failed")}
    retries = value("notifier_delivery_retries_total", channel="webhook")
    sends = value("notifier_send_duration_seconds_count", channel="webhook")

    async def two_passes() -> None:
        routes = Routes(cfg)
        d = Dispatcher(engine, routes, RetryPolicy(base_seconds=60, jitter=False))
        try:
            await d.run_once(T0)
            await d.run_once(T0 + timedelta(seconds=61))
        finally:
            await routes.aclose()

    try:
        asyncio.run(two_passes())
    finally:
        srv.close()
    assert statuses(engine) == {"sent": 1, "failed": 1}
    after = {r: value("notifier_deliveries_total", channel="webhook", result=r) for r in ("sent", "retry", "failed")}
    assert {r: after[r] - before[r] for r in after} == {"sent": 1, "retry": 1, "failed": 1}
    assert value("notifier_delivery_retries_total", channel="webhook") - retries == 1  # the 2nd attempt
    assert value("notifier_send_duration_seconds_count", channel="webhook") - sends == 3


@pytest.mark.slow
def test_the_daemon_serves_healthz_and_metrics_on_its_own_listener_and_counts_its_passes(tmp_path: Path) -> None:
    receiver = HookReceiver()
    config = tmp_path / "config.toml"
    # Port 0, and the port the daemon got read from its log: a port chosen here and bound by the
    # daemon a second later may be taken in between by any other process's connection.
    write_daemon_config(config, f"{receiver.base}/hook", extra='[metrics]\nlisten = "127.0.0.1:0"\n')
    engine = migrated(f"sqlite:///{tmp_path}/notifier.db")
    queue_rows(engine, [("webhook", "robot")], n=3, now=utcnow())
    daemon = DaemonProcess(config)
    try:
        base = f"http://{daemon.served_on('/healthz and /metrics')}"
        wait_for(lambda: len(receiver.hits) == 3, what="three deliveries")

        def scrape() -> dict:
            try:
                return samples(http.get(f"{base}/metrics", timeout=2).text)
            except httpx.TransportError:
                return {}

        def counted(s: dict) -> bool:
            # A send is counted as it is recorded, the pass that made it only when the pass ends:
            # wait for both, or a scrape between the two finds the sends without their pass. The
            # start-up planning pass too: the first tick is due a second after the jobs are added,
            # and a start slowed past that (by the listener) runs it, sends included, first.
            return (s.get(("notifier_deliveries_total", (("channel", "webhook"), ("result", "sent")))) == 3
                    and s.get(("notifier_passes_total", (("kind", "delivery"), ("result", "ok"))), 0) >= 1
                    and s.get(("notifier_passes_total", (("kind", "planning"), ("result", "ok"))), 0) >= 1)

        got = wait_for(lambda: counted(s := scrape()) and s, what="the sends, their pass and the planning pass counted")
        assert got[("notifier_passes_total", (("kind", "planning"), ("result", "ok")))] >= 1
        assert got[("notifier_passes_total", (("kind", "delivery"), ("result", "ok")))] >= 1
        assert got[("notifier_pass_duration_seconds_count", (("kind", "delivery"),))] >= 1
        assert abs(got[("notifier_last_pass_timestamp_seconds", (("kind", "planning"),))] - time.time()) < 120
        assert ("notifier_build_info", (("version", __version__),)) in got
        assert got[("notifier_send_duration_seconds_count", (("channel", "webhook"),))] == 3
        assert got[("notifier_outbox_deliveries", (("status", "sent"),))] == 3
        assert got[("notifier_outbox_oldest_pending_seconds", ())] == 0
        # The planning pass is counted, then its end noted for /healthz: wait for the note.
        health = wait_for(lambda: (h := http.get(f"{base}/healthz", timeout=2)).json()["last_pass"] and h,
                          what="the planning pass's end on /healthz")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["checks"] == {"database": "ok", "scheduler": "ok", "last_pass": "ok"}
        assert body["last_pass"].endswith("+08:00")  # in the configured time zone
    finally:
        rc = daemon.stop()
        receiver.close()
    assert rc == 0, daemon.log()


@pytest.mark.slow
def test_a_taken_metrics_port_stops_the_daemon_with_exit_1_and_says_why(tmp_path: Path) -> None:
    from tests.support.processes import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        write_daemon_config(config, "http://127.0.0.1:9/hook", extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        proc = run_cli(config, "--log-level", "INFO", "run")
    assert proc.returncode == 1, proc.stderr
    assert f"the /healthz and /metrics server did not start on 127.0.0.1:{port}; stopping" in proc.stderr
    assert "Traceback" not in proc.stderr
