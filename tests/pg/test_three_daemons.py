"""Three `notifier run` processes on one PostgreSQL database deliver 5,000 reminders to a real
HTTP receiver; one is killed with SIGKILL midway. Every reminder arrives; a duplicate is only ever
a row the killed instance held (its lease expired and another instance sent it again, with the
same webhook-id so the receiver can drop it)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from notifier.db.engine import transaction, upgrade, utcnow
from notifier.db.models import Delivery

from tests.support.outbox import delivery_keys, queue_rows
from tests.support.processes import DaemonProcess, always_open, open_calendar, wait_for
from tests.support.servers import HookReceiver

N = 5000
BATCH = 200  # the dispatcher's batch size: the most rows one instance holds at a time


def test_three_daemons_one_sigkilled_deliver_each_reminder(pg_url: str, pg_engine: Engine, tmp_path: Path) -> None:
    receiver = HookReceiver(delay=0.002)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
{open_calendar()}[database]
url = "{pg_url}"
[schedule]
tick_seconds = 1
{always_open()}plan_every_minutes = 600
[delivery]
lease_seconds = 15
concurrency = 8
[[departments]]
name = "市发展和改革委员会"
webhooks = ["robot"]
[webhooks.robot]
kind = "json"
url = "{receiver.base}/hook"
""", encoding="utf-8")
    engine = pg_engine
    upgrade(engine)
    daemons = [DaemonProcess(cfg) for _ in range(3)]
    try:
        # The rows are queued once all three run: a daemon slow to start on a busy machine would
        # find the work done by the other two (the test holds each to a share of it).
        for d in daemons:
            wait_for(lambda d=d: "notifier running" in d.log(), what="the three daemons started")
        keys = delivery_keys(engine, queue_rows(engine, [("webhook", "robot")], n=N, now=utcnow()))
        victim = daemons[1]
        # The victim has sent some before it is killed (its log line is written after the commit).
        wait_for(lambda: len(receiver.hits) >= N // 4 and " sent to " in victim.log(), timeout=120,
                 what="a quarter delivered, some by the victim")
        victim.signal(signal.SIGKILL)
        victim.proc.wait(10)
        with transaction(engine) as s:
            held = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sending"))
        wait_for(lambda: set(keys) <= set(receiver.ids()), timeout=180, what="every reminder delivered")
        wait_for(lambda: _count(engine, "sent") == N, timeout=60, what="every delivery recorded as sent")
        time.sleep(1)  # a real-process test: give a straggling duplicate the chance to arrive and be counted
    finally:
        codes = [d.stop() for d in daemons]
        receiver.close()
    assert codes[0] == 0 and codes[2] == 0, [d.log()[-2000:] for d in daemons]
    ids = receiver.ids()
    assert set(ids) == set(keys)
    duplicates = {k: n - 1 for k, n in ids.items() if n > 1}
    with transaction(engine) as s:
        retaken = set(s.scalars(select(Delivery.key).where(Delivery.attempts > 1)))
    # Duplicates only for rows that were claimed twice (the killed instance's), at most a batch.
    assert set(duplicates) <= retaken
    assert sum(duplicates.values()) <= min(BATCH, held)
    assert len(retaken) <= BATCH
    print(f"\n{N} reminders, {held} rows in flight at the kill, {len(retaken)} re-claimed, "
          f"{sum(duplicates.values())} duplicates (same webhook-id)")
    # All three instances did some of the work before the kill.
    senders = [d.log().count(" sent to ") for d in daemons]
    assert all(n > 0 for n in senders), senders
    for d in (daemons[0], daemons[2]):
        assert "Traceback" not in d.log(), d.log()[-3000:]
        assert "lease lost" not in d.log()  # the survivors never lost a row to another instance


def _count(engine, status: str) -> int:  # noqa: ANN001
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == status))
