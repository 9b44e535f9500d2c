"""When the grade ladder says a grade again, lived day by day as in test_grade_ladder.py (a 09:00
pass every day, the real SMTP test server): a 延期 whose new date is missed too, a reopening
after a done mark, and the first pass after an upgrade to the ladder's version."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from notifier import due_index, grade_log, signing
from notifier.db.engine import transaction
from notifier.db.models import GradeStep, SignRequest
from notifier.marks import apply_mark
from notifier.office.actions import extend_deadline
from notifier.terms import Light
from notifier.office.ledger import load_rows, not_signed
from notifier.terms import Source

from tests.integration.test_grade_ladder import FGW, OFFICE, TZ, Year, _parts, _task, smtp  # noqa: F401

ITEM = "完成港口一期"


def _subjects(y: Year, name: str) -> dict[date, list[str]]:
    return {d: [str(m["Subject"]) for m in y.to(name, d)] for d in sorted(y.mail) if y.to(name, d)}


def _steps(y: Year) -> list[tuple[str, date, str]]:
    """(department, occurrence, grade) of every recorded step, in order."""
    with transaction(y.engine) as s:
        rows = s.execute(select(GradeStep.department_id, GradeStep.occurrence, GradeStep.grade)
                         .order_by(GradeStep.id)).all()
    fgw, office = y.ids(ITEM, FGW)[1], y.ids(ITEM, OFFICE)[1]
    names = {fgw: FGW, office: OFFICE}
    return [(names[d], occ, g) for d, occ, g in rows]


def _light(y: Year, day: date) -> Light:
    with transaction(y.engine) as s:
        [row] = [r for r in load_rows(s, y.cfg, day) if r.item.text == ITEM]
    return row.light


def test_a_deadline_extended_after_red_and_missed_again_is_red_again_said_once(tmp_path: Path, smtp) -> None:  # noqa: ANN001, F811
    """Due 07-16, 红 on 07-17 (copied to the office). On 07-18 the office grants a 延期 to Friday
    08-15: the item is not overdue any more (绿 in the ledger, nobody listed as not signed for the
    old date, no message). The new date is a new deadline: 蓝 with its 7-day reminder (08-08), 黄
    when that 签收 is late (08-13), and 红 督办 again the working day after it is missed (Monday
    08-18), copied to the office as 新列入红色督办 again; then the plain overdue cadence."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), ITEM)])
    y.live(date(2025, 7, 1), date(2025, 7, 18))
    assert _light(y, date(2025, 7, 18)) is Light.RED
    mid, _ = y.ids(ITEM, FGW)
    with transaction(y.engine) as s:
        extend_deadline(s, mid, date(2025, 8, 15), "汛期影响施工", actor="督查室张三",
                        now=datetime(2025, 7, 18, 10, 0, tzinfo=TZ))
    y.live(date(2025, 7, 19), date(2025, 8, 22))

    assert _light(y, date(2025, 7, 25)) is Light.GREEN
    with transaction(y.engine) as s:
        assert not_signed(s, date(2025, 7, 25)) == []  # the old date's 签收 requests are moot

    fgw = _subjects(y, FGW)
    assert [(d, subject[:4]) for d, [subject] in fgw.items()] == [
        (date(2025, 7, 9), "【提醒】"), (date(2025, 7, 14), "【催办】"), (date(2025, 7, 17), "【督办】"),
        (date(2025, 8, 8), "【提醒】"), (date(2025, 8, 13), "【催办】"), (date(2025, 8, 18), "【督办】"),
        (date(2025, 8, 21), "【督办提醒】"[:4])]
    subject, text, html = _parts(y.to(FGW, date(2025, 8, 18))[0])
    assert "【红色督办单】" in text and "本单抄报市政府督查室" in text and "#C62828" in html
    assert "2025年8月15日" in text  # the new date is the one missed
    office = {d: _parts(m)[1] for d in sorted(y.mail) for m in y.to(OFFICE, d)}
    assert [d for d, text in office.items() if "新列入红色督办" in text] == [date(2025, 7, 17), date(2025, 8, 18)]
    assert _light(y, date(2025, 8, 18)) is Light.RED
    # One row per grade and deadline: the 红 of each deadline said once, to each department.
    assert sorted(st for st in _steps(y) if st[2] == "red") == sorted([
        (FGW, date(2025, 7, 16), "red"), (OFFICE, date(2025, 7, 16), "red"),
        (FGW, date(2025, 8, 15), "red"), (OFFICE, date(2025, 8, 15), "red")])


def test_an_overdue_item_reopened_after_its_done_mark_is_red_again_said_once(tmp_path: Path, smtp) -> None:  # noqa: ANN001, F811
    """红 on 07-17; marked done on 07-18; the office reopens it on Monday 07-21 (still overdue):
    the reopening starts its ladder again, so the next pass (07-22) says 红 督办 again, once, in
    the department's message and as 新列入红色督办 in the office's 逾期通报; then the plain
    overdue cadence (07-25), and the earlier steps stay in the record."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), ITEM)])
    y.live(date(2025, 7, 1), date(2025, 7, 18))
    mid, _ = y.ids(ITEM, FGW)
    with transaction(y.engine) as s:
        apply_mark(s, mid, done=True, note="已完成", actor="市发改委", now=datetime(2025, 7, 18, 2, 0))
    y.live(date(2025, 7, 19), date(2025, 7, 21))
    assert not any(y.to(FGW, date(2025, 7, d)) for d in (18, 19, 20, 21))
    with transaction(y.engine) as s:
        apply_mark(s, mid, done=False, note="验收未通过", actor="督查室张三", now=datetime(2025, 7, 21, 2, 0))
    y.live(date(2025, 7, 22), date(2025, 7, 25))

    fgw = _subjects(y, FGW)
    assert [d for d, [subject] in fgw.items() if subject.startswith("【督办】")] == [date(2025, 7, 17),
                                                                                   date(2025, 7, 22)]
    assert fgw[date(2025, 7, 25)][0].startswith("【督办提醒】")
    office = {d: _parts(m)[1] for d in sorted(y.mail) for m in y.to(OFFICE, d)}
    assert [d for d, text in office.items() if "新列入红色督办" in text] == [date(2025, 7, 17), date(2025, 7, 22)]
    reds = sorted(st for st in _steps(y) if st[2] == "red")
    assert reds == sorted([(FGW, date(2025, 7, 16), "red"), (OFFICE, date(2025, 7, 16), "red")] * 2)
    with transaction(y.engine) as s:  # history lists the steps up, not the restart
        assert [st.grade for st in grade_log.history(s, mid)].count(Light.RED) == 4
        assert Light.GREEN not in [st.grade for st in grade_log.history(s, mid)]


def test_a_reopened_item_is_asked_to_sign_again_not_urged_for_the_old_request(tmp_path: Path, smtp) -> None:  # noqa: ANN001, F811
    """Due 07-16: 蓝 on 07-09 asks 签收 by 07-11. The department marks it done on 07-10 without
    signing; the office reopens it on Monday 07-14 after the day's pass. The old request is moot
    (lapsed, not 黄 on 07-15 for a day long past): the reopening says 蓝 again on 07-15 and asks
    anew, and the item goes 红 when its date is missed (07-17)."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), ITEM)])
    y.live(date(2025, 7, 1), date(2025, 7, 10))
    mid, fgw_id = y.ids(ITEM, FGW)
    with transaction(y.engine) as s:
        apply_mark(s, mid, done=True, note="已完成", actor="市发改委", now=datetime(2025, 7, 10, 2, 0))
    y.live(date(2025, 7, 11), date(2025, 7, 14))
    with transaction(y.engine) as s:
        apply_mark(s, mid, done=False, note="验收未通过", actor="督查室张三", now=datetime(2025, 7, 14, 2, 0))
        assert not_signed(s, date(2025, 7, 15)) == []
        with pytest.raises(signing.SignError, match="没有要求"):  # nothing is asked until the next reminder
            signing.sign_for(s, department_ids=[fgw_id], department=FGW, milestone_id=mid, occurrence=None,
                             person="王五", at=datetime(2025, 7, 14, 3, 0), via=Source.CLI, recorded_by="督查室张三")
    y.live(date(2025, 7, 15), date(2025, 7, 17))

    fgw = _subjects(y, FGW)
    assert [(d, subject[:4]) for d, [subject] in fgw.items()] == [
        (date(2025, 7, 9), "【提醒】"), (date(2025, 7, 15), "【提醒】"), (date(2025, 7, 17), "【督办】")]
    with transaction(y.engine) as s:
        asked = s.execute(select(SignRequest.asked_on, SignRequest.sign_by, SignRequest.status)
                          .where(SignRequest.department_id == fgw_id).order_by(SignRequest.id)).all()
    assert [(a, b, str(st)) for a, b, st in asked][:2] == [
        (date(2025, 7, 9), date(2025, 7, 11), "lapsed"), (date(2025, 7, 15), date(2025, 7, 17), "asked")]


def test_the_first_pass_after_an_upgrade_says_red_once_for_items_already_overdue(tmp_path: Path, smtp) -> None:  # noqa: ANN001, F811
    """Upgrading to the ladder's version (migration 0007 adds grade_steps and sign_requests
    empty): an item overdue since 07-16 had only plain overdue reminders (07-17, 07-22). The
    first pass after the upgrade (Wednesday 07-23, not a cadence day) says its 红 督办: one
    message to its department in the 督办 grade that day, whose overdue cadence then counts from
    it (07-28), and 新列入红色督办 once, in the office's next 逾期通报 (its own cadence: 07-25)."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), ITEM)])
    y.live(date(2025, 7, 16), date(2025, 7, 22))  # the ladder's records of these days are dropped:
    with transaction(y.engine) as s:  # the database as the upgrade leaves it: every department
        s.execute(delete(GradeStep))  # due at the first pass (migration 0009 builds the index)
        s.execute(delete(SignRequest))
        due_index.mark_all(s)
    y.live(date(2025, 7, 23), date(2025, 7, 28))
    fgw = _subjects(y, FGW)
    assert [(d, subject[:4]) for d, [subject] in fgw.items() if d >= date(2025, 7, 23)] == [
        (date(2025, 7, 23), "【督办】"), (date(2025, 7, 28), "【督办提")]
    office = {d: _parts(m)[1] for d in sorted(y.mail) for m in y.to(OFFICE, d)}
    assert [d for d, text in office.items() if "新列入红色督办" in text and d >= date(2025, 7, 23)] == [
        date(2025, 7, 25)]
