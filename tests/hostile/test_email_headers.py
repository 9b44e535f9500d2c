"""Header injection: names are RFC 2047-encoded and a CR/LF anywhere in a header value is
refused, through a real SMTP server (aiosmtpd) and the folder channel."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy

import pytest

from notifier.config import Config, ConfigError, EmailConfig, load
from notifier.delivery.channels.email import EmailChannel, email_bytes
from notifier.delivery.channels.folder import FolderChannel
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.message import FailedForGood, HeaderError, Message, Sent
from notifier.delivery.routes import Routes

from tests.support.outbox import queue_rows, rows

INJECTED = "Ops\r\nBcc: spy@evil.example\r\nX-Injected: yes"


def message(**kw: str) -> Message:
    base = {"key": "ntf_k1", "recipient": "a@example.gov.cn", "subject": "关于报送工作进展的提醒", "text": "请报送。",
            "html": "<p>请报送。</p>", "markdown": "请报送。", "department": "市发展和改革委员会"}
    return Message(**{**base, **kw})


def header_lines(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


def test_an_ascii_display_name_is_encoded_so_it_cannot_start_header_lines_of_its_own() -> None:
    raw = email_bytes(message(department="Office of Ops"), "Ops Team <n@example.gov.cn>")
    lines = header_lines(raw)
    assert not any("Office of Ops" in line or "Ops Team" in line for line in lines)  # encoded words only
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"].addresses[0].display_name == "Office of Ops"
    assert parsed["From"].addresses[0].display_name == "Ops Team"
    assert all(len(line) <= 78 for line in lines)


@pytest.mark.parametrize("field", ["department", "recipient", "subject", "key"])
def test_a_line_break_in_any_header_value_is_refused_not_written(field: str) -> None:
    with pytest.raises(HeaderError):
        email_bytes(message(**{field: INJECTED}), "n@example.gov.cn")


def test_a_sender_with_a_line_break_is_refused() -> None:
    with pytest.raises(HeaderError):
        email_bytes(message(), "督查室\r\nBcc: spy@evil.example <n@example.gov.cn>")


def test_a_department_name_with_crlf_fails_for_good_without_a_bcc_reaching_the_server(smtp_server, engine) -> None:  # noqa: ANN001
    queue_rows(engine, [("email", "a@example.gov.cn")], department=INJECTED)

    async def go():  # noqa: ANN202
        routes = Routes(Config(path=None, email=EmailConfig(host="127.0.0.1", port=smtp_server.port,
                                                            security="none", sender="n@example.gov.cn", timeout=5)))
        try:
            return await Dispatcher(engine, routes, RetryPolicy(jitter=False)).run_once()
        finally:
            await routes.aclose()

    counts = asyncio.run(go())
    assert counts.failed == 1 and counts.sent == 0
    assert smtp_server.received == []  # neither the reminder nor a Bcc copy went out
    (row,) = rows(engine)
    assert row.status == "failed" and "carriage return" in row.last_error


def test_the_smtp_channel_answers_failed_for_good_and_only_blames_a_bad_address(smtp_server) -> None:  # noqa: ANN001
    async def go():  # noqa: ANN202
        ch = EmailChannel(host="127.0.0.1", port=smtp_server.port, security="none", sender="n@example.gov.cn")
        try:
            return (await ch.send(message(department=INJECTED)), await ch.send(message(recipient="a@x.cn\r\nRCPT TO:<b@x.cn>")),
                    await ch.send(message(department="Office of Ops")))
        finally:
            await ch.aclose()

    by_name, by_address, fine = asyncio.run(go())
    assert isinstance(by_name, FailedForGood) and not by_name.contact_fault
    assert isinstance(by_address, FailedForGood) and by_address.contact_fault
    assert isinstance(fine, Sent)
    (got,) = smtp_server.received
    assert b"Bcc" not in got.raw and b"X-Injected" not in got.raw


def test_the_folder_channel_refuses_an_injected_name_too(tmp_path) -> None:  # noqa: ANN001
    result = asyncio.run(FolderChannel(tmp_path).send(message(department=INJECTED)))
    assert isinstance(result, FailedForGood) and not result.contact_fault
    assert not any(tmp_path.rglob("*.eml"))


def test_check_config_refuses_a_from_with_a_line_break(write_config) -> None:  # noqa: ANN001
    path = write_config('''
        [email]
        host = "127.0.0.1"
        security = "none"
        from = "督查室\\r\\nBcc: spy@evil.example <n@example.gov.cn>"
    ''')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert any("email.from" in line for line in err.value.problems)


def test_a_non_ascii_address_is_refused_with_a_reason_instead_of_crashing_the_build() -> None:
    with pytest.raises(HeaderError, match="not ASCII"):
        email_bytes(message(recipient="张三@example.gov.cn"), "n@example.gov.cn")
