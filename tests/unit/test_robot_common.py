"""Pure tests of the pieces the chat-robot channels share (no network)."""

from __future__ import annotations

import re

import httpx
import pytest

from notifier.delivery.channels.robot_common import (
    ErrorCodes,
    AcceptedParts,
    RatePacer,
    classify_response,
    json_len,
    split_markdown,
    utf8_len,
)
from notifier.delivery.channels.http_results import parse_retry_after, result_for_exception
from notifier.delivery.message import FailedForGood, RetryLater, Sent
from notifier.redaction import Redactor, public_url, url_secrets

HEADER = re.compile(r"^（(\d+)/(\d+)）\n")


def strip_headers(parts: list[str]) -> str:
    return "".join(HEADER.sub("", p, count=1) for p in parts)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- splitting -------------------------------------------------------------------------


def test_text_within_the_limit_is_one_part_without_header():
    assert split_markdown("# 提醒\n内容", 4096) == ["# 提醒\n内容"]


def test_long_text_is_split_at_line_boundaries_with_numbered_headers():
    lines = [f"- 第{i}项：请于本月底前报送材料\n" for i in range(200)]
    text = "".join(lines)
    parts = split_markdown(text, 1000)
    assert len(parts) > 1
    for i, part in enumerate(parts, 1):
        assert part.startswith(f"（{i}/{len(parts)}）\n")
        assert utf8_len(part) <= 1000
        body = HEADER.sub("", part, count=1)
        assert body.endswith("\n")  # every cut falls between lines
    assert strip_headers(parts) == text  # nothing lost, nothing reordered


def test_a_single_line_longer_than_a_part_is_cut_between_characters_not_dropped():
    text = "长" * 3000  # 9000 bytes, no newline at all
    parts = split_markdown(text, 1000)
    assert all(utf8_len(p) <= 1000 for p in parts)
    assert strip_headers(parts) == text


def test_header_width_grows_when_the_part_count_reaches_two_digits():
    text = "".join(f"line {i:03d}\n" for i in range(300))
    parts = split_markdown(text, 60)
    assert len(parts) >= 10
    assert parts[-1].startswith(f"（{len(parts)}/{len(parts)}）\n")
    assert all(utf8_len(p) <= 60 for p in parts)
    assert strip_headers(parts) == text


def test_split_can_measure_json_escaped_size():
    text = 'a"\n' * 2000  # each line is 3 bytes raw but 5 bytes inside a JSON string
    parts = split_markdown(text, 1000, size=json_len)
    assert all(json_len(p) <= 1000 for p in parts)
    assert strip_headers(parts) == text


def test_a_limit_too_small_for_header_and_text_is_refused():
    with pytest.raises(ValueError):
        split_markdown("x" * 100, 12)


# --- pacing ----------------------------------------------------------------------------


def test_pacer_allows_up_to_the_rate_then_says_how_long_to_wait():
    clock = FakeClock()
    pacer = RatePacer(3, clock=clock)
    for _ in range(3):
        assert pacer.delay_needed() == 0.0
        pacer.record()
        clock.now += 1.0
    # sends at 1000, 1001, 1002; now 1003: the first slot frees at 1060
    assert pacer.delay_needed() == pytest.approx(57.0)
    clock.now = 1060.0
    assert pacer.delay_needed() == 0.0


def test_pacer_per_second_limit_applies_alongside_the_minute_limit():
    clock = FakeClock()
    pacer = RatePacer(100, clock=clock, max_per_second=5)
    for _ in range(5):
        pacer.record()
        clock.now += 0.1
    assert pacer.delay_needed() == pytest.approx(0.5)
    clock.now += 0.5
    assert pacer.delay_needed() == 0.0


def test_pacer_block_for_holds_every_send_until_it_ends():
    clock = FakeClock()
    pacer = RatePacer(20, clock=clock)
    pacer.block_for(600)
    assert pacer.delay_needed() == pytest.approx(600.0)
    clock.now += 600
    assert pacer.delay_needed() == 0.0


# --- secrets ---------------------------------------------------------------------------


def test_public_url_drops_the_query_and_optionally_the_hook_id():
    assert (
        public_url("https://oapi.dingtalk.com/robot/send?access_token=TOKEN123")
        == "https://oapi.dingtalk.com/robot/send"
    )
    assert (
        public_url("https://open.feishu.cn/open-apis/bot/v2/hook/abcd-ef", hide_last_segment=True)
        == "https://open.feishu.cn/open-apis/bot/v2/hook/***"
    )


def test_redactor_hides_every_credential_part_of_a_url_and_the_secret():
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY-1234"
    redact = Redactor([*url_secrets(url), "SECRET-XYZ"])
    out = redact(f"failed {url} with KEY-1234 and SECRET-XYZ")
    assert "KEY-1234" not in out and "SECRET-XYZ" not in out


# --- classifying answers ---------------------------------------------------------------

CODES = ErrorCodes("errcode", "errmsg", retry=frozenset({-1, 130101}), retry_after={130101: 600.0})


def answer(status: int, body: object = None, headers: dict | None = None, text: str | None = None):
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def classify(response: httpx.Response):
    return classify_response(response, CODES, redact=lambda s: s, now=1_000_000.0)


def test_code_zero_on_http_200_is_sent():
    assert classify(answer(200, {"errcode": 0, "errmsg": "ok"}))[0] == Sent()


def test_transient_code_on_http_200_is_retry_with_documented_wait():
    result, code = classify(answer(200, {"errcode": 130101, "errmsg": "send too fast"}))
    assert result == RetryLater(reason="errcode 130101: send too fast", after_seconds=600.0)
    assert code == 130101


def test_unknown_nonzero_code_is_permanent_with_the_platform_message():
    result, _ = classify(answer(200, {"errcode": 310000, "errmsg": "keywords not in content"}))
    assert result == FailedForGood(reason="errcode 310000: keywords not in content")


def test_a_message_that_reads_like_a_rate_limit_is_retried_whatever_its_code():
    result, _ = classify(answer(200, {"errcode": 9499, "errmsg": "frequency limited psm[x]"}))
    assert isinstance(result, RetryLater)


def test_http_429_honours_retry_after_seconds():
    result, _ = classify(answer(429, {}, headers={"Retry-After": "30"}))
    assert result == RetryLater(reason="HTTP 429", after_seconds=30.0)


def test_http_503_honours_retry_after_as_http_date():
    result, _ = classify(answer(503, text="busy", headers={"Retry-After": "Mon, 12 Jan 1970 13:47:20 GMT"}))
    # 12 Jan 1970 13:47:20 UTC is Unix time 1_000_040
    assert result == RetryLater(reason="HTTP 503", after_seconds=pytest.approx(40.0))


def test_other_4xx_is_permanent():
    result, _ = classify(answer(404, text="not found"))
    assert isinstance(result, FailedForGood) and "404" in result.reason


def test_http_200_without_a_code_is_retried_not_taken_as_sent():
    assert isinstance(classify(answer(200, text="<html>proxy</html>"))[0], RetryLater)


def test_retry_after_parsing():
    assert parse_retry_after("120", 0) == 120.0
    assert parse_retry_after("garbage", 0) is None
    assert parse_retry_after(None, 0) is None


def test_exceptions_map_to_retry_or_permanent():
    request = httpx.Request("POST", "http://x")
    assert isinstance(result_for_exception(httpx.ReadTimeout("t", request=request), redact=str), RetryLater)
    assert isinstance(result_for_exception(httpx.ConnectError("refused", request=request), redact=str), RetryLater)
    assert isinstance(result_for_exception(httpx.UnsupportedProtocol("ftp"), redact=str), FailedForGood)


# --- accepted parts ------------------------------------------------------------------


def test_accepted_parts_resume_only_for_the_same_parts():
    accepted = AcceptedParts()
    parts = ["a", "b", "c"]
    accepted.mark("k", parts, 2)
    assert accepted.done("k", parts) == 2
    assert accepted.done("k", ["a", "B", "c"]) == 0  # text changed: start again
    accepted.forget("k")
    assert accepted.done("k", parts) == 0


def test_accepted_parts_forget_the_oldest_beyond_capacity():
    accepted = AcceptedParts(capacity=2)
    for key in ("a", "b", "c"):
        accepted.mark(key, ["x", "y"], 1)
    assert accepted.done("a", ["x", "y"]) == 0
    assert accepted.done("c", ["x", "y"]) == 1


def test_a_robots_huge_or_infinite_retry_after_is_clamped_or_ignored():
    assert classify(answer(429, {}, headers={"Retry-After": "99999999999"}))[0].after_seconds == 86400
    assert classify(answer(429, {}, headers={"Retry-After": "inf"}))[0].after_seconds is None
