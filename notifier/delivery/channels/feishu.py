"""Feishu / Lark (飞书) custom group bot.

Sources (checked with the search tool):
- 自定义机器人使用指南, https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
  (Chinese copy: open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN):
  ``POST https://open.feishu.cn/open-apis/bot/v2/hook/{hook_id}``; the hook id is the
  credential. Signature: ``timestamp`` (seconds, within 1 hour) and
  ``sign = base64(HmacSHA256(key=f"{timestamp}\\n{secret}", msg=""))``, both at the top
  level of the JSON body. Limits: 100 requests/minute and 5/second per bot; request body at
  most 20 KB; avoid sending exactly on the hour or half hour or risk code 11232 (rate
  limit). Errors: 9499 "Bad Request" (malformed body or over 20 KB), 19021 "sign match
  fail or timestamp is not within one hour", 19022 "Ip Not Allowed", 19024 "Key Words Not
  Found". Signing code as in leesinz/Athena notifications/feishu.py (``gen_sign``).
- Markdown: an interactive card with a ``markdown`` element; ``post`` rich text has no
  markdown tag. Headings (``#`` … ``######``) render in card markdown only in **card JSON
  2.0**: 富文本组件 (JSON 1.0), open.feishu.cn/document/uAjLw4CM/ukzMukzMukzM/feishu-cards/
  card-components/content-components/rich-text: "富文本组件中的标题、引用、行内引用、表格、数字角标等
  语法仅支持在 JSON 2.0 结构的富文本组件中使用" (also 飞书卡片更新说明, …/feishu-card-release-notes),
  so we
  send 2.0: ``"schema": "2.0"`` with the elements under ``body`` (卡片 JSON 2.0 版本更新说明,
  …/feishu-cards/card-json-v2-breaking-changes-release-notes: "JSON 2.0 版本新增 body 字段，
  elements 属性放置在 body 层级下"; unknown properties are an error in 2.0, so the card has
  only ``schema``, ``header`` and ``body``). Clients before 7.20 show the header and an
  "upgrade" placeholder. Mentions in card markdown: ``<at id=open_id_or_user_id></at>``
  (Feishu bot FAQ, apifox.com/apidoc/docs-site/532425/doc-1944903).
- The title is not repeated: the card header shows the subject, so a heading that opens the
  markdown (our templates start with one, for DingTalk and WeCom) is left out of the card.
- 11232 answers in the wild read "frequency limited psm[…]"; a message like that is a rate
  limit whatever its code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from notifier.delivery.channels.robot_common import (
    ErrorCodes,
    RobotChannel,
    json_len,
    split_markdown,
    title_for,
)
from notifier.delivery.message import Message

BODY_LIMIT_BYTES = 20000  # "不能超过 20 KB": stay under 20,000 to be safe either way

FEISHU_CODES = ErrorCodes(
    code_field="code",
    message_field="msg",
    # 11233 is in the brief but not in the documentation found; kept as transient.
    retry=frozenset({11232, 11233}),
    retry_after={},
)


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """Base64 HMAC-SHA256 with key ``f"{timestamp}\\n{secret}"`` over an empty message."""
    key = f"{timestamp_s}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class FeishuChannel(RobotChannel):
    """Markdown cards to a Feishu group bot; ``secret`` is the "签名校验" secret or None.

    ``at_user_ids`` are open_ids (``ou_…``) or user ids, mentioned on the first part of a
    split message. Feishu mentions by id only, so ``at_mobiles`` is ignored.
    """

    kind = "feishu"
    codes = FEISHU_CODES
    rate_per_minute = 100
    rate_per_second = 5
    mentions_by_mobile = False
    hide_url_path_tail = True

    def _mention_text(self) -> str:
        if not self.at_user_ids:
            return ""
        return "\n" + "".join(f"<at id={uid}></at>" for uid in self.at_user_ids)

    def _body(self, title: str, content: str, timestamp: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if timestamp is not None and self._secret:
            body["timestamp"] = str(timestamp)
            body["sign"] = feishu_sign(timestamp, self._secret)
        body["msg_type"] = "interactive"
        body["card"] = {
            "schema": "2.0",
            "header": {"title": {"tag": "plain_text", "content": title}},
            "body": {"elements": [{"tag": "markdown", "content": content}]},
        }
        return body

    def _split(self, message: Message) -> list[str]:
        # The limit is on the whole request body: measure the envelope with the longest
        # title a split can produce and a placeholder signature of the real length.
        envelope = self._body(message.subject + "（999/999）", "", 9_999_999_999)
        overhead = len(json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())
        limit = BODY_LIMIT_BYTES - overhead - json_len(self._mention_text())
        return split_markdown(without_title(message.markdown or message.text), limit, size=json_len)

    def _request(self, message: Message, parts: list[str], index: int) -> tuple[str, dict[str, Any]]:
        content = parts[index] + (self._mention_text() if index == 0 else "")
        timestamp = int(self._clock()) if self._secret else None
        title = title_for(message.subject, index, len(parts))
        return self._url, self._body(title, content, timestamp)


_TITLE = re.compile(r"\A\s*#{1,6} [^\n]*\n+")


def without_title(markdown: str) -> str:
    """The markdown without the heading it opens with: the card header shows the subject."""
    return _TITLE.sub("", markdown, count=1)
