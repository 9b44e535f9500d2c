"""What the chat-robot channels (DingTalk, WeCom, Feishu) share.

- ``split_markdown``: cut a long markdown message into numbered parts at line boundaries,
  each within a platform's byte limit ("（1/3）" header on every part); nothing is dropped.
- ``RatePacer``: a per-robot sliding-window counter. It only *tells* how long to wait; the
  channel answers ``Paced(after_seconds=wait)`` instead of sleeping (the dispatcher owns
  waiting and retrying).
- ``classify_response``: map an HTTP answer to ``Sent`` / ``RetryLater`` / ``FailedForGood``.
  All three platforms answer HTTP 200 with the error in the JSON body, so the body decides
  after the transient statuses; statuses, Retry-After and httpx exceptions are handled by
  the helpers every HTTP channel shares (``http_results``).
- Every reason we return passes through a ``notifier.redaction.Redactor``, so a webhook
  token, key or signing secret never reaches a log line or the database.
- ``AcceptedParts``: remembers how many parts of a split message were accepted, so a retry
  resumes instead of repeating them (in memory only: see its docstring).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from notifier.delivery.channels.http_results import (
    REQUEST_ERRORS,
    Interrupt,
    body_snippet,
    post_bounded,
    refused,
    result_for_exception,
    transient_status,
)
from notifier.delivery.message import FailedForGood, Message, Paced, RetryLater, SendResult, Sent
from notifier.markup import one_line
from notifier.redaction import Redactor, public_url, url_secrets

Clock = Callable[[], float]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Splitting


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def json_len(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string (escapes included, without the quotes)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def part_header(index: int, total: int) -> str:
    return f"（{index}/{total}）\n"


def split_markdown(
    text: str, max_bytes: int, *, size: Callable[[str], int] = utf8_len
) -> list[str]:
    """Split ``text`` into parts whose ``size`` is at most ``max_bytes``.

    Text that fits is returned unchanged as one part. Otherwise each part starts with a
    "（i/n）" line and parts break between lines; a single line longer than a part is cut
    between characters (never inside a UTF-8 sequence). Joining the parts without their
    headers gives back ``text`` exactly: nothing is truncated.
    """
    if size(text) <= max_bytes:
        return [text]
    total_guess = 2
    while True:
        budget = max_bytes - size(part_header(total_guess, total_guess))
        if budget < 8:  # a header alone would not leave room for text
            raise ValueError(f"part limit of {max_bytes} bytes is too small to split into")
        chunks = _pack_lines(text, budget, size)
        if len(str(len(chunks))) <= len(str(total_guess)):
            break
        total_guess = len(chunks)  # more digits than assumed: re-split with a longer header
    total = len(chunks)
    return [part_header(i, total) + chunk for i, chunk in enumerate(chunks, 1)]


def _pack_lines(text: str, budget: int, size: Callable[[str], int]) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        # A line longer than the budget is cut between characters, never dropped.
        pieces.extend([line] if size(line) <= budget else _pack(list(line), budget, size))
    return _pack(pieces, budget, size)


def _pack(pieces: list[str], budget: int, size: Callable[[str], int]) -> list[str]:
    """Join consecutive pieces into chunks of at most ``budget`` (as ``size`` counts)."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and size(current + piece) > budget:
            chunks.append(current)
            current = ""
        current += piece
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------------------------------
# Pacing


class RatePacer:
    """Sliding-window rate counter for one robot.

    ``delay_needed()`` says how many seconds to wait before the next request may go (0.0:
    now); ``record()`` notes a request that went. ``block_for()`` honours a server that
    told us to back off (DingTalk throttles a robot for 10 minutes after 20/min).
    The pacer never sleeps. It is not shared between processes: two daemons on one robot
    each count only their own sends.
    """

    def __init__(
        self,
        max_per_minute: int,
        clock: Clock = time.monotonic,
        *,
        max_per_second: int | None = None,
    ) -> None:
        if max_per_minute < 1 or (max_per_second is not None and max_per_second < 1):
            raise ValueError("rates must be at least 1")
        self.max_per_minute = max_per_minute
        self.max_per_second = max_per_second
        self._clock = clock
        self._sent: deque[float] = deque()
        self._blocked_until = -math.inf

    def delay_needed(self) -> float:
        now = self._clock()
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        wait = max(0.0, self._blocked_until - now)
        if len(self._sent) >= self.max_per_minute:
            wait = max(wait, self._sent[-self.max_per_minute] + 60.0 - now)
        if self.max_per_second is not None:
            last_second = [t for t in self._sent if t > now - 1.0]
            if len(last_second) >= self.max_per_second:
                wait = max(wait, last_second[-self.max_per_second] + 1.0 - now)
        return wait

    def record(self) -> None:
        self._sent.append(self._clock())

    def block_for(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def __repr__(self) -> str:
        per_second = f", max_per_second={self.max_per_second}" if self.max_per_second else ""
        return f"RatePacer(max_per_minute={self.max_per_minute}{per_second})"


# ---------------------------------------------------------------------------------------
# Classifying answers


@dataclass(frozen=True)
class ErrorCodes:
    """How one platform's body codes map to results.

    ``retry``: transient codes (rate limit, system busy). ``retry_after``: seconds the
    platform documents for a code (DingTalk's 10-minute throttle). Any other non-zero code
    is permanent. A message that reads like a rate limit is treated as one whatever its
    code, because the platforms reuse generic codes (Feishu's 9499) for it.
    """

    code_field: str
    message_field: str
    retry: frozenset[int]
    retry_after: dict[int, float]


_RATE_LIMIT_WORDS = re.compile(r"frequency limit|freq out of limit|too fast|too many request", re.I)


def classify_response(
    response: httpx.Response,
    codes: ErrorCodes,
    *,
    redact: Callable[[str], str],
    now: float,
) -> tuple[SendResult, int | None]:
    """Result for one HTTP answer, plus the platform code found in the body (if any).

    Order: 429/5xx are transient (honouring Retry-After); then a non-zero body code decides
    (even on a 4xx: Feishu may answer 400 with its rate-limit code); then any other non-2xx
    is permanent; a 2xx with code 0 is ``Sent``.
    """
    transient = transient_status(response, now)
    if transient is not None:
        return transient, None

    code: int | None = None
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw = body.get(codes.code_field)
        if raw is None and codes.code_field == "code":
            raw = body.get("StatusCode")  # Feishu's legacy field
        if isinstance(raw, int | str) and str(raw).lstrip("-").isdigit():
            code = int(raw)
        message = str(body.get(codes.message_field) or body.get("StatusMessage") or "")

    if code is not None and code != 0:
        text = one_line(redact(f"{codes.code_field} {code}: {message}".strip()))
        if code in codes.retry or _RATE_LIMIT_WORDS.search(message):
            return RetryLater(reason=text, after_seconds=codes.retry_after.get(code)), code
        return FailedForGood(reason=text), code
    if not 200 <= response.status_code < 300:
        return refused(response, redact), code
    if code is None:
        snippet = body_snippet(response, redact)
        return RetryLater(reason=f"HTTP {response.status_code} without {codes.code_field}: {snippet}"), None
    return Sent(), code


# ---------------------------------------------------------------------------------------
# Accepted parts of split messages


class AcceptedParts:
    """How many parts of each split message were accepted, keyed by ``Message.key``.

    Limits, on purpose: kept in this process's memory only, so a restart between two parts
    sends the accepted ones again; the parts are fingerprinted, so if the rendered text
    changes between attempts the message starts again from part 1; at most ``capacity``
    messages are remembered (oldest forgotten first).
    """

    def __init__(self, capacity: int = 1000) -> None:
        self._done: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._capacity = capacity

    def done(self, key: str, parts: list[str]) -> int:
        entry = self._done.get(key)
        if entry is None or entry[0] != hash(tuple(parts)):
            return 0
        return entry[1]

    def mark(self, key: str, parts: list[str], count: int) -> None:
        self._done[key] = (hash(tuple(parts)), count)
        self._done.move_to_end(key)
        while len(self._done) > self._capacity:
            self._done.popitem(last=False)

    def forget(self, key: str) -> None:
        self._done.pop(key, None)


# ---------------------------------------------------------------------------------------
# The send loop the three robots share


class RobotChannel:
    """Base of the chat-robot channels: split, pace, post each part, classify the answer.

    A subclass sets ``kind``, ``codes`` and ``rate_per_minute`` (and ``rate_per_second``),
    and implements ``_split`` (markdown -> parts within the platform's limit) and
    ``_request`` (part -> URL and JSON body, signed if a secret is set).

    ``send`` never raises for a delivery problem, never sleeps and never retries: when the
    pacer's window is full it answers ``Paced(after_seconds=wait)``
    without a request. Parts go in order; the result is ``Sent`` only when every part was
    accepted, and a retry resumes after the last accepted part (see ``AcceptedParts``).
    """

    kind: str = ""
    codes: ErrorCodes
    rate_per_minute: int = 20
    rate_per_second: int | None = None
    hide_url_path_tail = False  # Feishu: the hook id in the path is the credential
    mentions_by_mobile = True  # False: the platform's markdown mentions by user id only

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None,
        *,
        client: httpx.AsyncClient,
        at_mobiles: Iterable[str] = (),
        at_user_ids: Iterable[str] = (),
        clock: Clock = time.time,
        timeout: float | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret or None
        self._client = client
        # Seconds per request, all of it ([webhooks.NAME] timeout; see post_bounded).
        self._timeout = timeout
        self._interrupt = interrupt
        self.at_mobiles = tuple(at_mobiles)
        self.at_user_ids = tuple(at_user_ids)
        self._clock = clock  # wall clock: signatures and Retry-After dates
        self.pacer = RatePacer(self.rate_per_minute, max_per_second=self.rate_per_second)
        self._accepted = AcceptedParts()
        self._redact = Redactor(
            [self._secret, *url_secrets(url, path_tail=self.hide_url_path_tail)]
        )
        self.public_url = public_url(url, hide_last_segment=self.hide_url_path_tail)
        if self.at_mobiles and not self.mentions_by_mobile:
            log.warning(
                "%s robot %r: at_mobiles is ignored (its markdown mentions by user id only); "
                "use at_user_ids",
                self.kind,
                name,
            )

    def __repr__(self) -> str:
        signed = ", signed" if self._secret else ""
        return f"{type(self).__name__}(name={self.name!r}, url={self.public_url!r}{signed})"

    async def aclose(self) -> None:
        """The HTTP client belongs to whoever passed it in; nothing of ours to close."""

    def _split(self, message: Message) -> list[str]:
        raise NotImplementedError

    def _request(self, message: Message, parts: list[str], index: int) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    async def send(self, message: Message) -> SendResult:
        try:
            parts = self._split(message)
        except ValueError as exc:  # a limit too small to split into: configuration error
            return FailedForGood(reason=str(exc))
        total = len(parts)
        start = self._accepted.done(message.key, parts)
        for index in range(start, total):
            wait = self.pacer.delay_needed()
            if wait > 0:
                return Paced(after_seconds=wait)
            url, body = self._request(message, parts, index)
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.pacer.record()
            try:
                response = await post_bounded(
                    self._client,
                    url,
                    content=content,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=self._timeout,
                    interrupt=self._interrupt,
                )
            except REQUEST_ERRORS as exc:
                result: SendResult = result_for_exception(exc, redact=self._redact)
            else:
                result, code = classify_response(
                    response, self.codes, redact=self._redact, now=self._clock()
                )
                if isinstance(result, RetryLater) and code is not None and result.after_seconds:
                    # The platform throttles this robot: hold every message to it, not only
                    # this one.
                    self.pacer.block_for(result.after_seconds)
            if isinstance(result, Sent):
                self._accepted.mark(message.key, parts, index + 1)
                continue
            if isinstance(result, FailedForGood):
                self._accepted.forget(message.key)
            where = f"part {index + 1}/{total}: " if total > 1 else ""
            reason = f"{self.kind} {self.public_url}: {where}{result.reason}"
            if isinstance(result, RetryLater):
                return RetryLater(reason=reason, after_seconds=result.after_seconds)
            return FailedForGood(reason=reason)
        self._accepted.forget(message.key)
        return Sent(detail=f"{total} parts" if total > 1 else "")


def title_for(subject: str, index: int, total: int) -> str:
    return subject if total == 1 else f"{subject}（{index + 1}/{total}）"
