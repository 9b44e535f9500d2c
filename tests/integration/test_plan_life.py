"""A plan has a life: closed by hand or after its end plus grace, imported closed when its
period has passed; closed plans send nothing and show as closed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import inspect, select, text

from notifier import cli
from notifier.db.engine import current_revision, downgrade, make_engine, transaction, upgrade
from notifier.db.models import Plan

from tests.support.paths import PLANS
from tests.support.world import make_world, ms, plan, task

TEXT_2018 = PLANS / "panjin-2018-coastal-economic-belt.txt"


def world(tmp_path: Path):  # noqa: ANN201
    return make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 10), "完成泊位验收"))))


def status_of(w) -> str:  # noqa: ANN001
    with transaction(w.engine) as s:
        return s.scalar(select(Plan.status))


def test_a_plan_closed_by_hand_sends_nothing_until_reopened(tmp_path: Path, capsys):
    w = world(tmp_path)
    config = str(w.cfg.path)
    assert cli.main(["--config", config, "plan", "close", "测试市2025"]) == 0
    assert "已结束" in capsys.readouterr().out and status_of(w) == "closed"
    assert w.pass_at("2025-06-03 09:00").queued == []
    assert cli.main(["--config", config, "milestones"]) == 0
    assert "未办结（方案已结束）" in capsys.readouterr().out
    assert cli.main(["--config", config, "plan", "reopen", "测政办发〔2025〕1号"]) == 0
    assert status_of(w) == "active"
    assert [q.department for q in w.pass_at("2025-06-03 09:00").queued] == ["市港口与口岸局"]


def test_an_unknown_plan_name_is_a_usage_error_listing_the_plans(tmp_path: Path, capsys):
    w = world(tmp_path)
    assert cli.main(["--config", str(w.cfg.path), "plan", "close", "没有这个方案"]) == 2
    assert "no plan matches" in capsys.readouterr().err


def test_after_the_end_plus_grace_the_office_gets_one_closing_report_and_the_plan_closes(tmp_path: Path):
    w = world(tmp_path)
    assert [q.department for q in w.pass_at("2026-01-30 09:00").queued]  # overdue, inside the 30 days
    [report] = w.pass_at("2026-02-02 09:00").queued  # 2025-12-31 + 30 days has passed
    assert report.department == "市政府督查室" and report.kind == "escalation"
    assert "【方案结束】" in report.rendered.subject
    assert "市港口与口岸局：按期完成0项，逾期完成0项，仍未完成1项" in report.rendered.text
    assert status_of(w) == "closed"
    assert w.pass_at("2026-02-03 09:00").queued == []


def test_importing_a_plan_whose_period_passed_imports_it_closed_unless_active(tmp_path: Path, write_config, capsys):
    config = write_config("""
        [database]
        url = "sqlite:///n.db"
        [folder]
        divert = true
    """)
    assert cli.main(["--config", str(config), "import", str(TEXT_2018)]) == 0
    out = capsys.readouterr().out
    assert "已导入为已结束，不会就此方案发送任何消息" in out
    assert cli.main(["--config", str(config), "status"]) in (0, 1)
    assert "已结束的方案（1个" in capsys.readouterr().out
    assert cli.main(["--config", str(config), "send-due", "--dry-run", "--force", "--now", "2020-06-01 09:00"]) == 0
    assert "将排队" not in capsys.readouterr().out

    active = write_config(str(config.read_text()).replace("n.db", "m.db"), name="active.toml")
    assert cli.main(["--config", str(active), "import", str(TEXT_2018), "--active"]) == 0
    assert "按 --active 导入为进行中" in capsys.readouterr().out


def test_migration_0004_adds_the_plan_status_and_back(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO plans (name, year, starts_on, ends_on, source_hash, imported_at, updated_at) "
                          "VALUES ('方案', 2018, '2018-01-01', '2018-12-31', 'h', '2018-01-01', '2018-01-01')"))
    upgrade(engine, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM plans")).scalar() == "active"
    downgrade(engine, "0003")
    assert current_revision(engine) == "0003"
    assert "status" not in {c["name"] for c in inspect(engine).get_columns("plans")}
