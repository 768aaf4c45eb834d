"""Bestille og levere laptop (order and deliver a laptop) from a Nettskjema submission.

Read and validate the order; build the RT ticket, its comments and the delivery receipt. An
order for a model IT does not stock, or from someone HR does not know, is invalid (a dead
letter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from hub.ports.archive import Correspondent, Document, NewJournalEntry
from hub.ports.forms import Submission
from hub.ports.hr import Employee
from hub.ports.mail import OutgoingMail
from hub.ports.ticketing import Asset, NewTicket, Ticket
from hub.privacy import mask
from hub.text import email_problem
from mappings.dfo_to_noark import MASKED
from mappings.pdf import letter_pdf

__all__ = ["LaptopOrder", "read_order", "order_ticket", "no_stock_comment", "reserved_comment", "awaited_delivery",
           "receipt_pdf", "receipt_entry", "delivered_mail", "external_ref"]

_FEIDE = re.compile(r"^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}$")
_COST_CENTRE = re.compile(r"^\d{4,6}$")
LOCATIONS = {"pilestredet": "Pilestredet 35, Oslo", "kjeller": "Kjeller", "sandvika": "Sandvika"}


class LaptopOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    submission_id: int
    submitted: datetime
    feide: str
    model_option: str
    model: str
    location: str
    cost_centre: str
    justification: str
    needed_by: date | None = None


def external_ref(submission_id: int, what: str = "order") -> str:
    return f"laptop-order:{submission_id}:{what}"


def _text(sub: Submission, key: str) -> str:
    answer = sub.answer(key)
    return (answer.text or "").strip() if answer else ""


def _option(sub: Submission, key: str) -> str:
    answer = sub.answer(key)
    return answer.options[0] if answer and answer.options else ""


def read_order(sub: Submission, *, models: Mapping[str, str]) -> tuple[LaptopOrder | None, list[str]]:
    """The order, or None and every problem found."""
    problems = []
    feide = _text(sub, "feide").lower()
    if not _FEIDE.match(feide):
        problems.append(f"'{mask(feide) or '(empty)'}' is not a Feide id like name@oslomet.no")
    elif problem := email_problem(feide):
        problems.append(f"the Feide id '{mask(feide)}' is not a valid address: {problem}")
    option = _option(sub, "model")
    if not option:
        problems.append("no laptop model was chosen")
    elif option not in models:
        problems.append(f"the model '{mask(option)}' is not offered by IT (offered: {', '.join(sorted(models))})")
    location = _option(sub, "location")
    if location not in LOCATIONS:
        problems.append("no valid delivery location was chosen")
    cost_centre = _text(sub, "cost_centre")
    if not _COST_CENTRE.match(cost_centre):
        problems.append("the cost centre must be 4–6 digits")
    justification = _text(sub, "justification")
    if not justification:
        problems.append("the justification is missing")
    if problems:
        return None, problems
    needed = sub.answer("needed_by")
    return LaptopOrder(submission_id=sub.meta.submission_id, submitted=sub.meta.created, feide=feide,
                       model_option=option, model=models[option], location=LOCATIONS[location],
                       cost_centre=cost_centre, justification=justification,
                       needed_by=needed.date if needed else None), []


def order_ticket(order: LaptopOrder, employee: Employee, *, queue: str) -> NewTicket:
    body = "\n".join([
        f"Laptop order from Nettskjema submission {order.submission_id}.", "",
        f"For: {employee.full_name} ({order.feide}), DFØ employee {employee.id}",
        f"Model: {order.model}",
        f"Deliver to: {order.location}",
        f"Cost centre: {order.cost_centre}",
        f"Needed by: {order.needed_by.isoformat() if order.needed_by else '(not given)'}",
        f"Justification: {order.justification}", "",
        "When you hand the laptop over: set HeldBy on the asset to the employee and resolve this "
        "ticket. The hub then files the delivery receipt and tells the employee.",
    ])
    return NewTicket(external_ref=external_ref(order.submission_id), queue=queue,
                     subject=f"Laptop order #{order.submission_id}: {order.model} for {employee.full_name}",
                     body=body, requestor=employee.email or order.feide, due=order.needed_by)


def no_stock_comment(order: LaptopOrder, *, catalog: str) -> str:
    """The ticket's comment when no laptop of the model is free in ``catalog``: the order waits."""
    return f"No free {order.model} in the {catalog} catalog now. The hub reserves one as soon as one is free."


def reserved_comment(order: LaptopOrder, asset: Asset) -> str:
    """The ticket's comment when ``asset`` is reserved for the order: what IT does next."""
    return (f"Reserved {asset.name} ({asset.model or order.model}). Deliver it, set HeldBy to the employee, "
            "then resolve this ticket.")


def awaited_delivery(ticket: Ticket, asset: Asset, *, feide: str) -> str | None:
    """What the order still waits for, in words for its waiting note; None once IT has handed the
    laptop over: the ticket is resolved and the asset is HeldBy the requester (``feide``, in any case)."""
    if ticket.status == "resolved" and feide.lower() in {h.lower() for h in asset.held_by}:
        return None
    return f"IT to deliver {asset.name}: ticket {ticket.status}, HeldBy {', '.join(asset.held_by) or 'nobody'}"


def receipt_pdf(order: LaptopOrder, employee: Employee, asset: Asset, *, date: datetime) -> bytes:
    return letter_pdf(
        sender="OsloMet – storbyuniversitetet, IT-avdelingen", recipient=[employee.full_name, order.feide],
        date=date, title="Kvittering for utlevert bærbar PC",
        paragraphs=[f"{employee.full_name} har mottatt bærbar PC {asset.name} ({asset.model or order.model}).",
                    f"Utlevert på: {order.location}. Koststed: {order.cost_centre}.",
                    f"Bestilling: Nettskjema {order.submission_id}.",
                    "Utstyret tilhører OsloMet og leveres tilbake ved fratreden."],
        signature="IT-avdelingen", reference=f"Nettskjema {order.submission_id}")


def receipt_entry(order: LaptopOrder, employee: Employee, pdf: bytes, *, date: datetime) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=external_ref(order.submission_id, "receipt"),
        title=f"Utleveringskvittering bærbar PC – {employee.full_name}",
        public_title=f"Utleveringskvittering bærbar PC – {MASKED}",
        journal_type="U", document_date=date, sent_date=date,
        correspondents=(Correspondent(kind="EM", name=employee.full_name, email=order.feide),),
        documents=(Document(title="Utleveringskvittering", filename=f"kvittering-{order.submission_id}.pdf",
                            content=pdf, role="H"),))


def delivered_mail(order: LaptopOrder, employee: Employee, asset: Asset,
                   *, domain: str = "hub.oslomet.no") -> OutgoingMail:
    body = "\n".join([f"Hei {employee.first_name},", "",
                      f"Din bærbare PC ({asset.model or order.model}, {asset.name}) er registrert utlevert, "
                      "og kvitteringen er arkivert i personalmappen din.", "",
                      "— OsloMet IT (automatisk melding)"])
    return OutgoingMail(to=(order.feide,), subject=f"Laptop delivered: {asset.name}", body=body,
                        message_id=f"<laptop-order-{order.submission_id}-delivered@{domain}>")
