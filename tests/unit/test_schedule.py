"""The pure planner: which digests are due at a given moment."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from notifier.planning.calendar import WorkCalendar
from notifier.planning.schedule import Item, PlanInfo, Rules, plan_digests

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
    assert plan_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 30, 9)) == []


def test_a_late_import_sends_the_june_cutoff_digest_at_the_first_pass():
    items = [item(1, date(2018, 6, 30)), item(2, date(2018, 12, 31))]
    [d] = plan_digests(items, {}, RULES, at(2018, 6, 20, 9))
    assert [(e.section, e.days) for e in d.entries] == [("cutoff", 10), ("progress", 194)]
    assert d.cutoffs == [date(2018, 6, 30)]


def test_of_several_missed_reminders_only_the_latest_fires_once():
    items = [item(1, date(2018, 6, 30))]
    first = plan_digests(items, {}, RULES, at(2018, 6, 25, 9))  # 30- and 7-day triggers both passed
    assert len(first) == 1 and len(first[0].fired) == 1
    assert plan_digests(items, log_of(first), RULES, at(2018, 6, 25, 16)) == []
    # The next trigger (1 day before, June 29 a Friday) fires again.
    assert len(plan_digests(items, log_of(first), RULES, at(2018, 6, 29, 9))) == 1


def test_a_non_cutoff_milestone_gets_its_own_reminders():
    [d] = plan_digests([item(1, date(2018, 5, 31))], {}, RULES, at(2018, 5, 24, 9))
    assert [(e.section, e.days) for e in d.entries] == [("upcoming", 7)]


def test_an_overdue_item_is_repeated_every_n_days_and_copied_to_escalation():
    items = [item(1, date(2018, 5, 31))]
    d1 = plan_digests(items, {}, RULES, at(2018, 6, 1, 9))
    assert {(d.department_id, d.kind) for d in d1} == {(1, "reminder"), (99, "escalation")}
    log = log_of(d1)
    assert plan_digests(items, log, RULES, at(2018, 6, 2, 9)) == []
    d4 = plan_digests(items, log, RULES, at(2018, 6, 4, 9))  # June 1 + 3 days
    overdue = [e for d in d4 for e in d.entries if d.kind == "reminder"]
    assert [(e.section, e.days) for e in overdue] == [("overdue", 4)]


def test_reminders_for_one_department_on_one_day_become_one_digest():
    items = [item(1, date(2018, 6, 30), task=1), item(2, date(2018, 7, 31), task=2), item(3, date(2018, 5, 31), task=3)]
    digests = [d for d in plan_digests(items, {}, RULES, at(2018, 7, 2, 9)) if d.kind == "reminder"]
    assert len(digests) == 1
    assert [e.section for e in digests[0].entries] == ["overdue", "overdue", "upcoming"]


def test_overdue_items_come_first_most_late_first():
    items = [item(1, date(2018, 6, 30)), item(2, date(2018, 5, 31)), item(3, date(2018, 6, 15))]
    [d] = [d for d in plan_digests(items, {}, RULES, at(2018, 9, 1, 9)) if d.kind == "reminder"]
    assert [e.item.milestone_id for e in d.entries[:3]] == [2, 3, 1]


def test_a_reminder_day_on_a_weekend_moves_to_the_friday_before():
    # 2018-06-30 - 7 days = Saturday June 23 -> Friday June 22.
    assert plan_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 31, 9))  # the 30-day one
    first = plan_digests([item(1, date(2018, 6, 30))], {}, RULES, at(2018, 5, 31, 9))
    fired = plan_digests([item(1, date(2018, 6, 30))], log_of(first), RULES, at(2018, 6, 22, 9))
    assert len(fired) == 1


def test_the_digest_key_is_the_same_for_the_same_triggers():
    items = [item(1, date(2018, 6, 30))]
    a = plan_digests(items, {}, RULES, at(2018, 6, 20, 9))
    b = plan_digests(items, {}, RULES, at(2018, 6, 20, 11))
    assert a[0].key == b[0].key


def test_the_latest_overdue_trigger_is_the_last_of_the_listed_cycles():
    """The fast path the planner uses agrees with the full list of overdue cycles, holidays included."""
    from datetime import timedelta

    from notifier.planning.schedule import latest_overdue_trigger, overdue_triggers

    rules = Rules(tz=TZ, overdue_every_days=3, calendar=WorkCalendar())  # China's calendar: holiday weeks
    for due in (date(2025, 9, 20), date(2025, 9, 30), date(2025, 12, 31), date(2024, 2, 1)):
        for days in range(0, 60):
            for hour in (8, 9, 12):
                now = at(2025, 10, 1, hour) + timedelta(days=days)
                today = now.date()
                now_utc = now.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
                listed = [t for t in overdue_triggers(due, today, rules) if t <= now_utc]
                assert latest_overdue_trigger(due, today, now_utc, rules) == (listed[-1] if listed else None)
