"""Settings of the Public 360 (SIF JSON RPC) archive connector."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.config import ConnectorConfig

__all__ = ["P360Config", "DEFAULT_STATUS_MAP", "DEFAULT_CATEGORY_MAP", "DEFAULT_ROLE_MAP"]

# The port's case statuses (Noark 5 saksstatus) → 360 case status codes. "A" (closed) becomes
# "AS", Avsluttet av saksbehandler: what a case worker's service user closes with (VTFK); 360's
# own "A" is the archivist's.
DEFAULT_STATUS_MAP = {"B": "B", "A": "AS", "U": "U", "R": "R"}
# journalposttype → document category (reference §7): I, U, N, X, S.
DEFAULT_CATEGORY_MAP = {"I": "recno:110", "U": "recno:111", "N": "recno:113", "X": "recno:60005",
                        "S": "recno:218"}
# korrespondanseparttype → document contact role; internal parties (IA/IM/IK) are not written.
DEFAULT_ROLE_MAP = {"EA": "Avsender", "EM": "Mottaker", "EK": "Kopi til"}


class P360Config(ConnectorConfig):
    base_url: str = Field(description="SIF JSON RPC root, ending in /Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC "
                                      "(e.g. https://oslomet.public360online.com/Biz/v2/api/call/SI.Data.RPC/"
                                      "SI.Data.RPC); {Service}/{Method} is appended.")
    auth_key: SecretStr = Field(description="The SIF service user's authkey.")
    auth_in: Literal["header", "query"] = Field(
        "header", description="How the authkey is sent: 'header' (Authorization: authkey <key> plus the clientid "
                              "header) or 'query' (?authkey=<key>, older installations; the key then is part of "
                              "every URL, also in HTTP client logs).")
    client_id: str = Field("", description="Client id sent as the clientid header with the header form "
                                           "(required for it).")
    context_user: str | None = Field(None, description="ADContextUser: the 360 login to act as (the service user "
                                                       "needs impersonation rights); none = the service user.")
    external_id_type: str = Field("OsloMet integrasjonshub", min_length=1,
                                  description="Type of the cases' ExternalId {Id, Type} (a row of the code table "
                                              "'External type'); the hub's key is the Id.")
    document_key_field: str = Field("CF_hubReference", min_length=1,
                                    description="Custom field (AdditionalFields name in the meta-model) holding the "
                                                "hub's external id on documents, which SIF has no field for. 360 "
                                                "silently drops unknown names; the adapter then refuses to go on.")
    case_type: str = Field("Sak", description="CaseType of new cases.")
    journal_unit: str | None = Field(None, description="JournalUnit of new cases (e.g. Sentralarkiv); none = 360's "
                                                       "default.")
    document_archive: str = Field("Saksdokument", description="Document archive (Archive) of new documents.")
    journal_status: str = Field("J", description="Status of new documents (J = journalført).")
    screened_access_code: str = Field("13", description="AccessCode of a case or document whose title is screened "
                                                        "(the public title differs from the full title).")
    screened_paragraph: str = Field("Offl. § 13 jf. fvl. § 13 (1) nr.1",
                                    description="Paragraph (exactly as in the Law code table) that goes with "
                                                "screened_access_code.")
    archive_code_type: str = Field("FELLESKLASSE PRINSIPP", description="ArchiveType of the classification given to "
                                                                        "new cases (360 closes no case without one).")
    default_archive_code: str = Field("000", description="ArchiveCode of a new case whose NewCaseFile has no "
                                                         "classification.")
    status_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP),
                                       description="Port case status → 360 case status code.")
    category_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CATEGORY_MAP),
                                         description="Journal type (I/U/N/X/S) → 360 document category.")
    role_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROLE_MAP),
                                     description="Correspondent kind → 360 document contact role.")
    page_size: int = Field(100, ge=1, le=1000, description="MaxReturnedCases / MaxReturnedDocuments per page.")
    max_pages: int = Field(200, ge=1, description="Upper bound on pages one search may walk.")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _client_id_for_header(self) -> P360Config:
        if self.auth_in == "header" and not self.client_id:
            raise ValueError("client_id is required when auth_in is 'header'")
        return self
