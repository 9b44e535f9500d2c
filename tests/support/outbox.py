"""The outbox filled straight in the database, as a planning pass would leave it: digests and
their delivery rows (``queue_rows``), and what became of them (``statuses``, ``rows``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from notifier.db.models import Delivery, Department, Digest
from notifier.delivery.outbox import delivery_key


def department_id(engine: Engine, name: str) -> int:
    with engine.begin() as conn:
        found = conn.scalar(select(Department.id).where(Department.name == name))
        if found is None:
            found = conn.execute(insert(Department).values(name=name, is_group=False, created_at=datetime(2018, 1, 1))
                                 .returning(Department.id)).scalar_one()
    return found


def local_day(utc_naive: datetime) -> date:
    """The digest day a planning pass would write at this naive-UTC instant: the local date in
    the configured zone (Asia/Shanghai). A UTC date is yesterday there from 16:00 UTC on, and a
    pass drops never-sent digests of earlier days as stale."""
    return utc_naive.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def queue_rows(engine: Engine, contacts: list[tuple[str, str]], *, n: int = 1, department: str = "市发展和改革委员会",
               now: datetime = datetime(2018, 6, 20, 1, 0), expires_at: datetime | None = None,
               kind: str = "reminder", tag: str = "d") -> list[int]:
    """``n`` digests for ``department``, each with one outbox row per contact (``(channel,
    recipient)``), due at ``now`` (naive UTC; a test of a real daemon passes ``utcnow()``), as a
    planning pass leaves them; returns the digest ids. Subjects are "提醒 {tag}-{i}"."""
    dep = department_id(engine, department)
    day = local_day(now)
    with engine.begin() as conn:
        digest_rows = [{
            "key": f"{tag}-{i}-{now.isoformat()}", "department_id": dep, "kind": kind, "day": day,
            "created_at": now, "subject": f"提醒 {tag}-{i}", "text": f"请于6月30日前完成第{i}项工作。",
            "html": f"<p>请于6月30日前完成第{i}项工作。</p>", "markdown": f"**请于6月30日前完成第{i}项工作。**",
            "data": json.dumps({"kind": kind, "today": now.date().isoformat(), "i": i}, ensure_ascii=False),
        } for i in range(n)]
        ids = [r[0] for r in conn.execute(insert(Digest).returning(Digest.id, sort_by_parameter_order=True),
                                          digest_rows)]
        conn.execute(insert(Delivery), [{
            "key": delivery_key(d["key"], ch, rcpt), "digest_id": digest_id, "department_id": dep,
            "channel": ch, "recipient": rcpt, "status": "pending", "attempts": 0, "due_at": now,
            "next_attempt_at": now, "expires_at": expires_at, "created_at": now,
        } for d, digest_id in zip(digest_rows, ids, strict=True) for ch, rcpt in contacts])
    return ids


def delivery_keys(engine: Engine, digest_ids: list[int]) -> list[str]:
    """The outbox keys of these digests' rows (a receiver's idempotency keys), in row order."""
    with engine.begin() as conn:
        return list(conn.scalars(select(Delivery.key).where(Delivery.digest_id.in_(digest_ids))
                                 .order_by(Delivery.id)))


def statuses(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())


def rows(engine: Engine) -> list:
    with engine.begin() as conn:
        return conn.execute(select(Delivery).order_by(Delivery.id)).all()
