"""Task tables (format D: the 任务分解表 attachment as CSV/XLSX rows) -> PlanSpec.

Pure: rows in, ``PlanSpec`` out. The header row is found by its labels wherever it
sits (titles and notes often come first); there is one row per milestone and empty
task cells carry the value from the row above, which is how a spreadsheet's merged
cells come out in CSV. A row that cannot be read raises ``PlanFormatError`` naming its
row (1-based, as the spreadsheet shows it) and column: a half-imported plan would
send half the reminders, which is worse than none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from notifier.importing.dates import (
    DateError,
    DatePhrase,
    last_occurrence,
    parse_due_cell,
    with_year,
)
from notifier.importing.departments import split_departments, take_lead_marks
from notifier.importing.encoding import normalize_text, strip_controls
from notifier.importing.limits import check_cell
from notifier.importing.model import MilestoneSpec, PlanFormatError, PlanSpec, Problem, TaskSpec

# Column labels, normalized (simplified, no spaces, lower case). The longest label
# that a header cell starts with wins, so 牵头责任单位 is a lead and 协同责任单位 is
# cooperating, not responsible.
_LABELS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号", "no", "no.", "#", "number", "item"),
    "task": ("工作任务", "重点任务", "任务内容", "主要任务", "具体任务", "任务名称", "工作内容",
             "重点工作", "任务", "task", "work"),
    "lead": ("牵头单位", "牵头部门", "牵头责任单位", "牵头责任部门", "牵头", "lead"),
    "responsible": ("责任单位", "责任部门", "主体责任单位", "实施单位", "责任主体",
                    "responsible"),
    "cooperating": ("配合单位", "配合部门", "协办单位", "协同责任单位", "协同单位", "协助单位",
                    "协作单位", "参与单位", "配合", "cooperating", "co-operating",
                    "supporting", "support"),
    "due": ("完成时限", "时间节点", "完成时间", "时限", "时间要求", "完成期限", "进度安排",
            "due", "deadline", "due date"),
    "milestone": ("节点内容", "节点任务", "节点目标", "阶段目标", "milestone"),
    # People, not departments: recognised so that they are never read as one.
    "person": ("牵头负责领导", "牵头领导", "牵头市领导", "牵头县领导", "责任领导", "分管领导",
               "负责领导", "包抓领导", "联系人", "责任人", "leader", "contact"),
}
_TASK_FIELDS = ("number", "task", "lead", "responsible", "cooperating")


@dataclass(frozen=True)
class _Header:
    row: int  # index in rows
    columns: dict[str, int]  # field -> column index
    titles: dict[str, str]  # field -> the header text as printed


# A ``'`` before a formula start is how our export (and any careful one) writes a text
# cell that a spreadsheet must not run; the text is what follows it.
_QUOTED_FORMULA = re.compile(r"^'(?=[=+\-@\t\r])")


def _norm_cell(value: object) -> str:
    text = _QUOTED_FORMULA.sub("", "" if value is None else str(value))
    return strip_controls(normalize_text(text)).strip()


def _field_of(label: str) -> str | None:
    key = re.sub(r"\s+", "", label).lower()
    best: tuple[int, str] | None = None
    for fld, labels in _LABELS.items():
        for lab in labels:
            hit = key == lab if lab.isascii() and len(lab) <= 2 else key.startswith(lab)
            if hit and (best is None or len(lab) > best[0]):
                best = (len(lab), fld)
    return best[1] if best else None


def find_header(rows: list[list[str]]) -> _Header | None:
    """The first row naming a task column and a department column."""
    for i, row in enumerate(rows):
        columns: dict[str, int] = {}
        titles: dict[str, str] = {}
        for j, cell in enumerate(row):
            fld = _field_of(cell) if cell and len(cell) <= 20 else None
            if fld and fld not in columns:
                columns[fld] = j
                titles[fld] = cell
        if "task" in columns and ({"lead", "responsible"} & columns.keys()) and len(columns) >= 3:
            return _Header(i, columns, titles)
    return None


_TITLE_YEAR_RANGE = re.compile(r"(\d{4})\s*年?\s*[—–\-~～至到]{1,2}\s*(\d{4})\s*年")
_TITLE_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
_EXPLICIT_YEAR = re.compile(r"(?<!\d)(\d{4})\s*(?:年|[-/.]\d)")


def plan_period(title: str, year: int | None, texts: list[str]) -> tuple[int, date, date] | None:
    """(year, starts_on, ends_on): ``year`` if given, else the title's years
    (2018—2020年 is a span), else the earliest year printed in ``texts``."""
    rng = _TITLE_YEAR_RANGE.search(title or "")
    if rng and int(rng[1]) <= int(rng[2]):
        y0, y1 = int(rng[1]), int(rng[2])
        if year is None or y0 <= year <= y1:
            return (year or y0), date(y0, 1, 1), date(y1, 12, 31)
    if year is None:
        m = _TITLE_YEAR.search(title or "")
        if m and 1900 < int(m[1]) < 2100:
            year = int(m[1])
    if year is None:
        years = Counter(int(y) for t in texts for y in _EXPLICIT_YEAR.findall(t)
                        if 1900 < int(y) < 2100)
        if years:
            year = min(years)
    if year is None:
        return None
    return year, date(year, 1, 1), date(year, 12, 31)


def rows_to_plan(rows: list[list[str]], *, source: str, year: int | None = None,
                 plan_name: str | None = None) -> PlanSpec:
    """A task table -> PlanSpec. Raises ``PlanFormatError`` for a table that cannot be
    imported, naming the row and column (``row 7, column 完成时限: …``)."""
    rows = [[check_cell(_norm_cell(c), i, j) for j, c in enumerate(row, 1)]
            for i, row in enumerate(rows, 1)]
    header = find_header(rows)
    if header is None:
        raise PlanFormatError(
            f"{source}: no header row with a task column (工作任务/task) and a lead or "
            "responsible column (牵头单位/责任单位/lead)")
    cols = header.columns
    # A title above the header names the plan (盘锦市…2018年工作实施方案任务分解表).
    above = [c for r in rows[:header.row] for c in r if c]
    title = plan_name or (above[0] if above else "") or re.sub(r"\.[A-Za-z]+$", "", source)
    due_col = cols.get("due")
    due_texts = [r[due_col] for r in rows[header.row + 1:] if due_col is not None and due_col < len(r)]
    period = plan_period(" ".join([plan_name or "", *above[:1]]), year, due_texts)
    if period is None:
        raise PlanFormatError(f"{source}: no year in the title or the dates; pass --year")
    plan_year, starts_on, ends_on = period

    plan = PlanSpec(name=_plan_name(title), year=plan_year, starts_on=starts_on,
                    ends_on=ends_on, source_hash=_hash_rows(rows))
    # Department cells repeat down a table (市财政局、市统计局 on every row): split each once.
    names_of = functools.lru_cache(maxsize=4096)(lambda cell: tuple(split_departments(cell)))

    def split(cell: str) -> list[str]:
        return list(names_of(cell))

    current: TaskSpec | None = None
    section = ""  # the last heading row: a task number used again under it restarts
    carried: dict[str, str] = {}
    last_year = plan_year
    for i in range(header.row + 1, len(rows)):
        row = rows[i]
        rownum = i + 1

        def cell(fld: str, _row: list[str] = row) -> str:
            j = cols.get(fld)
            return _row[j] if j is not None and j < len(_row) else ""

        values = {f: cell(f) for f in cols}
        if not any(values.values()) or row == rows[header.row]:
            continue  # empty, or the header repeated on a new page
        if _is_heading(values):
            # A section heading or a note spanning the table (merged across).
            section = " ".join(v for v in (values.get("number"), values.get("task")) if v)
            continue

        number, task_text = values.get("number", ""), values.get("task", "")
        new_task = current is None or bool(
            (number and number != carried.get("number"))
            or (not number and task_text and task_text != carried.get("task")))
        if new_task:
            title_text = task_text
            if not title_text:
                raise PlanFormatError(f"row {rownum}, column {header.titles.get('task')}: "
                                      "a new task without its text")
            lead = split(values.get("lead", ""))
            marked, responsible = take_lead_marks(split(values.get("responsible", "")))
            lead += [d for d in marked if d not in lead]
            if not lead and "lead" in cols:
                raise PlanFormatError(f"row {rownum}, column {header.titles['lead']}: "
                                      f"task {number or title_text[:20]} has no lead department")
            if not lead and not responsible:
                raise PlanFormatError(f"row {rownum}, column {header.titles.get('responsible')}: "
                                      f"task {number or title_text[:20]} names no department")
            if not lead:
                lead = responsible[:1]  # docs/domain.md: the first named department leads
            current = TaskSpec(
                number=number or str(len(plan.tasks) + 1), title=_title_of(title_text),
                text=title_text, lead=lead, responsible=responsible,
                cooperating=split(values.get("cooperating", "")), line=rownum,
                section=section)
            for fld in ("task", "lead", "responsible", "cooperating"):
                if values.get(fld):
                    current.evidence[fld] = f"row {rownum}, column {header.titles[fld]}: {values[fld]}"
            plan.tasks.append(current)
            carried = {f: values.get(f, "") for f in _TASK_FIELDS}
            last_year = plan_year
        else:
            # A continuation row may repeat or refine the task's departments.
            for fld in ("lead", "responsible", "cooperating"):
                v = values.get(fld)
                if v and v != carried.get(fld):
                    for name in split(v):
                        if name not in getattr(current, fld):
                            getattr(current, fld).append(name)
        assert current is not None
        last_year = _add_milestones(plan, current, values, header, rownum, last_year, ends_on)

    for task in plan.tasks:
        if not task.milestones:
            task.milestones.append(MilestoneSpec(due=ends_on, text=task.title, phrase="",
                                                 line=task.line))
    if not plan.tasks:
        raise PlanFormatError(f"{source}: the table has a header (row {header.row + 1}) but no tasks")
    return plan


@functools.lru_cache(maxsize=4096)
def _due_phrases(text: str, year: int) -> tuple[DatePhrase, ...]:
    # Due cells repeat down a table (2019年6月底前): read each (cell, year) once. Pure, so
    # the bounded cache may outlive one import.
    return tuple(parse_due_cell(text, year))


def _add_milestones(plan: PlanSpec, task: TaskSpec, values: dict[str, str], header: _Header,
                    rownum: int, last_year: int, ends_on: date) -> int:
    due_text = values.get("due", "")
    what = values.get("milestone", "")
    if "due" not in header.columns:
        return last_year  # no due column: every task is due at the plan's end
    try:
        phrases = _due_phrases(due_text, last_year)
    except DateError as exc:
        raise PlanFormatError(f"row {rownum}, column {header.titles['due']}: {exc}") from None
    if not phrases:
        if what:
            plan.warnings.append(Problem(rownum, f"milestone {what[:30]!r} has no date; "
                                                 f"due at the plan's end {ends_on}"))
            task.milestones.append(MilestoneSpec(due=ends_on, text=what, phrase=due_text,
                                                 line=rownum))
        return last_year
    for k, p in enumerate(phrases):
        if p.recurrence:
            p = DatePhrase(last_occurrence(p.recurrence, ends_on), p.phrase, p.start, p.end,
                           p.recurrence, p.year_given)
        elif p.year_given:
            last_year = p.due.year
        else:
            p = with_year(p, last_year)
        # Several phrases in one cell: each keeps the words after it (6月底前完成A;9月底前完成B).
        tail = due_text[p.end:phrases[k + 1].start] if k + 1 < len(phrases) else due_text[p.end:]
        text = what or tail.strip(" ,;。、") or task.title
        task.milestones.append(MilestoneSpec(due=p.due, text=text, phrase=p.phrase, line=rownum,
                                             recurrence=p.recurrence))
    task.evidence.setdefault("due", f"row {rownum}, column {header.titles['due']}: {due_text}")
    return last_year


_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+(?:[、.]|$)|\(?[一二三四五六七八九十]+\)|第[一二三四五六七八九十]+"
                      r"[部分章节]|注[:：]?|备注|说明|附)")


def _is_heading(values: dict[str, str]) -> bool:
    """A row with only a heading (一、… / (一)…) or a note, spanning the table."""
    filled = {f: v for f, v in values.items() if v and f != "person"}
    if not filled or not filled.keys() <= {"number", "task"}:
        return False
    return any(_HEADING.match(v) for v in filled.values())


def _title_of(text: str) -> str:
    """The task's short title: its first sentence (提升港口能力能级。……)."""
    m = re.match(r"^(?:\d+[.、]|[(]?[一二三四五六七八九十]+[)、])?\s*([^。;]{1,80}?)[。;]", text)
    return (m[1] if m else text[:80]).strip()


def _plan_name(title: str) -> str:
    return re.sub(r"(?:任务分解表|任务清单|责任分工表|分工表)$", "", title).strip() or title


def _hash_rows(rows: list[list[str]]) -> str:
    payload = json.dumps([[c for c in r] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
