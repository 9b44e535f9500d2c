"""The daemon: APScheduler fires two jobs; our own tables hold the real schedule.

- the *planning pass* at ``send_at`` every day, every ``plan_every_minutes`` within the send
  window (so a plan imported at 14:00 is reminded the same day) and once at start (catch-up);
- the *tick* every ``tick_seconds``: the dispatcher sends what is due and retries what failed.

APScheduler keeps its jobs in memory (a persistent job store pickles jobs and cannot be shared
between processes); a missed or late run is harmless because each pass computes what is due
from the database. Both jobs run on one worker thread so they never overlap.

Quiet hours: neither job sends outside working days and ``[schedule] send_window``; a retry
that falls outside waits for the next window. With ``[web] enabled = true`` the reply-link
pages are served by Uvicorn in a thread beside the scheduler.

SIGTERM/SIGINT: claim nothing new, let in-flight sends finish and record, exit 0.
SIGHUP: re-read config and templates; an invalid new config is logged and the old one kept.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from notifier import config as config_mod
from notifier.config import Config, ConfigError
from notifier.db import queries
from notifier.db.engine import make_engine, transaction, upgrade
from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
from notifier.delivery.routes import Routes
from notifier.reminders import in_send_time, run_pass
from notifier.rendering import Renderer
from notifier.sdnotify import notify

log = logging.getLogger("notifier.daemon")


class Daemon:
    def __init__(self, cfg: Config, config_path: Path | None = None):
        self.cfg = cfg
        self.config_path = config_path
        self.engine = make_engine(cfg.database_url)
        self.renderer = Renderer(cfg.templates_dir)
        self.stop = threading.Event()
        self.dispatcher: Dispatcher | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.web = None  # notifier.web.server.WebThread when [web] enabled

    # -- jobs -------------------------------------------------------------------------------
    def planning_pass(self, now: datetime | None = None) -> None:
        """Plan and queue what is due at ``now`` (aware; default the wall clock), then tick."""
        if self.stop.is_set():
            return
        now = now or datetime.now(self.cfg.timezone)
        if in_send_time(self.cfg, now):
            return
        try:
            result = run_pass(self.engine, self.cfg, self.renderer, now)
        except Exception:  # noqa: BLE001 - a bad pass must not kill the daemon; the next one retries
            log.exception("planning pass failed")
            return
        if result.queued:
            log.info("planning pass queued %d digests", len(result.queued))
        for name in result.without_contact:
            log.warning("department %s has reminders due but no contact in the config", name)
        self.tick(now)

    def tick(self, now: datetime | None = None) -> None:
        """Send the rows due at ``now`` (aware; default the wall clock) - inside the send window only."""
        notify("WATCHDOG=1")  # fed from the tick itself: a hung scheduler stops feeding it
        if self.stop.is_set():
            return
        cfg = self.cfg
        if in_send_time(cfg, now or datetime.now(cfg.timezone)):
            return  # quiet hours: due rows (new or retries) wait for the next send window
        at = now.astimezone(UTC).replace(tzinfo=None) if now else None
        d = cfg.delivery

        async def go():  # noqa: ANN202
            routes = Routes(cfg)
            try:
                self.dispatcher = Dispatcher(self.engine, routes,
                                             RetryPolicy(d.max_attempts, d.backoff_seconds, d.backoff_cap_seconds),
                                             concurrency=d.concurrency, lease_seconds=d.lease_seconds)
                return await self.dispatcher.run_once(at)
            finally:
                await routes.aclose()

        try:
            counts = asyncio.run(go())
        except Exception:  # noqa: BLE001
            log.exception("delivery tick failed")
            return
        if counts.total:
            log.info("tick: sent %d, retry %d, failed %d", counts.sent, counts.retry, counts.failed)
        self._status()

    def _status(self) -> None:
        with transaction(self.engine) as s:
            counts = queries.delivery_counts(s)
            nxt = queries.next_pending(s)
        parts = []
        if nxt:
            parts.append(f"next delivery {nxt.replace(tzinfo=UTC).astimezone(self.cfg.timezone):%Y-%m-%d %H:%M}")
        parts.append(f"{counts.get('sent', 0)} sent, {counts.get('failed', 0)} failed deliveries")
        notify("STATUS=" + ", ".join(parts))

    # -- lifecycle --------------------------------------------------------------------------
    def _schedule(self) -> None:
        s = self.cfg.schedule
        sched = self.scheduler
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None, "replace_existing": True}
        sched.add_job(self.planning_pass, CronTrigger(hour=s.send_at.hour, minute=s.send_at.minute,
                                                      timezone=self.cfg.timezone), id="plan-daily", **common)
        sched.add_job(self.planning_pass, IntervalTrigger(minutes=s.plan_every_minutes), id="plan", **common)
        sched.add_job(self.tick, IntervalTrigger(seconds=s.tick_seconds), id="tick", **common)

    def reload(self) -> None:
        try:
            cfg = config_mod.load(self.config_path)
            renderer = Renderer(cfg.templates_dir)
            problems = renderer.check()
            if problems:
                raise ConfigError(problems)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n%s", exc)
            notify("STATUS=reload refused: config invalid (see log)")
            return
        if cfg.database_url != self.cfg.database_url:
            log.warning("reload: [database] url changed; restart to use the new database")
            cfg = Config(**{**cfg.__dict__, "database_url": self.cfg.database_url})
        self.cfg, self.renderer = cfg, renderer
        self._schedule()
        log.info("reloaded config %s", cfg.path or "(built-in defaults)")
        notify("RELOADING=0\nREADY=1")

    def _on_signal(self, signum: int, _frame) -> None:  # noqa: ANN001
        if signum == signal.SIGHUP:
            threading.Thread(target=self.reload, name="reload", daemon=True).start()
            return
        log.info("%s: finishing in-flight sends, then exiting", signal.Signals(signum).name)
        self.stop.set()
        if self.dispatcher is not None:
            self.dispatcher.stopping = True

    def run(self) -> int:
        upgrade(self.engine)
        problems = self.renderer.check()
        if problems:
            for p in problems:
                log.error("%s", p)
            return 2
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)},
                                             timezone=self.cfg.timezone)
        self._schedule()
        if self.cfg.web.enabled:
            from notifier.web.server import WebThread, make_server

            self.web = WebThread(make_server(self.engine, self.cfg))
            self.web.start()
        self.scheduler.start()
        # Catch up at once: whatever fell due while we were down goes out now, once.
        self.scheduler.add_job(self.planning_pass, id="catch-up", replace_existing=True)
        notify("READY=1\nSTATUS=started")
        log.info("notifier running (database %s)", self.engine.url.render_as_string(hide_password=True))
        while not self.stop.wait(1.0):
            pass
        notify("STOPPING=1")
        self.scheduler.shutdown(wait=True)  # the running job finishes its sends and records
        if self.web is not None:
            self.web.stop()
        self.engine.dispose()
        log.info("stopped")
        return 0
