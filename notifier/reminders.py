"""The planning pass: due departments -> load their items -> compose digests (pure) -> render -> queue.

- Due index: only the departments whose next-due time has come (``notifier/due_index.py``,
  an index seek) are planned, ``PAGE_SIZE`` at a time, each page in its own write
  transaction that also stores their next-due times (``planning/due.py``). Between pages
  the pass feeds the daemon's heartbeat and stops at SIGTERM: a page not committed leaves
  its departments due, so nothing is lost.
- What a page loads (``load_page``): its departments' items due up to ``horizon`` (overdue
  ones included), their recurring reports, the whole of a plan whose cutoff reminder fires,
  and, on the escalation department's page, every overdue item; never the whole database.
  The planner is handed exactly what it needs to compose the digests it would compose from
  every open item (tests/integration/test_due_index_pass.py checks this over most of a year).
- Each digest is inserted in its own savepoint so that a digest another instance already
  queued (same key) is skipped instead of failing the pass.
- Quiet hours: nothing is planned outside working days and ``[schedule] send_window``
  (``is_send_time``), unless forced; the dispatcher tick applies the same gate.
- Catch-up: a digest of an earlier day none of whose deliveries was ever attempted (the
  daemon was down, or the window closed) is dropped with its log rows before planning
  (``outbox.drop_stale_digests``), so its reminders go out once, today, with today's numbers
  instead of stale ones.
- Pacing: the delivery rows one pass queues are due ``stagger_seconds`` apart.
- Reply links: with ``[web] base_url`` and a secret, each reminder entry carries a signed link.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier import due_index, grade_log, signing
from notifier.config import Config, GradesConfig
from notifier.db import queries
from notifier.db.engine import read_session, transaction
from notifier.db.models import Contact, Delivery, Department
from notifier.delivery import outbox
from notifier.delivery.outbox import DigestRow
from notifier.departments import DepartmentIndex, departments_in_sync, ids_of, sync_departments
from notifier.office.pauses import PauseSpan, pause_spans
from notifier.planning.calendar import WorkCalendar
from notifier.planning.ladder import Facts, Key, Ladder
from notifier.planning.horizons import horizon, log_horizon
from notifier.plan_life import close_plan
from notifier.planning.due import next_due_at, wakeups
from notifier.planning.items import expand_roles, items_of
from notifier.planning.schedule import (SECTION_ORDER, Cadence, Digest, Item, PlanInfo, Rules, before_triggers,
                                        by_department, compose_digests, cutoffs)
from notifier.rendering import Links, Rendered, Renderer, notice_context
from notifier.review import mark_told, pending_keys, returns_to_tell, without_requested
from notifier.terms import DigestKind, Role, Section
from notifier.web.links import LinkSigner, signer_of

log = logging.getLogger(__name__)


@dataclass
class Queued:
    department: str
    kind: DigestKind
    rendered: Rendered
    contacts: list[tuple[str, str]]
    entries: int


@dataclass
class PassResult:
    queued: list[Queued] = field(default_factory=list)
    without_contact: list[str] = field(default_factory=list)
    collective: list[str] = field(default_factory=list)  # collective names (各县区政府) no [[groups]] expands
    already: int = 0  # digests another pass had queued
    skipped_reason: str | None = None
    replaced: int = 0  # stale never-sent digests of earlier days, re-planned with today's numbers
    last_due_at: datetime | None = None  # naive UTC: when the last staggered row becomes due
    due_departments: int = 0  # departments the due index (and the escalation) sent to the planner
    planned: int = 0  # of them, planned before the pass ended (all, unless it was stopped)
    stopped: bool = False  # ``stopping`` said so between two pages


def calendar_of(config: Config) -> WorkCalendar:
    return WorkCalendar.from_config(config.holidays, config.workdays)


def contacts_of(config: Config, name: str, aliases: Sequence[str] = ()) -> list[tuple[str, str]]:
    dep = config.department(name)
    for a in aliases:
        dep = dep or config.department(a)
    if dep is None:
        return []
    out = [("email", a) for a in dep.email] + [("webhook", w) for w in dep.webhooks]
    return out


@dataclass
class ContactGaps:
    """Who would receive something but cannot: the same answer for import, status and send-due."""

    departments: list[str] = field(default_factory=list)  # departments without a contact
    collective: list[str] = field(default_factory=list)  # collective names no [[groups]] expands


def contact_gaps(s: Session, config: Config, plan_ids: list[int] | None = None) -> ContactGaps:
    """The departments with a role in ``[schedule] notify_roles`` (of the active plans, or of
    ``plan_ids``) that no message can reach; collective names (各县区政府) apart, listed once."""
    gaps = ContactGaps()
    aliases = _aliases(s)
    for dep_id, name, group in queries.notified_departments(s, config.schedule.notify_roles, plan_ids):
        if config.reachable(name, *aliases.get(dep_id, [])):
            continue
        (gaps.collective if group and not config.department(name) else gaps.departments).append(name)
    return gaps


def rules_for(session: Session, config: Config, *, create: bool = True) -> Rules:
    esc = tuple(ids_of(session, config, config.escalation_to, create=create))
    s = config.schedule
    e = config.escalation
    cadence = None
    if e.weekday is not None or e.every_days is not None:
        cadence = Cadence(e.every_days or s.overdue_every_days, e.weekday)
    return Rules(tz=config.timezone, cutoff_months=s.cutoff_months, lead_days=s.lead_days, send_at=s.send_at,
                 overdue_every_days=s.overdue_every_days, escalation_to=esc, calendar=calendar_of(config),
                 escalation=cadence, after_end_days=s.after_end_days, notify_roles=s.notify_roles,
                 sign_within_days=config.grades.sign_within_days, copy_to=esc)


def group_members(session: Session, config: Config, *, create: bool = True) -> dict[int, tuple[int, ...]]:
    out = {}
    for d in config.departments:
        if d.members:
            for group in ids_of(session, config, [d.name], create=create):
                out[group] = tuple(ids_of(session, config, d.members, create=create))
    return out


# A logged trigger more than this ahead of ``now`` was written while the clock ran ahead
# (then was set back): it is ignored, so the reminders it seemed to cover still go out when
# their time really comes. A smaller step back (NTP) trusts the log: nothing is sent twice.
CLOCK_SKEW = timedelta(hours=12)


def is_send_time(config: Config, now: datetime) -> bool:
    """May reminders be planned and sent at ``now``: a working day, within the send window?"""
    return why_not_send_time(config, now) is None


def why_not_send_time(config: Config, now: datetime) -> str | None:
    """Why nothing may be sent at ``now`` (for the pass's and the daemon's log), or None when it may."""
    local = now.astimezone(config.timezone)
    if not calendar_of(config).is_workday(local.date()):
        return f"{local:%Y-%m-%d} is not a working day"
    start, end = config.schedule.send_window
    if not start <= local.time().replace(tzinfo=None) < end:
        return f"{local:%H:%M} is outside the send window {start:%H:%M}-{end:%H:%M}"
    return None


PAGE_SIZE = 50  # departments planned per transaction: the pass's memory and its checkpoint


def run_pass(engine: Engine, config: Config, renderer: Renderer, now: datetime, *,
             force: bool = False, dry_run: bool = False, heartbeat: Callable[[], None] | None = None,
             stopping: Callable[[], bool] | None = None, page_size: int | None = None) -> PassResult:
    """Plan and queue what is due at ``now`` (aware). ``dry_run`` rolls everything back.

    Only the departments the due index says are due are planned, ``page_size`` at a time,
    each page in its own transaction that also writes the page's next due times: between
    pages ``heartbeat`` is called (the daemon's watchdog) and ``stopping`` asked (SIGTERM);
    a pass stopped there has lost nothing, the rest is still due at the next pass."""
    result = PassResult()
    reason = None if force else why_not_send_time(config, now)
    if reason:
        result.skipped_reason = reason
        return result
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    today = now.astimezone(config.timezone).date()
    slots = itertools.count()
    stagger = config.schedule.stagger_seconds

    def due_at() -> datetime:
        at = now_utc + timedelta(seconds=stagger * next(slots))
        result.last_due_at = max(result.last_due_at or at, at)
        return at

    signer = signer_of(config) if config.web.links else None
    with ExitStack() as stack:
        # A dry run is one transaction, rolled back at the end; a real pass commits each page.
        shared = stack.enter_context(transaction(engine)) if dry_run else None

        def tx() -> AbstractContextManager[Session]:
            return nullcontext(shared) if shared is not None else transaction(engine)

        with tx() as s:
            if not departments_in_sync(s, config):
                sync_departments(s, config)
            result.replaced = drop_stale_digests(s, today)
            rules = rules_for(s, config)
            members = group_members(s, config)
            names = queries.department_names(s)
            aliases = _aliases(s)
            due_index.still_valid(s, due_index.fingerprint(*rules_basis(config, rules, names, aliases, members)),
                                  now_utc, CLOCK_SKEW)
            due_ids = due_index.departments_of_groups(members, due_index.due(s, now_utc))
            due_ids |= set(rules.escalation_to)  # the 逾期通报 and closing reports read everyone's items
            due_index.ensure(s, due_ids)
            closing = queries.plans_to_close(s, today - timedelta(days=rules.after_end_days))
            spans = pause_spans(s)
            result.due_departments = len(due_ids)
        if heartbeat is not None:
            heartbeat()
        size = page_size or PAGE_SIZE
        pages = [sorted(due_ids)[i:i + size] for i in range(0, len(due_ids), size)]
        reported: set[int] = set()
        for n, page in enumerate(pages):
            with tx() as s:
                esc_here = tuple(e for e in rules.escalation_to if e in page)
                # Closing reports go to the escalation departments: planned on their page.
                closing_here = closing if (esc_here or (not rules.escalation_to and n == 0)) else []
                _plan_page(s, config, renderer, rules, set(page), members, names, aliases, spans, closing_here,
                           now, signer, due_at, result, reported, escalation=bool(esc_here))
                if closing_here:
                    close_ended_plans(s, closing_here, reported, bool(rules.escalation_to), now)
            result.planned += len(page)
            if heartbeat is not None:
                heartbeat()
            if stopping is not None and stopping():
                result.stopped = True
                log.info("planning pass stopped after %d of %d departments; the rest stay due",
                         result.planned, len(due_ids))
                break
        if not result.stopped:
            with tx() as s:
                result.queued += _broken_contact_notices(s, config, renderer, rules, names, now, due_at)
        if shared is not None:
            shared.rollback()
    return result


def rules_basis(config: Config, rules: Rules, names: dict[int, str], aliases: dict[int, list[str]],
                members: dict[int, tuple[int, ...]]) -> tuple[object, ...]:
    """What the stored next-due times depend on besides the data: a change (a config reload)
    marks every department due (``due_index.still_valid``)."""
    cal = rules.calendar
    reachable = sorted(d for d, n in names.items() if contacts_of(config, n, aliases.get(d, [])))
    return (str(rules.tz), rules.cutoff_months, rules.lead_days, rules.send_at.isoformat(),
            rules.overdue_every_days, rules.escalation_to, rules.escalation, rules.after_end_days,
            rules.notify_roles, sorted(config.holidays), sorted(config.workdays), type(cal).__name__,
            config.grades,
            sorted(members.items()), reachable)


def _plan_page(s: Session, config: Config, renderer: Renderer, rules: Rules, page: set[int],
               members: dict[int, tuple[int, ...]], names: dict[int, str], aliases: dict[int, list[str]],
               spans: list[PauseSpan], closing: list[PlanInfo], now: datetime, signer: LinkSigner | None,
               due_at: Callable[[], datetime], result: PassResult, reported: set[int], *,
               escalation: bool) -> None:
    """Plan, render and queue one page of due departments, and write their next due times."""
    today = now.astimezone(config.timezone).date()
    versions = due_index.versions(s, page)
    # ``escalation``: an escalation department is on this page; its 逾期通报 reads everyone's
    # overdue items. Digests composed for departments of other pages are dropped.
    loaded = load_page(s, rules, members, page, now, escalation=escalation,
                       cap=config.schedule.max_items, spans=spans, grades_lead_days=config.grades.lead_days)
    reviewed = without_requested(loaded.items, pending_keys(s))  # the review gate (notifier.review)
    items = without_paused(reviewed, spans, today)
    returns = returns_to_tell(s)
    sent_today = queries.departments_sent_today(s, today) & page
    digests = [d for d in compose_digests(items, loaded.logged, rules, now, closing=closing, sent_today=sent_today,
                                          ladder=ladder_of(s, config, items, today))
               if d.department_id in page]
    logged = dict(loaded.logged)
    waiting: set[int] = set()  # planned, not queued: no contact; due again at the next pass
    for digest in digests:
        name = names[digest.department_id]
        contacts = contacts_of(config, name, aliases.get(digest.department_id, []))
        if not contacts:
            group = s.get_one(Department, digest.department_id).is_group and not config.department(name)
            (result.collective if group else result.without_contact).append(name)
            waiting.add(digest.department_id)
            continue  # not logged: once a contact is configured the latest reminder goes out
        told = returns.get(digest.department_id, []) if digest.kind == DigestKind.REMINDER else []
        hidden = loaded.hidden(digest)
        rendered = renderer.render_digest(digest, name, now, names, links_of(signer, digest, now),
                                          outcomes_of(s, digest, config), more=hidden,
                                          more_plans=loaded.hidden_plans(digest, hidden),
                                          listed_elsewhere=loaded.listed_tasks(digest),
                                          page_url=page_url_for(signer, digest, now), returned=told)
        reported.update(p.id for p in digest.closing)
        row = DigestRow.of(digest, config.timezone)
        if outbox.queue(s, row, rendered, contacts, due_at):
            record_ladder(s, digest, now)
            result.queued.append(Queued(name, digest.kind, rendered, contacts,
                                        len(digest.entries) + len(digest.closing)))
            if told:
                mark_told(s, [r.id for r in told], row.key)
        else:
            result.already += 1
        logged.update({(digest.department_id, series): at for series, at in digest.fired})
    theirs = by_department(reviewed, rules)  # an item waiting for review wakes no one (a decision marks them)
    asked = signing.sign_days(s, page)
    tomorrow = _local_start(today + timedelta(days=1), config)
    nexts: dict[int, datetime | None] = {}
    for d in page:
        if d in waiting:
            nexts[d] = now.astimezone(UTC).replace(tzinfo=None)
            continue
        extra = [tomorrow] if d in sent_today else []  # what waited for tomorrow's message
        extra += [_local_start(p.ends_on + timedelta(days=1), config) for p in spans
                  if not p.resumed and p.ends_on >= today and _pauses(p, d, theirs.get(d, []))]
        extra += [_local_start(day, config) for day in ladder_wakeups(
            d, theirs.get(d, []), loaded.plans.get(d, ()), asked.get(d, ()), config.grades, rules, today)]
        nexts[d] = next_due_at(wakeups(d, [it for it, _ in theirs.get(d, [])], logged, rules, now,
                                       plans=loaded.plans.get(d, ()), later=loaded.later.get(d),
                                       earliest=loaded.earliest.get(d)) + extra, now)
    due_index.record(s, versions, nexts)


def _pauses(p: PauseSpan, dept: int, its: list[tuple[Item, Role]]) -> bool:
    return p.department_id == dept or any(it.task_id == p.task_id for it, _ in its)


def _local_start(day: date, config: Config) -> datetime:
    return datetime.combine(day, time(0), tzinfo=config.timezone).astimezone(UTC).replace(tzinfo=None)


@dataclass
class PageLoad:
    """What the planner needs about a page of due departments, and no more."""

    items: list[Item]
    logged: dict[tuple[int, str], datetime]
    later: dict[int, date]  # department -> its first open one-off date beyond the loaded ones
    plans: dict[int, list[PlanInfo]]  # department -> the active plans it has open items in
    ranked: queries.Ranked | None = None  # the capped sections: what was loaded of each, and the counts
    earliest: dict[int, date] = field(default_factory=dict)  # department -> its first open one-off date from today

    def hidden(self, digest: Digest) -> dict[str, int]:
        """Per section of ``digest``, how many items were counted in SQL but not loaded (the
        message says "及其他N项" for them): overdue, cutoff, progress (tasks)."""
        if self.ranked is None:
            return {}
        dep, today = digest.department_id, digest.day
        own = [e.item for e in digest.entries if e.section != Section.ESCALATION and e.item.recurrence is None]
        fired: dict[str, dict[int, date]] = {Section.CUTOFF: {}, Section.PROGRESS: {}}  # plan -> the cutoff concerned
        for series, _ in digest.fired:
            if series.startswith(("cutoff:", "progress:")):
                kind, pid, c = series.split(":")
                fired[kind][int(pid)] = date.fromisoformat(c)
        cut, ask = fired[Section.CUTOFF], fired[Section.PROGRESS]
        out: dict[str, int] = {}
        shown = len([it for it in own if it.plan.id in cut and today <= it.occurrence <= cut[it.plan.id]])
        total = sum(self.ranked.total.get((dep, Section.CUTOFF, p), 0) for p in cut)
        if total > shown:
            out[Section.CUTOFF] = total - shown
        # The progress request asks about the tasks not listed above: those with an item due by
        # the cutoff (counted in SQL) or listed for another reason (a recurring report, an
        # upcoming date), and those already loaded are not among the rest.
        seen = {e.item.task_id for e in digest.entries if e.section != Section.ESCALATION}
        rest = sum(len(self.ranked.later_tasks.get((dep, p), set()) - self.ranked.listed_tasks.get((dep, p), set())
                       - seen) for p in ask)
        if rest:
            out[Section.PROGRESS] = rest
        return out

    def listed_tasks(self, digest: Digest) -> set[int]:
        """The tasks with an item due by the cutoff of a progress request of ``digest``: listed
        above it (loaded or counted), so the request does not ask about them."""
        if self.ranked is None:
            return set()
        asked = {int(series.split(":")[1]) for series, _ in digest.fired if series.startswith("progress:")}
        return set().union(*(self.ranked.listed_tasks.get((digest.department_id, p), set()) for p in asked))

    def hidden_plans(self, digest: Digest, hidden: Mapping[str, int]) -> list[tuple[PlanInfo, tuple[int, int, int]]]:
        """The plans of the sections with items not loaded, each with the sort key of its first
        item there (``rendering.digest_context`` names them in the message's order)."""
        if self.ranked is None or not hidden:
            return []
        infos = {p.id: p for p in self.plans.get(digest.department_id, [])}
        out = []
        for section in (Section.CUTOFF, Section.PROGRESS):
            if section not in hidden:
                continue
            order = SECTION_ORDER[section]
            for pid, day in self.ranked.first.get((digest.department_id, section), {}).items():
                if pid in infos:
                    # The planner sorts overdue items by days late, descending: by date either way.
                    out.append((infos[pid], (order, (day - digest.day).days, pid)))
        return out


# For this long after a cutoff a pass loads all of the plan's open items: those whose progress
# report the cutoff asked for and did not get step up to 黄 (催办). A later pass sees them
# again once they come near their date; the ledger shows them 黄 all along.
LADDER_CATCH_UP = timedelta(days=10)


def load_page(s: Session, rules: Rules, members: dict[int, tuple[int, ...]], page: set[int], now: datetime, *,
              escalation: bool = False, cap: int = 30, spans: Sequence[PauseSpan] = (),
              grades_lead_days: int = 7) -> PageLoad:
    """The open items and the reminder log of the departments of ``page``:

    - every item due up to ``horizon`` (its own reminders can fire), overdue ones included (the
      grade ladder steps each up to 红), except those on a cutoff date after the ladder's
      ``[grades] lead_days``: the cutoff's message lists them;
    - of a plan whose nearest cutoff has a reminder due for one of them that it has not had
      yet (that message lists its open items due by the cutoff, and asks about its other
      tasks in the plan), the ``cap`` (``[schedule] max_items``) earliest items due by the
      cutoff and those of the ``cap`` first other tasks, the rest counted in SQL
      (``queries.first_open``): a message lists at most that many;
    - every recurring report (few; their occurrences are expanded in ``planning/items.py``);
    - with ``escalation`` (an escalation department is on the page): every overdue item;
    - every item of a plan whose cutoff passed less than ``LADDER_CATCH_UP`` ago (the ladder's
      黄 for a progress report the cutoff did not get).
    A group's items count for its members (``members``). The series names below are the
    planner's (planning/schedule.py)."""
    today = now.astimezone(rules.tz).date()
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    until = horizon(rules, now)
    keys = set(page) | {g for g, ms in members.items() if page & set(ms)}
    keys_of = {d: {d} | {g for g, ms in members.items() if d in ms} for d in page}
    logged = queries.reminder_log(s, since=log_horizon(rules, now), upto=now_utc + CLOCK_SKEW, departments=page)
    full: dict[int, date] = {}  # plan -> the cutoff being reminded: loaded capped, counted in SQL
    ladder: set[int] = set()  # plans loaded whole for the grade ladder's catch-up after a cutoff
    later: dict[int, date] = {}
    plans: dict[int, list[PlanInfo]] = defaultdict(list)
    earliest: dict[int, date] = {}
    for key, plan, first_due, first_later in queries.department_plans(s, keys, rules.notify_roles, today, until):
        for d in (m for m in members.get(key, (key,)) if m in page):
            plans[d].append(plan)
            if first_later is not None:
                later[d] = min(later.get(d, first_later), first_later)
            if first_due is not None:
                earliest[d] = min(earliest.get(d, first_due), first_due)
            plan_cutoffs = cutoffs(plan, rules.cutoff_months)
            c = next((c for c in plan_cutoffs if c >= today), None)
            due = [t for t in before_triggers(c, rules) if t <= now_utc] if c is not None else []
            seen = logged.get((d, f"cutoff:{plan.id}:{c}"))
            if due and (seen is None or due[-1] > seen) and c is not None:
                full[plan.id] = c
            if any(today - LADDER_CATCH_UP < c < today for c in plan_cutoffs):
                ladder.add(plan.id)  # its items not answered at the cutoff step up to 黄 (the ladder)
    # Items on a cutoff date inside the grade ladder's lead window are loaded (it steps them up
    # to 蓝); further ones only through the cutoff's message, capped.
    after_lead = today + timedelta(days=grades_lead_days + 1)
    live = [p for p in spans if not p.resumed and p.starts_on <= today <= p.ends_on]
    ranked = queries.first_open(s, keys_of, rules.notify_roles, today=today, cap=cap,
                                live_after=today - timedelta(days=rules.after_end_days),
                                paused_tasks={p.task_id for p in live if p.task_id is not None}, cutoffs=full)
    rows = {r.milestone_id: r for r in queries.open_milestones(s, departments=keys, roles=rules.notify_roles,
                                                                until=until,
                                                                ids=ranked.ids | asked_late(s, page, today),
                                                                plans=ladder,
                                                                not_cutoffs=cutoff_days(rules, after_lead, until),
                                                                active_only=True)}
    if escalation:
        rows.update((r.milestone_id, r) for r in queries.open_milestones(s, until=today - timedelta(days=1),
                                                                         active_only=True))
    roles = expand_roles(queries.task_roles(s, {r.task_id for r in rows.values()}), members)
    done = queries.done_occurrences(s, [r.milestone_id for r in rows.values() if r.recurrence])
    return PageLoad(items_of(rows.values(), roles, done), logged, later, plans, ranked, earliest)


def asked_late(s: Session, page: set[int], today: date) -> set[int]:
    """The milestones of 签收 requests of ``page`` not signed by their day: the ladder lists them
    (催办) whatever their date, so they are loaded whatever the window."""
    return {r.milestone_id for r in signing.unsigned(s, today=today) if r.department_id in page}


def cutoff_days(rules: Rules, start: date, end: date) -> list[date]:
    """The month ends of the cutoff months from ``start`` to ``end``: the dates that can be a cutoff."""
    return [c for year in range(start.year, end.year + 1) for c in
            cutoffs(PlanInfo(0, "", None, date(year, 1, 1), date(year, 12, 31)), rules.cutoff_months)
            if start <= c <= end]


def open_items(s: Session, members: dict[int, tuple[int, ...]] | None = None, *,
               active_only: bool = False) -> list[Item]:
    """Every open occurrence (preview, tests): the whole database, never the planning pass."""
    rows = queries.open_milestones(s, active_only=active_only)
    roles = expand_roles(queries.task_roles(s), members or {})
    done = queries.done_occurrences(s, [r.milestone_id for r in rows if r.recurrence])
    return items_of(rows, roles, done)


def ladder_of(s: Session, config: Config, items: list[Item], today: date) -> Ladder:
    """The facts the grade ladder needs about ``items``: their answers, the 签收 requests not
    signed for in time, the last grade recorded for each department, when each plan began
    to be followed."""
    tz = config.timezone
    mids = {it.milestone_id for it in items}
    answers = queries.answer_days(s, mids, tz)
    late: dict[Key, date] = {}
    for r in signing.unsigned(s, today=today, milestone_ids=mids):
        key = (r.department_id, r.milestone_id, r.occurrence)
        late[key] = min(late.get(key, r.sign_by), r.sign_by)
    last = grade_log.last_grades(s, mids)
    facts: dict[Key, Facts] = {}
    by_item = {(it.milestone_id, it.occurrence): it for it in items}
    # Every department the item is about, and every one a step was recorded for (an escalation
    # department's copy of a 红 is one of those).
    keys = {(d, mid, occ) for (mid, occ), it in by_item.items() for d in (*it.leads, *it.responsible, *it.cooperating)}
    keys |= {k for k in last if (k[1], k[2]) in by_item}
    for key in keys:
        it = by_item[(key[1], key[2])]
        said = tuple(answers.get((it.milestone_id, it.occurrence if it.recurrence else None), ()))
        if said or key in late or key in last:
            facts[key] = Facts(said, late.get(key), last.get(key, Facts().last))
    return Ladder(config.grades, calendar_of(config).is_workday, config.schedule.cutoff_months, facts,
                  queries.followed_from(s, {it.plan.id for it in items}, tz))


def record_ladder(s: Session, digest: Digest, now: datetime) -> None:
    """A queued digest's 签收 requests and grade steps (next to the outbox, not inside it)."""
    at = now.astimezone(UTC).replace(tzinfo=None)
    if digest.asks and digest.sign_by is not None:
        signing.ask(s, department_id=digest.department_id, items=digest.asks, digest_key=digest.key,
                    asked_on=digest.day, sign_by=digest.sign_by)
    if digest.steps:
        grade_log.record(s, digest.steps, digest_key=digest.key, on=digest.day, at=at)


def ladder_wakeups(dept: int, its: list[tuple[Item, Role]], plans: Iterable[PlanInfo], asked: Iterable[date],
                   grades: GradesConfig, rules: Rules, today: date) -> list[date]:
    """The days the grade ladder may step one of the department's items up (the due index's
    facts for the ladder; each errs early): the day after a 签收 request's last day, the day
    its lead window opens, the day after its date (红), the day after each cutoff (黄 for a
    progress report not made)."""
    out = [d + timedelta(days=1) for d in asked]
    for it, role in its:
        if role != Role.LEAD or it.occurrence < today:
            continue
        out += [rules.calendar.on_or_before(it.occurrence - timedelta(days=grades.lead_days)),
                it.occurrence + timedelta(days=1)]
    out += [c + timedelta(days=1) for p in plans for c in cutoffs(p, rules.cutoff_months) if c >= today]
    return [d for d in out if d >= today]


def without_paused(items: Iterable[Item], spans: list[PauseSpan], today: date) -> list[Item]:
    """The pause gate (暂停督办, set on the office pages): an item of a task paused today is
    not planned at all; a department paused today is left out of its items' recipients, so it
    gets nothing while the others on the same task are still reminded. Paused items stay open
    and overdue in the ledger; the reminders resume, with today's numbers, when the pause ends."""
    live = [p for p in spans if not p.resumed and p.starts_on <= today <= p.ends_on]
    if not live:
        return list(items)
    tasks = {p.task_id for p in live if p.task_id is not None}
    deps = {p.department_id for p in live if p.department_id is not None}

    def keep(ids: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(d for d in ids if d not in deps)

    return [replace(it, leads=keep(it.leads), responsible=keep(it.responsible), cooperating=keep(it.cooperating))
            for it in items if it.task_id not in tasks]


def preview(engine: Engine, config: Config, renderer: Renderer, department: str, now: datetime) -> list[Rendered]:
    """What ``department`` would receive at ``now``, rendered, ignoring what was already sent
    (the message as it would read now). A read: nothing is written, so a department or an
    escalation office the database does not hold yet (a config edited since the last pass) has
    nothing to preview."""
    signer = signer_of(config) if config.web.links else None
    with read_session(engine) as s:
        dep = DepartmentIndex(s, config).find(department)
        if dep is None:
            return []
        dep_id, dep_name = dep.id, dep.name
        rules = rules_for(s, config, create=False)
        today = now.astimezone(config.timezone).date()
        closing = queries.plans_to_close(s, today - timedelta(days=rules.after_end_days))
        groups = group_members(s, config, create=False)
        items = without_paused(open_items(s, groups, active_only=True), pause_spans(s), today)
        items = without_requested(items, pending_keys(s))
        digests = [d for d in compose_digests(items, {}, rules, now, closing=closing,
                                              ladder=ladder_of(s, config, items, today))
                   if d.department_id == dep_id]
        names = queries.department_names(s)
        told = returns_to_tell(s).get(dep_id, [])
        out = [renderer.render_digest(d, dep_name, now, names, links_of(signer, d, now), outcomes_of(s, d, config),
                                      page_url=page_url_for(signer, d, now),
                                      returned=told if d.kind == DigestKind.REMINDER else ())
               for d in digests]
    return out


def outcomes_of(s: Session, digest: Digest, config: Config) -> dict[int, list[queries.DepartmentOutcome]]:
    """The closing reports' figures (done / late / still open by department) of a digest."""
    return {p.id: queries.plan_outcomes(s, p.id, config.timezone) for p in digest.closing}


def close_ended_plans(s: Session, closing: list[PlanInfo], reported: set[int], escalates: bool,
                      now: datetime) -> None:
    """Close the plans past their end plus grace whose closing report is queued (or that have
    no one to report to). One without a reachable office stays open, silent, until it is."""
    from notifier.db.models import Plan

    at = now.astimezone(UTC).replace(tzinfo=None)
    for p in closing:
        if p.id in reported or not escalates:
            plan = s.get_one(Plan, p.id)
            if close_plan(plan, at):
                log.info("plan %s closed: its end plus grace has passed", p.id)


def links_of(signer: LinkSigner | None, digest: Digest, now: datetime) -> Links | None:
    """The reply links of a reminder digest's items, signed before it is rendered; None without
    [web] links and for escalation copies. Only the items the department leads get one: their
    lead answers for the others."""
    if signer is None or digest.kind != DigestKind.REMINDER:
        return None
    # Bound to the digest's department: only the recipient's link confirms for it.
    return {(e.item.milestone_id, e.item.occurrence): signer.url(e.item.milestone_id, e.item.occurrence,
                                                                 digest.department_id, now)
            for e in digest.entries if e.role == Role.LEAD}


def page_url_for(signer: LinkSigner | None, digest: Digest, now: datetime) -> str:
    """The department's own page (/d/…) a reminder digest links to, or "" (no [web] links)."""
    if signer is None or digest.kind != DigestKind.REMINDER:
        return ""
    return signer.page_url(digest.department_id, now)


def drop_stale_digests(s: Session, today: date) -> int:
    """The outbox drops the never-sent digests of earlier days (``outbox.drop_stale_digests``);
    what they asked and stepped was never said (asked and stepped again when re-planned), and
    their departments are due again: their reminders fire anew, today. Returns how many."""
    dropped = outbox.drop_stale_digests(s, today)
    if dropped:
        keys = [d.key for d in dropped]
        signing.withdraw(s, keys)
        grade_log.forget(s, keys)
        due_index.mark(s, [d.department_id for d in dropped])
    return len(dropped)


def next_reminder(s: Session, config: Config, now: datetime) -> datetime | None:
    """When a department is next due (aware, local time), for the daemon's status line: the
    due index's earliest time after ``now``. A planned time, not a promise (a wake-up may find
    nothing to send)."""
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    at = due_index.next_time(s)
    if at is None:
        return None
    # A department already due (a change marked it, or the send window is closed) is planned
    # at the next pass: its next reminder is now, as far as the status line can say.
    return max(at, now_utc).replace(tzinfo=UTC).astimezone(config.timezone)


def _aliases(s: Session) -> dict[int, list[str]]:
    from notifier.db.models import DepartmentAlias

    out: dict[int, list[str]] = {}
    for dep_id, alias in s.execute(select(DepartmentAlias.department_id, DepartmentAlias.alias)):
        out.setdefault(dep_id, []).append(alias)
    return out


def _broken_contacts_to_notify(s: Session) -> list[Contact]:
    return list(s.scalars(select(Contact).where(Contact.broken.is_(True), Contact.notified_at.is_(None))))


def _broken_contact_notices(s: Session, config: Config, renderer: Renderer, rules: Rules,
                            names: dict[int, str], now: datetime,
                            due_at: Callable[[], datetime]) -> list[Queued]:
    """One notice per newly broken contact to the supervision office, not one per reminder."""
    out: list[Queued] = []
    if not rules.escalation_to:
        return out
    for contact in _broken_contacts_to_notify(s):
        owner = s.scalar(select(Department.name).join(Delivery, Delivery.department_id == Department.id)
                         .where(Delivery.channel == contact.channel, Delivery.recipient == contact.recipient)
                         .limit(1)) or "?"
        told = False
        for esc in rules.escalation_to:
            own = (contact.channel, contact.recipient)
            esc_contacts = [c for c in contacts_of(config, names.get(esc, "")) if c != own]
            if not esc_contacts:
                continue
            rendered = renderer.render("notice", notice_context(owner, contact.channel, contact.recipient,
                                                                contact.last_error or "", now))
            key = hashlib.sha256(f"notice|{esc}|{contact.id}|{contact.broken_at}".encode()).hexdigest()[:32]
            told = True  # queued now, or by an earlier pass (same key)
            row = DigestRow(key, esc, DigestKind.NOTICE, now.astimezone(config.timezone).date())
            if outbox.queue(s, row, rendered, esc_contacts, due_at):
                out.append(Queued(names.get(esc, ""), DigestKind.NOTICE, rendered, esc_contacts, 1))
        if told:  # else: no escalation department can be reached yet; try again next pass
            contact.notified_at = now.astimezone(UTC).replace(tzinfo=None)
    return out

