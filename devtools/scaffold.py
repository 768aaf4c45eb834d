"""``python -m devtools new connector NAME --port PORT``: the first version of a new adapter.

Writes ``connectors/NAME/`` (config, client with every port method stubbed, models),
``sandbox/NAME/`` (a runnable stub server with fault injection), the contract-test harness
``tests/contract/harnesses/NAME.py`` — which fails until it is filled in — and the line in
``connectors/registry.py`` that enrols the adapter. docs/adding-a-connector.md goes on from there.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from sandbox.procs import ROOT

__all__ = ["scaffold_connector", "PORT_PROTOCOLS"]

PORT_PROTOCOLS = {
    "hr": ("hub.ports.hr", "HrPort"),
    "archive": ("hub.ports.archive", "ArchivePort"),
    "ticketing": ("hub.ports.ticketing", "TicketingPort"),
    "forms": ("hub.ports.forms", "FormsPort"),
    "mail": ("hub.ports.mail", "MailPort"),
    "calendar": ("hub.ports.calendar", "CalendarPort"),
    "inbox": ("hub.ports.inbox", "InboxPort"),
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _stubs(port: str) -> str:
    module_name, protocol_name = PORT_PROTOCOLS[port]
    protocol = getattr(importlib.import_module(module_name), protocol_name)
    out = []
    for name, member in inspect.getmembers(protocol, inspect.isfunction):
        if name.startswith("_") or name in ("health", "aclose"):
            continue
        signature = str(inspect.signature(member)).replace("'", "")
        prefix = "async def" if inspect.iscoroutinefunction(member) else "def"
        doc = inspect.getdoc(member) or f"See {module_name}.{protocol_name}.{name}."
        out.append(f'    {prefix} {name}{signature}:\n        """{doc.splitlines()[0]}"""\n'
                   f'        raise NotImplementedError("{name}: call the system through self._api")\n')
    return "\n".join(out)


def _port_imports(port: str) -> str:
    module_name, protocol_name = PORT_PROTOCOLS[port]
    names = [n for n in importlib.import_module(module_name).__all__ if n not in (protocol_name, "Health")]
    return f"from {module_name} import {', '.join(sorted(names))}  # noqa: F401" if names else ""


def _files(name: str, port: str) -> dict[str, str]:
    cls = _camel(name)
    module_name, protocol_name = PORT_PROTOCOLS[port]
    return {
        f"connectors/{name}/__init__.py": f'''"""{cls} adapter for the {port} port (scaffolded; see docs/adding-a-connector.md)."""

from connectors.{name}.client import {cls}Client
from connectors.{name}.config import {cls}Config

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = {cls}Config
CLIENT = {cls}Client

__all__ = ["CONFIG", "CLIENT", "{cls}Client", "{cls}Config"]
''',
        f"connectors/{name}/config.py": f'''"""Settings for the {cls} connector: every field described, every secret a SecretStr."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.config import ConnectorConfig

__all__ = ["{cls}Config"]


class {cls}Config(ConnectorConfig):
    username: str = Field("hub", description="User the hub authenticates as.")
    password: SecretStr = Field(description="That user's password or API token.")
''',
        f"connectors/{name}/models.py": f'''"""Payload models of the {cls} API (pydantic; tolerant of extra fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["{cls}Model"]


class {cls}Model(BaseModel):
    model_config = ConfigDict(extra="ignore")
''',
        f"connectors/{name}/client.py": f'''"""{cls} adapter implementing :class:`{module_name}.{protocol_name}`.

All HTTP goes through :class:`hub.http.ApiClient`: timeouts, retries on 429/502/503/504 with
Retry-After, and every failure translated to the hub's error tree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator  # noqa: F401 - used by some ports' signatures

import httpx

from connectors.{name}.config import {cls}Config
from hub.errors import HubError
from hub.http import ApiClient
from hub.ports.common import Health, HealthProbe
{_port_imports(port)}

__all__ = ["{cls}Client"]

SYSTEM = "{name}"


class {cls}Client:
    def __init__(self, config: {cls}Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._api = ApiClient(SYSTEM, config.base_url, policy=config.policy(), transport=transport,
                              auth=(config.username, config.password.get_secret_value()))

    async def aclose(self) -> None:
        await self._api.aclose()

    async def health(self) -> Health:
        probe = HealthProbe(SYSTEM)
        try:
            await self._api.request("GET", "/")  # replace with the cheapest authenticated call
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok("authenticated")

{_stubs(port)}''',
        f"sandbox/{name}/__init__.py": f'''"""A local stand-in for {cls}, faithful to its public API (scaffolded stub: fill in the routes).

``python -m sandbox.{name} --port N --data-dir D`` serves it on 127.0.0.1 with fault injection.
"""
''',
        f"sandbox/{name}/app.py": f'''"""The {cls} sandbox's ASGI app."""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox.common import FaultInjector

__all__ = ["create_app"]


def create_app(args: argparse.Namespace) -> ASGIApp:
    async def root(request: Request) -> JSONResponse:
        return JSONResponse({{"system": "{name}", "todo": "implement the real API routes"}})

    return FaultInjector(Starlette(routes=[Route("/", root)]))
''',
        f"sandbox/{name}/__main__.py": f'''from sandbox.common import serve_main
from sandbox.{name}.app import create_app

serve_main("{name}", create_app, default_port=8799)
''',
        f"tests/contract/harnesses/{name}.py": f'''"""Contract harness for {cls} ({port}). Fill in every method; the suite fails until then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.contract.harness import Harness, Peer


class {cls}Harness(Harness):
    def start(self, workdir: Path, log_dir: Path) -> Peer:
        raise NotImplementedError("{name}: start sandbox/{name} (or the real system) and return "
                                  "Peer({cls}Config(...), [proc]) — see tests/contract/harnesses/rt.py")

    async def probe(self, client: Any, peer: Peer) -> Any:
        raise NotImplementedError("{name}: a cheap authenticated read")

    async def not_found(self, client: Any, peer: Peer) -> Any:
        raise NotImplementedError("{name}: ask for something that does not exist")

    async def write_twice(self, client: Any, peer: Peer) -> int:
        raise NotImplementedError("{name}: the same ensure_* twice; count the records in the target")

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        raise NotImplementedError("{name}: read a paged list; return (expected, seen)")


HARNESS = {cls}Harness()
''',
    }


def _register(name: str, port: str, root: Path) -> Path:
    path = root / "connectors" / "registry.py"
    text = path.read_text()
    line = f'    Adapter("{name}", "{port}"),\n'
    if line in text:
        return path
    marker = "ADAPTERS: tuple[Adapter, ...] = (\n"
    end = text.index("\n)\n", text.index(marker))
    path.write_text(text[:end + 1] + line + text[end + 1:])
    return path


def scaffold_connector(name: str, port: str, *, force: bool = False, root: Path = ROOT) -> list[Path]:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", name):
        raise ValueError(f"connector name {name!r}: use lower-case letters, digits and _ (e.g. servicenow)")
    if port not in PORT_PROTOCOLS:
        raise ValueError(f"unknown port {port!r}; choose one of {', '.join(PORT_PROTOCOLS)}")
    files = _files(name, port)
    existing = [p for p in files if (root / p).exists()]
    if existing and not force:
        raise ValueError(f"{', '.join(existing)} already exist; use --force to overwrite")
    written = []
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    written.append(_register(name, port, root))
    return written
