"""What the office pages change, each through one named function that records the audit entry
in the same transaction: done/reopen, 延期, 代签收（电话）, resend, import, the review of done requests.

``extend_deadline`` is the one way a milestone's date changes after import: the planner reads
``Milestone.due_on``, so reminders re-plan from the new date by themselves, and the old date
stays in ``deadline_extensions`` (the task page's history). A later re-import of the plan sets
the document's date again; extend again after it if the document was not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db.models import DeadlineExtension, Delivery, Department, Digest, Milestone, Task
from notifier.delivery import outbox
from notifier.importing.model import PlanSpec
from notifier.importing.store import ImportSummary, store_plan
from notifier import review, signing
from notifier.office import audit
from notifier.marks import MarkError, apply_mark
from notifier.terms import DigestKind, Source

SOURCE = Source.OFFICE  # progress_events.source of the office pages


class ActionError(Exception):
    """A refused action; the message is shown to the user as is (Chinese)."""


def set_done(s: Session, milestone_id: int, done: bool, *, occurrence: date | None, note: str | None,
             actor: str, now: datetime) -> None:
    try:
        r = apply_mark(s, milestone_id, done=done, note=note or None, occurrence=occurrence, source=SOURCE,
                       actor=actor, now=now)
    except MarkError as exc:
        raise ActionError(f"无法办理：{exc}") from None
    m = s.get_one(Milestone, milestone_id)
    audit.record(s, actor, "done" if done else "reopen", r.label + (f"：{note}" if note else ""),
                 milestone_id=milestone_id, task_id=m.task_id, now=now)


def extend_deadline(s: Session, milestone_id: int, new_due: date, reason: str, *, actor: str,
                    now: datetime) -> DeadlineExtension:
    m = s.get(Milestone, milestone_id)
    if m is None:
        raise ActionError("该节点不存在")
    if m.recurrence:
        raise ActionError("定期报送事项按周期提醒，不能延期；可暂停该任务")
    if not reason.strip():
        raise ActionError("请填写延期原因")
    if new_due == m.due_on:
        raise ActionError("新的完成时限与原时限相同")
    ext = DeadlineExtension(milestone_id=m.id, old_due=m.due_on, new_due=new_due, reason=reason.strip(),
                            actor=actor, at=now)
    s.add(ext)
    audit.record(s, actor, "extend", f"{m.due_on} → {new_due}：{reason.strip()}", milestone_id=m.id,
                 task_id=m.task_id, now=now)
    m.due_on = new_due
    s.flush()
    return ext


def sign_by_telephone(s: Session, milestone_id: int, department_id: int, *, occurrence: date | None,
                      person: str, actor: str, now: datetime) -> signing.Signed:
    """代签收（电话）: a department signed for an item by telephone and the office records it
    (as ``notifier sign`` does), naming who signed and who recorded it."""
    dep = s.get(Department, department_id)
    if dep is None:
        raise ActionError("该部门不存在")
    try:
        r = signing.sign_for(s, department_ids=[dep.id], department=dep.name, milestone_id=milestone_id,
                             occurrence=occurrence, person=" ".join(person.split())[:100] or None, at=now,
                             via=Source.OFFICE, recorded_by=actor)
    except signing.SignError as exc:
        raise ActionError(f"无法办理：{exc}") from None
    m = s.get_one(Milestone, milestone_id)
    audit.record(s, actor, "sign", f"{r.label}（{r.occurrence}）：{r.signed_by}电话签收"
                 + ("" if r.requests else "（原已签收）"), milestone_id=milestone_id, task_id=m.task_id, now=now)
    return r


@dataclass(frozen=True)
class Resent:
    subject: str
    recipients: list[str]


def resend_latest(s: Session, department_id: int, *, actor: str, now: datetime) -> Resent:
    """Queue the department's latest reminder again, to the same contacts, due now; the
    dispatcher (``notifier run`` or ``send-due``) sends it at its next tick."""
    dep = s.get(Department, department_id)
    if dep is None:
        raise ActionError("该部门不存在")
    digest = s.scalar(select(Digest).where(Digest.department_id == department_id, Digest.kind == DigestKind.REMINDER)
                      .order_by(Digest.created_at.desc(), Digest.id.desc()).limit(1))
    if digest is None:
        raise ActionError(f"{dep.name}尚无已生成的提醒，无可重发")
    contacts = list(dict.fromkeys(s.execute(select(Delivery.channel, Delivery.recipient)
                                            .where(Delivery.digest_id == digest.id).order_by(Delivery.id)).all()))
    if not contacts:
        raise ActionError(f"{dep.name}的最近一次提醒没有收件方")
    outbox.resend(s, digest, contacts, now)
    audit.record(s, actor, "resend", f"{dep.name}：{digest.subject}", now=now)
    s.flush()
    return Resent(digest.subject, [f"{c}:{r}" for c, r in contacts])


def import_plan(s: Session, spec: PlanSpec, cfg: Config, *, file_name: str, actor: str,
                now: datetime) -> ImportSummary:
    summary = store_plan(s, spec, cfg)
    audit.record(s, actor, "import", f"{file_name}：{summary.plan_name}（{summary.action}，{summary.tasks}项任务，"
                 f"{summary.milestones}个节点）", now=now)
    return summary


def task_of(s: Session, task_id: int) -> Task:
    task = s.get(Task, task_id)
    if task is None:
        raise ActionError("该任务不存在")
    return task


def decide_request(s: Session, request_id: int, approve: bool, *, reason: str, actor: str,
                   now: datetime) -> review.DoneRequest:
    """Approve a department's done request, or return it with ``reason`` (notifier.review)."""
    try:
        if approve:
            req = review.approve(s, request_id, by=actor, source=SOURCE, at=now, note=reason)
        else:
            req = review.return_request(s, request_id, reason=reason, by=actor, source=SOURCE, at=now)
    except review.ReviewError as exc:
        raise ActionError(f"无法办理：{exc}") from None
    m = s.get_one(Milestone, req.milestone_id)
    dep = s.get_one(Department, req.department_id)
    what = f"{dep.name}：{m.text[:40]}" + (f"（{req.occurrence}期）" if req.occurrence else "")
    audit.record(s, actor, "review_approve" if approve else "review_return",
                 what + (f"；{reason.strip()}" if reason.strip() else ""), milestone_id=m.id, task_id=m.task_id,
                 now=now)
    return req
