"""The record of grade steps (``grade_steps``): which item stepped up to which grade for which
department, and in which digest. The pass records a digest's steps when it queues the digest,
so a step is said once; the planner compares today's grade with the last one recorded here.
Rows change only through this module (``record``, ``forget``, ``restart``).

A step is about one item, and a one-off milestone's item is keyed by its date: after a 延期 the
new date is a new item for the ladder (蓝, 黄, 红 said again for the new deadline), while a
re-import that sets the old date back finds that date's steps said already. A reopening (a done
mark taken back) ``restart``s the item's ladder with a 绿 row, so its grade today is said again,
once; history lists only the steps up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from notifier.db.models import GradeStep
from notifier.terms import Light
from notifier.planning.ladder import Key, Step


@dataclass(frozen=True)
class Recorded:
    """A step as history shows it."""

    department_id: int
    milestone_id: int
    occurrence: date
    grade: Light
    on: date
    at: datetime  # naive UTC


def record(s: Session, steps: Iterable[Step], *, digest_key: str, on: date, at: datetime) -> int:
    """Record the steps a queued digest says. Returns how many were recorded."""
    rows = [{"department_id": st.department_id, "milestone_id": st.milestone_id, "occurrence": st.occurrence,
             "grade": st.grade.value, "digest_key": digest_key, "stepped_on": on, "created_at": at} for st in steps]
    if rows:
        s.execute(insert(GradeStep), rows)
    return len(rows)


def forget(s: Session, digest_keys: Iterable[str]) -> None:
    """Drop the steps of digests that never left (re-planned with today's numbers)."""
    keys = list(digest_keys)
    if keys:
        s.execute(delete(GradeStep).where(GradeStep.digest_key.in_(keys)))


def restart(s: Session, milestone_id: int, occurrence: date, *, key: str, at: datetime) -> int:
    """The item starts its ladder again (it was reopened after a done mark): a 绿 row for each
    department whose last recorded grade of it is above 绿, so the next pass says its grade
    again (a 红 copied to the escalation departments again too). ``key`` names the cause (one
    per reopening); ``at`` naive UTC. Returns the departments restarted."""
    last = last_grades(s, [milestone_id])
    rows = [{"department_id": dept, "milestone_id": mid, "occurrence": occ, "grade": Light.GREEN.value,
             "digest_key": key, "stepped_on": at.date(), "created_at": at}
            for (dept, mid, occ), grade in sorted(last.items()) if occ == occurrence and grade is not Light.GREEN]
    if rows:
        s.execute(insert(GradeStep), rows)
    return len(rows)


def last_grades(s: Session, milestone_ids: Iterable[int]) -> dict[Key, Light]:
    """The last grade recorded for each (department, milestone, occurrence) of these milestones."""
    out: dict[Key, Light] = {}
    ids = sorted(set(milestone_ids))
    for i in range(0, len(ids), 5000):
        q = (select(GradeStep.department_id, GradeStep.milestone_id, GradeStep.occurrence, GradeStep.grade)
             .where(GradeStep.milestone_id.in_(ids[i:i + 5000])).order_by(GradeStep.id))
        for dept, mid, occ, grade in s.execute(q):
            out[(dept, mid, occ)] = grade  # ordered by id: the latest wins
    return out


def of_department(s: Session, department_id: int, milestone_ids: Iterable[int]) -> list[Recorded]:
    """The department's recorded grades of these milestones' items, each item's in the order
    recorded, restarts (绿) included: an item's last is the grade it was last told (its page
    shows it)."""
    ids = sorted(set(milestone_ids))
    out: list[Recorded] = []
    for i in range(0, len(ids), 5000):
        q = select(GradeStep).where(GradeStep.department_id == department_id,
                                    GradeStep.milestone_id.in_(ids[i:i + 5000])).order_by(GradeStep.id)
        out += [Recorded(r.department_id, r.milestone_id, r.occurrence, r.grade, r.stepped_on, r.created_at)
                for r in s.scalars(q)]
    return out


def history(s: Session, milestone_id: int | None = None, limit: int | None = None) -> list[Recorded]:
    """Recorded steps up, newest first (``notifier history``); a restart is not one."""
    q = (select(GradeStep).where(GradeStep.grade != Light.GREEN)
         .order_by(GradeStep.created_at.desc(), GradeStep.id.desc()))
    if milestone_id is not None:
        q = q.where(GradeStep.milestone_id == milestone_id)
    if limit is not None:
        q = q.limit(limit)
    return [Recorded(r.department_id, r.milestone_id, r.occurrence, r.grade, r.stepped_on, r.created_at)
            for r in s.scalars(q)]
