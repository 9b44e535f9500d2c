"""Reports are true: a database locked while outcomes are recorded is reported (exit 1 in
the CLI) and the rows stay claimable; a full disk under the folder channel is a retry, with no files left."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from datetime import datetime, timedelta

from sqlalchemy import event

from notifier.config import Config, EmailConfig
from notifier.delivery.channels import folder
from notifier.delivery.channels.folder import FolderChannel
from notifier.delivery.dispatcher import Counts, Dispatcher, RetryPolicy
from notifier.delivery.message import Message, RetryLater, Sent
from notifier.delivery.routes import Routes

from tests.support.outbox import queue_rows, rows


def message(department: str = "市发展和改革委员会") -> Message:
    return Message(key="ntf_0123456789abcdef", recipient="a@example.gov.cn", subject="提醒", text="请报送。",
                   html="<p>请报送。</p>", markdown="请报送。", department=department, data={"today": "2018-06-20"})


# --- a locked database at record time -------------------------------------------------------


def test_a_pass_whose_record_step_hits_a_locked_database_says_so_and_the_row_is_sent_again_later(
        smtp_server, engine, tmp_path) -> None:  # noqa: ANN001
    @event.listens_for(engine, "connect")
    def short_busy_timeout(dbapi, _record) -> None:  # noqa: ANN001 - wait 0.2 s, not 15 s, for the lock
        dbapi.execute("PRAGMA busy_timeout=200")

    engine.dispose()
    queue_rows(engine, [("email", "a@example.gov.cn")])
    locker = sqlite3.connect(tmp_path / "n.db", isolation_level=None, check_same_thread=False)
    handle = smtp_server.handle_DATA

    async def lock_then_accept(server, session, envelope):  # noqa: ANN001, ANN202
        # Another process takes the write lock while the message is being accepted.
        if not locker.in_transaction:
            locker.execute("BEGIN IMMEDIATE")
        return await handle(server, session, envelope)

    smtp_server.handle_DATA = lock_then_accept
    clock = [datetime(2018, 6, 20, 1, 0)]
    cfg = Config(path=None, email=EmailConfig(host="127.0.0.1", port=smtp_server.port, security="none",
                                              sender="n@example.gov.cn", timeout=5))

    async def send_pass() -> Counts:
        routes = Routes(cfg)
        try:
            return await Dispatcher(engine, routes, RetryPolicy(jitter=False), lease_seconds=300,
                                    clock=lambda: clock[0]).run_once()
        finally:
            await routes.aclose()

    counts = asyncio.run(send_pass())
    assert counts.sent == 0 and counts.unrecorded == 1 and counts.needs_attention
    assert "未记录 1 条" in counts.unrecorded_note() and "database is locked" in counts.unrecorded_note()
    assert len(smtp_server.received) == 1

    locker.execute("ROLLBACK")
    locker.close()
    smtp_server.handle_DATA = handle
    (row,) = rows(engine)
    assert row.status == "sending"  # left for its lease, never marked sent without a record
    clock[0] += timedelta(seconds=301)  # the lease ended: the row is claimable again
    again = asyncio.run(send_pass())
    assert again.sent == 1 and not again.needs_attention
    first, second = smtp_server.received
    assert first.message_id == second.message_id  # the receiver can drop the duplicate
    assert rows(engine)[0].status == "sent"


def test_a_clean_pass_has_no_unrecorded_note_and_needs_no_attention() -> None:
    counts = Counts(sent=3, retry=1)
    assert counts.unrecorded_note() == "" and not counts.needs_attention


# --- the folder channel ----------------------------------------------------------------------


def test_a_full_disk_is_a_retry_that_leaves_no_temporary_file(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    real_write = folder.os.write

    def write_until_full(fd: int, data) -> int:  # noqa: ANN001 - the one seam: the disk fills mid-file
        if len(data) > 10:
            return real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folder.os, "write", write_until_full)
    result = asyncio.run(FolderChannel(tmp_path).send(message()))
    assert isinstance(result, RetryLater) and not result.contact_fault
    assert "No space left on device" in result.reason
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    monkeypatch.setattr(folder.os, "write", real_write)  # space again: the retry writes the file
    assert isinstance(asyncio.run(FolderChannel(tmp_path).send(message())), Sent)
    (written,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written.suffix == ".eml"


def test_a_very_long_department_name_still_gets_a_bounded_file_name(tmp_path) -> None:  # noqa: ANN001
    long_name = "盘锦市人民政府办公室" * 100  # 1,000 characters, 3,000 bytes of UTF-8
    for fmt in ("eml", "json"):
        result = asyncio.run(FolderChannel(tmp_path, fmt=fmt).send(message(long_name)))
        assert isinstance(result, Sent), result
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(names) == 2 and all(len(n.encode()) <= 200 for n in names)
    assert all(n.startswith("盘锦市人民政府办公室") for n in names)


def test_send_due_exits_1_and_names_the_unrecorded_outcomes(write_config, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from notifier import cli

    cfg = write_config(f'''
        [database]
        url = "sqlite:///{tmp_path / 'n.db'}"
        [folder]
        dir = "{tmp_path / 'outbox'}"
        divert = true
    ''')
    assert cli.main(["--config", str(cfg), "db", "upgrade"]) == 0
    # The one seam: the pass's outcome, as the dispatcher reports a record step that failed
    # (the test above drives that with a real lock).
    monkeypatch.setattr(cli, "deliver", lambda *a, **k: Counts(
        unrecorded=2, errors=["recording failed: OperationalError: (sqlite3.OperationalError) database is locked"]))
    assert cli.main(["--config", str(cfg), "send-due", "--now", "2018-06-20 09:00", "--force"]) == 1
    out = capsys.readouterr().out
    assert "未记录 2 条发送结果" in out and "database is locked" in out
