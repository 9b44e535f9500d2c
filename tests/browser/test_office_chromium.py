"""The office ledger in a real headless Chromium: log in, filter to one department, extend a
deadline and see the new date, confirm an upload import, download the xlsx.

Skips when Chromium is missing locally; fails when CI is set (tests/browser/install-chromium.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from notifier.db.engine import transaction
from notifier.db.models import Plan
from notifier.terms import Light

from tests.support.office import PASSWORD, start_office
from tests.support.paths import ROOT
from tests.support.processes import wait_for


@pytest.fixture
def office(tmp_path: Path, cheap_argon2):  # noqa: ANN001, ANN201
    o = start_office(tmp_path)
    yield o
    o.stop()


def test_the_office_works_in_chromium(browser, office, tmp_path: Path):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    by_id = lambda i: browser.find_element(By.ID, i)  # noqa: E731

    def wait(cond) -> None:  # noqa: ANN001 - the old page's element may go stale while the new one loads
        WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                      ).until(cond)
    browser.set_window_size(1280, 900)
    browser.get(f"{office.base}/office/")
    assert by_id("title").text == "督办台账登录"  # redirected to the login page
    by_id("name").send_keys("office")
    by_id("password").send_keys(PASSWORD)
    by_id("submit").click()
    wait(lambda d: d.find_elements(By.ID, "ledger"))
    assert "office（督查室）" in by_id("who").text

    # Filter to one department.
    Select(by_id("f-department")).select_by_visible_text("市港口与口岸局")
    by_id("f-submit").click()
    wait(lambda d: "department=" in d.current_url
         and [e.text for e in d.find_elements(By.CSS_SELECTOR, "#ledger tr.row td.lead")] == ["市港口与口岸局"] * 2)
    browser.save_screenshot(str(tmp_path / "ledger-filtered.png"))

    # Extend the overdue milestone's deadline and see the new date.
    browser.find_element(By.LINK_TEXT, "1. 港口建设").click()
    mid = office.world.milestone_id("单一窗口上线")
    form = by_id(f"extend-{mid}")
    browser.execute_script("arguments[0].value = '2025-08-31'", form.find_element(By.NAME, "new_due"))
    form.find_element(By.NAME, "reason").send_keys("设备到货延迟")
    form.find_element(By.TAG_NAME, "button").click()
    wait(lambda d: d.find_element(By.ID, f"due-{mid}").text == "2025-08-31")
    assert "原定 2025-06-30" in browser.find_element(By.ID, f"m{mid}").text
    assert "设备到货延迟" in by_id("history").text
    browser.save_screenshot(str(tmp_path / "task-extended.png"))

    # Import a plan by upload: the dry-run table first, then confirm.
    browser.get(f"{office.base}/office/import")
    by_id("file").send_keys(str(ROOT / "tests" / "fixtures" / "panjin-2018.csv"))
    by_id("year").send_keys("2018")
    by_id("preview").click()
    wait(lambda d: d.find_elements(By.ID, "confirm"))
    assert "地区生产总值增长7.5%" in by_id("preview-table").text
    with transaction(office.world.engine) as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 1  # nothing written yet
    by_id("confirm").click()
    wait(lambda d: d.find_element(By.ID, "title").text == "导入完成")
    with transaction(office.world.engine) as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 2

    # Download the ledger as xlsx.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{office.base}/office/")
    by_id("export").click()
    # Chromium writes the file as .crdownload and renames it when it is complete.
    [xlsx] = wait_for(lambda: list(downloads.glob("*.xlsx")), what="the browser's download")
    ws = load_workbook(xlsx).active
    col = [c.value for c in ws[1]].index("督办灯")
    fills = {row[col].fill.start_color.rgb[-6:] for row in ws.iter_rows(min_row=2)}
    assert Light.RED.rgb in fills
    assert ws.max_row > 6  # the imported plan's milestones are in it too


@pytest.mark.parametrize("width", [1280, 400])
def test_the_pages_fit_the_screen_at_1280_and_400_pixels(browser, office, tmp_path: Path, width: int):  # noqa: F811
    """No page scrolls sideways, on a desktop or a phone (the tables become cards under 720 px)."""
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 900)
    browser.get(f"{office.base}/office/login")
    browser.find_element(By.ID, "name").send_keys("office")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "submit").click()
    for name, path in [("ledger", "/office/"), ("task", "/office/task/1"), ("report", "/office/report?period=2025-06"),
                       ("contacts", "/office/contacts"), ("import", "/office/import"), ("audit", "/office/audit")]:
        browser.get(office.base + path)
        viewport = browser.execute_script("return document.documentElement.clientWidth")
        content = browser.execute_script("return document.documentElement.scrollWidth")
        assert content <= viewport, f"{path} is {content}px wide in a {viewport}px window"
        browser.save_screenshot(str(tmp_path / f"{name}-{width}.png"))
