"""Which digests are due: a pure function of (open items, what was already sent, config, now).

The planner works per *department* and runs these named steps (``compose_digests``):

1. ``issued`` - an occurrence dated before its plan's issue date is not due at all (the
   first occurrence of a recurring report is the first one after the issue date);
2. ``live`` - a plan sends nothing before its issue date, nor once closed by hand or more
   than ``after_end_days`` past its end;
3. ``roles`` - a department is reminded about the tasks it leads, and about those where it is
   responsible / cooperating when ``notify_roles`` lists that role;
4. ``department_digest`` - the series of one department fire:
   - ``cutoff:PLAN:DATE`` - before each of the plan's 6/9/12-month cutoffs, one message listing
     everything the department must finish by then; the progress request for its other open
     tasks rides with the first such message of each cutoff only (``progress:PLAN:DATE``);
   - ``ms:MILESTONE:DATE`` - before a milestone whose date is not a cutoff (5月底前, 11月底前);
   - ``overdue`` - the department's overdue cadence: every ``overdue_every_days`` *working*
     days after the day its overdue items were last listed (``next_due``), one notice;
   whatever fires, the message lists *all* the department's open overdue items, so every
   count is true, and that day restarts the overdue cadence;
5. ``escalate`` - each ``[escalation] to`` department gets one 逾期通报 per its own cadence
   (every N working days, or weekly on a weekday) listing every open overdue item, except
   those it is itself reminded about;
6. ``close`` - each plan past its end plus ``after_end_days`` gets one closing report, to the
   escalation departments;
7. ``one_per_day`` - a department that already got a message today gets nothing more today:
   what would fire waits for tomorrow's message (it fires then, with tomorrow's numbers).

Everything for one department in one pass is one digest (its own items, the escalation, the
closing reports). A series fires when its latest trigger not in the future is newer than the
one logged for the department, so after downtime only the latest missed reminder goes out,
once, and a repeated pass fires nothing.
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
    issued_on: date | None = None
    closed: bool = False


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
    responsible: tuple[int, ...] = ()
    cooperating: tuple[int, ...] = ()

    def role_of(self, department: int, roles: tuple[str, ...]) -> str | None:
        """The first of ``roles`` ``department`` holds in this item's task, or None."""
        for role in roles:
            if department in {"lead": self.leads, "responsible": self.responsible,
                              "cooperating": self.cooperating}[role]:
                return role
        return None


@dataclass(frozen=True)
class Cadence:
    """When a recurring notice goes out: every ``every_days`` working days, or weekly on
    ``weekday`` (1 = Monday; a holiday moves it to the next working day)."""

    every_days: int = 3
    weekday: int | None = None

    def next_day(self, last: date | None, first: date, cal: WorkCalendar) -> date:
        """The first notice day on or after ``first`` that is a full period after ``last``
        (the day of the previous notice, if any)."""
        if self.weekday is None:
            day = cal.on_or_after(first)
            if last is not None:
                day = max(day, cal.add_workdays(last, self.every_days))
            return day
        monday = first - timedelta(days=first.weekday())
        while True:
            slot = monday + timedelta(days=self.weekday - 1)
            day = cal.on_or_after(slot)
            if day >= first and (last is None or slot > last):
                return day
            monday += timedelta(days=7)


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
    escalation: Cadence | None = None  # None: every overdue_every_days working days
    after_end_days: int = 30
    notify_roles: tuple[str, ...] = ("lead",)

    @property
    def overdue(self) -> Cadence:
        return Cadence(self.overdue_every_days)

    @property
    def escalation_cadence(self) -> Cadence:
        return self.escalation or self.overdue


@dataclass(frozen=True)
class Entry:
    item: Item
    section: str  # overdue | cutoff | upcoming | progress | escalation
    days: int  # days left until the date, or days late for overdue and escalation
    cutoff: date | None = None
    role: str = "lead"


@dataclass
class Digest:
    department_id: int
    kind: str  # reminder | escalation
    day: date
    entries: list[Entry] = field(default_factory=list)
    fired: list[tuple[str, datetime]] = field(default_factory=list)  # (series, trigger, naive UTC)
    closing: list[PlanInfo] = field(default_factory=list)  # plans whose closing report this is

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
    """The plan's review dates: the ends of the cutoff months inside its period (and not
    before its issue date)."""
    out = []
    first = max(plan.starts_on, plan.issued_on or plan.starts_on)
    for year in range(plan.starts_on.year, plan.ends_on.year + 1):
        for m in months:
            d = month_end(year, m)
            if first <= d <= plan.ends_on:
                out.append(d)
    return out


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def before_triggers(due: date, rules: Rules) -> list[datetime]:
    days = {rules.calendar.on_or_before(due - timedelta(days=n)) for n in rules.lead_days}
    return sorted(_utc(d, rules.send_at, rules.tz) for d in days)


@dataclass(frozen=True)
class OverdueState:
    """What a department's (or the escalation's) overdue cadence depends on."""

    first_overdue: date | None  # the day after the earliest date among its open overdue items
    last_listed: date | None  # the day a message last listed its overdue items


def next_due(state: OverdueState, cadence: Cadence, rules: Rules) -> datetime | None:
    """When the next overdue notice of that state is due (naive UTC), or None with nothing
    overdue. A new overdue item joins the next notice; it starts no cycle of its own."""
    if state.first_overdue is None:
        return None
    day = cadence.next_day(state.last_listed, state.first_overdue, rules.calendar)
    return _utc(day, rules.send_at, rules.tz)


def _latest_due(triggers: list[datetime], now_utc: datetime) -> datetime | None:
    past = [t for t in triggers if t <= now_utc]
    return past[-1] if past else None


@dataclass(frozen=True)
class _Moment:
    rules: Rules
    today: date
    now_utc: datetime
    logged: Mapping[tuple[int, str], datetime]

    @property
    def send_time(self) -> datetime:
        """Today's send time: what a listing of overdue items is logged as."""
        return _utc(self.today, self.rules.send_at, self.rules.tz)

    def fires(self, dept: int, series: str, latest: datetime | None) -> datetime | None:
        if latest is None or latest > self.now_utc:
            return None
        seen = self.logged.get((dept, series))
        return latest if seen is None or latest > seen else None

    def last_day(self, dept: int, series: str) -> date | None:
        seen = self.logged.get((dept, series))
        return seen.replace(tzinfo=UTC).astimezone(self.rules.tz).date() if seen else None


def compose_digests(
    items: Iterable[Item],
    logged: Mapping[tuple[int, str], datetime],
    rules: Rules,
    now: datetime,
    *,
    closing: Iterable[PlanInfo] = (),
    sent_today: Iterable[int] = (),
) -> list[Digest]:
    """The digests to create at ``now`` (an aware datetime).

    ``logged`` maps (department id, series) to the latest trigger already turned into a
    digest. Items must be open (done ones are simply not passed in). ``closing``: plans past
    their end plus grace that have not been closed yet; ``sent_today``: departments that
    already got a message today."""
    local = now.astimezone(rules.tz)
    at = _Moment(rules, local.date(), now.astimezone(UTC).replace(tzinfo=None), logged)
    live = [it for it in items if issued(it) and is_live(it.plan, rules, at.today)]
    digests: dict[int, Digest] = {}
    for dept, its in sorted(by_department(live, rules).items()):
        d = department_digest(dept, its, at)
        if d is not None:
            digests[dept] = d
    for esc in rules.escalation_to:
        escalate(digests, esc, live, at)
    for plan in closing:
        close(digests, plan, at)
    for dept in one_per_day(digests, sent_today):
        del digests[dept]
    out = []
    for d in digests.values():
        d.entries = _dedupe_sorted(d.entries)
        d.kind = "reminder" if any(e.section != "escalation" for e in d.entries) else "escalation"
        out.append(d)
    out.sort(key=lambda d: (d.department_id, d.kind))
    return out


def issued(it: Item) -> bool:
    """Nothing is due before its plan was issued: such occurrences are not reminded at all."""
    return it.plan.issued_on is None or it.occurrence >= it.plan.issued_on


def grace_end(plan: PlanInfo, rules: Rules) -> date:
    """The last day departments are reminded about the plan."""
    return plan.ends_on + timedelta(days=rules.after_end_days)


def is_live(plan: PlanInfo, rules: Rules, today: date) -> bool:
    """Is the plan reminded today: issued already, not closed, not past its end plus grace?"""
    issued_by = plan.issued_on is None or plan.issued_on <= today
    return issued_by and not plan.closed and today <= grace_end(plan, rules)


def by_department(items: Iterable[Item], rules: Rules) -> dict[int, list[tuple[Item, str]]]:
    """Each department's items with its role in them, for the roles ``notify_roles`` lists."""
    out: dict[int, list[tuple[Item, str]]] = defaultdict(list)
    for it in items:
        for dept in dict.fromkeys((*it.leads, *it.responsible, *it.cooperating)):
            role = it.role_of(dept, rules.notify_roles)
            if role is not None:
                out[dept].append((it, role))
    return out


def department_digest(dept: int, its: list[tuple[Item, str]], at: _Moment) -> Digest | None:
    rules, today = at.rules, at.today
    d = Digest(dept, "reminder", today)
    overdue = [(it, role) for it, role in its if it.occurrence < today]
    by_plan: dict[int, list[tuple[Item, str]]] = defaultdict(list)
    for it, role in its:
        by_plan[it.plan.id].append((it, role))
    for pid, plan_its in by_plan.items():
        plan_cutoffs = cutoffs(plan_its[0][0].plan, rules.cutoff_months)
        cutoff_set = set(plan_cutoffs)
        for it, role in plan_its:
            if today <= it.occurrence and it.occurrence not in cutoff_set:
                series = f"ms:{it.milestone_id}:{it.occurrence}"
                trig = at.fires(dept, series, _latest_due(before_triggers(it.occurrence, rules), at.now_utc))
                if trig:
                    d.fired.append((series, trig))
                    d.entries.append(Entry(it, "upcoming", (it.occurrence - today).days, role=role))
        # The nearest cutoff whose reminder is due: one message for the whole plan.
        c = next((c for c in plan_cutoffs if c >= today), None)
        if c is None:
            continue
        series = f"cutoff:{pid}:{c}"
        trig = at.fires(dept, series, _latest_due(before_triggers(c, rules), at.now_utc))
        if not trig:
            continue
        ask = (dept, f"progress:{pid}:{c}") not in at.logged  # once per cutoff, whichever trigger
        due = [Entry(it, "cutoff", (it.occurrence - today).days, c, role)
               for it, role in plan_its if today <= it.occurrence <= c]
        later = [Entry(it, "progress", (it.occurrence - today).days, c, role)
                 for it, role in plan_its if it.occurrence > c] if ask else []
        if not due and not later:
            continue  # nothing to say about this cutoff: no message for it (overdue ones keep their cadence)
        d.fired.append((series, trig))
        if later:
            d.fired.append((f"progress:{pid}:{c}", trig))
        d.entries += due + later
    if overdue:
        state = OverdueState(min(it.occurrence for it, _ in overdue) + timedelta(days=1),
                             at.last_day(dept, "overdue"))
        if d.fired or at.fires(dept, "overdue", next_due(state, rules.overdue, rules)):
            # Whatever the reason for today's message, it lists every overdue item.
            d.fired.append(("overdue", at.send_time))
            d.entries += [Entry(it, "overdue", (today - it.occurrence).days, role=role) for it, role in overdue]
    return d if d.fired else None


def escalate(digests: dict[int, Digest], esc: int, items: list[Item], at: _Moment) -> None:
    """One 逾期通报 per the escalation cadence: every open overdue item, except those the
    escalation department is itself reminded about (they are in its own part already)."""
    rules, today = at.rules, at.today
    overdue = [it for it in items if it.occurrence < today and it.role_of(esc, rules.notify_roles) is None]
    if not overdue:
        return
    state = OverdueState(min(it.occurrence for it in overdue) + timedelta(days=1), at.last_day(esc, "escalation"))
    if not at.fires(esc, "escalation", next_due(state, rules.escalation_cadence, rules)):
        return
    d = digests.setdefault(esc, Digest(esc, "escalation", today))
    d.fired.append(("escalation", at.send_time))
    d.entries += [Entry(it, "escalation", (today - it.occurrence).days) for it in overdue]


def close(digests: dict[int, Digest], plan: PlanInfo, at: _Moment) -> None:
    """The closing report of a plan whose end plus grace has passed, once, to the escalation
    departments (the caller fills in what was done, late and still open)."""
    if plan.closed or at.today <= grace_end(plan, at.rules):
        return
    trigger = _utc(grace_end(plan, at.rules) + timedelta(days=1), at.rules.send_at, at.rules.tz)
    series = f"closing:{plan.id}"
    for esc in at.rules.escalation_to:
        if (esc, series) not in at.logged:  # once; the caller then marks the plan closed
            d = digests.setdefault(esc, Digest(esc, "escalation", at.today))
            d.fired.append((series, trigger))
            d.closing.append(plan)


def one_per_day(digests: dict[int, Digest], sent_today: Iterable[int]) -> list[int]:
    """The departments whose digest waits for tomorrow: they already got today's message."""
    return [dept for dept in set(sent_today) if dept in digests]


_ORDER = {"overdue": 0, "cutoff": 1, "upcoming": 2, "progress": 3, "escalation": 4}


def _dedupe_sorted(entries: list[Entry]) -> list[Entry]:
    """One line per item and part (own items / escalation); an item in several of its own
    sections stays in the most urgent one."""
    best: dict[tuple[bool, int, date], Entry] = {}
    for e in entries:
        k = (e.section == "escalation", e.item.milestone_id, e.item.occurrence)
        if k not in best or _ORDER[e.section] < _ORDER[best[k].section]:
            best[k] = e
    return sorted(best.values(), key=lambda e: (
        _ORDER[e.section], -e.days if e.section in ("overdue", "escalation") else e.days,
        e.item.plan.id, e.item.task_id, e.item.occurrence))
