"""Which inbox messages are cancel replies (mappings.rooms_replies)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from hub.ports.inbox import InboxMessage
from mappings.rooms_replies import CancelReply, cancel_replies, cancel_reply, reply_key

T0 = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
RULES = {"mailbox": "avbestill", "domain": "tjenesteplattform.oslomet.no"}


def message(*recipients: str, message_id: str = "<m@x>", sender: str = "Kari@OsloMet.no",
            automatic: bool = False, minutes: int = 0) -> InboxMessage:
    return InboxMessage(message_id=message_id, sender=sender, recipients=recipients, automatic=automatic,
                        received=T0 + timedelta(minutes=minutes))


def test_a_reply_to_the_cancel_address_names_its_booking() -> None:
    reply = cancel_reply(message("Avbestill+GR-12-abcdef@Tjenesteplattform.OsloMet.no"), **RULES)
    assert reply == CancelReply(key=reply_key("<m@x>"), sender="kari@oslomet.no", reference="gr-12-abcdef",
                                received=T0)
    assert reply_key("<m@x>") == "mail-" + hashlib.sha256(b"<m@x>").hexdigest()[:24]


def test_the_first_recipient_at_the_cancel_domain_counts() -> None:
    reply = cancel_reply(message("avbestill+gr-1-aaa@elsewhere.no", "kopi@oslomet.no",
                                 "avbestill+gr-2-bbb@tjenesteplattform.oslomet.no",
                                 "avbestill+gr-3-ccc@tjenesteplattform.oslomet.no"), **RULES)
    assert reply is not None and reply.reference == "gr-2-bbb"


def test_automatic_and_unrelated_messages_are_not_replies() -> None:
    assert cancel_reply(message("avbestill+gr-1-a@tjenesteplattform.oslomet.no", automatic=True), **RULES) is None
    assert cancel_reply(message("avbestill@tjenesteplattform.oslomet.no"), **RULES) is None  # no reference
    assert cancel_reply(message("bestill+gr-1-a@tjenesteplattform.oslomet.no"), **RULES) is None
    assert cancel_reply(message(), **RULES) is None


def test_replies_come_oldest_first() -> None:
    to = "avbestill+gr-1-a@tjenesteplattform.oslomet.no"
    found = cancel_replies([message(to, message_id="<late@x>", minutes=5), message("kopi@oslomet.no"),
                            message(to, message_id="<early@x>", minutes=1)], **RULES)
    assert [r.key for r in found] == [reply_key("<early@x>"), reply_key("<late@x>")]
