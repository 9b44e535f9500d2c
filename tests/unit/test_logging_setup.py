"""The redaction net of notifier.logging_setup and where secret files are read from."""

from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path

import pytest

from notifier import config as config_mod
from notifier import logging_setup
from notifier.logging_setup import RedactingStream
from notifier.redaction import Redactor


@pytest.mark.parametrize("text, secret", [
    ("POST https://oapi.dingtalk.com/robot/send?access_token=abc123def456&timestamp=1&sign=xyz%2B9", "abc123def456"),
    ("POST https://oapi.dingtalk.com/robot/send?access_token=abc123def456&timestamp=1&sign=xyz%2B9", "xyz%2B9"),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", "693a91f6-7xxx"),
    ("postgresql+psycopg://notifier:hunter2secret@db:5432/notifier", "hunter2secret"),
    ("secret is whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw here", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
    ("password=letmein99 user=x", "letmein99"),
])
def test_credential_shaped_text_is_masked(text: str, secret: str) -> None:
    out = Redactor()(text)
    assert secret not in out
    assert "***" in out


def test_registered_values_are_masked_and_words_are_not() -> None:
    r = Redactor()
    r.set_values(["feishuhook-6c1b4f0e9d2a", "abc"])  # too short values are left to the patterns
    assert r("hook /open-apis/bot/v2/hook/feishuhook-6c1b4f0e9d2a failed") == "hook /open-apis/bot/v2/hook/*** failed"
    assert r("abc design=ok, key decisions, sent to 市发改委") == "abc design=ok, key decisions, sent to 市发改委"


def test_config_secrets_are_registered(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("smtp-secret-42\n")
    cfg = config_mod.parse({
        "email": {"host": "smtp.example.cn", "from": "n@example.cn", "username": "n", "password_file": "pw"},
        "webhooks": {"f": {"kind": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef0123"}},
        "database": {"url": "postgresql+psycopg://n:dbpass-77@localhost/n"},
    }, tmp_path / "c.toml")
    values = logging_setup.secret_values(cfg)
    assert {"smtp-secret-42", "0123456789abcdef0123", "dbpass-77"} <= set(values)


def test_formatter_masks_tracebacks_too() -> None:
    stream = io.StringIO()
    logging_setup.redact.set_values(["tok-secret-value-1"])
    try:
        logging_setup.setup("INFO", stream)
        try:
            raise RuntimeError("cannot reach https://x/?token=tok-secret-value-1")
        except RuntimeError:
            logging.getLogger("t").exception("failed for %s", "tok-secret-value-1")
    finally:
        logging_setup.redact.set_values([])
    assert "tok-secret-value-1" not in stream.getvalue()
    assert stream.getvalue().count("***") >= 2


def test_redacting_stream() -> None:
    out = io.StringIO()
    RedactingStream(out).write("error: https://h/send?access_token=zzzzzzzz\n")
    assert out.getvalue() == "error: https://h/send?access_token=***\n"


def test_relative_secret_file_is_read_from_credentials_directory(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp_password").write_text("from-systemd\n")
    (tmp_path / "smtp_password").write_text("beside-config\n")
    data = {"email": {"host": "h.example.cn", "from": "n@example.cn", "username": "n",
                      "password_file": "smtp_password"}}
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert config_mod.parse(data, tmp_path / "c.toml").email.password.reveal() == "beside-config"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert config_mod.parse(data, tmp_path / "c.toml").email.password.reveal() == "from-systemd"
    (tmp_path / "smtp_password").unlink()
    (creds / "smtp_password").unlink()
    with pytest.raises(config_mod.ConfigError, match="password_file: cannot read"):
        config_mod.parse(data, tmp_path / "c.toml")


# -- one line per event, local times, journald priorities (issues 14 and 15) ---------------

def _log_to(path: Path, monkeypatch, journal: str | None, tz=None):  # noqa: ANN001, ANN202
    """Log through ``setup`` into the file ``path``; JOURNAL_STREAM as given."""
    if journal is None:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    else:
        monkeypatch.setenv("JOURNAL_STREAM", journal)
    stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller's fixture
    monkeypatch.setattr(logging_setup, "_formatter", None)
    logging_setup.setup("DEBUG", stream, tz)
    return stream


def _dev_ino(stream) -> str:  # noqa: ANN001
    st = os.fstat(stream.fileno())
    return f"{st.st_dev}:{st.st_ino}"


def test_a_newline_in_logged_text_cannot_forge_a_second_log_line(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    stream = _log_to(tmp_path / "log", monkeypatch, None)
    person = "张三\n2026-12-02 09:00:00.000 +0800 INFO notifier.web.app: reply link: done\x1b[31m\u2028"
    logging.getLogger("notifier.web.app").info("reply link by %s", person)
    stream.close()
    lines = (tmp_path / "log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("reply link by 张三\\n2026-12-02 09:00:00.000 +0800 INFO notifier.web.app: "
                             "reply link: done\\x1b[31m\\u2028")


def test_a_traceback_keeps_its_lines_marked_as_continuation(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    stream = _log_to(tmp_path / "log", monkeypatch, None)
    try:
        raise ValueError("remote said:\nINFO forged")
    except ValueError:
        logging.getLogger("t").exception("send failed")
    stream.close()
    first, *rest = (tmp_path / "log").read_text(encoding="utf-8").splitlines()
    assert first.endswith("ERROR t: send failed")
    assert rest and all(line.startswith(" | ") for line in rest)
    assert " | INFO forged" in rest


def test_log_times_are_in_the_configured_time_zone(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from datetime import datetime
    from zoneinfo import ZoneInfo

    stream = _log_to(tmp_path / "log", monkeypatch, None, ZoneInfo("Asia/Shanghai"))
    logging.getLogger("t").warning("hello")
    stream.close()
    line = (tmp_path / "log").read_text(encoding="utf-8")
    stamp = line.split(" WARNING ")[0]
    at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f %z")
    assert at.utcoffset().total_seconds() == 8 * 3600
    assert abs((at - datetime.now(ZoneInfo("UTC"))).total_seconds()) < 60
    logging_setup.set_timezone(ZoneInfo("UTC"))
    assert logging_setup._formatter.tz == ZoneInfo("UTC")


def test_lines_carry_journald_priorities_when_stderr_is_the_journal(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "journal"
    path.touch()
    with open(path, encoding="utf-8") as probe:
        journal = _dev_ino(probe)
    stream = _log_to(path, monkeypatch, journal)
    log = logging.getLogger("notifier.test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("x")
    stream.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line[:3] for line in lines[:5]] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    assert lines[5].startswith("<3>") and lines[5].endswith("ERROR notifier.test: x")
    assert len(lines) > 6 and all(line.startswith("<3> | ") for line in lines[6:])


def test_no_priority_prefix_when_stderr_is_not_the_journal(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    other = tmp_path / "other"
    other.touch()
    with open(other, encoding="utf-8") as probe:
        elsewhere = _dev_ino(probe)  # systemd's stream, but stderr was redirected to a file since
    stream = _log_to(tmp_path / "log", monkeypatch, elsewhere)
    logging.getLogger("t").error("e")
    stream.close()
    assert (tmp_path / "log").read_text(encoding="utf-8")[0].isdigit()


def test_the_cli_prefixes_priorities_when_its_stderr_is_the_journal(tmp_path: Path, capfd, monkeypatch) -> None:  # noqa: ANN001
    """``notifier send-due`` with JOURNAL_STREAM naming this test's own stderr (file descriptor 2,
    as systemd connects it): its log lines come out with their priorities."""
    from notifier.cli import main

    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndir = "{tmp_path}/out"\n'
                      'divert = true\n[[departments]]\nname = "市发改委"\nemail = ["fgw@example.gov.cn"]\n',
                      encoding="utf-8")
    plan = tmp_path / "plan.csv"
    plan.write_text("序号,工作任务,牵头单位,完成时限,节点内容\n1,建设智慧港口,市发改委,2018-06-30,完成一期工程\n",
                    encoding="utf-8")
    assert main(["--config", str(config), "import", str(plan), "--year", "2018", "--active"]) == 0
    st = os.fstat(2)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)  # the process's stderr, file descriptor 2
    capfd.readouterr()
    try:
        assert main(["--config", str(config), "--log-level", "INFO", "send-due", "--now", "2018-06-20 09:00"]) == 0
    finally:
        logging_setup.setup("WARNING", io.StringIO())  # leave no handler on the real stderr
    lines = capfd.readouterr().err.splitlines()
    assert any(line.startswith("<6>") and "INFO notifier.delivery.dispatcher: delivery" in line for line in lines)
    assert all(line[:3] in ("<7>", "<6>", "<4>", "<3>", "<2>") for line in lines if " notifier" in line)
