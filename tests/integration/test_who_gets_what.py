"""Who gets what: import, status and send-due agree on who needs a contact; collective names
are listed apart, once; a parenthesised alias is read one way everywhere; [[groups]] expands."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from notifier import cli
from notifier.db.engine import make_engine, transaction
from notifier.db.models import Department, DepartmentAlias

from tests.support.paths import PLANS
from tests.support.world import make_world, ms, plan, task

TEXT_2018 = PLANS / "panjin-2018-coastal-economic-belt.txt"


def gap_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "没有任何联系方式的部门" in line or "集体名称" in line]


def test_import_and_status_list_the_same_gaps_and_collective_names_once(write_config, tmp_path: Path, capsys):
    config = write_config('[database]\nurl = "sqlite:///n.db"\n[folder]\ndivert = true\n'
                          '[schedule]\nnotify_roles = ["lead", "responsible", "cooperating"]\n')
    assert cli.main(["--config", str(config), "import", str(TEXT_2018), "--active"]) == 0
    imported = gap_lines(capsys.readouterr().out)
    cli.main(["--config", str(config), "status"])
    assert gap_lines(capsys.readouterr().out) == imported
    departments, collective = imported
    assert "各县区政府" in collective and "各县区政府" not in departments
    assert collective.count("各县区政府") == 1
    assert "市发改委" in departments  # a lead without contact


def test_a_parenthesised_alias_is_an_alias_whoever_is_configured(write_config, tmp_path: Path):
    config = write_config('[database]\nurl = "sqlite:///n.db"\n[folder]\ndivert = true\n')
    assert cli.main(["--config", str(config), "import", str(TEXT_2018), "--active"]) == 0
    with transaction(make_engine(f"sqlite:///{tmp_path}/n.db")) as s:
        names = set(s.scalars(select(Department.name)))
        aliases = dict(s.execute(select(DepartmentAlias.alias, DepartmentAlias.department_id)).all())
        by_id = {d.id: d.name for d in s.scalars(select(Department))}
    assert "市国资委" in names and not any("(" in n for n in names)
    assert by_id[aliases["市金融办"]] == "市国资委"


def test_a_group_with_members_reminds_each_member_and_is_not_a_gap(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "乡村振兴", "各县区政府", ms(date(2025, 6, 10), "完成规划编制"))),
                   extra="""
        [[groups]]
        name = "各县区政府"
        members = ["市港口与口岸局", "市农委"]
    """)
    queued = w.pass_at("2025-06-03 09:00").queued
    assert sorted(q.department for q in queued) == ["市农村经济委员会", "市港口与口岸局"]
