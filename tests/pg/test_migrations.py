"""Every migration, on SQLite and on PostgreSQL: from an empty database, and from each earlier
revision up to head and back down, written over the revision list so a new migration is covered
without touching this file. At head the schema is exactly the models'."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from notifier.db.engine import current_revision, downgrade, make_engine, revisions, upgrade
from notifier.db.models import Base

REVISIONS = revisions()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/m.db"
    return request.getfixturevalue("pg_url")


def _tables(engine) -> set[str]:  # noqa: ANN001
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_revisions_form_one_line() -> None:
    assert REVISIONS and len(REVISIONS) == len(set(REVISIONS))


def test_empty_to_head_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == REVISIONS[-1]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


@pytest.mark.parametrize("start", REVISIONS)
def test_from_each_revision_up_to_head_and_back(db_url: str, start: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, start)
    assert current_revision(engine) == start
    upgrade(engine)
    assert current_revision(engine) == REVISIONS[-1]
    downgrade(engine, start)
    assert current_revision(engine) == start
    upgrade(engine)  # and up again: a downgrade leaves nothing behind that breaks the upgrade
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert _tables(engine) == set()
    engine.dispose()


def test_each_step_down_and_up(db_url: str) -> None:
    engine = make_engine(db_url)
    for rev in REVISIONS:
        upgrade(engine, rev)
    for i in range(len(REVISIONS) - 1, 0, -1):
        downgrade(engine, REVISIONS[i - 1])
        assert current_revision(engine) == REVISIONS[i - 1]
        upgrade(engine, REVISIONS[i])
        downgrade(engine, REVISIONS[i - 1])
    engine.dispose()
