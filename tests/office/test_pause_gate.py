"""The pause gate in the planning pass: a paused task or department gets no reminder while the
pause holds, the others on the plan still do, and the reminders resume when it ends."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import Department, Digest, Task
from notifier.office.pauses import end_pause, start_pause

from tests.support.office import ledger_plan
from tests.support.world import make_world


def _recipients(world, day: str) -> set[str]:  # noqa: ANN001
    with transaction(world.engine) as s:
        rows = s.execute(select(Department.name).join(Digest, Digest.department_id == Department.id)
                         .where(Digest.day == date.fromisoformat(day)))
        return {name for (name,) in rows}


def test_a_paused_department_gets_nothing_until_the_pause_ends_while_others_still_do(tmp_path):
    w = make_world(tmp_path, ledger_plan())
    with transaction(w.engine) as s:
        port = s.scalar(select(Department.id).where(Department.name == "市港口与口岸局"))
        pause = start_pause(s, task_id=None, department_id=port, reason="机构调整", ends_on=date(2025, 7, 11),
                            today=date(2025, 7, 1), actor="office", now=datetime(2025, 7, 1))
        pause_id = pause.id
    w.run("2025-07-10 09:00")
    day = _recipients(w, "2025-07-10")
    assert day and "市港口与口岸局" not in day  # the others on the plan were still reminded
    with transaction(w.engine) as s:
        end_pause(s, pause_id, actor="office", now=datetime(2025, 7, 11, 1))
    w.run("2025-07-11 09:00")
    assert "市港口与口岸局" in _recipients(w, "2025-07-11")


def test_a_paused_task_is_left_out_of_its_lead_departments_digest(tmp_path):
    w = make_world(tmp_path, ledger_plan())
    with transaction(w.engine) as s:
        task_id = s.scalar(select(Task.id).where(Task.number == "1"))
        start_pause(s, task_id=task_id, department_id=None, reason="防汛", ends_on=date(2025, 7, 31),
                    today=date(2025, 7, 1), actor="office", now=datetime(2025, 7, 1))
    w.run("2025-07-10 09:00")
    texts = [m.text for m in w.recorder.messages]
    assert texts  # the pass ran and sent the other tasks' reminders
    assert not any("单一窗口上线" in t or "完成码头改造方案" in t for t in texts)
