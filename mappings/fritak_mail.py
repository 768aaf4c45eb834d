"""E-mails to a fritak applicant: the application was not valid, or the decision is made."""

from __future__ import annotations

from collections.abc import Sequence

from hub.ports.mail import Attachment, OutgoingMail
from mappings.fritak import Decision, FritakApplication

__all__ = ["rejected_application_mail", "decision_mail"]

_SIGNATURE = "— OsloMet Studieadministrasjonen (automatisk melding)"


def rejected_application_mail(submission_id: int, email: str, problems: Sequence[str],
                              *, domain: str = "hub.oslomet.no") -> OutgoingMail:
    lines = ["Hei,", "", "Vi kunne ikke behandle søknaden din om fritak, fordi:",
             *[f"- {p}" for p in problems], "",
             "Send en ny søknad i Nettskjema når dette er rettet. Svar gjerne på denne e-posten "
             "hvis du har spørsmål.", "", _SIGNATURE]
    return OutgoingMail(to=(email,), subject="Søknaden din om fritak kunne ikke behandles",
                        body="\n".join(lines), message_id=f"<fritak-{submission_id}-invalid@{domain}>")


def decision_mail(app: FritakApplication, decision: Decision, letter: bytes,
                  *, domain: str = "hub.oslomet.no") -> OutgoingMail:
    outcome = {"approve": "innvilget", "reject": "avslått", "partial": "delvis innvilget"}[decision.outcome]
    lines = [f"Hei {app.name.split()[0]},", "",
             f"Søknaden din om fritak for {app.course_list} er {outcome}. Vedtaksbrevet ligger ved.", "",
             _SIGNATURE]
    return OutgoingMail(to=(app.email,), subject=f"Vedtak: søknaden om fritak er {outcome}",
                        body="\n".join(lines), message_id=f"<fritak-{app.submission_id}-decision@{domain}>",
                        attachments=(Attachment(filename=f"vedtak-{app.submission_id}.pdf", content=letter,
                                                media_type="application/pdf"),))
