"""`notifier run` as a real process: catches up at start, sends, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import pytest

from tests.support.paths import ROOT
from tests.support.processes import always_open, open_calendar, wait_for



@pytest.mark.slow
def test_the_daemon_catches_up_at_start_and_exits_0_on_sigterm(write_config, smtp_server, tmp_path):
    today = date.today()
    due = today + timedelta(days=5)
    plan = tmp_path / "plan.csv"
    plan.write_text("序号,工作任务,牵头单位,完成时限,节点内容\n"
                    f"1,建设智慧港口,市港口与口岸局,{due.isoformat()},完成一期工程\n", encoding="utf-8")
    cfg = write_config(f"""
timezone = "UTC"
[database]
url = "sqlite:///{tmp_path}/n.db"
[schedule]
lead_days = [30]
send_at = "00:01"
tick_seconds = 1
{always_open()}{open_calendar()}[email]
host = "127.0.0.1"
port = {smtp_server.port}
security = "none"
from = "ducha@example.gov.cn"
[[departments]]
name = "市港口与口岸局"
email = ["gk@example.gov.cn"]
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "notifier", "--config", str(cfg), "import", str(plan), "--active", "--year",
                    str(due.year)], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(cfg), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: smtp_server.received, what="the caught-up reminder")
        assert len(smtp_server.to("gk@example.gov.cn")) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert len(smtp_server.received) == 1
