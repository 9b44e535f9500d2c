"""`notifier retry`: clear errors for bad ids, expired reminders stay failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from notifier.cli import main
from notifier.db.models import Delivery

from tests.support.database import sqlite_engine
from tests.support.outbox import queue_rows, statuses


def config(write_config, tmp_path):  # noqa: ANN001, ANN201
    return write_config(f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n')


def test_retry_of_an_unknown_delivery_is_a_usage_error_not_a_traceback(write_config, tmp_path, capsys):
    cfg = config(write_config, tmp_path)
    assert main(["--config", str(cfg), "retry", "999"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "notifier: no delivery 999" and "Traceback" not in err


def test_retry_failed_requeues_live_deliveries_and_leaves_expired_ones_failed(write_config, tmp_path, capsys):
    cfg = config(write_config, tmp_path)
    engine = sqlite_engine(tmp_path / "n.db")
    queue_rows(engine, [("email", "a@example.gov.cn")], n=1, tag="live")
    queue_rows(engine, [("email", "b@example.gov.cn")], n=1, tag="past", expires_at=datetime(2018, 6, 30, 16))
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(status="failed", last_error="SMTP 550"))
    assert main(["--config", str(cfg), "retry", "--failed"]) == 0
    assert "已重新排队 1 个投递；1 个仍为失败：已过期" in capsys.readouterr().out
    assert statuses(engine) == {"pending": 1, "failed": 1}


def test_a_broken_contact_stays_unannounced_until_the_supervision_office_can_be_reached(write_config, tmp_path):
    from notifier import config as config_mod
    from notifier.db.engine import transaction
    from notifier.db.models import Contact
    from notifier.reminders import run_pass
    from notifier.rendering import Renderer
    from tests.support.world import local

    engine = sqlite_engine(tmp_path / "n.db")
    with transaction(engine) as s:
        s.add(Contact(channel="email", recipient="a@example.gov.cn", broken=True, last_error="SMTP 550",
                      broken_at=datetime(2025, 6, 3)))
    base = f'[database]\nurl = "sqlite:///{tmp_path}/n.db"\n[folder]\ndivert = true\n[escalation]\nto = ["市政府督查室"]\n'
    unreachable = config_mod.load(write_config(base + '[[departments]]\nname = "市政府督查室"\n', name="a.toml"))
    run_pass(engine, unreachable, Renderer(), local("2025-06-04 09:00"))
    with transaction(engine) as s:
        assert s.query(Contact).one().notified_at is None  # nobody could be told: not "told"
    reachable = config_mod.load(write_config(base + '[[departments]]\nname = "市政府督查室"\n'
                                             'email = ["ducha@example.gov.cn"]\n', name="b.toml"))
    result = run_pass(engine, reachable, Renderer(), local("2025-06-04 10:00"))
    assert [q.kind for q in result.queued] == ["notice"]
