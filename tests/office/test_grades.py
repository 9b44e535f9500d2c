"""The ledger's lights are a pure function of the item, the [grades] rules and today."""

from __future__ import annotations

from datetime import date, timedelta

from notifier.config import GradesConfig
from notifier.office.grades import Context, GradeItem, Light, behind_reason, grade, plan_cutoffs, workdays_between

RULES = GradesConfig(lead_days=7, silent_workdays=20, cutoff_answer_days=30)  # silence on: its rule is tested too
CUTOFFS = plan_cutoffs(date(2025, 1, 1), date(2025, 12, 31), (6, 9, 12))


def weekdays(d: date) -> bool:
    return d.weekday() < 5


def light(due: date, today: date, *, done: bool = False, answers=(), since=date(2025, 6, 1),  # noqa: ANN001
          rules: GradesConfig = RULES) -> Light:
    return grade(GradeItem(due, done, tuple(answers), since), Context(today, rules, CUTOFFS, weekdays))


def test_cutoffs_are_the_ends_of_the_cutoff_months_within_the_plan():
    assert (date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31)) == CUTOFFS


def test_an_open_item_past_its_date_is_red():
    assert light(date(2025, 7, 1), date(2025, 7, 2), answers=[date(2025, 7, 1)]) is Light.RED


def test_a_done_item_is_green_even_after_its_date():
    assert light(date(2025, 7, 1), date(2025, 8, 2), done=True) is Light.GREEN


def test_an_item_due_within_the_lead_window_is_blue():
    today = date(2025, 6, 10)
    assert light(today + timedelta(days=7), today, answers=[today]) is Light.BLUE
    assert light(today, today, answers=[today]) is Light.BLUE  # due today: not overdue yet
    assert light(today + timedelta(days=8), today, answers=[today]) is Light.GREEN


def test_no_answer_to_the_last_cutoffs_progress_request_is_yellow():
    # Due in December; the June 30 cutoff asked for progress; nothing came since June 1.
    assert light(date(2025, 12, 31), date(2025, 7, 3), answers=[date(2025, 5, 20)]) is Light.YELLOW
    # An answer within 30 days before the cutoff answers it.
    assert light(date(2025, 12, 31), date(2025, 7, 3), answers=[date(2025, 6, 20)]) is Light.GREEN


def test_an_item_not_yet_followed_at_the_cutoff_was_not_asked():
    assert light(date(2025, 12, 31), date(2025, 7, 3), since=date(2025, 7, 1)) is Light.GREEN


def test_silent_for_the_configured_working_days_is_yellow():
    # 20 weekdays after Monday 2025-08-04 is Monday 2025-09-01 (after the June cutoff's answer window).
    answered = [date(2025, 8, 4)]
    assert light(date(2025, 12, 31), date(2025, 8, 29), answers=answered) is Light.GREEN
    assert light(date(2025, 12, 31), date(2025, 9, 1), answers=answered) is Light.YELLOW
    off = GradesConfig(lead_days=7, silent_workdays=0, cutoff_answer_days=30)
    assert light(date(2025, 12, 31), date(2025, 9, 1), answers=answered, rules=off) is Light.GREEN


def test_behind_ranks_above_due_soon():
    assert light(date(2025, 7, 5), date(2025, 7, 1), answers=[date(2025, 5, 1)]) is Light.YELLOW


def test_working_days_skip_weekends():
    assert workdays_between(date(2025, 8, 1), date(2025, 8, 8), weekdays, stop_at=99) == 5


def test_a_reminder_not_signed_for_by_its_day_is_yellow_and_says_why():
    today = date(2025, 6, 10)
    item = GradeItem(date(2025, 6, 30), False, (today,), date(2025, 6, 1), sign_by=date(2025, 6, 11))
    ctx = Context(today, RULES, CUTOFFS, weekdays)
    assert grade(item, ctx) is Light.GREEN  # still in time on the last day and before it
    late = Context(date(2025, 6, 12), RULES, CUTOFFS, weekdays)
    assert grade(item, late) is Light.YELLOW
    assert behind_reason(item, late) == "未按时签收"


def test_the_lead_window_opens_on_the_working_day_its_reminder_goes_out():
    # 7 days before Monday 2025-06-16 is Monday 06-09; before Sunday 06-22 it is Sunday 06-15,
    # whose reminder goes out on Friday 06-13.
    assert light(date(2025, 6, 16), date(2025, 6, 9), answers=[date(2025, 6, 9)]) is Light.BLUE
    assert light(date(2025, 6, 22), date(2025, 6, 13), answers=[date(2025, 6, 13)]) is Light.BLUE
    assert light(date(2025, 6, 22), date(2025, 6, 12), answers=[date(2025, 6, 12)]) is Light.GREEN


def test_grades_rank_up_the_ladder_with_their_words():
    assert [g.rank for g in (Light.GREEN, Light.BLUE, Light.YELLOW, Light.RED)] == [0, 1, 2, 3]
    assert [g.word for g in (Light.BLUE, Light.YELLOW, Light.RED)] == ["提醒", "催办", "督办"]
