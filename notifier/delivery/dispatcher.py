"""Claim -> send -> record, with the one retry policy.

- **claim**: one statement marks a batch of due rows ``sending`` with a lease and ``attempts + 1``
  (the attempt is written before the network call). On PostgreSQL the inner select is
  ``FOR UPDATE SKIP LOCKED`` so several instances never claim the same row; a row whose lease
  expired (its instance died mid-send) is claimable again.
- **send**: no transaction is open while channels talk to the network.
- **record**: compare-and-set on (id, lease) so an instance whose lease was taken over cannot
  overwrite the newer outcome. Retry later -> ``pending`` with a new ``next_attempt_at``; failed for
  good or out of attempts -> ``failed`` and the contact is marked broken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from notifier.db import queries
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Contact, Delivery, Department, Digest
from notifier.delivery.message import Channel, FailedForGood, Message, RetryLater, Sent, SendResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; ``None`` means give up."""

    max_attempts: int = 8
    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    jitter: bool = True

    def delay(self, attempts: int, retry_after: float | None = None,
              rand: Callable[[], float] = random.random) -> float | None:
        if attempts >= self.max_attempts:
            return None
        backoff = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        if self.jitter:
            backoff = backoff / 2 + rand() * backoff / 2
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.cap_seconds * 4))
        return backoff


@dataclass
class Counts:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, other: Counts) -> Counts:
        self.sent += other.sent
        self.retry += other.retry
        self.failed += other.failed
        self.lost_lease += other.lost_lease
        self.errors += other.errors
        return self

    @property
    def total(self) -> int:
        return self.sent + self.retry + self.failed


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    channel: str
    recipient: str
    attempts: int
    lease_until: datetime
    department: str
    kind: str
    subject: str
    text: str
    html: str
    markdown: str
    data: str


ChannelLookup = Callable[[str, str], Channel | None]  # (channel, recipient) -> channel


class Dispatcher:
    def __init__(self, engine: Engine, channels: ChannelLookup, policy: RetryPolicy | None = None, *,
                 batch_size: int = 200, concurrency: int = 16, lease_seconds: int = 300,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.channels = channels
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.stopping = False  # set by SIGTERM: finish what is in flight, claim nothing new

    # -- claim ------------------------------------------------------------------------------
    def claim(self, now: datetime, limit: int) -> list[Claimed]:
        lease_until = now + self.lease
        due = (
            select(Delivery.id)
            .where(or_(and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                       and_(Delivery.status == "sending", Delivery.lease_until < now)))
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with transaction(self.engine) as s:
            ids = [r[0] for r in s.execute(
                update(Delivery).where(Delivery.id.in_(due.scalar_subquery()))
                .values(status="sending", attempts=Delivery.attempts + 1, lease_until=lease_until)
                .returning(Delivery.id)
                .execution_options(synchronize_session=False))]
            if not ids:
                return []
            rows = s.execute(
                select(Delivery.id, Delivery.key, Delivery.channel, Delivery.recipient, Delivery.attempts,
                       Delivery.lease_until, Department.name, Digest.kind, Digest.subject, Digest.text,
                       Digest.html, Digest.markdown, Digest.data)
                .join(Digest, Digest.id == Delivery.digest_id)
                .join(Department, Department.id == Delivery.department_id)
                .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
        return [Claimed(*r) for r in rows]

    # -- send -------------------------------------------------------------------------------
    async def _send_one(self, c: Claimed, limit: asyncio.Semaphore) -> SendResult:
        channel = self.channels(c.channel, c.recipient)
        if channel is None:
            return FailedForGood(f"no {c.channel} contact {c.recipient!r} in the config")
        data = json.loads(c.data)
        message = Message(key=c.key, recipient=c.recipient, subject=c.subject, text=c.text, html=c.html,
                          markdown=c.markdown, data=data, department=c.department)
        async with limit:
            try:
                return await channel.send(message)
            except Exception as exc:  # noqa: BLE001 - a channel bug must not lose the row
                log.exception("delivery %s: channel %s raised", c.id, c.channel)
                return RetryLater(f"internal error: {type(exc).__name__}")

    # -- record -----------------------------------------------------------------------------
    def record(self, results: list[tuple[Claimed, SendResult]], now: datetime) -> Counts:
        counts = Counts()
        contacts: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        with transaction(self.engine) as s:
            for c, result in results:
                values: dict = {"lease_until": None}
                if isinstance(result, Sent):
                    values.update(status="sent", sent_at=now, last_error=None)
                elif isinstance(result, RetryLater):
                    attempts = c.attempts
                    if result.reason == "paced":
                        attempts -= 1  # pacing is not a failed attempt
                        values["attempts"] = attempts
                    delay = self.policy.delay(attempts, result.after_seconds)
                    if delay is None:
                        values.update(status="failed", last_error=f"gave up after {attempts} attempts: {result.reason}")
                    else:
                        values.update(status="pending", last_error=result.reason,
                                      next_attempt_at=now + timedelta(seconds=delay))
                else:
                    values.update(status="failed", last_error=result.reason)
                done = s.execute(
                    update(Delivery)
                    .where(Delivery.id == c.id, Delivery.status == "sending", Delivery.lease_until == c.lease_until)
                    .values(**values).execution_options(synchronize_session=False))
                if done.rowcount != 1:
                    counts.lost_lease += 1
                    log.warning("delivery %s: lease lost before the outcome was recorded", c.id)
                    continue
                status = values["status"]
                if status != "pending":
                    contacts.setdefault((c.channel, c.recipient), []).append((status, values.get("last_error")))
                extra = {"delivery": c.id, "department": c.department, "channel": c.channel}
                if status == "sent":
                    counts.sent += 1
                    log.info("delivery %s sent to %s via %s", c.id, c.department, c.channel, extra=extra)
                elif status == "pending":
                    counts.retry += 1
                    log.warning("delivery %s to %s via %s: retry at %s: %s", c.id, c.department, c.channel,
                                values["next_attempt_at"].isoformat(timespec="seconds"), values["last_error"],
                                extra=extra)
                else:
                    counts.failed += 1
                    counts.errors.append(f"{c.department} {c.channel}:{c.recipient}: {values['last_error']}")
                    log.error("delivery %s to %s via %s failed for good: %s", c.id, c.department, c.channel,
                              values["last_error"], extra=extra)
            # Contacts last, once each and in one order: several instances recording at once
            # then neither deadlock on PostgreSQL nor collide inserting the same new contact.
            for (channel, recipient), outcomes in sorted(contacts.items()):
                self._contact(s, channel, recipient, outcomes, now)
        return counts

    def _contact(self, s, channel: str, recipient: str, outcomes: list[tuple[str, str | None]],  # noqa: ANN001
                 now: datetime) -> None:
        contact = s.scalar(select(Contact).where(Contact.channel == channel, Contact.recipient == recipient)
                           .with_for_update())
        if contact is None:
            insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(s.bind.dialect.name)
            if insert is not None:
                s.execute(insert(Contact).values(channel=channel, recipient=recipient, broken=False)
                          .on_conflict_do_nothing())
            else:
                s.add(Contact(channel=channel, recipient=recipient, broken=False))
                s.flush()
            contact = s.scalar(select(Contact).where(Contact.channel == channel, Contact.recipient == recipient)
                               .with_for_update())
        for status, error in outcomes:
            if status == "sent":
                contact.broken, contact.last_ok_at = False, now
            else:
                if not contact.broken:
                    contact.notified_at = None  # a new breakage: tell the supervision office once
                contact.broken, contact.last_error, contact.broken_at = True, error, now

    # -- the pass ---------------------------------------------------------------------------
    async def run_paced(self, until: datetime,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Counts:
        """Send what is due, then wait for each staggered row due up to ``until`` (naive UTC)
        and send it in turn: a one-shot pass keeps the pacing the daemon's tick gives."""
        total = Counts()
        while not self.stopping:
            total += await self.run_once()
            with transaction(self.engine) as s:
                nxt = queries.next_pending(s)
            if nxt is None or nxt > until:
                break
            await sleep(max(0.0, (nxt - self.clock()).total_seconds()))
        return total

    async def run_once(self, now: datetime | None = None) -> Counts:
        """Send everything due at ``now`` (naive UTC), batch after batch, then return."""
        total = Counts()
        limit = asyncio.Semaphore(self.concurrency)
        while not self.stopping:
            at = now or self.clock()
            claimed = self.claim(at, self.batch_size)
            if not claimed:
                break
            results = await asyncio.gather(*(self._send_one(c, limit) for c in claimed))
            # Recording must finish even if we are being cancelled: the sends happened.
            counts = await asyncio.shield(asyncio.to_thread(
                self.record, list(zip(claimed, results)), now or self.clock()))
            total += counts
            if len(claimed) < self.batch_size:
                break
        return total
