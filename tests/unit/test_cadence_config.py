"""The cadence, plan-life, office and group keys: defaults, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier import config as config_mod
from notifier.config import ConfigError

OFFICE = '[[departments]]\nname = "市政府督查室"\nemail = ["o@example.cn"]\n[folder]\ndivert = true\n'


def load(tmp_path: Path, text: str) -> config_mod.Config:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return config_mod.load(path)


def test_defaults_remind_leads_for_30_days_after_the_end_and_name_no_office(tmp_path: Path):
    cfg = load(tmp_path, OFFICE)
    assert (cfg.schedule.after_end_days, cfg.schedule.max_items, cfg.schedule.notify_roles) == (30, 30, ("lead",))
    assert cfg.office.name == "" and cfg.office.sign == "" and not cfg.office.inspection
    assert (cfg.escalation.every_days, cfg.escalation.weekday) == (None, None)


def test_office_escalation_and_groups_are_read(tmp_path: Path):
    cfg = load(tmp_path, OFFICE + """
[escalation]
to = ["市政府督查室"]
weekday = 1
[office]
name = "市政府督查室"
contact = "0427-2800000"
[[groups]]
name = "各县区政府"
members = ["大洼区政府", "盘山县政府"]
""")
    assert cfg.escalation.weekday == 1 and cfg.office.sign == "市政府督查室"
    assert cfg.department("各县区政府").members == ("大洼区政府", "盘山县政府")


@pytest.mark.parametrize(("text", "expected"), [
    ('[schedule]\nnotify_roles = ["lead", "boss"]\n', "schedule.notify_roles: must be a non-empty list"),
    ("[schedule]\nafter_end_days = -1\n", "schedule.after_end_days: must be 0 or more"),
    ("[schedule]\nmax_items = 0\n", "schedule.max_items: must be greater than 0"),
    ("[escalation]\nweekday = 8\n", "escalation.weekday: must be 1 (Monday) .. 7 (Sunday)"),
    ("[escalation]\nweekday = 1\nevery_days = 5\n", "escalation: set every_days or weekday, not both"),
    ('[office]\nname = 1\n', "office.name: must be a string"),
    ('[[groups]]\nname = "各县区政府"\n', "groups[0]: needs a name and a non-empty members list"),
    ('[[groups]]\nname = "市政府督查室"\nmembers = ["甲"]\n', "groups[0].name: '市政府督查室' is already a department"),
])
def test_bad_cadence_keys_are_located(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, OFFICE + text)
    assert any(expected in p for p in err.value.problems), err.value.problems
