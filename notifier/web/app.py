"""The reply pages: GET shows what a link would confirm, POST confirms it.

A GET never changes anything (mail scanners and link previews fetch every URL in a message);
only the form's POST does, once per link (``link_uses``). Every refusal - forged, expired,
replayed, no longer a lead, milestone gone - is a page that says so and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from notifier.db.engine import transaction, utcnow
from notifier.db.models import Department, LinkUse, Milestone, Plan, Task, TaskDepartment
from notifier.markup import clean_note, one_line, plain_line
from notifier.marks import MarkError, apply_note, check_occurrence, is_done
from notifier.review import RequestState, ReviewError, pending_request, request_done
from notifier.rendering import Renderer, cn_date
from notifier.web.guard import GuardedStarlette
from notifier.web.links import Link, LinkError, LinkSigner
from notifier.terms import HistoryAction, Role, Source

log = logging.getLogger(__name__)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token must not leak to other sites
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
}
MAX_BODY = 20_000  # bytes of any request body, every route (notifier.web.guard)
OFFICE_BODY_SECONDS = 120.0  # an upload of a few MB over a slow office line


@dataclass
class Page:
    status: int
    title: str
    tone: str = ""  # ok | bad
    message: str = ""
    item: dict[str, Any] | None = None
    form: bool = False
    note: str = ""
    person: str = ""


class Refused(Exception):
    def __init__(self, page: Page):
        self.page = page


Groups = Callable[[Session], dict[int, tuple[int, ...]]]  # group department id -> member ids


def make_app(engine: Engine, signer: LinkSigner, *, timezone: Any = UTC,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC),
             renderer: Renderer | None = None, groups: Groups | None = None,
             office: ASGIApp | None = None, review_required: bool = True) -> GuardedStarlette:
    """``clock`` (aware) decides whether a link has expired; tests pin it. ``office``: the
    office ledger's pages (notifier.office.web), mounted under /office.

    ``groups`` (the config's ``[[departments]] members``) lets a member of a group-led task
    answer the links it was sent: reminders for 各县区政府 go to its members, signed for each.
    A member's answer counts for that member: its progress note is recorded under its name,
    and its "done" is its own confirmation; the milestone is done once every member of the
    group has confirmed (or the office marks it done).

    ``review_required`` (``[review] required``): "确认已完成" is a done request that waits for
    the office (notifier.review), its reminders stopped meanwhile; else it closes the item."""
    groups = groups or (lambda s: {})
    renderer = renderer or Renderer()
    template = renderer.env.get_template("reply.html")
    # Only the office the config names ([office]); none named: no one is named.
    ask = f"，或联系{renderer.office.name}" if renderer.office.name else ""

    def html(page: Page) -> HTMLResponse:
        body = template.render(title=page.title, tone=page.tone, message=page.message, item=page.item,
                               form=page.form, note=page.note, person=page.person)
        return HTMLResponse(body, status_code=page.status, headers=HEADERS)

    def verify(token: str) -> Link:
        try:
            return signer.verify(token, clock())
        except LinkError as exc:
            log.warning("reply link refused (%s): %s", exc.reason, exc)
            if exc.reason == "expired":
                raise Refused(Page(410, "链接已过期", "bad", "该链接已超过有效期，未作任何更改。"
                                   f"请使用最近一次提醒中的链接{ask}。")) from None
            raise Refused(Page(403, "链接无效", "bad", "该链接无法验证（可能被修改或不完整），未作任何更改。"
                               f"请直接点击提醒邮件中的链接{ask}。")) from None

    def today() -> date:
        return clock().astimezone(timezone).date()

    def describe(s: Session, link: Link) -> tuple[Milestone, dict[str, Any]]:
        m = s.get(Milestone, link.milestone_id)
        if m is None:
            raise Refused(Page(404, "事项不存在", "bad",
                               "该链接所指的工作节点已不在计划中（计划可能已更新），未作任何更改。"))
        dep = s.get(Department, link.department_id)
        task = s.get_one(Task, m.task_id)
        plan = s.get_one(Plan, task.plan_id)
        leads = set(s.scalars(select(TaskDepartment.department_id).where(
            TaskDepartment.task_id == task.id, TaskDepartment.role == Role.LEAD)))
        group = None  # the group-led case: the lead whose member the link's department is
        if link.department_id not in leads:
            members = groups(s)
            group = next((g for g in sorted(leads) if link.department_id in members.get(g, ())), None)
            if group is None:
                dep = None
        if dep is None:
            raise Refused(Page(403, "无权办理", "bad", "该链接的收件单位已不是此项任务的牵头单位，未作任何更改。"))
        try:
            check_occurrence(s, m, link.occurrence)
        except MarkError:
            raise Refused(Page(404, "事项不存在", "bad", "该链接所指的报送期次已不在计划中，未作任何更改。")) from None
        due = link.occurrence if m.recurrence else m.due_on
        item = {"department": dep.name, "plan": plan.name, "doc_number": plan.doc_number or "",
                "task_number": task.number, "task_title": task.title, "text": m.text, "due": due,
                "recurring": bool(m.recurrence), "days_late": (today() - due).days}
        if group is not None:
            item["group"], item["members"] = s.get_one(Department, group).name, members[group]
        used = s.get(LinkUse, link.signature)
        if used is not None:
            what = "确认完成" if used.action == HistoryAction.DONE else "报送进展"
            raise Refused(Page(409, "此链接已使用", "bad",
                               f"该链接已于{_local(used.used_at, timezone)}用于{what}，不能重复使用，本次未作任何更改。"
                               "如需再次报送，请使用下一次提醒中的链接。", item))
        if is_done(s, m, link.occurrence if m.recurrence else None):
            raise Refused(Page(200, "该事项已办结", "ok",
                               "该工作节点已标记为完成，无需再次确认，后续不会再就此提醒。", item))
        if pending_request(s, m.id, link.occurrence if m.recurrence else None) is not None:
            raise Refused(Page(200, "已申请办结", "ok",
                               "该事项已申请办结，正在等待督查室审核；审核期间不再就此事项提醒。", item))
        if group is not None and link.department_id in confirmed(s, m, link.occurrence):
            raise Refused(Page(200, "本单位已确认完成", "ok",
                               f"{dep.name}已确认完成该事项，无需再次确认；"
                               f"待{item['group']}各成员单位均确认后办结。", item))
        return m, item

    def confirmed(s: Session, m: Milestone, occurrence: date) -> set[int]:
        """Departments that confirmed this milestone (occurrence) done through a link."""
        q = select(LinkUse.department_id).where(LinkUse.milestone_id == m.id, LinkUse.action == HistoryAction.DONE)
        q = q.where(LinkUse.occurrence == occurrence) if m.recurrence else q.where(LinkUse.occurrence.is_(None))
        return set(s.scalars(q))

    def show(token: str) -> Page:
        link = verify(token)
        with transaction(engine) as s:
            _, item = describe(s, link)
        return Page(200, "督办事项办理", "", "请核对以下事项，填写情况后选择相应按钮。", item, form=True)

    def confirm(token: str, form: dict[str, str]) -> Page:
        link = verify(token)
        # The person is one line (a newline would forge a history entry or a log line); the
        # note keeps its line breaks but no other control character (notifier.markup).
        action, note = form.get("action", ""), clean_note(form.get("note", ""))
        person = " ".join(plain_line(form.get("person", "")).split())
        try:
            with transaction(engine) as s:
                m, item = describe(s, link)
                if action not in (HistoryAction.DONE, HistoryAction.PROGRESS):
                    return Page(400, "请选择办理方式", "bad", "请点击“确认已完成”或“报送进展”。", item, True, note,
                                person)
                if action == HistoryAction.PROGRESS and not note:
                    return Page(400, "请填写进展情况", "bad", "报送进展时请填写进展说明。", item, True, note, person)
                dep = item["department"]
                actor = f"{dep}（{person[:100]}）" if person else dep
                occurrence = link.occurrence if m.recurrence else None
                now = utcnow()
                left: set[int] = set()
                if action == HistoryAction.DONE and "group" in item:
                    # A member's confirmation; the milestone is done with the last member's.
                    left = set(item["members"]) - confirmed(s, m, link.occurrence) - {link.department_id}
                requested = None
                if left:
                    event_id = apply_note(s, m.id, f"本单位确认已完成。{note}".strip(), occurrence=occurrence,
                                          source=Source.LINK, actor=actor, now=now).event_id
                elif action == HistoryAction.DONE:
                    requested = request_done(s, milestone_id=m.id, occurrence=occurrence,
                                             department_id=link.department_id, note=note, by=actor,
                                             source=Source.LINK, at=now, required=review_required)
                    event_id = requested.event_id
                else:
                    event_id = apply_note(s, m.id, note, occurrence=occurrence, source=Source.LINK, actor=actor,
                                          now=now).event_id
                s.add(LinkUse(token_id=link.signature, milestone_id=m.id, occurrence=occurrence,
                              department_id=link.department_id, action=action, used_at=now,
                              progress_event_id=event_id))
                s.flush()
        except IntegrityError:  # the same link used at the same moment by another request
            raise Refused(Page(409, "此链接已使用", "bad", "该链接刚刚已被使用，本次未作任何更改。")) from None
        except ReviewError as exc:
            raise Refused(Page(409, "未能办理", "bad", f"{exc}，本次未作任何更改。")) from None
        log.info("reply link: %s %s milestone %s (%s) by %s", action, item["due"], m.id,
                 one_line(item["text"][:30]), one_line(actor))
        if action == HistoryAction.DONE and left:
            return Page(200, "已确认完成", "ok", f"已记录{dep}确认完成（{_local(now, timezone)}）。该事项由"
                        f"{item['group']}牵头，尚有{len(left)}个成员单位未确认，全部确认后办结。谢谢！", item)
        if requested is not None and requested.state == RequestState.PENDING:
            return Page(200, "已申请办结", "ok",
                        f"已记录{dep}的办结申请（{_local(now, timezone)}），待督查室审核；"
                        "审核期间不再就此事项提醒，如被退回将在下一次提醒中说明原因。谢谢！", item)
        if action == HistoryAction.DONE:
            return Page(200, "已确认完成", "ok", f"已记录{dep}确认该事项完成（{_local(now, timezone)}），"
                        "后续不再就此事项提醒。谢谢！", item)
        return Page(200, "进展已报送", "ok", f"已记录{dep}报送的进展（{_local(now, timezone)}）。"
                    "该事项尚未办结，到期前仍会提醒。", item)

    async def reply(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        try:
            if request.method == "POST":
                body = await request.body()  # at most MAX_BODY bytes: the guard read it
                form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
                page = await run_in_threadpool(confirm, token, form)
            else:
                page = await run_in_threadpool(show, token)
        except Refused as r:
            page = r.page
        return html(page)

    async def index(request: Request) -> HTMLResponse | PlainTextResponse:
        if office is not None:  # a person opening the site wants the office's ledger
            return HTMLResponse('<!DOCTYPE html><meta charset="utf-8"><title>notifier</title>'
                                '<p><a href="/office/">督办台账（登录）</a></p>', headers=HEADERS)
        return PlainTextResponse("notifier reply links\n", headers=HEADERS)

    # The office's plan upload is larger than a form; its own pages check each route's limit.
    office_limits = {}
    if office is not None:
        from notifier.office.web import MAX_UPLOAD

        office_limits = {"/office": (MAX_UPLOAD, OFFICE_BODY_SECONDS)}
    return GuardedStarlette(routes=[
        Route("/", index, methods=["GET"]),
        Route("/r/{token}", reply, methods=["GET", "POST"]),
        *([Mount("/office", app=office)] if office is not None else []),
    ], headers=HEADERS, max_body=MAX_BODY, body_limits=office_limits)


def _local(at: datetime, tz: Any) -> str:
    local = at.replace(tzinfo=UTC).astimezone(tz)
    return f"{cn_date(local.date())}{local:%H:%M}"
