"""E-mails of the group-room service: confirmed (with the .ics), nothing free (three
alternatives), rejected, cancelled, and a cancellation that could not be done.

Every confirmation says how to cancel: reply to it (its ``Reply-To`` is
``avbestill+<reference>@<domain>``) or fill in the form "Avbestille grupperom" with the
reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.ports.calendar import Booking, Room
from hub.ports.mail import Attachment, OutgoingMail
from mappings.rooms import OSLO, Alternative, RoomRequest

__all__ = ["CancelChannels", "cancel_address", "when", "confirmation_mail", "alternatives_mail",
           "rejection_mail", "cancelled_mail", "cancel_refused_mail"]

_SIGNATURE = "— OsloMet tjenesteplattform (automatisk melding)"
_WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")


@dataclass(frozen=True)
class CancelChannels:
    """How a booker cancels: the reply address's mailbox and domain, and the form's URL."""

    mailbox: str = "avbestill"
    domain: str = "tjenesteplattform.oslomet.no"
    form_url: str = "https://nettskjema.no/a/404104"
    message_domain: str = "hub.oslomet.no"


def cancel_address(reference: str, channels: CancelChannels) -> str:
    return f"{channels.mailbox}+{reference}@{channels.domain}"


def when(start: datetime, end: datetime) -> str:
    """``fredag 27.11.2026 kl. 10:00–12:00`` (Europe/Oslo)."""
    start, end = start.astimezone(OSLO), end.astimezone(OSLO)
    return f"{_WEEKDAYS[start.weekday()]} {start:%d.%m.%Y} kl. {start:%H:%M}–{end:%H:%M}"


def _message_id(submission_id: int | str, what: str, channels: CancelChannels) -> str:
    return f"<rooms-{submission_id}-{what}@{channels.message_domain}>"


def confirmation_mail(request: RoomRequest, booking: Booking, room: Room,
                      channels: CancelChannels = CancelChannels()) -> OutgoingMail:
    reply_to = cancel_address(request.reference, channels)
    lines = ["Hei,", "", "Grupperommet er reservert til deg:", "",
             f"  Rom:       {room.name}",
             f"  Tid:       {when(booking.start, booking.end)}",
             f"  Plasser:   {room.capacity} (dere er {request.min_capacity})",
             f"  Formål:    {request.purpose}",
             f"  Referanse: {request.reference}", "",
             "Kalenderoppføringen ligger ved (.ics) – åpne den for å legge den i kalenderen din.", "",
             "Trenger dere ikke rommet likevel? Avbestill, så andre kan bruke det:",
             f"- svar på denne e-posten (svaret går til {reply_to}), eller",
             f"- fyll ut skjemaet «Avbestille grupperom» ({channels.form_url}) med referansen "
             f"{request.reference}.", "", _SIGNATURE]
    attachments: tuple[Attachment, ...] = ()
    if booking.ics:
        attachments = (Attachment(filename=f"grupperom-{request.reference}.ics", content=booking.ics,
                                  media_type="text/calendar"),)
    return OutgoingMail(to=(request.booker,), subject=f"Grupperom reservert: {room.name}, "
                        f"{when(booking.start, booking.end)}", body="\n".join(lines),
                        message_id=_message_id(request.submission_id, "confirmed", channels),
                        attachments=attachments, reply_to=reply_to)


def alternatives_mail(request: RoomRequest, alternatives: Sequence[Alternative],
                      channels: CancelChannels = CancelChannels()) -> OutgoingMail:
    wanted = "et grupperom" if request.room == "any" else f"rom {request.room}"
    lines = ["Hei,", "", f"Vi fant ikke {wanted} for {request.min_capacity} personer "
             f"{when(request.start, request.end)}: det er opptatt.", ""]
    if alternatives:
        lines += ["Disse er ledige nå (nærmest ønsket tidspunkt først):", ""]
        lines += [f"  {i}. {a.room.name} ({a.room.id}, {a.room.capacity} plasser), {when(a.start, a.end)}"
                  for i, a in enumerate(alternatives, 1)]
        lines += ["", "Ingenting er reservert ennå: send et nytt skjema «Bestille grupperom» med rommet "
                  "og tiden du vil ha."]
    else:
        lines += ["Vi fant heller ingen ledige rom dagen før eller etter. Prøv en annen dag."]
    lines += ["", f"(Bestilling i Nettskjema nr. {request.submission_id}.)", "", _SIGNATURE]
    return OutgoingMail(to=(request.booker,), subject=f"Grupperom: ikke ledig {when(request.start, request.end)}"
                        " – forslag til andre tider", body="\n".join(lines),
                        message_id=_message_id(request.submission_id, "alternatives", channels))


def rejection_mail(submission_id: int, booker: str, problems: Sequence[str],
                   channels: CancelChannels = CancelChannels()) -> OutgoingMail:
    lines = ["Hei,", "", "Vi kunne ikke behandle bestillingen din av grupperom, fordi:",
             *[f"- {p}" for p in problems], "",
             "Grupperom kan bestilles for hele kvarter mellom 08:00 og 20:00, i inntil 4 timer, "
             "og inntil 14 dager fram i tid. Send et nytt skjema når dette er rettet.", "", _SIGNATURE]
    return OutgoingMail(to=(booker,), subject="Bestillingen av grupperom kunne ikke behandles",
                        body="\n".join(lines), message_id=_message_id(submission_id, "rejected", channels))


def cancelled_mail(key: str, booker: str, booking: Booking, room_name: str,
                   channels: CancelChannels = CancelChannels()) -> OutgoingMail:
    lines = ["Hei,", "", f"Reservasjonen {booking.external_ref} er avbestilt, og rommet er ledig for andre:", "",
             f"  Rom: {room_name}", f"  Tid: {when(booking.start, booking.end)}", "", _SIGNATURE]
    return OutgoingMail(to=(booker,), subject=f"Grupperom avbestilt: {room_name}, {when(booking.start, booking.end)}",
                        body="\n".join(lines), message_id=_message_id(key, "cancelled", channels))


def cancel_refused_mail(key: str, booker: str, reason: str,
                        channels: CancelChannels = CancelChannels()) -> OutgoingMail:
    lines = ["Hei,", "", "Vi kunne ikke avbestille grupperommet:", f"- {reason}", "",
             "Sjekk referansen i bekreftelsen (gr-…) og at du avbestiller med samme e-postadresse som "
             "bestilte rommet.", "", _SIGNATURE]
    return OutgoingMail(to=(booker,), subject="Avbestillingen av grupperom kunne ikke gjennomføres",
                        body="\n".join(lines), message_id=_message_id(key, "cancel-refused", channels))
