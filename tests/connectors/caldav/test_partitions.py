"""Slot markers per room and day (issue 12), over HTTP against a real Radicale: a booking
touches only its room-day calendars, races are still decided by the marker, ended days are
pruned, and a slot held by an old single-collection marker stays taken."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta

import pytest

from connectors.caldav import CaldavCalendar
from connectors.caldav.client import resource_name
from connectors.caldav.events import event_ics, marker_ics
from hub.errors import Conflict
from hub.ports.calendar import Booking, NewBooking
from sandbox.procs import Proc
from sandbox.radicale import DEFAULT_USER
from tests.connectors.caldav.conftest import MakeCalendar, at, collection_items, hub_http


def _new(ref: str, room: str, start: datetime, end: datetime) -> NewBooking:
    return NewBooking(external_ref=ref, room_id=room, start=start, end=end, summary="Kollokvie",
                      organizer_email="kari@oslomet.no")


def _isolated(make_calendar: MakeCalendar, **overrides: object) -> CaldavCalendar:
    """A connector whose marker calendars (and old collection) no other test shares. It moves no
    bookings to the archive: its prunes reach days other tests book on (test_archive.py moves them)."""
    tag = uuid.uuid4().hex[:8]
    settings: dict[str, object] = {"slot_collection_prefix": f"slots-{tag}-", "slots_collection": f"old-slots-{tag}",
                                   "archive_ended": False}
    settings.update(overrides)
    return make_calendar(**settings)


async def _attempt(calendar: CaldavCalendar, new: NewBooking) -> Booking | Conflict:
    try:
        return await calendar.book(new)
    except Conflict as exc:
        return exc


async def test_two_bookers_of_the_same_slot_in_a_new_room_day_exactly_one_wins(
        make_calendar: MakeCalendar, day: date) -> None:
    """Both find the room-day calendar missing and create it at once; the marker decides."""
    first = _isolated(make_calendar)
    second = make_calendar(slot_collection_prefix=first.config.slot_collection_prefix,
                           slots_collection=first.config.slots_collection)
    try:
        results = await asyncio.gather(
            _attempt(first, _new("gr-part-a", "P35-U101", at(day, "10:00"), at(day, "11:00"))),
            _attempt(second, _new("gr-part-b", "P35-U101", at(day, "10:00"), at(day, "11:00"))))
        winners = [r for r in results if isinstance(r, Booking)]
        assert len(winners) == 1 and sum(isinstance(r, Conflict) for r in results) == 1, results
        loser = "gr-part-b" if winners[0].external_ref == "gr-part-a" else "gr-part-a"
        assert await first.find_booking(loser) is None
    finally:
        await first.aclose()
        await second.aclose()


async def test_bookings_on_two_days_land_in_two_room_day_calendars(make_calendar: MakeCalendar, radicale: Proc,
                                                                    day: date) -> None:
    calendar = _isolated(make_calendar)
    tomorrow = day + timedelta(days=1)
    try:
        await calendar.book(_new("gr-part-d1", "KJ-B115", at(day, "09:00"), at(day, "09:30")))
        await calendar.book(_new("gr-part-d2", "KJ-B115", at(tomorrow, "14:00"), at(tomorrow, "14:15")))
        today_slots = calendar.slots.collection("KJ-B115", at(day, "09:00"))
        tomorrow_slots = calendar.slots.collection("KJ-B115", at(tomorrow, "14:00"))
        assert today_slots != tomorrow_slots
        assert today_slots.endswith(f"-kj-b115-{day:%Y%m%d}/")
        assert collection_items(radicale, today_slots) == sorted(
            calendar.slots.href("KJ-B115", at(day, t)).rsplit("/", 1)[-1] for t in ("09:00", "09:15"))
        assert collection_items(radicale, tomorrow_slots) == [
            calendar.slots.href("KJ-B115", at(tomorrow, "14:00")).rsplit("/", 1)[-1]]
        assert collection_items(radicale, calendar.slots.legacy) is None  # nothing is written the old way
        # Cancelling removes the booking's markers from its day's calendar.
        assert await calendar.cancel("gr-part-d1") is True
        assert collection_items(radicale, today_slots) == []
    finally:
        await calendar.aclose()


async def test_prune_removes_markers_of_ended_days_and_keeps_later_ones(make_calendar: MakeCalendar, radicale: Proc,
                                                                        day: date) -> None:
    calendar = _isolated(make_calendar)
    later = day + timedelta(days=1)
    try:
        await calendar.book(_new("gr-prune-1", "P46-G210", at(day, "23:00"), at(day, "23:45")))
        await calendar.book(_new("gr-prune-2", "P46-G210", at(later, "08:00"), at(later, "09:00")))
        ended, coming = (calendar.slots.collection("P46-G210", at(day, "23:00")),
                         calendar.slots.collection("P46-G210", at(later, "08:00")))
        assert await calendar.prune_past(at(later, "00:00") - timedelta(minutes=1)) == 0  # day not over yet
        assert await calendar.prune_past(at(later, "08:30")) == 1  # as the batch would, the morning after
        assert collection_items(radicale, ended) is None
        assert len(collection_items(radicale, coming) or []) == 4
        # The bookings themselves stay; the later slot is still held.
        assert await calendar.find_booking("gr-prune-1") is not None
        with pytest.raises(Conflict, match="already booked"):
            await calendar.book(_new("gr-prune-3", "P46-G210", at(later, "08:45"), at(later, "09:15")))
        # A second run finds nothing more to do.
        assert await calendar.prune_past(at(later, "08:30")) == 0
    finally:
        await calendar.aclose()


async def test_a_client_that_knew_a_pruned_room_day_makes_it_again(make_calendar: MakeCalendar, radicale: Proc,
                                                                   day: date) -> None:
    """Another flow run pruned a room-day this client had created: its marker PUT finds the
    calendar gone (409), it makes the calendar again and the booking goes through."""
    calendar = _isolated(make_calendar)
    pruner = make_calendar(slot_collection_prefix=calendar.config.slot_collection_prefix,
                           slots_collection=calendar.config.slots_collection, archive_ended=False)
    try:
        await calendar.book(_new("gr-again-1", "KJ-B115", at(day, "08:00"), at(day, "08:15")))
        assert await pruner.prune_past(at(day + timedelta(days=1), "00:00")) == 1
        assert collection_items(radicale, calendar.slots.collection("KJ-B115", at(day, "08:00"))) is None
        booked = await calendar.book(_new("gr-again-2", "KJ-B115", at(day, "09:00"), at(day, "09:30")))
        assert booked.start == at(day, "09:00")
        assert len(collection_items(radicale, calendar.slots.collection("KJ-B115", at(day, "09:00"))) or []) == 2
    finally:
        await calendar.aclose()
        await pruner.aclose()


def _plant_old_booking(radicale: Proc, calendar: CaldavCalendar, uid: str, room: str, start: datetime,
                       end: datetime, *, with_event: bool = True) -> None:
    """What the hub before issue 12 left behind: the event, and its markers in one collection."""
    old = calendar.slots.legacy
    with hub_http() as http:
        if http.request("PROPFIND", f"{radicale.url}{old}", headers={"Depth": "0"}).status_code == 404:
            assert http.request("MKCALENDAR", f"{radicale.url}{old}").status_code == 201
        if with_event:
            ics = event_ics(uid=uid, room_id=room, room_name=room, start=start, end=end, summary="Gammel booking",
                            organizer_email="ola@oslomet.no", description="", now=start)
            put = http.put(f"{radicale.url}/{DEFAULT_USER}/{room.lower()}/{resource_name(uid)}", content=ics,
                           headers={"If-None-Match": "*", "Content-Type": "text/calendar"})
            assert put.status_code == 201
        slot = start
        while slot < end:
            marker = marker_ics(room_id=room, slot_start=slot, slot_end=slot + timedelta(minutes=15),
                                booking_uid=uid, now=start)
            put = http.put(f"{radicale.url}{calendar.slots.legacy_href(room, slot)}", content=marker,
                           headers={"If-None-Match": "*", "Content-Type": "text/calendar"})
            assert put.status_code == 201
            slot += timedelta(minutes=15)


async def test_a_slot_held_by_an_old_layout_marker_is_refused(make_calendar: MakeCalendar, radicale: Proc,
                                                              day: date) -> None:
    """The event of the old booking is transparent here, so only the old marker can refuse:
    free/busy alone would let the booking through."""
    calendar = _isolated(make_calendar)
    try:
        _plant_old_booking(radicale, calendar, "gr-old-1", "KJ-B120", at(day, "12:00"), at(day, "13:00"))
        with hub_http() as http:  # make the old event invisible to free/busy
            href = f"{radicale.url}/{DEFAULT_USER}/kj-b120/{resource_name('gr-old-1')}"
            ics = http.get(href).content.replace(b"TRANSP:OPAQUE", b"TRANSP:TRANSPARENT")
            assert http.put(href, content=ics, headers={"Content-Type": "text/calendar"}).status_code in (201, 204)
        assert await calendar.busy("KJ-B120", at(day, "12:00"), at(day, "13:00")) == []
        with pytest.raises(Conflict, match="already booked at .* 12:30"):
            await calendar.book(_new("gr-new-1", "KJ-B120", at(day, "12:30"), at(day, "13:30")))
        # The refused booking let go of its new markers: the free hour after can be booked.
        await calendar.book(_new("gr-new-2", "KJ-B120", at(day, "13:00"), at(day, "14:00")))
        # Cancelling the old booking removes its old markers and frees the slot.
        assert await calendar.cancel("gr-old-1") is True
        assert collection_items(radicale, calendar.slots.legacy) == []
        booked = await calendar.book(_new("gr-new-3", "KJ-B120", at(day, "12:00"), at(day, "13:00")))
        assert booked.start == at(day, "12:00")
    finally:
        await calendar.aclose()


async def test_an_old_marker_whose_booking_is_gone_does_not_block(make_calendar: MakeCalendar, radicale: Proc,
                                                                  day: date) -> None:
    calendar = _isolated(make_calendar)
    try:
        _plant_old_booking(radicale, calendar, "gr-old-crashed", "P52-A301", at(day, "15:00"), at(day, "15:30"),
                           with_event=False)
        booked = await calendar.book(_new("gr-new-4", "P52-A301", at(day, "15:00"), at(day, "16:00")))
        assert booked.end == at(day, "16:00")
    finally:
        await calendar.aclose()


async def test_prune_deletes_the_old_collection_once_its_slots_have_ended(make_calendar: MakeCalendar,
                                                                          radicale: Proc, day: date) -> None:
    calendar = _isolated(make_calendar)
    try:
        _plant_old_booking(radicale, calendar, "gr-old-2", "P35-U102", at(day, "10:00"), at(day, "10:30"))
        assert await calendar.prune_past(at(day, "10:15")) == 0  # a slot to come: the old one stays
        assert collection_items(radicale, calendar.slots.legacy) is not None
        assert await calendar.prune_past(at(day, "10:30")) == 1
        assert collection_items(radicale, calendar.slots.legacy) is None
        assert await calendar.find_booking("gr-old-2") is not None  # the booking stays
        # With the old collection gone, booking and cancelling go on without it.
        await calendar.book(_new("gr-new-5", "P35-U102", at(day, "11:00"), at(day, "11:15")))
        assert await calendar.cancel("gr-new-5") is True
    finally:
        await calendar.aclose()
