"""Date phrases of Chinese plans -> dates. Pure functions, no I/O.

The grammar is the one of docs/domain.md "Date phrases":

- days and months: ``2018年5月10日``, ``9月30日前``, ``2018年6月底前``, ``12月末前``,
  ``十二月底前``, ``7月中旬``, ISO ``2018-06-30``;
- years: ``2017年末``, ``2025年底``, ``至2025年底``, ``到2020年``, ``二〇二〇年``,
  ``2019年达到73%`` (a bare year is its end), ``年底前``, ``年内``;
- parts of a year: ``上半年`` (June 30), ``下半年``, ``三季度末`` / ``第三季度``,
  ``一季度末``;
- recurring: ``每季度`` (quarterly), ``每月25日前`` (monthly:25), ``每半年``
  (semiannual);
- lists sharing a year: ``于2019年4月15日、7月15日、10月15日及2020年1月15日前``.

A phrase without a year takes the year of the nearest earlier phrase that has one,
else the default year. The input is expected to be normalized
(``encoding.normalize_text``); full-width digits are still read here for callers that
pass raw cells.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date

from notifier.importing.encoding import normalize_text


@dataclass(frozen=True)
class DatePhrase:
    due: date
    phrase: str  # the matched words
    start: int  # span in the searched text
    end: int
    recurrence: str | None = None  # see importing.model.MilestoneSpec
    year_given: bool = False  # the phrase printed its own year (it then sets the year)


@dataclass(frozen=True)
class BadDate:
    """Words that look like a date but are not one (``2018年13月``, ``6月31日``)."""

    phrase: str
    start: int
    end: int
    reason: str


class DateError(ValueError):
    """A due cell that cannot be read; ``str()`` is ``cannot read date "…"``."""


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def quarter_end(year: int, quarter: int) -> date:
    return month_end(year, quarter * 3)


def last_occurrence(recurrence: str, ends_on: date) -> date:
    """The last date of a recurring milestone on or before ``ends_on`` (the plan end).

    ``MilestoneSpec.due`` of a recurring report is this date; ``planning`` expands
    the earlier occurrences. ``monthly:31`` means each month's last day.
    """
    y, m = ends_on.year, ends_on.month
    if recurrence.startswith("monthly:"):
        day = int(recurrence.split(":", 1)[1])
        d = min(day, calendar.monthrange(y, m)[1])
        if date(y, m, d) > ends_on:
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
            d = min(day, calendar.monthrange(y, m)[1])
        return date(y, m, d)
    months = {"quarterly": (3, 6, 9, 12), "semiannual": (6, 12)}[recurrence]
    for yy in (y, y - 1):
        for mm in reversed(months):
            if month_end(yy, mm) <= ends_on:
                return month_end(yy, mm)
    raise ValueError(f"no occurrence of {recurrence} before {ends_on}")


# --- numbers --------------------------------------------------------------------
_CN_DIGIT = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "〇零○一二两三四五六七八九十"


def cn_number(s: str) -> int:
    """``12``, ``十二``, ``二十五``, ``三十``, ``二〇二〇`` (digit by digit) -> int."""
    s = normalize_text(s)
    if s.isdigit():
        return int(s)
    if "十" not in s:  # a year written digit by digit: 二〇二〇
        n = 0
        for ch in s:
            n = n * 10 + _CN_DIGIT[ch]
        return n
    tens, _, ones = s.partition("十")
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


# --- the grammar ------------------------------------------------------------------
_Y = r"(?P<y>(?<![\d.])\d{4}|[〇零○一二三四五六七八九]{4})\s*年"
_M = r"(?P<m>\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月"
_D = r"(?P<d>\d{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])\s*[日号]"
_BEFORE = r"(?:以前|之前|前)?"
_LEAD = r"(?P<lead>(?:截至|截止到|截止|直至|至|到|于|在)\s*)?"
_NOT_NUM = r"(?<![\d.〇零○一二两三四五六七八九十个每/第])"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # ISO and slashed dates, as tables and web pages print them.
    ("iso", re.compile(r"(?<![\d.])(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})(?![\d])")),
    # Recurring reports: each quarter, each month (by a day), each half year.
    ("every_month", re.compile(r"(?:每个?月|按月)(?:\s*" + _D + r"|(?P<end>底|末))?" + _BEFORE)),
    ("every_quarter", re.compile(r"(?:每个?季度?|按季度?)(?!度)(?:末|底)?" + _BEFORE)),
    ("every_half", re.compile(r"每半年" + _BEFORE)),
    # Year ranges: a period, read as its end (2018—2020年).
    ("range", re.compile(_LEAD + r"(?<![\d.])(?P<y0>\d{4})\s*年?\s*[—–\-~～至到]{1,2}\s*"
                         r"(?P<y>\d{4})\s*年(?P<end>底|末)?" + _BEFORE)),
    # Day or month, with or without a year.
    # A month range (2018年1-6月) is read as its last month.
    ("month", re.compile(_LEAD + r"(?:" + _Y + r"\s*)?" + r"(?:(?<![\d.])\d{1,2}\s*[-—–~至到]\s*)?"
                         + _NOT_NUM + _M
                         + r"(?:\s*" + _D + r"|\s*(?P<part>上旬|中旬|下旬|底|末|份))?" + _BEFORE)),
    # A year with a part: 年底, 上半年, 三季度.
    ("year", re.compile(_LEAD + _Y
                        + r"(?:(?P<end>底|末|年底|年末|内|全年)|(?P<half>上半年|下半年)"
                        r"|第?(?P<q>[一二三四1-4])季度(?:末|底)?)?" + _BEFORE)),
    # Parts of a year without the year: 年底前, 上半年, 三季度末.
    ("part", re.compile(r"(?<![\d〇零○一二两三四五六七八九十每各全明去])"
                        r"(?:(?P<end>年底|年末|年内)|(?P<half>上半年|下半年)"
                        r"|(?:前|第)?(?P<q>[一二三四1-4])季度(?:末|底)?)" + _BEFORE)),
]

# After a bare ``2018年`` these say it is not a deadline: 2018年度 (a label),
# (2017年本) (an edition), 2010年以来 / 2019年起 (a starting point).
# After any date these say it is a starting point: 自2019年1月1日起, 3月开始.
_STARTS = re.compile(r"\s*(?:起|开始|以来)")
_BARE_YEAR_NOT = re.compile(r"\s*(?:度|本|版|以来|来|起|开始|的|以前|前后)")


def scan_dates(text: str, default_year: int) -> tuple[list[DatePhrase], list[BadDate]]:
    """Every date phrase in ``text`` in order, and the date-like words that are not
    dates. A phrase inside 《…》 is part of a document title and is skipped."""
    titles = [m.span() for m in re.finditer(r"《[^《》]*》", text)]
    cands: list[tuple[int, int, str, re.Match[str]]] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(text):
            if m.end() > m.start() and not any(s <= m.start() < e for s, e in titles):
                cands.append((m.start(), -(m.end() - m.start()), kind, m))
    cands.sort(key=lambda c: (c[0], c[1]))
    found: list[DatePhrase] = []
    bad: list[BadDate] = []
    year = default_year
    taken_to = -1
    for start, _neg, kind, m in cands:
        if start < taken_to:
            continue
        try:
            d = _read(kind, m, year, text)
        except ValueError as exc:
            bad.append(BadDate(m[0].strip(), m.start(), m.end(), str(exc)))
            taken_to = m.end()
            continue
        if d is None:
            continue
        taken_to = m.end()
        if d.year_given:
            year = d.due.year
        if not d.recurrence and _STARTS.match(text, m.end()):
            continue  # 自2019年1月1日起: when something starts, not a deadline
        found.append(d)
    return found, bad


def find_dates(text: str, default_year: int) -> list[DatePhrase]:
    """Every date phrase in ``text``, in order; a missing year is inherited from the
    nearest earlier phrase, else ``default_year``. Unreadable ones are left out (see
    ``scan_dates`` to get them)."""
    return scan_dates(text, default_year)[0]


def _read(kind: str, m: re.Match[str], year: int, text: str) -> DatePhrase | None:
    g = m.groupdict()
    phrase = m[0].strip()
    start = m.start() + (len(m[0]) - len(m[0].lstrip()))
    y_txt = g.get("y")
    y = cn_number(y_txt) if y_txt else year
    given = bool(y_txt)
    if given and not 1900 <= y <= 2100:
        if kind in ("year", "range"):
            return None  # 3000年? a quantity, not a year
        raise ValueError(f"year {y} out of range")

    def make(due: date, recurrence: str | None = None) -> DatePhrase:
        return DatePhrase(due, phrase, start, m.end(), recurrence, given)

    if kind == "iso":
        return make(_date(y, int(g["m"]), int(g["d"])))
    if kind == "every_month":
        day = 31 if g.get("end") or not g.get("d") else cn_number(g["d"])
        if not 1 <= day <= 31:
            raise ValueError(f"no day {day} in a month")
        rec = f"monthly:{day}"
        return make(last_occurrence(rec, date(year, 12, 31)), rec)
    if kind == "every_quarter":
        return make(date(year, 12, 31), "quarterly")
    if kind == "every_half":
        return make(date(year, 12, 31), "semiannual")
    if kind == "range":
        if int(g["y0"]) > y:
            raise ValueError("the range ends before it starts")
        return make(date(y, 12, 31))
    if kind == "month":
        month = cn_number(g["m"])
        if not 1 <= month <= 12:
            raise ValueError(f"no month {month}")
        if g.get("d"):
            return make(_date(y, month, cn_number(g["d"])))
        part = g.get("part")
        if part == "上旬":
            return make(date(y, month, 10))
        if part == "中旬":
            return make(date(y, month, 20))
        return make(month_end(y, month))
    # "year" and "part"
    if g.get("half"):
        return make(date(y, 6, 30) if g["half"] == "上半年" else date(y, 12, 31))
    if g.get("q"):
        return make(quarter_end(y, cn_number(g["q"])))
    if kind == "year" and not g.get("end") and not g.get("lead") and _BARE_YEAR_NOT.match(text, m.end()):
        return None
    return make(date(y, 12, 31))


def _date(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise ValueError(f"no such day {y}-{m}-{d}") from None


_ISO_CELL = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:00:00(?::00)?)?\s*$")
# Words that say "no fixed date": the milestone is due at the plan's end.
NO_DATE_WORDS = ("长期", "持续", "常态", "阶段性", "逐步", "按要求", "按进度", "按计划", "全年", "年度")
# Date-like words that the grammar did not read make a cell unreadable.
_DATE_LIKE = re.compile(r"\d\s*[年月日]|[年月]\s*\d|[一二三四五六七八九十]\s*月|季度|半年|年底|年末|年内")


def parse_due_cell(text: str, default_year: int) -> list[DatePhrase]:
    """The due column of a task table: an ISO date or one or more date phrases.

    An empty cell or one that says "no fixed date" (``长期坚持``) gives ``[]``; a cell
    with date-like words that do not read as dates raises ``DateError``.
    """
    raw = text
    text = normalize_text(text or "").strip()
    if not text:
        return []
    m = _ISO_CELL.match(text)
    if m:
        try:
            d = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise DateError(f'cannot read date "{raw.strip()}"') from None
        return [DatePhrase(d, text, 0, len(text), None, True)]
    found, bad = scan_dates(text, default_year)
    if bad:
        raise DateError(f'cannot read date "{raw.strip()}"')
    if not found:
        if _DATE_LIKE.search(text) or not any(w in text for w in NO_DATE_WORDS):
            raise DateError(f'cannot read date "{raw.strip()}"')
        return []
    return found


def with_year(phrase: DatePhrase, year: int) -> DatePhrase:
    """The same phrase read in another year (a yearless phrase re-based)."""
    if phrase.year_given or phrase.recurrence:
        return phrase
    d = phrase.due
    day = min(d.day, calendar.monthrange(year, d.month)[1])
    return replace(phrase, due=date(year, d.month, day))


# Five-year plans by name: “十四五” is 2021–2025.
_FIVE_YEAR_PLANS = {"十一五": 2006, "十二五": 2011, "十三五": 2016, "十四五": 2021, "十五五": 2026}


def five_year_span(title: str) -> tuple[int, int] | None:
    """``四川省“十四五”现代流通体系建设实施方案`` -> (2021, 2025)."""
    for name, first in _FIVE_YEAR_PLANS.items():
        if name in title:
            return first, first + 4
    return None
