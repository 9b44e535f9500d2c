"""Checks every reader's ``PlanSpec`` passes before it is shown or stored.

Each check is one named step over the finished spec, so every reader (table, text, docx)
gets the same guarantees: no control characters, task numbers unique (the database
requires it), names and numbers of bounded length, and a warning for a date far outside
the plan period (``0001-01-01`` is a typo, not a deadline). A check either fixes the spec
and says so with a warning, or raises ``PlanFormatError`` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from notifier.importing.encoding import strip_controls
from notifier.importing.limits import (
    DATE_SLACK_YEARS,
    MAX_DEPARTMENTS_PER_CELL,
    MAX_NAME_CHARS,
    MAX_NUMBER_CHARS,
    MAX_PLAN_NAME_CHARS,
)
from notifier.importing.model import PlanFormatError, PlanSpec, Problem, TaskSpec
from notifier.terms import ROLES  # also the names of TaskSpec's unit lists


def _where(task: TaskSpec) -> str:
    return f"line {task.line}" if task.line else f"task {task.number}"


def without_controls(plan: PlanSpec) -> None:
    """Strip control characters from every text field (they would forge log lines and
    break the .xlsx export)."""
    plan.name = strip_controls(plan.name)
    plan.doc_number = strip_controls(plan.doc_number) if plan.doc_number else plan.doc_number
    plan.issuer = strip_controls(plan.issuer) if plan.issuer else plan.issuer
    for task in plan.tasks:
        task.number, task.title, task.text = (strip_controls(task.number),
                                              strip_controls(task.title), strip_controls(task.text))
        for role in ROLES:
            setattr(task, role, [strip_controls(n) for n in getattr(task, role)])
        for m in task.milestones:
            m.text, m.phrase = strip_controls(m.text), strip_controls(m.phrase)


def bounded_names(plan: PlanSpec) -> None:
    """Plan name, task numbers, department names and lists stay within their limits."""
    if len(plan.name) > MAX_PLAN_NAME_CHARS:
        raise PlanFormatError(f"the plan's name has {len(plan.name)} characters (the limit is "
                              f"{MAX_PLAN_NAME_CHARS}); give a shorter one with --plan")
    # The columns' sizes: PostgreSQL refuses a longer value (SQLite would store it).
    for what, value, limit in (("文号", plan.doc_number, 100), ("issuer", plan.issuer, 200)):
        if value and len(value) > limit:
            raise PlanFormatError(f"the plan's {what} has {len(value)} characters (the limit is "
                                  f"{limit}): {value[:30]}…")
    for task in plan.tasks:
        if len(task.number) > MAX_NUMBER_CHARS:
            raise PlanFormatError(f"{_where(task)}: a task number of {len(task.number)} characters "
                                  f"(the limit is {MAX_NUMBER_CHARS}): {task.number[:20]}…")
        for role in ROLES:
            names = getattr(task, role)
            if len(names) > MAX_DEPARTMENTS_PER_CELL:
                raise PlanFormatError(f"{_where(task)}: task {task.number} lists {len(names)} {role} "
                                      f"departments (the limit is {MAX_DEPARTMENTS_PER_CELL})")
            for name in names:
                if len(name) > MAX_NAME_CHARS:
                    raise PlanFormatError(
                        f"{_where(task)}: a department name of {len(name)} characters (the limit is "
                        f"{MAX_NAME_CHARS}): {name[:30]}…")


_ORDINAL = re.compile(r"^\s*(?:第)?[(]?([一二三四五六七八九十百]+)[)、.]?")


def unique_numbers(plan: PlanSpec) -> None:
    """Task numbers are unique within a plan. A number used again under a new heading is a
    numbering that restarts per section (一、… 1. 2. 二、… 1. 2.): the section's tasks get
    its ordinal in front, ``二1`` as the text reader numbers them, with a warning. A number
    used twice in one section is a mistake in the document: an error naming both lines."""
    first: dict[str, TaskSpec] = {}
    prefixes: dict[str, str] = {}
    for task in plan.tasks:
        if task.section in prefixes:
            task.number = prefixes[task.section] + task.number
        elif task.number in first and task.section and task.section != first[task.number].section:
            m = _ORDINAL.match(task.section)
            prefix = m[1] if m else f"{len(prefixes) + 2}."
            prefixes[task.section] = prefix
            plan.warnings.append(Problem(task.line, (
                f"task numbering restarts under the heading {task.section[:30]!r}: its tasks are "
                f"numbered {prefix}{task.number}, {prefix}…")))
            task.number = prefix + task.number
        if task.number in first:
            other = first[task.number]
            raise PlanFormatError(
                f"{_where(task)}: task number {task.number} is used twice (first at "
                f"{_where(other)}); number the tasks uniquely")
        first[task.number] = task


def dates_near_period(plan: PlanSpec) -> None:
    """A date more than ``DATE_SLACK_YEARS`` years outside the plan period is a warning:
    it imports (the office may mean it), but ``0001-01-01`` or ``9999-12-31`` is seen."""
    low = _shift_years(plan.starts_on, -DATE_SLACK_YEARS)
    high = _shift_years(plan.ends_on, DATE_SLACK_YEARS)
    for task in plan.tasks:
        for m in task.milestones:
            if not low <= m.due <= high:
                plan.warnings.append(Problem(m.line or task.line, (
                    f"task {task.number}: the date {m.due} is more than {DATE_SLACK_YEARS} years "
                    f"outside the plan period {plan.starts_on}..{plan.ends_on}; check it")))


def _shift_years(day: date, years: int) -> date:
    year = min(max(day.year + years, date.min.year), date.max.year)
    return day.replace(year=year, day=min(day.day, 28))


CHECKS: tuple[Callable[[PlanSpec], None], ...] = (
    without_controls, bounded_names, unique_numbers, dates_near_period)


def check_plan(plan: PlanSpec) -> PlanSpec:
    """Run every check on ``plan`` (in place) and return it."""
    for check in CHECKS:
        check(plan)
    return plan
