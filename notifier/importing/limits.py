"""Bounds on what an import reads, so a small hostile file cannot take unbounded time or memory.

A plan is a few hundred tasks; the largest real task tables we know are a few thousand rows.
Every limit below is far above that and far below what would hurt the host. Each one, when
exceeded, is a ``PlanFormatError`` naming the limit, never a partial import. The limits are
fixed (not configurable): a plan that needs more is not a plan, and a shared daemon should not
let a config typo open the door. README.md "Limits on input" lists them.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import BinaryIO

from notifier.importing.encoding import strip_controls
from notifier.importing.model import PlanFormatError

MAX_FILE_BYTES = 20 * 1024 * 1024  # the file as stored (a .docx with pictures stays below)
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # all parts of a .docx/.xlsx, decompressed
# XML parsed whole, decompressed: all of a .docx (python-docx builds one tree, about 25 times
# its size in memory) and an .xlsx's parts other than its sheets (openpyxl streams those in
# read-only mode, but holds every shared string). A .docx with 300 paragraphs and a 500-row
# table has 0.6 MB.
MAX_PARSED_XML_BYTES = 8 * 1024 * 1024
# The sheets of an .xlsx, decompressed: streamed, but openpyxl spends some microseconds per cell,
# so this bounds the time. About 10,000 rows of a seven-column task table (as openpyxl writes
# it, strings inline); a larger one imports as CSV.
MAX_SHEET_XML_BYTES = 8 * 1024 * 1024
MAX_ROWS = 100_000  # table rows (CSV, a sheet, the tables of a .docx)
MAX_COLUMNS = 64  # columns of a table; a task table has about ten
MAX_CELLS = 1_000_000  # cells read from one file, merged ranges included
MAX_CELL_CHARS = 20_000  # one cell, or one line of a plan text
MAX_TEXT_CHARS = 2_000_000  # a plan text (or a .docx's paragraphs); a 150 KB plan has 50,000
MAX_DEPARTMENTS_PER_CELL = 100  # names listed in one department cell or note
MAX_NAME_CHARS = 100  # a department name
MAX_PLAN_NAME_CHARS = 200  # a plan's name (its title)
MAX_NUMBER_CHARS = 40  # a task number as printed
DATE_SLACK_YEARS = 3  # a date further than this outside the plan period is a warning


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def read_capped(stream: BinaryIO, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read at most ``limit`` bytes. A regular file larger than that is refused before
    reading; a longer stream (``/dev/zero``, a pipe) after ``limit + 1`` bytes."""
    too_large = PlanFormatError(f"the file is larger than {_mb(limit)}, the limit for a plan")
    try:
        size = os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        size = 0  # not a file on disk: the capped read decides
    if size > limit:
        raise too_large
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data


def check_zip(data: bytes, *, parsed_xml: bool = False, streamed: tuple[str, ...] = ()
              ) -> zipfile.ZipFile:
    """Open a .docx/.xlsx container after checking what it would decompress to.

    The sizes come from the zip's central directory; a member that decompresses to more
    than it declares fails its CRC check when read, so the declared total bounds what the
    office-file libraries can inflate (a "zip bomb" is refused before any of it). With
    ``parsed_xml`` the XML parts outside the ``streamed`` folders are held to
    ``MAX_PARSED_XML_BYTES``, and those inside to ``MAX_SHEET_XML_BYTES``; a part is XML
    by its content type, as the libraries decide, not by its name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise PlanFormatError(f"a damaged zip (docx/xlsx) file ({exc})") from None
    infos = archive.infolist()
    if len(infos) > 10_000:
        raise PlanFormatError(f"the zip holds {len(infos)} parts; a .docx/.xlsx has a few dozen")
    total = sum(max(0, i.file_size) for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise PlanFormatError(f"the file decompresses to {_mb(total)}, more than the limit of "
                              f"{_mb(MAX_UNZIPPED_BYTES)}")
    if not parsed_xml:
        return archive
    xml_names = _xml_parts(archive)
    xml = [i for i in infos if i.filename in xml_names]
    parsed = sum(max(0, i.file_size) for i in xml if not i.filename.startswith(streamed))
    if parsed > MAX_PARSED_XML_BYTES:
        raise PlanFormatError(f"the file's XML to parse decompresses to {_mb(parsed)}, more than "
                              f"the limit of {_mb(MAX_PARSED_XML_BYTES)}")
    sheets = sum(max(0, i.file_size) for i in xml if streamed and i.filename.startswith(streamed))
    if sheets > MAX_SHEET_XML_BYTES:
        raise PlanFormatError(f"the sheets decompress to {_mb(sheets)} of XML, more than the limit "
                              f"of {_mb(MAX_SHEET_XML_BYTES)} (about 10,000 rows); save a larger "
                              "table as CSV")
    return archive


def _xml_parts(archive: zipfile.ZipFile) -> set[str]:
    """Names of the parts the office libraries parse as XML: those named .xml/.rels and
    those whose content type in ``[Content_Types].xml`` is XML (a main document part may be
    called anything)."""
    names = {n for n in archive.namelist() if n.endswith((".xml", ".rels"))}
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return names
    if info.file_size > 1024 * 1024:
        raise PlanFormatError(f"[Content_Types].xml decompresses to {_mb(info.file_size)}; "
                              "a .docx/.xlsx has a few KB")
    from lxml import etree

    try:
        root = etree.fromstring(archive.read(info), etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False))
    except Exception as exc:  # noqa: BLE001 - see unreadable()
        raise unreadable("a damaged [Content_Types].xml", exc) from None
    defaults, overrides = {}, {}
    for element in root:
        tag = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if tag == "Default":
            defaults[element.get("Extension", "").lower()] = element.get("ContentType", "")
        elif tag == "Override":
            overrides[element.get("PartName", "").lstrip("/")] = element.get("ContentType", "")
    for name in archive.namelist():
        kind = overrides.get(name) or defaults.get(name.rsplit(".", 1)[-1].lower(), "")
        if "xml" in kind.lower():
            names.add(name)
    return names


class CellBudget:
    """Counts the cells and rows one import reads, against ``MAX_ROWS`` and ``MAX_CELLS``."""

    def __init__(self, what: str = "table") -> None:
        self.what = what
        self.rows = 0
        self.cells = 0

    def take_row(self, width: int) -> None:
        self.rows += 1
        self.cells += width
        if self.rows > MAX_ROWS:
            raise PlanFormatError(f"the {self.what} has more than {MAX_ROWS} rows, the limit for a plan")
        if width > MAX_COLUMNS:
            raise PlanFormatError(f"{width} columns; a task table has at most {MAX_COLUMNS}")
        self.take_cells(0)

    def take_cells(self, n: int) -> None:
        self.cells += n
        if self.cells > MAX_CELLS:
            raise PlanFormatError(f"the {self.what} has more than {MAX_CELLS} cells "
                                  "(merged ranges included), the limit for a plan")


def check_cell(text: str, row: int, column: int) -> str:
    """``text`` if it is at most ``MAX_CELL_CHARS`` long, else an error naming its place."""
    if len(text) > MAX_CELL_CHARS:
        raise PlanFormatError(f"row {row}, column {column}: {len(text)} characters in one cell; "
                              f"the limit is {MAX_CELL_CHARS}")
    return text


def check_text(text: str) -> str:
    """Decoded plan text without control characters, at most ``MAX_TEXT_CHARS`` long, in at
    most ``MAX_ROWS`` lines of at most ``MAX_CELL_CHARS`` characters: a longer line is not
    prose (a binary file read as text)."""
    text = strip_controls(text)
    if len(text) > MAX_TEXT_CHARS:
        raise PlanFormatError(f"the text has {len(text)} characters, more than {MAX_TEXT_CHARS}, "
                              "the limit for a plan")
    lines = text.splitlines()
    if len(lines) > MAX_ROWS:
        raise PlanFormatError(f"the text has {len(lines)} lines, more than {MAX_ROWS}, the limit "
                              "for a plan")
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_CELL_CHARS:
            raise PlanFormatError(f"line {number}: {len(line)} characters in one line; the limit is "
                                  f"{MAX_CELL_CHARS}")
    return text


def unreadable(what: str, exc: BaseException) -> PlanFormatError:
    """The one-line error for an office file its library could not read. openpyxl,
    python-docx, lxml and zipfile fail in many ways on a damaged file (zlib.error,
    KeyError, TypeError, XMLSyntaxError, ...): whatever the exception, the file is
    unreadable, and the admin needs the reason on one line, not a traceback."""
    if isinstance(exc, MemoryError):
        return PlanFormatError(f"{what}: too large to read")
    reason = " ".join(str(exc).split())[:160]
    kind = type(exc).__name__
    if kind == "error":  # zlib.error, struct.error: the bare name says nothing
        kind = f"{type(exc).__module__}.{kind}"
    return PlanFormatError(f"{what} ({kind}" + (f": {reason})" if reason else ")"))
