"""Group-room booking mappings: reading and validating requests, choosing rooms, the three
nearest alternatives, references, and the e-mails (golden files)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hub.ports.calendar import Booking, Room
from hub.ports.forms import Answer, Submission, SubmissionMeta
from hub.settings import OSLO
from mappings.rooms import (
    Alternative,
    BookingRules,
    RoomRequest,
    alternatives_window,
    booking_reference,
    fitting_rooms,
    nearest_alternatives,
    new_booking,
    read_cancellation,
    read_request,
    reference_in_address,
    reference_submission,
)
from mappings.rooms_mail import (
    CancelChannels,
    alternatives_mail,
    cancel_refused_mail,
    cancelled_mail,
    confirmation_mail,
    rejection_mail,
    when,
)

SECRET = "test-secret"
NOW = datetime(2026, 11, 26, 9, 40, tzinfo=OSLO)  # a Thursday
ROOMS = [Room(id="P35-U101", name="Grupperom U101 (Pilestredet 35)", capacity=4),
         Room(id="P35-U102", name="Grupperom U102 (Pilestredet 35)", capacity=6),
         Room(id="P46-G210", name="Grupperom G210 (Pilestredet 46)", capacity=8),
         Room(id="P52-A301", name="Grupperom A301 (Pilestredet 52)", capacity=12)]


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), OSLO)


def submission(submission_id: int = 2000101, **answers: Any) -> Submission:
    values: dict[str, Any] = {"booker": "kari@oslomet.no", "room": "any", "min_capacity": "5",
                              "date": date(2026, 11, 30), "start": "10:00", "end": "12:00",
                              "purpose": "Kollokvie i DATA1100"}
    values.update(answers)
    built = []
    for key, value in values.items():
        if value is None:
            continue
        if key == "room":
            built.append(Answer(external_id=key, element_type="SELECT", options=(value,)))
        elif key == "min_capacity":
            built.append(Answer(external_id=key, element_type="NUMBER", text=str(value),
                                number=Decimal(str(value).replace(",", "."))))
        elif key == "date":
            built.append(Answer(external_id=key, element_type="DATE", text=f"{value:%d.%m.%Y}", date=value))
        else:
            built.append(Answer(external_id=key, element_type="QUESTION", text=value))
    meta = SubmissionMeta(form_id=404103, submission_id=submission_id, created=NOW - timedelta(minutes=5))
    return Submission(meta=meta, answers=tuple(built))


def valid(**answers: Any) -> RoomRequest:
    request, problems = read_request(submission(**answers), ROOMS, now=NOW, secret=SECRET)
    assert request is not None, problems
    return request


def test_reads_a_valid_request(golden) -> None:
    request = valid(start="10.00", end=" 12:00 ", room="p35-u102")
    golden("rooms_request", request)
    assert request.start == _at(date(2026, 11, 30), "10:00") and request.start.tzinfo == OSLO
    assert request.room == "P35-U102" and request.min_capacity == 5
    assert request.reference == booking_reference(2000101, SECRET) and request.reference.startswith("gr-2000101-")


@pytest.mark.parametrize(("answers", "problem"), [
    ({"booker": "kari"}, "'kari' is not a Feide id"),
    ({"room": "X-999"}, "the room 'X-999' does not exist"),
    ({"room": None}, "no room was chosen"),
    ({"room": "P35-U101", "min_capacity": "6"}, "P35-U101 takes 4 people, not 6"),
    ({"min_capacity": "13"}, "no group room takes 13 people (the largest takes 12)"),
    ({"min_capacity": "2,5"}, "whole number"),
    ({"min_capacity": None}, "the number of people is missing"),
    ({"date": None}, "the date is missing"),
    ({"start": "ti"}, "the start time 'ti' is not a time like 10:15"),
    ({"end": "25:00"}, "the end time '25:00' is not a time"),
    ({"start": "12:00", "end": "10:00"}, "the end time must be after the start time"),
    ({"start": "07:30", "end": "09:00"}, "between 08:00 and 20:00"),
    ({"start": "18:00", "end": "20:15"}, "between 08:00 and 20:00"),
    ({"start": "10:00", "end": "14:15"}, "at most 4 hours (this one: 4.25)"),
    ({"start": "10:10", "end": "11:00"}, "15-minute grid"),
    ({"date": date(2026, 11, 26), "start": "09:30", "end": "10:00"}, "the time has already passed"),
    ({"date": date(2026, 12, 11)}, "at most 14 days ahead (last day now: 10.12.2026)"),
    ({"purpose": ""}, "the purpose is missing"),
])
def test_invalid_requests_say_what_is_wrong(answers: dict[str, Any], problem: str) -> None:
    request, problems = read_request(submission(**answers), ROOMS, now=NOW, secret=SECRET)
    assert request is None and any(problem in p for p in problems), problems


def test_bookable_edges_are_accepted() -> None:
    assert valid(start="08:00", end="12:00").end - valid(start="08:00", end="12:00").start == timedelta(hours=4)
    assert valid(start="19:45", end="20:00").end == _at(date(2026, 11, 30), "20:00")
    assert valid(date=date(2026, 12, 10)).start.date() == date(2026, 12, 10)  # exactly 14 days ahead
    assert valid(date=date(2026, 11, 26), start="10:00", end="10:15").start > NOW  # later today


def test_a_fødselsnummer_in_free_text_is_masked() -> None:
    request = valid(purpose="Veiledning for 05499024837")
    assert "05499024837" not in request.purpose and "*" in request.purpose
    _, problems = read_request(submission(start="05499024837"), ROOMS, now=NOW, secret=SECRET)
    assert not any("05499024837" in p for p in problems)


def test_references_cannot_be_guessed_and_are_found_in_text_and_addresses() -> None:
    reference = booking_reference(2000101, SECRET)
    assert reference == booking_reference(2000101, SECRET) != booking_reference(2000101, "other")
    assert reference_submission(f"Avbestill {reference.upper()}, takk", SECRET) == 2000101
    assert reference_submission("gr-2000101-aaaaaa", SECRET) is None  # a made-up token
    assert reference_submission("gr-2000102" + reference[10:], SECRET) is None  # another booking's token
    assert reference_in_address(f"Avbestill+{reference}@tjenesteplattform.oslomet.no", mailbox="avbestill") == reference
    assert reference_in_address("avbestill@tjenesteplattform.oslomet.no", mailbox="avbestill") is None
    assert reference_in_address("kari@oslomet.no", mailbox="avbestill") is None


def test_reads_a_cancellation() -> None:
    reference = booking_reference(2000101, SECRET)
    sub = Submission(meta=SubmissionMeta(form_id=404104, submission_id=3000001, created=NOW), answers=(
        Answer(external_id="booker", element_type="QUESTION", text="Kari@OsloMet.no"),
        Answer(external_id="booking_ref", element_type="QUESTION", text=f" Ref: {reference.upper()} ")))
    cancel, problems = read_cancellation(sub)
    assert cancel is not None and cancel.booker == "kari@oslomet.no" and cancel.reference == reference, problems
    bad = Submission(meta=sub.meta, answers=(Answer(external_id="booking_ref", element_type="QUESTION", text="123"),))
    cancel, problems = read_cancellation(bad)
    assert cancel is None and len(problems) == 2 and "not a booking reference" in problems[1]


def test_rooms_that_fit_smallest_first_or_just_the_chosen_one() -> None:
    assert [r.id for r in fitting_rooms(valid(min_capacity="5"), ROOMS)] == ["P35-U102", "P46-G210", "P52-A301"]
    assert [r.id for r in fitting_rooms(valid(room="P46-G210"), ROOMS)] == ["P46-G210"]
    booking = new_booking(valid(room="P46-G210"), ROOMS[2])
    assert booking.external_ref == valid().reference and booking.organizer_email == "kari@oslomet.no"
    assert booking.summary == "Grupperom: Kollokvie i DATA1100"


def test_alternatives_prefer_other_rooms_at_the_same_time_then_the_chosen_room(golden) -> None:
    request = valid(room="P35-U102")  # Monday 30.11 10:00-12:00 for 5 people; U102 is taken then
    day = date(2026, 11, 30)
    busy = {"P35-U102": [(_at(day, "10:00"), _at(day, "12:00"))],
            "P46-G210": [(_at(day, "08:00"), _at(day, "14:00"))]}
    found = nearest_alternatives(request, ROOMS, busy, now=NOW)
    golden("rooms_alternatives_other_rooms", found)
    assert [(a.room.id, a.start) for a in found] == [
        ("P52-A301", _at(day, "10:00")),   # the same time in another room that holds 5
        ("P35-U102", _at(day, "08:00")),   # 2 h away: the chosen room before A301 at 08:00 or 12:00
        ("P35-U102", _at(day, "12:00"))]
    assert all(a.room.capacity >= 5 for a in found)  # U101 (4 seats) is never offered


def test_alternatives_are_the_nearest_free_times_and_never_overlap_in_one_room() -> None:
    request = valid(min_capacity="10", start="12:00", end="14:00")  # only A301 holds 10
    day = date(2026, 11, 30)
    busy = {"P52-A301": [(_at(day, "11:00"), _at(day, "14:15")), (_at(day, "15:00"), _at(day, "16:00"))]}
    found = nearest_alternatives(request, ROOMS, busy, now=NOW)
    assert [(a.start, a.end) for a in found] == [
        (_at(day, "09:00"), _at(day, "11:00")),   # 3 h earlier
        (_at(day, "16:00"), _at(day, "18:00")),   # 4 h later
        (_at(day, "18:00"), _at(day, "20:00"))]   # 6 h later: 14:15-16:15 overlaps the 15:00 booking
    for first, second in zip(found, found[1:], strict=False):
        assert not (first.start < second.end and second.start < first.end)


def test_alternatives_stay_in_the_future_and_within_the_horizon() -> None:
    request = valid(date=date(2026, 11, 26), start="10:00", end="12:00", min_capacity="10")  # today, from 10
    full = {"P52-A301": [(_at(date(2026, 11, 26), "08:00"), _at(date(2026, 11, 27), "20:00"))]}
    found = nearest_alternatives(request, ROOMS, full, now=NOW)
    assert found == []  # today and tomorrow full; yesterday is past
    start, end = alternatives_window(request, now=NOW, rules=BookingRules())
    assert start == _at(date(2026, 11, 26), "08:00") and end == _at(date(2026, 11, 27), "20:00")


def _booking(request: RoomRequest, room: Room) -> Booking:
    return Booking(external_ref=request.reference, room_id=room.id, start=request.start, end=request.end,
                   summary="Grupperom", organizer_email=request.booker, ics=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


def test_confirmation_mail_has_the_ics_the_reference_and_both_ways_to_cancel(golden) -> None:
    request = valid(room="P35-U102")
    mail = confirmation_mail(request, _booking(request, ROOMS[1]), ROOMS[1], CancelChannels())
    golden("rooms_confirmation_mail", mail)
    assert mail.reply_to == f"avbestill+{request.reference}@tjenesteplattform.oslomet.no"
    assert mail.attachments[0].media_type == "text/calendar"
    assert mail.attachments[0].filename == f"grupperom-{request.reference}.ics"
    assert request.reference in mail.body and "https://nettskjema.no/a/404104" in mail.body
    assert "mandag 30.11.2026 kl. 10:00–12:00" in mail.subject


def test_alternatives_rejection_and_cancellation_mails(golden) -> None:
    request = valid(room="P35-U102")
    alternatives = [Alternative(room=ROOMS[3], start=request.start, end=request.end)]
    golden("rooms_alternatives_mail", alternatives_mail(request, alternatives))
    assert "Ingenting er reservert" in alternatives_mail(request, alternatives).body
    assert "Prøv en annen dag" in alternatives_mail(request, []).body
    rejected = rejection_mail(2000101, "kari@oslomet.no", ["the purpose is missing"])
    golden("rooms_rejection_mail", rejected)
    assert "- the purpose is missing" in rejected.body and rejected.message_id == "<rooms-2000101-rejected@hub.oslomet.no>"
    cancelled = cancelled_mail("3000001", "kari@oslomet.no", _booking(request, ROOMS[1]), ROOMS[1].name)
    assert request.reference in cancelled.body and cancelled.subject.startswith("Grupperom avbestilt")
    refused = cancel_refused_mail("mail-abc", "ola@oslomet.no", "booking gr-1-abcdef was made with another address")
    assert refused.to == ("ola@oslomet.no",) and "another address" in refused.body


def test_when_is_norwegian_local_time_also_across_dst() -> None:
    summer = datetime(2026, 6, 1, 8, 0, tzinfo=OSLO)
    assert when(summer, summer + timedelta(hours=2)) == "mandag 01.06.2026 kl. 08:00–10:00"
    utc = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert when(utc, utc + timedelta(hours=1)) == "mandag 30.11.2026 kl. 09:00–10:00"


def test_a_booker_address_the_validator_refuses_is_a_problem() -> None:
    """The Feide pattern lets ``kari@oslomet..no`` through; email-validator does not."""
    request, problems = read_request(submission(booker="kari@oslomet..no"), ROOMS, now=NOW, secret=SECRET)
    assert request is None
    assert problems == ["the address 'kari@oslomet..no' is not valid: An email address cannot have two periods "
                        "in a row."]
