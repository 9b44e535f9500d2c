"""The planning pass: load open items -> plan digests (pure) -> render -> queue outbox rows.

One write transaction; each digest is inserted in its own savepoint so that a digest another
instance already queued (same key) is skipped instead of failing the pass.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db import queries
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Contact, Delivery, Department, Digest, ReminderLog
from notifier.importing.store import DepartmentIndex, sync_departments
from notifier.planning.calendar import WorkCalendar
from notifier.planning.schedule import DigestPlan, Rules, plan_digests
from notifier.rendering import Rendered, Renderer, notice_context

log = logging.getLogger(__name__)


@dataclass
class Queued:
    department: str
    kind: str
    rendered: Rendered
    contacts: list[tuple[str, str]]
    entries: int


@dataclass
class PassResult:
    queued: list[Queued] = field(default_factory=list)
    without_contact: list[str] = field(default_factory=list)
    already: int = 0  # digests another pass had queued
    skipped_reason: str | None = None


def calendar_of(config: Config) -> WorkCalendar:
    return WorkCalendar.from_config(config.holidays, config.workdays)


def contacts_of(config: Config, name: str, aliases: list[str] = ()) -> list[tuple[str, str]]:  # noqa: B006
    dep = config.department(name)
    for a in aliases:
        dep = dep or config.department(a)
    if dep is None:
        return []
    out = [("email", a) for a in dep.email] + [("webhook", w) for w in dep.webhooks]
    return out


def rules_for(session: Session, config: Config) -> Rules:
    index = DepartmentIndex(session, config)
    esc = tuple(index.resolve(n).id for n in config.escalation_to)
    s = config.schedule
    return Rules(tz=config.timezone, cutoff_months=s.cutoff_months, lead_days=s.lead_days, send_at=s.send_at,
                 overdue_every_days=s.overdue_every_days, escalation_to=esc, calendar=calendar_of(config))


def group_members(session: Session, config: Config) -> dict[int, tuple[int, ...]]:
    index = DepartmentIndex(session, config)
    out = {}
    for d in config.departments:
        if d.members:
            out[index.resolve(d.name).id] = tuple(index.resolve(m).id for m in d.members)
    return out


def in_send_time(config: Config, now: datetime) -> str | None:
    """Why nothing may be sent at ``now``, or None when it may."""
    local = now.astimezone(config.timezone)
    if not calendar_of(config).is_workday(local.date()):
        return f"{local:%Y-%m-%d} is not a working day"
    start, end = config.schedule.send_window
    if not start <= local.time().replace(tzinfo=None) < end:
        return f"{local:%H:%M} is outside the send window {start:%H:%M}-{end:%H:%M}"
    return None


def run_pass(engine: Engine, config: Config, renderer: Renderer, now: datetime, *,
             force: bool = False, dry_run: bool = False) -> PassResult:
    """Plan and queue what is due at ``now`` (aware). ``dry_run`` rolls everything back."""
    result = PassResult()
    reason = None if force else in_send_time(config, now)
    if reason:
        result.skipped_reason = reason
        return result
    with transaction(engine) as s:
        sync_departments(s, config)
        rules = rules_for(s, config)
        items = queries.open_items(s, group_members(s, config))
        logged = queries.reminder_log(s)
        plans = plan_digests(items, logged, rules, now)
        names = queries.department_names(s)
        aliases = _aliases(s)
        now_utc = now.astimezone(UTC).replace(tzinfo=None)
        for plan in plans:
            name = names[plan.department_id]
            contacts = contacts_of(config, name, aliases.get(plan.department_id, []))
            if not contacts:
                result.without_contact.append(name)
                continue  # not logged: once a contact is configured the latest reminder goes out
            rendered = renderer.render_digest(plan, name, now, names)
            if _queue(s, plan, rendered, contacts, now_utc, dry_run, expires=expires_at(plan, config.timezone)):
                result.queued.append(Queued(name, plan.kind, rendered, contacts, len(plan.entries)))
            else:
                result.already += 1
        result.queued += _broken_contact_notices(s, config, renderer, rules, names, now, now_utc, dry_run)
        if dry_run:
            s.rollback()
    return result


def _aliases(s: Session) -> dict[int, list[str]]:
    from notifier.db.models import DepartmentAlias

    out: dict[int, list[str]] = {}
    for dep_id, alias in s.execute(select(DepartmentAlias.department_id, DepartmentAlias.alias)):
        out.setdefault(dep_id, []).append(alias)
    return out


def expires_at(plan: DigestPlan, tz: ZoneInfo) -> datetime | None:
    """When a reminder becomes pointless: the end of the latest date it is about (the cutoff,
    an upcoming milestone's date), as naive UTC. ``None`` for a digest of overdue items only
    and for escalations: those stay true after any date."""
    if plan.kind != "reminder":
        return None
    days = [e.cutoff or e.item.occurrence for e in plan.entries if e.section in ("cutoff", "progress", "upcoming")]
    if not days:
        return None
    end = datetime.combine(max(days) + timedelta(days=1), time(0), tzinfo=tz)
    return end.astimezone(UTC).replace(tzinfo=None)


def delivery_key(digest_key: str, channel: str, recipient: str) -> str:
    return "ntf_" + hashlib.sha256(f"{digest_key}|{channel}|{recipient}".encode()).hexdigest()[:32]


def _queue(s: Session, plan: DigestPlan | None, rendered: Rendered, contacts: list[tuple[str, str]],
           now_utc: datetime, dry_run: bool, *, key: str | None = None, department_id: int | None = None,
           kind: str | None = None, day=None, expires: datetime | None = None) -> bool:  # noqa: ANN001
    key = key or plan.key
    dep_id = department_id if department_id is not None else plan.department_id
    try:
        with s.begin_nested():
            digest = Digest(key=key, department_id=dep_id, kind=kind or plan.kind, day=day or plan.day,
                            created_at=utcnow(), subject=rendered.subject, text=rendered.text,
                            html=rendered.html, markdown=rendered.markdown, data=rendered.data_json())
            s.add(digest)
            s.flush()
            for series, trigger in (plan.fired if plan else []):
                s.add(ReminderLog(department_id=dep_id, series=series, trigger_at=trigger, digest_id=digest.id))
            for channel, recipient in contacts:
                s.add(Delivery(key=delivery_key(key, channel, recipient), digest_id=digest.id,
                               department_id=dep_id, channel=channel, recipient=recipient, status="pending",
                               attempts=0, due_at=now_utc, next_attempt_at=now_utc, expires_at=expires,
                               created_at=utcnow()))
            s.flush()
    except IntegrityError:
        return False  # the same digest is already queued (another pass or instance)
    return True


def _broken_contacts_to_notify(s: Session) -> list[Contact]:
    return list(s.scalars(select(Contact).where(Contact.broken.is_(True), Contact.notified_at.is_(None))))


def _broken_contact_notices(s: Session, config: Config, renderer: Renderer, rules: Rules,
                            names: dict[int, str], now: datetime, now_utc: datetime, dry_run: bool) -> list[Queued]:
    """One notice per newly broken contact to the supervision office, not one per reminder."""
    out = []
    if not rules.escalation_to:
        return out
    for contact in _broken_contacts_to_notify(s):
        owner = s.scalar(select(Department.name).join(Delivery, Delivery.department_id == Department.id)
                         .where(Delivery.channel == contact.channel, Delivery.recipient == contact.recipient)
                         .limit(1)) or "?"
        for esc in rules.escalation_to:
            esc_contacts = [c for c in contacts_of(config, names.get(esc, "")) if c != (contact.channel, contact.recipient)]
            if not esc_contacts:
                continue
            rendered = renderer.render("notice", notice_context(owner, contact.channel, contact.recipient,
                                                                contact.last_error or "", now))
            key = hashlib.sha256(f"notice|{esc}|{contact.id}|{contact.broken_at}".encode()).hexdigest()[:32]
            if _queue(s, None, rendered, esc_contacts, now_utc, dry_run, key=key, department_id=esc,
                      kind="notice", day=now.astimezone(config.timezone).date()):
                out.append(Queued(names.get(esc, ""), "notice", rendered, esc_contacts, 1))
        contact.notified_at = now_utc
    return out

