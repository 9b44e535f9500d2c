"""PostgreSQL for the tests: a throwaway database per test on the server $NOTIFIER_TEST_PG_URL
names (``.ci/run`` starts one). Without it the PostgreSQL tests skip locally and fail in CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from notifier.db.engine import make_engine

ENV = "NOTIFIER_TEST_PG_URL"


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {why} (.ci/run should have started a server)")
    pytest.skip(f"no PostgreSQL: {why}; run `bash .ci/run` or set {ENV}=postgresql+psycopg://user@host:port/db")


@pytest.fixture(scope="session")
def pg_server() -> str:
    url = os.environ.get(ENV)
    if not url:
        _unavailable(f"${ENV} is not set")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"cannot connect to ${ENV}: {type(exc).__name__}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A new empty database on the test server, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """notifier's engine on the test database, disposed before the database is dropped: a pooled
    connection left open would be closed by the server and then collected with a ResourceWarning."""
    engine = make_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()
