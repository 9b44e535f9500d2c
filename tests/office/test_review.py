"""The review of done requests on the office pages: the list shows what waits; approving closes
the item as of the request, returning needs a reason and puts the item back; each decision is
in the audit history and the task's history with who; a leader sees the list without forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import AuditEntry, DoneRequest, Milestone, TaskDepartment
from notifier.office.ledger import load_rows
from notifier.review import RequestState, request_done
from tests.support.office import LEADER_PASSWORD, csrf_of
from tests.support.world import local, utc_naive


def _request(office, text: str) -> int:  # noqa: ANN001
    mid = office.world.milestone_id(text)
    with transaction(office.world.engine) as s:
        task_id = s.scalar(select(Milestone.task_id).where(Milestone.id == mid))
        lead = s.scalar(select(TaskDepartment.department_id).where(TaskDepartment.task_id == task_id,
                                                                   TaskDepartment.role == "lead"))
        return request_done(s, milestone_id=mid, occurrence=None, department_id=lead, note="见附件：验收报告",
                            by="市港口与口岸局（李四）", source="page", at=utc_naive(local("2025-07-08 15:00")),
                            required=True).id


def post(c, path: str, data: dict):  # noqa: ANN001, ANN201
    return c.post(path, data={**data, "csrf": csrf_of(c.get("/office/review").text)})


def test_the_office_approves_a_request_and_the_item_is_done_as_of_the_request(office):
    rid = _request(office, "单一窗口上线")
    c = office.login()
    page = c.get("/office/review").text
    assert f'id="request-{rid}"' in page and "见附件：验收报告" in page and "市港口与口岸局（李四）" in page
    r = post(c, f"/office/review/{rid}/approve", {"reason": "材料齐全"})
    assert r.status_code == 303 and r.headers["location"] == "/office/review"
    with transaction(office.world.engine) as s:
        m = s.get(Milestone, office.world.milestone_id("单一窗口上线"))
        assert (m.status, m.done_at) == ("done", datetime(2025, 7, 8, 7, 0))
        assert s.get(DoneRequest, rid).state == RequestState.APPROVED
        assert [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("review%")))] == [
            "review_approve"]
    assert "没有待审核的办结申请" in c.get("/office/review").text
    task = c.get("/office/task/1").text
    assert "申请办结" in task and "审核通过" in task


def test_returning_needs_a_reason_and_puts_the_item_back(office):
    rid = _request(office, "单一窗口上线")
    c = office.login()
    r = post(c, f"/office/review/{rid}/return", {"reason": "  "})
    assert r.status_code == 400 and "退回时请填写原因" in r.text
    r = post(c, f"/office/review/{rid}/return", {"reason": "请补充验收报告"})
    assert r.status_code == 303
    with transaction(office.world.engine) as s:
        req = s.get(DoneRequest, rid)
        assert (req.state, req.reason, req.decided_by) == (RequestState.RETURNED, "请补充验收报告", "office")
        assert s.get(Milestone, req.milestone_id).status == "open"
    assert "退回办结申请" in c.get("/office/task/1").text
    with transaction(office.world.engine) as s:  # the office's return is not the department's answer
        [row] = [r for r in load_rows(s, office.world.cfg, local("2025-07-10 10:00").date())
                 if r.item.text == "单一窗口上线"]
        assert row.last_answer.action == "request"
    again = post(c, f"/office/review/{rid}/approve", {})
    assert again.status_code == 400 and "已退回" in again.text


def test_a_leader_sees_the_requests_but_no_forms(office):
    rid = _request(office, "单一窗口上线")
    c = office.login("leader", LEADER_PASSWORD)
    page = c.get("/office/review").text
    assert f'id="request-{rid}"' in page and f'id="approve-{rid}"' not in page
    assert post(c, f"/office/review/{rid}/approve", {}).status_code == 403
