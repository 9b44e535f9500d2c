"""Claim -> send -> record, with the one retry policy.

- **expire**: a row whose ``expires_at`` passed (the cutoff it reminds of is over) is marked
  ``failed`` with the reason "expired" instead of being sent.
- **claim**: one statement marks a batch of due rows ``sending`` with a lease and ``attempts + 1``
  (the attempt is written before the network call). On PostgreSQL the inner select is
  ``FOR UPDATE SKIP LOCKED`` so several instances never claim the same row; a row whose lease
  expired (its instance died mid-send) is claimable again.
- **send**: no transaction is open while channels talk to the network. At most ``concurrency``
  messages are between "sent" and "recorded" at any moment, so a crash repeats at most that
  many messages (each with its stable idempotency key / Message-ID).
- **record**: results are written as they come, in groups (group commit: one transaction and
  one ``executemany`` for a few outcomes, after at most a few milliseconds' wait), with a
  compare-and-set on (id, lease) so an instance whose lease was taken over cannot overwrite the
  newer outcome. Retry later -> ``pending`` with a new ``next_attempt_at``; failed for good, out of
  attempts or past ``expires_at`` -> ``failed``, and the contact is marked broken when it (not the
  route) was at fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, Update, and_, bindparam, case, literal, or_, select, update
from sqlalchemy.engine import Connection, Engine

from notifier import metrics
from notifier.db import queries
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Contact, Delivery, Department, Digest
from notifier.delivery.message import (
    MAX_RETRY_AFTER_SECONDS,
    Channel,
    FailedForGood,
    Message,
    RetryLater,
    Sent,
    SendResult,
)

log = logging.getLogger(__name__)

PACED = "paced"  # the reason robots give when their own rate pacer says "not yet"


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: exponential backoff with jitter, capped; never sooner than the
    server's Retry-After nor than ``min_seconds``; never after the row's ``expires_at``;
    at most ``max_attempts`` attempts.

    A Retry-After is honoured up to ``max_retry_after_seconds`` (one day): an infinite or
    absurd value from a peer is clamped, a NaN ignored, so ``decide`` always returns a
    datetime it can compute (an OverflowError here would leave a whole group of outcomes,
    successful sends included, unrecorded)."""

    max_attempts: int = 8
    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    jitter: bool = True
    min_seconds: float = 1.0  # a floor, so even "Retry-After: 0" cannot make a busy loop
    max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS

    def delay(self, attempts: int, retry_after: float | None = None,
              rand: Callable[[], float] = random.random) -> float | None:
        """Seconds to wait after the ``attempts``-th failed attempt; ``None``: give up."""
        if attempts >= self.max_attempts:
            return None
        backoff = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        if self.jitter:
            backoff = backoff / 2 + rand() * backoff / 2  # "equal jitter": spread, but never tiny
        if retry_after is not None:
            backoff = max(backoff, self._bounded(retry_after))
        return max(self.min_seconds, backoff)

    def paced_delay(self, wait: float | None, rand: Callable[[], float] = random.random) -> float:
        """A robot's own rate limit said "not yet": not a failed attempt, no backoff."""
        return max(self.min_seconds, self._bounded(wait or 0.0) + (rand() if self.jitter else 0.0))

    def _bounded(self, seconds: float) -> float:
        """``seconds`` within 0..max_retry_after_seconds; NaN counts as 0 (no wait asked)."""
        if math.isnan(seconds):
            return 0.0
        return min(max(0.0, seconds), self.max_retry_after_seconds)

    def decide(self, now: datetime, attempts: int, result: RetryLater, expires_at: datetime | None,
               rand: Callable[[], float] = random.random) -> tuple[datetime | None, str]:
        """``(next attempt, reason)``; ``(None, why)`` when retrying is over."""
        if result.reason == PACED:
            delay: float | None = self.paced_delay(result.after_seconds, rand)
        else:
            delay = self.delay(attempts, result.after_seconds, rand)
            if delay is None:
                return None, f"gave up after {attempts} attempts: {result.reason}"
        at = now + timedelta(seconds=delay)
        if expires_at is not None and at >= expires_at:
            return None, f"expired (no attempt possible before {expires_at:%Y-%m-%d %H:%M} UTC): {result.reason}"
        return at, result.reason


@dataclass
class Counts:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    expired: int = 0  # also counted in ``failed``
    lost_lease: int = 0
    # Sent (or tried) but their outcome could not be written (the database was locked):
    # they stay 'sending' and are claimed again when their lease ends.
    unrecorded: int = 0
    errors: list[str] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)  # deliveries that failed in this pass

    def __iadd__(self, other: Counts) -> Counts:
        self.sent += other.sent
        self.retry += other.retry
        self.failed += other.failed
        self.expired += other.expired
        self.lost_lease += other.lost_lease
        self.unrecorded += other.unrecorded
        self.errors += other.errors
        self.failed_ids += other.failed_ids
        return self

    @property
    def total(self) -> int:
        return self.sent + self.retry + self.failed

    @property
    def needs_attention(self) -> bool:
        """Something failed, or a result was not written: the command exits 1."""
        return bool(self.failed or self.unrecorded)

    def unrecorded_note(self) -> str:
        """The line a report adds when outcomes could not be written, so a pass that sent
        messages never reads as "sent 0"; empty when everything was recorded."""
        if not self.unrecorded:
            return ""
        why = next((e for e in self.errors if e.startswith("recording failed")), "recording failed")
        return (f"未记录 {self.unrecorded} 条发送结果（{why}）：它们可能已经发出，租约到期后会以相同的 "
                f"Message-ID/webhook-id 再次发送")


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    attempts: int
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


ChannelLookup = Callable[[str, str], Channel | None]  # (channel, recipient) -> channel


class _LeaseLost(Exception):
    """An optimistic record matched fewer rows than it wrote: another instance took one over."""


# One statement for every outcome, run with executemany; it writes only a row that is still
# ours (the compare-and-set on id and lease).
_RECORD = (
    update(Delivery.__table__)
    .where(Delivery.__table__.c.id == bindparam("b_id"), Delivery.__table__.c.status == "sending",
           Delivery.__table__.c.lease_until == bindparam("b_lease"))
    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"), last_error=bindparam("b_error"),
            sent_at=bindparam("b_sent"), lease_until=None)
)


_T = Delivery.__table__.c
# Which rows are still ours (the compare-and-set), checked inside the write transaction.
_HELD = select(_T.id, _T.lease_until).where(_T.id.in_(bindparam("ids", expanding=True)), _T.status == "sending")
_HELD_LOCKED = _HELD.with_for_update()


def _claiming(due: Select) -> Update:
    """Mark the rows ``due`` selects ``sending`` with a lease, counting the attempt."""
    return (update(Delivery.__table__).where(_T.id.in_(due.scalar_subquery()))
            .values(status="sending", attempts=_T.attempts + 1, lease_until=bindparam("lease"))
            .returning(_T.id))


# Built once: claims run every few milliseconds during a large pass.
_CLAIM_DUE = _claiming(select(_T.id).where(_T.status == "pending", _T.next_attempt_at <= bindparam("due"))
                       .order_by(_T.next_attempt_at, _T.id).limit(bindparam("n"))
                       .with_for_update(skip_locked=True))
_CLAIM_LAPSED = _claiming(select(_T.id).where(_T.status == "sending", _T.lease_until < bindparam("now"))
                          .order_by(_T.lease_until, _T.id).limit(bindparam("n"))
                          .with_for_update(skip_locked=True))
_CLAIMED = (select(_T.id, _T.key, _T.channel, _T.recipient, _T.attempts, _T.expires_at, _T.digest_id,
                   Department.name, Digest.subject, Digest.text, Digest.html, Digest.markdown, Digest.data)
            .join(Digest, Digest.id == _T.digest_id).join(Department, Department.id == _T.department_id)
            .where(_T.id.in_(bindparam("ids", expanding=True))).order_by(_T.id))
_UPSERTS: dict[str, tuple] = {}  # dialect name -> (contact works, contact broken): built once


def _upserts(dialect: str) -> tuple:
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        t = Contact.__table__
        ok, bad = insert(t), insert(t)
        _UPSERTS[dialect] = (
            ok.on_conflict_do_update(index_elements=[t.c.channel, t.c.recipient],
                                     set_={"broken": False, "last_ok_at": ok.excluded.last_ok_at}),
            bad.on_conflict_do_update(index_elements=[t.c.channel, t.c.recipient], set_={
                "broken": True, "last_error": bad.excluded.last_error,
                "broken_at": case((t.c.broken.is_(True), t.c.broken_at), else_=bad.excluded.broken_at),
                "notified_at": case((t.c.broken.is_(True), t.c.notified_at), else_=None)}))
    return _UPSERTS[dialect]


class Dispatcher:
    @classmethod
    def from_config(cls, engine: Engine, channels: ChannelLookup, delivery, **kw) -> Dispatcher:  # noqa: ANN001, ANN003
        """The dispatcher ``[delivery]`` describes (a config.DeliveryConfig)."""
        policy = RetryPolicy(delivery.max_attempts, delivery.backoff_seconds, delivery.backoff_cap_seconds)
        return cls(engine, channels, policy, concurrency=delivery.concurrency,
                   lease_seconds=delivery.lease_seconds, **kw)

    def __init__(self, engine: Engine, channels: ChannelLookup, policy: RetryPolicy | None = None, *,
                 batch_size: int = 200, concurrency: int = 16, lease_seconds: float = 300,
                 clock: Callable[[], datetime] = utcnow, rand: Callable[[], float] = random.random):
        self.engine = engine
        self.channels = channels
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.concurrency = concurrency
        # Claim only a few rounds of sends ahead: a row claimed long before its turn could
        # outlive its lease while it waits, and another instance would take it over mid-send.
        self.claim_size = max(1, min(batch_size, 4 * concurrency))
        self._healthy: set[tuple[str, str]] = set()  # contacts recorded as working in this pass
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.rand = rand
        self.stopping = False  # set by SIGTERM: finish what is in flight, claim nothing new

    # -- expire -----------------------------------------------------------------------------
    def expire(self, now: datetime) -> list[int]:
        """Rows past their ``expires_at`` become ``failed`` ("expired") without being sent."""
        d = Delivery.__table__.c
        reason = literal("expired") + case(
            (d.last_error.is_(None), literal(" before it could be sent")),
            else_=literal(" (last error: ") + d.last_error + literal(")"))
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(
                update(Delivery.__table__)
                .where(d.expires_at.is_not(None), d.expires_at <= now,
                       or_(d.status == "pending", and_(d.status == "sending", d.lease_until < now)))
                .values(status="failed", lease_until=None, last_error=reason)
                .returning(d.id))]
        for i in ids:
            log.warning("delivery %s expired before it could be sent", i, extra={"delivery": i})
        metrics.deliveries_expired(len(ids))
        return ids

    # -- claim ------------------------------------------------------------------------------
    def claim(self, now: datetime, limit: int, due_by: datetime | None = None) -> list[Claimed]:
        """Up to ``limit`` rows whose lease expired or that are due by ``due_by`` (default
        ``now``), in that order. Two index seeks (lapsed leases among the rows in flight,
        pending rows in ``next_attempt_at`` order) rather than one OR over both, which sorted
        every due row at each claim."""
        lease_until = now + self.lease
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(_CLAIM_LAPSED, {"now": now, "n": limit, "lease": lease_until})]
            if len(ids) < limit:
                ids += [r[0] for r in conn.execute(_CLAIM_DUE, {"due": due_by or now, "n": limit - len(ids),
                                                                 "lease": lease_until})]
            if not ids:
                return []
            rows = conn.execute(_CLAIMED, {"ids": ids}).all()
        parsed: dict[int, dict] = {}  # a digest's JSON is parsed once, whatever its contacts
        out = []
        for (i, key, channel, recipient, attempts, expires, digest_id, dep,
             subject, text, html, markdown, data) in rows:
            if digest_id not in parsed:
                parsed[digest_id] = json.loads(data)
            out.append(Claimed(i, channel, attempts, lease_until, expires, digest_id, Message(
                key=key, recipient=recipient, subject=subject, text=text, html=html,
                markdown=markdown, data=parsed[digest_id], department=dep)))
        return out

    def release(self, claimed: list[Claimed]) -> None:
        """Give back rows claimed but not sent (stopping, or the lease ran out while they
        waited): pending again, the attempt not counted."""
        if not claimed:
            return
        d = Delivery.__table__.c
        with self.engine.begin() as conn:
            conn.execute(
                update(Delivery.__table__)
                .where(d.id == bindparam("b_id"), d.status == "sending", d.lease_until == bindparam("b_lease"))
                .values(status="pending", attempts=d.attempts - 1, lease_until=None),
                [{"b_id": c.id, "b_lease": c.lease_until} for c in claimed])

    # -- send -------------------------------------------------------------------------------
    async def send_one(self, c: Claimed) -> SendResult:
        try:
            channel = self.channels(c.channel, c.recipient)
            if channel is None:
                return FailedForGood(f"no {c.channel} contact {c.recipient!r} in the config")
            with metrics.sent_in(c.channel):
                return await channel.send(c.message)
        except Exception as exc:  # noqa: BLE001 - a channel bug must not lose the row
            log.exception("delivery %s: channel %s raised", c.id, c.channel)
            return RetryLater(f"internal error: {type(exc).__name__}", contact_fault=False)

    # -- record -----------------------------------------------------------------------------
    def outcome(self, c: Claimed, result: SendResult, now: datetime) -> dict:
        """The row's new values for one result (pure: no I/O)."""
        row = {"b_id": c.id, "b_attempts": c.attempts, "b_next": None, "b_sent": None}
        if isinstance(result, Sent):
            row.update(b_status="sent", b_error=None, b_sent=now)
        elif isinstance(result, RetryLater):
            if result.reason == PACED:
                row["b_attempts"] = c.attempts - 1  # pacing is not a failed attempt
            at, why = self.policy.decide(now, row["b_attempts"], result, c.expires_at, self.rand)
            if at is None:
                row.update(b_status="failed", b_error=why)
            else:
                row.update(b_status="pending", b_error=why, b_next=at)
        else:
            row.update(b_status="failed", b_error=result.reason)
        return row

    def record(self, results: list[tuple[Claimed, SendResult]], now: datetime) -> Counts:
        """Write a group of outcomes in one transaction; returns what happened.

        The compare-and-set is optimistic where the driver counts the rows of an
        ``executemany``: one UPDATE per outcome guarded by (id, 'sending', lease), and when
        every row matched (the usual case) that is the whole transaction. When one did not,
        the transaction is rolled back and the group is written again after reading which
        rows are still ours, so each lost lease is named in the log."""
        if not results:
            return Counts()
        if self.engine.dialect.supports_sane_multi_rowcount:
            try:
                return self._record(results, now, optimistic=True)
            except _LeaseLost:
                pass
        return self._record(results, now, optimistic=False)

    def _record(self, results: list[tuple[Claimed, SendResult]], now: datetime, *, optimistic: bool) -> Counts:
        counts = Counts()
        with self.engine.begin() as conn:
            if optimistic:
                held = {c.id: c.lease_until for c, _ in results}
            else:
                query = _HELD_LOCKED if conn.dialect.name == "postgresql" else _HELD
                held = dict(conn.execute(query, {"ids": [c.id for c, _ in results]}).all())
            rows, contacts, done = [], {}, []
            for c, result in results:
                if held.get(c.id) != c.lease_until:
                    counts.lost_lease += 1
                    log.warning("delivery %s: lease lost before the outcome was recorded", c.id)
                    continue
                row = self.outcome(c, result, now)
                # 'sending' rows keep their old next_attempt_at when not retried
                if row["b_next"] is None:
                    row["b_next"] = now
                row["b_lease"] = c.lease_until
                rows.append(row)
                done.append((c, row, result))
                if row["b_status"] == "sent":
                    # Once per pass is enough: every record would otherwise write the same
                    # contact row, and instances would queue on its lock.
                    if (c.channel, c.recipient) not in self._healthy:
                        contacts[(c.channel, c.recipient)] = None
                elif row["b_status"] == "failed" and result.contact_fault \
                        and not row["b_error"].startswith("expired"):
                    contacts[(c.channel, c.recipient)] = row["b_error"]
            if rows:
                matched = conn.execute(_RECORD, rows).rowcount
                if optimistic and matched != len(rows):
                    raise _LeaseLost  # rolls the transaction back; the careful path follows
            if contacts:
                self._contacts(conn, contacts, now)
        for c, row, result in done:
            self._count(counts, c, row, result)
        # After the commit: only what was recorded is counted.
        metrics.deliveries_recorded([(c.channel, row["b_status"], row["b_attempts"]) for c, row, _ in done])
        for key, error in contacts.items():
            (self._healthy.add if error is None else self._healthy.discard)(key)
        return counts

    def _count(self, counts: Counts, c: Claimed, row: dict, result: SendResult) -> None:
        extra = {"delivery": c.id, "department": c.department, "channel": c.channel}
        status = row["b_status"]
        if status == "sent":
            counts.sent += 1
            log.info("delivery %s sent to %s via %s", c.id, c.department, c.channel, extra=extra)
        elif status == "pending":
            counts.retry += 1
            log.warning("delivery %s to %s via %s: retry at %s: %s", c.id, c.department, c.channel,
                        row["b_next"].isoformat(timespec="seconds"), row["b_error"], extra=extra)
        else:
            counts.failed += 1
            counts.expired += row["b_error"].startswith("expired")
            counts.failed_ids.append(c.id)
            counts.errors.append(f"{c.department} {c.channel}:{c.recipient}: {row['b_error']}")
            log.error("delivery %s to %s via %s failed for good: %s", c.id, c.department, c.channel,
                      row["b_error"], extra=extra)

    @staticmethod
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
        """Send everything due at ``now`` (naive UTC; default: the clock's time at the start of
        the pass), then return. A retry that falls due during the pass waits for the next pass,
        so a pass always ends, whatever the backoff.

        Claims batch after batch; the next batch is claimed while the last round of the
        previous one is still in flight, so the senders never wait for the database. Rows
        claimed when SIGTERM arrives are given back unsent."""
        total = Counts()
        recorder = _Recorder(self, now, group=self.concurrency // 2)
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        start = now or self.clock()
        try:
            for i in await asyncio.to_thread(self.expire, start):
                total.failed += 1
                total.expired += 1
                total.failed_ids.append(i)
                total.errors.append(f"delivery #{i}: expired")
            # Leases run on the real clock even when ``now`` is simulated (send-due --now): another
            # instance judges them by its own clock.
            claimed = await asyncio.to_thread(self.claim, self.clock(), self.claim_size, start)
            while claimed:
                if self.stopping:
                    await asyncio.shield(asyncio.to_thread(self.release, claimed))
                    break
                nxt = None
                for n, c in enumerate(claimed):
                    await slots.acquire()
                    # A row starts only with half its lease left: its send (bounded by the channel
                    # timeouts, far below the lease) then ends before another instance may take it.
                    if self.stopping or self.clock() >= c.lease_until - self.lease / 2:
                        slots.release()
                        await asyncio.shield(asyncio.to_thread(self.release, claimed[n:]))
                        break
                    recorder.active += 1
                    task = asyncio.create_task(self._deliver(c, slots, recorder))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    if nxt is None and len(claimed) == self.claim_size and len(claimed) - n <= self.concurrency:
                        # The last round of this batch is in flight: claim the next one meanwhile.
                        nxt = asyncio.create_task(asyncio.to_thread(self.claim, self.clock(), self.claim_size, start))
                if nxt is not None:
                    claimed = await nxt
                elif len(claimed) == self.claim_size and not self.stopping:
                    claimed = await asyncio.to_thread(self.claim, self.clock(), self.claim_size, start)
                else:
                    claimed = []
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await recorder.close()
        total += recorder.counts
        return total

    async def _deliver(self, c: Claimed, slots: asyncio.Semaphore, recorder: _Recorder) -> None:
        # The slot is held until the outcome is committed: at most ``concurrency`` messages
        # are ever sent-but-unrecorded, which bounds what a crash can repeat.
        try:
            result = await self.send_one(c)
            await recorder.record(c, result)
        finally:
            slots.release()


class _Recorder:
    """Group commit: each finished send waits for its outcome to be written, and outcomes are
    written together. A write starts when ``group`` outcomes wait, when every message still in
    flight has finished, or ``linger`` seconds after the first one finished, whichever is first:
    fewer, larger transactions (a write costs about the same for 1 row as for 10), for a wait
    of a few milliseconds.

    A write costs about the same CPU whatever its size (SQLAlchemy, the hand-over to a database
    thread), so the group is half the slots (``concurrency // 2``) and the linger 10 ms: with
    bench/delivery.py that took the record step from ~0.17 to ~0.10 ms of CPU per e-mail
    (a quarter and 5 ms before), and the senders still have the other half of the slots."""

    def __init__(self, dispatcher: Dispatcher, now: datetime | None, *, group: int = 1, linger: float = 0.01):
        self.dispatcher = dispatcher
        self.now = now
        self.group = max(1, group)
        self.linger = linger
        self.active = 0  # messages being sent or waiting for their outcome to be written
        self.counts = Counts()
        self.pending: list[tuple[Claimed, SendResult, asyncio.Future]] = []
        self.wake = asyncio.Event()
        self.more = asyncio.Event()
        self.closing = False
        self.task = asyncio.create_task(self._run())

    async def record(self, c: Claimed, result: SendResult) -> None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((c, result, future))
        self.wake.set()
        self.more.set()
        await asyncio.shield(future)  # cancelling the sender does not cancel the write

    def _enough(self) -> bool:
        return self.closing or len(self.pending) >= min(self.group, max(1, self.active))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.pending:
                if self.closing:
                    return
                continue
            deadline = loop.time() + self.linger
            while not self._enough() and (left := deadline - loop.time()) > 0:
                self.more.clear()
                try:
                    await asyncio.wait_for(self.more.wait(), left)
                except TimeoutError:
                    break
            group, self.pending = self.pending, []
            try:
                counts = await asyncio.to_thread(self.dispatcher.record, [(c, r) for c, r, _ in group],
                                                 self.now or self.dispatcher.clock())
            except Exception as exc:  # noqa: BLE001 - e.g. the database is locked for too long
                log.exception("recording %d delivery outcomes failed; their leases will expire "
                              "and they will be sent again", len(group))
                self.counts.errors.append(f"recording failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}")
                self.counts.unrecorded += len(group)
                for *_, f in group:
                    if not f.done():
                        f.set_exception(exc)
                continue
            finally:
                self.active -= len(group)
            self.counts += counts
            for *_, f in group:
                if not f.done():
                    f.set_result(None)
            if self.pending:
                self.wake.set()

    async def close(self) -> None:
        self.closing = True
        self.wake.set()
        self.more.set()
        await asyncio.shield(self.task)
