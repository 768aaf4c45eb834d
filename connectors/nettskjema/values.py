"""Typed values of Nettskjema's text answers: dates, times of day, date-times and numbers.

Nettskjema sends every DATE answer as text, whatever its element's ``dateFormat``:

- DATE ``"01.06.2023"`` → a date;
- TIME ``"12:00"`` → a time of day (Oslo wall-clock time, naive: no date, so no offset);
- DATE_TIME ``"12.06.2023 13:33"`` → a timezone-aware Europe/Oslo datetime, with its date and
  time of day. A wall time the clocks skip in spring (``29.03.2026 02:30``) does not exist and
  is refused; one they pass twice in autumn is read as the first (summer time, ``fold=0``).

``yyyy-mm-dd`` (and ``yyyy-mm-ddThh:mm``) is read as well; seconds are allowed. Anything
else — trailing text, a 13th month, ``25:00`` — raises :class:`AnswerError` naming the
element and the problem, never the value (it may hold a fødselsnummer).

NUMBER ``"4,5"`` (decimal comma, spaces or ``'`` as thousands separators) → ``Decimal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

__all__ = ["OSLO", "AnswerError", "When", "decode_when", "decode_date", "decode_number", "DATE_KINDS"]

OSLO = ZoneInfo("Europe/Oslo")

# Element types whose text answer is a date and/or a time (Nettskjema's own is DATE, with the
# format in the element's ``dateFormat``; TIME and DATE_TIME are read too).
DATE_KINDS = frozenset({"DATE", "TIME", "DATE_TIME", "DATETIME"})

_DMY = r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
_ISO = r"(?P<iyear>\d{4})-(?P<imonth>\d{2})-(?P<iday>\d{2})"
_HMS = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_DAY = re.compile(rf"{_DMY}|{_ISO}")
_CLOCK = re.compile(_HMS)
_PARTS = re.compile(r"(?P<day>\S+?)(?:[ T](?P<clock>\S+))?")
_SPACES = re.compile(r"[\s\u00a0\u202f']")

_EXPECTED = {"TIME": "expected a time as hh:mm", "DATE_TIME": "expected a date and time as dd.mm.yyyy hh:mm",
             "DATETIME": "expected a date and time as dd.mm.yyyy hh:mm"}


class AnswerError(ValueError):
    """An answer value that does not decode; ``field`` names it, the value is never kept."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class When:
    """A decoded date/time answer: what of it was given."""

    date: date | None = None
    time: time | None = None
    date_time: datetime | None = None


def _day(match: re.Match[str], field: str) -> date:
    parts = (match["year"], match["month"], match["day"]) if match["year"] else (
        match["iyear"], match["imonth"], match["iday"])
    try:
        return date(*(int(p) for p in parts))
    except ValueError:
        raise AnswerError(field, "not a calendar date") from None


def _clock(match: re.Match[str], field: str) -> time:
    try:
        return time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    except ValueError:
        raise AnswerError(field, "not a time of day") from None


def _in_oslo(day: date, clock: time, field: str) -> datetime:
    wall = datetime.combine(day, clock)
    aware = wall.replace(tzinfo=OSLO)  # fold=0: of a wall time passed twice, the first
    if aware.astimezone(UTC).astimezone(OSLO).replace(tzinfo=None) != wall:
        raise AnswerError(field, "a time the clocks skip in Europe/Oslo (summer time starts)")
    return aware


def decode_when(text: str, field: str, kind: str = "DATE") -> When:
    """A date, a time of day or both, as ``kind`` (an element type in :data:`DATE_KINDS`) allows:
    DATE takes any of the three, TIME a time only, DATE_TIME a date with a time."""
    value = text.strip()
    expected = _EXPECTED.get(kind, "expected a date as dd.mm.yyyy (or a time as hh:mm)")
    day: date | None = None
    clock: time | None = None
    if only_clock := _CLOCK.fullmatch(value):
        clock = _clock(only_clock, field)
    else:
        parts = _PARTS.fullmatch(value)
        day_match = _DAY.fullmatch(parts["day"]) if parts else None
        clock_match = _CLOCK.fullmatch(parts["clock"]) if parts and parts["clock"] else None
        if parts is None or day_match is None or (parts["clock"] and clock_match is None):
            raise AnswerError(field, expected)
        day = _day(day_match, field)
        clock = _clock(clock_match, field) if clock_match else None
    if (kind == "TIME" and day is not None) or (kind in ("DATE_TIME", "DATETIME") and (day is None or clock is None)):
        raise AnswerError(field, _EXPECTED[kind])
    if day is not None and clock is not None:
        return When(date=day, time=clock, date_time=_in_oslo(day, clock, field))
    return When(date=day, time=clock)


def decode_date(text: str, field: str) -> date | None:
    """``dd.mm.yyyy`` (optionally with a time) or ``yyyy-mm-dd`` → date; a time alone → None."""
    return decode_when(text, field).date


def decode_number(text: str, field: str) -> Decimal:
    """Norwegian number text (``"4,5"``, ``"1 234,5"``, ``"77"``) → Decimal."""
    value = _SPACES.sub("", text)
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AnswerError(field, "expected a number like 4,5") from None
    if not number.is_finite():
        raise AnswerError(field, "expected a finite number")
    return number
