"""``paused`` answers, purely, whether a task or a department is paused on a day."""

from __future__ import annotations

from datetime import date

from notifier.office.pauses import PauseSpan, paused

SPANS = [PauseSpan(1, 7, None, date(2025, 7, 1), date(2025, 7, 31), "防汛"),
         PauseSpan(2, None, 3, date(2025, 8, 1), date(2025, 8, 10), "机构调整"),
         PauseSpan(3, 9, None, date(2025, 7, 1), date(2025, 12, 31), "已恢复", resumed=True)]


def test_a_task_is_paused_from_its_start_to_its_end_day_inclusive():
    assert paused(SPANS, date(2025, 7, 31), task_id=7).id == 1
    assert paused(SPANS, date(2025, 8, 1), task_id=7) is None
    assert paused(SPANS, date(2025, 6, 30), task_id=7) is None


def test_a_department_pause_holds_for_every_task_it_is_on():
    assert paused(SPANS, date(2025, 8, 5), task_id=99, department_ids=[5, 3]).id == 2
    assert paused(SPANS, date(2025, 8, 5), task_id=99, department_ids=[5]) is None


def test_a_resumed_pause_no_longer_holds():
    assert paused(SPANS, date(2025, 8, 5), task_id=9) is None
