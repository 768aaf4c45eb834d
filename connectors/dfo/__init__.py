"""DFØ (Direktoratet for forvaltning og økonomistyring) HR connector.

``DfoHr(DfoConfig(base_url=..., api_key=...))`` implements :class:`hub.ports.hr.HrPort`.
Payload shapes and error mapping: :mod:`connectors.dfo.client`, :mod:`connectors.dfo.models`.
"""

from connectors.dfo.client import DfoHr
from connectors.dfo.config import DfoConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = DfoConfig
CLIENT = DfoHr

__all__ = ["CONFIG", "CLIENT", "DfoHr", "DfoConfig"]
