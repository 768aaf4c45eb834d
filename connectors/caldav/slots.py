"""Slot markers: the resources that make a double booking impossible.

For every ``slot_minutes`` slot a booking covers, the hub creates one small calendar object
in its own collection (``<home>/room-slots/``), named by room and slot start in UTC::

    /hub/room-slots/p35-u101-20261127T0900Z.ics   (X-OSLOMET-BOOKING: <booking UID>)

with ``PUT`` and ``If-None-Match: *``. The server checks "does it exist?" and creates it
in one step under its storage lock (RFC 7232 §3.2; Radicale holds a write lock across the
check and the write), so of two writers — two tasks, two processes, two hosts — exactly one
gets ``201`` and the other ``412 Precondition Failed``. Holding every marker of a range *is*
owning the range: see :mod:`connectors.caldav.client` for how a booking uses them.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.caldav.config import CaldavConfig
from connectors.caldav.dav import GARBLED, DavResource, mkcalendar_body, multiget_body, parse_multistatus
from connectors.caldav.events import OSLO, marker_ics, parse_marker
from hub.errors import Conflict, MalformedResponse, PermanentError
from hub.http import ApiClient

__all__ = ["HeldSlot", "SlotMarkers", "slot_starts"]

SYSTEM = "caldav"
ICS = "text/calendar; charset=utf-8"
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class HeldSlot:
    href: str
    etag: str


@dataclass(frozen=True)
class _Holder:
    booking_uid: str | None
    etag: str
    age_seconds: float


def slot_starts(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    """Start of every slot overlapping [start, end), in UTC, aligned to ``minutes``."""
    step = timedelta(minutes=minutes)
    first = start.astimezone(UTC)
    first = first - timedelta(minutes=first.minute % minutes, seconds=first.second,
                              microseconds=first.microsecond)
    starts, moment = [], first
    while moment < end.astimezone(UTC):
        starts.append(moment)
        moment += step
    return starts


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date as an aware time, or None.

    HTTP dates are always GMT (RFC 9110 §5.6.7), but ``email.utils`` answers a *naive* time
    for ``-0000``, for a date without a zone and for two headers folded into one (``a, b``):
    read those as UTC, so the result can always be compared with an aware time.
    """
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


class SlotMarkers:
    """Create, check and remove the slot markers of bookings."""

    def __init__(self, api: ApiClient, config: CaldavConfig, clock: Callable[[], datetime]) -> None:
        self.api = api
        self.config = config
        self.clock = clock
        self.collection = f"{config.calendar_home}{config.slots_collection.strip('/')}/"
        self._collection_ready = False
        self._creating = asyncio.Lock()

    def href(self, room_id: str, slot_start: datetime) -> str:
        return f"{self.collection}{room_id.lower()}-{slot_start.astimezone(UTC):%Y%m%dT%H%MZ}.ics"

    async def ensure_collection(self) -> None:
        """Create the markers' calendar the first time (``MKCALENDAR``; 405 = it exists). Two
        first bookings at once (two flow runs, or one batch booking side by side) both find it
        missing: the slower create answers 409 ``resource-must-be-null`` (RFC 4791 §5.3.1.2),
        which is the collection existing, not a room being taken."""
        if self._collection_ready:
            return
        async with self._creating:  # one create per client at a time
            if self._collection_ready:
                return
            found = await self.api.request("PROPFIND", self.collection, headers={"Depth": "0"}, ok={404})
            if found.status_code == 404:
                made = await self.api.request("MKCALENDAR", self.collection, ok={405, 409}, content=mkcalendar_body(
                    "Group rooms: slot markers (hub internal)",
                    "One marker per room and slot held by a booking. Not a room; do not edit."),
                    headers={"Content-Type": "application/xml; charset=utf-8"})
                if made.status_code == 409:  # created by someone else meanwhile, or a real conflict
                    again = await self.api.request("PROPFIND", self.collection, headers={"Depth": "0"}, ok={404})
                    if again.status_code == 404:
                        raise PermanentError(f"cannot create the slot-marker calendar {self.collection} "
                                             f"(MKCALENDAR answered 409)", system=SYSTEM, status=409,
                                             hint="Check that the calendar home exists and the hub may create "
                                                  "calendars in it (HUB_CALDAV__CALENDAR_HOME).")
            self._collection_ready = True

    async def acquire(self, room_id: str, start: datetime, end: datetime, booking_uid: str, *,
                      booking_exists: Callable[[str], Awaitable[bool]]) -> list[HeldSlot]:
        """Hold every slot of [start, end) in the room, in time order, or hold none and raise
        ``Conflict`` naming the first slot another booking holds."""
        await self.ensure_collection()
        held: list[HeldSlot] = []
        minutes = self.config.slot_minutes
        try:
            for slot in slot_starts(start, end, minutes):
                held.append(await self._acquire_one(room_id, slot, slot + timedelta(minutes=minutes),
                                                    booking_uid, booking_exists))
        except BaseException:
            await self.release(held)
            raise
        return held

    async def _acquire_one(self, room_id: str, slot: datetime, slot_end: datetime, booking_uid: str,
                           booking_exists: Callable[[str], Awaitable[bool]]) -> HeldSlot:
        href = self.href(room_id, slot)
        body = marker_ics(room_id=room_id, slot_start=slot, slot_end=slot_end, booking_uid=booking_uid,
                          now=self.clock())
        deadline = time.monotonic() + self.config.slot_wait_seconds
        while True:
            created = await self.api.request("PUT", href, content=body, ok={412},
                                             headers={"If-None-Match": "*", "Content-Type": ICS})
            if created.status_code < 300:
                return HeldSlot(href, created.headers.get("ETag", ""))
            holder = await self._holder(href)
            if holder is None and time.monotonic() <= deadline:
                continue  # let go of meanwhile: try again
            if holder is None:
                break
            if holder.booking_uid == booking_uid:
                return HeldSlot(href, holder.etag)  # ours, from an earlier attempt of this booking
            if holder.booking_uid is not None and await booking_exists(holder.booking_uid):
                break  # booked
            if holder.age_seconds > self.config.stale_slot_seconds:
                # Left over by an attempt that crashed before writing its event: take it over,
                # but only if nobody changed it since we looked (If-Match).
                await self.api.request("DELETE", href, headers={"If-Match": holder.etag}, ok={404, 412})
                if time.monotonic() <= deadline:
                    continue
            if time.monotonic() > deadline:
                break
            # A booking in progress holds it: wait until it is written (taken) or let go (free).
            await asyncio.sleep(POLL_SECONDS)
        raise Conflict(f"room {room_id} is already booked at {slot.astimezone(OSLO):%Y-%m-%d %H:%M}",
                       system=SYSTEM, status=412, hint="Choose another room or time.")

    async def _holder(self, href: str) -> _Holder | None:
        response = await self.api.request("GET", href, ok={404})
        if response.status_code == 404:
            return None
        try:
            booking_uid = parse_marker(response.content)
        except ValueError as exc:
            raise MalformedResponse(f"slot marker {href} is not valid iCalendar: {exc}", system=SYSTEM,
                                    hint=GARBLED) from None
        modified = _http_date(response.headers.get("Last-Modified"))
        now = _http_date(response.headers.get("Date")) or datetime.now(UTC)  # the server's clock
        age = (now - modified).total_seconds() if modified else 0.0
        return _Holder(booking_uid, response.headers.get("ETag", ""), age)

    async def still_held(self, held: list[HeldSlot]) -> bool:
        """True if every marker is unchanged since we created it (one multiget REPORT)."""
        if not held:
            return True
        response = await self.api.request("REPORT", self.collection, headers={"Depth": "1"},
                                          content=multiget_body([h.href for h in held], with_data=False))
        etags = {r.href: r.etag for r in _parse(response.content, self.collection)}
        return all(etags.get(h.href) == h.etag for h in held)

    async def release(self, held: list[HeldSlot]) -> None:
        """Delete markers we hold; one somebody else has changed since is left alone."""
        for slot in held:
            await self.api.request("DELETE", slot.href, headers={"If-Match": slot.etag}, ok={404, 412})

    async def release_booking(self, room_id: str, start: datetime, end: datetime, booking_uid: str) -> int:
        """Delete the markers of [start, end) that name ``booking_uid``; return how many."""
        await self.ensure_collection()
        hrefs = [self.href(room_id, s) for s in slot_starts(start, end, self.config.slot_minutes)]
        if not hrefs:
            return 0
        response = await self.api.request("REPORT", self.collection, headers={"Depth": "1"},
                                          content=multiget_body(hrefs))
        mine = []
        for resource in _parse(response.content, self.collection):
            data = resource.calendar_data
            if resource.status == 200 and data and resource.etag and parse_marker(data) == booking_uid:
                mine.append(HeldSlot(resource.href, resource.etag))
        await self.release(mine)
        return len(mine)


def _parse(body: bytes, where: str) -> list[DavResource]:
    try:
        return parse_multistatus(body)
    except Exception as exc:  # xml.etree.ElementTree.ParseError
        raise MalformedResponse(f"REPORT on {where} did not answer WebDAV XML: {exc}", system=SYSTEM,
                                hint=GARBLED) from None
