"""Which reminders are due: a pure function of (open items, what was already sent, config, now).

Three kinds of *series* produce reminders for a department:

- ``cutoff:PLAN:DATE`` - before each of the plan's 6/9/12-month cutoffs, one message listing
  everything the department must finish by then, overdue items first, and a progress request
  for its other open tasks;
- ``ms:MILESTONE:DATE`` - before a milestone whose date is not a cutoff (5月底前, 11月底前);
- ``od:MILESTONE:DATE`` - after the date passed with the item still open, every
  ``overdue_every_days`` days; the escalation departments get a copy (``esc:…``).

A series has trigger times (``lead_days`` before the date, at ``send_at``, moved to the working
day before; overdue ones move to the working day after). It *fires* when its latest trigger
that is not in the future is newer than the latest one logged for that department. So after
downtime or a late import only the latest missed reminder goes out, once, with today's numbers,
and a repeated pass fires nothing. Everything that fires for one department in one pass becomes
one digest.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.planning.calendar import WorkCalendar


@dataclass(frozen=True)
class PlanInfo:
    id: int
    name: str
    doc_number: str | None
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class Item:
    """One open occurrence of a milestone, with what a reminder shows of it."""

    milestone_id: int
    occurrence: date
    plan: PlanInfo
    task_id: int
    task_number: str
    task_title: str
    text: str
    leads: tuple[int, ...]
    recurrence: str | None = None


@dataclass(frozen=True)
class Rules:
    """The part of the config the planner reads."""

    tz: ZoneInfo
    cutoff_months: tuple[int, ...] = (6, 9, 12)
    lead_days: tuple[int, ...] = (30, 7, 1)
    send_at: time = time(9, 0)
    overdue_every_days: int = 3
    escalation_to: tuple[int, ...] = ()  # department ids
    calendar: WorkCalendar = field(default_factory=WorkCalendar)


@dataclass(frozen=True)
class Entry:
    item: Item
    section: str  # overdue | cutoff | upcoming | progress
    days: int  # days left until the date, or days late for overdue
    cutoff: date | None = None


@dataclass
class DigestPlan:
    department_id: int
    kind: str  # reminder | escalation
    day: date
    entries: list[Entry] = field(default_factory=list)
    fired: list[tuple[str, datetime]] = field(default_factory=list)  # (series, trigger, naive UTC)

    @property
    def key(self) -> str:
        """Same department and same fired triggers -> same key, whichever pass made it."""
        basis = f"{self.department_id}|{self.kind}|" + "|".join(
            f"{s}@{t.isoformat()}" for s, t in sorted(self.fired))
        return hashlib.sha256(basis.encode()).hexdigest()[:32]

    def section(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.section == name]

    @property
    def cutoffs(self) -> list[date]:
        return sorted({e.cutoff for e in self.entries if e.cutoff})


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def cutoffs(plan: PlanInfo, months: Iterable[int]) -> list[date]:
    """The plan's review dates: the ends of the cutoff months inside its period."""
    out = []
    for year in range(plan.starts_on.year, plan.ends_on.year + 1):
        for m in months:
            d = month_end(year, m)
            if plan.starts_on <= d <= plan.ends_on:
                out.append(d)
    return out


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def before_triggers(due: date, rules: Rules) -> list[datetime]:
    days = {rules.calendar.on_or_before(due - timedelta(days=n)) for n in rules.lead_days}
    return sorted(_utc(d, rules.send_at, rules.tz) for d in days)


def overdue_triggers(due: date, today: date, rules: Rules) -> list[datetime]:
    out = set()
    day = due + timedelta(days=1)
    while day <= today:
        out.add(rules.calendar.on_or_after(day))
        day += timedelta(days=rules.overdue_every_days)
    return sorted(_utc(d, rules.send_at, rules.tz) for d in out)


def latest_overdue_trigger(due: date, today: date, now_utc: datetime, rules: Rules) -> datetime | None:
    """The last of ``overdue_triggers`` not after ``now_utc``, without listing every cycle since
    ``due`` (an item years overdue has hundreds). Cycle days only move forward to a working
    day, so the answer is the latest cycle whose moved day is not in the future."""
    first = due + timedelta(days=1)
    if first > today:
        return None
    k = (today - first).days // rules.overdue_every_days
    while k >= 0:
        day = rules.calendar.on_or_after(first + timedelta(days=k * rules.overdue_every_days))
        at = _utc(day, rules.send_at, rules.tz)
        if day <= today and at <= now_utc:
            return at
        k -= 1
    return None


def _latest_due(triggers: list[datetime], now_utc: datetime) -> datetime | None:
    past = [t for t in triggers if t <= now_utc]
    return past[-1] if past else None


def plan_digests(
    items: Iterable[Item],
    logged: Mapping[tuple[int, str], datetime],
    rules: Rules,
    now: datetime,
) -> list[DigestPlan]:
    """The digests to create at ``now`` (an aware datetime).

    ``logged`` maps (department id, series) to the latest trigger already turned into a
    digest. Items must be open (done ones are simply not passed in)."""
    local = now.astimezone(rules.tz)
    today = local.date()
    now_utc = now.astimezone(UTC).replace(tzinfo=None)

    def fires(dept: int, series: str, triggers: list[datetime] | datetime | None) -> datetime | None:
        latest = _latest_due(triggers, now_utc) if isinstance(triggers, list) else triggers
        if latest is None:
            return None
        seen = logged.get((dept, series))
        return latest if seen is None or latest > seen else None

    digests: dict[tuple[int, str], DigestPlan] = {}

    def digest(dept: int, kind: str) -> DigestPlan:
        return digests.setdefault((dept, kind), DigestPlan(dept, kind, today))

    by_plan_dept: dict[tuple[int, int], list[Item]] = defaultdict(list)
    plans: dict[int, PlanInfo] = {}
    for it in items:
        plans[it.plan.id] = it.plan
        for d in it.leads:
            by_plan_dept[(it.plan.id, d)].append(it)

    cutoff_cache = {pid: cutoffs(p, rules.cutoff_months) for pid, p in plans.items()}
    overdue_added: set[tuple[int, int, date]] = set()

    for (pid, dept), its in by_plan_dept.items():
        plan_cutoffs = cutoff_cache[pid]
        cutoff_set = set(plan_cutoffs)
        # Per-milestone series: the item's own date, then overdue cycles.
        for it in its:
            if it.occurrence < today:
                series = f"od:{it.milestone_id}:{it.occurrence}"
                trig = fires(dept, series, latest_overdue_trigger(it.occurrence, today, now_utc, rules))
                if trig:
                    d = digest(dept, "reminder")
                    d.fired.append((series, trig))
                    _add_overdue(d, it, today, overdue_added)
            elif it.occurrence not in cutoff_set:
                series = f"ms:{it.milestone_id}:{it.occurrence}"
                trig = fires(dept, series, before_triggers(it.occurrence, rules))
                if trig:
                    d = digest(dept, "reminder")
                    d.fired.append((series, trig))
                    d.entries.append(Entry(it, "upcoming", (it.occurrence - today).days))
        # The nearest cutoff whose reminder is due: one message for the whole plan.
        for c in plan_cutoffs:
            if c < today:
                continue
            series = f"cutoff:{pid}:{c}"
            trig = fires(dept, series, before_triggers(c, rules))
            if trig:
                d = digest(dept, "reminder")
                d.fired.append((series, trig))
                for it in its:
                    if it.occurrence < today:
                        _add_overdue(d, it, today, overdue_added)
                    elif it.occurrence <= c:
                        d.entries.append(Entry(it, "cutoff", (it.occurrence - today).days, c))
                    else:
                        d.entries.append(Entry(it, "progress", (it.occurrence - today).days, c))
            break  # later cutoffs wait for their own turn

    # Escalation copies: every overdue item, once per escalation department, in its own cycle.
    if rules.escalation_to:
        open_overdue = {}
        for its in by_plan_dept.values():
            for it in its:
                if it.occurrence < today:
                    open_overdue[(it.milestone_id, it.occurrence)] = it
        for esc in rules.escalation_to:
            for (mid, occ), it in sorted(open_overdue.items(), key=lambda kv: kv[0][1]):
                series = f"esc:{mid}:{occ}"
                trig = fires(esc, series, latest_overdue_trigger(occ, today, now_utc, rules))
                if trig:
                    d = digest(esc, "escalation")
                    d.fired.append((series, trig))
                    d.entries.append(Entry(it, "overdue", (today - occ).days))

    out = []
    for d in digests.values():
        d.entries = _dedupe_sorted(d.entries)
        out.append(d)
    out.sort(key=lambda d: (d.department_id, d.kind))
    return out


def _add_overdue(d: DigestPlan, it: Item, today: date, added: set) -> None:  # noqa: ANN001
    key = (d.department_id, it.milestone_id, it.occurrence)
    if key not in added:
        added.add(key)
        d.entries.append(Entry(it, "overdue", (today - it.occurrence).days))


_ORDER = {"overdue": 0, "cutoff": 1, "upcoming": 2, "progress": 3}


def _dedupe_sorted(entries: list[Entry]) -> list[Entry]:
    """One line per item; an item in several sections stays in the most urgent one."""
    best: dict[tuple[int, date], Entry] = {}
    for e in entries:
        k = (e.item.milestone_id, e.item.occurrence)
        if k not in best or _ORDER[e.section] < _ORDER[best[k].section]:
            best[k] = e
    return sorted(best.values(), key=lambda e: (
        _ORDER[e.section], -e.days if e.section == "overdue" else e.days,
        e.item.plan.id, e.item.task_id, e.item.occurrence))
