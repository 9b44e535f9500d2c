"""What the daemon counts, in the Prometheus text format (``/metrics``).

Counted where it happens, once, through two seams:

- the daemon's passes (``pass_finished``): ``notifier_passes_total{kind,result}``,
  ``notifier_pass_duration_seconds{kind}`` and ``notifier_last_pass_timestamp_seconds{kind}``
  (alert when it stops moving), kind ``planning`` (plan and queue) or ``delivery`` (one
  dispatcher pass), result ``ok`` or ``failed``;
- the dispatcher's record step (``deliveries_recorded``), after the outcomes are committed:
  ``notifier_deliveries_total{channel,result}`` (result ``sent``, ``retry`` or ``failed``),
  ``notifier_delivery_retries_total{channel}`` (sends that were a second or later attempt),
  ``notifier_deliveries_expired_total`` (rows whose date passed before they could be sent), and
  ``notifier_send_duration_seconds{channel}`` (one channel ``send``, as ``sent_in`` times it).

Counters live in this process: they start at 0 when the daemon starts (Prometheus' ``rate()``
handles that), and a one-shot ``notifier send-due`` counts nothing anyone scrapes. What the
database knows is read at each scrape instead, so it is true whichever instance or command
changed it: ``notifier_outbox_deliveries{status}``, ``notifier_outbox_oldest_pending_seconds``
(how long the oldest unsent delivery has been due: 0 when none is), ``notifier_broken_contacts``
and ``notifier_database_up``. ``notifier_build_info{version}`` is 1. Process figures (memory, CPU, open files) come from
prometheus-client's process collector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, Info, PlatformCollector,
                               ProcessCollector, disable_created_metrics)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from notifier import __version__
from notifier.db.engine import utcnow
from notifier.db.models import Contact, Delivery
from notifier.terms import DeliveryStatus

log = logging.getLogger(__name__)

disable_created_metrics()  # the *_created series only double what a scrape already shows

# Planning passes take seconds on large databases (bench/scale.py: 3 s at 1,000,000 milestones);
# a delivery pass of a big day, up to minutes.
PASS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# One send: milliseconds to a local SMTP server, up to the channel timeout (10-30 s) for a slow peer.
SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

PASSES = Counter("notifier_passes", "Passes the daemon ran, by kind and result.", ["kind", "result"],
                 registry=None)
PASS_SECONDS = Histogram("notifier_pass_duration_seconds", "How long a pass took.", ["kind"],
                         buckets=PASS_BUCKETS, registry=None)
LAST_PASS = Gauge("notifier_last_pass_timestamp_seconds", "When a pass last ended (Unix time).", ["kind"],
                  registry=None)
DELIVERIES = Counter("notifier_deliveries", "Delivery outcomes recorded, by channel and result.",
                     ["channel", "result"], registry=None)
RETRIES = Counter("notifier_delivery_retries", "Sends that were a second or later attempt.", ["channel"],
                  registry=None)
EXPIRED = Counter("notifier_deliveries_expired", "Deliveries whose date passed before they could be sent.",
                  registry=None)
SEND_SECONDS = Histogram("notifier_send_duration_seconds", "How long one channel send took.", ["channel"],
                         buckets=SEND_BUCKETS, registry=None)

BUILD = Info("notifier_build", "The running version.", registry=None)
BUILD.info({"version": __version__})

COUNTED = (BUILD, PASSES, PASS_SECONDS, LAST_PASS, DELIVERIES, RETRIES, EXPIRED, SEND_SECONDS)
RESULTS: dict[str, str] = {DeliveryStatus.SENT: "sent", DeliveryStatus.PENDING: "retry",  # delivery status -> result
                            DeliveryStatus.FAILED: "failed"}


# -- the seams ------------------------------------------------------------------------------

def pass_finished(kind: str, seconds: float, *, ok: bool = True) -> None:
    """A planning or delivery pass ended (``kind`` ``planning`` | ``delivery``)."""
    PASSES.labels(kind, "ok" if ok else "failed").inc()
    PASS_SECONDS.labels(kind).observe(seconds)
    LAST_PASS.labels(kind).set_to_current_time()


def deliveries_recorded(outcomes: Iterable[tuple[str, str, int]]) -> None:
    """Outcomes committed by the dispatcher's record step: ``(channel, new status, attempts)``."""
    for channel, status, attempts in outcomes:
        DELIVERIES.labels(channel, RESULTS.get(status, status)).inc()
        if attempts > 1:
            RETRIES.labels(channel).inc()


def deliveries_expired(n: int) -> None:
    if n:
        EXPIRED.inc(n)


class sent_in:  # noqa: N801 - used as a context manager, named for how it reads
    """``with metrics.sent_in(channel): await channel.send(...)`` times one send."""

    def __init__(self, channel: str):
        self.channel = channel

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        SEND_SECONDS.labels(self.channel).observe(time.perf_counter() - self.start)


# -- what the database knows, read at each scrape ------------------------------------------

class OutboxCollector(Collector):
    """Gauges read from the database at scrape time. An unreachable database is
    ``notifier_database_up 0`` (and no other outbox gauge), not a failed scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("notifier_database_up", "1 when the database answered this scrape.")
        try:
            by_status, oldest_due, broken = self._read()
        except Exception as exc:  # noqa: BLE001 - a scrape reports the database down, it does not fail
            log.warning("metrics: cannot read the database: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily("notifier_outbox_deliveries", "Deliveries in the outbox, by status.",
                                   labels=["status"])
        for status in DeliveryStatus:
            outbox.add_metric([status.value], by_status.get(status, 0))
        yield outbox
        age = 0.0 if oldest_due is None else max(0.0, (self.clock() - oldest_due).total_seconds())
        yield GaugeMetricFamily("notifier_outbox_oldest_pending_seconds",
                                "Seconds since the oldest unsent (pending or sending) delivery fell due; "
                                "0 when none is due.", value=age)
        yield GaugeMetricFamily("notifier_broken_contacts", "Contacts marked broken (a send failed for good).",
                                value=broken)

    def _read(self) -> tuple[dict[DeliveryStatus, int], datetime | None, int]:
        with self.engine.connect() as conn:
            by_status = dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
            oldest_due = conn.scalar(select(func.min(Delivery.due_at)).where(
                Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)), Delivery.due_at <= self.clock()))
            broken = conn.scalar(select(func.count()).select_from(Contact).where(Contact.broken.is_(True)))
        return by_status, oldest_due, int(broken or 0)


def registry_for(engine: Engine, clock: Callable[[], datetime] = utcnow) -> CollectorRegistry:
    """Everything ``/metrics`` shows: this process's counters, its process figures and the
    outbox gauges of ``engine``."""
    registry = CollectorRegistry(auto_describe=False)
    for metric in COUNTED:
        registry.register(metric)
    registry.register(ProcessCollector(registry=None))
    registry.register(PlatformCollector(registry=None))
    registry.register(OutboxCollector(engine, clock))
    return registry


def exposition(registry: CollectorRegistry, accept: str = "") -> tuple[bytes, str]:
    """The scrape's body and content type, in the format the scraper's ``Accept`` asks for
    (the classic text format unless it asks for OpenMetrics)."""
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
