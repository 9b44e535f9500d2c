"""Task tables (format D) as CSV: header detection, encodings, carry-down, errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from notifier.importing.encoding import decode_bytes
from notifier.importing.model import PlanFormatError
from notifier.importing.readers import read_plan
from notifier.importing.table import rows_to_plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "panjin-2018.csv"

CSV = """序号,工作任务,牵头单位,责任单位,配合单位,完成时限,节点内容
1,提升港口能力能级。港口年通过能力达到7000万吨。,辽东湾新区管委会,市港口与口岸局,市发改委,2018-06-30,完成301#油品泊位配套建设
,,,,,2018-09-30,完成304#油品泊位建设
2,推进智慧港口建设。,市港口与口岸局,辽东湾新区管委会、盘锦海关,盘锦海事局,12月底前,应用率达到70%以上
"""


def write(tmp_path: Path, data: bytes, name: str = "plan.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_fixture_csv_has_53_tasks_83_dated_milestones_and_one_quarterly_report():
    plan = read_plan(FIXTURE)
    assert plan.year == 2018
    assert (plan.starts_on, plan.ends_on) == (date(2018, 1, 1), date(2018, 12, 31))
    assert len(plan.tasks) == 53
    assert [t.number for t in plan.tasks[:6]] == ["指标1", "指标2", "指标3", "指标4", "指标5", "1"]
    dated = [m for t in plan.tasks for m in t.milestones if not m.recurrence]
    assert len(dated) == 83
    (report,) = next(t for t in plan.tasks if t.number == "45").milestones
    assert report.recurrence == "quarterly" and report.due == date(2018, 12, 31)
    assert plan.warnings == []


def test_fixture_csv_task_3_has_three_milestones_and_task_31_keeps_the_alias():
    plan = read_plan(FIXTURE)
    t3 = next(t for t in plan.tasks if t.number == "3")
    assert [m.due for m in t3.milestones] == [date(2018, 6, 30), date(2018, 9, 30), date(2018, 12, 31)]
    assert t3.lead == ["辽东湾新区管委会"] and t3.responsible == ["市港口与口岸局"]
    t31 = next(t for t in plan.tasks if t.number == "31")
    assert t31.lead == ["市国资委(市金融办)"]
    t2 = next(t for t in plan.tasks if t.number == "2")
    assert "盘锦海关" in t2.cooperating  # the historical note (原…) is dropped


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_reads_the_same_in_utf8_bom_and_gb18030(tmp_path, encoding):
    plan = read_plan(write(tmp_path, CSV.encode(encoding)), year=2018)
    assert [t.number for t in plan.tasks] == ["1", "2"]
    assert plan.tasks[0].lead == ["辽东湾新区管委会"]
    assert plan.tasks[1].milestones[0].due == date(2018, 12, 31)


def test_source_hash_is_the_same_for_every_encoding(tmp_path):
    hashes = {read_plan(write(tmp_path, CSV.encode(enc), f"{enc}.csv"), year=2018).source_hash
              for enc in ("utf-8", "utf-8-sig", "gb18030")}
    assert len(hashes) == 1


def test_decode_bytes_strips_bom_and_falls_back_to_gb18030():
    assert decode_bytes("牵头单位".encode("utf-8-sig")) == "牵头单位"
    assert decode_bytes("牵头单位".encode("gb18030")) == "牵头单位"
    assert decode_bytes("牵头单位".encode("utf-8")) == "牵头单位"


def test_decode_bytes_rejects_binary_garbage_with_plan_format_error():
    with pytest.raises(PlanFormatError):
        decode_bytes(b"\x81\x20\xff\xfe\x00\x81")


def test_header_is_found_below_a_title_and_the_title_names_the_plan_and_year():
    rows = [
        ["盘锦市推进沿海经济带建设2019年工作实施方案任务分解表", "", ""],
        ["", "", ""],
        ["序号", "重点任务", "牵头部门", "时间节点"],
        ["1", "推进港口建设。", "市发改委", "6月底前"],
    ]
    plan = rows_to_plan(rows, source="t.csv", year=None, plan_name=None)
    assert plan.year == 2019
    assert plan.name == "盘锦市推进沿海经济带建设2019年工作实施方案"
    assert plan.tasks[0].milestones[0].due == date(2019, 6, 30)
    assert plan.tasks[0].line == 4


def test_english_headers_are_understood():
    rows = [["No", "Task", "Lead", "Responsible", "Cooperating", "Due", "Milestone"],
            ["1", "Build the port.", "Port Authority", "Harbour Office", "Customs",
             "2018-06-30", "berth done"]]
    (task,) = rows_to_plan(rows, source="t.csv", year=None, plan_name="Port plan").tasks
    assert task.lead == ["Port Authority"] and task.cooperating == ["Customs"]
    assert task.milestones[0].due == date(2018, 6, 30)
    assert task.milestones[0].text == "berth done"


def test_traditional_and_full_width_headers_read_like_simplified():
    rows = [["序號", "工作任務", "牽頭單位", "完成時限"],
            ["1", "推進港口建設。", "市發改委（市開放辦）", "２０１８年６月底前"]]
    (task,) = rows_to_plan(rows, source="t.csv", year=None, plan_name=None).tasks
    assert task.lead == ["市发改委(市开放办)"]
    assert task.milestones[0].due == date(2018, 6, 30)


def test_unreadable_due_names_row_and_column(tmp_path):
    data = (CSV + "3,加强湿地保护。,市林园局,,,2018年13月,\n").encode()
    with pytest.raises(PlanFormatError) as err:
        read_plan(write(tmp_path, data))
    assert str(err.value) == 'row 5, column 完成时限: cannot read date "2018年13月"'


def test_missing_lead_on_a_new_task_names_row_and_column():
    rows = [["序号", "工作任务", "牵头单位", "完成时限"],
            ["1", "甲。", "市发改委", "2018-06-30"],
            ["2", "乙。", "", "2018-09-30"]]
    with pytest.raises(PlanFormatError, match=r"^row 3, column 牵头单位: "):
        rows_to_plan(rows, source="t.csv", year=None, plan_name=None)


def test_empty_task_cells_carry_the_value_from_above_like_merged_cells():
    plan = rows_to_plan([r.split(",") for r in CSV.strip().splitlines()], source="t.csv",
                        year=None, plan_name=None)
    first = plan.tasks[0]
    assert [m.due for m in first.milestones] == [date(2018, 6, 30), date(2018, 9, 30)]
    assert [m.line for m in first.milestones] == [2, 3]
    assert first.milestones[1].text == "完成304#油品泊位建设"
    assert len(plan.tasks) == 2


def test_one_due_cell_with_several_phrases_gives_several_milestones():
    rows = [["序号", "工作任务", "牵头单位", "完成时限"],
            ["1", "甲。", "市发改委", "2018年6月底前,完成A;9月底前,完成B"]]
    (task,) = rows_to_plan(rows, source="t.csv", year=None, plan_name=None).tasks
    assert [(m.due, m.text) for m in task.milestones] == [
        (date(2018, 6, 30), "完成A"), (date(2018, 9, 30), "完成B")]


def test_task_without_date_is_due_at_plan_end():
    rows = [["序号", "工作任务", "牵头单位", "完成时限"],
            ["1", "持续改善环境。", "市环保局", "长期坚持"]]
    (task,) = rows_to_plan(rows, source="t.csv", year=2020, plan_name=None).tasks
    (m,) = task.milestones
    assert m.due == date(2020, 12, 31) and m.text == "持续改善环境" and m.phrase == ""


def test_without_a_lead_column_the_first_responsible_department_leads():
    rows = [["序号", "工作任务", "责任单位", "完成时限"],
            ["1", "甲。", "市农委、市财政局", "2018-06-30"]]
    (task,) = rows_to_plan(rows, source="t.csv", year=None, plan_name=None).tasks
    assert task.lead == ["市农委"] and task.responsible == ["市农委", "市财政局"]


def test_section_heading_rows_are_skipped():
    rows = [["序号", "工作任务", "牵头单位", "完成时限"],
            ["一", "以项目建设为重点", "", ""],
            ["1", "甲。", "市发改委", "2018-06-30"]]
    plan = rows_to_plan(rows, source="t.csv", year=None, plan_name=None)
    assert [t.number for t in plan.tasks] == ["1"]


def test_table_without_header_is_rejected():
    with pytest.raises(PlanFormatError, match="no header row"):
        rows_to_plan([["a", "b"], ["c", "d"]], source="t.csv", year=2018, plan_name=None)


def test_no_year_anywhere_asks_for_year():
    rows = [["序号", "工作任务", "牵头单位", "完成时限"], ["1", "甲。", "市发改委", "6月底前"]]
    with pytest.raises(PlanFormatError, match="--year"):
        rows_to_plan(rows, source="t.csv", year=None, plan_name=None)


def test_evidence_names_row_and_column():
    plan = read_plan(FIXTURE)
    t3 = next(t for t in plan.tasks if t.number == "3")
    assert t3.evidence["lead"] == "row 9, column 牵头单位: 辽东湾新区管委会"


def test_auto_detects_csv_content_without_extension(tmp_path):
    plan = read_plan(write(tmp_path, CSV.encode("gb18030"), "plan.dat"), year=2018)
    assert len(plan.tasks) == 2


def test_a_leaders_column_named_qiantou_lingdao_is_people_not_the_lead_department():
    plan = rows_to_plan([["序号", "工作任务", "牵头领导", "牵头单位", "完成时限"],
                         ["1", "推进智慧港口建设。", "张三副市长", "市港口与口岸局", "2018-12-31"]],
                        source="t.csv", year=2018)
    (task,) = plan.tasks
    assert task.lead == ["市港口与口岸局"]
