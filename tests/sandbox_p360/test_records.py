"""Cases, documents with files and contacts, as the SIF contracts describe them."""

from __future__ import annotations

import re
import uuid

from tests.sandbox_p360.conftest import Sif, pdf


def _key() -> str:
    return uuid.uuid4().hex[:12]


def test_case_numbers_and_lookup_by_external_id(sif: Sif) -> None:
    key = _key()
    created = sif.ok("CaseService", "CreateCase", Title="Personalmappe – *****", UnofficialTitle="Personalmappe – Kari",
                     ExternalId={"Id": key, "Type": "Hub"}, SubArchive="Personalarkiv")
    assert re.fullmatch(r"\d\d/\d{5}", created["CaseNumber"]) and isinstance(created["Recno"], int)
    [case] = sif.ok("CaseService", "GetCases", ExternalId={"Id": key, "Type": "hub"})["Cases"]  # Type: any case
    assert (case["Title"], case["UnofficialTitle"]) == ("Personalmappe – *****", "Personalmappe – Kari")
    assert case["Status"] == "Under behandling" and case["SubArchiveCode"] == "Personalarkiv"
    again = sif("CaseService", "CreateCase", Title="x", ExternalId={"Id": key, "Type": "Hub"})
    assert not again["Successful"] and "already exists" in again["ErrorMessage"]


def test_a_missing_external_id_type_is_not_found_again(sif: Sif) -> None:
    """The manual's two default types: 'SI WS Case' on create, 'SIF WS Case' on look-up."""
    key = _key()
    sif.ok("CaseService", "CreateCase", Title="Uten type", ExternalId={"Id": key})
    assert sif.ok("CaseService", "GetCases", ExternalId={"Id": key})["Cases"] == []
    assert len(sif.ok("CaseService", "GetCases", ExternalId={"Id": key, "Type": "SI WS Case"})["Cases"]) == 1


def test_title_like_filter_and_paging(sif: Sif) -> None:
    prefix = f"Side {_key()}"
    for i in range(5):
        sif.ok("CaseService", "CreateCase", Title=f"{prefix} {i}")
    first = sif.ok("CaseService", "GetCases", Title=f"{prefix}%", MaxReturnedCases=2)
    assert (first["TotalCount"], first["TotalPageCount"], len(first["Cases"])) == (5, 3, 2)
    last = sif.ok("CaseService", "GetCases", Title=f"{prefix}%", MaxReturnedCases=2, Page=2)
    assert [c["Title"] for c in last["Cases"]] == [f"{prefix} 4"]
    assert sif.ok("CaseService", "GetCases", Title=f"{prefix}%", MaxReturnedCases=2, Page=3)["Cases"] == []


def test_closing_needs_archive_codes_and_closed_cases_take_no_documents(sif: Sif) -> None:
    bare = sif.ok("CaseService", "CreateCase", Title="Uten klasse")
    refused = sif("CaseService", "UpdateCase", CaseNumber=bare["CaseNumber"], Status="AS")
    assert not refused["Successful"] and "archive code" in refused["ErrorMessage"]
    case = sif.ok("CaseService", "CreateCase", Title="Med klasse",
                  ArchiveCodes=[{"ArchiveCode": "000", "ArchiveType": "FELLESKLASSE PRINSIPP", "Sort": 1}])
    sif.ok("CaseService", "UpdateCase", CaseNumber=case["CaseNumber"], Status="AS")
    [closed] = sif.ok("CaseService", "GetCases", CaseNumber=case["CaseNumber"])["Cases"]
    assert closed["Status"] == "Avsluttet av saksbehandler"
    late = sif("DocumentService", "CreateDocument", Title="Sent", Category="110", Status="J",
               CaseNumber=case["CaseNumber"])
    assert not late["Successful"] and "closed" in late["ErrorMessage"]
    assert not sif("CaseService", "UpdateCase", CaseNumber=case["CaseNumber"], Title="ny")["Successful"]
    assert sif("CaseService", "UpdateCase", CaseNumber=case["CaseNumber"], Title="ny",
               ADContextUser="arkivar")["Successful"]


def test_documents_with_contacts_files_and_numbers(sif: Sif) -> None:
    key = _key()
    case = sif.ok("CaseService", "CreateCase", Title="Sak", ExternalId={"Id": key, "Type": "Hub"})
    person = sif.ok("ContactService", "SynchronizePrivatePerson", PersonalIdNumber="01017012345",
                    FirstName="Kari", LastName="Nordmann")
    common = {"Category": "Dokument inn", "Status": "J", "CaseExternalId": {"Id": key, "Type": "Hub"}}
    first = sif.ok("DocumentService", "CreateDocument", Title="Søknad – *****", UnofficialTitle="Søknad – Kari",
                   AccessCode="13", Paragraph="Offl. § 13 jf. fvl. § 13 (1) nr.1", DocumentDate="2026-11-30",
                   Contacts=[{"Role": "Avsender", "ReferenceNumber": f"recno:{person['Recno']}", "IsUnofficial": True}],
                   Files=[pdf("søknad"), {**pdf("vedlegg"), "RelationType": "V"}],
                   AdditionalFields=[{"Name": "CF_hubReference", "Value": key}, {"Name": "CF_unknown", "Value": "x"}],
                   **common)
    second = sif.ok("DocumentService", "CreateDocument", Title="Svar", **{**common, "Category": "recno:111"})
    assert first["DocumentNumber"] == f"{case['CaseNumber']}-1" and second["DocumentNumber"].endswith("-2")
    [doc] = sif.ok("DocumentService", "GetDocuments", AdditionalFields=[{"Name": "CF_hubReference", "Value": key}],
                   IncludeFileData=True, IncludeCustomFields=True)["Documents"]
    assert (doc["Title"], doc["OfficialTitle"]) == ("Søknad – Kari", "Søknad – *****")
    assert doc["Type"]["Code"] == "I" and doc["Category"]["Recno"] == 110 and doc["StatusCode"] == "J"
    assert doc["CustomFields"] == [{"Name": "CF_hubReference", "Value": key}]  # the unknown one: dropped
    assert [f["RelationTypeCode"] for f in doc["Files"]] == ["H", "V"] and doc["Files"][0]["Base64Data"]
    assert doc["Contacts"][0]["ReferenceNumber"] == "01017012345" and doc["Contacts"][0]["Role"] == "Avsender"
    by_case = sif.ok("DocumentService", "GetDocuments", CaseExternalId={"Id": key, "Type": "Hub"})["Documents"]
    assert [d["DocumentNumber"] for d in by_case] == [first["DocumentNumber"], second["DocumentNumber"]]
    assert "Files" not in by_case[0]
    file = sif.ok("FileService", "GetFileWithMetadata", Recno=doc["Files"][0]["Recno"], IncludeFileData=True)["File"]
    assert file["Base64Data"] == doc["Files"][0]["Base64Data"]


def test_document_validation(sif: Sif) -> None:
    case = sif.ok("CaseService", "CreateCase", Title="Sak")
    base = {"Title": "D", "Category": "110", "Status": "J", "CaseNumber": case["CaseNumber"]}
    for extra, reason in (({"Category": "Ukjent"}, "Category"), ({"CaseNumber": "99/99999"}, "not found"),
                          ({"Files": [{**pdf(), "Title": 'a "b"'}]}, "Illegal character"),
                          ({"DocumentDate": "2026-12-01", "DispatchedDate": "2026-11-01"}, "DocumentDate"),
                          ({"Contacts": [{"Role": "Mottaker", "ReferenceNumber": "recno:1"}]}, "Contact not found"),
                          ({"Contacts": [{"Role": "Mottaker", "ReferenceNumber": "x", "IsUnofficial": True}]},
                           "IsUnofficial"),
                          ({"Title": None}, "Title is mandatory")):
        result = sif("DocumentService", "CreateDocument", **{**base, **extra})
        assert not result["Successful"] and reason in result["ErrorMessage"], (extra, result["ErrorMessage"])


def test_synchronize_blanks_what_it_is_not_given(sif: Sif) -> None:
    key = f"hub:{_key()}"
    first = sif.ok("ContactService", "SynchronizeContactPerson", ExternalId=key, FirstName="Ola", LastName="N",
                   MobilePhone="999", CustomNo1="keep")
    again = sif.ok("ContactService", "SynchronizeContactPerson", ExternalId=key, FirstName="Ola", LastName="N",
                   Email="")
    assert again["Recno"] == first["Recno"]
    [contact] = sif.ok("ContactService", "GetContactPersons", ExternalId=key)["ContactPersons"]
    assert contact["MobilePhone"] is None and contact["Email"] is None and contact["CustomNo1"] == "keep"
    missing = sif("ContactService", "SynchronizeContactPerson", ExternalId=key, LastName="N")
    assert not missing["Successful"] and "FirstName" in missing["ErrorMessage"]
