"""iCalendar for bookings: the event the hub writes, reading events back, slot markers, free/busy.

Events carry local Europe/Oslo times with a ``VTIMEZONE`` (the compact RRULE form calendar
clients write), so the attached ``.ics`` shows the right wall-clock time in every client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

__all__ = ["OSLO", "PRODID", "ParsedEvent", "event_ics", "parse_event", "parse_events", "marker_ics",
           "parse_marker", "parse_free_busy", "busy_periods", "cut_busy", "merge_busy", "MARKER_BOOKING"]

OSLO = ZoneInfo("Europe/Oslo")
PRODID = "-//OsloMet//tjenesteplattform hub//NO"
MARKER_BOOKING = "X-OSLOMET-BOOKING"  # on a slot marker: the UID of the booking holding the slot
ROOM_PROPERTY = "X-OSLOMET-ROOM"

_OSLO_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Oslo
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    start: datetime
    end: datetime
    summary: str
    organizer_email: str | None
    room_id: str | None
    transparent: bool


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    return calendar


def event_ics(*, uid: str, room_id: str, room_name: str, start: datetime, end: datetime, summary: str,
              organizer_email: str, description: str, now: datetime) -> bytes:
    """The booking as a VCALENDAR with one VEVENT (local Oslo times, compact VTIMEZONE)."""
    calendar = _calendar()
    calendar.add_component(Timezone.from_ical(_OSLO_VTIMEZONE.replace("\n", "\r\n")))
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("created", now.astimezone(UTC))
    event.add("dtstart", start.astimezone(OSLO))
    event.add("dtend", end.astimezone(OSLO))
    event.add("summary", summary)
    event.add("location", room_name)
    if description:
        event.add("description", description)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    event.add("organizer", organizer)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add(ROOM_PROPERTY, room_id)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _aware(value: Any) -> datetime:
    """DTSTART/DTEND as an aware datetime in Oslo (a floating time is read as Oslo time; an
    all-day date as midnight)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=OSLO)).astimezone(OSLO)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=OSLO)
    raise ValueError(f"not a date or time: {value!r}")


def _from_component(component: Any) -> ParsedEvent:
    start = _aware(component.decoded("dtstart"))
    if component.get("dtend") is not None:
        end = _aware(component.decoded("dtend"))
    elif component.get("duration") is not None:
        end = start + component.decoded("duration")
    else:
        all_day = not isinstance(component.decoded("dtstart"), datetime)
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    organizer = str(component.get("organizer") or "")
    email = organizer[7:] if organizer.lower().startswith("mailto:") else organizer or None
    room = component.get(ROOM_PROPERTY)
    return ParsedEvent(uid=str(component.get("uid", "")), start=start, end=end,
                       summary=str(component.get("summary", "")), organizer_email=email,
                       room_id=str(room) if room is not None else None,
                       transparent=str(component.get("transp", "OPAQUE")).upper() == "TRANSPARENT")


def parse_events(ics: bytes) -> list[ParsedEvent]:
    """Every VEVENT (masters and overrides) in an iCalendar object (raises ``ValueError``)."""
    calendar = Calendar.from_ical(ics)
    return [_from_component(c) for c in calendar.walk("VEVENT")]


def parse_event(ics: bytes) -> ParsedEvent:
    events = parse_events(ics)
    if not events:
        raise ValueError("no VEVENT in the calendar object")
    return events[0]


def marker_ics(*, room_id: str, slot_start: datetime, slot_end: datetime, booking_uid: str,
               now: datetime) -> bytes:
    """A slot marker: 'this room's slot is held by booking <uid>' (transparent, UTC times)."""
    calendar = _calendar()
    event = Event()
    event.add("uid", f"slot-{room_id.lower()}-{slot_start.astimezone(UTC):%Y%m%dT%H%MZ}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", slot_start.astimezone(UTC))
    event.add("dtend", slot_end.astimezone(UTC))
    event.add("summary", f"{room_id}: slot held by booking {booking_uid}")
    event.add("transp", "TRANSPARENT")
    event.add(ROOM_PROPERTY, room_id)
    event.add(MARKER_BOOKING, booking_uid)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def parse_marker(ics: bytes) -> str | None:
    """The booking UID a slot marker names (None if it names none)."""
    for component in Calendar.from_ical(ics).walk("VEVENT"):
        value = component.get(MARKER_BOOKING)
        if value is not None:
            return str(value)
    return None


def parse_free_busy(ics: bytes) -> list[tuple[datetime, datetime]]:
    """The busy periods (FBTYPE BUSY, BUSY-TENTATIVE, BUSY-UNAVAILABLE) of a VFREEBUSY, in Oslo time."""
    periods: list[tuple[datetime, datetime]] = []
    for component in Calendar.from_ical(ics).walk("VFREEBUSY"):
        values = component.get("freebusy")
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            if str(value.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            start, until = value.dt
            end = start + until if isinstance(until, timedelta) else until
            periods.append((_aware(start), _aware(end)))
    return sorted(periods)


BusyPeriod = tuple[datetime, datetime, str]  # start, end (UTC), FBTYPE
RECURRENCE = ("rrule", "rdate", "exdate", "recurrence-id")  # an event with one of these recurs


def _fbtype(component: Any) -> str | None:
    """FBTYPE of an event as a CalDAV server's free-busy-query gives it (RFC 4791 §7.10; the rules
    of Radicale's ``_fbtype_for_component``): None if it is transparent, FREE if cancelled."""
    if str(component.get("transp", "")).strip().upper() not in ("", "OPAQUE"):
        return None
    status = str(component.get("status", "")).strip().upper()
    return {"": "BUSY", "CONFIRMED": "BUSY", "CANCELLED": "FREE", "TENTATIVE": "BUSY-TENTATIVE"}.get(status, "BUSY")


def busy_periods(ics: bytes) -> list[BusyPeriod] | None:
    """The free/busy periods of an iCalendar object, in UTC: each event's time with its FBTYPE
    as a server's free-busy-query gives it (transparent events left out). None when that takes
    the server's own reading: a recurring event (expanding it is the server's job), a time that
    is floating or an all-day date (its zone is the server's choice), or an event with no end
    (servers differ). Raises ``ValueError`` on bad iCalendar."""
    periods: list[BusyPeriod] = []
    for component in Calendar.from_ical(ics).walk("VEVENT"):
        if any(component.get(name) is not None for name in RECURRENCE):
            return None
        first = component.decoded("dtstart")
        if component.get("dtend") is not None:
            last = component.decoded("dtend")
        elif component.get("duration") is not None:
            last = first + component.decoded("duration")
        else:
            return None  # no length: RFC 5545 says none, Radicale's free/busy gives it a second
        if not all(isinstance(t, datetime) and t.tzinfo is not None for t in (first, last)):
            return None
        fbtype = _fbtype(component)
        if fbtype is not None:
            periods.append((first.astimezone(UTC), last.astimezone(UTC), fbtype))
    return periods


def cut_busy(periods: list[BusyPeriod], start: datetime, end: datetime) -> list[BusyPeriod]:
    """The periods cut to [start, end) (a free-busy-query's range); what is left of none is dropped."""
    return [(max(s, start), min(e, end), t) for s, e, t in periods if max(s, start) < min(e, end)]


def merge_busy(periods: list[BusyPeriod]) -> list[tuple[datetime, datetime]]:
    """Busy periods as a VFREEBUSY lists them, in Oslo time: overlapping and adjacent periods
    of the same FBTYPE merged, FREE ones left out, in order (what :func:`parse_free_busy`
    reads from a server's answer)."""
    merged: list[tuple[datetime, datetime]] = []
    for fbtype in sorted({p[2] for p in periods} - {"FREE"}):
        spans = sorted((s, e) for s, e, t in periods if t == fbtype)
        current_start, current_end = spans[0]
        for span_start, span_end in spans[1:]:
            if span_start <= current_end:
                current_end = max(current_end, span_end)
            else:
                merged.append((current_start, current_end))
                current_start, current_end = span_start, span_end
        merged.append((current_start, current_end))
    return sorted((s.astimezone(OSLO), e.astimezone(OSLO)) for s, e in merged)
