"""A world to test a pass in: a config on disk (``world_config``), a migrated SQLite database in
tmp_path, a small plan made in code (``plan``, ``task``, ``ms``) and a recorder channel that
takes what the pass queued. Time is always passed in (``local``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from notifier import config as config_mod
from notifier.config import Config
from notifier.db.engine import transaction
from notifier.db.models import Delivery, Digest, Milestone
from notifier.delivery.dispatcher import Dispatcher
from notifier.importing.model import MilestoneSpec, PlanSpec, TaskSpec
from notifier.importing.store import store_plan
from notifier.reminders import PassResult, run_pass
from notifier.rendering import Renderer

from tests.support.channels import Recorder
from tests.support.config import write_toml
from tests.support.database import migrated

TZ = ZoneInfo("Asia/Shanghai")
SECRET = "test-link-secret-0123456789abcdef"

DEPARTMENTS = dedent("""
    [escalation]
    to = ["市政府督查室"]

    [[departments]]
    name = "市政府督查室"
    email = ["ducha@example.gov.cn"]

    [[departments]]
    name = "市港口与口岸局"
    email = ["gk@example.gov.cn"]

    [[departments]]
    name = "市发展和改革委员会"
    aliases = ["市发改委"]
    email = ["fgw@example.gov.cn"]

    [[departments]]
    name = "市农村经济委员会"
    aliases = ["市农委"]
    email = ["nw@example.gov.cn"]
""")


def local(text: str) -> datetime:
    """'2025-09-30 09:00' in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def utc_naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def world_config(tmp_path: Path, extra: str = "", *, schedule: str = "", web: bool = False) -> Config:
    """The world's config: Asia/Shanghai, SQLite and the folder channel in ``tmp_path/var``, four
    departments with e-mail contacts, the schedule's defaults unless ``schedule`` sets them, the
    reply-link pages with ``web``, and ``extra`` TOML after it all."""
    (tmp_path / "link.secret").write_text(SECRET)
    web_toml = dedent("""
        [web]
        base_url = "https://notifier.example.gov.cn"
        secret_file = "link.secret"
        listen = "127.0.0.1:0"
    """) if web else ""
    defaults = {"lead_days": "[30, 7, 1]", "send_at": '"09:00"', "overdue_every_days": "3"}
    given = {line.split("=", 1)[0].strip() for line in schedule.splitlines() if "=" in line}
    sched = "\n".join([f"{k} = {v}" for k, v in defaults.items() if k not in given] + [schedule])
    text = dedent("""
        timezone = "Asia/Shanghai"
        [database]
        url = "sqlite:///var/notifier.db"
        """) + "[schedule]\n" + sched + dedent("""
        [folder]
        dir = "var/outbox"
        divert = true
        """) + DEPARTMENTS + web_toml + dedent(extra)
    return config_mod.load(write_toml(tmp_path, text, "notifier.toml"))


def task(number: str, title: str, lead: str, *milestones: MilestoneSpec) -> TaskSpec:
    return TaskSpec(number=number, title=title, lead=[lead], milestones=list(milestones))


def ms(due: date, text: str, recurrence: str | None = None) -> MilestoneSpec:
    return MilestoneSpec(due=due, text=text, recurrence=recurrence)


def plan(year: int, *tasks: TaskSpec, name: str | None = None) -> PlanSpec:
    return PlanSpec(name=name or f"测试市{year}年重点工作实施方案", year=year, starts_on=date(year, 1, 1),
                    ends_on=date(year, 12, 31), doc_number=f"测政办发〔{year}〕1号", tasks=list(tasks),
                    source_hash=f"hash-{year}-{len(tasks)}")


@dataclass
class World:
    cfg: Config
    engine: object
    renderer: Renderer
    recorder: Recorder = field(default_factory=Recorder)

    def pass_at(self, when: str | datetime, **kw) -> PassResult:  # noqa: ANN003
        now = local(when) if isinstance(when, str) else when
        return run_pass(self.engine, self.cfg, self.renderer, now, **kw)

    def run(self, when: str | datetime) -> PassResult:
        """A pass and the deliveries it queued, as the daemon's planning job does (recorded, not sent)."""
        now = local(when) if isinstance(when, str) else when
        result = self.pass_at(now)
        if not result.skipped_reason:
            until = max(utc_naive(now), result.last_due_at or utc_naive(now))
            asyncio.run(Dispatcher(self.engine, lambda c, r: self.recorder).run_once(until))
        return result

    def milestone_id(self, text: str) -> int:
        with transaction(self.engine) as s:
            return s.scalar(select(Milestone.id).where(Milestone.text == text))

    def digests(self, kind: str | None = None) -> list[Digest]:
        with transaction(self.engine) as s:
            q = select(Digest).order_by(Digest.id)
            if kind:
                q = q.where(Digest.kind == kind)
            return list(s.scalars(q))

    def deliveries(self) -> list[Delivery]:
        with transaction(self.engine) as s:
            return list(s.scalars(select(Delivery).order_by(Delivery.id)))

    def count(self, model) -> int:  # noqa: ANN001
        with transaction(self.engine) as s:
            return s.scalar(select(func.count()).select_from(model))


def make_world(tmp_path: Path, spec: PlanSpec, **config_kw) -> World:  # noqa: ANN003
    cfg = world_config(tmp_path, **config_kw)
    engine = migrated(cfg.database_url)
    with transaction(engine) as s:
        store_plan(s, spec, cfg)
    return World(cfg, engine, Renderer.of(cfg))
