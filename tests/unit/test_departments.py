"""Department-name rules of domain.md: splitting, aliases, notes, groups, persons."""

from __future__ import annotations

import pytest

from notifier.importing.departments import (
    aliases_of,
    is_group,
    is_person,
    kind_of,
    split_departments,
    units_in,
)


@pytest.mark.parametrize(("text", "names"), [
    ("市发改委、市财政局", ["市发改委", "市财政局"]),
    ("市发改委,市财政局", ["市发改委", "市财政局"]),
    ("市发改委，市财政局", ["市发改委", "市财政局"]),
    ("市统计局,各县区政府、经济区管委会", ["市统计局", "各县区政府", "经济区管委会"]),
    ("市发改委及市财政局", ["市发改委", "市财政局"]),
    ("市住建委、市卫计委、市环保局、市林园局等", ["市住建委", "市卫计委", "市环保局", "市林园局"]),
    ("市发改委、市人防办等市直相关部门", ["市发改委", "市人防办", "市直相关部门"]),
    ("市发展和改革委员会", ["市发展和改革委员会"]),
    ("市 发 改 委", ["市发改委"]),
    ("市发改委、市发改委", ["市发改委"]),
    ("", []),
    (None, []),
])
def test_lists_split_on_every_separator_and_drop_trailing_deng(text, names):
    assert split_departments(text) == names


def test_parenthesised_alias_is_kept_as_printed():
    assert split_departments("市国资委(市金融办)、市财政局") == ["市国资委(市金融办)", "市财政局"]


def test_full_width_parentheses_read_like_ascii():
    assert split_departments("市国资委（市金融办）") == ["市国资委(市金融办)"]


def test_separator_inside_parentheses_does_not_split():
    assert split_departments("市国资委(市金融办、市上市办)") == ["市国资委(市金融办、市上市办)"]


def test_historical_note_is_dropped():
    assert split_departments("市工信委、盘锦海关(原盘锦出入境检验检疫局)") == ["市工信委", "盘锦海关"]


def test_traditional_characters_are_simplified():
    assert split_departments("市發改委、市財政局") == ["市发改委", "市财政局"]


def test_aliases_of_splits_base_and_alias():
    assert aliases_of("市国资委(市金融办)") == ["市国资委", "市金融办"]


def test_alias_without_its_place_gets_the_base_prefix_too():
    assert aliases_of("市国资委(金融办)") == ["市国资委", "金融办", "市金融办"]


def test_name_without_alias_is_its_own_only_alias():
    assert aliases_of("市发改委") == ["市发改委"]


@pytest.mark.parametrize("name", ["各县区政府", "经济区管委会", "市直相关部门", "市直各部门",
                                  "各集团公司", "重点园区管委会", "市直各牵头部门"])
def test_collective_names_are_groups(name):
    assert is_group(name)


@pytest.mark.parametrize("name", ["辽东湾新区管委会", "市发改委", "盘山县政府", "市国资委(市金融办)"])
def test_single_departments_are_not_groups(name):
    assert not is_group(name)


@pytest.mark.parametrize("name", ["分管领导", "牵头负责领导", "张三同志", "副市长"])
def test_persons_are_not_departments(name):
    assert is_person(name)
    assert split_departments(name) == []


def test_lead_marked_in_place_is_taken_out_of_the_list():
    from notifier.importing.departments import take_lead_marks

    assert take_lead_marks(split_departments("市农委（牵头）、市财政局")) == (["市农委"], ["市财政局"])


@pytest.mark.parametrize(("fragment", "kind"), [
    ("市发改委", "department"), ("立山经济开发区", "department"), ("县残联", "department"),
    ("各县区政府", "group"), ("市直各有关单位", "group"), ("全区经济运行各专班", "group"),
    ("6月底完成", "date"), ("年内持续推进", "date"), ("2023年12月底前", "date"),
    ("按职责分工负责", "phrase"), ("持续推进", "phrase"),
    ("分管副市长", "person"), ("责任人", "person"),
])
def test_kind_of_tells_units_from_dates_phrases_and_persons(fragment, kind):
    assert kind_of(fragment) == kind


@pytest.mark.parametrize(("text", "names"), [
    ("省发展改革委、省市场监管局、商务厅按职责分工负责", ["省发展改革委", "省市场监管局", "商务厅"]),
    ("市金融办、潍坊银监分局分别牵头落实", ["市金融办", "潍坊银监分局"]),
    ("各区政府、市政府各部门负责落实", ["各区政府", "市政府各部门"]),
])
def test_a_trailing_role_phrase_is_not_part_of_a_name(text, names):
    assert split_departments(text) == names


def test_persons_are_kept_only_for_a_caller_that_warns_about_them():
    assert split_departments("市商务局、分管副市长") == ["市商务局"]
    assert split_departments("市商务局、分管副市长", keep_persons=True) == ["市商务局", "分管副市长"]


def test_traditional_names_the_old_table_missed_are_simplified_by_opencc():
    assert split_departments("鹽城市發展和改革委員會、市衛生健康委員會、縣殘聯") == [
        "盐城市发展和改革委员会", "市卫生健康委员会", "县残联"]


def test_pinyin_after_characters_is_dropped():
    assert split_departments("湘西經(jīng)開區(qū)管委會") == ["湘西经开区管委会"]


def test_units_in_a_scope_sentence_are_found():
    assert units_in("具体任务均涉及相关市(州)人民政府,不再做分工,下同") == ["相关市(州)人民政府"]
