"""`notifier sign`: a 签收 a department made by telephone, recorded by the office, on a real
SQLite file: what it signs, who and what the record names, and when it refuses (exit 2,
nothing written)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from notifier import cli, signing
from notifier.db.engine import transaction
from notifier.db.models import Department, GradeStep, SignRequest
from notifier.office.actions import extend_deadline
from notifier.office.history import task_history
from notifier.office.ledger import not_signed
from notifier.terms import Source

from tests.support.world import TZ, make_world, ms, plan, task

FGW = "市发展和改革委员会"


@pytest.fixture
def w(tmp_path: Path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("USER", "zhangsan")
    return make_world(tmp_path, plan(
        2025,
        task("1", "港口建设", "市发改委", ms(date(2025, 7, 16), "完成港口一期")),
        task("2", "月报", "市发改委", ms(date(2025, 12, 31), "每月报送进展", recurrence="monthly:25")),
        task("3", "农田整治", "市农委", ms(date(2025, 7, 16), "完成农田整治")),
    ))


def _ask(w, items, key: str = "k" * 32, department: str = FGW) -> None:  # noqa: ANN001
    with transaction(w.engine) as s:
        dept = s.scalar(select(Department.id).where(Department.name == department))
        signing.ask(s, department_id=dept, items=items, digest_key=key, asked_on=date(2025, 7, 9),
                    sign_by=date(2025, 7, 11))


def _rows(w) -> list[tuple]:  # noqa: ANN001
    with transaction(w.engine) as s:
        return [(r.milestone_id, r.occurrence, r.status, r.signed_by, r.signed_via, r.recorded_by)
                for r in s.scalars(select(SignRequest).order_by(SignRequest.id))]


def _sign(w, *args: str) -> int:  # noqa: ANN001
    with freeze_time("2025-07-10 08:30:00"):  # 16:30 in Asia/Shanghai
        return cli.main(["--config", str(w.cfg.path), "sign", *args])


def test_a_telephone_signature_signs_the_item_and_names_who_signed_who_recorded_it_and_how(w, capsys) -> None:  # noqa: ANN001
    """An alias names the department; every open request of the item is signed, as the page
    does, by 市发展和改革委员会（王五）, through the CLI, recorded by the shell's user; a second
    call changes nothing and says so; history and the office's task history show it."""
    one = w.milestone_id("完成港口一期")
    _ask(w, [(one, date(2025, 7, 16))])
    _ask(w, [(one, date(2025, 7, 16))], key="m" * 32)
    assert _sign(w, "市发改委", str(one), "--by", "王五") == 0
    out = capsys.readouterr().out
    assert f"#{one} 任务1 完成港口一期（2025-07-16）：市发展和改革委员会（王五）已签收（电话，2025-07-10 16:30）" in out
    assert _rows(w) == [(one, date(2025, 7, 16), "signed", f"{FGW}（王五）", "cli", "zhangsan")] * 2
    with transaction(w.engine) as s:
        assert not_signed(s, date(2025, 7, 14)) == []

    assert _sign(w, "市发改委", str(one), "--by", "赵六") == 0
    assert "原已签收（市发展和改革委员会（王五），2025-07-10 16:30），未作更改" in capsys.readouterr().out
    assert _rows(w)[0][3] == f"{FGW}（王五）"

    assert cli.main(["--config", str(w.cfg.path), "history", "--milestone", str(one)]) == 0
    assert "签收 2025-07-10 16:30 电话签收，zhangsan经命令行录入 市发展和改革委员会（王五）" in capsys.readouterr().out
    assert cli.main(["--config", str(w.cfg.path), "history", "--json"]) == 0
    [sig] = json.loads(capsys.readouterr().out)["signatures"]
    assert (sig["by"], sig["source"], sig["recorded_by"], sig["at"]) == (f"{FGW}（王五）", "cli", "zhangsan",
                                                                         "2025-07-10T16:30:00+08:00")
    with transaction(w.engine) as s:
        events = [e for e in task_history(s, w.cfg, _task_of(s, one)) if e.what == "签收"]
    assert [(e.detail, e.who) for e in events] == [
        ("完成港口一期（2025-07-16）（电话签收，zhangsan经命令行录入）", f"{FGW}（王五）")]


def _task_of(s, milestone_id: int) -> int:  # noqa: ANN001
    from notifier.db.models import Milestone

    return s.get(Milestone, milestone_id).task_id


def test_json_and_several_items_at_once_and_the_day_it_was_signed(w, capsys) -> None:  # noqa: ANN001
    """Two items in one call; ``--on`` records the start of that day (in time for a sign_by of
    that day); ``--json`` prints what was signed."""
    one, report = w.milestone_id("完成港口一期"), w.milestone_id("每月报送进展")
    _ask(w, [(one, date(2025, 7, 16)), (report, date(2025, 7, 25))])
    assert _sign(w, "市发展和改革委员会", str(one), str(report), "--on", "2025年7月9日", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "notifier/sign/1"
    assert [(x["milestone_id"], x["occurrence"], x["requests"], x["already_signed"], x["at"])
            for x in data["signed"]] == [(one, "2025-07-16", 1, False, "2025-07-09T00:00:00+08:00"),
                                         (report, "2025-07-25", 1, False, "2025-07-09T00:00:00+08:00")]
    assert [r[3] for r in _rows(w)] == [FGW, FGW]  # no --by: the department's name, as the page


def test_refusals_are_bad_input_and_write_nothing(w, capsys) -> None:  # noqa: ANN001
    """Unknown department (nearest names); a milestone that does not exist; nothing asked of
    that department for that item (another department's item), even when the other items of
    the call were asked: nothing at all is signed; a day not come yet."""
    one, other = w.milestone_id("完成港口一期"), w.milestone_id("完成农田整治")
    _ask(w, [(one, date(2025, 7, 16))])
    assert _sign(w, "发改委", str(one)) == 2
    assert "没有名为「发改委」的部门" in capsys.readouterr().err
    assert _sign(w, "市发改委", "9999") == 2
    assert "没有编号为 9999 的时间节点" in capsys.readouterr().err
    assert _sign(w, "市发改委", str(one), str(other)) == 2
    assert f"没有要求市发改委签收#{other} 任务3 完成农田整治：未作任何更改" in capsys.readouterr().err
    assert _sign(w, "市发改委", str(one), "--on", "2025-07-11") == 2
    assert "that day has not come yet" in capsys.readouterr().err
    assert [r[2] for r in _rows(w)] == ["asked"]


def test_a_recurring_report_asked_for_two_dates_needs_occurrence(w, capsys) -> None:  # noqa: ANN001
    """Asked about its 06-25 and 07-25 reports: without ``--occurrence`` the call names both
    dates and signs nothing; with it, that date only."""
    report = w.milestone_id("每月报送进展")
    _ask(w, [(report, date(2025, 6, 25)), (report, date(2025, 7, 25))])
    assert _sign(w, "市发改委", str(report)) == 2
    assert "有2期待签收：请用 --occurrence 日期 指明哪一期，可选 2025-06-25, 2025-07-25" in capsys.readouterr().err
    assert _sign(w, "市发改委", str(report), "--occurrence", "2025-07-25") == 0
    assert [(r[1], r[2]) for r in _rows(w)] == [(date(2025, 6, 25), "asked"), (date(2025, 7, 25), "signed")]
    assert _sign(w, "市发改委", str(report), "--occurrence", "2025-08-25") == 2  # not asked about that one
    assert "没有要求市发改委签收" in capsys.readouterr().err


def test_after_a_deadline_extension_the_old_dates_requests_are_not_signed_for(w, capsys) -> None:  # noqa: ANN001
    """The 签收 asked about 07-16 lapsed with the 延期 to 08-15: nothing is asked about the
    item's date now, so there is nothing to sign until a reminder of the new date asks."""
    one = w.milestone_id("完成港口一期")
    _ask(w, [(one, date(2025, 7, 16))])
    with transaction(w.engine) as s:
        extend_deadline(s, one, date(2025, 8, 15), "汛期", actor="督查室", now=datetime(2025, 7, 9, 10, tzinfo=TZ))
    assert _sign(w, "市发改委", str(one)) == 2
    assert "没有要求市发改委签收" in capsys.readouterr().err


def test_a_signature_by_telephone_in_time_keeps_the_item_from_the_yellow_step(w) -> None:  # noqa: ANN001
    """The 7-day reminder of 07-09 asks for 签收 by 07-11; signed by telephone on 07-10, the
    item does not go 黄 on 07-14 (no 催办), and nobody is listed as not signed for it."""
    one = w.milestone_id("完成港口一期")
    w.run("2025-07-09 09:00")
    with transaction(w.engine) as s:
        assert one in [r.milestone_id for r in signing.open_requests(s, _fgw(s))]
    assert _sign(w, "市发改委", str(one), "--by", "王五") == 0
    w.run("2025-07-14 09:00")
    with transaction(w.engine) as s:
        assert one not in [r.milestone_id for r in not_signed(s, date(2025, 7, 14))]
        rows = list(s.scalars(select(SignRequest).where(SignRequest.milestone_id == one)))
        grades = list(s.scalars(select(GradeStep.grade).where(GradeStep.milestone_id == one)))
    assert {(r.status, r.signed_via) for r in rows} == {("signed", Source.CLI)}
    assert grades == ["blue"]  # its 蓝 of 07-09, and no 黄


def _fgw(s) -> int:  # noqa: ANN001
    return s.scalar(select(Department.id).where(Department.name == FGW))
