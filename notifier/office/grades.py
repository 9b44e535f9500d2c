"""The ledger's traffic lights, as a pure function of an item, the rules and ``today``.

Each light is a named step, tried from the most severe down; the first that holds wins:

- 红 ``overdue``: its date has passed and it is not reported done;
- 黄 ``behind``: the progress report asked for at the last cutoff is missing, or it has gone
  ``[grades] silent_workdays`` working days without any answer (progress or done);
- 蓝 ``due_soon``: due within ``[grades] lead_days`` days and not reported done;
- 绿 otherwise (done items are 绿 too).

Yellow ranks above blue: an item both near its date and behind is shown as behind, since that
is what the office must act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from notifier.config import GradesConfig
from notifier.planning.schedule import month_end


class Light(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    BLUE = "blue"
    GREEN = "green"

    @property
    def label(self) -> str:
        return {"red": "红", "yellow": "黄", "blue": "蓝", "green": "绿"}[self.value]

    @property
    def meaning(self) -> str:
        return {"red": "逾期", "yellow": "滞后", "blue": "临期", "green": "正常"}[self.value]

    @property
    def rgb(self) -> str:
        """The fill colour of the light, in the ledger page and the xlsx."""
        return {"red": "F4B6B6", "yellow": "FBE7A1", "blue": "B9D7F4", "green": "C6E8C6"}[self.value]


@dataclass(frozen=True)
class GradeItem:
    due: date  # for a recurring report: its earliest occurrence not yet done
    done: bool
    answers: tuple[date, ...] = ()  # local dates of every answer: progress notes and done marks
    since: date | None = None  # when the office started to follow it (plan start or import); silence counts from here


@dataclass(frozen=True)
class Context:
    today: date
    rules: GradesConfig
    cutoffs: tuple[date, ...]  # the supervision cutoffs of the item's plan
    is_workday: Callable[[date], bool]


def overdue(item: GradeItem, c: Context) -> bool:
    return not item.done and item.due < c.today


def missed_cutoff_report(item: GradeItem, c: Context) -> bool:
    """At the last cutoff before today the item was open and not yet due, so its lead was asked
    to report progress; no answer came from ``cutoff_answer_days`` before that cutoff on."""
    last = max((x for x in c.cutoffs if x < c.today), default=None)
    if last is None or item.done or item.due <= last or (item.since and item.since > last):
        return False
    window = last - timedelta(days=c.rules.cutoff_answer_days)
    return not any(a >= window for a in item.answers)


def silent(item: GradeItem, c: Context) -> bool:
    """No answer for ``silent_workdays`` working days (counted from the last answer, or from
    ``since`` when none came)."""
    n = c.rules.silent_workdays
    if item.done or n <= 0:
        return False
    last = max(item.answers, default=item.since)
    if last is None:
        return False
    return workdays_between(last, c.today, c.is_workday, stop_at=n) >= n


def behind(item: GradeItem, c: Context) -> bool:
    return missed_cutoff_report(item, c) or silent(item, c)


def due_soon(item: GradeItem, c: Context) -> bool:
    return not item.done and 0 <= (item.due - c.today).days <= c.rules.lead_days


STEPS: tuple[tuple[Light, Callable[[GradeItem, Context], bool]], ...] = (
    (Light.RED, overdue),
    (Light.YELLOW, behind),
    (Light.BLUE, due_soon),
)


def grade(item: GradeItem, c: Context) -> Light:
    """The light of one item at ``c.today``."""
    for light, holds in STEPS:
        if holds(item, c):
            return light
    return Light.GREEN


def workdays_between(after: date, until: date, is_workday: Callable[[date], bool], stop_at: int) -> int:
    """Working days in (after, until], counting no further than ``stop_at``."""
    n, day = 0, after
    while day < until and n < stop_at:
        day += timedelta(days=1)
        n += is_workday(day)
    return n


def plan_cutoffs(starts_on: date, ends_on: date, months: Iterable[int]) -> tuple[date, ...]:
    """The cutoff dates (ends of the cutoff months) within a plan's span."""
    out = [month_end(y, m) for y in range(starts_on.year, ends_on.year + 1) for m in sorted(set(months))]
    return tuple(d for d in out if starts_on <= d <= ends_on)
