"""A plan's life: active while it is reminded, closed after its end plus grace (when the
office's closing report is queued), by hand (`notifier plan close|reopen`), or at import when
its period had already passed. The only place that changes ``plans.status``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.db.models import Plan, PlanStatus


class UnknownPlan(LookupError):
    pass


def close_plan(plan: Plan, at: datetime) -> bool:
    """Close ``plan`` (``at``: naive UTC); False when it was closed already."""
    if plan.status == PlanStatus.CLOSED:
        return False
    plan.status, plan.closed_at = PlanStatus.CLOSED, at
    return True


def reopen_plan(plan: Plan) -> bool:
    """Make ``plan`` active again; False when it was active already."""
    if plan.status == PlanStatus.ACTIVE:
        return False
    plan.status, plan.closed_at = PlanStatus.ACTIVE, None
    return True


def has_passed(ends_on: date, today: date, after_end_days: int) -> bool:
    """Is a plan ending ``ends_on`` past its end plus grace on ``today``?"""
    return (today - ends_on).days > after_end_days


def find_plan(session: Session, name: str) -> Plan:
    """A plan by id, 文号 or name (a unique part of the name will do)."""
    if name.isdigit():
        plan = session.get(Plan, int(name))
        if plan is not None:
            return plan
    exact = list(session.scalars(select(Plan).where((Plan.doc_number == name) | (Plan.name == name))))
    if len(exact) == 1:
        return exact[0]
    like = list(session.scalars(select(Plan).where(Plan.name.contains(name))))
    if len(like) == 1:
        return like[0]
    known = [f"{p.id} {p.name}" for p in session.scalars(select(Plan).order_by(Plan.id))]
    what = "several plans match" if len(like) > 1 else "no plan matches"
    raise UnknownPlan(f"{what} {name!r}; plans: " + ("; ".join(known) or "none"))
