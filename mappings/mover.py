"""HR (DFØ) change of unit, manager or position → the personnel file, the managers, IT (pure).

A *mover* keeps the employment but changes unit, manager or position. The change note is
journalled in the personnel file (an internal note, N); the old and the new manager get one
e-mail each; a move to another campus opens an equipment ticket to move the laptop(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.ports.archive import Document, NewJournalEntry
from hub.ports.hr import Employee
from hub.ports.mail import OutgoingMail
from hub.ports.ticketing import Asset, NewTicket
from mappings.dfo_to_noark import MASKED
from mappings.employment import Move
from mappings.pdf import letter_pdf

__all__ = ["Names", "change_note_pdf", "change_note_entry", "manager_mails", "campus_ticket"]


class Names:
    """What a person reads instead of ids: unit and position names, manager names."""

    def __init__(self, *, from_unit: str, to_unit: str, from_title: str, to_title: str) -> None:
        self.from_unit, self.to_unit = from_unit, to_unit
        self.from_title, self.to_title = from_title, to_title


def _what(move: Move, names: Names) -> list[str]:
    changes = []
    if move.from_unit != move.to_unit:
        changes.append(f"unit: {names.from_unit} → {names.to_unit}")
    if move.from_position != move.to_position:
        changes.append(f"position: {names.from_title} → {names.to_title}")
    if move.from_manager != move.to_manager:
        changes.append("manager changed")
    if move.campus_changed:
        changes.append(f"campus: {move.from_location} → {move.to_location}")
    return changes


def change_note_pdf(employee: Employee, move: Move, names: Names, *, date_: datetime) -> bytes:
    return letter_pdf(
        sender="OsloMet – storbyuniversitetet, HR", recipient=[employee.full_name],
        date=date_, title="Endring i arbeidsforhold",
        paragraphs=[f"Endring registrert i DFØ, gjeldende fra {move.effective:%d.%m.%Y}:",
                    *[f"- {c}" for c in _what(move, names)]],
        signature="HR-avdelingen", reference=f"DFØ {employee.id}")


def change_note_entry(employee: Employee, pdf: bytes, key: str, *, date_: datetime) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=f"mover:{key}:note", title=f"Endring i arbeidsforhold – {employee.full_name}",
        public_title=f"Endring i arbeidsforhold – {MASKED}", journal_type="N", document_date=date_,
        documents=(Document(title="Endring i arbeidsforhold", filename=f"endring-{employee.id}.pdf", content=pdf),))


def manager_mails(employee: Employee, move: Move, names: Names, key: str, *, old: Employee | None,
                  new: Employee | None, domain: str = "hub.oslomet.no") -> list[tuple[str, OutgoingMail]]:
    """(role, mail) for the old and the new manager — one each, none to a manager without an
    e-mail, one only when both are the same person."""
    changes = "; ".join(_what(move, names))
    found: list[tuple[str, OutgoingMail]] = []
    for role, manager in (("old", old), ("new", new)):
        if manager is None or not manager.email or any(m.to == (manager.email,) for _, m in found):
            continue
        leaving = role == "old" and move.from_manager != move.to_manager
        lines = [f"Hei {manager.first_name},", "",
                 (f"{employee.full_name} no longer reports to you from {move.effective:%d.%m.%Y}."
                  if leaving else f"{employee.full_name} reports to you from {move.effective:%d.%m.%Y}."),
                 f"Registered in DFØ: {changes}.", "",
                 "The change is noted in the personnel file. Nothing is needed from you now.", "",
                 "— OsloMet tjenesteplattform (automatic message)"]
        found.append((role, OutgoingMail(
            to=(manager.email,), subject=f"Change of employment: {employee.full_name}", body="\n".join(lines),
            message_id=f"<mover-{key.replace(':', '-').replace('>', '_')}-{role}@{domain}>")))
    return found


def campus_ticket(employee: Employee, move: Move, laptops: Sequence[Asset], key: str, *, queue: str,
                  requestor: str | None) -> NewTicket:
    listed = [f"- {a.name}{f' ({a.model})' if a.model else ''}, asset #{a.id}" for a in laptops]
    body = "\n".join([f"An employee moves from campus {move.from_location} to {move.to_location} on "
                      f"{move.effective.isoformat()}. Move or re-register the laptop(s) they hold.", "",
                      f"Name: {employee.full_name}", f"DFØ employee id: {employee.id}",
                      f"E-mail: {employee.email or '(none)'}", "", "Laptops held:", *listed, "",
                      "Opened automatically by the mover service (tjenesteplattform hub)."])
    return NewTicket(external_ref=f"mover:{key}:equipment", queue=queue,
                     subject=f"Move equipment to {move.to_location}: DFØ employee {employee.id} "
                             f"({move.effective.isoformat()})",
                     body=body, requestor=requestor, due=move.effective)
