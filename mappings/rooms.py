"""Bestille grupperom (book a group room): read and validate a request, pick rooms, find
alternatives. Pure functions; the e-mails are in :mod:`mappings.rooms_mail`.

A request is valid when the booker is a Feide address, the room exists (or is ``any``) and
holds the group, and the time is bookable: on the booking grid (quarter hours), between
08:00 and 20:00 Europe/Oslo, at most 4 hours, not in the past and at most 14 days ahead.

The booking reference (``gr-<submission>-<token>``) is the event's UID and what the booker
quotes to cancel. Its token is an HMAC of the submission id, so a reference cannot be
guessed from a submission number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from hub.ports.calendar import NewBooking, Room
from hub.ports.forms import Submission
from hub.privacy import mask
from hub.text import email_problem

__all__ = ["ANY_ROOM", "OSLO", "BookingRules", "RoomRequest", "Alternative", "CancelRequest",
           "booking_reference", "reference_submission", "read_request", "read_cancellation", "fitting_rooms",
           "new_booking", "alternatives_window", "nearest_alternatives", "reference_in_address", "booker_problem"]

OSLO = ZoneInfo("Europe/Oslo")
ANY_ROOM = "any"
_FEIDE = re.compile(r"^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}$")
_CLOCK = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")
_REFERENCE = re.compile(r"\bgr-(\d{1,12})-([a-z2-7]{6})\b", re.IGNORECASE)
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BookingRules:
    opens: time = time(8, 0)
    closes: time = time(20, 0)
    max_hours: float = 4.0
    horizon_days: int = 14
    slot_minutes: int = 15


class RoomRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    submission_id: int
    submitted: datetime
    reference: str
    booker: str
    room: str  # a room id, or ANY_ROOM
    min_capacity: int
    start: datetime
    end: datetime
    purpose: str


class CancelRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    booker: str
    reference: str


class Alternative(BaseModel):
    model_config = ConfigDict(frozen=True)

    room: Room
    start: datetime
    end: datetime


# ---- references ------------------------------------------------------------------------

def _token(submission_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"rooms:{submission_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:6].lower()


def booking_reference(submission_id: int, secret: str) -> str:
    return f"gr-{submission_id}-{_token(submission_id, secret)}"


def reference_submission(text: str, secret: str) -> int | None:
    """The submission id of a genuine reference found in ``text`` (None if none is)."""
    for match in _REFERENCE.finditer(text or ""):
        submission_id = int(match.group(1))
        if hmac.compare_digest(match.group(2).lower(), _token(submission_id, secret)):
            return submission_id
    return None


def reference_in_address(address: str, *, mailbox: str) -> str | None:
    """``avbestill+gr-12-abcdef@host`` → ``gr-12-abcdef`` (sub-addressing, RFC 5233)."""
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    prefix = f"{mailbox.lower()}+"
    return local[len(prefix):] if local.startswith(prefix) and len(local) > len(prefix) else None


# ---- reading the forms -------------------------------------------------------------------

def _text(sub: Submission, key: str) -> str:
    answer = sub.answer(key)
    return (answer.text or "").strip() if answer else ""


def booker_problem(booker: str) -> str | None:
    """None if ``booker`` is a Feide id (an e-mail address) the hub can write to; else why not."""
    if not _FEIDE.match(booker):
        return f"'{mask(booker) or '(empty)'}' is not a Feide id like name@oslomet.no"
    problem = email_problem(booker)
    return f"the address '{mask(booker)}' is not valid: {problem}" if problem else None


def _clock(value: str) -> time | None:
    match = _CLOCK.match(value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _room_problems(choice: str, wanted: int | None, rooms: Sequence[Room]) -> list[str]:
    if not choice:
        return ["no room was chosen"]
    if choice != ANY_ROOM and not any(r.id.lower() == choice.lower() for r in rooms):
        return [f"the room '{choice}' does not exist (rooms: {', '.join(sorted(r.id for r in rooms))})"]
    if wanted is None:
        return []
    if choice == ANY_ROOM:
        largest = max((r.capacity for r in rooms), default=0)
        return [] if wanted <= largest else [f"no group room takes {wanted} people (the largest takes {largest})"]
    room = next(r for r in rooms if r.id.lower() == choice.lower())
    return [] if wanted <= room.capacity else [f"{room.id} takes {room.capacity} people, not {wanted}"]


def _time_problems(day: date, start: time, end: time, now: datetime, rules: BookingRules) -> list[str]:
    problems = []
    if end <= start:
        return ["the end time must be after the start time"]
    if start < rules.opens or end > rules.closes:
        problems.append(f"group rooms can be booked between {rules.opens:%H:%M} and {rules.closes:%H:%M}")
    hours = (datetime.combine(day, end) - datetime.combine(day, start)) / timedelta(hours=1)
    if hours > rules.max_hours:
        problems.append(f"a booking can last at most {rules.max_hours:g} hours (this one: {hours:g})")
    if start.minute % rules.slot_minutes or end.minute % rules.slot_minutes:
        problems.append(f"start and end must be on the {rules.slot_minutes}-minute grid (e.g. 10:00, 10:15)")
    today = now.astimezone(OSLO).date()
    if datetime.combine(day, start, OSLO) <= now:
        problems.append("the time has already passed")
    elif day > today + timedelta(days=rules.horizon_days):
        problems.append(f"rooms can be booked at most {rules.horizon_days} days ahead "
                        f"(last day now: {today + timedelta(days=rules.horizon_days):%d.%m.%Y})")
    return problems


def read_request(sub: Submission, rooms: Sequence[Room], *, now: datetime, secret: str,
                 rules: BookingRules = BookingRules()) -> tuple[RoomRequest | None, list[str]]:
    """The request, or None and every problem found."""
    problems: list[str] = []
    booker = _text(sub, "booker").lower()
    if problem := booker_problem(booker):
        problems.append(problem)
    answer = sub.answer("room")
    choice = answer.options[0] if answer and answer.options else ""
    capacity = sub.answer("min_capacity")
    wanted: int | None = None
    if capacity is None or capacity.number is None:
        problems.append("the number of people is missing")
    elif capacity.number != int(capacity.number) or capacity.number < 1:
        problems.append("the number of people must be a whole number of at least 1")
    else:
        wanted = int(capacity.number)
    problems += _room_problems(choice, wanted, rooms)
    day_answer = sub.answer("date")
    day = day_answer.date if day_answer else None
    start, end = _clock(_text(sub, "start")), _clock(_text(sub, "end"))
    if day is None:
        problems.append("the date is missing")
    for label, raw, parsed in (("start", _text(sub, "start"), start), ("end", _text(sub, "end"), end)):
        if parsed is None:
            problems.append(f"the {label} time '{mask(raw) or '(empty)'}' is not a time like 10:15")
    if day is not None and start is not None and end is not None:
        problems += _time_problems(day, start, end, now, rules)
    purpose = _text(sub, "purpose")
    if not purpose:
        problems.append("the purpose is missing")
    if problems or day is None or start is None or end is None or wanted is None:
        return None, problems
    room = choice if choice == ANY_ROOM else next(r.id for r in rooms if r.id.lower() == choice.lower())
    return RoomRequest(submission_id=sub.meta.submission_id, submitted=sub.meta.created,
                       reference=booking_reference(sub.meta.submission_id, secret), booker=booker, room=room,
                       min_capacity=wanted, start=datetime.combine(day, start, OSLO),
                       end=datetime.combine(day, end, OSLO), purpose=mask(purpose[:200])), []


def read_cancellation(sub: Submission) -> tuple[CancelRequest | None, list[str]]:
    """A cancellation from the form "Avbestille grupperom" (the reference is checked later)."""
    problems = []
    booker = _text(sub, "booker").lower()
    if problem := booker_problem(booker):
        problems.append(problem)
    reference = _text(sub, "booking_ref").lower()
    match = _REFERENCE.search(reference)
    if not match:
        problems.append(f"'{mask(reference) or '(empty)'}' is not a booking reference like gr-123-abcdef")
    if problems or match is None:
        return None, problems
    return CancelRequest(booker=booker, reference=match.group(0).lower()), []


# ---- choosing rooms and alternatives ------------------------------------------------------

def fitting_rooms(request: RoomRequest, rooms: Sequence[Room]) -> list[Room]:
    """The rooms to try, in order: the chosen one; or for ``any`` every room that holds the
    group, smallest first (big rooms stay free for big groups)."""
    if request.room != ANY_ROOM:
        return [r for r in rooms if r.id == request.room and r.capacity >= request.min_capacity]
    return sorted((r for r in rooms if r.capacity >= request.min_capacity), key=lambda r: (r.capacity, r.id))


def new_booking(request: RoomRequest, room: Room) -> NewBooking:
    return NewBooking(external_ref=request.reference, room_id=room.id, start=request.start, end=request.end,
                      summary=f"Grupperom: {request.purpose}"[:120], organizer_email=request.booker,
                      description=f"Booked by {request.booker} for {request.min_capacity} people "
                                  f"(Nettskjema {request.submission_id}). Reference: {request.reference}.")


def alternatives_window(request: RoomRequest, *, now: datetime, rules: BookingRules) -> Interval:
    """Where alternatives are looked for: the day before to the day after, within what is bookable."""
    today = now.astimezone(OSLO).date()
    first = max(request.start.date() - timedelta(days=1), today)
    last = min(request.start.date() + timedelta(days=1), today + timedelta(days=rules.horizon_days))
    return datetime.combine(first, rules.opens, OSLO), datetime.combine(last, rules.closes, OSLO)


def _overlaps(start: datetime, end: datetime, intervals: Sequence[Interval]) -> bool:
    return any(s < end and e > start for s, e in intervals)


def nearest_alternatives(request: RoomRequest, rooms: Sequence[Room], busy: Mapping[str, Sequence[Interval]], *,
                         now: datetime, rules: BookingRules = BookingRules(), count: int = 3) -> list[Alternative]:
    """The ``count`` free (room, time) pairs nearest the request: other rooms that hold the
    group at the same time first, then the nearest free times (same length, on the grid,
    within opening hours). Ties: the chosen room, then smaller rooms. Two alternatives in
    the same room never overlap."""
    duration = request.end - request.start
    window_start, window_end = alternatives_window(request, now=now, rules=rules)
    step = timedelta(minutes=rules.slot_minutes)
    candidates: list[tuple[tuple[float, int, int, str, datetime], Alternative]] = []
    day = window_start.date()
    while day <= window_end.date():
        moment = datetime.combine(day, rules.opens, OSLO)
        while moment + duration <= datetime.combine(day, rules.closes, OSLO):
            if moment > now:
                for room in rooms:
                    if room.capacity < request.min_capacity:
                        continue
                    if room.id == request.room and moment == request.start:
                        continue
                    if _overlaps(moment, moment + duration, busy.get(room.id, ())):
                        continue
                    key = (abs((moment - request.start).total_seconds()), 0 if room.id == request.room else 1,
                           room.capacity, room.id, moment)
                    candidates.append((key, Alternative(room=room, start=moment, end=moment + duration)))
            moment += step
        day += timedelta(days=1)
    chosen: list[Alternative] = []
    for _, alternative in sorted(candidates, key=lambda c: c[0]):
        if any(a.room.id == alternative.room.id and a.start < alternative.end and alternative.start < a.end
               for a in chosen):
            continue
        chosen.append(alternative)
        if len(chosen) == count:
            break
    return chosen
