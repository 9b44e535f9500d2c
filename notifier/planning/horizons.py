"""How far a planning pass looks, and how long a reminder stays worth sending: pure functions
of the rules and ``now`` (or of a composed digest).

- ``horizon``: the last due date whose earliest reminder can fire at ``now`` (the pass loads
  one-off milestones up to it, nothing later);
- ``log_horizon``: logged triggers older than this cannot stop a series that can fire now (the
  pass reads the reminder log from it on);
- ``expires_at``: when a reminder becomes pointless (the outbox fails it unsent after that).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.planning.schedule import Digest, Rules, before_triggers
from notifier.terms import DigestKind, Section


def horizon(rules: Rules, now: datetime) -> date:
    """The last due date whose earliest reminder is not in the future at ``now``.

    A one-off milestone due later cannot fire yet. The earliest trigger of a date is
    ``max(lead_days)`` before it, moved back to a working day (at most 40 days, the
    calendar's own limit), so the search is bounded."""
    today = now.astimezone(rules.tz).date()
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    last = today
    for n in range(max(rules.lead_days) + 42):
        day = today + timedelta(days=n)
        if before_triggers(day, rules)[0] <= now_utc:
            last = day
    return last


def log_horizon(rules: Rules, now: datetime) -> datetime:
    """Logged triggers older than this cannot stop a series that can fire at ``now``.

    Every series the planner evaluates has its latest past trigger after this point (a
    milestone's or cutoff's lead days back from today, an overdue cycle back from today,
    each moved by at most 40 days of holidays), so an older log entry is older than that
    trigger and the series fires either way."""
    cadences = [rules.overdue, rules.escalation_cadence]
    # An overdue cadence's last listing is at most 2*N working days (plus holidays) back.
    days = max(max(rules.lead_days), *(7 if c.weekday else 2 * c.every_days for c in cadences)) + 50
    return now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=days)


def expires_at(digest: Digest, tz: ZoneInfo) -> datetime | None:
    """When a reminder becomes pointless: the end of the latest date it is about (the cutoff,
    an upcoming milestone's date), as naive UTC. ``None`` for a digest of overdue items only
    and for escalations: those stay true after any date."""
    if digest.kind != DigestKind.REMINDER or digest.closing or any(e.section == Section.ESCALATION
                                                                   for e in digest.entries):
        return None
    days = [e.cutoff or e.item.occurrence for e in digest.entries
            if e.section in (Section.CUTOFF, Section.PROGRESS, Section.UPCOMING)]
    if not days:
        return None
    end = datetime.combine(max(days) + timedelta(days=1), time(0), tzinfo=tz)
    return end.astimezone(UTC).replace(tzinfo=None)
