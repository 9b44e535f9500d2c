"""Command line: parse arguments, call one step, print. No logic of its own.

Exit status: 0 ok, 1 the command ran but something failed (e.g. deliveries failed),
2 bad input (config, plan file, arguments), with a one-line-per-problem message and no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from notifier import __version__
from notifier import config as config_mod
from notifier.config import Config, ConfigError

try:
    from sqlalchemy.exc import OperationalError
except ImportError:  # pragma: no cover - a dependency
    OperationalError = ()  # type: ignore[assignment,misc]


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    from notifier import logging_setup

    # Everything this process prints passes the secret redactor (logging_setup.redact).
    if not isinstance(sys.stdout, logging_setup.RedactingStream):
        sys.stdout = logging_setup.RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, logging_setup.RedactingStream):
        sys.stderr = logging_setup.RedactingStream(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        cfg = config_mod.load(args.config)
        logging_setup.register_config(cfg)
        if cfg.path is None and args.func is not cmd_check_config:
            print(f"notifier: no config file ({config_mod.DEFAULT_PATH} does not exist, $NOTIFIER_CONFIG "
                  "unset): using the built-in defaults (SQLite in ./var, messages to ./var/outbox)",
                  file=sys.stderr)
        # One-shot commands print their results; their log shows warnings and worse
        # unless asked. The daemon logs at the configured level.
        default = cfg.log_level if args.func is cmd_run else "WARNING"
        setup_logging(args.log_level or default)
        return args.func(args, cfg) or 0
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"notifier: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        first = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        print(f"notifier: cannot use the database: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def setup_logging(level: str) -> None:
    from notifier import logging_setup

    logging_setup.setup(level, sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="notifier", description="Deadline reminders for government work plans.")
    p.add_argument("--config", type=Path, default=None,
                   help=f"config file (default: $NOTIFIER_CONFIG, else {config_mod.DEFAULT_PATH})")
    p.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (overrides [log] level)")
    p.add_argument("--version", action="version", version=f"notifier {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    def cmd(name: str, func, help: str) -> argparse.ArgumentParser:  # noqa: A002, ANN001
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    cmd("check-config", cmd_check_config, "validate the config and templates, then exit")

    db = cmd("db", None, "database maintenance")
    dbsub = db.add_subparsers(metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    up.add_argument("--from", dest="start", metavar="REVISION",
                    help="with --sql: the revision the database is at (default: read it from the database; "
                         "'base' for an empty one)")
    up.set_defaults(func=cmd_db_upgrade)
    bk = dbsub.add_parser("backup", help="copy the SQLite database to PATH while the daemon runs")
    bk.add_argument("path", type=Path)
    bk.set_defaults(func=cmd_db_backup)

    imp = cmd("import", cmd_import, "import a plan: task table (.csv/.xlsx), plan text (.txt) or .docx")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", default="auto", choices=["auto", "text", "docx", "xlsx", "csv"])
    imp.add_argument("--plan", help="plan name (default: the document title, or the file name)")
    imp.add_argument("--year", type=int, help="plan year, when the document does not say")
    imp.add_argument("--dry-run", action="store_true", help="show what would be imported; write nothing")
    imp.add_argument("--explain", metavar="TASK", help="show how each field of task TASK was found (implies --dry-run)")
    imp.add_argument("--active", action="store_true",
                     help="import a plan whose period (plus [schedule] after_end_days) has passed as active, not closed")

    pl = cmd("plan", None, "a plan's life: close it (no more reminders) or reopen it")
    plsub = pl.add_subparsers(metavar="ACTION", required=True)
    for action, text in (("close", "close a plan: no more reminders about it"),
                         ("reopen", "reopen a closed plan: its reminders resume")):
        pa = plsub.add_parser(action, help=text, description=text)
        pa.add_argument("name", help="the plan's id, 文号 or (part of its) name")
        pa.set_defaults(func=cmd_plan, action=action)

    ex = cmd("export", cmd_export, "write a plan's tasks and milestones as a task table (.xlsx or .csv)")
    ex.add_argument("file", type=Path, nargs="?")
    ex.add_argument("--plan", help="plan name or 文号 (needed when there are several)")
    ex.add_argument("--ledger", type=Path, metavar="FILE.xlsx",
                    help="write the office's 督办台账 (every plan, lights as fills) instead")

    sd = cmd("send-due", cmd_send_due, "one reminder pass: queue what is due, send it, exit")
    sd.add_argument("--now", help='pretend the local time is this, e.g. "2018-06-20 09:00"')
    sd.add_argument("--dry-run", action="store_true", help="show what would be sent; send and record nothing")
    sd.add_argument("--force", action="store_true", help="send even outside working days and the send window")

    pv = cmd("preview", cmd_preview, "print what a department would receive; send nothing")
    pv.add_argument("--department", required=True)
    pv.add_argument("--at", help='as if at this local time (default now), e.g. "2018-06-20 09:00"')
    pv.add_argument("--format", dest="fmt", default="txt", choices=["txt", "md", "html"])

    dn = cmd("done", cmd_done, "mark a milestone (or one occurrence of a recurring one) done")
    dn.add_argument("milestone_id", type=int)
    dn.add_argument("--note")
    dn.add_argument("--occurrence", type=date.fromisoformat, help="for a recurring report: which date")
    dn.add_argument("--reopen", action="store_true", help="undo a done mark")

    cmd("status", cmd_status, "counts, next reminders, failed deliveries, departments without contact")

    ms = cmd("milestones", cmd_milestones, "list milestones")
    ms.add_argument("--department")
    ms.add_argument("--due-before", type=date.fromisoformat)
    ms.add_argument("--status", choices=["open", "done", "overdue"])
    ms.add_argument("--plan")

    rt = cmd("retry", cmd_retry, "re-queue failed deliveries (after fixing the config)")
    rt.add_argument("delivery_id", nargs="?", type=int)
    rt.add_argument("--failed", action="store_true", help="all failed deliveries")

    cmd("run", cmd_run, "run the daemon")

    # -- schedule rules and reply links (issue 5) --
    pg = cmd("progress", cmd_progress, "record a progress note for a milestone (it stays open)")
    pg.add_argument("milestone_id", type=int)
    pg.add_argument("--note", required=True)
    pg.add_argument("--occurrence", type=date.fromisoformat, help="for a recurring report: which date")

    sv = cmd("serve", cmd_serve, "serve the reply-link pages ([web] listen) in the foreground")
    sv.add_argument("--listen", help='HOST:PORT, overrides [web] listen (e.g. "127.0.0.1:8080")')
    sv.add_argument("--now", help='pretend the local time is always this (the demo), e.g. "2018-06-20 09:00"')

    hist = cmd("history", cmd_history, "progress history: done marks, notes and reopenings, newest first")
    hist.add_argument("--milestone", type=int, help="only this milestone")
    hist.add_argument("--limit", type=int, default=50)

    # -- the office ledger's accounts (issue 10) --
    us = cmd("user", None, "accounts of the office pages (/office/)")
    ussub = us.add_subparsers(metavar="ACTION", required=True)
    ua = ussub.add_parser("add", help="add an account; the password is read from stdin or --password-file")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["office", "leader"],
                    help="office: reads and acts; leader: reads only")
    ua.add_argument("--password-file", type=Path)
    ua.set_defaults(func=cmd_user, user_action="add")
    ussub.add_parser("list", help="list the accounts").set_defaults(func=cmd_user, user_action="list")
    ud = ussub.add_parser("disable", help="disable an account and end its sessions")
    ud.add_argument("name")
    ud.set_defaults(func=cmd_user, user_action="disable")
    up_ = ussub.add_parser("passwd", help="set a new password (stdin or --password-file); ends its sessions")
    up_.add_argument("name")
    up_.add_argument("--password-file", type=Path)
    up_.set_defaults(func=cmd_user, user_action="passwd")
    return p


# ------------------------------------------------------------------------------ helpers

def _engine(cfg: Config, migrate: bool = True):  # noqa: ANN202
    from notifier.db.engine import make_engine, upgrade

    engine = make_engine(cfg.database_url)
    if migrate:
        upgrade(engine)
    return engine


def parse_now(value: str | None, cfg: Config) -> datetime:
    if not value:
        return datetime.now(cfg.timezone)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f'--now/--at: cannot read {value!r}; write e.g. "2018-06-20 09:00"') from None
    return dt.replace(tzinfo=cfg.timezone) if dt.tzinfo is None else dt


def _renderer(cfg: Config):  # noqa: ANN202
    from notifier.rendering import Renderer

    return Renderer.of(cfg)


# ------------------------------------------------------------------------------ commands

def cmd_check_config(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.reminders import calendar_of

    # daemon.config_problems makes the same check, with these messages, on SIGHUP.
    problems = [f"{cfg.path}: {p}" for p in _renderer(cfg).check()]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    for w in calendar_of(cfg).warnings(_calendar_years(cfg)):
        print(f"warning: {w}", file=sys.stderr)
    where = cfg.path or "built-in defaults"
    print(f"{where}: ok ({len(cfg.departments)} departments, {len(cfg.webhooks)} webhooks, "
          f"email {'on' if cfg.email else 'off'}{', all messages to the outbox' if cfg.outbox_divert else ''})")
    return 0


def _calendar_years(cfg: Config) -> set[int]:
    """This year, the next, and the years of the plans already imported (when the database
    exists and is migrated: check-config changes nothing)."""
    today = datetime.now(cfg.timezone).date()
    years = {today.year, today.year + 1}
    try:
        from notifier.db.engine import current_revision, make_engine, transaction
        from notifier.status import calendar_years

        if cfg.database_url.startswith("sqlite:///") and not Path(cfg.database_url.split("///", 1)[1]).exists():
            return years
        engine = make_engine(cfg.database_url)
        if current_revision(engine) is not None:
            with transaction(engine) as s:
                years |= calendar_years(s, today)
        engine.dispose()
    except Exception:  # noqa: BLE001 - check-config checks the config; an unreachable database is not its error
        pass
    return years


def cmd_db_upgrade(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.db.engine import current_revision, make_engine, upgrade

    engine = make_engine(cfg.database_url)
    if args.sql:
        # The SQL from the database's current revision to head, for review; nothing is run.
        current = None if args.start == "base" else args.start or current_revision(engine)
        if not upgrade(engine, sql=True, start=current):
            print(f"-- the database is at revision {current}, the newest: nothing to apply")
        return 0
    before = current_revision(engine)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)} (was {before or 'empty'})")
    return 0


def cmd_db_backup(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.db.engine import BackupError, backup, make_engine

    try:
        size = backup(make_engine(cfg.database_url), args.path)
    except BackupError as exc:
        print(f"notifier: {exc}", file=sys.stderr)
        return 2
    print(f"backed up to {args.path} ({size / 1e6:.1f} MB)")
    return 0


def cmd_import(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.db.engine import transaction
    from notifier.importing.model import PlanFormatError
    from notifier.importing.readers import read_plan
    from notifier.importing.store import store_plan
    from notifier.reminders import contact_gaps, describe_gaps

    try:
        spec = read_plan(args.file, fmt=args.format, year=args.year, plan_name=args.plan)
    except PlanFormatError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    for w in spec.warnings:
        print(f"{args.file}: warning: {w}", file=sys.stderr)
    if args.explain:
        return explain_task(spec, args.explain)
    if args.dry_run:
        print(format_plan(spec))
    engine = _engine(cfg)
    today = datetime.now(cfg.timezone).date()
    with transaction(engine) as s:
        summary = store_plan(s, spec, cfg)
        passed = import_closed(s, summary, spec, cfg, today, keep_active=args.active)
        gaps = describe_gaps(contact_gaps(s, cfg, [summary.plan_id]))
        if args.dry_run:
            s.rollback()
    verb = "would be " + summary.action if args.dry_run else summary.action
    print(f"plan {summary.plan_name!r} {verb}: {summary.tasks} tasks, {summary.milestones} milestones, "
          f"{len(summary.departments)} departments" + (f", {summary.done_kept} done marks kept" if summary.done_kept else ""))
    if passed:
        print(f"its period ended on {spec.ends_on} (more than {cfg.schedule.after_end_days} days ago): "
              + ("imported active, as --active asks" if args.active else
                 "imported closed, nothing will be sent about it (use --active, or `notifier plan reopen`)"))
    for line in gaps:
        print(line)
    return 0


def import_closed(s, summary, spec, cfg: Config, today: date, *, keep_active: bool) -> bool:  # noqa: ANN001
    """A newly imported plan whose period (plus grace) has passed is closed unless asked
    otherwise; True when the period has passed."""
    from notifier.db.models import Plan
    from notifier.plan_life import close_plan, has_passed

    if not has_passed(spec.ends_on, today, cfg.schedule.after_end_days):
        return False
    if summary.action == "created" and not keep_active:
        close_plan(s.get(Plan, summary.plan_id), datetime.now(UTC).replace(tzinfo=None))
    return True


def cmd_plan(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.db.engine import transaction
    from notifier.plan_life import UnknownPlan, close_plan, find_plan, reopen_plan

    engine = _engine(cfg)
    with transaction(engine) as s:
        try:
            plan = find_plan(s, args.name)
        except UnknownPlan as exc:
            raise UsageError(f"plan {args.action}: {exc}") from None
        if args.action == "close":
            changed = close_plan(plan, datetime.now(UTC).replace(tzinfo=None))
        else:
            changed = reopen_plan(plan)
        state = "closed" if args.action == "close" else "active"
        print(f"plan {plan.id} {plan.name!r}: {state}" + ("" if changed else f" (it already was {state})"))
    return 0


def format_plan(spec) -> str:  # noqa: ANN001
    lines = [f"{spec.name}  {spec.doc_number or ''}  {spec.starts_on}..{spec.ends_on}"]
    for t in spec.tasks:
        others = "、".join(t.responsible + t.cooperating)
        lines.append(f"{t.number:>6}  {t.title[:30]:<30}  牵头: {'、'.join(t.lead)}" + (f"  其他: {others}" if others else ""))
        for m in t.milestones:
            rule = f" [{m.recurrence}]" if m.recurrence else ""
            lines.append(f"{'':>8}{m.due}{rule}  {m.text[:40]}" + (f"  ← {m.phrase}" if m.phrase else ""))
    return "\n".join(lines)


def explain_task(spec, number: str) -> int:  # noqa: ANN001
    task = next((t for t in spec.tasks if t.number == number), None)
    if task is None:
        raise UsageError(f"--explain: no task {number!r}; tasks are " + ", ".join(t.number for t in spec.tasks[:60]))
    print(f"task {task.number}: {task.title}")
    for field in ("task", "lead", "responsible", "cooperating", "due"):
        print(f"  {field:<12} {task.evidence.get(field, '(not found)')}")
    for role in ("lead", "responsible", "cooperating"):
        print(f"  {role:<12} -> {'、'.join(getattr(task, role)) or '-'}")
    for m in task.milestones:
        rule = f" [{m.recurrence}]" if m.recurrence else ""
        print(f"  milestone    {m.due}{rule} {m.text}  <- line {m.line}: {m.phrase or '(no date: plan end)'}")
    return 0


def cmd_export(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.exporting import ExportError, export_plan

    if args.ledger:
        from notifier.office.commands import export_ledger

        if args.ledger.suffix.lower() != ".xlsx":
            raise UsageError(f"--ledger: write a .xlsx file, got {args.ledger}")
        print(export_ledger(_engine(cfg), cfg, args.ledger, datetime.now(cfg.timezone).date()))
        return 0
    if args.file is None:
        raise UsageError("export: give FILE (a plan's task table) or --ledger FILE.xlsx")
    try:
        n = export_plan(_engine(cfg), args.file, args.plan)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {n} milestone rows to {args.file}")
    return 0


def cmd_send_due(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.reminders import run_pass

    now = parse_now(args.now, cfg)
    engine = _engine(cfg)
    result = run_pass(engine, cfg, _renderer(cfg), now, force=args.force, dry_run=args.dry_run)
    if result.skipped_reason:
        # Quiet hours hold for what is already queued (retries included), not only new reminders.
        print(f"nothing queued or sent: {result.skipped_reason} (use --force to send anyway)")
        return 0
    if result.replaced:
        print(f"re-planned {result.replaced} digests of earlier days that were never sent")
    for q in result.queued:
        print(f"{'would queue' if args.dry_run else 'queued'} {q.kind} for {q.department} "
              f"({q.entries} items) to {', '.join(f'{c}:{r}' for c, r in q.contacts)}: {q.rendered.subject}")
    if result.without_contact:
        print(f"not sent, no contact in the config ({len(result.without_contact)}): "
              + "、".join(result.without_contact))
    if result.collective:
        print(f"not sent, collective names, not departments ({len(result.collective)}; expand them with "
              "[[groups]]): " + "、".join(result.collective))
    if args.dry_run:
        return 0
    from notifier.office.report_mail import queue_due_reports

    for name in queue_due_reports(engine, cfg, now):
        print(f"queued the 通报 for {name}")
    if args.now:  # simulated time: the staggered rows of this pass are all due by its last slot
        now_utc = now.astimezone(UTC).replace(tzinfo=None)
        counts = deliver(engine, cfg, max(now_utc, result.last_due_at or now_utc))
    else:  # real time: wait for each staggered row, as the daemon's tick would
        counts = deliver(engine, cfg, until=result.last_due_at)
    print(f"sent {counts.sent}, to retry {counts.retry}, failed {counts.failed}"
          + (f" ({counts.expired} expired)" if counts.expired else ""))
    if counts.failed_ids:
        from notifier.db import queries
        from notifier.db.engine import transaction
        from notifier.status import failure_lines

        with transaction(engine) as s:
            print("\n".join(failure_lines(queries.digest_failures(s, counts.failed_ids, limit=50))))
    return 1 if counts.failed else 0


def deliver(engine, cfg: Config, now: datetime | None = None, until: datetime | None = None):  # noqa: ANN001, ANN201
    from notifier.delivery.dispatcher import Dispatcher
    from notifier.delivery.routes import Routes

    async def go():  # noqa: ANN202
        routes = Routes(cfg)
        try:
            dispatcher = Dispatcher.from_config(engine, routes, cfg.delivery)
            if until is not None and now is None:
                return await dispatcher.run_paced(until)
            return await dispatcher.run_once(now)
        finally:
            await routes.aclose()

    return asyncio.run(go())


def cmd_preview(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.reminders import preview

    now = parse_now(args.at, cfg)
    messages = preview(_engine(cfg), cfg, _renderer(cfg), args.department, now)
    if not messages:
        print(f"{args.department}: nothing due at {now:%Y-%m-%d %H:%M}")
    for r in messages:
        body = {"txt": r.text, "md": r.markdown, "html": r.html}[args.fmt]
        print(f"Subject: {r.subject}\n\n{body}")
    return 0


def cmd_done(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.progress import ProgressError, mark

    engine = _engine(cfg)
    try:
        text = mark(engine, args.milestone_id, done=not args.reopen, note=args.note,
                    occurrence=args.occurrence, source="cli", actor=os.environ.get("USER"))
    except ProgressError as exc:
        raise UsageError(str(exc)) from None
    print(text)
    return 0


def cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import status_report

    engine = _engine(cfg)
    report, healthy = status_report(engine, cfg, datetime.now(cfg.timezone))
    print(report)
    return 0 if healthy else 1


def cmd_milestones(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import milestone_rows

    engine = _engine(cfg)
    today = datetime.now(cfg.timezone).date()
    rows = milestone_rows(engine, cfg, today, department=args.department, due_before=args.due_before,
                          status=args.status, plan=args.plan)
    for r in rows:
        print(r)
    print(f"({len(rows)} milestones)")
    return 0


def cmd_retry(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.progress import ProgressError, requeue

    if not args.failed and args.delivery_id is None:
        raise UsageError("retry: give a DELIVERY_ID or --failed")
    engine = _engine(cfg)
    try:
        n, expired = requeue(engine, None if args.failed else args.delivery_id)
    except ProgressError as exc:
        raise UsageError(str(exc)) from None
    print(f"re-queued {n} deliveries" + (f"; {expired} left failed: expired (their date is past)" if expired else ""))
    return 0 if n else 1


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.daemon import Daemon

    return Daemon(cfg, args.config, log_level=args.log_level).run()


# ------------------------------------------------------------- schedule rules and reply links

def cmd_progress(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.progress import ProgressError, note

    engine = _engine(cfg)
    try:
        text = note(engine, args.milestone_id, args.note, occurrence=args.occurrence, source="cli",
                    actor=os.environ.get("USER"))
    except ProgressError as exc:
        raise UsageError(str(exc)) from None
    print(text)
    return 0


def cmd_history(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import history_rows

    rows = history_rows(_engine(cfg), cfg, milestone=args.milestone, limit=args.limit)
    for r in rows:
        print(r)
    print(f"({len(rows)} events)")
    return 0


def cmd_serve(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.web.server import make_server

    if cfg.web.secret is None:
        raise UsageError("serve: [web] needs secret_file or secret_env (the key that signs reply links)")
    host = port = None
    if args.listen:
        h, _, p = args.listen.rpartition(":")
        if not p.isdigit():
            raise UsageError(f"--listen: write HOST:PORT, got {args.listen!r}")
        host, port = h.strip("[]") or "127.0.0.1", int(p)
    engine = _engine(cfg)
    kw = {}
    if args.now:  # a frozen clock: the demo's ledger as on the demo's date
        frozen = parse_now(args.now, cfg)
        kw["clock"] = lambda: frozen
    server = make_server(engine, cfg, host=host, port=port, **kw)
    print(f"serving reply links and the office ledger (/office/) on http://{server.config.host}:{server.config.port} "
          f"(links point to {cfg.web.base_url or '(no [web] base_url: reminders carry no links)'})", flush=True)
    server.run()
    return 0


def cmd_user(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.office.accounts import AccountError
    from notifier.office.commands import user_command

    try:
        print(user_command(_engine(cfg), args, os.environ.get("USER") or "cli", sys.stdin))
    except AccountError as exc:
        raise UsageError(f"user: {exc}") from None
    return 0
