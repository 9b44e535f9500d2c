"""The 通报: per lead department, the items due in a period, done on time, done late, overdue,
the on-time rate and the rank, with the list of overdue items. Pure: items and ``today`` in.

A period is a month (``period=2018-06``: items due within June 2018) or a cutoff
(``cutoff=2018-06-30``: items due on or before that day, from the start of its plan year).
Each item is a milestone date (one occurrence of a recurring report counts once). It is
counted as the office knows it when the 通报 is made (``today``): done on or before its date
is on time, done after it is late, still open after its date is overdue; an item whose date
is today or later and still open is neither (it is "in progress").

Rank: by on-time rate (highest first), then fewer overdue items, then more items due;
departments equal on all three share a rank. A department with nothing due is listed, unranked.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from notifier.office.ledger import Item


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: date | None  # None: from each item's plan start
    end: date
    label: str
    param: str  # period=… or cutoff=…

    @classmethod
    def month(cls, text: str) -> Period:
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise PeriodError(f"period: write a month like 2018-06, got {text!r}")
        y, mo = int(m.group(1)), int(m.group(2))
        return cls(date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1]), f"{y}年{mo}月",
                   f"period={y}-{mo:02d}")

    @classmethod
    def cutoff(cls, text: str) -> Period:
        try:
            d = date.fromisoformat(text.strip())
        except ValueError:
            raise PeriodError(f"cutoff: write a date like 2018-06-30, got {text!r}") from None
        return cls(None, d, f"截至{d.year}年{d.month}月{d.day}日", f"cutoff={d.isoformat()}")

    def covers(self, it: Item) -> bool:
        if it.due > self.end:
            return False
        return it.due >= (self.start or date(self.end.year, 1, 1))


@dataclass
class DepartmentLine:
    name: str
    due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    rank: int | None = None
    overdue_items: list[Item] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


@dataclass(frozen=True)
class Report:
    period: Period
    made_on: date
    lines: list[DepartmentLine]

    @property
    def totals(self) -> DepartmentLine:
        t = DepartmentLine("合计")
        for x in self.lines:
            t.due, t.on_time = t.due + x.due, t.on_time + x.on_time
            t.late, t.overdue = t.late + x.late, t.overdue + x.overdue
        return t


def build_report(items: list[Item], period: Period, today: date) -> Report:
    lines: dict[str, DepartmentLine] = {}
    for it in items:
        if not period.covers(it) or it.due > today:
            continue
        for name in it.names("lead"):
            line = lines.setdefault(name, DepartmentLine(name))
            line.due += 1
            if it.done_on is not None:  # done
                if it.done_on <= it.due:
                    line.on_time += 1
                else:
                    line.late += 1
            elif it.due < today:
                line.overdue += 1
                line.overdue_items.append(it)
    ordered = sorted(lines.values(), key=lambda x: (_rank_key(x), x.name))
    rank, previous = 0, None
    for i, line in enumerate(ordered, 1):
        if line.due == 0:
            continue
        if _rank_key(line) != previous:
            rank, previous = i, _rank_key(line)
        line.rank = rank
        line.overdue_items.sort(key=lambda it: (it.due, it.plan_id, it.task_number))
    return Report(period, today, ordered)


def _rank_key(line: DepartmentLine) -> tuple:
    rate = line.on_time_rate
    return (rate is None, -(rate or 0.0), line.overdue, -line.due)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
