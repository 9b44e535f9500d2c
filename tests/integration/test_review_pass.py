"""The review gate and the told returns in the planning pass, with pinned time and a recording
channel: a pending request keeps its item out of every digest (and out of the 逾期通报); a
return is told once, in the department's next digest; a digest that told it and was dropped
unsent (the daemon was down) leaves it to be told by the next one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import Department, DoneRequest, Milestone
from notifier.review import approve, request_done, return_request
from tests.support.world import local, make_world, ms, plan, task, utc_naive

PORT = "市港口与口岸局"
SPEC = plan(2025, task("1", "港口建设", PORT, ms(date(2025, 5, 31), "单一窗口上线")),
            task("2", "智慧港口", PORT, ms(date(2025, 6, 30), "货物申报应用率达到50%")))


def _world(tmp_path: Path):  # noqa: ANN202
    return make_world(tmp_path, SPEC, web=True)


def _request(w, when: str) -> int:  # noqa: ANN001
    mid = w.milestone_id("单一窗口上线")
    with transaction(w.engine) as s:
        port = s.scalar(select(Department.id).where(Department.name == PORT))
        return request_done(s, milestone_id=mid, occurrence=None, department_id=port,
                            note="见附件", by=PORT, source="page", at=utc_naive(local(when)), required=True).id


def _texts(result, department: str) -> list[str]:  # noqa: ANN001
    return [q.rendered.text for q in result.queued if q.department == department]


def test_a_pending_request_keeps_its_overdue_item_out_of_the_digest_and_the_escalation(tmp_path: Path):
    w = _world(tmp_path)
    _request(w, "2025-06-20 10:00")
    r = w.run("2025-06-23 09:00")
    assert _texts(r, PORT) and all("单一窗口上线" not in t for t in _texts(r, PORT))
    assert all("单一窗口上线" not in t for t in _texts(r, "市政府督查室"))


def test_a_return_is_told_once_and_again_when_its_digest_was_dropped_unsent(tmp_path: Path):
    w = _world(tmp_path)
    rid = _request(w, "2025-06-20 10:00")
    w.run("2025-06-23 09:00")
    with transaction(w.engine) as s:
        return_request(s, rid, reason="请补充验收报告", by="督查室", source="cli",
                       at=utc_naive(local("2025-06-24 10:00")))
    told = w.pass_at("2025-06-27 09:00")  # queued, never sent: the daemon went down
    [text] = _texts(told, PORT)
    assert "【办结申请被退回】" in text and "请补充验收报告" in text and "单一窗口上线" in text
    with transaction(w.engine) as s:
        assert s.get(DoneRequest, rid).told_digest_id is not None
    again = w.run("2025-07-01 09:00")  # the stale digest is dropped: the return is told again, today
    [text] = _texts(again, PORT)
    assert "【办结申请被退回】" in text and "请补充验收报告" in text
    later = w.run("2025-07-04 09:00")  # the overdue notice 3 working days on: told already
    assert _texts(later, PORT) and all("【办结申请被退回】" not in t for t in _texts(later, PORT))


def test_an_approval_is_done_as_of_the_request_and_ends_the_reminders(tmp_path: Path):
    w = _world(tmp_path)
    rid = _request(w, "2025-05-30 16:00")  # before its date: done in time, whenever the office approves
    with transaction(w.engine) as s:
        approve(s, rid, by="督查室", source="cli", at=utc_naive(local("2025-06-05 10:00")))
    r = w.run("2025-06-23 09:00")
    assert all("单一窗口上线" not in t for q in r.queued for t in [q.rendered.text])
    mid = w.milestone_id("单一窗口上线")
    with transaction(w.engine) as s:
        m = s.get(Milestone, mid)
        assert m.status == "done" and m.done_at.date() <= date(2025, 5, 31)
