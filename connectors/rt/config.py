"""Settings of the Request Tracker 5 connector."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.config import ConnectorConfig
from hub.errors import ConfigError

__all__ = ["RtConfig"]

# Custom-field names go into TicketSQL as 'CF.{name}': no quotes, braces or backslashes.
_CF_NAME = re.compile(r"^[^'\"{}\\\n]+$")


class RtConfig(ConnectorConfig):
    base_url: str = Field(description="RT's web base URL, e.g. http://127.0.0.1:8703 (REST2 lives under "
                                      "/REST/2.0).")
    token: SecretStr | None = Field(None, description="Auth token of the hub's RT user (`1-<uid>-<secret>`).")
    token_file: Path | None = Field(None, description="File holding the auth token; read when `token` is "
                                                      "not set.")
    account_queue: str = Field("User accounts", description="Queue for user-account tickets.")
    equipment_queue: str = Field("Equipment", description="Queue for equipment tickets.")
    external_ref_field: str = Field("ExternalRef", description="Ticket and asset custom field holding the "
                                                               "hub's external reference.")
    model_field: str = Field("Model", description="Asset custom field holding the laptop model.")
    laptop_catalog: str = Field("Laptops", description="Asset catalog of laptops to hand out.")
    per_page: int = Field(100, ge=1, le=100, description="Page size of searches (RT caps it at 100).")
    max_pages: int = Field(200, ge=1, description="Upper bound on pages one search may walk.")
    due_time: time = Field(time(16, 0), description="Local time (Europe/Oslo) a due date is due at.")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("external_ref_field", "model_field")
    @classmethod
    def _safe_cf_name(cls, value: str) -> str:
        if not _CF_NAME.match(value):
            raise ValueError("custom-field names may not contain quotes, braces or backslashes")
        return value

    @model_validator(mode="after")
    def _token_source(self) -> RtConfig:
        if self.token is None and self.token_file is None:
            raise ValueError("set either token or token_file")
        return self

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/REST/2.0/"

    def auth_token(self) -> SecretStr:
        """The token, from ``token`` or else from ``token_file``."""
        if self.token is not None and self.token.get_secret_value().strip():
            return self.token
        if self.token_file is None:
            raise ConfigError("no RT auth token configured", system="rt",
                              hint="Set the RT token or token_file setting.")
        try:
            value = self.token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read RT token file {self.token_file}: {exc.strerror}", system="rt",
                              hint="Check the token_file path and its permissions.") from exc
        if not value:
            raise ConfigError(f"RT token file {self.token_file} is empty", system="rt",
                              hint="Create an auth token for the hub user (python -m sandbox.rt token).")
        return SecretStr(value)
