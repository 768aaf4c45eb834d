"""Public 360 (SIF JSON RPC) adapter for the archive port — OsloMet's own archive.

See :mod:`connectors.p360.client` for how cases, documents and contacts are written
exactly once, and :mod:`connectors.p360.rpc` for how SIF's errors are translated.
"""

from connectors.p360.client import P360Archive
from connectors.p360.config import P360Config

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = P360Config
CLIENT = P360Archive

__all__ = ["CONFIG", "CLIENT", "P360Archive", "P360Config"]
