"""Planning passes against a real (SQLite) database, with pinned time: recurring reports,
catch-up after downtime, clock jumps, quiet hours and pacing."""

from __future__ import annotations

import dataclasses

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from notifier import cli
from notifier.daemon import Daemon
from notifier.db import queries
from notifier.db.engine import transaction
from notifier.reminders import open_items
from notifier.db.models import Delivery, Digest, ReminderLog
from notifier.delivery.dispatcher import Dispatcher

from tests.support.channels import Recorder
from tests.support.world import local, make_world, ms, plan, task, utc_naive

PORT, FGW, NW, ESC = "市港口与口岸局", "市发展和改革委员会", "市农村经济委员会", "市政府督查室"


def names_of(w, digests: list[Digest]) -> list[str]:  # noqa: ANN001
    with transaction(w.engine) as s:
        names = queries.department_names(s)
    return sorted(names[d.department_id] for d in digests)


def data(d: Digest) -> dict:
    return json.loads(d.data)


def dues(d: Digest, section: str) -> list[tuple[str, int]]:
    return [(e["due"], e["days"]) for e in data(d)[section]]


# ------------------------------------------------------------------ recurring reports

@pytest.fixture
def quarterly(tmp_path: Path):
    return make_world(tmp_path, plan(2025, task("1", "重点项目调度", "市发改委",
                                                ms(date(2025, 12, 31), "每季度调度1次", "quarterly"))))


def test_quarterly_report_has_four_open_occurrences(quarterly):
    with transaction(quarterly.engine) as s:
        items = open_items(s)
    assert [i.occurrence for i in items] == [date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30),
                                             date(2025, 12, 31)]
    assert len({i.milestone_id for i in items}) == 1


def test_each_occurrence_has_its_own_reminders_and_done_mark(quarterly, capsys):
    w = quarterly
    mid = w.milestone_id("每季度调度1次")
    [q1] = w.pass_at("2025-03-24 09:00").queued  # 7 days before Q1
    assert q1.department == FGW
    assert [e["due"] for e in q1.rendered.data["upcoming"]] == ["2025-03-31"]

    # A date that is not one of its occurrences is refused, naming the right ones.
    assert cli.main(["--config", str(w.cfg.path), "done", str(mid), "--occurrence", "2025-03-30"]) == 2
    assert "2025-03-31, 2025-06-30, 2025-09-30, 2025-12-31" in capsys.readouterr().err
    assert cli.main(["--config", str(w.cfg.path), "done", str(mid), "--occurrence", "2025-03-31"]) == 0

    assert w.pass_at("2025-04-03 09:00").queued == []  # Q1 done: no overdue notice
    # Q2 is reminded as usual (the June cutoff message) ...
    [q2] = w.pass_at("2025-06-23 09:00").queued
    assert [e["due"] for e in q2.rendered.data["due_by_cutoff"]] == ["2025-06-30"]
    # ... missed, so it becomes overdue, which does not stop Q3's reminders.
    od = w.pass_at("2025-07-03 09:00").queued
    assert [(e["due"], e["days"]) for q in od if q.kind == "reminder" for e in q.rendered.data["overdue"]] \
        == [("2025-06-30", 3)]
    [q3] = [q for q in w.pass_at("2025-09-23 09:00").queued if q.kind == "reminder"]
    assert [e["due"] for e in q3.rendered.data["due_by_cutoff"]] == ["2025-09-30"]
    assert [e["due"] for e in q3.rendered.data["overdue"]] == ["2025-06-30"]


# ------------------------------------------------------------------ catch-up after downtime

def downtime_world(tmp_path: Path):  # noqa: ANN201
    return make_world(tmp_path, plan(
        2025,
        task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 10), "完成泊位验收"),
             ms(date(2025, 6, 30), "单一窗口上线")),
        task("2", "项目推进", "市发改委", ms(date(2025, 6, 12), "召开推进会"), ms(date(2025, 9, 30), "完成年度投资")),
        task("3", "养殖小区", "市农委", ms(date(2025, 5, 30), "新建养殖小区")),
    ), schedule="stagger_seconds = 0")


def test_daemon_stopped_ten_days_sends_one_digest_per_department_with_todays_numbers(tmp_path: Path):
    w = downtime_world(tmp_path)
    daemon = Daemon(w.cfg)
    daemon.planning_pass(local("2025-06-03 09:00"))  # runs the tick too
    first = {d.id for d in w.digests()}
    assert all(d.status == "sent" for d in w.deliveries())

    # Stopped from 06-03 evening to 06-13: 06-10 and 06-12 passed, and several overdue cycles.
    daemon.planning_pass(local("2025-06-13 09:00"))
    new = [d for d in w.digests() if d.id not in first]
    reminders = [d for d in new if d.kind == "reminder"]
    assert names_of(w, reminders) == sorted([PORT, FGW, NW])  # exactly one each
    assert names_of(w, [d for d in new if d.kind == "escalation"]) == [ESC]
    by = dict(zip(names_of(w, reminders), sorted(reminders, key=lambda d: names_of(w, [d])[0]), strict=True))
    # Dates that passed while down are overdue notices with today's day count, not late "upcoming".
    assert dues(by[PORT], "overdue") == [("2025-06-10", 3)] and dues(by[PORT], "upcoming") == []
    assert dues(by[FGW], "overdue") == [("2025-06-12", 1)] and dues(by[FGW], "upcoming") == []
    assert dues(by[NW], "overdue") == [("2025-05-30", 14)]
    [esc] = [d for d in new if d.kind == "escalation"]
    assert sorted(dues(esc, "escalation")) == [("2025-05-30", 14), ("2025-06-10", 3), ("2025-06-12", 1)]
    assert all(d.status == "sent" for d in w.deliveries())
    # Once: the next passes that day find nothing new.
    assert w.pass_at("2025-06-13 10:00").queued == []
    assert w.pass_at("2025-06-13 16:00").queued == []


def test_digests_queued_but_never_sent_before_downtime_are_replanned_once(tmp_path: Path):
    w = downtime_world(tmp_path)
    old = w.pass_at("2025-06-03 09:00")  # queued; the daemon died before its tick
    assert len(old.queued) == 4  # three departments and the supervision office
    again = w.pass_at("2025-06-13 09:00")
    assert again.replaced == 4
    digests = w.digests()
    assert {d.day for d in digests} == {date(2025, 6, 13)}  # the stale 06-03 ones are gone
    reminders = [d for d in digests if d.kind == "reminder"]
    assert names_of(w, reminders) == sorted([PORT, FGW, NW])
    [port] = [d for d in reminders if names_of(w, [d]) == [PORT]]
    # Today's numbers: the June cutoff (re-fired) and 06-10, now 3 days late.
    assert dues(port, "overdue") == [("2025-06-10", 3)]
    assert dues(port, "due_by_cutoff") == [("2025-06-30", 17)]
    assert len(w.deliveries()) == 4  # one row per contact (3 departments + the supervision office)


def test_the_first_tick_of_a_day_replans_yesterdays_unsent_digests_with_todays_numbers(tmp_path: Path):
    """Queued at 2025-06-03 but never sent (the daemon died before its tick): the first tick
    the next morning, before the day's planning pass, must not send the stale copy."""
    w = downtime_world(tmp_path)
    w.pass_at("2025-06-03 09:00")  # queued only
    Daemon(w.cfg).tick(local("2025-06-04 08:31"))
    assert {d.day for d in w.digests()} == {date(2025, 6, 4)}  # only today's copy exists
    assert w.deliveries() and all(d.status == "sent" for d in w.deliveries())


def test_started_digest_is_not_replaced(tmp_path: Path):
    w = downtime_world(tmp_path)
    w.pass_at("2025-06-03 09:00")
    with transaction(w.engine) as s:
        s.execute(update(Delivery).values(attempts=1, last_error="421 try later"))
    assert w.pass_at("2025-06-13 09:00").replaced == 0


# ------------------------------------------------------------------ clock jumps

def test_clock_jump_forward_sends_one_digest_per_department_not_a_flood(tmp_path: Path):
    w = downtime_world(tmp_path)
    w.run("2025-06-03 09:00")
    before = len(w.digests())
    r = w.run("2025-09-24 09:00")  # +113 days: dozens of missed triggers
    assert sorted(q.department for q in r.queued) == sorted([PORT, FGW, NW, ESC])
    assert len(w.digests()) == before + 4
    assert len(w.recorder.messages) == before + 4
    assert w.run("2025-09-24 09:30").queued == []


def test_clock_jump_backward_neither_repeats_nor_skips(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线"))))
    assert len(w.run("2025-06-03 09:00").queued) == 1  # the 30-day June cutoff reminder
    assert len(w.run("2025-06-23 09:00").queued) == 1  # the 7-day one
    assert w.run("2025-06-23 08:59:30").queued == []  # NTP steps back 30 s
    assert w.run("2025-06-20 10:00").queued == []  # set back three days
    assert w.run("2025-06-23 09:00").queued == []  # and forward again: still sent once
    # Not skipped: the 1-day reminder (06-29 is a Sunday -> Friday 06-27) still goes out.
    assert len(w.run("2025-06-27 09:00").queued) == 1
    assert len(w.recorder.messages) == 3


def test_clock_that_ran_months_ahead_and_was_corrected_does_not_skip(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线"),
                                             ms(date(2025, 9, 30), "货物申报应用率达到50%"))))
    assert len(w.run("2025-06-03 09:00").queued) == 1
    w.run("2025-09-29 09:00")  # the clock ran months ahead for a while
    r = w.run("2025-06-23 09:00")  # corrected: the 7-day June reminder is still due
    assert [q.department for q in r.queued] == [PORT]
    assert [e["due"] for e in r.queued[0].rendered.data["due_by_cutoff"]] == ["2025-06-30"]
    assert w.run("2025-06-23 09:30").queued == []


# ------------------------------------------------------------------ quiet hours and pacing

def test_nothing_is_planned_or_sent_outside_the_window_without_force(tmp_path: Path, capsys):
    w = downtime_world(tmp_path)
    r = w.pass_at("2025-06-03 20:00")
    assert r.queued == [] and "outside the send window 08:30-17:30" in r.skipped_reason
    assert w.pass_at("2025-06-07 09:00").skipped_reason == "2025-06-07 is not a working day"
    assert cli.main(["--config", str(w.cfg.path), "send-due", "--now", "2025-06-03 20:00"]) == 0
    assert "nothing queued or sent" in capsys.readouterr().out and w.deliveries() == []
    assert cli.main(["--config", str(w.cfg.path), "send-due", "--now", "2025-06-03 20:00", "--force"]) == 0
    assert "已发送 4，" in capsys.readouterr().out
    assert {d.status for d in w.deliveries()} == {"sent"}


def test_tick_sends_queued_rows_and_retries_only_inside_the_window(tmp_path: Path):
    w = downtime_world(tmp_path)
    w.pass_at("2025-06-03 17:29")
    daemon = Daemon(w.cfg)
    daemon.tick(local("2025-06-03 17:45"))  # the window closed before the tick
    assert {d.status for d in w.deliveries()} == {"pending"}
    daemon.tick(local("2025-06-04 08:00"))
    assert {d.status for d in w.deliveries()} == {"pending"}
    # A retry of a digest already started waits for the window too (and for a working day).
    with transaction(w.engine) as s:
        first = s.scalar(select(Delivery).order_by(Delivery.id).limit(1))
        first.attempts, first.last_error = 1, "421 try later"
    daemon.tick(local("2025-06-07 10:00"))  # Saturday
    assert {d.status for d in w.deliveries()} == {"pending"}
    daemon.tick(local("2025-06-04 08:31"))
    assert {d.status for d in w.deliveries()} == {"sent"}


def test_big_digest_day_is_staggered_over_the_first_minutes(tmp_path: Path):
    w = downtime_world(tmp_path)
    w.cfg = dataclasses.replace(w.cfg, schedule=dataclasses.replace(w.cfg.schedule, stagger_seconds=5.0))
    r = w.pass_at("2025-06-03 09:00")
    rows = w.deliveries()
    start = utc_naive(local("2025-06-03 09:00"))
    assert [d.due_at for d in rows] == [start + timedelta(seconds=5 * i) for i in range(len(rows))]
    assert all(d.next_attempt_at == d.due_at for d in rows)
    assert r.last_due_at == rows[-1].due_at

    rec = Recorder()
    dispatcher = Dispatcher(w.engine, lambda c, r: rec)
    assert asyncio.run(dispatcher.run_once(start)).sent == 1  # not a burst
    assert asyncio.run(dispatcher.run_once(start + timedelta(seconds=5))).sent == 1

    clock = [start + timedelta(seconds=5)]
    slept = []

    async def fake_sleep(seconds: float) -> None:  # time is an input: no real waiting
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    paced = Dispatcher(w.engine, lambda c, r: rec, clock=lambda: clock[0])
    counts = asyncio.run(paced.run_paced(r.last_due_at, sleep=fake_sleep))
    assert counts.sent == len(rows) - 2 and slept == [5.0] * (len(rows) - 2)
    assert {d.status for d in w.deliveries()} == {"sent"}


def test_send_due_with_simulated_time_sends_the_whole_staggered_pass(tmp_path: Path, capsys):
    w = downtime_world(tmp_path)
    path = w.cfg.path
    path.write_text(path.read_text().replace("stagger_seconds = 0", "stagger_seconds = 3"))
    assert cli.main(["--config", str(path), "send-due", "--now", "2025-06-03 09:00"]) == 0
    assert "已发送 4，待重试 0，失败 0" in capsys.readouterr().out
    rows = w.deliveries()
    assert [d.due_at - rows[0].due_at for d in rows] == [timedelta(seconds=3 * i) for i in range(4)]


def test_reminder_log_ignores_triggers_logged_by_a_clock_far_ahead(tmp_path: Path):
    w = downtime_world(tmp_path)
    w.pass_at("2025-09-29 09:00")
    with transaction(w.engine) as s:
        assert queries.reminder_log(s)
        assert queries.reminder_log(s, upto=utc_naive(local("2025-06-03 09:00"))) == {}
        assert s.scalar(select(ReminderLog.trigger_at).limit(1)) is not None
