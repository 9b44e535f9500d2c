"""``notifier test-contact DEPARTMENT``: send one test message to each of a department's
contacts, now, and say what each answered.

For checking a new or repaired contact before the next reminder depends on it. The message goes
through the very channels reminders use (``Routes``: TLS, signatures, robot formats, the folder
channel when ``[folder] divert``), but not through the outbox table: nothing is queued, retried or
recorded, the send window does not apply, and a contact marked broken stays so until a reminder
reaches it (``notifier retry`` re-queues failed reminders). A group (``members``) is tested
through its members' contacts, as reminders reach it.
"""

from __future__ import annotations

import asyncio
import difflib
import html
import uuid
from dataclasses import dataclass
from datetime import datetime

from notifier.config import Config
from notifier.delivery.message import FailedForGood, Message, RetryLater, Sent, SendResult
from notifier.delivery.routes import Routes
from notifier.reminders import contacts_of

SUBJECT = "【测试】督办提醒联系方式测试"


class UnknownDepartmentError(Exception):
    pass


@dataclass(frozen=True)
class ContactResult:
    department: str
    channel: str
    recipient: str
    result: SendResult

    @property
    def ok(self) -> bool:
        return isinstance(self.result, Sent)

    def describe(self) -> str:
        """One line in the office's words (the reason as the peer or the channel gave it)."""
        r = self.result
        if isinstance(r, Sent):
            what = "已发送" + (f"（{r.detail}）" if r.detail else "")
        elif isinstance(r, RetryLater):
            what = f"未送达，暂时失败：{r.reason}"
        else:
            what = f"未送达，失败：{r.reason}"
        return f"{self.department} {self.channel}:{self.recipient}：{what}"


def contacts_to_test(config: Config, name: str) -> list[tuple[str, str, str]]:
    """``(department, channel, recipient)`` for each contact of ``name`` (a group: of its members)."""
    dep = config.department(name)
    if dep is None:
        names = [n for d in config.departments for n in (d.name, *d.aliases)]
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"；相近的名称：{'、'.join(near)}" if near else ""
        raise UnknownDepartmentError(f"配置中没有名为「{name}」的部门（名称或别名）{hint}")
    out = [(dep.name, channel, recipient) for channel, recipient in contacts_of(config, dep.name)]
    for member in dep.members:
        out += [(member, channel, recipient) for channel, recipient in contacts_of(config, member)]
    return out


def probe_message(department: str, recipient: str, now: datetime) -> Message:
    """A message that says what it is; its key is new each time (never deduplicated)."""
    when = f"{now:%Y年%m月%d日 %H:%M}"
    text = (f"{department}：\n\n这是市政府督查室督办提醒系统发送的测试消息，用于确认本联系方式能够收到督办提醒，"
            f"无需回复。\n\n发送时间：{when}\n")
    return Message(key=f"test-{uuid.uuid4().hex}", recipient=recipient, subject=SUBJECT, text=text,
                   html=f"<p>{html.escape(text).replace(chr(10), '<br>')}</p>", markdown=text,
                   data={"kind": "test", "department": department, "sent_at": now.isoformat(timespec="seconds")},
                   department=department)


def probe_contacts(config: Config, name: str, now: datetime) -> list[ContactResult]:
    """Send the test message to every contact of ``name``, one after another."""
    contacts = contacts_to_test(config, name)

    async def go() -> list[ContactResult]:
        routes = Routes(config)
        out = []
        try:
            for department, channel_name, recipient in contacts:
                channel = routes(channel_name, recipient)
                if channel is None:
                    result: SendResult = FailedForGood(f"no {channel_name} route for {recipient!r} in the config")
                else:
                    try:
                        result = await channel.send(probe_message(department, recipient, now))
                    except Exception as exc:  # noqa: BLE001 - a channel bug is this contact's answer, not a crash
                        result = RetryLater(f"internal error: {type(exc).__name__}")
                out.append(ContactResult(department, channel_name, recipient, result))
        finally:
            await routes.aclose()
        return out

    return asyncio.run(go())
