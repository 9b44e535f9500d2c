"""Migration 0002 (link_uses): from an empty database and from 0001 with data, and back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from notifier.db.engine import current_revision, downgrade, make_engine, upgrade


def test_upgrade_from_0001_keeps_data_and_downgrade_drops_only_link_uses(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (name, is_group, created_at) VALUES ('市发改委', 0, '2025-01-01')"))
    upgrade(engine)
    assert "link_uses" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM departments")).scalar() == "市发改委"
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "link_uses" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM departments")).scalar() == 1
