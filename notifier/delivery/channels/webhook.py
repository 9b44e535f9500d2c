"""Generic JSON webhook, signed per Standard Webhooks v1 (https://www.standardwebhooks.com/).

``webhook-id`` is the delivery's idempotency key, the same on every retry, so a receiver can
drop the duplicate that a crash between send and record can cause.

The whole request (connect, write, read the answer) ends within ``timeout`` seconds and reads
at most a small part of the answer (``http_results.post_bounded``).

Answers and errors are classified by the helpers every HTTP channel shares (``http_results``);
every reason is redacted (the signing secret, the URL's token, anything credential-shaped),
because a receiver may echo our request and the reason is stored and mailed to the admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from notifier.delivery.channels.http_results import (
    REQUEST_ERRORS,
    Interrupt,
    classify_http,
    post_bounded,
    result_for_exception,
)
from notifier.delivery.message import Message, SendResult
from notifier.redaction import Redactor, url_secrets


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``; the key is the base64
    part of a ``whsec_`` secret, or the secret's bytes as they are otherwise."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookChannel:
    kind = "webhook"

    def __init__(self, name: str, url: str, secret: str | None, *, client: httpx.AsyncClient,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time, interrupt: Interrupt | None = None):
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client
        self._timeout = timeout
        self._clock = clock
        self._interrupt = interrupt
        self._redact = Redactor([secret, secret.removeprefix("whsec_") if secret else None, *url_secrets(url)])

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
            response = await post_bounded(self._client, self._url, content=body,
                                          headers=self.headers(message, body), timeout=self._timeout,
                                          interrupt=self._interrupt)
        except REQUEST_ERRORS as exc:
            return result_for_exception(exc, redact=self._redact)
        return classify_http(response, redact=self._redact, now=self._clock())

    async def aclose(self) -> None:
        pass  # the client is shared and closed by its owner
