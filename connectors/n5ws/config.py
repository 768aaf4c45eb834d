"""Settings of the N5WS (Noark 5 Tjenestegrensesnitt) archive connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.config import ConnectorConfig

__all__ = ["N5wsConfig"]


class N5wsConfig(ConnectorConfig):
    base_url: str = Field(
        description="Root of the N5WS service, e.g. http://127.0.0.1:8702/noark5v5; "
                    "discovery is GET <base_url>/api and everything else is found by relation.")
    username: str = Field(description="HTTP Basic user name for the archive core.")
    password: SecretStr = Field(description="HTTP Basic password for the archive core.")
    metadata_namespace: str = Field(
        "vnd-oslomet-v1",
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*-v[0-9]+$",
        description="Namespace of the hub's virksomhetsspesifikkeMetadata fields "
                    "(vnd-<org>-v<version>).")
    external_id_key: str = Field(
        "eksternid", pattern=r"^[a-z0-9]+$",
        description="Field name (in metadata_namespace) holding the source system's key; "
                    "searched with $filter before anything is created.")

    @property
    def external_id_field(self) -> str:
        """The full metadata field name, e.g. ``vnd-oslomet-v1:eksternid``."""
        return f"{self.metadata_namespace}:{self.external_id_key}"
