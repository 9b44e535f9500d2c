"""Security of the office pages, against the real app on a real server and a real database:
no page or action without login, a leader changes nothing, a forged or missing CSRF token is
refused, a cookie signed with another secret is refused, the login rate limit holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from notifier.db.engine import transaction
from notifier.db.models import AuditEntry, DeadlineExtension, Milestone, Pause, HistoryEvent, UserSession
from notifier.office.accounts import ACCOUNT_LIMIT, Signer

from tests.support.office import LEADER_PASSWORD, PASSWORD, csrf_of, login, start_office

PAGES = ["/office/", "/office/task/1", "/office/contacts", "/office/audit", "/office/import",
         "/office/report?period=2025-06", "/office/report.xlsx?period=2025-06", "/office/report.docx?period=2025-06",
         "/office/ledger.xlsx", "/office/review"]
ACTIONS = [("/office/milestone/1/done", {"action": "done"}),
           ("/office/milestone/1/extend", {"new_due": "2025-08-31", "reason": "施工延误"}),
           ("/office/milestone/1/sign", {"who": "2:2025-06-30", "person": "王五"}),
           ("/office/pause", {"task_id": "1", "ends_on": "2025-08-31", "reason": "防汛"}),
           ("/office/department/2/resend", {}),
           ("/office/import/confirm", {"token": "x"}),
           ("/office/review/1/return", {"reason": "材料不全"}),
           ("/office/logout", {})]


def changes(o) -> tuple[int, ...]:  # noqa: ANN001
    with transaction(o.world.engine) as s:
        return (s.scalar(select(func.count()).select_from(HistoryEvent)),
                s.scalar(select(func.count()).select_from(DeadlineExtension)),
                s.scalar(select(func.count()).select_from(Pause)),
                s.scalar(select(Milestone.due_on).where(Milestone.id == 1)).toordinal())


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_login_redirects_to_the_login_page(office, path):
    r = office.client().get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/office/login?next=")


def test_every_action_without_login_redirects_and_changes_nothing(office):
    before = changes(office)
    for path, data in ACTIONS:
        r = office.client().post(path, data={**data, "csrf": "anything"})
        assert r.status_code == 303 and r.headers["location"].startswith("/office/login"), path
    assert changes(office) == before


def test_a_leader_reads_every_page_but_cannot_change_anything(office):
    c = office.login("leader", LEADER_PASSWORD)
    for path in PAGES:
        assert c.get(path).status_code == 200, path
    page = c.get("/office/task/1").text
    assert "标记完成" not in page and "确认延期" not in page  # no forms to act with
    token = csrf_of(page)  # the logout form's token: valid for this session
    before = changes(office)
    for path, data in ACTIONS[:-1]:
        r = c.post(path, data={**data, "csrf": token})
        assert r.status_code == 403, path
        assert "仅可查看" in r.text
    assert changes(office) == before


@pytest.mark.parametrize("token", [None, "", "forged0123456789abcdef"])
def test_an_action_without_a_valid_csrf_token_is_refused(office, token):
    c = office.login()
    c.get("/office/task/1")
    data = {"action": "done"} | ({"csrf": token} if token is not None else {})
    before = changes(office)
    r = c.post("/office/milestone/1/done", data=data)
    assert r.status_code == 403
    assert changes(office) == before


def test_the_csrf_token_of_another_session_is_refused(office):
    other = csrf_of(office.login().get("/office/").text)
    c = office.login()
    assert c.post("/office/milestone/1/done", data={"action": "done", "csrf": other}).status_code == 403
    assert c.post("/office/milestone/1/done", data={"action": "done", "csrf": csrf_of(c.get("/office/").text)}
                  ).status_code == 303


def test_a_session_cookie_signed_with_another_secret_is_refused(office):
    c = office.login()
    sid = Signer(office.world.cfg.web.secret.reveal()).session_id(c.cookies["notifier_office"])
    assert sid is not None
    forged = office.client()
    forged.cookies.set("notifier_office", Signer("another-secret-0123456789abcdef").cookie(sid))
    assert forged.get("/office/").status_code == 303
    forged.cookies.set("notifier_office", sid + ".")  # no signature
    assert forged.get("/office/").status_code == 303


def test_login_sets_an_httponly_strict_cookie_secure_under_https(tmp_path):
    o = start_office(tmp_path, base_url="https://notifier.example.gov.cn")
    try:
        c = o.client()
        page = c.get("/office/login")
        assert "Secure" in page.headers["set-cookie"]
        # httpx keeps Secure cookies for https: hand the login cookie over ourselves
        nonce = page.headers["set-cookie"].split(";", 1)[0]
        r = c.post("/office/login", data={"csrf": csrf_of(page.text), "name": "office", "password": PASSWORD},
                   headers={"cookie": nonce})
        cookie = r.headers["set-cookie"]
        assert "notifier_office=" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" in cookie and "Path=/office" in cookie
    finally:
        o.stop()


def test_login_cookie_is_not_secure_under_plain_http(office):
    r = login(office.client(), "office", PASSWORD)
    assert "HttpOnly" in r.headers["set-cookie"] and "Secure" not in r.headers["set-cookie"]


def test_a_wrong_password_is_refused_and_the_account_is_locked_after_the_limit(office):
    c = office.client()
    for _ in range(ACCOUNT_LIMIT):
        assert login(c, "office", "wrong password!").status_code == 401
    r = login(c, "office", PASSWORD)  # the right password, but locked
    assert r.status_code == 429 and "次数过多" in r.text
    office.clock["now"] += timedelta(minutes=16)  # the window has passed
    assert login(c, "office", PASSWORD).status_code == 303


def test_failures_from_one_address_lock_every_account_from_it(office):
    c = office.client()
    for i in range(20):
        login(c, f"nobody{i}", "wrong password!")
    assert login(c, "leader", LEADER_PASSWORD).status_code == 429


def test_logout_ends_the_session_for_the_old_cookie_too(office):
    c = office.login()
    cookie = c.cookies["notifier_office"]
    assert c.post("/office/logout", data={"csrf": csrf_of(c.get("/office/").text)}).status_code == 303
    again = office.client()
    again.cookies.set("notifier_office", cookie)
    assert again.get("/office/").status_code == 303
    with transaction(office.world.engine) as s:
        assert s.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_login_form_without_its_token_is_refused(office):
    r = office.client().post("/office/login", data={"name": "office", "password": PASSWORD})
    assert r.status_code == 403


def test_every_login_and_action_is_in_the_audit_history_with_who(office):
    c = office.login()
    login(office.client(), "office", "wrong password!")
    c.post("/office/milestone/1/done", data={"action": "done", "csrf": csrf_of(c.get("/office/").text)})
    with transaction(office.world.engine) as s:
        entries = [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("office", "login") in entries and ("office", "login_failed") in entries
    assert entries[-1] == ("office", "done")
    assert "标记完成" in c.get("/office/audit").text


def test_the_login_page_only_redirects_inside_the_office(office):
    c = office.client()
    page = c.get("/office/login?next=https://evil.example/")
    r = c.post("/office/login?next=https://evil.example/",
               data={"csrf": csrf_of(page.text), "name": "office", "password": PASSWORD})
    assert r.headers["location"] == "/office/"


def test_the_site_root_links_to_the_office_ledger(office):
    r = office.client().get("/")
    assert r.status_code == 200 and 'href="/office/"' in r.text


def test_office_pages_are_not_cached_framed_or_scripted(office):
    c = office.login()
    for path in ("/office/login", "/office/", "/office/ledger.xlsx"):
        h = c.get(path).headers
        assert h["cache-control"] == "no-store" and h["x-frame-options"] == "DENY", path
        assert "default-src 'none'" in h["content-security-policy"], path


def test_page_content_is_escaped(office):
    from notifier.db.models import Milestone

    with transaction(office.world.engine) as s:
        s.get(Milestone, 1).text = "<script>alert(1)</script>"
    page = office.login().get("/office/").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
