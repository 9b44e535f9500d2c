"""Working days: a reminder's send day moves to the working day before; 调休 days count;
[calendar] overrides; a year without official data falls back to Monday-Friday, with a warning.
Cutoff and milestone dates never move."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from freezegun import freeze_time

from notifier import cli
from notifier.db.engine import transaction
from notifier.planning.calendar import WorkCalendar
from notifier.planning.schedule import Item, PlanInfo, Rules, before_triggers, compose_digests
from notifier.reminders import calendar_of, is_send_time, why_not_send_time
from notifier.status import calendar_years, status_report

from tests.support.world import TZ, local, make_world, ms, plan, task, utc_naive, world_config

PLAN_2025 = PlanInfo(1, "测试方案", None, date(2025, 1, 1), date(2025, 12, 31))


def item(due: date, mid: int = 1, plan_info: PlanInfo = PLAN_2025) -> Item:
    return Item(mid, due, plan_info, 10, "1", "任务", f"节点{mid}", (7,))


def rules(*lead: int, calendar: WorkCalendar | None = None, cutoff_months: tuple[int, ...] = (6, 9, 12)) -> Rules:
    return Rules(tz=TZ, lead_days=lead, send_at=time(9, 0), calendar=calendar or WorkCalendar(),
                 cutoff_months=cutoff_months)


def test_reminder_in_national_day_week_moves_to_last_working_day_before():
    """Due 2025-10-10: the 7- and 3-day reminders (10-03, 10-07) fall in the 10-01..10-08
    holiday and both go out on Tuesday 2025-09-30; the 1-day one stays on 10-09."""
    trig = before_triggers(date(2025, 10, 10), rules(7, 3, 1))
    assert trig == [utc_naive(local("2025-09-30 09:00")), utc_naive(local("2025-10-09 09:00"))]


def test_moved_reminder_fires_on_the_working_day_before_and_keeps_the_milestone_date():
    r = rules(7, 3, 1, cutoff_months=(12,))  # no 9-30 cutoff message in the way
    assert compose_digests([item(date(2025, 10, 10))], {}, r, local("2025-09-29 09:00")) == []
    [d] = compose_digests([item(date(2025, 10, 10))], {}, r, local("2025-09-30 09:00"))
    [e] = d.entries
    assert (e.section, e.item.occurrence, e.days) == ("upcoming", date(2025, 10, 10), 10)
    assert d.fired == [("ms:1:2025-10-10", utc_naive(local("2025-09-30 09:00")))]


def test_cutoff_date_is_never_moved_only_the_send_day():
    """The 9-30 cutoff is a working day; a cutoff on a holiday would still be shown as itself."""
    r = rules(1)
    [d] = compose_digests([item(date(2025, 9, 30))], {}, r, local("2025-09-29 09:00"))
    assert d.cutoffs == [date(2025, 9, 30)] and d.entries[0].section == "cutoff"
    # Due on a holiday (10-01): the date shown stays 10-01, the reminder goes out 09-30.
    assert before_triggers(date(2025, 10, 1), r) == [utc_naive(local("2025-09-30 09:00"))]


def test_makeup_sunday_2025_09_28_is_a_working_day():
    cal = WorkCalendar()
    assert date(2025, 9, 28).weekday() == 6 and cal.is_workday(date(2025, 9, 28))
    assert not cal.is_workday(date(2025, 9, 27))  # the Saturday before is off
    # 7 days before 10-05 is the make-up Sunday: the reminder stays there (not Friday 09-26).
    assert before_triggers(date(2025, 10, 5), rules(7)) == [utc_naive(local("2025-09-28 09:00"))]


def test_send_gate_open_on_makeup_sunday_and_closed_in_holiday(tmp_path: Path):
    cfg = world_config(tmp_path)
    assert is_send_time(cfg, local("2025-09-28 09:00"))
    assert why_not_send_time(cfg, local("2025-09-28 09:00")) is None
    assert not is_send_time(cfg, local("2025-10-03 09:00"))
    assert "not a working day" in why_not_send_time(cfg, local("2025-10-03 09:00"))
    assert "not a working day" in why_not_send_time(cfg, local("2025-09-27 09:00"))


def test_makeup_sunday_pass_sends_in_a_full_pass(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 10, 5), "完成泊位验收"))),
                   schedule="lead_days = [7]")
    assert [q.department for q in w.pass_at("2025-09-28 09:00").queued] == ["市港口与口岸局"]


def test_config_holidays_and_workdays_override_the_package(tmp_path: Path):
    cfg = world_config(tmp_path, '[calendar]\nholidays = ["2025-09-29"]\nworkdays = ["2025-10-04"]\n')
    cal = calendar_of(cfg)
    assert not cal.is_workday(date(2025, 9, 29)) and cal.is_workday(date(2025, 10, 4))
    r = rules(1, calendar=cal)
    # 10-06 - 1 = 10-05 (holiday) -> back to the configured make-up Saturday 10-04.
    assert before_triggers(date(2025, 10, 6), r) == [utc_naive(local("2025-10-04 09:00"))]


def test_year_without_data_falls_back_to_monday_friday_with_warning():
    cal = WorkCalendar()
    assert cal.knows(2025) and not cal.knows(2027)
    assert cal.is_workday(date(2027, 10, 1))  # a Friday; its holiday is not published yet
    assert not cal.is_workday(date(2027, 10, 2)) and not cal.is_workday(date(2027, 10, 3))
    [w] = cal.warnings([2025, 2027])
    assert "2027" in w and "Monday-Friday" in w


def test_2027_plan_is_scheduled_monday_to_friday():
    p2027 = PlanInfo(2, "2027方案", None, date(2027, 1, 1), date(2027, 12, 31))
    # Due Monday 2027-05-03: 1 day before is Sunday -> Friday 04-30 (no 劳动节 data for 2027).
    assert before_triggers(date(2027, 5, 3), rules(1)) == [utc_naive(local("2027-04-30 09:00"))]
    [d] = compose_digests([item(date(2027, 5, 3), plan_info=p2027)], {}, rules(1), local("2027-04-30 09:00"))
    assert d.entries[0].item.occurrence == date(2027, 5, 3)


def test_2027_plan_is_warned_about_in_status_and_check_config(tmp_path: Path, capsys):
    w = make_world(tmp_path, plan(2027, task("1", "港口建设", "市港口与口岸局", ms(date(2027, 5, 3), "完成验收"))))
    with transaction(w.engine) as s:
        assert calendar_years(s, date(2025, 6, 1)) == {2025, 2026, 2027}
    warnings = status_report(w.engine, w.cfg, local("2025-06-01 09:00")).warnings
    assert len(warnings) == 1 and "2027" in warnings[0]
    with freeze_time("2025-06-01 01:00:00"):
        assert cli.main(["--config", str(w.cfg.path), "check-config"]) == 0
    err = capsys.readouterr().err
    assert "no official holiday data for 2027" in err and "for 2025" not in err and "for 2026" not in err
