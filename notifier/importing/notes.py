"""Department notes: who a task's units are, as a plan writes them. Pure functions.

A note is a label block (``牵头单位:X;责任单位:Y``), a label inside brackets, or a closing
note in words (``(市农委牵头,市财政局、市水务局负责)``). Reading one gives the units by
role, the date when it is the note's last field (``…,6月底完成``), the fragments that are
no unit (a date, a person's title, ``按职责分工负责``) set aside for a warning, and whether
the note ends in ``下同`` (its units go on to the tasks below).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from notifier.importing.departments import (
    kind_of,
    looks_like_unit,
    split_departments,
    take_lead_marks,
)

# Label words, longest first so 牵头责任单位 is not read as 责任单位. Persons are
# matched too, so that their names never reach a department list.
ROLE_LABELS: list[tuple[str, str]] = sorted(
    [(w, "lead") for w in ("牵头单位", "牵头部门", "牵头责任单位", "牵头责任部门", "牵头科室")]
    + [(w, "responsible") for w in ("责任单位", "责任部门", "主体责任单位", "主责单位", "主责部门",
                                    "实施单位", "责任主体", "责任科室", "责任处室", "负责科室",
                                    "主办单位", "承办单位", "主要责任单位")]
    + [(w, "cooperating") for w in ("配合单位", "配合部门", "协同责任单位", "协同单位", "协办单位",
                                    "协助单位", "协作单位", "参与单位", "参加单位", "协同配合单位",
                                    "主要协作单位", "主要配合单位")]
    # A note in words after a label: 部门分工:省农业农村厅牵头,各地、各部门配合.
    + [(w, "note") for w in ("部门分工", "责任分工", "任务分工")]
    + [(w, "due") for w in ("时间节点", "完成时限", "完成时间", "时限要求", "时间要求", "时限",
                            "完成期限", "进度安排", "年度阶段性工作目标", "阶段性工作目标")]
    + [(w, "task") for w in ("重点工作", "工作任务", "主要任务", "任务内容", "具体任务")]
    + [(w, "person") for w in ("牵头负责领导", "牵头领导", "责任领导", "分管领导", "负责领导",
                               "牵头市领导", "联系人", "责任人", "包抓领导", "分管负责人",
                               "联系电话")],
    key=lambda p: -len(p[0]))
LABEL_ROLE = dict(ROLE_LABELS)
# A label and its colon, at the start of a line or after punctuation or a bracket.
LABEL = re.compile(r"(?:^|(?<=[\s;,。(、]))(" + "|".join(w for w, _ in ROLE_LABELS) + r")\s*:\s*")
# The role a note says in words, at the end of a segment: 市农委牵头, 市财政局负责.
ROLE_WORD = re.compile(r"(分别牵头落实|分别牵头负责|牵头落实|牵头负责|牵头|按照?职责(?:分工)?(?:负责|落实)|"
                       r"分别负责|共同负责|负责落实|负责实施|负责|配合落实|配合|参与|协助|协同)$")
# A note whose units go on to the following tasks.
SCOPE = re.compile(r"下同|不再(?:一一|逐一|逐项|重复)?列出|以下均需")
# A note may state the rule it follows: 排名第一位为牵头单位 (the first listed leads).
FIRST_LEADS = re.compile(r"^(?:排名|排|列|排在|列在|名列)?(?:第一位?|首位|第一个|第一)的?(?:单位|部门)?"
                         r"(?:为|是)牵头(?:单位|部门)$")
_BY = re.compile(r"^(?:由|请)")  # (由市发改委牵头)
# Words that make a bracketed text a department note.
NOTE_WORDS = re.compile("|".join(w for w, _ in ROLE_LABELS) + r"|牵头|负责|配合")


@dataclass(frozen=True)
class Note:
    """A department note read from brackets or labels: roles, a date field, leftovers."""

    lead: list[str]
    responsible: list[str]
    cooperating: list[str]
    due: str = ""  # the date field (6月底完成, 年内持续推进)
    dropped: tuple[tuple[str, str], ...] = ()  # (fragment, kind) that are no department
    carry: bool = False  # the note ends in 下同: its units go on to the tasks below


def split_labels(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """``text`` before its first label, and (role, label, value) for each label."""
    found = list(LABEL.finditer(text))
    if not found:
        return text, []
    labels = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        value = text[m.end():end].strip().rstrip(";,。 ")
        if value.count(")") > value.count("("):  # the label sat inside (…)
            value = value[:value.rindex(")")].rstrip(";,。 ")
        labels.append((LABEL_ROLE[m[1]], m[1], value))
    body = text[:found[0].start()].rstrip(" (")
    return body, labels


def label_units(text: str, role: str) -> Note:
    """A label's value -> its units by role; a last field that is a date is the
    task's date, and fragments that are no unit are set aside."""
    fields = [f for f in top_level_split(text) if not FIRST_LEADS.match(f)]
    carry = bool(fields) and bool(SCOPE.fullmatch(fields[-1].strip(" 。")))
    if carry:
        fields.pop()
    due = ""
    if len(fields) > 1 and kind_of(fields[-1]) == "date":
        due = fields.pop()
    marked, names = take_lead_marks(split_departments("、".join(fields), keep_persons=True))
    keep, dropped = sort_units(names)
    roles: dict[str, list[str]] = {"lead": list(marked), "responsible": [], "cooperating": []}
    roles[role] += [d for d in keep if d not in roles[role]]
    return Note(roles["lead"], roles["responsible"], roles["cooperating"], due, tuple(dropped), carry)


def words_note(text: str) -> Note | None:
    """``省农业农村厅牵头,各地、各部门配合`` after a 部门分工: label -> its note."""
    found = closing_note(f"。({text.rstrip('。;')})")
    return found[1] if found else None


def closing_note(body: str) -> tuple[str, Note] | None:
    """A closing ``(…牵头,…负责[,6月底完成])`` -> (the paren text, its note)."""
    s = body.rstrip(" 。;,")
    if not s.endswith(")"):
        return None
    depth, i = 0, len(s) - 1
    while i >= 0:
        depth += {")": 1, "(": -1}.get(s[i], 0)
        if depth == 0:
            break
        i -= 1
    if i < 0:
        return None
    inner = s[i + 1:-1]
    if ":" in inner or len(inner) > 200:
        return None
    roles: dict[str, list[str]] = {"lead": [], "responsible": [], "cooperating": []}
    pending: list[str] = []
    due = ""
    segments = top_level_split(inner)
    carry = bool(segments) and bool(SCOPE.fullmatch(segments[-1].strip(" 。")))
    if carry:
        segments.pop()
    segments = [seg for seg in segments if not FIRST_LEADS.match(seg.strip())]
    for k, seg in enumerate(segments):
        seg = _BY.sub("", seg.strip())
        m = ROLE_WORD.search(seg)
        if not m and k == len(segments) - 1 and k > 0 and kind_of(seg) == "date" and not pending:
            due = seg  # the last field is the date: 6月底完成, 年内持续推进
            continue
        pending.append(seg[:m.start()] if m else seg)
        if m:
            word = m[1]
            role = ("lead" if "牵头" in word else
                    "cooperating" if word in ("配合", "配合落实", "参与", "协助", "协同") else "responsible")
            for part in pending:
                roles[role] += [d for d in split_departments(part, keep_persons=True)
                                if d not in roles[role]]
            pending = []
    if pending and any(p.strip() for p in pending):
        # Units listed with no role word, closing a sentence: (教育局,农办,各县政府).
        bare = [d for part in pending for d in split_departments(part)]
        if not (s[:i].rstrip().endswith(("。", ";")) and bare and all(looks_like_unit(d) for d in bare)):
            return None  # trailing words that are no role: an aside, not a department list
        roles["responsible"] += [d for d in bare if d not in roles["responsible"]]
    names = roles["lead"] + roles["responsible"] + roles["cooperating"]
    if not names or not all(looks_like_unit(d) or kind_of(d) == "person" for d in names):
        return None
    dropped: list[tuple[str, str]] = []
    for role in roles:
        roles[role], out = sort_units(roles[role])
        dropped += out
    return s[i:], Note(roles["lead"], roles["responsible"], roles["cooperating"], due,
                        tuple(dropped), carry)


def top_level_split(text: str) -> list[str]:
    """Fields of a note: split on , and ; outside parentheses."""
    parts, depth, last = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch in ",;" and depth <= 0:
            parts.append(text[last:i])
            last = i + 1
    parts.append(text[last:])
    return [p.strip() for p in parts if p.strip()]


def sort_units(names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Units to keep (departments and groups), and the fragments that are none."""
    keep, dropped = [], []
    for name in names:
        kind = kind_of(name)
        if kind in ("department", "group"):
            keep.append(name)
        else:
            dropped.append((name, kind))
    return keep, dropped
