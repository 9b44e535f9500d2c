"""Run the reply pages with Uvicorn: in the foreground (``notifier serve``) or in a thread
beside the scheduler (``notifier run`` with ``[web] enabled = true``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import uvicorn
from sqlalchemy.engine import Engine

from notifier.config import Config
from notifier.rendering import Renderer
from notifier.web.app import make_app
from notifier.web.links import signer_of

log = logging.getLogger(__name__)


def make_server(engine: Engine, config: Config, *, host: str | None = None, port: int | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> uvicorn.Server:
    signer = signer_of(config)
    if signer is None:
        raise ValueError("[web] needs secret_file or secret_env to check reply links")
    from notifier.office.web import make_office_app

    app = make_app(engine, signer, timezone=config.timezone, clock=clock, renderer=Renderer.of(config),
                   office=make_office_app(engine, config, clock=clock))
    h, p = config.web.host_port
    cfg = uvicorn.Config(app, host=host or h, port=p if port is None else port, log_level="warning",
                         access_log=False, proxy_headers=True, server_header=False, lifespan="off")
    return uvicorn.Server(cfg)


class WebThread:
    """Uvicorn in a daemon thread; ``stop`` asks it to finish and waits."""

    def __init__(self, server: uvicorn.Server):
        self.server = server
        self.thread = threading.Thread(target=server.run, name="web", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while not self.server.started and self.thread.is_alive() and datetime.now(UTC) < deadline:
            threading.Event().wait(0.02)
        if not self.server.started:
            raise RuntimeError(f"the reply-link server did not start on {self.address}")
        log.info("reply links served on http://%s", self.address)

    @property
    def address(self) -> str:
        servers = getattr(self.server, "servers", None) or []
        for srv in servers:
            for sock in srv.sockets:
                host, port = sock.getsockname()[:2]
                return f"{host}:{port}"
        return f"{self.server.config.host}:{self.server.config.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
