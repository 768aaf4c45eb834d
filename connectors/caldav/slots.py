"""Slot markers: the resources that make a double booking impossible.

For every ``slot_minutes`` slot a booking covers, the hub creates one small calendar object,
named by room and slot start in UTC, in a small collection of its own per room and day (the
day of the slot's start in Europe/Oslo), created on first use::

    /hub/room-slots-p35-u101-20261127/p35-u101-20261127T0900Z.ics   (X-OSLOMET-BOOKING: <UID>)

with ``PUT`` and ``If-None-Match: *``. The server checks "does it exist?" and creates it
in one step under its storage lock (RFC 7232 §3.2; Radicale holds a write lock across the
check and the write), so of two writers — two tasks, two processes, two hosts — exactly one
gets ``201`` and the other ``412 Precondition Failed``. Holding every marker of a range *is*
owning the range: see :mod:`connectors.caldav.client` for how a booking uses them.

Why per room and day (issue 12): Radicale reads every item of a collection on each new
item (its UID check), so one shared collection made every booking cost
``~0.7 ms × markers ever written``. A room-day collection holds at most a day of one room's
slots, and :meth:`SlotMarkers.prune` deletes the collections of days that have ended, so a
booking costs the same after 50,000 bookings as after 500.

The old layout (before issue 12) kept every marker in one calendar, ``<home>/room-slots/``
(``slots_collection``). Nothing writes there any more, but its markers of future slots still
hold their slots: while it exists, a booking also reads the old markers of its slots (one
multiget by name, so it does not scan) after holding the new ones, and refuses a slot whose
old marker names another booking that exists; cancelling removes old markers too. ``prune``
deletes the old calendar as a whole once none of its markers is for a slot that has not
ended yet — that is the cut-over, with no migration step and no date to configure. (Old and
new hub versions must not book side by side: stop the old workers before the new ones start.)
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time

from connectors.caldav.config import CaldavConfig
from connectors.caldav.dav import (
    DAV,
    GARBLED,
    DavResource,
    calendar_query_body,
    mkcalendar_body,
    multiget_body,
    propfind_body,
    read_multistatus,
)
from connectors.caldav.events import OSLO, marker_ics, parse_marker
from hub.errors import Conflict, MalformedResponse, PermanentError
from hub.http import ApiClient

__all__ = ["HeldSlot", "SlotMarkers", "slot_starts"]

SYSTEM = "caldav"
ICS = "text/calendar; charset=utf-8"
XML = "application/xml; charset=utf-8"
POLL_SECONDS = 0.05
_DAY_COLLECTION = re.compile(r"(?P<room>[a-z0-9._@+-]+)-(?P<day>\d{8})")


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


def _collection_of(href: str) -> str:
    return href.rsplit("/", 1)[0] + "/"


def _day_end(day: date) -> datetime:
    """When the last slot of an Oslo day ends: the next midnight in Oslo."""
    return datetime.combine(day + timedelta(days=1), day_time(0), OSLO)


class SlotMarkers:
    """Create, check, remove and prune the slot markers of bookings."""

    def __init__(self, api: ApiClient, config: CaldavConfig, clock: Callable[[], datetime]) -> None:
        self.api = api
        self.config = config
        self.clock = clock
        self.home = config.calendar_home
        self.prefix = config.slot_collection_prefix.strip("/")
        self.legacy = f"{config.calendar_home}{config.slots_collection.strip('/')}/"
        self._ready: set[str] = set()  # collections known to exist (per client)
        self._creating = asyncio.Lock()
        self._legacy_gone = False  # nothing recreates the old collection: once gone, gone for good

    # ---- names -----------------------------------------------------------------------------

    def collection(self, room_id: str, slot_start: datetime) -> str:
        """The room-day collection that holds the marker of this slot (Oslo day of its start)."""
        return f"{self.home}{self.prefix}{room_id.lower()}-{slot_start.astimezone(OSLO):%Y%m%d}/"

    @staticmethod
    def _name(room_id: str, slot_start: datetime) -> str:
        return f"{room_id.lower()}-{slot_start.astimezone(UTC):%Y%m%dT%H%MZ}.ics"

    def href(self, room_id: str, slot_start: datetime) -> str:
        return f"{self.collection(room_id, slot_start)}{self._name(room_id, slot_start)}"

    def legacy_href(self, room_id: str, slot_start: datetime) -> str:
        """Where the old single-collection layout kept this slot's marker."""
        return f"{self.legacy}{self._name(room_id, slot_start)}"

    # ---- collections -------------------------------------------------------------------------

    async def ensure_collection(self, path: str, *,
                                name: str = "Group rooms: slot markers of one room and day (hub internal)",
                                description: str = "One marker per slot held by a booking. Not a room; do not "
                                                   "edit. Deleted by the hub once the day has ended.") -> None:
        """Create a room-day marker calendar (or another calendar of the hub's, named and
        described so) the first time (``MKCALENDAR``). Two first bookings
        of a room-day at once (two flow runs, or one batch booking side by side) both find it
        missing: the slower create answers 409 ``resource-must-be-null`` (RFC 4791 §5.3.1.2),
        which is the collection existing, not a room being taken — a second ``PROPFIND`` tells
        that apart from a real failure."""
        if path in self._ready:
            return
        async with self._creating:  # one create per client at a time
            if path in self._ready:
                return
            found = await self.api.request("PROPFIND", path, headers={"Depth": "0"}, ok={404})
            if found.status_code == 404:
                made = await self.api.request("MKCALENDAR", path, ok={405, 409},
                                              content=mkcalendar_body(name, description),
                                              headers={"Content-Type": XML})
                if made.status_code in (405, 409):  # created by someone else meanwhile, or a real conflict
                    again = await self.api.request("PROPFIND", path, headers={"Depth": "0"}, ok={404})
                    if again.status_code == 404:
                        raise PermanentError(f"cannot create the calendar {path} "
                                             f"(MKCALENDAR answered {made.status_code})", system=SYSTEM, status=made.status_code,
                                             hint="Check that the calendar home exists and the hub may create "
                                                  "calendars in it (HUB_CALDAV__CALENDAR_HOME).")
            self._ready.add(path)

    # ---- holding slots ---------------------------------------------------------------------------

    async def acquire(self, room_id: str, start: datetime, end: datetime, booking_uid: str, *,
                      booking_exists: Callable[[str], Awaitable[bool]]) -> list[HeldSlot]:
        """Hold every slot of [start, end) in the room, in time order, or hold none and raise
        ``Conflict`` naming the first slot another booking holds (also by an old-layout marker)."""
        held: list[HeldSlot] = []
        minutes = self.config.slot_minutes
        slots = slot_starts(start, end, minutes)
        try:
            for slot in slots:
                held.append(await self._acquire_one(room_id, slot, slot + timedelta(minutes=minutes),
                                                    booking_uid, booking_exists))
            await self._check_legacy(room_id, slots, booking_uid, booking_exists)
        except BaseException:
            await self.release(held)
            raise
        return held

    async def _acquire_one(self, room_id: str, slot: datetime, slot_end: datetime, booking_uid: str,
                           booking_exists: Callable[[str], Awaitable[bool]]) -> HeldSlot:
        collection = self.collection(room_id, slot)
        await self.ensure_collection(collection)
        href = self.href(room_id, slot)
        body = marker_ics(room_id=room_id, slot_start=slot, slot_end=slot_end, booking_uid=booking_uid,
                          now=self.clock())
        deadline = time.monotonic() + self.config.slot_wait_seconds
        recreated = False
        while True:
            created = await self.api.request("PUT", href, content=body, ok={409, 412},
                                             headers={"If-None-Match": "*", "Content-Type": ICS})
            if created.status_code == 409 and not recreated:
                # The collection went away under us (pruned, as a day that ended): make it again.
                recreated = True
                self._ready.discard(collection)
                await self.ensure_collection(collection)
                continue
            if created.status_code == 409:
                raise PermanentError(f"cannot create slot marker {href} (PUT answered 409)", system=SYSTEM,
                                     status=409, hint="Check the slot-marker collections on the calendar server.")
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
        raise _taken(room_id, slot)

    async def _check_legacy(self, room_id: str, slots: list[datetime], booking_uid: str,
                            booking_exists: Callable[[str], Awaitable[bool]]) -> None:
        """Refuse a slot an old-layout marker holds for another booking that exists. A marker
        whose booking does not exist is left over by a crash (or an old cancel cut short):
        nothing writes old markers any more, so no booking can be in progress behind it."""
        holders: dict[str, str | None] = {}
        for resource in await self._legacy_markers(room_id, slots):
            try:
                holders[resource.href] = parse_marker(resource.calendar_data or b"")
            except ValueError as exc:
                raise MalformedResponse(f"old slot marker {resource.href} is not valid iCalendar: {exc}",
                                        system=SYSTEM, hint=GARBLED) from None
        exists: dict[str, bool] = {}
        for slot in slots:  # in time order, so the Conflict names the first slot taken
            holder = holders.get(self.legacy_href(room_id, slot))
            if holder is None or holder == booking_uid:
                continue
            if holder not in exists:
                exists[holder] = await booking_exists(holder)
            if exists[holder]:
                raise _taken(room_id, slot)

    async def _legacy_markers(self, room_id: str, slots: list[datetime]) -> list[DavResource]:
        """The old-layout markers of these slots (one multiget by name; none once it is gone)."""
        if self._legacy_gone or not slots:
            return []
        response = await self.api.request("REPORT", self.legacy, headers={"Depth": "1"}, ok={404},
                                          content=multiget_body([self.legacy_href(room_id, s) for s in slots]))
        if response.status_code == 404:
            self._legacy_gone = True
            return []
        return [r for r in read_multistatus(response.content, self.legacy) if r.status == 200 and r.calendar_data]

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
        """True if every marker is unchanged since we created it (one multiget per room-day)."""
        for collection, group in _by_collection(held).items():
            response = await self.api.request("REPORT", collection, headers={"Depth": "1"}, ok={404},
                                              content=multiget_body([h.href for h in group], with_data=False))
            if response.status_code == 404:
                return False
            etags = {r.href: r.etag for r in read_multistatus(response.content, collection)}
            if any(etags.get(h.href) != h.etag for h in group):
                return False
        return True

    async def release(self, held: list[HeldSlot]) -> None:
        """Delete markers we hold; one somebody else has changed since is left alone."""
        for slot in held:
            await self.api.request("DELETE", slot.href, headers={"If-Match": slot.etag}, ok={404, 412})

    async def release_booking(self, room_id: str, start: datetime, end: datetime, booking_uid: str) -> int:
        """Delete the markers of [start, end) that name ``booking_uid`` (also old-layout ones);
        return how many."""
        slots = slot_starts(start, end, self.config.slot_minutes)
        hrefs = [self.href(room_id, s) for s in slots]
        mine = []
        for collection, group in _by_collection([HeldSlot(h, "") for h in hrefs]).items():
            response = await self.api.request("REPORT", collection, headers={"Depth": "1"}, ok={404},
                                              content=multiget_body([h.href for h in group]))
            if response.status_code == 404:
                continue  # that day's collection was never made, or was pruned
            mine += _naming(read_multistatus(response.content, collection), booking_uid)
        mine += _naming(await self._legacy_markers(room_id, slots), booking_uid)
        await self.release(mine)
        return len(mine)

    # ---- pruning -----------------------------------------------------------------------------------

    async def prune(self, before: datetime) -> int:
        """Delete the marker collections of room-days that ended at or before ``before``, and the
        old single collection once none of its markers is for a slot ending after ``before``.
        Bookings (the events) are not touched. Returns how many collections were deleted."""
        listing = await self.api.request("PROPFIND", self.home, headers={"Depth": "1"},
                                         content=propfind_body([(DAV, "resourcetype")]))
        deleted = 0
        start = f"{self.home}{self.prefix}"
        for resource in read_multistatus(listing.content, self.home):
            path = resource.href if resource.href.endswith("/") else resource.href + "/"
            if not path.startswith(start):
                continue
            match = _DAY_COLLECTION.fullmatch(path[len(start):].rstrip("/"))
            if match is None:
                continue  # not a room-day marker calendar (the old one, a room): leave it
            try:
                day = datetime.strptime(match["day"], "%Y%m%d").date()
            except ValueError:
                continue
            if _day_end(day) > before:
                continue
            gone = await self.api.request("DELETE", path, ok={404})
            self._ready.discard(path)
            deleted += gone.status_code != 404
        return deleted + await self._prune_legacy(before)

    async def _prune_legacy(self, before: datetime) -> int:
        if self._legacy_gone:
            return 0
        # Markers whose slot ends after ``before`` (a time range reaching far ahead).
        live = await self.api.request("REPORT", self.legacy, headers={"Depth": "1"}, ok={404},
                                      content=calendar_query_body(before, before + timedelta(days=3660)))
        if live.status_code == 404:
            self._legacy_gone = True
            return 0
        if any(r.status == 200 for r in read_multistatus(live.content, self.legacy)):
            return 0  # it still holds slots to come: it drains as they end
        gone = await self.api.request("DELETE", self.legacy, ok={404})
        self._legacy_gone = True
        return int(gone.status_code != 404)


def _taken(room_id: str, slot: datetime) -> Conflict:
    return Conflict(f"room {room_id} is already booked at {slot.astimezone(OSLO):%Y-%m-%d %H:%M}",
                    system=SYSTEM, status=412, hint="Choose another room or time.")


def _by_collection(held: list[HeldSlot]) -> dict[str, list[HeldSlot]]:
    groups: dict[str, list[HeldSlot]] = {}
    for slot in held:
        groups.setdefault(_collection_of(slot.href), []).append(slot)
    return groups


def _naming(resources: list[DavResource], booking_uid: str) -> list[HeldSlot]:
    """The markers among ``resources`` that name ``booking_uid``, with their ETags."""
    found = []
    for resource in resources:
        data = resource.calendar_data
        if resource.status == 200 and data and resource.etag and parse_marker(data) == booking_uid:
            found.append(HeldSlot(resource.href, resource.etag))
    return found
