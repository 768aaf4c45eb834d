"""Build the RFC 5322 message for an :class:`~hub.ports.mail.OutgoingMail`.

UTF-8 throughout (headers RFC 2047-encoded, bodies quoted-printable so any server takes
them), the caller's deterministic Message-ID, Date in Europe/Oslo, text with an optional
HTML alternative, then attachments. A subject, body or attachment name holding a
fødselsnummer is refused before anything is built.
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from hub.errors import InvalidInput
from hub.ports.mail import OutgoingMail
from hub.privacy import contains_fnr

__all__ = ["OSLO", "check_privacy", "normalise_message_id", "build_message"]

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
    if not mail.to:
        raise InvalidInput(f"e-mail {mail.message_id} has no recipients", system=SYSTEM)
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
    except (ValueError, TypeError) as exc:  # header injection, malformed address or type
        raise InvalidInput(f"e-mail {mail.message_id} cannot be built: {exc}", system=SYSTEM) from None
    return message
