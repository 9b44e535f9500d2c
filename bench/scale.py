"""Scale benchmark: does a pass cost what is due, or what is stored? Figures and ratios, one run.

    .venv/bin/python bench/scale.py --milestones 10000,1000000            # SQLite files under --workdir
    .venv/bin/python bench/scale.py --milestones 10000,1000000 --pg URL   # PostgreSQL (the database is emptied!)

The data, built in bulk (and, for SQLite, cached under ``--workdir`` between runs of the same day):

- the *live part*, the same at every size: 200 departments (部门000 is the supervision office,
  the escalation recipient), and 8 plans for this year and 8 for next year, each of 100 tasks
  with 3 milestones (a quarter of them on a cutoff date), led by a department drawn with a
  fixed seed; this year's dates already past are done, except one in a hundred (overdue);
- *history*, which makes up the rest of the size: the plans of past years, closed, their
  milestones done (one in a thousand never was), each first milestone with the reminder that
  went out for it (a digest, its delivery and its reminder-log row), as in a database that has
  served a province for years.

So at every size the same departments are due on the same days: the ratios compare the same
work, and the bench prints the number of due departments to show it. Per size it prints:

- the pass that builds the due index (every department due, as after the upgrade);
- the planning pass on an ordinary working day, at 09:00 (the day before was planned);
- the same day's hourly pass (nothing new is due);
- the pass on the day the 30-day reminder of the December (or June) cutoff fires;
- the idle tick (outbox probe + status counts, median of 30);
- the daemon's RSS after its start-up pass (``notifier run`` on the database: every
  department is due then, since the daemon's config differs from the bench's);
and then the ratio of the largest size to the smallest for each.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, insert, text, update

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notifier import config as config_mod  # noqa: E402
from notifier import due_index  # noqa: E402
from notifier.db.engine import make_engine, transaction, upgrade, utcnow  # noqa: E402
from notifier.db.models import (Base, Delivery, Department, Digest, Milestone, Plan, ReminderLog, Task,  # noqa: E402
                                TaskDepartment)
from notifier.delivery import outbox  # noqa: E402
from notifier.planning.calendar import WorkCalendar  # noqa: E402
from notifier.reminders import PassResult, run_pass  # noqa: E402
from notifier.rendering import Renderer  # noqa: E402
from notifier.terms import DeliveryStatus  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = 200
TASKS_PER_PLAN = 100
MS_PER_TASK = 3
LIVE_PLANS_PER_YEAR = 8
DATA_VERSION = 1  # bump when the data changes: cached databases are rebuilt


def config_text(url: str, folder: Path, window: bool) -> str:
    deps = "\n".join(f'[[departments]]\nname = "部门{i:03d}"\nemail = ["d{i}@example.gov.cn"]\n'
                     for i in range(DEPARTMENTS))
    w = 'send_window = ["00:00", "23:59"]\nsend_at = "00:01"\n' if window else ""
    return (f'[database]\nurl = "{url}"\n[schedule]\ntick_seconds = 5\n{w}'
            f'[folder]\ndir = "{folder}"\ndivert = true\n[escalation]\nto = ["部门000"]\n{deps}')


def _plan_rows(pid: int, year: int, closed: bool, rng: random.Random, today: date, ids: dict[str, int],
               now: datetime) -> dict[str, list[dict[str, Any]]]:
    """One plan of TASKS_PER_PLAN tasks with their milestones (and, for history, what was sent)."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("plan", "task", "role", "ms", "digest", "delivery", "log")}
    out["plan"].append({"id": pid, "name": f"{year}年第{pid}号工作方案", "doc_number": f"政办发〔{year}〕{pid}号",
                        "year": year, "starts_on": date(year, 1, 1), "ends_on": date(year, 12, 31),
                        "source_hash": f"{pid:064x}", "imported_at": now, "updated_at": now,
                        "status": "closed" if closed else "active", "closed_at": now if closed else None})
    for t in range(TASKS_PER_PLAN):
        ids["task"] += 1
        tid = ids["task"]
        lead = rng.randrange(DEPARTMENTS) + 1
        out["task"].append({"id": tid, "plan_id": pid, "number": str(t + 1), "title": f"重点任务{t + 1}",
                            "text": "", "position": t})
        out["role"].append({"task_id": tid, "department_id": lead, "role": "lead", "position": 0})
        for m in range(MS_PER_TASK):
            ids["ms"] += 1
            mid = ids["ms"]
            due = date(year, 1, 1) + timedelta(days=rng.randrange(365))
            if rng.random() < 0.25:
                month = rng.choice([6, 9, 12])
                due = date(year, month, 31 if month == 12 else 30)
            past = due < today
            left_open = rng.random() < (0.001 if closed else 0.01)
            status = "done" if (closed or past) and not left_open else "open"
            out["ms"].append({"id": mid, "task_id": tid, "key": f"k{m}", "position": m, "due_on": due,
                              "text": f"完成第{m + 1}阶段工作，形成书面报告报送督查室", "phrase": f"{due.month}月底前",
                              "recurrence": None, "status": status, "done_at": now if status == "done" else None,
                              "note": None})
            if closed and m == 0:  # history: the reminder that went out for it
                ids["digest"] += 1
                dig = ids["digest"]
                sent = datetime.combine(due - timedelta(days=7), datetime.min.time()) + timedelta(hours=1)
                out["digest"].append({"id": dig, "key": f"d{dig}", "department_id": lead, "kind": "reminder",
                                      "day": sent.date(), "created_at": sent, "subject": "提醒", "text": "t",
                                      "html": "h", "markdown": "m", "data": "{}"})
                out["delivery"].append({"key": f"ntf_d{dig}", "digest_id": dig, "department_id": lead,
                                        "channel": "email", "recipient": f"d{lead - 1}@example.gov.cn",
                                        "status": "sent", "attempts": 1, "due_at": sent, "next_attempt_at": sent,
                                        "sent_at": sent, "created_at": sent})
                out["log"].append({"department_id": lead, "series": f"ms:{mid}:{due}", "trigger_at": sent,
                                   "digest_id": dig})
    return out


TABLES = (("plan", Plan), ("task", Task), ("role", TaskDepartment), ("ms", Milestone), ("digest", Digest),
          ("delivery", Delivery), ("log", ReminderLog))


def fill(engine: Engine, milestones: int, today: date) -> None:
    """The live part (same seed at every size), then closed history up to ``milestones``."""
    now = utcnow()
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(delete(table))
        conn.execute(insert(Department), [{"id": i + 1, "name": f"部门{i:03d}", "is_group": False, "created_at": now}
                                          for i in range(DEPARTMENTS)])
    per_plan = TASKS_PER_PLAN * MS_PER_TASK
    live = [(today.year + y, False) for y in (0, 1) for _ in range(LIVE_PLANS_PER_YEAR)]
    n_history = max(0, milestones // per_plan - len(live))
    history = [(today.year - 1 - (p % 4), True) for p in range(n_history)]
    ids = {"task": 0, "ms": 0, "digest": 0}
    live_rng, history_rng = random.Random(1), random.Random(2)
    for pid, (year, closed) in enumerate(live + history, start=1):
        rows = _plan_rows(pid, year, closed, history_rng if closed else live_rng, today, ids, now)
        with engine.begin() as conn:
            for key, model in TABLES:
                if rows[key]:
                    conn.execute(insert(model), rows[key])
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("departments", "plans", "tasks", "milestones", "digests", "deliveries", "reminder_log"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # A database that has run for years has been vacuumed (autovacuum): the visibility map
        # lets the outbox counts be index-only scans. A fresh bulk load has none yet.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with transaction(engine) as s:
        due_index.mark_all(s)  # as the upgrade does


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def tick_ms(engine: Engine) -> float:
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
    return statistics.median(timed(tick)[1] * 1000 for _ in range(30))


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


def at_9(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=TZ)


def bench_days(today: date) -> tuple[date, date]:
    """An ordinary working day (the next one), and the day the December (or June) cutoff's
    30-day reminder fires."""
    cal = WorkCalendar()
    ordinary = cal.on_or_after(today + timedelta(days=1))
    cutoff = date(today.year, 12, 31) if today < date(today.year, 12, 1) else date(today.year + 1, 6, 30)
    return ordinary, cal.on_or_before(cutoff - timedelta(days=30))


def sqlite_db(size: int, today: date, workdir: Path) -> str:
    """A working copy of the cached database of this size (built when missing)."""
    cache = workdir / f"scale-{size}-{today:%Y%m%d}-v{DATA_VERSION}.db"
    work = workdir / f"scale-{size}.db"
    if not cache.exists():
        partial = cache.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{partial}")
        upgrade(engine)
        _, fill_s = timed(lambda: fill(engine, size, today))
        engine.dispose()
        import sqlite3

        with sqlite3.connect(partial) as raw:  # the cache is one file: its WAL folded in
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        partial.rename(cache)
        print(f"(built {cache.name} in {fill_s:.0f} s)", flush=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(cache, work)
    return f"sqlite:///{work}"


def run(size: int, pg: str | None, workdir: Path, today: date) -> dict[str, Any]:
    if pg is None:
        url = sqlite_db(size, today, workdir)
        engine = make_engine(url)
        upgrade(engine)
    else:
        url = pg
        engine = make_engine(url)
        upgrade(engine)
        _, fill_s = timed(lambda: fill(engine, size, today))
        print(f"(filled PostgreSQL in {fill_s:.0f} s)", flush=True)
    folder = workdir / f"folder-{size}"
    cfg_path = workdir / f"scale-{size}.toml"
    cfg_path.write_text(config_text(url, folder, window=False), encoding="utf-8")
    cfg = config_mod.load(cfg_path)
    renderer = Renderer.of(cfg)
    ordinary, cutoff_day = bench_days(today)
    cal = WorkCalendar()

    def sent() -> None:  # the dispatcher sent what was queued: the outbox is idle again
        with transaction(engine) as s:
            s.execute(update(Delivery).where(Delivery.status == "pending")
                      .values(status="sent", attempts=1, sent_at=Delivery.created_at))

    def at(day: date, hour: int = 9) -> Callable[[], PassResult]:
        return lambda: run_pass(engine, cfg, renderer, at_9(day) + timedelta(hours=hour - 9), force=True)

    build, build_s = timed(at(cal.on_or_before(ordinary - timedelta(days=1))))
    sent()
    first, first_s = timed(at(ordinary))
    sent()
    hourly, hourly_s = timed(at(ordinary, 10))
    sent()
    run_pass(engine, cfg, renderer, at_9(cal.on_or_before(cutoff_day - timedelta(days=1))), force=True)
    sent()
    cutoff, cutoff_s = timed(at(cutoff_day))
    sent()
    tick = tick_ms(engine)
    with engine.connect() as conn:
        n_ms = conn.execute(text("SELECT count(*) FROM milestones")).scalar()
        n_open = conn.execute(text("SELECT count(*) FROM milestones WHERE status = 'open'")).scalar()
        n_del = conn.execute(text("SELECT count(*) FROM deliveries")).scalar()
    cfg_path.write_text(config_text(url, folder, window=True), encoding="utf-8")
    rss, hwm = daemon_memory(cfg_path, 600)
    engine.dispose()
    return {"db": engine.dialect.name, "milestones": n_ms, "open": n_open, "deliveries": n_del,
            "build_s": build_s, "build_due": build.due_departments, "build_queued": len(build.queued),
            "pass_s": first_s, "pass_due": first.due_departments, "pass_queued": len(first.queued),
            "hourly_s": hourly_s, "hourly_due": hourly.due_departments,
            "cutoff_s": cutoff_s, "cutoff_due": cutoff.due_departments, "cutoff_queued": len(cutoff.queued),
            "ordinary": ordinary, "cutoff_day": cutoff_day, "tick_ms": tick, "rss_mb": rss, "peak_rss_mb": hwm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--milestones", default="10000,1000000", help="one size or a comma-separated list")
    ap.add_argument("--pg", "--url", dest="pg", metavar="URL",
                    help="a PostgreSQL database URL instead of SQLite files; it is emptied!")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/notifier-bench-scale"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    today = datetime.now(TZ).date()
    results = []
    for size in [int(x) for x in args.milestones.split(",")]:
        r = run(size, args.pg, args.workdir, today)
        results.append(r)
        print(f"{r['db']:>10} {r['milestones']:>9,} milestones ({r['open']:,} open), {r['deliveries']:,} deliveries")
        print(f"{'':>10} index build pass (all {r['build_due']} departments due): {r['build_s'] * 1000:,.0f} ms, "
              f"{r['build_queued']} digests")
        print(f"{'':>10} ordinary day {r['ordinary']} 09:00: {r['pass_s'] * 1000:,.0f} ms, "
              f"{r['pass_due']} departments due, {r['pass_queued']} digests; "
              f"10:00 pass {r['hourly_s'] * 1000:,.0f} ms ({r['hourly_due']} due)")
        print(f"{'':>10} cutoff reminder day {r['cutoff_day']} 09:00: {r['cutoff_s'] * 1000:,.0f} ms, "
              f"{r['cutoff_due']} departments due, {r['cutoff_queued']} digests")
        print(f"{'':>10} idle tick {r['tick_ms']:.2f} ms; daemon after its start-up pass: RSS {r['rss_mb']:.1f} MB "
              f"(peak {r['peak_rss_mb']:.1f} MB)", flush=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"ratios {b['milestones']:,} / {a['milestones']:,} milestones "
              f"(due departments {a['pass_due']} -> {b['pass_due']} ordinary, {a['cutoff_due']} -> {b['cutoff_due']} "
              f"cutoff day):")
        for label, key, target in (("ordinary-day pass", "pass_s", 3), ("cutoff-day pass", "cutoff_s", 3),
                                   ("10:00 pass", "hourly_s", 3), ("idle tick", "tick_ms", 1.5),
                                   ("daemon RSS", "rss_mb", 1.15)):
            ratio = b[key] / a[key]
            print(f"  {label:<18} {ratio:5.2f}x  (target <= {target}x{'' if ratio <= target else ', MISSED'})")


if __name__ == "__main__":
    main()
