"""Write a PlanSpec to the database in one transaction.

A plan is recognised again by its 文号, else by name and year, else by content hash, and
updated in place: tasks by number, milestones by key (then by date), so done marks and
notes survive a re-import of an edited table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db.engine import utcnow
from notifier.db.models import (Department, DepartmentAlias, Milestone, Plan, Task,
                                TaskDepartment)
from notifier.importing.departments import aliases_of, is_group
from notifier.importing.model import PlanSpec

ROLES = ("lead", "responsible", "cooperating")


@dataclass
class ImportSummary:
    plan_id: int
    plan_name: str
    action: str  # created | updated | unchanged
    tasks: int
    milestones: int
    departments: list[str]
    without_contact: list[str] = field(default_factory=list)
    done_kept: int = 0


class DepartmentIndex:
    """Resolves a name as written in a plan to one department row, creating it if new.

    Config names and aliases win, then names and aliases already stored."""

    def __init__(self, session: Session, config: Config):
        self.session = session
        self.config = config
        self._cache: dict[str, Department] = {}

    def resolve(self, name: str) -> Department:
        if name in self._cache:
            return self._cache[name]
        configured = self.config.department(name)
        for alias in aliases_of(name):  # 市发改委(市开放办): the config may know either half
            configured = configured or self.config.department(alias)
        # One way everywhere: a parenthesised alias is an alias, the name is what stands before it.
        canonical = configured.name if configured else aliases_of(name)[0]
        dep = self._lookup(canonical) or self._lookup(name)
        if dep is None and not configured:
            for alias in aliases_of(name):  # 市国资委(市金融办): either half may be known
                dep = self._lookup(alias) or dep
        if dep is None:
            dep = Department(name=canonical, is_group=is_group(canonical), created_at=utcnow())
            self.session.add(dep)
            self.session.flush()
            known = {a for (a,) in self.session.execute(select(DepartmentAlias.alias))}
            for alias in dict.fromkeys([*aliases_of(name), name]):
                if alias != canonical and alias not in known:
                    self.session.add(DepartmentAlias(department_id=dep.id, alias=alias))
            self.session.flush()
        self._cache[name] = dep
        return dep

    def _lookup(self, name: str) -> Department | None:
        dep = self.session.scalar(select(Department).where(Department.name == name))
        if dep is None:
            dep = self.session.scalar(
                select(Department).join(DepartmentAlias).where(DepartmentAlias.alias == name))
        return dep


def sync_departments(session: Session, config: Config) -> None:
    """Make every configured department and alias exist in the database."""
    index = DepartmentIndex(session, config)
    for d in config.departments:
        dep = index.resolve(d.name)
        existing = {a.alias for a in dep.aliases}
        for alias in d.aliases:
            if alias in existing:
                continue
            owner = session.scalar(select(DepartmentAlias).where(DepartmentAlias.alias == alias))
            if owner is not None:
                owner.department_id = dep.id  # config decides where an alias belongs
            else:
                session.add(DepartmentAlias(department_id=dep.id, alias=alias))
    session.flush()


def find_plan(session: Session, spec: PlanSpec) -> Plan | None:
    if spec.doc_number:
        plan = session.scalar(select(Plan).where(Plan.doc_number == spec.doc_number))
        if plan is not None:
            return plan
    plan = session.scalar(select(Plan).where(Plan.name == spec.name, Plan.year == spec.year))
    if plan is None and spec.source_hash:
        plan = session.scalar(select(Plan).where(Plan.source_hash == spec.source_hash))
    return plan


def store_plan(session: Session, spec: PlanSpec, config: Config) -> ImportSummary:
    """Insert or update ``spec``. The caller owns the transaction (all or nothing)."""
    sync_departments(session, config)
    index = DepartmentIndex(session, config)
    now = utcnow()
    plan = find_plan(session, spec)
    if plan is not None and plan.source_hash == spec.source_hash and spec.source_hash:
        return _summary(session, plan, spec, config, "unchanged", 0, index)
    action = "updated" if plan is not None else "created"
    if plan is None:
        plan = Plan(imported_at=now, name=spec.name, year=spec.year, starts_on=spec.starts_on,
                    ends_on=spec.ends_on, source_hash=spec.source_hash, updated_at=now)
        session.add(plan)
    plan.name = spec.name
    # A table exported from us carries no 文号: keep what the document gave.
    plan.doc_number = spec.doc_number or plan.doc_number
    plan.issuer = spec.issuer or plan.issuer
    plan.issued_on = spec.issued_on or plan.issued_on
    plan.year, plan.starts_on, plan.ends_on = spec.year, spec.starts_on, spec.ends_on
    plan.source_hash, plan.updated_at = spec.source_hash, now
    session.flush()

    old_tasks = {t.number: t for t in plan.tasks}
    done_kept = 0
    keep: list[Task] = []
    for pos, ts in enumerate(spec.tasks):
        task = old_tasks.pop(ts.number, None)
        if task is None:
            task = Task(number=ts.number, plan=plan, position=pos, title="", text="")
            session.add(task)
        task.title, task.text, task.position = ts.title[:500], ts.text, pos
        keep.append(task)
        done_kept += _sync_milestones(session, task, ts)
        wanted = []
        for role, names in zip(ROLES, (ts.lead, ts.responsible, ts.cooperating)):
            for i, name in enumerate(names):
                dep = index.resolve(name)
                if (dep.id, role) not in {(w[0], w[1]) for w in wanted}:
                    wanted.append((dep.id, role, i))
        task.roles = [TaskDepartment(department_id=d, role=r, position=i) for d, r, i in wanted]
    for gone in old_tasks.values():
        session.delete(gone)
    session.flush()
    return _summary(session, plan, spec, config, action, done_kept, index)


def _sync_milestones(session: Session, task: Task, ts) -> int:  # noqa: ANN001
    old = list(task.milestones)
    by_key = {m.key: m for m in old}
    kept = 0
    result = []
    used: set[str] = set()
    for pos, ms in enumerate(ts.milestones):
        key, n = ms.key, 1
        while key in used:  # the same words and date twice in one task
            n += 1
            key = f"{ms.key[:13]}-{n}"
        used.add(key)
        m = by_key.pop(key, None)
        if m is None:
            # An edited text keeps its done mark when the date (or rule) stayed.
            m = next((o for o in by_key.values() if o.due_on == ms.due and o.recurrence == ms.recurrence), None)
            if m is not None:
                del by_key[m.key]
        if m is None:
            m = Milestone(status="open")
        elif m.status == "done":
            kept += 1
        m.key, m.position, m.due_on, m.text = key, pos, ms.due, ms.text
        m.phrase, m.recurrence = ms.phrase[:200], ms.recurrence
        result.append(m)
    task.milestones = result  # delete-orphan removes what the new document dropped
    return kept


def _summary(session, plan, spec, config, action, done_kept, index) -> ImportSummary:  # noqa: ANN001
    session.flush()
    names = []
    for name in spec.departments():
        dep = index.resolve(name)
        if dep.name not in names:
            names.append(dep.name)
    without = [n for n in names if not config.reachable(n)]
    return ImportSummary(plan_id=plan.id, plan_name=plan.name, action=action, tasks=len(spec.tasks),
                         milestones=spec.milestone_count, departments=names, without_contact=without,
                         done_kept=done_kept)
