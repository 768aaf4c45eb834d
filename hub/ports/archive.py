"""Archive port: saksmappe (case file) → journalpost (registry entry) → documents.

Glossary: a *saksmappe* is a case file; a *journalpost* is an entry in the registry
journal (incoming I, outgoing U, internal N); a *korrespondansepart* is a sender or
recipient; *offentligTittel* is the public title, with names masked (``*****``).
Every object the hub creates carries its external id, so a repeated ``ensure_*`` finds
the existing record instead of writing a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = [
    "Correspondent",
    "Document",
    "NewCaseFile",
    "CaseFile",
    "NewJournalEntry",
    "JournalEntry",
    "ArchivePort",
]

JournalType = Literal["I", "U", "N", "X", "S"]
CorrespondentType = Literal["EA", "EM", "EK", "IA", "IM", "IK", "IS"]
DocumentRole = Literal["H", "V"]
CaseStatus = Literal["B", "A", "U", "R", "S", "P", "F"]


class Correspondent(BaseModel):
    """A korrespondansepart (person). EA = sender, EM = recipient."""

    model_config = ConfigDict(frozen=True)

    kind: CorrespondentType
    name: str
    email: str | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None


class Document(BaseModel):
    """A file to archive under a journalpost: H = main document, V = attachment (vedlegg)."""

    model_config = ConfigDict(frozen=True)

    title: str
    filename: str
    content: bytes = Field(repr=False)
    media_type: str = "application/pdf"
    role: DocumentRole = "H"
    document_type: str = "B"

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.content).hexdigest()


class NewCaseFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_id: str
    title: str
    public_title: str
    series: str = Field("Sakarkiv", description="Title of the arkivdel to file under.")
    status: CaseStatus = "B"
    classification: str | None = None


class CaseFile(BaseModel):
    system_id: str
    external_id: str | None
    title: str
    public_title: str | None = None
    status: str | None = None
    case_number: str | None = Field(None, description="mappeID, e.g. 2026/17")
    url: str | None = Field(None, description="Where a person can look at it.")


class NewJournalEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_id: str
    title: str
    public_title: str
    journal_type: JournalType
    document_date: datetime
    received_date: datetime | None = None
    sent_date: datetime | None = None
    correspondents: tuple[Correspondent, ...] = ()
    documents: tuple[Document, ...] = ()


class JournalEntry(BaseModel):
    system_id: str
    external_id: str | None
    title: str
    journal_type: str
    registry_number: str | None = Field(None, description="journalaar/journalpostnummer")
    document_ids: list[str] = Field(default_factory=list)
    url: str | None = None


class ArchivePort(Protocol):
    async def find_case_files(self, external_id: str) -> list[CaseFile]:
        """Every case file with this external id (more than one means drift)."""
        ...

    async def ensure_case_file(self, new: NewCaseFile) -> CaseFile:
        """Find the case file by external id, or create it. Never creates a second."""
        ...

    async def ensure_journal_entry(self, case_file: CaseFile, new: NewJournalEntry) -> JournalEntry:
        """Find the journalpost by external id in the case file, or create it with its
        correspondents and documents (each upload verified by checksum)."""
        ...

    async def find_journal_entries(self, external_id: str) -> list[JournalEntry]: ...

    async def set_case_status(self, case_file: CaseFile, status: CaseStatus) -> CaseFile: ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
