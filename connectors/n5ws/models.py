"""Typed views of the N5WS resources the connector reads, and the mapping to the port.

Field names are the standard's (Norwegian, camelCase) so a reader can check them
against N5WS chapter 7; unknown fields are kept (``extra="allow"``) and ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import PermanentError
from hub.ports.archive import CaseFile, JournalEntry

__all__ = [
    "Code",
    "Link",
    "Resource",
    "Saksmappe",
    "Journalpost",
    "KorrespondansepartPerson",
    "Dokumentbeskrivelse",
    "Dokumentobjekt",
    "SystemInfo",
    "to_case_file",
    "to_journal_entry",
]


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    templated: bool = False


class Code(BaseModel):
    """A code value, e.g. ``{"kode": "B", "kodenavn": "Under behandling"}``."""

    model_config = ConfigDict(extra="allow")

    kode: str
    kodenavn: str | None = None


class Resource(BaseModel):
    """Any N5WS object: its systemID and its relations."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    system_id: str | None = Field(None, alias="systemID")
    links: dict[str, Link] = Field(default_factory=dict, alias="_links")

    def href(self, rel: str) -> str:
        """The href of relation ``rel``; the core must offer it."""
        link = self.links.get(rel)
        if link is None:
            raise PermanentError(
                f"the archive core offers no relation {rel} on {type(self).__name__} {self.system_id}",
                system="n5ws",
                hint="The core may not support this part of N5WS (sakarkiv?) or the user lacks rights.")
        return link.href

    def link(self, rel: str) -> Link:
        self.href(rel)
        return self.links[rel]

    @property
    def self_href(self) -> str:
        return self.href("self")

    @property
    def entity_rel(self) -> str | None:
        """What kind of object this is: the relation whose href equals ``self`` (N5WS 6.1.1.2)."""
        me = self.links.get("self")
        if me is None:
            return None
        return next((rel for rel, link in self.links.items() if rel != "self" and link.href == me.href), None)


class Saksmappe(Resource):
    tittel: str = ""
    offentligTittel: str | None = None
    mappeID: str | None = None
    saksstatus: Code | None = None
    virksomhetsspesifikkeMetadata: dict[str, Any] | None = None


class Journalpost(Resource):
    tittel: str = ""
    offentligTittel: str | None = None
    journalposttype: Code | None = None
    journalaar: int | None = None
    journalsekvensnummer: int | None = None
    journalpostnummer: int | None = None
    registreringsID: str | None = None
    virksomhetsspesifikkeMetadata: dict[str, Any] | None = None


class KorrespondansepartPerson(Resource):
    korrespondanseparttype: Code | None = None
    navn: str | None = None


class Dokumentbeskrivelse(Resource):
    tittel: str = ""
    eksternReferanse: str | None = None
    dokumentnummer: int | None = None


class Dokumentobjekt(Resource):
    filnavn: str | None = None
    mimeType: str | None = None
    sjekksum: str | None = None
    sjekksumAlgoritme: str | None = None
    filstoerrelse: int | None = None
    referanseDokumentfil: str | None = None


class SystemInfo(BaseModel):
    """The ``admin/system`` resource."""

    model_config = ConfigDict(extra="allow")

    leverandoer: str | None = None
    produkt: str | None = None
    versjon: str | None = None
    protokollversjon: str | None = None
    bulkgrense: int | None = None


def _metadata(value: dict[str, Any] | None, field: str) -> str | None:
    found = (value or {}).get(field)
    return None if found is None else str(found)


def to_case_file(mappe: Saksmappe, external_id_field: str) -> CaseFile:
    return CaseFile(
        system_id=mappe.system_id or "",
        external_id=_metadata(mappe.virksomhetsspesifikkeMetadata, external_id_field),
        title=mappe.tittel,
        public_title=mappe.offentligTittel,
        status=mappe.saksstatus.kode if mappe.saksstatus else None,
        case_number=mappe.mappeID,
        url=mappe.self_href,
    )


def to_journal_entry(post: Journalpost, external_id_field: str, document_ids: list[str]) -> JournalEntry:
    number = None
    if post.journalaar is not None and post.journalsekvensnummer is not None:
        number = f"{post.journalaar}/{post.journalsekvensnummer}"
    return JournalEntry(
        system_id=post.system_id or "",
        external_id=_metadata(post.virksomhetsspesifikkeMetadata, external_id_field),
        title=post.tittel,
        journal_type=post.journalposttype.kode if post.journalposttype else "",
        registry_number=number or post.registreringsID,
        document_ids=document_ids,
        url=post.self_href,
    )
