"""China's working calendar: which days a reminder may go out on. Pure.

Seeded from the ``chinesecalendar`` package (it knows the State Council's holidays and
make-up working days, 调休), overridden by the admin's ``[calendar]`` lists. For a year
the package does not know yet, we fall back to Monday-Friday and say so (``warnings``),
rather than crash or guess silently.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


@lru_cache(maxsize=1)
def _package_years() -> frozenset[int]:
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - a dependency, but degrade rather than die
        return frozenset()
    return frozenset(d.year for d in chinese_calendar.holidays) & frozenset(
        d.year for d in chinese_calendar.workdays)


@lru_cache(maxsize=8192)
def _package_is_workday(day: date) -> bool:
    # chinese_calendar validates every date against min()/max() of its whole table (~80 µs);
    # overdue cycles ask about the same few hundred days again and again.
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    use_package: bool = True

    @classmethod
    def from_config(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> WorkCalendar:
        return cls(frozenset(holidays), frozenset(workdays))

    def knows(self, year: int) -> bool:
        """True when the official holidays of ``year`` are known (package data)."""
        return self.use_package and year in _package_years()

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.knows(day.year):
            return _package_is_workday(day)
        return day.weekday() < 5

    def on_or_before(self, day: date) -> date:
        """The working day a reminder planned for ``day`` goes out on."""
        for _ in range(40):
            if self.is_workday(day):
                return day
            day -= timedelta(days=1)
        return day

    def on_or_after(self, day: date) -> date:
        for _ in range(40):
            if self.is_workday(day):
                return day
            day += timedelta(days=1)
        return day

    def add_workdays(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``day`` itself need not be one)."""
        for _ in range(n):
            day = self.on_or_after(day + timedelta(days=1))
        return day

    def warnings(self, years: Iterable[int]) -> list[str]:
        return [f"no official holiday data for {y}: reminders that year use Monday-Friday "
                f"(add [calendar] holidays/workdays, or upgrade chinesecalendar)"
                for y in sorted(set(years)) if not self.knows(y)]
