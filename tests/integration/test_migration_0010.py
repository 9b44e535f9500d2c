"""Migration 0010 (who recorded a 签收, and through what): from an empty database, and from
the previous head (0008) with data, and back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from notifier.db.engine import current_revision, downgrade, make_engine, upgrade

ROW = ("INSERT INTO sign_requests (department_id, milestone_id, occurrence, digest_key, asked_on, sign_by, status, "
       "signed_at, signed_by) VALUES (1, 1, '2025-07-16', :key, '2025-07-09', '2025-07-11', :status, :at, :by)")


def _columns(engine) -> set[str]:  # noqa: ANN001
    return {c["name"] for c in inspect(engine).get_columns("sign_requests")}


def test_upgrade_from_0008_marks_the_signatures_made_as_the_page_and_downgrade_keeps_the_rows(tmp_path: Path):
    """Before 0010 the department's page was the only way to sign: a signed request becomes
    ``page``, an open one has no source; down again, the rows stay and the columns go."""
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (name, is_group, created_at) VALUES ('市发改委', 0, '2025-01-01')"))
        conn.execute(text("INSERT INTO plans (name, year, starts_on, ends_on, source_hash, imported_at, updated_at, "
                          "status) VALUES ('方案', 2025, '2025-01-01', '2025-12-31', 'h', '2025-01-01', '2025-01-01', "
                          "'active')"))
        conn.execute(text("INSERT INTO tasks (plan_id, number, title, text, position) VALUES (1, '1', '任务', '', 0)"))
        conn.execute(text("INSERT INTO milestones (task_id, key, position, due_on, text, phrase, status) "
                          "VALUES (1, 'k', 0, '2025-07-16', '完成港口一期', '7月16日', 'open')"))
        conn.execute(text(ROW), {"key": "a", "status": "signed", "at": "2025-07-10 02:00:00", "by": "市发改委（李四）"})
        conn.execute(text(ROW), {"key": "b", "status": "asked", "at": None, "by": None})
    upgrade(engine)
    assert current_revision(engine) == "0010"
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT digest_key, signed_via, recorded_by FROM sign_requests ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("a", "page", None), ("b", None, None)]
    downgrade(engine, "0008")
    assert current_revision(engine) == "0008"
    assert not {"signed_via", "recorded_by"} & _columns(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sign_requests")).scalar() == 2
    engine.dispose()


def test_from_empty_the_sign_requests_carry_who_recorded_a_signature(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(engine)
    assert {"signed_via", "recorded_by"} <= _columns(engine)
    downgrade(engine, "0008")
    assert not {"signed_via", "recorded_by"} & _columns(engine)
    engine.dispose()
