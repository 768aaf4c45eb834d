"""Inbox port: read the messages that arrived in a mailbox (Maildir first; IMAP would fit).

Headers only, read-only: reading never moves, flags or deletes a message, so any other
reader of the same mailbox is undisturbed. A message may be returned again by a later read
(an inbox answers "at or after ``since``" with some overlap, so a message written during a
read is never missed); readers drop repeats by :attr:`InboxMessage.message_id`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = ["InboxMessage", "InboxPort"]


class InboxMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str = Field(description="The Message-ID header; without one, a key the inbox keeps for "
                                        "the message (the same on every read).")
    sender: str = Field("", description="The From address (no display name).")
    recipients: tuple[str, ...] = Field((), description="Addresses in Delivered-To, To and Cc, in that order.")
    received: datetime = Field(description="When the message arrived in the mailbox (time zone aware).")
    automatic: bool = Field(False, description="An automatic message (Auto-Submitted other than 'no', "
                                               "RFC 3834): out-of-office replies, bounces.")


class InboxPort(Protocol):
    def messages_since(self, since: datetime | None = None) -> AsyncIterator[InboxMessage]:
        """Messages that arrived at or after ``since`` (``None``: all), oldest first; may repeat
        messages from shortly before ``since``. A mailbox that does not exist yet has none."""
        ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
