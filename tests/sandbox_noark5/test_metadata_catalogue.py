"""``metadata/``: every code list with its relations, ny-* included, and the VSM catalogue.

N5WS v1.1 chapter 7, "Kodelister": an implementation of the Arkivstruktur and Sakarkiv
packages lists each code list's relation and its ``ny-`` relation under ``metadata/``;
chapter 6 ("Metadatakatalog for virksomhetsspesifikke metadata"): the relation
``metadata/virksomhetsspesifikkeMetadata/`` leads to the fields the core knows.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.sandbox_noark5.generic_client import REL, RelationClient

ARKIVSTRUKTUR_LISTS = ("arkivdelstatus", "arkivstatus", "dokumentmedium", "dokumentstatus", "dokumenttype",
                       "format", "graderingskode", "kassasjonsvedtak", "klassifikasjonstype", "koordinatsystem",
                       "merknadstype", "skjermingdokument", "skjermingmetadata", "slettingstype",
                       "tilknyttetregistreringsom", "variantformat")
SAKARKIV_LISTS = ("avskrivningsmaate", "elektronisksignatursikkerhetsnivaa", "elektronisksignaturverifisert",
                  "flytstatus", "journalposttype", "journalstatus", "korrespondanseparttype", "land", "postnummer",
                  "presedensstatus", "partrolle", "saksstatus")
VSM = "https://rel.arkivverket.no/noark5/v5/api/metadata/virksomhetsspesifikkeMetadata/"
NY_VSM = "https://rel.arkivverket.no/noark5/v5/api/metadata/ny-virksomhetsspesifikkeMetadata/"
HUB_FIELDS = {"vnd-oslomet-v1:eksternid": "string", "vnd-oslomet-v1:klassering": "string"}


def metadata(client: RelationClient) -> dict[str, Any]:
    return client.follow(client.root(), "metadata/")


def test_metadata_lists_every_code_list_with_its_relations(client: RelationClient) -> None:
    catalogue = metadata(client)
    links = catalogue["_links"]
    assert list(links) == sorted(links)
    for name in ARKIVSTRUKTUR_LISTS + SAKARKIV_LISTS:
        for rel in (f"{REL}metadata/{name}/", f"{REL}metadata/ny-{name}/"):
            assert rel in links, rel
        values = client.follow(catalogue, f"metadata/{name}/")
        assert values["_links"][f"{REL}metadata/ny-{name}/"]["href"] == links[f"{REL}metadata/ny-{name}/"]["href"]
        for value in values.get("results", []):
            assert value["kode"] and value["kodenavn"]
            assert client.get(value["_links"]["self"]["href"])["kode"] == value["kode"]
    assert VSM in links and NY_VSM in links
    # the lists entities point to are the catalogue's own
    assert {"F", "E", "B"} <= {v["kode"] for v in client.follow(catalogue, "metadata/dokumentmedium/")["results"]}
    assert "GM" in {v["kode"] for v in client.follow(catalogue, "metadata/korrespondanseparttype/")["results"]}


def test_vsm_relation_describes_the_fields_the_hub_uses(client: RelationClient) -> None:
    fields = client.follow(metadata(client), VSM)
    by_name = {f["navn"]: f for f in fields["results"]}
    for name, type_ in HUB_FIELDS.items():
        field = by_name[name]
        assert field["type"] == type_ and field["beskrivelse"]
        assert uuid.UUID(field["systemID"])
        one = client.get(field["_links"]["self"]["href"])
        assert one["navn"] == name and one["_links"][VSM]["href"] == field["_links"]["self"]["href"]
    # entities that carry virksomhetsspesifikkeMetadata point to the same catalogue
    struktur = client.follow(client.root(), "arkivstruktur/")
    arkivdel = client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]
    template = client.get(client.href(arkivdel, "sakarkiv/ny-saksmappe/"))
    assert client.get(template["_links"][VSM]["href"])["count"] == fields["count"]


def test_new_vsm_field_is_listed_and_checked(client: RelationClient) -> None:
    catalogue = metadata(client)
    name = f"vnd-test{uuid.uuid4().hex[:6]}-v1:antall"
    template = client.get(client.href(catalogue, NY_VSM))
    assert template["navn"] is None and "self" not in template["_links"]
    made = client.made(catalogue, NY_VSM, {"navn": name, "type": "integer", "beskrivelse": "Et antall"})
    assert made["navn"] == name and made["systemID"]
    assert name in {f["navn"] for f in client.follow(catalogue, VSM)["results"]}
    again = client.post(catalogue, NY_VSM, {"navn": name, "type": "integer"})
    assert again.status_code == 409 and again.json()["feil"]["kode"] == 409
    for bad in ({"navn": "Eksternid", "type": "string"}, {"navn": "vnd-x-v1:ok", "type": "text"},
                {"type": "string"}, {"navn": "vnd-x-v1:ok", "type": "string", "farge": "blå"}):
        response = client.post(catalogue, NY_VSM, bad)
        assert response.status_code == 400, bad
        assert response.json()["feil"]["kode"] == 400

    struktur = client.follow(client.root(), "arkivstruktur/")
    arkivdel = client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]
    ok = client.create(arkivdel, "sakarkiv/ny-saksmappe/", {"tittel": "t", "virksomhetsspesifikkeMetadata": {name: 3}})
    assert ok.status_code == 201
    wrong = client.create(arkivdel, "sakarkiv/ny-saksmappe/",
                          {"tittel": "t", "virksomhetsspesifikkeMetadata": {name: "tre"}})
    assert wrong.status_code == 400 and name in wrong.json()["feil"]["beskrivelse"]


def test_new_code_value_can_be_used_at_once(client: RelationClient) -> None:
    catalogue = metadata(client)
    kode = f"T{uuid.uuid4().hex[:4].upper()}"
    template = client.get(client.href(catalogue, "metadata/ny-journalposttype/"))
    assert "kode" in template and "self" not in template["_links"]
    made = client.made(catalogue, "metadata/ny-journalposttype/", {"kode": kode, "kodenavn": f"Testtype {kode}"})
    assert made["kode"] == kode
    assert kode in {v["kode"] for v in client.follow(catalogue, "metadata/journalposttype/")["results"]}

    struktur = client.follow(client.root(), "arkivstruktur/")
    arkivdel = client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]
    mappe = client.made(arkivdel, "sakarkiv/ny-saksmappe/", {"tittel": "Sak"})
    post = client.made(mappe, "sakarkiv/ny-journalpost/", {"tittel": "Brev", "journalposttype": {"kode": kode}})
    assert post["journalposttype"] == {"kode": kode, "kodenavn": f"Testtype {kode}"}

    for bad, status in (({"kode": kode, "kodenavn": "Annet navn"}, 409), ({"kode": "ZZ", "kodenavn": "Inngående dokument"}, 409),
                        ({"kode": "ZZ"}, 400), ({"kode": "", "kodenavn": "Tom"}, 400)):
        response = client.post(catalogue, "metadata/ny-journalposttype/", bad)
        assert response.status_code == status, (bad, response.text)
        assert response.json()["feil"]["kode"] == status
    dokumenttyper = client.follow(catalogue, "metadata/dokumenttype/")
    duplicate_name = client.post(dokumenttyper, "metadata/ny-dokumenttype/", {"kode": "ZZ", "kodenavn": "Brev"})
    assert duplicate_name.status_code == 409
    unknown = client.http.get(client.href(catalogue, "metadata/journalposttype/") + "NOPE/")
    assert unknown.status_code == 404 and unknown.json()["feil"]["kode"] == 404
