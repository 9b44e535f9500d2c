"""The grade ladder in the planner: which items step up today, and which items a reminder
asks a department to sign for (签收). Pure: the pass hands in the facts and writes the results.

- ``Ladder.grade_of``: a department's item graded by ``notifier.office.grades`` (the one
  source of the ladder and the ledger's lights) with that department's facts: its answers,
  its 签收 requests not signed for, and where the office started following the plan.
- ``Ladder.steps``: the items whose grade today is above the last grade recorded for the
  department (``grade_steps``): each is one ``Step``, said once, in the department's next
  message (``schedule.step_up`` places it). Steps are for the items a department leads: the
  lead answers for its task (as with reply links and 签收).
- ``sign_items``: a reminder that carries items due by their plan's next cutoff, or overdue
  ones, asks its department to sign for those it leads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from notifier.config import GradesConfig
from notifier.office.grades import Context, GradeItem, Light, behind_reason, grade, plan_cutoffs
from notifier.terms import Role, Section

if TYPE_CHECKING:
    from notifier.planning.schedule import Entry, Item

Key = tuple[int, int, date]  # (department id, milestone id, occurrence)

_cutoffs = lru_cache(maxsize=1024)(plan_cutoffs)  # per plan, asked for every item of it


@dataclass(frozen=True)
class Facts:
    """What a department's item's grade depends on besides its date."""

    answers: tuple[date, ...] = ()  # local dates of progress notes / reports and done marks
    sign_by: date | None = None  # earliest day to sign by of its requests still not signed for
    last: Light = Light.GREEN  # the last grade recorded (sent) for it


@dataclass(frozen=True)
class Step:
    """An item of a department stepping up to ``grade`` today; ``reason`` says why a 黄 is."""

    department_id: int
    milestone_id: int
    occurrence: date
    grade: Light
    reason: str = ""
    copy: bool = False  # a 红 of another department's item, copied to an escalation department


@dataclass(frozen=True)
class Ladder:
    rules: GradesConfig
    is_workday: Callable[[date], bool]
    cutoff_months: tuple[int, ...]
    facts: Mapping[Key, Facts] = field(default_factory=dict)
    since: Mapping[int, date] = field(default_factory=dict)  # plan id -> followed from (start or import)

    def _graded(self, dept: int, it: Item, today: date) -> tuple[GradeItem, Context]:
        f = self.facts.get((dept, it.milestone_id, it.occurrence), Facts())
        since = self.since.get(it.plan.id, it.plan.starts_on)
        ctx = Context(today, self.rules, _cutoffs(it.plan.starts_on, it.plan.ends_on, self.cutoff_months),
                      self.is_workday)
        return GradeItem(it.occurrence, False, f.answers, since, f.sign_by), ctx

    def grade_of(self, dept: int, it: Item, today: date) -> Light:
        return grade(*self._graded(dept, it, today))

    def last(self, dept: int, it: Item) -> Light:
        """The last grade recorded for the department's item (绿 when none was)."""
        return self.facts.get((dept, it.milestone_id, it.occurrence), Facts()).last

    def steps(self, dept: int, its: Iterable[tuple[Item, Role]], today: date) -> list[Step]:
        """The department's lead items whose grade today is above their last recorded one."""
        out = []
        for it, role in its:
            if role != Role.LEAD:
                continue
            g = self.grade_of(dept, it, today)
            if g.rank > self.last(dept, it).rank:
                why = behind_reason(*self._graded(dept, it, today)) if g is Light.YELLOW else ""
                out.append(Step(dept, it.milestone_id, it.occurrence, g, why))
        return out


def top_grade(steps: Iterable[Step]) -> Light | None:
    """The grade a message with these steps is written in: the highest of its own items' steps
    (copies aside), or None without any."""
    return max((s.grade for s in steps if not s.copy), key=lambda g: g.rank, default=None)


def sign_items(entries: Iterable[Entry], next_cutoff: Callable[[Item], date | None]) -> list[tuple[int, date]]:
    """The (milestone, occurrence) a reminder asks its department to sign for: the items it
    leads that are overdue, urged, or due by their plan's next cutoff."""
    out: dict[tuple[int, date], None] = {}
    for e in entries:
        if e.role != Role.LEAD:
            continue
        it = e.item
        cut = next_cutoff(it)
        if e.section in (Section.OVERDUE, Section.URGED) or (
                e.section in (Section.CUTOFF, Section.UPCOMING) and (cut is None or it.occurrence <= cut)):
            out[(it.milestone_id, it.occurrence)] = None
    return list(out)
