"""Logging: one line per event on stderr, and a redaction net so no secret reaches a log line.

Code never logs a secret on purpose (``Secret`` hides its value; channels name an exception's
class rather than print a URL). This module is the safety net behind that: every formatted log
line, traceback included, passes through ``Redactor`` which replaces

- the exact values the config marked secret (SMTP password, webhook secrets, robot URLs and the
  tokens inside them), registered with ``register_config``;
- anything that *looks* like a credential: ``access_token=…``, ``key=…``, ``sign=…``,
  ``secret=…``/``password=…``/``token=…`` in a query or config-like text, ``whsec_…`` secrets,
  Standard Webhooks ``v1,…`` signatures, and the password in ``scheme://user:password@host`` URLs.

The CLI also routes its own stdout and stderr through the same redactor (``RedactingStream``),
so a message printed from an error (``status``, ``send-due``) is covered too.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler", "alembic", "aiosmtplib",
         "asyncio")

_PATTERNS = [
    # query parameters and key=value pairs that carry credentials (DingTalk access_token and
    # sign, WeCom key, generic token/secret/password)
    re.compile(r"(?i)\b(access_token|token|key|sign|signature|secret|password|passwd|pwd)=([^&\s\"'<>]+)"),
    # scheme://user:password@host (database and SMTP URLs)
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s]*):([^@\s/]+)@"),
    # Standard Webhooks secrets and signatures
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),
    re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"),
]


class Redactor:
    """Replaces known secret values and credential-shaped text with ``***``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def set_values(self, values: Iterable[str]) -> None:
        # Longest first, so a URL is masked whole before its token is; very short values
        # (an empty password, "1") would mask ordinary words and are left to the patterns.
        clean = sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)
        with self._lock:
            self._values = tuple(clean)

    def add_values(self, values: Iterable[str]) -> None:
        self.set_values([*self._values, *values])

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for v in self._values:
            if v in text:
                text = text.replace(v, MASK)
        text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={MASK}", text)
        text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}:{MASK}@", text)
        text = _PATTERNS[2].sub("whsec_" + MASK, text)
        text = _PATTERNS[3].sub("v1," + MASK, text)
        return text


redact = Redactor()


def secret_values(config) -> list[str]:  # noqa: ANN001 - a notifier.config.Config
    """Every secret the config holds, and the token-like parts of robot URLs."""
    out: list[str] = []
    if config.email is not None and config.email.password is not None:
        out.append(config.email.password.reveal())
    for hook in config.webhooks.values():
        url = hook.url.reveal()
        out.append(url)
        out.extend(url_tokens(url))
        if hook.secret is not None:
            secret = hook.secret.reveal()
            out.append(secret)
            out.append(secret.removeprefix("whsec_"))
    db_password = _url_password(config.database_url)
    if db_password:
        out.append(db_password)
    return out


def url_tokens(url: str) -> list[str]:
    """The parts of a webhook URL that may be its credential: query values and the last
    path segment (Feishu's hook id, a generic ``/hooks/<token>``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    out = [v for _, v in parse_qsl(parts.query) if len(v) >= 6]
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if len(last) >= 16:  # a token, not a word like "send" or "hook"
        out.append(last)
    if parts.password:
        out.append(parts.password)
    return out


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def register_config(config) -> None:  # noqa: ANN001
    """Make the redactor mask this config's secrets (called at start and on reload)."""
    redact.set_values(secret_values(config))


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingStream(io.TextIOBase):
    """A text stream wrapper that redacts what is written (the CLI's stdout and stderr)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, s: str) -> int:
        self._stream.write(redact(s))
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")


def setup(level: str = "INFO", stream: TextIO | None = None) -> None:
    """One line per event to stderr at ``level``; libraries' chatter at WARNING or above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    set_level(level)
    logging.captureWarnings(True)


def set_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
