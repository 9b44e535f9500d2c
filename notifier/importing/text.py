"""Plan text (the layouts of docs/domain.md) -> PlanSpec. Pure: text in, spec out.

The reader walks the lines once, keeping the outline it is in (chapter ``一、``, group
``(一)``, item ``1.``) and decides who owns each block of department labels:

- (A) an item followed by its own labels (``牵头部门:`` … ``时间节点:``) is a task;
- (B) a group whose sub-items come first and whose labels (``完成时限:`` ``牵头单位:``)
  follow them all is one task, the sub-items being its content;
- (C) a paragraph ending in ``(市农委牵头,市财政局、市水务局负责)`` is a task; without
  ``牵头`` every named department is responsible and the first leads;
- headline indicators ``——地区生产总值增长7.5%;(牵头部门:市发改委)`` are tasks
  ``指标1``… due at the date of their lead-in line (到2018年底), else the plan year end;
- department notes in other brackets, ``〔责任单位:A、B按职责分工负责〕``, ``【牵头单位】X``,
  with a date as their last field (``…,6月底完成``); a note without ``牵头`` is led by the
  unit listed first (the common rule "列第一位的为牵头单位"), and says so;
- a note standing on its own line after a paragraph (``市发改委牵头落实``);
- ``一、X牵头工作(8项)``: X leads every task under that heading;
- ``下同`` / ``不再列出``: the units of that note go on to the following tasks;
- one ``(责任单位:…)`` line after sub-items ``(1)…(4)`` applies to each of them;
- a short heading ``(一)积极实施精准脱贫开发`` over a paragraph is that task's title;
- tables copied as text go to ``text_table``.

Milestones come from the time-node label; without one, from the dates in the task's
text; without any date, one milestone at the plan's end. The plan's period comes from
its title (``2017—2020年``, ``“十四五”``, ``2023年``) and 文号 first; targets in the body
(``到2030年``) are milestones, never the period. Each task records how sure the reader
is of its lead and date (``model.Basis``); a fragment that is no department name (a
date, ``按职责分工负责``, a person's title) is a warning naming its line, never a
department. Date words that do not read become warnings that name the line, never
guesses. A recurring report outside any task (``每月25日前向市发改委报送``), inside the
plan's outline, becomes a task led by the office it is sent to, with a warning so the
admin checks that choice; the covering notice's reporting requests are no tasks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date

from notifier.importing.dates import (
    DatePhrase,
    five_year_span,
    last_occurrence,
    scan_dates,
)
from notifier.importing.departments import looks_like_unit, split_departments, units_in
from notifier.importing.encoding import normalize_text
from notifier.importing.model import (
    Basis,
    MilestoneSpec,
    PlanFormatError,
    PlanSpec,
    Problem,
    TaskSpec,
)
from notifier.importing.notes import (
    LABEL,
    SCOPE,
    Note,
    closing_note,
    label_units,
    split_labels,
    words_note,
)
from notifier.importing.plan_head import Meta, period_of, read_meta
from notifier.importing.text_lines import CHAPTER, CLUTTER, GROUP, INDICATOR, ITEM, prepare
from notifier.importing.text_table import find_flat_table, table_to_plan

__all__ = ["read_meta", "text_to_plan"]  # read_meta: the .docx reader takes a plan's head from here

# 一、县示范区管委会牵头工作(8项): the heading names the lead of every task under it.
_HEADING_LEAD = re.compile(r"^(?:由)?(?P<units>[^,。;:()]{2,40}?)牵头(?:负责)?的?(?:工作|任务|事项)"
                           r"(?:\(\s*\d+\s*项\s*\))?$")
# Chapters that hold no tasks: a 下同 note stops there.
_NO_TASK_CHAPTER = re.compile(r"保障|工作要求|组织领导|组织实施|总体要求|指导思想|基本原则|工作目标|主要目标")
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
        self.bad_due: set[int] = set()  # id(task) with a date that did not read
        self.task_year: dict[int, int] = {}  # id(task) -> the last year its phrases printed
        self.chapter_head: tuple[str, str, int] | None = None  # 一、… not yet a task
        self.chapter = ""
        self.chapter_lead: list[str] = []  # 一、X牵头工作: X
        self.group: _Group | None = None
        self.open_items: list[_Item] = []
        self.owner: TaskSpec | None = None
        self.owned: list[TaskSpec] = []  # tasks one label block applies to ((1)…(4))
        self.indicators = 0
        self.lead_in: list[DatePhrase] = []
        self.loose = 0
        self.outline = False  # the plan's outline (一、 (一) 1.) has begun
        self.last_plain: tuple[int, str] | None = None  # a paragraph a lone note may close
        # 下同 notes: (line, units, fill). ``fill``: the note's own units stand for the
        # tasks below that name none; else (a 下同 sentence) its units join every task.
        self.carried: list[tuple[int, Note, bool]] = []

    # --- the walk -------------------------------------------------------------
    def run(self, rows: list[tuple[int, str]]) -> None:
        for n, line in rows:
            if not line or CLUTTER.search(line):
                continue
            self.step(n, line)
        self.close_group()

    def step(self, n: int, line: str) -> None:
        m = CHAPTER.match(line)
        if m and len(line) <= 40 and not LABEL.search(line):
            self.close_group()
            self.outline = True
            self.chapter = m[1]
            self.chapter_head = (m[1], m[2], n)
            lead = _HEADING_LEAD.match(m[2].strip())
            self.chapter_lead = [d for d in split_departments(lead["units"]) if looks_like_unit(d)] if lead else []
            if _NO_TASK_CHAPTER.search(m[2]):  # 三、保障措施: 下同 stops before it
                self.carried = [c for c in self.carried if not c[2]]
            self.owner, self.last_plain = None, None
            return
        m = GROUP.match(line)
        if m:
            self.close_group()
            self.outline = True
            self.group = _Group(f"({m[1]})", m[2], n, self.chapter)
            self.chapter_head = None
            self.open_items, self.owner, self.last_plain = [], None, None
            body, labels = split_labels(m[2])
            if labels or closing_note(body) or (self.fills() and not _is_heading(body)):
                self.group.task = self.new_task(self.group.label, body, n)
                self.finish_inline(self.group.task, body, labels, n)
            return
        m = ITEM.match(line)
        if m:
            self.outline = True
            number, body = (m[1], m[2]) if m[1] else (f"({m[3]})", m[4])
            item = _Item(number, body, n)
            self.open_items.append(item)
            self.chapter_head = None
            if self.group:
                self.group.items.append(item)
            self.owner, self.last_plain = None, None
            body, labels = split_labels(body)
            if labels or closing_note(body):
                item.task = self.new_task(number, body, n)
                self.finish_inline(item.task, body, labels, n)
            elif self.chapter_lead or self.fills():  # 一、X牵头工作 / 下同: every item is a task
                item.task = self.new_task(number, body, n)
                self.finish_inline(item.task, body, [], n)
            return
        m = INDICATOR.match(line)
        if m:
            body, labels = split_labels(m[1])
            inline = closing_note(body)
            if labels or inline:
                self.indicators += 1
                task = self.new_task(f"指标{self.indicators}", body, n)
                self.finish_inline(task, body, labels, n, indicator=True)
                self.owner = None
                return
        body, labels = split_labels(line)
        if labels and all(role == "person" for role, _, _ in labels):
            return  # 联系人:… / 责任领导:… name people, never a task's units
        if labels and not body.strip(" ;,。"):
            self.apply_labels(labels, n)
            return
        if labels and labels[0][0] == "task" and not body.strip():
            return
        if labels or closing_note(body):  # a C paragraph without a number
            self.loose_task(n, body, labels)
            return
        if self.lone_note(n, line):
            return
        self.plain(n, line)

    def loose_task(self, n: int, body: str, labels: list[tuple[str, str, str]]) -> None:
        g = self.group
        if g and g.task is None and not g.items and not g.extra and _is_heading(g.text):
            # (一)积极实施精准脱贫开发 over its paragraph: the heading is the title.
            g.task = self.new_task(g.label, g.text, g.line, text=body)
            self.finish_inline(g.task, body, labels, n)
            g.task.title = _title_of(g.text)
            return
        self.loose += 1
        prefix = g.label if g else ""
        task = self.new_task(f"{prefix}{self.loose}", body, n)
        self.finish_inline(task, body, labels, n)

    def lone_note(self, n: int, line: str) -> bool:
        """``市发改委牵头落实`` on its own line closes the paragraph above it."""
        if len(line) > 80 or self.last_plain is None:
            return False
        note = closing_note(f"({line.rstrip('。;')})")
        if note is None:
            return False
        pn, text = self.last_plain
        if self.group and (pn, text) in self.group.extra:
            self.group.extra.remove((pn, text))
        self.loose += 1
        prefix = self.group.label if self.group else ""
        task = self.new_task(f"{prefix}{self.loose}", text, pn)
        self.finish_inline(task, f"{text}({line.rstrip('。;')})", [], n)
        task.text = text
        self.last_plain = None
        return True

    def plain(self, n: int, line: str) -> None:
        """A paragraph that is no task: part of the open item or group, or a lead-in."""
        if self.open_items and self.owner is None and self.open_items[-1].task is None:
            self.open_items[-1].text += "\n" + line
        elif self.group and self.group.task is None and not self.group.items:
            self.group.extra.append((n, line))
        elif self.owner is None and not self.group and self.outline:
            self.report_task(n, line, None)
        self.last_plain = (n, line) if len(line) > 10 else None
        found, _ = scan_dates(line, self.year)
        self.lead_in = found if line.rstrip().endswith(":") else []

    # --- labels ---------------------------------------------------------------
    def apply_labels(self, labels: list[tuple[str, str, str]], n: int) -> None:
        if labels[0][0] == "task":  # 重点工作:… opens a task of its own
            role, label, value = labels[0]
            self.close_group()
            m = ITEM.match(value)  # 重点工作:3.推进… keeps its number; else the next loose one
            if m is None:
                self.loose += 1
            number = (m[1] or m[3]) if m else f"{self.group.label if self.group else ''}{self.loose}"
            task = self.new_task(number, (m[2] or m[4]) if m else value, n)
            task.evidence["title"] = f"line {n}: {label}:{value[:100]}"
            self.owner, self.owned = task, [task]
            labels = labels[1:]
        elif self.owner is None:
            tasks = self.claim(n)
            if not tasks:
                self.warnings.append(Problem(n, f"{labels[0][1]} without a task above it; ignored"))
                return
            self.owner, self.owned = tasks[-1], tasks
        targets = self.owned if self.owned and self.owner is self.owned[-1] else [self.owner]
        for task in targets:
            for role, label, value in labels:
                self.set_role(task, role, label, value, n)

    def claim(self, n: int) -> list[TaskSpec]:
        """Who owns a label block: the sub-items (1)…(k) above it, each (a group-level
        note); the group whose items came first (B); the lone item above it (A)."""
        g = self.group
        fresh = [it for it in self.open_items if it.task is None]
        subs = [it for it in fresh if it.number.startswith("(")]
        if subs and (len(subs) >= 2 or len(fresh) > len(subs)):
            head = next((it for it in fresh if not it.number.startswith("(")), None)
            tasks = []
            for it in subs:
                it.task = self.new_task((head.number if head else "") + it.number, it.text, it.line)
                tasks.append(it.task)
            self.open_items = []
            return tasks
        if g and g.task is None and (len(fresh) >= 2 or not fresh) and not any(
                it.task for it in g.items):
            text = "\n".join([g.text] + [t for _, t in g.extra]
                             + [f"{it.number}.{it.text}" for it in g.items])
            g.task = self.new_task(g.label, g.text, g.line, text=text)
            self.precise_subitem_dates(g)
            self.open_items = []
            return [g.task]
        if fresh:
            item = fresh[-1]
            item.task = self.new_task(item.number, item.text, item.line)
            self.open_items = []
            return [item.task]
        if g is None and self.chapter_head:  # 一、… used as a task number
            number, text, line = self.chapter_head
            self.chapter_head = None
            return [self.new_task(number, text, line)]
        if self.last_plain is not None:  # an unnumbered paragraph with labels below it
            pn, text = self.last_plain
            self.last_plain = None
            if g and (pn, text) in g.extra:
                g.extra.remove((pn, text))
            self.loose += 1
            return [self.new_task(f"{g.label if g else ''}{self.loose}", text, pn)]
        return []

    def set_role(self, task: TaskSpec, role: str, label: str, value: str, n: int) -> None:
        if role in ("person", "task") or not value:
            return
        source = f"line {n}: {label}:{value}"
        if role == "due":
            self.has_due.add(id(task))
            self.time_nodes(task, value, n)
            task.evidence.setdefault("due", source)
            return
        names_text, _, rest = value.partition("。")
        if rest and SCOPE.search(rest):
            self.carry(n, rest)
        if role == "note":
            note = words_note(names_text) or label_units(names_text, "responsible")
        else:
            note = label_units(names_text, role)
        self.take_note(task, note, n, source)

    def take_note(self, task: TaskSpec, note: Note, n: int, source: str) -> None:
        if note.lead:
            if task.lead_basis in (Basis.HEADING, Basis.CARRIED):
                task.lead = []
            task.lead_basis = Basis.STATED
        for role in ("lead", "responsible", "cooperating"):
            names = getattr(note, role)
            target = getattr(task, role)
            target += [d for d in names if d not in target]
            if names:
                task.evidence.setdefault(role, source)
        for fragment, kind in note.dropped:
            what = {"date": "a date", "person": "a person's title", "phrase": "words"}.get(kind, kind)
            self.warnings.append(Problem(n, f'"{fragment}" is {what}, not a department; left out'))
            task.notes.append(f"line {n}: left out {fragment!r} ({what}, not a department)")
        if note.due:
            self.has_due.add(id(task))
            self.time_nodes(task, note.due, n)
            task.evidence.setdefault("due", source)
        if note.carry:
            self.carried.append((n, note, True))

    def carry(self, n: int, sentence: str) -> None:
        """A 下同 sentence (具体任务均涉及相关市(州)人民政府,…,下同): its units join the
        tasks below."""
        units = [d for d in units_in(sentence) if looks_like_unit(d)]
        if units:
            self.carried.append((n, Note([], units, []), False))

    def fills(self) -> bool:
        """A 下同 note is in force: paragraphs below that name no unit are its tasks."""
        return any(fill for _, _, fill in self.carried)

    # --- inline (C) -------------------------------------------------------------
    def finish_inline(self, task: TaskSpec, body: str, labels: list[tuple[str, str, str]],
                      n: int, indicator: bool = False) -> None:
        found = closing_note(body)
        if found:
            paren, note = found
            text = body.rstrip(" 。;,")[: -len(paren)].rstrip(" ;,。")
            task.text = text
            task.title = _title_of(text)
            self.take_note(task, note, n, f"line {n}: {paren}")
        else:
            task.text = body.rstrip(" ;,。")
            task.title = _title_of(task.text)
        for role, label, value in labels:
            self.set_role(task, role, label, value, n)
        if not task.lead and not task.responsible and self.chapter_lead and not found and not labels:
            task.lead = list(self.chapter_lead)
            task.lead_basis = Basis.HEADING
            task.evidence["lead"] = f"heading: {self.chapter}、…{'、'.join(self.chapter_lead)}牵头…"
        if indicator and id(task) not in self.has_due:
            due = self.lead_in[-1] if self.lead_in else None
            self.has_due.add(id(task))
            self.pending.append(_Pending(task, due, task.title, n))
        self.owner, self.owned = task, [task]

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
            self.bad_due.add(id(task))
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
            self.bad_due.add(id(task))
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
        task.lead_basis = Basis.STATED
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
                if it.task is None and LABEL.search(it.text) is None:
                    found, _ = scan_dates(it.text, self.year)
                    if any(_PRECISE.search(d.phrase) for d in found):
                        self.warnings.append(Problem(it.line, f"item {it.number} has dates but no "
                                                              "department; not imported"))
        self.group = None
        self.open_items = []
        self.owner = None
        self.owned = []

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
            if id(task) in self.bad_due and not any(m.phrase for m in task.milestones):
                task.due_basis = Basis.MISSING
            else:
                task.due_basis = Basis.STATED if any(m.phrase for m in task.milestones) else Basis.PLAN_END
        self.settle_leads()
        self.number_uniquely()

    def settle_leads(self) -> None:
        """Tasks whose note named no 牵头: the unit listed first leads (the common rule),
        or the units a 下同 note carried; a task with no unit at all has no lead."""
        for t in self.tasks:
            before = [(line, note, fill) for line, note, fill in self.carried if t.line and line < t.line]
            for _line, note, carries in before:
                if not carries:
                    t.responsible += [d for d in note.responsible if d not in t.responsible + t.lead]
            fill = next((b for b in reversed(before) if b[2]), None)
            if fill and not (t.lead or t.responsible or t.cooperating):
                line, note, _ = fill
                t.lead = list(note.lead or note.responsible[:1])
                t.responsible = [d for d in note.responsible if d not in t.lead]
                t.cooperating = list(note.cooperating)
                t.lead_basis = Basis.CARRIED
                t.evidence["lead"] = f"line {line}: 下同"
            if t.lead:
                t.lead_basis = t.lead_basis or Basis.STATED
            elif t.responsible:
                t.lead = t.responsible[:1]  # docs/domain.md: the first named department leads
                t.lead_basis = Basis.FIRST_LISTED
                t.evidence.setdefault("lead", t.evidence.get("responsible", ""))
            else:
                t.lead_basis = Basis.MISSING
                self.warnings.append(Problem(t.line, f"task {t.number} names no department"))
        self.warn_first_listed()

    def warn_first_listed(self) -> None:
        """One warning for all tasks whose lead rests on the first-listed convention, so the
        clerk learns it without reading the whole table."""
        guessed = [t for t in self.tasks if t.lead_basis is Basis.FIRST_LISTED]
        if guessed:
            lines = "、".join(str(t.line) for t in guessed[:8]) + ("…" if len(guessed) > 8 else "")
            self.warnings.append(Problem(guessed[0].line, f"{len(guessed)} tasks name no 牵头 unit: "
                                         f"the unit listed first leads (lines {lines})"))

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
            k = 2
            base = t.number
            while t.number in seen:  # still the same: 3, 3-2, 3-3
                t.number = f"{base}-{k}"
                k += 1
            seen.add(t.number)


def _is_heading(text: str) -> bool:
    """``积极实施精准脱贫开发``: a short title line, no sentence of its own."""
    text = text.strip()
    return 0 < len(text) <= 30 and "。" not in text.rstrip("。") and not text.endswith((":", ","))


_LEADING_MARKS = re.compile(r"^[^\u3400-\u9fff\w“\"《(]+")
_LEADING_JUNK = re.compile(r"^[?�。]+\S{0,3}?(?=[\u4e00-\u9fff]{2})")
_SENTENCE_END = re.compile(r"[。;\n]")


def _title_of(text: str) -> str:
    """First sentence, at most 60 characters: 提升港口能力能级。…… -> 提升港口能力能级.
    Garbled leading characters of a copied page (``?。(二)推…``) are skipped."""
    text = _LEADING_JUNK.sub("", _LEADING_MARKS.sub("", text.strip()))
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip(" ,:")
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


def text_to_plan(text: str, *, source: str, year: int | None = None,
                 plan_name: str | None = None) -> PlanSpec:
    """Plan text (already decoded) -> PlanSpec; raises ``PlanFormatError`` when no
    task can be found or the year cannot be told."""
    text = normalize_text(text)
    lines = text.split("\n")
    meta = read_meta(lines)
    name = plan_name or meta.name or re.sub(r"\.[A-Za-z]+$", "", source)
    start = (meta.title_line + 1) if meta.title_line is not None else 0
    rows = prepare(lines)
    body = [(n, t) for n, t in rows if n > start]
    # Years printed where deadlines are: time-node labels and inline department notes.
    due_lines = [t for _, t in body if LABEL.search(t) or t.rstrip(" 。;").endswith(")")]
    explicit = [str(d.due.year) + "年" for ln in due_lines for d in scan_dates(ln, 0)[0]
                if d.year_given]
    period = period_of(" ".join(filter(None, [plan_name, meta.name])), year, meta, explicit)
    if period is None:
        raise PlanFormatError(f"{source}: no year in the title or the dates; pass --year")
    plan_year, starts_on, ends_on = period
    table = find_flat_table([(n, t) for n, t in rows if t and not CLUTTER.search(t)])
    if table is not None:
        spec = table_to_plan(table, source=source, year=plan_year, plan_name=name)
        above = _Reader(lines, plan_year, ends_on)
        above.run([(n, t) for n, t in body if n < table.header_line])
        if above.tasks:  # the table is the issuer's breakdown of the text: read once
            spec.warnings.insert(0, Problem(table.header_line, f"tasks read from the table; the "
                                            f"{len(above.tasks)} department notes above it are not imported"))
        return _with_meta(spec, meta, starts_on, ends_on, text)
    reader = _Reader(lines, plan_year, ends_on)
    reader.run(body)
    if not reader.tasks:
        raise PlanFormatError(f"{source}: no task found (no 牵头/责任 labels and no "
                              "(…牵头,…负责) notes)")
    reader.collect_text_dates()
    # A plan that states no year at all (no title year, 文号 or date) runs to its last
    # dated milestone.
    states_year = re.search(r"\d{4}", name or "") or meta.doc_number or meta.issued_on
    if year is None and not states_year and not five_year_span(name or ""):
        last = max((p.phrase.due for p in reader.pending if p.phrase and not p.phrase.recurrence),
                   default=ends_on)
        if last.year > ends_on.year:
            reader.ends_on = ends_on = date(last.year, 12, 31)
    reader.finish()
    for t in reader.tasks:
        for m in t.milestones:
            if m.due > ends_on:
                reader.warnings.append(Problem(m.line, f"task {t.number}: {m.phrase or m.due} is after "
                                                       f"the plan's end {ends_on}; kept as a milestone"))
    return PlanSpec(
        name=name, year=plan_year, starts_on=starts_on, ends_on=ends_on,
        doc_number=meta.doc_number, issuer=meta.issuer, issued_on=meta.issued_on,
        tasks=reader.tasks, warnings=reader.warnings,
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _with_meta(spec: PlanSpec, meta: Meta, starts_on: date, ends_on: date, text: str) -> PlanSpec:
    """A table read from text keeps the document's 文号, issuer and period."""
    if ends_on != spec.ends_on:
        for t in spec.tasks:
            for m in t.milestones:
                if not m.phrase and m.due == spec.ends_on:
                    m.due = ends_on
    spec.starts_on, spec.ends_on = starts_on, ends_on
    spec.doc_number, spec.issuer, spec.issued_on = meta.doc_number, meta.issuer, meta.issued_on
    spec.source_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return spec
