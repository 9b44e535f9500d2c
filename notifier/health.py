"""Is the service well? The answer ``/healthz`` gives.

Three checks, each ``ok`` or the reason it is not:

- **database**: a ``SELECT 1`` answered;
- **scheduler**: in ``notifier run``, the scheduler is running and its worker's heartbeat
  within the watchdog's limit (a hung send or database call fails it); ``notifier serve`` runs
  no scheduler and says so without failing;
- **last pass**: when the daemon's last planning pass ran, and whether it failed (a failed pass
  fails the check until a pass succeeds).

All well: 200. Anything wrong: 503, and the body names each problem. Problems are described by
kind (``OperationalError``), never with an exception's text, which may hold a database URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine

OK = "ok"


@dataclass
class PassRecord:
    """The daemon's last planning pass: written by the daemon, read by ``/healthz``."""

    at: datetime | None = None  # aware: when it ended
    error: str | None = None  # None: it succeeded

    def ended(self, at: datetime, error: str | None = None) -> None:
        self.at, self.error = at, error


class SchedulerProbe(Protocol):
    """What the daemon tells ``/healthz`` (``notifier.daemon.Daemon``)."""

    last_pass: PassRecord

    def scheduler_problem(self) -> str | None: ...


@dataclass(frozen=True)
class Health:
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ok" or the problem
    last_pass: datetime | None = None
    scheduler: bool = False  # does this process run the scheduler?

    @property
    def ok(self) -> bool:
        return all(v == OK for v in self.checks.values())

    @property
    def status_code(self) -> int:
        return 200 if self.ok else 503

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        last = self.last_pass.astimezone(tz).isoformat(timespec="seconds") if self.last_pass else None
        return {"status": "ok" if self.ok else "unavailable", "checks": self.checks, "last_pass": last,
                "problems": [f"{k}: {v}" for k, v in self.checks.items() if v != OK]}


def database_problem(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"unreachable ({type(exc).__name__})"
    return None


def check(engine: Engine, daemon: SchedulerProbe | None = None) -> Health:
    """The health of this process: its database, and its scheduler when it runs one."""
    checks = {"database": database_problem(engine) or OK}
    if daemon is None:
        return Health(checks)
    checks["scheduler"] = daemon.scheduler_problem() or OK
    last = daemon.last_pass
    # No pass yet is well: the daemon has just started and runs its catch-up pass first.
    checks["last_pass"] = OK if last.error is None else f"failed ({last.error})"  # when: "last_pass"
    return Health(checks, last.at, scheduler=True)
