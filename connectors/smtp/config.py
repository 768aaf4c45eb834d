"""Settings for the SMTP mail connector."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from hub.config import ConnectorConfig
from hub.text import email_problem

__all__ = ["SmtpConfig"]

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class SmtpConfig(ConnectorConfig):
    base_url: str = Field(description="SMTP server as smtp://host:port (smtps://host:port for implicit TLS).")
    from_address: str = Field(description="Envelope sender and From: address of every message.")
    username: SecretStr | None = Field(None, description="SMTP AUTH login; empty means no AUTH.")
    password: SecretStr | None = Field(None, description="SMTP AUTH password.")
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS before AUTH and sending.")
    helo_hostname: str = Field("localhost", description="Name this client gives in EHLO (no DNS lookup).")

    @field_validator("base_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("expected smtp://host:port or smtps://host:port")
        return value

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        problem = email_problem(value, deliverable=False)
        if problem:
            raise ValueError(f"not a valid e-mail address: {problem}")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def implicit_tls(self) -> bool:
        return urlsplit(self.base_url).scheme == "smtps"
