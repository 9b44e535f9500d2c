"""Done requests (申请办结) and the office's review of them: the only writer of ``done_requests``.

A department asks that an item (a milestone, or one occurrence of a recurring report) be
closed, from its page (``/d/…``) or a reply link's "确认已完成". With ``[review] required``
(the default) the request waits (``pending``) and the item's reminders stop
(``without_requested``, a named step of the planning pass); the office then

- ``approve``\\ s it: the item is marked done as of the request (lateness is judged by when the
  department said it was done, not by when the office got to it), or
- ``return_request``\\ s it with a reason: reminders resume, and the reason is told in the
  department's next digest (``returns_to_tell`` / ``mark_told``).

Without review a request closes the item at once, as a reply link did before. Every step is
also a history event (申请办结, 办结 by the approver, 退回 with the reason), with who made it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.db.models import Department, DoneRequest, HistoryEvent, Milestone, RequestState, Task
from notifier.db.models import Digest as StoredDigest
from notifier.planning.schedule import Item
from notifier.marks import MarkError, apply_mark, check_occurrence, is_done
from notifier.rendering import item_label
from notifier.terms import HistoryAction, Source

__all__ = ["DoneRequest", "RequestState", "ReviewError", "approve", "request_done", "return_request"]

REQUEST = HistoryAction.REQUEST  # the history event of a done request
RETURN = HistoryAction.RETURN  # the history event of a return (the note is the reason)


class ReviewError(Exception):
    """A refused step; the message is shown as is (Chinese)."""


@dataclass(frozen=True)
class Requested:
    """What ``request_done`` recorded: the request, its state, and its history event."""

    id: int
    state: RequestState
    event_id: int


@dataclass(frozen=True)
class PendingRequest:
    """A request as the office's list shows it."""

    id: int
    milestone_id: int
    occurrence: date | None
    department: str
    task_number: str
    task_title: str
    text: str
    due: date
    note: str
    requested_by: str
    requested_at: datetime  # naive UTC
    state: RequestState
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Returned:
    """A returned request to tell the department in its next digest."""

    id: int
    milestone_id: int
    occurrence: date | None
    label: str  # the item as a digest line names it
    reason: str
    decided_by: str
    decided_at: datetime  # naive UTC


def _key(m: Milestone, occurrence: date | None) -> date | None:
    return occurrence if m.recurrence else None


def pending_request(s: Session, milestone_id: int, occurrence: date | None) -> DoneRequest | None:
    q = select(DoneRequest).where(DoneRequest.milestone_id == milestone_id,
                                  DoneRequest.state == RequestState.PENDING)
    q = q.where(DoneRequest.occurrence == occurrence) if occurrence else q.where(DoneRequest.occurrence.is_(None))
    return s.scalars(q.limit(1)).first()


def request_done(s: Session, *, milestone_id: int, occurrence: date | None, department_id: int, note: str,
                 by: str, source: Source, at: datetime, required: bool) -> Requested:
    """Record a department's done request inside the caller's transaction. ``required``
    (``[review] required``): it waits for the office; else the item is done at once."""
    m = s.get(Milestone, milestone_id)
    if m is None:
        raise ReviewError("该事项已不在计划中")
    try:
        check_occurrence(s, m, occurrence)
    except MarkError as exc:
        raise ReviewError(str(exc)) from None
    occ = _key(m, occurrence)
    if is_done(s, m, occ):
        raise ReviewError("该事项已办结，无需再次申请")
    if pending_request(s, m.id, occ) is not None:
        raise ReviewError("该事项已申请办结，正在等待督查室审核")
    note = note.strip()
    req = DoneRequest(milestone_id=m.id, occurrence=occ, department_id=department_id, note=note, source=source,
                      requested_by=by, requested_at=at,
                      state=RequestState.PENDING if required else RequestState.APPROVED)
    s.add(req)
    if required:
        event = HistoryEvent(milestone_id=m.id, occurrence=occ, action=REQUEST, note=note or None, source=source,
                              actor=by, at=at)
        s.add(event)
        s.flush()
        event_id = event.id
    else:  # no review: the request is the done mark, as a reply link's was
        event_id = apply_mark(s, m.id, done=True, note=note or None, occurrence=occ, source=source, actor=by,
                              now=at).event_id
        req.decided_at = at
    s.flush()
    return Requested(req.id, RequestState(req.state), event_id)


def _pending(s: Session, request_id: int) -> DoneRequest:
    req = s.get(DoneRequest, request_id)
    if req is None:
        raise ReviewError(f"没有编号为 {request_id} 的办结申请")
    if req.state != RequestState.PENDING:
        word = {RequestState.APPROVED: "已通过", RequestState.RETURNED: "已退回"}[RequestState(req.state)]
        raise ReviewError(f"办结申请 {request_id} {word}（{req.decided_by or '无需审核'}），不能再审核")
    return req


def approve(s: Session, request_id: int, *, by: str, source: Source, at: datetime, note: str = "") -> DoneRequest:
    """The office agrees: the item is done as of the request."""
    req = _pending(s, request_id)
    name = s.scalar(select(Department.name).where(Department.id == req.department_id))
    text = (f"审核通过{name}的办结申请" + (f"：{req.note}" if req.note else "")
            + (f"（{note.strip()}）" if note.strip() else ""))
    try:
        apply_mark(s, req.milestone_id, done=True, note=text, occurrence=req.occurrence, source=source, actor=by,
                   now=at, done_at=min(req.requested_at, at))
    except MarkError as exc:
        raise ReviewError(str(exc)) from None
    req.state, req.decided_by, req.decided_at = RequestState.APPROVED, by, at
    s.flush()
    return req


def return_request(s: Session, request_id: int, *, reason: str, by: str, source: Source,
                   at: datetime) -> DoneRequest:
    """The office sends it back with a reason: the item's reminders resume, and the reason goes
    in the department's next digest."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("退回时请填写原因")
    req = _pending(s, request_id)
    req.state, req.decided_by, req.decided_at, req.reason = RequestState.RETURNED, by, at, reason
    s.add(HistoryEvent(milestone_id=req.milestone_id, occurrence=req.occurrence, action=RETURN, note=reason,
                        source=source, actor=by, at=at))
    s.flush()
    return req


def mark_told(s: Session, request_ids: Iterable[int], digest_key: str) -> None:
    """These returns were told in the queued digest ``digest_key`` (they are not told again,
    unless that digest is dropped unsent: the foreign key then clears)."""
    digest_id = s.scalar(select(StoredDigest.id).where(StoredDigest.key == digest_key))
    for rid in request_ids:
        req = s.get(DoneRequest, rid)
        if req is not None and req.state == RequestState.RETURNED:
            req.told_digest_id = digest_id
    s.flush()


# ---------------------------------------------------------------- reading

def pending_keys(s: Session) -> set[tuple[int, date | None]]:
    """(milestone id, occurrence of a recurring report else None) of every pending request."""
    return {(m, o) for m, o in s.execute(select(DoneRequest.milestone_id, DoneRequest.occurrence)
                                         .where(DoneRequest.state == RequestState.PENDING))}


def without_requested(items: Iterable[Item], pending: set[tuple[int, date | None]]) -> list[Item]:
    """The review gate: an item whose done request waits for the office is not reminded (nor
    listed as overdue) while it waits; it comes back, with that day's numbers, if returned."""
    if not pending:
        return list(items)
    return [it for it in items if (it.milestone_id, it.occurrence if it.recurrence else None) not in pending]


def returns_to_tell(s: Session) -> dict[int, list[Returned]]:
    """Per department, the returned requests no digest has told yet (oldest first)."""
    out: dict[int, list[Returned]] = defaultdict(list)
    q = (select(DoneRequest, Milestone, Task).join(Milestone, Milestone.id == DoneRequest.milestone_id)
         .join(Task, Task.id == Milestone.task_id)
         .where(DoneRequest.state == RequestState.RETURNED, DoneRequest.told_digest_id.is_(None))
         .order_by(DoneRequest.decided_at, DoneRequest.id))
    for req, m, task in s.execute(q):
        label = item_label(task.number, task.title, m.text) + (f"（{req.occurrence}期）" if req.occurrence else "")
        out[req.department_id].append(Returned(req.id, m.id, req.occurrence, label, req.reason or "",
                                               req.decided_by or "", req.decided_at or req.requested_at))
    return dict(out)


def requests(s: Session, state: RequestState | None = RequestState.PENDING) -> list[PendingRequest]:
    """The requests in ``state`` (None: all), oldest first."""
    q = (select(DoneRequest, Milestone, Task, Department.name).join(Milestone, Milestone.id == DoneRequest.milestone_id)
         .join(Task, Task.id == Milestone.task_id).join(Department, Department.id == DoneRequest.department_id)
         .order_by(DoneRequest.requested_at, DoneRequest.id))
    if state is not None:
        q = q.where(DoneRequest.state == state)
    return [PendingRequest(r.id, m.id, r.occurrence, dep, task.number, task.title, m.text, r.occurrence or m.due_on,
                           r.note, r.requested_by, r.requested_at, RequestState(r.state), r.decided_by,
                           r.decided_at, r.reason)
            for r, m, task, dep in s.execute(q)]


def latest_requests(s: Session, department_id: int) -> dict[tuple[int, date | None], DoneRequest]:
    """The department's latest request per item (its page shows 待审核 / 已退回 with the reason)."""
    out: dict[tuple[int, date | None], DoneRequest] = {}
    for r in s.scalars(select(DoneRequest).where(DoneRequest.department_id == department_id)
                       .order_by(DoneRequest.requested_at, DoneRequest.id)):
        out[(r.milestone_id, r.occurrence)] = r
    return out
