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
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path

import aiosmtplib

from notifier.delivery.message import FailedForGood, Message, RetryLater, Sent, SendResult


def message_id(key: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "notifier.local"
    return f"<{key}@{domain}>"


def _address(name: str, addr: str) -> str:
    return formataddr((name, addr), charset="utf-8") if name else addr


def _b64_part(content_type: str, text: str) -> bytes:
    return (f"Content-Type: {content_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .encode() + base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n"))


@lru_cache(maxsize=256)
def _body(subject: str, text: str, html: str) -> tuple[bytes, bytes]:
    """(encoded Subject header, multipart/alternative body) for one digest, shared by all its
    recipients. The boundary contains "=_", which base64 and encoded words never do."""
    boundary = "=_notifier_" + hashlib.sha256(f"{subject}|{text}|{html}".encode()).hexdigest()[:24]
    b = boundary.encode()
    body = (b"--" + b + b"\r\n" + _b64_part("text/plain", text) + b"--" + b + b"\r\n"
            + _b64_part("text/html", html) + b"--" + b + b"--\r\n")
    head = (f"Subject: {Header(subject, 'utf-8', header_name='Subject').encode(linesep=chr(13) + chr(10))}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n")
    return head.encode("ascii"), body


def email_bytes(message: Message, sender: str) -> bytes:
    """The message as sent: multipart/alternative (text + HTML, UTF-8, base64), RFC 2047
    subject and names, and a Message-ID derived from the idempotency key.

    Assembled by hand: the stdlib's EmailMessage took ~5 ms a message, more than the SMTP
    exchange itself; the encoded body of a digest is built once for all its recipients."""
    head, body = _body(message.subject, message.text, message.html)
    name, addr = parseaddr(sender)
    to = _address(message.department, message.recipient) if "@" in message.recipient else message.recipient
    headers = (f"From: {_address(name, addr or sender)}\r\nTo: {to}\r\nDate: {formatdate(localtime=True)}\r\n"
               f"Message-ID: {message_id(message.key, sender)}\r\nX-Notifier-Key: {message.key}\r\n")
    return headers.encode("ascii") + head + b"\r\n" + body


def make_tls_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A verifying context: the system's CAs, or only ``ca_file`` when given."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
        exc = exc.__cause__ or exc.__context__
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
        self._tls = tls_context or make_tls_context(ca_file)
        self._ca_file = ca_file
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(connections)
        self._max_idle = max_idle
        self.connects = 0  # sessions opened (for status and tests)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self._timeout,
            use_tls=self.security == "ssl",
            start_tls=True if self.security == "starttls" else False,
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
            await _quiet_close(client)
        return await self._connect()

    async def send(self, message: Message) -> SendResult:
        data = email_bytes(message, self.sender)
        async with self._slots:
            client = None
            try:
                client = await self._checkout()
                try:
                    errors, _ = await client.sendmail(self.envelope_from, [message.recipient], data)
                except aiosmtplib.SMTPServerDisconnected:
                    # A pooled connection the server closed while idle: one fresh connection,
                    # which is not a retry of the delivery (nothing was accepted).
                    await _quiet_close(client)
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
                await _quiet_close(client)
                reason = f"SMTP authentication failed at {self.host}: {exc.code} {exc.message}"[:300]
                return RetryLater(reason, contact_fault=False) if 400 <= exc.code < 500 \
                    else FailedForGood(reason, contact_fault=False)
            except aiosmtplib.SMTPSenderRefused as exc:
                self._release(client)
                return _by_code(exc.code, f"sender {self.envelope_from} refused: {exc.message}", contact_fault=False)
            except aiosmtplib.SMTPResponseException as exc:
                # A reply to the session, not to the address: greeting, EHLO, DATA.
                self._release(client)
                return _by_code(exc.code, f"{exc.message} (server {self.host})", contact_fault=False)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                await _quiet_close(client)
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
    if client is None:
        return
    try:
        await client.quit()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        client.close()
