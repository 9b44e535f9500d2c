"""The folder channel: each message becomes a file under ``[folder] dir`` (the demo default,
and a staging mode where nothing leaves the machine). The file name is the idempotency key,
so a retry overwrites instead of adding a copy.

- A file name is at most ~200 bytes whatever the department's name (file systems allow 255):
  the department and the recipient are cut, on a character boundary, to ``NAME_BYTES`` each;
  the key keeps the name unique.
- A write that fails (a full disk, a wrong permission) is "retry later", and the route's
  fault, not the contact's; the half-written temporary file is removed. A message whose
  headers would be unsafe (a line break in a name) fails for good, as it does by e-mail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

from notifier.delivery.channels.email import email_bytes
from notifier.delivery.message import FailedForGood, HeaderError, Message, RetryLater, Sent, SendResult

NAME_BYTES = 80  # per part (department, recipient) of a file name, in UTF-8 bytes


def _safe(name: str, limit: int = NAME_BYTES) -> str:
    cleaned = re.sub(r"[^\w@.\-]+", "_", name)
    return cleaned.encode("utf-8")[:limit].decode("utf-8", "ignore") or "_"


def _write(path: Path, content: bytes) -> None:
    """Write ``content`` to a new file at ``path``, all of it or raise ``OSError``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class FolderChannel:
    kind = "folder"

    def __init__(self, directory: Path, sender: str = "notifier@localhost", fmt: str = "eml"):
        self.directory = Path(directory)
        self.sender = sender
        self.fmt = fmt  # eml for e-mail contacts, json for webhooks

    def path(self, message: Message) -> Path:
        """Where ``message`` is written."""
        day = _safe(str(message.data.get("today", "undated")))
        name = f"{_safe(message.department)}.{_safe(message.recipient)}.{message.key[:12]}.{self.fmt}"
        return self.directory / day / name

    async def send(self, message: Message) -> SendResult:
        target = self.path(message)
        try:
            if self.fmt == "eml":
                content = email_bytes(message, self.sender)
            else:
                content = json.dumps({"id": message.key, "recipient": message.recipient,
                                      "department": message.department, "subject": message.subject,
                                      "markdown": message.markdown, "data": message.data},
                                     ensure_ascii=False, indent=2).encode("utf-8")
        except HeaderError as exc:
            return FailedForGood(f"not written: {exc}"[:300], contact_fault=False)
        tmp = target.with_name(target.name + ".tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(tmp, content)
            os.replace(tmp, target)  # a reader never sees half a file
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            # A full disk or a wrong permission is the folder's problem, not the contact's,
            # and one an operator can fix: try again later.
            return RetryLater(f"cannot write {target.parent}: {exc.strerror or exc}", contact_fault=False)
        return Sent(str(target))

    async def aclose(self) -> None:
        pass
