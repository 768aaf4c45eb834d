"""N5WS (Noark 5 Tjenestegrensesnitt v1.1) adapter for the archive port.

Works with any core that follows the standard (Documaster, nikita, the hub's sandbox):
it starts at ``<base_url>/api`` and follows relations only.
"""

from connectors.n5ws.client import N5wsArchive
from connectors.n5ws.config import N5wsConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = N5wsConfig
CLIENT = N5wsArchive

__all__ = ["CONFIG", "CLIENT", "N5wsArchive", "N5wsConfig"]
