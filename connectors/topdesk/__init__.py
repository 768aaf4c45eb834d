"""TOPdesk connector: incidents and Asset Management assets (TicketingPort)."""

from connectors.topdesk.client import TopdeskTicketing
from connectors.topdesk.config import TopdeskConfig
from connectors.topdesk.fiql import QueryValueError

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = TopdeskConfig
CLIENT = TopdeskTicketing

__all__ = ["CONFIG", "CLIENT", "TopdeskConfig", "TopdeskTicketing", "QueryValueError"]
