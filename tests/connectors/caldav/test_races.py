"""No double booking under races: many tasks in one process, and two processes at once; a
marker left by a crashed attempt; a booking that stalled past the stale limit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from itertools import pairwise

import caldav
import httpx

from connectors.caldav import CaldavCalendar
from connectors.caldav.events import marker_ics
from hub.errors import Conflict
from hub.ports.calendar import Booking, NewBooking
from sandbox.procs import Proc
from sandbox.radicale import DEFAULT_PASSWORD, DEFAULT_USER
from tests.connectors.caldav.conftest import ROOT, MakeCalendar, at, events_between


def _new(ref: str, room: str, start: datetime, end: datetime) -> NewBooking:
    return NewBooking(external_ref=ref, room_id=room, start=start, end=end, summary="race",
                      organizer_email="race@oslomet.no")


def _spans(dav: caldav.DAVClient, radicale: Proc, room: str, day: date) -> list[tuple[datetime, datetime, str]]:
    events = events_between(dav, radicale, room, at(day, "00:00"), at(day, "23:59"))
    return sorted((e.icalendar_component.decoded("DTSTART"), e.icalendar_component.decoded("DTEND"),
                   str(e.icalendar_component["UID"])) for e in events)


async def _attempt(calendar: CaldavCalendar, new: NewBooking) -> Booking | Conflict:
    try:
        return await calendar.book(new)
    except Conflict as exc:
        return exc


async def test_twelve_tasks_race_for_one_slot_exactly_one_wins(make_calendar: MakeCalendar, dav: caldav.DAVClient,
                                                               radicale: Proc, day: date) -> None:
    clients = [make_calendar() for _ in range(3)]  # three connections, as three flow runs would have
    try:
        results = await asyncio.gather(*(_attempt(clients[i % 3], _new(f"gr-race-{i}", "P35-U101", at(day, "10:00"),
                                                                        at(day, "12:00"))) for i in range(12)))
    finally:
        for client in clients:
            await client.aclose()
    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == 1 and sum(isinstance(r, Conflict) for r in results) == 11
    assert [uid for _, _, uid in _spans(dav, radicale, "P35-U101", day)] == [winners[0].external_ref]


async def test_overlapping_ranges_racing_never_overlap(make_calendar: MakeCalendar, dav: caldav.DAVClient,
                                                       radicale: Proc, day: date) -> None:
    """Ranges shifted by 15-45 minutes race; whatever wins, no two events overlap.

    Each waits for the next in a chain of eight; on a loaded machine that chain took 8-10 s,
    longer than the default 3 s wait, and everybody but the last gave up (with the old
    single-collection layout too). Patience is what "waited for" below means, so it gets 30 s."""
    starts = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:30", "11:00", "11:15"]
    news = [_new(f"gr-shift-{i}", "P35-U102", at(day, s), at(day, s) + timedelta(hours=1)) for i, s in enumerate(starts)]
    calendar = make_calendar(slot_wait_seconds=30)
    try:
        results = await asyncio.gather(*(_attempt(calendar, n) for n in news))
    finally:
        await calendar.aclose()
    assert all(isinstance(r, Booking | Conflict) for r in results)
    spans = _spans(dav, radicale, "P35-U102", day)
    assert len(spans) == sum(isinstance(r, Booking) for r in results) >= 2
    # A booking in progress is waited for, so nobody loses to a booking that failed itself:
    # every loser overlaps a winner.
    for new, result in zip(news, results, strict=True):
        if isinstance(result, Conflict):
            assert any(s < new.end and new.start < e for s, e, _ in spans), new.external_ref
    assert all(end <= next_start for (_, end, _), (next_start, _, _) in pairwise(spans))


def test_two_processes_race_for_the_same_slots(radicale: Proc, dav: caldav.DAVClient, day: date) -> None:
    start_at = time.time() + 2.5  # both are connected and waiting by then
    procs = [subprocess.Popen([sys.executable, "-m", "tests.connectors.caldav.race_worker", "--url", radicale.url,
                               "--password", DEFAULT_PASSWORD, "--room", "P52-A301",
                               "--first", at(day, "08:00").isoformat(), "--slots", "6", "--prefix", prefix,
                               "--start-at", str(start_at)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for prefix in ("gr-proc-a", "gr-proc-b")]
    outputs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    a, b = outputs
    for i in range(6):
        outcomes = sorted([a[f"gr-proc-a-{i}"], b[f"gr-proc-b-{i}"]])
        assert outcomes == ["booked", "conflict"], (i, outcomes)
    spans = _spans(dav, radicale, "P52-A301", day)
    assert len(spans) == 6 and all(end <= nxt for (_, end, _), (nxt, _, _) in pairwise(spans))


async def test_a_marker_left_by_a_crash_is_taken_over_once_stale(make_calendar: MakeCalendar, radicale: Proc,
                                                                 day: date) -> None:
    """A booking attempt crashed after taking its first slot: the marker names a booking that
    does not exist. Fresh, it blocks (that attempt may still be running); once stale, it is taken."""
    slot = at(day, "16:00")
    orphan = marker_ics(room_id="KJ-B115", slot_start=slot, slot_end=slot + timedelta(minutes=15),
                        booking_uid="gr-crashed-1", now=slot)
    impatient = make_calendar(stale_slot_seconds=1.5, slot_wait_seconds=0)
    patient = make_calendar(stale_slot_seconds=1.5, slot_wait_seconds=5)
    try:
        await impatient.slots.ensure_collection(impatient.slots.collection("KJ-B115", slot))
        with httpx.Client(auth=(DEFAULT_USER, DEFAULT_PASSWORD)) as http:
            created = http.put(f"{radicale.url}{impatient.slots.href('KJ-B115', slot)}", content=orphan,
                               headers={"If-None-Match": "*", "Content-Type": "text/calendar"})
            assert created.status_code == 201
        fresh = await _attempt(impatient, _new("gr-9100-aaaaaa", "KJ-B115", slot, slot + timedelta(hours=1)))
        assert isinstance(fresh, Conflict)
        started = time.monotonic()
        booked = await patient.book(_new("gr-9100-aaaaaa", "KJ-B115", slot, slot + timedelta(hours=1)))
        assert booked.start == slot and 0.3 < time.monotonic() - started < 5  # waited until it was stale
    finally:
        await impatient.aclose()
        await patient.aclose()


async def test_a_stalled_booking_notices_its_markers_were_taken(calendar: CaldavCalendar, day: date) -> None:
    """What step 4 of ``book`` checks: a marker replaced since we took it is no longer ours."""
    start = at(day, "18:00")
    held = await calendar.slots.acquire("KJ-B120", start, start + timedelta(minutes=30), "gr-slow-1",
                                        booking_exists=lambda uid: _false())
    assert await calendar.slots.still_held(held)
    # Another booking took the second marker over as a left-over (delete + create, as it does).
    await calendar.api.request("DELETE", held[1].href, headers={"If-Match": held[1].etag})
    await calendar.api.request("PUT", held[1].href, headers={"If-None-Match": "*", "Content-Type": "text/calendar"},
                               content=marker_ics(room_id="KJ-B120", slot_start=start + timedelta(minutes=15),
                                                  slot_end=start + timedelta(minutes=30), booking_uid="gr-fast-1",
                                                  now=start))
    assert not await calendar.slots.still_held(held)
    await calendar.slots.release(held)  # lets go of its own marker only
    assert await calendar.slots.release_booking("KJ-B120", start, start + timedelta(minutes=30), "gr-fast-1") == 1


async def _false() -> bool:
    return False


async def test_the_first_bookings_side_by_side_all_land_while_the_slot_collection_is_created(
        make_calendar: MakeCalendar, dav: caldav.DAVClient, radicale: Proc, day: date) -> None:
    """The marker collection is created by the first booking. Several first bookings at once
    (a batch books different days side by side) must not see each other's create as "the room
    is taken": that sent a booking to its second-best room in the end-to-end tests."""
    import uuid

    clients = [make_calendar(slot_collection_prefix=f"room-slots-{uuid.uuid4().hex[:8]}-")]
    clients.append(make_calendar(slot_collection_prefix=clients[0].config.slot_collection_prefix))  # another flow run
    try:
        results = await asyncio.gather(*(
            _attempt(clients[i % 2], _new(f"gr-first-{i}", "P35-U101", at(day + timedelta(days=i), "10:00"),
                                          at(day + timedelta(days=i), "11:00"))) for i in range(6)))
    finally:
        for client in clients:
            await client.aclose()
    assert all(isinstance(r, Booking) for r in results), [r for r in results if not isinstance(r, Booking)]
