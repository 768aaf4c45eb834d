"""The hub's ledger: per-item truth (SQLAlchemy 2 + Alembic; SQLite by default)."""

from hub.ledger.models import (
           EventState,
           ExternalRef,
           InboxEvent,
           ItemState,
           StepState,
           WorkItem,
           WorkItemStep,
)
from hub.ledger.store import Ledger, Op

__all__ = ["Ledger", "Op", "InboxEvent", "WorkItem", "WorkItemStep", "ExternalRef", "ItemState", "StepState",
           "EventState"]
