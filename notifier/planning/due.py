"""When is a department next due: a pure function of its open items, the reminder log, the
rules and ``now``. The planning pass stores the answer in the due index (``department_due``)
and plans a department again only when that time has come (or something about it changed).

The answer is the earliest *wake-up* among the facts below, each a time at which the planner
(``schedule.py``) might fire something for the department. A wake-up that turns out to fire
nothing costs one look at one department; a missing one would lose a reminder, so every
fact errs early:

- ``trigger`` - each reminder trigger still ahead of an open occurrence (``lead_days`` before
  its date, moved to a working day), cutoff-dated ones included;
- ``cutoff`` - each trigger still ahead of each cutoff of each live plan the department has
  open items in (the cutoff digest, the progress request);
- ``overdue`` - the department's overdue cadence, counted from the earliest day any of its
  open items is (or will be) overdue and from its last listing (``schedule.next_due``);
- ``issue`` - the start of the issue day of a plan not issued yet (its catch-up);
- ``later`` - the first trigger of the department's first open date beyond what was loaded.

Other steps add their own facts by passing more times to ``next_due_at`` (e.g. the day an
item's grade rises); it takes the earliest still ahead of ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

from notifier.planning.schedule import (Item, OverdueState, PlanInfo, Rules, before_triggers, cutoffs, grace_end,
                                        issued, next_due)


def _utc(day: date, at: time, rules: Rules) -> datetime:
    return datetime.combine(day, at, tzinfo=rules.tz).astimezone(UTC).replace(tzinfo=None)


def wakeups(dept: int, items: Iterable[Item], logged: Mapping[tuple[int, str], datetime], rules: Rules,
            now: datetime, *, plans: Iterable[PlanInfo] = (), later: date | None = None,
            earliest: date | None = None) -> list[datetime]:
    """The facts above for ``dept`` (naive UTC times, in no order). ``items`` are the
    department's loaded open items (those it is reminded about); ``plans``: every plan it has
    open items in, loaded or not (their cutoffs); ``later``: its first open date after the
    loaded ones, if any; ``earliest``: its first open date from today on, loaded or not (the day
    it falls overdue)."""
    today = now.astimezone(rules.tz).date()
    out: list[datetime] = []
    live = {p.id: p for p in plans}
    first: date | None = None
    for it in items:
        p = it.plan
        if p.closed or today > grace_end(p, rules) or not issued(it):
            continue
        live[p.id] = p
        if p.issued_on is not None and p.issued_on > today:
            out.append(_utc(p.issued_on, time(0), rules))
        if it.occurrence >= today:
            out += before_triggers(it.occurrence, rules)  # trigger
        first = it.occurrence if first is None else min(first, it.occurrence)
    for p in live.values():
        if p.closed or today > grace_end(p, rules):
            continue
        out += [t for c in cutoffs(p, rules.cutoff_months) if c >= today for t in before_triggers(c, rules)]
    if earliest is not None:
        first = earliest if first is None else min(first, earliest)
    if first is not None:  # overdue: the day after the earliest date, or the cadence's next day
        seen = logged.get((dept, "overdue"))
        last = seen.replace(tzinfo=UTC).astimezone(rules.tz).date() if seen else None
        at = next_due(OverdueState(first + timedelta(days=1), last), rules.overdue, rules)
        if at is not None:
            out.append(at)
    if later is not None:
        out.append(before_triggers(later, rules)[0])
    return out


def next_due_at(times: Iterable[datetime | None], now: datetime) -> datetime | None:
    """The earliest of ``times`` (naive UTC) after ``now``, or None: nothing will ever fire."""
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    ahead = [t for t in times if t is not None and t > now_utc]
    return min(ahead) if ahead else None
