"""Run the reply pages with Uvicorn: in the foreground (``notifier serve``) or in a thread
beside the scheduler (``notifier run`` with ``[web] enabled = true``); and the ``[metrics]
listen`` app of ``/healthz`` and ``/metrics`` beside the scheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import uvicorn
from sqlalchemy.engine import Engine

from notifier.config import Config
from notifier.health import SchedulerProbe
from notifier.rendering import Renderer
from notifier.web.app import HEADERS, make_app
from notifier.web.department import department_routes
from notifier.web.links import signer_of
from notifier.web.ops import ops_app, ops_routes

log = logging.getLogger(__name__)


def make_server(engine: Engine, config: Config, *, host: str | None = None, port: int | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                daemon: SchedulerProbe | None = None) -> uvicorn.Server:
    """The reply pages, with ``/healthz`` (of ``daemon`` when it runs beside them)."""
    signer = signer_of(config)
    if signer is None:
        raise ValueError("[web] needs secret_file or secret_env to check reply links")
    from notifier.office.web import make_office_app
    from notifier.reminders import group_members

    renderer = Renderer.of(config)
    app = make_app(engine, signer, timezone=config.timezone, clock=clock, renderer=renderer,
                   office=make_office_app(engine, config, clock=clock), groups=lambda s: group_members(s, config),
                   review_required=config.review.required)
    app.router.routes.extend(department_routes(engine, config, signer, renderer, headers=HEADERS, clock=clock))
    app.router.routes.extend(ops_routes(engine, timezone=config.timezone, daemon=daemon,
                                        with_metrics=config.metrics.on_web))
    h, p = config.web.host_port
    return _uvicorn(app, host or h, p if port is None else port)


def make_ops_server(engine: Engine, config: Config, daemon: SchedulerProbe | None = None, *,
                    port: int | None = None) -> uvicorn.Server:
    """``/healthz`` and ``/metrics`` on ``[metrics] listen``."""
    h, p = config.metrics.host_port or ("127.0.0.1", 0)
    return _uvicorn(ops_app(engine, timezone=config.timezone, daemon=daemon), h, p if port is None else port)


def _uvicorn(app, host: str, port: int) -> uvicorn.Server:  # noqa: ANN001 - an ASGI app
    cfg = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=True,
                         server_header=False, lifespan="off",
                         # At exit, a slow client gets 1 s: SIGTERM stops the daemon within 5 s.
                         timeout_graceful_shutdown=1)
    return uvicorn.Server(cfg)


class WebThread:
    """Uvicorn in a daemon thread; ``stop`` asks it to finish and waits."""

    def __init__(self, server: uvicorn.Server, what: str = "reply links"):
        self.server = server
        self.what = what
        self.thread = threading.Thread(target=server.run, name=what, daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while not self.server.started and self.thread.is_alive() and datetime.now(UTC) < deadline:
            threading.Event().wait(0.02)
        if not self.server.started:
            raise RuntimeError(f"the {self.what} server did not start on {self.address}")
        log.info("%s served on http://%s", self.what, self.address)

    @property
    def address(self) -> str:
        servers = getattr(self.server, "servers", None) or []
        for srv in servers:
            for sock in srv.sockets:
                host, port = sock.getsockname()[:2]
                return f"{host}:{port}"
        return f"{self.server.config.host}:{self.server.config.port}"

    def stop(self, timeout: float = 2.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
