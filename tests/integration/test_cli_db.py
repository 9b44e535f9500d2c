"""`notifier db upgrade --sql` prints the pending SQL for review; `notifier db backup` copies
a SQLite database with the online backup API while a writer is busy, and the copy restores."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from notifier.db.engine import head_revision, make_engine, revisions, upgrade, utcnow

from tests.support.outbox import queue_rows
from tests.support.processes import run_cli


def _config(tmp: Path, url: str = "sqlite:///notifier.db") -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return cfg


@pytest.mark.slow
def test_upgrade_sql_from_empty_then_from_current_revision(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    out = run_cli(cfg, "db", "upgrade", "--sql", check=True).stdout
    assert "CREATE TABLE milestones" in out and f"'{head_revision()}'" in out
    assert not (tmp_path / "notifier.db").exists() or "alembic_version" not in \
        str(sqlite3.connect(tmp_path / "notifier.db").execute("select name from sqlite_master").fetchall())
    if len(revisions()) > 1:  # from an older revision only the newer steps are printed
        upgrade(make_engine(f"sqlite:///{tmp_path}/notifier.db"), revisions()[-2])
        out = run_cli(cfg, "db", "upgrade", "--sql", check=True).stdout
        assert "CREATE TABLE milestones" not in out and "UPDATE alembic_version" in out
    run_cli(cfg, "db", "upgrade", check=True)
    out = run_cli(cfg, "db", "upgrade", "--sql", check=True).stdout
    assert "nothing to apply" in out


@pytest.mark.slow
def test_upgrade_sql_for_postgresql_needs_no_server_and_shows_no_password(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "postgresql+psycopg://notifier:s3cret-pw@127.0.0.1:1/notifier")
    proc = run_cli(cfg, "db", "upgrade", "--sql")
    # the current revision cannot be read without a server: one line says so
    assert proc.returncode == 1
    assert proc.stderr.startswith("notifier: cannot use the database:") and "Traceback" not in proc.stderr
    # ... and --from names it instead
    out = run_cli(cfg, "db", "upgrade", "--sql", "--from", "base", check=True).stdout
    assert "CREATE TABLE milestones" in out and "SERIAL" in out  # PostgreSQL's dialect
    assert "s3cret-pw" not in out + proc.stderr


@pytest.mark.slow
def test_backup_while_writing_and_restore(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    run_cli(cfg, "db", "upgrade", check=True)
    engine = make_engine(f"sqlite:///{tmp_path}/notifier.db")
    queue_rows(engine, [("webhook", "robot")], n=300, now=utcnow())
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            queue_rows(engine, [("webhook", "robot")], n=20, now=utcnow())

    t = threading.Thread(target=writer)
    t.start()
    try:
        proc = run_cli(cfg, "db", "backup", str(tmp_path / "backup" / "copy.db"), check=True)
    finally:
        stop.set()
        t.join()
    assert "backed up to" in proc.stdout
    copy = sqlite3.connect(tmp_path / "backup" / "copy.db")
    assert copy.execute("pragma integrity_check").fetchone()[0] == "ok"
    n = copy.execute("select count(*) from deliveries").fetchone()[0]
    assert n >= 300 and n % 20 == 0  # a consistent snapshot: whole transactions only
    copy.close()
    assert not list((tmp_path / "backup").glob("*-wal"))
    # restore: the copy is a working database for notifier
    restored = _config(tmp_path / "backup", "sqlite:///copy.db")
    assert "投递：待发送" in run_cli(restored, "status").stdout


@pytest.mark.slow
def test_backup_of_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "postgresql+psycopg://notifier@127.0.0.1:1/notifier")
    proc = run_cli(cfg, "db", "backup", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert "pg_dump" in proc.stderr
