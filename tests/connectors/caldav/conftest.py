"""Fixtures: a real Radicale server (subprocess) with the sandbox's room calendars, and
clients for it — the hub's connector, and the independent ``caldav`` library to check what
really is on the server."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import caldav
import httpx
import pytest
from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from hub.settings import OSLO
from sandbox.procs import Proc
from sandbox.radicale import DEFAULT_PASSWORD, DEFAULT_USER, start_radicale

MakeCalendar = Callable[..., CaldavCalendar]
_days = itertools.count(2)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_radicale(tmp_path_factory.mktemp("radicale"), tmp_path_factory.mktemp("radicale-logs"))
    yield proc
    proc.stop()


@pytest.fixture
def make_calendar(radicale: Proc) -> MakeCalendar:
    """``make_calendar(**overrides)`` → a connector on the sandbox (close it with aclose)."""

    def make(**overrides: Any) -> CaldavCalendar:
        settings: dict[str, Any] = {"base_url": radicale.url, "username": DEFAULT_USER,
                                    "password": SecretStr(DEFAULT_PASSWORD), "max_attempts": 3,
                                    "max_retry_seconds": 5.0, "timeout": 5.0}
        settings.update(overrides)
        return CaldavCalendar(CaldavConfig(**settings))

    return make


@pytest.fixture
async def calendar(make_calendar: MakeCalendar) -> Any:
    client = make_calendar()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def dav(radicale: Proc) -> Iterator[caldav.DAVClient]:
    """An independent CalDAV client (the ``caldav`` library) on the same server."""
    with caldav.DAVClient(url=radicale.url, username=DEFAULT_USER, password=DEFAULT_PASSWORD) as client:
        yield client


def room_calendar(dav: caldav.DAVClient, radicale: Proc, room_id: str) -> caldav.Calendar:
    return dav.calendar(url=f"{radicale.url}/{DEFAULT_USER}/{room_id.lower()}/")


def events_between(dav: caldav.DAVClient, radicale: Proc, room_id: str, start: datetime,
                   end: datetime) -> list[Any]:
    """The room's events overlapping [start, end), as the caldav library reads them."""
    return room_calendar(dav, radicale, room_id).search(start=start, end=end, event=True)


@pytest.fixture
def day() -> date:
    """A fresh future day for each test, so tests never share slots."""
    return datetime.now(OSLO).date() + timedelta(days=next(_days))


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime.combine(day, time(int(hours), int(minutes)), OSLO)


ROOT = Path(__file__).resolve().parents[3]


def hub_http() -> httpx.Client:
    """Plain HTTP as the hub's CalDAV account, to look at the server directly."""
    return httpx.Client(auth=(DEFAULT_USER, DEFAULT_PASSWORD))


def collection_items(radicale: Proc, collection: str) -> list[str] | None:
    """Names of the items in a collection (None if it does not exist)."""
    with hub_http() as http:
        found = http.request("PROPFIND", f"{radicale.url}{collection}", headers={"Depth": "1"})
    if found.status_code == 404:
        return None
    assert found.status_code == 207, found.text
    names = [part.split("</", 1)[0] for part in found.text.split("href>")[1::2]]
    return sorted(n.rsplit("/", 1)[-1] for n in names if not n.endswith("/"))
