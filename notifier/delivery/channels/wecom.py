"""WeCom (企业微信) group robot.

Sources (checked with the search tool):
- 群机器人配置说明, https://developer.work.weixin.qq.com/document/path/91770 (stored copy:
  work.weixin.qq.com/api/doc/90000/90136/91770; current text mirrored in several READMEs
  found with the search tool): ``POST …/cgi-bin/webhook/send?key=KEY``, no signature (the
  key in the URL is the credential); content at most 4096 bytes, UTF-8; 20 messages/minute
  per robot, counted whether or not a message succeeds.
- Two markdown types. ``markdown`` (the legacy type) renders headings, bold, links, inline
  code, quotes and three ``<font color>`` colours, and is the type where
  "机器人的text/markdown类型消息支持在content中使用<@userid>扩展语法来@群成员"; it has **no list
  syntax**. ``markdown_v2`` adds lists (``- `` and ``1. ``), multi-level quotes, images,
  tables, code blocks and rules, but has no ``<font>`` and no ``<@userid>`` mentions.
  Body: ``{"msgtype":"markdown_v2","markdown_v2":{"content":…}}``.
- Error codes, 全局错误码 https://developer.work.weixin.qq.com/document/path/90313: -1 system
  busy (retry), 45009 "api freq out of limit", 40008 invalid msgtype, 93000 "invalid
  webhook url" (seen verbatim in wes-lin/Cloud189Checkin issue #175).

Choice: our digests are numbered lists, so a robot without mentions gets ``markdown_v2``.
A robot with ``at_user_ids`` gets the legacy ``markdown`` type (the only one that mentions),
with the list markers rewritten as plain text ("1. " -> "1、", "- " -> "・"), so no line
depends on list syntax the type does not have. ``at_mobiles`` cannot be honoured without a
plain text message (which would lose the formatting and halve the size limit to 2048
bytes): it is ignored, with a warning when the channel is built.
"""

from __future__ import annotations

import re
from typing import Any

from notifier.delivery.channels.robot_common import (
    ErrorCodes,
    RobotChannel,
    split_markdown,
    utf8_len,
)
from notifier.delivery.message import Message

CONTENT_LIMIT_BYTES = 4096

WECOM_CODES = ErrorCodes(
    code_field="errcode",
    message_field="errmsg",
    retry=frozenset({-1, 45009}),
    retry_after={},
)


class WeComChannel(RobotChannel):
    """Markdown messages to a WeCom group robot. ``url`` holds the key; ``secret`` is
    unused (WeCom robots have no signature) and may be None."""

    kind = "wecom"
    codes = WECOM_CODES
    rate_per_minute = 20
    mentions_by_mobile = False

    def _mention_text(self) -> str:
        if not self.at_user_ids:
            return ""
        return "\n" + "".join(f"<@{uid}>" for uid in self.at_user_ids)

    def _split(self, message: Message) -> list[str]:
        text = message.markdown or message.text
        if self.at_user_ids:  # the legacy type (see _request): rewritten before it is measured
            text = without_lists(text)
        return split_markdown(text, CONTENT_LIMIT_BYTES - utf8_len(self._mention_text()))

    def _request(self, message: Message, parts: list[str], index: int) -> tuple[str, dict[str, Any]]:
        if self.at_user_ids:  # only the legacy type mentions; it has no lists
            content = parts[index] + (self._mention_text() if index == 0 else "")
            return self._url, {"msgtype": "markdown", "markdown": {"content": content}}
        return self._url, {"msgtype": "markdown_v2", "markdown_v2": {"content": parts[index]}}


_ORDERED = re.compile(r"^(\s*)(\d+)\. ", re.M)
_BULLET = re.compile(r"^(\s*)[-*+] ", re.M)


def without_lists(markdown: str) -> str:
    """List markers as plain text, for the legacy ``markdown`` type: "1. " -> "1、",
    "- " -> "・" (a byte longer each: applied before the message is split to fit)."""
    return _BULLET.sub(r"\1・", _ORDERED.sub(r"\1\2、", markdown))
