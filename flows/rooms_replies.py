"""Cancellation by e-mail reply: read replies to the cancel address from its Maildir.

A confirmation's ``Reply-To`` is ``avbestill+<reference>@<domain>`` (sub-addressing, RFC
5233), so a booker who answers it writes to an address that names the booking. The mail
server delivers those messages to a Maildir (locally: the SMTP sink's, which files every
message it accepts); this module reads it — headers only, read-only, never moving or
deleting a file, so any other reader of the same Maildir is undisturbed.

Each reply becomes a ``rooms-cancel`` work item keyed by a hash of its Message-ID (the
ledger's unique key is the dedupe). A cursor on the newest file time already seen keeps
each poll short; files up to :data:`OVERLAP_SECONDS` older are read again and dropped by
the dedupe, so a message written during a poll is never missed. Automatic replies
(``Auto-Submitted``, RFC 3834) are ignored.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hub.ledger import Ledger
from mappings.rooms import reference_in_address

__all__ = ["CancelReply", "read_cancel_replies", "collect_cancel_replies", "OVERLAP_SECONDS"]

OVERLAP_SECONDS = 10.0
_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class CancelReply:
    key: str
    sender: str
    reference: str
    received: datetime


def _headers(path: Path) -> email.message.Message:
    with path.open("rb") as handle:
        head = handle.read(_HEADER_BYTES)
    return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head)


def read_cancel_replies(maildir: Path, *, mailbox: str, domain: str,
                        since: float = 0.0) -> tuple[list[CancelReply], float]:
    """Replies to ``<mailbox>+<reference>@<domain>`` in files newer than ``since`` (minus the
    overlap); and the newest file time seen."""
    found: list[CancelReply] = []
    newest = since
    for sub in ("new", "cur"):
        folder = maildir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                mtime = path.stat().st_mtime
                if mtime < since - OVERLAP_SECONDS:
                    continue
                newest = max(newest, mtime)
                headers = _headers(path)
            except OSError:  # moved or deleted meanwhile by another reader
                continue
            if str(headers.get("Auto-Submitted", "no")).strip().lower() != "no":
                continue
            recipients = getaddresses([str(headers.get(h, "")) for h in ("Delivered-To", "To", "Cc")])
            reference = next((ref for _, addr in recipients
                              if addr.lower().endswith(f"@{domain.lower()}")
                              and (ref := reference_in_address(addr, mailbox=mailbox))), None)
            if reference is None:
                continue
            message_id = str(headers.get("Message-ID", "")).strip() or path.name.split(":")[0]
            found.append(CancelReply(key=f"mail-{hashlib.sha256(message_id.encode()).hexdigest()[:24]}",
                                     sender=parseaddr(str(headers.get("From", "")))[1].lower(),
                                     reference=reference, received=datetime.fromtimestamp(mtime, UTC)))
    return sorted(found, key=lambda r: r.received), newest


@task(name="collect cancel replies", cache_policy=NO_CACHE)
async def collect_cancel_replies(ledger: Ledger, *, maildir: Path, mailbox: str, domain: str, service: str) -> int:
    """Store every new reply to the cancel address as a ``pending`` work item; return how many."""
    cursor = f"maildir:{mailbox}@{domain}:mtime"
    stored = await asyncio.to_thread(ledger.get_cursor, cursor)
    since = float(stored) if stored else 0.0
    replies, newest = await asyncio.to_thread(read_cancel_replies, maildir, mailbox=mailbox, domain=domain,
                                              since=since)
    added = 0
    for reply in replies:
        if await asyncio.to_thread(ledger.get_item, service, reply.key) is None:
            await asyncio.to_thread(ledger.ensure_item, service, reply.key, title=f"{service} reply {reply.key}",
                                    requested_at=reply.received,
                                    data={"channel": "reply", "booker": reply.sender, "reference": reply.reference})
            added += 1
    if newest != since:
        await asyncio.to_thread(ledger.set_cursor, cursor, repr(newest))
    get_run_logger().info("cancel mailbox: %d new repl(y/ies) in %s", added, maildir)
    return added
