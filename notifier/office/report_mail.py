"""The 通报 by e-mail: ``[report] to/every/day`` queue it through the outbox, exactly once.

On ``day`` of a month (or any later day of that month, so a daemon that was down catches up)
the 通报 of the period just ended is queued: ``every = "monthly"`` sends the previous month's;
``every = "cutoff"`` sends, after a cutoff month (``[schedule] cutoff_months``), the report up
to that cutoff. Each department in ``to`` gets one digest (kind ``report``) keyed by the period,
so a second pass, a restart or a second instance queue nothing more; the dispatcher sends it
like any reminder (retries, the folder channel when diverted). Only e-mail contacts receive it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from notifier.config import Config
from notifier.db.engine import transaction
from notifier.db.models import Department, Digest
from notifier.delivery import outbox
from notifier.delivery.outbox import DigestRow
from notifier.departments import sync_departments
from notifier.office.exports import report_title
from notifier.office.ledger import load_items
from notifier.office.report import Period, Report, build_report, percent
from notifier.planning.calendar import month_end
from notifier.reminders import contacts_of
from notifier.rendering import Rendered
from notifier.terms import DigestKind

log = logging.getLogger(__name__)


def due_period(cfg: Config, today: date) -> Period | None:
    """The period whose 通报 is due on ``today``, if any."""
    r = cfg.report
    if not r.to or today.day < r.day:
        return None
    prev = today.replace(day=1) - timedelta(days=1)
    if r.every == "monthly":
        return Period.month(f"{prev.year}-{prev.month:02d}")
    if prev.month in cfg.schedule.cutoff_months:
        return Period.cutoff(month_end(prev.year, prev.month).isoformat())
    return None


def render_text(report: Report, link: str | None) -> str:
    made = report.made_on
    lines = [report_title(report), f"统计日期：{made.year}年{made.month}月{made.day}日", ""]
    lines.append("排名  单位  应完成  按时完成  逾期完成  逾期未完成  按时完成率")
    for x in report.lines:
        lines.append(f"{x.rank or '—'}  {x.name}  {x.due}  {x.on_time}  {x.late}  {x.overdue}  "
                     f"{percent(x.on_time_rate)}")
    overdue = [(x.name, it) for x in report.lines for it in x.overdue_items]
    lines += ["", f"逾期未完成事项（{len(overdue)}项）："]
    for name, it in overdue:
        late = (report.made_on - it.due).days
        lines.append(f"- {name}：任务{it.task_number} {it.text}（时限{it.due}，逾期{late}天）")
    if link:
        lines += ["", f"在线查看与下载：{link}"]
    return "\n".join(lines) + "\n"


def render_html(text: str) -> str:
    from markupsafe import escape

    return f"<pre style=\"font-family: 'Microsoft YaHei', sans-serif\">{escape(text)}</pre>"


def queue_due_reports(engine: Engine, cfg: Config, now: datetime) -> list[str]:
    """Queue the 通报 due at ``now`` (aware) for every ``[report] to`` department that has not
    got it yet; returns the departments queued."""
    today = now.astimezone(cfg.timezone).date()
    period = due_period(cfg, today)
    if period is None:
        return []
    queued = []
    with transaction(engine) as s:
        sync_departments(s, cfg)
        report = build_report(load_items(s, cfg), period, today)
        link = f"{cfg.web.base_url}/office/report?{period.param}" if cfg.web.base_url else None
        text = render_text(report, link)
        subject = report_title(report)
        at = now.astimezone(UTC).replace(tzinfo=None)  # the pass's time: simulated runs send it

        def due_at() -> datetime:
            return at

        for name in cfg.report.to:
            conf = cfg.department(name)  # `to` may name an alias
            dep_id = s.scalar(select(Department.id).where(Department.name == (conf.name if conf else name)))
            contacts = [c for c in contacts_of(cfg, name) if c[0] == "email"]
            if dep_id is None or not contacts:
                log.warning("the 通报 for %s: it has no e-mail contact in the config; not sent", name)
                continue
            key = f"report:{period.param}:{dep_id}"
            if s.scalar(select(Digest.id).where(Digest.key == key)) is not None:
                continue
            rendered = Rendered(subject, text, render_html(text), text,
                                {"period": period.param, "today": today.isoformat()})
            if outbox.queue(s, DigestRow(key, dep_id, DigestKind.REPORT, today), rendered, contacts, due_at):
                queued.append(name)  # else another instance queued it at the same moment
    return queued
