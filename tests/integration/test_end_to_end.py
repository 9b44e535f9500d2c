"""The whole path with real parts: CSV import -> planning -> SMTP and HTTP delivery, via the CLI."""

from __future__ import annotations

import json
import sqlite3
from email.header import decode_header, make_header

import pytest

from notifier.cli import main

from tests.support.database import seed
from tests.support.paths import FIXTURES
from tests.support.servers import mails

CSV = FIXTURES / "panjin-2018.csv"
PLAN = "盘锦市推进沿海经济带建设2018年工作实施方案"


@pytest.fixture
def config(write_config, smtp_server, http_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    seed(f"sqlite:///{tmp_path}/notifier.db")
    return write_config(f"""
        timezone = "Asia/Shanghai"
        [database]
        url = "sqlite:///{tmp_path}/notifier.db"
        [schedule]
        lead_days = [30, 7, 1]
        send_at = "09:00"
        overdue_every_days = 3
        [escalation]
        to = ["市政府督查室"]
        [email]
        host = "127.0.0.1"
        port = {smtp_server.port}
        security = "none"
        from = "督查室 <ducha@example.gov.cn>"
        [delivery]
        backoff_seconds = 60
        max_attempts = 5
        [webhooks.fgw]
        url = "{http_server.url}/hook"
        secret_env = "TEST_HOOK_SECRET"
        [[departments]]
        name = "市政府督查室"
        email = ["ducha@example.gov.cn"]
        [[departments]]
        name = "市发展和改革委员会"
        aliases = ["市发改委"]
        email = ["fgw@example.gov.cn"]
        webhooks = ["fgw"]
        [[departments]]
        name = "辽东湾新区管委会"
        email = ["ldw@example.gov.cn"]
        [[departments]]
        name = "市港口与口岸局"
        email = ["gk@example.gov.cn"]
        [[departments]]
        name = "市财政局"
        email = ["czj@example.gov.cn"]
    """)


def run(config, *args) -> int:
    return main(["--config", str(config), *args])


def subject(msg) -> str:
    return str(make_header(decode_header(msg["Subject"])))


def test_june_pass_sends_each_lead_department_one_digest(config, smtp_server, http_server, capsys):
    assert run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN) == 0
    assert run(config, "send-due", "--now", "2018-06-20 09:00") == 0
    for addr in ("fgw@example.gov.cn", "ldw@example.gov.cn", "gk@example.gov.cn"):
        msgs = mails(smtp_server, addr)
        assert len(msgs) == 1, addr
        assert "2018年6月30日前须完成" in subject(msgs[0])
    # 市财政局 leads only December items: its cutoff digest (June) asks for progress.
    assert len(mails(smtp_server, "czj@example.gov.cn")) == 1
    [hook] = http_server.requests
    assert hook.headers["webhook-id"].startswith("ntf_")
    body = json.loads(hook.body)
    assert body["department"] == "市发展和改革委员会"
    assert "2018年6月30日" in body["markdown"]


def test_second_pass_at_the_same_time_sends_nothing(config, smtp_server, http_server):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    run(config, "send-due", "--now", "2018-06-20 09:00")
    first = len(smtp_server.received), len(http_server.requests)
    assert run(config, "send-due", "--now", "2018-06-20 09:00") == 0
    assert run(config, "send-due", "--now", "2018-06-20 15:00") == 0
    assert (len(smtp_server.received), len(http_server.requests)) == first


def test_the_digest_lists_overdue_items_first_with_days_late(config, smtp_server):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    run(config, "send-due", "--now", "2018-06-20 09:00")
    [msg] = mails(smtp_server, "ldw@example.gov.cn")
    text = msg.get_body(("plain",)).get_content()
    # Task 8: 2018年5月底前召开粮食物流产业大会 -> 20 days late on June 20.
    assert text.index("已逾期未完成") < text.index("2018年6月30日前须完成】")
    assert "召开粮食物流产业大会" in text and "已逾期20天" in text


def test_overdue_milestone_is_escalated_to_the_supervision_office(config, smtp_server):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    run(config, "send-due", "--now", "2018-06-20 09:00")
    copies = [m for m in mails(smtp_server, "ducha@example.gov.cn") if "逾期通报" in subject(m)]
    assert len(copies) == 1
    text = copies[0].get_body(("plain",)).get_content()
    assert "辽东湾新区管委会" in text and "已逾期20天" in text


def test_a_done_milestone_is_never_reminded(config, smtp_server, tmp_path):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    db = sqlite3.connect(tmp_path / "notifier.db")
    [(mid,)] = db.execute("select id from milestones where text like '%召开粮食物流产业大会%'").fetchall()
    assert run(config, "done", str(mid), "--note", "5月28日已召开") == 0
    run(config, "send-due", "--now", "2018-06-20 09:00")
    for msg in (r.parsed for r in smtp_server.received):
        assert "召开粮食物流产业大会" not in msg.get_body(("plain",)).get_content()
    note = db.execute("select note, status from milestones where id=?", (mid,)).fetchone()
    assert note == ("5月28日已召开", "done")
    assert db.execute("select action, source from progress_events").fetchall() == [("done", "cli")]


def test_a_webhook_that_fails_twice_then_accepts_gets_the_message_exactly_once(config, http_server, smtp_server):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    http_server.script = [500, 503]
    run(config, "send-due", "--now", "2018-06-20 09:00")
    assert len(http_server.requests) == 1
    run(config, "send-due", "--now", "2018-06-20 09:30")   # first retry after <= 60 s backoff
    run(config, "send-due", "--now", "2018-06-20 11:00")   # second retry after <= 120 s
    run(config, "send-due", "--now", "2018-06-20 13:00")   # nothing left to send
    statuses = [r.reply.status for r in http_server.requests]
    assert statuses == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in http_server.requests}) == 1


def test_the_webhook_signature_follows_standard_webhooks(config, http_server):
    from tests.support.verify_webhook import verify

    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    run(config, "send-due", "--now", "2018-06-20 09:00")
    [req] = http_server.requests
    assert verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", req.headers, req.body)
    assert not verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", req.headers, req.body + b" ")


def test_reimporting_the_same_table_changes_nothing_and_keeps_done_marks(config, tmp_path, capsys):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    db = sqlite3.connect(tmp_path / "notifier.db")
    mid = db.execute("select min(id) from milestones").fetchone()[0]
    run(config, "done", str(mid))
    capsys.readouterr()
    assert run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN) == 0
    assert "无变化" in capsys.readouterr().out
    edited = tmp_path / "edited.csv"
    edited.write_text(CSV.read_text(encoding="utf-8").replace("市港口与口岸局", "市口岸办", 1), encoding="utf-8")
    assert run(config, "import", str(edited), "--active", "--year", "2018", "--plan", PLAN) == 0
    out = capsys.readouterr().out
    assert "已更新" in out and "保留办结标记 1 个" in out
    assert db.execute("select status from milestones where id=?", (mid,)).fetchone() == ("done",)
    assert db.execute("select count(*) from plans").fetchone() == (1,)


def test_a_csv_with_a_bad_row_names_it_and_writes_nothing(config, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    lines = CSV.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("2018-12-31", "2018年13月底前")
    bad.write_text("\n".join(lines), encoding="utf-8")
    assert run(config, "import", str(bad), "--active", "--year", "2018") == 2
    err = capsys.readouterr().err
    assert "row 6" in err and "完成时限" in err
    db = tmp_path / "notifier.db"
    if db.exists():
        assert sqlite3.connect(db).execute("select count(*) from plans").fetchone() == (0,)


def test_send_due_dry_run_records_nothing(config, smtp_server, tmp_path, capsys):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    assert run(config, "send-due", "--now", "2018-06-20 09:00", "--dry-run") == 0
    assert "将排队：提醒 → 市港口与口岸局" in capsys.readouterr().out
    assert smtp_server.received == []
    db = sqlite3.connect(tmp_path / "notifier.db")
    assert db.execute("select count(*) from deliveries").fetchone() == (0,)


def test_preview_prints_a_department_digest_without_sending(config, smtp_server, capsys):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    capsys.readouterr()
    assert run(config, "preview", "--department", "市发改委", "--at", "2018-06-20 09:00") == 0
    out = capsys.readouterr().out
    # Its overdue item goes 红 that day (nothing recorded yet): the preview is the 督办单.
    assert "Subject: 【督办】市发展和改革委员会" in out
    assert smtp_server.received == []


def test_status_lists_lead_departments_without_contact(config, capsys):
    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    capsys.readouterr()
    run(config, "status")
    out = capsys.readouterr().out
    assert "没有任何联系方式的部门" in out and "市工信委" in out


def test_milestones_lists_overdue_ones_for_a_department(config, capsys, monkeypatch):
    from freezegun import freeze_time

    run(config, "import", str(CSV), "--active", "--year", "2018", "--plan", PLAN)
    capsys.readouterr()
    with freeze_time("2018-06-20 01:00:00"):
        run(config, "milestones", "--department", "辽东湾新区管委会", "--status", "overdue")
    out = capsys.readouterr().out
    assert "召开粮食物流产业大会" in out and "已逾期20天" in out
    assert "（共1个逾期期次）" in out
