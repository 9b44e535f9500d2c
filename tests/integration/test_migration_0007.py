"""Migration 0007 (sign_requests, grade_steps): from an empty database and from the previous
head with data, and back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from notifier.db.engine import current_revision, downgrade, make_engine, upgrade

PREVIOUS = "0005"


def test_upgrade_from_the_previous_head_keeps_data_and_downgrade_drops_only_the_new_tables(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine, PREVIOUS)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (name, is_group, created_at) VALUES ('市发改委', 0, '2025-01-01')"))
    upgrade(engine, "0007")
    tables = set(inspect(engine).get_table_names())
    assert {"sign_requests", "grade_steps"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM departments")).scalar() == "市发改委"
    downgrade(engine, PREVIOUS)
    assert current_revision(engine) == PREVIOUS
    assert not {"sign_requests", "grade_steps"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM departments")).scalar() == 1


def test_empty_database_upgrades_through_0007(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine)
    assert {"sign_requests", "grade_steps"} <= set(inspect(engine).get_table_names())
