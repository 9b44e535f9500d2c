"""Department names as plans write them -> clean names. Pure functions.

The rules of domain.md "Department names": lists split on ``、`` ``,`` ``,`` and ``及``;
a trailing ``等`` goes; a parenthesised alias stays part of the printed name
(``市国资委(市金融办)``) and is exposed by ``aliases_of``; a historical note goes
(``盘锦海关(原盘锦出入境检验检疫局)`` -> ``盘锦海关``). Which printed names are one
department is the config's business, not the importer's.
"""

from __future__ import annotations

import re

from notifier.importing.encoding import normalize_text

# Separators outside parentheses; ``及`` and ``和`` join two names (市统计局及市发改委).
_SEP = re.compile(r"[、,;/]|及|以及|和(?=[市县区省各])")
# (原…) / (原为…) / (前身…): a former name, not an alias.
_NOTE = re.compile(r"\((?:原|前身|现为|曾用名)[^()]*\)")
# ``X等市直相关部门``: X and a group; ``X等`` / ``X等部门``: just X.
_ETC_GROUP = re.compile(r"^(?P<a>.+?)等(?P<b>(?:各|市直|有关|相关).+)$")
_ETC_TAIL = re.compile(r"等(?:相关|有关)?(?:部门|单位)?$")
_PERSON = re.compile(r"(?:领导|同志|市长|书记|秘书长|区长|县长|局长|主任|负责人|联络员)$")
_GROUP_WORDS = ("相关", "有关", "直各", "各部门", "各单位", "成员单位", "所属")
_GROUP_NAMES = frozenset({"经济区管委会", "重点园区管委会", "县区政府", "县区", "经济区"})
_ALIAS = re.compile(r"^(?P<base>[^()]+)\((?P<alias>[^()]+)\)$")
_PLACE_PREFIX = re.compile(r"^(市委|市|县|区|省)")


def split_departments(text: str | None) -> list[str]:
    """``市发改委、市财政局等`` -> ``["市发改委", "市财政局"]``; persons are dropped."""
    text = _NOTE.sub("", normalize_text(text or ""))
    # Spaces inside Chinese names come from justified layout; English names keep theirs.
    text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text)
    text = re.sub(r"\s+", " ", text).strip(" .。:;")
    names: list[str] = []
    for part in _split_outside_parens(text):
        part = part.strip(" .。:;")
        m = _ETC_GROUP.match(part)
        pieces = [m["a"], m["b"]] if m else [part]
        for piece in pieces:
            piece = _ETC_TAIL.sub("", piece).strip()
            if piece and not is_person(piece) and piece not in names:
                names.append(piece)
    return names


def _split_outside_parens(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    last = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            m = _SEP.match(text, i)
            if m:
                parts.append(text[last:i])
                last = i = m.end()
                continue
        i += 1
    parts.append(text[last:])
    return [p for p in parts if p]


def aliases_of(name: str) -> list[str]:
    """``市国资委(市金融办)`` -> ``["市国资委", "市金融办"]``; a name without an alias
    -> ``[name]``. An alias printed without its place (``市国资委(金融办)``) also
    gets the base's prefix (``市金融办``), the way the issuer meant it."""
    m = _ALIAS.match(name.strip())
    if not m:
        return [name.strip()]
    base, alias = m["base"].strip(), m["alias"].strip()
    out = [base, alias]
    prefix = _PLACE_PREFIX.match(base)
    if prefix and not _PLACE_PREFIX.match(alias):
        out.append(prefix[1] + alias)
    return out


def is_group(name: str) -> bool:
    """Collective names the config may expand: 各县区政府, 经济区管委会, 市直相关部门."""
    name = name.strip()
    return (name.startswith("各") or name in _GROUP_NAMES
            or any(w in name for w in _GROUP_WORDS))


def is_person(name: str) -> bool:
    """A person or post (分管领导, 张三同志), not a department."""
    return bool(_PERSON.search(name.strip()))


_LEAD_MARK = re.compile(r"\((?:牵头|牵头单位|牵头部门|总牵头)\)$")


def take_lead_marks(names: list[str]) -> tuple[list[str], list[str]]:
    """``["市农委(牵头)", "市财政局"]`` -> ``(["市农委"], ["市财政局"])``: a list of
    responsible departments often marks its lead in place."""
    lead = [_LEAD_MARK.sub("", n) for n in names if _LEAD_MARK.search(n)]
    return lead, [n for n in names if not _LEAD_MARK.search(n)]
