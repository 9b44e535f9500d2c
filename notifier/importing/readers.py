"""The one entry point of importing: a file -> PlanSpec.

``read_plan`` picks the reader by ``fmt`` or, for ``auto``, by extension and then by
content (a zip is docx or xlsx by its parts; text whose lines split into a table with a
header is CSV). Every reader returns a complete ``PlanSpec`` or raises
``PlanFormatError``; nothing here touches the database.

Hostile input is bounded here: the file is read with a cap (``limits.read_capped``), a
zip container is checked before an office library inflates it, and the error of any
malformed file is one line saying what is wrong (the CLI prefixes the file's path). The
finished ``PlanSpec`` then passes the checks of ``checks.py`` (unique task numbers,
bounded names, dates near the plan period) whatever reader made it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from notifier.importing.checks import check_plan
from notifier.importing.encoding import decode_bytes, normalize_text, strip_controls
from notifier.importing.limits import (
    MAX_CELL_CHARS,
    CellBudget,
    check_text,
    check_zip,
    read_capped,
)
from notifier.importing.model import PlanFormatError, PlanSpec
from notifier.importing.table import find_header, rows_to_plan

FORMATS = ("auto", "text", "docx", "xlsx", "csv")
_EXT = {".csv": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".docx": "docx",
        ".txt": "text", ".text": "text", ".md": "text"}


def read_plan(path: Path, *, fmt: str = "auto", year: int | None = None,
              plan_name: str | None = None) -> PlanSpec:
    """Read one plan file. ``fmt`` is auto|text|docx|xlsx|csv; ``year`` overrides the
    year read from the document; ``plan_name`` overrides its title."""
    if fmt not in FORMATS:
        raise PlanFormatError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = read_capped(stream)
    except OSError as exc:
        raise PlanFormatError(f"cannot read the file ({exc.strerror or exc})") from None
    try:
        if fmt == "auto":
            fmt = detect_format(path, data)
        plan = _read(fmt, data, source=path.name, year=year, plan_name=plan_name)
    except PlanFormatError as exc:
        raise PlanFormatError(_one_line(str(exc), path.name)) from None
    check_plan(plan)
    return plan


def _read(fmt: str, data: bytes, *, source: str, year: int | None,
          plan_name: str | None) -> PlanSpec:
    if fmt == "csv":
        return rows_to_plan(csv_rows(strip_controls(decode_bytes(data))), source=source,
                            year=year, plan_name=plan_name)
    if fmt == "text":
        from notifier.importing.text import text_to_plan

        return text_to_plan(check_text(decode_bytes(data)), source=source, year=year,
                            plan_name=plan_name)
    check_zip(data, parsed_xml=True, streamed=("xl/worksheets/",) if fmt == "xlsx" else ())
    if fmt == "xlsx":
        from notifier.importing.xlsx_reader import read_xlsx

        return read_xlsx(data, source=source, year=year, plan_name=plan_name)
    from notifier.importing.docx_reader import read_docx

    return read_docx(data, source=source, year=year, plan_name=plan_name)


def _one_line(message: str, name: str) -> str:
    """One line, without the file's name in front (the caller prints the path)."""
    message = " ".join(message.split())
    if message.startswith(f"{name}: "):
        message = message[len(name) + 2:]
    return message if len(message) <= 400 else message[:400] + "…"


def detect_format(path: Path, data: bytes) -> str:
    """Zip containers by their parts, then the extension, then the text's shape."""
    if data[:4] == b"PK\x03\x04":
        names = set(check_zip(data).namelist())
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise PlanFormatError("a zip file that is neither .docx nor .xlsx "
                              "(no word/document.xml or xl/workbook.xml)")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise PlanFormatError("an old binary .doc/.xls file; save it as .docx/.xlsx")
    ext = _EXT.get(path.suffix.lower())
    if ext in ("csv", "text"):
        return ext
    text = decode_bytes(data)
    return "csv" if _looks_like_csv(text) else "text"


def _looks_like_csv(text: str) -> bool:
    head = text[:20000]
    try:
        rows = csv_rows(head)
    except PlanFormatError:
        return False
    return sum(1 for r in rows if len(r) >= 3) >= 2 and find_header(
        [[normalize_text(c).strip() for c in r] for r in rows]) is not None


def csv_rows(text: str) -> list[list[str]]:
    """CSV text -> rows. Tab-separated exports (what Excel's "Unicode text" writes)
    are told by their first line; the csv.Sniffer is not used because Chinese cells
    full of commas mislead it. Bounded: ``MAX_ROWS`` rows, ``MAX_CELL_CHARS`` a field."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    budget = CellBudget("CSV table")
    rows: list[list[str]] = []
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(MAX_CELL_CHARS)
        for row in reader:
            budget.take_row(len(row))
            rows.append(row)
    except csv.Error as exc:
        # The reader counts physical lines; a quoted field may span several.
        raise PlanFormatError(f"line {reader.line_num}: not a readable CSV row ({exc})") from None
    except PlanFormatError as exc:
        raise PlanFormatError(f"line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(limit)
    return rows
