"""Request Tracker 5 connector: tickets and assets through REST2 (TicketingPort)."""

from connectors.rt.client import RtTicketing
from connectors.rt.config import RtConfig
from connectors.rt.query import QueryValueError

__all__ = ["RtConfig", "RtTicketing", "QueryValueError"]
