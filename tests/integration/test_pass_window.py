"""The planning pass loads only what can fire (reminders.candidate_items), yet plans exactly
what it would plan from every open item and the whole reminder log.

A year and a half of daily passes over multi-year plans (cutoff dates, non-cutoff dates,
recurring reports, a group lead, done items): at each pass the digests from the windowed
load are compared with the digests from the full load, then the pass is run for real so
the log grows as in production.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifier import config as config_mod
from notifier.db import queries
from notifier.db.engine import make_engine, transaction, upgrade, utcnow
from notifier.db.models import Department, Milestone, Plan, Task, TaskDepartment
from notifier.planning.schedule import compose_digests
from notifier.reminders import candidate_items, group_members, rules_for, run_pass
from notifier.rendering import Renderer

TZ = ZoneInfo("Asia/Shanghai")
DEPTS = ["市发改委", "市财政局", "市港口与口岸局", "市农委", "甲县政府", "乙县政府"]


def _config(tmp: Path) -> config_mod.Config:
    data = {
        "database": {"url": f"sqlite:///{tmp}/n.db"},
        "schedule": {"lead_days": [30, 7, 1], "overdue_every_days": 3},
        "escalation": {"to": ["市政府督查室"]},
        "folder": {"divert": True, "dir": str(tmp / "outbox")},
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


def _shape(digests) -> list:  # noqa: ANN001
    return [(d.department_id, d.kind, d.day, d.key, sorted(d.fired),
             [(e.item.milestone_id, e.item.occurrence, e.section, e.days, e.cutoff) for e in d.entries])
            for d in digests]


@pytest.mark.slow
def test_windowed_load_plans_the_same_digests_as_the_full_load(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    _fill(engine, random.Random(6))
    renderer = Renderer()
    day = date(2025, 5, 10)
    fired_total = 0
    compared = 0
    while day <= date(2026, 1, 20):  # three cutoffs, a year's end, a two-year plan
        times = ((9, 0), (8, 59), (16, 0)) if day.day % 5 == 0 else ((9, 0),)
        for hh, mm in times:
            now = datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)
            with transaction(engine) as s:
                from notifier.importing.store import sync_departments

                sync_departments(s, cfg)
                rules = rules_for(s, cfg)
                expand = group_members(s, cfg)
                full = compose_digests(queries.open_items(s, expand), queries.reminder_log(s), rules, now)
                items, logged = candidate_items(s, rules, expand, now)
                windowed = compose_digests(items, logged, rules, now)
                s.rollback()
            assert _shape(windowed) == _shape(full), f"differs at {now}"
            compared += 1
            if (hh, mm) == (9, 0):
                fired_total += len(run_pass(engine, cfg, renderer, now, force=True).queued)
        day += timedelta(days=1)
    assert compared > 300
    assert fired_total > 50  # the comparison saw real reminders, cutoffs and overdue cycles


@pytest.mark.parametrize("now", [datetime(2026, 1, 5, 9, 0, tzinfo=TZ), datetime(2026, 11, 20, 9, 0, tzinfo=TZ)])
def test_windowed_load_skips_far_future_items(tmp_path: Path, now: datetime) -> None:
    """Outside a cutoff's reminder window, items due months ahead are not loaded at all."""
    cfg = _config(tmp_path)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    _fill(engine, random.Random(7))
    with transaction(engine) as s:
        from notifier.importing.store import sync_departments

        sync_departments(s, cfg)
        rules = rules_for(s, cfg)
        expand = group_members(s, cfg)
        everything = queries.open_items(s, expand)
        items, _ = candidate_items(s, rules, expand, now)
    today = now.date()
    assert len(items) < len(everything)
    far = [i for i in items if i.occurrence > today + timedelta(days=80)]
    if now.month == 1:  # no cutoff within reach in early January
        assert far == []
