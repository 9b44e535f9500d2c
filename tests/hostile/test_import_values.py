"""Dates and encodings sane: a date years outside the plan is a warning, UTF-16 with a BOM
(Excel's "Unicode text") is read, a file mixing encodings is refused naming its line."""

from __future__ import annotations

import sqlite3

import pytest

from notifier.cli import main

from tests.support.database import seed

ROWS = "序号\t工作任务\t牵头单位\t完成时限\n1\t推进项目。\t市发改委\t2019-06-30\n2\t加强招商。\t市商务局\t2019-09-30\n"


@pytest.fixture
def config(write_config, tmp_path):
    seed(f"sqlite:///{tmp_path}/n.db")
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_unicode_text_export_with_a_bom_is_read(encoding, config, tmp_path):
    path = tmp_path / "plan.txt"  # Excel names its "Unicode text" export .txt
    data = ROWS.replace("\n", "\r\n")
    path.write_bytes(("\ufeff" + data).encode(encoding) if encoding.endswith("-be")
                     else data.encode(encoding))
    assert main(["--config", str(config), "import", str(path), "--format", "csv", "--year", "2019"]) == 0
    db = sqlite3.connect(tmp_path / "n.db")
    assert db.execute("select number, text from tasks order by position").fetchall() == [
        ("1", "推进项目。"), ("2", "加强招商。")]


def test_a_file_mixing_utf8_and_gb18030_names_the_first_foreign_line(config, tmp_path, capsys):
    lines = ROWS.splitlines(keepends=True)
    path = tmp_path / "plan.csv"
    path.write_bytes(lines[0].encode("utf-8") + lines[1].encode("utf-8") + lines[2].encode("gb18030"))
    assert main(["--config", str(config), "import", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"{path}: line 3: the file mixes encodings (earlier lines are UTF-8, this one "
                       "is not); save the whole file again as UTF-8")


def test_a_gb18030_file_still_imports(config, tmp_path):
    path = tmp_path / "plan.csv"
    path.write_bytes(ROWS.encode("gb18030"))
    assert main(["--config", str(config), "import", str(path), "--year", "2019"]) == 0


@pytest.mark.parametrize("due", ["0001-01-01", "9999-12-31"])
def test_a_date_years_outside_the_plan_period_is_a_warning(due, config, tmp_path, capsys):
    path = tmp_path / "plan.csv"
    path.write_text(f"某市2019年重点工作任务分解表\n{ROWS}3\t改善住房。\t市住建局\t{due}\n".replace("\t", ","),
                    encoding="utf-8")
    assert main(["--config", str(config), "import", str(path)]) == 0
    err = capsys.readouterr().err
    assert (f"warning: line 5: task 3: the date {due} is more than 3 years outside the plan period "
            "2019-01-01..2019-12-31; check it") in err
    assert "2019-06-30 is more" not in err
