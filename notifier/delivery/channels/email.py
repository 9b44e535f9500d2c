"""E-mail over SMTP (aiosmtplib): multipart text + HTML, a UTF-8 subject, and a Message-ID
derived from the idempotency key so a duplicate after a crash is recognisable.

Connections are pooled and reused across a batch; certificates are verified (an explicit
``ssl.create_default_context()``). A 4xx reply is "retry later", a 5xx "failed for good".
"""

from __future__ import annotations

import asyncio
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from notifier.delivery.message import FailedForGood, Message, RetryLater, Sent, SendResult


def message_id(key: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "notifier.local"
    return f"<{key}@{domain}>"


def build_email(message: Message, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = message.subject
    msg["From"] = sender
    msg["To"] = Address(display_name=message.department, addr_spec=message.recipient) if "@" in message.recipient \
        else message.recipient
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id(message.key, sender)
    msg["X-Notifier-Key"] = message.key
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


class EmailChannel:
    kind = "email"

    def __init__(self, *, host: str, port: int, security: str, sender: str,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 30.0, connections: int = 4, tls_context: ssl.SSLContext | None = None):
        self.host, self.port, self.security, self.sender = host, port, security, sender
        self._username, self._password = username, password
        self._timeout = timeout
        self._tls = tls_context or ssl.create_default_context()
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self._timeout,
            use_tls=self.security == "ssl",
            start_tls=True if self.security == "starttls" else False,
            tls_context=self._tls if self.security != "none" else None,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._client()
        await client.connect()
        if self._username:
            await client.login(self._username, self._password or "")
        return client

    async def send(self, message: Message) -> SendResult:
        email = build_email(message, self.sender)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is not None and not client.is_connected:
                    client = None
                if client is None:
                    client = await self._connect()
                try:
                    errors, _ = await client.send_message(email)
                except aiosmtplib.SMTPServerDisconnected:
                    # A pooled connection the server closed while idle: one fresh connection,
                    # which is not a retry of the delivery (nothing was accepted).
                    client = await self._connect()
                    errors, _ = await client.send_message(email)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._release(client)
                return _by_code(exc.recipients[0].code, exc.recipients[0].message) if exc.recipients \
                    else FailedForGood("recipient refused")
            except aiosmtplib.SMTPAuthenticationError as exc:
                await _quiet_close(client)
                return FailedForGood(f"SMTP authentication failed: {exc.code}")
            except aiosmtplib.SMTPResponseException as exc:
                self._release(client)
                return _by_code(exc.code, exc.message)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                await _quiet_close(client)
                return RetryLater(f"SMTP: {type(exc).__name__}: {str(exc)[:160]}")
            self._release(client)
        if errors:
            code, text = next(iter(errors.values()))
            return _by_code(code, text)
        return Sent(f"{self.host}: accepted")

    def _release(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.append(client)

    async def aclose(self) -> None:
        while self._idle:
            await _quiet_close(self._idle.pop())


def _by_code(code: int, text: str) -> SendResult:
    reason = f"SMTP {code} {text}".strip()[:300]
    return RetryLater(reason) if 400 <= code < 500 else FailedForGood(reason)


async def _quiet_close(client: aiosmtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        await client.quit()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        client.close()
