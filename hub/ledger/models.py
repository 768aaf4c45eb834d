"""Ledger tables: what the hub received, what it must do, what it wrote where.

- ``inbox_events``: every event the intake accepted, before anything else happens to it.
- ``work_items``: one per (service, source key) — e.g. (``onboarding``, DFØ id 10001) —
  with its state, attempts, last error and the time it was requested and finished.
- ``work_item_steps``: each step of a work item with its own state and timestamps.
- ``external_refs``: every record written elsewhere (archive systemIDs, ticket and asset
  ids, Message-IDs), so a replay finds them instead of writing them again.
- ``cursors``: high-water marks of pollers (e.g. the last Nettskjema submissionId seen).

All times are stored timezone-aware (UTC in the database, shown in Europe/Oslo).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "InboxEvent", "WorkItem", "WorkItemStep", "ExternalRef", "Cursor", "utcnow",
           "ItemState", "StepState", "EventState"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class TZDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use timezone-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class EventState:
    RECEIVED = "received"      # durably stored, not yet handed to Prefect
    DISPATCHED = "dispatched"  # a Prefect flow run exists for it
    IGNORED = "ignored"        # understood, nothing to do (reason in last_error)


class ItemState:
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"   # waiting for something outside the hub (a free laptop, a decision)
    DONE = "done"
    FAILED = "failed"     # a dead letter: reason in last_error; replay after a fix
    OPEN = (PENDING, RUNNING, WAITING)


class StepState:
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    WAITING = "waiting"
    SKIPPED = "skipped"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: TZDateTime, dict[str, Any]: JSON}


class InboxEvent(Base):
    __tablename__ = "inbox_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[str] = mapped_column(String(100), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_after: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(20), default=EventState.RECEIVED, index=True)
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    scheduled_for: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (UniqueConstraint("service", "source_key", name="uq_work_item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(60), index=True)
    source_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(20), default=ItemState.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    manual_steps: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(30))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    steps: Mapped[list[WorkItemStep]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="WorkItemStep.id")
    refs: Mapped[list[ExternalRef]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ExternalRef.id")


class WorkItemStep(Base):
    __tablename__ = "work_item_steps"
    __table_args__ = (UniqueConstraint("work_item_id", "name", name="uq_step_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20), default=StepState.RUNNING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)

    item: Mapped[WorkItem] = relationship(back_populates="steps")


class ExternalRef(Base):
    __tablename__ = "external_refs"
    __table_args__ = (UniqueConstraint("work_item_id", "name", name="uq_ref_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    system: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(300), index=True)
    external_key: Mapped[str | None] = mapped_column(String(300), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[WorkItem] = relationship(back_populates="refs")


class Cursor(Base):
    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
