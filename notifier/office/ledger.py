"""The 督办台账 as data: one row per milestone of every plan, with its departments, last answer,
days late, pause and light; the filters and the per-department counts of the ledger page.

``load_items`` reads the database once (one item per milestone date: a recurring report has
one per occurrence); everything after it is pure and takes ``today``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db.models import (DeadlineExtension, Department, Milestone, OccurrenceDone, Plan, PlanStatus,
                                HistoryEvent, Task, TaskDepartment)
from notifier.office.grades import Context, GradeItem, Light, grade, plan_cutoffs
from notifier.office.pauses import PauseSpan, pause_spans, paused
from notifier.planning.recurrence import occurrences
from notifier.review import RETURN
from notifier.reminders import calendar_of
from notifier.signing import unsigned
from notifier.terms import ROLES, HistoryAction, MilestoneStatus


@dataclass(frozen=True)
class Answer:
    on: date  # local date
    at: datetime  # naive UTC
    action: HistoryAction  # DONE, REOPEN or PROGRESS
    note: str
    actor: str


@dataclass(frozen=True)
class Item:
    """One dated thing to do: a one-off milestone, or one occurrence of a recurring report."""

    milestone_id: int
    occurrence: date | None  # set for a recurring report
    due: date
    done_on: date | None  # local date of the done mark
    plan_id: int
    plan_name: str
    doc_number: str
    plan_starts: date
    plan_ends: date
    followed_from: date  # the plan's start, or its import when later: silence counts from here
    plan_active: bool
    task_id: int
    task_number: str
    task_title: str
    text: str
    recurrence: str | None
    departments: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)  # role -> (id, name)
    answers: tuple[Answer, ...] = ()
    first_due: date | None = None  # the date before any 延期

    @property
    def done(self) -> bool:
        return self.done_on is not None

    def names(self, role: str) -> list[str]:
        return [n for _, n in self.departments.get(role, ())]

    @property
    def department_ids(self) -> set[int]:
        return {i for deps in self.departments.values() for i, _ in deps}


@dataclass(frozen=True)
class Row:
    """A ledger line: a milestone, graded at ``today``."""

    item: Item
    light: Light
    days_late: int
    pause: PauseSpan | None

    @property
    def last_answer(self) -> Answer | None:
        return self.item.answers[-1] if self.item.answers else None


def _local(at: datetime, cfg: Config) -> date:
    return at.replace(tzinfo=UTC).astimezone(cfg.timezone).date()


def load_items(s: Session, cfg: Config, task_id: int | None = None) -> list[Item]:
    """Every item (``task_id``: of that task only), in plan, task and milestone order."""
    q = (select(Milestone.id, Milestone.due_on, Milestone.status, Milestone.done_at, Milestone.text,
               Milestone.recurrence, Task.id, Task.number, Task.title, Plan.id, Plan.name, Plan.doc_number,
               Plan.starts_on, Plan.ends_on, Plan.imported_at, Plan.status)
        .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
        .order_by(Plan.id, Task.position, Milestone.position))
    rows = s.execute(q if task_id is None else q.where(Task.id == task_id)).all()
    deps: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for tid, role, did, name in s.execute(
            select(TaskDepartment.task_id, TaskDepartment.role, Department.id, Department.name)
            .join(Department, Department.id == TaskDepartment.department_id).order_by(TaskDepartment.position)):
        deps[tid][role].append((did, name))
    answers: dict[tuple[int, date | None], list[Answer]] = defaultdict(list)
    # The office returning a done request is not an answer of the department (notifier.review).
    events = select(HistoryEvent).where(HistoryEvent.action != RETURN).order_by(HistoryEvent.at, HistoryEvent.id)
    if task_id is not None:
        events = events.where(HistoryEvent.milestone_id.in_([r[0] for r in rows]))
    for e in s.scalars(events):
        answers[(e.milestone_id, e.occurrence)].append(
            Answer(_local(e.at, cfg), e.at, e.action, e.note or "", e.actor or e.source))
    occ_done = {(m, o): at for m, o, at in s.execute(
        select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence, OccurrenceDone.done_at))}
    first_due: dict[int, date] = {}
    for mid, old in s.execute(select(DeadlineExtension.milestone_id, DeadlineExtension.old_due)
                              .order_by(DeadlineExtension.at.desc(), DeadlineExtension.id.desc())):
        first_due[mid] = old  # the oldest extension is read last
    out = []
    for (mid, due, status, done_at, text, rule, tid, tnum, title, pid, pname, doc, start, end, imported,
         plan_status) in rows:
        task_deps: dict[str, tuple[tuple[int, str], ...]] = {r: tuple(deps[tid].get(r, [])) for r in ROLES}
        followed = max(start, _local(imported, cfg))
        base = Item(mid, None, due, None, pid, pname, doc or "", start, end, followed,
                    plan_status != PlanStatus.CLOSED, tid, tnum, title, text, rule,
                    task_deps, tuple(answers.get((mid, None), ())), first_due.get(mid))
        if rule:
            for occ in occurrences(rule, start, end):
                at = occ_done.get((mid, occ))
                out.append(replace(base, occurrence=occ, due=occ, done_on=_local(at, cfg) if at else None,
                                   answers=tuple(answers.get((mid, occ), ()))))
        else:
            if status == MilestoneStatus.DONE and done_at:
                base = replace(base, done_on=_local(done_at, cfg))
            out.append(base)
    return out


def unsigned_by_item(s: Session, today: date) -> dict[tuple[int, date], date]:
    """(milestone, date) -> the earliest day to sign by of its 签收 requests nobody signed for
    in time (``signing.unsigned``): the ledger's 黄 for 未按时签收."""
    out: dict[tuple[int, date], date] = {}
    for r in unsigned(s, today=today):
        key = (r.milestone_id, r.occurrence)
        out[key] = min(out.get(key, r.sign_by), r.sign_by)
    return out


@dataclass(frozen=True)
class NotSigned:
    """A department that has not signed for (签收) an item by its day: ``status`` and the ledger."""

    department: str
    milestone_id: int
    task_number: str
    text: str
    occurrence: date
    asked_on: date
    sign_by: date


def not_signed(s: Session, today: date) -> list[NotSigned]:
    """Who has not signed for what: one line per department and item (its earliest request)."""
    reqs = unsigned(s, today=today)
    if not reqs:
        return []
    names = dict(s.execute(select(Department.id, Department.name)).all())
    ids = sorted({r.milestone_id for r in reqs})
    what = {mid: (num, text) for mid, num, text in s.execute(
        select(Milestone.id, Task.number, Milestone.text).join(Task, Task.id == Milestone.task_id)
        .where(Milestone.id.in_(ids)))}
    out: dict[tuple[int, int, date], NotSigned] = {}
    for r in reqs:  # ordered by sign_by: the first is the earliest
        key = (r.department_id, r.milestone_id, r.occurrence)
        if key not in out:
            num, text = what[r.milestone_id]
            out[key] = NotSigned(names.get(r.department_id, "?"), r.milestone_id, num, text, r.occurrence,
                                 r.asked_on, r.sign_by)
    return sorted(out.values(), key=lambda n: (n.sign_by, n.department, n.milestone_id, n.occurrence))


def ledger_rows(items: list[Item], cfg: Config, today: date, pauses: Sequence[PauseSpan] = (),
                late_signs: Mapping[tuple[int, date], date] | None = None) -> list[Row]:
    """One row per milestone: a recurring report is shown by its earliest occurrence not done
    (overdue first), or its last one when all are done. ``late_signs``: see ``unsigned_by_item``."""
    late_signs = late_signs or {}
    cal = calendar_of(cfg)
    cutoffs: dict[int, tuple[date, ...]] = {}
    by_milestone: dict[int, list[Item]] = defaultdict(list)
    for it in items:
        by_milestone[it.milestone_id].append(it)
    out = []
    for group in by_milestone.values():
        open_ = [i for i in group if not i.done]
        it = min(open_, key=lambda i: i.due) if open_ else max(group, key=lambda i: i.due)
        if it.recurrence:  # every answer about the report counts towards "answered"
            it = replace(it, answers=tuple(sorted((a for g in group for a in g.answers), key=lambda a: a.at)))
        if it.plan_id not in cutoffs:
            cutoffs[it.plan_id] = plan_cutoffs(it.plan_starts, it.plan_ends, cfg.schedule.cutoff_months)
        cuts = cutoffs[it.plan_id]
        ctx = Context(today, cfg.grades, cuts, cal.is_workday)
        light = grade(GradeItem(it.due, it.done, tuple(a.on for a in it.answers), it.followed_from,
                                late_signs.get((it.milestone_id, it.due))), ctx)
        late = ((it.done_on or today) - it.due).days
        out.append(Row(it, light, max(late, 0),
                       paused(pauses, today, task_id=it.task_id, department_ids=it.department_ids)))
    return out


@dataclass(frozen=True)
class Filters:
    plan: int | None = None
    department: str = ""
    light: str = ""
    cutoff: date | None = None
    q: str = ""
    page: int = 1

    def query(self, **change: Any) -> str:
        """The query string of these filters (for links to other pages and the export)."""
        from urllib.parse import urlencode

        values = {"plan": self.plan or "", "department": self.department, "light": self.light,
                  "cutoff": self.cutoff or "", "q": self.q, "page": self.page} | change
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    @classmethod
    def of(cls, params: Any) -> Filters:
        def get(k: str) -> str:
            return (params.get(k) or "").strip()[:200]
        plan = get("plan")
        cutoff = get("cutoff")
        try:
            cut = date.fromisoformat(cutoff) if cutoff else None
        except ValueError:
            cut = None
        light = get("light")
        page = get("page")
        return cls(int(plan) if plan.isdigit() else None, get("department"),
                   light if light in {x.value for x in Light} else "", cut, get("q"),
                   max(1, min(int(page), 100_000)) if page.isdigit() else 1)


def open_plans(rows: list[Row]) -> set[int]:
    """Plans the ledger shows by default: the active ones (not closed, see notifier.plan_life)."""
    return {r.item.plan_id for r in rows if r.item.plan_active}


def filter_rows(rows: list[Row], f: Filters, open_only: bool = False) -> list[Row]:
    """The rows the filters keep; with ``open_only`` and no plan chosen, only active plans' rows."""
    shown = open_plans(rows) if open_only and f.plan is None else None

    def keep(r: Row) -> bool:
        it = r.item
        if shown is not None and it.plan_id not in shown:
            return False
        if f.plan is not None and it.plan_id != f.plan:
            return False
        if f.department and f.department not in {n for role in ROLES for n in it.names(role)}:
            return False
        if f.light and r.light.value != f.light:
            return False
        if f.cutoff and it.due > f.cutoff:
            return False
        if f.q:
            hay = " ".join([it.plan_name, it.doc_number, it.task_number, it.task_title, it.text,
                            *(n for role in ROLES for n in it.names(role)),
                            *(a.note for a in it.answers)])
            if f.q not in hay:
                return False
        return True

    return [r for r in rows if keep(r)]


@dataclass
class DepartmentCount:
    """Per lead department: milestones it leads, and how it answers them."""

    name: str
    items: int = 0
    due: int = 0  # due on or before today
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    answered: int = 0  # items with at least one answer (progress or done)
    lights: dict[str, int] = field(default_factory=lambda: {x.value: 0 for x in Light})

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def answered_rate(self) -> float | None:
        return self.answered / self.items if self.items else None


def department_counts(rows: list[Row], today: date) -> list[DepartmentCount]:
    counts: dict[str, DepartmentCount] = {}
    for r in rows:
        it = r.item
        for name in it.names("lead"):
            c = counts.setdefault(name, DepartmentCount(name))
            c.items += 1
            c.lights[r.light.value] += 1
            c.answered += bool(it.answers)
            if it.due <= today:
                c.due += 1
                if it.done_on is not None:  # done
                    c.on_time += it.done_on <= it.due
                    c.late += it.done_on > it.due
                elif it.due < today:
                    c.overdue += 1
    return sorted(counts.values(), key=lambda c: (-c.overdue, c.name))


def load_rows(s: Session, cfg: Config, today: date) -> list[Row]:
    return ledger_rows(load_items(s, cfg), cfg, today, pause_spans(s), unsigned_by_item(s, today))
