"""The reply pages over HTTP: GET shows and changes nothing, POST confirms once, every bad
link gets a clear page and changes nothing; a confirmed milestone is reminded no more."""

from __future__ import annotations

import re
import warnings
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import; it is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from notifier.db.engine import transaction
from notifier.db.models import LinkUse, Milestone, OccurrenceDone, HistoryEvent
from notifier.importing.store import store_plan
from notifier.web.app import make_app
from notifier.web.links import signer_of
from notifier.web.server import WebThread, make_server

from tests.support import http
from tests.support.processes import DaemonProcess
from tests.support.world import local, make_world, ms, plan, task

LINK = re.compile(r"https://notifier\.example\.gov\.cn/r/([A-Za-z0-9_-]+)")
PORT_TASK = task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线"))
PORT_TASK_2 = task("3", "智慧港口", "市港口与口岸局", ms(date(2025, 9, 30), "货物申报应用率达到50%"))
FGW_TASK = task("2", "项目推进", "市发改委", ms(date(2025, 6, 20), "召开推进会"))


@pytest.fixture
def world(tmp_path: Path):
    return make_world(tmp_path, plan(2025, PORT_TASK, FGW_TASK, PORT_TASK_2), web=True)


def client(w, when: str = "2025-06-24 10:00", review: bool = False) -> TestClient:  # noqa: ANN001
    """The reply pages; ``review``: ``[review] required`` (its own tests are tests/integration/test_review.py)."""
    return TestClient(make_app(w.engine, signer_of(w.cfg), timezone=w.cfg.timezone, clock=lambda: local(when),
                               review_required=review))


def links_in(text: str) -> list[str]:
    return LINK.findall(text)


def port_links(w, when: str = "2025-06-23 09:00") -> list[str]:  # noqa: ANN001
    """The reply links in the reminder the port bureau gets at ``when``."""
    [q] = [q for q in w.pass_at(when).queued if q.department == "市港口与口岸局"]
    return links_in(q.rendered.text)


def events(w) -> list[HistoryEvent]:  # noqa: ANN001
    with transaction(w.engine) as s:
        return list(s.scalars(select(HistoryEvent).order_by(HistoryEvent.id)))


def status(w, text: str) -> str:  # noqa: ANN001
    with transaction(w.engine) as s:
        return s.scalar(select(Milestone.status).where(Milestone.text == text))


def test_reminder_carries_one_signed_link_per_milestone_for_its_department(world):
    r = world.pass_at("2025-06-23 09:00")
    port = next(q for q in r.queued if q.department == "市港口与口岸局")
    tokens = links_in(port.rendered.text)
    assert len(tokens) == 2  # the June item, and the September one of another task (progress request)
    assert tokens == links_in(port.rendered.markdown)
    assert all(f'href="https://notifier.example.gov.cn/r/{t}"' in port.rendered.html for t in tokens)
    signer = signer_of(world.cfg)
    with transaction(world.engine) as s:
        from notifier.db.models import Department

        port_id = s.scalar(select(Department.id).where(Department.name == "市港口与口岸局"))
    assert {signer.verify(t, local("2025-06-23 09:00")).department_id for t in tokens} == {port_id}
    esc = next(q for q in r.queued if q.kind == "escalation")
    assert links_in(esc.rendered.text) == []  # the supervision office's copy has none


def test_get_shows_the_item_and_changes_nothing(world):
    token = port_links(world)[0]
    c = client(world)
    for _ in range(3):  # a mail scanner prefetching, a preview, the person
        page = c.get(f"/r/{token}")
        assert page.status_code == 200 and "单一窗口上线" in page.text and "确认已完成" in page.text
        assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert c.head(f"/r/{token}").status_code == 200
    assert events(world) == [] and status(world, "单一窗口上线") == "open"


def test_post_done_records_who_and_when_and_stops_the_next_reminder(world):
    queued = world.pass_at("2025-06-23 09:00").queued
    token = links_in(next(q for q in queued if q.department == "市港口与口岸局").rendered.text)[0]
    page = client(world).post(f"/r/{token}", data={"action": "done", "note": "已上线运行", "person": "张三"})
    assert page.status_code == 200 and "已确认完成" in page.text
    assert status(world, "单一窗口上线") == "done"
    [e] = events(world)
    assert (e.action, e.source, e.actor, e.note) == ("done", "link", "市港口与口岸局（张三）", "已上线运行")
    # The 1-day cutoff reminder (06-27) no longer lists it: only the September item's progress request.
    later = [q for q in world.pass_at("2025-06-27 09:00").queued if q.department == "市港口与口岸局"]
    assert all("单一窗口上线" not in q.rendered.text for q in later)


def test_with_review_a_done_click_is_a_request_that_waits_and_stops_reminders(world):
    queued = world.pass_at("2025-06-23 09:00").queued
    token = links_in(next(q for q in queued if q.department == "市港口与口岸局").rendered.text)[0]
    page = client(world, review=True).post(f"/r/{token}", data={"action": "done", "note": "见附件"})
    assert page.status_code == 200 and "已申请办结" in page.text and "待督查室审核" in page.text
    assert status(world, "单一窗口上线") == "open"
    [e] = events(world)
    assert (e.action, e.source, e.note) == ("request", "link", "见附件")
    later = [q for q in world.pass_at("2025-06-27 09:00").queued if q.department == "市港口与口岸局"]
    assert all("单一窗口上线" not in q.rendered.text for q in later)


def test_replayed_link_is_refused_and_changes_nothing(world):
    token = port_links(world)[1]
    c = client(world)
    assert c.post(f"/r/{token}", data={"action": "progress", "note": "已完成50%"}).status_code == 200
    before = events(world)
    for form in ({"action": "done"}, {"action": "progress", "note": "再报一次"}):
        page = c.post(f"/r/{token}", data=form)
        assert page.status_code == 409 and "此链接已使用" in page.text and "未作任何更改" in page.text
    assert c.get(f"/r/{token}").status_code == 409
    assert len(events(world)) == len(before) and status(world, "货物申报应用率达到50%") == "open"


def test_tampered_link_is_refused_and_changes_nothing(world):
    token = port_links(world)[0]
    mid, occ, dep, exp, sig = token.split("-", 4)
    c = client(world)
    for bad in (f"{mid}-{occ}-{int(dep) + 1}-{exp}-{sig}",  # another department
                f"{int(mid) + 1}-{occ}-{dep}-{exp}-{sig}",  # another milestone
                f"{mid}-{occ}-{dep}-{int(exp) + 86400 * 365}-{sig}",  # a longer life
                f"{mid}-{occ}-{dep}-{exp}-{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
                "garbage"):
        for page in (c.get(f"/r/{bad}"), c.post(f"/r/{bad}", data={"action": "done"})):
            assert page.status_code == 403 and "链接无效" in page.text
    assert events(world) == [] and status(world, "单一窗口上线") == "open"


def test_expired_link_is_refused(world):
    token = port_links(world)[0]
    page = client(world, "2025-08-23 09:00").post(f"/r/{token}", data={"action": "done"})  # 61 days later
    assert page.status_code == 410 and "链接已过期" in page.text
    assert events(world) == []


def test_progress_needs_a_note_and_keeps_reminding(world):
    token = port_links(world)[0]
    c = client(world)
    page = c.post(f"/r/{token}", data={"action": "progress", "note": "  "})
    assert page.status_code == 400 and "请填写进展情况" in page.text and events(world) == []
    page = c.post(f"/r/{token}", data={"action": "progress", "note": "系统联调中"})
    assert page.status_code == 200 and "进展已报送" in page.text
    [e] = events(world)
    assert (e.action, e.source, e.note) == ("progress", "link", "系统联调中")
    assert status(world, "单一窗口上线") == "open"
    assert any("单一窗口上线" in q.rendered.text for q in world.pass_at("2025-06-27 09:00").queued)


def test_link_of_a_department_that_no_longer_leads_is_refused(world):
    token = port_links(world)[0]
    moved = task("1", "港口建设", "市发改委", *PORT_TASK.milestones)
    spec = plan(2025, moved, FGW_TASK, PORT_TASK_2)
    spec.source_hash = "edited"
    with transaction(world.engine) as s:
        store_plan(s, spec, world.cfg)
    page = client(world).post(f"/r/{token}", data={"action": "done"})
    assert page.status_code == 403 and "无权办理" in page.text and events(world) == []


def test_occurrence_link_marks_only_that_occurrence(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "重点项目调度", "市发改委",
                                             ms(date(2025, 12, 31), "每季度调度1次", "quarterly"))), web=True)
    [q] = [q for q in w.pass_at("2025-06-23 09:00").queued if q.kind == "reminder"]
    token = next(t for t in links_in(q.rendered.text) if "-20250630-" in t)  # Q1 overdue, Q2, Q3: take Q2
    page = client(w).post(f"/r/{token}", data={"action": "done"})
    assert page.status_code == 200 and "（定期报送，本期）" in page.text
    with transaction(w.engine) as s:
        assert [o for (o,) in s.execute(select(OccurrenceDone.occurrence))] == [date(2025, 6, 30)]
        assert s.scalar(select(LinkUse.occurrence)) == date(2025, 6, 30)
    # Q3 is still reminded.
    [q3] = [q for q in w.pass_at("2025-09-23 09:00").queued if q.kind == "reminder"]
    assert [e["due"] for e in q3.rendered.data["due_by_cutoff"]] == ["2025-09-30"]


# ------------------------------------------------------------------ real servers

def test_uvicorn_thread_serves_the_pages(world):
    token = port_links(world)[0]
    web = WebThread(make_server(world.engine, world.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    web.start()
    try:
        base = f"http://{web.address}"
        assert http.get(f"{base}/r/{token}").status_code == 200
        assert http.post(f"{base}/r/{token}", data={"action": "done"}).status_code == 200
        assert http.post(f"{base}/r/{token}", data={"action": "done"}).status_code == 409
    finally:
        web.stop()
    assert not web.thread.is_alive()


@pytest.mark.slow
def test_run_with_web_enabled_serves_beside_the_scheduler_and_stops_on_sigterm(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, PORT_TASK, PORT_TASK_2), web=True)
    path = w.cfg.path
    # Port 0, and the port the daemon got read from its log: a port chosen here and bound by the
    # daemon a second later may be taken in between by any other process's connection.
    path.write_text(path.read_text().replace('listen = "127.0.0.1:0"', 'enabled = true\nlisten = "127.0.0.1:0"'))
    daemon = DaemonProcess(None, extra_env={"NOTIFIER_CONFIG": str(path)}, cwd=tmp_path)
    try:
        base = f"http://{daemon.served_on('reply links')}"
        assert http.get(f"{base}/", timeout=5).status_code == 200
        assert http.get(f"{base}/r/forged", timeout=5).status_code == 403
    finally:
        rc = daemon.stop(timeout=20)
    assert rc == 0, daemon.log()
