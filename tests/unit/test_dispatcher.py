"""The dispatcher and its retry policy, on a real SQLite file with an in-memory channel.

The channel is the one fake seam: it answers from a script and counts calls. Time is pinned:
every pass gets ``now``; nothing waits for real seconds.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from notifier.db.models import Contact, Delivery
from notifier.delivery.dispatcher import Dispatcher, GiveUp, RetryPolicy
from notifier.delivery.message import FailedForGood, Message, Paced, RetryLater, Sent

from tests.support.channels import Recorder
from tests.support.outbox import queue_rows, rows, statuses

T0 = datetime(2018, 6, 20, 1, 0)  # naive UTC, as the columns store it
NO_JITTER = RetryPolicy(max_attempts=5, base_seconds=60, cap_seconds=600, jitter=False)


def dispatcher(engine, channel, policy=NO_JITTER, **kw) -> Dispatcher:  # noqa: ANN001
    return Dispatcher(engine, lambda ch, rcpt: channel, policy, rand=lambda: 0.5, **kw)


def run(d: Dispatcher, now: datetime):  # noqa: ANN201
    d.clock = lambda: now  # leases follow the dispatcher's clock: pin it to the test's time
    return asyncio.run(d.run_once(now))


# --- the policy --------------------------------------------------------------------------


def test_backoff_doubles_then_caps_and_gives_up_after_max_attempts() -> None:
    p = NO_JITTER
    assert [p.delay(a) for a in range(1, 6)] == [60, 120, 240, 480, None]
    assert RetryPolicy(max_attempts=20, base_seconds=60, cap_seconds=600, jitter=False).delay(10) == 600


def test_jitter_keeps_the_delay_between_half_and_the_full_backoff() -> None:
    p = RetryPolicy(base_seconds=60, jitter=True)
    assert p.delay(2, rand=lambda: 0.0) == 60
    assert p.delay(2, rand=lambda: 0.999999) == pytest.approx(120, abs=0.01)


def test_retry_after_is_honoured_and_a_zero_retry_after_still_waits_the_floor() -> None:
    p = NO_JITTER
    assert p.delay(1, retry_after=900) == 900
    assert p.delay(1, retry_after=5) == 60  # never sooner than the backoff either
    assert RetryPolicy(base_seconds=0.001, jitter=False, min_seconds=1).delay(1, retry_after=0) == 1


def test_an_infinite_or_absurd_retry_after_is_clamped_to_one_day_and_nan_is_ignored() -> None:
    p = NO_JITTER
    assert p.delay(1, retry_after=math.inf) == 86400
    assert p.delay(1, retry_after=99999999999.0) == 86400
    assert p.delay(1, retry_after=math.nan) == 60
    assert p.delay(1, retry_after=-5) == 60
    assert p.paced_delay(math.inf) == 86400
    assert p.decide(T0, 1, RetryLater("HTTP 429", after_seconds=1e300), expires_at=None).at == T0 + timedelta(days=1)


def test_an_infinite_retry_after_does_not_keep_the_rest_of_its_group_unrecorded(engine) -> None:  # noqa: ANN001
    """One outcome with Retry-After inf used to raise OverflowError in record(): the whole
    group, successful sends included, stayed 'sending' and was sent again after the lease."""
    queue_rows(engine, [("webhook", "ok"), ("webhook", "inf"), ("webhook", "huge")])
    ch = Recorder({"inf": [RetryLater("HTTP 429", after_seconds=math.inf)],
                   "huge": [RetryLater("HTTP 503", after_seconds=99999999999.0)]})
    counts = run(dispatcher(engine, ch), T0)
    assert (counts.sent, counts.retry, counts.errors) == (1, 2, [])
    by = {r.recipient: r for r in rows(engine)}
    assert by["ok"].status == "sent"
    assert (by["inf"].status, by["inf"].next_attempt_at) == ("pending", T0 + timedelta(days=1))
    assert (by["huge"].status, by["huge"].next_attempt_at) == ("pending", T0 + timedelta(days=1))


def test_a_retry_that_would_land_after_expiry_gives_up_as_expired() -> None:
    decision = NO_JITTER.decide(T0, 1, RetryLater("HTTP 503"), expires_at=T0 + timedelta(seconds=30))
    assert isinstance(decision, GiveUp) and decision.expired and "HTTP 503" in decision.reason


# --- claim, send, record -----------------------------------------------------------------


def test_sent_rows_are_recorded_and_not_sent_again(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn"), ("email", "b@x.cn")], n=3)
    ch = Recorder()
    counts = run(dispatcher(engine, ch), T0)
    assert (counts.sent, counts.failed, counts.retry) == (6, 0, 0)
    assert statuses(engine) == {"sent": 6}
    assert run(dispatcher(engine, ch), T0 + timedelta(hours=1)).total == 0
    assert len(ch.messages) == 6


def test_each_attempt_is_written_to_the_row_and_a_new_dispatcher_resumes_from_it(engine) -> None:  # noqa: ANN001
    """attempts, next attempt time and last error survive a restart (a new Dispatcher)."""
    queue_rows(engine, [("webhook", "hook")])
    ch = Recorder({"hook": [RetryLater("HTTP 503"), RetryLater("HTTP 502"), Sent()]})
    run(dispatcher(engine, ch), T0)
    (row,) = rows(engine)
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == \
        ("pending", 1, "HTTP 503", T0 + timedelta(seconds=60))
    assert run(dispatcher(engine, ch), T0 + timedelta(seconds=59)).total == 0  # not due yet
    run(dispatcher(engine, ch), T0 + timedelta(seconds=60))
    (row,) = rows(engine)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (2, "HTTP 502", T0 + timedelta(seconds=180))
    run(dispatcher(engine, ch), T0 + timedelta(seconds=180))
    (row,) = rows(engine)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 3, T0 + timedelta(seconds=180))
    assert len(ch.messages) == 3


def test_a_server_that_always_fails_gets_max_attempts_requests_over_a_day_of_passes(engine) -> None:  # noqa: ANN001
    """No busy loop: 1,440 passes a minute apart send exactly max_attempts requests."""
    queue_rows(engine, [("webhook", "hook")])
    ch = Recorder({"hook": [RetryLater("HTTP 500", after_seconds=0)]})
    d = dispatcher(engine, ch)

    async def passes() -> None:
        for i in range(1440):
            await d.run_once(T0 + timedelta(minutes=i))

    asyncio.run(passes())
    assert len(ch.messages) == NO_JITTER.max_attempts
    (row,) = rows(engine)
    assert row.status == "failed" and row.last_error.startswith("gave up after 5 attempts")


def test_a_pass_never_sends_a_row_twice_even_when_retry_after_is_zero(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "hook")], n=5)
    ch = Recorder({"hook": [RetryLater("HTTP 429", after_seconds=0)]})
    run(dispatcher(engine, ch, RetryPolicy(base_seconds=0.001, jitter=False)), T0)
    assert len(ch.messages) == 5


def test_an_expired_row_is_marked_failed_expired_instead_of_being_sent(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn")], expires_at=T0 + timedelta(days=10), tag="late")
    queue_rows(engine, [("email", "a@x.cn")], expires_at=None, tag="overdue")
    ch = Recorder()
    counts = run(dispatcher(engine, ch), T0 + timedelta(days=11))
    assert (counts.sent, counts.failed, counts.expired) == (1, 1, 1)
    assert [m.subject for m in ch.messages] == ["提醒 overdue-0"]
    expired = [r for r in rows(engine) if r.status == "failed"]
    assert expired[0].last_error == "expired before it could be sent"


def test_a_retry_due_after_expiry_fails_as_expired_and_does_not_break_the_contact(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "hook")], expires_at=T0 + timedelta(seconds=30))
    ch = Recorder({"hook": [RetryLater("HTTP 503")]})
    counts = run(dispatcher(engine, ch), T0)
    assert (counts.failed, counts.expired) == (1, 1)
    (row,) = rows(engine)
    assert row.status == "failed" and row.last_error.startswith("expired")
    with engine.begin() as conn:
        assert conn.scalar(select(Contact.broken).where(Contact.recipient == "hook")) in (None, False)


def test_failed_for_good_marks_the_contact_broken_and_a_success_mends_it(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "gone@x.cn")], n=3, tag="a")
    ch = Recorder({"gone@x.cn": [FailedForGood("SMTP 550 no such user")]})
    run(dispatcher(engine, ch), T0)
    with engine.begin() as conn:
        (c,) = conn.execute(select(Contact)).all()
    assert (c.broken, c.last_error, c.broken_at, c.notified_at) == (True, "SMTP 550 no such user", T0, None)
    queue_rows(engine, [("email", "gone@x.cn")], tag="b")
    ch.answers["gone@x.cn"] = [Sent()]
    run(dispatcher(engine, ch), T0 + timedelta(hours=1))
    with engine.begin() as conn:
        (c,) = conn.execute(select(Contact)).all()
    assert (c.broken, c.last_ok_at) == (False, T0 + timedelta(hours=1))


def test_a_route_fault_fails_the_row_without_marking_the_address_broken(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn")])
    ch = Recorder({"a@x.cn": [FailedForGood("SMTP authentication failed", contact_fault=False)]})
    run(dispatcher(engine, ch), T0)
    assert statuses(engine) == {"failed": 1}
    with engine.begin() as conn:
        assert conn.scalar(select(Contact.broken).where(Contact.recipient == "a@x.cn")) is None


def test_a_robot_pacing_answer_is_not_counted_as_an_attempt_and_waits_only_the_pacer(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "robot")])
    ch = Recorder({"robot": [Paced(after_seconds=3), Sent()]})
    run(dispatcher(engine, ch), T0)
    (row,) = rows(engine)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, T0 + timedelta(seconds=3))


def test_a_crashed_claim_is_taken_over_after_its_lease_and_not_before(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn")], n=2)
    crashed = dispatcher(engine, Recorder(), lease_seconds=60)
    assert len(crashed.claim(T0, 10)) == 2  # claimed, then the process died
    ch = Recorder()
    assert run(dispatcher(engine, ch), T0 + timedelta(seconds=59)).total == 0
    assert run(dispatcher(engine, ch), T0 + timedelta(seconds=61)).sent == 2
    assert [r.attempts for r in rows(engine)] == [2, 2]


def test_an_outcome_is_not_recorded_over_a_lease_another_instance_took(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn")])
    d = dispatcher(engine, Recorder())
    (c,) = d.claim(T0, 10)
    with engine.begin() as conn:  # another instance took the row over and sent it
        conn.execute(update(Delivery).values(lease_until=T0 + timedelta(hours=1)))
    counts = d.record([(c, FailedForGood("late answer"))], T0)
    assert counts.lost_lease == 1 and statuses(engine) == {"sending": 1}


def test_at_most_concurrency_messages_are_ever_sent_but_unrecorded(engine) -> None:  # noqa: ANN001
    """What a crash can repeat is bounded: each send checks how many earlier sends have no
    recorded outcome yet."""
    queue_rows(engine, [("email", "a@x.cn")], n=120)
    sent_keys: list[str] = []
    worst = []

    def on_send(m: Message) -> None:
        with engine.begin() as conn:
            recorded = conn.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))
        worst.append(len(sent_keys) - recorded)
        sent_keys.append(m.key)

    counts = run(dispatcher(engine, Recorder(on_send=on_send), concurrency=4, batch_size=50), T0)
    assert counts.sent == 120
    assert max(worst) <= 4


def test_stopping_releases_claimed_rows_that_were_not_sent(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@x.cn")], n=10)
    d = dispatcher(engine, None, concurrency=1, batch_size=10)
    ch = Recorder(on_send=lambda m: setattr(d, "stopping", True))
    d.channels = lambda c, r: ch
    run(d, T0)
    assert len(ch.messages) == 1
    assert statuses(engine) == {"sent": 1, "pending": 9}
    assert {r.attempts for r in rows(engine) if r.status == "pending"} == {0}


# --- expires_at, as the planning pass sets it ----------------------------------------------


def test_a_reminder_expires_at_the_end_of_its_cutoff_day_and_overdue_ones_never() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from notifier.planning.schedule import Digest, Entry, Item, PlanInfo
    from notifier.planning.horizons import expires_at

    tz = ZoneInfo("Asia/Shanghai")
    plan = PlanInfo(1, "方案", None, date(2018, 1, 1), date(2018, 12, 31))

    def item(due: date) -> Item:
        return Item(1, due, plan, 1, "1", "任务", "事项", (1,))

    cutoff = Digest(1, "reminder", date(2018, 6, 20), [
        Entry(item(date(2018, 5, 31)), "overdue", 20),
        Entry(item(date(2018, 6, 30)), "cutoff", 10, date(2018, 6, 30)),
        Entry(item(date(2018, 9, 30)), "progress", 102, date(2018, 6, 30))])
    assert expires_at(cutoff, tz) == datetime(2018, 6, 30, 16, 0)  # 2018-07-01 00:00 in Beijing
    upcoming = Digest(1, "reminder", date(2018, 7, 1), [Entry(item(date(2018, 7, 31)), "upcoming", 30)])
    assert expires_at(upcoming, tz) == datetime(2018, 7, 31, 16, 0)
    overdue = Digest(1, "reminder", date(2018, 6, 20), [Entry(item(date(2018, 5, 31)), "overdue", 20)])
    assert expires_at(overdue, tz) is None
    escalation = Digest(9, "escalation", date(2018, 6, 20), cutoff.entries)
    assert expires_at(escalation, tz) is None
