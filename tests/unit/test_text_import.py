"""Plan text (formats A, B, C of domain.md): the two real plans and small documents."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from notifier.importing.model import PlanFormatError
from notifier.importing.readers import read_plan
from notifier.importing.text import text_to_plan

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"
PLAN_2018 = PLANS / "panjin-2018-coastal-economic-belt.txt"
PLAN_2017 = PLANS / "panjin-2017-project-construction.txt"
CSV_2018 = Path(__file__).resolve().parents[1] / "fixtures" / "panjin-2018.csv"
D = date

def needs_fixtures(test):  # the plans ship in tests/fixtures: these tests never skip
    return test


def plan_of(text: str, **kw):
    return text_to_plan(text, source="t.txt", **kw)


def task(plan, number):
    return next(t for t in plan.tasks if t.number == number)


# --- the 2018 plan (format A + headline indicators) -----------------------------
@needs_fixtures
def test_2018_plan_has_48_numbered_tasks_and_5_indicators():
    plan = read_plan(PLAN_2018)
    assert [t.number for t in plan.tasks] == [f"指标{i}" for i in range(1, 6)] + [
        str(i) for i in range(1, 49)]


@needs_fixtures
def test_2018_plan_has_83_dated_milestones_and_one_quarterly_report():
    plan = read_plan(PLAN_2018)
    dated = [m for t in plan.tasks for m in t.milestones if not m.recurrence]
    assert len(dated) == 83
    from_time_nodes = [m for t in plan.tasks if not t.number.startswith("指标") for m in t.milestones
                       if not m.recurrence]
    assert len(from_time_nodes) == 78
    (report,) = task(plan, "45").milestones
    assert (report.recurrence, report.due, report.phrase) == ("quarterly", D(2018, 12, 31), "每季度")
    assert plan.warnings == []


@needs_fixtures
def test_2018_indicators_are_due_at_the_end_of_the_plan_year_with_their_lead():
    plan = read_plan(PLAN_2018)
    leads = [task(plan, f"指标{i}").lead for i in range(1, 6)]
    assert leads == [["市发改委"], ["市发改委"], ["市财政局"], ["市工信委"], ["市发改委"]]
    for i in range(1, 6):
        (m,) = task(plan, f"指标{i}").milestones
        assert m.due == D(2018, 12, 31)
    assert task(plan, "指标1").title == "地区生产总值增长7.5%"


@needs_fixtures
def test_2018_metadata_title_doc_number_issuer_and_period():
    plan = read_plan(PLAN_2018)
    assert plan.name == "盘锦市推进沿海经济带建设2018年工作实施方案"
    assert plan.doc_number == "盘政办发〔2018〕23号"
    assert plan.issuer == "盘锦市人民政府办公室"
    assert plan.issued_on == D(2018, 5, 10)
    assert (plan.year, plan.starts_on, plan.ends_on) == (2018, D(2018, 1, 1), D(2018, 12, 31))


@needs_fixtures
def test_2018_task_3_has_its_three_time_nodes():
    t3 = task(read_plan(PLAN_2018), "3")
    assert t3.title == "提升港口能力能级"
    assert (t3.lead, t3.responsible, t3.cooperating) == (["辽东湾新区管委会"], ["市港口与口岸局"], ["市发改委"])
    assert [(m.due, m.phrase, m.text) for m in t3.milestones] == [
        (D(2018, 6, 30), "2018年6月底前", "完成301#油品泊位、331#—332#液体化工品泊位配套建设"),
        (D(2018, 9, 30), "9月底前", "完成304#油品及液体化工品泊位建设"),
        (D(2018, 12, 31), "12月底前", "重点工作取得阶段性成果"),
    ]


@needs_fixtures
def test_2018_exact_departments_of_sample_tasks():
    plan = read_plan(PLAN_2018)
    assert task(plan, "31").lead == ["市国资委(市金融办)"]
    assert task(plan, "10").responsible == ["市发改委(市开放办)"]
    assert task(plan, "2").cooperating == ["市工信委", "市商务局", "盘锦海关"]  # (原…) dropped
    assert task(plan, "12").lead[1] == "辽河口生态经济区管委会" and len(task(plan, "12").lead) == 5
    assert task(plan, "42").lead == ["市农委", "市畜牧兽医局", "市环保局"]
    assert task(plan, "48").lead == ["市委督查室", "市政府督查室"]
    assert task(plan, "30").cooperating[-1] == "市林园局"  # trailing 等 dropped


@needs_fixtures
def test_2018_task_8_keeps_milestones_that_share_a_date():
    t8 = task(read_plan(PLAN_2018), "8")
    assert [m.due for m in t8.milestones] == [
        D(2018, 5, 31), D(2018, 12, 31), D(2018, 9, 30), D(2018, 12, 31), D(2018, 12, 31)]


@needs_fixtures
def test_2018_text_and_csv_fixture_agree_on_every_task():
    text, table = read_plan(PLAN_2018), read_plan(CSV_2018)
    assert [t.number for t in text.tasks] == [t.number for t in table.tasks]
    for a, b in zip(text.tasks, table.tasks, strict=True):
        assert (a.lead, a.responsible, a.cooperating) == (b.lead, b.responsible, b.cooperating), a.number
        assert [(m.due, m.recurrence) for m in a.milestones] == [
            (m.due, m.recurrence) for m in b.milestones], a.number


@needs_fixtures
def test_2018_evidence_points_at_the_lines_read():
    t3 = task(read_plan(PLAN_2018), "3")
    assert t3.evidence["lead"] == "line 66: 牵头部门:辽东湾新区管委会"
    assert t3.evidence["due"].startswith("line 72: 时间节点:2018年6月底前")
    assert t3.evidence["title"].startswith("line 64: 3.提升港口能力能级")
    assert [m.line for m in t3.milestones] == [72, 72, 72]


# --- the 2017 plan (format B) ------------------------------------------------------
LEADS_2017 = {
    "(一)": ["市经合局"],
    "(二)": ["市行政审批服务局"],
    "(三)": ["市发改委", "市经信委"],
    "(四)": ["各县区政府", "经济区管委会"],
    "(五)": ["市科技局", "各县区政府", "经济区管委会"],
    "(六)": ["市国土资源局"],
    "(七)": ["市国资委(金融办)"],
    "(八)": ["市国资委", "市发改委"],
    "(九)": ["市人社局"],
}


@needs_fixtures
def test_2017_plan_has_nine_task_groups_with_their_leads_due_at_year_end():
    plan = read_plan(PLAN_2017)
    groups = [t for t in plan.tasks if t.number in LEADS_2017]
    assert {t.number: t.lead for t in groups} == LEADS_2017
    for t in groups:
        assert any(m.due == D(2017, 12, 31) and m.phrase == "2017年末" for m in t.milestones)
    assert task(plan, "(一)").responsible == ["各县区政府", "经济区管委会"]
    assert task(plan, "(一)").title == "狠抓招商引资"


@needs_fixtures
def test_2017_sub_items_are_the_group_tasks_content():
    plan = read_plan(PLAN_2017)
    text = task(plan, "(一)").text
    assert "1.围绕重点区域开展招商" in text and "3.以港澳台" in text


@needs_fixtures
def test_2017_monthly_report_on_the_25th_is_a_recurring_milestone():
    plan = read_plan(PLAN_2017)
    reports = [(t, m) for t in plan.tasks for m in t.milestones if m.recurrence]
    assert len(reports) == 1
    t, m = reports[0]
    assert (m.recurrence, m.due, m.phrase) == ("monthly:25", D(2017, 12, 25), "每月25日前")
    assert t.lead == ["市发改委"] and t.number == "三(四)"
    assert any("每月25日前" in str(w) and str(w).startswith(f"line {t.line}:") for w in plan.warnings)


@needs_fixtures
def test_2017_metadata_from_a_cluttered_web_page():
    plan = read_plan(PLAN_2017)
    assert plan.name == "盘锦市全面推进项目建设专项行动计划"
    assert plan.doc_number == "盘政办发〔2017〕12号"
    assert plan.issuer == "盘锦市人民政府办公室"
    assert plan.issued_on == D(2017, 2, 13)
    assert (plan.year, plan.ends_on) == (2017, D(2017, 12, 31))


# --- format C and small documents ---------------------------------------------------
FORMAT_C = """\
辽宁省现代农业发展三年行动计划（2018—2020年）

一、重点任务

（一）发展现代畜牧业

1.推进标准化养殖。到2020年，新建标准化养殖小区100个。（市农委牵头，市财政局、市水务局负责）

2.加强城乡规划。2018年末通过省级评审，2019年达到73%。（市发展改革委、市住建委负责）

3.持续推进农业面源污染治理，长期坚持。（市环保局负责，各县区政府配合）
"""


def test_format_c_inline_note_with_qiantou_names_the_lead():
    t1 = task(plan_of(FORMAT_C), "1")
    assert (t1.lead, t1.responsible) == (["市农委"], ["市财政局", "市水务局"])
    assert t1.text == "推进标准化养殖。到2020年,新建标准化养殖小区100个"
    (m,) = t1.milestones
    assert (m.due, m.phrase, m.text) == (D(2020, 12, 31), "到2020年", "到2020年,新建标准化养殖小区100个")


def test_format_c_without_qiantou_every_department_is_responsible_and_the_first_leads():
    t2 = task(plan_of(FORMAT_C), "2")
    assert t2.lead == ["市发展改革委"]
    assert t2.responsible == ["市发展改革委", "市住建委"]
    assert [(m.due, m.text) for m in t2.milestones] == [
        (D(2018, 12, 31), "2018年末通过省级评审"), (D(2019, 12, 31), "2019年达到73%")]


def test_format_c_multi_year_plan_spans_its_title_range_and_undated_task_is_due_at_its_end():
    plan = plan_of(FORMAT_C)
    assert (plan.year, plan.starts_on, plan.ends_on) == (2018, D(2018, 1, 1), D(2020, 12, 31))
    t3 = task(plan, "3")
    assert t3.cooperating == ["各县区政府"]
    (m,) = t3.milestones
    assert (m.due, m.phrase) == (D(2020, 12, 31), "")


def test_format_c_ascii_and_full_width_punctuation_give_the_same_plan():
    ascii_ = FORMAT_C.replace("，", ",").replace("（", "(").replace("）", ")").replace("。", "。")
    a, b = plan_of(ascii_), plan_of(FORMAT_C)
    assert [(t.number, t.lead, t.responsible, [m.due for m in t.milestones]) for t in a.tasks] == [
        (t.number, t.lead, t.responsible, [m.due for m in t.milestones]) for t in b.tasks]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_text_file_reads_the_same_in_utf8_bom_and_gb18030(tmp_path, encoding):
    p = tmp_path / "plan.txt"
    p.write_bytes(FORMAT_C.encode(encoding))
    plan = read_plan(p)
    assert task(plan, "1").lead == ["市农委"]
    assert plan.source_hash == plan_of(FORMAT_C).source_hash


def test_auto_detects_text_without_extension(tmp_path):
    p = tmp_path / "plan"
    p.write_bytes(FORMAT_C.encode("gb18030"))
    assert len(read_plan(p).tasks) == 3


FULL_WIDTH_A = """\
某市2019年重点工作实施方案

（一）加快项目建设

1．推进重点项目。全年实施亿元以上项目300个。
牵頭單位：市發展改革委，配合單位：市財政局、市統計局
時間節點：2019年6月底前，完成年度计划的50%；三季度末，完成80%；年底前全部完成。
牵头负责领导：张三

2．强化要素保障。
牵头单位：市自然资源局（原市国土资源局）
责任单位：各县区政府
完成时限：于2019年4月15日、7月15日、10月15日及2020年1月15日前报送进展
"""


def test_full_width_and_traditional_labels_on_one_line_read_like_format_a():
    t1 = task(plan_of(FULL_WIDTH_A), "1")
    assert t1.lead == ["市发展改革委"] and t1.cooperating == ["市财政局", "市统计局"]
    assert [(m.due, m.phrase) for m in t1.milestones] == [
        (D(2019, 6, 30), "2019年6月底前"), (D(2019, 9, 30), "三季度末"), (D(2019, 12, 31), "年底前")]


def test_person_label_is_not_a_department():
    plan = plan_of(FULL_WIDTH_A)
    assert "张三" not in plan.departments()


def test_list_sharing_a_year_gives_four_milestones_and_historical_note_is_dropped():
    t2 = task(plan_of(FULL_WIDTH_A), "2")
    assert t2.lead == ["市自然资源局"]
    assert [m.due for m in t2.milestones] == [D(2019, 4, 15), D(2019, 7, 15), D(2019, 10, 15), D(2020, 1, 15)]


def test_plan_year_comes_from_the_title():
    plan = plan_of(FULL_WIDTH_A)
    assert (plan.name, plan.year, plan.ends_on) == ("某市2019年重点工作实施方案", 2019, D(2019, 12, 31))


def test_year_option_overrides_the_document():
    plan = plan_of(FORMAT_C.replace("（2018—2020年）", ""), year=2021)
    assert plan.year == 2021 and task(plan, "3").milestones[0].due == D(2021, 12, 31)


FORMAT_B = """\
某区2020年项目建设行动计划

（一）狠抓招商引资。2020年重点完成以下任务：
1.开展招商活动10次。
2.9月30日前举办推介会。
完成时限：2020年末
牵头单位：区经合局
责任单位：各街道

（二）优化营商环境。
1.推行全程代办。
2.压缩审批时限。
时间节点：上半年完成方案，年底前全面推行
牵头单位：区营商局
"""


def test_format_b_labels_after_sub_items_belong_to_the_group():
    plan = plan_of(FORMAT_B)
    assert [t.number for t in plan.tasks] == ["(一)", "(二)"]
    g1, g2 = plan.tasks
    assert g1.lead == ["区经合局"] and g1.responsible == ["各街道"]
    assert [(m.due, m.phrase) for m in g1.milestones] == [
        (D(2020, 9, 30), "9月30日前"), (D(2020, 12, 31), "2020年末")]
    assert [m.due for m in g2.milestones] == [D(2020, 6, 30), D(2020, 12, 31)]


def test_items_numbered_again_in_each_group_get_the_group_prefix():
    text = """某市2019年工作方案
（一）甲组
1.甲一。
牵头单位：市发改委
2.甲二。
牵头单位：市财政局
（二）乙组
1.乙一。
牵头单位：市农委
"""
    assert [t.number for t in plan_of(text).tasks] == ["(一)1", "(一)2", "(二)1"]


def test_unreadable_date_is_a_warning_naming_the_line_not_a_guess():
    text = """某市2019年工作方案
1.推进项目。
牵头单位：市发改委
时间节点：2019年13月底前完成
"""
    plan = plan_of(text)
    assert [str(w) for w in plan.warnings] == ['line 4: cannot read date "2019年13月底前" (no month 13)']
    (m,) = plan.tasks[0].milestones
    assert (m.due, m.phrase) == (D(2019, 12, 31), "")  # due at the plan's end, said so above


def test_web_clutter_and_notice_give_metadata_but_no_tasks():
    text = """您现在所在的位置：首页 > 政府文件
发布时间：2019-03-02 浏览次数：12
某市人民政府办公室关于印发某市2019年工作方案的通知
某政办发[2019]7号
某市人民政府办公室
二〇一九年三月一日
某市2019年工作方案
1.推进项目。（市发改委负责）
"""
    plan = plan_of(text)
    assert plan.doc_number == "某政办发〔2019〕7号"
    assert plan.issuer == "某市人民政府办公室"
    assert plan.issued_on == D(2019, 3, 1)
    assert plan.name == "某市2019年工作方案"
    assert [t.number for t in plan.tasks] == ["1"]


def test_document_without_tasks_is_rejected():
    with pytest.raises(PlanFormatError, match="no task found"):
        plan_of("某市2019年工作方案\n一、总体要求\n坚持新发展理念。\n")


def test_document_without_any_year_asks_for_year():
    with pytest.raises(PlanFormatError, match="--year"):
        plan_of("某市工作方案\n1.推进项目。（市发改委负责）\n")


def test_lead_marked_in_the_responsible_list_becomes_the_lead():
    text = "某市2019年工作方案\n1.推进项目。\n责任单位：市农委（牵头）、市财政局\n时间节点：6月底前\n"
    (t,) = plan_of(text).tasks
    assert (t.lead, t.responsible) == (["市农委"], ["市财政局"])


def test_an_item_ending_in_fang_an_is_not_taken_for_the_title():
    text = "1.制定实施方案\n牵头单位：市发改委\n时间节点：2019年6月底前\n"
    plan = plan_of(text)
    assert [t.number for t in plan.tasks] == ["1"] and plan.name == "t"


def test_labels_in_a_closing_parenthesis_read_like_label_lines():
    text = "某市2019年工作方案\n1.推进项目。（牵头单位：市发改委；配合单位：市财政局；完成时限：2019年底）\n"
    (t,) = plan_of(text).tasks
    assert (t.lead, t.cooperating) == (["市发改委"], ["市财政局"])
    assert [(m.due, m.phrase) for m in t.milestones] == [(D(2019, 12, 31), "2019年底")]
