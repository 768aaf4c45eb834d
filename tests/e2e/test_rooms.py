"""Book a group room end to end: Nettskjema → a free room's CalDAV calendar (Radicale) → e-mail
with the .ics; the last free slot raced by two requests; a rejected time; cancelling by
form and by replying to the confirmation."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import caldav
import icalendar
import pytest
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.settings import OSLO
from sandbox.nettskjema.forms import ROOMS_CANCEL_FORM_ID, ROOMS_FORM_ID
from tests.e2e.conftest import mail_to, submit

pytestmark = pytest.mark.e2e

DEPLOYMENT = "room-bookings/room-bookings"
CANCEL_DOMAIN = "tjenesteplattform.oslomet.no"


def _day(ahead: int) -> date:
    return datetime.now(OSLO).date() + timedelta(days=ahead)  # the seed books days +3 and +5


def _request(stack: Stack, booker: str, room: str, people: int, day: date, start: str, end: str) -> str:
    return str(submit(stack, ROOMS_FORM_ID, {
        "booker": booker, "room": room, "min_capacity": str(people), "date": day.strftime("%d.%m.%Y"),
        "start": start, "end": end, "purpose": "Kollokvie i DATA1100"}))


async def _run() -> None:
    run = await run_deployment(DEPLOYMENT, timeout=180, poll_interval=0.5)
    assert run.state.is_completed(), run.state


def _events(stack: Stack, room_id: str, day: date) -> list[Any]:
    """The room's events that day, read straight from Radicale with the caldav library."""
    with caldav.DAVClient(url=stack.radicale_url, username="hub", password=stack.secrets["caldav_password"]) as dav:
        calendar = dav.calendar(url=f"{stack.radicale_url}/hub/{room_id.lower()}/")
        start = datetime.combine(day, datetime.min.time(), OSLO)
        return [e.icalendar_component for e in calendar.search(start=start, end=start + timedelta(days=1), event=True)]


def _subjects(stack: Stack, address: str, text: str) -> list[EmailMessage]:
    return [m for m in mail_to(stack, address) if text in str(m["Subject"])]


async def test_a_booking_is_confirmed_with_the_event_and_an_ics(stack: Stack, ledger: Ledger) -> None:
    booker, day = "s360001@oslomet.no", _day(6)
    sid = _request(stack, booker, "any", 3, day, "10:00", "11:30")
    await _run()
    item = ledger.get_item("rooms", sid)
    assert item.state == ItemState.DONE and item.data["outcome"] == "booked", item.last_error
    room, reference = item.data["room"], item.data["reference"]
    assert room == "KJ-B115"  # the smallest room that holds 3 (Kjeller before Pilestredet by id)
    events = _events(stack, room, day)
    assert [str(e["UID"]) for e in events] == [reference]
    assert events[0].decoded("DTSTART") == datetime.combine(day, datetime.min.time(), OSLO).replace(hour=10)
    assert str(events[0]["ORGANIZER"]) == f"mailto:{booker}"

    [mail] = _subjects(stack, booker, "Grupperom reservert")
    assert mail["Reply-To"] == f"avbestill+{reference}@{CANCEL_DOMAIN}" and reference in mail.get_body().get_content()
    [ics] = [part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"]
    attached = icalendar.Calendar.from_ical(ics.get_content())
    assert str(attached.walk("VEVENT")[0]["UID"]) == reference

    await _run()  # the same submission seen again: nothing new
    assert len(_events(stack, room, day)) == 1 and len(_subjects(stack, booker, "Grupperom reservert")) == 1


async def test_two_requests_for_the_last_free_slot_one_booking_one_gets_alternatives(
        stack: Stack, ledger: Ledger) -> None:
    """Only A301 holds ten people. Two requests for it at the same time, handled by three flow
    runs at once: two in this process (each claims one request, so both book at the same
    moment) and the deployment's in the runner."""
    from flows.rooms import room_bookings

    day = _day(7)
    first = _request(stack, "s360002@oslomet.no", "any", 10, day, "13:00", "15:00")
    second = _request(stack, "s360003@oslomet.no", "any", 11, day, "13:00", "15:00")
    results = await asyncio.gather(run_deployment(DEPLOYMENT, timeout=180, poll_interval=0.5), room_bookings(),
                                   room_bookings(), return_exceptions=True)
    assert not any(isinstance(r, BaseException) for r in results), results
    items = {sid: ledger.get_item("rooms", sid) for sid in (first, second)}
    assert all(i.state == ItemState.DONE for i in items.values()), [i.last_error for i in items.values()]
    assert sorted(i.data["outcome"] for i in items.values()) == ["alternatives", "booked"]
    events = _events(stack, "P52-A301", day)
    [winner] = [i for i in items.values() if i.data["outcome"] == "booked"]
    [loser] = [i for i in items.values() if i.data["outcome"] == "alternatives"]
    assert [str(e["UID"]) for e in events] == [winner.data["reference"]]

    offered = loser.data["alternatives"]
    assert len(offered) == 3 and all(a["room"] == "P52-A301" for a in offered)
    assert all(a["start"] != winner.data["start"] for a in offered)
    [mail] = _subjects(stack, loser.data["booker"], "forslag til andre tider")
    assert "Grupperom A301" in mail.get_body().get_content()


async def test_an_invalid_time_is_rejected_with_a_clear_reason(stack: Stack, ledger: Ledger) -> None:
    booker, day = "s360004@oslomet.no", _day(8)
    sid = _request(stack, booker, "P35-U101", 2, day, "07:00", "09:00")
    await _run()
    item = ledger.get_item("rooms", sid)
    assert item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "between 08:00 and 20:00" in item.last_error
    [mail] = _subjects(stack, booker, "kunne ikke behandles")
    assert "between 08:00 and 20:00" in mail.get_body().get_content()
    assert _events(stack, "P35-U101", day) == []
    await _run()  # a dead letter is not retried blindly
    assert ledger.get_item("rooms", sid).attempts == 1


async def test_cancelling_by_form_frees_the_slot_and_only_the_booker_can(stack: Stack, ledger: Ledger) -> None:
    booker, day = "s360005@oslomet.no", _day(9)
    sid = _request(stack, booker, "P35-U102", 4, day, "12:00", "13:00")
    await _run()
    reference = ledger.get_item("rooms", sid).data["reference"]
    assert len(_events(stack, "P35-U102", day)) == 1

    stranger = str(submit(stack, ROOMS_CANCEL_FORM_ID, {"booker": "s360099@oslomet.no", "booking_ref": reference}))
    await _run()
    refused = ledger.get_item("rooms-cancel", stranger)
    assert refused.state == ItemState.FAILED and "another address" in refused.last_error
    assert len(_events(stack, "P35-U102", day)) == 1 and _subjects(stack, "s360099@oslomet.no", "kunne ikke")

    cancel = str(submit(stack, ROOMS_CANCEL_FORM_ID, {"booker": booker, "booking_ref": reference}))
    await _run()
    assert ledger.get_item("rooms-cancel", cancel).state == ItemState.DONE
    assert _events(stack, "P35-U102", day) == []
    assert ledger.get_item("rooms", sid).data["cancelled_by"] == cancel
    assert len(_subjects(stack, booker, "Grupperom avbestilt")) == 1

    again = _request(stack, "s360006@oslomet.no", "P35-U102", 4, day, "12:00", "13:00")  # the slot is free
    await _run()
    assert ledger.get_item("rooms", again).data["outcome"] == "booked"


async def test_cancelling_by_replying_to_the_confirmation(stack: Stack, ledger: Ledger) -> None:
    booker, day = "s360007@oslomet.no", _day(10)
    sid = _request(stack, booker, "P46-G210", 6, day, "14:00", "16:00")
    await _run()
    [confirmation] = _subjects(stack, booker, "Grupperom reservert")
    assert len(_events(stack, "P46-G210", day)) == 1

    reply = EmailMessage()  # what the booker's mail program sends on "Reply"
    reply["From"], reply["To"] = booker, confirmation["Reply-To"]
    reply["Subject"] = f"Re: {confirmation['Subject']}"
    reply["In-Reply-To"] = confirmation["Message-ID"]
    reply["Message-ID"] = f"<reply-{sid}@student.oslomet.no>"
    reply.set_content("Vi trenger ikke rommet likevel. Hilsen gruppa")
    with smtplib.SMTP("127.0.0.1", stack.ports.smtp, timeout=10) as smtp:
        smtp.send_message(reply)
    await _run()

    [item] = [i for i in ledger.items(service="rooms-cancel", limit=None)
              if (i.data or {}).get("reference") == ledger.get_item("rooms", sid).data["reference"]]
    assert item.state == ItemState.DONE and item.data["channel"] == "reply", item.last_error
    assert _events(stack, "P46-G210", day) == []
    assert len(_subjects(stack, booker, "Grupperom avbestilt")) == 1
    await _run()  # the same reply is not handled twice
    assert len([i for i in ledger.items(service="rooms-cancel", limit=None)
                if (i.data or {}).get("reference") == item.data["reference"]]) == 1
