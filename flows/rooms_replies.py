"""Cancellation by e-mail reply: collect replies to the cancel address from the inbox.

A confirmation's ``Reply-To`` is ``avbestill+<reference>@<domain>``, so a booker who answers
it writes to an address that names the booking (which messages count, and their keys:
:mod:`mappings.rooms_replies`). The mail server delivers them to a mailbox the inbox port
reads (:mod:`hub.ports.inbox`; locally a Maildir, the SMTP sink's), read-only.

Each reply becomes a ``rooms-cancel`` work item keyed by a hash of its Message-ID (the
ledger's unique key is the dedupe). A cursor on the newest arrival already seen keeps each
poll short; the inbox also returns messages from shortly before it, dropped by the dedupe,
so a message written during a poll is never missed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from hub.ledger import Ledger
from hub.ports.inbox import InboxPort
from mappings.rooms_replies import CancelReply, cancel_replies

__all__ = ["CancelReply", "collect_cancel_replies", "cursor_name"]


def cursor_name(mailbox: str, domain: str) -> str:
    """The ledger cursor (seconds since the epoch of the newest arrival seen); its name is the
    one it had when this flow read the Maildir itself, so an upgraded hub carries on from it."""
    return f"maildir:{mailbox}@{domain}:mtime"


@task(name="collect cancel replies", cache_policy=NO_CACHE)
async def collect_cancel_replies(inbox: InboxPort, ledger: Ledger, *, mailbox: str, domain: str,
                                 service: str) -> int:
    """Store every new reply to the cancel address as a ``pending`` work item; return how many."""
    cursor = cursor_name(mailbox, domain)
    stored = await asyncio.to_thread(ledger.get_cursor, cursor)
    since = datetime.fromtimestamp(float(stored), UTC) if stored else None
    messages = [message async for message in inbox.messages_since(since)]
    newest = max((m.received for m in messages), default=since)
    added = 0
    for reply in cancel_replies(messages, mailbox=mailbox, domain=domain):
        if await asyncio.to_thread(ledger.get_item, service, reply.key) is None:
            await asyncio.to_thread(ledger.ensure_item, service, reply.key, title=f"{service} reply {reply.key}",
                                    requested_at=reply.received,
                                    data={"channel": "reply", "booker": reply.sender, "reference": reply.reference})
            added += 1
    if newest is not None and newest != since:
        await asyncio.to_thread(ledger.set_cursor, cursor, repr(newest.timestamp()))
    _logger().info("cancel mailbox %s+…@%s: %d new repl(y/ies) in %d message(s) read",
                          mailbox, domain, added, len(messages))
    return added


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called as a plain function (tests, scripts)
        return logging.getLogger("hub.flow.rooms")
