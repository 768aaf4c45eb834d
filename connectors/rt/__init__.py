"""Request Tracker 5 connector: tickets and assets through REST2 (TicketingPort)."""

from connectors.rt.client import RtTicketing
from connectors.rt.config import RtConfig
from connectors.rt.query import QueryValueError

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = RtConfig
CLIENT = RtTicketing

__all__ = ["CONFIG", "CLIENT", "RtConfig", "RtTicketing", "QueryValueError"]
