"""Small hostile files take bounded time and memory: each limit is a clear one-line error
(or, for merged ranges, a bounded read), measured in a child process."""

from __future__ import annotations

import csv
import io
import zipfile

import docx
import pytest

from notifier.importing.limits import MAX_CELL_CHARS, MAX_ROWS

from tests.support.hostile_files import docx_bytes, entity_bomb, inline_row, replace_part, rezip, run_child, task_sheet, write, xlsx_bytes

pytestmark = pytest.mark.slow  # each import runs in a measured child process

SHEET = "xl/worksheets/sheet1.xml"
# A child that imports nothing much (Python, SQLAlchemy, openpyxl loaded) takes about 60-90 MB.
PEAK_MB = 300
CPU_SECONDS = 5


@pytest.fixture
def config(write_config, tmp_path):
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


def child_import(config, path, tmp_path, *extra):  # noqa: ANN001, ANN201
    child = run_child(["--config", str(config), "import", str(path), *extra], cwd=tmp_path)
    assert child.cpu_seconds < CPU_SECONDS, child
    assert child.peak_mb < PEAK_MB, child
    assert "Traceback" not in child.err, child.err
    return child


def error_line(child) -> str:  # noqa: ANN001
    lines = [ln for ln in child.err.splitlines() if ln.strip() and "no config file" not in ln]
    assert child.code == 2 and len(lines) == 1, child
    return lines[0]


def test_a_merged_range_to_the_last_column_is_read_clipped_in_bounded_memory(config, tmp_path):
    data = replace_part(xlsx_bytes(), SHEET, task_sheet(
        "".join(inline_row(r, ["", "", "", "2019-12-31"]) for r in range(3, 202)),
        merges=["F2:XFD201"]))
    assert len(data) < 20_000
    child = child_import(config, write(tmp_path / "merge.xlsx", data), tmp_path, "--dry-run")
    assert child.code == 0, child.err


def test_a_merge_bomb_is_refused_by_the_cell_limit(config, tmp_path):
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>x</t></is></c></row>'
                   for r in range(3, 60_003))
    data = replace_part(xlsx_bytes(), SHEET, task_sheet(rows, merges=["A2:XFD60002"]))
    child = child_import(config, write(tmp_path / "bomb.xlsx", data), tmp_path)
    assert "cells (merged ranges included)" in error_line(child)


def test_a_sheet_reaching_row_1048576_stops_at_the_row_limit(config, tmp_path):
    data = replace_part(xlsx_bytes(), SHEET, task_sheet(inline_row(1_048_576, ["x"])))
    child = child_import(config, write(tmp_path / "rows.xlsx", data), tmp_path)
    assert f"more than {MAX_ROWS} rows" in error_line(child)


def test_a_forged_dimension_does_not_pad_rows(config, tmp_path):
    sheet = task_sheet().replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
    data = replace_part(xlsx_bytes(), SHEET, sheet)
    child = child_import(config, write(tmp_path / "dim.xlsx", data), tmp_path, "--dry-run")
    assert child.code == 0, child.err


def test_one_huge_cell_is_refused(config, tmp_path):
    data = replace_part(xlsx_bytes(), SHEET, task_sheet(inline_row(3, ["2", "长" * 1_000_000])))
    child = child_import(config, write(tmp_path / "cell.xlsx", data), tmp_path)
    assert f"characters in one cell; the limit is {MAX_CELL_CHARS}" in error_line(child)


def test_a_zip_bomb_is_refused_before_it_is_inflated(config, tmp_path):
    # 300 MB of one repeated cell compresses to a few hundred KB.
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes())) as src, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            if name != "xl/sharedStrings.xml":
                out.writestr(name, src.read(name))
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            chunk = b"A" * (1 << 20)
            for _ in range(300):
                part.write(chunk)
    child = child_import(config, write(tmp_path / "zipbomb.xlsx", buf.getvalue()), tmp_path)
    assert "decompresses to 300 MB, more than the limit" in error_line(child)


def test_an_entity_expansion_bomb_is_refused_in_xlsx_and_docx(config, tmp_path):
    sheet = entity_bomb(task_sheet(), "worksheet", "推进重点项目。")
    xlsx = write(tmp_path / "lol.xlsx", replace_part(xlsx_bytes(), SHEET, sheet))
    assert "not a readable .xlsx workbook" in error_line(child_import(config, xlsx, tmp_path))
    data = docx_bytes()
    document = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
    bomb = entity_bomb(document, "w:document", "推进重点项目。")
    docx_path = write(tmp_path / "lol.docx", replace_part(data, "word/document.xml", bomb))
    assert "not a readable .docx document" in error_line(child_import(config, docx_path, tmp_path))


def docx_with_paragraphs(xml_bytes: int) -> bytes:
    para = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>"

    def grow(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        at = content.index(b"<w:body>") + len(b"<w:body>")
        return content[:at] + para * (xml_bytes // len(para)) + content[at:]

    return rezip(docx_bytes(), grow)


def test_a_docx_whose_xml_is_too_large_to_parse_is_refused_before_parsing(config, tmp_path):
    path = write(tmp_path / "big.docx", docx_with_paragraphs(16 << 20))
    assert len(path.read_bytes()) < 200_000
    child = child_import(config, path, tmp_path)
    assert "the file's XML to parse decompresses to 17 MB, more than the limit of 8 MB" in error_line(child)


def test_an_xlsx_with_millions_of_shared_strings_is_refused_before_parsing(config, tmp_path):
    strings = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org'
               b'/spreadsheetml/2006/main">' + b"<si><t>x</t></si>" * (600_000) + b"</sst>")

    def add_part(name: str, content: bytes) -> bytes:
        if name == "xl/_rels/workbook.xml.rels":
            return content.replace(b"</Relationships>", (
                b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                b'relationships/sharedStrings" Target="sharedStrings.xml" Id="rId9"/></Relationships>'))
        return content

    data = rezip(xlsx_bytes(), add_part)
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", strings)
    child = child_import(config, write(tmp_path / "strings.xlsx", buf.getvalue()), tmp_path)
    assert "the file's XML to parse decompresses to 10 MB, more than the limit of 8 MB" in error_line(child)


def test_an_xlsx_whose_sheets_exceed_the_sheet_xml_limit_is_refused_before_reading(config, tmp_path):
    # Empty styled cells: no value to count, but openpyxl parses each one.
    rows = "".join(f'<row r="{r}">' + '<c s="0"/>' * 64 + "</row>" for r in range(3, 24_000))
    data = replace_part(xlsx_bytes(), SHEET, task_sheet(rows))
    child = child_import(config, write(tmp_path / "wide.xlsx", data), tmp_path)
    assert "the sheets decompress to 15 MB of XML, more than the limit of 8 MB" in error_line(child)


def test_the_xml_limit_follows_content_types_not_part_names(config, tmp_path):
    """A main document part named main.dat is still XML to python-docx, and counted."""
    grown = docx_with_paragraphs(16 << 20)
    src = zipfile.ZipFile(io.BytesIO(grown))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            content = src.read(name).replace(b"/word/document.xml", b"/word/main.dat").replace(
                b"word/document.xml", b"word/main.dat")
            out.writestr("word/main.dat" if name == "word/document.xml" else name, content)
    child = child_import(config, write(tmp_path / "renamed.docx", buf.getvalue()), tmp_path,
                         "--format", "docx")
    assert "the file's XML to parse decompresses to 17 MB" in error_line(child)


def test_a_docx_with_too_many_paragraphs_is_refused(config, tmp_path):
    path = write(tmp_path / "many.docx", docx_with_paragraphs(7 << 20))
    child = child_import(config, path, tmp_path)
    assert f"paragraphs, more than {MAX_ROWS}" in error_line(child)


def test_a_docx_grid_span_of_200000_is_refused_at_once(config, tmp_path):
    document = docx.Document()
    document.add_paragraph("某市2019年重点工作方案")
    table = document.add_table(rows=3, cols=2)
    for r in range(3):
        table.cell(r, 0)._tc.get_or_add_tcPr().grid_span = 200_000
    buf = io.BytesIO()
    document.save(buf)
    child = child_import(config, write(tmp_path / "span.docx", buf.getvalue()), tmp_path)
    assert "a cell spans 200000 columns" in error_line(child)


def test_dev_zero_and_a_huge_file_are_refused_early(config, tmp_path):
    child = child_import(config, "/dev/zero", tmp_path, "--format", "csv")
    assert "larger than 20 MB" in error_line(child)
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(2 << 30)  # 2 GB, sparse: nothing of it is read
    child = child_import(config, huge, tmp_path)
    assert "larger than 20 MB" in error_line(child)


def test_too_many_csv_rows_are_refused_with_the_row_limit(config, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("序号,工作任务,牵头单位\n" + "1,x,y\n" * (MAX_ROWS + 5), encoding="utf-8")
    child = child_import(config, path, tmp_path)
    assert f"more than {MAX_ROWS} rows" in error_line(child)


def test_a_csv_field_over_the_limit_names_its_line(config, tmp_path):
    path = tmp_path / "field.csv"
    path.write_text('序号,工作任务,牵头单位\n1,推进,市发改委\n2,"' + "长" * (MAX_CELL_CHARS + 1)
                    + '",市商务局\n', encoding="utf-8")
    child = child_import(config, path, tmp_path)
    line = error_line(child)
    assert "line 3: not a readable CSV row (field larger than field limit" in line


def test_a_text_plan_with_one_endless_line_is_refused(config, tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text("某市2019年重点工作方案\n" + "长" * (MAX_CELL_CHARS + 1), encoding="utf-8")
    child = child_import(config, path, tmp_path)
    assert "line 2: 20001 characters in one line" in error_line(child)


def lead_table(tmp_path, lead: str):  # noqa: ANN001, ANN201
    path = tmp_path / "names.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["序号", "工作任务", "牵头单位", "完成时限"],
                                 ["1", "推进项目。", lead, "2019-06-30"]])
    return path


def test_a_120000_character_name_is_refused_by_the_cell_limit(config, tmp_path):
    child = child_import(config, lead_table(tmp_path, "市" * 120_000), tmp_path)
    assert "line 2: not a readable CSV row (field larger than field limit" in error_line(child)


def test_too_many_departments_in_one_cell_are_refused(config, tmp_path):
    lead = "、".join(f"第{i}局" for i in range(150))
    child = child_import(config, lead_table(tmp_path, lead), tmp_path)
    assert "line 2: task 1 lists 150 lead departments (the limit is 100)" in error_line(child)


def test_a_long_department_name_under_the_cell_limit_is_refused(config, tmp_path):
    child = child_import(config, lead_table(tmp_path, "市" * 500), tmp_path)
    assert "line 2: a department name of 500 characters (the limit is 100)" in error_line(child)


def test_a_csv_row_wider_than_the_column_limit_names_its_line(config, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("序号,工作任务,牵头单位\n1,推进,市发改委" + ",x" * 70 + "\n", encoding="utf-8")
    child = child_import(config, path, tmp_path)
    assert error_line(child).endswith("line 2: 73 columns; a task table has at most 64")


def test_a_plan_text_over_the_character_limit_is_refused_before_parsing(config, tmp_path):
    path = tmp_path / "long.txt"
    line = "1.推进项目建设。(市发改委负责,6月底前完成)\n"
    path.write_text("某市2019年重点工作方案\n" + line * (2_000_000 // len(line) + 1), encoding="utf-8")
    child = child_import(config, path, tmp_path)
    assert "more than 2000000, the limit for a plan" in error_line(child)
