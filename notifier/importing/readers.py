"""The one entry point of importing: a file -> PlanSpec.

``read_plan`` picks the reader by ``fmt`` or, for ``auto``, by extension and then by
content (a zip is docx or xlsx by its parts; text whose lines split into a table with a
header is CSV). Every reader returns a complete ``PlanSpec`` or raises
``PlanFormatError``; nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from notifier.importing.encoding import decode_bytes, normalize_text
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
        data = path.read_bytes()
    except OSError as exc:
        raise PlanFormatError(f"{path}: cannot read the file ({exc.strerror})") from None
    if fmt == "auto":
        fmt = detect_format(path, data)
    source = path.name
    if fmt == "csv":
        return rows_to_plan(csv_rows(decode_bytes(data)), source=source, year=year,
                            plan_name=plan_name)
    if fmt == "text":
        from notifier.importing.text import text_to_plan

        return text_to_plan(decode_bytes(data), source=source, year=year, plan_name=plan_name)
    if fmt == "xlsx":
        from notifier.importing.xlsx_reader import read_xlsx

        return read_xlsx(data, source=source, year=year, plan_name=plan_name)
    from notifier.importing.docx_reader import read_docx

    return read_docx(data, source=source, year=year, plan_name=plan_name)


def detect_format(path: Path, data: bytes) -> str:
    """Zip containers by their parts, then the extension, then the text's shape."""
    if data[:4] == b"PK\x03\x04":
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            raise PlanFormatError(f"{path.name}: a damaged zip (docx/xlsx) file") from None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise PlanFormatError(f"{path.name}: a zip file that is neither .docx nor .xlsx")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise PlanFormatError(f"{path.name}: an old binary .doc/.xls file; save it as .docx/.xlsx")
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
    full of commas mislead it."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise PlanFormatError(f"not a readable CSV table: {exc}") from None
