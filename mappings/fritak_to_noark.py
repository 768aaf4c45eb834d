"""Fritak application and decision → Noark 5 records and letters.

The case file (saksmappe) "Søknad om fritak – <course codes> – <name>" has the name masked
in its public title. The application is an incoming (I) journalpost: the submission PDF is
the main document (H), each attachment a vedlegg (V); the applicant is the sender (EA).
The decision letter is an outgoing (U) journalpost to the applicant (EM).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.ports.archive import Correspondent, Document, NewCaseFile, NewJournalEntry
from mappings.dfo_to_noark import MASKED
from mappings.fritak import COURSES, Decision, FritakApplication
from mappings.pdf import letter_pdf

__all__ = ["case_file", "application_entry", "decision_letter_pdf", "decision_entry", "external_id"]


def external_id(submission_id: int, what: str = "sak") -> str:
    return f"fritak:{submission_id}:{what}"


def case_file(app: FritakApplication, *, series: str = "Sakarkiv") -> NewCaseFile:
    return NewCaseFile(
        external_id=external_id(app.submission_id),
        title=f"Søknad om fritak – {app.course_list} – {app.name}",
        public_title=f"Søknad om fritak – {app.course_list} – {MASKED}",
        series=series,
        status="B",
    )


def application_entry(app: FritakApplication, submission_pdf: bytes,
                      attachments: Sequence[tuple[str, bytes]]) -> NewJournalEntry:
    """``attachments``: (filename, bytes) in the order the applicant gave them."""
    documents = [Document(title="Søknad om fritak", filename=f"soknad-{app.submission_id}.pdf",
                          content=submission_pdf, role="H")]
    documents += [Document(title=f"Vedlegg {i}: {name}", filename=name, content=data, role="V")
                  for i, (name, data) in enumerate(attachments, start=1)]
    return NewJournalEntry(
        external_id=external_id(app.submission_id, "soknad"),
        title=f"Søknad om fritak – {app.course_list} – {app.name}",
        public_title=f"Søknad om fritak – {app.course_list} – {MASKED}",
        journal_type="I",
        document_date=app.submitted,
        received_date=app.submitted,
        correspondents=(Correspondent(kind="EA", name=app.name, email=app.email),),
        documents=tuple(documents),
    )


def _verdict_lines(decision: Decision) -> list[str]:
    words = {"approved": "innvilget", "rejected": "avslått"}
    return [f"- {code} {COURSES.get(code, '')}: {words[v]}" for code, v in decision.verdicts.items()]


def decision_letter_pdf(app: FritakApplication, decision: Decision, *, date: datetime) -> bytes:
    heading = {"approve": "Søknaden om fritak er innvilget",
               "reject": "Søknaden om fritak er avslått",
               "partial": "Søknaden om fritak er delvis innvilget"}[decision.outcome]
    paragraphs = [
        f"Vi viser til søknaden din om fritak, mottatt {app.submitted.strftime('%d.%m.%Y')}.",
        "Vedtak per emne:",
        *_verdict_lines(decision),
        f"Begrunnelse: {decision.justification}",
        "Du kan klage på vedtaket innen tre uker fra du mottok dette brevet (forvaltningsloven § 29).",
    ]
    return letter_pdf(sender="OsloMet – storbyuniversitetet, Studieadministrasjonen",
                      recipient=[app.name, app.email], date=date, title=heading, paragraphs=paragraphs,
                      signature=f"Med vennlig hilsen, {decision.decided_by}",
                      reference=f"Nettskjema {app.submission_id}")


def decision_entry(app: FritakApplication, decision: Decision, pdf: bytes, *, date: datetime) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=external_id(app.submission_id, "vedtak"),
        title=f"Vedtak om fritak – {app.course_list} – {app.name}",
        public_title=f"Vedtak om fritak – {app.course_list} – {MASKED}",
        journal_type="U",
        document_date=date,
        sent_date=date,
        correspondents=(Correspondent(kind="EM", name=app.name, email=app.email),),
        documents=(Document(title="Vedtak om fritak", filename=f"vedtak-{app.submission_id}.pdf",
                            content=pdf, role="H"),),
    )
