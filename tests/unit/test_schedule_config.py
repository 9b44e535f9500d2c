"""[web] and [schedule] stagger_seconds in the config: defaults and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier import config as config_mod
from notifier.config import ConfigError


def load(tmp_path: Path, text: str):  # noqa: ANN201
    (tmp_path / "link.secret").write_text("s" * 32)
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return config_mod.load(p)


def test_defaults_have_no_links_and_a_small_stagger(tmp_path: Path):
    cfg = load(tmp_path, "")
    assert not cfg.web.enabled and not cfg.web.links and cfg.web.listen == "127.0.0.1:8080"
    assert cfg.schedule.stagger_seconds == 2.0 and cfg.web.link_days == 60


def test_web_section_reads_secret_file_and_listen(tmp_path: Path, monkeypatch):
    cfg = load(tmp_path, '[web]\nenabled = true\nbase_url = "https://n.example.cn/"\nsecret_file = "link.secret"\n'
                         'listen = "0.0.0.0:9000"\nlink_days = 14\n[schedule]\nstagger_seconds = 0\n')
    assert cfg.web.links and cfg.web.base_url == "https://n.example.cn"
    assert cfg.web.host_port == ("0.0.0.0", 9000) and cfg.web.link_days == 14
    assert "s" * 32 not in repr(cfg.web)
    assert cfg.schedule.stagger_seconds == 0
    monkeypatch.setenv("LINK_SECRET", "e" * 20)
    cfg = load(tmp_path, '[web]\nbase_url = "https://n.example.cn"\nsecret_env = "LINK_SECRET"\n')
    assert cfg.web.secret.reveal() == "e" * 20


@pytest.mark.parametrize("text,expected", [
    ('[web]\nbase_url = "https://n.example.cn"\n', "web: needs secret_file or secret_env"),
    ('[web]\nenabled = true\nsecret_file = "link.secret"\n', "web.base_url: is required when [web] enabled"),
    ('[web]\nbase_url = "n.example.cn"\nsecret_file = "link.secret"\n', "web.base_url: must start with http"),
    ('[web]\nsecret = "x"\n', "web.secret: must not be written in the config"),
    ('[web]\nlisten = "8080"\n', 'web.listen: must be "HOST:PORT"'),
    ('[web]\nlink_days = 0\n', "web.link_days: must be greater than 0"),
    ('[web]\nbase = 1\n', "web.base: unknown key"),
    ('[schedule]\nstagger_seconds = -1\n', "schedule.stagger_seconds: must be 0 or more"),
])
def test_bad_web_and_schedule_keys_are_located(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert expected in str(exc.value)


def test_short_secret_is_refused(tmp_path: Path):
    (tmp_path / "short.secret").write_text("abc")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load(tmp_path, '[web]\nbase_url = "https://n.example.cn"\nsecret_file = "short.secret"\n')
