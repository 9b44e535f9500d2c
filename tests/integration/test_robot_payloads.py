"""Each robot's payload for a real rendered reminder, as the platform documents it today
(see each channel's docstring): DingTalk markdown with a title; WeCom markdown_v2 (lists), or
the legacy markdown type without list syntax when it must mention; Feishu card JSON 2.0 whose
markdown does not repeat the header's title. Sent to a real HTTP server on localhost."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest

from notifier.delivery.channels.dingtalk import DingTalkChannel
from notifier.delivery.channels.feishu import FeishuChannel
from notifier.delivery.channels.wecom import WeComChannel
from notifier.delivery.message import Message, Sent

from tests.support import http
from tests.support.servers import HTTPReceiver, Reply
from tests.support.world import make_world, ms, plan, task

TASKS = [task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线")),
         task("2", "智慧港口", "市港口与口岸局", ms(date(2025, 7, 10), "货物申报应用率达到50%"))]


@pytest.fixture
def rendered(tmp_path):
    w = make_world(tmp_path, plan(2025, *TASKS), web=True)
    [q] = w.pass_at("2025-06-23 09:00").queued
    return q.rendered


def post(channel_cls, rendered, **kw) -> dict:  # noqa: ANN003
    server = HTTPReceiver(lambda req: Reply(body=b'{"errcode":0,"code":0,"errmsg":"ok"}'))
    try:
        async def go():
            async with http.AsyncClient() as client:
                ch = channel_cls("r", server.url + "/send?access_token=T", None, client=client, timeout=5, **kw)
                return await ch.send(Message(key="k", recipient="r", subject=rendered.subject, text=rendered.text,
                                             html=rendered.html, markdown=rendered.markdown))
        assert asyncio.run(go()) == Sent()
        [req] = server.requests
        return req.json
    finally:
        server.close()


def lists(markdown: str) -> list[str]:
    return re.findall(r"^\s*(?:\d+\. |[-*+] )", markdown, re.M)


def test_dingtalk_payload_is_markdown_with_the_subject_as_title(rendered):
    body = post(DingTalkChannel, rendered)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == rendered.subject
    assert body["markdown"]["text"] == rendered.markdown


def test_wecom_payload_is_markdown_v2_so_the_numbered_items_render_as_a_list(rendered):
    body = post(WeComChannel, rendered)
    assert body == {"msgtype": "markdown_v2", "markdown_v2": {"content": rendered.markdown}}
    assert lists(rendered.markdown)  # the digest is a numbered list


def test_wecom_payload_with_mentions_is_legacy_markdown_without_list_syntax(rendered):
    body = post(WeComChannel, rendered, at_user_ids=["zhangsan"])
    assert body["msgtype"] == "markdown" and set(body) == {"msgtype", "markdown"}
    content = body["markdown"]["content"]
    assert lists(content) == [] and "1、" in content and content.endswith("<@zhangsan>")


def test_feishu_payload_is_card_json_2_without_the_title_repeated(rendered):
    body = post(FeishuChannel, rendered)
    card = body["card"]
    assert body["msg_type"] == "interactive" and set(card) == {"schema", "header", "body"}
    assert card["schema"] == "2.0"
    assert card["header"]["title"] == {"tag": "plain_text", "content": rendered.subject}
    [element] = card["body"]["elements"]
    assert element["tag"] == "markdown"
    heading = rendered.markdown.lstrip().splitlines()[0]
    assert heading.startswith("#") and heading not in element["content"]
    assert rendered.markdown.split(heading, 1)[1].strip() == element["content"].strip()


def test_a_long_wecom_digest_with_mentions_stays_within_4096_bytes_per_part():
    digest = "".join(f"{i}. 第{i}项：请于6月底前报送进展。\n" for i in range(1, 400))
    server = HTTPReceiver(lambda req: Reply(body=b'{"errcode":0,"errmsg":"ok"}'))
    try:
        async def go():
            async with http.AsyncClient() as client:
                ch = WeComChannel("r", server.url + "/send?key=K", None, client=client, timeout=5,
                                  at_user_ids=["zhangsan"])
                ch.pacer.max_per_minute = 1000  # this test is about sizes, not pacing
                return await ch.send(Message(key="k", recipient="r", subject="s", text=digest, html="",
                                             markdown=digest))
        assert isinstance(asyncio.run(go()), Sent)
        contents = [r.json["markdown"]["content"] for r in server.requests]
        assert len(contents) > 1
        assert all(len(c.encode()) <= 4096 for c in contents) and not any(lists(c) for c in contents)
    finally:
        server.close()
