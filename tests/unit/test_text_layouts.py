"""The layouts of issue 12 and domain.md, each in a small document, and the rule that the
reader is never silently wrong (fragments, groups, how sure it is, the plan period)."""

from __future__ import annotations

from datetime import date

import pytest

from notifier.importing.departments import is_group
from notifier.importing.model import Basis, PlanFormatError
from notifier.importing.text import text_to_plan

D = date


def plan_of(text: str, **kw):
    return text_to_plan(text, source="t.txt", **kw)


def only(plan):
    (task,) = plan.tasks
    return task


TITLE_2020 = "湘西自治州2020年深化“放管服”改革优化营商环境工作计划\n"


# --- labels in brackets, a date as the last field ---------------------------------------
def test_a_date_as_the_last_field_in_the_brackets_is_the_tasks_date_not_a_department():
    plan = plan_of(TITLE_2020 + "一、提升政务服务效能\n1.加大简政放权力度。推进相对集中行政许可权改革试点。"
                   "(牵头单位:州行政审批服务局;责任单位:州司法局、州委编办及州直相关单位,"
                   "各县市人民政府,6月底完成)\n")
    t = only(plan)
    assert t.lead == ["州行政审批服务局"] and t.lead_source is Basis.STATED
    assert "6月底完成" not in t.lead + t.responsible + t.cooperating
    assert t.responsible == ["州司法局", "州委编办", "州直相关单位", "各县市人民政府"]
    assert [m.due for m in t.milestones] == [D(2020, 6, 30)] and t.due_source is Basis.STATED


def test_square_brackets_with_a_trailing_role_phrase_and_a_scope_note_carry_units_forward():
    plan = plan_of("四川省“十四五”现代流通体系建设实施方案\n一、深化改革\n"
                   "(一)加强市场体系建设。推进高标准市场体系建设。〔责任单位:省发展改革委、省市场监管局、"
                   "商务厅按职责分工负责。具体任务均涉及相关市(州)人民政府,不再做分工,下同。〕\n"
                   "(二)优化市场准入环境。实施“证照分离”改革。〔责任单位:省市场监管局〕\n")
    first, second = plan.tasks
    assert first.lead == ["省发展改革委"] and first.lead_source is Basis.FIRST_LISTED
    assert first.responsible == ["省发展改革委", "省市场监管局", "商务厅"]
    assert second.lead == ["省市场监管局"]
    assert "相关市(州)人民政府" in second.responsible  # carried by 下同
    assert (plan.starts_on, plan.ends_on) == (D(2021, 1, 1), D(2025, 12, 31))


def test_a_task_without_a_note_after_a_xiatong_note_is_led_by_the_carried_units():
    plan = plan_of("某市2023年工作要点\n一、重点任务\n(一)推进甲。做好甲工作。(市发改委牵头,各区县政府负责,下同)\n"
                   "(二)推进乙。做好乙工作。\n(三)推进丙。做好丙工作。(市财政局负责)\n")
    first, second, third = plan.tasks
    assert second.number == "(二)" and second.lead == ["市发改委"] and second.responsible == ["各区县政府"]
    assert second.lead_source is Basis.CARRIED and second.lead_source.certainty == "inferred"
    assert third.lead == ["市财政局"] and third.lead_source is Basis.FIRST_LISTED


def test_bracketed_label_words_read_like_labels():
    plan = plan_of("某县2024年重点工作方案\n一、重点工作\n1.建设县城污水管网。\n【牵头单位】县住建局\n"
                   "【责任单位】县财政局、各乡镇\n【完成时限】2024年10月底前\n")
    t = only(plan)
    assert (t.lead, t.responsible) == (["县住建局"], ["县财政局", "各乡镇"])
    assert [m.due for m in t.milestones] == [D(2024, 10, 31)]


# --- no 牵头 word -------------------------------------------------------------------------
def test_without_a_qiantou_word_the_first_listed_unit_leads_and_the_plan_says_so():
    plan = plan_of("某市2021年工程建设项目审批制度改革工作方案\n一、主要任务\n1.精简审批环节。"
                   "(责任单位:市行政审批局、住建局、司法局,各市(区)人民政府)\n")
    t = only(plan)
    assert t.lead == ["市行政审批局"] and t.lead_source is Basis.FIRST_LISTED
    assert "各市(区)人民政府" in t.responsible
    assert any("the unit listed first leads (lines 3)" in str(w) for w in plan.warnings)


def test_a_collective_with_fenbie_fuze_and_a_date_phrase_as_last_field():
    plan = plan_of("国务院关于落实2020年《政府工作报告》重点工作部门分工的意见\n一、总体要求\n"
                   "1.坚持稳中求进工作总基调。(国务院各部门分别负责,年内持续推进)\n", year=2020)
    t = only(plan)
    assert t.lead == ["国务院各部门"] and is_group("国务院各部门")
    assert t.lead_source is Basis.FIRST_LISTED
    assert [m.due for m in t.milestones] == [D(2020, 12, 31)]


def test_collective_names_are_groups_not_departments():
    for name in ("各县区政府", "市直各部门", "各有关单位", "市政府各部门", "全区经济运行各专班", "州直相关单位"):
        assert is_group(name), name
    assert not is_group("市发改委")


# --- lead by heading, group-level labels, lone notes, headings as titles ------------------
def test_a_heading_naming_its_lead_leads_every_task_under_it():
    plan = plan_of("某县2022年重点工作分工方案\n一、县示范区管委会牵头工作(8项)\n1.推进园区扩区调位。\n"
                   "2.完成标准厂房建设。\n二、其他工作\n3.做好统计工作。(县统计局负责)\n")
    a, b, c = plan.tasks
    assert a.lead == b.lead == ["县示范区管委会"]
    assert a.lead_source is Basis.HEADING and c.lead_source is Basis.FIRST_LISTED


def test_one_note_after_sub_items_applies_to_each_of_them():
    plan = plan_of("运城市突发事件应急体系建设“十三五”规划责任分解\n(一)“一案三制”建设\n1.完善应急预案体系\n"
                   "(1)加强应急预案管理。\n(2)推进应急预案精编化。\n(3)加强应急预案演练。\n"
                   "(责任单位:市直各有关单位、各县(市、区)人民政府)\n")
    assert [t.title for t in plan.tasks] == ["加强应急预案管理", "推进应急预案精编化", "加强应急预案演练"]
    assert all(t.lead == ["市直各有关单位"] for t in plan.tasks)
    assert (plan.starts_on, plan.ends_on) == (D(2016, 1, 1), D(2020, 12, 31))


def test_sub_items_on_one_line_each_with_its_note_are_separate_tasks():
    plan = plan_of("某市2017年营商环境实施意见\n一、减少审批\n1.深化商事制度改革。(1)落实多证合一。"
                   "(市工商局牵头负责)(2)完善全程电子化登记。(市工商局牵头负责)\n")
    assert [t.title for t in plan.tasks] == ["落实多证合一", "完善全程电子化登记"]
    assert all(t.lead == ["市工商局"] and t.line == 3 for t in plan.tasks)


def test_a_note_on_its_own_line_closes_the_paragraph_above_it():
    plan = plan_of("潍坊市2017年政务公开工作要点实施方案\n一、助力稳增长\n(一)加强预期引导\n"
                   "围绕经济政策执行落实情况,及时宣传解读。\n市发改委牵头落实\n"
                   "加强金融政策信息公开,加大宣传和预期引导。\n市金融办、人民银行潍坊市中心支行分别牵头落实\n")
    a, b = plan.tasks
    assert a.lead == ["市发改委"] and a.line == 4
    assert b.lead == ["市金融办", "人民银行潍坊市中心支行"]


def test_a_short_heading_over_its_paragraph_is_the_tasks_title():
    plan = plan_of("某县2018年脱贫攻坚实施方案\n一、重点任务\n(一)积极实施精准脱贫开发\n"
                   "扶持贫困户发展产业,实现稳定增收。(县扶贫办牵头,县财政局负责)\n")
    t = only(plan)
    assert t.title == "积极实施精准脱贫开发" and t.number == "(一)"
    assert t.text.startswith("扶持贫困户发展产业")


# --- never silently wrong -----------------------------------------------------------------
def test_a_persons_title_in_a_unit_list_is_a_warning_with_its_line_and_a_dry_run_mark():
    plan = plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。\n牵头单位:市商务局、分管副市长\n")
    t = only(plan)
    assert t.lead == ["市商务局"]
    assert any(str(w).startswith("line 4:") and "分管副市长" in str(w) for w in plan.warnings)
    assert any("分管副市长" in note for note in t.notes)


def test_a_verb_phrase_alone_is_never_a_department():
    plan = plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。\n牵头单位:市商务局\n责任单位:按职责分工负责\n")
    t = only(plan)
    assert t.responsible == []
    assert any("按职责分工负责" in str(w) for w in plan.warnings)


def test_a_task_naming_no_unit_has_a_missing_lead():
    plan = plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。\n完成时限:2023年6月底前\n")
    t = only(plan)
    assert t.lead == [] and t.lead_source is Basis.MISSING


def test_an_unreadable_date_makes_the_date_missing_not_the_plan_end():
    plan = plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。\n牵头单位:市商务局\n完成时限:2023年13月\n")
    t = only(plan)
    assert t.due_source is Basis.MISSING
    assert any("2023年13月" in str(w) for w in plan.warnings)


def test_an_undated_task_is_due_at_the_plan_end_and_says_it_was_inferred():
    t = only(plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。(市商务局牵头)\n"))
    assert t.milestones[0].due == D(2023, 12, 31) and t.due_source is Basis.PLAN_END
    assert t.due_source.certainty == "inferred"


# --- the plan period ------------------------------------------------------------------------
def test_the_period_comes_from_the_title_and_a_2030_target_is_a_milestone_not_the_end():
    plan = plan_of("某市脱贫攻坚三年行动计划\n(2017—2020年)\n一、目标\n1.到2030年,全面建成示范区。"
                   "(市发改委牵头)\n2.完善基础设施。(市住建局牵头)\n")
    assert (plan.starts_on, plan.ends_on) == (D(2017, 1, 1), D(2020, 12, 31))
    first, second = plan.tasks
    assert [m.due for m in first.milestones] == [D(2030, 12, 31)]
    assert [m.due for m in second.milestones] == [D(2020, 12, 31)]
    assert any("after the plan's end" in str(w) for w in plan.warnings)


def test_the_year_of_the_doc_number_comes_before_years_printed_in_the_body():
    plan = plan_of("许政 [2020] 20号\n一、疫情防控\n1.坚持常态化防控,2021年完成评估。\n"
                   "责任单位:市卫生健康委\n")
    assert plan.year == 2020


def test_a_task_label_without_a_number_gets_the_next_number_not_its_text_as_number():
    plan = plan_of("某县2023年卫生健康重点任务\n具体任务\n全面落实疫情防控措施,完成发热门诊改造。\n"
                   "责任单位\n卫健局、文旅局\n完成时限\n2023年1月底前\n")
    t = only(plan)
    assert t.number == "1" and t.title.startswith("全面落实疫情防控措施")


def test_the_doc_number_of_a_cited_document_is_not_the_plans_own():
    plan = plan_of("某市促进就业工作方案\n根据《国务院关于做好就业工作的意见》(国发〔2015〕23号),制定本方案。\n"
                   "一、重点任务\n1.开展职业培训,2019年6月底前完成。(责任单位:市人社局)\n")
    assert plan.doc_number is None
    assert plan.year == 2019


def test_a_document_with_only_a_covering_notice_is_refused():
    with pytest.raises(PlanFormatError, match="no task found"):
        plan_of("杭州市人民政府办公厅关于印发2020年政府工作报告重点工作责任分解的通知\n"
                "各区、县(市)人民政府:\n一、各级各部门要确保完成任务,每季度向市政府报告完成情况。\n")


# --- tables copied as text ----------------------------------------------------------------
def test_a_table_with_a_one_line_header_and_rows_split_by_spaces_with_a_blank_merged_cell():
    plan = plan_of("某市2023年重点任务分解表\n序号 主要任务 牵头单位 参与单位 完成时限\n"
                   "1    建设智慧城市平台。    市大数据局    市财政局    2023年6月底前\n"
                   "2    推进老旧小区改造。    市住建局    9月底前\n")
    a, b = plan.tasks
    assert (a.lead, a.cooperating, [m.due for m in a.milestones]) == (["市大数据局"], ["市财政局"], [D(2023, 6, 30)])
    assert (b.lead, b.cooperating, [m.due for m in b.milestones]) == (["市住建局"], [], [D(2023, 9, 30)])
    assert (a.line, b.line) == (3, 4) and a.lead_source is Basis.STATED


def test_a_table_with_one_cell_per_line_a_person_column_and_a_merged_row():
    plan = plan_of("某县2016年民生实事目标任务分解表\n序号\n民生实事\n牵头领导\n责任单位\n完成时限\n"
                   "1\n新建2座人行天桥。\n张三\n县住建局\n9月投入使用\n"
                   "2\n开工建设县老年养护楼。\n李四\n县民政局\n5月底前动工\n开工建设老年大学。\n12月底前\n")
    a, b, c = plan.tasks
    assert a.lead == ["县住建局"] and "张三" not in a.lead + a.responsible
    assert [m.due for m in a.milestones] == [D(2016, 9, 30)]
    assert (c.title, c.lead, c.number) == ("开工建设老年大学", ["县民政局"], "2-2")
    assert a.lead_source is Basis.FIRST_LISTED and a.line == 8 and a.milestones[0].line == 8


def test_table_cells_closed_by_bars_read_like_cells_per_line():
    plan = plan_of("2025年开发区重点工作及责任清单\n序号 |\n重点工作 |\n责任领导 |\n责任单位 |\n完成时限 |\n"
                   "1 |\n全力推进开发区“空间再造”,盘活存量土地400亩。 |\n马振明 |\n改革办 |\n全年 |\n")
    t = only(plan)
    assert (t.lead, t.milestones[0].due) == (["改革办"], D(2025, 12, 31))


# --- traditional characters -------------------------------------------------------------------
def test_traditional_characters_beyond_any_hand_written_table_are_simplified():
    plan = plan_of("鹽城市2024年公共資源交易攻堅行動方案\n一、主要任務\n1.規範招標投標秩序。"
                   "(牽頭單位:市公共資源交易管理辦;責任單位:市發展改革委)\n")
    t = only(plan)
    assert plan.name == "盐城市2024年公共资源交易攻坚行动方案"
    assert t.title == "规范招标投标秩序" and t.lead == ["市公共资源交易管理办"]


def test_a_xiatong_note_stops_at_a_chapter_of_safeguards():
    plan = plan_of("某市2023年工作要点\n一、重点任务\n(一)推进甲。做好甲工作。(市发改委牵头,下同)\n"
                   "(二)推进乙。做好乙工作。\n二、保障措施\n(一)加强组织领导。各单位要高度重视。\n")
    assert [t.number for t in plan.tasks] == ["(一)", "(二)"]


def test_every_task_and_milestone_of_the_two_fixture_plans_records_its_line():
    from notifier.importing.readers import read_plan
    from tests.support.paths import PLANS

    for name in ("panjin-2017-project-construction.txt", "panjin-2018-coastal-economic-belt.txt"):
        plan = read_plan(PLANS / name)
        assert all(t.line and all(m.line for m in t.milestones) for t in plan.tasks), name


def test_a_table_below_notes_is_read_and_the_notes_above_it_are_reported():
    plan = plan_of("某市2023年重点工作方案\n一、任务\n1.推进招商引资。(市商务局牵头)\n附件\n"
                   "序号 主要任务 牵头单位 完成时限\n1    推进招商引资。    市商务局    6月底前\n")
    t = only(plan)
    assert [m.due for m in t.milestones] == [D(2023, 6, 30)]
    assert "1 department notes above it are not imported" in str(plan.warnings[0])


def test_a_note_of_bare_unit_names_stating_the_first_listed_rule_closes_its_sentence():
    plan = plan_of("云府办〔2019〕10号\n一、落实政府职责\n(一)健全管理体制。建立完善学前教育管理体制。"
                   "(市教育局,市委农办,各县<市、区>人民政府,排名第一位为牵头单位,下同)\n")
    t = only(plan)
    assert t.lead == ["市教育局"] and t.responsible == ["市教育局", "市委农办", "各县(市、区)人民政府"]
    assert plan.year == 2019


def test_an_alias_in_parentheses_inside_a_sentence_is_no_note():
    with pytest.raises(PlanFormatError, match="no task found"):
        plan_of("某市2023年工作方案\n一、任务\n1.完善金融服务,由市国资委(市金融办)\n")


def test_a_label_note_stating_the_first_listed_rule_and_xiatong_warns_only_of_the_rule():
    plan = plan_of("韶关市降低企业成本若干政策措施(韶府〔2019〕31号)\n一、政策措施\n1.下调土地使用税税额标准。"
                   "(责任单位:市税务局、市财政局,排在首位的为牵头单位,下同)\n2.落实车船税优惠。\n")
    first, second = plan.tasks
    assert first.lead == ["市税务局"] and first.lead_source is Basis.FIRST_LISTED
    assert [str(w) for w in plan.warnings] == ["line 3: 1 tasks name no 牵头 unit: the unit listed first leads (lines 3)"]
    assert second.lead == ["市税务局"] and second.lead_source is Basis.CARRIED


def test_a_paragraph_wrapped_by_the_copy_is_joined_back():
    plan = plan_of("某市2015年就业创业实施意见\n一、实施就业优先战略\n(一)建立经济发展与扩大就业联动机制。将城镇新增就业纳入经济和社会发展规划及年度\n"
                   "计划。优先安排创造就业岗位多的项目。(责任单位:市发改委、市经信委)\n")
    t = only(plan)
    assert t.title == "建立经济发展与扩大就业联动机制" and t.lead == ["市发改委"] and t.line == 3


def test_labels_on_lines_of_their_own_over_their_values_make_one_task():
    plan = plan_of("具体任务\n全面落实疫情防控要求,守好疫情防线。\n责任单位\n卫健局、文旅局\n配合单位\n各乡镇\n"
                   "完成时限\n发热门诊1月底前完成;其它事项12月底前取得明显成效\n", year=2023)
    t = only(plan)
    assert (t.lead, t.cooperating) == (["卫健局"], ["各乡镇"])
    assert [m.due for m in t.milestones] == [D(2023, 1, 31), D(2023, 12, 31)]


def test_a_note_in_words_after_a_bumen_fengong_label_and_a_title_broken_over_lines():
    plan = plan_of("广东省人民政府印发\n《2023年省〈政府工作报告〉\n工作任务分工方案》\n粮食产量1268万吨以上\n"
                   "部门分工:省农业农村厅牵头,各地、各部门配合。\n")
    t = only(plan)
    assert plan.year == 2023 and t.title == "粮食产量1268万吨以上"
    assert (t.lead, t.cooperating) == (["省农业农村厅"], ["各地", "各部门"])


def test_zhuyao_xiezuo_danwei_is_a_cooperating_label():
    plan = plan_of("县卫健委2021年政府工作报告任务分解\n1.创建国家卫生县城。\n牵头责任单位:县卫健委\n"
                   "主要协作单位:各乡镇人民政府、经济开发区管委会\n")
    t = only(plan)
    assert (t.lead, t.cooperating) == (["县卫健委"], ["各乡镇人民政府", "经济开发区管委会"])
