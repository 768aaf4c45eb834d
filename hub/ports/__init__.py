"""Ports: one small typed ``Protocol`` per kind of target or source.

Flows depend only on these; an adapter in ``connectors/<system>/`` implements one, and
configuration chooses which (``hub.wiring``). The models here are the hub's own language:
Noark 5 terms for the archive (saksmappe, journalpost) because that is the national
standard, plain English elsewhere.
"""

from hub.ports.common import Health

__all__ = ["Health"]
