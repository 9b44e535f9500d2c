"""The date-phrase grammar of domain.md, one row per form."""

from __future__ import annotations

from datetime import date

import pytest

from notifier.importing.dates import (
    DateError,
    find_dates,
    last_occurrence,
    month_end,
    parse_due_cell,
    scan_dates,
    with_year,
)

D = date

# (text, [(due, phrase, recurrence)]) with default year 2018.
SINGLE = [
    # months and days
    ("2018年6月底前,完成", D(2018, 6, 30), "2018年6月底前"),
    ("6月底前", D(2018, 6, 30), "6月底前"),
    ("12月底", D(2018, 12, 31), "12月底"),
    ("12月末前", D(2018, 12, 31), "12月末前"),
    ("9月30日前", D(2018, 9, 30), "9月30日前"),
    ("2018年5月10日", D(2018, 5, 10), "2018年5月10日"),
    ("2月底前", D(2018, 2, 28), "2月底前"),
    ("6月份", D(2018, 6, 30), "6月份"),
    ("7月上旬", D(2018, 7, 10), "7月上旬"),
    ("7月中旬", D(2018, 7, 20), "7月中旬"),
    ("7月下旬", D(2018, 7, 31), "7月下旬"),
    ("2018年1-6月完成", D(2018, 6, 30), "2018年1-6月"),
    ("2018-06-30", D(2018, 6, 30), "2018-06-30"),
    ("2018/6/30", D(2018, 6, 30), "2018/6/30"),
    # years
    ("2017年末", D(2017, 12, 31), "2017年末"),
    ("年底前", D(2018, 12, 31), "年底前"),
    ("今年底前完成", D(2018, 12, 31), "年底前"),
    ("年内完成", D(2018, 12, 31), "年内"),
    ("2025年底", D(2025, 12, 31), "2025年底"),
    ("至2025年底", D(2025, 12, 31), "至2025年底"),
    ("到2020年,新建标准化养殖小区100个", D(2020, 12, 31), "到2020年"),
    ("2019年达到73%", D(2019, 12, 31), "2019年"),
    ("2018年末通过省级评审", D(2018, 12, 31), "2018年末"),
    ("2018—2020年,每年新建", D(2020, 12, 31), "2018—2020年"),
    # parts of a year
    ("上半年", D(2018, 6, 30), "上半年"),
    ("下半年", D(2018, 12, 31), "下半年"),
    ("2019年上半年", D(2019, 6, 30), "2019年上半年"),
    ("三季度末", D(2018, 9, 30), "三季度末"),
    ("第三季度", D(2018, 9, 30), "第三季度"),
    ("一季度末", D(2018, 3, 31), "一季度末"),
    ("前三季度", D(2018, 9, 30), "前三季度"),
    ("2019年第二季度", D(2019, 6, 30), "2019年第二季度"),
    # Chinese numerals
    ("十二月底前", D(2018, 12, 31), "十二月底前"),
    ("十月底前", D(2018, 10, 31), "十月底前"),
    ("三月二十五日前", D(2018, 3, 25), "三月二十五日前"),
    ("二〇二〇年", D(2020, 12, 31), "二〇二〇年"),
    ("二〇一九年六月底前", D(2019, 6, 30), "二〇一九年六月底前"),
    # full-width digits and punctuation
    ("２０１８年６月底前，完成", D(2018, 6, 30), "２０１８年６月底前"),
]


@pytest.mark.parametrize(("text", "due", "phrase"), SINGLE, ids=[s[0] for s in SINGLE])
def test_single_phrase_reads_as_its_date(text, due, phrase):
    (d,) = find_dates(text, 2018)
    assert (d.due, d.phrase, d.recurrence) == (due, phrase, None)
    assert text[d.start:d.end] == phrase


RECURRING = [
    ("每季度调度1次", "quarterly", D(2018, 12, 31), "每季度"),
    ("每季度末前报送", "quarterly", D(2018, 12, 31), "每季度末前"),
    ("按季度报送", "quarterly", D(2018, 12, 31), "按季度"),
    ("每月25日前报送", "monthly:25", D(2018, 12, 25), "每月25日前"),
    ("每月底前报送", "monthly:31", D(2018, 12, 31), "每月底前"),
    ("每半年报告一次", "semiannual", D(2018, 12, 31), "每半年"),
]


@pytest.mark.parametrize(("text", "rule", "due", "phrase"), RECURRING, ids=[r[0] for r in RECURRING])
def test_recurring_phrase_gives_a_rule_and_its_last_occurrence_in_the_year(text, rule, due, phrase):
    (d,) = find_dates(text, 2018)
    assert (d.recurrence, d.due, d.phrase) == (rule, due, phrase)


NOT_DATES = [
    "2018年度盘锦旅游联票",  # a label
    "《辽宁省政府核准的投资项目目录(2017年本)》",  # an edition inside a title
    "《盘锦市乡镇(街道)产业发展规划(2018—2025年)》",  # a title
    "2010年以来",  # a starting point
    "三年内完成",  # a duration
    "建设周期3个月",  # a duration
    "1.8万吨/年锂电池铜箔",  # a unit
    "明年底前",  # relative to a year we do not know
    "“2019相聚盘锦”工程",
    "全年新开工项目实现20项",
]


@pytest.mark.parametrize("text", NOT_DATES)
def test_words_that_are_not_deadlines_give_no_date(text):
    assert find_dates(text, 2018) == []


def test_list_sharing_a_year_gives_four_dates():
    text = "于2019年4月15日、7月15日、10月15日及2020年1月15日前报送"
    assert [d.due for d in find_dates(text, 2018)] == [
        D(2019, 4, 15), D(2019, 7, 15), D(2019, 10, 15), D(2020, 1, 15)]


def test_missing_year_is_inherited_from_the_nearest_earlier_phrase():
    text = "2019年6月底前,完成A;9月底前,完成B;2020年3月底前完成C;年底前完成D"
    assert [d.due for d in find_dates(text, 2018)] == [
        D(2019, 6, 30), D(2019, 9, 30), D(2020, 3, 31), D(2020, 12, 31)]
    assert [d.year_given for d in find_dates(text, 2018)] == [True, False, True, False]


def test_missing_year_without_earlier_phrase_is_the_default_year():
    assert find_dates("9月底前完成", 2021)[0].due == D(2021, 9, 30)


def test_time_node_line_of_the_2018_plan_gives_three_dates_in_order():
    text = "2018年6月底前,完成301#油品泊位、331#—332#液体化工品泊位配套建设;9月底前,完成304#油品及液体化工品泊位建设;12月底前,重点工作取得阶段性成果。"
    assert [(d.due, d.phrase) for d in find_dates(text, 2018)] == [
        (D(2018, 6, 30), "2018年6月底前"), (D(2018, 9, 30), "9月底前"), (D(2018, 12, 31), "12月底前")]


def test_ascii_and_full_width_punctuation_read_the_same():
    ascii_ = find_dates("2018年6月底前,完成A;9月底前,完成B。", 2018)
    wide = find_dates("2018年6月底前，完成A；9月底前，完成B。", 2018)
    assert [d.due for d in ascii_] == [d.due for d in wide]


@pytest.mark.parametrize(("text", "bad"), [
    ("2018年13月底前", "2018年13月底前"),
    ("6月31日前", "6月31日前"),
    ("2018年2月30日", "2018年2月30日"),
])
def test_impossible_dates_are_reported_not_guessed(text, bad):
    found, problems = scan_dates(text, 2018)
    assert found == []
    assert [p.phrase for p in problems] == [bad]


@pytest.mark.parametrize(("cell", "due"), [
    ("2018-06-30", D(2018, 6, 30)),
    (" 2018/6/30 ", D(2018, 6, 30)),
    ("2018-06-30 00:00:00", D(2018, 6, 30)),
    ("2018年6月30日", D(2018, 6, 30)),
    ("6月底前", D(2018, 6, 30)),
    ("年底前", D(2018, 12, 31)),
])
def test_due_cell_reads_iso_and_phrases(cell, due):
    assert [d.due for d in parse_due_cell(cell, 2018)] == [due]


@pytest.mark.parametrize("cell", ["", "  ", "长期坚持", "持续推进", "取得阶段性成果"])
def test_due_cell_without_a_date_gives_nothing(cell):
    assert parse_due_cell(cell, 2018) == []


@pytest.mark.parametrize("cell", ["2018年13月", "2018-02-30", "尽快", "6月31日"])
def test_unreadable_due_cell_raises_with_the_cell_text(cell):
    with pytest.raises(DateError, match=f'^cannot read date "{cell}"$'):
        parse_due_cell(cell, 2018)


def test_month_end_knows_leap_years():
    assert month_end(2020, 2) == D(2020, 2, 29) and month_end(2019, 2) == D(2019, 2, 28)


@pytest.mark.parametrize(("rule", "ends_on", "last"), [
    ("quarterly", D(2020, 12, 31), D(2020, 12, 31)),
    ("quarterly", D(2020, 11, 15), D(2020, 9, 30)),
    ("semiannual", D(2020, 12, 31), D(2020, 12, 31)),
    ("monthly:25", D(2020, 12, 31), D(2020, 12, 25)),
    ("monthly:25", D(2020, 12, 20), D(2020, 11, 25)),
    ("monthly:31", D(2021, 2, 28), D(2021, 2, 28)),
])
def test_last_occurrence_of_a_rule_within_the_plan(rule, ends_on, last):
    assert last_occurrence(rule, ends_on) == last


def test_with_year_rebases_only_yearless_phrases():
    (yearless,) = find_dates("6月底前", 2018)
    (given,) = find_dates("2019年6月底前", 2018)
    assert with_year(yearless, 2020).due == D(2020, 6, 30)
    assert with_year(given, 2020).due == D(2019, 6, 30)


def test_a_date_followed_by_qi_is_a_starting_point_not_a_deadline():
    from notifier.importing.dates import scan_dates

    found, _ = scan_dates("自2019年1月1日起按标准调整到位,6月底前完成清理", 2019)
    assert [(d.phrase, d.due.isoformat()) for d in found] == [("6月底前", "2019-06-30")]
