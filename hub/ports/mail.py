"""Mail port: send one e-mail. Bodies never carry a fødselsnummer."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = ["Attachment", "OutgoingMail", "MailPort"]


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    filename: str
    content: bytes = Field(repr=False)
    media_type: str = "application/octet-stream"


class OutgoingMail(BaseModel):
    model_config = ConfigDict(frozen=True)

    to: tuple[str, ...]
    subject: str
    body: str
    message_id: str = Field(description="Deterministic Message-ID, so receivers can drop a resend.")
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None


class MailPort(Protocol):
    async def send(self, mail: OutgoingMail) -> str:
        """Send; return the Message-ID."""
        ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
