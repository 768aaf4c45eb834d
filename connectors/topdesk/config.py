"""Settings of the TOPdesk connector."""

from __future__ import annotations

import re
from datetime import time

from pydantic import Field, SecretStr, field_validator

from hub.config import ConnectorConfig

__all__ = ["TopdeskConfig", "DEFAULT_STATUS_MAP", "DEFAULT_ASSET_STATUS_MAP"]

# The port's ticket statuses (RT's lifecycle) → TOPdesk processing status names.
DEFAULT_STATUS_MAP = {
    "new": "Logged",
    "open": "In progress",
    "stalled": "Waiting for user",
    "resolved": "Closed",
    "rejected": "Rejected",
}
# The port's asset statuses (RT's asset lifecycle) → values of the template's status field.
DEFAULT_ASSET_STATUS_MAP = {
    "new": "In stock",
    "allocated": "Allocated",
    "in-use": "In use",
    "recycled": "Recycled",
    "stolen": "Stolen",
}
_OPTIONAL_TEXT = re.compile(r"^optionalFields[12]\.text[1-5]$")
_ASSET_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


class TopdeskConfig(ConnectorConfig):
    base_url: str = Field(description="TOPdesk's REST API base URL, e.g. http://127.0.0.1:8705/tas/api.")
    username: str = Field(description="Login name of the hub's TOPdesk operator account.")
    app_password: SecretStr = Field(description="Application password of that account (TOPdesk: My settings → "
                                                "Application passwords).")
    external_ref_field: str = Field("optionalFields1.text1", description="Incident optional text field holding "
                                    "the hub's external reference (optionalFields1|2.text1..5, ≤ 100 characters).")
    queue_groups: dict[str, str] = Field(default_factory=dict, description="Port queue → TOPdesk operator group; "
                                         "a queue not listed goes to the operator group of the same name.")
    status_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP),
                                       description="Port ticket status → TOPdesk processing status name.")
    incident_line: str = Field("secondLine", description="Incident status (line) of the hub's incidents: "
                               "firstLine or secondLine.")
    default_caller: str = Field("OsloMet integration hub", description="Caller name (unregistered caller) of "
                                "incidents that have no requestor.")
    person_branch: str = Field("OsloMet", description="Branch of persons the hub registers (callers and laptop "
                               "holders TOPdesk does not know yet).")
    laptop_catalog: str = Field("Laptops", description="The port's catalog name for laptops (as the flows use it).")
    laptop_template: str = Field("Laptop", description="Asset Management template of laptops; any other catalog "
                                 "name is used as a template name directly.")
    asset_external_ref_field: str = Field("hub-reference", description="Asset text field (field id) holding the "
                                          "hub's external reference.")
    asset_model_field: str = Field("model", description="Asset field (field id) holding the laptop model.")
    asset_status_field: str = Field("lifecycle-status", description="Asset dropdown field (field id) holding the "
                                    "lifecycle status.")
    asset_status_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ASSET_STATUS_MAP),
                                             description="Port asset status → value of the asset status field.")
    page_size: int = Field(100, ge=1, le=100, description="Page size of incident and person searches.")
    asset_page_size: int = Field(1000, ge=1, le=1000, description="Page size of asset lists (TOPdesk caps it "
                                 "at 1000).")
    max_pages: int = Field(200, ge=1, description="Upper bound on pages one search may walk.")
    due_time: time = Field(time(16, 0), description="Local time (Europe/Oslo) a due date is due at.")
    web_url: str | None = Field(None, description="TOPdesk's web root for links (default: base_url without "
                                "/api, e.g. http://127.0.0.1:8705/tas).")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("external_ref_field")
    @classmethod
    def _optional_text_field(cls, value: str) -> str:
        if not _OPTIONAL_TEXT.match(value):
            raise ValueError("must be an optional text field such as optionalFields1.text1")
        return value

    @field_validator("asset_external_ref_field", "asset_model_field", "asset_status_field")
    @classmethod
    def _asset_field_id(cls, value: str) -> str:
        if not _ASSET_FIELD.match(value):
            raise ValueError("must be an asset field id (letters, digits, '-', '_', '.')")
        return value

    @field_validator("incident_line")
    @classmethod
    def _line(cls, value: str) -> str:
        if value not in ("firstLine", "secondLine"):
            raise ValueError("must be firstLine or secondLine")
        return value

    @property
    def web_root(self) -> str:
        if self.web_url:
            return self.web_url.rstrip("/")
        return self.base_url[:-len("/api")] if self.base_url.endswith("/api") else self.base_url

    def operator_group(self, queue: str) -> str:
        return self.queue_groups.get(queue, queue)

    def queue_of(self, group: str) -> str:
        return next((q for q, g in self.queue_groups.items() if g.casefold() == group.casefold()), group)

    def template_of(self, catalog: str) -> str:
        return self.laptop_template if catalog == self.laptop_catalog else catalog
