"""The schema comes only from migrations, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from notifier.db.engine import alembic_config, downgrade, make_engine, upgrade
from notifier.db.models import Base


def test_migrations_build_the_schema_the_models_describe(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_every_revision_upgrades_and_downgrades_from_empty(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
    for rev in revisions:
        upgrade(engine, rev)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert "deliveries" in inspect(engine).get_table_names()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
