"""deploy/notifier.service: systemd accepts it without a single warning, and it is hardened to an
exposure of 2.0 or lower by `systemd-analyze security`. Skips only off CI when systemd-analyze
is missing (.ci/run installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "notifier.service"


@pytest.fixture(scope="module")
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI (.ci/run installs the systemd package)")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return tool


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_verify_prints_nothing(analyze: str, tmp_path: Path) -> None:
    # verify checks that ExecStart= exists: point it at this checkout's notifier.
    notifier = Path(sys.executable).parent / "notifier"
    assert notifier.exists()
    unit = tmp_path / "notifier.service"
    unit.write_text(UNIT.read_text().replace("/opt/notifier/venv/bin/notifier", str(notifier)))
    proc = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    # "Unknown key" and other warnings exit 0: any output at all is a failure.
    assert proc.returncode == 0 and (proc.stdout + proc.stderr).strip() == "", proc.stdout + proc.stderr


def test_verify_would_catch_an_unknown_key(analyze: str, tmp_path: Path) -> None:
    unit = tmp_path / "probe.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nWatchdogSecs=1\n")
    proc = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert "Unknown key" in proc.stdout + proc.stderr


def test_security_exposure_at_most_2(analyze: str) -> None:
    proc = subprocess.run([analyze, "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for notifier\.service: (\d+(?:\.\d+)?)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    assert float(m.group(1)) <= 2.0, proc.stdout


def test_unit_has_what_the_daemon_relies_on() -> None:
    s = _settings()
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["on-failure"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["DynamicUser"] == ["yes"] and s["StateDirectory"] == ["notifier"]
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert "@system-service" in s["SystemCallFilter"]
    assert any(v.startswith("smtp_password:") for v in s["LoadCredential"])
    watchdog = s["WatchdogSec"][0]
    seconds = int(watchdog.removesuffix("min")) * 60 if watchdog.endswith("min") else int(watchdog.rstrip("s"))
    assert seconds >= 60  # fed every WatchdogSec/2 by its own job, whatever the tick interval
