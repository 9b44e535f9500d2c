"""Jinja environment and the context a template sees.

Templates are rendered in a sandbox with ``StrictUndefined`` (a typo in an admin's template is an
error, not an empty string) and HTML auto-escaped; ``check`` renders every template with sample
data so a broken template fails at start, not at the first reminder.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from notifier import labels
from notifier.config import Config, OfficeConfig
from notifier.markup import markdown_context
from notifier.terms import Light
from notifier.planning.schedule import SECTION_ORDER, Digest, Entry, Item, PlanInfo
from notifier.terms import DigestKind, Role, Section

KINDS = (DigestKind.REMINDER, DigestKind.ESCALATION, DigestKind.NOTICE)  # the templates each has
PARTS = ("subject.txt", "txt", "html", "md")
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    markdown: str
    data: dict[str, Any]

    def data_json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def make_environment(override_dir: Path | None = None) -> SandboxedEnvironment:
    loaders = []
    if override_dir is not None:
        loaders.append(FileSystemLoader(str(override_dir)))
    loaders.append(FileSystemLoader(str(resources.files("notifier.templates"))))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cn_date"] = cn_date
    env.filters["task_label"] = lambda n: f"任务{n}" if n[:1].isdigit() else n
    env.filters["weekday"] = lambda d: "星期" + WEEKDAYS[d.weekday()]
    return env


class Renderer:
    """Renders messages and the reply page. ``office`` is the identity every template shows
    (``[office]``); ``max_items`` caps each section of a digest ("及其他N项")."""

    def __init__(self, override_dir: Path | None = None, *, office: OfficeConfig | None = None,
                 max_items: int = 30):
        self.env = make_environment(override_dir)
        self.office = office or OfficeConfig()
        self.max_items = max_items
        self.env.globals["office"] = office_context(self.office)

    @classmethod
    def of(cls, config: Config) -> Renderer:
        return cls(config.templates_dir, office=config.office, max_items=config.schedule.max_items)

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        out = {}
        for part in PARTS:
            # Markdown: plan text is made inert, so only the template makes links (notifier.markup).
            values = markdown_context(context) if part == "md" else context
            out[part] = self.env.get_template(f"{kind}.{part}").render(values)
        return Rendered(subject=" ".join(out["subject.txt"].split()), text=out["txt"],
                        html=out["html"], markdown=out["md"], data=context_data(context))

    def render_digest(self, digest: Digest, department: str, now: datetime,
                      names: dict[int, str] | None = None, links: Links | None = None,
                      outcomes: Mapping[int, list[Any]] | None = None, *, page_url: str = "",
                      returned: Iterable[Any] = (), more: Mapping[str, int] | None = None,
                      more_plans: Iterable[tuple[PlanInfo, tuple[int, int, int]]] = (),
                      listed_elsewhere: Collection[int] = ()) -> Rendered:
        """``page_url``: the department's own page (/d/…); ``returned``: its done requests the
        office sent back (notifier.review.Returned), told with their reasons. ``more``: per
        section, the items counted but not loaded (the planning pass loads at most ``max_items``
        of a long section); they are counted in the totals and "及其他N项". ``more_plans``: the
        plans of those items; ``listed_elsewhere``: tasks with such items above the progress
        request, which therefore does not ask about them."""
        context = digest_context(digest, department, now, names or {}, office=self.office,
                                 max_items=self.max_items, outcomes=outcomes, more=more, more_plans=more_plans,
                                 listed_elsewhere=listed_elsewhere)
        if links is not None:
            add_links(context, links)
        add_department_parts(context, page_url, returned)
        return self.render(digest.kind, context)

    def check(self) -> list[str]:
        """Render every template with sample data; returns the problems found."""
        problems = []
        sample = sample_digest()
        for kind in (DigestKind.REMINDER, DigestKind.ESCALATION):
            sample.kind = kind
            try:
                context = digest_context(sample, "市发改委", datetime(2018, 6, 20, 9, 0), {1: "市发改委"},
                                         office=self.office, max_items=self.max_items)
                self.render(kind, context)
                add_department_parts(context, "https://notifier.example.cn/d/1-1-x", [_SampleReturn()])
                self.render(kind, add_links(context, {(e.item.milestone_id, e.item.occurrence):
                                                      f"https://notifier.example.cn/r/{e.item.milestone_id}"
                                                      for e in sample.entries}))
                for graded in sample_steps(sample):  # each grade's 督办单: its band and sentences
                    self.render(kind, digest_context(graded, "市发改委", datetime(2018, 6, 20, 9, 0), {1: "市发改委"},
                                                     office=self.office, max_items=self.max_items))
            except TemplateError as exc:
                where = getattr(exc, "filename", None) or getattr(exc, "name", None) or kind
                line = getattr(exc, "lineno", None)
                problems.append(f"template {where}{f' line {line}' if line else ''}: {exc.message or exc}")
        try:
            self.render("notice", notice_context("市发改委", "email", "a@example.cn", "550 mailbox unavailable",
                                                 datetime(2018, 6, 20, 9, 0)))
        except TemplateError as exc:
            problems.append(f"template notice: {exc.message or exc}")
        try:  # the reply-link page (notifier.web.app): an admin override must fail here, not at a click
            self.env.get_template("reply.html").render(
                title="确认办结", tone="ok", message="请确认", form=True, note="", person="",
                item={"department": "市发改委", "plan": "示例方案", "doc_number": "盘政办发〔2018〕23号",
                      "task_number": "3", "task_title": "示例任务", "text": "示例节点",
                      "due": date(2018, 6, 30), "recurring": False, "days_late": 2})
        except TemplateError as exc:
            problems.append(f"template reply.html: {exc.message or exc}")
        try:  # the department's page (notifier.web.department), with every part of an item shown
            item = {"key": "2-20180630", "milestone_id": 2, "occurrence": date(2018, 6, 30), "recurring": True,
                    "plan": "示例方案", "label": "任务3「示例任务」", "role": "responsible", "role_cn": "责任",
                    "section": "cutoff", "status": "还剩10天", "pending": True, "request": {"note": "见附件"},
                    "returned": {"reason": "请补充材料", "decided_by": "张三"}, "sign_asked": True,
                    "grade": Light.YELLOW, "grade_title": "黄色催办单",
                    "can_request": True, "history": [{"at": datetime(2018, 6, 19, 10, 0), "what": "报送进展",
                                                      "who": "市发改委", "note": "完成60%"}]}
            form = {"milestone_id": "2", "occurrence": "2018-06-30", "action": "progress", "note": "x", "percent": "6"}
            self.env.get_template("department.html").render(
                title="市发改委督办事项", department="市发改委", items=[item], token="1-1-x", csrf="x",  # noqa: S106
                sections=[{"key": "cutoff", "heading": "2018年6月30日前须完成", "entries": [item]}],
                message="已签收。", tone="ok", form=form, today=date(2018, 6, 20), at="2-20180630")
        except TemplateError as exc:
            problems.append(f"template department.html: {exc.message or exc}")
        return problems


def office_context(office: OfficeConfig) -> dict[str, Any]:
    return {"name": office.name, "signature": office.sign, "contact": office.contact,
            "inspection": office.inspection}


def item_label(task_number: str, task_title: str, text: str) -> str:
    """An item as one line: the task once, then the milestone's own words when they add
    something (an indicator or a generated item repeats its title)."""
    head = (f"任务{task_number}" if task_number[:1].isdigit() else task_number) + f"「{task_title}」"
    title, words = task_title.strip(), text.strip()
    if title and words.startswith(title):  # "积极开展精准招商:完成", made by the importer from the title
        words = words[len(title):].lstrip(":：，, ")
    if words in ("", "完成") or title.startswith(words):
        return head
    return f"{head}：{words}"


def _entry(e: Entry, names: dict[int, str]) -> dict[str, Any]:
    it = e.item
    if e.section in (Section.OVERDUE, Section.ESCALATION):
        status = f"已逾期{e.days}天"
    else:
        status = "今天到期" if e.days == 0 else f"还剩{e.days}天"
    if e.reason:  # urged (催办): why
        status += f"，{e.reason}"
    return {
        "milestone_id": it.milestone_id,
        "plan": it.plan.name,
        "doc_number": it.plan.doc_number or "",
        "task_number": it.task_number,
        "task_title": it.task_title,
        "text": it.text,
        "label": item_label(it.task_number, it.task_title, it.text),
        "due": it.occurrence,
        "due_cn": cn_date(it.occurrence),
        "days": e.days,
        "status": status,
        "section": e.section,
        "recurring": bool(it.recurrence),
        "role": e.role,
        "role_cn": labels.ROLE.get(e.role, e.role),
        "leads": [names.get(d, "") for d in it.leads],
        "link": "",  # reply link (mark done / report progress), see add_links
    }


def _plan_label(plan: PlanInfo) -> str:
    return plan.name + (f"（{plan.doc_number}）" if plan.doc_number else "")


def _section(key: Section, heading: str, entries: list[dict[str, Any]], max_items: int,
             hidden: int = 0) -> dict[str, Any]:
    return {"key": key, "heading": heading, "entries": entries[:max_items],
            "more": max(0, len(entries) - max_items) + hidden, "total": len(entries) + hidden}


def digest_context(digest: Digest, department: str, now: datetime, names: dict[int, str], *,
                   office: OfficeConfig | None = None, max_items: int = 30,
                   outcomes: Mapping[int, list[Any]] | None = None,
                   more: Mapping[str, int] | None = None,
                   more_plans: Iterable[tuple[PlanInfo, tuple[int, int, int]]] = (),
                   listed_elsewhere: Collection[int] = ()) -> dict[str, Any]:
    office = office or OfficeConfig()
    more = more or {}
    sections: dict[str, list[dict[str, Any]]] = {s: [_entry(e, names) for e in digest.section(s)]
                                                 for s in Section}
    # "Other open tasks": a task already listed above is not asked about again.
    listed = {(e["plan"], e["task_number"])
              for s in (Section.OVERDUE, Section.URGED, Section.CUTOFF, Section.UPCOMING) for e in sections[s]}
    progress_tasks: dict[tuple[str, str], dict[str, Any]] = {}
    for e, raw in zip(sections[Section.PROGRESS], digest.section(Section.PROGRESS), strict=True):
        if (e["plan"], e["task_number"]) in listed or raw.item.task_id in listed_elsewhere:
            continue
        progress_tasks.setdefault((e["plan"], e["task_number"]), {**e, "milestones": []})["milestones"].append(e)
    # The plans the message is about, in the order they first appear in it (entries are sorted
    # by section, days, plan); ``more_plans``: those of items counted but not loaded, with the
    # same sort key of their first item.
    first: dict[str, tuple[int, int, int]] = {}
    for entry in digest.entries:
        if entry.section == Section.ESCALATION:
            continue
        days = -entry.days if entry.section == Section.OVERDUE else entry.days
        key = (SECTION_ORDER[entry.section], days, entry.item.plan.id)
        label = _plan_label(entry.item.plan)
        first[label] = min(first.get(label, key), key)
    for plan, key in more_plans or ():
        first[_plan_label(plan)] = min(first.get(_plan_label(plan), key), key)
    plans = sorted(first, key=lambda label: first[label])
    cutoff = digest.cutoffs[0] if digest.cutoffs else None
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in sections[Section.ESCALATION]:
        groups.setdefault("、".join(n for n in e["leads"] if n) or "未明确牵头单位", []).append(e)
    escalation_groups = [{"lead": lead, "count": len(es), **_section(Section.ESCALATION, lead, es, max_items)}
                         for lead, es in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    closing = []
    for p in digest.closing:
        rows = [{"department": o.department, "done": o.done, "late": o.late, "open": o.open}
                for o in (outcomes or {}).get(p.id, [])]
        closing.append({"plan": p.name + (f"（{p.doc_number}）" if p.doc_number else ""), "ends_on": p.ends_on,
                        "departments": rows, "done": sum(r["done"] for r in rows),
                        "late": sum(r["late"] for r in rows), "open": sum(r["open"] for r in rows)})
    ptasks = list(progress_tasks.values())
    # Steps of the department's own items set the 督办单's grade; a 红 copied to the
    # escalation department marks its 逾期通报 lines instead.
    copied = {(st.milestone_id, st.occurrence) for st in digest.steps if st.copy}
    for e in sections[Section.ESCALATION]:
        if (e["milestone_id"], e["due"]) in copied:
            e["status"] += "，新列入红色督办"
    roles = {e.role for e in digest.entries if e.section != Section.ESCALATION}
    context = {
        "kind": digest.kind,
        "department": department,
        "today": digest.day,
        "now": now,
        "cutoff": cutoff,
        "plans": plans,
        "role_phrase": "牵头负责" if roles <= {Role.LEAD} else "承担",
        "show_roles": not roles <= {Role.LEAD},
        "inspection": bool(office.inspection and office.name and cutoff),
        "overdue": sections[Section.OVERDUE],
        "urged": sections[Section.URGED],
        "grade": grade_context(digest.grade, [names.get(d, "") for d in digest.copy_to]),
        "sign_by": digest.sign_by,
        "due_by_cutoff": sections[Section.CUTOFF],
        "upcoming": sections[Section.UPCOMING],
        "progress_tasks": ptasks,
        "escalation": sections[Section.ESCALATION],
        "escalation_groups": escalation_groups,
        "closing": closing,
        "sections": [
            _section(Section.OVERDUE, "已逾期未完成", sections[Section.OVERDUE], max_items,
                     more.get(Section.OVERDUE, 0)),
            _section(Section.URGED, "催办：未按时签收或报送进展", sections[Section.URGED], max_items),
            _section(Section.CUTOFF, f"{cn_date(cutoff)}前须完成" if cutoff else "", sections[Section.CUTOFF],
                     max_items,
                     more.get(Section.CUTOFF, 0)),
            _section(Section.UPCOMING, "即将到期的工作节点", sections[Section.UPCOMING], max_items),
            _section(Section.PROGRESS, f"请于{cn_date(cutoff)}前报送阶段性进展" if cutoff else "", ptasks, max_items,
                     more.get(Section.PROGRESS, 0)),
        ],
        "count": len(digest.entries) - len(sections[Section.PROGRESS]) - len(sections[Section.ESCALATION])
        + more.get(Section.OVERDUE, 0) + more.get(Section.CUTOFF, 0),
        # What the subject counts: every item of each section, those not loaded included.
        "counts": {"overdue": len(sections[Section.OVERDUE]) + more.get(Section.OVERDUE, 0),
                   "cutoff": len(sections[Section.CUTOFF]) + more.get(Section.CUTOFF, 0),
                   "upcoming": len(sections[Section.UPCOMING]),
                   "progress": len(ptasks) + more.get(Section.PROGRESS, 0),
                   "escalation": len(sections[Section.ESCALATION])},
        "links": False,
        "office": office_context(office),
        "page_url": "",  # the department's page, see add_department_parts
        "returned": [],
    }
    return finish(context)


GRADE_SENTENCES = {
    Light.BLUE: "以下事项即将到期，请按时完成。",
    Light.YELLOW: "以下事项未按时签收或报送进展，现予催办，请即签收并报送进展。",
    Light.RED: "以下事项已逾期未完成，现予督办，请抓紧办理并说明原因。",
}


def grade_context(grade: Light | None, copied_to: list[str]) -> dict[str, Any] | None:
    """The 督办单 a digest is written in (its highest step up), or None for a plain reminder:
    its word for the subject and robot title, its colour band and the sentence that opens it."""
    if grade is None or grade is Light.GREEN:
        return None
    copied = [n for n in copied_to if n]
    sentence = GRADE_SENTENCES[grade] + (f"本单抄报{'、'.join(copied)}。" if copied else "")
    return {"key": grade.value, "label": grade.label, "word": grade.word, "band": grade.band,
            "title": f"{grade.label}色{grade.word}单", "sentence": sentence, "copied_to": copied}


def finish(context: dict[str, Any]) -> dict[str, Any]:
    """The closing sentences, which depend on whether the message carries reply links."""
    office = context["office"]
    who = office["name"] or "督办单位"
    if context["links"]:
        answer = ("已完成的事项请点击该事项后的链接确认办结，尚未完成的请通过同一链接报送进展"
                  "（链接仅限贵单位使用，请勿转发）")
        progress = "请点击各项后的链接报送进展情况"
    elif office["contact"]:
        answer = f"已完成的事项和工作进展请报{who}（联系方式：{office['contact']}）"
        progress = f"请将进展情况报{who}（联系方式：{office['contact']}）"
    else:
        answer = "已完成的事项和工作进展请回复本消息说明"
        progress = "请回复本消息报送进展情况"
    context["answer"] = answer + "；如有困难请及时报告。"
    sign_by = context.get("sign_by")
    context["sign_how"] = f"请于{cn_date(sign_by)}前签收（确认收到）本通知所列事项。" if sign_by else ""
    context["progress_how"] = progress + "。"
    return context


# (milestone id, occurrence) -> its signed reply link: made by the pass before rendering, so the
# renderer shows what it is given and never calls back into the pass.
Links = Mapping[tuple[int, date], str]


def add_department_parts(context: dict[str, Any], page_url: str, returned: Iterable[Any]) -> dict[str, Any]:
    """The department's page link and its returned done requests (退回: label, reason, who,
    when), in place; returned for chaining."""
    context["page_url"] = page_url
    context["returned"] = [{"milestone_id": r.milestone_id, "label": r.label, "reason": r.reason,
                            "by": r.decided_by, "at": r.decided_at} for r in returned]
    return context


@dataclass(frozen=True)
class _SampleReturn:
    milestone_id: int = 2
    label: str = "任务3「提升港口能力能级」：完成301#油品泊位配套建设"
    reason: str = "请补充竣工验收材料"
    decided_by: str = "张三"
    decided_at: datetime = datetime(2018, 6, 19, 2, 0)


def add_links(context: dict[str, Any], links: Links) -> dict[str, Any]:
    """Give every milestone the department leads its reply link (in place; returned for
    chaining). Items it only cooperates on get none: their lead answers for them."""
    entries = [*context["overdue"], *context["urged"], *context["due_by_cutoff"], *context["upcoming"]]
    for t in context["progress_tasks"]:
        entries += [t, *t["milestones"]]
    for e in entries:
        if e["role"] == Role.LEAD:
            e["link"] = links.get((e["milestone_id"], e["due"]), "")
    context["links"] = any(e["link"] for e in entries)  # the answer sentence speaks of links only then
    return finish(context)


def notice_context(department: str, channel: str, recipient: str, error: str, now: datetime) -> dict[str, Any]:
    return {"kind": "notice", "count": 1, "department": department, "channel": channel, "recipient": recipient,
            "error": error, "now": now, "today": now.date()}


def context_data(context: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe structured part of a message (generic webhooks carry it)."""
    def clean(v: Any) -> Any:
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return clean(context)


def sample_steps(sample: Digest) -> list[Digest]:
    """The sample digest written in each grade (a 黄 item urged, asked to sign by a day)."""
    from dataclasses import replace

    from notifier.planning.ladder import Step

    urged = Entry(sample.entries[1].item, Section.URGED, 10, reason="未按时签收")
    return [replace(sample, entries=[*sample.entries, urged], steps=[Step(1, 2, date(2018, 6, 30), g, "未按时签收")],
                    copy_to=(1,), sign_by=date(2018, 6, 22)) for g in (Light.BLUE, Light.YELLOW, Light.RED)]


def sample_digest() -> Digest:
    plan = PlanInfo(1, "盘锦市推进沿海经济带建设2018年工作实施方案", "盘政办发〔2018〕23号",
                    date(2018, 1, 1), date(2018, 12, 31))

    def item(mid: int, due: date, text: str) -> Item:
        return Item(mid, due, plan, 3, "3", "提升港口能力能级", text, (1,))
    d = Digest(1, DigestKind.REMINDER, date(2018, 6, 20))
    d.entries = [
        Entry(item(1, date(2018, 5, 31), "召开粮食物流产业大会"), Section.OVERDUE, 20),
        Entry(item(2, date(2018, 6, 30), "完成301#油品泊位配套建设"), Section.CUTOFF, 10, date(2018, 6, 30)),
        Entry(item(3, date(2018, 7, 31), "禹王新材料产业园4个项目开工建设"), Section.UPCOMING, 41),
        Entry(Item(4, date(2018, 9, 30), plan, 5, "5", "增强港口辐射带动作用", "完成与招商局集团合作计划", (1,)),
              Section.PROGRESS, 102, date(2018, 6, 30)),
    ]
    return d
