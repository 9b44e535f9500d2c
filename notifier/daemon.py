"""The daemon: APScheduler fires the jobs; our own tables hold the real schedule.

- the *planning pass* at ``send_at`` every day, every ``plan_every_minutes`` within the send
  window (so a plan imported at 14:00 is reminded the same day) and once at start (catch-up);
- the *tick* every ``tick_seconds``: the dispatcher sends what is due and retries what failed;
- the *watchdog* (only under systemd with ``WatchdogSec=``), every half of that interval on its
  own thread: it sends ``WATCHDOG=1`` while the worker's heartbeat is recent.

APScheduler keeps its jobs in memory (a persistent job store pickles jobs and cannot be shared
between processes); a missed or late run is harmless because each pass computes what is due
from the database. The planning pass and the tick run on one worker thread so they never overlap.

systemd (``Type=notify``): ``READY=1`` once migrations ran and the config and templates loaded;
``STATUS=`` says when the next reminder is planned and how many deliveries failed.
SIGTERM/SIGINT: claim nothing new; HTTP requests in flight end at once and are recorded as
retries (``Routes.interrupt``); ``STOPPING=1``; exit 0 within ``STOP_SECONDS`` whatever the
receivers do. A send still running after ``STOP_GRACE_SECONDS`` (an SMTP server that stalls) is
cancelled: its row stays ``sending`` under its lease and is claimed again when the lease runs out.
SIGHUP (``systemctl reload``): re-read config and templates; a valid one takes effect at the next
job, an invalid one is refused with check-config's messages and the old one keeps running.
Quiet hours: neither job sends outside working days and ``[schedule] send_window``; a retry
that falls outside waits for the next window. With ``[web] enabled = true`` the reply-link
pages are served by Uvicorn in a thread beside the scheduler, with ``/healthz``; with
``[metrics] listen`` a second small listener serves ``/healthz`` and ``/metrics`` (notifier/web/ops.py).
Each pass is counted and timed in ``notifier.metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import concurrent.futures
import dataclasses
import logging
import os
import signal
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError, OperationalError

from notifier import config as config_mod
from notifier import logging_setup, metrics
from notifier.config import Config, ConfigError
from notifier.db.engine import make_engine, transaction, upgrade, utcnow
from notifier.delivery import outbox
from notifier.delivery.dispatcher import Dispatcher
from notifier.delivery.routes import STOP_GRACE_SECONDS, Routes
from notifier.health import PassRecord
from notifier.reminders import drop_stale_digests, is_send_time, next_reminder, run_pass, why_not_send_time
from notifier.rendering import Renderer
from notifier.sdnotify import notify, reloading, watchdog_seconds
from notifier.terms import DeliveryStatus

if TYPE_CHECKING:
    from notifier.web.server import WebThread

log = logging.getLogger("notifier.daemon")

STOP_SECONDS = 5.0  # SIGTERM to exit, at most (systemd's TimeoutStopSec is far longer)


async def _cancel_pending() -> None:
    """Cancel every other task of the delivery loop and wait briefly for them to end."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=0.3)


class Heartbeat:
    """When the worker last beat: a job started or ended, or the dispatcher began
    a batch. The watchdog feeds systemd only while this is recent enough."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last


def config_problems(path: Path | None) -> tuple[Config | None, Renderer | None, list[str]]:
    """Load a config and its templates as ``check-config`` does, with the same messages."""
    try:
        cfg = config_mod.load(path)
    except ConfigError as exc:
        return None, None, list(exc.problems)
    renderer = Renderer.of(cfg)
    problems = [f"{cfg.path}: {p}" for p in renderer.check()]
    return (None, None, problems) if problems else (cfg, renderer, [])


class Daemon:
    def __init__(self, cfg: Config, config_path: Path | None = None, *, log_level: str | None = None):
        self.cfg = cfg
        self.config_path = config_path if config_path is not None else cfg.path
        self.log_level = log_level  # from --log-level: wins over [log] level, also after a reload
        self.engine = make_engine(cfg.database_url)
        self.renderer = Renderer.of(cfg)
        self.stop = threading.Event()
        self.dispatcher: Dispatcher | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.heartbeat = Heartbeat()
        self.next_reminder: datetime | None = None
        self._reload_lock = threading.Lock()
        self.web: WebThread | None = None  # when [web] enabled
        self.ops_web: WebThread | None = None  # when [metrics] listen
        self.last_pass = PassRecord()  # the last planning pass, for /healthz
        self._fresh_day: date | None = None  # the local day the tick last checked for stale digests
        self.loop: asyncio.AbstractEventLoop | None = None  # see _delivery_loop
        self.routes: Routes | None = None
        self._loop_thread: threading.Thread | None = None
        self._busy = threading.RLock()  # held by the running job (a planning pass or a tick)
        self._pass: concurrent.futures.Future | None = None  # the dispatcher pass in flight

    # -- jobs -------------------------------------------------------------------------------
    def planning_pass(self, now: datetime | None = None) -> None:
        """Plan and queue what is due at ``now`` (aware; default the wall clock), then tick."""
        with self._busy:
            self._planning_pass(now)

    def _planning_pass(self, now: datetime | None) -> None:
        self.heartbeat.beat()
        if self.stop.is_set():
            return
        cfg, renderer = self.cfg, self.renderer
        now = now or datetime.now(cfg.timezone)
        reason = why_not_send_time(cfg, now)
        if reason:
            log.debug("planning pass skipped: %s", reason)
        else:
            self.last_pass.ended(datetime.now(UTC), self._run_pass(cfg, renderer, now))
        self._update_next_reminder(cfg, now)
        self.heartbeat.beat()
        self.tick(now)

    def _run_pass(self, cfg: Config, renderer: Renderer, now: datetime) -> str | None:
        """Run one planning pass; the reason it failed, or None."""
        started = time.perf_counter()
        error = self._try_pass(cfg, renderer, now)
        metrics.pass_finished("planning", time.perf_counter() - started, ok=error is None)
        return error

    def _try_pass(self, cfg: Config, renderer: Renderer, now: datetime) -> str | None:
        for attempt in (1, 2):
            try:
                # A long pass feeds the watchdog after each page and stops between pages
                # at SIGTERM; the departments it did not reach stay due (the due index).
                result = run_pass(self.engine, cfg, renderer, now, heartbeat=self.heartbeat.beat,
                                  stopping=self.stop.is_set)
                break
            except (IntegrityError, OperationalError) as exc:
                # Another instance inserted the same department or contact at the same moment
                # (PostgreSQL), or held the lock too long (SQLite): the second try sees its rows.
                if attempt == 2:
                    log.error("planning pass failed twice: %s", type(exc).__name__)
                    return type(exc).__name__
                log.info("planning pass collided with another instance; trying again")
            except Exception as exc:  # noqa: BLE001 - a bad pass must not kill the daemon; the next one retries
                log.exception("planning pass failed")
                return type(exc).__name__
        if result.queued:
            log.info("planning pass queued %d digests", len(result.queued))
        for q in result.queued:
            log.info("queued %s for %s to %s", q.kind, q.department, ", ".join(c for c, _ in q.contacts))
        for name in result.without_contact:
            log.warning("department %s has reminders due but no contact in the config", name)
        try:  # the office's 通报 ([report]), queued once per period
            from notifier.office.report_mail import queue_due_reports

            for name in queue_due_reports(self.engine, cfg, now):
                log.info("queued the 通报 for %s", name)
        except Exception:  # noqa: BLE001 - a failed report must not stop the reminders; the next pass retries
            log.exception("queueing the 通报 failed")
        return None

    def _update_next_reminder(self, cfg: Config, now: datetime) -> None:
        try:
            with transaction(self.engine) as s:
                self.next_reminder = next_reminder(s, cfg, now)
        except Exception:  # noqa: BLE001 - the status line is not worth a failed job
            log.exception("could not compute the next reminder")

    def tick(self, now: datetime | None = None) -> None:
        """Send the rows due at ``now`` (aware; default the wall clock) - inside the send window only."""
        with self._busy:
            self._tick(now)

    def _tick(self, now: datetime | None) -> None:
        self.heartbeat.beat()
        if self.stop.is_set():
            return
        cfg = self.cfg
        if not is_send_time(cfg, now or datetime.now(cfg.timezone)):
            self._status()
            return  # quiet hours: due rows (new or retries) wait for the next send window
        at = now.astimezone(UTC).replace(tzinfo=None) if now else None
        local_now = (now or datetime.now(cfg.timezone)).astimezone(cfg.timezone)
        if self._fresh_day != local_now.date():
            # The first tick of a day (window open, 08:30) comes before the day's planning pass:
            # re-plan what an earlier day queued but never sent, or it would go out now with
            # yesterday's numbers ("1 day left" on the cutoff day).
            self._fresh_day = local_now.date()
            try:
                with transaction(self.engine) as s:
                    stale = drop_stale_digests(s, local_now.date())
            except Exception:  # noqa: BLE001 - the planning pass drops them too
                log.exception("tick: cannot check for stale digests")
                stale = 0
            if stale:
                self._run_pass(cfg, self.renderer, local_now)
        try:
            with transaction(self.engine) as s:
                due = outbox.anything_due(s, at or utcnow())
        except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable
            log.exception("tick: cannot read the outbox")
            return
        if due:
            self._deliver(cfg, at)
        self._status()
        self.heartbeat.beat()

    def _delivery_loop(self) -> asyncio.AbstractEventLoop:
        """One event loop for the daemon's life, in its own thread: the channels (SMTP sessions,
        HTTP keep-alive, chat-robot pacing and the parts already sent of a split message) live in
        ``self.routes`` across ticks."""
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(target=self.loop.run_forever, name="delivery", daemon=True)
            self._loop_thread.start()
            self.routes = Routes(self.cfg)
        return self.loop

    def _on_loop(self, coro):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, self._delivery_loop()).result()

    def _deliver(self, cfg: Config, at: datetime | None = None) -> None:
        def clock() -> datetime:
            self.heartbeat.beat()  # the dispatcher reads the clock once per batch
            return utcnow()

        loop = self._delivery_loop()
        routes = self.routes
        assert routes is not None  # made with the loop
        self.dispatcher = Dispatcher.from_config(self.engine, routes, cfg.delivery, clock=clock)
        if self.stop.is_set():
            self.dispatcher.stopping = True
        started = time.perf_counter()
        self._pass = asyncio.run_coroutine_threadsafe(self.dispatcher.run_once(at), loop)
        if self.stop.is_set():
            routes.interrupt()
        try:
            counts = self._pass.result()
        except concurrent.futures.CancelledError:
            log.warning("delivery pass cancelled at exit; rows in flight are retried when their lease ends")
            return
        except Exception:  # noqa: BLE001
            metrics.pass_finished("delivery", time.perf_counter() - started, ok=False)
            log.exception("delivery tick failed")
            return
        finally:
            self._pass = None
        metrics.pass_finished("delivery", time.perf_counter() - started)
        if counts.total:
            log.info("tick: sent %d, retry %d, failed %d", counts.sent, counts.retry, counts.failed)

    def _close_delivery(self) -> None:
        if self.loop is None or self.routes is None or self._loop_thread is None:  # all three or none
            return
        try:
            asyncio.run_coroutine_threadsafe(self.routes.aclose(), self.loop).result(timeout=0.5)
        except Exception:  # noqa: BLE001 - closing connections at exit must not block the exit
            log.exception("closing delivery channels failed")
        # A pass cancelled at exit may still be unwinding: let its tasks finish cancelling, so
        # closing the loop destroys no pending task (asyncio would log that as an error). Whatever
        # goes wrong there, the exit goes on.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_pending(), self.loop).result(timeout=0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=0.5)
        if not self._loop_thread.is_alive():
            self.loop.close()
        self.loop = None

    def status_line(self) -> str:
        with transaction(self.engine) as s:
            failed = outbox.count_status(s, DeliveryStatus.FAILED)
            waiting = outbox.count_status(s, DeliveryStatus.PENDING)
        parts = []
        if self.next_reminder is not None:
            parts.append(f"next reminder {self.next_reminder:%Y-%m-%d %H:%M}")
        else:
            parts.append("no reminder planned")
        parts.append(f"{failed} failed deliveries")
        if waiting:
            parts.append(f"{waiting} waiting")
        return ", ".join(parts)

    def _status(self) -> None:
        try:
            notify("STATUS=" + self.status_line())
        except Exception:  # noqa: BLE001
            log.exception("status update failed")

    def _stalled(self) -> str | None:
        """Why the worker counts as stuck (no heartbeat for longer than a tick and a lease), or None."""
        cfg = self.cfg
        limit = max(2 * cfg.schedule.tick_seconds, cfg.delivery.lease_seconds) + 30
        age = self.heartbeat.age()
        return f"worker shows no heartbeat for {age:.0f} s" if age >= limit else None

    def feed_watchdog(self) -> None:
        """WATCHDOG=1 unless the worker has shown no heartbeat for too long (a hung send, a
        stuck database call): then systemd kills and restarts us (Restart=on-failure)."""
        stalled = self._stalled()
        if stalled is None:
            notify("WATCHDOG=1")
        else:
            log.error("%s; not feeding the watchdog", stalled)

    def scheduler_problem(self) -> str | None:
        """For /healthz: is the scheduler running and its worker's heartbeat recent?"""
        if self.scheduler is None or not self.scheduler.running:
            return "not running"
        return self._stalled()

    # -- lifecycle --------------------------------------------------------------------------
    def _schedule(self) -> None:
        s = self.cfg.schedule
        sched = self.scheduler
        assert sched is not None  # made by start() before the jobs
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None, "replace_existing": True}
        sched.add_job(self.planning_pass, CronTrigger(hour=s.send_at.hour, minute=s.send_at.minute,
                                                      timezone=self.cfg.timezone), id="plan-daily", **common)
        sched.add_job(self.planning_pass, IntervalTrigger(minutes=s.plan_every_minutes), id="plan", **common)
        sched.add_job(self.tick, IntervalTrigger(seconds=s.tick_seconds), id="tick", **common)
        interval = watchdog_seconds()
        if interval:
            sched.add_job(self.feed_watchdog, IntervalTrigger(seconds=max(interval / 2, 0.5)), id="watchdog",
                          executor="watchdog", **common)

    def reload(self) -> bool:
        with self._reload_lock:
            reloading()
            cfg, renderer, problems = config_problems(self.config_path)
            if problems:
                log.error("reload refused, keeping the running config (%d problems)", len(problems))
                for p in problems:
                    log.error("%s", p)
                notify("READY=1\nSTATUS=reload refused: config invalid (see log); " + self.status_line())
                return False
            assert cfg is not None and renderer is not None  # no problems: both were made
            if cfg.database_url != self.cfg.database_url:
                log.warning("reload: [database] url changed; restart to use the new database")
                cfg = dataclasses.replace(cfg, database_url=self.cfg.database_url)
            logging_setup.register_config(cfg)
            logging_setup.set_level(self.log_level or cfg.log_level)
            logging_setup.set_timezone(cfg.timezone)
            if self.loop is not None and self.routes is not None:
                # Channels whose config section did not change keep their connections and pacing.
                self._on_loop(self.routes.reconfigure(cfg))
            self.cfg, self.renderer = cfg, renderer
            self._schedule()
            log.info("reloaded config %s", cfg.path or "(built-in defaults)")
            self._update_next_reminder(cfg, datetime.now(cfg.timezone))
            notify("READY=1\nSTATUS=" + self.status_line())
            return True

    def _on_signal(self, signum: int, _frame) -> None:  # noqa: ANN001
        if signum == signal.SIGHUP:
            threading.Thread(target=self.reload, name="reload", daemon=True).start()
            return
        log.info("%s: stopping sends in flight, then exiting", signal.Signals(signum).name)
        self.stop.set()
        if self.dispatcher is not None:
            self.dispatcher.stopping = True
        if self.routes is not None:
            self.routes.interrupt()

    def _wait_for_jobs(self, started: float) -> bool:
        """Let the running job end (its sends were interrupted, it records them); past the
        grace, cancel the dispatcher pass: rows still in flight keep their lease and are
        claimed again when it runs out, so nothing is lost."""
        if self._busy.acquire(timeout=STOP_GRACE_SECONDS):
            self._busy.release()
            return True
        pending = self._pass
        if pending is not None:
            pending.cancel()  # cancels the pass's task in the delivery loop
        left = max(0.1, started + STOP_SECONDS - 1.5 - time.monotonic())
        if self._busy.acquire(timeout=left):
            self._busy.release()
            return True
        log.warning("a job is still running at exit; its rows are retried when their lease ends")
        return False

    def _start_listeners(self) -> None:
        """The reply-link pages ([web] enabled) and /healthz + /metrics ([metrics] listen)."""
        if not (self.cfg.web.enabled or self.cfg.metrics.listen):
            return
        from notifier.web.server import WebThread, make_ops_server, make_server

        if self.cfg.web.enabled:
            self.web = WebThread(make_server(self.engine, self.cfg, daemon=self))
            self.web.start()
        if self.cfg.metrics.listen:
            self.ops_web = WebThread(make_ops_server(self.engine, self.cfg, self), "/healthz and /metrics")
            self.ops_web.start()

    def _stop_listeners(self, timeout: float = 2.0) -> None:
        for web in (self.web, self.ops_web):
            if web is not None:
                web.stop(timeout=timeout)

    def run(self) -> int:
        upgrade(self.engine)
        problems = self.renderer.check()
        if problems:
            for p in problems:
                log.error("%s: %s", self.cfg.path, p)
            return 2
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        interval = watchdog_seconds()
        if interval and interval <= self.cfg.schedule.tick_seconds:
            log.info("watchdog every %.0f s is shorter than the %d s tick; it is fed from its own job",
                     interval, self.cfg.schedule.tick_seconds)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1), "watchdog": ThreadPoolExecutor(1)},
            timezone=self.cfg.timezone)
        self._schedule()
        try:
            self._start_listeners()
        except RuntimeError as exc:  # the port is taken, or the address is not this machine's
            log.error("%s; stopping", exc)
            self._stop_listeners()
            return 1
        self.scheduler.start()
        now = datetime.now(self.cfg.timezone)
        self._update_next_reminder(self.cfg, now)
        notify("READY=1\nSTATUS=" + self.status_line())
        # Catch up at once: whatever fell due while we were down goes out now, once.
        self.scheduler.add_job(self.planning_pass, id="catch-up", replace_existing=True)
        log.info("notifier running (database %s, tick every %d s%s)",
                 self.engine.url.render_as_string(hide_password=True), self.cfg.schedule.tick_seconds,
                 f", watchdog {interval:g} s" if interval else "")
        while not self.stop.wait(0.2):
            pass
        started = time.monotonic()
        notify("STOPPING=1")
        if self.web is not None:
            self.web.server.should_exit = True  # the web thread winds down while the jobs end
        self.scheduler.shutdown(wait=False)
        ended = self._wait_for_jobs(started)
        self._close_delivery()
        self._stop_listeners(timeout=max(0.1, started + STOP_SECONDS - 0.5 - time.monotonic()))
        self.engine.dispose()
        log.info("stopped")
        if not ended:
            # A job thread is stuck in a call we cannot cancel (a database lock, a stalled
            # SMTP read); the interpreter would wait for it at exit. Its rows are leased.
            logging.shutdown()
            os._exit(0)
        return 0
