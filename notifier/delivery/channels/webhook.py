"""Generic JSON webhook, signed per Standard Webhooks v1 (https://www.standardwebhooks.com/).

``webhook-id`` is the delivery's idempotency key, the same on every retry, so a receiver can
drop the duplicate that a crash between send and record can cause.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from email.utils import parsedate_to_datetime

import httpx

from notifier.delivery.message import FailedForGood, Message, RetryLater, Sent, SendResult


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``; the key is the base64
    part of a ``whsec_`` secret, or the secret's bytes as they are otherwise."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def classify_http(response: httpx.Response) -> SendResult:
    """2xx sent; 408/425/429/5xx retry later (honouring Retry-After); other 4xx for good."""
    code = response.status_code
    if 200 <= code < 300:
        return Sent(f"HTTP {code}")
    if code in (408, 425, 429) or code >= 500:
        return RetryLater(f"HTTP {code}", retry_after(response))
    return FailedForGood(f"HTTP {code}: {response.text[:200]}")


def transport_error(exc: httpx.HTTPError) -> RetryLater:
    # The exception text can carry the URL, and chat-robot URLs carry tokens: name the class only.
    kind = type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and _caused_by(exc, socket.gaierror):
        kind = "DNS lookup failed"
    elif isinstance(exc, httpx.TimeoutException):
        kind = f"timeout ({kind})"
    return RetryLater(kind)


def _caused_by(exc: BaseException, cls: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, cls):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


class WebhookChannel:
    kind = "webhook"

    def __init__(self, name: str, url: str, secret: str | None, *, client: httpx.AsyncClient,
                 timeout: float = 10.0, clock=time.time):  # noqa: ANN001
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client
        self._timeout = timeout
        self._clock = clock

    def body(self, message: Message) -> bytes:
        payload = {
            "id": message.key,
            "type": f"notifier.{message.data.get('kind', 'reminder')}",
            "department": message.department,
            "subject": message.subject,
            "markdown": message.markdown,
            "text": message.text,
            "data": message.data,
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def headers(self, message: Message, body: bytes) -> dict[str, str]:
        ts = int(self._clock())
        headers = {"content-type": "application/json; charset=utf-8",
                   "webhook-id": message.key, "webhook-timestamp": str(ts)}
        if self._secret:
            headers["webhook-signature"] = sign(self._secret, message.key, ts, body)
        return headers

    async def send(self, message: Message) -> SendResult:
        body = self.body(message)
        try:
            response = await self._client.post(self._url, content=body, headers=self.headers(message, body),
                                               timeout=self._timeout)
        except httpx.HTTPError as exc:
            return transport_error(exc)
        return classify_http(response)

    async def aclose(self) -> None:
        pass  # the client is shared and closed by its owner
