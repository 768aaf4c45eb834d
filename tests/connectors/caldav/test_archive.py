"""Bookings of days that have ended move to an archive calendar per room and month (issue 12),
over HTTP against a real Radicale: the room calendar keeps today's and future bookings and
whatever a person put there; a move interrupted after its copy finishes on the next prune; a
long history moves a batch at a time. These tests book on days that have really ended, so the
prune's own clock (now) is what decides."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from connectors.caldav import CaldavCalendar
from connectors.caldav.client import resource_name
from hub.ports.calendar import NewBooking
from hub.settings import OSLO
from sandbox.procs import Proc
from sandbox.radicale import DEFAULT_USER
from tests.connectors.caldav.conftest import MakeCalendar, at, collection_items, hub_http

ROOM = "KJ-B120"


def _new(ref: str, start: datetime, end: datetime, room: str = ROOM) -> NewBooking:
    return NewBooking(external_ref=ref, room_id=room, start=start, end=end, summary="Kollokvie",
                      organizer_email="kari@oslomet.no")


def _room_path(room: str = ROOM) -> str:
    return f"/{DEFAULT_USER}/{room.lower()}/"


async def test_ended_bookings_move_to_the_archive_and_the_rest_stays(make_calendar: MakeCalendar,
                                                                     radicale: Proc, day: date) -> None:
    today = datetime.now(OSLO).date()
    last_week, long_ago = today - timedelta(days=7), (today - timedelta(days=62)).replace(day=15)
    calendar: CaldavCalendar = make_calendar()
    try:
        await calendar.book(_new("gr-arch-1", at(last_week, "10:00"), at(last_week, "11:00")))
        await calendar.book(_new("gr-arch-2", at(long_ago, "12:00"), at(long_ago, "13:00")))
        await calendar.book(_new("gr-arch-3", at(day, "10:00"), at(day, "11:00")))  # to come: stays
        person = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:arch-person\r\n"
                  f"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Oslo:{last_week:%Y%m%d}T140000\r\n"
                  f"DTEND;TZID=Europe/Oslo:{last_week:%Y%m%d}T150000\r\nSUMMARY:Seminar\r\nEND:VEVENT\r\n"
                  "END:VCALENDAR\r\n")
        with hub_http() as http:
            assert http.put(f"{radicale.url}{_room_path()}arch-person.ics", content=person).status_code == 201

        assert await calendar.prune_past() >= 2  # (plus the ended days' marker calendars)

        room = collection_items(radicale, _room_path()) or []
        assert "gr-arch-1.ics" not in room and "gr-arch-2.ics" not in room
        assert {"gr-arch-3.ics", "arch-person.ics"} <= set(room)  # to come, and a person's event
        for ref, when in (("gr-arch-1", last_week), ("gr-arch-2", long_ago)):
            archive = calendar.archive.collection(ROOM, when.replace(day=1))
            assert resource_name(ref) in (collection_items(radicale, archive) or [])
            with hub_http() as http:
                kept = http.get(f"{radicale.url}{archive}{resource_name(ref)}")
            assert kept.status_code == 200 and f"UID:{ref}" in kept.text
        assert await calendar.find_booking("gr-arch-3") is not None
        assert await calendar.find_booking("gr-arch-1") is None  # ended and moved: not a booking to make again
        # Archive calendars are not rooms.
        assert sorted(r.id for r in await calendar.list_rooms()) == sorted(
            r.id for r in await make_calendar().list_rooms())
        assert await calendar.prune_past() == 0  # nothing more to do
    finally:
        await calendar.aclose()


async def test_a_move_cut_short_after_its_copy_finishes_with_the_current_version(make_calendar: MakeCalendar,
                                                                                  radicale: Proc) -> None:
    """A prune that died between its PUT to the archive and its DELETE left a copy; the booking
    was changed since. The next prune overwrites the copy with what it removes."""
    ended = datetime.now(OSLO).date() - timedelta(days=3)
    calendar: CaldavCalendar = make_calendar()
    try:
        booking = await calendar.book(_new("gr-arch-cut", at(ended, "08:00"), at(ended, "09:00"), room="P35-U101"))
        archive = calendar.archive.collection("P35-U101", ended.replace(day=1))
        await calendar.slots.ensure_collection(archive)
        with hub_http() as http:
            stale = (booking.ics or b"").replace(b"SUMMARY:Kollokvie", b"SUMMARY:Stale copy")
            assert http.put(f"{radicale.url}{archive}gr-arch-cut.ics", content=stale).status_code == 201
        assert await calendar.prune_past() >= 1
        with hub_http() as http:
            kept = http.get(f"{radicale.url}{archive}gr-arch-cut.ics").text
            gone = http.get(f"{radicale.url}{_room_path('P35-U101')}gr-arch-cut.ics").status_code
        assert "SUMMARY:Kollokvie" in kept and "Stale copy" not in kept and gone == 404
    finally:
        await calendar.aclose()


async def test_a_long_history_moves_a_batch_per_room_per_prune(make_calendar: MakeCalendar, radicale: Proc) -> None:
    ended = datetime.now(OSLO).date() - timedelta(days=10)
    calendar: CaldavCalendar = make_calendar(archive_batch=2)
    try:
        for hour in range(8, 13):
            await calendar.book(_new(f"gr-arch-batch-{hour}", at(ended, f"{hour:02d}:00"), at(ended, f"{hour:02d}:15"),
                                     room="P46-G210"))
        archive = calendar.archive.collection("P46-G210", ended.replace(day=1))

        def archived() -> int:
            return sum(n.startswith("gr-arch-batch-") for n in collection_items(radicale, archive) or [])

        await calendar.prune_past()
        assert archived() == 2
        await calendar.prune_past()
        assert archived() == 4
        await calendar.prune_past()
        assert archived() == 5
        assert not [n for n in collection_items(radicale, _room_path("P46-G210")) or [] if n.startswith("gr-arch-batch-")]
    finally:
        await calendar.aclose()
