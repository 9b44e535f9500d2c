"""Migration 0009 (the due index): from an empty database, and from 0005 with data, and back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect, text

from notifier.db.engine import current_revision, downgrade, make_engine, upgrade


def test_upgrade_from_0005_makes_every_department_due_and_downgrade_drops_only_the_index(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine, "0005")
    with engine.begin() as conn:
        for name in ("市发改委", "市财政局"):
            conn.execute(text("INSERT INTO departments (name, is_group, created_at) VALUES (:n, 0, '2025-01-01')"),
                         {"n": name})
    upgrade(engine, "0009")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT department_id, next_due_at, version FROM department_due "
                                 "ORDER BY department_id")).all()
    assert [(r[0], r[2]) for r in rows] == [(1, 0), (2, 0)]
    assert all(str(r[1]).startswith("1970-01-01") for r in rows)  # due at the first pass: rebuilt on upgrade
    downgrade(engine, "0005")
    assert current_revision(engine) == "0005"
    assert not {"department_due", "due_index_state"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM departments")).scalar() == 2


def test_from_empty_the_due_index_starts_empty_and_a_new_department_gets_its_row(tmp_path: Path):
    from notifier import due_index
    from notifier.db.engine import transaction
    from notifier.db.models import Department, DepartmentDue

    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine)
    with transaction(engine) as s:
        assert s.query(DepartmentDue).count() == 0
        s.add(Department(name="市发改委", is_group=False, created_at=datetime(2025, 1, 1)))
        s.flush()
        assert due_index.mark_all(s) == 1
        assert s.get(DepartmentDue, 1).next_due_at == due_index.DUE_NOW
