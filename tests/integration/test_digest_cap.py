"""A long digest is bounded by ``[schedule] max_items``: of the sections that list whole plans (due
by the cutoff, the other tasks asked about) the pass loads at most that many items, counts the
rest in SQL, and the message reads exactly as if every item had been loaded and cut by the
renderer. Overdue items are all loaded (the grade ladder steps each up to 红)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from notifier.db import queries
from notifier.db.engine import transaction
from notifier.planning.schedule import compose_digests
from notifier.reminders import group_members, ladder_of, load_page, open_items, outcomes_of, rules_for
from tests.support.world import local, make_world, ms, plan, task

PORT = "市港口与口岸局"


def _world(tmp_path: Path):  # noqa: ANN202
    tasks = [task(str(i + 1), f"逾期任务{i + 1}", PORT,
                  ms(date(2025, 5, 1) + timedelta(days=i % 20), f"逾期节点{i + 1}")) for i in range(50)]
    tasks += [task(str(i + 51), f"六月任务{i + 1}", PORT, ms(date(2025, 6, 30), f"六月节点{i + 1}")) for i in range(40)]
    tasks += [task(str(i + 91), f"年底任务{i + 1}", PORT, ms(date(2025, 11, 1) + timedelta(days=i), f"年底节点{i + 1}"))
              for i in range(40)]
    return make_world(tmp_path, plan(2025, *tasks), schedule="max_items = 5")


def test_a_long_digest_loads_at_most_max_items_per_section_and_counts_the_rest(tmp_path: Path) -> None:
    w = _world(tmp_path)
    now = local("2025-06-03 09:00")  # the June cutoff's 30-day reminder (May 30) is still to go out
    with transaction(w.engine) as s:
        rules = rules_for(s, w.cfg)
        port = next(i for i, n in queries.department_names(s).items() if n == PORT)
        loaded = load_page(s, rules, group_members(s, w.cfg), {port}, now, cap=5)
        # What the renderer would show of everything: the whole database, cut by the renderer.
        items = open_items(s, active_only=True)
        [full] = [d for d in compose_digests(items, {}, rules, now, ladder=ladder_of(s, w.cfg, items, now.date()))
                  if d.department_id == port]
        names = queries.department_names(s)
        expected = w.renderer.render_digest(full, PORT, now, names, None, outcomes_of(s, full, w.cfg))
        s.rollback()
    assert len(loaded.items) == 50 + 5 + 5  # the overdue ones, 5 due by June 30, 5 other tasks: not 130
    [queued] = [q for q in w.pass_at(now).queued if q.department == PORT]
    assert queued.rendered.text == expected.text
    assert queued.rendered.subject == expected.subject
    assert "50项已逾期" in queued.rendered.subject and "前须完成40项" in queued.rendered.subject
    assert "及其他45项" in queued.rendered.text and "及其他35项" in queued.rendered.text
