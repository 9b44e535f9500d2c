"""`notifier user add|list|disable|passwd`: passwords from stdin or a file, argon2 hashes,
sessions ended by disable and passwd, every change in the audit history."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from sqlalchemy import select

from notifier import cli
from notifier.db.engine import transaction
from notifier.db.models import AuditEntry, User
from notifier.office.accounts import LoginRefused, log_in, session_user

from tests.support.database import seed
from tests.support.world import world_config


@pytest.fixture
def cfg_path(tmp_path):  # noqa: ANN001, ANN201
    cfg = world_config(tmp_path)
    seed(cfg.database_url)
    return str(cfg.path)


def run(cfg_path: str, *args: str, stdin: str = "", monkeypatch=None) -> int:  # noqa: ANN001
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["--config", cfg_path, "user", *args])


def engine_of(cfg_path: str):  # noqa: ANN201
    from notifier import config
    from notifier.db.engine import make_engine

    return make_engine(config.load(cfg_path).database_url)


def test_user_add_reads_the_password_from_stdin_and_stores_an_argon2_hash(cfg_path, monkeypatch, capsys):
    assert run(cfg_path, "add", "张三", "--role", "office", stdin="a long password\n", monkeypatch=monkeypatch) == 0
    assert "user 张三 added (office)" in capsys.readouterr().out
    with transaction(engine_of(cfg_path)) as s:
        user = s.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$") and "a long password" not in user.password_hash
        who = log_in(s, "张三", "a long password", "127.0.0.1", datetime(2025, 7, 1))
        assert who.can_act


def test_user_add_from_a_password_file_as_a_leader(cfg_path, tmp_path, monkeypatch, capsys):
    (tmp_path / "pw").write_text("leader password\n")
    assert run(cfg_path, "add", "李四", "--role", "leader", "--password-file", str(tmp_path / "pw"),
               monkeypatch=monkeypatch) == 0
    assert run(cfg_path, "list", monkeypatch=monkeypatch) == 0
    assert "李四" in capsys.readouterr().out.split("added")[-1]
    with transaction(engine_of(cfg_path)) as s:
        assert not log_in(s, "李四", "leader password", "127.0.0.1", datetime(2025, 7, 1)).can_act


def test_a_short_password_a_bad_role_or_a_duplicate_is_refused(cfg_path, monkeypatch, capsys):
    assert run(cfg_path, "add", "王五", "--role", "office", stdin="short\n", monkeypatch=monkeypatch) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert run(cfg_path, "add", "王五", "--role", "office", stdin="long enough pw\n", monkeypatch=monkeypatch) == 0
    assert run(cfg_path, "add", "王五", "--role", "office", stdin="long enough pw\n", monkeypatch=monkeypatch) == 2
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(cfg_path, "add", "赵六", "--role", "admin", stdin="long enough pw\n", monkeypatch=monkeypatch)


def test_disable_and_passwd_end_the_sessions(cfg_path, monkeypatch):
    assert run(cfg_path, "add", "张三", "--role", "office", stdin="first password\n", monkeypatch=monkeypatch) == 0
    engine = engine_of(cfg_path)
    now = datetime(2025, 7, 1)
    with transaction(engine) as s:
        sid = log_in(s, "张三", "first password", "127.0.0.1", now).session_id
    assert run(cfg_path, "passwd", "张三", stdin="second password\n", monkeypatch=monkeypatch) == 0
    with transaction(engine) as s:
        assert session_user(s, sid, now) is None
        with pytest.raises(LoginRefused):
            log_in(s, "张三", "first password", "127.0.0.1", now)
    with transaction(engine) as s:
        sid = log_in(s, "张三", "second password", "127.0.0.1", now).session_id
    assert run(cfg_path, "disable", "张三", monkeypatch=monkeypatch) == 0
    with transaction(engine) as s:
        assert session_user(s, sid, now) is None
    with transaction(engine) as s, pytest.raises(LoginRefused):
        log_in(s, "张三", "second password", "127.0.0.1", now)
    with transaction(engine) as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions[:1] == ["user_add"] and "user_passwd" in actions and "user_disable" in actions
    assert run(cfg_path, "disable", "nobody", monkeypatch=monkeypatch) == 2
