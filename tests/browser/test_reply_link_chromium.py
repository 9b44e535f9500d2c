"""The reply pages in a real headless Chromium: a done link clicked in the browser stops the
next reminder; a tampered link is refused; opening a link changes nothing by itself.

Skips when Chromium is missing locally; fails when CI is set (tests/browser/install-chromium.sh
installs it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import Milestone, HistoryEvent
from notifier.web.server import WebThread, make_server

from tests.support.world import local, make_world, ms, plan, task

BASE = "https://notifier.example.gov.cn"


@pytest.fixture
def served(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线")),
                                  task("3", "智慧港口", "市港口与口岸局", ms(date(2025, 9, 30), "货物申报应用率达到50%"))),
                   web=True, extra="[review]\nrequired = false\n")  # a click closes it (no review)
    web = WebThread(make_server(w.engine, w.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    web.start()
    yield w, f"http://{web.address}"
    web.stop()


def done_state(w) -> tuple[str, list[tuple[str, str, str]]]:  # noqa: ANN001
    with transaction(w.engine) as s:
        status = s.scalar(select(Milestone.status).where(Milestone.text == "单一窗口上线"))
        events = [(e.action, e.source, e.actor) for e in s.scalars(select(HistoryEvent))]
    return status, events


def test_done_link_clicked_in_chromium_stops_the_next_reminder(browser, served, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    w, local_base = served
    [q] = [q for q in w.pass_at("2025-06-23 09:00").queued if q.department == "市港口与口岸局"]
    url = next(line.split("：", 1)[1].strip() for line in q.rendered.text.splitlines()
               if "办结或报送进展：" in line)
    assert url.startswith(f"{BASE}/r/")
    browser.get(url.replace(BASE, local_base))
    assert browser.find_element(By.ID, "title").text == "督办事项办理"
    assert "单一窗口上线" in browser.find_element(By.ID, "item").text
    assert done_state(w) == ("open", [])  # opening the link changed nothing

    browser.find_element(By.ID, "note").send_keys("已于6月24日上线运行")
    browser.find_element(By.ID, "person").send_keys("张三")
    browser.find_element(By.ID, "confirm-done").click()
    WebDriverWait(browser, 15).until(ec.text_to_be_present_in_element((By.ID, "title"), "已确认完成"))
    browser.save_screenshot(str(tmp_path / "confirmed.png"))
    assert done_state(w) == ("done", [("done", "link", "市港口与口岸局（张三）")])

    # The next reminder (1 day before the June cutoff, moved to Friday 06-27) leaves it out.
    later = [q for q in w.pass_at("2025-06-27 09:00").queued if q.department == "市港口与口岸局"]
    assert later and all("单一窗口上线" not in q.rendered.text for q in later)

    # Opening the used link again: a clear page, nothing changes.
    browser.get(url.replace(BASE, local_base))
    assert browser.find_element(By.ID, "title").text == "此链接已使用"
    assert not browser.find_elements(By.ID, "reply")
    assert len(done_state(w)[1]) == 1


def test_tampered_link_is_refused_in_chromium(browser, served):
    from selenium.webdriver.common.by import By

    w, local_base = served
    [q] = [q for q in w.pass_at("2025-06-23 09:00").queued if q.department == "市港口与口岸局"]
    token = q.rendered.text.split(f"{BASE}/r/", 1)[1].split()[0]
    mid, occ, dep, exp, sig = token.split("-", 4)
    browser.get(f"{local_base}/r/{mid}-{occ}-{dep}-{int(exp) + 86400 * 365}-{sig}")  # a longer life
    assert browser.find_element(By.ID, "title").text == "链接无效"
    assert "未作任何更改" in browser.find_element(By.ID, "message").text
    assert not browser.find_elements(By.ID, "reply")
    assert done_state(w) == ("open", [])
