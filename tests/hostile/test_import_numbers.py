"""Repeated task numbers are a located error, or a restart under a new heading with a warning;
never an IntegrityError, not even with --dry-run. Each task and milestone keeps its line."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from notifier.cli import main

from tests.support.database import seed

HEADER = ["序号", "工作任务", "牵头单位", "完成时限"]


@pytest.fixture
def config(write_config, tmp_path):
    seed(f"sqlite:///{tmp_path}/n.db")
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


def table(tmp_path, rows):  # noqa: ANN001, ANN201
    path = tmp_path / "plan.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["某市2019年重点工作任务分解表"], HEADER, *rows])
    return path


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_number_used_twice_in_one_section_is_an_error_naming_both_lines(dry_run, config, tmp_path,
                                                                          capsys):
    path = table(tmp_path, [["1", "推进项目。", "市发改委", "2019-06-30"],
                            ["2", "加强招商。", "市商务局", "2019-09-30"],
                            ["1", "改善住房。", "市住建局", "2019-12-31"]])
    assert main(["--config", str(config), "import", str(path), *dry_run]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"{path}: line 5: task number 1 is used twice (first at line 3); "
                       "number the tasks uniquely")
    assert "IntegrityError" not in "".join(err)


def test_numbering_that_restarts_under_a_new_heading_is_kept_apart_with_a_warning(config, tmp_path,
                                                                                   capsys):
    path = table(tmp_path, [["一、产业发展"],
                            ["1", "推进项目。", "市发改委", "2019-06-30"],
                            ["2", "加强招商。", "市商务局", "2019-09-30"],
                            ["二、民生保障"],
                            ["1", "改善住房。", "市住建局", "2019-12-31"],
                            ["2", "提升教育。", "市教育局", "2019-12-31"]])
    assert main(["--config", str(config), "import", str(path)]) == 0
    err = capsys.readouterr().err
    assert "line 7: task numbering restarts under the heading '二、民生保障'" in err
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select number from tasks order by position").fetchall() == [
        ("1",), ("2",), ("二1",), ("二2",)]


def test_every_task_and_milestone_records_the_line_it_came_from(config, tmp_path):
    path = table(tmp_path, [["1", "推进项目。", "市发改委", "2019年6月底前;2019年9月底前"],
                            ["", "", "", "2019-12-31"],
                            ["2", "加强招商。", "市商务局", "2019-09-30"]])
    assert main(["--config", str(config), "import", str(path)]) == 0
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select number, line from tasks order by position").fetchall() == [
        ("1", 3), ("2", 5)]
    assert db.execute("select t.number, m.due_on, m.line from milestones m join tasks t "
                      "on t.id = m.task_id order by t.position, m.position").fetchall() == [
        ("1", "2019-06-30", 3), ("1", "2019-09-30", 3), ("1", "2019-12-31", 4), ("2", "2019-09-30", 5)]
