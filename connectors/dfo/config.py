"""Settings for the DFØ HR connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.config import ConnectorConfig

__all__ = ["DfoConfig"]


class DfoConfig(ConnectorConfig):
    base_url: str = Field(description="DFØ API gateway base URL (e.g. http://127.0.0.1:8701/api); "
                                      "the resources below are relative to it.")
    api_key: SecretStr = Field(description="API key for the gateway, sent as X-Gravitee-Api-Key.")
    employee_path: str = Field("ansatte/v2", description="Path of the employee resource (ansatte).")
    position_path: str = Field("stillinger/v2", description="Path of the position resource (stillinger).")
    org_unit_path: str = Field("orgenhet/v2", description="Path of the org-unit resource (orgenhet).")
    feide_realm: str = Field("oslomet.no", description="Feide realm of the institution: an employee's Feide id "
                                                       "is <brukerident>@<realm> (or their e-mail address).")
    directory_seconds: float = Field(60.0, ge=0, description="How long the employee list read for Feide-id "
                                                             "look-ups is reused before it is read again.")
