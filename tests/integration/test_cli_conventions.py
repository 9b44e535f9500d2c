"""The CLI's conventions, on real SQLite files: global options anywhere on the line, `--now`
everywhere, one date reader, unknown departments refused with near names, a closed pipe is a
quiet exit, times in the configured zone, `done --on`, roles in `milestones --department`,
counts that say what they count, and item counts equal to the items listed."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from notifier import cli
from notifier.db.engine import transaction, utcnow
from notifier.db.models import Contact, Milestone, OccurrenceDone
from notifier.importing.readers import read_plan
from notifier.importing.store import store_plan
from notifier.departments import nearest

from tests.support.outbox import queue_rows
from tests.support.processes import env
from tests.support.world import local, make_world, ms, plan, task, utc_naive

PLAN_2018 = Path(__file__).resolve().parents[1] / "fixtures" / "plans" / "panjin-2018-coastal-economic-belt.txt"


def world(tmp_path: Path):  # noqa: ANN201
    port = task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 10), "完成泊位验收"),
                ms(date(2025, 9, 30), "单一窗口上线"))
    port = replace(port, cooperating=["市发展和改革委员会"])
    return make_world(tmp_path, plan(
        2025,
        port,
        task("2", "重点项目调度", "市发改委", ms(date(2025, 12, 31), "每季度调度1次", "quarterly")),
    ))


def notifier(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-m", "notifier", *args], stdout=stdout, stderr=subprocess.PIPE,
                            text=True, env=env())


# ------------------------------------------------------------------ the command line itself

@pytest.mark.slow
def test_global_options_work_after_the_command(tmp_path: Path):
    w = world(tmp_path)
    proc = notifier("status", "--now", "2025-07-03 10:00", "--config", str(w.cfg.path))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "方案 1 个，任务 2 项" in out and "no config file" not in err
    # before the command it still works, and one after it wins over none
    proc = notifier("--config", str(w.cfg.path), "--log-level", "ERROR", "milestones", "--now", "2025-07-03")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "完成泊位验收" in out
    # and on the subcommands of a command
    assert cli.main(["db", "upgrade", "--config", str(w.cfg.path)]) == 0


@pytest.mark.slow
def test_a_closed_pipe_is_a_quiet_exit(tmp_path: Path):
    w = world(tmp_path)
    # the reader is gone before the first line is written: every write meets a closed pipe
    with notifier("--config", str(w.cfg.path), "milestones") as proc:
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0
    assert err == ""
    # as a person types it
    shell = subprocess.run(["bash", "-o", "pipefail", "-c",
                            f'"{sys.executable}" -m notifier --config "{w.cfg.path}" history --limit 5 | head -0; '
                            f'"{sys.executable}" -m notifier --config "{w.cfg.path}" milestones | head -1'],
                           capture_output=True, text=True, env=env(), timeout=120)
    assert shell.returncode == 0 and shell.stderr == "" and shell.stdout.count("\n") == 1


def test_now_is_the_one_name_for_simulated_time_and_at_still_works(tmp_path: Path, capsys):
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    assert cli.main(["--config", cfg, "preview", "--department", "市港口与口岸局", "--now", "2025-06-03 09:00"]) == 0
    new = capsys.readouterr()
    assert "完成泊位验收" in new.out and new.err == ""
    assert cli.main(["--config", cfg, "preview", "--department", "市港口与口岸局", "--at", "2025-06-03 09:00"]) == 0
    old = capsys.readouterr()
    assert old.out == new.out and "--at is deprecated; use --now" in old.err
    with pytest.raises(SystemExit) as exc:
        cli.main(["--config", cfg, "send-due", "--now", "yesterday"])
    assert exc.value.code == 2 and "cannot read 'yesterday'" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["2018-07-01", "2018/7/1", "2018年7月1日", " 2018.07.01 ", "2018 年 7 月 1 日"])
def test_every_date_form_reads_the_same_day(text: str):
    assert cli.parse_day(text) == date(2018, 7, 1)


@pytest.mark.parametrize("text, expected", [
    ("2018-06-20 09:00", datetime(2018, 6, 20, 9, 0)),
    ("2018/6/20 9:05", datetime(2018, 6, 20, 9, 5)),
    ("2018年6月20日 9时", datetime(2018, 6, 20, 9, 0)),
    ("2018年6月20日", datetime(2018, 6, 20)),
    ("2018-06-20T09:00:30", datetime(2018, 6, 20, 9, 0, 30)),
])
def test_now_reads_the_same_date_forms_with_a_time(text: str, expected: datetime):
    assert cli.parse_moment(text) == expected


@pytest.mark.parametrize("text", ["2018/13/1", "2018-02-30", "7/1", "2018-07-01 25:00"])
def test_a_date_that_is_not_one_is_refused(text: str):
    with pytest.raises(ValueError):
        cli.parse_moment(text)


def test_date_options_of_every_command_read_the_same_forms(tmp_path: Path, capsys):
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    outs = []
    for form in ("2025-07-01", "2025/7/1", "2025年7月1日"):
        assert cli.main(["--config", cfg, "milestones", "--due-before", form, "--now", form]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2] and "完成泊位验收" in outs[0] and "单一窗口上线" not in outs[0]
    report = w.milestone_id("每季度调度1次")
    with freeze_time("2025-07-05 02:00:00"):
        assert cli.main(["--config", cfg, "done", str(report), "--occurrence", "2025年6月30日"]) == 0
    with transaction(w.engine) as s:
        assert s.get(OccurrenceDone, (report, date(2025, 6, 30))) is not None


def test_unknown_department_is_bad_input_with_the_nearest_names(tmp_path: Path, capsys):
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    for command in (["milestones", "--department", "发改委"], ["preview", "--department", "市港口局"]):
        assert cli.main(["--config", cfg, *command]) == 2
        err = capsys.readouterr().err
        assert f"没有名为「{command[-1]}」的部门" in err and "相近的名称：" in err
    assert nearest("发改委", {"市发改委", "市农委", "市港口与口岸局"}) == ["市发改委"]
    # a configured department with nothing to do is known: no rows, exit 0
    assert cli.main(["--config", cfg, "milestones", "--department", "市农委"]) == 0
    assert "（共0个时间节点）" in capsys.readouterr().out
    # preview did not create the unknown name
    assert cli.main(["--config", cfg, "milestones", "--department", "市港口局"]) == 2


# ------------------------------------------------------------------ what the office reads

def test_milestones_for_a_department_show_its_role_on_each_line(tmp_path: Path, capsys):
    w = world(tmp_path)
    assert cli.main(["--config", str(w.cfg.path), "milestones", "--department", "市发改委", "--now", "2025-07-03"]) == 0
    lines = capsys.readouterr().out.splitlines()
    port = [line for line in lines if "任务1" in line]
    report = [line for line in lines if "任务2" in line]
    assert len(port) == 2 and all("  配合  任务1（牵头：市港口与口岸局）" in line for line in port)
    assert report and all("  牵头  任务2（牵头：市发展和改革委员会）" in line for line in report)


def test_office_output_is_chinese_for_content_and_statuses(tmp_path: Path, capsys):
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    assert cli.main(["--config", cfg, "milestones", "--now", "2025-07-03"]) == 0
    out = capsys.readouterr().out
    assert "已逾期23天" in out and "未办结" in out and "每季度" in out and out.rstrip().endswith("（共3个时间节点）")
    for jargon in ("overdue", "open", "items)", "milestones)", "quarterly", "d "):
        assert jargon not in out, jargon


def test_status_counts_say_what_they_count(tmp_path: Path, capsys):
    """Open milestones and overdue dates differ when a recurring report missed several dates:
    the words say which is which, and overdue milestones never exceed open ones."""
    w = world(tmp_path)
    assert cli.main(["--config", str(w.cfg.path), "status", "--now", "2025-10-10 10:00"]) == 0
    out = capsys.readouterr().out
    # open: 3 milestones; overdue: both one-offs and the quarterly report (Q1, Q2, Q3 missed) = 5 dates
    assert "时间节点 3 个：未办结 3，已办结 0" in out
    assert "逾期：3 个未办结的时间节点已过期限，共 5 个逾期期次（周期性报送每漏一期计一次" in out


def test_every_time_shown_is_in_the_configured_zone(tmp_path: Path, capsys):
    w = world(tmp_path)
    queue_rows(w.engine, [("webhook", "gk@example.gov.cn")], now=utcnow())
    with transaction(w.engine) as s:
        from notifier.db.models import Delivery

        s.execute(Delivery.__table__.update().values(next_attempt_at=datetime(2018, 6, 20, 1, 0)))
        s.add(Contact(channel="email", recipient="gk@example.gov.cn", broken=True, last_error="550 no such user",
                      broken_at=datetime(2018, 6, 20, 1, 0)))
    assert cli.main(["--config", str(w.cfg.path), "status"]) == 1
    out = capsys.readouterr().out
    assert "下次投递：2018-06-20 09:00" in out
    assert "email:gk@example.gov.cn 自 2018-06-20 09:00 起：550 no such user" in out
    assert "01:00" not in out and "UTC" not in out


def test_done_on_records_when_the_work_was_really_done(tmp_path: Path, capsys):
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    berth, report = w.milestone_id("完成泊位验收"), w.milestone_id("每季度调度1次")
    with freeze_time("2025-07-03 02:00:00"):
        assert cli.main(["--config", cfg, "done", str(berth), "--on", "2025/6/9", "--note", "补记"]) == 0
        assert "已办结（办结日期 2025-06-09）" in capsys.readouterr().out
        assert cli.main(["--config", cfg, "done", str(report), "--occurrence", "2025-06-30", "--on", "2025年7月2日"]) == 0
        assert cli.main(["--config", cfg, "done", str(berth), "--on", "2025-07-04"]) == 2
        assert "has not come yet" in capsys.readouterr().err
        assert cli.main(["--config", cfg, "done", str(berth), "--reopen", "--on", "2025-07-01"]) == 2
        assert cli.main(["--config", cfg, "history"]) == 0
    out = capsys.readouterr().out
    assert f"#{berth:<5} 任务1 完成泊位验收：办结 2025-06-09 00:00 经命令行" in out
    assert f"#{report:<5} 2025-06-30期 任务2 每季度调度1次：办结 2025-07-02 00:00" in out
    with transaction(w.engine) as s:
        assert s.get(Milestone, berth).done_at == utc_naive(local("2025-06-09 00:00"))
        assert s.get(OccurrenceDone, (report, date(2025, 6, 30))).done_at == utc_naive(local("2025-07-02 00:00"))
    # done on time: 06-09 is before its date 06-10, so it was never overdue
    assert cli.main(["--config", cfg, "milestones", "--status", "overdue", "--now", "2025-07-03"]) == 0
    assert "完成泊位验收" not in capsys.readouterr().out


def test_send_due_counts_the_items_each_digest_lists(tmp_path: Path, capsys):
    """The 2018 plan on 2018-07-03: every "(N项)" equals the numbered lines of that message."""
    w = make_world(tmp_path, plan(2018))
    with transaction(w.engine) as s:
        store_plan(s, read_plan(PLAN_2018, year=2018), w.cfg)
    result = w.pass_at("2018-07-03 09:00", dry_run=True)
    assert result.queued
    for q in result.queued:
        numbered = len(re.findall(r"^\s+\d+\. ", q.rendered.text, flags=re.M))
        assert cli.listed_items(q.rendered.data) == numbered, q.rendered.subject
    assert cli.main(["--config", str(w.cfg.path), "send-due", "--dry-run", "--now", "2018-07-03 09:00"]) == 0
    out = capsys.readouterr().out
    for line in out.splitlines():
        if line.startswith("将排队：") and "（" in line:
            listed = int(re.search(r"（(\d+)项）", line)[1])
            assert listed == next(cli.listed_items(q.rendered.data) for q in result.queued if q.rendered.subject in line)
    assert "items" not in out


# ------------------------------------------------------------------ --json

def _json(capsys, *argv: str) -> dict:
    import json

    assert cli.main(list(argv)) in (0, 1)
    return json.loads(capsys.readouterr().out)


def test_json_output_follows_the_documented_schema(tmp_path: Path, capsys):
    """The keys are those of docs/cli-json.md; a change there is a new schema version."""
    w = world(tmp_path)
    cfg = str(w.cfg.path)
    with freeze_time("2025-07-03 02:00:00"):
        assert cli.main(["--config", cfg, "progress", str(w.milestone_id("完成泊位验收")), "--note", "验收中"]) == 0
    capsys.readouterr()
    status = _json(capsys, "--config", cfg, "status", "--json", "--now", "2025-07-03 10:00")
    assert status["schema"] == "notifier/status/1"
    assert set(status) == {"schema", "now", "healthy", "plans", "tasks", "milestones", "overdue_dates",
                           "recent_answers", "deliveries", "next_attempt", "failed_digests", "broken_contacts",
                           "plans_closed", "without_contact", "collective_names", "warnings",
                           "grades", "not_signed",  # the grade ladder's keys, added within version 1
                           "reviews_waiting"}  # the review of done requests, added within version 1
    assert status["milestones"] == {"open": 3, "done": 0, "overdue": 2} and status["overdue_dates"] == 3
    assert status["now"] == "2025-07-03T10:00:00+08:00"
    [answer] = status["recent_answers"]
    assert answer == {"milestone_id": w.milestone_id("完成泊位验收"), "occurrence": None, "action": "progress",
                      "at": "2025-07-03T10:00:00+08:00", "source": "cli", "actor": answer["actor"], "note": "验收中",
                      "percent": None}

    listing = _json(capsys, "--config", cfg, "milestones", "--json", "--department", "市发改委", "--now", "2025-07-03")
    assert set(listing) == {"schema", "today", "department", "status", "milestones"}
    row = listing["milestones"][0]
    assert set(row) == {"id", "plan", "plan_status", "task_number", "task_title", "text", "due", "recurrence", "status",
                        "days_late", "leads", "roles", "last", "grade"}
    assert (row["text"], row["due"], row["status"], row["days_late"], row["roles"], row["leads"]) == (
        "完成泊位验收", "2025-06-10", "overdue", 23, ["cooperating"], ["市港口与口岸局"])

    history = _json(capsys, "--config", cfg, "history", "--json")
    assert history["schema"] == "notifier/history/1"
    assert set(history) == {"schema", "events", "grade_steps", "signatures"}
    assert set(history["events"][0]) == {"milestone_id", "occurrence", "action", "at", "source", "actor", "note",
                                         "percent", "task_number", "text"}

    dry = _json(capsys, "--config", cfg, "send-due", "--json", "--dry-run", "--now", "2025-07-03 09:00")
    assert set(dry) == {"schema", "now", "dry_run", "skipped_reason", "replanned", "digests", "without_contact",
                        "collective", "reports", "delivery"}
    assert dry["dry_run"] is True and dry["delivery"] is None and dry["digests"]
    assert set(dry["digests"][0]) == {"department", "kind", "items", "subject", "contacts"}
    quiet = _json(capsys, "--config", cfg, "send-due", "--json", "--dry-run", "--now", "2025-07-05 09:00")
    assert quiet["skipped_reason"] and quiet["digests"] == []
    with transaction(w.engine) as s:
        assert s.scalars(select(Milestone)).all()  # nothing written by a dry run
