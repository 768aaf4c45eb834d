"""Environments are wired here, in one place: settings → the adapter behind each port.

Flows ask for ports (``hr``, ``archive``, ``ticketing``, ``mail``); which system answers is
configuration (``HUB_TICKETING=rt``). Tests swap implementations by settings, not code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache

from hub.ledger import Ledger
from hub.ports.archive import ArchivePort
from hub.ports.calendar import CalendarPort
from hub.ports.forms import FormsPort
from hub.ports.hr import HrPort
from hub.ports.mail import MailPort
from hub.ports.ticketing import TicketingPort
from hub.settings import Settings, get_settings

__all__ = ["Connectors", "connect", "get_ledger", "build_hr", "build_archive", "build_ticketing", "build_mail", "build_forms",
           "build_calendar"]


@dataclass
class Connectors:
    hr: HrPort
    archive: ArchivePort
    ticketing: TicketingPort
    mail: MailPort
    forms: FormsPort
    calendar: CalendarPort

    async def aclose(self) -> None:
        for port in (self.hr, self.archive, self.ticketing, self.mail, self.forms, self.calendar):
            with contextlib.suppress(Exception):
                await port.aclose()


def build_hr(settings: Settings) -> HrPort:
    from connectors.dfo.client import DfoHr

    return DfoHr(settings.dfo)


def build_archive(settings: Settings) -> ArchivePort:
    from connectors.n5ws.client import N5wsArchive

    return N5wsArchive(settings.n5ws)


def build_ticketing(settings: Settings) -> TicketingPort:
    from connectors.rt.client import RtTicketing

    return RtTicketing(settings.rt)


def build_mail(settings: Settings) -> MailPort:
    from connectors.smtp.client import SmtpMail

    return SmtpMail(settings.smtp)


def build_forms(settings: Settings) -> FormsPort:
    from connectors.nettskjema.client import NettskjemaForms

    return NettskjemaForms(settings.nettskjema)


def build_calendar(settings: Settings) -> CalendarPort:
    from connectors.caldav.client import CaldavCalendar

    return CaldavCalendar(settings.caldav)


@contextlib.asynccontextmanager
async def connect(settings: Settings | None = None) -> AsyncIterator[Connectors]:
    settings = settings or get_settings()
    connectors = Connectors(hr=build_hr(settings), archive=build_archive(settings),
                            ticketing=build_ticketing(settings), mail=build_mail(settings),
                            forms=build_forms(settings), calendar=build_calendar(settings))
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
