"""[grades] and [report]: defaults, values, and errors as `PATH: key: what is wrong`."""

from __future__ import annotations

import pytest

from notifier.config import ConfigError, GradesConfig, ReportConfig

from tests.support.world import world_config


def test_grades_and_report_default_when_absent(tmp_path):
    cfg = world_config(tmp_path)
    assert cfg.grades == GradesConfig(lead_days=7, silent_workdays=0, cutoff_answer_days=30, sign_within_days=2)
    assert cfg.report == ReportConfig(to=(), every="monthly", day=5)


def test_grades_and_report_are_read(tmp_path):
    cfg = world_config(tmp_path, """
        [grades]
        lead_days = 10
        silent_workdays = 5
        cutoff_answer_days = 15
        sign_within_days = 3
        [report]
        to = ["市政府督查室"]
        every = "cutoff"
        day = 3
        """)
    assert cfg.grades == GradesConfig(10, 5, 15, 3)
    assert cfg.report == ReportConfig(("市政府督查室",), "cutoff", 3)


def test_bad_grades_and_report_name_the_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        world_config(tmp_path, """
            [grades]
            lead_days = 0
            silent = 3
            [report]
            to = ["市长"]
            every = "weekly"
            day = 31
            """)
    text = str(e.value)
    for part in ("grades.lead_days: must be greater than 0", "grades.silent: unknown key",
                 "report.to[0]: '市长' is not a configured department", 'report.every: must be "monthly" or "cutoff"',
                 "report.day: must be a day of the month 1..28"):
        assert part in text, text
