"""签收: a reminder asks a department to sign for the items it carries; the department signs.

The state of a request changes only here: ``ask`` records the requests of a queued digest
(state ``asked``; ``withdraw`` drops those of a digest that never left), ``sign`` records a
department's 签收 of an item (``asked`` -> ``signed``, every open request of that department
and item at once: a clerk signs for the item, not for one message). ``open_requests`` and
``unsigned`` read them for the department's page, ``status`` and the ledger.

A request is due by ``sign_by`` (inclusive): the pass sets it ``[grades] sign_within_days``
working days after the day it asked. An item not signed for by then steps up to 黄 (催办)
(``notifier.office.grades``). All functions work inside the caller's session and never commit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from notifier.db.models import Milestone, OccurrenceDone
from notifier.db.models import SignRequest as SignRequestRow
from notifier.terms import MilestoneStatus


class SignState(enum.StrEnum):
    ASKED = "asked"  # the reminder asked; the department has not signed yet
    SIGNED = "signed"


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

    @property
    def state(self) -> SignState:
        return SignState.SIGNED if self.signed_at is not None else SignState.ASKED

    @classmethod
    def of(cls, row: SignRequestRow) -> SignRequest:
        return cls(row.id, row.department_id, row.milestone_id, row.occurrence, row.digest_key, row.asked_on,
                   row.sign_by, row.signed_at, row.signed_by)


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
             "asked_on": asked_on, "sign_by": sign_by, "status": SignState.ASKED.value} for m, occ in new])
    return len(new)


def withdraw(s: Session, digest_keys: Iterable[str]) -> None:
    """Drop the requests of digests that never left (the pass re-plans them with today's
    numbers, and asks again then): nobody was asked."""
    keys = list(digest_keys)
    if keys:
        s.execute(delete(SignRequestRow).where(SignRequestRow.digest_key.in_(keys),
                                               SignRequestRow.status == SignState.ASKED))


def sign(s: Session, *, department_id: int, milestone_id: int, occurrence: date, by: str, at: datetime) -> int:
    """``department_id`` signs for one item: every request of it still open is signed, by
    ``by`` at ``at`` (naive UTC). Returns the requests signed; 0 if nothing was asked (or
    all of it was signed already: a second click changes nothing)."""
    result = s.execute(update(SignRequestRow).where(
        SignRequestRow.department_id == department_id, SignRequestRow.milestone_id == milestone_id,
        SignRequestRow.occurrence == occurrence, SignRequestRow.status == SignState.ASKED,
    ).values(status=SignState.SIGNED, signed_at=at, signed_by=by).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
