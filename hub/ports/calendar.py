"""Calendar port: group rooms as resource calendars, and bookings in them (CalDAV first).

A booking carries an external reference (its iCalendar UID), so ``book`` for the same
request finds the existing event instead of writing a second one, and ``cancel`` can find
it again. ``book`` must never create a double booking, also when two requests race for the
same slot: the loser gets :class:`~hub.errors.Conflict`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = ["Room", "NewBooking", "Booking", "CalendarPort"]


class Room(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable room id, e.g. 'P35-U101'")
    name: str
    capacity: int
    url: str | None = None


class NewBooking(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_ref: str = Field(description="Becomes the event's UID")
    room_id: str
    start: datetime
    end: datetime
    summary: str
    organizer_email: str
    description: str = ""


class Booking(BaseModel):
    external_ref: str
    room_id: str
    start: datetime
    end: datetime
    summary: str
    organizer_email: str | None = None
    url: str | None = None
    ics: bytes | None = Field(None, repr=False, description="The event as iCalendar, for an e-mail attachment")


class CalendarPort(Protocol):
    async def list_rooms(self) -> list[Room]: ...

    async def busy(self, room_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Busy intervals of the room overlapping [start, end)."""
        ...

    async def find_booking(self, external_ref: str) -> Booking | None: ...

    async def book(self, new: NewBooking) -> Booking:
        """Create the event, or return the existing one with this external ref. Raises
        ``Conflict`` if the slot is taken (never a double booking, also under races)."""
        ...

    async def cancel(self, external_ref: str) -> bool:
        """Delete the booking; False if there was none. Frees the slot."""
        ...

    async def prune_past(self, before: datetime | None = None) -> int:
        """Drop the bookkeeping the adapter keeps for slots that ended at or before ``before``
        (default: now), so its cost does not grow with history. Bookings of days that have ended
        may move to an archive the adapter keeps (still on the server, no longer found by
        ``find_booking``). Returns how many items (adapter-specific units) were removed or moved.
        The rooms batch calls it once a run."""
        ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
