"""The department's page over real HTTP (Uvicorn on localhost) and real e-mail (the aiosmtpd
server): the digest's department link opens a page listing exactly the department's open
items; 签收, 报送进展 and 申请办结 are recorded; a done request under review waits, and is
either returned (the reason reaches the next digest, reminders resume) or approved (reminders
stop); forged, expired and cross-department tokens, and posts without the page's CSRF token or
from another site, are refused and change nothing."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from notifier import config as config_mod
from notifier import signing
from notifier.cli import main
from notifier.db.engine import transaction
from notifier.db.models import Department, DoneRequest, HistoryEvent, Milestone
from notifier.delivery.dispatcher import Dispatcher
from notifier.delivery.routes import Routes
from notifier.importing.store import store_plan
from notifier.reminders import run_pass
from notifier.rendering import Renderer
from notifier.web.server import WebThread, make_server
from tests.support import http
from tests.support.database import migrated
from tests.support.servers import mails
from tests.support.world import local, ms, plan, task, utc_naive, world_config

PORT = "市港口与口岸局"
PORT_MAIL = "gk@example.gov.cn"
PAGE = re.compile(r"https://notifier\.example\.gov\.cn/d/([A-Za-z0-9_-]+)")
ITEM = re.compile(r'<div class="item" id="m(\d+)-(\d{8})">')
SPEC = plan(2025, task("1", "港口建设", PORT, ms(date(2025, 6, 30), "单一窗口上线")),
            task("2", "项目推进", "市发改委", ms(date(2025, 6, 20), "召开推进会")),
            task("3", "智慧港口", PORT, ms(date(2025, 9, 30), "货物申报应用率达到50%")),
            task("4", "口岸通关", PORT, ms(date(2025, 5, 31), "编制通关便利化方案")))


@dataclass
class Site:
    cfg: config_mod.Config
    engine: object
    smtp: object
    base: str
    clock: list[str]

    def send(self, when: str) -> None:
        """A planning pass at ``when`` and its e-mails, through the real SMTP server."""
        now = local(when)
        result = run_pass(self.engine, self.cfg, Renderer.of(self.cfg), now)
        until = max(utc_naive(now), result.last_due_at or utc_naive(now))

        async def go() -> None:
            routes = Routes(self.cfg)
            try:
                await Dispatcher.from_config(self.engine, routes, self.cfg.delivery).run_once(until)
            finally:
                await routes.aclose()
        asyncio.run(go())

    def mails(self) -> list[str]:
        """The text part of each e-mail the port bureau received."""
        return [m.get_body(("plain",)).get_content() for m in mails(self.smtp, PORT_MAIL)]

    def page_token(self) -> str:
        return PAGE.findall(self.mails()[-1])[-1]

    def id_of(self, text: str) -> int:
        with transaction(self.engine) as s:
            return s.scalar(select(Milestone.id).where(Milestone.text == text))

    def department_id(self, name: str) -> int:
        with transaction(self.engine) as s:
            return s.scalar(select(Department.id).where(Department.name == name))

    def events(self) -> list[tuple[str, str | None, str | None, int | None]]:
        with transaction(self.engine) as s:
            return [(e.action, e.actor, e.note, e.percent)
                    for e in s.scalars(select(HistoryEvent).order_by(HistoryEvent.id))]

    def get(self, token: str) -> httpx.Response:
        return http.get(f"{self.base}/d/{token}")

    def post(self, token: str, data: dict[str, str], *, csrf: str | None = "auto",
             origin: str | None = "auto") -> httpx.Response:
        if csrf == "auto":
            csrf = re.search(r'name="csrf" value="([^"]+)"', self.get(token).text).group(1)
        headers = {"Origin": self.base if origin == "auto" else origin} if origin is not None else {}
        form = data | ({"csrf": csrf} if csrf is not None else {})
        return http.post(f"{self.base}/d/{token}", data=form, headers=headers)


@pytest.fixture
def site(tmp_path: Path, smtp_server):
    cfg = world_config(tmp_path, web=True, extra=f"""
        [email]
        host = "127.0.0.1"
        port = {smtp_server.port}
        security = "none"
        from = "督查室 <ducha@example.gov.cn>"
        """)
    path = cfg.path
    path.write_text(path.read_text(encoding="utf-8").replace("divert = true", "divert = false"), encoding="utf-8")
    cfg = config_mod.load(path)
    engine = migrated(cfg.database_url)
    with transaction(engine) as s:
        store_plan(s, SPEC, cfg)
    clock = ["2025-06-24 10:00"]
    web = WebThread(make_server(engine, cfg, port=0, clock=lambda: local(clock[0])))
    web.start()
    yield Site(cfg, engine, smtp_server, f"http://{web.address}", clock)
    web.stop()


def items_on(page: str) -> set[tuple[int, str]]:
    return {(int(m), d) for m, d in ITEM.findall(page)}


def test_the_digest_link_opens_a_page_listing_exactly_the_departments_open_items(site):
    site.send("2025-06-23 09:00")
    [mail] = site.mails()
    token = site.page_token()
    assert "本单位全部督办事项" in mail
    page = site.get(token)
    assert page.status_code == 200 and "市港口与口岸局督办事项" in page.text
    assert items_on(page.text) == {(site.id_of("编制通关便利化方案"), "20250531"),
                                   (site.id_of("单一窗口上线"), "20250630"),
                                   (site.id_of("货物申报应用率达到50%"), "20250930")}
    assert "召开推进会" not in page.text  # 市发改委's item
    # Grouped as the digest groups them: overdue, due by the cutoff, progress asked.
    sections = re.findall(r'id="section-(\w+)"', page.text)
    assert sections == ["overdue", "cutoff", "progress"]
    assert page.headers["referrer-policy"] == "same-origin" and page.headers["cache-control"] == "no-store"
    assert site.events() == []  # opening the page changed nothing


def test_each_item_shows_the_grade_its_message_issued_and_when(site):
    """The 06-23 digest issued 红色督办单 for the item overdue since 05-31 and 蓝色提醒单 for the
    one due 06-30: the page tags each item with the grade the department was told (and lists
    the issue in its 办理记录), and tags nothing that was never graded (due 09-30)."""
    site.send("2025-06-23 09:00")
    [mail] = site.mails()
    assert "红色督办单" in mail
    page = site.get(site.page_token()).text
    grades = dict(re.findall(r'<span class="tag tag-\w+" id="grade-(\d+-\d{8})">(\S+?)</span>', page))
    assert grades == {f"{site.id_of('编制通关便利化方案')}-20250531": "红色督办单",
                      f"{site.id_of('单一窗口上线')}-20250630": "蓝色提醒单"}
    assert page.count("下发红色督办单") == 1 and page.count("下发蓝色提醒单") == 1


def test_sign_progress_and_done_request_are_recorded_with_who(site, capsys):
    site.send("2025-06-23 09:00")
    token = site.page_token()
    mid = site.id_of("单一窗口上线")
    port = site.department_id(PORT)
    with transaction(site.engine) as s:  # the reminder asked for 签收 (notifier.signing)
        assert (mid, date(2025, 6, 30)) in {(r.milestone_id, r.occurrence) for r in signing.open_requests(s, port)}
    assert f'id="sign-{mid}-20250630"' in site.get(token).text
    r = site.post(token, {"action": "sign", "milestone_id": str(mid), "occurrence": "2025-06-30", "person": "李四"})
    assert r.status_code == 303 and "ok=sign" in r.headers["location"]
    with transaction(site.engine) as s:
        assert (mid, date(2025, 6, 30)) not in {(r.milestone_id, r.occurrence) for r in signing.open_requests(s, port)}
    page = site.get(token).text
    assert f'id="sign-{mid}-20250630"' not in page and "签收（市港口与口岸局（李四））" in page

    r = site.post(token, {"action": "progress", "milestone_id": str(mid), "occurrence": "2025-06-30",
                          "percent": "60", "note": "系统联调中", "person": "李四"})
    assert r.status_code == 303
    assert site.events() == [("progress", "市港口与口岸局（李四）", "系统联调中", 60)]
    for bad in ("", "101", "-1", "六十"):
        r = site.post(token, {"action": "progress", "milestone_id": str(mid), "occurrence": "2025-06-30",
                              "percent": bad, "note": "x"})
        assert r.status_code == 400 and "完成进度" in r.text
    assert len(site.events()) == 1

    r = site.post(token, {"action": "request", "milestone_id": str(mid), "occurrence": "2025-06-30",
                          "note": "已上线运行，见验收报告"})
    assert r.status_code == 303 and "ok=request" in r.headers["location"]
    page = site.get(token).text
    assert "已申请办结，待审核" in page and "办结申请已提交" not in page
    assert "办结申请已提交" in http.get(site.base + r.headers["location"].split("#")[0]).text
    assert site.events()[-1] == ("request", PORT, "已上线运行，见验收报告", None)
    again = site.post(token, {"action": "request", "milestone_id": str(mid), "occurrence": "2025-06-30",
                              "note": "再次申请"})
    assert again.status_code == 409 and "等待督查室审核" in again.text
    capsys.readouterr()
    assert main(["--config", str(site.cfg.path), "history"]) == 0
    out = capsys.readouterr().out
    assert "申请办结" in out and "经单位页面" in out and "报送进展" in out and "完成60%：系统联调中" in out
    assert main(["--config", str(site.cfg.path), "history", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["action"], e["source"], e["percent"]) for e in events] == [("request", "page", None),
                                                                           ("progress", "page", 60)]


def _request(site: Site, token: str, text: str, due: str) -> int:
    mid = site.id_of(text)
    r = site.post(token, {"action": "request", "milestone_id": str(mid), "occurrence": due, "note": "见附件"})
    assert r.status_code == 303
    with transaction(site.engine) as s:
        return s.scalar(select(DoneRequest.id).where(DoneRequest.milestone_id == mid))


def test_a_returned_request_resumes_reminders_and_its_reason_is_in_the_next_digest(site, capsys):
    site.send("2025-06-23 09:00")
    token = site.page_token()
    rid = _request(site, token, "单一窗口上线", "2025-06-30")
    with transaction(site.engine) as s:
        assert s.get(Milestone, site.id_of("单一窗口上线")).status == "open"  # it waits for the office
    assert main(["--config", str(site.cfg.path), "review", "list"]) == 0
    assert f"{rid}  待审核  {PORT}" in capsys.readouterr().out
    main(["--config", str(site.cfg.path), "status", "--now", "2025-06-24 10:00"])
    assert "待审核的办结申请：1 项" in capsys.readouterr().out
    assert main(["--config", str(site.cfg.path), "review", "return", str(rid), "--reason", "请补充验收报告"]) == 0
    site.send("2025-06-27 09:00")  # the 1-day cutoff reminder (06-29 is a Sunday)
    text = site.mails()[-1]
    assert "【办结申请被退回】" in text and "退回原因：请补充验收报告" in text
    assert "单一窗口上线" in text.split("【办结申请被退回】")[0]  # listed again: reminders resumed
    page = site.get(site.page_token()).text
    assert "办结申请被退回" in page and "请补充验收报告" in page
    # Told once: the next digest does not repeat it.
    site.send("2025-07-02 09:00")  # its overdue notice, 3 working days later
    assert len(site.mails()) == 3 and "单一窗口上线" in site.mails()[2]
    assert "【办结申请被退回】" not in site.mails()[2]


def test_an_approved_request_closes_the_item_and_stops_its_reminders(site):
    site.send("2025-06-23 09:00")
    rid = _request(site, site.page_token(), "单一窗口上线", "2025-06-30")
    assert main(["--config", str(site.cfg.path), "review", "approve", str(rid)]) == 0
    with transaction(site.engine) as s:
        m = s.get(Milestone, site.id_of("单一窗口上线"))
        assert m.status == "done" and m.done_at == utc_naive(local("2025-06-24 10:00"))  # as of the request
    assert main(["--config", str(site.cfg.path), "review", "approve", str(rid)]) == 2  # decided already
    site.send("2025-06-27 09:00")
    assert all("单一窗口上线" not in m for m in site.mails()[1:])
    assert (site.id_of("单一窗口上线"), "20250630") not in items_on(site.get(site.page_token()).text)


def test_a_pending_request_stops_reminders_while_it_waits(site):
    site.send("2025-06-23 09:00")
    _request(site, site.page_token(), "编制通关便利化方案", "2025-05-31")  # overdue
    site.send("2025-06-27 09:00")
    later = site.mails()[1:]
    assert later and all("编制通关便利化方案" not in m for m in later)


def test_forged_expired_and_cross_department_tokens_are_refused_and_show_nothing(site):
    site.send("2025-06-23 09:00")
    token = site.page_token()
    dep, exp, sig = token.split("-", 2)
    fgw = site.department_id("市发展和改革委员会")
    for bad in (f"{fgw}-{exp}-{sig}",  # another department
                f"{dep}-{int(exp) + 86400 * 365}-{sig}",  # a longer life
                f"{dep}-{exp}-{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
                "garbage"):
        for r in (site.get(bad), http.post(f"{site.base}/d/{bad}", data={"action": "sign"})):
            assert r.status_code == 403 and "链接无效" in r.text
            assert "单一窗口上线" not in r.text and "市港口与口岸局" not in r.text
    site.clock[0] = "2025-08-23 10:00"  # 61 days later
    r = site.get(token)
    assert r.status_code == 403 and "链接已过期" in r.text and "单一窗口上线" not in r.text


def test_an_item_of_another_department_is_refused(site):
    site.send("2025-06-23 09:00")
    token = site.page_token()
    fgw_item = site.id_of("召开推进会")
    for action in ("sign", "progress", "request"):
        r = site.post(token, {"action": action, "milestone_id": str(fgw_item), "occurrence": "2025-06-20",
                              "percent": "50", "note": "x"})
        assert r.status_code == 403 and "不是本单位的督办事项" in r.text
    assert site.events() == []


def test_a_post_without_the_pages_csrf_token_or_from_another_site_is_refused(site):
    site.send("2025-06-23 09:00")
    token = site.page_token()
    mid = site.id_of("单一窗口上线")
    form = {"action": "progress", "milestone_id": str(mid), "occurrence": "2025-06-30", "percent": "10", "note": "x"}
    assert site.post(token, form).status_code == 303  # the page's own form, from the page
    for kw in ({"csrf": None}, {"csrf": "forged"}, {"origin": "https://evil.example.com"}, {"origin": "null"}):
        r = site.post(token, form, **kw)
        assert r.status_code == 403, kw
    r = http.post(f"{site.base}/d/{token}", data=form | {"csrf": "x"}, headers={"Referer": "https://evil.example.com/"})
    assert r.status_code == 403
    assert len(site.events()) == 1
