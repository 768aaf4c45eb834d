"""``P360Archive``: the archive port over Public 360's SIF JSON RPC.

Case files are 360 *cases* (``CaseService``), journal entries are *documents*
(``DocumentService/CreateDocument``) whose files travel inside the same call, so a
document never exists without them.

Idempotency
    Cases carry ``ExternalId {Id: <hub key>, Type: external_id_type}``; ``ensure_case_file``
    looks them up with GetCases before it creates.
    **Documents have no external id in SIF.** The hub's key goes into a custom field of
    the installation's meta-model (``document_key_field``, default ``CF_hubReference``,
    sent as ``AdditionalFields``) and, for people reading the document, into its
    ``Notes`` (``hub-ref: <key>``). Before a document is created, and again after any
    create whose answer was lost (a timeout or reset after the request was sent, a 5xx,
    a garbled body), the case's documents are searched by ``CaseNumber`` + that custom
    field (:func:`hub.once.ensure_by_key`); only when none is there is it sent again. A
    create is sent at most once per attempt, never retried blindly by the HTTP client.
    Because 360 silently drops custom field names it does not know, a document that
    cannot be found by its key right after it was created stops the step with a
    ``ConfigError`` instead of letting every replay add another one.
Privacy
    ``Title`` is the public title and must hold no fødselsnummer and no correspondent's
    name; the full title goes to ``UnofficialTitle``. When they differ the record gets
    ``AccessCode``/``Paragraph`` (``screened_access_code``/``screened_paragraph``) and the
    contacts ``IsUnofficial``.
Contacts
    :mod:`connectors.p360.contacts` — synchronised without blanking stored values.
Errors
    :mod:`connectors.p360.rpc` translates every SIF error, in one place.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from connectors.p360.config import P360Config
from connectors.p360.contacts import ContactSync
from connectors.p360.models import SifCase, SifDocument
from connectors.p360.rpc import SYSTEM, SifRpc, parse
from hub.errors import HubError, InvalidInput, NotFound, PermanentError
from hub.once import ensure_by_key
from hub.ports.archive import CaseFile, CaseStatus, Document, JournalEntry, NewCaseFile, NewJournalEntry
from hub.ports.common import Health, HealthProbe
from hub.privacy import contains_fnr

__all__ = ["P360Archive"]

log = logging.getLogger("connectors.p360")
OSLO = ZoneInfo("Europe/Oslo")
T = TypeVar("T")
_FORMATS = {"application/pdf": "pdf", "text/plain": "txt", "image/png": "png", "image/jpeg": "jpg",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx"}


def _day(value: datetime) -> str:
    """A date as SIF takes it, in Oslo: ``2026-12-02``."""
    aware = value if value.tzinfo else value.replace(tzinfo=OSLO)
    return aware.astimezone(OSLO).date().isoformat()


def _file_title(title: str) -> str:
    """360 refuses ``<``, ``>`` and ``"`` in file titles ("Illegal character in path")."""
    return re.sub(r"[<>]", "", title.replace('"', "'")).strip() or "dokument"


def _public_title(public: str, names: tuple[str, ...] = ()) -> None:
    if contains_fnr(public):
        raise InvalidInput("the public title (Title) contains a fødselsnummer", system=SYSTEM,
                           hint="Mask personal data in the public title, then replay.")
    for name in names:
        if name.strip() and name.strip().casefold() in public.casefold():
            raise InvalidInput("the public title (Title) contains a correspondent's name", system=SYSTEM,
                               hint="Mask names in the public title (the full title goes to UnofficialTitle).")


class P360Archive:
    """Implements :class:`hub.ports.archive.ArchivePort` against Public 360 (SIF JSON RPC)."""

    def __init__(self, config: P360Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.rpc = SifRpc(config, transport)
        self.contacts = ContactSync(self.rpc)
        self._reverse_status = {code: port for port, code in config.status_map.items()}

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def _ensure(self, find: Callable[[], Awaitable[T | None]], create: Callable[[], Awaitable[T]],
                      what: str) -> T:
        return await ensure_by_key(find, create, policy=self.config.policy(), system=SYSTEM, what=what, confirm=True)

    def _screening(self, title: str, public_title: str) -> dict[str, Any]:
        if title == public_title:
            return {}
        return {"AccessCode": self.config.screened_access_code, "Paragraph": self.config.screened_paragraph}

    # -- case files ---------------------------------------------------------------------
    def _case_file(self, case: SifCase) -> CaseFile:
        key = case.external_id
        code = case.status_code
        return CaseFile(system_id=str(case.recno),
                        external_id=key.id if key and key.type.casefold() == self.config.external_id_type.casefold()
                        else None,
                        title=case.unofficial_title or case.title, public_title=case.title,
                        status=self._reverse_status.get(code, code), case_number=case.case_number, url=case.url)

    async def _cases(self, parameter: dict[str, Any]) -> list[SifCase]:
        found = await self.rpc.pages("CaseService", "GetCases", parameter, "Cases", "MaxReturnedCases")
        return [parse(SifCase, c, "a case") for c in found]

    async def find_case_files(self, external_id: str) -> list[CaseFile]:
        key = {"Id": external_id, "Type": self.config.external_id_type}
        cases = await self._cases({"ExternalId": key})
        return [self._case_file(c) for c in cases if c.external_id and c.external_id.id == external_id]

    async def find_case_files_by_title_prefix(self, prefix: str) -> list[CaseFile]:
        """Every case whose public title starts with ``prefix`` (audits; ``%``/``_`` taken literally)."""
        pattern = re.sub(r"([%_\[])", r"[\1]", prefix) + "%"
        return [self._case_file(c) for c in await self._cases({"Title": pattern})
                if c.title.startswith(prefix)]

    async def _case(self, case_file: CaseFile) -> SifCase:
        parameter = {"CaseNumber": case_file.case_number} if case_file.case_number else {"Recno": case_file.system_id}
        found = await self._cases(parameter)
        if not found:
            raise NotFound(f"Public 360 has no case {case_file.case_number or case_file.system_id}", system=SYSTEM)
        return found[0]

    async def ensure_case_file(self, new: NewCaseFile) -> CaseFile:
        _public_title(new.public_title)
        if new.status not in self.config.status_map:
            raise InvalidInput(f"case status {new.status!r} has no 360 code (HUB_P360__STATUS_MAP)", system=SYSTEM)

        async def find() -> CaseFile | None:
            existing = await self.find_case_files(new.external_id)
            if len(existing) > 1:
                log.warning("p360: %d cases share one external id; using %s", len(existing), existing[0].case_number)
            return existing[0] if existing else None

        parameter = {
            "Title": new.public_title, "UnofficialTitle": new.title,
            "ExternalId": {"Id": new.external_id, "Type": self.config.external_id_type},
            "CaseType": self.config.case_type, "Status": self.config.status_map[new.status],
            "SubArchive": new.series, "JournalUnit": self.config.journal_unit,
            "ArchiveCodes": [{"ArchiveCode": new.classification or self.config.default_archive_code,
                              "ArchiveType": self.config.archive_code_type, "Sort": 1}],
            **self._screening(new.title, new.public_title)}

        async def create() -> CaseFile:
            created = await self.rpc.create("CaseService", "CreateCase", parameter)
            log.info("p360: created case %s", created.get("CaseNumber"))
            return self._case_file(await self._case(CaseFile(system_id=str(created.get("Recno")), external_id=None,
                                                             title=new.title,
                                                             case_number=created.get("CaseNumber"))))

        return await self._ensure(find, create, f"the case {new.external_id}")

    async def set_case_status(self, case_file: CaseFile, status: CaseStatus) -> CaseFile:
        """Set the case status (``A`` closes: 360 code ``AS`` by default); a no-op if already so."""
        code = self.config.status_map.get(status)
        if code is None:
            raise InvalidInput(f"case status {status!r} has no 360 code (HUB_P360__STATUS_MAP)", system=SYSTEM)
        case = await self._case(case_file)
        if case.status_code == code:
            return self._case_file(case)
        await self.rpc.read("CaseService", "UpdateCase", {"CaseNumber": case.case_number, "Status": code})
        return self._case_file(await self._case(case_file))

    # -- journal entries ----------------------------------------------------------------
    def _entry(self, document: SifDocument) -> JournalEntry:
        kind = document.type.code if document.type and document.type.code else ""
        if not kind and document.category:
            categories = {v.removeprefix("recno:"): k for k, v in self.config.category_map.items()}
            kind = categories.get(str(document.category.recno), categories.get(document.category.code, ""))
        return JournalEntry(system_id=str(document.recno), external_id=document.field(self.config.document_key_field),
                            title=document.title, journal_type=kind, registry_number=document.document_number,
                            document_ids=[str(f.recno) for f in document.files], url=document.url)

    async def _documents(self, parameter: dict[str, Any]) -> list[SifDocument]:
        found = await self.rpc.pages("DocumentService", "GetDocuments",
                                     {**parameter, "IncludeFiles": True, "IncludeCustomFields": True},
                                     "Documents", "MaxReturnedDocuments")
        return [parse(SifDocument, d, "a document") for d in found]

    def _keyed(self, external_id: str) -> list[dict[str, str]]:
        return [{"Name": self.config.document_key_field, "Value": external_id}]

    async def find_journal_entries(self, external_id: str) -> list[JournalEntry]:
        found = await self._documents({"AdditionalFields": self._keyed(external_id)})
        return [self._entry(d) for d in found if d.field(self.config.document_key_field) == external_id]

    async def list_journal_entries(self, case_file: CaseFile) -> list[JournalEntry]:
        case = await self._case(case_file)
        return [self._entry(d) for d in await self._documents({"CaseNumber": case.case_number})]

    async def ensure_journal_entry(self, case_file: CaseFile, new: NewJournalEntry) -> JournalEntry:
        _public_title(new.public_title, tuple(p.name for p in new.correspondents))
        if new.journal_type not in self.config.category_map:
            raise InvalidInput(f"journal type {new.journal_type!r} has no 360 category", system=SYSTEM)
        case = await self._case(case_file)

        async def find() -> SifDocument | None:
            found = [d for d in await self._documents({"CaseNumber": case.case_number,
                                                       "AdditionalFields": self._keyed(new.external_id)})
                     if d.field(self.config.document_key_field) == new.external_id]
            return found[0] if found else None

        async def create() -> SifDocument:
            parameter = await self._document_parameter(case.case_number, new)
            created = await self.rpc.create("DocumentService", "CreateDocument", parameter)
            log.info("p360: created document %s", created.get("DocumentNumber"))
            return SifDocument(recno=int(created.get("Recno") or 0),
                               document_number=str(created.get("DocumentNumber") or ""))

        document = await self._ensure(find, create, f"the document {new.external_id}")
        stored = await self._documents({"Recno": document.recno, "IncludeFileData": True})
        if not stored:
            raise NotFound(f"Public 360 lost document {document.document_number}", system=SYSTEM)
        self._verify(stored[0], new.documents)
        return self._entry(stored[0])

    async def _document_parameter(self, case_number: str, new: NewJournalEntry) -> dict[str, Any]:
        screening = self._screening(new.title, new.public_title)
        contacts: list[dict[str, Any]] = []
        unregistered: list[dict[str, Any]] = []
        for person in new.correspondents:
            role = self.config.role_map.get(person.kind)
            if role is None:
                continue  # internal parties are not written to 360
            recno = await self.contacts.ensure(person)
            if recno is not None:
                contacts.append({"Role": role, "ReferenceNumber": f"recno:{recno}", "IsUnofficial": bool(screening)})
            else:
                unregistered.append({"Role": role, "ContactName": person.name, "Email": person.email,
                                     "Address": person.address, "ZipCode": person.postal_code,
                                     "ZipPlace": person.city, "IsUnofficial": bool(screening)})
        sent = new.sent_date or (new.document_date if new.journal_type == "U" else None)
        return {
            "CaseNumber": case_number, "Title": new.public_title, "UnofficialTitle": new.title,
            "Category": self.config.category_map[new.journal_type], "Status": self.config.journal_status,
            "Archive": self.config.document_archive, "DocumentDate": _day(new.document_date),
            "DispatchedDate": _day(sent) if sent else None, "Contacts": contacts or None,
            "UnregisteredContacts": unregistered or None, "Notes": f"hub-ref: {new.external_id}",
            "AdditionalFields": self._keyed(new.external_id), **screening,
            "Files": [{"Title": _file_title(d.title), "Format": _FORMATS.get(d.media_type, d.filename.rsplit(".", 1)[-1]),
                       "Base64Data": base64.b64encode(d.content).decode("ascii"), "RelationType": d.role,
                       "VersionFormat": "P", "Status": "F", "Note": d.filename} for d in new.documents] or None,
        }

    @staticmethod
    def _verify(stored: SifDocument, documents: tuple[Document, ...]) -> None:
        """Every file the hub meant to archive is in 360 with the same bytes (SHA-256)."""
        held = sorted(hashlib.sha256(base64.b64decode(f.base64_data or "")).hexdigest() for f in stored.files)
        wanted = sorted(d.sha256 for d in documents)
        if held != wanted:
            raise PermanentError(f"document {stored.document_number} holds files with other contents than the "
                                 f"source ({len(held)} stored, {len(wanted)} expected)", system=SYSTEM,
                                 hint="The archive holds other bytes than the source; check both before replaying.")

    async def fetch_document(self, file_id: str) -> bytes:
        """The bytes of a file, by its recno (a ``JournalEntry.document_ids`` element)."""
        data = await self.rpc.read("FileService", "GetFileWithMetadata", {"Recno": file_id, "IncludeFileData": True})
        found = data.get("File")
        if not isinstance(found, dict) or not found.get("Base64Data"):
            raise NotFound(f"Public 360 has no data for file {file_id}", system=SYSTEM)
        return base64.b64decode(str(found["Base64Data"]))

    # -- operations ---------------------------------------------------------------------
    async def health(self) -> Health:
        """``SupportService/Ping`` and ``GetSIFVersion``, authenticated; reports, never raises."""
        probe = HealthProbe(SYSTEM)
        try:
            await self.rpc.read("SupportService", "Ping", {})
            probe.restart()
            version = await self.rpc.read("SupportService", "GetSIFVersion", {})
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok("Public 360 accepted the hub's authkey", version=str(version.get("SIFVersion") or "?"))
