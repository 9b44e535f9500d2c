"""XLSX task tables (format D) -> PlanSpec, through ``table.rows_to_plan``.

openpyxl runs in read-only mode: the sheet is streamed row by row, never held as cell
objects, and at most ``MAX_COLUMNS`` columns of a row are kept. Read-only sheets do not
expose merged ranges, so they are read from the sheet's ``<mergeCell>`` elements. A merged
range's value belongs to its top-left cell; the plan's merged task cells must read on every
row they span, so the value is copied across the part of the range that lies inside the
rows and columns actually read (a range such as ``F2:XFD201`` costs its clipped area, not
three million cells), and the merged cells count against ``MAX_CELLS``. Row numbers stay
the sheet's own, so errors point at the row the admin sees in Excel.

Any exception while reading the workbook becomes one ``PlanFormatError`` line
(``limits.unreadable``); the table logic after reading is outside that net.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, time
from typing import Any

from notifier.importing.limits import MAX_COLUMNS, CellBudget, unreadable
from notifier.importing.model import PlanFormatError, PlanSpec
from notifier.importing.table import find_header, rows_to_plan


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 序号 1.0 -> "1"
    return str(value)


_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7}):\$?([A-Z]{1,3})\$?(\d{1,7})$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


# <mergeCell ref="A1:C3"/>, with or without a namespace prefix.
_MERGE_CELL = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref\s*=\s*["']([^"']*)["']""")


def merged_ranges(ws: Any) -> list[tuple[int, int, int, int]]:  # noqa: ANN401
    """(min_row, min_col, max_row, max_col) of each ``<mergeCell ref="A1:C3">`` of the
    sheet (read-only worksheets do not parse them). The elements are found by a pattern
    over the sheet's bytes (at most ``MAX_SHEET_XML_BYTES``): an XML parser would build the
    tree of every cell to find the few elements after them."""
    with ws.parent._archive.open(ws._worksheet_path) as src:
        xml = src.read()
    ranges = []
    for ref in _MERGE_CELL.findall(xml):
        m = _REF.match(ref.decode("ascii", "replace").upper())
        if m:
            r0, c0, r1, c1 = int(m[2]), _column_number(m[1]), int(m[4]), _column_number(m[3])
            ranges.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))
    return ranges


def sheet_rows(ws: Any, budget: CellBudget | None = None) -> list[list[str]]:  # noqa: ANN401
    """All rows of a read-only worksheet as text (at most ``MAX_COLUMNS`` columns),
    merged ranges filled with their value."""
    budget = budget or CellBudget(f"sheet {ws.title}")
    ws.reset_dimensions()  # a forged <dimension ref="A1:XFD1048576"> must not size the rows
    grid: list[list[str]] = []
    for values in ws.iter_rows(max_col=MAX_COLUMNS, values_only=True):
        end = len(values)  # padded to MAX_COLUMNS: convert up to the last value only
        while end and (values[end - 1] is None or values[end - 1] == ""):
            end -= 1
        row = [_cell_text(v) for v in values[:end]]
        budget.take_row(len(row))
        grid.append(row)
    for r0, c0, r1, c1 in merged_ranges(ws):
        r1, c1 = min(r1, len(grid)), min(c1, MAX_COLUMNS)
        if r0 < 1 or c0 < 1 or r0 > r1 or c0 > c1:
            continue
        budget.take_cells((r1 - r0 + 1) * (c1 - c0 + 1))
        top = grid[r0 - 1][c0 - 1] if c0 <= len(grid[r0 - 1]) else ""
        for r in range(r0, r1 + 1):
            row = grid[r - 1]
            if len(row) < c1:
                row.extend([""] * (c1 - len(row)))
            row[c0 - 1:c1] = [top] * (c1 - c0 + 1)
    return grid


def read_xlsx(data: bytes, *, source: str, year: int | None = None,
              plan_name: str | None = None) -> PlanSpec:
    """The first sheet with a task-table header -> PlanSpec."""
    found = _first_task_sheet(data)
    if found is None:
        raise PlanFormatError(
            "no sheet has a header row with a task column (工作任务/task) and a lead "
            "or responsible column (牵头单位/责任单位/lead)")
    label, rows = found
    return rows_to_plan(rows, source=source if label is None else f"{source} sheet {label}",
                        year=year, plan_name=plan_name)


def _first_task_sheet(data: bytes) -> tuple[str | None, list[list[str]]] | None:
    """(sheet label or None when the workbook has one sheet, its rows) of the first
    sheet with a task-table header."""
    import openpyxl  # imported here: only xlsx imports pay for it

    budget = CellBudget("workbook")
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheets = [ws for ws in wb.worksheets if hasattr(ws, "iter_rows")]  # not chartsheets
            for ws in sheets:
                rows = sheet_rows(ws, budget)
                if find_header(rows_normalized(rows)) is not None:
                    return (None if len(sheets) == 1 else ws.title), rows
            return None
        finally:
            wb.close()
    except PlanFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - see limits.unreadable
        raise unreadable("not a readable .xlsx workbook", exc) from None


def rows_normalized(rows: list[list[str]]) -> list[list[str]]:
    from notifier.importing.encoding import normalize_text

    return [[normalize_text(c).strip() for c in r] for r in rows]
