"""The office pages on a real server: a world (config, migrated SQLite, a plan) with two
accounts, served by uvicorn in a thread with a pinned clock, and an HTTP client that logs in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from notifier.db.engine import transaction
from notifier.db.models import Plan
from notifier.office.accounts import add_user
from notifier.web.server import WebThread, make_server

from tests.support import http
from tests.support.world import World, local, make_world, ms, plan, task

PASSWORD = "correct horse battery"
LEADER_PASSWORD = "leader-password-42"
NOW = "2025-07-10 10:00"


def web_toml(base_url: str = "http://127.0.0.1") -> str:
    return f"""
[web]
base_url = "{base_url}"
secret_file = "link.secret"
listen = "127.0.0.1:0"
"""


def ledger_plan():  # noqa: ANN201
    """Three lead departments; at 2025-07-10: 港口 one overdue (06-30) and one due soon (07-15),
    发改委 one done on time and one far off, 农委 a quarterly report (06-30 missed)."""
    return plan(2025,
                task("1", "港口建设", "市港口与口岸局", ms(date(2025, 6, 30), "单一窗口上线"),
                     ms(date(2025, 7, 15), "完成码头改造方案")),
                task("2", "项目推进", "市发改委", ms(date(2025, 6, 20), "召开推进会"),
                     ms(date(2025, 12, 31), "=HYPERLINK(\"http://x\")项目全部开工")),
                task("3", "乡村振兴", "市农委", ms(date(2025, 12, 31), "每季度报送进展", "quarterly")))


@dataclass
class Office:
    world: World
    base: str
    server: WebThread
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """A new HTTP client (its own cookies); closed by ``stop``."""
        c = http.Client(base_url=self.base, follow_redirects=False, timeout=30)
        self.clients.append(c)
        return c

    def login(self, name: str = "office", password: str = PASSWORD) -> httpx.Client:
        c = self.client()
        r = login(c, name, password)
        assert r.status_code == 303, r.text
        return c

    def stop(self) -> None:
        """Close every client's connections, then the server (warnings are errors in the tests)."""
        for c in self.clients:
            c.close()
        self.server.stop()
        self.world.engine.dispose()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(c: httpx.Client, name: str, password: str) -> httpx.Response:
    page = c.get("/office/login")
    return c.post("/office/login", data={"csrf": csrf_of(page.text), "name": name, "password": password})


def start_office(tmp_path: Path, spec=None, *, base_url: str = "http://127.0.0.1", now: str = NOW) -> Office:  # noqa: ANN001
    w = make_world(tmp_path, spec or ledger_plan(), extra=web_toml(base_url))
    with transaction(w.engine) as s:
        # followed since the plan's start, as if imported then (silence counts from the import)
        s.execute(update(Plan).values(imported_at=datetime(2025, 1, 1)))
        add_user(s, "office", "office", PASSWORD, actor="test", now=datetime(2025, 7, 1))
        add_user(s, "leader", "leader", LEADER_PASSWORD, actor="test", now=datetime(2025, 7, 1))
    clock = {"now": local(now)}
    web = WebThread(make_server(w.engine, w.cfg, port=0, clock=lambda: clock["now"]))
    web.start()
    office = Office(w, f"http://{web.address}", web)
    office.clock = clock  # type: ignore[attr-defined]
    return office
