"""Templates: strict, escaped where HTML, Chinese wording."""

from __future__ import annotations

from datetime import datetime

import pytest
from jinja2 import UndefinedError

from notifier.rendering import Renderer, digest_context, sample_digest


def context():
    return digest_context(sample_digest(), "市发改委<script>", datetime(2018, 6, 20, 9), {1: "市发改委"})


def test_the_html_part_escapes_what_plans_and_config_contain():
    out = Renderer().render("reminder", context())
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "市发改委<script>" in out.text  # plain text is not HTML


def test_the_reminder_names_the_plan_its_number_the_cutoff_and_days():
    out = Renderer().render("reminder", context())
    assert "盘政办发〔2018〕23号" in out.text
    assert "2018年6月30日" in out.subject
    assert "已逾期20天" in out.text and "还剩10天" in out.text


def test_an_admin_template_with_a_typo_fails_check_instead_of_rendering_blank(tmp_path):
    (tmp_path / "reminder.txt").write_text("{{ departmnet }}\n", encoding="utf-8")
    problems = Renderer(tmp_path).check()
    assert problems and "departmnet" in problems[0]
    with pytest.raises(UndefinedError):
        Renderer(tmp_path).render("reminder", context())


def test_an_admin_template_overrides_only_what_it_defines(tmp_path):
    (tmp_path / "reminder.subject.txt").write_text("提醒：{{ department }}", encoding="utf-8")
    out = Renderer(tmp_path).render("reminder", context())
    assert out.subject == "提醒：市发改委<script>"
    assert "已逾期20天" in out.text


def test_templates_cannot_reach_python_internals():
    from jinja2.exceptions import SecurityError

    env = Renderer().env
    with pytest.raises(SecurityError):
        env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


def test_a_broken_reply_page_override_fails_check_not_the_first_click(tmp_path):
    (tmp_path / "reply.html").write_text("{{ item.titel }}", encoding="utf-8")
    problems = Renderer(tmp_path).check()
    assert problems and problems[0].startswith("template reply.html:")
