"""Bookings that have ended move out of the room calendars, into an archive calendar per room and month.

Why (issue 12): Radicale reads a whole calendar for every query of it and for the UID check
on every new event. A room calendar that keeps every booking ever made therefore makes each new
booking cost more as history grows: at 50,000 bookings (~8,300 per room) a booking took 11 times
as long as at 500 (``bench/room_history --events``). The slot markers were bounded the same way
(one calendar per room and day, pruned; :mod:`connectors.caldav.slots`). Now a room calendar
holds the bookings of today and of the days to come. The bookings of days that have ended are
in ``<home><archive prefix><room>-<YYYYMM>/``, one calendar per room and month (the month of the
booking's start, Europe/Oslo), which any CalDAV client can read; a month of one room holds a few
hundred events at most.

Only the hub's own bookings move (they carry ``X-OSLOMET-ROOM``). An event a person put straight
into the room calendar stays where it is, as does anything recurring, floating or all-day. A move
is two requests:

1. ``PUT`` the event into the archive under the same name. This overwrites a copy that an
   interrupted move left behind, so the archive always gets the version being removed.
2. ``DELETE`` it from the room calendar with ``If-Match`` on the ETag it was read with. An event
   changed meanwhile (``412``) stays, and the next prune copies its new version.

A prune moves at most ``archive_batch`` events per room, so a long history moves over several
runs of the rooms batch (one a minute) instead of holding up one.

A booking that has moved is no longer found by its reference (``find_booking``): it has ended,
and a request is only ever booked for a time to come.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar

from connectors.caldav.config import CaldavConfig
from connectors.caldav.dav import calendar_query_body, read_multistatus
from connectors.caldav.events import OSLO, RECURRENCE, ROOM_PROPERTY
from connectors.caldav.slots import SlotMarkers
from hub.http import ApiClient

__all__ = ["BookingArchive", "ended_booking_month"]

ICS = "text/calendar; charset=utf-8"
_HISTORY_YEARS = 30  # how far back a prune looks: every booking the hub can have made


def _single(calendar: Any) -> Any | None:
    events = calendar.walk("VEVENT")
    return events[0] if len(events) == 1 else None


def ended_booking_month(ics: bytes, cut: datetime) -> date | None:
    """The first day of the month (Oslo) of the booking's start if this calendar object is one of
    the hub's bookings that ended at or before ``cut`` and may move; else None. Raises ``ValueError``
    on bad iCalendar."""
    event = _single(Calendar.from_ical(ics))
    if event is None or event.get(ROOM_PROPERTY) is None or any(event.get(n) is not None for n in RECURRENCE):
        return None
    if event.get("dtend") is None:
        return None
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    if not all(isinstance(t, datetime) and t.tzinfo is not None for t in (start, end)) or end > cut:
        return None
    month: date = start.astimezone(OSLO).date().replace(day=1)
    return month


class BookingArchive:
    def __init__(self, api: ApiClient, config: CaldavConfig, slots: SlotMarkers) -> None:
        self.api = api
        self.config = config
        self.slots = slots  # for creating calendars the one way the connector does it

    def collection(self, room_id: str, month: date) -> str:
        return f"{self.config.calendar_home}{self.config.archive_prefix.strip('/')}{room_id.lower()}-{month:%Y%m}/"

    async def archive_ended(self, rooms: list[tuple[str, str, str]], before: datetime) -> int:
        """Move the hub's bookings that ended before the Oslo day of ``before`` began, from each
        room calendar (``(room id, room name, path)``) into its archive; at most
        ``archive_batch`` per room. Returns how many moved."""
        if not self.config.archive_ended:
            return 0
        cut = datetime.combine(before.astimezone(OSLO).date(), datetime.min.time(), OSLO)
        moved = 0
        for room_id, room_name, path in rooms:
            found = await self.api.request("REPORT", path, headers={"Depth": "1"}, content=calendar_query_body(
                cut - timedelta(days=366 * _HISTORY_YEARS), cut))
            todo = 0
            for resource in read_multistatus(found.content, path):
                data, etag = resource.calendar_data, resource.etag
                if resource.status != 200 or not data or not etag:
                    continue
                try:
                    month = ended_booking_month(data, cut)
                except ValueError:
                    continue  # not readable as iCalendar: not the hub's; leave it
                if month is None:
                    continue
                if todo >= self.config.archive_batch:
                    break
                todo += 1
                moved += await self._move(room_id, room_name, resource.href, etag, data, month)
        return moved

    async def _move(self, room_id: str, room_name: str, href: str, etag: str, data: bytes, month: date) -> int:
        archive = self.collection(room_id, month)
        await self.slots.ensure_collection(
            archive, name=f"{room_name}: bookings of {month:%Y-%m} (archive)",
            description=f"The bookings of {room_name} in {month:%B %Y} that have ended, moved here from the "
                        "room's calendar by the hub. Read only.")
        await self.api.request("PUT", f"{archive}{href.rstrip('/').rsplit('/', 1)[-1]}", content=data,
                               headers={"Content-Type": ICS})
        gone = await self.api.request("DELETE", href, headers={"If-Match": etag}, ok={404, 412})
        return int(gone.status_code not in (404, 412))
