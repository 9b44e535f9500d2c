"""DOCX and XLSX plans, built in tmp_path: text through text.py, tables through table.py."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest

from notifier.importing.model import PlanFormatError
from notifier.importing.readers import read_plan

D = date
HEADER = ["序号", "工作任务", "牵头单位", "责任单位", "配合单位", "完成时限", "节点内容"]


def make_docx(path: Path, paragraphs: list[str], tables: list[list[list[str]]] = ()) -> Path:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    for rows in tables:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
    document.save(path)
    return path


NOTICE = ["某市人民政府办公室关于印发某市2019年重点工作方案的通知",
          "某政办发〔2019〕5号", "某市人民政府办公室", "2019年2月1日", "某市2019年重点工作方案"]


def test_docx_paragraphs_are_read_as_plan_text(tmp_path):
    p = make_docx(tmp_path / "plan.docx", NOTICE + [
        "一、重点任务",
        "1.推进重点项目。全年实施亿元以上项目300个。",
        "牵头单位：市发展改革委",
        "配合单位：市财政局、市统计局",
        "时间节点：2019年6月底前，完成50%；12月底前，全部完成。",
        "2.加强城乡规划。2019年末通过省级评审。（市住建委、市规划局负责）",
    ])
    plan = read_plan(p)
    assert (plan.name, plan.year, plan.doc_number, plan.issued_on) == (
        "某市2019年重点工作方案", 2019, "某政办发〔2019〕5号", D(2019, 2, 1))
    t1, t2 = plan.tasks
    assert t1.lead == ["市发展改革委"] and t1.cooperating == ["市财政局", "市统计局"]
    assert [m.due for m in t1.milestones] == [D(2019, 6, 30), D(2019, 12, 31)]
    assert t2.lead == ["市住建委"] and t2.milestones[0].due == D(2019, 12, 31)


def test_docx_task_table_is_read_through_the_table_reader_with_notice_metadata(tmp_path):
    rows = [HEADER,
            ["1", "推进重点项目。", "市发改委", "", "市财政局", "2019-06-30", "完成50%"],
            ["1", "推进重点项目。", "市发改委", "", "市财政局", "2019-12-31", "全部完成"],
            ["2", "优化营商环境。", "市营商局", "各县区政府", "", "每季度", "报送进展"]]
    p = make_docx(tmp_path / "plan.docx", NOTICE + ["附件：任务分解表"], [rows])
    plan = read_plan(p)
    assert plan.name == "某市2019年重点工作方案" and plan.doc_number == "某政办发〔2019〕5号"
    assert plan.issuer == "某市人民政府办公室"
    t1, t2 = plan.tasks
    assert [(m.due, m.text) for m in t1.milestones] == [(D(2019, 6, 30), "完成50%"),
                                                       (D(2019, 12, 31), "全部完成")]
    assert t2.milestones[0].recurrence == "quarterly"


def test_docx_vertically_merged_task_cells_carry_down(tmp_path):
    document = docx.Document()
    document.add_paragraph("某市2019年重点工作方案")
    table = document.add_table(rows=3, cols=4)
    for c, v in enumerate(["序号", "工作任务", "牵头单位", "完成时限"]):
        table.cell(0, c).text = v
    for c, v in enumerate(["1", "推进重点项目。", "市发改委"]):
        table.cell(1, c).text = v
        table.cell(1, c).merge(table.cell(2, c))
    table.cell(1, 3).text = "6月底前"
    table.cell(2, 3).text = "9月底前"
    path = tmp_path / "merged.docx"
    document.save(path)
    (task,) = read_plan(path).tasks
    assert task.lead == ["市发改委"]
    assert [m.due for m in task.milestones] == [D(2019, 6, 30), D(2019, 9, 30)]


def test_docx_table_split_over_pages_repeating_its_header_is_one_table(tmp_path):
    first = [HEADER, ["1", "甲。", "市发改委", "", "", "2019-06-30", ""]]
    second = [HEADER, ["2", "乙。", "市财政局", "", "", "2019-09-30", ""]]
    plan = read_plan(make_docx(tmp_path / "plan.docx", ["某市2019年重点工作方案"], [first, second]))
    assert [t.number for t in plan.tasks] == ["1", "2"]


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]], merges: dict[str, list[str]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
    wb.save(path)
    return path


def test_xlsx_header_found_below_the_title_with_merged_task_cells_and_real_dates(tmp_path):
    rows = [["某市2019年重点工作方案任务分解表"], [],
            HEADER,
            [1, "推进重点项目。", "市发改委", None, "市财政局", datetime(2019, 6, 30), "完成50%"],
            [None, None, None, None, None, datetime(2019, 12, 31), "全部完成"],
            [2, "优化营商环境。", "市营商局", "各县区政府", None, "三季度末", None]]
    p = make_xlsx(tmp_path / "plan.xlsx", {"分解表": rows},
                  {"分解表": ["A1:G1", "A4:A5", "B4:B5", "C4:C5", "E4:E5"]})
    plan = read_plan(p)
    assert (plan.name, plan.year) == ("某市2019年重点工作方案", 2019)
    t1, t2 = plan.tasks
    assert t1.number == "1" and t1.lead == ["市发改委"] and t1.cooperating == ["市财政局"]
    assert [(m.due, m.line) for m in t1.milestones] == [(D(2019, 6, 30), 4), (D(2019, 12, 31), 5)]
    assert t2.milestones[0].due == D(2019, 9, 30)


def test_xlsx_bad_due_names_the_sheet_row_and_column(tmp_path):
    rows = [HEADER, [1, "甲。", "市发改委", None, None, "2019年13月", None]]
    with pytest.raises(PlanFormatError, match=r'^row 2, column 完成时限: cannot read date "2019年13月"$'):
        read_plan(make_xlsx(tmp_path / "plan.xlsx", {"Sheet1": rows}))


def test_xlsx_first_sheet_with_a_header_is_used(tmp_path):
    sheets = {"说明": [["本表说明"]],
              "任务": [["No", "Task", "Lead", "Due"], [1, "Build the port.", "Port Office", "2019-06-30"]]}
    (task,) = read_plan(make_xlsx(tmp_path / "plan.xlsx", sheets)).tasks
    assert task.lead == ["Port Office"]


def test_xlsx_without_a_task_header_is_rejected(tmp_path):
    with pytest.raises(PlanFormatError, match="no sheet has a header row"):
        read_plan(make_xlsx(tmp_path / "plan.xlsx", {"Sheet1": [["a", "b"], [1, 2]]}))


def test_format_is_detected_from_zip_content_not_the_extension(tmp_path):
    x = make_xlsx(tmp_path / "a.bin", {"S": [HEADER, [1, "甲。", "市发改委", None, None, "2019-06-30", None]]})
    d = make_docx(tmp_path / "b.bin", ["某市2019年重点工作方案", "1.甲。（市发改委负责）"])
    assert read_plan(x).tasks[0].lead == ["市发改委"]
    assert read_plan(d).tasks[0].lead == ["市发改委"]


def test_forced_format_reads_a_misnamed_file(tmp_path):
    p = tmp_path / "plan.txt"
    p.write_text("序号,工作任务,牵头单位,完成时限\n1,甲。,市发改委,2019-06-30\n", encoding="utf-8")
    assert read_plan(p, fmt="csv").tasks[0].milestones[0].due == D(2019, 6, 30)


def test_unknown_format_and_missing_file_are_plan_format_errors(tmp_path):
    with pytest.raises(PlanFormatError, match="unknown format"):
        read_plan(tmp_path / "x.csv", fmt="pdf")
    with pytest.raises(PlanFormatError, match="cannot read the file"):
        read_plan(tmp_path / "missing.csv")
