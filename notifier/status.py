"""What `notifier status` and `notifier milestones` print."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db import queries
from notifier.db.engine import transaction
from notifier.db.models import (Department, DepartmentAlias, Milestone, OccurrenceDone, Plan, PlanStatus,
                                ProgressEvent, Task, TaskDepartment)
from notifier.planning.recurrence import occurrences
from notifier.reminders import calendar_of, contact_gaps, describe_gaps

SOURCES = {"cli": "命令行", "import": "导入", "link": "链接"}


def calendar_years(session: Session, today: date) -> set[int]:
    """The years reminders may fall in: this one, the next, and every year of a plan not yet over."""
    years = {today.year, today.year + 1}
    for start, end in session.execute(select(Plan.starts_on, Plan.ends_on).where(Plan.ends_on >= today)):
        years.update(range(max(start.year, today.year), end.year + 1))
    return years


def overdue_occurrences(session: Session, today: date) -> list[tuple[int, date]]:
    """Every open (milestone, date) whose date passed: one-off milestones and each missed
    occurrence of a recurring report (一季度 missed stays overdue while 二季度 is reminded)."""
    out = [(mid, due) for mid, due in session.execute(
        select(Milestone.id, Milestone.due_on).where(Milestone.status == "open", Milestone.due_on < today,
                                                     Milestone.recurrence.is_(None)))]
    rec = session.execute(select(Milestone.id, Milestone.recurrence, Plan.starts_on, Plan.ends_on)
                          .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
                          .where(Milestone.status == "open", Milestone.recurrence.is_not(None))).all()
    if rec:
        done = {(m, o) for m, o in session.execute(select(OccurrenceDone.milestone_id, OccurrenceDone.occurrence))}
        for mid, rule, start, end in rec:
            out += [(mid, o) for o in occurrences(rule, start, end) if o < today and (mid, o) not in done]
    return out


def last_events(session: Session) -> dict[tuple[int, date | None], ProgressEvent]:
    """The latest progress event per (milestone, occurrence)."""
    out: dict[tuple[int, date | None], ProgressEvent] = {}
    for e in session.scalars(select(ProgressEvent).order_by(ProgressEvent.at, ProgressEvent.id)):
        out[(e.milestone_id, e.occurrence)] = e
    return out


def describe_event(e: ProgressEvent, cfg: Config) -> str:
    at = e.at.replace(tzinfo=UTC).astimezone(cfg.timezone)
    what = {"done": "done", "reopen": "reopened", "progress": "progress"}.get(e.action, e.action)
    who = f" by {e.actor}" if e.actor else ""
    return f"{what} {at:%Y-%m-%d %H:%M} via {e.source}{who}" + (f": {e.note[:60]}" if e.note else "")


def status_report(engine: Engine, cfg: Config, now: datetime) -> tuple[str, bool]:
    today = now.date()
    lines = []
    healthy = True
    with transaction(engine) as s:
        plans = s.scalar(select(func.count()).select_from(Plan))
        tasks = s.scalar(select(func.count()).select_from(Task))
        open_ = s.scalar(select(func.count()).select_from(Milestone).where(Milestone.status == "open"))
        done = s.scalar(select(func.count()).select_from(Milestone).where(Milestone.status == "done"))
        overdue = len(overdue_occurrences(s, today))
        lines.append(f"plans {plans}, tasks {tasks}, milestones open {open_}, done {done}; "
                     f"overdue dates {overdue} (a missed occurrence of a recurring report counts once)")
        closed = [f"{pid} {name}" for pid, name in s.execute(
            select(Plan.id, Plan.name).where(Plan.status == PlanStatus.CLOSED).order_by(Plan.id))]
        if closed:  # no reminders about them (notifier plan reopen NAME)
            lines.append(f"closed plans ({len(closed)}): " + "; ".join(closed))
        since = now.astimezone(UTC).replace(tzinfo=None) - timedelta(days=7)
        recent = list(s.scalars(select(ProgressEvent).where(ProgressEvent.at >= since)
                                .order_by(ProgressEvent.at.desc(), ProgressEvent.id.desc())))
        if recent:
            by_source: dict[str, int] = defaultdict(int)
            for e in recent:
                by_source[e.source] += 1
            lines.append(f"answers in the last 7 days: {len(recent)} ("
                         + ", ".join(f"{k} {v}" for k, v in sorted(by_source.items())) + ")")
            for e in recent[:5]:
                lines.append(f"  #{e.milestone_id}{f' {e.occurrence}' if e.occurrence else ''} {describe_event(e, cfg)}")
        counts = queries.delivery_counts(s)
        lines.append("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
        nxt = queries.next_pending(s)
        if nxt:
            lines.append(f"next delivery attempt: {nxt.isoformat(sep=' ', timespec='minutes')} UTC")
        failed = queries.digest_failures(s)
        if failed:
            healthy = False
            lines.append(f"failed deliveries ({counts.get('failed', 0)}; `notifier retry --failed` after fixing):")
            lines += failure_lines(failed)
        broken = queries.broken_contacts(s)
        if broken:
            healthy = False
            lines.append("broken contacts:")
            for c in broken:
                lines.append(f"  {c.channel}:{c.recipient} since {c.broken_at:%Y-%m-%d %H:%M}: {c.last_error}")
        lines += describe_gaps(contact_gaps(s, cfg))  # the same answer as import and send-due
        years = calendar_years(s, today)
    for w in calendar_of(cfg).warnings(years):
        lines.append(f"warning: {w}")
    return "\n".join(lines), healthy


def failure_lines(failures: list[queries.DigestFailures]) -> list[str]:
    """ "市发改委 reminder 2018-06-20: 2 of 3 failed", then one line per failed delivery."""
    lines = []
    for f in failures:
        lines.append(f"  {f.headline}: {f.subject}")
        for did, channel, recipient, error in f.failed:
            lines.append(f"    #{did} {channel}:{recipient}: {error}")
    return lines


def milestone_rows(engine: Engine, cfg: Config, today: date, *, department: str | None = None,
                   due_before: date | None = None, status: str | None = None, plan: str | None = None) -> list[str]:
    """One line per milestone; with ``status="overdue"`` one line per overdue date (each missed
    occurrence of a recurring report), oldest first, with how late it is and the last answer."""
    with transaction(engine) as s:
        q = (select(Milestone.id, Milestone.due_on, Milestone.status, Milestone.text, Milestone.recurrence,
                    Task.number, Task.id, Plan.name, Plan.status)
             .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
             .order_by(Milestone.due_on, Plan.id, Task.position, Milestone.position))
        if department:
            conf = cfg.department(department)
            names = {department} | ({conf.name, *conf.aliases} if conf else set())
            dep_ids = select(Department.id).where(Department.name.in_(names)).union(
                select(DepartmentAlias.department_id).where(DepartmentAlias.alias.in_(names)))
            q = q.where(Task.id.in_(select(TaskDepartment.task_id).where(TaskDepartment.department_id.in_(dep_ids))))
        if due_before and status != "overdue":
            q = q.where(Milestone.due_on <= due_before)
        if status in ("open", "done"):
            q = q.where(Milestone.status == status)
        elif status == "overdue":
            q = q.where(Milestone.status == "open")
        if plan:
            q = q.where(Plan.name.contains(plan))
        leads = {}
        for tid, name in s.execute(select(TaskDepartment.task_id, Department.name).join(Department)
                                   .where(TaskDepartment.role == "lead").order_by(TaskDepartment.position)):
            leads.setdefault(tid, []).append(name)
        rows = s.execute(q).all()
        late_dates: dict[int, list[date]] = defaultdict(list)
        for mid, occ in overdue_occurrences(s, today):
            late_dates[mid].append(occ)
        events = last_events(s)
        out = []
        for mid, due, st, text, rule, tnum, tid, pname, plan_status in rows:
            rule_s = f" [{rule}]" if rule else ""
            who = "、".join(leads.get(tid, []))
            if status == "overdue":
                for occ in sorted(late_dates.get(mid, [])):
                    if due_before and occ > due_before:
                        continue
                    ev = events.get((mid, occ if rule else None))
                    last = f"  (last: {describe_event(ev, cfg)})" if ev else "  (no answer yet)"
                    out.append((occ, f"#{mid:<5} {occ}{rule_s} {'overdue ' + str((today - occ).days) + 'd':<12} "
                                     f"任务{tnum} {who}: {text[:50]}{last}"))
                continue
            late = sorted(late_dates.get(mid, []))
            flag = f"overdue {(today - late[0]).days}d" if late else st
            if plan_status == PlanStatus.CLOSED:
                flag = f"{st} (plan closed)"
            ev = max((e for (m, _), e in events.items() if m == mid), key=lambda e: (e.at, e.id), default=None)
            last = f"  (last: {describe_event(ev, cfg)})" if ev else ""
            out.append((due, f"#{mid:<5} {due}{rule_s} {flag:<12} 任务{tnum} {who}: {text[:50]}{last}"))
        if status == "overdue":
            out.sort(key=lambda r: r[0])
        return [line for _, line in out]


def history_rows(engine: Engine, cfg: Config, *, milestone: int | None = None, limit: int = 50) -> list[str]:
    """Progress history, newest first: who marked or reported what, when, and through what."""
    with transaction(engine) as s:
        q = (select(ProgressEvent, Milestone.text, Task.number)
             .join(Milestone, Milestone.id == ProgressEvent.milestone_id).join(Task, Task.id == Milestone.task_id)
             .order_by(ProgressEvent.at.desc(), ProgressEvent.id.desc()).limit(limit))
        if milestone is not None:
            q = q.where(ProgressEvent.milestone_id == milestone)
        return [f"#{e.milestone_id:<5}{f' {e.occurrence}' if e.occurrence else ''} 任务{tnum} {text[:30]}: "
                f"{describe_event(e, cfg)}" for e, text, tnum in s.execute(q)]
