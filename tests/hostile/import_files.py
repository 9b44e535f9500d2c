"""Builders of small hostile plan files for the tests/hostile/test_import_* tests: a valid
workbook or document, then one part of it damaged, generated in the test's tmp_path."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

HEADER = ["序号", "工作任务", "牵头单位", "完成时限"]


def xlsx_bytes(rows: list[list[object]] | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows or [HEADER, ["1", "推进重点项目。", "市发改委", "2019-06-30"]]:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def docx_bytes(paragraphs: list[str] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs or ["某市2019年重点工作方案", "1.推进重点项目。(市发改委负责,6月底前完成)"]:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The same zip with each part passed through ``change`` (None drops the part)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            content = change(name, src.read(name))
            if content is not None:
                out.writestr(name, content)
    return buf.getvalue()


def replace_part(data: bytes, part: str, content: bytes) -> bytes:
    return rezip(data, lambda name, old: content if name == part else old)


def damage_compressed(data: bytes, part: str) -> bytes:
    """Flip bits inside ``part``'s compressed bytes: a CRC or inflate (zlib) error on read."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(part)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    out = bytearray(data)
    for k in range(5, min(40, info.compress_size)):
        out[start + k] ^= 0x5A
    return bytes(out)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
