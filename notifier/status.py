"""What `notifier status`, `milestones` and `history` report, as data.

These functions read the database and return dataclasses; ``cli.py`` turns them into lines for
a person or into JSON (docs/cli-json.md). Every time returned is aware and in the configured
time zone, so nothing shown to a person is in UTC by accident.

Counting words (each means one thing, see README "Status"):
- a *milestone* (时间节点) is one row: a one-off date or a recurring report;
- an *overdue date* (逾期期次) is one (milestone, date) whose date passed while open: a recurring
  report that missed three quarters has three, so overdue dates can exceed open milestones;
- an *overdue milestone* is an open milestone with at least one overdue date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db import queries
from notifier.departments import ids_named
from notifier.delivery import outbox
from notifier.db.engine import read_session
from notifier.db.models import (Department, Milestone, OccurrenceDone, Plan, PlanStatus,
                                HistoryEvent, Task, TaskDepartment)
from notifier.terms import Light
from notifier.office.ledger import NotSigned, load_rows, not_signed
from notifier.planning.recurrence import occurrences
from notifier.review import pending_keys
from notifier.reminders import ContactGaps, calendar_of, contact_gaps
from notifier.terms import ROLES, DeliveryStatus, DigestKind, HistoryAction, MilestoneStatus, Role, RowStatus, Source



@overload
def local_time(naive_utc: datetime, tz: ZoneInfo) -> datetime: ...
@overload
def local_time(naive_utc: None, tz: ZoneInfo) -> None: ...
def local_time(naive_utc: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored timestamp (naive UTC) as an aware time in the configured zone."""
    return None if naive_utc is None else naive_utc.replace(tzinfo=UTC).astimezone(tz)


def calendar_years(session: Session, today: date) -> set[int]:
    """The years reminders may fall in: this one, the next, and every year of a plan not yet over."""
    years = {today.year, today.year + 1}
    for start, end in session.execute(select(Plan.starts_on, Plan.ends_on).where(Plan.ends_on >= today)):
        years.update(range(max(start.year, today.year), end.year + 1))
    return years


def overdue_occurrences(session: Session, today: date, *, active_only: bool = False) -> list[tuple[int, date]]:
    """Every open (milestone, date) whose date passed: one-off milestones and each missed
    occurrence of a recurring report (一季度 missed stays overdue while 二季度 is reminded).
    ``active_only``: of active plans only (a closed plan's are no longer chased)."""
    plan_ok = Plan.status == PlanStatus.ACTIVE if active_only else Plan.id.is_not(None)
    out = [(mid, due) for mid, due in session.execute(
        select(Milestone.id, Milestone.due_on).join(Task, Task.id == Milestone.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Milestone.status == MilestoneStatus.OPEN, Milestone.due_on < today, Milestone.recurrence.is_(None),
               plan_ok))]
    rec = session.execute(select(Milestone.id, Milestone.recurrence, Plan.starts_on, Plan.ends_on)
                          .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
                          .where(Milestone.status == MilestoneStatus.OPEN, Milestone.recurrence.is_not(None),
                                 plan_ok)).all()
    if rec:
        done = {(m, o) for m, o in session.execute(select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence))}
        for mid, rule, start, end in rec:
            if rule:  # the query asked for recurring milestones only
                out += [(mid, o) for o in occurrences(rule, start, end) if o < today and (mid, o) not in done]
    return out


# ------------------------------------------------------------------------------ answers

@dataclass(frozen=True)
class Answer:
    """One progress event: a done mark, a reopening or a progress note."""

    milestone_id: int
    occurrence: date | None
    action: HistoryAction
    at: datetime  # aware, configured zone
    source: Source
    actor: str | None
    note: str | None
    percent: int | None = None  # a progress report's 0-100 (the department's page)

    @classmethod
    def of(cls, e: HistoryEvent, tz: ZoneInfo) -> Answer:
        return cls(e.milestone_id, e.occurrence, e.action, local_time(e.at, tz), e.source, e.actor, e.note,
                   e.percent)


def last_events(session: Session) -> dict[tuple[int, date | None], HistoryEvent]:
    """The latest progress event per (milestone, occurrence)."""
    out: dict[tuple[int, date | None], HistoryEvent] = {}
    for e in session.scalars(select(HistoryEvent).order_by(HistoryEvent.at, HistoryEvent.id)):
        out[(e.milestone_id, e.occurrence)] = e
    return out


# ------------------------------------------------------------------------------ status

@dataclass(frozen=True)
class FailedDigest:
    department: str
    kind: DigestKind
    day: date
    subject: str
    total: int  # deliveries of the digest
    failed: list[tuple[int, str, str, str | None]]  # (delivery id, channel, recipient, last error)


@dataclass(frozen=True)
class BrokenContact:
    channel: str
    recipient: str
    since: datetime | None  # aware, configured zone
    error: str | None


@dataclass(frozen=True)
class PlanState:
    id: int
    name: str
    status: PlanStatus
    ends_on: date
    closed_at: datetime | None  # aware, configured zone


@dataclass
class StatusReport:
    now: datetime
    plans: int = 0
    tasks: int = 0
    milestones_open: int = 0
    milestones_done: int = 0
    overdue_milestones: int = 0  # open milestones of active plans with at least one overdue date
    overdue_dates: int = 0  # (milestone, date) pairs of active plans; a recurring report counts each missed date
    recent_answers: list[Answer] = field(default_factory=list)  # last 7 days, newest first
    deliveries: dict[DeliveryStatus, int] = field(default_factory=dict)  # status -> count
    next_attempt: datetime | None = None  # aware, configured zone
    failures: list[FailedDigest] = field(default_factory=list)
    broken_contacts: list[BrokenContact] = field(default_factory=list)
    plans_closed: list[PlanState] = field(default_factory=list)  # nothing is sent about them
    contact_gaps: ContactGaps = field(default_factory=ContactGaps)  # the same answer as import and send-due
    reviews_waiting: int = 0  # done requests waiting for the office (notifier review list)
    warnings: list[str] = field(default_factory=list)
    grades: dict[str, int] = field(default_factory=dict)  # grade (red|yellow|blue|green) -> open items of active plans
    not_signed: list[NotSigned] = field(default_factory=list)  # who has not signed for what, by its day

    @property
    def healthy(self) -> bool:
        """No failed delivery and no broken contact (`status` exits 1 otherwise)."""
        return not self.failures and not self.broken_contacts


def failed_digests(failures: list[outbox.DigestFailures]) -> list[FailedDigest]:
    return [FailedDigest(f.department, f.kind, f.day, f.subject, f.total, list(f.failed)) for f in failures]


def status_report(engine: Engine, cfg: Config, now: datetime) -> StatusReport:
    tz = cfg.timezone
    today = now.astimezone(tz).date()
    r = StatusReport(now=now.astimezone(tz))
    with read_session(engine) as s:  # reads only: no write lock, works on a read-only file
        r.plans = s.scalar(select(func.count()).select_from(Plan)) or 0
        r.tasks = s.scalar(select(func.count()).select_from(Task)) or 0
        r.milestones_open = s.scalar(select(func.count()).select_from(Milestone)
                                     .where(Milestone.status == MilestoneStatus.OPEN)) or 0
        r.milestones_done = s.scalar(select(func.count()).select_from(Milestone)
                                     .where(Milestone.status == MilestoneStatus.DONE)) or 0
        late = overdue_occurrences(s, today, active_only=True)
        r.overdue_dates = len(late)
        r.overdue_milestones = len({mid for mid, _ in late})
        since = now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=7)
        r.recent_answers = [Answer.of(e, tz) for e in s.scalars(
            select(HistoryEvent).where(HistoryEvent.at >= since)
            .order_by(HistoryEvent.at.desc(), HistoryEvent.id.desc()))]
        r.deliveries = outbox.delivery_counts(s)
        r.next_attempt = local_time(outbox.next_pending(s), tz)
        r.failures = failed_digests(outbox.digest_failures(s))
        r.broken_contacts = [BrokenContact(c.channel, c.recipient, local_time(c.broken_at, tz), c.last_error)
                             for c in queries.broken_contacts(s)]
        r.plans_closed = [PlanState(p.id, p.name, p.status, p.ends_on, local_time(p.closed_at, tz)) for p in
                          s.scalars(select(Plan).where(Plan.status == PlanStatus.CLOSED).order_by(Plan.id))]
        r.contact_gaps = contact_gaps(s, cfg)
        r.grades, _ = item_grades(s, cfg, today)
        r.not_signed = not_signed(s, today)
        r.reviews_waiting = len(pending_keys(s))
        years = calendar_years(s, today)
    r.warnings = calendar_of(cfg).warnings(years)
    return r


def item_grades(s: Session, cfg: Config, today: date) -> tuple[dict[str, int], dict[int, Light]]:
    """The grade ladder as the ledger shows it (one source: notifier.office.grades): the count
    of open items of active plans per grade, and each milestone's grade."""
    rows = load_rows(s, cfg, today)
    counts = {g.value: 0 for g in Light}
    for row in rows:
        if row.item.plan_active and not row.item.done:
            counts[row.light.value] += 1
    return counts, {row.item.milestone_id: row.light for row in rows}


# ------------------------------------------------------------------------------ departments

# ------------------------------------------------------------------------------ milestones

@dataclass(frozen=True)
class MilestoneRow:
    """One milestone, or with ``status=RowStatus.OVERDUE`` one overdue date of it."""

    id: int
    plan: str
    task_number: str
    task_title: str
    text: str
    plan_status: PlanStatus  # nothing is sent about a closed plan's milestones
    due: date  # the milestone's date; for an overdue row, the overdue date
    recurrence: str | None
    status: RowStatus
    days_late: int | None  # for overdue: days since the (oldest) overdue date
    leads: list[str]
    roles: list[Role]  # with a department filter: its roles on the task
    last: Answer | None  # the latest answer about it (about this date, for an overdue row)
    grade: Light = Light.GREEN  # the ledger's grade of the milestone today


def milestone_rows(engine: Engine, cfg: Config, today: date, *, department: str | None = None,
                   due_before: date | None = None, status: RowStatus | None = None,
                   plan: str | None = None) -> list[MilestoneRow]:
    """One row per milestone; with ``status="overdue"`` one row per overdue date (each missed
    occurrence of a recurring report), oldest first, with how late it is and the last answer.
    ``department`` limits to the tasks it has any role in, and each row says which."""
    tz = cfg.timezone
    with read_session(engine) as s:  # reads only: no write lock, works on a read-only file
        q = (select(Milestone.id, Milestone.due_on, Milestone.status, Milestone.text, Milestone.recurrence,
                    Task.number, Task.title, Task.id, Plan.name, Plan.status)
             .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
             .order_by(Milestone.due_on, Plan.id, Task.position, Milestone.position))
        roles: dict[int, list[Role]] = defaultdict(list)
        if department:
            dep_ids = ids_named(s, cfg, department)
            for tid, role in s.execute(select(TaskDepartment.task_id, TaskDepartment.role)
                                       .where(TaskDepartment.department_id.in_(dep_ids))):
                if role not in roles[tid]:
                    roles[tid].append(role)
            q = q.where(Task.id.in_(select(TaskDepartment.task_id).where(TaskDepartment.department_id.in_(dep_ids))))
        if due_before and status != RowStatus.OVERDUE:
            q = q.where(Milestone.due_on <= due_before)
        if status in (RowStatus.OPEN, RowStatus.DONE):
            q = q.where(Milestone.status == status)
        elif status == RowStatus.OVERDUE:
            q = q.where(Milestone.status == MilestoneStatus.OPEN)
        if plan:
            q = q.where(Plan.name.contains(plan))
        leads: dict[int, list[str]] = {}
        for tid, name in s.execute(select(TaskDepartment.task_id, Department.name).join(Department)
                                   .where(TaskDepartment.role == Role.LEAD).order_by(TaskDepartment.position)):
            leads.setdefault(tid, []).append(name)
        late_dates: dict[int, list[date]] = defaultdict(list)
        for mid, occ in overdue_occurrences(s, today):
            late_dates[mid].append(occ)
        events = last_events(s)
        _, grades = item_grades(s, cfg, today)
        out: list[MilestoneRow] = []
        for mid, due, st, text, rule, tnum, title, tid, pname, pstatus in s.execute(q).all():
            base: dict[str, Any] = dict(
                id=mid, plan=pname, plan_status=PlanStatus(pstatus), task_number=tnum, task_title=title, text=text,
                recurrence=rule, leads=leads.get(tid, []), roles=sorted(roles.get(tid, []), key=ROLES.index),
                grade=grades.get(mid, Light.GREEN))
            late = sorted(late_dates.get(mid, []))
            if status == RowStatus.OVERDUE:
                for occ in late:
                    if due_before and occ > due_before:
                        continue
                    ev = events.get((mid, occ if rule else None))
                    out.append(MilestoneRow(**base, due=occ, status=RowStatus.OVERDUE, days_late=(today - occ).days,
                                            last=Answer.of(ev, tz) if ev else None))
                continue
            ev = max((e for (m, _), e in events.items() if m == mid), key=lambda e: (e.at, e.id), default=None)
            out.append(MilestoneRow(**base, due=due, status=RowStatus.OVERDUE if late else RowStatus(st),
                                    days_late=(today - late[0]).days if late else None,
                                    last=Answer.of(ev, tz) if ev else None))
        if status == RowStatus.OVERDUE:
            out.sort(key=lambda r: r.due)
        return out


# ------------------------------------------------------------------------------ history

@dataclass(frozen=True)
class HistoryRow:
    answer: Answer
    task_number: str
    text: str


def _labels(s: Session, milestone_ids: set[int]) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """Department names by id, and (task number, text) of these milestones: what a history row
    of the grade steps or the 签收 names."""
    names = dict(s.execute(select(Department.id, Department.name)).all())
    what = {mid: (num, text) for mid, num, text in s.execute(
        select(Milestone.id, Task.number, Milestone.text).join(Task, Task.id == Milestone.task_id)
        .where(Milestone.id.in_(milestone_ids)))}
    return names, what


@dataclass(frozen=True)
class StepRow:
    """A grade step up, as history shows it: the item went ``grade`` for ``department`` on
    ``on`` (the day its message was queued)."""

    milestone_id: int
    occurrence: date
    department: str
    grade: Light  # BLUE, YELLOW or RED
    on: date
    at: datetime  # aware, configured zone
    task_number: str
    text: str


def step_rows(engine: Engine, cfg: Config, *, milestone: int | None = None, limit: int = 50) -> list[StepRow]:
    """The grade steps recorded (notifier.grade_log), newest first."""
    from notifier import grade_log

    with read_session(engine) as s:
        steps = grade_log.history(s, milestone, limit)
        names, what = _labels(s, {st.milestone_id for st in steps})
    return [StepRow(st.milestone_id, st.occurrence, names.get(st.department_id, "?"), st.grade, st.on,
                    local_time(st.at, cfg.timezone), *what.get(st.milestone_id, ("?", "")))
            for st in steps]


@dataclass(frozen=True)
class SignRow:
    """A 签收 as history shows it: ``by`` signed for the item through ``via`` (``cli``: by
    telephone, recorded by ``recorded_by``)."""

    milestone_id: int
    occurrence: date
    department: str
    by: str
    via: Source | None
    recorded_by: str | None
    at: datetime  # aware, configured zone
    task_number: str
    text: str


def sign_rows(engine: Engine, cfg: Config, *, milestone: int | None = None, limit: int = 50) -> list[SignRow]:
    """The 签收 made (notifier.signing), newest first."""
    from notifier import signing

    with read_session(engine) as s:
        signed = signing.signatures(s, milestone, limit)
        names, what = _labels(s, {r.milestone_id for r in signed})
    return [SignRow(r.milestone_id, r.occurrence, names.get(r.department_id, "?"), r.signed_by or "", r.signed_via,
                    r.recorded_by, local_time(r.signed_at, cfg.timezone), *what.get(r.milestone_id, ("?", "")))
            for r in signed if r.signed_at is not None]


def history_rows(engine: Engine, cfg: Config, *, milestone: int | None = None, limit: int = 50) -> list[HistoryRow]:
    """Progress history, newest first: who marked or reported what, when, and through what."""
    with read_session(engine) as s:  # reads only: no write lock, works on a read-only file
        q = (select(HistoryEvent, Milestone.text, Task.number)
             .join(Milestone, Milestone.id == HistoryEvent.milestone_id).join(Task, Task.id == Milestone.task_id)
             .order_by(HistoryEvent.at.desc(), HistoryEvent.id.desc()).limit(limit))
        if milestone is not None:
            q = q.where(HistoryEvent.milestone_id == milestone)
        return [HistoryRow(Answer.of(e, cfg.timezone), tnum, text) for e, text, tnum in s.execute(q)]
