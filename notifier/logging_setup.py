"""Logging: one line per event on stderr, and a redaction net so no secret reaches a log line.

Line shape: ``2026-12-02 09:00:00.123 +0800 INFO notifier.daemon: message``, the time in the
configured time zone (``[timezone]``, set by ``setup``/``set_timezone``) with its offset.
The message is kept on one line: control characters in it (a newline in a department's reply,
a remote server's multi-line error body) are written as escapes (``\\n``, ``\\x1b``), so no
text from outside can forge a second log line. A traceback keeps its lines, each continuation
line starting with ``" | "``, so it cannot pass for a new event either.

Under systemd, when stderr is the journal (``$JOURNAL_STREAM`` names stderr's device and
inode), every line starts with its syslog priority, ``<3>`` for ERROR down to ``<7>`` for DEBUG
(sd-daemon(3)), so ``journalctl -p warning`` filters the daemon's lines; elsewhere nothing is
prefixed.

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
import os
import re
import sys
from datetime import datetime, tzinfo
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


# C0 and C1 control characters and the Unicode line and paragraph separators: whatever a
# terminal or a log reader could take for the end of a line, or for a colour change.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# syslog priorities of sd-daemon(3), by logging level
PRIORITIES = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
CONTINUATION = " | "


def one_line(text: str) -> str:
    """``text`` with every control character escaped: it cannot end the line it is written on."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group()) or ascii(m.group())[1:-1], text)


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (CRITICAL 2, ERROR 3, WARNING 4, INFO 6, DEBUG 7)."""
    if levelno >= logging.CRITICAL:
        return 2
    return next((p for level, p in PRIORITIES if levelno >= level), 7)


class RedactingFormatter(logging.Formatter):
    """Formats one event: the message on one line, times in ``tz``, continuation lines of a
    traceback marked, a journald priority prefix on every line when ``journal``; then redacts
    the whole event, traceback included."""

    default_msec_format = "%s.%03d"

    def __init__(self, fmt: str = FORMAT, *, tz: tzinfo | None = None, journal: bool = False):
        super().__init__(fmt)
        self.tz = tz
        self.journal = journal

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        at = datetime.fromtimestamp(record.created, self.tz).astimezone(self.tz)
        return at.strftime(datefmt) if datefmt else f"{at:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d} {at:%z}"

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = redact(super().format(record)).split("\n")
        lines = [first] + [CONTINUATION + line for line in rest]
        if self.journal:
            prefix = f"<{priority(record.levelno)}>"
            lines = [prefix + line for line in lines]
        return "\n".join(lines)


def is_journal(stream: TextIO) -> bool:
    """Is ``stream`` the journal? systemd sets ``JOURNAL_STREAM=DEVICE:INODE`` to the stream
    it connected to stderr; a redirected or inherited stderr no longer matches it."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


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


_formatter: RedactingFormatter | None = None  # the one ``setup`` installed


def setup(level: str = "INFO", stream: TextIO | None = None, tz: tzinfo | None = None) -> None:
    """One line per event to ``stream`` (stderr) at ``level``, times in ``tz`` (default the
    machine's); libraries' chatter at WARNING or above."""
    global _formatter
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    _formatter = RedactingFormatter(FORMAT, tz=tz, journal=is_journal(stream))
    handler.setFormatter(_formatter)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    set_level(level)
    logging.captureWarnings(True)


def set_timezone(tz: tzinfo | None) -> None:
    """Log times in ``tz`` from now on (a reload that changed ``timezone``)."""
    if _formatter is not None:
        _formatter.tz = tz


def set_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
