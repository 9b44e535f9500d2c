"""E-mail over SMTP (aiosmtplib): multipart text + HTML, a UTF-8 subject, and a Message-ID
derived from the idempotency key so a duplicate after a crash is recognisable.

- One SMTP session carries many messages: connections are pooled (``connections`` of them)
  and reused across a batch and across passes; one idle for longer than ``max_idle`` seconds
  is closed rather than trusted (servers drop idle sessions).
- TLS: ``security = "ssl"`` is implicit TLS (465), ``"starttls"`` requires STARTTLS. The
  certificate is always verified, against the system store or ``ca_file`` (a private CA).
  A certificate that does not verify is reported as such, with the hint to set ``ca_file``.
- Results per recipient: a 4xx reply is "retry later", a 5xx "failed for good". Only a
  refusal of the recipient itself (its RCPT TO) is the address's fault. Every other problem
  is the route's, and the dispatcher does not mark the address broken for it: server
  unreachable, TLS, authentication, and any reply the server gives to the session rather
  than to the address (greeting, EHLO, MAIL FROM, DATA: "554 no service", a message
  rejected by a content filter), whatever its code.
- One deadline, ``timeout``, bounds a whole send (connect, TLS, login, every command, DATA):
  a server that trickles its replies a byte at a time is "retry later" after it, the
  session dropped. aiosmtplib's own timeout is per command only.
- Headers: display names and the subject are always RFC 2047 encoded words, and a value with
  CR, LF or another control character is refused (``HeaderError`` -> failed for good), so no
  name can write header lines of its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import time
from email.utils import formatdate, parseaddr
from functools import lru_cache
from pathlib import Path

import aiosmtplib

from notifier.delivery.message import (
    FailedForGood,
    HeaderError,
    Message,
    RetryLater,
    Sent,
    SendResult,
    header_problem,
)


# Where an encoded word is cut: 39 bytes of UTF-8 -> 52 base64 characters -> a word of 64,
# so "Subject: " + one word stays within the 78 characters RFC 5322 recommends per line.
_WORD_BYTES = 39
_FOLD = "\r\n "
# Safe whatever the parts hold: base64 text and the part headers never contain "=_".
_BOUNDARY = "=_notifier_alternative"
_QUIT_SECONDS = 3.0


def _checked(name: str, value: str) -> str:
    problem = header_problem(name, value)
    if problem:
        raise HeaderError(name, problem)
    return value


def encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), folded onto continuation lines.

    Every display name and subject goes out encoded, ASCII ones too: ``formataddr`` leaves
    an ASCII name as it is, so a name with CR/LF would have written header lines of its own.
    A word never splits a character (RFC 2047 section 5)."""
    raw = text.encode("utf-8")
    if len(raw) <= _WORD_BYTES:
        return f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if size + n > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(ch)
        size += n
    words.append("".join(chunk))
    return _FOLD.join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def _address(name: str, addr: str) -> str:
    return f"{encoded_words(name)}{_FOLD}<{addr}>" if name else addr


@lru_cache(maxsize=64)
def _sender(sender: str) -> tuple[str, str, str]:
    """(From header value, envelope address, Message-ID domain) of the configured ``from``:
    parsed once, not once per message."""
    _checked("From", sender)
    name, addr = parseaddr(sender)
    addr = addr or sender
    if not addr.isascii():
        raise HeaderError("From", f"the From address {addr!r} is not ASCII (SMTPUTF8 is not used)")
    domain = addr.rsplit("@", 1)[-1].strip(">").strip() or "notifier.local"
    return _address(name, addr), addr, domain


def message_id(key: str, sender: str) -> str:
    return f"<{key}@{_sender(sender)[2]}>"


def _b64_part(content_type: str, text: str) -> bytes:
    # One b2a call and slices, rather than base64.encodebytes' call per 57-byte line.
    encoded = binascii.b2a_base64(text.encode("utf-8"), newline=False)
    lines = b"\r\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)])
    return (f"Content-Type: {content_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .encode() + lines + b"\r\n")


@lru_cache(maxsize=256)
def _body(subject: str, text: str, html: str) -> tuple[bytes, bytes]:
    """(encoded Subject and MIME headers, multipart/alternative body) for one digest, shared
    by all its recipients."""
    b = _BOUNDARY.encode()
    body = (b"--" + b + b"\r\n" + _b64_part("text/plain", text) + b"--" + b + b"\r\n"
            + _b64_part("text/html", html) + b"--" + b + b"--\r\n")
    head = (f"Subject: {encoded_words(_checked('Subject', subject))}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{_BOUNDARY}\"\r\n")
    return head.encode("ascii"), body


def email_bytes(message: Message, sender: str) -> bytes:
    """The message as sent: multipart/alternative (text + HTML, UTF-8, base64), RFC 2047
    subject and names, and a Message-ID derived from the idempotency key.

    Raises ``HeaderError`` when a header value holds CR, LF or another control character.
    Assembled by hand, with the encoded body of a digest built once for all its recipients
    and the sender parsed once: the stdlib's EmailMessage took ~5 ms a message, more than
    the SMTP exchange itself."""
    head, body = _body(message.subject, message.text, message.html)
    sender_header, _, domain = _sender(sender)
    rcpt = _checked("To", message.recipient)
    if not rcpt.isascii():
        raise HeaderError("To", f"the To address {rcpt!r} is not ASCII (SMTPUTF8 is not used)")
    to = _address(_checked("To (department name)", message.department), rcpt) if "@" in rcpt else rcpt
    key = _checked("Message-ID", message.key)
    headers = (f"From: {sender_header}\r\nTo: {to}\r\nDate: {_date()}\r\n"
               f"Message-ID: <{key}@{domain}>\r\nX-Notifier-Key: {key}\r\n")
    return headers.encode("ascii") + head + b"\r\n" + body


_last_date: tuple[int, str] = (0, "")


def _date() -> str:
    """The Date header, formatted once per second rather than once per message."""
    global _last_date
    now = int(time.time())
    if _last_date[0] != now:
        _last_date = (now, formatdate(now, localtime=True))
    return _last_date[1]


def make_tls_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A verifying context: the system's CAs, or only ``ca_file`` when given."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


class EmailChannel:
    kind = "email"

    def __init__(self, *, host: str, port: int, security: str, sender: str,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 30.0, connections: int = 4, tls_context: ssl.SSLContext | None = None,
                 ca_file: str | Path | None = None, max_idle: float = 60.0):
        self.host, self.port, self.security, self.sender = host, port, security, sender
        self.envelope_from = parseaddr(sender)[1] or sender
        self._username, self._password = username, password
        self._timeout = timeout
        # Loading the CA store takes a while: only for a server that speaks TLS.
        self._tls = tls_context or (make_tls_context(ca_file) if security != "none" else None)
        self._ca_file = ca_file
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(connections)
        self._max_idle = max_idle
        self.connects = 0  # sessions opened (for status and tests)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self._timeout,
            use_tls=self.security == "ssl",
            start_tls=self.security == "starttls",
            tls_context=self._tls if self.security != "none" else None,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._client()
        self.connects += 1
        await client.connect()
        if self._username:
            await client.login(self._username, self._password or "")
        return client

    async def _checkout(self) -> aiosmtplib.SMTP:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since <= self._max_idle:
                return client
            _abort(client)  # stale: not worth a QUIT inside the send's deadline
        return await self._connect()

    async def send(self, message: Message) -> SendResult:
        try:
            data = email_bytes(message, self.sender)
        except HeaderError as exc:
            # Only the recipient address is the contact's fault; a department name, subject or
            # sender with a line break is fixed in the plan, the template or the config.
            return FailedForGood(f"not sent: {exc}"[:300], contact_fault=exc.header == "To")
        async with self._slots:
            client = None
            try:
                # One deadline for the whole exchange: a server that answers a byte at a time
                # would otherwise get ``timeout`` per command, and hold the row in 'sending'.
                async with asyncio.timeout(self._timeout):
                    client = await self._checkout()
                    try:
                        errors, _ = await client.sendmail(self.envelope_from, [message.recipient], data)
                    except aiosmtplib.SMTPServerDisconnected:
                        # A pooled connection the server closed while idle: one fresh connection,
                        # which is not a retry of the delivery (nothing was accepted).
                        _abort(client)
                        client = await self._connect()
                        errors, _ = await client.sendmail(self.envelope_from, [message.recipient], data)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._release(client)
                return _by_code(exc.recipients[0].code, exc.recipients[0].message) if exc.recipients \
                    else FailedForGood("recipient refused")
            except aiosmtplib.SMTPRecipientRefused as exc:
                self._release(client)
                return _by_code(exc.code, exc.message)
            except aiosmtplib.SMTPAuthenticationError as exc:
                _abort(client)
                reason = f"SMTP authentication failed at {self.host}: {exc.code} {exc.message}"[:300]
                return RetryLater(reason, contact_fault=False) if 400 <= exc.code < 500 \
                    else FailedForGood(reason, contact_fault=False)
            except aiosmtplib.SMTPSenderRefused as exc:
                self._release(client)
                return _by_code(exc.code, f"sender {self.envelope_from} refused: {exc.message}", contact_fault=False)
            except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
                # Mid-command the session's state is unknown: drop it, never pool it.
                _abort(client)
                return RetryLater(f"SMTP {self.host}:{self.port}: no complete answer within the "
                                  f"{self._timeout:g} s timeout ({type(exc).__name__})", contact_fault=False)
            except aiosmtplib.SMTPResponseException as exc:
                # A reply to the session, not to the address: greeting, EHLO, DATA.
                self._release(client)
                return _by_code(exc.code, f"{exc.message} (server {self.host})", contact_fault=False)
            except (aiosmtplib.SMTPException, OSError) as exc:
                _abort(client)
                return RetryLater(self._route_problem(exc), contact_fault=False)
            self._release(client)
        if errors:
            code, text = next(iter(errors.values()))
            return _by_code(code, text)
        return Sent(f"{self.host}: accepted")

    def _route_problem(self, exc: BaseException) -> str:
        where = f"{self.host}:{self.port}"
        cert = _cert_error(exc)
        if cert is not None:
            trust = f"ca_file {self._ca_file}" if self._ca_file else "the system's CA store"
            return (f"SMTP {where}: TLS certificate verification failed ({cert.verify_message}) "
                    f"against {trust}; if the server uses a private CA, set [email] ca_file")[:300]
        return f"SMTP {where}: {type(exc).__name__}: {str(exc)[:160]}"

    def _release(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.append((client, time.monotonic()))

    async def aclose(self) -> None:
        while self._idle:
            await _quiet_close(self._idle.pop()[0])


def _by_code(code: int, text: str, *, contact_fault: bool = True) -> SendResult:
    reason = f"SMTP {code} {text}".strip()[:300]
    return RetryLater(reason, contact_fault=contact_fault) if 400 <= code < 500 \
        else FailedForGood(reason, contact_fault=contact_fault)


async def _quiet_close(client: aiosmtplib.SMTP | None) -> None:
    """QUIT a session that worked (an idle one, at the end), waiting a few seconds at most."""
    if client is None:
        return
    try:
        await client.quit(timeout=_QUIT_SECONDS)
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        client.close()


def _abort(client: aiosmtplib.SMTP | None) -> None:
    """Drop a session that failed: no QUIT, which a stalled server would not answer either."""
    if client is not None:
        client.close()
