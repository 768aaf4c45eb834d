"""The CalDAV connector against a real Radicale: rooms, bookings, idempotency, free/busy,
cancelling — checked on the server with an independent client (the caldav library)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import caldav
import icalendar
import pytest

from connectors.caldav import CaldavCalendar
from hub.errors import Conflict, InvalidInput, NotFound
from hub.ports.calendar import CalendarPort, NewBooking
from sandbox.procs import Proc
from sandbox.radicale import ROOMS, ROOMS_NS
from tests.connectors.caldav.conftest import at, events_between, room_calendar


def _new(ref: str, room: str, start: datetime, end: datetime, who: str = "kari@oslomet.no") -> NewBooking:
    return NewBooking(external_ref=ref, room_id=room, start=start, end=end, summary="Grupperom: kollokvie",
                      organizer_email=who, description="Kollokvie i DATA1100")


async def test_lists_the_room_calendars_with_their_capacity(calendar: CaldavCalendar) -> None:
    port: CalendarPort = calendar
    rooms = {r.id: r for r in await port.list_rooms()}
    assert {r.id: r.capacity for r in ROOMS} == {i: r.capacity for i, r in rooms.items()}
    assert rooms["P35-U101"].name == "Grupperom U101 (Pilestredet 35)"
    assert rooms["P35-U101"].url and rooms["P35-U101"].url.endswith("/hub/p35-u101/")
    health = await port.health()
    assert health.ok and health.system == "caldav" and "6 room calendar(s)" in health.detail


def test_room_properties_are_plain_webdav_properties(dav: caldav.DAVClient, radicale: Proc) -> None:
    """Any client sees the capacity with an ordinary PROPFIND (here: the caldav library's)."""
    from caldav.elements.base import ValuedBaseElement

    class Capacity(ValuedBaseElement):
        tag = f"{{{ROOMS_NS}}}capacity"

    props = room_calendar(dav, radicale, "P52-A301").get_properties([Capacity()])
    assert props[Capacity.tag] == "12"


async def test_booking_is_one_event_with_oslo_times_and_is_idempotent(
        calendar: CaldavCalendar, dav: caldav.DAVClient, radicale: Proc, day: date) -> None:
    new = _new("gr-9001-aaaaaa", "P35-U101", at(day, "10:00"), at(day, "12:00"))
    booking = await calendar.book(new)
    assert booking.external_ref == new.external_ref and booking.room_id == "P35-U101"
    assert booking.start == new.start and booking.start.tzinfo is not None
    assert booking.ics and booking.url and booking.url.endswith("/hub/p35-u101/gr-9001-aaaaaa.ics")

    events = events_between(dav, radicale, "P35-U101", at(day, "00:00"), at(day, "23:59"))
    assert len(events) == 1
    vevent = events[0].icalendar_component
    assert str(vevent["UID"]) == "gr-9001-aaaaaa" and vevent["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert vevent.decoded("DTSTART") == at(day, "10:00") and str(vevent["ORGANIZER"]) == "mailto:kari@oslomet.no"
    parsed = icalendar.Calendar.from_ical(booking.ics)  # the attachment is a complete calendar object
    assert parsed.walk("VTIMEZONE") and str(parsed.walk("VEVENT")[0]["UID"]) == "gr-9001-aaaaaa"

    again = await calendar.book(new)  # same request again: the same booking, nothing new
    assert again.url == booking.url and again.start == booking.start
    assert len(events_between(dav, radicale, "P35-U101", at(day, "00:00"), at(day, "23:59"))) == 1
    assert (await calendar.find_booking("gr-9001-aaaaaa")) is not None
    assert await calendar.find_booking("gr-9001-zzzzzz") is None


async def test_overlap_is_a_conflict_but_back_to_back_is_fine(calendar: CaldavCalendar, dav: caldav.DAVClient,
                                                              radicale: Proc, day: date) -> None:
    await calendar.book(_new("gr-9002-aaaaaa", "P35-U102", at(day, "10:00"), at(day, "12:00")))
    with pytest.raises(Conflict, match="already booked at .* 11:00"):
        await calendar.book(_new("gr-9003-aaaaaa", "P35-U102", at(day, "11:00"), at(day, "13:00"), "ola@oslomet.no"))
    await calendar.book(_new("gr-9004-aaaaaa", "P35-U102", at(day, "12:00"), at(day, "13:00")))
    await calendar.book(_new("gr-9005-aaaaaa", "P35-U102", at(day, "08:00"), at(day, "10:00")))
    events = events_between(dav, radicale, "P35-U102", at(day, "00:00"), at(day, "23:59"))
    assert sorted(str(e.icalendar_component["UID"]) for e in events) == [
        "gr-9002-aaaaaa", "gr-9004-aaaaaa", "gr-9005-aaaaaa"]
    # The loser left no markers behind: its free part (12:00-13:00) was booked right after.
    busy = await calendar.busy("P35-U102", at(day, "07:00"), at(day, "20:00"))
    assert busy == [(at(day, "08:00"), at(day, "13:00"))]  # free/busy merges adjacent periods


async def test_same_reference_for_another_slot_is_a_conflict(calendar: CaldavCalendar, day: date) -> None:
    await calendar.book(_new("gr-9006-aaaaaa", "KJ-B115", at(day, "09:00"), at(day, "10:00")))
    with pytest.raises(Conflict, match="already exists"):
        await calendar.book(_new("gr-9006-aaaaaa", "KJ-B115", at(day, "14:00"), at(day, "15:00")))


async def test_cancel_deletes_the_event_and_frees_the_slot(calendar: CaldavCalendar, dav: caldav.DAVClient,
                                                           radicale: Proc, day: date) -> None:
    await calendar.book(_new("gr-9007-aaaaaa", "KJ-B120", at(day, "13:00"), at(day, "15:00")))
    assert await calendar.cancel("gr-9007-aaaaaa") is True
    assert events_between(dav, radicale, "KJ-B120", at(day, "00:00"), at(day, "23:59")) == []
    assert await calendar.busy("KJ-B120", at(day, "08:00"), at(day, "20:00")) == []
    assert await calendar.cancel("gr-9007-aaaaaa") is False  # nothing left to cancel
    taken = await calendar.book(_new("gr-9008-aaaaaa", "KJ-B120", at(day, "13:00"), at(day, "15:00"), "ola@oslomet.no"))
    assert taken.organizer_email == "ola@oslomet.no"


async def test_an_event_put_in_by_a_person_blocks_the_slot(calendar: CaldavCalendar, dav: caldav.DAVClient,
                                                           radicale: Proc, day: date) -> None:
    """Someone books straight in the room calendar (no slot markers), weekly from today."""
    room = room_calendar(dav, radicale, "P46-G210")
    room.save_event(dtstart=at(day, "14:00"), dtend=at(day, "15:30"), uid=f"manual-{day}",
                    summary="Seminar", rrule={"FREQ": "WEEKLY", "COUNT": 3})
    busy = await calendar.busy("P46-G210", at(day, "08:00"), at(day + timedelta(days=8), "20:00"))
    assert busy == [(at(day, "14:00"), at(day, "15:30")),
                    (at(day + timedelta(days=7), "14:00"), at(day + timedelta(days=7), "15:30"))]
    with pytest.raises(Conflict, match="another event"):
        await calendar.book(_new("gr-9009-aaaaaa", "P46-G210", at(day + timedelta(days=7), "15:00"),
                                 at(day + timedelta(days=7), "16:00")))
    assert await calendar.find_booking("gr-9009-aaaaaa") is None
    # Its markers were released: the free hour right after can be booked.
    await calendar.book(_new("gr-9010-aaaaaa", "P46-G210", at(day + timedelta(days=7), "15:30"),
                             at(day + timedelta(days=7), "16:30")))


@pytest.mark.parametrize(("start", "end", "error", "message"), [
    ("10:10", "11:00", InvalidInput, "not on the 15-minute grid"),
    ("11:00", "10:00", InvalidInput, "is not after the start"),
])
async def test_bad_times_are_invalid_input(calendar: CaldavCalendar, day: date, start: str, end: str,
                                           error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        await calendar.book(_new("gr-9011-aaaaaa", "P35-U101", at(day, start), at(day, end)))


async def test_naive_times_and_unknown_rooms_are_refused(calendar: CaldavCalendar, day: date) -> None:
    naive = datetime(day.year, day.month, day.day, 10, 0)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await calendar.busy("P35-U101", naive, naive + timedelta(hours=1))
    with pytest.raises(NotFound, match="no room calendar with id 'X-999'"):
        await calendar.book(_new("gr-9012-aaaaaa", "X-999", at(day, "10:00"), at(day, "11:00")))
