"""Generic webhooks against a real HTTP server on 127.0.0.1: the receiver snippet in
docs/webhooks.md (and the standardwebhooks package) verify our signed requests; faults
(500, 429 + Retry-After, timeout, connection reset, DNS failure) are retried on schedule,
with a pinned clock, and never busy-loop; Routes live across passes."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks
from sqlalchemy import select

from notifier.config import Config, Secret, WebhookConfig
from notifier.db.models import Contact
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.routes import Routes

from tests.support.outbox import queue_rows, rows, statuses
from tests.support.servers import HTTPReceiver, Reply

T0 = datetime(2018, 6, 20, 1, 0)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
POLICY = RetryPolicy(max_attempts=6, base_seconds=60, cap_seconds=3600, jitter=False)
DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"


@pytest.fixture
def receiver(http_server):  # noqa: ANN001, ANN201
    return http_server


def config(url: str, timeout: float = 5.0, **hooks: WebhookConfig) -> Config:
    return Config(path=None, webhooks={"oa": WebhookConfig(name="oa", url=Secret(url), secret=Secret(SECRET),
                                                           timeout=timeout), **hooks})


def passes(engine, cfg: Config, times: list[datetime], policy: RetryPolicy = POLICY) -> list:  # noqa: ANN001
    """Run one dispatcher pass at each pinned time, all in one loop with one Routes."""
    async def go() -> list:
        routes = Routes(cfg)
        d = Dispatcher(engine, routes, policy, rand=lambda: 0.5)
        try:
            return [await d.run_once(t) for t in times]
        finally:
            await routes.aclose()
    return asyncio.run(go())


# --- signatures --------------------------------------------------------------------------


def doc_verify():  # noqa: ANN201
    """The ``verify`` function of the snippet in docs/webhooks.md, executed as written."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Verifying a request", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def test_the_documented_snippet_and_standardwebhooks_verify_a_real_signed_request(receiver, engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("webhook", "oa")])
    passes(engine, config(receiver.url + "/hook"), [T0])
    (req,) = receiver.requests
    verify = doc_verify()
    assert verify(SECRET, req.headers, req.body)
    assert req.headers["webhook-id"] == rows(engine)[0].key == req.json["id"]
    payload = standardwebhooks.Webhook(SECRET).verify(req.body, req.headers)
    assert payload["subject"] == "提醒 d-0"
    # and what must not pass
    assert not verify(SECRET, req.headers, req.body.replace("提醒".encode(), "通知".encode()))
    assert not verify("whsec_" + "A" * 32, req.headers, req.body)
    stale = {**req.headers, "webhook-timestamp": str(int(req.headers["webhook-timestamp"]) - 3600)}
    assert not verify(SECRET, stale, req.body)


# --- faults, with a pinned clock ---------------------------------------------------------


def test_500_is_retried_with_backoff_then_delivered_with_the_same_webhook_id(engine) -> None:  # noqa: ANN001
    answers = [Reply(500), Reply(503), Reply(200)]
    srv = HTTPReceiver(lambda req: answers.pop(0))
    try:
        queue_rows(engine, [("webhook", "oa")])
        counts = passes(engine, config(srv.url), [T0, T0 + timedelta(seconds=59), T0 + timedelta(seconds=60),
                                                  T0 + timedelta(seconds=179), T0 + timedelta(seconds=180)])
        assert [c.total for c in counts] == [1, 0, 1, 0, 1]
        assert len({r.headers["webhook-id"] for r in srv.requests}) == 1
        assert statuses(engine) == {"sent": 1}
    finally:
        srv.close()


def test_429_retry_after_is_honoured(engine) -> None:  # noqa: ANN001
    answers = [Reply(429, {"Retry-After": "900"}), Reply(200)]
    srv = HTTPReceiver(lambda req: answers.pop(0))
    try:
        queue_rows(engine, [("webhook", "oa")])
        times = [T0 + timedelta(seconds=s) for s in (0, 60, 300, 899, 900)]
        counts = passes(engine, config(srv.url), times)
        assert [c.sent for c in counts] == [0, 0, 0, 0, 1]
        assert srv.count() == 2
    finally:
        srv.close()


def test_a_huge_retry_after_is_clamped_to_a_day_and_an_infinite_one_ignored(engine) -> None:  # noqa: ANN001
    """Retry-After 99999999999 once scheduled the next attempt in the year 5193, and "inf"
    raised OverflowError in record(), leaving every outcome of its group unrecorded."""
    after = {"/huge": "99999999999", "/inf": "inf"}
    srv = HTTPReceiver(lambda req: Reply(429, {"Retry-After": after[req.path]}) if req.path in after else Reply(200))
    try:
        cfg = config(srv.url + "/ok", **{n: WebhookConfig(name=n, url=Secret(f"{srv.url}/{n}"), secret=Secret(SECRET))
                                         for n in ("huge", "inf")})
        queue_rows(engine, [("webhook", "oa"), ("webhook", "huge"), ("webhook", "inf")])
        (counts,) = passes(engine, cfg, [T0])
        assert (counts.sent, counts.retry, counts.errors) == (1, 2, [])
        by = {r.recipient: r for r in rows(engine)}
        assert by["oa"].status == "sent"
        assert (by["huge"].status, by["huge"].next_attempt_at) == ("pending", T0 + timedelta(days=1))
        assert (by["inf"].status, by["inf"].next_attempt_at) == ("pending", T0 + timedelta(seconds=60))
    finally:
        srv.close()


def test_a_timeout_and_a_connection_reset_are_retried(engine) -> None:  # noqa: ANN001
    answers = [Reply(200, delay=0.6), Reply(reset=True), Reply(200)]
    srv = HTTPReceiver(lambda req: answers.pop(0))
    try:
        queue_rows(engine, [("webhook", "oa")])
        errors = []
        async def go() -> None:
            routes = Routes(config(srv.url, timeout=0.2))
            d = Dispatcher(engine, routes, POLICY, rand=lambda: 0.5)
            for t in (T0, T0 + timedelta(seconds=60), T0 + timedelta(seconds=180)):
                await d.run_once(t)
                errors.append(rows(engine)[0].last_error)
            await routes.aclose()
        asyncio.run(go())
        # httpx's read timeout and the total deadline (post_bounded) are both 0.2 s: either fires.
        assert errors[0].startswith(("timeout (ReadTimeout)", "timeout (DeadlineExceeded)"))
        assert errors[1].startswith(("RemoteProtocolError", "ReadError"))
        assert statuses(engine) == {"sent": 1}
    finally:
        srv.close()


def test_a_dns_failure_is_retried_and_named(engine, monkeypatch) -> None:  # noqa: ANN001
    """The resolver is the one faked seam: no query may leave this machine."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host == "hooks.nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    queue_rows(engine, [("webhook", "oa")])
    (counts,) = passes(engine, config("http://hooks.nowhere.invalid/hook"), [T0])
    assert counts.retry == 1
    (row,) = rows(engine)
    assert row.status == "pending" and row.last_error.startswith("DNS lookup failed")


def test_a_server_that_always_answers_500_is_not_busy_looped(engine) -> None:  # noqa: ANN001
    """5 reminders, a pass every minute for a day: 5 x max_attempts requests, then failed."""
    srv = HTTPReceiver(lambda req: Reply(500))
    try:
        queue_rows(engine, [("webhook", "oa")], n=5)
        passes(engine, config(srv.url), [T0 + timedelta(minutes=i) for i in range(1440)])
        assert srv.count() == 5 * POLICY.max_attempts
        assert statuses(engine) == {"failed": 5}
    finally:
        srv.close()


def test_a_4xx_is_final_and_marks_the_webhook_broken(receiver, engine) -> None:  # noqa: ANN001
    receiver.policy = lambda req: Reply(410, body=b"gone")
    queue_rows(engine, [("webhook", "oa")])
    (counts,) = passes(engine, config(receiver.url), [T0])
    assert counts.failed == 1 and "HTTP 410" in counts.errors[0]
    with engine.begin() as conn:
        (contact,) = conn.execute(select(Contact)).all()
    assert (contact.recipient, contact.broken) == ("oa", True) and contact.last_error.startswith("HTTP 410")


def test_a_4xx_that_echoes_the_request_is_stored_and_reported_redacted(engine) -> None:  # noqa: ANN001
    """The refusal's text reaches deliveries.last_error, contacts.last_error and the
    broken-contact notice: the signature header and the URL's token are masked."""
    token = "urltoken5566778899aabbccdd"

    def echo(req):  # noqa: ANN001, ANN202
        text = f"bad request POST {req.path} webhook-signature: {req.headers['webhook-signature']}"
        return Reply(400, body=text.encode())

    srv = HTTPReceiver(echo)
    try:
        queue_rows(engine, [("webhook", "oa")])
        (counts,) = passes(engine, config(f"{srv.url}/hooks/in?token={token}"), [T0])
        (req,) = srv.requests
        signature = req.headers["webhook-signature"].removeprefix("v1,")
        (row,) = rows(engine)
        with engine.begin() as conn:
            (contact,) = conn.execute(select(Contact)).all()
        for text in (row.last_error, contact.last_error, *counts.errors):
            assert "HTTP 400: bad request POST /hooks/in?*** webhook-signature: v1,***" in text
            assert token not in text and signature not in text and signature[:12] not in text
    finally:
        srv.close()


# --- Routes across passes ----------------------------------------------------------------


def test_routes_keep_channel_instances_and_connections_across_passes_and_reloads(receiver, engine) -> None:  # noqa: ANN001
    robot = WebhookConfig(name="robot", url=Secret(receiver.url + "/robot/send?access_token=t"), kind="dingtalk")
    cfg = config(receiver.url, robot=robot)

    async def go() -> None:
        routes = Routes(cfg)
        d = Dispatcher(engine, routes, POLICY)
        queue_rows(engine, [("webhook", "oa")], tag="a")
        await d.run_once(T0)
        first = routes("webhook", "oa"), routes("webhook", "robot")
        queue_rows(engine, [("webhook", "oa")], tag="b")
        await d.run_once(T0 + timedelta(minutes=1))
        assert (routes("webhook", "oa"), routes("webhook", "robot")) == first
        # SIGHUP with the robot unchanged and the generic hook's timeout changed
        await routes.reconfigure(config(receiver.url, timeout=3.0, robot=robot))
        assert routes("webhook", "robot") is first[1]  # pacing state kept
        assert routes("webhook", "oa") is not first[0]
        await routes.aclose()

    asyncio.run(go())
    assert statuses(engine) == {"sent": 2}


def test_routes_refuse_a_second_event_loop_with_a_clear_error(receiver) -> None:  # noqa: ANN001
    routes = Routes(config(receiver.url))

    async def use() -> None:
        routes("webhook", "oa")

    asyncio.run(use())
    with pytest.raises(RuntimeError, match="long-lived loop"):
        asyncio.run(use())
