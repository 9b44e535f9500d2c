"""XLSX task tables (format D) -> PlanSpec, through ``table.rows_to_plan``.

openpyxl gives a merged range's value only to its top-left cell; the plan's merged task
cells must read on every row they span, so the value is copied across the range before
the rows are handed on. Row numbers stay the sheet's own, so errors point at the row
the admin sees in Excel.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

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


def sheet_rows(ws) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """All rows of a worksheet as text, merged ranges filled with their value."""
    grid = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    for rng in ws.merged_cells.ranges:
        top = grid[rng.min_row - 1][rng.min_col - 1] if rng.min_row <= len(grid) else ""
        for r in range(rng.min_row, min(rng.max_row, len(grid)) + 1):
            row = grid[r - 1]
            row.extend([""] * (rng.max_col - len(row)))
            for c in range(rng.min_col, rng.max_col + 1):
                row[c - 1] = top
    return grid


def read_xlsx(data: bytes, *, source: str, year: int | None = None,
              plan_name: str | None = None) -> PlanSpec:
    """The first sheet with a task-table header -> PlanSpec."""
    import openpyxl  # imported here: only xlsx imports pay for it

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise PlanFormatError(f"{source}: not a readable .xlsx workbook ({exc})") from None
    for ws in wb.worksheets:
        rows = sheet_rows(ws)
        if find_header(rows_normalized(rows)) is not None:
            label = source if len(wb.worksheets) == 1 else f"{source} sheet {ws.title}"
            return rows_to_plan(rows, source=label, year=year, plan_name=plan_name)
    raise PlanFormatError(
        f"{source}: no sheet has a header row with a task column (工作任务/task) and a lead "
        "or responsible column (牵头单位/责任单位/lead)")


def rows_normalized(rows: list[list[str]]) -> list[list[str]]:
    from notifier.importing.encoding import normalize_text

    return [[normalize_text(c).strip() for c in r] for r in rows]
