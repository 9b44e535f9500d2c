"""The department's page in a real headless Chromium at a phone's width (400 px): opened from
the digest's link, the clerk signs for an item and reports progress; both are recorded and the
page says so. The screenshot (department-400px.png in the test's tmp_path) is for a person to look at.

Skips when Chromium is missing locally; fails when CI is set (tests/browser/install-chromium.sh)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier import signing
from notifier.db.engine import transaction
from notifier.db.models import Department, HistoryEvent
from notifier.web.server import WebThread, make_server
from tests.support.world import local, make_world, ms, plan, task

BASE = "https://notifier.example.gov.cn"
PORT = "市港口与口岸局"


@pytest.fixture
def served(tmp_path: Path):
    w = make_world(tmp_path, plan(2025, task("1", "港口建设", PORT, ms(date(2025, 6, 30), "单一窗口上线")),
                                  task("2", "口岸通关", PORT,
                                       ms(date(2025, 5, 31), "编制通关便利化方案，报市政府审定后印发实施")),
                                  task("3", "智慧港口", PORT, ms(date(2025, 9, 30), "货物申报应用率达到50%"))),
                   web=True)
    web = WebThread(make_server(w.engine, w.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    web.start()
    yield w, f"http://{web.address}"
    web.stop()


def test_a_clerk_signs_and_reports_progress_on_a_400px_wide_phone(browser, served, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    w, local_base = served
    [q] = [q for q in w.pass_at("2025-06-23 09:00").queued if q.department == PORT]
    url = re.search(rf"{re.escape(BASE)}/d/[A-Za-z0-9_-]+", q.rendered.text).group()
    mid = w.milestone_id("单一窗口上线")
    with transaction(w.engine) as s:  # the reminder asked for 签收 (notifier.signing)
        port = s.scalar(select(Department.id).where(Department.name == PORT))
        assert (mid, date(2025, 6, 30)) in {(r.milestone_id, r.occurrence) for r in signing.open_requests(s, port)}
    key = f"{mid}-20250630"

    browser.set_window_size(400, 860)
    browser.get(url.replace(BASE, local_base))
    assert browser.find_element(By.ID, "title").text == f"{PORT}督办事项"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400  # no sideways scrolling
    browser.save_screenshot(str(tmp_path / "department-400px-opened.png"))
    browser.find_element(By.ID, f"sign-{key}").click()
    WebDriverWait(browser, 15).until(ec.text_to_be_present_in_element((By.ID, "message"), "已签收"))
    assert not browser.find_elements(By.ID, f"sign-{key}")
    with transaction(w.engine) as s:
        assert (mid, date(2025, 6, 30)) not in {(r.milestone_id, r.occurrence) for r in signing.open_requests(s, port)}

    browser.find_element(By.ID, f"open-progress-{key}").click()
    browser.find_element(By.ID, f"percent-{key}").send_keys("60")
    browser.find_element(By.ID, f"note-{key}").send_keys("系统已完成联调，6月28日试运行")
    browser.find_element(By.ID, f"person-p-{key}").send_keys("李四")
    browser.find_element(By.ID, f"progress-{key}").click()
    WebDriverWait(browser, 15).until(ec.text_to_be_present_in_element((By.ID, "message"), "进展已报送"))
    with transaction(w.engine) as s:
        assert [(e.action, e.actor, e.percent, e.note) for e in s.scalars(select(HistoryEvent))] == [
            ("progress", f"{PORT}（李四）", 60, "系统已完成联调，6月28日试运行")]
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
    browser.execute_script(f"document.getElementById('m{key}').querySelector('details:last-of-type').open = true")
    browser.save_screenshot(str(tmp_path / "department-400px.png"))
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    browser.save_screenshot(str(tmp_path / "department-400px-end.png"))
    print(f"screenshots: {tmp_path}")
