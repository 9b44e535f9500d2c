"""The ``user`` and ``export --ledger`` commands: what they do, for cli.py to call and print."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import Engine

from notifier.config import Config
from notifier.db.engine import transaction, utcnow
from notifier.office import accounts, audit
from notifier.office.exports import ledger_xlsx
from notifier.office.ledger import load_rows


def read_password(path: Path | None, stdin: TextIO) -> str:
    """The first line of --password-file, else of standard input (never an argument: it would
    show in `ps` and the shell history)."""
    try:
        text = path.read_text(encoding="utf-8") if path else stdin.readline()
    except OSError as exc:
        raise accounts.AccountError(f"cannot read {path}: {exc.strerror}") from None
    return text.rstrip("\r\n")


def user_command(engine: Engine, args: argparse.Namespace, actor: str, stdin: TextIO) -> str:
    now = utcnow()
    action = args.user_action
    with transaction(engine) as s:
        if action == "list":
            users = accounts.list_users(s)
            lines = [f"{u.name:<20} {u.role:<7} {'disabled' if u.disabled else 'active':<8} "
                     f"created {u.created_at:%Y-%m-%d}" for u in users]
            return "\n".join(lines + [f"({len(users)} users)"])
        if action == "disable":
            accounts.disable_user(s, args.name, actor=actor, now=now)
            return f"user {args.name} disabled; its sessions ended"
        password = read_password(args.password_file, stdin)
        if action == "add":
            accounts.add_user(s, args.name, args.role, password, actor=actor, now=now)
            return f"user {args.name} added ({args.role})"
        accounts.set_password(s, args.name, password, actor=actor, now=now)
        return f"password of {args.name} changed; its sessions ended"


def export_ledger(engine: Engine, cfg: Config, path: Path, today: date) -> str:
    with transaction(engine) as s:
        rows = load_rows(s, cfg, today)
        audit.record(s, "cli", "export", f"{path.name}（{len(rows)}行）")
    path.write_bytes(ledger_xlsx(rows))
    return f"wrote the ledger ({len(rows)} milestones) to {path}"
