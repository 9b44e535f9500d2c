"""The schema, as SQLAlchemy 2 models. It changes only through Alembic migrations
(``migrations/versions``); a test checks that the models and the migrations agree.

All timestamps are stored as naive UTC; dates (due dates, digest days) are local
calendar dates of the configured time zone.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (Boolean, Date, DateTime, Dialect, ForeignKey, Index, Integer, MetaData,
                        String, Table, Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# The enums of the columns here live with the other words in terms.py (importable without the
# ORM); PlanStatus and RequestState are imported from either module.
from notifier.terms import (AccountRole, DeliveryStatus, DigestKind, HistoryAction, Light, MilestoneStatus, PlanStatus,
                            RequestState, Role, SignState, Source)

# Stable constraint names: Alembic batch mode on SQLite needs them to alter tables.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The model's Core table, for bulk statements (SQLAlchemy types ``__table__`` as any FromClause)."""
    return cast(Table, model.__table__)


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumColumn(TypeDecorator[E]):
    """A ``StrEnum`` stored as its value in the ``VARCHAR(length)`` the column always was (no
    migration, the same rows): a read gives the member, so a row's field has the enum's type
    and mypy finds a stray string written to it. A write takes a member or its value."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class Plan(Base):
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    doc_number: Mapped[str | None] = mapped_column(String(100), index=True)
    issuer: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    source_hash: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # Changed only through notifier.plan_life (close_plan / reopen_plan).
    status: Mapped[PlanStatus] = mapped_column(StrEnumColumn(PlanStatus, 10), default=PlanStatus.ACTIVE,
                                              server_default="active")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    tasks: Mapped[list[Task]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                             order_by="Task.position")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_tasks_plan_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)  # where the document printed it (migration 0005)
    plan: Mapped[Plan] = relationship(back_populates="tasks")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="task", cascade="all, delete-orphan",
                                                       order_by="Milestone.position")
    roles: Mapped[list[TaskDepartment]] = relationship(back_populates="task", cascade="all, delete-orphan")


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    aliases: Mapped[list[DepartmentAlias]] = relationship(cascade="all, delete-orphan")


class DepartmentAlias(Base):
    __tablename__ = "department_aliases"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), unique=True)


class TaskDepartment(Base):
    __tablename__ = "task_departments"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True, index=True)
    role: Mapped[Role] = mapped_column(StrEnumColumn(Role, 20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    task: Mapped[Task] = relationship(back_populates="roles")
    department: Mapped[Department] = relationship()


class Milestone(Base):
    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("task_id", "key", name="uq_milestones_task_key"),
        Index("ix_milestones_status_due", "status", "due_on"),
        Index("ix_milestones_recurrence", "recurrence"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(32))  # identity across re-imports (MilestoneSpec.key)
    position: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    phrase: Mapped[str] = mapped_column(String(200), default="")
    recurrence: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[MilestoneStatus] = mapped_column(StrEnumColumn(MilestoneStatus, 10), default=MilestoneStatus.OPEN)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)  # where the document printed it (migration 0005)
    task: Mapped[Task] = relationship(back_populates="milestones")


class OccurrenceDone(Base):
    """A done mark for one occurrence of a recurring milestone (每月25日前报送)."""

    __tablename__ = "occurrence_done"
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[date] = mapped_column(Date, primary_key=True)
    done_at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class HistoryEvent(Base):
    """History of done marks and progress notes, whoever made them (table name kept from before the rename)."""

    __tablename__ = "progress_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[date | None] = mapped_column(Date)
    action: Mapped[HistoryAction] = mapped_column(StrEnumColumn(HistoryAction, 20))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[Source] = mapped_column(StrEnumColumn(Source, 20))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime)
    percent: Mapped[int | None] = mapped_column(Integer)  # a progress report's 0-100 (migration 0008)


class DoneRequest(Base):
    """A department's request that an item be closed (申请办结), and the office's decision
    (migration 0008). ``occurrence`` is set for a recurring report, as in progress_events."""

    __tablename__ = "done_requests"
    __table_args__ = (Index("ix_done_requests_state", "state", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[date | None] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[RequestState] = mapped_column(StrEnumColumn(RequestState, 10), default=RequestState.PENDING,
                                                server_default="pending")
    note: Mapped[str] = mapped_column(Text)
    source: Mapped[Source] = mapped_column(StrEnumColumn(Source, 20))  # PAGE, LINK or CLI
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was returned
    # The digest that told the department of the return; NULL again if that digest is dropped unsent.
    told_digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"))


class Digest(Base):
    """One rendered message for one department (or the supervision office) on one day."""

    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_day", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[DigestKind] = mapped_column(StrEnumColumn(DigestKind, 20))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)  # JSON


class ReminderLog(Base):
    """Which reminder trigger has been turned into a digest for which department.

    The planner fires a series (a cutoff, a milestone's own date, an overdue cycle) only
    when its latest due trigger is newer than the latest logged here; the unique key
    makes two planners racing on one database insert it once."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("department_id", "series", "trigger_at", name="uq_reminder_log_trigger"),
                      Index("ix_reminder_log_trigger_at", "trigger_at"),
                      Index("ix_reminder_log_department_trigger", "department_id", "trigger_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    series: Mapped[str] = mapped_column(String(80))
    trigger_at: Mapped[datetime] = mapped_column(DateTime)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), index=True)


class Delivery(Base):
    """The outbox: one row per digest and contact (an address or a webhook)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),
                      # partial: only rows in flight, for the expired-lease probe of every tick
                      Index("ix_deliveries_sending_lease", "lease_until",
                            sqlite_where=text("status = 'sending'"), postgresql_where=text("status = 'sending'")),
                      # partial: the never-attempted pending rows, the catch-up's candidates (migration 0009)
                      Index("ix_deliveries_unattempted", "digest_id",
                            sqlite_where=text("status = 'pending' AND attempts = 0"),
                            postgresql_where=text("status = 'pending' AND attempts = 0")))
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # idempotency key / webhook-id
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(300))  # address or webhook name
    # Changed only through notifier.delivery.outbox.
    status: Mapped[DeliveryStatus] = mapped_column(StrEnumColumn(DeliveryStatus, 10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)  # pointless after (a passed cutoff)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Contact(Base):
    """Health of one contact; a contact that failed for good is marked broken."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "recipient", name="uq_contacts_channel_recipient"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(300))
    broken: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    broken_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)  # supervision office told


class LinkUse(Base):
    """A reply link that has changed something: each signed link does so once.

    ``token_id`` is the link's signature, so a replayed link (or a second click racing the
    first) hits the primary key and changes nothing."""

    __tablename__ = "link_uses"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[date | None] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    action: Mapped[HistoryAction] = mapped_column(StrEnumColumn(HistoryAction, 20))  # DONE or PROGRESS
    used_at: Mapped[datetime] = mapped_column(DateTime)
    progress_event_id: Mapped[int | None] = mapped_column(ForeignKey("progress_events.id", ondelete="SET NULL"))


# ---------------------------------------------------------------- the office ledger (migration 0006)

class User(Base):
    """An account of the office pages: ``office`` may act, ``leader`` may only read."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[AccountRole] = mapped_column(StrEnumColumn(AccountRole, 10))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime)


class UserSession(Base):
    """A logged-in browser. The cookie carries the id and its HMAC; deleting the row (logout,
    password change, disable) ends the session."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """A failed login, counted per account and per address for the rate limit."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class AuditEntry(Base):
    """Who did what in the office pages (and the ``user`` command)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id", ondelete="SET NULL"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class DeadlineExtension(Base):
    """A 延期: the milestone's date moved from ``old_due`` to ``new_due``, with the reason."""

    __tablename__ = "deadline_extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    old_due: Mapped[date] = mapped_column(Date)
    new_due: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)


class Pause(Base):
    """A task or a department paused (暂停督办) until ``ends_on`` (inclusive), with the reason."""

    __tablename__ = "pauses"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime)
    resumed_by: Mapped[str | None] = mapped_column(String(100))


# ---------------------------------------------------------------- 签收 and the grade ladder (migration 0007)

class SignRequest(Base):
    """A reminder asked a department to sign for (签收) one item it carried.

    One row per department, item (milestone and occurrence) and digest; changed only through
    ``notifier.signing`` (``ask`` / ``sign`` / ``lapse``)."""

    __tablename__ = "sign_requests"
    __table_args__ = (
        UniqueConstraint("department_id", "milestone_id", "occurrence", "digest_key", name="uq_sign_requests_item"),
        Index("ix_sign_requests_department_status", "department_id", "status"),
        Index("ix_sign_requests_status_sign_by", "status", "sign_by"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[date] = mapped_column(Date)
    digest_key: Mapped[str] = mapped_column(String(64))
    asked_on: Mapped[date] = mapped_column(Date)
    sign_by: Mapped[date] = mapped_column(Date)  # the last day it counts as signed in time
    status: Mapped[SignState] = mapped_column(StrEnumColumn(SignState, 10), default=SignState.ASKED)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_via: Mapped[Source | None] = mapped_column(StrEnumColumn(Source, 20))  # PAGE, CLI (telephone), OFFICE
    recorded_by: Mapped[str | None] = mapped_column(String(200))  # who recorded a 签收 made by telephone


class GradeStep(Base):
    """An item's grade (蓝 / 黄 / 红) stepped up for a department, and the digest that said so.

    Recorded when that digest is queued, so each step is sent once; the latest row of an
    item is its last recorded grade."""

    __tablename__ = "grade_steps"
    __table_args__ = (
        UniqueConstraint("department_id", "milestone_id", "occurrence", "grade", "digest_key",
                         name="uq_grade_steps_item"),
        Index("ix_grade_steps_department_item", "department_id", "milestone_id", "occurrence"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[date] = mapped_column(Date)
    grade: Mapped[Light] = mapped_column(StrEnumColumn(Light, 10))  # a step up: BLUE, YELLOW or RED; GREEN: a restart
    digest_key: Mapped[str] = mapped_column(String(64))
    stepped_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DepartmentDue(Base):
    """When the planning pass must next look at a department (the due index, migration 0009).

    Written only by ``notifier/due_index.py``: a change to a department's items sets
    ``next_due_at`` to ``DUE_NOW`` and bumps ``version``; a pass that planned the department
    writes the next time it can fire, unless ``version`` moved meanwhile."""

    __tablename__ = "department_due"
    __table_args__ = (Index("ix_department_due_next", "next_due_at"),)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"),
                                               primary_key=True)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime)  # naive UTC; None: nothing open
    version: Mapped[int] = mapped_column(Integer, default=0)


class DueIndexState(Base):
    """One row: the fingerprint of the rules the due index was computed with (a config
    change marks every department due; ``notifier/due_index.py``)."""

    __tablename__ = "due_index_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    planned_at: Mapped[datetime | None] = mapped_column(DateTime)  # naive UTC: the latest pass's ``now``
