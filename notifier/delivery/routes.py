"""Which channel object carries a (channel, recipient) pair, built from the config."""

from __future__ import annotations

import importlib

import httpx

from notifier.config import Config
from notifier.delivery.channels.email import EmailChannel
from notifier.delivery.channels.outbox import OutboxChannel
from notifier.delivery.channels.webhook import WebhookChannel
from notifier.delivery.message import Channel

ROBOTS = {  # kind -> (module, class); each robot takes the same constructor arguments
    "dingtalk": ("notifier.delivery.channels.dingtalk", "DingTalkChannel"),
    "wecom": ("notifier.delivery.channels.wecom", "WeComChannel"),
    "feishu": ("notifier.delivery.channels.feishu", "FeishuChannel"),
}


class Routes:
    """Owns the shared HTTP client and the SMTP pool; close with ``aclose``."""

    def __init__(self, config: Config, *, tls_verify: bool | str = True):
        self.config = config
        self._client = httpx.AsyncClient(verify=tls_verify, follow_redirects=False,
                                         limits=httpx.Limits(max_connections=config.delivery.concurrency * 2,
                                                             max_keepalive_connections=config.delivery.concurrency))
        self._webhooks: dict[str, Channel] = {}
        self._email: EmailChannel | None = None
        sender = config.email.sender if config.email else "notifier@localhost"
        self._outbox = {"email": OutboxChannel(config.outbox_dir, sender, "eml"),
                        "webhook": OutboxChannel(config.outbox_dir, sender, "json")}

    def __call__(self, channel: str, recipient: str) -> Channel | None:
        if self.config.outbox_divert:
            return self._outbox.get(channel)
        if channel == "email":
            if self.config.email is None:
                return None
            if self._email is None:
                e = self.config.email
                self._email = EmailChannel(host=e.host, port=e.port, security=e.security, sender=e.sender,
                                           username=e.username,
                                           password=e.password.reveal() if e.password else None,
                                           timeout=e.timeout, connections=e.connections)
            return self._email
        if channel == "webhook":
            if recipient not in self._webhooks:
                hook = self.config.webhooks.get(recipient)
                if hook is None:
                    return None
                self._webhooks[recipient] = self._make_webhook(hook)
            return self._webhooks[recipient]
        return None

    def _make_webhook(self, hook) -> Channel:  # noqa: ANN001
        secret = hook.secret.reveal() if hook.secret else None
        if hook.kind == "json":
            return WebhookChannel(hook.name, hook.url.reveal(), secret, client=self._client, timeout=hook.timeout)
        module, cls = ROBOTS[hook.kind]
        robot = getattr(importlib.import_module(module), cls)
        return robot(hook.name, hook.url.reveal(), secret, client=self._client,
                     at_mobiles=hook.at_mobiles, at_user_ids=hook.at_user_ids)

    async def aclose(self) -> None:
        if self._email is not None:
            await self._email.aclose()
        for ch in self._webhooks.values():
            await ch.aclose()
        await self._client.aclose()
