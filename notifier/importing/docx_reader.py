"""DOCX plans -> PlanSpec: a task table through ``table.py``, else the paragraphs
through ``text.py``.

A plan whose body carries a 任务分解表 is read from the table (one row per
milestone, the issuer's own breakdown); the paragraphs then only give the title,
文号 and issue date. A table split across pages often arrives as several tables,
each repeating the header: the tables after the first one with a header are read
on as its continuation when they have the same columns.

Tables are laid out here from their XML rather than through python-docx's cell grid,
which walks every grid position a span claims (``gridSpan=200000`` costs minutes): a
cell spanning columns repeats its text at each, a vertically merged cell repeats the
text above it, and a row wider than ``MAX_COLUMNS`` is an error. As in the xlsx reader,
any exception while reading the file is one ``PlanFormatError`` line (``limits.unreadable``).
"""

from __future__ import annotations

import io

from typing import Any

from notifier.importing.encoding import normalize_text
from notifier.importing.limits import MAX_COLUMNS, MAX_ROWS, CellBudget, check_text, unreadable
from notifier.importing.model import PlanFormatError, PlanSpec
from notifier.importing.table import find_header, rows_to_plan
from notifier.importing.text import read_meta, text_to_plan


def _table_rows(table: Any, budget: CellBudget) -> list[list[str]]:  # noqa: ANN401
    """A table's rows as text, one entry per grid column: a cell spanning columns
    repeats its text at each, a vertically merged cell (``vMerge`` continue) repeats
    the text above it, as python-docx's ``row.cells`` would."""
    from docx.table import _Cell

    rows: list[list[str]] = []
    above: list[str] = []
    for tr in table._tbl.tr_lst:
        row = [""] * max(0, tr.grid_before)
        for tc in tr.tc_lst:
            span = max(1, tc.grid_span)
            if len(row) + span > MAX_COLUMNS:
                raise PlanFormatError(
                    f"table row {budget.rows + 1}: a cell spans {span} columns, the row is wider "
                    f"than {MAX_COLUMNS} columns, the limit for a task table")
            if tc.vMerge == "continue":
                col = len(row)
                text = above[col] if col < len(above) else ""
            else:
                text = _Cell(tc, table).text.strip()
            row.extend([text] * span)
        budget.take_row(len(row))
        rows.append(row)
        above = row
    return rows


def read_docx(data: bytes, *, source: str, year: int | None = None,
              plan_name: str | None = None) -> PlanSpec:
    paragraphs, tables = _read_document(data)
    text = check_text("\n".join(paragraphs))
    rows: list[list[str]] = []
    width = 0
    for t_rows in tables:
        if not t_rows:
            continue
        if not rows:
            if find_header([[normalize_text(c).strip() for c in r] for r in t_rows]) is not None:
                rows, width = t_rows, len(t_rows[0])
        elif len(t_rows[0]) == width:
            rows.extend(t_rows)
    if rows:
        meta = read_meta(normalize_text(text).split("\n"))
        plan = rows_to_plan(rows, source=source, year=year, plan_name=plan_name or meta.name)
        plan.doc_number, plan.issuer, plan.issued_on = meta.doc_number, meta.issuer, meta.issued_on
        return plan
    return text_to_plan(text, source=source, year=year, plan_name=plan_name)


def _read_document(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    """(paragraph texts, tables as rows of text) of a .docx."""
    import docx  # python-docx; imported here so text and CSV imports do not need it

    budget = CellBudget("document's tables")
    try:
        document = docx.Document(io.BytesIO(data))
        body = document.paragraphs
        if len(body) > MAX_ROWS:  # counted before each one's text is read
            raise PlanFormatError(f"the document has {len(body)} paragraphs, more than {MAX_ROWS}, "
                                  "the limit for a plan")
        paragraphs = [p.text for p in body]
        return paragraphs, [_table_rows(t, budget) for t in document.tables]
    except PlanFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - see limits.unreadable
        raise unreadable("not a readable .docx document", exc) from None
