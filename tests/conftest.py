"""Shared test fixtures: a real SMTP server, a real HTTP server, config files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config import write_toml
from tests.support.database import sqlite_engine
from tests.support.paths import ROOT
from tests.support.servers import HTTPReceiver, Reply, SMTPServer
from tests.support.templates import MemoryBytecodeCache


@pytest.fixture(autouse=True, scope="session")
def _templates_compiled_once():  # noqa: ANN202
    """Every Jinja environment the code builds (the messages' and the office pages') shares one
    in-memory cache of compiled templates for the run; see tests.support.templates."""
    import notifier.office.web
    import notifier.rendering

    cache = MemoryBytecodeCache()

    def cached(make):  # noqa: ANN001, ANN202
        def make_cached(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            env = make(*args, **kwargs)
            env.bytecode_cache = cache
            return env
        return make_cached

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(notifier.rendering, "make_environment", cached(notifier.rendering.make_environment))
        mp.setattr(notifier.office.web, "environment", cached(notifier.office.web.environment))
        yield


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd on 127.0.0.1); see tests.support.servers.SMTPServer."""
    server = SMTPServer()
    yield server
    server.stop()


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1; ``.script`` holds status codes to answer before 200s."""
    server = HTTPReceiver(lambda req: Reply(status=server.script.pop(0) if server.script else 200))
    server.script = []
    yield server
    server.close()


@pytest.fixture
def engine(tmp_path):  # noqa: ANN001, ANN201
    """A migrated SQLite file database in tmp_path."""
    return sqlite_engine(tmp_path / "n.db")


@pytest.fixture
def write_config(tmp_path):
    """Write a config file (TOML text, dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        return write_toml(tmp_path, text, name)

    return write


@pytest.fixture
def cheap_argon2(monkeypatch):  # noqa: ANN001, ANN201
    """Real argon2id with small costs: each login of a test takes milliseconds, not a second of
    the two shared cores (the production parameters are argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("notifier.office.accounts._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Mark ``slow`` what needs a service or a browser: every PostgreSQL test (the ``pg_url``
    fixture, or the ``postgresql`` variant of a parametrised one), tests/browser (Chromium) and
    tests/deploy (systemd). Tests that start daemon processes carry ``@pytest.mark.slow`` themselves.
    ``make test-fast`` (``-m "not slow"``) leaves them out."""
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        params = getattr(getattr(item, "callspec", None), "params", {})
        if ("pg_url" in getattr(item, "fixturenames", ()) or "postgresql" in params.values()
                or path[0] in ("browser", "deploy")):
            item.add_marker(pytest.mark.slow)
