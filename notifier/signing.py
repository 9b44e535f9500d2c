"""签收: a reminder asks a department to sign for the items it carries; the department signs.

The state of a request changes only here: ``ask`` records the requests of a queued digest
(state ``asked``; ``withdraw`` drops those of a digest that never left; ``lapse`` sets aside
those of an item reopened after its done mark), ``sign`` records a
department's 签收 of an item (``asked`` -> ``signed``, every open request of that department
and item at once: a clerk signs for the item, not for one message). ``open_requests`` and
``unsigned`` read them for the department's page, ``status`` and the ledger; ``signatures``
lists the 签收 made, for history; ``asked_of`` what the office may sign for a department.

A signature records who signed (``signed_by``), through what (``signed_via``, a ``Source``:
the department's page, or ``cli`` for a 签收 made by telephone and recorded by the office with
``notifier sign``, ``office`` for the office page's 代签收（电话）) and, when the office recorded
it, who did (``recorded_by``). ``sign_for``
is the checked way in for such a record: it names the item the department was asked about, or
says why there is nothing to sign (``SignError``).

A request is due by ``sign_by`` (inclusive): the pass sets it ``[grades] sign_within_days``
working days after the day it asked. An item not signed for by then steps up to 黄 (催办)
(``notifier.office.grades``). All functions work inside the caller's session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from notifier.db.models import Department, Milestone, OccurrenceDone, Task
from notifier.db.models import SignRequest as SignRequestRow
from notifier.terms import MilestoneStatus, SignState, Source


@dataclass(frozen=True)
class SignRequest:
    id: int
    department_id: int
    milestone_id: int
    occurrence: date
    digest_key: str
    asked_on: date
    sign_by: date
    signed_at: datetime | None  # naive UTC
    signed_by: str | None
    signed_via: Source | None = None
    recorded_by: str | None = None
    state: SignState = SignState.ASKED

    @classmethod
    def of(cls, row: SignRequestRow) -> SignRequest:
        return cls(row.id, row.department_id, row.milestone_id, row.occurrence, row.digest_key, row.asked_on,
                   row.sign_by, row.signed_at, row.signed_by, row.signed_via,
                   row.recorded_by, row.status)


def ask(s: Session, *, department_id: int, items: Iterable[tuple[int, date]], digest_key: str, asked_on: date,
        sign_by: date) -> int:
    """Record that the digest ``digest_key`` asks ``department_id`` to sign for ``items``
    ((milestone id, occurrence) pairs) by ``sign_by``. Returns the requests added; asking
    again for the same digest adds nothing (a re-run pass, a second instance)."""
    wanted = list(dict.fromkeys(items))
    if not wanted:
        return 0
    if sign_by < asked_on:
        raise ValueError(f"sign_by {sign_by} is before asked_on {asked_on}")
    have = {(m, occ) for m, occ in s.execute(select(SignRequestRow.milestone_id, SignRequestRow.occurrence).where(
        SignRequestRow.department_id == department_id, SignRequestRow.digest_key == digest_key))}
    new = [(m, occ) for m, occ in wanted if (m, occ) not in have]
    if new:  # one executemany: a cutoff day asks about thousands of items
        s.execute(insert(SignRequestRow), [
            {"department_id": department_id, "milestone_id": m, "occurrence": occ, "digest_key": digest_key,
             "asked_on": asked_on, "sign_by": sign_by, "status": SignState.ASKED} for m, occ in new])
    return len(new)


def withdraw(s: Session, digest_keys: Iterable[str]) -> None:
    """Drop the requests of digests that never left (the pass re-plans them with today's
    numbers, and asks again then): nobody was asked."""
    keys = list(digest_keys)
    if keys:
        s.execute(delete(SignRequestRow).where(SignRequestRow.digest_key.in_(keys),
                                               SignRequestRow.status == SignState.ASKED))


def lapse(s: Session, milestone_id: int, occurrence: date) -> int:
    """The item was reopened after a done mark: its requests not signed for are moot (``asked``
    -> ``lapsed``). The reopening starts the item's grade ladder again (``grade_log.restart``),
    so the next reminder carrying it asks again with a new day to sign by; an old request's
    day, long past, would otherwise make it 黄 at once. Returns the requests set aside."""
    result = s.execute(update(SignRequestRow).where(
        SignRequestRow.milestone_id == milestone_id, SignRequestRow.occurrence == occurrence,
        SignRequestRow.status == SignState.ASKED,
    ).values(status=SignState.LAPSED).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sign(s: Session, *, department_id: int, milestone_id: int, occurrence: date, by: str, at: datetime,
         via: Source = Source.PAGE, recorded_by: str | None = None) -> int:
    """``department_id`` signs for one item: every request of it still open is signed, by
    ``by`` at ``at`` (naive UTC), through ``via`` (recorded by ``recorded_by`` when the office
    took it by telephone). Returns the requests signed; 0 if nothing was asked (or all of it
    was signed already: a second click changes nothing)."""
    result = s.execute(update(SignRequestRow).where(
        SignRequestRow.department_id == department_id, SignRequestRow.milestone_id == milestone_id,
        SignRequestRow.occurrence == occurrence, SignRequestRow.status == SignState.ASKED,
    ).values(status=SignState.SIGNED, signed_at=at, signed_by=by, signed_via=via,
             recorded_by=recorded_by).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SignError(Exception):
    """A 签收 that cannot be recorded; the message (Chinese) says why. Nothing was written."""


@dataclass(frozen=True)
class Signed:
    """What ``sign_for`` did for one item: ``requests`` signed now (0: signed already)."""

    department: str  # as stored
    milestone_id: int
    label: str  # #id 任务N text
    occurrence: date
    requests: int
    signed_by: str
    signed_at: datetime  # naive UTC: now, or when it had been signed already


def sign_for(s: Session, *, department_ids: Iterable[int], department: str, milestone_id: int,
             occurrence: date | None, person: str | None, at: datetime, via: Source,
             recorded_by: str | None) -> Signed:
    """Record that ``department`` (stored as ``department_ids``: a name may be several rows)
    signed for one item, by telephone or otherwise, ``person`` speaking for it (the signature
    reads ``市发改委（王五）`` as on the department's page): the item is the milestone's current date
    (after a 延期 the old date's requests have lapsed), or for a recurring report the
    occurrence given, else the one occurrence it was asked about. Raises ``SignError`` when
    the milestone does not exist, nothing was asked of the department about it, or a
    recurring report was asked about for several occurrences and none is named."""
    m = s.get(Milestone, milestone_id)
    if m is None:
        raise SignError(f"没有编号为 {milestone_id} 的时间节点")
    number = s.scalar(select(Task.number).where(Task.id == m.task_id))
    label = f"#{m.id} 任务{number} {m.text[:30]}"
    if m.recurrence is None and occurrence is not None and occurrence != m.due_on:
        raise SignError(f"{label}的完成时限是 {m.due_on}，不是 {occurrence}")
    q = select(SignRequestRow).where(SignRequestRow.department_id.in_(set(department_ids)),
                                     SignRequestRow.milestone_id == m.id, SignRequestRow.status != SignState.LAPSED)
    if m.recurrence is None:
        q = q.where(SignRequestRow.occurrence == m.due_on)
    elif occurrence is not None:
        q = q.where(SignRequestRow.occurrence == occurrence)
    asked = [SignRequest.of(r) for r in s.scalars(q.order_by(SignRequestRow.id))]
    if not asked:
        when = f"（{occurrence}期）" if occurrence is not None else ""
        raise SignError(f"没有要求{department}签收{label}{when}：未作任何更改")
    open_ = [r for r in asked if r.state is SignState.ASKED]
    dates = sorted({r.occurrence for r in open_ or asked})
    if len(dates) > 1:
        raise SignError(f"{label}是周期性报送，{department}有{len(dates)}期待签收：请用 --occurrence 日期 指明哪一期，"
                        f"可选 {', '.join(d.isoformat() for d in dates)}")
    occ = dates[0]
    if not open_:
        last = max((r for r in asked if r.signed_at is not None), key=lambda r: (r.signed_at, r.id))
        name = s.get_one(Department, last.department_id).name
        return Signed(name, m.id, label, occ, 0, last.signed_by or name, last.signed_at or at)
    n, by = 0, ""
    for d in sorted({r.department_id for r in open_ if r.occurrence == occ}):
        name = s.get_one(Department, d).name
        by = f"{name}（{person}）" if person else name
        n += sign(s, department_id=d, milestone_id=m.id, occurrence=occ, by=by, at=at, via=via,
                  recorded_by=recorded_by)
    return Signed(name, m.id, label, occ, n, by, at)


def asked_of(s: Session, milestone_ids: Iterable[int]) -> dict[tuple[int, date], set[int]]:
    """(milestone, date) -> the departments asked to sign for it that have not: the office's
    代签收 form offers them. A one-off milestone's requests count for its current date only."""
    ids = sorted(set(milestone_ids))
    q = (select(SignRequestRow.milestone_id, SignRequestRow.occurrence, SignRequestRow.department_id)
         .join(Milestone, Milestone.id == SignRequestRow.milestone_id)
         .where(SignRequestRow.status == SignState.ASKED, SignRequestRow.milestone_id.in_(ids),
                or_(Milestone.recurrence.is_not(None), SignRequestRow.occurrence == Milestone.due_on)))
    out: dict[tuple[int, date], set[int]] = {}
    for mid, occ, dept in s.execute(q):
        out.setdefault((mid, occ), set()).add(dept)
    return out


def by_telephone(via: Source | None) -> bool:
    """A signature the office recorded for a department that signed by telephone."""
    return via in (Source.CLI, Source.OFFICE)


def signatures(s: Session, milestone_id: int | None = None, limit: int | None = None) -> list[SignRequest]:
    """The 签收 made, newest first, one per department, item and moment (a signature closes
    every open request of the item at once: one of them stands for it)."""
    q = select(SignRequestRow).where(SignRequestRow.status == SignState.SIGNED).order_by(
        SignRequestRow.signed_at.desc(), SignRequestRow.id.desc())
    if milestone_id is not None:
        q = q.where(SignRequestRow.milestone_id == milestone_id)
    out: dict[tuple[int, int, date, datetime | None], SignRequest] = {}
    for r in s.scalars(q):
        key = (r.department_id, r.milestone_id, r.occurrence, r.signed_at)
        if key not in out:
            out[key] = SignRequest.of(r)
            if limit is not None and len(out) >= limit:
                break
    return list(out.values())


_ORDER = (SignRequestRow.sign_by, SignRequestRow.department_id, SignRequestRow.milestone_id,
          SignRequestRow.occurrence, SignRequestRow.id)


def open_requests(s: Session, department_id: int) -> list[SignRequest]:
    """The department's requests asked and not yet signed, the most pressing first."""
    rows = s.scalars(select(SignRequestRow).where(SignRequestRow.department_id == department_id,
                                                  SignRequestRow.status == SignState.ASKED).order_by(*_ORDER))
    return [SignRequest.of(r) for r in rows]


def sign_days(s: Session, department_ids: Iterable[int]) -> dict[int, list[date]]:
    """Each department's days to sign by, of its requests not signed yet (the planning pass
    wakes the department the day after each: an item not signed for steps up to 黄)."""
    out: dict[int, list[date]] = {}
    ids = sorted(set(department_ids))
    for i in range(0, len(ids), 500):
        q = (select(SignRequestRow.department_id, SignRequestRow.sign_by).distinct()
             .where(SignRequestRow.department_id.in_(ids[i:i + 500]), SignRequestRow.status == SignState.ASKED))
        for dept, day in s.execute(q):
            out.setdefault(dept, []).append(day)
    return out


def unsigned(s: Session, *, today: date, milestone_ids: Iterable[int] | None = None) -> list[SignRequest]:
    """Requests past their ``sign_by`` and still not signed, for items still open: who has not
    signed for what (``status``, the ledger). An item done meanwhile needs no 签收 any more, nor
    does a date the item no longer has: after a 延期 the requests about the old date are moot
    (the reminders of the new date ask again). ``milestone_ids``: of those milestones only
    (the planning pass's page)."""
    done_occurrence = exists().where(OccurrenceDone.milestone_id == SignRequestRow.milestone_id,
                                     OccurrenceDone.occurrence == SignRequestRow.occurrence)
    recurring = Milestone.recurrence.is_not(None)
    q = select(SignRequestRow).join(Milestone, Milestone.id == SignRequestRow.milestone_id).where(
        SignRequestRow.status == SignState.ASKED, SignRequestRow.sign_by < today,
        Milestone.status == MilestoneStatus.OPEN, ~and_(recurring, done_occurrence),
        or_(recurring, SignRequestRow.occurrence == Milestone.due_on),
    )
    if milestone_ids is None:
        return [SignRequest.of(r) for r in s.scalars(q.order_by(*_ORDER))]
    ids = sorted(set(milestone_ids))
    out = []
    for i in range(0, len(ids), 500):
        out += [SignRequest.of(r) for r in s.scalars(q.where(SignRequestRow.milestone_id.in_(ids[i:i + 500])))]
    return sorted(out, key=lambda r: (r.sign_by, r.department_id, r.milestone_id, r.occurrence, r.id))
