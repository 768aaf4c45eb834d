"""HR (DFØ) end of employment → tickets, letters and the manager's checklist (pure).

``sluttdato`` is the last day of the employment. The user account is deactivated on the last
*working* day (:func:`last_working_day`: weekends and Norwegian public holidays are skipped
backwards). Ticket subjects carry the DFØ employee id and the date, never a name or a
fødselsnummer (bodies name the person, for IT); public archive titles mask the name.

Glossary: *sluttbrev* = end-of-employment letter; *innleveringskvittering* = return receipt;
*personalmappe* = personnel file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from hub.ports.archive import Correspondent, Document, NewJournalEntry
from hub.ports.hr import Employee
from hub.ports.mail import OutgoingMail
from hub.ports.ticketing import Asset, NewTicket
from mappings.dfo_to_noark import MASKED
from mappings.pdf import letter_pdf

__all__ = ["last_working_day", "norwegian_holidays", "leaver_ids", "deactivate_ticket", "collection_ticket",
           "end_letter_pdf", "end_letter_entry", "return_receipt_pdf", "return_receipt_entry", "checklist_mail",
           "end_date_matches"]


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def norwegian_holidays(year: int) -> frozenset[date]:
    """Public holidays (helligdager) in Norway: fixed days and those that follow Easter."""
    easter = _easter(year)
    moving = (-3, -2, 0, 1, 39, 49, 50)  # skjærtorsdag, langfredag, påske, 2. påskedag, Kr. himmelfart, pinse
    fixed = ((1, 1), (5, 1), (5, 17), (12, 25), (12, 26))
    return frozenset({easter + timedelta(days=n) for n in moving} | {date(year, m, d) for m, d in fixed})


def last_working_day(end: date) -> date:
    """The last working day on or before ``end`` (a Saturday end → the Friday before)."""
    day = end
    while day.weekday() >= 5 or day in norwegian_holidays(day.year):
        day -= timedelta(days=1)
    return day


def end_date_matches(employee: Employee, end: date) -> bool:
    """HR still says the employment ends on ``end`` (else the scheduled run stops cleanly)."""
    return employee.end_date == end


class leaver_ids:  # noqa: N801 - a namespace of key builders
    """External keys of what the leaver service writes, per employee and end date (stable: a
    re-run finds its records)."""

    @staticmethod
    def account_ticket(employee_id: str, end: date) -> str:
        return f"leaver:{employee_id}:{end.isoformat()}:deactivate"

    @staticmethod
    def collection_ticket(employee_id: str, end: date) -> str:
        return f"leaver:{employee_id}:{end.isoformat()}:collect-laptops"

    @staticmethod
    def end_letter(employee_id: str, end: date) -> str:
        return f"leaver:{employee_id}:{end.isoformat()}:sluttbrev"

    @staticmethod
    def return_receipt(employee_id: str, end: date, asset_id: str) -> str:
        return f"leaver:{employee_id}:{end.isoformat()}:return:{asset_id}"


def _facts(employee: Employee, unit_name: str, end: date) -> list[str]:
    return [f"Name: {employee.full_name}", f"DFØ employee id: {employee.id}",
            f"Username: {employee.username or '(none)'}", f"E-mail: {employee.email or '(none)'}",
            f"Unit: {unit_name}", f"End of employment (sluttdato): {end.isoformat()}",
            f"Last working day: {last_working_day(end).isoformat()}"]


def deactivate_ticket(employee: Employee, *, unit_name: str, end: date, queue: str,
                      requestor: str | None) -> NewTicket:
    last = last_working_day(end)
    body = "\n".join(["An employee leaves OsloMet. Deactivate the user account at the end of the last "
                      "working day.", "", *_facts(employee, unit_name, end), "",
                      "Opened automatically by the leaver service (tjenesteplattform hub)."])
    return NewTicket(external_ref=leaver_ids.account_ticket(employee.id, end), queue=queue,
                     subject=f"Deactivate user account: DFØ employee {employee.id} (last working day {last})",
                     body=body, requestor=requestor, due=last)


def collection_ticket(employee: Employee, laptops: Sequence[Asset], *, unit_name: str, end: date, queue: str,
                      requestor: str | None) -> NewTicket:
    listed = [f"- {a.name}{f' ({a.model})' if a.model else ''}, asset #{a.id}" for a in laptops]
    body = "\n".join(["Collect the laptop(s) the leaving employee holds, by the last working day. Resolve this "
                      "ticket when every laptop is back: the hub then returns them to stock and files the "
                      "return receipt in the personnel file.", "", *_facts(employee, unit_name, end), "",
                      "Laptops held:", *listed, "",
                      "Opened automatically by the leaver service (tjenesteplattform hub)."])
    return NewTicket(external_ref=leaver_ids.collection_ticket(employee.id, end), queue=queue,
                     subject=f"Collect laptop(s): DFØ employee {employee.id} (last working day "
                             f"{last_working_day(end)})",
                     body=body, requestor=requestor, due=last_working_day(end))


def end_letter_pdf(employee: Employee, *, unit_name: str, end: date, date_: datetime, hr_contact: str) -> bytes:
    return letter_pdf(
        sender="OsloMet – storbyuniversitetet, HR", recipient=[employee.full_name, employee.email or ""],
        date=date_, title="Bekreftelse på avsluttet arbeidsforhold",
        paragraphs=[f"Kjære {employee.first_name},",
                    f"Vi bekrefter at arbeidsforholdet ditt ved {unit_name} avsluttes {end:%d.%m.%Y}. "
                    f"Siste arbeidsdag er {last_working_day(end):%d.%m.%Y}.",
                    "Brukerkontoen din deaktiveres etter siste arbeidsdag. Utstyr du har lånt (bærbar PC) "
                    "leveres til IT innen siste arbeidsdag.",
                    f"Takk for innsatsen! Har du spørsmål, kontakt oss på {hr_contact}."],
        signature="Med vennlig hilsen, HR-avdelingen", reference=f"DFØ {employee.id}")


def end_letter_entry(employee: Employee, pdf: bytes, *, end: date, date_: datetime) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=leaver_ids.end_letter(employee.id, end), title=f"Sluttbrev – {employee.full_name}",
        public_title=f"Sluttbrev – {MASKED}", journal_type="U", document_date=date_, sent_date=date_,
        correspondents=(Correspondent(kind="EM", name=employee.full_name, email=employee.email),),
        documents=(Document(title="Sluttbrev", filename=f"sluttbrev-{employee.id}.pdf", content=pdf),))


def return_receipt_pdf(employee: Employee, asset: Asset, *, date_: datetime) -> bytes:
    return letter_pdf(
        sender="OsloMet – storbyuniversitetet, IT", recipient=[employee.full_name, employee.email or ""],
        date=date_, title="Innleveringskvittering – bærbar PC",
        paragraphs=[f"IT har mottatt {asset.name}{f' ({asset.model})' if asset.model else ''} i retur "
                    f"{date_:%d.%m.%Y}.", "Maskinen er tilbakestilt og satt tilbake på lager."],
        signature="IT-avdelingen", reference=f"DFØ {employee.id}, eiendel {asset.id}")


def return_receipt_entry(employee: Employee, asset: Asset, pdf: bytes, *, end: date,
                         date_: datetime) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=leaver_ids.return_receipt(employee.id, end, asset.id),
        title=f"Innleveringskvittering {asset.name} – {employee.full_name}",
        public_title=f"Innleveringskvittering {asset.name} – {MASKED}", journal_type="I", document_date=date_,
        received_date=date_, correspondents=(Correspondent(kind="EA", name=employee.full_name, email=employee.email),),
        documents=(Document(title="Innleveringskvittering", filename=f"innlevering-{employee.id}-{asset.id}.pdf",
                            content=pdf),))


def checklist_mail(employee: Employee, manager: Employee, *, end: date, tickets: dict[str, str],
                   laptops: Sequence[Asset], case_number: str | None, domain: str = "hub.oslomet.no") -> OutgoingMail:
    """The manager's checklist for the leaver (``tickets``: purpose → id or URL)."""
    if not manager.email:
        raise ValueError("the manager has no e-mail address")
    last = last_working_day(end)
    lines = [f"Hei {manager.first_name},", "",
             f"{employee.full_name} leaves on {end:%d.%m.%Y} (last working day {last:%d.%m.%Y}).",
             "The leaver service has:",
             f"- filed the end-of-employment letter in the personnel file{f' (case {case_number})' if case_number else ''};",
             *[f"- opened the ticket '{purpose}': {ref}" for purpose, ref in tickets.items()],
             (f"- asked IT to collect: {', '.join(a.name for a in laptops)}." if laptops
              else "- found no laptop registered to them."),
             "", "Your checklist:",
             "- hand over or archive work files and shared mailboxes before the last working day;",
             "- collect keys and access cards;",
             "- make sure the laptop(s) above reach IT;",
             "- hold the exit conversation.", "",
             "— OsloMet tjenesteplattform (automatic message)"]
    return OutgoingMail(to=(manager.email,), subject=f"Leaving your unit: {employee.full_name}, {end:%d.%m.%Y}",
                        body="\n".join(lines), message_id=f"<leaver-{employee.id}-{end.isoformat()}-manager@{domain}>")
