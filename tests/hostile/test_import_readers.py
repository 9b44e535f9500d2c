"""Malformed .xlsx/.docx/.csv/.txt files: one line naming the file and what is wrong, exit 2,
no traceback, nothing written."""

from __future__ import annotations

import sqlite3

import pytest

from notifier.cli import main

from tests.support.hostile_files import damage_compressed, docx_bytes, replace_part, rezip, write, xlsx_bytes

SHEET = "xl/worksheets/sheet1.xml"
DOCUMENT = "word/document.xml"


@pytest.fixture
def config(write_config, tmp_path):
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


def run_import(config, path, capsys, *extra):  # noqa: ANN001, ANN201
    code = main(["--config", str(config), "import", str(path), *extra])
    err = capsys.readouterr().err
    return code, [ln for ln in err.splitlines() if ln.strip() and "no config file" not in ln]


def assert_one_line_error(code, lines, path, *words):  # noqa: ANN001
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: ")
    assert "Traceback" not in lines[0]
    for word in words:
        assert word in lines[0]


def no_plans(tmp_path) -> bool:  # noqa: ANN001
    db = tmp_path / "n.db"
    return not db.exists() or sqlite3.connect(db).execute(
        "select count(*) from sqlite_master where name = 'plans'").fetchone()[0] == 0 or \
        sqlite3.connect(db).execute("select count(*) from plans").fetchone() == (0,)


XLSX_CASES = {
    "truncated": lambda: xlsx_bytes()[: len(xlsx_bytes()) // 2],
    "crc-damaged": lambda: damage_compressed(xlsx_bytes(), SHEET),
    "bad content types": lambda: replace_part(xlsx_bytes(), "[Content_Types].xml", b"<Types"),
    "broken styles": lambda: replace_part(xlsx_bytes(), "xl/styles.xml", (
        b"<styleSheet xmlns='http://schemas.openxmlformats.org/spreadsheetml/2006/main'>"
        b"<cellXfs><xf numFmtId='abc'/></cellXfs></styleSheet>")),
    "sheet xml cut short": lambda: rezip(xlsx_bytes(), lambda n, c: c[:-30] if n == SHEET else c),
    "sheet missing": lambda: rezip(xlsx_bytes(), lambda n, c: None if n == SHEET else c),
    "workbook not xml": lambda: replace_part(xlsx_bytes(), "xl/workbook.xml", b"\x00\x01garbage"),
}
DOCX_CASES = {
    "truncated": lambda: docx_bytes()[: len(docx_bytes()) // 2],
    "crc-damaged": lambda: damage_compressed(docx_bytes(), DOCUMENT),
    "bad content types": lambda: replace_part(docx_bytes(), "[Content_Types].xml", b"<Types"),
    "broken styles": lambda: replace_part(docx_bytes(), "word/styles.xml", b"<w:styles"),
    "document xml cut short": lambda: rezip(docx_bytes(), lambda n, c: c[:-50] if n == DOCUMENT else c),
    "bad grid span": lambda: rezip(docx_bytes(), lambda n, c: c.replace(
        b"<w:body>", b"<w:body><w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val='x'/></w:tcPr>"
        b"<w:p/></w:tc></w:tr></w:tbl>") if n == DOCUMENT else c),
}


@pytest.mark.parametrize("case", XLSX_CASES)
def test_a_damaged_xlsx_is_one_line_with_exit_2(case, config, tmp_path, capsys):
    path = write(tmp_path / "plan.xlsx", XLSX_CASES[case]())
    code, lines = run_import(config, path, capsys)
    assert_one_line_error(code, lines, path)
    assert no_plans(tmp_path)


@pytest.mark.parametrize("case", DOCX_CASES)
def test_a_damaged_docx_is_one_line_with_exit_2_even_with_dry_run(case, config, tmp_path, capsys):
    path = write(tmp_path / "plan.docx", DOCX_CASES[case]())
    code, lines = run_import(config, path, capsys, "--dry-run")
    assert_one_line_error(code, lines, path)


def test_a_crc_damage_names_the_inflate_error(config, tmp_path, capsys):
    path = write(tmp_path / "plan.xlsx", damage_compressed(xlsx_bytes(), SHEET))
    code, lines = run_import(config, path, capsys)
    assert_one_line_error(code, lines, path, "not a readable .xlsx workbook")


@pytest.mark.parametrize("data, words", [
    (bytes(range(256)) * 8, ["NUL byte"]),
    (b"\x00" * 1000, ["NUL byte"]),
    (b"\xff\xfe" + b"\x00\xd8" * 3, ["UTF-16"]),  # a BOM, then unpaired surrogates
    (b"\x81\x30" * 50 + b"\xff\xff\xff", ["neither UTF-8 nor GB18030"]),
])
@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_a_binary_or_undecodable_text_file_is_one_line_with_exit_2(data, words, suffix, config,
                                                                  tmp_path, capsys):
    path = write(tmp_path / f"plan{suffix}", data)
    code, lines = run_import(config, path, capsys)
    assert_one_line_error(code, lines, path, *words)


def test_a_zip_that_is_no_office_file_says_so(config, tmp_path, capsys):
    path = write(tmp_path / "plan.xlsx", rezip(xlsx_bytes(), lambda n, c: None if n == "xl/workbook.xml" else c))
    code, lines = run_import(config, path, capsys)
    assert_one_line_error(code, lines, path, "neither .docx nor .xlsx")


def test_a_directory_or_missing_file_is_one_line_with_exit_2(config, tmp_path, capsys):
    for path in (tmp_path, tmp_path / "missing.csv"):
        code, lines = run_import(config, path, capsys)
        assert_one_line_error(code, lines, path, "cannot read the file")
