"""The message a channel sends and the result it gives back.

A channel knows nothing of the database or of retries: it gets a ``Message`` and answers
with exactly one of ``Sent``, ``RetryLater``, ``Paced`` or ``FailedForGood``. The dispatcher owns
what happens next (record, back off, mark the contact broken).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

# The longest wait a server's Retry-After can impose (one day). Longer values, up to "the
# year 5193", are clamped to it: the row is tried again then, or expires first; a reminder
# is never parked beyond its deadline on a peer's say-so.
MAX_RETRY_AFTER_SECONDS = 86400.0


class HeaderError(ValueError):
    """A header value that would break out of its line (CR, LF or another control
    character): refused rather than cleaned, so nobody's header lines are ever forged."""

    def __init__(self, header: str, problem: str):
        super().__init__(problem)
        self.header = header


# C0 controls (CR and LF among them) and DEL: none belongs in a header value, encoded or not.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot go into header ``name`` (``None``: it can)."""
    bad = _CONTROL.search(value)
    if bad is None:
        return None
    what = {"\r": "a carriage return (CR)", "\n": "a line break (LF)"}.get(bad.group(), "a control character")
    return f"the {name} header contains {what}: {value[:80]!r}"


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
class Paced:
    """Not sent: the channel's own rate pacer (a chat robot's messages per minute) says "not
    yet". Not a failed attempt: no backoff, and the attempt is not counted."""

    after_seconds: float | None = None  # when the pacer has room again
    reason = "paced"  # what the row's last_error shows meanwhile


@dataclass(frozen=True)
class FailedForGood:
    reason: str
    contact_fault: bool = True  # see RetryLater.contact_fault


SendResult = Sent | RetryLater | Paced | FailedForGood


class Channel(Protocol):
    """One delivery route. ``send`` never raises for a delivery problem and never sleeps."""

    kind: str

    async def send(self, message: Message) -> SendResult: ...

    async def aclose(self) -> None: ...
