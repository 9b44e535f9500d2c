"""A long planning pass: it feeds the daemon's heartbeat (the systemd watchdog) after every page
of departments, and SIGTERM stops it within 5 s between two pages without losing anything: the
departments it did not reach are still due and the next pass plans them, once."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from notifier import config as config_mod
from notifier import due_index, reminders
from notifier.daemon import Daemon
from notifier.db.engine import make_engine, read_session, transaction, utcnow
from notifier.db.models import Department, DepartmentDue, Digest, Milestone, Plan, Task, TaskDepartment
from notifier.reminders import run_pass
from notifier.rendering import Renderer
from tests.support.database import migrated
from tests.support.processes import DaemonProcess, always_open, open_calendar, wait_for


def _world(tmp_path: Path, departments: int) -> Path:
    """``departments`` departments, each leading one task with an overdue milestone, all due
    (as after an upgrade); built in bulk, the config written with a contact for each."""
    today = datetime.now(UTC).date()
    names = [f"部门{i:04d}" for i in range(departments)]
    deps = "\n".join(f'[[departments]]\nname = "{n}"\nemail = ["d{i}@example.gov.cn"]\n' for i, n in enumerate(names))
    path = tmp_path / "notifier.toml"
    path.write_text(f'timezone = "UTC"\n[database]\nurl = "sqlite:///{tmp_path}/n.db"\n'
                    f'[schedule]\n{always_open()}send_at = "00:01"\ntick_seconds = 3600\n{open_calendar()}'
                    f'[folder]\ndir = "{tmp_path}/folder"\ndivert = true\n{deps}', encoding="utf-8")
    engine = migrated(f"sqlite:///{tmp_path}/n.db")
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Department), [{"id": i + 1, "name": n, "is_group": False, "created_at": now}
                                          for i, n in enumerate(names)])
        conn.execute(insert(Plan), [{"id": 1, "name": "长方案", "year": today.year, "starts_on": date(today.year, 1, 1),
                                     "ends_on": date(today.year, 12, 31), "source_hash": "h", "imported_at": now,
                                     "updated_at": now}])
        conn.execute(insert(Task), [{"id": i + 1, "plan_id": 1, "number": str(i + 1), "title": f"任务{i + 1}",
                                     "text": "", "position": i} for i in range(departments)])
        conn.execute(insert(TaskDepartment), [{"task_id": i + 1, "department_id": i + 1, "role": "lead",
                                               "position": 0} for i in range(departments)])
        conn.execute(insert(Milestone), [{"id": i + 1, "task_id": i + 1, "key": "k", "position": 0,
                                          "due_on": today - timedelta(days=1 + i % 5), "text": f"节点{i + 1}",
                                          "phrase": "", "status": "open"} for i in range(departments)])
    with transaction(engine) as s:
        due_index.mark_all(s)
    engine.dispose()
    return path


def test_the_heartbeat_is_fed_after_every_page_of_a_long_pass(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The watchdog is fed while the heartbeat is recent: a pass of 12 pages beats after each."""
    cfg = config_mod.load(_world(tmp_path, 60))
    monkeypatch.setattr(reminders, "PAGE_SIZE", 5)
    daemon = Daemon(cfg)
    beats: list[int] = []  # at each beat: the digests committed so far
    real_beat = daemon.heartbeat.beat

    def beat() -> None:
        with daemon.engine.connect() as conn:
            beats.append(conn.execute(select(func.count()).select_from(Digest)).scalar() or 0)
        real_beat()

    monkeypatch.setattr(daemon.heartbeat, "beat", beat)
    now = datetime.now(UTC)
    result = run_pass(daemon.engine, cfg, daemon.renderer, now, heartbeat=daemon.heartbeat.beat)
    assert len(result.queued) == 60 and result.planned == 60
    # After the preamble, then after each page of 5 is committed: fed all along, not at the end.
    assert beats == list(range(0, 61, 5))
    # ...and through the daemon's own job, which passes its heartbeat to the pass:
    with transaction(daemon.engine) as s:
        due_index.mark_all(s)
        s.execute(Digest.__table__.delete())
    beats.clear()
    daemon.planning_pass(now + timedelta(minutes=1))
    assert len(beats) >= 13 + 2  # the preamble and the pages, and the job's own start and end
    assert daemon._stalled() is None
    daemon.engine.dispose()


@pytest.mark.slow
def test_sigterm_stops_a_long_pass_within_5_s_and_loses_nothing(tmp_path: Path) -> None:
    config = _world(tmp_path, 2500)
    engine = make_engine(f"sqlite:///{tmp_path}/n.db")

    def digests() -> int:  # a read transaction: it never waits for the daemon's write lock
        with read_session(engine) as s:
            return s.scalar(select(func.count()).select_from(Digest)) or 0

    daemon = DaemonProcess(config)
    try:
        wait_for(lambda: digests() >= 100, timeout=120, what="the start-up pass under way")
        sent_at = time.monotonic()
        rc = daemon.stop(timeout=15)  # SIGTERM; only a pass that ignores it takes this long
    finally:
        daemon.stop()
    assert rc == 0, daemon.log()
    # To the daemon's last word: the interpreter's exit after it is no choice of ours, and a busy
    # machine stretches it by seconds (tests/hostile/test_net_deadline.py measures it).
    stopped_in = daemon.line_at("notifier.daemon: stopped") - sent_at
    assert stopped_in < 5, f"stopped {stopped_in:.1f} s after SIGTERM"
    assert "planning pass stopped after" in daemon.log()
    planned = digests()
    assert 100 <= planned < 2500  # the pass was long: SIGTERM came in the middle of it
    now = utcnow()
    with transaction(engine) as s:
        left = s.scalar(select(func.count()).select_from(DepartmentDue).where(DepartmentDue.next_due_at <= now))
    assert left == 2500 - planned  # what it did not plan is still due
    cfg = config_mod.load(config)
    rest = run_pass(engine, cfg, Renderer.of(cfg), datetime.now(UTC))
    assert len(rest.queued) == 2500 - planned  # the next pass plans the rest, once
    with transaction(engine) as s:
        rows = s.execute(select(Digest.department_id, func.count()).group_by(Digest.department_id)).all()
    assert len(rows) == 2500 and {n for _, n in rows} == {1}
    engine.dispose()


