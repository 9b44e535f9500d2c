"""Plan text (formats A, B and C of domain.md) -> PlanSpec. Pure: text in, spec out.

The reader walks the lines once, keeping the outline it is in (chapter ``一、``, group
``(一)``, item ``1.``) and decides who owns each block of department labels:

- (A) an item followed by its own labels (``牵头部门:`` … ``时间节点:``) is a task;
- (B) a group whose sub-items come first and whose labels (``完成时限:`` ``牵头单位:``)
  follow them all is one task, the sub-items being its content;
- (C) a paragraph ending in ``(市农委牵头,市财政局、市水务局负责)`` is a task; without
  ``牵头`` every named department is responsible and the first leads;
- headline indicators ``——地区生产总值增长7.5%;(牵头部门:市发改委)`` are tasks
  ``指标1``… due at the date of their lead-in line (到2018年底), else the plan year end.

Milestones come from the time-node label; without one, from the dates in the task's
text; without any date, one milestone at the plan's end. Date words that do not read
become warnings that name the line, never guesses. A recurring report outside any
task (``每月25日前向市发改委报送``) becomes a task led by the office it is sent to,
with a warning so the admin checks that choice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date

from notifier.importing.dates import (
    DatePhrase,
    cn_number,
    last_occurrence,
    scan_dates,
)
from notifier.importing.departments import (
    aliases_of,
    is_group,
    split_departments,
    take_lead_marks,
)
from notifier.importing.encoding import normalize_text
from notifier.importing.model import MilestoneSpec, PlanFormatError, PlanSpec, Problem, TaskSpec
from notifier.importing.table import plan_period

_CN_NUM = "一二三四五六七八九十"
_CHAPTER = re.compile(rf"^([{_CN_NUM}]+)\s*[、.]\s*(.*)$")
_GROUP = re.compile(rf"^\(\s*([{_CN_NUM}]+)\s*\)\s*(.*)$")
# 2.9月30日前… is item 2, but 1.8万吨… opens with a decimal number, not an item.
_ITEM = re.compile(r"^(\d{1,3})\s*[.、](?!\d+\s*[%万亿千百元吨个项家倍])\s*(.*)$|^\(\s*(\d{1,3})\s*\)\s*(.*)$")
_INDICATOR = re.compile(r"^[—–-]{1,2}\s*(.*)$")

# Label words, longest first so 牵头责任单位 is not read as 责任单位. Persons are
# matched too, so that their names never reach a department list.
_ROLE_LABELS: list[tuple[str, str]] = sorted(
    [(w, "lead") for w in ("牵头单位", "牵头部门", "牵头责任单位", "牵头责任部门", "牵头科室")]
    + [(w, "responsible") for w in ("责任单位", "责任部门", "主体责任单位", "主责单位", "主责部门",
                                    "实施单位", "责任主体")]
    + [(w, "cooperating") for w in ("配合单位", "配合部门", "协同责任单位", "协同单位", "协办单位",
                                    "协助单位", "协作单位", "参与单位", "参加单位")]
    + [(w, "due") for w in ("时间节点", "完成时限", "完成时间", "时限要求", "时间要求", "时限",
                            "完成期限", "进度安排")]
    + [(w, "person") for w in ("牵头负责领导", "牵头领导", "责任领导", "分管领导", "负责领导",
                               "牵头市领导", "联系人", "责任人")],
    key=lambda p: -len(p[0]))
_LABEL_ROLE = dict(_ROLE_LABELS)
_LABEL = re.compile(r"(?:^|(?<=[\s;,。(、]))(" + "|".join(w for w, _ in _ROLE_LABELS) + r")\s*:\s*")

# Web-page clutter: breadcrumbs, metadata tables, counters, "publish openly".
_CLUTTER = re.compile(
    r"^(?:您现在(?:所在)?的位置|当前位置|首页\s*[>›»]|索\s*引\s*号|主题分类|发文机关|成文日期|"
    r"标\s*题\s*:|发文字号|发布日期|主\s*题\s*词|发布时间|浏览次数|来源\s*:|信息来源|字号\s*[:大中小]|"
    r"【?打印|【?关闭|【?字体|分享到|\(此件公开发布\)|附件\s*[::\d]|扫一扫)"
    r"|浏览次数|访问量")
_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{2,8})\s*[〔\[【(]\s*(\d{4})\s*[〕\]】)]\s*(\d{1,4})\s*号")
_NOTICE = re.compile(r"^(?:.*?号\s*)?(?P<issuer>[^\s:]*?)关于(?:印发|转发|下发)(?P<name>.+?)的通知$")
_DATE_LINE = re.compile(r"^([\d〇零○一二三四五六七八九]{4})\s*年\s*([\d一二三四五六七八九十]{1,3})\s*月"
                        r"\s*([\d一二三四五六七八九十]{1,3})\s*日$")
_PLAN_WORDS = re.compile(r"(?:方案|计划|规划|要点|意见|安排|清单|任务分解表|措施)(?:\([^()]*\))?$")
_ISSUER_END = re.compile(r"(?:人民政府|政府办公室|政府办公厅|办公室|办公厅|委员会|政府|局|厅|委)$")
_ROLE_WORD = re.compile(r"(牵头负责|牵头|分别负责|按职责分工负责|负责|配合|参与|协助|协同)$")
_ORG_END = re.compile(r"(?:委|局|办|厅|院|会|政府|室|部|中心|公司|集团|站|所|署|行|队|处|组|团|社|馆|台|"
                      r"海关|法院|检察院|单位|部门|管委会|协会|银行|分局|支队|大队)$")
_PRECISE = re.compile(r"月|季度|半年|\d[-/.]\d")
_RECEIVER = re.compile(r"向\s*([^\s,;。、向]{2,20}?(?:委|局|办|厅|室|部|中心|政府|管委会))\s*(?:报送|报告|上报|提交)")


@dataclass
class _Item:
    number: str
    text: str
    line: int
    task: TaskSpec | None = None


@dataclass
class _Group:
    label: str  # "(一)"
    text: str
    line: int
    chapter: str
    items: list[_Item] = field(default_factory=list)
    task: TaskSpec | None = None
    extra: list[tuple[int, str]] = field(default_factory=list)  # paragraphs after the heading


@dataclass
class _Pending:
    """A milestone whose date may still depend on the plan's end (recurring, none)."""

    task: TaskSpec
    phrase: DatePhrase | None
    text: str
    line: int


@dataclass
class _Meta:
    name: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    issued_on: date | None = None
    title_line: int | None = None


class _Reader:
    def __init__(self, lines: list[str], year: int, ends_on: date) -> None:
        self.lines = lines
        self.year = year
        self.ends_on = ends_on
        self.tasks: list[TaskSpec] = []
        self.groups: dict[int, _Group] = {}  # id(task) -> its group (for numbering)
        self.chapters: dict[int, str] = {}
        self.warnings: list[Problem] = []
        self.pending: list[_Pending] = []
        self.has_due: set[int] = set()  # id(task) with a time-node label
        self.task_year: dict[int, int] = {}  # id(task) -> the last year its phrases printed
        self.chapter_head: tuple[str, str, int] | None = None  # 一、… not yet a task
        self.chapter = ""
        self.group: _Group | None = None
        self.open_items: list[_Item] = []
        self.owner: TaskSpec | None = None
        self.indicators = 0
        self.lead_in: list[DatePhrase] = []
        self.loose = 0

    # --- the walk -------------------------------------------------------------
    def run(self, start: int) -> None:
        for no in range(start, len(self.lines)):
            line = self.lines[no].strip()
            if not line or _CLUTTER.search(line):
                continue
            self.step(no + 1, line)
        self.close_group()

    def step(self, n: int, line: str) -> None:
        m = _CHAPTER.match(line)
        if m and len(line) <= 40 and not _LABEL.search(line):
            self.close_group()
            self.chapter = m[1]
            self.chapter_head = (m[1], m[2], n)
            self.owner = None
            return
        m = _GROUP.match(line)
        if m:
            self.close_group()
            self.group = _Group(f"({m[1]})", m[2], n, self.chapter)
            self.chapter_head = None
            self.open_items, self.owner = [], None
            body, labels = self.split_labels(m[2])
            if labels or self.inline(body):
                self.group.task = self.new_task(self.group.label, body, n)
                self.finish_inline(self.group.task, body, labels, n)
            return
        m = _ITEM.match(line)
        if m:
            number, body = (m[1], m[2]) if m[1] else (f"({m[3]})", m[4])
            item = _Item(number, body, n)
            self.open_items.append(item)
            self.chapter_head = None
            if self.group:
                self.group.items.append(item)
            self.owner = None
            body, labels = self.split_labels(body)
            if labels or self.inline(body):
                item.task = self.new_task(number, body, n)
                self.finish_inline(item.task, body, labels, n)
            return
        m = _INDICATOR.match(line)
        if m:
            body, labels = self.split_labels(m[1])
            inline = self.inline(body)
            if labels or inline:
                self.indicators += 1
                task = self.new_task(f"指标{self.indicators}", body, n)
                self.finish_inline(task, body, labels, n, indicator=True)
                self.owner = None
                return
        body, labels = self.split_labels(line)
        if labels and not body.strip(" ;,。"):
            self.apply_labels(labels, n)
            return
        if labels or self.inline(body):  # a C paragraph without a number
            self.loose += 1
            prefix = self.group.label if self.group else ""
            task = self.new_task(f"{prefix}{self.loose}", body, n)
            self.finish_inline(task, body, labels, n)
            return
        self.plain(n, line)

    def plain(self, n: int, line: str) -> None:
        """A paragraph that is no task: part of the open item or group, or a lead-in."""
        if self.open_items and self.owner is None and self.open_items[-1].task is None:
            self.open_items[-1].text += "\n" + line
        elif self.group and self.group.task is None and not self.group.items:
            self.group.extra.append((n, line))
        elif self.owner is None and not self.group:
            self.report_task(n, line, None)
        found, _ = scan_dates(line, self.year)
        self.lead_in = found if line.rstrip().endswith(":") else []

    # --- labels ---------------------------------------------------------------
    @staticmethod
    def split_labels(text: str) -> tuple[str, list[tuple[str, str, str]]]:
        """``text`` before its first label, and (role, label, value) for each label."""
        found = list(_LABEL.finditer(text))
        if not found:
            return text, []
        labels = []
        for i, m in enumerate(found):
            end = found[i + 1].start() if i + 1 < len(found) else len(text)
            value = text[m.end():end].strip().rstrip(";,。 ")
            if value.count(")") > value.count("("):  # the label sat inside (…)
                value = value[:value.rindex(")")].rstrip(";,。 ")
            labels.append((_LABEL_ROLE[m[1]], m[1], value))
        body = text[:found[0].start()].rstrip(" (")
        return body, labels

    def apply_labels(self, labels: list[tuple[str, str, str]], n: int) -> None:
        task = self.owner or self.claim(n)
        if task is None:
            self.warnings.append(Problem(n, f"{labels[0][1]} without a task above it; ignored"))
            return
        self.owner = task
        for role, label, value in labels:
            self.set_role(task, role, label, value, n)

    def claim(self, n: int) -> TaskSpec | None:
        """Who owns a label block: the lone item above it (A), or the group whose
        sub-items came first (B)."""
        g = self.group
        fresh = [it for it in self.open_items if it.task is None]
        if g and g.task is None and (len(fresh) >= 2 or not fresh) and not any(
                it.task for it in g.items):
            text = "\n".join([g.text] + [t for _, t in g.extra]
                             + [f"{it.number}.{it.text}" for it in g.items])
            g.task = self.new_task(g.label, g.text, g.line, text=text)
            self.precise_subitem_dates(g)
            self.open_items = []
            return g.task
        if fresh:
            item = fresh[-1]
            item.task = self.new_task(item.number, item.text, item.line)
            self.open_items = []
            return item.task
        if g is None and self.chapter_head:  # 一、… used as a task number
            number, text, line = self.chapter_head
            self.chapter_head = None
            return self.new_task(number, text, line)
        return None

    def set_role(self, task: TaskSpec, role: str, label: str, value: str, n: int) -> None:
        if role == "person" or not value:
            return
        source = f"line {n}: {label}:{value}"
        if role == "due":
            self.has_due.add(id(task))
            self.time_nodes(task, value, n)
            task.evidence.setdefault("due", source)
            return
        marked, names = take_lead_marks(split_departments(value))
        for r, group in (("lead", marked), (role, names)):
            target = getattr(task, r)
            target += [d for d in group if d not in target]
            if group:
                task.evidence.setdefault(r, source)

    # --- inline (C) -------------------------------------------------------------
    def inline(self, body: str) -> tuple[str, list[str], list[str], list[str]] | None:
        """A closing ``(…牵头,…负责)`` -> (paren text, lead, responsible, cooperating)."""
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
        for seg in re.split(r"[,;]", inner):
            seg = re.sub(r"^(?:由|请)", "", seg.strip())
            m = _ROLE_WORD.search(seg)
            pending.append(seg[:m.start()] if m else seg)
            if m:
                word = m[1]
                role = ("lead" if word.startswith("牵头") else
                        "cooperating" if word in ("配合", "参与", "协助", "协同") else "responsible")
                for part in pending:
                    roles[role] += [d for d in split_departments(part) if d not in roles[role]]
                pending = []
        if pending and any(p.strip() for p in pending):
            return None  # trailing words that are no role: an aside, not a department list
        names = roles["lead"] + roles["responsible"] + roles["cooperating"]
        if not names or not all(_ORG_END.search(aliases_of(d)[0]) or is_group(d) for d in names):
            return None
        return s[i:], roles["lead"], roles["responsible"], roles["cooperating"]

    def finish_inline(self, task: TaskSpec, body: str, labels: list[tuple[str, str, str]],
                      n: int, indicator: bool = False) -> None:
        found = self.inline(body)
        if found:
            paren, lead, resp, coop = found
            text = body.rstrip(" 。;,")[: -len(paren)].rstrip(" ;,。")
            task.text = text
            task.title = _title_of(text)
            task.lead += [d for d in lead if d not in task.lead]
            task.responsible += [d for d in resp if d not in task.responsible]
            task.cooperating += [d for d in coop if d not in task.cooperating]
            for role, names in (("lead", lead), ("responsible", resp), ("cooperating", coop)):
                if names:
                    task.evidence.setdefault(role, f"line {n}: {paren}")
        else:
            task.text = body.rstrip(" ;,。")
            task.title = _title_of(task.text)
        for role, label, value in labels:
            self.set_role(task, role, label, value, n)
        if indicator and id(task) not in self.has_due:
            due = self.lead_in[-1] if self.lead_in else None
            self.has_due.add(id(task))
            self.pending.append(_Pending(task, due, task.title, n))
        self.owner = task

    # --- tasks and milestones ----------------------------------------------------
    def new_task(self, number: str, body: str, n: int, text: str | None = None) -> TaskSpec:
        task = TaskSpec(number=number, title=_title_of(body), text=text or body.strip(), line=n)
        task.evidence["title"] = f"line {n}: {self.lines[n - 1].strip()[:120]}"
        self.tasks.append(task)
        if self.group:
            self.groups[id(task)] = self.group
        self.chapters[id(task)] = self.chapter
        return task

    def time_nodes(self, task: TaskSpec, value: str, n: int) -> None:
        # A year missing from a phrase comes from the nearest earlier one in this task.
        year = self.task_year.get(id(task), self.year)
        found, bad = scan_dates(value, year)
        for d in found:
            if d.year_given:
                self.task_year[id(task)] = d.due.year
        for b in bad:
            self.warnings.append(Problem(n, f'cannot read date "{b.phrase}" ({b.reason})'))
        if not found:
            if not bad:
                self.pending.append(_Pending(task, None, task.title, n))
            return
        for k, d in enumerate(found):
            end = found[k + 1].start if k + 1 < len(found) else len(value)
            tail = value[d.end:end].strip(" ,;。、")
            text = tail if len(tail) > 4 else task.title + (f":{tail}" if tail else "")
            self.pending.append(_Pending(task, d, text, n))

    def precise_subitem_dates(self, g: _Group) -> None:
        """B: a sub-item with its own month or day (12月末前推荐申报…) is a milestone."""
        assert g.task is not None
        for it in g.items:
            found, bad = scan_dates(it.text, self.year)
            for b in bad:
                self.warnings.append(Problem(it.line, f'cannot read date "{b.phrase}" ({b.reason})'))
            for d in found:
                if _PRECISE.search(d.phrase):
                    self.pending.append(_Pending(g.task, d, _clause(it.text, d), it.line))

    def text_dates(self, task: TaskSpec) -> None:
        """A task without a time-node label: the dates inside its text (format C)."""
        n = task.line or 0
        found, bad = scan_dates(task.text, self.year)
        for b in bad:
            self.warnings.append(Problem(n, f'cannot read date "{b.phrase}" ({b.reason})'))
        seen = set()
        for d in found:
            key = (d.due, d.recurrence)
            if key not in seen:
                seen.add(key)
                self.pending.append(_Pending(task, d, _clause(task.text, d), n))

    def report_task(self, n: int, text: str, number: str | None) -> None:
        """A recurring report outside every task: led by the office it goes to."""
        found, _ = scan_dates(text, self.year)
        recurring = [d for d in found if d.recurrence]
        if not recurring:
            return
        m = _RECEIVER.search(text)
        if not m:
            self.warnings.append(Problem(n, f'recurring "{recurring[0].phrase}" names no department; '
                                            "not imported"))
            return
        receiver = split_departments(m[1])
        task = self.new_task(number or f"报告{n}", text, n)
        task.lead = receiver
        task.evidence["lead"] = f"line {n}: {m[0]}"
        self.warnings.append(Problem(n, f"recurring report {recurring[0].phrase!r} without a 牵头 "
                                        f"label: lead taken from {m[0]!r}, please check"))
        for d in recurring:
            self.pending.append(_Pending(task, d, _clause(text, d), n))
        self.has_due.add(id(task))

    def close_group(self) -> None:
        g = self.group
        if g is not None and g.task is None and not any(it.task for it in g.items):
            text = "\n".join([g.text] + [t for _, t in g.extra])
            self.report_task(g.line, text, g.label)
        elif g is not None and g.task is None:
            for it in g.items:
                if it.task is None and _LABEL.search(it.text) is None:
                    found, _ = scan_dates(it.text, self.year)
                    if any(_PRECISE.search(d.phrase) for d in found):
                        self.warnings.append(Problem(it.line, f"item {it.number} has dates but no "
                                                              "department; not imported"))
        self.group = None
        self.open_items = []
        self.owner = None

    def collect_text_dates(self) -> None:
        for task in self.tasks:
            if id(task) not in self.has_due:
                self.text_dates(task)

    def finish(self) -> None:
        for p in self.pending:
            if p.phrase is None:
                p.task.milestones.append(MilestoneSpec(self.ends_on, p.text, "", p.line))
            elif p.phrase.recurrence:
                due = last_occurrence(p.phrase.recurrence, self.ends_on)
                p.task.milestones.append(MilestoneSpec(due, p.text, p.phrase.phrase, p.line,
                                                       p.phrase.recurrence))
            else:
                p.task.milestones.append(MilestoneSpec(p.phrase.due, p.text, p.phrase.phrase, p.line))
        for task in self.tasks:
            if not task.milestones:
                task.milestones.append(MilestoneSpec(self.ends_on, task.title, "", task.line))
        self.number_uniquely()

    def number_uniquely(self) -> None:
        """Items numbered 1, 2… again in each group become (一)1, (二)1…; a number
        that still repeats (a second chapter's (四)) gets its chapter: 三(四)."""
        counts: dict[str, int] = {}
        for t in self.tasks:
            counts[t.number] = counts.get(t.number, 0) + 1
        numbered = re.compile(r"^\(?\d")
        if any(c > 1 and numbered.match(n) for n, c in counts.items()):
            # Numbering restarts in each group: prefix every numbered item alike.
            for t in self.tasks:
                g = self.groups.get(id(t))
                if g and numbered.match(t.number):
                    t.number = g.label + t.number
        seen: set[str] = set()
        for t in self.tasks:
            if t.number in seen and self.chapters.get(id(t)):
                t.number = self.chapters[id(t)] + t.number
            seen.add(t.number)


def _title_of(text: str) -> str:
    """First sentence, at most 60 characters: 提升港口能力能级。…… -> 提升港口能力能级."""
    first = re.split(r"[。;\n]", text.strip(), maxsplit=1)[0].strip(" ,:")
    return first if len(first) <= 60 else first[:60] + "…"


def _clause(text: str, d: DatePhrase) -> str:
    """The words around a date phrase, i.e. what is due then: its comma clause, and
    the next one when the clause is little more than the phrase (到2020年,新建…)."""
    start = max(text.rfind(c, 0, d.start) for c in "。;\n") + 1
    ends = [i for i in (text.find(c, d.end) for c in "。;\n") if i != -1]
    sentence_end = min(ends) if ends else len(text)
    c_start = max(start, text.rfind(",", 0, d.start) + 1)
    c_end = text.find(",", d.end, sentence_end)
    c_end = sentence_end if c_end == -1 else c_end
    if c_end - c_start - len(d.phrase) <= 2 and c_end < sentence_end:
        nxt = text.find(",", c_end + 1, sentence_end)
        c_end = sentence_end if nxt == -1 else nxt
    clause = text[c_start:c_end].strip(" ,:")
    return clause or text[start:sentence_end].strip(" ,")


# --- metadata ---------------------------------------------------------------------
def read_meta(lines: list[str]) -> _Meta:
    meta = _Meta()
    head = lines[:60]
    for ln in head:
        m = _DOC_NUMBER.search(ln)
        if m:
            meta.doc_number = f"{m[1]}〔{m[2]}〕{m[3]}号"
            break
    for ln in head:
        m = _NOTICE.match(re.sub(r"^标\s*题\s*:\s*", "", ln.strip()))
        if m:
            meta.name = m["name"].strip().strip("《》")
            issuer = _DOC_NUMBER.sub("", m["issuer"]).strip()
            meta.issuer = issuer or None
            break
    for i, ln in enumerate(head):
        m = _DATE_LINE.match(ln.strip())
        if m:
            try:
                meta.issued_on = date(cn_number(m[1]), cn_number(m[2]), cn_number(m[3]))
            except (ValueError, KeyError):
                continue
            prev = next((p.strip() for p in reversed(head[:i]) if p.strip()), "")
            if _ISSUER_END.search(prev) and len(prev) <= 30:
                meta.issuer = prev
            break
    for i, ln in enumerate(lines[:80]):
        s = ln.strip()
        if _CHAPTER.match(s) or _GROUP.match(s) or _ITEM.match(s) or _LABEL.search(s):
            break  # the outline has begun: a title comes before it
        if (s and len(s) <= 60 and _PLAN_WORDS.search(s) and not _CLUTTER.search(s)
                and not s.startswith(("关于", "《"))):
            if meta.name is None or s == meta.name or meta.title_line is None:
                meta.title_line = i
                meta.name = meta.name or s
                if s == meta.name:
                    break
    return meta


def text_to_plan(text: str, *, source: str, year: int | None = None,
                 plan_name: str | None = None) -> PlanSpec:
    """Plan text (already decoded) -> PlanSpec; raises ``PlanFormatError`` when no
    task can be found or the year cannot be told."""
    text = normalize_text(text)
    lines = text.split("\n")
    meta = read_meta(lines)
    name = plan_name or meta.name or re.sub(r"\.[A-Za-z]+$", "", source)
    start = (meta.title_line + 1) if meta.title_line is not None else 0
    # Years printed where deadlines are: time-node labels and inline department notes.
    due_lines = [ln for ln in lines[start:] if _LABEL.search(ln) or ln.rstrip(" 。;").endswith(")")]
    explicit = [str(d.due.year) + "年" for ln in due_lines for d in scan_dates(ln, 0)[0]
                if d.year_given]
    fallback = [f"{meta.issued_on.year}年"] if meta.issued_on else (
        [meta.doc_number[meta.doc_number.index("〔") + 1:][:4] + "年"] if meta.doc_number else [])
    period = plan_period(" ".join(filter(None, [plan_name, meta.name])), year,
                         explicit or fallback)
    if period is None:
        raise PlanFormatError(f"{source}: no year in the title or the dates; pass --year")
    plan_year, starts_on, ends_on = period
    reader = _Reader(lines, plan_year, ends_on)
    reader.run(start)
    if not reader.tasks:
        raise PlanFormatError(f"{source}: no task found (no 牵头/责任 labels and no "
                              "(…牵头,…负责) notes)")
    reader.collect_text_dates()
    # A plan whose title names no year or span runs to its last dated milestone.
    title_years = re.findall(r"\d{4}", " ".join(filter(None, [plan_name, meta.name])))
    if year is None and not title_years:
        last = max((p.phrase.due for p in reader.pending if p.phrase and not p.phrase.recurrence),
                   default=ends_on)
        if last.year > ends_on.year:
            reader.ends_on = ends_on = date(last.year, 12, 31)
    reader.finish()
    for t in reader.tasks:
        if not t.lead:
            if t.responsible:
                t.lead = t.responsible[:1]  # domain.md: the first named department leads
                t.evidence.setdefault("lead", t.evidence.get("responsible", ""))
            else:
                reader.warnings.append(Problem(t.line, f"task {t.number} names no department"))
    return PlanSpec(
        name=name, year=plan_year, starts_on=starts_on, ends_on=ends_on,
        doc_number=meta.doc_number, issuer=meta.issuer, issued_on=meta.issued_on,
        tasks=reader.tasks, warnings=reader.warnings,
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest())
