"""What every request to the web app goes through, whatever its route (the reply pages, and any
page mounted later): a bounded body and the security headers.

- **Bounded body.** A declared ``Content-Length`` above ``max_body`` (or the limit of its path
  prefix, ``body_limits``: the office's plan upload) is answered 413 before a
  byte of the body is read. A body without one (chunked) is read up to ``max_body`` and
  refused as soon as it passes it. The whole body must arrive within ``body_seconds`` (a
  client trickling its form is answered 408). The route then gets the body from memory: it
  can never read more than ``max_body`` bytes, whoever forgot a check.
- **Security headers on every answer**, error pages included (404, 405, 413, 500): each of
  ``headers`` is added unless the route set that header itself.

It wraps the Starlette app from outside (``GuardedStarlette``), so even Starlette's own
500 page gets the headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 20_000  # a reply form: a note of a few thousand characters, URL-encoded
BODY_SECONDS = 10.0


class _TooLarge(Exception):
    pass


async def guard(app: ASGIApp, scope: Scope, receive: Receive, send: Send, *,
                headers: Mapping[str, str], max_body: int = MAX_BODY_BYTES,
                body_seconds: float = BODY_SECONDS,
                body_limits: Mapping[str, tuple[int, float]] | None = None) -> None:
    """``body_limits``: a path prefix (``/office``) -> its own (bytes, seconds), for pages
    that take uploads; the longest matching prefix wins, else ``max_body`` and ``body_seconds``."""
    if scope["type"] != "http":
        await app(scope, receive, send)
        return
    path = scope.get("path", "")
    limits = body_limits or {}
    prefixes = [p for p in limits if path == p or path.startswith(p.rstrip("/") + "/")]
    if prefixes:
        max_body, body_seconds = limits[max(prefixes, key=len)]
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            message = {**message, "headers": [*message.get("headers", []),
                                              *((k, v) for k, v in extra if k not in present)]}
        await send(message)

    declared = _content_length(scope)
    if declared is None or declared > max_body:
        await _plain(send_with_headers, 413 if declared else 400,
                     "请求内容过长，未作任何更改。" if declared else "请求头 Content-Length 无效。")
        return
    try:
        async with asyncio.timeout(body_seconds):
            body = await _read_body(receive, max_body)
    except _TooLarge:
        await _plain(send_with_headers, 413, "请求内容过长，未作任何更改。")
        return
    except TimeoutError:
        await _plain(send_with_headers, 408, "请求超时，未作任何更改。")
        return
    if body is None:  # the client went away
        return
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: only http.disconnect can come

    await app(scope, replay, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    """The declared length; 0 when none is declared; ``None`` when it is not a number (or is
    given twice, differently: request smuggling)."""
    values = {v for k, v in scope.get("headers", []) if k.lower() == b"content-length"}
    if not values:
        return 0
    if len(values) > 1:
        return None
    (value,) = values
    text = value.strip()
    if not text.isdigit():
        return None
    return int(text) if len(text) <= 18 else 10**18  # a thousand digits is "too large", not a crash


async def _read_body(receive: Receive, max_body: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class GuardedStarlette(Starlette):
    """A Starlette app whose every request passes ``guard`` before Starlette's own
    middleware: routes and mounts are added to it as to any Starlette app."""

    def __init__(self, *args: Any, headers: Mapping[str, str], max_body: int = MAX_BODY_BYTES,
                 body_seconds: float = BODY_SECONDS, body_limits: Mapping[str, tuple[int, float]] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard_headers = dict(headers)
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guard(super().__call__, scope, receive, send, headers=self.guard_headers,
                    max_body=self.max_body, body_seconds=self.body_seconds, body_limits=self.body_limits)
