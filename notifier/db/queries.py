"""Named queries the passes and the CLI share. SQL lives here, not in the steps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, Row, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from notifier.db.models import (Contact, Department, Digest, HistoryEvent, Milestone, OccurrenceDone, Plan,
                                PlanStatus, ReminderLog, Task, TaskDepartment)
from notifier.planning.recurrence import occurrences
from notifier.planning.items import MilestoneRow
from notifier.planning.schedule import PlanInfo
from notifier.terms import DigestKind, HistoryAction, MilestoneStatus, Role, Section


_ROW_COLS = (Milestone.id, Milestone.due_on, Milestone.text, Milestone.recurrence,
             Task.id, Task.number, Task.title,
             Plan.id, Plan.name, Plan.doc_number, Plan.starts_on, Plan.ends_on, Plan.issued_on, Plan.status,
             Task.position, Milestone.position)


def _row(r: Row) -> MilestoneRow:
    (mid, due, text, rule, tid, tnum, title, pid, pname, doc, start, end, issued, status, tpos, mpos) = r
    plan = PlanInfo(pid, pname, doc, start, end, issued, status == PlanStatus.CLOSED)
    return MilestoneRow(mid, due, text, rule, tid, tnum, title, plan, tpos, mpos)


def open_milestones(session: Session, *, departments: Collection[int] | None = None,
                    roles: Collection[str] | None = None, until: date | None = None, since: date | None = None,
                    plans: Collection[int] = (), ids: Collection[int] = (), not_cutoffs: Collection[date] = (),
                    active_only: bool = False) -> list[MilestoneRow]:
    """Open milestones with their task and plan, one row each (no expansion: see
    ``planning/items.py``).

    ``departments`` (with ``roles``): only tasks where one of them holds one of those roles.
    ``until``: one-off milestones due on or before it (from ``since`` on, else overdue ones
    included) except those on ``not_cutoffs`` that are a cutoff of their plan, every recurring
    one, every milestone of ``plans`` and the milestones ``ids``;
    each part is an indexed range, so the cost follows what can be due, not the size of the
    database."""
    base = (select(*_ROW_COLS).join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
            .where(Milestone.status == MilestoneStatus.OPEN))
    if active_only:
        base = base.where(Plan.status == PlanStatus.ACTIVE)
    if departments is not None:
        holds = select(TaskDepartment.task_id).where(TaskDepartment.task_id == Task.id,
                                                     TaskDepartment.department_id.in_(sorted(departments)))
        if roles is not None:
            holds = holds.where(TaskDepartment.role.in_(sorted(roles)))
        base = base.where(holds.exists())
    if until is None:
        return [_row(r) for r in session.execute(base)]
    found: dict[int, MilestoneRow] = {}
    window = base.where(Milestone.recurrence.is_(None), Milestone.due_on <= until)
    if since is not None:
        window = window.where(Milestone.due_on >= since)
    if not_cutoffs:
        # A date that is one of its plan's cutoffs has no reminder of its own: such items
        # are listed by the cutoff's message, loaded (capped) by ``first_open``.
        window = window.where(~and_(Milestone.due_on.in_(sorted(not_cutoffs)), Plan.starts_on <= Milestone.due_on,
                                    Plan.ends_on >= Milestone.due_on,
                                    or_(Plan.issued_on.is_(None), Plan.issued_on <= Milestone.due_on)))
    parts = [window,
             base.where(Milestone.recurrence.is_not(None))]
    parts += [base.where(Task.plan_id.in_(chunk)) for chunk in _chunks(sorted(plans))]
    parts += [base.where(Milestone.id.in_(chunk)) for chunk in _chunks(sorted(ids))]
    for q in parts:
        for r in session.execute(q):
            found[r[0]] = _row(r)
    return list(found.values())


@dataclass
class Ranked:
    """The first milestones of each (department, section) in date order, and how many there are."""

    ids: set[int]  # the milestones to load
    shown: dict[tuple[int, str], set[int]]  # (department, section) -> its milestones among ``ids``
    total: dict[tuple[int, str, int], int]  # (department, section, plan or 0) -> all its open milestones (tasks
    # for "progress"); the overdue count is over every plan (plan 0)
    first: dict[tuple[int, str], dict[int, date]] = field(default_factory=dict)  # (department, section) ->
    # plan -> its earliest date there: where the plan first appears in the message
    # (department, plan) -> the tasks with items after the cutoff / due by it (a task listed above
    # is not asked about again): task ids only, to count the progress request's tasks exactly
    later_tasks: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    listed_tasks: dict[tuple[int, int], set[int]] = field(default_factory=dict)


def first_open(session: Session, departments: Mapping[int, Collection[int]], roles: Collection[str], *, today: date,
               cap: int, live_after: date, paused_tasks: Collection[int] = (),
               cutoffs: Mapping[int, date] | None = None) -> Ranked:
    """The at most ``cap`` earliest open one-off milestones of each department, per section, and
    the count of all, in SQL (window functions): nothing else is loaded.

    Sections: ``overdue`` (due before ``today``) in every active plan, and, for the plans of
    ``cutoffs`` (plan -> its cutoff being reminded), ``cutoff`` (due from today to that cutoff)
    and ``progress`` (due after it; ranked and counted by task). Only milestones the planner
    would list: their plan issued, not ended more than ``live_after`` ago, the date not before
    the issue, their task not in ``paused_tasks``. ``departments`` maps each department to the
    stored departments whose tasks are its own (itself, the groups it is a member of), any of
    which holding one of ``roles``; each milestone counts once per department."""
    out = Ranked(set(), defaultdict(set), {})
    pairs = [(key, dep) for dep, keys in departments.items() for key in keys]
    if not pairs:
        return out
    if len(pairs) > 400:  # SQLite allows 500 terms in a compound SELECT: split the departments
        deps = sorted(departments)
        half = {d: departments[d] for d in deps[:len(deps) // 2]}
        rest = {d: departments[d] for d in deps[len(deps) // 2:]}
        for part in (first_open(session, half, roles, today=today, cap=cap, live_after=live_after,
                                paused_tasks=paused_tasks, cutoffs=cutoffs),
                     first_open(session, rest, roles, today=today, cap=cap, live_after=live_after,
                                paused_tasks=paused_tasks, cutoffs=cutoffs)):
            out.ids |= part.ids
            out.shown.update(part.shown)
            out.total.update(part.total)
            out.first.update(part.first)
            out.later_tasks.update(part.later_tasks)
            out.listed_tasks.update(part.listed_tasks)
        return out
    # (stored department, department it counts for): a SELECT of literals, which SQLite and
    # PostgreSQL both read (SQLite has no column names for a VALUES list).
    owner = union_all(*(select(literal(k, Integer).label("key"), literal(d, Integer).label("dep"))
                        for k, d in pairs)).subquery("owner")
    issued_ok = or_(Plan.issued_on.is_(None), and_(Plan.issued_on <= today, Milestone.due_on >= Plan.issued_on))
    base = (select(owner.c.dep, Milestone.id.label("mid"), Milestone.due_on.label("due"), Task.id.label("tid"),
                   Task.plan_id.label("pid"))
            .select_from(TaskDepartment).join(owner, owner.c.key == _unindexed(session, TaskDepartment.department_id))
            .join(Task, Task.id == TaskDepartment.task_id).join(Plan, Plan.id == Task.plan_id)
            .join(Milestone, Milestone.task_id == Task.id)
            .where(TaskDepartment.role.in_(sorted(roles)),
                   Milestone.status == MilestoneStatus.OPEN, Milestone.recurrence.is_(None),
                   Plan.status == PlanStatus.ACTIVE,
                   Plan.ends_on >= live_after, issued_ok))
    if paused_tasks:
        base = base.where(Task.id.not_in(sorted(paused_tasks)))
    parts: list[tuple[Section, int, Any]] = []
    for pid, c in sorted((cutoffs or {}).items()):
        in_plan = base.where(Task.plan_id == pid)
        parts.append((Section.CUTOFF, pid, in_plan.where(Milestone.due_on >= today, Milestone.due_on <= c)))
        parts.append((Section.PROGRESS, pid, in_plan.where(Milestone.due_on > c)))
        for store, q in ((out.later_tasks, in_plan.where(Milestone.due_on > c)),
                         (out.listed_tasks, in_plan.where(Milestone.due_on <= c))):
            for dep, tid in session.execute(q.with_only_columns(owner.c.dep, Task.id).distinct()):
                store.setdefault((dep, pid), set()).add(tid)
    for section, pid, q in parts:
        rows = q.distinct().subquery()
        if section == Section.PROGRESS:  # ranked by task: the first tasks by their earliest later date
            first = select(rows, func.min(rows.c.due).over(partition_by=[rows.c.dep, rows.c.tid]).label("tfirst")
                           ).subquery()
            ranked = select(first.c.dep, first.c.mid, first.c.tid,
                            func.dense_rank().over(partition_by=first.c.dep,
                                                   order_by=[first.c.tfirst, first.c.tid]).label("rn")).subquery()
            for dep, mid in session.execute(select(ranked.c.dep, ranked.c.mid).where(ranked.c.rn <= cap)):
                out.ids.add(mid)
                out.shown[(dep, section)].add(mid)
            counts = select(rows.c.dep, func.count(rows.c.tid.distinct())).group_by(rows.c.dep)
        else:
            ranked = select(rows.c.dep, rows.c.mid, func.row_number().over(
                partition_by=rows.c.dep, order_by=[rows.c.due, rows.c.tid, rows.c.mid]).label("rn")).subquery()
            for dep, mid in session.execute(select(ranked.c.dep, ranked.c.mid).where(ranked.c.rn <= cap)):
                out.ids.add(mid)
                out.shown[(dep, section)].add(mid)
            counts = select(rows.c.dep, func.count()).group_by(rows.c.dep)
        for dep, n in session.execute(counts):
            out.total[(dep, section, pid)] = n
        for dep, plan_id, day in session.execute(select(rows.c.dep, rows.c.pid, func.min(rows.c.due))
                                                 .group_by(rows.c.dep, rows.c.pid)):
            firsts = out.first.setdefault((dep, section), {})
            firsts[plan_id] = min(firsts.get(plan_id, day), day)
    return out


def task_roles(session: Session, task_ids: Iterable[int] | None = None) -> list[tuple[int, str, int]]:
    """(task, role, department) as stored, in each task's order; every task's without ``task_ids``."""
    q = (select(TaskDepartment.task_id, TaskDepartment.role, TaskDepartment.department_id)
         .order_by(TaskDepartment.task_id, TaskDepartment.position))
    if task_ids is None:
        return [(t, r, d) for t, r, d in session.execute(q)]
    out: list[tuple[int, str, int]] = []
    for chunk in _chunks(sorted(set(task_ids))):
        out += [(t, r, d) for t, r, d in session.execute(q.where(TaskDepartment.task_id.in_(chunk)))]
    return out


def done_occurrences(session: Session, milestone_ids: Iterable[int]) -> dict[int, set[date]]:
    """The occurrences of these recurring milestones marked done."""
    done: dict[int, set[date]] = defaultdict(set)
    for chunk in _chunks(sorted(set(milestone_ids))):
        for mid, occ in session.execute(select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence)
                                        .where(OccurrenceDone.milestone_id.in_(chunk))):
            done[mid].add(occ)
    return done


def _department_in(session: Session, departments: Collection[int]) -> Any:
    """``task_departments.department_id IN (...)``, without its index on SQLite (``_unindexed``)."""
    return _unindexed(session, TaskDepartment.department_id).in_(sorted(departments))


def _unindexed(session: Session, column: Any) -> Any:
    """``column + 0`` on SQLite: the rows are then reached from the open milestones or the plan's
    tasks, not from a department's every task of every year (SQLite's planner has no statistics
    to tell them apart; ``+ 0`` keeps it off that column's index). PostgreSQL plans by cost."""
    return column + 0 if session.get_bind().dialect.name == "sqlite" else column


def department_plans(session: Session, departments: Collection[int], roles: Collection[str], today: date,
                     after: date) -> list[tuple[int, PlanInfo, date | None, date | None]]:
    """(department, plan, its first open one-off date from ``today`` on, its first after
    ``after``) for each active plan in which one of ``departments`` holds one of ``roles`` in a
    task with an open milestone: the plans whose cutoffs can concern it, when its next item
    falls overdue, and where its reminders beyond the loaded window start."""
    first = func.min(case((Milestone.due_on >= today, Milestone.due_on), else_=None))
    later = func.min(case((Milestone.due_on > after, Milestone.due_on), else_=None))
    q = (select(TaskDepartment.department_id, Plan.id, Plan.name, Plan.doc_number, Plan.starts_on, Plan.ends_on,
                Plan.issued_on, first, later)
         .select_from(Milestone).join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
         .join(TaskDepartment, TaskDepartment.task_id == Task.id)
         .where(TaskDepartment.role.in_(sorted(roles)), Plan.status == PlanStatus.ACTIVE,
                Milestone.status == MilestoneStatus.OPEN)
         .group_by(TaskDepartment.department_id, Plan.id, Plan.name, Plan.doc_number, Plan.starts_on,
                   Plan.ends_on, Plan.issued_on))
    out: list[tuple[int, PlanInfo, date | None, date | None]] = []
    for chunk in _chunks(sorted(departments)):
        for dep, pid, name, doc, start, end, issued, first_due, first_later in session.execute(
                q.where(_department_in(session, chunk))):
            out.append((dep, PlanInfo(pid, name, doc, start, end, issued), first_due, first_later))
    return out


def _chunks(values: list, size: int = 5000) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def active_plans(session: Session, today: date) -> list[tuple[int, date, date, date | None]]:
    """(id, starts_on, ends_on, issued_on) of the active plans whose period has not ended."""
    return list(session.execute(select(Plan.id, Plan.starts_on, Plan.ends_on, Plan.issued_on)
                                .where(Plan.ends_on >= today, Plan.status == PlanStatus.ACTIVE)).all())


def plans_to_close(session: Session, ended_before: date) -> list[PlanInfo]:
    """Active plans whose period ended before ``ended_before`` (end plus grace passed)."""
    return [PlanInfo(p.id, p.name, p.doc_number, p.starts_on, p.ends_on, p.issued_on)
            for p in session.scalars(select(Plan).where(Plan.status == PlanStatus.ACTIVE,
                                                        Plan.ends_on < ended_before).order_by(Plan.id))]


@dataclass
class DepartmentOutcome:
    """A closing report's line: what one lead department did of a plan."""

    department: str
    done: int = 0  # done by the date
    late: int = 0  # done after the date
    open: int = 0  # never done


def plan_outcomes(session: Session, plan_id: int, tz) -> list[DepartmentOutcome]:  # noqa: ANN001
    """Per lead department, the occurrences of the plan's milestones done in time, done late
    and still open (a recurring report counts once per occurrence)."""
    plan = session.get_one(Plan, plan_id)
    names = department_names(session)
    rows = session.execute(select(Milestone.id, Milestone.due_on, Milestone.recurrence, Milestone.status,
                                  Milestone.done_at, Task.id).join(Task, Task.id == Milestone.task_id)
                           .where(Task.plan_id == plan_id)).all()
    leads: dict[int, list[int]] = defaultdict(list)
    for tid, dep in session.execute(select(TaskDepartment.task_id, TaskDepartment.department_id)
                                    .join(Task, Task.id == TaskDepartment.task_id)
                                    .where(Task.plan_id == plan_id, TaskDepartment.role == Role.LEAD)
                                    .order_by(TaskDepartment.position)):
        leads[tid].append(dep)
    done_occ = {(m, o): at for m, o, at in session.execute(
        select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence, OccurrenceDone.done_at)
        .where(OccurrenceDone.milestone_id.in_([r[0] for r in rows if r[2]] or [-1])))}
    out: dict[int, DepartmentOutcome] = {}

    def local_day(at: datetime) -> date:
        from datetime import UTC

        return at.replace(tzinfo=UTC).astimezone(tz).date()

    for mid, due, rule, status, done_at, tid in rows:
        for occ in occurrences(rule, plan.starts_on, plan.ends_on) if rule else [due]:
            if plan.issued_on and occ < plan.issued_on:
                continue
            at = (done_occ.get((mid, occ)) if rule else None) or (done_at if status == MilestoneStatus.DONE else None)
            for dep in leads.get(tid, [])[:1] or [0]:
                o = out.setdefault(dep, DepartmentOutcome(names.get(dep, "未明确牵头单位")))
                if at is None:
                    o.open += 1
                elif local_day(at) <= occ:
                    o.done += 1
                else:
                    o.late += 1
    return sorted(out.values(), key=lambda o: (-o.open, -o.late, o.department))


def notified_departments(session: Session, roles: Iterable[str],
                         plan_ids: Iterable[int] | None = None) -> list[tuple[int, str, bool]]:
    """(id, name, is_group) of the departments holding one of ``roles`` in a task of an active
    plan (or of the plans ``plan_ids``, whatever their status): who would receive something."""
    q = (select(Department.id, Department.name, Department.is_group).distinct()
         .join(TaskDepartment, TaskDepartment.department_id == Department.id)
         .join(Task, Task.id == TaskDepartment.task_id).join(Plan, Plan.id == Task.plan_id)
         .where(TaskDepartment.role.in_(list(roles))).order_by(Department.name))
    q = q.where(Plan.status == PlanStatus.ACTIVE) if plan_ids is None else q.where(Plan.id.in_(list(plan_ids)))
    return [(r[0], r[1], r[2]) for r in session.execute(q)]


def departments_sent_today(session: Session, today: date) -> set[int]:
    """Departments that already have today's reminder or escalation message."""
    return set(session.scalars(select(Digest.department_id).distinct()
                               .where(Digest.day == today,
                                      Digest.kind.in_((DigestKind.REMINDER, DigestKind.ESCALATION)))))


def plan_lead_departments(session: Session, plan_ids: Iterable[int]) -> list[tuple[int, int]]:
    """(plan id, department id) for every lead role in those plans."""
    out: list[tuple[int, int]] = []
    for chunk in _chunks(sorted(set(plan_ids))):
        out += session.execute(select(Task.plan_id, TaskDepartment.department_id).distinct()
                               .join(Task, Task.id == TaskDepartment.task_id)
                               .where(TaskDepartment.role == Role.LEAD, Task.plan_id.in_(chunk))).all()
    return out


def open_due_dates(session: Session, until: date) -> list[date]:
    """The distinct due dates of open one-off milestones up to ``until`` (overdue ones too)."""
    return list(session.scalars(select(Milestone.due_on).distinct()
                                .where(Milestone.status == MilestoneStatus.OPEN, Milestone.recurrence.is_(None),
                                       Milestone.due_on <= until)))


def first_open_due_after(session: Session, after: date) -> date | None:
    return session.scalar(select(func.min(Milestone.due_on))
                          .where(Milestone.status == MilestoneStatus.OPEN, Milestone.recurrence.is_(None),
                                 Milestone.due_on > after))


def open_recurring(session: Session) -> list[tuple[int, str, date, date]]:
    """(milestone id, rule, plan start, plan end) of open recurring milestones."""
    rows = session.execute(select(Milestone.id, Milestone.recurrence, Plan.starts_on, Plan.ends_on)
                           .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
                           .where(Milestone.status == MilestoneStatus.OPEN, Milestone.recurrence.is_not(None))).all()
    return [(mid, rule, start, end) for mid, rule, start, end in rows if rule]


def reminder_log(session: Session, since: datetime | None = None, upto: datetime | None = None,
                 departments: Collection[int] | None = None) -> dict[tuple[int, str], datetime]:
    """Latest logged trigger per (department, series). With ``since`` only triggers from then on
    (an indexed range: the planning pass needs no older ones, see planning/horizons.log_horizon); with
    ``upto`` (naive UTC) later triggers are left out (they were logged while the clock ran ahead);
    with ``departments`` only theirs."""
    q = select(ReminderLog.department_id, ReminderLog.series, func.max(ReminderLog.trigger_at))
    if since is not None:
        q = q.where(ReminderLog.trigger_at >= since)
    if upto is not None:
        q = q.where(ReminderLog.trigger_at <= upto)
    if departments is not None:
        q = q.where(ReminderLog.department_id.in_(sorted(departments)))
    return {(d, s): t for d, s, t in session.execute(q.group_by(ReminderLog.department_id, ReminderLog.series))}


def department_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.name)).all())


def broken_contacts(session: Session) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.broken.is_(True)).order_by(Contact.id)))


# The history actions that answer a request for progress: a progress note or report, a done
# mark, a done request (申请办结, under review). A reopening or the office's return does not.
ANSWERS = (HistoryAction.PROGRESS, HistoryAction.DONE, HistoryAction.REQUEST)


def answer_days(session: Session, milestone_ids: Iterable[int], tz) -> dict[tuple[int, date | None], list[date]]:  # noqa: ANN001
    """The local days of every answer (``ANSWERS``) about these milestones, by (milestone,
    occurrence; None for a one-off milestone)."""
    out: dict[tuple[int, date | None], list[date]] = defaultdict(list)
    for chunk in _chunks(sorted(set(milestone_ids))):
        q = (select(HistoryEvent.milestone_id, HistoryEvent.occurrence, HistoryEvent.at)
             .where(HistoryEvent.milestone_id.in_(chunk), HistoryEvent.action.in_(ANSWERS)))
        for mid, occ, at in session.execute(q):
            out[(mid, occ)].append(at.replace(tzinfo=UTC).astimezone(tz).date())
    return out


def followed_from(session: Session, plan_ids: Iterable[int], tz) -> dict[int, date]:  # noqa: ANN001
    """When the office started to follow each plan: its start, or its import when later."""
    out = {}
    for chunk in _chunks(sorted(set(plan_ids))):
        for pid, start, imported in session.execute(select(Plan.id, Plan.starts_on, Plan.imported_at)
                                                    .where(Plan.id.in_(chunk))):
            out[pid] = max(start, imported.replace(tzinfo=UTC).astimezone(tz).date())
    return out
