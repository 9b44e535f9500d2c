"""E-mail against a real SMTP server (aiosmtpd on 127.0.0.1): session reuse, STARTTLS and
implicit TLS with verification on, per-recipient 4xx/5xx, and what the CLI shows of it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select

from notifier import cli
from notifier.config import Config, EmailConfig
from notifier.db.models import Contact
from notifier.delivery.channels.email import EmailChannel
from notifier.delivery.channels.folder import FolderChannel
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.message import FailedForGood, Message, RetryLater, Sent
from notifier.delivery.routes import Routes

from tests.support.database import sqlite_engine
from tests.support.outbox import queue_rows, rows, statuses
from tests.support.servers import SMTPServer

T0 = datetime(2018, 6, 20, 1, 0)
POLICY = RetryPolicy(max_attempts=5, base_seconds=60, jitter=False)


@pytest.fixture
def smtp(smtp_server):  # noqa: ANN001, ANN201
    return smtp_server


def config(port: int, security: str = "none", ca_file: Path | None = None, connections: int = 2) -> Config:
    return Config(path=None, email=EmailConfig(host="127.0.0.1", port=port, security=security,
                                                sender="盘锦市督查室 <notifier@example.gov.cn>",
                                                ca_file=ca_file, connections=connections, timeout=5))


def message(rcpt: str = "a@example.gov.cn", key: str = "ntf_k1") -> Message:
    return Message(key=key, recipient=rcpt, subject="关于报送6月底前工作进展的提醒", text="请报送。",
                   html="<p>请报送。</p>", markdown="请报送。", department="市发展和改革委员会")


# --- sessions ----------------------------------------------------------------------------


def test_a_batch_of_messages_shares_the_pooled_smtp_sessions_across_passes(smtp, engine) -> None:  # noqa: ANN001
    """40 messages in two passes through one Routes: the server sees 2 connections (the pool
    size), not 40."""
    queue_rows(engine, [("email", f"u{i}@example.gov.cn") for i in range(20)], tag="a")

    async def go() -> None:
        routes = Routes(config(smtp.port, connections=2))
        d = Dispatcher(engine, routes, POLICY, concurrency=8)
        assert (await d.run_once(T0)).sent == 20
        queue_rows(engine, [("email", f"u{i}@example.gov.cn") for i in range(20)], tag="b")
        assert (await d.run_once(T0 + timedelta(minutes=1))).sent == 20
        await routes.aclose()

    asyncio.run(go())
    assert len(smtp.received) == 40
    assert smtp.connections == 2


def test_the_message_id_comes_from_the_idempotency_key_and_headers_are_encoded(smtp) -> None:  # noqa: ANN001
    async def go() -> None:
        ch = EmailChannel(host="127.0.0.1", port=smtp.port, security="none", sender="督查室 <n@example.gov.cn>")
        assert isinstance(await ch.send(message()), Sent)
        await ch.aclose()

    asyncio.run(go())
    (got,) = smtp.received
    email = got.email
    assert email["Message-ID"] == "<ntf_k1@example.gov.cn>"
    assert str(email["Subject"]) != "关于报送6月底前工作进展的提醒"  # RFC 2047 on the wire
    from email import policy
    from email.parser import BytesParser
    parsed = BytesParser(policy=policy.default).parsebytes(got.raw)
    assert parsed["Subject"] == "关于报送6月底前工作进展的提醒"
    assert parsed.get_content_type() == "multipart/alternative"


# --- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_is_verified_and_an_untrusted_certificate_is_a_clear_retry_not_a_send(ca, tmp_path, security) -> None:  # noqa: ANN001
    if security == "ssl":
        smtp = SMTPServer(ssl_context=server_context(ca))
    else:
        smtp = SMTPServer(tls_context=server_context(ca), require_starttls=True)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def send(cfg: Config):  # noqa: ANN202
        routes = Routes(cfg)
        try:
            return await routes("email", "a@example.gov.cn").send(message())
        finally:
            await routes.aclose()

    try:
        untrusted = asyncio.run(send(config(smtp.port, security)))
        assert isinstance(untrusted, RetryLater) and not untrusted.contact_fault
        assert "certificate verification failed" in untrusted.reason and "[email] ca_file" in untrusted.reason
        assert smtp.received == []
        trusted = asyncio.run(send(config(smtp.port, security, ca_file=ca_file)))
        assert isinstance(trusted, Sent)
        assert [r.tls for r in smtp.received] == [True]
    finally:
        smtp.stop()


def test_ca_file_is_read_from_the_config_relative_to_it(tmp_path) -> None:  # noqa: ANN001
    from notifier.config import ConfigError, load

    (tmp_path / "ca.pem").write_text("x")
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[email]\nhost = "smtp.example.gov.cn"\nfrom = "n@example.gov.cn"\nca_file = "ca.pem"\n')
    assert load(cfg_file).email.ca_file == tmp_path / "ca.pem"
    cfg_file.write_text('[email]\nhost = "smtp.example.gov.cn"\nfrom = "n@example.gov.cn"\nca_file = "nope.pem"\n')
    with pytest.raises(ConfigError, match="email.ca_file"):
        load(cfg_file)


# --- per recipient -----------------------------------------------------------------------


def test_4xx_is_retried_and_5xx_is_permanent_per_recipient(smtp, engine) -> None:  # noqa: ANN001
    smtp.refuse["full@example.gov.cn"] = "452 4.2.2 mailbox full"
    smtp.refuse["gone@example.gov.cn"] = "550 5.1.1 no such user"
    queue_rows(engine, [("email", "ok@example.gov.cn"), ("email", "full@example.gov.cn"),
                        ("email", "gone@example.gov.cn")])

    async def go() -> None:
        routes = Routes(config(smtp.port))
        d = Dispatcher(engine, routes, POLICY, rand=lambda: 0.5)
        counts = await d.run_once(T0)
        assert (counts.sent, counts.retry, counts.failed) == (1, 1, 1)
        del smtp.refuse["full@example.gov.cn"]
        counts = await d.run_once(T0 + timedelta(seconds=60))
        assert (counts.sent, counts.retry, counts.failed) == (1, 0, 0)
        await routes.aclose()

    asyncio.run(go())
    by_rcpt = {r.recipient: r for r in rows(engine)}
    assert by_rcpt["full@example.gov.cn"].status == "sent" and by_rcpt["full@example.gov.cn"].attempts == 2
    assert by_rcpt["gone@example.gov.cn"].status == "failed"
    assert by_rcpt["gone@example.gov.cn"].last_error == "SMTP 550 5.1.1 no such user"
    with engine.begin() as conn:
        broken = conn.execute(select(Contact.recipient).where(Contact.broken.is_(True))).scalars().all()
    assert broken == ["gone@example.gov.cn"]


def test_smtp_server_down_is_a_route_retry_then_delivered_when_it_is_back(engine) -> None:  # noqa: ANN001
    smtp = SMTPServer()
    port = smtp.port
    smtp.stop()
    queue_rows(engine, [("email", "a@example.gov.cn")], n=3)

    async def go() -> None:
        routes = Routes(config(port))
        d = Dispatcher(engine, routes, POLICY, rand=lambda: 0.5)
        counts = await d.run_once(T0)
        assert counts.retry == 3
        assert "Connect call failed" in rows(engine)[0].last_error
        back = SMTPServer(port=port)
        try:
            assert (await d.run_once(T0 + timedelta(seconds=30))).total == 0  # backing off
            assert (await d.run_once(T0 + timedelta(seconds=60))).sent == 3
        finally:
            back.stop()
        await routes.aclose()
        assert len(back.received) == 3

    asyncio.run(go())
    with engine.begin() as conn:
        assert conn.scalar(select(Contact.broken).where(Contact.broken.is_(True))) is None


class DataRejectingServer(SMTPServer):
    """Accepts every recipient, then refuses the message itself at DATA."""

    reply = "554 5.7.1 no service"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        return self.reply


class GreetingRefuser:
    """A server that answers every connection with ``reply`` as its greeting, then hangs up."""

    def __init__(self, reply: str) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(f"{self.reply}\r\n".encode())
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(1024)  # the client's QUIT, if any

    def close(self) -> None:
        self.sock.close()


def broken_contacts(engine) -> list[str]:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(select(Contact.recipient).where(Contact.broken.is_(True))).scalars().all()


@pytest.mark.parametrize("reply, status", [("554 5.7.1 no service", "failed"), ("451 4.3.0 try later", "pending")])
def test_a_server_refusing_the_message_at_data_does_not_mark_the_address_broken(engine, reply, status) -> None:  # noqa: ANN001
    smtp = DataRejectingServer()
    smtp.reply = reply
    try:
        queue_rows(engine, [("email", "a@example.gov.cn")])

        async def go() -> None:
            routes = Routes(config(smtp.port))
            await Dispatcher(engine, routes, POLICY, rand=lambda: 0.5).run_once(T0)
            await routes.aclose()

        asyncio.run(go())
    finally:
        smtp.stop()
    assert broken_contacts(engine) == []
    (row,) = rows(engine)
    assert row.status == status and row.last_error == f"SMTP {reply} (server 127.0.0.1)"


@pytest.mark.parametrize("reply, expected", [("554 5.3.2 no service", FailedForGood), ("421 4.3.2 busy", RetryLater)])
def test_a_server_refusing_the_session_at_its_greeting_is_not_the_addresss_fault(engine, reply, expected) -> None:  # noqa: ANN001
    srv = GreetingRefuser(reply)
    try:
        queue_rows(engine, [("email", "a@example.gov.cn")])
        result = asyncio.run(EmailChannel(host="127.0.0.1", port=srv.port, security="none", timeout=5,
                                          sender="n@example.gov.cn").send(message()))
        assert isinstance(result, expected) and result.contact_fault is False, result

        async def go() -> None:
            routes = Routes(config(srv.port))
            await Dispatcher(engine, routes, POLICY, rand=lambda: 0.5).run_once(T0)
            await routes.aclose()

        asyncio.run(go())
    finally:
        srv.close()
    assert broken_contacts(engine) == []


def test_a_folder_that_cannot_be_written_is_retried_later_without_marking_the_contact_broken(tmp_path) -> None:  # noqa: ANN001
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder channel's directory should be")
    result = asyncio.run(FolderChannel(blocker).send(message()))
    assert isinstance(result, RetryLater) and result.contact_fault is False
    assert "cannot write" in result.reason


# --- the CLI -----------------------------------------------------------------------------


def write_config(tmp_path: Path, port: int, *, escalation: bool = False) -> Path:
    cfg = tmp_path / "notifier.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///n.db"
[email]
host = "127.0.0.1"
port = {port}
security = "none"
from = "notifier@example.gov.cn"
[delivery]
backoff_seconds = 60
[schedule]
stagger_seconds = 0  # the notices a pass queues go out in the same send-due, not over 2 real seconds
{'[escalation]' if escalation else ''}
{'to = ["市政府督查室"]' if escalation else ''}
[[departments]]
name = "市政府督查室"
email = ["ducha@example.gov.cn"]
[[departments]]
name = "市发展和改革委员会"
email = ["a@example.gov.cn", "b@example.gov.cn", "c@example.gov.cn"]
""", encoding="utf-8")
    return cfg


def test_send_due_and_status_show_2_of_3_failed_and_retry_requeues(smtp, tmp_path, capsys) -> None:  # noqa: ANN001
    cfg = write_config(tmp_path, smtp.port)
    engine = sqlite_engine(tmp_path / "n.db")
    smtp.refuse["b@example.gov.cn"] = "550 5.1.1 no such user"
    smtp.refuse["c@example.gov.cn"] = "554 5.7.1 rejected by policy"
    queue_rows(engine, [("email", "a@example.gov.cn"), ("email", "b@example.gov.cn"), ("email", "c@example.gov.cn")],
               now=datetime.utcnow())

    assert cli.main(["--config", str(cfg), "send-due", "--force"]) == 1
    out = capsys.readouterr().out
    assert "已发送 1，待重试 0，失败 2" in out
    assert "市发展和改革委员会 提醒" in out and "3个联系方式中2个失败" in out
    assert "email:b@example.gov.cn: SMTP 550 5.1.1 no such user" in out

    assert cli.main(["--config", str(cfg), "status"]) == 1
    out = capsys.readouterr().out
    assert "3个联系方式中2个失败" in out
    assert "失效的联系方式：" in out and "email:c@example.gov.cn 自" in out and "554 5.7.1" in out

    smtp.refuse.clear()  # the admin fixed the addresses
    failed_id = next(r.id for r in rows(engine) if r.recipient == "b@example.gov.cn")
    assert cli.main(["--config", str(cfg), "retry", str(failed_id)]) == 0
    assert "已重新排队 1 个投递" in capsys.readouterr().out
    assert cli.main(["--config", str(cfg), "retry", "--failed"]) == 0
    assert "已重新排队 1 个投递" in capsys.readouterr().out
    assert cli.main(["--config", str(cfg), "send-due", "--force"]) == 0
    assert "已发送 2，待重试 0，失败 0" in capsys.readouterr().out
    assert statuses(engine) == {"sent": 3}
    assert cli.main(["--config", str(cfg), "status"]) == 0
    assert "失效的联系方式" not in capsys.readouterr().out


def test_the_supervision_office_gets_one_notice_per_broken_contact_not_per_reminder(smtp, tmp_path, capsys) -> None:  # noqa: ANN001
    cfg = write_config(tmp_path, smtp.port, escalation=True)
    engine = sqlite_engine(tmp_path / "n.db")
    smtp.refuse["b@example.gov.cn"] = "550 5.1.1 no such user"
    smtp.refuse["c@example.gov.cn"] = "550 5.1.1 no such user"
    contacts = [("email", "b@example.gov.cn"), ("email", "c@example.gov.cn")]
    queue_rows(engine, contacts, n=4, tag="first", now=datetime.utcnow())
    cli.main(["--config", str(cfg), "send-due", "--force"])  # 8 failures, 2 contacts broken
    cli.main(["--config", str(cfg), "send-due", "--force"])  # the planning pass queues the notices
    queue_rows(engine, contacts, n=3, tag="again", now=datetime.utcnow())
    cli.main(["--config", str(cfg), "send-due", "--force"])  # still broken: no new notice
    cli.main(["--config", str(cfg), "send-due", "--force"])
    capsys.readouterr()
    notices = smtp.to("ducha@example.gov.cn")
    assert len(notices) == 2
    from email import policy
    from email.parser import BytesParser
    bodies = [BytesParser(policy=policy.default).parsebytes(n.raw).get_body(("plain",)).get_content()
              for n in notices]
    assert any("b@example.gov.cn" in b for b in bodies) and any("c@example.gov.cn" in b for b in bodies)
