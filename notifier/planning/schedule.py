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
7. ``step_up`` - an item a department leads whose grade (蓝 提醒 / 黄 催办 / 红 督办, see
   ``planning/ladder.py``) rose above the last one recorded for it joins the department's
   digest of the day, or makes one (listing every overdue item, as any message does): a 黄
   item is listed under 催办 with the reason; the digest is written in its highest step's grade;
8. ``one_per_day`` - a department that already got a message today gets nothing more today:
   what would fire (steps included) waits for tomorrow's message (it fires then, with
   tomorrow's numbers);
9. ``ask`` - a reminder that carries items due by their plan's next cutoff, or overdue ones,
   asks its department to sign for (签收) those it leads within ``sign_within_days`` working days.

Everything for one department in one pass is one digest (its own items, the escalation, the
closing reports). A series fires when its latest trigger not in the future is newer than the
one logged for the department, so after downtime only the latest missed reminder goes out,
once, and a repeated pass fires nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.config import GradesConfig, ScheduleConfig
from notifier.terms import Light
from notifier.planning.calendar import WorkCalendar, month_end
from notifier.planning.ladder import Ladder, Step, sign_items, top_grade
from notifier.terms import DigestKind, Role, Section


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

    def role_of(self, department: int, roles: tuple[Role, ...]) -> Role | None:
        """The first of ``roles`` ``department`` holds in this item's task, or None."""
        for role in roles:
            if department in {Role.LEAD: self.leads, Role.RESPONSIBLE: self.responsible,
                              Role.COOPERATING: self.cooperating}[role]:
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
    # The defaults are the config's (written once, in notifier/config.py).
    cutoff_months: tuple[int, ...] = ScheduleConfig.cutoff_months
    lead_days: tuple[int, ...] = ScheduleConfig.lead_days
    send_at: time = ScheduleConfig.send_at
    overdue_every_days: int = ScheduleConfig.overdue_every_days
    escalation_to: tuple[int, ...] = ()  # department ids
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    escalation: Cadence | None = None  # None: every overdue_every_days working days
    after_end_days: int = ScheduleConfig.after_end_days
    notify_roles: tuple[Role, ...] = ScheduleConfig.notify_roles
    sign_within_days: int = GradesConfig.sign_within_days  # [grades]: working days to sign for a reminder
    copy_to: tuple[int, ...] = ()  # who a 红 step is copied to: every [escalation] department,
    # also when the pass plans them on another page than ``escalation_to`` holds

    @property
    def overdue(self) -> Cadence:
        return Cadence(self.overdue_every_days)

    @property
    def escalation_cadence(self) -> Cadence:
        return self.escalation or self.overdue


@dataclass(frozen=True)
class Entry:
    item: Item
    section: Section
    days: int  # days left until the date, or days late for overdue and escalation
    cutoff: date | None = None
    role: Role = Role.LEAD
    reason: str = ""  # urged (催办): why the item is behind


@dataclass
class Digest:
    department_id: int
    kind: DigestKind
    day: date
    entries: list[Entry] = field(default_factory=list)
    fired: list[tuple[str, datetime]] = field(default_factory=list)  # (series, trigger, naive UTC)
    closing: list[PlanInfo] = field(default_factory=list)  # plans whose closing report this is
    steps: list[Step] = field(default_factory=list)  # grade step-ups this digest says (recorded when queued)
    asks: list[tuple[int, date]] = field(default_factory=list)  # (milestone, occurrence) to sign for
    sign_by: date | None = None  # the last day to sign for ``asks``
    copy_to: tuple[int, ...] = ()  # a 红 step copies the escalation departments ([escalation] to)

    @property
    def key(self) -> str:
        """Same department, fired triggers and steps -> same key, whichever pass made it."""
        basis = f"{self.department_id}|{self.kind}|" + "|".join(
            f"{s}@{t.isoformat()}" for s, t in sorted(self.fired))
        if self.steps:  # a digest made by step-ups alone fires no trigger
            basis += "|" + "|".join(sorted(f"step:{s.milestone_id}:{s.occurrence}:{s.grade}" for s in self.steps))
        return hashlib.sha256(basis.encode()).hexdigest()[:32]

    @property
    def grade(self) -> Light | None:
        """The grade the digest is written in: its highest step, or None (a plain reminder)."""
        return top_grade(self.steps)

    def section(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.section == name]

    @property
    def cutoffs(self) -> list[date]:
        return sorted({e.cutoff for e in self.entries if e.cutoff})


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
    ladder: Ladder | None = None,
) -> list[Digest]:
    """The digests to create at ``now`` (an aware datetime).

    ``logged`` maps (department id, series) to the latest trigger already turned into a
    digest. Items must be open (done ones are simply not passed in). ``closing``: plans past
    their end plus grace that have not been closed yet; ``sent_today``: departments that
    already got a message today; ``ladder``: the facts the grades need (None: no step-ups)."""
    local = now.astimezone(rules.tz)
    at = _Moment(rules, local.date(), now.astimezone(UTC).replace(tzinfo=None), logged)
    live = [it for it in items if issued(it) and is_live(it.plan, rules, at.today)]
    digests: dict[int, Digest] = {}
    departments = by_department(live, rules)
    for dept, its in sorted(departments.items()):
        d = department_digest(dept, its, at)
        if d is not None:
            digests[dept] = d
    for esc in rules.escalation_to:
        escalate(digests, esc, live, at)
    for plan in closing:
        close(digests, plan, at)
    if ladder is not None:
        step_up(digests, departments, ladder, at)
    for dept in one_per_day(digests, sent_today):
        del digests[dept]
    out = []
    for d in digests.values():
        d.entries = _dedupe_sorted(d.entries)
        only_escalation = all(e.section == Section.ESCALATION for e in d.entries)
        d.kind = DigestKind.ESCALATION if only_escalation else DigestKind.REMINDER
        ask(d, at)
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


def by_department(items: Iterable[Item], rules: Rules) -> dict[int, list[tuple[Item, Role]]]:
    """Each department's items with its role in them, for the roles ``notify_roles`` lists."""
    out: dict[int, list[tuple[Item, Role]]] = defaultdict(list)
    for it in items:
        for dept in dict.fromkeys((*it.leads, *it.responsible, *it.cooperating)):
            role = it.role_of(dept, rules.notify_roles)
            if role is not None:
                out[dept].append((it, role))
    return out


def department_digest(dept: int, its: list[tuple[Item, Role]], at: _Moment) -> Digest | None:
    rules, today = at.rules, at.today
    d = Digest(dept, DigestKind.REMINDER, today)
    overdue = [(it, role) for it, role in its if it.occurrence < today]
    by_plan: dict[int, list[tuple[Item, Role]]] = defaultdict(list)
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
                    d.entries.append(Entry(it, Section.UPCOMING, (it.occurrence - today).days, role=role))
        # The nearest cutoff whose reminder is due: one message for the whole plan.
        c = next((c for c in plan_cutoffs if c >= today), None)
        if c is None:
            continue
        series = f"cutoff:{pid}:{c}"
        trig = at.fires(dept, series, _latest_due(before_triggers(c, rules), at.now_utc))
        if not trig:
            continue
        ask = (dept, f"progress:{pid}:{c}") not in at.logged  # once per cutoff, whichever trigger
        due = [Entry(it, Section.CUTOFF, (it.occurrence - today).days, c, role)
               for it, role in plan_its if today <= it.occurrence <= c]
        later = [Entry(it, Section.PROGRESS, (it.occurrence - today).days, c, role)
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
            d.entries += [Entry(it, Section.OVERDUE, (today - it.occurrence).days, role=role) for it, role in overdue]
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
    d = digests.setdefault(esc, Digest(esc, DigestKind.ESCALATION, today))
    d.fired.append(("escalation", at.send_time))
    d.entries += [Entry(it, Section.ESCALATION, (today - it.occurrence).days) for it in overdue]


def close(digests: dict[int, Digest], plan: PlanInfo, at: _Moment) -> None:
    """The closing report of a plan whose end plus grace has passed, once, to the escalation
    departments (the caller fills in what was done, late and still open)."""
    if plan.closed or at.today <= grace_end(plan, at.rules):
        return
    trigger = _utc(grace_end(plan, at.rules) + timedelta(days=1), at.rules.send_at, at.rules.tz)
    series = f"closing:{plan.id}"
    for esc in at.rules.escalation_to:
        if (esc, series) not in at.logged:  # once; the caller then marks the plan closed
            d = digests.setdefault(esc, Digest(esc, DigestKind.ESCALATION, at.today))
            d.fired.append((series, trigger))
            d.closing.append(plan)


def step_up(digests: dict[int, Digest], departments: Mapping[int, list[tuple[Item, Role]]], ladder: Ladder,
            at: _Moment) -> None:
    """Each item whose grade rose joins its department's digest of the day, or makes one."""
    today = at.today
    for dept, its in sorted(departments.items()):
        steps = ladder.steps(dept, its, today)
        if not steps:
            continue
        d = digests.setdefault(dept, Digest(dept, DigestKind.REMINDER, today))
        if not any(e.section == Section.OVERDUE for e in d.entries):
            overdue = [(it, role) for it, role in its if it.occurrence < today]
            if overdue:  # whatever the reason for today's message, it lists every overdue item
                d.fired.append(("overdue", at.send_time))
                d.entries += [Entry(it, Section.OVERDUE, (today - it.occurrence).days, role=role)
                              for it, role in overdue]
        listed = {(e.item.milestone_id, e.item.occurrence) for e in d.entries if e.section != Section.ESCALATION}
        by_key = {(it.milestone_id, it.occurrence): (it, role) for it, role in its}
        for st in steps:
            d.steps.append(st)
            it, role = by_key[(st.milestone_id, st.occurrence)]
            days = (it.occurrence - today).days
            if st.grade is Light.YELLOW:
                d.entries.append(Entry(it, Section.URGED, days, role=role, reason=st.reason))
            elif (it.milestone_id, it.occurrence) not in listed:  # 蓝 on a day its reminder did not list it
                d.entries.append(Entry(it, Section.UPCOMING, days, role=role))
        if d.grade is Light.RED:
            d.copy_to = tuple(e for e in (at.rules.copy_to or at.rules.escalation_to) if e != dept)
    for esc in at.rules.escalation_to:
        copy_red(digests.get(esc), esc, ladder)


def copy_red(d: Digest | None, esc: int, ladder: Ladder) -> None:
    """The 红 step copies the escalation department: an overdue item its 逾期通报 lists for the
    first time since it went 红 is marked as newly 督办 there (a step of the escalation
    department, recorded once). The copy rides in the escalation department's own message,
    on its own cadence: one message a day at most, whatever number of departments went 红."""
    if d is None:
        return
    for e in d.entries:
        if e.section == Section.ESCALATION and ladder.last(esc, e.item) is not Light.RED:
            d.steps.append(Step(esc, e.item.milestone_id, e.item.occurrence, Light.RED, copy=True))


def ask(d: Digest, at: _Moment) -> None:
    """The items a reminder asks its department to sign for, and by when."""
    if d.kind != DigestKind.REMINDER:
        return
    nearest: dict[int, date | None] = {}

    def next_cutoff(it: Item) -> date | None:
        if it.plan.id not in nearest:
            nearest[it.plan.id] = next((c for c in cutoffs(it.plan, at.rules.cutoff_months) if c >= at.today), None)
        return nearest[it.plan.id]

    d.asks = sign_items(d.entries, next_cutoff)
    if d.asks:
        d.sign_by = at.rules.calendar.add_workdays(at.today, at.rules.sign_within_days)


def one_per_day(digests: dict[int, Digest], sent_today: Iterable[int]) -> list[int]:
    """The departments whose digest waits for tomorrow: they already got today's message."""
    return [dept for dept in set(sent_today) if dept in digests]


_ORDER = {Section.OVERDUE: 0, Section.URGED: 1, Section.CUTOFF: 2, Section.UPCOMING: 3, Section.PROGRESS: 4,
          Section.ESCALATION: 5}
SECTION_ORDER = _ORDER  # public: the renderer names a digest's plans in this order


def _dedupe_sorted(entries: list[Entry]) -> list[Entry]:
    """One line per item and part (own items / escalation); an item in several of its own
    sections stays in the most urgent one."""
    best: dict[tuple[bool, int, date], Entry] = {}
    for e in entries:
        k = (e.section == Section.ESCALATION, e.item.milestone_id, e.item.occurrence)
        if k not in best or _ORDER[e.section] < _ORDER[best[k].section]:
            best[k] = e
    return sorted(best.values(), key=lambda e: (
        _ORDER[e.section], -e.days if e.section in (Section.OVERDUE, Section.ESCALATION) else e.days,
        e.item.plan.id, e.item.task_id, e.item.occurrence))
