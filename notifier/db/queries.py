"""Named queries the passes and the CLI share. SQL lives here, not in the steps."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier.db.models import (Contact, Delivery, Department, Digest, Milestone, OccurrenceDone, Plan,
                                ReminderLog, Task, TaskDepartment)
from notifier.planning.recurrence import occurrences
from notifier.planning.schedule import Item, PlanInfo


def open_items(session: Session, expand: dict[int, tuple[int, ...]] | None = None) -> list[Item]:
    """Every open milestone occurrence with its plan, task and lead departments.

    ``expand`` maps a group department (各县区政府) to the members the config names."""
    expand = expand or {}
    leads: dict[int, list[int]] = defaultdict(list)
    for task_id, dep_id in session.execute(
            select(TaskDepartment.task_id, TaskDepartment.department_id)
            .where(TaskDepartment.role == "lead").order_by(TaskDepartment.task_id, TaskDepartment.position)):
        for d in expand.get(dep_id, (dep_id,)):
            if d not in leads[task_id]:
                leads[task_id].append(d)
    rows = session.execute(
        select(Milestone.id, Milestone.due_on, Milestone.text, Milestone.recurrence,
               Task.id, Task.number, Task.title,
               Plan.id, Plan.name, Plan.doc_number, Plan.starts_on, Plan.ends_on)
        .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
        .where(Milestone.status == "open")
        .order_by(Plan.id, Task.position, Milestone.position)).all()
    done: dict[int, set[date]] = defaultdict(set)
    if any(r[3] for r in rows):
        for mid, occ in session.execute(select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence)):
            done[mid].add(occ)
    plans: dict[int, PlanInfo] = {}
    items = []
    for mid, due, text, rule, tid, tnum, title, pid, pname, doc, start, end in rows:
        plan = plans.setdefault(pid, PlanInfo(pid, pname, doc, start, end))
        task_leads = tuple(leads.get(tid, ()))
        dates = occurrences(rule, start, end) if rule else [due]
        for occ in dates:
            if occ not in done[mid]:
                items.append(Item(mid, occ, plan, tid, tnum, title, text, task_leads, rule))
    return items


def reminder_log(session: Session) -> dict[tuple[int, str], datetime]:
    return {(d, s): t for d, s, t in session.execute(
        select(ReminderLog.department_id, ReminderLog.series, func.max(ReminderLog.trigger_at))
        .group_by(ReminderLog.department_id, ReminderLog.series))}


def department_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.name)).all())


def delivery_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())


def failed_deliveries(session: Session, limit: int = 20) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.status == "failed")
                                .order_by(Delivery.id.desc()).limit(limit)))


def broken_contacts(session: Session) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.broken.is_(True)).order_by(Contact.id)))


def next_pending(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending"))


@dataclass
class DigestFailures:
    """The failed deliveries of one digest, against how many it had: "2 of 3 failed"."""

    digest_id: int
    department: str
    kind: str
    day: date
    subject: str
    total: int
    failed: list[tuple[int, str, str, str | None]]  # (delivery id, channel, recipient, last error)

    @property
    def headline(self) -> str:
        return f"{self.department} {self.kind} {self.day}: {len(self.failed)} of {self.total} failed"


def digest_failures(session: Session, delivery_ids: list[int] | None = None, limit: int = 20) -> list[DigestFailures]:
    """Failed deliveries grouped by digest, newest digest first; ``delivery_ids`` narrows the
    failures looked at (e.g. those of one pass), ``limit`` the digests listed."""
    q = select(Delivery.digest_id).where(Delivery.status == "failed")
    if delivery_ids is not None:
        q = q.where(Delivery.id.in_(delivery_ids))
    digest_ids = [r[0] for r in session.execute(q.distinct().order_by(Delivery.digest_id.desc()).limit(limit))]
    if not digest_ids:
        return []
    wanted = set(delivery_ids) if delivery_ids is not None else None
    heads = {i: DigestFailures(i, name, kind, day, subject, 0, []) for i, name, kind, day, subject in session.execute(
        select(Digest.id, Department.name, Digest.kind, Digest.day, Digest.subject)
        .join(Department, Department.id == Digest.department_id).where(Digest.id.in_(digest_ids)))}
    for digest_id, did, channel, recipient, status, error in session.execute(
            select(Delivery.digest_id, Delivery.id, Delivery.channel, Delivery.recipient, Delivery.status,
                   Delivery.last_error).where(Delivery.digest_id.in_(digest_ids)).order_by(Delivery.id)):
        head = heads[digest_id]
        head.total += 1
        if status == "failed" and (wanted is None or did in wanted):
            head.failed.append((did, channel, recipient, error))
    return [heads[i] for i in digest_ids]
