"""DOCX plans -> PlanSpec: a task table through ``table.py``, else the paragraphs
through ``text.py``.

A plan whose body carries a 任务分解表 is read from the table (one row per
milestone, the issuer's own breakdown); the paragraphs then only give the title,
文号 and issue date. A table split across pages often arrives as several tables,
each repeating the header: the tables after the first one with a header are read
on as its continuation when they have the same columns.
"""

from __future__ import annotations

import io
import zipfile

from notifier.importing.encoding import normalize_text
from notifier.importing.model import PlanFormatError, PlanSpec
from notifier.importing.table import find_header, rows_to_plan
from notifier.importing.text import read_meta, text_to_plan


def _table_rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    # python-docx repeats a merged cell's object at every grid position it covers,
    # so merged task cells already read on each row.
    return [[cell.text.strip() for cell in row.cells] for row in table.rows]


def read_docx(data: bytes, *, source: str, year: int | None = None,
              plan_name: str | None = None) -> PlanSpec:
    import docx  # python-docx; imported here so text and CSV imports do not need it

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise PlanFormatError(f"{source}: not a readable .docx document ({exc})") from None
    paragraphs = [p.text for p in document.paragraphs]
    text = "\n".join(paragraphs)
    rows: list[list[str]] = []
    width = 0
    for table in document.tables:
        t_rows = _table_rows(table)
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
