"""Exports are inert: a cell a spreadsheet would run as a formula is written as text, control
characters never crash the .xlsx export, and the table still re-imports to the same plan."""

from __future__ import annotations

import csv
import sqlite3
import zipfile

import openpyxl
import pytest

from notifier.cli import main

from tests.support.database import seed

FORMULAS = ["=cmd|' /C calc'!A0", "+HYPERLINK(\"http://x\",\"点我\")", "-2+3", "@SUM(A1:A9)"]


@pytest.fixture
def config(write_config, tmp_path):
    seed(f"sqlite:///{tmp_path}/n.db")
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


@pytest.fixture
def hostile_plan(config, tmp_path):
    """A plan whose task texts and milestone words start like formulas, and a note with a
    control character on its first milestone (done, with a note)."""
    rows = [["某市2019年重点工作任务分解表"], ["序号", "工作任务", "牵头单位", "完成时限", "节点内容"]]
    for i, text in enumerate(FORMULAS, 1):
        rows.append([str(i), text, "市发改委", "2019-06-30", text])
    source = tmp_path / "plan.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    assert main(["--config", str(config), "import", str(source)]) == 0
    db = sqlite3.connect(tmp_path / "n.db")
    first = db.execute("select min(id) from milestones").fetchone()[0]
    assert main(["--config", str(config), "done", str(first), "--note", "进展\x07\x1b[31m正常"]) == 0
    return db


def snapshot(db):  # noqa: ANN001, ANN201
    return db.execute("select t.number, t.text, m.text, m.due_on from tasks t join milestones m "
                      "on m.task_id = t.id order by t.position, m.position").fetchall()


def test_csv_export_quotes_formula_cells_and_reimports_unchanged(hostile_plan, config, tmp_path,
                                                                  write_config):
    out = tmp_path / "out.csv"
    assert main(["--config", str(config), "export", str(out)]) == 0
    with out.open(encoding="utf-8-sig") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(A1:A9)" in cells
    other = write_config(f'[database]\nurl = "sqlite:///{tmp_path}/o.db"\n', name="o.toml")
    assert main(["--config", str(other), "import", str(out)]) == 0
    assert snapshot(sqlite3.connect(tmp_path / "o.db")) == snapshot(hostile_plan)


def test_xlsx_export_writes_formula_text_as_string_cells_and_survives_control_characters(
        hostile_plan, config, tmp_path, write_config):
    out = tmp_path / "out.xlsx"
    assert main(["--config", str(config), "export", str(out)]) == 0
    sheet = zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet  # no formula anywhere
    ws = openpyxl.load_workbook(out).active
    values = {c.value: c.data_type for row in ws.iter_rows() for c in row if c.value}
    assert values["=cmd|' /C calc'!A0"] == "s"
    assert any(v == "进展[31m正常" for v in values)  # the note, its control characters gone
    other = write_config(f'[database]\nurl = "sqlite:///{tmp_path}/o.db"\n', name="o.toml")
    assert main(["--config", str(other), "import", str(out)]) == 0
    assert snapshot(sqlite3.connect(tmp_path / "o.db")) == snapshot(hostile_plan)


def test_control_characters_are_stripped_at_import(config, tmp_path):
    source = tmp_path / "plan.csv"
    source.write_text("序号,工作任务,牵头单位,完成时限\n1,推进\x07项目\x1b。,市发\x00改委,2019-06-30\n",
                      encoding="utf-8")
    # A NUL byte marks a binary file; without it, the other controls are only dropped.
    source.write_bytes(source.read_bytes().replace(b"\x00", b""))
    assert main(["--config", str(config), "import", str(source), "--year", "2019"]) == 0
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select text from tasks").fetchone() == ("推进项目。",)
