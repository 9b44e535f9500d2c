"""The redaction net of notifier.logging_setup and where secret files are read from."""

from __future__ import annotations

import io
import logging
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
