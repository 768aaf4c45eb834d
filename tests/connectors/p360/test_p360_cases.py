"""Case files in Public 360: exactly once by ExternalId, public vs full title, closing."""

from __future__ import annotations

import pytest

from connectors.p360 import P360Archive
from hub.errors import InvalidInput, NotFound
from hub.ports.archive import CaseFile, NewCaseFile
from tests.connectors.p360.conftest import case_file, new_key
from tests.connectors.p360.helpers import P360Direct


async def test_a_case_file_is_created_once_with_its_external_id(p360: P360Archive, p360_direct: P360Direct) -> None:
    new = case_file()
    first = await p360.ensure_case_file(new)
    second = await p360.ensure_case_file(new)
    assert first.system_id == second.system_id and first.case_number == second.case_number
    [case] = p360_direct.cases(ExternalId={"Id": new.external_id, "Type": p360.config.external_id_type})
    assert case["CaseNumber"] == first.case_number
    assert len(case["CaseNumber"]) == 8 and case["CaseNumber"][2] == "/"  # 26/00012
    assert case["Title"] == "Personalmappe – *****" and "Kari" not in case["Title"]
    assert case["UnofficialTitle"] == "Personalmappe – Kari Nordmann"
    assert case["AccessCodeCode"] == "13" and case["Paragraph"] == p360.config.screened_paragraph
    assert case["SubArchiveCode"] == "Personalarkiv" and case["Status"] == "Under behandling"
    assert first.title == new.title and first.public_title == new.public_title and first.status == "B"
    assert first.external_id == new.external_id and first.url


async def test_a_public_case_gets_no_access_code(p360: P360Archive, p360_direct: P360Direct) -> None:
    new = NewCaseFile(external_id=new_key(), title="Rutiner for fritak", public_title="Rutiner for fritak",
                      series="Sakarkiv")
    created = await p360.ensure_case_file(new)
    [case] = p360_direct.cases(CaseNumber=created.case_number)
    assert case["AccessCodeCode"] == "U" and case["Paragraph"] == ""


async def test_a_fodselsnummer_in_the_public_title_is_refused(p360: P360Archive, p360_direct: P360Direct) -> None:
    key = new_key()
    with pytest.raises(InvalidInput):
        await p360.ensure_case_file(NewCaseFile(external_id=key, title="Personalmappe 01017012345",
                                                public_title="Personalmappe 01017012345", series="Personalarkiv"))
    assert p360_direct.cases(ExternalId={"Id": key, "Type": p360.config.external_id_type}) == []


async def test_closing_a_case_sets_AS_and_reads_back_as_closed(p360: P360Archive, p360_direct: P360Direct) -> None:
    created = await p360.ensure_case_file(case_file(series="Sakarkiv"))
    closed = await p360.set_case_status(created, "A")
    assert closed.status == "A"
    [case] = p360_direct.cases(CaseNumber=created.case_number)
    assert case["Status"] == "Avsluttet av saksbehandler"
    again = await p360.set_case_status(created, "A")  # already closed: nothing to change (360 would refuse)
    assert again.status == "A"


async def test_an_unknown_case_is_not_found(p360: P360Archive) -> None:
    with pytest.raises(NotFound):
        await p360.set_case_status(CaseFile(system_id="1", external_id=None, title="x", case_number="99/99999"), "A")


async def test_a_wrong_series_is_invalid_input_from_360(p360: P360Archive) -> None:
    with pytest.raises(InvalidInput) as info:
        await p360.ensure_case_file(case_file(series="Ingen slik arkivdel"))
    assert "SubArchive is not valid" in str(info.value) and "<operation>" not in str(info.value)


async def test_cases_are_found_by_title_prefix_across_pages(p360_config: object, p360_direct: P360Direct) -> None:
    from connectors.p360 import P360Config

    assert isinstance(p360_config, P360Config)
    client = P360Archive(p360_config.model_copy(update={"page_size": 2}))
    try:
        prefix = f"Sideprøve {new_key()}"
        for i in range(5):
            await client.ensure_case_file(NewCaseFile(external_id=new_key(), title=f"{prefix} {i}",
                                                      public_title=f"{prefix} {i}", series="Sakarkiv"))
        found = await client.find_case_files_by_title_prefix(prefix)
    finally:
        await client.aclose()
    assert sorted(c.title for c in found) == [f"{prefix} {i}" for i in range(5)]
