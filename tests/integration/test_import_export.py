"""Importing the plan documents through the CLI, and the export -> re-import round trip."""

from __future__ import annotations

import sqlite3

import pytest

from notifier.cli import main

from tests.support.paths import PLANS

TEXT_2018 = PLANS / "panjin-2018-coastal-economic-belt.txt"
TEXT_2017 = PLANS / "panjin-2017-project-construction.txt"


@pytest.fixture
def config(write_config, tmp_path):
    return write_config(f"""
        [database]
        url = "sqlite:///{tmp_path}/n.db"
        [folder]
        divert = true
    """)


def snapshot(db) -> list[tuple]:  # noqa: ANN001
    return db.execute("""
        select t.number, m.due_on, m.text, coalesce(m.recurrence, ''),
               (select group_concat(d.name, '、') from task_departments td join departments d on d.id = td.department_id
                 where td.task_id = t.id and td.role = 'lead')
        from milestones m join tasks t on t.id = m.task_id order by t.position, m.position""").fetchall()


def test_the_2018_document_imports_with_its_number_and_every_milestone(config, tmp_path, capsys):
    assert main(["--config", str(config), "import", str(TEXT_2018), "--active"]) == 0
    assert "任务 53 项，时间节点 84 个" in capsys.readouterr().out
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select doc_number, year from plans").fetchone() == ("盘政办发〔2018〕23号", 2018)
    assert db.execute("select count(*) from milestones where recurrence = 'quarterly'").fetchone() == (1,)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_exported_table_reimports_to_the_same_tasks_and_milestones(config, tmp_path, write_config, suffix):
    main(["--config", str(config), "import", str(TEXT_2018), "--active"])
    db = sqlite3.connect(tmp_path / "n.db")
    before = snapshot(db)
    mid = db.execute("select min(id) from milestones").fetchone()[0]
    main(["--config", str(config), "done", str(mid)])
    table = tmp_path / f"plan{suffix}"
    assert main(["--config", str(config), "export", str(table)]) == 0

    # Re-imported into the same database: the plan is updated in place, done mark kept.
    assert main(["--config", str(config), "import", str(table), "--active"]) == 0
    assert snapshot(db) == before
    assert db.execute("select count(*), min(doc_number) from plans").fetchone() == (1, "盘政办发〔2018〕23号")
    assert db.execute("select status from milestones where id=?", (mid,)).fetchone() == ("done",)

    # And into an empty one: the same tasks and milestones.
    other = write_config(f'[database]\nurl = "sqlite:///{tmp_path}/other.db"\n', name="other.toml")
    assert main(["--config", str(other), "import", str(table), "--active"]) == 0
    assert snapshot(sqlite3.connect(tmp_path / "other.db")) == before


def test_dry_run_shows_the_tasks_and_writes_nothing(config, tmp_path, capsys):
    assert main(["--config", str(config), "import", str(TEXT_2017), "--active", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "将新建" in out and "2017-12-31" in out
    assert sqlite3.connect(tmp_path / "n.db").execute("select count(*) from plans").fetchone() == (0,)


def test_explain_shows_where_each_field_of_a_task_came_from(config, capsys):
    assert main(["--config", str(config), "import", str(TEXT_2018), "--active", "--explain", "3"]) == 0
    out = capsys.readouterr().out
    assert "task 3: 提升港口能力能级" in out
    assert "牵头部门:辽东湾新区管委会" in out
    assert "2018-09-30" in out and "9月底前" in out


CORPUS = PLANS / "corpus"


def test_dry_run_shows_how_sure_the_reader_is_of_each_lead_and_date(config, capsys):
    doc = CORPUS / "wuhan-caidian-2023-gov-report-targets.txt"
    assert main(["--config", str(config), "import", str(doc), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "牵头: 区发展和改革局 [inferred: first-listed]" in out
    assert "[inferred: plan end]" in out
    assert "leads: 0 stated, 3 inferred, 0 missing" in out


def test_dry_run_marks_a_fragment_left_out_of_the_departments(config, tmp_path, capsys):
    plan = tmp_path / "p.txt"
    plan.write_text("某市2023年重点工作方案\n一、任务\n1.推进招商引资。\n牵头单位:市商务局、分管副市长\n",
                    encoding="utf-8")
    assert main(["--config", str(config), "import", str(plan), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "! line 4: left out '分管副市长'" in captured.out
    assert "line 4:" in captured.err and "分管副市长" in captured.err


def test_strict_refuses_a_plan_with_an_inferred_lead_and_writes_nothing(config, tmp_path, capsys):
    doc = CORPUS / "wuhan-caidian-2023-gov-report-targets.txt"
    assert main(["--config", str(config), "import", str(doc), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "lead inferred: first-listed" in err and "nothing imported" in err
    assert not (tmp_path / "n.db").exists()  # refused before the database is opened


def test_strict_accepts_a_plan_whose_every_lead_is_stated(config, tmp_path):
    assert main(["--config", str(config), "import", str(TEXT_2018), "--strict"]) == 0
    assert sqlite3.connect(tmp_path / "n.db").execute("select count(*) from plans").fetchone() == (1,)
