"""The HTTP helpers the generic webhook and the chat robots share (no network)."""

from __future__ import annotations

import socket

import httpx
import pytest

from notifier.delivery.channels import http_results, robot_common, webhook
from notifier.delivery.channels.http_results import classify_http, parse_retry_after, result_for_exception
from notifier.delivery.message import MAX_RETRY_AFTER_SECONDS, FailedForGood, RetryLater, Sent
from notifier.redaction import Redactor

NOW = 1_000_000.0


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "-5", "1e400", "0x10", "soon"])
def test_a_non_finite_negative_or_non_numeric_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize("value", ["99999999999", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_is_clamped_to_one_day(value: str) -> None:
    assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER_SECONDS == 86400


def test_retry_after_takes_decimal_seconds_and_a_past_date_means_no_wait() -> None:
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW) == 0.0


def test_the_webhook_and_the_robots_use_one_set_of_helpers() -> None:
    assert robot_common.transient_status is http_results.transient_status
    assert webhook.classify_http is http_results.classify_http
    assert webhook.result_for_exception is robot_common.result_for_exception
    for old in ("retry_after", "transport_error"):
        assert not hasattr(webhook, old)


def test_a_retryable_status_with_an_infinite_retry_after_retries_on_the_backoff() -> None:
    response = httpx.Response(503, headers={"Retry-After": "inf"})
    assert classify_http(response, redact=str, now=NOW) == RetryLater("HTTP 503", after_seconds=None)


def test_classify_http_sends_on_2xx_and_refuses_other_4xx_for_good() -> None:
    assert classify_http(httpx.Response(204), redact=str, now=NOW) == Sent("HTTP 204")
    assert classify_http(httpx.Response(410, text="gone"), redact=str, now=NOW) == FailedForGood("HTTP 410: gone")


def test_a_refusal_that_echoes_the_request_is_redacted_before_it_is_cut() -> None:
    token = "urltoken5566778899aabbccdd"
    redact = Redactor([token])
    echo = ("x" * 190 + f" POST /hooks/in?t={token} webhook-signature: "
            "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
    result = classify_http(httpx.Response(400, text=echo), redact=redact, now=NOW)
    assert isinstance(result, FailedForGood)
    assert token[:8] not in result.reason and "K5oZfz" not in result.reason
    assert len(result.reason) <= len("HTTP 400: ") + http_results.SNIPPET_CHARS


def test_a_dns_failure_is_named_and_retried() -> None:
    request = httpx.Request("POST", "http://hooks.nowhere.invalid/")
    exc = httpx.ConnectError("[Errno -2] Name or service not known", request=request)
    exc.__cause__ = socket.gaierror(-2, "Name or service not known")
    result = result_for_exception(exc, redact=str)
    assert isinstance(result, RetryLater) and result.reason.startswith("DNS lookup failed")


def test_an_exception_text_is_redacted_and_an_invalid_url_is_permanent() -> None:
    request = httpx.Request("POST", "http://x")
    result = result_for_exception(httpx.ReadTimeout("read https://x/?key=SECRET123", request=request),
                                  redact=Redactor())
    assert result == RetryLater("timeout (ReadTimeout): read https://x/?key=***")
    assert isinstance(result_for_exception(httpx.InvalidURL("bad"), redact=str), FailedForGood)
