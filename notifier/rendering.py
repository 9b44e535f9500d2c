"""Jinja environment and the context a template sees.

Templates are rendered in a sandbox with ``StrictUndefined`` (a typo in an admin's template is an
error, not an empty string) and HTML auto-escaped; ``check`` renders every template with sample
data so a broken template fails at start, not at the first reminder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from notifier.markup import markdown_context
from notifier.planning.schedule import DigestPlan, Entry, Item, PlanInfo

KINDS = ("reminder", "escalation", "notice")
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
    def __init__(self, override_dir: Path | None = None):
        self.env = make_environment(override_dir)

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        out = {}
        for part in PARTS:
            # Markdown: plan text is made inert, so only the template makes links (notifier.markup).
            values = markdown_context(context) if part == "md" else context
            out[part] = self.env.get_template(f"{kind}.{part}").render(values)
        return Rendered(subject=" ".join(out["subject.txt"].split()), text=out["txt"],
                        html=out["html"], markdown=out["md"], data=context_data(context))

    def render_digest(self, plan: DigestPlan, department: str, now: datetime,
                      names: dict[int, str] | None = None, links: LinkMaker | None = None) -> Rendered:
        context = digest_context(plan, department, now, names or {})
        if links is not None:
            add_links(context, links)
        return self.render(plan.kind, context)

    def check(self) -> list[str]:
        """Render every template with sample data; returns the problems found."""
        problems = []
        sample = sample_digest()
        for kind in ("reminder", "escalation"):
            sample.kind = kind
            try:
                context = digest_context(sample, "市发改委", datetime(2018, 6, 20, 9, 0), {1: "市发改委"})
                self.render(kind, context)
                self.render(kind, add_links(context, lambda mid, occ: f"https://notifier.example.cn/r/{mid}-{occ}"))
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
        return problems


def _entry(e: Entry, names: dict[int, str]) -> dict[str, Any]:
    it = e.item
    return {
        "milestone_id": it.milestone_id,
        "plan": it.plan.name,
        "doc_number": it.plan.doc_number or "",
        "task_number": it.task_number,
        "task_title": it.task_title,
        "text": it.text,
        "due": it.occurrence,
        "due_cn": cn_date(it.occurrence),
        "days": e.days,
        "section": e.section,
        "recurring": bool(it.recurrence),
        "leads": [names.get(d, "") for d in it.leads],
        "link": "",  # reply link (mark done / report progress), see add_links
    }


def digest_context(plan: DigestPlan, department: str, now: datetime, names: dict[int, str]) -> dict[str, Any]:
    sections = {s: [_entry(e, names) for e in plan.section(s)] for s in ("overdue", "cutoff", "upcoming", "progress")}
    # "Other open tasks": a task already listed above is not asked about again.
    listed = {(e["plan"], e["task_number"]) for s in ("overdue", "cutoff", "upcoming") for e in sections[s]}
    progress_tasks: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sections["progress"]:
        if (e["plan"], e["task_number"]) in listed:
            continue
        progress_tasks.setdefault((e["plan"], e["task_number"]), {**e, "milestones": []})["milestones"].append(e)
    plans = []
    for e in plan.entries:
        label = e.item.plan.name + (f"（{e.item.plan.doc_number}）" if e.item.plan.doc_number else "")
        if label not in plans:
            plans.append(label)
    return {
        "kind": plan.kind,
        "department": department,
        "today": plan.day,
        "now": now,
        "cutoff": plan.cutoffs[0] if plan.cutoffs else None,
        "plans": plans,
        "overdue": sections["overdue"],
        "due_by_cutoff": sections["cutoff"],
        "upcoming": sections["upcoming"],
        "progress_tasks": list(progress_tasks.values()),
        "count": len(plan.entries) - len(sections["progress"]),
        "links": False,
    }


LinkMaker = Callable[[int, date], str]  # (milestone id, occurrence) -> its signed reply link


def add_links(context: dict[str, Any], links: LinkMaker) -> dict[str, Any]:
    """Give every milestone of a digest context its reply link (in place; returned for chaining)."""
    entries = [*context["overdue"], *context["due_by_cutoff"], *context["upcoming"]]
    for t in context["progress_tasks"]:
        entries += [t, *t["milestones"]]
    for e in entries:
        e["link"] = links(e["milestone_id"], e["due"])
    context["links"] = True
    return context


def notice_context(department: str, channel: str, recipient: str, error: str, now: datetime) -> dict[str, Any]:
    return {"kind": "notice", "department": department, "channel": channel, "recipient": recipient,
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


def sample_digest() -> DigestPlan:
    plan = PlanInfo(1, "盘锦市推进沿海经济带建设2018年工作实施方案", "盘政办发〔2018〕23号",
                    date(2018, 1, 1), date(2018, 12, 31))

    def item(mid: int, due: date, text: str) -> Item:
        return Item(mid, due, plan, 3, "3", "提升港口能力能级", text, (1,))
    d = DigestPlan(1, "reminder", date(2018, 6, 20))
    d.entries = [
        Entry(item(1, date(2018, 5, 31), "召开粮食物流产业大会"), "overdue", 20),
        Entry(item(2, date(2018, 6, 30), "完成301#油品泊位配套建设"), "cutoff", 10, date(2018, 6, 30)),
        Entry(item(3, date(2018, 7, 31), "禹王新材料产业园4个项目开工建设"), "upcoming", 41),
        Entry(Item(4, date(2018, 9, 30), plan, 5, "5", "增强港口辐射带动作用", "完成与招商局集团合作计划", (1,)),
              "progress", 102, date(2018, 6, 30)),
    ]
    return d
