"""The one fake seam of the delivery tests: an in-memory channel. What it proves is then proved
again against real servers (tests/support/servers.py)."""

from __future__ import annotations

from collections.abc import Callable

from notifier.delivery.message import Message, SendResult, Sent


class Recorder:
    """An in-memory channel: keeps every message it is given and answers from a script.
    ``answers`` maps a recipient to its results in order (the last one repeats); a recipient
    without a script is always ``Sent()``. ``on_send`` sees each message as it is sent."""

    kind = "recorder"

    def __init__(self, answers: dict[str, list[SendResult]] | None = None,
                 on_send: Callable[[Message], object] | None = None):
        self.answers = answers or {}
        self.messages: list[Message] = []
        self.on_send = on_send

    async def send(self, message: Message) -> SendResult:
        self.messages.append(message)
        if self.on_send:
            self.on_send(message)
        script = self.answers.get(message.recipient, [Sent()])
        return script.pop(0) if len(script) > 1 else script[0]

    async def aclose(self) -> None:
        pass
