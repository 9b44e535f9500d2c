"""Command line: parse arguments, call one step, print. No logic of its own.

Exit status: 0 ok, 1 the command ran but something failed (e.g. deliveries failed),
2 bad input (config, plan file, arguments), with a one-line-per-problem message and no traceback.

Conventions every command follows (README "Using it"):
- the global options (``--config``, ``--log-level``) are accepted before or after the command;
- the simulated time is ``--now`` everywhere; every date option reads ``2018-07-01``,
  ``2018/7/1`` and ``2018年7月1日`` (``parse_day``);
- what a person reads is in Chinese for plan content and statuses, with times in the
  configured time zone; ``--json`` gives the same data for programs (docs/cli-json.md);
- a reader that stops early (``notifier milestones | head``) ends the command quietly, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections import Counter
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from notifier import __version__, labels
from notifier import config as config_mod
from notifier.config import Config, ConfigError
from notifier.terms import ROLES, AccountRole, DeliveryStatus, Light, MilestoneStatus, PlanStatus, RowStatus, Source

try:
    from sqlalchemy.exc import OperationalError
except ImportError:  # pragma: no cover - a dependency
    OperationalError = ()  # type: ignore[assignment,misc]


if TYPE_CHECKING:
    from notifier.reminders import ContactGaps
    from notifier.status import Answer, FailedDigest, MilestoneRow, SignRow, StatusReport


T = TypeVar("T")


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
        setup_logging(args.log_level or default, cfg.timezone)
        status = args.func(args, cfg) or 0
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader stopped reading (`notifier milestones | head`): that is its choice, not an
        # error. Point stdout at /dev/null so the interpreter's final flush stays quiet.
        _stdout_to_devnull()
        return 0
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


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (captured in tests)
        pass


def setup_logging(level: str, tz=None) -> None:  # noqa: ANN001 - a tzinfo: log times in the office's zone
    from notifier import logging_setup

    logging_setup.setup(level, sys.stderr, tz)


def global_options(top: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name. Only the top parser has
    defaults: a subcommand's parser must not overwrite a value given before the command."""
    g = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {"default": None} if top else {"default": argparse.SUPPRESS}
    g.add_argument("--config", type=Path, **default,
                   help=f"config file (default: $NOTIFIER_CONFIG, else {config_mod.DEFAULT_PATH})")
    g.add_argument("--log-level", **default, help="DEBUG, INFO, WARNING or ERROR (overrides [log] level)")
    return g


E = TypeVar("E", bound=StrEnum)


def member_of(enum_type: type[E], text: str) -> E:
    """The member an argument names, or argparse's own "invalid choice" message, values quoted."""
    try:
        return enum_type(text)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_type)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {choices})") from None


def row_status(text: str) -> RowStatus:
    return member_of(RowStatus, text)


def account_role(text: str) -> AccountRole:
    """``--role``: an office account's role."""
    return member_of(AccountRole, text)


def build_parser() -> argparse.ArgumentParser:
    common = global_options(top=False)
    p = argparse.ArgumentParser(prog="notifier", description="Deadline reminders for government work plans.",
                                parents=[global_options(top=True)])
    p.add_argument("--version", action="version", version=f"notifier {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    def cmd(name: str, func, help: str) -> argparse.ArgumentParser:  # noqa: A002, ANN001
        sp = sub.add_parser(name, help=help, description=help, parents=[common])
        sp.set_defaults(func=func)
        return sp

    def add_json(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="print JSON for programs (schema: docs/cli-json.md)")

    cmd("check-config", cmd_check_config, "validate the config and templates, then exit")

    db = cmd("db", None, "database maintenance")
    dbsub = db.add_subparsers(metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations", parents=[common])
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    up.add_argument("--from", dest="start", metavar="REVISION",
                    help="with --sql: the revision the database is at (default: read it from the database; "
                         "'base' for an empty one)")
    up.set_defaults(func=cmd_db_upgrade)
    ri = dbsub.add_parser("reindex", parents=[common],
                          help="make every department due at the next planning pass (rebuilds the due index)")
    ri.set_defaults(func=cmd_db_reindex)
    bk = dbsub.add_parser("backup", help="copy the SQLite database to PATH while the daemon runs", parents=[common])
    bk.add_argument("path", type=Path)
    bk.set_defaults(func=cmd_db_backup)

    imp = cmd("import", cmd_import, "import a plan: task table (.csv/.xlsx), plan text (.txt) or .docx")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", default="auto", choices=["auto", "text", "docx", "xlsx", "csv"])
    imp.add_argument("--plan", help="plan name (default: the document title, or the file name)")
    imp.add_argument("--year", type=int, help="plan year, when the document does not say")
    imp.add_argument("--dry-run", action="store_true", help="show what would be imported; write nothing")
    imp.add_argument("--explain", metavar="TASK", help="show how each field of task TASK was found (implies --dry-run)")
    imp.add_argument("--strict", action="store_true",
                     help="refuse a plan in which any task's lead is inferred or missing")
    imp.add_argument("--active", action="store_true",
                     help="import a plan whose period (plus [schedule] after_end_days) has passed as active, "
                          "not closed")

    pl = cmd("plan", None, "a plan's life: close it (no more reminders) or reopen it")
    plsub = pl.add_subparsers(metavar="ACTION", required=True)
    for action, text in (("close", "close a plan: no more reminders about it"),
                         ("reopen", "reopen a closed plan: its reminders resume")):
        pa = plsub.add_parser(action, help=text, description=text, parents=[common])
        pa.add_argument("name", help="the plan's id, 文号 or (part of its) name")
        pa.set_defaults(func=cmd_plan, action=action)

    ex = cmd("export", cmd_export, "write a plan's tasks and milestones as a task table (.xlsx or .csv)")
    ex.add_argument("file", type=Path, nargs="?")
    ex.add_argument("--plan", help="plan name or 文号 (needed when there are several)")
    ex.add_argument("--ledger", type=Path, metavar="FILE.xlsx",
                    help="write the office's 督办台账 (every plan, lights as fills) instead")

    sd = cmd("send-due", cmd_send_due, "one reminder pass: queue what is due, send it, exit")
    add_now(sd)
    sd.add_argument("--dry-run", action="store_true", help="show what would be sent; send and record nothing")
    sd.add_argument("--force", action="store_true", help="send even outside working days and the send window")
    add_json(sd)

    pv = cmd("preview", cmd_preview, "print what a department would receive; send nothing")
    pv.add_argument("--department", required=True)
    add_now(pv, deprecated_alias="--at")
    pv.add_argument("--format", dest="fmt", default="txt", choices=["txt", "md", "html"])

    dn = cmd("done", cmd_done, "mark a milestone (or one occurrence of a recurring one) done")
    dn.add_argument("milestone_id", type=int)
    dn.add_argument("--note")
    dn.add_argument("--occurrence", type=day_arg, metavar="DATE", help="for a recurring report: which date")
    dn.add_argument("--on", type=day_arg, metavar="DATE",
                    help="the day the work was really done, when recorded later (default: now)")
    dn.add_argument("--reopen", action="store_true", help="undo a done mark")

    st = cmd("status", cmd_status, "counts, next reminders, failed deliveries, departments without contact")
    add_now(st)
    add_json(st)

    ms = cmd("milestones", cmd_milestones, "list milestones")
    ms.add_argument("--department", help="only the tasks this department has a role in (the role is shown)")
    ms.add_argument("--due-before", type=day_arg, metavar="DATE")
    ms.add_argument("--status", type=row_status, choices=list(RowStatus))
    ms.add_argument("--plan")
    add_now(ms)
    add_json(ms)

    rt = cmd("retry", cmd_retry, "re-queue failed deliveries (after fixing the config)")
    rt.add_argument("delivery_id", nargs="?", type=int)
    rt.add_argument("--failed", action="store_true", help="all failed deliveries")

    cmd("run", cmd_run, "run the daemon")

    # -- schedule rules and reply links (issue 5) --
    pg = cmd("progress", cmd_progress, "record a progress note for a milestone (it stays open)")
    pg.add_argument("milestone_id", type=int)
    pg.add_argument("--note", required=True)
    pg.add_argument("--occurrence", type=day_arg, metavar="DATE", help="for a recurring report: which date")

    sg = cmd("sign", cmd_sign, "record a 签收 a department made by telephone (items a reminder asked it to sign for)")
    sg.add_argument("department", metavar="DEPARTMENT")
    sg.add_argument("milestone_ids", type=int, nargs="+", metavar="MILESTONE_ID")
    sg.add_argument("--occurrence", type=day_arg, metavar="DATE", help="for a recurring report: which date")
    sg.add_argument("--by", metavar="NAME", help="who signed for the department (签收人), as told on the telephone")
    sg.add_argument("--on", type=day_arg, metavar="DATE",
                    help="the day the department signed, when recorded later (default: now)")
    add_json(sg)

    sv = cmd("serve", cmd_serve, "serve the reply-link pages ([web] listen) in the foreground")
    sv.add_argument("--listen", help='HOST:PORT, overrides [web] listen (e.g. "127.0.0.1:8080")')
    sv.add_argument("--now", type=moment_arg, metavar="TIME",
                    help='pretend the local time is always this (the demo), e.g. "2018-06-20 09:00"')

    hist = cmd("history", cmd_history, "progress history: done marks, notes and reopenings, newest first")
    hist.add_argument("--milestone", type=int, help="only this milestone")
    hist.add_argument("--limit", type=int, default=50)
    add_json(hist)

    # -- the office ledger's accounts (issue 10) --
    us = cmd("user", None, "accounts of the office pages (/office/)")
    ussub = us.add_subparsers(metavar="ACTION", required=True)
    ua = ussub.add_parser("add", help="add an account; the password is read from stdin or --password-file",
                          parents=[common])
    ua.add_argument("name")
    ua.add_argument("--role", required=True, type=account_role, choices=list(AccountRole),
                    help="office: reads and acts; leader: reads only")
    ua.add_argument("--password-file", type=Path)
    ua.set_defaults(func=cmd_user, user_action="add")
    ussub.add_parser("list", help="list the accounts", parents=[common]).set_defaults(func=cmd_user,
                                                                                      user_action="list")
    ud = ussub.add_parser("disable", help="disable an account and end its sessions", parents=[common])
    ud.add_argument("name")
    ud.set_defaults(func=cmd_user, user_action="disable")
    up_ = ussub.add_parser("passwd", help="set a new password (stdin or --password-file); ends its sessions",
                           parents=[common])
    up_.add_argument("name")
    up_.add_argument("--password-file", type=Path)
    up_.set_defaults(func=cmd_user, user_action="passwd")

    # -- the department's side (issue 11): done requests under review --
    rv = cmd("review", None, "done requests (申请办结) waiting for the office: list, approve, return")
    rvsub = rv.add_subparsers(metavar="ACTION", required=True)
    rl = rvsub.add_parser("list", help="the requests waiting for review (--all: every request)", parents=[common])
    rl.add_argument("--all", action="store_true", help="also the approved and returned ones")
    rl.set_defaults(func=cmd_review, review_action="list")
    ra = rvsub.add_parser("approve", help="approve a request: the item is done as of the request", parents=[common])
    ra.add_argument("request_id", type=int)
    ra.add_argument("--note", default="", help="the office's remark, kept in the history")
    ra.set_defaults(func=cmd_review, review_action="approve")
    rr = rvsub.add_parser("return", help="return a request with a reason: reminders resume, the department's "
                          "next digest tells the reason", parents=[common])
    rr.add_argument("request_id", type=int)
    rr.add_argument("--reason", required=True)
    rr.set_defaults(func=cmd_review, review_action="return")

    tc = cmd("test-contact", cmd_test_contact, "send a test message to each contact of a department, now, "
             "and report each result")
    tc.add_argument("department", help="name or alias in [[departments]] (a group: its members' contacts)")
    return p


# ------------------------------------------------------------------------------ dates and times

_DAY = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_DAY_RE = re.compile(rf"\s*{_DAY}\s*")
_MOMENT_RE = re.compile(rf"\s*{_DAY}(?:\s*[T ]\s*(\d{{1,2}})\s*[:：时点]\s*(\d{{1,2}})?\s*分?(?::(\d{{1,2}}))?)?\s*")
DATE_FORMS = "2018-07-01, 2018/7/1 or 2018年7月1日"


def parse_day(text: str) -> date:
    """The one reader of dates typed on the command line: ``2018-07-01``, ``2018/7/1``,
    ``2018.7.1`` and ``2018年7月1日``. Raises ValueError."""
    m = _DAY_RE.fullmatch(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a date; write {DATE_FORMS}")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: {exc}") from None


def parse_moment(text: str) -> datetime:
    """A date as ``parse_day`` reads it, with an optional time ``09:00`` (or ``9时``); naive
    (local to the configured zone) unless an ISO offset is given (``2018-06-20T09:00+08:00``)."""
    m = _MOMENT_RE.fullmatch(text)
    if m:
        day = parse_day(f"{m[1]}-{m[2]}-{m[3]}")
        try:
            return datetime.combine(day, time(int(m[4] or 0), int(m[5] or 0), int(m[6] or 0)))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a time: {exc}") from None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'cannot read {text!r} as a time; write e.g. "2018-06-20 09:00" '
                         f"(the date as {DATE_FORMS})") from None


def day_arg(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def moment_arg(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _DeprecatedAlias(argparse.Action):
    """``preview --at``: the old name of ``--now``, still read, with a note on stderr."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001, ANN204
        print(f"notifier: {option_string} is deprecated; use --now", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_now(sp: argparse.ArgumentParser, deprecated_alias: str | None = None) -> None:
    sp.add_argument("--now", type=moment_arg, metavar="TIME",
                    help='act as if the local time were this, e.g. "2018-06-20 09:00" (default: now)')
    if deprecated_alias:
        sp.add_argument(deprecated_alias, dest="now", type=moment_arg, action=_DeprecatedAlias, help=argparse.SUPPRESS)


def now_of(args: argparse.Namespace, cfg: Config) -> datetime:
    """``--now`` (naive: in the configured zone), else the real time; aware, in the configured zone."""
    value: datetime | None = getattr(args, "now", None)
    if value is None:
        return datetime.now(cfg.timezone)
    return value.replace(tzinfo=cfg.timezone) if value.tzinfo is None else value.astimezone(cfg.timezone)


# ------------------------------------------------------------------------------ helpers

def _engine(cfg: Config, migrate: bool = True):  # noqa: ANN202
    from notifier.db.engine import make_engine, upgrade

    engine = make_engine(cfg.database_url)
    if migrate:
        upgrade(engine)
    return engine


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
    for w in (*cfg.deprecations, *calendar_of(cfg).warnings(_calendar_years(cfg))):
        print(f"warning: {w}", file=sys.stderr)
    where = cfg.path or "built-in defaults"
    divert = f", all messages to the folder {cfg.folder_dir}" if cfg.folder_divert else ""
    print(f"{where}: ok ({len(cfg.departments)} departments, {len(cfg.webhooks)} webhooks, "
          f"email {'on' if cfg.email else 'off'}{divert})")
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
    except Exception:  # noqa: BLE001, S110 - check-config checks the config; an unreachable database is not its error
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


def cmd_db_reindex(_args: argparse.Namespace, cfg: Config) -> int:
    from notifier import due_index
    from notifier.db.engine import make_engine, transaction, upgrade

    engine = make_engine(cfg.database_url)
    upgrade(engine)
    with transaction(engine) as s:
        n = due_index.mark_all(s)
    print(f"{n} departments due at the next planning pass")
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
    from notifier.reminders import contact_gaps

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
    if args.strict:
        from notifier.importing.dry_run import unsure_leads

        if unsure := unsure_leads(spec):
            for line in unsure:
                print(f"{args.file}: {line}", file=sys.stderr)
            print(f"{args.file}: --strict: {len(unsure)} tasks without a stated lead; nothing imported",
                  file=sys.stderr)
            return 2
    engine = _engine(cfg)
    today = datetime.now(cfg.timezone).date()
    with transaction(engine) as s:
        summary = store_plan(s, spec, cfg)
        passed = import_closed(s, summary, spec, cfg, today, keep_active=args.active)
        gaps = contact_gaps(s, cfg, [summary.plan_id])
        if args.dry_run:
            s.rollback()
    verb = IMPORT_CN.get(summary.action, (summary.action, summary.action))[1 if args.dry_run else 0]
    print(f"方案《{summary.plan_name}》{verb}：任务 {summary.tasks} 项，时间节点 {summary.milestones} 个，"
          f"涉及部门 {len(summary.departments)} 个"
          + (f"，保留办结标记 {summary.done_kept} 个" if summary.done_kept else ""))
    if passed:
        print(f"方案期限已于 {spec.ends_on} 结束（已超过 {cfg.schedule.after_end_days} 天）："
              + ("按 --active 导入为进行中" if args.active else
                 "已导入为已结束，不会就此方案发送任何消息（可用 --active 导入，或 notifier plan reopen）"))
    for line in gap_lines(gaps):
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
        state = labels.PLAN_STATUS[PlanStatus.CLOSED if args.action == "close" else PlanStatus.ACTIVE]
        print(f"方案 {plan.id}《{plan.name}》：{state}" + ("" if changed else f"（原本就是{state}）"))
    return 0


def format_plan(spec) -> str:  # noqa: ANN001
    from notifier.importing.dry_run import plan_table

    return plan_table(spec)


def explain_task(spec, number: str) -> int:  # noqa: ANN001
    task = next((t for t in spec.tasks if t.number == number), None)
    if task is None:
        raise UsageError(f"--explain: no task {number!r}; tasks are " + ", ".join(t.number for t in spec.tasks[:60]))
    print(f"task {task.number}: {task.title}")
    for field in ("task", "lead", "responsible", "cooperating", "due"):
        print(f"  {field:<12} {task.evidence.get(field, '(not found)')}")
    for role in ROLES:
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

    now = now_of(args, cfg)
    engine = _engine(cfg)
    result = run_pass(engine, cfg, _renderer(cfg), now, force=args.force, dry_run=args.dry_run)
    report: dict[str, Any] = {
        "schema": "notifier/send-due/1", "now": now.isoformat(), "dry_run": args.dry_run,
        "skipped_reason": result.skipped_reason, "replanned": result.replaced,
        "digests": [{"department": q.department, "kind": q.kind, "items": listed_items(q.rendered.data),
                     "subject": q.rendered.subject,
                     "contacts": [{"channel": c, "recipient": r} for c, r in q.contacts]} for q in result.queued],
        "without_contact": list(result.without_contact), "collective": list(result.collective), "reports": [],
        "delivery": None}
    if result.skipped_reason:
        # Quiet hours hold for what is already queued (retries included), not only new reminders.
        _say(args, report, f"nothing queued or sent: {result.skipped_reason} (use --force to send anyway)")
        return 0
    lines = []
    if result.replaced:
        lines.append(f"重新编排了 {result.replaced} 份以前未发出的提醒")
    for d in report["digests"]:
        items = f"（{d['items']}项）" if d["items"] is not None else ""
        to = "、".join(f"{c['channel']}:{c['recipient']}" for c in d["contacts"])
        lines.append(f"{'将排队' if args.dry_run else '已排队'}：{labels.DIGEST_KIND.get(d['kind'], d['kind'])} → "
                     f"{d['department']}{items}，发往 {to}：{d['subject']}")
    if result.without_contact:
        lines.append(f"未发送，配置中没有联系方式（{len(result.without_contact)}个部门）："
                     + "、".join(result.without_contact))
    if result.collective:
        lines.append(f"未发送，集体名称不是部门（{len(result.collective)}个；可用 [[groups]] 展开为成员）："
                     + "、".join(result.collective))
    if args.dry_run:
        _say(args, report, *lines)
        return 0
    from notifier.office.report_mail import queue_due_reports

    report["reports"] = list(queue_due_reports(engine, cfg, now))  # the office's 通报 by e-mail ([report])
    lines += [f"已排队：通报 → {name}" for name in report["reports"]]
    if lines and not args.json:
        print("\n".join(lines), flush=True)  # before the (possibly paced) sending starts
    if args.now:  # simulated time: the staggered rows of this pass are all due by its last slot
        now_utc = now.astimezone(UTC).replace(tzinfo=None)
        counts = deliver(engine, cfg, max(now_utc, result.last_due_at or now_utc))
    else:  # real time: wait for each staggered row, as the daemon's tick would
        counts = deliver(engine, cfg, until=result.last_due_at)
    report["delivery"] = {"sent": counts.sent, "retry": counts.retry, "failed": counts.failed,
                          "expired": counts.expired, "unrecorded": counts.unrecorded, "failed_digests": []}
    lines = [f"已发送 {counts.sent}，待重试 {counts.retry}，失败 {counts.failed}"
             + (f"（其中 {counts.expired} 个已过期）" if counts.expired else "")]
    if counts.unrecorded:  # sent (or tried) but not written: never a silent "sent 0"
        lines.append(counts.unrecorded_note())
    if counts.failed_ids:
        from notifier.db.engine import transaction
        from notifier.delivery.outbox import digest_failures
        from notifier.status import failed_digests

        with transaction(engine) as s:
            failures = failed_digests(digest_failures(s, counts.failed_ids, limit=50))
        report["delivery"]["failed_digests"] = [failed_json(f) for f in failures]
        lines += failure_lines(failures)
    _say(args, report, *lines)
    return 1 if counts.needs_attention else 0


def listed_items(data: dict[str, Any]) -> int | None:
    """How many numbered lines a digest lists (what its subject counts), from the data it was
    rendered with; None for a message that lists no items (a broken-contact notice)."""
    sections = ("overdue", "due_by_cutoff", "upcoming", "progress_tasks", "escalation")
    if not any(k in data for k in sections):
        return None
    return sum(len(data.get(k) or ()) for k in sections)


def deliver(engine, cfg: Config, now: datetime | None = None, until: datetime | None = None):  # noqa: ANN001, ANN201
    from notifier.delivery.dispatcher import Counts, Dispatcher
    from notifier.delivery.routes import STOP_GRACE_SECONDS, Routes

    async def go():  # noqa: ANN202
        routes = Routes(cfg)
        try:
            dispatcher = Dispatcher.from_config(engine, routes, cfg.delivery)

            woken = asyncio.Event()
            main = asyncio.current_task()
            assert main is not None  # go() runs as asyncio.run's task

            def stop() -> None:  # SIGTERM/SIGINT: claim nothing new, end requests in flight as retries
                dispatcher.stopping = True
                routes.interrupt()
                woken.set()
                # A send that does not end (an SMTP server that stalls) is cancelled after the grace.
                loop.call_later(STOP_GRACE_SECONDS, main.cancel)

            async def nap(seconds: float) -> None:  # run_paced's wait for the next staggered row
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), seconds)

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop)
            try:
                if until is not None and now is None:
                    return await dispatcher.run_paced(until, sleep=nap)
                return await dispatcher.run_once(now)
            except asyncio.CancelledError:
                print(f"notifier: stopped; deliveries still in flight stay claimed for their lease "
                      f"({cfg.delivery.lease_seconds} s) and are then sent again", file=sys.stderr)
                return Counts(errors=["interrupted"])
        finally:
            with contextlib.suppress(TimeoutError):  # a stalled server must not hold the exit
                await asyncio.wait_for(routes.aclose(), STOP_GRACE_SECONDS)

    return asyncio.run(go())


def cmd_preview(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.reminders import preview
    from notifier.departments import check_department

    now = now_of(args, cfg)
    engine = _engine(cfg)
    known_department(check_department, engine, cfg, args.department)
    messages = preview(engine, cfg, _renderer(cfg), args.department, now)
    if not messages:
        print(f"{args.department}：{now:%Y-%m-%d %H:%M} 没有要发送的内容")
    for r in messages:
        body = {"txt": r.text, "md": r.markdown, "html": r.html}[args.fmt]
        print(f"Subject: {r.subject}\n\n{body}")
    return 0


def known_department(check: Callable[..., T], *args: Any) -> T:
    """Run a step that names a department; an unknown name is bad input (exit 2), with the
    nearest known names."""
    from notifier.departments import UnknownDepartmentError

    try:
        return check(*args)
    except UnknownDepartmentError as exc:
        hint = f"；相近的名称：{'、'.join(exc.suggestions)}" if exc.suggestions else ""
        raise UsageError(f"没有名为「{exc.name}」的部门（配置和已导入的方案中都没有）{hint}") from None


def cmd_done(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.marks import MarkError, mark

    done_at = None
    if args.on is not None:
        if args.reopen:
            raise UsageError("done: --on is the day the work was done; it does not go with --reopen")
        if args.on > datetime.now(cfg.timezone).date():
            raise UsageError(f"done --on {args.on}: that day has not come yet")
        done_at = datetime.combine(args.on, time(0), cfg.timezone).astimezone(UTC).replace(tzinfo=None)
    engine = _engine(cfg)
    try:
        r = mark(engine, args.milestone_id, done=not args.reopen, note=args.note, occurrence=args.occurrence,
                 source=Source.CLI, actor=os.environ.get("USER"), done_at=done_at)
    except MarkError as exc:
        raise UsageError(str(exc)) from None
    state = "已办结" if not args.reopen else "已重新打开"
    if args.on is not None:
        state += f"（办结日期 {args.on}）"
    if not r.changed:
        state += "（原已办结）" if not args.reopen else "（原本就未办结）"
    print(f"{r.label}：{state}")
    return 0


def cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import status_report

    report = status_report(_engine(cfg), cfg, now_of(args, cfg))
    _say(args, status_json(report), *status_lines(report))
    return 0 if report.healthy else 1


def cmd_milestones(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import milestone_rows

    engine = _engine(cfg)
    now = now_of(args, cfg)
    rows = known_department(lambda: milestone_rows(
        engine, cfg, now.date(), department=args.department, due_before=args.due_before,
        status=args.status, plan=args.plan))
    data = {"schema": "notifier/milestones/1", "today": now.date().isoformat(), "department": args.department,
            "status": args.status, "milestones": [milestone_json(r) for r in rows]}
    what = "逾期期次" if args.status == RowStatus.OVERDUE else "时间节点"
    _say(args, data, *(milestone_line(r, args.department) for r in rows), f"（共{len(rows)}个{what}）")
    return 0


def cmd_retry(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.delivery.outbox import UnknownDeliveryError, requeue

    if not args.failed and args.delivery_id is None:
        raise UsageError("retry: give a DELIVERY_ID or --failed")
    engine = _engine(cfg)
    try:
        n, expired = requeue(engine, None if args.failed else args.delivery_id)
    except UnknownDeliveryError as exc:
        raise UsageError(str(exc)) from None
    print(f"已重新排队 {n} 个投递" + (f"；{expired} 个仍为失败：已过期（其日期已过）" if expired else ""))
    return 0 if n else 1


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.daemon import Daemon

    return Daemon(cfg, args.config, log_level=args.log_level).run()


# ------------------------------------------------------------- schedule rules and reply links

def cmd_progress(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.marks import MarkError, note

    engine = _engine(cfg)
    try:
        r = note(engine, args.milestone_id, args.note, occurrence=args.occurrence, source=Source.CLI,
                 actor=os.environ.get("USER"))
    except MarkError as exc:
        raise UsageError(str(exc)) from None
    print(f"{r.label}：已记录进展")
    return 0


def cmd_sign(args: argparse.Namespace, cfg: Config) -> int:
    """A 签收 made by telephone, recorded by the office: every item or nothing (exit 2 naming
    the first that cannot be signed for)."""
    from notifier.db.engine import transaction, utcnow
    from notifier.departments import ids_named
    from notifier.signing import SignError, sign_for

    at = utcnow()
    if args.on is not None:
        if args.on > datetime.now(cfg.timezone).date():
            raise UsageError(f"sign --on {args.on}: that day has not come yet")
        at = datetime.combine(args.on, time(0), cfg.timezone).astimezone(UTC).replace(tzinfo=None)
    person = " ".join((args.by or "").split())[:100] or None
    engine = _engine(cfg)
    try:
        with transaction(engine) as s:
            ids = known_department(ids_named, s, cfg, args.department)
            done = [sign_for(s, department_ids=ids, department=args.department, milestone_id=mid,
                             occurrence=args.occurrence, person=person, at=at, via=Source.CLI,
                             recorded_by=os.environ.get("USER") or "cli")
                    for mid in dict.fromkeys(args.milestone_ids)]
    except SignError as exc:
        raise UsageError(str(exc)) from None
    lines = [f"{r.label}（{r.occurrence}）：" + (
        f"{r.signed_by}已签收（电话，{local_time(r.signed_at, cfg)}）" if r.requests
        else f"原已签收（{r.signed_by}，{local_time(r.signed_at, cfg)}），未作更改")
        for r in done]
    data = {"schema": "notifier/sign/1", "department": args.department,
            "signed": [{"milestone_id": r.milestone_id, "occurrence": r.occurrence, "department": r.department,
                        "requests": r.requests, "already_signed": not r.requests, "signed_by": r.signed_by,
                        "at": r.signed_at.replace(tzinfo=UTC).astimezone(cfg.timezone)} for r in done]}
    _say(args, data, *lines)
    return 0


def cmd_history(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.status import history_rows, sign_rows, step_rows

    engine = _engine(cfg)
    rows = history_rows(engine, cfg, milestone=args.milestone, limit=args.limit)
    steps = step_rows(engine, cfg, milestone=args.milestone, limit=args.limit)
    signs = sign_rows(engine, cfg, milestone=args.milestone, limit=args.limit)
    data = {"schema": "notifier/history/1",
            "events": [{**(answer_json(r.answer) or {}), "task_number": r.task_number, "text": r.text} for r in rows],
            "grade_steps": [{"milestone_id": st.milestone_id, "occurrence": st.occurrence, "department": st.department,
                             "grade": st.grade, "on": st.on, "at": st.at, "task_number": st.task_number,
                             "text": st.text} for st in steps],
            "signatures": [{"milestone_id": r.milestone_id, "occurrence": r.occurrence, "department": r.department,
                            "by": r.by, "source": r.via, "recorded_by": r.recorded_by, "at": r.at,
                            "task_number": r.task_number, "text": r.text} for r in signs]}
    dated = [(r.answer.at, f"#{r.answer.milestone_id:<5}{f' {r.answer.occurrence}期' if r.answer.occurrence else ''} "
                           f"任务{r.task_number} {r.text[:30]}：{describe_answer(r.answer)}") for r in rows]
    for st in steps:
        g = Light(st.grade)
        dated.append((st.at, f"#{st.milestone_id:<5} 任务{st.task_number} {st.text[:30]}（{st.occurrence}）："
                             f"{st.at:%Y-%m-%d %H:%M} 升级为{g.label}色{g.word}单（{st.department}）"))
    for r in signs:
        dated.append((r.at, f"#{r.milestone_id:<5} 任务{r.task_number} {r.text[:30]}（{r.occurrence}）：{sign_cn(r)}"))
    lines = [line for _, line in sorted(dated, key=lambda d: d[0], reverse=True)[:args.limit]]
    _say(args, data, *lines, f"（共{len(lines)}条记录）")
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
    if args.now:  # a frozen clock: the demo's ledger as on the demo's date
        frozen = now_of(args, cfg)
        server = make_server(engine, cfg, host=host, port=port, clock=lambda: frozen)
    else:
        server = make_server(engine, cfg, host=host, port=port)
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


def cmd_review(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.db.engine import transaction
    from notifier.markup import one_line
    from notifier.review import RequestState, ReviewError, approve, requests, return_request

    engine = _engine(cfg)
    actor = os.environ.get("USER") or "cli"
    now = datetime.now(UTC).replace(tzinfo=None)
    with transaction(engine) as s:
        try:
            if args.review_action == "approve":
                r = approve(s, args.request_id, by=actor, source=Source.CLI, at=now, note=args.note)
                print(f"办结申请 {r.id}：已通过，时间节点#{r.milestone_id} 已办结")
                return 0
            if args.review_action == "return":
                r = return_request(s, args.request_id, reason=args.reason, by=actor, source=Source.CLI,
                                   at=now)
                print(f"办结申请 {r.id}：已退回，恢复提醒；退回原因将在该单位的下一次提醒中说明")
                return 0
        except ReviewError as exc:
            raise UsageError(f"review {args.review_action}: {exc}") from None
        rows = requests(s, None if args.all else RequestState.PENDING)
    if not rows:
        print("没有待审核的办结申请" if not args.all else "没有办结申请")
    for row in rows:
        occ = f" {row.occurrence}期" if row.occurrence else ""
        reason = f"（{row.decided_by}：{one_line(row.reason or '')}）" if row.reason else ""
        state = labels.REQUEST_STATE[row.state] + reason
        print(f"{row.id}  {state}  {row.department}  时间节点#{row.milestone_id}{occ}"
              f"（任务{row.task_number}：{row.text[:40]}）"
              f"  时限 {row.due}  申请 {local_time(row.requested_at, cfg)} {one_line(row.requested_by)}"
              + (f"：{one_line(row.note[:60])}" if row.note else ""))
    return 0


def local_time(at: datetime, cfg: Config) -> str:
    """A stored naive-UTC time as the office reads it (configured zone)."""
    return f"{at.replace(tzinfo=UTC).astimezone(cfg.timezone):%Y-%m-%d %H:%M}"


# ------------------------------------------------------------------------------ output

# The office's words for what it reads (README "Status and listings") are notifier.labels;
# JSON keeps the codes. An import's outcome is a word of this command only.
IMPORT_CN = {"created": ("已新建", "将新建"), "updated": ("已更新", "将更新"), "unchanged": ("无变化", "无变化")}


def _say(args: argparse.Namespace, data: dict[str, Any], *lines: str) -> None:
    """Print ``data`` as JSON with ``--json``, else the lines for a person."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))
    elif lines:
        print("\n".join(lines))


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def sign_cn(r: SignRow) -> str:
    """A 签收 as history words it: who signed, when, and through what (a telephone 签收 names
    who recorded it)."""
    from notifier.markup import one_line  # the signer's name came from a form or the command line

    from notifier.signing import by_telephone

    where = labels.SOURCE.get(r.via or Source.PAGE, r.via or "")
    via = f"电话签收，{one_line(r.recorded_by or '')}经{where}录入" if by_telephone(r.via) else f"经{where}"
    return f"签收 {r.at:%Y-%m-%d %H:%M} {via} {one_line(r.by)}"


def recurrence_cn(rule: str | None) -> str:
    if not rule:
        return ""
    if rule.startswith("monthly:"):
        return f"每月{rule.split(':', 1)[1]}日"
    return {"quarterly": "每季度", "semiannual": "每半年", "yearly": "每年"}.get(rule, rule)


def describe_answer(a: Answer) -> str:
    from notifier.markup import one_line  # actor and note came from a form: one line each

    who = f" {one_line(a.actor)}" if a.actor else ""
    action, source = labels.HISTORY_ACTION.get(a.action, a.action), labels.SOURCE.get(a.source, a.source)
    return (f"{action} {a.at:%Y-%m-%d %H:%M} 经{source}{who}"
            + (f"：完成{a.percent}%" if a.percent is not None else "")
            + (f"：{one_line(a.note[:60])}" if a.note else ""))


def answer_json(a: Answer | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"milestone_id": a.milestone_id, "occurrence": a.occurrence, "action": a.action, "at": a.at,
            "source": a.source, "actor": a.actor, "note": a.note, "percent": a.percent}


def milestone_line(r: MilestoneRow, department: str | None) -> str:
    status = labels.MILESTONE_STATUS
    flag = f"已逾期{r.days_late}天" if r.status == RowStatus.OVERDUE else status.get(r.status, r.status)
    if r.plan_status == PlanStatus.CLOSED:  # no longer chased: how late it is would only be noise
        flag = f"{status[MilestoneStatus.OPEN] if r.status == RowStatus.OVERDUE else flag}（方案已结束）"
    rule = f" {recurrence_cn(r.recurrence)}" if r.recurrence else ""
    role = f"{'、'.join(labels.ROLE[x] for x in r.roles)}  " if department else ""
    leads = "、".join(r.leads) or "未定"
    if r.status == RowStatus.OVERDUE and r.last is None:
        last = "（尚无答复）"
    else:
        last = f"（最近：{describe_answer(r.last)}）" if r.last else ""
    grade = f"[{Light(r.grade).label}] " if r.grade != Light.GREEN and r.plan_status != PlanStatus.CLOSED else ""
    return f"#{r.id:<5} {r.due}{rule} {grade}{flag}  {role}任务{r.task_number}（牵头：{leads}）：{r.text[:50]}{last}"


def milestone_json(r: MilestoneRow) -> dict[str, Any]:
    return {"id": r.id, "plan": r.plan, "plan_status": r.plan_status, "task_number": r.task_number,
            "task_title": r.task_title, "text": r.text,
            "due": r.due, "recurrence": r.recurrence, "status": r.status, "days_late": r.days_late,
            "leads": r.leads, "roles": r.roles, "last": answer_json(r.last), "grade": r.grade}


def failure_lines(failures: list[FailedDigest]) -> list[str]:
    """ "市发改委 提醒 2018-06-20：3个联系方式中2个失败", then one line per failed delivery."""
    lines = []
    for f in failures:
        lines.append(f"  {f.department} {labels.DIGEST_KIND.get(f.kind, f.kind)} {f.day}：{f.total}个联系方式中"
                     f"{len(f.failed)}个失败：{f.subject}")
        for did, channel, recipient, error in f.failed:
            lines.append(f"    #{did} {channel}:{recipient}: {error}")
    return lines


def failed_json(f: FailedDigest) -> dict[str, Any]:
    return {"department": f.department, "kind": f.kind, "day": f.day, "subject": f.subject, "total": f.total,
            "failed": [{"delivery_id": d, "channel": c, "recipient": r, "error": e} for d, c, r, e in f.failed]}


def gap_lines(gaps: ContactGaps) -> list[str]:
    """Who would receive something but cannot (the same answer in import, status and send-due)."""
    lines = []
    if gaps.departments:
        lines.append(f"没有任何联系方式的部门（{len(gaps.departments)}个）：" + "、".join(gaps.departments))
    if gaps.collective:
        lines.append(f"集体名称，不是部门（{len(gaps.collective)}个；可用 [[groups]] 的 name/members 展开为成员）："
                     + "、".join(gaps.collective))
    return lines


def status_lines(r: StatusReport) -> list[str]:
    lines = [f"方案 {r.plans} 个，任务 {r.tasks} 项，时间节点 {r.milestones_open + r.milestones_done} 个："
             f"未办结 {r.milestones_open}，已办结 {r.milestones_done}"]
    if r.overdue_dates:
        lines.append(f"逾期：{r.overdue_milestones} 个未办结的时间节点已过期限，共 {r.overdue_dates} 个逾期期次"
                     "（周期性报送每漏一期计一次；不含已结束的方案）")
    else:
        lines.append("逾期：无")
    if r.plans_closed:
        lines.append(f"已结束的方案（{len(r.plans_closed)}个，不再发送提醒；notifier plan reopen 可恢复）："
                     + "；".join(f"{p.id}《{p.name}》" for p in r.plans_closed))
    if r.recent_answers:
        by_source = Counter(a.source for a in r.recent_answers)
        lines.append(f"近7天的答复 {len(r.recent_answers)} 条（"
                     + "，".join(f"{labels.SOURCE.get(k, k)} {v}" for k, v in sorted(by_source.items())) + "）：")
        for a in r.recent_answers[:5]:
            lines.append(f"  #{a.milestone_id}{f' {a.occurrence}期' if a.occurrence else ''} {describe_answer(a)}")
    if r.reviews_waiting:
        lines.append(f"待审核的办结申请：{r.reviews_waiting} 项（notifier review list）")
    deliveries = (f"{labels.DELIVERY_STATUS.get(k, k)} {v}" for k, v in sorted(r.deliveries.items()))
    lines.append("投递：" + ("，".join(deliveries) or "无"))
    if r.next_attempt:
        lines.append(f"下次投递：{r.next_attempt:%Y-%m-%d %H:%M}")
    if r.failures:
        failed = r.deliveries.get(DeliveryStatus.FAILED, 0)
        lines.append(f"投递失败（{failed}个；修正联系方式后运行 notifier retry --failed）：")
        lines += failure_lines(r.failures)
    if r.broken_contacts:
        lines.append("失效的联系方式：")
        for c in r.broken_contacts:
            since = f"自 {c.since:%Y-%m-%d %H:%M} 起" if c.since else ""
            lines.append(f"  {c.channel}:{c.recipient} {since}：{c.error}")
    if any(r.grades.values()):
        lines.append("督办等级（进行中的方案、未办结的时间节点）：" + "，".join(
            f"{Light(g).label}（{Light(g).meaning}）{n}" for g, n in r.grades.items()))
    if r.not_signed:
        lines.append(f"未按时签收（{len(r.not_signed)}项）：")
        lines += [f"  {n.department} #{n.milestone_id} 任务{n.task_number} {n.text[:30]}（{n.occurrence}）："
                  f"{n.asked_on}提醒，应于{n.sign_by}前签收" for n in r.not_signed]
    lines += gap_lines(r.contact_gaps)
    lines += [f"warning: {w}" for w in r.warnings]
    return lines


def status_json(r: StatusReport) -> dict[str, Any]:
    return {"schema": "notifier/status/1", "now": r.now, "healthy": r.healthy, "plans": r.plans, "tasks": r.tasks,
            "milestones": {"open": r.milestones_open, "done": r.milestones_done, "overdue": r.overdue_milestones},
            "overdue_dates": r.overdue_dates,
            "recent_answers": [answer_json(a) for a in r.recent_answers],
            "deliveries": dict(sorted(r.deliveries.items())), "next_attempt": r.next_attempt,
            "failed_digests": [failed_json(f) for f in r.failures],
            "broken_contacts": [{"channel": c.channel, "recipient": c.recipient, "since": c.since, "error": c.error}
                                for c in r.broken_contacts],
            "plans_closed": [{"id": p.id, "name": p.name, "ends_on": p.ends_on, "closed_at": p.closed_at}
                             for p in r.plans_closed],
            "without_contact": r.contact_gaps.departments, "collective_names": r.contact_gaps.collective,
            "warnings": r.warnings, "grades": r.grades, "reviews_waiting": r.reviews_waiting,
            "not_signed": [{"department": n.department, "milestone_id": n.milestone_id, "occurrence": n.occurrence,
                            "asked_on": n.asked_on, "sign_by": n.sign_by} for n in r.not_signed]}


def cmd_test_contact(args: argparse.Namespace, cfg: Config) -> int:
    from notifier.contact_check import UnknownDepartmentError, probe_contacts

    try:
        results = probe_contacts(cfg, args.department, datetime.now(cfg.timezone))
    except UnknownDepartmentError as exc:
        raise UsageError(f"test-contact: {exc}") from None
    if not results:
        print(f"{args.department}：配置中没有联系方式（在其 [[departments]] 中填写 email 或 webhooks）")
        return 1
    for r in results:
        print(r.describe())
    ok = sum(r.ok for r in results)
    print(f"联系方式{len(results)}个，送达{ok}个")
    return 0 if ok == len(results) else 1
