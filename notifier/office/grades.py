"""The grade ladder (督办单: 蓝 提醒 -> 黄 催办 -> 红 督办), as a pure function of an item, its
facts, the rules and ``today``. The ledger's light and the messages' step-ups both read it.

Each grade is a named step, tried from the most severe down; the first that holds wins:

- 红 (督办) ``overdue``: its date has passed and it is not reported done;
- 黄 (催办) ``behind``: a reminder asked for 签收 and nobody signed by its ``sign_by``
  (``unsigned``); or the progress report asked for at the last cutoff is missing
  (``missed_cutoff_report``); or, when ``[grades] silent_workdays`` is set, that many working
  days went by without any answer (``silent``, off by default);
- 蓝 (提醒) ``due_soon``: it has entered its lead window: from the working day its
  ``[grades] lead_days`` reminder goes out (a weekend moves it earlier, as the reminder) to its date;
- 绿 otherwise (done items are 绿 too).

Yellow ranks above blue: an item both near its date and behind is shown as behind, since that
is what the office must act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from notifier.config import GradesConfig
from notifier.planning.calendar import month_end
from notifier.terms import Light  # the grade; its words and colours live with it


@dataclass(frozen=True)
class GradeItem:
    due: date  # for a recurring report: its earliest occurrence not yet done
    done: bool
    answers: tuple[date, ...] = ()  # local dates of every answer: progress notes and done marks
    since: date | None = None  # when the office started to follow it (plan start or import); silence counts from here
    sign_by: date | None = None  # the earliest deadline of a 签收 request still not signed for


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


def unsigned(item: GradeItem, c: Context) -> bool:
    """A reminder asked for 签收 and the day to sign by has passed."""
    return not item.done and item.sign_by is not None and item.sign_by < c.today


BEHIND: tuple[tuple[str, Callable[[GradeItem, Context], bool]], ...] = (
    ("未按时签收", unsigned),
    ("未按时报送进展", missed_cutoff_report),
    ("长期未反馈", silent),
)


def behind_reason(item: GradeItem, c: Context) -> str:
    """Why the item is 黄 (the words a 催办 gives), or "" when it is not behind."""
    return next((why for why, holds in BEHIND if holds(item, c)), "")


def behind(item: GradeItem, c: Context) -> bool:
    return bool(behind_reason(item, c))


def due_soon(item: GradeItem, c: Context) -> bool:
    """Inside the lead window: from the working day of the ``lead_days`` reminder on."""
    if item.done or item.due < c.today:
        return False
    opens = item.due - timedelta(days=c.rules.lead_days)
    for _ in range(40):  # as WorkCalendar.on_or_before: the reminder goes out on the working day before
        if c.is_workday(opens):
            break
        opens -= timedelta(days=1)
    return opens <= c.today


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
