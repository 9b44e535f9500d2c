"""The message a channel sends and the result it gives back.

A channel knows nothing of the database or of retries: it gets a ``Message`` and answers
with exactly one of ``Sent``, ``RetryLater`` or ``FailedForGood``. The dispatcher owns
what happens next (record, back off, mark the contact broken).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The longest wait a server's Retry-After can impose (one day). Longer values, up to "the
# year 5193", are clamped to it: the row is tried again then, or expires first; a reminder
# is never parked beyond its deadline on a peer's say-so.
MAX_RETRY_AFTER_SECONDS = 86400.0


@dataclass(frozen=True)
class Message:
    key: str  # idempotency key: stable across retries (webhook-id, Message-ID)
    recipient: str  # an e-mail address, or the name of a [webhooks.NAME] entry
    subject: str
    text: str  # plain text (e-mail text part)
    html: str  # e-mail HTML part
    markdown: str  # chat robots and generic webhooks
    data: dict[str, Any] = field(default_factory=dict)  # structured payload (JSON)
    department: str = ""


@dataclass(frozen=True)
class Sent:
    detail: str = ""


@dataclass(frozen=True)
class RetryLater:
    reason: str
    # The server's Retry-After, if it gave one: finite, 0..MAX_RETRY_AFTER_SECONDS.
    after_seconds: float | None = None
    # False when the route, not the contact, is at fault (the SMTP server is down, its TLS
    # certificate does not verify): giving up then does not mark the address broken.
    contact_fault: bool = True


@dataclass(frozen=True)
class FailedForGood:
    reason: str
    contact_fault: bool = True  # see RetryLater.contact_fault


SendResult = Sent | RetryLater | FailedForGood


class Channel(Protocol):
    """One delivery route. ``send`` never raises for a delivery problem and never sleeps."""

    kind: str

    async def send(self, message: Message) -> SendResult: ...

    async def aclose(self) -> None: ...
