"""Department-name rules of domain.md: splitting, aliases, notes, groups, persons."""

from __future__ import annotations

import pytest

from notifier.importing.departments import aliases_of, is_group, is_person, split_departments


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
