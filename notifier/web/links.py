"""Signed reply links. Pure: no database, no web framework.

A link names one milestone occurrence and the department it was sent to, and when it
expires; an HMAC-SHA256 over those fields (keyed by ``[web] secret``) makes it unforgeable,
and binds it to that department: changing any field breaks the signature. The signature
also identifies the link, so the web app can refuse a second use (``link_uses``).

Token: ``MILESTONE-YYYYMMDD-DEPARTMENT-EXPIRES-SIGNATURE`` (URL-safe, no padding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from notifier.config import Config

_TOKEN = re.compile(r"^(\d{1,12})-(\d{8})-(\d{1,12})-(\d{1,12})-([A-Za-z0-9_-]{22})$")


class LinkError(Exception):
    """Why a link is refused: ``reason`` is ``forged`` or ``expired``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    milestone_id: int
    occurrence: date
    department_id: int
    expires: int  # Unix seconds
    signature: str

    @property
    def token(self) -> str:
        return (f"{self.milestone_id}-{self.occurrence:%Y%m%d}-{self.department_id}-"
                f"{self.expires}-{self.signature}")

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


class LinkSigner:
    def __init__(self, secret: str, base_url: str = "", lifetime: timedelta = timedelta(days=60)):
        if not secret:
            raise ValueError("a link secret is required")
        self._key = hashlib.sha256(b"notifier reply link v1\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")
        self.lifetime = lifetime

    def _sign(self, milestone_id: int, occurrence: date, department_id: int, expires: int) -> str:
        msg = f"{milestone_id}|{occurrence.isoformat()}|{department_id}|{expires}".encode()
        mac = hmac.new(self._key, msg, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def make(self, milestone_id: int, occurrence: date, department_id: int, now: datetime) -> Link:
        """A link valid from ``now`` (aware) for the configured lifetime."""
        expires = int((now + self.lifetime).timestamp())
        return Link(milestone_id, occurrence, department_id, expires,
                    self._sign(milestone_id, occurrence, department_id, expires))

    def url(self, milestone_id: int, occurrence: date, department_id: int, now: datetime) -> str:
        return f"{self.base_url}/r/{self.make(milestone_id, occurrence, department_id, now).token}"

    def verify(self, token: str, now: datetime) -> Link:
        """The link ``token`` stands for, or ``LinkError`` (forged before expired: an
        attacker learns nothing from the expiry of a link that was never issued)."""
        m = _TOKEN.match(token or "")
        if not m:
            raise LinkError("forged", "malformed link")
        mid, occ, dep, exp, sig = m.groups()
        try:
            occurrence = date(int(occ[:4]), int(occ[4:6]), int(occ[6:]))
        except ValueError:
            raise LinkError("forged", "malformed date") from None
        expected = self._sign(int(mid), occurrence, int(dep), int(exp))
        if not hmac.compare_digest(expected, sig):
            raise LinkError("forged", "bad signature")
        link = Link(int(mid), occurrence, int(dep), int(exp), sig)
        if now.timestamp() >= link.expires:
            raise LinkError("expired", f"expired at {link.expires_at:%Y-%m-%d %H:%M} UTC")
        return link


def signer_of(config: Config) -> LinkSigner | None:
    """The link signer, or None when ``[web]`` has no secret (then reminders carry no links)."""
    w = config.web
    if w.secret is None:
        return None
    return LinkSigner(w.secret.reveal(), w.base_url or "", timedelta(days=w.link_days))
