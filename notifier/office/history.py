"""A task's whole history: every message sent about it (time, channel, result), every answer,
done mark, reopening, 签收, 延期, pause and office action, with who made it, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from notifier import labels, signing
from notifier.config import Config
from notifier.db.models import (AuditEntry, DeadlineExtension, Delivery, Department, Digest, HistoryEvent, Milestone,
                               Pause)
from notifier.terms import Source


@dataclass(frozen=True)
class Event:
    at: datetime  # aware, local
    what: str
    detail: str
    who: str


def task_history(s: Session, cfg: Config, task_id: int) -> list[Event]:
    tz = cfg.timezone

    def local(at: datetime) -> datetime:
        return at.replace(tzinfo=UTC).astimezone(tz)

    milestones = {m.id: m for m in s.scalars(select(Milestone).where(Milestone.task_id == task_id))}
    ids = list(milestones)
    out: list[Event] = []
    if ids:
        # Digest.data is the JSON the templates saw (sort_keys): each entry names its milestone.
        mentions = [Digest.data.contains(f'"milestone_id": {i},') for i in ids] + \
                   [Digest.data.contains(f'"milestone_id": {i}}}') for i in ids]
        for d, digest, dep in s.execute(
                select(Delivery, Digest, Department.name).join(Digest, Digest.id == Delivery.digest_id)
                .join(Department, Department.id == Delivery.department_id).where(or_(*mentions))):
            at = d.sent_at or d.created_at
            result = labels.DELIVERY_STATUS.get(d.status, d.status) + (f"（{d.last_error}）" if d.last_error else "")
            out.append(Event(local(at), f"发出{labels.DIGEST_KIND.get(digest.kind, digest.kind)}",
                             f"{d.channel}:{d.recipient} — {result}；{digest.subject}", dep))
        for e in s.scalars(select(HistoryEvent).where(HistoryEvent.milestone_id.in_(ids))):
            m = milestones[e.milestone_id]
            occ = f"（{e.occurrence}期）" if e.occurrence else ""
            out.append(Event(local(e.at), labels.HISTORY_ACTION.get(e.action, e.action),
                             f"{m.text[:40]}{occ}" + (f"：完成{e.percent}%" if e.percent is not None else "")
                             + (f"：{e.note}" if e.note else "") + f"（{labels.SOURCE.get(e.source, e.source)}）",
                             e.actor or ""))
        for mid in ids:  # 签收: the department's own (its page), or by telephone (notifier sign)
            for r in signing.signatures(s, mid):
                if r.signed_at is None:
                    continue
                where = labels.SOURCE.get(r.signed_via or Source.PAGE, r.signed_via or "")
                via = f"电话签收，{r.recorded_by or ''}经{where}录入" if signing.by_telephone(r.signed_via) else where
                out.append(Event(local(r.signed_at), "签收",
                                 f"{milestones[mid].text[:40]}（{r.occurrence}）（{via}）", r.signed_by or ""))
        for x in s.scalars(select(DeadlineExtension).where(DeadlineExtension.milestone_id.in_(ids))):
            out.append(Event(local(x.at), "延期", f"{milestones[x.milestone_id].text[:40]}：{x.old_due} → {x.new_due}，"
                             f"原因：{x.reason}", x.actor))
    for p in s.scalars(select(Pause).where(Pause.task_id == task_id)):
        out.append(Event(local(p.created_at), "暂停", f"{p.starts_on} 至 {p.ends_on}：{p.reason}", p.actor))
        if p.resumed_at:
            out.append(Event(local(p.resumed_at), "恢复", f"暂停（{p.reason}）提前结束", p.resumed_by or ""))
    shown = {"done", "reopen", "extend", "pause", "resume", "sign"}  # already above from their own tables
    for a in s.scalars(select(AuditEntry).where(AuditEntry.task_id == task_id, AuditEntry.action.not_in(shown))):
        out.append(Event(local(a.at), a.action, a.detail, a.actor))
    out.sort(key=lambda e: e.at, reverse=True)
    return out
