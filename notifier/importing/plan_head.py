"""The head of a plan text: its title, 文号, issuer and issue date, and the plan's period.

The period comes from the title first (``2017—2020年``, the ``(2018—2020年)`` line under a
title, ``“十四五”``, ``2023年``), then the 文号's year, then the issue date, then the years
the deadlines print: a target in the body (``到2030年``) never sets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from notifier.importing.dates import cn_number, five_year_span
from notifier.importing.notes import LABEL
from notifier.importing.table import plan_period
from notifier.importing.text_lines import CHAPTER, CLUTTER, GROUP, ITEM

_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{2,8})\s*[〔\[【(]\s*(\d{4})\s*[〕\]】)]\s*(\d{1,4})\s*号")
_NOTICE = re.compile(r"^(?:.*?号\s*)?(?P<issuer>[^\s:]*?)关于(?:印发|转发|下发)(?P<name>.+?)的通知$")
_DATE_LINE = re.compile(r"^([\d〇零○一二三四五六七八九]{4})\s*年\s*([\d一二三四五六七八九十]{1,3})\s*月"
                        r"\s*([\d一二三四五六七八九十]{1,3})\s*日$")
_PLAN_WORDS = re.compile(r"(?:方案|计划|规划|要点|意见|安排|清单|任务分解表|措施|分解表|一览表|情况表|"
                         r"工作事项|责任分解|执行情况|任务分解|任务分工|工作分工)(?:\([^()]*\))?$")
_PERIOD_LINE = re.compile(r"^\(\s*\d{4}\s*[—–\-~～至到]{1,2}\s*\d{4}\s*年?\s*\)$")
_ISSUER_END = re.compile(r"(?:人民政府|政府办公室|政府办公厅|办公室|办公厅|委员会|政府|局|厅|委)$")


@dataclass
class Meta:
    name: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    issued_on: date | None = None
    title_line: int | None = None


def _cited(line: str, m: re.Match[str]) -> bool:
    """``根据《…方案》(运政办发〔2016〕76号)``: the number of a document the plan cites,
    not the plan's own."""
    return line[:m.start()].rstrip(" (").endswith("》")


def read_meta(lines: list[str]) -> Meta:
    meta = Meta()
    head = lines[:60]
    for m in (m for ln in head for m in _DOC_NUMBER.finditer(ln) if not _cited(ln, m)):
        meta.doc_number = f"{m[1]}〔{m[2]}〕{m[3]}号"
        break
    for ln in head:
        notice = _NOTICE.match(re.sub(r"^标\s*题\s*:\s*", "", ln.strip()))
        if notice:
            meta.name = notice["name"].strip().strip("《》")
            issuer = _DOC_NUMBER.sub("", notice["issuer"]).strip()
            meta.issuer = issuer or None
            break
    for i, ln in enumerate(head):
        dated = _DATE_LINE.match(ln.strip())
        if dated:
            try:
                meta.issued_on = date(cn_number(dated[1]), cn_number(dated[2]), cn_number(dated[3]))
            except (ValueError, KeyError):
                continue
            prev = next((p.strip() for p in reversed(head[:i]) if p.strip()), "")
            if _ISSUER_END.search(prev) and len(prev) <= 30:
                meta.issuer = prev
            break
    for i, ln in enumerate(lines[:80]):
        s = ln.strip()
        if CHAPTER.match(s) or GROUP.match(s) or ITEM.match(s) or LABEL.search(s):
            break  # the outline has begun: a title comes before it
        nxt = next((x.strip() for x in lines[i + 1:i + 3] if x.strip()), "")
        if s and _PERIOD_LINE.match(nxt):  # 三年行动计划 / (2018—2020年) on the next line
            s += nxt
        for more in lines[i + 1:i + 3] if s.startswith("《") else []:
            if "》" in s:
                break
            s += more.strip()  # 《2023年省〈政府工作报告〉 / 工作任务分工方案》
        if s.startswith("《") and s.endswith("》"):
            s = s[1:-1]
        if (s and len(s) <= 60 and _PLAN_WORDS.search(s) and not CLUTTER.search(s)
                and not s.startswith(("关于", "《")) and "》" not in s and not s.endswith(".docx")):
            better = re.search(r"\d{4}", s) and not re.search(r"\d{4}", meta.name or "")
            if meta.name is None or s == meta.name or meta.title_line is None or better:
                meta.title_line = i
                meta.name = s if (meta.name is None or better) else meta.name
                if s == meta.name and re.search(r"\d{4}|[十]\S五", s):
                    break
    return meta


def period_of(name: str, year: int | None, meta: Meta,
              due_years: list[str]) -> tuple[int, date, date] | None:
    """The plan's (year, start, end): its title (2017—2020年, “十四五”, 2023年), else its
    文号's year, else the day it was issued, else the years its deadlines print. Targets
    in the body (到2030年) never widen it."""
    span = five_year_span(name or "")
    if span and not re.search(r"\d{4}", name):
        y0, y1 = span
        if year is None or y0 <= year <= y1:
            return (year or y0), date(y0, 1, 1), date(y1, 12, 31)
    stated = []
    if meta.doc_number:
        stated.append(meta.doc_number[meta.doc_number.index("〔") + 1:][:4] + "年")
    elif meta.issued_on:
        stated.append(f"{meta.issued_on.year}年")
    return plan_period(name or "", year, stated or due_years)
