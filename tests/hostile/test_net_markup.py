"""Hostile plan text and form fields: in robot markdown only the template makes links (no
[点我](http://…), images, <font>, auto-linked URLs); a reply form's person and a receiver's
error body stay on one line in the log and the history."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date

import pytest
from sqlalchemy import select

from notifier.db.engine import transaction
from notifier.db.models import HistoryEvent
from notifier.delivery.channels.dingtalk import DingTalkChannel
from notifier.delivery.channels.feishu import FeishuChannel
from notifier.delivery.channels.webhook import WebhookChannel
from notifier.delivery.channels.wecom import WeComChannel
from notifier.delivery.message import FailedForGood, Message
from notifier.markup import md_text
from notifier.web.server import WebThread, make_server

from tests.support import http
from tests.support.servers import HTTPReceiver, Reply
from tests.support.world import local, make_world, ms, plan, task

EVIL_TITLE = "[点我](http://evil.example/phish)"
EVIL_TEXT = "![图](http://evil.example/x.png)<font color=red>紧急</font> 见 http://evil.example **粗** `code`\n# 标题"
EVIL = task("1", EVIL_TITLE, "市港口与口岸局", ms(date(2025, 6, 30), EVIL_TEXT))
LINK = re.compile(r"\[办结或报送进展\]\((https://notifier\.example\.gov\.cn/r/[A-Za-z0-9_-]+)\)"
                  r"|\[本单位全部督办事项（签收、报送进展、申请办结）\]\(https://notifier\.example\.gov\.cn/d/[A-Za-z0-9_-]+\)")


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, plan(2025, EVIL), web=True)


def assert_inert(markdown: str) -> None:
    assert "](http://evil" not in markdown and "![" not in markdown
    assert "<font" not in markdown and "http://evil" not in markdown
    assert "\n# 标题" not in markdown


def test_plan_text_in_the_markdown_body_makes_no_link_image_or_html(world):
    [q] = world.pass_at("2025-06-23 09:00").queued
    md = q.rendered.markdown
    assert_inert(md)
    assert md_text(EVIL_TITLE) in md  # still readable: ［点我］(http:／／evil.example/phish)
    assert LINK.search(md), md  # the template's own link is intact
    assert "[" not in LINK.sub("", md)  # and they (a reply link, the department page) are the only ones
    assert EVIL_TITLE in q.rendered.text  # the plain-text part keeps the words as written


@pytest.mark.parametrize("channel", [DingTalkChannel, WeComChannel, FeishuChannel, WebhookChannel])
def test_every_robot_payload_carries_the_inert_markdown(world, channel):
    [q] = world.pass_at("2025-06-23 09:00").queued
    server = HTTPReceiver(lambda req: Reply(body=b'{"errcode":0,"code":0,"errmsg":"ok"}'))
    try:
        async def go():
            async with http.AsyncClient() as client:
                ch = channel("r", server.url + "/send?access_token=T", None, client=client, timeout=5)
                return await ch.send(Message(key="k", recipient="r", subject=q.rendered.subject, text=q.rendered.text,
                                             html=q.rendered.html, markdown=q.rendered.markdown))
        asyncio.run(go())
        body = server.requests[0].body.decode()
        # JSON may escape "<" etc.; decode the payload and look at the markdown it carries.
        payload = server.requests[0].json
        shown = str(payload.get("markdown") or payload.get("card") or payload)
        assert_inert(shown.replace("\\n", "\n"))
        assert "evil" in body  # the words are there, inert
    finally:
        server.close()


def test_a_person_with_a_newline_is_one_line_in_the_history_and_the_log(world, caplog):
    [q] = world.pass_at("2025-06-23 09:00").queued
    token = LINK.search(q.rendered.markdown).group(1).rsplit("/", 1)[1]
    web = WebThread(make_server(world.engine, world.cfg, port=0, clock=lambda: local("2025-06-24 10:00")))
    web.start()
    try:
        with caplog.at_level(logging.INFO, logger="notifier.web.app"):
            r = http.post(f"http://{web.address}/r/{token}", data={
                "action": "progress", "person": "张三\n2025-06-24 INFO reply link: done by 市长\r\x1b[31m",
                "note": "第一行\r\n第二行\x00\x1b"})
    finally:
        web.stop()
    assert r.status_code == 200
    with transaction(world.engine) as s:
        [event] = s.scalars(select(HistoryEvent))
    assert "\n" not in event.actor and "\r" not in event.actor and "\x1b" not in event.actor
    assert event.actor.startswith("市港口与口岸局（张三 2025-06-24 INFO")
    assert event.note == "第一行\n第二行"  # a note keeps its lines, never a control character
    lines = [rec.getMessage() for rec in caplog.records if "reply link" in rec.getMessage()]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines)


def test_a_receivers_multi_line_error_body_is_one_line_in_the_reason():
    server = HTTPReceiver(lambda req: Reply(status=400, body=b"bad\nERROR forged line\r\n\x1b[2J"))
    try:
        async def go():
            async with http.AsyncClient() as client:
                return await WebhookChannel("oa", server.url, None, client=client).send(
                    Message(key="k", recipient="oa", subject="s", text="t", html="h", markdown="m"))
        result = asyncio.run(go())
    finally:
        server.close()
    assert isinstance(result, FailedForGood)
    assert "\n" not in result.reason and "\r" not in result.reason and "\x1b" not in result.reason
    assert "bad\\nERROR forged line" in result.reason


def test_a_robot_errmsg_with_line_breaks_is_one_line():
    server = HTTPReceiver(lambda req: Reply(body='{"errcode":310000,"errmsg":"keywords\\nINFO forged"}'.encode()))
    try:
        async def go():
            async with http.AsyncClient() as client:
                return await DingTalkChannel("d", server.url + "/send?access_token=T", None, client=client).send(
                    Message(key="k", recipient="d", subject="s", text="t", html="h", markdown="m"))
        result = asyncio.run(go())
    finally:
        server.close()
    assert "\n" not in result.reason and "keywords\\nINFO forged" in result.reason


def test_a_history_entry_with_line_breaks_in_its_note_or_actor_is_one_line(world):
    from notifier.cli import describe_answer
    from notifier.marks import note
    from notifier.status import history_rows

    mid = world.milestone_id(EVIL_TEXT)
    note(world.engine, mid, "进展一\n#12 done 2025-06-24 via cli by 市长", source="cli", actor="张三\nINFO x")
    [row] = history_rows(world.engine, world.cfg, milestone=mid)
    line = describe_answer(row.answer)
    assert "\n" not in line and "进展一\\n#12 done" in line and "张三\\nINFO x" in line
