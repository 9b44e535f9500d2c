"""Arguments whose values are a StrEnum's: parsed into the member, refused in argparse's own
words, and the CLI still starts without loading the ORM (accounts and the outbox are imported
when a command needs them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from notifier import cli
from notifier.terms import AccountRole, RowStatus


def test_status_and_role_arguments_parse_into_their_members() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["milestones", "--status", "overdue"]).status is RowStatus.OVERDUE
    assert parser.parse_args(["user", "add", "张三", "--role", "leader"]).role is AccountRole.LEADER


@pytest.mark.parametrize(("argv", "message"), [
    (["milestones", "--status", "late"],
     "argument --status: invalid choice: 'late' (choose from 'open', 'done', 'overdue')"),
    (["user", "add", "张三", "--role", "admin"],
     "argument --role: invalid choice: 'admin' (choose from 'office', 'leader')"),
])
def test_an_unknown_value_is_refused_with_the_values_to_choose_from(argv: list[str], message: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow  # a child process: the ORM is already loaded in this one
def test_the_cli_module_loads_without_the_orm() -> None:
    code = "import sys, notifier.cli; print('sqlalchemy.orm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
