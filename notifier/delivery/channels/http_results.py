"""HTTP answers and httpx errors as ``Sent`` / ``RetryLater`` / ``FailedForGood``: the one set
of helpers the generic webhook and the chat robots share.

- 408, 425, 429 and 5xx are transient, honouring ``Retry-After`` (``parse_retry_after``:
  delta-seconds or an HTTP date, never infinite, at most ``MAX_RETRY_AFTER_SECONDS``);
- any other non-2xx is permanent; its reason quotes the start of the body, redacted, because
  a receiver may echo the request (signature header, a token in the URL) and the reason
  reaches ``deliveries.last_error``, ``contacts.last_error`` and the broken-contact notice;
- timeouts, refused connections and DNS failures are transient; a URL that cannot work
  (unsupported scheme, redirect loop, invalid URL) is permanent;
- ``post_bounded``: one request with a *total* deadline. httpx's ``timeout`` bounds each
  socket operation, so a receiver that trickles one byte every 2 s never trips a 3 s read
  timeout and holds the pass forever. Here connect, write and reading the whole answer end
  within ``timeout`` seconds together, the answer is read (streamed) up to
  ``RESPONSE_CAP_BYTES`` only, and an ``Interrupt`` (SIGTERM) ends every request in flight at
  once as a retry: the row stays claimable, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import re
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timezone

import httpx

from notifier.delivery.message import MAX_RETRY_AFTER_SECONDS, FailedForGood, RetryLater, SendResult, Sent
from notifier.markup import one_line  # a receiver's words never start a log line of their own

Redact = Callable[[str], str]

RETRYABLE_STATUS = frozenset({408, 425, 429})
SNIPPET_CHARS = 200  # of a refusal's body, quoted in its reason
# What we read of an answer. The robots' JSON answers are under 200 bytes; a refusal's
# reason quotes SNIPPET_CHARS. Beyond this the answer is cut (and the connection dropped):
# a 300 MB answer costs 64 KB of memory, not 300 MB.
RESPONSE_CAP_BYTES = 64 * 1024
DEFAULT_TIMEOUT_SECONDS = 10.0  # a channel built without a timeout
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
    """The start of the body, redacted, on one line. Redacted before it is cut, so a secret
    that straddles the cut is still masked whole rather than half shown."""
    return one_line(redact(response.text[: SNIPPET_CHARS * 5]))[:SNIPPET_CHARS]


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


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange (connect, write, read the answer) took longer than its timeout."""


class Interrupted(httpx.TransportError):
    """The process is stopping (SIGTERM): the request was abandoned, to be retried."""


class Interrupt:
    """"Stop every request in flight now", settable once from any thread (a signal handler,
    the daemon's main thread); the requests run in event loops elsewhere. Every
    ``post_bounded`` given this interrupt ends at once with ``Interrupted``, and so does every
    later one."""

    def __init__(self) -> None:
        self._set = threading.Event()
        self._lock = threading.Lock()
        self._watchers: dict[int, tuple[weakref.ref[asyncio.AbstractEventLoop], Callable[[], None]]] = {}
        self._next = 0

    def set(self) -> None:
        self._set.set()
        with self._lock:
            watchers = list(self._watchers.values())
        for loop_ref, callback in watchers:
            loop = loop_ref()
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing left to stop
                    loop.call_soon_threadsafe(callback)

    def is_set(self) -> bool:
        return self._set.is_set()

    @contextmanager
    def watching(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call ``callback`` in the running loop when (or if already) set, while inside."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._next += 1
            token = self._next
            self._watchers[token] = (weakref.ref(loop), callback)
        try:
            if self.is_set():
                callback()
            yield
        finally:
            with self._lock:
                self._watchers.pop(token, None)


_DROPPED_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


async def post_bounded(client: httpx.AsyncClient, url: str, *, content: bytes, headers: dict[str, str],
                       timeout: float | None, interrupt: Interrupt | None = None,
                       cap: int = RESPONSE_CAP_BYTES) -> httpx.Response:
    """POST ``content`` and read the answer, all within ``timeout`` seconds.

    Returns the answer with at most ``cap`` bytes of body (already read). Raises
    ``DeadlineExceeded`` (a ``httpx.TimeoutException``) when the exchange takes longer,
    ``Interrupted`` when ``interrupt`` is set, or what httpx raises. We ask for an uncompressed
    answer, and read raw bytes, so a small compressed answer cannot expand past the cap.
    """
    seconds = _client_seconds(client) if timeout is None else timeout
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(seconds) as deadline:

            def now() -> None:  # called in this loop when the interrupt is set
                with contextlib.suppress(RuntimeError):  # already expiring or left: nothing to cut short
                    deadline.reschedule(loop.time())

            with interrupt.watching(now) if interrupt is not None else nullcontext():
                return await _exchange(client, url, content, {**headers, "accept-encoding": "identity"},
                                       seconds, cap)
    except TimeoutError:
        if interrupt is not None and interrupt.is_set():
            raise Interrupted("stopping: request abandoned, to be retried") from None
        raise DeadlineExceeded(f"no complete answer within {seconds:g} s") from None


def _client_seconds(client: httpx.AsyncClient) -> float:
    """The total deadline of a channel built without its own timeout: the longest of the
    client's per-operation timeouts, or ``DEFAULT_TIMEOUT_SECONDS``."""
    t = client.timeout
    values = [v for v in (t.connect, t.read, t.write, t.pool) if v is not None]
    return max(values) if values else DEFAULT_TIMEOUT_SECONDS


async def _exchange(client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str],
                    seconds: float, cap: int) -> httpx.Response:
    async with client.stream("POST", url, content=content, headers=headers, timeout=seconds) as response:
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk[: cap - len(body)]
            if len(body) >= cap:
                break  # leaving the block closes the connection: the rest is never read
        kept = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROPPED_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=bytes(body), request=response.request)


def result_for_exception(exc: Exception, *, redact: Redact) -> SendResult:
    """Timeouts, refused connections and DNS failures are transient; a URL that cannot work
    (bad scheme, redirect loop, invalid URL) is permanent. The text is redacted: an
    exception may quote the URL, and robot URLs carry their token."""
    name = type(exc).__name__
    text = one_line(str(exc))
    detail = f": {redact(text)}" if text else ""
    if isinstance(exc, Interrupted):
        return RetryLater(reason=f"interrupted ({text})", contact_fault=False)
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
