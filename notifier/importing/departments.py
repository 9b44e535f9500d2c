"""Department names as plans write them -> clean names. Pure functions.

The rules of docs/domain.md "Department names": lists split on ``、`` ``,`` ``,`` and ``及``;
a trailing ``等`` goes; a parenthesised alias stays part of the printed name
(``市国资委(市金融办)``) and is exposed by ``aliases_of``; a historical note goes
(``盘锦海关(原盘锦出入境检验检疫局)`` -> ``盘锦海关``); a trailing verb phrase is not part
of a name (``A、B按职责分工负责``, ``C分别牵头落实``). Which printed names are one
department is the config's business, not the importer's.

``kind_of`` says what a fragment is before it may become a department: a date
(``6月底完成``), a verb phrase (``按职责分工负责``), a person's title (``分管副市长``) or a
collective name (``各县区政府``, a group the config may expand) are never created as
departments.
"""

from __future__ import annotations

import functools
import re

from notifier.importing.encoding import normalize_text

# Separators outside parentheses; ``及`` and ``和`` join two names (市统计局及市发改委).
_SEP = re.compile(r"[、,;/]|及|以及|和(?=[市县区省各])")
# (原…) / (原为…) / (前身…): a former name, not an alias.
_NOTE = re.compile(r"\((?:原|前身|现为|曾用名)[^()]*\)")
# ``X等市直相关部门``: X and a group; ``X等`` / ``X等部门``: just X.
_ETC_GROUP = re.compile(r"^(?P<a>.+?)等(?P<b>(?:各|市直|有关|相关).+)$")
_ETC_TAIL = re.compile(r"等(?:相关|有关)?(?:部门|单位)?$")
_PERSON = re.compile(r"(?:领导|同志|市长|书记|秘书长|区长|县长|镇长|局长|主任|负责人|责任人|联络员|联系人)$")
_GROUP_WORDS = ("相关", "有关", "各", "成员单位", "所属")
# What follows the names in 〔责任单位:A、B按职责分工负责〕 or (C分别牵头落实): the role,
# said in words. ``牵头`` alone is read by the callers (it makes the lead), so it stays.
_ROLE_TAIL = re.compile(r"(?:按照?职责(?:分工)?|分别|共同|具体|各自|协助|配合)?(?:牵头)?"
                        r"(?:负责(?:落实|实施)?|落实|实施|办理)$")
_DATEISH = re.compile(r"[\d年月日季底末内前旬号〇一二三四五六七八九十]")
_VERBS = re.compile(r"负责|落实|推进|完成|分工|持续|开展|实施|做好|加强|确保|配合|参与|协助")
_GROUP_NAMES = frozenset({"经济区管委会", "重点园区管委会", "县区政府", "县区", "经济区"})
_SPACE_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_SPACES = re.compile(r"\s+")
_ANGLES = str.maketrans({"<": "(", ">": ")", "〈": "(", "〉": ")"})
_ALIAS = re.compile(r"^(?P<base>[^()]+)\((?P<alias>[^()]+)\)$")
_PLACE_PREFIX = re.compile(r"^(市委|市|县|区|省)")


def split_departments(text: str | None, *, keep_persons: bool = False) -> list[str]:
    """``市发改委、市财政局等`` -> ``["市发改委", "市财政局"]``; persons are dropped unless
    ``keep_persons`` (for a caller that warns about them)."""
    return list(_split(text or "", keep_persons))


@functools.lru_cache(maxsize=4096)  # plans repeat the same lists; the result is copied
def _split(text: str, keep_persons: bool) -> tuple[str, ...]:
    # 〈〉 and <> stand for parentheses inside parentheses: 各县<市、区>人民政府.
    text = normalize_text(text).translate(_ANGLES)
    text = _NOTE.sub("", text)
    # Spaces inside Chinese names come from justified layout; English names keep theirs.
    text = _SPACE_CJK.sub("", text)
    text = _SPACES.sub(" ", text).strip(" .。:;")
    names: list[str] = []
    for part in _split_outside_parens(text):
        part = part.strip(" .。:;")
        m = _ETC_GROUP.match(part)
        pieces = [m["a"], m["b"]] if m else [part]
        for piece in pieces:
            piece = _ETC_TAIL.sub("", strip_role_words(piece)).strip()
            if piece and (keep_persons or not is_person(piece)) and piece not in names:
                names.append(piece)
    return tuple(names)


def strip_role_words(name: str) -> str:
    """``省大数据中心按职责分工负责`` -> ``省大数据中心``; a name without them is unchanged."""
    stripped = _ROLE_TAIL.sub("", name.strip())
    return stripped if stripped else name.strip()


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
    """Collective names the config may expand: 各县区政府, 经济区管委会, 市直相关部门,
    市政府各部门, 全区经济运行各专班."""
    name = name.strip()
    return name in _GROUP_NAMES or any(w in name for w in _GROUP_WORDS)


@functools.lru_cache(maxsize=4096)
def kind_of(name: str) -> str:
    """What a listed fragment is: ``department``, ``group``, ``person``, ``date`` or
    ``phrase`` (words that are no name: ``按职责分工负责``, ``持续推进``). Only the first
    two may be stored as departments."""
    from notifier.importing.dates import NO_DATE_WORDS, scan_dates

    name = name.strip()
    if not name:
        return "phrase"
    if _DATEISH.search(name) and not _ORG_END.search(name):
        found, bad = scan_dates(name, 2000)
        if found or bad:
            return "date"
    if is_person(name):
        return "person"
    if is_group(name):
        return "group"
    if _ORG_END.search(aliases_of(name)[0]):
        return "department"
    if (_VERBS.search(name) or any(w in name for w in NO_DATE_WORDS)
            or len(name) > 30 or not re.search(r"[\u4e00-\u9fffA-Za-z]", name)):
        return "phrase"
    return "department"  # a name with an unusual ending is still a name (立山经济开发区)


# The endings of unit names: 委, 局, 办, 厅, 政府, 管委会, 中心, 小组, 支行…
_ORG_END = re.compile(r"(?:委|局|办|厅|院|会|政府|室|部|中心|公司|集团|站|所|署|行|队|处|组|团|社|馆|台|"
                      r"海关|法院|检察院|单位|部门|管委会|协会|银行|分局|支队|大队|科|股|区|街道|镇|乡|"
                      r"专班|指挥部|联社|联|协|工会|团委|妇联)$")


def looks_like_unit(name: str) -> bool:
    """A unit name by its ending (or a collective name): what a department note lists."""
    return bool(_ORG_END.search(aliases_of(name)[0])) or is_group(name)


_ORG_IN_TEXT = re.compile(r"(?:相关|有关|各)?[\u4e00-\u9fff]{1,10}?(?:\([^()]{1,8}\))?"
                          r"(?:人民政府|政府|管委会|委员会|委|局|办|厅|中心|街道|乡镇)")


def units_in(sentence: str) -> list[str]:
    """Unit names inside a sentence of a scope note (``具体任务均涉及相关市(州)人民政府,
    不再做分工,下同``): the words after the last verb of each clause that end like a unit."""
    names: list[str] = []
    for clause in re.split(r"[,;。]", sentence):
        clause = re.split(r"涉及|均由|由|请|为|和|及|、", clause)
        for part in clause:
            m = _ORG_IN_TEXT.fullmatch(part.strip())
            if m and m[0] not in names:
                names.append(m[0])
    return names


def is_person(name: str) -> bool:
    """A person or post (分管领导, 张三同志), not a department."""
    return bool(_PERSON.search(name.strip()))


_LEAD_MARK = re.compile(r"\((?:牵头|牵头单位|牵头部门|总牵头)\)$")


def take_lead_marks(names: list[str]) -> tuple[list[str], list[str]]:
    """``["市农委(牵头)", "市财政局"]`` -> ``(["市农委"], ["市财政局"])``: a list of
    responsible departments often marks its lead in place."""
    lead = [_LEAD_MARK.sub("", n) for n in names if _LEAD_MARK.search(n)]
    return lead, [n for n in names if not _LEAD_MARK.search(n)]
