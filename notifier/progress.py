"""Done marks, progress notes and re-queued deliveries: the admin's and departments' answers.

Every change is recorded in ``progress_events`` with its source (cli, import, link) and actor.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.engine import Engine

from notifier.db.engine import transaction, utcnow
from notifier.db.models import Delivery, Milestone, OccurrenceDone, ProgressEvent, Task


class ProgressError(Exception):
    pass


def mark(engine: Engine, milestone_id: int, *, done: bool = True, note: str | None = None,
         occurrence: date | None = None, source: str = "cli", actor: str | None = None) -> str:
    """Mark a milestone (or one occurrence of a recurring one) done, or reopen it."""
    now = utcnow()
    with transaction(engine) as s:
        m = s.get(Milestone, milestone_id)
        if m is None:
            raise ProgressError(f"no milestone {milestone_id}")
        task = s.get(Task, m.task_id)
        label = f"milestone {m.id} (task {task.number}: {m.text[:40]})"
        if m.recurrence:
            if occurrence is None:
                raise ProgressError(f"{label} recurs ({m.recurrence}): give --occurrence DATE")
            row = s.get(OccurrenceDone, (m.id, occurrence))
            if done and row is None:
                s.add(OccurrenceDone(milestone_id=m.id, occurrence=occurrence, done_at=now, note=note))
            elif not done and row is not None:
                s.delete(row)
            label += f" on {occurrence}"
        else:
            m.status = "done" if done else "open"
            m.done_at = now if done else None
            if note is not None:
                m.note = note
        s.add(ProgressEvent(milestone_id=m.id, occurrence=occurrence, action="done" if done else "reopen",
                            note=note, source=source, actor=actor, at=now))
    return f"{label}: {'done' if done else 'reopened'}"


def requeue(engine: Engine, delivery_id: int | None) -> int:
    """Failed deliveries back to pending, attempts reset. ``None``: all failed ones."""
    now = utcnow()
    with transaction(engine) as s:
        stmt = update(Delivery).where(Delivery.status == "failed")
        if delivery_id is not None:
            stmt = stmt.where(Delivery.id == delivery_id)
        n = s.execute(stmt.values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
                      .execution_options(synchronize_session=False)).rowcount
        if delivery_id is not None and n == 0 and s.get(Delivery, delivery_id) is None:
            raise ProgressError(f"no delivery {delivery_id}")
    return n


