"""Journal entries: idempotent, resumable after a crash, checksums verified, readable back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.n5ws import N5wsArchive
from hub.errors import PermanentError
from hub.ports.archive import CaseFile, Correspondent, Document, NewCaseFile, NewJournalEntry
from sandbox.procs import Proc
from tests.sandbox_noark5.generic_client import RelationClient
from tests.sandbox_noark5.pdfs import make_pdf

OSLO = ZoneInfo("Europe/Oslo")
KEY = "vnd-oslomet-v1:eksternid"
Stored = Callable[[str], list[dict[str, Any]]]

KARI = Correspondent(kind="EA", name="Kari Nordmann", email="kari@example.org", address="Pilestredet 46",
                     postal_code="0167", city="Oslo")
OLA = Correspondent(kind="EK", name="Ola Nordmann")


def documents(tag: str) -> tuple[Document, Document]:
    return (Document(title="Søknad", filename="soknad.pdf", content=make_pdf(f"søknad {tag}")),
            Document(title="Vedlegg", filename="vedlegg.pdf", content=make_pdf(f"vedlegg {tag}"), role="V"))


def entry(external_id: str, docs: tuple[Document, ...], people: tuple[Correspondent, ...] = (KARI, OLA)
          ) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=external_id, title="Søknad om fritak – Kari Nordmann", public_title="Søknad om fritak – *****",
        journal_type="I", document_date=datetime(2026, 1, 15, 10, 0, tzinfo=OSLO),
        received_date=datetime(2026, 1, 15, 9, 5), correspondents=people, documents=docs)


@pytest.fixture
async def case(archive: N5wsArchive) -> CaseFile:
    return await archive.ensure_case_file(NewCaseFile(
        external_id=f"nettskjema:{uuid.uuid4()}", title="Fritak – Kari Nordmann", public_title="Fritak – *****"))


def below(stored: Stored, kind: str, parent_id: str) -> list[dict[str, Any]]:
    return [r for r in stored(kind) if r["parent"] == parent_id]


def archived(stored: Stored, external_id: str) -> dict[str, Any]:
    """The one journalpost with this external id and everything below it, as stored."""
    [post] = [r for r in stored("journalpost")
              if (r["data"].get("virksomhetsspesifikkeMetadata") or {}).get(KEY) == external_id]
    descriptions = below(stored, "dokumentbeskrivelse", post["systemID"])
    return {"post": post, "parts": below(stored, "korrespondansepartperson", post["systemID"]),
            "descriptions": descriptions,
            "objects": [o for d in descriptions for o in below(stored, "dokumentobjekt", d["systemID"])]}


async def test_ensure_journal_entry_twice_writes_everything_once(
        archive: N5wsArchive, case: CaseFile, stored: Stored) -> None:
    external_id = f"nettskjema:{uuid.uuid4()}/svar"
    docs = documents(external_id)
    first = await archive.ensure_journal_entry(case, entry(external_id, docs))
    second = await archive.ensure_journal_entry(case, entry(external_id, docs))
    assert second.system_id == first.system_id and second.document_ids == first.document_ids
    held = archived(stored, external_id)
    assert held["post"]["parent"] == case.system_id
    data = held["post"]["data"]
    assert data["journalposttype"]["kode"] == "I" and data["journalstatus"]["kode"] == "J"
    assert data["dokumentetsDato"] == "2026-01-15T10:00:00+01:00"
    assert data["mottattDato"] == "2026-01-15T09:05:00+01:00"  # naive → Oslo time
    assert first.registry_number == f"{data['journalaar']}/{data['journalsekvensnummer']}"
    assert sorted(p["data"]["navn"] for p in held["parts"]) == ["Kari Nordmann", "Ola Nordmann"]
    kari = next(p["data"] for p in held["parts"] if p["data"]["navn"] == "Kari Nordmann")
    assert kari["kontaktinformasjon"] == {"epostadresse": "kari@example.org"}
    assert kari["postadresse"] == {"adresselinje1": "Pilestredet 46", "postnr": "0167", "poststed": "Oslo"}
    assert sorted(d["data"]["eksternReferanse"] for d in held["descriptions"]) == \
        [f"{external_id}/soknad.pdf", f"{external_id}/vedlegg.pdf"]
    assert len(held["objects"]) == 2
    for document_id, document in zip(first.document_ids, docs, strict=True):
        assert await archive.fetch_document(document_id) == document.content


async def test_a_half_written_journal_entry_is_completed_not_duplicated(
        archive: N5wsArchive, case: CaseFile, stored: Stored, n5ws_sandbox: Proc) -> None:
    external_id = f"nettskjema:{uuid.uuid4()}/svar"
    soknad, vedlegg = documents(external_id)
    # First run "crashed" after one correspondent and one document ...
    await archive.ensure_journal_entry(case, entry(external_id, (soknad,), (KARI,)))
    post = archived(stored, external_id)["post"]
    # ... and after describing the second document, before uploading its bytes.
    auth = (n5ws_sandbox.extra["username"], n5ws_sandbox.extra["password"])
    with RelationClient(n5ws_sandbox.extra["api_url"], auth) as raw:
        assert case.url
        [journalpost] = raw.list(raw.get(case.url), "sakarkiv/journalpost/")
        assert journalpost["systemID"] == post["systemID"]
        described = raw.create(journalpost, "arkivstruktur/ny-dokumentbeskrivelse/", {
            "tittel": "Vedlegg", "eksternReferanse": archive.document_reference(external_id, vedlegg)}).json()

    done = await archive.ensure_journal_entry(case, entry(external_id, (soknad, vedlegg)))

    held = archived(stored, external_id)
    assert done.system_id == post["systemID"]
    assert sorted(p["data"]["navn"] for p in held["parts"]) == ["Kari Nordmann", "Ola Nordmann"]
    assert len(held["descriptions"]) == 2
    assert described["systemID"] in {d["systemID"] for d in held["descriptions"]}
    assert len(held["objects"]) == 2
    assert await archive.fetch_document(done.document_ids[1]) == vedlegg.content


async def test_archived_document_with_other_bytes_is_a_permanent_error(
        archive: N5wsArchive, case: CaseFile) -> None:
    external_id = f"nettskjema:{uuid.uuid4()}/svar"
    soknad, _ = documents(external_id)
    await archive.ensure_journal_entry(case, entry(external_id, (soknad,)))
    changed = Document(title="Søknad", filename="soknad.pdf", content=make_pdf("other bytes"))
    with pytest.raises(PermanentError, match="sjekksum|SHA-256"):
        await archive.ensure_journal_entry(case, entry(external_id, (changed,)))


async def test_find_and_list_journal_entries(archive: N5wsArchive, case: CaseFile) -> None:
    ids = [f"nettskjema:{uuid.uuid4()}/{n}" for n in (1, 2)]
    made = [await archive.ensure_journal_entry(case, entry(i, documents(i)[:1], ())) for i in ids]
    [found] = await archive.find_journal_entries(ids[1])
    assert found.system_id == made[1].system_id and found.external_id == ids[1]
    assert found.document_ids == made[1].document_ids and found.url == made[1].url
    listed = await archive.list_journal_entries(case)
    assert [e.system_id for e in listed] == [m.system_id for m in made]
    assert await archive.find_journal_entries(f"nettskjema:{uuid.uuid4()}") == []
