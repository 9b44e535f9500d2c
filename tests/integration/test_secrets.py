"""No secret ever reaches a log line, an error message or a command's output.

The config holds known test secrets: an SMTP password (read from $CREDENTIALS_DIRECTORY as
systemd's LoadCredential= provides it), a Standard Webhooks secret, a DingTalk access token and
signing secret, a WeCom key and a Feishu hook id. The SMTP server refuses the login and the HTTP
server answers every request with an error that echoes the request's URL, token included, the
worst a real peer does. Then check-config, import, send-due, status, retry and a daemon run (at
DEBUG) go end to end, and all their output is searched for every secret.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.processes import DaemonProcess, always_open, open_calendar, run_cli, wait_for
from tests.support.servers import HookReceiver

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "panjin-2018.csv"

SMTP_PASSWORD = "Smtp-Pa55word-7f3k"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"webhook-signing-key-0123456789ab").decode()
DING_TOKEN = "dingtoken9d8c7b6a5f4e3d2c1b0a"
DING_SECRET = "SECdingsign0a1b2c3d4e5f6a7b8c9d"
WECOM_KEY = "wecomkey-1234-5678-9abc-def012345678"
FEISHU_HOOK = "feishuhook-6c1b4f0e9d2a4b7c8e1f"
URL_TOKEN = "urltoken5566778899aabbccdd"
SECRETS = [SMTP_PASSWORD, WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"), DING_TOKEN, DING_SECRET,
           WECOM_KEY, FEISHU_HOOK, URL_TOKEN]


class Handler:
    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        return "250 OK"


def refuse(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp():
    with socket.socket() as probe:  # a free port (this aiosmtpd's self-check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=refuse,
                            auth_require_tls=False)
    controller.start()
    yield controller
    controller.stop()


@pytest.mark.slow
def test_no_secret_in_any_output(tmp_path: Path, smtp) -> None:  # noqa: ANN001
    hooks = HookReceiver(status=400, echo=True)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "smtp_password").write_text(SMTP_PASSWORD + "\n")
    (creds / "hook_secret").write_text(WEBHOOK_SECRET)
    (creds / "ding_secret").write_text(DING_SECRET)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
{open_calendar()}[database]
url = "sqlite:///n.db"
[schedule]
tick_seconds = 1
{always_open()}[delivery]
backoff_seconds = 1
max_attempts = 2
[escalation]
to = ["市政府督查室"]
[email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "notifier@example.gov.cn"
username = "notifier"
password_file = "smtp_password"
allow_plaintext_auth = true
[[departments]]
name = "市政府督查室"
email = ["ducha@example.gov.cn"]
webhooks = ["wecom"]
[[departments]]
name = "市发展和改革委员会"
aliases = ["市发改委"]
email = ["fgw@example.gov.cn"]
webhooks = ["generic", "ding"]
[[departments]]
name = "市财政局"
webhooks = ["feishu"]
[webhooks.generic]
kind = "json"
url = "{hooks.base}/hooks/in?token={URL_TOKEN}"
secret_file = "hook_secret"
[webhooks.ding]
kind = "dingtalk"
url = "{hooks.base}/robot/send?access_token={DING_TOKEN}"
secret_file = "ding_secret"
[webhooks.wecom]
kind = "wecom"
url = "{hooks.base}/cgi-bin/webhook/send?key={WECOM_KEY}"
[webhooks.feishu]
kind = "feishu"
url = "{hooks.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}"
""", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    outputs = []

    def cli(*args: str) -> None:
        proc = run_cli(cfg, "--log-level", "DEBUG", *args, extra_env=env)
        outputs.append(f"$ notifier {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")

    try:
        cli("check-config")
        assert "ok" in outputs[-1], outputs[-1]
        cli("import", str(FIXTURE), "--active", "--year", "2018", "--plan", "测试方案")
        cli("send-due", "--now", "2018-06-20 09:00")
        cli("send-due", "--now", "2018-06-29 09:00", "--force")
        cli("status")
        cli("retry", "--failed")
        daemon = DaemonProcess(cfg, extra_env=env, log_level="DEBUG")
        try:
            wait_for(lambda: "failed for good" in daemon.log() and "delivery tick" not in daemon.log(),
                     what="the daemon failing deliveries again")
        finally:
            daemon.stop()
        outputs.append(daemon.log())
        cli("status")
        # a config error that names the file with the secret must not print it either
        bad = tmp_path / "bad.toml"
        bad.write_text(cfg.read_text().replace('password_file = "smtp_password"',
                                               f'password = "{SMTP_PASSWORD}"'))
        proc = run_cli(bad, "check-config", extra_env=env)
        outputs.append(proc.stdout + proc.stderr)
    finally:
        hooks.close()

    everything = "\n".join(outputs)
    # The run did exercise the failure paths whose messages could carry a secret.
    assert "SMTP authentication failed" in everything
    assert "HTTP 400" in everything
    assert len(hooks.hits) >= 4
    assert {h.path.split("?")[0] for h in hooks.hits} >= {"/hooks/in", "/robot/send", "/cgi-bin/webhook/send"}
    leaked = [s for s in SECRETS if s in everything]
    assert leaked == [], f"secrets in the output: {leaked}"
    assert "***" in everything  # the safety net did mask something the peer echoed
