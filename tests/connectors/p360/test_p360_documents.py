"""Journal entries as 360 documents: categories, contacts, files, access codes, exactly once."""

from __future__ import annotations

import base64
import hashlib

import pytest

from connectors.p360 import P360Archive
from hub.errors import ConfigError, InvalidInput
from hub.ports.archive import Correspondent, NewJournalEntry
from tests.connectors.p360.conftest import case_file, journal_entry, new_key
from tests.connectors.p360.helpers import P360Direct


@pytest.mark.parametrize("kind,category,role", [("I", "Dokument inn", "Avsender"), ("U", "Dokument ut", "Mottaker"),
                                                ("N", "Internt notat med oppfølging", "Kopi til")])
async def test_a_journal_entry_is_a_document_with_category_contact_and_files(
        p360: P360Archive, p360_direct: P360Direct, kind: str, category: str, role: str) -> None:
    case = await p360.ensure_case_file(case_file())
    new = journal_entry(kind=kind, attachments=2)
    entry = await p360.ensure_journal_entry(case, new)
    [document] = p360_direct.documents(CaseNumber=case.case_number, IncludeFileData=True)
    assert document["DocumentNumber"] == f"{case.case_number}-1" == entry.registry_number
    assert document["Category"]["Description"] == category and document["Type"]["Code"] == kind
    assert entry.journal_type == kind and entry.external_id == new.external_id
    assert document["OfficialTitle"] == "Velkomstbrev – *****"  # the public title: no name
    assert document["Title"] == "Velkomstbrev – Kari Nordmann"  # read back: the full (unofficial) title
    assert document["AccessCodeCode"] == "13" and document["Paragraph"] == p360.config.screened_paragraph
    [contact] = document["Contacts"]
    assert contact["Role"] == role and contact["SearchName"] == "Kari Nordmann" and contact["IsUnofficial"]
    files = document["Files"]
    assert [f["RelationTypeCode"] for f in files] == ["H", "V", "V"]
    assert [hashlib.sha256(base64.b64decode(f["Base64Data"])).hexdigest() for f in files] == \
        [d.sha256 for d in new.documents]
    assert entry.document_ids == [str(f["Recno"]) for f in files]
    assert await p360.fetch_document(entry.document_ids[0]) == new.documents[0].content
    assert "hub-ref: " + new.external_id in document["Notes"]


async def test_a_repeated_journal_entry_is_written_once(p360: P360Archive, p360_direct: P360Direct) -> None:
    case = await p360.ensure_case_file(case_file())
    new = journal_entry()
    first = await p360.ensure_journal_entry(case, new)
    second = await p360.ensure_journal_entry(case, new)
    assert first.system_id == second.system_id
    assert len(p360_direct.documents(CaseNumber=case.case_number)) == 1
    assert [e.system_id for e in await p360.find_journal_entries(new.external_id)] == [first.system_id]
    assert [e.system_id for e in await p360.list_journal_entries(case)] == [first.system_id]


async def test_a_name_in_the_public_title_is_refused(p360: P360Archive, p360_direct: P360Direct) -> None:
    case = await p360.ensure_case_file(case_file())
    leaky = journal_entry().model_copy(update={"public_title": "Velkomstbrev – Kari Nordmann"})
    with pytest.raises(InvalidInput):
        await p360.ensure_journal_entry(case, leaky)
    fnr = journal_entry().model_copy(update={"public_title": "Velkomstbrev 01017012345"})
    with pytest.raises(InvalidInput):
        await p360.ensure_journal_entry(case, fnr)
    assert p360_direct.documents(CaseNumber=case.case_number) == []


async def test_a_correspondent_without_email_is_an_unregistered_contact(p360: P360Archive,
                                                                        p360_direct: P360Direct) -> None:
    case = await p360.ensure_case_file(case_file())
    new = journal_entry(kind="I", email=None)
    await p360.ensure_journal_entry(case, new)
    [document] = p360_direct.documents(CaseNumber=case.case_number)
    [contact] = document["Contacts"]
    assert contact["ContactRecno"] is None and contact["SearchName"] == "Kari Nordmann"
    assert contact["Role"] == "Avsender"


async def test_an_unscreened_entry_has_no_access_code(p360: P360Archive, p360_direct: P360Direct) -> None:
    case = await p360.ensure_case_file(case_file())
    new = NewJournalEntry(external_id=new_key(), title="Rutinebeskrivelse", public_title="Rutinebeskrivelse",
                          journal_type="X", document_date=journal_entry().document_date,
                          correspondents=(Correspondent(kind="IA", name="HR-avdelingen"),),
                          documents=journal_entry().documents)
    await p360.ensure_journal_entry(case, new)
    [document] = p360_direct.documents(CaseNumber=case.case_number)
    assert document["AccessCodeCode"] == "U" and document["Contacts"] == []  # internal parties are not written
    assert document["Type"]["Code"] == "X"


async def test_a_key_field_360_does_not_know_stops_after_one_document(p360_config: object,
                                                                      p360_direct: P360Direct) -> None:
    """360 silently drops unknown AdditionalFields: the adapter must notice, not write again and again."""
    from connectors.p360 import P360Config

    assert isinstance(p360_config, P360Config)
    client = P360Archive(p360_config.model_copy(update={"document_key_field": "CF_noSuchField"}))
    try:
        case = await client.ensure_case_file(case_file())
        new = journal_entry()
        with pytest.raises(ConfigError) as info:
            await client.ensure_journal_entry(case, new)
    finally:
        await client.aclose()
    assert "external key" in str(info.value)
    assert len(p360_direct.documents(CaseNumber=case.case_number)) == 1


async def test_a_document_cannot_be_added_to_a_closed_case(p360: P360Archive) -> None:
    case = await p360.ensure_case_file(case_file(series="Sakarkiv"))
    await p360.set_case_status(case, "A")
    with pytest.raises(InvalidInput):
        await p360.ensure_journal_entry(case, journal_entry())
