"""``/healthz`` and ``/metrics``: what ops and Prometheus fetch.

- The reply-link app (``notifier serve``, ``notifier run`` with ``[web] enabled``) answers
  ``/healthz``; ``/metrics`` too only with ``[metrics] on_web = true``: the reply pages face the
  departments, the figures are for ops.
- ``[metrics] listen = "HOST:PORT"`` gives ``notifier run`` a listener of its own with both, so a
  daemon without reply links can be watched too (``ops_app``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notifier import health, metrics
from notifier.db.engine import utcnow

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def ops_routes(engine: Engine, *, timezone: Any, daemon: health.SchedulerProbe | None = None,
               with_metrics: bool = True, clock: Callable[[], datetime] = utcnow) -> list[Route]:
    """The routes; ``daemon`` is the running daemon (None in ``notifier serve``)."""
    registry = metrics.registry_for(engine, clock)

    async def healthz(request: Request) -> JSONResponse:
        report = await run_in_threadpool(health.check, engine, daemon)
        return JSONResponse(report.as_json(timezone), status_code=report.status_code, headers=NO_STORE)

    async def metrics_page(request: Request) -> Response:
        body, content_type = await run_in_threadpool(metrics.exposition, registry,
                                                     request.headers.get("accept", ""))
        return Response(body, headers={**NO_STORE, "Content-Type": content_type})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if with_metrics:
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))
    return routes


def ops_app(engine: Engine, *, timezone: Any, daemon: health.SchedulerProbe | None = None) -> Starlette:
    """The ``[metrics] listen`` app: ``/healthz`` and ``/metrics``, nothing else."""
    return Starlette(routes=ops_routes(engine, timezone=timezone, daemon=daemon))
