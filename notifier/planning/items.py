"""Milestone rows -> the planner's items: group expansion and recurrence expansion. Pure.

The queries (``db/queries.py``) return rows as stored: one per milestone, the departments of
each task as stored (a group such as 各县区政府 is one department there) and the done marks of
recurring reports. Turning them into ``Item``s - one per open occurrence, with each group
replaced by the members the config names - is a planning step, here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from notifier.planning.recurrence import occurrences
from notifier.planning.schedule import Item, PlanInfo


@dataclass(frozen=True)
class MilestoneRow:
    """An open milestone with its task and plan, as ``queries.open_milestones`` reads it."""

    milestone_id: int
    due_on: date
    text: str
    recurrence: str | None
    task_id: int
    task_number: str
    task_title: str
    plan: PlanInfo
    task_position: int
    position: int


def expand_roles(pairs: Iterable[tuple[int, str, int]],
                 members: Mapping[int, tuple[int, ...]]) -> dict[tuple[int, str], tuple[int, ...]]:
    """(task, role, department) in stored order -> (task, role) -> departments, each group that
    ``members`` expands replaced by its members (each department once)."""
    out: dict[tuple[int, str], list[int]] = defaultdict(list)
    for task_id, role, dep in pairs:
        for d in members.get(dep, (dep,)):
            if d not in out[(task_id, role)]:
                out[(task_id, role)].append(d)
    return {k: tuple(v) for k, v in out.items()}


def items_of(rows: Iterable[MilestoneRow], roles: Mapping[tuple[int, str], tuple[int, ...]],
             done: Mapping[int, Collection[date]], *, until: date | None = None,
             full_plans: Collection[int] = ()) -> list[Item]:
    """One item per open occurrence: a one-off milestone is one, a recurring report one per
    date of its plan period not marked done (``done``: milestone -> done occurrences). With
    ``until``, a recurring report's occurrences after it are left out, except in
    ``full_plans``. Rows are ordered by plan, task and milestone position."""
    items = []
    for r in sorted(rows, key=lambda r: (r.plan.id, r.task_position, r.position)):
        leads = roles.get((r.task_id, "lead"), ())
        others = roles.get((r.task_id, "responsible"), ()), roles.get((r.task_id, "cooperating"), ())
        if r.recurrence:
            dates = occurrences(r.recurrence, r.plan.starts_on, r.plan.ends_on)
            if until is not None and r.plan.id not in full_plans:
                dates = [d for d in dates if d <= until]
        else:
            dates = [r.due_on]
        marked = done.get(r.milestone_id, ())
        for occ in dates:
            if occ not in marked:
                items.append(Item(r.milestone_id, occ, r.plan, r.task_id, r.task_number, r.task_title, r.text,
                                  leads, r.recurrence, *others))
    return items
