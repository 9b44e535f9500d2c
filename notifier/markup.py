"""Untrusted text made inert where it is shown: in chat-robot markdown and in log lines.

Plan text (task titles, milestone texts, department names), a remote server's error and a
reply form's fields come from outside. Two rules:

- **Only the template makes links.** ``markdown_context`` gives the Markdown templates a copy
  of the context in which every string is ``md_text``: the characters that make markdown
  links, images, HTML (``<font>``), emphasis and code become their full-width forms
  (``[`` -> ``［``, ``<`` -> ``＜``, ``*`` -> ``＊`` ...), as does a leading ``#``; line breaks
  become spaces, and ``://`` becomes ``:／／`` so a bare URL is not auto-linked. Full-width forms,
  not backslash escapes: DingTalk, WeCom and Feishu each render a different markdown subset
  and do not document backslash escapes, while full-width punctuation reads naturally in
  Chinese text on every one. The values the template turns into links (``link``, ``*_url``)
  are ours (signed reply links under ``[web] base_url``) and are kept as they are.
- **One line per log line.** ``one_line`` escapes line breaks and other control characters
  (``\\n``, ``\\x1b``), so a value with a newline cannot forge a log line or a history entry.
"""

from __future__ import annotations

import re
from typing import Any

# Links and images need "[", HTML and autolinks "<", emphasis and code "*", "_", "~", "`";
# "\\" could undo an escape. A "#" makes a heading only at the start of a line (so only a
# leading one is replaced: "301#泊位" stays as written, like in the text and HTML parts).
_MD_ACTIVE = str.maketrans({
    "[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "`": "｀", "~": "～", "\\": "＼",
})
_LEADING_HASH = re.compile(r"^(\s*)#")
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85\x0b\x0c]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TRUSTED_KEYS = ("link",)  # and any key ending in "_url": values we built, not plan text


def md_text(text: str) -> str:
    """``text`` as literal markdown text on one line (see the module docstring)."""
    text = _BREAKS.sub(" ", text)
    text = _CONTROL.sub("", text)
    text = _LEADING_HASH.sub(r"\1＃", text)
    return text.translate(_MD_ACTIVE).replace("://", ":／／")


def markdown_context(value: Any, key: str = "") -> Any:
    """A copy of a template context with every string but our own URLs ``md_text``-ed."""
    if isinstance(value, str):
        return value if key in TRUSTED_KEYS or key.endswith("_url") else md_text(value)
    if isinstance(value, dict):
        return {k: markdown_context(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(markdown_context(v, key) for v in value)
    return value


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def plain_line(text: str) -> str:
    """``text`` as one line of plain text: every line break and control character removed
    (a name typed into a form)."""
    return _CONTROL.sub(" ", _BREAKS.sub(" ", text))


def clean_note(text: str) -> str:
    """A free-text note as stored: line breaks kept (as ``\\n``), every other control character
    (NUL, ESC, the C1 range) removed, surrounding blanks stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", "", text).strip()
