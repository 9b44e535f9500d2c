"""The bulk write: linear in the rows, same answers as one row at a time (aliases, done marks)."""

from __future__ import annotations

import sqlite3
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.cli import main
from notifier.config import defaults
from notifier.db.engine import transaction
from notifier.importing.model import MilestoneSpec, PlanSpec, TaskSpec
from notifier.departments import DepartmentIndex
from notifier.importing.store import store_plan

from tests.support.hostile_files import run_child

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.fixture
def config(write_config, tmp_path):
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


@pytest.mark.slow
def test_5000_rows_each_with_a_new_department_import_in_linear_time(config, tmp_path):
    from import_rows import write_table  # the bench's table: one new lead per row

    write_table(tmp_path / "big.csv", 5000)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    child = run_child(["--config", str(config), "import", str(tmp_path / "big.csv")], cwd=tmp_path)
    assert child.code == 0, child.err
    assert child.cpu_seconds < 6, child  # was 110 s for 5,000 rows when quadratic
    assert child.peak_mb < 150, child
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select count(*) from tasks").fetchone() == (5000,)
    assert db.execute("select count(*) from departments").fetchone() == (5002,)


def test_a_later_name_that_aliases_an_earlier_new_department_resolves_to_it(engine):
    with transaction(engine) as s:
        index = DepartmentIndex(s, defaults())
        deps = index.get_or_create_all(["市国资委(市金融办)", "市财政局", "市金融办", "市国资委"])
        assert deps["市金融办"] == deps["市国资委"] == deps["市国资委(市金融办)"]
        assert deps["市财政局"] != deps["市金融办"]
        again = DepartmentIndex(s, defaults()).get_or_create("市国资委(金融办)")
        assert again == deps["市金融办"]


def test_find_reads_the_department_a_name_means_and_never_inserts(engine):
    with transaction(engine) as s:
        DepartmentIndex(s, defaults()).get_or_create("市国资委(市金融办)")
    with transaction(engine) as s:
        index = DepartmentIndex(s, defaults())
        assert index.find("市金融办") == index.find("市国资委") is not None
        assert index.find("市财政局") is None
        assert s.scalar(text("SELECT count(*) FROM departments")) == 1


def plan(*milestones: tuple[date, str]) -> PlanSpec:
    spec = PlanSpec(name="某市2019年重点工作方案", year=2019, starts_on=date(2019, 1, 1),
                    ends_on=date(2019, 12, 31), source_hash=str(milestones))
    spec.tasks.append(TaskSpec(number="1", title="推进项目", lead=["市发改委"], line=3,
                               milestones=[MilestoneSpec(d, t, line=3 + i)
                                           for i, (d, t) in enumerate(milestones)]))
    return spec


def test_reimport_keeps_done_marks_when_texts_change_and_keys_move(engine):
    june, sept = date(2019, 6, 30), date(2019, 9, 30)
    with transaction(engine) as s:
        store_plan(s, plan((june, "完成一半"), (sept, "全部完成")), defaults())
    db = sqlite3.connect(engine.url.database)
    db.execute("update milestones set status = 'done' where due_on = '2019-06-30'")
    db.commit()
    with transaction(engine) as s:  # the texts swap dates: each row keeps its own key's text
        summary = store_plan(s, plan((june, "全部完成"), (sept, "完成一半"), (sept, "验收")), defaults())
    assert summary.action == "updated"
    rows = db.execute("select due_on, text, status, line from milestones order by position").fetchall()
    assert rows == [("2019-06-30", "全部完成", "done", 3), ("2019-09-30", "完成一半", "open", 4),
                    ("2019-09-30", "验收", "open", 5)]
