"""Done marks (done / reopen) and progress notes: the admin's and departments' answers.

Every change is recorded in ``progress_events`` with its source (cli, import, link), actor
and time, so ``status`` and ``milestones`` can tell who answered what, and when. These
functions return data (``Marked``); ``cli.py`` words it.

A done mark recorded after the fact (`notifier done ID --on DATE`) carries the day the work was
really done: the mark's ``done_at`` and its event's ``at`` are the start of that day in the
configured zone, so `history` lists it on that day and lateness is judged by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier import grade_log, signing
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Milestone, OccurrenceDone, Plan, HistoryEvent, Task
from notifier.planning.recurrence import occurrences
from notifier.terms import HistoryAction, MilestoneStatus, Source


class MarkError(Exception):
    pass


@dataclass(frozen=True)
class Marked:
    milestone_id: int
    task_number: str
    text: str
    occurrence: date | None  # the date of a recurring report this answer is about
    action: HistoryAction
    event_id: int
    changed: bool  # False: it already was in that state (the event is still recorded)
    at: datetime  # naive UTC: when the work was done (done --on) or the answer recorded

    @property
    def label(self) -> str:
        """How the office names the item it answered (CLI lines, the office's audit history)."""
        occ = f" {self.occurrence}期" if self.occurrence else ""
        return f"时间节点#{self.milestone_id}（任务{self.task_number}：{self.text[:40]}）{occ}"


def milestone_label(s: Session, m: Milestone) -> str:
    task = s.get_one(Task, m.task_id)
    return f"时间节点#{m.id}（任务{task.number}：{m.text[:40]}）"


def _marked(s: Session, m: Milestone, event: HistoryEvent, changed: bool) -> Marked:
    task = s.get_one(Task, m.task_id)
    return Marked(m.id, task.number, m.text, event.occurrence, HistoryAction(event.action), event.id, changed,
                  event.at)


def check_occurrence(s: Session, m: Milestone, occurrence: date | None) -> None:
    """A recurring milestone needs one of its own occurrence dates."""
    if not m.recurrence:
        return
    plan = s.scalars(select(Plan).join(Task, Task.plan_id == Plan.id).where(Task.id == m.task_id)).one()
    dates = occurrences(m.recurrence, plan.starts_on, plan.ends_on)
    if occurrence is None:
        raise MarkError(f"{milestone_label(s, m)}是周期性报送：请用 --occurrence 日期 指明哪一期，可选 "
                            + ", ".join(d.isoformat() for d in dates))
    if occurrence not in dates:
        raise MarkError(f"{occurrence} 不是{milestone_label(s, m)}的报送期次；其期次为 "
                            + ", ".join(d.isoformat() for d in dates))


def is_done(s: Session, m: Milestone, occurrence: date | None) -> bool:
    if m.recurrence:
        return occurrence is not None and s.get(OccurrenceDone, (m.id, occurrence)) is not None
    return m.status == MilestoneStatus.DONE


def apply_mark(s: Session, milestone_id: int, *, done: bool = True, note: str | None = None,
               occurrence: date | None = None, source: Source = Source.CLI, actor: str | None = None,
               now: datetime | None = None, done_at: datetime | None = None) -> Marked:
    """Mark a milestone (or one occurrence of a recurring one) done, or reopen it, inside
    the caller's transaction. ``done_at`` (naive UTC, not after ``now``): when the work was
    really done, for a mark recorded later; default ``now``."""
    now = now or utcnow()
    if done_at is not None and (not done or done_at > now):
        raise MarkError("办结日期只能用于标记办结，且不能晚于今天" if done else "重新打开不需要办结日期")
    when = done_at or now
    m = s.get(Milestone, milestone_id)
    if m is None:
        raise MarkError(f"没有编号为 {milestone_id} 的时间节点")
    check_occurrence(s, m, occurrence)
    changed = is_done(s, m, occurrence) != done
    if m.recurrence:
        row = s.get(OccurrenceDone, (m.id, occurrence))
        if done and row is None:
            s.add(OccurrenceDone(milestone_id=m.id, occurrence=occurrence, done_at=when, note=note))
        elif done and done_at is not None and row is not None:
            row.done_at = done_at  # the date is being corrected
        elif not done and row is not None:
            s.delete(row)
    else:
        occurrence = None  # a one-off milestone has one date; the event needs none
        if changed:
            m.status = MilestoneStatus.DONE if done else MilestoneStatus.OPEN
            m.done_at = when if done else None
        elif done and done_at is not None:
            m.done_at = done_at  # the date is being corrected
        if note is not None:
            m.note = note
    action = HistoryAction.DONE if done else HistoryAction.REOPEN
    event = HistoryEvent(milestone_id=m.id, occurrence=occurrence, action=action, note=note, source=source, actor=actor,
                         at=when)
    s.add(event)
    s.flush()
    if changed and not done:  # reopened: its grade (红 when overdue) is said again, once, and 签收 asked anew
        grade_log.restart(s, m.id, occurrence or m.due_on, key=f"reopen:{event.id}", at=when)
        signing.lapse(s, m.id, occurrence or m.due_on)
    return _marked(s, m, event, changed)


def apply_note(s: Session, milestone_id: int, note: str, *, occurrence: date | None = None,
               source: Source = Source.CLI, actor: str | None = None, now: datetime | None = None,
               percent: int | None = None) -> Marked:
    """Record a progress report (not done yet): reminders go on. ``percent``: how far along
    (0-100) the department says it is (报送进展 on its page)."""
    if not note or not note.strip():
        raise MarkError("进展说明不能为空")
    if percent is not None and not 0 <= percent <= 100:
        raise MarkError("完成进度应为0到100之间的整数")
    m = s.get(Milestone, milestone_id)
    if m is None:
        raise MarkError(f"没有编号为 {milestone_id} 的时间节点")
    check_occurrence(s, m, occurrence)
    event = HistoryEvent(milestone_id=m.id, occurrence=occurrence if m.recurrence else None,
                          action=HistoryAction.PROGRESS, note=note.strip(), source=source, actor=actor,
                          at=now or utcnow(), percent=percent)
    s.add(event)
    s.flush()
    return _marked(s, m, event, True)


def mark(engine: Engine, milestone_id: int, *, done: bool = True, note: str | None = None,
         occurrence: date | None = None, source: Source = Source.CLI, actor: str | None = None,
         done_at: datetime | None = None) -> Marked:
    """Mark a milestone (or one occurrence of a recurring one) done, or reopen it."""
    with transaction(engine) as s:
        return apply_mark(s, milestone_id, done=done, note=note, occurrence=occurrence, source=source,
                          actor=actor, done_at=done_at)


def note(engine: Engine, milestone_id: int, text: str, *, occurrence: date | None = None,
         source: Source = Source.CLI, actor: str | None = None) -> Marked:
    with transaction(engine) as s:
        return apply_note(s, milestone_id, text, occurrence=occurrence, source=source, actor=actor)
