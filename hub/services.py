"""What a service is to the core: the one declaration the application layer makes per service.

A *service* (onboarding, laptop orders, fritak, group rooms, …) is declared once, in the
application layer above the core (``deployments/catalog.py``): its flows and deployments
with their schedules or triggers, the event kinds it handles, the ports it uses, its global
concurrency limits, and how its work items are started again. The core's machinery reads
that one list and knows no service by name:

- the intake's dispatcher routes events by :meth:`Catalog.event_routes` (several services may
  act on one event kind: each gets its own run);
- replay, re-drive and retries start items again by :meth:`Catalog.rerun_for`;
- the runner serves :meth:`Catalog.deployments` and upserts :meth:`Catalog.limits`;
- a flow run builds only the ports :meth:`Catalog.ports_for` its service uses;
- ``hub doctor`` and ``hub status`` list the services.

A new service is one flow module plus one :class:`Service` in the catalog.

The catalog is found through ``HUB_CATALOG`` (``module:attribute``, default
``deployments.catalog:CATALOG``): the one place the core names the application, as a
setting, the way a runner names a flow by its entrypoint. Tests hand a catalog of their own
to :func:`use_catalog`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ConfigError
from hub.ledger import InboxEvent, WorkItem

__all__ = ["DeploymentSpec", "Limit", "Rerun", "OnEvent", "BURST", "burst_members", "burst_run_name", "Service", "Catalog", "catalog", "use_catalog",
           "PORTS"]

# The ports a service may use (hub/ports/); the connector registry names an adapter for each.
PORTS = ("hr", "archive", "ticketing", "forms", "mail", "calendar", "inbox")


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of a flow: its schedules or triggers, concurrency and tags."""

    flow: Any  # a prefect Flow
    name: str
    description: str
    schedules: tuple[Any, ...] = ()
    concurrency: Any = None  # a prefect ConcurrencyLimitConfig
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    triggers: tuple[Any, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.name}"


@dataclass(frozen=True)
class Limit:
    """A global concurrency limit shared by every run that uses a peer (slots are leases, see
    :mod:`hub.limits`). Named after the port, not the system behind it."""

    name: str
    slots: int
    why: str = ""


@dataclass(frozen=True)
class Rerun:
    """How an item of the service is started again (replay, re-drive, transient retry): a run
    of ``deployment`` per item, with the item's source key as ``key_parameter``; or, with no
    key parameter, one run of the service's batch deployment that picks up pending items."""

    deployment: str  # "<flow name>/<deployment name>"
    key_parameter: str = ""
    key_type: Callable[[str], Any] = str

    @property
    def per_item(self) -> bool:
        return bool(self.key_parameter)

    def parameters(self, item: WorkItem) -> dict[str, Any]:
        return {self.key_parameter: self.key_type(item.source_key)} if self.per_item else {}


# The parameter of one run given several events (a route's ``together``): their own
# parameters, a list in the order received. Never anything but what each event's run would get.
BURST = "burst"


def burst_run_name(prefix: str, what: str, *keys: str) -> Callable[[], str]:
    """A flow's ``flow_run_name``: ``<prefix>-<n>-<what>`` for a run given a burst, else
    ``<prefix>-<the first of its keys given>``."""
    def name() -> str:
        from prefect.runtime import flow_run

        given = flow_run.parameters
        if given.get(BURST):
            return f"{prefix}-{len(given[BURST])}-{what}"
        return f"{prefix}-{next((given[k] for k in keys if given.get(k)), 'unknown')}"

    return name


def burst_members(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters of each event a run was given: its burst's, or its own."""
    members = parameters.get(BURST)
    return list(members) if isinstance(members, list) else [parameters]


@dataclass(frozen=True)
class OnEvent:
    """An inbox event kind the service acts on: which deployment it starts, with which
    parameters (never personal data: ids only). ``at_valid_after``: a future ``gyldigEtter``
    schedules the run for that day (False: the run starts at once and schedules its own work).
    ``every_message``: also started for a new message repeating an event already received (the
    intake records it as an event of its own, see :mod:`hub.intake`): for a service that re-reads
    the source and writes nothing when nothing changed. ``together``: events of this kind that
    reach the dispatcher together (a burst) go to one run per ``together`` of them, given their
    parameters as a list (:data:`BURST`, see :mod:`hub.dispatch`); for a flow that works several
    events, each its own work item, and writes nothing twice when an event reaches it again alone."""

    kind: str
    deployment: str
    parameters: Callable[[InboxEvent], dict[str, Any]]
    at_valid_after: bool = True
    every_message: bool = False
    together: int = 0


@dataclass(frozen=True)
class Service:
    name: str  # the ledger's service name of its items
    title: str
    ports: frozenset[str]
    deployments: tuple[DeploymentSpec, ...]
    rerun: Rerun | None = None
    events: tuple[OnEvent, ...] = ()
    limits: tuple[Limit, ...] = ()
    # Further ledger service names whose items this service works (e.g. cancellations), each
    # started again like the service's own.
    also_items: tuple[str, ...] = ()
    due: Callable[[WorkItem], bool] | None = None  # batch services: is an open item to be worked now
    catch_up: str | None = None  # the deployment that finds work the events missed

    def __post_init__(self) -> None:
        unknown = set(self.ports) - set(PORTS)
        if unknown:
            raise ValueError(f"service {self.name!r} uses unknown ports {sorted(unknown)}; known: {', '.join(PORTS)}")
        names = {d.full_name for d in self.deployments}
        wanted = {r for r in (self.rerun.deployment if self.rerun else None, *(e.deployment for e in self.events))
                  if r}
        missing = wanted - names
        if missing:
            raise ValueError(f"service {self.name!r} starts {sorted(missing)}, which it does not deploy")

    @property
    def item_services(self) -> tuple[str, ...]:
        return (self.name, *self.also_items)


@dataclass(frozen=True)
class Catalog:
    """Every service of the hub, plus the operations deployments that serve all of them."""

    services: tuple[Service, ...]
    # The adapters (connectors/registry.py): name, port, config class, local defaults each.
    adapters: tuple[Any, ...] = ()
    ops: tuple[DeploymentSpec, ...] = ()
    ops_limits: tuple[Limit, ...] = ()
    ignored_events: Mapping[str, str] = field(default_factory=dict)  # kind → why nothing acts on it

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for service in self.services:
            for name in service.item_services:
                if name in seen:
                    raise ValueError(f"items of {name!r} are claimed by both {seen[name]!r} and {service.name!r}")
                seen[name] = service.name
        routes = [(e.kind, e.deployment) for s in self.services for e in s.events]
        if len(routes) != len(set(routes)):
            raise ValueError(f"an event kind is routed twice to one deployment: {sorted(routes)}")
        deployments = [d.full_name for d in self.deployments()]
        if len(deployments) != len(set(deployments)):
            raise ValueError(f"a deployment is declared twice: {sorted(deployments)}")

    def service(self, name: str) -> Service:
        for service in self.services:
            if name in service.item_services:
                return service
        raise LookupError(f"no service {name!r} in the catalog (known: "
                          f"{', '.join(s.name for s in self.services)})")

    def deployments(self) -> tuple[DeploymentSpec, ...]:
        return (*(d for s in self.services for d in s.deployments), *self.ops)

    def event_routes(self) -> dict[str, tuple[OnEvent, ...] | str]:
        """For :class:`hub.dispatch.Dispatcher`: event kind → what it starts (one run per route,
        in the catalog's order: the first keeps the event's plain idempotency key), or why it is
        ignored."""
        found: dict[str, list[OnEvent]] = {}
        for service in self.services:
            for event in service.events:
                found.setdefault(event.kind, []).append(event)
        routes: dict[str, tuple[OnEvent, ...] | str] = {kind: tuple(events) for kind, events in found.items()}
        routes.update({kind: why for kind, why in self.ignored_events.items() if kind not in routes})
        return routes

    def rerun_for(self, item_service: str) -> Rerun | None:
        try:
            return self.service(item_service).rerun
        except LookupError:
            return None

    def reruns(self) -> dict[str, Rerun]:
        """Every ledger service name that can be started again, with how."""
        return {name: s.rerun for s in self.services if s.rerun for name in s.item_services}

    def limits(self, overrides: Mapping[str, int] | None = None) -> dict[str, int]:
        """Every global concurrency limit, with its slots (the runner upserts them); ``overrides``
        (``HUB_LIMITS``) set the slots of declared limits."""
        found: dict[str, int] = {}
        for limit in (*(lim for s in self.services for lim in s.limits), *self.ops_limits):
            if found.setdefault(limit.name, limit.slots) != limit.slots:
                raise ValueError(f"limit {limit.name!r} is declared with {found[limit.name]} and {limit.slots} slots")
        for name, slots in (overrides or {}).items():
            if name not in found:
                raise ConfigError(f"HUB_LIMITS names the limit {name!r}, which no service declares",
                                  hint=f"Use one of {', '.join(sorted(found))}, or remove it from HUB_LIMITS.")
            found[name] = slots
        return found

    def adapter(self, port: str, name: str) -> Any:
        """The adapter ``name`` for ``port`` (``HUB_<PORT>=<name>``)."""
        for candidate in self.adapters:
            if candidate.port == port and candidate.name == name:
                return candidate
        known = ", ".join(a.name for a in self.adapters if a.port == port) or "none"
        raise LookupError(f"no {port} adapter named {name!r} is registered (known: {known}); "
                          "add it to connectors/registry.py")

    def adapter_named(self, name: str) -> Any:
        for candidate in self.adapters:
            if candidate.name == name:
                return candidate
        raise LookupError(f"no adapter named {name!r} is registered; add it to connectors/registry.py")

    def ports_for(self, item_service: str) -> frozenset[str]:
        return self.service(item_service).ports


_installed: list[Catalog] = []


def catalog() -> Catalog:
    """The application's catalog: the one in use (:func:`use_catalog`), else ``HUB_CATALOG``."""
    if _installed:
        return _installed[-1]
    where = os.environ.get("HUB_CATALOG") or "deployments.catalog:CATALOG"
    module, _, attribute = where.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute or "CATALOG")
    except (ImportError, AttributeError) as exc:
        raise LookupError(f"HUB_CATALOG={where}: no catalog there ({exc}); it names the module and "
                          "attribute holding the hub's services, e.g. deployments.catalog:CATALOG") from exc
    if not isinstance(found, Catalog):
        raise LookupError(f"HUB_CATALOG={where} is a {type(found).__name__}, not a hub.services.Catalog")
    _installed.append(found)
    return found


@contextmanager
def use_catalog(chosen: Catalog) -> Iterator[Catalog]:
    """Use ``chosen`` as the catalog inside the block (tests, a toy service)."""
    _installed.append(chosen)
    try:
        yield chosen
    finally:
        _installed.remove(chosen)
