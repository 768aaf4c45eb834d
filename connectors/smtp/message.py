"""Build the RFC 5322 message for an :class:`~hub.ports.mail.OutgoingMail`.

UTF-8 throughout (headers RFC 2047-encoded, bodies quoted-printable so any server takes
them), the caller's deterministic Message-ID, Date in Europe/Oslo, text with an optional
HTML alternative, then attachments. A subject, body or attachment name holding a
fødselsnummer is refused before anything is built, and so is a recipient or Reply-To that
is not a valid e-mail address (checked with ``email-validator``; no DNS lookup): an
``InvalidInput`` that names the address and what is wrong with it, never a crash inside
the header parser (``kari@`` used to raise ``IndexError`` there).
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from hub.errors import InvalidInput
from hub.ports.mail import OutgoingMail
from hub.privacy import contains_fnr, mask
from hub.text import email_problem

__all__ = ["OSLO", "check_privacy", "check_addresses", "normalise_message_id", "build_message"]

OSLO = ZoneInfo("Europe/Oslo")
SYSTEM = "smtp"


def check_privacy(mail: OutgoingMail) -> None:
    """Refuse mail whose subject, text, HTML or attachment names hold a fødselsnummer."""
    parts = {"subject": mail.subject, "body": mail.body, "HTML body": mail.html or ""}
    parts.update({f"attachment name {i + 1}": a.filename for i, a in enumerate(mail.attachments)})
    for where, text in parts.items():
        if contains_fnr(text):
            raise InvalidInput(f"refusing to send e-mail {mail.message_id}: its {where} contains "
                               "a fødselsnummer", system=SYSTEM,
                               hint="E-mail must never carry a national id; fix the template or data, "
                                    "then replay the item.")


def check_addresses(mail: OutgoingMail) -> None:
    """Refuse mail with no recipient, or with a recipient or Reply-To that is no e-mail address."""
    if not mail.to:
        raise InvalidInput(f"e-mail {mail.message_id} has no recipients", system=SYSTEM)
    named = [("recipient", a) for a in mail.to] + ([("Reply-To", mail.reply_to)] if mail.reply_to else [])
    for role, address in named:
        problem = email_problem(address, deliverable=False)
        if problem:
            raise InvalidInput(f"refusing to send e-mail {mail.message_id}: the {role} address "
                               f"'{mask(address)}' is not valid: {problem}", system=SYSTEM,
                               hint="Correct the address where it came from (the form, HR or the settings), "
                                    "then replay the item.")


def normalise_message_id(message_id: str, from_address: str) -> str:
    """``abc@host`` or ``<abc@host>`` → ``<abc@host>``; a bare ``abc`` gets the sender's domain."""
    value = message_id.strip().strip("<>").strip()
    if not value or any(ch.isspace() for ch in value) or "<" in value or ">" in value:
        raise InvalidInput("a Message-ID must be one token like <key@host>", system=SYSTEM)
    if "@" not in value:
        value = f"{value}@{from_address.rpartition('@')[2] or 'localhost'}"
    return f"<{value}>"


def build_message(mail: OutgoingMail, from_address: str, now: datetime | None = None) -> EmailMessage:
    """The message as it will be sent (raises ``InvalidInput`` on bad data)."""
    check_privacy(mail)
    check_addresses(mail)
    try:
        message = EmailMessage()
        message["From"] = from_address
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = email.utils.format_datetime((now or datetime.now(OSLO)).astimezone(OSLO))
        message["Message-ID"] = normalise_message_id(mail.message_id, from_address)
        if mail.reply_to:
            message["Reply-To"] = mail.reply_to
        message.set_content(mail.body, subtype="plain", charset="utf-8", cte="quoted-printable")
        if mail.html:
            message.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.media_type.partition("/")
            message.add_attachment(attachment.content, maintype=maintype or "application",
                                   subtype=subtype or "octet-stream", filename=attachment.filename)
    except (ValueError, TypeError, LookupError) as exc:  # header injection, malformed type; the
        # header parser also raises IndexError (a LookupError) on some malformed values
        raise InvalidInput(f"e-mail {mail.message_id} cannot be built: {exc.__class__.__name__}: {exc}",
                           system=SYSTEM) from None
    return message
