"""A test's database at the head revision. A new SQLite file is a copy of a template that
Alembic migrates for real once per test process; migrating each test's file from empty took a
tenth of a second, some 13 s of the 93 s of CPU that `make test-fast` took. Any other database (PostgreSQL, or a
SQLite file that already exists) is migrated where it is. The migrations themselves are
proved by the tests that run them step by step (tests/unit/test_migrations.py,
tests/pg/test_migrations.py, tests/integration/test_migration_*.py) and by every command
run in a subprocess, which migrates its new database itself."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from notifier.db.engine import make_engine, upgrade


def migrated(url: str) -> Engine:
    """An engine on ``url``, its schema at head."""
    if seed(url):
        return make_engine(url)
    engine = make_engine(url)
    upgrade(engine)
    return engine


def seed(url: str) -> bool:
    """When ``url`` names a SQLite file that does not exist yet, put an empty database at head
    there, as the first command run on it would make it, and say so. For a test that runs
    commands in-process: their first one finds the schema at head."""
    path = _new_sqlite_file(url)
    if path is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), path)
    return True


def sqlite_engine(path: Path) -> Engine:
    """A SQLite file database at head."""
    return migrated(f"sqlite:///{path}")


def _new_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


@cache
def _template() -> Path:
    """Migrated from empty by Alembic, checkpointed into one file (no -wal beside it to copy)."""
    folder = Path(tempfile.mkdtemp(prefix="notifier-test-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "head.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file and removes it
    assert not path.with_name(path.name + "-wal").exists()
    return path
