"""Write a PlanSpec to the database in one transaction.

A plan is recognised again by its 文号, else by name and year, else by content hash, and
updated in place: tasks by number, milestones by key (then by date), so done marks and
notes survive a re-import of an edited table.

The write is linear in the plan and done in bulk: the departments and aliases are read
once into memory, new departments are inserted together, and tasks, milestones and their
departments are inserted, updated and deleted with one statement per kind (executemany),
not one ORM flush per row. A 50,000-row table writes in seconds (bench/import_rows.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from notifier import due_index
from notifier.config import Config
from notifier.db.engine import utcnow
from notifier.db.models import (Milestone, Plan, Task,
                                TaskDepartment, table_of)
from notifier.departments import DepartmentIndex, sync_departments
from notifier.importing.model import PlanSpec, TaskSpec
from notifier.terms import ROLES, MilestoneStatus



@dataclass
class ImportSummary:
    plan_id: int
    plan_name: str
    action: str  # created | updated | unchanged
    tasks: int
    milestones: int
    departments: list[str]
    without_contact: list[str] = field(default_factory=list)
    done_kept: int = 0


def find_plan(session: Session, spec: PlanSpec) -> Plan | None:
    if spec.doc_number:
        plan = session.scalar(select(Plan).where(Plan.doc_number == spec.doc_number))
        if plan is not None:
            return plan
    plan = session.scalar(select(Plan).where(Plan.name == spec.name, Plan.year == spec.year))
    if plan is None and spec.source_hash:
        plan = session.scalar(select(Plan).where(Plan.source_hash == spec.source_hash))
    return plan


def store_plan(session: Session, spec: PlanSpec, config: Config) -> ImportSummary:
    """Insert or update ``spec``. The caller owns the transaction (all or nothing)."""
    index = sync_departments(session, config)
    now = utcnow()
    plan = find_plan(session, spec)
    if plan is not None and plan.source_hash == spec.source_hash and spec.source_hash:
        return _summary(plan, spec, config, "unchanged", 0, index)
    action = "updated" if plan is not None else "created"
    if plan is None:
        plan = Plan(imported_at=now, name=spec.name, year=spec.year, starts_on=spec.starts_on,
                    ends_on=spec.ends_on, source_hash=spec.source_hash, updated_at=now)
        session.add(plan)
    plan.name = spec.name
    # A table exported from us carries no 文号: keep what the document gave.
    plan.doc_number = spec.doc_number or plan.doc_number
    plan.issuer = spec.issuer or plan.issuer
    plan.issued_on = spec.issued_on or plan.issued_on
    plan.year, plan.starts_on, plan.ends_on = spec.year, spec.starts_on, spec.ends_on
    plan.source_hash, plan.updated_at = spec.source_hash, now
    session.flush()

    task_ids = _write_tasks(session, plan.id, spec.tasks)
    done_kept = _write_milestones(session, plan.id, task_ids, spec.tasks)
    _write_roles(session, task_ids, spec.tasks, index)
    due_index.mark_plans(session, [plan.id])  # bulk statements: no session hook sees them
    session.expire(plan)  # its tasks changed underneath the ORM
    return _summary(plan, spec, config, action, done_kept, index)


def _write_tasks(session: Session, plan_id: int, tasks: Sequence[TaskSpec]) -> list[int]:
    """Insert, update and delete the plan's tasks, matched by number; returns the id of
    each of ``tasks`` in order."""
    cols = table_of(Task).c
    old = dict(session.execute(select(cols.number, cols.id).where(cols.plan_id == plan_id)).all())
    ids: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for pos, ts in enumerate(tasks):
        values = {"title": ts.title[:500], "text": ts.text, "position": pos, "line": ts.line}
        tid = old.pop(ts.number, None)
        if tid is None:
            new_rows.append({"plan_id": plan_id, "number": ts.number, **values})
        else:
            ids[ts.number] = tid
            changed.append({"id": tid, **values})
    _delete_ids(session, Task, list(old.values()))  # milestones and roles go by ON DELETE CASCADE
    _update_by_id(session, Task, changed)
    if new_rows:
        table = table_of(Task)
        for chunk in _chunks(new_rows):
            ids.update((number, tid) for tid, number in session.execute(
                insert(table).returning(table.c.id, table.c.number), chunk))
    return [ids[ts.number] for ts in tasks]


def _write_milestones(session: Session, plan_id: int, task_ids: list[int],
                      tasks: Sequence[TaskSpec]) -> int:
    """Match each task's milestones to the stored ones by key, else by date (an edited text
    keeps its done mark when the date or rule stayed); returns how many done marks were kept."""
    stored: dict[int, dict[str, Any]] = {tid: {} for tid in task_ids}
    mcols, tasks_c = table_of(Milestone).c, table_of(Task).c
    for row in session.execute(
            select(mcols.id, mcols.task_id, mcols.key, mcols.due_on, mcols.recurrence, mcols.status)
            .join_from(table_of(Milestone), table_of(Task)).where(tasks_c.plan_id == plan_id)):
        stored[row.task_id][row.key] = row
    kept = 0
    gone: list[int] = []
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for tid, ts in zip(task_ids, tasks, strict=True):
        by_key = stored[tid]
        used: set[str] = set()
        for pos, ms in enumerate(ts.milestones):
            key = base = ms.key  # computed once: a SHA-1 per milestone, not per collision
            n = 1
            while key in used:  # the same words and date twice in one task
                n += 1
                key = f"{base[:13]}-{n}"
            used.add(key)
            old = by_key.pop(key, None)
            if old is None:
                old = next((o for o in by_key.values()
                            if o.due_on == ms.due and o.recurrence == ms.recurrence), None)
                if old is not None:
                    del by_key[old.key]
            values = {"key": key, "position": pos, "due_on": ms.due, "text": ms.text,
                      "phrase": ms.phrase[:200], "recurrence": ms.recurrence, "line": ms.line}
            if old is None:
                new_rows.append({"task_id": tid, "status": MilestoneStatus.OPEN, **values})
            else:
                kept += old.status == MilestoneStatus.DONE
                changed.append({"id": old.id, **values})
        gone.extend(o.id for o in by_key.values())  # what the new document dropped
    _delete_ids(session, Milestone, gone)
    _update_by_id(session, Milestone, changed)  # in order: a key moves before it is reused
    _insert_rows(session, Milestone, new_rows)
    return kept


def _write_roles(session: Session, task_ids: list[int], tasks: Sequence[TaskSpec],
                 index: DepartmentIndex) -> None:
    """Replace the tasks' departments (lead, responsible, cooperating, in printed order)."""
    deps = index.get_or_create_all(name for ts in tasks for role in ROLES for name in getattr(ts, role))
    for chunk in _chunks(task_ids):
        session.execute(delete(TaskDepartment).where(TaskDepartment.task_id.in_(chunk))
                        .execution_options(synchronize_session=False))
    rows = []
    for tid, ts in zip(task_ids, tasks, strict=True):
        seen: set[tuple[int, str]] = set()
        for role in ROLES:
            for pos, name in enumerate(getattr(ts, role)):
                dep_id = deps[name].id
                if (dep_id, role) not in seen:
                    seen.add((dep_id, role))
                    rows.append({"task_id": tid, "department_id": dep_id, "role": role,
                                 "position": pos})
    _insert_rows(session, TaskDepartment, rows)


def _update_by_id(session: Session, model: type[Task] | type[Milestone],
                  rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE ... WHERE id = ? for ``rows`` (dicts with ``id`` and the
    same other keys), in Core: the ORM's bulk update costs several times more per row."""
    if not rows:
        return
    table = table_of(model)
    columns = [k for k in rows[0] if k != "id"]
    stmt = (update(table).where(table.c.id == bindparam("row_id"))
            .values({k: bindparam(k) for k in columns}))
    for chunk in _chunks(rows):
        session.execute(stmt, [{"row_id": r["id"], **{k: r[k] for k in columns}} for r in chunk])


def _insert_rows(session: Session, model: type[Milestone] | type[TaskDepartment],
            rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        session.execute(insert(table_of(model)), chunk)


T = TypeVar("T")



def _chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    # Bounded statements: SQLite caps the bound parameters of one IN list, and an executemany
    # of a slice keeps SQLAlchemy's copies of the parameters small.
    return (items[i:i + size] for i in range(0, len(items), size))


def _delete_ids(session: Session, model: type[Task] | type[Milestone], ids: Sequence[int]) -> None:
    for chunk in _chunks(ids):
        session.execute(delete(model).where(model.id.in_(chunk))
                        .execution_options(synchronize_session=False))


def _summary(plan: Plan, spec: PlanSpec, config: Config, action: str, done_kept: int,
             index: DepartmentIndex) -> ImportSummary:
    names: dict[str, None] = {}
    for dep in index.get_or_create_all(spec.departments()).values():
        names.setdefault(dep.name, None)
    without = [n for n in names if not config.reachable(n)]
    return ImportSummary(plan_id=plan.id, plan_name=plan.name, action=action, tasks=len(spec.tasks),
                         milestones=spec.milestone_count, departments=list(names),
                         without_contact=without, done_kept=done_kept)
