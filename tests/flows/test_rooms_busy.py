"""Placing one room request reads each room's free/busy once (``flows.rooms_steps.RoomsBusy``):
the reading that picks the room to try also gives the alternatives, and a room lost to a race
is read again, so the alternatives never offer the time just lost."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flows.rooms_steps import RoomsBusy, book_first_free, nearest_free
from hub.errors import Conflict
from hub.ports.calendar import Booking, NewBooking
from hub.settings import OSLO
from mappings.rooms import BookingRules, RoomRequest, alternatives_window, nearest_alternatives
from tests.flows.fakes import MemoryCalendar
from tests.mappings.test_rooms import ROOMS

RULES = BookingRules()


class CountingCalendar(MemoryCalendar):
    """Counts the free/busy questions per room; ``lose_race`` names rooms whose time is taken by
    someone else at the moment a booking is tried (after the hub read them free)."""

    def __init__(self) -> None:
        super().__init__(list(ROOMS))
        self.asked: list[str] = []  # by the hub, not by the calendar's own booking check
        self.lose_race: set[str] = set()
        self._booking = False

    async def busy(self, room_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        if not self._booking:
            self.asked.append(room_id)
        return await super().busy(room_id, start, end)

    async def book(self, new: NewBooking) -> Booking:
        self._booking = True
        try:
            if new.room_id in self.lose_race:
                self.lose_race.discard(new.room_id)
                await super().book(new.model_copy(update={"external_ref": f"racer-{new.room_id}"}))
                raise Conflict(f"room {new.room_id} was taken meanwhile", system="calendar", status=409)
            return await super().book(new)
        finally:
            self._booking = False


def _day() -> date:
    return datetime.now(OSLO).date() + timedelta(days=2)


def _at(hhmm: str, day: date | None = None) -> datetime:
    return datetime.combine(day or _day(), datetime.strptime(hhmm, "%H:%M").time(), OSLO)


def _request(n: int, start: str = "10:00", end: str = "12:00", room: str = "any", people: int = 4) -> RoomRequest:
    now = datetime.now(OSLO)
    return RoomRequest(submission_id=n, submitted=now, reference=f"gr-{n}-test", booker="kari@oslomet.no",
                       room=room, min_capacity=people, start=_at(start), end=_at(end), purpose="Kollokvie")


async def _fill(calendar: MemoryCalendar, start: str, end: str) -> None:
    for room in ROOMS:
        await calendar.book(NewBooking(external_ref=f"full-{room.id}", room_id=room.id, start=_at(start),
                                       end=_at(end), summary="Eksamen", organizer_email="ola@oslomet.no"))


async def _place(calendar: CountingCalendar, request: RoomRequest) -> tuple[tuple[Booking, object] | None, list]:
    now = datetime.now(OSLO)
    busy = RoomsBusy(calendar, *alternatives_window(request, now=now, rules=RULES))
    booked = await book_first_free(calendar, request, list(ROOMS), busy)
    if booked is not None:
        return booked, []
    return None, await nearest_free(busy, request, list(ROOMS), now=now, rules=RULES, count=3)


async def test_no_room_free_reads_each_room_once_and_offers_what_fresh_readings_would() -> None:
    calendar = CountingCalendar()
    await _fill(calendar, "09:00", "13:00")
    request = _request(1)

    booked, alternatives = await _place(calendar, request)

    assert booked is None
    candidates = [r for r in ROOMS if r.capacity >= request.min_capacity]
    assert sorted(calendar.asked) == sorted(r.id for r in candidates)  # once each, not twice
    now = datetime.now(OSLO)
    start, end = alternatives_window(request, now=now, rules=RULES)
    fresh = {r.id: await MemoryCalendar.busy(calendar, r.id, start, end) for r in candidates}
    assert alternatives == nearest_alternatives(request, candidates, fresh, now=now, rules=RULES, count=3)
    assert len(alternatives) == 3 and not calendar.bookings.keys() - {f"full-{r.id}" for r in ROOMS}


async def test_a_free_room_is_booked_after_reading_only_the_rooms_before_it() -> None:
    calendar = CountingCalendar()
    request = _request(2)
    first, second = sorted((r for r in ROOMS if r.capacity >= 4), key=lambda r: (r.capacity, r.id))[:2]
    await calendar.book(NewBooking(external_ref="other", room_id=first.id, start=_at("11:00"), end=_at("12:00"),
                                   summary="Møte", organizer_email="ola@oslomet.no"))

    booked, _ = await _place(calendar, request)

    assert booked is not None and booked[0].room_id == second.id
    assert calendar.asked == [first.id, second.id]


async def test_a_room_lost_to_a_race_is_read_again_and_its_lost_time_is_not_offered() -> None:
    calendar = CountingCalendar()
    request = _request(3)
    # Every room is full at the time asked except one, read free, which a racer takes when
    # the hub tries it.
    fitting = sorted((r for r in ROOMS if r.capacity >= 4), key=lambda r: (r.capacity, r.id))
    last = fitting[-1]
    for room in fitting[:-1]:
        await calendar.book(NewBooking(external_ref=f"full-{room.id}", room_id=room.id, start=_at("09:00"),
                                       end=_at("13:00"), summary="Eksamen", organizer_email="ola@oslomet.no"))
    calendar.lose_race.add(last.id)

    booked, alternatives = await _place(calendar, request)

    assert booked is None and f"racer-{last.id}" in calendar.bookings
    assert calendar.asked.count(last.id) == 2  # read, lost, read again for the alternatives
    for alternative in alternatives:
        assert not (alternative.room.id == last.id and alternative.start < request.end
                    and alternative.end > request.start), alternative
        assert await MemoryCalendar.busy(calendar, alternative.room.id, alternative.start, alternative.end) == []


async def test_a_time_outside_the_window_is_asked_of_the_calendar() -> None:
    calendar = CountingCalendar()
    request = _request(4)
    busy = RoomsBusy(calendar, *alternatives_window(request, now=datetime.now(OSLO), rules=RULES))
    later = _day() + timedelta(days=5)
    await calendar.book(NewBooking(external_ref="later", room_id=ROOMS[0].id, start=_at("10:00", later),
                                   end=_at("11:00", later), summary="Møte", organizer_email="ola@oslomet.no"))

    assert await busy.taken(ROOMS[0].id, _at("10:30", later), _at("12:00", later)) is True
    assert await busy.taken(ROOMS[0].id, _at("11:00", later), _at("12:00", later)) is False
    assert calendar.asked == [ROOMS[0].id, ROOMS[0].id]  # each asked directly, nothing kept
