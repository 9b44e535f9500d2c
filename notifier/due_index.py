"""The due index (``department_due``): when the planning pass must next look at each department.

A pass plans only the departments whose ``next_due_at`` has come (an index seek), then writes
each one's next time, computed by the pure ``planning.due.next_due_at``. The guarantees:

- **Never late.** Any change that can make a department due earlier sets it due now: every
  ORM change to a milestone, a done occurrence, a 延期, a done request (made or decided: the
  review gate), a plan (close, reopen, dates), a role or a pause marks the departments of the
  tasks concerned, from a session hook (``after_flush``),
  whatever module made it; the importer's bulk statements mark the plan's departments itself
  (``mark_plans``). A pass may therefore plan a department too early, never too late.
- **No lost mark.** A mark bumps ``version``; a pass writes its answer only where the version
  is still the one it read (compare and set), so a mark made while the pass ran wins.
- **Rebuilt when in doubt.** Migration 0009 starts every department due, ``notifier db reindex``
  does it again (``mark_all``), and a pass whose rules or contacts changed since the last one
  (a config reload), or that runs long before the last one (a clock set back), marks
  everything (``still_valid``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, event, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notifier.db.models import (DeadlineExtension, Department, DepartmentDue, DoneRequest, DueIndexState, Milestone,
                                OccurrenceDone, Pause, Plan, Task, TaskDepartment)

DUE_NOW = datetime(1970, 1, 1)  # a marked department: due at the next pass, whatever the time
LOGIC_VERSION = 2  # bump when what a next-due time means changes: every department is then marked
# (2: the grade ladder's wake-ups)


def _chunks(values: list[int], size: int = 500) -> Iterable[list[int]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _mark_select(s: Session, ids: Select[Any]) -> None:
    """Upsert ``DUE_NOW`` (and a new version) for the department ids ``ids`` selects."""
    table = cast(Table, DepartmentDue.__table__)
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    # ``WHERE true``: SQLite cannot tell an upsert's ON CONFLICT from a join without it.
    rows = select(ids.subquery().c[0], literal(DUE_NOW, DepartmentDue.next_due_at.type), literal(0))
    stmt = insert(table).from_select(["department_id", "next_due_at", "version"], rows.where(true()))
    stmt = stmt.on_conflict_do_update(index_elements=["department_id"],
                                      set_={"next_due_at": DUE_NOW, "version": table.c.version + 1})
    s.connection().execute(stmt)


def mark(s: Session, department_ids: Iterable[int]) -> None:
    """These departments are due at the next pass."""
    for chunk in _chunks(sorted(set(department_ids))):
        _mark_select(s, select(Department.id).where(Department.id.in_(chunk)))


def mark_tasks(s: Session, task_ids: Iterable[int]) -> None:
    """The departments holding any role in these tasks are due at the next pass."""
    for chunk in _chunks(sorted(set(task_ids))):
        _mark_select(s, select(TaskDepartment.department_id).distinct().where(TaskDepartment.task_id.in_(chunk)))


def mark_plans(s: Session, plan_ids: Iterable[int]) -> None:
    """The departments holding any role in these plans are due at the next pass (import)."""
    for chunk in _chunks(sorted(set(plan_ids))):
        _mark_select(s, select(TaskDepartment.department_id).distinct()
                     .join(Task, Task.id == TaskDepartment.task_id).where(Task.plan_id.in_(chunk)))


def mark_all(s: Session) -> int:
    """Every department is due at the next pass (``notifier db reindex``); how many."""
    _mark_select(s, select(Department.id))
    return s.scalar(select(func.count()).select_from(DepartmentDue)) or 0


def due(s: Session, now_utc: datetime) -> dict[int, int]:
    """The departments due at ``now_utc`` (naive UTC), each with the version read: an index seek."""
    return dict(s.execute(select(DepartmentDue.department_id, DepartmentDue.version)
                          .where(DepartmentDue.next_due_at <= now_utc)).all())


def record(s: Session, versions: Mapping[int, int], next_due: Mapping[int, datetime | None]) -> int:
    """Write each planned department's next time, unless it was marked since ``versions`` was
    read (compare and set); how many were written."""
    table = cast(Table, DepartmentDue.__table__)
    rows = [{"dep": d, "ver": versions[d], "at": at} for d, at in next_due.items() if d in versions]
    if not rows:
        return 0
    stmt = (update(table).where(and_(table.c.department_id == bindparam("dep"), table.c.version == bindparam("ver")))
            .values(next_due_at=bindparam("at")))
    return s.connection().execute(stmt, rows).rowcount or 0


def next_time(s: Session) -> datetime | None:
    """The earliest time any department is due (naive UTC; ``DUE_NOW`` for one already due), or
    None when no department has anything open: the status line's next reminder."""
    return s.scalar(select(func.min(DepartmentDue.next_due_at)))


def ensure(s: Session, department_ids: Iterable[int]) -> None:
    """Give these departments a row (due now) if they have none: a group's member or an
    escalation department may never have been marked itself."""
    table = cast(Table, DepartmentDue.__table__)
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for chunk in _chunks(sorted(set(department_ids))):
        rows = select(Department.id, literal(DUE_NOW, DepartmentDue.next_due_at.type), literal(0)).where(
            Department.id.in_(chunk))
        s.connection().execute(insert(table).from_select(["department_id", "next_due_at", "version"], rows)
                               .on_conflict_do_nothing(index_elements=["department_id"]))


def versions(s: Session, department_ids: Iterable[int]) -> dict[int, int]:
    """Each department's current version (what ``record`` compares with)."""
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(set(department_ids))):
        out.update(s.execute(select(DepartmentDue.department_id, DepartmentDue.version)
                             .where(DepartmentDue.department_id.in_(chunk))).all())
    return out


def fingerprint(*parts: object) -> str:
    """A stable digest of what the next-due times were computed with (rules, calendar, groups,
    who has a contact, this module's logic version)."""
    return hashlib.sha256(repr((LOGIC_VERSION, *parts)).encode()).hexdigest()[:32]


def still_valid(s: Session, print_: str, now_utc: datetime, skew: timedelta) -> bool:
    """Are the stored next-due times still good for a pass at ``now_utc``? Not when they were
    computed with other rules or contacts (a config change: ``print_`` differs) or by a pass
    more than ``skew`` ahead of now (the clock ran ahead, then was set back): then every
    department is marked due. Records ``print_`` and ``now_utc`` for the next pass."""
    stored = s.get(DueIndexState, 1)
    if stored is None:
        stored = DueIndexState(id=1, fingerprint="")
        s.add(stored)
    valid = stored.fingerprint == print_ and (stored.planned_at is None or stored.planned_at <= now_utc + skew)
    if not valid:
        mark_all(s)
    stored.fingerprint, stored.planned_at = print_, now_utc
    return valid


# -- the session hook: every ORM change that can move a department's next reminder --------------

def _changed(session: Session) -> tuple[set[int], set[int], set[int], set[int]]:
    tasks: set[int] = set()
    plans: set[int] = set()
    deps: set[int] = set()
    milestones: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Milestone):
            tasks.add(obj.task_id)
        elif isinstance(obj, OccurrenceDone | DeadlineExtension | DoneRequest):  # DoneRequest: the review gate
            milestones.add(obj.milestone_id)
        elif isinstance(obj, Plan):
            plans.add(obj.id)
        elif isinstance(obj, TaskDepartment):
            tasks.add(obj.task_id)
            deps.add(obj.department_id)
        elif isinstance(obj, Pause):
            if obj.task_id is not None:
                tasks.add(obj.task_id)
            if obj.department_id is not None:
                deps.add(obj.department_id)
    return tasks, plans, deps, milestones


def _after_flush(session: Session, _context: object) -> None:
    tasks, plans, deps, milestones = _changed(session)
    if milestones:
        tasks.update(session.connection().scalars(select(Milestone.task_id).where(Milestone.id.in_(milestones))))
    if tasks:
        mark_tasks(session, tasks)
    if plans:
        mark_plans(session, plans)
    if deps:
        mark(session, deps)


def departments_of_groups(members: Mapping[int, Collection[int]], due_ids: Iterable[int]) -> set[int]:
    """The due departments with the members of every due group: a change to a task led by a
    group (各县区政府) marks the group, and its members are reminded in its place."""
    out = set(due_ids)
    for group, ms in members.items():
        if group in out:
            out.update(ms)
    return out


event.listen(Session, "after_flush", _after_flush)
