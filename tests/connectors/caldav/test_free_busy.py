"""``CaldavCalendar.busy`` works free/busy out from a ``calendar-query`` and must answer exactly
what the server's own ``free-busy-query`` answers: checked on a real Radicale, against that
server's free/busy, for events of every kind a person or another client puts in a room
calendar and for many ranges cutting them anywhere."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from sandbox.procs import Proc
from sandbox.radicale import DEFAULT_PASSWORD, DEFAULT_USER
from tests.connectors.caldav.conftest import at

ROOM = "P52-A301"


def _vevent(uid: str, start: str, end: str | None = None, *, extra: str = "", duration: str | None = None) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20260101T000000Z", start]
    if end:
        lines.append(end)
    if duration:
        lines.append(f"DURATION:{duration}")
    lines += [line for line in extra.split("|") if line]
    return "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"


def _oslo(day: date, hhmm: str) -> str:
    return f"TZID=Europe/Oslo:{day:%Y%m%d}T{hhmm.replace(':', '')}00"


def _utc(day: date, hhmm: str) -> str:
    moment = at(day, hhmm).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}Z"


def _events(day: date) -> dict[str, str]:
    """One event per kind: how each must count is free/busy's rule (RFC 4791 §7.10)."""
    return {
        "opaque": _vevent("fb-opaque", f"DTSTART;{_oslo(day, '08:00')}", f"DTEND;{_oslo(day, '09:00')}",
                          extra="TRANSP:OPAQUE|STATUS:CONFIRMED"),
        "adjacent": _vevent("fb-adjacent", f"DTSTART;{_oslo(day, '09:00')}", f"DTEND;{_oslo(day, '09:45')}"),
        "overlapping-utc": _vevent("fb-utc", f"DTSTART:{_utc(day, '09:30')}", f"DTEND:{_utc(day, '10:15')}"),
        "transparent": _vevent("fb-transparent", f"DTSTART;{_oslo(day, '11:00')}", f"DTEND;{_oslo(day, '12:00')}",
                               extra="TRANSP:TRANSPARENT"),
        "cancelled": _vevent("fb-cancelled", f"DTSTART;{_oslo(day, '12:00')}", f"DTEND;{_oslo(day, '13:00')}",
                             extra="STATUS:CANCELLED"),
        "tentative": _vevent("fb-tentative", f"DTSTART;{_oslo(day, '12:30')}", f"DTEND;{_oslo(day, '14:00')}",
                             extra="STATUS:TENTATIVE"),
        "tentative-next-to-busy": _vevent("fb-busy-after-tentative", f"DTSTART;{_oslo(day, '14:00')}",
                                          f"DTEND;{_oslo(day, '15:00')}"),
        "duration": _vevent("fb-duration", f"DTSTART;{_oslo(day, '15:30')}", duration="PT1H15M"),
        "overnight": _vevent("fb-overnight", f"DTSTART;{_oslo(day, '22:00')}",
                             f"DTEND;{_oslo(day + timedelta(days=1), '07:30')}"),
    }


def _put(radicale: Proc, name: str, vevent: str) -> None:
    body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//free-busy//EN\r\n" + vevent
            + "END:VCALENDAR\r\n")
    response = httpx.put(f"{radicale.url}/{DEFAULT_USER}/{ROOM.lower()}/{name}.ics", content=body,
                         auth=(DEFAULT_USER, DEFAULT_PASSWORD), headers={"Content-Type": "text/calendar"})
    assert response.status_code in (201, 204), response.text  # created, or replaced


class _Counting(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.free_busy_queries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "REPORT" and b"free-busy-query" in request.content:
            self.free_busy_queries += 1
        return await super().handle_async_request(request)


def _calendar(radicale: Proc, transport: httpx.AsyncBaseTransport) -> CaldavCalendar:
    return CaldavCalendar(CaldavConfig(base_url=radicale.url or "", username=DEFAULT_USER,
                                       password=SecretStr(DEFAULT_PASSWORD), timeout=10.0), transport=transport)


async def _both(calendar: CaldavCalendar, start: datetime, end: datetime) -> tuple[Any, Any]:
    ours = await calendar.busy(ROOM, start, end)
    room = await calendar._calendar(ROOM)
    return ours, await calendar._free_busy(room, start, end)


async def test_busy_from_the_events_is_the_server_s_free_busy_for_every_range(radicale: Proc, day: date) -> None:
    for name, vevent in _events(day).items():
        _put(radicale, f"{name}-{day:%Y%m%d}", vevent)
    transport = _Counting()
    calendar = _calendar(radicale, transport)
    try:
        ours, servers = await _both(calendar, at(day, "07:00"), at(day + timedelta(days=1), "09:00"))
        assert ours == servers == [
            (at(day, "08:00"), at(day, "10:15")),  # opaque + adjacent + overlapping UTC: merged
            (at(day, "12:30"), at(day, "14:00")),  # tentative (BUSY-TENTATIVE): not merged with...
            (at(day, "14:00"), at(day, "15:00")),  # ...the busy hour right after it
            (at(day, "15:30"), at(day, "16:45")),  # DURATION
            (at(day, "22:00"), at(day + timedelta(days=1), "07:30")),  # overnight
        ]  # transparent and cancelled events are not busy
        pick = random.Random(day.toordinal())
        grid = [at(day, "06:00") + timedelta(minutes=5 * i) for i in range(12 * 28)]
        for _ in range(60):
            start, end = sorted(pick.sample(grid, 2))
            start += timedelta(seconds=pick.choice([0, 0, 17]), microseconds=pick.choice([0, 250_000]))
            ours, servers = await _both(calendar, start, end)
            assert ours == servers, (start, end)
        assert transport.free_busy_queries == 61  # only the server's own answers above: busy never asked it
        # An event moved (a new version, a new ETag) is read again, not taken from what was parsed.
        _put(radicale, f"opaque-{day:%Y%m%d}", _events(day)["opaque"].replace("T0800", "T0600").replace("T0900", "T0630"))
        ours, servers = await _both(calendar, at(day, "05:00"), at(day, "11:00"))
        assert ours == servers == [(at(day, "06:00"), at(day, "06:30")), (at(day, "09:00"), at(day, "10:15"))]
    finally:
        await calendar.aclose()


async def test_a_recurring_floating_all_day_or_endless_event_is_left_to_the_server(radicale: Proc, day: date) -> None:
    days = [day + timedelta(days=30 * n) for n in range(1, 5)]  # one event each, apart
    others = {
        "weekly": _vevent("fb-weekly", f"DTSTART;{_oslo(days[0], '10:00')}", f"DTEND;{_oslo(days[0], '11:00')}",
                          extra="RRULE:FREQ=WEEKLY;COUNT=3"),
        "floating": _vevent("fb-floating", f"DTSTART:{days[1]:%Y%m%d}T130000", f"DTEND:{days[1]:%Y%m%d}T140000"),
        "all-day": _vevent("fb-all-day", f"DTSTART;VALUE=DATE:{days[2]:%Y%m%d}",
                           f"DTEND;VALUE=DATE:{days[2] + timedelta(days=1):%Y%m%d}"),
        "no-end": _vevent("fb-no-end", f"DTSTART;{_oslo(days[3], '17:00')}"),  # Radicale: busy for a second
    }
    for name, vevent in others.items():
        _put(radicale, f"{name}-{day:%Y%m%d}", vevent)
    transport = _Counting()
    calendar = _calendar(radicale, transport)
    try:
        for first in days:
            ours, servers = await _both(calendar, at(first, "00:00"), at(first + timedelta(days=8), "00:00"))
            assert ours == servers and ours, first
        assert transport.free_busy_queries == 8  # busy asked the server each time (and _both did)
        weekly = await calendar.busy(ROOM, at(days[0], "08:00"), at(days[0] + timedelta(days=8), "20:00"))
        assert weekly == [(at(days[0], "10:00"), at(days[0], "11:00")),
                          (at(days[0] + timedelta(days=7), "10:00"), at(days[0] + timedelta(days=7), "11:00"))]
    finally:
        await calendar.aclose()
