"""``N5wsArchive``: the archive port over Noark 5 Tjenestegrensesnitt (N5WS v1.1).

Idempotent and resumable: every saksmappe and journalpost carries the source key in
``virksomhetsspesifikkeMetadata`` (``vnd-oslomet-v1:eksternid``) and is looked up with
``$filter`` before anything is created; every dokumentbeskrivelse carries
``eksternReferanse`` = ``<external id>/<filename>``. A journalpost that a crash left
half-written is completed (missing correspondents and documents only) on the next call.

Every create goes through :func:`hub.once.ensure_by_key`: look up by the key, ``POST`` once,
and after a lost answer look again before trying anew — so a write the core committed
while its answer was lost is found, not made twice. A file is found again by its SHA-256.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from connectors.n5ws.config import N5wsConfig
from connectors.n5ws.hal import REL, Rel, odata_string
from connectors.n5ws.models import (
    Dokumentbeskrivelse,
    Dokumentobjekt,
    Journalpost,
    KorrespondansepartPerson,
    Link,
    Resource,
    Saksmappe,
    SystemInfo,
    to_case_file,
    to_journal_entry,
)
from connectors.n5ws.session import SYSTEM, N5wsSession
from hub.errors import Conflict, HubError, InvalidInput, NotFound, PermanentError
from hub.once import create_once, ensure_by_key
from hub.ports.archive import (
    CaseFile,
    CaseStatus,
    Correspondent,
    Document,
    JournalEntry,
    NewCaseFile,
    NewJournalEntry,
)
from hub.ports.common import Health, HealthProbe
from hub.privacy import contains_fnr

__all__ = ["N5wsArchive"]

log = logging.getLogger("connectors.n5ws")
OSLO = ZoneInfo("Europe/Oslo")
T = TypeVar("T")


def _oslo(value: datetime) -> str:
    """ISO 8601 with offset; a naive time is taken to be Oslo time."""
    aware = value if value.tzinfo else value.replace(tzinfo=OSLO)
    return aware.astimezone(OSLO).isoformat()


def _no_fnr_in_public_title(title: str) -> None:
    if contains_fnr(title):
        raise InvalidInput("the public title (offentligTittel) contains a fødselsnummer",
                           system=SYSTEM, hint="Mask personal data in the public title, then replay.")


def _correspondent_body(person: Correspondent) -> dict[str, Any]:
    body: dict[str, Any] = {"korrespondanseparttype": {"kode": person.kind}, "navn": person.name}
    address = {"adresselinje1": person.address, "postnr": person.postal_code, "poststed": person.city}
    if any(address.values()):
        body["postadresse"] = {k: v for k, v in address.items() if v}
    if person.email:
        body["kontaktinformasjon"] = {"epostadresse": person.email}
    return body


class N5wsArchive:
    """Implements :class:`hub.ports.archive.ArchivePort` against any N5WS core."""

    def __init__(self, config: N5wsConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.session = N5wsSession(config, transport)
        self._series: dict[str, Resource] = {}

    @property
    def _key(self) -> str:
        return self.config.external_id_field

    def _by_external_id(self, external_id: str) -> str:
        return f"{self._key} eq {odata_string(external_id)}"

    def document_reference(self, external_id: str, document: Document) -> str:
        """The ``eksternReferanse`` that identifies one document of one journal entry."""
        return f"{external_id}/{document.filename}"

    # -- case files ---------------------------------------------------------------------
    async def find_case_files(self, external_id: str) -> list[CaseFile]:
        link = await self.session.relation(Rel.SAKSMAPPE)
        found = await self.session.list_all(link, Saksmappe, self._by_external_id(external_id))
        return [to_case_file(m, self._key) for m in found]

    async def find_case_files_by_title_prefix(self, prefix: str) -> list[CaseFile]:
        """Every case file whose ``tittel`` starts with ``prefix`` (audits, reconciliation)."""
        link = await self.session.relation(Rel.SAKSMAPPE)
        found = await self.session.list_all(link, Saksmappe, f"startswith(tittel, {odata_string(prefix)})")
        return [to_case_file(m, self._key) for m in found]

    async def series(self, title: str) -> Resource:
        """The arkivdel titled ``title`` (cached)."""
        if title not in self._series:
            link = await self.session.relation(Rel.ARKIVDEL)
            found = await self.session.list_all(link, Resource, f"tittel eq {odata_string(title)}")
            if not found:
                raise NotFound(f"the archive core has no arkivdel titled {title!r}", system=SYSTEM,
                               hint="Create the arkivdel in the archive core or fix the series name.")
            self._series[title] = found[0]
        return self._series[title]

    async def _ensure(self, find: Callable[[], Awaitable[T | None]], create: Callable[[], Awaitable[T]],
                      what: str, *, confirm: bool = False) -> T:
        return await ensure_by_key(find, create, policy=self.config.policy(), system=SYSTEM, what=what,
                                   confirm=confirm)

    async def ensure_case_file(self, new: NewCaseFile) -> CaseFile:
        _no_fnr_in_public_title(new.public_title)

        async def find() -> CaseFile | None:
            existing = await self.find_case_files(new.external_id)
            if len(existing) > 1:
                log.warning("n5ws: %d saksmapper share one external id; using %s",
                            len(existing), existing[0].case_number)
            return existing[0] if existing else None

        metadata: dict[str, Any] = {self._key: new.external_id}
        if new.classification:
            metadata[f"{self.config.metadata_namespace}:klassering"] = new.classification
        body = {"tittel": new.title, "offentligTittel": new.public_title,
                "saksstatus": {"kode": new.status}, "virksomhetsspesifikkeMetadata": metadata}

        async def create() -> CaseFile:
            arkivdel = await self.series(new.series)
            created = await self.session.create(arkivdel.href(Rel.NY_SAKSMAPPE), body, Saksmappe)
            log.info("n5ws: created saksmappe %s", created.mappeID)
            return to_case_file(created, self._key)

        return await self._ensure(find, create, f"the saksmappe {new.external_id}", confirm=True)

    @staticmethod
    def _journalposts(mappe: Saksmappe) -> Link:
        """The list of a saksmappe's journalposts: the sakarkiv relation if offered, else the
        arkivstruktur ``registrering`` relation that Saksmappe inherits from Mappe."""
        return mappe.links.get(Rel.JOURNALPOST) or mappe.link(Rel.REGISTRERING)

    async def _saksmappe(self, case_file: CaseFile) -> Saksmappe:
        if case_file.url:
            return await self.session.get(case_file.url, Saksmappe)
        link = await self.session.relation(Rel.SAKSMAPPE)
        found = await self.session.list_all(link, Saksmappe, f"systemID eq {odata_string(case_file.system_id)}")
        if not found:
            raise NotFound(f"no saksmappe with systemID {case_file.system_id}", system=SYSTEM)
        return found[0]

    async def set_case_status(self, case_file: CaseFile, status: CaseStatus) -> CaseFile:
        """Set ``saksstatus``; on a concurrent change (409) reload once and try again."""
        href = (await self._saksmappe(case_file)).self_href
        for attempt in (1, 2):
            mappe, etag = await self.session.get_with_etag(href, Saksmappe)
            if mappe.saksstatus and mappe.saksstatus.kode == status:
                return to_case_file(mappe, self._key)
            try:
                updated, _ = await self.session.patch(href, {"saksstatus": {"kode": status}}, etag, Saksmappe)
            except Conflict:
                if attempt == 2:
                    raise
                log.info("n5ws: saksmappe changed meanwhile (409); reloading once")
                continue
            return to_case_file(updated, self._key)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- journal entries ----------------------------------------------------------------
    async def ensure_journal_entry(self, case_file: CaseFile, new: NewJournalEntry) -> JournalEntry:
        _no_fnr_in_public_title(new.public_title)
        names = [d.filename for d in new.documents]
        if len(set(names)) != len(names):
            raise InvalidInput("two documents of one journal entry share a filename", system=SYSTEM)
        mappe = await self._saksmappe(case_file)

        async def find() -> Journalpost | None:
            found = await self.session.list_all(self._journalposts(mappe), Journalpost,
                                                self._by_external_id(new.external_id))
            return found[0] if found else None

        body: dict[str, Any] = {
            "tittel": new.title, "offentligTittel": new.public_title,
            "journalposttype": {"kode": new.journal_type}, "journalstatus": {"kode": "J"},
            "dokumentetsDato": _oslo(new.document_date),
            "virksomhetsspesifikkeMetadata": {self._key: new.external_id}}
        if new.received_date:
            body["mottattDato"] = _oslo(new.received_date)
        if new.sent_date:
            body["sendtDato"] = _oslo(new.sent_date)

        async def create() -> Journalpost:
            post = await self.session.create(mappe.href(Rel.NY_JOURNALPOST), body, Journalpost)
            log.info("n5ws: created journalpost %s in %s", post.registreringsID, mappe.mappeID)
            return post

        post = await self._ensure(find, create, f"the journalpost {new.external_id}", confirm=True)
        await self._ensure_correspondents(post, new.correspondents)
        document_ids = [await self._ensure_document(post, new.external_id, d) for d in new.documents]
        return to_journal_entry(post, self._key, document_ids)

    async def _ensure_correspondents(self, post: Journalpost, wanted: tuple[Correspondent, ...]) -> None:
        """A correspondent's key within its journalpost is (korrespondanseparttype, navn)."""
        async def have() -> set[tuple[str | None, str | None]]:
            existing = await self.session.list_all(post.link(Rel.KORRESPONDANSEPART), KorrespondansepartPerson)
            return {(p.korrespondanseparttype.kode if p.korrespondanseparttype else None, p.navn) for p in existing}

        known = await have()
        for person in wanted:
            key = (person.kind, person.name)
            if key in known:
                continue

            async def find(key: tuple[str | None, str | None] = key) -> bool | None:
                return True if key in await have() else None

            async def create(person: Correspondent = person) -> bool:
                await self.session.create(post.href(Rel.NY_KORRESPONDANSEPARTPERSON),
                                          _correspondent_body(person), KorrespondansepartPerson)
                return True

            await create_once(create, find, policy=self.config.policy(), system=SYSTEM,
                              what=f"a korrespondansepart of {post.registreringsID}")
            known.add(key)

    async def _ensure_document(self, post: Journalpost, external_id: str, document: Document) -> str:
        """Find or create the dokumentbeskrivelse, upload the file if missing; return its href."""
        reference = self.document_reference(external_id, document)

        async def find_description() -> Dokumentbeskrivelse | None:
            described = await self.session.list_all(post.link(Rel.DOKUMENTBESKRIVELSE), Dokumentbeskrivelse,
                                                    f"eksternReferanse eq {odata_string(reference)}")
            return described[0] if described else None

        async def create_description() -> Dokumentbeskrivelse:
            return await self.session.create(post.href(Rel.NY_DOKUMENTBESKRIVELSE), {
                "tittel": document.title, "dokumenttype": {"kode": document.document_type},
                "dokumentstatus": {"kode": "F"}, "tilknyttetRegistreringSom": {"kode": document.role},
                "eksternReferanse": reference}, Dokumentbeskrivelse)

        description = await self._ensure(find_description, create_description,
                                         f"the dokumentbeskrivelse {reference}")

        async def find_file() -> Dokumentobjekt | None:
            """The stored file; an upload to a dokumentbeskrivelse always makes a new dokumentobjekt,
            so a lost answer is recognised by the file's checksum."""
            objects = await self.session.list_all(description.link(Rel.DOKUMENTOBJEKT), Dokumentobjekt)
            stored = [o for o in objects if o.sjekksum]
            if stored:
                self._verify(stored[0], document, "already archived")
            return stored[0] if stored else None

        async def upload() -> Dokumentobjekt:
            uploaded = await self.session.upload(description.href(Rel.FIL), document.content,
                                                 document.media_type, document.filename, Dokumentobjekt)
            self._verify(uploaded, document, "uploaded")
            return uploaded

        return (await self._ensure(find_file, upload, f"the file {reference}")).self_href

    @staticmethod
    def _verify(stored: Dokumentobjekt, document: Document, what: str) -> None:
        algorithm = (stored.sjekksumAlgoritme or "SHA-256").upper().replace("-", "")
        if algorithm != "SHA256" or (stored.sjekksum or "").lower() != document.sha256:
            raise PermanentError(
                f"the {what} file {document.filename!r} has {stored.sjekksumAlgoritme} "
                f"{stored.sjekksum}, expected SHA-256 {document.sha256}", system=SYSTEM,
                hint="The archive holds other bytes than the source; check both before replaying.")

    async def _journal_entry(self, post: Journalpost) -> JournalEntry:
        ids: list[str] = []
        for description in await self.session.list_all(post.link(Rel.DOKUMENTBESKRIVELSE), Dokumentbeskrivelse):
            objects = await self.session.list_all(description.link(Rel.DOKUMENTOBJEKT), Dokumentobjekt)
            ids.extend(o.self_href for o in objects)
        return to_journal_entry(post, self._key, ids)

    async def find_journal_entries(self, external_id: str) -> list[JournalEntry]:
        link = await self.session.relation(Rel.JOURNALPOST)
        found = await self.session.list_all(link, Journalpost, self._by_external_id(external_id))
        return [await self._journal_entry(p) for p in found]

    async def list_journal_entries(self, case_file: CaseFile) -> list[JournalEntry]:
        """Every journalpost of a case file, with its document hrefs."""
        mappe = await self._saksmappe(case_file)
        posts = await self.session.list_all(self._journalposts(mappe), Journalpost)
        return [await self._journal_entry(p) for p in posts]

    async def fetch_document(self, url: str) -> bytes:
        """The bytes of a document, given a dokumentobjekt (or dokumentbeskrivelse) href."""
        resource = await self.session.get(url, Resource)
        if resource.entity_rel == Rel.DOKUMENTOBJEKT:
            return await self.session.download(resource.href(Rel.FIL))
        objects = await self.session.list_all(resource.link(Rel.DOKUMENTOBJEKT), Dokumentobjekt)
        if not objects:
            raise NotFound(f"{url} has no file", system=SYSTEM)
        return await self.session.download(objects[0].href(Rel.FIL))

    # -- operations ---------------------------------------------------------------------
    async def health(self) -> Health:
        probe = HealthProbe(SYSTEM)
        try:
            relations = await self.session.discover(refresh=True)
            if Rel.ADMIN_SYSTEM not in relations:
                raise PermanentError(f"no {REL}admin/system/ relation at the root", system=SYSTEM)
            probe.restart()  # the latency is that of one authenticated call, not of discovery
            info = await self.session.get(relations[Rel.ADMIN_SYSTEM].href, SystemInfo)
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok(f"{info.leverandoer or '?'} {info.produkt or '?'}",
                        version=f"{info.versjon or '?'} (N5WS {info.protokollversjon or '?'})")

    async def aclose(self) -> None:
        await self.session.aclose()
