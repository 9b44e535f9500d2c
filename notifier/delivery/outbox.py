"""The outbox: the ``deliveries`` table and its state machine. Every change of a delivery's
status is one of the named functions below; nothing else writes ``deliveries.status``.

Guarantees:

- **Exactly once by key.** A digest is stored once per key (the same department and fired
  triggers give the same key, whichever pass or instance composed it), with one delivery per
  contact whose key (``delivery_key``) is stable across retries: receivers see it as the
  webhook-id / Message-ID and can drop the duplicate a crash between send and record causes.
- **Leases.** ``claim`` marks due rows ``sending`` with ``lease_until`` and ``attempts + 1``
  in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), before any network call;
  ``record`` and ``release`` write a row only while (id, lease) is still the one claimed, so an
  instance whose lease was taken over cannot overwrite the newer outcome. A row whose lease
  lapsed (its instance died mid-send) is claimable again.
- **Expiry.** A row past its ``expires_at`` (the date it reminds of is over) is never sent:
  ``expire`` fails it, and a retry that could only come after it gives up as expired.
- **Nothing is dropped silently.** A failed row stays ``failed`` (``status``, ``retry``) until
  ``requeue``; only a digest of an earlier day none of whose rows was ever attempted is
  deleted (``drop_stale_digests``), so that its reminders go out today, once, re-planned.

    queue ─> PENDING ─claim─> SENDING ─record─> SENT | PENDING (retry) | FAILED
             PENDING <─release── SENDING (given back unsent)
             PENDING, lapsed SENDING ─expire─> FAILED;  FAILED ─requeue─> PENDING
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (CursorResult, Select, Table, Update, and_, bindparam, case, delete, exists, func,
                        literal, or_, select, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notifier.db.engine import transaction, utcnow
from notifier.db.models import Contact, Delivery, Department, Digest, ReminderLog
from notifier.delivery.message import Message
from notifier.planning.horizons import expires_at
from notifier.planning.schedule import Digest as ComposedDigest
from notifier.terms import DeliveryStatus, DigestKind

if TYPE_CHECKING:
    from notifier.rendering import Rendered

log = logging.getLogger(__name__)


def delivery_key(digest_key: str, channel: str, recipient: str) -> str:
    """The idempotency key of a digest's delivery to one contact (webhook-id, Message-ID)."""
    return "ntf_" + hashlib.sha256(f"{digest_key}|{channel}|{recipient}".encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------------ queue

@dataclass(frozen=True)
class DigestRow:
    """What one digest inserts: the digest, the reminder-log rows of the triggers it answers
    (none for a notice), and one delivery per contact."""

    key: str
    department_id: int
    kind: DigestKind
    day: date
    fired: tuple[tuple[str, datetime], ...] = ()
    expires: datetime | None = None

    @classmethod
    def of(cls, digest: ComposedDigest, tz: ZoneInfo) -> DigestRow:
        return cls(digest.key, digest.department_id, digest.kind, digest.day, tuple(digest.fired),
                   expires_at(digest, tz))


def queue(s: Session, row: DigestRow, rendered: Rendered, contacts: Iterable[tuple[str, str]],
          due_at: Callable[[], datetime]) -> bool:
    """Insert one digest with its log rows and a PENDING delivery per contact; False when the
    same digest (same key) is already queued, by an earlier pass or another instance.
    ``due_at`` is asked once per delivery (the pass staggers them)."""
    try:
        with s.begin_nested():
            digest = Digest(key=row.key, department_id=row.department_id, kind=row.kind, day=row.day,
                            created_at=utcnow(), subject=rendered.subject, text=rendered.text,
                            html=rendered.html, markdown=rendered.markdown, data=rendered.data_json())
            s.add(digest)
            s.flush()
            for series, trigger in row.fired:
                s.add(ReminderLog(department_id=row.department_id, series=series, trigger_at=trigger,
                                  digest_id=digest.id))
            for channel, recipient in contacts:
                _add(s, delivery_key(row.key, channel, recipient), digest.id, row.department_id, channel,
                     recipient, due_at(), row.expires)
            s.flush()
    except IntegrityError:
        return False
    return True


def resend(s: Session, digest: Digest, contacts: Iterable[tuple[str, str]], now: datetime) -> None:
    """Queue a stored digest again to ``contacts``, due ``now`` (naive UTC): new deliveries
    with keys of their own, since the receivers must not drop them as duplicates."""
    stamp = now.isoformat()
    for channel, recipient in contacts:
        key = "ntf_" + hashlib.sha256(f"{digest.key}|resend|{stamp}|{channel}|{recipient}".encode()).hexdigest()[:32]
        _add(s, key, digest.id, digest.department_id, channel, recipient, now, None, created_at=now)


def _add(s: Session, key: str, digest_id: int, department_id: int, channel: str, recipient: str,
         at: datetime, expires: datetime | None, *, created_at: datetime | None = None) -> None:
    s.add(Delivery(key=key, digest_id=digest_id, department_id=department_id, channel=channel,
                   recipient=recipient, status=DeliveryStatus.PENDING, attempts=0, due_at=at,
                   next_attempt_at=at, expires_at=expires, created_at=created_at or utcnow()))


class StaleDigest(NamedTuple):
    key: str
    department_id: int


def drop_stale_digests(s: Session, today: date) -> list[StaleDigest]:
    """Delete reminder/escalation digests of days before ``today`` that never left: every
    delivery still pending and never attempted. Their reminder_log rows go too, so the
    planner fires those series again now, once, with today's numbers. Returns the digests
    dropped."""
    started = exists().where(Delivery.digest_id == Digest.id,
                             or_(Delivery.status != DeliveryStatus.PENDING, Delivery.attempts > 0))
    # Driven from the pending deliveries never attempted (a partial index of few rows, migration
    # 0009), not from every digest ever queued: a stale digest has at least one of them.
    waiting = select(Delivery.digest_id).where(Delivery.status == DeliveryStatus.PENDING, Delivery.attempts == 0)
    stale = s.execute(select(Digest.id, Digest.key, Digest.department_id)
                      .where(Digest.id.in_(waiting), Digest.kind.in_((DigestKind.REMINDER, DigestKind.ESCALATION)),
                             Digest.day < today, ~started)).all()
    ids = [i for i, _, _ in stale]
    if ids:
        # Explicit child deletes: the same on SQLite and PostgreSQL, cascade or not.
        s.execute(delete(ReminderLog).where(ReminderLog.digest_id.in_(ids)))
        s.execute(delete(Delivery).where(Delivery.digest_id.in_(ids)))
        s.execute(delete(Digest).where(Digest.id.in_(ids)))
        log.info("dropped %d digests of earlier days that were never sent; re-planning them", len(ids))
    return [StaleDigest(key, dep) for _, key, dep in stale]


class UnknownDeliveryError(LookupError):
    pass


def requeue(engine: Engine, delivery_id: int | None) -> tuple[int, int]:
    """FAILED deliveries back to PENDING, attempts reset (after a contact was fixed).
    ``None``: all failed ones.

    Returns (re-queued, left expired): a reminder past its ``expires_at`` (its cutoff is over)
    stays failed, since it would only expire again."""
    now = utcnow()
    with transaction(engine) as s:
        if delivery_id is not None and s.get(Delivery, delivery_id) is None:
            raise UnknownDeliveryError(f"no delivery {delivery_id}")
        failed = Delivery.status == DeliveryStatus.FAILED
        if delivery_id is not None:
            failed = and_(failed, Delivery.id == delivery_id)
        live = or_(Delivery.expires_at.is_(None), Delivery.expires_at > now)
        result = s.execute(update(Delivery).where(failed, live)
                           .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None,
                                   last_error=None)
                           .execution_options(synchronize_session=False))
        n = cast(CursorResult[Any], result).rowcount
        expired = s.scalar(select(func.count()).select_from(Delivery).where(failed, ~live)) or 0
    return n, expired


# ---------------------------------------------------------------------------- expire, claim

_D = cast(Table, Delivery.__table__)
_T = _D.c


def expire(engine: Engine, now: datetime) -> list[int]:
    """PENDING rows (and SENDING ones whose lease lapsed) past their ``expires_at`` become
    FAILED ("expired …") without being sent; returns their ids."""
    reason = literal("expired") + case(
        (_T.last_error.is_(None), literal(" before it could be sent")),
        else_=literal(" (last error: ") + _T.last_error + literal(")"))
    with engine.begin() as conn:
        return [r[0] for r in conn.execute(
            update(_D)
            .where(_T.expires_at.is_not(None), _T.expires_at <= now,
                   or_(_T.status == DeliveryStatus.PENDING,
                       and_(_T.status == DeliveryStatus.SENDING, _T.lease_until < now)))
            .values(status=DeliveryStatus.FAILED, lease_until=None, last_error=reason)
            .returning(_T.id))]


@dataclass(frozen=True)
class Claimed:
    """A row claimed for one attempt, with the message to send."""

    id: int
    channel: str
    attempts: int  # this attempt included
    lease_until: datetime
    expires_at: datetime | None
    digest_id: int
    message: Message

    @property
    def recipient(self) -> str:
        return self.message.recipient

    @property
    def department(self) -> str:
        return self.message.department


def _claiming(due: Select[tuple[int]]) -> Update:
    """Mark the rows ``due`` selects SENDING with a lease, counting the attempt."""
    return (update(_D).where(_T.id.in_(due.scalar_subquery()))
            .values(status=DeliveryStatus.SENDING, attempts=_T.attempts + 1, lease_until=bindparam("lease"))
            .returning(_T.id))


# Built once: claims run every few milliseconds during a large pass.
_CLAIM_DUE = _claiming(select(_T.id).where(_T.status == DeliveryStatus.PENDING,
                                           _T.next_attempt_at <= bindparam("due"))
                       .order_by(_T.next_attempt_at, _T.id).limit(bindparam("n"))
                       .with_for_update(skip_locked=True))
_CLAIM_LAPSED = _claiming(select(_T.id).where(_T.status == DeliveryStatus.SENDING, _T.lease_until < bindparam("now"))
                          .order_by(_T.lease_until, _T.id).limit(bindparam("n"))
                          .with_for_update(skip_locked=True))
_CLAIMED = (select(_T.id, _T.key, _T.channel, _T.recipient, _T.attempts, _T.expires_at, _T.digest_id,
                   Department.name, Digest.subject, Digest.text, Digest.html, Digest.markdown, Digest.data)
            .join(Digest, Digest.id == _T.digest_id).join(Department, Department.id == _T.department_id)
            .where(_T.id.in_(bindparam("ids", expanding=True))).order_by(_T.id))


def claim(engine: Engine, now: datetime, limit: int, lease_until: datetime,
          due_by: datetime | None = None) -> list[Claimed]:
    """Up to ``limit`` rows whose lease lapsed or that are due by ``due_by`` (default ``now``),
    in that order, now SENDING until ``lease_until``. Two index seeks (lapsed leases among the
    rows in flight, pending rows in ``next_attempt_at`` order) rather than one OR over both,
    which sorted every due row at each claim."""
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(_CLAIM_LAPSED, {"now": now, "n": limit, "lease": lease_until})]
        if len(ids) < limit:
            ids += [r[0] for r in conn.execute(_CLAIM_DUE, {"due": due_by or now, "n": limit - len(ids),
                                                             "lease": lease_until})]
        if not ids:
            return []
        rows = conn.execute(_CLAIMED, {"ids": ids}).all()
    parsed: dict[int, dict[str, Any]] = {}  # a digest's JSON is parsed once, whatever its contacts
    out = []
    for (i, key, channel, recipient, attempts, expires, digest_id, dep,
         subject, text, html, markdown, data) in rows:
        if digest_id not in parsed:
            parsed[digest_id] = json.loads(data)
        out.append(Claimed(i, channel, attempts, lease_until, expires, digest_id, Message(
            key=key, recipient=recipient, subject=subject, text=text, html=html,
            markdown=markdown, data=parsed[digest_id], department=dep)))
    return out


def release(engine: Engine, claimed: Sequence[Claimed]) -> None:
    """Give back rows claimed but not sent (stopping, or the lease ran out while they
    waited): PENDING again, the attempt not counted."""
    if not claimed:
        return
    with engine.begin() as conn:
        conn.execute(
            update(_D)
            .where(_T.id == bindparam("b_id"), _T.status == DeliveryStatus.SENDING,
                   _T.lease_until == bindparam("b_lease"))
            .values(status=DeliveryStatus.PENDING, attempts=_T.attempts - 1, lease_until=None),
            [{"b_id": c.id, "b_lease": c.lease_until} for c in claimed])


# ----------------------------------------------------------------------------------- record

@dataclass(frozen=True)
class Outcome:
    """What one attempt did to its row: decided by the dispatcher (its retry policy), written
    by ``record``."""

    claimed: Claimed
    status: DeliveryStatus  # SENT, PENDING (retry at next_attempt_at) or FAILED
    attempts: int  # the row's count after this attempt (a paced answer gives its attempt back)
    next_attempt_at: datetime
    error: str | None = None
    sent_at: datetime | None = None
    expired: bool = False  # FAILED because its expires_at came before any further attempt
    contact_fault: bool = False  # FAILED through the contact's fault: mark the contact broken

    @property
    def breaks_contact(self) -> bool:
        return self.status == DeliveryStatus.FAILED and self.contact_fault and not self.expired


@dataclass
class Recorded:
    written: list[Outcome] = field(default_factory=list)
    lost: list[Outcome] = field(default_factory=list)  # the lease was taken over: not written
    contacts: dict[tuple[str, str], str | None] = field(default_factory=dict)  # health written: None = works


class _LeaseLostError(Exception):
    """An optimistic record matched fewer rows than it wrote: another instance took one over."""


# One statement for every outcome, run with executemany; it writes only a row that is still
# ours (the compare-and-set on id and lease).
_RECORD = (
    update(_D)
    .where(_T.id == bindparam("b_id"), _T.status == DeliveryStatus.SENDING, _T.lease_until == bindparam("b_lease"))
    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"), last_error=bindparam("b_error"),
            sent_at=bindparam("b_sent"), lease_until=None)
)
# Which rows are still ours (the compare-and-set), checked inside the write transaction.
_HELD = select(_T.id, _T.lease_until).where(_T.id.in_(bindparam("ids", expanding=True)),
                                            _T.status == DeliveryStatus.SENDING)
_HELD_LOCKED = _HELD.with_for_update()
_UPSERTS: dict[str, tuple[Any, Any]] = {}  # dialect name -> (contact works, contact broken): built once


def record(engine: Engine, outcomes: Sequence[Outcome], now: datetime, *,
           known_working: Iterable[tuple[str, str]] = ()) -> Recorded:
    """Write a group of outcomes in one transaction, with the health of their contacts: a
    contact that was sent to works (unless ``known_working`` already says so), one at fault in
    a failure for good is broken.

    The compare-and-set is optimistic where the driver counts the rows of an
    ``executemany``: one UPDATE per outcome guarded by (id, SENDING, lease), and when every
    row matched (the usual case) that is the whole transaction. When one did not, the
    transaction is rolled back and the group is written again after reading which rows are
    still ours, so each lost lease is known."""
    if not outcomes:
        return Recorded()
    known = set(known_working)
    if engine.dialect.supports_sane_multi_rowcount:
        try:
            return _record(engine, outcomes, now, known, optimistic=True)
        except _LeaseLostError:
            pass
    return _record(engine, outcomes, now, known, optimistic=False)


def _record(engine: Engine, outcomes: Sequence[Outcome], now: datetime, known: set[tuple[str, str]], *,
            optimistic: bool) -> Recorded:
    out = Recorded()
    with engine.begin() as conn:
        if optimistic:
            held = {o.claimed.id: o.claimed.lease_until for o in outcomes}
        else:
            query = _HELD_LOCKED if conn.dialect.name == "postgresql" else _HELD
            held = dict(conn.execute(query, {"ids": [o.claimed.id for o in outcomes]}).all())
        rows = []
        for o in outcomes:
            c = o.claimed
            if held.get(c.id) != c.lease_until:
                out.lost.append(o)
                continue
            rows.append({"b_id": c.id, "b_lease": c.lease_until, "b_status": o.status, "b_attempts": o.attempts,
                         "b_next": o.next_attempt_at, "b_error": o.error, "b_sent": o.sent_at})
            out.written.append(o)
            if o.status == DeliveryStatus.SENT:
                # Once per pass is enough: every record would otherwise write the same
                # contact row, and instances would queue on its lock.
                if (c.channel, c.recipient) not in known:
                    out.contacts[(c.channel, c.recipient)] = None
            elif o.breaks_contact:
                out.contacts[(c.channel, c.recipient)] = o.error
        if rows:
            matched = conn.execute(_RECORD, rows).rowcount
            if optimistic and matched != len(rows):
                raise _LeaseLostError  # rolls the transaction back; the careful path follows
        if out.contacts:
            _contacts(conn, out.contacts, now)
    return out


def _upserts(dialect: str) -> tuple[Any, Any]:
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        t = cast(Table, Contact.__table__)
        ok, bad = insert(t), insert(t)
        _UPSERTS[dialect] = (
            ok.on_conflict_do_update(index_elements=[t.c.channel, t.c.recipient],
                                     set_={"broken": False, "last_ok_at": ok.excluded.last_ok_at}),
            bad.on_conflict_do_update(index_elements=[t.c.channel, t.c.recipient], set_={
                "broken": True, "last_error": bad.excluded.last_error,
                "broken_at": case((t.c.broken.is_(True), t.c.broken_at), else_=bad.excluded.broken_at),
                "notified_at": case((t.c.broken.is_(True), t.c.notified_at), else_=None)}))
    return _UPSERTS[dialect]


def _contacts(conn: Connection, contacts: dict[tuple[str, str], str | None], now: datetime) -> None:
    """Upsert contact health: ``None`` -> works (un-broken); a string -> broken with that
    error. A contact that was not broken before gets ``notified_at`` cleared, so the
    supervision office is told once per breakage."""
    works, broken = _upserts(conn.dialect.name)
    # One order for every instance: two recording at once then never deadlock on PostgreSQL.
    ordered = sorted(contacts.items())
    ok = [{"channel": ch, "recipient": r, "broken": False, "last_ok_at": now}
          for (ch, r), err in ordered if err is None]
    bad = [{"channel": ch, "recipient": r, "broken": True, "last_error": err, "broken_at": now}
           for (ch, r), err in ordered if err is not None]
    if ok:
        conn.execute(works, ok)
    if bad:
        conn.execute(broken, bad)


# ------------------------------------------------------------------------------------ reads

def anything_due(session: Session, now: datetime) -> bool:
    """Is there a delivery to claim at ``now``? Two indexed probes; the tick's fast path."""
    pending = select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING,
                                        Delivery.next_attempt_at <= now).limit(1)
    lapsed = select(Delivery.id).where(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now).limit(1)
    return session.scalar(pending) is not None or session.scalar(lapsed) is not None


def next_pending(session: Session) -> datetime | None:
    """When the earliest PENDING row is due (naive UTC), or None."""
    return session.scalar(select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.PENDING))


def count_status(session: Session, status: DeliveryStatus) -> int:
    """Deliveries in one status: an index range, not a scan of the outbox."""
    return session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == status)) or 0


def delivery_counts(session: Session) -> dict[DeliveryStatus, int]:
    """Deliveries by status."""
    return dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())


@dataclass
class DigestFailures:
    """The failed deliveries of one digest, against how many it had: "2 of 3 failed"."""

    digest_id: int
    department: str
    kind: DigestKind
    day: date
    subject: str
    total: int
    failed: list[tuple[int, str, str, str | None]]  # (delivery id, channel, recipient, last error)

    @property
    def headline(self) -> str:
        return f"{self.department} {self.kind} {self.day}: {len(self.failed)} of {self.total} failed"


def digest_failures(session: Session, delivery_ids: list[int] | None = None, limit: int = 20) -> list[DigestFailures]:
    """FAILED deliveries grouped by digest, newest digest first; ``delivery_ids`` narrows the
    failures looked at (e.g. those of one pass), ``limit`` the digests listed."""
    q = select(Delivery.digest_id).where(Delivery.status == DeliveryStatus.FAILED)
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
        if status == DeliveryStatus.FAILED and (wanted is None or did in wanted):
            head.failed.append((did, channel, recipient, error))
    return [heads[i] for i in digest_ids]
