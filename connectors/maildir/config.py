"""Settings for the Maildir inbox connector."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MaildirConfig"]


class MaildirConfig(BaseModel):
    """A local folder, not an API: no URL, no secrets, no HTTP retry policy."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    path: Path | None = Field(None, description="The Maildir: the folder holding new/ and cur/. Unset: "
                                                "HUB_ROOMS__REPLY_MAILDIR, else <HUB_HOME>/mail (the local "
                                                "SMTP sink's).")
    overlap_seconds: float = Field(10.0, ge=0, description="A read 'since' a time also returns messages up to "
                                                           "this much older, so one written during the "
                                                           "previous read is never missed.")
