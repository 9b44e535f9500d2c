"""Which channel object carries a (channel, recipient) pair, built from the config.

A ``Routes`` lives as long as the daemon, in one event loop: the HTTP client's keep-alive
connections, the SMTP session pool, and each chat robot's pacing state and accepted parts
belong to channel instances that must survive from one dispatcher pass to the next.
``reconfigure`` (SIGHUP) keeps every channel whose config did not change.
"""

from __future__ import annotations

import asyncio
import importlib

import httpx

from notifier.config import Config, EmailConfig, WebhookConfig
from notifier.delivery.channels.email import EmailChannel
from notifier.delivery.channels.http_results import Interrupt
from notifier.delivery.channels.robot_common import RobotChannel
from notifier.delivery.channels.folder import FolderChannel
from notifier.delivery.channels.webhook import WebhookChannel
from notifier.delivery.message import Channel

# After SIGTERM, how long a pass may take to record what was interrupted before it is
# cancelled (rows still in flight then keep their lease and are claimed again when it ends).
STOP_GRACE_SECONDS = 2.0

ROBOTS = {  # kind -> (module, class); each robot takes the same constructor arguments
    "dingtalk": ("notifier.delivery.channels.dingtalk", "DingTalkChannel"),
    "wecom": ("notifier.delivery.channels.wecom", "WeComChannel"),
    "feishu": ("notifier.delivery.channels.feishu", "FeishuChannel"),
}


class Routes:
    """Owns the shared HTTP client, the SMTP pool and the channel instances; close with
    ``aclose``. Bound to the event loop it is first used in (network connections are)."""

    def __init__(self, config: Config, *, tls_verify: bool | str = True):
        self.config = config
        self._tls_verify = tls_verify
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._webhooks: dict[str, tuple[WebhookConfig, Channel]] = {}
        self._email: tuple[EmailConfig, EmailChannel] | None = None
        self._folder: dict[str, FolderChannel] = {}
        # Set by SIGTERM (``interrupt()``): HTTP requests in flight end at once as retries.
        self._interrupt = Interrupt()
        self._build_folder()

    def _build_folder(self) -> None:
        sender = self.config.email.sender if self.config.email else "notifier@localhost"
        self._folder = {"email": FolderChannel(self.config.folder_dir, sender, "eml"),
                        "webhook": FolderChannel(self.config.folder_dir, sender, "json")}

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop or loop.is_closed():
            raise RuntimeError("Routes is used from another event loop than the one it was first used in: "
                               "create it once inside the daemon's long-lived loop, not per asyncio.run()")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            n = self.config.delivery.concurrency
            self._client = httpx.AsyncClient(verify=self._tls_verify, follow_redirects=False,
                                             limits=httpx.Limits(max_connections=n * 2, max_keepalive_connections=n))
        return self._client

    def __call__(self, channel: str, recipient: str) -> Channel | None:
        self._bind()
        if self.config.folder_divert:
            return self._folder.get(channel)
        if channel == "email":
            e = self.config.email
            if e is None:
                return None
            if self._email is None:
                self._email = (e, EmailChannel(host=e.host, port=e.port, security=e.security, sender=e.sender,
                                               username=e.username,
                                               password=e.password.reveal() if e.password else None,
                                               timeout=e.timeout, connections=e.connections, ca_file=e.ca_file))
            return self._email[1]
        if channel == "webhook":
            if recipient not in self._webhooks:
                hook = self.config.webhooks.get(recipient)
                if hook is None:
                    return None
                self._webhooks[recipient] = (hook, self._make_webhook(hook))
            return self._webhooks[recipient][1]
        return None

    def _make_webhook(self, hook: WebhookConfig) -> Channel:
        secret = hook.secret.reveal() if hook.secret else None
        if hook.kind == "json":
            return WebhookChannel(hook.name, hook.url.reveal(), secret, client=self.client, timeout=hook.timeout,
                                  interrupt=self._interrupt)
        module, cls = ROBOTS[hook.kind]
        robot: type[RobotChannel] = getattr(importlib.import_module(module), cls)
        return robot(hook.name, hook.url.reveal(), secret, client=self.client, timeout=hook.timeout,
                     at_mobiles=hook.at_mobiles, at_user_ids=hook.at_user_ids, interrupt=self._interrupt)

    def interrupt(self) -> None:
        """Stopping (SIGTERM), callable from any thread: every HTTP request in flight, and any
        later one, ends at once as ``RetryLater`` ("interrupted"), so the pass records it and
        ends; the row is tried again by the next pass."""
        self._interrupt.set()

    async def reconfigure(self, config: Config) -> None:
        """Use a new config (SIGHUP). Channels whose section is unchanged are kept, with their
        connections, pacing state and accepted parts; changed or removed ones are closed."""
        old, self.config = self.config, config
        for name, (hook, ch) in list(self._webhooks.items()):
            if config.webhooks.get(name) != hook:
                del self._webhooks[name]
                await ch.aclose()
        if self._email is not None and self._email[0] != config.email:
            _, ch = self._email
            self._email = None
            await ch.aclose()
        sender = (config.email and config.email.sender, old.email and old.email.sender)
        if old.folder_dir != config.folder_dir or sender[0] != sender[1]:
            self._build_folder()

    async def aclose(self) -> None:
        if self._email is not None:
            await self._email[1].aclose()
            self._email = None
        for _, ch in self._webhooks.values():
            await ch.aclose()
        self._webhooks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
