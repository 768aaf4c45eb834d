"""Every adapter the hub knows, one line each.

A line names the adapter, the port it implements and the module that holds it, and its
*local* defaults: where the local stack's sandbox for it listens and the sandbox's public
credentials, which the ``local`` profile fills in (the ``production`` profile refuses them). By
convention ``connectors/<name>/__init__.py`` exports ``CONFIG`` (its ``ConnectorConfig``
subclass) and ``CLIENT`` (the class implementing the port), the hub's settings have a field
``<name>`` holding its configuration, and ``tests/contract/harnesses/<name>.py`` tells the
contract suite how to start a real peer for it. Registering a line here is what enrols an
adapter in the contract tests (``tests/contract``) and makes ``HUB_<PORT>=<name>`` choose it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.settings import PORTS as LOCAL_PORTS
from hub.settings import ROOT

__all__ = ["Adapter", "ADAPTERS", "PORTS", "adapter", "adapters_for"]

PORTS = ("hr", "archive", "ticketing", "forms", "mail", "calendar", "inbox")


@dataclass(frozen=True)
class Adapter:
    name: str
    port: str
    local: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)

    def local_defaults(self) -> dict[str, Any]:
        """What the local profile fills in: the local sandbox's URL and public credentials."""
        return dict(self.local() if callable(self.local) else self.local)

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


def _local(name: str, path: str = "") -> str:
    return f"http://127.0.0.1:{LOCAL_PORTS[name]}{path}"


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("dfo", "hr", {"base_url": _local("dfo", "/api"), "api_key": "sandbox-dfo-key"}),
    Adapter("n5ws", "archive", {"base_url": _local("noark5", "/noark5v5"), "username": "hub",
                                "password": "sandbox-n5ws-password"}),
    Adapter("p360", "archive", {"base_url": f"http://127.0.0.1:{LOCAL_PORTS['p360']}/Biz/v2/api/call/"
                                            "SI.Data.RPC/SI.Data.RPC", "auth_key": "sandbox-p360-authkey",
                                "client_id": "oslomet-hub"}),
    Adapter("rt", "ticketing", lambda: {"base_url": _local("rt"), "token_file": ROOT / "var" / "rt" / "hub-token"}),
    Adapter("topdesk", "ticketing", {"base_url": _local("topdesk", "/tas/api"), "username": "hub",
                                     "app_password": "sandbox-topdesk-app-password"}),
    Adapter("nettskjema", "forms", {"base_url": _local("nettskjema", "/api/v3"),
                                    "token_url": _local("nettskjema", "/oauth2/token"), "client_id": "hub-client",
                                    "client_secret": "sandbox-nettskjema-secret"}),
    Adapter("smtp", "mail", {"base_url": f"smtp://127.0.0.1:{LOCAL_PORTS['smtp']}",
                             "from_address": "tjenesteplattform@oslomet.no"}),
    Adapter("caldav", "calendar", {"base_url": _local("radicale"), "username": "hub",
                                   "password": "sandbox-caldav-password"}),
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
