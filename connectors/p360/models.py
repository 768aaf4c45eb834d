"""SIF result contracts the adapter reads (PascalCase on the wire), and their mapping to the port."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

__all__ = ["SifModel", "SifExternalId", "SifCase", "SifCode", "SifField", "SifFile", "SifDocument",
           "CASE_STATUS_CODES"]

# 360's case status descriptions (GetCases answers the description) → codes; standard install.
CASE_STATUS_CODES = {"reservert": "R", "under behandling": "B", "avsluttet": "A",
                     "ikke gjenstand for oppfølging": "X", "utgår": "U", "kopiert utdrag": "KU",
                     "avsluttet av saksbehandler": "AS"}


class SifModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="ignore")


class SifExternalId(SifModel):
    id: str = ""
    type: str = ""


class SifCase(SifModel):
    recno: int
    case_number: str
    external_id: SifExternalId | None = None
    title: str = ""
    unofficial_title: str | None = None
    status: str = ""
    url: str | None = Field(None, alias="URL")

    @property
    def status_code(self) -> str:
        return CASE_STATUS_CODES.get(self.status.strip().casefold(), self.status.strip())


class SifCode(SifModel):
    recno: int | None = None
    code: str = ""
    description: str = ""


class SifField(SifModel):
    name: str = ""
    value: Any = None


class SifFile(SifModel):
    recno: int
    title: str = ""
    format: str = ""
    base64_data: str | None = Field(None, alias="Base64Data")
    relation_type_code: str = ""


class SifDocument(SifModel):
    recno: int
    document_number: str
    case_number: str = ""
    title: str = ""
    official_title: str = ""
    type: SifCode | None = None
    category: SifCode | None = None
    notes: str | None = None
    custom_fields: list[SifField] = Field(default_factory=list)
    files: list[SifFile] = Field(default_factory=list)
    url: str | None = Field(None, alias="URL")

    def field(self, name: str) -> str | None:
        for item in self.custom_fields:
            if item.name.casefold() == name.casefold():
                return None if item.value is None else str(item.value)
        return None
