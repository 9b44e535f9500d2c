"""Planning passes racing on one PostgreSQL database queue each digest once, and the claim is one
FOR UPDATE SKIP LOCKED statement: two dispatchers never claim the same row."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from notifier import config as config_mod
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Delivery, Digest, ReminderLog
from notifier.delivery.dispatcher import Dispatcher
from notifier.reminders import run_pass
from notifier.rendering import Renderer

from tests.support.outbox import queue_rows
from tests.support.processes import run_cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "panjin-2018.csv"
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.toml"


def test_racing_planning_passes_queue_each_digest_once(pg_url: str, pg_engine: Engine, tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace('url = "sqlite:///../var/demo/notifier.db"', f'url = "{pg_url}"')
    text = text.replace('"demo-web.secret"', f'"{DEMO.parent / "demo-web.secret"}"')  # the copy lives elsewhere
    cfg_path = tmp_path / "demo.toml"
    cfg_path.write_text(text.replace('"../var/demo/outbox"', f'"{tmp_path}/outbox"'), encoding="utf-8")
    run_cli(cfg_path, "import", str(FIXTURE), "--active", "--year", "2018", "--plan", "方案", check=True)
    cfg = config_mod.load(cfg_path)
    engine = pg_engine
    now = datetime(2018, 6, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    barrier = threading.Barrier(4)
    results, errors = [], []

    def one() -> None:
        barrier.wait()
        try:
            results.append(run_pass(engine, cfg, Renderer(), now, force=True))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A pass that collided on a new department fails whole and is simply run again.
    for _ in errors:
        results.append(run_pass(engine, cfg, Renderer(), now, force=True))
    queued = sum(len(r.queued) for r in results)
    with transaction(engine) as s:
        digests = s.scalar(select(func.count()).select_from(Digest))
        logs = s.scalar(select(func.count()).select_from(ReminderLog))
        keys = s.scalar(select(func.count(func.distinct(ReminderLog.series))).select_from(ReminderLog))
    assert digests > 5
    assert queued == digests  # every digest was queued by exactly one of the passes
    assert logs == keys or logs >= digests
    assert len(run_pass(engine, cfg, Renderer(), now, force=True).queued) == 0


def test_concurrent_claims_never_share_a_row(pg_engine: Engine) -> None:
    engine = pg_engine
    from notifier.db.engine import upgrade

    upgrade(engine)
    queue_rows(engine, [("webhook", "robot")], n=1000, now=utcnow())
    dispatchers = [Dispatcher(engine, lambda *_: None) for _ in range(4)]
    claimed: list[list[int]] = [[] for _ in dispatchers]
    barrier = threading.Barrier(len(dispatchers))

    def claim(i: int) -> None:
        barrier.wait()
        while True:
            rows = dispatchers[i].claim(datetime.utcnow(), 50)
            if not rows:
                return
            claimed[i] += [r.id for r in rows]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(dispatchers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [x for c in claimed for x in c]
    assert len(everything) == len(set(everything)) == 1000
    assert sum(1 for c in claimed if c) >= 2  # the claims really interleaved
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.attempts == 1)) == 1000
