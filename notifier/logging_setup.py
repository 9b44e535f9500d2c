"""Logging: one line per event on stderr, and a redaction net so no secret reaches a log line.

Code never logs a secret on purpose (``Secret`` hides its value; channels redact what a peer
answers). This module is the safety net behind that: every formatted log line, traceback
included, passes through the process-wide ``redact`` (a ``notifier.redaction.Redactor``), armed
with the exact values the config marked secret (SMTP password, webhook secrets, robot URLs
and the tokens inside them) by ``register_config``, on top of its credential-shaped patterns.

The CLI also routes its own stdout and stderr through the same redactor (``RedactingStream``),
so a message printed from an error (``status``, ``send-due``) is covered too.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import TextIO
from urllib.parse import urlsplit

from notifier.redaction import Redactor, url_secrets

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler", "alembic", "aiosmtplib",
         "asyncio")

redact = Redactor()


def secret_values(config) -> list[str]:  # noqa: ANN001 - a notifier.config.Config
    """Every secret the config holds, and the token-like parts of robot URLs."""
    out: list[str] = []
    if config.email is not None and config.email.password is not None:
        out.append(config.email.password.reveal())
    for hook in config.webhooks.values():
        url = hook.url.reveal()
        out.extend(url_secrets(url, path_tail=hook.kind == "feishu"))
        if hook.secret is not None:
            secret = hook.secret.reveal()
            out.append(secret)
            out.append(secret.removeprefix("whsec_"))
    db_password = _url_password(config.database_url)
    if db_password:
        out.append(db_password)
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
