"""The outbox's named state changes, on a real SQLite file: queue once by key, claim with a lease,
release and requeue. (The dispatcher's tests cover record and expire through whole passes.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from notifier.db.engine import transaction
from notifier.delivery import outbox
from notifier.delivery.outbox import DeliveryStatus, DigestRow, UnknownDeliveryError, delivery_key
from notifier.rendering import Rendered

from tests.support.outbox import department_id, queue_rows, rows, statuses

T0 = datetime(2018, 6, 20, 1, 0)  # naive UTC
LEASE = timedelta(minutes=5)


def test_a_digest_is_queued_once_by_key_with_one_pending_delivery_per_contact(engine) -> None:  # noqa: ANN001
    dep = department_id(engine, "市发改委")
    row = DigestRow("k1", dep, "reminder", date(2018, 6, 20))
    rendered = Rendered("主题", "正文", "<p>正文</p>", "**正文**", {"today": "2018-06-20"})
    contacts = [("email", "a@x.cn"), ("webhook", "hook")]
    with transaction(engine) as s:
        assert outbox.queue(s, row, rendered, contacts, lambda: T0)
    with transaction(engine) as s:
        assert not outbox.queue(s, row, rendered, contacts, lambda: T0)  # another pass, same digest
    assert statuses(engine) == {DeliveryStatus.PENDING: 2}
    assert sorted(r.key for r in rows(engine)) == sorted(delivery_key("k1", ch, r) for ch, r in contacts)


def test_a_claimed_row_is_leased_and_a_released_one_is_pending_with_its_attempt_given_back(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "hook")], now=T0)
    (c,) = outbox.claim(engine, T0, 10, T0 + LEASE)
    assert outbox.claim(engine, T0, 10, T0 + LEASE) == []  # leased: nobody else claims it
    (r,) = rows(engine)
    assert (r.status, r.attempts, r.lease_until) == (DeliveryStatus.SENDING, 1, T0 + LEASE)
    outbox.release(engine, [c])
    (r,) = rows(engine)
    assert (r.status, r.attempts, r.lease_until) == (DeliveryStatus.PENDING, 0, None)
    # A lease that lapsed (its instance died) is claimable again.
    outbox.claim(engine, T0, 10, T0 + LEASE)
    assert len(outbox.claim(engine, T0 + LEASE + timedelta(seconds=1), 10, T0 + 2 * LEASE)) == 1


def test_requeue_revives_failed_rows_but_not_expired_ones_and_names_an_unknown_id(engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "hook")], now=T0, tag="live")
    queue_rows(engine, [("webhook", "hook")], now=T0, tag="over", expires_at=datetime(2000, 1, 1))
    outbox.expire(engine, T0)  # the second fails as expired
    (c,) = outbox.claim(engine, T0, 10, T0 + LEASE)
    outbox.record(engine, [outbox.Outcome(c, DeliveryStatus.FAILED, 1, T0, "HTTP 404")], T0)
    assert statuses(engine) == {DeliveryStatus.FAILED: 2}
    assert outbox.requeue(engine, None) == (1, 1)
    assert statuses(engine) == {DeliveryStatus.PENDING: 1, DeliveryStatus.FAILED: 1}
    with pytest.raises(UnknownDeliveryError):
        outbox.requeue(engine, 999)
