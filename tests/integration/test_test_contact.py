"""`notifier test-contact DEPARTMENT`: one test message to each contact, through the real
channels (an SMTP server and HTTP receivers on localhost), and one line per result."""

from __future__ import annotations

from pathlib import Path

from notifier.cli import main

from tests.support.servers import HTTPReceiver, Reply, mails


def run(capsys, config: Path, department: str) -> tuple[int, list[str], str]:  # noqa: ANN001
    """``notifier --config CONFIG test-contact DEPARTMENT``: exit status, stdout lines, stderr."""
    rc = main(["--config", str(config), "test-contact", department])
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


def write(path: Path, smtp_port: int, hook_url: str) -> Path:
    path.write_text(f"""
[database]
url = "sqlite:///{path.parent}/n.db"
[email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "市政府督查室 <ducha@example.gov.cn>"
[[departments]]
name = "市发展和改革委员会"
aliases = ["市发改委"]
email = ["fgw@example.gov.cn"]
webhooks = ["oa", "gone"]
[[departments]]
name = "市港口与口岸局"
[[departments]]
name = "各县区政府"
members = ["市发展和改革委员会"]
[webhooks.oa]
url = "{hook_url}/oa"
[webhooks.gone]
url = "{hook_url}/gone"
""", encoding="utf-8")
    return path


def test_each_contact_gets_a_test_message_and_its_result_is_reported(tmp_path: Path, smtp_server, capsys) -> None:  # noqa: ANN001
    srv = HTTPReceiver(lambda req: Reply(404) if req.path == "/gone" else Reply(200))
    try:
        cfg = write(tmp_path / "c.toml", smtp_server.port, srv.url)
        rc, lines, err = run(capsys, cfg, "市发改委")
        requests = list(srv.requests)
    finally:
        srv.close()
    assert rc == 1, err  # one contact failed
    assert lines[0].startswith("市发展和改革委员会 email:fgw@example.gov.cn：已发送")
    assert lines[1].startswith("市发展和改革委员会 webhook:oa：已发送")
    assert lines[2].startswith("市发展和改革委员会 webhook:gone：未送达，失败：HTTP 404")
    assert lines[-1] == "联系方式3个，送达2个"
    [mail] = mails(smtp_server, "fgw@example.gov.cn")
    assert mail["Subject"] == "【测试】督办提醒联系方式测试"
    assert "测试消息" in mail.get_body(("plain",)).get_content()
    assert {r.path for r in requests} == {"/oa", "/gone"}
    assert requests[0].json["subject"] == "【测试】督办提醒联系方式测试"
    assert not (tmp_path / "n.db").exists()  # no outbox row: nothing queued, retried or recorded


def test_a_group_is_tested_through_its_members_and_all_reached_exits_0(tmp_path: Path, smtp_server, capsys) -> None:  # noqa: ANN001
    srv = HTTPReceiver(lambda req: Reply(200))
    try:
        cfg = write(tmp_path / "c.toml", smtp_server.port, srv.url)
        cfg.write_text(cfg.read_text(encoding="utf-8").replace('webhooks = ["oa", "gone"]', 'webhooks = ["oa"]'),
                       encoding="utf-8")
        rc, lines, err = run(capsys, cfg, "各县区政府")
    finally:
        srv.close()
    assert rc == 0, lines + [err]
    assert lines[-1] == "联系方式2个，送达2个"
    assert len(mails(smtp_server, "fgw@example.gov.cn")) == 1


def test_an_unknown_department_is_exit_2_and_one_without_contact_exit_1(tmp_path: Path, smtp_server, capsys) -> None:  # noqa: ANN001
    cfg = write(tmp_path / "c.toml", smtp_server.port, "http://127.0.0.1:9")
    rc, _, err = run(capsys, cfg, "市发展改革委员会")
    assert rc == 2
    assert err.strip() == ("notifier: test-contact: 配置中没有名为「市发展改革委员会」的部门（名称或别名）；"
                           "相近的名称：市发展和改革委员会、市发改委")
    rc, lines, _ = run(capsys, cfg, "市港口与口岸局")
    assert rc == 1
    assert lines[0].startswith("市港口与口岸局：配置中没有联系方式")
    assert not smtp_server.received
