"""The ledger's lights are a pure function of the item, the [grades] rules and today."""

from __future__ import annotations

from datetime import date, timedelta

from notifier.config import GradesConfig
from notifier.office.grades import Context, GradeItem, Light, grade, plan_cutoffs, workdays_between

RULES = GradesConfig(lead_days=7, silent_workdays=20, cutoff_answer_days=30)
CUTOFFS = plan_cutoffs(date(2025, 1, 1), date(2025, 12, 31), (6, 9, 12))


def weekdays(d: date) -> bool:
    return d.weekday() < 5


def light(due: date, today: date, *, done: bool = False, answers=(), since=date(2025, 6, 1),  # noqa: ANN001
          rules: GradesConfig = RULES) -> Light:
    return grade(GradeItem(due, done, tuple(answers), since), Context(today, rules, CUTOFFS, weekdays))


def test_cutoffs_are_the_ends_of_the_cutoff_months_within_the_plan():
    assert CUTOFFS == (date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31))


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
