"""The pure planner: which digests are due at a given moment."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from notifier.planning.calendar import WorkCalendar
from notifier.planning.schedule import Item, PlanInfo, Rules, compose_digests

TZ = ZoneInfo("Asia/Shanghai")
PLAN = PlanInfo(1, "2018年工作实施方案", "盘政办发〔2018〕23号", date(2018, 1, 1), date(2018, 12, 31))
RULES = Rules(tz=TZ, lead_days=(30, 7, 1), send_at=time(9), overdue_every_days=3, escalation_to=(99,),
              calendar=WorkCalendar(use_package=False))


def item(mid: int, due: date, leads=(1,), task=1) -> Item:  # noqa: ANN001
    return Item(mid, due, PLAN, task, str(task), f"任务{task}", f"节点{mid}", tuple(leads))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def log_of(digests) -> dict:  # noqa: ANN001
    out = {}
    for d in digests:
        for s, t in d.fired:
            out[(d.department_id, s)] = max(t, out.get((d.department_id, s), t))
    return out


def test_nothing_is_due_before_the_first_lead_day():
    assert compose_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 30, 9)) == []


def test_a_late_import_sends_the_june_cutoff_digest_at_the_first_pass():
    items = [item(1, date(2018, 6, 30)), item(2, date(2018, 12, 31))]
    [d] = compose_digests(items, {}, RULES, at(2018, 6, 20, 9))
    assert [(e.section, e.days) for e in d.entries] == [("cutoff", 10), ("progress", 194)]
    assert d.cutoffs == [date(2018, 6, 30)]


def test_of_several_missed_reminders_only_the_latest_fires_once():
    items = [item(1, date(2018, 6, 30))]
    first = compose_digests(items, {}, RULES, at(2018, 6, 25, 9))  # 30- and 7-day triggers both passed
    assert len(first) == 1 and len(first[0].fired) == 1
    assert compose_digests(items, log_of(first), RULES, at(2018, 6, 25, 16)) == []
    # The next trigger (1 day before, June 29 a Friday) fires again.
    assert len(compose_digests(items, log_of(first), RULES, at(2018, 6, 29, 9))) == 1


def test_a_non_cutoff_milestone_gets_its_own_reminders():
    [d] = compose_digests([item(1, date(2018, 5, 31))], {}, RULES, at(2018, 5, 24, 9))
    assert [(e.section, e.days) for e in d.entries] == [("upcoming", 7)]


def test_an_overdue_item_is_repeated_every_n_working_days_and_copied_to_escalation():
    items = [item(1, date(2018, 5, 31))]
    d1 = compose_digests(items, {}, RULES, at(2018, 6, 1, 9))
    assert {(d.department_id, d.kind) for d in d1} == {(1, "reminder"), (99, "escalation")}
    log = log_of(d1)
    for day in (2, 3, 4, 5):  # Friday + 3 working days = Wednesday June 6
        assert compose_digests(items, log, RULES, at(2018, 6, day, 9)) == []
    d6 = compose_digests(items, log, RULES, at(2018, 6, 6, 9))
    overdue = [e for d in d6 for e in d.entries if d.kind == "reminder"]
    assert [(e.section, e.days) for e in overdue] == [("overdue", 6)]


def test_reminders_for_one_department_on_one_day_become_one_digest():
    items = [item(1, date(2018, 6, 30), task=1), item(2, date(2018, 7, 31), task=2), item(3, date(2018, 5, 31), task=3)]
    digests = [d for d in compose_digests(items, {}, RULES, at(2018, 7, 2, 9)) if d.kind == "reminder"]
    assert len(digests) == 1
    assert [e.section for e in digests[0].entries] == ["overdue", "overdue", "upcoming"]


def test_overdue_items_come_first_most_late_first():
    items = [item(1, date(2018, 6, 30)), item(2, date(2018, 5, 31)), item(3, date(2018, 6, 15))]
    [d] = [d for d in compose_digests(items, {}, RULES, at(2018, 9, 1, 9)) if d.kind == "reminder"]
    assert [e.item.milestone_id for e in d.entries[:3]] == [2, 3, 1]


def test_a_reminder_day_on_a_weekend_moves_to_the_friday_before():
    # 2018-06-30 - 7 days = Saturday June 23 -> Friday June 22.
    assert compose_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 31, 9))  # the 30-day one
    first = compose_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 31, 9))
    fired = compose_digests([item(1, date(2018, 6, 30))], log_of(first), RULES, at(2018, 6, 22, 9))
    assert len(fired) == 1


def test_the_digest_key_is_the_same_for_the_same_triggers():
    items = [item(1, date(2018, 6, 30))]
    a = compose_digests(items, {}, RULES, at(2018, 6, 20, 9))
    b = compose_digests(items, {}, RULES, at(2018, 6, 20, 11))
    assert a[0].key == b[0].key


def run_days(items, first: date, last: date, rules: Rules = RULES, **kw):  # noqa: ANN001, ANN003, ANN201
    """Daily 09:00 passes from ``first`` to ``last`` on working days; the digests by day."""
    from datetime import timedelta

    log: dict = {}
    out = {}
    day = first
    while day <= last:
        if rules.calendar.is_workday(day):
            ds = compose_digests(items, log, rules, at(day.year, day.month, day.day, 9), **kw)
            log.update(log_of(ds))
            for d in ds:
                for s, t in d.fired:
                    log[(d.department_id, s)] = max(t, log.get((d.department_id, s), t))
            if ds:
                out[day] = ds
        day += timedelta(days=1)
    return out


def test_a_department_gets_one_overdue_notice_listing_all_its_overdue_items_every_n_working_days():
    items = [item(1, date(2018, 7, 2), task=1), item(2, date(2018, 7, 4), task=2), item(3, date(2018, 7, 9), task=3)]
    days = run_days(items, date(2018, 7, 3), date(2018, 7, 20), RULES)
    mine = {day: [d for d in ds if d.department_id == 1] for day, ds in days.items()}
    sent = [day for day, ds in mine.items() if ds]
    # July 3 (first overdue), then every 3 working days: 6 (Fri), 11 (Wed), 16 (Mon), 19 (Thu).
    assert sent == [date(2018, 7, 3), date(2018, 7, 6), date(2018, 7, 11), date(2018, 7, 16), date(2018, 7, 19)]
    counts = [len(mine[d][0].section("overdue")) for d in sent]
    assert counts == [1, 2, 3, 3, 3]  # a new overdue item joins the next notice


def test_the_escalation_lists_every_overdue_item_on_its_own_weekly_cadence():
    from dataclasses import replace

    from notifier.planning.schedule import Cadence

    rules = replace(RULES, escalation=Cadence(weekday=1))
    items = [item(1, date(2018, 7, 2), leads=(1,)), item(2, date(2018, 7, 4), leads=(2,)), item(3, date(2018, 7, 3), leads=(99,))]
    days = run_days(items, date(2018, 7, 3), date(2018, 7, 24), rules)
    esc = {day: d for day, ds in days.items() for d in ds if d.department_id == 99 and d.section("escalation")}
    assert sorted(esc) == [date(2018, 7, 9), date(2018, 7, 16), date(2018, 7, 23)]  # Mondays
    # Every open overdue item but its own (item 3 is in its own part of the message).
    assert all({e.item.milestone_id for e in d.section("escalation")} == {1, 2} for d in esc.values())
    assert all(len(ds) == len({d.department_id for d in ds}) for ds in days.values())  # one per department


def test_nothing_is_due_before_the_plan_was_issued():
    from dataclasses import replace

    plan = replace(PLAN, issued_on=date(2018, 5, 10))
    items = [Item(1, date(2018, 3, 31), plan, 1, "1", "任务1", "一季度调度", (1,), "quarterly"),
             Item(1, date(2018, 6, 30), plan, 1, "1", "任务1", "二季度调度", (1,), "quarterly")]
    days = run_days(items, date(2018, 5, 10), date(2018, 5, 31))
    assert days and all(e.item.occurrence == date(2018, 6, 30) for ds in days.values() for d in ds for e in d.entries)


def test_a_plan_past_its_end_and_grace_sends_nothing_but_one_closing_report():
    items = [item(1, date(2018, 12, 31))]
    assert compose_digests(items, {}, RULES, at(2019, 1, 30, 9))  # still overdue within the 30 days
    assert compose_digests(items, {}, RULES, at(2019, 2, 1, 9), closing=[]) == []
    [d] = compose_digests(items, {}, RULES, at(2019, 2, 1, 9), closing=[PLAN])
    assert (d.department_id, d.kind, d.closing) == (99, "escalation", [PLAN])
    assert compose_digests(items, log_of([d]), RULES, at(2019, 2, 4, 9), closing=[PLAN]) == []


def test_a_department_that_had_its_message_today_waits_for_tomorrow():
    items = [item(1, date(2018, 6, 30))]
    assert compose_digests(items, {}, RULES, at(2018, 6, 20, 9), sent_today={1}) == []
    assert compose_digests(items, {}, RULES, at(2018, 6, 21, 9))


def test_responsible_departments_are_reminded_only_when_their_role_is_listed():
    from dataclasses import replace

    it = Item(1, date(2018, 5, 31), PLAN, 1, "1", "任务1", "节点", (1,), None, (2,), (3,))
    assert {d.department_id for d in compose_digests([it], {}, RULES, at(2018, 5, 24, 9))} == {1}
    rules = replace(RULES, notify_roles=("lead", "responsible"))
    ds = compose_digests([it], {}, rules, at(2018, 5, 24, 9))
    assert {(d.department_id, d.entries[0].role) for d in ds} == {(1, "lead"), (2, "responsible")}


def test_next_due_is_n_working_days_after_the_last_listing_or_the_first_overdue_day():
    from notifier.planning.schedule import Cadence, OverdueState, next_due

    r = RULES
    assert next_due(OverdueState(None, None), r.overdue, r) is None
    # Overdue from Saturday June 2: first notice Monday June 4, at 09:00 local (01:00 UTC).
    assert next_due(OverdueState(date(2018, 6, 2), None), r.overdue, r) == datetime(2018, 6, 4, 1)
    assert next_due(OverdueState(date(2018, 6, 2), date(2018, 6, 8)), r.overdue, r) == datetime(2018, 6, 13, 1)
    weekly = Cadence(weekday=3)
    assert next_due(OverdueState(date(2018, 6, 2), date(2018, 6, 6)), weekly, r) == datetime(2018, 6, 13, 1)


def test_the_progress_request_rides_with_the_first_cutoff_message_only():
    items = [item(1, date(2018, 6, 30), task=1), item(2, date(2018, 12, 31), task=2)]
    days = run_days(items, date(2018, 5, 31), date(2018, 6, 29))
    sections = [[e.section for d in ds for e in d.entries] for ds in days.values()]
    assert sections == [["cutoff", "progress"], ["cutoff"], ["cutoff"]]  # 30, 7 and 1 days before
