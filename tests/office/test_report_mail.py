"""[report] sends the 通报 by e-mail through the outbox on its day, exactly once per period."""

from __future__ import annotations

from datetime import date

from notifier import cli
from notifier.config import ReportConfig
from notifier.office.report_mail import due_period

from tests.support.world import make_world, ms, plan, task, world_config

REPORT = """
[report]
to = ["市政府督查室"]
every = "monthly"
day = 5
"""


def test_the_monthly_report_is_due_from_its_day_on_for_the_previous_month(tmp_path):
    cfg = world_config(tmp_path, REPORT)
    assert due_period(cfg, date(2025, 7, 4)) is None
    assert due_period(cfg, date(2025, 7, 5)).param == "period=2025-06"
    assert due_period(cfg, date(2025, 7, 30)).param == "period=2025-06"  # catches up later in the month
    assert due_period(cfg, date(2025, 1, 5)).param == "period=2024-12"


def test_the_cutoff_report_is_due_after_a_cutoff_month_only(tmp_path):
    cfg = world_config(tmp_path, REPORT.replace('"monthly"', '"cutoff"'))
    assert due_period(cfg, date(2025, 7, 5)).param == "cutoff=2025-06-30"
    assert due_period(cfg, date(2025, 8, 5)) is None
    assert due_period(cfg, date(2025, 10, 6)).param == "cutoff=2025-09-30"


def test_no_recipients_no_report(tmp_path):
    cfg = world_config(tmp_path)
    assert cfg.report == ReportConfig()
    assert due_period(cfg, date(2025, 7, 5)) is None


def test_send_due_writes_the_report_to_the_outbox_once(tmp_path, capsys):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 20), "单一窗口上线"))),
                   extra=REPORT)
    args = ["--config", str(w.cfg.path), "send-due", "--now", "2025-07-07 10:00"]
    assert cli.main(args) in (0, 1)
    assert "已排队：通报 → 市政府督查室" in capsys.readouterr().out
    files = sorted((tmp_path / "var" / "outbox").rglob("市政府督查室*.eml"))
    reports = [f for f in files if "督办情况通报" in _subject(f)]
    assert len(reports) == 1
    body = _text(reports[0])
    assert _subject(reports[0]) == "重点工作督办情况通报（2025年6月）"
    assert cli.main(args) in (0, 1)  # a second pass: nothing more
    assert "通报" not in capsys.readouterr().out
    assert len([f for f in (tmp_path / "var" / "outbox").rglob("市政府督查室*.eml") if "督办情况通报" in _subject(f)]) == 1
    assert "1  市港口与口岸局  1  0  0  1  0.0%" in body
    assert "逾期未完成事项（1项）" in body and "单一窗口上线" in body


def _subject(path) -> str:  # noqa: ANN001
    from email import policy
    from email.parser import BytesParser

    return str(BytesParser(policy=policy.default).parsebytes(path.read_bytes())["subject"])


def _text(path) -> str:  # noqa: ANN001
    from email import policy
    from email.parser import BytesParser

    return BytesParser(policy=policy.default).parsebytes(path.read_bytes()).get_body(("plain",)).get_content()
