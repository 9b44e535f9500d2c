"""The office's actions through the real pages: done/reopen, 延期 (reminders re-plan from the
new date, the old date stays in the history), pause/resume, resend, import by upload (a dry run
first, nothing written until confirmed)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from notifier.db.engine import transaction
from notifier.db.models import AuditEntry, DeadlineExtension, Delivery, Department, Milestone, Pause, Plan, HistoryEvent
from notifier.office.pauses import pause_spans, paused

from tests.support.office import LEADER_PASSWORD, csrf_of
from tests.support.paths import ROOT

CSV = ROOT / "tests" / "fixtures" / "panjin-2018.csv"


def post(c, path: str, data: dict | None = None, **kw):  # noqa: ANN001, ANN003, ANN201
    token = csrf_of(c.get("/office/").text)
    return c.post(path, data={**(data or {}), "csrf": token}, **kw)


def test_mark_done_then_reopen_records_both_with_who(office):
    c = office.login()
    mid = office.world.milestone_id("单一窗口上线")
    r = post(c, f"/office/milestone/{mid}/done", {"action": "done", "note": "已上线"})
    assert r.status_code == 303 and r.headers["location"] == "/office/task/1"
    page = c.get("/office/task/1").text
    assert "已完成（2025-07-10）" in page and '<td data-label="事项">办结</td>' in page and "已上线" in page
    post(c, f"/office/milestone/{mid}/done", {"action": "reopen"})
    with transaction(office.world.engine) as s:
        assert s.get(Milestone, mid).status == "open"
        assert [(e.action, e.source, e.actor) for e in s.scalars(select(HistoryEvent))] == [
            ("done", "office", "office"), ("reopen", "office", "office")]


def test_one_occurrence_of_a_recurring_report_is_marked_done(office):
    c = office.login()
    mid = office.world.milestone_id("每季度报送进展")
    assert post(c, f"/office/milestone/{mid}/done", {"action": "done", "occurrence": "2025-03-31"}).status_code == 303
    assert "2025-06-30" in c.get("/office/?q=每季度").text  # the ledger moves on to the next open quarter


def test_extending_a_deadline_keeps_the_old_date_and_replans_the_reminders(office):
    w = office.world
    c = office.login()
    mid = w.milestone_id("单一窗口上线")
    r = post(c, f"/office/milestone/{mid}/extend", {"new_due": "2025-08-31", "reason": "设备到货延迟"})
    assert r.status_code == 303
    page = c.get("/office/task/1").text
    assert f'id="due-{mid}">2025-08-31' in page and "原定 2025-06-30" in page
    assert "2025-06-30 → 2025-08-31" in page and "设备到货延迟" in page
    with transaction(w.engine) as s:
        [ext] = s.scalars(select(DeadlineExtension)).all()
        assert (ext.old_due, ext.new_due, ext.actor) == (date(2025, 6, 30), date(2025, 8, 31), "office")
    # No longer overdue: the next pass reminds it before its new date, not as overdue.
    july = [q for q in w.pass_at("2025-07-11 09:00").queued if q.department == "市港口与口岸局"]
    assert all("单一窗口上线" not in q.rendered.text for q in july)
    august = [q for q in w.pass_at("2025-08-01 09:00").queued if q.department == "市港口与口岸局"]
    assert any("单一窗口上线" in q.rendered.text and "8月31日" in q.rendered.text for q in august)


def test_an_extension_needs_a_reason_and_a_date(office):
    c = office.login()
    mid = office.world.milestone_id("单一窗口上线")
    assert post(c, f"/office/milestone/{mid}/extend", {"new_due": "2025-08-31", "reason": " "}).status_code == 400
    r = post(c, f"/office/milestone/{mid}/extend", {"new_due": "8月31日", "reason": "x"})
    assert r.status_code == 400 and "2018-06-30 的格式" in r.text
    with transaction(office.world.engine) as s:
        assert s.scalar(select(func.count()).select_from(DeadlineExtension)) == 0


def test_pause_and_resume_a_task_and_a_department(office):
    w = office.world
    c = office.login()
    assert post(c, "/office/pause", {"task_id": "1", "ends_on": "2025-08-31", "reason": "防汛"}).status_code == 303
    with transaction(w.engine) as s:
        dep = s.scalar(select(Department.id).where(Department.name == "市发展和改革委员会"))
    assert post(c, "/office/pause", {"department_id": str(dep), "ends_on": "2025-07-20", "reason": "机构调整"}
                ).status_code == 303
    assert "暂停至2025-08-31" in c.get("/office/").text
    with transaction(w.engine) as s:
        spans = pause_spans(s)
    assert paused(spans, date(2025, 7, 10), task_id=1).reason == "防汛"
    assert paused(spans, date(2025, 7, 10), task_id=2, department_ids=[dep]).reason == "机构调整"
    assert paused(spans, date(2025, 7, 21), task_id=2, department_ids=[dep]) is None
    pid = spans[0].id
    assert post(c, f"/office/pause/{pid}/resume").status_code == 303
    with transaction(w.engine) as s:
        assert s.get(Pause, pid).resumed_by == "office"
        assert paused(pause_spans(s), date(2025, 7, 10), task_id=1) is None
    assert "暂停" in c.get("/office/task/1").text and "恢复" in c.get("/office/task/1").text


def test_a_pause_in_the_past_or_without_reason_is_refused(office):
    c = office.login()
    assert post(c, "/office/pause", {"task_id": "1", "ends_on": "2025-07-01", "reason": "x"}).status_code == 400
    assert post(c, "/office/pause", {"task_id": "1", "ends_on": "2025-08-01", "reason": ""}).status_code == 400


def test_resend_queues_the_latest_reminder_again_to_the_same_contacts(office):
    w = office.world
    w.pass_at("2025-06-23 09:00")
    with transaction(w.engine) as s:
        dep = s.scalar(select(Department.id).where(Department.name == "市港口与口岸局"))
        before = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.department_id == dep))
    c = office.login()
    r = post(c, f"/office/department/{dep}/resend")
    assert r.status_code == 200 and "email:gk@example.gov.cn" in r.text
    with transaction(w.engine) as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.department_id == dep).order_by(Delivery.id)))
        assert len(rows) == before + 1
        assert rows[-1].status == "pending" and rows[-1].digest_id == rows[0].digest_id
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "resend"


def test_resend_without_any_reminder_says_so(office):
    with transaction(office.world.engine) as s:
        dep = s.scalar(select(Department.id).where(Department.name == "市农村经济委员会"))
    r = post(office.login(), f"/office/department/{dep}/resend")
    assert r.status_code == 400 and "尚无已生成的提醒" in r.text


def plans(office) -> int:  # noqa: ANN001
    with transaction(office.world.engine) as s:
        return s.scalar(select(func.count()).select_from(Plan))


def test_an_upload_shows_the_dry_run_and_writes_nothing_until_confirmed(office):
    c = office.login()
    token = csrf_of(c.get("/office/import").text)
    r = c.post("/office/import", data={"csrf": token, "year": "2018"},
               files={"file": ("panjin-2018.csv", CSV.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    assert "确认导入" in r.text and "地区生产总值增长7.5%" in r.text
    assert plans(office) == 1
    confirm = csrf_of(r.text), r.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    r = c.post("/office/import/confirm", data={"csrf": confirm[0], "token": confirm[1]})
    assert r.status_code == 200 and "已新建" in r.text
    assert plans(office) == 2
    # The same preview cannot be confirmed twice.
    assert c.post("/office/import/confirm", data={"csrf": confirm[0], "token": confirm[1]}).status_code == 400


def test_an_unreadable_upload_writes_nothing(office):
    c = office.login()
    token = csrf_of(c.get("/office/import").text)
    r = c.post("/office/import", data={"csrf": token}, files={"file": ("plan.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 400 and ".docx" in r.text
    r = c.post("/office/import", data={"csrf": token}, files={"file": ("plan.xlsx", b"not a zip", "application/zip")})
    assert r.status_code == 400 and "未导入任何内容" in r.text
    assert plans(office) == 1


def test_a_task_page_shows_the_messages_sent_about_it(office):
    w = office.world
    w.run("2025-06-23 09:00")
    page = office.login().get("/office/task/1").text
    assert "发出提醒" in page and "gk@example.gov.cn" in page and "已发送" in page


def test_the_ledger_filters_by_department_light_cutoff_and_text(office):
    c = office.login()
    rows = lambda html: html.count('class="row"')  # noqa: E731
    assert rows(c.get("/office/").text) == 5
    assert rows(c.get("/office/", params={"department": "市港口与口岸局"}).text) == 2
    assert rows(c.get("/office/", params={"light": "red"}).text) == 3
    assert rows(c.get("/office/", params={"cutoff": "2025-06-30"}).text) == 3
    assert rows(c.get("/office/", params={"q": "码头"}).text) == 1
    assert rows(c.get("/office/", params={"plan": "999"}).text) == 0


def test_a_closed_plan_leaves_the_ledger_but_can_be_chosen(office):
    from datetime import datetime

    from notifier.importing.store import store_plan
    from notifier.plan_life import close_plan
    from tests.support.world import ms, plan, task

    w = office.world
    old = plan(2024, task("1", "旧任务", "市港口与口岸局", ms(date(2024, 6, 30), "旧节点")), name="2024年旧方案")
    with transaction(w.engine) as s:
        store_plan(s, old, w.cfg)
    c = office.login()
    with transaction(w.engine) as s:
        p = s.scalar(select(Plan).where(Plan.name == "2024年旧方案"))
        pid = p.id
        was_active = p.status == "active"
    if was_active:
        assert "旧节点" in c.get("/office/").text  # active: listed
        with transaction(w.engine) as s:
            close_plan(s.get(Plan, pid), datetime(2025, 7, 1))
    assert "旧节点" not in c.get("/office/").text  # closed: off the default ledger
    assert "旧节点" in c.get("/office/", params={"plan": pid}).text


def test_the_ledger_pages_long_lists_and_keeps_the_filters(office, monkeypatch):
    monkeypatch.setattr("notifier.office.web.PAGE_ROWS", 2)
    c = office.login()
    first = c.get("/office/", params={"light": "red"}).text
    assert first.count('class="row"') == 2 and "第 1 / 2 页" in first
    nxt = first.split('id="next-page"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "light=red" in nxt and "page=2" in nxt
    assert c.get(nxt).text.count('class="row"') == 1


def test_contacts_are_shown_read_only_with_their_health(office):
    from datetime import datetime

    from notifier.db.models import Contact

    with transaction(office.world.engine) as s:
        s.add(Contact(channel="email", recipient="gk@example.gov.cn", broken=True, last_error="550 mailbox unavailable",
                      broken_at=datetime(2025, 7, 1)))
    page = office.login().get("/office/contacts").text
    assert "gk@example.gov.cn" in page and "故障（550 mailbox unavailable）" in page
    assert "fgw@example.gov.cn" in page and "尚未发送" in page
    assert 'name="email"' not in page and 'name="recipient"' not in page  # nothing to edit them with



def test_a_form_over_the_size_limit_is_refused_and_changes_nothing(office):
    c = office.login()
    mid = office.world.milestone_id("单一窗口上线")
    r = post(c, f"/office/milestone/{mid}/done", {"action": "done", "note": "很" * 10_000})
    assert r.status_code == 413
    with transaction(office.world.engine) as s:
        assert s.get(Milestone, mid).status == "open"


def test_the_office_records_a_telephone_signature_for_the_department_asked(office):
    """代签收（电话）: the task page offers it for an item a reminder asked 市港口与口岸局 to sign
    for; the office picks the department, types who signed, and the 签收 is recorded as made by
    telephone and recorded by the office account (history, audit). A department nobody asked
    is refused (400) and nothing is written; a leader sees no form."""
    from notifier import signing
    from notifier.db.models import SignRequest

    w = office.world
    mid = w.milestone_id("完成码头改造方案")
    with transaction(w.engine) as s:
        port = s.scalar(select(Department.id).where(Department.name == "市港口与口岸局"))
        fgw = s.scalar(select(Department.id).where(Department.name == "市发展和改革委员会"))
        signing.ask(s, department_id=port, items=[(mid, date(2025, 7, 15))], digest_key="k" * 32,
                    asked_on=date(2025, 7, 8), sign_by=date(2025, 7, 10))
    c = office.login()
    page = c.get("/office/task/1").text
    assert f'id="sign-{mid}"' in page and f'value="{port}:2025-07-15">市港口与口岸局（2025-07-15）' in page
    assert post(c, f"/office/milestone/{mid}/sign", {"who": f"{fgw}:2025-07-15", "person": "王五"}).status_code == 400
    r = post(c, f"/office/milestone/{mid}/sign", {"who": f"{port}:2025-07-15", "person": " 王五 "})
    assert r.status_code == 303 and r.headers["location"] == "/office/task/1"
    with transaction(w.engine) as s:
        rows = [(q.department_id, q.status, q.signed_by, q.signed_via, q.recorded_by)
                for q in s.scalars(select(SignRequest))]
        audits = [(a.action, a.actor) for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "sign"))]
    assert rows == [(port, "signed", "市港口与口岸局（王五）", "office", "office")]
    assert audits == [("sign", "office")]
    page = c.get("/office/task/1").text
    assert f'id="sign-{mid}"' not in page  # signed: nothing left to sign for
    assert "电话签收，office经督办台账录入" in page and "市港口与口岸局（王五）" in page
    leader = office.login("leader", LEADER_PASSWORD)
    assert "代签收（电话）</button>" not in leader.get("/office/task/1").text
