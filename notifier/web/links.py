"""Signed reply links. Pure: no database, no web framework.

A link names one milestone occurrence and the department it was sent to, and when it
expires; an HMAC-SHA256 over those fields (keyed by ``[web] secret``) makes it unforgeable,
and binds it to that department: changing any field breaks the signature. The signature
also identifies the link, so the web app can refuse a second use (``link_uses``).

Token: ``MILESTONE-YYYYMMDD-DEPARTMENT-EXPIRES-SIGNATURE`` (URL-safe, no padding).

A department's page (``/d/<token>``, every reminder digest carries one) is signed the same way
with a key of its own: ``DEPARTMENT-EXPIRES-SIGNATURE``. Its forms carry a CSRF token that is
an HMAC of the page token (a third key), so a form can only be posted by someone who has the
page; all three are compared in constant time.
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
_PAGE_TOKEN = re.compile(r"^(\d{1,12})-(\d{1,12})-([A-Za-z0-9_-]{22})$")


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


@dataclass(frozen=True)
class PageLink:
    """A department's page: which department, until when."""

    department_id: int
    expires: int  # Unix seconds
    signature: str

    @property
    def token(self) -> str:
        return f"{self.department_id}-{self.expires}-{self.signature}"


def _mac(key: bytes, msg: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, msg.encode(), hashlib.sha256).digest()[:16]).rstrip(b"=").decode()


class LinkSigner:
    def __init__(self, secret: str, base_url: str = "", lifetime: timedelta = timedelta(days=60)):
        if not secret:
            raise ValueError("a link secret is required")
        self._key = hashlib.sha256(b"notifier reply link v1\0" + secret.encode()).digest()
        self._page_key = hashlib.sha256(b"notifier department page v1\0" + secret.encode()).digest()
        self._csrf_key = hashlib.sha256(b"notifier department page csrf v1\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")
        self.lifetime = lifetime

    def _sign(self, milestone_id: int, occurrence: date, department_id: int, expires: int) -> str:
        return _mac(self._key, f"{milestone_id}|{occurrence.isoformat()}|{department_id}|{expires}")

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

    # -- the department's page

    def page(self, department_id: int, now: datetime) -> PageLink:
        """The department's page, valid from ``now`` (aware) for the configured lifetime."""
        expires = int((now + self.lifetime).timestamp())
        return PageLink(department_id, expires, _mac(self._page_key, f"{department_id}|{expires}"))

    def page_url(self, department_id: int, now: datetime) -> str:
        return f"{self.base_url}/d/{self.page(department_id, now).token}"

    def verify_page(self, token: str, now: datetime) -> PageLink:
        """The page ``token`` stands for, or ``LinkError`` (forged before expired)."""
        m = _PAGE_TOKEN.match(token or "")
        if not m:
            raise LinkError("forged", "malformed page link")
        dep, exp, sig = m.groups()
        if not hmac.compare_digest(_mac(self._page_key, f"{int(dep)}|{int(exp)}"), sig):
            raise LinkError("forged", "bad signature")
        if now.timestamp() >= int(exp):
            raise LinkError("expired", f"expired at {datetime.fromtimestamp(int(exp), UTC):%Y-%m-%d %H:%M} UTC")
        return PageLink(int(dep), int(exp), sig)

    def page_csrf(self, token: str) -> str:
        """The CSRF token of the page ``token``'s forms: only a holder of the page can post."""
        return _mac(self._csrf_key, token)

    def page_csrf_ok(self, token: str, csrf: str | None) -> bool:
        return bool(csrf) and hmac.compare_digest(self.page_csrf(token), csrf or "")


def signer_of(config: Config) -> LinkSigner | None:
    """The link signer, or None when ``[web]`` has no secret (then reminders carry no links)."""
    w = config.web
    if w.secret is None:
        return None
    return LinkSigner(w.secret.reveal(), w.base_url or "", timedelta(days=w.link_days))
