"""Pauses (暂停督办) of a task or a department: stored here, asked through ``paused``.

The pure query ``paused`` is what the reminder planner's gate needs: is this task, or any of
these departments, paused on this day? Wiring it into the planner is the planner owner's step
(planning/ and reminders.py are not changed here); the ledger shows the pause meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.db.models import Pause


class PauseError(Exception):
    pass


@dataclass(frozen=True)
class PauseSpan:
    id: int
    task_id: int | None
    department_id: int | None
    starts_on: date
    ends_on: date  # inclusive
    reason: str
    resumed: bool = False


def paused(spans: Iterable[PauseSpan], day: date, *, task_id: int | None = None,
           department_ids: Iterable[int] = ()) -> PauseSpan | None:
    """The pause that holds on ``day`` for the task or any of the departments, else None."""
    deps = set(department_ids)
    for p in spans:
        if p.resumed or not p.starts_on <= day <= p.ends_on:
            continue
        if (task_id is not None and p.task_id == task_id) or (p.department_id is not None and p.department_id in deps):
            return p
    return None


def pause_spans(s: Session) -> list[PauseSpan]:
    return [PauseSpan(p.id, p.task_id, p.department_id, p.starts_on, p.ends_on, p.reason, p.resumed_at is not None)
            for p in s.scalars(select(Pause).order_by(Pause.id))]


def start_pause(s: Session, *, task_id: int | None, department_id: int | None, reason: str, ends_on: date,
                today: date, actor: str, now: datetime) -> Pause:
    if (task_id is None) == (department_id is None):
        raise PauseError("暂停的对象须为一项任务或一个部门")
    if not reason.strip():
        raise PauseError("请填写暂停原因")
    if ends_on < today:
        raise PauseError("暂停截止日期不能早于今天")
    p = Pause(task_id=task_id, department_id=department_id, reason=reason.strip(), starts_on=today,
              ends_on=ends_on, actor=actor, created_at=now)
    s.add(p)
    s.flush()
    return p


def end_pause(s: Session, pause_id: int, *, actor: str, now: datetime) -> Pause:
    p = s.get(Pause, pause_id)
    if p is None or p.resumed_at is not None:
        raise PauseError("该暂停不存在或已恢复")
    p.resumed_at, p.resumed_by = now, actor
    s.flush()
    return p
