"""Progress history: done marks and notes from the CLI and links are kept with time and source;
`milestones --status overdue`, `status` and `history` show them; escalation copies say how late."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from freezegun import freeze_time
from sqlalchemy import select

from notifier import cli
from notifier.db.engine import transaction
from notifier.db.models import HistoryEvent
from notifier.marks import apply_mark
from notifier.status import milestone_rows, status_report

from tests.support.world import local, make_world, ms, plan, task


def world(tmp_path: Path):  # noqa: ANN201
    return make_world(tmp_path, plan(
        2025,
        task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 10), "完成泊位验收"), ms(date(2025, 9, 30), "单一窗口上线")),
        task("2", "重点项目调度", "市发改委", ms(date(2025, 12, 31), "每季度调度1次", "quarterly")),
    ))


def test_cli_done_and_progress_are_recorded_with_source_actor_and_time(tmp_path: Path, capsys, monkeypatch):
    w = world(tmp_path)
    monkeypatch.setenv("USER", "ducha-admin")
    mid = w.milestone_id("单一窗口上线")
    cfg = str(w.cfg.path)
    with freeze_time("2025-06-20 02:00:00"):
        assert cli.main(["--config", cfg, "progress", str(mid), "--note", "联调中"]) == 0
    with freeze_time("2025-06-25 02:00:00"):
        assert cli.main(["--config", cfg, "done", str(mid), "--note", "已上线"]) == 0
        assert cli.main(["--config", cfg, "done", str(mid)]) == 0  # again: says so, still recorded
    assert "已办结（原已办结）" in capsys.readouterr().out
    with transaction(w.engine) as s:
        evs = [(e.action, e.source, e.actor, e.note, e.at.isoformat()) for e in
               s.scalars(select(HistoryEvent).order_by(HistoryEvent.id))]
    assert evs == [("progress", "cli", "ducha-admin", "联调中", "2025-06-20T02:00:00"),
                   ("done", "cli", "ducha-admin", "已上线", "2025-06-25T02:00:00"),
                   ("done", "cli", "ducha-admin", None, "2025-06-25T02:00:00")]
    assert cli.main(["--config", cfg, "history", "--milestone", str(mid)]) == 0
    out = capsys.readouterr().out
    assert "报送进展 2025-06-20 10:00 经命令行 ducha-admin：联调中" in out and "（共3条记录）" in out


def test_overdue_listing_counts_days_late_per_occurrence_and_shows_the_last_answer(tmp_path: Path):
    w = world(tmp_path)
    berth, report = w.milestone_id("完成泊位验收"), w.milestone_id("每季度调度1次")
    with transaction(w.engine) as s:
        from notifier.marks import apply_note

        apply_note(s, berth, "验收资料已报送", source="link", actor="市港口与口岸局")
        apply_mark(s, report, occurrence=date(2025, 3, 31), source="cli", actor="admin")
    rows = milestone_rows(w.engine, w.cfg, date(2025, 7, 3), status="overdue")
    assert len(rows) == 2  # 06-10 one-off, and Q2 of the quarterly report (Q1 done)
    assert (rows[0].id, rows[0].due, rows[0].days_late) == (berth, date(2025, 6, 10), 23)
    assert (rows[0].last.source, rows[0].last.actor, rows[0].last.note) == ("link", "市港口与口岸局", "验收资料已报送")
    assert (rows[1].id, rows[1].due, rows[1].recurrence, rows[1].days_late, rows[1].last) == (
        report, date(2025, 6, 30), "quarterly", 3, None)
    report = status_report(w.engine, w.cfg, local("2025-07-03 09:00"))
    assert (report.overdue_milestones, report.overdue_dates) == (2, 2)


def test_status_lists_recent_answers_by_source(tmp_path: Path):
    w = world(tmp_path)
    with transaction(w.engine) as s:
        apply_mark(s, w.milestone_id("完成泊位验收"), source="link", actor="市港口与口岸局（张三）")
    with transaction(w.engine) as s:
        at = s.scalar(select(HistoryEvent.at))
    report = status_report(w.engine, w.cfg, local(f"{at:%Y-%m-%d} 18:00"))
    assert [(a.source, a.actor) for a in report.recent_answers] == [("link", "市港口与口岸局（张三）")]
    assert "近7天的答复 1 条（回复链接 1）" in "\n".join(cli.status_lines(report))


def test_escalation_names_how_many_days_each_item_is_late_grouped_by_lead_department(tmp_path: Path):
    w = world(tmp_path)
    [esc] = [q for q in w.pass_at("2025-07-03 09:00").queued if q.kind == "escalation"]
    assert "市港口与口岸局（1项）\n  1. 任务1「港口建设」：完成泊位验收（2025年6月10日），已逾期23天" in esc.rendered.text
    assert "已逾期3天" in esc.rendered.text  # Q2 of the quarterly report
    assert "已逾期23天" in esc.rendered.html and "已逾期23天" in esc.rendered.markdown
