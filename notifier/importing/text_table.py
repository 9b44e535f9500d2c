"""Task tables copied as text (a 任务分解表 pasted from a web page) -> the rows of a task table.

Three shapes occur in the plans offices receive:

- one cell per line: the header's words one per line (序号 / 民生实事 / 责任单位 / 完成时限),
  a header word sometimes split itself (责任 / 领导), then each row's cells one per line,
  the row starting at its number;
- the same with each cell closed by ``|`` (a web table flattened; the reader strips the
  bars before this module sees the lines);
- the header on one line (``序号 主要任务 牵头单位 参与单位 责任单位 完成时限``) and rows
  whose cells are split by runs of spaces or tabs.

Blank and merged cells vanish in such a copy, so when a row has fewer cells than the
header its cells are matched to the columns by what they look like (a number, a list of
units, a person's name, a date) rather than by position; a row without any unit cell
had it merged with the row above. The aligned rows go to ``table.rows_to_plan``, the
reader of task tables, so a copied table reads exactly like the spreadsheet it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from notifier.importing.dates import NO_DATE_WORDS, DateError, parse_due_cell
from notifier.importing.departments import looks_like_unit, split_departments
from notifier.importing.model import PlanFormatError, PlanSpec
from notifier.importing.table import _field_of, rows_to_plan

# Column names that the task-table reader does not know, as the column they are. People
# columns come first so that 牵头领导 is never read as a lead (牵头…) column.
_MORE_COLUMNS: dict[str, str] = {
    "牵头领导": "person", "责任领导": "person", "分管领导": "person", "包抓领导": "person",
    "牵头市领导": "person", "责任人": "person", "分管负责人": "person",
    "民生实事": "task", "主要内容": "task", "内容与要求": "task", "项目名称": "task",
    "重点工作": "task", "工作事项": "task", "目标任务": "task",
    "责任科室": "responsible", "责任处室": "responsible", "主办单位": "responsible",
    "主要责任单位": "responsible", "责任(配合)单位": "responsible", "负责科室": "responsible",
    "协同配合单位": "cooperating", "协办单位": "cooperating", "协同单位": "cooperating",
    "细化措施": "other", "类别": "other", "进展情况": "other", "完成情况": "other",
}
# The header text rows_to_plan reads for each field.
_CANONICAL = {"number": "序号", "task": "工作任务", "lead": "牵头单位", "responsible": "责任单位",
              "cooperating": "配合单位", "due": "完成时限", "milestone": "节点内容", "person": "责任领导"}
_UNIT_FIELDS = ("lead", "responsible", "cooperating")
_NUMBER = re.compile(r"^\d{1,3}$")


def column_of(label: str) -> str | None:
    """A header cell -> its field (task, lead, responsible, cooperating, due, person,
    number, other), or None when it is no column name."""
    key = re.sub(r"\s+", "", label)
    if not key or len(key) > 14:
        return None
    for name, fld in _MORE_COLUMNS.items():
        if key.startswith(name):
            return fld
    return _field_of(key)


@dataclass(frozen=True)
class FlatTable:
    header_line: int
    fields: list[str]  # one per column, in order
    rows: list[list[tuple[int, str]]]  # each row: its cells with their line numbers


def find_flat_table(lines: list[tuple[int, str]]) -> FlatTable | None:
    """The first table copied as text in ``lines`` ((line number, text), blank lines
    left out), or None. A table needs a task column, a unit column and rows."""
    for i, (n, text) in enumerate(lines):
        fields = _one_line_header(text)
        if fields:
            rows = _spaced_rows(lines[i + 1:], len(fields)) or _cell_rows(lines[i + 1:])
            if rows:
                return FlatTable(n, fields, rows)
        if column_of(text) is not None and len(text) <= 14:
            found = _cell_header(lines, i)
            if found:
                fields, start = found
                rows = _cell_rows(lines[start:])
                if rows:
                    return FlatTable(n, fields, rows)
    return None


def _usable(fields: list[str]) -> bool:
    return "task" in fields and any(f in fields for f in _UNIT_FIELDS) and len(fields) >= 3


def _one_line_header(text: str) -> list[str] | None:
    words = text.split()
    if len(words) < 3 or len(text) > 100:
        return None
    fields = [column_of(w) for w in words]
    if any(f is None for f in fields):
        return None
    return _dedupe(fields) if _usable(fields) else None  # type: ignore[arg-type]


def _dedupe(fields: list[str]) -> list[str]:
    """A second task (or unit) column is read as plain text: the first one counts."""
    seen: set[str] = set()
    out = []
    for f in fields:
        out.append("other" if f in seen and f != "other" else f)
        seen.add(f)
    return out


def _cell_header(lines: list[tuple[int, str]], i: int) -> tuple[list[str], int] | None:
    """Header words one per line from ``lines[i]`` up to the first row number; a word
    split over two lines (责任 / 领导) is joined back."""
    words: list[str] = []
    j = i
    while j < len(lines) and not _NUMBER.match(lines[j][1]):
        text = re.sub(r"\s+", "", lines[j][1])
        if len(text) > 14 or "。" in text:
            return None
        words.append(text)
        j += 1
    if j >= len(lines) or len(words) < 3:
        return None
    joined: list[str] = []
    for w in words:
        if joined and column_of(joined[-1]) is None and column_of(joined[-1] + w) is not None:
            joined[-1] += w
        else:
            joined.append(w)
    fields = _dedupe([column_of(w) or "other" for w in joined])
    return (fields, j) if _usable(fields) else None


def _cell_rows(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    rows: list[list[tuple[int, str]]] = []
    expected: int | None = None
    for n, text in lines:
        if _NUMBER.match(text) and (expected is None or int(text) == expected):
            rows.append([(n, text)])
            expected = int(text) + 1
        elif rows:
            rows[-1].append((n, text))
    return rows


def _spaced_rows(lines: list[tuple[int, str]], width: int) -> list[list[tuple[int, str]]]:
    rows = []
    for n, text in lines:
        cells = [c for c in re.split(r"\t|\s{2,}", text.strip()) if c]
        if len(cells) >= 2:
            rows.append([(n, c) for c in cells])
        elif rows and cells:  # a cell on a line of its own: the text goes on
            rows[-1].append((n, cells[0]))
    return rows


# --- matching cells to columns ---------------------------------------------------------
def _kind(cell: str) -> str:
    text = cell.strip()
    if not text:
        return "empty"
    if _NUMBER.match(text):
        return "number"
    names = split_departments(text) if "。" not in text else []
    if names and all(looks_like_unit(d) for d in names):
        return "units"
    if len(text) <= 20:
        try:
            if parse_due_cell(text, 2000):
                return "date"
        except DateError:
            pass
        if any(w in text for w in NO_DATE_WORDS) and len(text) <= 8:
            return "date"
        if re.fullmatch(r"[\u4e00-\u9fff]{2,4}(?:[、,][\u4e00-\u9fff]{2,4})*", text):
            return "person"
    return "text"


_ACCEPTS = {"number": ("number",), "person": ("person",), "due": ("date",),
            "lead": ("units",), "responsible": ("units",), "cooperating": ("units",)}


def align(cells: list[tuple[int, str]], fields: list[str]) -> list[dict[str, tuple[int, str]]]:
    """A row's cells -> {field: (line, text)}, one dict per row; cells left over after
    the last column start a continuation row (a merged 序号 above it)."""
    out: list[dict[str, tuple[int, str]]] = []
    row: dict[str, tuple[int, str]] = {}
    queue = [c for c in cells if c[1].strip()]
    fi = 0
    while queue:
        if fi >= len(fields):
            out.append(row)
            row, fi = {}, 1 if fields[0] == "number" else 0
            continue
        fld, (n, text) = fields[fi], queue[0]
        kind = _kind(text)
        if fld == "task":
            row[fld] = queue.pop(0)
        elif fld in _ACCEPTS:
            if kind in _ACCEPTS[fld]:
                queue.pop(0)
                # The last unit column's cell may run over several lines.
                if fld in _UNIT_FIELDS and not any(f in _UNIT_FIELDS for f in fields[fi + 1:]):
                    while queue and _kind(queue[0][1]) == "units":
                        text += "、" + queue.pop(0)[1]
                row[fld] = (n, text)
        elif not any(kind in _ACCEPTS.get(f, ()) for f in fields[fi + 1:]):
            row[fld] = queue.pop(0)  # a column of plain text (progress, measures)
        fi += 1
    out.append(row)
    return [r for r in out if "task" in r]


def table_to_plan(table: FlatTable, *, source: str, year: int, plan_name: str) -> PlanSpec:
    """A copied table -> PlanSpec through the task-table reader; lines are the text's."""
    header = [_CANONICAL.get(f, "") for f in table.fields]
    rows: list[list[str]] = [header]
    lines: list[int] = [table.header_line]
    previous: dict[str, tuple[int, str]] = {}
    for cells in table.rows:
        for k, row in enumerate(align(cells, table.fields)):
            if k and "number" in previous:  # a continuation row: 5 -> 5-2
                row["number"] = (row["task"][0], f"{previous['number'][1].split('-')[0]}-{k + 1}")
            if not any(f in row for f in _UNIT_FIELDS):  # merged with the row above
                row.update({f: previous[f] for f in _UNIT_FIELDS if f in previous})
            rows.append([row[f][1] if f in row else "" for f in table.fields])
            lines.append(row["task"][0])
            previous = row
    try:
        spec = rows_to_plan(rows, source=source, year=year, plan_name=plan_name)
    except PlanFormatError as exc:
        message = re.sub(r"\brow (\d+)", lambda m: f"line {lines[int(m[1]) - 1]}", str(exc))
        raise PlanFormatError(message) from None
    for task in spec.tasks:
        task.line = lines[task.line - 1] if task.line else None
        for m in task.milestones:
            m.line = lines[m.line - 1] if m.line else task.line
        task.evidence = {k: re.sub(r"^row (\d+)", lambda m: f"line {lines[int(m[1]) - 1]}", v)
                         for k, v in task.evidence.items()}
    for i, w in enumerate(spec.warnings):
        if w.line:
            spec.warnings[i] = type(w)(lines[w.line - 1], w.message)
    return spec
