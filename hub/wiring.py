"""Environments are wired here, in one place: settings → the adapter behind each port.

Flows ask for ports (``hr``, ``archive``, ``ticketing``, ``mail``, ``inbox``...); which system answers is
configuration (``HUB_TICKETING=rt``). Tests swap implementations by settings, not code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from hub.settings import Settings, get_settings

__all__ = ["Connectors", "connect", "get_ledger", "build", "build_hr", "build_archive", "build_ticketing", "build_mail", "build_forms",
           "build_calendar", "build_inbox"]


@dataclass
class Connectors:
    hr: HrPort
    archive: ArchivePort
    ticketing: TicketingPort
    mail: MailPort
    forms: FormsPort
    calendar: CalendarPort
    inbox: InboxPort

    async def aclose(self) -> None:
        for port in (self.hr, self.archive, self.ticketing, self.mail, self.forms, self.calendar, self.inbox):
            with contextlib.suppress(Exception):
                await port.aclose()


def build(port: str, settings: Settings) -> Any:
    """The adapter configured for ``port`` (``HUB_<PORT>=<name>``), from connectors/registry.py,
    built with the settings field of the same name (``HUB_<NAME>__...``)."""
    from connectors.registry import adapter

    name = str(getattr(settings, port))
    config = getattr(settings, name, None)
    if config is None:
        raise LookupError(f"HUB_{port.upper()}={name}, but the settings have no {name!r} section; "
                          f"add one to hub/settings.py")
    return adapter(port, name).build(config)


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
async def connect(settings: Settings | None = None) -> AsyncIterator[Connectors]:
    settings = settings or get_settings()
    connectors = Connectors(hr=build_hr(settings), archive=build_archive(settings),
                            ticketing=build_ticketing(settings), mail=build_mail(settings),
                            forms=build_forms(settings), calendar=build_calendar(settings),
                            inbox=build_inbox(settings))
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
