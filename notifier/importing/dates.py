"""Date phrases of Chinese plans -> dates. Pure functions, no I/O.

(Minimal first version: ISO dates and ``YYYY年M月(底|末)前`` / ``M月底前`` / ``YYYY年末``.
The full grammar of domain.md lives here too.)
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DatePhrase:
    due: date
    phrase: str  # the matched words
    start: int  # span in the searched text
    end: int
    recurrence: str | None = None  # see importing.model.MilestoneSpec


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_ISO = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s*$")
_YM = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(?:(\d{1,2})日|底|末)?前?")
_YEAR_END = re.compile(r"(\d{4})年(?:末|底)前?")


def find_dates(text: str, default_year: int) -> list[DatePhrase]:
    """Every date phrase in ``text``, in order; a missing year is inherited from the
    nearest earlier phrase, else ``default_year``."""
    found: list[DatePhrase] = []
    year = default_year
    taken: list[tuple[int, int]] = []
    for m in _YEAR_END.finditer(text):
        found.append(DatePhrase(date(int(m[1]), 12, 31), m[0], m.start(), m.end()))
        taken.append(m.span())
    for m in _YM.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        found.append(_ym(m, year))
    found.sort(key=lambda d: d.start)
    out = []
    for d in found:
        if d.phrase[:4].isdigit():
            year = d.due.year
        elif d.due.year != year:
            d = DatePhrase(d.due.replace(year=year) if d.due.month != 2 else d.due, d.phrase, d.start, d.end)
        out.append(d)
    return out


def _ym(m: re.Match[str], year: int) -> DatePhrase:
    y = int(m[1]) if m[1] else year
    month = int(m[2])
    due = date(y, month, int(m[3])) if m[3] else month_end(y, month)
    return DatePhrase(due, m[0], m.start(), m.end())


def parse_due_cell(text: str, default_year: int) -> list[DatePhrase]:
    """The due column of a task table: an ISO date or one or more date phrases."""
    m = _ISO.match(text)
    if m:
        d = date(int(m[1]), int(m[2]), int(m[3]))
        return [DatePhrase(d, text.strip(), 0, len(text))]
    return find_dates(text, default_year)
