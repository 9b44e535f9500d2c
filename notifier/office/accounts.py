"""Accounts of the office pages: argon2 password hashes, sessions, the login rate limit.

A session is a random id stored in ``user_sessions``; the cookie carries it with an HMAC made
with a key derived from ``[web]`` secret, so a cookie signed with another secret, or an id not
in the table (logged out, password changed, account disabled) is refused. The CSRF token of a
form is an HMAC of the session id: nothing to store, compared in constant time.

Rate limit: after ``ACCOUNT_LIMIT`` failed logins for one account, or ``ADDRESS_LIMIT`` from one
address, within ``WINDOW``, every login of that account (or from that address) is refused,
the right password included, until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from notifier.db.models import LoginFailure, User, UserSession
from notifier.office import audit
from notifier.terms import AccountRole

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
SESSION_HOURS = 12
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class AccountError(Exception):
    pass


class LoginRefused(Exception):
    def __init__(self, reason: str):  # "locked" | "bad"
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Who:
    """The user of a request."""

    id: int
    name: str
    role: AccountRole
    session_id: str

    @property
    def can_act(self) -> bool:
        return self.role is AccountRole.OFFICE


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def add_user(s: Session, name: str, role: AccountRole | str, password: str, *, actor: str, now: datetime) -> User:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a user name needs 1 to 100 characters")
    try:
        member = AccountRole(role)
    except ValueError:
        raise AccountError(f"role must be office or leader, got {role!r}") from None
    if s.scalar(select(User).where(User.name == name)) is not None:
        raise AccountError(f"user {name!r} exists already")
    user = User(name=name, role=member, password_hash=_hasher.hash(check_password(password)),
                disabled=False, created_at=now, password_changed_at=now)
    s.add(user)
    s.flush()
    audit.record(s, actor, "user_add", f"{name} ({member.value})", now=now)
    return user


def _user(s: Session, name: str) -> User:
    user = s.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccountError(f"no user {name!r}")
    return user


def set_password(s: Session, name: str, password: str, *, actor: str, now: datetime) -> None:
    """A new password ends every session of the account."""
    user = _user(s, name)
    user.password_hash = _hasher.hash(check_password(password))
    user.password_changed_at = now
    s.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(s, actor, "user_passwd", name, now=now)


def disable_user(s: Session, name: str, *, actor: str, now: datetime) -> None:
    user = _user(s, name)
    user.disabled = True
    s.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(s, actor, "user_disable", name, now=now)


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


def locked(s: Session, account: str, address: str, now: datetime) -> bool:
    since = now - WINDOW
    by_account = s.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.account == account, LoginFailure.at >= since)) or 0
    by_address = s.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.address == address, LoginFailure.at >= since)) or 0
    return by_account >= ACCOUNT_LIMIT or by_address >= ADDRESS_LIMIT


def log_in(s: Session, name: str, password: str, address: str, now: datetime) -> Who:
    """Check the password and open a session; every refusal counts towards the limit."""
    name = name.strip()[:100]
    if locked(s, name, address, now):
        audit.record(s, name or "-", "login_failed", f"locked ({address})", now=now)
        raise LoginRefused("locked")
    user = s.scalar(select(User).where(User.name == name))
    ok = False
    if user is not None and not user.disabled:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # the same work for an unknown name: no timing oracle for names
    if not ok:
        s.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * WINDOW))  # keep the table small
        s.add(LoginFailure(account=name, address=address, at=now))
        audit.record(s, name or "-", "login_failed", address, now=now)
        raise LoginRefused("bad")
    assert user is not None  # ok: the name is a user's and the password is right
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    s.execute(delete(LoginFailure).where(LoginFailure.account == name))
    s.execute(delete(UserSession).where(UserSession.expires_at < now))
    sid = secrets.token_hex(32)
    s.add(UserSession(id=sid, user_id=user.id, created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    audit.record(s, user.name, "login", address, now=now)
    return Who(user.id, user.name, user.role, sid)


def session_user(s: Session, sid: str, now: datetime) -> Who | None:
    row = s.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                    .where(UserSession.id == sid)).first()
    if row is None:
        return None
    sess, user = row
    if sess.expires_at < now or user.disabled:
        return None
    return Who(user.id, user.name, user.role, sid)


def log_out(s: Session, who: Who, now: datetime) -> None:
    s.execute(delete(UserSession).where(UserSession.id == who.session_id))
    audit.record(s, who.name, "logout", now=now)


class Signer:
    """HMACs for session cookies and CSRF tokens, keyed from the [web] secret."""

    def __init__(self, secret: str):
        self._key = hashlib.sha256(b"notifier-office\0" + secret.encode()).digest()

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def cookie(self, sid: str) -> str:
        return f"{sid}.{self._mac('session', sid)}"

    def session_id(self, cookie: str | None) -> str | None:
        sid, _, mac = (cookie or "").partition(".")
        if not sid or not hmac.compare_digest(mac, self._mac("session", sid)):
            return None
        return sid

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token, self.csrf(sid))
