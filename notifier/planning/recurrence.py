"""Occurrences of a recurring milestone within its plan period. Pure."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date


def occurrences(rule: str, starts_on: date, ends_on: date) -> list[date]:
    """``monthly:25`` -> the 25th of every month; ``quarterly`` -> each quarter's end;
    ``semiannual`` -> June 30 and December 31. Only dates inside the period."""
    if rule.startswith("monthly:"):
        day = int(rule.split(":", 1)[1])
        months: Sequence[int] = range(1, 13)
    elif rule == "quarterly":
        day, months = 0, (3, 6, 9, 12)
    elif rule == "semiannual":
        day, months = 0, (6, 12)
    else:
        raise ValueError(f"unknown recurrence {rule!r}")
    out = []
    for year in range(starts_on.year, ends_on.year + 1):
        for m in months:
            last = calendar.monthrange(year, m)[1]
            d = date(year, m, min(day, last) if day else last)
            if starts_on <= d <= ends_on:
                out.append(d)
    return out
