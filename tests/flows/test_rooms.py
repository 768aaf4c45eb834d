"""Group-room bookings, through the real ``room-bookings`` flow, with forms, calendar, inbox
and mail in memory: a request is booked and confirmed, a clash is answered with alternatives,
an invalid request is a dead letter the booker is told about, a cancellation frees the slot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from flows.rooms import room_bookings
from hub.errors import TransientError
from hub.ledger import ItemState
from hub.ports.calendar import NewBooking
from hub.ports.forms import Answer, Submission, SubmissionMeta
from hub.settings import OSLO
from tests.flows.conftest import Fakes
from tests.mappings.test_rooms import ROOMS, submission

CANCEL_FORM = 404104  # HUB_ROOMS__CANCEL_FORM_ID's default


def _day() -> date:
    """A day the rules accept whenever the test runs: two days ahead, within the 14-day horizon."""
    return datetime.now(OSLO).date() + timedelta(days=2)


def _at(hhmm: str) -> datetime:
    return datetime.combine(_day(), datetime.strptime(hhmm, "%H:%M").time(), OSLO)


def _request(hub: Fakes, submission_id: int, **answers: Any) -> None:
    hub.forms.submit(submission(submission_id, **{"date": _day(), **answers}))


def _item(hub: Fakes, key: int | str, service: str = "rooms") -> Any:
    item = hub.ledger.get_item(service, str(key))
    assert item is not None
    return item


async def test_a_request_is_booked_in_the_smallest_fitting_room_and_confirmed_with_the_event(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    _request(hub, 2000101, booker="kari@oslomet.no", min_capacity="5", start="10:00", end="12:00")

    counts = await room_bookings()

    assert counts == {"new": 1, "new_cancellations": 0, "handled": 1, "failed": 0}
    (booking,) = hub.calendar.bookings.values()
    assert (booking.room_id, booking.start, booking.end) == ("P35-U102", _at("10:00"), _at("12:00"))
    assert booking.organizer_email == "kari@oslomet.no" and booking.external_ref.startswith("gr-2000101-")
    (mail,) = hub.mail.sent
    assert mail.to == ("kari@oslomet.no",)
    assert mail.subject.startswith("Grupperom reservert: Grupperom U102 (Pilestredet 35)")
    assert booking.external_ref in mail.body
    assert [a.filename for a in mail.attachments] == [f"grupperom-{booking.external_ref}.ics"]
    assert mail.reply_to == f"avbestill+{booking.external_ref}@tjenesteplattform.oslomet.no"
    item = _item(hub, 2000101)
    assert item.state == ItemState.DONE and item.data["outcome"] == "booked" and item.data["room"] == "P35-U102"

    assert await room_bookings() == {"new": 0, "new_cancellations": 0, "handled": 0, "failed": 0}
    assert len(hub.calendar.bookings) == 1 and len(hub.mail.sent) == 1  # a second run writes nothing new
    assert hub.calendar.prunes == 2  # each run drops the bookkeeping of days that have ended


async def test_a_clash_is_answered_with_alternatives_and_nothing_is_booked(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    await hub.calendar.book(NewBooking(external_ref="someone-else", room_id="P35-U102", start=_at("09:00"),
                                       end=_at("13:00"), summary="Eksamen", organizer_email="ola@oslomet.no"))
    _request(hub, 2000102, room="P35-U102", min_capacity="5", start="10:00", end="12:00")

    counts = await room_bookings()

    assert counts["handled"] == 1 and counts["failed"] == 0
    assert list(hub.calendar.bookings) == ["someone-else"]  # the clash did not double-book
    (mail,) = hub.mail.sent
    assert mail.to == ("kari@oslomet.no",) and mail.subject.startswith("Grupperom: ikke ledig")
    item = _item(hub, 2000102)
    assert item.state == ItemState.DONE and item.data["outcome"] == "alternatives"
    offered = item.data["alternatives"]
    assert len(offered) == 3
    for alternative in offered:  # each one free, fitting, and named in the mail
        start, end = datetime.fromisoformat(alternative["start"]), datetime.fromisoformat(alternative["end"])
        assert await hub.calendar.busy(alternative["room"], start, end) == []
        assert next(r for r in ROOMS if r.id == alternative["room"]).capacity >= 5
        assert f"{start.astimezone(OSLO):%H:%M}" in mail.body


async def test_two_requests_for_the_last_room_get_one_booking_and_one_offer(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS if r.capacity >= 12}  # only A301 fits 12
    _request(hub, 2000103, booker="kari@oslomet.no", min_capacity="12")
    _request(hub, 2000104, booker="ola@oslomet.no", min_capacity="12")

    await room_bookings()

    (booking,) = hub.calendar.bookings.values()
    assert booking.organizer_email == "kari@oslomet.no"  # the earlier submission wins
    assert _item(hub, 2000103).data["outcome"] == "booked"
    assert _item(hub, 2000104).data["outcome"] == "alternatives"
    assert sorted((m.to, m.subject.split(":")[0]) for m in hub.mail.sent) == [  # two bookers: any order
        (("kari@oslomet.no",), "Grupperom reservert"), (("ola@oslomet.no",), "Grupperom")]


async def test_requests_are_read_side_by_side_but_the_earlier_one_still_gets_the_last_room(hub: Fakes) -> None:
    """A batch runs its items side by side (a slow answer for one does not hold up the rest),
    yet booking stays first come, first served: the earlier request is the slow one to read,
    and it still gets the only room that fits."""
    hub.calendar.rooms = {r.id: r for r in ROOMS if r.capacity >= 12}  # only A301 fits 12
    _request(hub, 2000111, booker="kari@oslomet.no", min_capacity="12")
    _request(hub, 2000112, booker="ola@oslomet.no", min_capacity="12")
    for later in range(2000113, 2000116):
        _request(hub, later, booker="per@oslomet.no", min_capacity="2")
    hub.forms.slow.update({k: 1.0 for k in range(2000112, 2000116)} | {2000111: 2.0})  # the first is slowest

    await room_bookings()

    assert hub.forms.most_read_at_once > 1, "the items of the batch were read one after the other"
    assert _item(hub, 2000111).data["outcome"] == "booked"
    assert _item(hub, 2000112).data["outcome"] == "alternatives"
    assert [b.organizer_email for b in hub.calendar.bookings.values()].count("kari@oslomet.no") == 1


async def test_requests_for_other_hours_book_side_by_side_and_overlapping_ones_stay_first_come(hub: Fakes) -> None:
    """Only requests for overlapping hours compete for a room: they book in the order they
    came, while requests for other hours, of the same day or another, book meanwhile (one slow
    calendar no longer books a day's requests one at a time)."""
    hub.calendar.rooms = {r.id: r for r in ROOMS if r.capacity >= 12}  # only A301 fits 12
    hub.calendar.slow_booking = 0.5
    later = _day() + timedelta(days=1)
    _request(hub, 2000121, booker="kari@oslomet.no", min_capacity="12", start="10:00", end="12:00")
    _request(hub, 2000122, booker="ola@oslomet.no", min_capacity="12", start="10:00", end="12:00", date=later)
    _request(hub, 2000123, booker="siv@oslomet.no", min_capacity="12", start="12:00", end="13:00")  # right after
    _request(hub, 2000124, booker="per@oslomet.no", min_capacity="12", start="11:00", end="12:30")  # overlaps both

    await room_bookings()

    assert hub.calendar.most_booked_at_once == 3, "requests for other hours were booked one after the other"
    assert _item(hub, 2000121).data["outcome"] == "booked"  # the first for its hours
    assert _item(hub, 2000122).data["outcome"] == "booked"  # alone on its day
    assert _item(hub, 2000123).data["outcome"] == "booked"  # the same day, the hours after the first
    assert _item(hub, 2000124).data["outcome"] == "alternatives"  # came after both, for the same room and hours


async def test_an_invalid_request_is_a_dead_letter_and_the_booker_is_told_why(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    _request(hub, 2000105, start="07:00", end="12:00", purpose="")

    counts = await room_bookings()

    assert counts["failed"] == 1
    item = _item(hub, 2000105)
    assert item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "the purpose is missing" in item.last_error and "between 08:00 and 20:00" in item.last_error
    assert hub.calendar.bookings == {}
    (mail,) = hub.mail.sent
    assert mail.to == ("kari@oslomet.no",) and mail.subject == "Bestillingen av grupperom kunne ikke behandles"
    assert "the purpose is missing" in mail.body


async def test_a_cancellation_by_form_frees_the_slot_and_is_confirmed(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    _request(hub, 2000106, booker="kari@oslomet.no")
    await room_bookings()
    (reference,) = hub.calendar.bookings
    hub.forms.submit(Submission(
        meta=SubmissionMeta(form_id=CANCEL_FORM, submission_id=2100001, created=datetime.now(OSLO)),
        answers=(Answer(external_id="booker", element_type="QUESTION", text="Kari@oslomet.no"),
                 Answer(external_id="booking_ref", element_type="QUESTION", text=reference))))

    counts = await room_bookings()

    assert counts == {"new": 0, "new_cancellations": 1, "handled": 1, "failed": 0}
    assert hub.calendar.bookings == {}
    assert _item(hub, 2100001, "rooms-cancel").state == ItemState.DONE
    assert [m.to for m in hub.mail.sent] == [("kari@oslomet.no",), ("kari@oslomet.no",)]
    assert reference in hub.mail.sent[1].body


async def test_a_cancellation_by_someone_else_is_refused_and_the_booking_stays(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    _request(hub, 2000107, booker="kari@oslomet.no")
    await room_bookings()
    (reference,) = hub.calendar.bookings
    hub.forms.submit(Submission(
        meta=SubmissionMeta(form_id=CANCEL_FORM, submission_id=2100002, created=datetime.now(OSLO)),
        answers=(Answer(external_id="booker", element_type="QUESTION", text="ola@oslomet.no"),
                 Answer(external_id="booking_ref", element_type="QUESTION", text=reference))))

    counts = await room_bookings()

    assert counts["failed"] == 1
    assert list(hub.calendar.bookings) == [reference]
    item = _item(hub, 2100002, "rooms-cancel")
    assert item.state == ItemState.FAILED and "was made with another address" in item.last_error
    assert hub.mail.sent[-1].to == ("ola@oslomet.no",)


async def test_a_calendar_that_lists_no_rooms_leaves_the_requests_waiting_and_nobody_told(hub: Fakes) -> None:
    """A calendar server (or a proxy before it) that answers with no room calendars at all is
    not the bookers' fault: the chaos bench saw every request rejected ("no group room takes 4
    people, the largest takes 0") and every booker e-mailed. The requests wait instead."""
    hub.calendar.rooms = {}
    _request(hub, 2000301, booker="kari@oslomet.no", min_capacity="4", start="10:00", end="11:00")
    with pytest.raises(TransientError, match="lists no group rooms"):  # the run fails: the calendar is wrong
        await room_bookings()
    assert _item(hub, 2000301).state == ItemState.PENDING and hub.mail.sent == []

    hub.calendar.rooms = {r.id: r for r in ROOMS}  # the calendar is back
    await room_bookings()
    assert _item(hub, 2000301).state == ItemState.DONE and len(hub.mail.sent) == 1


async def test_a_garbled_room_listing_is_read_again_within_the_run(hub: Fakes) -> None:
    """Under chaos one garbled PROPFIND answer failed the whole minute's run, three runs in a
    row, while fifty requests waited; the listing is now read again within the run."""
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    hub.calendar.garbled_listings = 1
    _request(hub, 2000401, booker="kari@oslomet.no", min_capacity="4", start="10:00", end="11:00")
    await room_bookings()
    assert _item(hub, 2000401).state == ItemState.DONE and hub.calendar.garbled_listings == 0


async def test_a_backlog_longer_than_a_page_is_handled_in_one_run_a_page_at_a_time(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog is read a page at a time (a worker holds one page, not 50,000 requests), and
    one run still goes on to the last page; the run's table keeps the first rows and says how
    many more there were."""
    import hub.flowkit as flowkit
    from hub.ledger import Ledger

    monkeypatch.setattr(flowkit, "PAGE", 3)
    monkeypatch.setattr(flowkit, "TABLE_ROWS", 4)
    pages: list[int] = []
    read_page = Ledger.due_items

    def counted(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        page = read_page(self, *args, **kwargs)
        if kwargs.get("limit") == 3 and args[0] == "rooms":
            pages.append(len(page))
        return page

    monkeypatch.setattr(Ledger, "due_items", counted)
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    for n in range(8):  # one an hour, so each gets the room it asks for
        _request(hub, 2000400 + n, min_capacity="4", start=f"{8 + n:02d}:00", end=f"{8 + n:02d}:45")

    counts = await room_bookings()

    assert counts == {"new": 8, "new_cancellations": 0, "handled": 8, "failed": 0}
    assert pages == [3, 3, 2, 0]
    assert len(hub.calendar.bookings) == 8 and len(hub.mail.sent) == 8
    assert all(_item(hub, 2000400 + n).state == ItemState.DONE for n in range(8))


def test_a_tally_keeps_the_first_rows_and_counts_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    import hub.flowkit as flowkit

    monkeypatch.setattr(flowkit, "TABLE_ROWS", 3)
    rows = [{"service": "rooms", "item": str(n), "state": ItemState.FAILED if n % 2 else ItemState.DONE,
             "outcome": "x"} for n in range(5)]
    tally = flowkit.Tally().add(rows[:2]).merge(flowkit.Tally().add(rows[2:]))
    assert (tally.handled, tally.failed) == (5, 2)
    assert [r.get("item") for r in tally.table()] == ["0", "1", "2", None]
    assert tally.table()[-1]["outcome"].startswith("2 more item(s) handled in this run, not shown here: "
                                                   "`hub items --service rooms` lists them")


async def test_a_long_batch_shows_its_progress_in_the_prefect_ui(hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that drains a backlog keeps a progress bar on its page: written as items end, at
    most every UPDATE_EVERY seconds, and at 100 % with the counts once the batch is through."""
    import prefect.artifacts
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import hub.progress as progress

    monkeypatch.setattr(progress, "MIN_ITEMS", 5)
    monkeypatch.setattr(progress, "UPDATE_EVERY", 0.0)
    shown: list[tuple[float, str | None]] = []
    update = prefect.artifacts.aupdate_progress_artifact

    async def watched(artifact_id: Any, value: float, description: str | None = None, **kw: Any) -> Any:
        shown.append((value, description))
        return await update(artifact_id, value, description=description, **kw)

    monkeypatch.setattr(prefect.artifacts, "aupdate_progress_artifact", watched)
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    for n in range(8):
        _request(hub, 2000500 + n, min_capacity="4", start=f"{8 + n:02d}:00", end=f"{8 + n:02d}:45")
    _request(hub, 2000508, start="07:00", end="12:00", purpose="")  # not valid: a dead letter

    state = await room_bookings(return_state=True)

    assert (await state.result())["handled"] == 9
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    (bar,) = [a for a in artifacts if a.key == "rooms-progress"]
    assert bar.type == "progress" and float(bar.data) == 100.0  # type: ignore[arg-type]
    assert bar.description == "rooms: 9 of 9 due items handled, 1 failed"
    assert len(shown) > 1 and shown[-1][0] == 100.0, shown  # updated while items ended, not only at the end
    assert [value for value, _ in shown] == sorted(value for value, _ in shown)
    assert not any(key in str(shown) for key in ("2000500", "kari@"))  # counts only


async def test_a_prefect_that_takes_no_progress_does_not_stop_the_batch(hub: Fakes,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.artifacts

    import hub.progress as progress

    async def refused(*_: Any, **__: Any) -> Any:
        raise RuntimeError("Prefect answered 503")

    monkeypatch.setattr(progress, "MIN_ITEMS", 1)
    monkeypatch.setattr(prefect.artifacts, "acreate_progress_artifact", refused)
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    _request(hub, 2000600, min_capacity="4", start="09:00", end="09:45")

    assert (await room_bookings())["handled"] == 1
    assert _item(hub, 2000600).state == ItemState.DONE


class _LookingCalendar:
    """Wraps the memory calendar: counts ``find_booking`` calls, records the item's steps in the
    ledger as each booking is made, and ``lose_responses`` bookings are made but answered with a
    lost response (the fault of a write whose answer never came)."""

    def __init__(self, hub: Fakes, lose_responses: int = 0) -> None:
        self.hub, self.lose_responses = hub, lose_responses
        self.looked = 0
        self.steps_at_booking: list[dict[str, str]] = []
        self._book, self._find = hub.calendar.book, hub.calendar.find_booking
        hub.calendar.book, hub.calendar.find_booking = self.book, self.find_booking  # type: ignore[method-assign]

    async def find_booking(self, external_ref: str) -> Any:
        self.looked += 1
        return await self._find(external_ref)

    async def book(self, new: NewBooking) -> Any:
        key = new.external_ref.split("-")[1]
        self.steps_at_booking.append({s.name: s.state for s in _item(self.hub, key).steps})
        booking = await self._book(new)
        if self.lose_responses > 0:
            self.lose_responses -= 1
            raise TransientError("the calendar's answer to the booking was lost", system="calendar")
        return booking


async def test_a_first_attempt_does_not_look_for_an_earlier_booking_and_is_in_the_ledger_before_it_books(
        hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    calendar = _LookingCalendar(hub)
    _request(hub, 2000401, booker="kari@oslomet.no", min_capacity="5", start="10:00", end="12:00")

    await room_bookings()

    assert _item(hub, 2000401).data["outcome"] == "booked"
    assert calendar.looked == 0  # nothing to find: no attempt before this one
    assert calendar.steps_at_booking == [{"read_request": "done", "book_room": "running"}]


async def test_a_booking_whose_answer_was_lost_is_found_by_the_next_attempt_not_made_twice(hub: Fakes) -> None:
    hub.calendar.rooms = {r.id: r for r in ROOMS}
    calendar = _LookingCalendar(hub, lose_responses=1)
    _request(hub, 2000402, booker="kari@oslomet.no", min_capacity="5", start="10:00", end="12:00")

    await room_bookings()
    await room_bookings()  # if the first run left it to the next

    (booking,) = hub.calendar.bookings.values()
    item = _item(hub, 2000402)
    assert item.state == ItemState.DONE and item.data["outcome"] == "booked"
    assert item.data["room"] == booking.room_id == "P35-U102"  # the booking made, not a second room's
    assert calendar.looked >= 1  # the retried attempt looked, and found it
    (mail,) = hub.mail.sent
    assert booking.external_ref in mail.body
