"""The due index on PostgreSQL: months of daily passes with imports, done marks, reopenings,
延期, plans closed and reopened and pauses queue exactly what the whole database calls for,
long sections loaded in part (max_items = 2) and counted in SQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.integration.test_due_index_pass import _config, live_through


def test_due_index_on_postgresql_queues_what_the_whole_database_calls_for(pg_url: str, tmp_path: Path) -> None:
    live_through(_config(tmp_path, 2, pg_url), tmp_path, date(2025, 10, 10))  # the June and September cutoffs
