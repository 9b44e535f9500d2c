"""Scale benchmark: a database with many milestones, then the figures that matter in production.

    .venv/bin/python bench/scale.py --milestones 1000000                 # SQLite in ./var/bench
    .venv/bin/python bench/scale.py --milestones 1000000 --url postgresql+psycopg://…/db
    .venv/bin/python bench/scale.py --milestones 10000,1000000           # is memory flat?

The data: plans over six years (four past, this one, next), 100 tasks of 3 milestones each, one
lead department out of 200; past milestones are done except one in a thousand (overdue), and
history is in the tables (sent deliveries and their digests, the reminder log) as in a database
that has run for years. Printed:

- planning pass: the first pass at ``--now`` (it queues what is due), then a repeat pass (nothing
  new), and a pass on the day a cutoff's 30-day reminder fires (it lists whole plans);
- a tick with nothing due: the daemon's tick (outbox probe + status counts), median of 30;
- the daemon's memory: ``notifier run`` started on the database, its RSS and peak RSS after the
  start-up pass (the send window is opened for the run so that the pass really happens).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notifier import config as config_mod  # noqa: E402
from notifier.db.engine import make_engine, transaction, upgrade, utcnow  # noqa: E402
from notifier.db.models import (Base, Delivery, Department, Digest, Milestone, Plan,  # noqa: E402
                                ReminderLog, Task, TaskDepartment)
from notifier.delivery import outbox  # noqa: E402
from notifier.delivery.dispatcher import Dispatcher  # noqa: E402
from notifier.delivery.outbox import DeliveryStatus  # noqa: E402
from notifier.reminders import run_pass  # noqa: E402
from notifier.rendering import Renderer  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = 200
TASKS_PER_PLAN = 100
MS_PER_TASK = 3


def config_text(url: str, outbox: Path, window: bool) -> str:
    deps = "\n".join(f'[[departments]]\nname = "部门{i:03d}"\nemail = ["d{i}@example.gov.cn"]\n'
                     for i in range(DEPARTMENTS))
    w = 'send_window = ["00:00", "23:59"]\nsend_at = "00:01"\n' if window else ""
    return (f'[database]\nurl = "{url}"\n[schedule]\ntick_seconds = 5\n{w}'
            f'[outbox]\ndir = "{outbox}"\ndivert = true\n[escalation]\nto = ["部门000"]\n{deps}')


def fill(engine, milestones: int, today: date, seed: int = 1) -> None:  # noqa: ANN001
    rng = random.Random(seed)
    years = list(range(today.year - 4, today.year + 2))
    per_plan = TASKS_PER_PLAN * MS_PER_TASK
    n_plans = max(1, milestones // per_plan)
    now = utcnow()
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        conn.execute(insert(Department), [{"id": i + 1, "name": f"部门{i:03d}", "is_group": False, "created_at": now}
                                          for i in range(DEPARTMENTS)])
    mid = tid = 0
    dig = 0
    for p in range(n_plans):
        year = years[p % len(years)]
        plan = {"id": p + 1, "name": f"{year}年第{p}号工作方案", "doc_number": f"政办发〔{year}〕{p}号",
                "year": year, "starts_on": date(year, 1, 1), "ends_on": date(year, 12, 31),
                "source_hash": f"{p:064x}", "imported_at": now, "updated_at": now}
        tasks, roles, ms, digests, deliveries, logs = [], [], [], [], [], []
        for t in range(TASKS_PER_PLAN):
            tid += 1
            lead = rng.randrange(DEPARTMENTS) + 1
            tasks.append({"id": tid, "plan_id": p + 1, "number": str(t + 1), "title": f"重点任务{t + 1}",
                          "text": "", "position": t})
            roles.append({"task_id": tid, "department_id": lead, "role": "lead", "position": 0})
            for m in range(MS_PER_TASK):
                mid += 1
                due = date(year, 1, 1) + timedelta(days=rng.randrange(365))
                if rng.random() < 0.25:
                    month = rng.choice([6, 9, 12])
                    due = date(year, month, 31 if month == 12 else 30)
                past = due < today
                status = "done" if past and rng.random() >= 0.001 else "open"
                ms.append({"id": mid, "task_id": tid, "key": f"k{m}", "position": m, "due_on": due,
                           "text": f"完成第{m + 1}阶段工作，形成书面报告报送督查室", "phrase": f"{due.month}月底前",
                           "recurrence": None, "status": status, "done_at": now if status == "done" else None,
                           "note": None})
                if past and m == 0:  # history: a reminder was sent for it
                    dig += 1
                    sent = datetime.combine(due - timedelta(days=7), datetime.min.time()) + timedelta(hours=1)
                    digests.append({"id": dig, "key": f"d{dig}", "department_id": lead, "kind": "reminder",
                                    "day": sent.date(), "created_at": sent, "subject": "提醒", "text": "t",
                                    "html": "h", "markdown": "m", "data": "{}"})
                    deliveries.append({"key": f"ntf_d{dig}", "digest_id": dig, "department_id": lead,
                                       "channel": "email", "recipient": f"d{lead - 1}@example.gov.cn",
                                       "status": "sent", "attempts": 1, "due_at": sent, "next_attempt_at": sent,
                                       "sent_at": sent, "created_at": sent})
                    logs.append({"department_id": lead, "series": f"ms:{mid}:{due}", "trigger_at": sent,
                                 "digest_id": dig})
        with engine.begin() as conn:
            conn.execute(insert(Plan), [plan])
            conn.execute(insert(Task), tasks)
            conn.execute(insert(TaskDepartment), roles)
            conn.execute(insert(Milestone), ms)
            if digests:
                conn.execute(insert(Digest), digests)
                conn.execute(insert(Delivery), deliveries)
                conn.execute(insert(ReminderLog), logs)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("departments", "plans", "tasks", "milestones", "digests"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def timed(fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def tick_ms(engine) -> float:  # noqa: ANN001
    """The daemon's idle tick: the outbox probe, then the status line's counts."""
    def tick() -> None:
        with transaction(engine) as s:
            if outbox.anything_due(s, utcnow()):
                raise SystemExit("bench: something is due; the idle tick needs an idle outbox")
        with transaction(engine) as s:
            outbox.count_status(s, DeliveryStatus.FAILED)
            outbox.count_status(s, DeliveryStatus.PENDING)
    for _ in range(3):
        tick()
    samples = [timed(tick)[1] * 1000 for _ in range(30)]
    return statistics.median(samples)


def claim_ms(engine) -> float:  # noqa: ANN001
    d = Dispatcher(engine, lambda *_: None)
    samples = [timed(lambda: d.claim(utcnow(), 200))[1] * 1000 for _ in range(20)]
    return statistics.median(samples)


def daemon_memory(cfg: Path, seconds: float) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(cfg), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        last_cpu, still = -1.0, 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # until the start-up pass is over (CPU time stops)
            time.sleep(0.5)
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            still = still + 1 if cpu - last_cpu < 0.02 else 0
            last_cpu = cpu
            if still >= 6:
                break
        status = Path(f"/proc/{proc.pid}/status").read_text()
        val = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines()
               if line.startswith(("VmRSS", "VmHWM"))}
        return val["VmRSS"], val["VmHWM"]
    finally:
        proc.terminate()
        proc.wait(30)


def working_day_9(day: date) -> datetime:
    from notifier.planning.calendar import WorkCalendar

    return datetime.combine(WorkCalendar().on_or_after(day), datetime.min.time().replace(hour=9), tzinfo=TZ)


def run(size: int, url: str | None, workdir: Path) -> dict:
    if url is None:
        db = workdir / f"scale-{size}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    today = datetime.now(TZ).date()
    _, fill_s = timed(lambda: fill(engine, size, today))
    outbox = workdir / f"outbox-{size}"
    cfg_path = workdir / f"scale-{size}.toml"
    cfg_path.write_text(config_text(url, outbox, window=False), encoding="utf-8")
    cfg = config_mod.load(cfg_path)
    renderer = Renderer()
    now = working_day_9(today)
    first, first_s = timed(lambda: run_pass(engine, cfg, renderer, now, force=True))
    _, repeat_s = timed(lambda: run_pass(engine, cfg, renderer, now, force=True))
    cutoff_day = working_day_9(date(today.year, 12, 1) if today < date(today.year, 12, 1) else date(today.year + 1, 6, 1))
    cutoff, cutoff_s = timed(lambda: run_pass(engine, cfg, renderer, cutoff_day, force=True))
    with transaction(engine) as s:  # the bench measures an idle outbox: mark the queued ones sent
        s.execute(text("UPDATE deliveries SET status = 'sent', sent_at = created_at WHERE status = 'pending'"))
    tick = tick_ms(engine)
    claim = claim_ms(engine)
    with engine.connect() as conn:
        n_ms = conn.execute(text("SELECT count(*) FROM milestones")).scalar()
        n_del = conn.execute(text("SELECT count(*) FROM deliveries")).scalar()
    cfg_path.write_text(config_text(url, outbox, window=True), encoding="utf-8")
    rss, hwm = daemon_memory(cfg_path, 300)
    engine.dispose()
    return {"db": engine.dialect.name, "milestones": n_ms, "deliveries": n_del, "fill_s": fill_s,
            "pass_first_s": first_s, "queued_first": len(first.queued), "pass_repeat_s": repeat_s,
            "pass_cutoff_s": cutoff_s, "queued_cutoff": len(cutoff.queued), "cutoff_day": f"{cutoff_day:%Y-%m-%d}",
            "now": f"{now:%Y-%m-%d %H:%M}", "tick_ms": tick, "claim_ms": claim, "rss_mb": rss, "peak_rss_mb": hwm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--milestones", default="1000000", help="one size or a comma-separated list")
    ap.add_argument("--url", help="a database URL (default: SQLite files in --workdir); it is emptied!")
    ap.add_argument("--workdir", type=Path, default=REPO / "var" / "bench")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for size in [int(x) for x in args.milestones.split(",")]:
        r = run(size, args.url, args.workdir)
        print(f"{r['db']:>10} {r['milestones']:>9,} milestones, {r['deliveries']:,} deliveries (filled in {r['fill_s']:.0f} s)")
        print(f"{'':>10} planning pass at {r['now']}: {r['pass_first_s'] * 1000:,.0f} ms "
              f"({r['queued_first']} digests queued); repeat pass {r['pass_repeat_s'] * 1000:,.0f} ms; "
              f"cutoff reminder day {r['cutoff_day']}: {r['pass_cutoff_s'] * 1000:,.0f} ms ({r['queued_cutoff']} digests)")
        print(f"{'':>10} idle tick {r['tick_ms']:.1f} ms (target < 20), empty claim {r['claim_ms']:.1f} ms")
        print(f"{'':>10} daemon memory after its start-up pass: RSS {r['rss_mb']:.0f} MB, "
              f"peak {r['peak_rss_mb']:.0f} MB (target < 150)", flush=True)


if __name__ == "__main__":
    main()
