"""Settings for the Nettskjema forms connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.config import ConnectorConfig

__all__ = ["NettskjemaConfig"]


class NettskjemaConfig(ConnectorConfig):
    base_url: str = Field(description="Nettskjema API v3 root (https://nettskjema.no/api/v3, or the sandbox's "
                                      "http://127.0.0.1:8704/api/v3); resource paths are relative to it.")
    token_url: str = Field(description="OAuth 2 token endpoint (https://authorization.nettskjema.no/oauth2/token, "
                                       "or the sandbox's http://127.0.0.1:8704/oauth2/token).")
    client_id: str = Field(description="API client id created in Nettskjema; forms must be shared with "
                                       "<client_id>@apiclient.")
    client_secret: SecretStr = Field(description="The API client's secret (HTTP Basic at the token endpoint).")
    refresh_margin_seconds: float = Field(60.0, ge=0, description="Fetch a new access token this many seconds "
                                          "before the current one expires (at most a quarter of its lifetime).")
