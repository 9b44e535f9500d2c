"""Config errors name the file, the key and what is wrong; secrets never show."""

from __future__ import annotations

import pytest

from notifier import config as config_mod
from notifier.cli import main
from notifier.config import ConfigError, Secret


def problems(path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config_mod.load(path)
    return exc.value.problems


def test_an_unknown_key_is_named_with_its_file_and_a_suggestion(write_config):
    path = write_config("""
        [schedule]
        lead_dayz = [30, 7, 1]
    """)
    assert problems(path) == [f"{path}: schedule.lead_dayz: unknown key (did you mean 'lead_days'?)"]


def test_wrong_types_and_values_are_all_reported_at_once(write_config):
    path = write_config("""
        timezone = "Mars/Olympus"
        [schedule]
        send_at = "9am"
        cutoff_months = [6, 13]
        overdue_every_days = "3"
        [[departments]]
        name = "市发改委"
        email = ["not-an-address"]
        webhooks = ["missing"]
    """)
    got = problems(path)
    assert f"{path}: timezone: unknown time zone 'Mars/Olympus'" in got
    assert f'{path}: schedule.send_at: must be a time "HH:MM", got \'9am\'' in got
    assert any("schedule.cutoff_months: must be a non-empty list of months 1..12" in p for p in got)
    assert f"{path}: schedule.overdue_every_days: must be an integer, got a string" in got
    assert f"{path}: departments[0].email[0]: 'not-an-address' is not an e-mail address" in got
    assert f"{path}: departments[0].webhooks[0]: no [webhooks.missing] section" in got


def test_a_password_written_in_clear_is_refused(write_config):
    path = write_config("""
        [email]
        host = "smtp.example.cn"
        from = "a@example.cn"
        username = "a"
        password = "hunter2"
    """)
    got = problems(path)
    assert any("email.password: must not be written in the config; use password_file or password_env" in p for p in got)
    assert not any("hunter2" in p for p in got)


def test_secrets_are_read_from_a_file_or_the_environment_and_never_shown(write_config, tmp_path, monkeypatch):
    (tmp_path / "smtp_password").write_text("s3cret-from-file\n")
    monkeypatch.setenv("HOOK_SECRET", "whsec_abc")
    path = write_config("""
        [email]
        host = "smtp.example.cn"
        from = "a@example.cn"
        username = "a"
        password_file = "smtp_password"
        [webhooks.x]
        url = "https://example.cn/hook"
        secret_env = "HOOK_SECRET"
    """)
    cfg = config_mod.load(path)
    assert cfg.email.password.reveal() == "s3cret-from-file"
    assert cfg.webhooks["x"].secret.reveal() == "whsec_abc"
    assert "s3cret" not in repr(cfg) and "whsec_abc" not in repr(cfg)


def test_a_secret_file_is_found_in_the_systemd_credentials_directory(write_config, tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp_password").write_text("from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = write_config("""
        [email]
        host = "smtp.example.cn"
        from = "a@example.cn"
        username = "a"
        password_file = "smtp_password"
    """)
    assert config_mod.load(path).email.password == Secret("from-systemd")


def test_a_missing_secret_variable_is_a_clear_error(write_config, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    path = write_config("""
        [webhooks.x]
        url = "https://example.cn/hook"
        secret_env = "NOPE"
    """)
    assert problems(path) == [f"{path}: webhooks.x.secret_env: environment variable NOPE is not set"]


def test_invalid_toml_names_the_line(write_config):
    path = write_config("timezone = \n")
    [p] = problems(path)
    assert p.startswith(f"{path}: not valid TOML:") and "line 1" in p


def test_check_config_exits_2_with_the_messages_and_no_traceback(write_config, capsys):
    path = write_config("[schedule]\nsend_at = 9\n")
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f'{path}: schedule.send_at: must be a time "HH:MM", got 9'
    assert "Traceback" not in err


def test_check_config_accepts_the_example_config(monkeypatch, capsys):
    from tests.support.paths import ROOT

    monkeypatch.setenv("SMTP_PASSWORD", "x")
    monkeypatch.setenv("DINGTALK_SECRET", "x")
    assert main(["--config", str(ROOT / "config.example.toml"), "check-config"]) == 0


def test_the_old_outbox_section_is_still_read_as_folder_and_check_config_warns(write_config, tmp_path, capsys):
    path = write_config('[outbox]\ndir = "mail"\ndivert = true\n')
    cfg = config_mod.load(path)
    assert (cfg.folder_dir, cfg.folder_divert) == (tmp_path / "mail", True)
    assert main(["--config", str(path), "check-config"]) == 0
    assert f"warning: {path}: [outbox] is deprecated, rename it to [folder] (same keys)" in capsys.readouterr().err


def test_the_folder_section_gives_no_warning_and_both_names_at_once_are_refused(write_config, tmp_path):
    cfg = config_mod.load(write_config('[folder]\ndir = "mail"\ndivert = true\n'))
    assert (cfg.folder_dir, cfg.folder_divert, cfg.deprecations) == (tmp_path / "mail", True, ())
    path = write_config('[folder]\ndivert = true\n[outbox]\ndivert = true\n')
    assert problems(path) == [f"{path}: outbox: [outbox] is the old name of [folder]: keep only [folder]"]


def test_the_config_path_comes_from_the_environment(write_config, monkeypatch):
    path = write_config('timezone = "Asia/Urumqi"\n')
    monkeypatch.setenv("NOTIFIER_CONFIG", str(path))
    assert config_mod.load().timezone.key == "Asia/Urumqi"


def test_a_relative_sqlite_path_is_relative_to_the_config_file(write_config, tmp_path):
    path = write_config('[database]\nurl = "sqlite:///var/n.db"\n')
    assert config_mod.load(path).database_url == f"sqlite:///{tmp_path}/var/n.db"


def test_smtp_auth_without_tls_is_refused_unless_explicitly_allowed(write_config, tmp_path):
    (tmp_path / "smtp_password").write_text("pw-from-file\n")
    section = """
        [email]
        host = "smtp.example.cn"
        from = "a@example.cn"
        security = "none"
        username = "a"
        password_file = "smtp_password"
    """
    path = write_config(section)
    assert problems(path) == [f'{path}: email.security: "none" with a username would send the SMTP password '
                              'in clear text; use "starttls" or "ssl", or set allow_plaintext_auth = true '
                              "if the link to the server is trusted (e.g. localhost)"]
    allowed = write_config(section + "    allow_plaintext_auth = true\n")
    assert config_mod.load(allowed).email.security == "none"


def test_security_none_without_a_username_needs_no_opt_in(write_config):
    path = write_config("""
        [email]
        host = "127.0.0.1"
        from = "a@example.cn"
        security = "none"
    """)
    assert config_mod.load(path).email.username is None


def test_allow_plaintext_auth_must_be_a_boolean(write_config):
    path = write_config("""
        [email]
        host = "smtp.example.cn"
        from = "a@example.cn"
        allow_plaintext_auth = "yes"
    """)
    assert any("email.allow_plaintext_auth: must be" in p for p in problems(path))


def test_metrics_listener_is_off_by_default_and_a_bad_address_is_named(write_config):
    assert config_mod.load(write_config("")).metrics.host_port is None
    good = config_mod.load(write_config('[metrics]\nlisten = "127.0.0.1:9464"\non_web = true\n'))
    assert (good.metrics.host_port, good.metrics.on_web) == (("127.0.0.1", 9464), True)
    path = write_config('[metrics]\nlisten = "9464"\n')
    assert problems(path) == [f'{path}: metrics.listen: must be "HOST:PORT", e.g. "127.0.0.1:8080", got \'9464\'']


def test_an_empty_config_reads_as_the_dataclass_defaults_and_the_planner_and_retry_policy_share_them(write_config):
    """Config defaults are written once (the dataclasses): parse, Rules and RetryPolicy use them."""
    from zoneinfo import ZoneInfo

    from notifier.config import Config, DeliveryConfig, GradesConfig, ScheduleConfig
    from notifier.delivery.dispatcher import RetryPolicy
    from notifier.planning.schedule import Rules

    cfg = config_mod.load(write_config("\n"))
    assert (cfg.schedule, cfg.delivery, cfg.grades) == (ScheduleConfig(), DeliveryConfig(), GradesConfig())
    assert (cfg.log_level, cfg.web.link_days) == (Config.log_level, 60)
    rules, policy = Rules(tz=ZoneInfo("Asia/Shanghai")), RetryPolicy()
    s = cfg.schedule
    assert (rules.cutoff_months, rules.lead_days, rules.send_at, rules.overdue_every_days, rules.after_end_days,
            rules.notify_roles) == (s.cutoff_months, s.lead_days, s.send_at, s.overdue_every_days, s.after_end_days,
                                    s.notify_roles)
    assert (policy.max_attempts, policy.base_seconds, policy.cap_seconds) == \
        (cfg.delivery.max_attempts, cfg.delivery.backoff_seconds, cfg.delivery.backoff_cap_seconds)
