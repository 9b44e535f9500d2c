"""Shared test fixtures: a real SMTP server, a real HTTP server, config files on disk."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
PLANS = FIXTURES / "plans"  # two public plans of the Panjin city government (docs/domain.md)


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd on 127.0.0.1); see delivery_support.SMTPServer."""
    from delivery_support import SMTPServer

    server = SMTPServer()
    yield server
    server.stop()


def mails(server, address: str) -> list:  # noqa: ANN001
    """The messages ``server`` accepted for ``address``, parsed (decoded headers, get_body)."""
    return [r.parsed for r in server.to(address)]


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1; ``.script`` holds status codes to answer before 200s."""
    from delivery_support import HTTPReceiver, Reply

    server = HTTPReceiver(lambda req: Reply(status=server.script.pop(0) if server.script else 200))
    server.script = []
    yield server
    server.close()


@pytest.fixture
def engine(tmp_path):  # noqa: ANN001, ANN201
    """A migrated SQLite file database in tmp_path."""
    from delivery_support import sqlite_engine

    return sqlite_engine(tmp_path / "n.db")


@pytest.fixture
def write_config(tmp_path):
    """Write a config file (TOML text, dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


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
