"""Which e-mail replies cancel a group-room booking, and under which key (pure functions).

A confirmation's ``Reply-To`` is ``<mailbox>+<reference>@<domain>`` (sub-addressing, RFC
5233), so a booker who answers it writes to an address that names the booking. A message
in the inbox is a cancel reply when one of its recipients is such an address and it is not
an automatic message (``Auto-Submitted``, RFC 3834: out-of-office replies, bounces). Its key
is a hash of its Message-ID, so the ledger's unique key drops a message read twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hub.ports.inbox import InboxMessage
from mappings.rooms import reference_in_address

__all__ = ["CancelReply", "cancel_reply", "cancel_replies", "reply_key"]


@dataclass(frozen=True)
class CancelReply:
    key: str
    sender: str
    reference: str
    received: datetime


def reply_key(message_id: str) -> str:
    """The work item's source key: ``mail-`` and 24 hex digits of the Message-ID's SHA-256."""
    return f"mail-{hashlib.sha256(message_id.encode()).hexdigest()[:24]}"


def cancel_reply(message: InboxMessage, *, mailbox: str, domain: str) -> CancelReply | None:
    """The cancel reply ``message`` is, or None (automatic, or not to the cancel address)."""
    if message.automatic:
        return None
    suffix = f"@{domain.lower()}"
    reference = next((ref for address in message.recipients
                      if address.lower().endswith(suffix)
                      and (ref := reference_in_address(address, mailbox=mailbox))), None)
    if reference is None:
        return None
    return CancelReply(key=reply_key(message.message_id), sender=message.sender.lower(), reference=reference,
                       received=message.received)


def cancel_replies(messages: Iterable[InboxMessage], *, mailbox: str, domain: str) -> list[CancelReply]:
    """The cancel replies among ``messages``, oldest first."""
    found = (cancel_reply(m, mailbox=mailbox, domain=domain) for m in messages)
    return sorted((r for r in found if r is not None), key=lambda r: r.received)
