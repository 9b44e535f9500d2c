"""check-config refuses what would fail later: every number bounded, floats finite, ports and
URLs valid, a known database driver, no control characters in names and addresses, and a
secret file, time zone or value that used to crash is one `PATH: key: what` line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from notifier import cli

from tests.support.processes import env

BASE = """
timezone = "Asia/Shanghai"
[database]
url = "sqlite:///n.db"
[folder]
divert = true
[webhooks.oa]
kind = "json"
url = "https://oa.example.gov.cn/hook"
[[departments]]
name = "市发展和改革委员会"
webhooks = ["oa"]
"""


def check(tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "notifier", "--config", str(path), "check-config"],
                          capture_output=True, text=True, env=env(), timeout=60)
    return proc.returncode, proc.stdout + proc.stderr, str(path)


def check_in_process(tmp_path: Path, text: str, capsys) -> tuple[int, str, str]:  # noqa: ANN001
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    rc = cli.main(["--config", str(path), "check-config"])
    out = capsys.readouterr()
    return rc, out.out + out.err, str(path)


def with_key(table: str, line: str) -> str:
    """BASE with ``line`` in ``[table]`` (added, or prepended to the existing table)."""
    if table == "":
        return line + "\n" + BASE.replace('timezone = "Asia/Shanghai"\n', "") if line.startswith("timezone") \
            else line + "\n" + BASE
    header = f"[{table}]\n"
    if header in BASE:
        return BASE.replace(header, header + line + "\n", 1)
    return BASE + header + line + "\n"


HOSTILE = [
    ("web", "link_days = 3000000", "web.link_days: must be between 1 and 3650, got 3000000"),
    ("schedule", f"overdue_every_days = {2**63 - 1}", "schedule.overdue_every_days: must be between 1 and 365"),
    ("delivery", f"lease_seconds = {2**63 - 1}", "delivery.lease_seconds: must be between 1 and 86400"),
    ("schedule", f"tick_seconds = {2**63 - 1}", "schedule.tick_seconds: must be between 1 and 3600"),
    ("schedule", "plan_every_minutes = 99999999", "schedule.plan_every_minutes: must be between 1 and 1440"),
    ("schedule", "stagger_seconds = inf", "schedule.stagger_seconds: must be a finite number, got inf"),
    ("schedule", "stagger_seconds = nan", "schedule.stagger_seconds: must be a finite number, got nan"),
    ("schedule", "stagger_seconds = 86400", "schedule.stagger_seconds: must be 0 or more and at most 600"),
    ("delivery", "backoff_seconds = inf", "delivery.backoff_seconds: must be a finite number, got inf"),
    ("delivery", "backoff_cap_seconds = 1e300", "delivery.backoff_cap_seconds: must be between 0 and 86400"),
    ("delivery", "max_attempts = 1000000000", "delivery.max_attempts: must be between 1 and 1000"),
    ("delivery", "concurrency = 100000", "delivery.concurrency: must be between 1 and 256"),
    ("webhooks.oa", "timeout = -inf", "webhooks.oa.timeout: must be a finite number"),
    ("webhooks.oa", "timeout = 1e9", "webhooks.oa.timeout: must be between 0 and 600"),
    ("email", 'host = "127.0.0.1"\nport = 70000\nsecurity = "none"\nfrom = "a@b.cn"',
     "email.port: must be between 1 and 65535, got 70000"),
    ("web", 'listen = "127.0.0.1:70000"', "web.listen: must be \"HOST:PORT\""),
    ("database", 'url = "foo://bar"', "database.url: unknown database 'foo'"),
    ("database", 'url = "sqlite+nosuchdriver:///x.db"', "database.url: unknown driver 'nosuchdriver'"),
    ("database", 'url = "::::"', "database.url: is not a database URL"),
    ("", 'timezone = "Asia"', "timezone: unknown time zone 'Asia'"),
    ("", f'timezone = "{"A" * 5000}"', "timezone: unknown time zone 'AAAA"),
    ("", 'timezone = "Asia/../../etc/passwd"', "timezone: unknown time zone"),
    ("", 'timezone = "Asia/Shang\\u0000hai"', "timezone: must not contain control characters"),
]


@pytest.mark.parametrize("table, line, expected", HOSTILE, ids=[h[1][:40] for h in HOSTILE])
def test_check_config_refuses_a_value_that_would_fail_later(tmp_path, capsys, table, line, expected):
    if table == "webhooks.oa":
        text = BASE.replace('url = "https://oa.example.gov.cn/hook"', 'url = "https://oa.example.gov.cn/hook"\n' + line)
    elif table == "database":
        text = BASE.replace('url = "sqlite:///n.db"', line)
    else:
        text = with_key(table, line)
    rc, out, path = check_in_process(tmp_path, text, capsys)
    assert rc == 2, out
    assert f"{path}: {expected}" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("url, why", [
    ("http://", "no host"), ("https://:443/x", "no host"), ("http://oa.example.gov.cn:70000/h", "port"),
    ("http://oa.example.gov.cn:abc/h", "port"), ("ftp://oa.example.gov.cn/h", "scheme"),
    ("javascript:alert(1)", "scheme"),
])
def test_a_webhook_url_needs_a_scheme_a_host_and_a_valid_port(tmp_path, capsys, url, why):
    rc, out, path = check_in_process(tmp_path, BASE.replace("https://oa.example.gov.cn/hook", url), capsys)
    assert rc == 2 and f"{path}: webhooks.oa.url: must start with http:// or https:// and name a host" in out, why


def test_a_robot_url_in_an_error_keeps_its_token_out(tmp_path, capsys):
    rc, out, _ = check_in_process(tmp_path, BASE.replace("https://oa.example.gov.cn/hook",
                                                         "https://:1/robot/send?access_token=SECRETTOKEN"), capsys)
    assert rc == 2 and "SECRETTOKEN" not in out


@pytest.mark.parametrize("field, value", [
    ("name", "市发改委\\nBcc: evil@example.com"), ("name", "市发改委\\r"), ("name", "市\\u0000发改委"),
    ("aliases", '["发改委\\n"]'), ("members", '["a\\tb"]'),
])
def test_names_with_control_characters_are_refused(tmp_path, capsys, field, value):
    literal = value if value.startswith("[") else f'"{value}"'
    text = BASE.replace('name = "市发展和改革委员会"', f'name = "市发展和改革委员会"\n{field} = {literal}'
                        if field != "name" else f"name = {literal}")
    rc, out, path = check_in_process(tmp_path, text, capsys)
    assert rc == 2 and "must not contain control characters" in out and f"{path}: departments[0]." in out


def test_an_email_from_or_address_with_a_line_break_is_refused(tmp_path, capsys):
    text = BASE + '[email]\nhost = "127.0.0.1"\nsecurity = "none"\nfrom = "a@b.cn\\r\\nBcc: x@y.cn"\n'
    rc, out, path = check_in_process(tmp_path, text, capsys)
    assert rc == 2 and f"{path}: email.from: must not contain control characters" in out


@pytest.mark.parametrize("content, expected", [
    (bytes(range(256)), "is not UTF-8 text"),
    (b"whsec_abc\x00def", "contains control characters"),
    (b"x" * 100_000, "is larger than 4096 bytes"),
])
def test_a_binary_or_huge_secret_file_is_one_line_exit_2_without_traceback(tmp_path, content, expected):
    (tmp_path / "hook.secret").write_bytes(content)
    text = BASE.replace('kind = "json"', 'kind = "json"\nsecret_file = "hook.secret"')
    rc, out, path = check(tmp_path, text)
    assert rc == 2 and "Traceback" not in out, out
    assert f"{path}: webhooks.oa.secret_file: " in out and expected in out
    assert len(out.strip().splitlines()) == 1


def test_a_directory_as_time_zone_is_one_line_exit_2_in_a_real_process(tmp_path):
    rc, out, path = check(tmp_path, BASE.replace('"Asia/Shanghai"', '"Asia"'))
    assert (rc, out.strip()) == (2, f"{path}: timezone: unknown time zone 'Asia'")


def test_every_limit_is_documented_in_config_example():
    from notifier.config import LIMITS

    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text(encoding="utf-8")
    for name, (_low, high) in LIMITS.items():
        key = name.rsplit(".", 1)[-1]
        assert f"{key}" in example and f"{high:g}" in example, name


def test_a_webhook_name_with_a_line_break_and_an_overlong_department_name_are_refused(tmp_path, capsys):
    text = BASE.replace('name = "市发展和改革委员会"', f'name = "{"市" * 5000}"') + '[webhooks."a\\nb"]\nurl = "https://x.cn/h"\n'
    rc, out, path = check_in_process(tmp_path, text, capsys)
    assert rc == 2
    assert f"{path}: webhooks.'a\\nb': the name must not contain control characters" in out
    assert f"{path}: departments[0]: the name '市市市" in out and "longer than 100 characters" in out
