"""Lines of a plan text as the reader sees them: the outline's numbering, web-page clutter,
and the copies' quirks undone (table bars, 【label】, 〔…〕 notes, several sub-items on one
line). Pure functions.
"""

from __future__ import annotations

import re

from notifier.importing.notes import LABEL, NOTE_WORDS, ROLE_LABELS

# The outline: chapter 一、 › group (一) › item 1. › sub-item (1).
CN_NUM = "一二三四五六七八九十"
CHAPTER = re.compile(rf"^([{CN_NUM}]+)\s*[、.]\s*(.*)$")
GROUP = re.compile(rf"^\(\s*([{CN_NUM}]+)\s*\)\s*(.*)$")
# 2.9月30日前… is item 2, but 1.8万吨… opens with a decimal number, not an item.
ITEM = re.compile(r"^(\d{1,3})\s*[.、](?!\d+\s*[%万亿千百元吨个项家倍])\s*(.*)$|^\(\s*(\d{1,3})\s*\)\s*(.*)$")
INDICATOR = re.compile(r"^[—–-]{1,2}\s*(.*)$")

# Web-page clutter: breadcrumbs, metadata tables, counters, "publish openly".
CLUTTER = re.compile(
    r"^(?:您现在(?:所在)?的位置|当前位置|所在位置|首页\s*[>›»]|索\s*引\s*号|主题分类|发文机关|成文日期|"
    r"标\s*题\s*:|发文字号|发布日期|主\s*题\s*词|发布时间|浏览次数|来源\s*:|信息来源|字号\s*[:大中小]|"
    r"【?打印|【?关闭|【?字体|分享到|\(此件(?:公开|主动公开)发布\)|\(此件主动公开\)|附件\s*[::\d]|扫一扫|"
    r"【法宝引证码】|【时效性】|返\s*回|全文$|-\s*(?:文档编号|上传时间|格式|页数|大小):)"
    r"|浏览次数|访问量|点击数|阅读次数")

# Lines as copied: table bars, 【label】, notes in 〔〕, several (1)(2) sub-items on a line.
_PIPE_END = re.compile(r"\s*\|[\s|]*$")
_PIPE_LABEL = re.compile(r"^([^|:]{2,20}):\s*\|\s*")
_BRACKET_LABEL = re.compile(r"【(" + "|".join(w for w, _ in ROLE_LABELS) + r")】\s*:?\s*")
_TRAILING_NOTE = re.compile(r"〔([^〔〕]*)〕([。;]?)$")
_SUBITEM = re.compile(r"(?<=[)。;])(?=\(\d{1,2}\)\s*[\u4e00-\u9fff])")
_SUBITEM_NUMBER = re.compile(r"\(\d{1,2}\)")
_CJK_START = re.compile(r"[\u4e00-\u9fff]")
_ROW_NUMBER = re.compile(r"\d{1,3}")
# A label alone on its line, its value on the next: 责任单位 / 卫健局、文旅局.
_LABEL_ALONE = re.compile(r"^(" + "|".join(w for w, _ in ROLE_LABELS) + r")$")
# A line that ends a sentence, a note or a title; other long lines may go on below.
_ENDED = re.compile(r"[。;:!?)”》\]]$")


def prepare(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, text) of every line, in the spelling the reader expects: table
    bars gone (``label: | value |`` -> ``label:value``), ``【牵头单位】X`` ->
    ``牵头单位:X``, a closing ``〔…〕`` note -> ``(…)``, and ``…(1)…(2)…`` on one line split
    into its sub-items (the line number stays)."""
    rows: list[tuple[int, str]] = []
    for n, raw in enumerate(lines, 1):
        if _goes_on(rows, raw.strip()):  # a paragraph wrapped by the copy: join it back
            rows[-1] = (rows[-1][0], rows[-1][1] + raw.strip())
            continue
        line = raw.strip()
        if "|" in line:
            line = _PIPE_END.sub("", _PIPE_LABEL.sub(r"\1:", line))
            line = "" if set(line) <= {"|", " "} else line
        if "【" in line:
            line = _BRACKET_LABEL.sub(lambda m: m[1] + ":", line)
        m = _TRAILING_NOTE.search(line)
        if m and NOTE_WORDS.search(m[1]):
            line = f"{line[:m.start()]}({m[1]}){m[2]}"
        parts = _SUBITEM.split(line) if line.count("(") >= 2 else [line]
        if sum(1 for p in parts if _SUBITEM_NUMBER.match(p)) >= 2:
            rows += [(n, p.strip()) for p in parts if p.strip()]
        else:
            rows.append((n, line))
    return _labels_over_values(rows)


def is_outline(line: str) -> bool:
    return bool(CHAPTER.match(line) or GROUP.match(line) or ITEM.match(line) or INDICATOR.match(line))


def _goes_on(rows: list[tuple[int, str]], line: str) -> bool:
    """``…纳入经济和社会发展规划及年度`` / ``计划。…``: the second line continues the first."""
    if not rows or not line or not _CJK_START.match(line):
        return False
    prev = rows[-1][1]
    return (len(prev) >= 30 and not _ENDED.search(prev) and not is_outline(line)
            and not LABEL.match(line) and not CLUTTER.search(line) and not _LABEL_ALONE.match(line))


def _labels_over_values(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``责任单位`` on one line and ``卫健局、文旅局`` on the next -> ``责任单位:卫健局、文旅局``;
    not inside a table's header, where the next line is another column or a row number."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(rows):
        n, line = rows[i]
        j = i + 1
        while j < len(rows) and not rows[j][1]:
            j += 1
        if (_LABEL_ALONE.match(line) and j < len(rows)
                and not _LABEL_ALONE.match(rows[j][1]) and not _ROW_NUMBER.fullmatch(rows[j][1])
                and not (out and _LABEL_ALONE.match(out[-1][1]))):
            out.append((n, f"{line}:{rows[j][1]}"))
            i = j + 1
            continue
        out.append((n, line))
        i += 1
    return out
