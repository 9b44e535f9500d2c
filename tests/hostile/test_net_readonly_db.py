"""A database file we may only read: `status` and `milestones` work (as another user when
the tests run as root, since root ignores file modes), a write command fails with one line;
a read session waits for no writer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from notifier.db.engine import make_engine, read_session, transaction

from tests.support.paths import FIXTURES
from tests.support.processes import env


@pytest.fixture(scope="module")
def read_only_db():
    """A world-readable directory (not under pytest's 0700 tmp) with an imported plan, then
    made read-only: file 0444, directory 0555. One for the module: no test can change it."""
    d = Path(tempfile.mkdtemp(prefix="notifier-ro-"))
    d.chmod(0o755)
    cfg = d / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{d}/n.db"\n[folder]\ndivert = true\n', encoding="utf-8")
    subprocess.run([sys.executable, "-m", "notifier", "--config", str(cfg), "import",
                    str(FIXTURES / "panjin-2018.csv"), "--year", "2018"], check=True, capture_output=True, env=env())
    for f in d.iterdir():
        f.chmod(0o444)
    d.chmod(0o555)
    yield cfg
    d.chmod(0o755)
    shutil.rmtree(d)


def as_reader(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if prefix and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot read as an unprivileged user")
    return subprocess.run([*prefix, sys.executable, "-m", "notifier", "--config", str(cfg), *args],
                          capture_output=True, text=True, env={**env(), "HOME": "/tmp"}, timeout=60)


def test_status_and_milestones_work_on_a_read_only_database(read_only_db):
    status = as_reader(read_only_db, "status")
    assert "方案 1 个，任务 53 项" in status.stdout, status.stderr
    assert "Traceback" not in status.stderr
    milestones = as_reader(read_only_db, "milestones", "--department", "市发改委")
    assert milestones.returncode == 0, milestones.stderr
    assert "个时间节点" in milestones.stdout or "（共" in milestones.stdout, milestones.stdout[-300:]


def test_preview_is_a_read_and_works_on_a_read_only_database(read_only_db):
    preview = as_reader(read_only_db, "preview", "--department", "市发改委", "--now", "2018-06-20 09:00")
    assert preview.returncode == 0, preview.stderr
    assert "Traceback" not in preview.stderr  # the fixture's plan is closed: nothing to show, but no write


def test_a_write_command_on_a_read_only_database_is_one_clear_line(read_only_db):
    done = as_reader(read_only_db, "done", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "notifier: cannot use the database: attempt to write a readonly database"


def test_a_read_session_does_not_wait_for_a_writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/n.db")
    with transaction(engine) as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    with transaction(engine) as w:  # holds the write lock (BEGIN IMMEDIATE)
        w.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with read_session(engine) as r:
            assert r.scalar(text("SELECT count(*) FROM t")) == 0  # the committed state
        assert time.monotonic() - started < 1  # not the 15 s busy timeout
