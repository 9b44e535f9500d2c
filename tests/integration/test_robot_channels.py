"""DingTalk, WeCom and Feishu channels against a real HTTP server on 127.0.0.1.

The server records every request (path, query, JSON body) and answers from a script, so
each test pins the exact request a platform documents and how its answer is classified.
Signatures are recomputed here from the documented formulas, not from our helpers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest

from notifier.config import Config, Secret, WebhookConfig
from notifier.delivery.channels.dingtalk import DingTalkChannel
from notifier.delivery.channels.feishu import FeishuChannel
from notifier.delivery.channels.robot_common import RatePacer
from notifier.delivery.channels.wecom import WeComChannel
from notifier.delivery.message import FailedForGood, Message, Paced, RetryLater, Sent
from notifier.delivery.routes import Routes

from tests.support import http

TOKEN = "tok-0123456789abcdef"
SECRET = "SEC-signing-secret-42"
HOOK_ID = "hook-6c1b-4f0e-9d2a"
NOW = 1_700_000_000.123  # wall clock given to the channels

OK = {
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success", "data": {}},
}


# --- the local robot server ------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict -> JSON; str -> text; None -> the platform's success
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


# A receiver slower than a test's 0.2 s timeout: far slower, so that a busy machine running the
# client's timer late still sees the timeout first (0.6 s left 0.4 s of slack).
SLOW = 3.0


@dataclass
class Seen:
    path: str
    raw_query: str
    query: dict
    body: dict


class RobotServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.script: list[Reply] = []
        self.success: object = {"errcode": 0, "errmsg": "ok"}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                server.requests.append(
                    Seen(parts.path, parts.query, parse_qs(parts.query), json.loads(raw))
                )
                reply = server.script.pop(0) if server.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                body = server.success if reply.body is None else reply.body
                data = (json.dumps(body) if not isinstance(body, str) else body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = RobotServer()
    yield srv
    srv.close()


# --- helpers ---------------------------------------------------------------------------


def url_for(kind: str, base: str) -> str:
    return {
        "dingtalk": f"{base}/robot/send?access_token={TOKEN}",
        "wecom": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
        "feishu": f"{base}/open-apis/bot/v2/hook/{HOOK_ID}",
    }[kind]


CLASSES = {"dingtalk": DingTalkChannel, "wecom": WeComChannel, "feishu": FeishuChannel}


def make(kind: str, url: str, client: httpx.AsyncClient, *, secret: str | None = SECRET, **kw):
    return CLASSES[kind](f"{kind}-robot", url, secret, client=client, clock=lambda: NOW, **kw)


def message(markdown: str = "## 截止提醒\n- 本周五前报送材料", key: str = "msg-1") -> Message:
    return Message(
        key=key, recipient="robot", subject="工作提醒", text="plain", html="<p>x</p>",
        markdown=markdown,
    )


def send(kind: str, url: str, msg: Message, *, timeout: float = 2.0, channel_timeout: float | None = None, **kw):
    async def go():
        async with http.AsyncClient(timeout=timeout) as client:
            channel = make(kind, url, client, timeout=channel_timeout, **kw)
            return await channel.send(msg), channel

    return asyncio.run(go())


def send_many(channel_kw: dict, kind: str, url: str, msgs: list[Message]):
    """Several sends through one channel instance (progress and pacer persist)."""

    async def go():
        async with http.AsyncClient(timeout=2.0) as client:
            channel = make(kind, url, client, **channel_kw)
            return [await channel.send(m) for m in msgs], channel

    return asyncio.run(go())


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, SECRET, HOOK_ID):
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- DingTalk --------------------------------------------------------------------------


def test_dingtalk_posts_documented_markdown_body_with_mentions_in_at_and_text(server):
    result, _ = send(
        "dingtalk", url_for("dingtalk", server.base), message(), secret=None,
        at_mobiles=["13800001111"], at_user_ids=["user123"],
    )
    assert result == Sent()
    (req,) = server.requests
    assert req.path == "/robot/send"
    assert req.query == {"access_token": [TOKEN]}  # no secret: no timestamp/sign
    assert req.body == {
        "msgtype": "markdown",
        "markdown": {
            "title": "工作提醒",
            "text": "## 截止提醒\n- 本周五前报送材料\n\n@13800001111 @user123",
        },
        "at": {"atMobiles": ["13800001111"], "atUserIds": ["user123"], "isAtAll": False},
    }


def test_dingtalk_signs_url_with_ms_timestamp_and_urlencoded_hmac_of_secret(server):
    result, _ = send("dingtalk", url_for("dingtalk", server.base), message())
    assert result == Sent()
    (req,) = server.requests
    timestamp = req.query["timestamp"][0]
    assert timestamp == str(round(NOW * 1000))
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.query["sign"] == [expected]
    assert req.query["access_token"] == [TOKEN]
    # the sign is URL-encoded exactly once on the wire
    assert req.raw_query.endswith(f"&timestamp={timestamp}&sign={quote_plus(expected)}")


@pytest.mark.parametrize(
    ("errcode", "errmsg", "kind_of_result", "after"),
    [
        (130101, "send too fast, exceed 20 times per minute", RetryLater, 600.0),
        (410100, "发送速度太快而限流", RetryLater, 600.0),
        (-1, "系统繁忙", RetryLater, None),
        (310000, "keywords not in content", FailedForGood, None),
        (310000, "sign not match", FailedForGood, None),
        (300001, "token is not exist", FailedForGood, None),
        (400013, "群已被解散", FailedForGood, None),
    ],
)
def test_dingtalk_errcode_in_http_200_maps_to_retry_or_permanent(
    server, errcode, errmsg, kind_of_result, after
):
    server.script = [Reply(body={"errcode": errcode, "errmsg": errmsg})]
    result, channel = send("dingtalk", url_for("dingtalk", server.base), message())
    assert type(result) is kind_of_result
    assert errmsg in result.reason  # the platform's own words reach the admin
    if kind_of_result is RetryLater:
        assert result.after_seconds == after
    assert_no_secret(result.reason, repr(channel))


def test_dingtalk_throttle_answer_holds_the_robot_so_the_next_send_is_paced(server):
    server.script = [Reply(body={"errcode": 130101, "errmsg": "send too fast"})]
    results, _ = send_many({}, "dingtalk", url_for("dingtalk", server.base),
                           [message(key="a"), message(key="b")])
    assert isinstance(results[0], RetryLater)
    assert isinstance(results[1], Paced) and results[1].after_seconds > 590
    assert len(server.requests) == 1


# --- WeCom -----------------------------------------------------------------------------


def test_wecom_posts_markdown_content_with_userid_mentions_and_key_only_in_url(server):
    server.success = OK["wecom"]
    result, _ = send(
        "wecom", url_for("wecom", server.base), message(), secret=None,
        at_user_ids=["zhangsan", "lisi"], at_mobiles=["13800001111"],
    )
    assert result == Sent()
    (req,) = server.requests
    assert req.path == "/cgi-bin/webhook/send"
    assert req.query == {"key": [TOKEN]}
    # Mentions exist only in the legacy type, which has no lists: the bullet is plain text.
    assert req.body == {
        "msgtype": "markdown",
        "markdown": {"content": "## 截止提醒\n・本周五前报送材料\n<@zhangsan><@lisi>"},
    }


def test_wecom_without_mentions_posts_markdown_v2_which_renders_lists(server):
    server.success = OK["wecom"]
    result, _ = send("wecom", url_for("wecom", server.base), message(), secret=None)
    assert result == Sent()
    assert server.requests[0].body == {
        "msgtype": "markdown_v2",
        "markdown_v2": {"content": "## 截止提醒\n- 本周五前报送材料"},
    }


@pytest.mark.parametrize(
    ("errcode", "errmsg", "kind_of_result"),
    [
        (45009, "api freq out of limit", RetryLater),
        (-1, "system busy", RetryLater),
        (93000, f"invalid webhook url, hint: [1], more info at https://x/?key={TOKEN}", FailedForGood),
        (40008, "invalid message type", FailedForGood),
    ],
)
def test_wecom_errcode_maps_to_retry_or_permanent_without_leaking_the_key(
    server, errcode, errmsg, kind_of_result
):
    server.script = [Reply(body={"errcode": errcode, "errmsg": errmsg})]
    result, channel = send("wecom", url_for("wecom", server.base), message(), secret=None)
    assert type(result) is kind_of_result
    assert str(errcode) in result.reason
    assert_no_secret(result.reason, repr(channel))


# --- Feishu ----------------------------------------------------------------------------


def test_feishu_posts_signed_interactive_markdown_card_with_at_mentions(server):
    server.success = OK["feishu"]
    result, _ = send(
        "feishu", url_for("feishu", server.base), message(), at_user_ids=["ou_abc123"]
    )
    assert result == Sent()
    (req,) = server.requests
    assert req.path == f"/open-apis/bot/v2/hook/{HOOK_ID}"
    assert req.raw_query == ""
    timestamp = req.body["timestamp"]
    assert timestamp == str(int(NOW))
    expected_sign = base64.b64encode(
        hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    assert req.body == {
        "timestamp": timestamp,
        "sign": expected_sign,
        "msg_type": "interactive",
        # Card JSON 2.0 (headings render only there); the opening heading is not repeated
        # under the header.
        "card": {
            "schema": "2.0",
            "header": {"title": {"tag": "plain_text", "content": "工作提醒"}},
            "body": {"elements": [
                {"tag": "markdown", "content": "- 本周五前报送材料\n<at id=ou_abc123></at>"}
            ]},
        },
    }


def test_feishu_without_secret_sends_no_timestamp_or_sign(server):
    server.success = OK["feishu"]
    result, _ = send("feishu", url_for("feishu", server.base), message(), secret=None)
    assert result == Sent()
    assert "sign" not in server.requests[0].body and "timestamp" not in server.requests[0].body


@pytest.mark.parametrize(
    ("code", "msg", "kind_of_result"),
    [
        (11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]", RetryLater),
        (9499, "frequency limited psm[x]", RetryLater),
        (9499, "Bad Request", FailedForGood),
        (19021, "sign match fail or timestamp is not within one hour from current time", FailedForGood),
        (19022, "Ip Not Allowed", FailedForGood),
        (19024, "Key Words Not Found", FailedForGood),
    ],
)
def test_feishu_code_maps_to_retry_or_permanent(server, code, msg, kind_of_result):
    server.script = [Reply(body={"code": code, "msg": msg, "data": {}})]
    result, channel = send("feishu", url_for("feishu", server.base), message())
    assert type(result) is kind_of_result
    assert msg in result.reason
    assert_no_secret(result.reason, repr(channel))


def test_feishu_rate_limit_code_on_http_400_is_still_retried(server):
    server.script = [Reply(status=400, body={"code": 11232, "msg": "frequency limited"})]
    result, _ = send("feishu", url_for("feishu", server.base), message())
    assert isinstance(result, RetryLater)


# --- what all three share --------------------------------------------------------------

KINDS = ["dingtalk", "wecom", "feishu"]


@pytest.mark.parametrize("kind", KINDS)
def test_http_429_is_retried_after_the_servers_retry_after(server, kind):
    server.script = [Reply(status=429, body={}, headers={"Retry-After": "42"})]
    result, _ = send(kind, url_for(kind, server.base), message())
    assert isinstance(result, RetryLater) and result.after_seconds == 42.0
    assert "429" in result.reason


@pytest.mark.parametrize("kind", KINDS)
def test_http_500_is_retried(server, kind):
    server.script = [Reply(status=500, body="oops")]
    result, channel = send(kind, url_for(kind, server.base), message())
    assert isinstance(result, RetryLater) and "500" in result.reason
    assert_no_secret(result.reason, repr(channel))


@pytest.mark.parametrize("kind", KINDS)
def test_other_4xx_is_permanent(server, kind):
    server.script = [Reply(status=404, body="no such robot")]
    result, _ = send(kind, url_for(kind, server.base), message())
    assert isinstance(result, FailedForGood) and "404" in result.reason


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_slower_than_the_client_timeout_is_retried(server, kind):
    server.script = [Reply(delay=SLOW)]
    result, channel = send(kind, url_for(kind, server.base), message(), timeout=0.2)
    assert isinstance(result, RetryLater) and "timeout" in result.reason
    assert_no_secret(result.reason, repr(channel))


@pytest.mark.parametrize("kind", KINDS)
def test_the_channel_timeout_overrides_the_shared_clients(server, kind):
    server.script = [Reply(delay=SLOW)]
    result, _ = send(kind, url_for(kind, server.base), message(), timeout=5.0, channel_timeout=0.2)
    assert isinstance(result, RetryLater) and "timeout" in result.reason


@pytest.mark.parametrize("kind", KINDS)
def test_routes_pass_the_webhooks_timeout_to_a_robot(server, kind):
    """[webhooks.NAME] timeout used to be ignored for robots (httpx's 5 s default applied)."""
    hook = WebhookConfig(name="r", url=Secret(url_for(kind, server.base)), kind=kind, timeout=0.2)
    server.script = [Reply(delay=SLOW)]

    async def go():
        routes = Routes(Config(path=None, webhooks={"r": hook}))
        try:
            channel = routes("webhook", "r")
            started = time.monotonic()
            return await channel.send(message()), time.monotonic() - started
        finally:
            await routes.aclose()

    result, took = asyncio.run(go())
    assert isinstance(result, RetryLater) and "timeout" in result.reason
    assert took < SLOW / 2  # the robot's 0.2 s, not httpx's 5 s default (that would have waited for the answer)


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retried(kind):
    result, channel = send(kind, url_for(kind, f"http://127.0.0.1:{closed_port()}"), message())
    assert isinstance(result, RetryLater) and "connection failed" in result.reason
    assert_no_secret(result.reason, repr(channel))


@pytest.mark.parametrize("kind", KINDS)
def test_dns_failure_is_retried(kind):
    result, channel = send(kind, url_for(kind, "http://robot.invalid"), message())
    assert isinstance(result, RetryLater)
    assert_no_secret(result.reason, repr(channel))


# --- long digests ----------------------------------------------------------------------

HEADER = re.compile(r"^（(\d+)/(\d+)）\n")
# ~42 KB: 3 DingTalk or Feishu parts, 11 WeCom parts (under WeCom's 20/minute)
DIGEST = "".join(f"- 第{i}项：市发改委牵头，请于2025年6月底前报送进展。\n" for i in range(600))


def sent_text(kind: str, body: dict) -> str:
    if kind == "dingtalk":
        return body["markdown"]["text"]
    if kind == "wecom":
        return (body.get("markdown_v2") or body["markdown"])["content"]
    return body["card"]["body"]["elements"][0]["content"]


@pytest.mark.parametrize("kind", KINDS)
def test_long_digest_is_sent_as_numbered_parts_in_order_within_the_platform_limit(server, kind):
    server.success = OK[kind]
    result, _ = send(kind, url_for(kind, server.base), message(DIGEST), secret=None)
    assert isinstance(result, Sent)
    total = len(server.requests)
    assert total > 1 and result.detail == f"{total} parts"
    texts = [sent_text(kind, r.body) for r in server.requests]
    for i, text in enumerate(texts, 1):
        assert HEADER.match(text).groups() == (str(i), str(total))
    assert "".join(HEADER.sub("", t, count=1) for t in texts) == DIGEST
    if kind == "wecom":
        assert all(len(t.encode()) <= 4096 for t in texts)
    if kind == "dingtalk":
        assert all(len(t.encode()) <= 20000 for t in texts)
        assert server.requests[0].body["markdown"]["title"] == f"工作提醒（1/{total}）"
    if kind == "feishu":
        sizes = [len(json.dumps(r.body, ensure_ascii=False, separators=(",", ":")).encode())
                 for r in server.requests]
        assert max(sizes) <= 20000


def test_failure_after_some_parts_resumes_without_resending_accepted_parts(server):
    server.success = OK["wecom"]
    digest = DIGEST[:12000]  # three or more WeCom parts
    server.script = [Reply(), Reply(status=500, body="busy")]
    results, _ = send_many({"secret": None}, "wecom", url_for("wecom", server.base),
                           [message(digest), message(digest)])
    first, second = results
    assert isinstance(first, RetryLater) and "part 2/" in first.reason
    assert isinstance(second, Sent)
    texts = [sent_text("wecom", r.body) for r in server.requests]
    numbers = [int(HEADER.match(t).group(1)) for t in texts]
    total = int(HEADER.match(texts[0]).group(2))
    # part 1 accepted once; part 2 refused then sent again; then the rest, in order
    assert numbers == [1, 2, *range(2, total + 1)]


def test_a_digest_longer_than_the_window_is_paced_mid_way_and_resumes_where_it_stopped(server):
    server.success = OK["wecom"]
    digest = DIGEST * 2  # about 22 WeCom parts, more than 20 per minute
    clock = FakeClock()

    async def go():
        async with http.AsyncClient(timeout=2.0) as client:
            channel = make("wecom", url_for("wecom", server.base), client, secret=None)
            channel.pacer = RatePacer(20, clock=clock)
            first = await channel.send(message(digest))
            clock.now += 60.0
            second = await channel.send(message(digest))
            return first, second

    first, second = asyncio.run(go())
    assert isinstance(first, Paced) and first.after_seconds > 0
    assert isinstance(second, Sent)
    numbers = [int(HEADER.match(sent_text("wecom", r.body)).group(1)) for r in server.requests]
    assert numbers == list(range(1, len(numbers) + 1))  # each part once, in order
    assert len(numbers) > 20


def test_mentions_go_on_the_first_part_only(server):
    server.success = OK["wecom"]
    send("wecom", url_for("wecom", server.base), message(DIGEST[:9000]), secret=None,
         at_user_ids=["zhangsan"])
    texts = [sent_text("wecom", r.body) for r in server.requests]
    assert texts[0].endswith("<@zhangsan>")
    assert not any("<@zhangsan>" in t for t in texts[1:])


# --- pacing ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("kind", "per_minute"), [("dingtalk", 20), ("wecom", 20), ("feishu", 100)])
def test_full_window_returns_paced_retry_without_any_request(server, kind, per_minute):
    clock = FakeClock()

    async def go():
        async with http.AsyncClient(timeout=2.0) as client:
            channel = make(kind, url_for(kind, server.base), client)
            assert channel.pacer.max_per_minute == per_minute
            channel.pacer = RatePacer(per_minute, clock=clock)
            for _ in range(per_minute):
                channel.pacer.record()
                clock.now += 0.5  # spread so Feishu's 5/second limit is not what blocks
            return await channel.send(message())

    result = asyncio.run(go())
    assert isinstance(result, Paced) and result.after_seconds > 0
    assert server.requests == []


def test_feishu_five_per_second_limit_paces_the_sixth_send(server):
    server.success = OK["feishu"]
    clock = FakeClock()

    async def go():
        async with http.AsyncClient(timeout=2.0) as client:
            channel = make("feishu", url_for("feishu", server.base), client)
            channel.pacer = RatePacer(100, clock=clock, max_per_second=5)
            return [await channel.send(message(key=f"k{i}")) for i in range(6)]

    results = asyncio.run(go())
    assert all(isinstance(r, Sent) for r in results[:5])
    assert isinstance(results[5], Paced) and 0 < results[5].after_seconds <= 1.0
    assert len(server.requests) == 5
