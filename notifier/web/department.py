"""The department's own page, ``/d/<token>``: every open item of the department, grouped as
its digest groups them, each with its history, and three forms per item: 签收, 报送进展 (a
percentage and a note) and 申请办结 (a note).

- The token (``LinkSigner.page``) names the department and an expiry, signed with ``[web]
  secret``. A forged, expired or other department's token is 403 and the page shows nothing.
- The page has no login, so each form's CSRF token is an HMAC of the page token
  (``LinkSigner.page_csrf``), and a POST whose ``Origin`` (else ``Referer``) names another site
  is refused; a browser that sends neither is judged by the token alone.
- A form names its item by milestone id and date; an item that is not one of this department's
  open items is 403, whatever the token says.
- A POST that changes something answers with a redirect to the page (so a reload does not post
  again) that says what was recorded; a refused form shows the page again with the reason.

Who may do what (README "The department's page"): 签收 wherever a reminder asked for it;
报送进展 on every item listed; 申请办结 only on the items the department leads (as reply links).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from notifier import grade_log, labels, signing
from notifier.config import Config
from notifier.db import queries
from notifier.db.engine import transaction
from notifier.db.models import (Department, DoneRequest, HistoryEvent, Milestone, RequestState, SignRequest,
                                TaskDepartment)
from notifier.terms import Light
from notifier.markup import clean_note, one_line, plain_line
from notifier.planning.items import expand_roles, items_of
from notifier.planning.schedule import Item, Rules, cutoffs, is_live, issued
from notifier.marks import MarkError, apply_note
from notifier.rendering import Renderer, cn_date, item_label
from notifier.review import REQUEST, ReviewError, latest_requests, request_done
from notifier.terms import HistoryAction, Role, Section, Source
from notifier.web.links import LinkError, LinkSigner

log = logging.getLogger(__name__)

SOURCE = Source.PAGE  # the history events of this page
# The page's actions: 签收 (a sign request, notifier.signing; no history event), or the history
# event the answer records (报送进展, 申请办结; 办结 when no review is required).
SIGN = "sign"
ACTION_CN: dict[str, str] = {**labels.HISTORY_ACTION, SIGN: "签收"}
DONE_MESSAGES: dict[str, str] = {  # ?ok=… after a redirect: fixed sentences, nothing from the request is echoed
    SIGN: "已签收。",
    HistoryAction.PROGRESS: "进展已报送，该事项仍在督办中。",
    REQUEST: "办结申请已提交，待督查室审核；审核期间不再就此事项提醒，如被退回将在下一次提醒中说明原因。",
    HistoryAction.DONE: "已确认办结，后续不再就此事项提醒。",
}
NOTE_MAX = 2000


class RefusedError(Exception):
    """A refused request: its status, title and message make the answer page."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass(frozen=True)
class HistoryLine:
    at: datetime  # aware, configured zone
    what: str
    who: str
    note: str


@dataclass
class PageItem:
    """One open item as the page shows it."""

    milestone_id: int
    occurrence: date
    recurring: bool
    plan: str
    label: str
    role: Role
    section: Section  # OVERDUE, CUTOFF or PROGRESS (the digest's grouping)
    days: int  # days late (overdue) or left
    cutoff: date | None
    sign_asked: bool = False
    grade: Light = Light.GREEN  # the 督办单 last issued to the department for it (绿: none)
    request: DoneRequest | None = None  # the latest done request (pending / returned)
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.milestone_id}-{self.occurrence:%Y%m%d}"

    @property
    def can_request(self) -> bool:
        return self.role == Role.LEAD and not self.pending

    @property
    def pending(self) -> bool:
        return self.request is not None and self.request.state == RequestState.PENDING

    @property
    def returned(self) -> DoneRequest | None:
        return self.request if self.request is not None and self.request.state == RequestState.RETURNED else None

    @property
    def role_cn(self) -> str:
        return labels.ROLE.get(self.role, self.role)

    @property
    def grade_title(self) -> str:
        """红色督办单 / 黄色催办单 / 蓝色提醒单, as the message that issued it says; '' for none."""
        return f"{self.grade.label}色{self.grade.word}单" if self.grade is not Light.GREEN else ""

    @property
    def status(self) -> str:
        if self.section == Section.OVERDUE:
            return f"已逾期{self.days}天"
        return "今天到期" if self.days == 0 else f"还剩{self.days}天"


def _local(at: datetime, cfg: Config) -> datetime:
    return at.replace(tzinfo=UTC).astimezone(cfg.timezone)


def department_items(s: Session, cfg: Config, department_id: int, today: date) -> list[PageItem]:
    """The department's open items (the roles ``[schedule] notify_roles`` reminds it of, of
    live plans), overdue first, then due by the next cutoff, then later ones."""
    from notifier.reminders import group_members

    rules = Rules(tz=cfg.timezone, cutoff_months=cfg.schedule.cutoff_months,
                  after_end_days=cfg.schedule.after_end_days, notify_roles=cfg.schedule.notify_roles)
    members = group_members(s, cfg, create=False)
    keys = {department_id} | {g for g, ms in members.items() if department_id in ms}  # its groups' tasks too
    rows = queries.open_milestones(s, departments=keys, roles=rules.notify_roles, active_only=True)
    roles = expand_roles(queries.task_roles(s, {r.task_id for r in rows}), members)
    done = queries.done_occurrences(s, [r.milestone_id for r in rows if r.recurrence])
    mine: list[tuple[Item, Role]] = []
    for it in items_of(rows, roles, done):
        its_role = it.role_of(department_id, rules.notify_roles)
        if its_role is not None and issued(it) and is_live(it.plan, rules, today):  # what a digest would list
            mine.append((it, its_role))
    asked = {(r.milestone_id, r.occurrence) for r in signing.open_requests(s, department_id)}
    requests = latest_requests(s, department_id)
    history = _history(s, cfg, {it.milestone_id for it, _ in mine}) if mine else {}
    signed = _signed(s, cfg, department_id)
    grades, issued_lines = _grades(s, cfg, department_id, {it.milestone_id for it, _ in mine})
    plan_cutoffs: dict[int, date | None] = {}
    out = []
    for it, role in mine:
        if it.plan.id not in plan_cutoffs:
            plan_cutoffs[it.plan.id] = next((c for c in cutoffs(it.plan, rules.cutoff_months) if c >= today), None)
        c = plan_cutoffs[it.plan.id]
        if it.occurrence < today:
            section, days = Section.OVERDUE, (today - it.occurrence).days
        elif c is not None and it.occurrence <= c:
            section, days = Section.CUTOFF, (it.occurrence - today).days
        else:
            section, days = Section.PROGRESS, (it.occurrence - today).days
        occ = it.occurrence if it.recurrence else None
        plan = it.plan.name + (f"（{it.plan.doc_number}）" if it.plan.doc_number else "")
        out.append(PageItem(it.milestone_id, it.occurrence, bool(it.recurrence), plan,
                            item_label(it.task_number, it.task_title, it.text), role, section, days, c,
                            (it.milestone_id, it.occurrence) in asked,
                            grades.get((it.milestone_id, it.occurrence), Light.GREEN),
                            requests.get((it.milestone_id, occ)),
                            sorted([*history.get((it.milestone_id, occ), []),
                                    *signed.get((it.milestone_id, it.occurrence), []),
                                    *issued_lines.get((it.milestone_id, it.occurrence), [])],
                                   key=lambda h: h.at, reverse=True)))
    order = {Section.OVERDUE: 0, Section.CUTOFF: 1, Section.PROGRESS: 2}
    out.sort(key=lambda p: (order[p.section], -p.days if p.section == Section.OVERDUE else p.days, p.milestone_id))
    return out


def _history(s: Session, cfg: Config, milestone_ids: set[int]) -> dict[tuple[int, date | None], list[HistoryLine]]:
    """Per item: every answer, request, return and done mark, whoever made it."""
    out: dict[tuple[int, date | None], list[HistoryLine]] = defaultdict(list)
    for e in s.scalars(select(HistoryEvent).where(HistoryEvent.milestone_id.in_(sorted(milestone_ids)))):
        note = (f"完成{e.percent}%。" if e.percent is not None else "") + (e.note or "")
        out[(e.milestone_id, e.occurrence)].append(
            HistoryLine(_local(e.at, cfg), ACTION_CN.get(e.action, e.action), e.actor or "", note))
    return out


def _grades(s: Session, cfg: Config, department_id: int, milestone_ids: set[int],
            ) -> tuple[dict[tuple[int, date], Light], dict[tuple[int, date], list[HistoryLine]]]:
    """Per item (milestone id, date): the grade last issued to the department (as its messages
    said it, not as today's pass would: the page agrees with what was sent), and a history line
    for each 督办单 issued."""
    last: dict[tuple[int, date], Light] = {}
    lines: dict[tuple[int, date], list[HistoryLine]] = defaultdict(list)
    for r in grade_log.of_department(s, department_id, milestone_ids) if milestone_ids else []:
        last[(r.milestone_id, r.occurrence)] = r.grade
        if r.grade is not Light.GREEN:
            lines[(r.milestone_id, r.occurrence)].append(
                HistoryLine(_local(r.at, cfg), f"下发{r.grade.label}色{r.grade.word}单", "", ""))
    return last, lines


def _signed(s: Session, cfg: Config, department_id: int) -> dict[tuple[int, date], list[HistoryLine]]:
    """The department's own 签收, per item (milestone id, date)."""
    out: dict[tuple[int, date], list[HistoryLine]] = defaultdict(list)
    for r in s.scalars(select(SignRequest).where(SignRequest.department_id == department_id,
                                                 SignRequest.signed_at.is_not(None))):
        if r.signed_at is None:
            continue
        what = "签收（电话，督查室代录）" if signing.by_telephone(r.signed_via) else "签收"
        line = HistoryLine(_local(r.signed_at, cfg), what, r.signed_by or "", "")
        if line not in out[(r.milestone_id, r.occurrence)]:  # one 签收 signs every request of the item
            out[(r.milestone_id, r.occurrence)].append(line)
    return out


def _belongs(s: Session, department_id: int, milestone_id: int, groups: dict[int, tuple[int, ...]]) -> bool:
    """Does the department (or a group it is a member of) hold any role in the item's task?"""
    task_id = s.scalar(select(Milestone.task_id).where(Milestone.id == milestone_id))
    if task_id is None:
        return False
    holders = set(s.scalars(select(TaskDepartment.department_id).where(TaskDepartment.task_id == task_id)))
    return department_id in holders or any(department_id in groups.get(g, ()) for g in holders)


def same_site(request: Request, base_url: str | None) -> bool:
    """Does the POST come from this site? ``Origin`` decides when sent, else ``Referer``; a
    client that sends neither is judged by the CSRF token alone."""
    hosts = {request.headers.get("host", "")}
    if base_url:
        hosts.add(urlsplit(base_url).netloc)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc in hosts
    referer = request.headers.get("referer")
    return referer is None or urlsplit(referer).netloc in hosts


def department_routes(engine: Engine, cfg: Config, signer: LinkSigner, renderer: Renderer, *, headers: dict[str, str],
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Route]:
    """The page's routes, for the reply-link app (notifier.web.app)."""
    template = renderer.env.get_template("department.html")
    # The forms post to this page itself: its Origin must be ours, so the page may send it
    # (same-origin); the token still never leaves the site.
    page_headers = {**headers, "Referrer-Policy": "same-origin"}

    def today() -> date:
        return clock().astimezone(cfg.timezone).date()

    def html(status: int, **ctx: Any) -> HTMLResponse:
        base = {"department": "", "items": [], "sections": [], "token": "", "csrf": "", "message": "", "tone": "",
                "form": {}, "today": today(), "at": ""}
        return HTMLResponse(template.render(**(base | ctx)), status_code=status, headers=page_headers)

    def refused(r: RefusedError) -> HTMLResponse:
        return html(r.status, title=r.title, message=r.message, tone="bad")

    def verify(token: str) -> int:
        try:
            return signer.verify_page(token, clock()).department_id
        except LinkError as exc:
            log.warning("department page refused (%s): %s", exc.reason, exc)
            if exc.reason == "expired":
                raise RefusedError(403, "链接已过期", "该链接已超过有效期。请使用最近一次提醒中的链接。") from None
            raise RefusedError(403, "链接无效",
                               "该链接无法验证（可能被修改或不完整）。请直接点击提醒中的链接。") from None

    def view(token: str, department_id: int, *, status: int = 200, message: str = "", tone: str = "",
             form: dict[str, str] | None = None, at: str = "") -> HTMLResponse:
        """``at``: the key of the item the message is about (shown in its card, where the
        browser scrolls to), else the message heads the page."""
        with transaction(engine) as s:
            dep = s.get(Department, department_id)
            if dep is None:
                raise RefusedError(403, "链接无效", "该链接无法验证。请直接点击提醒中的链接。")
            items = department_items(s, cfg, department_id, today())
            name = dep.name
        return html(status, title=f"{name}督办事项", department=name, items=items, sections=_sections(items),
                    token=token, csrf=signer.page_csrf(token), message=message, tone=tone, form=form or {},
                    at=at if any(i.key == at for i in items) else "")

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            dep = verify(token)
            ok = request.query_params.get("ok", "")
            return await run_in_threadpool(view, token, dep, message=DONE_MESSAGES.get(ok, ""),
                                           tone="ok" if ok in DONE_MESSAGES else "",
                                           at=request.query_params.get("item", ""))
        except RefusedError as r:
            return refused(r)

    def act(token: str, department_id: int, form: dict[str, str]) -> str:
        """Do what the form asks; returns the ``ok`` code of the redirect."""
        action = form.get("action", "")
        try:
            milestone_id, occurrence = int(form.get("milestone_id", "")), date.fromisoformat(form.get("occurrence", ""))
        except ValueError:
            raise RefusedError(400, "无法办理", "表单不完整，请刷新页面后重试。") from None
        person = " ".join(plain_line(form.get("person", "")).split())[:100]
        note = clean_note(form.get("note", ""))[:NOTE_MAX]
        now = clock().astimezone(UTC).replace(tzinfo=None)
        from notifier.reminders import group_members

        with transaction(engine) as s:
            dep = s.get(Department, department_id)
            if dep is None:
                raise RefusedError(403, "链接无效", "该链接无法验证。请直接点击提醒中的链接。")
            item = next((i for i in department_items(s, cfg, department_id, today())
                         if (i.milestone_id, i.occurrence) == (milestone_id, occurrence)), None)
            if item is None:
                if _belongs(s, department_id, milestone_id, group_members(s, cfg, create=False)):
                    raise RefusedError(409, "无需办理", "该事项已办结或已不在督办中，未作任何更改。")
                raise RefusedError(403, "无权办理", "该事项不是本单位的督办事项，未作任何更改。")
            actor = f"{dep.name}（{person}）" if person else dep.name
            occ = occurrence if item.recurring else None
            if action == SIGN:
                signing.sign(s, department_id=department_id, milestone_id=milestone_id, occurrence=occurrence,
                             by=actor, at=now)
                return SIGN
            if action == HistoryAction.PROGRESS:
                text = form.get("percent", "").strip()
                if not text.isdigit() or not 0 <= int(text) <= 100:
                    raise RefusedError(400, "请填写完成进度", "报送进展时请填写0到100之间的完成进度（百分比）。")
                if not note:
                    raise RefusedError(400, "请填写进展情况", "报送进展时请填写进展说明。")
                try:
                    apply_note(s, milestone_id, note, occurrence=occ, source=SOURCE, actor=actor, now=now,
                               percent=int(text))
                except MarkError as exc:
                    raise RefusedError(400, "无法办理", str(exc)) from None
                return HistoryAction.PROGRESS
            if action == REQUEST:
                if item.role != Role.LEAD:
                    raise RefusedError(403, "无权办理", "办结申请由牵头单位提出，未作任何更改。")
                if not note:
                    raise RefusedError(400, "请填写办结说明", "申请办结时请说明完成情况（如成果、文件名称）。")
                try:
                    r = request_done(s, milestone_id=milestone_id, occurrence=occ, department_id=department_id,
                                     note=note, by=actor, source=SOURCE, at=now, required=cfg.review.required)
                except ReviewError as exc:
                    raise RefusedError(409, "无法办理", f"{exc}，未作任何更改。") from None
                return REQUEST if r.state == RequestState.PENDING else HistoryAction.DONE
            raise RefusedError(400, "无法办理", "请选择办理方式。")

    async def post(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            dep = verify(token)
            if not same_site(request, cfg.web.base_url):
                raise RefusedError(403, "请求来源无法验证", "该请求不是从本页面提交的，未作任何更改。")
            body = await request.body()  # at most MAX_BODY bytes: the guard read it
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if not signer.page_csrf_ok(token, form.get("csrf")):
                raise RefusedError(403, "页面已过期", "表单令牌缺失或无效，未作任何更改。请重新打开提醒中的链接。")
            try:
                ok = await run_in_threadpool(act, token, dep, form)
            except RefusedError as r:
                if r.status != 400:
                    raise
                key = f"{form.get('milestone_id', '')}-{form.get('occurrence', '').replace('-', '')}"
                return await run_in_threadpool(view, token, dep, status=400, message=r.message, tone="bad", form=form,
                                               at=key)
            log.info("department page: %s on milestone %s by department %s", ok, one_line(form.get("milestone_id", "")),
                     dep)
            key = f"{int(form['milestone_id'])}-{date.fromisoformat(form['occurrence']):%Y%m%d}"  # checked by act
            return RedirectResponse(f"/d/{token}?ok={ok}&item={key}#m{key}", 303, headers=page_headers)
        except RefusedError as r:
            return refused(r)

    return [Route("/d/{token}", show, methods=["GET"]), Route("/d/{token}", post, methods=["POST"])]


def _sections(items: list[PageItem]) -> list[dict[str, Any]]:
    """The digest's grouping: overdue, due by the next cutoff, the rest (progress asked)."""
    cuts = sorted({i.cutoff for i in items if i.section == Section.CUTOFF and i.cutoff})
    due_heading = f"{cn_date(cuts[0])}前须完成" if len(cuts) == 1 else "本次督查节点前须完成"
    out = []
    headings = ((Section.OVERDUE, "已逾期未完成"), (Section.CUTOFF, due_heading),
                (Section.PROGRESS, "其他在办事项（请报送阶段性进展）"))
    for key, heading in headings:
        its = [i for i in items if i.section == key]
        if its:
            out.append({"key": key, "heading": heading, "entries": its})
    return out

