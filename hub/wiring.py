"""Environments are wired here, in one place: settings → the adapter behind each port.

Flows ask for ports (``hr``, ``archive``, ``ticketing``, ``mail``, ``inbox``...); which system answers is
configuration (``HUB_TICKETING=rt``). Tests swap implementations by settings, not code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from hub.ledger import Ledger
from hub.ports.archive import ArchivePort
from hub.ports.calendar import CalendarPort
from hub.ports.forms import FormsPort
from hub.ports.hr import HrPort
from hub.ports.inbox import InboxPort
from hub.ports.mail import MailPort
from hub.ports.ticketing import TicketingPort
from hub.services import PORTS
from hub.settings import Settings, get_settings

__all__ = ["Connectors", "connect", "step_ports", "get_ledger", "build", "build_hr", "build_archive", "build_ticketing", "build_mail", "build_forms",
           "build_calendar", "build_inbox"]


# The step running now and the ports it declared (``@step_task(..., ports=...)``); None
# outside a step, where the service's own declaration is the only bound.
_STEP_PORTS: ContextVar[tuple[str, frozenset[str]] | None] = ContextVar("hub_step_ports", default=None)


@contextlib.contextmanager
def step_ports(step: str, ports: Iterable[str]) -> Iterator[None]:
    """Within the block, :class:`Connectors` hands out only ``ports``: a step uses the ports it
    declares, and one that reaches for another is refused, with the fix in the message."""
    used = frozenset(ports)
    if unknown := used - set(PORTS):
        raise ValueError(f"step {step!r} declares unknown port(s) {sorted(unknown)}; ports are {sorted(PORTS)}")
    token = _STEP_PORTS.set((step, used))
    try:
        yield
    finally:
        _STEP_PORTS.reset(token)


class Connectors:
    """The ports one service uses, each adapter built the first time a step asks for it.

    A port the service does not declare (:class:`hub.services.Service.ports`) is refused, and
    one it declares but never touches in a run is never built: a missing RT token stops the
    services that use ticketing, not fritak or rooms. Inside a step (:func:`step_ports`), only
    the ports that step declares are handed out.
    """

    def __init__(self, settings: Settings, ports: Iterable[str] | None = None, *, service: str | None = None) -> None:
        self._settings = settings
        self._allowed = frozenset(PORTS if ports is None else ports)
        self._service = service
        self._built: dict[str, Any] = {}

    def _port(self, name: str) -> Any:
        if name not in self._allowed:
            raise LookupError(f"the {self._service or 'this'} service does not declare the {name} port; add "
                              f"{name!r} to its ports in the catalog (deployments/catalog.py)")
        step = _STEP_PORTS.get()
        if step is not None and name not in step[1]:
            raise LookupError(f"the step {step[0]!r} does not declare the {name} port; add {name!r} to its "
                              f"@step_task(..., ports=...)")
        if name not in self._built:
            self._built[name] = build(name, self._settings)
        return self._built[name]

    @property
    def built(self) -> tuple[str, ...]:
        return tuple(self._built)

    @property
    def hr(self) -> HrPort:
        return self._port("hr")  # type: ignore[no-any-return]

    @property
    def archive(self) -> ArchivePort:
        return self._port("archive")  # type: ignore[no-any-return]

    @property
    def ticketing(self) -> TicketingPort:
        return self._port("ticketing")  # type: ignore[no-any-return]

    @property
    def mail(self) -> MailPort:
        return self._port("mail")  # type: ignore[no-any-return]

    @property
    def forms(self) -> FormsPort:
        return self._port("forms")  # type: ignore[no-any-return]

    @property
    def calendar(self) -> CalendarPort:
        return self._port("calendar")  # type: ignore[no-any-return]

    @property
    def inbox(self) -> InboxPort:
        return self._port("inbox")  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        built, self._built = list(self._built.values()), {}
        for port in built:
            with contextlib.suppress(Exception):
                await port.aclose()


def build(port: str, settings: Settings) -> Any:
    """The adapter configured for ``port`` (``HUB_<PORT>=<name>``, from the registry the catalog
    carries), built with its section of the settings (``HUB_<NAME>__...``)."""
    from hub.services import catalog

    name = str(getattr(settings, port))
    return catalog().adapter(port, name).build(settings.adapter_config(name))


def build_hr(settings: Settings) -> HrPort:
    return build("hr", settings)  # type: ignore[no-any-return]


def build_archive(settings: Settings) -> ArchivePort:
    return build("archive", settings)  # type: ignore[no-any-return]


def build_ticketing(settings: Settings) -> TicketingPort:
    return build("ticketing", settings)  # type: ignore[no-any-return]


def build_mail(settings: Settings) -> MailPort:
    return build("mail", settings)  # type: ignore[no-any-return]


def build_forms(settings: Settings) -> FormsPort:
    return build("forms", settings)  # type: ignore[no-any-return]


def build_calendar(settings: Settings) -> CalendarPort:
    return build("calendar", settings)  # type: ignore[no-any-return]


def build_inbox(settings: Settings) -> InboxPort:
    return build("inbox", settings)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def connect(settings: Settings | None = None, *, service: str | None = None) -> AsyncIterator[Connectors]:
    """The ports of ``service`` (those its catalog entry declares), or every port (ops flows
    that check them all); each built on first use and closed at the end."""
    ports = None
    if service is not None:
        from hub.services import catalog

        ports = catalog().ports_for(service)
    connectors = Connectors(settings or get_settings(), ports, service=service)
    try:
        yield connectors
    finally:
        await connectors.aclose()


@lru_cache(maxsize=4)
def _ledger(url: str, migrate: bool) -> Ledger:
    return Ledger(url, migrate=migrate)


def get_ledger(settings: Settings | None = None, *, migrate: bool = False) -> Ledger:
    """The process's ledger. Migrating is done once by whoever starts the hub (the stack, the
    runner, ``hub migrate``), not by every flow run: Alembic costs ~0.3 s per process."""
    return _ledger((settings or get_settings()).ledger, migrate)
