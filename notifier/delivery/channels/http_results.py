"""HTTP answers and httpx errors as ``Sent`` / ``RetryLater`` / ``FailedForGood``: the one set
of helpers the generic webhook and the chat robots share.

- 408, 425, 429 and 5xx are transient, honouring ``Retry-After`` (``parse_retry_after``:
  delta-seconds or an HTTP date, never infinite, at most ``MAX_RETRY_AFTER_SECONDS``);
- any other non-2xx is permanent; its reason quotes the start of the body, redacted, because
  a receiver may echo the request (signature header, a token in the URL) and the reason
  reaches ``deliveries.last_error``, ``contacts.last_error`` and the broken-contact notice;
- timeouts, refused connections and DNS failures are transient; a URL that cannot work
  (unsupported scheme, redirect loop, invalid URL) is permanent.
"""

from __future__ import annotations

import email.utils
import math
import re
import socket
from collections.abc import Callable
from datetime import timezone

import httpx

from notifier.delivery.message import MAX_RETRY_AFTER_SECONDS, FailedForGood, RetryLater, SendResult, Sent

Redact = Callable[[str], str]

RETRYABLE_STATUS = frozenset({408, 425, 429})
SNIPPET_CHARS = 200  # of a refusal's body, quoted in its reason
_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (RFC 9110; a decimal
    fraction is tolerated) or an HTTP date, ``now`` being Unix time.

    ``None`` for anything else, including "inf", "nan" and "-5"; a date in the past is 0;
    a value beyond ``MAX_RETRY_AFTER_SECONDS`` (however many digits) is clamped to it.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(value)  # may be inf for hundreds of digits: clamped below
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def transient_status(response: httpx.Response, now: float) -> RetryLater | None:
    """``RetryLater`` (with the server's Retry-After) for 408/425/429/5xx, else ``None``."""
    status = response.status_code
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryLater(reason=f"HTTP {status}",
                          after_seconds=parse_retry_after(response.headers.get("retry-after"), now))
    return None


def body_snippet(response: httpx.Response, redact: Redact) -> str:
    """The start of the body, redacted. Redacted before it is cut, so a secret that straddles
    the cut is still masked whole rather than half shown."""
    return redact(response.text[: SNIPPET_CHARS * 5])[:SNIPPET_CHARS]


def refused(response: httpx.Response, redact: Redact) -> FailedForGood:
    return FailedForGood(reason=f"HTTP {response.status_code}: {body_snippet(response, redact)}".strip())


def classify_http(response: httpx.Response, *, redact: Redact, now: float) -> SendResult:
    """A receiver that answers with its status only (the generic webhook): 2xx is sent,
    408/425/429/5xx retry later, any other status is permanent."""
    retry = transient_status(response, now)
    if retry is not None:
        return retry
    if 200 <= response.status_code < 300:
        return Sent(f"HTTP {response.status_code}")
    return refused(response, redact)


# Exceptions a request can raise besides httpx.HTTPError (InvalidURL is not one).
REQUEST_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


def result_for_exception(exc: Exception, *, redact: Redact) -> SendResult:
    """Timeouts, refused connections and DNS failures are transient; a URL that cannot work
    (bad scheme, redirect loop, invalid URL) is permanent. The text is redacted: an
    exception may quote the URL, and robot URLs carry their token."""
    name = type(exc).__name__
    text = str(exc)
    detail = f": {redact(text)}" if text else ""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.TooManyRedirects | httpx.InvalidURL):
        return FailedForGood(reason=f"{name}{detail}")
    if isinstance(exc, httpx.TimeoutException):
        return RetryLater(reason=f"timeout ({name}){detail}")
    if isinstance(exc, httpx.ConnectError):
        if _caused_by(exc, socket.gaierror):
            return RetryLater(reason=f"DNS lookup failed{detail}")
        return RetryLater(reason=f"connection failed{detail}")
    return RetryLater(reason=f"{name}{detail}")


def _caused_by(exc: BaseException, cls: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, cls):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False
