"""The browser tests' Chromium (headless, driven by Selenium): skips when Chromium is missing
locally, fails when CI is set (tests/browser/install-chromium.sh installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if not (chromium and driver_path and webdriver):
        missing = ", ".join(n for n, ok in (("chromium", chromium), ("chromedriver", driver_path),
                                            ("selenium", webdriver)) if not ok)
        why = f"{missing} not installed (run tests/browser/install-chromium.sh; pip install -e '.[test]')"
        if _on_ci():
            pytest.fail(f"browser test cannot run on CI: {why}")
        pytest.skip(f"{why}; set CI=true to make this a failure")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
