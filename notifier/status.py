"""What `notifier status` and `notifier milestones` print."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from notifier.config import Config
from notifier.db import queries
from notifier.db.engine import transaction
from notifier.db.models import (Department, DepartmentAlias, Milestone, Plan, Task,
                                TaskDepartment)
from notifier.reminders import calendar_of, contacts_of


def status_report(engine: Engine, cfg: Config, now: datetime) -> tuple[str, bool]:
    today = now.date()
    lines = []
    healthy = True
    with transaction(engine) as s:
        plans = s.scalar(select(func.count()).select_from(Plan))
        tasks = s.scalar(select(func.count()).select_from(Task))
        open_ = s.scalar(select(func.count()).select_from(Milestone).where(Milestone.status == "open"))
        done = s.scalar(select(func.count()).select_from(Milestone).where(Milestone.status == "done"))
        overdue = s.scalar(select(func.count()).select_from(Milestone)
                           .where(Milestone.status == "open", Milestone.due_on < today, Milestone.recurrence.is_(None)))
        lines.append(f"plans {plans}, tasks {tasks}, milestones open {open_} (overdue {overdue}), done {done}")
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
        leads = s.execute(select(Department.id, Department.name).join(TaskDepartment)
                          .where(TaskDepartment.role == "lead").distinct()).all()
        aliases: dict[int, list[str]] = {}
        for dep_id, alias in s.execute(select(DepartmentAlias.department_id, DepartmentAlias.alias)):
            aliases.setdefault(dep_id, []).append(alias)
        missing = [n for i, n in leads if not contacts_of(cfg, n, aliases.get(i, []))
                   and not (cfg.department(n) and cfg.department(n).members)]
        if missing:
            lines.append(f"lead departments without contact ({len(missing)}): " + "、".join(sorted(missing)))
    for w in calendar_of(cfg).warnings(range(today.year, today.year + 2)):
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
    with transaction(engine) as s:
        q = (select(Milestone.id, Milestone.due_on, Milestone.status, Milestone.text, Milestone.recurrence,
                    Task.number, Task.id, Plan.name)
             .join(Task, Task.id == Milestone.task_id).join(Plan, Plan.id == Task.plan_id)
             .order_by(Milestone.due_on, Plan.id, Task.position, Milestone.position))
        if department:
            conf = cfg.department(department)
            names = {department} | ({conf.name, *conf.aliases} if conf else set())
            dep_ids = select(Department.id).where(Department.name.in_(names)).union(
                select(DepartmentAlias.department_id).where(DepartmentAlias.alias.in_(names)))
            q = q.where(Task.id.in_(select(TaskDepartment.task_id).where(TaskDepartment.department_id.in_(dep_ids))))
        if due_before:
            q = q.where(Milestone.due_on <= due_before)
        if status in ("open", "done"):
            q = q.where(Milestone.status == status)
        elif status == "overdue":
            q = q.where(Milestone.status == "open", Milestone.due_on < today, Milestone.recurrence.is_(None))
        if plan:
            q = q.where(Plan.name.contains(plan))
        leads = {}
        for tid, name in s.execute(select(TaskDepartment.task_id, Department.name).join(Department)
                                   .where(TaskDepartment.role == "lead").order_by(TaskDepartment.position)):
            leads.setdefault(tid, []).append(name)
        out = []
        for mid, due, st, text, rule, tnum, tid, pname in s.execute(q):
            late = (today - due).days if st == "open" and due < today and not rule else 0
            flag = f"overdue {late}d" if late else st
            rule_s = f" [{rule}]" if rule else ""
            out.append(f"#{mid:<5} {due}{rule_s} {flag:<12} 任务{tnum} {'、'.join(leads.get(tid, []))}: {text[:50]}")
        return out
