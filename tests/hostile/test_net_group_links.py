"""Group-led tasks end to end: reminders for a task led by 各县区政府 go to its members with
links signed for each member; each member can answer its links over real HTTP (Uvicorn), the
answer is recorded under the member's name, and the milestone is done once every member has
confirmed. Used to be 403 无权办理 for every member."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import Milestone, HistoryEvent
from notifier.web.server import WebThread, make_server

from tests.support import http
from tests.support.world import local, make_world, ms, plan, task

GROUP = """
[[departments]]
name = "各县区政府"
members = ["盘山县政府", "大洼区政府"]

[[departments]]
name = "盘山县政府"
email = ["ps@example.gov.cn"]

[[departments]]
name = "大洼区政府"
email = ["dw@example.gov.cn"]
"""
LINK = re.compile(r"https://notifier\.example\.gov\.cn/r/([A-Za-z0-9_-]+)")
ROADS = task("1", "农村公路建设", "各县区政府", ms(date(2025, 6, 30), "完成农村公路改造"))


@pytest.fixture
def world(tmp_path):
    w = make_world(tmp_path, plan(2025, ROADS), web=True, extra=GROUP)
    result = w.pass_at("2025-06-23 09:00")
    w.links = {q.department: LINK.findall(q.rendered.text)[0] for q in result.queued}
    web = WebThread(make_server(w.engine, w.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    web.start()
    w.base = f"http://{web.address}"
    yield w
    web.stop()


def status(w) -> str:
    with transaction(w.engine) as s:
        return s.scalar(select(Milestone.status))


def history(w) -> list[tuple[str, str]]:
    with transaction(w.engine) as s:
        return [(e.action, e.actor) for e in s.scalars(select(HistoryEvent).order_by(HistoryEvent.id))]


def test_each_member_of_a_leading_group_gets_its_own_link_and_can_open_it(world):
    assert set(world.links) == {"盘山县政府", "大洼区政府"}
    for token in world.links.values():
        page = http.get(f"{world.base}/r/{token}")
        assert page.status_code == 200 and "无权办理" not in page.text


def test_a_members_progress_is_recorded_under_its_name(world):
    r = http.post(f"{world.base}/r/{world.links['盘山县政府']}",
                   data={"action": "progress", "note": "已完成60%", "person": "张三"})
    assert r.status_code == 200
    assert history(world) == [("progress", "盘山县政府（张三）")]


def test_the_last_members_confirmation_is_the_groups_done_request_and_approval_closes_it(world):
    first = http.post(f"{world.base}/r/{world.links['盘山县政府']}", data={"action": "done"})
    assert first.status_code == 200 and "尚有1个成员单位未确认" in first.text
    assert status(world) == "open"
    again = http.get(f"{world.base}/r/{world.links['盘山县政府']}")
    assert again.status_code == 409  # the link was used
    last = http.post(f"{world.base}/r/{world.links['大洼区政府']}", data={"action": "done"})
    assert last.status_code == 200 and "待督查室审核" in last.text  # [review] required (the default)
    assert status(world) == "open"
    assert history(world) == [("progress", "盘山县政府"), ("request", "大洼区政府")]
    from notifier.review import approve, requests

    with transaction(world.engine) as s:
        [req] = requests(s)
        approve(s, req.id, by="督查室王五", source="cli", at=local("2025-06-25 10:00").replace(tzinfo=None))
    assert status(world) == "done"
    assert history(world)[-1] == ("done", "督查室王五")


def test_a_department_outside_the_group_is_still_refused(world, tmp_path):
    from notifier.web.links import signer_of

    with transaction(world.engine) as s:
        from notifier.db.models import Department

        other = s.scalar(select(Department.id).where(Department.name == "市港口与口岸局"))
        mid = s.scalar(select(Milestone.id))
    token = signer_of(world.cfg).make(mid, date(2025, 6, 30), other, local("2025-06-23 09:00")).token
    r = http.get(f"{world.base}/r/{token}")
    assert r.status_code == 403 and "无权办理" in r.text


def test_a_members_department_page_lists_the_groups_item_and_takes_its_request(world):
    result_text = world.digests("reminder")[-1].text
    token = re.search(r"https://notifier\.example\.gov\.cn/d/([A-Za-z0-9_-]+)", result_text).group(1)
    page = http.get(f"{world.base}/d/{token}")
    assert page.status_code == 200 and "完成农村公路改造" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    mid = re.search(r'name="milestone_id" value="(\d+)"', page.text).group(1)
    r = http.post(f"{world.base}/d/{token}", data={"csrf": csrf, "milestone_id": mid, "occurrence": "2025-06-30",
                                                   "action": "progress", "percent": "30", "note": "已完成三成"},
                   headers={"Origin": world.base})
    assert r.status_code == 303
    assert history(world)[-1][0] == "progress"
