"""The steps of one room booking and of one cancellation (see :mod:`flows.rooms`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import NoReturn

from hub.errors import Conflict, InvalidInput
from hub.flowkit import Attempt, Run, Span
from hub.ports.calendar import Booking, CalendarPort, Room
from hub.ports.mail import OutgoingMail
from hub.settings import Settings
from hub.text import email_problem
from mappings.rooms import (
    OSLO,
    Alternative,
    BookingRules,
    CancelRequest,
    RoomRequest,
    fitting_rooms,
    nearest_alternatives,
    new_booking,
    read_cancellation,
    read_request,
    reference_submission,
)
from mappings.rooms import (
    alternatives_window as search_window,
)
from mappings.rooms_mail import (
    CancelChannels,
    alternatives_mail,
    cancel_refused_mail,
    cancelled_mail,
    confirmation_mail,
    rejection_mail,
)

__all__ = ["handle_booking", "handle_cancellation", "booking_rules", "cancel_channels", "RoomsBusy", "book_first_free",
           "nearest_free", "SERVICE", "CANCEL_SERVICE"]

SERVICE = "rooms"
CANCEL_SERVICE = "rooms-cancel"


def booking_rules(settings: Settings) -> BookingRules:
    cfg = settings.rooms
    return BookingRules(opens=cfg.opens, closes=cfg.closes, max_hours=cfg.max_hours,
                        horizon_days=cfg.horizon_days, slot_minutes=settings.adapter_config(settings.calendar).slot_minutes)


def cancel_channels(settings: Settings) -> CancelChannels:
    cfg = settings.rooms
    return CancelChannels(mailbox=cfg.cancel_mailbox, domain=cfg.cancel_domain, form_url=cfg.cancel_form_url)


async def _send_once(run: Run, name: str, mail: OutgoingMail) -> None:
    """Send a mail unless this item already sent it (a deterministic Message-ID besides)."""
    if run.ref(name) is None:
        message_id = await run.ports.mail.send(mail)
        await run.remember(name, system="mail", kind="message", ref=message_id)


class RoomsBusy:
    """The rooms' free/busy over one window (the alternatives' window of a request), read from
    the calendar at most once per room while one request is placed.

    Placing a request asks twice about the same rooms: is a fitting room free at the time
    asked (then it is tried), and if none is, where are the nearest free times (the
    alternatives). Each question was a calendar query per room; on CalDAV the server reads
    the whole room calendar for either, whatever the range. Read once over the wider window,
    the same answer serves both: under a backlog most requests end with alternatives, and they
    cost half the queries. A range outside the window is asked of the calendar directly.

    Free/busy is a hint: ``book`` still decides. A room found taken when it was tried is read
    again (``forget``), so the alternatives never offer the time just lost."""

    def __init__(self, calendar: CalendarPort, start: datetime, end: datetime) -> None:
        self.calendar, self.start, self.end = calendar, start, end
        self._read: dict[str, list[tuple[datetime, datetime]]] = {}

    async def of(self, room_id: str) -> list[tuple[datetime, datetime]]:
        """The room's busy periods overlapping the window."""
        if room_id not in self._read:
            self._read[room_id] = await self.calendar.busy(room_id, self.start, self.end)
        return self._read[room_id]

    async def taken(self, room_id: str, start: datetime, end: datetime) -> bool:
        """Whether anything in the room overlaps [start, end)."""
        if start < self.start or end > self.end:
            return bool(await self.calendar.busy(room_id, start, end))
        return any(s < end and e > start for s, e in await self.of(room_id))

    def forget(self, room_id: str) -> None:
        self._read.pop(room_id, None)


async def book_first_free(calendar: CalendarPort, request: RoomRequest, rooms: list[Room],
                          busy: RoomsBusy, attempt: Attempt | None = None) -> tuple[Booking, Room] | None:
    """The booking with this reference if an earlier attempt made it; else book the first
    fitting room that is free. A room taken meanwhile (Conflict, also from a race) → the next room.

    Only a retried ``attempt`` (or none given) looks for an earlier booking first: on CalDAV
    that is a read in every room, six of a request's eleven calendar calls, for a booking a
    first attempt cannot have. Its start is in the ledger before it books
    (``attempt.recorded()``), so a run that dies after booking leaves a retried attempt behind
    it. (The calendar's ``book`` still makes no second booking for the same reference.)

    A room whose free/busy already shows the time taken is not tried: one ``busy`` query instead
    of a booking attempt that would end in Conflict (on CalDAV ~10 requests: the attempt looks
    for the reference in every room and reads the slot marker in its way). Free/busy is only a
    hint; ``book`` still decides, so a room taken after the query is a Conflict as before."""
    by_id = {r.id: r for r in rooms}
    if attempt is None or attempt.retried:
        existing = await calendar.find_booking(request.reference)
        if existing is not None and existing.room_id in by_id:
            return existing, by_id[existing.room_id]
    for room in fitting_rooms(request, rooms):
        if await busy.taken(room.id, request.start, request.end):
            continue
        if attempt is not None:
            await attempt.recorded()
        try:
            return await calendar.book(new_booking(request, room)), room
        except Conflict:
            busy.forget(room.id)
            continue
    return None


async def nearest_free(busy: RoomsBusy, request: RoomRequest, rooms: list[Room], *, now: datetime,
                       rules: BookingRules, count: int) -> list[Alternative]:
    """The alternatives offered when no fitting room is free: the nearest free (room, time)
    pairs within ``busy``'s window, in the rooms that hold the group."""
    candidates = [r for r in rooms if r.capacity >= request.min_capacity]
    taken = {r.id: await busy.of(r.id) for r in candidates}
    return nearest_alternatives(request, candidates, taken, now=now, rules=rules, count=count)


async def handle_booking(run: Run, rooms: list[Room], now: datetime) -> str:
    """One request: validate → book a fitting free room → confirm; or offer alternatives;
    or reject (a dead letter, and the booker is told why)."""
    ports, settings = run.ports, run.settings
    rules, channels = booking_rules(settings), cancel_channels(settings)
    submission_id = int(run.item.source_key)
    async with run.step("read_request"):
        submission = await ports.forms.get_submission(submission_id)
        request, problems = read_request(submission, rooms, now=now, rules=rules,
                                         secret=settings.rooms.reference_key())
    if request is None:
        booker = submission.answer("booker")
        address = ((booker.text if booker else None) or "").strip().lower()
        told = "The booker was told by e-mail"
        if email_problem(address) is None:
            async with run.step("rejection_mail"):
                await _send_once(run, "rejection_mail", rejection_mail(submission_id, address, problems, channels))
        else:
            told = "The booker gave no usable e-mail address, so nobody was told"
        raise InvalidInput(f"room booking {submission_id} is not valid: " + "; ".join(problems), system="forms",
                           hint=f"{told}; a corrected request comes as a new submission.")
    run.note(reference=request.reference, booker=request.booker, wanted_room=request.room,
             start=request.start.isoformat(), end=request.end.isoformat())
    # First come, first served: the earlier request gets the last room. Only requests for
    # overlapping hours compete for a room; the others book meanwhile (with the day as what
    # they competed for, 14 ms on average passed between reading a request and booking it,
    # 4 ms with the hours, in a backlog of requests for four days).
    busy = RoomsBusy(ports.calendar, *search_window(request, now=now, rules=rules))
    async with run.in_order(Span(request.start, request.end)):
        async with run.step("book_room") as attempt:
            booked = await book_first_free(ports.calendar, request, rooms, busy, attempt)
            if booked is not None:
                booking, room = booked
                await run.remember("booking", system="calendar", kind="event", ref=request.reference, url=booking.url,
                                   key=request.reference)
                run.note(room=room.id, outcome="booked")
        if booked is None:
            async with run.step("offer_alternatives"):
                alternatives = await nearest_free(busy, request, rooms, now=now, rules=rules,
                                                  count=settings.rooms.alternatives)
                await _send_once(run, "alternatives_mail", alternatives_mail(request, alternatives, channels))
                run.note(outcome="alternatives", alternatives=[
                    {"room": a.room.id, "start": a.start.isoformat(), "end": a.end.isoformat()}
                    for a in alternatives])
            return f"nothing free; {len(alternatives)} alternative(s) offered"
    async with run.step("confirmation_mail"):
        await _send_once(run, "confirmation_mail", confirmation_mail(request, booking, room, channels))
    return f"booked {room.id} {booking.start.astimezone(OSLO):%d.%m %H:%M}–{booking.end.astimezone(OSLO):%H:%M}"


async def _refuse(run: Run, booker: str | None, reason: str) -> NoReturn:
    told = "The booker was told by e-mail"
    if booker and email_problem(booker) is None:
        async with run.step("refusal_mail"):
            await _send_once(run, "refusal_mail", cancel_refused_mail(
                run.item.source_key, booker, reason, cancel_channels(run.settings)))
    else:
        told = "The booker gave no usable e-mail address, so nobody was told"
    raise InvalidInput(f"cancellation {run.item.source_key}: {reason}", system="calendar",
                       hint=f"{told}; nothing was cancelled.")


async def _read_cancellation(run: Run) -> CancelRequest:
    data = run.item.data or {}
    if data.get("channel") == "reply":
        return CancelRequest(booker=str(data.get("booker", "")).lower(), reference=str(data.get("reference", "")))
    submission = await run.ports.forms.get_submission(int(run.item.source_key))
    request, problems = read_cancellation(submission)
    if request is None:
        booker = submission.answer("booker")
        await _refuse(run, ((booker.text if booker else None) or "").strip().lower(), "; ".join(problems))
    return request


async def handle_cancellation(run: Run) -> str:
    """One cancellation (form or e-mail reply): the booker and reference must match a booking;
    then the event is deleted (the slot is free) and the booker is told."""
    ports, settings = run.ports, run.settings
    async with run.step("read_cancellation"):
        request = await _read_cancellation(run)
    secret = settings.rooms.reference_key()
    booked_in = reference_submission(request.reference, secret)
    if booked_in is None:
        await _refuse(run, request.booker, f"'{request.reference}' is not a booking reference the hub has given out")
    if run.ref("cancelled") is None:
        # In order: of two cancellations of one booking (the form and an e-mail reply), the
        # first cancels it and the second is told it is gone — never both at once.
        async with run.in_order(request.reference), run.step("cancel_booking"):  # two for one booking
            booking = await ports.calendar.find_booking(request.reference)
            if booking is None:
                await _refuse(run, request.booker, f"there is no booking {request.reference} (already cancelled?)")
            if (booking.organizer_email or "").lower() != request.booker:
                await _refuse(run, request.booker, f"booking {request.reference} was made with another address")
            await asyncio.to_thread(run.ledger.update_data, run.item.id, reference=request.reference,
                                    room=booking.room_id, start=booking.start.isoformat(),
                                    end=booking.end.isoformat())
            await ports.calendar.cancel(request.reference)
            await run.remember("cancelled", system="calendar", kind="event", ref=request.reference, key=request.reference)
            original = await asyncio.to_thread(run.ledger.get_item, SERVICE, str(booked_in))
            if original is not None:
                await asyncio.to_thread(run.ledger.update_data, original.id, cancelled_by=run.item.source_key)
    data = (await asyncio.to_thread(run.ledger.item, run.item.id)).data or {}
    room = next((r for r in await ports.calendar.list_rooms() if r.id == data.get("room")), None)
    cancelled = Booking(external_ref=request.reference, room_id=str(data.get("room")), summary="",
                        start=datetime.fromisoformat(str(data["start"])), end=datetime.fromisoformat(str(data["end"])))
    async with run.step("cancelled_mail"):
        await _send_once(run, "cancelled_mail", cancelled_mail(run.item.source_key, request.booker, cancelled,
                                                               room.name if room else cancelled.room_id,
                                                               cancel_channels(settings)))
    return f"cancelled {request.reference}"
