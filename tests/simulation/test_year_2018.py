"""The proof: the 2018 plan lived through, every day from 2018-01-01 to 2019-02-28.

The plan text is imported through the real importer on the first day, every department named
in it (collective names aside) has an e-mail address on the real SMTP test server, and a
09:00 pass runs every day with pinned time, in-process, its deliveries sent at once. Done
marks follow a fixed pattern (early, on the date, late, never). What arrived is checked
against the ground truth kept here, independently of the planner:

- every occurrence that is not done early gets a reminder before its date;
- no department gets more than one message a day;
- overdue items are listed every ``overdue_every_days`` working days, and every message lists
  all the department's open overdue items (its subject counts them right);
- each escalation lists every open overdue item the office is not itself reminded about;
- nothing is sent about an item after it is done, about a date before the plan was issued,
  or to a department after the plan's end plus grace;
- the office gets the closing report once.

Run with ``-s`` to see the table of messages per department per month.

The grade ladder (issue 11) made the year 441 messages instead of 403: nobody here ever signs
for a reminder (签收), so each item a reminder asked about goes 黄 two working days later, and
that 催办 is a message on a day the department had none (45 messages are written as 催办, 22 as
督办, 2 as 提醒; the rest carry no step). Every rule above still holds: one message a day at most.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from notifier import config as config_mod
from notifier.cli import deliver
from notifier.db import queries
from notifier.db.engine import transaction
from notifier.db.models import Plan
from notifier.importing.departments import is_group
from notifier.importing.readers import read_plan
from notifier.importing.store import store_plan
from notifier.marks import apply_mark
from notifier.reminders import calendar_of, open_items, run_pass
from notifier.rendering import Renderer

from tests.support.database import migrated
from tests.support.paths import PLANS

pytestmark = pytest.mark.slow  # a year of passes: half a minute

TZ = ZoneInfo("Asia/Shanghai")
PLAN_TEXT = PLANS / "panjin-2018-coastal-economic-belt.txt"
OFFICE = "市政府督查室"
FIRST, LAST = date(2018, 1, 1), date(2019, 2, 28)
EVERY = 3  # [schedule] overdue_every_days
GRACE = 30  # [schedule] after_end_days


def _config(tmp_path, port: int, names: list[str]) -> config_mod.Config:
    deps = [{"name": OFFICE, "email": ["office@example.gov.cn"]}]
    deps += [{"name": n, "email": [f"d{i}@example.gov.cn"]} for i, n in enumerate(names) if n != OFFICE]
    data = {
        "database": {"url": f"sqlite:///{tmp_path}/n.db"},
        "schedule": {"lead_days": [30, 7, 1], "overdue_every_days": EVERY, "after_end_days": GRACE,
                     "stagger_seconds": 0},
        "escalation": {"to": [OFFICE], "weekday": 1},
        "office": {"name": OFFICE, "contact": "0427-2800000"},
        "email": {"host": "127.0.0.1", "port": port, "security": "none", "from": "notifier@example.gov.cn"},
        "delivery": {"max_attempts": 2, "backoff_seconds": 1},
        "departments": deps,
    }
    return config_mod.parse(data, tmp_path / "config.toml")


def _done_day(i: int, occ: date) -> date | None:
    """The fixed pattern of answers: a fifth never, two fifths early, one on the day, one late."""
    return {0: None, 1: occ - timedelta(days=5), 2: occ - timedelta(days=12), 3: occ + timedelta(days=10),
            4: occ}[i % 5]


@pytest.fixture(scope="module")
def year(tmp_path_factory, request):  # noqa: ANN001, ANN201
    from tests.support.servers import SMTPServer

    tmp_path = tmp_path_factory.mktemp("year")
    smtp = SMTPServer()
    request.addfinalizer(smtp.stop)
    spec = read_plan(PLAN_TEXT)
    names = [n for n in spec.departments() if not is_group(n)]
    cfg = _config(tmp_path, smtp.port, names)
    engine = migrated(cfg.database_url)
    with transaction(engine) as s:
        store_plan(s, spec, cfg)
        occurrences = open_items(s)  # every occurrence, with its lead departments
        names_by_id = queries.department_names(s)
    address = {d.name: d.email[0] for d in cfg.departments}
    marks: dict[date, list] = defaultdict(list)
    done: dict[tuple[int, date], date] = {}
    for i, it in enumerate(sorted(occurrences, key=lambda it: (it.occurrence, it.milestone_id))):
        day = _done_day(i, it.occurrence)
        if day is not None:
            day = max(day, FIRST)
            marks[day].append(it)
            done[(it.milestone_id, it.occurrence)] = day
    renderer = Renderer.of(cfg)
    started, cpu_started = time.monotonic(), time.process_time()
    sent: list[tuple[date, str, dict, str]] = []  # (day, department, data, subject)
    per_rcpt_day: Counter = Counter()
    day = FIRST
    while day <= LAST:
        if marks.get(day):
            at = datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=TZ).astimezone(UTC)
            with transaction(engine) as s:
                for it in marks[day]:
                    apply_mark(s, it.milestone_id, occurrence=it.occurrence if it.recurrence else None,
                               now=at.replace(tzinfo=None))
        now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ)
        before = len(smtp.received)
        result = run_pass(engine, cfg, renderer, now)
        if result.queued:
            counts = deliver(engine, cfg, now.astimezone(UTC).replace(tzinfo=None))
            assert counts.sent == sum(len(q.contacts) for q in result.queued) and not counts.failed
        for r in smtp.received[before:]:
            per_rcpt_day[(r.rcpt, day)] += 1
        sent += [(day, q.department, q.rendered.data, q.rendered.subject) for q in result.queued]
        day += timedelta(days=1)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
    with transaction(engine) as s:
        issued = s.scalar(select(Plan.issued_on))
    return {"cfg": cfg, "sent": sent, "per_rcpt_day": per_rcpt_day, "occurrences": occurrences, "done": done,
            "names": names_by_id, "address": address, "elapsed": elapsed, "cpu": cpu, "issued": issued, "smtp": smtp,
            "calendar": calendar_of(cfg)}


def _open_on(y: dict, it, day: date) -> bool:  # noqa: ANN001
    d = y["done"].get((it.milestone_id, it.occurrence))
    return d is None or d > day


def _truth_overdue(y: dict, day: date, dept: int | None = None, exclude: int | None = None) -> set:
    return {(it.milestone_id, it.occurrence.isoformat()) for it in y["occurrences"]
            if it.occurrence < day and it.occurrence >= y["issued"] and _open_on(y, it, day)
            and (dept is None or dept in it.leads) and (exclude is None or exclude not in it.leads)}


def _ids(entries: list[dict]) -> set:
    return {(e["milestone_id"], e["due"]) for e in entries}


def _own(data: dict) -> set:
    out = _ids(data["overdue"]) | _ids(data["due_by_cutoff"]) | _ids(data["upcoming"])
    for t in data["progress_tasks"]:
        out |= _ids(t["milestones"])
    return out


def _dept_id(y: dict, name: str) -> int:
    return next(i for i, n in y["names"].items() if n == name)


def test_the_year_takes_under_a_minute_of_cpu_and_prints_the_table(year):
    """The budget is this process's CPU time (planner, renderer, sender and the SMTP server's
    thread are all in it), which a busy machine does not stretch: the wall time of the same
    year was 83 s with four test workers on two loaded cores."""
    print_table(year)
    assert year["sent"], "nothing was sent all year"
    assert year["cpu"] < 60, f"the simulated year took {year['cpu']:.1f} s of CPU ({year['elapsed']:.1f} s)"


def test_the_plan_was_issued_on_may_10_and_nothing_is_sent_before(year):
    assert year["issued"] == date(2018, 5, 10)
    assert min(day for day, *_ in year["sent"]) >= year["issued"]
    for _day, _dep, data, _subject in year["sent"]:
        assert all(due >= "2018-05-10" for _mid, due in _own(data) | _ids(data.get("escalation", [])))


def test_no_department_gets_more_than_one_message_a_day(year):
    assert max(year["per_rcpt_day"].values()) == 1
    assert sum(year["per_rcpt_day"].values()) == len(year["sent"])  # every queued message arrived


def test_every_occurrence_not_done_early_is_reminded_before_its_date(year):
    reminded = defaultdict(set)  # (milestone, due) -> departments reminded before the date
    for day, dep, data, _ in year["sent"]:
        for mid, due in _own(data):
            if day.isoformat() < due:
                reminded[(mid, due)].add(dep)
    missing = []
    for it in year["occurrences"]:
        key = (it.milestone_id, it.occurrence.isoformat())
        done = year["done"].get((it.milestone_id, it.occurrence))
        if it.occurrence <= year["issued"] or (done is not None and done < it.occurrence):
            continue
        for d in it.leads:
            name = year["names"][d]
            if name in year["address"] and name not in reminded[key]:
                missing.append((name, key))
    assert not missing, missing[:10]


def test_every_message_lists_all_open_overdue_items_and_its_subject_counts_them(year):
    for day, dep, data, subject in year["sent"]:
        if dep == OFFICE:
            continue
        truth = _truth_overdue(year, day, _dept_id(year, dep))
        assert _ids(data["overdue"]) == truth, (day, dep)
        if truth:
            assert f"{len(truth)}项已逾期" in subject, (day, dep, subject)
        else:
            assert "已逾期" not in subject


def test_overdue_items_are_listed_every_n_working_days_no_more_no_less(year):
    cal = year["calendar"]
    listings = defaultdict(list)  # department -> [(day, only overdue?)]
    for day, dep, data, _ in year["sent"]:
        if dep != OFFICE and data["overdue"]:
            # A grade step up (a 督办单 / 催办单: data["grade"]) is a reason of its own for a
            # message: the item that went 红 or 黄 is said on that day, listing the overdue ones.
            only = not (data["due_by_cutoff"] or data["upcoming"] or data["progress_tasks"] or data["grade"])
            listings[dep].append((day, only))
    assert listings
    for dep, days in listings.items():
        dept = _dept_id(year, dep)
        for (a, _), (b, only) in itertools.pairwise(days):
            due = cal.add_workdays(a, EVERY)
            if only:  # a notice of overdue items alone comes exactly on the cadence
                assert b >= due, (dep, a, b)
            steady = all(_truth_overdue(year, d, dept) for d in _days(a, b))
            if steady and b <= date(2019, 1, 30):  # the cadence never lapses while something is overdue
                assert b <= due, (dep, a, b)


def _days(a: date, b: date) -> list[date]:
    return [a + timedelta(days=n) for n in range(1, (b - a).days + 1)]


def test_each_escalation_lists_every_open_overdue_item_weekly(year):
    office = _dept_id(year, OFFICE)
    escalations = [(day, data, subject) for day, dep, data, subject in year["sent"]
                   if dep == OFFICE and data["escalation"]]
    assert len(escalations) > 20
    for day, data, subject in escalations:
        assert _ids(data["escalation"]) == _truth_overdue(year, day, exclude=office), day
        assert f"{len(data['escalation'])}项" in subject, subject
        assert day.weekday() == 0 or year["calendar"].on_or_after(day - timedelta(days=day.weekday())) == day
        assert sum(g["count"] for g in data["escalation_groups"]) == len(data["escalation"])


def test_nothing_is_sent_about_an_item_after_it_is_done(year):
    for day, dep, data, _ in year["sent"]:
        for mid, due in _own(data) | _ids(data.get("escalation", [])):
            done = year["done"].get((mid, date.fromisoformat(due)))
            assert done is None or done > day, (day, dep, mid, due)


def test_after_the_end_plus_grace_only_the_closing_report_goes_out_once(year):
    end = date(2018, 12, 31) + timedelta(days=GRACE)
    late = [(day, dep, data) for day, dep, data, _ in year["sent"] if day > end]
    assert [(dep, bool(data["closing"]), bool(data["escalation"])) for _, dep, data in late] == [(OFFICE, True, False)]
    [(day, _, data)] = late
    assert day == date(2019, 1, 31)
    [report] = data["closing"]
    assert report["done"] + report["late"] + report["open"] > 0
    assert sum(1 for *_, d, _s in year["sent"] if d["closing"]) == 1


def print_table(y: dict) -> None:
    table: dict[str, Counter] = defaultdict(Counter)
    months = []
    for day, dep, _data, _ in y["sent"]:
        m = f"{day:%y-%m}"
        if m not in months:
            months.append(m)
        table[dep][m] += 1
    width = max(len(d) for d in table) + 2
    print(f"\nmessages per department per month ({len(y['sent'])} in all, {y['elapsed']:.1f} s, {y['cpu']:.1f} s of CPU)")
    graded = Counter((data.get("grade") or {}).get("word", "-") for _day, _dep, data, _ in y["sent"])
    print("written in a grade (督办单): " + ", ".join(f"{k} {v}" for k, v in sorted(graded.items())))
    print(" " * width + " ".join(m[-5:] for m in months) + "  total")
    for dep in sorted(table, key=lambda d: -sum(table[d].values())):
        row = " ".join(f"{table[dep][m]:>5}" if table[dep][m] else "    ." for m in months)
        print(f"{dep:<{width}}"[:width] + row + f"  {sum(table[dep].values()):>5}")
    assert all(re.match(r"\d\d-\d\d", m) for m in months)


def test_the_progress_request_comes_once_per_cutoff_and_says_how_to_answer(year):
    asked = Counter()
    for _day, dep, data, _ in year["sent"]:
        if data["progress_tasks"]:
            asked[(dep, data["cutoff"])] += 1
            assert "0427-2800000" in data["progress_how"]
    assert asked and max(asked.values()) == 1
