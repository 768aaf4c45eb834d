"""HR (DFØ) hire → Noark 5 archive records: the personnel file and the welcome letter.

Glossary: *saksmappe* = case file; *Personalmappe* = an employee's personnel file;
*journalpost* = registry entry (U = outgoing); *offentligTittel* = the public title, in
which names are masked as ``*****``; *velkomstbrev* = welcome letter.
"""

from __future__ import annotations

from datetime import datetime

from hub.ports.archive import Correspondent, Document, NewCaseFile, NewJournalEntry
from mappings.hire import Hire, external_ids
from mappings.pdf import letter_pdf

__all__ = ["MASKED", "personnel_case_file", "welcome_letter_pdf", "welcome_letter_entry"]

MASKED = "*****"


def personnel_case_file(hire: Hire, *, series: str = "Personalarkiv") -> NewCaseFile:
    name = hire.employee.full_name
    return NewCaseFile(
        external_id=external_ids.personnel_file(hire.employee.id),
        title=f"Personalmappe – {name}",
        public_title=f"Personalmappe – {MASKED}",
        series=series,
        status="B",
    )


def welcome_letter_pdf(hire: Hire, *, date: datetime, hr_contact: str) -> bytes:
    e = hire.employee
    start = e.start_date.strftime("%d.%m.%Y") if e.start_date else "(dato kommer)"
    manager = hire.manager.full_name if hire.manager else "din leder"
    paragraphs = [
        f"Kjære {e.first_name},",
        f"Velkommen til OsloMet! Vi gleder oss til at du begynner som {hire.title.lower()} "
        f"ved {hire.unit_name} den {start}.",
        f"Før første arbeidsdag oppretter vi brukerkonto og gjør klar en bærbar PC til deg. "
        f"Brukernavnet ditt blir {e.username or '(tildeles)'}. Din nærmeste leder er {manager}, "
        f"som tar imot deg første dag.",
        f"Har du spørsmål før oppstart, kontakt oss på {hr_contact}.",
    ]
    return letter_pdf(
        sender="OsloMet – storbyuniversitetet, HR",
        recipient=[e.full_name, e.email or ""],
        date=date,
        title="Velkommen til OsloMet",
        paragraphs=paragraphs,
        signature="Med vennlig hilsen, HR-avdelingen",
        reference=f"DFØ {e.id}",
    )


def welcome_letter_entry(hire: Hire, pdf: bytes, *, date: datetime) -> NewJournalEntry:
    e = hire.employee
    return NewJournalEntry(
        external_id=external_ids.welcome_letter(e.id),
        title=f"Velkomstbrev – {e.full_name}",
        public_title=f"Velkomstbrev – {MASKED}",
        journal_type="U",
        document_date=date,
        sent_date=date,
        correspondents=(Correspondent(kind="EM", name=e.full_name, email=e.email),),
        documents=(Document(title="Velkomstbrev", filename=f"velkomstbrev-{e.id}.pdf", content=pdf,
                            media_type="application/pdf", role="H", document_type="B"),),
    )
