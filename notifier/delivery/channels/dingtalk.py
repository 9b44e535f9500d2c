"""DingTalk (钉钉) custom group robot.

Sources (checked with the search tool):
- Signing, official text as mirrored on apifox.com/apidoc/docs-site/467052/doc-3550006 and
  https://open.dingtalk.com/document/orgapp/customize-robot-security-settings:
  string_to_sign = f"{timestamp}\\n{secret}", HmacSHA256 keyed with the secret, Base64, then
  urlEncode; timestamp in milliseconds, within 1 hour; both appended to the webhook URL as
  ``&timestamp=…&sign=…``. Same algorithm in zhuifengshen/DingtalkChatbot
  dingtalkchatbot/chatbot.py (``update_webhook``: ``quote_plus(base64.b64encode(hmac))``).
- Message body and mentions: https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
  (markdown: ``{"msgtype":"markdown","markdown":{"title","text"},"at":{"atMobiles",
  "atUserIds","isAtAll"}}``); an @ only shows and notifies when ``@<mobile>`` (or
  ``@<userid>``) is also written in the text — DingtalkChatbot appends them the same way.
- Limits and errors: 20 messages/minute per robot, then throttled for 10 minutes (same
  page). Codes from the official table (as used in several SDKs found with the search tool,
  e.g. a Go client's ``parseError`` and the C# ``DingTalkResultErrCodeEnum``): 400013 group
  dissolved, 400101 access_token does not exist, 400102 robot disabled, 400105 unsupported
  type, 400106 robot not found, 410100 "发送速度太快而限流", 430101–430104 unsafe content;
  310000 = security check failed with errmsg "keywords not in content" / "sign not match" /
  "invalid timestamp" / "ip X not in whitelist". Seen in practice: 130101 "send too fast,
  exceed 20 times per minute", 300001/300005 "token is not exist", -1 system busy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

from notifier.delivery.channels.robot_common import (
    ErrorCodes,
    RobotChannel,
    split_markdown,
    title_for,
    utf8_len,
)
from notifier.delivery.message import Message

# The markdown ``text`` limit: DingTalk documents ~20000 bytes for a message.
TEXT_LIMIT_BYTES = 20000

DINGTALK_CODES = ErrorCodes(
    code_field="errcode",
    message_field="errmsg",
    retry=frozenset({-1, 130101, 410100}),
    # Over 20/minute the robot is throttled for 10 minutes: retrying sooner only fails.
    retry_after={130101: 600.0, 410100: 600.0},
)


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """Base64 HMAC-SHA256 over ``f"{timestamp}\\n{secret}"`` keyed with the secret (not yet
    URL-encoded)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkChannel(RobotChannel):
    """Markdown messages to a DingTalk group robot; ``url`` is the webhook with its
    ``access_token``; ``secret`` is the "加签" secret (``SEC…``) or None.

    Mentions (``at_mobiles``, ``at_user_ids``) go on the first part of a split message only,
    both in ``at`` and as ``@…`` at the end of the text, as DingTalk requires.
    """

    kind = "dingtalk"
    codes = DINGTALK_CODES
    rate_per_minute = 20

    def _mention_text(self) -> str:
        names = [*self.at_mobiles, *self.at_user_ids]
        return "\n\n" + " ".join(f"@{n}" for n in names) if names else ""

    def _split(self, message: Message) -> list[str]:
        text = message.markdown or message.text
        limit = TEXT_LIMIT_BYTES - utf8_len(self._mention_text())
        return split_markdown(text, limit)

    def _request(self, message: Message, parts: list[str], index: int) -> tuple[str, dict[str, Any]]:
        first = index == 0
        body = {
            "msgtype": "markdown",
            "markdown": {
                "title": title_for(message.subject, index, len(parts)),
                "text": parts[index] + (self._mention_text() if first else ""),
            },
            "at": {
                "atMobiles": list(self.at_mobiles) if first else [],
                "atUserIds": list(self.at_user_ids) if first else [],
                "isAtAll": False,
            },
        }
        url = self._url
        if self._secret:
            timestamp = int(round(self._clock() * 1000))
            sign = quote_plus(dingtalk_sign(timestamp, self._secret))
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        return url, body
