"""签收 records (notifier.signing) on a real SQLite file: asking, signing, what is still open
and who has not signed in time."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier import marks, signing
from notifier.db.engine import transaction
from notifier.db.models import Department
from notifier.signing import SignState

from tests.support.world import make_world, ms, plan, task

KEY = "d" * 32


@pytest.fixture
def world(tmp_path: Path):  # noqa: ANN201
    spec = plan(2025, task("1", "港口建设", "市发改委", ms(date(2025, 6, 30), "完成港口一期"),
                           ms(date(2025, 9, 30), "完成港口二期")),
                task("2", "月报", "市发改委", ms(date(2025, 12, 31), "每月报送进展", recurrence="monthly:25")))
    return make_world(tmp_path, spec)


def _ids(world) -> tuple[int, int, int, int]:  # noqa: ANN001
    with transaction(world.engine) as s:
        fgw = s.scalar(select(Department.id).where(Department.name == "市发展和改革委员会"))
        nw = s.scalar(select(Department.id).where(Department.name == "市农村经济委员会"))
    return fgw, nw, world.milestone_id("完成港口一期"), world.milestone_id("完成港口二期")


def _ask(world, dept: int, items, key: str = KEY, asked_on=date(2025, 6, 23), sign_by=date(2025, 6, 25)) -> int:  # noqa: ANN001
    with transaction(world.engine) as s:
        return signing.ask(s, department_id=dept, items=items, digest_key=key, asked_on=asked_on, sign_by=sign_by)


def test_ask_records_each_item_once_per_digest(world) -> None:  # noqa: ANN001
    fgw, _, one, two = _ids(world)
    assert _ask(world, fgw, [(one, date(2025, 6, 30)), (two, date(2025, 9, 30)), (one, date(2025, 6, 30))]) == 2
    assert _ask(world, fgw, [(one, date(2025, 6, 30))]) == 0  # the same digest again: a re-run pass
    assert _ask(world, fgw, [(one, date(2025, 6, 30))], key="e" * 32) == 1  # a later reminder asks again
    with transaction(world.engine) as s:
        reqs = signing.open_requests(s, fgw)
    assert [(r.milestone_id, r.state) for r in reqs] == [(one, SignState.ASKED)] * 2 + [(two, SignState.ASKED)]


def test_ask_with_no_items_records_nothing_and_a_deadline_before_the_ask_is_refused(world) -> None:  # noqa: ANN001
    fgw, _, one, _ = _ids(world)
    assert _ask(world, fgw, []) == 0
    with pytest.raises(ValueError, match="before asked_on"):
        _ask(world, fgw, [(one, date(2025, 6, 30))], sign_by=date(2025, 6, 20))


def test_sign_closes_every_open_request_of_the_item_for_that_department_only(world) -> None:  # noqa: ANN001
    fgw, nw, one, two = _ids(world)
    _ask(world, fgw, [(one, date(2025, 6, 30)), (two, date(2025, 9, 30))])
    _ask(world, fgw, [(one, date(2025, 6, 30))], key="e" * 32)
    _ask(world, nw, [(one, date(2025, 6, 30))])
    at = datetime(2025, 6, 24, 2, 0)
    with transaction(world.engine) as s:
        assert signing.sign(s, department_id=fgw, milestone_id=one, occurrence=date(2025, 6, 30),
                            by="张三", at=at) == 2
    with transaction(world.engine) as s:
        # A second click changes nothing; an item never asked signs nothing.
        assert signing.sign(s, department_id=fgw, milestone_id=one, occurrence=date(2025, 6, 30),
                            by="张三", at=at) == 0
        assert signing.sign(s, department_id=fgw, milestone_id=two, occurrence=date(2025, 6, 30),
                            by="张三", at=at) == 0
        assert [r.milestone_id for r in signing.open_requests(s, fgw)] == [two]
        assert [r.milestone_id for r in signing.open_requests(s, nw)] == [one]


def test_signed_request_keeps_who_and_when(world) -> None:  # noqa: ANN001
    fgw, _, one, _ = _ids(world)
    _ask(world, fgw, [(one, date(2025, 6, 30))])
    with transaction(world.engine) as s:
        signing.sign(s, department_id=fgw, milestone_id=one, occurrence=date(2025, 6, 30), by="李四",
                     at=datetime(2025, 6, 24, 1, 30))
    with transaction(world.engine) as s:
        from notifier.db.models import SignRequest as Row

        row = s.scalars(select(Row)).one()
        req = signing.SignRequest.of(row)
    assert (req.state, req.signed_by, req.signed_at) == (SignState.SIGNED, "李四", datetime(2025, 6, 24, 1, 30))


def test_unsigned_lists_requests_past_sign_by_only_while_the_item_is_open(world) -> None:  # noqa: ANN001
    fgw, nw, one, two = _ids(world)
    _ask(world, fgw, [(one, date(2025, 6, 30)), (two, date(2025, 9, 30))])  # sign by 2025-06-25
    _ask(world, nw, [(one, date(2025, 6, 30))], key="f" * 32, sign_by=date(2025, 6, 27))
    with transaction(world.engine) as s:
        assert signing.unsigned(s, today=date(2025, 6, 25)) == []  # the last day is still in time
        late = signing.unsigned(s, today=date(2025, 6, 26))
    assert [(r.department_id, r.milestone_id) for r in late] == [(fgw, one), (fgw, two)]
    with transaction(world.engine) as s:
        signing.sign(s, department_id=fgw, milestone_id=two, occurrence=date(2025, 9, 30), by="王五",
                     at=datetime(2025, 6, 26, 1, 0))
    marks.mark(world.engine, one, note="已完成")
    with transaction(world.engine) as s:
        # one is done (nobody needs to sign for it any more), two is signed: nothing is late
        assert signing.unsigned(s, today=date(2025, 6, 30)) == []


def test_unsigned_leaves_out_a_done_occurrence_of_a_recurring_report(world) -> None:  # noqa: ANN001
    fgw, _, _, _ = _ids(world)
    report = world.milestone_id("每月报送进展")
    _ask(world, fgw, [(report, date(2025, 6, 25)), (report, date(2025, 7, 25))])
    marks.mark(world.engine, report, occurrence=date(2025, 6, 25))
    with transaction(world.engine) as s:
        late = signing.unsigned(s, today=date(2025, 7, 1))
    assert [(r.milestone_id, r.occurrence) for r in late] == [(report, date(2025, 7, 25))]
