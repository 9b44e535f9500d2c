"""The office pages under /office/: login, the ledger, a task's page, actions, import,
contacts, the audit history, the xlsx export and the 通报.

Every page needs a session (else a redirect to /office/login); every POST needs the CSRF token
of its session (else 403) and the ``office`` role (a ``leader`` reads only: 403). Forms work
without JavaScript; an action answers with a redirect to the page that shows its effect.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from notifier.config import Config
from notifier.db.engine import transaction
from notifier.db.models import AuditEntry, Contact, Department, Milestone, Pause, Plan, Task, TaskDepartment
from notifier.importing.model import PlanFormatError
from notifier.importing.readers import read_plan
from notifier import review, signing
from notifier.office import actions, audit, exports
from notifier.office.accounts import LoginRefused, Signer, Who, log_in, log_out, session_user
from notifier.terms import Light
from notifier.office.history import task_history
from notifier.office.ledger import (Filters, department_counts, filter_rows, ledger_rows, load_items, load_rows,
                                    not_signed, unsigned_by_item)
from notifier.office.pauses import PauseError, end_pause, pause_spans, start_pause
from notifier.office.report import Period, PeriodError, build_report, percent
from notifier.rendering import cn_date
from notifier.web.app import HEADERS
from notifier.terms import HistoryAction

log = logging.getLogger(__name__)

COOKIE = "notifier_office"
LOGIN_COOKIE = "notifier_office_login"
MAX_FORM = 20_000
MAX_UPLOAD = 5_000_000
UPLOAD_SUFFIXES = {".txt", ".docx", ".xlsx", ".csv"}
PENDING_MINUTES = 30
PAGE_ROWS = 300  # ledger rows per page; the counts and the export cover every row
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class PendingImport:
    """An upload shown as a dry run, waiting for the user's confirmation (kept in memory)."""

    owner: int
    name: str
    data: bytes
    year: int | None
    plan_name: str | None
    created: float


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(resources.files("notifier.templates") / "office")),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["cn_date"] = cn_date
    env.filters["percent"] = percent
    env.filters["local"] = lambda at, tz: at.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return env


def make_office_app(engine: Engine, cfg: Config, *,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Starlette:
    """The /office/ pages. ``clock`` (aware) is the time of every decision; tests pin it."""
    if cfg.web.secret is None:
        raise ValueError("[web] needs secret_file or secret_env: it keys the office sessions")
    signer = Signer(cfg.web.secret.reveal())
    secure = bool(cfg.web.base_url and cfg.web.base_url.startswith("https://"))
    env = environment()
    pending: dict[str, PendingImport] = {}
    pending_lock = threading.Lock()

    def now_utc() -> datetime:
        return clock().astimezone(UTC).replace(tzinfo=None)

    def today() -> date:
        return clock().astimezone(cfg.timezone).date()

    def page(template: str, status: int = 200, who: Who | None = None, **ctx: Any) -> HTMLResponse:
        body = env.get_template(template).render(who=who, csrf=signer.csrf(who.session_id) if who else "",
                                             tz=cfg.timezone, lights=list(Light), **ctx)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def refusal(r: Refused, who: Who | None) -> HTMLResponse:
        return page("message.html", r.status, who, title="未能办理" if r.status < 500 else "出错了",
                    message=r.message, back="")

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/office/login?next={quote(target, safe='')}", 303, headers=HEADERS)

    def current(request: Request) -> Who | None:
        sid = signer.session_id(request.cookies.get(COOKIE))
        if sid is None:
            return None
        with transaction(engine) as s:
            return session_user(s, sid, now_utc())

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise Refused(413, "提交的内容过大，未作任何更改。")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(413, "提交的内容过大，未作任何更改。")
        return bytes(body)

    async def read_form(request: Request, limit: int = MAX_FORM) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
        body = await read_body(request, limit)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            return _multipart(ctype, body)
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}, {}

    def guarded(handler: Callable[..., Awaitable[Response]], *, act: bool = False,
                limit: int = MAX_FORM) -> Callable[[Request], Awaitable[Response]]:
        """Session first (else the login page), then for a POST the CSRF token (else 403), then
        for an action the office role (else 403)."""
        async def endpoint(request: Request) -> Response:
            who = await run_in_threadpool(current, request)
            if who is None:
                return to_login(request)
            try:
                if request.method == "POST":
                    form, files = await read_form(request, limit)
                    if not signer.csrf_ok(who.session_id, form.get("csrf")):
                        raise Refused(403, "页面已过期或请求来源无法验证（缺少有效的表单令牌），"
                                           "未作任何更改。请刷新页面后重试。")
                    if act and not who.can_act:
                        raise Refused(403, "您的账号仅可查看，不能办理。")
                    return await handler(request, who, form, files)
                return await handler(request, who)
            except Refused as r:
                return refusal(r, who)
        return endpoint

    # ------------------------------------------------------------------ login

    async def login(request: Request) -> Response:
        nxt = request.query_params.get("next", "")
        nxt = nxt if nxt.startswith("/office/") and not nxt.startswith("//") else "/office/"
        if request.method == "GET":
            nonce = secrets.token_hex(16)
            resp = page("login.html", title="登录", error="", name="", next=nxt,
                        login_csrf=signer.csrf("login:" + nonce))
            resp.set_cookie(LOGIN_COOKIE, signer.cookie(nonce), httponly=True, samesite="strict", secure=secure,
                            path="/office")
            return resp
        try:
            form, _ = await read_form(request)
        except Refused as r:
            return refusal(r, None)
        login_nonce = signer.session_id(request.cookies.get(LOGIN_COOKIE))
        if login_nonce is None or not signer.csrf_ok("login:" + login_nonce, form.get("csrf")):
            return page("message.html", 403, title="未能登录",
                        message="登录页面已过期或请求来源无法验证，请重新打开登录页面。", back="/office/login")
        name, password = form.get("name", ""), form.get("password", "")
        address = request.client.host if request.client else "-"

        def attempt() -> Who:
            refused = None
            with transaction(engine) as s:  # commits the failure too: it counts for the rate limit
                try:
                    return log_in(s, name, password, address, now_utc())
                except LoginRefused as exc:
                    refused = exc
            raise refused

        try:
            who = await run_in_threadpool(attempt)
        except LoginRefused as exc:
            msg = ("登录失败次数过多，请十五分钟后再试。" if exc.reason == "locked" else "用户名或密码错误。")
            return page("login.html", 429 if exc.reason == "locked" else 401, title="登录", error=msg, name=name,
                        next=nxt, login_csrf=form.get("csrf", ""))
        done = RedirectResponse(nxt, 303, headers=HEADERS)
        done.set_cookie(COOKIE, signer.cookie(who.session_id), httponly=True, samesite="strict", secure=secure,
                        path="/office")
        done.delete_cookie(LOGIN_COOKIE, path="/office")
        return done

    async def logout(request: Request, who: Who, form: dict, files: dict) -> Response:
        def out() -> None:
            with transaction(engine) as s:
                log_out(s, who, now_utc())
        await run_in_threadpool(out)
        resp = RedirectResponse("/office/login", 303, headers=HEADERS)
        resp.delete_cookie(COOKIE, path="/office")
        return resp

    # ------------------------------------------------------------------ reading

    def ledger_data(filters: Filters) -> dict[str, Any]:
        with transaction(engine) as s:
            rows = load_rows(s, cfg, today())
            plans = list(s.execute(select(Plan.id, Plan.name).order_by(Plan.id)))
            late_signs = not_signed(s, today())
        shown = filter_rows(rows, filters, open_only=True)
        counts = department_counts(filter_rows(rows, Filters(plan=filters.plan), open_only=True), today())
        departments = sorted({n for r in rows for n in r.item.names("lead") + r.item.names("responsible")
                              + r.item.names("cooperating")})
        totals = {x.value: sum(1 for r in shown if r.light is x) for x in Light}
        pages = max(1, -(-len(shown) // PAGE_ROWS))
        page = min(filters.page, pages)
        return dict(rows=shown[(page - 1) * PAGE_ROWS:page * PAGE_ROWS], shown_count=len(shown), page=page,
                    pages=pages, counts=counts, plans=plans, departments=departments, f=filters, totals=totals,
                    today=today(), all_count=len(rows), not_signed=late_signs)

    async def ledger(request: Request, who: Who) -> Response:
        data = await run_in_threadpool(ledger_data, Filters.of(request.query_params))
        return page("ledger.html", who=who, title="督办台账", **data)

    def task_data(task_id: int) -> dict[str, Any]:
        with transaction(engine) as s:
            task = s.get(Task, task_id)
            if task is None:
                raise Refused(404, "该任务不存在（方案可能已更新）。")
            items = load_items(s, cfg, task_id)
            rows = ledger_rows(items, cfg, today(), pause_spans(s), unsigned_by_item(s, today()))
            occurrences: dict[int, list] = {}
            for it in items:
                if it.recurrence:
                    occurrences.setdefault(it.milestone_id, []).append(it)
            roles: dict[str, list[tuple[int, str]]] = {}
            for role, dep_id, name in s.execute(select(TaskDepartment.role, Department.id, Department.name)
                                                .join(Department).where(TaskDepartment.task_id == task_id)
                                                .order_by(TaskDepartment.position)):
                roles.setdefault(role, []).append((dep_id, name))
            pauses = list(s.scalars(select(Pause).where(Pause.task_id == task_id, Pause.resumed_at.is_(None),
                                                        Pause.ends_on >= today())))
            plan = s.get(Plan, task.plan_id)
            waiting = signing.asked_of(s, {it.milestone_id for it in items})
            names = dict(s.execute(select(Department.id, Department.name).where(
                Department.id.in_({d for deps in waiting.values() for d in deps}))).all())
            asked: dict[int, list[tuple[str, str]]] = {}  # 代签收（电话）: milestone -> (value, label)
            for (mid, occ), deps in sorted(waiting.items()):
                asked.setdefault(mid, []).extend((f"{d}:{occ}", f"{names[d]}（{occ}）") for d in sorted(deps))
            return dict(task=task, plan=plan, rows=rows, occurrences=occurrences, roles=roles, active_pauses=pauses,
                        history=task_history(s, cfg, task_id), today=today(), asked=asked)

    async def task_page(request: Request, who: Who) -> Response:
        data = await run_in_threadpool(task_data, request.path_params["task_id"])
        return page("task.html", who=who, title=f"任务{data['task'].number}", **data)

    def contacts_data() -> dict[str, Any]:
        with transaction(engine) as s:
            health = {(c.channel, c.recipient): c for c in s.scalars(select(Contact))}
            ids = dict(s.execute(select(Department.name, Department.id)).all())
            pauses = {p.department_id: p for p in s.scalars(select(Pause).where(
                Pause.department_id.is_not(None), Pause.resumed_at.is_(None), Pause.ends_on >= today()))}
        deps = []
        for d in cfg.departments:
            contacts = [("email", a) for a in d.email] + [("webhook", w) for w in d.webhooks]
            deps.append(dict(name=d.name, aliases=d.aliases, members=d.members, id=ids.get(d.name),
                             pause=pauses.get(ids.get(d.name)),
                             contacts=[(ch, r, health.get((ch, r))) for ch, r in contacts]))
        return dict(departments=deps, today=today())

    async def contacts(request: Request, who: Who) -> Response:
        return page("contacts.html", who=who, title="联系人", **await run_in_threadpool(contacts_data))

    def audit_data() -> dict[str, Any]:
        with transaction(engine) as s:
            return dict(entries=list(s.scalars(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                               .limit(500))), names=audit.ACTIONS)

    async def audit_page(request: Request, who: Who) -> Response:
        return page("audit.html", who=who, title="操作记录", **await run_in_threadpool(audit_data))

    # ------------------------------------------------------------------ actions

    def act(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        with transaction(engine) as s:
            try:
                return fn(s, *a, **kw)
            except (actions.ActionError, PauseError) as exc:
                raise Refused(400, str(exc)) from None

    def task_of_milestone(mid: int) -> int:
        with transaction(engine) as s:
            m = s.get(Milestone, mid)
            if m is None:
                raise Refused(404, "该节点不存在（方案可能已更新）。")
            return m.task_id

    async def mark(request: Request, who: Who, form: dict, files: dict) -> Response:
        mid = request.path_params["mid"]
        tid = await run_in_threadpool(task_of_milestone, mid)
        occ = _date(form.get("occurrence", ""), "期次") if form.get("occurrence") else None
        done = form.get("action") != HistoryAction.REOPEN
        await run_in_threadpool(act, actions.set_done, mid, done, occurrence=occ, note=form.get("note", "").strip(),
                                actor=who.name, now=now_utc())
        return RedirectResponse(f"/office/task/{tid}", 303, headers=HEADERS)

    async def extend(request: Request, who: Who, form: dict, files: dict) -> Response:
        mid = request.path_params["mid"]
        tid = await run_in_threadpool(task_of_milestone, mid)
        new_due = _date(form.get("new_due", ""), "新的完成时限")
        await run_in_threadpool(act, actions.extend_deadline, mid, new_due, form.get("reason", ""),
                                actor=who.name, now=now_utc())
        return RedirectResponse(f"/office/task/{tid}", 303, headers=HEADERS)

    async def sign(request: Request, who: Who, form: dict, files: dict) -> Response:
        """代签收（电话）: the department named in ``who`` (``id:date``) signed by telephone."""
        mid = request.path_params["mid"]
        tid = await run_in_threadpool(task_of_milestone, mid)
        dep, _, occ = form.get("who", "").partition(":")
        if not dep.isdigit():
            raise Refused(400, "请选择签收的部门。")
        await run_in_threadpool(act, actions.sign_by_telephone, mid, int(dep), occurrence=_date(occ, "期次"),
                                person=form.get("person", ""), actor=who.name, now=now_utc())
        return RedirectResponse(f"/office/task/{tid}", 303, headers=HEADERS)

    async def pause(request: Request, who: Who, form: dict, files: dict) -> Response:
        task_id = int(form["task_id"]) if form.get("task_id", "").isdigit() else None
        dep_id = int(form["department_id"]) if form.get("department_id", "").isdigit() else None
        ends_on = _date(form.get("ends_on", ""), "暂停截止日期")

        def go(s, **kw):  # noqa: ANN001, ANN003, ANN202
            p = start_pause(s, **kw)
            what = f"任务 #{task_id}" if task_id else f"部门 #{dep_id}"
            audit.record(s, who.name, "pause", f"{what} 至 {p.ends_on}：{p.reason}", task_id=task_id, now=now_utc())
        await run_in_threadpool(act, go, task_id=task_id, department_id=dep_id, reason=form.get("reason", ""),
                                ends_on=ends_on, today=today(), actor=who.name, now=now_utc())
        return RedirectResponse(f"/office/task/{task_id}" if task_id else "/office/contacts", 303, headers=HEADERS)

    async def resume(request: Request, who: Who, form: dict, files: dict) -> Response:
        def go(s):  # noqa: ANN001, ANN202
            p = end_pause(s, request.path_params["pid"], actor=who.name, now=now_utc())
            audit.record(s, who.name, "resume", p.reason, task_id=p.task_id, now=now_utc())
            return p.task_id
        task_id = await run_in_threadpool(act, go)
        return RedirectResponse(f"/office/task/{task_id}" if task_id else "/office/contacts", 303, headers=HEADERS)

    async def resend(request: Request, who: Who, form: dict, files: dict) -> Response:
        r = await run_in_threadpool(act, actions.resend_latest, request.path_params["did"], actor=who.name,
                                    now=now_utc())
        return page("message.html", who=who, title="已安排重发",
                    message=f"已将最近一次提醒「{r.subject}」重新排入发送队列（{'、'.join(r.recipients)}），"
                            "守护进程将在下一次检查时发出。", back="/office/contacts")

    # ------------------------------------------------------------------ review of done requests

    def review_data() -> dict[str, Any]:
        with transaction(engine) as s:
            waiting = review.requests(s)
            decided = [r for r in review.requests(s, None) if r.state != review.RequestState.PENDING][-50:][::-1]
            tasks = dict(s.execute(select(Milestone.id, Milestone.task_id)
                                   .where(Milestone.id.in_({r.milestone_id for r in waiting + decided}))).all())
        return dict(waiting=waiting, decided=decided, tasks=tasks)

    async def review_page(request: Request, who: Who) -> Response:
        return page("review.html", who=who, title="办结审核", **await run_in_threadpool(review_data))

    async def decide(request: Request, who: Who, form: dict, files: dict) -> Response:
        if request.path_params["verdict"] not in ("approve", "return"):
            raise Refused(404, "没有这个操作。")
        approve = request.path_params["verdict"] == "approve"
        if not approve and not form.get("reason", "").strip():
            raise Refused(400, "退回时请填写原因。")
        await run_in_threadpool(act, actions.decide_request, request.path_params["rid"], approve,
                                reason=form.get("reason", "")[:2000], actor=who.name, now=now_utc())
        return RedirectResponse("/office/review", 303, headers=HEADERS)

    # ------------------------------------------------------------------ import

    async def import_form(request: Request, who: Who) -> Response:
        return page("import.html", who=who, title="导入方案", spec=None, token="", error="", name="")

    def preview(data: bytes, name: str, year: int | None, plan_name: str | None):  # noqa: ANN202
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise Refused(400, "请上传 .txt、.docx、.xlsx 或 .csv 文件。")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                return read_plan(path, year=year, plan_name=plan_name)
            except PlanFormatError as exc:
                raise Refused(400, f"无法读取该文件，未导入任何内容：{exc}") from None

    async def import_upload(request: Request, who: Who, form: dict, files: dict) -> Response:
        if "file" not in files or not files["file"][1]:
            raise Refused(400, "请选择要导入的文件。")
        name, data = files["file"]
        year = int(form["year"]) if form.get("year", "").strip().isdigit() else None
        plan_name = form.get("plan", "").strip() or None
        spec = await run_in_threadpool(preview, data, name, year, plan_name)
        token = secrets.token_urlsafe(24)
        with pending_lock:
            for k in [k for k, p in pending.items() if time.monotonic() - p.created > PENDING_MINUTES * 60]:
                del pending[k]
            pending[token] = PendingImport(who.id, name, data, year, plan_name, time.monotonic())
        return page("import.html", who=who, title="导入预览", spec=spec, token=token, error="", name=name)

    async def import_confirm(request: Request, who: Who, form: dict, files: dict) -> Response:
        with pending_lock:
            p = pending.pop(form.get("token", ""), None)
        if p is None or p.owner != who.id:
            raise Refused(400, "该导入预览已失效（超过三十分钟或已导入），请重新上传。")
        spec = await run_in_threadpool(preview, p.data, p.name, p.year, p.plan_name)
        summary = await run_in_threadpool(act, actions.import_plan, spec, cfg, file_name=p.name, actor=who.name,
                                          now=now_utc())
        verbs = {"created": "已新建", "updated": "已更新", "unchanged": "内容未变，未作更改："}
        verb = verbs.get(summary.action, summary.action)
        msg = f"{verb}《{summary.plan_name}》：{summary.tasks}项任务，{summary.milestones}个时间节点。"
        if summary.without_contact:
            msg += "以下部门尚无联系方式，收不到提醒：" + "、".join(summary.without_contact)
        return page("message.html", who=who, title="导入完成", message=msg, back="/office/")

    # ------------------------------------------------------------------ files and the 通报

    def ledger_file(filters: Filters, actor: str) -> bytes:
        with transaction(engine) as s:
            rows = filter_rows(load_rows(s, cfg, today()), filters, open_only=True)
            audit.record(s, actor, "export", f"督办台账.xlsx（{len(rows)}行）", now=now_utc())
        return exports.ledger_xlsx(rows)

    async def ledger_xlsx(request: Request, who: Who) -> Response:
        data = await run_in_threadpool(ledger_file, Filters.of(request.query_params), who.name)
        return _download(data, XLSX, f"督办台账-{today().isoformat()}.xlsx")

    def report_of(params: Any):  # noqa: ANN001, ANN202
        try:
            if params.get("cutoff"):
                period = Period.cutoff(params["cutoff"])
            else:
                t = today()
                period = Period.month(params.get("period") or f"{t.year}-{t.month:02d}")
        except PeriodError as exc:
            raise Refused(400, f"期间写法有误：{exc}") from None
        with transaction(engine) as s:
            items = load_items(s, cfg)
        return build_report(items, period, today())

    async def report(request: Request, who: Who) -> Response:
        rep = await run_in_threadpool(report_of, request.query_params)
        return page("report.html", who=who, title=exports.report_title(rep), report=rep)

    async def report_file(request: Request, who: Who) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("xlsx", "docx"):
            raise Refused(404, "通报可下载为 .xlsx 或 .docx。")
        rep = await run_in_threadpool(report_of, request.query_params)
        name = f"{exports.report_title(rep)}.{kind}"
        if kind == "xlsx":
            return _download(await run_in_threadpool(exports.report_xlsx, rep), XLSX, name)
        return _download(await run_in_threadpool(exports.report_docx, rep), DOCX, name)

    return Starlette(routes=[
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
        Route("/", guarded(ledger), methods=["GET"]),
        Route("/ledger.xlsx", guarded(ledger_xlsx), methods=["GET"]),
        Route("/task/{task_id:int}", guarded(task_page), methods=["GET"]),
        Route("/milestone/{mid:int}/done", guarded(mark, act=True), methods=["POST"]),
        Route("/milestone/{mid:int}/extend", guarded(extend, act=True), methods=["POST"]),
        Route("/milestone/{mid:int}/sign", guarded(sign, act=True), methods=["POST"]),
        Route("/pause", guarded(pause, act=True), methods=["POST"]),
        Route("/pause/{pid:int}/resume", guarded(resume, act=True), methods=["POST"]),
        Route("/department/{did:int}/resend", guarded(resend, act=True), methods=["POST"]),
        Route("/review", guarded(review_page), methods=["GET"]),
        Route("/review/{rid:int}/{verdict:str}", guarded(decide, act=True), methods=["POST"]),
        Route("/import", guarded(import_form), methods=["GET"]),
        Route("/import", guarded(import_upload, act=True, limit=MAX_UPLOAD), methods=["POST"]),
        Route("/import/confirm", guarded(import_confirm, act=True), methods=["POST"]),
        Route("/contacts", guarded(contacts), methods=["GET"]),
        Route("/audit", guarded(audit_page), methods=["GET"]),
        Route("/report", guarded(report), methods=["GET"]),
        Route("/report.{kind:str}", guarded(report_file), methods=["GET"]),
    ])


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refused(400, f"{what}请写成 2018-06-30 的格式。") from None


def _download(data: bytes, media: str, name: str) -> Response:
    headers = dict(HEADERS)
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(data, media_type=media, headers=headers)


def _multipart(ctype: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A multipart/form-data body, read with the standard library's MIME parser."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1") + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not msg.is_multipart():
        raise Refused(400, "无法读取提交的表单。")
    for part in msg.iter_parts():
        param = part.get_param("name", header="content-disposition")
        if not param:
            continue
        name = email.utils.collapse_rfc2231_value(param)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # decode=True gives the bytes of a non-multipart part
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (Path(filename.replace("\\", "/")).name, payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files
