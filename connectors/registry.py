"""Every adapter the hub knows, one line each.

A line names the adapter, the port it implements and the module that holds it. By
convention ``connectors/<name>/__init__.py`` exports ``CONFIG`` (its ``ConnectorConfig``
subclass) and ``CLIENT`` (the class implementing the port), the hub's settings have a field
``<name>`` holding its configuration, and ``tests/contract/harnesses/<name>.py`` tells the
contract suite how to start a real peer for it. Registering a line here is what enrols an
adapter in the contract tests (``tests/contract``) and makes ``HUB_<PORT>=<name>`` choose it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["Adapter", "ADAPTERS", "PORTS", "adapter", "adapters_for"]

PORTS = ("hr", "archive", "ticketing", "forms", "mail", "calendar", "inbox")


@dataclass(frozen=True)
class Adapter:
    name: str
    port: str

    @property
    def module(self) -> Any:
        return importlib.import_module(f"connectors.{self.name}")

    @property
    def config_class(self) -> type[Any]:
        return self.module.CONFIG  # type: ignore[no-any-return]

    @property
    def client_class(self) -> type[Any]:
        return self.module.CLIENT  # type: ignore[no-any-return]

    def build(self, config: Any) -> Any:
        return self.client_class(config)


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("dfo", "hr"),
    Adapter("n5ws", "archive"),
    Adapter("rt", "ticketing"),
    Adapter("topdesk", "ticketing"),
    Adapter("nettskjema", "forms"),
    Adapter("smtp", "mail"),
    Adapter("caldav", "calendar"),
    Adapter("maildir", "inbox"),
)


def adapter(port: str, name: str) -> Adapter:
    for candidate in ADAPTERS:
        if candidate.port == port and candidate.name == name:
            return candidate
    known = ", ".join(a.name for a in adapters_for(port)) or "none"
    raise LookupError(f"no {port} adapter named {name!r} is registered (known: {known}); "
                      "add it to connectors/registry.py")


def adapters_for(port: str) -> list[Adapter]:
    return [a for a in ADAPTERS if a.port == port]
