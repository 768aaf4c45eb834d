"""Read what the SMTP sandbox delivered (tests, demo)."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import cast

__all__ = ["read_messages", "find_message"]


def read_messages(maildir: Path | str) -> list[EmailMessage]:
    """Every message in the Maildir, oldest first, parsed with the modern email policy."""
    path = Path(maildir)
    if not (path / "new").exists() and not (path / "cur").exists():
        return []
    box = mailbox.Maildir(path, factory=None, create=False)
    entries: list[tuple[float, str, bytes]] = []
    for key in box.keys():
        message = box.get_message(key)
        entries.append((message.get_date(), key, box.get_bytes(key)))
    entries.sort()
    return [cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
            for _, _, raw in entries]


def find_message(maildir: Path | str, message_id: str) -> list[EmailMessage]:
    """The delivered messages whose Message-ID is ``message_id`` (with or without ``<>``)."""
    wanted = message_id.strip().strip("<>")
    return [m for m in read_messages(maildir) if str(m.get("Message-ID", "")).strip().strip("<>") == wanted]
