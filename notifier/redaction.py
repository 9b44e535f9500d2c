"""One redactor for every place a secret could leak: log lines, CLI output, and the reasons
channels return (which reach ``deliveries.last_error``, ``contacts.last_error`` and the
broken-contact notice).

``Redactor`` replaces with ``***``

- the exact values it was given (SMTP password, webhook secrets, robot URLs and the tokens in
  them), longest first; values shorter than ``MIN_LENGTH`` are skipped, because masking "1"
  or "abc" would mangle ordinary words, and are left to the patterns;
- anything that *looks* like a credential: ``access_token=…``, ``key=…``, ``sign=…``,
  ``secret=…``/``password=…``/``token=…`` in a query or config-like text, ``whsec_…``
  secrets, Standard Webhooks ``v1,…`` signatures, and the password in
  ``scheme://user:password@host`` URLs.

``url_secrets`` lists the parts of a webhook URL that are credentials; ``public_url`` is the
URL without them, safe to show.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
MIN_LENGTH = 6
# A last path segment this long is a token (a generic ``/hooks/<token>``), not a word like
# "send" or "hook".
TOKEN_SEGMENT_LENGTH = 16

_PATTERNS = [
    # query parameters and key=value pairs that carry credentials (DingTalk access_token and
    # sign, WeCom key, generic token/secret/password)
    (re.compile(r"(?i)\b(access_token|token|key|sign|signature|secret|password|passwd|pwd)=([^&\s\"'<>]+)"),
     lambda m: f"{m.group(1)}={MASK}"),
    # scheme://user:password@host (database and SMTP URLs)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s]*):([^@\s/]+)@"),
     lambda m: f"{m.group(1)}:{MASK}@"),
    # Standard Webhooks secrets and signatures
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), lambda m: "whsec_" + MASK),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"), lambda m: "v1," + MASK),
]


class Redactor:
    """Replaces known secret values and credential-shaped text with ``***``.

    Thread-safe: the process-wide instance in ``logging_setup`` is re-armed on reload while
    other threads log through it.
    """

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self.set_values(values)

    def set_values(self, values: Iterable[str | None]) -> None:
        # Longest first, so a URL is masked whole before its token is.
        clean = sorted({v for v in values if v and len(v) >= MIN_LENGTH}, key=len, reverse=True)
        with self._lock:
            self._values = tuple(clean)

    def add_values(self, values: Iterable[str | None]) -> None:
        self.set_values([*self._values, *values])

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for v in self._values:
            if v in text:
                text = text.replace(v, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def url_secrets(url: str, *, path_tail: bool = False) -> list[str]:
    """The parts of a webhook URL that are (or may be) credentials: the URL itself, its query
    string and query values (raw and decoded: DingTalk token, WeCom key), a password in it,
    and the last path segment when ``path_tail`` (Feishu's hook id) or when it is long
    enough to be a token (a generic ``/hooks/<token>``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return [url]
    found = [url, parts.query, password or ""]
    for pair in parts.query.split("&"):
        found.append(pair.partition("=")[2])
    found.extend(value for _, value in parse_qsl(parts.query))
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if path_tail or len(last) >= TOKEN_SEGMENT_LENGTH:
        found.append(last)
    return [s for s in dict.fromkeys(found) if s]


def public_url(url: str, *, hide_last_segment: bool = False) -> str:
    """The URL without credentials in it, query string (DingTalk token, WeCom key) and, if
    asked, last path segment (Feishu hook id): safe to show in errors and ``repr``."""
    parts = urlsplit(url)
    path = parts.path
    if hide_last_segment and "/" in path.rstrip("/"):
        path = path.rstrip("/").rsplit("/", 1)[0] + "/***"
    host = parts.netloc.rpartition("@")[2]  # without any user:password@
    return f"{parts.scheme}://{host}{path}"
