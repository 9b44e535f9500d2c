"""The planning pass plans only the departments the due index says are due, yet it queues
exactly what the planner would queue from every open item and the whole reminder log, while
plans are imported and edited, items done, reopened and extended, plans closed and reopened
and departments paused, through the modules that do each of those.

Two thirds of a year of daily passes over multi-year plans (cutoff dates, non-cutoff dates,
recurring reports, a group lead): before each pass the digests the whole database calls for
are planned from scratch; the pass (due index, pages of departments) must queue the same
digests with the same text.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from notifier import config as config_mod
from notifier import due_index
from notifier.db import queries
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Delivery, Department, DepartmentDue, Digest, Milestone, Plan, Task, TaskDepartment
from notifier.importing.readers import read_plan
from notifier.departments import sync_departments
from notifier.importing.store import store_plan
from notifier.office.actions import extend_deadline
from notifier.office.pauses import end_pause, pause_spans, start_pause
from notifier.plan_life import close_plan, reopen_plan
from notifier.planning.schedule import compose_digests
from notifier.marks import apply_mark
from notifier.reminders import (CLOCK_SKEW, group_members, ladder_of, open_items, outcomes_of, rules_for,
                                run_pass, without_paused)
from notifier.rendering import Renderer

from tests.support.database import migrated

TZ = ZoneInfo("Asia/Shanghai")
DEPTS = ["市发改委", "市财政局", "市港口与口岸局", "市农委", "甲县政府", "乙县政府"]


def _config(tmp: Path, max_items: int = 30, url: str | None = None) -> config_mod.Config:
    data = {
        "database": {"url": url or f"sqlite:///{tmp}/n.db"},
        "schedule": {"lead_days": [30, 7, 1], "overdue_every_days": 3, "max_items": max_items},
        "escalation": {"to": ["市政府督查室"]},
        "outbox": {"divert": True, "dir": str(tmp / "outbox")},
        "departments": [{"name": "市政府督查室", "email": ["dc@example.cn"]}]
        + [{"name": n, "email": [f"d{i}@example.cn"]} for i, n in enumerate(DEPTS)]
        + [{"name": "各县区政府", "members": ["甲县政府", "乙县政府"]}],
    }
    return config_mod.parse(data, tmp / "config.toml")


def _fill(engine, rng: random.Random) -> None:
    now = utcnow()
    with transaction(engine) as s:
        deps = {}
        for name in DEPTS + ["各县区政府"]:
            deps[name] = Department(name=name, is_group=name.startswith("各"), created_at=now)
            s.add(deps[name])
        s.flush()
        for p in range(6):
            year = 2025 + p % 3
            span = 1 + p % 2  # one- and two-year plans
            plan = Plan(name=f"计划{p}", doc_number=f"文{p}", year=year, starts_on=date(year, 1, 1),
                        ends_on=date(year + span - 1, 12, 31), source_hash=f"h{p}", imported_at=now,
                        updated_at=now)
            s.add(plan)
            s.flush()
            for t in range(8):
                task = Task(plan_id=plan.id, number=str(t + 1), title=f"任务{p}-{t}", text="", position=t)
                s.add(task)
                s.flush()
                lead = rng.choice(DEPTS + ["各县区政府"])
                s.add(TaskDepartment(task_id=task.id, department_id=deps[lead].id, role="lead", position=0))
                if rng.random() < 0.3:
                    other = rng.choice([d for d in DEPTS if d != lead])
                    s.add(TaskDepartment(task_id=task.id, department_id=deps[other].id, role="lead", position=1))
                for m in range(rng.randint(1, 4)):
                    day = plan.starts_on + timedelta(days=rng.randrange((plan.ends_on - plan.starts_on).days + 1))
                    if rng.random() < 0.3:  # a cutoff date (6/9/12 month end)
                        month = rng.choice([6, 9, 12])
                        day = date(day.year, month, 30 if month in (6, 9) else 31)
                    rule = None
                    if t == 0 and m == 0:
                        rule = rng.choice(["quarterly", "monthly:25"])
                    s.add(Milestone(task_id=task.id, key=f"k{m}", position=m, due_on=day, text=f"节点{p}-{t}-{m}",
                                    phrase="", recurrence=rule,
                                    status="done" if rng.random() < 0.15 else "open"))


def _expected(engine, cfg: config_mod.Config, renderer: Renderer, now: datetime) -> dict[str, tuple]:  # noqa: ANN001
    """What the planner queues from everything: digest key -> (department, kind, text)."""
    today = now.astimezone(TZ).date()
    with transaction(engine) as s:
        sync_departments(s, cfg)
        rules = rules_for(s, cfg)
        items = without_paused(open_items(s, group_members(s, cfg), active_only=True), pause_spans(s), today)
        logged = queries.reminder_log(s, upto=now.astimezone(UTC).replace(tzinfo=None) + CLOCK_SKEW)
        closing = queries.plans_to_close(s, today - timedelta(days=rules.after_end_days))
        digests = compose_digests(items, logged, rules, now, closing=closing,
                                  sent_today=queries.departments_sent_today(s, today),
                                  ladder=ladder_of(s, cfg, items, today))  # the grade ladder's step ups
        names = queries.department_names(s)
        out = {d.key: (names[d.department_id], d.kind,
                       renderer.render_digest(d, names[d.department_id], now, names, None,
                                              outcomes_of(s, d, cfg)).text)
               for d in digests if cfg.department(names[d.department_id])}
        s.rollback()
    return out


def _queued(engine, after: int) -> dict[str, tuple]:  # noqa: ANN001
    with transaction(engine) as s:
        return {k: (name, kind, text) for k, name, kind, text in s.execute(
            select(Digest.key, Department.name, Digest.kind, Digest.text)
            .join(Department, Department.id == Digest.department_id)
            .where(Digest.id > after, Digest.kind != "notice"))}


def _last_digest(engine) -> int:  # noqa: ANN001
    """The newest digest; what was queued before counts as sent (as the dispatcher would)."""
    with transaction(engine) as s:
        s.execute(update(Delivery).where(Delivery.status == "pending").values(status="sent", attempts=1))
        return s.scalar(select(Digest.id).order_by(Digest.id.desc()).limit(1)) or 0


CSV = """序号,工作任务,牵头单位,责任单位,配合单位,完成时限,节点内容
1,港口扩能,市港口与口岸局,市财政局,,{d1},完成港口扩能
2,乡村振兴,各县区政府,,市农委,{d2},完成乡村振兴
3,财政改革,市财政局,,,{d3},完成财政改革
"""


def _import(engine, cfg: config_mod.Config, tmp: Path, dates: tuple[date, date, date]) -> None:  # noqa: ANN001
    path = tmp / "plan.csv"
    path.write_text(CSV.format(d1=dates[0], d2=dates[1], d3=dates[2]), encoding="utf-8")
    spec = read_plan(path, year=2025, plan_name="导入的方案")
    with transaction(engine) as s:
        store_plan(s, spec, cfg)


def _change(engine, cfg: config_mod.Config, tmp: Path, rng: random.Random, day: date, now: datetime) -> str:  # noqa: ANN001
    """One change of the kind a day brings, through the module that owns it."""
    at = now.astimezone(UTC).replace(tzinfo=None) - timedelta(hours=2)
    kind = ["done", "reopen", "extend", "close", "reopen-plan", "pause", "resume", "import"][day.toordinal() % 8]
    if kind == "import":
        shift = timedelta(days=day.toordinal() % 40)
        _import(engine, cfg, tmp, (day + timedelta(days=20) - shift, day + timedelta(days=45), date(2025, 12, 31)))
        return kind
    with transaction(engine) as s:
        open_ms = list(s.scalars(select(Milestone).join(Task).join(Plan).where(
            Plan.status == "active", Milestone.status == "open").order_by(Milestone.id)))
        done_ms = list(s.scalars(select(Milestone).where(Milestone.status == "done", Milestone.recurrence.is_(None))
                                 .order_by(Milestone.id)))
        plans = list(s.scalars(select(Plan).order_by(Plan.id)))
        if kind == "done" and open_ms:
            m = rng.choice(open_ms)
            occ = None
            if m.recurrence:
                occ = min((it.occurrence for it in open_items(s) if it.milestone_id == m.id), default=None)
                if occ is None:
                    return kind
            apply_mark(s, m.id, occurrence=occ, now=at)
        elif kind == "reopen" and done_ms:
            apply_mark(s, rng.choice(done_ms).id, done=False, now=at)
        elif kind == "extend":
            ones = [m for m in open_ms if not m.recurrence]
            if ones:
                m = rng.choice(ones)
                extend_deadline(s, m.id, m.due_on + timedelta(days=rng.choice([-20, -9, 5, 30])), "工作调整",
                                actor="督查室", now=at)
        elif kind == "close":
            close_plan(rng.choice(plans), at)
        elif kind == "reopen-plan":
            for p in plans:
                reopen_plan(p)
        elif kind == "pause":
            if rng.random() < 0.5:
                task = rng.choice(list(s.scalars(select(Task.id))))
                start_pause(s, task_id=task, department_id=None, reason="调整", ends_on=day + timedelta(days=9),
                            today=day, actor="督查室", now=at)
            else:
                dep = s.scalar(select(Department.id).where(Department.name == rng.choice(DEPTS)))
                start_pause(s, task_id=None, department_id=dep, reason="调整", ends_on=day + timedelta(days=4),
                            today=day, actor="督查室", now=at)
        elif kind == "resume":
            live = [p for p in pause_spans(s) if not p.resumed and p.ends_on >= day]
            if live:
                end_pause(s, rng.choice(live).id, actor="督查室", now=at)
    return kind


@pytest.mark.slow
@pytest.mark.parametrize("max_items", [30, 2])  # 2: long sections are loaded in part, counted in SQL
def test_due_index_pass_queues_what_the_whole_database_calls_for_through_every_change(tmp_path: Path,
                                                                                     max_items: int) -> None:
    cfg = _config(tmp_path, max_items)
    live_through(cfg, tmp_path, date(2026, 1, 20))  # three cutoffs, a year's end, a two-year plan


def live_through(cfg: config_mod.Config, tmp_path: Path, last: date) -> None:
    """Daily passes from 2025-05-10 to ``last``, a change each working day, each pass compared
    with what the whole database calls for (also run on PostgreSQL: tests/pg)."""
    engine = migrated(cfg.database_url)
    _fill(engine, random.Random(6))
    with transaction(engine) as s:
        sync_departments(s, cfg)  # committed: a PostgreSQL sequence does not roll back with _expected
        due_index.mark_all(s)  # rows written by hand, as after an upgrade
    renderer = Renderer.of(cfg)
    rng = random.Random(11)
    day = date(2025, 5, 10)
    queued = planned_total = looked_at = 0
    kinds = set()
    while day <= last:
        if day.weekday() < 5:
            kinds.add(_change(engine, cfg, tmp_path, rng, day, datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ)))
        times = ((9, 0), (8, 59), (16, 0)) if day.day % 5 == 0 else ((9, 0),)
        for hh, mm in times:
            now = datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)
            expected = _expected(engine, cfg, renderer, now)
            before = _last_digest(engine)
            result = run_pass(engine, cfg, renderer, now, force=True, page_size=3)
            got = _queued(engine, before)
            assert got == expected, f"differs at {now}: {sorted(set(got) ^ set(expected))}"
            queued += len(got)
            planned_total += result.planned
            looked_at += 1
        day += timedelta(days=1)
    assert kinds >= {"done", "reopen", "extend", "close", "reopen-plan", "pause", "resume", "import"}
    assert queued > 50  # the comparison saw real reminders, cutoffs and overdue cycles
    # ...and the index kept the passes small: most passes planned only a few departments.
    assert planned_total < looked_at * 4
    engine.dispose()  # no connection left for the garbage collector to warn about


def test_a_pass_plans_only_the_due_departments_and_stores_their_next_time(tmp_path: Path) -> None:
    """After a pass every department has a next time in the future; a second pass at the same
    time plans only the escalation department (it reads everyone's overdue items)."""
    cfg = _config(tmp_path)
    engine = migrated(cfg.database_url)
    _fill(engine, random.Random(7))
    with transaction(engine) as s:
        due_index.mark_all(s)
    now = datetime(2025, 6, 3, 9, 0, tzinfo=TZ)
    first = run_pass(engine, cfg, Renderer(), now, force=True)
    assert first.due_departments >= 7 and first.planned == first.due_departments
    with transaction(engine) as s:
        times = dict(s.execute(select(DepartmentDue.department_id, DepartmentDue.next_due_at)).all())
    assert all(t is None or t > now.astimezone(UTC).replace(tzinfo=None) for t in times.values())
    again = run_pass(engine, cfg, Renderer(), now + timedelta(minutes=30), force=True)
    assert again.due_departments == 1 and not again.queued
