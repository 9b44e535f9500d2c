"""The file channel: each message becomes a file under ``[outbox] dir`` (the demo default,
and a staging mode where nothing leaves the machine). The file name is the idempotency key,
so a retry overwrites instead of adding a copy."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from notifier.delivery.channels.email import email_bytes
from notifier.delivery.message import FailedForGood, Message, Sent, SendResult


def _safe(name: str) -> str:
    return re.sub(r"[^\w@.\-]+", "_", name)[:80]


class OutboxChannel:
    kind = "outbox"

    def __init__(self, directory: Path, sender: str = "notifier@localhost", fmt: str = "eml"):
        self.directory = Path(directory)
        self.sender = sender
        self.fmt = fmt  # eml for e-mail contacts, json for webhooks

    async def send(self, message: Message) -> SendResult:
        day = str(message.data.get("today", "undated"))
        folder = self.directory / day
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if self.fmt == "eml":
                content = email_bytes(message, self.sender)
            else:
                content = json.dumps({"id": message.key, "recipient": message.recipient,
                                      "department": message.department, "subject": message.subject,
                                      "markdown": message.markdown, "data": message.data},
                                     ensure_ascii=False, indent=2).encode("utf-8")
            target = folder / f"{_safe(message.department)}.{_safe(message.recipient)}.{message.key[:12]}.{self.fmt}"
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, target)  # a reader never sees half a file
        except OSError as exc:
            # A full disk or a wrong permission is the outbox's problem, not the contact's.
            return FailedForGood(f"cannot write {folder}: {exc.strerror}", contact_fault=False)
        return Sent(str(target))

    async def aclose(self) -> None:
        pass
