"""Builders of small hostile plan files for the tests/hostile/test_import_* tests: a valid
workbook or document, then one part of it damaged, generated in the test's tmp_path."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
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


def sheet_xml(body: str, merges: list[str] = ()) -> bytes:
    """A worksheet part with ``body`` inside <sheetData> and the given merged ranges."""
    merge = (f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
             + "</mergeCells>") if merges else ""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<sheetData>{body}</sheetData>{merge}</worksheet>').encode()


def inline_row(r: int, cells: list[str]) -> str:
    from openpyxl.utils import get_column_letter

    return f'<row r="{r}">' + "".join(
        f'<c r="{get_column_letter(c)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
        for c, v in enumerate(cells, 1) if v) + "</row>"


def task_sheet(extra_rows: str = "", merges: list[str] = ()) -> bytes:
    """A valid task table as raw sheet XML (header, one task) plus ``extra_rows``."""
    rows = inline_row(1, HEADER) + inline_row(2, ["1", "推进重点项目。", "市发改委", "2019-06-30"])
    return sheet_xml(rows + extra_rows, merges)


@dataclass
class Child:
    code: int
    err: str
    seconds: float
    cpu_seconds: float
    peak_mb: float


# The child records its own peak memory (VmHWM, which exec resets) as it exits: the
# rusage of a child forked from a large test process would include the parent's pages.
_CHILD = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(os.environ["NOTIFIER_TEST_PEAK_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_peak)
from notifier.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_child(args: list[str], cwd: Path, timeout: float = 120) -> Child:
    """Run ``notifier ARGS`` as a child process and measure it: wall time, CPU time (from
    wait4) and peak resident memory (the child's VmHWM)."""
    import os
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    peak_file = cwd / "child-peak-kb.txt"
    env = {**os.environ, "PYTHONPATH": str(root), "NOTIFIER_TEST_PEAK_FILE": str(peak_file)}
    err_path = cwd / "child-stderr.txt"
    with err_path.open("wb") as err, open(os.devnull, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, *args], cwd=cwd, env=env,
                                stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"notifier {' '.join(args)} still runs after {timeout} s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(proc.returncode, err_path.read_text(encoding="utf-8", errors="replace"),
                 time.perf_counter() - t0, usage.ru_utime + usage.ru_stime,
                 int(peak_file.read_text()) / 1024)


def entity_bomb(xml: bytes, root: str, target: str) -> bytes:
    """``xml`` with a "billion laughs" DTD before its ``root`` element and ``target`` text
    replaced by the entity that expands to 3 * 10**10 characters."""
    entities = '<!ENTITY a0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    text = xml.decode()
    start = text.index(f"<{root}")
    return (text[:start] + f"<!DOCTYPE {root} [{entities}]>" + text[start:]).replace(
        target, "&a9;", 1).encode()
